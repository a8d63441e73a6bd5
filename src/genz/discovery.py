"""Feature discovery: Algorithms 1-4 of the paper (docs/equations.md §5).

:class:`Discovery` holds the whole state of a run (descriptors, judgments, posteriors, error
rates, the observation model, the random generator, the step counter and the history) and
advances it one *step* at a time — an addition (Algorithm 1, or its targeted form Algorithm 2)
or a removal (Algorithm 3) — following the schedule of Algorithm 4. After every step the state
can be serialised (:meth:`Discovery.to_payload`) and later restored to continue exactly where
it stopped.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .errors import MiningError
from .fm.base import FMStats, FoundationModel, Judgments, accepts_keyword
from .inference import LatentState, bound, run_em
from .items import Item
from .metrics import regression_metrics
from .observation import LinearGaussian, ObservationModel, make_observation_model, observation_model_from_state

__all__ = ["DiscoveryConfig", "Discovery", "schedule"]


@dataclass
class DiscoveryConfig:
    """Settings of a discovery run (the estimator's constructor parameters)."""

    model: str = "linear"
    algorithm: str = "targeted"  # "targeted" (Algorithm 2) or "simple" (Algorithm 1)
    n_features: int | None = None  # if set: Algorithm 1/2 run n_features times, no removals
    cycles: int = 12
    add_per_cycle: int = 5
    remove_per_cycle: int = 2
    min_activity: float = 0.02
    eps_min: float = 1e-3
    eps_init_max: float = 0.25
    eps_from_prob: bool = False  # start ε from the FM's P(yes) where the backend gives it
    ridge: float = 0.0
    em_max_iter: int = 100
    em_min_iter: int = 5
    em_tol: float = 1e-6
    em_q_tol: float = 1e-3
    n_exemplars: int | None = None
    criterion: str = "bound"  # choosing candidates and removals: "bound" (the paper) or "loo" (predictive)
    n_candidates: int = 5  # characteristics asked of FMs that offer several (mine_candidates)
    weighted_mining: bool = True  # pass |L⁺ − L⁻| as exemplar weights to FMs that take them
    decoupled_init: str = "residual"  # "residual" (split on the main residual direction) or "random"
    min_group: int = 10
    min_group_side: int = 3
    remove_refit_iter: int = 3
    mlp_remove_refit_iter: int = 0  # MLP: score a removal without retraining (the feature's input set to 0)
    refit_on_judgments: bool = True
    predictor_ridge: float | str = "cv"  # ridge of the refitted linear predictor; "cv": leave-one-out
    predict_at: str = "mean"  # new items: "mean" (q = 1 − ε / ε) or "mode" (z = b)
    soft_judgments: bool = False
    mlp_hidden: tuple[int, ...] = (64, 32)
    mlp_dropout: float = 0.1
    mlp_lr: float = 1e-3
    mlp_epochs: int = 100
    mlp_batch_size: int = 32
    mlp_em_epochs: int = 10
    mlp_em_max_iter: int = 10  # EM iterations per phase with the MLP (its SGD never settles exactly)
    seed: int = 0

    def make_model(self) -> ObservationModel:
        return make_observation_model(
            self.model, ridge=self.ridge, hidden=tuple(self.mlp_hidden), dropout=self.mlp_dropout,
            lr=self.mlp_lr, epochs=self.mlp_epochs, batch_size=self.mlp_batch_size,
            em_epochs=self.mlp_em_epochs, seed=self.seed,
        )


def schedule(cfg: DiscoveryConfig) -> list[tuple[int, str]]:
    """Algorithm 4's plan as (cycle, action) pairs; with ``n_features`` just that many adds."""
    if cfg.n_features is not None:
        return [(0, "add")] * int(cfg.n_features)
    plan: list[tuple[int, str]] = []
    for c in range(cfg.cycles):
        plan += [(c, "add")] * cfg.add_per_cycle + [(c, "remove")] * cfg.remove_per_cycle
    return plan


class _NoCallbacks:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


class _Callbacks:
    """Calls the optional progress hooks (``on_step_start``, ``on_mining``, ``on_step_end``)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def __getattr__(self, name: str) -> Callable[..., None]:
        fn = getattr(self.target, name, None) if self.target is not None else None
        return fn if callable(fn) else (lambda *a, **k: None)


class Discovery:
    """A GenZ discovery run over training items (and, optionally, an evaluation set)."""

    def __init__(
        self,
        fm: FoundationModel,
        config: DiscoveryConfig,
        items: Sequence[Item],
        Y: np.ndarray,
        U: np.ndarray | None = None,
        eval_set: tuple[Sequence[Item], np.ndarray, np.ndarray | None] | None = None,
    ) -> None:
        self.fm = fm
        self.cfg = config
        self.items = list(items)
        self.Y = Y
        self.U = U
        self.eval_items = list(eval_set[0]) if eval_set is not None else None
        self.eval_Y = eval_set[1] if eval_set is not None else None
        self.eval_U = eval_set[2] if eval_set is not None else None
        n = len(self.items)
        self.features: list[str] = []
        self.discarded: list[str] = []
        self.st = LatentState.empty(n)
        self.B_eval = np.zeros((len(self.eval_items or []), 0))
        self.model = config.make_model()
        self.model.set_scaling(U, Y)
        self.predictor: ObservationModel | None = None
        self.rng = np.random.default_rng(config.seed)
        self.plan = schedule(config)
        self.step = 0  # steps of the plan done
        self.history: list[dict] = []
        self.counters = {"targeted": 0, "fallback": 0, "discarded_activity": 0, "mining_failed": 0, "flipped": 0}

    # ------------------------------------------------------------------------------------------
    # running
    # ------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.step >= len(self.plan)

    def start(self) -> dict:
        """Fit the model with no features (step 0 of the history)."""
        t0 = time.perf_counter()
        fm0 = self.fm.stats.snapshot()
        run_em(self.model, self.st, self.U, self.Y, **self._em_kw())
        return self._record("init", None, cycle=0, t0=t0, fm0=fm0)

    def run(self, callbacks: Any = None, on_step: Callable[["Discovery", dict], None] | None = None) -> None:
        """Run the remaining steps of the plan, calling ``on_step(self, record)`` after each."""
        cb = _Callbacks(callbacks)
        if not self.history:
            rec = self.start()
            cb.on_step_end(rec)
            if on_step is not None:
                on_step(self, rec)
        while not self.done:
            cycle, action = self.plan[self.step]
            cb.on_step_start(action, cycle, self.step + 1, len(self.plan))
            rec = self.add(cycle, cb) if action == "add" else self.remove(cycle)
            self.step += 1
            rec["plan_step"] = self.step
            cb.on_step_end(rec)
            if on_step is not None:
                on_step(self, rec)

    def _em_kw(self, **over) -> dict:
        max_iter = self.cfg.em_max_iter if self.cfg.model == "linear" else self.cfg.mlp_em_max_iter
        kw = dict(eps_min=self.cfg.eps_min, max_iter=max_iter, min_iter=min(self.cfg.em_min_iter, max_iter),
                  tol=self.cfg.em_tol, q_tol=self.cfg.em_q_tol)
        kw.update(over)
        return kw

    # ------------------------------------------------------------------------------------------
    # Algorithms 1 and 2: add a feature
    # ------------------------------------------------------------------------------------------
    def _target_group(self) -> np.ndarray | None:
        """Algorithm 2, eq. (15)-(16): the items sharing the combination of the current features'
        modes with the largest total error ``E_c = Σ_{n∈c} Σ_d (y − g(ẑ_n))²/σ²_d``."""
        if self.st.K == 0:
            return None
        Z = (self.st.Q > 0.5).astype(np.int8)
        err = ((self.Y - self.model.predict(Z.astype(float), self.U)) ** 2 / self.model.sigma2_).sum(axis=1)
        _, inv = np.unique(Z, axis=0, return_inverse=True)
        inv = inv.ravel()
        E = np.bincount(inv, weights=err)
        return inv == int(np.argmax(E))

    def _initial_split(self) -> np.ndarray:
        """The starting q of a decoupled feature. ``"random"``: a fair coin per item.
        ``"residual"``: the sign of each item's whitened residual along its principal direction
        (found by power iteration from a random start, with a random polarity) — the split of
        over- and under-predicted items that EM then refines."""
        n = len(self.items)
        if self.cfg.decoupled_init == "random" or self.st.K == 0 and self.model.sigma2_ is None:
            return (self.rng.random(n) < 0.5).astype(float)
        R = (self.Y - self.model.predict(self.st.Q, self.U)) / np.sqrt(self.model.sigma2_)
        v = self.rng.standard_normal(R.shape[1])
        for _ in range(20):
            v = R.T @ (R @ v)
            norm = np.linalg.norm(v)
            if norm == 0:
                return (self.rng.random(n) < 0.5).astype(float)
            v /= norm
        proj = R @ v
        if self.rng.random() < 0.5:
            proj = -proj
        return (proj > 0).astype(float)

    def _reject(self, b: np.ndarray, cfg: DiscoveryConfig) -> str | None:
        """Why a new feature's judgments cannot be used (or None)."""
        hard_b = b > 0.5
        for k, f in enumerate(self.features):
            col = self.st.B[:, k] > 0.5
            if np.array_equal(hard_b, col) or np.array_equal(hard_b, ~col):
                return f"same judgments on every training item as {f!r} (or its complement)"
        activity = float(hard_b.mean())
        if activity < cfg.min_activity or activity > 1.0 - cfg.min_activity:
            return f"active for {activity:.1%} of the items (filter {cfg.min_activity:.0%}-{1 - cfg.min_activity:.0%})"
        return None

    def _use_loo(self) -> bool:
        return self.cfg.criterion == "loo" and isinstance(self.model, LinearGaussian)

    def _loo(self, B: np.ndarray, eps: np.ndarray) -> float:
        """Leave-one-out error of the linear predictor on the FM priors of judgments B with
        error rates eps (best ridge of the grid)."""
        probe = LinearGaussian()
        probe.u_mean_, probe.u_std_, probe.y_var_ = self.model.u_mean_, self.model.u_std_, self.model.y_var_
        return float(np.min(probe.loo_errors(new_item_q(B, eps, self.cfg.predict_at), self.U, self.Y)))

    def _candidate_score(self, model: ObservationModel, st: LatentState, b: np.ndarray) -> float:
        """Higher is better: the residual explained, or minus the leave-one-out error."""
        if self._use_loo():
            return -self._loo(np.column_stack([st.B, b]), np.append(st.eps, self.cfg.eps_min))
        return self._residual_gain(model, st, b)

    def _residual_gain(self, model: ObservationModel, st: LatentState, b: np.ndarray) -> float:
        """How much of the current (whitened) residual the judgments ``b`` explain:
        ``Σ_d (r_dᵀ c)² / cᵀc`` with ``c = b − mean(b)``."""
        R = (self.Y - model.predict(st.Q, self.U)) / np.sqrt(model.sigma2_)
        c = b - b.mean()
        cc = float(c @ c)
        return float(((R.T @ c) ** 2).sum() / cc) if cc > 0 else 0.0

    def _exemplars(self, idx: np.ndarray, strength: np.ndarray, n_ex: int) -> np.ndarray:
        """Up to ``n_ex`` exemplars from ``idx``, drawn with probability ∝ strength (all of
        them when there are few enough)."""
        if idx.size <= n_ex:
            return idx
        p = strength[idx] + 1e-12
        return np.sort(self.rng.choice(idx, n_ex, replace=False, p=p / p.sum()))

    def _judge(self, descriptor: str, items: Sequence[Item]) -> np.ndarray:
        j: Judgments = self.fm.judge(descriptor, items)
        self._last_judgments = j
        if len(j) != len(items):
            raise MiningError(f"the foundation model judged {len(j)} of {len(items)} items for {descriptor!r}")
        if self.cfg.soft_judgments and j.prob is not None:
            return np.clip(j.prob, 0.0, 1.0)
        return j.values.astype(float)

    def add(self, cycle: int, cb: Any = _NoCallbacks()) -> dict:
        """Algorithm 1 (``algorithm="simple"``) or 2 (``"targeted"``)."""
        t0 = time.perf_counter()
        fm0 = self.fm.stats.snapshot()
        cfg = self.cfg
        K = self.st.K
        n = len(self.items)
        group = self._target_group() if cfg.algorithm == "targeted" else None
        saved_model, saved_st = copy.deepcopy(self.model), self.st.copy()

        # 1. a new feature decoupled from the FM (ε = ½, prior log-odds 0), random start, at its mode
        q0 = self._initial_split()
        self.model.add_feature()
        self.st.append(b=np.zeros(n), q=q0, eps=0.5, coupled=False, hard=True)
        run_em(self.model, self.st, self.U, self.Y, **self._em_kw())
        q_dec = self.st.Q[:, K].copy()
        pos = q_dec > 0.5
        # how strongly the data put each item in its group: |L⁺ − L⁻| of the new feature
        strength = np.abs(self.model.loglik_gap(self.model.begin_e_step(self.st.Q, self.U, self.Y), K, q_dec))

        # 2. the exemplar pool: the targeted group if it is usable, else all items
        targeted = group is not None
        fallback = False
        if targeted:
            gp, gn = int((pos & group).sum()), int((~pos & group).sum())
            if group.sum() < cfg.min_group or min(gp, gn) < cfg.min_group_side:
                targeted, fallback = False, True
                self.counters["fallback"] += 1
            else:
                self.counters["targeted"] += 1
        pool = group if targeted else np.ones(n, dtype=bool)
        n_ex = cfg.n_exemplars or getattr(self.fm, "max_exemplars", 20)
        pos_idx = np.flatnonzero(pos & pool)
        neg_idx = np.flatnonzero(~pos & pool)
        pos_idx = self._exemplars(pos_idx, strength, n_ex)
        neg_idx = self._exemplars(neg_idx, strength, n_ex)

        # 3. mining (paper Fig. 2): one characteristic, or a short list of candidates
        cb.on_mining(len(pos_idx), len(neg_idx))
        descriptor, b, reason, candidates = None, None, None, []
        if pos_idx.size and neg_idx.size:
            kw = {}
            if cfg.weighted_mining and accepts_keyword(self.fm.mine, "weights"):
                kw["weights"] = (strength[pos_idx], strength[neg_idx])
            P = [self.items[i] for i in pos_idx]
            N = [self.items[i] for i in neg_idx]
            excl = self.features + self.discarded
            try:
                if cfg.n_candidates > 1 and hasattr(self.fm, "mine_candidates"):
                    candidates = list(self.fm.mine_candidates(P, N, cfg.n_candidates, exclude=excl, **kw))
                else:
                    candidates = [self.fm.mine(P, N, exclude=excl, **kw)]
            except MiningError as exc:
                reason = f"mining failed: {exc}"
                self.counters["mining_failed"] += 1
        else:
            reason = "the decoupled feature put every item in one group"
            self.counters["mining_failed"] += 1

        # 4. judge every training item; drop candidates that repeat a feature or fail the
        #    2%/98% activity filter; of several, keep the one that explains most of the
        #    current residual (the generalized M-step over descriptors)
        scored = []
        for cand in candidates:
            cb.on_judging(cand, len(self.items))
            bc = self._judge(cand, self.items)
            jc = self._last_judgments
            why = self._reject(bc, cfg)
            if why is None:
                scored.append((self._candidate_score(saved_model, saved_st, bc), cand, bc, jc))
            elif len(candidates) == 1:
                reason = why
            if why is not None:
                self.discarded.append(cand)
                key = "discarded_redundant" if why.startswith("same") else "discarded_activity"
                self.counters[key] = self.counters.get(key, 0) + 1
        if scored:
            scored.sort(key=lambda t: -t[0])
            _, descriptor, b, judgments = scored[0]
        elif reason is None:
            reason = "every mined candidate was redundant or failed the activity filter"
            descriptor = candidates[0] if candidates else None
        if reason is not None:
            self.model, self.st = saved_model, saved_st
            rec = self._record("discard", descriptor, cycle=cycle, t0=t0, fm0=fm0, targeted=targeted,
                               fallback=fallback, reason=reason)
            return rec

        # 5. couple the feature to its descriptor: ε from eq. (14) (on the targeted group);
        #    flip z → 1 − z when the description fits the negative group (docs/equations.md §9)
        raw = float((q_dec * (1 - b) + (1 - q_dec) * b)[pool].mean())
        if raw > 0.5:
            self.model.flip_feature(K)
            self.st.Q[:, K] = 1.0 - self.st.Q[:, K]
            raw = 1.0 - raw
            self.counters["flipped"] += 1
        # EM continues from the FM's judgments: q restarts at the prior (the decoupled split is
        # meaningful only inside a targeted group, and a candidate chosen for its residual gain
        # need not match it); ε starts at most at eps_init_max and is then re-estimated (eq. 14)
        eps = float(np.clip(raw, cfg.eps_min, cfg.eps_init_max))
        if cfg.eps_from_prob:
            from .fm.soft import epsilon_from_prob

            e_prob = epsilon_from_prob(judgments, cfg.eps_min)  # the FM's own uncertainty
            if e_prob is not None:
                eps = e_prob
        self.st.B[:, K] = b
        self.st.eps[K] = eps
        self.st.coupled[K] = True
        self.st.hard[K] = False
        self.st.Q[:, K] = b * (1 - eps) + (1 - b) * eps
        self.features.append(descriptor)
        extra_rec = {"candidates": [t[1] for t in scored]} if len(candidates) > 1 else {}
        run_em(self.model, self.st, self.U, self.Y, **self._em_kw())
        if self.eval_items is not None:
            cb.on_judging(descriptor, len(self.eval_items))
            self.B_eval = np.column_stack([self.B_eval, self._judge(descriptor, self.eval_items)])
        return self._record("add", descriptor, cycle=cycle, t0=t0, fm0=fm0, targeted=targeted, fallback=fallback,
                            **extra_rec)

    # ------------------------------------------------------------------------------------------
    # Algorithm 3: remove the least useful feature
    # ------------------------------------------------------------------------------------------
    def removal_losses(self) -> np.ndarray:
        """For each feature, the bound after removing it and refitting briefly (higher = the
        feature matters less); with ``criterion="loo"``, minus the predictor's leave-one-out
        error without it."""
        out = np.empty(self.st.K)
        if self._use_loo():
            for k in range(self.st.K):
                keep = [j for j in range(self.st.K) if j != k]
                out[k] = -self._loo(self.st.B[:, keep], self.st.eps[keep])
            return out
        for k in range(self.st.K):
            m = copy.deepcopy(self.model)
            st = self.st.copy()
            m.remove_feature(k)
            st.delete(k)
            iters = self.cfg.remove_refit_iter if self.cfg.model == "linear" else self.cfg.mlp_remove_refit_iter
            if iters > 0:
                run_em(m, st, self.U, self.Y, **self._em_kw(max_iter=iters, min_iter=1))
            out[k] = bound(m, st, self.U, self.Y)
        return out

    def remove(self, cycle: int) -> dict:
        t0 = time.perf_counter()
        fm0 = self.fm.stats.snapshot()
        if self.st.K == 0:
            return self._record("remove", None, cycle=cycle, t0=t0, fm0=fm0, reason="no feature to remove")
        after = self.removal_losses()
        k = int(np.argmax(after))
        name = self.features.pop(k)
        self.discarded.append(name)  # an update is remove-then-add: do not mine it straight back
        self.model.remove_feature(k)
        self.st.delete(k)
        if self.eval_items is not None:
            self.B_eval = np.delete(self.B_eval, k, axis=1)
        run_em(self.model, self.st, self.U, self.Y, **self._em_kw())
        return self._record("remove", name, cycle=cycle, t0=t0, fm0=fm0)

    # ------------------------------------------------------------------------------------------
    # prediction from judgments only, and the step record
    # ------------------------------------------------------------------------------------------
    def prior_q(self, B: np.ndarray) -> np.ndarray:
        """What a new item has: ``q = 1 − ε`` if judged yes, ``ε`` if no (docs/equations.md §5); with
        ``predict_at="mode"`` the judgments themselves."""
        return new_item_q(B, self.st.eps, self.cfg.predict_at)

    def fit_predictor(self) -> ObservationModel:
        """The predictor for new items: θ refitted on the training items' FM priors (what new
        items will have) when ``refit_on_judgments``, else the EM model itself."""
        if not self.cfg.refit_on_judgments:
            self.predictor = self.model
            return self.model
        pred = copy.deepcopy(self.model)
        Qp = self.prior_q(self.st.B)
        if isinstance(pred, LinearGaussian):
            r = self.cfg.predictor_ridge
            pred.ridge = pred.select_ridge(Qp, self.U, self.Y) if r == "cv" else float(r)
        pred.fit(Qp, self.U, self.Y, final=True)
        self.predictor = pred
        return pred

    def _record(self, action: str, feature: str | None, *, cycle: int, t0: float, fm0: dict, **extra) -> dict:
        pred = self.fit_predictor()
        train = regression_metrics(self.Y, pred.predict(self.prior_q(self.st.B), self.U))
        train_post = regression_metrics(self.Y, self.model.predict(self.st.Q, self.U))
        test = None
        if self.eval_items is not None:
            test = regression_metrics(self.eval_Y, pred.predict(self.prior_q(self.B_eval), self.eval_U))
        fm_now = self.fm.stats.snapshot()
        rec = {
            "step": len(self.history),
            "cycle": cycle,
            "action": action,
            "feature": feature,
            "features": list(self.features),
            "n_features": len(self.features),
            "train": train,
            "train_posterior": train_post,
            "test": test,
            "bound": bound(self.model, self.st, self.U, self.Y),
            "epsilon": [float(e) for e in self.st.eps],
            "activity": [float(a) for a in (self.st.B > 0.5).mean(axis=0)],
            "fm": FMStats.diff(fm_now, fm0),
            "fm_total": fm_now,
            "seconds": time.perf_counter() - t0,
            "targeted": bool(extra.pop("targeted", False)),
            "fallback": bool(extra.pop("fallback", False)),
        }
        rec.update(extra)
        self.history.append(rec)
        return rec

    # ------------------------------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------------------------------
    def to_payload(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The complete state as JSON-able metadata plus named arrays (no pickle)."""
        mmeta, marr = self.model.get_state()
        meta = {
            "format": "genz-discovery/1",
            "config": _config_json(self.cfg),
            "features": self.features,
            "discarded": self.discarded,
            "step": self.step,
            "history": self.history,
            "counters": self.counters,
            "rng": self.rng.bit_generator.state,
            "model": mmeta,
            "n_items": len(self.items),
            "n_eval": len(self.eval_items or []),
        }
        arrays = {f"model.{k}": v for k, v in marr.items()}
        arrays.update(B=self.st.B, Q=self.st.Q, eps=self.st.eps, coupled=self.st.coupled,
                      hard=self.st.hard, B_eval=self.B_eval)
        return meta, arrays

    def load_payload(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state saved by :meth:`to_payload` into this (freshly built) run."""
        if meta.get("format") != "genz-discovery/1":
            raise ValueError("not a genz discovery checkpoint")
        if meta["n_items"] != len(self.items) or meta["n_eval"] != len(self.eval_items or []):
            raise ValueError("the checkpoint was made for a different number of items")
        self.features = list(meta["features"])
        self.discarded = list(meta["discarded"])
        self.step = int(meta["step"])
        self.history = list(meta["history"])
        self.counters = dict(meta["counters"])
        self.rng.bit_generator.state = meta["rng"]
        self.model = observation_model_from_state(
            meta["model"], {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
        )
        self.st = LatentState(B=arrays["B"], Q=arrays["Q"], eps=arrays["eps"],
                              coupled=arrays["coupled"].astype(bool), hard=arrays["hard"].astype(bool))
        self.B_eval = arrays["B_eval"]
        self.fit_predictor()


def new_item_q(B: np.ndarray, eps: np.ndarray, predict_at: str = "mean") -> np.ndarray:
    """The feature posterior of an item with no target: its FM prior (docs/equations.md §5)."""
    if predict_at == "mode":
        return B.astype(float)
    return B * (1.0 - eps) + (1.0 - B) * eps


def _config_json(cfg: DiscoveryConfig) -> dict:
    d = asdict(cfg)
    d["mlp_hidden"] = list(d["mlp_hidden"])
    return d
