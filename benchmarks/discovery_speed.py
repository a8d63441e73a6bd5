"""Seconds per discovery step, total seconds and peak memory of a default offline fit.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/discovery_speed.py --n 10000 [--time-limit 900]
        [--profile prof.out] [--json out.json]

A default ``GenZRegressor()`` (offline predicate FM, linear model, Algorithm 4 with its default
cycles) fitted on generated items: 4 attributes (a size, a room count, a city, a year) and a
short text, with a target built from thresholds, a category and a phrase plus Gaussian noise.
Each step's wall time is printed as it finishes (``on_step``), so a run stopped by
``--time-limit`` still reports how far it got. Peak memory is the process's maximum resident
set size (``resource.getrusage``), which includes numpy buffers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

import numpy as np

from genz.estimator import GenZRegressor
from genz.items import Item

CITIES = ["Avon", "Bray", "Cork", "Derry", "Ennis", "Fermoy", "Galway", "Howth"]
WORDS = ["garden", "garage", "renovated", "quiet", "sunny", "balcony", "modern", "old", "view", "cellar"]


def make_data(n: int, seed: int = 0) -> tuple[list[Item], np.ndarray]:
    """``n`` items with 4 attributes and a short text, and a target that depends on them."""
    r = np.random.default_rng(seed)
    size = np.round(r.gamma(4.0, 30.0, n), 1)
    rooms = r.integers(1, 8, n)
    city = r.integers(0, len(CITIES), n)
    year = r.integers(1900, 2024, n)
    words = r.random((n, len(WORDS))) < 0.25
    items = []
    for i in range(n):
        text = "A " + ", ".join(w for w, b in zip(WORDS, words[i]) if b) + " home" if words[i].any() else "A home"
        items.append(Item(id=f"h{i}", text=text,
                          attributes={"size": float(size[i]), "rooms": int(rooms[i]),
                                      "city": CITIES[city[i]], "year": int(year[i])}))
    y = (1.5 * (size > 150) + 0.8 * (rooms >= 4) + 1.2 * np.isin(city, [1, 6]) + 0.7 * (year > 1990)
         + 0.9 * words[:, 0] - 0.6 * words[:, 7] + 0.3 * r.normal(size=n))
    return items, y


def peak_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load_before(path: str, n: int) -> dict | None:
    p = Path(path)
    if not p.is_file():
        return None
    for line in p.read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            if d.get("n") == n:
                return d
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=0.0, help="stop after this many seconds (0: none)")
    ap.add_argument("--profile", default=None, help="write cProfile stats of the fit to this file")
    ap.add_argument("--json", default=None, help="append one JSON line per N to this file")
    ap.add_argument("--before", default=str(Path(__file__).parent / "results" / "discovery_speed_before.jsonl"),
                    help="JSON lines of an earlier run to print beside this one (default: the numbers "
                         "measured on main at b875339 before the EM work)")
    args = ap.parse_args()
    print(f"BLAS threads: OMP={os.environ.get('OMP_NUM_THREADS')} OPENBLAS={os.environ.get('OPENBLAS_NUM_THREADS')}",
          flush=True)
    for n in args.n:
        items, y = make_data(n, args.seed)
        steps: list[dict] = []
        t0 = time.perf_counter()
        last = [t0]

        def on_step(disc, record) -> None:
            now = time.perf_counter()
            rec = record if isinstance(record, dict) else getattr(record, "__dict__", {})
            k = len(rec.get("features", []) or []) if isinstance(rec, dict) else None
            steps.append({"step": len(steps) + 1, "seconds": round(now - last[0], 3), "K": k,
                          "action": rec.get("action") if isinstance(rec, dict) else None})
            print(f"N={n} step {len(steps):3d} K={k} {steps[-1]['action']}: {now - last[0]:7.2f} s "
                  f"(total {now - t0:7.1f} s, peak {peak_mb():.0f} MB)", flush=True)
            last[0] = now

        class _Stop(Exception):
            pass

        def alarm(*_a):
            raise _Stop()

        if args.time_limit > 0:
            signal.signal(signal.SIGALRM, alarm)
            signal.setitimer(signal.ITIMER_REAL, args.time_limit)
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        finished = True
        try:
            GenZRegressor(random_state=args.seed).fit(items, y, on_step=on_step)
        except _Stop:
            finished = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if prof is not None:
                prof.disable()
                prof.dump_stats(args.profile)
        total = time.perf_counter() - t0
        out = {"n": n, "finished": finished, "steps": len(steps), "total_seconds": round(total, 1),
               "peak_mb": round(peak_mb(), 1), "per_step": steps}
        print(f"N={n}: {'finished' if finished else 'STOPPED at the time limit'} after {len(steps)} steps, "
              f"{total:.1f} s total, peak {peak_mb():.0f} MB", flush=True)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(out) + "\n")
        before = _load_before(args.before, n)
        if before is not None:
            print(f"N={n} beside the earlier run ({args.before}):")
            print(f"  earlier: {before['steps']} steps{' (finished)' if before['finished'] else ' (stopped)'}, "
                  f"{before['total_seconds']} s, peak {before['peak_mb']} MB")
            print(f"  now:     {out['steps']} steps{' (finished)' if finished else ' (stopped)'}, "
                  f"{out['total_seconds']} s, peak {out['peak_mb']} MB")
            both = min(len(before["per_step"]), len(steps))
            if both:
                tb = sum(p["seconds"] for p in before["per_step"][:both])
                tn = sum(p["seconds"] for p in steps[:both])
                print(f"  first {both} steps: earlier {tb:.1f} s, now {tn:.1f} s")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
