"""Judging passes over many items: rounds of concurrent batched requests, and batch isolation.

:func:`judge_batches` asks a backend (:class:`genz.fm.openai_compat.OpenAIFM`) to judge one
descriptor on many items and reports every answer through ``on_result(positions, values,
probs)`` as it arrives, so a cache stores it at once.

* **Rounds**: every batch is asked once; items left without a valid answer (left out, refused,
  garbled) are pooled and asked again together; batches shrink after ``parse_retries``
  retries, down to one item per request; an item that never gets an answer raises FMError.
* **Interruption**: Ctrl-C / SIGTERM (KeyboardInterrupt in the calling thread) cancels every
  queued request at once, waits at most ``interrupt_grace`` seconds for the requests in
  flight (their answers are still delivered), and re-raises. The first error stops the pass
  the same way.
* **Isolation** (``isolation="canary"``): an item whose text reads like instructions
  (:func:`~genz.fm.prompts.looks_like_instructions`) is always judged alone. Text phrased past
  that heuristic can still steer a model that obeys it into changing its batch-mates'
  answers; in canary mode every batch also carries ``canaries`` items of as many other batches
  picked at random (unknown to the model as such, at random places). Each canary is thus
  answered in two batches; where its two answers differ, or one is missing, neither batch is
  trusted: their items are judged again one per request. A batch's answers are delivered once
  every batch it shares a canary with is answered. Cost: ``canaries`` more items per request, plus
  one request per item of every flagged batch. See docs/llm-backends.md for the measured flip
  rates.
"""

from __future__ import annotations

import logging
import queue
import random
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ..errors import FMError
from ..items import Item
from .answers import ParseFailure
from .prompts import looks_like_instructions
from .transport import Cancelled

__all__ = ["judge_batches", "judge_single_items", "round_sizes", "split_batches", "ISOLATION_MODES", "Bar"]

log = logging.getLogger("genz.fm")

ISOLATION_MODES = ("none", "canary")

Segment = tuple[list[int], np.ndarray, "np.ndarray | None"]
OnResult = Callable[[list[int], np.ndarray, "np.ndarray | None"], None]


class Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, label: str, total: int, show: bool | None) -> None:
        self._p = None
        if show is None:
            show = sys.stderr.isatty() and total > 1
        if show:
            from rich.console import Console
            from rich.errors import LiveError
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                         TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            try:
                p.start()
            except LiveError:  # another live display (e.g. genz fit's progress panel) is on
                return
            self._p = p
            self._task = p.add_task(label, total=total)

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None


