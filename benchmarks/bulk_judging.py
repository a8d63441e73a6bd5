"""Bulk judging through the batch path against the scripted Batch API server (no internet).

    OMP_NUM_THREADS=1 python benchmarks/bulk_judging.py [--n 100000] [--features 30] [--batch-size 20] \
        [--repeat 3] [--keep DIR]

1. export: every judgment of ``--features`` descriptors on ``--n`` items as OpenAI batch lines
   (shards of ≤ 50,000 requests / 200 MB, with manifests); judgments per second;
2. the Batch API executor uploads the shards to tests/fake_batch_server.py (127.0.0.1), creates
   the batches, polls, downloads output and error files (seconds reported, not a speed claim);
3. ingest: the output files into the SQLite cache, timed alone (judgments per second; aim
   ≥ 50,000/s; with ``--repeat R`` into R fresh caches, the median reported); then ingested
   again (must add 0 rows);
4. fit: the judgment matrix read back from the cache (the path fit/predict take) and a
   least-squares predictor on it;
5. peak memory (max RSS), and the judgments and dollars that discovery on a 5,000-item sample
   plus bulk judging of the kept features needs, beside judging every candidate on every item,
   with the price table stated (gpt-4o-mini $0.15 / $0.60 per 1M tokens, Batch API half price).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genz.fm.cache import CachedFM, FMCache  # noqa: E402
from genz.fm.estimate import estimate_executors  # noqa: E402
from genz.fm.executors.batch import BatchAPIExecutor  # noqa: E402
from genz.fm.openai_compat import OpenAIFM  # noqa: E402
from genz.fm.requests import ingest, plan_judge_requests, write_shards  # noqa: E402
from genz.fm.pricing import price_for  # noqa: E402
from genz.items import Item  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=20, help="items per judging request")
    ap.add_argument("--logprobs", action="store_true", help="the server returns log-probabilities (bigger files)")
    ap.add_argument("--sample", type=int, default=5000, help="discovery sample for the cost comparison")
    ap.add_argument("--candidates", type=int, default=60, help="candidate features discovery judges (12 cycles x 5)")
    ap.add_argument("--repeat", type=int, default=1, help="ingest into this many fresh caches; the median is reported")
    ap.add_argument("--keep", default=None, help="copy the output files and manifests here (to profile ingest alone)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    words = [f"w{k:02d}" for k in range(args.features)]
    has = rng.random((args.n, args.features)) < 0.3
    items = [Item(id=f"i{k}", text=f"item {k}: " + " ".join(w for w, h in zip(words, has[k]) if h))
             for k in range(args.n)]
    y = has @ rng.normal(size=args.features) + 0.1 * rng.normal(size=args.n)
    feats = [f"contains {w}" for w in words]
    res: dict = {"n": args.n, "features": args.features, "batch_size": args.batch_size}
    # the scripted server in its own process, so that peak memory below is genz's alone
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "tests" / "fake_batch_server.py"), "7200"] + ([] if args.logprobs else ["--no-logprobs"])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    srv = SimpleNamespace(url=proc.stdout.readline().strip(), close=proc.terminate)
    tmp = Path(tempfile.mkdtemp(prefix="genz-bulk-"))
    try:
        fm = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=args.batch_size, progress=False),
                      tmp / "cache.sqlite")
        t, c = time.perf_counter(), time.process_time()
        shards = write_shards(plan_judge_requests(fm, feats, items), tmp / "export", prefix="shard")
        dt, dc = time.perf_counter() - t, time.process_time() - c
        nj = sum(s.n_judgments for s in shards)
        res.update(export_s=round(dt, 2), judgments=nj, requests=sum(s.n_requests for s in shards),
                   shards=len(shards), export_mb=round(sum(s.n_bytes for s in shards) / 1e6, 1),
                   export_judgments_per_s=round(nj / dt), export_cpu_s=round(dc, 2),
                   export_judgments_per_cpu_s=round(nj / dc))
        print(f"export: {nj:,} judgments in {res['requests']:,} requests, {len(shards)} shards, "
              f"{res['export_mb']} MB, {dt:.1f} s wall = {nj / dt:,.0f} judgments/s; {dc:.1f} s CPU = "
              f"{nj / dc:,.0f} judgments per CPU-second (peak {peak_mb():.0f} MB)", flush=True)

        # the batch executor: upload, create, poll, download (ingest switched off to time it alone)
        ex = BatchAPIExecutor(tmp / "batches", base_url=srv.url, poll_interval=0.2, progress=None)
        import genz.fm.executors.batch as bmod

        real_ingest = bmod.ingest
        bmod.ingest = lambda cache, files, manifest, **kw: _NoIngest(files)
        t = time.perf_counter()
        rep = ex.run(plan_judge_requests(fm, feats, items), fm.cache)
        bmod.ingest = real_ingest
        res["batch_roundtrip_s"] = round(time.perf_counter() - t, 1)
        print(f"batch API round trip (scripted server, same machine): {len(rep.batches)} batches, "
              f"{res['batch_roundtrip_s']} s (peak {peak_mb():.0f} MB)", flush=True)
        outs = sorted((tmp / "batches").glob("shard-*.output.jsonl")) + sorted((tmp / "batches").glob("shard-*.errors.jsonl"))
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for p in outs + sorted((tmp / "batches").glob("*.manifest.jsonl")):
                shutil.copy(p, keep / p.name)
        runs = []
        for i in range(max(1, args.repeat)):  # each into a fresh cache; the last into the fit's
            target = fm.cache if i == args.repeat - 1 else FMCache(tmp / f"ingest-{i}.sqlite")
            t = time.perf_counter()
            r = ingest(target, outs, tmp / "batches")
            dt = time.perf_counter() - t
            runs.append((dt, r.cpu_seconds, r))
            print(f"ingest: {r.new_rows:,} judgments in {dt:.1f} s wall = {r.new_rows / dt:,.0f} judgments/s; "
                  f"{r.cpu_seconds:.1f} s CPU = {r.new_rows / r.cpu_seconds:,.0f} judgments per CPU-second; "
                  f"failed {len(r.failed)} (peak {peak_mb():.0f} MB)", flush=True)
        dt = float(np.median([x[0] for x in runs]))
        dc = float(np.median([x[1] for x in runs]))
        r = runs[-1][2]
        res.update(ingest_s=round(dt, 2), ingested=r.new_rows, ingest_judgments_per_s=round(r.new_rows / dt),
                   ingest_cpu_s=round(dc, 2), ingest_judgments_per_cpu_s=round(r.new_rows / dc),
                   ingest_runs=[[round(a, 2), round(b, 2)] for a, b, _ in runs],
                   output_mb=round(sum(p.stat().st_size for p in outs) / 1e6, 1))
        print(f"ingest (median of {len(runs)}): {r.new_rows:,} judgments ({res['output_mb']} MB of output) in "
              f"{dt:.1f} s wall = {r.new_rows / dt:,.0f} judgments/s; {dc:.1f} s CPU = "
              f"{r.new_rows / dc:,.0f} judgments per CPU-second; failed {len(r.failed)}", flush=True)
        t = time.perf_counter()
        r2 = ingest(fm.cache, outs, tmp / "batches")
        res.update(reingest_s=round(time.perf_counter() - t, 2), reingest_new_rows=r2.new_rows)
        assert r2.new_rows == 0, "ingesting twice must change nothing"
        print(f"ingest again: {r2.new_rows} new rows in {res['reingest_s']} s", flush=True)

        # fit from the cache
        n_calls = fm.stats.snapshot()["total_calls"]
        t = time.perf_counter()
        B = np.column_stack([fm.judge(f, items).values for f in feats]).astype(float)
        t_read = time.perf_counter() - t
        X = np.column_stack([B, np.ones(args.n)])
        w, *_ = np.linalg.lstsq(X, y, rcond=None)
        t_fit = time.perf_counter() - t - t_read
        r2_score = 1 - np.mean((X @ w - y) ** 2) / np.var(y)
        assert fm.stats.snapshot()["total_calls"] == n_calls, "the fit must run from the cache"
        assert np.array_equal(B.astype(bool), has), "the cache must hold exactly the server's answers"
        res.update(cache_read_s=round(t_read, 1), fit_s=round(t_fit, 2), fit_r2=round(float(r2_score), 4))
        print(f"fit from the cache: read {args.n:,} x {args.features} judgments in {t_read:.1f} s, least squares "
              f"{t_fit:.2f} s, R² {r2_score:.4f}; no FM calls", flush=True)
        res["peak_mb"] = round(peak_mb(), 1)
        print(f"peak memory (max RSS): {res['peak_mb']:.0f} MB", flush=True)

        # judgments and dollars: sample discovery + bulk vs every candidate on every item
        model = "gpt-4o-mini"
        p_in, p_out = price_for(model)
        kw = dict(n_adds=args.candidates, n_kept=args.features, judge_model=model, mining_model=model,
                  batch_size=10)
        if args.sample >= args.n:
            raise SystemExit("--sample must be smaller than --n")
        sub = items[:: max(1, args.n // 20000)]  # token counts from an even 20,000-item subset, scaled
        scale = args.n / len(sub)
        samp = {(e.phase, e.executor): e for e in estimate_executors(sub, discovery_sample=max(1, int(args.sample / scale)), **kw)}
        full = {(e.phase, e.executor): e for e in estimate_executors(sub, discovery_sample=None, **kw)}
        j_full = args.candidates * args.n
        j_samp = args.candidates * args.sample + args.features * (args.n - args.sample)
        c_full = full[("discovery", "sync")].cost_usd * scale
        c_samp_sync = (samp[("discovery", "sync")].cost_usd + samp[("bulk", "sync")].cost_usd) * scale
        c_samp_batch = (samp[("discovery", "sync")].cost_usd + samp[("bulk", "batch")].cost_usd) * scale
        res.update(prices={"model": model, "input_per_1m": p_in, "output_per_1m": p_out, "batch_discount": 0.5},
                   judgments_every_candidate=j_full, judgments_sample_plus_bulk=j_samp,
                   usd_every_candidate_sync=round(c_full, 2), usd_sample_sync_bulk_sync=round(c_samp_sync, 2),
                   usd_sample_sync_bulk_batch=round(c_samp_batch, 2))
        print(f"{args.candidates} candidates, {args.features} kept, {args.n:,} items, {model} at ${p_in}/${p_out} per 1M "
              f"tokens (Batch API half price), 10 items per call, tokens ≈ chars/4:", flush=True)
        print(f"  every candidate on every item (sync): {j_full:,} judgments, ${c_full:,.2f}")
        print(f"  discovery on {args.sample:,} + bulk of the kept (sync): {j_samp:,} judgments, ${c_samp_sync:,.2f}")
        print(f"  discovery on {args.sample:,} (sync) + bulk via the Batch API: {j_samp:,} judgments, ${c_samp_batch:,.2f}")
    finally:
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "a") as fh:
            fh.write(json.dumps(res) + "\n")


class _NoIngest:
    def __init__(self, files) -> None:
        self.answered = self.judgments = self.prompt_tokens = self.completion_tokens = 0
        self.failed: dict = {}
        self.conflicts: dict = {}
        self.other_model: dict = {}


if __name__ == "__main__":
    main()
