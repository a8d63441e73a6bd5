"""One request format for judging at scale: OpenAI batch lines in, batch output lines out.

Every judgment that the SQLite cache (:mod:`genz.fm.cache`) does not hold can be written as
lines of the OpenAI Batch API's input format::

    {"custom_id": "gz-…", "method": "POST", "url": "/v1/chat/completions", "body": {…}}

where ``body`` is exactly what the synchronous backend sends for that batch of items
(:meth:`genz.fm.openai_compat.OpenAIFM.judge_request_body`: the same prompt, JSON schema,
log-probabilities and temperature), and ``custom_id`` is a hash of the cache keys of the
request's judgments, ``(backend, model, template, descriptor, item content hashes)`` (51
characters; providers allow 64). The same lines work for the OpenAI Batch API and everything
that copies it (Azure OpenAI, Groq, the LiteLLM proxy), for ``vllm run-batch``, and for the Ray
executor; ``line_format="body"`` writes ``{"custom_id", "body"}`` lines (Together, Mistral).

Files are sharded by the provider's limits (50,000 requests and 200 MB per file). Each shard
``requests-NNNNN.jsonl`` has a manifest ``requests-NNNNN.manifest.jsonl`` that maps each
``custom_id`` to its cache keys; :func:`ingest` reads output files (OpenAI output and error
files, vLLM's inline errors, lines in any order) and writes the judgments into the cache and
nothing else. A line that failed (an error, a non-200 status, an answer that does not validate)
is reported and left for a retry, never guessed; ingesting a file twice changes nothing (rows
already in the cache are kept as they are).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import GenZInputError
from ..items import Item
from .cache import CachedFM, FMCache, cache_identity

__all__ = [
    "JudgeRequest", "Shard", "IngestResult", "CHAT_URL", "MAX_REQUESTS_PER_FILE", "MAX_BYTES_PER_FILE",
    "request_custom_id", "judging_backend", "plan_judge_requests", "write_shards", "export_requests",
    "ingest", "parse_output_line", "read_manifests",
]

CHAT_URL = "/v1/chat/completions"
MAX_REQUESTS_PER_FILE = 50_000  # OpenAI Batch API: requests per input file
MAX_BYTES_PER_FILE = 200 * 1024 * 1024  # OpenAI Batch API: bytes per input file
_FLUSH_ROWS = 1_000_000  # judgments per write transaction of ingest


def request_custom_id(identity: Sequence[str], descriptor: str, hashes: Sequence[str]) -> str:
    """``gz-`` + 48 hex digits of SHA-256 over the request's cache keys (51 characters)."""
    key = json.dumps([list(identity), descriptor, list(hashes)], ensure_ascii=False, separators=(",", ":"))
    return "gz-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:48]


@dataclass(frozen=True)
class JudgeRequest:
    """One judging request: ``descriptor`` on the items with content ``hashes`` (in the order the
    prompt numbers them), cached under ``identity`` = (backend, model, template)."""

    custom_id: str
    identity: tuple[str, str, str]
    descriptor: str
    hashes: tuple[str, ...]
    body: dict[str, Any]

    def line(self, line_format: str = "openai") -> str:
        if line_format == "body":
            obj: dict[str, Any] = {"custom_id": self.custom_id, "body": self.body}
        else:
            obj = {"custom_id": self.custom_id, "method": "POST", "url": CHAT_URL, "body": self.body}
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def manifest_line(self) -> str:
        return json.dumps({"custom_id": self.custom_id, "identity": list(self.identity),
                           "descriptor": self.descriptor, "hashes": list(self.hashes)},
                          ensure_ascii=False, separators=(",", ":"))


def judging_backend(fm: Any) -> Any:
    """The backend under cache/executor wrappers; it must build request bodies."""
    inner = fm
    while isinstance(inner, CachedFM):
        inner = inner.inner
    if not callable(getattr(inner, "judge_request_body", None)):
        raise GenZInputError(
            f"{getattr(inner, 'name', type(inner).__name__)}: request files need an OpenAI-compatible "
            "backend (--fm openai)"
        )
    return inner


