"""Out-of-fold prediction (:func:`cross_fit`): below the selection rules and the route models
that use it (:mod:`genz.text_ridge`, :mod:`genz.tree_route`), so that none of them imports another
for it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["cross_fit"]


def cross_fit(n: int, folds: int, seed: int, stream: int,
              fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of ``n`` rows: the rows are assigned at random to ``folds`` folds
    (from ``seed`` and a ``stream`` of its own per caller), and each fold is predicted by
    ``fit_predict(train, test)`` (row indices) fitted on the other folds. What the text route's side
    input is learned on (the words' ridge), so that its weight is not inflated by rows the ridge saw,
    and how the tree route scores its blend's share."""
    fold_of = np.random.default_rng([int(seed), int(stream)]).permutation(n) % folds
    out = None
    for k in range(folds):
        tr, te = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        pred = np.asarray(fit_predict(tr, te), dtype=float)
        if out is None:
            out = np.zeros((n,) + pred.shape[1:])
        out[te] = pred
    return np.zeros(n) if out is None else out
