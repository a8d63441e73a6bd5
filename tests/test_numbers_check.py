"""The numbers check (issue 18, "if a cheaper route would have predicted better, the fit finds out
and says so"): a ridge on the table's numeric columns against the structure tested for findings,
both fitted on the discovery rows and scored on the untouched rows. A report only."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import genz.discovery_run as discovery_run
from genz import GenZRegressor
from genz.items import Item
from genz.selection import holdout_losses, numbers_check, numeric_columns


def _items(n: int, seed: int) -> tuple[list[Item], np.ndarray, np.ndarray]:
    """Items with two numbers (x matters linearly, z is noise), a flag, a category and a text;
    returns the items, x and the flag."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    flag = rng.random(n) < 0.5
    items = [Item(id=f"i{i}", text=str(rng.choice(["quiet street", "busy road", "near a park"])),
                  attributes={"x": float(x[i]), "z": float(z[i]), "flag": bool(flag[i]),
                              "c": str(rng.choice(list("abc")))}) for i in range(n)]
    return items, x, flag


def _check(items, Q, U, Y, train, test):
    """The numbers check of the structure with FM priors ``Q`` (its losses as the fit computes them)."""
    return numbers_check(items, holdout_losses(Q, U, Y, train, test, 5, 0), U, Y, train, test, 5, 0)


def test_numeric_columns_are_finite_numbers_in_every_row_and_never_booleans():
    """Catches: booleans taken as numbers, a column with a gap or a NaN taken (the ridge would
    need a value for every row), text taken."""
    items = [Item(id="a", text="t", attributes={"n": 1, "f": 0.5, "b": True, "s": "x", "gap": 1.0, "nan": 1.0}),
             Item(id="b", text="t", attributes={"n": 2, "f": 1.5, "b": False, "s": "y", "nan": float("nan")})]
    cols, X = numeric_columns(items)
    assert cols == ["f", "n"]
    assert X.tolist() == [[0.5, 1.0], [1.5, 2.0]]
    assert numeric_columns([Item(id="a", text="t", attributes={"s": "x"})]) == ([], None)


def test_the_check_says_ridge_for_a_line_and_genz_for_a_step_the_structure_has():
    """Catches: the difference's sign reversed or the verdicts swapped; the ridge fitted on the
    scored rows (it would then win on a step too); the side inputs left out of one side."""
    items, x, flag = _items(400, 1)
    rng = np.random.default_rng(2)
    train, test = np.arange(280), np.arange(280, 400)
    useless = (rng.random(400) < 0.5).astype(float)[:, None]  # a structure that knows nothing
    y_line = (2.0 * x + rng.normal(0, 0.5, 400))[:, None]
    r = _check(items, useless, None, y_line, train, test)
    assert r["better"] == "ridge" and r["diff"] > 3 * r["se"] and r["columns"] == ["x", "z"]
    assert r["rows"] == 120
    # the ridge's loss is the holdout loss of a ridge on [x, z] fitted on the training rows alone
    X = np.column_stack([x, [it.attributes["z"] for it in items]])
    ridge = holdout_losses(np.zeros((400, 0)), X, y_line, train, test, 5, 0)
    assert r["ridge_loss"] == pytest.approx(ridge.mean())
    # the scored rows' targets do not reach the fit: with other targets there, the ridge's
    # predictions (recovered from each per-item loss up to the residual's sign) are the same
    y2 = y_line.copy()
    y2[test] = rng.normal(size=(120, 1))
    ridge2 = holdout_losses(np.zeros((400, 0)), X, y2, train, test, 5, 0)
    s1, s2 = np.sqrt(ridge * np.var(y_line[train])), np.sqrt(ridge2 * np.var(y2[train]))
    p1 = y_line[test, 0][:, None] + np.array([-1, 1]) * s1[:, None]
    p2 = y2[test, 0][:, None] + np.array([-1, 1]) * s2[:, None]
    assert np.abs(p1[:, :, None] - p2[:, None, :]).min(axis=(1, 2)).max() < 1e-8
    assert _check(items, useless, None, y2, train, test)["ridge_loss"] == pytest.approx(ridge2.mean())

    y_step = (2.0 * flag + rng.normal(0, 0.5, 400))[:, None]
    r = _check(items, flag.astype(float)[:, None], None, y_step, train, test)
    assert r["better"] == "genz" and r["diff"] < -3 * r["se"]
    # side inputs are in both: with the line as a side input the structure is not behind
    r = _check(items, useless, x[:, None], y_line, train, test)
    assert r["better"] != "ridge"
    assert _check(items, useless, None, y_line, train, np.arange(0)) is None


