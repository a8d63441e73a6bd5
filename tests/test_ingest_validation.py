"""Issue 22, item 4: ingest validates what comes back. A custom_id answered twice with different
answers is an error naming it and neither answer is cached; answers from a model other than the
one requested are refused; every count printed is true."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from genz.cli import main
from genz.fm.cache import CachedFM, FMCache
from genz.fm.executors import ExecutorFM
from genz.fm.executors.batch import BatchAPIExecutor
from genz.fm.openai_compat import OpenAIFM
from genz.fm.requests import export_requests, plan_judge_requests
from genz.items import Item
from tests.fake_batch_server import FakeBatchServer, batch_server  # noqa: F401

WORDS = ["seven", "three", "five", "nine", "two"]


def _items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", text=f"item {k} {WORDS[k % 5]}") for k in range(n)]


def _truth(items):
    return np.array(["seven" in it.text for it in items])


def _batch_fm(srv, tmp: Path, notices: list) -> ExecutorFM:
    kw = {"notice": notices.append} if "notice" in inspect.signature(BatchAPIExecutor.__init__).parameters else {}
    ex = BatchAPIExecutor(tmp / "batches", base_url=srv.url, poll_interval=0.0, progress=None, **kw)
    return ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=4, progress=False), tmp / "c.sqlite", ex)


def _export_and_answer(srv: FakeBatchServer, tmp: Path, items, *, duplicate: bool = False,
                       model: str | None = None) -> tuple[Path, Path, list[str]]:
    """Export requests for ``items``, answer them as a provider would (one output file), with the
    wrong answer first for every request (``duplicate``) or as another ``model``."""
    fm = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=4, progress=False), tmp / "export.sqlite")
    export_requests(fm, ["contains seven"], items, tmp / "x")
    out = []
    ids = []
    for r in plan_judge_requests(fm, ["contains seven"], items):
        content, _ = srv.correct_content(r.body)
        body = srv.completion(r.body, content)
        if model:
            body["model"] = model
        ok = {"id": "b", "custom_id": r.custom_id, "error": None, "response": {"status_code": 200, "body": body}}
        if duplicate:
            flipped = content.replace('"yes"', '"t"').replace('"no"', '"yes"').replace('"t"', '"no"')
            bad = json.loads(json.dumps(ok))
            bad["response"]["body"]["choices"][0]["message"]["content"] = flipped
            out.append(json.dumps(bad))
        out.append(json.dumps(ok))
        ids.append(r.custom_id)
    (tmp / "out.jsonl").write_text("\n".join(out) + "\n")
    return tmp / "out.jsonl", tmp / "x", ids


def test_conflicting_duplicates_are_an_error_naming_them_and_nothing_of_them_is_cached(batch_server, tmp_path):
    """genz < 0.9 kept the first line of each custom_id: with the wrong answer first, every cached
    judgment was wrong and the summary said "0 failed"."""
    items = _items(40)
    out, man, ids = _export_and_answer(batch_server, tmp_path, items, duplicate=True)
    r = CliRunner().invoke(main, ["requests", "ingest", str(out), "--manifests", str(man), "--cache",
                                  str(tmp_path / "c.sqlite")])
    assert r.exit_code == 1, r.output
    assert "answered twice with different answers" in r.output and ids[0] in r.output and "Traceback" not in r.output
    assert "0 requests answered and kept" in r.output and "10 answered twice differently" in r.output
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 0
    # the same answer twice is no conflict
    out2, _, _ = _export_and_answer(batch_server, tmp_path / "same", items)
    text = out2.read_text()
    out2.write_text(text + text)
    r2 = CliRunner().invoke(main, ["requests", "ingest", str(out2), "--manifests", str(tmp_path / "same" / "x"),
                                   "--cache", str(tmp_path / "c2.sqlite"), "--json"])
    assert r2.exit_code == 0, r2.output
    d = json.loads(r2.output)
    assert d["answered"] == 10 and d["duplicates"] == 10 and d["conflicts"] == 0 and d["judgments"] == 40


def test_conflicting_duplicates_in_a_batch_are_judged_again_not_cached(batch_server, tmp_path):
    srv = batch_server
    notices: list[str] = []
    srv.duplicate_next(every=1)
    items = _items(40)
    fm = _batch_fm(srv, tmp_path, notices)
    j = fm.judge("contains seven", items)
    assert np.array_equal(j.values, _truth(items))  # 40/40 right (genz < 0.9: 40/40 wrong)
    assert srv.n_batches_created == 2  # the conflicting requests went once more, alone
    assert any("answered twice with different answers" in n for n in notices)


def test_answers_of_another_model_are_refused(batch_server, tmp_path):
    srv = batch_server
    items = _items(40)
    out, man, ids = _export_and_answer(srv, tmp_path, items, model="gpt-4o")
    r = CliRunner().invoke(main, ["requests", "ingest", str(out), "--manifests", str(man), "--cache",
                                  str(tmp_path / "c.sqlite")])
    assert r.exit_code == 0, r.output
    assert "0 requests answered and kept" in r.output and "10 from another model (refused)" in r.output
    assert "answered by 'gpt-4o'" in r.output
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 0
    # told that the server answers as another name for the requested model, the user accepts it
    r2 = CliRunner().invoke(main, ["requests", "ingest", str(out), "--manifests", str(man), "--cache",
                                   str(tmp_path / "c.sqlite"), "--accept-model", "gpt-4o"])
    assert r2.exit_code == 0 and "10 requests answered and kept" in r2.output
    # a dated snapshot of the requested model is the requested model
    out3, man3, _ = _export_and_answer(srv, tmp_path / "dated", items, model="fake-2024-07-18")
    r3 = CliRunner().invoke(main, ["requests", "ingest", str(out3), "--manifests", str(man3), "--cache",
                                   str(tmp_path / "c3.sqlite")])
    assert r3.exit_code == 0 and "10 requests answered and kept" in r3.output


def test_a_batch_answered_by_another_model_caches_nothing(batch_server, tmp_path):
    from genz.errors import FMError

    srv = batch_server
    srv.answer_model = "some-other-model"
    notices: list[str] = []
    fm = _batch_fm(srv, tmp_path, notices)
    try:
        fm.prefetch(["contains seven"], _items(40))
    except FMError:
        pass
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 0
    assert any("answered by another model" in n and "some-other-model" in n for n in notices)
