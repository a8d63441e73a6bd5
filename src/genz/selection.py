"""The predictor's choices inside ``fit``: K-fold cross-validation over the discovery rows.

What new items will have is their FM judgments only, and the predictor for them is the linear
model refitted at the FM priors ``q = (1 − ε) b + ε (1 − b)`` with a ridge (docs/equations.md §5:
exactly a ridge regression on the judgments). So a structure — a set of features with
their error rates — is scored by the **cross-validated loss** of that predictor: the discovery
rows are split once into ``folds`` folds (deterministic from the seed); for each fold the
predictor is fitted on the other folds (eq. 29 at the priors, the mean-field variances
``q(1 − q)`` included, the ridge chosen from :data:`RIDGE_GRID` by the smallest total
cross-validated loss) and predicts the fold; item ``n``'s loss is
``Σ_d (y_nd − ŷ_nd)² / var(y_d)``. Fitting a fold costs a ``J×J`` solve (``J`` = features + side
inputs + 1): the folds cost EM-free linear algebra, never foundation-model calls.

:class:`Discovery` calls this criterion (it sees arrays, not the discovery state) for every
decision that shapes the predictor:

* **keeping a new feature**: kept when it lowers the cross-validated loss
  (:func:`keeps`: the mean paired per-item gain is positive); otherwise the addition is
  undone and the descriptor discarded;
* **choosing among mined candidates**: the simplest candidate (the FM's ``complexity``) whose
  gain is within one standard error of the largest (:func:`simplest_within_one_se`);
  a conjunction stays only if it beats its two parts side by side by more than one standard
  error (main effects before interactions);
* **removal** (Algorithm 3): the feature whose drop-one gain is smallest, if dropping it does
  not raise the cross-validated loss (:func:`removable`); otherwise nothing is removed;
* **stopping**: ``patience`` whole cycles without a new best cross-validated loss end the
  schedule;
* **the predictor's structure**: the step of the whole path with the smallest cross-validated
  loss (:func:`best_step`). No pruning: the predictor may keep many small effects, each
  shrunk by the ridge. Which of them are *findings* is a different question, answered on rows
  that none of these choices touched (:mod:`genz.findings`).

The same fold assignment serves every decision of a fit, so differences between structures
are paired per item (:func:`paired`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .observation.linear import LinearGaussian, _solve_psd, ridge_penalty

__all__ = ["CrossValidation", "paired", "keeps", "removable", "simplest_within_one_se", "best_step",
           "split_indices", "RIDGE_GRID", "MIN_CV_ROWS"]

#: the ridge values (``ridge · N`` on every column but the constant) tried in each structure
RIDGE_GRID = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
#: fewest discovery rows for cross-validated choices (fewer: the bound decides, as in the paper)
MIN_CV_ROWS = 20


def split_indices(n: int, seed: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The discovery and untouched indices (sorted): a random ``share`` of ``n`` items, from a
    generator of its own (``[seed, 9]``) so discovery's random stream is untouched."""
    rng = np.random.default_rng([int(seed), 9])
    perm = rng.permutation(n)
    n_v = int(round(share * n))
    return np.sort(perm[n_v:]), np.sort(perm[:n_v])


