"""Reading a text as a person would: its "field: value" clauses and its numbers with what they
measure.

A text is cut into sentences (at ``. ! ? ;`` before a space or the end, and at line breaks) and
each sentence into parts (at ``", "``). A part that starts with a label and a colon
(``Garage: attached``) opens a *field* (``garage``); the parts after it in the same sentence
belong to that field (``Garage: attached, built 2003, 2 cars``); other parts are free text.

A number (``1,656``, ``0.4``, ``$250``, ``6/10``, ``15%``, ``2-car``) is kept with its *key*:

* its **label**: the field it is in, followed by the content words right before it in its part
  (``Year built: 1960`` → ``year built``; ``Garage: ..., built 2003`` → ``garage built``;
  ``Built 1960`` → ``built``; ``in zip code 85255`` → ``zip code``);
* its **unit**: ``$`` before it; ``/10`` (a rating: ``/4``, ``/5``, ``/10``, ``/20``, ``/100``)
  or ``%`` right after it; or the word after it (two words after ``sq``, ``square``, ``half``,
  ``full``, ...; ``years old``), singular (``2 cars`` → ``car``); none after a function word.

A number with neither a label nor a unit says nothing on its own and is dropped, as are dates
(``2/2008``), times (``10:30``), parts of codes (``A-113``) and identifiers: a number whose label
ends in a word such as ``code``, ``zip``, ``id`` or ``phone`` (``zip code 85255``) names
something, it does not measure it, so ranges of it mean nothing. A whole number from 1800 to 2100
right before a capitalised word (``2008 Subaru for sale``) is a year: its label is ``year``. Where a text has a key twice,
the first number counts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...items import Item
from .phrases import FUNCTION_WORDS
from .values import _memo

__all__ = ["NumberKey", "TextStructure", "parse_text", "text_structures", "normalize_label", "normalize_unit",
           "RATING_SCALES", "QUANTITIES", "quantity_of"]

#: denominators read as a rating scale (``6/10``); other ``a/b`` are dates or fractions, dropped
RATING_SCALES = frozenset({4, 5, 10, 20, 100})
#: first words of two-word units
_TWO_WORD_UNITS = frozenset({"sq", "square", "cubic", "cu", "half", "full", "linear", "fl", "per"})
_AFTER_TIME = frozenset({"old", "ago"})
#: what a unit measures, to name a number that has no label (``the text's area``)
QUANTITIES = {
    "sq ft": "area", "square foot": "area", "square feet": "area", "sqft": "area", "sf": "area",
    "square meter": "area", "square metre": "area", "sq m": "area", "m2": "area", "acre": "area",
    "hectare": "area", "$": "amount", "usd": "amount", "dollar": "amount", "eur": "amount", "euro": "amount",
    "mile": "distance", "km": "distance", "kilometer": "distance", "kilometre": "distance", "meter": "distance",
    "metre": "distance", "%": "percentage", "percent": "percentage",
}



def quantity_of(unit: str) -> str | None:
    """What a unit measures (``sq ft`` → area, ``$`` → amount, ``/10`` → rating), if known."""
    if unit.startswith("$"):
        return "amount"
    if unit.startswith("/"):
        return "rating"
    return QUANTITIES.get(unit)


_SENTENCE = re.compile(r"[.!?;]+(?=\s|$)|\n+")
_PART = re.compile(r",\s+")
_LABEL = re.compile(r"^\s*((?:\d+(?:st|nd|rd|th)\s+)?[^\W\d_][\w'&/\-]*(?:[ \t]+[\w'&/\-]+){0,5}?)\s*:\s+(\S.*)$",
                    re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.,/$-])(?:(\$)[ \t]?)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:/(\d+))?(%)?"
                     r"(?![\w,/]*\d)(?![.:\-]\d)")
_WORD = re.compile(r"[^\W\d_]+")
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b")


#: last words of a label that make its number an identifier, not a quantity
IDENTIFIER_WORDS = frozenset({"code", "zip", "zipcode", "postcode", "postal", "id", "phone", "tel", "telephone",
                              "fax", "vin", "serial", "sku", "isbn", "ref", "reference", "account", "no", "ticket",
                              "order", "invoice", "lot", "parcel", "extension", "ext"})


def normalize_label(label: str) -> str:
    """A label as a key: lower case, letters, digits, spaces, ``&``, ``/`` and ``-`` only
    (apostrophes dropped), single spaces."""
    s = re.sub(r"[^\w\s&/\-]", "", label.lower()).replace("_", " ")
    return " ".join(s.split())


def _singular(w: str) -> str:
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def normalize_unit(unit: str) -> str:
    """A unit as a key: lower case, each word singular (``cars`` → ``car``, ``Sq Ft`` →
    ``sq ft``); ``$``, ``%`` and ``/10`` as they are."""
    unit = unit.strip().lower()
    if not unit or unit in ("$", "%") or unit.startswith("/"):
        return unit
    pre = ""
    if unit.startswith("$"):
        pre, unit = "$ ", unit[1:].strip()
    return pre + " ".join(_singular(w) for w in unit.split())


@dataclass(frozen=True)
class NumberKey:
    """What a number in a text measures: its label (field and words before it) and its unit
    (both normalised; either may be empty, not both). ``shown`` (how the texts write the unit)
    and ``grouped`` (whether they write thousands separators) only change how a descriptor
    reads, never what it means: they take no part in equality."""

    label: str
    unit: str
    shown: str = field(default="", compare=False)
    grouped: bool = field(default=False, compare=False)

    @property
    def display_unit(self) -> str:
        return self.shown or self.unit


@dataclass
class TextStructure:
    """One text read: its fields (label → value parts, in order), its free parts, and its
    numbers (key → first value; key → how the text writes the unit; keys written with
    thousands separators)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    free: list[str] = field(default_factory=list)
    numbers: dict[NumberKey, float] = field(default_factory=dict)
    surface: dict[NumberKey, str] = field(default_factory=dict)
    grouped: set = field(default_factory=set)


