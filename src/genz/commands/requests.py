"""``genz requests``: judging requests as files (export, ingest), and the executors' options.

* ``genz requests export`` — the judgments a model or a list of features needs on some items
  that the cache lacks, as OpenAI batch lines (shards + manifests).
* ``genz requests ingest`` — batch output files (OpenAI output/error files, ``vllm run-batch``
  output) into the cache.
* ``genz requests status`` / ``cancel`` — the Batch API batches recorded in a state directory.
* :func:`executor_options` / :func:`with_executor` — ``--executor sync|batch|vllm|ray`` for
  ``genz fit`` and ``genz predict``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import GenZInputError
from . import friendly
from .fm import fm_options

__all__ = ["requests", "executor_options", "with_executor", "EXECUTOR_OPTION_KEYS"]

EXECUTOR_OPTION_KEYS = ("executor", "batch_dir", "poll_interval", "ray_endpoints", "vllm_command", "on_batch_failure",
                        "batch_submissions")


def executor_options():
    """Decorator: ``--executor``, ``--batch-dir``, ``--poll-interval``, ``--ray-endpoints``,
    ``--vllm-command``."""
    opts = [
        click.option("--executor", type=click.Choice(["sync", "batch", "vllm", "ray"]), default="sync",
                     show_default=True, envvar="GENZ_EXECUTOR",
                     help="Who answers judging requests: synchronous calls, the provider's Batch API, "
                          "vllm run-batch, or a Ray Data pipeline (see docs/scale.md)."),
        click.option("--batch-dir", type=click.Path(file_okay=False), default=None,
                     help="Where request shards, outputs and the batch state live "
                          "(default: next to the cache, CACHE.batches/)."),
        click.option("--poll-interval", type=click.FloatRange(0), default=30.0, show_default=True,
                     help="Seconds between Batch API status checks."),
        click.option("--ray-endpoints", default=None,
                     help="Comma-separated OpenAI-compatible base URLs for --executor ray (default: --base-url)."),
        click.option("--vllm-command", default=None,
                     help="Command run per shard for --executor vllm, with {input}, {output}, {model} "
                          "(default: vllm run-batch -i {input} -o {output} --model {model})."),
        click.option("--on-batch-failure", type=click.Choice(["stop", "sync"]), default="stop", show_default=True,
                     help="Requests an executor leaves unanswered (failed or expired batches, after their "
                          "resubmission): stop with an error, or judge them synchronously at full price (its cost "
                          "is counted apart in the summary)."),
        click.option("--batch-submissions", type=click.IntRange(1, 10), default=2, show_default=True,
                     help="Batches a request may be put in (--executor batch): once, and again for what an expired, "
                          "cancelled or partly failed batch left unanswered."),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def with_executor(fm, executor: str = "sync", batch_dir: str | None = None, poll_interval: float = 30.0,
                  ray_endpoints: str | None = None, vllm_command: str | None = None, on_batch_failure: str = "stop",
                  batch_submissions: int = 2):
    """``fm`` judging through the chosen executor (an :class:`~genz.fm.executors.ExecutorFM`)."""
    if executor == "sync":
        return fm
    from ..fm.cache import CachedFM
    from ..fm.executors import ExecutorFM, make_executor
    from ..fm.requests import judging_backend

    if not isinstance(fm, CachedFM):
        raise GenZInputError(f"--executor {executor} fills the FM cache: give one with --cache FILE "
                             "(and no --no-cache)")
    inner = judging_backend(fm)
    state = Path(batch_dir) if batch_dir else Path(str(fm.cache.path) + ".batches")
    if executor == "batch":
        ex = make_executor("batch", state_dir=state, base_url=inner._base_url, api_key_env=inner.api_key_env,
                           poll_interval=poll_interval, max_submissions=batch_submissions,
                           retry_budget=getattr(inner, "retry_budget", 600.0))
    elif executor == "vllm":
        ex = make_executor("vllm", work_dir=state, command=vllm_command)
    else:
        urls = [u.strip() for u in (ray_endpoints or "").split(",") if u.strip()] or [inner._base_url]
        if not urls or urls[0] is None:
            raise GenZInputError("--executor ray needs --ray-endpoints or --base-url")
        ex = make_executor("ray", work_dir=state, endpoints=urls, api_key_env=inner.api_key_env)
    return ExecutorFM(fm.inner, fm.cache, ex, on_failure=on_batch_failure,
                      guard_identity=getattr(fm, "guard_identity", False))


@click.group("requests")
def requests() -> None:
    """Judging requests as files: export for a Batch API or vllm run-batch, ingest the output."""


def _model_dir(model_dir: str) -> Path:
    d = Path(model_dir)
    return d / "model" if (d / "model").is_dir() else d


def _descriptors(features: str | None, model_dir: str | None) -> list[str]:
    if bool(features) == bool(model_dir):
        raise GenZInputError("give exactly one of --features FILE or --model RUN_DIR")
    if features:
        lines = [ln.strip() for ln in Path(features).read_text(encoding="utf-8").splitlines()]
        out = [ln for ln in lines if ln and not ln.startswith("#")]
        if not out:
            raise GenZInputError(f"{features}: no features (one per line)")
        return out
    from ..estimator import GenZRegressor

    return list(GenZRegressor.load(_model_dir(model_dir)).features_)


#: fm_options names -> the FM-spec overrides of genz.fm.registry.make_fm_from_spec
_SPEC_NAMES = {"fm_model": "model", "mining_model": "mining_model", "base_url": "base_url",
               "api_key_env": "api_key_env", "fm_cache": "cache", "prompts_dir": "prompts_dir",
               "fm_batch_size": "batch_size", "fm_concurrency": "concurrency", "fm_timeout": "timeout"}


def _export_fm(model_dir: str | None, fm_opts: dict):
    """The FM whose requests are exported: with ``--model``, the model's own FM (model, prompt
    templates, batch size, cache) with only the options given explicitly overriding it, so the
    requests are exactly those ``genz predict`` will look for; else the FM options."""
    from click.core import ParameterSource

    from ..fm.registry import make_fm_from_spec, read_fm_spec
    from .fm import fm_from_options

    spec = read_fm_spec(_model_dir(model_dir)) if model_dir else None
    if spec is None:
        if model_dir:
            click.echo(f"note: {model_dir} was saved without its FM description; exporting for the FM options given",
                       err=True)
        return fm_from_options(**fm_opts, progress=False)
    ctx = click.get_current_context()
    given = {k for k in fm_opts if ctx.get_parameter_source(k) in (ParameterSource.COMMANDLINE,
                                                                  ParameterSource.ENVIRONMENT)}
    overrides = {_SPEC_NAMES[k]: fm_opts[k] for k in given if k in _SPEC_NAMES}
    fm = make_fm_from_spec(spec, overrides, allow_other_host=True,  # nothing is sent: requests are written
                           no_cache=bool(fm_opts.get("no_cache")))
    if "model" in overrides and overrides["model"] != spec.get("model"):
        click.echo(f"note: these requests are for {overrides['model']}; `genz predict {model_dir}` judges with "
                   f"{spec.get('model')} unless you give it --fm-model {overrides['model']} too", err=True)
    return fm


@requests.command("export")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False), help="Items, JSONL.")
@click.option("--features", type=click.Path(dir_okay=False), default=None, help="Features to judge, one per line.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), default=None,
              help="Judge the features of this saved model / run directory, with its FM (model, prompts, batch "
                   "size, cache) unless an FM option below is given explicitly.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for the shards.")
@click.option("--max-requests", type=click.IntRange(1), default=50_000, show_default=True, help="Lines per shard.")
@click.option("--max-mb", type=click.FloatRange(0.01), default=200.0, show_default=True, help="MB per shard.")
@click.option("--line-format", type=click.Choice(["openai", "body"]), default="openai", show_default=True,
              help="openai: custom_id/method/url/body lines; body: custom_id/body (Together, Mistral).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@fm_options(default_fm="openai", backends=("openai",))
@friendly
def export_cmd(items_path, features, model_dir, out_dir, max_requests, max_mb, line_format, as_json, **fm_opts):
    """Write the judging requests the cache cannot answer as OpenAI batch lines."""
    from ..fm.requests import export_requests
    from ..items import load_items

    descriptors = _descriptors(features, model_dir)
    fm = _export_fm(model_dir, fm_opts)
    shards = export_requests(fm, descriptors, load_items(items_path), out_dir,
                             max_requests=max_requests, max_bytes=int(max_mb * 1024 * 1024), line_format=line_format)
    if as_json:
        click.echo(json.dumps({"shards": [s.to_dict() for s in shards]}))
        return
    n = sum(s.n_requests for s in shards)
    j = sum(s.n_judgments for s in shards)
    click.echo(f"{n} requests ({j} judgments) in {len(shards)} shard(s) under {out_dir}")
    for s in shards:
        click.echo(f"  {s.path}  {s.n_requests} requests, {s.n_bytes / 1e6:.1f} MB")


@requests.command("ingest")
@click.argument("outputs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--manifests", required=True, type=click.Path(exists=True),
              help="The export directory (or one manifest file).")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="The FM cache (default $GENZ_FM_CACHE or ~/.cache/genz/fm-cache.sqlite).")
@click.option("--accept-model", "accept_models", multiple=True,
              help="A model name the server answers as, to accept as the requested model (repeatable); answers "
                   "from any other model are refused.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@friendly
def ingest_cmd(outputs, manifests, cache_path, accept_models, as_json):
    """Write the judgments in batch output files into the cache (idempotent; failures are left).
    A custom_id answered twice with different answers is an error (neither answer is kept), and
    answers from a model other than the one requested are refused."""
    from ..fm.ingest import ingest
    from .fm import default_cache_path

    r = ingest(cache_path or default_cache_path(), list(outputs), manifests, accept_models=accept_models)
    if as_json:
        click.echo(json.dumps(r.to_dict()))
    else:
        click.echo(f"{r.lines} lines: {r.answered} requests answered and kept ({r.judgments} judgments, {r.new_rows} "
                   f"new in the cache), {len(r.failed)} failed (left for a retry), {len(r.conflicts)} answered twice "
                   f"differently (refused), {len(r.other_model)} from another model (refused), {r.duplicates} repeated, "
                   f"{r.unknown} unknown, {r.bad_lines} unreadable; {r.seconds:.2f} s")
        for cid, why in list(r.failed.items())[:5]:
            click.echo(f"  failed {cid}: {why}")
        for cid, model in list(r.other_model.items())[:5]:
            click.echo(f"  refused {cid}: answered by {model!r} (pass --accept-model {model} if that is the requested "
                       "model under another name)")
    if r.conflicts:
        ids = list(r.conflicts)
        raise GenZInputError(
            f"{len(ids)} custom_id(s) answered twice with different answers: {', '.join(ids[:5])}"
            + (f" and {len(ids) - 5} more" if len(ids) > 5 else "") + "; neither answer was cached. Check the output "
            "files (were two runs merged?) and judge those requests again")


def _batch_executor(batch_dir, base_url, api_key_env):
    from ..fm.executors.batch import BatchAPIExecutor

    return BatchAPIExecutor(batch_dir, base_url=base_url, api_key_env=api_key_env, progress=None)


def _recorded_batches(f):
    """The options naming the recorded batches and their server (``status`` and ``cancel``)."""
    for opt in reversed([
        click.option("--batch-dir", required=True, type=click.Path(file_okay=False, exists=True),
                     help="The directory where the batch executor records its batches."),
        click.option("--base-url", default=None, help="The Batch API server (OpenAI-compatible base URL)."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable holding the API key."),
    ]):
        f = opt(f)
    return f


@requests.command("status")
@_recorded_batches
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@friendly
def status_cmd(batch_dir, base_url, api_key_env, as_json):
    """Each recorded batch: state and request counts."""
    rows = _batch_executor(batch_dir, base_url, api_key_env).status()
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'shard':<14} {'batch':<32} {'state':<12} {'done':>8} {'failed':>7} {'total':>7}")
    for r in rows:
        c = r.get("counts") or {}
        click.echo(f"{r['shard']:<14} {r.get('batch_id') or '-':<32} {r.get('status') or '-':<12} "
                   f"{c.get('completed', 0):>8} {c.get('failed', 0):>7} {c.get('total', r.get('n_requests')):>7}")


@requests.command("cancel")
@_recorded_batches
@friendly
def cancel_cmd(batch_dir, base_url, api_key_env):
    """Cancel the recorded batches that are still running."""
    ids = _batch_executor(batch_dir, base_url, api_key_env).cancel()
    click.echo(f"cancelled {len(ids)} batch(es)" + (": " + ", ".join(ids) if ids else ""))


@requests.command("estimate")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="All items the run will judge (training, and any to predict).")
@click.option("--cycles", default=12, show_default=True, help="Cycles of Algorithm 4.")
@click.option("--add", "add_per_cycle", default=5, show_default=True, help="Features added per cycle.")
@click.option("--n-features", type=int, default=None, help="Instead of cycles: add this many features.")
@click.option("--kept", type=int, default=30, show_default=True, help="Features kept at the end (judged in bulk).")
@click.option("--discovery-sample", type=int, default=None, help="Items discovery runs on (default: all).")
@click.option("--ray-endpoints", "n_endpoints", type=click.IntRange(1), default=1, show_default=True,
              help="Endpoints the ray executor spreads requests over.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@fm_options(default_fm="openai", backends=("openai",))
@friendly
def estimate_cmd(items_path, cycles, add_per_cycle, n_features, kept, discovery_sample, n_endpoints, as_json,
                 **fm_opts):
    """Calls, tokens, dollars and wall time per executor, for discovery and for bulk judging."""
    import os

    from ..fm.estimate import EXECUTOR_ASSUMPTIONS, estimate_executors
    from ..fm.openai_compat import DEFAULT_MODEL
    from ..fm.prompts import PromptSet
    from ..items import load_items

    items = load_items(items_path)
    n_adds = n_features if n_features is not None else cycles * add_per_cycle
    model = fm_opts["fm_model"] or os.environ.get("GENZ_FM_MODEL") or DEFAULT_MODEL
    mining = fm_opts["mining_model"] or os.environ.get("GENZ_MINING_MODEL") or model
    est = estimate_executors(items, n_adds=n_adds, n_kept=min(kept, n_adds), discovery_sample=discovery_sample,
                             judge_model=model, mining_model=mining, batch_size=fm_opts["fm_batch_size"],
                             concurrency=fm_opts["fm_concurrency"], ray_endpoints=n_endpoints,
                             prompts=PromptSet(fm_opts["prompts_dir"]), price_in=fm_opts["price_in"],
                             price_out=fm_opts["price_out"])
    if as_json:
        click.echo(json.dumps({"rows": [e.to_dict() for e in est], "assumptions": EXECUTOR_ASSUMPTIONS}))
        return
    click.echo(f"{len(items)} items; discovery: {n_adds} features on {est[0].items} items; "
               f"bulk: {min(kept, n_adds)} features on the other {len(items) - est[0].items}; model {model}")
    click.echo(f"{'phase':<10} {'executor':<8} {'calls':>10} {'input tok':>14} {'output tok':>12} {'cost $':>10} "
               f"{'wall':>10}")
    for e in est:
        h = e.wall_seconds / 3600
        wall = f"{h:.1f} h" if h >= 1 else f"{e.wall_seconds / 60:.1f} min"
        click.echo(f"{e.phase:<10} {e.executor:<8} {e.calls:>10,} {e.prompt_tokens:>14,} {e.completion_tokens:>12,} "
                   f"{e.cost_usd:>10.2f} {wall:>10}")
    click.echo("Tokens ≈ characters/4 (±30%); batch = half price, up to its 24 h window per judging pass; vllm = "
               "self-hosted (GPU time, 0 $); wall-time assumptions: " + ", ".join(
                   f"{k}={v:g}" for k, v in EXECUTOR_ASSUMPTIONS.items()))