def paired(d: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-item differences ``d`` (the one paired standard error of
    genz's selection)."""
    d = np.asarray(d, dtype=float)
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0, 0.0
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


KEEP_SE = 0.0  # a feature is kept when its mean cross-validated gain exceeds this many standard errors
FINAL_SE = 0.0  # the structure: the smallest within this many standard errors of the best step


def keeps(gain: np.ndarray) -> bool:
    """Whether per-item cross-validated gains say a feature lowers the loss (mean gain above
    :data:`KEEP_SE` standard errors, and above 0)."""
    m, se = paired(gain)
    return m > 0.0 and m > KEEP_SE * se


def removable(gain: np.ndarray) -> bool:
    """Whether a feature with these per-item drop-one gains would not be kept if it were added
    now (:func:`keeps`)."""
    return not keeps(gain)


def simplest_within_one_se(names: Sequence[str], gains: Sequence[np.ndarray],
                           complexity: Callable[[str], float] | None = None) -> int:
    """Of candidates with per-item gains, the simplest descriptor (by the FM's ``complexity``,
    where it has one) whose mean gain is within one paired standard error of the best one's,
    the largest gain among equally simple ones. Without a complexity, the largest gain."""
    best = int(np.argmax([np.mean(g) for g in gains]))
    ok = []
    for i, g in enumerate(gains):
        m, se = paired(gains[best] - g)
        if m <= se:
            ok.append((complexity(names[i]) if complexity is not None else 0.0, -float(np.mean(g)), i))
    return min(ok)[2]


def best_step(losses: Sequence[np.ndarray], sizes: Sequence[int]) -> int:
    """Of structures with per-item cross-validated losses, the index of the one with the
    smallest mean loss — or, with :data:`FINAL_SE` > 0, of the smallest structure (``sizes``)
    whose loss is within that many paired standard errors of it (the first one on ties)."""
    means = [float(np.mean(L)) for L in losses]
    best = int(np.argmin(means))
    if FINAL_SE <= 0:
        return best
    ok = [(sizes[i], means[i], i) for i, L in enumerate(losses)
          if (lambda m_se: m_se[0] <= FINAL_SE * m_se[1])(paired(L - losses[best]))]
    return min(ok)[2]


class CrossValidation:
    """K-fold cross-validated losses of the predictor at the FM priors (module doc) on a fixed
    set of rows with targets ``Y`` (N×D) and side inputs ``U``."""

    def __init__(self, Y: np.ndarray, U: np.ndarray | None, folds: int, seed: int,
                 y_var: np.ndarray | None = None, fold_of: np.ndarray | None = None) -> None:
        self.Y = np.asarray(Y, dtype=float)
        self.U = U
        n = len(self.Y)
        self.folds = int(max(2, min(folds, n)))
        if fold_of is None:
            fold_of = np.random.default_rng([int(seed), 17]).permutation(n) % self.folds
        self.fold_of = np.asarray(fold_of)
        self.seed = int(seed)
        self.y_var = np.maximum(self.Y.var(axis=0), 1e-300) if y_var is None else y_var
        scaler = LinearGaussian()
        scaler.set_scaling(U, self.Y)
        self.Us = scaler.scale_u(U, n)  # N×P (P may be 0), as the predictor scales them

    def __len__(self) -> int:
        return len(self.Y)

    def subset(self, rows: np.ndarray) -> "CrossValidation":
        """The same criterion on some rows (candidate screening), same folds and loss scale."""
        sub = CrossValidation.__new__(CrossValidation)
        sub.Y, sub.U = self.Y[rows], None if self.U is None else self.U[rows]
        sub.folds, sub.fold_of, sub.seed, sub.y_var = self.folds, self.fold_of[rows], self.seed, self.y_var
        sub.Us = self.Us[rows]
        return sub

    def predictions(self, Q: np.ndarray) -> tuple[np.ndarray, float]:
        """Out-of-fold predictions (N×D) of the structure whose FM priors are the columns of
        ``Q`` (N×K), at the ridge of :data:`RIDGE_GRID` with the smallest total loss, and that
        ridge."""
        n = len(self.Y)
        M = np.hstack([Q, self.Us, np.ones((n, 1))])
        J, K = M.shape[1], Q.shape[1]
        V = Q * (1.0 - Q)
        grams, rhss, masks = [], [], []
        for f in range(self.folds):
            m = self.fold_of == f
            G = M[m].T @ M[m]
            G[np.arange(K), np.arange(K)] += V[m].sum(axis=0)
            grams.append(G)
            rhss.append(M[m].T @ self.Y[m])
            masks.append(m)
        G_all, r_all = sum(grams), sum(rhss)
        best, best_loss, best_lam = None, np.inf, 0.0
        for lam in RIDGE_GRID:
            P = np.empty_like(self.Y)
            for f, m in enumerate(masks):
                n_tr = n - int(m.sum())
                if n_tr == 0:
                    P[m] = self.Y.mean(axis=0)
                    continue
                G = G_all - grams[f]
                G[np.arange(J), np.arange(J)] += ridge_penalty(J, n_tr, lam)
                P[m] = M[m] @ _solve_psd(G, r_all - rhss[f])
            loss = float(((self.Y - P) ** 2 / self.y_var).sum())
            if loss < best_loss - 1e-12 * abs(best_loss) or best is None:
                best, best_loss, best_lam = P, loss, lam
        return best, float(best_lam)

    def losses(self, Q: np.ndarray) -> np.ndarray:
        """Per-item cross-validated loss ``Σ_d (y_nd − ŷ_nd)² / var(y_d)`` of the structure
        whose FM priors are the columns of ``Q``."""
        P, _ = self.predictions(Q)
        return ((self.Y - P) ** 2 / self.y_var).sum(axis=1)
