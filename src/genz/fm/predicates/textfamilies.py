"""Candidate families read from the text (see :mod:`.textfields`): thresholds and ranges on the
numbers in the text, a field's values (single and sets), phrases within a field, whether the
text lists a field, and phrases of the free text."""

from __future__ import annotations

import re
import weakref
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from ...items import Item
from .families import _Family, _numeric_families, _set_families
from .phrases import FUNCTION_WORDS, _mark_sentences, is_readable_phrase
from .predicate import FieldIs, FieldMentions, HasField, Mentions
from .values import _attribute_kinds, _numeric_values
from .textfields import COMMON_FIELD, NumberKey, common_fields, free_docs, number_values, text_structures

__all__ = ["text_families"]

_TOKENS = r"(?u)\b[^\W\d_]\w*\b"  # words that start with a letter
#: a part that is only a number with its unit or the word before it ("0.4 miles", "built 2003",
#: "$250", "7/10") is that number's, not a category (see :func:`_numeric_part`)
_NUMERIC_PART = re.compile(r"^(?:[^\W\d_]+\s+)?\$?\s?[\d,.]+(?:/\d+)?%?(?:[\s-]+[^\W\d_]+){0,2}$")
#: a field's parts are its values as categories only when at most this many distinct parts
_MAX_FIELD_CATEGORIES = 200


def text_families(fm, items: Sequence[Item], y: np.ndarray):
    """Every text family for the exemplars ``items`` (labels ``y``, weights ``fm._w``)."""
    structs = text_structures(items)
    if not any(s.fields or s.numbers for s in structs):
        fam = _free_phrase_family(fm, [it.text for it in items], y)
        if fam is not None:
            yield fam
        return
    common = common_fields(structs, fm.min_support)
    yield from _number_families(fm, items, structs, y)
    yield from _field_families(fm, structs, y, common)
    fam = _free_phrase_family(fm, free_docs(structs, common), y)
    if fam is not None:
        yield fam


def _number_families(fm, items, structs, y):
    """Thresholds and ranges on every number key that enough texts give (as for a field:
    :data:`.textfields.COMMON_FIELD`), except identifiers."""
    count: Counter = Counter()
    shown: dict[NumberKey, Counter] = {}
    grouped: Counter = Counter()
    for s in structs:
        for k in s.numbers:
            count[k] += 1
            shown.setdefault(k, Counter())[s.surface.get(k, "")] += 1
            grouped[k] += k in s.grouped
    need = max(fm.min_support, int(np.ceil(COMMON_FIELD * len(items))))
    numeric = [a for a, kind in _attribute_kinds(items).items() if kind == "numeric"]
    for k, c in sorted(count.items(), key=lambda kv: (kv[0].label, kv[0].unit)):
        if c < need:
            continue
        key = NumberKey(k.label, k.unit, shown=shown[k].most_common(1)[0][0], grouped=grouped[k] > 0)
        v = number_values(items, k)
        if _identifier(k, v) or _restates_attribute(items, v, numeric):
            continue
        yield from _numeric_families(fm, key, v, y, modular=False)


def _restates_attribute(items, v: np.ndarray, numeric: list[str]) -> bool:
    """Whether a number of the text only repeats a numeric attribute of the same items (``4053
    square feet`` beside ``area: 4053``): equal on 98% of the items that have both. Its
    thresholds would be the attribute's in other words, crowding out other candidates."""
    has = np.isfinite(v)
    if has.sum() < 2:
        return False
    for a in numeric:
        col = _numeric_values(items, a)  # memoised per list of items: mining reads it anyway
        both = has & np.isfinite(col)
        if both.sum() >= 0.9 * has.sum() and np.mean(np.isclose(col[both], v[both])) >= 0.98:
            return True
    return False


def _numeric_part(part: str) -> bool:
    """A part that is a number's, not a category: a number with its unit or the word before it
    ("0.4 miles", "built 2003", "$250", "7/10"), or numbers with function words only ("6 of 8")."""
    if _NUMERIC_PART.match(part):
        return True
    return bool(re.search(r"\d", part)) and not [w for w in re.findall(r"[^\W\d_]+", part.lower())
                                                 if w not in FUNCTION_WORDS]


def _identifier(key: NumberKey, v: np.ndarray) -> bool:
    """A number without a unit whose whole values almost never repeat ("Listing 12", "Lot
    #40913") identifies an item: no thresholds on it."""
    vals = v[np.isfinite(v)]
    return (not key.unit and vals.size >= 20 and bool(np.all(np.mod(vals, 1) == 0))
            and np.unique(vals).size >= 0.95 * vals.size)


