"""Issue 10, item 5: a run directory never gets stuck. A fit is killed with SIGKILL at file
events (tests/_killpoints.py) while the run directory is created, while ``--overwrite``
replaces an existing run, while the final model, summary and status are written, and on the
LLM path (against the scripted server); after every kill the same command, rerun, completes
with the uninterrupted run's features, and no temporary file or directory is left behind.

Bounded for CI on 2 cores: the kills run in forked children (no interpreter start), each fit
takes well under a second, and the kill points are every event of the creation and overwrite
phases until the new directory is in place, and every third event after that until the first
step is committed and during the final write (about 80 kills in all).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests._killpoints import run_forked
from tests._resume_entry import data
from tests.fake_openai_server import FakeOpenAIServer
from genz.runs import RunDir

pytestmark = pytest.mark.slow

DESCRIPTORS = ["has a pool", "has a garage", "has a view", "has a fireplace", "has a patio", "has a basement"]


def _fit(run: Path, cache: Path, url: str | None = None, **kw) -> None:
    from genz import GenZRegressor
    from genz.fm.cache import CachedFM
    from genz.fm.predicates import PredicateFM
    from genz.runfit import fit_run

    if url is None:
        inner = PredicateFM()
    else:
        from genz.fm.openai_compat import OpenAIFM

        inner = OpenAIFM("fake", base_url=url, batch_size=20, concurrency=2, progress=False, max_retries=1)
    tr, ty, te, tey = data()
    est = GenZRegressor(fm=CachedFM(inner, cache), cycles=1, add_per_cycle=2, remove_per_cycle=1, random_state=0,
                        selection={"holdout": 0.0} if url is not None else None)
    fit_run(est, tr, ty, eval_set=(te, tey), out=run, **kw)


def _events(tmp: Path, fn) -> list[str]:
    assert run_forked(fn, events_file=str(tmp / "events.json")) == 0
    return json.loads((tmp / "events.json").read_text())


def _leftovers(run: Path) -> list[str]:
    out = [p.name for p in run.parent.iterdir() if p.name.startswith(f".{run.name}.")]
    if run.is_dir():
        out += [str(p.relative_to(run)) for p in run.rglob("*") if p.name.startswith(".") and ".tmp-" in p.name
                or p.name.startswith(".model.")]
    return out


def _check_recovers(run: Path, cache: Path, expected: list[str], point: str, url: str | None = None) -> None:
    """After a kill: the directory is a run, a stub or absent (recognised), and the plain
    command completes with the expected features, leaving nothing temporary behind."""
    assert not run.exists() or RunDir.is_run(run) or RunDir.is_stub(run), (point, sorted(p.name for p in run.iterdir()))
    code = run_forked(lambda: _fit(run, cache, url))
    assert code == 0, point
    done = RunDir.open(run)
    assert done.status == "complete", point
    assert done.load_summary().features == expected, point
    assert not _leftovers(run), (point, _leftovers(run))


def _kill_points(events: list[str]) -> list[int]:
    """1-based event numbers: every event until the new run directory is renamed into place
    (creation, and the overwrite's moving the old run aside), every third event from there to
    the first committed step, and every third event from the final model on."""
    placed = max(i for i, e in enumerate(events) if e.startswith("rename") and ".new-" in e.split(" -> ")[0]) + 1
    first_commit = next(i for i, e in enumerate(events) if e.startswith("write") and i > 0
                        and "history.jsonl" in events[i - 1]) + 1
    final = next(i for i, e in enumerate(events) if ".model.tmp-" in e) + 1
    return (list(range(1, placed + 2)) + list(range(placed + 2, first_commit + 1, 3))
            + list(range(final, len(events) + 1, 3)))


def test_kill_at_every_file_event_of_creation_and_final_write(tmp_path):
    ref, cache = tmp_path / "ref" / "run", tmp_path / "ref.sqlite"
    events = _events(tmp_path, lambda: _fit(ref, cache))
    expected = RunDir.open(ref).load_summary().features
    points = _kill_points(events)
    assert len(points) >= 30
    for k in points:
        base = tmp_path / f"k{k}"
        run = base / "run"
        base.mkdir()
        shutil.copy(cache, base / "c.sqlite")
        assert run_forked(lambda: _fit(run, base / "c.sqlite"), kill_at=k) == -9
        _check_recovers(run, base / "c.sqlite", expected, f"create, event {k}: {events[k - 1]}")
        shutil.rmtree(base)


def test_kill_at_every_file_event_of_overwrite(tmp_path):
    ref, cache = tmp_path / "ref" / "run", tmp_path / "ref.sqlite"
    assert run_forked(lambda: _fit(ref, cache)) == 0
    expected = RunDir.open(ref).load_summary().features
    events = _events(tmp_path, lambda: _fit(ref, cache, overwrite=True))
    placed = max(i for i, e in enumerate(events) if e.startswith("rename") and ".new-" in e.split(" -> ")[0]) + 1
    points = list(range(1, placed + 2))  # every event until the new run is in place
    assert any(e.startswith("rename") and ".old-" in e for e in events[:placed])
    for k in points:
        base = tmp_path / f"k{k}"
        shutil.copytree(ref.parent, base)
        shutil.copy(cache, base / "c.sqlite")
        run = base / "run"
        assert run_forked(lambda: _fit(run, base / "c.sqlite", overwrite=True), kill_at=k) == -9
        _check_recovers(run, base / "c.sqlite", expected, f"overwrite, event {k}: {events[k - 1]}")
        shutil.rmtree(base)
    # and --overwrite itself clears whatever a kill left (here: the new run half made)
    base = tmp_path / "again"
    shutil.copytree(ref.parent, base)
    run = base / "run"
    assert run_forked(lambda: _fit(run, base / "c.sqlite", overwrite=True), kill_at=placed - 1) == -9
    assert run_forked(lambda: _fit(run, base / "c.sqlite", overwrite=True)) == 0
    assert RunDir.open(run).load_summary().features == expected and not _leftovers(run)


def test_resume_of_a_run_killed_while_being_created_says_there_is_nothing_to_resume(tmp_path):
    from genz.errors import GenZInputError

    run, cache = tmp_path / "run", tmp_path / "c.sqlite"
    events = _events(tmp_path / "..", lambda: _fit(tmp_path / "probe" / "run", tmp_path / "probe.sqlite"))
    k = next(i for i, e in enumerate(events, 1) if e.startswith("rename"))  # just before the rename into place
    assert run_forked(lambda: _fit(run, cache), kill_at=k) == -9
    assert not run.exists()
    with pytest.raises(GenZInputError, match="nothing to resume"):
        _fit(run, cache, resume=True)


@pytest.fixture
def llm_server():
    srv = FakeOpenAIServer()

    def mine(body):
        user = FakeOpenAIServer.user_text(body)
        free = [d for d in DESCRIPTORS if f"- {json.dumps(d)}" not in user]
        return {"characteristic": free[0] if free else "none", "confidence": 0.5}

    srv.mine_answer = mine
    yield srv
    srv.close()


def test_kill_on_the_llm_path_at_file_events_and_answers(tmp_path, llm_server):
    import signal

    url = llm_server.url
    ref, cache = tmp_path / "ref" / "run", tmp_path / "ref.sqlite"
    events = _events(tmp_path, lambda: _fit(ref, cache, url))
    expected = RunDir.open(ref).load_summary().features
    assert len(expected) >= 1
    n_ref = llm_server.n_requests
    points = _kill_points(events)[::4]
    for k in points:
        base = tmp_path / f"k{k}"
        base.mkdir()
        run = base / "run"
        assert run_forked(lambda: _fit(run, base / "c.sqlite", url), kill_at=k) == -9
        _check_recovers(run, base / "c.sqlite", expected, f"llm, event {k}: {events[k - 1]}", url)
        shutil.rmtree(base)
    # killed by the server in the middle of judging (request r), then rerun: completes, and
    # together the two processes asked no more than one uninterrupted run plus the requests in flight
    for r in (3, n_ref - 2):
        base = tmp_path / f"r{r}"
        base.mkdir()
        run = base / "run"
        start = llm_server.n_requests
        pid_box: list[int] = []

        def on_request(n, body, _start=start, _r=r):
            if n == _start + _r and pid_box:
                import os

                os.kill(pid_box[0], signal.SIGKILL)

        import os

        llm_server.on_request = on_request
        pid_box.append(os.getpid())  # replaced by the child's pid below
        child = _spawn_fit(run, base / "c.sqlite", url, pid_box)
        assert child == -9
        llm_server.on_request = None
        before = llm_server.n_requests
        _check_recovers(run, base / "c.sqlite", expected, f"llm, killed at request {r}", url)
        assert (before - start) + (llm_server.n_requests - before) <= n_ref + 2
        shutil.rmtree(base)


def _spawn_fit(run: Path, cache: Path, url: str, pid_box: list[int]) -> int:
    """Fork a fit whose pid the server's hook can kill; its exit status."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _fit(run, cache, url)
        except BaseException:  # noqa: BLE001
            os._exit(1)
        os._exit(0)
    pid_box[0] = pid
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
