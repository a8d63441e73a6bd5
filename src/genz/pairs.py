"""Two kinds of items and their associations (paper Appendix C, eq. 32-37; docs/equations.md §8).

A user × item matrix ``Y`` (ratings, purchases, presence of a plant in a place) is explained by

    y_ui ≈ μ + b_u + c_i + u_uᵀ v_i                                      (eq. 32, with offsets)

The global mean ``μ``, user offsets ``b`` and item offsets ``c`` are taken out explicitly
(damped means, :func:`offsets`), so that the first SVD component is not spent on them. The
residual matrix is factored once by a rank-``k`` truncated SVD ``E ≈ P S Qᵀ`` (eq. 35-36) and
the scale is split between the sides with the exponent ``alpha`` (eq. 36 with ``R = I``):

    users  U = P S^alpha,     items  V = Q S^(1 - alpha),     so  U Vᵀ = P S Qᵀ.

``alpha = 0.5`` (default) is the symmetric split: both sides' embeddings carry ``√s`` per
component, and the association is their plain inner product. Unrated cells are imputed by
iterating the SVD (``fill="svd"``, the default: the EM algorithm for a low-rank fit to the
observed cells) or left at 0 (``fill="zero"``: one sparse SVD, for large matrices).

Then one GenZ model per side (eq. 37) learns its side's target ``[offset, embedding]``
(``k + 1`` dimensions) from the items' semantics: users from their demographics, movies from
their titles. A pair in which neither side was seen is predicted from the two models alone:
``μ + b̂_u + ĉ_i + û_uᵀ v̂_i`` (:meth:`GenZPairs.predict`).

Readable interactions: each side predicts, for a new item, an affine function of its feature
judgments ``a ∈ {0,1}^K`` (linear g at the priors), ``[b̂, û] = A a + a₀``. The predicted
association is then a bilinear form ``const + mᵤᵀ a + mᵢᵀ b + aᵀ M b`` (:class:`Interactions`),
in the target's units: ``M[k, l]`` is what user feature ``k`` and item feature ``l`` together add
(e.g. "age 18-24 × animated film: +0.4 stars"). Intervals are given where both sides' effects
have them (an estimator with ``feature_table()`` reporting 95% intervals); otherwise the table
has estimates only and says so.

``GenZPairs(readout="ratings")`` keeps the discovered features but refits that bilinear form
directly on the observed cells by ridge (:func:`fit_bilinear`). :func:`fit_pairs_run` (:mod:`genz.pairs_io`) fits
inside a run directory (``genz fit-pairs --out RUN``): each side is a resumable ``genz fit`` run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import GenZInputError
from .items import Item
from .factorization import Factors, factorize, offsets, split_svd
from .pairs_io import PAIRS_RUN_FILE, _as_matrix, fit_pairs_run, interactions_from_csv

__all__ = [
    "OFFSETS",
    "Factors",
    "offsets",
    "split_svd",
    "factorize",
    "affine_map",
    "Interactions",
    "GenZPairs",
    "interactions_from_csv",
    "fit_bilinear",
    "bilinear_design",
    "BILINEAR_ALPHAS",
    "fit_pairs_run",
    "PAIRS_RUN_FILE",
]


# --------------------------------------------------------------------------- one side's affine map


def _features(est: Any) -> list[str]:
    return list(getattr(est, "features_", []))


def affine_map(est: Any, items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray, float]:
    """``(A, a0, err)``: a fitted side model's prediction for new items as an affine function of
    its judgments, ``predict(x) = A · transform(x) + a0`` (A is D×K). Uses ``coef_``/``intercept_``
    when the estimator has them, else least squares of ``predict`` on ``transform`` over
    ``items`` (exact for the linear model at the priors). ``err`` is the largest absolute
    deviation of the affine form from ``predict`` on ``items`` (≈0: the form is exact)."""
    B = np.asarray(est.transform(items), dtype=float)
    P = np.asarray(est.predict(items), dtype=float).reshape(len(items), -1)
    K, D = B.shape[1], P.shape[1]
    A = a0 = None
    coef, icpt = getattr(est, "coef_", None), getattr(est, "intercept_", None)
    if coef is not None and icpt is not None:
        coef = np.asarray(coef, dtype=float)
        if coef.shape == (K, D) and K != D:
            coef = coef.T
        if coef.ndim == 1 and D == 1:
            coef = coef[None, :]
        icpt = np.asarray(icpt, dtype=float).reshape(-1)
        if coef.shape == (D, K) and icpt.shape == (D,):
            A, a0 = coef, icpt
            if np.abs(B @ A.T + a0 - P).max() > 1e-6 * (1.0 + np.abs(P).max()):
                A = a0 = None  # not the judgment-scale coefficients: fall back to the fit below
    if A is None:
        X = np.hstack([B, np.ones((len(items), 1))])
        sol, *_ = np.linalg.lstsq(X, P, rcond=None)
        A, a0 = sol[:K].T, sol[K]
    err = float(np.abs(B @ A.T + a0 - P).max()) if len(items) else 0.0
    return A, a0, err


def _effect_intervals(est: Any, D: int) -> np.ndarray | None:
    """Standard errors (D×K) of a side's effects from ``est.feature_table()`` when it reports
    95% intervals per feature and target dimension; ``None`` when it has none or its layout is
    not recognised (the interaction table then has estimates only)."""
    if not hasattr(est, "feature_table"):
        return None
    try:
        table = est.feature_table()
    except Exception:  # noqa: BLE001 - an optional extra: the interval part degrades gracefully
        return None
    try:
        rows = table.to_dict("records") if hasattr(table, "to_dict") else list(table)
    except TypeError:
        return None
    feats = _features(est)
    K = len(feats)
    if not rows or not isinstance(rows[0], dict):
        return None

    def pick(rec: dict, *names: str) -> Any:
        for key in rec:
            low = str(key).lower()
            if any(low == n or low.startswith(n) for n in names):
                return rec[key]
        return None

    se = np.full((D, K), np.nan)
    for rec in rows:
        f = pick(rec, "feature", "descriptor", "name")
        lo, hi = pick(rec, "low", "lower", "ci_low", "ci_lower", "lo"), pick(rec, "high", "upper", "ci_high", "ci_upper", "hi")
        d = pick(rec, "dim", "target", "output", "d")
        if f not in feats or lo is None or hi is None:
            continue
        names = [str(t) for t in (getattr(est, "target_names_", None) or [])]
        try:
            d = 0 if d is None and D == 1 else names.index(str(d)) if str(d) in names else int(d)
            width = float(hi) - float(lo)
        except (TypeError, ValueError):
            continue
        if 0 <= d < D and math.isfinite(width):
            se[d, feats.index(f)] = width / (2 * 1.959964)
    return None if np.isnan(se).all() else se


# --------------------------------------------------------------------------- interactions


@dataclass
class Interactions:
    """The predicted association as a bilinear form in the two sides' judgments (target units):

    ``y(a, b) = const + user_main · a + item_main · b + aᵀ M b``.

    ``M_se``/``user_main_se``/``item_main_se`` are delta-method standard errors where both
    sides' effects have intervals (else ``None``)."""

    user_features: list[str]
    item_features: list[str]
    const: float
    user_main: np.ndarray
    item_main: np.ndarray
    M: np.ndarray
    M_se: np.ndarray | None = None
    user_main_se: np.ndarray | None = None
    item_main_se: np.ndarray | None = None
    exact: dict[str, float] = field(default_factory=dict)

    def value(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``y`` for every row of ``a`` (users × K_u) with every row of ``b`` (items × K_i)."""
        a, b = np.atleast_2d(a).astype(float), np.atleast_2d(b).astype(float)
        return self.const + (a @ self.user_main)[:, None] + (b @ self.item_main)[None, :] + a @ self.M @ b.T

    def table(self, top: int = 20) -> list[dict[str, Any]]:
        """The ``top`` feature pairs with the largest |M|, strongest first, with 95% intervals
        where available."""
        order = np.argsort(-np.abs(self.M), axis=None)[:top]
        out = []
        for flat in order:
            k, l = np.unravel_index(flat, self.M.shape)
            rec: dict[str, Any] = {"user_feature": self.user_features[k], "item_feature": self.item_features[l],
                                   "effect": float(self.M[k, l])}
            if self.M_se is not None and np.isfinite(self.M_se[k, l]):
                rec["low"] = float(self.M[k, l] - 1.959964 * self.M_se[k, l])
                rec["high"] = float(self.M[k, l] + 1.959964 * self.M_se[k, l])
            out.append(rec)
        return out

    def to_json(self) -> dict[str, Any]:
        def arr(x: np.ndarray | None) -> Any:
            return None if x is None else np.where(np.isfinite(x), x, np.nan).tolist()

        return {"user_features": self.user_features, "item_features": self.item_features, "const": self.const,
                "user_main": arr(self.user_main), "item_main": arr(self.item_main), "M": arr(self.M),
                "M_se": arr(self.M_se), "user_main_se": arr(self.user_main_se),
                "item_main_se": arr(self.item_main_se), "exact": self.exact}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Interactions":
        def arr(x: Any) -> np.ndarray | None:
            return None if x is None else np.asarray(x, dtype=float)

        return cls(list(d["user_features"]), list(d["item_features"]), float(d["const"]), arr(d["user_main"]),
                   arr(d["item_main"]), np.asarray(d["M"], dtype=float).reshape(len(d["user_features"]), len(d["item_features"])),
                   arr(d.get("M_se")), arr(d.get("user_main_se")), arr(d.get("item_main_se")), dict(d.get("exact") or {}))


def _delta_se(Au: np.ndarray, Ai: np.ndarray, se_u: np.ndarray, se_i: np.ndarray) -> np.ndarray:
    """Delta-method s.e. of ``M = Auᵀ Ai`` (sum over embedding dims), sides independent."""
    var = (se_u**2).T @ (Ai**2) + (Au**2).T @ (se_i**2)
    return np.sqrt(var)


# --------------------------------------------------------------------------- bilinear ridge on ratings


def _rowkron(A: sp.csr_matrix, B: sp.csr_matrix) -> sp.csr_matrix:
    """Row-wise Kronecker product of two CSR matrices with the same number of rows."""
    A, B = sp.csr_matrix(A), sp.csr_matrix(B)
    na, nb = np.diff(A.indptr), np.diff(B.indptr)
    cnt = na * nb
    rows = np.repeat(np.arange(A.shape[0]), cnt)
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    nb_rep = np.repeat(nb, cnt)
    ai = np.repeat(A.indptr[:-1], cnt) + offs // np.maximum(nb_rep, 1)
    bi = np.repeat(B.indptr[:-1], cnt) + offs % np.maximum(nb_rep, 1)
    return sp.csr_matrix((A.data[ai] * B.data[bi], (rows, A.indices[ai] * B.shape[1] + B.indices[bi])),
                         shape=(A.shape[0], A.shape[1] * B.shape[1]))


#: the penalty grid of the bilinear ridge (:func:`fit_bilinear`): wide enough for one-hot designs
#: with hundreds of thousands of ratings (the chosen value is reported; it never sits at an end
#: on MovieLens 1M)
BILINEAR_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 17))


def bilinear_design(Xu: np.ndarray, Xi: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """The rows ``[x_u, x_i, x_u ⊗ x_i]`` of the pairs ``(rows[j], cols[j])``: both sides' main
    effects and every user-feature × item-feature product (the intercept is the model's)."""
    a = sp.csr_matrix(np.asarray(Xu, dtype=float)[rows])
    b = sp.csr_matrix(np.asarray(Xi, dtype=float)[cols])
    return sp.hstack([a, b, _rowkron(a, b)], format="csr")


def fit_bilinear(Xu: np.ndarray, Xi: np.ndarray, R: sp.spmatrix,
                 alphas: Sequence[float] = BILINEAR_ALPHAS) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
    """Ridge regression of the observed cells ``y_ui`` of ``R`` on ``[x_u, x_i, x_u ⊗ x_i]``:
    ``y ≈ const + x_uᵀ m_u + x_iᵀ m_i + x_uᵀ M x_i`` (the intercept is not penalised; main
    effects and products share one penalty), as a practitioner writes it with scikit-learn's
    ``RidgeCV(alphas)``.

    Users with the same features are one *profile*: every rating of a profile for an item has
    the same row, so the fit runs on the (profile, item) cells with their mean rating, weighted
    by their number of ratings. At any penalty this gives exactly the coefficients of the fit on
    the raw ratings; the penalty is chosen by ``RidgeCV``'s efficient leave-one-out over cells
    (a cell's ratings are left out together, as identical rows should be).
    Returns ``(const, m_u, m_i, M, alpha)``."""
    from sklearn.linear_model import RidgeCV

    R = sp.coo_matrix(R)
    Xu, Xi = np.asarray(Xu, dtype=float), np.asarray(Xi, dtype=float)
    du, di = Xu.shape[1], Xi.shape[1]
    profiles, pid = np.unique(Xu, axis=0, return_inverse=True)
    key = pid.ravel()[R.row].astype(np.int64) * R.shape[1] + R.col
    cells, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    ybar = np.bincount(inv.ravel(), weights=R.data.astype(float)) / count
    X = bilinear_design(profiles, Xi, cells // R.shape[1], cells % R.shape[1])
    if X.shape[1] == 0:  # neither side kept a feature: the weighted mean rating
        return (float(np.average(ybar, weights=count)), np.zeros(du), np.zeros(di), np.zeros((du, di)), 0.0)
    model = RidgeCV(alphas=list(alphas)).fit(X, ybar, sample_weight=count.astype(float))
    w = np.asarray(model.coef_, dtype=float).ravel()
    return (float(model.intercept_), w[:du].copy(), w[du:du + di].copy(), w[du + di:].reshape(du, di).copy(),
            float(model.alpha_))


# --------------------------------------------------------------------------- the model

#: ``GenZPairs(offsets=...)``: which sides' offsets get a GenZ model of their own
OFFSETS = ("joint", "items", "users", "both")


def _default_estimator(random_state: int | None) -> Any:
    from .estimator import GenZRegressor

    return GenZRegressor(random_state=random_state)


class GenZPairs:
    """Two GenZ models, one per side, over a factored association matrix (Appendix C).

    ``users`` and ``items`` are unfitted estimators with ``fit(items, Y)``, ``predict``,
    ``transform`` and ``features_`` (:class:`genz.GenZRegressor`, each with its own foundation
    model and settings); they are cloned before fitting. ``k`` is the SVD rank, ``alpha`` the
    scale split of eq. (36), ``fill`` the treatment of unobserved cells (:func:`factorize`).

    ``readout`` is how a pair is scored from the two sides' features:

    * ``"embeddings"`` (default, eq. 37): the inner product of the two predicted embeddings plus
      the predicted offsets, ``μ + b̂_u + ĉ_i + û·v̂``;
    * ``"ratings"``: the same bilinear form in the judgments, ``const + m_uᵀa + m_iᵀb + aᵀMb``,
      with ``M`` and the main effects refitted by ridge on the observed cells (the first term of
      eq. 34 with the features fixed; :func:`fit_bilinear`). The features are still the ones
      each side's GenZ model discovered on its embeddings.

    ``offsets`` says which sides' offsets get a GenZ model of their own (:data:`OFFSETS`):
    ``"items"`` (default), ``"users"``, ``"both"`` or ``"joint"`` (the offset is just the first
    dimension of the side's target, as in one model per side). A side's model weighs its
    ``k + 1`` target dimensions equally (each by its variance), but for a new pair the offset
    matters far more than any one embedding dimension: within a user the items are ranked by
    ``ĉ_i + û·v̂_i``, and ``û`` predicted from a user's semantics varies little. A separate
    model, built with the side's settings, discovers the features that predict the offset alone;
    the side's embedding model is unchanged and still gives ``v̂`` (chosen on development seeds:
    docs/experiments.md, "Two sides").
    """

    def __init__(self, users: Any = None, items: Any = None, *, k: int = 16, alpha: float = 0.5, fill: str = "svd",
                 n_iter: int = 15, damping_user: float = 5.0, damping_item: float = 25.0, readout: str = "embeddings",
                 offsets: str = "items", random_state: int | None = None) -> None:
        self.users = users
        self.items = items
        self.k = k
        self.alpha = alpha
        self.fill = fill
        self.n_iter = n_iter
        self.damping_user = damping_user
        self.damping_item = damping_item
        self.readout = readout
        self.offsets = offsets
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------
    def factorize(self, R: sp.spmatrix) -> Factors:
        """Step 1: the factorisation of the training matrix (eq. 35-36)."""
        return factorize(R, self.k, alpha=self.alpha, fill=self.fill, n_iter=self.n_iter,
                         damping_user=self.damping_user, damping_item=self.damping_item)

    def _side(self, est: Any) -> Any:
        """The side's estimator, fitted in place (not cloned: its foundation model may hold an
        open cache); ``None`` gives ``GenZRegressor(random_state=random_state)``."""
        return est if est is not None else _default_estimator(self.random_state)

    def _like(self, est: Any) -> Any:
        """A new, unfitted estimator with ``est``'s settings (sharing its foundation model and
        cache, not copies of them), for a side's offset model."""
        if est is None:
            return _default_estimator(self.random_state)
        return type(est)(**est.get_params(deep=False))

    def _separate(self, side: str) -> bool:
        if self.offsets not in OFFSETS:
            raise GenZInputError(f"offsets must be one of {', '.join(OFFSETS)}, not {self.offsets!r}")
        return self.offsets in (side, "both")

    def _offset_model(self, side: str) -> Any:
        """The fitted offset model of ``side`` (``"users"`` / ``"items"``), or ``None``."""
        return getattr(self, f"{side[:-1]}_offsets_", None)

    def judgments(self, side: str, its: Sequence[Item]) -> np.ndarray:
        """The side's judgments for ``its``: its embedding model's features, then its offset
        model's (the columns of :attr:`interactions_`' feature lists)."""
        est, off = (self.users_, self._offset_model("users")) if side == "users" else (self.items_, self._offset_model("items"))
        B = np.asarray(est.transform(list(its)), dtype=float).reshape(len(its), -1)
        if off is not None:
            B = np.hstack([B, np.asarray(off.transform(list(its)), dtype=float).reshape(len(its), -1)])
        return B

    def _side_features(self, side: str) -> list[str]:
        est, off = (self.users_, self._offset_model("users")) if side == "users" else (self.items_, self._offset_model("items"))
        return _features(est) + (_features(off) if off is not None else [])

    def fit(self, user_items: Sequence[Item], item_items: Sequence[Item], interactions: Any,
            *, fit_side: Any = None) -> "GenZPairs":
        """Fit on ``interactions``: a sparse users × items matrix in the order of ``user_items`` /
        ``item_items`` (stored entries observed), or ``(user_ids, item_ids, values)`` triplets.
        ``fit_side(name, est, items, Y)`` replaces ``est.fit(items, Y)`` (run directories use it
        to checkpoint each side)."""
        user_items, item_items = list(user_items), list(item_items)
        R = _as_matrix(interactions, user_items, item_items)
        self.factors_ = self.factorize(R)
        self.user_ids_ = [it.id for it in user_items]
        self.item_ids_ = [it.id for it in item_items]
        f = self.factors_
        fit_side = fit_side or (lambda name, est, its, Y: est.fit(its, Y))
        self.users_ = fit_side("users", self._side(self.users), user_items, f.user_targets())
        self.items_ = fit_side("items", self._side(self.items), item_items, f.item_targets())
        self.user_offsets_ = self.item_offsets_ = None
        if self._separate("users"):
            self.user_offsets_ = fit_side("user_offsets", self._like(self.users_), user_items, f.user_targets()[:, :1])
        if self._separate("items"):
            self.item_offsets_ = fit_side("item_offsets", self._like(self.items_), item_items, f.item_targets()[:, :1])
        if self.readout == "ratings":
            self.interactions_ = self.rating_readout(user_items, item_items, R)
        elif self.readout == "embeddings":
            self.interactions_ = self._interactions(user_items, item_items)
        else:
            raise GenZInputError(f"readout must be 'embeddings' or 'ratings', not {self.readout!r}")
        return self

    def rating_readout(self, user_items: Sequence[Item], item_items: Sequence[Item], R: sp.spmatrix) -> Interactions:
        """The ``"ratings"`` readout: ridge of the observed cells of ``R`` on the two sides'
        judgments and their products (:func:`fit_bilinear`)."""
        a, b = self.judgments("users", user_items), self.judgments("items", item_items)
        const, um, im, M, alpha = fit_bilinear(a, b, R)
        return Interactions(self._side_features("users"), self._side_features("items"), const, um, im, M,
                            exact={"readout": "ratings", "ridge_alpha": alpha})

    def _side_map(self, side: str, its: Sequence[Item]) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
        """``(A, a0, err, se)``: the side's predicted ``[offset, embedding]`` as an affine map of
        :meth:`_judgments` (D × K), its largest deviation from ``predict``, and the standard
        errors of A where the models report intervals (else ``None``). With a separate offset
        model, row 0 comes from it and the embedding model's own offset row is unused."""
        est, off = (self.users_, self._offset_model("users")) if side == "users" else (self.items_, self._offset_model("items"))
        A, a0, err = affine_map(est, its)
        D = A.shape[0]
        se = _effect_intervals(est, D)
        if off is None:
            return A, a0, err, se
        Ao, ao0, err_o = affine_map(off, its)
        Ko = Ao.shape[1]
        A = np.hstack([A, np.zeros((D, Ko))])
        A[0] = np.concatenate([np.zeros(A.shape[1] - Ko), Ao[0]])
        a0 = a0.copy()
        a0[0] = ao0[0]
        if se is not None:  # the offset row's errors from the offset model, where it reports them
            se_o = _effect_intervals(off, 1)
            se = np.hstack([se, np.zeros((D, Ko))])  # structural zeros of A have no error
            se[0] = np.concatenate([np.zeros(A.shape[1] - Ko), se_o[0] if se_o is not None else np.full(Ko, np.nan)])
        return A, a0, max(err, err_o), se

    def _interactions(self, user_items: Sequence[Item], item_items: Sequence[Item]) -> Interactions:
        Au, au0, err_u, se_u = self._side_map("users", user_items)
        Ai, ai0, err_i, se_i = self._side_map("items", item_items)
        mu = self.factors_.mu
        # [b̂, û] = Au a + au0 ; [ĉ, v̂] = Ai b + ai0 ; y = μ + b̂ + ĉ + ûᵀ v̂
        M = Au[1:].T @ Ai[1:]
        user_main = Au[0] + Au[1:].T @ ai0[1:]
        item_main = Ai[0] + Ai[1:].T @ au0[1:]
        const = float(mu + au0[0] + ai0[0] + au0[1:] @ ai0[1:])
        M_se = um_se = im_se = None
        if se_u is not None and se_i is not None:
            M_se = _delta_se(Au[1:], Ai[1:], se_u[1:], se_i[1:])
            um_se = np.sqrt(se_u[0] ** 2 + (se_u[1:] ** 2).T @ (ai0[1:] ** 2))
            im_se = np.sqrt(se_i[0] ** 2 + (se_i[1:] ** 2).T @ (au0[1:] ** 2))
        return Interactions(self._side_features("users"), self._side_features("items"), const, user_main, item_main, M,
                            M_se, um_se, im_se, {"user_side_max_error": err_u, "item_side_max_error": err_i})

    # ------------------------------------------------------------------------------------------
    def side_predictions(self, user_items: Sequence[Item] | None = None, item_items: Sequence[Item] | None = None,
                         *, use_known: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Predicted ``[offset, embedding]`` rows of each side (eq. 37 at the priors; the offset
        from the side's offset model when it has one). With ``use_known``, items seen in training
        keep their fitted factors instead."""
        self._check_fitted()
        f = self.factors_
        out = []
        for its, est, off, ids, T in ((user_items, self.users_, self._offset_model("users"), self.user_ids_, f.user_targets),
                                      (item_items, self.items_, self._offset_model("items"), self.item_ids_, f.item_targets)):
            if its is None:
                out.append(None)
                continue
            its = list(its)
            P = np.asarray(est.predict(its), dtype=float).reshape(len(its), -1)
            if off is not None:
                P[:, 0] = np.asarray(off.predict(its), dtype=float).reshape(len(its), -1)[:, 0]
            if use_known:
                pos = {i: n for n, i in enumerate(ids)}
                known = [(j, pos[it.id]) for j, it in enumerate(its) if it.id in pos]
                if known:
                    j, n = map(np.array, zip(*known))
                    P[j] = T()[n]
            out.append(P)
        return out[0], out[1]

    def predict(self, user_items: Sequence[Item], item_items: Sequence[Item], *, use_known: bool = False) -> np.ndarray:
        """Predicted association of every user with every item (users × items):
        ``μ + b̂_u + ĉ_i + û_uᵀ v̂_i`` from the two sides' predicted embeddings, so pairs where
        both sides are new need no observation of either. With ``readout="ratings"`` the
        refitted bilinear form of the judgments (``use_known`` then does not apply)."""
        self._check_fitted()
        if self.readout == "ratings":
            return self.interactions_.value(self.judgments("users", user_items), self.judgments("items", item_items))
        Pu, Pi = self.side_predictions(user_items, item_items, use_known=use_known)
        return self.factors_.mu + Pu[:, :1] + Pi[:, 0][None, :] + Pu[:, 1:] @ Pi[:, 1:].T

    def rank(self, user_items: Sequence[Item], item_items: Sequence[Item], *, top: int | None = 10,
             use_known: bool = False) -> list[list[tuple[str, float]]]:
        """For each user, the items by decreasing predicted association: ``[(item id, score)]``."""
        S = self.predict(user_items, item_items, use_known=use_known)
        ids = [it.id for it in item_items]
        order = np.argsort(-S, axis=1, kind="stable")
        if top is not None:
            order = order[:, :top]
        return [[(ids[j], float(S[n, j])) for j in row] for n, row in enumerate(order)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "factors_"):
            raise GenZInputError("GenZPairs is not fitted yet: call fit(user_items, item_items, interactions)")

    # ------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``pairs.json`` + ``factors.npz`` and each side under ``users/`` and ``items/``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.users_.save(path / "users" / "model")
        self.items_.save(path / "items" / "model")
        for side in ("users", "items"):
            off = self._offset_model(side)
            if off is not None:
                off.save(path / f"{side[:-1]}_offsets" / "model")
        self._save_pairs(path)
        return path

    def _save_pairs(self, path: Path) -> None:
        import io

        from .files import atomic_write_bytes

        f = self.factors_
        buf = io.BytesIO()
        np.savez(buf, b=f.b, c=f.c, P=f.P, s=f.s, Q=f.Q)
        atomic_write_bytes(path / "factors.npz", buf.getvalue())
        meta = {"format": "genz-pairs/1", "mu": f.mu, "alpha": f.alpha, "fill": f.fill, "k": f.k,
                "user_ids": self.user_ids_, "item_ids": self.item_ids_,
                "params": {"k": self.k, "alpha": self.alpha, "fill": self.fill, "n_iter": self.n_iter,
                           "damping_user": self.damping_user, "damping_item": self.damping_item,
                           "readout": self.readout, "offsets": self.offsets},
                "interactions": self.interactions_.to_json()}
        atomic_write_bytes(path / "pairs.json", json.dumps(meta, indent=1).encode())

    @classmethod
    def load(cls, path: str | Path) -> "GenZPairs":
        """Load a model written by :meth:`save` (or a ``genz fit-pairs`` run directory)."""
        from .errors import CorruptFileError
        from .estimator import GenZRegressor

        path = Path(path)
        mfile = path / "pairs.json"
        if not mfile.exists() or not (path / "factors.npz").exists():
            raise GenZInputError(f"{path}: not a two-sided genz model (pairs.json and factors.npz expected)")
        try:
            meta = json.loads(mfile.read_text())
        except json.JSONDecodeError as exc:
            raise CorruptFileError(f"{mfile}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if meta.get("format") != "genz-pairs/1":
            raise CorruptFileError(f"{mfile}: not a genz two-sided model file")
        with np.load(path / "factors.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        self = cls(**{"offsets": "joint", **meta["params"]})  # files before separate offsets: joint
        self.factors_ = Factors(mu=float(meta["mu"]), alpha=float(meta["alpha"]), fill=meta["fill"], **arrays)
        self.user_ids_, self.item_ids_ = list(meta["user_ids"]), list(meta["item_ids"])
        self.users_ = GenZRegressor.load(path / "users" / "model")
        self.items_ = GenZRegressor.load(path / "items" / "model")
        for side in ("users", "items"):
            where = path / f"{side[:-1]}_offsets" / "model"
            setattr(self, f"{side[:-1]}_offsets_", GenZRegressor.load(where) if self._separate(side) else None)
        self.interactions_ = Interactions.from_json(meta["interactions"])
        return self
