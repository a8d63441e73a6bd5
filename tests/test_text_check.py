"""The text check (genz.selection.text_check, GenZRegressor.text_check_): a practitioner's ridge on the
TF-IDF of the items' texts, fitted on the discovery rows and scored on the untouched rows against the
discovered structure; a report (a CheaperRouteWarning when it won), never the predictor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from genz import GenZRegressor
from genz.checks import text_line, warn_cheaper_routes
from genz.errors import CheaperRouteWarning
from genz.items import Item
from genz.selection import TEXT_MAX_TERMS, text_check

WORDS = [f"w{k:03d}" for k in range(150)]


def _diffuse(n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    """Each text is 20 words from a vocabulary of 150, each word with a small effect of its own: no
    short list of binary features says it, a ridge on the words does."""
    rng = np.random.default_rng(seed)
    weight = np.random.default_rng(7).normal(0, 0.25, len(WORDS))
    idx = rng.integers(0, len(WORDS), size=(n, 20))
    y = weight[idx].sum(axis=1) + rng.normal(0, 0.3, n)
    return [Item(id=f"d{seed}-{i}", text=" ".join(WORDS[j] for j in row)) for i, row in enumerate(idx)], y


def _phrase(n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    """A step with one phrase among filler words: one feature says it exactly."""
    rng = np.random.default_rng(seed)
    has = rng.random(n) < 0.4
    texts = [" ".join(rng.choice(WORDS, 12)) + (" sea view" if h else " street view") for h in has]
    return [Item(id=f"p{seed}-{i}", text=t) for i, t in enumerate(texts)], 2.0 * has + rng.normal(0, 0.3, n)


def test_the_check_is_the_ridge_a_practitioner_fits_on_the_training_rows_only():
    """Catches: the vocabulary or the penalty learned on the untouched rows, another loss scale, the
    difference's sign flipped, a check on items without text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import RidgeCV

    items, y = _diffuse(300, 1)
    Y = y[:, None]
    tr, te = np.arange(200), np.arange(200, 300)
    genz = np.full(100, 0.5)
    tc = text_check(items, genz, None, Y, tr, te)
    texts = [it.text for it in items]
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=TEXT_MAX_TERMS, sublinear_tf=True)
    X = vec.fit_transform(texts[:200])
    pred = RidgeCV(alphas=np.logspace(-2, 3, 16)).fit(X, y[:200]).predict(vec.transform(texts[200:]))
    loss = (y[200:] - pred) ** 2 / y[:200].var()
    assert tc["ridge_loss"] == pytest.approx(loss.mean())
    assert tc["diff"] == pytest.approx((genz - loss).mean()) and tc["terms"] == len(vec.vocabulary_)
    assert tc["better"] == ("ridge" if tc["diff"] > tc["se"] else "genz" if tc["diff"] < -tc["se"] else "tie")
    assert text_check([Item(id=str(i), attributes={"x": 1.0}) for i in range(300)], genz, None, Y, tr, te) is None
    assert text_check(items, genz, None, Y, tr, np.zeros(0, int)) is None


def test_a_fit_says_when_a_ridge_on_the_words_predicts_better_and_stays_quiet_when_not():
    """Catches: the check never run by a fit, its warning missing where the words' ridge wins, or
    issued where the features win."""
    items, y = _diffuse(500, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=2, random_state=0).fit(items, y)
    tc = est.text_check_
    assert tc is not None and tc["better"] == "ridge" and tc["ridge_loss"] < tc["predictor_loss"]
    assert any(issubclass(c.category, CheaperRouteWarning) and "texts' TF-IDF" in str(c.message) for c in caught)
    assert "BETTER" in text_line(tc)
    items, y = _phrase(400, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=2, random_state=0).fit(items, y)
    assert est.text_check_["better"] != "ridge"
    assert not any("texts' TF-IDF" in str(c.message) for c in caught)


def test_no_warning_when_what_the_predictor_uses_beats_the_words_ridge():
    """Catches: a warning against the discovered features where the predictor took a route that
    predicts better than the words' ridge."""
    tc = {"rows": 100, "terms": 50, "genz_loss": 0.9, "ridge_loss": 0.6, "diff": 0.3, "se": 0.1, "better": "ridge",
          "predictor": "numbers route", "predictor_loss": 0.4}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_cheaper_routes(None, None, tc)
    assert not caught and "not better than what the predictor uses, the numbers route" in text_line(tc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_cheaper_routes(None, None, {**tc, "predictor_loss": 0.9})
    assert len(caught) == 1
