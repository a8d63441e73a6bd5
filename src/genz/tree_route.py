"""The gradient-boosted trees a practitioner fits on a table: LightGBM on the table's columns
(every numeric column as it is, every category column as LightGBM categories). The tree route
(``Selection.tree_route``) scores a blend of their prediction with the predictor's on the untouched
rows and, when it helps enough, predicts with that blend
(:meth:`genz.untouched_checks.UntouchedRowChecks._tree_blend`).

The columns are read from the items' attributes, chosen without the target
(:func:`tree_spec`): the numeric columns of :func:`genz.selection.numeric_columns` and the
category columns with their levels of :func:`genz.selection.category_levels` (levels seen at least
twice; any other value, or a missing one, is LightGBM's missing category). The settings are the
houses LightGBM peer's small-data ones (:data:`TREE_PARAMS`), fixed before the route was
measured. One thread, deterministic. A fitted model is kept as LightGBM's text format (its
``model_to_string``) with the column spec, so a saved genz model rebuilds it without pickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from .folds import cross_fit

__all__ = ["TreeModel", "tree_spec", "blend_weight", "blend_shares", "blend_losses", "blend", "tree_blend",
           "predictor_alone", "check_record", "TREE_PARAMS", "TREE_GAIN_SE", "TREE_GAIN_REL", "tree_gains"]

#: the tree route is taken when the blend with the trees lowers the untouched rows' loss (both fitted
#: on the discovery rows, the trees' share scored out of fold) by more than this many paired standard
#: errors and by more than TREE_GAIN_REL of that loss. Chosen on development data (docs/user-guide.md,
#: "The tree route"): at 0 the diabetes table took the trees on one split at z 0.8 and lost 4% of its
#: test RMSE; at 1 every development lane was within the rule written for a default
TREE_GAIN_SE = 1.0
#: ... and by more than this share of the loss (the text route's floor, genz.selection.TEXT_UNION_REL:
#: a gain a user would notice)
TREE_GAIN_REL = 0.01


def tree_gains(gain: float, se: float, loss: float) -> bool:
    """Whether the trees' column earns the tree route: its paired gain on the untouched rows
    (``gain`` ± ``se``) above :data:`TREE_GAIN_SE` standard errors and above :data:`TREE_GAIN_REL` ×
    the untouched rows' loss ``loss`` without it."""
    return gain > TREE_GAIN_SE * se and gain > TREE_GAIN_REL * loss


#: LightGBM's settings (the houses peer's, genz.experiments.peers.LightGBMPeer): its categorical
#: defaults (100 rows per group, smoothing 10) suit big data; a few hundred rows need smaller ones
TREE_PARAMS = {"n_estimators": 300, "learning_rate": 0.05, "min_child_samples": 10, "min_data_per_group": 5,
               "cat_smooth": 1.0, "cat_l2": 1.0, "n_jobs": 1, "deterministic": True, "verbose": -1}


def tree_spec(items: Sequence[Any]) -> dict | None:
    """The columns the trees read: ``{"columns": numeric columns, "levels": {category: levels}}``,
    None when the items have neither."""
    from .selection import category_levels, numeric_columns

    cols = numeric_columns(items)[0]
    levels = category_levels(items)
    return {"columns": cols, "levels": levels} if cols or levels else None


def _lightgbm() -> Any:
    """The ``lightgbm`` module, or one line saying how to get it."""
    try:
        import lightgbm
    except ImportError as exc:  # a dependency of genz; an install without it
        from .errors import GenZInputError

        raise GenZInputError("the tree route needs LightGBM: pip install lightgbm, or fit with "
                             "Selection(tree_route=False) (genz fit --no-tree-route)") from exc
    return lightgbm


def _matrix(items: Sequence[Any], spec: dict) -> np.ndarray:
    """The trees' inputs: the numeric columns (a missing or non-numeric value: NaN), then each
    category's level index (an unseen level or a missing value: NaN)."""
    from .selection import _category_values

    def number(v: Any) -> float:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            return np.nan
        return float(v)

    X = np.array([[number(it.attributes.get(c)) for c in spec["columns"]] for it in items],
                 dtype=float).reshape(len(items), len(spec["columns"]))
    cats = []
    for k, lv in spec["levels"].items():
        code = {s: float(i) for i, s in enumerate(lv)}
        cats.append(np.array([code.get(s, np.nan) for s in _category_values(items, k)], dtype=float))
    return np.hstack([X, np.column_stack(cats)]) if cats else X


