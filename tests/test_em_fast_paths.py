"""The fast paths of EM give what the plain formulas give (issue 12: discovery speed).

Each test compares a shortcut with the direct N×K evaluation it replaces, so a shortcut that
drops a term, swaps b = 0 and b = 1, reuses a stale residual or a stale cache fails here."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from genz.fm.predicates import parse_predicate
from genz.inference import (
    LatentState,
    PriorTable,
    bound,
    bound_per_item,
    e_step,
    entropy,
    error_rates,
    feature_term,
    m_step,
    prior_logodds,
    run_em,
)
from genz.items import Item
from genz.observation import LinearGaussian


def _state(rng, n=300, K=5, D=2, soft=False, hard_cols=()):
    Z = (rng.random((n, K)) < 0.4).astype(float)
    W = rng.normal(size=(D, K)) * 2
    Y = Z @ W.T + rng.normal(size=(n, D)) * 0.7
    B = np.where(rng.random((n, K)) < 0.2, 1 - Z, Z)
    if soft:
        B = np.clip(B * 0.8 + rng.random((n, K)) * 0.2, 0, 1)
    Q = rng.random((n, K))
    hard = np.zeros(K, bool)
    for k in hard_cols:
        hard[k] = True
        Q[:, k] = (Q[:, k] > 0.5).astype(float)
    coupled = np.ones(K, bool)
    coupled[-1] = False  # a decoupled feature: ε held at ½
    eps = rng.uniform(0.01, 0.4, K)
    return LatentState(B=B, eps=eps, Q=Q, coupled=coupled, hard=hard), Y


@pytest.mark.parametrize("soft", [False, True])
def test_prior_table_matches_the_nxk_formulas(rng, soft):
    st, _ = _state(rng, soft=soft)
    pt = PriorTable(st.B).update(st.eps, st.coupled)
    assert pt.hard_b is (not soft)
    lo = prior_logodds(st.B, st.eps, st.coupled)
    for k in range(st.K):
        np.testing.assert_array_equal(pt.logodds(k), lo[:, k])
    np.testing.assert_allclose(pt.total(st.Q), feature_term(st.Q, st.B, st.eps, st.coupled).sum(), rtol=1e-12)
    np.testing.assert_allclose(pt.error_rates(st.Q, 1e-3) if pt.hard_b else error_rates(st.Q, st.B, 1e-3),
                               error_rates(st.Q, st.B, 1e-3), rtol=1e-12)


def test_entropy_matches_its_definition_at_0_and_1(rng):
    Q = rng.random((50, 4))
    Q[:5, 0], Q[5:10, 1] = 0.0, 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = -np.nansum(Q * np.log(Q) + (1 - Q) * np.log(1 - Q), axis=1)
    np.testing.assert_allclose(entropy(Q), direct, rtol=1e-12)


@pytest.mark.parametrize("U_on", [False, True])
def test_bound_from_totals_matches_the_per_item_bound(rng, U_on):
    st, Y = _state(rng, hard_cols=(1,))
    U = rng.normal(size=(len(Y), 3)) if U_on else None
    m = LinearGaussian()
    m.set_scaling(U, Y)
    m_step(m, st, U, Y, eps_min=1e-3)
    e_step(m, st, U, Y)
    np.testing.assert_allclose(bound(m, st, U, Y), bound_per_item(m, st, U, Y).sum(), rtol=1e-12)


def _plain_run_em(model, st, U, Y, *, eps_min=1e-3, max_iter=100, min_iter=5, tol=1e-6, q_tol=1e-3,
                  eps_update="joint"):
    """run_em written with the plain formulas (the reference for the fast one)."""
    bounds, prev, conv = [], None, False
    joint = eps_update == "joint"
    for it in range(1, max_iter + 1):
        q_before = st.Q.copy()
        m_step(model, st, U, Y, eps_min, eps=not joint)
        e_step(model, st, U, Y, eps_joint=(eps_min, 0.5) if joint else None)
        b = float(bound_per_item(model, st, U, Y).sum())
        bounds.append(b)
        dq = float(np.max(np.abs(st.Q - q_before))) if st.K else 0.0
        if prev is not None and it >= min_iter and abs(b - prev) <= tol * (abs(prev) + 1.0) and dq < q_tol:
            conv = True
            break
        prev = b
    m_step(model, st, U, Y, eps_min, eps=not joint)
    return bounds, conv


@pytest.mark.parametrize("eps_update", ["joint", "em"])
@pytest.mark.parametrize("soft", [False, True])
def test_run_em_equals_the_plain_iteration(rng, soft, eps_update):
    st, Y = _state(rng, n=400, K=4, soft=soft, hard_cols=(3,))
    U = rng.normal(size=(len(Y), 2))
    m1, m2 = LinearGaussian(), LinearGaussian()
    m1.set_scaling(U, Y)
    m2.set_scaling(U, Y)
    st2 = st.copy()
    Q_before = st.Q
    res = run_em(m1, st, U, Y, max_iter=40, eps_update=eps_update, accelerate=False)
    bounds, conv = _plain_run_em(m2, st2, U, Y, max_iter=40, eps_update=eps_update)
    assert st.Q is Q_before and st.Q.flags.c_contiguous  # updated in place, as before
    assert res.iterations == len(bounds) and res.converged == conv
    np.testing.assert_allclose(res.bounds, bounds, rtol=1e-10)
    np.testing.assert_allclose(st.Q, st2.Q, atol=1e-10)
    np.testing.assert_allclose(st.eps, st2.eps, rtol=1e-10)
    np.testing.assert_allclose(m1.W_, m2.W_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(m1.sigma2_, m2.sigma2_, rtol=1e-10)


def test_linear_buffers_are_not_stale(rng):
    st, Y = _state(rng, n=200, K=3)
    U = rng.normal(size=(200, 2))
    m = LinearGaussian()
    m.set_scaling(U, Y)
    m.fit(st.Q, U, Y)
    # a new U object of the same shape: the design must use it, not the buffered one
    U2 = U + 1.0
    direct = np.hstack([st.Q, (U2 - m.u_mean_) / m.u_std_, np.ones((200, 1))]) @ m.W_.T
    np.testing.assert_allclose(m.predict(st.Q, U2), direct, rtol=1e-12)
    # Q changed in place after the fit: begin_e_step must not reuse the fit's residual
    m.fit(st.Q, U, Y)
    st.Q[:, 0] = 1.0 - st.Q[:, 0]
    ctx = m.begin_e_step(st.Q, U, Y)
    np.testing.assert_allclose(ctx.R, Y - m.predict(st.Q, U), rtol=1e-12)
    # buffers are not carried by copies or pickles
    assert copy.deepcopy(m)._buf is None and pickle.loads(pickle.dumps(m))._buf is None


def test_predicate_values_follow_the_items_not_a_stale_cache():
    items = [Item(id=str(i), attributes={"a": float(i), "c": "xy"[i % 2]}) for i in range(10)]
    p, q = parse_predicate("'a' is at least 5"), parse_predicate("'c' is \"x\"")
    assert p.evaluate(items).sum() == 5 and q.evaluate(items).sum() == 5
    other = list(items)
    other[0] = Item(id="z", attributes={"a": 9.0, "c": "y"})  # same length, one item replaced
    assert p.evaluate(other).sum() == 6 and q.evaluate(other).sum() == 4
    assert p.evaluate(items).sum() == 5 and q.evaluate(items).sum() == 5
    assert parse_predicate("'c' is one of [\"x\", \"q\"]").evaluate(items).tolist() == [i % 2 == 0 for i in range(10)]
    assert parse_predicate("'c' starts with \"y\"").evaluate(items + [Item(id="n")]).tolist() == [
        i % 2 == 1 for i in range(10)] + [False]
