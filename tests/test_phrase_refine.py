"""Which phrase a mined phrase stands for (genz.fm.predicates.phrase_refine): each test names
the wrong implementation it catches."""

from __future__ import annotations

import numpy as np

from genz import Item
from genz.fm.predicates import PredicateFM
from genz.fm.predicates.phrase_refine import refine_phrase
from genz.fm.predicates.predicate import Mentions

NOISY = ["It sits on a noisy street.", "The noisy street can be heard at night.",
         "Be aware: a noisy street runs past the front windows.", "Windows face a noisy street."]
FILLER = ["The street is lined with old trees.", "Parking is available nearby.", "The rooms get morning light.",
          "Windows are double glazed.", "The heating is central.", "Shops are close."]


def _listings(n=400, seed=0):
    rng = np.random.default_rng(seed)
    items, y = [], []
    for i in range(n):
        noisy = rng.random() < 0.3
        sentences = list(rng.choice(FILLER, 2, replace=False)) + ([NOISY[rng.integers(4)]] if noisy else [])
        rng.shuffle(sentences)
        items.append(Item(id=f"l{i}", text=" ".join(sentences)))
        y.append(-1.0 * noisy + rng.normal(0, 0.3))
    y = np.array(y)
    return items, (y - y.mean())[:, None]


def test_a_piece_of_one_sentence_moves_to_the_phrase_every_sentence_shares():
    """Catches: no move (the piece stays a finding's proxy), a move to a single word where the
    two-word phrase holds on the same items ("noisy"), or a negation lost on the way."""
    items, r = _listings()
    fm = PredicateFM()
    for piece in ('mentions "windows face"', 'mentions "heard at night"', 'mentions "runs past"'):
        assert fm.refine(piece, items, r) == 'mentions "noisy street"'
    assert fm.refine('not (mentions "windows face")', items, r) == 'not (mentions "noisy street")'
    assert fm.refine('mentions "noisy street"', items, r) == 'mentions "noisy street"'  # already the best
    # a constant shift of the residual changes nothing (the sum of squares is centred)
    assert fm.refine('mentions "windows face"', items, r + 7.0) == 'mentions "noisy street"'


def test_a_word_shared_with_other_sentences_moves_to_the_phrase_that_carries_the_signal():
    """Catches: a sum of squares that is not centred or not divided by the group sizes (the
    largest group, the shared word itself, would stay)."""
    rng = np.random.default_rng(1)
    items, y = [], []
    for i in range(500):
        rota = rng.random() < 0.25
        s = ["You will join the on call rotation once a month." if rota else "Flexible hours."]
        if rng.random() < 0.4:
            s.append("Our support team is on call around the clock.")
        if rng.random() < 0.3:
            s.append("The first step is a short phone call.")
        items.append(Item(id=f"j{i}", text=" ".join(s)))
        y.append(0.8 * rota + rng.normal(0, 0.3))
    y = np.array(y)
    out = PredicateFM().refine('mentions "call"', items, (y - y.mean())[:, None])
    # shown in its context, as mining shows a phrase (every text says "join the on call rotation")
    assert out == 'mentions "join the on call rotation"'
    np.testing.assert_array_equal(Mentions("join the on call rotation").evaluate(items),
                                  Mentions("on call rotation").evaluate(items))


def test_the_move_stays_among_neighbours_of_the_mined_phrase():
    """Catches: a move to any phrase of the sentences, however few of its items the mined
    phrase holds on (here "parking", a different property that shares one rare sentence with
    "windows")."""
    rng = np.random.default_rng(2)
    items, y = [], []
    for i in range(600):
        park = rng.random() < 0.3
        s = []
        if rng.random() < 0.4:
            s.append("Windows overlook the parking." if rng.random() < 0.05 else "Windows are double glazed.")
        s.append("Parking is free for tenants." if park else "The heating is central.")
        items.append(Item(id=f"p{i}", text=" ".join(s)))
        y.append(1.0 * (park or "parking" in " ".join(s).lower()) + rng.normal(0, 0.3))
    y = np.array(y)
    out = refine_phrase(Mentions("windows"), items, (y - y.mean())[:, None])
    assert out is None or "parking" not in out.phrase


def test_a_lone_word_beside_the_fields_of_structured_texts_is_not_offered():
    """Catches: a move that skips mining's readability rules (here "walk" or "harbor", lone
    words in descriptions made of fields, which hold on more of the items than "harbor walk")."""
    rng = np.random.default_rng(5)
    items, y = [], []
    for i in range(400):
        near = rng.random() < 0.3
        text = f"Rent: {int(rng.integers(900, 2000))}. Floor: {int(rng.integers(1, 6))}. "
        variant = ["Two minutes from the harbor walk.", "The harbor walk is close.", "A short walk to the harbor."]
        text += variant[int(rng.integers(3))] if near else "Quiet courtyard."
        items.append(Item(id=f"s{i}", text=text))
        y.append(1.0 * near + rng.normal(0, 0.3))
    y = np.array(y)
    out = refine_phrase(Mentions("two minutes from"), items, (y - y.mean())[:, None])
    assert out is not None and out.phrase != "walk" and len(out.phrase.split()) >= 2


def test_other_descriptors_and_items_without_the_phrase_are_left_alone():
    items, r = _listings(200, 3)
    fm = PredicateFM()
    for d in ('mentions "sea view"', "'price' is at least 3", '(mentions "noisy street") and (mentions "shops")'):
        assert fm.refine(d, items, r) == d


def test_located_says_whether_the_rows_place_a_phrase():
    """``phrase_located`` (the engine's ``locate`` for a phrase): with the signal on "noisy
    street", that phrase is placed in nearly every resample and "windows face" (a piece of one
    of its sentences) in almost none; against pure noise "noisy street" is placed in some
    resamples and not others. Catches: a share that ignores the resamples (always 0 or 1), or
    a neighbour counted as the phrase itself."""
    items, R = _listings(n=210, seed=3)
    fm = PredicateFM()
    assert fm.locate('mentions "noisy street"', items, R, seed=0) >= 0.9
    assert fm.locate('mentions "windows face"', items, R, seed=0) <= 0.1
    assert fm.locate('not (mentions "windows face")', items, R, seed=0) <= 0.1
    noise = np.random.default_rng(0).normal(size=(210, 1))
    shares = [fm.locate('mentions "noisy street"', items, noise, seed=s) for s in range(3)]
    assert all(0.05 < s < 0.95 for s in shares), shares