class TreeModel:
    """``fit(items, y)``, ``predict(items)`` (N,), ``to_json()`` / ``from_json()``."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.spec: dict = {"columns": [], "levels": {}}
        self.booster: Any = None

    def fit(self, items: Sequence[Any], y: np.ndarray, spec: dict | None = None) -> "TreeModel":
        """LightGBM on these rows (``spec``: the columns, :func:`tree_spec` of ``items`` when None)."""
        lightgbm = _lightgbm()
        self.spec = tree_spec(items) if spec is None else spec
        X = _matrix(items, self.spec)
        cats = list(range(len(self.spec["columns"]), X.shape[1]))
        model = lightgbm.LGBMRegressor(random_state=self.seed, **TREE_PARAMS)
        model.fit(X, np.asarray(y, dtype=float).ravel(), categorical_feature=cats or "auto")
        self.booster = model.booster_
        return self

    def predict(self, items: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.booster.predict(_matrix(items, self.spec), num_threads=1), dtype=float)

    def to_json(self) -> dict:
        return {"spec": self.spec, "seed": self.seed, "lightgbm": self.booster.model_to_string()}

    @classmethod
    def from_json(cls, d: dict) -> "TreeModel":
        lightgbm = _lightgbm()
        m = cls(int(d.get("seed", 0)))
        m.spec = {"columns": list(d["spec"]["columns"]), "levels": {k: list(v) for k, v in d["spec"]["levels"].items()}}
        m.booster = lightgbm.Booster(model_str=d["lightgbm"])
        return m


def blend_weight(r: np.ndarray, d: np.ndarray) -> float:
    """The trees' share ``a`` in ``(1 − a)·f + a·t`` that minimises ``Σ (y − f − a·(t − f))²``
    over these rows (``r = y − f``, ``d = t − f``): ``Σ r·d / Σ d²`` clipped to [0, 1], so the
    blend never turns the trees' prediction against itself nor extrapolates beyond it; 0 when
    ``t = f``."""
    r, d = np.asarray(r, dtype=float).ravel(), np.asarray(d, dtype=float).ravel()
    dd = float(d @ d)
    return 0.0 if dd <= 0 else float(np.clip((r @ d) / dd, 0.0, 1.0))


def blend_shares(r: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The shares ``a`` (``a ≥ 0``, ``Σ a ≤ 1``) of the blend ``(1 − Σ a)·f + Σ_j a_j·c_j`` of the
    predictor ``f`` with candidates ``c_j`` that minimise ``Σ (y − f − D a)²`` over these rows
    (``r = y − f``; ``D``'s columns ``c_j − f``). One candidate: :func:`blend_weight`. Several: the
    exact solution of this small quadratic programme, the best of the least-squares solutions on each
    face of the simplex (a support, with or without ``Σ a = 1``) that lies in it; 0 when no
    candidate helps."""
    r = np.asarray(r, dtype=float).ravel()
    D = np.asarray(D, dtype=float).reshape(len(r), -1)
    K = D.shape[1]
    if K == 1:
        return np.array([blend_weight(r, D[:, 0])])
    best, best_loss = np.zeros(K), float(r @ r)
    for size in range(1, K + 1):
        for S in combinations(range(K), size):
            A = D[:, list(S)]
            free = np.linalg.lstsq(A, r, rcond=None)[0]
            if size == 1:  # on Σ a = 1 the one share is 1
                full = np.ones(1)
            else:  # a_last = 1 − Σ the others
                b = np.linalg.lstsq(A[:, :-1] - A[:, -1:], r - A[:, -1], rcond=None)[0]
                full = np.append(b, 1.0 - b.sum())
            for a in (free, full):
                if (a >= -1e-12).all() and a.sum() <= 1.0 + 1e-12:
                    a = np.clip(a, 0.0, None)
                    loss = float(np.sum((r - A @ a) ** 2))
                    if loss < best_loss:
                        best, best_loss = np.zeros(K), loss
                        best[list(S)] = a
    return best


