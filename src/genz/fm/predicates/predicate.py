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
from .phrases import _phrase_pattern
from .values import _numeric_values, _string_mask


def _fmt(x: float) -> str:
    """A number exactly: integers as such, anything else as Python's shortest repr, which
    parses back to the identical float (what is mined is what is judged)."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


_PLAIN_ATTR = re.compile(r"^[^'\\\x00-\x1f\x7f\u0085\u2028\u2029\"]*$")


def _attr(attr: str) -> str:
    """An attribute name in a rendered predicate: ``'name'``, or for a name with quotes,
    backslashes or control characters, ``attribute "json string"`` (any name round-trips)."""
    if _PLAIN_ATTR.match(attr):
        return f"'{attr}'"
    return "attribute " + json.dumps(attr, ensure_ascii=False)


def _subject(attr: str | None) -> str:
    return "the number" if attr is None else _attr(attr)



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
    attr: str | None
    t: float
    complexity = 1.0

    def render(self) -> str:
        return f"{_subject(self.attr)} is at least {_fmt(self.t)}"

    def evaluate(self, items):
        v = _numeric_values(items, self.attr)
        return np.nan_to_num(v, nan=-np.inf) >= self.t


@dataclass(frozen=True)
class Below(Predicate):
    attr: str | None
    t: float
    complexity = 1.0

    def render(self) -> str:
        return f"{_subject(self.attr)} is below {_fmt(self.t)}"

    def evaluate(self, items):
        v = _numeric_values(items, self.attr)
        return np.nan_to_num(v, nan=np.inf) < self.t


@dataclass(frozen=True)
class Between(Predicate):
    attr: str | None
    lo: float
    hi: float
    complexity = 2.0

    def render(self) -> str:
        if self.lo == self.hi:
            return f"{_subject(self.attr)} is {_fmt(self.lo)}"
        return f"{_subject(self.attr)} is between {_fmt(self.lo)} and {_fmt(self.hi)}"

    def evaluate(self, items):
        v = _numeric_values(items, self.attr)
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


@dataclass(frozen=True)
class Mentions(Predicate):
    phrase: str
    complexity = 1.0

    def render(self) -> str:
        return f"mentions {json.dumps(self.phrase, ensure_ascii=False)}"

    def evaluate(self, items):
        pat = _phrase_pattern(self.phrase)
        return np.array([bool(pat.search(it.text)) for it in items], dtype=bool)


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
