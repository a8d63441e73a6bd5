"""Which phrase a mined phrase stands for: the least-squares phrase of its own sentences.

Mining picks a phrase by how well it separates over- from under-predicted *exemplars*; when
the property is written in several sentences, the phrase that separates best on the exemplars
can be a piece of one of them ("windows face", from "Windows face a noisy street.") or a
word they share with others ("call", for "on call rotation"). The piece misses the items that
say it otherwise, and the residual it leaves is explained by more pieces: extra features and
false findings, as a misplaced cut of a number leaves (:mod:`.cuts`).

:func:`refine_phrase` moves ``mentions "P"`` to the phrase of 1-4 words, taken from the
sentences that contain P, whose indicator explains the residual ``R`` best (the between-group
sum of squares of :mod:`.cuts`), among those that share at least half of the smaller one's
items with P (a neighbour of P, not any phrase): a longer phrase that holds on a subset, a
shorter or different one of the same sentences that holds on a superset. Candidates are
readable statements (:func:`.phrases.is_readable_phrase`, :func:`.phrases.is_statement`), said
in at least ``min_support`` texts; the :data:`MAX_CANDIDATES` most frequent are scored. Of
phrases that hold on the same items (equal gains), the simplest is taken
(:func:`.predicate.phrase_complexity`: "noisy street" over "noisy"); the mined phrase stays
unless another explains the residual strictly better. A candidate passes the readability rules
mining's candidates pass (:class:`.readable.Readability`: shown in its context, a statement,
not a lone word of a fixed expression or beside the fields of structured texts) and is scored
as shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ...items import Item
from .cuts import LOCATE_AGREEMENT, LOCATE_BOOT, _gain, min_side
from .phrases import _BREAK, _WORD_RE, _mark_sentences, _phrase_pattern, is_readable_phrase, is_statement
from .predicate import Mentions
from .readable import Readability

__all__ = ["refine_phrase", "phrase_located", "MAX_CANDIDATES", "MAX_WORDS", "MIN_OVERLAP"]

#: most candidate phrases scored per refinement (the most frequent)
MAX_CANDIDATES = 60
#: longest candidate phrase, in words
MAX_WORDS = 4
#: a candidate shares at least this share of the smaller item set with the mined phrase
MIN_OVERLAP = 0.5


def _sentence_phrases(texts: Sequence[str], pat: re.Pattern) -> Counter:
    """Phrases of 1-:data:`MAX_WORDS` words of the sentences that match ``pat``, counted once
    per text."""
    grams: Counter = Counter()
    for text in texts:
        # in the order said, not a set's: that order changes with the hash seed, and ties among equal counts follow it
        seen: dict[str, None] = {}
        for sentence in _mark_sentences(text).split(_BREAK.strip()):
            if not pat.search(sentence):
                continue
            words = re.findall(_WORD_RE, sentence)
            for n in range(1, MAX_WORDS + 1):
                for j in range(len(words) - n + 1):
                    seen[" ".join(words[j:j + n])] = None
        grams.update(list(seen))
    return grams


def _neighbour_phrases(pred: Mentions, items: Sequence[Item], cur: np.ndarray, min_support: int
                       ) -> tuple[Counter, list[str]]:
    """The phrases of the sentences that contain P (``cur``: P's indicator), counted once per
    text, and those said in at least ``min_support`` texts that are readable statements other
    than P, most frequent first: the candidates before the overlap rule (:func:`_overlaps`)."""
    own = pred.phrase.lower()
    grams = _sentence_phrases([items[i].text for i in np.flatnonzero(cur)], _phrase_pattern(pred.phrase))
    return grams, [g for g, c in grams.most_common() if c >= min_support and g != own
                   and is_readable_phrase(g) and is_statement(g)]


def _overlaps(b: np.ndarray, cur: np.ndarray) -> bool:
    """Whether a candidate's indicator ``b`` shares at least :data:`MIN_OVERLAP` of the smaller
    item set with P's (``cur``): a neighbour of P, not any phrase."""
    return bool((b & cur).sum() >= MIN_OVERLAP * min(int(b.sum()), int(cur.sum())))


def refine_phrase(pred: Mentions, items: Sequence[Item], R: np.ndarray, min_support: int = 2) -> Mentions | None:
    """``pred`` moved to the phrase of its sentences that explains the residual ``R`` (N×D)
    best (module doc), or None when no other phrase does better."""
    N = len(items)
    R = np.asarray(R, dtype=float).reshape(N, -1)
    Rc = R - R.mean(axis=0)
    m = min_side(N, min_support)

    def gain(b: np.ndarray) -> float:  # -inf when a side has fewer than m items
        return float(_gain(Rc[b].sum(axis=0), np.array(float(b.sum())), N, m))

    cur = pred.evaluate(items)
    floor = gain(cur) * (1 + 1e-9)
    if not np.isfinite(floor):
        return None
    grams, cands = _neighbour_phrases(pred, items, cur, min_support)
    scored = []
    for g in cands[:MAX_CANDIDATES]:
        b = Mentions(g).evaluate(items)
        if _overlaps(b, cur) and (v := gain(b)) > floor:
            scored.append((v, g))
    # best first; of phrases that hold on the same items (equal gains) the simplest reads best
    scored.sort(key=lambda t: (-t[0], Mentions(t[1]).complexity, -grams[t[1]]))
    rules = Readability(items, (), min_support)
    for _, g in scored:
        shown = rules.shown(Mentions(g))  # what mining would offer: the same readability rules
        if not isinstance(shown, Mentions):
            continue
        if shown.phrase != g and gain(shown.evaluate(items)) <= floor:  # shown in its context: score what is shown
            continue
        return None if shown.phrase.lower() == pred.phrase.lower() else shown
    return None


def phrase_located(pred: Mentions, items: Sequence[Item], R: np.ndarray, seed: int = 0, min_support: int = 2,
                   n_boot: int = LOCATE_BOOT, agreement: float = LOCATE_AGREEMENT) -> float | None:
    """How well the rows place the phrase: the share of ``n_boot`` bootstrap resamples of the
    items in which, of P and its neighbours (the candidates of :func:`refine_phrase` that pass
    the readability rules), the phrase that explains the residual ``R`` best agrees with P on at
    least ``agreement`` of the items (as :func:`.cuts.cut_located` places a cut). None when P
    holds for too few items to say."""
    N = len(items)
    R = np.asarray(R, dtype=float).reshape(N, -1)
    m = min_side(N, min_support)
    cur = pred.evaluate(items)
    n_cur = int(cur.sum())
    if n_cur < m or N - n_cur < m:
        return None
    rules = Readability(items, (), min_support)
    cols = [cur]
    for g in _neighbour_phrases(pred, items, cur, min_support)[1]:
        if len(cols) > MAX_CANDIDATES:
            break
        b = Mentions(g).evaluate(items)
        if not _overlaps(b, cur):
            continue
        shown = rules.shown(Mentions(g))
        if isinstance(shown, Mentions) and shown.phrase == g:
            cols.append(b)
    Bc = np.column_stack(cols).astype(float)  # N×C, P first (ties keep P)
    same = (Bc == cur[:, None]).mean(axis=0) >= agreement
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(int(n_boot)):
        w = np.bincount(rng.integers(0, N, N), minlength=N).astype(float)
        Rc = R - (w @ R) / N
        S = (Bc * w[:, None]).T @ Rc  # C×D
        n1 = w @ Bc
        hits += bool(same[int(np.argmax(_gain(S, n1, N, m)))])
    return hits / max(int(n_boot), 1)
