"""A fitted :class:`genz.GenZRegressor` on disk: ``model.json`` (the parameters, the features, the
feature table, the findings test, the checks against cheaper routes), ``arrays.npz`` (ε, the
noise variance, posteriors, judgments, the observation models' arrays) and ``history.json``;
every file written atomically (:mod:`genz.files`)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .effects_table import build_feature_table
from .errors import CorruptFileError, GenZInputError
from .estimator_inputs import load_inputs
from .files import atomic_write_bytes, read_json_file
from .findings import FindingsResult
from .observation import observation_model_from_state
from .observation.base import coefficients
from .settings import advanced_settings, model_spec, prior_knowledge, selection_settings

__all__ = ["save_model", "load_model", "MODEL_FORMAT"]

MODEL_FORMAT = "genz-model/3"


def save_model(est: Any, path: str | os.PathLike) -> Path:
    """Write the fitted estimator ``est`` to a directory: ``model.json`` (parameters, features,
    feature table, findings, checks), ``arrays.npz`` and ``history.json``, each written atomically."""
    check_is_fitted(est, "features_")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    params = est.params_json()
    m_meta, m_arr = est.model_.get_state()
    p_meta, p_arr = est.predictor_.get_state()
    meta = {
        "format": MODEL_FORMAT,
        "params": params,
        "features": est.features_,
        "n_targets": est.n_targets_,
        "n_side_inputs": est.n_side_inputs_,
        "y_1d": bool(est._y_1d),
        "model": m_meta,
        "predictor": p_meta,
        "counters": est.counters_,
        "fm_stats": est.fm_stats_,
        "train_ids": est.train_ids_,
        "fm_spec": _fm_registry().fm_spec(est.fm_),  # where the FM lives (issue 10)
        "target_names": est.target_names_,
        "origins": est.origins_,
        "feature_table": _json_rows(build_feature_table(est)),
        "inference": None if est.inference_ is None else est.inference_.to_json(),
        "baseline": getattr(est, "baseline_", None), "numbers_check": getattr(est, "numbers_check_", None),
        "text_check": getattr(est, "text_check_", None),
        "structure_check": getattr(est, "structure_check_", None),
        "numbers_route": getattr(est, "numbers_route_", None), "tree_route": getattr(est, "tree_route_", None),
        "cv_gains": _json_rows([{"gain": float(g), "se": float(e)} for g, e in est.cv_gains_]),
        "share_yes": [float(v) for v in est.share_yes_],
        "eps_bounds": list(est.eps_bounds_),
        "hypotheses": _json_rows(est.hypotheses_),
        "inputs": getattr(est, "inputs_", None),  # the columns of a table fit (estimator_inputs)
        # the sample's ids are train_ids
        "discovery_sample": {k: v for k, v in (getattr(est, "discovery_sample_", None) or {}).items()
                             if k != "sample_ids"} or None,
    }
    if getattr(est, "calibration_", None) is not None:
        arrays_extra = {"calibration": est.calibration_}
    else:
        arrays_extra = {}
    arrays = {"epsilon": est.epsilon_, "sigma2": est.sigma2_, "posteriors": est.posteriors_,
              "judgments": est.judgments_}
    arrays.update({f"model.{k}": v for k, v in m_arr.items()})
    arrays.update({f"predictor.{k}": v for k, v in p_arr.items()})
    arrays.update(arrays_extra)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path / "arrays.npz", buf.getvalue())
    atomic_write_bytes(path / "model.json", json.dumps(meta, indent=1).encode())
    atomic_write_bytes(path / "history.json", json.dumps(est.history_).encode())
    return path


def load_model(cls: Any, path: str | os.PathLike, fm: Any = None) -> Any:
    """An estimator of class ``cls`` as :func:`save_model` wrote it. ``fm`` overrides the saved
    backend name. A damaged file raises CorruptFileError naming it (one line)."""
    path = Path(path)
    mfile, afile = path / "model.json", path / "arrays.npz"
    if not mfile.exists() or not afile.exists():
        raise GenZInputError(f"{path}: not a saved genz model (model.json and arrays.npz expected)")
    try:
        meta = json.loads(mfile.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{mfile}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if meta.get("format") in ("genz-model/1", "genz-model/2"):
        raise GenZInputError(f"{mfile}: saved by an older genz (format {meta.get('format')}, before "
                             "cross-validated selection and findings); refit it with `genz fit` on the same data")
    if meta.get("format") != MODEL_FORMAT:
        raise CorruptFileError(f"{mfile}: not a genz model file (format {meta.get('format')!r})")
    try:
        with np.load(afile, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"{afile}: unreadable ({exc})") from None
    params = dict(meta["params"])
    params["model"] = model_spec(params["model"])
    params["advanced"] = advanced_settings(params["advanced"])
    params["selection"] = selection_settings(params.get("selection"))
    params["hypotheses"] = prior_knowledge(params["hypotheses"])
    if fm is not None:
        params["fm"] = fm
    est = cls(**params)
    spec = meta.get("fm_spec") if fm is None else None  # the FM the model was trained with
    est.fm_ = _fm_registry().make_fm_from_spec(spec) if isinstance(spec, dict) else cls.make_fm(params["fm"])
    est.features_ = list(meta["features"])
    est.epsilon_ = arrays["epsilon"]
    est.sigma2_ = arrays["sigma2"]
    est.posteriors_ = arrays["posteriors"]
    est.judgments_ = arrays["judgments"]
    est.model_ = observation_model_from_state(meta["model"], _sub(arrays, "model."))
    est.predictor_ = observation_model_from_state(meta["predictor"], _sub(arrays, "predictor."))
    est.n_targets_ = int(meta["n_targets"])
    est.n_side_inputs_ = int(meta["n_side_inputs"])
    est._y_1d = bool(meta["y_1d"])
    est.counters_ = meta.get("counters", {})
    est.fm_stats_ = meta.get("fm_stats", {})
    est.train_ids_ = meta.get("train_ids", [])
    est.target_names_ = list(meta["target_names"])
    est.origins_ = list(meta["origins"])
    inf = meta.get("inference")
    est.inference_ = FindingsResult.from_json(inf) if isinstance(inf, dict) else None
    est.findings_ = [] if est.inference_ is None else est.inference_.findings
    est.baseline_, est.numbers_check_ = meta.get("baseline"), meta.get("numbers_check")
    est.structure_check_, est.text_check_ = meta.get("structure_check"), meta.get("text_check")
    est.numbers_route_, est.tree_route_ = meta.get("numbers_route"), meta.get("tree_route")
    est.cv_gains_ = np.array([[np.nan if r["gain"] is None else r["gain"], np.nan if r["se"] is None else r["se"]]
                              for r in meta.get("cv_gains", [])], dtype=float).reshape(len(est.features_), 2)
    est.share_yes_ = np.array(meta.get("share_yes", []), dtype=float)
    est.eps_bounds_ = tuple(meta.get("eps_bounds", (1e-3, 0.25)))
    est.hypotheses_ = meta["hypotheses"]
    ds = meta.get("discovery_sample")
    est.discovery_sample_ = {**ds, "sample_ids": list(est.train_ids_)} if isinstance(ds, dict) else None
    est.calibration_ = arrays.get("calibration")
    load_inputs(est, meta, path)  # the columns of a table fit (or of the genz fit run)
    est.coef_, est.intercept_, est.side_coef_ = coefficients(est.predictor_, len(est.features_))
    hist = path / "history.json"
    est.history_ = read_json_file(hist, "model history") if hist.exists() else []
    return est


def _json_rows(rows: list[dict]) -> list[dict]:
    """NaN → null (strict JSON)."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v.item() if isinstance(v, np.generic) else v
    return [{k: clean(v) for k, v in r.items()} for r in rows]


def _fm_registry() -> Any:  # the FM spec lives in genz.fm.registry
    from .fm import registry
    return registry


def _sub(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
