"""Date predicates of the offline engine: a date attribute read as a date, not a category.

A string attribute whose values are dates or dates and times (``2021-06-15``,
``2021-06-15 08:30``: how :mod:`genz.tables` writes them, see :mod:`genz.dates`) is offered to
mining as

=====================  ==========================================================
family                 rendering (examples)
=====================  ==========================================================
threshold              ``'date' is on or after 2020-03-15`` / ``'date' is before 2020-03-15``
years                  ``'date' is in 2019`` / ``'date' is in 2015-2018``
months (seasons)       ``'date' is in June`` / ``'date' is in June-August`` / ``'date' is in December-February``
days of the week       ``'date' is on a Monday`` / ``'date' is on Saturday-Sunday``
time of day            ``'posted' is at 18:00-23:59`` (only when the column has times)
=====================  ==========================================================

Month, weekday and hour ranges wrap around (``November-February``, ``22:00-05:59``), so the
complement of a range is a range too and no double negative is needed. Complexity: a
threshold, a single year, month or day 1; a range 2, or 2.25 when it covers more than half of
its cycle (so that ``June-August`` is preferred to its complement ``September-May``). A missing
date satisfies none of them.

:func:`date_families` gives the engine the weighted counts of every candidate (the engine's
``_Family`` fields) and :func:`parse_date_predicate` reads a rendering back; this module does
not import the engine (the engine calls it).
"""

from __future__ import annotations

import json
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from ..dates import MONTHS, WEEKDAYS, date_parts

__all__ = ["date_families", "parse_date_predicate", "DateFrom", "DateBefore", "DateYears", "DateMonths",
           "DateWeekdays", "DateHours"]

_EPOCH = date(1970, 1, 1)
_PLAIN_ATTR = re.compile(r"^[^'\\\x00-\x1f\x7f\u0085\u2028\u2029\"]*$")

# ------------------------------------------------------------------------------------------------
# values, once per list of items
# ------------------------------------------------------------------------------------------------
_LOCK = threading.Lock()
_CACHE: OrderedDict = OrderedDict()
_CACHE_MAX = 16


def _attr_strings(items: Sequence[Any], attr: str) -> list[str | None]:
    out: list[str | None] = []
    for it in items:
        v = it.attributes.get(attr)
        out.append(v if isinstance(v, str) else None)
    return out


def _parts(items: Sequence[Any], attr: str) -> dict[str, np.ndarray] | None:
    """:func:`genz.dates.date_parts` of ``attr`` for these item objects (kept for the same
    objects in the same order: judging evaluates many predicates on one list)."""
    items = list(items)
    ids = tuple(map(id, items))
    key = (attr, len(ids), hash(ids))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and len(hit[0]) == len(items) and all(map(operator.is_, hit[0], items)):
            _CACHE.move_to_end(key)
            return hit[1]
    val = date_parts(_attr_strings(items, attr))
    with _LOCK:
        _CACHE[key] = (items, val)
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return val


def _field(items: Sequence[Any], attr: str, name: str) -> np.ndarray:
    parts = _parts(items, attr)
    if parts is None:
        return np.full(len(items), np.nan)
    return parts[name]


def _attr(attr: str) -> str:
    """As the engine writes an attribute name: ``'name'``, or ``attribute "json"``."""
    return f"'{attr}'" if _PLAIN_ATTR.match(attr) else "attribute " + json.dumps(attr, ensure_ascii=False)


def _day_number(iso: str) -> int:
    return (date.fromisoformat(iso) - _EPOCH).days


def _iso(day: float) -> str:
    return (_EPOCH + timedelta(days=int(np.floor(day)))).isoformat()


def _cycle_complexity(lo: int, hi: int, period: int) -> float:
    length = (hi - lo) % period + 1
    return 1.0 if length == 1 else (2.0 if 2 * length <= period else 2.25)


