"""Tables in: CSV, TSV, Parquet, JSONL of flat records, or a pandas DataFrame, as genz items.

A table has one row per item. You name the target column(s), optionally an id column (row
numbers otherwise) and the free-text column(s); every other column becomes an attribute of the
item with its type inferred:

* numbers, also numbers given as strings with thousands separators (``"259,200"``) or a
  currency sign (``"$12,500"``), become numbers, unless a value has a leading zero (``"02134"``:
  a code, kept as text);
* ``true``/``false`` and ``yes``/``no`` (any case) become booleans;
* empty cells, ``NA``, ``N/A``, ``NaN``, ``null`` and ``None`` are missing: the attribute is
  absent for that item;
* a column of lists (JSONL, Parquet) stays a list of strings; anything else is text.

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

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GenZInputError
from .items import Item, _is_missing, decode_text, read_bytes, to_plain

__all__ = ["Table", "TableData", "read_table", "load_table", "items_from_frame", "infer_types",
           "describe_types", "MISSING"]

#: cell values read as missing
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
# a number, optionally with a currency sign, thousands separators (groups of three), a
# decimal part, an exponent, or a trailing percent sign
_NUMBER = re.compile(r"^\s*(?P<sign>[-+]?)\s*[$€£]?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?"
                     r"(?P<exp>[eE][-+]?\d+)?\s*$")
TYPES = ("number", "integer", "boolean", "text", "list")


@dataclass
class Table:
    """Columns of a table as read from a file: ``columns[name]`` is a list with one value per
    row (strings for CSV/TSV; JSON values for JSONL; Python values for Parquet), ``lines[i]``
    the file line where row ``i`` starts (for messages)."""

    columns: dict[str, list[Any]]
    n_rows: int
    path: str = "table"
    lines: list[int] | None = None
    typed: bool = False  # values carry their own types (JSONL, Parquet, DataFrame)

    def where(self, row: int) -> str:
        if self.lines is not None:
            return f"{self.path}:{self.lines[row]}"
        return f"{self.path}: row {row + 1}"


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


# ------------------------------------------------------------------------------------------------
# reading files
# ------------------------------------------------------------------------------------------------
def _format_of(path: Path, head: bytes) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if head[:4] == b"PAR1" or name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "jsonl"
    first = stripped.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def read_table(path: str | Path, encoding: str | None = None, fmt: str | None = None) -> Table:
    """Read a table file (CSV, TSV, Parquet or JSONL of flat records; gzip recognised)."""
    path = Path(path)
    if not path.exists():
        raise GenZInputError(f"{path}: no such data file")
    if path.is_dir():
        raise GenZInputError(f"{path}: is a directory, expected a table file (CSV, TSV, Parquet or JSONL)")
    data = read_bytes(path)
    fmt = fmt or _format_of(path, data[:4096])
    if fmt == "parquet":
        return _read_parquet(path, data)
    text = decode_text(data, path, encoding)  # the bytes already read, not the file again
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if fmt == "tsv" else ",")


def _read_delimited(path: Path, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or not any(c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                continue
            rows.append(row)
            lines.append(line)
    except csv.Error as exc:
        raise GenZInputError(f"{path}:{reader.line_num}: not valid {'TSV' if delimiter == chr(9) else 'CSV'} ({exc})") from None
    if header is None:
        raise GenZInputError(f"{path}: the data file is empty")
    _check_header(path, header)
    if not rows:
        raise GenZInputError(f"{path}: the data file has a header but no rows")
    width = len(header)
    cols: dict[str, list[Any]] = {h: [] for h in header}
    for row, line in zip(rows, lines):
        if len(row) != width:
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]  # trailing empty cells (spreadsheets write them)
            else:
                sep = "tab" if delimiter == "\t" else "comma"
                raise GenZInputError(
                    f"{path}:{line}: {len(row)} cells, the header has {width}; quote values that contain a {sep}"
                )
        for h, cell in zip(header, row):
            cols[h].append(cell)
    return Table(cols, len(rows), str(path), lines, typed=False)


def _check_header(path: Path, header: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, h in enumerate(header):
        if not h:
            raise GenZInputError(f"{path}:1: column {i + 1} of the header has no name")
        if h in seen:
            raise GenZInputError(f"{path}:1: the column name {h!r} appears twice in the header")
        seen.add(h)


def _read_jsonl(path: Path, text: str) -> Table:
    records: list[dict] = []
    lines: list[int] = []
    from .items import json_records

    for lineno, obj in json_records(path, text, "a JSON object (one record per line)"):
        for k, v in obj.items():
            if isinstance(v, dict):
                raise GenZInputError(f"{path}:{lineno}: column {k!r} holds an object; a table needs flat records "
                                     "(for items with 'attributes' use --items)")
        records.append(obj)
        lines.append(lineno)
    if not records:
        raise GenZInputError(f"{path}: the data file is empty")
    return _from_records(records, str(path), lines)


def _from_records(records: Sequence[Mapping[str, Any]], path: str, lines: list[int] | None) -> Table:
    names: dict[str, None] = {}
    for r in records:
        for k in r:
            names.setdefault(str(k), None)
    cols = {k: [r.get(k) for r in records] for k in names}
    return Table(cols, len(records), path, lines, typed=True)


def _read_parquet(path: Path, data: bytes) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise GenZInputError(f"{path}: reading Parquet needs pyarrow: pip install 'genz[tables]'") from None
    try:
        t = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises its own error types
        raise GenZInputError(f"{path}: not a readable Parquet file ({' '.join(str(exc).split())[:200]})") from None
    cols = {str(k): list(v) for k, v in t.to_pydict().items()}
    if t.num_rows == 0:
        raise GenZInputError(f"{path}: the data file has no rows")
    return Table(cols, t.num_rows, str(path), None, typed=True)


def _from_frame(df: Any, name: str = "frame") -> Table:
    """A Table from a pandas DataFrame, a mapping of columns or a list of records."""
    if isinstance(df, Table):
        return df
    if hasattr(df, "columns") and hasattr(df, "to_dict") and hasattr(df, "index"):  # pandas
        cols: dict[str, list[Any]] = {}
        for c in df.columns:
            if str(c) in cols:
                raise GenZInputError(f"{name}: the column name {str(c)!r} appears twice")
            cols[str(c)] = df[c].tolist()
        return Table(cols, len(df), name, None, typed=True)
    if isinstance(df, Mapping):
        cols = {str(k): list(v) for k, v in df.items()}
        lens = {len(v) for v in cols.values()}
        if len(lens) > 1:
            raise GenZInputError(f"{name}: columns of different lengths ({sorted(lens)})")
        return Table(cols, lens.pop() if lens else 0, name, None, typed=True)
    if isinstance(df, Sequence) and df and all(isinstance(r, Mapping) for r in df):
        return _from_records(df, name, None)
    raise GenZInputError(f"{name}: expected a pandas DataFrame, a dict of columns or a list of records, "
                         f"not {type(df).__name__}")


# ------------------------------------------------------------------------------------------------
# type inference
# ------------------------------------------------------------------------------------------------
def _missing(v: Any) -> bool:
    return _is_missing(v) or (isinstance(v, str) and v.strip().lower() in MISSING)


def _parse_number(s: str) -> float | None:
    m = _NUMBER.match(s)
    if not m or (m.group("int") is None and m.group("frac") is None):
        return None
    digits = (m.group("int") or "0").replace(",", "") + (m.group("frac") or "") + (m.group("exp") or "")
    v = float(digits)
    return -v if m.group("sign") == "-" else v


def _infer_column(values: Sequence[Any]) -> str:
    """One column's type: integer, number, boolean, list or text (see the module docstring)."""
    present = [v for v in values if not _missing(v)]
    if not present:
        return "text"
    if all(isinstance(to_plain(v), list) for v in present):
        return "list"
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
        x = _parse_number(s)
        if x is None:
            return "text"
        nums.append(x)
    arr = np.asarray(nums, dtype=float)
    if not np.all(np.isfinite(arr)):
        return "number"
    return "integer" if np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2**53) else "number"


