"""Candidate mining: for each family of predicates over attributes (thresholds, ranges,
modular ranges, categories, prefixes, sets, list members), the weighted counts of the positive
and negative exemplars where each candidate holds, computed without materialising the
candidates (the text's families are in :mod:`.textfamilies`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from ...items import Item
from ..date_predicates import date_families
from .numfmt import cut_between, cut_upper
from .predicate import AtLeast, Between, Equals, Includes, ModRange, OneOf, StartsWith
from .values import _attribute_kinds, _numeric_values, _string_values


@dataclass
class _Family:
    """Counts for a batch of candidates: TP and FP on the groups, a complexity, and a maker."""

    tp: np.ndarray  # weighted count of positives where the candidate holds
    fp: np.ndarray  # weighted count of negatives where it holds
    complexity: np.ndarray
    make: Any  # index -> Predicate
    support: np.ndarray  # (unweighted) number of exemplars where it holds


def _score(tp, fp, n_pos, n_neg, kind: str) -> np.ndarray:
    tp = tp.astype(float)
    fp = fp.astype(float)
    if kind == "mcc":
        fn, tn = n_pos - tp, n_neg - fp
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return np.where(den > 0, (tp * tn - fp * fn) / np.where(den > 0, den, 1.0), 0.0)
    return 0.5 * (tp / n_pos + 1.0 - fp / n_neg) - 0.5  # balanced accuracy, centred at 0


class _Weighted:
    """Values of one group, sorted, with cumulative weights: weighted counts in intervals."""

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        order = np.argsort(values, kind="stable")
        self.v = values[order]
        self.cw = np.concatenate([[0.0], np.cumsum(weights[order])])

    @property
    def total(self) -> float:
        return float(self.cw[-1])

    def at_least(self, t: np.ndarray) -> np.ndarray:
        return self.total - self.cw[np.searchsorted(self.v, t, side="left")]

    def between(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.cw[np.searchsorted(self.v, hi, side="right")] - self.cw[np.searchsorted(self.v, lo, side="left")]


def attribute_families(fm, items: Sequence[Item], y: np.ndarray):
    """The families over the items' attributes and the text read as a number."""
    attrs = _attribute_kinds(items)
    # numbers in the text itself
    v = _numeric_values(items, None)
    if np.isfinite(v).mean() > 0.5:
        yield from _numeric_families(fm, None, v, y, modular=True)
    for attr, kind in attrs.items():
        if kind == "numeric":
            yield from _numeric_families(fm, attr, _numeric_values(items, attr), y,
                                              modular=fm.modular_on_attributes)
        elif kind == "string":
            dates = date_families(attr, _string_values(items, attr), y, fm._w, fm.n_thresholds)
            if dates is not None:  # dates read as dates (issue 21)
                yield from (_Family(*f) for f in dates)
                continue
            yield from _categorical_families(fm, attr, _string_values(items, attr), y)
        elif kind == "list":
            yield _list_family(fm, attr, items, y)


