"""Run an experiment: GenZ, the zero-shot baseline and the peers on the same 80/20 splits.

For each seed ``s`` the split is :func:`~genz.experiments.splits.train_test_split_indices`
``(N, s)``. GenZ runs Algorithm 4 with the paper's schedule (cycles of +5/−2 with targeted
additions) and the test set as ``eval_set``, so its history holds the learning curves (train
and test metric after every step). Every method is scored on the test items with the metrics
of :mod:`genz.experiments.metrics`; the summary is mean ± std over seeds.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..errors import GenZInputError
from ..metrics import regression_metrics
from .splits import train_test_split_indices

__all__ = ["ExperimentConfig", "run_experiment", "summarize", "print_table", "parse_seeds", "write_json"]


@dataclass
class ExperimentConfig:
    """What to run. ``kind`` is ``"houses"`` or ``"movies"``; ``genz_params`` go to
    :class:`genz.GenZRegressor` (on top of ``model``, ``cycles``, ``add``/``remove``)."""

    kind: str
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    fm: str = "predicates"
    model: str = "linear"
    cycles: int = 12
    add_per_cycle: int = 5
    remove_per_cycle: int = 2
    algorithm: str = "targeted"
    test_frac: float = 0.2
    run_genz: bool = True
    run_zeroshot: bool = True
    run_peers: bool = True
    minilm: bool = True
    n_proposals: int = 50
    genz_params: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> tuple[str, bool]:
        return ("median_ae", False) if self.kind == "houses" else ("cosine", True)


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` → [0, 1, 2, 3, 4]; ``"0,2,5"`` → [0, 2, 5]; ``"3"`` → [3]."""
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise GenZInputError(f"--seeds {text!r}: expected a range like 0-4 or a list like 0,1,2") from None
    if not out or any(s < 0 for s in out):
        raise GenZInputError(f"--seeds {text!r}: expected non-negative seeds")
    return list(dict.fromkeys(out))


def _slim_history(history: Sequence[dict]) -> list[dict]:
    keep = ("step", "cycle", "action", "feature", "n_features", "train", "test", "seconds", "targeted", "fallback")
    out = []
    for rec in history:
        r = {k: rec.get(k) for k in keep if k in rec}
        fm = rec.get("fm") or {}
        r["fm_calls"] = int(sum((fm.get("calls") or {}).values())) if isinstance(fm, dict) else 0
        out.append(r)
    return out


def _make_genz(cfg: ExperimentConfig, seed: int, fm: Any) -> Any:
    from ..estimator import GenZRegressor

    params = dict(
        fm=fm,
        model=cfg.model,
        algorithm=cfg.algorithm,
        cycles=cfg.cycles,
        add_per_cycle=cfg.add_per_cycle,
        remove_per_cycle=cfg.remove_per_cycle,
        random_state=seed,
    )
    params.update(cfg.genz_params)
    return GenZRegressor(**params)


