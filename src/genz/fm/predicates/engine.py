"""The offline predicate engine: judging, mining candidates (best first, with conjunctions) and
the zero-shot proposal pool."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import FMError, MiningError
from ...items import Item
from ..base import FMStats, Judgments
from .cuts import cut_located, refine_cut
from .families import _score, attribute_families
from .grammar import parse_predicate
from .numfmt import cut_between
from .phrase_refine import phrase_located, refine_phrase
from .predicate import And, AtLeast, Below, Between, FieldIs, Mentions, Not, OneOf, Predicate, numbers_of
from .propose import generic_pool
from .readable import Readability, scope_of
from .textfamilies import text_families


#: candidates of one mining call that cut the same number, or that are sets of values of the same
#: attribute or field (four cut points of one number would crowd out every other characteristic;
#: single values, list members and phrases are each their own statement)
MAX_PER_SCOPE = 2


def _movable(descriptor: str) -> tuple[Predicate, bool] | None:
    """The part of a descriptor that ``refine`` moves and ``locate`` places, and whether it
    came negated: "not (mentions P)" moves P; any other descriptor is its own part. None when
    the descriptor is not in the engine's grammar."""
    try:
        pred = parse_predicate(descriptor)
    except (FMError, ValueError):
        return None
    negated = isinstance(pred, Not) and isinstance(pred.inner, Mentions)
    return (pred.inner if negated else pred), negated


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
    exact_judgments = True  # (not a field) a descriptor is a rule evaluated on the item: ε = 0 by construction

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

    def refine(self, descriptor: str, items: Sequence[Item], residual: np.ndarray) -> str:
        """The descriptor with its cut of a number moved to where it explains ``residual``
        (N×D, one row per item) best by least squares (:mod:`.cuts`), or its phrase moved to
        the phrase of its sentences that does (:mod:`.phrase_refine`); any other descriptor as
        it is. Discovery calls it on a feature it has just kept, with the other features' residual."""
        parsed = _movable(descriptor)
        if parsed is None:
            return descriptor
        core, negated = parsed
        move = refine_phrase if isinstance(core, Mentions) else refine_cut
        better = move(core, items, residual, self.min_support)
        if better is None:
            return descriptor
        return (Not(better) if negated else better).render()

    def locate(self, descriptor: str, items: Sequence[Item], residual: np.ndarray, seed: int = 0) -> float | None:
        """How well ``items`` place the descriptor's cut of a number (or its phrase) for
        ``residual``: the share of bootstrap resamples whose least-squares cut (phrase) is the
        same (:func:`.cuts.cut_located`, :func:`.phrase_refine.phrase_located`); None for any
        other descriptor."""
        parsed = _movable(descriptor)
        if parsed is None:
            return None
        core = parsed[0]
        place = phrase_located if isinstance(core, Mentions) else cut_located
        return place(core, items, residual, seed, self.min_support)

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
        """Up to ``n`` different characteristics that separate the two groups, best first: the
        top scores, in the form a person reads best (a descriptor that fits the *negative*
        group is offered as it is, never as ``not (...)``: discovery flips the feature's
        polarity), at most :data:`MAX_PER_SCOPE` cuts of one number or sets of one attribute
        or field (a range's simpler threshold may come on top), skipping fragments (:mod:`.readable`), near-duplicates of an excluded or
        chosen phrase, a candidate that repeats an excluded descriptor over the same attribute
        or field (or its complement: Jaccard >= 0.95 on the exemplars), and any candidate that agrees with an earlier one, a known or an
        excluded descriptor (or its complement) on 98% of the exemplars (``the text's area is at least 2615 square feet``
        after ``'area' is at least 2615``)."""
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
        self._w, self._y = w, y
        fams = list(attribute_families(self, items, y)) + list(text_families(self, items, y))
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
            signed = _score(fam.tp, fam.fp, n_pos, n_neg, self.score)  # > 0: fits the positives
            sc = np.where(valid, np.abs(signed) - pen * fam.complexity, -np.inf)
            for i in np.argsort(-sc, kind="stable")[:100]:
                if np.isfinite(sc[i]):
                    ranked.append((float(sc[i]), order, (fam.make, int(i), bool(signed[i] < 0))))
                    order += 1
        ranked.sort(key=lambda r: (-r[0], r[1]))
        if self.conjunctions:
            ranked = self._with_conjunctions(ranked, items, y, w, n_pos, n_neg)
        excluded = {e.strip() for e in exclude}
        rules = Readability(items, excluded, self.min_support)
        chosen: list[str] = []
        chosen_cols: list[np.ndarray] = _excluded_columns(excluded, items)  # same judgments as a known one: skip
        n_known = len(chosen_cols)
        per_scope: Counter = Counter()
        for sc, _, maker in ranked:
            if sc <= 0 or len(chosen) >= n:
                break
            pred = rules.shown(_build(maker))
            if pred is None or (_crowd(pred) is not None and per_scope[_crowd(pred)] >= MAX_PER_SCOPE):
                continue
            text = pred.render()
            if text in excluded or text in chosen or rules.near_duplicate(pred) or rules.redundant(pred):
                continue
            if n > 1 or n_known:
                col = pred.evaluate(items)
                if any(max((col == c).mean(), (col != c).mean()) >= 0.98 for c in chosen_cols):
                    continue
                chosen_cols.append(col)
            rules.keep(pred)
            chosen.append(text)
            if _crowd(pred) is not None:
                per_scope[_crowd(pred)] += 1
            simple = _simplest_part(pred, items, y, w, self.score) if len(chosen) < n else None
            if simple is not None:  # let discovery weigh a range against its simpler threshold
                t2 = simple.render()
                c2 = simple.evaluate(items)
                if t2 not in excluded and t2 not in chosen and not rules.redundant(simple) and not any(
                        max((c2 == c).mean(), (c2 != c).mean()) >= 0.98 for c in chosen_cols):
                    chosen_cols.append(c2)
                    rules.keep(simple)
                    chosen.append(t2)
        if not chosen:
            raise MiningError("no predicate separates the positive group from the negative group")
        return chosen

    def _with_conjunctions(self, ranked, items, y, w, n_pos, n_neg):
        """Add conjunctions ``(A) and (B)`` of the best single predicates over different
        attributes, each part in the form that fits the positive group (a threshold's
        complement is a threshold; a part that would need ``not`` is left out), scored like the
        others by how well they separate the groups (complexity: both parts plus ½)."""
        singles, attrs, seen = [], [], set()
        for sc, _, maker in ranked:
            if len(singles) >= self.n_conjunction_terms:
                break
            pred = _oriented(maker)
            if pred is None:
                continue
            text = pred.render()
            if text in seen:
                continue
            seen.add(text)
            singles.append(pred)
            attrs.append(scope_of(pred))
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
        sc = np.abs(_score(tp[i_idx, j_idx], fp[i_idx, j_idx], n_pos, n_neg, self.score))
        sc = sc - self.complexity_penalty * (comp[i_idx] + comp[j_idx] + 0.5)
        ok = (sup[i_idx, j_idx] >= self.min_support) & (sup[i_idx, j_idx] <= len(items) - self.min_support)
        extra = [(float(s), len(ranked) + k, ("and", singles[i], singles[j]))
                 for k, (s, i, j, o) in enumerate(zip(sc, i_idx, j_idx, ok)) if o]
        out = ranked + extra
        out.sort(key=lambda r: (-r[0], r[1]))
        return out

    # -- zero-shot proposal ----------------------------------------------------------------------
    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        """A generic pool of single predicates (see :func:`.propose.generic_pool`)."""
        self.stats.add_call("propose")
        return generic_pool(list(sample_items), n)


