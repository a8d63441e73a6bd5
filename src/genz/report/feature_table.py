"""The feature table: what a fitted model found, with its evidence, in one notation.

A saved model's ``model.json`` may hold ``"feature_table"``: one row per (feature, target)
with the keys of :data:`genz.effects_table.FEATURE_TABLE_COLUMNS` — ``weight`` (the predictor's
coefficient), ``finding``, ``effect``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value`` (the test on
the untouched rows), ``cv_gain`` ± ``cv_gain_se`` (the drop-one cross-validated gain),
``epsilon``, ``epsilon_note`` (``""``, ``"at floor"`` or ``"at cap"``), ``share_yes`` and
``origin`` (``"mined"``, ``"hypothesis"``, ``"pinned"`` or ``"zero-shot"``); ``"target_names"``; and
``"inference"`` (the untouched rows' count, error rate and correction).

* :func:`format_feature_table` renders those rows as plain text for the terminal (``genz fit``
  ends with it; ``genz show RUN`` prints it again).
* :func:`feature_table_html` renders them for the HTML report.
* :func:`em_convergence` / :func:`em_convergence_html` summarise the EM phases recorded in the
  history (``"em_phases": [{"iterations", "converged"}, ...]``, ``"em_not_converged"``).

Older models and runs lack these keys; every function degrades to what is present.

Number notation (one per table): weights and interval ends share one number of decimals, chosen
from the largest magnitude in the table (three significant digits for it), written
``+0.152 [0.101, 0.203]``; cross-validated gains likewise ``+0.0123 ± 0.0040``; ε with three decimals;
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
from ..settings import CORRECTIONS

__all__ = [
    "format_feature_table",
    "feature_table_html",
    "load_feature_table",
    "em_convergence",
    "em_convergence_html",
    "format_em_convergence",
    "decimals_for",
    "evidence_section",
    "legend",
    "load_inference_info",
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
    return _num(r.get("weight"), dec, sign=True)


def _effect_cell(r: Mapping[str, Any], dec: int) -> str:
    eff = _f(r.get("effect"))
    if eff is None:
        return "–"
    lo, hi = _f(r.get("ci_low")), _f(r.get("ci_high"))
    w = _num(eff, dec, sign=True)
    return w if lo is None or hi is None else f"{w} [{_num(lo, dec)}, {_num(hi, dec)}]"


def _q_cell(r: Mapping[str, Any]) -> str:
    q = _f(r.get("q_value"))
    if q is None and r.get("untested") == "screened out":
        sp = _f(r.get("discovery_p"))
        return "– (screened)" if sp is None else f"– (p₁ {sp:.2g})"  # not tested: the discovery rows' p
    if q is None:
        loc = _f(r.get("located"))
        placed = loc is not None and _f(r.get("effect")) is not None
        return f"– ({100 * loc:.0f}%)" if placed else "–"  # not tested: the share of resamples that placed it
    return "<0.001" if q < 0.001 else f"{q:.3f}"


def _gain_cell(r: Mapping[str, Any], dec: int) -> str:
    g = _f(r.get("cv_gain"))
    if g is None:
        return "–"
    se = _f(r.get("cv_gain_se"))
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


HEADER = ["#", "feature", "target", "weight", "effect [CI]", "q", "cv gain ± se", "ε", "FM yes", "origin"]
NUMERIC = {"#", "weight", "effect [CI]", "q", "cv gain ± se", "ε", "FM yes"}
LEFT = {"feature", "target", "origin"}


def _blocks(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None
            ) -> tuple[list[str], list[tuple[str, list[list[str]]]]]:
    """The header and the cells of the two blocks: findings first, then the features that
    support the predictor only (each block's features numbered on)."""
    wdec = decimals_for([r.get(k) for r in rows for k in ("weight", "effect", "ci_low", "ci_high")])
    gdec = decimals_for([r.get(k) for r in rows for k in ("cv_gain", "cv_gain_se")], significant=2)
    multi = len({_target_name(r, target_names) for r in rows}) > 1
    header = [h for h in HEADER if multi or h != "target"]
    groups = _grouped(rows)
    found = [(f, g) for f, g in groups if g[0].get("finding") is True]
    rest = [(f, g) for f, g in groups if g[0].get("finding") is not True]
    blocks, i = [], 0
    for title, part in (("findings", found), ("supporting", rest)):
        cells = []
        for feat, group in part:
            i += 1
            for j, r in enumerate(group):
                first = j == 0
                cells.append(
                    [str(i) if first else "", feat if first else ""]
                    + ([_target_name(r, target_names)] if multi else [])
                    + [_weight_cell(r, wdec), _effect_cell(r, wdec), _q_cell(r) if first else "",
                       _gain_cell(r, gdec) if first else "", _eps_cell(r) if first else "",
                       _share_cell(r) if first else "", str(r.get("origin") or "") if first else ""])
        if cells:
            blocks.append((title, cells))
    return header, blocks


def _titles(rows: Sequence[Mapping[str, Any]], info: Mapping[str, Any] | None) -> dict[str, str]:
    """The two blocks' titles, with the error control when it is known."""
    info = info or {}
    n_f = len({r.get("feature") for r in rows if r.get("finding") is True})
    n = len({r.get("feature") for r in rows})
    tested = any(_f(r.get("effect")) is not None for r in rows)
    how = ""
    if info.get("nobs"):
        corr = CORRECTIONS.get(str(info.get("correction")), str(info.get("correction")))
        how = f" (tested on {int(info['nobs'])} untouched rows; {corr} at {float(info.get('error_rate', 0.05)):g})"
    if not tested:
        return {"findings": "Findings", "supporting": f"Features ({n}; none was tested on rows set aside: no findings)"}
    return {"findings": f"Findings: {n_f} of {n} features{how}",
            "supporting": f"Supporting features ({n - n_f}): used by the predictor, not findings"}


def legend(rows: Sequence[Mapping[str, Any]], info: Mapping[str, Any] | None = None) -> list[str]:
    """The legend lines under the table (one source for the text and the HTML table)."""
    info = info or {}
    lvl = 1.0 - max(float(info.get("error_rate", 0.05)), 0.05)
    out = ["weight: the predictor's coefficient (refitted on every training row, shrunk by its ridge): what "
           "predictions use.",
           f"effect [CI]: the effect of the feature holding, estimated on rows set aside before discovery (no choice "
           f"used them), with its {100 * lvl:g}% interval (the findings' intervals widened for having been selected: "
           f"at most {100 * (1 - lvl):g}% of them miss, on average); q: its p-value adjusted over the features tested there. "
           "A finding has q at most the stated error rate; a supporting feature helps predictions without that proof.",
           "cv gain: how much the cross-validated loss on the discovery rows rises when the feature alone is dropped "
           "(± standard error; in units of the target's variance)."]
    if any(_f(r.get("q_value")) is None and _f(r.get("effect")) is not None and r.get("untested") != "screened out"
           for r in rows):
        out.append("q – (n%) beside an effect: a cut of a number or a phrase whose place the discovery rows could not "
                   "fix: only n% of bootstrap resamples of them put it where it is (a test needs --located, 70% by "
                   "default); its effect is estimated beside the others as a control, but it is not tested as a finding.")
    if any(r.get("untested") == "screened out" for r in rows):
        out.append("q – (p₁ n) beside an effect: the same test on the discovery rows gave the feature a p-value of n, "
                   "above the screen (--discovery-p); its effect is estimated beside the others as a control, but it is not "
                   "tested as a finding, so it does not dilute the correction.")
    if any(_f(r.get("effect")) is None for r in rows) and any(_f(r.get("effect")) is not None for r in rows):
        out.append("effect –: a feature added after the findings were tested (discovery went on over every row, the "
                   "set-aside ones included; or, origin zero-shot, a proposal the foundation model wrote without the "
                   "target, taken by the predictor because it lowered the untouched rows' loss), so it is not tested "
                   "as a finding.")
    for n in sorted({str(r.get("epsilon_note")) for r in rows if r.get("epsilon_note")}):
        out.append(f"ε {n}: {_EPS_NOTES.get(n, n)}.")
    return out


def format_feature_table(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None = None,
                         max_feature_width: int | None = 60, info: Mapping[str, Any] | None = None) -> str:
    """The feature table as plain text (for ``genz fit`` and ``genz show``): the findings, then
    the supporting features, each block under its title, and a legend.

    ``rows`` are the ``model.json`` ``"feature_table"`` rows (or ``GenZRegressor.feature_table()``
    records); ``target`` may be an index into ``target_names`` or a name. With several targets a
    feature spans one line per target. ``info`` (``nobs``, ``error_rate``, ``correction``) names
    the error control in the titles. ``max_feature_width=None`` shows descriptors whole."""
    rows = list(rows)
    if not rows:
        return "No features."
    header, blocks = _blocks(rows, target_names)
    fi = header.index("feature")
    cut = False
    if max_feature_width is not None:
        for _, cells in blocks:
            for c in cells:
                if len(c[fi]) > max_feature_width:
                    c[fi] = c[fi][: max_feature_width - 1] + "…"
                    cut = True
    every = [c for _, cells in blocks for c in cells]
    widths = [max(len(h), *(len(c[k]) for c in every)) for k, h in enumerate(header)]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if h in LEFT else v.rjust(w) for v, w, h in zip(vals, widths, header)).rstrip()

    titles = _titles(rows, info)
    out = []
    for title, cells in blocks:
        out += [titles[title], line(header), "  ".join("-" * w for w in widths)] + [line(c) for c in cells] + [""]
    cut_note = ([f"Features longer than {max_feature_width} characters are cut (…): "
                 "`genz show RUN --full` prints them whole."] if cut else [])
    return "\n".join(out + legend(rows, info) + cut_note)


