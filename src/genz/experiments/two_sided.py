"""The two-sided experiment (paper Appendix C): ratings of new users for new movies.

For seed ``s``, the users are split by ``train_test_split_indices(n_users, s)`` and the ``n_items``
most-rated movies (default 512) by ``train_test_split_indices(n_items, s)``: 20% of each are held
out. Every method sees only the training block (training users × training movies) plus the
semantics of all users and movies; it is scored on the held-out block (held-out users ×
held-out movies, both sides new):

* RMSE of the predicted rating over the held-out block's ratings;
* for each held-out user with at least one held-out movie rated ≥ 4 and one rated ≤ 2, the AUC
  of ranking the former above the latter (ties count ½), averaged over those users.

Methods, in the same splits:

* ``genz``: :class:`genz.pairs.GenZPairs` — offsets + rank-k SVD of the training block, one GenZ
  model per side (and one for the movies' offsets, ``offsets="items"``), rating
  ``μ + b̂_u + ĉ_i + û·v̂``;
* ``movie-side``: the same model's movie side with the mean training user;
* ``user-side``: its user side with the mean training movie (constant within a user: AUC ½);
* ``global-mean``: the training mean rating;
* ``group-genre-mean``: the training mean rating of the user's demographic group (gender × age)
  for each of the movie's genres (damped toward the group's mean), averaged over its genres;
* ``movie-ridge``: ``RidgeCV`` of the ratings on the movie's multi-hot genres + one-hot decade
  alone, no user information (every user gets the same ranking);
* ``bilinear-ridge``: ``RidgeCV`` of the ratings on one-hot demographics (gender, age,
  occupation), multi-hot genres + one-hot decade, and every demographic × (genre or decade)
  product (:func:`genz.pairs.fit_bilinear`);
* ``warm-svd`` (ceiling, shown for scale): the same factorisation fitted on every rating except
  the held-out block, so both the user and the movie are warm.

The summary gives mean ± std over seeds and, for every peer, the paired per-seed difference
``genz − peer`` with a 95% t-interval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import GenZInputError
from ..items import Item
from ..selection import union_share
from .runner import environment
from .splits import train_test_split_indices

__all__ = [
    "TwoSidedData",
    "TwoSidedConfig",
    "load_two_sided",
    "split_blocks",
    "movie_ridge",
    "bilinear_ridge",
    "rmse",
    "mean_user_auc",
    "paired_interval",
    "run_two_sided",
    "print_two_sided",
    "markdown_two_sided",
]

#: chosen on development seeds 100-104 (docs/experiments.md); see TwoSidedConfig
DEFAULT_GENZ_SETTINGS: dict[str, Any] = {"cycles": 4, "advanced": {"n_candidates": 10}, "algorithm": "simple"}
#: settings of the movie side on top of DEFAULT_GENZ_SETTINGS (410 movies are cheap; 4832 users are not)
DEFAULT_ITEM_SETTINGS: dict[str, Any] = {"cycles": 15, "advanced": {"n_candidates": 20}, "algorithm": "targeted"}
DEFAULT_K = 4
#: which readout is "genz" (the other is reported as a second row): "embeddings" or "ratings"
DEFAULT_READOUT = "embeddings"
#: which sides' offsets get a GenZ model of their own (:data:`genz.pairs.OFFSETS`); chosen on
#: development seeds 100-104 (docs/experiments.md)
DEFAULT_OFFSETS = "items"


@dataclass
class TwoSidedData:
    """Users and movies as items, with the users × movies rating matrix (0 = not rated)."""

    users: list[Item]
    movies: list[Item]
    R: sp.csr_matrix
    name: str = "movielens-1m"


def movie_item(m: Any) -> Item:
    """A movie as an item: ``"Title (year)"`` with attributes title, year, genres."""
    attrs: dict[str, Any] = {"title": m.title}
    if m.year is not None:
        attrs["year"] = m.year
    if m.genres:
        attrs["genres"] = list(m.genres)
    return Item(id=str(m.id), text=m.text, attributes=attrs)


def load_two_sided(data_dir: str | Path, format: str = "movielens-1m", n_items: int = 512) -> TwoSidedData:
    """MovieLens 1M users (``users.dat``), the ``n_items`` most-rated movies, and their ratings."""
    from ..datasets.movies import read_ratings
    from ..datasets.users import read_movielens_users

    if format != "movielens-1m":
        raise GenZInputError(f"the two-sided experiment needs user attributes: format must be movielens-1m, not {format!r}")
    data_dir = Path(data_dir)
    ratings, movies = read_ratings(data_dir, format)
    users = read_movielens_users(data_dir / "users.dat")
    upos = {int(it.id): n for n, it in enumerate(users)}
    unknown = np.setdiff1d(np.unique(ratings.users), np.array(sorted(upos), dtype=np.int64))
    if unknown.size:
        raise GenZInputError(f"{ratings.source}: user {unknown[0]} has ratings but no line in users.dat")
    counts = np.bincount(np.searchsorted(np.array(sorted(movies)), ratings.items), minlength=len(movies))
    mids = np.array(sorted(movies), dtype=np.int64)
    if n_items > len(mids):
        raise GenZInputError(f"asked for the {n_items} most-rated movies but only {len(mids)} exist")
    top = mids[np.lexsort((mids, -counts))[:n_items]]
    col = {int(m): j for j, m in enumerate(top)}
    keep = np.isin(ratings.items, top)
    rows = np.array([upos[int(u)] for u in ratings.users[keep]])
    cols = np.array([col[int(m)] for m in ratings.items[keep]])
    R = sp.csr_matrix((ratings.values[keep], (rows, cols)), shape=(len(users), n_items))
    return TwoSidedData(users=users, movies=[movie_item(movies[int(m)]) for m in top], R=R)


@dataclass
class Blocks:
    """One seed's split: user and movie index sets and the training / held-out blocks."""

    users_tr: np.ndarray
    users_te: np.ndarray
    movies_tr: np.ndarray
    movies_te: np.ndarray
    R_train: sp.csr_matrix  # training users × training movies
    R_test: sp.csr_matrix  # held-out users × held-out movies
    R_warm: sp.csr_matrix  # all users × all movies, held-out block removed


