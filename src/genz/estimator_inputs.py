"""What :class:`genz.GenZRegressor` does with its inputs before and after a fit: constructor
arguments checked like the command line's options, tables turned into items with the columns
remembered, side inputs taken from columns, and the columns a fitted model needs checked at
prediction time.

The columns of a fit (:func:`fit_columns`) are kept in ``est.inputs_``::

    {"columns": [...every column of X...], "types": {column: type}, "text": [...], "id": str | None,
     "target": [...columns left out as the target...], "side_inputs": [...] | None}

so that ``predict``, ``predict_interval``, ``transform``, ``score`` and a saved and loaded
model read a new table the way the training table was read (the same text and id columns, the
same type per column), and refuse a table that lacks a column the kept features test
(:func:`check_columns`; ``allow_missing=True`` predicts with it missing).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import GenZInputError
from .items import Item, check_side_inputs, numeric_attributes, side_inputs_from_attributes

__all__ = ["validate_params", "check_items", "is_table", "table_items", "fit_columns", "remember_inputs", "new_items",
           "route_matrix", "route_extra_columns", "route_side_inputs",
           "load_inputs", "side_input_columns", "used_columns",
           "check_columns", "column_names", "check_sample_weight", "check_target_values", "inputs_from_saved"]


# ------------------------------------------------------------------------------------------------
# constructor arguments: the command line's rules
# ------------------------------------------------------------------------------------------------
def _whole(name: str, value: Any, low: int, cli: str | None, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GenZInputError(f"{name} must be a whole number, not {value!r} ({type(value).__name__})"
                             + (f"; on the command line: {cli}" if cli else ""))
    if value < low:
        raise GenZInputError(f"{name} must be at least {low}, not {value}"
                             + (" (a fit with no cycles would discover nothing)" if name == "cycles" else ""))


def _real(name: str, value: Any, low: float, high: float | None, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise GenZInputError(f"{name} must be a number, not {value!r} ({type(value).__name__})")
    if (value <= low if low_open else value < low) or (high is not None and value >= high):
        span = f"{'(' if low_open else '['}{low}, {high if high is not None else '∞'})"
        raise GenZInputError(f"{name} must be in {span}, not {value}")


def validate_params(est: Any) -> None:
    """The constructor arguments, checked as ``genz fit`` checks its options (``cycles=0`` and
    ``cycles="3"`` are refused with one line saying what is expected)."""
    pinned = bool(getattr(getattr(est, "hypotheses", None), "pin", None))
    # no discovery at all only makes sense when pinned features are given to fit
    _whole("cycles", est.cycles, 0 if pinned else 1, "--cycles N (N ≥ 1; 0 only with pinned features)")
    _whole("add_per_cycle", est.add_per_cycle, 1, "--add N (N ≥ 1)")
    _whole("remove_per_cycle", est.remove_per_cycle, 0, "--remove N (N ≥ 0)")
    _whole("add_only", est.add_only, 1, "--n-features N", none_ok=True)
    _whole("max_iter", est.max_iter, 1, None)
    if not isinstance(est.verbose, bool):
        _whole("verbose", est.verbose, 0, None)
    _real("min_activity", est.min_activity, 0.0, 0.5)
    _real("tol", est.tol, 0.0, None, low_open=True)
    if est.algorithm not in ("targeted", "simple"):
        raise GenZInputError(f"algorithm must be 'targeted' or 'simple', not {est.algorithm!r}")
    rs = est.random_state
    if rs is not None and not isinstance(rs, np.random.RandomState) and (
            isinstance(rs, bool) or not isinstance(rs, numbers.Integral)):
        raise GenZInputError(f"random_state must be None, a whole number or a numpy RandomState, not {rs!r}")
    for name in ("text", "id"):
        v = getattr(est, name, None)
        if v is not None and not isinstance(v, str) and not (
                name == "text" and isinstance(v, (list, tuple)) and all(isinstance(c, str) for c in v)):
            raise GenZInputError(f"{name} must be a column name{' or a list of them' if name == 'text' else ''}, "
                                 f"not {v!r}")
    side = getattr(est, "side_inputs", None)
    if side is not None and side != "numeric" and not (
            isinstance(side, (list, tuple)) and all(isinstance(c, str) for c in side)):
        raise GenZInputError(f"side_inputs must be None, a list of column names or 'numeric', not {side!r}")


def check_sample_weight(sample_weight: Any, n: int) -> None:
    """Sample weights: None, or equal weights (the same fit); anything else is refused."""
    if sample_weight is None:
        return
    try:
        w = np.asarray(sample_weight, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise GenZInputError("sample_weight: not an array of numbers") from None
    if w.size != n:
        raise GenZInputError(f"sample_weight: {w.size} weights for {n} items")
    if np.all(np.isfinite(w)) and np.all(w > 0) and np.ptp(w) <= 1e-12 * np.max(w):
        return  # equal weights: the unweighted fit
    raise GenZInputError("sample_weight: GenZRegressor weighs every item equally (the EM, the mining and the "
                         "cross-validated selection have no weights); leave sample_weight out, or repeat rows in "
                         "proportion to their weights")


def check_target_values(Y: np.ndarray, names: Sequence[str] | None = None, what: str = "targets") -> None:
    """Targets (or side inputs) the arithmetic can hold: squares of deviations must stay
    finite (a target of 1e308 overflows); the message says to rescale."""
    if Y.size == 0:
        return
    big = np.max(np.abs(Y), axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.var(Y, axis=0)
    bad = np.flatnonzero((big > 1e100) | ~np.isfinite(spread))
    if bad.size:
        j = int(bad[0])
        name = repr(names[j]) if names and j < len(names) else ("the target" if what == "targets" else f"column {j}")
        raise GenZInputError(f"{what}: {name} has values as large as {big[j]:.3g}, beyond what the model's "
                             "arithmetic can square; rescale it (divide by a power of ten, or take the log) and fit "
                             "again")


# ------------------------------------------------------------------------------------------------
# tables in, columns remembered
# ------------------------------------------------------------------------------------------------
def is_table(X: Any) -> bool:
    """A pandas DataFrame, a dict of columns or a list of flat records (not items)."""
    return hasattr(X, "columns") or isinstance(X, dict) or (
        isinstance(X, list) and bool(X) and all(isinstance(r, dict) for r in X))


def column_names(X: Any) -> list[str]:
    """The column names of a table."""
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    if isinstance(X, dict):
        return [str(c) for c in X]
    names: dict[str, None] = {}
    for r in X:
        for k in r:
            names.setdefault(str(k), None)
    return list(names)


def table_items(X: Any, *, text: Any = None, id: Any = None, target: Any = None, types: Mapping | None = None,
                exclude: Sequence[str] = ()) -> tuple[list[Item], dict]:
    """A table as items and what :func:`fit_columns` remembers of it."""
    from .tables import frame_items

    items, info = frame_items(X, id=id, text=text, target=target, types=types, exclude=exclude)
    info["columns"] = column_names(X)
    return items, info


def check_items(items: Any, name: str = "items", **table: Any) -> list[Item]:
    """``items`` as a checked list of :class:`Item`; a table (a pandas DataFrame, a dict of
    columns, a list of flat records) goes through :func:`genz.items_from_frame` with ``table``'s
    keywords (``text``, ``id``, ``target``)."""
    if is_table(items):  # a table: genz.tables
        return table_items(items, **{k: v for k, v in table.items() if v is not None})[0]
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise GenZInputError(f"{name} must be a sequence of genz.Item, got {type(items).__name__}")
    items = list(items)
    if not items:
        raise GenZInputError(f"{name}: no items")
    for pos, it in enumerate(items):
        if not isinstance(it, Item):
            raise GenZInputError(f"{name}[{pos}] is a {type(it).__name__}, not a genz.Item (see genz.items_from_texts, or "
                                 "pass a pandas DataFrame: genz.items_from_frame)")
    seen: dict[str, int] = {}
    for pos, it in enumerate(items):
        if it.id in seen:
            raise GenZInputError(f"{name}: duplicate id {it.id!r} (positions {seen[it.id]} and {pos})")
        seen[it.id] = pos
    return items


def fit_columns(info: dict | None, side: list[str] | None) -> dict | None:
    """``est.inputs_`` (see the module docstring)."""
    if info is None:
        return None if side is None else {"columns": None, "types": None, "text": [], "id": None, "target": [],
                                          "side_inputs": list(side)}
    return {"columns": list(info["columns"]), "types": dict(info["types"]), "text": list(info["text"]),
            "id": info["id"], "target": list(info.get("target") or []), "side_inputs": None if side is None
            else list(side)}


def side_input_columns(spec: Any, items: Sequence[Item], types: Mapping[str, str] | None = None) -> list[str] | None:
    """The side-input columns: ``spec`` None (none), a list of names, or ``"numeric"``: every
    numeric attribute with a value for every item."""
    if spec is None:
        return None
    if spec == "numeric":
        cols = numeric_attributes(items, [c for c, k in types.items() if k in ("integer", "number")] if types else None)
        if not cols:
            raise GenZInputError("side_inputs='numeric': no numeric column has a value for every item; name the "
                                 "side inputs, or leave side_inputs out")
        return cols
    return [str(c) for c in spec]


def side_matrix(items: Sequence[Item], cols: Sequence[str] | None) -> np.ndarray | None:
    return None if not cols else side_inputs_from_attributes(items, list(cols))


# ------------------------------------------------------------------------------------------------
# prediction: the columns the kept features need
# ------------------------------------------------------------------------------------------------
_QUOTED = re.compile(r"""'([^'\\]*)'|attribute ("(?:[^"\\]|\\.)*")""")


