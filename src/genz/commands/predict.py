"""The body of ``genz predict``: the FM the model was trained with (or explicit overrides),
integrity-checked model files, and predictions written with the csv module.

The command line keeps its ``predict`` and ``score`` in :mod:`genz.cli`; they take
:func:`predict_options` and load the model with :func:`load_model`.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import CorruptFileError, GenZInputError

__all__ = ["predict_options", "load_model", "write_predictions_csv", "neutralize_formula"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def predict_options(f):
    """The FM options of ``genz fit`` as overrides of the model's saved FM (all default to the
    saved value), ``--allow-other-host`` and ``--safe-csv``."""
    opts = [
        click.option("--fm-model", default=None, help="Judging model (default: the one the model was trained with)."),
        click.option("--mining-model", default=None, hidden=True, help="Mining model (not used by predict)."),
        click.option("--base-url", default=None,
                     help="FM server (default: the training one; another host needs --allow-other-host). "
                          "$OPENAI_BASE_URL is not used for saved models."),
        click.option("--api-key-env", default=None, help="Environment variable holding the key (default: the training one)."),
        click.option("--cache", "fm_cache", type=click.Path(dir_okay=False), default=None,
                     help="SQLite cache of FM answers (default: the training run's)."),
        click.option("--no-cache", is_flag=True, help="Do not use a cache."),
        click.option("--prompts-dir", type=click.Path(file_okay=False), default=None,
                     help="Prompt templates (default: the training ones; their hash is checked)."),
        click.option("--fm-batch-size", type=click.IntRange(1, 500), default=None, help="Items per judging request."),
        click.option("--fm-concurrency", type=click.IntRange(1, 256), default=None, help="FM requests in flight."),
        click.option("--fm-timeout", type=click.FloatRange(1), default=None, help="Seconds before a request times out."),
        click.option("--allow-other-host", is_flag=True,
                     help="Allow sending the items to a different FM host than the one the model was trained with, "
                          "or to a host the model directory names that you have not configured (then without your "
                          "key)."),
        click.option("--rejudge", is_flag=True,
                     help="Pay for new judgments even where the cache holds them from another FM (by default that is "
                          "an error: e.g. answers to requests exported for another model)."),
        click.option("--safe-csv", is_flag=True,
                     help="Neutralise spreadsheet formulas: prefix ids starting with = + - @ with a quote (')."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def neutralize_formula(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_predictions_csv(ids: list[str], P: np.ndarray, out: Any, *, safe: bool = False,
                          names: list[str] | None = None) -> None:
    """``id,<target names>`` rows through the csv module (ids with commas, quotes or newlines
    are quoted); ``safe`` neutralises ids a spreadsheet would evaluate as formulas."""
    if names is None or len(names) != P.shape[1]:
        names = [f"y{d}" for d in range(P.shape[1])]
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id"] + list(names))
    for i, row in zip(ids, P):
        w.writerow([neutralize_formula(i) if safe else i] + [f"{v:.10g}" for v in row])


def load_model(model_dir: Path, *, fm_model=None, mining_model=None, base_url=None, api_key_env=None,
               fm_cache=None, no_cache=False, prompts_dir=None, fm_batch_size=None, fm_concurrency=None,
               fm_timeout=None, allow_other_host=False, safe_csv=False, rejudge=False):
    """A saved model, integrity-checked, with the FM it was trained with (``fm_spec`` in
    model.json); the FM options override it, and another host needs ``allow_other_host``
    (:func:`genz.fm.registry.make_fm_from_spec`). A model without features (its run failed
    before it found any) is refused: it would predict one constant for every item."""
    from ..estimator import GenZRegressor
    from ..fm.registry import make_fm_from_spec, read_fm_spec
    from ..files import verify_model_dir

    verify_model_dir(model_dir)
    overrides = {"model": fm_model, "mining_model": mining_model, "base_url": base_url, "api_key_env": api_key_env,
                 "cache": fm_cache, "prompts_dir": prompts_dir, "batch_size": fm_batch_size,
                 "concurrency": fm_concurrency, "timeout": fm_timeout}
    spec = read_fm_spec(model_dir)
    fm = None
    if spec is not None:
        fm = make_fm_from_spec(spec, overrides, allow_other_host=allow_other_host, no_cache=no_cache, rejudge=rejudge)
    elif any(v is not None for v in overrides.values()):
        raise GenZInputError(f"{model_dir}: the model was saved without its FM description; FM options cannot apply")
    try:
        est = GenZRegressor.load(model_dir, fm=fm)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, OSError) as exc:
        raise CorruptFileError(f"{model_dir}: the saved model is damaged or incomplete "
                               f"({type(exc).__name__}: {str(exc)[:120]})") from None
    if not list(getattr(est, "features_", None) or []) and not getattr(est, "n_side_inputs_", 0):
        status = _run_status(Path(model_dir))
        raise GenZInputError(f"{model_dir}: the model has no features{status}; it would predict the same constant "
                             "for every item. Fit it again (genz fit ... --overwrite, or --resume)")
    return est


def _run_status(model_dir: Path) -> str:
    """`` (its run failed: ...)`` for a model inside a run directory that did not complete."""
    import json

    for d in (model_dir, model_dir.parent):
        p = d / "run.json"
        if p.is_file():
            try:
                info = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return ""
            st = info.get("status")
            if st and st != "complete":
                err = f": {info['error']}" if info.get("error") else ""
                return f" (its run {st}{err})"
            return ""
    return ""
