"""The noisy judging engine (genz.fm.noisy): its errors are what it claims, deterministically.

Each test names the wrong implementation it catches."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from genz import GenZInputError, Item
from genz.fm.cache import CachedFM
from genz.fm.noisy import ErrorProfile, NoisyFM, noisy_from_spec
from genz.fm.predicates import PredicateFM
from genz.fm.registry import fm_spec, make_fm, make_fm_from_spec

N = 4000
DESC = "'x' is at least 1000"  # true for 60% of the items below


def _items(n: int = N) -> list[Item]:
    return [Item(id=f"i{i}", text=f"item number {i}", attributes={"x": (i * 7919) % 2500, "src": f"s{i % 20}"})
            for i in range(n)]


ITEMS = _items()


def _check_rate(k: int, n: int, p: float) -> None:
    """k of n is compatible with rate p (two-sided exact binomial test at 1e-4)."""
    assert binomtest(k, n, p).pvalue > 1e-4, f"{k}/{n} = {k / n:.4f} is not a rate of {p}"


@pytest.mark.parametrize("r", [0.05, 0.2, 0.3])
def test_symmetric_flips_at_the_claimed_rate_for_yes_and_no(r):
    """Catches: flips at another rate, or only on one side (e.g. only true "yes" flipped)."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=r), seed=3)
    t = fm.truth(DESC, ITEMS).values
    b = fm.judge(DESC, ITEMS).values
    w = b != t
    _check_rate(int(w[t].sum()), int(t.sum()), r)
    _check_rate(int(w[~t].sum()), int((~t).sum()), r)
    assert fm.error_rates(DESC, ITEMS)["error"] == pytest.approx(w.mean())


def test_yes_bias_flips_only_true_no():
    """Catches: a yes-bias that also turns "yes" into "no" (or flips the wrong side)."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(false_yes=0.25), seed=1)
    t = fm.truth(DESC, ITEMS).values
    b = fm.judge(DESC, ITEMS).values
    assert not np.any(t & ~b)  # no true "yes" answered "no"
    _check_rate(int((b & ~t).sum()), int((~t).sum()), 0.25)
    fm = NoisyFM(PredicateFM(), ErrorProfile(false_no=0.1), seed=1)
    b = fm.judge(DESC, ITEMS).values
    assert not np.any(~t & b)
    _check_rate(int((t & ~b).sum()), int(t.sum()), 0.1)


def test_item_dependent_errors_hit_the_same_items_for_every_descriptor():
    """Catches: the 'items' profile drawn per descriptor (then it is just random flips)."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(items=0.1), seed=2)
    w1 = fm.wrong(DESC, ITEMS)
    w2 = fm.wrong("'x' is below 300", ITEMS)
    assert np.array_equal(w1, w2)
    _check_rate(int(w1.sum()), N, 0.1)
    # another seed picks other items
    assert not np.array_equal(NoisyFM(PredicateFM(), ErrorProfile(items=0.1), seed=5).wrong(DESC, ITEMS), w1)


def test_systematic_errors_are_exactly_the_category():
    """Catches: a category error that is random, partial, or leaks outside the category."""
    fm = make_fm("noisy:predicates?wrong_on=src:s3|s7")
    w = fm.wrong(DESC, ITEMS)
    cat = np.array([it.attributes["src"] in ("s3", "s7") for it in ITEMS])
    assert np.array_equal(w, cat)


def test_profiles_combine_as_claimed():
    """error_rate() is 1 − Π(1 − rate) over the parts (catches XOR-combination, which cancels)."""
    prof = ErrorProfile(flip=0.2, items=0.1, false_yes=0.1)
    fm = NoisyFM(PredicateFM(), prof, seed=4)
    t = fm.truth(DESC, ITEMS).values
    w = fm.wrong(DESC, ITEMS)
    _check_rate(int(w[t].sum()), int(t.sum()), float(prof.error_rate(True)))
    _check_rate(int(w[~t].sum()), int((~t).sum()), float(prof.error_rate(False)))
    assert prof.error_rate(True) == pytest.approx(1 - 0.8 * 0.9)


@pytest.mark.parametrize("mode", ["calibrated", "overconfident"])
def test_soft_answers(mode):
    """Calibrated P(yes): in each bin of reported P(yes) the share of true "yes" matches it
    (catches probabilities not tied to the error); over-confident ones are more extreme than
    that share (catches 'overconfident' = calibrated). The mean error is the flip rate."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=0.2, soft=mode), seed=6)
    j = fm.judge(DESC, ITEMS)
    t = fm.truth(DESC, ITEMS).values
    assert j.prob is not None and np.all((j.prob > 0.5) == j.values)
    _check_rate(int((j.values != t).sum()), N, 0.2)
    conf = np.where(j.values, j.prob, 1 - j.prob)  # reported P(the answer is right)
    right = j.values == t
    edges = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 1.0001])
    gaps = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.sum() >= 100:
            gaps.append(conf[m].mean() - right[m].mean())
    gaps = np.array(gaps)
    if mode == "calibrated":
        assert np.all(np.abs(gaps) < 0.05)
    else:
        assert gaps.mean() > 0.05


def test_deterministic_and_order_free():
    """Catches: noise drawn from a running random stream (depends on the call, the batch, the
    order of the items) instead of a hash of (seed, descriptor, item)."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=0.3), seed=9)
    a = fm.judge(DESC, ITEMS).values
    perm = np.random.default_rng(0).permutation(N)
    b = fm.judge(DESC, [ITEMS[i] for i in perm]).values
    assert np.array_equal(a[perm], b)
    assert np.array_equal(a[:100], fm.judge(DESC, ITEMS[:100]).values)
    assert not np.array_equal(a, NoisyFM(PredicateFM(), ErrorProfile(flip=0.3), seed=10).judge(DESC, ITEMS).values)