def split_blocks(R: sp.csr_matrix, seed: int, test_frac: float = 0.2) -> Blocks:
    """Hold out ``test_frac`` of the users and of the movies (the repository's split convention)."""
    R = sp.csr_matrix(R)
    utr, ute = train_test_split_indices(R.shape[0], seed, test_frac)
    mtr, mte = train_test_split_indices(R.shape[1], seed, test_frac)
    test_mask = sp.csr_matrix(
        (np.ones(len(ute) * len(mte)), (np.repeat(ute, len(mte)), np.tile(mte, len(ute)))), shape=R.shape
    )
    warm = R - R.multiply(test_mask)
    warm.eliminate_zeros()
    return Blocks(utr, ute, mtr, mte, R[utr][:, mtr].tocsr(), R[ute][:, mte].tocsr(), sp.csr_matrix(warm))


# --------------------------------------------------------------------------- metrics


def rmse(R_test: sp.csr_matrix, S: np.ndarray) -> float:
    """RMSE of the dense prediction ``S`` over the stored cells of ``R_test``."""
    R = sp.coo_matrix(R_test)
    return float(np.sqrt(np.mean((S[R.row, R.col] - R.data) ** 2)))


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties ½ (Mann-Whitney)."""
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def mean_user_auc(R_test: sp.csr_matrix, S: np.ndarray, pos_min: float = 4.0, neg_max: float = 2.0) -> tuple[float, int]:
    """Mean over users of the AUC of their held-out movies rated ≥ ``pos_min`` against those rated
    ≤ ``neg_max``; users without both are skipped. Returns ``(mean AUC, users counted)``."""
    R = sp.csr_matrix(R_test)
    aucs = []
    for u in range(R.shape[0]):
        lo, hi = R.indptr[u], R.indptr[u + 1]
        cols, vals = R.indices[lo:hi], R.data[lo:hi]
        pos, neg = cols[vals >= pos_min], cols[vals <= neg_max]
        if len(pos) and len(neg):
            aucs.append(_auc(S[u, pos], S[u, neg]))
    return (float(np.mean(aucs)) if aucs else float("nan")), len(aucs)


def paired_interval(diffs: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean of paired per-seed differences with its ``level`` t-interval."""
    from scipy.stats import t

    d = np.asarray([x for x in diffs if x is not None and np.isfinite(x)], dtype=float)
    if d.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    m = float(d.mean())
    if d.size < 2:
        return {"mean": m, "low": float("nan"), "high": float("nan"), "n": int(d.size)}
    h = float(t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    return {"mean": m, "low": m - h, "high": m + h, "n": int(d.size)}


# --------------------------------------------------------------------------- peers


def _group(it: Item) -> str:
    return f"{it.attributes.get('gender')}|{it.attributes.get('age')}"


def _genres(it: Item) -> list[str]:
    g = it.attributes.get("genres") or []
    return [str(x) for x in g] if isinstance(g, list) else [str(g)]


def _decade(it: Item) -> list[str]:
    y = it.attributes.get("year")
    return [f"{int(y) // 10 * 10}s"] if isinstance(y, (int, float)) and not isinstance(y, bool) else []


def group_genre_mean(users_tr: list[Item], movies_tr: list[Item], R_train: sp.csr_matrix,
                     users_te: list[Item], movies_te: list[Item], damping: float = 10.0) -> np.ndarray:
    """Training mean rating of each (gender × age group, genre), damped toward the group's mean;
    a movie's score is the average over its genres."""
    R = sp.coo_matrix(R_train)
    groups = sorted({_group(u) for u in users_tr} | {_group(u) for u in users_te})
    gpos = {g: j for j, g in enumerate(groups)}
    genres = sorted({g for m in movies_tr for g in _genres(m)})
    hpos = {g: j for j, g in enumerate(genres)}
    ug = np.array([gpos[_group(u)] for u in users_tr])
    H = np.zeros((len(movies_tr), len(genres)))
    for j, m in enumerate(movies_tr):
        for g in _genres(m):
            H[j, hpos[g]] = 1.0
    mu = R.data.mean()
    G = sp.csr_matrix((np.ones(len(ug)), (ug, np.arange(len(ug)))), shape=(len(groups), len(users_tr)))
    n_g = np.asarray(G @ (R_train != 0).astype(float).sum(axis=1)).ravel()
    s_g = np.asarray(G @ R_train.sum(axis=1)).ravel()
    gmean = (s_g + damping * mu) / (n_g + damping)
    S = G @ R_train @ H  # group × genre sums
    N = G @ (R_train != 0).astype(float) @ H
    table = (np.asarray(S) + damping * gmean[:, None]) / (np.asarray(N) + damping)
    He = np.zeros((len(movies_te), len(genres)))
    for j, m in enumerate(movies_te):
        for g in _genres(m):
            if g in hpos:
                He[j, hpos[g]] = 1.0
    cnt = He.sum(axis=1)
    te_g = np.array([gpos[_group(u)] for u in users_te])
    out = (table[te_g] @ He.T) / np.maximum(cnt, 1)[None, :]
    out[:, cnt == 0] = gmean[te_g][:, None]
    return out


class _OneHot:
    """One-hot (multi-hot) columns of the string levels seen in training; unseen levels: zeros."""

    def __init__(self, values: Sequence[Sequence[str]]) -> None:
        self.levels = sorted({v for vs in values for v in vs})
        self.pos = {v: j for j, v in enumerate(self.levels)}

    def __call__(self, values: Sequence[Sequence[str]]) -> np.ndarray:
        X = np.zeros((len(values), len(self.levels)))
        for n, vs in enumerate(values):
            for v in vs:
                if v in self.pos:
                    X[n, self.pos[v]] = 1.0
        return X


def _user_cats(u: Item) -> list[str]:
    a = u.attributes
    return [f"gender={a.get('gender')}", f"age={a.get('age')}", f"occupation={a.get('occupation')}"]


def _movie_cats(m: Item) -> list[str]:
    return [f"genre={g}" for g in _genres(m)] + [f"decade={d}" for d in _decade(m)]


#: the penalty grid of the two-sided ridge peers (one-hot designs, ~340,000 ratings)
PEER_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 17))