def _in_cycle(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``lo <= v <= hi`` on a cycle (``lo > hi`` wraps around); False where v is NaN."""
    with np.errstate(invalid="ignore"):
        if lo <= hi:
            return (v >= lo) & (v <= hi)
        return (v >= lo) | (v <= hi)


# ------------------------------------------------------------------------------------------------
# predicates (the engine's Predicate protocol: render, evaluate, complexity)
# ------------------------------------------------------------------------------------------------
class _DatePredicate:
    attr: str
    complexity: float = 1.0

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class DateFrom(_DatePredicate):
    attr: str
    day: str  # YYYY-MM-DD
    complexity = 1.0

    def render(self) -> str:
        return f"{_attr(self.attr)} is on or after {self.day}"

    def evaluate(self, items):
        return np.nan_to_num(_field(items, self.attr, "day"), nan=-np.inf) >= _day_number(self.day)


@dataclass(frozen=True)
class DateBefore(_DatePredicate):
    attr: str
    day: str
    complexity = 1.0

    def render(self) -> str:
        return f"{_attr(self.attr)} is before {self.day}"

    def evaluate(self, items):
        return np.nan_to_num(_field(items, self.attr, "day"), nan=np.inf) < _day_number(self.day)


@dataclass(frozen=True)
class DateYears(_DatePredicate):
    attr: str
    lo: int
    hi: int

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return 1.0 if self.lo == self.hi else 2.0

    def render(self) -> str:
        return f"{_attr(self.attr)} is in {self.lo}" + ("" if self.lo == self.hi else f"-{self.hi}")

    def evaluate(self, items):
        v = _field(items, self.attr, "year")
        with np.errstate(invalid="ignore"):
            return (v >= self.lo) & (v <= self.hi)


@dataclass(frozen=True)
class DateMonths(_DatePredicate):
    attr: str
    lo: int  # 1-12
    hi: int

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return _cycle_complexity(self.lo, self.hi, 12)

    def render(self) -> str:
        a, b = MONTHS[self.lo - 1], MONTHS[self.hi - 1]
        return f"{_attr(self.attr)} is in {a}" + ("" if self.lo == self.hi else f"-{b}")

    def evaluate(self, items):
        return _in_cycle(_field(items, self.attr, "month"), self.lo, self.hi)


@dataclass(frozen=True)
class DateWeekdays(_DatePredicate):
    attr: str
    lo: int  # 0 = Monday
    hi: int

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return _cycle_complexity(self.lo, self.hi, 7)

    def render(self) -> str:
        if self.lo == self.hi:
            return f"{_attr(self.attr)} is on a {WEEKDAYS[self.lo]}"
        return f"{_attr(self.attr)} is on {WEEKDAYS[self.lo]}-{WEEKDAYS[self.hi]}"

    def evaluate(self, items):
        return _in_cycle(_field(items, self.attr, "weekday"), self.lo, self.hi)


@dataclass(frozen=True)
class DateHours(_DatePredicate):
    attr: str
    lo: int  # 0-23: from lo:00 to hi:59
    hi: int

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return max(2.0, _cycle_complexity(self.lo, self.hi, 24))

    def render(self) -> str:
        return f"{_attr(self.attr)} is at {self.lo:02d}:00-{self.hi:02d}:59"

    def evaluate(self, items):
        v = _field(items, self.attr, "minute")
        return _in_cycle(np.floor(v / 60.0), self.lo, self.hi)


# ------------------------------------------------------------------------------------------------
# parsing
# ------------------------------------------------------------------------------------------------
_SUBJ = r"""(?:'(?P<attr>[^'\\]*)'|attribute (?P<jattr>"(?:[^"\\]|\\.)*"))"""
_MONTH = "|".join(MONTHS)
_DAY = "|".join(WEEKDAYS)
_DATE_PATTERNS: list[tuple[re.Pattern, Any]] = [
    (re.compile(rf"^{_SUBJ} is on or after (?P<d>\d{{4}}-\d{{2}}-\d{{2}})$"), lambda m, a: DateFrom(a, m["d"])),
    (re.compile(rf"^{_SUBJ} is before (?P<d>\d{{4}}-\d{{2}}-\d{{2}})$"), lambda m, a: DateBefore(a, m["d"])),
    (re.compile(rf"^{_SUBJ} is in (?P<x>\d{{4}})(?:-(?P<y>\d{{4}}))?$"),
     lambda m, a: DateYears(a, int(m["x"]), int(m["y"] or m["x"]))),
    (re.compile(rf"^{_SUBJ} is in (?P<x>{_MONTH})(?:-(?P<y>{_MONTH}))?$"),
     lambda m, a: DateMonths(a, MONTHS.index(m["x"]) + 1, MONTHS.index(m["y"] or m["x"]) + 1)),
    (re.compile(rf"^{_SUBJ} is on a (?P<x>{_DAY})$"),
     lambda m, a: DateWeekdays(a, WEEKDAYS.index(m["x"]), WEEKDAYS.index(m["x"]))),
    (re.compile(rf"^{_SUBJ} is on (?P<x>{_DAY})-(?P<y>{_DAY})$"),
     lambda m, a: DateWeekdays(a, WEEKDAYS.index(m["x"]), WEEKDAYS.index(m["y"]))),
    (re.compile(rf"^{_SUBJ} is at (?P<x>\d{{2}}):00-(?P<y>\d{{2}}):59$"),
     lambda m, a: DateHours(a, int(m["x"]), int(m["y"]))),
]


