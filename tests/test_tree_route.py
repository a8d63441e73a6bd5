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
from genz.tree_route import (TREE_GAIN_REL, TreeModel, blend, blend_losses, blend_weight, predictor_alone, tree_gains,
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


def _worded(n: int, seed: int) -> tuple[list[Item], np.ndarray, np.ndarray]:
    """120 made-up words in the texts, each worth a little (normal, sd 0.3) and each in 12% of them,
    one side input and a city: a ridge on the words says much of it, a list of binary features
    only part of it."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{j:03d}x" for j in range(120)])
    effects = np.random.default_rng(99).normal(scale=0.3, size=len(words))
    has = rng.random((n, len(words))) < 0.12
    city = rng.choice(CITIES, n)
    u = rng.normal(size=n)
    y = has @ effects + 0.5 * u + 0.2 * np.isin(city, ["Ames", "Bern"]) + 0.3 * rng.normal(size=n)
    items = [Item(id=f"t{seed}-{i}", text="a home with " + " ".join(words[has[i]]) + ".", attributes={"city": str(c)})
             for i, c in enumerate(city)]
    return items, y, u[:, None]


def test_blend_shares_are_the_exact_least_squares_point_of_the_simplex():
    """Catches: shares outside a ≥ 0, Σ a ≤ 1 (a candidate turned against itself, or the predictor's
    share negative), a share that is not the best on the simplex (a face forgotten), one candidate
    not reducing to the clipped share."""
    from genz.tree_route import blend_shares

    rng = np.random.default_rng(4)
    for i in range(60):
        D = rng.normal(size=(30, 2))
        r = D @ rng.normal(scale=1.5, size=2) + rng.normal(size=30)
        a = blend_shares(r, D)
        assert (a >= 0).all() and a.sum() <= 1 + 1e-12
        grid = np.array([(x, y) for x in np.linspace(0, 1, 101) for y in np.linspace(0, 1, 101) if x + y <= 1 + 1e-12])
        loss = lambda s: float(np.sum((r - D @ s) ** 2))  # noqa: E731
        assert loss(a) <= min(loss(g) for g in grid) + 1e-9
        assert np.array_equal(blend_shares(r, D[:, :1]), [blend_weight(r, D[:, 0])])
    D = np.linalg.qr(rng.normal(size=(30, 2)))[0]  # orthonormal candidates
    assert np.array_equal(blend_shares(-D @ [1.0, 1.0], D), [0.0, 0.0])  # both point the wrong way
    np.testing.assert_allclose(blend_shares(D @ [3.0, 3.0], D), [0.5, 0.5])  # beyond the simplex: its edge
    np.testing.assert_allclose(blend_shares(D @ [0.2, -1.0], D), [0.2, 0.0], atol=1e-12)  # one face
    t = np.c_[D[:, 0], D[:, 1]]
    oof, a = blend_losses(D @ [0.3, 0.4], np.zeros(30), t, 1.0, 5, 0)
    np.testing.assert_allclose(a, [0.3, 0.4]) and np.testing.assert_allclose(oof, 0.0, atol=1e-20)
    y, wins = rng.normal(size=300), 0
    for k in range(40):  # two candidates that know nothing: out of fold, the blend loses on average
        T = np.random.default_rng(200 + k).normal(size=(300, 2))
        oof, a = blend_losses(y, np.zeros(300), T, 1.0, 5, k)
        assert np.mean((y - T @ a) ** 2) <= np.mean(y ** 2) + 1e-12  # in sample it never loses
        wins += oof.mean() < np.mean(y ** 2)
    assert wins <= 12


def test_the_words_ridge_joins_the_blend_when_asked_and_is_only_reported_by_default(tmp_path):
    """Catches: the words' ridge missing from predict, given another share than the check's or side
    inputs other than the fit's, the predictor changed by it, a saved model that loses it, a line
    that does not say it; and by default (``blend_words=False``) a fit whose predictions the words
    change (it must predict exactly as the trees-only rule says, and only report the words)."""
    items, y, u = _worded(400, 2)  # one cycle, the text route off: the words are the blend's to add
    fit = lambda **kw: GenZRegressor(random_state=0, cycles=1, selection=Selection(text_route=False, **kw)).fit(  # noqa: E731
        items[:320], y[:320], U=u[:320])
    on, off, default = fit(blend_words=True), fit(tree_route=False), fit()
    rec = on.tree_route_
    assert rec["route"] and rec["words_share"] > 0 and rec["alpha"] >= 0 and rec["alpha"] + rec["words_share"] <= 1
    assert set(rec["trees_alone"]) == {"union_loss", "gain", "se", "alpha", "route"} and rec["words"]["terms"] > 10
    assert rec["union_loss"] == pytest.approx(rec["loss"] - rec["gain"]) and rec["gain"] > 0.01 * rec["loss"]
    assert rec["words"]["used"] and rec["words"]["passes"] and rec["words"]["share"] == rec["words_share"]
    assert on.features_ == off.features_ and on.findings_ == off.findings_
    new, U = items[320:], u[320:]
    from genz.text_ridge import TextRidge, item_texts

    words = TextRidge.from_json(rec["words_model"]).predict(item_texts(new), U)[:, 0]
    trees = TreeModel.from_json(rec["model"]).predict(new) if rec["alpha"] > 0 else 0.0
    a, w = rec["alpha"], rec["words_share"]
    assert np.allclose(on.predict(new, U=U), (1 - a - w) * off.predict(new, U=U) + a * trees + w * words)
    assert np.array_equal(predictor_alone(on).predict(new, U=U), off.predict(new, U=U))
    assert _rmse(on.predict(new, U=U), y[320:]) < 0.8 * _rmse(off.predict(new, U=U), y[320:])
    on.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    assert np.allclose(back.predict(new, U=U), on.predict(new, U=U))
    from genz.checks import tree_line
    from genz.tree_route import check_record

    assert "ridge on the texts' words (shares" in tree_line(rec) and "taken" in tree_line(rec)
    assert "words_model" not in check_record(on) and "model" not in check_record(on)
    # the default: the trees-only rule decides, the words are reported, predict is that rule's
    dr = default.tree_route_
    assert "words_model" not in dr and "words_share" not in dr and not dr["words"]["used"]
    assert dr["words"]["passes"] and {k: dr[k] for k in rec["trees_alone"]} == rec["trees_alone"]
    if dr["route"]:
        expect = blend(off.predict(new, U=U), dr["alpha"], TreeModel.from_json(dr["model"]).predict(new))
    else:
        expect = off.predict(new, U=U)
    assert np.allclose(default.predict(new, U=U), expect)
    assert "enough for the rule: not used (Selection(blend_words=True)" in tree_line(dr)
