"""The ``genz`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from .commands import friendly
import numpy as np

from .commands.fm import fm_from_options, fm_options




@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="genz")
def main() -> None:
    """GenZ: discover natural-language features that predict real targets."""


# ------------------------------------------------------------------------------------------------
@main.group()
def demo() -> None:
    """Small self-contained demonstrations."""


@demo.command("binary")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--bits", default=9, show_default=True, help="Number of binary digits (items 0 … 2^bits − 1).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Also record the run in this directory (for `genz report`).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@friendly
def demo_binary(seed: int, bits: int, as_json: bool, out: str | None, overwrite: bool) -> None:
    """The paper's Section 5.1: items "0" … "511", target = the number, linear model,
    Algorithm 1 run 9 times with the offline predicate foundation model."""
    from .demo import run_binary_demo

    if out:
        from .runfit import binary_demo_run

        res = binary_demo_run(out, seed=seed, n_bits=bits, overwrite=overwrite)
    else:
        res = run_binary_demo(seed=seed, n_bits=bits)
    res.pop("estimator")
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"GenZ binary demo (seed {seed}): Algorithm 1 run {bits} times, offline predicate FM")
    for k, (f, b) in enumerate(zip(res["features"], res["feature_bits"])):
        tag = f"bit {b} (2^{b})" if b is not None else "not a bit"
        click.echo(f"  {k + 1}. {f}    [{tag}]")
    click.echo(f"bits recovered: {res['bits_recovered']} of {bits}; "
               f"training MAE: {res['train_mae']:.3g}; {res['seconds']:.2f} s")


# ------------------------------------------------------------------------------------------------
@main.command()
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False), help="Items, JSONL.")
@click.option("--targets", "targets_path", required=True, type=click.Path(dir_okay=False),
              help="Targets: CSV with an 'id' column, or .npy in the items' order.")
@click.option("--side-inputs", default="", help="Comma-separated numeric attributes used as side inputs u.")
@click.option("--model", type=click.Choice(["linear", "mlp"]), default="linear", show_default=True)
@click.option("--algorithm", type=click.Choice(["targeted", "simple"]), default="targeted", show_default=True)
@click.option("--cycles", default=12, show_default=True, help="Cycles of Algorithm 4.")
@click.option("--add", "add_per_cycle", default=5, show_default=True, help="Features added per cycle.")
@click.option("--remove", "remove_per_cycle", default=2, show_default=True, help="Features removed per cycle.")
@click.option("--n-features", type=int, default=None, help="Instead of cycles: add this many features.")
@fm_options()
@click.option("--seed", default=0, show_default=True)
@click.option("--test-items", type=click.Path(dir_okay=False), default=None,
              help="Held-out items (JSONL) for test metrics after every step; their targets must be in --targets.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in OUT.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@friendly
def fit(items_path, targets_path, side_inputs, model, algorithm, cycles, add_per_cycle, remove_per_cycle,
        n_features, seed, test_items, out, resume, overwrite, quiet, **fm_opts) -> None:
    """Discover features on your items; record the run (history, checkpoints, model) in OUT."""
    fm = fm_from_options(**fm_opts, progress=False)
    from .estimator import GenZRegressor
    from .items import load_items, load_targets, side_inputs_from_attributes
    from .progress import FitProgress
    from .runfit import fit_run

    items = load_items(items_path)
    cols = [c.strip() for c in side_inputs.split(",") if c.strip()]
    eval_set = None
    if test_items:
        t_items = load_items(test_items)
        Yall = load_targets(targets_path, [it.id for it in items] + [it.id for it in t_items])
        Y, Yt = Yall[: len(items)], Yall[len(items):]
        Ut = side_inputs_from_attributes(t_items, cols) if cols else None
        eval_set = (t_items, Yt[:, 0] if Yt.shape[1] == 1 else Yt, Ut)
    else:
        Y = load_targets(targets_path, [it.id for it in items])
    U = side_inputs_from_attributes(items, cols) if cols else None
    est = GenZRegressor(fm=fm, model=model, algorithm=algorithm, cycles=cycles, add_per_cycle=add_per_cycle,
                        remove_per_cycle=remove_per_cycle, n_features=n_features, random_state=seed)
    progress = FitProgress(quiet=quiet, total_cycles=None if n_features else cycles)
    est, run = fit_run(est, items, Y[:, 0] if Y.shape[1] == 1 else Y, U, eval_set, out=out, resume=resume,
                       overwrite=overwrite, progress=progress,
                       config_extra={"items": str(items_path), "targets": str(targets_path), "side_inputs": cols})
    if not quiet:
        click.echo(f"{len(est.features_)} features; run saved to {out} (genz report {out})")
        for f, e in zip(est.features_, est.epsilon_):
            click.echo(f"  ε={e:.3f}  {f}")


@main.command()
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False), help="New items, JSONL.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write predictions as CSV (default: standard output).")
@friendly
def predict(model_dir, items_path, out_path) -> None:
    """Predict targets of new items with a model saved by `genz fit` (from FM judgments only)."""
    from .estimator import GenZRegressor
    from .items import load_items, side_inputs_from_attributes

    run_dir = Path(model_dir)
    cols: list[str] = []
    if (run_dir / "model").is_dir():  # a run directory written by `genz fit --out`
        from .runs import RunDir

        cols = list(RunDir.open(run_dir).config().get("side_inputs", []))
        run_dir = run_dir / "model"
    est = GenZRegressor.load(run_dir)
    items = load_items(items_path)
    U = side_inputs_from_attributes(items, cols) if cols else None
    P = np.atleast_2d(est.predict(items, U).T).T
    lines = ["id," + ",".join(f"y{d}" for d in range(P.shape[1]))]
    lines += [it.id + "," + ",".join(f"{v:.10g}" for v in row) for it, row in zip(items, P)]
    text = "\n".join(lines) + "\n"
    if out_path:
        Path(out_path).write_text(text)
    else:
        click.echo(text, nl=False)


def _register_commands() -> None:
    from .commands.experiment import experiment
    from .commands.fm import describe_images, estimate
    from .commands.report import report
    from .commands.show import show

    main.add_command(report)
    main.add_command(experiment)
    main.add_command(estimate)
    main.add_command(describe_images)
    main.add_command(show)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
