"""`genz demo binary --out RUN` + `genz report RUN`: the nine bits appear coarse to fine."""

from __future__ import annotations

import json
import re

from genz.report import build_report
from genz.runfit import binary_demo_run
from genz.runs import RunDir


def test_binary_demo_report_shows_bits_coarse_to_fine(tmp_path):
    res = binary_demo_run(tmp_path / "run", seed=0)
    assert res["bits_recovered"] == 9 and res["coarse_to_fine"]
    assert res["feature_bits"] == [8, 7, 6, 5, 4, 3, 2, 1, 0]
    run = RunDir.open(tmp_path / "run")
    assert run.status == "complete" and (tmp_path / "run" / "model" / "model.json").exists()
    html = build_report([tmp_path / "run"]).read_text()
    m = re.search(r'<script type="application/json" id="timeline-data-0">(.*?)</script>', html, re.S)
    steps = json.loads(m.group(1))["steps"]
    # step 0 has no feature; step k adds the k-th bit, most significant first, and keeps the others
    assert steps[0]["features"] == []
    assert [s["action"] for s in steps[1:]] == ["add"] * 9
    for k in range(1, 10):
        assert steps[k]["features"] == res["features"][:k]
        assert steps[k]["feature"] == res["features"][k - 1]
    # the final features table lists all nine with their weights: 256, 128, ..., 1 (up to sign)
    summary = run.load_summary()
    w = sorted(abs(summary.weights[:, 0]), reverse=True)
    assert [round(x) for x in w] == [256, 128, 64, 32, 16, 8, 4, 2, 1]
    # the learning curve ends at zero training error
    assert steps[-1]["train"] is not None and steps[-1]["train"] < 1e-6
