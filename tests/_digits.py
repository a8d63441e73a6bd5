"""An independent oracle for the engine's readable thresholds (docs/offline-engine.md,
"Thresholds at the data's own precision"): written without the engine's rule, shared by the
tests that check it (the text benchmark keeps its own copy: benchmarks do not import tests)."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

from genz.fm.predicates.numfmt import digits


def fewest_digits(lo: float, hi: float, lo_open: bool = True) -> int:
    """The fewest significant digits of a float in (lo, hi] (or [lo, hi) with ``lo_open=False``),
    by scanning decimal grids from coarse to fine and counting the digits of the points inside
    (a point of a finer grid below the top magnitude can have as few: 700 in [500, 1000))."""
    inside = (lambda t: lo < t <= hi) if lo_open else (lambda t: lo <= t < hi)
    if inside(0.0):
        return 0
    top = math.floor(math.log10(max(abs(lo), abs(hi))))
    found: list[int] = []
    for d in range(1, 19):
        step = Decimal(1).scaleb(top - d + 1)
        for x in (lo, hi):
            k = int((Decimal(x) / step).to_integral_value(ROUND_FLOOR))
            found += [digits(float(j * step)) for j in range(k - 1, k + 3) if inside(float(j * step))]
        if found and d > min(found):
            return min(found)
    return min(found) if found else 17
