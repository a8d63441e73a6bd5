"""Reading the user's data for ``genz fit``, ``predict`` and ``score``: a table
(``--data FILE --target COL [--id COL] [--text COL]``) or items + targets
(``--items FILE.jsonl --targets FILE.csv``); and the checks and explanations that make a run
say what went wrong (too few items, a constant target, no features kept)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import numpy as np

from ..errors import GenZInputError
from ..settings import CORRECTIONS, ROUTE_INPUTS, Selection
from ..items import Item

__all__ = ["data_options", "discovery_options", "load_inputs", "Inputs", "check_fit_inputs", "explain_features", "MIN_ITEMS",
           "target_outliers"]

#: mining compares two groups of at least ``min_group`` (10) items
MIN_ITEMS = 20


def data_options(targets: bool = True, test: bool = False, categorical: bool = False, delimiter: bool = False,
                 allow_missing: bool = False):
    """Decorator: ``--data/--items`` (+ ``--target/--targets``), ``--id``, ``--text``, ``--encoding``
    (with ``delimiter``: ``--delimiter``; with ``allow_missing``: ``--allow-missing``)."""
    opts = [
        click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
                     help="A table, one row per item: CSV, TSV, Parquet or JSONL of flat records (gzip is "
                          "recognised). Every column other than --id, --text and --target becomes an attribute."),
        click.option("--items", "items_path", type=click.Path(dir_okay=False), default=None,
                     help="Items as JSONL: {\"id\", \"text\", \"attributes\": {...}, \"images\": [...]} per line "
                          "(instead of --data)."),
    ]
    if targets:
        opts += [
            click.option("--target", "target", default=None,
                         help="With --data: the target column (several, comma-separated, for a vector target)."),
            click.option("--targets", "targets_path", type=click.Path(dir_okay=False), default=None,
                         help="With --items: targets as CSV with an 'id' column, or .npy in the items' order."),
        ]
    opts += [
        click.option("--id", "id_column", default=None,
                     help="With --data: the id column [default: row numbers 1, 2, ...]."),
        click.option("--text", "text_columns", default=None,
                     help="With --data: the free-text column(s), comma-separated [default: none]."),
        click.option("--encoding", default=None,
                     help="Text encoding of the input files [default: UTF-8, with or without a byte-order mark]."),
    ]
    if delimiter:
        opts.append(click.option("--delimiter", default=None,
                                 help="With --data: the CSV delimiter, e.g. ';' or tab [default: sniffed among , ; "
                                      "tab |, with a decimal comma recognised]."))
    if allow_missing:
        opts.append(click.option("--allow-missing", is_flag=True,
                                 help="Go on when a new table (predict's --data, fit's --test-data) lacks a column "
                                      "the model uses: it counts as empty cells [default: refuse, naming the "
                                      "column]."))
    if categorical:
        opts.append(click.option(
            "--categorical", default=None,
            help="With --data: columns to keep as categories although they hold numbers (e.g. zip codes), "
                 "comma-separated."))
    if test:
        opts += [
            click.option("--test-data", type=click.Path(dir_okay=False), default=None,
                         help="Held-out table (same columns as --data) for test metrics after every step."),
            click.option("--test-items", type=click.Path(dir_okay=False), default=None,
                         help="Held-out items (JSONL) for test metrics after every step; their targets must be "
                              "in --targets."),
        ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def discovery_options(note: str = ""):
    """Decorator: the discovery options of ``genz fit``, also on ``genz estimate`` (the same
    options on every command that plans or runs a fit): ``--model``, ``--algorithm``, ``--cycles``,
    ``--add``, ``--remove``, ``--n-features``, ``--n-candidates``, ``--conjunctions``, ``--seed``."""
    opts = [
        click.option("--model", type=click.Choice(["linear", "mlp"]), default="linear", show_default=True,
                     help="Observation model g(z, u): linear (exact mean field, fast) or mlp (needs "
                          "pip install 'genz[mlp]')." + note),
        click.option("--algorithm", type=click.Choice(["targeted", "simple"]), default="targeted", show_default=True,
                     help="How features are added: targeted (Algorithm 2, at the combination of features with the "
                          "largest error) or simple (Algorithm 1, on all items)." + note),
        click.option("--cycles", type=click.IntRange(1), default=12, show_default=True,
                     help="Cycles of Algorithm 4 (each adds --add features and removes --remove)."),
        click.option("--add", "add_per_cycle", type=click.IntRange(1), default=5, show_default=True,
                     help="Features added per cycle."),
        click.option("--remove", "remove_per_cycle", type=click.IntRange(0), default=2, show_default=True,
                     help="Features removed per cycle." + note),
        click.option("--n-features", type=click.IntRange(1), default=None,
                     help="Instead of cycles: add this many features, removing none."),
        click.option("--n-candidates", type=click.IntRange(1), default=5, show_default=True,
                     help="Characteristics asked per mining call; the one whose judgments explain the most residual "
                          "is kept." + note),
        click.option("--conjunctions/--no-conjunctions", default=True, show_default=True,
                     help="Let the offline engine propose '(A) and (B)' features (--fm predicates only)." + note),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Random seed; a run is reproducible for a fixed seed." + note),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


SELECTION_OPTION_KEYS = ("folds", "patience", "holdout", "error_rate", "correction", "located", "discovery_p", "extend",
                         "max_features", "numbers_route", "route_se", "route_inputs", "text_route",
                         "tree_route", "blend_words")


def selection_options():
    """Decorator: how ``genz fit`` keeps features and tests findings (genz.Selection; docs/feature-table.md):
    ``--folds``, ``--patience``, ``--holdout``, ``--error-rate``, ``--correction``, ``--located``, ``--discovery-p``,
    ``--extend``."""
    opts = [
        click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
                     help="Cross-validation folds over the discovery rows: every keep, remove, stop and size "
                          "decision of the predictor."),
        click.option("--patience", type=click.IntRange(1), default=2, show_default=True,
                     help="Cycles without a new best cross-validated loss before discovery stops."),
        click.option("--holdout", type=click.FloatRange(0, 0.6), default=0.3, show_default=True,
                     help="Share of the training rows set aside before discovery; the findings are tested there "
                          "(0: no findings)."),
        click.option("--error-rate", type=click.FloatRange(0, 0.5, min_open=True, max_open=True), default=0.05,
                     show_default=True, help="The stated error level of the findings."),
        click.option("--correction", type=click.Choice(list(CORRECTIONS)), default="by", show_default=True,
                     help="by: at most --error-rate of the findings are false, in expectation, whatever the "
                          "dependence between the features (Benjamini-Yekutieli); bh: the same for independent "
                          "features (Benjamini-Hochberg); "
                          "holm / bonferroni: the chance of any false finding is at most --error-rate."),
        click.option("--located", type=click.FloatRange(0, 1), default=0.7, show_default=True,
                     help="A cut of a number or a phrase is tested as a finding only when this share of bootstrap "
                          "resamples of the discovery rows put it where it is (0: test every feature)."),
        click.option("--discovery-p", type=click.FloatRange(0, 1, min_open=True), default=Selection.discovery_p,
                     show_default=True,
                     help="A feature is tested as a finding only when the same test on the discovery rows gives it "
                          "a p-value of at most this (the untouched rows then test it; 1: test every feature)."),
        click.option("--extend/--no-extend", default=True, show_default=True,
                     help="After the findings are tested, let discovery go on over every training row to improve "
                          "the predictor (the findings stay as tested)."),
        click.option("--max-features", type=click.IntRange(1), default=None,
                     help="A budget of features: discovery mines no more once the model holds this many "
                          "(default: no limit)."),
        click.option("--numbers-route/--no-numbers-route", default=True, show_default=True,
                     help="When the numbers check finds that a ridge on the numeric columns predicted the rows set "
                          "aside better, predict with those columns as side inputs beside the findings only."),
        click.option("--route-se", type=click.FloatRange(-3, 3), default=Selection.route_se, show_default=True,
                     help="Take the numbers route when the ridge is ahead on the rows set aside by more than this "
                          "many standard errors (0: whenever it is ahead; -1: unless the features are ahead by more "
                          "than one)."),
        click.option("--route-inputs", type=click.Choice(list(ROUTE_INPUTS)), default=Selection.route_inputs,
                     show_default=True,
                     help="What the numbers route may take: numbers (a ridge on the numeric columns) or table (also "
                          "a ridge on the numbers, the skewed ones logged, and the categories one-hot; the one "
                          "ahead on the rows set aside)."),
        click.option("--text-route/--no-text-route", default=Selection.text_route, show_default=True,
                     help="When the text check finds that a ridge on the texts' words (TF-IDF) predicted the rows "
                          "set aside better, add its prediction as a side input beside the features when that lowers "
                          "their loss there."),
        click.option("--tree-route/--no-tree-route", default=Selection.tree_route, show_default=True,
                     help="Try blending the predictor with gradient-boosted trees (LightGBM) on the table's columns; "
                          "take the blend when it lowers the loss on the rows set aside by more than one standard error "
                          "and 1% (docs/user-guide.md, 'The tree route')."),
        click.option("--blend-words/--no-blend-words", default=Selection.blend_words, show_default=True,
                     help="With texts too, let the tree route's blend add a ridge on the texts' words (TF-IDF), "
                          "by the same rule (off by default: it failed its development rule)."),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def set_conjunctions(fm: Any, conjunctions: bool) -> None:
    """``--no-conjunctions``: the offline engine proposes no ``(A) and (B)`` features."""
    if conjunctions:
        return
    inner = getattr(fm, "inner", fm)
    if not hasattr(inner, "conjunctions"):
        raise GenZInputError("--no-conjunctions applies to the offline engine (--fm predicates)")
    inner.conjunctions = False


@dataclass
class Inputs:
    items: list[Item]
    Y: np.ndarray | None
    target_names: list[str] | None
    summary: str | None = None
    table: dict[str, Any] = field(default_factory=dict)  # how a table was read (stored in the run config)


def load_inputs(data_path: str | None, items_path: str | None, target: str | None = None,
                targets_path: str | None = None, id_column: str | None = None, text_columns: str | None = None,
                encoding: str | None = None, *, need_target: bool = True, types: dict | None = None,
                drop: Sequence[str] = (), delimiter: str | None = None) -> Inputs:
    """Items (and targets when ``need_target``) from ``--data`` or ``--items``."""
    if bool(data_path) == bool(items_path):
        raise GenZInputError("give your data with --data TABLE (CSV, TSV, Parquet, JSONL records) or with "
                             "--items ITEMS.jsonl, not both" if data_path else
                             "no data: pass --data TABLE (CSV, TSV, Parquet, JSONL records) or --items ITEMS.jsonl")
    if data_path:
        from ..tables import load_table

        if targets_path:
            raise GenZInputError("--targets goes with --items; with --data name the target column: --target COLUMN")
        if need_target and not target:
            raise GenZInputError(f"{data_path}: name the column to predict with --target COLUMN")
        t = load_table(data_path, target if need_target else None, id=id_column, text=text_columns,
                       encoding=encoding, types=types, drop=drop, delimiter=delimiter)
        table = {"id": t.id_column, "text": t.text_columns, "types": t.types, "target": t.target_names,
                 "columns": t.columns}
        return Inputs(t.items, t.Y, t.target_names or None, t.summary, table)
    from ..items import load_items, load_targets

    for opt, v in (("--target", target), ("--id", id_column), ("--text", text_columns), ("--delimiter", delimiter)):
        if v and not (opt == "--target" and not need_target):
            raise GenZInputError(f"{opt} goes with --data (a table)" + (
                "; with --items use --targets FILE" if opt == "--target" else
                "; with --items use the JSONL fields id and text" if opt in ("--id", "--text") else
                "; --items files are JSONL"))
    items = load_items(items_path, encoding=encoding)
    Y = None
    if need_target:
        if not targets_path:
            raise GenZInputError(f"{items_path}: pass the targets with --targets FILE (CSV with an 'id' column, or .npy)")
        Y = load_targets(targets_path, [it.id for it in items], encoding=encoding)
    return Inputs(items, Y, None)


def check_fit_inputs(items: Sequence[Item], Y: np.ndarray, target_names: Sequence[str] | None = None,
                     where: str = "the data") -> None:
    """Refuse a fit that cannot work, in plain words: too few items, a constant target."""
    n = len(items)
    if n < MIN_ITEMS:
        raise GenZInputError(
            f"{where}: only {n} items; genz needs at least {MIN_ITEMS} (mining contrasts two groups of at least 10 "
            "items): add items")
    Y = np.asarray(Y, dtype=float).reshape(n, -1)
    from ..estimator_inputs import check_target_values

    check_target_values(Y, target_names)  # 1e308 overflows the arithmetic: say so before a run exists
    if np.all(np.ptp(Y, axis=0) == 0):
        name = ", ".join(target_names) if target_names else "target"
        raise GenZInputError(
            f"{where}: the {name} is the same for every item ({Y[0, 0]:g}); there is nothing to predict: check "
            "the target column")


def target_outliers(Y: np.ndarray, ids: Sequence[str], target_names: Sequence[str] | None = None,
                    far: float = 100.0) -> str | None:
    """A sentence about target values far outside the rest (more than ``far`` times the
    robust spread, 1.4826 × the median absolute deviation, from the median), or None: one such
    value dominates a least-squares fit, so that nothing else seems to matter."""
    Y = np.asarray(Y, dtype=float).reshape(len(ids), -1)
    for d in range(Y.shape[1]):
        y = Y[:, d]
        med = float(np.median(y))
        dev = np.abs(y - med)
        scale = 1.4826 * float(np.median(dev))
        if scale <= 0:
            rest = dev[dev > 0]
            scale = float(np.min(rest)) if rest.size else 0.0
        if scale <= 0:
            continue
        bad = np.flatnonzero(dev > far * scale)
        if 0 < bad.size <= max(3, 0.01 * len(y)):
            name = target_names[d] if target_names and d < len(target_names) else "target"
            lo, hi = np.percentile(y, [25, 75])
            shown = ", ".join(f"item {ids[i]!r} = {y[i]:.4g}" for i in bad[:3])
            return (f"the target {name!r} has {bad.size} extreme value{'s' if bad.size > 1 else ''} ({shown}; the "
                    f"middle half of the values lies between {lo:.4g} and {hi:.4g}); such a value dominates the fit: "
                    f"check it (a typo?), drop the row, or fit the log of the target")
    return None


def _explained(est: Any) -> float:
    """The share of the target's variance the final model explains on the training items (R²
    of the last step, the mean over targets; 0 when not recorded)."""
    for rec in reversed(getattr(est, "history_", None) or []):
        r2 = (rec.get("train") or {}).get("r2")
        if isinstance(r2, (int, float)) and np.isfinite(r2):
            return float(r2)
    return 0.0


def _titles_only(items: Sequence[Item]) -> bool:
    if any(it.attributes for it in items):
        return False
    words = [len(it.text.split()) for it in items]
    return bool(words) and float(np.median(words)) <= 6


def explain_features(est: Any, items: Sequence[Item], fm_name: str, requested: int | None,
                     outliers: str | None = None) -> list[str]:
    """Plain-words notes on a fit that kept no feature or very few (empty when all is well);
    ``outliers``: :func:`target_outliers`' sentence, the likely reason when there is one."""
    K = len(est.features_)
    c = getattr(est, "counters_", {}) or {}
    failed = int(c.get("mining_failed", 0))
    discarded = sum(int(v) for k, v in c.items() if k.startswith("discarded"))
    offline = fm_name.startswith("predicates")
    expected = requested if requested is not None else 3
    if K >= min(3, expected):
        return []
    if (K > 0 or getattr(est, "n_side_inputs_", 0)) and _explained(est) >= 0.8:
        return []  # a few features (or the side inputs alone) that explain the target are a result, not a problem
    kept = f"genz kept {'no feature' if K == 0 else f'only {K} feature' + ('s' if K > 1 else '')}"
    sc = getattr(est, "structure_check_", None) or {}
    if sc.get("fell_back"):  # a result: what discovery found did not predict rows it never saw
        return [f"{kept}: the {sc['tested']} features discovery found predicted the {sc['rows']} rows set aside "
                "no better than no feature at all (the structure check), so the predictor keeps only the findings and pinned features.",
                "What this means: the target may not depend on what these items say, or there are too few rows to "
                "tell; more rows, informative attributes or text, or an LLM backend (--fm openai) may find more."]
    lines = [kept + (f" ({failed} mining calls found nothing, {discarded} candidates were discarded; the run's history "
                "says why for each)" if failed or discarded else "") + "."]
    if outliers:
        lines.append(f"Why: {outliers}.")
    elif offline and _titles_only(items):
        lines.append("Why: the offline engine (--fm predicates) can only use attributes and phrases that repeat "
                     "across items, and these items are short texts without attributes (titles, names).")
        lines.append("What to do: give the items attributes (a table with columns: genz fit --data TABLE "
                     "--target COLUMN), or use an LLM backend that knows what the titles mean (--fm openai).")
    elif offline:
        lines.append("Why: no attribute value or phrase separated the items the model predicts too high from "
                     "those it predicts too low.")
        lines.append("What to do: add informative attributes or text, use more items, or use an LLM backend "
                     "(--fm openai).")
    else:
        lines.append("What to do: look at the run's history (genz report) for why candidates were discarded; "
                     "try more items, more cycles or a stronger mining model (--mining-model).")
    return lines
