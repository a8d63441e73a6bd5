"""The feature table: what a fitted model found, with its evidence, in one notation.

A saved model's ``model.json`` may hold ``"feature_table"``: one row per (feature, target)
with the keys ``feature``, ``target``, ``weight``, ``ci_low``, ``ci_high`` (95% interval of the
weight), ``epsilon``, ``epsilon_note`` (``""``, ``"at floor"`` or ``"at cap"``), ``share_yes``
(share of training items the FM judged yes), ``heldout_gain`` and ``heldout_gain_se`` (the
held-out drop-one contribution and its standard error), ``significant`` (bool) and ``origin``
(``"mined"``, ``"hypothesis"`` or ``"pinned"``); and ``"target_names"``.

* :func:`format_feature_table` renders those rows as plain text for the terminal (``genz fit``
  ends with it; ``genz show RUN`` prints it again).
* :func:`feature_table_html` renders them for the HTML report.
* :func:`em_convergence` / :func:`em_convergence_html` summarise the EM phases recorded in the
  history (``"em_phases": [{"iterations", "converged"}, ...]``, ``"em_not_converged"``).

Older models and runs lack these keys; every function degrades to what is present.

Number notation (one per table): weights and interval ends share one number of decimals, chosen
from the largest magnitude in the table (three significant digits for it), written
``+0.152 [0.101, 0.203]``; held-out gains likewise ``+0.0123 ± 0.0040``; ε with three decimals;
the share of yes as a percentage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError

__all__ = [
    "format_feature_table",
    "feature_table_html",
    "load_feature_table",
    "em_convergence",
    "em_convergence_html",
    "format_em_convergence",
    "decimals_for",
    "evidence_section",
]

_EPS_NOTES = {
    "at floor": "ε sits at its lower bound eps_min: the data leave the judgments' error rate unidentified below it",
    "at cap": "ε sits at its starting cap: the data term is too weak to identify it",
}


def _f(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def decimals_for(values: Sequence[Any], significant: int = 3, max_decimals: int = 6) -> int:
    """Decimals that give the largest finite |value| ``significant`` significant digits
    (0.152 → 3, 1.52 → 2, 152 → 0); 3 when there is no finite non-zero value."""
    mags = [abs(x) for x in (_f(v) for v in values) if x is not None and x != 0.0]
    if not mags:
        return 3
    top = math.floor(math.log10(max(mags)))
    return int(min(max(significant - 1 - top, 0), max_decimals))


def _num(v: Any, dec: int, sign: bool = False) -> str:
    x = _f(v)
    if x is None:
        return "–"
    if round(x, dec) == 0.0:
        x = 0.0  # never "-0.000"
    return f"{x:+.{dec}f}" if sign else f"{x:.{dec}f}"


def _weight_cell(r: Mapping[str, Any], dec: int) -> str:
    w = _num(r.get("weight"), dec, sign=True)
    lo, hi = _f(r.get("ci_low")), _f(r.get("ci_high"))
    if lo is None or hi is None:
        return w
    return f"{w} [{_num(lo, dec)}, {_num(hi, dec)}]"


def _gain_cell(r: Mapping[str, Any], dec: int) -> str:
    g = _f(r.get("heldout_gain"))
    if g is None:
        return "–"
    se = _f(r.get("heldout_gain_se"))
    return _num(g, dec, sign=True) + ("" if se is None else f" ± {_num(se, dec)}")


def _eps_cell(r: Mapping[str, Any]) -> str:
    e = _f(r.get("epsilon"))
    if e is None:
        return "–"
    note = str(r.get("epsilon_note") or "")
    return f"{e:.3f}" + (f" ({note})" if note else "")


def _share_cell(r: Mapping[str, Any]) -> str:
    s = _f(r.get("share_yes"))
    return "–" if s is None else f"{100 * s:.1f}%"


def _sig_cell(r: Mapping[str, Any]) -> str:
    sig = r.get("significant")
    return "" if sig is None else ("yes" if sig else "no")


def _target_name(r: Mapping[str, Any], target_names: Sequence[str] | None) -> str:
    t = r.get("target")
    if isinstance(t, int) and not isinstance(t, bool) and target_names and 0 <= t < len(target_names):
        return str(target_names[t])
    return "" if t is None else str(t)


def _grouped(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Rows grouped by feature, features in order of first appearance."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("feature", "")), []).append(r)
    return list(groups.items())


def _columns(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None) -> tuple[list[str], list[list[str]]]:
    """Header and cells shared by the text and HTML renderings."""
    wdec = decimals_for([r.get(k) for r in rows for k in ("weight", "ci_low", "ci_high")])
    gdec = decimals_for([r.get(k) for r in rows for k in ("heldout_gain", "heldout_gain_se")], significant=2)
    multi = len({_target_name(r, target_names) for r in rows}) > 1
    header = ["#", "feature"] + (["target"] if multi else []) + [
        "weight [95% CI]", "held-out gain ± se", "significant", "ε", "FM yes", "origin"]
    cells = []
    for i, (feat, group) in enumerate(_grouped(rows)):
        for j, r in enumerate(group):
            first = j == 0
            cells.append(
                [str(i + 1) if first else "", feat if first else ""]
                + ([_target_name(r, target_names)] if multi else [])
                + [_weight_cell(r, wdec), _gain_cell(r, gdec) if first else "", _sig_cell(r) if first else "",
                   _eps_cell(r) if first else "", _share_cell(r) if first else "",
                   str(r.get("origin") or "") if first else ""]
            )
    return header, cells


def format_feature_table(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None = None,
                         max_feature_width: int = 60) -> str:
    """The feature table as plain text (for ``genz fit`` and ``genz show``).

    ``rows`` are the ``model.json`` ``"feature_table"`` rows (or ``GenZRegressor.feature_table()``
    records); ``target`` may be an index into ``target_names`` or a name. With several targets a
    feature spans one line per target; its held-out gain, ε, share and origin are on its first
    line. Ends with a legend line."""
    rows = list(rows)
    if not rows:
        return "No features."
    header, cells = _columns(rows, target_names)
    fi = header.index("feature")
    for c in cells:
        if len(c[fi]) > max_feature_width:
            c[fi] = c[fi][: max_feature_width - 1] + "…"
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(header)]
    left = {"feature", "target", "origin", "significant"}

    def line(vals: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if h in left else v.rjust(w) for v, w, h in zip(vals, widths, header)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    notes = sorted({str(r.get("epsilon_note")) for r in rows if r.get("epsilon_note")})
    out.append("")
    out.append("weight: effect on the target when the feature holds, with its 95% interval; held-out gain: "
               "loss increase on held-out items when the feature is dropped (± standard error).")
    if any(r.get("significant") is False and r.get("origin") != "pinned" for r in rows):
        out.append("significant: the held-out gain exceeds the Bonferroni threshold over every feature tried; "
                   "'no' features stay because dropping them together loses held-out loss beyond that same "
                   "threshold (they matter jointly, not one by one).")
    for n in notes:
        out.append(f"ε {n}: {_EPS_NOTES.get(n, n)}.")
    return "\n".join(out)


def feature_table_html(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None = None) -> str:
    """The feature table as an HTML ``<table>`` (every cell escaped; no cell emphasised)."""
    rows = list(rows)
    if not rows:
        return '<p class="empty">No features.</p>'
    header, cells = _columns(rows, target_names)
    e = lambda s: escape(str(s), quote=True)  # noqa: E731
    numeric = {"#", "weight [95% CI]", "held-out gain ± se", "ε", "FM yes"}
    th = "".join(f'<th class="num">{e(h)}</th>' if h in numeric else f"<th>{e(h)}</th>" for h in header)
    body = []
    for c in cells:
        tds = []
        for h, v in zip(header, c):
            cls = "num" if h in numeric else ("feat" if h == "feature" else "")
            if h == "weight [95% CI]":
                cls += " ci"
            if h == "ε" and "(" in v:
                cls += " epsnote"
            tds.append(f'<td class="{cls.strip()}">{e(v)}</td>' if cls.strip() else f"<td>{e(v)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    notes = sorted({str(r.get("epsilon_note")) for r in rows if r.get("epsilon_note")})
    legend = ("<p class=\"note\">Weight: effect on the target when the feature holds, with its 95% interval. "
              "Held-out gain: increase of the held-out loss when the feature is dropped, ± its standard error; "
              "<i>significant</i>: distinguishable from zero. Origin: mined by GenZ, a user's hypothesis, or pinned "
              "by the user.</p>"
              + "".join(f'<p class="note">ε {e(n)}: {e(_EPS_NOTES.get(n, n))}.</p>' for n in notes))
    return f'<table class="feature-table"><tr>{th}</tr>{"".join(body)}</table>' + legend


def load_feature_table(model_dir: str | Path) -> tuple[list[dict], list[str] | None] | None:
    """``(rows, target_names)`` from ``model_dir/model.json``, or None when the model has no
    feature table (older models) or there is no ``model.json``. A damaged file raises
    CorruptFileError naming it."""
    path = Path(model_dir) / "model.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: expected a JSON object")
    rows = meta.get("feature_table")
    names = meta.get("target_names")
    names = [str(n) for n in names] if isinstance(names, list) else None
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise CorruptFileError(f"{path}: 'feature_table' must be a list of objects")
    return rows, names


# ----------------------------------------------------------------------------- EM convergence
def em_convergence(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per history step that recorded EM phases: ``step``, ``action``, ``feature``, ``phases``,
    ``not_converged`` (count) and ``max_iterations``. Steps without EM records are skipped."""
    out = []
    for rec in history:
        phases = rec.get("em_phases")
        nc = rec.get("em_not_converged")
        if not isinstance(phases, list) and nc is None:
            continue
        phases = [p for p in (phases or []) if isinstance(p, dict)]
        if nc is None:
            nc = sum(1 for p in phases if not p.get("converged", True))
        iters = [int(p["iterations"]) for p in phases if isinstance(p.get("iterations"), (int, float))]
        out.append({"step": rec.get("step"), "action": rec.get("action"), "feature": rec.get("feature"),
                    "phases": len(phases), "not_converged": int(nc),
                    "max_iterations": max(iters) if iters else None})
    return out


