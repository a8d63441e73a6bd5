"""The predicate types of the offline engine, each rendered as plain English (parsed back by
:mod:`.grammar`) and evaluated on items."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...items import Item
from .numfmt import fmt as _fmt
from .numfmt import fmt_grouped
from .phrases import _phrase_pattern, content_words
from .textfields import NumberKey, number_values, quantity_of, text_structures
from .values import _numeric_values, _string_mask

Subject = str | None | NumberKey  # an attribute, the text read as a number, or a number in the text


_PLAIN_ATTR = re.compile(r"^[^'\\\x00-\x1f\x7f\u0085\u2028\u2029\"]*$")


def _attr(attr: str) -> str:
    """An attribute name in a rendered predicate: ``'name'``, or for a name with quotes,
    backslashes or control characters, ``attribute "json string"`` (any name round-trips)."""
    if _PLAIN_ATTR.match(attr):
        return f"'{attr}'"
    return "attribute " + json.dumps(attr, ensure_ascii=False)


def _subject(attr: Subject) -> str:
    """``the number``, an attribute (``'area'``) or a number in the text: ``the text's 'year
    built'`` (its label), ``the text's area`` (what its unit measures) or ``the text's number of
    bedrooms`` (its unit)."""
    if attr is None:
        return "the number"
    if isinstance(attr, NumberKey):
        if attr.label:
            return f"the text's '{attr.label}'"
        q = quantity_of(attr.unit)
        return f"the text's {q}" if q else f"the text's number of {attr.display_unit}"
    return _attr(attr)


def _value(attr: Subject, x: float, unit: bool = True) -> str:
    """A threshold as the subject's values read: exact digits, and for a number in the text its
    unit (``$400``, ``7/10``, ``15%``, ``1,500 sq ft``) and the text's thousands separators."""
    if not isinstance(attr, NumberKey):
        return _fmt(x)
    s = fmt_grouped(x) if attr.grouped else _fmt(x)
    u = attr.unit
    if u.startswith("$"):
        rest = attr.display_unit[1:].strip()
        return "$" + s + (f" {rest}" if rest and unit else "")
    if not unit or not u or (not attr.label and not quantity_of(u)):
        return s
    if u.startswith("/") or u == "%":
        return s + u
    return f"{s} {attr.display_unit}"


def numbers_of(items: Sequence[Item], attr: Subject) -> np.ndarray:
    """The subject's numbers for every item (NaN where there is none)."""
    return number_values(items, attr) if isinstance(attr, NumberKey) else _numeric_values(items, attr)



class Predicate(ABC):
    complexity: float = 1.0

    @abstractmethod
    def render(self) -> str:
        """The predicate in plain English (parsed back by :func:`parse_predicate`)."""

    @abstractmethod
    def evaluate(self, items: Sequence[Item]) -> np.ndarray:
        """The predicate's truth value for every item."""

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class AtLeast(Predicate):
    attr: Subject
    t: float
    complexity = 1.0

    def render(self) -> str:
        return f"{_subject(self.attr)} is at least {_value(self.attr, self.t)}"

    def evaluate(self, items):
        v = numbers_of(items, self.attr)
        return np.nan_to_num(v, nan=-np.inf) >= self.t


@dataclass(frozen=True)
class Below(Predicate):
    attr: Subject
    t: float
    complexity = 1.0

    def render(self) -> str:
        return f"{_subject(self.attr)} is below {_value(self.attr, self.t)}"

    def evaluate(self, items):
        v = numbers_of(items, self.attr)
        return np.nan_to_num(v, nan=np.inf) < self.t


@dataclass(frozen=True)
class Between(Predicate):
    attr: Subject
    lo: float
    hi: float
    complexity = 2.0

    def render(self) -> str:
        if self.lo == self.hi:
            return f"{_subject(self.attr)} is {_value(self.attr, self.lo)}"
        lo, hi = _value(self.attr, self.lo, unit=False), _value(self.attr, self.hi)
        return f"{_subject(self.attr)} is between {lo} and {hi}"

    def evaluate(self, items):
        v = numbers_of(items, self.attr)
        with np.errstate(invalid="ignore"):
            return (v >= self.lo) & (v <= self.hi)


@dataclass(frozen=True)
class ModRange(Predicate):
    attr: str | None
    m: int
    lo: int
    hi: int
    complexity = 2.0

    def render(self) -> str:
        if self.lo == self.hi:
            return f"{_subject(self.attr)} modulo {self.m} is {self.lo}"
        return f"{_subject(self.attr)} modulo {self.m} is between {self.lo} and {self.hi}"

    def evaluate(self, items):
        v = _numeric_values(items, self.attr)
        ok = np.isfinite(v) & (np.mod(np.nan_to_num(v), 1) == 0)
        r = np.mod(np.nan_to_num(v).astype(np.int64), self.m)
        return ok & (r >= self.lo) & (r <= self.hi)


