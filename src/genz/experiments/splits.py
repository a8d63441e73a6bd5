"""The one train/test split convention every experiment uses."""

from __future__ import annotations

import numpy as np

from ..errors import GenZInputError

__all__ = ["train_test_split_indices", "inner_validation_indices"]


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


def inner_validation_indices(n_train: int, seed: int, share: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n_train`` training rows into a fitting part and a held-out validation part, for
    choices made inside a method (e.g. the zero-shot baseline's number of features).

    Deterministic from ``seed`` through its own stream ``default_rng([seed, 7919])``, so it is
    not the test split's permutation. Returns ``(fit, valid)`` positions into the training
    rows, each sorted; ``valid`` holds ``round(share * n_train)`` rows (at least 1)."""
    if n_train < 2:
        raise GenZInputError(f"cannot hold out validation items from {n_train} training items")
    if not 0.0 < share < 1.0:
        raise GenZInputError(f"the validation share must be in (0, 1), not {share!r}")
    perm = np.random.default_rng([seed, 7919]).permutation(n_train)
    n_valid = min(max(int(round(share * n_train)), 1), n_train - 1)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
