"""Kill a fit in the middle of a cycle (SIGKILL, or Ctrl-C), resume it, and get exactly the run
an uninterrupted fit gives, without asking the foundation model anything twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("genz.fm.cache", reason="the persistent FM cache (issue 3) is needed to keep answers across a kill")

from genz.runs import RunDir, read_history  # noqa: E402
from tests._signals import default_sigint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "tests" / "_resume_entry.py"
N_STEPS = 23  # phase 1 (init + 3 cycles of up to 3 additions + 1 removal), phase 2 (extend + 2 cycles), the selection
COMPARED = ("step", "cycle", "action", "feature", "features", "n_features", "train", "train_posterior", "test",
            "bound", "epsilon", "activity", "targeted", "fallback")


def _fit(tmp: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, str(ENTRY), str(tmp / name), str(tmp / f"{name}.sqlite"),
                           str(tmp / f"{name}.log"), *extra], env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=default_sigint)


def _requests(log: Path) -> list[tuple[str, str]]:
    return [(r["kind"], json.dumps(r["key"])) for r in map(json.loads, log.read_text().splitlines())]


def _same_records(a: dict, b: dict) -> None:
    for key in COMPARED:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            assert va.keys() == vb.keys(), key
            np.testing.assert_allclose([va[k] for k in va], [vb[k] for k in va], rtol=1e-9, err_msg=key)
        elif isinstance(va, float) or (isinstance(va, list) and va and isinstance(va[0], float)):
            np.testing.assert_allclose(va, vb, rtol=1e-9, err_msg=key)
        else:
            assert va == vb, (key, va, vb)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    p = _fit(tmp, "ref")
    assert p.returncode == 0, p.stderr
    return tmp


@pytest.mark.slow
# kill points in the middle of a cycle and of a step (30: in phase 2); how many requests a step
# makes depends on the engine's candidates, so an engine change may move them (checked below)
@pytest.mark.parametrize("sig,kill_at", [("KILL", 19), ("INT", 8), ("KILL", 30)])
def test_interrupted_fit_resumes_to_the_uninterrupted_result(tmp_path, reference, sig, kill_at):
    ref_hist = read_history(reference / "ref")
    assert len(ref_hist) == N_STEPS
    ref_requests = _requests(reference / "ref.log")

    p = _fit(tmp_path, "run", "--kill-at", str(kill_at), "--signal", sig)
    assert p.returncode == (-9 if sig == "KILL" else 130), p.stderr
    run = RunDir.open(tmp_path / "run")
    assert run.status == ("running" if sig == "KILL" else "interrupted")
    partial = run.history()
    assert 2 <= len(partial) < N_STEPS  # stopped in the middle of the schedule...
    assert ref_hist[len(partial)]["cycle"] == partial[-1]["cycle"]  # ...and of a cycle
    killed_requests = _requests(tmp_path / "run.log")
    assert len(killed_requests) == kill_at - 1

    p = _fit(tmp_path, "run", "--resume")
    assert p.returncode == 0, p.stderr
    run = RunDir.open(tmp_path / "run")
    assert run.status == "complete"
    hist = run.history()
    assert len(hist) == N_STEPS
    for a, b in zip(hist, ref_hist):
        _same_records(a, b)
    s, r = run.load_summary(), RunDir.open(reference / "ref").load_summary()
    assert s.features == r.features
    np.testing.assert_allclose(s.Q, r.Q, rtol=1e-9)
    np.testing.assert_allclose(s.weights, r.weights, rtol=1e-9)

    # no request reached the foundation model twice, and together the two processes asked
    # exactly what the uninterrupted run asked
    requests = _requests(tmp_path / "run.log")
    assert len(requests) == len(set(requests))
    assert sorted(requests) == sorted(ref_requests)
    # the step in progress at the kill was redone from the cache: its answers were kept
    redone = hist[len(partial)]
    assert redone["fm"].get("cache_hits", 0) > 0
    # the counters continue across the two processes; the requests of the step that was
    # interrupted are not in them (they were made by a step that was never committed)
    lost = len(killed_requests) - partial[-1]["fm_total"]["total_calls"]
    assert 0 < lost < 5  # a step asks at most: mine, judge training and test items
    assert hist[-1]["fm_total"]["total_calls"] == len(ref_requests) - lost
    # the final model is there
    assert (tmp_path / "run" / "model" / "model.json").exists()


@pytest.mark.slow
def test_rerun_of_a_complete_run_changes_nothing(tmp_path, reference):
    import shutil

    shutil.copytree(reference / "ref", tmp_path / "ref")
    shutil.copy(reference / "ref.sqlite", tmp_path / "ref.sqlite")
    before = (tmp_path / "ref" / "history.jsonl").read_bytes()
    p = _fit(tmp_path, "ref")  # rerunning into an existing run continues it: here, nothing left to do
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "ref" / "history.jsonl").read_bytes() == before
    assert not (tmp_path / "ref.log").exists()  # not a single FM request
