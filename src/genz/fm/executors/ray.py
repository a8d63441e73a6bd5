"""A Ray Data pipeline over request shards against OpenAI-compatible endpoints (``genz[ray]``).

The shards are written here; the pipeline runs in a child process
(:mod:`~genz.fm.executors.ray_worker`) under the supervisor of
:mod:`~genz.fm.executors.children`: Ray's daemons and workers are that child's process group,
stopped when the pass ends, fails, is interrupted, or genz dies (SIGKILL included), so no Ray
process outlives genz. Each caller posts a request line's ``body`` to ``/chat/completions`` of
one of the ``endpoints`` (chosen by the custom_id's hash) and stores its answer in the cache
the moment it arrives; what a killed pass had received is therefore kept, and the rerun asks
only for the rest. The output lines (OpenAI batch output format) are also written to
``ray-NNNNN.output.jsonl``; rows done per second are reported as the output streams in.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ...errors import FMError, GenZInputError
from ..cache_store import FMCache
from ..requests import JudgeRequest, write_shards
from ..secrets import redact
from .base import Executor, RunReport
from .children import supervised
from .ray_worker import call_endpoint

__all__ = ["RayExecutor", "call_endpoint"]


class RayExecutor(Executor):
    """See the module docstring. ``num_cpus``: for ``ray.init`` in the child; ``concurrency``:
    callers in flight."""

    name = "ray"

    def __init__(self, work_dir: str | Path, endpoints: Sequence[str], *, api_key_env: str | None = "OPENAI_API_KEY",
                 num_cpus: int = 2, concurrency: int = 2, batch_size: int = 16, timeout: float = 120.0,
                 progress: Callable[[dict[str, Any]], None] | None | str = "print",
                 accept_models: Iterable[str] = ()) -> None:
        if not endpoints:
            raise GenZInputError("the ray executor needs at least one endpoint URL")
        self.work_dir = Path(work_dir)
        self.endpoints = [str(u) for u in endpoints]
        self.api_key_env = api_key_env
        self.num_cpus = int(num_cpus)
        self.concurrency = int(concurrency)
        self.batch_size = int(batch_size)
        self.timeout = float(timeout)
        self.accept_models = list(accept_models)
        self.progress = (lambda e: print(f"[genz ray] {e['rows']} rows, {e['rows_per_s']:.1f} rows/s",
                                         file=sys.stderr, flush=True)) if progress == "print" else progress
        self.last_rate: float | None = None

    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        if importlib.util.find_spec("ray") is None:
            raise GenZInputError("the ray executor needs Ray: pip install 'genz[ray]'")
        rep = RunReport()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        start = len(list(self.work_dir.glob("ray-*.manifest.jsonl")))
        shards = write_shards(requests, self.work_dir, prefix="ray", start=start)
        rep.requests = rep.submitted = n_req = sum(s.n_requests for s in shards)
        if not shards:
            return rep
        out = self.work_dir / f"ray-{start:05d}.output.jsonl"
        cfg = self.work_dir / f"ray-{start:05d}.config.json"
        cfg.write_text(json.dumps({
            "shards": [[str(s.path), str(s.manifest)] for s in shards], "output": str(out),
            "cache": str(Path(cache.path).resolve()), "endpoints": self.endpoints, "api_key_env": self.api_key_env,
            "num_cpus": self.num_cpus, "concurrency": self.concurrency, "batch_size": self.batch_size,
            "timeout": self.timeout, "accept_models": self.accept_models}))
        log_path = self.work_dir / f"ray-{start:05d}.log"
        summary: dict[str, Any] = {}
        with open(log_path, "wb") as log, supervised([sys.executable, "-m", "genz.fm.executors.ray_worker", str(cfg)],
                                                     stdout=subprocess.PIPE, stderr=log) as proc:
            reader = threading.Thread(target=self._read, args=(proc, summary), daemon=True)
            reader.start()
            code = proc.wait()
            reader.join(timeout=5)
        if code != 0 or not summary.get("done"):
            tail = redact(log_path.read_text(errors="replace").strip()[-400:]) if log_path.exists() else ""
            raise FMError(f"the Ray pipeline failed (exit {code}): {tail}; the answers it received are in the "
                          "cache, rerun to judge the rest")
        rep.answered = int(summary["answered"])
        rep.judgments = int(summary["judgments"])
        rep.prompt_tokens, rep.completion_tokens = int(summary["prompt_tokens"]), int(summary["completion_tokens"])
        rep.failed = n_req - rep.answered
        rep.batches.append({"shard": out.stem, "status": "completed", "answered": rep.answered,
                            "failed": rep.failed, "rows_per_s": self.last_rate})
        return rep

    def _read(self, proc: subprocess.Popen, summary: dict[str, Any]) -> None:
        """The child's progress lines (rows, rows/s) and its final summary."""
        for raw in proc.stdout:  # type: ignore[union-attr]
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if ev.get("done"):
                summary.update(ev)
            elif "rows" in ev:
                self.last_rate = float(ev["rows_per_s"])
                if self.progress is not None:
                    self.progress(ev)
