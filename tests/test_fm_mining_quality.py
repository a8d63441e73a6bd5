"""Issue 14 against the scripted server: mining returns several judgeable candidates from one
call, group-level / comparative answers are rejected and asked once more (and skipped, never
judged, when they fail twice), and the per-item single-token judge mode with log-probs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)
from genz.errors import FMError, GenZInputError, MiningError
from genz.fm.cache import CachedFM
from genz.fm.openai_compat import OpenAIFM
from genz.fm.validate import DescriptorValidator, check_descriptor, compose, normalize
from genz.items import Item, items_from_texts

GROUP = "The items in the positive group have a higher average area than those in the negative group"
COMPARATIVE = "larger on average than the other houses"


def numbers(n: int, start: int = 0) -> list[Item]:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return items_from_texts([f"{i} {words[i % 10]}" for i in range(start, start + n)],
                            ids=[f"n{i}" for i in range(start, start + n)])


def make(server, **kw) -> OpenAIFM:
    opts = dict(model="fake-model", base_url=server.url, batch_size=4, concurrency=1, timeout=5.0,
                max_retries=2, backoff_base=0.01, backoff_max=0.05, sleep=lambda s: None)
    opts.update(kw)
    return OpenAIFM(**opts)


def answer(*chars: str) -> tuple:
    return ("content", json.dumps({"characteristics": list(chars)}))


# ------------------------------------------------------------------------------ the validator
@pytest.mark.parametrize("text, rule", [
    (GROUP, "group-level"),
    ("Houses in the positive group are bigger", "group-level"),
    ("most of the houses have a pool", "group-level"),
    ("positive items mention seven", "group-level"),
    ("the majority are in California", "group-level"),
    ("higher average number of bedrooms", "comparative"),
    ("bigger than those in the other list", "comparative"),
    ("more bathrooms compared to the rest", "comparative"),
    (COMPARATIVE, "comparative"),
    ("", "empty"),
    ("  ...  ", "empty"),
    ("None", "non-answer"),
    ("N/A", "non-answer"),
    ("has " + "a very " * 30 + "large garden", "too long"),
])
def test_validator_rejects(text, rule):
    r = DescriptorValidator().check(text)
    assert r is not None and r.rule == rule, r


@pytest.mark.parametrize("text", [
    "has 4 or more bedrooms",
    "more than 3 bedrooms",
    "area greater than 2000 square feet",
    "located in California",
    "has more bathrooms than bedrooms",  # a comparison inside one item is judgeable
    "historical war film",
])
def test_validator_accepts_single_item_characteristics(text):
    assert check_descriptor(text) is None


def test_validator_already_used_and_compose():
    assert "already used" in check_descriptor("The Contains Seven.", used=["contains seven"])
    assert normalize("  A  House, in CA! ") == "house in ca"
    assert check_descriptor("contains eight", used=["contains seven"]) is None
    one_line = compose(lambda t: "more than one line" if "\n" in t else None,
                       lambda t: check_descriptor(t, used=["x"]))
    assert one_line("a\nb") == "more than one line"
    assert "group" in one_line(GROUP)
    assert one_line("has a pool") is None
    assert "too long" not in (check_descriptor("x" * 50) or "")
    assert check_descriptor("x" * 50, validator=DescriptorValidator(max_chars=40)).startswith("the answer has 50")


# ------------------------------------------------------------------------------ mining
def test_several_candidates_from_one_call(fake_server):
    fake_server.mine_answer = {"characteristics": ["contains seven", "contains eight", "is odd"]}
    fm = make(fake_server)
    got = fm.mine_candidates(numbers(3), numbers(3, start=3), 3, exclude=["contains nine"])
    assert got == ["contains seven", "contains eight", "is odd"]
    assert fake_server.n_requests == 1 and fm.stats.calls == {"mine": 1}
    body = fake_server.requests[0]
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["characteristics"]
    user = fake_server.user_text(body)
    assert "Name 3 different characteristics" in user and '"contains nine"' in user
    assert fm.stats.rejected == 0
    # more answers than asked for: only n are kept
    assert fm.mine_candidates(numbers(3), numbers(3, start=3), 2) == ["contains seven", "contains eight"]


def test_group_level_and_comparative_answers_are_rejected_and_asked_again(fake_server):
    fm = make(fake_server)
    fake_server.push(answer(GROUP, "contains seven", COMPARATIVE),
                     answer("contains eight", "is odd"))
    got = fm.mine_candidates(numbers(3), numbers(3, start=3), 3)
    assert got == ["contains seven", "contains eight", "is odd"]
    assert fake_server.n_requests == 2
    again = fake_server.user_text(fake_server.requests[1])
    # the second request names the rejected answers with their reasons, and asks for two others
    assert json.dumps(GROUP) in again and "describes the groups" in again
    assert json.dumps(COMPARATIVE) in again and "compares the groups" in again
    assert '"contains seven"' in again.split("were accepted")[1]
    assert "Give 2 other characteristics" in again
    assert [r["rule"] for r in fm.stats.rejections] == ["group-level", "comparative"]
    assert all(r["attempt"] == 1 and not r["skipped"] for r in fm.stats.rejections)
    assert fm.stats.rejected == 2 and fm.stats.retries == 1


def test_what_fails_twice_is_recorded_and_skipped(fake_server):
    fm = make(fake_server)
    fake_server.push(answer(GROUP, "contains seven"), answer("both groups have even numbers"))
    assert fm.mine_candidates(numbers(3), numbers(3, start=3), 2) == ["contains seven"]
    skipped = [r for r in fm.stats.rejections if r["skipped"]]
    assert [r["text"] for r in skipped] == ["both groups have even numbers"] and skipped[0]["attempt"] == 2
    # nothing usable in either answer: a MiningError naming the reason, both recorded
    fake_server.push(answer(GROUP), answer("the positive items are larger"))
    with pytest.raises(MiningError, match="describes the groups"):
        fm.mine(numbers(3), numbers(3, start=3))
    assert fm.stats.rejected == 4
    # an answer repeating an excluded characteristic counts as used
    fake_server.push(answer("Contains Seven"), answer("contains eight"))
    assert fm.mine(numbers(3), numbers(3, start=3), exclude=["contains seven"]) == "contains eight"


def test_unreadable_answer_is_asked_again_with_the_reason(fake_server):
    fm = make(fake_server)
    fake_server.push(("content", "I think sevens"), answer("contains seven"))
    assert fm.mine_candidates(numbers(2), numbers(2, start=2), 1) == ["contains seven"]
    assert "could not be used" in fake_server.user_text(fake_server.requests[1])
    with pytest.raises(GenZInputError):
        fm.mine_candidates(numbers(2), numbers(2, start=2), 0)


def test_rejected_candidates_are_never_judged_in_a_fit(fake_server):
    """Discovery with the LLM miner: the rejected answers never reach a judging request, and the
    rejections reach the fit's history through the FM counters."""
    from genz import GenZRegressor

    items = numbers(24)
    y = np.array([float(it.text.split()[0]) for it in items])
    y = y + 5.0 * np.array(["seven" in it.text or "eight" in it.text for it in items])
    fake_server.mine_answer = {"characteristics": [GROUP, "contains seven", "contains eight"]}
    fm = make(fake_server, batch_size=12, max_exemplars=6)
    est = GenZRegressor(fm=fm, model="linear", algorithm="simple", add_only=1, advanced={"n_candidates": 3},
                        random_state=0)
    est.fit(items, y)
    judged = {fake_server.descriptor_of(b) for b in fake_server.requests if "<items>" in fake_server.user_text(b)}
    assert judged and all(GROUP not in j for j in judged)
    assert any("contains seven" in j for j in judged) and any("contains eight" in j for j in judged)
    recs = [r for r in est.history_ if r["fm"].get("rejected")]
    assert recs and recs[0]["fm"]["rejections"][0]["text"] == GROUP
    assert GROUP not in est.features_


