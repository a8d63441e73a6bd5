"""Held-out model selection inside ``fit`` (issue 9).

The training items are split once, deterministically from the seed, into a *discovery* part
``A`` (mining, EM: Algorithms 1-4 see only these items) and a *validation* part ``V``
(``Advanced.validation``, default 40%). Every feature that enters the model is also judged on
``V``. A structure (a set of features ``S``) is scored by its **held-out loss**: the linear
predictor of docs/equations.md §5 is fitted on ``A``'s FM priors ``q = 1 − ε`` / ``ε`` (plus side inputs;
the ridge by leave-one-out on ``A``) and predicts ``V`` from ``V``'s priors; the loss of item
``n`` is ``Σ_d (y_nd − ŷ_nd)² / var_A(y_d)``. Because the predictor never sees ``V``, and
mining never sees ``V``, the loss is an honest estimate of what new items will get.

Decisions made with it:

* **removal** (Algorithm 3): of the features whose drop-one held-out gain is at most one
  standard error (those that would not be kept if added now), remove the one whose removal
  gives the lowest held-out loss; when every feature helps by more, nothing is removed (a
  forced removal would throw out true features, which are never mined again);
* **early stop**: two whole cycles without a new best held-out loss end discovery (one
  cycle's removals make room that only the next cycle's additions can use);
* **the structure**: of all feature sets along the run, the smallest whose mean loss is within
  one standard error (of the paired per-item difference) of the best; its size counts a
  conjunction ``(A) and (B)`` as its two parts where the FM says what a descriptor is made of;
* **keeping a new feature**: an addition whose feature does not lower the held-out loss by
  more than one standard error (paired over the held-out items) is undone (the descriptor is
  discarded, with its held-out gain in the history);
* **choosing among mined candidates**: the simplest candidate (by the FM's ``complexity``,
  where it has one; a negation costs nothing) whose held-out gain is within one standard error
  of the largest, the largest gain among equally simple ones. A conjunction stays a candidate
  only if its held-out gain exceeds that of its two parts added side by side by more than one
  standard error (main effects before interactions); otherwise its parts replace it;
* **pruning** (a feature earns its place): the drop-one held-out gain
  ``mean_n(L_{S−k} − L_S)`` with its standard error; while some feature's ``gain / se`` is
  below ``z = Φ⁻¹(1 − α/m)`` (one-sided, α = 0.05, Bonferroni over the ``m`` features that were
  ever in the model), the weakest is dropped and the rest re-scored — unless the features
  dropped so far are jointly significant at the same ``z`` (paired, against the chosen
  structure): features that matter together but not one by one stay, marked not significant.
  Pinned features are never dropped.

Effects and their intervals (sample splitting + bootstrap): the weight of each kept feature is
the least-squares coefficient on ``V`` (priors of the kept features, side inputs, constant);
its 95% interval is the percentile interval of a bootstrap over ``V``'s items that repeats the
structure choice and the pruning in every replicate (a feature not selected in a replicate
counts as weight 0). The descriptors themselves were mined on ``A`` only, so conditional on
``A`` the bootstrap covers every choice that used ``V``. Assumptions: items are independent
draws; ``V`` is large enough for the bootstrap (at least 20 items, else no held-out selection);
ε is estimated by EM on ``A``. The model used for prediction (``coef_``) is refitted on all
training items with the chosen structure, so its weights can differ from the table's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from .inference import prior_mixture
from .observation.base import predictive_std
from .observation.linear import LinearGaussian, penalised_lstsq

__all__ = ["HeldOut", "split_indices"]

ALPHA = 0.05
KEEP_SE = 1.0  # a new feature is kept when its held-out gain exceeds this many standard errors


def split_indices(n: int, seed: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The discovery and validation indices (sorted): a random ``share`` of ``n`` items,
    from a generator of its own (``[seed, 9]``) so discovery's random stream is untouched."""
    rng = np.random.default_rng([int(seed), 9])
    perm = rng.permutation(n)
    n_v = int(round(share * n))
    return np.sort(perm[n_v:]), np.sort(perm[:n_v])


