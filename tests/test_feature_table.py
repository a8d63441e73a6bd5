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


def _row(feature, target=0, weight=0.152, effect=0.16, lo=0.101, hi=0.203, eps=0.05, note="", gain=0.0123, se=0.004,
         finding=True, q=0.002, origin="mined", share=0.31):
    return {"feature": feature, "target": target, "weight": weight, "finding": finding, "effect": effect,
            "ci_low": lo, "ci_high": hi, "p_value": q / 2, "q_value": q, "cv_gain": gain, "cv_gain_se": se,
            "epsilon": eps, "epsilon_note": note, "share_yes": share, "origin": origin}


ROWS = [
    _row("has a pool", 0, weight=0.002, effect=0.002, lo=-0.03, hi=0.034, eps=0.001, note="at floor", gain=-0.0001,
         se=0.002, finding=False, q=0.4, origin="hypothesis"),
    _row("has a pool", 1, weight=0.01, effect=0.01, lo=-0.03, hi=0.05, eps=0.001, note="at floor", gain=-0.0001,
         se=0.002, finding=False, q=0.4, origin="hypothesis"),
    _row("renovated", 0),
    _row("renovated", 1, weight=-0.05, effect=-0.06, lo=-0.1, hi=-0.02),
]
INFO = {"nobs": 120, "error_rate": 0.05, "correction": "bh"}


def test_decimals_give_three_significant_digits_to_the_largest():
    assert decimals_for([0.152, 0.004]) == 3
    assert decimals_for([1.52, -0.3]) == 2
    assert decimals_for([152.0, 3.0]) == 0
    assert decimals_for([None, float("nan")]) == 3


def test_text_table_findings_first_one_notation_intervals_and_targets():
    text = format_feature_table(ROWS, ["rent", "size"], info=INFO)
    lines = text.splitlines()
    # the findings' block comes first, labelled with the error control, then the supporting features
    assert lines[0] == "Findings: 1 of 2 features (tested on 120 untouched rows; Benjamini-Hochberg at 0.05)"
    assert lines[1].split()[:3] == ["#", "feature", "target"]
    f, s = next(k for k, ln in enumerate(lines) if "renovated" in ln), next(k for k, ln in enumerate(lines) if "pool" in ln)
    assert f < next(k for k, ln in enumerate(lines) if ln.startswith("Supporting features (1)")) < s
    assert "+0.160 [0.101, 0.203]" in text and "+0.152" in text  # the effect with its interval; the weight apart
    assert "-0.060 [-0.100, -0.020]" in text  # one number of decimals for every weight, effect and interval end
    assert "+0.012 ± 0.004" in text and "-0.000" not in text
    assert "0.001 (at floor)" in text and "ε at floor:" in text
    assert "weight: the predictor's coefficient" in text and "95% interval" in text
    # a feature's second target is on its own line, under the first, with the target's name
    assert "rent" in lines[f] and "size" in lines[f + 1] and "renovated" not in lines[f + 1]
    assert "hypothesis" in text and "mined" in text
    one = format_feature_table(ROWS[::2])  # one target: no target column
    assert "target" not in one.splitlines()[1]
    assert format_feature_table([]) == "No features."
    long = [_row("x" * 100)]
    assert "x" * 100 not in format_feature_table(long) and "x" * 100 in format_feature_table(long, max_feature_width=None)


def test_text_table_degrades_when_keys_are_missing():
    text = format_feature_table([{"feature": "old", "weight": 0.5}])
    assert "+0.500" in text and "none was tested on rows set aside" in text


def test_html_table_escapes_and_marks_intervals():
    html = feature_table_html([_row(EVIL)] + ROWS[:1], ["log price"], INFO)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<td class="num ci">+0.160 [0.101, 0.203]</td>' in html
    assert html.index("Findings: 1 of 2") < html.index("Supporting features (1)")
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
    assert "effect [CI]" in r.output and "targets: dim0, dim1" in r.output
    assert r.output.index("Findings:") < r.output.index("Supporting features")
    assert "tested on 120 untouched rows" in r.output
    assert "(at floor)" in r.output and "hypothesis" in r.output
    assert "EM:" in r.output and "2 did not converge" in r.output
    assert "cross-validated loss on the discovery rows: 0.42" in r.output
    # the model directory itself works too
    r2 = CliRunner().invoke(main, ["show", str(run / "model")])
    assert r2.exit_code == 0 and "effect [CI]" in r2.output


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


def test_report_shows_findings_intervals_gain_and_em(tmp_path):
    run = make_run(tmp_path / "run", with_feature_table=True)
    html = Path(build_report([run])).read_text()
    assert 'id="evidence"' in html and "effect [CI]" in html and "Findings:" in html
    assert 'class="num ci"' in html and "cv gain ± se" in html
    assert "EM convergence" in html and "2 did not converge" in html and 'class="notconv"' in html
    assert "Cross-validated loss of the chosen structure" in html
    older = make_run(tmp_path / "older")
    html = Path(build_report([older])).read_text()
    assert "saved without a feature table" in html and "did not record EM convergence" in html


def test_an_unplaced_cut_shows_its_effect_with_no_q_and_the_legend_says_why():
    """A feature estimated as a control but not tested (``located`` below the setting): its
    effect is printed, q is '–', it sits with the supporting features and the legend explains
    it; the phase-2 legend does not appear for it. Catches: the two blank kinds confused, or the
    title saying nothing was tested when only untested controls and findings are present."""
    rows = [_row("renovated"), dict(_row("'area' is at least 93", effect=0.05, lo=0.01, hi=0.09, finding=False,
                                         q=float("nan")), located=0.42)]
    text = format_feature_table(rows, ["rent"], info=INFO)
    assert text.splitlines()[0].startswith("Findings: 1 of 2 features")
    line = next(ln for ln in text.splitlines() if "'area'" in ln)
    assert "+0.050 [0.010, 0.090]" in line and "– (42%)" in line
    assert any(ln.startswith("q – (n%) beside an effect") for ln in text.splitlines())
    assert not any(ln.startswith("effect –") for ln in text.splitlines())


def test_a_screened_out_feature_shows_its_discovery_p_and_the_legend_says_why():
    """A feature the screen left out (its p-value on the discovery rows above ``--discovery-p``): its
    effect is printed, q is '– (p₁ n)', and the legend explains the screen, not the placing.
    Catches: a screened-out feature shown as unplaced ('– (100%)'), or with no reason."""
    rows = [_row("renovated"), dict(_row("'city' is \"Evora\"", effect=0.05, lo=-0.1, hi=0.2, finding=False,
                                         q=float("nan")), located=1.0, discovery_p=0.035, untested="screened out")]
    text = format_feature_table(rows, ["rent"], info=INFO)
    line = next(ln for ln in text.splitlines() if "Evora" in ln)
    assert "– (p₁ 0.035)" in line and "(100%)" not in line
    assert any(ln.startswith("q – (p₁ n) beside an effect") for ln in text.splitlines())
    assert not any(ln.startswith("q – (n%) beside an effect") for ln in text.splitlines())
