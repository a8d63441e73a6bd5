"""The fit's checks against cheaper routes, in words (README: the zero-shot check, the numbers
check): the line ``genz fit``, ``genz show`` and the report print, and the warning a Python
``fit`` issues. The checks themselves are made by :mod:`genz.discovery_run` and
:mod:`genz.selection`; this module only words their records."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import CheaperRouteWarning
from .selection import TEXT_UNION_REL, TEXT_UNION_SE, text_route_gains, union_share

__all__ = ["structure_line", "zero_shot_line", "numbers_line", "tree_line", "warn_cheaper_routes"]


def structure_line(sc: Mapping[str, Any]) -> str:
    """One line on the fit's structure check (``GenZRegressor.structure_check_``): phase 1's
    structure against no feature at all on the untouched rows, and what the predictor kept."""
    line = (f"structure check on {sc['rows']} untouched rows: the {sc['tested']} features tested have loss "
            f"{sc['genz_loss']:.4g} against {sc['empty_loss']:.4g} with no feature (gain {sc['gain']:+.3g} ± {sc['se']:.2g})")
    if not sc["fell_back"]:
        return line + ": they predict rows no choice touched"
    return (line + ": they predict rows no choice touched no better than nothing (overfitted), so the predictor keeps "
            f"only the findings and pinned features ({len(sc['kept'])}) and discovery did not go on over every row")


def tree_line(tr: Mapping[str, Any]) -> str:
    """One line on the fit's tree route (``GenZRegressor.tree_route_``, ``Selection(tree_route=True)``):
    the predictor blended with gradient-boosted trees on the table's columns (with
    ``Selection(blend_words=True)`` and texts, also with the words' ridge), against the predictor
    alone, on the untouched rows, and whether ``predict`` blends them; when the items have texts and
    the words were not used, what the blend with them would have done."""
    from .tree_route import TREE_GAIN_REL, TREE_GAIN_SE

    words = "words_share" in tr
    what = ("gradient-boosted trees on the table's columns and a ridge on the texts' words (shares "
            f"{tr['alpha']:.2f} and {tr['words_share']:.2f})" if words else
            f"gradient-boosted trees on the table's columns (trees' share {tr['alpha']:.2f})")
    line = (f"tree route on {tr['rows']} untouched rows: the predictor blended with {what} has loss "
            f"{tr['union_loss']:.4g} against {tr['loss']:.4g} alone (gain {tr['gain']:+.3g} ± {tr['se']:.2g})")
    if tr["route"]:
        line += (": taken, predict blends the predictor with " + ("them" if words else "the trees")
                 + " refitted on every training row")
    else:
        line += (f": not taken (it needs a gain above {TREE_GAIN_SE:g} standard error(s) and above "
                 f"{TREE_GAIN_REL:.0%} of the loss)")
    w = tr.get("words")
    if w and not w.get("used"):
        line += (f"; with a ridge on the texts' words too (share {w['share']:.2f}) the loss would be "
                 f"{w['union_loss']:.4g} (gain {w['gain']:+.3g} ± {w['se']:.2g}), "
                 + ("enough for the rule" if w["passes"] else "not enough for the rule")
                 + ": not used (Selection(blend_words=True), genz fit --blend-words, uses it)")
    return line


def zero_shot_line(zs: Mapping[str, Any]) -> str:
    """One line on the fit's zero-shot check (``GenZRegressor.baseline_``): the foundation model's
    proposals, written without the target, against the discovered structure on the untouched
    rows, and whether the predictor took them."""
    if "union_loss" not in zs:  # a run saved before the check moved to the untouched rows
        return f"zero-shot check: {zs.get('proposals')} proposals, verdict {zs.get('better')!r}"
    say = {"genz": "predict worse than", "tie": "predict as well as", "zero-shot": "would predict BETTER than"}
    line = (f"zero-shot check on {zs['rows']} untouched rows: {zs['proposals']} features proposed without looking "
            f"at the target {say[zs['better']]} the discovered ones (loss {zs['zero_shot_loss']:.4g} vs "
            f"{zs['genz_loss']:.4g}); beside them, {zs['union_loss']:.4g}")
    alone = _alone_better(zs)
    if zs["added"]:
        line += ": the predictor uses both (origin 'zero-shot' in the feature table; findings unchanged)"
    else:
        line += f": {zs['note']}" if zs.get("note") else ": the predictor does not use them"
    if alone:
        line += (f". Alone the proposals predicted these rows better still (by {zs['alone_gain']:.3g} ± "
                 f"{zs['alone_se']:.2g}): the discovered features overfit here; for predictions alone, compare with "
                 "a linear model on the proposals (their names: baseline_['proposal_names'])")
    return line


def _alone_better(zs: Mapping[str, Any]) -> bool:
    """Whether the zero-shot proposals alone predicted the untouched rows better than the structure
    and the proposals side by side, by more than one standard error (False for older records)."""
    return zs.get("alone_gain", 0.0) > zs.get("alone_se", np.inf)


def warn_cheaper_routes(baseline: Mapping[str, Any] | None, numbers: Mapping[str, Any] | None,
                        text: Mapping[str, Any] | None = None) -> None:
    """A :class:`genz.errors.CheaperRouteWarning` per check that found a cheaper route predicting
    the untouched rows better by more than one standard error than what the predictor uses: the
    proposals (not taken, or alone better than beside the discovered features), a ridge on the
    numeric columns (when the predictor did not take the numbers route) or a ridge on the texts'
    words (:func:`text_line`). ``genz fit`` prints the lines instead."""
    if baseline and "union_loss" in baseline and (
            (baseline.get("better") == "zero-shot" and not baseline.get("added"))
            or _alone_better(baseline)):
        warnings.warn(zero_shot_line(baseline), CheaperRouteWarning, stacklevel=4)
    if numbers and not numbers.get("route") and (
            numbers.get("better") == "ridge" or (numbers.get("table") or {}).get("better") == "ridge"):
        warnings.warn(numbers_line(numbers), CheaperRouteWarning, stacklevel=4)
    if text and _text_wins(text):
        warnings.warn(text_line(text), CheaperRouteWarning, stacklevel=4)


def _text_wins(tc: Mapping[str, Any]) -> bool:
    """The text check's ridge beat the discovered features by more than one standard error and
    also has a smaller loss than what the predictor uses (the numbers route's ridge or the
    proposals beside the features, when taken)."""
    return tc["better"] == "ridge" and tc["ridge_loss"] < tc.get("predictor_loss", tc["genz_loss"])


def text_line(tc: Mapping[str, Any]) -> str:
    """One line on the fit's text check (``GenZRegressor.text_check_``,
    :func:`genz.selection.text_check`): a ridge on the TF-IDF of the texts' words against the
    discovered structure on the untouched rows; with ``Selection(text_route=True)``, that ridge's
    prediction beside the structure, and whether the predictor took it."""
    line = (f"text check on {tc['rows']} untouched rows: a ridge on the texts' words (TF-IDF of "
            f"{tc['terms']} words and word pairs), fitted on the same rows as the features, has loss "
            f"{tc['ridge_loss']:.4g} vs {tc['genz_loss']:.4g} for the discovered features (difference "
            f"{tc['diff']:+.3g} ± {tc['se']:.2g})")
    if tc["better"] != "ridge":
        line += _short_of_a_win(tc["better"])
    elif _text_wins(tc):
        line += (": the ridge predicted these rows BETTER (by more than one standard error); for predictions "
                 "alone, compare with a ridge on the texts' TF-IDF (the findings stand as they are)")
    elif "predictor_loss" in tc:
        line += (f": the ridge predicted these rows better (by more than one standard error), but not better than "
                 f"what the predictor uses, the {tc['predictor']} (loss {tc['predictor_loss']:.4g})")
    if "union_loss" in tc:  # Selection(text_route=True): the ridge's prediction beside phase 1's structure
        line += (f". Its prediction beside the discovered features has loss {tc['union_loss']:.4g} (gain "
                 f"{tc['union_gain']:+.3g} ± {tc['union_se']:.2g})" + (
                     ", so the predictor took the text route: that prediction as a side input beside the features "
                     f"(numbers_route_; a gain above {float(tc.get('route_se', 2.0)):g} standard errors, genz.selection.TEXT_UNION_SE)"
                     if tc.get("route") else ": not enough for the text route" + _text_short(tc)))
    return line


def _text_short(tc: Mapping[str, Any]) -> str:
    """Why a union gain above the standard errors still did not take the text route: under
    :data:`genz.selection.TEXT_UNION_REL` of the structure's loss; else nothing to add."""
    gain, se = tc["union_gain"], tc["union_se"]
    if gain > TEXT_UNION_SE * se and not text_route_gains(gain, se, tc["genz_loss"]):
        return (f" (above {TEXT_UNION_SE:g} standard errors, but {union_share(tc):.2%} of the loss, not more than "
                f"{TEXT_UNION_REL:.0%}: genz.selection.TEXT_UNION_REL)")
    return ""