def test_per_feature_profiles():
    """Catches: the default profile applied to a descriptor that has its own (exact or glob)."""
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=0.3), seed=1,
                 features={DESC: ErrorProfile(), "'x' is below *": ErrorProfile(false_yes=0.2)})
    assert not fm.wrong(DESC, ITEMS).any()
    assert fm.profile_for("'x' is below 300") == ErrorProfile(false_yes=0.2)
    assert fm.profile_for("'src' is \"s1\"") == ErrorProfile(flip=0.3)


def test_cached_like_any_fm(tmp_path):
    """The persistent cache stores the noisy answers under the engine's own name (catches
    noisy judgments cached as, or served from, the clean engine's)."""
    path = tmp_path / "c.sqlite"
    clean = make_fm("predicates", cache=path)
    noisy = make_fm("noisy:predicates?flip=0.3&seed=2", cache=path)
    assert isinstance(noisy, CachedFM)
    t = clean.judge(DESC, ITEMS[:500]).values
    b = noisy.judge(DESC, ITEMS[:500]).values
    assert (b != t).mean() > 0.2
    again = make_fm("noisy:predicates?flip=0.3&seed=2", cache=path)
    assert np.array_equal(again.judge(DESC, ITEMS[:500]).values, b)
    assert again.stats.cache_hits == 500 and again.stats.judgments == 0
    assert np.array_equal(make_fm("predicates", cache=path).judge(DESC, ITEMS[:500]).values, t)


def test_names_round_trip_through_the_model_spec():
    """A saved model's FM spec rebuilds the same noisy engine (genz predict)."""
    fm = make_fm("noisy:predicates?flip=0.1&items=0.05&seed=4")
    again = make_fm_from_spec(fm_spec(fm))
    assert again.name == fm.name
    assert np.array_equal(again.judge(DESC, ITEMS[:300]).values, fm.judge(DESC, ITEMS[:300]).values)


def test_mining_is_not_noisy_and_optional_parts_pass_through():
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=0.4), seed=0)
    pos = [it for it in ITEMS[:400] if it.attributes["x"] >= 1000]
    neg = [it for it in ITEMS[:400] if it.attributes["x"] < 1000]
    assert fm.mine(pos, neg) == PredicateFM().mine(pos, neg)
    assert fm.free_judgments is True and fm.complexity(DESC) == PredicateFM().complexity(DESC)
    with pytest.raises(AttributeError):
        fm.judge_batches  # noqa: B018 — a streaming judge of the inner model would bypass the noise


@pytest.mark.parametrize("spec, msg", [
    ("noisy:predicates?flip=2", "flip must be a rate"),
    ("noisy:predicates?bogus=1", "unknown setting 'bogus'"),
    ("noisy:predicates?wrong_on=src", "wrong_on must be attribute:value"),
    ("noisy:predicates?soft=maybe", "soft must be one of"),
    ("noisy:?flip=0.1", "name the model to wrap"),
    ("noisy:noisy:predicates?flip=0.1", "not another noisy one"),
])
def test_bad_names_say_what_to_do(spec, msg):
    with pytest.raises(GenZInputError, match=msg):
        make_fm(spec)


def test_cli_accepts_a_noisy_engine(tmp_path):
    from click.testing import CliRunner

    from genz.cli import main

    rows = ["id,x,y"] + [f"r{i},{i % 50},{(i % 50 >= 25) * 2.0 + (i % 7) * 0.01}" for i in range(120)]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m"
    res = CliRunner().invoke(main, ["fit", "--data", str(data), "--target", "y", "--fm",
                                    "noisy:predicates?flip=0.1&seed=1", "--cycles", "1", "-o", str(out), "--seed", "0"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["fit", "--data", str(data), "--target", "y", "--fm", "noisy:predicates?flip=7",
                                    "-o", str(tmp_path / "m2")])
    assert res.exit_code != 0 and "flip must be a rate" in res.output and "Traceback" not in res.output


def test_noisy_from_spec_keeps_the_inner_options():
    from genz.fm.registry import make_fm

    fm = noisy_from_spec("predicates?flip=0.1", make_fm, conjunctions=False)
    assert fm.inner.conjunctions is False and fm.conjunctions is False
    fm.conjunctions = True
    assert fm.inner.conjunctions is True
