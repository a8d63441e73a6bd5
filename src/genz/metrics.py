"""Metrics reported in histories, experiments and reports."""

from __future__ import annotations

import numpy as np


def cosine_rows(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of P to the same row of Y; 0 where either row is zero."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    P = np.atleast_2d(np.asarray(P, dtype=float))
    num = (Y * P).sum(axis=1)
    den = np.linalg.norm(Y, axis=1) * np.linalg.norm(P, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def regression_metrics(Y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """For D = 1: ``mae``, ``median_ae``, ``rmse``, ``r2``; for D > 1: mean row ``cosine``
    similarity and ``rmse``."""
    Y = np.asarray(Y, dtype=float)
    P = np.asarray(P, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if P.ndim == 1:
        P = P[:, None]
    err = Y - P
    out = {"rmse": float(np.sqrt((err**2).mean()))}
    if Y.shape[1] == 1:
        e = np.abs(err[:, 0])
        ss = float(((Y - Y.mean()) ** 2).sum())
        out.update(mae=float(e.mean()), median_ae=float(np.median(e)),
                   r2=float(1.0 - (err**2).sum() / ss) if ss > 0 else 0.0)
    else:
        out["cosine"] = float(cosine_rows(Y, P).mean())
    return out


def primary_metric(D: int) -> tuple[str, bool]:
    """The headline metric's name and whether higher is better."""
    return ("median_ae", False) if D == 1 else ("cosine", True)
