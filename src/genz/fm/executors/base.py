"""The executor interface and the hook that lets a fit judge through an executor.

:class:`ExecutorFM` accounts for what the executor did in the backend's ``stats`` (calls,
tokens and dollars under ``judge_<executor>``, at the executor's price: the Batch API bills
half), and decides what happens to requests an executor left unanswered: an error
(``on_failure="stop"``, the default) or synchronous judging at full price (``"sync"``), whose
cost is counted apart (``judge_sync_fallback``) and stated in one line.
"""

from __future__ import annotations

import itertools
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import FMError, GenZInputError
from ...items import Item
from ..base import FMStats, FoundationModel, Judgments
from ..cache import CachedFM, FMCache
from ..pricing import cost_usd
from ..requests import JudgeRequest, plan_judge_requests

__all__ = ["Executor", "RunReport", "fill_cache", "ExecutorFM", "ON_FAILURE"]

log = logging.getLogger("genz.fm")

#: what happens to requests an executor leaves unanswered (``--on-batch-failure``)
ON_FAILURE = ("stop", "sync")


@dataclass
class RunReport:
    """What one :meth:`Executor.run` did."""

    requests: int = 0  # requests handed to the executor
    submitted: int = 0  # requests sent out now (the others were already in flight)
    answered: int = 0  # requests whose judgments reached the cache
    failed: int = 0  # requests that failed (left for a retry)
    given_up: int = 0  # requests not sent again: submitted too often already, or refused for good
    forgotten: int = 0  # recorded batches the provider no longer knows (their requests are free again)
    judgments: int = 0  # judgments that reached the cache
    prompt_tokens: int = 0  # usage of the answers that reached the cache
    completion_tokens: int = 0
    batches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Executor(ABC):
    """Answers judging requests and writes the judgments into the cache, nothing else."""

    name = "executor"
    #: the executor's price relative to synchronous requests (the Batch API's is half)
    price_factor = 1.0

    def recover(self, cache: FMCache) -> RunReport | None:
        """Before planning: put into ``cache`` what a killed earlier run received but never
        ingested (e.g. vLLM output files). Default: nothing to recover."""
        return None

    @abstractmethod
    def run(self, requests: Iterable[JudgeRequest], cache: FMCache) -> RunReport:
        """Get answers for ``requests`` (each custom_id at most once in flight) into ``cache``;
        ``requests`` may be a one-pass iterator."""


def fill_cache(
    fm: CachedFM,
    descriptors: Sequence[str],
    items: Sequence[Item],
    executor: Executor,
    *,
    max_rounds: int = 3,
) -> dict[str, int]:
    """Run ``executor`` until the cache answers ``descriptors`` × ``items``, nothing is left to
    submit, or ``max_rounds`` rounds are spent. Each round plans only what the cache still
    lacks, so a failed or expired request is resubmitted alone (as often as the executor
    allows). Returns the counts (``missing``: requests still unanswered)."""
    keys = ("submitted", "answered", "failed", "judgments", "prompt_tokens", "completion_tokens")
    total = {"rounds": 0, **{k: 0 for k in keys}, "given_up": 0, "missing": 0}
    rec = executor.recover(fm.cache)
    if rec is not None:
        for k in keys:
            total[k] += getattr(rec, k)
    for _ in range(max_rounds):
        reqs = plan_judge_requests(fm, descriptors, items, fm.cache)  # streamed: bodies are not all held
        first = next(reqs, None)
        if first is None:
            return total
        rep = executor.run(itertools.chain([first], reqs), fm.cache)
        total["rounds"] += 1
        for k in keys:
            total[k] += getattr(rep, k)
        total["given_up"] = rep.given_up
        if rep.answered == 0 and rep.submitted == 0 and not rep.forgotten:
            break  # no progress possible
    total["missing"] = sum(1 for _ in plan_judge_requests(fm, descriptors, items, fm.cache))
    return total


def _notice(text: str) -> None:
    print(f"[genz] {text}", file=sys.stderr, flush=True)


