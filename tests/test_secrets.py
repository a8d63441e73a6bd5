"""The API key never appears in logs, the cache, pickles, reprs or error messages."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)
from genz.errors import FMError
from genz.fm.cache import CachedFM
from genz.fm.openai_compat import OpenAIFM, redact_secret, sanitize_url
from genz.items import items_from_texts

KEY = "sk-proj-TOPSECRET-abcdefghijklmnop0123456789"


def _items(n=6):
    return items_from_texts([f"item {i}" for i in range(n)])


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("GENZ_TEST_API_KEY", KEY)
    return "GENZ_TEST_API_KEY"


def test_key_reaches_the_server_but_nothing_else(fake_server, env_key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # everything: genz, openai, httpx
    fm = OpenAIFM("fake", base_url=fake_server.url, api_key_env=env_key, batch_size=2,
                  backoff_base=0.0, backoff_max=0.0)
    cached = CachedFM(fm, tmp_path / "fm.sqlite")
    fake_server.push(("status", 429, {"Retry-After": "0"}, {"error": {"message": "slow"}}))
    cached.judge("item 1", _items())
    cached.mine(_items()[:2], _items()[2:4])
    cached.propose("task", _items(), n=2)
    # the key was used
    assert any({k.lower(): v for k, v in h.items()}.get("authorization") == f"Bearer {KEY}"
               for h in fake_server.headers)
    # ... and is nowhere else
    assert KEY not in caplog.text
    assert KEY not in repr(fm) and KEY not in fm.name and KEY not in repr(cached)
    assert KEY.encode() not in pickle.dumps(fm)
    assert KEY not in str(fm.stats.snapshot())
    for f in tmp_path.iterdir():  # the cache file and its WAL
        assert KEY.encode() not in f.read_bytes(), f


def test_error_messages_are_redacted(fake_server, env_key, caplog):
    caplog.set_level(logging.DEBUG)
    fm = OpenAIFM("fake", base_url=fake_server.url, api_key_env=env_key, max_retries=0)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}. Bearer {KEY}"}}
    for code in (400, 401, 403, 404, 422, 500):
        fake_server.push(("status", code, {}, echo))
        with pytest.raises(FMError) as ei:
            fm.judge("x", _items(1))
        msg = str(ei.value)
        assert KEY not in msg, (code, msg)
        assert ei.value.__cause__ is None and ei.value.__suppress_context__
    assert KEY not in caplog.text


def test_explicit_key_and_credentials_in_the_url(fake_server):
    url = fake_server.url.replace("http://", "http://user:pw-SECRET@") + "?token=SECRET2"
    fm = OpenAIFM("fake", base_url=url, api_key=KEY)
    assert "SECRET" not in repr(fm) and "SECRET" not in (fm.base_url or "")
    assert sanitize_url("https://u:p@host:8080/v1?k=1#f") == "https://host:8080/v1"


def test_redact_secret():
    assert redact_secret(f"a {KEY} b", KEY) == "a *** b"
    assert "sk-other0123456789" not in redact_secret("key sk-other0123456789 here", None)
    assert "abcdef123456" not in redact_secret("Authorization: Bearer abcdef123456", None)


def test_missing_key_for_openai_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    fm = OpenAIFM("gpt-4o-mini")
    with pytest.raises(FMError, match="no API key.*OPENAI_API_KEY"):
        fm.judge("x", _items(1))


def test_fitted_model_directory_holds_no_key(fake_server, env_key, tmp_path):
    import numpy as np

    from genz import GenZRegressor
    from genz.items import items_from_texts

    words = ["seven", "two"]
    items = items_from_texts([f"{i} {words[i % 2]}" for i in range(20)])
    y = np.array([5.0 if i % 2 == 0 else 1.0 for i in range(20)])
    fm = OpenAIFM("fake", base_url=fake_server.url, api_key_env=env_key, batch_size=10)
    est = GenZRegressor(fm=CachedFM(fm, tmp_path / "fm.sqlite"), add_only=1, algorithm="simple",
                        random_state=0).fit(items, y)
    assert est.features_ == ["contains seven"]
    est.save(tmp_path / "model")
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert len(files) >= 3
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f
    assert KEY not in json.dumps(est.history_) and KEY not in repr(est.get_params())


def test_run_directory_holds_no_key(fake_server, env_key, tmp_path):
    import numpy as np

    from genz import GenZRegressor
    from genz.items import items_from_texts
    from genz.runfit import fit_run

    words = ["seven", "two"]
    items = items_from_texts([f"{i} {words[i % 2]}" for i in range(20)])
    y = np.array([5.0 if i % 2 == 0 else 1.0 for i in range(20)])
    fm = OpenAIFM("fake", base_url=fake_server.url, api_key_env=env_key, batch_size=10)
    est = GenZRegressor(fm=CachedFM(fm, tmp_path / "fm.sqlite"), add_only=1, algorithm="simple", random_state=0)
    est, run = fit_run(est, items, y, out=tmp_path / "run")
    files = [f for f in (tmp_path / "run").rglob("*") if f.is_file()]
    assert any(f.name.startswith("history") for f in files)
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f
    hist = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert hist[-1]["fm_total"]["by_type"]["judge"]["prompt_tokens"] > 0  # tokens per call type
