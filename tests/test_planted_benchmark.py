"""benchmarks/planted.py: the generator plants what it says, and the scoring counts it right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from genz.fm.predicates import parse_predicate

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "planted.py"


@pytest.fixture(scope="module")
def planted():
    spec = importlib.util.spec_from_file_location("planted_benchmark", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["planted_benchmark"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["attributes", "text", "multi", "mixed"])
def test_tasks_plant_their_terms(planted, name):
    t = planted.make_task(name, 100, n=300)
    assert len(t.train_items) == 225 and len(t.test_items) == 75
    assert t.T_train.shape == (225, len(t.terms))
    assert np.all((t.T_train.mean(0) > 0.1) & (t.T_train.mean(0) < 0.7))
    assert (np.ndim(t.y_train) == 2 and t.y_train.shape[1] == 3) if name == "multi" else np.ndim(t.y_train) == 1
    assert (t.U_train is not None) == (name == "mixed")
    # every term's name is a descriptor the offline engine evaluates to exactly the planted truth
    for m, term in enumerate(t.terms):
        np.testing.assert_array_equal(parse_predicate(term).evaluate(t.train_items), t.T_train[:, m])
    if name == "text":  # text-only signal: no attribute carries it
        assert all(set(it.attributes) == {"floor", "agent", "city", "rooms"} for it in t.train_items)
    again = planted.make_task(name, 100, n=300)
    assert [it.text for it in again.train_items] == [it.text for it in t.train_items]
    assert [it.text for it in planted.make_task(name, 101, n=300).train_items] != [it.text for it in t.train_items]


def test_oracle_is_near_the_noise_level(planted):
    t = planted.make_task("attributes", 0, n=800)
    assert planted.oracle_rmse(t) == pytest.approx(t.meta["noise_sd"], rel=0.2)


def test_scoring_counts_matches_and_complements(planted):
    r = np.random.default_rng(0)
    T = (r.random((400, 3)) < 0.4).astype(int)
    exact = planted.score_features(T, T)
    assert exact["recall"] == 1.0 and exact["precision"] == 1.0 and exact["K"] == 3
    comp = planted.score_features(1 - T[:, :2], T)
    assert comp["recall"] == pytest.approx(2 / 3) and comp["precision"] == 1.0
    noisy = T[:, :1].copy()
    noisy[:30] = 1 - noisy[:30]  # 92.5% agreement: below the 95% bar
    junk = (r.random((400, 2)) < 0.5).astype(int)
    sc = planted.score_features(np.hstack([noisy, junk, T[:, 1:2]]), T)
    assert sc["recall"] == pytest.approx(1 / 3) and sc["precision"] == pytest.approx(1 / 4)
    assert sc["feature_term"] == [None, None, None, 1]
    empty = planted.score_features(np.zeros((400, 0)), T)
    assert empty["recall"] == 0.0 and empty["precision"] == 0.0 and empty["K"] == 0


class _OracleEstimator:
    """Learns exactly the planted terms (by descriptor), to check run_task end to end."""

    terms: list[str] = []

    def __init__(self, hypotheses=None):
        self.hypotheses = hypotheses

    def fit(self, items, y, U=None):
        self.features_ = list(self.terms)
        self.findings_ = list(self.terms)
        X = self.transform(items).astype(float)
        A = np.hstack([np.ones((len(items), 1)), X] + ([U] if U is not None else []))
        self.coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        return self

    def transform(self, items):
        return np.column_stack([parse_predicate(t).evaluate(items) for t in self.features_]).astype(int)

    def predict(self, items, U=None):
        X = self.transform(items).astype(float)
        return np.hstack([np.ones((len(items), 1)), X] + ([U] if U is not None else [])) @ self.coef


def test_run_task_with_a_perfect_estimator(planted):
    t = planted.make_task("mixed", 3, n=400)
    _OracleEstimator.terms = t.terms
    r = planted.run_task(t, _OracleEstimator)
    assert r["recall"] == 1.0 and r["precision"] == 1.0 and r["K"] == len(t.terms)
    assert r["ratio"] == pytest.approx(1.0, abs=1e-9)
    r = planted.run_task(t, _OracleEstimator, hypotheses=True)
    assert r["hypotheses"]["supported"] is True
    assert r["hypotheses"]["true"]["kept"] and not r["hypotheses"]["false"]["kept"]