def format_em_convergence(history: Sequence[Mapping[str, Any]], mlp: bool = False) -> str | None:
    """One line: how many EM phases ran and how many stopped at their iteration limit, and what
    to make of it (:func:`genz.inference.convergence_note`; ``mlp``: the model is the MLP); None
    when the history records no EM phases."""
    rows = em_convergence(history)
    if not rows:
        return None
    n = sum(r["phases"] for r in rows)
    bad = [r for r in rows if r["not_converged"]]
    nc = sum(r["not_converged"] for r in rows)
    if not nc:
        return f"EM: {n} phases over {len(rows)} steps, all converged."
    from ..inference import convergence_note

    steps = ", ".join(str(r["step"]) for r in bad[:10]) + (" …" if len(bad) > 10 else "")
    return (f"EM: {n} phases over {len(rows)} steps; {nc} did not converge (stopped at max_iter) at steps {steps}. "
            + (convergence_note(n, nc, mlp) or ""))


def em_convergence_html(history: Sequence[Mapping[str, Any]], mlp: bool = False) -> str:
    """A table of EM convergence per step (only steps that recorded EM phases)."""
    rows = em_convergence(history)
    if not rows:
        return '<p class="empty">This run did not record EM convergence (an older run).</p>'
    e = lambda s: escape(str(s), quote=True)  # noqa: E731
    summary = e(format_em_convergence(history, mlp) or "")
    body = "".join(
        f'<tr class="{"notconv" if r["not_converged"] else ""}"><td class="num">{e(r["step"])}</td>'
        f'<td>{e(r["action"] or "")}</td><td class="feat">{e(r["feature"] or "")}</td>'
        f'<td class="num">{r["phases"]}</td><td class="num">{"–" if r["max_iterations"] is None else r["max_iterations"]}</td>'
        f'<td class="num">{r["not_converged"]}</td></tr>'
        for r in rows
    )
    hdr = ('<tr><th class="num">step</th><th>action</th><th>feature</th><th class="num">EM phases</th>'
           '<th class="num">most iterations</th><th class="num">not converged</th></tr>')
    return f'<p class="note">{summary}</p><table class="em-table">{hdr}{body}</table>'


