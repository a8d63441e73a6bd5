"""Reading table files as their writers wrote them: CSV/TSV (delimiter and decimal comma
sniffed), Parquet (pandas' index metadata honoured), JSONL of flat records, and Excel workbooks
(with openpyxl when it is installed, otherwise a message to save the sheet as CSV).

pandas' ``df.to_csv("t.csv")`` writes the index as a first column without a name; a Parquet
file written by pandas lists its index columns in its metadata. Such a column is the file's
*index*: it is left out of the attributes (with a note in :attr:`Table.notes`) unless ``--id``
names it (``--id ""`` names an unnamed one). A named Parquet index (``df.set_index("car_id")``)
gives the items their ids.

The conversion of the columns into items is :mod:`genz.tables`.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GenZInputError
from .items import decode_text, read_bytes

__all__ = ["Table", "read_table", "from_records", "DELIMITERS", "parse_delimiter", "UNNAMED"]

#: the delimiters sniffed, in order of preference on a tie
DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: the name given to an unnamed first column (pandas' own name for it)
UNNAMED = "Unnamed: 0"
_UNNAMED_RE = re.compile(r"^Unnamed: \d+$")
# a number written with a decimal comma: 3,5 · -1.234,56 · 1234,5
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+\s*$")
_DECIMAL_POINT = re.compile(r"^\s*[-+]?\d+\.(?:\d{1,2}|\d{4,})\s*$")


@dataclass
class Table:
    """Columns of a table as read from a file: ``columns[name]`` is a list with one value per
    row (strings for CSV/TSV; JSON values for JSONL; Python values for Parquet and Excel),
    ``lines[i]`` the file line where row ``i`` starts (for messages). ``index_columns``: the
    file's index (left out unless ``--id`` names one); ``index_id``: a named index that gives
    the ids when no ``--id`` is given; ``decimal``: ``","`` for numbers written with a decimal
    comma; ``notes``: what the reader decided that the user should know."""

    columns: dict[str, list[Any]]
    n_rows: int
    path: str = "table"
    lines: list[int] | None = None
    typed: bool = False  # values carry their own types (JSONL, Parquet, DataFrame, Excel)
    index_columns: list[str] = field(default_factory=list)
    index_id: str | None = None
    decimal: str = "."
    notes: list[str] = field(default_factory=list)

    def where(self, row: int) -> str:
        if self.lines is not None:
            return f"{self.path}:{self.lines[row]}"
        return f"{self.path}: row {row + 1}"


def parse_delimiter(value: str | None) -> str | None:
    """``--delimiter``: one character, or ``tab``/``\\t``, ``comma``, ``semicolon``, ``pipe``."""
    if value is None or value == "":
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    d = named.get(value.lower(), value)
    if len(d) != 1 or d in "\"\r\n" or d.isalnum():
        raise GenZInputError(f"--delimiter {value!r}: give one character such as ';' or ',', or 'tab'")
    return d


# ------------------------------------------------------------------------------------------------
def _format_of(path: Path, head: bytes) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if head[:4] == b"PAR1" or name.endswith((".parquet", ".pq")):
        return "parquet"
    if head[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith((".xls", ".ods", ".numbers")):
        return "spreadsheet"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "jsonl"
    return "csv"  # the delimiter is sniffed


def read_table(path: str | Path, encoding: str | None = None, fmt: str | None = None,
               delimiter: str | None = None) -> Table:
    """Read a table file (CSV, TSV, Parquet, JSONL of flat records, Excel; gzip recognised).
    ``delimiter``: the CSV delimiter (sniffed among ``, ; tab |`` when None)."""
    path = Path(path)
    if not path.exists():
        raise GenZInputError(f"{path}: no such data file")
    if path.is_dir():
        raise GenZInputError(f"{path}: is a directory, expected a table file (CSV, TSV, Parquet or JSONL)")
    data = read_bytes(path)
    fmt = fmt or _format_of(path, data[:4096])
    if fmt == "parquet":
        return _read_parquet(path, data)
    if fmt == "xlsx":
        return _read_xlsx(path, data)
    if fmt == "spreadsheet":
        raise GenZInputError(f"{path}: a spreadsheet file genz cannot read; save the sheet as CSV (in Excel: "
                             "File > Save As > CSV UTF-8) and pass that file")
    text = decode_text(data, path, encoding)  # the bytes already read, not the file again
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    given = parse_delimiter(delimiter)
    sep = given or _sniff_delimiter(text, "\t" if fmt == "tsv" else ",")
    table = _read_delimited(path, text, sep, sniffed=given is None)
    return table


def _widths(text: str, delimiter: str, rows: int = 60) -> list[int]:
    """The number of cells of the first non-blank rows of ``text`` (the last, perhaps cut, row
    left out)."""
    sample = text[:200_000]
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    out: list[int] = []
    try:
        for row in reader:
            if row and any(c.strip() for c in row):
                out.append(len(row))
            if len(out) > rows:
                break
    except csv.Error:
        return out
    if len(sample) < len(text) and len(out) > 2:
        out = out[:-1]
    return out


def _sniff_delimiter(text: str, default: str) -> str:
    """The delimiter that splits the header into at least two cells and (nearly) every row
    into as many; on a tie the file's own kind (``default``), then the widest."""
    best: tuple | None = None
    for d in DELIMITERS:
        w = _widths(text, d)
        if not w or w[0] < 2:
            continue
        rows = w[1:] or [w[0]]
        share = sum(x == w[0] or (x > w[0]) for x in rows) / len(rows)
        exact = sum(x == w[0] for x in rows) / len(rows)
        if share < 0.9:
            continue
        key = (exact >= 0.9, d == default, w[0])
        if best is None or key > best[0]:
            best = (key, d)
    return best[1] if best is not None else default


