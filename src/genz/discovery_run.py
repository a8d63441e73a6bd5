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


class DiscoveryRun:
    """A discovery run with its history, optional evaluation set and checkpoints."""

    def __init__(self, disc: Discovery, eval_set: tuple | None = None, y_1d: bool = False) -> None:
        self.disc = disc
        self.tracker = EvalTracker(*eval_set) if eval_set is not None else None
        self.y_1d = y_1d

    # the attributes run directories read
    fm = property(lambda self: self.disc.fm)
    items = property(lambda self: self.disc.items)
    Y = property(lambda self: self.disc.Y)
    U = property(lambda self: self.disc.U)
    history = property(lambda self: self.disc.history)
    done = property(lambda self: self.disc.done)

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
            self.disc.history.append(rec)
            cb.on_step_end(rec)
            if on_step is not None:
                on_step(self, rec)
            clock.update(t=time.perf_counter(), fm=self.fm.stats.snapshot())

        self.disc.algorithm_4(cb, record)

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
        }
        arrays = {f"model.{k}": v for k, v in marr.items()}
        arrays.update(B=d.st.B, Q=d.st.Q, eps=d.st.eps, coupled=d.st.coupled, hard=d.st.hard,
                      B_eval=self.tracker.B if self.tracker else np.zeros((0, 0)))
        return meta, arrays

    def load_payload(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state saved by :meth:`to_payload` into this (freshly built) run."""
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {meta.get('format')!r} is not {CHECKPOINT_FORMAT} "
                             "(made by another genz version: start the run again with --overwrite)")
        n_eval = len(self.tracker.items) if self.tracker else 0
        if meta["n_items"] != len(self.items) or meta["n_eval"] != n_eval:
            raise ValueError("the checkpoint was made for a different number of items")
        d = self.disc
        d.features, d.discarded = list(meta["features"]), list(meta["discarded"])
        d.step, d.history, d.counters = int(meta["step"]), list(meta["history"]), dict(meta["counters"])
        d.rng.bit_generator.state = meta["rng"]
        d.model = observation_model_from_state(meta["model"], {k[6:]: v for k, v in arrays.items()
                                                               if k.startswith("model.")})
        d.st = LatentState(B=arrays["B"], Q=arrays["Q"], eps=arrays["eps"],
                           coupled=arrays["coupled"].astype(bool), hard=arrays["hard"].astype(bool))
        if self.tracker is not None:
            self.tracker.features, self.tracker.B = list(meta["eval_features"]), arrays["B_eval"]
        d.predictor = d.predictor_for_new_items()
