"""Run directories: atomic checkpoints, strict history, crash repair, locking, no overwrite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from genz.errors import CorruptFileError, GenZInputError
from genz.runs import RunDir, RunSummary, read_history, redact_secrets
from tests._signals import sigint_raises

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _payload(step: int, rng: np.random.Generator) -> tuple[dict, dict]:
    K = 2 + step
    meta = {"features": [f"feature {k}" for k in range(K)], "bound": -float(step), "best": float("-inf"), "step": step}
    arrays = {"Q": rng.random((20, K)), "B": rng.random((20, K)) > 0.5, "W": rng.normal(size=(1, K + 1))}
    return meta, arrays


def _record(step: int) -> dict:
    return {"step": step, "cycle": step // 3, "action": "add", "feature": f"feature {step}",
            "features": [f"feature {k}" for k in range(step + 1)], "n_features": step + 1,
            "train": {"mae": 1.0 / (step + 1)}, "test": {"mae": float("nan")}, "bound": -10.0 + step,
            "fm": {"calls": {"judge": 1}}, "seconds": 0.1}


def _run_with_steps(path: Path, n: int, keep: int = 3) -> RunDir:
    rng = np.random.default_rng(0)
    run = RunDir.create(path, {"seed": 1, "cycles": 2}, keep_checkpoints=keep)
    for s in range(n):
        meta, arrays = _payload(s, rng)
        run.commit_step(_record(s), meta, arrays)
    return run


def test_create_commit_and_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    run = RunDir.create(tmp_path / "run", {"seed": 3, "openai_api_key": "sk-abcdefghijklmnop", "model": "linear"})
    saved = {}
    for s in range(5):
        meta, arrays = _payload(s, rng)
        saved[s] = (meta, arrays)
        run.commit_step(_record(s), meta, arrays)
    run.close("complete")

    r = RunDir.open(tmp_path / "run")
    assert r.status == "complete"
    cfg = r.config()
    assert cfg["openai_api_key"] == "<redacted>" and cfg["seed"] == 3
    assert "sk-abc" not in (tmp_path / "run" / "config.json").read_text()
    hist = r.history()
    assert [h["step"] for h in hist] == [0, 1, 2, 3, 4]
    assert hist[0]["test"]["mae"] is None  # NaN -> null: standard JSON
    ck = r.load_latest_checkpoint()
    assert ck.step == 4
    meta, arrays = saved[4]
    assert ck.meta["features"] == meta["features"] and ck.meta["best"] == float("-inf")
    for k in arrays:
        np.testing.assert_array_equal(ck.arrays[k], arrays[k])
        assert ck.arrays[k].dtype == arrays[k].dtype
    step, m, a = ck  # unpacks like a tuple
    assert step == 4
    # only the last 3 checkpoints are kept, and no temp files remain
    assert r.checkpoint_steps() == [2, 3, 4]
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == [f"ckpt-00000{s}.{e}" for s in (2, 3, 4) for e in ("json", "npz")]


def test_refuses_to_overwrite_and_non_run_dirs(tmp_path):
    run = _run_with_steps(tmp_path / "run", 2)
    run.close()
    with pytest.raises(GenZInputError, match="already holds a genz run.*--resume"):
        RunDir.create(tmp_path / "run", {"seed": 1})
    assert len(read_history(tmp_path / "run")) == 2  # untouched
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "precious.txt").write_text("x")
    with pytest.raises(GenZInputError, match="not empty and is not a genz run"):
        RunDir.create(other, {}, overwrite=True)
    assert (other / "precious.txt").exists()
    # explicit overwrite of a run starts afresh
    run2 = RunDir.create(tmp_path / "run", {"seed": 2}, overwrite=True)
    assert run2.history() == [] and run2.checkpoint_steps() == [] and run2.config() == {"seed": 2}
    run2.close()


def test_for_fit_resumes_matching_config_and_refuses_different(tmp_path):
    run = _run_with_steps(tmp_path / "run", 3)
    run.close("interrupted")
    r, ck = RunDir.for_fit(tmp_path / "run", {"seed": 1, "cycles": 5})  # cycles may change
    assert ck.step == 2 and r.previous_status == "interrupted" and r.status == "running"
    r.close()
    with pytest.raises(GenZInputError, match="configuration differs.*seed.*--overwrite"):
        RunDir.for_fit(tmp_path / "run", {"seed": 2, "cycles": 2})
    with pytest.raises(GenZInputError, match="configuration differs"):
        RunDir.for_fit(tmp_path / "run", {"seed": 2, "cycles": 2}, resume=True)
    with pytest.raises(GenZInputError, match="nothing to resume"):
        RunDir.for_fit(tmp_path / "fresh", {}, resume=True)
    fresh, ck = RunDir.for_fit(tmp_path / "fresh", {})
    assert ck is None
    fresh.close()


def test_lock_excludes_a_second_writer(tmp_path):
    run = _run_with_steps(tmp_path / "run", 1)
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {SRC!r})
        from genz.runs import RunDir
        from genz.errors import GenZInputError
        try:
            RunDir.resume({str(tmp_path / 'run')!r})
        except GenZInputError as e:
            print("LOCKED", e)
        else:
            print("GOT IT")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("LOCKED") and f"pid {os.getpid()}" in out
    run.close()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("GOT IT")


def test_lock_is_released_when_the_writer_is_killed(tmp_path):
    code = textwrap.dedent(f"""
        import sys, os, signal; sys.path.insert(0, {SRC!r})
        from genz.runs import RunDir
        r = RunDir.create({str(tmp_path / 'run')!r}, {{}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    p = subprocess.run([sys.executable, "-c", code])
    assert p.returncode == -9
    RunDir.resume(tmp_path / "run").close()


def test_truncated_final_history_line_is_an_error_naming_file_and_line(tmp_path):
    run = _run_with_steps(tmp_path / "run", 3)
    run.close()
    h = tmp_path / "run" / "history.jsonl"
    raw = h.read_bytes()
    h.write_bytes(raw[:-15])  # torn last line
    with pytest.raises(CorruptFileError, match=r"history\.jsonl line 3: truncated final line"):
        RunDir.open(tmp_path / "run").history()
    # resume repairs exactly that: drops the torn line and re-appends the record from the checkpoint
    r = RunDir.resume(tmp_path / "run")
    assert any("torn final line" in x for x in r.repairs)
    assert any("re-appended step 2" in x for x in r.repairs)
    assert h.read_bytes() == raw
    r.close()


def test_garbage_in_history_is_never_repaired(tmp_path):
    run = _run_with_steps(tmp_path / "run", 3)
    run.close()
    h = tmp_path / "run" / "history.jsonl"
    lines = h.read_bytes().split(b"\n")
    lines[1] = b'{"step": 1, "cycle": 0, "act'  # a complete but broken line in the middle
    h.write_bytes(b"\n".join(lines))
    before = h.read_bytes()
    with pytest.raises(CorruptFileError, match=r"history\.jsonl line 2: not a JSON history record"):
        read_history(h)
    with pytest.raises(CorruptFileError, match=r"history\.jsonl line 2"):
        RunDir.resume(tmp_path / "run")
    assert h.read_bytes() == before  # never overwritten
    h.write_bytes(b'{"step": 0}\n[1, 2]\n')
    with pytest.raises(CorruptFileError, match="line 2: not a history record"):
        read_history(h)
    h.write_bytes(b'{"step": 3}\n{"step": 1}\n')
    with pytest.raises(CorruptFileError, match="line 2: step 1 follows step 3"):
        read_history(h)


def test_crash_between_checkpoint_and_history_append(tmp_path):
    """Checkpoint committed, history line not yet written: resume restores the line."""
    run = _run_with_steps(tmp_path / "run", 3)
    rng = np.random.default_rng(5)
    meta, arrays = _payload(3, rng)
    run.save_checkpoint(3, meta, arrays, record=_record(3))  # ... killed here
    run.close()
    assert len(read_history(tmp_path / "run")) == 3
    r = RunDir.resume(tmp_path / "run")
    assert [h["step"] for h in r.history()] == [0, 1, 2, 3]
    assert r.load_latest_checkpoint().step == 3
    r.commit_step(_record(4), *_payload(4, rng))
    assert [h["step"] for h in r.history()] == [0, 1, 2, 3, 4]
    r.close()


def test_history_ahead_of_checkpoint_is_cut_back(tmp_path):
    run = _run_with_steps(tmp_path / "run", 2)
    run.append_history(_record(2))  # a step recorded without its checkpoint
    run.close()
    r = RunDir.resume(tmp_path / "run")
    assert [h["step"] for h in r.history()] == [0, 1]
    assert any("redone" in x for x in r.repairs)
    r.close()


def test_history_shorter_than_checkpoint_is_corrupt(tmp_path):
    run = _run_with_steps(tmp_path / "run", 4)
    run.close()
    h = tmp_path / "run" / "history.jsonl"
    lines = h.read_bytes().split(b"\n")
    h.write_bytes(b"\n".join(lines[:2]) + b"\n")
    with pytest.raises(CorruptFileError, match=r"history\.jsonl: holds 2 records but checkpoint 3 expects 4"):
        RunDir.resume(tmp_path / "run")


@pytest.mark.parametrize("damage", ["json_truncated", "npz_truncated", "npz_flipped", "npz_missing", "json_garbage"])
def test_corrupt_checkpoint_names_the_file(tmp_path, damage):
    run = _run_with_steps(tmp_path / "run", 3)
    run.close()
    ck = tmp_path / "run" / "checkpoints"
    j, n = ck / "ckpt-000002.json", ck / "ckpt-000002.npz"
    if damage == "json_truncated":
        j.write_bytes(j.read_bytes()[:50])
        pat = r"ckpt-000002\.json: checkpoint is not valid JSON, truncated"
    elif damage == "json_garbage":
        j.write_bytes(b"\x00\x01garbage")
        pat = r"ckpt-000002\.json: checkpoint is not"
    elif damage == "npz_truncated":
        n.write_bytes(n.read_bytes()[:100])
        pat = r"ckpt-000002\.npz: checkpoint 2 arrays do not match their checksum"
    elif damage == "npz_flipped":
        b = bytearray(n.read_bytes())
        b[len(b) // 2] ^= 0xFF
        n.write_bytes(bytes(b))
        pat = r"ckpt-000002\.npz: checkpoint 2 arrays do not match"
    else:
        n.unlink()
        pat = r"ckpt-000002\.npz: missing"
    with pytest.raises(CorruptFileError, match=pat) as ei:
        RunDir.open(tmp_path / "run").load_latest_checkpoint()
    assert "delete ckpt-000002.json to resume from it" in str(ei.value)
    with pytest.raises(CorruptFileError, match=pat):
        RunDir.resume(tmp_path / "run")
    # the older checkpoint is intact and the history untouched
    assert RunDir.open(tmp_path / "run").load_checkpoint(1).step == 1
    assert len(read_history(tmp_path / "run")) == 3


def test_corrupt_run_json_and_config(tmp_path):
    run = _run_with_steps(tmp_path / "run", 1)
    run.close()
    (tmp_path / "run" / "config.json").write_text('{"seed": ')
    with pytest.raises(CorruptFileError, match=r"config\.json: configuration is not valid JSON, truncated"):
        RunDir.open(tmp_path / "run")
    (tmp_path / "run" / "run.json").write_text('{"format": "something-else"}')
    with pytest.raises(CorruptFileError, match=r"run\.json: not a genz run description"):
        RunDir.open(tmp_path / "run")
    with pytest.raises(GenZInputError, match="not a genz run directory"):
        RunDir.open(tmp_path)


def test_orphan_arrays_and_temp_files_are_ignored_and_cleaned(tmp_path):
    run = _run_with_steps(tmp_path / "run", 2)
    ck = tmp_path / "run" / "checkpoints"
    (ck / "ckpt-000002.npz").write_bytes(b"half written")  # arrays written, .json never came
    (ck / ".ckpt-000002.json.tmp-1-abcd").write_bytes(b"{")
    assert run.load_latest_checkpoint().step == 1
    run.commit_step(_record(2), *_payload(2, np.random.default_rng(1)))
    assert not (ck / ".ckpt-000002.json.tmp-1-abcd").exists()
    assert run.load_latest_checkpoint().step == 2
    run.close()


def test_object_arrays_are_refused(tmp_path):
    run = RunDir.create(tmp_path / "run", {})
    with pytest.raises(TypeError, match="dtype object"):
        run.save_checkpoint(0, {}, {"x": np.array([{"a": 1}], dtype=object)})
    run.close()


def test_save_model_summary_results(tmp_path):
    run = _run_with_steps(tmp_path / "run", 1)

    def writer(d: Path) -> None:
        (d / "model.json").write_text("{}")

    run.save_model(writer)
    run.save_model(writer)  # replacing an older model
    assert (tmp_path / "run" / "model" / "model.json").exists()
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".model")]
    rng = np.random.default_rng(0)
    s = RunSummary(features=["a", "b"], epsilon=[0.1, 0.2], weights=rng.normal(size=(2, 3)), Q=rng.random((4, 2)),
                   B=rng.random((4, 2)) > 0.5, item_ids=list("wxyz"), item_texts=["<b>1</b>", "2", "3", "4"],
                   Y=rng.normal(size=(4, 3)), target_names=["d0", "d1", "d2"])
    run.save_summary(s)
    back = RunDir.open(tmp_path / "run").load_summary()
    np.testing.assert_array_equal(back.Q, s.Q)
    assert back.item_texts[0] == "<b>1</b>" and back.B.dtype == bool
    with pytest.raises(CorruptFileError, match="Q has shape"):
        RunSummary(features=["a"], epsilon=[0.1], weights=[[1.0]], Q=np.zeros((3, 2)), B=np.zeros((3, 1)),
                   item_ids=list("abc"), item_texts=list("abc")).validate()
    run.save_results({"format": "genz-results", "metric": "median_ae",
                      "rows": [{"method": "genz", "mean": 0.2}, {"method": "ridge", "mean": 0.15}]})
    res = RunDir.open(tmp_path / "run").load_results()
    assert res["higher_is_better"] is False
    (tmp_path / "run" / "results.json").write_text('{"format": "genz-results", "metric": "x", "rows": [{"method": "a"}]}')
    with pytest.raises(CorruptFileError, match=r"results\.json: row 0 \(a\) has no numeric 'mean'"):
        RunDir.open(tmp_path / "run").load_results()
    run.close()


def test_redact_secrets():
    cfg = {"fm": {"name": "openai", "api_key": "abc", "base_url": "http://x"}, "key": "sk-0123456789abcdef",
           "tokens": 5, "headers": ["Bearer xyz"]}
    out = redact_secrets(cfg)
    assert out["fm"]["api_key"] == "<redacted>" and out["fm"]["base_url"] == "http://x"
    assert out["key"] == "<redacted>" and out["tokens"] == 5 and out["headers"] == ["<redacted>"]
    assert json.dumps(out).count("<redacted>") == 3


def test_ctrl_c_during_commit_is_held_until_the_step_is_written(tmp_path):
    import signal

    run = RunDir.create(tmp_path / "run", {})
    real = run.append_history

    def slow_append(record):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the checkpoint and the history line
        real(record)

    run.append_history = slow_append
    with sigint_raises(), pytest.raises(KeyboardInterrupt):
        run.commit_step(_record(0), *_payload(0, np.random.default_rng(0)))
    assert len(run.history()) == 1 and run.load_latest_checkpoint().step == 0
    run.close("interrupted")
    assert RunDir.open(tmp_path / "run").status == "interrupted"
