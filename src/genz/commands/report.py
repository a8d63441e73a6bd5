"""``genz report RUN [RUN ...] [--out PATH]``: the HTML report of one run, or several compared."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GenZError

__all__ = ["report"]


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output .html file or directory (default: RUN/report/report.html for one run, "
                   "./genz-report/report.html for several).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def report(runs: tuple[Path, ...], out: Path | None, quiet: bool) -> None:
    """Write an HTML report of one or more GenZ runs (learning curves, feature timeline, final
    features, posterior overrides, experiment table); with several RUNS, compare them."""
    from ..report import build_report

    try:
        path = build_report(list(runs), out)
    except GenZError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        click.echo(str(path))
