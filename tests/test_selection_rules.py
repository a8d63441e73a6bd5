"""The cross-validated selection rules (genz.selection, Discovery.main_effects_first): each test
names the wrong implementation it catches."""

from __future__ import annotations

import numpy as np

from genz import GenZRegressor, Item
from genz.fm.predicates import PredicateFM
from genz import PriorKnowledge
from genz.selection import RIDGE_GRID, CrossValidation, holdout_losses, keeps, removable, simplest_within_one_se

CONJ = "('a' is \"yes\") and ('b' is \"yes\")"


class ScriptedMiner(PredicateFM):
    """The offline engine's judging, with mining scripted: the same candidates every time."""

    def __init__(self, candidates: list[str]) -> None:
        super().__init__()
        self.script = list(candidates)

    def mine_candidates(self, positives, negatives, n=5, *, exclude=(), context=None, weights=None):
        out = [c for c in self.script if c not in set(exclude)]
        return out[:n] or super().mine_candidates(positives, negatives, n, exclude=exclude, weights=weights)


def _ab_items(n: int, seed: int) -> tuple[list[Item], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b, x = rng.random(n) < 0.5, rng.random(n) < 0.5, rng.integers(0, 11, n)
    items = [Item(id=f"i{i}", attributes={"a": "yes" if a[i] else "no", "b": "yes" if b[i] else "no",
                                           "x": int(x[i])}) for i in range(n)]
    return items, a.astype(float), b.astype(float), x


def _first_added(est: GenZRegressor) -> str:
    return next(r["feature"] for r in est.history_ if r["action"] == "add")


def test_additive_terms_are_not_merged_into_a_conjunction():
    """Catches: a conjunction kept although its two parts side by side predict as well (the
    engine's "(A) and (B)" replacing two true terms)."""
    items, a, b, _ = _ab_items(400, 0)
    y = a + 0.9 * b + np.random.default_rng(1).normal(0, 0.2, len(items))
    est = GenZRegressor(fm=ScriptedMiner([CONJ]), cycles=1, random_state=0).fit(items, y)
    assert _first_added(est) in ("'a' is \"yes\"", "'b' is \"yes\"")
    assert CONJ not in est.features_


def test_a_real_interaction_keeps_its_conjunction():
    """Catches: conjunctions always split into their parts (an interaction is then lost)."""
    items, a, b, _ = _ab_items(400, 2)
    y = 2.0 * a * b + np.random.default_rng(3).normal(0, 0.2, len(items))
    est = GenZRegressor(fm=ScriptedMiner([CONJ]), cycles=1, random_state=0).fit(items, y)
    assert _first_added(est) == CONJ


def test_of_equally_good_candidates_the_simplest_is_chosen():
    """Catches: the choice by text length or by order instead of the FM's complexity (a range
    that equals a threshold on every item is the more complex description)."""
    items, _, _, x = _ab_items(300, 4)
    y = (x >= 5) + np.random.default_rng(5).normal(0, 0.1, len(items))
    rng_c, thr = "'x' is between 5 and 10", "'x' is at least 5"
    est = GenZRegressor(fm=ScriptedMiner([rng_c, thr]), cycles=1, random_state=0).fit(items, y)
    assert _first_added(est) == thr
    fm = PredicateFM()
    assert fm.complexity(rng_c) == 2 and fm.complexity(thr) == 1 and fm.complexity(f"not ({thr})") == 1
    assert fm.parts(CONJ) == ["'a' is \"yes\"", "'b' is \"yes\""] and fm.parts(thr) == []


def test_features_that_help_are_not_removed():
    """Catches: Algorithm 3 removing a feature every cycle whatever its cross-validated gain
    (true features removed are never mined again)."""
    items, a, b, x = _ab_items(400, 6)
    y = a - b + 0.8 * (x >= 5) + np.random.default_rng(7).normal(0, 0.2, len(items))
    est = GenZRegressor(cycles=3, random_state=0).fit(items, y)
    removed = [r["feature"] for r in est.history_ if r["action"] == "remove" and r["feature"]]
    for f in removed:
        assert "'a'" not in f and "'b'" not in f and not f.startswith("'x' is at least 5"), removed


def test_cross_validated_losses_are_k_fold_refits():
    """Catches: wrong fold arithmetic (a fold's own rows left in its fit, the mean-field
    variances q(1 − q) added back, or the ridge convention dropped): every per-item loss must
    equal a brute-force refit of the predictor (fit_final: least squares at the FM priors,
    docs/noise-model.md) on the other folds."""
    from genz.observation.linear import LinearGaussian

    rng = np.random.default_rng(3)
    n, K = 60, 3
    Q = np.clip(rng.random((n, K)), 0.05, 0.95)
    U = rng.normal(size=(n, 2))
    Y = rng.normal(size=(n, 2)) + Q @ rng.normal(size=(K, 2))
    cv = CrossValidation(Y, U, folds=4, seed=0)
    P, lam = cv.predictions(Q)
    assert lam in RIDGE_GRID
    for f in range(4):
        m = cv.fold_of == f
        ref = LinearGaussian(ridge=lam)
        ref.set_scaling(U, Y)  # scaling from every row, as the criterion does
        ref.fit_final(Q[~m], U[~m], Y[~m])
        np.testing.assert_allclose(P[m], ref.predict(Q[m], U[m]), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(cv.losses(Q), (((Y - P) ** 2) / Y.var(axis=0)).sum(axis=1))


def test_holdout_losses_fit_on_the_training_rows_alone():
    """Catches: the held-out rows' targets entering the fit (their loss must be that of a
    predictor fitted without them: changing them moves the loss, never the prediction), the
    ridge chosen on other rows than the training ones, or the loss scaled by another variance."""
    from genz.observation.linear import LinearGaussian

    rng = np.random.default_rng(5)
    n, K = 90, 4
    Q = np.clip(rng.random((n, K)), 0.05, 0.95)
    U = rng.normal(size=(n, 2))
    Y = rng.normal(size=(n, 2)) + Q @ rng.normal(size=(K, 2))
    train, test = np.arange(60), np.arange(60, 90)
    L = holdout_losses(Q, U, Y, train, test, folds=5, seed=1)
    _, lam = CrossValidation(Y[train], U[train], 5, 1).predictions(Q[train])
    ref = LinearGaussian(ridge=lam)
    ref.set_scaling(U[train], Y[train])
    ref.fit_final(Q[train], U[train], Y[train])
    P = ref.predict(Q[test], U[test])
    np.testing.assert_allclose(L, ((Y[test] - P) ** 2 / Y[train].var(axis=0)).sum(axis=1), rtol=1e-7)
    Y2 = Y.copy()
    Y2[test] += 5.0
    np.testing.assert_allclose(holdout_losses(Q, U, Y2, train, test, folds=5, seed=1),
                               ((Y2[test] - P) ** 2 / Y[train].var(axis=0)).sum(axis=1), rtol=1e-7)


def test_keep_and_remove_rules():
    """Catches: a feature kept although it raises the cross-validated loss, or one removed
    although dropping it raises the loss."""
    up, down = np.full(50, 0.01) + np.linspace(-0.001, 0.001, 50), np.full(50, -0.01)
    assert keeps(up) and not keeps(down) and not keeps(np.zeros(50))
    assert removable(down) and not removable(up)
    rng = np.random.default_rng(0)
    g = rng.normal(0.01, 0.01, 200)
    e = rng.normal(0, 0.01, 200)
    close = g - 0.0002 + (e - e.mean())  # worse by far less than one paired SE
    far = g - 0.01 + rng.normal(0, 0.001, 200)  # worse by many SEs
    assert simplest_within_one_se(["a b", "a"], [g, close], complexity=len) == 1
    assert simplest_within_one_se(["a b", "a"], [g, far], complexity=len) == 0
    assert simplest_within_one_se(["x", "y"], [g, close]) == 0  # no complexity: the largest gain


def test_discarded_parts_of_a_conjunction_never_come_back():
    """Catches: main_effects_first offering a conjunction's part that discovery already
    discarded (the parts bypassed the discard list, so rejected descriptors returned)."""
    items, a, b, _ = _ab_items(400, 10)
    y = a + 0.9 * b + np.random.default_rng(11).normal(0, 0.2, len(items))
    part = "'a' is \"yes\""
    est = GenZRegressor(fm=ScriptedMiner([CONJ]), cycles=1, random_state=0,
                        hypotheses=PriorKnowledge(veto=(part,))).fit(items, y)
    added = [r["feature"] for r in est.history_ if r["action"] == "add"]
    assert part not in added and part not in est.features_


def test_mining_sees_coupled_features_at_their_fm_priors():
    """Catches: mining's residual taken at the posteriors, where a feature with a free ε has
    flipped items to explain a term not yet in the model."""
    from genz.discovery import Discovery, DiscoveryConfig
    from genz.inference import prior_mixture

    items, a, b, _ = _ab_items(300, 8)
    y = a + b + np.random.default_rng(9).normal(0, 0.1, len(items))
    d = Discovery(PredicateFM(), DiscoveryConfig(), items, y[:, None])
    d.start()
    d.add_given("'a' is \"yes\"", "hypothesis")
    d.st.Q[:, 0] = 1 - d.st.Q[:, 0]  # posteriors far from the judgments
    np.testing.assert_allclose(d.mining_q()[:, 0], prior_mixture(d.st.B[:, 0], d.st.eps[0]))
    R = (d.Y - d.model.predict(d.mining_q(), None)) / np.sqrt(d.model.sigma2_)
    c = d.st.B[:, 0] - d.st.B[:, 0].mean()
    assert d.residual_gain(d.st.B[:, 0]) == __import__("pytest").approx(float((R[:, 0] @ c) ** 2 / (c @ c)))
