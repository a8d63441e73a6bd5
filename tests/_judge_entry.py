"""Entry point of the interruption tests of the LLM path: one judging pass in its own process,
through the SQLite cache, against a (scripted) OpenAI-compatible server.

    python tests/_judge_entry.py URL CACHE N_ITEMS [--batch-size B] [--concurrency C] [--start-at T]

Prints "done" and exits 0 when every item is judged; exits 130 on Ctrl-C, 143 on SIGTERM,
at once (:func:`genz.runs.exit_now`), as the genz command line does.
"""

from __future__ import annotations

import argparse
import sys
import time

from genz.fm.cache import CachedFM
from genz.fm.openai_compat import OpenAIFM
from genz.items import items_from_texts
from genz.runs import Terminated, exit_now, terminate_as_interrupt

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def items(n: int):
    return items_from_texts([f"{i} {WORDS[i % 10]}" for i in range(n)], ids=[f"n{i}" for i in range(n)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("cache")
    ap.add_argument("n", type=int)
    ap.add_argument("--batch-size", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--mine", action="store_true", help="one mining call instead of a judging pass")
    ap.add_argument("--start-at", type=float, default=None, help="wait until this time.time() to start")
    a = ap.parse_args()
    fm = CachedFM(OpenAIFM("fake-model", base_url=a.url, batch_size=a.batch_size, concurrency=a.concurrency,
                           timeout=30, max_retries=2, backoff_base=0.01, progress=False), a.cache)
    print("ready", flush=True)
    if a.start_at is not None:
        time.sleep(max(0.0, a.start_at - time.time()))
    try:
        with terminate_as_interrupt():
            if a.mine:
                its = items(a.n)
                fm.mine(its[: a.n // 2], its[a.n // 2:])
            else:
                fm.judge("has a seven", items(a.n))
    except Terminated:
        exit_now(143)  # as the genz command line does
    except KeyboardInterrupt:
        exit_now(130)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
