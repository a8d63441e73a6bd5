"""Inference: the E-step, the M-step, the error rates ε and the bound (docs/equations.md §2-§4).

All updates are vectorised over items; the only loop is the coordinate ascent over features
``k`` inside the E-step (eq. 10-11 / 25-27).

Judgments ``B`` are floats in [0, 1]: 0/1 for hard yes/no answers, or the foundation model's
P(yes) for soft judgments. With a soft judgment ``b`` the feature prior is the mixture
``p(z = 1) = b(1 − ε) + (1 − b) ε``, which reduces to eq. (4)-(5) when ``b`` is 0 or 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from .observation.base import ObservationModel

_TINY = 1e-300


def blas_threads() -> Any:
    """The BLAS thread pool for a fit, set deliberately (threadpoolctl): ``GENZ_BLAS_THREADS``
    threads, default 1. EM's matrix products are small (N × K with K below ~50) and most of its
    time is elementwise work, so more BLAS threads mostly oversubscribe a shared machine."""
    from threadpoolctl import threadpool_limits

    n = os.environ.get("GENZ_BLAS_THREADS", "1")
    return threadpool_limits(limits=int(n) if n.strip().isdigit() and int(n) > 0 else 1, user_api="blas")


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
    #: 2×K error rates per answer where estimated (genz.error_rates.refine): row 0 P(z = 1 | b = 0),
    #: row 1 P(z = 0 | b = 1); None: ε is the same for both answers (eq. 4-5)
    eps_side: np.ndarray | None = None

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
        self.eps_side = None

    def delete(self, k: int) -> None:
        self.B = np.delete(self.B, k, axis=1)
        self.Q = np.delete(self.Q, k, axis=1)
        self.eps = np.delete(self.eps, k)
        self.coupled = np.delete(self.coupled, k)
        self.hard = np.delete(self.hard, k)
        if self.eps_side is not None:
            self.eps_side = np.delete(self.eps_side, k, axis=1)

    def copy(self) -> "LatentState":
        return LatentState(self.B.copy(), self.eps.copy(), self.Q.copy(), self.coupled.copy(), self.hard.copy(),
                           None if self.eps_side is None else self.eps_side.copy())


# -- the feature model, eq. (3)-(7) ------------------------------------------------------------

def prior_mixture(B: np.ndarray, eps: np.ndarray, side: np.ndarray | None = None) -> np.ndarray:
    """The foundation model's prior ``p(z = 1 | b, ε) = (1 − ε) b + ε (1 − b)`` (eq. 4-5; for a
    soft judgment ``b`` ∈ [0, 1] the mixture). It is also the feature posterior of a new item,
    which has no target (docs/equations.md §5). With ``side`` (2×K, :attr:`LatentState.eps_side`)
    the rates differ by answer: ``(1 − ε¹) b + ε⁰ (1 − b)`` — ``E[z | b]``, whose slope
    ``1 − ε⁰ − ε¹`` is the attenuation of a regression on the judgments."""
    if side is not None:
        return B * (1.0 - side[1]) + (1.0 - B) * side[0]
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
    """eq. (7) per item: −Σ_k [q log q + (1 − q) log(1 − q)] (q in [0, 1]; 0 log 0 = 0)."""
    R = 1.0 - Q
    a = np.maximum(Q, _TINY)
    np.log(a, out=a)
    a *= Q
    b = np.maximum(R, _TINY)
    np.log(b, out=b)
    b *= R
    a += b
    return -a.sum(axis=1)


def bound_per_item(model: ObservationModel, st: LatentState, U: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
    """``B_n`` of eq. (1): observation part + feature part + entropy."""
    return model.expected_loglik(st.Q, U, Y) + feature_term(st.Q, st.B, st.eps, st.coupled) + entropy(st.Q)


def bound(model: ObservationModel, st: LatentState, U: np.ndarray | None, Y: np.ndarray) -> float:
    """The data-set criterion Σ_n B_n (eq. 2), summed feature by feature (:class:`PriorTable`)."""
    return _bound_total(model, st, U, Y, PriorTable(st.B).update(st.eps, st.coupled), None)


def _bound_total(model: ObservationModel, st: LatentState, U: np.ndarray | None, Y: np.ndarray,
                 priors: "PriorTable", ctx: Any) -> float:
    """Σ_n B_n (eq. 2) from totals: Σ_n E[log p(y|z)] (from the sweep's residuals when ``ctx``
    is given), the feature part through :meth:`PriorTable.total`, and the entropy of the
    columns not evaluated at their mode (a hard column's q is 0 or 1, entropy 0)."""
    soft = ~st.hard
    Qs = st.Q if soft.all() else st.Q[:, soft]
    ent = float(entropy(Qs).sum()) if Qs.shape[1] else 0.0
    return model.expected_loglik_total(st.Q, U, Y, ctx) + priors.total(st.Q) + ent


class PriorTable:
    """The prior log-probabilities ``a¹, a⁰`` of eq. (5) for fixed judgments ``B`` and the
    current ε. With hard judgments (every b is 0 or 1) a feature has only two values of each,
    computed by :func:`log_priors` on a 2×K table and looked up per item, and the feature part
    of the bound (eq. 6) is a sum over features of counts; soft judgments keep the N×K form.
    Build once per EM phase (B fixed), :meth:`update` after every change of ε."""

    def __init__(self, B: np.ndarray) -> None:
        self.B = B
        self.hard_b = bool(np.all((B == 0.0) | (B == 1.0)))
        self.counts: tuple[np.ndarray, np.ndarray] | None = None  # of the last Q given to total()
        if self.hard_b:
            self.Bb = np.asfortranarray(B == 1.0)  # column by column in the sweep
            self.n1 = B.sum(axis=0)

    def update(self, eps: np.ndarray, coupled: np.ndarray | None) -> "PriorTable":
        if self.hard_b:
            two = np.repeat(np.array([[0.0], [1.0]]), self.B.shape[1], axis=1)
            self.a1, self.a0 = log_priors(two, eps, coupled)  # row 0: b = 0, row 1: b = 1
            self.lo = self.a1 - self.a0
        else:
            self.a1, self.a0 = log_priors(self.B, eps, coupled)
            self.lo = self.a1 - self.a0
        return self

    def set_eps(self, k: int, eps_k: float) -> None:
        """Feature k's error rate changed to ``eps_k`` (a coupled feature, inside the sweep)."""
        if self.hard_b:
            a1, a0 = log_priors(np.array([0.0, 1.0]), np.float64(eps_k))
        else:
            a1, a0 = log_priors(self.B[:, k], np.float64(eps_k))
        self.a1[:, k], self.a0[:, k] = a1, a0
        self.lo[:, k] = a1 - a0

    def logodds(self, k: int) -> np.ndarray:
        """``a¹ − a⁰`` of feature k for every item."""
        if self.hard_b:
            return np.where(self.Bb[:, k], self.lo[1, k], self.lo[0, k])
        return self.lo[:, k]

    def total(self, Q: np.ndarray) -> float:
        """Σ_n Σ_k q a¹ + (1 − q) a⁰ (eq. 6 summed over items)."""
        if not self.hard_b:
            return float((Q * self.a1 + (1.0 - Q) * self.a0).sum())
        s1 = np.einsum("nk,nk->k", self.B, Q)  # Σ_{b=1} q
        sq = Q.sum(axis=0)
        self.counts = (s1, sq)
        n = Q.shape[0]
        a1, a0 = self.a1, self.a0
        return float(a1[1] @ s1 + a0[1] @ (self.n1 - s1) + a1[0] @ (sq - s1) + a0[0] @ (n - self.n1 - (sq - s1)))

    def error_rates(self, Q: np.ndarray, eps_min: float) -> np.ndarray:
        """eq. (14) for hard judgments: ``(Σ_{b=0} q + Σ_{b=1} (1 − q)) / N``, from the counts
        of :meth:`total` when they are for this ``Q`` (EM's order: bound, then M-step)."""
        s1, sq = self.counts if self.counts is not None else (np.einsum("nk,nk->k", self.B, Q), Q.sum(axis=0))
        self.counts = None
        if Q.shape[0] == 0:
            return np.full(Q.shape[1], 0.5)
        return np.clip(((sq - s1) + (self.n1 - s1)) / Q.shape[0], eps_min, 0.5)


# -- the joint update of (q_k, ε_k) ---------------------------------------------------------------

def best_eps(b: np.ndarray, gap: np.ndarray, lo: float, hi: float = 0.5, eps0: float | None = None) -> float:
    """The ε_k that maximises the bound over ``(q_k, ε_k)`` jointly, θ and the other features fixed.

    With the data term ``ℓ_n = L⁺ᵏ_n − L⁻ᵏ_n`` (``gap``; eq. 27, exact for the linear model, whose
    expected log-likelihood is linear in ``q_k``), maximising the bound over ``q_nk`` gives
    ``log(p_n e^{ℓ_n} + 1 − p_n)`` per item, ``p_n = p(z = 1 | b_n, ε) = b_n + ε (1 − 2 b_n)``
    (eq. 4-5), so the profile of the bound in ε is

        F(ε) = Σ_n log(A_n + ε c_n),   c_n = (1 − 2b_n)(e^{ℓ_n} − 1),  A_n = 1 + b_n (e^{ℓ_n} − 1)

    (both scaled by ``e^{−max(ℓ_n, 0)}``, which does not move the maximiser). F is concave in ε;
    its maximiser on ``[lo, hi]`` is the root of ``F'(ε) = Σ c_n / (A_n + ε c_n)``, found by
    safeguarded Newton steps. The q-step that follows (eq. 11) at this ε then completes an exact
    coordinate ascent step of the bound in ``(q_k, ε_k)``: unlike eq. (14) after a separate E-step,
    it does not creep towards a boundary one small step per EM iteration.
    """
    b = np.asarray(b, dtype=float)
    pos = gap > 0
    E = np.exp(-np.abs(gap))
    c = (1.0 - 2.0 * b) * np.where(pos, 1.0 - E, E - 1.0)
    A = np.where(pos, b + (1.0 - b) * E, b * E + 1.0 - b)

    def d1(e: float) -> tuple[float, float]:
        r = c / (A + e * c)
        return float(r.sum()), float(-(r @ r))

    g_lo, _ = d1(lo)
    if g_lo <= 0.0:
        return float(lo)
    g_hi, _ = d1(hi)
    if g_hi >= 0.0:
        return float(hi)
    a, z = float(lo), float(hi)  # F'(a) > 0 > F'(z)
    e = min(max(float(eps0) if eps0 is not None else 0.5 * (a + z), a), z)
    for _ in range(60):
        g, h = d1(e)
        if g > 0:
            a = e
        else:
            z = e
        if abs(g) <= 1e-10 * len(b) or z - a <= 1e-12:
            break
        step = e - g / h if h < 0 else np.nan
        e = step if a < step < z else 0.5 * (a + z)
    return float(e)


# -- E-step, eq. (11) / (27) ----------------------------------------------------------------------

EPS_UPDATES = ("joint", "em")


def e_step(
    model: ObservationModel,
    st: LatentState,
    U: np.ndarray | None,
    Y: np.ndarray,
    eps_joint: tuple[float, float] | None = None,
) -> None:
    """One sweep of coordinate ascent over features, updating ``st.Q`` in place:
    ``q_nk = sigmoid((a¹_nk − a⁰_nk) + L⁺ᵏ_n − L⁻ᵏ_n)`` (eq. 11; eq. 27 for the linear model).
    With ``eps_joint=(eps_min, eps_max)`` each coupled feature's ε is updated with its q
    (:func:`best_eps`)."""
    if st.K == 0:
        return
    _sweep(model, st, PriorTable(st.B).update(st.eps, st.coupled), model.begin_e_step(st.Q, U, Y), eps_joint)


def _sweep(model: ObservationModel, st: LatentState, priors: PriorTable, ctx: Any,
           eps_joint: tuple[float, float] | None = None) -> float:
    """The coordinate-ascent sweep of :func:`e_step`; returns ``max |Δq|``."""
    dq = 0.0
    Q = st.Q
    for k in range(st.K):
        q_old = Q[:, k]  # a view, read before the column is overwritten
        gap = model.loglik_gap(ctx, k, q_old)
        if eps_joint is not None and st.coupled[k] and not st.hard[k]:
            e = best_eps(st.B[:, k], gap, eps_joint[0], eps_joint[1], st.eps[k])
            if e != st.eps[k]:
                st.eps[k] = e
                priors.set_eps(k, e)
        logit = priors.logodds(k) + gap
        q_new = (logit > 0).astype(float) if st.hard[k] else expit(logit, out=logit)
        model.commit(ctx, k, q_old, q_new)
        dq = max(dq, float(np.max(np.abs(q_new - q_old))))
        Q[:, k] = q_new
    return dq


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
    priors: PriorTable | None = None,
    eps: bool = True,
) -> None:
    """θ and σ² (eq. 12-13 / 29-30), then (``eps``) ε for the coupled features (eq. 14 / 31);
    ``priors`` (for ``st.B``) gives ε from counts when the judgments are hard."""
    model.fit(st.Q, U, Y)
    if st.K and eps:
        hard = priors is not None and priors.hard_b and priors.B is st.B
        new = priors.error_rates(st.Q, eps_min) if hard else error_rates(st.Q, st.B, eps_min)
        st.eps = np.where(st.coupled, new, st.eps)