def _numeric_families(fm, attr, v: np.ndarray, y: np.ndarray, modular: bool):
    w = fm._w
    ok = np.isfinite(v)
    vals = v[ok]
    uniq = np.unique(vals)
    if uniq.size < 2:
        return
    pos = _Weighted(v[ok & y], w[ok & y])
    neg = _Weighted(v[ok & ~y], w[ok & ~y])
    cnt = _Weighted(vals, np.ones(vals.size))
    # thresholds at every distinct value (cheap: binary search on the sorted groups)
    cuts = uniq[1:]
    if uniq.size <= fm.n_thresholds + 1:
        rcuts = cuts
    else:
        qs = np.quantile(vals, np.linspace(0, 1, fm.n_thresholds + 2)[1:-1], method="lower")
        rcuts = np.unique(qs[qs > uniq[0]])
    # (counted at the data values; the descriptor's threshold is the number with the fewest
    # digits between the two neighbouring values, which splits the data identically)
    yield _Family(pos.at_least(cuts), neg.at_least(cuts), np.full(cuts.size, 1.0),
                  lambda i, u=uniq: AtLeast(attr, cut_between(u[i], u[i + 1])), cnt.at_least(cuts))
    # ranges [lo, hi] between cut points (inclusive); lo/hi are data values
    pts = np.concatenate([uniq[:1], rcuts])
    los, his = np.triu_indices(pts.size, k=1)
    hi_vals = uniq[np.searchsorted(uniq, pts) - 1]
    lo_v, hi_v = pts[los], hi_vals[his]
    keep = (lo_v > uniq[0]) & (hi_v < uniq[-1]) & (hi_v >= lo_v)  # one-sided ranges are thresholds
    # a range that leaves out less than MIN_TAIL of the values on one side is that side's
    # threshold with a sliver cut off: the sliver is noise, the threshold is the statement
    n_vals = max(vals.size, 1)
    tail = np.minimum(vals.size - cnt.at_least(lo_v), cnt.at_least(np.nextafter(hi_v, np.inf))) / n_vals
    keep &= tail >= MIN_TAIL
    lo_v, hi_v = lo_v[keep], hi_v[keep]
    li, hj = np.searchsorted(uniq, lo_v), np.searchsorted(uniq, hi_v)
    yield _Family(pos.between(lo_v, hi_v), neg.between(lo_v, hi_v), np.full(lo_v.size, 2.0),
                  lambda i, u=uniq, a=li, b=hj: Between(attr, cut_between(u[a[i] - 1], u[a[i]]),
                                                        cut_upper(u[b[i]], u[b[i] + 1])),
                  cnt.between(lo_v, hi_v))
    # modular ranges over integers
    if modular and np.all(np.mod(vals, 1) == 0) and uniq.size >= 8:
        iv = np.nan_to_num(v).astype(np.int64)
        vmax = int(np.max(np.abs(vals)))
        top = max(1, int(math.ceil(math.log2(vmax + 1))))
        for j in range(1, top + 1):
            m = 2**j
            if m >= uniq.size * 2:
                break
            res = np.mod(iv, m)
            cp = np.bincount(res[ok & y], weights=w[ok & y], minlength=m)
            cn = np.bincount(res[ok & ~y], weights=w[ok & ~y], minlength=m)
            cc = np.bincount(res[ok], minlength=m)
            step = max(1, m // 8)
            ends = np.arange(0, m + 1, step)
            a_idx, b_idx = np.triu_indices(ends.size, k=1)
            lo, hi = ends[a_idx], ends[b_idx] - 1
            keep = ~((lo == 0) & (hi == m - 1))
            lo, hi = lo[keep], hi[keep]
            ccp, ccn, ccc = (np.concatenate([[0], np.cumsum(c)]) for c in (cp, cn, cc))
            yield _Family(ccp[hi + 1] - ccp[lo], ccn[hi + 1] - ccn[lo], np.full(lo.size, 2.0),
                          lambda i, m=m, lo=lo, hi=hi: ModRange(attr, m, int(lo[i]), int(hi[i])),
                          ccc[hi + 1] - ccc[lo])


def _categorical_families(fm, attr: str, vals: list[str | None], y: np.ndarray):
    w = fm._w
    cats = sorted({v for v in vals if v is not None})
    n_present = sum(v is not None for v in vals)
    if len(cats) < 2 or len(cats) > fm.max_category_share * n_present:
        return  # constant, or an identifier-like attribute (a title, a name): nothing to generalise
    index = {c: i for i, c in enumerate(cats)}
    codes = np.array([index[v] if v is not None else -1 for v in vals])
    ok = codes >= 0
    cp = np.bincount(codes[ok & y], weights=w[ok & y], minlength=len(cats))
    cn = np.bincount(codes[ok & ~y], weights=w[ok & ~y], minlength=len(cats))
    cc = np.bincount(codes[ok], minlength=len(cats))
    carr = np.array(cats, dtype=object)
    yield _Family(cp, cn, np.ones(len(cats)), lambda i, c=carr: Equals(attr, str(c[i])), cc)
    # prefixes of code-like strings
    if all(c.isalnum() for c in cats) and max(len(c) for c in cats) >= 2:
        prefixes: dict[str, int] = {}
        for c in cats:
            for L in range(1, len(c)):
                prefixes.setdefault(c[:L], len(prefixes))
        pre = sorted(prefixes)
        P = np.zeros((len(cats), len(pre)), dtype=bool)
        pidx = {p: i for i, p in enumerate(pre)}
        for ci, c in enumerate(cats):
            for L in range(1, len(c)):
                P[ci, pidx[c[:L]]] = True
        parr = np.array(pre, dtype=object)
        yield _Family(cp @ P, cn @ P, np.ones(len(pre)), lambda i, p=parr: StartsWith(attr, str(p[i])), cc @ P)
    yield from _set_families(fm, cp, cn, lambda sel, c=carr: OneOf(attr, tuple(sorted(str(c[i]) for i in sel))), None, cc)


#: the share of the values a range must leave out on each side (else it is a threshold)
MIN_TAIL = 0.05
#: a category joins a set only if its share differs between the groups at this level, Bonferroni-corrected
#: over the categories and both directions (with 14 categories: 2.9 standard errors; with 78: 3.4)
SET_ALPHA = 0.05


def _set_families(fm, cp: np.ndarray, cn: np.ndarray, make, M: np.ndarray | None = None,
                  cc: np.ndarray | None = None):
    """The best sets of categories, for each group: the categories whose share among that
    group's exemplars exceeds the other's beyond chance (one-sided z-test at :data:`SET_ALPHA`,
    Bonferroni over the categories and both directions: a category that differs by chance
    would only add noise to a set), best first, as sets of 2 to
    ``max_set_size``. ``cp``/``cn``: weighted counts per category; ``M``: the item-by-category
    0/1 matrix when an item may have several categories (then counts are of the union), else
    ``cc`` the counts."""
    w, y = fm._w, fm._y
    n_pos, n_neg = max(float(w[y].sum()), 1e-300), max(float(w[~y].sum()), 1e-300)
    # effective group sizes under the weights (Kish), for the standard error of the shares
    e_pos = n_pos**2 / max(float((w[y] ** 2).sum()), 1e-300)
    e_neg = n_neg**2 / max(float((w[~y] ** 2).sum()), 1e-300)
    a, b = np.clip(cp / n_pos, 0.0, 1.0), np.clip(cn / n_neg, 0.0, 1.0)  # a sum in another order can pass 1
    gain = a - b
    se = np.sqrt(a * (1 - a) / max(e_pos, 1.0) + b * (1 - b) / max(e_neg, 1.0))
    z = float(norm.isf(SET_ALPHA / (2 * max(len(cp), 1))))
    for sign in (1.0, -1.0):
        order = [int(i) for i in np.argsort(-sign * gain, kind="stable") if sign * gain[i] > z * se[i]]
        if M is not None:  # a category whose items the better ones already cover adds nothing
            chosen, covered = [], np.zeros(M.shape[0], dtype=bool)
            for i in order:
                if len(chosen) == fm.max_set_size:
                    break
                col = M[:, i] > 0
                if (col & ~covered).any():
                    chosen.append(i)
                    covered |= col
        else:
            chosen = order[: fm.max_set_size]
        if len(chosen) < 2:
            continue
        sizes = np.arange(2, len(chosen) + 1)
        if M is None:
            tp = np.array([cp[chosen[:k]].sum() for k in sizes])
            fp = np.array([cn[chosen[:k]].sum() for k in sizes])
            sup = np.array([cc[chosen[:k]].sum() for k in sizes])
        else:
            cover = np.cumsum(M[:, chosen], axis=1)[:, 1:] > 0  # items × sizes
            tp, fp, sup = cover[y].T @ w[y], cover[~y].T @ w[~y], cover.sum(axis=0)
        yield _Family(tp, fp, 1.0 + 0.5 * sizes, lambda i, ch=chosen: make(ch[: i + 2]), sup)


def _list_family(fm, attr: str, items: Sequence[Item], y: np.ndarray) -> _Family:
    w = fm._w
    counts_p: Counter = Counter()
    counts_n: Counter = Counter()
    counts: Counter = Counter()
    for it, lab, wt in zip(items, y, w):
        v = it.attributes.get(attr)
        if isinstance(v, list):
            for x in set(str(e) for e in v):
                (counts_p if lab else counts_n)[x] += wt
                counts[x] += 1
    vals = sorted(counts)
    varr = np.array(vals, dtype=object)
    return _Family(np.array([counts_p[v] for v in vals], float), np.array([counts_n[v] for v in vals], float),
                   np.ones(len(vals)), lambda i, v=varr: Includes(attr, str(v[i])),
                   np.array([counts[v] for v in vals]))
