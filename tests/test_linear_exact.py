"""The linear model's closed forms against brute-force enumeration of all 2^K configurations."""

import itertools

import numpy as np
import pytest

from genz.inference import LatentState, bound, e_step, entropy, feature_term, run_em
from genz.observation import LinearGaussian


def _setup(rng, n=7, K=5, D=3, P=2):
    Q = rng.uniform(0.05, 0.95, size=(n, K))
    U = rng.normal(size=(n, P))
    Y = rng.normal(size=(n, D))
    m = LinearGaussian()
    m.set_scaling(U, Y)
    m.n_features_ = K
    m.W_ = rng.normal(size=(D, K + P + 1))
    m.sigma2_ = rng.uniform(0.3, 2.0, size=D)
    return m, Q, U, Y


def _brute_expected_loglik(m, Q, U, Y):
    n, K = Q.shape
    out = np.zeros(n)
    for z in itertools.product([0.0, 1.0], repeat=K):
        z = np.array(z)
        w = np.prod(np.where(z == 1, Q, 1 - Q), axis=1)  # q(z) per item
        mean = m.predict(np.tile(z, (n, 1)), U)
        ll = -0.5 * (((Y - mean) ** 2) / m.sigma2_).sum(1) - 0.5 * np.sum(np.log(2 * np.pi * m.sigma2_))
        out += w * ll
    return out


@pytest.mark.parametrize("K", [1, 3, 6, 8])
def test_expected_loglik_matches_enumeration(rng, K):
    m, Q, U, Y = _setup(rng, K=K)
    np.testing.assert_allclose(m.expected_loglik(Q, U, Y), _brute_expected_loglik(m, Q, U, Y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("K", [2, 5, 8])
def test_e_step_gap_matches_enumeration(rng, K):
    """L⁺ᵏ − L⁻ᵏ (eq. 27) equals the difference of brute-force expectations with q_k clamped."""
    m, Q, U, Y = _setup(rng, K=K)
    ctx = m.begin_e_step(Q, U, Y)
    for k in range(K):
        gap = m.loglik_gap(ctx, k, Q[:, k])
        Qp, Qm = Q.copy(), Q.copy()
        Qp[:, k], Qm[:, k] = 1.0, 0.0
        brute = _brute_expected_loglik(m, Qp, U, Y) - _brute_expected_loglik(m, Qm, U, Y)
        np.testing.assert_allclose(gap, brute, rtol=1e-9, atol=1e-9)


def test_e_step_update_maximises_bound_coordinatewise(rng):
    """Each q_nk from eq. (27) is the exact maximiser of the bound over that coordinate."""
    m, Q, U, Y = _setup(rng, n=5, K=4)
    B = (rng.random(Q.shape) < 0.5).astype(float)
    st = LatentState(B=B, eps=np.array([0.1, 0.2, 0.3, 0.4]), Q=Q.copy(),
                     coupled=np.ones(4, bool), hard=np.zeros(4, bool))
    e_step(m, st, U, Y)  # a full sweep: the last feature updated (k = 3) is at its maximiser
    best = bound(m, st, U, Y)
    for delta in (-0.05, -0.01, 0.01, 0.05):
        st2 = st.copy()
        st2.Q[:, 3] = np.clip(st2.Q[:, 3] + delta, 1e-6, 1 - 1e-6)
        assert bound(m, st2, U, Y) <= best + 1e-9


def test_feature_term_and_entropy_match_enumeration(rng):
    K, n = 4, 6
    Q = rng.uniform(0.05, 0.95, (n, K))
    B = (rng.random((n, K)) < 0.5).astype(float)
    eps = rng.uniform(0.05, 0.45, K)
    ft, ent = np.zeros(n), np.zeros(n)
    for z in itertools.product([0.0, 1.0], repeat=K):
        z = np.array(z)
        w = np.prod(np.where(z == 1, Q, 1 - Q), axis=1)
        logp = np.where(z == B, np.log(1 - eps), np.log(eps)).sum(1)
        ft += w * logp
        ent -= w * np.log(w)
    np.testing.assert_allclose(feature_term(Q, B, eps), ft, rtol=1e-10)
    np.testing.assert_allclose(entropy(Q), ent, rtol=1e-10)


def test_bound_never_decreases(rng):
    n, K, D = 200, 6, 4
    Z = (rng.random((n, K)) < 0.4).astype(float)
    W = rng.normal(size=(D, K)) * 2
    Y = Z @ W.T + rng.normal(size=(n, D)) * 0.7
    B = np.where(rng.random((n, K)) < 0.2, 1 - Z, Z)
    st = LatentState(B=B, eps=np.full(K, 0.3), Q=np.full((n, K), 0.5),
                     coupled=np.ones(K, bool), hard=np.zeros(K, bool))
    m = LinearGaussian()
    m.set_scaling(None, Y)
    from genz.inference import m_step
    bounds = []
    for _ in range(40):
        m_step(m, st, None, Y, eps_min=1e-3)
        bounds.append(bound(m, st, None, Y))
        e_step(m, st, None, Y)
        bounds.append(bound(m, st, None, Y))
    diffs = np.diff(bounds)
    assert diffs.min() > -1e-7 * abs(bounds[-1])


def test_planted_parameters_are_recovered():
    r = np.random.default_rng(7)
    n, K, D = 4000, 4, 3
    Z = (r.random((n, K)) < 0.5).astype(float)
    W = np.array([[2.0, -1.0, 0.5, 3.0], [0.0, 1.5, -2.0, 1.0], [1.0, 1.0, 1.0, -1.0]])
    c = np.array([0.5, -1.0, 2.0])
    sigma = np.array([0.3, 0.5, 0.4])
    Y = Z @ W.T + c + r.normal(size=(n, D)) * sigma
    eps_true = np.array([0.05, 0.1, 0.2, 0.15])
    B = np.where(r.random((n, K)) < eps_true, 1 - Z, Z)
    st = LatentState(B=B, eps=np.full(K, 0.25), Q=B.copy(), coupled=np.ones(K, bool), hard=np.zeros(K, bool))
    m = LinearGaussian()
    m.set_scaling(None, Y)
    run_em(m, st, None, Y, max_iter=200, tol=1e-10)
    np.testing.assert_allclose(m.W_[:, :K], W, atol=0.08)
    np.testing.assert_allclose(m.W_[:, -1], c, atol=0.08)
    np.testing.assert_allclose(np.sqrt(m.sigma2_), sigma, rtol=0.08)
    np.testing.assert_allclose(st.eps, eps_true, atol=0.02)
    # the posterior recovers z better than the judgments
    assert (np.abs((st.Q > 0.5) - Z)).mean() < (np.abs(B - Z)).mean() / 2
