"""How many threads should the MLP observation model use?  Prints the median seconds of one
full MLP fit (the paper's 64-32 network, 100 epochs, batch 32) per torch thread count.

    python benchmarks/mlp_threads.py [--n 535] [--k 30] [--repeats 3] [--threads 1,2,0]

0 means torch's own default (one thread per core). Run it without OMP_NUM_THREADS set. Each
thread count runs in a fresh process with a time limit (--limit seconds; over it prints "> limit").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def one(n: int, k: int, threads: int, repeats: int) -> list[float]:
    import os

    import numpy as np
    import torch

    from genz.observation.mlp import MLPGaussian

    # the model runs with $GENZ_TORCH_THREADS threads (genz's default: 1); 0 = torch's default
    os.environ["GENZ_TORCH_THREADS"] = str(threads if threads > 0 else torch.get_num_threads())
    rng = np.random.default_rng(0)
    Q = (rng.random((n, k)) < 0.3).astype(float)
    Y = Q @ rng.normal(size=(k, 1)) + 0.1 * rng.normal(size=(n, 1))
    out = []
    for _ in range(repeats):
        m = MLPGaussian(seed=0)
        m.set_scaling(None, Y)
        t0 = time.perf_counter()
        m.fit(Q, None, Y, final=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=535)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2,0")
    ap.add_argument("--limit", type=float, default=240.0)
    ap.add_argument("--child", type=int, default=None)
    a = ap.parse_args()
    if a.child is not None:
        print(" ".join(f"{t:.4f}" for t in one(a.n, a.k, a.child, a.repeats)))
        return
    import os

    print(f"MLP fit, N={a.n}, K={a.k}, {os.cpu_count()} CPUs; median of {a.repeats} fits, each in a fresh process")
    for th in [int(x) for x in a.threads.split(",")]:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        label = "torch default" if th == 0 else f"{th} thread{'s' if th > 1 else ''}"
        try:
            r = subprocess.run([sys.executable, __file__, "--n", str(a.n), "--k", str(a.k), "--repeats",
                                str(a.repeats), "--child", str(th)], capture_output=True, text=True, env=env,
                               check=True, timeout=a.limit)
        except subprocess.TimeoutExpired:
            print(f"  {label:>14}: > {a.limit:.0f} s for {a.repeats} fits (stopped)", flush=True)
            continue
        times = [float(x) for x in r.stdout.split()]
        print(f"  {label:>14}: {statistics.median(times):.2f} s  (all: {', '.join(f'{t:.2f}' for t in times)})",
              flush=True)


if __name__ == "__main__":
    main()
