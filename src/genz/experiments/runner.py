"""Run an experiment: GenZ, the zero-shot baseline and the peers on the same 80/20 splits.

For each seed ``s`` the split is :func:`~genz.experiments.splits.train_test_split_indices`
``(N, s)``. GenZ runs Algorithm 4 with the test set as ``eval_set`` only to record learning
curves (the test set never influences the fit). Every method is scored on the test items with
the metrics of :mod:`genz.experiments.metrics`; the summary is mean ± std over seeds.

Honest comparisons (docs/experiments.md):

* **Seeds.** :data:`DEV_SEEDS` (100-109) are development seeds: defaults and engine settings
  are chosen by looking at them only. :data:`REPORT_SEEDS` (0-4) are run once, with the chosen
  defaults, and reported. ``parse_seeds("dev")`` / ``parse_seeds("report")`` name them.
* **Paired differences.** Per peer, the per-seed difference ``genz − peer`` of the headline
  metric on the same split, with a 95% t-interval over seeds (:func:`paired_difference`). When
  the interval covers zero the verdict is ``tie``; nothing is ever bolded.
* **Zero-shot baseline.** Its number of features is chosen on the pruning path with an
  internal held-out split of the *training* items (:func:`~genz.experiments.splits.
  inner_validation_indices`, 25%, deterministic from the seed), then that count is taken on the
  path fitted on all training items. The test-set oracle (best test point on the path) is a
  separate, labelled row (``zero-shot-oracle``) and is never compared.
* **Interval coverage.** When the estimator's ``predict`` accepts ``return_std=True``, the
  share of test targets inside the nominal 90% Gaussian interval ``mean ± 1.645 std`` is
  recorded (``coverage90``); otherwise it is ``None`` and shown as ``n/a``.
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
from ..tree_route import check_record, predictor_alone
from .splits import inner_validation_indices, train_test_split_indices

__all__ = [
    "ExperimentConfig", "run_experiment", "summarize", "print_table", "parse_seeds", "write_json",
    "paired_difference", "paired_comparisons", "markdown_table", "DEV_SEEDS", "REPORT_SEEDS",
    "interval_coverage", "environment",
]

#: development seeds: the only seeds looked at while choosing defaults and engine settings
DEV_SEEDS: list[int] = list(range(100, 110))
#: reported seeds: run once with the chosen defaults; never used to choose anything
REPORT_SEEDS: list[int] = [0, 1, 2, 3, 4]
SEED_ALIASES = {"dev": DEV_SEEDS, "report": REPORT_SEEDS}
#: share of the training items held out inside the zero-shot baseline to choose its size
ZEROSHOT_VALID_SHARE = 0.25


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


def parse_seeds(text: str, aliases: dict[str, list[int]] | None = None) -> list[int]:
    """``"0-4"`` → [0, 1, 2, 3, 4]; ``"0,2,5"`` → [0, 2, 5]; ``"3"`` → [3]; ``"dev"`` →
    :data:`DEV_SEEDS` (100-109); ``"report"`` → :data:`REPORT_SEEDS` (0-4); a benchmark with other
    development or reported seeds passes its own ``aliases``."""
    alias = (SEED_ALIASES if aliases is None else aliases).get(str(text).strip().lower())
    if alias is not None:
        return list(alias)
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
    keep = ("step", "cycle", "action", "feature", "n_features", "train", "test", "cv", "seconds", "targeted",
            "fallback", "em_not_converged")
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
            cov = None
            if _has_return_std(est):  # the test items judged once, for the metrics and the intervals
                p_te, sd_te = est.predict(ite, ute, return_std=True)
                cov = coverage(yte, p_te, sd_te, 0.9)
            else:
                p_te = est.predict(ite, ute)
            p_te = np.asarray(p_te).reshape(len(ite), -1)
            p_tr = np.asarray(est.predict(itr, utr)).reshape(len(itr), -1)
            tree = check_record(est)
            if tree and tree["route"]:  # the same fit's predictor without the tree route's blend
                tree["test_alone"] = regression_metrics(
                    yte, np.asarray(predictor_alone(est).predict(ite, ute)).reshape(len(ite), -1), cfg.kind)
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
                "zero_shot_check": getattr(est, "baseline_", None),
                "numbers_check": getattr(est, "numbers_check_", None),
                "text_check": getattr(est, "text_check_", None),
                "numbers_route": {k: v for k, v in (getattr(est, "numbers_route_", None) or {}).items()
                                  if k != "text_model"} or None,
                "tree_route": tree,
                "history": history,
            }
            methods["genz"]["coverage90"] = cov
            best = _best_in_history(history, cfg)
            if best is not None:  # a test-set look, kept for the learning-curve plots only
                methods["genz"]["best_test_in_history"] = best
        if cfg.run_zeroshot:
            say(f"seed {seed}: zero-shot baseline")
            zs, oracle = _zero_shot_heldout(make_fm, ds.task, itr, ytr, utr, ite, yte, ute, cfg, seed)
            methods["zero-shot"] = zs
            methods["zero-shot-oracle"] = oracle
        if cfg.run_peers:
            peers = houses_peers(seed) if cfg.kind == "houses" else movies_peers(minilm=cfg.minilm, random_state=seed)
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
        "platform": environment(),
    }
    result["summary"] = summarize(result)
    result["comparisons"] = paired_comparisons(result)
    return result


#: the packages whose versions change a fit's numbers (a discovery path can turn on a last digit)
NUMERIC_PACKAGES = ("numpy", "scipy", "scikit-learn", "lightgbm", "torch")


def environment() -> dict[str, Any]:
    """Python, machine and the installed versions of :data:`NUMERIC_PACKAGES`: saved with every
    result, because the same code and seeds can give other numbers under other versions
    (docs/experiments.md, "Reproducing the reported numbers")."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    for name in NUMERIC_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _zero_shot_heldout(make_fm: Callable[[], Any], task: str, itr: list, ytr: np.ndarray, utr: np.ndarray | None,
                       ite: list, yte: np.ndarray, ute: np.ndarray | None, cfg: ExperimentConfig,
                       seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The zero-shot baseline with its size chosen on held-out *training* items, and the
    test-set oracle as a separate record.

    1. Run the baseline on the fitting part of the training items, scored on the held-out part
       (:func:`~genz.experiments.splits.inner_validation_indices`, 25%); its pruning path gives
       the held-out metric for every feature count; the best count is chosen (the smallest
       among equals).
    2. Run it on all training items (scored on the test items); report the point of its
       pruning path with the chosen count (or the nearest count the path has).
    """
    from .zeroshot import zero_shot_baseline

    name, higher = cfg.primary
    fit, val = inner_validation_indices(len(itr), seed, ZEROSHOT_VALID_SHARE)
    sub = (lambda a, idx: None if a is None else a[idx])
    inner = zero_shot_baseline(
        make_fm(), task, [itr[i] for i in fit], ytr[fit], [itr[i] for i in val], ytr[val], sub(utr, fit),
        sub(utr, val), kind=cfg.kind, n_proposals=cfg.n_proposals, seed=seed,
    )  # fmt: skip
    valid_path = [(p["n_features"], p["test"][name]) for p in inner["path"]]
    sign = -1.0 if higher else 1.0
    chosen_k = min(valid_path, key=lambda kv: (sign * kv[1], kv[0]))[0]
    full = zero_shot_baseline(
        make_fm(), task, itr, ytr, ite, yte, utr, ute, kind=cfg.kind, n_proposals=cfg.n_proposals, seed=seed,
    )  # fmt: skip
    point = min(full["path"], key=lambda p: (abs(p["n_features"] - chosen_k), p["n_features"]))
    zs = {k: v for k, v in full.items() if k not in ("test", "train", "n_features", "features")}
    zs.update(
        label=f"zero-shot (size chosen on {ZEROSHOT_VALID_SHARE:.0%} held-out training items)",
        test=point["test"], train=point["train"], n_features=point["n_features"],
        selection={"valid_share": ZEROSHOT_VALID_SHARE, "valid_path": [{"n_features": k, name: v} for k, v in valid_path],
                   "chosen_n_features": chosen_k},
        fm_calls=int(full.get("fm_calls", 0)) + int(inner.get("fm_calls", 0)),
        seconds=float(full.get("seconds", 0.0)) + float(inner.get("seconds", 0.0)),
    )  # fmt: skip
    oracle = {
        "label": "zero-shot test-set oracle (best test point on its path; not compared)",
        "test": full["test"], "train": full["train"], "n_features": full["n_features"],
        "features": full.get("features"), "fm_calls": 0, "seconds": 0.0, "oracle": True,
    }  # fmt: skip
    return zs, oracle


def interval_coverage(est: Any, items: Sequence[Any], U: np.ndarray | None, Y: np.ndarray,
                      level: float = 0.9) -> float | None:
    """Share of the targets ``Y`` (every item and dimension) inside the estimator's nominal
    ``level`` Gaussian predictive interval ``mean ± z·std`` from ``predict(..., return_std=True)``;
    ``None`` when the estimator has no ``return_std``."""
    if not _has_return_std(est):
        return None
    mean, std = est.predict(items, U, return_std=True)
    return coverage(Y, mean, std, level)


def _has_return_std(est: Any) -> bool:
    import inspect

    try:
        return "return_std" in inspect.signature(est.predict).parameters
    except (TypeError, ValueError):
        return False


def coverage(Y: np.ndarray, mean: np.ndarray, std: np.ndarray, level: float = 0.9) -> float:
    """Share of ``Y`` (every item and dimension) inside ``mean ± z·std``, the nominal ``level``
    Gaussian interval."""
    from scipy.stats import norm

    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    n = len(Y)
    mean = np.asarray(mean, dtype=float).reshape(n, -1)
    std = np.asarray(std, dtype=float).reshape(n, -1)
    z = float(norm.ppf(0.5 + level / 2))
    return float(np.mean(np.abs(Y - mean) <= z * std))


def paired_difference(a: Sequence[float], b: Sequence[float], higher_is_better: bool,
                      level: float = 0.95) -> dict[str, Any]:
    """Per-seed differences ``d = a − b`` (same splits), their mean and a ``level`` t-interval
    ``mean ± t_{n−1} · sd/√n``. The verdict is ``"tie"`` when the interval covers zero,
    otherwise ``"better"``/``"worse"`` for ``a`` (by ``higher_is_better``); ``"n/a"`` with
    fewer than 2 seeds."""
    from scipy.stats import t as student_t

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    out: dict[str, Any] = {"n": n, "diffs": d.tolist(), "mean": float(d.mean()) if n else float("nan"),
                           "low": None, "high": None, "verdict": "n/a"}  # fmt: skip
    if n < 2:
        return out
    half = float(student_t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    lo, hi = out["mean"] - half, out["mean"] + half
    out.update(low=lo, high=hi)
    if lo <= 0.0 <= hi:
        out["verdict"] = "tie"
    else:
        out["verdict"] = "better" if (lo > 0) == higher_is_better else "worse"
    return out


def paired_comparisons(result: dict[str, Any], reference: str = "genz") -> dict[str, Any]:
    """For every method but ``reference`` and test-set oracles: the paired per-seed difference
    ``reference − method`` of the headline metric with its 95% t-interval and verdict."""
    kind = result["experiment"]
    name, higher = ("median_ae", False) if kind == "houses" else ("cosine", True)
    out: dict[str, Any] = {}
    methods: list[str] = []
    for rec in result["seeds"]:
        methods += [m for m in rec["methods"] if m not in methods]
    for m in methods:
        if m == reference:
            continue
        pairs = [(rec["methods"][reference]["test"][name], rec["methods"][m]["test"][name])
                 for rec in result["seeds"] if reference in rec["methods"] and m in rec["methods"]
                 and not rec["methods"][m].get("oracle")]  # fmt: skip
        if not pairs:
            continue
        a, b = zip(*pairs)
        out[m] = {"metric": name, **paired_difference(a, b, higher)}
    return out


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
            "coverage90": _mean_std([r.get("coverage90") for r in runs]),
            "oracle": bool(runs[0].get("oracle", False)),
        }
    return out


def _fmt(ms: dict[str, float], digits: int = 3, pct: bool = False) -> str:
    if ms["n"] == 0:
        return "–"
    if pct:
        return f"{100 * ms['mean']:.1f}% ± {100 * ms['std']:.1f}"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def _fmt_diff(c: dict[str, Any] | None, digits: int = 3) -> tuple[str, str]:
    """``(difference with interval, verdict)`` cells of a paired comparison."""
    if not c or c["n"] == 0:
        return "–", "–"
    if c["low"] is None:
        return f"{c['mean']:+.{digits}f} (1 seed)", "n/a"
    verdict = {"better": "genz better", "worse": "genz worse"}.get(c["verdict"], c["verdict"])
    return f"{c['mean']:+.{digits}f} [{c['low']:+.{digits}f}, {c['high']:+.{digits}f}]", verdict


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (also used for the README/docs tables).

    One row per method: the headline test metric (mean ± std over seeds), the paired per-seed
    difference genz − method with its 95% t-interval and a verdict (``tie`` when the interval
    covers zero), the number of features, the measured coverage of nominal 90% predictive
    intervals (``n/a`` where the method has none), FM calls and seconds. Test-set oracles are
    labelled rows without a comparison. No cell is ever emphasised."""
    kind = result["experiment"]
    comps = result.get("comparisons") or paired_comparisons(result)
    if kind == "houses":
        header = ["method", "test median |Δ log price|", "median rel. error",
                  "genz − method (paired, 95% CI)", "verdict", "features", "90% coverage", "FM calls", "seconds"]  # fmt: skip
    else:
        header = ["method", "test cosine", "genz − method (paired, 95% CI)", "verdict", "features",
                  "90% coverage", "FM calls", "seconds"]  # fmt: skip
    rows = []
    for name, s in result["summary"].items():
        feats = "–" if s["n_features"]["n"] == 0 else f"{s['n_features']['mean']:.1f}"
        calls = f"{s['fm_calls']['mean']:.0f}"
        secs = f"{s['seconds']['mean']:.1f}"
        cov_ms = s.get("coverage90") or {"n": 0}
        cov = "n/a" if cov_ms["n"] == 0 else f"{100 * cov_ms['mean']:.1f}%"
        label = s["label"] if name == "genz" or s.get("oracle") else name
        if name == "genz":
            diff, verdict = "(reference)", "–"
        elif s.get("oracle"):
            diff, verdict = "not compared", "oracle"
        else:
            diff, verdict = _fmt_diff(comps.get(name))
        if kind == "houses":
            rows.append([label, _fmt(s["test"]["median_ae"]), _fmt(s["test"]["median_rel"], pct=True),
                         diff, verdict, feats, cov, calls, secs])  # fmt: skip
        else:
            rows.append([label, _fmt(s["test"]["cosine"]), diff, verdict, feats, cov, calls, secs])
    return header, rows