def plan_judge_requests(
    fm: Any,
    descriptors: Sequence[str],
    items: Sequence[Item],
    cache: FMCache | None = None,
    batch_size: int | None = None,
) -> Iterator[JudgeRequest]:
    """The judging requests of ``descriptors`` × ``items`` that ``cache`` does not answer: each
    distinct item content once per descriptor, in batches of ``batch_size`` (the backend's)."""
    inner = judging_backend(fm)
    if cache is None:
        cache = getattr(fm, "cache", None)
    identity = cache_identity(inner, "judge")
    bs = int(batch_size or getattr(inner, "batch_size", 10))
    uniq: dict[str, Item] = {}
    for it in items:
        uniq.setdefault(it.content_hash(), it)
    hashes = list(uniq)
    for d in dict.fromkeys(descriptors):
        if not isinstance(d, str) or not d.strip():
            raise GenZInputError("a descriptor to judge is empty")
        known = cache.get_judgments(*identity, d, hashes) if cache is not None else {}
        todo = [h for h in hashes if h not in known]
        for s in range(0, len(todo), bs):
            hs = tuple(todo[s : s + bs])
            body = inner.judge_request_body(d, [uniq[h] for h in hs])
            yield JudgeRequest(request_custom_id(identity, d, hs), identity, d, hs, body)


@dataclass
class Shard:
    """One request file and its manifest."""

    path: Path
    manifest: Path
    n_requests: int
    n_judgments: int
    n_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "manifest": str(self.manifest), "n_requests": self.n_requests,
                "n_judgments": self.n_judgments, "n_bytes": self.n_bytes}


def write_shards(
    requests: Iterable[JudgeRequest],
    out_dir: str | Path,
    *,
    prefix: str = "requests",
    start: int = 0,
    max_requests: int = MAX_REQUESTS_PER_FILE,
    max_bytes: int = MAX_BYTES_PER_FILE,
    line_format: str = "openai",
) -> list[Shard]:
    """Write ``requests`` as JSONL shards of at most ``max_requests`` lines and ``max_bytes``
    bytes, each with its manifest; ``prefix-NNNNN.jsonl`` numbered from ``start``. A file is
    written under a temporary name and renamed when complete."""
    if line_format not in ("openai", "body"):
        raise GenZInputError(f"line format must be openai or body, not {line_format!r}")
    if max_requests < 1 or max_bytes < 1024:
        raise GenZInputError("shards need max_requests >= 1 and max_bytes >= 1024")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[Shard] = []
    state: dict[str, Any] = {}

    def open_shard() -> None:
        k = start + len(shards)
        path = out / f"{prefix}-{k:05d}.jsonl"
        man = out / f"{prefix}-{k:05d}.manifest.jsonl"
        state.update(path=path, man=man, fh=open(path.with_suffix(".jsonl.part"), "wb"),
                     mh=open(man.with_suffix(".jsonl.part"), "wb"), n=0, j=0, b=0)

    def close_shard() -> None:
        state["fh"].close()
        state["mh"].close()
        state["man"].with_suffix(".jsonl.part").replace(state["man"])
        state["path"].with_suffix(".jsonl.part").replace(state["path"])
        shards.append(Shard(state["path"], state["man"], state["n"], state["j"], state["b"]))
        state.clear()

    try:
        for r in requests:
            data = (r.line(line_format) + "\n").encode("utf-8")
            if len(data) > max_bytes:
                raise GenZInputError(f"one request ({r.custom_id}) is {len(data)} bytes, over the {max_bytes}-byte limit")
            if state and (state["n"] >= max_requests or state["b"] + len(data) > max_bytes):
                close_shard()
            if not state:
                open_shard()
            state["fh"].write(data)
            state["mh"].write((r.manifest_line() + "\n").encode("utf-8"))
            state["n"] += 1
            state["j"] += len(r.hashes)
            state["b"] += len(data)
        if state:
            close_shard()
    finally:
        if state:  # an error mid-shard: leave no half-written shard behind
            state["fh"].close()
            state["mh"].close()
            for p in (state["path"], state["man"]):
                p.with_suffix(".jsonl.part").unlink(missing_ok=True)
    return shards