def numbers_line(nc: Mapping[str, Any]) -> str:
    """One line on the fit's numbers check (``GenZRegressor.numbers_check_``): a ridge on the
    table's numeric columns against the discovered structure on the untouched rows."""
    cols = nc["columns"]
    named = ", ".join(cols[:4]) + (f" and {len(cols) - 4} more" if len(cols) > 4 else "")
    line = (f"numbers check on {nc['rows']} untouched rows: a ridge on the {len(cols)} numeric column(s) ({named}), "
            f"fitted on the same rows as the features, has loss {nc['ridge_loss']:.4g} vs {nc['genz_loss']:.4g} for "
            f"the discovered features (difference {nc['diff']:+.3g} ± {nc['se']:.2g})")
    table = nc.get("table")
    via_table = nc.get("route_inputs") == "table"  # the route took the table's ridge (Selection.route_inputs)
    taken = bool(nc.get("route")) and not via_table  # the route took this ridge (Selection.numbers_route, route_se)
    route = "the predictor took the numbers route{}: those columns as side inputs beside the findings (numbers_route_)"
    if nc["better"] == "ridge":
        line += (f": the plain ridge predicted these rows {'better' if taken or via_table else 'BETTER'} (by more "
                 "than one standard error)" + (", so " + route.format("") if taken else "" if via_table else
                                               "; for predictions alone, compare with a linear model on those "
                                               "columns (the findings stand as they are)"))
    else:
        line += _short_of_a_win(nc["better"])
        if taken:  # short of a clear win (Selection.route_se below 1)
            line += ", and " + route.format(f" ({_route_rule(nc)}, route_se)")
    return line if table is None else line + _table_sentence(table, nc, via_table)


