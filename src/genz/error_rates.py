"""The judgments' error rates ε, estimated so that they mean what they say (docs/noise-model.md).

Mean-field EM (docs/equations.md §3-§4) estimates ε badly when the target cannot tell *which*
judgment of an item was wrong: with a scalar target and several features of similar effect, a
residual of −1.4 is explained as well by feature 3's judgment being wrong as by feature 4's. The
factorised posterior must pick one explanation per item; the coordinate sweep picks the feature
updated first, its ε grows, its prior weakens, it absorbs more residuals, and the others' ε fall
to the floor (measured on planted data with symmetric flips at 10%: learned ε 0.001, 0.001,
0.137, 0.001 for four features whose judgments were each 11% wrong; the weights attenuated
by the flips, as in a plain regression on the judgments).

:func:`refine` replaces the factorised posterior by a *structured* one for the linear model:

* the ``M`` features with the largest effects (``Σ_d W²_dk / σ²_d``), the *strong* set S, get an
  exact joint posterior over every configuration that differs from the judgments ``b_S`` in at
  most ``h`` places (a Hamming ball: ``Σ_{j≤h} C(M, j)`` configurations per item), so competing
  explanations share the posterior mass as they should;
* the other features keep their mean-field posteriors (for a feature with a small effect the
  data barely move the posterior away from the prior, where mean field is exact);
* the family ``q(z_S) Π_{k∉S} q(z_k)`` is a valid variational family, so the criterion is still
  a lower bound of the marginal likelihood (eq. 1-2), tighter than mean field's, and each update
  (exact over the ball for S, eq. 27 for the others, eq. 29-30 for θ, the ε step below) raises it;
* the error rates are pooled: ``ε_k`` is shrunk towards the features' common rate ``ε̄`` by a
  penalty ``κ · KL(Bern(ε̄) ‖ Bern(ε_k))`` (``κ`` pseudo-judgments; ε̄'s logit is the mean of the
  ε_k's logits), which identifies the *total* amount of error even where the split between
  features is weakly identified, and lets a feature whose data insist have its own rate. The
  M-step for ε is ``ε_k = (F_k + κ ε̄)/(N + κ)`` with ``F_k`` the expected number of wrong
  judgments (eq. 14 with pseudo-counts);
* the likelihood has several modes (all features exact, noisy σ²; or flips explained, small σ²),
  so :func:`refine` runs from the mean-field state and from ``ε = eps_start`` for every feature
  and keeps the higher criterion.

It also gives each ε a 95% interval (the observed information of ε_k by Louis' formula,
conditional on θ, on the logit scale) and the posterior's verdict on each judgment
(:func:`overruled`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from .inference import LatentState, entropy, prior_mixture
from .observation.base import LOG_2PI
from .observation.linear import LinearGaussian, _solve_psd, ridge_penalty

__all__ = ["RefineResult", "refine", "refine_error_rates", "structure_error_rates", "eps_interval", "overruled", "flip_sets", "pooled_eps",
           "side_rates", "attenuation", "deattenuate", "widen_for_attenuation"]

#: defaults, chosen on development seeds (benchmarks/noise_model.py, docs/noise-model.md)
MAX_STRONG = 8
MAX_FLIPS = 4
POOL = 200.0
EPS_START = 0.25
#: above this many rows, ε of the final features is estimated on a random sample of them
EPS_SAMPLE = 5000
#: configurations × items × target dimensions per E-step above which the ball shrinks (memory, time)
BUDGET = 4e7


@dataclass
class RefineResult:
    """What :func:`refine` did: the criterion, the iterations, which start won, the strong set,
    the ball's radius and the pooled rate ε̄."""

    bound: float
    iterations: int
    converged: bool
    start: str
    strong: list[int] = field(default_factory=list)
    flips: int = 0
    pooled: float = float("nan")
    starts: dict = field(default_factory=dict)


def flip_sets(M: int, h: int) -> np.ndarray:
    """C×M 0/1 matrix of every subset of ``range(M)`` with at most ``h`` members (the empty set first)."""
    rows = [np.zeros(M)]
    for j in range(1, min(h, M) + 1):
        for c in itertools.combinations(range(M), j):
            r = np.zeros(M)
            r[list(c)] = 1.0
            rows.append(r)
    return np.array(rows).reshape(-1, M)


