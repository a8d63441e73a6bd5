"""Inference: the E-step, the M-step, the error rates ε and the bound (docs/equations.md §2-§4).

All updates are vectorised over items; the only loop is the coordinate ascent over features
``k`` inside the E-step (eq. 10-11 / 25-27).

Judgments ``B`` are floats in [0, 1]: 0/1 for hard yes/no answers, or the foundation model's
P(yes) for soft judgments. With a soft judgment ``b`` the feature prior is the mixture
``p(z = 1) = b(1 − ε) + (1 − b) ε``, which reduces to eq. (4)-(5) when ``b`` is 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from .observation.base import ObservationModel

_TINY = 1e-300


@dataclass
class LatentState:
    """Everything about the features that EM updates, for the N training items.

    ``B``: N×K judgments; ``eps``: (K,) error rates; ``Q``: N×K posteriors q(z_nk = 1);
    ``coupled[k]`` is False while feature k is decoupled from the foundation model (its prior
    log-odds are 0, ε held at ½: Algorithm 1); ``hard[k]`` evaluates feature k at its mode
    (q ∈ {0, 1}) in the E-step.
    """

    B: np.ndarray
    eps: np.ndarray
    Q: np.ndarray
    coupled: np.ndarray
    hard: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "LatentState":
        return cls(
            B=np.zeros((n, 0)), eps=np.zeros(0), Q=np.zeros((n, 0)),
            coupled=np.zeros(0, dtype=bool), hard=np.zeros(0, dtype=bool),
        )

    @property
    def K(self) -> int:
        return int(self.Q.shape[1])

    def append(self, b: np.ndarray, q: np.ndarray, eps: float, coupled: bool, hard: bool) -> None:
        self.B = np.column_stack([self.B, b])
        self.Q = np.column_stack([self.Q, q])
        self.eps = np.append(self.eps, eps)
        self.coupled = np.append(self.coupled, coupled)
        self.hard = np.append(self.hard, hard)

    def delete(self, k: int) -> None:
        self.B = np.delete(self.B, k, axis=1)
        self.Q = np.delete(self.Q, k, axis=1)
        self.eps = np.delete(self.eps, k)
        self.coupled = np.delete(self.coupled, k)
        self.hard = np.delete(self.hard, k)

    def copy(self) -> "LatentState":
        return LatentState(self.B.copy(), self.eps.copy(), self.Q.copy(), self.coupled.copy(), self.hard.copy())


# -- the feature model, eq. (3)-(7) ------------------------------------------------------------

def prior_mixture(B: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The foundation model's prior ``p(z = 1 | b, ε) = (1 − ε) b + ε (1 − b)`` (eq. 4-5; for a
    soft judgment ``b`` ∈ [0, 1] the mixture). It is also the feature posterior of a new item,
    which has no target (docs/equations.md §5)."""
    return B * (1.0 - eps) + (1.0 - B) * eps


