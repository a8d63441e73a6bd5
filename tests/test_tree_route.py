"""The tree route (``Selection(tree_route=True)``, :mod:`genz.tree_route`): gradient-boosted trees on
the table's columns, blended with the predictor, ``(1 − a)·predictor + a·trees``, taken only when the
blend (its share fitted out of fold on the untouched rows) lowers their loss by more than 1%."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genz import GenZRegressor
from genz.errors import GenZInputError
from genz.items import Item
from genz.settings import Selection
from genz.tree_route import (TREE_GAIN_REL, TreeModel, blend_losses, blend_weight, predictor_alone, tree_gains,
                             tree_spec)

CITIES = ["Ames", "Bern", "Cork", "Doha", "Elko", "Faro"]


def _wavy(n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    """The target waves with the area, up in three cities and down in the others, and rises with the
    bedrooms: trees on the columns say it, a short list of binary features hardly."""
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, n)
    area = rng.uniform(500, 4000, n)
    beds = rng.integers(1, 6, n)
    sign = np.where(np.isin(city, ["Ames", "Cork", "Elko"]), 1.0, -1.0)
    y = sign * np.sin(area / 400) + 0.3 * beds + 0.3 * rng.normal(size=n)
    items = [Item(id=f"w{seed}-{i}", attributes={"city": str(c), "area": float(a), "beds": int(b)})
             for i, (c, a, b) in enumerate(zip(city, area, beds))]
    return items, y


def _steps(n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    """Two steps a feature each says exactly, with noise: the trees have nothing to add."""
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, n)
    beds = rng.integers(1, 6, n)
    y = 1.0 * np.isin(city, ["Ames", "Cork"]) + 0.6 * (beds >= 3) + 0.5 * rng.normal(size=n)
    items = [Item(id=f"s{seed}-{i}", attributes={"city": str(c), "beds": int(b), "area": float(rng.uniform(500, 4000))})
             for i, (c, b) in enumerate(zip(city, beds))]
    return items, y


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_the_trees_read_the_columns_and_survive_a_json_round_trip():
    """Catches: a category read as a number or dropped, levels chosen with the target, a saved model
    that predicts otherwise, an unseen level or a missing value that breaks predict."""
    items, y = _wavy(300, 1)
    spec = tree_spec(items)
    assert spec["columns"] == ["area", "beds"] and sorted(spec["levels"]["city"]) == sorted(CITIES)
    m = TreeModel(3).fit(items, y)
    back = TreeModel.from_json(json.loads(json.dumps(m.to_json())))
    new = items[:5] + [Item(id="x", attributes={"city": "Oslo"}), Item(id="z", attributes={"area": "big", "beds": True})]
    assert np.array_equal(m.predict(new), back.predict(new)) and np.isfinite(back.predict(new)).all()
    assert _rmse(m.predict(items), y) < 0.5 * y.std()  # it fits the waves
    assert tree_spec([Item(id=str(i), text="no columns") for i in range(5)]) is None


def test_the_gain_rule_asks_for_a_gain_and_a_share_a_user_would_notice():
    """Catches: the 1% floor dropped, the standard-error multiple dropped or raised, a loss taken as a
    gain."""
    from genz.tree_route import TREE_GAIN_SE

    assert TREE_GAIN_REL == 0.01 and TREE_GAIN_SE == 1.0
    assert tree_gains(0.02, 0.015, 1.0)  # 2% of the loss, z 1.3: taken
    assert not tree_gains(0.02, 0.025, 1.0)  # z 0.8 (the diabetes split that lost 4% when taken)
    assert not tree_gains(0.005, 0.0001, 1.0)  # z 50 but 0.5% of the loss
    assert not tree_gains(-0.02, 0.001, 1.0) and not tree_gains(0.0, 0.0, 1.0)


def test_the_blend_share_is_least_squares_clipped_and_scored_out_of_fold():
    """Catches: a share not clipped to [0, 1] (the trees turned against themselves), a share that is not
    the least-squares one, a gain flattered by fitting the share on the rows it is scored on (useless
    trees would then always look like a gain), folds that depend on anything but the seed."""
    rng = np.random.default_rng(3)
    r = rng.normal(size=400)
    assert blend_weight(r, r) == pytest.approx(1.0) and blend_weight(r, -r) == 0.0 and blend_weight(r, 3 * r) == \
        pytest.approx(1 / 3)
    assert blend_weight(r, 0 * r) == 0.0 and blend_weight(r, 0.5 * r) == 1.0  # clipped, not extrapolated
    y, f = rng.normal(size=400), np.zeros(400)
    wins = 0
    for k in range(40):  # trees that know nothing: out of fold, the blend loses on average
        t = np.random.default_rng(100 + k).normal(size=400)
        oof, a = blend_losses(y, f, t, 1.0, 5, k)
        inside = (y - f - a * (t - f)) ** 2
        assert inside.mean() <= (y ** 2).mean() + 1e-12  # in sample it never loses
        wins += oof.mean() < (y ** 2).mean()
    assert wins <= 12
    t = y + rng.normal(size=400)  # trees that know half: share ≈ 1/2, a real out-of-fold gain
    oof, a = blend_losses(y, f, t, 1.0, 5, 0)
    assert 0.35 < a < 0.65 and oof.mean() < 0.7 * (y ** 2).mean()
    assert np.array_equal(oof, blend_losses(y, f, t, 1.0, 5, 0)[0])


@pytest.fixture(scope="module")
def wavy_fits():
    items, y = _wavy(400, 5)
    fits = {tr: GenZRegressor(random_state=0, selection=Selection(tree_route=tr)).fit(items[:300], y[:300])
            for tr in (False, True)}
    return fits, items[300:], y[300:]


def test_the_route_is_taken_when_the_trees_lower_the_untouched_rows_loss_and_it_predicts_better(wavy_fits, tmp_path):
    """Catches: a gain rule read the wrong way, the trees missing from predict or given another share
    than the check's, the predictor or features changed by the route, a saved model that loses it."""
    fits, items, y = wavy_fits
    off, on = fits[False], fits[True]
    rec = on.tree_route_
    assert off.tree_route_ is None and rec["route"] and rec["after"] in ("features", "table", "numbers", "zero-shot")
    assert rec["gain"] > 0.01 * rec["loss"] and 0 < rec["rows"] < 300  # the untouched rows
    assert rec["union_loss"] == pytest.approx(rec["loss"] - rec["gain"]) and 0 < rec["alpha"] <= 1
    assert on.n_side_inputs_ == off.n_side_inputs_ and on.features_ == off.features_ and on.findings_ == off.findings_
    trees = TreeModel.from_json(rec["model"]).predict(items)
    assert np.allclose(on.predict(items), (1 - rec["alpha"]) * off.predict(items) + rec["alpha"] * trees)
    assert np.array_equal(predictor_alone(on).predict(items), off.predict(items)) and on.tree_route_["route"]
    assert _rmse(on.predict(items), y) < 0.8 * _rmse(off.predict(items), y)
    lo, hi = on.predict_interval(items, 0.9)
    assert np.allclose((lo + hi) / 2, on.predict(items))  # the intervals are centred on the blend
    on.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    assert np.allclose(back.predict(items), on.predict(items))
    from genz.report.feature_table import load_check_lines

    line = [x for x in load_check_lines(tmp_path / "m") if x.startswith("tree route")]  # genz show and the report
    assert len(line) == 1 and "taken, predict blends" in line[0] and f"{rec['alpha']:.2f}" in line[0]
    with pytest.raises(GenZInputError, match="side inputs"):
        on.predict(items, U=np.ones((len(items), 1)))


