"""Tables in: CSV, TSV, Parquet, JSONL of flat records, or a pandas DataFrame, as genz items.

A table has one row per item. You name the target column(s), optionally an id column (row
numbers otherwise) and the free-text column(s); every other column becomes an attribute of the
item with its type inferred:

* numbers, also numbers given as strings with thousands separators (``"259,200"``) or a
  currency sign (``"$12,500"``), become numbers, unless a value has a leading zero (``"02134"``:
  a code, kept as text) or the column holds whole numbers under a code's name (``zip``,
  ``zipcode``, ``postal_code``, ``postcode``, ``fips``, ``area_code``: a word of the name that is
  ``zip``, ``postal`` or ``fips`` or ends in ``code``), kept as text: a zip code is a place, not
  an amount (rename the column to keep it numbers; ``--categorical`` keeps other columns as text);
* ``true``/``false`` and ``yes``/``no`` (any case) become booleans;
* empty cells, ``NA``, ``N/A``, ``NaN``, ``null`` and ``None`` are missing: the attribute is
  absent for that item;
* a column of lists (JSONL, Parquet) stays a list of strings;
* a column of dates (``2021-06-15``, ``15.06.2021``, ``6/15/2021``, ``15 Jun 2021``, pandas
  ``datetime64``) becomes a ``date`` (or ``datetime``, with times of day), written
  ``2021-06-15`` / ``2021-06-15 08:30`` (:mod:`genz.dates`); the offline engine reads it as a
  date (year, month, season, day of the week, time of day, thresholds on the date);
* anything else is text.

Files are read as their writers wrote them (:mod:`genz.table_files`): pandas' unnamed index
column (``df.to_csv("t.csv")``) and Parquet's pandas index are left out with a note; the CSV
delimiter (``, ; tab |``) and a decimal comma are sniffed (``--delimiter`` overrides); Excel
workbooks are read with openpyxl when it is installed.

Python::

    from genz.tables import items_from_frame
    items = items_from_frame(df, id="car_id", text="description")
    GenZRegressor().fit(df, df["price"], text="description")   # the same conversion

Command line: ``genz fit --data cars.csv --target price [--id car_id] [--text description]``.

Reading needs no pandas for CSV, TSV and JSONL; Parquet needs pyarrow (``pip install
genz[tables]``). Files may be gzipped (recognised by their first bytes) and are read as UTF-8
with or without a byte-order mark unless an ``encoding`` is given. Every problem is a one-line
:class:`~genz.errors.GenZInputError` naming the file, line and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dates import DateColumn, detect_dates, format_date, parse_date
from .errors import GenZInputError
from .items import Item, _is_missing, to_plain
from .table_files import Table, from_records, read_table

__all__ = ["Table", "TableData", "read_table", "load_table", "items_from_frame", "frame_items", "infer_types",
           "describe_types", "MISSING"]

#: cell values read as missing
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "nat"})
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
# a number, optionally with a currency sign, thousands separators (groups of three), a
# decimal part, an exponent
_NUMBER = re.compile(r"^\s*(?P<sign>[-+]?)\s*[$€£]?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?"
                     r"(?P<exp>[eE][-+]?\d+)?\s*$")
# the same with a decimal comma (``1.234,5``; ``12,50 €``)
_NUMBER_COMMA = re.compile(r"^\s*(?P<sign>[-+]?)\s*[$€£]?\s*(?P<int>\d{1,3}(?:\.\d{3})+|\d+)?(?P<frac>,\d+)?"
                           r"(?P<exp>[eE][-+]?\d+)?\s*€?\s*$")
TYPES = ("number", "integer", "boolean", "text", "list", "date", "datetime")


@dataclass
class TableData:
    """What :func:`load_table` returns: the items, the targets (N×D or None), the target
    column names, the inferred attribute types and a one-line description of them."""

    items: list[Item]
    Y: np.ndarray | None
    target_names: list[str]
    types: dict[str, str]
    summary: str
    id_column: str | None = None
    text_columns: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # every column the file has


def _from_frame(df: Any, name: str = "frame") -> Table:
    """A Table from a pandas DataFrame, a mapping of columns or a list of records."""
    if isinstance(df, Table):
        return df
    if hasattr(df, "columns") and hasattr(df, "to_dict") and hasattr(df, "index"):  # pandas
        cols: dict[str, list[Any]] = {}
        for c in df.columns:
            if str(c) in cols:
                raise GenZInputError(f"{name}: the column name {str(c)!r} appears twice; rename one")
            cols[str(c)] = df[c].tolist()
        return Table(cols, len(df), name, None, typed=True)
    if isinstance(df, Mapping):
        cols = {str(k): list(v) for k, v in df.items()}
        lens = {len(v) for v in cols.values()}
        if len(lens) > 1:
            raise GenZInputError(f"{name}: columns of different lengths ({sorted(lens)})")
        return Table(cols, lens.pop() if lens else 0, name, None, typed=True)
    if isinstance(df, Sequence) and df and all(isinstance(r, Mapping) for r in df):
        return from_records(df, name, None)
    raise GenZInputError(f"{name}: expected a pandas DataFrame, a dict of columns or a list of records, "
                         f"not {type(df).__name__}")


# ------------------------------------------------------------------------------------------------
# type inference
# ------------------------------------------------------------------------------------------------
def _missing(v: Any) -> bool:
    return _is_missing(v) or (isinstance(v, str) and v.strip().lower() in MISSING)


def _parse_number(s: str, decimal: str = ".") -> float | None:
    """A number written as a string (thousands separators, a currency sign; with
    ``decimal=","`` a decimal comma and dots between thousands), or None."""
    m = (_NUMBER_COMMA if decimal == "," else _NUMBER).match(s)
    if not m or (m.group("int") is None and m.group("frac") is None):
        return None
    sep = "." if decimal == "," else ","
    digits = ((m.group("int") or "0").replace(sep, "") + (m.group("frac") or "").replace(",", ".")
              + (m.group("exp") or ""))
    v = float(digits)
    return -v if m.group("sign") == "-" else v


def _date_column(present: Sequence[Any]) -> DateColumn | None:
    """Dates, when every present value is one (strings in a form of :mod:`genz.dates`, or
    date and datetime objects)."""
    if not present:
        return None
    first = present[0]
    if parse_date(first if isinstance(first, str) or hasattr(first, "isoformat") else to_plain(first)) is None:
        return None  # most columns are not dates: one value says so
    plain = [v if hasattr(v, "isoformat") and not isinstance(v, str) else to_plain(v) for v in present]
    if not all(isinstance(v, str) or hasattr(v, "isoformat") for v in plain):
        return None
    return detect_dates(plain)


def _infer_column(values: Sequence[Any], decimal: str = ".") -> str:
    """One column's type: integer, number, boolean, list, date, datetime or text (see the
    module docstring)."""
    present = [v for v in values if not _missing(v)]
    if not present:
        return "text"
    if all(isinstance(to_plain(v), list) for v in present):
        return "list"
    dates = _date_column(present)
    if dates is not None:
        return dates.kind
    plain = [to_plain(v) for v in present]
    if all(isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE) for v in plain):
        return "boolean"
    nums = []
    for v in plain:
        if isinstance(v, bool):
            return "text"
        if isinstance(v, (int, float)):
            nums.append(float(v))
            continue
        if not isinstance(v, str):
            return "text"
        s = v.strip()
        if re.match(r"^[-+]?0\d", s):  # a code with a leading zero ("02134"): keep as text
            return "text"
        x = _parse_number(s, decimal)
        if x is None:
            return "text"
        nums.append(x)
    arr = np.asarray(nums, dtype=float)
    if not np.all(np.isfinite(arr)):
        return "number"
    return "integer" if np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2**53) else "number"


def infer_types(table: Table | Any, columns: Sequence[str] | None = None) -> dict[str, str]:
    """Each column's inferred type (``integer``, ``number``, ``boolean``, ``list``, ``text``); whole
    numbers under a code's name (:func:`code_name`) are ``text``."""
    t = _from_frame(table) if not isinstance(table, Table) else table
    out = {c: _infer_column(t.columns[c], t.decimal) for c in (columns if columns is not None else t.columns)}
    return {c: "text" if k == "integer" and code_name(c) else k for c, k in out.items()}


