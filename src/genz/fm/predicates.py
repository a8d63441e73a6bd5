"""An offline foundation model: a predicate engine that needs no LLM.

Descriptors are predicates over an item's attributes or text, rendered as plain English and
parsed back (so a saved model reloads and a cache key is just the descriptor text):

=====================  ==========================================================
family                 rendering (examples)
=====================  ==========================================================
threshold              ``'area' is at least 3000`` / ``the number is below 256``
range                  ``'year' is between 1995 and 2000``
modular range          ``the number modulo 256 is between 128 and 255``
category               ``'zip' is "92880"``
set of categories      ``'zip' is one of ["85255", "85262", "85377"]``
prefix                 ``'zip' starts with "85"``
list membership        ``'genres' include "Action"``
phrase in free text    ``mentions "north ames"``
negation               ``not ('area' is at least 3000)``
=====================  ==========================================================

"the number" is the item's text read as a number (items like ``"37"``).

**Mining** scores every candidate predicate on the positive and negative groups by the
*balanced accuracy* ``½ (TPR + TNR)`` (the default; ``score="mcc"`` uses the Matthews
correlation instead), minus ``complexity_penalty`` per unit of complexity (a threshold costs
1, a range or modular range 2, a set 1 + ½ per value, a negation ½ more), and returns the best
one that is not excluded. Counts are computed without materialising the candidates: sorted
values and binary search for thresholds and ranges, ``bincount`` + cumulative sums for modular
ranges and categories, and scikit-learn's ``CountVectorizer`` for phrases.

**Judging** evaluates the predicate. **Proposal** (the zero-shot baseline) returns a generic
pool: thresholds at the quartiles of every numeric attribute, the most frequent values of
every categorical or list attribute, and the most frequent phrases.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import operator
import threading
from abc import ABC, abstractmethod
import re
from collections import Counter, OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from ..errors import FMError, MiningError
from ..items import Item
from .base import FMStats, Judgments
from .date_predicates import date_families, parse_date_predicate  # dates read as dates (issue 21)

__all__ = ["PredicateFM", "parse_predicate", "Predicate"]

_NUM_RE = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


# ----------------------------------------------------------------------------------------------
# value extraction
# ----------------------------------------------------------------------------------------------

def _number_of_text(text: str) -> float:
    return float(text) if _NUM_RE.match(text) else math.nan


_VALUES_LOCK = threading.Lock()
_VALUES: OrderedDict = OrderedDict()  # (kind, attr, N, hash of item ids) → (items, values)
_VALUES_MAX = 16


def _memo(kind: str, items: Sequence[Item], attr: str | None, make: Any) -> Any:
    """The values of ``attr`` for ``items``, extracted once per list of item objects: judging
    and mining evaluate many predicates on the same items, and the extraction is a Python loop
    over items. An entry holds its items (so their ids stay unique) and matches only the same
    item objects in the same order; items are not to be mutated while a fit runs."""
    items = list(items)
    ids = tuple(map(id, items))
    key = (kind, attr, len(ids), hash(ids))
    with _VALUES_LOCK:
        hit = _VALUES.get(key)
        if hit is not None and len(hit[0]) == len(items) and all(map(operator.is_, hit[0], items)):
            _VALUES.move_to_end(key)
            return hit[1]
    val = make(items)
    with _VALUES_LOCK:
        _VALUES[key] = (items, val)
        while len(_VALUES) > _VALUES_MAX:
            _VALUES.popitem(last=False)
    return val


def _numeric_values(items: Sequence[Item], attr: str | None) -> np.ndarray:
    """The numbers of ``attr`` (or of the text, ``attr=None``); NaN where there is none
    (read-only: shared between calls, see :func:`_memo`)."""
    return _memo("numeric", items, attr, lambda its: _extract_numeric(its, attr))


def _extract_numeric(items: Sequence[Item], attr: str | None) -> np.ndarray:
    if attr is None:
        out = np.array([_number_of_text(it.text) for it in items], dtype=float)
    else:
        out = np.full(len(items), np.nan)
        for n, it in enumerate(items):
            v = it.attributes.get(attr)
            if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
                out[n] = float(v)
    out.flags.writeable = False
    return out


def _string_values(items: Sequence[Item], attr: str) -> tuple[str | None, ...]:
    """The strings of ``attr`` (booleans and integers as text), None where there is none
    (shared between calls, see :func:`_memo`)."""
    return _memo("string", items, attr, lambda its: _extract_strings(its, attr))


def _extract_strings(items: Sequence[Item], attr: str) -> tuple[str | None, ...]:
    out: list[str | None] = []
    for it in items:
        v = it.attributes.get(attr)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, (bool, np.bool_)):
            out.append(str(bool(v)).lower())
        elif isinstance(v, numbers.Integral):
            out.append(str(int(v)))
        else:
            out.append(None)
    return tuple(out)


def _string_codes(items: Sequence[Item], attr: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """:func:`_string_values` as codes into its distinct strings (−1 where there is none)."""

    def make(its: Sequence[Item]) -> tuple[np.ndarray, tuple[str, ...]]:
        index: dict[str, int] = {}
        codes = np.array([-1 if v is None else index.setdefault(v, len(index)) for v in _string_values(its, attr)],
                         dtype=np.int64)
        codes.flags.writeable = False
        return codes, tuple(index)

    return _memo("codes", items, attr, make)


def _string_mask(items: Sequence[Item], attr: str, test: Any) -> np.ndarray:
    """``test(value)`` for every item's string value of ``attr`` (False where there is none),
    evaluated once per distinct value."""
    codes, cats = _string_codes(items, attr)
    ok = np.array([bool(test(c)) for c in cats] + [False], dtype=bool)
    return ok[codes]


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


# ----------------------------------------------------------------------------------------------
# phrases: words within one sentence, never only function words
# ----------------------------------------------------------------------------------------------

#: words that carry content although scikit-learn's English stop-word list has them
_CONTENT_WORDS = frozenset({
    "back", "bill", "bottom", "call", "cry", "describe", "detail", "eight", "eleven", "empty", "fifteen",
    "fifty", "fill", "find", "fire", "first", "five", "forty", "found", "four", "front", "full", "give",
    "hundred", "interest", "keep", "last", "made", "mill", "move", "name", "nine", "part", "put", "serious",
    "show", "side", "sincere", "six", "sixty", "system", "take", "ten", "thick", "thin", "third", "three",
    "top", "twelve", "twenty", "two", "well",
})


def _function_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - _CONTENT_WORDS


FUNCTION_WORDS = _function_words()
_WORD_RE = r"[^\W\d_]\w*"  # a word starts with a letter
#: a sentence ends at . ! ? ; or : followed by a space or the end, or at a line break
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)|\n")
_BREAK = " qqgenzsentencebreakqq "  # stands between sentences while n-grams are counted
#: what may stand between two words of a phrase: anything but a word character or a sentence end
_GAP = r"[^\w.!?;:\n]+"


def _mark_sentences(text: str) -> str:
    """Lower-cased text with a break token between sentences (no n-gram spans two sentences)."""
    return _SENTENCE_END.sub(_BREAK, text.lower())


def is_readable_phrase(phrase: str) -> bool:
    """A phrase worth proposing: not only function words, and not ending in one
    (``"of the"``, ``"a"`` and ``"sunroof and"`` are out; ``"no accidents"`` is in)."""
    words = phrase.lower().split()
    return bool(words) and words[-1] not in FUNCTION_WORDS and "qqgenzsentencebreakqq" not in words


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern:
    words = phrase.split()
    return re.compile(r"(?<!\w)" + _GAP.join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


_LEFT = re.compile(rf"(?<!\w)({_WORD_RE}){_GAP}$")
_RIGHT = re.compile(rf"^{_GAP}({_WORD_RE})(?!\w)")


#: a phrase is shown with its surrounding words only when at least this many texts have it and
#: all of them have those words (fewer would not show that new texts will)
_MIN_CONTEXT = 10


def phrase_in_context(phrase: str, texts: Sequence[str], max_words: int = 5) -> str:
    """The phrase with the words that surround it in every text that has it, within the
    sentence (``"sunroof"`` → ``"has a sunroof"`` when every listing says "Has a sunroof"), so
    that it reads as written; it matches exactly the same texts."""
    words = phrase.split()
    while len(words) < max_words:
        pat = _phrase_pattern(" ".join(words))
        left: Counter = Counter()
        right: Counter = Counter()
        n = 0
        for t in texts:
            m = pat.search(t)
            if not m:
                continue
            n += 1
            lm = _LEFT.search(t, 0, m.start())
            if lm:
                left[lm.group(1).lower()] += 1
            rm = _RIGHT.match(t[m.end():])
            if rm:
                right[rm.group(1).lower()] += 1
        if n < _MIN_CONTEXT:  # too few texts to claim the surrounding words always come with it
            break
        lw = left.most_common(1)
        rw = right.most_common(1)
        if lw and lw[0][1] == n:
            words.insert(0, lw[0][0])
        elif rw and rw[0][1] == n and rw[0][0] not in FUNCTION_WORDS:
            words.append(rw[0][0])
        else:
            break
    return " ".join(words)


# ----------------------------------------------------------------------------------------------
# predicates
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# parsing
# ----------------------------------------------------------------------------------------------

_ATTR = r"""(?:'(?P<attr>[^'\\]*)'|attribute (?P<jattr>"(?:[^"\\]|\\.)*"))"""
_SUBJ = rf"(?:the number|{_ATTR})"
_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_JSON_STR = r'("(?:[^"\\]|\\.)*")'
_PATTERNS: list[tuple[re.Pattern, Any]] = [
    (re.compile(rf"^{_SUBJ} is at least (?P<x>{_NUM})$"), lambda m, a: AtLeast(a, float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is below (?P<x>{_NUM})$"), lambda m, a: Below(a, float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is (?P<x>{_NUM})$"), lambda m, a: Between(a, float(m["x"]), float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is between (?P<x>{_NUM}) and (?P<y>{_NUM})$"),
     lambda m, a: Between(a, float(m["x"]), float(m["y"]))),
    (re.compile(rf"^{_SUBJ} modulo (?P<m>\d+) is between (?P<x>\d+) and (?P<y>\d+)$"),
     lambda m, a: ModRange(a, int(m["m"]), int(m["x"]), int(m["y"]))),
    (re.compile(rf"^{_SUBJ} modulo (?P<m>\d+) is (?P<x>\d+)$"),
     lambda m, a: ModRange(a, int(m["m"]), int(m["x"]), int(m["x"]))),
    (re.compile(rf"^{_ATTR} is one of (?P<v>\[.*\])$"),
     lambda m, a: OneOf(a, tuple(str(x) for x in json.loads(m["v"])))),
    (re.compile(rf"^{_ATTR} is (?P<v>{_JSON_STR})$"), lambda m, a: Equals(a, json.loads(m["v"]))),
    (re.compile(rf"^{_ATTR} starts with (?P<v>{_JSON_STR})$"), lambda m, a: StartsWith(a, json.loads(m["v"]))),
    (re.compile(rf"^{_ATTR} include (?P<v>{_JSON_STR})$"), lambda m, a: Includes(a, json.loads(m["v"]))),
    (re.compile(rf"^mentions (?P<v>{_JSON_STR})$"), lambda m, a: Mentions(json.loads(m["v"]))),
]


def _closing_paren(s: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start`` (skipping JSON strings), or -1."""
    depth, in_str, esc, in_name = 0, False, False, False
    for i in range(start, len(s)):
        c = s[i]
        if in_name:  # a 'name' (names with quotes are rendered as JSON strings)
            if c == "'":
                in_name = False
        elif in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == "'":
            in_name = True
        elif c == '"':
            in_str = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def parse_predicate(text: str) -> Predicate:
    """Parse a rendered predicate back; raises :class:`FMError` for anything else."""
    s = text.strip()
    if s.startswith("("):
        end = _closing_paren(s, 0)
        if end > 0 and s[end + 1:].startswith(" and (") and s.endswith(")"):
            right = s[end + 6:]
            if _closing_paren(right, 0) == len(right) - 1:
                return And(parse_predicate(s[1:end]), parse_predicate(right[1:-1]))
    if s.startswith("not (") and s.endswith(")") and _closing_paren(s, 4) == len(s) - 1:
        return Not(parse_predicate(s[5:-1]))
    dated = parse_date_predicate(s)
    if dated is not None:
        return dated  # type: ignore[return-value]
    for pat, make in _PATTERNS:
        m = pat.match(s)
        if m:
            g = m.groupdict()
            try:
                attr = json.loads(g["jattr"]) if g.get("jattr") is not None else g.get("attr")
                return make(m, attr)
            except (ValueError, json.JSONDecodeError):
                break
    raise FMError(
        f"the predicate foundation model cannot read the descriptor {text!r}: it only judges "
        "descriptors in its own grammar (see genz.fm.predicates); use an LLM backend for free text"
    )


# ----------------------------------------------------------------------------------------------
# mining
# ----------------------------------------------------------------------------------------------

@dataclass
class _Family:
    """Counts for a batch of candidates: TP and FP on the groups, a complexity, and a maker."""

    tp: np.ndarray  # weighted count of positives where the candidate holds
    fp: np.ndarray  # weighted count of negatives where it holds
    complexity: np.ndarray
    make: Any  # index -> Predicate
    support: np.ndarray  # (unweighted) number of exemplars where it holds


def _score(tp, fp, n_pos, n_neg, kind: str) -> np.ndarray:
    tp = tp.astype(float)
    fp = fp.astype(float)
    if kind == "mcc":
        fn, tn = n_pos - tp, n_neg - fp
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return np.where(den > 0, (tp * tn - fp * fn) / np.where(den > 0, den, 1.0), 0.0)
    return 0.5 * (tp / n_pos + 1.0 - fp / n_neg) - 0.5  # balanced accuracy, centred at 0


class _Weighted:
    """Values of one group, sorted, with cumulative weights: weighted counts in intervals."""

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        order = np.argsort(values, kind="stable")
        self.v = values[order]
        self.cw = np.concatenate([[0.0], np.cumsum(weights[order])])

    @property
    def total(self) -> float:
        return float(self.cw[-1])

    def at_least(self, t: np.ndarray) -> np.ndarray:
        return self.total - self.cw[np.searchsorted(self.v, t, side="left")]

    def between(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.cw[np.searchsorted(self.v, hi, side="right")] - self.cw[np.searchsorted(self.v, lo, side="left")]


@dataclass
class PredicateFM:
    """The offline predicate engine; see the module docstring.

    Parameters: ``score`` ("balanced_accuracy" or "mcc"), ``complexity_penalty``,
    ``n_thresholds`` (quantile cut points per numeric attribute), ``max_set_size``,
    ``max_phrase_len`` (words), ``min_support`` (items a candidate must cover in the groups),
    ``modular_on_attributes`` (modular ranges over integer attributes too, not only over
    numbers given as the item's text), ``max_category_share`` (a string attribute with more
    distinct values than this share of the items, e.g. a title, is treated as an identifier:
    no category predicates over it; its words are still available as phrases),
    ``conjunctions`` (also consider ``(A) and (B)`` for the ``n_conjunction_terms`` best single
    predicates A, B over different attributes).

    ``mine(..., weights=(w_pos, w_neg))`` weighs each exemplar (e.g. by how strongly the data
    put it in its group); the counts above become sums of weights.
    """

    score: str = "balanced_accuracy"
    complexity_penalty: float = 0.002
    n_thresholds: int = 32
    max_set_size: int = 12
    max_phrase_len: int = 3
    min_support: int = 2
    modular_on_attributes: bool = False
    max_category_share: float = 0.5
    conjunctions: bool = True
    n_conjunction_terms: int = 30
    name: str = "predicates"
    max_exemplars: int = 100_000
    stats: FMStats = field(default_factory=FMStats)
    free_judgments = True  # (not a field) judging costs nothing: no candidate screening by default

    # -- judging -------------------------------------------------------------------------------
    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        pred = parse_predicate(descriptor)
        self.stats.add_call("judge")
        self.stats.judgments += len(items)
        return Judgments(values=pred.evaluate(items))

    def parts(self, descriptor: str) -> list[str]:
        """The two descriptors a conjunction ``(A) and (B)`` is made of (none for others):
        discovery checks that a conjunction predicts better than its parts side by side."""
        try:
            pred = parse_predicate(descriptor)
        except (FMError, ValueError):
            return []
        return [pred.left.render(), pred.right.render()] if isinstance(pred, And) else []

    def complexity(self, descriptor: str) -> float:
        """How complex a descriptor is (a threshold or a category 1, a range 2, a set 1 + ½ per
        value, a conjunction its parts + ½); an outer negation costs nothing here, since a
        feature and its complement predict alike. Discovery prefers the simplest of candidates
        that predict held-out items equally well."""
        try:
            pred = parse_predicate(descriptor)
        except (FMError, ValueError):
            return 1.0
        return float((pred.inner if isinstance(pred, Not) else pred).complexity)

    # -- mining --------------------------------------------------------------------------------
    def mine(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> str:
        return self.mine_candidates(positives, negatives, 1, exclude=exclude, context=context, weights=weights)[0]

    def mine_candidates(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        n: int = 5,
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> list[str]:
        """Up to ``n`` different characteristics of the positive group, best first: the top
        scores, skipping any that agrees with an earlier one (or its complement) on 98% of the
        exemplars."""
        self.stats.add_call("mine")
        if not positives or not negatives:
            raise MiningError("mining needs at least one positive and one negative item")
        items = list(positives) + list(negatives)
        y = np.zeros(len(items), dtype=bool)
        y[: len(positives)] = True
        if weights is None:
            w = np.ones(len(items))
        else:
            w = np.concatenate([np.asarray(weights[0], float), np.asarray(weights[1], float)])
            if w.shape[0] != len(items) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("mining weights must be finite, non-negative, one per exemplar")
            w = w / max(w.mean(), 1e-300)
        self._w = w
        fams = list(self._families(items, y))
        n_pos, n_neg = float(w[y].sum()), float(w[~y].sum())
        if n_pos <= 0 or n_neg <= 0:
            raise MiningError("mining needs positive weight in both groups")
        pen = self.complexity_penalty
        ranked: list[tuple[float, int, Any]] = []  # (score, tie-break, predicate maker)
        order = 0
        for fam in fams:
            if fam.tp.size == 0:
                continue
            support = fam.support
            valid = (support >= self.min_support) & (support <= len(items) - self.min_support)
            s_pos = _score(fam.tp, fam.fp, n_pos, n_neg, self.score) - pen * fam.complexity
            s_neg = _score(n_pos - fam.tp, n_neg - fam.fp, n_pos, n_neg, self.score) - pen * (fam.complexity + 0.5)
            for sc, neg in ((s_pos, False), (s_neg, True)):
                sc = np.where(valid, sc, -np.inf)
                for i in np.argsort(-sc, kind="stable")[:50]:
                    if np.isfinite(sc[i]):
                        ranked.append((float(sc[i]), order, (fam.make, int(i), neg)))
                        order += 1
        ranked.sort(key=lambda r: (-r[0], r[1]))
        if self.conjunctions:
            ranked = self._with_conjunctions(ranked, items, y, w, n_pos, n_neg)
        excluded = {e.strip() for e in exclude}
        chosen: list[str] = []
        chosen_cols: list[np.ndarray] = []
        texts = [it.text for it in items]
        for sc, _, maker in ranked:
            if sc <= 0 or len(chosen) >= n:
                break
            pred = _in_context(_build(maker), texts)
            text = pred.render()
            if text in excluded or text in chosen:
                continue
            if n > 1:
                col = pred.evaluate(items)
                if any(max((col == c).mean(), (col != c).mean()) >= 0.98 for c in chosen_cols):
                    continue
                chosen_cols.append(col)
            chosen.append(text)
        if not chosen:
            raise MiningError("no predicate separates the positive group from the negative group")
        return chosen

    def _with_conjunctions(self, ranked, items, y, w, n_pos, n_neg):
        """Add conjunctions ``(A) and (B)`` of the best single predicates over different
        attributes, scored like the others (complexity: both parts plus ½)."""
        singles, attrs, seen = [], [], set()
        for sc, _, maker in ranked:
            if len(singles) >= self.n_conjunction_terms:
                break
            pred = _build(maker)
            key = _attr_of(pred)
            text = pred.render()
            if text in seen:
                continue
            seen.add(text)
            singles.append(pred)
            attrs.append(key)
        if len(singles) < 2:
            return ranked
        X = np.column_stack([p.evaluate(items) for p in singles]).astype(float)
        tp = (X[y] * w[y, None]).T @ X[y]
        fp = (X[~y] * w[~y, None]).T @ X[~y]
        sup = X.T @ X
        comp = np.array([p.complexity for p in singles])
        i_idx, j_idx = np.triu_indices(len(singles), k=1)
        diff = np.array([attrs[i] != attrs[j] for i, j in zip(i_idx, j_idx)], dtype=bool)
        i_idx, j_idx = i_idx[diff], j_idx[diff]
        sc = _score(tp[i_idx, j_idx], fp[i_idx, j_idx], n_pos, n_neg, self.score)
        sc = sc - self.complexity_penalty * (comp[i_idx] + comp[j_idx] + 0.5)
        ok = (sup[i_idx, j_idx] >= self.min_support) & (sup[i_idx, j_idx] <= len(items) - self.min_support)
        extra = [(float(s), len(ranked) + k, ("and", singles[i], singles[j]))
                 for k, (s, i, j, o) in enumerate(zip(sc, i_idx, j_idx, ok)) if o]
        out = ranked + extra
        out.sort(key=lambda r: (-r[0], r[1]))
        return out

    def _families(self, items: Sequence[Item], y: np.ndarray):
        attrs = _attribute_kinds(items)
        # numbers in the text itself
        v = _numeric_values(items, None)
        if np.isfinite(v).mean() > 0.5:
            yield from self._numeric_families(None, v, y, modular=True)
        for attr, kind in attrs.items():
            if kind == "numeric":
                yield from self._numeric_families(attr, _numeric_values(items, attr), y,
                                                  modular=self.modular_on_attributes)
            elif kind == "string":
                dates = date_families(attr, _string_values(items, attr), y, self._w, self.n_thresholds)
                if dates is not None:
                    yield from (_Family(*f) for f in dates)
                    continue
                yield from self._categorical_families(attr, _string_values(items, attr), y)
            elif kind == "list":
                yield self._list_family(attr, items, y)
        texts = [it.text for it in items]
        if any(t.strip() and not _NUM_RE.match(t) for t in texts):
            fam = self._phrase_family(texts, y)
            if fam is not None:
                yield fam

    def _numeric_families(self, attr, v: np.ndarray, y: np.ndarray, modular: bool):
        w = self._w
        ok = np.isfinite(v)
        vals = v[ok]
        uniq = np.unique(vals)
        if uniq.size < 2:
            return
        pos = _Weighted(v[ok & y], w[ok & y])
        neg = _Weighted(v[ok & ~y], w[ok & ~y])
        cnt = _Weighted(vals, np.ones(vals.size))
        # thresholds at every distinct value (cheap: binary search on the sorted groups)
        cuts = uniq[1:]
        if uniq.size <= self.n_thresholds + 1:
            rcuts = cuts
        else:
            qs = np.quantile(vals, np.linspace(0, 1, self.n_thresholds + 2)[1:-1], method="lower")
            rcuts = np.unique(qs[qs > uniq[0]])
        yield _Family(pos.at_least(cuts), neg.at_least(cuts), np.full(cuts.size, 1.0),
                      lambda i, c=cuts: AtLeast(attr, float(c[i])), cnt.at_least(cuts))
        # ranges [lo, hi] between cut points (inclusive); lo/hi are data values
        pts = np.concatenate([uniq[:1], rcuts])
        los, his = np.triu_indices(pts.size, k=1)
        hi_vals = uniq[np.searchsorted(uniq, pts) - 1]
        lo_v, hi_v = pts[los], hi_vals[his]
        keep = (lo_v > uniq[0]) & (hi_v < uniq[-1]) & (hi_v >= lo_v)  # one-sided ranges are thresholds
        lo_v, hi_v = lo_v[keep], hi_v[keep]
        yield _Family(pos.between(lo_v, hi_v), neg.between(lo_v, hi_v), np.full(lo_v.size, 2.0),
                      lambda i, a=lo_v, b=hi_v: Between(attr, float(a[i]), float(b[i])), cnt.between(lo_v, hi_v))
        # modular ranges over integers
        if modular and np.all(np.mod(vals, 1) == 0) and uniq.size >= 8:
            iv = np.nan_to_num(v).astype(np.int64)
            vmax = int(np.max(np.abs(vals)))
            top = max(1, int(math.ceil(math.log2(vmax + 1))))
            for j in range(1, top + 1):
                m = 2**j
                if m >= uniq.size * 2:
                    break
                res = np.mod(iv, m)
                cp = np.bincount(res[ok & y], weights=w[ok & y], minlength=m)
                cn = np.bincount(res[ok & ~y], weights=w[ok & ~y], minlength=m)
                cc = np.bincount(res[ok], minlength=m)
                step = max(1, m // 8)
                ends = np.arange(0, m + 1, step)
                a_idx, b_idx = np.triu_indices(ends.size, k=1)
                lo, hi = ends[a_idx], ends[b_idx] - 1
                keep = ~((lo == 0) & (hi == m - 1))
                lo, hi = lo[keep], hi[keep]
                ccp, ccn, ccc = (np.concatenate([[0], np.cumsum(c)]) for c in (cp, cn, cc))
                yield _Family(ccp[hi + 1] - ccp[lo], ccn[hi + 1] - ccn[lo], np.full(lo.size, 2.0),
                              lambda i, m=m, lo=lo, hi=hi: ModRange(attr, m, int(lo[i]), int(hi[i])),
                              ccc[hi + 1] - ccc[lo])

    def _categorical_families(self, attr: str, vals: list[str | None], y: np.ndarray):
        w = self._w
        cats = sorted({v for v in vals if v is not None})
        n_present = sum(v is not None for v in vals)
        if len(cats) < 2 or len(cats) > self.max_category_share * n_present:
            return  # constant, or an identifier-like attribute (a title, a name): nothing to generalise
        index = {c: i for i, c in enumerate(cats)}
        codes = np.array([index[v] if v is not None else -1 for v in vals])
        ok = codes >= 0
        cp = np.bincount(codes[ok & y], weights=w[ok & y], minlength=len(cats))
        cn = np.bincount(codes[ok & ~y], weights=w[ok & ~y], minlength=len(cats))
        cc = np.bincount(codes[ok], minlength=len(cats))
        carr = np.array(cats, dtype=object)
        yield _Family(cp, cn, np.ones(len(cats)), lambda i, c=carr: Equals(attr, str(c[i])), cc)
        # prefixes of code-like strings
        if all(c.isalnum() for c in cats) and max(len(c) for c in cats) >= 2:
            prefixes: dict[str, int] = {}
            for c in cats:
                for L in range(1, len(c)):
                    prefixes.setdefault(c[:L], len(prefixes))
            pre = sorted(prefixes)
            P = np.zeros((len(cats), len(pre)), dtype=bool)
            pidx = {p: i for i, p in enumerate(pre)}
            for ci, c in enumerate(cats):
                for L in range(1, len(c)):
                    P[ci, pidx[c[:L]]] = True
            parr = np.array(pre, dtype=object)
            yield _Family(cp @ P, cn @ P, np.ones(len(pre)), lambda i, p=parr: StartsWith(attr, str(p[i])), cc @ P)
        # the best sets of categories: those with a higher share among positives than negatives
        n_pos, n_neg = max(cp.sum(), 1e-300), max(cn.sum(), 1e-300)
        gain = cp / n_pos - cn / n_neg
        order = np.argsort(-gain, kind="stable")
        chosen = [i for i in order[: self.max_set_size] if gain[i] > 0]
        if len(chosen) >= 2:
            sizes = np.arange(2, len(chosen) + 1)
            sets = [tuple(sorted(str(carr[i]) for i in chosen[:s])) for s in sizes]
            yield _Family(np.array([cp[chosen[:s]].sum() for s in sizes]),
                          np.array([cn[chosen[:s]].sum() for s in sizes]),
                          1.0 + 0.5 * sizes, lambda i, s=sets: OneOf(attr, s[i]),
                          np.array([cc[chosen[:s]].sum() for s in sizes]))

    def _list_family(self, attr: str, items: Sequence[Item], y: np.ndarray) -> _Family:
        w = self._w
        counts_p: Counter = Counter()
        counts_n: Counter = Counter()
        counts: Counter = Counter()
        for it, lab, wt in zip(items, y, w):
            v = it.attributes.get(attr)
            if isinstance(v, list):
                for x in set(str(e) for e in v):
                    (counts_p if lab else counts_n)[x] += wt
                    counts[x] += 1
        vals = sorted(counts)
        varr = np.array(vals, dtype=object)
        return _Family(np.array([counts_p[v] for v in vals], float), np.array([counts_n[v] for v in vals], float),
                       np.ones(len(vals)), lambda i, v=varr: Includes(attr, str(v[i])),
                       np.array([counts[v] for v in vals]))

    def _phrase_family(self, texts: list[str], y: np.ndarray) -> _Family | None:
        """Phrases of 1 to ``max_phrase_len`` words within one sentence, not ending in a
        function word (so never only function words): see :func:`is_readable_phrase`."""
        vec = CountVectorizer(
            ngram_range=(1, self.max_phrase_len), binary=True, min_df=self.min_support,
            token_pattern=r"(?u)\b[^\W\d_]\w*\b", preprocessor=_mark_sentences,  # words that start with a letter
        )
        try:
            X = vec.fit_transform(texts)
        except ValueError:  # empty vocabulary
            return None
        vocab = vec.get_feature_names_out()
        keep = np.flatnonzero([is_readable_phrase(v) for v in vocab])
        if keep.size == 0:
            return None
        X = X.tocsc()[:, keep]
        vocab = vocab[keep]
        w = self._w
        tp = np.asarray(X.T @ (w * y)).ravel()
        fp = np.asarray(X.T @ (w * ~y)).ravel()
        support = np.asarray(X.sum(axis=0)).ravel()
        nwords = np.array([len(t.split()) for t in vocab], dtype=float)
        return _Family(tp, fp, 1.0 + 0.25 * (nwords - 1), lambda i, v=vocab: Mentions(str(v[i])), support)

    # -- zero-shot proposal ----------------------------------------------------------------------
    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        """A generic pool of single-attribute predicates (see the module docstring)."""
        self.stats.add_call("propose")
        items = list(sample_items)
        pools: list[list[str]] = []
        v = _numeric_values(items, None)
        numeric_sources: list[tuple[str | None, np.ndarray]] = []
        if items and np.isfinite(v).mean() > 0.5:
            numeric_sources.append((None, v))
        for attr, kind in _attribute_kinds(items).items():
            if kind == "numeric":
                numeric_sources.append((attr, _numeric_values(items, attr)))
            elif kind == "string":
                vals = [s for s in _string_values(items, attr) if s is not None]
                pools.append([Equals(attr, c).render() for c, _ in Counter(vals).most_common(8)])
            elif kind == "list":
                cnt: Counter = Counter()
                for it in items:
                    x = it.attributes.get(attr)
                    if isinstance(x, list):
                        cnt.update(set(str(e) for e in x))
                pools.append([Includes(attr, c).render() for c, _ in cnt.most_common(10)])
        for attr, vals in numeric_sources:
            vals = vals[np.isfinite(vals)]
            if vals.size:
                qs = np.unique(np.quantile(vals, [0.25, 0.5, 0.75], method="lower"))
                pools.append([AtLeast(attr, float(q)).render() for q in qs if q > vals.min()])
        texts = [it.text for it in items if it.text and not _NUM_RE.match(it.text)]
        if texts:
            try:
                vec = CountVectorizer(binary=True, stop_words="english", min_df=2)
                X = vec.fit_transform(texts)
                df = np.asarray(X.sum(axis=0)).ravel()
                vocab = vec.get_feature_names_out()
                pools.append([Mentions(str(vocab[i])).render() for i in np.argsort(-df, kind="stable")[:10]])
            except ValueError:
                pass
        out: list[str] = []
        while len(out) < n and any(pools):
            for pool in pools:
                if pool and len(out) < n:
                    d = pool.pop(0)
                    if d not in out:
                        out.append(d)
        return out


def _build(maker: Any) -> Predicate:
    if maker[0] == "and":
        return And(maker[1], maker[2])
    make, i, neg = maker
    pred = make(i)
    return _negate(pred) if neg else pred


def _in_context(p: Predicate, texts: Sequence[str]) -> Predicate:
    """Phrases shown in the words around them (:func:`phrase_in_context`)."""
    if isinstance(p, Mentions):
        return Mentions(phrase_in_context(p.phrase, texts))
    if isinstance(p, Not):
        return Not(_in_context(p.inner, texts))
    if isinstance(p, And):
        return And(_in_context(p.left, texts), _in_context(p.right, texts))
    return p


def _attr_of(p: Predicate) -> str:
    """The attribute a single predicate looks at ("text" for phrases, "number" for the text
    read as a number)."""
    if isinstance(p, Not):
        return _attr_of(p.inner)
    if isinstance(p, Mentions):
        return "text"
    attr = getattr(p, "attr", None)
    return "number" if attr is None else f"attr:{attr}"


def _negate(p: Predicate) -> Predicate:
    if isinstance(p, Not):
        return p.inner
    if isinstance(p, AtLeast):
        return Below(p.attr, p.t)
    if isinstance(p, Below):
        return AtLeast(p.attr, p.t)
    return Not(p)


def _attribute_kinds(items: Sequence[Item]) -> dict[str, str]:
    """Each attribute's kind: numeric, string or list (by majority of the items that have it)."""
    kinds: dict[str, Counter] = {}
    for it in items:
        for k, v in it.attributes.items():
            c = kinds.setdefault(k, Counter())
            if isinstance(v, (bool, np.bool_, str)):
                c["string"] += 1
            elif isinstance(v, numbers.Real):
                c["numeric"] += 1
            elif isinstance(v, (list, tuple)):
                c["list"] += 1
    return {k: c.most_common(1)[0][0] for k, c in sorted(kinds.items()) if c}