def export_requests(
    fm: Any,
    descriptors: Sequence[str],
    items: Sequence[Item],
    out_dir: str | Path,
    **shard_options: Any,
) -> list[Shard]:
    """Write the requests of ``descriptors`` × ``items`` not in ``fm``'s cache (see
    :func:`plan_judge_requests`, :func:`write_shards`)."""
    return write_shards(plan_judge_requests(fm, descriptors, items), out_dir, **shard_options)


# ------------------------------------------------------------------------------------------------
# ingest
# ------------------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    """What :func:`ingest` did. ``failed`` maps custom_id to the reason (left for a retry)."""

    lines: int = 0
    answered: int = 0  # requests with a valid answer
    judgments: int = 0  # judgments in those answers
    new_rows: int = 0  # rows the cache did not have before
    failed: dict[str, str] = field(default_factory=dict)
    unknown: int = 0  # lines whose custom_id is in no manifest
    bad_lines: int = 0  # lines that are not JSON objects with a custom_id
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (comparable on a loaded machine)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["failed"] = len(self.failed)
        d["failed_examples"] = dict(list(self.failed.items())[:5])
        return d


def _ns(obj: Any) -> Any:
    if isinstance(obj, dict):
        return SimpleNamespace(**{k: _ns(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_ns(v) for v in obj]
    return obj


def _error_text(err: Any) -> str:
    if isinstance(err, dict):
        inner = err.get("error") if isinstance(err.get("error"), dict) else err
        code = inner.get("code") or inner.get("type") or ""
        msg = inner.get("message") or ""
        return f"{code}: {msg}".strip(": ") or json.dumps(err)[:200]
    return str(err)[:300]


def parse_output_line(obj: Any, n: int) -> tuple[np.ndarray, np.ndarray | None] | str:
    """(values, P(yes)) of one output line for a request of ``n`` items, or the reason it failed
    (an ``error``, a status other than 200, an answer that does not validate)."""
    from .answers import ParseFailure, parse_judge_completion

    err = obj.get("error")
    resp = obj.get("response")
    if err:
        return _error_text(err)
    if not isinstance(resp, dict):
        if "response" not in obj and "body" in obj:
            return "a request line, not an output line: pass the output file of the batch"
        return "no response"
    status = resp.get("status_code", 200)
    body = resp.get("body")
    if status != 200:
        return f"HTTP {status}: {_error_text(body) if body else ''}".strip()
    try:
        ch = body["choices"][0]
        msg = ch["message"]
        comp = SimpleNamespace(content=msg.get("content"), finish_reason=ch.get("finish_reason"),
                               refusal=msg.get("refusal"), logprobs=_ns(ch.get("logprobs")))
    except (KeyError, IndexError, TypeError, AttributeError):
        return "the response body is not a chat completion"
    try:
        values, probs = parse_judge_completion(comp, n)
    except ParseFailure as exc:
        return str(exc)
    if len(values) < n:  # left for a retry, never guessed
        return f"{n - len(values)} of {n} items missing (no yes/no answer)"
    return np.array([values[k] for k in range(1, n + 1)], dtype=bool), probs


def read_manifests(paths: Iterable[str | Path], wanted: set[str] | None = None) -> dict[str, tuple]:
    """custom_id -> (identity, descriptor, hashes) from manifest files (only ``wanted`` ids)."""
    out: dict[str, tuple] = {}
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            for ln, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if wanted is not None:
                    cid = line[14:65] if line.startswith('{"custom_id":"gz-') else None
                    if cid is not None and cid not in wanted:
                        continue
                try:
                    m = json.loads(line)
                    out[m["custom_id"]] = (tuple(m["identity"]), m["descriptor"], tuple(m["hashes"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise GenZInputError(f"{p}, line {ln}: not a genz request manifest line") from None
    return out


def _manifest_paths(manifests: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [manifests] if isinstance(manifests, (str, Path)) else list(manifests)
    out: list[Path] = []
    for m in items:
        p = Path(m)
        if p.is_dir():
            out.extend(sorted(p.glob("*.manifest.jsonl")))
        elif p.is_file():
            out.append(p)
        else:
            raise GenZInputError(f"{p}: no such manifest file or export directory")
    if not out:
        raise GenZInputError(f"no *.manifest.jsonl files in {', '.join(map(str, items))}")
    return out


def ingest(
    cache: FMCache | str | Path,
    outputs: str | Path | Sequence[str | Path],
    manifests: str | Path | Sequence[str | Path],
) -> IngestResult:
    """Write the judgments in batch output files into ``cache``; nothing else is written.

    ``outputs``: output files (OpenAI output and error files, ``vllm run-batch`` output with
    inline errors), lines in any order. ``manifests``: manifest files or export directories.
    A request answered successfully anywhere counts as answered even if another line for it
    failed; rows already in the cache are left untouched (INSERT OR IGNORE). The judgments are
    written in transactions of up to a million (:meth:`FMCache.put_judgments_packed`): a crash
    or Ctrl-C keeps the transactions already committed and loses nothing else; ingesting the
    files again completes the cache."""
    t0, c0 = time.perf_counter(), time.process_time()
    cache = cache if isinstance(cache, FMCache) else FMCache(cache)
    res = IngestResult()
    paths = [Path(p) for p in ([outputs] if isinstance(outputs, (str, Path)) else list(outputs))]
    for p in paths:
        if not p.is_file():
            raise GenZInputError(f"{p}: no such output file")
    mans = _compact_manifests(_manifest_paths(manifests))
    done: set[str] = set()
    unknown: set[str] = set()
    packed: list[tuple] = []  # answered requests, k judgments each (FMCache.put_judgments_packed)
    n_packed = 0
    for p in paths:  # streamed: memory is the manifests plus one flush of rows
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                res.lines += 1
                try:
                    obj = json.loads(line)
                    cid = obj["custom_id"]
                    if not isinstance(cid, str):
                        raise TypeError
                except (json.JSONDecodeError, KeyError, TypeError):
                    res.bad_lines += 1  # e.g. a truncated last line: that request stays missing
                    continue
                if cid in done:
                    continue  # answered by another line already: a later failure changes nothing
                m = mans.get(cid)
                if m is None:
                    unknown.add(cid)
                    continue
                identity, descriptor, joined, k = m
                got = parse_output_line(obj, k)
                if isinstance(got, str):
                    res.failed[cid] = got
                    continue
                done.add(cid)
                res.failed.pop(cid, None)
                vals, probs = got
                bits = (vals.view(np.uint8) + 48).tobytes().decode("ascii")  # "0"/"1" per item
                pj = None if probs is None else json.dumps(
                    [x if np.isfinite(x) else None for x in np.asarray(probs, dtype=float).tolist()])
                packed.append((*identity, descriptor, k, joined, bits, pj))
                n_packed += k
                res.judgments += k
                if n_packed >= _FLUSH_ROWS:
                    res.new_rows += cache.put_judgments_packed(packed)
                    packed, n_packed = [], 0
    res.new_rows += cache.put_judgments_packed(packed)
    res.answered = len(done)
    res.unknown = len(unknown)
    res.seconds = time.perf_counter() - t0
    res.cpu_seconds = time.process_time() - c0
    return res


def _compact_manifests(paths: Sequence[Path]) -> dict[str, tuple]:
    """custom_id -> (identity, descriptor, the hashes joined into one string, count): shared
    identity/descriptor objects and one string per request keep 150,000 requests near 100 MB."""
    out: dict[str, tuple] = {}
    shared: dict[Any, Any] = {}
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            for ln, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    m = json.loads(line)
                    ident = tuple(m["identity"])
                    ident = shared.setdefault(ident, ident)
                    d = shared.setdefault(m["descriptor"], m["descriptor"])
                    hs = m["hashes"]
                    if not hs or len(set(map(len, hs))) != 1:
                        raise ValueError
                    out[m["custom_id"]] = (ident, d, "".join(hs), len(hs))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    raise GenZInputError(f"{p}, line {ln}: not a genz request manifest line") from None
    return out