def log_priors(B: np.ndarray, eps: np.ndarray, coupled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``a¹ = log p(z=1 | b, ε)`` and ``a⁰ = log p(z=0 | b, ε)`` (eq. 5); a decoupled feature
    has ``p = ½`` for both."""
    e = np.asarray(eps, dtype=float)
    if coupled is not None:
        e = np.where(coupled, e, 0.5)
    p1 = prior_mixture(B, e)
    return np.log(np.maximum(p1, _TINY)), np.log(np.maximum(1.0 - p1, _TINY))


def prior_logodds(B: np.ndarray, eps: np.ndarray, coupled: np.ndarray | None = None) -> np.ndarray:
    """``a¹ − a⁰``; for hard judgments ``(2b − 1) log((1 − ε)/ε)``."""
    a1, a0 = log_priors(B, eps, coupled)
    return a1 - a0


def feature_term(Q: np.ndarray, B: np.ndarray, eps: np.ndarray, coupled: np.ndarray | None = None) -> np.ndarray:
    """eq. (6) per item: Σ_k q a¹ + (1 − q) a⁰."""
    a1, a0 = log_priors(B, eps, coupled)
    return (Q * a1 + (1.0 - Q) * a0).sum(axis=1)


def entropy(Q: np.ndarray) -> np.ndarray:
    """eq. (7) per item: −Σ_k [q log q + (1 − q) log(1 − q)]."""
    q = np.clip(Q, _TINY, 1.0)
    r = np.clip(1.0 - Q, _TINY, 1.0)
    return -(Q * np.log(q) + (1.0 - Q) * np.log(r)).sum(axis=1)


def bound_per_item(model: ObservationModel, st: LatentState, U: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
    """``B_n`` of eq. (1): observation part + feature part + entropy."""
    return model.expected_loglik(st.Q, U, Y) + feature_term(st.Q, st.B, st.eps, st.coupled) + entropy(st.Q)


def bound(model: ObservationModel, st: LatentState, U: np.ndarray | None, Y: np.ndarray) -> float:
    """The data-set criterion Σ_n B_n (eq. 2)."""
    return float(bound_per_item(model, st, U, Y).sum())


# -- E-step, eq. (11) / (27) ----------------------------------------------------------------------

def e_step(
    model: ObservationModel,
    st: LatentState,
    U: np.ndarray | None,
    Y: np.ndarray,
) -> None:
    """One sweep of coordinate ascent over features, updating ``st.Q`` in place:
    ``q_nk = sigmoid((a¹_nk − a⁰_nk) + L⁺ᵏ_n − L⁻ᵏ_n)`` (eq. 11; eq. 27 for the linear model)."""
    if st.K == 0:
        return
    logodds = prior_logodds(st.B, st.eps, st.coupled)
    ctx = model.begin_e_step(st.Q, U, Y)
    for k in range(st.K):
        q_old = st.Q[:, k].copy()
        logit = logodds[:, k] + model.loglik_gap(ctx, k, q_old)
        q_new = (logit > 0).astype(float) if st.hard[k] else expit(logit)
        model.commit(ctx, k, q_old, q_new)
        st.Q[:, k] = q_new


# -- M-step, eq. (12)-(14) / (29)-(31) -------------------------------------------------------------

def error_rates(Q: np.ndarray, B: np.ndarray, eps_min: float, rows: np.ndarray | None = None) -> np.ndarray:
    """eq. (14)/(31): ``ε_k = mean_n [q_nk (1 − b_nk) + (1 − q_nk) b_nk]``, clipped to
    ``[eps_min, ½]``; over the items in ``rows`` when given."""
    if rows is not None:
        Q, B = Q[rows], B[rows]
    if Q.shape[0] == 0:
        return np.full(Q.shape[1], 0.5)
    eps = (Q * (1.0 - B) + (1.0 - Q) * B).mean(axis=0)
    return np.clip(eps, eps_min, 0.5)


def m_step(
    model: ObservationModel,
    st: LatentState,
    U: np.ndarray | None,
    Y: np.ndarray,
    eps_min: float,
) -> None:
    """θ and σ² (eq. 12-13 / 29-30), then ε for the coupled features (eq. 14 / 31)."""
    model.fit(st.Q, U, Y)
    if st.K:
        new = error_rates(st.Q, st.B, eps_min)
        st.eps = np.where(st.coupled, new, st.eps)


# -- EM to convergence ---------------------------------------------------------------------------

@dataclass
class EMResult:
    """How one EM phase ended: iterations run, the bound after each, and whether the
    convergence test held (False: stopped at ``max_iter``)."""

    iterations: int
    bounds: list[float] = field(default_factory=list)
    converged: bool = False


def run_em(
    model: ObservationModel,
    st: LatentState,
    U: np.ndarray | None,
    Y: np.ndarray,
    *,
    eps_min: float = 1e-3,
    max_iter: int = 100,
    min_iter: int = 5,
    tol: float = 1e-6,
    q_tol: float = 1e-3,
) -> EMResult:
    """Alternate M- and E-steps until the bound and the posteriors settle.

    Convergence needs all three: at least ``min_iter`` iterations, a relative bound change
    below ``tol``, and ``max |Δq| < q_tol`` (docs/equations.md §9: a bound test alone stops too early while
    a freshly added decoupled feature is still moving).
    """
    res = EMResult(iterations=0)
    prev = None
    for it in range(1, max_iter + 1):
        q_before = st.Q.copy()
        m_step(model, st, U, Y, eps_min)
        e_step(model, st, U, Y)
        b = bound(model, st, U, Y)
        res.bounds.append(b)
        res.iterations = it
        dq = float(np.max(np.abs(st.Q - q_before))) if st.K else 0.0
        if prev is not None and it >= min_iter:
            if abs(b - prev) <= tol * (abs(prev) + 1.0) and dq < q_tol:
                res.converged = True
                break
        prev = b
    # leave θ, σ² and ε consistent with the final posteriors
    m_step(model, st, U, Y, eps_min)
    return res
