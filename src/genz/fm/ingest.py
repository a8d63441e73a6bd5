"""Batch output lines into the FM cache, validated: nothing mis-attributed, every count true.

:func:`ingest` reads output files (OpenAI output and error files, ``vllm run-batch`` output
with inline errors, the Ray executor's lines; lines in any order) against the manifests written
with the requests (:mod:`genz.fm.requests`), and writes the judgments into the cache and
nothing else. :class:`Ingestor` does the same line by line (the Ray executor's callers store
each answer the moment it arrives).

What is never cached:

* a line that failed (an ``error``, a status other than 200, an answer that does not validate):
  reported in ``failed`` and left for a retry, never guessed;
* a custom_id answered twice with **different** answers: neither answer is kept (a row this
  ingest already wrote for it is deleted again); ``conflicts`` names them, and
  ``genz requests ingest`` exits with an error naming them;
* an answer from a model other than the one requested (the response's ``model``; a dated
  snapshot of the requested model, ``gpt-4o-mini-2024-07-18`` for ``gpt-4o-mini``, is the same
  model; ``accept_models`` names others the server answers as): kept apart in ``other_model``.

Rows already in the cache are never changed (INSERT OR IGNORE): ingesting twice changes
nothing. The judgments are written in transactions of up to a million: a crash keeps what was
committed; ingesting again completes the cache.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import GenZInputError
from .cache_store import FMCache
from .secrets import redact

__all__ = ["IngestResult", "Ingestor", "ingest", "parse_output_line", "read_manifests", "manifest_paths",
           "compact_manifests", "same_model"]

_FLUSH_ROWS = 1_000_000  # judgments per write transaction of ingest


@dataclass
class IngestResult:
    """What :func:`ingest` did. ``failed`` maps custom_id to the reason (left for a retry);
    ``conflicts`` custom_ids answered twice differently (neither kept); ``other_model``
    custom_ids answered by another model (-> that model; not kept)."""

    lines: int = 0
    answered: int = 0  # requests with a valid answer, kept
    judgments: int = 0  # judgments in those answers
    new_rows: int = 0  # rows the cache did not have before
    failed: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    other_model: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0  # extra lines repeating an answer already read (same answer)
    unknown: int = 0  # lines whose custom_id is in no manifest
    bad_lines: int = 0  # lines that are not JSON objects with a custom_id
    prompt_tokens: int = 0  # usage of the answers kept (what the provider billed for them)
    completion_tokens: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (comparable on a loaded machine)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("failed", "conflicts", "other_model"):
            d[k] = len(getattr(self, k))
            d[f"{k}_examples"] = dict(list(getattr(self, k).items())[:5])
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
        return redact(f"{code}: {msg}".strip(": ") or json.dumps(err)[:200])
    return redact(str(err)[:300])


def same_model(requested: str, answered: Any, accept: Sequence[str] = ()) -> bool:
    """Whether an answer from ``answered`` counts as one from ``requested``: the same name, a
    dated snapshot of it (``requested-2024-07-18``), a name in ``accept``, or no name at all."""
    if not answered or not isinstance(answered, str) or not requested:
        return True
    a, r = answered.strip(), requested.strip()
    return a == r or a.startswith(r + "-") or a in accept or a.rsplit("/", 1)[-1] == r.rsplit("/", 1)[-1]


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
        return redact(str(exc))
    if len(values) < n:  # left for a retry, never guessed
        return f"{n - len(values)} of {n} items missing (no yes/no answer)"
    return np.array([values[k] for k in range(1, n + 1)], dtype=bool), probs


class Ingestor:
    """Validated ingestion, one output line at a time (see the module docstring).
    ``manifest``: custom_id -> (identity, descriptor, joined hashes, k), as
    :func:`compact_manifests` builds it. Call :meth:`feed` per line, :meth:`finish` once."""

    def __init__(self, cache: FMCache, manifest: dict[str, tuple], *, accept_models: Sequence[str] = (),
                 flush_rows: int | None = None) -> None:
        self.cache = cache
        self.mans = manifest
        self.accept = tuple(accept_models)
        self.flush_rows = int(flush_rows or _FLUSH_ROWS)
        self.res = IngestResult()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        self._created = time.time()  # every row this ingest writes carries this timestamp
        self._kept: dict[str, str] = {}  # custom_id -> digest of its kept answer
        self._packed: dict[str, tuple] = {}  # answered, not yet written
        self._n_packed = 0
        self._written: set[str] = set()
        self._unknown: set[str] = set()

    def feed(self, line: str) -> None:
        if not line.strip():
            return
        res = self.res
        res.lines += 1
        try:
            obj = json.loads(line)
            cid = obj["custom_id"]
            if not isinstance(cid, str):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            res.bad_lines += 1  # e.g. a truncated last line: that request stays missing
            return
        m = self.mans.get(cid)
        if m is None:
            self._unknown.add(cid)
            return
        if cid in res.conflicts:
            return
        identity, descriptor, joined, k = m
        got = parse_output_line(obj, k)
        if isinstance(got, str):
            if cid not in self._kept:
                res.failed[cid] = got
            return
        body = obj["response"].get("body") or {}
        model = body.get("model") if isinstance(body, dict) else None
        if not same_model(identity[1], model, self.accept):
            if cid not in self._kept:
                res.other_model[cid] = str(model)
                res.failed.pop(cid, None)
            return
        vals, probs = got
        bits = (vals.view(np.uint8) + 48).tobytes().decode("ascii")  # "0"/"1" per item
        digest = hashlib.blake2b(bits.encode(), digest_size=8).hexdigest()
        if cid in self._kept:
            if self._kept[cid] == digest:
                res.duplicates += 1  # the same answer again: a later failure or repeat changes nothing
            else:
                res.conflicts[cid] = f"answered twice with different answers ({descriptor!r})"
                self._drop(cid)
            return
        self._kept[cid] = digest
        res.failed.pop(cid, None)
        res.other_model.pop(cid, None)
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            res.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            res.completion_tokens += int(usage.get("completion_tokens") or 0)
        pj = None if probs is None else json.dumps(
            [x if np.isfinite(x) else None for x in np.asarray(probs, dtype=float).tolist()])
        self._packed[cid] = (*identity, descriptor, k, joined, bits, pj)
        self._n_packed += k
        if self._n_packed >= self.flush_rows:
            self.flush()

    def _drop(self, cid: str) -> None:
        """Forget a conflicting answer: not yet written, or deleted again (this ingest's row only)."""
        row = self._packed.pop(cid, None)
        if row is not None:
            self._n_packed -= int(row[4])
        elif cid in self._written:
            identity, descriptor, joined, k = self.mans[cid]
            w = len(joined) // k
            self.res.new_rows -= self.cache.delete_judgments(
                identity, descriptor, [joined[i * w:(i + 1) * w] for i in range(k)], created=self._created)

    def flush(self) -> None:
        if self._packed:
            self.res.new_rows += self.cache.put_judgments_packed(list(self._packed.values()), created=self._created)
            self._written.update(self._packed)
            self._packed, self._n_packed = {}, 0

    def finish(self) -> IngestResult:
        self.flush()
        res = self.res
        res.answered = len(self._kept) - len(res.conflicts)
        res.judgments = sum(self.mans[c][3] for c in self._kept if c not in res.conflicts)
        res.unknown = len(self._unknown)
        res.seconds = time.perf_counter() - self._t0
        res.cpu_seconds = time.process_time() - self._c0
        return res


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


def manifest_paths(manifests: str | Path | Sequence[str | Path]) -> list[Path]:
    """Manifest files: the files given, and the ``*.manifest.jsonl`` of directories given."""
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


def compact_manifests(paths: Sequence[Path]) -> dict[str, tuple]:
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


def ingest(
    cache: FMCache | str | Path,
    outputs: str | Path | Sequence[str | Path],
    manifests: str | Path | Sequence[str | Path],
    *,
    accept_models: Sequence[str] = (),
) -> IngestResult:
    """Write the judgments in batch output files into ``cache``; nothing else is written (see
    the module docstring for what is refused). ``outputs``: output files; ``manifests``:
    manifest files or export directories. Streamed: memory is the manifests plus one flush."""
    cache = cache if isinstance(cache, FMCache) else FMCache(cache)
    paths = [Path(p) for p in ([outputs] if isinstance(outputs, (str, Path)) else list(outputs))]
    for p in paths:
        if not p.is_file():
            raise GenZInputError(f"{p}: no such output file")
    ing = Ingestor(cache, compact_manifests(manifest_paths(manifests)), accept_models=accept_models)
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                ing.feed(line)
    return ing.finish()
