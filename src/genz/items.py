"""Items, targets and side inputs: loading and validation.

An item is what the foundation model sees: an ``id``, free ``text``, optional ``attributes``
(a JSON object of numbers, strings or lists of strings) and optional image paths. Targets are
an N×D float array (docs/equations.md §1, ``y_n``); optional side inputs are an N×P float array (``u_n``).

Every loader reports bad input as a one-line :class:`~genz.errors.GenZInputError` that names
the file, the line and the item.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import numbers
from collections.abc import Iterable, Sequence, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GenZInputError

__all__ = [
    "Item",
    "items_from_texts",
    "read_text",
    "to_plain",
    "load_items",
    "save_items",
    "load_targets",
    "side_inputs_from_attributes",
    "check_targets",
    "check_side_inputs",
]


@dataclass(frozen=True)
class Item:
    """One semantic item ``x_n``."""

    id: str
    text: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # numpy/pandas scalars become Python numbers, missing values (None, NaN, pandas NA)
        # are dropped, ``attributes=None`` means no attributes (one place, so that every
        # consumer — predicates, prompts, hashes — sees plain JSON values)
        object.__setattr__(self, "id", str(self.id))
        object.__setattr__(self, "text", "" if _is_missing(self.text) else str(self.text))
        attrs = {} if self.attributes is None else self.attributes
        if not isinstance(attrs, dict):
            raise GenZInputError(f"item {self.id!r}: attributes must be a dict, not {type(attrs).__name__}")
        clean = {}
        for k, v in attrs.items():
            v = to_plain(v)
            if v is not None:
                clean[str(k)] = v
        object.__setattr__(self, "attributes", clean)
        object.__setattr__(self, "images", tuple(str(p) for p in (self.images or ())))

    def __hash__(self) -> int:  # attributes is a dict; hash by content
        return hash(self.content_hash())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.attributes:
            out["attributes"] = self.attributes
        if self.images:
            out["images"] = list(self.images)
        return out

    def content_hash(self) -> str:
        """A stable hash of what the foundation model is shown (not the id)."""
        payload = json.dumps(
            {"text": self.text, "attributes": self.attributes, "images": list(self.images)},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    def render(self) -> str:
        """The item as the text shown to a language model: text, then attributes as JSON (an
        item with neither — a table row whose cells are all empty — says so; one with only
        images is shown by its id)."""
        parts = []
        if self.text:
            parts.append(self.text)
        if self.attributes:
            parts.append(json.dumps(self.attributes, ensure_ascii=False, sort_keys=True))
        if parts:
            return " ".join(parts)
        return self.id if self.images else "(no text and no attribute values)"


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    if type(v).__name__ in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT
        return True
    if isinstance(v, np.floating):
        return bool(np.isnan(v))
    return False


def to_plain(v: Any) -> Any:
    """A JSON-able Python value of an attribute: numpy and pandas scalars become ``bool``,
    ``int``, ``float`` or ``str``; missing values (None, NaN, ``pandas.NA``) become None;
    arrays and tuples become lists."""
    if _is_missing(v):
        return None
    if isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [to_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v) if not _is_missing(x)]
    if hasattr(v, "isoformat"):  # dates and timestamps
        return v.isoformat()
    if hasattr(v, "item") and callable(v.item):  # other numpy scalars
        return to_plain(v.item())
    return v


def read_text(path: str | Path, encoding: str | None = None, what: str = "file") -> str:
    """The text of a file: gzip recognised by its magic bytes, UTF-8 with or without a byte-order
    mark (UTF-16 with one) unless ``encoding`` is given; undecodable bytes raise a one-line GenZInputError naming
    the byte offset and what to do."""
    path = Path(path)
    if not path.exists():
        raise GenZInputError(f"{path}: no such {what} file")
    if path.is_dir():
        raise GenZInputError(f"{path}: is a directory, expected a {what} file")
    return decode_text(read_bytes(path), path, encoding)


def decode_text(data: bytes, path: str | Path, encoding: str | None = None) -> str:
    """:func:`read_text`'s decoding of bytes already read from ``path`` (named in errors)."""
    enc = encoding or ("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")  # Excel's "Unicode text"
    try:
        return data.decode(enc)
    except LookupError:
        raise GenZInputError(f"--encoding {encoding!r}: unknown encoding (e.g. utf-8, latin-1, cp1252)") from None
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        line = data.count(b"\n", 0, exc.start) + 1
        hint = ("it looks binary, not a text file" if b"\0" in data[:4096]
                else "pass --encoding with the file's encoding (e.g. --encoding latin-1), or save it as UTF-8")
        raise GenZInputError(
            f"{path}:{line}: byte 0x{bad} at offset {exc.start} is not {enc.replace('-sig', '')}; {hint}"
        ) from None


