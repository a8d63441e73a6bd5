"""Everything around the algorithm: the step history, the evaluation on ``eval_set``,
checkpoints.

:class:`DiscoveryRun` wraps a :class:`~genz.discovery.Discovery` (the algorithm alone) with

* :class:`EvalTracker` — the user's test items, judged for each feature once it is in the
  model, scored after every step; it never feeds anything back into the algorithm;
* :func:`step_record` — one history record per step (features, metrics, bound, ε, FM calls,
  EM convergence); recording reads the state, it fits nothing;
* :meth:`DiscoveryRun.to_payload` / :meth:`DiscoveryRun.load_payload` — the complete state as
  JSON metadata plus named arrays (no pickle), to resume exactly where a run stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from .discovery import Callbacks, Discovery, Outcome, new_item_q
from .error_rates import refine_error_rates, structure_error_rates, widen_for_attenuation
from .findings import FindingsResult, fit_findings
from .fm.base import FMStats
from .inference import LatentState, bound, prior_mixture, run_em
from .observation.base import predictive_std
from .selection import CrossValidation, best_step, holdout_losses, numbers_check, paired, text_check, text_holdout
from .untouched_checks import UntouchedRowChecks
from .settings import Selection
from .items import Item
from .metrics import regression_metrics
from .observation import observation_model_from_state

__all__ = ["DiscoveryRun", "EvalTracker", "step_record"]

CHECKPOINT_FORMAT = "genz-discovery/3"


class EvalTracker:
    """The user's evaluation set: its judgments for the current features and its metrics."""

    def __init__(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None) -> None:
        self.items, self.Y, self.U = list(items), Y, U
        self.features: list[str] = []
        self.B = np.zeros((len(self.items), 0))
        #: the tree route's record (``tree_route_``), once taken: these items' predictions blend as predict's
        self.tree: dict | None = None

    def sync(self, disc: Discovery, cb: Callbacks) -> None:
        """Judge the features new since the last step; drop the removed ones."""
        cols = []
        for f in disc.features:
            if f in self.features:
                cols.append(self.B[:, self.features.index(f)])
            else:
                cb.on_judging(f, len(self.items))
                cols.append(disc.judgment_values(disc.judge(f, self.items)))
        self.features = list(disc.features)
        self.B = np.column_stack(cols) if cols else np.zeros((len(self.items), 0))

    def metrics(self, disc: Discovery) -> dict:
        Q = new_item_q(self.B, disc.st.eps, disc.cfg.predictor)
        P = disc.predictor.predict(Q, self.U)
        if self.tree is not None:  # as predict blends
            from .tree_route import tree_blend

            P = tree_blend(self.tree, self.items, P, self.U)
        return regression_metrics(self.Y, P)


def step_record(disc: Discovery, out: Outcome, cycle: int, test: dict | None, seconds: float, fm_diff: dict,
                fm_now: dict) -> dict:
    """The history record of one step (read-only on the state)."""
    train = regression_metrics(disc.Y, disc.predictor.predict(disc.prior_q(disc.st.B), disc.U))
    rec = {
        "step": len(disc.history), "cycle": cycle, "action": out.action, "feature": out.feature,
        "features": list(disc.features), "n_features": len(disc.features),
        "train": train,
        "train_posterior": regression_metrics(disc.Y, disc.model.predict(disc.st.Q, disc.U)),
        "test": test,
        "bound": bound(disc.model, disc.st, disc.U, disc.Y),
        "epsilon": [float(e) for e in disc.st.eps],
        "activity": [float(a) for a in (disc.st.B > 0.5).mean(axis=0)],
        "fm": fm_diff, "fm_total": fm_now, "seconds": seconds,
        "targeted": bool(out.extra.get("targeted", False)),
        "fallback": bool(out.extra.get("fallback", False)),
        "em_phases": [{"iterations": r.iterations, "converged": bool(r.converged)} for r in out.em],
        "em_not_converged": int(sum(not r.converged for r in out.em)),
    }
    rec.update({k: v for k, v in out.extra.items() if k not in ("targeted", "fallback")})
    return rec


