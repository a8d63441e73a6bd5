"""Throughput of the OpenAI-compatible backend: judgments per second for several batch sizes,
and the cache hit rate of an identical rerun.

By default it starts the local llama.cpp server with SmolLM2-135M-Instruct (needs
``pip install "genz[llm-server]"``); ``--base-url`` measures any other server instead.

    PYTHONPATH=src python benchmarks/fm_throughput.py
    PYTHONPATH=src python benchmarks/fm_throughput.py --base-url http://127.0.0.1:8080/v1 --model my-model
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from genz.fm.cache import CachedFM
from genz.fm.openai_compat import OpenAIFM
from genz.items import items_from_texts

WORDS = ["apple", "river", "seven", "mountain", "violin", "desert", "copper", "tiger", "glacier", "lantern"]


def make_items(n: int):
    return items_from_texts([f"{i}: a {WORDS[i % 10]} and a {WORDS[(3 * i + 1) % 10]}" for i in range(n)])


def run(url: str, model: str, n_items: int, batch_sizes: list[int], concurrency: int, descriptor: str) -> dict:
    items = make_items(n_items)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up (model load, first-request costs) outside the timings
        OpenAIFM(model, base_url=url, batch_size=2).judge(descriptor, items[:2])
        for bs in batch_sizes:
            cache = Path(tmp) / f"bs{bs}.sqlite"
            fm = OpenAIFM(model, base_url=url, batch_size=bs, concurrency=concurrency, timeout=300)
            t0 = time.perf_counter()
            j = CachedFM(fm, cache).judge(descriptor, items)
            dt = time.perf_counter() - t0
            s = fm.stats.snapshot()
            # identical rerun through a fresh backend on the same cache
            fm2 = OpenAIFM(model, base_url=url, batch_size=bs, concurrency=concurrency)
            t1 = time.perf_counter()
            CachedFM(fm2, cache).judge(descriptor, items)
            dt2 = time.perf_counter() - t1
            s2 = fm2.stats.snapshot()
            rows.append({
                "batch_size": bs, "items": n_items, "seconds": dt, "judgments_per_s": n_items / dt,
                "calls": s["total_calls"], "retries": s["retries"], "prompt_tokens": s["prompt_tokens"],
                "completion_tokens": s["completion_tokens"], "yes_fraction": float(j.values.mean()),
                "soft": j.prob is not None,
                "rerun_calls": s2["total_calls"], "rerun_cache_hit_rate": s2["cache_hits"] / n_items,
                "rerun_seconds": dt2,
            })
    return {"model": model, "concurrency": concurrency, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default=None, help="measure this server instead of starting llama.cpp")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--batch-sizes", default="1,10,25")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--descriptor", default="mentions an animal")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (started server only)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
    server = None
    url = args.base_url
    if url is None:
        from genz.fm.local_server import LlamaServer, llama_cpp_available

        if not llama_cpp_available():
            print("llama_cpp is not installed: pip install 'genz[llm-server]' or pass --base-url", file=sys.stderr)
            return 2
        server = LlamaServer(n_threads=args.threads, model_alias=args.model)
        url = server.start()
    try:
        res = run(url, args.model, args.items, sizes, args.concurrency, args.descriptor)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"model {res['model']}, {args.items} items, concurrency {args.concurrency}, descriptor {args.descriptor!r}")
    print(f"{'batch':>5} {'calls':>5} {'retries':>7} {'seconds':>8} {'judg/s':>7} {'tok in':>7} {'tok out':>7} "
          f"{'soft':>4} | {'rerun calls':>11} {'hit rate':>8} {'rerun s':>7}")
    for r in res["rows"]:
        print(f"{r['batch_size']:>5} {r['calls']:>5} {r['retries']:>7} {r['seconds']:>8.2f} "
              f"{r['judgments_per_s']:>7.2f} {r['prompt_tokens']:>7} {r['completion_tokens']:>7} "
              f"{'yes' if r['soft'] else 'no':>4} | {r['rerun_calls']:>11} {r['rerun_cache_hit_rate']:>8.0%} "
              f"{r['rerun_seconds']:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
