"""Discovery on a sample, judging in bulk (issue 12): the parts behind
``GenZRegressor(discovery_sample=N)`` and ``genz fit --discovery-sample N``.

1. :func:`stratified_sample` draws ``N`` training items stratified by target quantiles (each of
   ``bins`` quantile bins of the first target column gives its share), so the tails of ``y``
   are in the sample;
2. the estimator runs discovery (mining, candidate choice, EM, the cross-validated selection and
   the findings) on the
   sample only, its foundation model wrapped in :class:`_Counting` (which candidates it judged);
3. :func:`judge_in_bulk` judges the final features on all items (through the FM's ``prefetch``
   when it has one, so an executor does it in one bulk pass:
   :class:`genz.fm.executors.ExecutorFM`) and refits the predictor on everything: θ on the FM
   priors of all items (docs/equations.md §5, what new items will have), with the same ridge
   selection as the estimator (leave-one-out for ``"cv"``).

The estimator's ``discovery_sample_`` has the sample's ids, the candidate descriptors judged
during discovery, and the judgments the sample saved compared with judging every candidate on
every item.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import GenZInputError
from .items import Item

__all__ = ["stratified_sample", "judge_in_bulk", "sample_savings"]


def stratified_sample(y: Any, n: int, seed: int = 0, bins: int = 10) -> np.ndarray:
    """Sorted indices of ``n`` items, stratified by ``bins`` quantile bins of ``y``'s first
    column (each bin contributes in proportion to its size; remainders by largest fraction)."""
    Y = np.asarray(y, dtype=float)
    Y = Y.reshape(len(Y), -1)[:, 0]
    N = len(Y)
    if not 1 <= n <= N:
        raise GenZInputError(f"discovery_sample must be between 1 and the {N} training items, not {n}")
    if n == N:
        return np.arange(N)
    rng = np.random.default_rng(seed)
    order = np.argsort(Y + 1e-12 * rng.random(N), kind="stable")  # ties broken at random
    groups = np.array_split(order, min(bins, n))
    share = np.array([len(g) for g in groups], dtype=float) * n / N
    take = np.floor(share).astype(int)
    for j in np.argsort(-(share - take))[: n - take.sum()]:
        take[j] += 1
    idx = np.concatenate([rng.choice(g, size=t, replace=False) for g, t in zip(groups, take) if t])
    return np.sort(idx)


class _Counting:
    """Delegates to an FM (``fm``), recording each descriptor judged and on how many items at
    most (``judged``; a checkpoint keeps it, so a resumed run counts the whole run)."""

    def __init__(self, fm: Any) -> None:
        self.fm = fm
        self.judged: dict[str, int] = {}

    def __getattr__(self, attr: str) -> Any:
        if attr == "fm":  # not set yet (unpickling)
            raise AttributeError(attr)
        return getattr(self.fm, attr)

    def judge(self, descriptor: str, items: Sequence[Item]):
        self.judged[descriptor] = max(self.judged.get(descriptor, 0), len(items))
        return self.fm.judge(descriptor, items)


def sample_savings(items: Sequence[Item], idx: Sequence[int], candidates: int, kept: int) -> dict:
    """What discovery on the sample ``idx`` of ``items`` saved (``discovery_sample_``): every
    one of the ``candidates`` judged there, less the ``kept`` features, is not judged on the
    items outside the sample."""
    N, n = len(items), len(idx)
    return {"sample_ids": [items[i].id for i in idx], "sample": n, "items": N, "candidates_judged": candidates,
            "kept": kept, "judgments_saved": (candidates - kept) * (N - n)}


def judge_in_bulk(est: Any, items: Sequence[Item], y: Any, U: Any = None, *, record: bool = True) -> Any:
    """Steps 3-4 of the module docstring for a fitted ``est``: judge its features on all
    ``items`` (one bulk pass through the FM's ``prefetch`` when it has one) and refit the
    predictor on all of them (its effects follow). ``record``: also keep the judgments of all
    items as ``judgments_`` / ``train_ids_`` (a run directory keeps the discovery sample's,
    beside its posteriors). Returns ``est``."""
    from .discovery import new_item_q
    from .observation.base import coefficients
    from .observation.linear import LinearGaussian

    items = list(items)
    Y2 = np.asarray(y, dtype=float).reshape(len(items), -1)
    U_arr = None if U is None else np.asarray(U, dtype=float)
    prefetch = getattr(est.fm_, "prefetch", None)
    if callable(prefetch) and est.features_:
        prefetch(list(est.features_), items)  # one bulk pass through the executor
    B = est.transform(items).astype(float)
    if est.predictor != "em":  # θ refitted where new items are (the priors, or the judgments)
        Qp = new_item_q(B, est.epsilon_, est.predictor)
        pred = copy.deepcopy(est.predictor_)
        if isinstance(pred, LinearGaussian):
            pred.ridge = pred.select_ridge(Qp, U_arr, Y2)
        pred.fit_final(Qp, U_arr, Y2)
        est.predictor_ = pred
        est.coef_, est.intercept_, est.side_coef_ = coefficients(pred, len(est.features_))
    if record:
        est.judgments_ = B
        est.train_ids_ = [it.id for it in items]
    return est