def movie_ridge(movies_tr: list[Item], R_train: sp.csr_matrix, users_te: list[Item], movies_te: list[Item]
                ) -> tuple[np.ndarray, float]:
    """``RidgeCV`` of every training rating on its movie's multi-hot genres + one-hot decade,
    no user information (the same score for every user: it ranks a user's movies by what the
    genres and decade say of them). Returns the held-out predictions and the chosen penalty."""
    from sklearn.linear_model import RidgeCV

    enc = _OneHot([_movie_cats(m) for m in movies_tr])
    R = sp.coo_matrix(R_train)
    X = sp.csr_matrix(enc([_movie_cats(m) for m in movies_tr]))[R.col]
    model = RidgeCV(alphas=list(PEER_ALPHAS)).fit(X, R.data.astype(float))
    scores = model.predict(enc([_movie_cats(m) for m in movies_te]))
    return np.tile(scores, (len(users_te), 1)), float(model.alpha_)


def bilinear_ridge(users_tr: list[Item], movies_tr: list[Item], R_train: sp.csr_matrix,
                   users_te: list[Item], movies_te: list[Item]) -> tuple[np.ndarray, float]:
    """``RidgeCV`` of the training ratings on one-hot demographics (gender, age, occupation),
    multi-hot genres + one-hot decade, and every demographic × (genre or decade) product
    (:func:`genz.pairs.fit_bilinear`). Returns the held-out predictions and the chosen penalty."""
    from ..pairs import fit_bilinear

    fu, fm = _OneHot([_user_cats(u) for u in users_tr]), _OneHot([_movie_cats(m) for m in movies_tr])
    const, um, im, M, alpha = fit_bilinear(fu([_user_cats(u) for u in users_tr]), fm([_movie_cats(m) for m in movies_tr]),
                                           R_train, alphas=PEER_ALPHAS)
    Xut, Xmt = fu([_user_cats(u) for u in users_te]), fm([_movie_cats(m) for m in movies_te])
    return const + (Xut @ um)[:, None] + (Xmt @ im)[None, :] + Xut @ M @ Xmt.T, alpha


