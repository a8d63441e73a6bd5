"""The tree route (``Selection(tree_route=True)``, :mod:`genz.tree_route`): gradient-boosted trees on
the table's columns, their out-of-fold prediction as one more side input beside the predictor, taken
only when it lowers the loss on the untouched rows by more than 1%."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genz import GenZRegressor
from genz.errors import GenZInputError
from genz.items import Item
from genz.settings import Selection
from genz.tree_route import TREE_GAIN_REL, TreeModel, out_of_fold, tree_gains, tree_spec

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
    """Catches: the 1% floor dropped, a standard-error multiple added, a loss taken as a gain."""
    assert TREE_GAIN_REL == 0.01
    assert tree_gains(0.02, 0.05, 1.0)  # 2% of the loss, z 0.4: taken (the comparison leans against the trees)
    assert not tree_gains(0.005, 0.0001, 1.0)  # z 50 but 0.5% of the loss
    assert not tree_gains(-0.02, 0.001, 1.0) and not tree_gains(0.0, 0.0, 1.0)


def test_out_of_fold_predictions_come_from_trees_that_never_saw_the_row():
    """Catches: an in-sample prediction passed off as out-of-fold (the weight the predictor learns on it
    would be inflated), folds that depend on anything but the seed."""
    items, y = _wavy(200, 2)
    oof = out_of_fold(items, y, 5, seed=4)
    fold_of = np.random.default_rng([4, 29]).permutation(200) % 5
    tr, te = np.flatnonzero(fold_of != 0), np.flatnonzero(fold_of == 0)
    own = TreeModel(4).fit([items[i] for i in tr], y[tr], tree_spec(items)).predict([items[i] for i in te])
    assert np.allclose(oof[te], own)
    inside = TreeModel(4).fit(items, y).predict(items)
    assert _rmse(oof, y) > 1.2 * _rmse(inside, y)
    assert np.array_equal(oof, out_of_fold(items, y, 5, seed=4))


@pytest.fixture(scope="module")
def wavy_fits():
    items, y = _wavy(400, 5)
    fits = {tr: GenZRegressor(random_state=0, selection=Selection(tree_route=tr)).fit(items[:300], y[:300])
            for tr in (False, True)}
    return fits, items[300:], y[300:]


def test_the_route_is_taken_when_the_trees_lower_the_untouched_rows_loss_and_it_predicts_better(wavy_fits, tmp_path):
    """Catches: a gain rule read the wrong way, the trees' column missing from predict (or added twice),
    a saved model that loses it, the features or findings changed by the route."""
    fits, items, y = wavy_fits
    off, on = fits[False], fits[True]
    rec = on.tree_route_
    assert off.tree_route_ is None and rec["route"] and rec["after"] in ("features", "table", "numbers", "zero-shot")
    assert rec["gain"] > 0.01 * rec["loss"] and 0 < rec["rows"] < 300  # the untouched rows
    assert rec["union_loss"] == pytest.approx(rec["loss"] - rec["gain"])
    assert on.n_side_inputs_ == off.n_side_inputs_ + 1
    assert _rmse(on.predict(items), y) < 0.8 * _rmse(off.predict(items), y)
    assert on.findings_ == off.findings_
    on.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    assert np.allclose(back.predict(items), on.predict(items))
    with pytest.raises(GenZInputError, match="without side inputs"):
        on.predict(items, U=np.ones((len(items), 1)))


def test_the_route_is_left_when_the_features_say_it_all():
    """Catches: the route taken whatever its gain (the predictor then differs from the fit without it)."""
    items, y = _steps(400, 6)
    on = GenZRegressor(random_state=0, selection=Selection(tree_route=True)).fit(items[:300], y[:300])
    off = GenZRegressor(random_state=0, selection=Selection(tree_route=False)).fit(items[:300], y[:300])
    rec = on.tree_route_
    assert rec is not None and not rec["route"] and "model" not in rec
    assert not rec["gain"] > 0.01 * rec["loss"]
    assert np.array_equal(on.predict(items[300:]), off.predict(items[300:])) and on.n_side_inputs_ == off.n_side_inputs_


def test_the_route_is_not_tried_for_several_targets_or_a_bad_setting():
    items, y = _wavy(200, 7)
    est = GenZRegressor(random_state=0, cycles=2, selection=Selection(tree_route=True)).fit(items, np.c_[y, -y])
    assert est.tree_route_ is None
    with pytest.raises(GenZInputError, match="tree_route"):
        GenZRegressor(selection={"tree_route": "yes"}).fit(items, y)