def test_cached_mine_candidates_replays_without_calls(fake_server, tmp_path):
    fake_server.mine_answer = {"characteristics": ["contains seven", "contains eight"]}
    path = tmp_path / "c.sqlite"
    a = CachedFM(make(fake_server), path).mine_candidates(numbers(3), numbers(3, start=3), 2)
    fm2 = make(fake_server)
    assert CachedFM(fm2, path).mine_candidates(numbers(3), numbers(3, start=3), 2) == a
    assert fm2.stats.total_calls == 0


# ------------------------------------------------------------------------------ single-item mode
def test_single_token_mode_with_logprobs(fake_server):
    fm = make(fake_server, judge_mode="single", top_logprobs=5)
    items = numbers(6)
    j = fm.judge("has a seven", items)
    assert list(j.values) == ["seven" in it.text for it in items]
    assert np.allclose(j.prob, np.where(j.values, 0.9, 0.1))  # from the top log-probabilities
    assert fake_server.n_requests == 6 and fm.stats.calls == {"judge": 6} and fm.stats.judgments == 6
    systems = {b["messages"][0]["content"] for b in fake_server.requests}
    assert len(systems) == 1 and "<characteristic>\n\"has a seven\"\n</characteristic>" in systems.pop()  # one shared prefix
    for b, it in zip(fake_server.requests, items):
        assert b["max_tokens"] == 1 and b["logprobs"] is True and b["top_logprobs"] == 5
        assert "response_format" not in b
        user = b["messages"][-1]["content"]
        assert user.startswith("<item>\n") and json.dumps(it.render()) in user


