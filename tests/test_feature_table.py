"""The feature table (plain text, HTML report) and `genz show`, from synthetic model.json files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from genz.cli import main
from genz.errors import CorruptFileError
from genz.report import build_report
from genz.report.feature_table import (
    decimals_for,
    em_convergence,
    feature_table_html,
    format_em_convergence,
    format_feature_table,
    load_feature_table,
)
from tests._synthetic_runs import EVIL, make_run


def _row(feature, target=0, weight=0.152, lo=0.101, hi=0.203, eps=0.05, note="", gain=0.0123, se=0.004, sig=True,
         origin="mined", share=0.31):
    return {"feature": feature, "target": target, "weight": weight, "ci_low": lo, "ci_high": hi, "epsilon": eps,
            "epsilon_note": note, "share_yes": share, "heldout_gain": gain, "heldout_gain_se": se,
            "significant": sig, "origin": origin}


ROWS = [
    _row("renovated", 0),
    _row("renovated", 1, weight=-0.05, lo=-0.1, hi=0.0002),
    _row("has a pool", 0, weight=0.002, lo=-0.03, hi=0.034, eps=0.001, note="at floor", gain=-0.0001, se=0.002,
         sig=False, origin="hypothesis"),
    _row("has a pool", 1, weight=0.01, lo=-0.03, hi=0.05, eps=0.001, note="at floor", gain=-0.0001, se=0.002,
         sig=False, origin="hypothesis"),
]


def test_decimals_give_three_significant_digits_to_the_largest():
    assert decimals_for([0.152, 0.004]) == 3
    assert decimals_for([1.52, -0.3]) == 2
    assert decimals_for([152.0, 3.0]) == 0
    assert decimals_for([None, float("nan")]) == 3


def test_text_table_one_notation_intervals_and_targets():
    text = format_feature_table(ROWS, ["rent", "size"])
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["#", "feature", "target"]
    assert "+0.152 [0.101, 0.203]" in text
    assert "-0.050 [-0.100, 0.000]" in text  # one number of decimals for every weight and interval end
    assert "+0.002 [-0.030, 0.034]" in text
    assert "+0.012 ± 0.004" in text and "-0.000" not in text
    assert "0.001 (at floor)" in text and "ε at floor:" in text
    # a feature's second target is on its own line, under the first, with the target's name
    i = next(k for k, ln in enumerate(lines) if "renovated" in ln)
    assert "rent" in lines[i] and "size" in lines[i + 1] and "renovated" not in lines[i + 1]
    assert "hypothesis" in text and "mined" in text
    one = format_feature_table(ROWS[::2])  # one target: no target column
    assert "target" not in one.splitlines()[0]
    assert format_feature_table([]) == "No features."


def test_text_table_degrades_when_keys_are_missing():
    text = format_feature_table([{"feature": "old", "weight": 0.5}])
    assert "+0.500" in text and "[" not in text.splitlines()[2]


def test_html_table_escapes_and_marks_intervals():
    html = feature_table_html([_row(EVIL)] + ROWS[2:3], ["log price"])
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<td class="num ci">+0.152 [0.101, 0.203]</td>' in html
    assert "epsnote" in html and "<b>" not in html and "<strong>" not in html


def test_em_convergence_summary():
    hist = [{"step": 0}, {"step": 1, "em_phases": [{"iterations": 12, "converged": True}]},
            {"step": 2, "em_phases": [{"iterations": 100, "converged": False}, {"iterations": 7, "converged": True}]},
            {"step": 3, "em_not_converged": 0}]
    rows = em_convergence(hist)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert [r["not_converged"] for r in rows] == [0, 1, 0] and rows[1]["max_iterations"] == 100
    assert "1 did not converge" in format_em_convergence(hist) and "steps 2" in format_em_convergence(hist)
    assert format_em_convergence([{"step": 0}]) is None


def test_load_feature_table(tmp_path):
    assert load_feature_table(tmp_path) is None
    (tmp_path / "model.json").write_text(json.dumps({"features": ["a"]}))
    assert load_feature_table(tmp_path) is None  # an older model
    (tmp_path / "model.json").write_text(json.dumps({"feature_table": ROWS, "target_names": ["rent", "size"]}))
    rows, names = load_feature_table(tmp_path)
    assert rows == ROWS and names == ["rent", "size"]
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="model.json"):
        load_feature_table(tmp_path)


def test_show_prints_the_table_and_em(tmp_path):
    run = make_run(tmp_path / "run", D=2, with_feature_table=True)
    r = CliRunner().invoke(main, ["show", str(run)])
    assert r.exit_code == 0, r.output
    assert "weight [95% CI]" in r.output and "targets: dim0, dim1" in r.output
    assert "(at floor)" in r.output and "hypothesis" in r.output
    assert "EM:" in r.output and "2 did not converge" in r.output
    assert "held-out metrics:" in r.output
    # the model directory itself works too
    r2 = CliRunner().invoke(main, ["show", str(run / "model")])
    assert r2.exit_code == 0 and "weight [95% CI]" in r2.output


def test_show_older_model_and_bad_paths(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.json").write_text(json.dumps({"features": ["'area' is at least 3000", "mentions \"pool\""]}))
    r = CliRunner().invoke(main, ["show", str(old)])
    assert r.exit_code == 0, r.output
    assert "mentions \"pool\"" in r.output and "Refit" in r.output
    running = make_run(tmp_path / "running", with_summary=False, status="interrupted")
    r = CliRunner().invoke(main, ["show", str(running)])
    assert r.exit_code != 0 and "no final model yet" in r.output and "Traceback" not in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(main, ["show", str(empty)])
    assert r.exit_code != 0 and "not a genz run directory" in r.output


def test_report_shows_intervals_gain_and_em(tmp_path):
    run = make_run(tmp_path / "run", with_feature_table=True)
    html = Path(build_report([run])).read_text()
    assert 'id="evidence"' in html and "weight [95% CI]" in html
    assert 'class="num ci"' in html and "held-out gain ± se" in html
    assert "EM convergence" in html and "2 did not converge" in html and 'class="notconv"' in html
    assert "Held-out metrics" in html
    older = make_run(tmp_path / "older")
    html = Path(build_report([older])).read_text()
    assert "saved without a feature table" in html and "did not record EM convergence" in html
