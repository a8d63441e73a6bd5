"""Short posts whose target is spread over many words: where a ridge on the words beats any short
list of features. Does the text check say so, and how close does ``Selection(text_route=True)``
come to the ridge?

Each post is 8-25 words drawn with Zipf-like frequencies from a vocabulary of 400 made-up words;
``--setting sparse`` (the default): 60 of the words carry an effect of their own (normal, sd
0.35); ``dense``: every word does (normal, sd 0.15), so no short list says much. The phrase "late
delivery" (in about 15% of posts) adds −0.8, and the noise has sd 0.5. 2,000 posts, 80/20 split
per seed.

Methods, on the same split: ``genz`` (``GenZRegressor(random_state=seed)``, the defaults: the text
check reports), ``genz-text`` (the same with ``Selection(text_route=True)``), ``ridge`` (what a
practitioner writes: scikit-learn's ``TfidfVectorizer(ngram_range=(1, 2), min_df=2,
sublinear_tf=True)`` on the whole vocabulary, ``RidgeCV`` over 30 penalties) and ``oracle`` (the
true expectation). Printed: test RMSE per method, mean ± std over seeds, and genz − ridge per seed
with a 95% t-interval (a tie when it covers zero). Development seeds 100-104 (the default); nothing
in genz was chosen on these posts.

    OMP_NUM_THREADS=1 python benchmarks/short_posts.py --seeds 100-104 [--setting dense] --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genz.experiments.runner import paired_difference, parse_seeds  # noqa: E402
from genz.items import Item  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "fi", "gu", "ha", "je", "ko", "lu",
             "ma", "no", "pi"]


def vocabulary(n: int = 400) -> list[str]:
    rng = np.random.default_rng(12345)
    words: list[str] = []
    while len(words) < n:
        w = "".join(rng.choice(SYLLABLES, rng.integers(2, 4)))
        if w not in words and w not in ("late", "delivery"):
            words.append(w)
    return words


def posts(n: int, seed: int, setting: str = "sparse") -> tuple[list[Item], np.ndarray, np.ndarray]:
    """Items (text only), targets and the true expectations."""
    words = vocabulary()
    effects = np.zeros(len(words))
    truth = np.random.default_rng(999)  # the same planted structure for every seed
    if setting == "dense":
        effects[:] = truth.normal(0, 0.15, len(words))
    else:
        effects[truth.choice(len(words), 60, replace=False)] = truth.normal(0, 0.35, 60)
    freq = 1.0 / np.arange(1, len(words) + 1) ** 0.8
    freq /= freq.sum()
    rng = np.random.default_rng(seed)
    items, mean = [], np.zeros(n)
    for i in range(n):
        idx = rng.choice(len(words), rng.integers(8, 26), p=freq)
        toks = [words[j] for j in idx]
        late = rng.random() < 0.15
        if late:
            toks.insert(int(rng.integers(0, len(toks))), "late delivery")
        mean[i] = 2.0 + effects[idx].sum() - 0.8 * late
        items.append(Item(id=f"post{seed}-{i}", text=" ".join(toks)))
    return items, mean + rng.normal(0, 0.5, n), mean


def run_seed(seed: int, n: int, methods: list[str], setting: str = "sparse") -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import RidgeCV
    from threadpoolctl import threadpool_limits

    from genz import GenZRegressor, Selection

    items, y, mean = posts(n, seed, setting)
    perm = np.random.default_rng([seed, 1]).permutation(n)
    tr, te = perm[: int(0.8 * n)], perm[int(0.8 * n):]
    itr, ite = [items[i] for i in tr], [items[i] for i in te]
    rmse = lambda p: float(np.sqrt(np.mean((np.asarray(p, dtype=float).ravel() - y[te]) ** 2)))  # noqa: E731
    out: dict = {"seed": seed, "oracle": {"rmse": rmse(mean[te])}}
    with threadpool_limits(1):
        if "ridge" in methods:
            vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            X = vec.fit_transform([it.text for it in itr])
            m = RidgeCV(alphas=np.logspace(-2, 3, 30)).fit(X, y[tr])
            out["ridge"] = {"rmse": rmse(m.predict(vec.transform([it.text for it in ite]))), "terms": X.shape[1]}
        for name, sel in (("genz", {}), ("genz-text", {"text_route": True})):
            if name not in methods:
                continue
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = GenZRegressor(random_state=seed, selection=Selection(**sel)).fit(itr, y[tr])
            tc = est.text_check_ or {}
            out[name] = {"rmse": rmse(est.predict(ite)), "K": len(est.features_), "findings": list(est.findings_),
                         "seconds": time.perf_counter() - t0, "text_check": tc,
                         "route": (est.numbers_route_ or {}).get("inputs")}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--methods", default="genz,genz-text,ridge")
    ap.add_argument("--setting", choices=("sparse", "dense"), default="sparse")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    rows = []
    for seed in parse_seeds(a.seeds):
        r = run_seed(seed, a.n, methods, a.setting)
        rows.append(r)
        tc = (r.get("genz") or {}).get("text_check") or {}
        z = tc["diff"] / tc["se"] if tc else float("nan")
        print(f"seed {seed}: " + "  ".join(f"{m} {r[m]['rmse']:.4f}" for m in ["oracle", *methods] if m in r)
              + f"  text check z {z:.2f}" + "".join(f"  {m} K={r[m]['K']} route={r[m]['route']}"
                                                    for m in ("genz", "genz-text") if m in r), flush=True)
    print("\nmean ± std over seeds (test RMSE)")
    for m in ["oracle", *methods]:
        v = [r[m]["rmse"] for r in rows if m in r]
        print(f"  {m:10s} {np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.4f}")
    summary = {}
    if "ridge" in methods and len(rows) > 1:
        for m in ("genz", "genz-text"):
            if m in methods:
                pdiff = paired_difference([r[m]["rmse"] for r in rows], [r["ridge"]["rmse"] for r in rows], False)
                summary[f"{m}_vs_ridge"] = pdiff
                print(f"  {m} − ridge {pdiff['mean']:+.4f} [{pdiff['low']:+.4f}, {pdiff['high']:+.4f}] {pdiff['verdict']}")
    if a.json:
        Path(a.json).write_text(json.dumps({"seeds": rows, "summary": summary}, indent=1, default=str))


if __name__ == "__main__":
    main()
