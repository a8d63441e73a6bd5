"""Issue 10, item 2: failures are not answers. A server that answers mining with garbage ends
`genz fit` with a non-zero exit and one line quoting what it sent, leaves no failure in the
cache, and a rerun against the fixed server completes; a run that ends with fewer features than
asked because the FM gave no usable characteristic says so and is not "complete"."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)
from genz.cli import main
from genz.runs import RunDir

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _data(tmp_path, n=40):
    items = tmp_path / "items.jsonl"
    with items.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"n{i}", "text": f"{i} {WORDS[i % 10]} {WORDS[(i // 10) % 10]}"}) + "\n")
    targets = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    targets.write_text("id,y\n" + "".join(
        f"n{i},{(3.0 if i % 10 == 7 else 0.0) + (1.0 if i % 10 == 3 else 0.0) + rng.normal(0, 0.01):.6f}\n"
        for i in range(n)))
    return items, targets


def _fit(server, tmp_path, *extra):
    items, targets = _data(tmp_path)
    args = ["fit", "--items", str(items), "--targets", str(targets), "--fm", "openai", "--fm-model", "fake",
            "--base-url", server.url, "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "run"),
            "--fm-batch-size", "8", "-q", *extra]
    return CliRunner().invoke(main, args, env={"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None})


def _call_rows(path):
    con = sqlite3.connect(path)
    rows = [(k, json.loads(r)) for k, r in con.execute("SELECT kind, response FROM calls")]
    con.close()
    return rows


@pytest.mark.parametrize("garbage", [
    ("raw", 200, "text/html", b"<html><body>502 Bad Gateway from the proxy</body></html>"),
    ("content", "Sure! Here is what the groups have in common: sevens"),
])
def test_garbage_mining_server_stops_with_one_line_caches_nothing_and_a_rerun_succeeds(fake_server, tmp_path,
                                                                                     garbage):
    fake_server.broken = garbage
    r = _fit(fake_server, tmp_path, "--n-features", "1")
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "mine:" in lines[0] and ("Bad Gateway" in lines[0] or "sevens" in lines[0]), lines
    assert RunDir.open(tmp_path / "run").status == "failed"
    assert "mine:" in RunDir.open(tmp_path / "run").info()["error"]
    assert _call_rows(tmp_path / "c.sqlite") == []  # no failure cached
    sent = fake_server.n_requests
    assert sent <= 6  # it stopped after the retries of one mining request

    fake_server.broken = None  # the server is fixed: the same command continues the run
    r = _fit(fake_server, tmp_path, "--n-features", "1")
    assert r.exit_code == 0, r.output
    run = RunDir.open(tmp_path / "run")
    assert run.status == "complete"
    assert run.load_summary().features == ["contains seven"]
    assert [k for k, _ in _call_rows(tmp_path / "c.sqlite")] == ["mine_candidates"]


def test_a_run_short_of_features_because_the_fm_failed_is_not_complete(fake_server, tmp_path):
    # the model only ever offers one characteristic: the second mining step gets nothing usable
    r = _fit(fake_server, tmp_path, "--n-features", "2")
    assert r.exit_code == 1, r.output
    assert "fewer than asked" in r.output and "no usable characteristic" in r.output
    run = RunDir.open(tmp_path / "run")
    assert run.status == "failed"
    hist = run.history()
    failed = [h for h in hist if h["action"] == "discard"]
    assert failed and "contains seven" in failed[0]["reason"]  # the model's reply, in the history
    assert (tmp_path / "run" / "model" / "model.json").exists()  # what was found is kept
    assert all("no_characteristic" not in resp for _, resp in _call_rows(tmp_path / "c.sqlite"))


def test_judging_garbage_stops_after_a_few_requests(fake_server, tmp_path):
    from genz.errors import FMError
    from genz.fm.openai_compat import GARBAGE_LIMIT, OpenAIFM
    from genz.items import items_from_texts

    fm = OpenAIFM("fake", base_url=fake_server.url, batch_size=5, concurrency=2, progress=False)
    fake_server.broken = ("raw", 200, "text/html", b"<html>captive portal</html>")
    with pytest.raises(FMError, match="unusable answers in a row.*captive portal"):
        fm.judge("has a seven", items_from_texts([f"{i} x" for i in range(200)]))
    assert fake_server.n_requests <= GARBAGE_LIMIT + 2  # not 40 batches × retries × splits


def test_genz_cache_shows_and_drops_entries(fake_server, tmp_path):
    from genz.fm.cache import FMCache

    assert _fit(fake_server, tmp_path, "--n-features", "1").exit_code == 0
    path = tmp_path / "c.sqlite"
    c = FMCache(path)  # a failure row as older versions wrote them
    c.put_call("mine", "openai", "fake", "mine-1+x", "k" * 32, {"mining_error": "no JSON object in '<html>'"})
    c.close()
    r = CliRunner().invoke(main, ["cache", "show", "--cache", str(path), "--json"])
    assert r.exit_code == 0, r.output
    rows = {(x["kind"], x["model"]): x for x in json.loads(r.output)["rows"]}
    assert rows[("judge", "fake")]["entries"] == 40 and rows[("judge", "fake")]["descriptors"] == 1
    assert rows[("mine_candidates", "fake")]["entries"] == 1  # the mining call that found "contains seven"
    assert rows[("mine", "fake")]["entries"] == 1 and rows[("mine", "fake")]["failures"] == 1
    r = CliRunner().invoke(main, ["cache", "show", "--cache", str(path)])
    assert "judge" in r.output and "fake" in r.output
    r = CliRunner().invoke(main, ["cache", "drop", "--cache", str(path), "--failures"])
    assert r.exit_code == 0 and "0 judgments and 1 " in r.output, r.output
    r = CliRunner().invoke(main, ["cache", "drop", "--cache", str(path), "--descriptor", "contains seven"])
    assert "40 judgments and 1 " in r.output, r.output
    assert _call_rows(path) == []
    r = CliRunner().invoke(main, ["cache", "drop", "--cache", str(path)])
    assert r.exit_code == 1 and "say what to drop" in r.output
    r = CliRunner().invoke(main, ["cache", "drop", "--cache", str(path), "--model", "fake"])
    assert r.exit_code == 0


def test_an_old_cached_mining_failure_is_not_served(fake_server, tmp_path):
    from genz.fm.cache import CachedFM, FMCache
    from genz.fm.openai_compat import OpenAIFM
    from genz.items import items_from_texts

    path = tmp_path / "c.sqlite"
    fm = CachedFM(OpenAIFM("fake", base_url=fake_server.url, progress=False), path)
    pos, neg = items_from_texts(["7 seven"]), items_from_texts(["1 one"])
    key = fm._mine_key(pos, neg, (), None, None)
    b, m, t = fm.cache_identity("mine")
    FMCache(path).put_call("mine", b, m, t, key, {"mining_error": "no JSON object in '<html>'"})
    assert fm.mine(pos, neg) == "contains seven"
    assert fake_server.n_requests == 1