def _seed_note(result: dict[str, Any]) -> str:
    seeds = [r["seed"] for r in result["seeds"]]
    if seeds and all(s in DEV_SEEDS for s in seeds):
        return f"development seeds {seeds} (for choosing defaults; not for reporting)"
    if seeds and set(seeds) <= set(REPORT_SEEDS):
        return f"reported seeds {seeds} (run once; defaults chosen on development seeds 100-109)"
    return f"seeds {seeds}"


def print_table(result: dict[str, Any], console: Any = None) -> None:
    """Print the results table with rich (no emphasis on any cell)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=160)
    header, rows = table_rows(result)
    title = (
        f"{result['dataset']} ({result['n_items']} items): mean ± std over {_seed_note(result)}, "
        f"80/20 splits"
    )
    table = Table(title=title)
    for h in header:
        table.add_column(h, justify="left" if h == "method" else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    for name, s in result["summary"].items():
        if name != "genz" and not s.get("oracle"):
            console.print(f"  {name}: {s['label']}", highlight=False, markup=False)
    console.print("  genz − method: per-seed difference of the test metric on the same split, mean and 95% "
                  "t-interval over seeds; 'tie' when the interval covers zero.", highlight=False, markup=False)


def markdown_table(result: dict[str, Any]) -> str:
    """The results table as Markdown, preceded by a line naming the seeds (nothing bolded)."""
    header, rows = table_rows(result)
    lines = [f"{result['dataset']}: mean ± std over {_seed_note(result)}.", "",
             "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
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