# --------------------------------------------------------------------------- the experiment


@dataclass
class TwoSidedConfig:
    """What to run: seeds, the SVD rank ``k`` and scale split ``alpha``, GenZ settings for both
    sides (``genz_settings``, applied with ``set_params`` to ``GenZRegressor(random_state=seed)``)
    and extra settings of the movie side only (``item_settings``)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    k: int = DEFAULT_K
    alpha: float = 0.5
    fill: str = "svd"
    test_frac: float = 0.2
    fm: str = "predicates"
    genz_settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_GENZ_SETTINGS))
    item_settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ITEM_SETTINGS))
    run_genz: bool = True
    keep_predictions: bool = False
    readout: str = DEFAULT_READOUT
    both_readouts: bool = False
    offsets: str = DEFAULT_OFFSETS


def side_routes(model: Any) -> dict[str, Any]:
    """Per fitted side of a :class:`genz.pairs.GenZPairs` (users, movies, and their offsets' models
    when separate): the route its predictor took (``numbers_route_["inputs"]``: ``"table"``,
    ``"text"``, ``"numbers"``; None for none) and the text check's z (the words' ridge against the
    structure), union z (its prediction beside the structure; computed with the text route) and
    union gain as a share of the structure's untouched-row loss (``text_union_rel``)."""
    out: dict[str, Any] = {}
    for side in ("users_", "items_", "user_offsets_", "item_offsets_"):
        est = getattr(model, side, None)
        if est is None:
            continue
        route, text = getattr(est, "numbers_route_", None), getattr(est, "text_check_", None) or {}
        z = (lambda a, b: round(text[a] / text[b], 2) if text.get(b) else None)
        share = union_share(text)
        tree = getattr(est, "tree_route_", None)
        out[side.rstrip("_")] = {"route": None if not route else route.get("inputs", "numbers"),
                                 "text_z": z("diff", "se"), "text_union_z": z("union_gain", "union_se"),
                                 "text_union_rel": None if share is None else round(share, 4),
                                 "tree": None if not tree else {  # the tree route's check (Selection.tree_route)
                                     "route": bool(tree["route"]), "alpha": round(float(tree["alpha"]), 4),
                                     "z": round(tree["gain"] / tree["se"], 2) if tree["se"] else None,
                                     "rel": round(tree["gain"] / tree["loss"], 4) if tree["loss"] else None}}
    return out


