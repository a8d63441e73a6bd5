"""The held-out selection rules that keep junk out of the feature list (genz.selection,
Discovery.main_effects_first): each test names the wrong implementation it catches."""

from __future__ import annotations

import numpy as np

from genz import GenZRegressor, Item
from genz.fm.predicates import PredicateFM
from genz.selection import HeldOut

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


def test_features_that_help_held_out_items_are_not_removed():
    """Catches: Algorithm 3 removing a feature every cycle whatever its held-out gain (true
    features removed are never mined again)."""
    items, a, b, x = _ab_items(400, 6)
    y = a - b + 0.8 * (x >= 5) + np.random.default_rng(7).normal(0, 0.2, len(items))
    est = GenZRegressor(cycles=3, random_state=0).fit(items, y)
    removed = [r["feature"] for r in est.history_ if r["action"] == "remove" and r["feature"]]
    for f in removed:
        assert "'a'" not in f and "'b'" not in f and not f.startswith("'x' is at least 5"), removed


class _Scripted(HeldOut):
    """A held-out part whose per-item losses are given: feature 0 is strong, features 1 and 2
    are weak; dropping 1 and 2 together costs 1.5 standard errors (between 1 and the
    Bonferroni z)."""

    def __init__(self, n: int = 200) -> None:
        rng = np.random.default_rng(0)
        self.names = ["strong", "weak 1", "weak 2"]
        z = rng.normal(0, 1, (3, n))
        z = (z - z.mean(axis=1, keepdims=True)) / z.std(axis=1, ddof=1, keepdims=True)  # exact mean 0, sd 1
        se = 1 / np.sqrt(n)
        self.L = {frozenset({0, 1, 2}): np.ones(n),
                  frozenset({0, 1}): 1 + 0.6 * se + z[0],
                  frozenset({0, 2}): 1 + 0.5 * se + z[1],
                  frozenset({0}): 1 + 1.5 * se + z[2]}
        self.n = n

    def losses(self, cols, extra=None):
        key = frozenset(cols)
        return self.L.get(key, np.full(self.n, 5.0))


def test_weak_features_do_not_stay_on_a_one_standard_error_joint_gain():
    """Catches: pruning stopped by a joint gain of one standard error (features chosen on the
    held-out items pass that easily together); the joint test uses the same Bonferroni z."""
    h = _Scripted()
    assert h.threshold() > 1.5
    assert h.prune([0, 1, 2], pinned=set()) == [0]


def test_a_conjunction_counts_as_its_parts_in_the_size_of_a_structure():
    """Catches: the smallest-within-one-SE choice counting a conjunction as one feature (it then
    beats its two parts side by side whenever it is nearly as good)."""
    h = _Scripted()
    fm = PredicateFM()
    h.names = [CONJ, "'a' is \"yes\"", "'b' is \"yes\""]
    h.parts = fm.parts
    n = h.n
    z = np.random.default_rng(1).normal(0, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    # the conjunction is worse by half a standard error: within one SE of the best
    h.L = {frozenset({0}): 1 + 0.5 / np.sqrt(n) + z, frozenset({1, 2}): np.ones(n)}
    assert h.size([0]) == h.size([1, 2]) == 2
    assert h.choose([[0], [1, 2]]) == [1, 2]


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
