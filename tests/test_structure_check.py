"""The structure check (genz.selection.structure_check, docs/feature-table.md): phase 1's
structure against no feature at all on the untouched rows; when it does not predict them better,
the predictor keeps only the findings and pinned features and discovery does not go on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genz import GenZRegressor, PriorKnowledge
from genz import selection as sel
from genz.checks import structure_line
from genz.items import Item


def test_the_check_falls_back_only_when_the_structure_does_not_beat_no_feature():
    """Catches: the gain's sign reversed, the SE margin ignored, or a fall-back that keeps more
    than the findings and pinned features."""
    rng = np.random.default_rng(0)
    empty = 1.0 + rng.normal(0, 0.1, 200)
    worse = sel.structure_check(empty + 0.05, empty, ["a"], 7)
    assert worse["fell_back"] and worse["kept"] == ["a"] and worse["gain"] < 0 and worse["tested"] == 7
    better = sel.structure_check(empty - 0.3, empty, ["a"], 7)
    assert not better["fell_back"] and better["kept"] is None and better["gain"] == pytest.approx(0.3)
    assert better["empty_loss"] == pytest.approx(empty.mean()) and better["rows"] == 200
    tiny = sel.structure_check(empty - 1e-3 * rng.random(200), empty, [], 3)  # better, though not by much
    assert not tiny["fell_back"]


def test_the_margin_and_none_switch(monkeypatch):
    rng = np.random.default_rng(1)
    empty = 1.0 + rng.normal(0, 0.5, 100)
    genz = empty - 0.02 + rng.normal(0, 0.5, 100)  # a small gain, well within its standard error
    m, se = sel.paired(empty - genz)
    assert 0 < m < 2 * se
    monkeypatch.setattr(sel, "FALLBACK_SE", 2.0)
    assert sel.structure_check(genz, empty, [], 1)["fell_back"]
    monkeypatch.setattr(sel, "FALLBACK_SE", None)
    assert not sel.structure_check(genz + 5, empty, [], 1)["fell_back"]


def _items(n: int, seed: int, signal: float):
    rng = np.random.default_rng(seed)
    items = [Item(id=f"s{i}", text=str(rng.choice(["quiet street", "busy road", "near a park", "by the river"])),
                  attributes={"x": float(rng.normal()), "c": str(rng.choice(list("abcde"))),
                              "flag": bool(rng.random() < 0.5)}) for i in range(n)]
    y = rng.normal(size=n) + signal * np.array([(it.attributes["c"] == "a") - (it.attributes["c"] == "b")
                                                for it in items])
    return items, y


def _genz_fit(tmp_path, items, y):
    """``genz fit`` (3 cycles) on the items and targets written as a CSV table; the CLI's result."""
    from click.testing import CliRunner

    from genz.cli import main

    path = tmp_path / "t.csv"
    path.write_text("\n".join(["id,text,x,c,y"] + [f"{it.id},{it.text},{it.attributes['x']},{it.attributes['c']},{v}"
                                                  for it, v in zip(items, y)]) + "\n")
    return CliRunner().invoke(main, ["fit", "--data", str(path), "--target", "y", "--text", "text", "--id", "id",
                                     "--out", str(tmp_path / "run"), "--cycles", "3"])


def test_a_pure_noise_target_leaves_the_predictor_without_overfitted_features(tmp_path):
    """Catches, end to end: discovery going on over every row after phase 1's structure failed on
    the untouched rows (a pure-noise target then keeps tens of features), a fall-back that
    keeps non-findings, or a check the saved model forgets."""
    fell = 0
    for seed in range(4):
        items, y = _items(300, seed, 0.0)
        est = GenZRegressor(cycles=3, random_state=seed).fit(items, y)
        sc = est.structure_check_
        assert sc is not None and sc["rows"] == 90 and sc["tested"] >= 1
        if not sc["fell_back"]:
            continue
        fell += 1
        assert set(est.features_) == set(sc["kept"]) <= set(est.findings_)
        assert not any(r["action"] == "extend" for r in est.history_)
        assert "structure check" in est.history_[-1]["reason"]
        if not est.features_:  # no feature: every prediction is the training mean
            np.testing.assert_allclose(np.asarray(est.predict(items[:20])).ravel(), y.mean(), rtol=0, atol=1e-6)
        assert "no better than nothing" in structure_line(sc)
        est.save(tmp_path / f"m{seed}")
        back = GenZRegressor.load(tmp_path / f"m{seed}")
        assert json.dumps(back.structure_check_, sort_keys=True) == json.dumps(sc, sort_keys=True)
    assert fell >= 3


def test_a_real_signal_passes_the_check_and_discovery_goes_on():
    """Catches: a check that falls back whatever the data (or compares on the wrong rows)."""
    items, y = _items(300, 11, 1.5)
    est = GenZRegressor(cycles=3, random_state=0).fit(items, y)
    sc = est.structure_check_
    assert not sc["fell_back"] and sc["gain"] > 2 * sc["se"] and sc["kept"] is None
    assert any(r["action"] == "extend" for r in est.history_)
    assert "they predict rows no choice touched" in structure_line(sc)


def test_pinned_features_survive_a_fall_back():
    items, y = _items(300, 2, 0.0)
    pin = "'flag' is \"true\""
    est = GenZRegressor(cycles=3, random_state=2, hypotheses=PriorKnowledge(pin=[pin])).fit(items, y)
    sc = est.structure_check_
    assert sc["fell_back"], sc
    assert pin in est.features_ and pin in sc["kept"]


def test_fit_show_and_report_print_the_structure_check(tmp_path):
    from html import escape

    from click.testing import CliRunner

    from genz.cli import main
    from genz.report import build_report

    res = _genz_fit(tmp_path, *_items(300, 0, 0.0))
    assert res.exit_code == 0, res.output
    line = next(s for s in res.output.splitlines() if "structure check on 90 untouched rows" in s)
    shown = CliRunner().invoke(main, ["show", str(tmp_path / "run")])
    assert shown.exit_code == 0 and line in shown.output.splitlines(), shown.output
    page = build_report([tmp_path / "run"]).read_text(encoding="utf-8")
    assert escape(line.strip()) in page


def test_a_fit_left_without_features_by_the_check_is_a_result_not_a_failed_run(tmp_path, monkeypatch):
    """Catches: genz fit marking the run failed (exit 1) when the structure check, not a broken
    input, left the predictor without features; the note must say why."""
    import genz.untouched_checks as checks

    monkeypatch.setattr(checks, "UNION_SE", 1e9)  # no zero-shot proposal joins: nothing is left
    res = _genz_fit(tmp_path, *_items(300, 1, 0.0))  # (a seed where no chance finding survives either)
    assert res.exit_code == 0, res.output
    assert "genz kept no feature" in res.output and "no better than no feature at all" in res.output