class HeldOut:
    """The validation part, the judgments of every feature tried, and the held-out losses."""

    def __init__(self, items: Sequence[Any], Y: np.ndarray, U: np.ndarray | None, Y_fit: np.ndarray,
                 U_fit: np.ndarray | None, parts: Callable[[str], Sequence[str]] | None = None) -> None:
        self.items, self.Y, self.U = list(items), Y, U
        self.parts = parts  # what a descriptor is made of, where the FM says (a conjunction: 2)
        self.Y_fit, self.U_fit = Y_fit, U_fit
        self.y_var = np.maximum(Y_fit.var(axis=0), 1e-300)
        self.names: list[str] = []  # every feature ever in the model
        self.bA = np.zeros((len(Y_fit), 0))
        self.bV = np.zeros((len(self.items), 0))
        self.eps = np.zeros(0)
        self._cache: dict[frozenset, np.ndarray] = {}
        self._judged_V: dict[str, np.ndarray] = {}  # candidates' judgments on V, reused when one is kept

    # -- bookkeeping -------------------------------------------------------------------------------
    def sync(self, disc: Any) -> None:
        """Judge new features on V; remember each feature's judgments and latest ε."""
        for k, f in enumerate(disc.features):
            if f not in self.names:
                self.names.append(f)
                self.bA = np.column_stack([self.bA, disc.st.B[:, k]])
                self.bV = np.column_stack([self.bV, self.judge_V(disc, f)])
                self.eps = np.append(self.eps, disc.st.eps[k])
            j = self.names.index(f)
            if self.eps[j] != disc.st.eps[k]:
                self.eps[j] = disc.st.eps[k]
                self._cache = {key: v for key, v in self._cache.items() if j not in key}

    def judge_V(self, disc: Any, descriptor: str) -> np.ndarray:
        """The judgments of ``descriptor`` on V, asked of the foundation model once (a candidate
        judged for its held-out gain is not judged again when it is kept)."""
        if descriptor not in self._judged_V:
            self._judged_V[descriptor] = disc.judgment_values(disc.judge(descriptor, self.items))
        return self._judged_V[descriptor]

    # -- the held-out loss ---------------------------------------------------------------------------
    def fit_on_A(self, cols: Sequence[int], extra: tuple | None = None) -> tuple[LinearGaussian, np.ndarray]:
        """The linear predictor of the features ``cols`` (plus, with ``extra=(b_A, b_V, ε)``, one
        feature not yet in the model) fitted on A's FM priors with its leave-one-out ridge, and
        V's FM priors to predict from."""
        QA = prior_mixture(self.bA[:, cols], self.eps[cols])
        QV = prior_mixture(self.bV[:, cols], self.eps[cols])
        if extra is not None:
            QA = np.column_stack([QA, prior_mixture(extra[0], extra[2])])
            QV = np.column_stack([QV, prior_mixture(extra[1], extra[2])])
        m = LinearGaussian()
        m.set_scaling(self.U_fit, self.Y_fit)
        m.ridge = m.select_ridge(QA, self.U_fit, self.Y_fit)
        m.fit_final(QA, self.U_fit, self.Y_fit)
        return m, QV

    def losses(self, cols: Sequence[int], extra: tuple | None = None) -> np.ndarray:
        """Per-item held-out loss of the structure made of features ``cols`` (see module),
        plus, with ``extra=(b_A, b_V, ε)``, one feature not yet in the model."""
        key = frozenset(cols)
        if extra is None and key in self._cache:
            return self._cache[key]
        m, QV = self.fit_on_A(sorted(key), extra)
        out = (((self.Y - m.predict(QV, self.U)) ** 2) / self.y_var).sum(axis=1)
        if extra is None:
            self._cache[key] = out
        return out

    def candidate_gain(self, disc: Any, descriptor: str | Sequence[str], b: np.ndarray) -> np.ndarray:
        """Per held-out item, the loss decrease from adding a candidate (judged on V now), or
        several side by side (``descriptor`` a list, ``b`` their judgments as columns)."""
        self.sync(disc)
        names = [descriptor] if isinstance(descriptor, str) else list(descriptor)
        cols = self.cols_of(disc.features)
        bV = np.column_stack([self.judge_V(disc, d) for d in names])
        extra = (np.reshape(b, (len(b), -1)), bV, disc.cfg.advanced.eps_min)
        return self.losses(cols) - self.losses(cols, extra)

    @staticmethod
    def simplest_within_one_se(names: Sequence[str], gains: Sequence[np.ndarray],
                               complexity: Callable[[str], float] | None = None) -> int:
        """Of candidates with per-item gains, the simplest descriptor (by the FM's
        ``complexity``, where it has one) whose mean gain is within one (paired) standard error
        of the best one's, the largest gain among equally simple ones: the smallest model that
        is as good. Without a complexity, the candidate with the largest gain."""
        best = int(np.argmax([g.mean() for g in gains]))
        ok = []
        for i, g in enumerate(gains):
            d = gains[best] - g
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
            if d.mean() <= se:
                ok.append((complexity(names[i]) if complexity is not None else 0.0, -g.mean(), i))
        return min(ok)[2]

    def standardized_residuals(self, cols: Sequence[int]) -> np.ndarray:
        """|y − ŷ| / sd on V (N_V×D) for the structure ``cols`` fitted on A, with
        ``sd = sqrt(σ²_d + Σ_k w_dk² q_k(1 − q_k))`` as ``predict(return_std=True)``: the
        calibration scores of :meth:`genz.GenZRegressor.predict_interval`."""
        cols = sorted(cols)
        m, QV = self.fit_on_A(cols)
        sd = predictive_std(m.sigma2_, m.W_[:, : len(cols)], QV)
        return np.abs(self.Y - m.predict(QV, self.U)) / sd

    def cols_of(self, features: Sequence[str]) -> list[int]:
        return [self.names.index(f) for f in features]

    def restricted(self, rows_A: np.ndarray, rows_V: np.ndarray) -> "HeldOut":
        """The same criterion on a subset (candidate screening): the predictor fitted on A's
        rows ``rows_A``, the loss on V's rows ``rows_V`` (still scaled by all of A's variance)."""
        sub = HeldOut.__new__(HeldOut)  # a shallow copy
        sub.__dict__.update(self.__dict__)
        sub.items = [self.items[i] for i in rows_V]
        sub.Y, sub.U = self.Y[rows_V], None if self.U is None else self.U[rows_V]
        sub.Y_fit, sub.U_fit = self.Y_fit[rows_A], None if self.U_fit is None else self.U_fit[rows_A]
        sub.bA, sub.bV = self.bA[rows_A], self.bV[rows_V]
        sub._cache, sub._judged_V = {}, {}
        return sub

    def removal_scores(self, disc: Any) -> np.ndarray:
        """Algorithm 3 on held-out data: minus each feature's drop-one held-out gain (the
        feature helping new items least goes; if that hurts, the structure choice over the
        whole path undoes it)."""
        self.sync(disc)
        cols = self.cols_of(disc.features)
        gains = np.array([self.gain(cols, j)[0] for j in cols])
        return -gains

    def removable(self, disc: Any, k: int) -> bool:
        """Whether feature ``k`` would not be kept if it were added now: its drop-one held-out
        gain is at most ``KEEP_SE`` standard errors."""
        self.sync(disc)
        cols = self.cols_of(disc.features)
        g, se = self.gain(cols, cols[k])
        return g <= KEEP_SE * se

    def rejects_new(self, disc: Any) -> str | None:
        """Whether the feature just added (the last one) fails to lower the held-out loss;
        the reason if so."""
        self.sync(disc)
        cols = self.cols_of(disc.features)
        g, se = self.gain(cols, cols[-1])
        return None if g > KEEP_SE * se else f"no held-out gain ({g:+.4f} ± {se:.4f})"

    def summary(self, features: Sequence[str]) -> dict:
        L = self.losses(self.cols_of(features))
        return {"loss": float(L.mean()), "loss_se": float(L.std(ddof=1) / np.sqrt(len(L))) if len(L) > 1 else 0.0}

    # -- the choices -----------------------------------------------------------------------------------
    def size(self, cols: Sequence[int]) -> int:
        """The size of a structure: its features, a conjunction counting as its parts."""
        if self.parts is None:
            return len(cols)
        return sum(max(1, len(self.parts(self.names[c]))) for c in cols)

    def choose(self, paths: list[list[int]], rows: np.ndarray | None = None) -> list[int]:
        """The smallest structure (:meth:`size`) within one standard error of the best
        (paired per item)."""
        Ls = [self.losses(p) if rows is None else self.losses(p)[rows] for p in paths]
        best = int(np.argmin([L.mean() for L in Ls]))
        ok = []
        for i, L in enumerate(Ls):
            d = L - Ls[best]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
            if d.mean() <= se:
                ok.append((self.size(paths[i]), Ls[i].mean(), i))
        return list(paths[min(ok)[2]])

    def gain(self, cols: Sequence[int], j: int, rows: np.ndarray | None = None) -> tuple[float, float]:
        """Drop-one held-out gain of feature ``j`` in ``cols`` and its standard error."""
        d = self.losses([c for c in cols if c != j]) - self.losses(cols)
        d = d if rows is None else d[rows]
        return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0

    def threshold(self) -> float:
        """One-sided Bonferroni critical value over every feature that was ever in the model."""
        return float(norm.ppf(1 - ALPHA / max(len(self.names), 1)))

    def prune(self, cols: list[int], pinned: set[int], rows: np.ndarray | None = None) -> list[int]:
        """Drop the weakest feature while its gain is not significant, as long as what was
        pruned is not jointly significant (see module)."""
        z = self.threshold()
        ref = self.losses(cols) if rows is None else self.losses(cols)[rows]
        cols = list(cols)
        while True:
            cand = [(g / se if se > 0 else (np.inf if g > 0 else -np.inf), j)
                    for j in cols if j not in pinned for g, se in [self.gain(cols, j, rows)]]
            if not cand or min(cand)[0] >= z:
                return cols
            trial = [c for c in cols if c != min(cand)[1]]
            d = (self.losses(trial) if rows is None else self.losses(trial)[rows]) - ref
            if d.mean() > z * (d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0):
                return cols  # what was pruned so far matters jointly
            cols = trial

    # -- effects on V ------------------------------------------------------------------------------------
    def effects(self, cols: Sequence[int], rows: np.ndarray | None = None) -> np.ndarray:
        """Least-squares weights (|cols|×D) of the features on V (priors, side inputs, constant)."""
        rows = np.arange(len(self.Y)) if rows is None else rows
        Q = prior_mixture(self.bV[np.ix_(rows, list(cols))], self.eps[list(cols)])
        parts = [Q] + ([self.U[rows]] if self.U is not None else []) + [np.ones((len(rows), 1))]
        W = penalised_lstsq(np.hstack(parts), self.Y[rows], 1e-8)
        return W[:, : len(cols)].T

    def bootstrap(self, paths: list[list[int]], final: list[int], pinned: set[int], n_boot: int,
                  seed: int) -> np.ndarray:
        """Weights of the ``final`` features in ``n_boot`` bootstrap replicates of V that redo
        the structure choice and the pruning (0 where a replicate does not select a feature)."""
        rng = np.random.default_rng([int(seed), 11])
        n = len(self.Y)
        out = np.zeros((n_boot, len(final), self.Y.shape[1]))
        for b in range(n_boot):
            rows = rng.integers(0, n, n)
            sel = self.prune(self.choose(paths, rows), pinned, rows)
            keep = [c for c in final if c in sel]
            if keep:
                W = self.effects(keep, rows)
                for i, c in enumerate(keep):
                    out[b, final.index(c)] = W[i]
        return out