def infer_types(table: Table | Any, columns: Sequence[str] | None = None) -> dict[str, str]:
    """Each column's inferred type (``integer``, ``number``, ``boolean``, ``list``, ``text``)."""
    t = _from_frame(table) if not isinstance(table, Table) else table
    return {c: _infer_column(t.columns[c]) for c in (columns if columns is not None else t.columns)}


def _convert(v: Any, kind: str, where: str, col: str) -> Any:
    """A cell as the attribute value of its column type (None when missing)."""
    if _missing(v):
        return None
    v = to_plain(v)
    if kind in ("integer", "number"):
        if isinstance(v, bool):
            raise GenZInputError(f"{where}: column {col!r} = {v!r} is not a number (the column holds numbers)")
        if isinstance(v, (int, float)):
            x = float(v)
        else:
            x = _parse_number(str(v))
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
                           "text": "text"}[k], []).append(c)
    notes = []
    if table is not None:
        conv = [c for c, k in types.items() if k in ("integer", "number")
                and any(isinstance(v, str) and not _missing(v) and ("," in v or "$" in v or "€" in v or "£" in v)
                        for v in table.columns[c])]
        if conv:
            notes.append(f"{', '.join(conv)} had thousands separators or currency signs")
        for c, k in types.items():  # almost numbers: say which values stopped them
            if k != "text":
                continue
            present = [str(to_plain(v)).strip() for v in table.columns[c] if not _missing(v)]
            bad = [v for v in present if _parse_number(v) is None]
            if bad and len(bad) <= 0.2 * len(present) and not any(re.match(r"^[-+]?0\d", v) for v in present):
                notes.append(f"{c} is text because {len(bad)} value{'s' if len(bad) > 1 else ''} "
                             f"{'are' if len(bad) > 1 else 'is'} not a number (e.g. {bad[0]!r}): fix or empty "
                             "them to make it a number")
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


