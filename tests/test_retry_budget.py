"""Issue 22, item 7: ``Retry-After`` is capped at the documented maximum (120 s) and a request
retries within a budget of total retry time, not a count of attempts."""

from __future__ import annotations

import pytest

from genz.errors import FMError
from genz.fm.openai_compat import OpenAIFM
from genz.items import items_from_texts
from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, s: float) -> None:
        self.delays.append(s)


def _fm(server, sleeps, **kw):
    return OpenAIFM("fake", base_url=server.url, batch_size=4, concurrency=1, progress=False, sleep=sleeps, **kw)


def _items(n=4):
    return items_from_texts([f"{i} seven" if i % 2 else f"{i} two" for i in range(n)])


@pytest.mark.parametrize("header", ["1e9", "3600", "86400"])
def test_a_huge_retry_after_is_capped_at_120_seconds(fake_server, header):
    """genz < 0.9 slept ~5.5e7 s for `Retry-After: 1e9`, and 300-360 s for 3600 (its jitter was
    a tenth of the uncapped value)."""
    sleeps = Sleeps()
    for _ in range(3):
        fake_server.push(("status", 429, {"Retry-After": header}, {"error": {"message": "Rate limit reached"}}))
    j = _fm(fake_server, sleeps).judge("has a seven", _items())
    assert j.values.tolist() == [False, True, False, True]
    assert len(sleeps.delays) == 3 and all(120.0 <= d <= 132.0 for d in sleeps.delays), sleeps.delays


def test_a_burst_of_429s_is_retried_within_the_budget(fake_server):
    """genz < 0.9 gave up after 7 attempts (7.9 s of a 429 burst with `Retry-After: 1`)."""
    sleeps = Sleeps()
    for _ in range(12):
        fake_server.push(("status", 429, {"Retry-After": "1"}, {"error": {"message": "Rate limit reached"}}))
    j = _fm(fake_server, sleeps).judge("has a seven", _items())
    assert j.values.tolist() == [False, True, False, True]
    assert len(sleeps.delays) == 12 and all(1.0 <= d <= 1.1 for d in sleeps.delays)


def test_the_retry_budget_ends_a_request_with_one_line(fake_server):
    sleeps = Sleeps()
    for _ in range(20):
        fake_server.push(("status", 429, {"Retry-After": "100"}, {"error": {"message": "Rate limit reached"}}))
    with pytest.raises(FMError, match=r"HTTP 429 .*gave up after 3 attempts \(2\d\d s of the 250 s retry budget spent\)"):
        _fm(fake_server, sleeps, retry_budget=250).judge("has a seven", _items())
    assert len(sleeps.delays) == 2 and fake_server.n_requests == 3


def test_an_http_date_retry_after_in_the_past_retries_at_once(fake_server):
    sleeps = Sleeps()
    fake_server.push(("status", 503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"error": {"message": "x"}}))
    _fm(fake_server, sleeps).judge("has a seven", _items())
    assert len(sleeps.delays) == 1 and sleeps.delays[0] <= 0.011
