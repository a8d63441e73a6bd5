"""Phrases a person would write (issue 11): the offline engine never proposes a phrase of
function words only or one that spans two sentences, and shows a phrase in its context."""

from __future__ import annotations

import numpy as np

from genz import Item
from genz.fm.predicates import FUNCTION_WORDS, Mentions, PredicateFM, is_readable_phrase, phrase_in_context


def groups(pos_texts, neg_texts):
    pos = [Item(f"p{i}", t) for i, t in enumerate(pos_texts)]
    neg = [Item(f"n{i}", t) for i, t in enumerate(neg_texts)]
    return pos, neg


def test_function_words_alone_are_never_proposed():
    # the positive group differs only in function words: "of the" / "a" must not come back
    pos, neg = groups([f"Return of the King {i}" for i in range(20)], [f"King Return {i}" for i in range(20)])
    fm = PredicateFM()
    try:
        cands = fm.mine_candidates(pos, neg, 10)
    except Exception:  # nothing left to propose is a correct outcome
        cands = []
    for c in cands:
        assert "mentions" not in c or any(w not in FUNCTION_WORDS for w in c.split('"')[1].split()), c
    assert not is_readable_phrase("of the") and not is_readable_phrase("a") and not is_readable_phrase("sunroof and")
    assert is_readable_phrase("no accidents") and is_readable_phrase("has a sunroof")


def test_no_phrase_spans_two_sentences():
    # "sunroof" ends one sentence and "clean" starts the next in every positive item
    pos, neg = groups(["Has a sunroof. Clean title. Runs well."] * 15,
                      ["Runs well. Clean title."] * 10 + ["Has a sunroof! Needs work."] * 5)
    fm = PredicateFM(conjunctions=False)
    cands = fm.mine_candidates(pos, neg, 10)
    assert cands
    for c in cands:
        assert "sunroof clean" not in c and "title runs" not in c, c
    items = [Item("a", "Has a sunroof. Clean title.")]
    assert not Mentions("sunroof clean").evaluate(items)[0]  # judging does not cross the boundary either
    assert Mentions("sunroof").evaluate(items)[0] and Mentions("has a sunroof").evaluate([Item("b", "Has-a  sunroof")])[0]


def test_a_phrase_reads_in_its_context():
    texts = ["2010 Ford. Has a sunroof. Clean title.", "Nice car, has a sunroof! One owner.", "Runs well."] * 10
    assert phrase_in_context("sunroof", texts) == "has a sunroof"
    # two texts are too few to claim that new texts will have the same words around it
    assert phrase_in_context("sunroof", texts[:3]) == "sunroof"
    assert phrase_in_context("clean", ["Clean title.", "clean title", "very clean interior"] * 10) == "clean"
    pos, neg = groups([f"Listing {i}. Has a sunroof. Runs well." for i in range(24)],
                      [f"Listing {i}. Runs well." for i in range(24)])
    assert PredicateFM().mine(pos, neg) == 'mentions "has a sunroof"'
    fm = PredicateFM()
    np.testing.assert_array_equal(fm.judge('mentions "has a sunroof"', pos + neg).values, [True] * 24 + [False] * 24)


def test_a_fits_phrase_candidates_do_not_depend_on_texts_other_engines_read_before():
    """Catches: one n-gram index shared by every engine in the process, whose first-seen order (the
    order in which equally good phrases are offered) then depended on which texts earlier fits read
    (planted ``many`` 106 kept 17 features alone and 16 after the ``multi`` task, before stop 45)."""
    import numpy as np

    from genz.fm.predicates.predicate import Mentions
    from genz.fm.predicates.textfamilies import _NgramIndex, _phrase_counts

    class Engine:  # what _phrase_counts reads of the offline engine
        max_phrase_len, min_support = 2, 2

        def __init__(self, n: int) -> None:
            self._w = np.ones(n)

    docs = ["quiet garden view", "garden view and pool", "pool and quiet", "quiet pool garden"] * 3
    y = np.array([True, False, True, False] * 3)
    names = lambda fam: [str(fam.make(i)) for i in range(len(fam.tp))]  # noqa: E731
    other = ["pool pool view garden quiet", "and view"] * 6  # another fit's texts, the same words in another order
    _phrase_counts(Engine(len(other)), other, np.array([True, False] * 6), Mentions, "text")
    again = Engine(len(docs))
    got = names(_phrase_counts(again, docs, y, Mentions, "text"))
    alone = _NgramIndex(2)  # the order a fit alone in its process sees: first seen in its own texts
    alone.matrix(docs)
    assert got == [m for m in (str(Mentions(w)) for w in alone.words) if m in set(got)] and len(got) > 3
    fresh = got
    assert names(_phrase_counts(again, docs, y, Mentions, "text")) == fresh  # and the engine's own index is kept
