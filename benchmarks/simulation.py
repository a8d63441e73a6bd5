"""Simulation: one fit, two answers, measured against the truth at realistic signal-to-noise.

A generator written for this benchmark (not shared with ``benchmarks/planted.py``): a wine
shop's catalogue. Each item has numeric attributes (price, vintage, alcohol, bottle size),
categorical ones (region, grape, colour, winery: 40 names), booleans (organic, screw cap) and
a short tasting note whose sentences share words with the phrases that matter. Attributes are
correlated as in real catalogues (grape follows region, price follows region and age, screw
caps are common in two regions), so a proxy of a true term is always at hand.

Per seed, 3-6 *true terms* are drawn from a pool of ten (thresholds, categories, booleans,
phrases; :data:`TERM_POOL`), each with an effect of magnitude U(0.3, 1.0) and a random sign,
and a noise sd σ ~ U(0.5, 1.0). The noise is Student-t with 5 degrees of freedom scaled to
variance σ² (heavier tails than Gaussian, as real residuals are). The target is
``y = 3 + Σ_m effect_m · term_m + noise``. Settings:

=================  ==========================================================
``N300``           300 training items
``N1000``          1,000 training items
``null300``        300 training items, pure-noise target (no term)
``null1000``       1,000 training items, pure-noise target
=================  ==========================================================

Every fit is scored on 1,000 fresh test items from the same generator. Methods, on the same
inputs:

* ``genz``: ``GenZRegressor()`` with its **defaults** (the offline predicate engine);
* ``ridge``: ``RidgeCV`` on standardised numbers, one-hot categories, booleans and the TF-IDF
  (words and bigrams) of the note, as a practitioner would write it;
* ``lasso``: ``LassoCV`` (5-fold) on the same columns;
* ``oracle``: ordinary least squares on the true terms.

Printed per setting:

* the predictor's **excess test MSE** ``mean (ŷ − f(x))²`` over the test items, where ``f`` is
  the noiseless mean (equal in expectation to test MSE minus the noise variance), of genz,
  ridge, lasso and the oracle, and the paired per-seed differences genz − peer with 95%
  t-intervals (an interval covering 0 is a tie);
* the **findings** (``est.findings_``, a subset of the predictor's features tested on rows that
  no choice touched, ``est.inference_``): findings per fit; the false-discovery proportion
  (findings matching no true term / findings, 0 for a fit without findings), its mean over
  seeds with a 95% interval, against the stated level ``est.inference_.error_rate``; the share
  of pure-noise fits with no finding; the coverage of the findings' 95% intervals
  (``ci_low``/``ci_high`` of ``feature_table()``) of the planted effect of the matched term
  (sign flipped when the finding is the term's complement; 0 for a finding matching no term);
  the number of findings whose interval contains 0; and the false findings, with how many of
  them are proxies of a true term (agreement 85-95%). Two references beside the coverage: the
  coverage of the *parameter each interval estimates* (the least-squares coefficient of the
  noiseless mean on the tested structure over the untouched rows, ``projection_truth``: the
  planted effect when the structure holds every true term, a proxy's share of it otherwise), and
  the coverage of the planted effects by the *oracle's* 95% intervals (least squares on the true
  terms) on the same untouched rows, which says how lucky those rows were;
* ``K`` (the predictor's features) and, per pool term, how often it was planted and its
  recall by the predictor and by the findings.

A feature *matches* a term when its judgments on the training items agree with the term, or
with its complement, on at least 95% of them (as ``benchmarks/planted.py`` scores).

When the estimator has no ``findings_`` (a genz before the two-answer fit), the findings are
the rows of ``feature_table()`` marked ``significant`` and the stated level is taken as 0.05;
the output says so on its first line.

Seeds: ``--seeds dev`` (the default, 1000-1039) are development seeds, the only ones to look
at while choosing anything; ``--seeds report`` (0-39) are run once at the end. Fits run in
``--jobs`` processes (default 2, threads pinned to 1 in each).

    OMP_NUM_THREADS=1 python benchmarks/simulation.py                              # dev, all settings
    OMP_NUM_THREADS=1 python benchmarks/simulation.py --settings N300,null300 --seeds 1000-1009
    OMP_NUM_THREADS=1 python benchmarks/simulation.py --seeds report --json sim.json  # once, to report
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

from genz import GenZRegressor, Item  # noqa: E402
from genz.experiments.runner import environment, parse_seeds as _parse_seeds  # noqa: E402
from genz.tree_route import check_record, predictor_alone  # noqa: E402

DEV_SEEDS = list(range(1000, 1040))
REPORT_SEEDS = list(range(0, 40))
SETTINGS = {"N300": (300, False), "N1000": (1000, False), "null300": (300, True), "null1000": (1000, True)}
N_TEST = 1000
MATCH_AGREEMENT = 0.95
#: a false finding that agrees with a true term (or its complement) on at least this share of
#: the items is counted apart as a *proxy* (e.g. "vintage between 2008 and 2020" for "vintage
#: below 2008"): still false by the 95% rule, but not junk
PROXY_AGREEMENT = 0.85
INTERCEPT = 3.0
T_DF = 5

# ----------------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------------

REGIONS = ["Douro", "Rioja", "Bordeaux", "Tuscany", "Mosel", "Napa", "Mendoza", "Barossa"]
REGION_P = [0.14, 0.15, 0.16, 0.13, 0.1, 0.12, 0.1, 0.1]
#: each region's usual grape (60% of its wines); the rest are drawn from all grapes
REGION_GRAPE = {"Douro": "Touriga Nacional", "Rioja": "Tempranillo", "Bordeaux": "Merlot", "Tuscany": "Sangiovese",
                "Mosel": "Riesling", "Napa": "Cabernet Sauvignon", "Mendoza": "Malbec", "Barossa": "Shiraz"}
GRAPES = sorted(set(REGION_GRAPE.values()) | {"Pinot Noir", "Chardonnay", "Syrah"})
#: the grape of a wine that is not its region's usual one (Pinot Noir is grown everywhere)
GRAPE_P = np.array([0.25 if g == "Pinot Noir" else 0.75 / (len(GRAPES) - 1) for g in GRAPES])
WHITE = {"Riesling", "Chardonnay"}
REGION_PRICE = {"Douro": 0.1, "Rioja": 0.0, "Bordeaux": 0.5, "Tuscany": 0.3, "Mosel": 0.1, "Napa": 0.6,
                "Mendoza": -0.2, "Barossa": 0.1}
SCREW_CAP = {"Mosel": 0.6, "Barossa": 0.6}  # elsewhere 0.15
WINERY_WORDS = ["Quinta", "Bodega", "Château", "Tenuta", "Weingut", "Estate", "Finca", "Domaine"]
WINERY_NAMES = ["da Serra", "Alta", "Belmont", "del Sole", "Kessler", "Oak Ridge", "Los Andes", "Rocha",
                "Vallis", "Greenhill"]

#: phrase → sentences that state it (the phrase verbatim); each item's note states a phrase
#: with the phrase's base rate, whether or not the phrase is a true term in this seed
PHRASES = {
    "mineral finish": ["It closes with a mineral finish.", "A clean, mineral finish lingers.",
                       "Expect a mineral finish after the fruit."],
    "oak barrels": ["Aged for a year in oak barrels.", "Part of the wine rests in oak barrels.",
                    "The winemaker uses old oak barrels."],
    "jammy": ["Ripe and jammy on the palate.", "The fruit is jammy and soft.", "A jammy, generous style."],
}
PHRASE_RATE = {"mineral finish": 0.22, "oak barrels": 0.3, "jammy": 0.15}
#: sentences that share words with the phrases and carry no signal
DISTRACTORS = [
    "The finish is short and fresh.", "Oak trees line the road to the winery.", "Minerals in the soil are often praised.",
    "The barrels room is open to visitors.", "Serve slightly chilled.", "A good match for grilled fish.",
    "Bright red fruit on the nose.", "Soft tannins and a long finish.", "Harvested by hand.",
    "The label shows the old estate house.", "Decant for an hour before serving.", "Notes of pepper and spice.",
    "Family owned for three generations.", "Low yields from old vines.", "Pairs well with cheese.",
    "The jam factory next door supplies the fruit shop.", "A finish of citrus peel.", "Grown on steep slopes.",
]


@dataclass(frozen=True)
class Term:
    """A candidate true term: its name (as the offline engine would phrase it), its attribute,
    and how to compute it from the generated columns."""

    name: str
    kind: str  # threshold, category, boolean, phrase


#: the pool from which each seed draws its 3-6 true terms
TERM_POOL = [
    Term("'vintage' is below 2008", "threshold"),
    Term("'alcohol' is at least 14", "threshold"),
    Term("'price_eur' is at least 40", "threshold"),
    Term("'region' is \"Douro\"", "category"),
    Term("'grape' is \"Pinot Noir\"", "category"),
    Term("'organic' is \"true\"", "boolean"),
    Term("'screw_cap' is \"true\"", "boolean"),
    Term('mentions "mineral finish"', "phrase"),
    Term('mentions "oak barrels"', "phrase"),
    Term('mentions "jammy"', "phrase"),
]


def _catalogue(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], np.ndarray]:
    """``n`` wines: attribute dicts, tasting notes, and the N×len(TERM_POOL) truth of every pool term."""
    region = rng.choice(REGIONS, n, p=REGION_P)
    own = rng.random(n) < 0.6
    grape = np.where(own, [REGION_GRAPE[r] for r in region], rng.choice(GRAPES, n, p=GRAPE_P))
    colour = np.where(np.isin(grape, list(WHITE)), "white", np.where(rng.random(n) < 0.08, "rosé", "red"))
    vintage = rng.integers(1998, 2023, n)
    alcohol = np.round(np.clip(rng.normal(13.3, 0.8, n) + 0.4 * np.isin(grape, ["Shiraz", "Malbec", "Syrah"]), 10.5, 15.8), 1)
    age = 2024 - vintage
    log_price = (2.6 + np.array([REGION_PRICE[r] for r in region]) + 0.035 * age + rng.normal(0, 0.45, n))
    price = np.round(np.exp(log_price), 2)
    organic = rng.random(n) < 0.3
    screw = rng.random(n) < np.array([SCREW_CAP.get(r, 0.15) for r in region])
    bottle = rng.choice([375, 750, 750, 750, 1500], n)
    winery = [f"{rng.choice(WINERY_WORDS)} {rng.choice(WINERY_NAMES)}" for _ in range(n)]
    said = {p: rng.random(n) < r for p, r in PHRASE_RATE.items()}
    attrs, notes = [], []
    for i in range(n):
        sentences = list(rng.choice(DISTRACTORS, size=int(rng.integers(2, 5)), replace=False))
        for p, on in said.items():
            if on[i]:
                sentences.append(PHRASES[p][int(rng.integers(len(PHRASES[p])))])
        order = rng.permutation(len(sentences))
        notes.append(f"{colour[i].capitalize()} wine from {region[i]}. " + " ".join(sentences[j] for j in order))
        attrs.append({
            "winery": winery[i], "region": str(region[i]), "grape": str(grape[i]), "colour": str(colour[i]),
            "vintage": int(vintage[i]), "alcohol": float(alcohol[i]), "price_eur": float(price[i]),
            "bottle_ml": int(bottle[i]), "organic": bool(organic[i]), "screw_cap": bool(screw[i]),
        })
    T = np.column_stack([
        vintage < 2008, alcohol >= 14.0, price >= 40.0, region == "Douro", grape == "Pinot Noir", organic, screw,
        said["mineral finish"], said["oak barrels"], said["jammy"],
    ]).astype(int)
    return attrs, notes, T


@dataclass
class Simulation:
    """One data set: training and test items, targets, the noiseless test mean, the terms."""

    setting: str
    seed: int
    train_items: list[Item]
    test_items: list[Item]
    y_train: np.ndarray
    y_test: np.ndarray
    f_test: np.ndarray  # noiseless mean of the test targets
    sigma: float
    terms: list[str]  # names of the true terms (pool order)
    effects: np.ndarray  # their planted effects
    T_train: np.ndarray  # N×M truth of the true terms
    T_test: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def make_simulation(setting: str, seed: int) -> Simulation:
    """The data set of ``setting`` (:data:`SETTINGS`) for ``seed``: deterministic."""
    n, null = SETTINGS[setting]
    rng = np.random.default_rng([seed, n, int(null)])
    M = 0 if null else int(rng.integers(3, 7))
    chosen = np.sort(rng.choice(len(TERM_POOL), size=M, replace=False)) if M else np.zeros(0, dtype=int)
    effects = rng.uniform(0.3, 1.0, M) * rng.choice([-1.0, 1.0], M)
    sigma = float(rng.uniform(0.5, 1.0))
    attrs, notes, T = _catalogue(rng, n + N_TEST)
    T = T[:, chosen]
    f = INTERCEPT + T @ effects
    noise = rng.standard_t(T_DF, n + N_TEST) * sigma / math.sqrt(T_DF / (T_DF - 2))
    y = f + noise
    items = [Item(id=f"w{seed}-{i}", text=notes[i], attributes=attrs[i]) for i in range(n + N_TEST)]
    return Simulation(setting, seed, items[:n], items[n:], y[:n], y[n:], f[n:], sigma,
                      [TERM_POOL[j].name for j in chosen], effects, T[:n], T[n:])


# ----------------------------------------------------------------------------------------------
# peers: what a practitioner fits on the same inputs
# ----------------------------------------------------------------------------------------------

NUMERIC = ["vintage", "alcohol", "price_eur", "bottle_ml"]
CATEGORICAL = ["winery", "region", "grape", "colour"]
BOOLEAN = ["organic", "screw_cap"]


def _frame(items: list[Item]) -> Any:
    import pandas as pd

    rows = [{**{k: it.attributes.get(k) for k in NUMERIC + CATEGORICAL}, **{k: float(bool(it.attributes.get(k)))
             for k in BOOLEAN}, "note": it.text} for it in items]
    return pd.DataFrame(rows)


def practitioner_model(kind: str, seed: int) -> Any:
    """``RidgeCV`` or ``LassoCV`` on standardised numbers, one-hot categories (unseen: zeros),
    booleans and the TF-IDF of the note (words and bigrams in at least 2 notes)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LassoCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([
        ("num", StandardScaler(), NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ("bool", "passthrough", BOOLEAN),
        ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "note"),
    ], sparse_threshold=0.0)
    if kind == "ridge":
        model = RidgeCV(alphas=np.logspace(-3, 4, 29))
    else:
        model = LassoCV(cv=5, random_state=seed, max_iter=20000, n_jobs=1)
    return make_pipeline(columns, model)


