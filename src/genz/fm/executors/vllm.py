"""Self-hosted vLLM: shards for ``vllm run-batch``, and ingestion of its output.

``vllm run-batch -i in.jsonl -o out.jsonl --model M`` reads the OpenAI batch line format and
writes one output line per request, errors inline (``"error"`` set, ``response.status_code``
400 and no body) instead of a separate error file. :class:`VLLMExecutor` writes the shards,
runs ``command`` for each (default ``vllm run-batch -i {input} -o {output} --model {model}``)
and ingests the output; a failed line is left for the next round. To run vLLM yourself, use
``genz requests export`` and ``genz requests ingest`` instead.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ...errors import FMError
from ..cache import FMCache
from ..requests import JudgeRequest, ingest, write_shards
from .base import Executor, RunReport

__all__ = ["VLLMExecutor", "DEFAULT_COMMAND"]

DEFAULT_COMMAND = "vllm run-batch -i {input} -o {output} --model {model}"


class VLLMExecutor(Executor):
    name = "vllm"

    def __init__(self, work_dir: str | Path, command: str | None = None, timeout: float | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.command = command or DEFAULT_COMMAND
        self.timeout = timeout

    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        rep = RunReport()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        start = len(list(self.work_dir.glob("vllm-*.manifest.jsonl")))
        models: set[str] = set()

        def noting(rs: Iterable[JudgeRequest]) -> Iterable[JudgeRequest]:
            for r in rs:
                models.add(str(r.body.get("model", "")))
                yield r

        shards = write_shards(noting(requests), self.work_dir, prefix="vllm", start=start)
        rep.requests = rep.submitted = sum(sh.n_requests for sh in shards)
        model = next(iter(models), "")
        for sh in shards:
            out = sh.path.with_name(sh.path.stem + ".output.jsonl")
            argv = [a.format(input=str(sh.path), output=str(out), model=model) for a in shlex.split(self.command)]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
            except FileNotFoundError:
                raise FMError(f"{argv[0]}: not found. Install vLLM, pass --vllm-command, or run it yourself on "
                              f"{sh.path} and use `genz requests ingest`") from None
            if proc.returncode != 0 or not out.exists():
                raise FMError(f"{argv[0]} failed on {sh.path} (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
            r = ingest(cache, out, sh.manifest)
            rep.answered += r.answered
            rep.failed += len(r.failed) + (sh.n_requests - r.answered - len(r.failed))
            rep.batches.append({"shard": sh.path.stem, "status": "completed", "answered": r.answered,
                                "failed": sh.n_requests - r.answered})
        return rep
