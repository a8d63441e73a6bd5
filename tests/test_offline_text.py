"""Issue 19: the offline engine reads text and numbers as a person would, and writes findings a
person can read. Each test names the wrong implementation it catches."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genz import Item
from genz.fm.predicates import (Mentions, PredicateFM, cut_between, cut_upper, is_statement,
                                parse_predicate, parse_text)
from genz.fm.predicates.numfmt import digits, fmt
from genz.fm.predicates.phrases import dominant_neighbour, related_phrases
from genz.fm.predicates.textfields import NumberKey
from tests._bench import fewest_digits


# -- reading a text ---------------------------------------------------------------------------

def test_fields_parts_and_numbers_of_a_description():
    """Catches: a colon taken as a sentence end (fields lost), a comma in 1,656 splitting the
    number, dates and times read as numbers, bare numbers kept, plural units as other keys."""
    s = parse_text("Garage: attached, built 2003, 2 cars, 548 sq ft. Overall quality: 6/10. Lot area: 8,450 sq ft. "
                   "Sold 2/2008 at 10:30 for 15 people. Built 1960, remodeled 1995. A house with 4 bedrooms. "
                   "Central air: yes. Garage2: 1 car. It sold in 2008.")
    assert s.fields["garage"] == ["attached", "built 2003", "2 cars", "548 sq ft"]
    assert s.fields["central air"] == ["yes"]
    got = {(k.label, k.unit): v for k, v in s.numbers.items()}
    assert got == {("garage built", ""): 2003, ("garage", "car"): 2, ("garage", "sq ft"): 548,
                   ("overall quality", "/10"): 6, ("lot area", "sq ft"): 8450, ("", "people"): 15,
                   ("built", ""): 1960, ("remodeled", ""): 1995, ("", "bedroom"): 4, ("garage2", "car"): 1}
    assert NumberKey("lot area", "sq ft") in s.grouped and NumberKey("garage", "sq ft") not in s.grouped
    assert "Built 1960" in s.free and "It sold in 2008" in s.free


def test_money_percent_ratings_ordinals_and_decimals():
    s = parse_text("Monthly fees: $1,250. Rated 4.5/5 by 120 reviewers. 3rd floor, 15% down. Distance: 0.4 miles.")
    got = {(k.label, k.unit): v for k, v in s.numbers.items()}
    assert got == {("monthly fees", "$"): 1250, ("rated", "/5"): 4.5, ("", "reviewer"): 120, ("floor", ""): 3,
                   ("", "%"): 15, ("distance", "mile"): 0.4}


# -- thresholds at the data's precision ---------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.floats(1e-6, 1e12), st.floats(1e-9, 10.0))
def test_a_cut_separates_its_neighbours_with_the_fewest_digits(a, rel):
    """Catches: the raw data value (0.005649978676881689), float noise (1.9050000000000002e+303),
    a cut outside (a, b], and more digits than needed."""
    b = a * (1 + rel)
    if not a < b:
        return
    t = cut_between(a, b)
    assert a < t <= b
    assert digits(t) == fewest_digits(a, b), (a, b, t)
    assert float(fmt(t)) == t  # written exactly
    u = cut_upper(a, b)
    assert a <= u < b


@pytest.mark.parametrize("a,b,want", [
    (6, 7, "7"), (1960, 1990, "1970"), (0.005649978676881689, 0.0057211, "0.0057"),
    (1.9050000000000002e+303, 1.95e303, "1.93e+303"), (-3, -2, "-2"), (-0.5, 0.3, "0"), (1190, 1195, "1192"),
])
def test_cuts_of_the_issue(a, b, want):
    assert fmt(cut_between(a, b)) == want


def test_mined_thresholds_print_with_the_digits_that_separate_the_data():
    """Catches: thresholds written as the observed value (``'x' is below 0.005649978676881689``)."""
    rng = np.random.default_rng(0)
    x = rng.random(300) * 0.01
    items = [Item(str(i), attributes={"x": float(v)}) for i, v in enumerate(x)]
    pos = [it for it in items if it.attributes["x"] >= 0.0056]
    neg = [it for it in items if it.attributes["x"] < 0.0056]
    for d in PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5):
        p = parse_predicate(d)
        t = p.t if hasattr(p, "t") else p.lo
        lo, hi = x[x < t].max(), x[x >= t].min()
        assert digits(t) == fewest_digits(lo, hi), d


# -- statements, not fragments ------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["yes", "two", "ages", "all styles", "good", "of the", "a", "no", "first"])
def test_fragments(phrase):
    assert not is_statement(phrase)


@pytest.mark.parametrize("phrase", ["water damage", "sunroof", "overpriced", "has a sunroof", "good condition",
                                    "no accidents", "live music"])
def test_statements(phrase):
    assert is_statement(phrase)


def _groups(pos_texts, neg_texts):
    return ([Item(f"p{i}", t) for i, t in enumerate(pos_texts)], [Item(f"n{i}", t) for i, t in enumerate(neg_texts)])


def test_a_yes_is_read_with_its_field():
    """The issue's ``mentions "yes"``: the engine says which field's yes. Catches: bare
    fragments offered; ':' ending the phrase's context."""
    pos, neg = _groups([f"Central air: yes. Pool: no. Lot {i}." for i in range(30)],
                       [f"Central air: no. Pool: yes. Lot {i}." for i in range(30)])
    cands = PredicateFM().mine_candidates(pos, neg, 5)
    assert cands[0] in ("the text's 'central air' is \"yes\"", "the text's 'central air' is \"no\"",
                        "the text's 'pool' is \"yes\"", "the text's 'pool' is \"no\""), cands
    assert not any(c.startswith("mentions") and not is_statement(parse_predicate(c).phrase) for c in cands)


