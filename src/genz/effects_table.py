"""The feature table of a fitted :class:`genz.GenZRegressor` (issue 9).

One row per (feature, target) with the keys of :data:`FEATURE_TABLE_COLUMNS`; how the weight,
its interval and the held-out gain are computed is in :mod:`genz.selection`. Without held-out
selection (``add_only``, ``Advanced(validation=0)`` or too few items) the weight is the
predictor's coefficient and the interval, the gain and the significance are missing (NaN /
False).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FEATURE_TABLE_COLUMNS", "build_feature_table", "hypothesis_rows", "epsilon_note"]

FEATURE_TABLE_COLUMNS = ("feature", "target", "weight", "ci_low", "ci_high", "epsilon", "epsilon_note", "share_yes",
                         "heldout_gain", "heldout_gain_se", "significant", "origin")


def epsilon_note(eps: float, eps_min: float, eps_cap: float) -> str:
    """``"at floor"`` when ε sits at ``eps_min``, ``"at cap"`` at its starting cap (or ½):
    either way the data do not identify it."""
    if eps <= eps_min * (1 + 1e-6):
        return "at floor"
    if abs(eps - eps_cap) < 1e-9 or eps >= 0.5 - 1e-9:
        return "at cap"
    return ""


def build_feature_table(est: Any, disc: Any, selection: dict | None) -> list[dict]:
    """The rows for the fitted estimator ``est`` whose final state is ``disc``."""
    K, D = len(est.features_), est.n_targets_
    adv = disc.cfg.advanced
    weight, lo, hi = est.coef_.copy(), np.full((K, D), np.nan), np.full((K, D), np.nan)
    gain, gain_se, sig = np.full(K, np.nan), np.full(K, np.nan), np.zeros(K, bool)
    if selection is not None and K:
        g = np.array(selection["gains"], dtype=float).reshape(K, 2)
        gain, gain_se = g[:, 0], g[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            sig = np.where(gain_se > 0, gain / gain_se, np.where(gain > 0, np.inf, -np.inf)) >= selection["threshold"]
        weight = np.asarray(selection["effects"], dtype=float)
        lo, hi = np.percentile(selection["boot"], [2.5, 97.5], axis=0)
    rows = []
    for k, f in enumerate(est.features_):
        eps = float(est.epsilon_[k])
        for d, name in enumerate(est.target_names_):
            rows.append({
                "feature": f, "target": name, "weight": float(weight[k, d]),
                "ci_low": float(lo[k, d]), "ci_high": float(hi[k, d]),
                "epsilon": eps, "epsilon_note": epsilon_note(eps, adv.eps_min, adv.eps_init_max),
                "share_yes": float((disc.st.B[:, k] > 0.5).mean()),
                "heldout_gain": float(gain[k]), "heldout_gain_se": float(gain_se[k]),
                "significant": bool(sig[k]), "origin": est.origins_[k],
            })
    return rows


def hypothesis_rows(selection: dict | None) -> list[dict]:
    """The user's hypotheses and pinned features with their held-out evidence and a sentence."""
    out = []
    for r in (selection or {}).get("hypotheses", []):
        who = "your hypothesis" if r["origin"] == "hypothesis" else "your pinned feature"
        if r["note"] and r["kept"]:
            msg = f"{who} {r['feature']!r}: held-out gain {r['gain']:.3f} ± {r['gain_se']:.3f}, {r['note']}"
        elif r["note"]:
            msg = f"{who} {r['feature']!r}: {r['note']}, not kept"
        else:
            verdict = "kept" if r["kept"] else "not kept"
            msg = f"{who} {r['feature']!r}: held-out gain {r['gain']:.3f} ± {r['gain_se']:.3f}, {verdict}"
        out.append({"feature": r["feature"], "origin": r["origin"], "kept": bool(r["kept"]),
                    "heldout_gain": float(r["gain"]), "heldout_gain_se": float(r["gain_se"]), "message": msg})
    return out
