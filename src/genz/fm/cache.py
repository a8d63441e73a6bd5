"""A persistent cache of foundation-model answers around any foundation model.

:class:`CachedFM` wraps a backend with an :class:`~genz.fm.cache_store.FMCache` (the SQLite
file): a judgment, a mining, proposal or image-description answer is paid for once. Processes
sharing one cache file coordinate both kinds of work: a judgment or a call another live
process is making is waited for and read from the cache, never asked for at the same time.
Ctrl-C keeps every answer that arrived (see :meth:`CachedFM._keeping_answer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GenZInputError, MiningError
from ..items import Item
from .base import FMStats, FoundationModel, Judgments, accepts_keyword
from .cache_store import CLAIM_LEASE, SCHEMA_ID, FMCache

__all__ = ["FMCache", "CachedFM", "SCHEMA_ID", "CLAIM_LEASE", "cache_identity"]


def cache_identity(fm: Any, kind: str) -> tuple[str, str, str]:
    """(backend, model, template key) under which ``fm``'s answers of call type ``kind`` are
    cached: the backend's own ``cache_identity(kind)`` where it has one, else its ``name``."""
    f = getattr(fm, "cache_identity", None)
    if callable(f):
        b, m, t = f(kind)
        return str(b), str(m), str(t)
    return (str(getattr(fm, "name", type(fm).__name__)), "", "")


def _hash_json(obj: Any) -> str:
    s = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:32]