def read_bytes(path: str | Path) -> bytes:
    """A file's bytes, gunzipped when it starts with gzip's magic bytes (whatever its name)."""
    import gzip
    import zlib

    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise GenZInputError(f"{path}: a damaged gzip file ({exc})") from None
    return data


def items_from_texts(texts: Iterable[Any], ids: Iterable[Any] | None = None) -> list[Item]:
    """Items with only text, e.g. ``items_from_texts(str(n) for n in range(512))``."""
    texts = [str(t) for t in texts]
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(texts))]
    if len(ids) != len(texts):
        raise GenZInputError(f"{len(ids)} ids for {len(texts)} texts")
    _check_unique_ids(ids, where="ids")
    return [Item(id=i, text=t) for i, t in zip(ids, texts)]


def _check_unique_ids(ids: Sequence[str], where: str) -> None:
    seen: dict[str, int] = {}
    for pos, i in enumerate(ids):
        if i in seen:
            raise GenZInputError(f"{where}: duplicate id {i!r} (positions {seen[i]} and {pos})")
        seen[i] = pos


def _check_attr_value(value: Any, path: Path, lineno: int, item_id: str, key: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise GenZInputError(
                f"{path}:{lineno}: item {item_id!r}: attribute {key!r} is {value!r}, not a finite number"
            )
        return
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return
    raise GenZInputError(
        f"{path}:{lineno}: item {item_id!r}: attribute {key!r} must be a number, a string or a "
        f"list of strings, not {type(value).__name__}"
    )


def json_records(path: str | Path, content: str, what: str = "a JSON object") -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of JSONL ``content``; a line that is
    not valid JSON or not an object is a one-line :class:`GenZInputError` naming ``path`` and
    the line (``what`` says what a line should be)."""
    for lineno, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GenZInputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise GenZInputError(f"{path}:{lineno}: expected {what}, got {type(obj).__name__}")
        yield lineno, obj


def load_items(path: str | Path, encoding: str | None = None) -> list[Item]:
    """Load items from a JSONL file: one JSON object per line with ``id`` and ``text``,
    optional ``attributes`` (object) and ``images`` (list of paths, relative to the file).
    Gzipped files and a UTF-8 byte-order mark are recognised; ``encoding`` reads other
    encodings. (Tables — CSV, TSV, Parquet, flat JSONL records — are read by
    :func:`genz.tables.load_table`.)"""
    path = Path(path)
    content = read_text(path, encoding, what="items")
    items: list[Item] = []
    seen: dict[str, int] = {}
    for lineno, obj in json_records(path, content):
        if "id" not in obj:
            hint = (f" (this looks like a table row: read the file with genz fit --data {path.name} --target COLUMN "
                    "[--id COLUMN])" if "text" not in obj and "attributes" not in obj and obj else "")
            raise GenZInputError(f"{path}:{lineno}: item has no 'id'{hint}")
        item_id = obj["id"]
        if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or str(item_id) == "":
            raise GenZInputError(f"{path}:{lineno}: 'id' must be a non-empty string or integer")
        item_id = str(item_id)
        if item_id in seen:
            raise GenZInputError(
                f"{path}:{lineno}: duplicate id {item_id!r} (first seen on line {seen[item_id]})"
            )
        seen[item_id] = lineno
        text = obj.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise GenZInputError(f"{path}:{lineno}: item {item_id!r}: 'text' must be a string")
        attrs = obj.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise GenZInputError(f"{path}:{lineno}: item {item_id!r}: 'attributes' must be a JSON object")
        for key, value in attrs.items():
            _check_attr_value(value, path, lineno, item_id, key)
        images = obj.get("images") or []
        if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
            raise GenZInputError(f"{path}:{lineno}: item {item_id!r}: 'images' must be a list of paths")
        images = tuple(str((path.parent / p)) if not Path(p).is_absolute() else p for p in images)
        if not text and not attrs and not images:
            others = sorted(k for k in obj if k not in ("id", "text", "attributes", "images"))
            hint = (f" (its other keys {', '.join(map(repr, others[:6]))} belong under \"attributes\"; "
                    f"or read the file as a table: genz fit --data {path.name} --target COLUMN)") if others else ""
            raise GenZInputError(f"{path}:{lineno}: item {item_id!r} has no text, attributes or images{hint}")
        items.append(Item(id=item_id, text=text, attributes=attrs, images=images))
    if not items:
        raise GenZInputError(f"{path}: the items file is empty")
    return items


def save_items(items: Sequence[Item], path: str | Path) -> None:
    """Write items as JSONL (the format :func:`load_items` reads)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise GenZInputError(f"{path}: the folder {path.parent} does not exist; create it or choose another path")
    with path.open("w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it.to_json(), ensure_ascii=False) + "\n")


def check_targets(Y: Any, ids: Sequence[str] | None = None, name: str = "targets") -> np.ndarray:
    """Validate targets and return them as a float N×D array (a 1-d array becomes N×1)."""
    try:
        arr = np.asarray(Y, dtype=float)
    except (ValueError, TypeError):
        raise GenZInputError(f"{name}: not a rectangular array of numbers (ragged rows or non-numbers)") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise GenZInputError(f"{name}: expected an N×D array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise GenZInputError(f"{name}: empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        who = f"item {ids[row]!r}" if ids is not None and row < len(ids) else f"row {row}"
        raise GenZInputError(f"{name}: {who} has a non-finite value ({arr[row, col]}) in column {col}")
    return arr


def check_side_inputs(U: Any, n: int, ids: Sequence[str] | None = None) -> np.ndarray | None:
    """Validate side inputs: None, or a float N×P array with finite values."""
    if U is None:
        return None
    arr = check_targets(U, ids, name="side inputs")
    if arr.shape[0] != n:
        raise GenZInputError(f"side inputs: {arr.shape[0]} rows for {n} items")
    return arr


def load_targets(path: str | Path, ids: Sequence[str], encoding: str | None = None) -> np.ndarray:
    """Load targets and align them to ``ids``.

    * ``.csv``: a header row whose first column is ``id``; the other columns are the D target
      dimensions; rows matched to items by id.
    * ``.npy``: an N×D (or length-N) array whose rows follow the items file's order.
    """
    path = Path(path)
    if not path.exists():
        raise GenZInputError(f"{path}: no such targets file")
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise GenZInputError(f"{path}: not a numeric .npy array ({exc})") from None
        arr = check_targets(arr, ids, name=str(path))
        if arr.shape[0] != len(ids):
            raise GenZInputError(f"{path}: {arr.shape[0]} rows for {len(ids)} items (rows follow the items file)")
        return arr
    import io

    rows = list(csv.reader(io.StringIO(read_text(path, encoding, what="targets"), newline="")))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise GenZInputError(f"{path}: the targets file is empty")
    header = [h.strip() for h in rows[0]]
    if header[0].lower() != "id" or len(header) < 2:
        raise GenZInputError(f"{path}:1: the header must be 'id,<target columns...>', got {','.join(header)!r}")
    width = len(header)
    by_id: dict[str, tuple[int, list[float]]] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        item_id = row[0].strip()
        if len(row) != width:
            raise GenZInputError(
                f"{path}:{lineno}: item {item_id!r} has {len(row) - 1} target values, expected {width - 1}"
            )
        if item_id in by_id:
            raise GenZInputError(
                f"{path}:{lineno}: duplicate id {item_id!r} (first seen on line {by_id[item_id][0]})"
            )
        values = []
        for col, cell in zip(header[1:], row[1:]):
            try:
                v = float(cell)
            except ValueError:
                raise GenZInputError(f"{path}:{lineno}: item {item_id!r}: {col} = {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise GenZInputError(f"{path}:{lineno}: item {item_id!r}: {col} is {cell.strip()}, not finite")
            values.append(v)
        by_id[item_id] = (lineno, values)
    if not by_id:
        raise GenZInputError(f"{path}: the targets file has a header but no rows")
    missing = [i for i in ids if i not in by_id]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise GenZInputError(f"{path}: no target for item {missing[0]!r}{more}")
    return np.array([by_id[i][1] for i in ids], dtype=float)


def numeric_attributes(items: Sequence[Item], among: Iterable[str] | None = None) -> list[str]:
    """The attributes (``among`` these, default every one, sorted) with a real number, not a
    boolean, for every item."""
    def number(v: Any) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    cols = sorted({k for it in items for k, v in it.attributes.items() if number(v)}) if among is None else list(among)
    return [c for c in cols if all(number(it.attributes.get(c)) for it in items)]


def side_inputs_from_attributes(items: Sequence[Item], columns: Sequence[str]) -> np.ndarray:
    """Build the N×P side-input matrix from numeric item attributes named in ``columns``."""
    out = np.empty((len(items), len(columns)), dtype=float)
    known = sorted({k for it in items for k in it.attributes})
    for col in columns:
        if col not in known:
            have = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "") if known else "none"
            raise GenZInputError(f"side input {col!r} is not an attribute of the items (attributes: {have})")
    for n, it in enumerate(items):
        for p, col in enumerate(columns):
            if col not in it.attributes:
                raise GenZInputError(f"item {it.id!r}: side input {col!r} is missing; fill it in or drop this side input")
            v = it.attributes[col]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise GenZInputError(f"item {it.id!r}: side input {col!r} = {v!r} is not a finite number")
            out[n, p] = float(v)
    return out
