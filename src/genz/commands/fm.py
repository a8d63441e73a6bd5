"""CLI pieces for choosing and using a foundation model.

* :func:`fm_options` — a decorator adding the options that choose the FM (``--fm``,
  ``--fm-model``, ``--mining-model``, ``--base-url``, ``--api-key-env``, ``--cache``,
  ``--no-cache``, ``--prompts-dir``, ``--fm-concurrency``, ``--fm-batch-size``, ``--price-in``,
  ``--price-out``, ``--vision/--no-vision``, ``--fm-timeout``) to any click command;
  :func:`fm_from_options` turns their values into a FoundationModel. Use::

      @click.command()
      @fm_options()
      def fit(..., **fm_opts):
          fm = fm_from_options(**fm_opts)

* ``estimate`` — calls, tokens and dollars a planned run will need, before spending anything.
* ``describe_images`` (``genz describe-images``) — turn each item's images into cached text.

API keys are never taken on the command line: ``--api-key-env NAME`` names the environment
variable that holds the key (default ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from . import friendly
from .inputs import data_options, discovery_options

from ..errors import GenZInputError
from ..fm.base import FoundationModel

__all__ = ["fm_options", "fm_from_options", "FM_OPTION_KEYS", "default_cache_path", "estimate", "describe_images"]

FM_OPTION_KEYS = (
    "fm", "fm_model", "mining_model", "base_url", "api_key_env", "fm_cache", "no_cache", "prompts_dir",
    "fm_concurrency", "fm_batch_size", "price_in", "price_out", "vision", "fm_timeout", "judge_mode",
    "fm_retry_budget", "isolation",
)


def default_cache_path() -> Path:
    """``$GENZ_FM_CACHE``, else ``$XDG_CACHE_HOME/genz/fm-cache.sqlite`` (``~/.cache/...``)."""
    env = os.environ.get("GENZ_FM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genz" / "fm-cache.sqlite"


class _FMName(click.Choice):
    """One of the backends, or ``noisy:<backend>?flip=0.1&...`` (genz.fm.noisy: known errors)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.startswith("noisy:"):
            return value
        return super().convert(value, param, ctx)


