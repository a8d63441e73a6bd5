"""Self-hosted vLLM: shards for ``vllm run-batch``, and ingestion of its output.

``vllm run-batch -i in.jsonl -o out.jsonl --model M`` reads the OpenAI batch line format and
writes one output line per request, errors inline (``"error"`` set, ``response.status_code``
400 and no body) instead of a separate error file. :class:`VLLMExecutor` writes the shards,
runs ``command`` for each (default ``vllm run-batch -i {input} -o {output} --model {model}``)
and ingests the output the moment the command ends; a failed line is left for the next round.

Nothing answered is lost and nothing outlives genz: the command runs under the supervisor of
:mod:`~genz.fm.executors.children` (its own process group, stopped when genz ends or dies);
whatever output a command wrote is ingested when it ends, crashed or interrupted included,
and output files a killed genz never ingested are ingested by the next run before it plans.
``max_requests`` bounds what one crash can cost (vLLM writes its output at the end). To run
vLLM yourself, use ``genz requests export`` and ``genz requests ingest`` instead.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ...errors import FMError
from ..cache_store import FMCache
from ..ingest import IngestResult, ingest
from ..requests import MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_FILE, JudgeRequest, write_shards
from ..secrets import redact
from .base import Executor, RunReport
from .children import supervised

__all__ = ["VLLMExecutor", "DEFAULT_COMMAND"]

DEFAULT_COMMAND = "vllm run-batch -i {input} -o {output} --model {model}"
_DONE = ".ingested"


class VLLMExecutor(Executor):
    name = "vllm"

    def __init__(self, work_dir: str | Path, command: str | None = None, timeout: float | None = None, *,
                 max_requests: int = MAX_REQUESTS_PER_FILE, accept_models: Iterable[str] = ()) -> None:
        self.work_dir = Path(work_dir)
        self.command = command or DEFAULT_COMMAND
        self.timeout = timeout
        self.max_requests = int(max_requests)
        self.accept_models = tuple(accept_models)

    @staticmethod
    def _add(rep: RunReport, r: IngestResult) -> None:
        rep.answered += r.answered
        rep.judgments += r.judgments
        rep.prompt_tokens += r.prompt_tokens
        rep.completion_tokens += r.completion_tokens

    def _ingest(self, out: Path, manifest: Path, cache: FMCache) -> IngestResult | None:
        """Ingest a shard's output (what exists of it) and mark it done."""
        if not out.exists():
            return None
        r = ingest(cache, out, manifest, accept_models=self.accept_models)
        out.with_name(out.name + _DONE).touch()
        return r

    def recover(self, cache: FMCache) -> RunReport:
        """Output files of a run that was killed before it ingested them."""
        rep = RunReport()
        if self.work_dir.is_dir():
            self._leftovers(cache, rep)
        return rep

    def _leftovers(self, cache: FMCache, rep: RunReport) -> None:
        for out in sorted(self.work_dir.glob("vllm-*.output.jsonl")):
            man = out.with_name(out.name.replace(".output.jsonl", ".manifest.jsonl"))
            if not out.with_name(out.name + _DONE).exists() and man.exists():
                r = self._ingest(out, man, cache)
                if r is not None:
                    self._add(rep, r)

    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        rep = RunReport()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._leftovers(cache, rep)
        start = len(list(self.work_dir.glob("vllm-*.manifest.jsonl")))
        models: set[str] = set()

        def noting(rs: Iterable[JudgeRequest]) -> Iterable[JudgeRequest]:
            for r in rs:
                models.add(str(r.body.get("model", "")))
                yield r

        shards = write_shards(noting(requests), self.work_dir, prefix="vllm", start=start,
                              max_requests=self.max_requests, max_bytes=MAX_BYTES_PER_FILE)
        rep.requests = rep.submitted = sum(sh.n_requests for sh in shards)
        model = next(iter(models), "")
        for sh in shards:
            out = sh.path.with_name(sh.path.stem + ".output.jsonl")
            argv = [a.format(input=str(sh.path), output=str(out), model=model) for a in shlex.split(self.command)]
            log_path = sh.path.with_name(sh.path.stem + ".log")
            code: int | None = None
            r: IngestResult | None = None
            try:
                with open(log_path, "wb") as log, supervised(argv, stdout=log, stderr=subprocess.STDOUT) as proc:
                    try:
                        code = proc.wait(timeout=self.timeout)
                    except subprocess.TimeoutExpired:
                        code = None
            finally:  # done, crashed, timed out or interrupted: keep every answer it wrote
                r = self._ingest(out, sh.manifest, cache)
                if r is not None:
                    self._add(rep, r)
            answered = r.answered if r is not None else 0
            rep.failed += sh.n_requests - answered
            rep.batches.append({"shard": sh.path.stem, "status": "completed" if code == 0 else "failed",
                                "answered": answered, "failed": sh.n_requests - answered})
            if code != 0:
                tail = redact(log_path.read_text(errors="replace").strip()[-300:]) if log_path.exists() else ""
                if code == 127 and "No such file" in tail:
                    raise FMError(f"{argv[0]}: not found. Install vLLM, pass --vllm-command, or run it yourself on "
                                  f"{sh.path} and use `genz requests ingest`")
                what = "timed out" if code is None else f"exit {code}"
                raise FMError(f"{argv[0]} failed on {sh.path} ({what}): {tail}; the {answered} answers it wrote "
                              "were kept, rerun to judge the rest")
        return rep