# -- EM to convergence ---------------------------------------------------------------------------

@dataclass
class EMResult:
    """How one EM phase ended: iterations run, the bound after each, and whether the
    convergence test held (False: stopped at ``max_iter``)."""

    iterations: int
    bounds: list[float] = field(default_factory=list)
    converged: bool = False
    last_dq: float = float("nan")  # max |Δq| of the last sweep
    last_rel: float = float("nan")  # relative bound change of the last iteration
    last_deps: float = float("nan")  # max |Δε| of the last M-step
    accelerated: int = 0  # SQUAREM extrapolations kept
    rejected: int = 0  # SQUAREM extrapolations given up (the bound would have fallen)


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
    eps_update: str = "joint",
    eps_fixed: float | None = None,
    accelerate: bool = True,
) -> EMResult:
    """Alternate M- and E-steps until the bound and the posteriors settle.

    ``eps_update``: ``"joint"`` updates each coupled feature's ε together with its posteriors in
    the E-step sweep (:func:`best_eps`, exact coordinate ascent of the bound); ``"em"`` is the
    paper's order, ε from eq. (14) in the M-step after the E-step. ``eps_fixed``: every coupled
    feature's ε is held at this value (0: the posterior is the judgment itself). ``accelerate``
    (linear model): SQUAREM extrapolation of (q, ε) along pairs of EM steps, kept only where it
    raises the bound — EM's slow creep along weakly identified directions (a feature drifting
    towards ε = ½) takes a few steps instead of hundreds.

    Convergence needs all three: at least ``min_iter`` iterations, a relative bound change
    below ``tol``, and ``max |Δq| < q_tol`` (docs/equations.md §9: a bound test alone stops too early while
    a freshly added decoupled feature is still moving).
    """
    if eps_update not in EPS_UPDATES:
        raise ValueError(f"eps_update must be one of {EPS_UPDATES}, not {eps_update!r}")
    joint = eps_update == "joint"
    eps_joint = (eps_min, 0.5) if joint else None
    learn = eps_fixed is None
    if not learn:
        st.eps = np.where(st.coupled, float(eps_fixed), st.eps)
        joint, eps_joint = True, None  # no ε step in the M-step, none in the sweep
    res = EMResult(iterations=0)
    Q_caller = st.Q
    st.Q = np.asfortranarray(st.Q)  # the sweep works column by column
    priors = PriorTable(st.B)  # B is fixed during EM; ε changes in every M-step
    learn_eps = st.coupled & (learn and joint)

    def step() -> tuple[float, float]:
        """One EM iteration F: M-step (θ, σ² from Q), then the sweep (q, and ε jointly); the bound."""
        eps_before = st.eps.copy()
        m_step(model, st, U, Y, eps_min, priors, eps=not joint)
        priors.update(st.eps, st.coupled)
        ctx, dq = None, 0.0
        if st.K:
            ctx = model.begin_e_step_after_fit(st.Q, U, Y)
            dq = _sweep(model, st, priors, ctx, eps_joint)
        res.last_deps = float(np.max(np.abs(st.eps - eps_before))) if st.K else 0.0
        return _bound_total(model, st, U, Y, priors, ctx), dq

    def record(b: float, dq: float) -> bool:
        """Append an iteration's bound; True when the convergence test holds."""
        prev = res.bounds[-1] if res.bounds else None
        res.bounds.append(b)
        res.iterations += 1
        res.last_dq = dq
        if prev is None:
            return False
        res.last_rel = abs(b - prev) / (abs(prev) + 1.0)
        return res.iterations >= min_iter and abs(b - prev) <= tol * (abs(prev) + 1.0) and dq < q_tol

    def snapshot() -> tuple[np.ndarray, np.ndarray]:
        return st.Q.copy(order="F"), st.eps.copy()

    def restore(x: tuple[np.ndarray, np.ndarray]) -> None:
        st.Q[...] = x[0]
        st.eps = x[1].copy()
        _forget(model)

    accel = accelerate and getattr(model, "name", "") == "linear" and st.K > 0
    soft = ~st.hard
    while res.iterations < max_iter:
        if not accel or res.iterations < 2 or max_iter - res.iterations < 3:
            if record(*step()):
                res.converged = True
                break
            continue
        # SQUAREM (Varadhan & Roland 2008, SqS3) on (q, ε): two EM steps, an extrapolation
        # along them, one EM step from there; kept only if the bound is at least that of the
        # two plain steps (so the bound never falls)
        x0 = snapshot()
        if record(*step()):
            res.converged = True
            break
        x1 = snapshot()
        b2, dq2 = step()
        if record(b2, dq2):
            res.converged = True
            break
        x2 = snapshot()
        r = np.concatenate([(x1[0] - x0[0])[:, soft].ravel(), (x1[1] - x0[1])[learn_eps]])
        v = np.concatenate([(x2[0] - 2 * x1[0] + x0[0])[:, soft].ravel(), (x2[1] - 2 * x1[1] + x0[1])[learn_eps]])
        nv = float(np.sqrt(v @ v))
        if nv <= 0.0:
            continue
        alpha = min(-float(np.sqrt(r @ r)) / nv, -1.0)
        for _ in range(3):  # backtrack towards α = −1 (the plain second step) while the bound falls
            Qx = x2[0].copy(order="F")
            Qx[:, soft] = np.clip(x0[0] - 2 * alpha * (x1[0] - x0[0]) + alpha**2 * (x2[0] - 2 * x1[0] + x0[0]),
                                  0.0, 1.0)[:, soft]
            ex = x2[1].copy()
            ex[learn_eps] = np.clip(x0[1] - 2 * alpha * (x1[1] - x0[1]) + alpha**2 * (x2[1] - 2 * x1[1] + x0[1]),
                                    eps_min, 0.5)[learn_eps]
            restore((Qx, ex))
            b3, dq3 = step()
            if b3 >= b2 or res.iterations + 1 >= max_iter:
                break
            alpha = (alpha - 1.0) / 2.0
            res.iterations += 1  # the rejected evaluation counts as an iteration
        if b3 >= b2:
            res.accelerated += 1
            if record(b3, dq3):
                res.converged = True
                break
        else:  # the extrapolation lost: go on from the second plain step
            res.rejected += 1
            restore(x2)
    # leave θ, σ² (and ε) consistent with the final posteriors
    m_step(model, st, U, Y, eps_min, priors, eps=not joint)
    if st.Q is not Q_caller:  # the caller's array, updated in place as before
        Q_caller[...] = st.Q
        st.Q = Q_caller
    return res