@dataclass(frozen=True)
class Equals(Predicate):
    attr: str
    value: str
    complexity = 1.0

    def render(self) -> str:
        return f"{_attr(self.attr)} is {json.dumps(self.value, ensure_ascii=False)}"

    def evaluate(self, items):
        return _string_mask(items, self.attr, lambda v: v == self.value)


@dataclass(frozen=True)
class OneOf(Predicate):
    attr: str
    values: tuple[str, ...]

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return 1.0 + 0.5 * len(self.values)

    def render(self) -> str:
        return f"{_attr(self.attr)} is one of {json.dumps(list(self.values), ensure_ascii=False)}"

    def evaluate(self, items):
        s = set(self.values)
        return _string_mask(items, self.attr, lambda v: v in s)


@dataclass(frozen=True)
class StartsWith(Predicate):
    attr: str
    prefix: str
    complexity = 1.0

    def render(self) -> str:
        return f"{_attr(self.attr)} starts with {json.dumps(self.prefix, ensure_ascii=False)}"

    def evaluate(self, items):
        return _string_mask(items, self.attr, lambda v: v.startswith(self.prefix))


@dataclass(frozen=True)
class Includes(Predicate):
    attr: str
    value: str
    complexity = 1.0

    def render(self) -> str:
        return f"{_attr(self.attr)} include {json.dumps(self.value, ensure_ascii=False)}"

    def evaluate(self, items):
        out = np.zeros(len(items), dtype=bool)
        for n, it in enumerate(items):
            v = it.attributes.get(self.attr)
            if isinstance(v, list):
                out[n] = any(str(x) == self.value for x in v)
        return out


def phrase_complexity(phrase: str) -> float:
    """A phrase of one or two words costs 1, each further word ¼; a phrase with a single content
    word ¼ more (between equally good phrases, "water damage" reads better than "damage")."""
    words = phrase.split()
    return 1.0 + 0.25 * max(0, len(words) - 2) + (0.25 if len(content_words(phrase)) < 2 else 0.0)


@dataclass(frozen=True)
class Mentions(Predicate):
    phrase: str

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return phrase_complexity(self.phrase)

    def render(self) -> str:
        return f"mentions {json.dumps(self.phrase, ensure_ascii=False)}"

    def evaluate(self, items):
        pat = _phrase_pattern(self.phrase)
        return np.array([bool(pat.search(it.text)) for it in items], dtype=bool)


def _field_parts(items: Sequence[Item], label: str) -> list[list[str]]:
    return [s.fields.get(label, []) for s in text_structures(items)]


def _label(label: str) -> str:
    return f"the text's '{label}'"


@dataclass(frozen=True)
class FieldIs(Predicate):
    """A field of the text has one of ``values`` as a part (``Parking: garage, 1 space`` has
    the parts "garage" and "1 space"; case is ignored)."""

    label: str
    values: tuple[str, ...]

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return 1.0 if len(self.values) == 1 else 1.0 + 0.5 * len(self.values)

    def render(self) -> str:
        if len(self.values) == 1:
            return f"{_label(self.label)} is {json.dumps(self.values[0], ensure_ascii=False)}"
        return f"{_label(self.label)} is one of {json.dumps(list(self.values), ensure_ascii=False)}"

    def evaluate(self, items):
        want = {v.casefold() for v in self.values}
        return np.array([any(p.casefold() in want for p in parts) for parts in _field_parts(items, self.label)],
                        dtype=bool)


@dataclass(frozen=True)
class FieldMentions(Predicate):
    """A field of the text mentions a phrase (within one of its parts)."""

    label: str
    phrase: str

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return 1.0 + 0.25 * (len(self.phrase.split()) - 1)  # the field makes a single word a statement

    def render(self) -> str:
        return f"{_label(self.label)} mentions {json.dumps(self.phrase, ensure_ascii=False)}"

    def evaluate(self, items):
        pat = _phrase_pattern(self.phrase)
        return np.array([any(pat.search(p) for p in parts) for parts in _field_parts(items, self.label)],
                        dtype=bool)


@dataclass(frozen=True)
class HasField(Predicate):
    """The text has the field at all (``Pool: 512 sq ft`` only where there is a pool)."""

    label: str
    complexity = 1.0

    def render(self) -> str:
        return f"the text lists '{self.label}'"

    def evaluate(self, items):
        return np.array([self.label in s.fields for s in text_structures(items)], dtype=bool)


@dataclass(frozen=True)
class Not(Predicate):
    inner: Predicate

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return self.inner.complexity + 0.5

    def render(self) -> str:
        return f"not ({self.inner.render()})"

    def evaluate(self, items):
        return ~self.inner.evaluate(items)


@dataclass(frozen=True)
class And(Predicate):
    left: Predicate
    right: Predicate

    @property
    def complexity(self) -> float:  # type: ignore[override]
        return self.left.complexity + self.right.complexity + 0.5

    def render(self) -> str:
        return f"({self.left.render()}) and ({self.right.render()})"

    def evaluate(self, items):
        return self.left.evaluate(items) & self.right.evaluate(items)
