"""Dates and times in tables: recognised, written one way, and read back as numbers.

A table column whose every value is a date (``2021-06-15``, ``15.06.2021``, ``6/15/2021``,
``15 Jun 2021``, ``June 15, 2021``), a date and time (``2021-06-15 08:30``,
``2021-06-15T08:30:00Z``) or a date/datetime object (pandas ``datetime64``, Parquet
timestamps, Excel dates) gets the type ``date`` (no time of day anywhere in the column) or
``datetime``. Its values are written as ``2021-06-15`` / ``2021-06-15 08:30[:15]``: what an
LLM reads, what the run stores and what a new table is converted to at prediction time. A time
zone offset is dropped: the time of day is the one written (local time where the data was
recorded).

Which of day and month comes first in ``01/02/2021`` is decided per column: a first number
above 12 means day first, a second above 12 month first; undecided, ``/`` is read month first
(US) and ``.`` or ``-`` day first (Europe).

:func:`date_parts` gives the offline engine (:mod:`genz.fm.date_predicates`) a date column as
numbers: the day (days since 1970-01-01, with the time of day as a fraction), the year, the
month, the day of the week and the minute of the day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

__all__ = ["DateColumn", "detect_dates", "parse_date", "format_date", "date_parts", "MONTHS", "WEEKDAYS"]

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NUM = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}
_MONTH_NUM["sept"] = 9

_TIME = r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?\s*(?P<ampm>[AaPp][Mm])?" \
        r"\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?"
_ISO = re.compile(rf"^(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}}){_TIME}$")
_NUMERIC = re.compile(rf"^(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}){_TIME}$")
_NO_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")  # the written time of day is kept (see above)
_NAMED_DMY = re.compile(rf"^(?P<d>\d{{1,2}})\.?\s+(?P<mon>[A-Za-z]{{3,9}})\.?,?\s+(?P<y>\d{{4}}){_TIME}$")
_NAMED_MDY = re.compile(rf"^(?P<mon>[A-Za-z]{{3,9}})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}}){_TIME}$")


@dataclass(frozen=True)
class DateColumn:
    """What :func:`detect_dates` found: ``kind`` is ``"date"`` or ``"datetime"``;
    ``dayfirst`` how ``a/b/yyyy`` is read."""

    kind: str
    dayfirst: bool


def _time(m: re.Match) -> tuple[int, int, int] | None:
    if m.group("H") is None:
        return 0, 0, 0
    h, mi, s = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    ampm = (m.group("ampm") or "").lower()
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm == "pm" else 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return h, mi, s


def _build(y: int, mo: int, d: int, t: tuple[int, int, int] | None) -> datetime | None:
    if t is None:
        return None
    try:
        return datetime(y, mo, d, *t)
    except ValueError:
        return None


def parse_date(value: Any, dayfirst: bool | None = None) -> tuple[datetime, bool] | None:
    """``(datetime, has_time)`` for a date value (a string in one of the module's forms, or a
    ``date``/``datetime``/pandas ``Timestamp``), None for anything else. ``dayfirst`` decides
    ``a/b/yyyy`` (None: ``/`` month first, ``.`` and ``-`` day first)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), (value.hour, value.minute, value.second) != (0, 0, 0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), False
    if not isinstance(value, str):
        return None
    s = value.strip()
    if not 8 <= len(s) <= 40 or not s[:1].isalnum():
        return None
    m = _ISO.match(s)
    if m:
        dt = _build(int(m["y"]), int(m["m"]), int(m["d"]), _time(m))
        return None if dt is None else (dt, m.group("H") is not None and dt.time() != datetime.min.time())
    m = _NUMERIC.match(s)
    if m:
        a, b = int(m["a"]), int(m["b"])
        first_day = dayfirst if dayfirst is not None else m["sep"] != "/"
        d, mo = (a, b) if first_day else (b, a)
        dt = _build(int(m["y"]), mo, d, _time(m))
        return None if dt is None else (dt, m.group("H") is not None and dt.time() != datetime.min.time())
    m = _NAMED_DMY.match(s) or _NAMED_MDY.match(s)
    if m:
        mo = _MONTH_NUM.get(m["mon"].lower())
        if mo is None:
            return None
        dt = _build(int(m["y"]), mo, int(m["d"]), _time(m))
        return None if dt is None else (dt, m.group("H") is not None and dt.time() != datetime.min.time())
    return None