def used_columns(features: Sequence[str], inputs: Mapping[str, Any]) -> dict[str, str]:
    """``{column: a feature that needs it}`` for a model fitted on a table: the attributes an
    offline-engine descriptor names (and the text columns for a phrase or "the number"); every
    column for a descriptor the engine cannot read (an LLM judges the whole item), and the
    side inputs."""
    types = inputs.get("types") or {}
    texts = list(inputs.get("text") or [])
    known = set(types) | set(texts)
    out: dict[str, str] = {}
    for f in features:
        names = _named(f)
        if names is None:  # free text: the FM sees every column
            for c in list(types) + texts:
                out.setdefault(c, f)
            continue
        for c in names & known:
            out.setdefault(c, f)
        if texts and ('mentions "' in f or "the number" in f or "the text" in f):
            for c in texts:
                out.setdefault(c, f)
    for c in inputs.get("side_inputs") or []:
        out.setdefault(c, "(a side input)")
    return out


def _named(descriptor: str) -> set[str] | None:
    """The attribute names of an offline-engine descriptor; None for one it cannot read."""
    try:
        from .fm.predicates import parse_predicate

        parse_predicate(descriptor)
    except Exception:  # FMError, or any parser failure: not the engine's grammar
        return None
    names = set()
    for m in _QUOTED.finditer(descriptor):
        if m.group(1) is not None:
            names.add(m.group(1))
        else:
            try:
                names.add(json.loads(m.group(2)))
            except ValueError:
                pass
    return names