def _unit_after(rest: str) -> str:
    """The unit word(s) right after a number (``rest`` starts right after it)."""
    m = re.match(r"^(?:-|[ \t]+)([^\W\d_]+)(?:[ \t]+([^\W\d_]+))?", rest)
    if not m:
        return ""
    w1 = m.group(1)
    if w1.lower() in FUNCTION_WORDS:
        return ""
    w2 = m.group(2)
    if w2 and (w1.lower() in _TWO_WORD_UNITS or w2.lower() in _AFTER_TIME) and w2.lower() not in FUNCTION_WORDS:
        return f"{w1} {w2}"
    return w1


def _words_before(head: str) -> str:
    """Up to two content words right before a number, with only spaces between them and it
    (``head`` is the part up to the number)."""
    words: list[str] = []
    for w in reversed(head.rstrip(" \t").split(" ")) if head[-1:] in (" ", "\t") else []:
        if len(words) == 2 or not _WORD.fullmatch(w) or w.lower() in FUNCTION_WORDS:
            break
        words.insert(0, w)
    return " ".join(words)


def _numbers(part: str, label: str, out: TextStructure) -> None:
    for m in _NUMBER.finditer(part):
        dollar, whole, frac, den, pct = m.groups()
        start, end = m.start(), m.end()
        if den is not None:
            d = int(den)
            if d not in RATING_SCALES or float(whole.replace(",", "") + (frac or "")) > d:
                continue  # a date or a fraction
        value = float(whole.replace(",", "") + (frac or ""))
        rest = part[end:]
        o = _ORDINAL.match(part, end)
        if o:
            rest = part[o.end():]
        if den is not None:
            unit = f"/{den}"
        elif pct:
            unit = "%"
        else:
            unit = _unit_after(rest)
            if dollar:
                unit = "$" + (f" {unit}" if unit else "")
        before = _words_before(part[:start])
        lab = normalize_label(" ".join(s for s in (label, before) if s))
        if o and unit and not before:  # "3rd floor": the word names the number
            lab, unit = normalize_label(" ".join(s for s in (label, unit) if s)), ""
        if lab and lab.split()[-1] in IDENTIFIER_WORDS:
            continue  # an identifier (zip code 85255): it names, it does not measure
        if (not lab and not dollar and not pct and den is None and frac is None and "," not in whole
                and 1800 <= value <= 2100 and unit and unit[:1].isupper() and quantity_of(normalize_unit(unit)) is None):
            lab, unit = "year", ""  # "2008 Subaru for sale": a year, not a count of Subarus
        key = NumberKey(lab, normalize_unit(unit))
        if not key.label and not key.unit:
            continue  # a bare number says nothing on its own
        if key not in out.numbers:
            out.numbers[key] = value
            out.surface[key] = unit.lower() if unit not in ("$",) else "$"
            if "," in whole:
                out.grouped.add(key)


