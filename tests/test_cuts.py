"""The least-squares placement of a mined cut (genz.fm.predicates.cuts)."""

from __future__ import annotations

import numpy as np

from genz import Item
from genz.fm.predicates import PredicateFM
from genz.fm.predicates.cuts import refine_cut
from genz.fm.predicates.grammar import parse_predicate


def _items(key, values):
    return [Item(id=str(i), attributes={} if v is None else {key: v}) for i, v in enumerate(values)]


def test_a_threshold_moves_to_the_step_of_the_residual_keeping_its_direction():
    """Catches: a cut one value off (the step's own value on the wrong side), the predicate's
    direction flipped, or the sum of squares not centred (a cut at the largest group wins)."""
    rng = np.random.default_rng(0)
    w = np.round(rng.uniform(6, 16, 800), 1)
    r = (w < 9) * 1.0 + rng.normal(0, 0.3, w.size)
    items = _items("weight_kg", w.tolist())
    fm = PredicateFM()
    for start in ("'weight_kg' is at least 8.8", "'weight_kg' is below 9.6"):
        out = parse_predicate(fm.refine(start, items, r[:, None]))
        assert type(out) is type(parse_predicate(start))
        np.testing.assert_array_equal(out.evaluate(items) != (type(out).__name__ == "AtLeast"), w < 9)
    # a constant shift of the residual changes nothing
    assert fm.refine("'weight_kg' is at least 8.8", items, r[:, None] + 5.0) == fm.refine(
        "'weight_kg' is at least 8.8", items, r[:, None])


def test_a_range_finds_both_ends_of_a_band_and_other_descriptors_stay_as_they_are():
    rng = np.random.default_rng(1)
    p = np.round(np.exp(rng.uniform(np.log(4), np.log(150), 900))) - 0.01
    r = ((p >= 20) & (p <= 40)) * 1.0 + rng.normal(0, 0.4, p.size)
    items = _items("price", p.tolist())
    fm = PredicateFM()
    out = parse_predicate(fm.refine("'price' is between 20 and 45", items, np.column_stack([r, -r])))
    np.testing.assert_array_equal(out.evaluate(items), (p >= 20) & (p <= 40))
    for d in ("'brand' is \"Orla\"", "mentions \"sea view\"", "('price' is below 30) and ('brand' is \"Orla\")"):
        assert fm.refine(d, items, r[:, None]) == d


def test_the_search_is_local_a_far_cut_moves_at_most_a_tenth_of_the_items():
    """Catches: a refinement that jumps to wherever the residual fits best (it would fit a weak
    feature's cut to the noise)."""
    rng = np.random.default_rng(4)
    w = np.round(rng.uniform(6, 16, 1000), 1)
    r = (w < 9) * 1.0 + rng.normal(0, 0.3, w.size)
    items = _items("weight_kg", w.tolist())
    start = parse_predicate("'weight_kg' is below 13")
    out = refine_cut(start, items, r[:, None])
    moved = (out.evaluate(items) != start.evaluate(items)).mean()
    assert 0.05 < moved <= 0.10  # towards 9, as far as it may go
    assert out.t < 13


def test_a_cut_never_isolates_a_few_items_and_missing_numbers_stay_outside():
    """Catches: a refined cut that fits one outlier (each side needs 2% of the items), or
    items without the number counted inside the threshold."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 100, 500)
    r = rng.normal(0, 1, 500)
    r[np.argmax(x)] = 40.0  # one huge residual at the largest value
    vals = x.tolist()
    for i in range(0, 500, 10):
        vals[i] = None
    items = _items("x", vals)
    out = refine_cut(parse_predicate("'x' is at least 50"), items, r[:, None])
    inside = out.evaluate(items)
    assert 10 <= inside.sum() <= 490
    assert not inside[::10].any()


def test_located_says_whether_the_rows_place_a_cut():
    """``cut_located``: a sharp step on 210 rows is placed in nearly every resample; the same cut
    against a residual of pure noise (or a weak step) is not. Catches: a share that ignores the
    resamples (always 1 or always 0), resamples that reuse the rows unchanged, or an agreement
    measured on the resample instead of the rows."""
    from genz.fm.predicates.cuts import cut_located

    rng = np.random.default_rng(5)
    w = np.round(rng.uniform(1990, 2020, 210))
    items = _items("vintage", w.tolist())
    sharp = (w < 2008) * 1.0 + rng.normal(0, 0.3, w.size)
    noise = rng.normal(0, 1.0, w.size)
    fm = PredicateFM()
    cut = fm.refine("'vintage' is below 2009", items, sharp[:, None])
    assert parse_predicate(cut).evaluate(items).tolist() == (w < 2008).tolist()
    assert fm.locate(cut, items, sharp[:, None], seed=0) >= 0.9
    assert fm.locate(cut, items, noise[:, None], seed=0) < 0.5
    weak = (w < 2008) * 0.25 + rng.normal(0, 1.0, w.size)
    assert fm.locate(cut, items, weak[:, None], seed=0) < fm.locate(cut, items, sharp[:, None], seed=0)
    # a middling step: some resamples place it, some do not (the share is a share of resamples)
    mid = (w < 2008) * 0.7 + np.random.default_rng(11).normal(0, 1.0, w.size)
    assert all(0.5 <= fm.locate(cut, items, mid[:, None], seed=s) <= 0.9 for s in range(3))
    # not a cut of a number: nothing to say
    assert fm.locate('mentions "oak barrels"', items, noise[:, None]) is None
    assert cut_located(parse_predicate('mentions "oak"'), items, noise[:, None]) is None
