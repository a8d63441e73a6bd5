"""The SQLite FM cache: zero repeated calls, concurrency, corrupt and foreign files."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
from collections.abc import Collection, Sequence

import numpy as np
import pytest

from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)
from genz.errors import CorruptFileError, GenZInputError, MiningError
from genz.fm.base import FMStats, FoundationModel, Judgments
from genz.fm.cache import SCHEMA_ID, CachedFM, FMCache
from genz.fm.openai_compat import OpenAIFM
from genz.fm.registry import make_fm
from genz.items import Item, items_from_texts


class CountingFM:
    """A deterministic foundation model that records what it was asked."""

    name = "counting"
    max_exemplars = 10

    def __init__(self, with_prob: bool = False, fail_after: int | None = None) -> None:
        self.stats = FMStats()
        self.judged: list[str] = []  # item texts, in the order asked
        self.with_prob = with_prob
        self.fail_after = fail_after

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        self.stats.add_call("judge")
        if self.fail_after is not None and len(self.judged) + len(items) > self.fail_after:
            raise RuntimeError("boom")
        self.judged.extend(it.text for it in items)
        vals = np.array([descriptor in it.text for it in items])
        prob = np.where(vals, 0.8, 0.3) if self.with_prob else None
        return Judgments(vals, prob)

    def mine(self, positives: Sequence[Item], negatives: Sequence[Item], *,
             exclude: Collection[str] = (), context: str | None = None) -> str:
        self.stats.add_call("mine")
        if not positives:
            raise MiningError("nothing")
        return f"has {positives[0].text[:1]}"

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        self.stats.add_call("propose")
        return [f"q{i}" for i in range(n)]


def texts(n: int, start: int = 0) -> list[Item]:
    return items_from_texts([f"{i}" for i in range(start, start + n)], ids=[f"i{i}" for i in range(start, start + n)])


def test_counting_fm_is_a_foundation_model():
    assert isinstance(CountingFM(), FoundationModel)


def test_rerun_and_other_batch_compositions_cost_zero_calls(tmp_path):
    path = tmp_path / "fm.sqlite"
    inner = CountingFM()
    fm = CachedFM(inner, path)
    assert isinstance(fm, FoundationModel)
    a = fm.judge("1", texts(10))
    assert inner.stats.calls == {"judge": 1} and len(inner.judged) == 10
    b = fm.judge("1", texts(10, start=5))  # overlapping: only 10..14 are new
    assert inner.judged[10:] == ["10", "11", "12", "13", "14"]
    assert np.array_equal(a.values[5:], b.values[:5])
    calls = inner.stats.total_calls
    # a shuffled superset, in a new process-like fresh wrapper on the same file: zero calls
    inner2 = CountingFM()
    fm2 = CachedFM(inner2, path)
    items = texts(15)[::-1]
    c = fm2.judge("1", items)
    assert inner2.stats.total_calls == 0 and inner.stats.total_calls == calls
    assert inner2.stats.cache_hits == 15
    assert np.array_equal(c.values, np.array(["1" in it.text for it in items]))
    # another descriptor is another key
    fm2.judge("2", texts(3))
    assert inner2.stats.calls == {"judge": 1}


def test_same_content_is_judged_once(tmp_path):
    inner = CountingFM()
    fm = CachedFM(inner, tmp_path / "fm.sqlite")
    items = [Item(id="a", text="x1"), Item(id="b", text="x1"), Item(id="c", text="y")]
    j = fm.judge("x", items)
    assert inner.judged == ["x1", "y"]
    assert list(j.values) == [True, True, False]


def test_probabilities_are_stored(tmp_path):
    path = tmp_path / "fm.sqlite"
    fm = CachedFM(CountingFM(with_prob=True), path)
    j1 = fm.judge("1", texts(4))
    inner = CountingFM()
    j2 = CachedFM(inner, path).judge("1", texts(4))
    assert inner.stats.total_calls == 0
    assert np.allclose(j1.prob, j2.prob) and np.allclose(j2.prob, np.where(j2.values, 0.8, 0.3))
    # judgments without probabilities give prob=None
    assert CachedFM(CountingFM(), tmp_path / "other.sqlite").judge("1", texts(2)).prob is None


def test_mine_and_propose_are_cached(tmp_path):
    path = tmp_path / "fm.sqlite"
    inner = CountingFM()
    fm = CachedFM(inner, path)
    pos, neg = texts(3), texts(3, start=3)
    d = fm.mine(pos, neg, exclude=["a"])
    assert fm.mine(pos, neg, exclude=["a"]) == d
    assert inner.stats.calls == {"mine": 1} and inner.stats.cache_hits == 1
    fm.mine(pos, neg, exclude=["a", "b"])  # another request
    assert inner.stats.calls == {"mine": 2}
    q = fm.propose("task", pos, n=3)
    inner2 = CountingFM()
    assert CachedFM(inner2, path).propose("task", pos, n=3) == q
    assert inner2.stats.total_calls == 0
    # "nothing separates these groups" is an answer too: cached, so a rerun repeats no call
    calls = inner.stats.total_calls
    with pytest.raises(MiningError):
        fm.mine([], neg)
    with pytest.raises(MiningError, match="nothing"):
        CachedFM(CountingFM(), path).mine([], neg)
    assert inner.stats.total_calls == calls + 1


def test_backend_model_and_template_are_part_of_the_key(tmp_path, fake_server):
    path = tmp_path / "fm.sqlite"
    items = texts(4)
    a = OpenAIFM("model-a", base_url=fake_server.url, batch_size=10)
    CachedFM(a, path).judge("1", items)
    b = OpenAIFM("model-b", base_url=fake_server.url, batch_size=10)
    CachedFM(b, path).judge("1", items)
    assert fake_server.n_requests == 2  # another model: asked again
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    from importlib import resources

    text = resources.files("genz.fm").joinpath("prompts", "judge.txt").read_text()
    (prompts / "judge.txt").write_text(text.replace("You label items.", "You label items carefully."))
    c = OpenAIFM("model-a", base_url=fake_server.url, batch_size=10, prompts_dir=prompts)
    assert c.cache_identity("judge")[2] != a.cache_identity("judge")[2]
    CachedFM(c, path).judge("1", items)
    assert fake_server.n_requests == 3  # edited template: asked again
    a2 = OpenAIFM("model-a", base_url=fake_server.url, batch_size=3)
    j = CachedFM(a2, path).judge("1", items)  # another batch size: same answers, no call
    assert fake_server.n_requests == 3 and a2.stats.cache_hits == 4
    assert j.prob is not None


def test_openai_rerun_makes_zero_requests(tmp_path, fake_server):
    path = tmp_path / "fm.sqlite"
    items = texts(12)
    fm = make_fm("openai:fake", base_url=fake_server.url, batch_size=5, cache=path)
    assert isinstance(fm, CachedFM)
    j1 = fm.judge("1", items)
    fm.mine(items[:3], items[3:6])
    n = fake_server.n_requests
    assert n == 4
    fm2 = make_fm("openai", model="fake", base_url=fake_server.url, batch_size=7, cache=path)
    j2 = fm2.judge("1", items[::-1])
    fm2.mine(items[:3], items[3:6])
    assert fake_server.n_requests == n
    assert fm2.stats.total_calls == 0 and fm2.stats.cache_hits == 13
    assert np.array_equal(j1.values, j2.values[::-1])


def test_partial_progress_survives_a_failure(tmp_path):
    path = tmp_path / "fm.sqlite"
    fm = CachedFM(CountingFM(fail_after=5), path)
    fm.judge("1", texts(5))
    with pytest.raises(RuntimeError):
        fm.judge("1", texts(10))
    assert FMCache(path).counts()["judgments"] == 5


def _hammer(path: str, descriptor: str, n: int, out: list | None = None) -> None:
    inner = CountingFM()
    fm = CachedFM(inner, path)
    for k in range(0, n, 7):
        fm.judge(descriptor, texts(7, start=k))
    if out is not None:
        out.append(inner.stats.total_calls)


def test_concurrent_threads(tmp_path):
    path = str(tmp_path / "fm.sqlite")
    out: list[int] = []
    threads = [threading.Thread(target=_hammer, args=(path, f"{d % 3}", 70, out)) for d in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 6
    cache = FMCache(path)
    assert cache.counts()["judgments"] == 3 * 70
    # all answers correct
    inner = CountingFM()
    fm = CachedFM(inner, cache)
    for d in "012":
        j = fm.judge(d, texts(70))
        assert np.array_equal(j.values, np.array([d in str(i) for i in range(70)]))
    assert inner.stats.total_calls == 0


def test_concurrent_processes(tmp_path):
    path = str(tmp_path / "fm.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(path, f"{d}", 140)) for d in range(3)]
    procs += [ctx.Process(target=_hammer, args=(path, "0", 140))]  # two writers of the same rows
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert FMCache(path).counts()["judgments"] == 3 * 140
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_foreign_sqlite_file(tmp_path):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE things (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(CorruptFileError, match=r"other\.sqlite.*not a genz FM cache"):
        FMCache(path)


def test_wrong_schema_id(tmp_path):
    path = tmp_path / "fm.sqlite"
    FMCache(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='genz-fm-cache/999' WHERE key='schema'")
    con.commit()
    con.close()
    with pytest.raises(CorruptFileError, match=r"genz-fm-cache/999.*" + SCHEMA_ID):
        FMCache(path)


def test_not_sqlite(tmp_path):
    path = tmp_path / "fm.sqlite"
    path.write_text("this is a text file, not a database\n" * 10)
    with pytest.raises(CorruptFileError, match=r"fm\.sqlite.*not an SQLite database"):
        FMCache(path)


def test_truncated_cache(tmp_path):
    path = tmp_path / "fm.sqlite"
    fm = CachedFM(CountingFM(), path)
    for d in range(30):
        fm.judge(str(d), texts(50))
    fm.cache.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError, match=r"fm\.sqlite"):
        c = FMCache(path)
        CachedFM(CountingFM(), c).judge("29", texts(50))


def test_directory_path_and_empty_file(tmp_path):
    with pytest.raises(GenZInputError, match="directory"):
        FMCache(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    FMCache(empty).put_judgments("b", "m", "t", "d", [("h", True, None)])
    assert FMCache(empty).get_judgments("b", "m", "t", "d", ["h", "x"]) == {"h": (True, None)}


def test_registry(tmp_path):
    with pytest.raises(GenZInputError, match="unknown foundation model"):
        make_fm("nope")
    with pytest.raises(GenZInputError, match="unexpected keyword"):
        make_fm("openai", no_such_option=1)
    fm = make_fm("openai:gpt-4o-mini", mining_model="gpt-5")
    assert fm.model == "gpt-4o-mini" and fm.mining_model == "gpt-5"
    assert fm.cache_identity("mine")[1] == "gpt-5"
    again = make_fm(fm.name)  # a saved model records the name; loading rebuilds the backend
    assert (again.model, again.mining_model) == ("gpt-4o-mini", "gpt-5")


def test_epsilon_from_prob():
    from genz.fm.soft import epsilon_from_prob

    j = Judgments(np.array([True, False, True, False]), np.array([0.9, 0.2, 0.6, 0.0]))
    assert epsilon_from_prob(j) == pytest.approx((0.1 + 0.2 + 0.4 + 0.0) / 4)
    assert epsilon_from_prob(Judgments(np.array([True]))) is None
    assert epsilon_from_prob(Judgments(np.array([True]), np.array([1.0])), eps_min=0.01) == 0.01


def test_wrapping_the_predicate_engine_is_transparent_and_free_on_rerun(tmp_path):
    from genz import GenZRegressor
    from genz.fm.predicates import PredicateFM

    items = items_from_texts([str(n) for n in range(64)])
    y = np.array([float(n) for n in range(64)])
    plain = GenZRegressor(fm=PredicateFM(), add_only=3, algorithm="simple", random_state=1).fit(items, y)
    path = tmp_path / "pred.sqlite"
    inner = PredicateFM()
    cached = GenZRegressor(fm=CachedFM(inner, path), add_only=3, algorithm="simple", random_state=1).fit(items, y)
    assert cached.features_ == plain.features_
    assert inner.stats.total_calls > 0
    inner2 = PredicateFM()
    again = GenZRegressor(fm=CachedFM(inner2, path), add_only=3, algorithm="simple", random_state=1).fit(items, y)
    assert again.features_ == plain.features_
    assert inner2.stats.total_calls == 0 and inner2.stats.cache_hits > 0


class CandidatesFM(CountingFM):
    def __init__(self):
        super().__init__()
        self.weights_seen = []

    def mine(self, positives, negatives, *, exclude=(), context=None, weights=None):
        self.weights_seen.append(weights)
        return super().mine(positives, negatives, exclude=exclude, context=context)

    def mine_candidates(self, positives, negatives, n=5, *, exclude=(), context=None, weights=None):
        self.stats.add_call("mine")
        self.weights_seen.append(weights)
        return [f"c{i}" for i in range(n)]


def test_mine_candidates_and_weights_pass_through_and_are_cached(tmp_path):
    path = tmp_path / "fm.sqlite"
    inner = CandidatesFM()
    fm = CachedFM(inner, path)
    pos, neg = texts(2), texts(2, start=2)
    w = ([1.0, 2.0], [0.5, 0.5])
    assert fm.mine_candidates(pos, neg, 3, weights=w) == ["c0", "c1", "c2"]
    assert fm.mine_candidates(pos, neg, 3, weights=w) == ["c0", "c1", "c2"]
    assert inner.stats.calls == {"mine": 1} and inner.weights_seen == [w]
    fm.mine_candidates(pos, neg, 3, weights=([1.0, 1.0], [1.0, 1.0]))  # other weights: asked
    assert inner.stats.calls == {"mine": 2}
    fm.mine(pos, neg, weights=w)
    assert inner.weights_seen[-1] == w
    # a model without mine_candidates / weights: one mine() answer, weights dropped
    plain = CountingFM()
    assert CachedFM(plain, tmp_path / "p.sqlite").mine_candidates(pos, neg, 3, weights=w) == ["has 0"]
