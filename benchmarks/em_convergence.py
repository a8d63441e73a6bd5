"""Does EM converge in every phase of a default fit? Phases, iterations and EM time per experiment.

    python benchmarks/em_convergence.py houses --data /work/shared/data/houses [--seeds 100]
    python benchmarks/em_convergence.py movies --data /work/shared/data/movielens-1m [--seeds 100]
    python benchmarks/em_convergence.py planted [--seeds 100-101] [--tasks attributes,text,multi,mixed]
    python benchmarks/em_convergence.py houses --data DIR --json out.json   # every phase as JSON

Each runs the experiment's **default** GenZ fit (houses and movies: the settings of
``genz experiment``, GenZ only; planted: ``GenZRegressor()`` as ``benchmarks/planted.py`` fits
it) with :func:`genz.inference.run_em` instrumented, and prints per fit: EM phases (the phases
a user's history and ``genz fit`` count), how many stopped at ``max_iter`` without converging,
iterations (median, 90th percentile, maximum), seconds inside EM and seconds of the whole fit.
Brief refits that are capped by design (Algorithm 3's removal scores, ``max_iter`` of 3) are
counted apart as ``capped``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import genz.discovery as _disc
import genz.discovery_run as _run
import genz.inference as _inf

ROOT = Path(__file__).resolve().parent

_LOG: list[dict] = []


def _instrument(over: dict) -> None:
    """Wrap run_em where discovery calls it (with the keyword arguments ``over``, e.g. the
    paper's ``eps_update="em"``); every call appends a record to ``_LOG``."""
    orig = _inf.run_em

    def run_em(model, st, U, Y, **kw):
        t0 = time.perf_counter()
        res = orig(model, st, U, Y, **{**kw, **over})
        _LOG.append({
            "iterations": res.iterations, "converged": bool(res.converged), "seconds": time.perf_counter() - t0,
            "max_iter": kw.get("max_iter", 100), "K": int(st.K), "decoupled": bool(st.K and not st.coupled.all()),
            "model": type(model).__name__, "last_dq": getattr(res, "last_dq", None),
            "last_rel": getattr(res, "last_rel", None), "last_deps": getattr(res, "last_deps", None),
            "tail": [float(b) for b in res.bounds[-5:]],
        })
        return res

    _inf.run_em = run_em
    for mod in (_disc, _run):  # the modules that imported run_em by name
        if hasattr(mod, "run_em"):
            mod.run_em = run_em


def _summary(log: list[dict], seconds: float) -> dict[str, Any]:
    full = [r for r in log if r["max_iter"] > 3]
    capped = [r for r in log if r["max_iter"] <= 3]
    its = sorted(r["iterations"] for r in full) or [0]
    return {
        "phases": len(full), "not_converged": sum(not r["converged"] for r in full),
        "iter_median": statistics.median(its), "iter_p90": float(np.percentile(its, 90)), "iter_max": max(its),
        "iterations": int(sum(its)), "em_seconds": sum(r["seconds"] for r in full),
        "capped": len(capped), "capped_seconds": sum(r["seconds"] for r in capped),
        "fit_seconds": seconds,
        "not_converged_kinds": sorted({("decoupled" if r["decoupled"] else "coupled") + f" K={r['K']}"
                                       for r in full if not r["converged"]}),
    }


def _print(label: str, s: dict) -> None:
    print(f"{label:<22} phases {s['phases']:4d}  not converged {s['not_converged']:3d}  iterations median "
          f"{s['iter_median']:5.1f} p90 {s['iter_p90']:5.1f} max {s['iter_max']:4d} (total {s['iterations']:6d})  "
          f"EM {s['em_seconds']:6.1f} s  fit {s['fit_seconds']:6.1f} s  (+{s['capped']} capped refits, "
          f"{s['capped_seconds']:.1f} s)", flush=True)


def _experiment(kind: str, data: str, seeds: list[int], fmt: str | None, model: str) -> list[tuple[str, dict]]:
    from genz.commands.experiment import _config
    from genz.experiments.runner import run_experiment
    from genz.fm.registry import make_fm

    if kind == "houses":
        from genz.datasets.houses import load_houses

        ds = load_houses(data)
    else:
        from genz.datasets.movies import load_movies

        ds = load_movies(data, fmt or "auto", n_items=512, dim=32, convention="V")
    out = []
    for seed in seeds:
        cfg = _config(kind, seeds=str(seed), fm="predicates", model=model, cycles=None, add_per_cycle=5,
                      remove_per_cycle=2, no_genz=False, no_zeroshot=True, no_peers=True,
                      **({"minilm": False} if kind == "movies" else {}))
        _LOG.clear()
        t0 = time.perf_counter()
        run_experiment(ds, cfg, progress=None, make_fm=lambda: make_fm("predicates"))
        s = _summary(list(_LOG), time.perf_counter() - t0)
        s["log"] = list(_LOG)
        _print(f"{kind} seed {seed}", s)
        out.append((f"{kind}:{seed}", s))
    return out


def _planted(seeds: list[int], tasks: list[str]) -> list[tuple[str, dict]]:
    spec = importlib.util.spec_from_file_location("planted", ROOT / "planted.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["planted"] = mod
    spec.loader.exec_module(mod)
    out = []
    for seed in seeds:
        for name in tasks:
            task = mod.make_task(name, seed)
            _LOG.clear()
            t0 = time.perf_counter()
            mod.run_task(task)
            s = _summary(list(_LOG), time.perf_counter() - t0)
            s["log"] = list(_LOG)
            _print(f"planted {name} {seed}", s)
            out.append((f"planted:{name}:{seed}", s))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", choices=["houses", "movies", "planted"])
    ap.add_argument("--data", default=None)
    ap.add_argument("--format", default="movielens-1m")
    ap.add_argument("--seeds", default="100")
    ap.add_argument("--tasks", default="attributes,text,multi,mixed")
    ap.add_argument("--model", default="linear", choices=["linear", "mlp"])
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--eps-update", default=None, choices=["joint", "em"],
                    help="run_em's eps_update (default: the library's own); 'em' is the paper's order (before issue 20)")
    a = ap.parse_args(argv)
    from genz.experiments.runner import parse_seeds

    seeds = parse_seeds(a.seeds)
    over = {}
    if a.eps_update:
        over["eps_update"] = a.eps_update
    _instrument(over)
    if a.experiment == "planted":
        rows = _planted(seeds, a.tasks.split(","))
    else:
        if not a.data:
            ap.error("--data is required for houses and movies")
        rows = _experiment(a.experiment, a.data, seeds, a.format, a.model)
    tot = _summary([r for _, s in rows for r in s["log"]], sum(s["fit_seconds"] for _, s in rows))
    _print("all", tot)
    if a.json_path:
        with open(a.json_path, "w", encoding="utf-8") as fh:
            json.dump({"rows": dict(rows), "total": tot}, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