def test_a_fragment_gets_its_clause_or_is_not_offered():
    """"ages" always comes as "all styles and ages": shown whole (any number of texts)."""
    pos, neg = _groups(["Two family conversion, all styles and ages. Quiet street."] * 4,
                       ["One story house. Quiet street."] * 4)
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    for c in cands:
        p = parse_predicate(c)
        assert not isinstance(p, Mentions) or is_statement(p.phrase), cands


def test_a_word_of_a_fixed_expression_is_not_offered_alone():
    """"damage" comes as "water damage" or "damage deposit": the longer phrase is offered."""
    texts = ["Some water damage in the hall."] * 12 + ["Damage deposit required."] * 8 + ["Nice flat."] * 20
    assert dominant_neighbour("damage", texts) >= 0.5 and dominant_neighbour("overpriced", texts) == 0
    pos, neg = _groups(texts[:12] + texts[12:16], texts[16:])
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    assert 'mentions "damage"' not in cands and any("water damage" in c for c in cands), cands


def test_near_duplicates_are_not_offered_again():
    """Catches: ``mentions "http"`` beside ``mentions "https"`` (the issue's redundant pair)."""
    assert related_phrases("http", "https") and related_phrases("garage", "attached garage")
    assert related_phrases("http", "docs at https site") and not related_phrases("in unit", "in building")
    pos, neg = _groups(["Docs at https site."] * 20 + ["Docs at http site."] * 6, ["Docs at ftp site."] * 26)
    fm = PredicateFM(conjunctions=False)
    first = next(c for c in fm.mine_candidates(pos, neg, 10) if "https" in c)
    again = fm.mine_candidates(pos, neg, 10, exclude=[first])
    assert not any("http" in c for c in again), again


def test_the_complement_of_an_excluded_field_value_is_not_offered():
    """Catches: ``'parking' is one of [every other value]`` after ``'parking' is "garage"``."""
    vals = ["garage", "street", "driveway", "none"]
    pos, neg = _groups([f"Parking: garage. Id {i}." for i in range(20)],
                       [f"Parking: {vals[1 + i % 3]}. Id {i}." for i in range(30)])
    fm = PredicateFM(conjunctions=False)
    garage = "the text's 'parking' is \"garage\""
    assert fm.mine(pos, neg) == garage
    col = parse_predicate(garage).evaluate(pos + neg)
    for c in fm.mine_candidates(pos, neg, 5, exclude=[garage]):
        agree = (parse_predicate(c).evaluate(pos + neg) == col).mean()
        assert 0.02 < agree < 0.98, c