def _table_items(t: Table, id: str | None, text: str | Sequence[str] | None, exclude: Sequence[str],
                 types: Mapping[str, str] | None) -> tuple[list[Item], dict[str, str]]:
    texts = _as_list(text)
    _need_columns(t, texts, "--text")
    if id is not None:
        _need_columns(t, [id], "--id")
    skip = set(texts) | set(exclude) | ({id} if id is not None else set())
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
            raise GenZInputError(f"{t.where(r)}: duplicate id {i!r} (first in {t.where(seen[i])})")
        seen[i] = r
    items = []
    converted = {c: [_convert(v, inferred[c], t.where(r), c) for r, v in enumerate(t.columns[c])] for c in attr_cols}
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
            raise GenZInputError(f"{t.where(r)}: item {ids[r]!r} has no text and no attribute values")
        items.append(Item(id=ids[r], text="\n".join(parts), attributes=attrs))
    return items, inferred


def items_from_frame(df: Any, id: str | None = None, text: str | Sequence[str] | None = None, *,
                     exclude: Sequence[str] = (), types: Mapping[str, str] | None = None,
                     target: Any = None) -> list[Item]:
    """Items from a pandas DataFrame (or a dict of columns, or a list of flat records).

    ``id``: the id column (default: the DataFrame's index when it is not the default
    0…N−1 range, else row numbers 1…N); ``text``: the free-text column(s), joined by line
    breaks; ``exclude``: columns to leave out. ``target``: the targets being fitted; a column
    holding them (by name, or with the same values) is left out, so that the target never
    becomes an attribute. Every other column becomes an attribute, typed as in the module
    docstring; missing values leave the attribute out.
    """
    t = _from_frame(df)
    exclude = list(exclude) + _target_columns(t, target)
    if id is None and hasattr(df, "index") and hasattr(df, "columns"):
        idx = df.index
        default = type(idx).__name__ == "RangeIndex" and idx.start == 0 and idx.step == 1
        if not default:
            t = Table(dict(t.columns), t.n_rows, t.path, t.lines, t.typed)
            t.columns["__index__"] = list(idx)
            id = "__index__"
    items, inferred = _table_items(t, id, text, exclude, types)
    prose = [c for c, k in inferred.items() if k == "text" and _looks_like_prose(t.columns[c])]
    if prose and text is None:
        import warnings

        warnings.warn(f"column {prose[0]!r} looks like free text but is used as a category; pass "
                      f"text={prose[0]!r} to use its words", stacklevel=3)
    return items


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
        plain = [to_plain(v) for v in vals]
        if c in out or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in plain):
            continue
        col = np.asarray(plain, dtype=float)
        if any(np.array_equal(col, y[:, j]) for j in range(y.shape[1])):
            out.append(c)
    return out


def _looks_like_prose(values: Sequence[Any]) -> bool:
    """A text column of sentences rather than categories (long, mostly distinct values)."""
    present = [str(v) for v in values if not _missing(v)]
    if len(present) < 5:
        return False
    return float(np.median([len(v.split()) for v in present])) >= 5 and len(set(present)) > 0.5 * len(present)


def load_table(path: str | Path, target: str | Sequence[str] | None = None, *, id: str | None = None,
               text: str | Sequence[str] | None = None, encoding: str | None = None,
               types: Mapping[str, str] | None = None, drop: Sequence[str] = ()) -> TableData:
    """Read a table file and split it into items and targets (see the module docstring).

    ``target``: the target column(s) (None when predicting; columns in ``drop`` — e.g. the
    target of a model being applied — are then left out if present). ``types``: force the
    column types a model was fitted with."""
    t = read_table(path, encoding=encoding)
    targets = _as_list(target)
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
                x = v if isinstance(to_plain(v), (int, float)) and not isinstance(v, bool) else _parse_number(str(v))
                if x is None or not math.isfinite(float(x)):
                    raise GenZInputError(f"{t.where(r)}: the target {c!r} = {str(v)!r} is not a finite number")
                Y[r, j] = float(x)
    exclude = targets + [c for c in drop if c in t.columns]
    items, inferred = _table_items(t, id, text, exclude, types)
    summary = (f"{path}: {t.n_rows} rows; id: {id or 'row number'}; text: {', '.join(_as_list(text)) or 'none'}; "
               + (f"target: {', '.join(targets)}; " if targets else "")
               + describe_types(inferred, t))
    if id is None:
        ids = [c for c, k in inferred.items() if k == "text" and not _looks_like_prose(t.columns[c])
               and len({str(v) for v in t.columns[c]}) == t.n_rows and "id" in c.lower()]
        if ids:
            summary += f"; {ids[0]} looks like an id: name it with --id {ids[0]}"
    prose = [c for c, k in inferred.items() if k == "text" and _looks_like_prose(t.columns[c])]
    if prose:
        summary += f"; {', '.join(prose)} looks like free text: name it with --text {','.join(prose)}"
    return TableData(items, Y, targets, inferred, summary, id, _as_list(text))