def test_single_mode_answers_without_logprobs_and_caches_apart(fake_server, tmp_path):
    fm = make(fake_server, judge_mode="single")
    items = numbers(2)
    fake_server.with_logprobs = False
    fake_server.push(("content", "Maybe"), ("content", "Maybe"))
    with pytest.raises(FMError, match="n0.*not yes or no"):
        fm.judge("has a zero", items[:1])
    assert fake_server.n_requests == 2  # asked once more, then a clear error, no guess
    j = fm.judge("has a one", items)
    assert list(j.values) == [False, True] and j.prob is None
    fake_server.with_logprobs = True
    fake_server.single_word = str.capitalize  # "Yes" / "No"
    j = fm.judge("has a one", items)
    assert list(j.values) == [False, True]
    # single and batch answers are cached under different templates
    path = tmp_path / "c.sqlite"
    CachedFM(make(fake_server, judge_mode="single"), path).judge("has a one", items)
    batch = make(fake_server, judge_mode="batch")
    CachedFM(batch, path).judge("has a one", items)
    assert batch.stats.calls == {"judge": 1}
    again = make(fake_server, judge_mode="single")
    assert np.array_equal(CachedFM(again, path).judge("has a one", items).values, [False, True])
    assert again.stats.total_calls == 0
    with pytest.raises(GenZInputError, match="judge_mode"):
        make(fake_server, judge_mode="pairs")


def test_single_mode_concurrent_and_streams_into_cache(fake_server, tmp_path):
    fm = make(fake_server, judge_mode="single", concurrency=3)
    items = numbers(9)
    path = tmp_path / "c.sqlite"
    fake_server.refuse = lambda text: text.startswith("5 ")
    cached = CachedFM(fm, path)
    with pytest.raises(FMError, match="n5"):
        cached.judge("has a seven", items)
    fake_server.refuse = lambda text: False
    fm2 = make(fake_server, judge_mode="single")
    j = CachedFM(fm2, path).judge("has a seven", items)
    assert list(j.values) == ["seven" in it.text for it in items]
    assert fm2.stats.total_calls < 9  # the answers received before the error were kept


def test_single_token_probability_rule():
    """P(yes) = Σ p(yes-like) / (Σ p(yes-like) + Σ p(no-like)) over the first token's top
    alternatives; the judgment is the more probable answer even when the greedy token is
    neither (as a yes/no grammar would decode)."""
    from types import SimpleNamespace as NS

    from genz.fm.openai_compat import _first_token_prob

    def lp(greedy, alts):
        top = [NS(token=t, logprob=np.log(p)) for t, p in alts]
        return NS(content=[NS(token=greedy, logprob=top[0].logprob, top_logprobs=top)])

    assert _first_token_prob(lp("The", [("The", 0.2), (" yes", 0.3), ("No", 0.5)])) == pytest.approx(0.375)
    assert _first_token_prob(lp("Yes", [("Yes", 0.6), ("yes", 0.2), ("no", 0.2)])) == pytest.approx(0.8)
    assert _first_token_prob(lp("The", [("The", 0.9), ("A", 0.1)])) is None
    assert _first_token_prob(None) is None


def test_cli_options_reach_the_backend(fake_server, tmp_path):
    from genz.commands.fm import fm_from_options

    fm = fm_from_options(fm="openai", fm_model="fake-model", base_url=fake_server.url, no_cache=True,
                         judge_mode="single")
    assert isinstance(fm, OpenAIFM) and fm.judge_mode == "single"
    assert fm.cache_identity("judge")[2].startswith("judge-single-2+")
    assert make(fake_server).cache_identity("judge")[2].startswith("judge-2+")