def blend_losses(y: np.ndarray, f: np.ndarray, t: np.ndarray, y_var: float, folds: int, seed: int
                 ) -> tuple[np.ndarray, Any]:
    """Per-row losses ``(y − blend)² / var(y)`` of the blend on these rows (the untouched rows),
    each row's shares fitted on the other folds (:func:`genz.folds.cross_fit`, ``folds`` folds,
    seeded), so the gain it shows is not flattered by fitting them on the rows it is scored on; and
    the shares fitted on every row (what the predictor uses). ``t``: one candidate (N,), the
    trees — its share ``a`` of ``(1 − a)·f + a·t`` (:func:`blend_weight`) is returned as a number —
    or several (N×K) — their shares (:func:`blend_shares`) as an array."""
    y, f = (np.asarray(v, dtype=float).ravel() for v in (y, f))
    folds = int(max(2, min(folds, len(y))))
    t = np.asarray(t, dtype=float)
    r = y - f
    if t.ndim == 1:
        d = t - f
        oof = cross_fit(len(y), folds, seed, 31, lambda tr, te: r[te] - blend_weight(r[tr], d[tr]) * d[te])
        return oof ** 2 / float(y_var), blend_weight(r, d)
    D = t.reshape(len(y), -1) - f[:, None]
    oof = cross_fit(len(y), folds, seed, 31, lambda tr, te: r[te] - D[te] @ blend_shares(r[tr], D[tr]))
    return oof ** 2 / float(y_var), blend_shares(r, D)


def blend(P: np.ndarray, alpha: Any, t: np.ndarray) -> np.ndarray:
    """The tree route's prediction: ``(1 − a)·P + a·t`` (``P`` the predictor's, N×1 or N; ``t``
    the trees', N), or with several candidates ``(1 − Σ a)·P + Σ_j a_j·t_j`` (``alpha`` their
    shares, ``t`` N×K)."""
    P = np.asarray(P, dtype=float)
    a = np.asarray(alpha, dtype=float)
    if a.ndim == 0:
        t = np.asarray(t, dtype=float).reshape(P.shape)
        return (1.0 - float(a)) * P + float(a) * t
    T = np.asarray(t, dtype=float).reshape(P.shape[0], len(a))
    return (1.0 - float(a.sum())) * P + (T @ a).reshape(P.shape)


def tree_blend(tree: dict | None, items: Sequence[Any], P: np.ndarray, U: np.ndarray | None = None) -> np.ndarray:
    """The predictions ``P`` (N×D) of ``items`` as the tree route's record ``tree`` (``tree_route_``)
    says: when taken, blended (:func:`blend`) with the trees' prediction from the items' columns
    (:class:`TreeModel`) and, when its share is positive, the words' ridge's from their texts and the
    side inputs the fit was given (the first columns of ``U``, the predictor's side inputs;
    :class:`genz.text_ridge.TextRidge`); else as they are. What ``predict`` and the fit's evaluation
    set both use."""
    if not tree or not tree.get("route"):
        return P
    if "words_model" not in tree:  # the trees alone
        return blend(P, tree["alpha"], TreeModel.from_json(tree["model"]).predict(items))
    from .text_ridge import TextRidge, item_texts

    shares, cols = [], []
    if tree["alpha"] > 0:
        shares.append(tree["alpha"])
        cols.append(TreeModel.from_json(tree["model"]).predict(items))
    words = TextRidge.from_json(tree["words_model"])
    n_u = len(words.u_mean)
    shares.append(tree["words_share"])
    cols.append(words.predict(item_texts(items), np.asarray(U, dtype=float)[:, :n_u] if n_u else None)[:, 0])
    return blend(P, np.array(shares), np.column_stack(cols))


def predictor_alone(est: Any) -> Any:
    """A shallow copy of a fitted estimator that predicts without the tree route's blend (its
    predictor alone, as a fit with ``Selection(tree_route=False)`` would): what the benchmarks
    compare the blend with."""
    import copy

    alone = copy.copy(est)
    if getattr(est, "tree_route_", None):
        alone.tree_route_ = dict(est.tree_route_, route=False)
    return alone


def check_record(est: Any) -> dict | None:
    """A fitted estimator's tree-route check (``tree_route_``) without the models themselves: what
    the benchmarks and experiments record per fit."""
    return {k: v for k, v in (getattr(est, "tree_route_", None) or {}).items()
            if k not in ("model", "words_model")} or None