class DiscoveryRun(UntouchedRowChecks):
    """A discovery run with its history, optional evaluation set, the two answers of a fit and
    checkpoints (docs/feature-table.md).

    ``split=(items, Y, U, idx_discovery, idx_untouched)``: all training items, the rows the
    algorithm sees (``disc`` is built on ``idx_discovery``) and those set aside for the findings
    (possibly none). The run has up to two phases:

    1. discovery on the discovery rows, every choice by cross-validation on them
       (:mod:`genz.selection`); its best structure's features are judged on the untouched rows
       and tested there (:mod:`genz.findings`) — the findings, final from then on;
    2. with untouched rows and ``Selection.extend``: discovery goes on from that structure over
       every training row (cross-validated on all of them; the findings stay in the model), so
       the predictor learns from all the data.

    The predictor's structure is the best step of the last phase, refitted on every training row.
    ``sample=(items, Y, U, idx)``: discovery runs on a sample (``discovery_sample``) of these
    items; the estimator judges the final features on all of them afterwards."""

    def __init__(self, disc: Discovery, eval_set: tuple | None = None, y_1d: bool = False,
                 split: tuple | None = None, target_names: Sequence[str] | None = None,
                 sample: tuple | None = None, selection: Selection | None = None, side_array: bool = False) -> None:
        self.disc = disc
        self.sample = sample
        self.tracker = EvalTracker(*eval_set) if eval_set is not None else None
        self.y_1d = y_1d
        self.target_names = list(target_names) if target_names is not None else None
        self.split = split
        self.sel = selection if selection is not None else Selection()
        self.phase = 1
        self.phase1: dict | None = None  # the structure tested for findings, and the findings
        self.final: Discovery | None = None  # the chosen structure refitted on all training items
        self.selection: dict | None = None
        self._structure: dict | None = None  # the structure check, once phase 1 is tested
        # the numbers route needs every item refitted here (not a discovery sample, refitted by the
        # estimator); with side inputs given as an array (side_array) predict appends its columns to them
        self.numbers_route_ok = sample is None
        self.side_array = bool(side_array)
        self.judged: dict[str, np.ndarray] = {}  # every feature ever in the model: its judgments on disc's rows
        if split is not None:
            disc.criterion = CrossValidation(disc.Y, disc.U, self.sel.folds, disc.cfg.seed)
            disc.max_features = self.sel.max_features

    # the attributes run directories read (all training items)
    fm = property(lambda self: self.disc.fm)
    items = property(lambda self: self.split[0] if self.split else self.disc.items)
    Y = property(lambda self: self.split[1] if self.split else self.disc.Y)
    U = property(lambda self: self.split[2] if self.split else self.disc.U)
    history = property(lambda self: self.disc.history)
    done = property(lambda self: self.disc.done)
    result = property(lambda self: self.final if self.final is not None else self.disc)
    untouched = property(lambda self: np.zeros(0, int) if self.split is None else self.split[4])
    extends = property(lambda self: bool(self.sel.extend) and len(self.untouched) > 0)

    def run(self, callbacks: Any = None, on_step: Callable[["DiscoveryRun", dict], None] | None = None) -> None:
        """Run the rest of the phases, recording each step; ``on_step(self, record)`` after each."""
        cb = Callbacks(callbacks)
        clock = {"t": time.perf_counter(), "fm": self.fm.stats.snapshot()}

        def record(out: Outcome, cycle: int) -> None:
            test = None
            if self.tracker is not None:
                self.tracker.sync(self.disc, cb)
                test = self.tracker.metrics(self.disc)
            now = self.fm.stats.snapshot()
            rec = step_record(self.disc, out, cycle, test, time.perf_counter() - clock["t"],
                              FMStats.diff(now, clock["fm"]), now)
            if out.action != "init":
                rec["plan_step"] = self.disc.step
            for k, f in enumerate(self.disc.features):
                self.judged.setdefault(f, self.disc.st.B[:, k].copy())
            if self.disc.criterion is not None:
                m, se = paired(self.disc.base_losses())
                rec["cv"] = {"loss": m, "loss_se": se}
                rec["phase"] = self.phase
                self._maybe_stop(rec)
            self.disc.history.append(rec)
            cb.on_step_end(rec)
            if on_step is not None:
                on_step(self, rec)
            clock.update(t=time.perf_counter(), fm=self.fm.stats.snapshot())

        done_select = None
        if self.disc.history and self.disc.history[-1]["action"] == "select":
            done_select = self.disc.history.pop()  # a finished run: the selection is redone, not re-recorded
        self.disc.algorithm_4(cb, record)
        if self.disc.criterion is None:
            return
        if self.phase == 1:
            self.phase1 = self._test_findings(cb)
            if self.extends and not self._structure_check()["fell_back"]:
                self._start_phase_2(record)
                self.disc.algorithm_4(cb, record)
        rec = self._select(cb, clock)
        if done_select is not None:
            self.disc.history[-1] = done_select
        elif on_step is not None:
            on_step(self, rec)

    def _maybe_stop(self, rec: dict) -> None:
        """Early stop: when the last ``patience`` whole cycles of this phase brought no new best
        cross-validated loss, the phase ends (checked at the end of each cycle)."""
        d, patience = self.disc, self.sel.patience
        if d.done or d.step == 0 or d.plan[d.step - 1][1] == "given" or d.plan[d.step][0] == d.plan[d.step - 1][0]:
            return
        cycle = d.plan[d.step - 1][0]
        first = cycle - patience + 1
        past = [r for r in d.history if "cv" in r and r.get("phase", 1) == self.phase] + [rec]
        start = ("init", "given", "extend")
        before = [r["cv"]["loss"] for r in past if r["cycle"] < first or r["action"] in start]
        during = [r["cv"]["loss"] for r in past if r["cycle"] >= first and r["action"] not in start]
        if first >= 0 and before and during and min(during) >= min(before):
            d.step = len(d.plan)
            rec["stopped_early"] = f"cycles {first + 1}-{cycle + 1} brought no new best cross-validated loss"

    def best_record(self) -> dict:
        """The step of this phase chosen by its cross-validated loss
        (:func:`genz.selection.best_step`; a step without every pinned feature is not a candidate)."""
        pinned = {f for f, o in self.disc.origin.items() if o == "pinned"}
        steps = [r for r in self.disc.history if "cv" in r and r["action"] != "select"
                 and r.get("phase", 1) == self.phase and pinned <= set(r["features"])]
        seen: dict[tuple, np.ndarray] = {}
        for r in steps:
            key = (tuple(r["features"]), tuple(r["epsilon"]))
            if key not in seen:
                seen[key] = self.disc.criterion.losses(prior_mixture(self._judgments(r["features"]),
                                                                     np.asarray(r["epsilon"], dtype=float)))
        losses = [seen[(tuple(r["features"]), tuple(r["epsilon"]))] for r in steps]
        return steps[best_step(losses, [len(r["features"]) for r in steps])]

    def _judgments(self, names: Sequence[str]) -> np.ndarray:
        """The judgments on this phase's rows of features that were in the model at some step."""
        return np.column_stack([self.judged[f] for f in names]) if names else np.zeros((len(self.disc.items), 0))

    # -- phase 1's end: the findings ---------------------------------------------------------------
    def _test_findings(self, cb: Callbacks) -> dict:
        """Phase 1's best structure: its features judged on the untouched rows and tested there;
        the user's hypotheses' cross-validated evidence against it."""
        d = self.disc
        cb.on_selection("choosing the structure tested for findings")
        best = self.best_record()
        names, eps = list(best["features"]), np.asarray(best["epsilon"], dtype=float)
        names, BA = self._settle_cuts(names, self._judgments(names), cb)
        eps, side = structure_error_rates(BA, d.U, d.Y, eps, d.cfg)  # ε that mean what they say (docs/noise-model.md)
        QA = prior_mixture(BA, eps)
        items, Y, U, ia, iu = self.split
        BI = np.zeros((len(iu), len(names)))
        its = [items[i] for i in iu]
        for k, f in enumerate(names):
            cb.on_selection(f"judging {f!r} on the {len(iu)} untouched rows")
            BI[:, k] = d.judgment_values(d.judge(f, its))
        findings = None
        if len(iu) and names:
            cb.on_selection("testing the findings")
            # latent units E[z | b]; judgments exact by construction have error rates 0 (the
            # judgment is the property; an ε learned from the target's misfit, heavy tails read
            # as flips, would only inflate the effects: docs/feature-table.md)
            if getattr(d.fm, "exact_judgments", False):
                eps_f, side_f = np.zeros(len(names)), None
            else:
                eps_f, side_f = eps, side
            located = self._located(names, BA)
            findings = fit_findings(prior_mixture(BI, eps_f, side_f), None if U is None else U[iu], Y[iu], names,
                                    self.target_names or [f"y{j}" for j in range(Y.shape[1])],
                                    self.sel.error_rate, self.sel.correction, ids=[it.id for it in its],
                                    tested=None if located is None else located >= self.sel.located, located=located,
                                    screen=(prior_mixture(BA, eps_f, side_f), d.U, d.Y, self.sel.discovery_p))
            findings = widen_for_attenuation(findings, BA, side_f)
        B = np.zeros((len(items), len(names)))
        B[ia], B[iu] = BA, BI
        return {"features": names, "epsilon": eps, "B": B, "step": int(best["step"]), "findings": findings,
                "hypotheses": self._hypothesis_evidence(names, QA, d.criterion.losses(QA))}

    def _settle_cuts(self, names: list[str], BA: np.ndarray, cb: Callbacks) -> tuple[list[str], np.ndarray]:
        """The structure to be tested, each cut of a number (or phrase) moved by the FM's
        ``refine`` (the offline engine's least-squares cut, a local search:
        genz.fm.predicates.cuts; a phrase: genz.fm.predicates.phrase_refine) to where it
        explains the residual of the others (least squares on the discovery rows) best. During
        discovery only a strong feature's cut is moved (a weak one's would be fitted to the
        noise of the rows that also judge it); here every cut is, since the findings are then
        tested on rows that played no part (a cut moved to noise loses its evidence there), and
        phase 2 starts from the moved cuts (docs/offline-engine.md: measured on development
        seeds). Features the user gave are kept as given; returns the names and their judgments
        on these rows."""
        d = self.disc
        if getattr(d.fm, "refine", None) is None or not names:
            return names, BA
        names, BA = list(names), np.asarray(BA, dtype=float).copy()
        for k, old in enumerate(list(names)):
            if d.origin.get(old, "mined") != "mined":
                continue
            others, B_others = names[:k] + names[k + 1:], np.delete(BA, k, axis=1)
            moved = d.moved_cut(old, self._residual_of_others(B_others), (others, B_others))
            if moved is None:
                continue
            cb.on_selection(f"moved the cut of {old!r} to {moved[0]!r}")
            names[k], BA[:, k] = moved
            self.judged[names[k]] = BA[:, k].copy()
            d.origin[names[k]] = d.origin.pop(old, "mined")
            d.counters["settled"] = d.counters.get("settled", 0) + 1
        return names, BA

    def _located(self, names: list[str], BA: np.ndarray) -> np.ndarray | None:
        """Per feature, how well the discovery rows place its cut of a number or its phrase (the
        FM's ``locate``: the share of bootstrap resamples whose least-squares cut, or best
        neighbouring phrase, for the residual of the others is the same; 1 for any other
        feature and for the user's hypotheses and pinned features); when two or more are below
        ``Selection.located``, each of those is placed again against the residual of the placed
        features alone, and keeps the larger share. None when the FM cannot say.
        Below ``Selection.located`` a feature is a control on the untouched rows, not tested
        (docs/feature-table.md)."""
        d = self.disc
        if getattr(d.fm, "locate", None) is None or not names:
            return None
        out = np.ones(len(names))

        def share(k: int, R: np.ndarray) -> float | None:
            return d.fm.locate(names[k], d.items, R, int(d.cfg.seed) + k)

        mined = [k for k, f in enumerate(names) if d.origin.get(f, "mined") == "mined"]
        for k in mined:
            s = share(k, self._residual_of_others(np.delete(BA, k, axis=1)))
            if s is not None:
                out[k] = s
        # a crowd of unplaced cuts of the same number can hide the one that is real (each takes
        # part of its step): an unplaced feature is placed again against the residual of the
        # features that are placed (one residual for all of them), and is placed if either says so
        placed = out >= self.sel.located
        unplaced = [k for k in mined if not placed[k]]
        if len(unplaced) > 1:
            R_placed = self._residual_of_others(BA[:, placed])
            for k in unplaced:
                s = share(k, R_placed)
                if s is not None:
                    out[k] = max(out[k], s)
        return out

    def _residual_of_others(self, B_others: np.ndarray) -> np.ndarray:
        """The target's residual on the discovery rows after least squares on the other
        features' judgments ``B_others`` (and the side inputs), each column scaled to unit sd:
        what a feature's cut or phrase is placed against."""
        d = self.disc
        X = np.column_stack([np.ones(len(B_others)), B_others] + ([d.U] if d.U is not None else []))
        R = d.Y - X @ np.linalg.lstsq(X, d.Y, rcond=None)[0]
        return R / np.maximum(R.std(axis=0), 1e-12)

    def _start_phase_2(self, record: Callable[[Outcome, int], None]) -> None:
        """Phase 2 starts from phase 1's tested structure on every training row: EM there, a
        fresh schedule, the cross-validation over all rows; the findings are never removed."""
        self.disc = self._phase_2_discovery()
        p1, e = self.phase1, self.disc
        e.st = LatentState(B=p1["B"].copy(), Q=prior_mixture(p1["B"], p1["epsilon"]), eps=p1["epsilon"].copy(),
                           coupled=np.ones(len(p1["features"]), bool), hard=np.zeros(len(p1["features"]), bool))
        e.features = list(p1["features"])
        e.model.n_features_ = len(e.features)
        em = run_em(e.model, e.st, e.U, e.Y, **e.cfg.em_settings())
        e.predictor = e.predictor_for_new_items()
        self.judged = {f: e.st.B[:, k].copy() for k, f in enumerate(e.features)}
        n_f = len(e.protected)
        record(Outcome("extend", None, [em], {"reason": f"discovery goes on over all {len(e.items)} training rows "
                                                        f"from the {len(e.features)} features tested for findings "
                                                        f"({n_f} finding(s), kept)"}), 0)

    def _phase_2_discovery(self) -> Discovery:
        """A phase-2 discovery over every training row, carrying phase 1's history, counters,
        discarded descriptors and origins (its state is set by the caller)."""
        d = self.disc
        items, Y, U, _, _ = self.split
        e = Discovery(d.fm, d.cfg, items, Y, U)
        e.history, e.counters, e.discarded, e.origin = d.history, d.counters, d.discarded, d.origin
        f1 = self.phase1["findings"]
        pinned = {f for f, o in d.origin.items() if o == "pinned"}
        e.protected = set([] if f1 is None else f1.findings) | pinned
        e.rng = np.random.default_rng([int(d.cfg.seed), 2])
        e.criterion = CrossValidation(Y, U, self.sel.folds, d.cfg.seed)
        e.max_features = self.sel.max_features
        self.phase = 2
        return e

    # -- the end: the predictor --------------------------------------------------------------------
    def _select(self, cb: Callbacks, clock: dict) -> dict:
        """The predictor's structure (the best step of the last phase), refitted on every
        training row; its cross-validated gains, the calibration of predictive intervals, and the
        select step's record."""
        d, p1 = self.disc, self.phase1
        cb.on_selection("choosing the predictor's structure")
        best = self.best_record()
        names, eps = list(best["features"]), np.asarray(best["epsilon"], dtype=float)
        if self.phase == 2:
            B = self._judgments(names)
        else:  # the structure tested for findings (phase 1's best step, its cuts settled)
            names, B = list(p1["features"]), p1["B"]
        sp, folds, seed = self.split, self.sel.folds, int(d.cfg.seed)
        structure = self._structure_check()
        base = (p1["B"], p1["epsilon"])  # what the checks compare with: phase 1's structure, or what the
        base_names = list(p1["features"])  # structure check leaves of it (the findings and pinned features)
        if structure["fell_back"]:
            keep = self._findings_and_pinned(p1["features"])
            names, B, eps = [p1["features"][k] for k in keep], p1["B"][:, keep], eps[keep]
            base, base_names = (p1["B"][:, keep], p1["epsilon"][keep]), list(names)
        discovered = list(names)
        h1 = self._structure_losses  # on the untouched rows (computed by the check, or here)
        if h1 is None and sp is not None and len(sp[4]):
            h1 = holdout_losses(prior_mixture(*base), sp[2], sp[1], sp[3], sp[4], folds, seed)
        baseline, extra = self._zero_shot_check(names, B, cb, h1, prior_mixture(*base))
        numbers = None if h1 is None else numbers_check(sp[0], h1, sp[2], sp[1], sp[3], sp[4], folds, seed)  # a report
        held = None if h1 is None else text_holdout(sp[0], sp[2], sp[1], sp[3], sp[4])  # the words' ridge, fitted once
        text = None if held is None else text_check(sp[0], h1, sp[2], sp[1], sp[3], sp[4], held)  # a report
        ridge, route, U_final = self._route(h1, prior_mixture(*base), numbers, text, held)
        if ridge in ("numbers", "table"):  # Selection.numbers_route: the ridge's columns beside the findings
            kept = self._findings_and_pinned(names)
            names, B, eps, extra = [names[k] for k in kept], B[:, kept], eps[kept], None
            route["kept"] = list(names)
        if text is not None:
            text["predictor"], text["predictor_loss"] = self._route_reference(ridge, numbers, text, baseline, extra)
        tree = self._tree_blend(base, base_names, ridge, U_final, extra, held)  # Selection.tree_route
        if extra is not None:  # the zero-shot proposals join the predictor (genz.selection.UNION_SE)
            props, BZ = extra
            for j, f in enumerate(props):
                self.judged[f] = BZ[:, j] if self.phase == 2 else BZ[self.split[3], j]
                d.origin[f] = "zero-shot"
            names, B = names + props, np.hstack([B, BZ])
            eps = np.concatenate([eps, np.full(len(props), d.cfg.advanced.eps_min)])
        Q = prior_mixture(self._judgments(names), eps)
        base = d.criterion.losses(Q)
        gains = [paired(d.criterion.losses(np.delete(Q, k, axis=1)) - base) for k in range(len(names))]
        cb.on_selection("refitting on every training row")
        self.final = self._refit_all(names, B, eps, U_final)
        findings = p1["findings"]
        hyps = [dict(h, kept=h["feature"] in discovered or h["kept"] and h["note"].startswith("kept as")
                     and h["note"].split("'")[1] in discovered) for h in p1["hypotheses"]]
        self.selection = {
            "features": names, "step": int(best["step"]), "cv": best["cv"], "cv_gains": gains,
            "findings": findings, "tested": p1["features"], "origin": dict(d.origin), "hypotheses": hyps,
            "calibration": self._calibration(self.final), "baseline": baseline, "numbers": numbers, "text": text,
            "structure": None if structure["rows"] == 0 else structure, "numbers_route": route,
            "tree_route": tree,
        }
        n_f = 0 if findings is None else len(findings.findings)
        why = f"the step with the smallest cross-validated loss (step {best['step']}, {len(names)} features)"
        if route is not None:
            why = self._route_reason(route, why, len(names))
        elif structure["fell_back"]:
            why = (f"the findings and pinned features alone ({len(names)} features): phase 1's structure predicted "
                   f"the untouched rows no better than no feature (structure check)")
        if tree is not None and tree["route"]:
            parts = ([f"gradient-boosted trees on the table's {tree['columns']} numeric column(s) and {tree['levels']} "
                      f"category level(s) (share {tree['alpha']:.2f})"] if tree["alpha"] > 0 else []) + \
                ([f"a ridge on the texts' words (share {tree['words_share']:.2f})"] if tree.get("words_share") else [])
            why += (f"; and the tree route: blended with {' and '.join(parts)}, the predictions lowered the untouched "
                    f"rows' loss by {tree['gain'] / tree['loss']:.1%}")
        if findings is not None:
            why += f"; {n_f} finding(s) among {len(p1['features'])} features tested on {len(self.untouched)} untouched rows"
        out = Outcome("select", None, [self.final.last_em],
                      {"reason": why, "kept": names, "findings": [] if findings is None else findings.findings,
                       "hypotheses": hyps})
        test = None
        if self.tracker is not None:
            self.tracker.sync(self.final, cb)
            test = self.tracker.metrics(self.final)
        now = self.fm.stats.snapshot()
        rec = step_record(self.final, out, d.history[-1]["cycle"], test, time.perf_counter() - clock["t"],
                          FMStats.diff(now, clock["fm"]), now)
        rec["cv"], rec["phase"] = best["cv"], self.phase
        d.history.append(rec)
        cb.on_step_end(rec)
        return rec

    def _calibration(self, fin: Discovery) -> np.ndarray:
        """Standardised out-of-fold errors ``|y − ŷ| / sd`` (N×D) of the final structure over every
        training row (``sd`` as ``predict(return_std=True)``): the scores behind
        :meth:`genz.GenZRegressor.predict_interval`."""
        Q = fin.priors()
        P, _ = CrossValidation(fin.Y, fin.U, self.sel.folds, fin.cfg.seed).predictions(Q)
        W = np.asarray(fin.predictor.weights(), dtype=float).reshape(fin.Y.shape[1], -1)
        sd = predictive_std(fin.predictor.sigma2_, W, new_item_q(fin.st.B, fin.st.eps, fin.cfg.predictor))
        return np.abs(fin.Y - P) / sd

    def _hypothesis_evidence(self, names: list[str], QA: np.ndarray, base: np.ndarray) -> list[dict]:
        """For every user-given descriptor: its drop-one (or add-one) cross-validated gain
        against the structure tested for findings, on the discovery rows."""
        d = self.disc
        rows = []
        for f, origin in d.given:
            if f not in self.judged:
                why = next((r.get("reason") for r in d.history if r.get("feature") == f and r["action"] == "discard"), "")
                rows.append({"feature": f, "origin": origin, "kept": False, "gain": float("nan"),
                             "gain_se": float("nan"), "note": f"not usable: {why}"})
                continue
            b = self.judged[f] > 0.5
            same = [g for g in names if g != f and (np.array_equal(self.judged[g] > 0.5, b)
                                                     or np.array_equal(self.judged[g] > 0.5, ~b))]
            if same:  # e.g. removed, then its complement mined back: the hypothesis is in the model
                k = names.index(same[0])
                g, se = paired(d.criterion.losses(np.delete(QA, k, axis=1)) - base)
                d.origin[same[0]] = origin
                rows.append({"feature": f, "origin": origin, "kept": True, "gain": g, "gain_se": se,
                             "note": f"kept as the equivalent feature {same[0]!r}"})
                continue
            if f in names:
                g, se = paired(d.criterion.losses(np.delete(QA, names.index(f), axis=1)) - base)
            else:
                q = prior_mixture(self.judged[f][:, None], np.array([d.cfg.advanced.eps_init_max]))
                g, se = paired(base - d.criterion.losses(np.column_stack([QA, q])))
            rows.append({"feature": f, "origin": origin, "kept": f in names, "gain": g, "gain_se": se, "note": ""})
        return rows

    def _refit_all(self, names: list[str], B: np.ndarray, eps: np.ndarray, U_final: np.ndarray | None = None) -> Discovery:
        """The chosen structure on all training items: EM from the FM priors, then the predictor
        (with ``U_final`` as its side inputs instead of the fit's: the numbers route)."""
        d = self.disc
        items, Y, U, _, _ = self.split
        U = U if U_final is None else U_final
        fin = Discovery(d.fm, d.cfg, items, Y, U)
        fin.features, fin.origin, fin.history, fin.counters = list(names), dict(d.origin), d.history, d.counters
        eps = eps.copy()
        fin.st = LatentState(B=B, Q=prior_mixture(B, eps), eps=eps, coupled=np.ones(len(names), bool),
                             hard=np.zeros(len(names), bool))
        fin.model.n_features_ = len(names)
        fin.last_em = run_em(fin.model, fin.st, U, Y, **d.cfg.em_settings())
        fin.refined = refine_error_rates(fin.model, fin.st, U, Y, d.cfg.advanced)  # docs/noise-model.md
        fin.predictor = fin.predictor_for_new_items()
        return fin

    # -- checkpoints ---------------------------------------------------------------------------------
    def to_payload(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The complete state as JSON-able metadata plus named arrays (no pickle)."""
        d = self.disc
        mmeta, marr = d.model.get_state()
        meta = {
            "format": CHECKPOINT_FORMAT, "config": asdict(d.cfg), "features": d.features,
            "discarded": d.discarded, "step": d.step, "history": d.history, "counters": d.counters,
            "rng": d.rng.bit_generator.state, "model": mmeta, "n_items": len(d.items),
            "n_eval": len(self.tracker.items) if self.tracker else 0,
            "eval_features": self.tracker.features if self.tracker else [],
            "origin": d.origin,
            "judged_features": list(self.judged),
            "judged": dict(getattr(d.fm, "judged", None) or {}),  # discovery on a sample: candidates judged
            "phase": self.phase,
        }
        arrays = {f"model.{k}": v for k, v in marr.items()}
        arrays.update(B=d.st.B, Q=d.st.Q, eps=d.st.eps, coupled=d.st.coupled, hard=d.st.hard,
                      B_eval=self.tracker.B if self.tracker else np.zeros((0, 0)))
        arrays["judged"] = (np.column_stack(list(self.judged.values())) if self.judged
                            else np.zeros((len(d.items), 0)))
        if self.phase == 2:
            p1 = self.phase1
            f1 = p1["findings"]
            meta["phase1"] = {"features": p1["features"], "step": p1["step"], "hypotheses": p1["hypotheses"],
                              "findings": None if f1 is None else f1.to_json()}
            arrays.update(phase1_B=p1["B"], phase1_eps=p1["epsilon"])
        return meta, arrays

    def load_payload(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state saved by :meth:`to_payload` into this (freshly built) run."""
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {meta.get('format')!r} is not {CHECKPOINT_FORMAT} "
                             "(made by another genz version: start the run again with --overwrite)")
        if meta.get("phase", 1) == 2:
            p1 = meta["phase1"]
            self.phase1 = {"features": list(p1["features"]), "step": int(p1["step"]), "hypotheses": p1["hypotheses"],
                           "findings": None if p1["findings"] is None else FindingsResult.from_json(p1["findings"]),
                           "B": arrays["phase1_B"], "epsilon": arrays["phase1_eps"]}
            given = self.disc.given
            self.disc = self._phase_2_discovery()
            self.disc.given = given
        n_eval = len(self.tracker.items) if self.tracker else 0
        if meta["n_items"] != len(self.disc.items) or meta["n_eval"] != n_eval:
            raise ValueError("the checkpoint was made for a different number of items")
        d = self.disc
        d.features, d.discarded = list(meta["features"]), list(meta["discarded"])
        d.step, d.history, d.counters = int(meta["step"]), list(meta["history"]), dict(meta["counters"])
        d.rng.bit_generator.state = meta["rng"]
        d.model = observation_model_from_state(meta["model"], {k[6:]: v for k, v in arrays.items()
                                                               if k.startswith("model.")})
        d.st = LatentState(B=arrays["B"], Q=arrays["Q"], eps=arrays["eps"],
                           coupled=arrays["coupled"].astype(bool), hard=arrays["hard"].astype(bool))
        d.origin = dict(meta.get("origin", {}))
        if isinstance(getattr(d.fm, "judged", None), dict):
            d.fm.judged.update(meta.get("judged") or {})
        if self.tracker is not None:
            self.tracker.features, self.tracker.B = list(meta["eval_features"]), arrays["B_eval"]
        self.judged = {f: arrays["judged"][:, k].copy() for k, f in enumerate(meta.get("judged_features", []))}
        d.predictor = d.predictor_for_new_items()
