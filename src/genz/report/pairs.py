"""The report of a two-sided run (``genz fit-pairs --out RUN``; paper Appendix C).

``build_pairs_report(RUN)`` writes ``RUN/report/report.html`` with: summary cards (users,
items, interactions, rank, scale split), both sides' final features (ε and each feature's main
effect on the predicted association, in the target's units), the strongest user-feature ×
item-feature interactions ``M[k, l]`` as a table (with 95% intervals where the sides report
them) and as a heat map (``interactions.png``), and links to each side's own ``genz report``.
All run-provided text is escaped; the page has no external assets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, GenZInputError
from ..files import atomic_write_bytes
from . import figures
from .page import _asset, _card, _e, _img, _num, _trunc

__all__ = ["is_pairs_run", "build_pairs_report", "interactions_figure"]

N_TABLE = 25
N_HEAT = 12


def is_pairs_run(path: str | Path) -> bool:
    return (Path(path) / "pairs.json").is_file()


def _side_epsilon(run: Path, side: str, n: int) -> list[float | None]:
    try:
        with np.load(run / side / "model" / "arrays.npz", allow_pickle=False) as z:
            eps = z["epsilon"]
        return [float(e) for e in eps] if len(eps) == n else [None] * n
    except (OSError, KeyError, ValueError):
        return [None] * n


def interactions_figure(inter: dict[str, Any], path: Path, n: int = N_HEAT) -> Path:
    """Heat map of ``M`` over the ``n`` user and ``n`` item features with the largest |M| entries."""
    import matplotlib

    M = np.asarray(inter["M"], dtype=float)
    rows = np.argsort(-np.abs(M).max(axis=1))[: min(n, M.shape[0])]
    cols = np.argsort(-np.abs(M).max(axis=0))[: min(n, M.shape[1])]
    sub = M[np.ix_(rows, cols)]
    ulab = [figures._short(inter["user_features"][i], 48) for i in rows]
    ilab = [figures._short(inter["item_features"][j], 30) for j in cols]
    with matplotlib.rc_context(figures.RC):
        fig = figures._figure(min(4.0 + 0.55 * len(cols), 14.0), 2.5 + 0.32 * len(rows))
        ax = fig.add_subplot()
        ax.grid(False)
        vmax = float(np.abs(sub).max()) if sub.size else 1.0
        im = ax.imshow(sub if sub.size else np.zeros((1, 1)), aspect="auto", cmap="RdBu_r", vmin=-(vmax or 1),
                       vmax=vmax or 1, interpolation="nearest")
        ax.set_yticks(range(len(rows)), ulab)
        ax.set_xticks(range(len(cols)), ilab, rotation=60, ha="right", fontsize=7)
        for a in range(sub.shape[0]):
            for b in range(sub.shape[1]):
                ax.text(b, a, f"{sub[a, b]:+.2f}", ha="center", va="center", fontsize=6,
                        color="white" if abs(sub[a, b]) > 0.6 * (vmax or 1) else "#222222")
        ax.set_title("User feature × item feature: added to the predicted association", loc="left")
        fig.colorbar(im, ax=ax, shrink=0.8, label="target units")
        return figures._save(fig, path)


def _features_section(title: str, anchor: str, feats: list[str], main: list[float], se: list[float] | None,
                      eps: list[float | None], unit: str) -> str:
    order = np.argsort(-np.abs(np.asarray(main, dtype=float))) if feats else []
    rows = []
    for k in order:
        ci = ""
        if se is not None and se[k] is not None and np.isfinite(se[k]):
            ci = f" [{main[k] - 1.96 * se[k]:+.3f}, {main[k] + 1.96 * se[k]:+.3f}]"
        rows.append(f'<tr><td>{_e(feats[k])}</td><td class="num">{main[k]:+.3f}{ci}</td>'
                    f'<td class="num">{_num(eps[k], 3)}</td></tr>')
    return (f'<section id="{anchor}"><h2>{_e(title)}</h2>'
            f'<p class="note">Main effect: what a "yes" adds to the predicted {_e(unit)} with an average partner '
            f"(offset plus the interaction with the other side's mean embedding).</p>"
            f'<table><tr><th>feature</th><th class="num">main effect</th><th class="num">ε</th></tr>{"".join(rows)}</table>'
            "</section>")


def build_pairs_report(run: str | Path, out: str | Path | None = None, unit: str = "association") -> Path:
    """Write the report of a two-sided run directory; returns the HTML file's path."""
    run = Path(run)
    mfile = run / "pairs.json"
    if not mfile.is_file():
        raise GenZInputError(f"{run}: not a two-sided genz run (no pairs.json)")
    try:
        meta = json.loads(mfile.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{mfile}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    inter = meta["interactions"]
    target = Path(out) if out is not None else run / "report" / "report.html"
    if target.suffix.lower() not in (".html", ".htm"):
        target = target / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    interactions_figure(inter, target.parent / "interactions.png")
    status = {}
    if (run / "pairs-run.json").is_file():
        try:
            status = json.loads((run / "pairs-run.json").read_text())
        except json.JSONDecodeError:
            status = {}
    data = status.get("data", {})
    uf, itf = inter["user_features"], inter["item_features"]
    M = np.asarray(inter["M"], dtype=float).reshape(len(uf), len(itf))
    Mse = None if inter.get("M_se") is None else np.asarray(inter["M_se"], dtype=float).reshape(M.shape)
    cards = "".join([
        _card("users", _num(data.get("n_users", len(meta.get("user_ids", []))))),
        _card("items", _num(data.get("n_items", len(meta.get("item_ids", []))))),
        _card("interactions", _num(data.get("n_interactions"))),
        _card("rank k", _num(meta.get("k")), f"scale split α = {meta.get('alpha')}"),
        _card("global mean", _num(meta.get("mu")), f"constant of the bilinear form {_num(inter.get('const'))}"),
        _card("features", f"{len(uf)} × {len(itf)}", "user × item"),
    ])
    order = np.argsort(-np.abs(M), axis=None)[:N_TABLE]
    trs = []
    for flat in order:
        k, l = np.unravel_index(flat, M.shape)
        ci = "–"
        if Mse is not None and np.isfinite(Mse[k, l]):
            ci = f"[{M[k, l] - 1.96 * Mse[k, l]:+.3f}, {M[k, l] + 1.96 * Mse[k, l]:+.3f}]"
        trs.append(f'<tr><td>{_e(uf[k])}</td><td>{_e(itf[l])}</td><td class="num">{M[k, l]:+.3f}</td>'
                   f'<td class="num">{ci}</td></tr>')
    note = ("95% intervals by the delta method from the two sides' effect intervals." if Mse is not None else
            "No intervals: the sides' estimators do not report effect intervals (feature_table()).")
    exact = inter.get("exact") or {}
    inter_html = (
        '<section id="interactions"><h2>Interactions</h2>'
        f'<p class="note">Predicted {_e(unit)} = const + user main effects + item main effects + Σ M[k,l] · '
        f"(user feature k) · (item feature l). Strongest pairs first. {_e(note)} Largest deviation of this form from "
        f"the sides' predictions: users {_num(exact.get('user_side_max_error'), 2)}, items "
        f"{_num(exact.get('item_side_max_error'), 2)}.</p>"
        '<table class="inter"><tr><th>user feature</th><th>item feature</th><th class="num">effect</th>'
        f'<th class="num">95% interval</th></tr>{"".join(trs)}</table>'
        + _img("interactions.png", "interaction heat map",
               f"The {N_HEAT} user and item features with the strongest interactions.") + "</section>")
    sides = []
    for side, feats, key in (("users", uf, "user"), ("items", itf, "item")):
        main = list(np.asarray(inter[f"{key}_main"], dtype=float).ravel())
        se = inter.get(f"{key}_main_se")
        sides.append(_features_section(f"{side.capitalize()}: features", f"{side}-features", feats, main, se,
                                       _side_epsilon(run, side, len(feats)), unit))
    links = ""
    if out is None:  # each side's own report, linked from here
        from . import build_report

        built = []
        for s in ("users", "items"):
            if (run / s / "history.jsonl").exists():
                build_report([run / s])
                built.append(f'<a href="../{s}/report/report.html">{s} side: full report</a>')
        links = " · ".join(built)
    title = f"GenZ two-sided report — {_trunc(run.resolve().name, 40)}"
    html = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,"><style>{_asset("report.css")}</style></head><body>'
        f'<header class="top"><h1>{_e(title)}</h1><p>Two GenZ models over a factored association matrix '
        "(paper Appendix C): what each side's features are, and which pairs of them interact.</p></header>"
        '<nav class="toc"><a href="#users-features">User features</a><a href="#items-features">Item features</a>'
        f'<a href="#interactions">Interactions</a></nav><main><section class="run"><div class="cards">{cards}</div>'
        f'<p class="note">{links}</p></section>{sides[0]}{sides[1]}{inter_html}</main>'
        "<footer>genz two-sided report · figures are PNG files beside this page</footer></body></html>\n"
    )
    atomic_write_bytes(target, html.encode("utf-8"))
    return target
