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
from genz.selection import text_check
from genz.text_ridge import MAX_TERMS

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
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=MAX_TERMS, sublinear_tf=True)
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
    from genz import Selection

    items, y = _diffuse(500, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=False)).fit(items, y)
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


def test_the_text_route_predicts_like_the_words_ridge_and_a_saved_model_keeps_it(tmp_path):
    """Selection(text_route=True). Catches: the route not taken where the words' ridge wins, its
    prediction left out of predict (or computed from other rows' vocabulary), an evaluation set scored
    without it, a saved model that forgets it, text_route=False taking it, the default not taking it."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import RidgeCV

    from genz import Selection

    items, y = _diffuse(500, 2)
    new, y_new = _diffuse(300, 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=True)).fit(
            items, y, eval_set=(new, y_new))
    r = est.numbers_route_
    assert r["inputs"] == "text" and r["targets"] == 1 and est.n_side_inputs_ == 1
    tc = est.text_check_
    assert tc["route"] and tc["union_gain"] > 2 * tc["union_se"] and tc["predictor_loss"] == tc["union_loss"]
    assert "took the text route" in text_line(tc) and "text route" in est.history_[-1]["reason"]
    warned = any("texts' TF-IDF" in str(c.message) for c in caught)  # only if the ridge alone beat the union
    assert warned == (tc["ridge_loss"] < tc["union_loss"])
    texts = [it.text for it in items]
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=MAX_TERMS, sublinear_tf=True)
    ridge = RidgeCV(alphas=np.logspace(-2, 3, 16)).fit(vec.fit_transform(texts), y)
    p_ridge = ridge.predict(vec.transform([it.text for it in new]))
    rmse = lambda p: float(np.sqrt(np.mean((np.asarray(p).ravel() - y_new) ** 2)))  # noqa: E731
    p = np.asarray(est.predict(new))
    assert rmse(p) < 1.05 * rmse(p_ridge)
    off = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=False)).fit(items, y)
    assert off.numbers_route_ is None and rmse(p_ridge) < 0.6 * rmse(off.predict(new))
    assert GenZRegressor(cycles=2, random_state=0).fit(items, y).numbers_route_["inputs"] == "text"  # the default
    assert est.history_[-1]["test"]["rmse"] == pytest.approx(rmse(p))
    est.save(tmp_path / "m")
    np.testing.assert_allclose(np.asarray(GenZRegressor.load(tmp_path / "m").predict(new)), p)


def test_the_text_route_with_side_inputs_as_an_array():
    """Catches: the side inputs left out of the words' ridge or of predict's check."""
    from genz import Selection

    items, y = _diffuse(400, 6)
    U = np.random.default_rng(0).normal(size=(400, 1))
    est = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=True)).fit(items, y + U[:, 0], U)
    assert est.numbers_route_["inputs"] == "text" and est.n_side_inputs_ == 2
    new, y_new = _diffuse(100, 7)
    U_new = np.random.default_rng(1).normal(size=(100, 1))
    p = np.asarray(est.predict(new, U_new))
    assert np.corrcoef(p, y_new + U_new[:, 0])[0, 1] > 0.8
    with pytest.raises(Exception, match="fitted with 1 side inputs; pass U"):
        est.predict(new)


def test_genz_fit_text_route_and_genz_predict(tmp_path):
    import pandas as pd

    from tests._cli_runs import fit_and_predict

    items, y = _diffuse(400, 8)
    new, y_new = _diffuse(100, 9)
    frame = lambda its: pd.DataFrame({"id": [it.id for it in its], "post": [it.text for it in its]})  # noqa: E731
    out, p = fit_and_predict(tmp_path, frame(items).assign(score=y), "score", frame(new), "--cycles", "2",
                             "--id", "id", "--text", "post", "--text-route")
    assert "took the text route" in out
    assert np.corrcoef(p, y_new)[0, 1] > 0.8


def test_the_text_route_stays_off_where_the_features_say_it_and_its_weight_is_learned_out_of_fold():
    """Catches: the route taken whatever its union gain (a planted phrase, which one feature says
    exactly, would get the words' ridge beside it, and the fit would change), and the out-of-fold
    prediction made by a ridge that saw the row (its weight in the predictor then inflated)."""
    from genz import Selection
    from genz.text_ridge import TextRidge, item_texts, out_of_fold

    items, y = _phrase(400, 3)
    est = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=True)).fit(items, y)
    default = GenZRegressor(cycles=2, random_state=0, selection=Selection(text_route=False)).fit(items, y)
    tc = est.text_check_
    assert est.numbers_route_ is None and not tc.get("route") and tc["union_gain"] <= 2 * tc["union_se"]
    assert est.features_ == default.features_
    np.testing.assert_allclose(np.asarray(est.predict(items[:50])), np.asarray(default.predict(items[:50])))
    docs, Y = _diffuse(200, 4)
    texts = item_texts(docs)
    P = out_of_fold(texts, None, Y, 4, 11)
    fold_of = np.random.default_rng([11, 23]).permutation(len(texts)) % 4
    for k in range(4):  # each fold's rows predicted by a ridge fitted on the other folds only
        m = TextRidge().fit(texts[fold_of != k], None, Y[fold_of != k])
        np.testing.assert_allclose(P[fold_of == k, 0], m.predict(texts[fold_of == k], None).ravel())
    inside = TextRidge().fit(texts, None, Y).predict(texts, None).ravel()
    assert np.mean((inside - Y) ** 2) < 0.8 * np.mean((P[:, 0] - Y) ** 2)  # (in-sample looks better)


def test_the_text_route_needs_a_gain_a_user_would_notice():
    """genz.selection.text_route_gains: above TEXT_UNION_SE standard errors *and* above
    TEXT_UNION_REL of the structure's loss. Catches: the share test dropped (a 0.4% gain at z 4
    taking the route), the standard errors dropped (a 5% gain at z 1.5 taking it), the share
    measured against the wrong loss, and a line that does not say why such a gain was not enough."""
    from genz.selection import TEXT_UNION_REL, TEXT_UNION_SE, text_route_gains

    assert TEXT_UNION_SE == 2.0 and TEXT_UNION_REL == 0.01
    assert not text_route_gains(0.004, 0.001, 1.0)  # z 4, 0.4% of the loss
    assert text_route_gains(0.004, 0.001, 0.2)  # z 4, 2% of a smaller loss
    assert not text_route_gains(0.05, 1 / 30, 1.0)  # 5%, z 1.5
    assert text_route_gains(0.05, 0.02, 1.0)  # 5%, z 2.5
    assert not text_route_gains(0.01, 0.001, 1.0)  # exactly 1%: not more than it
    tc = {"rows": 180, "terms": 700, "ridge_loss": 0.8, "genz_loss": 0.1143, "diff": -0.67, "se": 0.07,
          "better": "genz", "union_loss": 0.1139, "union_gain": 0.00042, "union_se": 0.000156}
    line = text_line(tc)
    assert "not enough for the text route (above 2 standard errors, but 0.37% of the loss" in line
    assert "(above" not in text_line({**tc, "union_se": 0.001})  # under 2 SE: the usual line
