"""The one train/test split convention every experiment uses."""

from __future__ import annotations

import numpy as np

from ..errors import GenZInputError

__all__ = ["train_test_split_indices"]


def train_test_split_indices(n: int, seed: int, test_frac: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Random 80/20 split: ``perm = numpy.random.default_rng(seed).permutation(n)``; the
    first ``round(test_frac * n)`` of ``perm`` are the test rows, the rest the training rows.

    Returns ``(train, test)`` index arrays, each sorted ascending.
    """
    if n < 2:
        raise GenZInputError(f"cannot split {n} items into a training and a test set")
    if not 0.0 < test_frac < 1.0:
        raise GenZInputError(f"test_frac must be in (0, 1), not {test_frac!r}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_frac * n))
    n_test = min(max(n_test, 1), n - 1)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
