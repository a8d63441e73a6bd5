"""Selection(numbers_route=True) (the default since stop 36): when the numbers check finds that a ridge on the
table's numeric columns predicted the untouched rows better than the discovered structure, the
predictor becomes those columns as side inputs beside the findings and pinned features."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from genz import GenZRegressor, Selection
from tests._cli_runs import fit_and_predict


def _table(n: int, seed: int, kind: str) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "flag": rng.random(n) < 0.5,
                       "c": rng.choice(list("abc"), n)})
    if kind == "line":  # the target follows x along a line: thresholds approximate it poorly
        y = 2.0 * df["x"].to_numpy() + rng.normal(0, 0.5, n)
    elif kind == "both":  # a line in x and a small step with a flag: neither route clearly wins
        y = 0.5 * df["flag"].to_numpy() + df["x"].to_numpy() + rng.normal(0, 0.5, n)
    else:  # it steps with a flag: the features say it exactly
        y = 2.0 * df["flag"].to_numpy() + rng.normal(0, 0.3, n)
    return df, y


def _fit_all(df, y, **sel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GenZRegressor(cycles=3, random_state=0, selection=Selection(**sel)).fit(df, y)


_fit = _fit_all


def test_a_line_in_a_number_takes_the_route_and_predicts_like_a_ridge(tmp_path):
    """Catches: the route taken but the numbers left out of predict (or in another order), the
    discovered cuts kept beside them, a saved model that forgets the route."""
    df, y = _table(400, 1, "line")
    new, y_new = _table(300, 2, "line")
    off = _fit(df, y, numbers_route=False)
    on = _fit(df, y)  # the default
    assert off.numbers_route_ is None and off.numbers_check_["better"] == "ridge"
    r = on.numbers_route_
    assert r is not None and r["columns"] == ["x", "z"] and on.n_side_inputs_ == 2
    assert set(on.features_) <= set(on.findings_) and r["kept"] == on.features_
    assert on.inputs_["side_inputs"] == ["x", "z"]
    rmse = lambda e: float(np.sqrt(np.mean((np.asarray(e.predict(new)).ravel() - y_new) ** 2)))  # noqa: E731
    assert rmse(on) < 0.56 < rmse(off)  # the noise sd is 0.5: the route is near it, the cuts are not
    assert "numbers route" in on.history_[-1]["reason"]
    from genz.checks import numbers_line, warn_cheaper_routes
    from genz.errors import CheaperRouteWarning

    assert "took the numbers route" in numbers_line(on.numbers_check_)
    assert "took the numbers route" not in numbers_line(off.numbers_check_)
    for est, warned in ((on, False), (off, True)):  # a route the predictor took is not a cheaper route left unused
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_cheaper_routes(None, est.numbers_check_)
        assert any(issubclass(c.category, CheaperRouteWarning) for c in caught) is warned
    on.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    np.testing.assert_allclose(np.asarray(back.predict(new)), np.asarray(on.predict(new)))
    assert back.numbers_route_ == on.numbers_route_


def test_the_route_is_not_taken_where_the_features_win_nor_when_off_and_extends_an_array_u():
    df, y = _table(400, 3, "step")
    on = _fit(df, y, numbers_route=True)
    assert on.numbers_check_["better"] != "ridge" and on.numbers_route_ is None
    assert on.features_ == _fit(df, y, numbers_route=False).features_
    line, yl = _table(400, 1, "line")
    U = np.random.default_rng(0).normal(size=(400, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = GenZRegressor(cycles=3, random_state=0, selection=Selection(numbers_route=True)).fit(line, yl, U=U)
    # an array U (since stop 39): the route's columns follow it, read from the items at predict
    r = est.numbers_route_
    assert r["array"] == 1 and est.n_side_inputs_ == 1 + len(r["columns"]) + sum(map(len, r.get("levels", {}).values()))
    new, y_new = _table(300, 2, "line")
    U_new = np.random.default_rng(1).normal(size=(300, 1))
    assert float(np.sqrt(np.mean((np.asarray(est.predict(new, U_new)).ravel() - y_new) ** 2))) < 0.56


def test_the_setting_is_checked_and_reachable_by_set_params():
    with pytest.raises(Exception, match="numbers_route must be True or False"):
        GenZRegressor(selection={"numbers_route": "yes"}).fit(*_table(60, 0, "line"))
    assert Selection().numbers_route is True  # the default (docs/user-guide.md, "The numbers route")
    est = GenZRegressor().set_params(selection__numbers_route=False)
    assert est.get_params()["selection__numbers_route"] is False


def test_genz_fit_and_predict_with_the_route(tmp_path):
    df, y = _table(400, 1, "line")
    new, y_new = _table(50, 2, "line")
    out, p = fit_and_predict(tmp_path, df.assign(y=y), "y", new, "--cycles", "3")  # the route is the default
    assert "took the numbers route" in out
    assert float(np.sqrt(np.mean((p - y_new) ** 2))) < 0.7


def test_route_se_moves_the_rule_and_the_line_says_which():
    """``Selection.route_se``: the route is taken exactly when the check's paired difference
    exceeds ``route_se`` standard errors. Catches: the threshold ignored (always one SE), its sign
    flipped, the line claiming a clear win for a route taken short of one."""
    from genz.checks import numbers_line

    df, y = _table(400, 4, "both")  # the features ahead by 2-3 standard errors: no route at the default
    # the numbers ridge alone (a ridge on the table, with the flag one-hot, is the true model here and
    # would be taken at any of these thresholds: tests/test_table_route.py)
    _fit = lambda df, y, **sel: _fit_all(df, y, route_inputs="numbers", **sel)  # noqa: E731
    base = _fit(df, y)
    nc = base.numbers_check_
    z = nc["diff"] / nc["se"]
    assert base.numbers_route_ is None and -3 < z - 0.25 and z + 0.25 < 1
    below, above = _fit(df, y, route_se=z - 0.25), _fit(df, y, route_se=z + 0.25)
    assert below.numbers_route_ is not None and above.numbers_route_ is None
    assert above.features_ == base.features_ and set(below.features_) <= set(base.findings_)
    assert below.numbers_check_["route"] and below.numbers_check_["route_se"] == z - 0.25
    line = numbers_line(below.numbers_check_).split(". A ridge on the table")[0]  # the numbers ridge's part
    assert "took the numbers route" in line and "by more than one standard error" not in line
    assert "BETTER" not in line
    with pytest.raises(Exception, match="route_se must be a number of standard errors"):
        GenZRegressor(selection={"route_se": 5}).fit(df, y)
    assert GenZRegressor().set_params(selection__route_se=0.0).get_params()["selection__route_se"] == 0.0
