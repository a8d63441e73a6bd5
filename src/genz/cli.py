"""The ``genz`` command line.

``genz`` alone prints this help. Every error is one line naming the file, line or item and
what to do (``genz --debug ...`` shows the traceback instead).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click
import numpy as np

from .commands import GenzGroup, check_output_path, friendly, grouped, _DEBUG
from .commands.fm import fm_from_options, fm_options
from .commands.inputs import (check_fit_inputs, data_options, discovery_options, explain_features, load_inputs,
                              SELECTION_OPTION_KEYS, selection_options, set_conjunctions, target_outliers)
from .commands.predict import predict_options
from .commands.requests import EXECUTOR_OPTION_KEYS, executor_options, with_executor
from .errors import GenZInputError


@click.group(cls=GenzGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback of an error instead of one line.")
@click.version_option(package_name="genz")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """GenZ: discover natural-language features that predict real targets.

    \b
    Start here:
      genz demo binary                                   the paper's binary toy, offline
      genz fit --data cars.csv --target price -o run/    your own table
      genz predict run/ --data new.csv -o predictions.csv
      genz score run/ --data test.csv --target price
      genz report run/                                   an HTML report of the run
    """
    _DEBUG["on"] = debug
    import warnings

    from .errors import CheaperRouteWarning

    warnings.filterwarnings("ignore", category=CheaperRouteWarning)  # genz fit prints those lines itself
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


# ------------------------------------------------------------------------------------------------
@main.group()
def demo() -> None:
    """Small self-contained demonstrations."""


@demo.command("binary")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--bits", type=click.IntRange(2, 16), default=9, show_default=True,
              help="Number of binary digits (items 0 … 2^bits − 1).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("-o", "--out", type=click.Path(file_okay=False), default=None,
              help="Also record the run in this directory (for `genz report`).")
@click.option("--resume", is_flag=True,
              help="Reuse the run in OUT: a complete run is shown again; an unfinished one is redone (it takes "
                   "under a second).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the last line.")
@friendly
def demo_binary(seed: int, bits: int, as_json: bool, out: str | None, resume: bool, overwrite: bool,
                quiet: bool) -> None:
    """The paper's Section 5.1: items "0" … "511", target = the number, linear model,
    Algorithm 1 run 9 times with the offline predicate foundation model."""
    from .demo import run_binary_demo

    if resume and overwrite:
        raise GenZInputError("--resume and --overwrite exclude each other")
    if resume and not out:
        raise GenZInputError("--resume needs the run directory: --out RUN")
    res = None
    if out:
        from .runfit import binary_demo_run
        from .runs import RunDir

        if resume and RunDir.is_run(out):
            run = RunDir.open(out)
            if run.config() != {"demo": "binary", "seed": seed, "n_bits": bits}:
                raise GenZInputError(f"{out}: holds a different run ({run.config()}); choose another --out")
            if run.status == "complete" and (Path(out) / "model").is_dir():
                res = _demo_from_saved(Path(out) / "model", seed, bits)
            else:
                overwrite = True
        if res is None:
            res = binary_demo_run(out, seed=seed, n_bits=bits, overwrite=overwrite)
    else:
        res = run_binary_demo(seed=seed, n_bits=bits)
    res.pop("estimator", None)
    if as_json:
        click.echo(json.dumps(res))
        return
    if not quiet:
        click.echo(f"GenZ binary demo (seed {seed}): Algorithm 1 run {bits} times, offline predicate FM")
        for k, (f, b) in enumerate(zip(res["features"], res["feature_bits"])):
            tag = f"bit {b} (2^{b})" if b is not None else "not a bit"
            click.echo(f"  {k + 1}. {f}    [{tag}]")
    click.echo(f"bits recovered: {res['bits_recovered']} of {bits}; "
               f"training MAE: {res['train_mae']:.3g}; {res['seconds']:.2f} s")


def _demo_from_saved(model_dir: Path, seed: int, bits: int) -> dict:
    """The demo's summary from a saved model (``genz demo binary --out RUN --resume``)."""
    from .demo import bits_recovered
    from .estimator import GenZRegressor
    from .items import items_from_texts

    est = GenZRegressor.load(model_dir)
    values = np.arange(2**bits)
    items = items_from_texts(str(v) for v in values)
    pred = est.predict(items)
    match = bits_recovered(est.transform(items), values, bits)
    fbits: list = [None] * len(est.features_)
    for j, k in enumerate(match):
        if k is not None:
            fbits[k] = j
    return {"seed": seed, "features": est.features_, "feature_bits": fbits,
            "train_mae": float(np.mean(np.abs(pred - values))), "bits_recovered": int(sum(k is not None for k in match)),
            "n_bits": bits, "epsilon": [float(e) for e in est.epsilon_], "seconds": 0.0, "resumed": True}


