"""The feature table of a fitted :class:`genz.GenZRegressor` (docs/feature-table.md).

One row per (feature, target) with the keys of :data:`FEATURE_TABLE_COLUMNS`, findings first
(in ``features_`` order), then the features that support the predictor only. Two numbers per
feature answer two questions and are named apart:

* ``weight`` — the predictor's coefficient (``coef_``): refitted on every training row, shrunk
  by the ridge; what ``predict`` uses;
* ``effect [ci_low, ci_high]``, ``p_value``, ``q_value``, ``finding`` — the effect of the latent
  property on the untouched rows and its test (:mod:`genz.findings`, all from one fit), NaN /
  False where no rows were set aside, or for a feature added after the test (phase 2 of a fit,
  :class:`genz.discovery_run.DiscoveryRun`); ``q_value`` NaN beside an effect: a cut or phrase
  the discovery rows could not place (``located``, the share of bootstrap resamples that put it
  where it is, below ``Selection.located``), or a feature the screen left out (``discovery_p``, the
  same test's p-value on the discovery rows, above ``Selection.discovery_p``), estimated as a control
  and not tested; ``untested`` says which (``"not placed"``, ``"screened out"``, ``"not
  identified"``; empty for a tested feature or one without a test).

``cv_gain`` ± ``cv_gain_se`` is the drop-one cross-validated gain on the discovery rows
(:mod:`genz.selection`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .settings import selection_settings

__all__ = ["FEATURE_TABLE_COLUMNS", "build_feature_table", "hypothesis_rows", "epsilon_note"]

FEATURE_TABLE_COLUMNS = ("feature", "target", "weight", "finding", "effect", "ci_low", "ci_high", "p_value", "q_value",
                         "located", "discovery_p", "untested", "cv_gain", "cv_gain_se", "epsilon", "epsilon_note",
                         "share_yes", "origin")


def epsilon_note(eps: float, eps_min: float, eps_cap: float) -> str:
    """``"at floor"`` when ε sits at ``eps_min``, ``"at cap"`` at its starting cap (or ½):
    either way the data do not identify it."""
    if eps <= eps_min * (1 + 1e-6):
        return "at floor"
    if abs(eps - eps_cap) < 1e-9 or eps >= 0.5 - 1e-9:
        return "at cap"
    return ""


def build_feature_table(est: Any) -> list[dict]:
    """The rows for the fitted estimator ``est`` (findings first)."""
    K, D = len(est.features_), est.n_targets_
    nan = np.full((K, D), np.nan)
    effect, lo, hi, p, q, finding = nan, nan, nan, np.full(K, np.nan), np.full(K, np.nan), np.zeros(K, bool)
    located, discovery_p, untested = np.full(K, np.nan), np.full(K, np.nan), [""] * K
    inf = getattr(est, "inference_", None)
    if inf is not None and K:  # the tested structure may differ from the predictor's: match by name
        idx = {f: i for i, f in enumerate(inf.features)}
        rows_of = [idx.get(f) for f in est.features_]
        lo_all, hi_all = inf.conf_int()
        # why a feature was not tested, as the fit decided it (the threshold the fit used, not the
        # estimator's current parameter: a result saved before stop 34 falls back to it)
        why = inf.untested_reasons(selection_settings(getattr(est, "selection", None)).located)
        effect, lo, hi = nan.copy(), nan.copy(), nan.copy()
        for k, i in enumerate(rows_of):
            if i is not None:
                effect[k], lo[k], hi[k] = inf.params[i], lo_all[i], hi_all[i]
                p[k], q[k], finding[k] = inf.pvalues[i], inf.qvalues[i], inf.significant[i]
                if inf.located is not None:
                    located[k] = inf.located[i]
                if inf.discovery_p is not None:
                    discovery_p[k] = inf.discovery_p[i]
                if not inf.testable[i]:
                    q[k] = np.nan  # no test: unidentified, or a control the discovery rows did not place or screened out
                    untested[k] = why[i]
    gains = getattr(est, "cv_gains_", np.full((K, 2), np.nan))
    eps_min, eps_cap = getattr(est, "eps_bounds_", (1e-3, 0.25))
    share = getattr(est, "share_yes_", np.full(K, np.nan))
    rows = []
    for k in sorted(range(K), key=lambda k: not finding[k]):
        eps = float(est.epsilon_[k])
        for d, name in enumerate(est.target_names_):
            rows.append({
                "feature": est.features_[k], "target": name, "weight": float(est.coef_[k, d]),
                "finding": bool(finding[k]), "effect": float(effect[k, d]),
                "ci_low": float(lo[k, d]), "ci_high": float(hi[k, d]),
                "p_value": float(p[k]), "q_value": float(q[k]), "located": float(located[k]),
                "discovery_p": float(discovery_p[k]), "untested": untested[k],
                "cv_gain": float(gains[k, 0]), "cv_gain_se": float(gains[k, 1]),
                "epsilon": eps, "epsilon_note": epsilon_note(eps, eps_min, eps_cap),
                "share_yes": float(share[k]), "origin": est.origins_[k],
            })
    return rows


def hypothesis_rows(selection: dict | None) -> list[dict]:
    """The user's hypotheses and pinned features with their cross-validated evidence and a sentence."""
    out = []
    for r in (selection or {}).get("hypotheses", []):
        who = "your hypothesis" if r["origin"] == "hypothesis" else "your pinned feature"
        if r["note"] and r["kept"]:
            msg = f"{who} {r['feature']!r}: cross-validated gain {r['gain']:.3f} ± {r['gain_se']:.3f}, {r['note']}"
        elif r["note"]:
            msg = f"{who} {r['feature']!r}: {r['note']}, not kept"
        else:
            verdict = "kept" if r["kept"] else "not kept"
            msg = f"{who} {r['feature']!r}: cross-validated gain {r['gain']:.3f} ± {r['gain_se']:.3f}, {verdict}"
        out.append({"feature": r["feature"], "origin": r["origin"], "kept": bool(r["kept"]),
                    "cv_gain": float(r["gain"]), "cv_gain_se": float(r["gain_se"]), "message": msg})
    return out