def feature_table_html(rows: Sequence[Mapping[str, Any]], target_names: Sequence[str] | None = None,
                       info: Mapping[str, Any] | None = None) -> str:
    """The feature table as HTML: the findings' table, then the supporting features' (every
    cell escaped; no cell emphasised), and the legend."""
    rows = list(rows)
    if not rows:
        return '<p class="empty">No features.</p>'
    header, blocks = _blocks(rows, target_names)
    e = lambda s: escape(str(s), quote=True)  # noqa: E731
    th = "".join(f'<th class="num">{e(h)}</th>' if h in NUMERIC else f"<th>{e(h)}</th>" for h in header)
    titles = _titles(rows, info)
    out = []
    for title, cells in blocks:
        body = []
        for c in cells:
            tds = []
            for h, v in zip(header, c):
                cls = "num" if h in NUMERIC else ("feat" if h == "feature" else "")
                if h == "effect [CI]":
                    cls += " ci"
                if h == "ε" and "(" in v:
                    cls += " epsnote"
                tds.append(f'<td class="{cls.strip()}">{e(v)}</td>' if cls.strip() else f"<td>{e(v)}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        out.append(f'<h4 class="table-title">{e(titles[title])}</h4>'
                   f'<table class="feature-table {title}"><tr>{th}</tr>{"".join(body)}</table>')
    out.append("".join(f'<p class="note">{e(x)}</p>' for x in legend(rows, info)))
    return "".join(out)


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


