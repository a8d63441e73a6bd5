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
from .selection import HeldOut
from .fm.base import FMStats
from .inference import LatentState, bound
from .items import Item
from .metrics import regression_metrics
from .observation import observation_model_from_state

__all__ = ["DiscoveryRun", "EvalTracker", "step_record"]

CHECKPOINT_FORMAT = "genz-discovery/2"


class EvalTracker:
    """The user's evaluation set: its judgments for the current features and its metrics."""

    def __init__(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None) -> None:
        self.items, self.Y, self.U = list(items), Y, U
        self.features: list[str] = []
        self.B = np.zeros((len(self.items), 0))

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
        return regression_metrics(self.Y, disc.predictor.predict(Q, self.U))


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


def _equivalent(h: HeldOut, a: int, b: int) -> bool:
    """Whether features a and b have the same (or complementary) judgments on every item."""
    x = np.concatenate([h.bA[:, a], h.bV[:, a]]) > 0.5
    y = np.concatenate([h.bA[:, b], h.bV[:, b]]) > 0.5
    return bool(np.array_equal(x, y) or np.array_equal(x, ~y))


class DiscoveryRun:
    """A discovery run with its history, optional evaluation set, optional held-out selection
    (:mod:`genz.selection`) and checkpoints.

    ``split=(items, Y, U, idx_fit, idx_valid)``: all training items and which of them the
    algorithm sees (``disc`` is built on ``idx_fit``) and which are held out; after the
    schedule the structure is chosen on the held-out items and refitted on all of them.
    ``sample=(items, Y, U, idx)``: discovery runs on a sample (``discovery_sample``) of these
    items; the estimator judges the final features on all of them afterwards."""

    def __init__(self, disc: Discovery, eval_set: tuple | None = None, y_1d: bool = False,
                 split: tuple | None = None, target_names: Sequence[str] | None = None,
                 sample: tuple | None = None) -> None:
        self.disc = disc
        self.sample = sample
        self.tracker = EvalTracker(*eval_set) if eval_set is not None else None
        self.y_1d = y_1d
        self.target_names = list(target_names) if target_names is not None else None
        self.split = split
        self.heldout = None
        self.final: Discovery | None = None  # the chosen structure refitted on all training items
        self.selection: dict | None = None
        if split is not None:
            items, Y, U, ia, iv = split
            self.heldout = HeldOut([items[i] for i in iv], Y[iv], None if U is None else U[iv], Y[ia],
                                   None if U is None else U[ia], parts=getattr(disc.fm, "parts", None))
            disc.heldout = self.heldout

    # the attributes run directories read (all training items)
    fm = property(lambda self: self.disc.fm)
    items = property(lambda self: self.split[0] if self.split else self.disc.items)
    Y = property(lambda self: self.split[1] if self.split else self.disc.Y)
    U = property(lambda self: self.split[2] if self.split else self.disc.U)
    history = property(lambda self: self.disc.history)
    done = property(lambda self: self.disc.done)
    result = property(lambda self: self.final if self.final is not None else self.disc)

    def run(self, callbacks: Any = None, on_step: Callable[["DiscoveryRun", dict], None] | None = None) -> None:
        """Run the rest of Algorithm 4, recording each step; ``on_step(self, record)`` after each."""
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
            if self.heldout is not None:
                self.heldout.sync(self.disc)
                rec["valid"] = self.heldout.summary(self.disc.features)
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
        if self.heldout is not None:
            rec = self._select(cb, clock)
            if done_select is not None:
                self.disc.history[-1] = done_select
            elif on_step is not None:
                on_step(self, rec)

    PATIENCE = 2  # cycles: one cycle's removals pay off only with the next cycle's additions

    def _maybe_stop(self, rec: dict) -> None:
        """Early stop: when the last ``PATIENCE`` whole cycles brought no new best held-out
        loss, the schedule ends (checked at the end of each cycle)."""
        d = self.disc
        if d.done or d.step == 0 or d.plan[d.step - 1][1] == "given" or d.plan[d.step][0] == d.plan[d.step - 1][0]:
            return
        cycle = d.plan[d.step - 1][0]
        first = cycle - self.PATIENCE + 1
        past = [r for r in d.history if "valid" in r] + [rec]
        before = [r["valid"]["loss"] for r in past if r["cycle"] < first or r["action"] == "init"]
        during = [r["valid"]["loss"] for r in past if r["cycle"] >= first and r["action"] != "init"]
        if first >= 0 and before and min(during) >= min(before):
            d.step = len(d.plan)
            rec["stopped_early"] = f"cycles {first + 1}-{cycle + 1} brought no held-out gain"

    def _select(self, cb: Callbacks, clock: dict) -> dict:
        """Choose the structure on the held-out items, prune it, estimate its effects with
        bootstrap intervals, and refit it on all training items (see :mod:`genz.selection`)."""
        d, h = self.disc, self.heldout
        paths = list({tuple(h.cols_of(r["features"])): None for r in d.history if "valid" in r})
        paths = [list(p) for p in paths]
        pinned = {h.names.index(f) for f, o in d.origin.items() if o == "pinned" and f in h.names}
        chosen = h.choose(paths)
        final = h.prune(chosen, pinned)
        adv = d.cfg.advanced
        self.selection = {
            "names": list(h.names), "chosen": chosen, "final": final, "threshold": h.threshold(),
            "gains": [h.gain(final, c) for c in final], "effects": h.effects(final) if final else None,
            "boot": h.bootstrap(paths, final, pinned, adv.n_bootstrap, d.cfg.seed) if final else None,
            "origin": dict(d.origin), "hypotheses": self._hypothesis_evidence(final),
            "calibration": h.standardized_residuals(final),
        }
        self.final = self._refit_all([h.names[c] for c in final], final)
        out = Outcome("select", None, [self.final.last_em],
                      {"reason": f"held-out choice of {len(chosen)} features, {len(final)} kept after pruning",
                       "chosen": [h.names[c] for c in chosen], "kept": [h.names[c] for c in final],
                       "hypotheses": self.selection["hypotheses"]})
        test = None
        if self.tracker is not None:
            self.tracker.sync(self.final, cb)
            test = self.tracker.metrics(self.final)
        now = self.fm.stats.snapshot()
        rec = step_record(self.final, out, d.history[-1]["cycle"], test, time.perf_counter() - clock["t"],
                          FMStats.diff(now, clock["fm"]), now)
        rec["valid"] = h.summary([h.names[c] for c in final])
        d.history.append(rec)
        cb.on_step_end(rec)
        return rec

    def _hypothesis_evidence(self, final: list[int]) -> list[dict]:
        """For every user-given descriptor: its held-out gain in (or added to) the final set."""
        d, h = self.disc, self.heldout
        rows = []
        for f, origin in d.given:
            if f not in h.names:
                why = next((r.get("reason") for r in d.history if r.get("feature") == f and r["action"] == "discard"), "")
                rows.append({"feature": f, "origin": origin, "kept": False, "gain": float("nan"),
                             "gain_se": float("nan"), "note": f"not usable: {why}"})
                continue
            j = h.names.index(f)
            same = [c for c in final if c != j and _equivalent(h, c, j)]
            if same:  # e.g. removed, then its complement mined back: the hypothesis is in the model
                g, se = h.gain(final, same[0])
                d.origin[h.names[same[0]]] = origin
                rows.append({"feature": f, "origin": origin, "kept": True, "gain": g, "gain_se": se,
                             "note": f"kept as the equivalent feature {h.names[same[0]]!r}"})
                continue
            g, se = h.gain(final, j) if j in final else h.gain(final + [j], j)
            rows.append({"feature": f, "origin": origin, "kept": j in final, "gain": g, "gain_se": se, "note": ""})
        return rows

    def _refit_all(self, names: list[str], cols: list[int]) -> Discovery:
        """The chosen structure on all training items: EM from the FM priors, then the predictor."""
        from .error_rates import refine_error_rates
        from .inference import LatentState, prior_mixture, run_em

        d, h = self.disc, self.heldout
        items, Y, U, ia, iv = self.split
        B = np.zeros((len(items), len(cols)))
        B[ia], B[iv] = h.bA[:, cols], h.bV[:, cols]
        eps = h.eps[cols].copy()
        fin = Discovery(d.fm, d.cfg, items, Y, U)
        fin.features, fin.origin, fin.history, fin.counters = list(names), dict(d.origin), d.history, d.counters
        fin.st = LatentState(B=B, Q=prior_mixture(B, eps), eps=eps, coupled=np.ones(len(cols), bool),
                             hard=np.zeros(len(cols), bool))
        fin.model.n_features_ = len(cols)
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
            "heldout_features": self.heldout.names if self.heldout else [],
            "judged": dict(getattr(d.fm, "judged", None) or {}),  # discovery on a sample: candidates judged
        }
        arrays = {f"model.{k}": v for k, v in marr.items()}
        arrays.update(B=d.st.B, Q=d.st.Q, eps=d.st.eps, coupled=d.st.coupled, hard=d.st.hard,
                      B_eval=self.tracker.B if self.tracker else np.zeros((0, 0)))
        if self.heldout is not None:
            arrays.update(heldout_bA=self.heldout.bA, heldout_bV=self.heldout.bV, heldout_eps=self.heldout.eps)
        return meta, arrays

    def load_payload(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state saved by :meth:`to_payload` into this (freshly built) run."""
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {meta.get('format')!r} is not {CHECKPOINT_FORMAT} "
                             "(made by another genz version: start the run again with --overwrite)")
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
        if self.heldout is not None:
            h = self.heldout
            h.names, h.bA, h.bV, h.eps = list(meta["heldout_features"]), arrays["heldout_bA"], arrays["heldout_bV"], arrays["heldout_eps"]
        d.predictor = d.predictor_for_new_items()