def check_columns(have: Sequence[str], inputs: Mapping[str, Any] | None, features: Sequence[str], *,
                  allow_missing: bool, where: str = "X", option: str = "allow_missing=True") -> list[str]:
    """Refuse a new table (columns ``have``) that lacks a column the kept features use: one
    line naming the column, a feature that tests it, and what to do. With ``allow_missing``
    the missing columns are returned (and judged as missing cells)."""
    if not inputs or inputs.get("types") is None:
        return []
    need = used_columns(features, inputs)
    present = set(have)
    missing = [c for c in need if c not in present]
    if not missing or allow_missing:
        return missing
    c = missing[0]
    fitted = set(inputs.get("types") or {}) | set(inputs.get("text") or [])
    extra = [x for x in have if x not in fitted and x not in (inputs.get("target") or []) and x != inputs.get("id")
             and not x.startswith(("Unnamed: ", "__index"))]
    more = f" (and {', '.join(map(repr, missing[1:4]))}{'…' if len(missing) > 4 else ''})" if len(missing) > 1 else ""
    renamed = f"; it has columns the model never saw: {', '.join(map(repr, extra[:4]))} — renamed?" if extra else ""
    who = need[c]
    feat = "it is a side input" if who == "(a side input)" else f"the feature {who!r} tests it"
    what = "no item has the attribute" if where == "the items" or where.endswith(".jsonl") else "has no column"
    raise GenZInputError(f"{where} {what} {c!r}{more}, and {feat}{renamed}; add it (same name as in training), or "
                         f"pass {option} to predict with it missing (judged as an empty cell)")