def _radius(M: int, n: int, D: int, h: int) -> int:
    """The largest radius ≤ h whose ball keeps n·C·D within :data:`BUDGET`."""
    while h > 1 and len(flip_sets(M, h)) * n * D > BUDGET:
        h -= 1
    return h


class _Structured:
    """The state of the structured posterior for fixed judgments ``B`` (N×K, hard 0/1)."""

    def __init__(self, model: LinearGaussian, B: np.ndarray, U: np.ndarray | None, Y: np.ndarray,
                 strong: list[int], h: int, eps_min: float, pool: float, sides: bool = True) -> None:
        self.sides = sides
        self.model, self.B, self.U, self.Y = model, B, U, Y
        self.N, self.K = B.shape
        self.S = list(strong)
        self.R = [k for k in range(self.K) if k not in self.S]
        self.E = flip_sets(len(self.S), h)  # C×M
        self.sign = 1.0 - 2.0 * B[:, self.S]  # a flip moves z_k by this
        self.eps_min, self.pool = eps_min, pool
        self.yes = B > 0.5
        self.n_side = np.vstack([(~self.yes).sum(axis=0), self.yes.sum(axis=0)]).astype(float)  # 2×K
        self.P = np.zeros((self.N, len(self.E)))  # posterior over the ball's configurations
        self.P[:, 0] = 1.0
        self._cov: np.ndarray | None = None  # Σ_n Cov(z_S) for this P

    # -- moments of z under q --------------------------------------------------------------------
    def means(self, Q: np.ndarray) -> np.ndarray:
        """E[z] (N×K): the ball's marginals for S, q for the others (written into Q)."""
        if self.S:
            pi = np.clip(self.P @ self.E, 0.0, 1.0)  # P(feature flipped), N×M
            Q[:, self.S] = self.B[:, self.S] + self.sign * pi
        return Q

    def flip_probs(self, Q: np.ndarray) -> np.ndarray:
        """P(z_nk ≠ b_nk), N×K."""
        return Q * (1.0 - self.B) + (1.0 - Q) * self.B

    def second_moment(self, Q: np.ndarray) -> np.ndarray:
        """Σ_n Cov_q(z_n) (K×K): the ball's covariance for S (pairs of flips), q(1 − q) for the others."""
        C = np.zeros((self.K, self.K))
        if self.R:
            v = (Q[:, self.R] * (1.0 - Q[:, self.R])).sum(axis=0)
            C[self.R, self.R] = v
        if self.S and self._cov is not None:
            C[np.ix_(self.S, self.S)] = self._cov
        elif self.S:
            pi = self.P @ self.E
            # E[(s∘e)(s∘e)ᵀ] − E[s∘e]E[s∘e]ᵀ summed over items; s_j s_k is a constant per item
            pair = np.einsum("nc,cj,ck->njk", self.P, self.E, self.E, optimize=True)
            ss = self.sign[:, :, None] * self.sign[:, None, :]
            cov = ((pair - pi[:, :, None] * pi[:, None, :]) * ss).sum(axis=0)
            C[np.ix_(self.S, self.S)] = cov
            self._cov = cov
        return C

    # -- updates -----------------------------------------------------------------------------------
    def m_step(self, Q: np.ndarray, E2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """θ and σ² (eq. 29-30 with the structured second moments), then the pooled ε."""
        m = self.model
        M = m._design(Q, self.U)
        Ck = self.second_moment(Q)
        G = M.T @ M
        G[: self.K, : self.K] += Ck
        J = G.shape[0]
        G[np.arange(J), np.arange(J)] += ridge_penalty(J, self.N, m.ridge)
        rhs = M.T @ self.Y
        W = _solve_psd(G, rhs).T
        m.W_ = W
        R = self.Y - M @ W.T
        Wk = W[:, : self.K]
        s2 = (R**2).mean(axis=0) + np.einsum("dj,jk,dk->d", Wk, Ck, Wk) / self.N
        m.sigma2_ = m.floor_sigma2(s2)
        m.n_features_ = self.K
        return self.eps_step(self.side_flips(Q))

    def side_flips(self, Q: np.ndarray) -> np.ndarray:
        """2×K expected numbers of wrong judgments among the "no" (row 0) and the "yes" (row 1)."""
        f = self.flip_probs(Q)
        return np.vstack([np.where(self.yes, 0.0, f).sum(axis=0), np.where(self.yes, f, 0.0).sum(axis=0)])

    def eps_step(self, F2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """2×K rates (row 0: P(z = 1 | b = 0), row 1: P(z = 0 | b = 1)), pooled per side across
        features; with ``sides=False`` one rate per feature for both answers (eq. 4-5)."""
        if not self.sides:
            e, bar = pooled_eps(F2.sum(axis=0), self.N, self.pool, self.eps_min)
            return np.vstack([e, e]), np.array([bar, bar])
        out, bars = np.empty_like(F2), np.empty(2)
        for side in (0, 1):
            out[side], bars[side] = pooled_eps(F2[side], self.n_side[side], self.pool, self.eps_min)
        return out, bars

    def item_eps(self, E2: np.ndarray, cols: list[int] | slice = slice(None)) -> np.ndarray:
        """N×K' error rate of each judgment: ε⁰ for a "no", ε¹ for a "yes"."""
        return np.where(self.yes[:, cols], E2[1, cols], E2[0, cols])

    def e_step(self, Q: np.ndarray, E2: np.ndarray, sweeps: int = 1) -> None:
        """The ball's exact posterior for S given the others' means, then mean-field sweeps
        (eq. 27) for the others given S's means; Q holds E[z] afterwards."""
        m = self.model
        W, s2 = m.W_, m.sigma2_
        Winv = W[:, : self.K] / s2[:, None]
        for _ in range(sweeps):
            self.means(Q)
            R = self.Y - m._design(Q, self.U) @ W.T  # residual at the means
            if self.S:
                WS = W[:, self.S]  # D×M
                b_S = self.B[:, self.S]
                r0 = R + (Q[:, self.S] - b_S) @ WS.T  # residual with S at its judgments
                # configuration c moves the prediction by Σ_{k∈c} sign_k W_k
                shift = np.einsum("nm,cm,dm->ncd", self.sign, self.E, WS, optimize=True)
                ll = -0.5 * (((r0[:, None, :] - shift) ** 2) / s2).sum(axis=2)
                ei = self.item_eps(E2, self.S)  # N×M
                le = np.log(ei) - np.log1p(-ei)  # a flip's prior log-odds, per item
                lj = ll + le @ self.E.T
                lj -= lj.max(axis=1, keepdims=True)
                np.exp(lj, out=lj)
                lj /= lj.sum(axis=1, keepdims=True)
                self.P = lj
                self._cov = None
                self.means(Q)
                R = r0 - (Q[:, self.S] - b_S) @ WS.T
            half_w2 = 0.5 * (W[:, : self.K] * Winv).sum(axis=0)
            # prior log-odds of z = 1: logit(1 − ε¹) after a "yes", logit(ε⁰) after a "no"
            lo1 = np.log1p(-E2[1]) - np.log(E2[1])
            lo0 = np.log(E2[0]) - np.log1p(-E2[0])
            for k in self.R:
                q_old = Q[:, k].copy()
                gap = R @ Winv[:, k] + (2.0 * q_old - 1.0) * half_w2[k]
                q_new = expit(np.where(self.yes[:, k], lo1[k], lo0[k]) + gap)
                R -= np.outer(q_new - q_old, W[:, k])
                Q[:, k] = q_new

    def bound(self, Q: np.ndarray, E2: np.ndarray, bars: np.ndarray) -> float:
        """The criterion: eq. (1)-(2) under the structured q (observation part with its second
        moments, the feature part, the entropy of the ball and of the others' q), minus the
        pooling penalty."""
        m = self.model
        W, s2 = m.W_, m.sigma2_
        R = self.Y - m._design(Q, self.U) @ W.T
        Ck = self.second_moment(Q)
        Wk = W[:, : self.K]
        quad = (R**2).sum(axis=0) + np.einsum("dj,jk,dk->d", Wk, Ck, Wk)
        obs = float(-0.5 * (quad / s2).sum() - 0.5 * self.N * np.sum(np.log(s2) + LOG_2PI))
        F2 = self.side_flips(Q)
        feat = float((F2 * np.log(E2) + (self.n_side - F2) * np.log1p(-E2)).sum())
        ent = float(entropy(Q[:, self.R]).sum()) if self.R else 0.0
        if self.S:
            P = self.P
            ent -= float(np.sum(P * np.log(np.maximum(P, 1e-300))))
        pen = 0.0
        if self.pool and self.K >= 2:
            for side in (0, 1) if self.sides else (0,):
                bar, e = bars[side], E2[side]
                kl = bar * (np.log(bar) - np.log(e)) + (1 - bar) * (np.log1p(-bar) - np.log1p(-e))
                pen += float(self.pool * kl.sum())
        return obs + feat + ent - pen


def pooled_eps(F: np.ndarray, n: Any, pool: float, eps_min: float = 1e-3) -> tuple[np.ndarray, float]:
    """The ε step with pooling: ``ε_k = (F_k + κ ε̄)/(N + κ)`` and ``logit ε̄ = mean_k logit ε_k``
    (the two coordinate updates of the criterion penalised by ``κ Σ_k KL(Bern(ε̄) ‖ Bern(ε_k))``,
    alternated to their fixed point), clipped to ``[eps_min, ½]``; ``F_k`` the expected number of
    wrong judgments of feature k among ``n`` (one number, or one per feature). Returns (ε, ε̄)."""
    n = np.maximum(np.asarray(n, dtype=float), 1e-12)
    e = np.clip(np.asarray(F, dtype=float) / n, eps_min, 0.5)
    if not pool or e.size < 2:
        return e, float(np.mean(e)) if e.size else float("nan")
    for _ in range(50):
        bar = float(expit(np.mean(np.log(e) - np.log1p(-e))))
        new = np.clip((F + pool * bar) / (n + pool), eps_min, 0.5)
        done = np.max(np.abs(new - e)) < 1e-12
        e = new
        if done:
            break
    return e, float(expit(np.mean(np.log(e) - np.log1p(-e))))


def _run(model: LinearGaussian, B: np.ndarray, U: np.ndarray | None, Y: np.ndarray, eps0: np.ndarray,
         Q0: np.ndarray, strong: list[int], h: int, eps_min: float, pool: float, max_iter: int,
         tol: float, sides: bool) -> tuple[float, int, bool, np.ndarray, np.ndarray, np.ndarray, _Structured]:
    s = _Structured(model, B, U, Y, strong, h, eps_min, pool, sides)
    E2, Q = np.vstack([eps0, eps0]), Q0.copy()
    bars = E2.mean(axis=1)
    if strong:  # start the ball's posterior at the prior of the starting ε
        ei = s.item_eps(E2, strong)
        lj = (np.log(ei) - np.log1p(-ei)) @ s.E.T
        lj -= lj.max(axis=1, keepdims=True)
        s.P = np.exp(lj) / np.exp(lj).sum(axis=1, keepdims=True)
        s._cov = None
        s.means(Q)
    prev, conv, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        E2, bars = s.m_step(Q, E2)
        s.e_step(Q, E2)
        b = s.bound(Q, E2, bars)
        if it > 3 and abs(b - prev) <= tol * (abs(prev) + 1.0):
            conv = True
            break
        prev = b
    E2, bars = s.m_step(Q, E2)
    return s.bound(Q, E2, bars), it, conv, E2, Q, bars, s


def refine(model: LinearGaussian, st: LatentState, U: np.ndarray | None, Y: np.ndarray, *,
           eps_min: float = 1e-3, max_strong: int = MAX_STRONG, max_flips: int = MAX_FLIPS,
           pool: float = POOL, eps_start: float = EPS_START, max_iter: int = 300,
           tol: float = 1e-8, sides: bool = True) -> RefineResult:
    """Re-estimate θ, σ², ε and the posteriors of the coupled features of ``st`` under the
    structured posterior (module docstring), from the current state and from ``ε = eps_start``,
    keeping the higher criterion; ``model`` and ``st`` are updated in place. Features that are
    decoupled or evaluated at their mode, and soft judgments, are left to mean-field EM (the
    state is returned unchanged)."""
    if not isinstance(model, LinearGaussian) or st.K == 0 or not st.coupled.all() or st.hard.any():
        return RefineResult(bound=float("nan"), iterations=0, converged=True, start="skipped")
    B = st.B
    if not np.all((B == 0.0) | (B == 1.0)):
        return RefineResult(bound=float("nan"), iterations=0, converged=True, start="skipped (soft judgments)")
    N, K = B.shape
    D = Y.shape[1]
    W0 = model.W_.copy()
    strength = ((W0[:, :K] ** 2) / model.sigma2_[:, None]).sum(axis=0)
    M = min(max_strong, K)
    strong = sorted(np.argsort(-strength, kind="stable")[:M].tolist())
    h = _radius(M, N, D, max_flips)
    runs = {}
    e_a = np.clip(st.eps, eps_min, 0.5)
    starts = [("mean field", e_a, st.Q.copy(), W0, model.sigma2_.copy())]
    e_b = np.full(K, max(eps_start, eps_min))
    starts.append(("eps_start", e_b, prior_mixture(B, e_b), None, None))
    best = None
    for name, e0, Q0, W, s2 in starts:
        m = _fresh(model, W, s2, Q0, U, Y)
        out = _run(m, B, U, Y, e0, Q0, strong, h, eps_min, pool, max_iter, tol, sides)
        runs[name] = {"bound": out[0], "iterations": out[1], "converged": out[2], "eps": out[3].tolist()}
        if best is None or out[0] > best[1][0] + 1e-9:
            best = (name, out, m)
    name, (bnd, it, conv, E2, Q, bars, _), m = best
    model.W_, model.sigma2_, model.n_features_ = m.W_, m.sigma2_, K
    model._clear_buffers()
    F = (Q * (1.0 - B) + (1.0 - Q) * B).sum(axis=0)
    st.eps = np.clip(F / N, eps_min, 0.5)  # the share of wrong judgments (what ε means in eq. 14)
    st.eps_side = E2
    st.Q[...] = np.clip(Q, 0.0, 1.0)
    return RefineResult(bound=bnd, iterations=it, converged=conv, start=name, strong=strong, flips=h,
                        pooled=float(expit(np.mean(np.log(st.eps) - np.log1p(-st.eps)))), starts=runs)


def refine_error_rates(model: Any, st: LatentState, U: np.ndarray | None, Y: np.ndarray,
                       adv: Any) -> RefineResult | None:
    """:func:`refine` with the estimator's settings (``genz.Advanced``: ``eps_estimator``,
    ``eps_pool``, ``eps_strong``, ``eps_flips``, ``eps_min``); None when ε is held fixed or the
    mean-field estimate is asked for. With the MLP (whose EM works at the posterior mode) ε, the
    per-answer rates and the posteriors come from a linear working model of the same features
    (mean-field EM, then :func:`refine`); the MLP's θ is kept."""
    if getattr(adv, "eps_fixed", None) is not None or getattr(adv, "eps_estimator", "structured") != "structured":
        return None
    if st.B.shape[0] > EPS_SAMPLE:
        return _refine_on_sample(model, st, U, Y, adv)
    kw = dict(eps_min=adv.eps_min, max_strong=adv.eps_strong, max_flips=adv.eps_flips, pool=adv.eps_pool)
    if isinstance(model, LinearGaussian):
        return refine(model, st, U, Y, **kw)
    from .inference import run_em

    if st.K == 0 or not st.coupled.all() or st.hard.any():
        return None
    lin, work = LinearGaussian(), st.copy()
    lin.set_scaling(U, Y)
    lin.n_features_ = st.K
    run_em(lin, work, U, Y, eps_min=adv.eps_min)
    res = refine(lin, work, U, Y, **kw)
    if res.start.startswith("skipped"):
        return res
    st.eps, st.eps_side, st.Q[...] = work.eps, work.eps_side, work.Q
    res.start = f"{res.start} (linear working model)"
    return res


def _refine_on_sample(model: Any, st: LatentState, U: np.ndarray | None, Y: np.ndarray,
                      adv: Any) -> RefineResult | None:
    """Above :data:`EPS_SAMPLE` rows: ε and the per-answer rates from :func:`refine_error_rates`
    on a random sample of that many rows (fixed seed), a copy of the model and of the state's
    rows; the model, θ and the posteriors of every row stay the mean-field EM's. An error rate
    is a share, which 5,000 rows estimate to about ±0.004 at ε = 0.1; the exact posterior's cost
    grows with the rows times the configurations of the strongest features (100,000 rows took
    minutes per start)."""
    import copy

    rows = np.sort(np.random.default_rng(0).choice(st.B.shape[0], EPS_SAMPLE, replace=False))
    sub = LatentState(B=st.B[rows].copy(), eps=st.eps.copy(), Q=st.Q[rows].copy(), coupled=st.coupled.copy(),
                      hard=st.hard.copy(), eps_side=None if st.eps_side is None else st.eps_side.copy())
    work = copy.deepcopy(model)
    if hasattr(work, "_clear_buffers"):
        work._clear_buffers()
    res = refine_error_rates(work, sub, None if U is None else U[rows], Y[rows], adv)
    if res is not None and not res.start.startswith("skipped"):
        st.eps, st.eps_side = sub.eps, sub.eps_side
        res.start = f"{res.start} (on a sample of {EPS_SAMPLE} rows)"
    return res


def structure_error_rates(B: np.ndarray, U: np.ndarray | None, Y: np.ndarray, eps: np.ndarray,
                          cfg: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """ε (and the per-answer rates, None where not estimated) of a fixed structure with
    judgments ``B`` on the rows ``(U, Y)``: mean-field EM from the FM priors at ``eps``, then
    :func:`refine_error_rates` with the run's settings ``cfg`` (a DiscoveryConfig). The findings
    use them to put the judgments in latent units (``prior_mixture(b, ε, side)``); the findings
    are a linear model of the latent features, so the working model is the linear one whatever
    the predictor's ``g``."""
    from .inference import run_em

    K = B.shape[1]
    if K == 0:
        return np.asarray(eps, dtype=float), None
    st = LatentState(B=np.asarray(B, dtype=float).copy(), eps=np.asarray(eps, dtype=float).copy(),
                     Q=prior_mixture(B, eps), coupled=np.ones(K, bool), hard=np.zeros(K, bool))
    model = LinearGaussian()
    model.set_scaling(U, Y)
    model.n_features_ = K
    run_em(model, st, U, Y, **cfg.em_settings(max_iter=cfg.max_iter, min_iter=min(cfg.advanced.em_min_iter, cfg.max_iter)))
    refine_error_rates(model, st, U, Y, cfg.advanced)
    return st.eps, st.eps_side


def _fresh(model: LinearGaussian, W: np.ndarray | None, s2: np.ndarray | None, Q: np.ndarray,
           U: np.ndarray | None, Y: np.ndarray) -> LinearGaussian:
    m = LinearGaussian(ridge=model.ridge, sigma2_floor_rel=model.sigma2_floor_rel)
    m.u_mean_, m.u_std_, m.y_var_ = model.u_mean_, model.u_std_, model.y_var_
    m.n_features_ = Q.shape[1]
    if W is None:
        m.fit(Q, U, Y)
    else:
        m.W_, m.sigma2_ = W.copy(), s2.copy()
    return m


# -- what the estimates mean ------------------------------------------------------------------------

def eps_interval(Q: np.ndarray, B: np.ndarray, eps: np.ndarray, eps_min: float = 1e-3, pool: float = 0.0,
                 pooled: float | None = None, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """A ``level`` interval for each ε_k: Wald on the logit scale with the observed information
    of Louis' formula, ``I = Σ_n [π/ε² + (1−π)/(1−ε)²] − Σ_n π(1−π)/(ε(1−ε))²`` (π the posterior
    probability that judgment n is wrong), plus the pooling penalty's curvature. It is
    conditional on θ (the effects), so it is too narrow where ε and a weak feature's weight trade
    off; at the floor the lower end is the floor."""
    from scipy.stats import norm

    pi = Q * (1.0 - B) + (1.0 - Q) * B
    e = np.clip(eps, eps_min, 0.5)
    info = (pi / e**2 + (1 - pi) / (1 - e) ** 2).sum(axis=0) - (pi * (1 - pi)).sum(axis=0) / (e * (1 - e)) ** 2
    if pool and pooled is not None:
        info = info + pool * (pooled / e**2 + (1 - pooled) / (1 - e) ** 2)
    info = np.maximum(info, 1e-12)
    se_logit = 1.0 / (np.sqrt(info) * e * (1 - e))
    z = norm.ppf(0.5 + level / 2)
    lg = np.log(e) - np.log1p(-e)
    lo, hi = expit(lg - z * se_logit), expit(lg + z * se_logit)
    return np.clip(lo, eps_min, 0.5), np.clip(hi, eps_min, 0.5)


def side_rates(Q: np.ndarray, B: np.ndarray, eps_min: float = 1e-3) -> np.ndarray:
    """2×K error rates per answer from posteriors ``Q`` of items with judgments ``B``: row 0 the
    share of "no" whose feature is on, ``mean(q | b = 0)``, row 1 the share of "yes" whose
    feature is off, ``1 − mean(q | b = 1)`` (the M-step of the per-answer rates, unpooled). With
    them ``prior_mixture(b, ε, side)`` is ``E[z | b]``, the FM prior in latent units."""
    yes = B > 0.5
    n1 = np.maximum(yes.sum(axis=0), 1)
    n0 = np.maximum((~yes).sum(axis=0), 1)
    e0 = np.where(~yes, Q, 0.0).sum(axis=0) / n0
    e1 = np.where(yes, 1.0 - Q, 0.0).sum(axis=0) / n1
    return np.clip(np.vstack([e0, e1]), eps_min, 0.5)


def attenuation(Q: np.ndarray, B: np.ndarray, eps_min: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per feature ``a = E[z | b = 1] − E[z | b = 0] = 1 − ε⁰ − ε¹`` (:func:`side_rates`), the
    factor by which a regression on the judgments shrinks the latent effect, and its standard
    error ``sqrt(ε⁰(1 − ε⁰)/n₀ + ε¹(1 − ε¹)/n₁)`` (each rate a share of n₀ "no" or n₁ "yes").
    A latent effect from judgments, ``β = β_b / a``, has by the delta method the variance
    ``se_b² / a² + β_b² se_a² / a⁴`` (:func:`deattenuate`)."""
    e0, e1 = side_rates(Q, B, eps_min)
    yes = B > 0.5
    n1 = np.maximum(yes.sum(axis=0), 1)
    n0 = np.maximum((~yes).sum(axis=0), 1)
    return 1.0 - e0 - e1, np.sqrt(e0 * (1 - e0) / n0 + e1 * (1 - e1) / n1)


def deattenuate(coef_b: np.ndarray, se_b: np.ndarray, a: np.ndarray, se_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latent effects ``β_b / a`` (K×D, ``a`` per feature) and their standard errors, with the
    uncertainty of ``a`` (delta method, :func:`attenuation`)."""
    a = np.maximum(np.asarray(a, dtype=float), 1e-6)[:, None]
    sa = np.asarray(se_a, dtype=float)[:, None]
    beta = coef_b / a
    return beta, np.sqrt(se_b**2 / a**2 + coef_b**2 * sa**2 / a**4)


def widen_for_attenuation(findings: Any, B: np.ndarray, side: np.ndarray | None) -> Any:
    """Widen the findings' intervals for the uncertainty of the per-answer error rates that put
    the judgments in latent units: an effect ``β = β_b / a`` with ``a = 1 − ε⁰ − ε¹`` estimated on
    the discovery rows ``B`` has (delta method) ``se² = se_b²/a² + β² (se_a / a)²``. Only ``bse``
    (hence ``conf_int``) changes; the p-values stay those of the judgments' own test (β = 0
    exactly when β_b = 0). ``findings`` is a :class:`genz.findings.FindingsResult` or None."""
    if findings is None or side is None or not len(findings.features):
        return findings
    e0, e1 = np.asarray(side, dtype=float)
    yes = np.asarray(B) > 0.5
    n1 = np.maximum(yes.sum(axis=0), 1)
    n0 = np.maximum((~yes).sum(axis=0), 1)
    a = np.maximum(1.0 - e0 - e1, 1e-6)
    rel = np.sqrt(e0 * (1 - e0) / n0 + e1 * (1 - e1) / n1) / a
    findings.bse = np.sqrt(findings.bse**2 + (findings.params * rel[:, None]) ** 2)
    return findings


def overruled(Q: np.ndarray, B: np.ndarray) -> np.ndarray:
    """N×K: where the posterior's mode disagrees with the judgment (q > ½ against a "no", or
    q < ½ against a "yes"): the judgments the model believes are wrong."""
    return (Q > 0.5) != (B > 0.5)