def test_a_fit_reports_the_check_and_the_check_does_not_change_the_fit(monkeypatch, tmp_path):
    """Catches: a check that moves the predictor (its random numbers or its state), a report
    lost by save/load, a fit that says nothing when a plain ridge would predict better."""
    items, x, _ = _items(300, 3)
    y = 2.0 * x + np.random.default_rng(4).normal(0, 0.5, 300)
    est = GenZRegressor(cycles=3, random_state=0, selection={"numbers_route": False}).fit(items, y)  # a report only
    nc = est.numbers_check_
    assert nc is not None and nc["better"] == "ridge" and nc["columns"] == ["x", "z"]
    assert nc["rows"] == (est.inference_.nobs if est.inference_ is not None else nc["rows"])
    monkeypatch.setattr(discovery_run, "numbers_check", lambda *a, **k: None)
    off = GenZRegressor(cycles=3, random_state=0, selection={"numbers_route": False}).fit(items, y)
    assert off.numbers_check_ is None
    assert off.features_ == est.features_
    np.testing.assert_array_equal(off.predict(items), est.predict(items))
    est.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m")
    assert json.dumps(back.numbers_check_, sort_keys=True) == json.dumps(nc, sort_keys=True)


def test_genz_fit_prints_the_numbers_check(tmp_path):
    from genz.cli import main

    items, x, _ = _items(300, 5)
    y = 2.0 * x + np.random.default_rng(6).normal(0, 0.5, 300)
    path = tmp_path / "t.csv"
    rows = ["id,text,x,z,c,y"] + [f"{it.id},{it.text},{it.attributes['x']},{it.attributes['z']},{it.attributes['c']},{v}"
                                   for it, v in zip(items, y)]
    path.write_text("\n".join(rows) + "\n")
    res = CliRunner().invoke(main, ["fit", "--data", str(path), "--target", "y", "--text", "text", "--id", "id",
                                    "--out", str(tmp_path / "run"), "--cycles", "3"])
    assert res.exit_code == 0, res.output
    line = next(s for s in res.output.splitlines() if "numbers check" in s)
    assert "a ridge on the 2 numeric column(s) (x, z)" in line and "predicted these rows better" in line
    assert "took the numbers route" in line  # the default (Selection.numbers_route)
    zero_shot = next(s for s in res.output.splitlines() if "zero-shot check" in s)
    # `genz show` and the report say the same later (a user who did not watch the fit sees it too)
    shown = CliRunner().invoke(main, ["show", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    assert line in shown.output.splitlines() and zero_shot in shown.output.splitlines()
    from html import escape

    from genz.report import build_report

    page = build_report([tmp_path / "run"]).read_text(encoding="utf-8")
    assert "Checks against cheaper routes" in page
    assert escape(line.strip()) in page and escape(zero_shot.strip()) in page


def test_a_python_fit_warns_when_a_cheaper_route_predicted_better_and_only_then(tmp_path):
    """A notebook user is told what `genz fit` prints (a CheaperRouteWarning whose message is
    the line). Catches: no warning when the plain ridge won, a warning when the features won."""
    import warnings

    from genz.errors import CheaperRouteWarning
    from genz.checks import numbers_line

    items, x, step = _items(300, 5)
    line = 2.0 * x + np.random.default_rng(6).normal(0, 0.5, 300)
    with pytest.warns(CheaperRouteWarning) as caught:  # the route off: the check only reports
        est = GenZRegressor(cycles=3, random_state=0, selection={"numbers_route": False}).fit(items, line)
    assert est.numbers_check_["better"] == "ridge"
    assert numbers_line(est.numbers_check_) in [str(w.message) for w in caught]
    assert "predicted these rows BETTER" in numbers_line(est.numbers_check_)
    # a step at a cut of x: neither the ridge on the numbers nor the one on the table (the flag and the
    # category one-hot beside them) can follow it, the features can
    stepped = 2.0 * (x > 0.3) + np.random.default_rng(6).normal(0, 0.3, 300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=3, random_state=0).fit(items, stepped)
    assert est.numbers_check_["better"] != "ridge" and est.numbers_check_["table"]["better"] != "ridge"
    assert not [w for w in caught if issubclass(w.category, CheaperRouteWarning) and "numbers check" in str(w.message)]