def _forget(model: ObservationModel) -> None:
    """Drop what a model cached for the last Q it saw (the linear model's residuals and column
    variances, keyed by the identity of Q): Q was changed in place."""
    for key in ("_fit_R", "_vsum"):
        if hasattr(model, key):
            setattr(model, key, None)


def convergence_note(phases: int, not_converged: int, mlp: bool = False) -> str | None:
    """One sentence a user can act on about EM phases that stopped at their iteration limit
    (None when every phase converged). The linear model's EM converges in a few dozen
    iterations (the joint ε update, :func:`best_eps`); the MLP's runs a fixed number of
    iterations of stochastic training, whose bound never settles to the tolerance."""
    if not not_converged:
        return None
    if mlp:
        return (f"EM with the MLP ran its full em_max_iter iterations in {not_converged} of {phases} phases: its "
                "stochastic training moves the bound a little at every iteration, so the tolerance is rarely met; "
                "this is expected. The predictor for new items is trained afterwards for the full epochs.")
    return (f"EM reached max_iter before the bound settled in {not_converged} of {phases} phases. Every EM "
            "iteration raises the bound, so the fit is usable: the features, weights and ε are those of the last "
            "iteration. To let EM finish, raise max_iter (GenZRegressor(max_iter=300)); if it still does not settle, "
            "some ε or weight is not identified by the data (see ε 'at floor' or 'at cap' in the feature table).")
