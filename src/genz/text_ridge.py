"""The ridge a practitioner fits on texts: TF-IDF of words and word pairs, then scikit-learn's
``RidgeCV``. The text check (:func:`genz.selection.text_check`) scores it on the untouched rows;
the text route (``Selection.text_route``, the default) predicts with it beside the features.

The TF-IDF is scikit-learn's (``TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)``,
the :data:`MAX_TERMS` most frequent terms); after the fit it is kept as its vocabulary and idf
weights, so a saved model rebuilds it without pickles: counts ``c`` of the vocabulary's terms,
``(1 + log c)·idf`` per present term, each row scaled to unit length. Side inputs ``U`` enter
standardised (training mean and standard deviation) beside the terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .folds import cross_fit

__all__ = ["TextRidge", "item_texts", "out_of_fold", "MIN_DF", "MAX_TERMS", "ALPHAS"]

#: a term is kept when it is in at least MIN_DF training texts; the MAX_TERMS most frequent of them
MIN_DF = 2
MAX_TERMS = 1000
#: the ridge's penalties, chosen by generalised cross-validation (RidgeCV's default)
ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 16))


def item_texts(items: Sequence[Any]) -> np.ndarray:
    """Each item's text, stripped ("" when it has none)."""
    return np.array([(getattr(it, "text", None) or "").strip() for it in items], dtype=object)


class TextRidge:
    """``fit(texts, U, Y)``, ``predict(texts, U)`` (N×D), ``to_json()`` / ``from_json()``."""

    def __init__(self) -> None:
        self.vocabulary: list[str] = []
        self.idf = np.zeros(0)
        self.u_mean = self.u_sd = np.zeros(0)
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.alpha = float("nan")

    def _design(self, texts: Sequence[str], U: np.ndarray | None) -> Any:
        from scipy import sparse
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        vocab = {t: j for j, t in enumerate(self.vocabulary)}
        C = CountVectorizer(ngram_range=(1, 2), vocabulary=vocab).transform(list(texts)).astype(float)
        C.data = np.log(C.data) + 1.0  # sublinear counts
        X = normalize(C @ sparse.diags(self.idf), norm="l2")
        if len(self.u_mean):
            Z = (np.asarray(U, dtype=float).reshape(len(texts), -1) - self.u_mean) / self.u_sd
            X = sparse.hstack([X, Z], format="csr")
        return X

    def fit(self, texts: Sequence[str], U: np.ndarray | None, Y: np.ndarray) -> "TextRidge":
        """Learn the vocabulary, idf weights, side-input scaling and ridge on these rows (``Y``
        N×D). ValueError when the texts share fewer than two terms."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import RidgeCV

        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=MIN_DF, max_features=MAX_TERMS, sublinear_tf=True)
        vec.fit(list(texts))  # ValueError: no term in MIN_DF texts
        order = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
        if len(order) < 2:
            raise ValueError("fewer than two terms")
        self.vocabulary, self.idf = order, np.asarray(vec.idf_, dtype=float)
        if U is not None and np.asarray(U).shape[1]:
            U = np.asarray(U, dtype=float)
            self.u_mean, sd = U.mean(axis=0), U.std(axis=0)
            self.u_sd = np.where(sd > 0, sd, 1.0)
        Y = np.asarray(Y, dtype=float).reshape(len(texts), -1)
        model = RidgeCV(alphas=ALPHAS).fit(self._design(texts, U), Y)
        self.coef = np.asarray(model.coef_, dtype=float).reshape(Y.shape[1], -1)
        self.intercept = np.asarray(model.intercept_, dtype=float).reshape(Y.shape[1])
        self.alpha = float(model.alpha_)
        return self

    def predict(self, texts: Sequence[str], U: np.ndarray | None) -> np.ndarray:
        return np.asarray(self._design(texts, U) @ self.coef.T) + self.intercept

    def to_json(self) -> dict:
        return {"vocabulary": list(self.vocabulary), "idf": self.idf.tolist(), "u_mean": self.u_mean.tolist(),
                "u_sd": self.u_sd.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "alpha": self.alpha}

    @classmethod
    def from_json(cls, d: dict) -> "TextRidge":
        m = cls()
        m.vocabulary = list(d["vocabulary"])
        m.idf, m.u_mean, m.u_sd = (np.asarray(d[k], dtype=float) for k in ("idf", "u_mean", "u_sd"))
        m.coef = np.asarray(d["coef"], dtype=float).reshape(len(d["intercept"]), -1)
        m.intercept, m.alpha = np.asarray(d["intercept"], dtype=float), float(d["alpha"])
        return m


def out_of_fold(texts: np.ndarray, U: np.ndarray | None, Y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's prediction by a :class:`TextRidge` fitted on the other folds (``folds`` folds,
    assigned at random from ``seed``): what the text route's predictor learns its weight on, so that
    the weight is not inflated by rows the ridge saw. ValueError when a fold's texts share fewer
    than two terms."""
    Y = np.asarray(Y, dtype=float).reshape(len(texts), -1)
    return cross_fit(len(texts), folds, seed, 23, lambda tr, te: TextRidge().fit(
        texts[tr], None if U is None else U[tr], Y[tr]).predict(texts[te], None if U is None else U[te]))
