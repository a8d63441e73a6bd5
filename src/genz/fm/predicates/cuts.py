"""Where a mined number's cut falls: the least-squares cut for the current residual.

Mining chooses a threshold or a range by how well it separates the over- from the
under-predicted *exemplars*; with noisy groups and a coarse grid of range ends (a range's ends
come from :attr:`PredicateFM.n_thresholds` quantiles) the cut lands near the true one, not on
it ("'price' is between 20 and 45" for a band that ends at 40). The items the cut misplaces
leave a residual that later steps explain with more cuts of the same number, each of them a
real effect *given* the misplaced cut: extra features for the predictor and false findings for
the list.

:func:`refine_cut` moves the cut(s) of ``AtLeast`` / ``Below`` / ``Between`` to where an
indicator of the same kind explains the residual ``R`` (N×D, one row per item) best: the
between-group sum of squares ``Σ_d S_d² · N / (n₁ (N − n₁))`` with ``S_d`` the sum of the
centred residual over the ``n₁`` items inside (the drop in squared error from adding the
indicator to a model with an intercept), over every distinct value as a cut (ranges: every
pair of cuts, on a grid of at most :data:`MAX_RANGE_CUTS` when there are more) that moves at most
:data:`MAX_MOVED` of the items across (a local search: the true cut nearby, not wherever the
residual's noise fits best). Both sides need
``max(min_support, MIN_SHARE · N)`` items; a range keeps :data:`MIN_TAIL` of the values outside
it on each side (else it is a threshold). Items without the number are outside, as the
predicate evaluates them. One pass of cumulative sums: O(N log N) for a threshold, O(V²) for a
range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...items import Item
from .families import MIN_TAIL
from .numfmt import cut_between, cut_upper
from .predicate import And, AtLeast, Below, Between, Predicate, numbers_of

__all__ = ["refine_cut", "cut_located", "min_side", "MIN_SHARE", "MAX_RANGE_CUTS", "MAX_MOVED", "LOCATE_BOOT", "LOCATE_AGREEMENT",
           "LOCATE_MOVED"]

#: smallest share of the items on each side of a refined cut
MIN_SHARE = 0.02
#: most distinct cut points a range's two ends are searched over
MAX_RANGE_CUTS = 400
#: largest share of the items a refined cut may move across (the search is local: a cut is
#: moved to the true one nearby, not to wherever the residual's noise fits best)
MAX_MOVED = 0.10
#: bootstrap resamples :func:`cut_located` draws
LOCATE_BOOT = 100
#: a resample's cut is "the same cut" when it agrees with the cut on at least this share of items
LOCATE_AGREEMENT = 0.95
#: how far a resample's cut may move (wider than :data:`MAX_MOVED`: the question is where the
#: rows put the cut, not whether a nearby one is better)
LOCATE_MOVED = 0.30


def min_side(N: int, min_support: int) -> int:
    """Fewest items on each side of an indicator over ``N`` items: ``min_support``, and
    :data:`MIN_SHARE` of them."""
    return max(int(min_support), int(math.ceil(MIN_SHARE * N)))


def _gain(S: np.ndarray, n1: np.ndarray, N: int, m: int) -> np.ndarray:
    """Between-group sum of squares of indicators with ``n1`` items inside and centred sums
    ``S`` (…×D); ``-inf`` where a side has fewer than ``m`` items."""
    ok = (n1 >= m) & (N - n1 >= m)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (S**2).sum(axis=-1) * N / (n1 * (N - n1))
    return np.where(ok, g, -np.inf)


def refine_cut(pred: Predicate, items: Sequence[Item], R: np.ndarray, min_support: int = 2,
               max_moved: float = MAX_MOVED) -> Predicate | None:
    """``pred`` with its cut(s) at the least-squares position for the residual ``R`` (module
    doc) among the cuts that move at most ``max_moved`` of the items across, or None when
    ``pred`` is not a cut of a number or no cut qualifies."""
    if not isinstance(pred, (AtLeast, Below, Between)):
        return None
    return _best_cut(pred, numbers_of(items, pred.attr), R, min_support, max_moved)


def _best_cut(pred: AtLeast | Below | Between, v: np.ndarray, R: np.ndarray, min_support: int,
              max_moved: float) -> Predicate | None:
    """:func:`refine_cut` on the values ``v`` of the number (NaN: the item has none)."""
    N = len(v)
    R = np.asarray(R, dtype=float).reshape(N, -1)
    ok = np.isfinite(v)
    uniq, inv = np.unique(v[ok], return_inverse=True)
    V = uniq.size
    if V < 3:
        return None
    Rc = R - R.mean(axis=0)
    G = np.zeros((V, R.shape[1]))
    np.add.at(G, inv, Rc[ok])
    CS = np.vstack([np.zeros((1, R.shape[1])), np.cumsum(G, axis=0)])  # CS[i]: sum over values < uniq[i]
    CC = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=V))])
    m = min_side(N, min_support)
    moved_max = max_moved * N
    if isinstance(pred, (AtLeast, Below)):
        i = np.arange(1, V)  # the cut between uniq[i-1] and uniq[i]
        i0 = int(np.searchsorted(uniq, pred.t, side="left"))  # the mined cut: values >= t are uniq[i0:]
        if isinstance(pred, AtLeast):
            g = _gain(CS[V] - CS[i], (CC[V] - CC[i]).astype(float), N, m)
        else:
            g = _gain(CS[i], CC[i].astype(float), N, m)
        g = np.where(np.abs(CC[i] - CC[i0]) <= moved_max, g, -np.inf)
        if not np.isfinite(g).any():
            return None
        k = int(i[np.argmax(g)])
        t = cut_between(uniq[k - 1], uniq[k])
        return AtLeast(pred.attr, t) if isinstance(pred, AtLeast) else Below(pred.attr, t)
    # a range [uniq[a], uniq[b]] with 1 <= a <= b <= V-2
    pos = np.arange(1, V - 1)
    if pos.size > MAX_RANGE_CUTS:
        pos = np.unique(np.round(np.linspace(1, V - 2, MAX_RANGE_CUTS)).astype(int))
    a, b = np.meshgrid(pos, pos, indexing="ij")
    keep = b >= a
    a, b = a[keep], b[keep]
    n_ok = float(CC[V])
    tails = np.minimum(CC[a], CC[V] - CC[b + 1]) / max(n_ok, 1.0)
    a0 = int(np.searchsorted(uniq, pred.lo, side="left"))  # the mined range: uniq[a0..b0]
    b0 = int(np.searchsorted(uniq, pred.hi, side="right")) - 1
    moved = np.abs(CC[a] - CC[a0]) + np.abs(CC[b + 1] - CC[max(b0, -1) + 1])  # ≥ the items moved across
    g = _gain(CS[b + 1] - CS[a], (CC[b + 1] - CC[a]).astype(float), N, m)
    g = np.where((tails >= MIN_TAIL) & (moved <= moved_max), g, -np.inf)
    if not np.isfinite(g).any():
        return None
    j = int(np.argmax(g))
    return Between(pred.attr, cut_between(uniq[a[j] - 1], uniq[a[j]]), cut_upper(uniq[b[j]], uniq[b[j] + 1]))


def cut_located(pred: Predicate, items: Sequence[Item], R: np.ndarray, seed: int = 0, min_support: int = 2,
                n_boot: int = LOCATE_BOOT, agreement: float = LOCATE_AGREEMENT,
                max_moved: float = LOCATE_MOVED) -> float | None:
    """How well the rows place ``pred``'s cut of a number: the share of ``n_boot`` bootstrap
    resamples of the items whose least-squares cut for the residual ``R`` (:func:`refine_cut`'s
    search, moving at most ``max_moved`` of the items) agrees with ``pred`` on at least
    ``agreement`` of the items. Near 1: the rows put the cut here; low: a cut some way off
    explains the residual as well, so where the cut falls is noise (docs/feature-table.md). A
    conjunction's cut is placed among the items its other part holds for (its least located
    cut counts). None when ``pred`` has no cut of a number."""
    if isinstance(pred, (AtLeast, Below, Between)):
        return _located(pred, items, R, None, seed, min_support, n_boot, agreement, max_moved)
    if isinstance(pred, And):
        shares = [_located(cut, items, R, other.evaluate(items), seed, min_support, n_boot, agreement, max_moved)
                  for cut, other in ((pred.left, pred.right), (pred.right, pred.left))
                  if isinstance(cut, (AtLeast, Below, Between))]
        return min(shares) if shares else None
    return None


def _located(pred: AtLeast | Below | Between, items: Sequence[Item], R: np.ndarray, within: np.ndarray | None,
             seed: int, min_support: int, n_boot: int, agreement: float, max_moved: float) -> float:
    """:func:`cut_located` of one cut; ``within``: the items the rest of a conjunction holds for
    (the others are outside whatever the cut)."""
    v = numbers_of(items, pred.attr)
    if within is not None:
        v = np.where(within, v, np.nan)  # outside, as a missing number is
    N = len(v)
    R = np.asarray(R, dtype=float).reshape(N, -1)
    ins = np.ones(N, bool) if within is None else np.asarray(within, bool)
    b = pred.evaluate(items) & ins
    rng = np.random.default_rng(seed)
    same, seen = 0, {}
    for _ in range(int(n_boot)):
        idx = rng.integers(0, N, N)
        new = _best_cut(pred, v[idx], R[idx], min_support, max_moved)
        if new is None:
            continue
        key = new.render()
        if key not in seen:
            seen[key] = float(np.mean((new.evaluate(items) & ins) == b)) >= agreement
        same += seen[key]
    return same / max(int(n_boot), 1)
