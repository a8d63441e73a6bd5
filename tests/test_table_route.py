"""Selection(route_inputs="table") (the default since stop 38): the numbers check also fits a ridge on the
table as a practitioner writes it (skewed positive numbers logged, categories one-hot over their
repeated levels), and the numbers route may take it; with "numbers" the check reports it and warns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from genz import GenZRegressor, Selection
from genz.errors import CheaperRouteWarning
from genz.items import Item
from genz.discovery import new_item_q
from genz.selection import route_columns, table_matrix, table_spec
from tests._cli_runs import fit_and_predict


def _houses(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A log price that follows log area along a line and a zip code's level: thresholds and single
    zip codes approximate it, a ridge on log area and one-hot zip codes is the true model."""
    rng = np.random.default_rng(seed)
    zips = [f"9{k:04d}" for k in range(25)]
    level = dict(zip(zips, np.random.default_rng(99).normal(0, 0.6, len(zips))))
    z = rng.choice(zips, n)
    area = np.exp(rng.normal(7.5, 0.5, n)).round(0)
    beds = rng.integers(1, 6, n)
    y = 0.8 * np.log(area) + np.array([level[v] for v in z]) + 0.05 * beds + rng.normal(0, 0.2, n)
    return pd.DataFrame({"zipcode": z, "area": area, "bedrooms": beds}), y


def test_the_table_is_read_without_the_target_as_a_practitioner_would():
    """Catches: a symmetric or non-positive number logged, a skewed one not; a level seen once, an
    identifier or a constant one-hot encoded; the log floor or an unseen level mishandled for new items."""
    rng = np.random.default_rng(0)
    n = 200
    items = [Item(id=f"r{i}", attributes={
        "area": float(np.exp(rng.normal(7, 0.6))), "x": float(rng.normal()), "u": float(rng.uniform(1, 2)),
        "zip": "z9" if i == 0 else f"z{i % 4}", "name": f"house {i}", "flag": bool(i % 3 == 0), "kind": "flat"})
        for i in range(n)]
    spec = table_spec(items)
    assert spec["columns"] == ["area", "u", "x"] and spec["log"] == ["area"]
    assert spec["floor"]["area"] == min(it.attributes["area"] for it in items)
    assert sorted(spec["levels"]) == ["flag", "zip"]  # not the names (all distinct) nor the constant kind
    assert spec["levels"]["zip"] == ["z1", "z2", "z3", "z0"] or sorted(spec["levels"]["zip"]) == ["z0", "z1", "z2", "z3"]
    assert "z9" not in spec["levels"]["zip"] and sorted(spec["levels"]["flag"]) == ["False", "True"]
    T = table_matrix(items, spec)
    assert T.shape == (n, 3 + 4 + 2)
    np.testing.assert_allclose(T[:, 0], np.log([it.attributes["area"] for it in items]))
    np.testing.assert_allclose(T[:, 2], [it.attributes["x"] for it in items])
    assert (T[:, 3:5].sum(axis=1) == 1).all()  # the columns sorted by name: flag's two levels, then zip's four
    assert (T[1:, 5:9].sum(axis=1) == 1).all() and T[0, 5:9].sum() == 0  # z9 was seen once: no column
    new = [Item(id="n", attributes={"area": 1.0, "x": 0.0, "u": 1.5, "zip": "z7", "flag": True})]
    t = table_matrix(new, spec)
    assert t[0, 0] == pytest.approx(np.log(spec["floor"]["area"])) and t[0, 5:9].sum() == 0
    assert t[0, 3:5].sum() == 1
    plain = [Item(id=f"p{i}", attributes={"x": float(v)}) for i, v in enumerate(rng.normal(size=50))]
    assert table_spec(plain) is None  # nothing beyond the numbers check's own ridge


def _fit(df, y, **sel):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=3, random_state=0, selection=Selection(**sel)).fit(df, y)
    return est, [c for c in caught if issubclass(c.category, CheaperRouteWarning)]


