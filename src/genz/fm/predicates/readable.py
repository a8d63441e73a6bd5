"""What the engine offers is a statement a person can read (docs/offline-engine.md).

:class:`Readability` turns a mined candidate into the descriptor shown, or refuses it:

* a phrase of the free text is shown with the words around it (:func:`.phrases.phrase_in_context`);
  if it is still a fragment (:func:`.phrases.is_statement`), or a single word that is a piece of
  a fixed expression (:func:`.phrases.dominant_neighbour`), or a single word in descriptions made
  of fields (where the statements are the fields and phrases of two content words), it is not
  offered; a phrase that the
  texts mostly have inside a common field (``Laundry: in unit``) is left to that field's
  descriptors (a rare "label: value", such as a title's "Star Wars: Episode IV", is free text);
* a phrase within a field is shown with the words around it inside that field; the field makes
  it a statement;
* a phrase that is a near-duplicate (:func:`.phrases.near_duplicates`) of an excluded descriptor
  (a feature already kept or discarded) or of one chosen earlier in the same call is not offered;
* a candidate over the same attribute or field as an excluded descriptor that holds on the same
  exemplars as it, or as its complement, up to 5% (Jaccard >= 0.95) is not offered (``'parking' is one of [4 values]``
  after ``'parking' is "garage"``: the same feature in other words).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ...errors import FMError
from ...items import Item
from .grammar import parse_predicate
from .phrases import (DOMINANT, _phrase_pattern, content_words, dominant_neighbour, is_statement, near_duplicates,
                      phrase_in_context, related_phrases)
from .predicate import And, FieldIs, FieldMentions, HasField, Mentions, Not, Predicate
from .textfields import NumberKey, common_fields, free_docs, text_structures

__all__ = ["Readability", "scope_of", "bare_fragment"]

#: overlap (Jaccard, with a descriptor or its complement) at which a candidate repeats it
SAME = 0.95


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    either = int((a | b).sum())
    return 1.0 if either == 0 else int((a & b).sum()) / either


def scope_of(p: Predicate) -> str:
    """What a single predicate looks at: an attribute, the text read as a number, a number or a
    field of the text, or the free text (a conjunction: both parts' scopes)."""
    if isinstance(p, Not):
        return scope_of(p.inner)
    if isinstance(p, And):
        return scope_of(p.left) + " & " + scope_of(p.right)
    if isinstance(p, Mentions):
        return "text"
    if isinstance(p, (FieldIs, FieldMentions, HasField)):
        return f"field:{p.label}"
    attr = getattr(p, "attr", None)
    if isinstance(attr, NumberKey):
        return f"field:{attr.label}" if attr.label else f"text-number:{attr.unit}"
    return "number" if attr is None else f"attr:{attr}"

#: a free phrase is offered only if at least this share of the texts that have it have it in
#: their free parts (else it mostly belongs to a field: see the field's descriptors). Half, not
#: more: a phrase said freely in three of its four sentences and once after a label ("Be aware:
#: a noisy street runs past") was refused whenever a draw gave the label 26% of its texts
MOSTLY_FREE = 0.5


def _scope(p: Predicate) -> tuple[str, str] | None:
    """(where, phrase) of a phrase-like predicate: the free text or a field; None for others."""
    if isinstance(p, Mentions):
        return ("text", p.phrase)
    if isinstance(p, FieldMentions):
        return (f"field:{p.label}", p.phrase)
    if isinstance(p, FieldIs) and len(p.values) == 1:
        return (f"field:{p.label}", p.values[0])
    return None


class Readability:
    """The readability rules for one mining call over ``items``, with ``excluded`` descriptors."""

    def __init__(self, items: Sequence[Item], excluded: Collection[str], min_support: int = 2) -> None:
        self.items = list(items)
        self.min_support = min_support
        self._free: list[str] | None = None
        self._structured: bool | None = None
        self.texts = [it.text for it in self.items]
        self._structs = None
        self._excluded = list(excluded)
        self._others: list[Predicate] | None = None
        self._parsed: list[Predicate] | None = None
        self._cols: dict[str, np.ndarray] = {}

    @property
    def structs(self):
        if self._structs is None:
            self._structs = text_structures(self.items)
        return self._structs

    @property
    def structured(self) -> bool:
        """Whether the texts are descriptions made of fields: at least half of them have a
        common field (there a lone free word is a fragment: "room", "rent", "walk")."""
        if self._structured is None:
            common = common_fields(self.structs, self.min_support)
            self._structured = bool(common) and 2 * sum(any(f in common for f in s.fields)
                                                        for s in self.structs) >= len(self.structs)
        return self._structured

    def _col(self, p: Predicate) -> np.ndarray:
        key = p.render()
        if key not in self._cols:
            self._cols[key] = p.evaluate(self.items)
        return self._cols[key]

    def shown(self, p: Predicate) -> Predicate | None:
        """The descriptor to offer for candidate ``p``, or None when it is not a statement."""
        if isinstance(p, And):
            left, right = self.shown(p.left), self.shown(p.right)
            return None if left is None or right is None else And(left, right)
        if isinstance(p, Not):
            inner = self.shown(p.inner)
            return None if inner is None else Not(inner)
        if isinstance(p, Mentions):
            phrase = phrase_in_context(p.phrase, self.texts)
            if not is_statement(phrase):
                return None
            if len(content_words(phrase)) < 2 and (self.structured or
                                                   dominant_neighbour(phrase, self.texts) >= DOMINANT):
                return None  # a piece of a fixed expression, or a lone word beside the fields
            q = Mentions(phrase)
            whole = int(self._col(q).sum())
            pat = _phrase_pattern(phrase)
            if self._free is None:
                self._free = free_docs(self.structs, common_fields(self.structs, self.min_support))
            free = sum(bool(pat.search(doc)) for doc in self._free)
            return q if whole == 0 or free >= MOSTLY_FREE * whole else None
        if isinstance(p, FieldMentions):
            docs = [". ".join(s.fields.get(p.label, ())) for s in self.structs]
            return FieldMentions(p.label, phrase_in_context(p.phrase, docs))
        return p

    def parsed(self) -> list[Predicate]:
        """The excluded descriptors that this engine reads (parsed once per call)."""
        if self._parsed is None:
            self._parsed = []
            for d in self._excluded:
                try:
                    q = parse_predicate(d)
                except (FMError, ValueError):
                    continue
                self._parsed.append(q.inner if isinstance(q, Not) else q)
        return self._parsed

    def others(self) -> list[Predicate]:
        """The excluded and kept descriptors that are phrases."""
        if self._others is None:
            self._others = [q for q in self.parsed() if _scope(q) is not None]
        return self._others

    def redundant(self, p: Predicate) -> bool:
        """Whether ``p`` repeats an excluded descriptor over the same attribute or field: it holds
        on the same exemplars as that descriptor or as its complement, up to :data:`SAME`
        (Jaccard; two rare values that agree only by both being absent are not repeats)."""
        where = scope_of(p)
        a = self._col(p)
        for q in self.parsed():
            if scope_of(q) == where:
                b = self._col(q)
                if max(_jaccard(a, b), _jaccard(a, ~b)) >= SAME:
                    return True
        return False

    def near_duplicate(self, p: Predicate) -> bool:
        """Whether phrase ``p`` is a near-duplicate of an excluded or kept phrase in its scope."""
        sp = _scope(p)
        if sp is None:
            return False
        for q in self.others():
            sq = _scope(q)
            if sq is None or sq[0] != sp[0] or sq[1].lower() == sp[1].lower() and type(q) is type(p):
                continue
            if related_phrases(sp[1], sq[1]) and near_duplicates(sp[1], sq[1], self._col(p), self._col(q)):
                return True
        return False

    def keep(self, p: Predicate) -> None:
        """``p`` is offered: later candidates of the same call are checked against it too."""
        if _scope(p) is not None:
            self.others().append(p)


def bare_fragment(descriptor: str) -> bool:
    """Whether a descriptor of this engine's grammar is a bare fragment: a free-text phrase that
    says nothing on its own (:func:`.phrases.is_statement`: "yes", "two", "ages", "all styles",
    "good"), or a field phrase of function words only, anywhere inside a conjunction or a
    negation. Descriptors over an attribute, a field or a number of the text name what they are
    about and are never fragments; a descriptor outside the grammar (an LLM's) is not judged
    here (False)."""
    try:
        p = parse_predicate(descriptor)
    except (FMError, ValueError):
        return False
    return _fragment(p)


def _fragment(p: Predicate) -> bool:
    if isinstance(p, And):
        return _fragment(p.left) or _fragment(p.right)
    if isinstance(p, Not):
        return _fragment(p.inner)
    if isinstance(p, Mentions):
        return not is_statement(p.phrase)
    if isinstance(p, FieldMentions):
        return not content_words(p.phrase)
    return False
