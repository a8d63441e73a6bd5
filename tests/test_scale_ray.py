"""The ray executor (Ray Data over the request shards) against the scripted local server:
the same cache contents as the synchronous executor. Skipped when Ray is not installed."""

from __future__ import annotations

import sqlite3

import pytest

ray = pytest.importorskip("ray")

from genz.fm.cache import CachedFM  # noqa: E402
from genz.fm.executors import ExecutorFM  # noqa: E402
from genz.fm.executors.ray import RayExecutor  # noqa: E402
from genz.fm.openai_compat import OpenAIFM  # noqa: E402
from genz.items import Item  # noqa: E402
from tests.fake_batch_server import FakeBatchServer, batch_server  # noqa: E402,F401


def _rows(path) -> set[tuple]:
    with sqlite3.connect(path) as c:
        return {r[:7] for r in c.execute("SELECT * FROM judgments")}  # without the timestamp


@pytest.mark.slow
def test_ray_executor_fills_the_cache_like_sync(batch_server, tmp_path):
    srv = batch_server
    second = FakeBatchServer(seed=1)  # two endpoints
    try:
        items = [Item(id=f"i{k}", text=f"item {k}" + (" seven" if k % 3 == 0 else "") + (" two" if k % 4 == 0 else ""))
                 for k in range(60)]
        feats = ["contains seven", "contains two"]
        ex = RayExecutor(tmp_path / "ray", [srv.url, second.url], num_cpus=2, concurrency=2, progress=None)
        fm = ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "ray.sqlite", ex)
        fm.prefetch(feats, items)
        assert fm.last_fill["missing"] == 0 and fm.last_fill["rounds"] == 1
        assert srv.chat_requests > 0 and second.chat_requests > 0  # both endpoints served rows
        assert srv.chat_requests + second.chat_requests == 2 * 8  # 60 items / 8 per request, 2 features
        assert ex.last_rate is not None and ex.last_rate > 0
        sync = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=8, progress=False), tmp_path / "sync.sqlite")
        for f in feats:
            sync.judge(f, items)
        assert _rows(tmp_path / "ray.sqlite") == _rows(tmp_path / "sync.sqlite")
        assert len(_rows(tmp_path / "ray.sqlite")) == 120
    finally:
        second.close()
        ray.shutdown()