# ------------------------------------------------------------------------------------------------
def _columns(spec: str | None) -> list[str]:
    return [c.strip() for c in (spec or "").split(",") if c.strip()]


_FM_OPTIONS = ["fm", "fm_model", "mining_model", "base_url", "api_key_env", "fm_cache", "no_cache", "prompts_dir",
               "fm_concurrency", "fm_batch_size", "price_in", "price_out", "vision", "fm_timeout", "judge_mode",
               "allow_other_host"]
_EXECUTOR_OPTIONS = ["executor", "batch_dir", "poll_interval", "ray_endpoints", "vllm_command"]
#: genz fit --help: what every fit needs first, then what tunes it, then the LLM and bulk-judging options
FIT_HELP = [
    ("Basic options", ["data_path", "target", "id_column", "text_columns", "out", "resume", "overwrite", "quiet"]),
    ("Other inputs", ["items_path", "targets_path", "test_data", "test_items", "encoding", "delimiter", "categorical",
                      "side_inputs", "allow_missing"]),
    ("Discovery", ["cycles", "add_per_cycle", "remove_per_cycle", "n_features", "seed", "model", "algorithm",
                   "n_candidates", "conjunctions", "discovery_sample", "hypotheses_path", "pin", "veto"]),
    ("Selection and findings", ["folds", "patience", "holdout", "error_rate", "correction", "located", "discovery_p", "extend",
                                "max_features", "numbers_route", "route_se", "route_inputs", "text_route",
                                "tree_route", "blend_words"]),
    ("Foundation model (default: the offline engine; these matter for --fm openai)", _FM_OPTIONS),
    ("Bulk judging (--executor; docs/scale.md)", _EXECUTOR_OPTIONS),
]
PREDICT_HELP = [
    ("Basic options", ["data_path", "out_path", "id_column", "text_columns", "quiet"]),
    ("Other inputs", ["items_path", "encoding", "delimiter", "side_inputs", "allow_missing", "safe_csv"]),
    ("Foundation model (default: the one the model was trained with)", _FM_OPTIONS),
    ("Bulk judging (--executor; docs/scale.md)", _EXECUTOR_OPTIONS),
]


@main.command(cls=grouped(FIT_HELP))
@data_options(targets=True, test=True, categorical=True, delimiter=True, allow_missing=True)
@click.option("--side-inputs", default="",
              help="Comma-separated numeric attributes (columns) used as side inputs u: they enter the predictor "
                   "directly, next to the discovered features; 'numeric': every numeric column with a value in "
                   "every row. Default: none (numbers enter as thresholds and ranges that discovery finds; "
                   "docs/user-guide.md says when to choose side inputs).")
@discovery_options()
@selection_options()
@fm_options()
@click.option("--hypotheses", "hypotheses_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Your hypotheses, one descriptor a line: judged like mined features, kept only if they lower the "
                   "cross-validated loss; the evidence is printed either way.")
@click.option("--discovery-sample", type=click.IntRange(20), default=None,
              help="Run discovery on a sample of N training items stratified by the target, then judge the kept "
                   "features on all items in one bulk pass and refit the predictor on everything (docs/scale.md).")