def run_experiment(
    ds: Dataset,
    cfg: ExperimentConfig,
    *,
    make_fm: Callable[[], Any] | None = None,
    make_estimator: Callable[[int, Any], Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``cfg`` on ``ds``; returns a JSON-able dict with per-seed results and a summary.

    ``make_fm()`` builds a fresh foundation model (default: ``genz.make_fm(cfg.fm)``), one per
    seed and method, so FM-call counts are per run. ``make_estimator(seed, fm)`` builds the
    GenZ estimator (default: :class:`genz.GenZRegressor` with the config's schedule)."""
    from .peers import houses_peers, movies_peers
    from .zeroshot import zero_shot_baseline

    if cfg.kind not in ("houses", "movies"):
        raise GenZInputError(f"experiment kind must be 'houses' or 'movies', not {cfg.kind!r}")
    if make_fm is None:
        from ..estimator import make_fm as _make_fm

        def make_fm() -> Any:
            return _make_fm(cfg.fm)

    if make_estimator is None:

        def make_estimator(seed: int, fm: Any) -> Any:
            return _make_genz(cfg, seed, fm)

    say = progress or (lambda msg: None)
    per_seed: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        tr, te = train_test_split_indices(len(ds), seed, cfg.test_frac)
        itr, ytr, utr = ds.subset(tr)
        ite, yte, ute = ds.subset(te)
        methods: dict[str, dict[str, Any]] = {}
        rec: dict[str, Any] = {"seed": seed, "n_train": len(tr), "n_test": len(te), "methods": methods}
        if cfg.run_genz:
            say(f"seed {seed}: genz ({cfg.model}, {cfg.fm})")
            fm = make_fm()
            est = make_estimator(seed, fm)
            y_fit = ytr[:, 0] if ytr.shape[1] == 1 else ytr
            y_ev = yte[:, 0] if yte.shape[1] == 1 else yte
            t0 = time.perf_counter()
            if utr is not None:
                est.fit(itr, y_fit, utr, eval_set=(ite, y_ev, ute))
            else:
                est.fit(itr, y_fit, eval_set=(ite, y_ev))
            seconds = time.perf_counter() - t0
            p_te = np.asarray(est.predict(ite, ute)).reshape(len(ite), -1)
            p_tr = np.asarray(est.predict(itr, utr)).reshape(len(itr), -1)
            stats = getattr(est, "fm_stats_", {}) or {}
            history = _slim_history(getattr(est, "history_", []))
            methods["genz"] = {
                "label": f"genz ({cfg.model}, {cfg.fm})",
                "test": regression_metrics(yte, p_te, cfg.kind),
                "train": regression_metrics(ytr, p_tr, cfg.kind),
                "n_features": len(est.features_),
                "features": list(est.features_),
                "epsilon": [float(e) for e in getattr(est, "epsilon_", [])],
                "fm_calls": int(stats.get("total_calls", sum((stats.get("calls") or {}).values()))),
                "fm_stats": stats,
                "seconds": seconds,
                "history": history,
            }
            best = _best_in_history(history, cfg)
            if best is not None:
                methods["genz"]["best_test_in_history"] = best
        if cfg.run_zeroshot:
            say(f"seed {seed}: zero-shot baseline")
            zs = zero_shot_baseline(
                make_fm(), ds.task, itr, ytr, ite, yte, utr, ute,
                kind=cfg.kind, n_proposals=cfg.n_proposals, seed=seed,
            )  # fmt: skip
            zs["label"] = "zero-shot (best test on pruning path)"
            methods["zero-shot"] = zs
        if cfg.run_peers:
            peers = houses_peers(seed) if cfg.kind == "houses" else movies_peers(minilm=cfg.minilm)
            for peer in peers:
                say(f"seed {seed}: peer {peer.name}")
                t0 = time.perf_counter()
                peer.fit(itr, ytr, utr)
                p_te = np.asarray(peer.predict(ite, ute)).reshape(len(ite), -1)
                p_tr = np.asarray(peer.predict(itr, utr)).reshape(len(itr), -1)
                methods[peer.name] = {
                    "label": peer.description,
                    "test": regression_metrics(yte, p_te, cfg.kind),
                    "train": regression_metrics(ytr, p_tr, cfg.kind),
                    "n_features": None,
                    "fm_calls": 0,
                    "seconds": time.perf_counter() - t0,
                }
        per_seed.append(rec)
    result = {
        "experiment": cfg.kind,
        "dataset": ds.name,
        "n_items": len(ds),
        "config": asdict(cfg),
        "dataset_info": {k: v for k, v in ds.extra.items() if isinstance(v, (int, float, str))},
        "side_inputs": list(ds.side_input_names),
        "seeds": per_seed,
        "platform": {"python": platform.python_version(), "machine": platform.machine()},
    }
    result["summary"] = summarize(result)
    return result


def _best_in_history(history: list[dict], cfg: ExperimentConfig) -> dict | None:
    name, higher = cfg.primary
    steps = [h for h in history if h.get("test") and h["test"].get(name) is not None]
    if not steps:
        return None
    best = max(steps, key=lambda h: h["test"][name]) if higher else min(steps, key=lambda h: h["test"][name])
    return {"step": best.get("step"), "n_features": best.get("n_features"), "test": best["test"]}


def _mean_std(values: list[float]) -> dict[str, float]:
    a = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], dtype=float)
    if a.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    return {"mean": float(a.mean()), "std": float(a.std()), "n": int(a.size)}


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Mean ± std over seeds of every method's test and train metrics, features, FM calls, time."""
    names: list[str] = []
    for rec in result["seeds"]:
        for m in rec["methods"]:
            if m not in names:
                names.append(m)
    out: dict[str, Any] = {}
    for m in names:
        runs = [rec["methods"][m] for rec in result["seeds"] if m in rec["methods"]]
        metrics = list(runs[0]["test"].keys())
        out[m] = {
            "label": runs[0].get("label", m),
            "test": {k: _mean_std([r["test"][k] for r in runs]) for k in metrics},
            "train": {k: _mean_std([r["train"][k] for r in runs]) for k in metrics},
            "n_features": _mean_std([r.get("n_features") for r in runs]),
            "fm_calls": _mean_std([r.get("fm_calls", 0) for r in runs]),
            "seconds": _mean_std([r.get("seconds", 0.0) for r in runs]),
        }
    return out


def _fmt(ms: dict[str, float], digits: int = 3, pct: bool = False) -> str:
    if ms["n"] == 0:
        return "–"
    if pct:
        return f"{100 * ms['mean']:.1f}% ± {100 * ms['std']:.1f}"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (also used for the README/docs tables)."""
    kind = result["experiment"]
    if kind == "houses":
        header = ["method", "test median |Δ log price|", "test median rel. error", "train median |Δ|",
                  "features", "FM calls", "seconds"]  # fmt: skip
    else:
        header = ["method", "test cosine", "train cosine", "features", "FM calls", "seconds"]
    rows = []
    for name, s in result["summary"].items():
        feats = "–" if s["n_features"]["n"] == 0 else f"{s['n_features']['mean']:.1f}"
        calls = f"{s['fm_calls']['mean']:.0f}"
        secs = f"{s['seconds']['mean']:.1f}"
        label = s["label"] if name == "genz" else name
        if kind == "houses":
            rows.append([label, _fmt(s["test"]["median_ae"]), _fmt(s["test"]["median_rel"], pct=True),
                         _fmt(s["train"]["median_ae"]), feats, calls, secs])  # fmt: skip
        else:
            rows.append([label, _fmt(s["test"]["cosine"]), _fmt(s["train"]["cosine"]), feats, calls, secs])
    return header, rows


def print_table(result: dict[str, Any], console: Any = None) -> None:
    """Print the results table with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=140)
    header, rows = table_rows(result)
    seeds = [r["seed"] for r in result["seeds"]]
    title = (
        f"{result['dataset']} ({result['n_items']} items): mean ± std over seeds {seeds}, "
        f"80/20 splits"
    )
    table = Table(title=title)
    for h in header:
        table.add_column(h, justify="left" if h == "method" else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    for name, s in result["summary"].items():
        if name != "genz":
            console.print(f"  {name}: {s['label']}", highlight=False, markup=False)


def markdown_table(result: dict[str, Any]) -> str:
    """The results table as Markdown."""
    header, rows = table_rows(result)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        x = float(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write the result as JSON (atomically; NaN as null, infinities as strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(result), indent=1, ensure_ascii=False))
    tmp.replace(path)
    return path
