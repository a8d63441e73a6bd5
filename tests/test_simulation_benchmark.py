"""benchmarks/simulation.py: the generator plants what it says at the stated noise, and the
scoring of predictions and findings counts what it claims."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from genz.fm.predicates import parse_predicate

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "simulation.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulation_benchmark", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["simulation_benchmark"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_pool_term_is_a_descriptor_the_engine_evaluates_to_the_truth(sim):
    rng = np.random.default_rng(0)
    attrs, notes, T = sim._catalogue(rng, 3000)
    from genz import Item

    items = [Item(id=str(i), text=notes[i], attributes=attrs[i]) for i in range(3000)]
    for m, term in enumerate(sim.TERM_POOL):
        np.testing.assert_array_equal(parse_predicate(term.name).evaluate(items), T[:, m], err_msg=term.name)
    share = T.mean(axis=0)
    assert np.all((share > 0.08) & (share < 0.45)), share  # no term too rare to learn or too common


@pytest.mark.parametrize("setting", ["N300", "null1000"])
def test_simulation_plants_its_terms_at_the_stated_noise(sim, setting):
    s = sim.make_simulation(setting, 1000)
    n, null = sim.SETTINGS[setting]
    assert len(s.train_items) == n and len(s.test_items) == sim.N_TEST
    assert (len(s.terms) == 0) if null else (3 <= len(s.terms) <= 6)
    assert np.all((np.abs(s.effects) >= 0.3) & (np.abs(s.effects) <= 1.0)) and 0.5 <= s.sigma <= 1.0
    np.testing.assert_allclose(s.f_test, sim.INTERCEPT + s.T_test @ s.effects)
    resid = np.concatenate([s.y_train - sim.INTERCEPT - s.T_train @ s.effects, s.y_test - s.f_test])
    assert resid.std() == pytest.approx(s.sigma, rel=0.15)  # t5 noise scaled to variance sigma²
    again = sim.make_simulation(setting, 1000)
    assert [it.text for it in again.train_items] == [it.text for it in s.train_items]
    assert not np.array_equal(sim.make_simulation(setting, 1001).y_train, s.y_train)


def test_matching_flips_the_effect_of_a_complement_and_gives_zero_to_junk(sim):
    rng = np.random.default_rng(1)
    T = (rng.random((400, 2)) < 0.3).astype(int)
    effects = np.array([0.7, -0.4])
    noisy = T[:, 0].copy()
    noisy[:10] = 1 - noisy[:10]  # 97.5% agreement: still a match
    B = np.column_stack([1 - T[:, 1], noisy, rng.random(400) < 0.5])
    assert sim.match_terms(B, T, effects) == [(1, 0.4), (0, 0.7), (None, 0.0)]


def _record(setting, seed, genz, ridge, findings, K=3, terms=("t",), found=(True,)):
    return {"setting": setting, "seed": seed, "excess_mse": {"genz": genz, "ridge": ridge, "lasso": ridge, "oracle": 0.0},
            "K": K, "n_findings": len(findings), "false_findings": sum(f["term"] is None for f in findings),
            "fdp": (sum(f["term"] is None for f in findings) / len(findings)) if findings else 0.0, "findings": findings,
            "level": 0.05, "findings_source": "findings_", "terms": list(terms), "effects": [0.5] * len(terms),
            "term_found": list(found), "finding_found": list(found), "seconds": 1.0}


def _finding(term, truth, lo, hi):
    return {"feature": "f", "term": term, "truth": truth, "ci_low": lo, "ci_high": hi,
            "covers": lo <= truth <= hi, "interval_has_zero": lo <= 0 <= hi}


def test_summary_counts_fdp_coverage_and_paired_differences(sim):
    good = _finding("'organic' is \"true\"", 0.5, 0.3, 0.7)
    miss = _finding("'organic' is \"true\"", 0.5, 0.6, 0.9)  # interval misses the planted effect
    junk = _finding(None, 0.0, 0.1, 0.4)  # a false finding whose interval excludes its truth, 0
    recs = [_record("N300", 1, 0.2, 0.1, [good, junk], terms=("'organic' is \"true\"",)),
            _record("N300", 2, 0.3, 0.1, [miss], terms=("'organic' is \"true\"",)),
            _record("N300", 3, 0.1, 0.2, [], terms=("'organic' is \"true\"",), found=(False,))]
    s = sim.summarize(recs)["N300"]
    assert s["fdp"][0] == pytest.approx((0.5 + 0 + 0) / 3)
    assert s["no_finding"][0] == pytest.approx(1 / 3)
    assert s["coverage"][0] == pytest.approx(1 / 3) and s["coverage"][3] == 3
    assert s["findings_with_zero_in_interval"] == 0
    d = s["paired"]["ridge"]
    assert d[0] == pytest.approx(0.2 / 3) and d[1] < d[0] < d[2]
    assert s["genz_worse_share"]["ridge"] == pytest.approx(2 / 3)
    assert s["per_term"]["'organic' is \"true\""]["recall_findings"] == pytest.approx(2 / 3)
    text = sim.format_summary(sim.summarize(recs), "development seeds 1-3")
    assert "| N300 | 3 | 0.2000 | 0.1333 |" in text and "0.167" in text


def test_findings_come_from_findings_and_their_table_rows(sim):
    """With the two answers, the findings are ``findings_`` (not every feature) and the level is
    ``inference_.error_rate``; without, the 'significant' rows stand in at 0.05."""
    rows = [{"feature": "a", "finding": True, "ci_low": 0.1, "ci_high": 0.5, "significant": True},
            {"feature": "b", "finding": False, "ci_low": -0.2, "ci_high": 0.3, "significant": False}]
    est = SimpleNamespace(features_=["a", "b"], findings_=["a"], inference_=SimpleNamespace(error_rate=0.1),
                          feature_table=lambda: rows)
    found, table, level, source = sim.findings_of(est)
    assert found == ["a"] and level == 0.1 and source == "findings_" and table["a"]["ci_low"] == 0.1
    old = SimpleNamespace(features_=["a", "b"], feature_table=lambda: rows)
    found, _, level, source = sim.findings_of(old)
    assert found == ["a"] and level == 0.05 and source == "significant"


def test_practitioner_peers_fit_the_catalogue(sim):
    s = sim.make_simulation("N300", 1003)
    for kind in ("ridge", "lasso"):
        model = sim.practitioner_model(kind, 0).fit(sim._frame(s.train_items), s.y_train)
        p = model.predict(sim._frame(s.test_items))
        excess = float(np.mean((p - s.f_test) ** 2))
        assert math.isfinite(excess) and excess < np.var(s.f_test)  # better than the mean


def test_the_parameter_an_interval_estimates_is_the_planted_effect_only_for_a_complete_structure(sim):
    """``projection_truth`` regresses the noiseless mean (not the noisy target) on the tested
    structure over the untouched rows (not all rows): with every true term it returns the planted
    effects exactly; dropping a term correlated with another shifts that other's parameter.
    ``oracle_row_coverage`` scores the true terms' own 95% intervals on the same rows."""

    class Engine:
        def judge(self, f, items):
            return SimpleNamespace(values=parse_predicate(f).evaluate(items))

    s = sim.make_simulation("N1000", 1003)
    ids = [it.id for it in s.train_items[::3]]

    def est(features):
        inf = SimpleNamespace(features=list(features), ids=ids, identified=np.ones(len(features), bool))
        return SimpleNamespace(inference_=inf, fm_=Engine())

    full = sim.projection_truth(est(s.terms), s)
    np.testing.assert_allclose([full[t] for t in s.terms], s.effects, atol=1e-9)
    short = sim.projection_truth(est(s.terms[1:]), s)
    assert set(short) == set(s.terms[1:])
    assert max(abs(short[t] - e) for t, e in zip(s.terms[1:], s.effects[1:])) > 1e-3
    covers = sim.oracle_row_coverage(est(s.terms), s)
    assert len(covers) == len(s.terms) and all(isinstance(c, bool) for c in covers)
    assert sim.projection_truth(SimpleNamespace(inference_=None), s) == {}
