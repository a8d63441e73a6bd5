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
nothing else (:mod:`genz.fm.ingest`: failed lines are left for a retry, conflicting duplicates
and another model's answers are refused, ingesting twice changes nothing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GenZInputError
from ..items import Item
from .cache import CachedFM, FMCache, cache_identity
from .ingest import IngestResult, ingest, parse_output_line, read_manifests  # noqa: F401  (their home before)

__all__ = [
    "JudgeRequest", "Shard", "IngestResult", "CHAT_URL", "MAX_REQUESTS_PER_FILE", "MAX_BYTES_PER_FILE",
    "request_custom_id", "judging_backend", "plan_judge_requests", "write_shards", "export_requests",
    "ingest", "parse_output_line", "read_manifests",
]

CHAT_URL = "/v1/chat/completions"
MAX_REQUESTS_PER_FILE = 50_000  # OpenAI Batch API: requests per input file
MAX_BYTES_PER_FILE = 200 * 1024 * 1024  # OpenAI Batch API: bytes per input file


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
