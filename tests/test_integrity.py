"""Issue 10, items 5 and 7: damaged or foreign files are refused with nothing changed; missing
checkpoints are an error that says so; SIGTERM stops a fit like Ctrl-C."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from tests._killpoints import run_forked
from tests.test_runs import _record, _run_with_steps
from genz.errors import CorruptFileError, GenZInputError
from genz.fm.cache import FMCache
from genz.runs import RunDir


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (name TEXT)")
    con.execute("INSERT INTO users VALUES ('ada')")
    con.commit()
    con.close()
    before = path.read_bytes()
    assert before[18:20] == b"\x01\x01"  # rollback journal, not WAL
    with pytest.raises(CorruptFileError, match="not a genz FM cache"):
        FMCache(path)
    assert path.read_bytes() == before  # not even switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize("torn", [False, True])
def test_a_history_that_lost_lines_is_refused_and_left_as_it_was(tmp_path, torn):
    run = _run_with_steps(tmp_path / "run", 5)
    run.close()
    h = tmp_path / "run" / "history.jsonl"
    lines = h.read_bytes().split(b"\n")
    damaged = b"\n".join(lines[:1] + lines[2:4]) + b"\n" + (b'{"step": 9, "tor' if torn else b"")
    h.write_bytes(damaged)
    with pytest.raises(CorruptFileError, match="lost lines.*nothing was changed"):
        RunDir.resume(tmp_path / "run")
    assert h.read_bytes() == damaged


def test_a_lost_line_in_the_middle_is_not_repaired(tmp_path):
    run = _run_with_steps(tmp_path / "run", 4)
    run.append_history(_record(4))  # a step without checkpoint, after a lost line below
    run.close()
    h = tmp_path / "run" / "history.jsonl"
    lines = h.read_bytes().split(b"\n")
    damaged = b"\n".join(lines[:2] + lines[3:])  # step 2 lost; 4 lines as the checkpoint expects
    h.write_bytes(damaged)
    with pytest.raises(CorruptFileError, match="nothing was changed"):
        RunDir.resume(tmp_path / "run")
    assert h.read_bytes() == damaged


@pytest.mark.parametrize("status", ["complete", "interrupted"])
def test_missing_checkpoints_are_an_error_that_says_so(tmp_path, status):
    import shutil

    run = _run_with_steps(tmp_path / "run", 3)
    run.close(status)
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    hist = (tmp_path / "run" / "history.jsonl").read_bytes()
    for resume in (True, False):
        with pytest.raises(CorruptFileError, match=r"checkpoints: missing, but the history has 3 steps.*--overwrite"):
            RunDir.for_fit(tmp_path / "run", {"seed": 1, "cycles": 2}, resume=resume)
    assert (tmp_path / "run" / "history.jsonl").read_bytes() == hist
    assert RunDir.open(tmp_path / "run").status == status
    RunDir.for_fit(tmp_path / "run", {"seed": 1, "cycles": 2}, overwrite=True)[0].close("complete")


def test_a_stub_directory_is_recognised(tmp_path):
    stub = tmp_path / "run"
    (stub / "checkpoints").mkdir(parents=True)
    (stub / "config.json").write_text("{}")
    (stub / "history.jsonl").write_bytes(b"")
    (stub / "lock").write_text("pid 1\n")
    assert RunDir.is_stub(stub)
    with pytest.raises(GenZInputError, match="nothing to resume.*without --resume"):
        RunDir.for_fit(stub, {"a": 1}, resume=True)
    run, ckpt = RunDir.for_fit(stub, {"a": 1})
    assert ckpt is None and RunDir.is_run(stub)
    run.close()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert not RunDir.is_stub(tmp_path / "other")


def test_sigterm_stops_a_fit_like_ctrl_c_and_the_rerun_completes(tmp_path):
    import os

    from tests._resume_entry import data
    from genz import GenZRegressor
    from genz.fm.cache import CachedFM
    from genz.fm.predicates import PredicateFM
    from genz.runfit import fit_run

    class TermAt(PredicateFM):
        n = 0

        def judge(self, descriptor, items):
            TermAt.n += 1
            if TermAt.n == 4 and os.environ.get("TERM_AT"):
                os.kill(os.getpid(), signal.SIGTERM)
            return super().judge(descriptor, items)

    def fit(out):
        tr, ty, te, tey = data()
        est = GenZRegressor(fm=CachedFM(TermAt(), tmp_path / f"{out}.sqlite"), cycles=1, add_per_cycle=2,
                            remove_per_cycle=1, random_state=0)
        fit_run(est, tr, ty, eval_set=(te, tey), out=tmp_path / out)

    assert run_forked(lambda: fit("ref")) == 0
    os.environ["TERM_AT"] = "1"
    try:
        assert run_forked(lambda: fit("run")) == 1  # Terminated, raised like KeyboardInterrupt
    finally:
        del os.environ["TERM_AT"]
    run = RunDir.open(tmp_path / "run")
    assert run.status == "interrupted" and 1 <= len(run.history()) < len(RunDir.open(tmp_path / "ref").history())
    assert run_forked(lambda: fit("run")) == 0
    assert RunDir.open(tmp_path / "run").load_summary().features == RunDir.open(tmp_path / "ref").load_summary().features
