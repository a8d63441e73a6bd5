"""Cross-validated selection, the feature table, hypotheses, predictive spread, and tests aimed
at breakages (each names the wrong implementation it catches)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genz import Advanced, GenZInputError, GenZRegressor, PriorKnowledge, Selection
from genz.discovery import Discovery, DiscoveryConfig
from genz.fm.predicates import PredicateFM
from genz.observation import LinearGaussian
from genz.settings import selection_settings

from .conftest import make_attr_items

COLUMNS = ["feature", "target", "weight", "finding", "effect", "ci_low", "ci_high", "p_value", "q_value", "located",
           "discovery_p", "untested", "cv_gain", "cv_gain_se", "epsilon", "epsilon_note", "share_yes", "origin"]


def _planted(n=400, seed=0, noise=0.1):
    items = make_attr_items(n, seed)
    y = np.array([0.8 * (it.attributes["area"] >= 3000) + 0.5 * (it.attributes["zip"] == "85255")
                  - 0.4 * ("pool" in it.text) for it in items])
    return items, y + np.random.default_rng(seed).normal(size=n) * noise


@pytest.fixture(scope="module")
def fitted():
    items, y = _planted()
    est = GenZRegressor(cycles=4, random_state=0,
                        hypotheses=PriorKnowledge(hypotheses=('mentions "pool"', "'bedrooms' is at least 3")))
    return est.fit(items[:300], y[:300]), items, y


def test_eval_set_never_influences_the_fit():
    """Catches: eval_set judgments or metrics feeding back into any choice."""
    items, y = _planted(300, 1)
    a = GenZRegressor(cycles=3, random_state=2).fit(items[:240], y[:240])
    b = GenZRegressor(cycles=3, random_state=2).fit(items[:240], y[:240], eval_set=(items[240:], y[240:]))
    assert a.features_ == b.features_
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.epsilon_, b.epsilon_)
    assert b.history_[-1]["test"] is not None


def test_feature_table_contract(fitted):
    est, _, _ = fitted
    rows = est.feature_table()
    rows = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    assert len(rows) == len(est.features_) * est.n_targets_ > 0
    for r in rows:
        assert list(r) == COLUMNS
        assert r["target"] == "y0" and r["origin"] in ("mined", "hypothesis", "pinned", "zero-shot")
        assert r["epsilon_note"] in ("", "at floor", "at cap") and isinstance(r["finding"], (bool, np.bool_))
        tested = r["feature"] in est.inference_.features  # phase 2 may add features after the test
        assert tested or r["feature"] not in est.findings_
        if tested:
            assert r["ci_low"] < r["effect"] < r["ci_high"]
            assert not r["finding"] or not r["ci_low"] <= 0 <= r["ci_high"]  # a finding's interval excludes 0
            if r["untested"] == "":
                assert r["located"] >= 0.7 and r["discovery_p"] <= selection_settings(est.selection).discovery_p
                assert r["finding"] == (r["q_value"] <= 0.05) and r["q_value"] >= r["p_value"]
            else:  # a control, not tested: a cut the discovery rows could not place, or screened out by them
                assert np.isnan(r["q_value"]) and not r["finding"]
                assert (0 <= r["located"] < 0.7) if r["untested"] == "not placed" else \
                    r["discovery_p"] > selection_settings(est.selection).discovery_p
        else:
            assert np.isnan(r["effect"]) and np.isnan(r["q_value"]) and not r["finding"]
        assert 0 < r["share_yes"] < 1
    assert [r["feature"] for r in rows] == est.findings_ + [f for f in est.features_ if f not in est.findings_]
    k = {f: i for i, f in enumerate(est.features_)}
    assert all(r["weight"] == est.coef_[k[r["feature"]], 0] for r in rows)  # one weight: the predictor's
    assert est.coef_.shape == (len(est.features_), 1) and est.intercept_.shape == (1,)
    assert est.inference_.nobs == 90 and set(est.findings_) <= set(est.features_)


def test_planted_terms_are_the_findings(fitted):
    """Catches: findings that are not the planted terms, or planted terms missed."""
    est, items, y = fitted
    B = est.transform(items[:300])
    truth = np.column_stack([[it.attributes["area"] >= 3000 for it in items[:300]],
                             [it.attributes["zip"] == "85255" for it in items[:300]],
                             ["pool" in it.text for it in items[:300]]]).astype(int)
    found = [k for k, f in enumerate(est.features_) if f in est.findings_]
    match = [[max(np.mean(B[:, k] == truth[:, j]), np.mean(B[:, k] != truth[:, j])) >= 0.95 for j in range(3)]
             for k in found]
    assert len(found) == 3 and all(any(m) for m in match) and all(any(m[j] for m in match) for j in range(3))


def test_hypotheses_true_kept_false_rejected_with_evidence(fitted):
    est, _, _ = fitted
    rows = {h["feature"]: h for h in est.hypotheses_}
    assert rows['mentions "pool"']["kept"] and 'mentions "pool"' in est.features_
    false = rows["'bedrooms' is at least 3"]
    assert not false["kept"] and "cross-validated gain" in false["message"] and "not kept" in false["message"]
    assert est.history_[-1]["action"] == "select" and est.history_[-1]["hypotheses"]


def test_pin_and_veto():
    items, y = _planted(300, 3)
    pin, veto = "'bedrooms' is at least 3", "'area' is at least 3000"
    est = GenZRegressor(cycles=2, random_state=0, hypotheses=PriorKnowledge(pin=(pin,), veto=(veto,))).fit(items, y)
    assert pin in est.features_ and est.origins_[est.features_.index(pin)] == "pinned"
    assert veto not in est.features_


def test_target_names_from_dataframe_and_save_load(tmp_path):
    pd = pytest.importorskip("pandas")
    items, y = _planted(300, 4)
    Y = pd.DataFrame({"price": y, "twice": 2 * y})
    est = GenZRegressor(cycles=2, random_state=0).fit(items, Y)
    assert est.target_names_ == ["price", "twice"]
    assert set(est.feature_table()["target"]) <= {"price", "twice"}
    est.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["target_names"] == ["price", "twice"] and len(meta["feature_table"]) == 2 * len(est.features_)
    back = GenZRegressor.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict(items), est.predict(items))


def test_old_model_format_fails_with_one_line(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "genz-model/2"}))
    np.savez(tmp_path / "arrays.npz", a=np.zeros(1))
    with pytest.raises(GenZInputError, match="refit it with `genz fit`"):
        GenZRegressor.load(tmp_path)


def test_return_std_covers_roughly_90_percent():
    items, y = _planted(500, 5, noise=0.3)
    est = GenZRegressor(cycles=3, random_state=0).fit(items[:350], y[:350])
    p, sd = est.predict(items[350:], return_std=True)
    assert sd.shape == p.shape and (sd > 0).all()
    cover = np.mean(np.abs(y[350:] - p) <= 1.645 * sd)
    assert 0.8 <= cover <= 0.98


def test_em_non_convergence_is_counted():
    items, y = _planted(200, 6)
    est = GenZRegressor(cycles=1, add_per_cycle=2, remove_per_cycle=0, max_iter=2, random_state=0).fit(items, y)
    assert sum(r["em_not_converged"] for r in est.history_) > 0
    assert all("em_phases" in r for r in est.history_)


# -- breakages ------------------------------------------------------------------------------------

def test_predictor_is_refitted_on_fm_priors():
    """Catches: the predictor refit ignored (the EM θ used for new items)."""
    items, y = _planted(300, 7)
    est = GenZRegressor(cycles=2, random_state=0, selection=Selection(holdout=0)).fit(items, y)
    assert est.predictor_ is not est.model_
    Qp = est.judgments_ * (1 - est.epsilon_) + (1 - est.judgments_) * est.epsilon_
    ref = LinearGaussian()
    ref.set_scaling(None, y[:, None])
    ref.ridge = ref.select_ridge(Qp, None, y[:, None])
    ref.fit_final(Qp, None, y[:, None])
    np.testing.assert_allclose(est.predictor_.W_, ref.W_, atol=1e-8)


class _ProbFM(PredicateFM):
    def judge(self, descriptor, items):
        from genz.fm.base import Judgments

        j = super().judge(descriptor, items)
        return Judgments(values=j.values, prob=np.where(j.values, 0.8, 0.2))


def test_eps_from_prob_sets_the_starting_eps():
    """Catches: eps_from_prob ignored (ε would start from the decoupled split instead)."""
    items, y = _planted(200, 8)
    est = GenZRegressor(fm=_ProbFM(), cycles=1, add_per_cycle=2, remove_per_cycle=0, random_state=0,
                        advanced=Advanced(eps_from_prob=True), selection={"holdout": 0}).fit(items, y)
    starts = [r["eps_start"] for r in est.history_ if r["action"] == "add"]
    assert starts and np.allclose(starts, 0.2)


def test_target_group_is_the_combination_of_largest_error():
    """Catches: Algorithm 2 choosing the combination with the least (or any other) error."""
    items, y = _planted(300, 9)
    d = Discovery(PredicateFM(), DiscoveryConfig(), items, y[:, None])
    d.start()
    d.algorithm_1(__import__("genz.discovery", fromlist=["Callbacks"]).Callbacks())
    d.algorithm_1(__import__("genz.discovery", fromlist=["Callbacks"]).Callbacks())
    g = d.target_group()
    Z = (d.mining_q() > 0.5).astype(int)  # coupled features at their FM priors
    err = ((d.Y - d.model.predict(Z.astype(float), None)) ** 2 / d.model.sigma2_).sum(axis=1)
    combos = {tuple(z) for z in Z}
    totals = {c: err[(Z == c).all(axis=1)].sum() for c in combos}
    best = max(totals, key=totals.get)
    assert len(combos) > 1
    np.testing.assert_array_equal(g, (Z == best).all(axis=1))


def test_sigma2_includes_the_variance_term_of_eq30(rng):
    """Catches: σ² of eq. (30) without Σ_k q(1 − q) w²: σ² must equal E_q[(y − W z̃)²]."""
    n, K, D = 40, 3, 2
    Q = rng.uniform(0.1, 0.9, size=(n, K))
    Y = rng.normal(size=(n, D))
    m = LinearGaussian()
    m.set_scaling(None, Y)
    m.fit(Q, None, Y)
    import itertools

    brute = np.zeros(D)
    for z in itertools.product([0.0, 1.0], repeat=K):
        w = np.prod(np.where(np.array(z) == 1, Q, 1 - Q), axis=1)
        brute += (w[:, None] * (Y - m.predict(np.tile(z, (n, 1)), None)) ** 2).sum(axis=0)
    np.testing.assert_allclose(m.sigma2_, brute / n, rtol=1e-9)


def test_loo_errors_are_leave_one_out(rng):
    """Catches: the leave-one-out error replaced by the training error."""
    n, K = 25, 3
    Q = (rng.random((n, K)) < 0.5).astype(float)
    Y = Q @ rng.normal(size=(K, 1)) + rng.normal(size=(n, 1)) * 0.3
    m = LinearGaussian()
    m.set_scaling(None, Y)
    got = m.loo_errors(Q, None, Y, grid=(0.01,))[0]
    want = 0.0
    for i in range(n):
        keep = np.arange(n) != i
        f = LinearGaussian(ridge=0.01 * n / (n - 1))  # the same penalty λ·N in the (N−1)-item fit
        f.set_scaling(None, Y)
        f.fit(Q[keep], None, Y[keep])
        want += float(((Y[i] - f.predict(Q[i:i + 1], None)[0]) ** 2).sum())
    assert got == pytest.approx(want / Y.var(), rel=1e-6)


def test_predict_interval_conformal_and_saved(tmp_path):
    items, y = _planted(500, 10, noise=0.3)
    est = GenZRegressor(cycles=3, random_state=0).fit(items[:350], y[:350])
    lo, hi = est.predict_interval(items[350:], level=0.9)
    p, sd = est.predict(items[350:], return_std=True)
    assert (lo < p).all() and (p < hi).all()
    assert 0.8 <= np.mean((y[350:] >= lo) & (y[350:] <= hi)) <= 0.98
    est.save(tmp_path / "m")
    lo2, hi2 = GenZRegressor.load(tmp_path / "m").predict_interval(items[350:], level=0.9)
    np.testing.assert_allclose(lo2, lo)
