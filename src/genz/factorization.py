"""The two-sided matrix's factorisation (paper Appendix C, eq. 32-36; docs/equations.md §8):
damped offsets ``μ, b, c`` taken out (:func:`offsets`), the residual factored once by a rank-``k``
truncated SVD ``E ≈ P S Qᵀ`` (unrated cells imputed by iterating the SVD, or left at 0), and
the scale split between the sides, ``U = P S^alpha``, ``V = Q S^(1 − alpha)``
(:func:`split_svd`). :func:`factorize` returns the :class:`Factors` each side's GenZ model
learns (:mod:`genz.pairs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import GenZInputError

__all__ = ["Factors", "offsets", "split_svd", "factorize"]


def offsets(R: sp.spmatrix, damping_user: float = 5.0, damping_item: float = 25.0) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean ``μ``, user offsets ``b`` and item offsets ``c`` of the observed cells of ``R``
    (a sparse matrix whose stored entries are the observations), as damped means:
    ``c_i = Σ_u (y_ui − μ) / (n_i + λ_i)``, then ``b_u = Σ_i (y_ui − μ − c_i) / (n_u + λ_u)``.
    Users or items without observations get offset 0."""
    R = sp.csr_matrix(R, dtype=float)
    if R.nnz == 0:
        raise GenZInputError("the interaction matrix has no observed cells")
    rows, cols = _coo(R)
    vals = R.data
    mu = float(vals.mean())
    n_i = np.bincount(cols, minlength=R.shape[1])
    c = np.bincount(cols, weights=vals - mu, minlength=R.shape[1]) / (n_i + damping_item)
    n_u = np.bincount(rows, minlength=R.shape[0])
    b = np.bincount(rows, weights=vals - mu - c[cols], minlength=R.shape[0]) / (n_u + damping_user)
    return mu, b, c


def _coo(R: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index of every stored entry of a CSR matrix, in storage order."""
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    return rows, R.indices


def split_svd(P: np.ndarray, s: np.ndarray, Q: np.ndarray, alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The scale split of eq. (36): ``U = P S^alpha``, ``V = Q S^(1-alpha)``, so ``U Vᵀ = P S Qᵀ``."""
    if not 0.0 <= alpha <= 1.0:
        raise GenZInputError(f"alpha must be in [0, 1], not {alpha}")
    return P * s**alpha, Q * s ** (1.0 - alpha)


def _truncated_svd(E: Any, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-k SVD (descending s; each component's sign fixed so its item vector sums ≥ 0)."""
    if sp.issparse(E):
        from scipy.sparse.linalg import svds

        v0 = np.random.default_rng(0).standard_normal(min(E.shape))
        P, s, Qt = svds(sp.csr_matrix(E, dtype=float), k=k, v0=v0, solver="arpack")
        order = np.argsort(-s)
        P, s, Q = P[:, order], s[order], Qt[order].T
    else:
        P, s, Qt = np.linalg.svd(np.asarray(E, dtype=float), full_matrices=False)
        P, s, Q = P[:, :k], s[:k], Qt[:k].T
    signs = np.sign(Q.sum(axis=0))
    signs[signs == 0] = 1.0
    return P * signs, s, Q * signs


@dataclass
class Factors:
    """The factorisation of eq. (32)/(36): ``y_ui ≈ mu + b[u] + c[i] + U[u]·V[i]``."""

    mu: float
    b: np.ndarray  # user offsets (n_users,)
    c: np.ndarray  # item offsets (n_items,)
    P: np.ndarray  # n_users × k orthonormal
    s: np.ndarray  # k, descending
    Q: np.ndarray  # n_items × k orthonormal
    alpha: float = 0.5
    fill: str = "svd"

    @property
    def U(self) -> np.ndarray:
        return split_svd(self.P, self.s, self.Q, self.alpha)[0]

    @property
    def V(self) -> np.ndarray:
        return split_svd(self.P, self.s, self.Q, self.alpha)[1]

    @property
    def k(self) -> int:
        return int(self.s.shape[0])

    def user_targets(self) -> np.ndarray:
        """Each user's GenZ target ``[b_u, U_u]`` (n_users × (k+1))."""
        return np.hstack([self.b[:, None], self.U])

    def item_targets(self) -> np.ndarray:
        """Each item's GenZ target ``[c_i, V_i]`` (n_items × (k+1))."""
        return np.hstack([self.c[:, None], self.V])

    def predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The warm prediction of cells ``(rows[j], cols[j])``."""
        U, V = self.U, self.V
        return self.mu + self.b[rows] + self.c[cols] + np.einsum("nk,nk->n", U[rows], V[cols])


def factorize(
    R: sp.spmatrix,
    k: int = 16,
    *,
    alpha: float = 0.5,
    fill: str = "svd",
    n_iter: int = 15,
    damping_user: float = 5.0,
    damping_item: float = 25.0,
) -> Factors:
    """Offsets, then the rank-``k`` SVD of the residuals with the scale split ``alpha`` (eq. 36).

    ``R`` is sparse; its stored entries are the observed cells (a stored 0 is an observed 0).
    ``fill="svd"`` imputes the unobserved residuals by ``n_iter`` rounds of "fill with the
    current rank-k fit, refactor" (dense; fine for thousands × hundreds); ``fill="zero"`` treats
    them as 0 (one sparse SVD)."""
    R = sp.csr_matrix(R, dtype=float)
    R.sort_indices()
    n_u, n_i = R.shape
    if k < 1 or k >= min(n_u, n_i):
        raise GenZInputError(f"rank k={k} must be at least 1 and below min(users, items) = {min(n_u, n_i)}")
    if fill not in ("svd", "zero"):
        raise GenZInputError(f"fill must be 'svd' or 'zero', not {fill!r}")
    mu, b, c = offsets(R, damping_user, damping_item)
    rows, cols = _coo(R)
    resid = R.data - mu - b[rows] - c[cols]
    E = sp.csr_matrix((resid, R.indices.copy(), R.indptr.copy()), shape=R.shape)
    if fill == "zero":
        P, s, Q = _truncated_svd(E, k)
    else:
        observed = np.zeros(R.shape, dtype=bool)
        observed[rows, cols] = True
        Z = E.toarray()
        obs_vals = Z[observed]
        for _ in range(max(int(n_iter), 1)):
            P, s, Q = _truncated_svd(Z, k)
            Z = (P * s) @ Q.T
            Z[observed] = obs_vals
        P, s, Q = _truncated_svd(Z, k)
    return Factors(mu=mu, b=b, c=c, P=P, s=s, Q=Q, alpha=float(alpha), fill=fill)