def load_check_lines(model_dir: str | Path) -> list[str]:
    """The fit's checks against cheaper routes, one line each as ``genz fit`` printed them (the
    structure check, the zero-shot check, the numbers check, the text check, the tree route: README), from
    ``model_dir/model.json``;
    none for a model saved without them or a check whose record cannot be read."""
    from ..checks import numbers_line, structure_line, text_line, tree_line, zero_shot_line

    try:
        meta = json.loads((Path(model_dir) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for key, line in (("structure_check", structure_line), ("baseline", zero_shot_line), ("numbers_check", numbers_line),
                      ("text_check", text_line), ("tree_route", tree_line)):
        rec = meta.get(key) if isinstance(meta, dict) else None
        if isinstance(rec, dict):
            try:
                out.append(line(rec))
            except (KeyError, TypeError, ValueError):  # a record from another version: not shown
                pass
    return out


def load_inference_info(model_dir: str | Path) -> dict | None:
    """``{nobs, error_rate, correction}`` of a saved model's findings test, or None."""
    path = Path(model_dir) / "model.json"
    try:
        inf = json.loads(path.read_text(encoding="utf-8")).get("inference")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(inf, dict):
        return None
    return {k: inf.get(k) for k in ("nobs", "error_rate", "correction")}


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
    findings first and the cross-validated contributions (when the model has one) and EM
    convergence per step."""
    head = f'<h3 id="{prefix}evidence">Feature evidence</h3>'
    if data.feature_table is not None:
        table = feature_table_html(data.feature_table, data.target_names, getattr(data, "inference", None))
    elif data.summary is not None:
        table = ('<p class="empty">This model was saved without a feature table (an older genz): no findings or '
                 "cross-validated contributions. Refit to see them.</p>")
    else:
        table = '<p class="empty">Available once the run has written its final model.</p>'
    cv = next((r.get("cv") for r in reversed(data.history) if isinstance(r.get("cv"), dict)), None)
    vline = ""
    if cv and _f(cv.get("loss")) is not None:
        vline = (f'<p class="note">Cross-validated loss of the chosen structure on the discovery rows: '
                 f'{float(cv["loss"]):.4g} ± {float(cv.get("loss_se") or 0):.2g} (1 = predicting the mean).</p>')
    checks = ""
    if getattr(data, "checks", None):
        checks = (f'<h4 id="{prefix}checks">Checks against cheaper routes</h4>'
                  + "".join(f'<p class="note">{escape(c)}</p>' for c in data.checks))
    model = ((data.config or {}).get("estimator") or {}).get("model")
    mlp = isinstance(model, dict) and model.get("kind") == "mlp"
    em = f'<h4 id="{prefix}em">EM convergence</h4>' + em_convergence_html(data.history, mlp)
    return head + table + vline + checks + em
