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
from .predicate import AtLeast, Below, Between, Predicate, numbers_of

__all__ = ["refine_cut", "MIN_SHARE", "MAX_RANGE_CUTS", "MAX_MOVED"]

#: smallest share of the items on each side of a refined cut
MIN_SHARE = 0.02
#: most distinct cut points a range's two ends are searched over
MAX_RANGE_CUTS = 400
#: largest share of the items a refined cut may move across (the search is local: a cut is
#: moved to the true one nearby, not to wherever the residual's noise fits best)
MAX_MOVED = 0.10


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
    N = len(items)
    R = np.asarray(R, dtype=float).reshape(N, -1)
    v = numbers_of(items, pred.attr)
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
    m = max(int(min_support), int(math.ceil(MIN_SHARE * N)))
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
