"""Which binary feature families carry the signal? (An aid for the predicate engine's mining.)

For houses: a linear model on the side inputs [log area, bedrooms, bathrooms] plus <= K binary
indicators from one family (zip codes, zip prefixes, city, county, state, thresholds), and a
greedy forward selection (by training error) from the union of all single-attribute
predicates, with the 2%-98% activity filter on the training set. For movies: the same over
genre, decade/year-threshold and title-word indicators.

    PYTHONPATH=src python benchmarks/feature_families.py houses /path/to/houses
    PYTHONPATH=src python benchmarks/feature_families.py movies /path/to/movielens-1m

Prints the test metric (mean ± std over seeds 0-4 of the 80/20 splits) per family and K.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import numpy as np

from genz.experiments.metrics import mean_cosine, median_abs_error
from genz.experiments.splits import train_test_split_indices


def _fit_predict(Xtr, Ytr, Xte, ridge=1e-3):
    A = np.hstack([Xtr, np.ones((len(Xtr), 1))])
    B = np.hstack([Xte, np.ones((len(Xte), 1))])
    W = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Ytr)
    return A @ W, B @ W


def _greedy(pool, names, U, Y, tr, K, lo=0.02, hi=0.98):
    """Forward selection of up to K pool columns by training SSE; returns chosen indices per step."""
    act = pool[tr].mean(axis=0)
    ok = np.where((act >= lo) & (act <= hi))[0]
    chosen: list[int] = []
    steps = []
    for _ in range(K):
        best, best_sse = None, np.inf
        for j in ok:
            if j in chosen:
                continue
            X = np.hstack([U, pool[:, chosen + [j]]]) if U is not None else pool[:, chosen + [j]]
            ptr, _ = _fit_predict(X[tr], Y[tr], X[tr])
            sse = float(((ptr - Y[tr]) ** 2).sum())
            if sse < best_sse - 1e-12:
                best, best_sse = j, sse
        if best is None:
            break
        chosen.append(best)
        steps.append(list(chosen))
    return steps


def _eval(X, Y, tr, te, metric):
    _, pte = _fit_predict(X[tr], Y[tr], X[te])
    return metric(Y[te], pte)


def houses(data_dir: str) -> None:
    from genz.datasets.houses import load_houses

    d = load_houses(data_dir)
    Y, U = d.Y, d.U
    A = [it.attributes for it in d.items]
    cols: dict[str, np.ndarray] = {}
    fam: dict[str, list[str]] = {}

    def add(family, name, v):
        cols[name] = np.asarray(v, dtype=float)
        fam.setdefault(family, []).append(name)

    for z, _ in Counter(a["zipcode"] for a in A).most_common():
        add("zip", f"zip == {z}", [a["zipcode"] == z for a in A])
    for k in (2, 3, 4):
        for p, _ in Counter(a["zipcode"][:k] for a in A).most_common():
            add(f"zip prefix {k}", f"zip starts with {p}", [a["zipcode"].startswith(p) for a in A])
    for key in ("city", "county", "state"):
        for v, _ in Counter(a.get(key, "?") for a in A).most_common():
            add(key, f"{key} == {v}", [a.get(key, "?") == v for a in A])
    for key in ("bedrooms", "bathrooms", "area"):
        vals = np.array([float(a[key]) for a in A])
        for t in np.unique(np.quantile(vals, np.linspace(0.05, 0.95, 19))):
            add("thresholds", f"{key} >= {t:g}", vals >= t)
    add("thresholds", "bathrooms > bedrooms", [a["bathrooms"] > a["bedrooms"] for a in A])
    names = list(cols)
    pool = np.column_stack([cols[n] for n in names])
    seeds = range(5)
    print("houses: test median abs error of log price, mean ± std over seeds 0-4 (linear, U = log area, beds, baths)")
    res = [_eval(U, Y, *train_test_split_indices(len(Y), s), median_abs_error) for s in seeds]
    print(f"  U only{'':35s} {np.mean(res):.4f} ± {np.std(res):.4f}")
    # one family at a time: the most frequent (in training) K indicators passing the activity filter
    for family, fnames in fam.items():
        for K in (5, 10, 20, 30):
            res = []
            for s in seeds:
                tr, te = train_test_split_indices(len(Y), s)
                idx = [names.index(n) for n in fnames]
                act = pool[tr][:, idx].mean(axis=0)
                keep = [i for i, a in zip(idx, act) if 0.02 <= a <= 0.98]
                keep = sorted(keep, key=lambda i: -pool[tr, i].sum())[:K]
                res.append(_eval(np.hstack([U, pool[:, keep]]), Y, tr, te, median_abs_error))
            print(f"  {family:14s} top-{K:<3d} by frequency {'':12s} {np.mean(res):.4f} ± {np.std(res):.4f}")
            if len(fnames) <= K:
                break
    for lo in (0.02, 0.0):
        curves = []
        picked = Counter()
        for s in seeds:
            tr, te = train_test_split_indices(len(Y), s)
            steps = _greedy(pool, names, U, Y, tr, 30, lo=lo if lo else 1e-9, hi=0.98)
            curves.append([_eval(np.hstack([U, pool[:, c]]), Y, tr, te, median_abs_error) for c in steps])
            picked.update(names[j] for j in steps[min(len(steps), 15) - 1])
        n = min(len(c) for c in curves)
        cur = np.array([c[:n] for c in curves])
        print(f"  greedy forward selection over all {len(names)} predicates (activity >= {lo:.0%}):")
        for K in (1, 3, 5, 10, 15, 20, 25, 30):
            if K <= n:
                print(f"    K={K:2d}: {cur[:, K - 1].mean():.4f} ± {cur[:, K - 1].std():.4f}")
        print("    most picked (first 15 steps, 5 seeds):", ", ".join(f"{k} ({v})" for k, v in picked.most_common(20)))


_WORD = re.compile(r"[a-z0-9']+")
_STOP = {"the", "a", "an", "of", "and", "in", "to", "on", "for", "with", "la", "le", "les", "de", "el"}


def movies(data_dir: str) -> None:
    from genz.datasets.movies import load_movies

    d = load_movies(data_dir)
    Y = d.Y
    A = [it.attributes for it in d.items]
    cols: dict[str, np.ndarray] = {}
    fam: dict[str, list[str]] = {}

    def add(family, name, v):
        v = np.asarray(v, dtype=float)
        if name not in cols:
            cols[name] = v
            fam.setdefault(family, []).append(name)

    for g, _ in Counter(g for a in A for g in a.get("genres", [])).most_common():
        add("genre", f"genre: {g}", [g in a.get("genres", []) for a in A])
    years = np.array([a.get("year", 0) for a in A], dtype=float)
    for dec in sorted({int(y) // 10 * 10 for y in years}):
        add("decade", f"{dec}s", (years // 10 * 10) == dec)
    for t in range(1930, 2001, 2):
        add("year threshold", f"year >= {t}", years >= t)
    words = Counter(w for a in A for w in set(_WORD.findall(a["title"].lower())) if w not in _STOP)
    for w, c in words.most_common():
        if c >= 3:
            add("title word", f"title has '{w}'", [w in set(_WORD.findall(a["title"].lower())) for a in A])
    names = list(cols)
    pool = np.column_stack([cols[n] for n in names])
    seeds = range(5)
    print(f"movies ({d.name}, convention {d.extra['convention']}): mean test cosine, mean ± std over seeds 0-4 (linear)")
    for family, fnames in fam.items():
        for K in (5, 10, 20, 30, 60):
            res = []
            for s in seeds:
                tr, te = train_test_split_indices(len(Y), s)
                idx = [names.index(n) for n in fnames]
                act = pool[tr][:, idx].mean(axis=0)
                keep = [i for i, a in zip(idx, act) if 0.02 <= a <= 0.98]
                keep = sorted(keep, key=lambda i: -pool[tr, i].sum())[:K]
                res.append(_eval(pool[:, keep], Y, tr, te, mean_cosine))
            print(f"  {family:14s} top-{K:<3d} by frequency {'':12s} {np.mean(res):.4f} ± {np.std(res):.4f}")
            if len(fnames) <= K:
                break
    for ridge in (1e-3,):
        curves = []
        picked = Counter()
        for s in seeds:
            tr, te = train_test_split_indices(len(Y), s)
            steps = _greedy(pool, names, None, Y, tr, 40)
            curves.append([_eval(pool[:, c], Y, tr, te, mean_cosine) for c in steps])
            picked.update(names[j] for j in steps[min(len(steps), 20) - 1])
        n = min(len(c) for c in curves)
        cur = np.array([c[:n] for c in curves])
        print(f"  greedy forward selection over all {len(names)} predicates (activity >= 2%):")
        for K in (1, 3, 5, 10, 15, 20, 25, 30, 35, 40):
            if K <= n:
                print(f"    K={K:2d}: {cur[:, K - 1].mean():.4f} ± {cur[:, K - 1].std():.4f}")
        print("    most picked (first 20 steps, 5 seeds):", ", ".join(f"{k} ({v})" for k, v in picked.most_common(25)))


if __name__ == "__main__":
    {"houses": houses, "movies": movies}[sys.argv[1]](sys.argv[2])
