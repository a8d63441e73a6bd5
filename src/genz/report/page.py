"""HTML assembly of the report: one self-contained page (inline CSS and JS, figures as PNG
files beside it, referenced relatively). Every piece of run-provided text is escaped."""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..fm.secrets import redact_secrets
from . import figures
from .data import RunData, describe_config
from .examples import example_text
from .feature_table import evidence_section
from .judgments import judgments_section

N_EXAMPLES = 2
N_OVERRIDES = 25


def _e(x: Any) -> str:
    return escape(str(x), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    """The report's one number notation (the page script's ``fmt`` is the same): integers with
    thousands separators, other numbers to ``digits`` significant digits in plain notation
    (``12,350``, ``0.1234``, ``0.001``), scientific only below 1e-9."""
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _e(v)
    if not math.isfinite(f):
        return "–"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and abs(f) < 1e15:
        return f"{int(v):,}"
    if f == 0:
        return "0"
    r = float(f"{f:.{digits}g}")
    dec = max(0, digits - 1 - math.floor(math.log10(abs(r))))
    if dec > 9:
        return f"{f:.{digits - 1}e}"
    out = f"{r:,.{dec}f}"
    return out.rstrip("0").rstrip(".") if "." in out else out


def _trunc(s: str, n: int = 90) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _script_json(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' characters."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _finite_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _img(src: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{_e(src)}" alt="{_e(alt)}" loading="eager">'
            f"<figcaption>{caption}</figcaption></figure>")


def _card(k: str, v: str, s: str = "") -> str:
    return f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{v}</div><div class="s">{s}</div></div>'


# ----------------------------------------------------------------------------- per-run sections
def _fm_note(fm: dict, history: list[dict]) -> str:
    """Cache hits, and the judgments candidate screening saved (docs/scale.md)."""
    from ..runfit import screening_saved

    parts = [f"{_num(fm.get('cache_hits'))} cache hits"] if fm else []
    saved = screening_saved(history)
    if saved:
        parts.append(f"{_num(saved)} judgments saved by screening")
    return " · ".join(parts)


def _cards(d: RunData) -> str:
    last = d.final_record() or {}
    fm = d.fm_total()
    m = d.metric or "metric"
    best, bstep = d.best("test")
    final_test = (last.get("test") or {}).get(d.metric) if d.metric else None
    final_train = (last.get("train") or {}).get(d.metric) if d.metric else None
    tokens = int(fm.get("prompt_tokens", 0) or 0) + int(fm.get("completion_tokens", 0) or 0)
    secs = d.seconds()
    cards = [
        _card("steps", _num(len(d.history)), f"{len({r.get('cycle') for r in d.history} - {None})} cycles"),
        _card("features", _num(last.get("n_features", len(last.get("features") or []))),
              f"{len(d.timeline_features)} tried, {len(d.discarded)} discarded"),
        _card(f"final train {m}", _num(final_train)),
        _card(f"final test {m}", _num(final_test),
              f"best {_num(best)} at step {bstep}" if best is not None else "no test set" if final_test is None else ""),
        _card("FM calls", _num(fm.get("total_calls")), _fm_note(fm, d.history)),
        *([_card("tokens · cost", _num(tokens), f"${float(fm.get('cost_usd') or 0):.4f}")]
          if tokens or float(fm.get("cost_usd") or 0) else []),  # the offline engine costs nothing
        _card("time", f"{secs / 60:.1f} min" if secs >= 60 else f"{secs:.1f} s", "sum of step times"),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _config_block(d: RunData) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in describe_config(redact_secrets(d.config)))
    info = d.info
    meta = f"created {_e(info.get('created', '?'))}, last updated {_e(info.get('updated', '?'))}"
    return (f"<details><summary>Configuration ({meta})</summary>"
            f"<table><tr><th>option</th><th>value</th></tr>{rows}</table></details>")


def _curves(d: RunData, out_dir: Path, prefix: str) -> str:
    if not d.history:
        return '<h3>Learning curves</h3><p class="empty">No steps recorded yet.</p>'
    name = f"{prefix}curves.png"
    figures.curves_figure(d, out_dir / name)
    cap = (f"Top: train and test {_e(d.metric or 'metric')} after each step; green ▲ marks a feature added, "
           "red ▼ a feature removed (paper Fig. 4 and 6). Middle: the evidence bound Σₙ Bₙ (eq. 2). "
           "Bottom: number of features and cumulative foundation-model calls. Grey lines separate cycles.")
    return "<h3 id=\"{0}curves\">Learning curves</h3>".format(prefix) + _img(name, "learning curves", cap)


def _timeline(d: RunData, out_dir: Path, prefix: str, idx: int) -> str:
    head = f'<h3 id="{prefix}timeline">Feature timeline</h3>'
    if not d.history:
        return head + '<p class="empty">No steps recorded yet.</p>'
    name = f"{prefix}timeline.png"
    _, axes = figures.timeline_figure(d, out_dir / name)
    steps = []
    for r in d.history:
        steps.append({
            "step": r["step"], "cycle": r.get("cycle"), "action": str(r.get("action", "")),
            "feature": None if r.get("feature") is None else str(r["feature"]),
            "features": [str(f) for f in (r.get("features") or [])],
            "train": _finite_or_none((r.get("train") or {}).get(d.metric)) if d.metric else None,
            "test": _finite_or_none((r.get("test") or {}).get(d.metric)) if d.metric else None,
        })
    payload = {"metric": d.metric, "axes": axes, "steps": steps}
    sid = f"timeline-data-{idx}"
    return (
        head
        + '<p class="note">Which features the model holds after each step, in order of first appearance. '
          "Drag the slider or press Play to watch features being added (green) and removed (red).</p>"
        + f'<div class="timeline" data-src="{sid}">'
        + f'<div class="imgwrap"><img src="{_e(name)}" alt="feature timeline"><div class="cursor"></div></div>'
        + '<div class="controls"><button type="button" class="play">▶ Play</button>'
          '<input type="range" min="0" max="0" value="0" aria-label="step"><span class="steplabel"></span></div>'
        + '<ol class="featlist"></ol></div>'
        + f'<script type="application/json" id="{sid}">{_script_json(payload)}</script>'
    )


_MENTIONS = re.compile(r'mentions ("(?:[^"\\]|\\.)*")')


def _phrases(feature: str) -> list[str]:
    """The phrases a feature looks for (``mentions "has a sunroof"``), to highlight them."""
    out = []
    for m in _MENTIONS.finditer(feature):
        try:
            out.append(str(json.loads(m.group(1))))
        except ValueError:
            pass
    return out


def _highlight(text: str, phrases: list[str]) -> tuple[str, int]:
    """Escaped text with the phrases marked (<mark>), and where the first match starts (-1)."""
    spans = []
    for ph in phrases:
        words = ph.split()
        if not words:
            continue
        pat = re.compile(r"(?<!\w)" + r"[^\w.!?;:\n]+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)
        spans += [(m.start(), m.end()) for m in pat.finditer(text)]
    spans.sort()
    out, pos, first = [], 0, (spans[0][0] if spans else -1)
    for a, b in spans:
        if a < pos:
            continue
        out.append(_e(text[pos:a]) + "<mark>" + _e(text[a:b]) + "</mark>")
        pos = b
    out.append(_e(text[pos:]))
    return "".join(out), first


def _example(text: str, phrases: list[str], n: int = 80) -> str:
    """One example item: a short line around the matching phrase; click to read it whole."""
    text = " ".join(str(text).split())
    full, first = _highlight(text, phrases)
    if len(text) <= n:
        return f"<li>{full}</li>"
    start = 0 if first < n // 2 else max(0, first - n // 3)
    snippet = text[start:start + n]
    short, _ = _highlight(snippet, phrases)
    short = ("…" if start else "") + short + ("…" if start + n < len(text) else "")
    return f'<li><details class="item"><summary>{short}</summary><div class="full">{full}</div></details></li>'


def _feature_example(text: str, feature: str, n: int = 80) -> str:
    """An example item with what ``feature`` tests first and highlighted (tabular items:
    :func:`genz.report.examples.example_text`; phrases: the words around the match)."""
    shown, pieces = example_text(text, feature)
    return _example(shown, _phrases(feature) + pieces, n)


def _examples(texts: list[str], rows: np.ndarray, cls: str, feature: str = "") -> str:
    if rows.size == 0:
        return '<span class="empty">none</span>'
    lis = "".join(_feature_example(texts[i], feature) for i in rows[:N_EXAMPLES])
    return f'<ul class="ex {cls}">{lis}</ul>'


def _discards(d: RunData) -> str:
    """Candidates that were mined but not kept, each with the reason the history gives."""
    recs = [r for r in d.history if r.get("action") == "discard"]
    if not recs:
        return ""
    lis = "".join(
        f"<li>step {_num(r.get('step'))}: {_e(r.get('feature') or 'no candidate')} — "
        f"{_e(r.get('reason') or 'no reason recorded')}</li>" for r in recs)
    return (f"<details><summary>Discarded candidates ({len(recs)}): mined, then not kept, and why</summary>"
            f'<ul class="discards">{lis}</ul></details>')


def _features_table(d: RunData, out_dir: Path, prefix: str) -> str:
    head = f'<h3 id="{prefix}features">Final features</h3>'
    s = d.summary
    if s is None:
        last = d.final_record()
        if not last or not last.get("features"):
            return head + '<p class="empty">No features yet.</p>'
        eps = last.get("epsilon") or []
        rows = "".join(
            f'<tr><td class="num">{k + 1}</td><td class="feat">{_e(f)}</td>'
            f'<td class="num">{_num(eps[k] if k < len(eps) else None, 3)}</td></tr>'
            for k, f in enumerate(last["features"]))
        return (head + '<p class="note">This run has not written its final summary yet (it is still running or was '
                "stopped): the features and error rates of its latest step are shown; weights, activity and examples "
                "appear once the fit finishes.</p>"
                f'<table><tr><th class="num">#</th><th>feature</th><th class="num">ε</th></tr>{rows}</table>')
    K, D = s.weights.shape
    names = s.target_names or ([d.config.get("target_name", "target")] if D == 1 else [f"y{j}" for j in range(D)])
    order = np.argsort(-np.linalg.norm(s.weights, axis=1), kind="stable")
    fig = ""
    if K:
        wname = f"{prefix}weights.png"
        figures.weights_figure([s.features[k] for k in order], s.weights[order], names, out_dir / wname)
        fig = _img(wname, "feature weights",
                   "Weight of each final feature " + ("on the target." if D == 1 else
                                                       "per target dimension (red positive, blue negative)."))
    zhat = s.Q > 0.5
    wcols = D if D <= 3 else 0
    hdr = ('<tr><th class="num">#</th><th>feature</th>'
           + "".join(f'<th class="num">w · {_e(_trunc(n, 14))}</th>' for n in names[:wcols])
           + ('<th class="num">‖w‖</th>' if not wcols else "")
           + '<th class="num">ε</th><th class="num">FM says yes</th><th class="num">posterior active</th>'
             '<th class="num">overridden</th><th>examples: FM yes</th><th>examples: FM no</th></tr>')
    body = []
    for rank, k in enumerate(order):
        w = s.weights[k]
        wcells = "".join(f'<td class="num {"pos" if v >= 0 else "neg"}">{_num(v, 3)}</td>' for v in w[:wcols])
        if not wcols:
            wcells = f'<td class="num">{_num(float(np.linalg.norm(w)), 3)}</td>'
        b = s.B[:, k]
        yes_share, act_share = float(b.mean()) if b.size else 0.0, float(zhat[:, k].mean()) if b.size else 0.0
        over = float((zhat[:, k] != b).mean()) if b.size else 0.0
        # examples where the FM and the posterior agree, most confident first
        agree_yes = np.flatnonzero(b & zhat[:, k])
        agree_yes = agree_yes[np.argsort(-s.Q[agree_yes, k], kind="stable")]
        agree_no = np.flatnonzero(~b & ~zhat[:, k])
        agree_no = agree_no[np.argsort(s.Q[agree_no, k], kind="stable")]
        if agree_yes.size == 0:
            agree_yes = np.flatnonzero(b)
        if agree_no.size == 0:
            agree_no = np.flatnonzero(~b)
        body.append(
            f'<tr><td class="num">{rank + 1}</td><td class="feat">{_e(s.features[k])}</td>{wcells}'
            f'<td class="num">{_num(float(s.epsilon[k]), 3)}</td>'
            f'<td class="num"><span class="bar" style="width:{yes_share * 60:.0f}px"></span>{yes_share:.1%}</td>'
            f'<td class="num">{act_share:.1%}</td><td class="num">{over:.1%}</td>'
            f"<td>{_examples(s.item_texts, agree_yes, 'yes', s.features[k])}</td>"
            f"<td>{_examples(s.item_texts, agree_no, 'no', s.features[k])}</td></tr>"
        )
    note = ('<p class="note">Sorted by the size of the weight. ε is the learned probability that the foundation '
            "model's judgment is wrong (eq. 14). <i>FM says yes</i>: share of training items the foundation model "
            "judged to have the feature; <i>posterior active</i>: share with q > ½; <i>overridden</i>: share where "
            "the posterior's mode contradicts the judgment.</p>")
    return head + note + f"<table>{hdr}{''.join(body)}</table>" + fig


def _overrides(d: RunData, prefix: str) -> str:
    head = f'<h3 id="{prefix}overrides">Where the posterior overrides the foundation model</h3>'
    s = d.summary
    if s is None or s.Q.size == 0:
        return head + '<p class="empty">Available once the run has written its final summary.</p>'
    gap = np.abs(s.Q - s.B.astype(float))
    flat = np.argsort(-gap, axis=None, kind="stable")[:N_OVERRIDES]
    rows = []
    D = s.Y.shape[1] if s.Y is not None else 0
    for f in flat:
        n, k = np.unravel_index(int(f), gap.shape)
        if gap[n, k] < 0.5:
            break
        yv = ""
        if s.Y is not None and D == 1:
            yv = f'<td class="num">{_num(float(s.Y[n, 0]), 4)}</td>'
        said = "yes" if s.B[n, k] else "no"
        rows.append(
            f'<tr><td>{_e(s.item_ids[n])}</td><td><ul class="ex">{_feature_example(s.item_texts[n], s.features[k], 110)}</ul></td>'
            f'<td class="feat">{_e(s.features[k])}</td><td class="{"pos" if said == "yes" else "neg"}">{said}</td>'
            f'<td class="num">{float(s.Q[n, k]):.3f}</td>{yv}</tr>'
        )
    note = ("<p class=\"note\">Training items where the target's evidence most strongly contradicts the foundation "
            "model (largest |q − b|). Many overrides on one feature mean its description does not quite capture what "
            "the model uses: the signal for refining that feature (paper Section 4).</p>")
    if not rows:
        return head + note + '<p class="empty">No posterior contradicts the foundation model (all |q − b| &lt; ½).</p>'
    hdr = ("<tr><th>item</th><th>text</th><th>feature</th><th>FM said</th><th class=\"num\">posterior q</th>"
           + ('<th class="num">target</th>' if D == 1 else "") + "</tr>")
    return head + note + f"<table>{hdr}{''.join(rows)}</table>"


def _results(d: RunData, out_dir: Path, prefix: str) -> str:
    res = d.results
    if not res:
        return ""
    head = f'<h3 id="{prefix}experiment">Experiment: comparison with peers and the zero-shot baseline</h3>'
    hib = bool(res.get("higher_is_better"))
    rows = sorted(res["rows"], key=lambda r: r["mean"], reverse=hib)
    name = f"{prefix}results.png"
    figures.results_figure(res, out_dir / name)
    body = []
    for r in rows:
        cost = r.get("cost_usd")
        body.append(
            f'<tr><td>{_e(r["method"])}</td><td>{_e(r.get("kind", ""))}</td>'
            f'<td class="num">{_num(r["mean"])}</td><td class="num">{_num(r.get("std"))}</td>'
            f'<td class="num">{_num(r.get("n"))}</td><td class="num">{_num(r.get("n_features"))}</td>'
            f'<td class="num">{_num(r.get("fm_calls"))}</td><td class="num">{"–" if cost is None else f"${float(cost):.2f}"}</td>'
            f'<td class="num">{_num(r.get("seconds"), 3)}</td><td>{_e(r.get("note", ""))}</td></tr>'
        )
    better = "higher" if hib else "lower"
    hdr = (f'<tr><th>method</th><th>kind</th><th class="num">{_e(res["metric"])} mean</th><th class="num">std</th>'
           '<th class="num">runs</th><th class="num">features</th><th class="num">FM calls</th><th class="num">cost</th>'
           '<th class="num">seconds</th><th>note</th></tr>')
    return (head + f'<p class="note">{_e(res["metric"])}, {better} is better; sorted by the mean; no winner is marked '
            "(compare by paired per-seed differences with intervals).</p>"
            + f"<table>{hdr}{''.join(body)}</table>" + _img(name, "experiment comparison", "Mean ± standard deviation over runs."))


def run_section(d: RunData, out_dir: Path, prefix: str, idx: int) -> str:
    status = _e(d.info.get("status", "?"))
    return (
        f'<section class="run" id="{prefix}run"><h2>Run {_e(d.name)} <span class="badge {status}">{status}</span></h2>'
        f'<p class="note">{_e(str(d.path))}</p>'
        + _cards(d) + _config_block(d) + _curves(d, out_dir, prefix) + _timeline(d, out_dir, prefix, idx) + _discards(d)
        + _features_table(d, out_dir, prefix) + evidence_section(d, prefix) + judgments_section(d, prefix)
        + _overrides(d, prefix)
        + _results(d, out_dir, prefix)
        + "</section>"
    )


def compare_section(runs: list[RunData], out_dir: Path) -> str:
    name = "compare.png"
    figures.compare_figure(runs, out_dir / name)
    metrics = sorted({r.metric for r in runs if r.metric})
    rows = []
    for i, d in enumerate(runs):
        last = d.final_record() or {}
        best, bstep = d.best("test")
        fm = d.fm_total()
        m = d.metric
        rows.append(
            f'<tr><td><a href="#r{i}-run">{_e(d.name)}</a></td><td>{_e(d.info.get("status", "?"))}</td>'
            f'<td>{_e(m or "–")}</td><td class="num">{_num(len(d.history))}</td>'
            f'<td class="num">{_num(last.get("n_features"))}</td>'
            f'<td class="num">{_num((last.get("train") or {}).get(m) if m else None)}</td>'
            f'<td class="num">{_num((last.get("test") or {}).get(m) if m else None)}</td>'
            f'<td class="num">{_num(best)}{"" if bstep is None else f" (step {bstep})"}</td>'
            f'<td class="num">{_num(fm.get("total_calls"))}</td><td class="num">${float(fm.get("cost_usd") or 0):.4f}</td>'
            f'<td class="num">{d.seconds():.1f}</td></tr>'
        )
    hdr = ('<tr><th>run</th><th>status</th><th>metric</th><th class="num">steps</th><th class="num">features</th>'
           '<th class="num">final train</th><th class="num">final test</th><th class="num">best test</th>'
           '<th class="num">FM calls</th><th class="num">cost</th><th class="num">seconds</th></tr>')
    warn = ("" if len(metrics) <= 1 else
            f'<p class="note">These runs record different metrics ({_e(", ".join(metrics))}); the figure shows the most common.</p>')
    return ('<section class="compare" id="compare"><h2>Runs compared</h2>' + warn
            + f"<table>{hdr}{''.join(rows)}</table>"
            + _img(name, "runs compared", "Each run's metric per step: solid test, dashed train.") + "</section>")


def render_page(runs: list[RunData], out_dir: Path) -> str:
    multi = len(runs) > 1
    sections = []
    toc = []
    if multi:
        sections.append(compare_section(runs, out_dir))
        toc.append('<a href="#compare">Compare</a>')
    for i, d in enumerate(runs):
        prefix = f"r{i}-" if multi else ""
        sections.append(run_section(d, out_dir, prefix, i))
        if multi:
            toc.append(f'<a href="#{prefix}run">{_e(_trunc(d.name, 30))}</a>')
        else:
            toc += [f'<a href="#{prefix}curves">Learning curves</a>', f'<a href="#{prefix}timeline">Feature timeline</a>',
                    f'<a href="#{prefix}features">Final features</a>', f'<a href="#{prefix}evidence">Evidence</a>',
                    f'<a href="#{prefix}judgments">Judgments</a>', f'<a href="#{prefix}overrides">Overrides</a>']
            if d.results:
                toc.append(f'<a href="#{prefix}experiment">Experiment</a>')
    title = "GenZ report — " + (", ".join(d.name for d in runs) if len(runs) <= 3 else f"{len(runs)} runs")
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_asset('report.css')}</style></head><body>"
        f'<header class="top"><h1>{_e(title)}</h1><p>What GenZ discovered: learning curves, the features it added '
        f"and removed, what they mean and where the data disagreed with the foundation model. Generated {_e(when)}.</p></header>"
        f'<nav class="toc">{"".join(toc)}</nav><main>{"".join(sections)}</main>'
        "<footer>genz run report · figures are PNG files beside this page</footer>"
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )
