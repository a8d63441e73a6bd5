"""Entry point of the concurrency and kill tests of the executors: one bulk judging pass in its
own process, through the SQLite cache and a work/state folder, against the scripted server.

    python tests/_batch_entry.py URL CACHE STATE_DIR N_ITEMS [--start-at T] [--feature F]
        [--executor batch|ray|vllm] [--vllm-command CMD]

Prints "done" and exits 0 when every item is judged; any error: its one-line message, exit 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from genz.fm.executors import ExecutorFM
from genz.fm.executors.batch import BatchAPIExecutor
from genz.fm.openai_compat import OpenAIFM
from genz.items import Item


def items(n: int) -> list[Item]:
    words = ["seven", "three", "five", "nine", "two"]
    return [Item(id=f"i{k}", text=f"item {k} {words[k % 5]}") for k in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("cache")
    ap.add_argument("state")
    ap.add_argument("n", type=int)
    ap.add_argument("--start-at", type=float, default=None)
    ap.add_argument("--feature", default="contains seven")
    ap.add_argument("--executor", default="batch")
    ap.add_argument("--vllm-command", default=None)
    a = ap.parse_args()
    if a.executor == "ray":
        from genz.fm.executors.ray import RayExecutor

        ex = RayExecutor(a.state, [a.url], num_cpus=2, concurrency=1, batch_size=2, progress=None)
    elif a.executor == "vllm":
        from genz.fm.executors.vllm import VLLMExecutor

        ex = VLLMExecutor(a.state, command=a.vllm_command)
    else:
        ex = BatchAPIExecutor(a.state, base_url=a.url, poll_interval=0.05, progress=None)
    fm = ExecutorFM(OpenAIFM("fake", base_url=a.url, batch_size=4, progress=False), a.cache, ex)
    print("ready", flush=True)
    if a.start_at is not None:
        time.sleep(max(0.0, a.start_at - time.time()))
    try:
        fm.prefetch([a.feature], items(a.n))
    except Exception as exc:  # noqa: BLE001 - the test reads the line
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
