"""The findings under each multiple-testing correction, on the same fits of
``benchmarks/simulation.py``: how stop 31 chose Benjamini-Yekutieli (docs/experiments.md).

Each fit (``GenZRegressor()`` with its defaults) fixes the tested structure and the untouched
rows; this script keeps, per fit, those rows' judgments of the tested structure, the target, the
noiseless mean and which features match a planted term, then runs :func:`genz.findings.fit_findings`
on them once per correction (``by``, ``bh``, ``holm``, ``bonferroni``). Only the test differs, so
the columns are paired. Printed per setting and correction: findings, the coverage of the planted
effects by the findings' intervals (a false finding's planted effect is 0), the false-discovery
proportion, the findings' recall of the planted terms, and how many findings' intervals contain 0
(the test and the interval contradicting each other; 0 for ``by`` and ``bh``).

    OMP_NUM_THREADS=1 python benchmarks/findings_corrections.py                       # dev seeds 1000-1039
    OMP_NUM_THREADS=1 python benchmarks/findings_corrections.py --save fits.pkl       # keep the fits' designs
    python benchmarks/findings_corrections.py --load fits.pkl                        # recompute only

Development seeds only: nothing here is meant to be run on the reported seeds 0-39.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from genz.findings import CORRECTIONS

sys.path.insert(0, str(Path(__file__).parent))


def design(args: tuple[str, int]) -> dict[str, Any]:
    """Fit once; keep what the findings test needs on the untouched rows, and the truth."""
    from threadpoolctl import threadpool_limits

    import simulation as S
    from genz import GenZRegressor

    setting, seed = args
    sim = S.make_simulation(setting, seed)
    with threadpool_limits(limits=1):
        np.random.seed(seed)  # as benchmarks/simulation.py seeds a fit
        est = GenZRegressor().fit(sim.train_items, sim.y_train)
    out: dict[str, Any] = {"setting": setting, "seed": seed, "n_terms": len(sim.terms)}
    inf = est.inference_
    iu = S._untouched_rows(est, sim)
    if inf is None or iu is None or not len(inf.features):
        return out
    feats = list(inf.features)
    # judged once on every training row; the untouched rows are some of them
    B = np.column_stack([np.asarray(est.fm_.judge(f, sim.train_items).values, float) for f in feats])
    matched = S.match_terms(B, sim.T_train, sim.effects)
    out.update(features=feats, Q=B[iu], y=np.asarray(sim.y_train[iu], float),
               tested=None if inf.tested is None else np.asarray(inf.tested, bool),
               term=[m for m, _ in matched], truth=[t for _, t in matched])
    return out


def score(rec: dict[str, Any], correction: str) -> dict[str, Any]:
    """The findings of one fit under ``correction``: per finding, whether its interval covers the
    planted effect and whether it contains 0; the planted terms found."""
    from genz.findings import fit_findings

    if "Q" not in rec:
        return {"findings": [], "found": set(), "n_terms": rec["n_terms"]}
    r = fit_findings(rec["Q"], None, rec["y"][:, None], rec["features"], ["y"], correction=correction,
                     tested=rec["tested"])
    if r is None:
        return {"findings": [], "found": set(), "n_terms": rec["n_terms"]}
    lo, hi = r.conf_int()
    out = []
    for k in np.flatnonzero(r.significant):
        t = rec["truth"][k]
        out.append({"term": rec["term"][k], "covers": bool(lo[k, 0] <= t <= hi[k, 0]),
                    "zero": bool(lo[k, 0] <= 0.0 <= hi[k, 0])})
    return {"findings": out, "found": {x["term"] for x in out if x["term"] is not None}, "n_terms": rec["n_terms"]}


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| setting | correction | findings | coverage of the planted effects | false-discovery proportion "
             "| findings' recall | findings whose interval contains 0 |", "|---|---|---:|---:|---:|---:|---:|"]
    for setting in dict.fromkeys(r["setting"] for r in records):
        rs = [r for r in records if r["setting"] == setting]
        for c in CORRECTIONS:
            sc = [score(r, c) for r in rs]
            allf = [x for s in sc for x in s["findings"]]
            cov = np.mean([x["covers"] for x in allf]) if allf else float("nan")
            fdp = np.mean([sum(x["term"] is None for x in s["findings"]) / len(s["findings"]) if s["findings"] else 0.0
                           for s in sc])
            rec = np.mean([len(s["found"]) / s["n_terms"] for s in sc if s["n_terms"]]) if any(s["n_terms"] for s in sc) \
                else float("nan")
            lines.append(f"| {setting} | {c} | {len(allf)} | {cov:.3f} | {fdp:.3f} | {rec:.3f} | "
                         f"{sum(x['zero'] for x in allf)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", default="N300,N1000")
    ap.add_argument("--seeds", default="1000-1039", help="development seeds (default 1000-1039)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--save", default=None, help="write the fits' designs here")
    ap.add_argument("--load", default=None, help="read the fits' designs from here instead of fitting")
    a = ap.parse_args(argv)
    if a.load:
        records = pickle.load(open(a.load, "rb"))
    else:
        lo, _, hi = a.seeds.partition("-")
        seeds = range(int(lo), int(hi or lo) + 1)
        jobs = [(s, k) for s in a.settings.split(",") for k in seeds]
        with Pool(max(1, a.jobs)) as pool:
            records = pool.map(design, jobs, chunksize=1)
        if a.save:
            pickle.dump(records, open(a.save, "wb"))
    print(table(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
