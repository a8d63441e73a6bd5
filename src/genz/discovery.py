"""Feature discovery: Algorithms 1-4 of the paper (docs/equations.md §5).

:class:`Discovery` holds the state of a run (descriptors, judgments, posteriors ``q``, error
rates ε, the observation model θ, the random generator, the step counter, the history) and
advances it one *step* at a time. The four algorithms are four short methods:

* :meth:`Discovery.algorithm_1` — add a feature: a decoupled feature found by EM, mined into
  a descriptor from exemplars of its two groups, judged on every item, coupled, EM again;
* :meth:`Discovery.algorithm_2` — the same, targeted at the combination of current features
  with the largest error (eq. 15-16);
* :meth:`Discovery.algorithm_3` — remove the feature whose removal keeps the bound highest;
* :meth:`Discovery.algorithm_4` — the schedule: cycles of additions and removals.

Each phase of an addition is a small method with explicit inputs and outputs. Recording a
step, the evaluation on a user's ``eval_set``, the two phases of a fit (cross-validated choices,
findings on untouched rows) and checkpoints live in :mod:`genz.discovery_run`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import MiningError
from .fm.base import FoundationModel, Judgments, accepts_keyword
from .inference import EMResult, LatentState, bound, prior_mixture, run_em
from .items import Item
from .observation import LinearGaussian, ObservationModel, make_observation_model
from .selection import CrossValidatedChoices, CrossValidation, paired, removable, simplest_within_one_se
from .settings import MLP, Advanced, Linear

__all__ = ["DiscoveryConfig", "Discovery", "schedule", "new_item_q"]

#: a kept cut is moved (:meth:`Discovery.refine_cut`) only when its cross-validated gain is this
#: many standard errors above 0 (a cut of a weak feature would be fitted to the noise)
POLISH_Z = 2.0
SCREEN_AUTO = 500  # Advanced.screen_sample="auto": items of the discovery part a candidate is screened on


@dataclass
class DiscoveryConfig:
    """Settings of a discovery run (built by :class:`genz.GenZRegressor` from its parameters)."""

    model: Linear | MLP = field(default_factory=Linear)
    algorithm: str = "targeted"  # "targeted" (Algorithm 2) or "simple" (Algorithm 1)
    cycles: int = 12
    add_per_cycle: int = 5
    remove_per_cycle: int = 2
    add_only: int | None = None  # the binary demo: Algorithm 1/2 run this many times, no removal
    min_activity: float = 0.02
    max_iter: int = 100
    tol: float = 1e-6
    predictor: str = "priors"  # "priors", "judgments" or "em" (see predictor_for_new_items)
    advanced: Advanced = field(default_factory=Advanced)
    seed: int = 0

    def make_model(self) -> ObservationModel:
        if isinstance(self.model, MLP):
            m = self.model
            return make_observation_model("mlp", hidden=m.hidden, dropout=m.dropout, lr=m.lr, epochs=m.epochs,
                                          batch_size=m.batch_size, em_epochs=m.em_epochs, seed=self.seed)
        return make_observation_model("linear", ridge=self.model.ridge)

    def em_settings(self, **over: Any) -> dict:
        adv = self.advanced
        max_iter = self.model.em_max_iter if isinstance(self.model, MLP) else self.max_iter
        kw = dict(eps_min=adv.eps_min, max_iter=max_iter, min_iter=min(adv.em_min_iter, max_iter), tol=self.tol,
                  q_tol=adv.em_q_tol, eps_fixed=adv.eps_fixed)
        kw.update(over)
        return kw

    @property
    def remove_refit_iter(self) -> int:
        it = self.advanced.remove_refit_iter
        return (0 if isinstance(self.model, MLP) else 3) if it is None else int(it)


def schedule(cfg: DiscoveryConfig, n_given: int = 0) -> list[tuple[int, str]]:
    """Algorithm 4's plan as (cycle, action) pairs, after ``n_given`` user-given features
    (hypotheses and pinned ones); with ``add_only`` just that many adds."""
    plan: list[tuple[int, str]] = [(0, "given")] * n_given
    if cfg.add_only is not None:
        return plan + [(0, "add")] * int(cfg.add_only)
    for c in range(cfg.cycles):
        plan += [(c, "add")] * cfg.add_per_cycle + [(c, "remove")] * cfg.remove_per_cycle
    return plan


def new_item_q(B: np.ndarray, eps: np.ndarray, at: str = "priors") -> np.ndarray:
    """The feature posterior of an item with no target: its FM prior (docs/equations.md §5), or the
    judgments themselves when the predictor works at the mode (``at="judgments"``)."""
    return B.astype(float) if at == "judgments" else prior_mixture(B, eps)


class Callbacks:
    """Calls the optional progress hooks of ``target`` (``on_step_start``, ``on_mining``,
    ``on_judging``, ``on_step_end``); a missing hook does nothing."""

    def __init__(self, target: Any = None) -> None:
        self.target = target

    def __getattr__(self, name: str) -> Callable[..., None]:
        fn = getattr(self.target, name, None) if self.target is not None else None
        return fn if callable(fn) else (lambda *a, **k: None)


@dataclass
class Outcome:
    """What one step did: the action, the feature concerned, the EM phases run and extras
    for the history (why a candidate was discarded, the candidates, targeted or not)."""

    action: str
    feature: str | None = None
    em: list[EMResult] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class Decoupled:
    """Phase 1 of an addition: the model with a new decoupled feature after EM, the feature's
    split ``q`` and how strongly the data put each item on its side (|L⁺ − L⁻|)."""

    model: ObservationModel
    st: LatentState
    q: np.ndarray
    strength: np.ndarray
    em: EMResult


class Discovery(CrossValidatedChoices):
    """A GenZ discovery run over the training items."""

    def __init__(self, fm: FoundationModel, config: DiscoveryConfig, items: Sequence[Item], Y: np.ndarray,
                 U: np.ndarray | None = None, *, given: Sequence[tuple[str, str]] = (),
                 veto: Sequence[str] = ()) -> None:
        self.fm, self.cfg = fm, config
        self.items, self.Y, self.U = list(items), Y, U
        self.features: list[str] = []
        self.discarded: list[str] = list(veto)  # never mined (again)
        self.st = LatentState.empty(len(self.items))
        self.model = config.make_model()
        self.model.set_scaling(U, Y)
        self.predictor: ObservationModel | None = None
        self.rng = np.random.default_rng(config.seed)
        self.given = list(given)  # (descriptor, "hypothesis" | "pinned"), added first
        self.origin: dict[str, str] = {}  # descriptor → "mined" | "hypothesis" | "pinned"
        self.max_features: int | None = None  # Selection.max_features: no addition beyond it
        self.criterion: CrossValidation | None = None  # cross-validated choices (genz.selection), or the bound
        self.protected: set[str] = set()  # never removed (the findings, in phase 2 of a fit)
        self._base: tuple | None = None  # (key, per-item losses) of the current structure
        self.screened: dict[str, dict[str, tuple]] = {}  # this step's screening judgments: descriptor → id → (b, p)
        self.plan = schedule(config, len(self.given))
        self.step = 0  # steps of the plan done
        self.history: list[dict] = []
        self.counters = {"targeted": 0, "fallback": 0, "discarded_activity": 0, "mining_failed": 0, "flipped": 0}

    @property
    def done(self) -> bool:
        return self.step >= len(self.plan)

    # -- Algorithm 4 -------------------------------------------------------------------------------
    def algorithm_4(self, cb: Callbacks, record: Callable[[Outcome, int], dict]) -> None:
        """Run the rest of the plan — cycles of ``add_per_cycle`` additions (Algorithm 1 or 2)
        and ``remove_per_cycle`` removals (Algorithm 3) — recording every step."""
        if not self.history:
            record(self.start(), 0)
        while not self.done:
            cycle, action = self.plan[self.step]
            cb.on_step_start(action, cycle, self.step + 1, len(self.plan))
            if action == "given":
                out = self.add_given(*self.given[self.step])
            elif action == "remove":
                out = self.algorithm_3()
            elif self.cfg.algorithm == "targeted":
                out = self.algorithm_2(cb)
            else:
                out = self.algorithm_1(cb)
            self.step += 1
            self.predictor = self.predictor_for_new_items()
            record(out, cycle)

    def start(self) -> Outcome:
        """Step 0: θ and σ² with no feature."""
        em = run_em(self.model, self.st, self.U, self.Y, **self.cfg.em_settings())
        self.predictor = self.predictor_for_new_items()
        return Outcome("init", em=[em])

    # -- Algorithms 1 and 2 ------------------------------------------------------------------------
    def algorithm_1(self, cb: Callbacks) -> Outcome:
        """Add a feature with exemplars drawn from all items."""
        return self._add(None, cb)

    def algorithm_2(self, cb: Callbacks) -> Outcome:
        """Add a feature with exemplars from the group of largest error (eq. 15-16)."""
        return self._add(self.target_group(), cb)

    def _add(self, group: np.ndarray | None, cb: Callbacks) -> Outcome:
        if self.max_features is not None and self.st.K >= self.max_features:
            return Outcome("discard", None, [], {"reason": f"the budget of {self.max_features} features is reached"})
        dec = self.decoupled_feature()
        pool, info = self.exemplar_pool(group, dec.q > 0.5)
        candidates, why = self.mine_pool(dec, pool, cb)
        if not candidates and info["targeted"]:  # the group has nothing new left to say: all items
            pool, info = self.fallback_pool()
            candidates, why = self.mine_pool(dec, pool, cb)
        judged, screen = self.screen_candidates(candidates, cb)
        chosen, info["candidates"], why = self.choose_candidate(judged, why, cb)
        self.screened = {}
        if screen is not None:
            info["candidates"], info["screen"] = screen.pop("ranked"), screen
        if chosen is None:
            info.pop("candidates")
            return Outcome("discard", candidates[0] if candidates else None, [dec.em], {**info, "reason": why})
        descriptor, b, judgments = chosen
        eps = self.couple(dec, b, pool, judgments)
        before = (self.model, self.st)
        self.model, self.st = dec.model, dec.st
        self.features.append(descriptor)
        self.origin[descriptor] = "mined"
        em = run_em(self.model, self.st, self.U, self.Y, **self.cfg.em_settings())
        if len(candidates) <= 1:
            info.pop("candidates")
        gain = self.new_feature_gain()
        rejected = self.rejects(gain)
        if rejected is not None:  # the new feature does not lower the cross-validated loss: undo it
            (self.model, self.st), _ = before, self.features.pop()
            self.discarded.append(descriptor)
            return Outcome("discard", descriptor, [dec.em, em], {**info, "reason": rejected})
        polished = self.refine_cut(gain)
        if polished is not None:
            info["refined_from"], descriptor = descriptor, polished
            em = run_em(self.model, self.st, self.U, self.Y, **self.cfg.em_settings())
        return Outcome("add", descriptor, [dec.em, em], {**info, "eps_start": eps})

    # -- the phases of an addition -------------------------------------------------------------------
    def target_group(self) -> np.ndarray | None:
        """eq. (15)-(16): the items sharing the combination of the current features' modes with
        the largest total error ``E_c = Σ_{n∈c} Σ_d (y − g(ẑ_n))²/σ²_d``; the modes of
        :meth:`mining_q` (the FM priors of coupled features)."""
        if self.st.K == 0:
            return None
        Z = (self.mining_q() > 0.5).astype(np.int8)
        err = ((self.Y - self.model.predict(Z.astype(float), self.U)) ** 2 / self.model.sigma2_).sum(axis=1)
        _, inv = np.unique(Z, axis=0, return_inverse=True)
        inv = inv.ravel()
        return inv == int(np.argmax(np.bincount(inv, weights=err)))

    def decoupled_feature(self) -> Decoupled:
        """Phase 1: a copy of the model with a new feature decoupled from the FM (ε = ½, prior
        log-odds 0), started from :meth:`initial_split`, at its mode, and EM to convergence."""
        model, st = copy.deepcopy(self.model), self.st.copy()
        q0 = self.initial_split()
        K = st.K
        model.add_feature()
        st.append(b=np.zeros(len(self.items)), q=q0, eps=0.5, coupled=False, hard=True)
        em = run_em(model, st, self.U, self.Y, **self.cfg.em_settings())
        q = st.Q[:, K].copy()
        strength = np.abs(model.loglik_gap(model.begin_e_step(st.Q, self.U, self.Y), K, q))
        return Decoupled(model, st, q, strength, em)

    def initial_split(self) -> np.ndarray:
        """The starting q of a decoupled feature. ``"random"``: a fair coin per item.
        ``"residual"``: the sign of each item's whitened residual along its principal direction
        (power iteration from a random start, random polarity)."""
        n = len(self.items)
        if self.cfg.advanced.decoupled_init == "random" or self.model.sigma2_ is None:
            return (self.rng.random(n) < 0.5).astype(float)
        R = (self.Y - self.model.predict(self.mining_q(), self.U)) / np.sqrt(self.model.sigma2_)
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

    def exemplar_pool(self, group: np.ndarray | None, pos: np.ndarray) -> tuple[np.ndarray, dict]:
        """Phase 2: the items exemplars come from — the targeted group if it has ``min_group``
        items and ``min_group_side`` on each side of the split, else all items (a fallback)."""
        adv = self.cfg.advanced
        if group is None:
            return np.ones(len(self.items), dtype=bool), {"targeted": False, "fallback": False}
        small = group.sum() < adv.min_group or min((pos & group).sum(), (~pos & group).sum()) < adv.min_group_side
        if small:
            return self.fallback_pool()
        self.counters["targeted"] += 1
        return group, {"targeted": True, "fallback": False}

    def fallback_pool(self) -> tuple[np.ndarray, dict]:
        """All items, counted as a fallback from a targeted group (too small, or with nothing
        new left to mine)."""
        self.counters["fallback"] += 1
        return np.ones(len(self.items), dtype=bool), {"targeted": False, "fallback": True}

    def mine_pool(self, dec: Decoupled, pool: np.ndarray, cb: Callbacks) -> tuple[list[str], str | None]:
        """Phases 2-3 on one pool: its exemplars of the decoupled split, then mining."""
        P, N, weights = self.exemplars(dec, pool)
        cb.on_mining(len(P), len(N))
        return self.mine(P, N, weights)

    def exemplars(self, dec: Decoupled, pool: np.ndarray) -> tuple[list[Item], list[Item], tuple | None]:
        """Up to ``n_exemplars`` positive and negative items of the pool, drawn with
        probability ∝ strength (all of them when there are few enough), and their weights."""
        n_ex = self.cfg.advanced.n_exemplars or getattr(self.fm, "max_exemplars", 20)
        pos = dec.q > 0.5
        idx = []
        for side in (np.flatnonzero(pos & pool), np.flatnonzero(~pos & pool)):
            if side.size > n_ex:
                p = dec.strength[side] + 1e-12
                side = np.sort(self.rng.choice(side, n_ex, replace=False, p=p / p.sum()))
            idx.append(side)
        weights = (dec.strength[idx[0]], dec.strength[idx[1]]) if self.cfg.advanced.weighted_mining else None
        return [self.items[i] for i in idx[0]], [self.items[i] for i in idx[1]], weights

    def refine_cut(self, gain: np.ndarray | None) -> str | None:
        """The feature just kept, if its cross-validated ``gain`` is at least :data:`POLISH_Z` SEs,
        with its cut moved (:meth:`moved_cut`); the keep decision was made on the cut as mined (a
        cut searched on every row would overstate its own gain). The new descriptor, or None."""
        if getattr(self.fm, "refine", None) is None or gain is None or self.model.sigma2_ is None:
            return None
        m, se = paired(gain)
        if m < POLISH_Z * se:  # a weak feature's cut would only be fitted to the noise
            return None
        k = self.st.K - 1
        Q = self.mining_q().copy()
        Q[:, k] = 0.0
        R = (self.Y - self.model.predict(Q, self.U)) / np.sqrt(self.model.sigma2_)  # the other features' residual
        moved = self.moved_cut(self.features[k], R, (self.features, self.st.B))
        if moved is not None:
            self.origin[moved[0]] = self.origin.pop(self.features[k], "mined")
            self.features[k], self.st.B[:, k] = moved
            self.st.Q[:, k] = prior_mixture(moved[1][:, None], self.st.eps[k:k + 1])[:, 0]
            self.counters["refined"] = self.counters.get("refined", 0) + 1
        return None if moved is None else moved[0]

    def moved_cut(self, descriptor: str, R: np.ndarray, against: tuple) -> tuple[str, np.ndarray] | None:
        """``descriptor`` with its cut moved by ``fm.refine`` to explain the residual ``R`` best, and
        its judgments; None if unmoved, known, discarded or refused beside ``against`` (:meth:`rejection`)."""
        new = self.fm.refine(descriptor, self.items, R)
        if new == descriptor or new in against[0] or new in self.discarded:
            return None
        b = self.judgment_values(self.judge(new, self.items))
        return None if self.rejection(b, against=against) is not None else (new, b)

    def mine(self, P: list[Item], N: list[Item], weights: tuple | None) -> tuple[list[str], str | None]:
        """Phase 3 (paper Fig. 2): one characteristic, or a short list of candidates, that the
        positive exemplars have and the negative ones lack; never a known or discarded one."""
        if not P or not N:
            self.counters["mining_failed"] += 1
            return [], "the decoupled feature put every item in one group"
        kw = {"weights": weights} if weights is not None and accepts_keyword(self.fm.mine, "weights") else {}
        excl = self.features + self.discarded
        n = self.cfg.advanced.n_candidates
        try:
            if n > 1 and hasattr(self.fm, "mine_candidates"):
                return list(self.fm.mine_candidates(P, N, n, exclude=excl, **kw)), None
            return [self.fm.mine(P, N, exclude=excl, **kw)], None
        except MiningError as exc:
            self.counters["mining_failed"] += 1
            return [], f"mining failed: {exc}"

    def screen_size(self, n_candidates: int) -> int | None:
        """How many discovery items candidates are screened on (None: no screening), from
        ``Advanced.screen_sample``: ``"auto"`` screens on :data:`SCREEN_AUTO` items when the
        foundation model's judgments cost (it has no ``free_judgments``) and that is at most
        half the discovery items."""
        s, n = self.cfg.advanced.screen_sample, len(self.items)
        if n_candidates < 2 or s is None:
            return None
        if s == "auto":
            if getattr(self.fm, "free_judgments", False) or 2 * SCREEN_AUTO > n:
                return None
            s = SCREEN_AUTO
        return int(s) if int(s) < n else None

    def screen_candidates(self, candidates: list[str], cb: Callbacks) -> tuple[list[str], dict | None]:
        """Screening several mined candidates (docs/scale.md): each is judged on a random sample
        of the discovery items only, filtered as in :meth:`choose_candidate` on the sample, and
        scored on the sample alone with the same rule (the residual gain; or the
        cross-validated gain on the sampled rows, the simplest within one SE of the best).
        Only the winner goes on to :meth:`choose_candidate`, which judges it on the other items
        (its sample judgments are reused). Returns the candidates to judge in full and the
        step's record ``{sample, candidates, judgments_saved, ranked}``: the judgments saved are
        the losers' on the items outside the sample."""
        n = self.screen_size(len(candidates))
        if n is None:
            return candidates, None
        rng = np.random.default_rng([self.cfg.seed, 13, self.step])
        rows = np.sort(rng.choice(len(self.items), n, replace=False))
        crit = None if self.criterion is None else self.criterion.subset(rows)
        gains, names, usable = [], [], set()
        for cand in candidates:
            cb.on_judging(cand, n)
            b = self.judgment_values(self._judge_sample(cand, [self.items[i] for i in rows]))
            reject = self.rejection(b, rows)
            if reject is not None:
                self.discarded.append(cand)
                key = "discarded_redundant" if reject.startswith("same") else "discarded_activity"
                self.counters[key] = self.counters.get(key, 0) + 1
                continue
            usable.add(cand)
            gains.append(self.residual_gain(b, rows) if crit is None else self.cv_gain(b, rows, crit))
            names.append(cand)
        order = sorted(range(len(names)), key=lambda i: -float(np.mean(gains[i])))
        if crit is not None and names:
            win = simplest_within_one_se(names, gains, getattr(self.fm, "complexity", None))
            order = [win] + [i for i in order if i != win]
        ranked = [names[i] for i in order]
        saved = sum(len(self.items) - n for c in candidates if c not in ranked[:1])
        return ranked[:1], {"sample": int(n), "candidates": len(candidates), "judgments_saved": int(saved),
                            "ranked": ranked}

    def _judge_sample(self, descriptor: str, items: list[Item]) -> Any:
        """Judge ``items`` for screening, remembering the answers for this step (the winner
        is then judged on the other items only, see :meth:`judge`)."""
        j = self.judge(descriptor, items)
        probs = [None] * len(items) if j.prob is None else j.prob.tolist()
        self.screened.setdefault(descriptor, {}).update(zip([it.id for it in items], zip(j.values.tolist(), probs)))
        return j

    def choose_candidate(self, candidates: list[str], why: str | None, cb: Callbacks) -> tuple[tuple | None, list, str | None]:
        """Phase 4: judge every training item for each candidate, drop those that repeat a
        feature or fail the activity filter, keep the one explaining most of the current
        residual (the generalised M-step over descriptors), or with cross-validated selection
        the simplest one whose cross-validated gain is within one standard error of the best, after
        :meth:`main_effects_first`. Returns (descriptor, b, judgments) or None, the usable
        candidates and why none was usable."""
        scored = []
        for cand in candidates:
            cb.on_judging(cand, len(self.items))
            judgments = self.judge(cand, self.items)
            b = self.judgment_values(judgments)
            reject = self.rejection(b)
            if reject is None:
                gain = self.residual_gain(b) if self.criterion is None else self.cv_gain(b)
                scored.append((gain, cand, b, judgments))
                continue
            self.discarded.append(cand)
            key = "discarded_redundant" if reject.startswith("same") else "discarded_activity"
            self.counters[key] = self.counters.get(key, 0) + 1
            if len(candidates) == 1:
                why = reject
        if self.criterion is not None:
            scored = self.main_effects_first(scored)
        if not scored:
            return None, [], why or "every mined candidate was redundant or failed the activity filter"
        if self.criterion is not None:  # the simplest descriptor as good as the best, cross-validated
            i = simplest_within_one_se([t[1] for t in scored], [t[0] for t in scored],
                                       getattr(self.fm, "complexity", None))
            scored.insert(0, scored.pop(i))
        else:
            scored.sort(key=lambda t: -t[0])
        return scored[0][1:], [t[1] for t in scored], None

    def main_effects_first(self, scored: list[tuple]) -> list[tuple]:
        """A conjunction ``(A) and (B)`` (where the FM says what a descriptor is made of) stays a
        candidate only if its cross-validated gain beats A and B side by side by more than one
        standard error; else its parts replace it (main effects before interactions). A part
        that is already a feature or was discarded is never offered again (the conjunction
        stays a candidate when no part is left)."""
        parts_of = getattr(self.fm, "parts", None)
        if parts_of is None:
            return scored
        known = {t[1]: t for t in scored}  # (gain or None, descriptor, b, judgments), judged once per step
        out, listed = [], {t[1] for t in scored}
        for t in scored:
            judged = [known[p] for p in parts_of(t[1])
                      if p not in self.features and p not in self.discarded and self._judge_part(p, known)]
            if not judged:
                out.append(t)
                continue
            joint = self.cv_gain(np.column_stack([u[2] for u in judged]))
            m, se = paired(t[0] - joint)  # per item: what the conjunction adds over its parts
            if m > se:
                out.append(t)
                continue
            self.discarded.append(t[1])
            for _, p, b, j in judged:
                if p not in listed:
                    listed.add(p)
                    out.append((self.cv_gain(b), p, b, j))
        return out

    def _judge_part(self, p: str, known: dict) -> bool:
        """Judge a conjunction's part on every item unless this step already has (a mined
        candidate or another conjunction's part); whether it passes the filters."""
        if p not in known:
            j = self.judge(p, self.items)
            known[p] = (None, p, self.judgment_values(j), j)
        return self.rejection(known[p][2]) is None

    def couple(self, dec: Decoupled, b: np.ndarray, pool: np.ndarray, judgments: Any) -> float:
        """Phase 5: couple the decoupled feature to its descriptor's judgments ``b``. ε starts
        from eq. (14) on the pool; when the description fits the negative group (ε > ½) the
        feature is flipped, ``z → 1 − z`` with θ re-parametrised so that predictions stay
        (docs/equations.md §9); q restarts at the FM prior. Returns the starting ε."""
        K, adv = dec.st.K - 1, self.cfg.advanced
        raw = float((dec.q * (1 - b) + (1 - dec.q) * b)[pool].mean())
        if raw > 0.5:
            dec.model.flip_feature(K)
            dec.st.Q[:, K] = 1.0 - dec.st.Q[:, K]
            raw = 1.0 - raw
            self.counters["flipped"] += 1
        eps = float(np.clip(raw, adv.eps_min, adv.eps_init_max))
        if adv.eps_from_prob:
            from .fm.soft import epsilon_from_prob

            e_prob = epsilon_from_prob(judgments, adv.eps_min)  # the FM's own uncertainty
            eps = e_prob if e_prob is not None else eps
        dec.st.B[:, K], dec.st.eps[K] = b, eps
        dec.st.coupled[K], dec.st.hard[K] = True, False
        dec.st.Q[:, K] = prior_mixture(b, eps)
        return eps

    def add_given(self, descriptor: str, origin: str) -> Outcome:
        """A user's hypothesis or pinned feature: judged, checked like a mined one, coupled
        with ε starting at ``eps_init_max`` and q at the FM prior, then EM."""
        b = self.judgment_values(self.judge(descriptor, self.items))
        why = self.rejection(b) if descriptor not in self.features else "already a feature"
        if why is not None:
            return Outcome("discard", descriptor, extra={"reason": why, "origin": origin})
        eps = self.cfg.advanced.eps_init_max
        self.model.add_feature()
        self.st.append(b=b, q=prior_mixture(b, eps), eps=eps, coupled=True, hard=False)
        self.features.append(descriptor)
        self.origin[descriptor] = origin
        em = run_em(self.model, self.st, self.U, self.Y, **self.cfg.em_settings())
        return Outcome("add", descriptor, [em], {"origin": origin, "eps_start": eps})

    # -- helpers of the phases -----------------------------------------------------------------------
    def judge(self, descriptor: str, items: Sequence[Item]) -> Any:
        """The FM's judgments of ``descriptor`` on ``items``; those screening already asked for
        this step (:meth:`screen_candidates`) are not asked again."""
        known = self.screened.get(descriptor)
        ask = [it for it in items if it.id not in known] if known else list(items)
        j = self.fm.judge(descriptor, ask) if ask or not known else Judgments(np.zeros(0, dtype=bool))
        if len(j) != len(ask):
            raise MiningError(f"the foundation model judged {len(j)} of {len(ask)} items for {descriptor!r}")
        if not known:
            return j
        got = dict(known)
        probs = [None] * len(ask) if j.prob is None else j.prob.tolist()
        got.update(zip([it.id for it in ask], zip(j.values.tolist(), probs)))
        vals, ps = zip(*(got[it.id] for it in items))
        prob = None if any(p is None for p in ps) else np.array(ps, dtype=float)
        return Judgments(np.array(vals, dtype=bool), prob)

    def judgment_values(self, j: Any) -> np.ndarray:
        """The 0/1 judgments, or P(yes) with ``soft_judgments`` where the backend gives it."""
        if self.cfg.advanced.soft_judgments and j.prob is not None:
            return np.clip(j.prob, 0.0, 1.0)
        return j.values.astype(float)

    def rejection(self, b: np.ndarray, rows: np.ndarray | None = None, against: tuple | None = None) -> str | None:
        """Why a new feature's judgments cannot be used (or None); ``b`` on the items ``rows`` only
        (screening) or on all; beside the model's features, or ``against`` = (features, judgments)."""
        hard_b = b > 0.5
        features, B = (self.features, self.st.B) if against is None else against
        B = B if rows is None else B[rows]
        for k, f in enumerate(features):
            col = B[:, k] > 0.5
            if np.array_equal(hard_b, col) or np.array_equal(hard_b, ~col):
                return f"same judgments on every training item as {f!r} (or its complement)"
        activity, lo = float(hard_b.mean()), self.cfg.min_activity
        if activity < lo or activity > 1.0 - lo:
            return f"active for {activity:.1%} of the items (filter {lo:.0%}-{1 - lo:.0%})"
        return None

    def residual_gain(self, b: np.ndarray, rows: np.ndarray | None = None) -> float:
        """How much of the current (whitened) residual the judgments ``b`` explain:
        ``Σ_d (r_dᵀ c)² / cᵀc`` with ``c = b − mean(b)``; ``b`` on the items ``rows`` only
        (screening) or on all."""
        R = (self.Y - self.model.predict(self.mining_q(), self.U)) / np.sqrt(self.model.sigma2_)
        R = R if rows is None else R[rows]
        c = b - b.mean()
        cc = float(c @ c)
        return float(((R.T @ c) ** 2).sum() / cc) if cc > 0 else 0.0

    # -- Algorithm 3 -----------------------------------------------------------------------------------
    def algorithm_3(self) -> Outcome:
        """Remove the feature whose removal (after a brief refit) leaves the highest bound — or,
        with cross-validated selection, the feature whose drop-one cross-validated gain is
        smallest, and only if dropping it does not raise the loss; pinned features stay. A
        removed feature is not mined again (an update is remove-then-add)."""
        if self.criterion is None:
            scores = self.removal_bounds()
        else:  # minus each feature's drop-one cross-validated gain
            gains = [self.cv_drop_gain(k) for k in range(self.st.K)]
            scores = -np.array([g.mean() for g in gains]) if gains else np.zeros(0)
        scores = np.where([self.origin.get(f) == "pinned" or f in self.protected for f in self.features], -np.inf, scores)
        if self.st.K == 0 or not np.isfinite(scores).any():
            return Outcome("remove", None, extra={"reason": "no feature to remove"})
        k = int(np.argmax(scores))
        if self.criterion is not None and not removable(gains[k]):
            return Outcome("remove", None, extra={"reason": "dropping any feature would raise the cross-validated loss"})
        name = self.features.pop(k)
        self.discarded.append(name)
        self.model.remove_feature(k)
        self.st.delete(k)
        em = run_em(self.model, self.st, self.U, self.Y, **self.cfg.em_settings())
        return Outcome("remove", name, [em])

    def removal_bounds(self) -> np.ndarray:
        """For each feature, the bound of eq. (2) after removing it and refitting for
        ``remove_refit_iter`` EM iterations (higher = the feature matters less)."""
        out = np.empty(self.st.K)
        iters = self.cfg.remove_refit_iter
        for k in range(self.st.K):
            m, st = copy.deepcopy(self.model), self.st.copy()
            m.remove_feature(k)
            st.delete(k)
            if iters > 0:
                run_em(m, st, self.U, self.Y, **self.cfg.em_settings(max_iter=iters, min_iter=1))
            out[k] = bound(m, st, self.U, self.Y)
        return out

    # -- the predictor for new items -----------------------------------------------------------------
    def mining_q(self) -> np.ndarray:
        """The features as mining sees them: each coupled feature at its FM prior
        ``(1 − ε) b + ε (1 − b)`` (what a new item has), not at its posterior. At the posteriors
        a feature with a free ε can flip items to explain a term that is not yet in the model,
        and the residual that mining works on would no longer show that term (measured:
        planted multi task with hypotheses, development seeds, recall 0.88 → 1.00)."""
        if not self.st.K:
            return self.st.Q
        return np.where(self.st.coupled, prior_mixture(self.st.B, self.st.eps), self.st.Q)

    def prior_q(self, B: np.ndarray) -> np.ndarray:
        """What an item with no target has: its FM prior (or its judgments, see ``predictor``)."""
        return new_item_q(B, self.st.eps, self.cfg.predictor)

    def predictor_for_new_items(self) -> ObservationModel:
        """θ for items with no target (docs/equations.md §9). ``predictor="priors"``: refitted on the
        training items' FM priors ``q = 1 − ε / ε`` (what new items will have), the linear
        model's ridge by leave-one-out; ``"judgments"``: the same at ``q = b`` (the mode);
        ``"em"``: the EM model itself."""
        if self.cfg.predictor == "em":
            return self.model
        pred = copy.deepcopy(self.model)
        Qp = self.prior_q(self.st.B)
        if isinstance(pred, LinearGaussian):
            pred.ridge = pred.select_ridge(Qp, self.U, self.Y)
        pred.fit_final(Qp, self.U, self.Y)
        return pred
