"""One request format: export (bodies equal to the synchronous ones, shards, custom ids) and
ingest (OpenAI output/error files, vLLM golden files with inline errors, idempotence)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from genz.fm.cache import CachedFM, FMCache
from genz.fm.openai_compat import OpenAIFM
from genz.fm.requests import export_requests, ingest, plan_judge_requests, read_manifests
from genz.items import Item
from tests.fake_openai_server import fake_server  # noqa: F401

GOLDEN = Path(__file__).parent / "fixtures" / "vllm"


def _items(n: int = 23) -> list[Item]:
    return [Item(id=f"i{k}", text=f"number {k}" + (" seven" if k % 3 == 0 else "")) for k in range(n)]


def _dump(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as c:
        return sorted(c.execute("SELECT * FROM judgments").fetchall())


def test_exported_body_is_what_the_sync_backend_sends(fake_server, tmp_path):
    items = _items(23)
    fm = OpenAIFM("fake", base_url=fake_server.url, batch_size=10, concurrency=1, progress=False)
    cached = CachedFM(fm, tmp_path / "c.sqlite")
    reqs = list(plan_judge_requests(cached, ["contains seven"], items))
    assert [len(r.hashes) for r in reqs] == [10, 10, 3]
    fm.judge("contains seven", items)  # the synchronous path, same batches
    assert [r.body for r in reqs] == fake_server.requests
    ids = [r.custom_id for r in reqs]
    assert len(set(ids)) == 3 and all(len(c) <= 64 for c in ids)
    # a different descriptor, model or batch gives a different id; the same request the same id
    again = list(plan_judge_requests(cached, ["contains seven"], items))
    assert [r.custom_id for r in again] == ids
    other = list(plan_judge_requests(cached, ["contains eight"], items))
    assert not set(ids) & {r.custom_id for r in other}


def test_export_skips_cached_and_duplicate_items_and_shards_by_limits(tmp_path):
    items = _items(30) + [Item(id="dup", text="number 0 seven")]  # same content as i0
    fm = OpenAIFM("fake", base_url="http://127.0.0.1:9/v1", batch_size=4, progress=False)
    cache = FMCache(tmp_path / "c.sqlite")
    cached = CachedFM(fm, cache)
    ident = fm.cache_identity("judge")
    cache.put_judgments(*ident, "contains seven", [(items[1].content_hash(), True, 0.9)])
    shards = export_requests(cached, ["contains seven", "contains two"], items, tmp_path / "x", max_requests=5)
    n_j = sum(s.n_judgments for s in shards)
    assert n_j == 29 + 30  # 30 distinct contents, one already cached for the first descriptor
    assert all(s.n_requests <= 5 for s in shards) and len(shards) == 4  # 8 + 8 requests
    lines = [json.loads(x) for s in shards for x in s.path.read_text().splitlines()]
    assert all(set(x) == {"custom_id", "method", "url", "body"} and x["url"] == "/v1/chat/completions" for x in lines)
    by_bytes = export_requests(cached, ["contains seven"], items, tmp_path / "y", max_bytes=4000)
    assert len(by_bytes) > 1 and all(s.n_bytes <= 4000 for s in by_bytes)
    assert sum(s.n_judgments for s in by_bytes) == 29
    body_only = export_requests(cached, ["contains seven"], items, tmp_path / "z", line_format="body")
    assert set(json.loads(body_only[0].path.read_text().splitlines()[0])) == {"custom_id", "body"}


def _openai_output(reqs, fake, fail: set[int]) -> tuple[list[str], list[str]]:
    out, err = [], []
    for k, r in enumerate(reqs):
        if k in fail:
            err.append(json.dumps({"id": f"b{k}", "custom_id": r.custom_id, "response": None,
                                   "error": {"code": "batch_expired", "message": "expired"}}))
            continue
        content, _ = fake.correct_content(r.body)
        out.append(json.dumps({"id": f"b{k}", "custom_id": r.custom_id, "error": None,
                               "response": {"status_code": 200, "request_id": f"r{k}",
                                            "body": fake.completion(r.body, content)}}))
    return out[::-1], err  # any order


def test_ingest_fills_the_cache_like_sync_and_leaves_failures(fake_server, tmp_path):
    items = _items(40)
    fm = OpenAIFM("fake", base_url=fake_server.url, batch_size=7, concurrency=1, progress=False)
    batch_cache = CachedFM(fm, tmp_path / "batch.sqlite")
    shards = export_requests(batch_cache, ["contains seven"], items, tmp_path / "x")
    reqs = list(plan_judge_requests(batch_cache, ["contains seven"], items))
    out, err = _openai_output(reqs, fake_server, fail={1, 4})
    (tmp_path / "out.jsonl").write_text("\n".join(out) + "\n" + '{"custom_id": "gz-trunc')  # truncated last line
    (tmp_path / "err.jsonl").write_text("\n".join(err) + "\n")
    r = ingest(batch_cache.cache, [tmp_path / "out.jsonl", tmp_path / "err.jsonl"], tmp_path / "x")
    assert r.answered == len(reqs) - 2 and set(r.failed) == {reqs[1].custom_id, reqs[4].custom_id}
    assert r.bad_lines == 1 and r.new_rows == r.judgments
    left = list(plan_judge_requests(batch_cache, ["contains seven"], items))
    assert [x.custom_id for x in left] == [reqs[1].custom_id, reqs[4].custom_id]  # only the failed ones
    before = _dump(tmp_path / "batch.sqlite")
    r2 = ingest(batch_cache.cache, [tmp_path / "out.jsonl", tmp_path / "err.jsonl"], tmp_path / "x")
    assert r2.new_rows == 0 and _dump(tmp_path / "batch.sqlite") == before  # twice changes nothing
    # the same rows (values and P(yes)) as the synchronous executor
    sync = CachedFM(OpenAIFM("fake", base_url=fake_server.url, batch_size=7, concurrency=1, progress=False),
                    tmp_path / "sync.sqlite")
    sync.judge("contains seven", items)
    strip = lambda rows: {x[:7] for x in rows}  # noqa: E731  (without the timestamp)
    done = {x[4] for x in before}
    assert strip(before) == {x[:7] for x in _dump(tmp_path / "sync.sqlite") if x[4] in done}
    assert shards[0].n_requests == len(reqs)


def test_ingest_never_guesses_from_a_bad_answer(fake_server, tmp_path):
    items = _items(6)
    fm = CachedFM(OpenAIFM("fake", base_url=fake_server.url, batch_size=3, progress=False), tmp_path / "c.sqlite")
    export_requests(fm, ["contains seven"], items, tmp_path / "x")
    reqs = list(plan_judge_requests(fm, ["contains seven"], items))
    bad = [
        {"custom_id": reqs[0].custom_id, "response": {"status_code": 200, "body": fake_server.completion(
            reqs[0].body, json.dumps({"answers": {"1": "yes", "2": "no"}}))}, "error": None},  # one missing
        {"custom_id": reqs[1].custom_id, "response": {"status_code": 500, "body": {"error": {"message": "x"}}},
         "error": None},
    ]
    (tmp_path / "o.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bad))
    r = ingest(fm.cache, tmp_path / "o.jsonl", tmp_path / "x")
    assert r.answered == 0 and len(r.failed) == 2 and fm.cache.counts()["judgments"] == 0
    assert "missing" in r.failed[reqs[0].custom_id] and "500" in r.failed[reqs[1].custom_id]


def test_vllm_golden_output_with_inline_errors(tmp_path):
    cache = FMCache(tmp_path / "c.sqlite")
    r = ingest(cache, GOLDEN / "requests-00000.output.jsonl", GOLDEN)
    man = read_manifests([GOLDEN / "requests-00000.manifest.jsonl"])
    ids = list(man)
    assert r.lines == 4 and r.answered == 2 and set(r.failed) == {ids[1], ids[3]}
    assert "stream mode" in r.failed[ids[1]] and "context length" in r.failed[ids[3]]
    ident = ("openai", "Qwen/Qwen2.5-0.5B-Instruct", "judge-golden")
    hashes = [hashlib.sha256(f"item-{i}".encode()).hexdigest()[:32] for i in range(12)]
    got = cache.get_judgments(*ident, "is odd", hashes)
    assert sorted(got) == sorted(hashes[0:3] + hashes[6:9])  # requests 0 and 2 answered
    assert all(got[h][0] == (i % 2 == 1) for i, h in enumerate(hashes) if h in got)
    assert all(got[h][1] is None for h in got)  # vLLM sent no log-probabilities: no P(yes) made up
    before = _dump(tmp_path / "c.sqlite")
    assert ingest(cache, GOLDEN / "requests-00000.output.jsonl", GOLDEN).new_rows == 0
    assert _dump(tmp_path / "c.sqlite") == before


def test_cli_export_and_ingest(fake_server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from genz.cli import main
    from genz.items import save_items

    items = _items(12)
    save_items(items, tmp_path / "items.jsonl")
    (tmp_path / "features.txt").write_text("contains seven\n# a comment\ncontains two\n")
    args = ["--fm", "openai", "--base-url", fake_server.url, "--fm-model", "fake", "--cache", str(tmp_path / "c.sqlite")]
    res = CliRunner().invoke(main, ["requests", "export", "--items", str(tmp_path / "items.jsonl"), "--features",
                                    str(tmp_path / "features.txt"), "--out", str(tmp_path / "x"), "--json", *args])
    assert res.exit_code == 0, res.output
    shard = json.loads(res.output)["shards"][0]
    reqs = [json.loads(x) for x in Path(shard["path"]).read_text().splitlines()]
    out = []
    for q in reqs:
        content, _ = fake_server.correct_content(q["body"])
        out.append(json.dumps({"custom_id": q["custom_id"], "response": {"status_code": 200, "body":
                               fake_server.completion(q["body"], content)}, "error": None}))
    (tmp_path / "o.jsonl").write_text("\n".join(out) + "\n")
    res = CliRunner().invoke(main, ["requests", "ingest", str(tmp_path / "o.jsonl"), "--manifests", str(tmp_path / "x"),
                                    "--cache", str(tmp_path / "c.sqlite"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["judgments"] == 24
    res = CliRunner().invoke(main, ["requests", "export", "--items", str(tmp_path / "items.jsonl"), "--features",
                                    str(tmp_path / "features.txt"), "--out", str(tmp_path / "x2"), "--json", *args])
    assert json.loads(res.output)["shards"] == []  # everything is cached now
    n0 = fake_server.n_requests
    fm = CachedFM(OpenAIFM("fake", base_url=fake_server.url, progress=False), tmp_path / "c.sqlite")
    j = fm.judge("contains seven", items)
    assert fake_server.n_requests == n0  # answered from the cache
    assert np.array_equal(j.values, np.array(["seven" in it.text for it in items]))


def test_bad_manifest_is_one_line_error(tmp_path):
    from genz.errors import GenZInputError

    (tmp_path / "a.manifest.jsonl").write_text('{"custom_id": "gz-x"}\n')
    (tmp_path / "o.jsonl").write_text('{"custom_id": "gz-x", "response": null, "error": "e"}\n')
    with pytest.raises(GenZInputError, match="line 1"):
        ingest(tmp_path / "c.sqlite", tmp_path / "o.jsonl", tmp_path)


def test_vllm_executor_runs_the_command_and_retries_inline_errors(tmp_path):
    import sys

    from genz.fm.executors import ExecutorFM
    from genz.fm.executors.vllm import VLLMExecutor

    items = _items(40)
    cmd = f"{sys.executable} {Path(__file__).parent / 'fake_vllm_run_batch.py'} -i {{input}} -o {{output}} --model {{model}}"
    ex = VLLMExecutor(tmp_path / "v", command=cmd)
    fm = ExecutorFM(OpenAIFM("fake", base_url="http://127.0.0.1:9/v1", batch_size=4, progress=False),
                    tmp_path / "c.sqlite", ex, on_failure="stop")
    j = fm.judge("contains seven", items)  # round 1: 10 requests, 2 inline errors; round 2: those 2
    assert {k: fm.last_fill[k] for k in ("rounds", "submitted", "answered", "failed", "missing")} == \
        {"rounds": 2, "submitted": 12, "answered": 10, "failed": 2, "missing": 0}
    assert np.array_equal(j.values, np.array(["seven" in it.text for it in items]))
    assert len(list((tmp_path / "v").glob("vllm-*.output.jsonl"))) == fm.last_fill["rounds"]


def test_packed_insert_equals_row_by_row_and_is_one_transaction(tmp_path):
    """FMCache.put_judgments_packed (ingest's bulk path) writes exactly the rows put_judgments
    writes: values, P(yes) to the last bit (null where unknown or not finite), hashes of any
    width, requests of different sizes; rows already there are kept; a failure rolls back."""
    rng = np.random.default_rng(0)
    ident = ("openai", "m", "judge-1")
    packed, rows = [], []
    for r in range(40):
        k = int(rng.integers(1, 12))
        w = 32 if r % 5 else 16
        hs = [hashlib.sha256(f"{r}-{j}".encode()).hexdigest()[:w] for j in range(k)]
        vals = rng.random(k) < 0.5
        d = f"feature {r % 3}"
        if r % 2:
            probs = rng.random(k) * np.exp(-30 * rng.random(k))
            probs[0] = np.nan
            pj = json.dumps([None if not np.isfinite(x) else float(x) for x in probs])
        else:
            probs, pj = None, None
        packed.append((*ident, d, k, "".join(hs), "".join("1" if v else "0" for v in vals), pj))
        rows += [(d, h, bool(v), None if probs is None or not np.isfinite(probs[j]) else float(probs[j]))
                 for j, (h, v) in enumerate(zip(hs, vals))]
    a, b = FMCache(tmp_path / "a.sqlite"), FMCache(tmp_path / "b.sqlite")
    pre = [(h, not v, 0.5) for d, h, v, p in rows if d == "feature 1"][:5]  # already there: kept
    for d in {r[0] for r in rows}:
        a.put_judgments(*ident, d, [(h, v, p) for dd, h, v, p in rows if dd == d])
    a.put_judgments(*ident, "feature 1", pre)
    b.put_judgments(*ident, "feature 1", pre)
    assert b.put_judgments_packed(packed) == len(rows) - len(pre) and pre
    strip = lambda p: [x[:7] for x in _dump(p)]  # noqa: E731
    assert strip(tmp_path / "a.sqlite") == strip(tmp_path / "b.sqlite")
    assert b.put_judgments_packed(packed) == 0  # twice: nothing new, nothing changed
    assert strip(tmp_path / "a.sqlite") == strip(tmp_path / "b.sqlite")
    before = _dump(tmp_path / "b.sqlite")
    bad = [(*ident, "new", 2, "x" * 32 + "z" * 32, "11", None), (*ident, "new", 1, "y" * 32, "1", "not json")]
    with pytest.raises(Exception):
        b.put_judgments_packed(bad)
    assert _dump(tmp_path / "b.sqlite") == before  # rolled back as a whole
    assert b.put_judgments_packed(bad[:1]) == 2  # and the connection's staging table is clean


def test_ingest_interrupted_keeps_committed_flushes_and_completes_on_rerun(fake_server, tmp_path, monkeypatch):
    import genz.fm.ingest as rq

    items = _items(40)
    fm = CachedFM(OpenAIFM("fake", base_url=fake_server.url, batch_size=4, concurrency=1, progress=False),
                  tmp_path / "c.sqlite")
    export_requests(fm, ["contains seven"], items, tmp_path / "x")
    reqs = list(plan_judge_requests(fm, ["contains seven"], items))
    out, _ = _openai_output(reqs, fake_server, fail=set())
    (tmp_path / "out.jsonl").write_text("\n".join(out) + "\n")
    monkeypatch.setattr(rq, "_FLUSH_ROWS", 12)  # a transaction per 3 requests
    real, calls = FMCache.put_judgments_packed, []

    def crash_on_second(self, packed, created=None):
        calls.append(len(packed))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, packed, created)

    monkeypatch.setattr(FMCache, "put_judgments_packed", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest(fm.cache, tmp_path / "out.jsonl", tmp_path / "x")
    assert fm.cache.counts()["judgments"] == 12  # the first transaction only
    monkeypatch.setattr(FMCache, "put_judgments_packed", real)
    r = ingest(fm.cache, tmp_path / "out.jsonl", tmp_path / "x")
    assert r.new_rows == 40 - 12 and r.judgments == 40 and fm.cache.counts()["judgments"] == 40
    assert not list(plan_judge_requests(fm, ["contains seven"], items))
