"""The foundation-model protocol: the three things GenZ asks of a foundation model.

* ``judge(descriptor, items)`` — the extraction prompt (paper Fig. 1): ``b_nk = f(x_n, s_k)``
  for a batch of items, optionally with P(yes) per item (soft judgments).
* ``mine(positives, negatives)`` — the mining prompt (Fig. 2): one characteristic true of the
  positive group and not of the negative one.
* ``propose(task, sample_items, n)`` — zero-shot proposal of ~n yes/no features from a task
  description (the baseline of Section 5).

Backends (the offline predicate engine, OpenAI-compatible LLMs, a cache wrapped around either)
implement :class:`FoundationModel`; discovery and inference never look behind it.

Optional attributes a backend may declare (read with ``getattr(fm, name, False)``):
``free_judgments`` (judging costs nothing: no candidate screening by default) and
``exact_judgments`` (a judgment *is* the descriptor's meaning — a rule evaluated on the item, as
the offline engine's — so its error rate is 0 by construction and the findings report the
judgment's effect as it is, with no conversion to latent units; :mod:`genz.findings`), and
the method ``refine(descriptor, items, residual) -> str`` (the descriptor with its cut of a
number moved to where it explains the residual best; discovery calls it on a feature it has
just kept), and ``locate(descriptor, items, residual, seed) -> float | None`` (the share of
bootstrap resamples of the items that put the descriptor's cut or phrase where it is; the
findings test only features it places: :attr:`genz.Selection.located`).
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..items import Item

__all__ = ["Judgments", "FMStats", "FoundationModel", "accepts_keyword"]


@dataclass
class Judgments:
    """The foundation model's answers for one descriptor over a batch of items.

    ``values[n]`` is the yes/no judgment ``b_nk``; ``prob[n]``, when the backend can tell
    (token log-probabilities), is its P(yes).
    """

    values: np.ndarray  # bool, shape (N,)
    prob: np.ndarray | None = None  # float in [0, 1], shape (N,)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=bool)
        if self.prob is not None:
            self.prob = np.asarray(self.prob, dtype=float)
            if self.prob.shape != self.values.shape:
                raise ValueError("Judgments.prob must have the shape of Judgments.values")

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class FMStats:
    """Counters of foundation-model use. ``calls`` counts requests actually sent to the model
    (cache hits excluded), by call type: ``judge``, ``mine``, ``propose``, ``describe``."""

    calls: dict[str, int] = field(default_factory=dict)
    judgments: int = 0  # item judgments answered by the model (not the cache)
    cache_hits: int = 0  # item judgments or mining/proposal answers served by the cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    #: mining answers rejected by the validator (genz.fm.validate), and each one's
    #: {"text", "rule", "reason", "attempt", "skipped"}; ``diff`` gives a step's new ones
    rejected: int = 0
    rejections: list[dict] = field(default_factory=list)
    #: per call type: {"judge": {"prompt_tokens": .., "completion_tokens": .., "cost_usd": ..}}
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    #: judging batches whose canary answers disagreed (re-judged one item per request)
    flagged: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_call(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.calls[kind] = self.calls.get(kind, 0) + n

    def add_tokens(self, prompt: int, completion: int, cost: float = 0.0, kind: str | None = None) -> None:
        with self._lock:
            self.prompt_tokens += int(prompt)
            self.completion_tokens += int(completion)
            self.cost_usd += float(cost)
            if kind is not None:
                t = self.by_type.setdefault(kind, {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
                t["prompt_tokens"] += int(prompt)
                t["completion_tokens"] += int(completion)
                t["cost_usd"] += float(cost)

    def add_retry(self, n: int = 1) -> None:
        with self._lock:
            self.retries += n

    def add_rejections(self, records: list[dict]) -> None:
        with self._lock:
            self.rejected += len(records)
            self.rejections.extend(records)

    def relabel(self, kind: str, new_kind: str, calls: int, by_type: dict | None = None) -> None:
        """Count ``calls`` calls of ``kind`` (and their ``by_type`` tokens and dollars) as
        ``new_kind`` instead (e.g. a synchronous fallback of a batch executor)."""
        with self._lock:
            self.calls[kind] = self.calls.get(kind, 0) - calls
            if not self.calls[kind]:
                del self.calls[kind]
            self.calls[new_kind] = self.calls.get(new_kind, 0) + calls
            if by_type:
                old = self.by_type.setdefault(kind, {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
                new = self.by_type.setdefault(new_kind, {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
                for m, x in by_type.items():
                    old[m] = old.get(m, 0) - x
                    new[m] = new.get(m, 0) + x

    def add_flagged(self, n: int = 1) -> None:
        with self._lock:
            self.flagged += n

    def add_cache_hits(self, n: int = 1) -> None:
        with self._lock:
            self.cache_hits += n

    def add_judgments(self, n: int) -> None:
        with self._lock:
            self.judgments += n

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def snapshot(self) -> dict:
        with self._lock:
            d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if not f.name.startswith("_")}
        d["total_calls"] = sum(d["calls"].values())
        return d

    def __deepcopy__(self, memo) -> "FMStats":
        return self.copy()

    def copy(self) -> "FMStats":
        new = FMStats()
        with self._lock:
            for f in fields(self):
                if not f.name.startswith("_"):
                    setattr(new, f.name, copy.deepcopy(getattr(self, f.name)))
        return new

    @staticmethod
    def diff(after: dict, before: dict) -> dict:
        """Counters in ``after`` minus those in ``before`` (two :meth:`snapshot` dicts)."""
        out: dict = {}
        for k, v in after.items():
            if k == "calls":
                b = before.get("calls", {})
                out["calls"] = {c: n - b.get(c, 0) for c, n in v.items() if n - b.get(c, 0)}
            elif k == "by_type":
                bt = before.get("by_type", {})
                out["by_type"] = {}
                for c, counters in v.items():
                    prev = bt.get(c, {})
                    delta = {m: x - prev.get(m, 0) for m, x in counters.items()}
                    if any(delta.values()):
                        out["by_type"][c] = delta
            elif isinstance(v, (int, float)):
                out[k] = v - before.get(k, 0)
            elif isinstance(v, list):  # append-only records: the new ones
                out[k] = v[len(before.get(k) or []):]
        return out


def accepts_keyword(fn: Any, name: str) -> bool:
    """Whether callable ``fn`` takes keyword ``name`` (or ``**kwargs``): optional protocol
    extensions such as ``mine(..., weights=...)`` are passed only to backends that take them."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@runtime_checkable
class FoundationModel(Protocol):
    """What GenZ needs from a foundation model. See the module docstring."""

    #: a short name, used in cache keys and reports (no secrets)
    name: str
    #: how many items per group the miner can usefully be shown
    max_exemplars: int
    stats: FMStats

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """b_nk = f(x_n, s_k) for every item (paper Fig. 1)."""
        ...

    def mine(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
    ) -> str:
        """A characteristic true of ``positives`` and not of ``negatives`` (paper Fig. 2).

        ``exclude`` lists descriptors already in use or discarded; the backend should not
        return them again. Raises :class:`~genz.errors.MiningError` when nothing separates.
        """
        ...

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        """About ``n`` yes/no features from a task description (zero-shot baseline)."""
        ...
