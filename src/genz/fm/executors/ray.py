"""A Ray Data pipeline over request shards against OpenAI-compatible endpoints (``genz[ray]``).

``ray.data.read_text`` reads the shards line by line; ``map_batches`` with a pool of callers
(one actor per endpoint slot) posts each line's ``body`` to ``/chat/completions`` of one of the
``endpoints`` (chosen by the custom_id's hash) and returns an OpenAI batch output line
(``custom_id``, ``response.status_code``, ``response.body``, ``error``), the same format the
Batch API and ``vllm run-batch`` produce; the lines are written to ``ray-NNNNN.output.jsonl``
and ingested into the cache. Rows done per second are reported as the output streams in.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ...errors import GenZInputError
from ..cache import FMCache
from ..requests import JudgeRequest, ingest, write_shards
from .base import Executor, RunReport

__all__ = ["RayExecutor", "call_endpoint"]


def call_endpoint(url: str, body: dict[str, Any], key: str | None, timeout: float) -> dict[str, Any]:
    """One chat-completions POST; ``{"status_code", "body"}`` (errors as their status)."""
    req = urllib.request.Request(url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return {"status_code": r.status, "body": json.loads(r.read() or b"null")}
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"null")
        except json.JSONDecodeError:
            payload = None
        return {"status_code": exc.code, "body": payload}


class _Caller:
    """A Ray Data UDF: request lines in, batch output lines out."""

    def __init__(self, endpoints: list[str], key_env: str | None, timeout: float) -> None:
        self.endpoints = endpoints
        self.key = os.environ.get(key_env) if key_env else None
        self.timeout = timeout

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = []
        for line in batch["text"]:
            req = json.loads(line)
            cid = req["custom_id"]
            url = self.endpoints[zlib.crc32(cid.encode()) % len(self.endpoints)]
            try:
                resp = call_endpoint(url, req["body"], self.key, self.timeout)
                err = None if resp["status_code"] == 200 else {"code": str(resp["status_code"]),
                                                                 "message": "endpoint error"}
            except (OSError, ValueError) as exc:  # connection refused, timeout, bad JSON
                resp, err = None, {"code": "connection_error", "message": str(exc)[:200]}
            out.append(json.dumps({"id": f"ray-{cid}", "custom_id": cid, "response": resp, "error": err}))
        return {"line": out}


class RayExecutor(Executor):
    """See the module docstring. ``num_cpus``: for ``ray.init`` when Ray is not running yet;
    ``concurrency``: callers in flight."""

    name = "ray"

    def __init__(self, work_dir: str | Path, endpoints: Sequence[str], *, api_key_env: str | None = "OPENAI_API_KEY",
                 num_cpus: int = 2, concurrency: int = 2, batch_size: int = 16, timeout: float = 120.0,
                 progress: Callable[[dict[str, Any]], None] | None | str = "print") -> None:
        if not endpoints:
            raise GenZInputError("the ray executor needs at least one endpoint URL")
        self.work_dir = Path(work_dir)
        self.endpoints = [str(u) for u in endpoints]
        self.api_key_env = api_key_env
        self.num_cpus = int(num_cpus)
        self.concurrency = int(concurrency)
        self.batch_size = int(batch_size)
        self.timeout = float(timeout)
        self.progress = (lambda e: print(f"[genz ray] {e['rows']} rows, {e['rows_per_s']:.1f} rows/s",
                                         file=sys.stderr, flush=True)) if progress == "print" else progress
        self.last_rate: float | None = None

    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        try:
            import ray
        except ImportError:
            raise GenZInputError("the ray executor needs Ray: pip install 'genz[ray]'") from None
        rep = RunReport()
        if not ray.is_initialized():
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        start = len(list(self.work_dir.glob("ray-*.manifest.jsonl")))
        shards = write_shards(requests, self.work_dir, prefix="ray", start=start)
        rep.requests = rep.submitted = n_req = sum(s.n_requests for s in shards)
        if not shards:
            return rep
        ds = ray.data.read_text([str(s.path) for s in shards])
        ds = ds.map_batches(_Caller, fn_constructor_args=(self.endpoints, self.api_key_env, self.timeout),
                            batch_size=self.batch_size, concurrency=self.concurrency, num_cpus=0.5)
        out = self.work_dir / f"ray-{start:05d}.output.jsonl"
        t0 = time.perf_counter()
        rows = 0
        with open(out.with_suffix(".jsonl.part"), "w", encoding="utf-8") as fh:
            for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
                for line in batch["line"]:
                    fh.write(str(line) + "\n")
                rows += len(batch["line"])
                self.last_rate = rows / max(time.perf_counter() - t0, 1e-9)
                if self.progress is not None:
                    self.progress({"rows": rows, "rows_per_s": self.last_rate})
        out.with_suffix(".jsonl.part").replace(out)
        r = ingest(cache, out, [s.manifest for s in shards])
        rep.answered = r.answered
        rep.failed = n_req - r.answered
        rep.batches.append({"shard": out.stem, "status": "completed", "answered": r.answered,
                            "failed": rep.failed, "rows_per_s": self.last_rate})
        return rep
