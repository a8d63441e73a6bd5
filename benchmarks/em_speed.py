"""Median seconds of one full E+M sweep of the linear model (eq. 27, 29-31).

    python benchmarks/em_speed.py [--n 10000 100000] [--d 32] [--k 30] [--repeats 5]

One sweep = the M-step (W, σ², ε) plus one E-step pass over all K features, vectorised
over items. Synthetic data: planted binary features, noisy judgments, Gaussian noise.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from genz.inference import LatentState, e_step, m_step
from genz.observation import LinearGaussian


def sweep_seconds(n: int, d: int, k: int, repeats: int, seed: int = 0) -> list[float]:
    r = np.random.default_rng(seed)
    Z = (r.random((n, k)) < 0.3).astype(float)
    Y = Z @ r.normal(size=(k, d)) + r.normal(size=(n, d))
    B = np.where(r.random((n, k)) < 0.1, 1 - Z, Z)
    st = LatentState(B=B, eps=np.full(k, 0.1), Q=B * 0.9 + 0.05, coupled=np.ones(k, bool), hard=np.zeros(k, bool))
    model = LinearGaussian()
    model.set_scaling(None, Y)
    m_step(model, st, None, Y, eps_min=1e-3)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        m_step(model, st, None, Y, eps_min=1e-3)
        e_step(model, st, None, Y)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    print(f"linear model, D={a.d}, K={a.k}, {a.repeats} sweeps each (median, min, max seconds)")
    for n in a.n:
        t = sweep_seconds(n, a.d, a.k, a.repeats)
        print(f"N={n:>7,}: median {statistics.median(t):.3f} s  (min {min(t):.3f}, max {max(t):.3f})")


if __name__ == "__main__":
    main()