def test_no_outer_negation_is_offered():
    """Catches: ``not (mentions "drama")`` (a double negative once its weight is negative)."""
    pos, neg = _groups([f"A calm film {i}." for i in range(20)], [f"A drama film {i}." for i in range(20)])
    fm = PredicateFM()
    cands = fm.mine_candidates(pos, neg, 5)
    assert cands[0] in ('mentions "a drama film"', 'mentions "a calm film"'), cands
    assert not any("the text's" in c for c in cands), cands  # "film 3" identifies an item
    assert not any(c.startswith("not (") or " not (" in c for c in cands)


def test_numbers_in_text_are_thresholds_with_their_field():
    """The issue's text table: "rated 6/10", "1,656 sq ft", "built 1960" become thresholds."""
    rng = np.random.default_rng(1)
    items, lab = [], []
    for i in range(200):
        q, area, year = int(rng.integers(1, 11)), int(rng.integers(500, 3000)), int(rng.integers(1900, 2020))
        items.append(Item(str(i), f"Listing {i}. Overall quality: {q}/10. Living area: {area:,} sq ft. Built {year}."))
        lab.append(q >= 7)
    pos = [it for it, l in zip(items, lab) if l]
    neg = [it for it, l in zip(items, lab) if not l]
    assert PredicateFM().mine(pos, neg) == "the text's 'overall quality' is at least 7/10"
    lab = [int(it.text.split("Built ")[1][:4]) >= 1990 for it in items]
    d = PredicateFM().mine([it for it, l in zip(items, lab) if l], [it for it, l in zip(items, lab) if not l])
    assert d.startswith("the text's 'built' is at least 19"), d
    assert parse_predicate(d).evaluate(items).tolist() == lab


def test_text_descriptors_flip_in_discovery_and_keep_the_sign_of_their_effect():
    """Discovery's coupling flips a descriptor that fits the negative group: the feature is the
    descriptor as written and its weight has the sign of its effect (no double negative)."""
    from genz import GenZRegressor

    rng = np.random.default_rng(3)
    items, y = [], []
    for i in range(240):
        dmg = rng.random() < 0.4
        items.append(Item(str(i), f"Flat {i}. Floor: {int(rng.integers(1, 9))}. " +
                          ("Some water damage in the hall." if dmg else "Freshly painted.")))
        y.append(-1.0 * dmg + 0.05 * rng.standard_normal())
    est = GenZRegressor(add_only=1, random_state=0).fit(items, np.array(y))
    assert [str(f) for f in est.features_] == ['mentions "some water damage"']
    assert float(np.ravel(est.coef_)[0]) < -0.8


def test_genz_show_full_prints_lists_whole(tmp_path):
    """Catches: lists cut with "…" and no way to see them whole."""
    import json

    from click.testing import CliRunner

    from genz.cli import main

    values = [f"Neighbourhood {i}" for i in range(9)]
    feat = "the text's 'neighborhood' is one of " + json.dumps(values)
    row = {"feature": feat, "target": 0, "weight": 0.2, "ci_low": 0.1, "ci_high": 0.3, "epsilon": 0.01,
           "epsilon_note": "", "share_yes": 0.4, "heldout_gain": 0.01, "heldout_gain_se": 0.002,
           "significant": True, "origin": "mined"}
    (tmp_path / "model.json").write_text(json.dumps({"feature_table": [row], "target_names": ["y"]}))
    short = CliRunner().invoke(main, ["show", str(tmp_path)])
    assert short.exit_code == 0 and "…" in short.output and feat not in short.output
    assert "--full" in short.output
    full = CliRunner().invoke(main, ["show", str(tmp_path), "--full"])
    assert full.exit_code == 0 and feat in full.output and "--full" not in full.output