def parse_text(text: str) -> TextStructure:
    """Fields, free parts and numbers of one text (see the module docstring)."""
    out = TextStructure()
    for sentence in _SENTENCE.split(text or ""):
        current: str | None = None
        for k, part in enumerate(_PART.split(sentence)):
            part = part.strip()
            if not part:
                continue
            m = _LABEL.match(part)
            if m and not re.search(r"\d:\d", part[: m.end(1) + 2]):
                current = normalize_label(m.group(1))
                if current:
                    value = m.group(2).strip()
                    out.fields.setdefault(current, []).append(value)
                    _numbers(value, current, out)
                    continue
            if k == 0:
                current = None
            if current is None:
                out.free.append(part)
                _numbers(part, "", out)
            else:
                out.fields.setdefault(current, []).append(part)
                _numbers(part, current, out)
    return out


@functools.lru_cache(maxsize=65536)
def _parsed(text: str) -> TextStructure:
    return parse_text(text)


def text_structures(items: Sequence[Item]) -> tuple[TextStructure, ...]:
    """:func:`parse_text` of every item's text (shared, not to be mutated): once per text while
    it stays in a cache of 65,536 texts, and once per list of items (see ``values._memo``)."""
    return _memo("text-structure", items, None, lambda its: tuple(_parsed(it.text or "") for it in its))


def number_values(items: Sequence[Item], key: NumberKey) -> np.ndarray:
    """The number of ``key`` in every item's text (NaN where it has none; read-only)."""

    def make(its: Sequence[Item]) -> np.ndarray:
        v = np.array([s.numbers.get(key, np.nan) for s in text_structures(its)], dtype=float)
        v.flags.writeable = False
        return v

    return _memo("text-number", items, f"{key.label}\x00{key.unit}", make)


#: a field is read as a field only where at least this share of the texts (and ``min_support``
#: texts) have it; a rarer "label: value" ("Star Wars: Episode IV") is free text
COMMON_FIELD = 0.02


def common_fields(structs: Sequence[TextStructure], min_support: int) -> set[str]:
    """The fields that enough texts have to be read as fields (:data:`COMMON_FIELD`)."""
    count: dict[str, int] = {}
    for st in structs:
        for label in st.fields:
            count[label] = count.get(label, 0) + 1
    need = max(min_support, int(np.ceil(COMMON_FIELD * len(structs))))
    return {label for label, c in count.items() if c >= need}


def free_docs(structs: Sequence[TextStructure], common: set[str]) -> list[str]:
    """Each text's free text: its free parts, and its rare fields written back as "label: value"."""
    return [". ".join(list(st.free) + [f"{label}: {', '.join(v)}" for label, v in st.fields.items()
                                       if label not in common]) for st in structs]
