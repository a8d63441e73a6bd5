"""The report's figures, drawn with matplotlib (object API, Agg canvas: no GUI, thread-safe)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .data import RunData, presence_matrix

__all__ = ["curves_figure", "timeline_figure", "weights_figure", "results_figure", "compare_figure"]

DPI = 110
TRAIN_C, TEST_C, BOUND_C = "#1f77b4", "#d62728", "#2ca02c"
ADD_C, REMOVE_C, DISCARD_C = "#2ca02c", "#d62728", "#9a9a9a"
RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.8,
    "legend.fontsize": 8, "legend.frameon": False,
}


def _figure(w: float, h: float) -> Figure:
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    for k in ("top", "right"):
        ax.spines[k].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def _short(s: str, n: int = 55) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _unique_short(labels: Sequence[str], n: int = 55) -> list[str]:
    """Shortened labels that stay distinct: the start and the end of a long label, and a
    number where two would still read the same."""
    out = []
    for s in labels:
        s = " ".join(str(s).split())
        out.append(s if len(s) <= n else s[: n - 22] + "…" + s[-21:])
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        if s in seen:
            seen[s] += 1
            out[i] = f"{s} ({seen[s]})"
        else:
            seen[s] = 1
    return out


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def curves_figure(data: RunData, path: Path) -> Path:
    """Learning curves (paper Fig. 4/6): train and test metric per step with additions and
    removals marked, the bound, and the number of features and FM calls."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = _figure(9.0, 6.4)
        axes = fig.subplots(3, 1, sharex=True, height_ratios=[2.2, 1.3, 1.0])
        for ax in axes:
            _style(ax)
        steps = np.array([r["step"] for r in data.history], dtype=float)
        ax = axes[0]
        _, tr = data.series("train")
        _, te = data.series("test")
        m = data.metric or "metric"
        if np.isfinite(tr).any():
            ax.plot(steps, tr, "-", color=TRAIN_C, lw=1.6, label=f"train {m}")
        if np.isfinite(te).any():
            ax.plot(steps, te, "-", color=TEST_C, lw=1.6, label=f"test {m}")
        ref = te if np.isfinite(te).any() else tr
        acts = [r.get("action") for r in data.history]
        for act, color, marker, label in (("add", ADD_C, "^", "feature added"), ("remove", REMOVE_C, "v", "feature removed")):
            sel = np.array([a == act for a in acts]) & np.isfinite(ref)
            if sel.any():
                ax.scatter(steps[sel], ref[sel], marker=marker, s=34, color=color, zorder=3, label=label,
                           edgecolors="white", linewidths=0.6)
        disc = np.array([a == "discard" for a in acts])
        if disc.any() and np.isfinite(ref).any():
            y0 = np.nanmin(ref) if data.lower_is_better else np.nanmax(ref)
            ax.scatter(steps[disc], np.full(disc.sum(), y0), marker="x", s=22, color=DISCARD_C, zorder=3,
                       label="mined feature discarded")
        best, bstep = data.best("test")
        if best is not None:
            ax.axhline(best, color=TEST_C, lw=0.8, ls=":", alpha=0.8)
            ax.annotate(f"best test {best:.4g} (step {bstep})", (bstep, best), xytext=(4, 6),
                        textcoords="offset points", fontsize=8, color=TEST_C)
        better = "lower" if data.lower_is_better else "higher"
        vals = np.concatenate([tr[np.isfinite(tr)], te[np.isfinite(te)]])
        if data.lower_is_better and vals.size and vals.min() > 0 and vals.max() / vals.min() > 100:
            ax.set_yscale("log")  # errors spanning decades (e.g. the binary toy going to zero)
        ax.set_ylabel(f"{m} ({better} is better)")
        ax.set_title(f"Learning curves — {data.name}", loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", ncols=2)
        # bound
        bound = np.array([np.nan if r.get("bound") is None else float(r["bound"]) for r in data.history])
        axes[1].plot(steps, bound, "-", color=BOUND_C, lw=1.4)
        axes[1].set_ylabel("bound Σₙ Bₙ")
        # features and FM calls
        K = np.array([r.get("n_features", len(r.get("features") or [])) for r in data.history], dtype=float)
        axes[2].step(steps, K, where="post", color="#444444", lw=1.4)
        axes[2].set_ylabel("features K")
        axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[2].set_xlabel("step")
        calls = np.array([float((r.get("fm_total") or {}).get("total_calls", np.nan)) for r in data.history])
        if np.isfinite(calls).any():
            tw = axes[2].twinx()
            tw.plot(steps, calls, "--", color="#9467bd", lw=1.1)
            tw.set_ylabel("FM calls (total)", color="#9467bd")
            tw.tick_params(axis="y", colors="#9467bd")
            tw.grid(False)
            tw.spines["top"].set_visible(False)
        # cycle boundaries
        cycles = [r.get("cycle") for r in data.history]
        for j in range(1, len(cycles)):
            if cycles[j] != cycles[j - 1] and cycles[j] is not None:
                for a in axes:
                    a.axvline(steps[j] - 0.5, color="#cccccc", lw=0.7, zorder=0)
        return _save(fig, path)


def timeline_figure(data: RunData, path: Path) -> tuple[Path, dict]:
    """Which features are present after each step (the paper's add/remove video as one
    image), rows in order of first appearance. Returns the axes' horizontal extent in
    image fractions, so the page can draw the step slider's cursor over the image."""
    import matplotlib

    M = presence_matrix(data)
    n_f, n_s = M.shape
    with matplotlib.rc_context(RC):
        height = min(2.0 + 0.24 * max(n_f, 1), 24.0)
        fig = _figure(9.0, height)
        ax = fig.add_subplot()
        if n_f and n_s:
            ax.imshow(M, aspect="auto", interpolation="nearest", cmap=ListedColormap(["#f4f4f4", "#4c78a8"]),
                      vmin=0, vmax=1, extent=(-0.5, n_s - 0.5, n_f - 0.5, -0.5))
            for j, rec in enumerate(data.history):
                f = rec.get("feature")
                act = rec.get("action")
                if f in data.timeline_features and act in ("add", "remove"):
                    i = data.timeline_features.index(f)
                    ax.scatter([j], [i], marker="^" if act == "add" else "x", s=28,
                               color=ADD_C if act == "add" else REMOVE_C, zorder=3, linewidths=1.4)
            ax.set_yticks(range(n_f), _unique_short(data.timeline_features), fontsize=8)
            ax.set_ylim(n_f - 0.5, -0.5)
        ax.set_xlim(-0.5, max(n_s, 1) - 0.5)
        ax.set_xlabel("step")
        ax.grid(False)
        ax.set_title("Feature timeline: present features after each step", loc="left")
        ax.legend(handles=[Line2D([], [], marker="s", ls="", color="#4c78a8", label="present"),
                           Line2D([], [], marker="^", ls="", color=ADD_C, label="added"),
                           Line2D([], [], marker="x", ls="", color=REMOVE_C, label="removed")],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.canvas.draw()
        pos = ax.get_position()
        _save(fig, path)
        return path, {"left": float(pos.x0), "right": float(pos.x1), "top": float(1 - pos.y1),
                      "bottom": float(1 - pos.y0), "steps": int(n_s)}


def weights_figure(features: Sequence[str], weights: np.ndarray, target_names: Sequence[str] | None,
                   path: Path) -> Path:
    """Each final feature's weight: bars for one target dimension, a heatmap for several."""
    import matplotlib

    W = np.asarray(weights, dtype=float)
    K, D = W.shape
    labels = _unique_short(features, 60)
    with matplotlib.rc_context(RC):
        if D == 1:
            fig = _figure(8.0, 1.2 + 0.28 * max(K, 1))
            ax = fig.add_subplot()
            _style(ax)
            order = np.argsort(-np.abs(W[:, 0]))[::-1]
            vals = W[order, 0]
            ax.barh(range(K), vals, color=[TEST_C if v < 0 else TRAIN_C for v in vals])
            ax.set_yticks(range(K), [labels[i] for i in order])
            ax.axvline(0, color="#444444", lw=0.8)
            ax.set_xlabel(f"weight on {target_names[0] if target_names else 'the target'}")
            ax.set_title("Final features: weights", loc="left")
        else:
            shown = min(D, 64)
            longest = max((len(lab) for lab in labels), default=10)
            fig = _figure(min(max(8.0, 2.0 + 0.065 * longest + 0.22 * shown), 16.0), 1.6 + 0.3 * max(K, 1))
            ax = fig.add_subplot()
            vmax = float(np.max(np.abs(W[:, :shown]))) or 1.0
            ax.grid(False)
            im = ax.imshow(W[:, :shown], aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                           interpolation="nearest")
            ax.set_yticks(range(K), labels)
            names = list(target_names) if target_names else [str(d) for d in range(D)]
            ax.set_xticks(range(shown), [_short(n, 12) for n in names[:shown]], rotation=90, fontsize=7)
            ax.set_xlabel("target dimension" + (f" (first {shown} of {D})" if shown < D else ""))
            ax.set_title("Final features: weight per target dimension", loc="left")
            fig.colorbar(im, ax=ax, shrink=0.8, label="weight")
        return _save(fig, path)


def results_figure(results: dict, path: Path) -> Path:
    """The experiment's comparison: each method's mean score with its standard deviation."""
    import matplotlib

    rows = sorted(results["rows"], key=lambda r: r["mean"], reverse=not results.get("higher_is_better", False))
    with matplotlib.rc_context(RC):
        fig = _figure(8.0, 1.2 + 0.34 * max(len(rows), 1))
        ax = fig.add_subplot()
        _style(ax)
        colors = []
        for r in rows:
            kind = r.get("kind") or ("zero-shot" if "zero" in r["method"].lower() else
                                     "genz" if "genz" in r["method"].lower() else "peer")
            colors.append({"genz": "#4c78a8", "zero-shot": "#f58518"}.get(kind, "#9a9a9a"))
        y = np.arange(len(rows))[::-1]
        ax.barh(y, [r["mean"] for r in rows], xerr=[r.get("std") or 0.0 for r in rows], color=colors,
                error_kw={"elinewidth": 1, "capsize": 3})
        ax.set_yticks(y, [_short(r["method"], 40) for r in rows])
        better = "higher" if results.get("higher_is_better") else "lower"
        ax.set_xlabel(f"{results['metric']} ({better} is better; bars: mean ± std)")
        ax.set_title(f"Experiment{(': ' + str(results['experiment'])) if results.get('experiment') else ''}", loc="left")
        ax.legend(handles=[Line2D([], [], marker="s", ls="", color=c, label=l) for c, l in
                           (("#4c78a8", "GenZ"), ("#9a9a9a", "peer"), ("#f58518", "zero-shot"))], loc="lower right")
        return _save(fig, path)


def compare_figure(runs: Sequence[RunData], path: Path) -> Path:
    """Several runs' curves overlaid, one colour per run (test solid, train dashed): against
    the step (left) and against the cumulative foundation-model calls (right), one row per
    metric when the runs record different ones."""
    import matplotlib

    metrics = list(dict.fromkeys(r.metric for r in runs if r.metric))[:3] or [None]
    with matplotlib.rc_context(RC):
        fig = _figure(10.0, 0.6 + 3.6 * len(metrics))
        axes = np.atleast_2d(fig.subplots(len(metrics), 2, squeeze=False))
        palette = matplotlib.colormaps["tab10"]
        for row, metric in enumerate(metrics):
            for col in range(2):
                ax = axes[row, col]
                _style(ax)
                for i, r in enumerate(runs):
                    if metric is not None and r.metric != metric and len(metrics) > 1:
                        continue
                    c = palette(i % 10)
                    label = textwrap.shorten(r.name, 30)
                    s, tr = r.series("train", metric)
                    _, te = r.series("test", metric)
                    if col == 1:
                        s = np.array([float((h.get("fm_total") or {}).get("total_calls", np.nan)) for h in r.history])
                    if np.isfinite(te).any():
                        ax.plot(s, te, "-", color=c, lw=1.7, label=f"{label} test")
                    if np.isfinite(tr).any():
                        ax.plot(s, tr, "--", color=c, lw=1.1, alpha=0.8, label=f"{label} train")
                ax.set_xlabel("step" if col == 0 else "foundation-model calls (cumulative)")
                ax.set_ylabel(metric or "metric")
                if col == 0 and ax.get_legend_handles_labels()[0]:
                    ax.legend(loc="best")
        axes[0, 0].set_title("Runs compared by step (solid: test, dashed: train)", loc="left")
        axes[0, 1].set_title("… and by foundation-model calls", loc="left")
        return _save(fig, path)
