"""``genz cache``: what an FM cache holds, and dropping entries from it.

    genz cache show [--cache PATH] [--json]
    genz cache drop [--cache PATH] (--failures | --model NAME | --descriptor TEXT)

Without ``--cache``, the default cache (``$GENZ_FM_CACHE`` or ``~/.cache/genz/fm-cache.sqlite``).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import click

from . import friendly
from ..errors import GenZInputError

__all__ = ["cache"]


def _open(path: str | None):
    from ..fm.cache import FMCache
    from .fm import default_cache_path

    p = Path(path) if path else default_cache_path()
    if not p.is_file():
        raise GenZInputError(f"{p}: no FM cache there")
    return FMCache(p)


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return _dt.datetime.fromtimestamp(float(t), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


@click.group("cache")
def cache() -> None:
    """Show what an FM cache holds, or drop entries from it."""


@cache.command("show")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="The cache file (default $GENZ_FM_CACHE or ~/.cache/genz/fm-cache.sqlite).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly
def show(cache_path: str | None, as_json: bool) -> None:
    """Entries by call type and model: judgments (with their number of descriptors), mining,
    proposal and image-description answers, and failures left by older versions."""
    c = _open(cache_path)
    try:
        rows = c.summary()
    finally:
        c.close()
    if as_json:
        click.echo(json.dumps({"cache": str(c.path), "rows": rows}))
        return
    click.echo(f"{c.path}")
    if not rows:
        click.echo("  (empty)")
        return
    click.echo(f"  {'call':<16} {'backend':<10} {'model':<28} {'entries':>8} {'descriptors':>11} {'failures':>8}  last")
    for r in rows:
        d = "" if r["descriptors"] is None else r["descriptors"]
        click.echo(f"  {r['kind']:<16} {r['backend']:<10} {r['model'] or '-':<28} {r['entries']:>8} {d:>11} "
                   f"{r['failures']:>8}  {_when(r['last'])}")


@cache.command("drop")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="The cache file (default $GENZ_FM_CACHE or ~/.cache/genz/fm-cache.sqlite).")
@click.option("--failures", is_flag=True, help="Drop every entry that is not an answer (failures of older versions).")
@click.option("--model", default=None, help="Drop every entry of this model.")
@click.option("--descriptor", default=None, help="Drop the judgments of this descriptor and the mining answers that gave it.")
@friendly
def drop(cache_path: str | None, failures: bool, model: str | None, descriptor: str | None) -> None:
    """Delete entries from the cache (they are asked again when needed)."""
    c = _open(cache_path)
    try:
        n = c.drop(failures=failures, model=model, descriptor=descriptor)
    finally:
        c.close()
    click.echo(f"dropped {n['judgments']} judgments and {n['calls']} mining/proposal/description entries from {c.path}")
