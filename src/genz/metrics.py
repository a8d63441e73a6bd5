"""Metrics: the one home of every error measure genz reports (histories, experiments, reports).

* ``median_ae``: ``median |ŷ − y|`` (the houses headline on the log price);
  ``median_rel``: ``median |exp(ŷ − y) − 1|``, the median relative error of the price when ``y``
  is its log (a log error of 0.10 is 10.5% over or 9.5% under);
* ``mae``, ``rmse``, ``r2``;
* ``cosine``: the mean over items of the cosine similarity between the predicted and the true
  row (movies' embeddings; a zero prediction scores 0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cosine_rows", "mean_cosine", "median_abs_error", "median_relative_error", "regression_metrics",
           "primary_metric"]


def _as2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def cosine_rows(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of P to the same row of Y; 0 where either row is zero."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    P = np.atleast_2d(np.asarray(P, dtype=float))
    num = (Y * P).sum(axis=1)
    den = np.linalg.norm(Y, axis=1) * np.linalg.norm(P, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def mean_cosine(Y_true: np.ndarray, Y_pred: np.ndarray) -> float:
    """Mean over rows of the cosine similarity between prediction and truth."""
    return float(cosine_rows(Y_true, Y_pred).mean())


def median_abs_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``median |ŷ − y|`` of a 1-d target."""
    return float(np.median(np.abs(_as2d(y_pred) - _as2d(y_true))))


def median_relative_error(log_true: np.ndarray, log_pred: np.ndarray) -> float:
    """``median |exp(ŷ − y) − 1|``: the median relative error of the price when ``y`` is its log."""
    return float(np.median(np.abs(np.expm1(_as2d(log_pred) - _as2d(log_true)))))


def _r2(Y: np.ndarray, P: np.ndarray) -> float:
    ss = float(((Y - Y.mean()) ** 2).sum())
    return float(1.0 - ((Y - P) ** 2).sum() / ss) if ss > 0 else 0.0


_METRICS = {
    "mae": lambda Y, P: float(np.abs(Y - P).mean()),
    "median_ae": median_abs_error,
    "median_rel": median_relative_error,
    "rmse": lambda Y, P: float(np.sqrt(((Y - P) ** 2).mean())),
    "r2": _r2,
    "cosine": mean_cosine,
}
_SETS = {"houses": ("median_ae", "median_rel", "rmse"), "movies": ("cosine", "rmse")}


def regression_metrics(Y: np.ndarray, P: np.ndarray, kind: str | None = None) -> dict[str, float]:
    """The metrics of predictions ``P`` for targets ``Y``. ``kind=None``: for D = 1 ``rmse``,
    ``mae``, ``median_ae``, ``r2``; for D > 1 ``rmse`` and ``cosine``. ``kind="houses"``:
    ``median_ae``, ``median_rel``, ``rmse``; ``kind="movies"``: ``cosine``, ``rmse``."""
    Y, P = _as2d(Y), _as2d(P)
    if kind is None:
        names = ("rmse", "mae", "median_ae", "r2") if Y.shape[1] == 1 else ("rmse", "cosine")
    elif kind in _SETS:
        names = _SETS[kind]
    else:
        raise ValueError(f"unknown metric kind {kind!r}")
    return {name: _METRICS[name](Y, P) for name in names}


def primary_metric(D: int) -> tuple[str, bool]:
    """The headline metric's name and whether higher is better."""
    return ("median_ae", False) if D == 1 else ("cosine", True)