def _build(maker: Any) -> Predicate:
    """The candidate as offered: a conjunction, or the family's own form (whichever group it fits)."""
    if maker[0] == "and":
        return And(maker[1], maker[2])
    make, i, _ = maker
    return make(i)


def _simplest_part(p: Predicate, items: list[Item], y: np.ndarray, w: np.ndarray, kind: str) -> Predicate | None:
    """For a range, the better of its two one-sided thresholds (by how well they separate the
    groups); None for other predicates (a set's single value is another statement, not a
    simpler form of it: sets keep only categories that differ beyond noise)."""
    if isinstance(p, Between) and p.lo != p.hi:
        v = numbers_of(items, p.attr)
        above = v[np.isfinite(v) & (v > p.hi)]
        parts: list[Predicate] = [AtLeast(p.attr, p.lo)]
        if above.size:
            below_hi = v[np.isfinite(v) & (v <= p.hi)]
            if below_hi.size:
                parts.append(Below(p.attr, cut_between(below_hi.max(), above.min())))
    else:
        return None
    n_pos, n_neg = float(w[y].sum()), float(w[~y].sum())

    def sep(q: Predicate) -> float:
        b = q.evaluate(items)
        return abs(float(_score(np.array([w[y & b].sum()]), np.array([w[~y & b].sum()]), n_pos, n_neg, kind)[0]))

    return max(parts, key=sep)


def _crowd(p: Predicate) -> str | None:
    """What a candidate competes with for :data:`MAX_PER_SCOPE` (None: nothing)."""
    if isinstance(p, (AtLeast, Below, Between)):
        return scope_of(p)
    if isinstance(p, (OneOf, FieldIs)) and len(p.values) > 1:
        return "set " + scope_of(p)
    return None


def _oriented(maker: Any) -> Predicate | None:
    """The candidate in the form that fits the positive group, where that needs no ``not``."""
    make, i, fits_negatives = maker
    pred = make(i)
    if not fits_negatives:
        return pred
    if isinstance(pred, AtLeast):
        return Below(pred.attr, pred.t)
    if isinstance(pred, Below):
        return AtLeast(pred.attr, pred.t)
    return None


def _excluded_columns(excluded: Collection[str], items: Sequence[Item]) -> list[np.ndarray]:
    """The judgments on the exemplars of every excluded descriptor the engine can read (others
    are skipped), to leave out candidates that would only repeat one of them in other words."""
    cols = []
    for e in excluded:
        try:
            pred = parse_predicate(e)
        except Exception:  # a descriptor in free text (an LLM's, a hypothesis): nothing to compare
            continue
        if pred is not None:
            cols.append(np.asarray(pred.evaluate(items), dtype=bool))
    return cols
