"""The report's "Judgments" section: per feature, how often the foundation model's judgment is
wrong (ε with its 95% interval) and which judgments the posterior overruled, with examples —
so that a user with a real LLM sees where it was wrong (docs/noise-model.md).

Everything is computed from the run summary (the training items' judgments ``B``, posteriors
``Q`` and ε); item text is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

from ..error_rates import POOL, eps_interval, overruled

__all__ = ["judgments_section", "judgment_rows", "N_JUDGMENT_EXAMPLES"]

N_JUDGMENT_EXAMPLES = 3


def _e(x: Any) -> str:
    return escape(str(x), quote=True)


def _find(config: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in a nested run configuration."""
    if isinstance(config, dict):
        if key in config:
            return config[key]
        for v in config.values():
            got = _find(v, key)
            if got is not None:
                return got
    return None


def judgment_rows(features: list[str], epsilon: np.ndarray, Q: np.ndarray, B: np.ndarray,
                  eps_min: float = 1e-3, pool: float = POOL) -> list[dict]:
    """One dict per feature: ``epsilon``, ``ci_low``, ``ci_high`` (Louis, conditional on the
    effects; the lower end 0 at the floor), ``n``, ``said_yes``, ``overruled_yes`` (judged yes,
    posterior says no), ``overruled_no``, and the rows of the overruled items, most confident
    first (``examples_yes``, ``examples_no``)."""
    B = np.asarray(B, dtype=float)
    Q = np.asarray(Q, dtype=float)
    eps = np.asarray(epsilon, dtype=float)
    if not len(features):
        return []
    e = np.clip(eps, eps_min, 0.5)
    pooled = float(1.0 / (1.0 + np.exp(-np.mean(np.log(e) - np.log1p(-e)))))
    lo, hi = eps_interval(Q, B, eps, eps_min=eps_min, pool=pool, pooled=pooled)
    over = overruled(Q, B)
    yes = B > 0.5
    out = []
    for k, f in enumerate(features):
        at_floor = eps[k] <= eps_min * (1 + 1e-6)
        oy = np.flatnonzero(over[:, k] & yes[:, k])
        on = np.flatnonzero(over[:, k] & ~yes[:, k])
        oy = oy[np.argsort(Q[oy, k], kind="stable")]  # judged yes, posterior surest it is not
        on = on[np.argsort(-Q[on, k], kind="stable")]
        out.append({
            "feature": f, "epsilon": float(eps[k]), "ci_low": 0.0 if at_floor else float(lo[k]),
            "ci_high": float(hi[k]), "at_floor": bool(at_floor), "n": int(B.shape[0]),
            "said_yes": int(yes[:, k].sum()), "overruled_yes": int(oy.size), "overruled_no": int(on.size),
            "examples_yes": oy.tolist(), "examples_no": on.tolist(),
        })
    return out


def _example_list(rows: list[int], k: int, s: Any, n: int = N_JUDGMENT_EXAMPLES) -> str:
    if not rows:
        return '<span class="empty">none</span>'
    D = s.Y.shape[1] if s.Y is not None else 0
    lis = []
    for i in rows[:n]:
        text = " ".join(str(s.item_texts[i]).split())
        text = text if len(text) <= 90 else text[:89] + "…"
        y = f" · target {float(s.Y[i, 0]):.4g}" if D == 1 else ""
        lis.append(f'<li><b>{_e(s.item_ids[i])}</b> (q = {float(s.Q[i, k]):.2f}{y}): {_e(text)}</li>')
    more = f'<li class="note">… and {len(rows) - n} more</li>' if len(rows) > n else ""
    return f'<ul class="ex">{"".join(lis)}{more}</ul>'


def judgments_section(d: Any, prefix: str) -> str:
    """The section for run ``d`` (a :class:`genz.report.data.RunData`)."""
    head = f'<h3 id="{prefix}judgments">Judgments: how often the foundation model is wrong, and where</h3>'
    s = d.summary
    if s is None or not len(s.features):
        return head + '<p class="empty">Available once the run has written its final summary.</p>'
    eps_min = _find(d.config, "eps_min")
    pool = _find(d.config, "eps_pool")
    rows = judgment_rows(list(s.features), s.epsilon, s.Q, s.B,
                         eps_min=float(eps_min) if eps_min is not None else 1e-3,
                         pool=float(pool) if pool is not None else POOL)
    body = []
    for k, r in enumerate(rows):
        n_over = r["overruled_yes"] + r["overruled_no"]
        eps_cell = ("at floor (no wrong judgment detected)" if r["at_floor"] else
                    f'{r["epsilon"]:.3f} <span class="ci">[{r["ci_low"]:.3f}, {r["ci_high"]:.3f}]</span>')
        body.append(
            f'<tr><td class="feat">{_e(r["feature"])}</td><td class="num">{eps_cell}</td>'
            f'<td class="num">{r["said_yes"]:,} of {r["n"]:,}</td>'
            f'<td class="num">{n_over:,} ({n_over / max(r["n"], 1):.1%})</td>'
            f'<td>{_example_list(r["examples_yes"], k, s)}</td><td>{_example_list(r["examples_no"], k, s)}</td></tr>')
    note = ('<p class="note"><i>ε</i>: the share of this feature\'s judgments that the model infers to be wrong '
            "(eq. 14), with a 95% interval (observed information, Louis' formula, given the effects: too narrow where "
            "a feature's effect is weak and ε and the weight trade off). <i>Overruled</i>: training items whose "
            "posterior (q, the probability that the item has the feature, given the judgment and the target) contradicts "
            "the judgment; examples are the ones the posterior is surest about. An overruled judgment is either the "
            "foundation model's mistake or a sign that the descriptor does not quite say what the target responds to: "
            "read the examples. A deterministic engine shows ε at its floor and nothing overruled.</p>")
    hdr = ('<tr><th>feature</th><th class="num">ε [95%]</th><th class="num">judged yes</th>'
           '<th class="num">overruled</th><th>judged yes, posterior says no</th><th>judged no, posterior says yes</th></tr>')
    return head + note + f'<table class="judgments">{hdr}{"".join(body)}</table>'