class CachedFM:
    """Wrap any :class:`~genz.fm.base.FoundationModel` with an :class:`FMCache`.

    ``stats`` is the inner model's own counter object: its ``calls`` count only what reached the
    inner model, and ``cache_hits`` counts judgments (per item) and mining/proposal answers
    served from the cache.
    """

    def __init__(self, inner: FoundationModel, cache: FMCache | str | Path, *, guard_identity: bool = False) -> None:
        self.inner = inner
        self.cache = cache if isinstance(cache, FMCache) else FMCache(cache)
        self.name = inner.name
        self.max_exemplars = inner.max_exemplars
        #: refuse to pay for judgments the cache holds under another (backend, model, template)
        self.guard_identity = bool(guard_identity)

    @property
    def stats(self) -> FMStats:
        return self.inner.stats

    @stats.setter
    def stats(self, value: FMStats) -> None:
        self.inner.stats = value

    def __getattr__(self, attr: str) -> Any:  # batch_size, model, describe_images, ...
        if attr in ("inner", "cache", "guard_identity"):
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def __repr__(self) -> str:
        return f"CachedFM({self.inner!r}, cache={str(self.cache.path)!r})"

    def cache_identity(self, kind: str) -> tuple[str, str, str]:
        return cache_identity(self.inner, kind)

    # -------------------------------------------------------------- judge
    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """Cached judgments; only items whose content was never judged for ``descriptor`` by this
        backend/model/template reach the inner model (each distinct content once)."""
        n = len(items)
        backend, model, template = cache_identity(self.inner, "judge")
        try:
            hashes = [it.content_hash() for it in items]
        except UnicodeEncodeError:
            from .prompts import check_encodable

            check_encodable(items)  # names the item
            raise
        known = self.cache.get_judgments(backend, model, template, descriptor, hashes)
        # one representative item per unseen content hash
        todo: dict[str, Item] = {}
        for h, it in zip(hashes, items):
            if h not in known and h not in todo:
                todo[h] = it
        hits = sum(1 for h in hashes if h in known)
        if hits:
            self.stats.add_cache_hits(hits)
        if todo and getattr(self, "guard_identity", False):
            self.refuse_other_identities([descriptor], list(todo))
        if todo:
            stream = getattr(self.inner, "judge_batches", None)
            if callable(stream):
                self._judge_shared(descriptor, todo, known, (backend, model, template), stream)
            else:  # an instant backend (the offline engine): no coordination needed
                todo_hashes = list(todo)
                todo_items = [todo[h] for h in todo_hashes]
                j = self.inner.judge(descriptor, todo_items)
                if len(j) != len(todo_items):
                    raise GenZInputError(
                        f"{self.inner.name}: judge returned {len(j)} answers for {len(todo_items)} items"
                    )
                self._store(descriptor, (backend, model, template), todo_hashes, known)(
                    list(range(len(todo_items))), j.values, j.prob)
        values = np.array([known[h][0] for h in hashes], dtype=bool)
        probs = [known[h][1] for h in hashes]
        prob = np.array(probs, dtype=float) if n and all(p is not None for p in probs) else None
        return Judgments(values=values, prob=prob)

    def refuse_other_identities(self, descriptors: Sequence[str], hashes: Sequence[str]) -> None:
        """GenZInputError before anything is paid when the judgments of ``descriptors`` ×
        ``hashes`` this backend lacks are in the cache under another (backend, model, template):
        answers made for another FM (e.g. ingested from requests exported for it) that this one
        cannot use, and that judging again would pay for a second time."""
        ident = cache_identity(self.inner, "judge")
        other = self.cache.other_identities(ident, descriptors, hashes)
        if other:
            (b, m, t), n = max(other.items(), key=lambda kv: kv[1])
            raise GenZInputError(
                f"the cache holds {n} of the judgments needed here from {m} (prompt {t}), but this model judges with "
                f"{ident[1]} (prompt {ident[2]}): they cannot be used, and judging again would pay for them a second "
                f"time. Pass --fm-model {m} (with the prompts they were made with) to use them, or --rejudge to pay "
                "for new judgments")

    def _store(self, descriptor: str, ident: tuple[str, str, str], hashes: list[str],
               known: dict[str, tuple[bool, float | None]]):
        """A judge_batches callback storing answers for ``hashes[pos]`` (thread-safe)."""
        def store(pos: list[int], v: np.ndarray, p: np.ndarray | None) -> None:
            rows = []
            for j, i in enumerate(pos):
                pi = None if p is None or not np.isfinite(p[j]) else float(p[j])
                rows.append((hashes[i], bool(v[j]), pi))
            self.cache.put_judgments(*ident, descriptor, rows)
            for h, v_, p_ in rows:
                known[h] = (v_, p_)
        return store

    def _judge_shared(self, descriptor: str, todo: dict[str, Item], known: dict[str, tuple[bool, float | None]],
                      ident: tuple[str, str, str], stream: Any) -> None:
        """Judge ``todo`` with a streaming backend, coordinated with other processes that share
        the cache: claim a chunk of unanswered, unclaimed items, judge it (each answer stored as
        it returns), repeat; items claimed by another live process are waited for and read
        from the cache. No judgment is asked for twice at the same time."""
        owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        chunk = max(50, 2 * int(getattr(self.inner, "batch_size", 10)) * int(getattr(self.inner, "concurrency", 4)))
        remaining = list(todo)
        claimed: list[str] = []
        waited = 0
        try:
            while remaining:
                mine = self.cache.claim(*ident, descriptor, remaining, owner, limit=chunk)
                claimed = mine
                if mine:
                    stream(descriptor, [todo[h] for h in mine], self._store(descriptor, ident, mine, known))
                    self.stats.add_judgments(len(mine))
                    claimed = []
                rest = [h for h in remaining if h not in known]
                if rest and not mine:  # all held by other processes: read what they have answered
                    got = self.cache.get_judgments(*ident, descriptor, rest)
                    if got:
                        known.update(got)
                        self.stats.add_cache_hits(len(got))
                    else:
                        time.sleep(min(0.05 * 2 ** min(waited, 3), 0.4))
                        waited += 1
                    rest = [h for h in rest if h not in known]
                remaining = rest
        finally:
            left = [h for h in claimed if h not in known]
            if left:
                self.cache.release(*ident, descriptor, left, owner)

    # -------------------------------------------------------------- mine / propose
    def _mine_key(self, positives, negatives, exclude, context, weights, n=None) -> str:
        from .prompts import check_encodable

        check_encodable(list(positives) + list(negatives))
        req: dict[str, Any] = {
            "pos": [it.content_hash() for it in positives],
            "neg": [it.content_hash() for it in negatives],
            "exclude": sorted(set(exclude)),
            "context": context,
        }
        if weights is not None:
            req["weights"] = [[round(float(w), 6) for w in ws] for ws in weights]
        if n is not None:
            req["n"] = int(n)
        return _hash_json(req)

    def _coordinated(self, kind: str, ident: tuple[str, str, str], key: str,
                     served: Callable[[Any], tuple[bool, Any]], call: Callable[[], Any],
                     store: Callable[[Any], None], on_error: Callable[[BaseException], None] | None = None) -> Any:
        """One cached call of type ``kind``: the cached answer when there is one (``served(row)``
        says whether a row is an answer, and returns it or raises what it records); else, when
        another live process is making the same call, its answer once it is stored; else the
        call, made under a claim (:meth:`FMCache.claim_call`), its answer stored. Processes
        sharing a cache therefore pay for each mining, proposal or description call once."""
        owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        waited = 0
        while True:
            hit = self.cache.get_call(kind, *ident, key)
            if hit is not None:
                ok, value = served(hit)
                if ok:
                    self.stats.add_cache_hits(1)
                    return value
            state = self.cache.claim_call(kind, *ident, key, owner)
            if state == "mine":
                break
            if state == "held":  # another process is asking: wait for its answer (or its end)
                time.sleep(min(0.05 * 2 ** min(waited, 3), 0.4))
                waited += 1
            elif hit is not None and not served(hit)[0]:
                break  # an old row that is not an answer (a cached failure of genz < 0.8): ask again
        try:
            return self._keeping_answer(call, store)
        except BaseException as exc:
            if on_error is not None and isinstance(exc, Exception):
                on_error(exc)
            raise
        finally:
            self.cache.release_call(kind, *ident, key, owner)

    def _cached_mine(self, kind: str, key: str, call: Any) -> Any:
        ident = cache_identity(self.inner, "mine")

        def served(hit: Any) -> tuple[bool, Any]:
            if "no_characteristic" in hit:
                # the model answered "nothing separates these groups" before: same answer, no call
                self.stats.add_cache_hits(1)
                raise MiningError(str(hit["no_characteristic"]))
            # anything but an answer (e.g. a "mining_error" row of an older genz, which cached
            # failures) is not one: ask again
            return ("answer" in hit), hit.get("answer")

        def store(answer: Any) -> None:
            resp: dict[str, Any] = {"answer": answer}
            conf = getattr(self.inner, "last_confidence", None)
            if isinstance(conf, (int, float)):
                resp["confidence"] = conf
            self.cache.put_call(kind, *ident, key, resp)

        def on_error(exc: BaseException) -> None:
            # "nothing separates" is an answer (the offline engine's is deterministic); a backend
            # marks a failure (no usable answer) with cacheable=False, and it is never stored
            if isinstance(exc, MiningError) and getattr(exc, "cacheable", True):
                self.cache.put_call(kind, *ident, key, {"no_characteristic": str(exc)})

        return self._coordinated(kind, ident, key, served, call, store, on_error)

    def _keeping_answer(self, call: Any, store: Any) -> Any:
        """``store(call())`` and its result, with ``call`` in a worker thread: on Ctrl-C/SIGTERM
        (KeyboardInterrupt here), the backend sends nothing new (``cancellable``), the request
        in flight gets ``interrupt_grace`` seconds, and its answer is still stored before the
        interrupt goes on. A mining or proposal answer in flight is thus not lost either."""
        box: dict[str, Any] = {}
        cancel, done = threading.Event(), threading.Event()
        cancellable = getattr(self.inner, "cancellable", None)

        def work() -> None:
            try:
                with (cancellable(cancel) if callable(cancellable) else contextlib.nullcontext()):
                    box["value"] = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="genz-fm-call", daemon=True).start()
        try:
            while not done.wait(0.05):  # (not Thread.join: a join interrupted by Ctrl-C forgets the thread)
                pass
        except BaseException:
            cancel.set()
            done.wait(float(getattr(self.inner, "interrupt_grace", 1.0)))
            if "value" in box:
                store(box["value"])
            raise
        if "error" in box:
            raise box["error"]
        store(box["value"])
        return box["value"]

    def mine(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> str:
        """Cached mining; ``weights`` reach the inner model only where its ``mine`` takes them."""
        kw: dict[str, Any] = {"exclude": exclude, "context": context}
        if weights is not None and accepts_keyword(self.inner.mine, "weights"):
            kw["weights"] = weights
        else:
            weights = None
        key = self._mine_key(positives, negatives, exclude, context, weights)
        return str(self._cached_mine("mine", key, lambda: self.inner.mine(positives, negatives, **kw)))

    def mine_candidates(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        n: int = 5,
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> list[str]:
        """Cached ``mine_candidates`` of the inner model; one :meth:`mine` answer for a model
        that offers a single characteristic."""
        inner_fn = getattr(self.inner, "mine_candidates", None)
        if not callable(inner_fn):
            return [self.mine(positives, negatives, exclude=exclude, context=context, weights=weights)]
        kw: dict[str, Any] = {"exclude": exclude, "context": context}
        if weights is not None and accepts_keyword(inner_fn, "weights"):
            kw["weights"] = weights
        else:
            weights = None
        key = self._mine_key(positives, negatives, exclude, context, weights, n=n)
        return [str(c) for c in self._cached_mine(
            "mine_candidates", key, lambda: list(inner_fn(positives, negatives, n, **kw)))]

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        ident = cache_identity(self.inner, "propose")
        key = _hash_json({"task": task, "items": [it.content_hash() for it in sample_items], "n": n})
        qs = self._coordinated(
            "propose", ident, key,
            lambda hit: (isinstance(hit.get("questions"), list), [str(q) for q in hit.get("questions") or []]),
            lambda: list(self.inner.propose(task, sample_items, n)),
            lambda q: self.cache.put_call("propose", *ident, key, {"questions": list(q)}))
        return list(qs)

    def describe_images(self, item: Item) -> str:
        """Cached image description, keyed by the item's text and the images' bytes."""
        ident = cache_identity(self.inner, "describe")
        digests = []
        for p in item.images:
            try:
                digests.append(hashlib.sha256(Path(p).read_bytes()).hexdigest()[:32])
            except OSError:
                raise GenZInputError(f"item {item.id!r}: image {p} cannot be read") from None
        key = _hash_json({"item": item.render(), "images": digests})
        return str(self._coordinated(
            "describe", ident, key,
            lambda hit: (isinstance(hit.get("description"), str), hit.get("description")),
            lambda: self.inner.describe_images(item),  # type: ignore[attr-defined]
            lambda d: self.cache.put_call("describe", *ident, key, {"description": d})))
