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
    """Solve G X = rhs for symmetric positive semi-definite G (pseudo-inverse if singular or
    nearly so: a Cholesky pivot below 1e-6 of the largest, i.e. a condition number above about
    1e12)."""
    try:
        c, low = cho_factor(G, lower=True, check_finite=False)
        d = np.abs(np.diag(c))
        if d.size == 0 or d.min() > 1e-6 * d.max():
            X = cho_solve((c, low), rhs, check_finite=False)
            if np.all(np.isfinite(X)):
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
                     ridge: float = 0.0, var_sum: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``G = Σ_n E[z̃ z̃ᵀ] + penalty`` and ``Σ_n m̃_n y_nᵀ`` for the design ``M`` (rows m̃_n, the
    constant last) whose first columns have variances ``var`` (N×K; eq. 20), or their column
    sums ``var_sum``."""
    G = M.T @ M
    if var_sum is None and var is not None:
        var_sum = var.sum(axis=0)
    if var_sum is not None and var_sum.shape[0]:
        K = var_sum.shape[0]
        G[np.arange(K), np.arange(K)] += var_sum
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
        self._clear_buffers()

    # work buffers (never saved, pickled or deep-copied) ---------------------------------------
    def _clear_buffers(self) -> None:
        self._buf: np.ndarray | None = None  # the design [Q | scaled U | 1]
        self._buf_u: np.ndarray | None = None  # the U it was built for
        self._fit_R: tuple | None = None  # (Q, residual) of the last fit, for the next E-step
        self._vsum: tuple | None = None  # (Q, Σ_n q(1 − q)) of EM's last bound, for the next fit

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_buf=None, _buf_u=None, _fit_R=None, _vsum=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for key in ("_buf", "_buf_u", "_fit_R", "_vsum"):
            self.__dict__.setdefault(key, None)

    def set_scaling(self, U: np.ndarray | None, Y: np.ndarray) -> None:
        super().set_scaling(U, Y)
        self._clear_buffers()

    # design ----------------------------------------------------------------------------------
    def _design(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        """``[Q | scaled U | 1]`` in one buffer kept between calls: the side-input and constant
        columns are written when ``U`` (the same object) or the shape changes, ``Q`` every call.
        The returned array is overwritten by the next call."""
        n, K = Q.shape
        buf = self._buf
        P = 0 if self.u_mean_ is None else self.u_mean_.size
        if buf is None or buf.shape != (n, K + P + 1) or self._buf_u is not U:
            buf = np.empty((n, K + P + 1))
            buf[:, K:K + P] = self.scale_u(U, n)
            buf[:, -1] = 1.0
            self._buf, self._buf_u = buf, U
        buf[:, :K] = Q
        return buf

    # M-step ----------------------------------------------------------------------------------
    def fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """W from eq. (29), then σ² from eq. (30)."""
        K = Q.shape[1]
        self.n_features_ = K
        M = self._design(Q, U)  # m̃_n as rows
        last, self._vsum = self._vsum, None
        # Σ_n of the feature columns' variances (eq. 20); EM's bound just computed it for this Q
        v_sum = last[1] if last is not None and last[0] is Q else (Q * (1.0 - Q)).sum(axis=0)
        W = _solve_psd(*normal_equations(M, Y, ridge=self.ridge, var_sum=v_sum)).T  # eq. (29)
        self.W_ = W
        R = Y - M @ W.T
        s2 = (R**2).mean(axis=0) + (v_sum @ (W[:, :K] ** 2).T) / Q.shape[0]  # eq. (30)
        self.sigma2_ = self.floor_sigma2(s2)
        self._fit_R = (Q, R)

    def fit_final(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """The predictor for new items (docs/equations.md §5, docs/noise-model.md): penalised
        least squares of ``y`` on ``m̃ = [q; u; 1]`` *without* eq. (20)'s variance term. A new
        item's features are unknown with variance ``q(1 − q)``, but ``E[y | b] = W E[z | b]`` is
        linear in its FM priors ``q``: the variance is not noise in the regressors, and adding it
        (as eq. 29 does inside EM) would shrink every noisy feature by about
        ``(1 − 2ε)² / ((1 − 2ε)² + ε(1 − ε))`` — a large, wrong shrinkage once ε is estimated
        well (measured: test RMSE 7-10% worse than a plain regression on the judgments at 10-20%
        flips). σ² is the residual variance of this fit less the part the features' own
        uncertainty explains on average, ``mean_n Σ_k W²_dk q_nk(1 − q_nk)`` (at least a tenth of
        the residual variance), so that the predictive variance ``σ² + Σ_k W²_dk q(1 − q)``
        (:func:`genz.observation.base.predictive_std`) matches the residuals on average."""
        K = Q.shape[1]
        self.n_features_ = K
        M = self._design(Q, U)
        self.W_ = _solve_psd(*normal_equations(M, Y, ridge=self.ridge)).T
        R = Y - M @ self.W_.T
        r2 = (R**2).mean(axis=0)
        feat = ((Q * (1.0 - Q)) @ (self.W_[:, :K] ** 2).T).mean(axis=0) if K else 0.0
        self.sigma2_ = self.floor_sigma2(np.maximum(r2 - feat, 0.1 * r2))
        self._fit_R = self._vsum = None

    def loo_errors(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray,
                   grid: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)) -> np.ndarray:
        """Leave-one-out error of :meth:`fit_final` (penalised least squares on ``m̃``, ridge λ)
        for each λ in ``grid``, in closed form through the hat matrix ``H = M G⁻¹ Mᵀ``
        (residuals ``r_n / (1 − H_nn)``), each target dimension weighted by 1/var(y_d); ``inf``
        where some ``H_nn`` is 1."""
        n = Q.shape[0]
        M = self._design(Q, U)
        G0, _ = normal_equations(M, Y)
        pen = ridge_penalty(G0.shape[0], n, 1.0)
        yw = 1.0 / np.maximum(Y.var(axis=0), 1e-300)
        out = np.full(len(grid), np.inf)
        MtY = M.T @ Y
        for i, lam in enumerate(grid):
            G = G0 + np.diag(lam * pen)
            A = M @ np.linalg.pinv(G, rcond=1e-12, hermitian=True)  # rows m̃_nᵀ G⁻¹
            h = np.einsum("nj,nj->n", A, M)
            if np.any(h > 1 - 1e-9):
                continue
            R = Y - A @ MtY
            out[i] = float(((R / (1 - h)[:, None]) ** 2 @ yw).sum())
        return out

    def select_ridge(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray,
                     grid: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)) -> float:
        """The ridge in ``grid`` with the smallest leave-one-out error (:meth:`loo_errors`)."""
        err = self.loo_errors(Q, U, Y, grid)
        return float(grid[int(np.argmin(err))]) if np.isfinite(err).any() else self.ridge

    # E-step ----------------------------------------------------------------------------------
    def begin_e_step(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, R: np.ndarray | None = None) -> _Sweep:
        K = Q.shape[1]
        R = Y - self._design(Q, U) @ self.W_.T if R is None else R
        Wk = self.W_[:, :K]
        Winv = Wk / self.sigma2_[:, None]
        half_w2 = 0.5 * (Wk * Winv).sum(axis=0)
        return _Sweep(R=R, Winv=Winv, half_w2=half_w2)

    def begin_e_step_after_fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> _Sweep:
        """The residual ``y − W m̃`` of the fit just made on this ``Q`` starts the sweep."""
        last, self._fit_R = self._fit_R, None
        return self.begin_e_step(Q, U, Y, last[1] if last is not None and last[0] is Q else None)

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

    def expected_loglik_total(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, ctx: _Sweep | None = None) -> float:
        """eq. (21)-(22) summed over items, from column sums; the residuals are the sweep's
        (``ctx.R`` is ``y − W m̃`` for the posteriors the sweep left) when ``ctx`` is given."""
        K, n = Q.shape[1], Q.shape[0]
        R = ctx.R if ctx is not None else Y - self._design(Q, U) @ self.W_.T
        v_sum = (Q * (1.0 - Q)).sum(axis=0)
        self._vsum = (Q, v_sum) if ctx is not None else None  # EM's next M-step sees this Q
        quad = (R**2).sum(axis=0) + v_sum @ (self.W_[:, :K] ** 2).T
        return float(-0.5 * (quad / self.sigma2_).sum() - 0.5 * n * np.sum(np.log(self.sigma2_) + LOG_2PI))

    def predict(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        return self._design(Q, U) @ self.W_.T

    # structure changes -----------------------------------------------------------------------
    def add_feature(self) -> None:
        self._fit_R = self._vsum = None
        K = self.n_features_
        if self.W_ is not None:
            self.W_ = np.insert(self.W_, K, 0.0, axis=1)
        self.n_features_ = K + 1

    def remove_feature(self, k: int) -> None:
        self._fit_R = self._vsum = None
        if self.W_ is not None:
            self.W_ = np.delete(self.W_, k, axis=1)
        self.n_features_ -= 1

    def flip_feature(self, k: int) -> None:
        self._fit_R = self._vsum = None
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
        self._clear_buffers()
        self.ridge = float(meta.get("ridge", self.ridge))
        self.W_ = np.asarray(arrays["W_"], dtype=float) if "W_" in arrays else None
