"""Values the offline engine reads from items: numbers and strings of attributes, the item's
text read as a number, extracted once per list of items (:func:`_memo`)."""

from __future__ import annotations

import math
import numbers
import operator
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...items import Item

_NUM_RE = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _number_of_text(text: str) -> float:
    return float(text) if _NUM_RE.match(text) else math.nan


_VALUES_LOCK = threading.Lock()
_VALUES: OrderedDict = OrderedDict()  # (kind, attr, N, hash of item ids) → (items, values)
_VALUES_MAX = 16


def _memo(kind: str, items: Sequence[Item], attr: str | None, make: Any) -> Any:
    """The values of ``attr`` for ``items``, extracted once per list of item objects: judging
    and mining evaluate many predicates on the same items, and the extraction is a Python loop
    over items. An entry holds its items (so their ids stay unique) and matches only the same
    item objects in the same order; items are not to be mutated while a fit runs."""
    items = list(items)
    ids = tuple(map(id, items))
    key = (kind, attr, len(ids), hash(ids))
    with _VALUES_LOCK:
        hit = _VALUES.get(key)
        if hit is not None and len(hit[0]) == len(items) and all(map(operator.is_, hit[0], items)):
            _VALUES.move_to_end(key)
            return hit[1]
    val = make(items)
    with _VALUES_LOCK:
        _VALUES[key] = (items, val)
        while len(_VALUES) > _VALUES_MAX:
            _VALUES.popitem(last=False)
    return val


def _numeric_values(items: Sequence[Item], attr: str | None) -> np.ndarray:
    """The numbers of ``attr`` (or of the text, ``attr=None``); NaN where there is none
    (read-only: shared between calls, see :func:`_memo`)."""
    return _memo("numeric", items, attr, lambda its: _extract_numeric(its, attr))


def _extract_numeric(items: Sequence[Item], attr: str | None) -> np.ndarray:
    if attr is None:
        out = np.array([_number_of_text(it.text) for it in items], dtype=float)
    else:
        out = np.full(len(items), np.nan)
        for n, it in enumerate(items):
            v = it.attributes.get(attr)
            if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
                out[n] = float(v)
    out.flags.writeable = False
    return out


def _string_values(items: Sequence[Item], attr: str) -> tuple[str | None, ...]:
    """The strings of ``attr`` (booleans and integers as text), None where there is none
    (shared between calls, see :func:`_memo`)."""
    return _memo("string", items, attr, lambda its: _extract_strings(its, attr))


def _extract_strings(items: Sequence[Item], attr: str) -> tuple[str | None, ...]:
    out: list[str | None] = []
    for it in items:
        v = it.attributes.get(attr)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, (bool, np.bool_)):
            out.append(str(bool(v)).lower())
        elif isinstance(v, numbers.Integral):
            out.append(str(int(v)))
        else:
            out.append(None)
    return tuple(out)


def _string_codes(items: Sequence[Item], attr: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """:func:`_string_values` as codes into its distinct strings (−1 where there is none)."""

    def make(its: Sequence[Item]) -> tuple[np.ndarray, tuple[str, ...]]:
        index: dict[str, int] = {}
        codes = np.array([-1 if v is None else index.setdefault(v, len(index)) for v in _string_values(its, attr)],
                         dtype=np.int64)
        codes.flags.writeable = False
        return codes, tuple(index)

    return _memo("codes", items, attr, make)


def _string_mask(items: Sequence[Item], attr: str, test: Any) -> np.ndarray:
    """``test(value)`` for every item's string value of ``attr`` (False where there is none),
    evaluated once per distinct value."""
    codes, cats = _string_codes(items, attr)
    ok = np.array([bool(test(c)) for c in cats] + [False], dtype=bool)
    return ok[codes]



def _attribute_kinds(items: Sequence[Item]) -> dict[str, str]:
    """Each attribute's kind: numeric, string or list (by majority of the items that have it)."""
    kinds: dict[str, Counter] = {}
    for it in items:
        for k, v in it.attributes.items():
            c = kinds.setdefault(k, Counter())
            if isinstance(v, (bool, np.bool_, str)):
                c["string"] += 1
            elif isinstance(v, numbers.Real):
                c["numeric"] += 1
            elif isinstance(v, (list, tuple)):
                c["list"] += 1
    return {k: c.most_common(1)[0][0] for k, c in sorted(kinds.items()) if c}
