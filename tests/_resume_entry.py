"""Entry point of the resume tests: one `fit_run` in its own process, on a small synthetic data
set, with the predicate FM behind a request log and the persistent SQLite cache.

    python tests/_resume_entry.py RUN CACHE LOG [--resume] [--kill-at N] [--signal KILL|INT]

``--kill-at N`` sends the signal to this very process when the inner FM receives its N-th
request of this process, before answering it: every earlier answer has been stored by the
cache, the one in flight has not. The log has one JSON line per request the inner FM received.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import numpy as np

from genz import GenZRegressor
from genz.fm.cache import CachedFM
from genz.fm.predicates import PredicateFM
from genz.items import Item
from genz.runfit import fit_run


class LoggingFM:
    """The inner FM: appends each request it receives to a log (fsync'd), then answers it."""

    def __init__(self, inner, log: str, kill_at: int | None, sig: int) -> None:
        self.inner, self.log, self.kill_at, self.sig = inner, log, kill_at, sig
        self.name, self.max_exemplars, self.stats = inner.name, inner.max_exemplars, inner.stats
        self.n = 0

    def _request(self, kind: str, key) -> None:
        self.n += 1
        if self.kill_at is not None and self.n == self.kill_at:
            os.kill(os.getpid(), self.sig)
            time.sleep(60)  # SIGKILL ends us here; SIGINT raises KeyboardInterrupt out of the sleep
        with open(self.log, "a") as fh:
            fh.write(json.dumps({"kind": kind, "key": key, "pid": os.getpid()}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def judge(self, descriptor, items):
        self._request("judge", [descriptor, [it.content_hash() for it in items]])
        return self.inner.judge(descriptor, items)

    def mine(self, positives, negatives, *, exclude=(), context=None):
        self._request("mine", [[it.content_hash() for it in positives], [it.content_hash() for it in negatives],
                               sorted(exclude)])
        return self.inner.mine(positives, negatives, exclude=exclude, context=context)

    def propose(self, task, sample_items, n=50):
        self._request("propose", [task, n])
        return self.inner.propose(task, sample_items, n)


def data(seed: int = 7):
    r = np.random.default_rng(seed)
    zips = ["85255", "85262", "92880", "94531", "60016", "60002"]
    words = ["pool", "garage", "view", "fireplace", "patio", "basement"]
    items, y = [], []
    for i in range(160):
        area = float(r.integers(600, 5000))
        z = str(r.choice(zips))
        w = list(r.choice(words, 2, replace=False))
        items.append(Item(id=f"h{i}", text="house with " + " and ".join(w),
                          attributes={"area": area, "bedrooms": int(r.integers(1, 6)), "zip": z}))
        y.append(12 + 0.6 * (area > 3000) + 0.4 * z.startswith("85") + 0.3 * ("pool" in w) + r.normal(0, 0.1))
    y = np.array(y)
    return items[:120], y[:120], items[120:], y[120:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("cache")
    ap.add_argument("log")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--kill-at", type=int, default=None)
    ap.add_argument("--signal", default="KILL", choices=["KILL", "INT"])
    a = ap.parse_args()
    sig = signal.SIGKILL if a.signal == "KILL" else signal.SIGINT
    inner = PredicateFM()
    fm = CachedFM(LoggingFM(inner, a.log, a.kill_at, sig), a.cache)
    tr_items, tr_y, te_items, te_y = data()
    est = GenZRegressor(fm=fm, cycles=3, add_per_cycle=3, remove_per_cycle=1, random_state=0)
    try:
        fit_run(est, tr_items, tr_y, eval_set=(te_items, te_y), out=a.run, resume=a.resume)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
