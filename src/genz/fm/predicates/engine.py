"""The offline predicate engine: judging, mining candidates (best first, with conjunctions) and
the zero-shot proposal pool."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from ...errors import FMError, MiningError
from ...items import Item
from ..base import FMStats, Judgments
from .families import _score, families
from .grammar import parse_predicate
from .phrases import phrase_in_context
from .predicate import And, AtLeast, Below, Equals, Includes, Mentions, Not, Predicate
from .values import _NUM_RE, _attribute_kinds, _numeric_values, _string_values


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
        fams = list(families(self, items, y))
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
