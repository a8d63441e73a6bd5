import numpy as np
import pytest

from genz.errors import FMError, MiningError
from genz.fm.predicates import PredicateFM, parse_predicate
from genz.items import Item, items_from_texts

from .conftest import make_attr_items

RENDERED = [
    "the number is at least 256",
    "the number is below 17",
    "'area' is at least 3000",
    "'year' is between 1995 and 2000",
    "'bedrooms' is 3",
    "('genres' include \"Comedy\") and ('year' is at least 1990)",
    "the number modulo 256 is between 128 and 255",
    "the number modulo 2 is 0",
    "'zip' is \"92880\"",
    "'zip' is one of [\"85255\", \"85262\", \"85377\"]",
    "'zip' starts with \"85\"",
    "'genres' include \"Action\"",
    "mentions \"north ames\"",
    "not ('area' is at least 3000)",
    "not (mentions \"pool\")",
]


@pytest.mark.parametrize("text", RENDERED)
def test_render_parse_roundtrip(text):
    assert parse_predicate(text).render() == text


def test_unparseable_descriptor_is_a_clear_error():
    with pytest.raises(FMError, match="cannot read the descriptor 'historical war film'"):
        parse_predicate("historical war film")


def test_judging_families():
    items = [
        Item("1", "A house in North  Ames with a pool", {"area": 3200.0, "zip": "85255", "genres": ["Action"]}),
        Item("2", "north amesville", {"area": 1000, "zip": "92880", "genres": ["Drama"]}),
        Item("3", "7", {}),
    ]
    fm = PredicateFM()
    j = lambda d: fm.judge(d, items).values.tolist()  # noqa: E731
    assert j("'area' is at least 3000") == [True, False, False]
    assert j("not ('area' is at least 3000)") == [False, True, True]
    assert j("mentions \"north ames\"") == [True, False, False]
    assert j("'zip' starts with \"85\"") == [True, False, False]
    assert j("'genres' include \"Drama\"") == [False, True, False]
    assert j("the number modulo 4 is 3") == [False, False, True]
    assert fm.stats.calls["judge"] == 6


@pytest.mark.parametrize("truth, expected", [
    (lambda it: it.attributes["area"] >= 3000, "area"),
    (lambda it: it.attributes["zip"].startswith("85"), "starts with \"8"),
    (lambda it: it.attributes["zip"] == "92880", "92880"),
    (lambda it: "pool" in it.text, "mentions \"pool\""),
    (lambda it: "new" in it.attributes["tags"], "include \"new\""),
])
def test_mining_recovers_planted_predicate(truth, expected):
    items = make_attr_items(600)
    lab = np.array([truth(it) for it in items])
    fm = PredicateFM()
    d = fm.mine([it for it, l in zip(items, lab) if l], [it for it, l in zip(items, lab) if not l])
    assert expected in d
    got = fm.judge(d, items).values
    assert (got == lab).mean() > 0.98


def test_mining_respects_exclude_and_fails_cleanly():
    items = items_from_texts(str(n) for n in range(64))
    pos = [it for it in items if int(it.text) >= 32]
    neg = [it for it in items if int(it.text) < 32]
    fm = PredicateFM()
    first = fm.mine(pos, neg)
    second = fm.mine(pos, neg, exclude=[first])
    assert second != first
    with pytest.raises(MiningError):
        fm.mine(pos, [])


def test_binary_bits_are_mined():
    items = items_from_texts(str(n) for n in range(512))
    fm = PredicateFM()
    for j in range(9):
        lab = np.array([(n >> j) & 1 for n in range(512)], bool)
        d = fm.mine([it for it, l in zip(items, lab) if l], [it for it, l in zip(items, lab) if not l])
        b = fm.judge(d, items).values
        # the descriptor may fit either group (never as "not (...)": discovery flips polarity)
        assert (b == lab).all() or (b == ~lab).all(), d
        assert not d.startswith("not ("), d


def test_propose_generic_pool():
    items = make_attr_items(200)
    pool = PredicateFM().propose("predict price", items, n=20)
    assert 10 <= len(pool) <= 20
    assert len(set(pool)) == len(pool)
    for d in pool:
        parse_predicate(d)


def test_category_sets_survive_a_share_that_rounds_past_one():
    """A group's weighted count of a category, summed in another order than the group's total,
    can exceed it by a rounding error; the share is then clipped to 1, not left to make the
    standard error NaN. Catches: the category silently dropped from the sets (and numpy's
    'invalid value encountered in sqrt')."""
    import types
    import warnings

    from genz.fm.predicates.families import _set_families

    n = 40
    y = np.zeros(n, bool)
    y[:10] = True
    w = np.full(n, 0.1)
    M = np.zeros((n, 2))
    M[:10, 0] = M[:10, 1] = 1.0  # every positive item has both categories
    M[10, 1] = 1.0  # the second also one negative item
    fm = types.SimpleNamespace(_w=w, _y=y, max_set_size=3)
    n_pos = float(w[y].sum())
    cp = np.full(2, np.nextafter(n_pos, np.inf))  # one ulp past the group's total
    cn = np.array([0.0, 0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fams = list(_set_families(fm, cp, cn, lambda sel: tuple(sel), M))
    assert len(fams) == 1 and sorted(fams[0].make(0)) == [0, 1]