def fm_options(default_fm: str = "predicates", backends: tuple[str, ...] = ("predicates", "openai")):
    """Decorator: add the FM-choosing options (see the module docstring)."""

    opts = [
        click.option("--fm", "fm", type=_FMName(list(backends)), default=default_fm,
                     show_default=True, envvar="GENZ_FM",
                     help="Foundation model: the offline predicate engine, or any OpenAI-compatible server; "
                          "noisy:predicates?flip=0.1 makes its judgments wrong on purpose (docs/noise-model.md)."
                     if "predicates" in backends else "Foundation model: an OpenAI-compatible server."),
        click.option("--fm-model", default=None,
                     help="Chat model for judging (default $GENZ_FM_MODEL or gpt-4o-mini)."),
        click.option("--mining-model", default=None,
                     help="Chat model for mining and zero-shot proposal (default $GENZ_MINING_MODEL or --fm-model)."),
        click.option("--base-url", default=None,
                     help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (default $OPENAI_BASE_URL or OpenAI)."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable that holds the API key (keys are never passed as options)."),
        click.option("--cache", "fm_cache", type=click.Path(dir_okay=False), default=None,
                     help="SQLite cache of FM answers (default with --fm openai: $GENZ_FM_CACHE or "
                          "~/.cache/genz/fm-cache.sqlite)."),
        click.option("--no-cache", is_flag=True, help="Do not cache FM answers."),
        click.option("--prompts-dir", type=click.Path(file_okay=False), default=None,
                     help="Directory with your own judge.txt / mine.txt / propose.txt / describe_image.txt."),
        click.option("--fm-concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
                     help="FM requests in flight."),
        click.option("--fm-batch-size", type=click.IntRange(1, 500), default=10, show_default=True,
                     help="Items per judging request."),
        click.option("--price-in", type=click.FloatRange(0), default=None,
                     help="Price per 1M input tokens in $ (overrides the built-in table)."),
        click.option("--price-out", type=click.FloatRange(0), default=None,
                     help="Price per 1M output tokens in $."),
        click.option("--vision/--no-vision", default=None,
                     help="Send item images to the model (default: guessed from the model name)."),
        click.option("--fm-timeout", type=click.FloatRange(1), default=120.0, show_default=True,
                     help="Seconds before an FM request times out (then retried)."),
        click.option("--judge-mode", type=click.Choice(["batch", "single"]), default="batch", show_default=True,
                     help="Judging: numbered batches answered as JSON, or one item per request answered with one "
                          "yes/no token (log-probabilities; a shared prompt prefix for llama.cpp/vLLM prefix caches)."),
        click.option("--fm-retry-budget", type=click.FloatRange(0), default=600.0, show_default=True,
                     help="Seconds one FM request may spend on retries (429 rate limits, 5xx, timeouts) before it "
                          "fails; a server's Retry-After is honoured up to 120 s per wait."),
        click.option("--isolation", type=click.Choice(["none", "canary"]), default="none", show_default=True,
                     help="Batched judging: canary checks every batch with items of another batch and judges a "
                          "batch again item by item when an answer changed (untrusted item text; see "
                          "docs/llm-backends.md)."),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def fm_from_options(
    fm: str = "predicates",
    fm_model: str | None = None,
    mining_model: str | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    fm_cache: str | None = None,
    no_cache: bool = False,
    prompts_dir: str | None = None,
    fm_concurrency: int = 4,
    fm_batch_size: int = 10,
    price_in: float | None = None,
    price_out: float | None = None,
    vision: bool | None = None,
    fm_timeout: float = 120.0,
    progress: bool | None = None,
    judge_mode: str = "batch",
    fm_retry_budget: float = 600.0,
    isolation: str = "none",
) -> FoundationModel:
    """The FoundationModel the :func:`fm_options` values describe (wrapped in the cache)."""
    from ..fm.registry import make_fm

    if fm.startswith("noisy:"):  # judgments made wrong by a known profile, cached as the noisy engine's
        from ..fm.cache import CachedFM
        from ..fm.noisy import NoisyFM, parse_query

        inner_name, _, query = fm[len("noisy:"):].partition("?")
        profile, seed = parse_query(query)
        inner = fm_from_options(inner_name, fm_model=fm_model, mining_model=mining_model, base_url=base_url,
                                api_key_env=api_key_env, no_cache=True, prompts_dir=prompts_dir,
                                fm_concurrency=fm_concurrency, fm_batch_size=fm_batch_size, price_in=price_in,
                                price_out=price_out, vision=vision, fm_timeout=fm_timeout, progress=progress,
                                judge_mode=judge_mode)
        noisy = NoisyFM(inner, profile, seed=seed)
        cache = None if no_cache else (fm_cache or (default_cache_path() if inner_name.startswith("openai") else None))
        return noisy if cache is None else CachedFM(noisy, cache)
    if fm == "predicates":
        used = [name for name, v in (("--fm-model", fm_model), ("--mining-model", mining_model),
                                     ("--base-url", base_url), ("--prompts-dir", prompts_dir)) if v]
        if used:
            raise GenZInputError(f"{', '.join(used)} only apply to --fm openai")
        cache = None if no_cache else fm_cache
        return make_fm("predicates", cache=cache)
    if fm != "openai":
        raise GenZInputError(f"unknown foundation model {fm!r}")
    cache = None if no_cache else (fm_cache or default_cache_path())
    return make_fm(
        "openai", cache=cache, model=fm_model, mining_model=mining_model, base_url=base_url,
        api_key_env=api_key_env, prompts_dir=prompts_dir, concurrency=fm_concurrency,
        batch_size=fm_batch_size, price_in=price_in, price_out=price_out, vision=vision,
        timeout=fm_timeout, progress=progress, judge_mode=judge_mode, retry_budget=fm_retry_budget,
        isolation=isolation,
    )




# ------------------------------------------------------------------------------------------------
@click.command("estimate")
@data_options()
@click.option("--test-items", "test_path", type=click.Path(dir_okay=False), default=None,
              help="More items that will be judged (a separate test file: JSONL, or a table like --data).")
@discovery_options(note=" (As on genz fit; no effect on the estimate.)")
@click.option("--zero-shot", type=click.IntRange(0), default=0, show_default=True,
              help="Also estimate the zero-shot baseline with this many proposed features.")
@click.option("--exemplars", type=click.IntRange(1), default=10, show_default=True,
              help="Items per group in a mining prompt.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the total cost in dollars.")
@fm_options()
@friendly
def estimate(data_path, items_path, target, targets_path, id_column, text_columns, encoding, test_path, model,
             algorithm, cycles, add_per_cycle, remove_per_cycle, n_features, n_candidates, conjunctions, seed,
             zero_shot, exemplars, as_json, quiet, **fm_opts):
    """Print the FM calls, tokens and cost a planned run needs, before spending anything.

    Takes the data options of `genz fit` (--data TABLE or --items JSONL). Assumes an empty cache
    and no retries; tokens are approximated from the real prompts (characters / 4)."""
    from ..fm.estimate import estimate_run
    from ..fm.openai_compat import DEFAULT_MODEL, _VISION
    from ..fm.prompts import PromptSet
    from .inputs import load_inputs

    drop = [c.strip() for c in (target or "").split(",") if c.strip()]
    inp = load_inputs(data_path, items_path, None, None, id_column, text_columns, encoding, need_target=False,
                      drop=drop)
    items = inp.items
    if test_path:
        tp = str(test_path)
        test = (load_inputs(None, tp, encoding=encoding, need_target=False) if tp.endswith((".jsonl", ".jsonl.gz"))
                else load_inputs(tp, None, None, None, id_column, text_columns, encoding, need_target=False,
                                 types=inp.table.get("types"), drop=drop))
        items = items + test.items
    n_adds = n_features if n_features is not None else cycles * add_per_cycle
    if n_adds < 0 or zero_shot < 0 or exemplars < 1:
        raise GenZInputError("--n-features/--cycles/--add/--zero-shot must be >= 0 and --exemplars >= 1")
    if fm_opts["fm"] == "predicates":
        model = mining = "predicates"
    else:
        model = fm_opts["fm_model"] or os.environ.get("GENZ_FM_MODEL") or DEFAULT_MODEL
        mining = fm_opts["mining_model"] or os.environ.get("GENZ_MINING_MODEL") or model
    vision = fm_opts["vision"] if fm_opts["vision"] is not None else bool(_VISION.search(model))
    est = estimate_run(
        items, n_adds=n_adds, judge_model=model, mining_model=mining, batch_size=fm_opts["fm_batch_size"],
        exemplars=exemplars, zero_shot=zero_shot, prompts=PromptSet(fm_opts["prompts_dir"]),
        vision=vision and any(it.images for it in items),
        price_in=fm_opts["price_in"], price_out=fm_opts["price_out"], n_candidates=n_candidates,
    )
    if fm_opts["fm"] == "predicates":
        for e in est:
            e.prompt_tokens = e.completion_tokens = 0
            e.cost_usd = 0.0
    total = {
        "calls": sum(e.calls for e in est),
        "prompt_tokens": sum(e.prompt_tokens for e in est),
        "completion_tokens": sum(e.completion_tokens for e in est),
        "cost_usd": sum(e.cost_usd for e in est),
    }
    if as_json:
        click.echo(json.dumps({"items": len(items), "features": n_adds, "by_type": [e.to_dict() for e in est],
                               "total": total}))
        return
    if quiet:
        click.echo(f"{total['cost_usd']:.2f}")
        return
    click.echo(f"{len(items)} items, {n_adds} feature additions"
               + (f", zero-shot baseline with {zero_shot} features" if zero_shot else "")
               + f", {fm_opts['fm_batch_size']} items per judging call")
    click.echo(f"{'call':<8} {'model':<24} {'calls':>8} {'input tok':>12} {'output tok':>12} {'cost $':>10}")
    for e in est:
        click.echo(f"{e.kind:<8} {e.model:<24} {e.calls:>8} {e.prompt_tokens:>12,} {e.completion_tokens:>12,} "
                   f"{e.cost_usd:>10.2f}")
    click.echo(f"{'total':<8} {'':<24} {total['calls']:>8} {total['prompt_tokens']:>12,} "
               f"{total['completion_tokens']:>12,} {total['cost_usd']:>10.2f}")
    click.echo("Upper bound with an empty cache and no retries; tokens ≈ characters/4 (±30%). "
               "Prices: built-in table or --price-in/--price-out; unknown models cost 0.")


# ------------------------------------------------------------------------------------------------
@click.command("describe-images")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="Items, JSONL, with 'images' (paths relative to the file).")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Write the items with their image descriptions appended to their text (JSONL).")
@click.option("--keep-images", is_flag=True, help="Keep the image paths in the output items.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@fm_options(default_fm="openai", backends=("openai",))
@friendly
def describe_images(items_path, out_path, keep_images, quiet, **fm_opts):
    """Describe each item's images once with a vision model (cached), as the paper did for the
    houses: the output items carry the descriptions as text, for any text model."""
    from ..fm.images import describe_items
    from ..items import load_items, save_items

    if fm_opts["fm"] != "openai":
        raise GenZInputError("describe-images needs --fm openai with a vision-capable --fm-model")
    items = load_items(items_path)
    n_img = sum(1 for it in items if it.images)
    if n_img == 0:
        raise GenZInputError(f"{items_path}: no item has images")
    if Path(out_path).resolve() == Path(items_path).resolve():
        raise GenZInputError("--out must differ from --items")
    fm_opts["vision"] = True
    fm = fm_from_options(**fm_opts, progress=False)
    out = describe_items(fm, items, keep_images=keep_images, concurrency=fm_opts["fm_concurrency"],
                         progress=not quiet and sys.stderr.isatty())
    if keep_images:  # absolute paths, valid wherever the output file goes
        from dataclasses import replace

        out = [replace(it, images=tuple(str(Path(p).resolve()) for p in it.images)) for it in out]
    save_items(out, out_path)
    s = fm.stats.snapshot()
    if not quiet:
        click.echo(f"described the images of {n_img} items into {out_path} "
                   f"({s['total_calls']} calls, {s['cache_hits']} from the cache, ${s['cost_usd']:.4f})")
