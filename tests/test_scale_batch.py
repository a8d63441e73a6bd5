"""The batch executor against the scripted Batch API server: a full fit and predict, partly
failed and expired batches, cancel, a create interrupted before it was recorded, and kill -9
of `genz fit` while a batch is in flight (the server's log proves nothing is submitted twice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from genz.estimator import GenZRegressor
from genz.fm.cache import CachedFM
from genz.fm.executors import ExecutorFM
from genz.fm.executors.batch import BatchAPIExecutor, load_state
from genz.fm.openai_compat import OpenAIFM
from genz.fm.requests import plan_judge_requests
from genz.items import Item, save_items
from tests.fake_batch_server import FakeBatchServer, batch_server  # noqa: F401

WORDS = ["seven", "three", "five", "nine", "two"]


def _data(n: int, seed: int = 0) -> tuple[list[Item], np.ndarray]:
    r = np.random.default_rng(seed)
    has = r.random((n, len(WORDS))) < 0.4
    items = [Item(id=f"i{k}", text=f"item {k} " + " ".join(w for w, h in zip(WORDS, has[k]) if h)) for k in range(n)]
    y = 3.0 * has[:, 0] - 2.0 * has[:, 1] + 1.0 * has[:, 2] + 0.05 * r.normal(size=n)
    return items, y


def _fm(srv: FakeBatchServer, tmp: Path, **kw) -> ExecutorFM:
    ex = BatchAPIExecutor(tmp / "batches", base_url=srv.url, poll_interval=0.0, progress=None, **kw)
    return ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp / "c.sqlite", ex)


def _judged_twice_successfully(srv: FakeBatchServer, state_dir: Path) -> list[str]:
    """custom_ids submitted again although an earlier batch had answered them."""
    return [c for c in srv.submitted_twice() if _answered_before_last_submission(srv, c, state_dir)]


def _answered_before_last_submission(srv, cid, state_dir) -> bool:
    # a custom_id may reappear only after every earlier submission of it failed
    st = load_state(state_dir)
    outcomes = []
    for e in st["batches"]:
        ids = {json.loads(x)["custom_id"] for x in Path(e["manifest"]).read_text().splitlines()}
        if cid in ids:
            out = Path(e["path"]).with_name(Path(e["path"]).stem + ".output.jsonl")
            ok = out.exists() and any(json.loads(x)["custom_id"] == cid and not json.loads(x).get("error")
                                      and json.loads(x)["response"]["status_code"] == 200
                                      for x in out.read_text().splitlines())
            outcomes.append(ok)
    return any(outcomes[:-1])


def test_fit_and_predict_through_the_batch_api(batch_server, tmp_path):
    srv = batch_server
    items, y = _data(120)
    fm = _fm(srv, tmp_path)
    est = GenZRegressor(fm=fm, add_only=3, algorithm="simple", random_state=0).fit(items[:90], y[:90])
    assert len(est.features_) >= 2
    judge_chats = srv.chat_requests
    # every judgment went through batches: the synchronous chats were mining calls only
    assert srv.n_batches_created >= len(est.features_)
    assert judge_chats <= 3 * 2 + 2
    assert srv.submitted_twice() == []
    # predict: one batch for all features on the new items, then everything from the cache
    n_b = srv.n_batches_created
    fm.prefetch(est.features_, items[90:])
    assert srv.n_batches_created == n_b + 1
    chats = srv.chat_requests
    p = est.predict(items[90:])
    assert srv.chat_requests == chats and srv.n_batches_created == n_b + 1
    # the same predictions as the synchronous executor on the same server
    sync = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "sync.sqlite")
    est.fm_ = sync
    assert np.allclose(est.predict(items[90:]), p)
    assert np.mean(np.abs(p - y[90:])) < 1.0


def test_partly_failed_and_expired_batches_resubmit_only_the_missing(batch_server, tmp_path):
    srv = batch_server
    items, _ = _data(80)
    fm = _fm(srv, tmp_path)
    srv.fail_next(3)  # every 3rd request fails: error file and HTTP 500 lines
    fm.prefetch(["contains seven"], items)
    first = load_state(tmp_path / "batches")["batches"]
    assert first[0]["failed"] == 4 and first[0]["answered"] == 6  # 10 requests, ids 0, 3, 6, 9 failed
    assert len(first) == 2 and first[1]["n_requests"] == 4  # the retry batch holds only the 4 failed
    assert fm.last_fill["missing"] == 0
    srv.expire_next(0.5)
    fm.prefetch(["contains three"], items)
    st = load_state(tmp_path / "batches")["batches"]
    assert st[2]["status"] == "expired" and st[2]["answered"] == 5 and st[3]["n_requests"] == 5
    assert _judged_twice_successfully(srv, tmp_path / "batches") == []
    assert len(srv.submitted_twice()) == 4 + 5  # exactly the failed and expired requests, once more each
    assert not list(plan_judge_requests(fm, ["contains seven", "contains three"], items))


def test_cancel_and_status(batch_server, tmp_path):
    srv = batch_server
    items, _ = _data(40)
    fm = _fm(srv, tmp_path, max_wait=0.3)
    srv.hold = True
    with pytest.raises(Exception, match="still running"):
        fm.prefetch(["contains seven"], items)
    ex = BatchAPIExecutor(tmp_path / "batches", base_url=srv.url, progress=None)
    assert [r["status"] for r in ex.status()] == ["in_progress"]
    assert ex.cancel() == ["batch-000002"]
    assert srv.count("POST", "/v1/batches/batch-000002/cancel") == 1
    fm2 = _fm(srv, tmp_path)  # the next run collects the cancelled batch's finished half, resubmits the rest
    srv.hold = False
    fm2.prefetch(["contains seven"], items)
    st = load_state(tmp_path / "batches")["batches"]
    assert st[0]["status"] == "cancelled" and st[1]["n_requests"] == st[0]["n_requests"] - st[0]["answered"]


def test_create_interrupted_before_it_was_recorded_is_found_not_repeated(batch_server, tmp_path):
    srv = batch_server
    items, _ = _data(30)
    ex = BatchAPIExecutor(tmp_path / "batches", base_url=srv.url, poll_interval=0.0, progress=None)
    real_create = ex.client.batches.create

    def create_then_die(**kw):
        real_create(**kw)
        raise KeyboardInterrupt  # killed after the server created the batch, before we recorded its id

    ex.client.batches.create = create_then_die
    fm = ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "c.sqlite", ex)
    with pytest.raises(KeyboardInterrupt):
        fm.prefetch(["contains seven"], items)
    assert srv.n_batches_created == 1
    fm2 = _fm(srv, tmp_path)
    fm2.prefetch(["contains seven"], items)
    assert srv.n_batches_created == 1 and srv.submitted_twice() == []
    assert fm2.last_fill["missing"] == 0


@pytest.mark.slow
def test_kill_9_while_a_batch_is_in_flight_then_resume(batch_server, tmp_path):
    srv = batch_server
    items, y = _data(100)
    save_items(items, tmp_path / "items.jsonl")
    (tmp_path / "y.csv").write_text("id,y\n" + "".join(f"{it.id},{v}\n" for it, v in zip(items, y)))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src") + os.pathsep
           + str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("OPENAI_API_KEY", None)

    def fit(out: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "genz.cli", "fit", "--items", str(tmp_path / "items.jsonl"), "--targets",
             str(tmp_path / "y.csv"), "--fm", "openai", "--base-url", srv.url, "--fm-model", "fake",
             "--fm-batch-size", "8", "--cache", str(tmp_path / "c.sqlite"), "--executor", "batch",
             "--poll-interval", "0.05", "--n-features", "2", "--algorithm", "simple", "--out",
             str(tmp_path / out), "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    srv.hold = True
    p = fit("run1")
    deadline = time.monotonic() + 60
    while srv.n_batches_created < 1 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert srv.n_batches_created == 1, p.communicate()[0][-2000:]
    time.sleep(0.3)  # it is polling now
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    polls_before = srv.count("GET", "/v1/batches/batch-")
    submitted_before = list(srv.submitted)
    srv.release()
    p2 = fit("run2")
    out, _ = p2.communicate(timeout=120)
    assert p2.returncode == 0, out[-2000:]
    assert srv.count("GET", "/v1/batches/batch-000002") > 0 and srv.count("GET", "/v1/batches/") > polls_before
    assert srv.submitted_twice() == []  # the request log: nothing submitted twice
    assert srv.submitted[: len(submitted_before)] == submitted_before
    st = load_state(tmp_path / "c.sqlite.batches")
    assert srv.n_batches_created == len(st["batches"])  # one create per recorded shard, none repeated
    # the rerun judged the same first feature again (the same mining answer) and found its
    # requests in the open batch instead of submitting them
    first_ids = set(submitted_before)
    first_desc = {json.loads(x)["descriptor"] for x in Path(st["batches"][0]["manifest"]).read_text().splitlines()}
    assert first_desc == {"contains seven"}
    assert all(c not in first_ids for c in srv.submitted[len(submitted_before):])
    assert st["batches"][0]["batch_id"] == "batch-000002" and st["batches"][0]["collected"]
    assert all(e["collected"] for e in st["batches"])
    assert (tmp_path / "run2" / "model").is_dir()


def test_progress_view_and_status_command(batch_server, tmp_path):
    from click.testing import CliRunner

    from genz.cli import main

    srv = batch_server
    items, _ = _data(40)
    events: list[dict] = []
    ex = BatchAPIExecutor(tmp_path / "batches", base_url=srv.url, poll_interval=0.0, progress=events.append)
    fm = ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "c.sqlite", ex)
    fm.prefetch(["contains seven"], items)
    assert [e["status"] for e in events] == ["validating", "in_progress", "completed"]
    assert events[-1]["counts"] == {"total": 5, "completed": 5, "failed": 0} and events[-1]["batch_id"]
    res = CliRunner().invoke(main, ["requests", "status", "--batch-dir", str(tmp_path / "batches"),
                                    "--base-url", srv.url, "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows[0]["status"] == "completed" and rows[0]["collected"] and rows[0]["counts"]["completed"] == 5


def test_cli_predict_through_the_batch_api(batch_server, tmp_path):
    """`genz predict MODEL --executor batch`: the kept features are judged on the new items in
    one batch (no synchronous judging chats), and the predictions equal the synchronous path's;
    a second predict finds everything in the cache and submits nothing."""
    import csv

    from click.testing import CliRunner

    from genz.cli import main
    from genz.fm.cache import FMCache

    srv = batch_server
    items, y = _data(120)
    train_fm = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "train.sqlite")
    est = GenZRegressor(fm=train_fm, add_only=3, algorithm="simple", random_state=0).fit(items[:90], y[:90])
    assert len(est.features_) >= 2
    est.save(tmp_path / "model")
    save_items(items[90:], tmp_path / "new.jsonl")
    expected = {r.custom_id for r in plan_judge_requests(
        CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "empty.sqlite"),
        est.features_, items[90:], FMCache(tmp_path / "empty.sqlite"))}
    n_b, chats, n_sub = srv.n_batches_created, srv.chat_requests, len(srv.submitted)
    args = ["predict", str(tmp_path / "model"), "--items", str(tmp_path / "new.jsonl"), "--executor", "batch",
            "--poll-interval", "0", "--cache", str(tmp_path / "predict.sqlite"), "-o", str(tmp_path / "p.csv")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert srv.n_batches_created == n_b + 1 and srv.chat_requests == chats  # one batch, no sync judging
    assert set(srv.submitted[n_sub:]) == expected and len(srv.submitted) - n_sub == len(expected)
    with open(tmp_path / "p.csv") as fh:
        rows = list(csv.DictReader(fh))
    got = np.array([float(row["y0"]) for row in rows])
    assert [row["id"] for row in rows] == [it.id for it in items[90:]]
    est.fm_ = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "sync.sqlite")
    assert np.allclose(got, est.predict(items[90:]))  # the synchronous path's predictions
    chats = srv.chat_requests  # (the synchronous comparison just made its own chats)
    r2 = CliRunner().invoke(main, args)
    assert r2.exit_code == 0, r2.output
    assert srv.n_batches_created == n_b + 1 and srv.chat_requests == chats
    assert (tmp_path / "p.csv").read_text().splitlines()[1:] == [",".join([x["id"], x["y0"]]) for x in rows]
    r3 = CliRunner().invoke(main, args[:-4] + ["--no-cache"])
    assert r3.exit_code != 0 and "--cache" in r3.output and "Traceback" not in r3.output
