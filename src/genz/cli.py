"""The ``genz`` command line."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click
import numpy as np

from .errors import GenZError


def _friendly(fn):
    """Turn genz's own errors into one-line messages and Ctrl-C into a clean exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GenZError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


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
@_friendly
def demo_binary(seed: int, bits: int, as_json: bool) -> None:
    """The paper's Section 5.1: items "0" … "511", target = the number, linear model,
    Algorithm 1 run 9 times with the offline predicate foundation model."""
    from .demo import run_binary_demo

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
@click.option("--fm", default="predicates", show_default=True, help="Foundation model backend.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@_friendly
def fit(items_path, targets_path, side_inputs, model, algorithm, cycles, add_per_cycle, remove_per_cycle,
        n_features, fm, seed, out, quiet) -> None:
    """Discover features on your items and save the fitted model to OUT."""
    from .estimator import GenZRegressor
    from .items import load_items, load_targets, side_inputs_from_attributes

    items = load_items(items_path)
    Y = load_targets(targets_path, [it.id for it in items])
    cols = [c.strip() for c in side_inputs.split(",") if c.strip()]
    U = side_inputs_from_attributes(items, cols) if cols else None
    est = GenZRegressor(fm=fm, model=model, algorithm=algorithm, cycles=cycles, add_per_cycle=add_per_cycle,
                        remove_per_cycle=remove_per_cycle, n_features=n_features, random_state=seed,
                        verbose=0 if quiet else 1)
    est.fit(items, Y[:, 0] if Y.shape[1] == 1 else Y, U)
    est.save(out)
    with open(Path(out) / "fit_config.json", "w") as fh:
        json.dump({"items": str(items_path), "targets": str(targets_path), "side_inputs": cols}, fh, indent=1)
    if not quiet:
        click.echo(f"{len(est.features_)} features; model saved to {out}")
        for f, e in zip(est.features_, est.epsilon_):
            click.echo(f"  ε={e:.3f}  {f}")


@main.command()
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False), help="New items, JSONL.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write predictions as CSV (default: standard output).")
@_friendly
def predict(model_dir, items_path, out_path) -> None:
    """Predict targets of new items with a model saved by `genz fit` (from FM judgments only)."""
    from .estimator import GenZRegressor
    from .items import load_items, side_inputs_from_attributes

    est = GenZRegressor.load(model_dir)
    items = load_items(items_path)
    cfg_path = Path(model_dir) / "fit_config.json"
    cols = json.loads(cfg_path.read_text()).get("side_inputs", []) if cfg_path.exists() else []
    U = side_inputs_from_attributes(items, cols) if cols else None
    P = np.atleast_2d(est.predict(items, U).T).T
    lines = ["id," + ",".join(f"y{d}" for d in range(P.shape[1]))]
    lines += [it.id + "," + ",".join(f"{v:.10g}" for v in row) for it, row in zip(items, P)]
    text = "\n".join(lines) + "\n"
    if out_path:
        Path(out_path).write_text(text)
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
