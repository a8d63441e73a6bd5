"""The linear observation model with exact mean-field expectations (docs/equations.md §4, Appendix B).

``g(z, u) = W z̃`` with ``z̃ = [z; u; 1]``. Under the factorised posterior
``q(z) = Π_k q_k^{z_k} (1 − q_k)^{1 − z_k}`` the expectations are exact:
``m̃ = E[z̃] = [q; u; 1]``, ``E[z̃ z̃ᵀ] = m̃ m̃ᵀ + diag(v)`` with ``v = [q(1 − q); 0; 0]``
(eq. 19-20).

Stabiliser: the M-step for W (eq. 29) adds ``ridge · N`` to the diagonal of
``Σ_n E[z̃ z̃ᵀ]`` for the feature and side-input columns (not the constant). The default is
``ridge = 0``: the system is solved by Cholesky, and a singular one (collinear or constant
columns, e.g. two features with identical judgments) by the pseudo-inverse, which gives the
minimum-norm W. A positive ridge shrinks W (useful against overfitting with many features)
at the price of a bound that is only monotone up to the penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .base import LOG_2PI, ObservationModel


@dataclass
class _Sweep:
    R: np.ndarray  # residual y − W m̃, N×D
    Winv: np.ndarray  # W[:, :K] / σ², D×K
    half_w2: np.ndarray  # ½ Σ_d W²_dk / σ²_d, (K,)


def _solve_psd(G: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve G X = rhs for symmetric positive semi-definite G (pseudo-inverse if singular)."""
    try:
        c = cho_factor(G, lower=True, check_finite=False)
        X = cho_solve(c, rhs, check_finite=False)
        if np.all(np.isfinite(X)) and np.linalg.cond(G) < 1e12:
            return X
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(G, rcond=1e-12, hermitian=True) @ rhs


def ridge_penalty(n_cols: int, n_items: int, ridge: float) -> np.ndarray:
    """The one ridge convention of genz: ``ridge · N`` on every column of the design but the
    last (the constant)."""
    pen = np.full(n_cols, float(ridge) * n_items)
    pen[-1] = 0.0
    return pen


