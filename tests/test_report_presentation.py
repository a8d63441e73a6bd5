"""Report presentation (issue 11): example items whole and expandable with the phrase
highlighted, unique timeline labels, one number notation, no cost card for the offline
engine, discarded candidates with their reasons."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from genz.cli import main
from genz.report.figures import _unique_short
from genz.report.page import _example, _num, _phrases
from tests.cars_data import make_cars


@pytest.mark.parametrize("value, text", [
    (0.001, "0.001"), (1.5, "1.5"), (123456.7, "123,500"), (12345, "12,345"), (0.12345, "0.1235"),
    (-3320.4, "-3,320"), (0.0, "0"), (17704, "17,704"), (2.26e-13, "2.260e-13"), (None, "–"), (float("nan"), "–"),
])
def test_one_number_notation(value, text):
    assert _num(value) == text


def test_timeline_labels_stay_unique():
    a = "(not ('mileage' is between 236700 and 242300)) and (not (mentions \"has a sunroof\"))"
    b = "(not ('mileage' is between 236700 and 242300)) and (not (mentions \"one owner\"))"
    c = "x" * 80
    labels = _unique_short([a, b, c, c + "y", "short"], 55)
    assert len(set(labels)) == 5 and all(len(s) <= 60 for s in labels)
    assert labels[0].endswith('"has a sunroof"))') and labels[4] == "short"


def test_example_items_whole_with_the_phrase_highlighted():
    text = ("2008 Bmw for sale. Cold air conditioning. Recently serviced. Garage kept. Non smoker. "
            "Has a sunroof. Clean title. <b>One owner</b>.")
    phrases = _phrases('(mentions "has a sunroof") and (not (mentions "one owner"))')
    assert phrases == ["has a sunroof", "one owner"]
    html = _example(text, phrases, 80)
    summary = re.search(r"<summary>(.*)</summary>", html).group(1)
    assert "<mark>Has a sunroof</mark>" in summary and summary.startswith("…")  # the part that matters
    full = re.search(r'<div class="full">(.*)</div>', html).group(1)
    assert full.startswith("2008 Bmw for sale.") and "<mark>One owner</mark>" in full  # the whole item
    assert "&lt;b&gt;" in full and "<b>" not in full  # item text is escaped
    assert "<details" not in _example("Has a sunroof.", phrases)  # short items need no expanding


def test_report_of_an_offline_run(tmp_path):
    df = make_cars(400, seed=3)
    df.to_csv(tmp_path / "cars.csv", index=False)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["fit", "--data", str(tmp_path / "cars.csv"), "--target", "price", "--text",
                                  "description", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["report", str(out), "-q"])
    assert r.exit_code == 0, r.output
    html = (out / "report" / "report.html").read_text()
    assert "tokens · cost" not in html  # the offline engine costs nothing: no cost card
    assert '<details class="item">' in html and "<mark>" in html
    assert "@media (max-width: 900px)" in html


def test_discarded_candidates_are_listed_with_their_reasons():
    from types import SimpleNamespace

    from genz.report.page import _discards

    hist = [{"step": 1, "action": "add", "feature": "a"},
            {"step": 2, "action": "discard", "feature": "mentions \"x<y\"", "reason": "active for 1% of the items"},
            {"step": 3, "action": "discard", "feature": None, "reason": "mining failed: no predicate separates"}]
    html = _discards(SimpleNamespace(history=hist))
    assert "Discarded candidates (2)" in html
    assert "step 2: mentions &quot;x&lt;y&quot; — active for 1% of the items" in html
    assert "step 3: no candidate — mining failed" in html
    assert _discards(SimpleNamespace(history=hist[:1])) == ""
