"""The cold-start simulation (paper Fig. 5; docs/equations.md §8): a new movie's embedding
*folded in* from its rating column ``r`` with the user factors of the SVD held fixed — the
least-squares solution of ``r ≈ (P S) v``, ``v = S⁻¹ Pᵀ r`` (convention ``V``) or ``v S = Pᵀ r``
(``VS``), unrated entries at 0 as in the SVD itself. :func:`cold_start_curve` adds a movie's
ratings one at a time in random order and tracks the cosine similarity to its full-data
embedding; :func:`worth_in_ratings` reads a cosine similarity off that curve as a number of
ratings. The embeddings come from :mod:`genz.datasets.movies`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import GenZInputError
from .movies import SVDEmbedding, _check_convention

__all__ = ["fold_in", "cold_start_curve", "worth_in_ratings"]


def fold_in(svd: SVDEmbedding, users: np.ndarray, ratings: np.ndarray, convention: str = "V") -> np.ndarray:
    """Embedding of a movie from (row index, rating) pairs with the user factors fixed:
    least squares of ``r ≈ (P S) v`` with unrated entries 0, i.e. ``S⁻¹ Pᵀ r`` (``V``) or
    ``Pᵀ r`` (``VS``)."""
    _check_convention(convention)
    e = svd.P[np.asarray(users, dtype=int)].T @ np.asarray(ratings, dtype=float)
    return e / svd.s if convention == "V" else e


def _cosine_rows(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (A @ b) / (na * nb)
    return np.where(na > 0, c, 0.0)


def cold_start_curve(
    R: sp.spmatrix,
    svd: SVDEmbedding,
    columns: Iterable[int] | None = None,
    *,
    n_movies: int = 100,
    max_ratings: int = 4000,
    convention: str = "V",
    seed: int = 0,
    grid: Iterable[int] | None = None,
    per: str = "rating",
) -> dict[str, Any]:
    """The cold-start simulation of the paper's Fig. 5.

    ``n_movies`` movies are drawn at random from ``columns`` (default: all columns of ``R``).
    For each, its ratings are folded in (:func:`fold_in`) one at a time in a random order and
    the cosine similarity to its full-data embedding (the row of ``V`` or ``V·S``) is recorded
    after every rating. A movie with fewer ratings than ``n`` has all of them in at ``n``
    (so its similarity is 1 from then on); ``frac_complete`` reports the share of such movies
    at each grid point.

    ``per="rating"`` (default) counts ratings: the x-axis is the number of the movie's actual
    ratings folded in. ``per="user"`` counts users *exposed* to the movie, drawn at random
    from all users, most of whom did not rate it (they add a 0, which leaves the fold-in
    unchanged); the paper's Fig. 5 ("thousands of users would need to be exposed to the
    movie, many skipping it, and some rating it") reads this way.

    Returns ``{"counts", "mean", "q05", "q95", "frac_complete", "n_movies", "convention",
    "seed", "per"}`` (lists over the grid of counts).
    """
    if per not in ("rating", "user"):
        raise GenZInputError(f"per must be 'rating' or 'user', not {per!r}")
    _check_convention(convention)
    R = sp.csc_matrix(R)
    cols = np.arange(R.shape[1]) if columns is None else np.asarray(list(columns), dtype=int)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(cols, size=min(n_movies, len(cols)), replace=False)
    full = svd.item_embeddings(convention)
    n_of = np.diff(R.indptr)[chosen]
    if per == "user":
        n_of = np.full(len(chosen), R.shape[0])
    top = int(min(max_ratings, n_of.max()))
    if grid is None:
        grid_arr = np.unique(
            np.concatenate(
                [
                    np.arange(1, 10),
                    np.round(np.geomspace(10, max(top, 10), 60)).astype(int),
                    [10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 4000, top],
                ]
            )
        )
        grid_arr = grid_arr[grid_arr <= top]
    else:
        grid_arr = np.asarray(sorted(set(int(g) for g in grid)), dtype=int)
    sims = np.empty((len(chosen), len(grid_arr)))
    for j, c in enumerate(chosen):
        lo, hi = R.indptr[c], R.indptr[c + 1]
        users, vals = R.indices[lo:hi], R.data[lo:hi]
        if per == "rating":
            order = rng.permutation(len(users))
            n_in = np.minimum(grid_arr, len(users))  # ratings folded in at each grid point
        else:
            position = rng.permutation(R.shape[0])[users]  # when each rater is exposed
            order = np.argsort(position, kind="stable")
            n_in = np.searchsorted(position[order], grid_arr, side="left")
        contrib = svd.P[users[order]] * vals[order, None]
        if convention == "V":
            contrib = contrib / svd.s
        path = np.cumsum(contrib, axis=0)  # fold-in after 1, 2, ... ratings
        cs = np.concatenate([[0.0], _cosine_rows(path, full[c])])  # 0 ratings: similarity 0
        sims[j] = cs[n_in]
    return {
        "counts": grid_arr.tolist(),
        "mean": sims.mean(axis=0).tolist(),
        "q05": np.quantile(sims, 0.05, axis=0).tolist(),
        "q95": np.quantile(sims, 0.95, axis=0).tolist(),
        "frac_complete": (n_of[:, None] <= grid_arr[None, :]).mean(axis=0).tolist(),
        "n_movies": int(len(chosen)),
        "movie_columns": chosen.tolist(),
        "convention": convention,
        "seed": seed,
        "per": per,
    }


def worth_in_ratings(cs: float, curve: dict[str, Any]) -> float:
    """How many ratings a cold-start movie needs for its folded-in embedding to reach a mean
    cosine similarity of ``cs`` on ``curve`` (linear interpolation between grid points).

    Returns 0.0 below the curve's first point and ``math.inf`` above its last (the curve
    never reaches ``cs`` within ``max_ratings``)."""
    counts = np.asarray(curve["counts"], dtype=float)
    mean = np.maximum.accumulate(np.asarray(curve["mean"], dtype=float))  # monotone envelope
    if not np.isfinite(cs):
        raise GenZInputError(f"cosine similarity {cs!r} is not a finite number")
    if cs <= mean[0]:
        return float(counts[0]) if cs == mean[0] else 0.0
    if cs > mean[-1]:
        return math.inf
    j = int(np.searchsorted(mean, cs, side="left"))
    c0, c1, m0, m1 = counts[j - 1], counts[j], mean[j - 1], mean[j]
    if m1 == m0:
        return float(c1)
    return float(c0 + (cs - m0) / (m1 - m0) * (c1 - c0))