def test_a_rare_label_is_free_text():
    """A title's colon ("Star Wars: Episode IV") is not a field: catches "the text lists 'star
    wars'" in place of ``mentions "star wars"``."""
    sw = ["Star Wars: Episode IV - A New Hope (1977)", "Star Wars: Episode V - The Empire Strikes Back (1980)",
          "Star Wars: Episode VI - Return of the Jedi (1983)", "Star Wars: The Clone Wars (2008)"]
    words = ["river", "night", "garden", "winter", "city", "dream", "road", "house", "storm", "light"]
    other = [f"The {words[i % 10]} of {words[(i // 10) % 10]} {['I', 'II', 'III'][i % 3]} ({1950 + i % 60})"
             for i in range(196)] + ["Alien: Resurrection (1997)", "Mission: Impossible (1996)"]
    pos, neg = _groups(sw, other)
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    assert 'mentions "star wars"' in cands[:2], cands
    assert not any(c.startswith("the text lists") or "'star wars'" in c for c in cands), cands


@pytest.mark.parametrize("phrase", ["building s", "s lobby", "the owner s", "don t"])
def test_what_an_apostrophe_leaves_of_a_word_never_ends_or_starts_a_phrase(phrase):
    """Catches: "building's" tokenised to "building s" and offered as mentions "building s"
    (seen in the planted mixed task)."""
    from genz.fm.predicates.phrases import is_readable_phrase

    assert not is_readable_phrase(phrase)


def test_numbers_that_name_restate_or_date_get_no_thresholds():
    """Catches: zip codes read as quantities ("the text's 'zip code' is between 92260 and
    92600"), a year before a make read as a count ("the text's number of bmw"), and a number
    that only repeats a numeric attribute offered beside it."""
    from genz.fm.predicates.textfields import NumberKey, parse_text

    nums = parse_text("2008 Subaru for sale, 1999 square feet, in zip code 85255. Call phone 5551234.").numbers
    assert NumberKey("year", "") in nums and nums[NumberKey("year", "")] == 2008
    assert not any("code" in k.label or "phone" in k.label or k.unit == "subaru" for k in nums)
    items = [Item(id=str(i), text=f"A house of {a} square feet.", attributes={"area": a, "city": c})
             for i, (a, c) in enumerate(zip(range(1000, 4000, 50), ["x", "y", "z"] * 20))]
    pos = [it for it in items if it.attributes["area"] >= 2500]
    neg = [it for it in items if it.attributes["area"] < 2500]
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    assert any(c.startswith("'area'") for c in cands)
    assert not any("the text's" in c for c in cands), cands


def test_a_phrase_mostly_said_freely_is_offered_whole():
    """The planted text task's "noisy street", said freely in three of its four sentences and
    once after a label ("Be aware: a noisy street runs past ..."): the free phrase holds on every
    text that has it, and is offered. Catches a free phrase refused as soon as a quarter of its
    texts have it inside a field (the rule was 75% free, so a draw with 74% lost the term)."""
    free = ["It sits on a noisy street.", "The noisy street can be heard at night.", "Windows face a noisy street."]
    pos_texts = [f"{free[i % 3]} Bright rooms." if i % 5 < 3 else "Be aware: a noisy street runs past. Bright rooms."
                 for i in range(40)]  # 60% free
    neg_texts = ["Be aware: the stairs are steep. Bright rooms." if i % 3 == 0 else "A quiet flat. Bright rooms."
                 for i in range(40)]
    pos, neg = _groups(pos_texts, neg_texts)
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    assert 'mentions "noisy street"' in cands[:2], cands  # beside its equal, the negatives' "a quiet flat"


def test_a_phrase_mostly_inside_a_field_is_offered_with_its_field():
    """Catches a free phrase offered whatever share of its texts has it inside a field:
    "garden view" said after "Outlook:" in 70% of the texts that have it is the field's value."""
    pos_texts = ["Outlook: garden view. Bright rooms." if i % 10 < 7 else "A garden view from the kitchen. Bright rooms."
                 for i in range(40)]
    neg_texts = ["Outlook: street. Bright rooms." if i % 2 else "A quiet flat. Bright rooms." for i in range(40)]
    pos, neg = _groups(pos_texts, neg_texts)
    cands = PredicateFM(conjunctions=False).mine_candidates(pos, neg, 5)
    assert 'mentions "garden view"' not in cands, cands
    assert any(c.startswith("the text's 'outlook'") and "garden view" in c for c in cands), cands
