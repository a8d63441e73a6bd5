"""Metrics of the paper's experiments.

* Houses (target ``y = ln price``): the median absolute error of the log price,
  ``median |ŷ - y|`` (the paper's headline), and the median relative error of the price,
  ``median |exp(ŷ - y) - 1| = median |p̂ / p - 1|`` (a log error of 0.10 is a relative error of
  10.5% over or 9.5% under).
* Movies (target a D-dim embedding): the mean over items of the cosine similarity between the
  predicted and the true embedding (a zero prediction scores 0).
"""

from __future__ import annotations

import numpy as np

from ..metrics import cosine_rows  # noqa: F401  (re-exported: one definition)
__all__ = ["median_abs_error", "median_relative_error", "mean_cosine", "cosine_rows", "regression_metrics"]


def _flat(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    return a


def median_abs_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``median |ŷ - y|`` of a 1-d target (the log price)."""
    return float(np.median(np.abs(_flat(y_pred) - _flat(y_true))))


def median_relative_error(log_true: np.ndarray, log_pred: np.ndarray) -> float:
    """``median |exp(ŷ - y) - 1|``: the median relative error of the price when ``y`` is its log."""
    return float(np.median(np.abs(np.expm1(_flat(log_pred) - _flat(log_true)))))


def mean_cosine(Y_true: np.ndarray, Y_pred: np.ndarray) -> float:
    """Mean over rows of the cosine similarity between prediction and truth."""
    return float(cosine_rows(Y_true, Y_pred).mean())


def regression_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, kind: str) -> dict[str, float]:
    """All metrics of an experiment: ``kind="houses"`` (log price) or ``"movies"`` (embeddings)."""
    if kind == "houses":
        return {
            "median_ae": median_abs_error(Y_true, Y_pred),
            "median_rel": median_relative_error(Y_true, Y_pred),
            "rmse": float(np.sqrt(np.mean((_flat(Y_pred) - _flat(Y_true)) ** 2))),
        }
    if kind == "movies":
        Y_true = np.asarray(Y_true, dtype=float)
        return {
            "cosine": mean_cosine(Y_true, Y_pred),
            "rmse": float(np.sqrt(np.mean((np.asarray(Y_pred) - Y_true) ** 2))),
        }
    raise ValueError(f"unknown metric kind {kind!r}")