def test_the_route_is_left_when_the_features_say_it_all():
    """Catches: the route taken whatever its gain (the predictor then differs from the fit without it)."""
    items, y = _steps(400, 6)
    on = GenZRegressor(random_state=0, selection=Selection(tree_route=True)).fit(items[:300], y[:300])
    off = GenZRegressor(random_state=0, selection=Selection(tree_route=False)).fit(items[:300], y[:300])
    rec = on.tree_route_
    assert rec is not None and not rec["route"] and "model" not in rec
    from genz.checks import tree_line

    assert tree_line(rec).endswith("not taken (it needs a gain above 1 standard error(s) and above 1% of the loss)")
    assert not rec["gain"] > 0.01 * rec["loss"]
    assert np.array_equal(on.predict(items[300:]), off.predict(items[300:])) and on.n_side_inputs_ == off.n_side_inputs_


def test_the_route_is_not_tried_for_several_targets_or_a_bad_setting():
    items, y = _wavy(200, 7)
    est = GenZRegressor(random_state=0, cycles=2, selection=Selection(tree_route=True)).fit(items, np.c_[y, -y])
    assert est.tree_route_ is None
    with pytest.raises(GenZInputError, match="tree_route"):
        GenZRegressor(selection={"tree_route": "yes"}).fit(items, y)


def test_an_mlp_fit_without_features_fits_blends_and_predicts():
    """Catches: an MLP fit that keeps no feature crashing while it reports its coefficients (it did
    before stop 44, with or without the route), the blend skipped for the MLP."""
    pytest.importorskip("torch")
    items, y = _wavy(400, 5)
    est = GenZRegressor(random_state=0, model="mlp", cycles=1).fit(items[:300], y[:300])
    assert len(est.features_) == 0 and est.coef_.shape == (0, 1) and est.tree_route_["route"]
    alone = predictor_alone(est).predict(items[300:])
    trees = TreeModel.from_json(est.tree_route_["model"]).predict(items[300:])
    a = est.tree_route_["alpha"]
    assert np.allclose(est.predict(items[300:]), (1 - a) * alone + a * trees)
    assert _rmse(est.predict(items[300:]), y[300:]) < _rmse(alone, y[300:])
