"""Users (or any other entities) as genz items: the second side of a two-sided model
(paper Appendix C, docs/equations.md §8).

* :func:`read_movielens_users` reads MovieLens 1M's ``users.dat``
  (``UserID::Gender::Age::Occupation::Zip-code``) into one :class:`~genz.items.Item` per user:
  gender as a word, the age bracket decoded ("18-24"), the occupation decoded
  ("college/grad student"), the zip code with its city and state from the offline ``zipcodes``
  package, as attributes and as a short text ("Woman, age 18-24, college/grad student, from
  Ann Arbor, MI (zip 48104)").
* :func:`load_entities` is the general path: any table of entities with attributes (a genz
  items JSONL file, or a CSV/TSV file with an ``id`` column) becomes a list of items, so that
  products, buyers, plants or places can be a side just as users are.

A malformed line raises a one-line :class:`~genz.errors.GenZInputError` naming ``file:line:``.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from pathlib import Path
from typing import Any

from ..errors import GenZInputError
from ..items import Item, load_items

__all__ = ["ML1M_AGES", "ML1M_OCCUPATIONS", "read_movielens_users", "load_entities", "zip_place"]

#: MovieLens 1M age codes → brackets (README of the data set)
ML1M_AGES = {1: "under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+"}

#: MovieLens 1M occupation codes → names (README of the data set)
ML1M_OCCUPATIONS = {
    0: "other or not specified", 1: "academic/educator", 2: "artist", 3: "clerical/admin",
    4: "college/grad student", 5: "customer service", 6: "doctor/health care",
    7: "executive/managerial", 8: "farmer", 9: "homemaker", 10: "K-12 student", 11: "lawyer",
    12: "programmer", 13: "retired", 14: "sales/marketing", 15: "scientist", 16: "self-employed",
    17: "technician/engineer", 18: "tradesman/craftsman", 19: "unemployed", 20: "writer",
}  # fmt: skip

_GENDERS = {"M": "man", "F": "woman"}


@functools.lru_cache(maxsize=None)
def zip_place(zipcode: str) -> tuple[str, str] | None:
    """``(city, state)`` of a US zip code (its first five digits) from the ``zipcodes``
    package's bundled database (offline), or ``None`` when it is unknown or the package (the
    ``experiments`` extra) is not installed."""
    try:
        import zipcodes  # bundled database, no network
    except ImportError:
        return None

    z5 = zipcode.strip()[:5]
    if len(z5) != 5 or not z5.isdigit():
        return None
    try:
        matches = zipcodes.matching(z5)
    except (ValueError, TypeError):
        return None
    if not matches:
        return None
    m = matches[0]
    city, state = str(m.get("city") or ""), str(m.get("state") or "")
    if not city or not state:
        return None
    return (city.title() if city.isupper() else city), state


def _user_item(uid: int, gender: str, age: int, occ: int, zipcode: str, places: bool) -> Item:
    attrs: dict[str, Any] = {
        "gender": _GENDERS[gender],
        "age": ML1M_AGES[age],
        "occupation": ML1M_OCCUPATIONS[occ],
        "zipcode": zipcode,
    }
    where = f"zip {zipcode}"
    place = zip_place(zipcode) if places else None
    if place is not None:
        attrs["city"], attrs["state"] = place
        where = f"{place[0]}, {place[1]} (zip {zipcode})"
    text = f"{attrs['gender'].capitalize()}, age {attrs['age']}, {attrs['occupation']}, from {where}"
    return Item(id=str(uid), text=text, attributes=attrs)


def read_movielens_users(path: str | Path, *, places: bool = True) -> list[Item]:
    """MovieLens 1M ``users.dat`` (or a folder holding it) as items, in file order.

    Each item has id = the user id and attributes ``gender`` ("man"/"woman"), ``age`` (the
    bracket in words), ``occupation`` (decoded), ``zipcode`` and, when ``places`` and the zip
    code is known to the ``zipcodes`` database, ``city`` and ``state``. The text repeats them
    in one short sentence. Unknown codes, wrong field counts, duplicate ids and blank files are
    reported as ``file:line: ...``."""
    path = Path(path)
    if path.is_dir():
        path = path / "users.dat"
    if not path.is_file():
        raise GenZInputError(f"{path}: no such file (MovieLens 1M users.dat)")
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as exc:
        raise GenZInputError(f"{path}: cannot read ({exc.strerror})") from None
    items: list[Item] = []
    seen: dict[int, int] = {}
    for lineno, ln in enumerate(text.splitlines(), start=1):
        s = ln.strip()
        if not s:
            continue
        parts = s.split("::")
        if len(parts) != 5:
            raise GenZInputError(
                f"{path}:{lineno}: expected 5 fields 'UserID::Gender::Age::Occupation::Zip-code', "
                f"got {len(parts)}: {s[:80]!r}"
            )
        uid_s, gender, age_s, occ_s, zipcode = (p.strip() for p in parts)
        try:
            uid, age, occ = int(uid_s), int(age_s), int(occ_s)
        except ValueError:
            bad = next(v for v in (uid_s, age_s, occ_s) if not v.lstrip("-").isdigit())
            raise GenZInputError(f"{path}:{lineno}: {bad!r} is not an integer (user id, age and occupation are codes)") from None
        if gender not in _GENDERS:
            raise GenZInputError(f"{path}:{lineno}: gender {gender!r} is not M or F")
        if age not in ML1M_AGES:
            raise GenZInputError(f"{path}:{lineno}: age code {age} is not one of {sorted(ML1M_AGES)}")
        if occ not in ML1M_OCCUPATIONS:
            raise GenZInputError(f"{path}:{lineno}: occupation code {occ} is not in 0-20")
        if not zipcode:
            raise GenZInputError(f"{path}:{lineno}: user {uid} has an empty zip code")
        if uid in seen:
            raise GenZInputError(f"{path}:{lineno}: duplicate user id {uid} (first on line {seen[uid]})")
        seen[uid] = lineno
        items.append(_user_item(uid, gender, age, occ, zipcode, places))
    if not items:
        raise GenZInputError(f"{path}: no users")
    return items


def _cell(value: str) -> Any:
    """A CSV cell as a number when it reads as a finite one, else the stripped string."""
    v = value.strip()
    try:
        x = int(v)
        return x
    except ValueError:
        pass
    try:
        f = float(v)
    except ValueError:
        return v
    return f if math.isfinite(f) else v


def load_entities(path: str | Path, *, id_column: str = "id", text_column: str | None = "text") -> list[Item]:
    """Any table of entities as items: a genz items file (``.jsonl``) or a delimited table
    (``.csv``, ``.tsv``) with a header, an ``id_column`` and any other columns as attributes
    (numbers parsed, empty cells left out). The item text is ``text_column`` when the table has
    one, else ``"name: value; ..."`` over the attributes. MovieLens' ``users.dat`` is
    recognised by its name."""
    path = Path(path)
    if path.is_dir() or path.name == "users.dat":
        return read_movielens_users(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        return load_items(path)
    if not path.is_file():
        raise GenZInputError(f"{path}: no such file")
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GenZInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(io.StringIO(raw), delimiter=delim)
    header: list[str] | None = None
    items: list[Item] = []
    seen: dict[str, int] = {}
    for row in reader:
        lineno = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            if id_column not in header:
                raise GenZInputError(f"{path}:{lineno}: the header has no {id_column!r} column: {header}")
            continue
        if len(row) != len(header):
            raise GenZInputError(f"{path}:{lineno}: {len(row)} fields, the header has {len(header)}")
        rec = dict(zip(header, row))
        iid = rec.pop(id_column).strip()
        if not iid:
            raise GenZInputError(f"{path}:{lineno}: empty {id_column!r}")
        if iid in seen:
            raise GenZInputError(f"{path}:{lineno}: duplicate id {iid!r} (first on line {seen[iid]})")
        seen[iid] = lineno
        text = rec.pop(text_column, "").strip() if text_column else ""
        attrs = {k: _cell(v) for k, v in rec.items() if v.strip()}
        if not text:
            text = "; ".join(f"{k}: {v}" for k, v in attrs.items())
        items.append(Item(id=iid, text=text, attributes=attrs))
    if not items:
        raise GenZInputError(f"{path}: no entities")
    return items