def inputs_from_saved(meta: Mapping[str, Any], inputs_file: Mapping[str, Any] | None) -> dict | None:
    """``inputs_`` of a loaded model: model.json's ``inputs``, else the run's ``inputs.json``
    (written by ``genz fit``)."""
    got = meta.get("inputs")
    if isinstance(got, dict):
        return got
    if not isinstance(inputs_file, Mapping):
        return None
    table = inputs_file.get("table") or {}
    side = list(inputs_file.get("side_inputs") or []) or None
    if not table and side is None:
        return None
    target = list(table.get("target") or [])
    columns = table.get("columns")  # the training file's columns: X's are those less the target
    return {"columns": None if columns is None else [c for c in columns if c not in target],
            "types": table.get("types"), "text": list(table.get("text") or []), "id": table.get("id"),
            "target": target, "side_inputs": side}


# ------------------------------------------------------------------------------------------------
# the estimator's side of it
# ------------------------------------------------------------------------------------------------
def remember_inputs(est: Any, info: dict | None, items: Sequence[Item]) -> None:
    """``est.inputs_``, ``n_features_in_`` and ``feature_names_in_`` after a fit on ``items``
    (``info``: how a table X was read, None for items)."""
    side = side_input_columns(est.side_inputs, items) if est.side_inputs is not None else None
    route = getattr(est, "numbers_route_", None) or {}
    if route.get("columns") and "array" not in route:  # Selection.numbers_route: the numeric columns follow the
        side = list(side or []) + list(route["columns"])  # side inputs (an array's: predict reads them itself)
    est.inputs_ = fit_columns(info, side)
    if info is not None:
        est.feature_names_in_ = np.asarray(info["columns"], dtype=object)
        est.n_features_in_ = len(info["columns"])


def new_items(est: Any, X: Any, *, text: Any = None, id: Any = None, allow_missing: bool = False
              ) -> tuple[list[Item], np.ndarray | None]:
    """New items for a fitted ``est`` (a table read as the training table was: the same text,
    id and column types, ``text``/``id`` overriding; a missing column the features use is
    refused unless ``allow_missing``) and their side inputs from the remembered side-input
    columns (None without)."""
    inputs = getattr(est, "inputs_", None) or {}
    if is_table(X):
        text = text if text is not None else ((inputs.get("text") or est.text) if inputs else est.text)
        id = id if id is not None else (inputs.get("id") if inputs else est.id)
        have = column_names(X)
        missing = check_columns(have, inputs, est.features_, allow_missing=allow_missing)
        if isinstance(text, str):
            text = [c.strip() for c in text.split(",") if c.strip()]
        text = [c for c in (text or []) if c in have or c not in missing] or None
        items = table_items(X, text=text, id=id, types=inputs.get("types"), exclude=list(inputs.get("target") or []))[0]
    else:
        items = check_items(X)
        if inputs.get("types") and not allow_missing:  # items: an attribute no item has
            have_attrs = {k for it in items for k in it.attributes}
            check_columns(sorted(have_attrs), {**inputs, "text": []}, est.features_, allow_missing=False,
                          where="the items")
    side = inputs.get("side_inputs")
    return items, (route_matrix(est, items, side_matrix(items, side)) if side else None)