def oracle_predictions(sim: Simulation) -> np.ndarray:
    """OLS on the true terms (intercept only for a pure-noise target)."""
    A = np.hstack([np.ones((len(sim.y_train), 1)), sim.T_train])
    B = np.hstack([np.ones((len(sim.y_test), 1)), sim.T_test])
    coef, *_ = np.linalg.lstsq(A, sim.y_train, rcond=None)
    return B @ coef


# ----------------------------------------------------------------------------------------------
# scoring
# ----------------------------------------------------------------------------------------------


def agreement(B: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K×M agreement of feature k with term m or its complement, and whether the complement
    is the better match (then the feature's effect is minus the term's)."""
    B, T = np.asarray(B, dtype=float), np.asarray(T, dtype=float)
    if B.shape[1] == 0 or T.shape[1] == 0:
        return np.zeros((B.shape[1], T.shape[1])), np.zeros((B.shape[1], T.shape[1]), dtype=bool)
    same = (B.T @ T + (1 - B).T @ (1 - T)) / B.shape[0]
    return np.maximum(same, 1 - same), same < 0.5


def match_terms(B: np.ndarray, T: np.ndarray, effects: np.ndarray) -> list[tuple[int | None, float]]:
    """For each feature (column of B): the index of the true term it matches (agreement ≥ 95%,
    the best one) or ``None``, and the effect it should estimate (the term's, negated for the
    complement; 0 when it matches none)."""
    A, flipped = agreement(B, T)
    out: list[tuple[int | None, float]] = []
    for k in range(A.shape[0]):
        if A.shape[1] and A[k].max() >= MATCH_AGREEMENT:
            m = int(np.argmax(A[k]))
            out.append((m, float(-effects[m] if flipped[k, m] else effects[m])))
        else:
            out.append((None, 0.0))
    return out


def _table_rows(est: Any) -> list[dict[str, Any]]:
    table = est.feature_table()
    return table.to_dict("records") if hasattr(table, "to_dict") else [dict(r) for r in table]


def findings_of(est: Any) -> tuple[list[str], dict[str, dict[str, Any]], float, str]:
    """The fit's findings, each one's feature-table row, the stated error level, and where
    they came from (``"findings_"``, or ``"significant"`` for a genz without the two answers)."""
    rows = {str(r["feature"]): r for r in _table_rows(est)} if list(est.features_) else {}
    found = getattr(est, "findings_", None)
    if found is not None:
        inference = getattr(est, "inference_", None)
        level = float(getattr(inference, "error_rate", np.nan)) if inference is not None else float("nan")
        if not math.isfinite(level):
            sel = getattr(est, "selection", None)
            level = float(getattr(sel, "error_rate", 0.05) if sel is not None else 0.05)
        return [str(f) for f in found], rows, level, "findings_"
    sig = [f for f, r in rows.items() if bool(r.get("significant"))]
    return sig, rows, 0.05, "significant"


def _untouched_rows(est: Any, sim: Simulation) -> np.ndarray | None:
    """The indices, among the training items, of the rows the findings were tested on (None
    without untouched rows)."""
    inf = getattr(est, "inference_", None)
    if inf is None or not list(inf.ids):
        return None
    pos = {it.id: i for i, it in enumerate(sim.train_items)}
    return np.array([pos[i] for i in inf.ids])


def projection_truth(est: Any, sim: Simulation) -> dict[str, float]:
    """What each tested feature's interval estimates: the least-squares coefficient of the
    *noiseless* mean ``f`` on the tested structure (its judgments on the untouched rows, with a
    constant), ``(XᵀX)⁻¹Xᵀf``. The least-squares estimate on those rows is unbiased for it
    whatever the structure; it equals the planted effect when the structure holds every true term
    and nothing that changes it. Empty without untouched rows."""
    inf, iu = getattr(est, "inference_", None), _untouched_rows(est, sim)
    if iu is None or not list(inf.features):
        return {}
    its = [sim.train_items[i] for i in iu]
    ok = np.asarray(inf.identified, bool)
    feats = [f for f, k in zip(inf.features, ok) if k]
    if not feats:
        return {}
    Q = np.column_stack([np.asarray(est.fm_.judge(f, its).values, dtype=float) for f in feats])
    X = np.column_stack([Q, np.ones(len(iu))])
    f_u = INTERCEPT + sim.T_train[iu] @ sim.effects
    beta = np.linalg.lstsq(X, f_u, rcond=None)[0]
    return {f: float(b) for f, b in zip(feats, beta[:-1])}


def oracle_row_coverage(est: Any, sim: Simulation) -> list[bool]:
    """For reference: whether the 95% t-interval of ordinary least squares on the *true* terms,
    on the same untouched rows, covers each planted effect (what the best possible structure's
    intervals would do on these rows). Empty without untouched rows or terms."""
    from scipy.stats import t as student

    iu = _untouched_rows(est, sim)
    if iu is None or not len(sim.effects):
        return []
    X = np.column_stack([sim.T_train[iu].astype(float), np.ones(len(iu))])
    y = sim.y_train[iu]
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    df = len(iu) - np.linalg.matrix_rank(X)
    r = y - X @ beta
    se = np.sqrt(np.maximum(np.diag(np.linalg.pinv(X.T @ X)) * float(r @ r) / df, 0.0))[:-1]
    return [bool(abs(b - e) <= student.ppf(0.975, df) * s) for b, e, s in zip(beta[:-1], sim.effects, se)]


def run_one(setting: str, seed: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit genz (defaults, or ``params`` for a development comparison), ridge, lasso and the
    oracle on one simulated data set; score them."""
    from threadpoolctl import threadpool_limits

    sim = make_simulation(setting, seed)
    rec: dict[str, Any] = {"setting": setting, "seed": seed, "sigma": sim.sigma, "terms": sim.terms,
                           "effects": sim.effects.tolist()}
    with threadpool_limits(limits=1):
        np.random.seed(seed)  # GenZRegressor(random_state=None) draws from the global state, as sklearn does
        est = GenZRegressor(**(params or {}))
        t0 = time.perf_counter()
        est.fit(sim.train_items, sim.y_train)
        rec["seconds"] = time.perf_counter() - t0
        rec["zero_shot"] = getattr(est, "baseline_", None)  # the fit's zero-shot check (README)
        rec["numbers_check"] = getattr(est, "numbers_check_", None)  # the numbers check, "route" when taken
        rec["text_check"] = getattr(est, "text_check_", None)  # the text check (a report)
        rec["tree_route"] = check_record(est)  # the tree route's check, "route" when taken
        preds = {"genz": np.asarray(est.predict(sim.test_items), dtype=float).ravel()}
        if rec["tree_route"] and rec["tree_route"]["route"]:  # the same fit's predictor without the trees' blend
            alone = np.asarray(predictor_alone(est).predict(sim.test_items), dtype=float).ravel()
            rec["tree_route"]["excess_mse_without"] = float(np.mean((alone - sim.f_test) ** 2))
        for kind in ("ridge", "lasso"):
            frame_tr, frame_te = _frame(sim.train_items), _frame(sim.test_items)
            preds[kind] = np.asarray(practitioner_model(kind, seed).fit(frame_tr, sim.y_train).predict(frame_te)).ravel()
        preds["oracle"] = oracle_predictions(sim)
    rec["excess_mse"] = {k: float(np.mean((p - sim.f_test) ** 2)) for k, p in preds.items()}
    features = [str(f) for f in est.features_]
    B = np.asarray(est.transform(sim.train_items), dtype=float) if features else np.zeros((len(sim.train_items), 0))
    matched = match_terms(B, sim.T_train, sim.effects)
    A, _ = agreement(B, sim.T_train)
    rec["features"] = features
    rec["K"] = len(features)
    rec["term_found"] = [any(m == j for m, _ in matched) for j in range(len(sim.terms))]
    found, rows, level, source = findings_of(est)
    rec["level"], rec["findings_source"] = level, source
    inf = getattr(est, "inference_", None)
    located = dict(zip(inf.features, np.asarray(inf.located, float).tolist())) \
        if inf is not None and getattr(inf, "located", None) is not None else {}
    proj = projection_truth(est, sim)
    fnd = []
    for f in found:
        m, truth = matched[features.index(f)] if f in features else (None, 0.0)
        r = rows.get(f, {})
        lo, hi = r.get("ci_low"), r.get("ci_high")
        ok = lo is not None and hi is not None and math.isfinite(float(lo)) and math.isfinite(float(hi))
        k = features.index(f) if f in features else None
        best = float(A[k].max()) if k is not None and A.shape[1] else 0.0
        fnd.append({"feature": f, "term": None if m is None else sim.terms[m], "truth": truth, "best_agreement": best,
                    "effect": None if r.get("effect") is None else float(r["effect"]),
                    "ci_low": float(lo) if ok else None, "ci_high": float(hi) if ok else None,
                    "covers": (float(lo) <= truth <= float(hi)) if ok else None,
                    "interval_has_zero": (float(lo) <= 0.0 <= float(hi)) if ok else None,
                    "located": located.get(f), "truth_projection": proj.get(f),
                    "covers_projection": (float(lo) <= proj[f] <= float(hi)) if ok and f in proj else None})
    rec["findings"] = fnd
    rec["oracle_covers"] = oracle_row_coverage(est, sim)
    rec["n_findings"] = len(fnd)
    rec["false_findings"] = sum(1 for x in fnd if x["term"] is None)
    rec["fdp"] = rec["false_findings"] / len(fnd) if fnd else 0.0
    rec["finding_found"] = [any(x["term"] == t for x in fnd) for t in sim.terms]
    return rec


# ----------------------------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------------------------


def mean_interval(x: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided t-interval over seeds."""
    from scipy.stats import t

    x = np.asarray(x, dtype=float)
    m = float(x.mean()) if x.size else float("nan")
    if x.size < 2 or float(x.std(ddof=1)) == 0.0:
        return m, m, m
    h = float(t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - h, m + h


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson 95% interval of a proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per setting: excess MSE of each method, paired genz − peer intervals, findings, recall."""
    out: dict[str, Any] = {}
    for setting in dict.fromkeys(r["setting"] for r in records):
        rs = [r for r in records if r["setting"] == setting]
        s: dict[str, Any] = {"seeds": len(rs), "null": SETTINGS[setting][1]}
        s["excess_mse"] = {m: mean_interval([r["excess_mse"][m] for r in rs]) for m in ("genz", "ridge", "lasso", "oracle")}
        s["paired"] = {m: mean_interval([r["excess_mse"]["genz"] - r["excess_mse"][m] for r in rs])
                       for m in ("ridge", "lasso", "oracle")}
        s["genz_worse_share"] = {m: float(np.mean([r["excess_mse"]["genz"] > r["excess_mse"][m] for r in rs]))
                                 for m in ("ridge", "lasso")}
        s["K"] = float(np.mean([r["K"] for r in rs]))
        s["findings_per_fit"] = float(np.mean([r["n_findings"] for r in rs]))
        s["level"] = float(np.nanmean([r["level"] for r in rs]))
        s["findings_source"] = sorted({r["findings_source"] for r in rs})
        s["fdp"] = mean_interval([r["fdp"] for r in rs])
        no = sum(1 for r in rs if r["n_findings"] == 0)
        s["no_finding"] = (no / len(rs), *wilson(no, len(rs)))
        allf = [x for r in rs for x in r["findings"] if x["covers"] is not None]
        cov = sum(1 for x in allf if x["covers"])
        s["coverage"] = (cov / len(allf) if allf else float("nan"), *wilson(cov, len(allf)), len(allf))
        true_f = [x for x in allf if x["term"] is not None]
        tc = sum(1 for x in true_f if x["covers"])
        s["coverage_true"] = (tc / len(true_f) if true_f else float("nan"), *wilson(tc, len(true_f)), len(true_f))
        pf = [x for x in allf if x.get("covers_projection") is not None]
        pc = sum(1 for x in pf if x["covers_projection"])
        s["coverage_projection"] = (pc / len(pf) if pf else float("nan"), *wilson(pc, len(pf)), len(pf))
        oc = [c for r in rs for c in r.get("oracle_covers", [])]
        s["coverage_oracle_rows"] = (float(np.mean(oc)) if oc else float("nan"), *wilson(sum(oc), len(oc)), len(oc))
        ratios = [x["effect"] / x["truth"] for x in true_f if x.get("truth") and x.get("effect") is not None]
        s["effect_ratio_true"] = float(np.median(ratios)) if ratios else float("nan")
        s["findings_with_zero_in_interval"] = sum(1 for x in allf if x["interval_has_zero"])
        s["true_findings_with_zero_in_interval"] = sum(1 for x in allf if x["interval_has_zero"] and x["term"] is not None)
        false = [x for r in rs for x in r["findings"] if x["term"] is None]
        s["false_findings"] = len(false)
        s["false_proxies"] = sum(1 for x in false if x.get("best_agreement", 0.0) >= PROXY_AGREEMENT)
        per_term: dict[str, dict[str, Any]] = {}
        for r in rs:
            for t, e, fp, ff in zip(r["terms"], r["effects"], r["term_found"], r["finding_found"]):
                d = per_term.setdefault(t, {"planted": 0, "predictor": 0, "findings": 0, "abs_effect": []})
                d["planted"] += 1
                d["predictor"] += int(fp)
                d["findings"] += int(ff)
                d["abs_effect"].append(abs(e))
        s["per_term"] = {t: {"planted": d["planted"], "recall_predictor": d["predictor"] / d["planted"],
                             "recall_findings": d["findings"] / d["planted"],
                             "mean_abs_effect": float(np.mean(d["abs_effect"]))}
                         for t, d in sorted(per_term.items(), key=lambda kv: [t.name for t in TERM_POOL].index(kv[0]))}
        s["seconds"] = float(np.mean([r["seconds"] for r in rs]))
        out[setting] = s
    return out


def _ci(t: tuple[float, float, float], digits: int = 3) -> str:
    m, lo, hi = t
    return f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _share_cell(t: tuple[float, float, float, int] | None) -> str:
    """A share with its Wilson interval and count, ``0.938 [0.864, 0.973] (81)``; ``– (0)`` when
    nothing was counted."""
    if not t or not t[3]:
        return "– (0)"
    return f"{t[0]:.3f} [{t[1]:.3f}, {t[2]:.3f}] ({t[3]})"


def format_summary(summary: dict[str, Any], seeds_label: str) -> str:
    """The printed tables (also Markdown)."""
    lines = [f"Seeds: {seeds_label}. Excess test MSE = mean (ŷ − f)² over {N_TEST} test items; "
             "paired differences genz − peer with 95% t-intervals over seeds (covering 0: a tie).", ""]
    lines += ["| setting | seeds | genz | ridge | lasso | oracle | genz − ridge | genz − lasso | genz worse than ridge / lasso | K |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in summary.items():
        e = s["excess_mse"]
        lines.append(f"| {name} | {s['seeds']} | {e['genz'][0]:.4f} | {e['ridge'][0]:.4f} | {e['lasso'][0]:.4f} | "
                     f"{e['oracle'][0]:.4f} | {_ci(s['paired']['ridge'], 4)} | {_ci(s['paired']['lasso'], 4)} | "
                     f"{s['genz_worse_share']['ridge']:.0%} / {s['genz_worse_share']['lasso']:.0%} | {s['K']:.1f} |")
    lines += ["", "| setting | findings per fit | stated level | mean FDP [95% CI] | fits with no finding [95% CI] | "
              "95% intervals covering the planted effect [95% CI] (findings) | of the true findings [95% CI] (n) | "
              "covering the estimated parameter [95% CI] (n) | oracle's 95% intervals on the same rows [95% CI] (n) | "
              "true findings' effect ÷ planted (median) | findings whose interval contains 0 (true ones) | "
              "false findings (of them proxies, ≥ 85% agreement) | source |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, s in summary.items():
        fdp, nf = s["fdp"], s["no_finding"]
        cov_s, ct_s, cp_s, co_s = (_share_cell(s.get(k)) for k in
                                   ("coverage", "coverage_true", "coverage_projection", "coverage_oracle_rows"))
        lines.append(f"| {name} | {s['findings_per_fit']:.2f} | {s['level']:.2f} | {fdp[0]:.3f} [{max(fdp[1], 0):.3f}, {fdp[2]:.3f}] | "
                     f"{nf[0]:.0%} [{nf[1]:.0%}, {nf[2]:.0%}] | {cov_s} | {ct_s} | {cp_s} | {co_s} | "
                     f"{s.get('effect_ratio_true', float('nan')):.2f} | "
                     f"{s['findings_with_zero_in_interval']} "
                     f"({s['true_findings_with_zero_in_interval']}) | {s['false_findings']} ({s['false_proxies']}) | "
                     f"{', '.join(s['findings_source'])} |")
    lines += ["", "| setting | term | planted | mean abs. effect | recall (predictor) | recall (findings) |",
              "|---|---|---:|---:|---:|---:|"]
    for name, s in summary.items():
        for t, d in s["per_term"].items():
            lines.append(f"| {name} | {t} | {d['planted']} | {d['mean_abs_effect']:.2f} | {d['recall_predictor']:.2f} | "
                         f"{d['recall_findings']:.2f} |")
    return "\n".join(lines)


def parse_seeds(spec: str) -> list[int]:
    """``dev`` (1000-1039), ``report`` (0-39), ``"1000-1009"``, ``"1,3,7"``."""
    return _parse_seeds(spec, {"dev": DEV_SEEDS, "report": REPORT_SEEDS})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="dev", help="dev (1000-1039, default), report (0-39, run once), or e.g. 1000-1009")
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated: {', '.join(SETTINGS)}")
    ap.add_argument("--jobs", type=int, default=2, help="parallel fits (processes; at most 2 on this machine)")
    ap.add_argument("--json", dest="json_path", default=None, help="write every fit's record and the summary here")
    ap.add_argument("--params", default=None,
                    help='GenZRegressor arguments as JSON, for development comparisons only (e.g. \'{"side_inputs": "numeric"}\')')
    args = ap.parse_args(argv)
    params = json.loads(args.params) if args.params else None
    seeds = parse_seeds(args.seeds)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        ap.error(f"unknown setting {unknown[0]!r}; choose from {', '.join(SETTINGS)}")
    if set(seeds) & set(REPORT_SEEDS) and set(seeds) & set(DEV_SEEDS):
        ap.error("mix of development and reported seeds: run them separately")
    has_findings = hasattr(GenZRegressor(), "selection")
    print("findings: est.findings_ / est.inference_" if has_findings else
          "findings: this genz has no findings_: the feature table's 'significant' rows stand in, stated level 0.05",
          flush=True)
    from joblib import Parallel, delayed

    jobs = [(s, seed) for s in settings for seed in seeds]
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    parallel = Parallel(n_jobs=max(1, min(args.jobs, 2)), return_as="generator_unordered")
    for i, rec in enumerate(parallel(delayed(run_one)(s, seed, params) for s, seed in jobs), 1):
        records.append(rec)
        e = rec["excess_mse"]
        print(f"[{time.perf_counter() - t0:7.0f}s] {i}/{len(jobs)} {rec['setting']} seed {rec['seed']}: excess MSE genz "
              f"{e['genz']:.4f} ridge {e['ridge']:.4f} lasso {e['lasso']:.4f} oracle {e['oracle']:.4f}; K {rec['K']}, "
              f"findings {rec['n_findings']} ({rec['false_findings']} false); fit {rec['seconds']:.1f}s", flush=True)
    order = {s: j for j, s in enumerate(settings)}
    records.sort(key=lambda r: (order[r["setting"]], r["seed"]))
    summary = summarize(records)
    label = ("development seeds " if set(seeds) <= set(DEV_SEEDS) else
             "reported seeds (run once) " if set(seeds) <= set(REPORT_SEEDS) else "seeds ") + args.seeds
    print()
    print(format_summary(summary, label))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump({"seeds": seeds, "settings": settings, "records": records, "summary": summary, "platform": environment()}, fh, indent=1,
                      default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
