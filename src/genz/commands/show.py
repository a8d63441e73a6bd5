"""``genz show RUN``: print the feature table of a fitted model again.

RUN is a run directory written by ``genz fit --out`` (its model lives in ``RUN/model``) or a
model directory saved by ``GenZRegressor.save`` (with ``model.json``). Models saved before
feature tables existed print their features and error rates, with a note to refit.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import friendly

__all__ = ["show"]


def _model_dir(path: Path) -> Path:
    from ..errors import GenZInputError

    if (path / "model" / "model.json").is_file():
        return path / "model"
    if (path / "model.json").is_file():
        return path
    if (path / "history.jsonl").is_file() or (path / "run.json").is_file():
        raise GenZInputError(f"{path}: this run has no final model yet (still running, interrupted or failed); "
                             "resume it with `genz fit ... --resume`")
    raise GenZInputError(f"{path}: not a genz run directory or saved model (no model/model.json or model.json)")


def _history(path: Path, model_dir: Path) -> list[dict]:
    """The run's history (history.jsonl of a run directory, else the model's history.json)."""
    from ..runs import read_history

    if (path / "history.jsonl").is_file():
        return read_history(path / "history.jsonl")
    hist = model_dir / "history.json"
    if hist.is_file():
        try:
            data = json.loads(hist.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return []
        return data if isinstance(data, list) else []
    return []


def _legacy_table(model_dir: Path) -> str:
    """Features and ε of a model saved without a feature table."""
    import numpy as np

    from ..errors import CorruptFileError

    try:
        meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{model_dir / 'model.json'}: not valid JSON ({exc})") from None
    feats = [str(f) for f in meta.get("features", [])]
    eps: list[float | None] = [None] * len(feats)
    try:
        with np.load(model_dir / "arrays.npz", allow_pickle=False) as z:
            if "epsilon" in z.files:
                eps = [float(e) for e in z["epsilon"]]
    except (OSError, ValueError, EOFError):
        pass
    lines = [f"{'#':>3}  {'ε':>6}  feature", f"{'-' * 3}  {'-' * 6}  {'-' * 7}"]
    for k, f in enumerate(feats):
        e = eps[k] if k < len(eps) else None
        lines.append(f"{k + 1:>3}  {'–' if e is None else f'{e:.3f}':>6}  {f}")
    lines.append("")
    lines.append("This model was saved before feature tables existed: no findings, intervals or cross-validated "
                 "contributions. Refit it with the current genz to see them.")
    return "\n".join(lines)


@click.command("show")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--full", is_flag=True, help="Print every feature whole (long descriptors and lists are not cut).")
@friendly
def show(run: Path, full: bool = False) -> None:
    """Print the feature table of a run (findings first, with their effects and intervals on the
    untouched rows; then the supporting features; the predictor's weights, cross-validated
    contributions, ε, share judged yes, origin), the fit's checks against cheaper routes (the
    zero-shot and numbers checks) and whether EM converged."""
    from ..report.feature_table import (format_em_convergence, format_feature_table, load_check_lines,
                                        load_feature_table, load_inference_info)

    model_dir = _model_dir(run)
    table = load_feature_table(model_dir)
    history = _history(run, model_dir)
    if table is None:
        click.echo(_legacy_table(model_dir))
    else:
        rows, names = table
        n_feat = len({str(r.get("feature")) for r in rows})
        click.echo(f"{n_feat} features" + (f"; targets: {', '.join(names)}" if names else ""))
        click.echo(format_feature_table(rows, names, info=load_inference_info(model_dir),
                                        max_feature_width=None if full else 60))
        for line in load_check_lines(model_dir):
            click.echo("  " + line)
    em = format_em_convergence(history)
    if em:
        click.echo(em)
    cv = next((r.get("cv") for r in reversed(history) if isinstance(r.get("cv"), dict)), None)
    if cv and isinstance(cv.get("loss"), (int, float)):
        click.echo(f"cross-validated loss on the discovery rows: {cv['loss']:.4g} ± {cv.get('loss_se', 0):.2g} "
                   "(1 = predicting the mean)")
