"""The executor interface and the hook that lets a fit judge through an executor."""

from __future__ import annotations

import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import FMError, GenZInputError
from ...items import Item
from ..base import FoundationModel, Judgments
from ..cache import CachedFM, FMCache
from ..requests import JudgeRequest, plan_judge_requests

__all__ = ["Executor", "RunReport", "fill_cache", "ExecutorFM", "make_executor", "EXECUTORS"]

log = logging.getLogger("genz.fm")

EXECUTORS = ("sync", "batch", "vllm", "ray")


@dataclass
class RunReport:
    """What one :meth:`Executor.run` did."""

    requests: int = 0  # requests handed to the executor
    submitted: int = 0  # requests sent out now (the others were already in flight)
    answered: int = 0  # requests whose judgments reached the cache
    failed: int = 0  # requests that failed (left for a retry)
    batches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Executor(ABC):
    """Answers judging requests and writes the judgments into the cache, nothing else."""

    name = "executor"

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
    """Run ``executor`` until the cache answers ``descriptors`` × ``items`` or ``max_rounds``
    rounds are spent. Each round plans only what the cache still lacks, so a failed or expired
    request is resubmitted alone. Returns the counts (``missing``: requests still unanswered)."""
    total = {"rounds": 0, "submitted": 0, "answered": 0, "failed": 0, "missing": 0}
    for _ in range(max_rounds):
        reqs = plan_judge_requests(fm, descriptors, items, fm.cache)  # streamed: bodies are not all held
        first = next(reqs, None)
        if first is None:
            return total
        rep = executor.run(itertools.chain([first], reqs), fm.cache)
        total["rounds"] += 1
        for k in ("submitted", "answered", "failed"):
            total[k] += getattr(rep, k)
        if rep.answered == 0 and rep.submitted == 0:
            break  # no progress possible
    total["missing"] = sum(1 for _ in plan_judge_requests(fm, descriptors, items, fm.cache))
    return total


class ExecutorFM(CachedFM):
    """A cached foundation model whose judging passes run through an :class:`Executor`.

    ``judge(descriptor, items)`` first has the executor fill the cache for the requests it
    lacks, then answers from the cache (what discovery, fit and predict call). Mining and
    proposal stay synchronous. ``prefetch(descriptors, items)`` fills the cache for many
    descriptors in one pass (e.g. every kept feature on new items before ``predict``).
    Requests still unanswered after ``max_rounds`` go to the synchronous backend when
    ``fallback="sync"`` (its own retries and splitting), or raise FMError (``"error"``)."""

    def __init__(self, inner: FoundationModel, cache: FMCache | str | Path, executor: Executor,
                 *, max_rounds: int = 3, fallback: str = "sync") -> None:
        super().__init__(inner, cache)
        if fallback not in ("sync", "error"):
            raise GenZInputError(f"fallback must be sync or error, not {fallback!r}")
        self.executor = executor
        self.max_rounds = int(max_rounds)
        self.fallback = fallback
        self.last_fill: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ExecutorFM({self.inner!r}, executor={self.executor.name}, cache={str(self.cache.path)!r})"

    def prefetch(self, descriptors: Sequence[str], items: Sequence[Item]) -> dict[str, int]:
        """Fill the cache for ``descriptors`` × ``items`` through the executor."""
        self.last_fill = fill_cache(self, descriptors, items, self.executor, max_rounds=self.max_rounds)
        if self.last_fill["missing"]:
            msg = (f"{self.last_fill['missing']} judging requests still unanswered after "
                   f"{self.last_fill['rounds']} {self.executor.name} rounds")
            if self.fallback == "error":
                raise FMError(msg)
            log.warning("%s; judging them synchronously", msg)
        return self.last_fill

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        self.prefetch([descriptor], items)
        return super().judge(descriptor, items)


def make_executor(name: str, **options: Any) -> Executor | None:
    """An executor by name (None for ``sync``); options go to its constructor."""
    name = (name or "sync").lower()
    if name == "sync":
        return None
    if name == "batch":
        from .batch import BatchAPIExecutor

        return BatchAPIExecutor(**options)
    if name == "vllm":
        from .vllm import VLLMExecutor

        return VLLMExecutor(**options)
    if name == "ray":
        from .ray import RayExecutor

        return RayExecutor(**options)
    raise GenZInputError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
