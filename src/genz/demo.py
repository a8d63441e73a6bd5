"""The paper's Section 5.1: recalling binary.

Items are the strings "0" … "511", the target of item n is n, the observation model is
linear, and Algorithm 1 runs 9 times with the offline predicate foundation model. The
discovered features should be the 9 binary digits, coarse to fine, with zero training error.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .estimator import GenZRegressor
from .items import items_from_texts


def bits_recovered(judgments: np.ndarray, values: np.ndarray, n_bits: int) -> list[int | None]:
    """For each bit j (0 = least significant), the index of a discovered feature whose
    judgments equal bit j, or its complement, on every item; None if no feature does."""
    out: list[int | None] = []
    for j in range(n_bits):
        bit = (values >> j) & 1
        match = None
        for k in range(judgments.shape[1]):
            col = judgments[:, k]
            if np.array_equal(col, bit) or np.array_equal(col, 1 - bit):
                match = k
                break
        out.append(match)
    return out


def run_binary_demo(seed: int = 0, n_bits: int = 9, slope: float = 1.0, intercept: float = 0.0,
                    on_step: Any = None, callbacks: Any = None) -> dict:
    """Fit the binary toy and return a JSON-able summary (features, errors, bits recovered)."""
    values = np.arange(2**n_bits)
    items = items_from_texts(str(v) for v in values)
    y = slope * values.astype(float) + intercept
    t0 = time.perf_counter()
    est = GenZRegressor(add_only=n_bits, algorithm="simple", model="linear", predictor="judgments",
                        random_state=seed)
    est.fit(items, y, on_step=on_step, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    pred = est.predict(items)
    B = est.transform(items)
    match = bits_recovered(B, values, n_bits)
    # the bit each feature encodes (None if it is not a bit): shows the coarse-to-fine order
    feature_bit: list[int | None] = [None] * len(est.features_)
    for j, k in enumerate(match):
        if k is not None:
            feature_bit[k] = j
    return {
        "seed": seed,
        "features": est.features_,
        "feature_bits": feature_bit,
        "train_mae": float(np.mean(np.abs(pred - y))),
        "train_max_abs_error": float(np.max(np.abs(pred - y))),
        "bits_recovered": int(sum(k is not None for k in match)),
        "n_bits": n_bits,
        "coarse_to_fine": feature_bit == sorted(feature_bit, key=lambda b: -1 if b is None else -b)
        and None not in feature_bit,
        "epsilon": [float(e) for e in est.epsilon_],
        "fm_calls": est.fm_stats_["calls"],
        "seconds": seconds,
        "estimator": est,
    }
