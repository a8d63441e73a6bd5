"""The provider's Batch API (OpenAI's format) through the official ``openai`` SDK.

``run(requests, cache)``: requests not already in flight are written as shards (the provider's
limits: 50,000 requests, 200 MB), each uploaded with ``files.create(purpose="batch")`` and
submitted with ``batches.create``; then every open batch is polled with ``batches.retrieve``
until it ends, and its output and error files are downloaded and ingested into the cache
(validated: :mod:`genz.fm.ingest`) the moment it ends.

**Exactly once.** Every step is recorded in ``state_dir/batches.json`` (under a lock shared by
all processes using the folder: :mod:`~genz.fm.executors.batch_state`) before and after it
happens. Each shard gets a random idempotency key, recorded *before* its create call and sent
as the batch's ``metadata.genz_key``. The SDK never retries a call by itself
(``max_retries=0``); a create or an upload that fails in any way (a connection reset after the
provider created the batch, a kill) is never repeated blindly: the batches (files) the provider
has are listed and the one carrying the key (the shard's file name) is adopted; only when none
is found is the call made again (at most ``create_tries`` times). Reads are retried under the
retry budget (:class:`~genz.fm.transport.RetryPolicy`).

**Bounded.** A request is put in at most ``max_submissions`` batches (default 2: once, and
once more for what an expired, cancelled or partly failed batch left unanswered); a batch the
provider failed as a whole (e.g. input validation) is not resubmitted at all. What stays
unanswered is reported (``RunReport.given_up``) for :class:`~genz.fm.executors.base.ExecutorFM`
to stop or fall back (``--on-batch-failure``). A recorded batch the provider no longer knows
(HTTP 404) is forgotten with a one-line notice and its requests planned again; batches recorded
for another server are refused, never forgotten.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ...errors import FMError
from ..cache_store import FMCache
from ..ingest import ingest
from ..requests import CHAT_URL, MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_FILE, JudgeRequest, write_shards
from ..secrets import redact, register_secret, sanitize_url
from ..transport import RETRY_BUDGET, APIError, RetryPolicy, sdk_call
from .base import Executor, RunReport
from .batch_state import TERMINAL, BatchState, load_state

__all__ = ["BatchAPIExecutor", "TERMINAL", "load_state"]

log = logging.getLogger("genz.fm")


def _print_progress(event: dict[str, Any]) -> None:
    c = event.get("counts") or {}
    print(f"[genz batch] {event['shard']} {event.get('batch_id') or '-'}: {event['status']}"
          f"  {c.get('completed', 0)}/{c.get('total', event.get('n_requests', 0))} done,"
          f" {c.get('failed', 0)} failed", file=sys.stderr, flush=True)


def _print_notice(text: str) -> None:
    print(f"[genz batch] {text}", file=sys.stderr, flush=True)


class BatchAPIExecutor(Executor):
    """See the module docstring. ``base_url`` / ``api_key_env``: the server and the variable
    holding its key (local servers need none). ``progress``: called with a dict per batch
    whenever its state or counts change (default: one line on stderr; None: silent);
    ``notice``: called with one line for events the user must know of (a batch forgotten,
    failed or given up; default: stderr)."""

    name = "batch"
    price_factor = 0.5  # the Batch API bills half the synchronous price

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
        notice: Callable[[str], None] | None | str = "print",
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
        max_submissions: int = 2,
        create_tries: int = 3,
        retry_budget: float = RETRY_BUDGET,
        accept_models: Iterable[str] = (),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state = BatchState(self.state_dir)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key_env = api_key_env
        self._client = client
        self.poll_interval = float(poll_interval)
        self.completion_window = completion_window
        self.max_requests = int(max_requests)
        self.max_bytes = int(max_bytes)
        self.timeout = float(timeout)
        self.progress = _print_progress if progress == "print" else progress
        self.notice = _print_notice if notice == "print" else (notice or (lambda text: None))
        self._sleep = sleep
        self.max_wait = max_wait
        self.max_submissions = max(1, int(max_submissions))
        self.create_tries = max(1, int(create_tries))
        self.retry = RetryPolicy(budget=float(retry_budget))
        self.accept_models = tuple(accept_models)
        self._seen: dict[str, tuple] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            key = os.environ.get(self.api_key_env) if self.api_key_env else None
            if not key and self.base_url is None:
                raise FMError(f"no API key for the Batch API: set ${self.api_key_env}, or give --base-url")
            register_secret(key)
            self._client = openai.OpenAI(api_key=key or "no-key", base_url=self.base_url, timeout=self.timeout,
                                         max_retries=0)  # nothing is repeated behind our back
        return self._client

    def _where(self) -> str:
        return sanitize_url(self.base_url) or "api.openai.com"

    def _call(self, fn: Callable[[], Any], what: str, *, idempotent: bool) -> Any:
        return sdk_call(fn, what, where=self._where(), idempotent=idempotent, retry=self.retry, sleep=self._sleep)

    def _notify(self, e: dict[str, Any]) -> None:
        key = (e.get("batch_id"), e.get("status"), json.dumps(e.get("counts"), sort_keys=True))
        if self.progress is not None and self._seen.get(e["shard"]) != key:
            self._seen[e["shard"]] = key
            self.progress({k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "n_requests")})

    @staticmethod
    def _entry(st: dict[str, Any], shard: str) -> dict[str, Any]:
        return next(e for e in st["batches"] if e["shard"] == shard)

    def _check_server(self, e: dict[str, Any]) -> None:
        """Batches recorded for another server are never polled, forgotten or resubmitted here."""
        theirs = e.get("base_url", "unrecorded")
        if theirs != "unrecorded" and theirs != sanitize_url(self.base_url):
            raise FMError(f"{self.state_dir}: batch {e.get('batch_id') or e['shard']} was submitted to "
                          f"{theirs or 'api.openai.com'}, this run talks to {self._where()}; pass --base-url "
                          f"{theirs or 'https://api.openai.com/v1'} or use another --batch-dir")

    # ------------------------------------------------------------------ submission, exactly once
    def _submit(self, st: dict[str, Any], e: dict[str, Any]) -> None:
        """Upload and create one recorded shard (lock held), recording each step."""
        self._check_server(e)
        c = self.client
        e.setdefault("key", uuid.uuid4().hex)  # shards recorded by genz < 0.9 have none yet
        upload_name = f"{Path(e['path']).stem}-{e['key'][:16]}.jsonl"
        if not e.get("input_file_id") and e.get("upload_attempted"):
            e["input_file_id"] = self._find_file(upload_name)
        if not e.get("input_file_id"):
            e["upload_attempted"] = True
            self.state.save(st)
            try:
                with open(e["path"], "rb") as fh:
                    f = self._call(lambda: c.files.create(file=(upload_name, fh), purpose="batch"), "files.create",
                                   idempotent=False)
            except APIError:
                found = self._find_file(upload_name)
                if not found:
                    raise
                f = type("F", (), {"id": found})
            e["input_file_id"] = f.id
            self.state.save(st)
        if not e.get("batch_id") and e.get("create_attempted"):
            e["batch_id"] = self._find_batch(e)  # created just before a kill or a lost answer?
            if e["batch_id"]:
                self.state.save(st)
        while not e.get("batch_id"):
            e["create_attempted"] = True
            e["create_tries"] = int(e.get("create_tries", 0)) + 1
            self.state.save(st)
            try:
                b = self._call(lambda: c.batches.create(
                    input_file_id=e["input_file_id"], endpoint=CHAT_URL, completion_window=self.completion_window,
                    metadata={"genz_shard": e["shard"], "genz_key": e["key"]}), "batches.create", idempotent=False)
                e["batch_id"], e["status"] = b.id, b.status
            except APIError as exc:
                e["batch_id"] = self._find_batch(e)  # the provider may have created it before the error
                if e["batch_id"]:
                    log.info("batches.create failed (%s) but the batch exists: adopted %s", exc, e["batch_id"])
                elif not exc.transient or e["create_tries"] >= self.create_tries:
                    raise
                else:
                    self._sleep(self.retry.delay(e["create_tries"] - 1, None))
            self.state.save(st)
        self._notify(e)

    def _find_batch(self, e: dict[str, Any], pages: int = 50) -> str | None:
        """The provider's batch carrying ``e``'s idempotency key (or, for a shard of genz < 0.9,
        its input file), or None."""
        page = self._call(lambda: self.client.batches.list(limit=100), "batches.list", idempotent=True)
        for _ in range(pages):
            for b in page.data:
                meta = getattr(b, "metadata", None) or {}
                if (e.get("key") and meta.get("genz_key") == e["key"]) or (
                        e.get("input_file_id") and b.input_file_id == e["input_file_id"]):
                    return b.id
            if not page.has_next_page():
                return None
            page = self._call(page.get_next_page, "batches.list", idempotent=True)
        return None

    def _find_file(self, filename: str) -> str | None:
        """The id of an uploaded batch file named ``filename`` (an upload whose answer was lost)."""
        try:
            page = self._call(lambda: self.client.files.list(purpose="batch"), "files.list", idempotent=True)
        except APIError:
            return None  # cannot tell: upload again (an upload costs nothing)
        for f in getattr(page, "data", []) or []:
            if getattr(f, "filename", None) == filename:
                return f.id
        return None

    # ------------------------------------------------------------------ collection
    def _collect(self, st: dict[str, Any], e: dict[str, Any], b: Any, cache: FMCache) -> None:
        files = []
        for attr, suffix in (("output_file_id", ".output.jsonl"), ("error_file_id", ".errors.jsonl")):
            fid = getattr(b, attr, None)
            if fid:
                p = self.state_dir / (Path(e["path"]).stem + suffix)
                data = self._call(lambda: self.client.files.content(fid).content, "files.content", idempotent=True)
                p.write_bytes(data)
                files.append(p)
        if files:
            r = ingest(cache, files, e["manifest"], accept_models=self.accept_models)
            e["answered"], e["failed"] = r.answered, e["n_requests"] - r.answered
            e["judgments"] = r.judgments
            e["tokens"] = [r.prompt_tokens, r.completion_tokens]
            for what, ids in (("answered twice with different answers", r.conflicts),
                              ("answered by another model", r.other_model)):
                if ids:
                    e.setdefault("refused", {})[what] = len(ids)
                    self.notice(f"batch {e['batch_id']}: {len(ids)} requests {what}, not cached "
                                f"(e.g. {next(iter(ids))}" + (f" from {next(iter(ids.values()))}" if
                                                              what.endswith("model") else "") + ")")
        else:
            e["answered"], e["failed"], e["judgments"] = 0, e["n_requests"], 0
        errs = getattr(b, "errors", None)
        if errs is not None and getattr(errs, "data", None):
            e["errors"] = [redact(f"{x.code}: {x.message}")[:300] for x in errs.data][:5]
        if b.status == "failed":
            self.notice(f"batch {e['batch_id']} (shard {e['shard']}) failed as a whole"
                        + (f": {e['errors'][0]}" if e.get("errors") else "") + f"; its {e['n_requests']} requests "
                        "are not resubmitted")
        e["collected"] = True
        self.state.save(st)

    def _forget(self, st: dict[str, Any], e: dict[str, Any]) -> None:
        """A recorded batch the provider does not know (HTTP 404): forgotten, its requests free."""
        self.notice(f"batch {e['batch_id']} (shard {e['shard']}) is unknown to the server at {self._where()}: "
                    f"forgetting it; its {e['n_requests']} requests will be planned again")
        e.update(status="unknown", collected=True, forgotten=True, answered=0, failed=e["n_requests"])
        self.state.save(st)

    # ------------------------------------------------------------------ public
    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        rep = RunReport()
        with self.state.locked() as st:
            times, open_ids, failed_ids = self.state.submissions(st)
            given_up: list[str] = []
            seen = [0]

            def fresh(rs: Iterable[JudgeRequest]) -> Iterable[JudgeRequest]:
                for r in rs:
                    seen[0] += 1
                    if r.custom_id in open_ids:
                        continue  # in a batch still running: never submitted twice
                    if r.custom_id in failed_ids or times[r.custom_id] >= self.max_submissions:
                        given_up.append(r.custom_id)
                        continue
                    yield r

            shards = write_shards(fresh(requests), self.state_dir, prefix="shard", start=st["next_shard"],
                                  max_requests=self.max_requests, max_bytes=self.max_bytes)
            rep.requests, rep.given_up = seen[0], len(given_up)
            st["next_shard"] += len(shards)
            for sh in shards:
                st["batches"].append({
                    "shard": sh.path.stem, "path": str(sh.path), "manifest": str(sh.manifest),
                    "n_requests": sh.n_requests, "n_judgments": sh.n_judgments, "status": "written",
                    "key": uuid.uuid4().hex, "base_url": sanitize_url(self.base_url)})
            self.state.save(st)  # recorded, with their keys, before anything is sent
            rep.submitted = sum(sh.n_requests for sh in shards)
            watch = [e["shard"] for e in st["batches"] if not e.get("collected")]
            for e in st["batches"]:
                if not e.get("collected"):
                    self._check_server(e)
                    if not e.get("batch_id"):
                        self._submit(st, e)
        self._poll(watch, cache, rep)
        final = self.state.read()
        rep.batches = [{k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "answered", "failed")}
                       for e in final["batches"] if e["shard"] in set(watch)]
        if given_up:
            self.notice(f"{len(given_up)} requests stay unanswered: each was already in {self.max_submissions} "
                        "batch(es) (--batch-submissions) or in a batch that failed as a whole")
        return rep

    def _poll(self, watch: list[str], cache: FMCache, rep: RunReport) -> None:
        t0 = time.monotonic()
        while True:
            st = self.state.read()
            waiting = [e for e in st["batches"] if e["shard"] in watch and not e.get("collected")]
            if not waiting:
                return
            for e in waiting:
                try:
                    b = self._call(lambda: self.client.batches.retrieve(e["batch_id"]), "batches.retrieve",
                                   idempotent=True)
                except APIError as exc:
                    if exc.status != 404:
                        raise
                    b = None
                with self.state.locked() as st2:
                    e2 = self._entry(st2, e["shard"])
                    if e2.get("collected"):
                        continue  # another process collected it meanwhile
                    if b is None:
                        self._forget(st2, e2)
                        rep.forgotten += 1
                        continue
                    e2["status"] = b.status
                    rc = getattr(b, "request_counts", None)
                    if rc is not None:
                        e2["counts"] = {"total": rc.total, "completed": rc.completed, "failed": rc.failed}
                    self._notify(e2)
                    if b.status in TERMINAL:
                        self._collect(st2, e2, b, cache)
                        rep.answered += e2["answered"]
                        rep.failed += e2["failed"]
                        rep.judgments += int(e2.get("judgments", 0))
                        pt, ct = e2.get("tokens") or (0, 0)
                        rep.prompt_tokens += int(pt)
                        rep.completion_tokens += int(ct)
            if self.max_wait is not None and time.monotonic() - t0 > self.max_wait:
                raise FMError(f"batches still running after {self.max_wait:g} s; rerun to resume polling "
                              f"(state in {self.state_dir})")
            if any(not e.get("collected") for e in self.state.read()["batches"] if e["shard"] in watch):
                self._sleep(self.poll_interval)

    def status(self, refresh: bool = True) -> list[dict[str, Any]]:
        """Each recorded batch: shard, id, state and counts (retrieved now when ``refresh``)."""
        with self.state.locked(write=refresh) as st:
            out = []
            for e in st["batches"]:
                if refresh and e.get("batch_id") and not e.get("collected"):
                    self._check_server(e)
                    b = self._call(lambda: self.client.batches.retrieve(e["batch_id"]), "batches.retrieve",
                                   idempotent=True)
                    e["status"] = b.status
                    rc = getattr(b, "request_counts", None)
                    if rc is not None:
                        e["counts"] = {"total": rc.total, "completed": rc.completed, "failed": rc.failed}
                out.append({k: e.get(k) for k in ("shard", "batch_id", "status", "counts", "n_requests", "collected")})
        return out

    def cancel(self) -> list[str]:
        """Cancel every recorded batch that has not ended; their finished lines are still
        collected by the next run. Returns the ids cancelled."""
        done = []
        with self.state.locked() as st:
            for e in st["batches"]:
                if e.get("batch_id") and not e.get("collected") and e.get("status") not in TERMINAL:
                    self._check_server(e)
                    b = self._call(lambda: self.client.batches.cancel(e["batch_id"]), "batches.cancel",
                                   idempotent=True)
                    e["status"] = b.status
                    done.append(e["batch_id"])
        return done
