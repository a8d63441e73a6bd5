"""ε of the final features on a sample of the rows when there are many (genz.error_rates.EPS_SAMPLE)."""

from __future__ import annotations

import numpy as np

import genz.error_rates as er
from genz.inference import LatentState, prior_mixture, run_em
from genz.observation.linear import LinearGaussian
from genz.settings import Advanced


def _noisy(n: int, seed: int = 0, flip: float = 0.1):
    rng = np.random.default_rng(seed)
    Z = (rng.random((n, 3)) < 0.5).astype(float)
    B = np.abs(Z - (rng.random((n, 3)) < flip))
    Y = (Z @ np.array([1.5, -1.0, 0.8]) + rng.normal(0, 0.3, n))[:, None]
    return B, Y


def _refined(B, Y):
    eps = np.full(B.shape[1], 0.05)
    st = LatentState(B=B.copy(), eps=eps.copy(), Q=prior_mixture(B, eps), coupled=np.ones(3, bool),
                     hard=np.zeros(3, bool))
    m = LinearGaussian()
    m.set_scaling(None, Y)
    m.n_features_ = 3
    run_em(m, st, None, Y, eps_min=1e-3)
    W_mean_field = m.W_.copy()
    res = er.refine_error_rates(m, st, None, Y, Advanced())
    return st, m, res, W_mean_field


def test_many_rows_estimate_eps_on_a_sample_and_agree_with_all_rows(monkeypatch):
    """Catches: a sample that is not used above the threshold (the run's start says so), ε from
    the sample that differs from the full estimate beyond sampling error, or a sampled fit that
    overwrites the full model's weights with the sample's."""
    B, Y = _noisy(3000)
    full, _, res_full, _ = _refined(B, Y)
    assert "sample" not in res_full.start
    monkeypatch.setattr(er, "EPS_SAMPLE", 1000)
    st, m, res, W_mf = _refined(B, Y)
    assert "on a sample of 1000 rows" in res.start
    np.testing.assert_allclose(st.eps, full.eps, atol=0.03)
    assert np.all(np.abs(st.eps - 0.1) < 0.04)
    np.testing.assert_array_equal(m.W_, W_mf)  # θ stays the mean-field EM's on every row
    assert st.Q.shape == B.shape