def _read_delimited(path: Path, text: str, delimiter: str, sniffed: bool = True) -> Table:
    try:
        csv.field_size_limit(sys.maxsize)
    except OverflowError:  # a C long smaller than sys.maxsize (Windows)
        csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    start = 1
    kind = "TSV" if delimiter == "\t" else "CSV"
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
        raise GenZInputError(f"{path}:{reader.line_num}: not valid {kind} ({exc}); check the quotes on that "
                             "line") from None
    if header is None:
        raise GenZInputError(f"{path}: the data file is empty")
    if not rows:
        raise GenZInputError(f"{path}: the data file has a header but no rows")
    notes: list[str] = []
    index: list[str] = []
    if header and header[0] == "" and len(header) > 1:  # pandas' df.to_csv(): the index, without a name
        name = UNNAMED if UNNAMED not in header else "__index__"
        header[0] = name
        index.append(name)
    _check_header(path, header)
    width = len(header)
    cols: dict[str, list[Any]] = {h: [] for h in header}
    for row, line in zip(rows, lines):
        if len(row) != width:
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]  # trailing empty cells (spreadsheets write them)
            else:
                raise GenZInputError(_width_message(path, line, len(row), width, delimiter, sniffed))
        for h, cell in zip(header, row):
            cols[h].append(cell)
    index += [h for h in header if _UNNAMED_RE.match(h) and h not in index and _counts_rows(cols[h])]
    for name in index:
        use = '--id ""' if name == header[0] else f"--id {name!r}"
        notes.append(f"column {name!r} is the file's index (pandas' df.to_csv() writes it without a name): left "
                     f"out; {use} uses it as the id")
    decimal = "."
    if delimiter != ",":
        decimal = _decimal_of(cols)
    if sniffed and delimiter != ",":
        notes.append(f"read as {_NAMES.get(delimiter, repr(delimiter))}-separated"
                     + (" with decimal commas" if decimal == "," else "") + " (--delimiter to change)")
    elif decimal == ",":
        notes.append("numbers read with decimal commas")
    return Table(cols, len(rows), str(path), lines, typed=False, index_columns=index, decimal=decimal,
                 notes=notes)


def _counts_rows(values: Sequence[Any]) -> bool:
    """0, 1, 2, ... or 1, 2, 3, ... (a row counter)."""
    try:
        nums = [int(str(v).strip()) for v in values]
    except ValueError:
        return False
    return nums == list(range(nums[0], nums[0] + len(nums))) and nums[0] in (0, 1) if nums else False


def _width_message(path: Path, line: int, n: int, width: int, delimiter: str, sniffed: bool) -> str:
    sep = _NAMES.get(delimiter, repr(delimiter))
    msg = f"{path}:{line}: {n} cells, the header has {width} ({sep}-separated"
    msg += ", as sniffed from the first lines)" if sniffed else ", from --delimiter)"
    if width == 1 or n == 1:
        return msg + "; if the file uses another delimiter, pass it: --delimiter ';' (or tab, '|', ',')"
    return msg + f"; quote values that contain a {sep}, or fix that line"


def _decimal_of(cols: Mapping[str, list[Any]]) -> str:
    """``","`` when numbers are written with a decimal comma (``3,5``) and none with a decimal
    point; else ``"."``."""
    comma = point = False
    for vals in cols.values():
        for v in vals[:2000]:
            if isinstance(v, str):
                if not comma and _DECIMAL_COMMA.match(v):
                    comma = True
                elif not point and _DECIMAL_POINT.match(v):
                    point = True
        if point:
            return "."
    return "," if comma else "."


