"""The HTML report, built from synthetic run directories written through RunDir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests._synthetic_runs import EVIL, make_run
from genz.commands.report import report as report_cmd
from genz.errors import CorruptFileError
from genz.report import build_report
from genz.runs import RunDir


def _imgs(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def _timeline_data(html: str, idx: int = 0) -> dict:
    m = re.search(rf'<script type="application/json" id="timeline-data-{idx}">(.*?)</script>', html, re.S)
    assert m, "timeline data missing"
    return json.loads(m.group(1))


def test_single_run_report_has_every_section(tmp_path):
    run = make_run(tmp_path / "run", with_results=True, api_key="sk-live-0123456789abcdef")
    out = build_report([run])
    assert out == run / "report" / "report.html"
    html = out.read_text()
    for anchor in ("curves", "timeline", "features", "overrides", "experiment"):
        assert f'id="{anchor}"' in html, anchor
    imgs = _imgs(html)
    assert sorted(imgs) == ["curves.png", "results.png", "timeline.png", "weights.png"]
    for name in imgs:
        data = (out.parent / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # learning-curve metric chosen by preference, final features and overrides rendered
    assert "final test median_ae" in html
    assert "has a basement" in html and "posterior q" in html
    assert "ridge on zip one-hot" in html and "zero-shot (50 questions)" in html
    # the timeline slider's data: one entry per history step, with that step's features
    data = _timeline_data(html)
    hist = RunDir.open(run).history()
    assert [s["step"] for s in data["steps"]] == [h["step"] for h in hist]
    assert data["steps"][-1]["features"] == hist[-1]["features"]
    assert 0 < data["axes"]["left"] < data["axes"]["right"] < 1
    # no external resources: no http(s) URLs in src/href, only our inline assets
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_untrusted_text_is_escaped_and_secrets_absent(tmp_path):
    run = make_run(tmp_path / "run", with_results=True, api_key="sk-live-0123456789abcdef")
    html = build_report([run]).read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html  # shown, as text
    assert html.count("<script") == 2  # the timeline JSON and the slider code: nothing injected
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "").replace("onerror=alert(1)\\u003e", "")
    assert "sk-live" not in html and "0123456789abcdef" not in html
    assert "sk-live" not in (run / "config.json").read_text()


def test_multi_dimensional_targets_get_a_weight_heatmap(tmp_path):
    run = make_run(tmp_path / "run", D=6, seed=2)
    html = build_report([run], tmp_path / "rep.html").read_text()
    assert "‖w‖" in html and "per target dimension" in html
    assert "final test cosine" in html
    assert (tmp_path / "weights.png").exists()


def test_run_in_progress_without_summary(tmp_path):
    run = make_run(tmp_path / "run", with_summary=False, status="running")
    html = build_report([run], tmp_path / "out").read_text()
    assert (tmp_path / "out" / "report.html").exists()
    assert "has not written its final summary yet" in html
    assert "Available once the run has written its final summary" in html
    last = RunDir.open(run).history()[-1]
    for f in last["features"]:
        assert f.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in html


def test_empty_run(tmp_path):
    RunDir.create(tmp_path / "run", {}).close()
    html = build_report([tmp_path / "run"]).read_text()
    assert html.count("No steps recorded yet") == 2 and "<img" not in html


def test_compare_several_runs(tmp_path):
    a = make_run(tmp_path / "a", seed=0)
    b = make_run(tmp_path / "b", seed=1, cycles=4)
    out = build_report([a, b], tmp_path / "cmp")
    html = out.read_text()
    assert 'id="compare"' in html and 'id="r0-run"' in html and 'id="r1-run"' in html
    imgs = _imgs(html)
    assert "compare.png" in imgs and "r0-curves.png" in imgs and "r1-timeline.png" in imgs
    for name in imgs:
        assert (out.parent / name).exists(), name
    assert len(_timeline_data(html, 1)["steps"]) == len(RunDir.open(b).history())


def test_corrupt_history_is_a_clear_error_and_writes_nothing(tmp_path):
    run = make_run(tmp_path / "run")
    h = run / "history.jsonl"
    h.write_bytes(h.read_bytes()[:-7])
    with pytest.raises(CorruptFileError, match=r"history\.jsonl line \d+: truncated final line"):
        build_report([run], tmp_path / "rep")
    assert not (tmp_path / "rep" / "report.html").exists()
    res = CliRunner().invoke(report_cmd, [str(run), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 1 and "history.jsonl line" in res.output and "Traceback" not in res.output


def test_corrupt_summary_is_a_clear_error(tmp_path):
    run = make_run(tmp_path / "run")
    npz = run / "summary.npz"
    npz.write_bytes(npz.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r"summary\.npz: summary arrays do not match their checksum"):
        build_report([run])


def test_cli_report_command(tmp_path):
    run = make_run(tmp_path / "run")
    res = CliRunner().invoke(report_cmd, [str(run)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(run / "report" / "report.html")
    res = CliRunner().invoke(report_cmd, [str(tmp_path / "nope")])
    assert res.exit_code == 1 and "no such run directory" in res.output
    res = CliRunner().invoke(report_cmd, [])
    assert res.exit_code == 2