def round_sizes(batch_size: int, parse_retries: int) -> list[int]:
    """Batch size of each judging round: ``batch_size`` for the first try and its
    ``parse_retries`` retries, then halving down to one item per request, then one item per
    request for ``parse_retries`` more tries."""
    sizes = [batch_size] * (1 + parse_retries)
    b = batch_size
    while b > 1:
        b = max(1, b // 2)
        sizes.append(b)
    sizes += [1] * parse_retries
    return sizes


def split_batches(items: Sequence[Item], pos: list[int], size: int) -> list[list[int]]:
    """``pos`` in batches of ``size``; an item whose text reads like instructions to the model
    (:func:`~genz.fm.prompts.looks_like_instructions`) always goes alone, so it can at most
    change its own answer."""
    alone = [i for i in pos if looks_like_instructions(items[i])] if size > 1 else []
    alone_set = set(alone)
    rest = [i for i in pos if i not in alone_set]
    return [rest[s : s + size] for s in range(0, len(rest), size)] + [[i] for i in alone]


def judge_attempt(fm: Any, descriptor: str, items: Sequence[Item], pos: list[int]) -> tuple[list[Segment], list[int], str]:
    """One request for ``items[pos]``: (answered segments, positions still without a valid
    answer, why they have none)."""
    batch = [items[i] for i in pos]
    try:
        values, probs = fm._judge_once(descriptor, batch)
    except ParseFailure as exc:
        why = str(exc)
        log.info("judge %r, %d items: %s", descriptor, len(batch), why)
        if exc.garbage:
            fm._unusable("judge", why)
        return [], list(pos), why
    got = [k for k in range(1, len(pos) + 1) if k in values]
    missing = [pos[k - 1] for k in range(1, len(pos) + 1) if k not in values]
    segs: list[Segment] = []
    if got:
        v = np.array([values[k] for k in got], dtype=bool)
        p = None if probs is None else np.asarray(probs, dtype=float)[[k - 1 for k in got]]
        segs.append(([pos[k - 1] for k in got], v, p))
    why = f"{len(missing)} of {len(pos)} items without a yes/no answer" if missing else ""
    return segs, missing, why


class _Canaries:
    """The canary bookkeeping of one round (see the module docstring): in each of ``k`` random
    cycles through the batches, batch ``j`` takes one item of the next batch of the cycle (at a
    random place) and gives one to the previous, so every batch holds ``k`` canaries and has
    ``k`` of its items checked elsewhere, with partners picked at random (batches a hostile
    author fills one after the other do not vouch for each other). Each canary is answered
    twice, at home and as a guest; when the two answers differ, or one is missing, both batches
    are suspect until the canary, judged alone, says which of them answered it wrongly. A batch
    is final once every batch it shares a canary with is answered."""

    def __init__(self, batches: list[list[int]], k: int, rng: random.Random) -> None:
        m = len(batches)
        self.own = batches
        self.m = m
        home = {i: b for b, pos in enumerate(batches) for i in pos}
        used: set[int] = set()
        self.guests: list[list[int]] = [[] for _ in range(m)]
        for _ in range(min(k, m - 1)):  # each round: a random cycle through the batches
            order = list(range(m))
            rng.shuffle(order)
            for t, j in enumerate(order):
                b = order[(t + 1) % m]  # batch j takes a canary from batch b, and gives one to another
                free = [i for i in batches[b] if i not in used]
                if free:
                    g = rng.choice(free)
                    used.add(g)
                    self.guests[j].append(g)
        self.edges = [(j, home[g], g) for j in range(m) for g in self.guests[j]]  # (guest batch, home batch, item)
        self.deps: list[set[int]] = [set() for _ in range(m)]
        for j, b, _ in self.edges:
            self.deps[j].add(b)
            self.deps[b].add(j)
        self.requests = []
        for j in range(m):
            req = list(batches[j])
            for g in self.guests[j]:
                req.insert(rng.randrange(len(req) + 1), g)
            self.requests.append(req)
        self.answers: dict[int, dict[int, tuple[bool, float | None]]] = {}
        self.disputes: list[tuple[int, int, int]] = []  # (guest batch, home batch, canary)
        self.suspect: set[int] = set()
        self.final: set[int] = set()

    def record(self, j: int, segs: list[Segment]) -> list[int]:
        """Store batch ``j``'s answers; returns the batches that became final now and are not
        in dispute (their answers can be delivered)."""
        a: dict[int, tuple[bool, float | None]] = {}
        for pos, v, p in segs:
            for t, i in enumerate(pos):
                a[i] = (bool(v[t]), None if p is None else float(p[t]))
        self.answers[j] = a
        for gj, hb, g in self.edges:
            if j in (gj, hb) and gj in self.answers and hb in self.answers:
                guest, home = self.answers[gj], self.answers[hb]
                if g not in guest or g not in home or guest[g][0] != home[g][0]:
                    self.disputes.append((gj, hb, g))
                    self.suspect |= {gj, hb}
        out = []
        for b in {j, *self.deps[j]}:
            if b not in self.final and b in self.answers and all(d in self.answers for d in self.deps[b]):
                self.final.add(b)
                if b not in self.suspect:
                    out.append(b)
        return out

    def judged_by(self, referee: dict[int, bool]) -> set[int]:
        """The batches to distrust, given the answers of the disputed canaries judged alone
        (``referee``): a batch whose answer differs from its canary's lone answer, and both
        batches of a dispute the referee could not settle."""
        bad: set[int] = set()
        for gj, hb, g in self.disputes:
            ref = referee.get(g)
            for b in (gj, hb):
                mine = self.answers.get(b, {}).get(g)
                if ref is None or mine is None or mine[0] != ref:
                    bad.add(b)
        return bad

    def segment(self, j: int) -> Segment | None:
        """Batch ``j``'s own answered items as one segment."""
        a = self.answers.get(j, {})
        pos = [i for i in self.own[j] if i in a]
        if not pos:
            return None
        v = np.array([a[i][0] for i in pos], dtype=bool)
        ps = [a[i][1] for i in pos]
        p = None if any(x is None for x in ps) else np.array(ps, dtype=float)
        return pos, v, p


def judge_batches(fm: Any, descriptor: str, items: Sequence[Item], on_result: OnResult) -> None:
    """Judge ``items`` in concurrent batches (see the module docstring); ``on_result`` is called
    from the worker threads, one call at a time."""
    n = len(items)
    if n == 0:
        return
    bar = Bar(f"judging: {descriptor[:40]}", -(-n // fm.batch_size), fm.progress)
    cancel = threading.Event()
    closed = threading.Event()
    deliver_lock = threading.Lock()

    def deliver(segments: list[Segment]) -> None:
        with deliver_lock:
            if closed.is_set():
                return
            for seg_pos, v, p in segments:
                on_result(seg_pos, v, p)

    sizes = round_sizes(fm.batch_size, fm.parse_retries)
    todo = list(range(n))
    why = ""
    try:
        for r, size in enumerate(sizes):
            if not todo:
                break
            batches = split_batches(items, todo, size)
            if r:
                fm.stats.add_retry(len(batches))
            missing, why = _judge_round(fm, descriptor, items, batches, deliver, cancel, bar)
            todo = sorted(missing)
        if todo:
            it = items[todo[0]]
            raise FMError(
                f"judge: no valid yes/no answer from {fm.model} for item {it.id!r} and characteristic "
                f"{descriptor!r} after {len(sizes)} tries: {fm._redact(why)}"
                + (f" ({len(todo) - 1} more items without an answer)" if len(todo) > 1 else "")
            )
    finally:
        closed.set()
        bar.close()


def _canary_plan(fm: Any, descriptor: str, batches: list[list[int]]) -> _Canaries | None:
    """The canaries of a round, or None (isolation off, one-item batches, too few items)."""
    if getattr(fm, "isolation", "none") != "canary":
        return None
    multi = [b for b in batches if len(b) > 1]
    singles = [b for b in batches if len(b) <= 1]
    if not multi:
        return None
    if len(multi) == 1:  # one batch: two halves, so that each has a neighbour
        b = multi[0]
        multi = [b[: len(b) // 2], b[len(b) // 2:]]
    batches[:] = multi + singles
    rng = random.Random(zlib.crc32(descriptor.encode("utf-8", "replace")) ^ len(batches))
    return _Canaries(multi, int(getattr(fm, "canaries", 2)), rng)


def _judge_round(fm: Any, descriptor: str, items: Sequence[Item], batches: list[list[int]],
                 deliver: Callable[[list[Segment]], None], cancel: threading.Event, bar: Bar) -> tuple[list[int], str]:
    """Ask every batch once with ``concurrency`` worker threads; return the positions left
    without an answer and why (see :func:`judge_batches` for interruption and canaries)."""
    canaries = _canary_plan(fm, descriptor, batches)
    tasks: queue.SimpleQueue = queue.SimpleQueue()
    for j, b in enumerate(batches):
        if canaries is not None and j < canaries.m:
            tasks.put((j, canaries.requests[j]))
        else:
            tasks.put((None, b))
    results: queue.SimpleQueue = queue.SimpleQueue()
    lock = threading.Lock()
    rejudge: list[int] = []

    def handle(j: int | None, pos: list[int], segs: list[Segment], missing: list[int]) -> list[int]:
        if j is None:
            deliver(segs)
            return missing
        own = set(canaries.own[j])
        with lock:
            for b in canaries.record(j, segs):
                seg = canaries.segment(b)
                if seg is not None:
                    deliver([seg])
        return [i for i in missing if i in own]

    def worker() -> None:
        fm.transport.set_cancel(cancel)
        try:
            while not cancel.is_set():
                try:
                    j, pos = tasks.get_nowait()
                except queue.Empty:
                    return
                try:
                    segs, missing, why = judge_attempt(fm, descriptor, items, pos)
                    results.put(("ok", handle(j, pos, segs, missing), why))
                except Cancelled:
                    results.put(("cancelled", list(pos if j is None else canaries.own[j]), "cancelled"))
                    return
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    cancel.set()
                    results.put(("error", exc, ""))
                    return
        finally:
            fm.transport.set_cancel(None)

    missing_all, why_last = _run_workers(fm, worker, len(batches), results, cancel, bar)
    if canaries is not None and canaries.suspect and not cancel.is_set():
        rejudge = _settle_disputes(fm, descriptor, items, canaries, deliver, cancel, bar)
    if rejudge and not cancel.is_set():
        singles = [[i] for i in sorted(set(rejudge))]
        fm.stats.add_retry(len(singles))
        more, why = _judge_round(fm, descriptor, items, singles, deliver, cancel, bar)
        missing_all.extend(more)
        why_last = why or why_last
    return missing_all, why_last


def _settle_disputes(fm: Any, descriptor: str, items: Sequence[Item], canaries: _Canaries,
                     deliver: Callable[[list[Segment]], None], cancel: threading.Event, bar: Bar) -> list[int]:
    """Judge each disputed canary alone (one request each); deliver the suspect batches it
    clears; return the items of the batches it does not (to be judged one per request)."""
    referee: dict[int, bool] = {}

    def keep(segs: list[Segment]) -> None:
        for pos, v, _ in segs:
            for t, i in enumerate(pos):
                referee[i] = bool(v[t])

    disputed = sorted({g for _, _, g in canaries.disputes})
    fm.stats.add_retry(len(disputed))
    _judge_round(fm, descriptor, items, [[g] for g in disputed], keep, cancel, bar)
    bad = canaries.judged_by(referee)
    rejudge: list[int] = []
    for b in sorted(canaries.suspect & canaries.final):
        if b in bad:
            fm.stats.add_flagged()
            log.info("judge %r: batch %d answered a canary differently from the canary judged alone; judging its "
                     "%d items one by one", descriptor, b, len(canaries.own[b]))
            rejudge.extend(i for i in canaries.own[b] if i in canaries.answers[b])
        else:
            seg = canaries.segment(b)
            if seg is not None:
                deliver([seg])
    return rejudge


def _run_workers(fm: Any, worker: Callable[[], None], n_tasks: int, results: queue.SimpleQueue,
                 cancel: threading.Event, bar: Bar) -> tuple[list[int], str]:
    """Run ``concurrency`` workers over the queued tasks; collect (missing positions, why)."""
    n_workers = min(fm.concurrency, n_tasks)
    threads = [threading.Thread(target=worker, name=f"genz-fm-{k}", daemon=True) for k in range(n_workers)]
    for t in threads:
        t.start()
    missing_all: list[int] = []
    why_last = ""
    error: BaseException | None = None
    try:
        while any(t.is_alive() for t in threads) or not results.empty():
            try:
                kind, payload, why = results.get(timeout=0.05)
            except queue.Empty:
                continue
            if kind == "ok":
                missing_all.extend(payload)
                if why:
                    why_last = why
                bar.advance()
            elif kind == "error" and error is None:
                error = payload
            elif kind == "cancelled":
                missing_all.extend(payload)
    except BaseException:  # Ctrl-C / SIGTERM: nothing new is sent; wait briefly for the rest
        cancel.set()
        deadline = time.monotonic() + max(0.0, fm.interrupt_grace)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        raise
    if error is not None:
        raise error
    return missing_all, why_last


# ---------------------------------------------------------------------------------------------
# one item per request (judge_mode="single")
# ---------------------------------------------------------------------------------------------
def _judge_single_robust(fm: Any, descriptor: str, items: Sequence[Item], i: int) -> Segment:
    why = ""
    for attempt in range(1 + fm.parse_retries):
        if attempt:
            fm.stats.add_retry()
        try:
            v, p = fm._judge_single_once(descriptor, items[i])
            return [i], np.array([v], dtype=bool), None if p is None else np.array([p])
        except ParseFailure as exc:
            why = str(exc)
            log.info("judge (single) %r, item %r: %s", descriptor, items[i].id, why)
    raise FMError(
        f"judge: no valid yes/no answer from {fm.model} for item {items[i].id!r} and "
        f"characteristic {descriptor!r} after {1 + fm.parse_retries} tries: {fm._redact(why)}")


def judge_single_items(fm: Any, descriptor: str, items: Sequence[Item], on_result: OnResult) -> None:
    """``judge_mode="single"``: one request per item (``concurrency`` in flight), each answer
    reported through ``on_result([position], values, probs)`` in the calling thread as it
    arrives. The first error is raised after the requests already running are reported."""
    n = len(items)
    if n == 0:
        return
    bar = Bar(f"judging: {descriptor[:40]}", n, fm.progress)
    try:
        if fm.concurrency == 1 or n == 1:
            for i in range(n):
                on_result(*_judge_single_robust(fm, descriptor, items, i))
                bar.advance()
            return
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=fm.concurrency, thread_name_prefix="genz-fm") as pool:
            pending = {pool.submit(_judge_single_robust, fm, descriptor, items, i) for i in range(n)}
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    exc = f.exception()
                    if exc is None:
                        on_result(*f.result())
                        bar.advance()
                    elif error is None:
                        error = exc
                        for g in pending:
                            g.cancel()
                pending = {g for g in pending if not g.cancelled()}
        if error is not None:
            raise error
    finally:
        bar.close()