class ExecutorFM(CachedFM):
    """A cached foundation model whose judging passes run through an :class:`Executor`.

    ``judge(descriptor, items)`` first has the executor fill the cache for the requests it
    lacks, then answers from the cache (what discovery, fit and predict call). Mining and
    proposal stay synchronous. ``prefetch(descriptors, items)`` fills the cache for many
    descriptors in one pass (e.g. every kept feature on new items before ``predict``).
    Requests still unanswered after the executor's rounds raise FMError (``on_failure="stop"``)
    or go to the synchronous backend (``"sync"``: its own retries and splitting, at full
    price, counted as ``judge_sync_fallback``)."""

    def __init__(self, inner: FoundationModel, cache: FMCache | str | Path, executor: Executor,
                 *, max_rounds: int = 3, on_failure: str = "stop",
                 notice: Callable[[str], None] | None = _notice, guard_identity: bool = False) -> None:
        super().__init__(inner, cache, guard_identity=guard_identity)
        on_failure = {"error": "stop"}.get(on_failure, on_failure)
        if on_failure not in ON_FAILURE:
            raise GenZInputError(f"on_failure must be stop or sync, not {on_failure!r}")
        self.executor = executor
        self.max_rounds = int(max_rounds)
        self.on_failure = on_failure
        self.notice = notice or (lambda text: None)
        self.last_fill: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ExecutorFM({self.inner!r}, executor={self.executor.name}, cache={str(self.cache.path)!r})"

    def _account(self, fill: dict[str, int]) -> None:
        """What the executor answered, in the backend's counters: calls, judgments, tokens and
        dollars (at the executor's price) under ``judge_<executor>``."""
        if not fill.get("answered"):
            return
        kind = f"judge_{self.executor.name}"
        prices = getattr(self.inner, "prices", None)
        pt, ct = fill.get("prompt_tokens", 0), fill.get("completion_tokens", 0)
        cost = cost_usd(pt, ct, prices) * float(getattr(self.executor, "price_factor", 1.0)) if prices else 0.0
        self.stats.add_call(kind, fill["answered"])
        self.stats.add_tokens(pt, ct, cost, kind=kind)
        self.stats.add_judgments(fill.get("judgments", 0))

    def prefetch(self, descriptors: Sequence[str], items: Sequence[Item]) -> dict[str, int]:
        """Fill the cache for ``descriptors`` × ``items`` through the executor."""
        if getattr(self, "guard_identity", False):
            self.refuse_other_identities(descriptors, [it.content_hash() for it in items])
        self.last_fill = fill = fill_cache(self, descriptors, items, self.executor, max_rounds=self.max_rounds)
        self._account(fill)
        if fill["missing"]:
            msg = (f"{fill['missing']} judging requests still unanswered after {fill['rounds']} {self.executor.name} "
                   f"round(s)")
            if self.on_failure == "stop":
                raise FMError(f"{msg}; nothing else was paid. Rerun to resume, or pass --on-batch-failure sync to "
                              "judge them synchronously at full price")
            self.notice(f"{msg}; judging them synchronously at full price (--on-batch-failure sync)")
        return fill

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        fill = self.prefetch([descriptor], items)
        before = self.stats.snapshot()
        out = super().judge(descriptor, items)
        after = self.stats.snapshot()
        # what the executor answered just now is not a cache hit: it was paid for above
        hits = min(after["cache_hits"] - before["cache_hits"], int(fill.get("judgments", 0)))
        if hits > 0:
            self.stats.add_cache_hits(-hits)
        d = FMStats.diff(after, before)
        calls = int(d.get("calls", {}).get("judge", 0))
        if calls:  # the synchronous fallback ran: count it apart and say what it cost
            t = d.get("by_type", {}).get("judge", {})
            self.stats.relabel("judge", "judge_sync_fallback", calls, t)
            self.notice(f"synchronous fallback for {descriptor!r}: {calls} requests, "
                        f"{int(t.get('prompt_tokens', 0)) + int(t.get('completion_tokens', 0)):,} tokens, "
                        f"${float(t.get('cost_usd', 0.0)):.4f}")
        return out
