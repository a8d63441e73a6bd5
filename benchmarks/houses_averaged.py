"""Does averaging several genz fits help on houses? (a development probe of stop 37, not adopted)

For each split of the houses experiment (``genz experiment houses``: the same 80/20 split, the
experiment's schedule: linear model, 12 cycles, targeted, 5 candidates) fit genz ``--fits`` times
with ``random_state`` = seed, seed + 7,919, seed + 15,838 (the first is the experiment's own fit)
and print each fit's test median |Δ ln price| and that of the fits' averaged predictions.
Development seeds only (the default 100-109); compare with the experiment's zero-shot column of
the same seeds (docs/experiments.md, "Two probes at stop 37").

    OMP_NUM_THREADS=1 python benchmarks/houses_averaged.py --data DATA/houses --seeds 100-109 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genz.estimator import make_fm  # noqa: E402
from genz.experiments.runner import ExperimentConfig, _make_genz, parse_seeds  # noqa: E402
from genz.experiments.splits import train_test_split_indices  # noqa: E402


def run(data: str, seeds: list[int], fits: int) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from genz.datasets.houses import load_houses

    ds = load_houses(data)
    cfg = ExperimentConfig(kind="houses", seeds=[], genz_params={"advanced": {"n_candidates": 5}})
    out = []
    with threadpool_limits(1):
        for seed in seeds:
            tr, te = train_test_split_indices(len(ds), seed, cfg.test_frac)
            itr, ytr, utr = ds.subset(tr)
            ite, yte, ute = ds.subset(te)
            preds = []
            for k in range(fits):
                est = _make_genz(cfg, seed + 7919 * k, make_fm(cfg.fm))
                t = time.perf_counter()
                est.fit(itr, ytr[:, 0], utr)
                preds.append(np.asarray(est.predict(ite, ute)).ravel())
                print(seed, k, "single %.4f" % np.median(np.abs(preds[-1] - yte[:, 0])), "K", len(est.features_),
                      "%.0fs" % (time.perf_counter() - t), flush=True)
            rec = {"seed": seed, "single": [float(np.median(np.abs(p - yte[:, 0]))) for p in preds],
                   "averaged": float(np.median(np.abs(np.mean(preds, axis=0) - yte[:, 0])))}
            print(rec, flush=True)
            out.append(rec)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with HousesInfo.txt")
    ap.add_argument("--seeds", default="100-109", help="development seeds (default 100-109)")
    ap.add_argument("--fits", type=int, default=3)
    ap.add_argument("--json", dest="json_path", default=None)
    a = ap.parse_args(argv)
    out = run(a.data, parse_seeds(a.seeds), a.fits)
    print("mean: first fit %.4f, fits averaged %.4f" % (np.mean([r["single"][0] for r in out]),
                                                         np.mean([r["averaged"] for r in out])))
    if a.json_path:
        Path(a.json_path).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
