"""The zero-shot baseline of the paper (docs/equations.md §6): features from the foundation model's domain
knowledge alone, then feature selection.

1. The foundation model proposes about 50 yes/no features from the task description and a
   sample of training items (``fm.propose``). With an LLM this is the zero-shot prompt. With
   the offline predicate engine (``fm="predicates"``) the proposals are a *generic pool* that
   uses no targets: thresholds at the quartiles of every numeric attribute, the most frequent
   values of every categorical or list attribute (zip codes, cities, genres...) and the most
   frequent words of the item texts, interleaved family by family up to ``n``.
2. Every proposal is judged on the training and test items (``fm.judge``).
3. Algorithm 3 is applied repeatedly with a linear model on the training set: fit
   ``y ≈ W [b; u; 1]`` by (lightly ridged) least squares on the FM judgments ``b`` and side
   inputs ``u``; remove the feature whose removal lowers the training log-likelihood (with
   per-dimension variances refitted) the least; repeat down to no feature.
4. The test metric is recorded at every feature count and the **best test score along the
   pruning path** is reported, as in the paper ("the best the baseline could possibly get for
   that training-test split") — an optimistic number for the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..fm.base import FMStats, FoundationModel
from ..items import Item
from ..metrics import regression_metrics
from ..observation.linear import penalised_lstsq

__all__ = ["zero_shot_baseline", "linear_fit_predict"]


def _design(B: np.ndarray, U: np.ndarray | None) -> np.ndarray:
    parts = [B]
    if U is not None:
        parts.append(U)
    parts.append(np.ones((B.shape[0], 1)))
    return np.hstack(parts)


def linear_fit_predict(
    Xtr: np.ndarray, Ytr: np.ndarray, Xs: Sequence[np.ndarray], ridge: float = 1e-6
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Least squares ``W`` (genz's one penalised least squares, :func:`penalised_lstsq`; the
    constant is the last column) and the predictions ``X @ W`` for each ``X`` in ``Xs``."""
    W = penalised_lstsq(Xtr, Ytr, ridge).T
    return W, [X @ W for X in Xs]


def _train_loglik(Xtr: np.ndarray, Ytr: np.ndarray, ridge: float) -> float:
    _, (P,) = linear_fit_predict(Xtr, Ytr, [Xtr], ridge)
    s2 = np.maximum(((Ytr - P) ** 2).mean(axis=0), 1e-12)
    return float(-0.5 * Ytr.shape[0] * np.sum(np.log(s2)))


def zero_shot_baseline(
    fm: FoundationModel,
    task: str,
    items_train: Sequence[Item],
    Y_train: np.ndarray,
    items_test: Sequence[Item],
    Y_test: np.ndarray,
    U_train: np.ndarray | None = None,
    U_test: np.ndarray | None = None,
    *,
    kind: str,
    n_proposals: int = 50,
    n_sample: int = 40,
    seed: int = 0,
    ridge: float = 1e-6,
) -> dict[str, Any]:
    """Run the zero-shot baseline on one split; see the module docstring.

    ``kind`` is ``"houses"`` (lower ``median_ae`` is better) or ``"movies"`` (higher
    ``cosine`` is better). Returns the best test metrics, the feature set reaching them, the
    whole pruning path (features, train and test metrics at every count), the proposals, FM
    calls and wall time."""
    t0 = time.perf_counter()
    before = fm.stats.snapshot()
    Y_train = np.asarray(Y_train, dtype=float).reshape(len(items_train), -1)
    Y_test = np.asarray(Y_test, dtype=float).reshape(len(items_test), -1)
    rng = np.random.default_rng(seed)
    sample_idx = rng.choice(len(items_train), size=min(n_sample, len(items_train)), replace=False)
    proposals = list(dict.fromkeys(fm.propose(task, [items_train[i] for i in sample_idx], n=n_proposals)))
    Btr_cols, Bte_cols, kept = [], [], []
    for d in proposals:
        btr = fm.judge(d, items_train).values.astype(float)
        if btr.min() == btr.max():  # constant on the training set: carries nothing
            continue
        Btr_cols.append(btr)
        Bte_cols.append(fm.judge(d, items_test).values.astype(float))
        kept.append(d)
    Btr = np.column_stack(Btr_cols) if kept else np.zeros((len(items_train), 0))
    Bte = np.column_stack(Bte_cols) if kept else np.zeros((len(items_test), 0))
    primary, higher = ("median_ae", False) if kind == "houses" else ("cosine", True)

    def evaluate(cols: list[int]) -> tuple[dict, dict]:
        Xtr, Xte = _design(Btr[:, cols], U_train), _design(Bte[:, cols], U_test)
        _, (Ptr, Pte) = linear_fit_predict(Xtr, Y_train, [Xtr, Xte], ridge)
        return regression_metrics(Y_train, Ptr, kind), regression_metrics(Y_test, Pte, kind)

    active = list(range(len(kept)))
    path = []
    while True:
        tr, te = evaluate(active)
        path.append({"n_features": len(active), "features": [kept[j] for j in active], "train": tr, "test": te})
        if not active:
            break
        # Algorithm 3: drop the feature whose removal costs the least training likelihood
        best_j, best_ll = None, -np.inf
        for j in active:
            rest = [i for i in active if i != j]
            ll = _train_loglik(_design(Btr[:, rest], U_train), Y_train, ridge)
            if ll > best_ll:
                best_j, best_ll = j, ll
        active.remove(best_j)
    scores = np.array([p["test"][primary] for p in path])
    best = int(np.argmax(scores) if higher else np.argmin(scores))
    stats = FMStats.diff(fm.stats.snapshot(), before)
    calls = stats.get("calls", {})
    return {
        "test": path[best]["test"],
        "train": path[best]["train"],
        "n_features": path[best]["n_features"],
        "features": path[best]["features"],
        "all_features_test": path[0]["test"],
        "n_proposals": len(proposals),
        "n_usable": len(kept),
        "proposals": proposals,
        "path": [{"n_features": p["n_features"], "train": p["train"], "test": p["test"]} for p in path],
        "fm_calls": int(sum(calls.values())),
        "fm_stats": stats,
        "seconds": time.perf_counter() - t0,
    }
