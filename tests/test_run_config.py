"""Issue 10, item 7: resume compares configurations by meaning and prints only the differences."""

from __future__ import annotations

import os

import pytest

from genz.errors import GenZInputError
from genz.runs import RunDir


def _cfg(**over):
    cfg = {"estimator": {"cycles": 3, "model": "linear", "fm": "predicates", "random_state": 0},
           "data": {"sha256": "abc", "n_items": 10}, "items": "data/x.jsonl", "targets": "data/t.csv"}
    for k, v in over.items():
        if k in cfg["estimator"]:
            cfg["estimator"][k] = v
        else:
            cfg[k] = v
    return cfg


def test_allowed_changes_and_equivalent_paths_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    RunDir.create("run", _cfg()).close("interrupted")
    RunDir.resume("run", _cfg(cycles=5)).close("interrupted")  # --cycles may change
    RunDir.resume("run", _cfg(items="./data/x.jsonl", targets=os.path.abspath("data/t.csv"))).close()


def test_a_real_difference_names_only_what_differs(tmp_path):
    RunDir.create(tmp_path / "run", _cfg()).close("interrupted")
    with pytest.raises(GenZInputError) as ei:
        RunDir.resume(tmp_path / "run", _cfg(cycles=9, model="mlp", items="other.jsonl"))
    msg = str(ei.value)
    assert "estimator.model: 'linear' -> 'mlp'" in msg and "items: " in msg
    assert "cycles" not in msg and "targets" not in msg and "random_state" not in msg
