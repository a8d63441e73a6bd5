"""The zero-shot baseline's pool: generic predicates that need no target (paper §6)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from ...items import Item
from .numfmt import cut_between
from .phrases import is_statement
from .predicate import AtLeast, Equals, FieldIs, Includes, Mentions, Subject
from .textfields import NumberKey, number_values, text_structures
from .values import _NUM_RE, _attribute_kinds, _numeric_values, _string_values

__all__ = ["generic_pool"]


def _quartile_cuts(attr: Subject, vals: np.ndarray) -> list[str]:
    """Thresholds at the quartiles, each between the quartile and the value below it."""
    vals = np.unique(vals[np.isfinite(vals)])
    if vals.size < 2:
        return []
    out = []
    for q in np.unique(np.quantile(vals, [0.25, 0.5, 0.75], method="lower")):
        i = int(np.searchsorted(vals, q))
        if i > 0:
            out.append(AtLeast(attr, cut_between(vals[i - 1], vals[i])).render())
    return out


def generic_pool(items: Sequence[Item], n: int = 50) -> list[str]:
    """Thresholds at the quartiles of every numeric attribute and of every number the texts
    give, the most frequent values of every categorical or list attribute and of every field of
    the texts, and the most frequent phrases that are statements; interleaved, up to ``n``."""
    pools: list[list[str]] = []
    v = _numeric_values(items, None)
    if items and np.isfinite(v).mean() > 0.5:
        pools.append(_quartile_cuts(None, v))
    for attr, kind in _attribute_kinds(items).items():
        if kind == "numeric":
            pools.append(_quartile_cuts(attr, _numeric_values(items, attr)))
        elif kind == "string":
            vals = [s for s in _string_values(items, attr) if s is not None]
            pools.append([Equals(attr, c).render() for c, _ in Counter(vals).most_common(8)])
        elif kind == "list":
            cnt: Counter = Counter()
            for it in items:
                x = it.attributes.get(attr)
                if isinstance(x, list):
                    cnt.update(list(dict.fromkeys(str(e) for e in x)))  # once per item, in order (not a set's)
            pools.append([Includes(attr, c).render() for c, _ in cnt.most_common(10)])
    structs = text_structures(items) if items else ()
    keys: Counter = Counter(k for s in structs for k in s.numbers)
    for k, c in keys.most_common(10):
        if c >= 2:
            pools.append(_quartile_cuts(NumberKey(k.label, k.unit, grouped=any(k in s.grouped for s in structs)),
                                        number_values(items, k)))
    fields: Counter = Counter(label for s in structs for label in s.fields)
    for label, _ in fields.most_common(10):
        parts = Counter(p for s in structs for p in dict.fromkeys(s.fields.get(label, ())))
        pools.append([FieldIs(label, (p,)).render() for p, c in parts.most_common(3) if c >= 2])
    texts = [". ".join(s.free) for s in structs] if any(s.fields for s in structs) else \
        [it.text for it in items if it.text and not _NUM_RE.match(it.text)]
    if any(t.strip() for t in texts):
        try:
            vec = CountVectorizer(binary=True, stop_words="english", min_df=2)
            X = vec.fit_transform(texts)
            df = np.asarray(X.sum(axis=0)).ravel()
            vocab = vec.get_feature_names_out()
            words = [str(vocab[i]) for i in np.argsort(-df, kind="stable") if is_statement(str(vocab[i]))]
            pools.append([Mentions(w).render() for w in words[:10]])
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