def evidence_section(data: Any, prefix: str = "") -> str:
    """The report's "Feature evidence" section of a run (``RunData``): the feature table with
    intervals and held-out contributions (when the model has one) and EM convergence per step."""
    head = f'<h3 id="{prefix}evidence">Feature evidence</h3>'
    if data.feature_table is not None:
        table = feature_table_html(data.feature_table, data.target_names)
    elif data.summary is not None:
        table = ('<p class="empty">This model was saved without a feature table (an older genz): no intervals or '
                 "held-out contributions. Refit to see them.</p>")
    else:
        table = '<p class="empty">Available once the run has written its final model.</p>'
    valid = next((r.get("valid") for r in reversed(data.history) if isinstance(r.get("valid"), dict)), None)
    vline = ""
    if valid:
        vals = ", ".join(f"{escape(str(k))} {float(v):.4g}" for k, v in valid.items()
                         if isinstance(v, (int, float)) and math.isfinite(float(v)))
        vline = f'<p class="note">Held-out metrics (internal validation split) at the last step: {vals}.</p>'
    model = ((data.config or {}).get("estimator") or {}).get("model")
    mlp = isinstance(model, dict) and model.get("kind") == "mlp"
    em = f'<h4 id="{prefix}em">EM convergence</h4>' + em_convergence_html(data.history, mlp)
    return head + table + vline + em
