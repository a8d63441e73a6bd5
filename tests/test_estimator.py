import json

import numpy as np
import pytest
from sklearn.base import clone

from genz import MLP, Advanced, GenZRegressor, items_from_texts
from genz.demo import run_binary_demo
from genz.fm.predicates import PredicateFM

from .conftest import make_attr_items


@pytest.mark.parametrize("seed", range(5))
def test_binary_demo_recovers_all_bits(seed):
    res = run_binary_demo(seed=seed)
    assert res["bits_recovered"] == 9
    assert res["train_mae"] < 1e-6
    assert res["coarse_to_fine"]


def test_cli_demo_json():
    from click.testing import CliRunner

    from genz.cli import main

    out = CliRunner().invoke(main, ["demo", "binary", "--json", "--seed", "1"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["bits_recovered"] == 9 and res["train_mae"] < 1e-6
    assert len(res["features"]) == 9


class CountingFM(PredicateFM):
    """Records every item the FM is asked to judge."""

    def __init__(self):
        super().__init__()
        self.judged_ids: list[str] = []

    def judge(self, descriptor, items):
        self.judged_ids.extend(it.id for it in items)
        return super().judge(descriptor, items)


def _synthetic(n=300, seed=0):
    items = make_attr_items(n, seed)
    y = np.array([12.0 + 0.8 * (it.attributes["area"] >= 3000) + 0.5 * it.attributes["zip"].startswith("85")
                  - 0.3 * ("pool" in it.text) for it in items])
    y += np.random.default_rng(seed).normal(size=n) * 0.05
    return items, y


def test_prediction_uses_only_judgments():
    items, y = _synthetic()
    fm = CountingFM()
    est = GenZRegressor(fm=fm, cycles=2, add_per_cycle=3, remove_per_cycle=1, random_state=0).fit(items[:200], y[:200])
    new = items[200:]
    fm.judged_ids.clear()
    p = est.predict(new)
    # every feature judged for every new item, and nothing else consulted
    assert sorted(fm.judged_ids) == sorted([it.id for it in new] * len(est.features_))
    B = est.transform(new).astype(float)
    q = B * (1 - est.epsilon_) + (1 - B) * est.epsilon_
    np.testing.assert_allclose(p, est.predictor_.predict(q, None)[:, 0])
    assert np.median(np.abs(p - y[200:])) < 0.2


def test_fit_targeted_cycles_with_eval_set_and_history():
    items, y = _synthetic(400, 1)
    est = GenZRegressor(cycles=3, random_state=0).fit(items[:300], y[:300], eval_set=(items[300:], y[300:]))
    h = est.history_
    assert h[0]["action"] == "init"
    assert {r["action"] for r in h[1:]} <= {"add", "remove", "discard", "extend", "select"}
    assert all(r["test"] is not None for r in h)
    assert h[-1]["test"]["median_ae"] < h[0]["test"]["median_ae"] / 2
    assert len(est.features_) == h[-1]["n_features"]
    assert est.fm_stats_["calls"]["mine"] >= 1


def test_clone_and_params():
    est = GenZRegressor(model="mlp", cycles=3, random_state=5)
    c = clone(est)
    assert c.get_params() == est.get_params()
    c.set_params(cycles=7)
    assert c.cycles == 7 and est.cycles == 3


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_save_load_roundtrip(tmp_path, model):
    items, y = _synthetic(240, 2)
    U = np.array([[it.attributes["bedrooms"]] for it in items], float)
    model = MLP(epochs=20) if model == "mlp" else model
    est = GenZRegressor(model=model, cycles=1, add_per_cycle=3, remove_per_cycle=1, random_state=0).fit(items[:200], y[:200], U[:200])
    est.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict(items[200:], U[200:]), est.predict(items[200:], U[200:]))
    assert back.features_ == est.features_ and back.history_ == est.history_
    assert back.baseline_ == est.baseline_ and back.numbers_check_ == est.numbers_check_
    assert not list((tmp_path / "m").glob("*.pkl")) and not list((tmp_path / "m").glob(".*tmp*"))
    raw = (tmp_path / "m" / "history.json").read_bytes()  # a torn history: one line naming the file
    (tmp_path / "m" / "history.json").write_bytes(raw[: len(raw) // 2])
    from genz.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match="history.json"):
        GenZRegressor.load(tmp_path / "m")


def test_multidimensional_targets():
    items, y = _synthetic(300, 3)
    Y = np.column_stack([y, -2 * y, np.random.default_rng(0).normal(size=300)])
    est = GenZRegressor(cycles=1, add_per_cycle=3, remove_per_cycle=0, random_state=0).fit(items, Y)
    assert est.predict(items).shape == (300, 3)
    assert "cosine" in est.history_[-1]["train"]


def test_checkpoint_payload_resumes_identically():
    items, y = _synthetic(300, 4)
    Y = y[:, None]

    def build():
        est = GenZRegressor(cycles=2, add_per_cycle=3, remove_per_cycle=1, random_state=3)
        return est, est.make_discovery(items, Y)

    est_a, full = build()
    full.run()
    _, part = build()
    saved = {}

    class Stop(Exception):
        pass

    def on_step(d, rec):
        if d.disc.step == 3:
            saved["payload"] = d.to_payload()
            raise Stop

    with pytest.raises(Stop):
        part.run(on_step=on_step)
    _, resumed = build()
    resumed.load_payload(*saved["payload"])
    resumed.run()
    assert resumed.disc.features == full.disc.features
    np.testing.assert_allclose(resumed.disc.st.Q, full.disc.st.Q)
    assert resumed.history[-1]["train"] == full.history[-1]["train"]


def test_mlp_structure_changes_keep_predictions():
    from genz.observation import MLPGaussian

    r = np.random.default_rng(0)
    Q = (r.random((50, 3)) < 0.5).astype(float)
    Y = r.normal(size=(50, 2))
    m = MLPGaussian(epochs=3)
    m.set_scaling(None, Y)
    m.fit(Q, None, Y)
    p = m.predict(Q, None)
    m.flip_feature(1)
    Qf = Q.copy()
    Qf[:, 1] = 1 - Qf[:, 1]
    np.testing.assert_allclose(m.predict(Qf, None), p)
    m.add_feature()
    np.testing.assert_allclose(m.predict(np.column_stack([Qf, r.random(50) < 0.5]), None), p)
    m.remove_feature(3)
    np.testing.assert_allclose(m.predict(Qf, None), p)


class ProbFM(PredicateFM):
    """A predicate engine that also reports P(yes), as an LLM with log-probabilities would."""

    def judge(self, descriptor, items):
        from genz.fm.base import Judgments

        j = super().judge(descriptor, items)
        return Judgments(values=j.values, prob=np.where(j.values, 0.9, 0.1))


def test_soft_judgments_and_eps_from_prob():
    items, y = _synthetic(240, 5)
    est = GenZRegressor(fm=ProbFM(), advanced=Advanced(soft_judgments=True, eps_from_prob=True), cycles=1, add_per_cycle=2,
                        remove_per_cycle=0, random_state=0).fit(items, y)
    assert set(np.unique(est.judgments_)) <= {0.1, 0.9}
    assert len(est.features_) >= 1
    assert np.isfinite(est.predict(items)).all()