def make_side_estimator(seed: int, settings: dict[str, Any], fm: str = "predicates") -> Any:
    """``GenZRegressor(random_state=seed)`` with ``settings`` (and ``fm``) applied through
    ``set_params``; a setting the estimator does not have is an error, not silently dropped."""
    from ..estimator import GenZRegressor

    est = GenZRegressor(random_state=seed)
    have = est.get_params(deep=False)
    params = dict(settings)
    if fm != "predicates" or "fm" in have:
        params.setdefault("fm", fm)
    unknown = [k for k in params if k not in have]
    if unknown:
        raise GenZInputError(f"GenZRegressor has no setting {', '.join(unknown)}")
    return est.set_params(**params)


def run_two_sided(
    data: TwoSidedData,
    cfg: TwoSidedConfig,
    *,
    make_estimator: Callable[[int, str], Any] | None = None,
    progress: Callable[[str], None] | None = None,
    on_seed: Callable[[dict[str, Any]], None] | None = None,
    done: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run every method on every seed of ``cfg``. ``make_estimator(seed, side)`` builds each
    side's unfitted estimator (default :func:`make_side_estimator`). ``done`` holds finished
    seeds' records (resume); ``on_seed(record)`` is called after each seed."""
    from ..pairs import GenZPairs, factorize

    say = progress or (lambda msg: None)
    if make_estimator is None:
        def make_estimator(seed: int, side: str) -> Any:
            settings = {**cfg.genz_settings, **(cfg.item_settings if side == "items" else {})}
            return make_side_estimator(seed, settings, cfg.fm)
    per_seed = []
    for seed in cfg.seeds:
        if done and seed in done:
            per_seed.append(done[seed])
            continue
        bl = split_blocks(data.R, seed, cfg.test_frac)
        utr = [data.users[i] for i in bl.users_tr]
        ute = [data.users[i] for i in bl.users_te]
        mtr = [data.movies[i] for i in bl.movies_tr]
        mte = [data.movies[i] for i in bl.movies_te]
        methods: dict[str, Any] = {}
        methods_pred: dict[str, np.ndarray] = {}

        def score(name: str, S: np.ndarray, seconds: float, **extra: Any) -> None:
            auc, n_auc = mean_user_auc(bl.R_test, S)
            methods[name] = {"rmse": rmse(bl.R_test, S), "auc": auc, "n_auc_users": n_auc, "seconds": seconds, **extra}
            say(f"seed {seed}: {name}: RMSE {methods[name]['rmse']:.4f}, mean user AUC {auc:.4f}")

        if cfg.run_genz:
            t0 = time.perf_counter()
            model = GenZPairs(make_estimator(seed, "users"), make_estimator(seed, "items"), k=cfg.k, alpha=cfg.alpha,
                              fill=cfg.fill, offsets=cfg.offsets)
            say(f"seed {seed}: genz ({len(utr)} users × {len(mtr)} movies, {bl.R_train.nnz} ratings)")
            model.fit(utr, mtr, bl.R_train)
            secs = time.perf_counter() - t0
            Pu, Pi = model.side_predictions(ute, mte)
            f = model.factors_
            S = f.mu + Pu[:, :1] + Pi[:, 0][None, :] + Pu[:, 1:] @ Pi[:, 1:].T
            if cfg.keep_predictions:
                methods_pred["genz" if cfg.readout == "embeddings" else "genz-embeddings"] = S
            emb_name, rat_name = ("genz", "genz-ratings") if cfg.readout == "embeddings" else ("genz-embeddings", "genz")
            extra = {"item_offset_features": list(model.item_offsets_.features_)} if model.item_offsets_ is not None else {}
            score(emb_name, S, secs, user_features=list(model.users_.features_),
                  item_features=list(model.items_.features_), interactions=model.interactions_.table(15),
                  routes=side_routes(model), **extra)
            if cfg.both_readouts or cfg.readout == "ratings":
                t0 = time.perf_counter()
                inter_r = model.rating_readout(utr, mtr, bl.R_train)
                S_r = inter_r.value(model.judgments("users", ute), model.judgments("items", mte))
                if cfg.keep_predictions:
                    methods_pred[rat_name] = S_r
                score(rat_name, S_r, secs + time.perf_counter() - t0, interactions=inter_r.table(15),
                      ridge_alpha=inter_r.exact["ridge_alpha"])
            Ubar = f.user_targets().mean(axis=0)
            Vbar = f.item_targets().mean(axis=0)
            score("movie-side", f.mu + Ubar[0] + Pi[:, 0][None, :] + (Pi[:, 1:] @ Ubar[1:])[None, :].repeat(len(ute), 0), 0.0)
            score("user-side", f.mu + Pu[:, :1] + Vbar[0] + (Pu[:, 1:] @ Vbar[1:])[:, None].repeat(len(mte), 1), 0.0)
        t0 = time.perf_counter()
        score("global-mean", np.full((len(ute), len(mte)), bl.R_train.data.mean()), time.perf_counter() - t0)
        t0 = time.perf_counter()
        score("group-genre-mean", group_genre_mean(utr, mtr, bl.R_train, ute, mte), time.perf_counter() - t0)
        t0 = time.perf_counter()
        S, alpha = movie_ridge(mtr, bl.R_train, ute, mte)
        score("movie-ridge", S, time.perf_counter() - t0, alpha=alpha)
        t0 = time.perf_counter()
        S, alpha = bilinear_ridge(utr, mtr, bl.R_train, ute, mte)
        score("bilinear-ridge", S, time.perf_counter() - t0, alpha=alpha)
        t0 = time.perf_counter()
        fw = factorize(bl.R_warm, cfg.k, alpha=cfg.alpha, fill=cfg.fill)
        rows, cols = np.meshgrid(bl.users_te, bl.movies_te, indexing="ij")
        S_warm = fw.predict(rows.ravel(), cols.ravel()).reshape(rows.shape)
        if cfg.keep_predictions:
            methods_pred["warm-svd"] = S_warm
        score("warm-svd", S_warm, time.perf_counter() - t0)
        rec = {"seed": seed, "n_users_train": len(utr), "n_users_test": len(ute), "n_movies_train": len(mtr),
               "n_movies_test": len(mte), "n_train_ratings": int(bl.R_train.nnz), "n_test_ratings": int(bl.R_test.nnz),
               "methods": methods}
        if cfg.keep_predictions:
            rec["predictions"] = methods_pred
        per_seed.append(rec)
        if on_seed:
            on_seed(rec)
    result = {"experiment": "two-sided", "dataset": data.name, "n_users": len(data.users), "n_movies": len(data.movies),
              "config": asdict(cfg), "seeds": per_seed,
              "platform": environment()}
    result["summary"] = summarize_two_sided(result)
    return result


LABELS = {
    "genz": "genz two-sided, eq. 37 readout (û·v̂ + offsets)",
    "genz-ratings": "genz two-sided, features' bilinear form refitted on ratings",
    "genz-embeddings": "genz two-sided, eq. 37 readout (û·v̂ + offsets)",
    "movie-side": "movie side only (genz movies, mean user)",
    "user-side": "user side only (genz users, mean movie)",
    "global-mean": "global training mean",
    "group-genre-mean": "gender×age group × genre training mean",
    "movie-ridge": "ridge on the movie's genres + decade (no user information)",
    "bilinear-ridge": "bilinear ridge: demographics ⊗ (genres + decade) + main effects",
    "warm-svd": "warm SVD ceiling (both sides seen)",
}


def _f(x: Any) -> float:
    """A stored metric as a float (JSON null, i.e. not measurable, as NaN)."""
    return float("nan") if x is None else float(x)


def summarize_two_sided(result: dict[str, Any]) -> dict[str, Any]:
    """Mean ± std per method and metric, and paired differences ``genz − method`` (95% t)."""
    names: list[str] = []
    for rec in result["seeds"]:
        names += [m for m in rec["methods"] if m not in names]
    out: dict[str, Any] = {}
    for m in names:
        runs = [rec["methods"].get(m) for rec in result["seeds"]]
        label = LABELS.get(m, m)
        if m == "genz" and result.get("config", {}).get("readout") == "ratings":
            label = LABELS["genz-ratings"]
        s: dict[str, Any] = {"label": label}
        for metric in ("rmse", "auc", "seconds"):
            v = np.array([_f(r[metric]) for r in runs if r is not None], dtype=float)
            ok = v[np.isfinite(v)]
            s[metric] = {"mean": float(ok.mean()) if ok.size else float("nan"),
                         "std": float(ok.std()) if ok.size else float("nan"), "per_seed": v.tolist()}
        if m != "genz" and all("genz" in rec["methods"] for rec in result["seeds"]):
            for metric in ("rmse", "auc"):
                d = [_f(rec["methods"]["genz"][metric]) - _f(rec["methods"][m][metric])
                     for rec in result["seeds"] if m in rec["methods"]]
                s[f"diff_{metric}"] = paired_interval(d)
        out[m] = s
    return out


def _ci(d: dict[str, float] | None) -> str:
    if not d or d["n"] == 0:
        return "–"
    if not np.isfinite(d["low"]):
        return f"{d['mean']:+.4f}"
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["method", "RMSE", "mean user AUC", "genz − method: RMSE (95% CI)", "genz − method: AUC (95% CI)", "seconds"]
    rows = []
    for name, s in result["summary"].items():
        rows.append([s["label"], f"{s['rmse']['mean']:.4f} ± {s['rmse']['std']:.4f}",
                     f"{s['auc']['mean']:.4f} ± {s['auc']['std']:.4f}", _ci(s.get("diff_rmse")), _ci(s.get("diff_auc")),
                     f"{s['seconds']['mean']:.1f}"])
    return header, rows


def print_two_sided(result: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=160)
    header, rows = table_rows(result)
    seeds = [r["seed"] for r in result["seeds"]]
    t = Table(title=f"{result['dataset']}: new users × new movies, mean ± std over seeds {seeds}")
    for h in header:
        t.add_column(h, justify="left" if h == "method" else "right")
    for r in rows:
        t.add_row(*r)
    console.print(t)


def markdown_two_sided(result: dict[str, Any]) -> str:
    header, rows = table_rows(result)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