def _check_header(path: Path, header: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, h in enumerate(header):
        if not h:
            raise GenZInputError(f"{path}:1: column {i + 1} of the header has no name; name it or delete the column")
        if h in seen:
            raise GenZInputError(f"{path}:1: the column name {h!r} appears twice in the header; rename one")
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
    table = from_records(records, str(path), lines)
    _epoch_dates(table)
    return table


#: column names pandas' read_json reads as dates (its keep_default_dates rule)
_DATE_NAME = re.compile(r"(?i)^(date|datetime|modified|timestamp.*)$|(_at|_time)$")


def _epoch_dates(table: Table) -> None:
    """Dates as pandas' ``to_json`` writes them: milliseconds since 1970 (1973-2099), in a
    column named like a date (``date``, ``created_at``, ``start_time``, ``timestamp``...;
    pandas' own rule for reading them back) or all at midnight (whole days: a date column),
    rewritten as date strings (UTC)."""
    from datetime import datetime, timezone

    for name, vals in table.columns.items():
        present = [v for v in vals if v is not None]
        if not present or not all(isinstance(v, int) and not isinstance(v, bool) and 1e11 <= v <= 4.1e12
                                  for v in present):
            continue
        if not _DATE_NAME.search(name) and not all(v % 86_400_000 == 0 for v in present):
            continue
        stamps = [None if v is None else datetime.fromtimestamp(v / 1000, tz=timezone.utc).replace(tzinfo=None)
                  for v in vals]
        timed = any(s is not None and (s.hour, s.minute, s.second) != (0, 0, 0) for s in stamps)
        fmt = "%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d"
        table.columns[name] = [None if s is None else s.strftime(fmt) for s in stamps]
        table.notes.append(f"{name} read as dates (milliseconds since 1970, as pandas' to_json writes them)")


def from_records(records: Sequence[Mapping[str, Any]], path: str, lines: list[int] | None) -> Table:
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
    if t.num_rows == 0:
        raise GenZInputError(f"{path}: the data file has no rows")
    cols = {str(k): list(v) for k, v in t.to_pydict().items()}
    table = Table(cols, t.num_rows, str(path), None, typed=True)
    meta = t.schema.pandas_metadata or {}
    for name in meta.get("index_columns") or []:
        if not isinstance(name, str) or name not in cols:
            continue  # a RangeIndex is stored as metadata only
        if name.startswith("__index_level_"):
            table.index_columns.append(name)
            table.notes.append(f"column {name!r} is the file's pandas index (unnamed): left out; --id {name} "
                               "uses it as the id")
        elif table.index_id is None and len({str(v) for v in cols[name]}) == t.num_rows:
            table.index_columns.append(name)
            table.index_id = name
            table.notes.append(f"the file's pandas index {name!r} gives the ids")
        # a named index with repeated values is data (df.set_index("make")): an attribute like any column
    return table


def _read_xlsx(path: Path, data: bytes) -> Table:
    """The first sheet of an Excel workbook, through openpyxl when it is installed."""
    try:
        import openpyxl
    except ImportError:
        raise GenZInputError(f"{path}: an Excel workbook; save the sheet as CSV (in Excel: File > Save As > "
                             "CSV UTF-8) and pass that file, or pip install openpyxl to read .xlsx directly") from None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise GenZInputError(f"{path}: not a readable Excel workbook ({' '.join(str(exc).split())[:160]}); "
                             "save it as CSV and pass that file") from None
    ws = wb.worksheets[0]
    numbered = [(i + 1, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True))]
    sheets = list(wb.sheetnames)
    wb.close()
    numbered = [(i, r) for i, r in numbered if any(v is not None and str(v).strip() for v in r)]
    if not numbered:
        raise GenZInputError(f"{path}: the first sheet is empty")
    header = ["" if h is None else str(h).strip() for h in numbered[0][1]]
    while header and header[-1] == "":
        header.pop()
    body = [r[:len(header)] + [None] * (len(header) - len(r)) for _, r in numbered[1:]]
    if not body:
        raise GenZInputError(f"{path}: the first sheet has a header but no rows")
    index: list[str] = []
    if header and header[0] == "" and len(header) > 1:
        header[0] = UNNAMED
        index.append(UNNAMED)
    _check_header(path, header)
    cols = {h: [r[j] for r in body] for j, h in enumerate(header)}
    notes = [f"read the first sheet, {ws.title!r}" + (f", of {len(sheets)}" if len(sheets) > 1 else "")]
    notes += [f"column {n!r} has no name: left out as the index; --id \"\" uses it as the id" for n in index]
    return Table(cols, len(body), str(path), [i for i, _ in numbered[1:]], typed=True,
                 index_columns=index, notes=notes)
