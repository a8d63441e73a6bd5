"""HTML reports of GenZ runs: learning curves, the feature timeline, the final features, the
posterior overrides, an experiment's comparison table, and several runs side by side.

``build_report([RUN])`` writes ``RUN/report/report.html`` with its PNG figures beside it;
``build_report([RUN1, RUN2, ...], out)`` adds a comparison of the runs. The page is
self-contained apart from those PNGs: inline CSS and JavaScript, no network access.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import GenZInputError
from ..files import atomic_write_bytes
from .data import RunData, load_run
from .page import render_page

__all__ = ["build_report", "load_run", "RunData", "default_output"]

DEFAULT_MULTI_DIR = "genz-report"


def default_output(run_dirs: Sequence[str | Path]) -> Path:
    """Where a report goes without ``out``: ``RUN/report/report.html`` for one run,
    ``./genz-report/report.html`` for several."""
    if len(run_dirs) == 1:
        return Path(run_dirs[0]) / "report" / "report.html"
    return Path(DEFAULT_MULTI_DIR) / "report.html"


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]


def build_report(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the report of one or more run directories and return the HTML file's path.

    ``out`` is an ``.html`` file or a directory (then ``report.html`` inside it); the PNG
    figures are written beside the HTML. Damaged run files raise CorruptFileError naming them.
    """
    if not run_dirs:
        raise GenZInputError("genz report: give at least one run directory")
    paths = [Path(p) for p in run_dirs]
    if len(paths) == 1 and (paths[0] / "pairs.json").is_file():  # a two-sided run (genz fit-pairs)
        from .pairs import build_pairs_report

        return build_pairs_report(paths[0], out)
    names = _unique_names(paths)
    runs: list[RunData] = [load_run(p, n) for p, n in zip(paths, names)]
    target = Path(out) if out is not None else default_output(paths)
    if target.suffix.lower() not in (".html", ".htm"):
        target = target / "report.html"
    if target.exists() and target.is_dir():
        raise GenZInputError(f"{target}: is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    html = render_page(runs, target.parent)
    atomic_write_bytes(target, html.encode("utf-8"))
    return target