@click.option("--pin", multiple=True, help="A descriptor kept whatever the evidence (repeatable).")
@click.option("--veto", multiple=True, help="A descriptor never mined (repeatable).")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Run directory: configuration, history, checkpoints and the model.")
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in OUT.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output and no summary.")
@executor_options()
@friendly
def fit(data_path, items_path, target, targets_path, id_column, text_columns, encoding, delimiter, allow_missing,
        categorical, test_data, test_items,
        side_inputs, model, algorithm, cycles, add_per_cycle, remove_per_cycle, n_features, n_candidates,
        conjunctions, seed, hypotheses_path, discovery_sample, pin, veto, out, resume, overwrite, quiet,
        **fm_opts) -> None:
    """Discover features that predict the target; record the run (history, checkpoints, model) in OUT.

    \b
    A table:  genz fit --data cars.csv --target price [--id car_id] [--text description] -o run/
    JSONL:    genz fit --items items.jsonl --targets targets.csv -o run/
    """
    from .estimator import GenZRegressor
    from .items import side_inputs_from_attributes
    from .progress import FitProgress
    from .runfit import fit_run

    if model == "mlp":
        _require_torch()
    ex_opts = {k: fm_opts.pop(k) for k in EXECUTOR_OPTION_KEYS}
    selection = {k: fm_opts.pop(k) for k in SELECTION_OPTION_KEYS}
    fm = with_executor(fm_from_options(**fm_opts, progress=False), **ex_opts)
    set_conjunctions(fm, conjunctions)
    cols = _columns(side_inputs)
    forced = {c: "text" for c in _columns(categorical)}
    if forced and not data_path:
        raise GenZInputError("--categorical goes with --data (a table); in JSONL items, write such values as strings")
    inp = load_inputs(data_path, items_path, target, targets_path, id_column, text_columns, encoding,
                      types=forced or None, delimiter=delimiter)
    items, Y = inp.items, inp.Y
    unknown = [c for c in forced if c not in inp.table.get("types", {})]
    if unknown:
        raise GenZInputError(f"--categorical {unknown[0]!r}: no such attribute column (attributes: "
                             f"{', '.join(inp.table.get('types', {}))})")
    if inp.summary and not quiet:
        click.echo(inp.summary, err=True)
    where = data_path or items_path
    check_fit_inputs(items, Y, inp.target_names, where=str(where))
    if cols == ["numeric"] and "numeric" not in inp.table.get("types", {}):
        from .estimator_inputs import side_input_columns

        cols = side_input_columns("numeric", items, inp.table.get("types"))
        if not quiet:
            click.echo(f"side inputs: {', '.join(cols)}", err=True)
    eval_set = None
    if test_data and test_items:
        raise GenZInputError("give the held-out items with --test-data or --test-items, not both")
    if test_data:
        if not data_path:
            raise GenZInputError("--test-data goes with --data; with --items use --test-items")
        t = load_inputs(test_data, None, target, None, id_column, inp.table.get("text") and ",".join(inp.table["text"]),
                        encoding, types=inp.table["types"], delimiter=delimiter)
        _check_test_columns(test_data, inp.table, t.table, allow_missing)
        Ut = side_inputs_from_attributes(t.items, cols) if cols else None
        eval_set = (t.items, t.Y[:, 0] if t.Y.shape[1] == 1 else t.Y, Ut)
    elif test_items:
        if not items_path:
            raise GenZInputError("--test-items goes with --items; with --data use --test-data")
        from .items import load_items, load_targets

        t_items = load_items(test_items, encoding=encoding)
        Yall = load_targets(targets_path, [it.id for it in items] + [it.id for it in t_items], encoding=encoding)
        Y, Yt = Yall[: len(items)], Yall[len(items):]
        Ut = side_inputs_from_attributes(t_items, cols) if cols else None
        eval_set = (t_items, Yt[:, 0] if Yt.shape[1] == 1 else Yt, Ut)
    U = side_inputs_from_attributes(items, cols) if cols else None
    if U is not None:
        from .estimator_inputs import check_target_values

        check_target_values(U, cols, what="side inputs")  # before the run directory exists
    from .settings import PriorKnowledge

    hyps = []
    if hypotheses_path:
        hyps = [ln.strip() for ln in Path(hypotheses_path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    know = PriorKnowledge(hypotheses=tuple(hyps), pin=tuple(pin), veto=tuple(veto)) if hyps or pin or veto else None
    est = GenZRegressor(fm=fm, model=model, algorithm=algorithm, cycles=cycles, add_per_cycle=add_per_cycle,
                        remove_per_cycle=remove_per_cycle, add_only=n_features, hypotheses=know,
                        discovery_sample=discovery_sample, advanced={"n_candidates": n_candidates},
                        selection=selection, random_state=seed)
    progress = FitProgress(quiet=quiet, total_cycles=None if n_features else cycles)
    extra = {"side_inputs": cols, "conjunctions": conjunctions}
    if data_path:
        extra.update(data=str(data_path), table=inp.table, target_names=inp.target_names)
        if test_data:
            extra["test_data"] = str(test_data)
    else:
        extra.update(items=str(items_path), targets=str(targets_path))
        if test_items:
            extra["test_items"] = str(test_items)
    from .commands.preflight import check_fm_ready

    check_fm_ready(fm)  # the API key and the server, before the run directory exists
    outliers = target_outliers(Y, [it.id for it in items], inp.target_names)
    if outliers and not quiet:
        click.echo(f"warning: {outliers}", err=True)

    def kept_something(e) -> None:  # a fit that keeps nothing is a failed run, with the reason
        notes = [] if e.features_ else explain_features(e, items, fm_opts.get("fm", "predicates"), n_features,
                                                         outliers=outliers)
        if notes and not (getattr(e, "structure_check_", None) or {}).get("fell_back"):  # (side inputs that explain the target
            # without any feature are a result, and so is the structure check's answer: nothing generalised)
            raise GenZInputError(" ".join(notes) + f" (The run is saved in {out}, marked failed.)")

    est, run = fit_run(est, items, Y[:, 0] if Y.shape[1] == 1 else Y, U, eval_set, out=out, resume=resume,
                       overwrite=overwrite, progress=progress, config_extra=extra, target_names=inp.target_names,
                       check=kept_something)
    sampled = est.discovery_sample_
    if sampled and not quiet:
        click.echo(f"discovery on {sampled['sample']} of {sampled['items']} items; the {len(est.features_)} kept "
                   f"features were judged on all of them and the predictor refitted on all "
                   f"({sampled['judgments_saved']:,} judgments saved)", err=True)
    _save_inputs(Path(out) / "model", extra)
    notes = explain_features(est, items, fm_opts.get("fm", "predicates"), n_features, outliers=outliers)
    if not quiet:
        from .effects_table import build_feature_table
        from .report.feature_table import format_feature_table

        inf = est.inference_
        click.echo(f"{len(est.features_)} features, {len(est.findings_)} of them findings; run saved to {out} "
                   f"(genz report {out}, genz show {out})")
        click.echo(format_feature_table(build_feature_table(est), est.target_names_,
                                        info=None if inf is None else {"nobs": inf.nobs, "error_rate": inf.error_rate,
                                                                       "correction": inf.correction}))
        for h in est.hypotheses_:
            click.echo(f"  {h['message']}")
        from .checks import numbers_line, structure_line, text_line, tree_line, zero_shot_line
        from .runfit import screening_saved

        if getattr(est, "structure_check_", None):
            click.echo("  " + structure_line(est.structure_check_))
        if est.baseline_:
            click.echo("  " + zero_shot_line(est.baseline_))
        if est.numbers_check_:
            click.echo("  " + numbers_line(est.numbers_check_))
        if getattr(est, "text_check_", None):
            click.echo("  " + text_line(est.text_check_))
        if getattr(est, "tree_route_", None):
            click.echo("  " + tree_line(est.tree_route_))

        saved = screening_saved(est.history_)
        if saved:
            click.echo(f"  candidate screening saved {saved:,} judgments (docs/scale.md)")
        from .inference import convergence_note
        from .settings import MLP, model_spec

        note = convergence_note(sum(len(r.get("em_phases") or []) for r in est.history_),
                                sum(int(r.get("em_not_converged", 0)) for r in est.history_),
                                isinstance(model_spec(est.model), MLP))
        if note:
            click.echo(f"  {note}")
        for line in notes:
            click.echo(line, err=True)


def _check_test_columns(path, train: dict, test: dict, allow_missing: bool) -> None:
    """``--test-data`` must have the training table's columns: a missing one would count as an
    empty cell in every test item, and the test metrics would be wrong."""
    have = set(test.get("columns") or [])
    missing = [c for c in list(train.get("types") or {}) + list(train.get("text") or []) if c not in have]
    if not missing:
        return
    if allow_missing:
        click.echo(f"warning: {path} has no column {', '.join(missing)} (the training table has them); they count "
                   "as empty cells in the test items", err=True)
        return
    raise GenZInputError(f"{path} has no column {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                         else "") + ", which the training table has; the test metrics would treat it as empty in "
                         "every test item: add the column, or pass --allow-missing")


#: how a model's inputs were read, kept beside the model so that a copied model directory predicts alone
INPUTS_FILE = "inputs.json"


def _save_inputs(model_dir: Path, extra: dict) -> None:
    from .files import atomic_write_bytes

    keep = {k: extra[k] for k in ("side_inputs", "table", "target_names") if k in extra}
    if model_dir.is_dir():
        atomic_write_bytes(model_dir / INPUTS_FILE, json.dumps(keep, indent=1).encode("utf-8"))


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise GenZInputError("--model mlp needs PyTorch, which is an optional extra: pip install 'genz[mlp]' "
                             "(or use --model linear)") from None


# ------------------------------------------------------------------------------------------------
def _load_run_model(path: str, side_inputs: str | None, fm_overrides: dict | None = None):
    """A fitted model from a run directory (``genz fit --out``) or a model directory, with the
    run's configuration (``{}`` for a bare model) and its side-input attribute names; the model's
    files are checked and its FM is the one it was trained with (``fm_overrides``: predict's
    FM options)."""
    from .commands.predict import load_model

    p = Path(path)
    cfg: dict = {}
    if (p / "model").is_dir():
        run_dir, model_dir = p, p / "model"
    elif (p / "model.json").exists():
        run_dir, model_dir = p.parent, p
    else:
        raise GenZInputError(f"{p}: neither a run directory (genz fit --out) nor a model directory (model.json)")
    if (model_dir / INPUTS_FILE).exists():
        try:
            cfg = dict(json.loads((model_dir / INPUTS_FILE).read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            raise GenZInputError(f"{model_dir / INPUTS_FILE}: not valid JSON; delete it and pass --side-inputs, --id "
                                 "and --text yourself") from None
    if (run_dir / "config.json").exists() and (run_dir / "model") == model_dir:
        from .runs import RunDir

        cfg.update(RunDir.open(run_dir).config())
    est = load_model(model_dir, **(fm_overrides or {}))
    # the side-input columns: the run's (genz fit --side-inputs), else the model's own record of them
    # (GenZRegressor.inputs_: side_inputs= columns, with the numbers route's after them)
    cols = list(cfg.get("side_inputs") or (getattr(est, "inputs_", None) or {}).get("side_inputs") or [])
    if side_inputs is not None:
        cols = _columns(side_inputs)
    from .estimator_inputs import route_extra_columns

    if est.n_side_inputs_ and len(cols) + route_extra_columns(est) != est.n_side_inputs_:  # the table route one-hots
        raise GenZInputError(
            f"{p}: this model uses {est.n_side_inputs_} side inputs; pass --side-inputs with the attributes it was "
            "fitted with (comma-separated), or give its run directory")
    return est, cfg, cols


def _new_inputs(cfg: dict, data_path, items_path, id_column, text_columns, encoding, target=None, targets_path=None,
                need_target=False, *, est=None, cols=(), delimiter=None, allow_missing=False):
    """New items read as the training table was (id, text, column types); a table or items
    without a column the model's features test (or a side input) is refused, naming it,
    unless ``allow_missing``."""
    from .estimator_inputs import check_columns

    table = cfg.get("table") or {}
    if data_path and table:  # read the new table the way the training table was read
        id_column = id_column if id_column is not None else table.get("id")
        text_columns = text_columns if text_columns is not None else ",".join(table.get("text") or [])
    drop = list(table.get("target") or [])
    if data_path and est is not None and table:
        from .table_files import read_table

        t = read_table(data_path, encoding=encoding, delimiter=delimiter)
        have = [c for c in t.columns if c not in t.index_columns]
        need = {"types": table.get("types") or {}, "text": list(table.get("text") or []), "id": table.get("id"),
                "target": drop, "side_inputs": list(cols)}
        missing = check_columns(have, need, est.features_, allow_missing=allow_missing, where=str(data_path),
                                option="--allow-missing")
        if missing:
            click.echo(f"warning: {data_path} has no column {', '.join(missing)} (the model's features test "
                       "them); they count as empty cells", err=True)
            text_columns = ",".join(c for c in (text_columns or "").split(",") if c and c not in missing) or None
        unused = [c for c in list(need["types"]) + need["text"] if c not in have and c not in missing]
        if unused:
            click.echo(f"warning: {data_path} has no column {', '.join(unused)} (the model was fitted with "
                       f"{'them' if len(unused) > 1 else 'it'}; no kept feature tests "
                       f"{'them' if len(unused) > 1 else 'it'}, so the predictions do not change)", err=True)
            text_columns = ",".join(c for c in (text_columns or "").split(",") if c and c not in unused) or None
    inp = load_inputs(data_path, items_path, target, targets_path, id_column, text_columns or None, encoding,
                      need_target=need_target, types=table.get("types"), drop=drop, delimiter=delimiter)
    if items_path and est is not None and table.get("types") and not allow_missing:
        have = sorted({k for it in inp.items for k in it.attributes})
        check_columns(have, {"types": table["types"], "text": [], "side_inputs": list(cols)}, est.features_,
                      allow_missing=False, where=str(items_path), option="--allow-missing")
    return inp


def _predict(est, items, cols, executor: str = "sync", **executor_opts):
    """Predictions for ``items``. With an ``executor`` other than sync, the kept features are
    first judged on all the items in one pass of that executor (export, submit or run, ingest
    into the cache: :meth:`genz.fm.executors.ExecutorFM.prefetch`); predict then reads them
    from the cache."""
    from .estimator_inputs import route_matrix
    from .items import side_inputs_from_attributes

    U = side_inputs_from_attributes(items, cols) if cols else None
    if U is not None:
        U = route_matrix(est, items, U)  # the table route's logs and levels (an array's route: predict appends)
    if executor != "sync" and est.features_:
        est.fm_ = with_executor(est.fm_, executor, **executor_opts)
        est.fm_.prefetch(list(est.features_), items)
    # the columns were checked when the table was read (_new_inputs)
    return np.asarray(est.predict(items, U, allow_missing=True), dtype=float).reshape(len(items), -1)


@main.command(cls=grouped(PREDICT_HELP))
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@data_options(targets=False, delimiter=True, allow_missing=True)
@click.option("--side-inputs", default=None,
              help="Side-input attributes, comma-separated (only for a bare model directory: a run directory knows "
                   "them).")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write predictions as CSV (default: standard output).")
@click.option("-q", "--quiet", is_flag=True, help="Do not confirm what was written.")
@predict_options
@executor_options()
@friendly
def predict(run, data_path, items_path, id_column, text_columns, encoding, delimiter, allow_missing, side_inputs,
            out_path, quiet, safe_csv, **fm_overrides) -> None:
    """Predict the targets of new items with a fitted run (or its model/ directory), from the
    foundation model's judgments of the discovered features only, asked of the FM the model was
    trained with (the FM options override it; another host needs --allow-other-host).
    With --executor batch|vllm|ray the judgments are made in one bulk pass first (docs/scale.md).

    \b
    genz predict run/ --data new_cars.csv -o predictions.csv
    genz predict run/ --items new.jsonl --executor batch --cache fm.sqlite -o predictions.csv
    """
    import io

    from .commands.predict import write_predictions_csv
    from .files import atomic_write_bytes

    if out_path:
        check_output_path(out_path)
    ex_opts = {k: fm_overrides.pop(k) for k in EXECUTOR_OPTION_KEYS}
    est, cfg, cols = _load_run_model(run, side_inputs, fm_overrides)
    inp = _new_inputs(cfg, data_path, items_path, id_column, text_columns, encoding, est=est, cols=cols,
                      delimiter=delimiter, allow_missing=allow_missing)
    P = _predict(est, inp.items, cols, **ex_opts)
    names = cfg.get("target_names") or getattr(est, "target_names_", None) or []
    if len(names) != P.shape[1]:
        names = [f"y{d}" for d in range(P.shape[1])]
    buf = io.StringIO()
    write_predictions_csv([it.id for it in inp.items], P, buf, safe=safe_csv, names=names)
    text = buf.getvalue()
    if out_path:
        atomic_write_bytes(out_path, text.encode("utf-8"))
        if not quiet:
            click.echo(f"wrote {len(inp.items)} predictions ({', '.join(names)}) to {out_path}", err=True)
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@data_options(targets=True, delimiter=True, allow_missing=True)
@click.option("--side-inputs", default=None,
              help="Side-input attributes, comma-separated (only for a bare model directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the headline metric's value.")
@friendly
def score(run, data_path, items_path, target, targets_path, id_column, text_columns, encoding, delimiter,
          allow_missing, side_inputs, as_json, quiet) -> None:
    """Score a fitted run's predictions against known targets: median and mean absolute error,
    RMSE and R² (cosine for a vector target).

    \b
    genz score run/ --data test_cars.csv --target price
    """
    from .metrics import primary_metric, regression_metrics

    est, cfg, cols = _load_run_model(run, side_inputs)
    if data_path and not target:
        target = ",".join((cfg.get("table") or {}).get("target") or []) or None
    inp = _new_inputs(cfg, data_path, items_path, id_column, text_columns, encoding, target, targets_path,
                      need_target=True, est=est, cols=cols, delimiter=delimiter, allow_missing=allow_missing)
    P = _predict(est, inp.items, cols)
    if inp.Y.shape[1] != P.shape[1]:
        raise GenZInputError(f"the targets have {inp.Y.shape[1]} columns, the model predicts {P.shape[1]}")
    m = regression_metrics(inp.Y, P)
    key, _ = primary_metric(P.shape[1])
    if as_json:
        click.echo(json.dumps({"n_items": len(inp.items), **m}))
    elif quiet:
        click.echo(f"{m[key]:.4g}")
    else:
        click.echo(f"{len(inp.items)} items: " + " · ".join(f"{k} {_fmt_metric(v)}" for k, v in m.items()))


def _fmt_metric(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.4g}"


def _register_commands() -> None:
    from .commands.experiment import experiment
    from .commands.fm import describe_images, estimate
    from .commands.report import report
    from .commands.requests import requests as requests_group
    from .commands.show import show

    main.add_command(report)
    main.add_command(experiment)
    main.add_command(estimate)
    main.add_command(describe_images)
    main.add_command(requests_group)
    from .commands.cache import cache; main.add_command(cache)  # noqa: E702
    from .commands.pairs import fit_pairs, predict_pairs, two_sided_cmd  # two-sided models (issue 13)
    main.add_command(fit_pairs)
    main.add_command(predict_pairs)
    experiment.add_command(two_sided_cmd)
    main.add_command(show)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
