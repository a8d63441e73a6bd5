"""Text tables: rental listings written as text, with "field: value" clauses, numbers with units
and free sentences. Does ``GenZRegressor()`` read them as well as ridge on word n-grams, better
than a lasso limited to 30 n-grams, find the planted terms (those that live only in numbers
inside the text too), and write descriptors a person can read?

Each item is only a text (no attributes), about 800-1,100 characters, fields in a slightly
shuffled order, e.g.::

    Two-bedroom apartment in a walk-up building. Neighborhood: Harbor Point. Floor area:
    1,120 sq ft. Built 1962, renovated 2015. Condition: 7/10. Bedrooms: 2; bathrooms: 1.5.
    Floor: 3 of 5. Heating: gas forced air. Parking: garage, 1 space. Laundry: in building.
    Pets: cats allowed. Balcony: no. Elevator: yes. Kitchen: updated, gas range, dishwasher.
    Monthly fees: $250. Distance to transit: 0.4 miles. Ceiling height: 9 ft. Windows:
    double-glazed, vinyl frames. Flooring: hardwood, good condition. Storage: 40 sq ft. Listed
    12 days ago. Security deposit: $900. Internet: fiber, up to 500 Mbps. The living room gets
    morning light. Some water damage in the bathroom ceiling. ...

The target is a log monthly rent: a constant, ten planted binary terms with known effects, and
Gaussian noise (sd 0.15). The terms (:data:`TERMS`):

=====  =================================================  ======  ==========================
term   what                                               effect  where it lives
=====  =================================================  ======  ==========================
area   floor area at least 1,200 sq ft                    +0.30   a number with a unit
cond   condition at least 8/10                            +0.25   a rating
built  built in 2000 or later                             +0.20   a year after "built"
nbhd   neighborhood Old Harbor or Union Square            +0.30   a field's value
laund  laundry in unit                                    +0.15   a field's value
water  some water damage (free sentence)                  −0.25   a free phrase
fees   monthly fees at least $400                         −0.15   money
util   utilities included (free sentence)                 +0.12   a free phrase
garage parking in a garage                                +0.15   a word in a field's value
trans  distance to transit below 0.5 miles                +0.15   a decimal with a unit
=====  =================================================  ======  ==========================

Five terms live only in numbers inside the text. Distractors share words with the terms
("Harbor Point" beside "Old Harbor", "in building" beside "in unit", "water pressure",
"utilities are not included", "public garage nearby", "Flooring: ..., good condition" beside
"Condition: 7/10", a second "sq ft" number under "Storage"); bedrooms follow the area
(correlated, no effect of their own); other fields and sentences carry no signal.

Methods, all on the same split per seed (75% train, 25% test):

* ``genz``: ``GenZRegressor()`` with default settings on the texts;
* ``genz30``: the same with a budget of 30 features (``Selection(max_features=30)``), to compare
  with the 30-n-gram lasso at equal budget;
* ``ridge``: TF-IDF of word 1-2-grams (``token_pattern`` keeps one-character tokens such as the
  "7" of "7/10", ``min_df=2``, ``sublinear_tf``) and ``RidgeCV`` over 30 alphas from 1e-2 to 1e3
  (efficient leave-one-out), as a practitioner would write it;
* ``lasso30``: the same TF-IDF features, a lasso whose alpha is chosen by 5-fold
  cross-validation among the alphas of its path that keep at most 30 n-grams.

It prints per seed and in summary: median |error| of the log rent (the headline), RMSE, the
number of features, genz's recall and precision of the planted terms (a feature matches a term
when its training judgments agree with the term, or its complement, on >= 95% of the training
items; recall is also shown for the number terms alone), and the readability check (every kept
descriptor names a field, is a phrase of >= 2 content words, or a number with its field).
Paired per-seed differences ``genz - peer`` of the median |error| come with a 95% t-interval
(``mean ± t · sd/√n``), and the ratio genz/ridge.

``--target smooth`` keeps the texts and replaces the target by one that no short list of terms
writes exactly (log-linear in the area, condition, age, fees and distance, an effect per
neighbourhood and per laundry option, the free phrases; noise sd 0.12), as real prices are:
there the question is only whether 30 binary features come close to ridge (recall is not
defined).

Seeds: ``--seeds dev`` (100-109, the default) are development seeds, the ones looked at while
building the engine; ``--seeds report`` (0-4) are run once and never used to choose anything.

    PYTHONPATH=src python benchmarks/text_tables.py                       # dev seeds 100-109
    PYTHONPATH=src python benchmarks/text_tables.py --seeds report --json text_tables_report.json
    PYTHONPATH=src python benchmarks/text_tables.py --seeds 100 --n 600 --show-features
    PYTHONPATH=src python benchmarks/text_tables.py --target smooth
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genz import GenZRegressor, Item
from genz.experiments.runner import environment, parse_seeds as _parse_seeds

DEV_SEEDS = list(range(100, 110))
REPORT_SEEDS = list(range(5))
MATCH_AGREEMENT = 0.95
NOISE_SD = 0.15

#: (name, effect, lives in a number inside the text)
TERMS: list[tuple[str, float, bool]] = [
    ("floor area at least 1,200 sq ft", 0.30, True),
    ("condition at least 8/10", 0.25, True),
    ("built in 2000 or later", 0.20, True),
    ("neighborhood Old Harbor or Union Square", 0.30, False),
    ("laundry in unit", 0.15, False),
    ("some water damage", -0.25, False),
    ("monthly fees at least $400", -0.15, True),
    ("utilities included", 0.12, False),
    ("parking in a garage", 0.15, False),
    ("distance to transit below 0.5 miles", 0.15, True),
]

_NEIGHBORHOODS = ["Old Harbor", "Union Square", "Harbor Point", "Mill Creek", "North Hills", "South Hills",
                  "Riverside Heights", "East Market", "Cedar Park", "West End", "Lakeview Terrace",
                  "Station District", "Garden Row", "Square Mile"]
_NB_P = np.array([8, 7, 9, 8, 7, 7, 8, 8, 7, 7, 6, 7, 6, 5], float)
_TYPES = ["Studio apartment in a walk-up building", "One-bedroom apartment in a walk-up building",
          "One-bedroom apartment in an elevator building", "Two-bedroom apartment in a walk-up building",
          "Two-bedroom apartment in an elevator building", "Three-bedroom apartment in an elevator building",
          "Loft in a converted warehouse", "Townhouse, end unit", "Townhouse, middle unit",
          "Garden apartment in a small building"]
_HEATING = ["gas forced air", "electric baseboard", "radiator, steam", "heat pump", "gas boiler, radiators"]
_PARKING = ["garage, 1 space", "garage, 2 spaces", "street only", "driveway", "none", "permit street parking"]
_PARKING_P = np.array([0.18, 0.07, 0.3, 0.15, 0.15, 0.15])
_LAUNDRY = ["in unit", "in building", "none nearby", "shared, in basement"]
_LAUNDRY_P = np.array([0.3, 0.35, 0.15, 0.2])
_PETS = ["cats allowed", "cats and dogs allowed", "no pets", "small dogs allowed"]
_KITCHEN = ["updated, gas range, dishwasher", "original, electric range", "renovated, quartz counters",
            "galley, dishwasher", "open plan, island", "small, electric range"]
_YES_NO = ["yes", "no"]
_WINDOWS = ["double-glazed", "single-pane", "triple-glazed"]
_FRAMES = ["vinyl frames", "wood frames", "aluminium frames"]
_FLOORING = ["hardwood", "carpet", "tile", "laminate", "vinyl plank"]
_CONDITION_WORDS = ["good condition", "fair condition", "excellent condition", "worn"]
_INTERNET = ["fiber", "cable", "DSL"]

_WATER = ["Some water damage in the bathroom ceiling.", "Signs of water damage under the kitchen sink.",
          "There is water damage in one bedroom closet.", "Old water damage stains on the hallway ceiling."]
_UTIL = ["Utilities included in the rent.", "All utilities included.", "Rent has utilities included, even internet."]
# free sentences without signal; several share words with the terms
_FREE = [
    "The living room gets morning light.", "Close to shops and restaurants.", "Quiet street with mature trees.",
    "Recently painted throughout.", "Water pressure is strong in every tap.", "Utilities are not included.",
    "A public garage is nearby.", "Hardwood floors in the bedrooms.", "The landlord lives in the building.",
    "Storage unit in the basement.", "Bike room on the ground floor.", "The bathroom has a window.",
    "Large closets in every bedroom.", "The kitchen ceiling is high.", "Some street noise at night.",
    "Damage deposit equal to one month of rent.", "Views of the park from the bedroom.",
    "The building has a shared roof deck.", "Minutes from the harbor walk.", "The unit faces the courtyard.",
    "Square layout with no wasted space.", "Ceiling fans in every room.", "Lease of twelve months minimum.",
    "Smoke free building.", "Available from the first of next month.", "Tenant pays electricity.",
    "New windows were fitted last year.", "The owner manages the building.", "Washer hookups in the hall.",
    "Transit passes are sold at the corner shop.",
]


@dataclass
class Task:
    """One generated data set: items, targets and the truth of every planted term."""

    seed: int
    train_items: list[Item]
    test_items: list[Item]
    y_train: np.ndarray
    y_test: np.ndarray
    T_train: np.ndarray
    T_test: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def _money(x: int) -> str:
    return f"${x:,}"


def make_task(seed: int, n: int = 1200, test_share: float = 0.25, kind: str = "planted") -> Task:
    """Rental listings as text (see the module docstring); deterministic in ``seed``. With
    ``kind="smooth"`` the same texts get a target that no short list of terms writes exactly
    (:func:`_smooth_target`)."""
    rng = np.random.default_rng([seed, 19])
    area = np.round(np.exp(rng.normal(np.log(950), 0.38, n)) / 5) * 5
    area = np.clip(area, 300, 3200).astype(int)
    cond = np.clip(np.round(rng.normal(6.4, 1.6, n)), 1, 10).astype(int)
    year = rng.integers(1905, 2023, n)
    renovated = np.where(rng.random(n) < 0.35, np.minimum(2023, year + rng.integers(5, 60, n)), 0)
    renovated = np.where(renovated > 2022, 0, renovated)
    nbhd = rng.choice(_NEIGHBORHOODS, n, p=_NB_P / _NB_P.sum())
    laundry = rng.choice(_LAUNDRY, n, p=_LAUNDRY_P)
    water = rng.random(n) < 0.2
    fees = (np.round(rng.gamma(4.0, 80.0, n) / 5) * 5).astype(int)
    util = rng.random(n) < 0.3
    parking = rng.choice(_PARKING, n, p=_PARKING_P)
    dist = np.round(np.clip(rng.exponential(0.8, n), 0.1, 6.0), 1)
    bedrooms = np.clip(np.round(area / 420 + rng.normal(0, 0.6, n)), 0, 5).astype(int)
    bathrooms = np.clip(np.round((bedrooms + 1) / 2 + rng.normal(0, 0.4, n)) / 2 * 2, 1, 4)
    bathrooms = np.where(rng.random(n) < 0.3, bathrooms + 0.5, bathrooms)
    floors = rng.integers(2, 13, n)
    floor = np.minimum(floors, rng.integers(1, 13, n))
    T = np.column_stack([
        area >= 1200, cond >= 8, year >= 2000, np.isin(nbhd, ["Old Harbor", "Union Square"]),
        laundry == "in unit", water, fees >= 400, util, np.char.startswith(parking.astype(str), "garage"),
        dist < 0.5,
    ]).astype(int)
    beta = np.array([e for _, e, _ in TERMS])
    y = 7.4 + T @ beta + rng.normal(0, NOISE_SD, n)
    if kind == "smooth":
        y = _smooth_target(np.random.default_rng([seed, 23]), area, cond, year, nbhd, laundry, water, fees, util,
                           parking, dist, n)
    texts = []
    for i in range(n):
        built = f"Built {year[i]}" + (f", renovated {renovated[i]}" if renovated[i] else "") + "."
        fields = [
            f"Neighborhood: {nbhd[i]}.", f"Floor area: {area[i]:,} sq ft.", built, f"Condition: {cond[i]}/10.",
            f"Bedrooms: {bedrooms[i]}; bathrooms: {bathrooms[i]:g}.", f"Floor: {floor[i]} of {floors[i]}.",
            f"Heating: {rng.choice(_HEATING)}.", f"Parking: {parking[i]}.", f"Laundry: {laundry[i]}.",
            f"Pets: {rng.choice(_PETS)}.", f"Balcony: {rng.choice(_YES_NO)}.", f"Elevator: {rng.choice(_YES_NO)}.",
            f"Kitchen: {rng.choice(_KITCHEN)}.", f"Monthly fees: {_money(int(fees[i]))}.",
            f"Distance to transit: {dist[i]:g} miles.",
            # fields without signal
            f"Ceiling height: {int(rng.integers(8, 13))} ft.",
            f"Windows: {rng.choice(_WINDOWS)}, {rng.choice(_FRAMES)}.",
            f"Flooring: {rng.choice(_FLOORING)}, {rng.choice(_CONDITION_WORDS)}.",
            f"Storage: {int(rng.integers(2, 25)) * 5} sq ft.",
            f"Listed {int(rng.integers(1, 90))} days ago.",
            f"Security deposit: {_money(int(rng.integers(5, 40)) * 50)}.",
            f"Internet: {rng.choice(_INTERNET)}, up to {int(rng.choice([100, 200, 300, 500, 1000]))} Mbps.",
        ]
        fields = [fields[j] for j in np.argsort(rng.random(len(fields)) + np.arange(len(fields)) / 8)]
        free = list(rng.choice(_FREE, size=int(rng.integers(4, 9)), replace=False))
        if water[i]:
            free.append(_WATER[int(rng.integers(len(_WATER)))])
        if util[i]:
            free.append(_UTIL[int(rng.integers(len(_UTIL)))])
        free = [free[j] for j in rng.permutation(len(free))]
        texts.append(" ".join([str(_TYPES[int(rng.integers(len(_TYPES)))]) + "."] + fields + free))
    items = [Item(id=f"L{seed}-{i}", text=t) for i, t in enumerate(texts)]
    perm = rng.permutation(n)
    n_test = int(round(test_share * n))
    te, tr = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return Task(seed, [items[i] for i in tr], [items[i] for i in te], y[tr], y[te], T[tr], T[te],
                {"n": n, "mean_chars": float(np.mean([len(t) for t in texts]))})


def _smooth_target(rng, area, cond, year, nbhd, laundry, water, fees, util, parking, dist, n) -> np.ndarray:
    """A target as real prices are: log-linear in the area, the condition, the age, the fees and
    the distance, an effect for every neighbourhood and every laundry option, the same free
    phrases, noise sd 0.12. A binary feature can only approximate it."""
    nb_eff = dict(zip(_NEIGHBORHOODS, rng.normal(0, 0.15, len(_NEIGHBORHOODS))))
    la_eff = dict(zip(_LAUNDRY, [0.12, 0.03, -0.08, 0.0]))
    return (7.4 + 0.6 * np.log(area / 950) + 0.06 * (cond - 6) + 0.003 * (year - 1960)
            + np.array([nb_eff[str(v)] for v in nbhd]) + np.array([la_eff[str(v)] for v in laundry])
            - 0.2 * water + 0.1 * util - 0.0004 * (fees - 300) + 0.12 * np.char.startswith(parking.astype(str), "garage")
            - 0.08 * np.log1p(dist) + rng.normal(0, 0.12, n))


# ----------------------------------------------------------------------------------------------
# peers
# ----------------------------------------------------------------------------------------------

def _tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")


def ridge_ngrams(train: list[str], y: np.ndarray, test: list[str]) -> tuple[np.ndarray, int]:
    """TF-IDF word 1-2-grams and RidgeCV (alphas 1e-2..1e3, leave-one-out)."""
    from sklearn.linear_model import RidgeCV

    vec = _tfidf()
    X = vec.fit_transform(train)
    m = RidgeCV(alphas=np.logspace(-2, 3, 30)).fit(X, y)
    return m.predict(vec.transform(test)), int(X.shape[1])


def lasso_ngrams(train: list[str], y: np.ndarray, test: list[str], max_terms: int = 30,
                 seed: int = 0) -> tuple[np.ndarray, int]:
    """The same TF-IDF features and a lasso whose alpha is chosen by 5-fold CV among the alphas
    of its path (60 on a log grid from the largest useful alpha down to 1/1000 of it) that keep
    at most ``max_terms`` n-grams on all training items."""
    from sklearn.linear_model import Lasso, lasso_path
    from sklearn.model_selection import KFold

    vec = _tfidf()
    X = vec.fit_transform(train)
    Xd = X.toarray()
    Xc, yc = Xd - Xd.mean(axis=0), y - y.mean()
    a_max = float(np.max(np.abs(Xc.T @ yc)) / len(yc))
    grid = a_max * np.logspace(0, -3, 60)
    ok: list[float] = []
    coef = None
    for a in grid:  # walk down the path until more than max_terms n-grams are in
        _, c, _ = lasso_path(Xc, yc, alphas=[a], coef_init=coef)
        coef = c[:, 0]
        if np.count_nonzero(coef) > max_terms:
            break
        ok.append(a)
    ok_arr = np.array(ok)
    errs = np.zeros(ok_arr.size)
    for tr, va in KFold(5, shuffle=True, random_state=seed).split(Xd):
        mu_x, mu_y = Xd[tr].mean(axis=0), y[tr].mean()
        _, c, _ = lasso_path(Xd[tr] - mu_x, y[tr] - mu_y, alphas=ok_arr)
        pred = (Xd[va] - mu_x) @ c + mu_y
        errs += ((pred - y[va, None]) ** 2).sum(axis=0)
    alpha = float(ok_arr[int(np.argmin(errs))])
    m = Lasso(alpha=alpha, max_iter=20000).fit(Xd, y)
    k = int(np.count_nonzero(m.coef_))
    if k > max_terms:  # the single fit and the path can differ by a term at the boundary
        keep = np.argsort(-np.abs(m.coef_))[:max_terms]
        coef = np.zeros_like(m.coef_)
        coef[keep] = m.coef_[keep]
        return np.asarray(vec.transform(test) @ coef + m.intercept_).ravel(), max_terms
    return m.predict(vec.transform(test).toarray()), k


# ----------------------------------------------------------------------------------------------
# scoring
# ----------------------------------------------------------------------------------------------

def agreement(B: np.ndarray, T: np.ndarray) -> np.ndarray:
    """K×M: share of items on which feature k agrees with term m or with its complement."""
    B, T = np.asarray(B, float), np.asarray(T, float)
    if B.shape[1] == 0:
        return np.zeros((0, T.shape[1]))
    same = (B.T @ T + (1 - B).T @ (1 - T)) / B.shape[0]
    return np.maximum(same, 1 - same)


def score_features(B: np.ndarray, T: np.ndarray) -> dict[str, Any]:
    A = agreement(B, T)
    match = A >= MATCH_AGREEMENT
    K, M = A.shape
    found = match.any(axis=0) if K else np.zeros(M, bool)
    num = np.array([t[2] for t in TERMS])
    return {"recall": float(found.mean()), "recall_numbers": float(found[num].mean()),
            "precision": float(match.any(axis=1).mean()) if K else 0.0, "term_found": found.tolist()}


_CONTENT = re.compile(r"[^\W\d_]+")


def readable(descriptor: str) -> bool:
    """The readability check: the descriptor names a field (an attribute, or a field of the
    text: ``the text's 'x' ...``), is a phrase of >= 2 content words (words outside
    scikit-learn's English stop-word list), or a number with its field; a conjunction when
    both parts are."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    d = descriptor.strip()
    m = re.fullmatch(r"\((.*)\) and \((.*)\)", d)
    if m and readable(m.group(1)) and readable(m.group(2)):
        return True
    if re.match(r"^the text's (?:'[^']+'|area|amount|distance|percentage|rating|number of [^\d]+?) ", d) or \
            re.match(r"^the text (?:lists|has) '", d):
        return True  # a field of the text, or a number with its field or unit
    if re.match(r"^(?:'[^']*'|attribute \")", d):
        return True  # an attribute
    m = re.fullmatch(r'mentions "(.*)"', d)
    if m:
        words = [w.lower() for w in _CONTENT.findall(m.group(1))]
        return sum(w not in ENGLISH_STOP_WORDS for w in words) >= 2
    return False


def _fewest_digits(lo: float, hi: float, upper: bool = False) -> int:
    """The fewest significant digits of a float in (lo, hi] (``upper``: in [lo, hi)), by
    scanning decimal grids from coarse to fine and counting the digits of the points inside
    (independent of the engine's own rule)."""
    import math
    from decimal import ROUND_FLOOR, Decimal

    from genz.fm.predicates.numfmt import digits

    inside = (lambda t: lo <= t < hi) if upper else (lambda t: lo < t <= hi)
    if inside(0.0):
        return 0
    top = math.floor(math.log10(max(abs(lo), abs(hi))))
    found: list[int] = []
    for d in range(1, 19):
        step = Decimal(1).scaleb(top - d + 1)
        for x in (lo, hi):
            k = int((Decimal(x) / step).to_integral_value(ROUND_FLOOR))
            found += [digits(float(j * step)) for j in range(k - 1, k + 3) if inside(float(j * step))]
        if found and d > min(found):
            return min(found)
    return min(found) if found else 17


def threshold_digits(features: list[str], items: list[Item]) -> tuple[int, int]:
    """(thresholds checked, thresholds printed with more significant digits than separate the
    neighbouring observed values of ``items``)."""
    from genz.fm.predicates import And, AtLeast, Below, Between, Not, parse_predicate
    from genz.fm.predicates.numfmt import digits
    from genz.fm.predicates.predicate import numbers_of

    def cuts(p):
        if isinstance(p, (AtLeast, Below)):
            return [(p.attr, p.t, False)]
        if isinstance(p, Between) and p.lo != p.hi:
            return [(p.attr, p.lo, False), (p.attr, p.hi, True)]
        if isinstance(p, Not):
            return cuts(p.inner)
        if isinstance(p, And):
            return cuts(p.left) + cuts(p.right)
        return []

    checked = excess = 0
    for f in features:
        try:
            p = parse_predicate(f)
        except Exception:  # noqa: BLE001 - a descriptor outside the engine's grammar has no threshold to check
            continue
        for attr, t, upper in cuts(p):
            v = numbers_of(items, attr)
            v = v[np.isfinite(v)]
            lo, hi = (v[v <= t], v[v > t]) if upper else (v[v < t], v[v >= t])
            if lo.size and hi.size:
                checked += 1
                excess += digits(t) > _fewest_digits(float(lo.max()), float(hi.min()), upper)
    return checked, excess


def median_abs(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.median(np.abs(np.asarray(y) - np.asarray(p))))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def run_seed(seed: int, n: int, methods: tuple[str, ...] = ("genz", "ridge", "lasso30"),
             kind: str = "planted") -> dict[str, Any]:
    task = make_task(seed, n, kind=kind)
    tr = [it.text for it in task.train_items]
    te = [it.text for it in task.test_items]
    out: dict[str, Any] = {"seed": seed, "n": n, "kind": kind, "mean_chars": task.meta["mean_chars"]}
    oracle = np.linalg.lstsq(np.column_stack([np.ones(len(tr)), task.T_train]), task.y_train, rcond=None)[0]
    p = np.column_stack([np.ones(len(te)), task.T_test]) @ oracle
    out["oracle"] = {"median_abs": median_abs(task.y_test, p), "rmse": rmse(task.y_test, p), "K": len(TERMS)}
    if "ridge" in methods:
        t0 = time.perf_counter()
        p, k = ridge_ngrams(tr, task.y_train, te)
        out["ridge"] = {"median_abs": median_abs(task.y_test, p), "rmse": rmse(task.y_test, p), "K": k,
                        "seconds": time.perf_counter() - t0}
    if "lasso30" in methods:
        t0 = time.perf_counter()
        p, k = lasso_ngrams(tr, task.y_train, te, seed=seed)
        out["lasso30"] = {"median_abs": median_abs(task.y_test, p), "rmse": rmse(task.y_test, p), "K": k,
                          "seconds": time.perf_counter() - t0}
    for name, params in (("genz", {}), ("genz30", {"selection": {"max_features": 30}})):
        if name not in methods:
            continue
        np.random.seed(seed)  # random_state=None draws from NumPy's global state, as scikit-learn does
        est = GenZRegressor(**params)
        t0 = time.perf_counter()
        est.fit(task.train_items, task.y_train)
        secs = time.perf_counter() - t0
        p = est.predict(task.test_items)
        feats = [str(f) for f in est.features_]
        B = est.transform(task.train_items) if feats else np.zeros((len(tr), 0))
        sc = score_features(B, task.T_train)
        findings = getattr(est, "findings_", None)
        checked, excess = threshold_digits(feats, task.train_items)
        g = {"median_abs": median_abs(task.y_test, p), "rmse": rmse(task.y_test, p), "K": len(feats),
             "seconds": secs, "features": feats, "unreadable": [f for f in feats if not readable(f)],
             "thresholds": checked, "threshold_excess_digits": excess, **sc,
             "text_check": getattr(est, "text_check_", None)}
        if findings is not None:
            idx = [feats.index(str(f)) for f in findings if str(f) in feats]
            fs = score_features(B[:, idx], task.T_train) if idx else {"recall": 0.0, "precision": 0.0}
            g.update(findings=[str(f) for f in findings], findings_recall=fs["recall"],
                     findings_precision=fs["precision"])
        out[name] = g
    return out


def paired(d: np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences and its 95% t-interval (the experiments' own
    :func:`genz.experiments.runner.paired_difference`; NaN bounds with fewer than 2 seeds)."""
    from genz.experiments.runner import paired_difference

    r = paired_difference(d, np.zeros(len(d)), higher_is_better=False)
    nan = float("nan")
    return r["mean"], nan if r["low"] is None else r["low"], nan if r["high"] is None else r["high"]


def summarize(results: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": [r["seed"] for r in results]}
    for m in ("genz", "genz30", "ridge", "lasso30", "oracle"):
        if all(m in r for r in results):
            out[m] = {k: float(np.mean([r[m][k] for r in results])) for k in ("median_abs", "rmse", "K")}
    for gm in ("genz", "genz30"):
        if not all(gm in r for r in results):
            continue
        g = [r[gm] for r in results]
        out[gm].update(recall=float(np.mean([x["recall"] for x in g])),
                           recall_numbers=float(np.mean([x["recall_numbers"] for x in g])),
                           precision=float(np.mean([x["precision"] for x in g])),
                           unreadable=sum(len(x["unreadable"]) for x in g),
                           thresholds=sum(x["thresholds"] for x in g),
                           threshold_excess_digits=sum(x["threshold_excess_digits"] for x in g),
                           max_K=int(max(x["K"] for x in g)))
        for peer in ("ridge", "lasso30"):
            if all(peer in r for r in results):
                d = np.array([r[gm]["median_abs"] - r[peer]["median_abs"] for r in results])
                mean, lo, hi = paired(d)
                ratio = np.array([r[gm]["median_abs"] / r[peer]["median_abs"] for r in results])
                verdict = "tie" if not (hi < 0 or lo > 0) else (f"{gm} better" if hi < 0 else f"{gm} worse")
                out[f"{gm}_vs_{peer}" if gm != "genz" else f"vs_{peer}"] = {"diff": mean, "ci": [lo, hi], "verdict": verdict,
                                     "ratio_mean": float(ratio.mean()), "ratio_max": float(ratio.max())}
    return out


def parse_seeds(spec: str) -> list[int]:
    """``dev`` (100-109), ``report`` (0-4), ``"0-4"``, ``"1,3,7"``."""
    return _parse_seeds(spec, {"dev": DEV_SEEDS, "report": REPORT_SEEDS, "reported": REPORT_SEEDS})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="dev", help="dev (100-109, default), report (0-4), or e.g. 100-102")
    ap.add_argument("--n", type=int, default=1200, help="items per data set (default 1200)")
    ap.add_argument("--methods", default="genz,genz30,ridge,lasso30")
    ap.add_argument("--json", help="write every number to this file")
    ap.add_argument("--show-features", action="store_true", help="print genz's features per seed")
    ap.add_argument("--diag-se", metavar="KEEP,FINAL", default=None,
                    help="diagnostic only, not genz's defaults: set genz.selection.KEEP_SE and FINAL_SE (a feature is "
                         "kept when its cross-validated gain exceeds KEEP standard errors; the structure is the "
                         "smallest within FINAL standard errors of the best step)")
    ap.add_argument("--target", choices=("planted", "smooth"), default="planted",
                    help="planted: ten binary terms (recall is measured); smooth: a log-linear target in the "
                         "numbers and per-category effects that no short list of terms writes exactly")
    a = ap.parse_args(argv)
    seeds = parse_seeds(a.seeds)
    if a.diag_se:
        import genz.selection as sel

        sel.KEEP_SE, sel.FINAL_SE = (float(x) for x in a.diag_se.split(","))
        print(f"DIAGNOSTIC: genz.selection.KEEP_SE={sel.KEEP_SE}, FINAL_SE={sel.FINAL_SE} (not the defaults)")
    kind = "reported" if set(seeds) <= set(REPORT_SEEDS) else "development"
    methods = tuple(m.strip() for m in a.methods.split(",") if m.strip())
    print(f"text tables ({a.target} target): {len(seeds)} {kind} seed(s), n={a.n}, methods {', '.join(methods)}",
          flush=True)
    results = []
    for s in seeds:
        r = run_seed(s, a.n, methods, kind=a.target)
        results.append(r)
        cells = [f"seed {s}"]
        for m in ("genz", "genz30", "ridge", "lasso30", "oracle"):
            if m in r:
                cells.append(f"{m} {r[m]['median_abs']:.4f} (K={r[m]['K']})")
        if "genz" in r:
            g = r["genz"]
            cells.append(f"recall {g['recall']:.2f} (numbers {g['recall_numbers']:.2f}) precision {g['precision']:.2f} "
                         f"unreadable {len(g['unreadable'])} {g['seconds']:.0f}s")
        print("  ".join(cells), flush=True)
        if a.show_features and "genz" in r:
            for f in r["genz"]["features"]:
                print("      " + f)
            if r["genz"]["unreadable"]:
                print("      unreadable: " + "; ".join(r["genz"]["unreadable"]))
    summ = summarize(results)
    print(f"\nsummary over {kind} seeds {a.seeds}:")
    for m in ("genz", "genz30", "ridge", "lasso30", "oracle"):
        if m in summ:
            print(f"  {m:8s} median |error| {summ[m]['median_abs']:.4f}  rmse {summ[m]['rmse']:.4f}  K {summ[m]['K']:.1f}")
    for gm in ("genz", "genz30"):
        if gm not in summ or "recall" not in summ[gm]:
            continue
        g = summ[gm]
        print(f"  {gm} recall {g['recall']:.3f} (number terms {g['recall_numbers']:.3f}), precision {g['precision']:.3f}, "
              f"max K {g['max_K']}, unreadable descriptors {g['unreadable']}, thresholds with more digits than "
              f"their neighbours need {g['threshold_excess_digits']} of {g['thresholds']}")
    for gm in ("genz", "genz30"):
        for peer in ("ridge", "lasso30"):
            v = summ.get(f"vs_{peer}" if gm == "genz" else f"{gm}_vs_{peer}")
            if v:
                print(f"  {gm} - {peer}: {v['diff']:+.4f} [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}] ({v['verdict']}); "
                      f"ratio {gm}/{peer} mean {v['ratio_mean']:.3f}, max {v['ratio_max']:.3f}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump({"kind": kind, "results": results, "summary": summ, "platform": environment()}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
