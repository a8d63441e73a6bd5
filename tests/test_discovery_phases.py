"""The phases of an addition (discovery.py), tested one at a time."""

from __future__ import annotations

import numpy as np

from genz.discovery import Callbacks, Discovery, DiscoveryConfig
from genz.fm.predicates import PredicateFM

from .conftest import make_attr_items


def _disc(n=200, seed=0):
    items = make_attr_items(n, seed)
    y = np.array([1.0 * (it.attributes["area"] >= 3000) + 0.5 * ("pool" in it.text) for it in items])
    y += np.random.default_rng(seed).normal(size=n) * 0.05
    d = Discovery(PredicateFM(), DiscoveryConfig(seed=seed), items, y[:, None])
    d.start()
    return d


def test_couple_flips_polarity_and_keeps_predictions():
    """Judgments that describe the decoupled feature's *negative* group flip z → 1 − z, with θ
    re-parametrised: predictions at the new posterior (z = b) equal those before coupling."""
    d = _disc()
    dec = d.decoupled_feature()
    K = dec.st.K - 1
    before = dec.model.predict(dec.st.Q, None)
    b = 1.0 - (dec.q > 0.5)  # the complement of the split
    eps = d.couple(dec, b, np.ones(len(d.items), bool), judgments=None)
    assert d.counters["flipped"] == 1
    assert eps == d.cfg.advanced.eps_min  # agreement is perfect after the flip
    Qb = dec.st.Q.copy()
    Qb[:, K] = b
    np.testing.assert_allclose(dec.model.predict(Qb, None), before, atol=1e-9)
    np.testing.assert_allclose(dec.st.Q[:, K], b * (1 - eps) + (1 - b) * eps)


def test_couple_keeps_polarity_when_judgments_agree():
    d = _disc()
    dec = d.decoupled_feature()
    w_before = dec.model.weights().copy()
    d.couple(dec, (dec.q > 0.5).astype(float), np.ones(len(d.items), bool), judgments=None)
    assert d.counters["flipped"] == 0
    np.testing.assert_allclose(dec.model.weights(), w_before)


def test_addition_finds_a_planted_term_and_history_counts_em():
    d = _disc()
    out = d.algorithm_1(Callbacks())
    assert out.action == "add" and len(d.features) == 1
    assert all(hasattr(r, "converged") for r in out.em) and len(out.em) == 2
