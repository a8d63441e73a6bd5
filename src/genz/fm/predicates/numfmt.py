"""Numbers in descriptors: thresholds at the data's own precision, written exactly.

A threshold between two neighbouring observed values ``a < b`` is the number with the fewest
significant digits in ``(a, b]`` (so it separates them exactly as ``b`` does), the one nearest
the midpoint ``(a + b) / 2`` among those: between 6 and 7 it is ``7``, between 1960 and 1990
``1980``, between 0.00564 and 0.00571 ``0.0057``. Its shortest repr parses back to the same
float, so what is mined is what is judged.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["fmt", "fmt_grouped", "cut_between", "cut_upper", "digits"]


def fmt(x: float) -> str:
    """A number exactly: integers as such, anything else as Python's shortest repr, which
    parses back to the identical float."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def fmt_grouped(x: float) -> str:
    """:func:`fmt` with thousands separators (``1,500``, ``12,345.5``), for numbers that the
    text itself writes that way."""
    s = fmt(x)
    if "e" in s or "E" in s or "inf" in s or "nan" in s:
        return s
    sign = "-" if s.startswith("-") else ""
    s = s.lstrip("-")
    whole, _, frac = s.partition(".")
    if len(whole) > 3:
        whole = f"{int(whole):,}"
    return sign + whole + ("." + frac if frac else "")


def digits(x: float) -> int:
    """Significant digits of ``x`` as :func:`fmt` writes it (0 for zero)."""
    if x == 0:
        return 0
    m = Decimal(fmt(x) if "e" not in fmt(x) else repr(float(x))).normalize()
    return len(m.as_tuple().digits)


def _shortest(lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    """The number with the fewest significant digits in the interval (ends open or closed),
    nearest its midpoint; ``lo < hi`` (or equal with both ends closed)."""
    inside = lambda t: (lo < t if lo_open else lo <= t) and (t < hi if hi_open else t <= hi)  # noqa: E731
    if inside(0.0):
        return 0.0
    if hi <= 0:  # mirror a negative interval
        return -_shortest(-hi, -lo, hi_open, lo_open)
    dlo, dhi = Decimal(lo), Decimal(hi)
    mid = (dlo + dhi) / 2
    top = math.floor(math.log10(hi)) if hi > 0 else 0
    for d in range(1, 20):
        step = Decimal(1).scaleb(top - d + 1)
        # grid points in the interval, one more on each side: the floats a decimal stands for
        # may fall inside where the exact decimal does not (0.0101 is the float 0.01009999...)
        kmin = (dlo / step).to_integral_value(ROUND_CEILING) - 1
        kmax = (dhi / step).to_integral_value(ROUND_FLOOR) + 1
        if kmax - kmin > 3:
            k = min(max((mid / step).to_integral_value(), kmin), kmax)
            cands = {k - 1, k, k + 1, kmin, kmin + 1, kmax - 1, kmax}
        else:
            cands = {kmin + j for j in range(int(kmax - kmin) + 1)}
        for kk in sorted(cands, key=lambda v: (abs(v - mid / step), v)):
            t = float(kk * step)
            if inside(t):
                return t
    return hi if not hi_open else lo  # unreachable for finite floats


def cut_between(a: float, b: float) -> float:
    """A threshold ``t`` with ``a < t <= b`` (so ``x >= t`` holds for ``b`` and not for ``a``)
    with the fewest significant digits, nearest ``(a + b) / 2``."""
    a, b = float(a), float(b)
    if not a < b:
        raise ValueError(f"cut_between needs a < b, not {a!r}, {b!r}")
    if not (math.isfinite(a) and math.isfinite(b)):
        return b
    return _shortest(a, b, lo_open=True, hi_open=False)


def cut_upper(b: float, c: float) -> float:
    """An inclusive upper bound ``t`` with ``b <= t < c`` (a range ending at ``b`` that stops
    before ``c``), with the fewest significant digits, nearest ``(b + c) / 2``."""
    b, c = float(b), float(c)
    if not b < c:
        raise ValueError(f"cut_upper needs b < c, not {b!r}, {c!r}")
    if not (math.isfinite(b) and math.isfinite(c)):
        return b
    return _shortest(b, c, lo_open=False, hi_open=True)