def code_name(name: str) -> bool:
    """Whether a column's name says it holds codes (a word ``zip``, ``postal`` or ``fips``, or one
    ending in ``code``: ``zipcode``, ``ZipCode``, ``postal_code``, ``area code``), whose whole
    numbers are labels, not amounts."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower())
    return any(w in ("zip", "postal", "fips") or (w.endswith("code") and w != "decode") for w in words)


def _convert(v: Any, kind: str, where: str, col: str, decimal: str = ".", dayfirst: bool | None = None) -> Any:
    """A cell as the attribute value of its column type (None when missing)."""
    if _missing(v):
        return None
    if kind in ("date", "datetime"):
        got = parse_date(v, dayfirst)
        if got is None:
            raise GenZInputError(f"{where}: column {col!r} = {str(to_plain(v))!r} is not a date (the column holds "
                                 "dates, e.g. 2021-06-15); fix the cell or leave it empty")
        return format_date(got[0], kind == "datetime")
    v = to_plain(v)
    if kind in ("integer", "number"):
        if isinstance(v, bool):
            raise GenZInputError(f"{where}: column {col!r} = {v!r} is not a number (the column holds numbers)")
        if isinstance(v, (int, float)):
            x = float(v)
        else:
            x = _parse_number(str(v), decimal)
            if x is None:
                raise GenZInputError(f"{where}: column {col!r} = {str(v)!r} is not a number (the column holds "
                                     "numbers); fix the cell or leave it empty")
        if not math.isfinite(x):
            return None
        return int(x) if kind == "integer" and x == round(x) else x
    if kind == "boolean":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        if isinstance(v, (int, float)) and v in (0, 1):
            return bool(v)
        raise GenZInputError(f"{where}: column {col!r} = {v!r} is not true/false (the column holds booleans)")
    if kind == "list":
        return [str(x) for x in (v if isinstance(v, list) else [v])]
    if isinstance(v, float) and v == round(v) and abs(v) < 2**53:
        v = int(v)
    return str(v)


def describe_types(types: Mapping[str, str], table: Table | None = None) -> str:
    """One line saying what was inferred, e.g. ``attributes: year, mileage (numbers; mileage
    had thousands separators) · fuel, make (text) · one_owner (boolean)``."""
    groups: dict[str, list[str]] = {}
    for c, k in types.items():
        groups.setdefault({"integer": "numbers", "number": "numbers", "boolean": "booleans", "list": "lists",
                           "text": "text", "date": "dates", "datetime": "dates and times"}[k], []).append(c)
    notes = []
    if table is not None:
        conv = [c for c, k in types.items() if k in ("integer", "number") and table.decimal == "."
                and any(isinstance(v, str) and not _missing(v) and ("," in v or "$" in v or "€" in v or "£" in v)
                        for v in table.columns[c])]
        if conv:
            notes.append(f"{', '.join(conv)} had thousands separators or currency signs")
        for c, k in types.items():  # almost numbers: say which values stopped them
            if k != "text":
                continue
            present = [str(to_plain(v)).strip() for v in table.columns[c] if not _missing(v)]
            bad = [v for v in present if _parse_number(v, table.decimal) is None]
            if bad and len(bad) <= 0.2 * len(present) and not any(re.match(r"^[-+]?0\d", v) for v in present):
                notes.append(f"{c} is text because {len(bad)} value{'s' if len(bad) > 1 else ''} "
                             f"{'are' if len(bad) > 1 else 'is'} not a number (e.g. {bad[0]!r}): fix or empty "
                             "them to make it a number")
                continue
            if present and parse_date(present[0]) is not None:  # almost dates, likewise
                bad = [v for v in present if parse_date(v) is None]
                if bad and len(bad) <= 0.2 * len(present):
                    notes.append(f"{c} is text because {len(bad)} value{'s' if len(bad) > 1 else ''} "
                                 f"{'are' if len(bad) > 1 else 'is'} not a date (e.g. {bad[0]!r}): fix or empty "
                                 "them to make it a date")
        missing = [c for c in types if any(_missing(v) for v in table.columns[c])]
        if missing:
            notes.append(f"missing cells left out in {', '.join(missing)}")
    parts = [f"{', '.join(cols)} ({kind})" for kind, cols in groups.items()]
    return "attributes: " + (" · ".join(parts) if parts else "none") + ("; " + "; ".join(notes) if notes else "")


# ------------------------------------------------------------------------------------------------
# tables to items
# ------------------------------------------------------------------------------------------------
def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [c.strip() for c in x.split(",") if c.strip()]
    return [str(c) for c in x]


def _need_columns(t: Table, cols: Sequence[str], option: str) -> None:
    for c in cols:
        if c not in t.columns:
            have = ", ".join(list(t.columns)[:40])
            raise GenZInputError(f"{t.path}: no column {c!r} ({option}); the columns are: {have}")


def _resolve_id(t: Table, id: str | None) -> str | None:
    """``--id``: a column name; ``""`` names the file's unnamed index column. Without it, a
    named Parquet index gives the ids."""
    if id == "" or (id is not None and id not in t.columns and id.lower() == "index" and t.index_columns):
        if not t.index_columns:
            raise GenZInputError(f"{t.path}: --id \"\" names an unnamed first column, and this file has none; give "
                                 f"the id column's name (columns: {', '.join(list(t.columns)[:40])})")
        return t.index_columns[0]
    if id is None:
        return t.index_id
    return id


def _table_items(t: Table, id: str | None, text: str | Sequence[str] | None, exclude: Sequence[str],
                 types: Mapping[str, str] | None) -> tuple[list[Item], dict[str, str], list[str]]:
    """Items of a table, the attribute types, and notes for the user (what was decided)."""
    texts = _as_list(text)
    _need_columns(t, texts, "--text")
    id = _resolve_id(t, id)
    if id is not None:
        _need_columns(t, [id], "--id")
    notes: list[str] = []
    numeric = [c for c in texts if _infer_column(t.columns[c], t.decimal) in ("integer", "number")]
    if numeric:  # a number is a number: thresholds that name the column, not "the number is below ..."
        texts = [c for c in texts if c not in numeric]
        notes.append(f"{', '.join(numeric)} hold{'s' if len(numeric) == 1 else ''} numbers only: used as a number "
                     "attribute, not as free text")
    skip = set(texts) | set(exclude) | ({id} if id is not None else set()) | (set(t.index_columns) - {id})
    attr_cols = [c for c in t.columns if c not in skip]
    inferred = infer_types(t, attr_cols)
    if types:  # the types a model was fitted with (prediction): the same conversion as training
        for c in attr_cols:
            if c in types:
                inferred[c] = types[c]
    if id is not None:
        ids = []
        for r, v in enumerate(t.columns[id]):
            if _missing(v):
                raise GenZInputError(f"{t.where(r)}: the id column {id!r} is empty; every row needs an id")
            v = to_plain(v)
            ids.append(str(int(v)) if isinstance(v, float) and v == round(v) else str(v).strip())
    else:
        ids = [str(r + 1) for r in range(t.n_rows)]
    seen: dict[str, int] = {}
    for r, i in enumerate(ids):
        if i in seen:
            raise GenZInputError(f"{t.where(r)}: duplicate id {i!r} in column {id!r} (first in {t.where(seen[i])}); "
                                 "ids must be unique: name another --id column, or leave --id out to number the rows")
        seen[i] = r
    converted = {}
    for c in attr_cols:
        kind = inferred[c]
        dayfirst = None
        if kind in ("date", "datetime"):
            found = _date_column([v for v in t.columns[c] if not _missing(v)])
            dayfirst = found.dayfirst if found is not None else None
        converted[c] = [_convert(v, kind, t.where(r), c, t.decimal, dayfirst) for r, v in enumerate(t.columns[c])]
    items = []
    empty: list[int] = []
    for r in range(t.n_rows):
        parts = []
        for c in texts:
            v = t.columns[c][r]
            if not _missing(v):
                s = str(to_plain(v)).strip()
                if s:
                    parts.append(s)
        attrs = {c: converted[c][r] for c in attr_cols if converted[c][r] is not None}
        if not parts and not attrs:
            empty.append(r)
        items.append(Item(id=ids[r], text="\n".join(parts), attributes=attrs))
    if empty and len(empty) == t.n_rows:
        left = sorted(set(exclude) & set(t.columns))
        raise GenZInputError(f"{t.path}: no row has a text or an attribute value, so there is nothing to learn from"
                             + (f" (left out as the target: {', '.join(map(repr, left))})" if left else "")
                             + "; give the table columns other than the target and the id")
    if empty:
        where = ", ".join(t.where(r) for r in empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
        notes.append(f"{len(empty)} row{'s have' if len(empty) > 1 else ' has'} no text and no attribute value "
                     f"({where}): kept, every attribute missing")
    return items, inferred, notes


def items_from_frame(df: Any, id: str | None = None, text: str | Sequence[str] | None = None, *,
                     exclude: Sequence[str] = (), types: Mapping[str, str] | None = None,
                     target: Any = None) -> list[Item]:
    """Items from a pandas DataFrame (or a dict of columns, or a list of flat records).

    ``id``: the id column (default: the DataFrame's index when it is not the default
    0…N−1 range and has no duplicates, else row numbers 1…N); ``text``: the free-text
    column(s), joined by line breaks (a column of numbers only is used as a number attribute,
    with a warning); ``exclude``: columns to leave out. ``target``: the targets being fitted;
    a column holding them (by name, or with the same values) is left out, so that the target
    never becomes an attribute. Every other column becomes an attribute, typed as in the
    module docstring (``types`` forces a type per column); missing values leave the attribute
    out.
    """
    return frame_items(df, id=id, text=text, exclude=exclude, types=types, target=target, stacklevel=4)[0]


def frame_items(df: Any, id: str | None = None, text: str | Sequence[str] | None = None, *,
                exclude: Sequence[str] = (), types: Mapping[str, str] | None = None, target: Any = None,
                stacklevel: int = 3) -> tuple[list[Item], dict]:
    """:func:`items_from_frame`, and how the table was read: ``{"types", "text", "id",
    "target"}`` (the attribute types, the text columns used, the id column, the columns left
    out as the target)."""
    import warnings

    t = _from_frame(df)
    targets = _target_columns(t, target)
    named = str(getattr(target, "name", None))
    if named in targets and not _numbers(t.columns[named]):  # a Series that inherited a category column's name
        warnings.warn(f"column {named!r} is left out as the target because the target is a Series named {named!r}, "
                      f"but the column holds no numbers (the Series inherited its name?); if {named!r} is an input, "
                      f"pass the target as an array (y.to_numpy()) or rename it (y.rename('target'))",
                      stacklevel=stacklevel)
    exclude = list(exclude) + targets
    id_col = id
    if id is None and hasattr(df, "index") and hasattr(df, "columns"):
        idx = df.index
        default = type(idx).__name__ == "RangeIndex" and idx.start == 0 and idx.step == 1
        if not default and not idx.is_unique:
            warnings.warn("the DataFrame's index has duplicate values (as after pd.concat), so the items are "
                          "numbered 1…N by position; pass id='column' to name an id column, or call "
                          "df.reset_index(drop=True) first", stacklevel=stacklevel)
        elif not default:
            t = Table(dict(t.columns), t.n_rows, t.path, t.lines, t.typed)
            t.columns["__index__"] = list(idx)
            id = "__index__"
    items, inferred, notes = _table_items(t, id, text, exclude, types)
    for note in notes:
        if "numbers only" in note:
            warnings.warn(f"text: {note}", stacklevel=stacklevel)
    prose = [c for c, k in inferred.items() if k == "text" and _looks_like_prose(t.columns[c])]
    if prose and text is None:
        warnings.warn(f"column {prose[0]!r} looks like free text but is used as a category; pass "
                      f"text={prose[0]!r} to use its words", stacklevel=stacklevel)
    used_text = [c for c in _as_list(text) if c not in inferred]
    return items, {"types": inferred, "text": used_text, "id": id_col, "target": targets}


def _target_columns(t: Table, target: Any) -> list[str]:
    """Columns of ``t`` that are the target: its name, or the same numbers row by row."""
    if target is None:
        return []
    out = [str(target.name)] if getattr(target, "name", None) is not None and str(target.name) in t.columns else []
    try:
        y = np.asarray(target, dtype=float).reshape(t.n_rows, -1)
    except (TypeError, ValueError):
        return out
    for c, vals in t.columns.items():
        if c in out or not _numbers(vals):
            continue
        col = np.asarray([to_plain(v) for v in vals], dtype=float)
        if any(np.array_equal(col, y[:, j]) for j in range(y.shape[1])):
            out.append(c)
    return out


def _numbers(values: Sequence[Any]) -> bool:
    """Whether every value of a column is a number (a column a numeric target could come from)."""
    plain = [to_plain(v) for v in values]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in plain)


def _looks_like_prose(values: Sequence[Any]) -> bool:
    """A text column of sentences rather than categories (long, mostly distinct values)."""
    present = [str(v) for v in values if not _missing(v)]
    if len(present) < 5:
        return False
    return float(np.median([len(v.split()) for v in present])) >= 5 and len(set(present)) > 0.5 * len(present)


def load_table(path: str | Path, target: str | Sequence[str] | None = None, *, id: str | None = None,
               text: str | Sequence[str] | None = None, encoding: str | None = None,
               types: Mapping[str, str] | None = None, drop: Sequence[str] = (),
               delimiter: str | None = None) -> TableData:
    """Read a table file and split it into items and targets (see the module docstring).

    ``target``: the target column(s) (None when predicting; columns in ``drop`` — e.g. the
    target of a model being applied — are then left out if present). ``types``: force the
    column types a model was fitted with. ``delimiter``: the CSV delimiter (sniffed by
    default)."""
    t = read_table(path, encoding=encoding, delimiter=delimiter)
    targets = _as_list(target)
    twice = sorted({c for c in targets if targets.count(c) > 1})
    if twice:
        raise GenZInputError(f"--target names {twice[0]!r} twice; name each target column once")
    _need_columns(t, targets, "--target")
    if id is not None and id in targets:
        raise GenZInputError(f"{path}: --id {id!r} is also a --target")
    both = set(_as_list(text)) & set(targets)
    if both:
        raise GenZInputError(f"{path}: column {sorted(both)[0]!r} is both --text and --target")
    Y = None
    if targets:
        Y = np.empty((t.n_rows, len(targets)))
        for j, c in enumerate(targets):
            for r, v in enumerate(t.columns[c]):
                if _missing(v):
                    raise GenZInputError(f"{t.where(r)}: the target {c!r} is missing; fill it in or drop the row")
                p = to_plain(v)
                x = p if isinstance(p, (int, float)) and not isinstance(p, bool) else _parse_number(str(v), t.decimal)
                if x is None or not math.isfinite(float(x)):
                    raise GenZInputError(f"{t.where(r)}: the target {c!r} = {str(v)!r} is not a finite number; fix "
                                         "the cell or drop the row")
                Y[r, j] = float(x)
    exclude = targets + [c for c in drop if c in t.columns]
    items, inferred, notes = _table_items(t, id, text, exclude, types)
    id_used = _resolve_id(t, id)
    texts = [c for c in _as_list(text) if c not in inferred]
    summary = (f"{path}: {t.n_rows} rows; id: {id_used or 'row number'}; text: {', '.join(texts) or 'none'}; "
               + (f"target: {', '.join(targets)}; " if targets else "")
               + describe_types(inferred, t))
    for note in t.notes + notes:
        summary += f"; {note}"
    if id_used is None:
        ids = [c for c, k in inferred.items() if k == "text" and not _looks_like_prose(t.columns[c])
               and len({str(v) for v in t.columns[c]}) == t.n_rows and "id" in c.lower()]
        if ids:
            summary += f"; {ids[0]} looks like an id: name it with --id {ids[0]}"
    prose = [c for c, k in inferred.items() if k == "text" and _looks_like_prose(t.columns[c])]
    if prose:
        summary += f"; {', '.join(prose)} looks like free text: name it with --text {','.join(prose)}"
    return TableData(items, Y, targets, inferred, summary, id_used, texts,
                     [c for c in t.columns if c not in t.index_columns])