def _field_families(fm, structs, y, common: set[str]):
    """For every common field (:func:`.textfields.common_fields`): whether the text lists it,
    its parts as categories and sets of them, and phrases within it."""
    w = fm._w
    n = len(structs)
    labels: Counter = Counter(label for s in structs for label in s.fields if label in common)
    for label, c in sorted(labels.items()):
        has = np.array([label in s.fields for s in structs])
        if c <= n - fm.min_support:  # the text lists the field or not
            yield _Family(np.array([(w * (has & y)).sum()]), np.array([(w * (has & ~y)).sum()]), np.ones(1),
                          lambda i, lab=label: HasField(lab), np.array([c]))
        # its parts as categories ("Parking: garage, 1 space" has "garage" and "1 space")
        parts = [{p.casefold() for p in s.fields.get(label, ())} for s in structs]
        surface: dict[str, Counter] = {}
        for s in structs:
            for p in s.fields.get(label, ()):
                surface.setdefault(p.casefold(), Counter())[p] += 1
        cats = sorted(k for k, v in surface.items() if sum(v.values()) >= fm.min_support and not _numeric_part(k))
        if 1 <= len(cats) <= _MAX_FIELD_CATEGORIES:
            idx = {k: i for i, k in enumerate(cats)}
            M = np.zeros((n, len(cats)))
            for r, ps in enumerate(parts):
                for p in ps:
                    if p in idx:
                        M[r, idx[p]] = 1.0
            cp, cn, cc = M[y].T @ w[y], M[~y].T @ w[~y], M.sum(axis=0)
            shown = np.array([surface[k].most_common(1)[0][0] for k in cats], dtype=object)
            yield _Family(cp, cn, np.ones(len(cats)), lambda i, lab=label, s=shown: FieldIs(lab, (str(s[i]),)), cc)
            # sets of parts (union of items): exact counts need the item-by-part matrix
            yield from _set_families(fm, cp, cn, lambda sel, lab=label, s=shown: FieldIs(lab, tuple(sorted(
                str(s[i]) for i in sel))), M)
        # phrases within the field's parts
        docs = [" qqgenzsentencebreakqq ".join(s.fields.get(label, ())) for s in structs]
        fam = _phrase_counts(fm, docs, y, lambda p, lab=label: FieldMentions(lab, p), f"field:{label}")
        if fam is not None:
            yield fam


class _NgramIndex:
    """The readable n-grams of documents, indexed once per distinct document (mining calls see
    the same texts in ever new exemplar lists): a shared vocabulary and, per document, the sorted
    ids of its n-grams. Bounded: cleared past :data:`_MAX_DOCS` documents."""

    def __init__(self, max_len: int) -> None:
        self.analyze = CountVectorizer(ngram_range=(1, max_len), binary=True, token_pattern=_TOKENS,
                                       preprocessor=_mark_sentences).build_analyzer()
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []
        self.rows: dict[str, np.ndarray] = {}

    def row(self, doc: str) -> np.ndarray:
        r = self.rows.get(doc)
        if r is None:
            ids = set()
            for g in self.analyze(doc):
                i = self.vocab.get(g)
                if i is None:
                    i = self.vocab[g] = len(self.words)
                    self.words.append(g)
                ids.add(i)
            r = self.rows[doc] = np.array(sorted(ids), dtype=np.int64)
        return r

    def matrix(self, docs: Sequence[str]) -> sp.csr_matrix:
        rows = [self.row(d) for d in docs]
        indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
        data = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix((np.ones(data.size), data, indptr), shape=(len(docs), len(self.words)))


_MAX_DOCS = 200_000
_INDEXES: dict[tuple[str, int], _NgramIndex] = {}
_INDEX_LOCK = threading.Lock()
_INDEX_OWNER: list = [None]  # a weak reference to the engine the indexes were built for


def _index(fm: Any, scope: str, max_len: int) -> _NgramIndex:
    """The n-gram index of ``scope`` for the engine ``fm``. The vocabulary's order (first seen
    first) breaks ties between equally good phrases, so the indexes belong to one engine — one
    fit, since each fit makes its own — and start empty for another: a fit's features must not
    depend on which texts other fits in the same process read before it (they did before stop
    45: planted ``many`` 106 kept 17 features alone and 16 after the ``multi`` task)."""
    with _INDEX_LOCK:
        owner = _INDEX_OWNER[0]
        if (owner() if owner is not None else None) is not fm or \
                sum(len(ix.rows) for ix in _INDEXES.values()) > _MAX_DOCS:
            _INDEXES.clear()
            try:
                _INDEX_OWNER[0] = weakref.ref(fm)
            except TypeError:  # an engine without weak references: held until another engine comes
                _INDEX_OWNER[0] = lambda fm=fm: fm
        return _INDEXES.setdefault((scope, max_len), _NgramIndex(max_len))


def _phrase_counts(fm, docs: list[str], y: np.ndarray, make, scope: str) -> _Family | None:
    """n-gram counts (1 to ``max_phrase_len`` words within a sentence, not ending in a function
    word, in at least ``min_support`` documents) over ``docs``; ``make(phrase)`` the predicate."""
    ix = _index(fm, scope, fm.max_phrase_len)
    with _INDEX_LOCK:
        X = ix.matrix(docs).tocsc()
        words = list(ix.words)
    support = np.asarray(X.sum(axis=0)).ravel()
    keep = np.flatnonzero(support >= fm.min_support)
    keep = keep[[is_readable_phrase(words[i]) for i in keep]] if keep.size else keep
    if keep.size == 0:
        return None
    X, support = X[:, keep], support[keep]
    vocab = np.array([words[i] for i in keep], dtype=object)
    w = fm._w
    tp = np.asarray(X.T @ (w * y)).ravel()
    fp = np.asarray(X.T @ (w * ~y)).ravel()
    comp = np.array([make(str(t)).complexity for t in vocab], dtype=float)
    return _Family(tp, fp, comp, lambda i, v=vocab: make(str(v[i])), support)


def _free_phrase_family(fm, docs: list[str], y: np.ndarray) -> _Family | None:
    """Phrases of the free text (``docs``: each text's free parts; a phrase is judged on the
    whole text, and offered only if it is mostly free: see :mod:`.readable`)."""
    return _phrase_counts(fm, docs, y, Mentions, "text")
