"""A plausible run directory, written through RunDir, for the report tests (no core needed).

The run mimics Algorithm 4 on a toy problem: cycles of adding 3 features and removing 1, with
one mined feature discarded by the activity filter, metrics that improve with noise, and a
final summary whose posteriors override some judgments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genz.runs import RunDir, RunSummary

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def make_run(path: Path, *, D: int = 1, cycles: int = 3, seed: int = 0, n_items: int = 60,
             with_summary: bool = True, with_results: bool = False, status: str = "complete",
             api_key: str | None = None, with_feature_table: bool = False) -> Path:
    """``with_feature_table`` adds what the selection core writes: EM phases and cross-validated
    metrics in every history record, and ``model/model.json`` with a feature table."""
    rng = np.random.default_rng(seed)
    config = {"model": "linear", "algorithm": "targeted", "cycles": cycles, "add_per_cycle": 3,
              "remove_per_cycle": 1, "random_state": seed, "fm": {"name": "predicates"}, "metric": None}
    if api_key:
        config["fm"]["api_key"] = api_key
    run = RunDir.create(path, config)
    pool = [f"has {w}" for w in ("a pool", "a garden", "three bedrooms", "a sea view", "a garage", "two floors",
                                  "a fireplace", "solar panels", "a basement", "an attic", "a balcony", "a tennis court",
                                  "a wine cellar", "a home office", "a lift", "a carport")]
    pool[4] = EVIL  # feature text is untrusted too
    features: list[str] = []
    step = 0
    err = 1.0
    calls = 0

    def record(action: str, feature: str | None) -> dict:
        nonlocal step, err, calls
        if action == "add":
            err *= 0.8 + 0.05 * rng.random()
        elif action == "remove":
            err *= 1.02
        calls += 1 + len(features) * 2
        if D == 1:
            train = {"mae": err, "median_ae": 0.8 * err, "rmse": 1.2 * err, "r2": 1 - err}
            test = {"mae": err * 1.2, "median_ae": 0.8 * err * 1.25, "rmse": 1.5 * err, "r2": 1 - 1.3 * err}
        else:
            train = {"cosine": 1 - 0.6 * err, "rmse": err}
            test = {"cosine": 1 - 0.7 * err, "rmse": 1.2 * err}
        rec = {"step": step, "cycle": step_cycle, "action": action, "feature": feature, "features": list(features),
               "n_features": len(features), "train": train, "test": test, "bound": -500.0 * err - 10 * len(features),
               "epsilon": [round(0.05 + 0.02 * i, 3) for i in range(len(features))],
               "fm": {"calls": {"judge": 1}}, "fm_total": {"calls": {"judge": calls, "mine": step},
                                                         "total_calls": calls + step, "cache_hits": step,
                                                         "prompt_tokens": 900 * step, "completion_tokens": 40 * step,
                                                         "cost_usd": 0.001 * step, "judgments": 60 * calls},
               "seconds": 0.5 + rng.random(), "targeted": action == "add", "fallback": False}
        if with_feature_table:
            phases = [{"iterations": int(rng.integers(5, 40)), "converged": True} for _ in range(2)]
            if step in (2, 5):  # two steps where one EM phase stopped at its iteration limit
                phases[1] = {"iterations": 100, "converged": False}
            rec["em_phases"] = phases
            rec["em_not_converged"] = sum(not p["converged"] for p in phases)
            rec["cv"] = {"loss": 0.42, "loss_se": 0.03}
        meta = {"features": list(features), "step": step}
        arrays = {"Q": rng.random((n_items, len(features))), "B": rng.random((n_items, len(features))) > 0.5}
        run.commit_step(rec, meta, arrays)
        step += 1
        return rec

    step_cycle = 0
    record("init", None)
    it = iter(pool)
    for c in range(cycles):
        step_cycle = c
        for _ in range(3):
            f = next(it)
            if c == 1 and f == pool[5]:
                record("discard", f)
                continue
            features.append(f)
            record("add", f)
        worst = features[int(rng.integers(len(features)))]
        features.remove(worst)
        record("remove", worst)
    if with_summary:
        K = len(features)
        B = rng.random((n_items, K)) > 0.55
        Q = np.where(B, 0.9, 0.1) + rng.normal(0, 0.05, (n_items, K))
        flip = rng.random((n_items, K)) < 0.07
        Q = np.clip(np.where(flip, 1 - Q, Q), 0.001, 0.999)
        texts = [f"listing {n}: {'<b>bold</b> ' if n == 3 else ''}{n % 5 + 1} rooms, {'pool' if n % 2 else 'garden'}"
                 for n in range(n_items)]
        texts[7] = EVIL
        # two strong overrides, so that the untrusted texts are certainly shown
        B[3, 0], Q[3, 0] = False, 0.999
        B[7, K - 1], Q[7, K - 1] = True, 0.001
        run.save_summary(RunSummary(
            features=features, epsilon=rng.uniform(0.02, 0.3, K), weights=rng.normal(0, 0.5, (K, D)), Q=Q, B=B,
            item_ids=[f"item-{n}" for n in range(n_items)], item_texts=texts, Y=rng.normal(12, 0.5, (n_items, D)),
            target_names=["log price"] if D == 1 else [f"dim{j}" for j in range(D)],
        ))
    if with_summary and with_feature_table:
        names = ["log price"] if D == 1 else [f"dim{j}" for j in range(D)]
        table = []
        for k, f in enumerate(features):
            for d in range(D):
                w = float(rng.normal(0, 0.5))
                table.append({"feature": f, "target": d, "weight": w, "finding": bool(k), "effect": 1.1 * w,
                              "ci_low": 1.1 * w - 0.05, "ci_high": 1.1 * w + 0.05, "p_value": 0.001 if k else 0.4,
                              "q_value": 0.002 if k else 0.4, "cv_gain": 0.02 if k else 0.0004, "cv_gain_se": 0.003,
                              "epsilon": 0.001 if k == 0 else 0.1, "epsilon_note": "at floor" if k == 0 else "",
                              "share_yes": 0.4, "origin": "hypothesis" if k == 1 else "mined"})
        inference = {"nobs": 120, "error_rate": 0.05, "correction": "bh"}
        run.save_model(lambda d: (Path(d) / "model.json").write_text(
            json.dumps({"format": "test", "features": features, "feature_table": table, "target_names": names,
                        "inference": inference})))
    if with_results:
        run.save_results({"format": "genz-results", "experiment": "houses", "metric": "median_ae",
                          "higher_is_better": False, "rows": [
                              {"method": "genz-linear", "kind": "genz", "mean": 0.21, "std": 0.01, "n": 5,
                               "n_features": 30, "fm_calls": 1234, "seconds": 80.0},
                              {"method": "genz-mlp", "kind": "genz", "mean": 0.16, "std": 0.02, "n": 5},
                              {"method": "ridge on zip one-hot", "kind": "peer", "mean": 0.158, "std": 0.008, "n": 5},
                              {"method": "zero-shot (50 questions)", "kind": "zero-shot", "mean": 0.33, "std": 0.03,
                               "n": 5, "note": EVIL}]})
    run.close(status)
    return path