def parse_date_predicate(text: str) -> _DatePredicate | None:
    """The date predicate ``text`` renders (see the module docstring), or None."""
    s = text.strip()
    for pat, make in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            try:
                attr = json.loads(m["jattr"]) if m["jattr"] is not None else m["attr"]
                pred = make(m, attr)
                if isinstance(pred, (DateFrom, DateBefore)):
                    _day_number(pred.day)  # a real calendar day
                if isinstance(pred, DateHours) and not (0 <= pred.lo <= 23 and 0 <= pred.hi <= 23):
                    return None
                return pred
            except ValueError:
                return None
    return None


# ------------------------------------------------------------------------------------------------
# mining: weighted counts of every candidate
# ------------------------------------------------------------------------------------------------
def _cyclic(values: np.ndarray, ok: np.ndarray, y: np.ndarray, w: np.ndarray, period: int, make: Any,
            max_len: int | None = None) -> tuple | None:
    """Every range ``[lo, hi]`` on a cycle of ``period`` (wrapping, shorter than the cycle)."""
    v = values[ok].astype(np.int64)
    if np.unique(v).size < 2:
        return None
    cp = np.bincount(v[y[ok]], weights=w[ok][y[ok]], minlength=period)
    cn = np.bincount(v[~y[ok]], weights=w[ok][~y[ok]], minlength=period)
    cc = np.bincount(v, minlength=period).astype(float)
    lo = np.repeat(np.arange(period), period - 1)
    length = np.tile(np.arange(1, period), period)
    if max_len is not None:
        keep = length <= max_len
        lo, length = lo[keep], length[keep]
    hi = (lo + length - 1) % period
    c2 = [np.concatenate([[0.0], np.cumsum(np.concatenate([c, c]))]) for c in (cp, cn, cc)]
    tp, fp, sup = ((c[lo + length] - c[lo]) for c in c2)
    comp = np.where(length == 1, 1.0, np.where(2 * length <= period, 2.0, 2.25))
    if period == 24:
        comp = np.maximum(comp, 2.0)
    return tp, fp, comp, (lambda i, lo=lo, hi=hi: make(int(lo[i]), int(hi[i]))), sup