def _table_sentence(table: Mapping[str, Any], nc: Mapping[str, Any], via_table: bool) -> str:
    """The numbers check's line on its table ridge (``numbers_check_["table"]``), and whether the
    route took it (``via_table``)."""
    logged = f", the log of {', '.join(table['log'])}" if table["log"] else ""
    cats = [(k, len(v)) for k, v in table["levels"].items()]
    onehot = ("; one-hot " + ", ".join(f"{k} ({n} level{'s' if n != 1 else ''})" for k, n in cats[:4])
              + (f" and {len(cats) - 4} more" if len(cats) > 4 else "")) if cats else ""
    line = (f". A ridge on the table as a practitioner writes it (the numbers{logged}{onehot}) has loss "
            f"{table['ridge_loss']:.4g} (difference {table['diff']:+.3g} ± {table['se']:.2g})")
    route = "the predictor took the numbers route{} with that ridge's columns as side inputs (numbers_route_)"
    if table["better"] == "ridge":
        return line + (": it predicted these rows better (by more than one standard error), so " + route.format("")
                       if via_table else ": it predicted these rows BETTER (by more than one standard error); for "
                       "predictions alone, compare with that ridge (the defaults, Selection(numbers_route=True, "
                       "route_inputs='table'), take it when any side inputs come from the table's columns)")
    line += _short_of_a_win(table["better"])
    return line + (", and " + route.format(f" ({_route_rule(nc)}, route_se)") if via_table else "")


def _short_of_a_win(better: str) -> str:
    """A ridge's verdict in the numbers check's line when it did not win by one standard error."""
    return ": the features predicted better" if better == "genz" else ": a tie (within one standard error)"


def _route_rule(nc: Mapping[str, Any]) -> str:
    """The numbers route's rule in words (Selection.route_se), for a route taken short of a clear win."""
    r = float(nc.get("route_se", 1.0))
    return ("whenever the ridge is ahead" if r == 0 else f"the ridge ahead by more than {r:.3g} standard error(s)"
            if r > 0 else f"the ridge unless the features are ahead by more than {-r:.3g} standard error(s)")