def _dayfirst(strings: Sequence[str]) -> bool | None:
    """The column's reading of ``a/b/yyyy``: True, False, or None (undecided or not used)."""
    first = second = False
    for s in strings:
        m = _NUMERIC.match(s.strip())
        if m:
            first |= int(m["a"]) > 12
            second |= int(m["b"]) > 12
    if first and not second:
        return True
    if second and not first:
        return False
    return None


def detect_dates(values: Sequence[Any]) -> DateColumn | None:
    """A :class:`DateColumn` when every value (missing ones left out by the caller) is a date
    or a date and time, else None. At least two values are needed."""
    if len(values) < 2:
        return None
    strings = [v for v in values if isinstance(v, str)]
    dayfirst = _dayfirst(strings)
    if dayfirst is None:
        dayfirst = _default_dayfirst(strings)
    has_time = False
    for v in values:
        got = parse_date(v, dayfirst)
        if got is None:
            return None
        has_time |= got[1]
    return DateColumn("datetime" if has_time else "date", dayfirst)


def _default_dayfirst(strings: Sequence[str]) -> bool:
    """Undecided ``a/b/yyyy``: month first with ``/`` (US), day first with ``.`` or ``-``."""
    for s in strings:
        m = _NUMERIC.match(s.strip())
        if m:
            return m["sep"] != "/"
    return False


def format_date(dt: datetime, with_time: bool) -> str:
    """``2021-06-15``, or ``2021-06-15 08:30`` (``:15`` when there are seconds)."""
    if not with_time:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d %H:%M:%S" if dt.second else "%Y-%m-%d %H:%M")


def date_parts(values: Sequence[str | None]) -> dict[str, np.ndarray] | None:
    """A column of date strings as numbers (NaN where a value is missing), or None when fewer
    than 90% of the present values (and fewer than 2) are dates: ``day`` (days since
    1970-01-01, the time of day as a fraction), ``year``, ``month`` (1-12), ``weekday``
    (0 = Monday), ``minute`` (of the day), and ``has_time`` (a 0-d bool: any time of day other
    than midnight)."""
    present = [i for i, v in enumerate(values) if v is not None]
    if len(present) < 2:
        return None
    strs = [values[i] for i in present]
    if not all(isinstance(v, str) for v in strs):
        return None
    dayfirst = _dayfirst(strs)
    if sum(parse_date(v, dayfirst) is not None for v in strs[:5]) < min(len(strs), 5) * 0.8:
        return None  # not a date column (checked on a few values before parsing all)
    stamps = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    try:  # the canonical forms (and ISO 8601) in one go
        arr = np.array([_NO_OFFSET.sub("", s.strip()) for s in strs], dtype="datetime64[s]")
    except (ValueError, TypeError):
        arr = None
    if arr is None:
        parsed = [parse_date(s, dayfirst) for s in strs]
        if sum(p is not None for p in parsed) < max(2, 0.9 * len(strs)):
            return None
        arr = np.array([np.datetime64(p[0], "s") if p is not None else np.datetime64("NaT") for p in parsed],
                       dtype="datetime64[s]")
    stamps[present] = arr
    ok = ~np.isnat(stamps)
    if ok.sum() < 2:
        return None
    secs = np.where(ok, stamps.astype("int64"), 0).astype(float)
    day = np.where(ok, secs / 86400.0, np.nan)
    days = np.floor(np.nan_to_num(day)).astype(np.int64)
    years = stamps.astype("datetime64[Y]").astype("int64") + 1970
    months = stamps.astype("datetime64[M]").astype("int64") % 12 + 1
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    minute = np.round((np.nan_to_num(day) - days) * 1440.0)
    nan = np.nan
    out = {
        "day": day,
        "year": np.where(ok, years, nan).astype(float),
        "month": np.where(ok, months, nan).astype(float),
        "weekday": np.where(ok, weekday, nan).astype(float),
        "minute": np.where(ok, minute, nan).astype(float),
        "has_time": np.array(bool(np.any(minute[ok] != 0))),
    }
    for v in out.values():
        v.flags.writeable = False
    return out
