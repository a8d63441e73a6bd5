"""Two kinds of items (paper Appendix C): ``genz fit-pairs``, ``genz predict-pairs`` and
``genz experiment two-sided``.

    genz fit-pairs --users USERS --items ITEMS --interactions R.csv --out RUN [--k 16] [--resume]
    genz predict-pairs RUN --users NEW_USERS --items NEW_ITEMS [--top 10] [--out P.csv]
    genz experiment two-sided --data DIR --format movielens-1m [--seeds 0-4] [--out FILE.json]

USERS and ITEMS are genz items files (JSONL), CSV/TSV tables with an ``id`` column, or
MovieLens' ``users.dat``; R.csv has a header and ``user,item,value`` rows.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import friendly
from .fm import fm_from_options, fm_options

__all__ = ["fit_pairs", "predict_pairs", "two_sided_cmd"]


def _side_estimator(fm, seed: int, cycles: int | None):
    from ..estimator import GenZRegressor

    est = GenZRegressor(random_state=seed)
    params = {"fm": fm}
    if cycles is not None:
        params["cycles"] = cycles
    have = est.get_params(deep=False)
    return est.set_params(**{k: v for k, v in params.items() if k in have})


@click.command("fit-pairs")
@click.option("--users", "users_path", required=True, type=click.Path(exists=True),
              help="The first side: items JSONL, a CSV/TSV table with an id column, or MovieLens users.dat.")
@click.option("--items", "items_path", required=True, type=click.Path(exists=True),
              help="The second side, in the same formats.")
@click.option("--interactions", "inter_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="CSV with a header and user,item,value rows (e.g. ratings).")
@click.option("--k", default=16, show_default=True, help="Rank of the SVD (embedding dimension).")
@click.option("--alpha", default=0.5, show_default=True,
              help="Scale split of eq. (36): users P·S^alpha, items Q·S^(1-alpha).")
@click.option("--fill", type=click.Choice(["svd", "zero"]), default="svd", show_default=True,
              help="Unobserved cells: imputed by iterated SVD, or 0 (large sparse matrices).")
@click.option("--cycles", type=int, default=None, help="Cycles of Algorithm 4 on each side [default: the estimator's].")
@click.option("--offsets", type=click.Choice(["items", "users", "both", "joint"]), default="items", show_default=True,
              help="Sides whose offsets get a GenZ model of their own (joint: the offset is one dimension of the side's model).")
@fm_options()
@click.option("--seed", default=0, show_default=True, help="Random seed of both sides' discovery.")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in OUT (each side from its last checkpoint).")
@click.option("--overwrite", is_flag=True, help="Replace an existing two-sided run in OUT.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@friendly
def fit_pairs(users_path, items_path, inter_path, k, alpha, fill, cycles, offsets, seed, out, resume, overwrite, quiet,
              **fm_opts) -> None:
    """Fit a two-sided model: factor the interactions, then one GenZ model per side (Appendix C)."""
    from ..datasets.users import load_entities
    from ..pairs import GenZPairs, fit_pairs_run, interactions_from_csv
    from ..progress import FitProgress

    users = load_entities(users_path)
    items = load_entities(items_path)
    triplets = interactions_from_csv(inter_path)
    fm_u = fm_from_options(**fm_opts, progress=False)
    fm_i = fm_from_options(**fm_opts, progress=False)
    model = GenZPairs(_side_estimator(fm_u, seed, cycles), _side_estimator(fm_i, seed, cycles), k=k, alpha=alpha,
                      fill=fill, offsets=offsets, random_state=seed)

    def progress(side: str) -> FitProgress:
        if not quiet:
            click.echo(f"fitting the {side} side", err=True)
        return FitProgress(quiet=quiet)

    fit_pairs_run(model, users, items, triplets, out=out, resume=resume, overwrite=overwrite, progress=progress,
                  config_extra={"users": str(users_path), "items": str(items_path), "interactions": str(inter_path),
                                "seed": seed})
    if not quiet:
        inter = model.interactions_
        click.echo(f"{len(inter.user_features)} user features, {len(inter.item_features)} item features; "
                   f"run saved to {out} (genz report {out})")
        for r in inter.table(10):
            ci = f"  [{r['low']:+.3f}, {r['high']:+.3f}]" if "low" in r else ""
            click.echo(f"  {r['effect']:+.3f}{ci}  {r['user_feature']}  ×  {r['item_feature']}")


@click.command("predict-pairs")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--users", "users_path", required=True, type=click.Path(exists=True), help="Users (new or known).")
@click.option("--items", "items_path", required=True, type=click.Path(exists=True), help="Items (new or known).")
@click.option("--top", type=int, default=None, help="Only each user's N best items, ranked.")
@click.option("--use-known/--no-use-known", default=True, show_default=True,
              help="Users/items seen in training keep their fitted factors (else every one is predicted from its semantics).")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write CSV here (default: standard output).")
@friendly
def predict_pairs(run_dir, users_path, items_path, top, use_known, out_path) -> None:
    """Predict the association of every user with every item (CSV: user,item,score[,rank])."""
    from ..datasets.users import load_entities
    from ..pairs import GenZPairs

    model = GenZPairs.load(run_dir)
    users, items = load_entities(users_path), load_entities(items_path)
    lines = []
    if top is not None:
        lines.append("user,item,score,rank")
        for u, ranked in zip(users, model.rank(users, items, top=top, use_known=use_known)):
            lines += [f"{u.id},{i},{s:.6g},{r + 1}" for r, (i, s) in enumerate(ranked)]
    else:
        S = model.predict(users, items, use_known=use_known)
        lines.append("user,item,score")
        for n, u in enumerate(users):
            lines += [f"{u.id},{it.id},{S[n, j]:.6g}" for j, it in enumerate(items)]
    text = "\n".join(lines) + "\n"
    if out_path:
        Path(out_path).write_text(text)
    else:
        click.echo(text, nl=False)


@click.command("two-sided")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="MovieLens 1M folder (ratings.dat, movies.dat, users.dat).")
@click.option("--format", "fmt", type=click.Choice(["movielens-1m"]), default="movielens-1m", show_default=True,
              help="Layout of the data directory.")
@click.option("--seeds", default="0-4", show_default=True, help="Seeds of the user and movie splits: 0-4 or 0,2,3.")
@click.option("--n-items", default=512, show_default=True, help="Use the N most-rated movies.")
@click.option("--k", default=None, type=int, help="SVD rank [default: chosen on development seeds].")
@click.option("--alpha", default=0.5, show_default=True, help="Scale split of eq. (36).")
@click.option("--cycles", type=int, default=None,
              help="Cycles of Algorithm 4 on the user side [default: chosen on development seeds].")
@click.option("--item-cycles", type=int, default=None,
              help="Cycles of Algorithm 4 on the movie side [default: chosen on development seeds].")
@click.option("--fm", default="predicates", show_default=True, help="Foundation model of both sides.")
@click.option("--readout", type=click.Choice(["embeddings", "ratings"]), default=None,
              help="How GenZ scores a pair: eq. 37 (predicted embeddings) or the features' bilinear form refitted on ratings [default: chosen on development seeds].")
@click.option("--both-readouts", is_flag=True, help="Also report the other readout as a row.")
@click.option("--offsets", type=click.Choice(["items", "users", "both", "joint"]), default=None,
              help="Sides whose offsets get a GenZ model of their own [default: chosen on development seeds].")
@click.option("--no-genz", is_flag=True, help="Peers only.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Write all results as JSON; finished seeds are kept there, and a rerun resumes after them.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@friendly
def two_sided_cmd(data_dir, fmt, seeds, n_items, k, alpha, cycles, item_cycles, fm, readout, both_readouts, offsets, no_genz, out,
                  quiet) -> None:
    """New users × new movies (Appendix C): RMSE and mean per-user AUC (≥4 vs ≤2) of GenZ on both
    sides against the peers, with paired per-seed differences and 95% intervals."""
    import json

    from ..experiments.runner import parse_seeds, write_json
    from ..experiments.two_sided import (
        DEFAULT_GENZ_SETTINGS, DEFAULT_ITEM_SETTINGS, DEFAULT_K, DEFAULT_OFFSETS, DEFAULT_READOUT, TwoSidedConfig, load_two_sided,
        markdown_two_sided, print_two_sided,
        run_two_sided, summarize_two_sided,
    )  # fmt: skip

    t0 = time.perf_counter()
    say = None if quiet else (lambda m: click.echo(f"[{time.perf_counter() - t0:7.1f}s] {m}", err=True))
    settings, item_settings = dict(DEFAULT_GENZ_SETTINGS), dict(DEFAULT_ITEM_SETTINGS)
    if cycles is not None:
        settings["cycles"] = cycles
    if item_cycles is not None:
        item_settings["cycles"] = item_cycles
    cfg = TwoSidedConfig(seeds=parse_seeds(seeds), k=DEFAULT_K if k is None else k, alpha=alpha, fm=fm,
                         genz_settings=settings, item_settings=item_settings, run_genz=not no_genz,
                         readout=readout or DEFAULT_READOUT, both_readouts=both_readouts, offsets=offsets or DEFAULT_OFFSETS)
    from dataclasses import asdict

    cfg_json = json.loads(json.dumps(asdict(cfg)))
    done: dict[int, dict] = {}
    if out and Path(out).exists():
        try:
            prev = json.loads(Path(out).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise click.ClickException(f"{out}: exists and is not a results file; choose another --out") from None
        same = {a: b for a, b in prev.get("config", {}).items() if a != "seeds"} == \
            {a: b for a, b in cfg_json.items() if a != "seeds"}
        if not same:
            raise click.ClickException(f"{out}: holds results of different settings; choose another --out")
        done = {r["seed"]: r for r in prev.get("seeds", []) if r["seed"] in cfg.seeds}
        if done and say:
            say(f"resuming {out}: seeds {sorted(done)} already done")
    if say:
        say(f"loading {data_dir}")
    data = load_two_sided(data_dir, fmt, n_items=n_items)
    finished: list[dict] = [done[s] for s in sorted(done)]

    def on_seed(rec: dict) -> None:  # keep every finished seed on disk
        finished.append(rec)
        if out:
            snap = {"experiment": "two-sided", "config": cfg_json, "seeds": finished}
            snap["summary"] = summarize_two_sided(snap)
            write_json(snap, out)

    result = run_two_sided(data, cfg, progress=say, on_seed=on_seed, done=done)
    print_two_sided(result)
    if out:
        write_json(result, out)
        click.echo(f"results written to {out}")
    if not quiet:
        click.echo(markdown_two_sided(result))