def route_extra_columns(est: Any) -> int:
    """How many more side inputs the predictor takes than the attributes it reads: the one-hot
    levels of the table route (``Selection(route_inputs="table")``), the text route's predictions
    (one per target, ``Selection(text_route=True)``) and, for a model fitted with side inputs as an
    array, the route's columns that predict appends to them; else 0."""
    route = getattr(est, "numbers_route_", None) or {}
    n = sum(len(v) for v in (route.get("levels") or {}).values()) + int(route.get("targets", 0))
    return n + (len(route["columns"]) if "array" in route else 0)  # appended to side inputs given as an array


def route_side_inputs(est: Any, items: Sequence[Item], U: Any, U_cols: np.ndarray | None) -> np.ndarray | None:
    """The side inputs ``predict`` gives the predictor for new ``items``: ``U`` as given, else
    ``U_cols`` (read from the remembered side-input columns, :func:`new_items`, such as those of
    ``genz fit --side-inputs``), followed by what a route adds that the caller cannot pass — after a
    numbers route on side inputs given as an array (``numbers_route_["array"]``), the route's
    columns read from the items (:func:`genz.selection.route_columns`); after the text route
    (``Selection(text_route=True)``), the words' ridge's prediction from the items' texts
    (:class:`genz.text_ridge.TextRidge`, one column per target). Side inputs missing or of another
    width than the fit's are refused with one line."""
    route = getattr(est, "numbers_route_", None) or {}
    text = route.get("inputs") == "text"
    if "array" not in route and not text:
        return U_cols if U is None else U
    from .selection import beside, route_columns
    from .text_ridge import TextRidge, item_texts

    model = TextRidge.from_json(route["text_model"]) if text else None
    if U is None:
        U = U_cols  # the side-input columns, if any
    width = len(model.u_mean) if text else int(route["array"])
    if width and U is None:
        raise GenZInputError(f"this model was fitted with {width} side inputs; pass U")
    if U is not None:
        U = check_side_inputs(U, len(items), [it.id for it in items])
        if U.shape[1] != width:
            raise GenZInputError(f"side inputs have {U.shape[1]} columns, the model was fitted with {width}")
    extra = model.predict(item_texts(items), U) if text else route_columns(items, route)
    return beside(U, extra)


def route_matrix(est: Any, items: Sequence[Item], U: np.ndarray) -> np.ndarray:
    """The side inputs ``U`` of new items as the predictor takes them: after the table route
    (``Selection(route_inputs="table")``), the route's numeric columns (the last of ``U``) as
    :func:`genz.selection.table_matrix` transforms them (logs, the category levels one-hot). After
    a route fitted with side inputs as an array (``numbers_route_["array"]``), ``U`` as it is:
    predict appends the route's columns (:func:`route_side_inputs`)."""
    route = getattr(est, "numbers_route_", None) or {}
    if "levels" not in route or "array" in route:
        return U
    from .selection import route_columns

    p = len(route["columns"])
    return np.hstack([U[:, :U.shape[1] - p], route_columns(items, route, U[:, U.shape[1] - p:])])


def load_inputs(est: Any, meta: Mapping[str, Any], path: Any) -> None:
    """A loaded model's ``inputs_`` (and ``feature_names_in_``): model.json's, else those of
    the ``genz fit`` run whose ``inputs.json`` sits beside it."""
    from pathlib import Path

    inputs_file = None
    f = Path(path) / "inputs.json"
    if f.exists():
        try:
            inputs_file = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            inputs_file = None
    est.inputs_ = inputs_from_saved(meta, inputs_file)
    if est.inputs_ and est.inputs_.get("columns"):
        est.feature_names_in_ = np.asarray(est.inputs_["columns"], dtype=object)
        est.n_features_in_ = len(est.inputs_["columns"])
