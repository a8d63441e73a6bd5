"""The provider's Batch API (OpenAI's format) through the official ``openai`` SDK.

``run(requests, cache)``: requests not already in flight are written as shards (the provider's
limits: 50,000 requests, 200 MB), each uploaded with ``files.create(purpose="batch")`` and
submitted with ``batches.create``; then every open batch is polled with ``batches.retrieve``
until it ends, and its output and error files are downloaded and ingested into the cache.

Nothing paid for is submitted twice. Every step is recorded in ``state_dir/batches.json``
(written atomically) before and after it happens: the shard, its uploaded file id, that a
create was attempted, the batch id, whether its results were collected. A process killed at
any point resumes polling the batches it recorded; a create that may have happened just
before the kill is found again by listing the batches and matching the input file id. The
requests of an open batch are never resubmitted; those of an expired, failed, cancelled or
partly failed batch that came back without an answer are planned again from the cache (so
only the missing ones) by :func:`~genz.fm.executors.base.fill_cache`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ...errors import FMError, GenZInputError
from ..cache import FMCache
from ..requests import CHAT_URL, MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_FILE, JudgeRequest, ingest, write_shards
from .base import Executor, RunReport

__all__ = ["BatchAPIExecutor", "TERMINAL", "load_state"]

log = logging.getLogger("genz.fm")

TERMINAL = ("completed", "failed", "expired", "cancelled")
STATE_FILE = "batches.json"


def load_state(state_dir: str | Path) -> dict[str, Any]:
    """The recorded batches of ``state_dir`` (empty when none)."""
    p = Path(state_dir) / STATE_FILE
    if not p.exists():
        return {"schema": "genz-batches/1", "next_shard": 0, "batches": []}
    try:
        st = json.loads(p.read_text())
        if st.get("schema") != "genz-batches/1":
            raise ValueError
        return st
    except (json.JSONDecodeError, ValueError, AttributeError):
        raise GenZInputError(f"{p}: not a genz batch state file; move it away to start afresh") from None


def _print_progress(event: dict[str, Any]) -> None:
    c = event.get("counts") or {}
    print(f"[genz batch] {event['shard']} {event.get('batch_id') or '-'}: {event['status']}"
          f"  {c.get('completed', 0)}/{c.get('total', event.get('n_requests', 0))} done,"
          f" {c.get('failed', 0)} failed", file=sys.stderr, flush=True)


class BatchAPIExecutor(Executor):
    """See the module docstring. ``base_url`` / ``api_key_env``: the server and the variable
    holding its key (local servers need none). ``progress``: called with a dict per batch
    whenever its state or counts change (default: one line on stderr; None: silent)."""

    name = "batch"

    def __init__(
        self,
        state_dir: str | Path,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        client: Any = None,
        poll_interval: float = 30.0,
        completion_window: str = "24h",
        max_requests: int = MAX_REQUESTS_PER_FILE,
        max_bytes: int = MAX_BYTES_PER_FILE,
        timeout: float = 120.0,
        progress: Callable[[dict[str, Any]], None] | None | str = "print",
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key_env = api_key_env
        self._client = client
        self.poll_interval = float(poll_interval)
        self.completion_window = completion_window
        self.max_requests = int(max_requests)
        self.max_bytes = int(max_bytes)
        self.timeout = float(timeout)
        self.progress = _print_progress if progress == "print" else progress
        self._sleep = sleep
        self.max_wait = max_wait
        self._seen: dict[str, tuple] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            key = os.environ.get(self.api_key_env) if self.api_key_env else None
            if not key and self.base_url is None:
                raise FMError(f"no API key for the Batch API: set ${self.api_key_env}, or give --base-url")
            self._client = openai.OpenAI(api_key=key or "no-key", base_url=self.base_url, timeout=self.timeout,
                                         max_retries=5)
        return self._client

    def _save(self, st: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        p = self.state_dir / STATE_FILE
        tmp = p.with_suffix(".json.tmp")
        with open(tmp, "w") as fh:
            json.dump(st, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)

    def _notify(self, e: dict[str, Any]) -> None:
        key = (e.get("batch_id"), e.get("status"), json.dumps(e.get("counts"), sort_keys=True))
        if self.progress is not None and self._seen.get(e["shard"]) != key:
            self._seen[e["shard"]] = key
            self.progress({k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "n_requests")})

    @staticmethod
    def _ids(e: dict[str, Any]) -> set[str]:
        out = set()
        with open(e["manifest"], encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    out.add(json.loads(line)["custom_id"])
        return out

    # ------------------------------------------------------------------ the steps
    def _submit(self, st: dict[str, Any], e: dict[str, Any]) -> None:
        c = self.client
        if not e.get("input_file_id"):
            with open(e["path"], "rb") as fh:
                f = c.files.create(file=(Path(e["path"]).name, fh), purpose="batch")
            e["input_file_id"] = f.id
            self._save(st)
        if not e.get("batch_id") and e.get("create_attempted"):
            e["batch_id"] = self._find(e["input_file_id"])  # created just before a kill?
            if e["batch_id"]:
                self._save(st)
        if not e.get("batch_id"):
            e["create_attempted"] = True
            self._save(st)
            b = c.batches.create(input_file_id=e["input_file_id"], endpoint=CHAT_URL,
                                 completion_window=self.completion_window, metadata={"genz_shard": e["shard"]})
            e["batch_id"], e["status"] = b.id, b.status
            self._save(st)
        self._notify(e)

    def _find(self, input_file_id: str, pages: int = 20) -> str | None:
        page = self.client.batches.list(limit=100)
        for _ in range(pages):
            for b in page.data:
                if b.input_file_id == input_file_id:
                    return b.id
            if not page.has_next_page():
                return None
            page = page.get_next_page()
        return None

    def _collect(self, st: dict[str, Any], e: dict[str, Any], b: Any, cache: FMCache) -> None:
        files = []
        for attr, suffix in (("output_file_id", ".output.jsonl"), ("error_file_id", ".errors.jsonl")):
            fid = getattr(b, attr, None)
            if fid:
                p = self.state_dir / (Path(e["path"]).stem + suffix)
                p.write_bytes(self.client.files.content(fid).content)
                files.append(p)
        if files:
            r = ingest(cache, files, e["manifest"])
            e["answered"], e["failed"] = r.answered, len(r.failed) + (e["n_requests"] - r.answered - len(r.failed))
        else:
            e["answered"], e["failed"] = 0, e["n_requests"]
            errs = getattr(b, "errors", None)
            if errs is not None and getattr(errs, "data", None):
                e["errors"] = [f"{x.code}: {x.message}" for x in errs.data][:5]
        e["collected"] = True
        self._save(st)

    # ------------------------------------------------------------------ public
    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        st = load_state(self.state_dir)
        rep = RunReport()
        open_ = [e for e in st["batches"] if not e.get("collected")]
        inflight: set[str] = set()
        for e in open_:
            inflight |= self._ids(e)
        seen = [0]

        def fresh(rs: Iterable[JudgeRequest]) -> Iterable[JudgeRequest]:
            for r in rs:
                seen[0] += 1
                if r.custom_id not in inflight:
                    yield r

        shards = write_shards(fresh(requests), self.state_dir, prefix="shard", start=st["next_shard"],
                              max_requests=self.max_requests, max_bytes=self.max_bytes)
        rep.requests = seen[0]
        if shards:
            st["next_shard"] += len(shards)
            for sh in shards:
                e = {"shard": sh.path.stem, "path": str(sh.path), "manifest": str(sh.manifest),
                     "n_requests": sh.n_requests, "n_judgments": sh.n_judgments, "status": "written"}
                st["batches"].append(e)
                open_.append(e)
            self._save(st)
            rep.submitted = sum(sh.n_requests for sh in shards)
        for e in open_:
            if not e.get("batch_id"):
                self._submit(st, e)
        t0 = time.monotonic()
        while True:
            waiting = [e for e in open_ if not e.get("collected")]
            for e in waiting:
                b = self.client.batches.retrieve(e["batch_id"])
                e["status"] = b.status
                rc = getattr(b, "request_counts", None)
                if rc is not None:
                    e["counts"] = {"total": rc.total, "completed": rc.completed, "failed": rc.failed}
                self._notify(e)
                if b.status in TERMINAL:
                    self._collect(st, e, b, cache)
                    rep.answered += e["answered"]
                    rep.failed += e["failed"]
            if all(e.get("collected") for e in open_):
                break
            self._save(st)
            if self.max_wait is not None and time.monotonic() - t0 > self.max_wait:
                raise FMError(f"batches still running after {self.max_wait:g} s; rerun to resume polling "
                              f"(state in {self.state_dir})")
            self._sleep(self.poll_interval)
        rep.batches = [{k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "answered", "failed")}
                       for e in open_]
        return rep

    def status(self, refresh: bool = True) -> list[dict[str, Any]]:
        """Each recorded batch: shard, id, state and counts (retrieved now when ``refresh``)."""
        st = load_state(self.state_dir)
        out = []
        for e in st["batches"]:
            if refresh and e.get("batch_id") and not e.get("collected"):
                b = self.client.batches.retrieve(e["batch_id"])
                e["status"] = b.status
                rc = getattr(b, "request_counts", None)
                if rc is not None:
                    e["counts"] = {"total": rc.total, "completed": rc.completed, "failed": rc.failed}
            out.append({k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "n_requests", "collected")})
        return out

    def cancel(self) -> list[str]:
        """Cancel every recorded batch that has not ended; their finished lines are still
        collected by the next run. Returns the ids cancelled."""
        st = load_state(self.state_dir)
        done = []
        for e in st["batches"]:
            if e.get("batch_id") and not e.get("collected") and e.get("status") not in TERMINAL:
                b = self.client.batches.cancel(e["batch_id"])
                e["status"] = b.status
                done.append(e["batch_id"])
        self._save(st)
        return done