def test_the_table_route_predicts_like_a_practitioners_ridge(tmp_path):
    """Catches: the route taken but the logs or the one-hot levels left out of predict (or of a saved
    model), "numbers" taking the table's ridge, "numbers" silent when that ridge won."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import OneHotEncoder

    from genz.checks import numbers_line

    df, y = _houses(400, 1)
    new, y_new = _houses(400, 2)
    default, warned = _fit(df, y, route_inputs="numbers")
    table, quiet = _fit(df, y)  # the default
    nc = default.numbers_check_
    assert default.numbers_route_ is None and nc["table"]["better"] == "ridge" and nc["table"]["log"] == ["area"]
    assert warned and "compare with that ridge" in str(warned[-1].message) and not quiet
    r = table.numbers_route_
    assert r["inputs"] == "table" and r["log"] == ["area"] and len(r["levels"]["zipcode"]) == 25
    assert table.n_side_inputs_ == 2 + 25 and set(table.features_) <= set(table.findings_)
    assert "took the numbers route with that ridge's columns" in numbers_line(table.numbers_check_)
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(df[["zipcode"]])

    def X(d):
        return np.hstack([np.log(d[["area"]].to_numpy()), d[["bedrooms"]].to_numpy(), enc.transform(d[["zipcode"]])])

    ridge = RidgeCV(alphas=np.logspace(-3, 3, 30)).fit(X(df), y).predict(X(new))
    rmse = lambda p: float(np.sqrt(np.mean((np.asarray(p).ravel() - y_new) ** 2)))  # noqa: E731
    assert rmse(table.predict(new)) < 1.05 * rmse(ridge) < rmse(default.predict(new))
    table.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    np.testing.assert_allclose(np.asarray(back.predict(new)), np.asarray(table.predict(new)))


def test_genz_fit_takes_the_table_route_and_predict_rebuilds_it(tmp_path):
    df, y = _houses(300, 3)
    new, y_new = _houses(100, 4)
    out, p = fit_and_predict(tmp_path, df.assign(price=y), "price", new, "--cycles", "2")  # the default: table
    assert "took the numbers route with that ridge's columns" in out
    assert float(np.sqrt(np.mean((p - y_new) ** 2))) < 0.3  # noise sd 0.2


def test_the_setting_is_checked_and_reachable_by_set_params():
    with pytest.raises(Exception, match="route_inputs must be one of 'numbers', 'table'"):
        GenZRegressor(selection={"route_inputs": "tables"}).fit(*_houses(60, 0))
    assert Selection().route_inputs == "table"  # the default (docs/user-guide.md)
    est = GenZRegressor().set_params(selection__route_inputs="numbers")
    assert est.get_params()["selection__route_inputs"] == "numbers"


def test_an_evaluation_set_is_scored_with_the_routes_columns():
    """Catches: the evaluation set's side inputs left without the route's columns (the fit crashed
    at its last step) or built otherwise than predict builds them."""
    df, y = _houses(400, 1)
    new, y_new = _houses(100, 2)
    est = GenZRegressor(cycles=3, random_state=0).fit(df, y, eval_set=(new, y_new))
    assert est.numbers_route_["inputs"] == "table"
    assert est.history_[-1]["test"]["rmse"] == pytest.approx(est.evaluate(new, y_new)["rmse"])


def test_the_route_appends_its_columns_to_side_inputs_given_as_an_array(tmp_path):
    """Catches: the route refused (or its columns dropped) when the side inputs come as an array U;
    predict not appending the columns read from the new items, or appending them to a U of the wrong
    width; a saved model that forgets it."""
    def split(n, seed):
        df, y = _houses(n, seed)
        items = [Item(id=f"h{seed}-{i}", attributes={"area": float(a), "zipcode": z})
                 for i, (a, z) in enumerate(zip(df["area"], df["zipcode"]))]
        return items, y, df[["bedrooms"]].to_numpy(dtype=float), df

    items, y, U, df = split(400, 1)
    new, y_new, U_new, df_new = split(400, 2)
    est = GenZRegressor(cycles=3, random_state=0).fit(items, y, U)
    r = est.numbers_route_
    assert r["inputs"] == "table" and r["array"] == 1 and r["log"] == ["area"] and est.n_side_inputs_ == 1 + 1 + 25
    assert route_columns(new, r).shape == (400, 26)
    p = np.asarray(est.predict(new, U_new))
    Q = new_item_q(est.transform(new).astype(float), est.epsilon_, est.predictor)
    np.testing.assert_allclose(p, est.predictor_.predict(Q, np.hstack([U_new, route_columns(new, r)])).ravel())
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import OneHotEncoder

    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(df[["zipcode"]])

    def X(d):
        return np.hstack([np.log(d[["area"]].to_numpy()), d[["bedrooms"]].to_numpy(), enc.transform(d[["zipcode"]])])

    ridge = RidgeCV(alphas=np.logspace(-3, 3, 30)).fit(X(df), y).predict(X(df_new))
    rmse = lambda q: float(np.sqrt(np.mean((np.asarray(q).ravel() - y_new) ** 2)))  # noqa: E731
    assert rmse(p) < 1.05 * rmse(ridge)
    with pytest.raises(Exception, match="fitted with 1 side inputs; pass U"):
        est.predict(new)
    with pytest.raises(Exception, match="side inputs have 2 columns, the model was fitted with 1"):
        est.predict(new, np.hstack([U_new, U_new]))
    est.save(tmp_path / "m")
    np.testing.assert_allclose(np.asarray(GenZRegressor.load(tmp_path / "m").predict(new, U_new)), p)