def _weighted_at_least(v: np.ndarray, wt: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    sv, sw = v[order], np.concatenate([[0.0], np.cumsum(wt[order])])
    return sw[-1] - sw[np.searchsorted(sv, cuts, side="left")]


def date_families(attr: str, values: Sequence[str | None], y: np.ndarray, w: np.ndarray,
                  n_thresholds: int = 32) -> list[tuple] | None:
    """Candidate families for a date attribute, as ``(tp, fp, complexity, make, support)``
    (weighted counts among positives ``y`` and negatives, with exemplar weights ``w``; the
    unweighted number of exemplars it holds for); None when ``values`` are not dates."""
    parts = date_parts(list(values))
    if parts is None:
        return None
    ok = ~np.isnan(parts["day"])
    y = np.asarray(y, dtype=bool)
    w = np.asarray(w, dtype=float)
    out: list[tuple] = []
    # thresholds on the date, at whole days
    days = np.floor(parts["day"][ok])
    uniq = np.unique(days)
    if uniq.size >= 2:
        if uniq.size <= 16 * n_thresholds:
            cuts = uniq[1:]  # every day seen (cheap: binary search on the sorted days)
        else:  # quantiles, and the first day of every month
            qs = np.quantile(days, np.linspace(0, 1, 2 * n_thresholds + 2)[1:-1], method="lower")
            first = np.arange(np.datetime64(_iso(uniq[0]), "M") + 1, np.datetime64(_iso(uniq[-1]), "M") + 1)
            starts = first.astype("datetime64[D]").astype(np.int64).astype(float)[:2400]
            cuts = np.unique(np.concatenate([qs, starts]))
            cuts = cuts[(cuts > uniq[0]) & (cuts <= uniq[-1])]
        yo, wo = y[ok], w[ok]
        tp = _weighted_at_least(days[yo], wo[yo], cuts)
        fp = _weighted_at_least(days[~yo], wo[~yo], cuts)
        sup = _weighted_at_least(days, np.ones(days.size), cuts)
        out.append((tp, fp, np.ones(cuts.size), lambda i, c=cuts: DateFrom(attr, _iso(c[i])), sup))
        out.append((wo[yo].sum() - tp, wo[~yo].sum() - fp, np.ones(cuts.size), lambda i, c=cuts: DateBefore(attr, _iso(c[i])), days.size - sup))
    # years (single years and ranges of them)
    years = parts["year"]
    yu = np.unique(years[ok]).astype(int)
    if 2 <= yu.size <= 60:
        idx = np.searchsorted(yu, years[ok].astype(int))
        cp = np.bincount(idx[y[ok]], weights=w[ok][y[ok]], minlength=yu.size)
        cn = np.bincount(idx[~y[ok]], weights=w[ok][~y[ok]], minlength=yu.size)
        cc = np.bincount(idx, minlength=yu.size).astype(float)
        a, b = np.triu_indices(yu.size)
        keep = ~((a == 0) & (b == yu.size - 1))
        a, b = a[keep], b[keep]
        c2 = [np.concatenate([[0.0], np.cumsum(c)]) for c in (cp, cn, cc)]
        tp, fp, sup = ((c[b + 1] - c[a]) for c in c2)
        out.append((tp, fp, np.where(a == b, 1.0, 2.0),
                    lambda i, a=a, b=b, yu=yu: DateYears(attr, int(yu[a[i]]), int(yu[b[i]])), sup))
    fam = _cyclic(parts["month"] - 1, ok, y, w, 12, lambda lo, hi: DateMonths(attr, lo + 1, hi + 1))
    if fam is not None:
        out.append(fam)
    fam = _cyclic(parts["weekday"], ok, y, w, 7, lambda lo, hi: DateWeekdays(attr, lo, hi))
    if fam is not None:
        out.append(fam)
    if bool(parts["has_time"]):
        hours = np.floor(parts["minute"] / 60.0)
        fam = _cyclic(hours, ok, y, w, 24, lambda lo, hi: DateHours(attr, lo, hi))
        if fam is not None:
            out.append(fam)
    return out