def normal_equations(M: np.ndarray, Y: np.ndarray, var: np.ndarray | None = None,
                     ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``G = Σ_n E[z̃ z̃ᵀ] + penalty`` and ``Σ_n m̃_n y_nᵀ`` for the design ``M`` (rows m̃_n, the
    constant last) whose first columns have variances ``var`` (N×K; eq. 20)."""
    G = M.T @ M
    if var is not None and var.shape[1]:
        K = var.shape[1]
        G[np.arange(K), np.arange(K)] += var.sum(axis=0)
    J = G.shape[0]
    G[np.arange(J), np.arange(J)] += ridge_penalty(J, M.shape[0], ridge)
    return G, M.T @ Y


def penalised_lstsq(M: np.ndarray, Y: np.ndarray, ridge: float = 0.0, var: np.ndarray | None = None) -> np.ndarray:
    """The penalised least squares of genz (eq. 29): ``W`` (D×J) minimising
    ``Σ_n E‖y_n − W z̃_n‖² + Σ_j pen_j ‖W_:j‖²`` with :func:`ridge_penalty`."""
    G, rhs = normal_equations(M, Y, var, ridge)
    return _solve_psd(G, rhs).T


class LinearGaussian(ObservationModel):
    """Factor-analysis-style linear model over binary latents (eq. 17-31)."""

    name = "linear"

    def __init__(self, ridge: float = 0.0, sigma2_floor_rel: float = 1e-10) -> None:
        super().__init__(sigma2_floor_rel)
        self.ridge = ridge
        self.W_: np.ndarray | None = None  # D × (K + P + 1)

    # design ----------------------------------------------------------------------------------
    def _design(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        n = Q.shape[0]
        return np.hstack([Q, self.scale_u(U, n), np.ones((n, 1))])

    # M-step ----------------------------------------------------------------------------------
    def fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """W from eq. (29), then σ² from eq. (30)."""
        K = Q.shape[1]
        self.n_features_ = K
        M = self._design(Q, U)  # m̃_n as rows
        v = Q * (1.0 - Q)  # variances of the feature columns (eq. 20)
        W = penalised_lstsq(M, Y, self.ridge, v)  # eq. (29)
        self.W_ = W
        R = Y - M @ W.T
        s2 = (R**2).mean(axis=0) + (v @ (W[:, :K] ** 2).T).mean(axis=0)  # eq. (30)
        self.sigma2_ = self.floor_sigma2(s2)

    def loo_errors(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray,
                   grid: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)) -> np.ndarray:
        """Leave-one-out error of the fit (eq. 29 with ridge λ) for each λ in ``grid``, in
        closed form through the hat matrix ``H = M G⁻¹ Mᵀ`` (residuals ``r_n / (1 − H_nn)``),
        each target dimension weighted by 1/var(y_d); ``inf`` where some ``H_nn`` is 1."""
        n = Q.shape[0]
        M = self._design(Q, U)
        G0, _ = normal_equations(M, Y, Q * (1.0 - Q))
        pen = ridge_penalty(G0.shape[0], n, 1.0)
        yw = 1.0 / np.maximum(Y.var(axis=0), 1e-300)
        out = np.full(len(grid), np.inf)
        for i, lam in enumerate(grid):
            G = G0 + np.diag(lam * pen)
            Ginv_Mt = np.linalg.pinv(G, rcond=1e-12, hermitian=True) @ M.T
            h = np.einsum("nj,jn->n", M, Ginv_Mt)
            if np.any(h > 1 - 1e-9):
                continue
            R = Y - M @ (Ginv_Mt @ Y)
            out[i] = float(((R / (1 - h)[:, None]) ** 2 @ yw).sum())
        return out

    def select_ridge(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray,
                     grid: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)) -> float:
        """The ridge in ``grid`` with the smallest leave-one-out error (:meth:`loo_errors`)."""
        err = self.loo_errors(Q, U, Y, grid)
        return float(grid[int(np.argmin(err))]) if np.isfinite(err).any() else self.ridge

    # E-step ----------------------------------------------------------------------------------
    def begin_e_step(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> _Sweep:
        K = Q.shape[1]
        R = Y - self._design(Q, U) @ self.W_.T
        Wk = self.W_[:, :K]
        Winv = Wk / self.sigma2_[:, None]
        half_w2 = 0.5 * (Wk * Winv).sum(axis=0)
        return _Sweep(R=R, Winv=Winv, half_w2=half_w2)

    def loglik_gap(self, ctx: _Sweep, k: int, q_k: np.ndarray) -> np.ndarray:
        """eq. (27): ½ Σ_d [(r⁻)² − (r⁺)²]/σ²_d with r⁺ = r − w_k(1 − q_k), r⁻ = r + w_k q_k,
        which expands to Σ_d w_dk r_d/σ²_d + ½(2q_k − 1) Σ_d w²_dk/σ²_d."""
        return ctx.R @ ctx.Winv[:, k] + (2.0 * q_k - 1.0) * ctx.half_w2[k]

    def commit(self, ctx: _Sweep, k: int, q_old: np.ndarray, q_new: np.ndarray) -> None:
        ctx.R -= np.outer(q_new - q_old, self.W_[:, k])

    # bound / prediction ----------------------------------------------------------------------
    def expected_loglik(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
        """eq. (21)-(22) per item."""
        K = Q.shape[1]
        R = Y - self._design(Q, U) @ self.W_.T
        v = Q * (1.0 - Q)
        quad = (R**2 + v @ (self.W_[:, :K] ** 2).T) / self.sigma2_
        return -0.5 * quad.sum(axis=1) - 0.5 * np.sum(np.log(self.sigma2_) + LOG_2PI)

    def predict(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        return self._design(Q, U) @ self.W_.T

    # structure changes -----------------------------------------------------------------------
    def add_feature(self) -> None:
        K = self.n_features_
        if self.W_ is not None:
            self.W_ = np.insert(self.W_, K, 0.0, axis=1)
        self.n_features_ = K + 1

    def remove_feature(self, k: int) -> None:
        if self.W_ is not None:
            self.W_ = np.delete(self.W_, k, axis=1)
        self.n_features_ -= 1

    def flip_feature(self, k: int) -> None:
        if self.W_ is not None:
            self.W_[:, -1] += self.W_[:, k]
            self.W_[:, k] = -self.W_[:, k]

    def weights(self) -> np.ndarray:
        return np.zeros((0, 0)) if self.W_ is None else self.W_[:, : self.n_features_].copy()

    def get_state(self):
        meta, arrays = super().get_state()
        meta["ridge"] = self.ridge
        if self.W_ is not None:
            arrays["W_"] = self.W_
        return meta, arrays

    def set_state(self, meta, arrays):
        super().set_state(meta, arrays)
        self.ridge = float(meta.get("ridge", self.ridge))
        self.W_ = np.asarray(arrays["W_"], dtype=float) if "W_" in arrays else None
