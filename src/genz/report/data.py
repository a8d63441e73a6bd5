"""What a report knows about one run, read (strictly) from its run directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..runs import RunDir, RunSummary
from ..fm.secrets import redact_secrets

__all__ = ["RunData", "load_run", "LOWER_IS_BETTER", "HIGHER_IS_BETTER", "primary_metric"]

#: metrics where a smaller value is better; everything else is taken as higher-is-better
LOWER_IS_BETTER = {"mae", "median_ae", "rmse", "mse", "error", "reconstruction_error", "loss", "log_loss"}
HIGHER_IS_BETTER = {"r2", "cosine", "accuracy", "auc", "spearman", "pearson"}
_PREFERENCE = ("median_ae", "cosine", "mae", "rmse", "r2")


def primary_metric(history: list[dict], config: dict | None = None) -> str | None:
    """The metric the curves show: ``config['metric']`` when set, else the first of
    median_ae, cosine, mae, rmse, r2 that the history records, else any recorded one."""
    seen: list[str] = []
    for rec in history:
        for part in ("test", "train"):
            for k in rec.get(part) or {}:
                if k not in seen:
                    seen.append(k)
    if config and isinstance(config.get("metric"), str) and config["metric"] in seen:
        return config["metric"]
    for m in _PREFERENCE:
        if m in seen:
            return m
    return seen[0] if seen else None


@dataclass
class RunData:
    path: Path
    name: str
    info: dict
    config: dict
    history: list[dict]
    summary: RunSummary | None
    results: dict | None
    metric: str | None = None
    timeline_features: list[str] = field(default_factory=list)  # ordered by first appearance
    discarded: list[tuple[int, str]] = field(default_factory=list)  # (step, descriptor) mined but dropped
    feature_table: list[dict] | None = None  # model.json "feature_table" rows (None: older model or none yet)
    target_names: list[str] | None = None
    inference: dict | None = None  # the findings test's rows, error rate and correction (model.json)
    checks: list[str] = field(default_factory=list)  # the zero-shot and numbers checks, a line each (model.json)

    @property
    def lower_is_better(self) -> bool:
        return (self.metric or "") in LOWER_IS_BETTER

    def series(self, part: str, metric: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a metric of ``part`` ('train'/'test'), NaN where missing."""
        metric = metric or self.metric
        steps = np.array([r["step"] for r in self.history], dtype=float)
        vals = []
        for r in self.history:
            v = (r.get(part) or {}).get(metric) if metric else None
            vals.append(np.nan if v is None else float(v))
        return steps, np.array(vals, dtype=float)

    def final_record(self) -> dict | None:
        return self.history[-1] if self.history else None

    def best(self, part: str = "test") -> tuple[float | None, int | None]:
        """Best value of the primary metric over the steps, and its step."""
        steps, vals = self.series(part)
        ok = np.isfinite(vals)
        if not ok.any():
            return None, None
        idx = np.flatnonzero(ok)
        j = idx[np.argmin(vals[ok])] if self.lower_is_better else idx[np.argmax(vals[ok])]
        return float(vals[j]), int(steps[j])

    def fm_total(self) -> dict:
        for r in reversed(self.history):
            if r.get("fm_total"):
                return r["fm_total"]
        return {}

    def seconds(self) -> float:
        return float(sum(float(r.get("seconds") or 0.0) for r in self.history))


def _features_of(rec: dict) -> list[str]:
    feats = rec.get("features")
    return [str(f) for f in feats] if isinstance(feats, list) else []


def load_run(path: str | Path, name: str | None = None) -> RunData:
    """Read a run directory for a report. Damaged files raise CorruptFileError naming them."""
    run = RunDir.open(path)
    history = run.history()
    data = RunData(
        path=Path(path), name=name or Path(path).resolve().name, info=redact_secrets(run.info()),
        config=redact_secrets(run.config()), history=history, summary=run.load_summary(),
        results=run.load_results(),
    )
    data.metric = primary_metric(history, data.config)
    from .feature_table import load_check_lines, load_feature_table, load_inference_info

    table = load_feature_table(run.model_dir)
    if table is not None:
        data.feature_table, data.target_names = table
        data.inference = load_inference_info(run.model_dir)
        data.checks = load_check_lines(run.model_dir)
    order: list[str] = []
    for rec in history:
        for f in _features_of(rec):
            if f not in order:
                order.append(f)
        if rec.get("action") == "discard" and rec.get("feature"):
            data.discarded.append((int(rec["step"]), str(rec["feature"])))
    if data.summary is not None:
        for f in data.summary.features:
            if f not in order:
                order.append(f)
    data.timeline_features = order
    return data


def presence_matrix(data: RunData) -> np.ndarray:
    """features × steps 0/1 matrix: feature f present after step s (rows in first-appearance order)."""
    idx = {f: i for i, f in enumerate(data.timeline_features)}
    M = np.zeros((len(idx), len(data.history)), dtype=np.int8)
    for j, rec in enumerate(data.history):
        for f in _features_of(rec):
            M[idx[f], j] = 1
    return M


def describe_config(config: dict[str, Any], limit: int = 24) -> list[tuple[str, str]]:
    """(key, value) pairs of a (redacted) configuration for display, nested keys flattened."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, w in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), w)
        else:
            s = str(v)
            out.append((prefix, s if len(s) <= 120 else s[:119] + "…"))

    walk("", config)
    return out[:limit]
