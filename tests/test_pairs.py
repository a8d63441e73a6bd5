"""The two-sided model (paper Appendix C): the SVD split of eq. (36), pair predictions as the
bilinear form of the two sides' predicted embeddings, the MovieLens 1M user loader, and a
doubly cold pair that uses no rating of either side."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from genz import GenZRegressor
from genz.datasets.users import load_entities, read_movielens_users
from genz.errors import GenZInputError
from genz.experiments.two_sided import (
    TwoSidedConfig, TwoSidedData, load_two_sided, mean_user_auc, paired_interval, run_two_sided, split_blocks,
)  # fmt: skip
from genz.items import Item
from genz.pairs import GenZPairs, factorize, offsets, split_svd

FIX = Path(__file__).parent / "fixtures"


# --------------------------------------------------------------------------- eq. (36)


def _dense_case(seed: int = 0, n: int = 9, m: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3 + rng.normal(size=(n, 1)) + rng.normal(size=(1, m)) + rng.normal(size=(n, 3)) @ rng.normal(size=(3, m))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 0.3])
def test_svd_split_matches_numpy_with_its_scale_convention(alpha):
    Y = _dense_case()
    f = factorize(sp.csr_matrix(Y), k=3, alpha=alpha, fill="svd", damping_user=0.0, damping_item=0.0)
    # offsets of a fully observed matrix with no damping: grand mean, column and row means
    mu = Y.mean()
    c = Y.mean(axis=0) - mu
    b = (Y - mu - c).mean(axis=1)
    assert np.allclose([f.mu], [mu]) and np.allclose(f.c, c) and np.allclose(f.b, b)
    E = Y - mu - b[:, None] - c[None, :]
    P, s, Qt = np.linalg.svd(E, full_matrices=False)
    P, s, Q = P[:, :3], s[:3], Qt[:3].T
    signs = np.sign(np.sum(f.Q * Q, axis=0))  # numpy's sign per component
    assert np.allclose(f.s, s)
    # eq. (36): users carry S^alpha, items S^(1-alpha)
    assert np.allclose(f.U, (P * signs) * s**alpha, atol=1e-8)
    assert np.allclose(f.V, (Q * signs) * s ** (1 - alpha), atol=1e-8)
    assert np.allclose(f.U @ f.V.T, (P * s) @ Q.T, atol=1e-8)
    # the targets handed to the two GenZ models: [offset, embedding]
    assert np.allclose(f.user_targets()[:, 0], b) and np.allclose(f.user_targets()[:, 1:], f.U)
    assert np.allclose(f.predict(np.array([2]), np.array([5])), mu + b[2] + c[5] + (P * s)[2] @ Q[5])


def test_split_svd_is_eq36_and_rejects_bad_alpha():
    rng = np.random.default_rng(1)
    P, s, Q = np.linalg.qr(rng.normal(size=(6, 3)))[0], np.array([3.0, 2.0, 0.5]), np.linalg.qr(rng.normal(size=(5, 3)))[0]
    U, V = split_svd(P, s, Q, 0.5)
    assert np.allclose(U @ V.T, (P * s) @ Q.T)
    assert np.allclose(np.linalg.norm(U, axis=0), np.sqrt(s)) and np.allclose(np.linalg.norm(V, axis=0), np.sqrt(s))
    with pytest.raises(GenZInputError):
        split_svd(P, s, Q, 1.5)


def test_zero_fill_is_the_sparse_svd_of_the_residuals_and_svd_fill_fits_observed_cells():
    Y = _dense_case(2, 12, 8)
    mask = np.random.default_rng(3).random(Y.shape) < 0.7
    R = sp.csr_matrix((Y[mask], np.nonzero(mask)), shape=Y.shape)
    mu, b, c = offsets(R, 0.0, 0.0)
    E = np.where(mask, Y - mu - b[:, None] - c[None, :], 0.0)
    f0 = factorize(R, k=2, fill="zero", damping_user=0.0, damping_item=0.0)
    P, s, Qt = np.linalg.svd(E)
    assert np.allclose(f0.s, s[:2]) and np.allclose(f0.U @ f0.V.T, (P[:, :2] * s[:2]) @ Qt[:2], atol=1e-8)
    # iterative imputation fits the observed cells better than treating missing cells as 0
    f1 = factorize(R, k=2, fill="svd", damping_user=0.0, damping_item=0.0)
    r, col = np.nonzero(mask)
    err = [np.mean((f.predict(r, col) - Y[mask]) ** 2) for f in (f0, f1)]
    assert err[1] < err[0]


# --------------------------------------------------------------------------- a small two-sided world


def _world(n_users: int = 80, n_items: int = 40, seed: int = 0):
    """Users with a 'group' and items with a 'kind'; group A likes kind x, group B kind y."""
    rng = np.random.default_rng(seed)
    users = [Item(id=f"u{n}", text=f"user in group {'AB'[n % 2]}", attributes={"group": "AB"[n % 2], "age": int(20 + n % 5 * 10)})
             for n in range(n_users)]
    items = [Item(id=f"i{n}", text=f"a {'xy'[n % 2]} item", attributes={"kind": "xy"[n % 2], "year": 1990 + n % 7})
             for n in range(n_items)]
    g = np.array([n % 2 for n in range(n_users)])
    h = np.array([n % 2 for n in range(n_items)])
    Y = 3.0 + np.where(g[:, None] == h[None, :], 1.0, -1.0) + 0.3 * rng.normal(size=(n_users, n_items))
    mask = rng.random(Y.shape) < 0.6
    return users, items, sp.csr_matrix((np.clip(Y, 1, 5)[mask], np.nonzero(mask)), shape=Y.shape)


def _small_est(seed: int = 0, cycles: int = 3) -> GenZRegressor:
    """A GenZRegressor with a short schedule (where the estimator has a ``cycles`` setting)."""
    est = GenZRegressor(random_state=seed)
    return est.set_params(cycles=cycles) if "cycles" in est.get_params(deep=False) else est


@pytest.fixture(scope="module")
def fitted():
    users, items, R = _world()
    model = GenZPairs(_small_est(), _small_est(), k=2).fit(users[:60], items[:30], R[:60][:, :30])
    return model, users, items, R


def test_pair_predictions_are_the_bilinear_form_of_the_predicted_embeddings(fitted):
    model, users, items, R = fitted
    assert model.offsets == "items" and model.user_offsets_ is None and model.item_offsets_ is not None
    new_u, new_i = users[60:], items[30:]  # both sides new
    S = model.predict(new_u, new_i)
    Pu = np.asarray(model.users_.predict(new_u)).reshape(len(new_u), -1)
    Pi = np.asarray(model.items_.predict(new_i)).reshape(len(new_i), -1)
    c = np.asarray(model.item_offsets_.predict(new_i)).reshape(len(new_i), -1)
    assert Pu.shape[1] == Pi.shape[1] == model.k + 1 and c.shape[1] == 1
    mu = model.factors_.mu
    # eq. 37 with the items' offset from their own model (catches: the embedding model's offset used)
    assert np.allclose(S, mu + Pu[:, :1] + c.T + Pu[:, 1:] @ Pi[:, 1:].T)
    assert not np.allclose(c[:, 0], Pi[:, 0])
    # ... and the readable form: const + user main + item main + aᵀ M b over the judgments
    inter = model.interactions_
    assert inter.exact["user_side_max_error"] < 1e-8 and inter.exact["item_side_max_error"] < 1e-8
    a = model.users_.transform(new_u)
    b = np.hstack([model.items_.transform(new_i), model.item_offsets_.transform(new_i)])
    assert np.allclose(S, inter.value(a, b), atol=1e-8)
    K_i = len(model.items_.features_)
    assert inter.item_features == list(model.items_.features_) + list(model.item_offsets_.features_)
    assert inter.M.shape == (len(model.users_.features_), b.shape[1])
    assert np.all(inter.M[:, K_i:] == 0)  # the offset model's features carry no interaction
    # the planted interaction is found: group A users prefer kind x items, and AUC is high
    gA = np.array([u.attributes["group"] == "A" for u in new_u])
    kx = np.array([i.attributes["kind"] == "x" for i in new_i])
    assert S[np.ix_(gA, kx)].mean() - S[np.ix_(gA, ~kx)].mean() > 0.3
    assert S[np.ix_(~gA, ~kx)].mean() - S[np.ix_(~gA, kx)].mean() > 0.3
    auc, n = mean_user_auc(R[60:][:, 30:], S)
    assert n > 0 and auc > 0.85
    table = inter.table(5)
    assert [abs(r["effect"]) for r in table] == sorted((abs(r["effect"]) for r in table), reverse=True)
    assert abs(table[0]["effect"]) == pytest.approx(np.abs(inter.M).max())
    assert "low" not in table[0]  # no intervals unless the sides' estimators report them


def test_joint_offsets_are_the_first_dimension_of_each_side():
    """``offsets="joint"``: one model per side, eq. 37 from its predictions alone; ``"both"``
    gives each side an offset model."""
    users, items, R = _world(seed=1)
    model = GenZPairs(_small_est(), _small_est(), k=2, offsets="joint").fit(users[:60], items[:30], R[:60][:, :30])
    assert model.user_offsets_ is None and model.item_offsets_ is None
    S = model.predict(users[60:], items[30:])
    Pu = np.asarray(model.users_.predict(users[60:])).reshape(20, -1)
    Pi = np.asarray(model.items_.predict(items[30:])).reshape(10, -1)
    assert np.allclose(S, model.factors_.mu + Pu[:, :1] + Pi[:, :1].T + Pu[:, 1:] @ Pi[:, 1:].T)
    inter = model.interactions_
    assert np.allclose(S, inter.value(model.users_.transform(users[60:]), model.items_.transform(items[30:])), atol=1e-8)
    both = GenZPairs(_small_est(), _small_est(), k=2, offsets="both").fit(users[:60], items[:30], R[:60][:, :30])
    b = np.asarray(both.user_offsets_.predict(users[60:])).reshape(20, -1)
    Pu, Pi = both.side_predictions(users[60:], items[30:])
    assert np.allclose(Pu[:, 0], b[:, 0])
    with pytest.raises(GenZInputError, match="offsets must be one of"):
        GenZPairs(_small_est(), _small_est(), k=2, offsets="separate").fit(users[:60], items[:30], R[:60][:, :30])


def test_rank_and_known_items(fitted):
    model, users, items, R = fitted
    ranked = model.rank(users[60:62], items[30:], top=5)
    S = model.predict(users[60:62], items[30:])
    assert [r[0][0] for r in ranked] == [items[30 + int(np.argmax(row))].id for row in S]
    assert all(len(r) == 5 and r[0][1] >= r[-1][1] for r in ranked)
    warm = model.predict(users[:2], items[:3], use_known=True)
    f = model.factors_
    rows, cols = np.meshgrid([0, 1], [0, 1, 2], indexing="ij")
    assert np.allclose(warm, f.predict(rows.ravel(), cols.ravel()).reshape(2, 3))


def test_save_and_load_round_trip(fitted, tmp_path):
    model, users, items, _ = fitted
    model.save(tmp_path / "m")
    back = GenZPairs.load(tmp_path / "m")
    assert back.item_offsets_ is not None and back.user_offsets_ is None
    assert np.allclose(back.predict(users[60:], items[30:]), model.predict(users[60:], items[30:]))
    assert np.allclose(back.interactions_.M, model.interactions_.M)
    # a model saved before separate offsets (no "offsets" in pairs.json) loads as joint
    import json

    meta = json.loads((tmp_path / "m" / "pairs.json").read_text())
    del meta["params"]["offsets"]
    (tmp_path / "m" / "pairs.json").write_text(json.dumps(meta))
    old = GenZPairs.load(tmp_path / "m")
    assert old.offsets == "joint" and old.item_offsets_ is None


# --------------------------------------------------------------------------- doubly cold


def _data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ml"
    d.mkdir()
    for name in ("ratings.dat", "movies.dat"):
        shutil.copy(FIX / "ml-1m" / name, d / name)
    shutil.copy(FIX / "ml-1m-users" / "users.dat", d / "users.dat")
    return d


def test_doubly_cold_pairs_use_no_rating_of_either_side():
    users, items, R = _world(60, 30, seed=4)
    data = TwoSidedData(users=users, movies=items, R=R)
    cfg = TwoSidedConfig(seeds=[0], k=2, genz_settings={}, keep_predictions=True, both_readouts=True)
    base = run_two_sided(data, cfg, make_estimator=lambda seed, side: _small_est(seed, 2))["seeds"][0]
    bl = split_blocks(R, 0)
    # scramble every rating of the held-out users and of the held-out movies
    D = R.toarray()
    rng = np.random.default_rng(9)
    held = np.zeros(D.shape, dtype=bool)
    held[bl.users_te] = True
    held[:, bl.movies_te] = True
    D2 = np.where(held & (D > 0), rng.integers(1, 6, size=D.shape), D).astype(float)
    assert (D2 != D).sum() > 20
    R2 = sp.csr_matrix(D2)
    bl2 = split_blocks(R2, 0)
    assert (bl2.R_train != bl.R_train).nnz == 0  # the training block is untouched
    other = run_two_sided(TwoSidedData(users=users, movies=items, R=R2), cfg,
                          make_estimator=lambda seed, side: _small_est(seed, 2))["seeds"][0]
    # GenZ's held-out predictions are identical; the warm ceiling (which sees the held-out
    # users' and movies' other ratings) changes, so the scrambling reached the data
    assert np.array_equal(base["predictions"]["genz"], other["predictions"]["genz"])
    assert not np.allclose(base["predictions"]["warm-svd"], other["predictions"]["warm-svd"])
    assert base["methods"]["genz"]["user_features"] == other["methods"]["genz"]["user_features"]


def test_experiment_runs_on_the_movielens_fixture(tmp_path):
    data = load_two_sided(_data_dir(tmp_path), n_items=8)
    assert len(data.users) == 12 and data.R.shape == (12, 8)
    res = run_two_sided(data, TwoSidedConfig(seeds=[0, 1], k=1, genz_settings={"cycles": 1}, both_readouts=True))
    s = res["summary"]
    assert set(s) == {"genz", "genz-ratings", "movie-side", "user-side", "global-mean", "group-genre-mean",
                      "movie-ridge", "bilinear-ridge", "warm-svd"}
    assert s["bilinear-ridge"]["diff_rmse"]["n"] == 2 and "diff_rmse" not in s["genz"]
    for rec in res["seeds"]:  # each side's route and text check, recorded per fit
        routes = rec["methods"]["genz"]["routes"]
        assert {"users", "items"} <= set(routes)
        assert all(set(r) == {"route", "text_z", "text_union_z", "text_union_rel", "tree"} for r in routes.values())
        for r in routes.values():  # the tree route's check: None where not tried (several targets), else its record
            assert r["tree"] is None or (set(r["tree"]) == {"route", "alpha", "z", "rel"} and 0 <= r["tree"]["alpha"] <= 1)


def test_paired_interval_and_auc():
    d = paired_interval([0.1, 0.2, 0.3])
    assert d["mean"] == pytest.approx(0.2) and d["low"] == pytest.approx(0.2 - 4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    R = sp.csr_matrix(np.array([[5.0, 1.0, 4.0, 3.0], [2.0, 5.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0]]))
    S = np.array([[0.9, 0.1, 0.2, 0.5], [0.3, 0.2, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    auc, n = mean_user_auc(R, S)  # user 0: pos {0.9, 0.2} vs neg {0.1} → 1; user 1: 0; user 2 skipped
    assert n == 2 and auc == pytest.approx(0.5)


# --------------------------------------------------------------------------- users as items


def test_movielens_users_loader_decodes_every_field():
    users = read_movielens_users(FIX / "ml-1m-users" / "users.dat")
    assert [u.id for u in users] == [str(n) for n in range(1, 13)]
    u1, u2, u4, u5 = users[0], users[1], users[3], users[4]
    assert u1.attributes == {"gender": "woman", "age": "under 18", "occupation": "K-12 student", "zipcode": "10001",
                             "city": "New York", "state": "NY"}
    assert u1.text == "Woman, age under 18, K-12 student, from New York, NY (zip 10001)"
    assert u2.attributes["age"] == "56+" and u2.attributes["occupation"] == "self-employed"
    assert u2.attributes["state"] == "CA"
    assert u4.attributes["zipcode"] == "02139-4307" and u4.attributes["state"] == "MA"  # ZIP+4
    assert "city" not in u5.attributes and u5.text.endswith("from zip 00000")  # unknown zip
    assert load_entities(FIX / "ml-1m-users" / "users.dat")[0] == u1


@pytest.mark.parametrize(
    "line, message",
    [
        ("13::F::25::4", "users.dat:3: expected 5 fields"),
        ("13::X::25::4::10001", "users.dat:3: gender 'X'"),
        ("13::F::26::4::10001", "users.dat:3: age code 26"),
        ("13::F::25::21::10001", "users.dat:3: occupation code 21"),
        ("1::F::25::4::10001", "users.dat:3: duplicate user id 1"),
        ("x::F::25::4::10001", "users.dat:3: 'x' is not an integer"),
        ("13::F::25::4::", "users.dat:3: user 13 has an empty zip code"),
    ],
)
def test_movielens_users_loader_names_the_malformed_line(tmp_path, line, message):
    p = tmp_path / "users.dat"
    p.write_text("1::F::1::10::10001\n2::M::56::16::94110\n" + line + "\n")
    with pytest.raises(GenZInputError, match=message.replace("+", r"\+")):
        read_movielens_users(p)


def test_any_entity_table_can_be_a_side(tmp_path):
    p = tmp_path / "places.csv"
    p.write_text("id,name,rain_mm,biome\nP1,Oslo,763,boreal\nP2,Cairo,25,desert\n")
    places = load_entities(p)
    assert places[1].attributes == {"name": "Cairo", "rain_mm": 25, "biome": "desert"}
    assert places[1].text == "name: Cairo; rain_mm: 25; biome: desert"
    p.write_text("id,name\nP1,Oslo\nP1,Bergen\n")
    with pytest.raises(GenZInputError, match="places.csv:3: duplicate id 'P1'"):
        load_entities(p)
    p.write_text("id,name\nP1,Oslo,extra\n")
    with pytest.raises(GenZInputError, match="places.csv:2: 3 fields"):
        load_entities(p)


# --------------------------------------------------------------------------- ratings readout


def _planted_bilinear(seed=7, n_u=60, n_i=40, noise=0.01):
    rng = np.random.default_rng(seed)
    Xu, Xi = (rng.random((n_u, 3)) < 0.5).astype(float), (rng.random((n_i, 4)) < 0.5).astype(float)
    const, um, im, M = 3.0, rng.normal(size=3), rng.normal(size=4), rng.normal(size=(3, 4))
    Y = const + (Xu @ um)[:, None] + (Xi @ im)[None, :] + Xu @ M @ Xi.T + noise * rng.normal(size=(n_u, n_i))
    mask = rng.random(Y.shape) < 0.8
    R = sp.csr_matrix((Y[mask], np.nonzero(mask)), shape=Y.shape)
    return Xu, Xi, R, (const, um, im, M)


def test_fit_bilinear_recovers_a_planted_bilinear_form():
    """Catches: a dropped main effect, a transposed interaction block, a penalised intercept."""
    from genz.pairs import fit_bilinear

    Xu, Xi, R, (const, um, im, M) = _planted_bilinear()
    c2, um2, im2, M2, alpha = fit_bilinear(Xu, Xi, R, alphas=(1e-6, 1e3))
    assert alpha == 1e-6
    assert c2 == pytest.approx(const, abs=0.02) and np.allclose(um2, um, atol=0.02)
    assert np.allclose(im2, im, atol=0.02) and np.allclose(M2, M, atol=0.03)


def test_fit_bilinear_is_ridge_on_the_raw_ratings():
    """The (profile, item) cells give exactly the coefficients of scikit-learn's Ridge on every
    raw rating at the chosen penalty (catches: unweighted cell means, a lost duplicate rating,
    profiles merged wrongly), and the penalty is RidgeCV's choice on those cells."""
    from sklearn.linear_model import Ridge, RidgeCV

    from genz.pairs import bilinear_design, fit_bilinear

    Xu, Xi, R, _ = _planted_bilinear(seed=3, n_u=80, n_i=30, noise=1.0)
    Xu = Xu[np.random.default_rng(0).integers(0, 6, size=80)]  # few profiles: many users share one
    R = sp.coo_matrix(R)
    for alphas in ((30.0,), (0.1, 3.0, 30.0, 300.0)):
        c, um, im, M, alpha = fit_bilinear(Xu, Xi, R, alphas=alphas)
        X = bilinear_design(Xu, Xi, R.row, R.col)
        raw = Ridge(alpha=alpha, solver="cholesky").fit(X.toarray(), R.data)
        assert c == pytest.approx(raw.intercept_, abs=1e-8)
        assert np.allclose(np.concatenate([um, im, M.ravel()]), raw.coef_, atol=1e-8)
    # with one rating per cell the cells are the raw rows: RidgeCV's own choice
    Xu1 = np.random.default_rng(1).random((80, 3))  # every user a profile of its own
    c, um, im, M, alpha = fit_bilinear(Xu1, Xi, R, alphas=(0.1, 3.0, 30.0, 300.0))
    cv = RidgeCV(alphas=[0.1, 3.0, 30.0, 300.0]).fit(bilinear_design(Xu1, Xi, R.row, R.col), R.data)
    assert alpha == cv.alpha_ and c == pytest.approx(cv.intercept_)


def test_movie_ridge_is_a_direct_sklearn_fit_and_ignores_users():
    from sklearn.linear_model import RidgeCV

    from genz.experiments.two_sided import PEER_ALPHAS, movie_ridge

    rng = np.random.default_rng(5)
    genres = ["Drama", "Comedy", "Action", "Horror"]
    movies = [Item(id=f"m{j}", text=f"M{j}", attributes={"title": f"M{j}", "year": int(rng.integers(1950, 2000)),
                                                          "genres": list(rng.choice(genres, size=2, replace=False))})
              for j in range(40)]
    users = [Item(id=f"u{n}", text=f"U{n}", attributes={"gender": "man"}) for n in range(3)]
    R = sp.random(50, 30, density=0.4, random_state=1, format="coo")
    R.data = rng.integers(1, 6, size=R.nnz).astype(float)
    S, alpha = movie_ridge(movies[:30], R.tocsr(), users, movies[30:])
    # the same model written directly: one row per rating, multi-hot genres + one-hot decade
    levels = sorted({f"genre={g}" for m in movies[:30] for g in m.attributes["genres"]}
                    | {f"decade={m.attributes['year'] // 10 * 10}s" for m in movies[:30]})

    def row(m):
        tags = {f"genre={g}" for g in m.attributes["genres"]} | {f"decade={m.attributes['year'] // 10 * 10}s"}
        return [float(v in tags) for v in levels]

    X = np.array([row(m) for m in movies[:30]])
    direct = RidgeCV(alphas=list(PEER_ALPHAS)).fit(X[R.col], R.data)
    assert alpha == direct.alpha_
    assert np.allclose(S, np.tile(direct.predict(np.array([row(m) for m in movies[30:]])), (3, 1)))


def test_ratings_readout_scores_new_pairs_from_judgments(fitted):
    model, users, items, R = fitted
    inter = model.rating_readout(users[:60], items[:30], R[:60][:, :30])
    S = inter.value(model.judgments("users", users[60:]), model.judgments("items", items[30:]))
    auc, n = mean_user_auc(R[60:][:, 30:], S)
    assert n > 0 and auc > 0.95
    assert inter.M.shape == (len(model.users_.features_), len(model.items_.features_) + len(model.item_offsets_.features_))


def test_interaction_intervals_come_from_the_sides_feature_tables(fitted):
    """When both sides report 95% intervals per feature and target dimension (the estimator's
    ``feature_table()``), M gets delta-method intervals; without them, none."""
    model, users, items, _ = fitted
    users_, items_ = model.users_, model.items_
    D = model.k + 1
    rng = np.random.default_rng(0)
    se = {}
    for name, est in (("users", users_), ("items", items_)):
        s = rng.uniform(0.01, 0.1, size=(D, len(est.features_)))
        se[name] = s
        rows = [{"feature": f, "target": d, "estimate": 0.0, "ci_low": -1.959964 * s[d, k], "ci_high": 1.959964 * s[d, k]}
                for k, f in enumerate(est.features_) for d in range(D)]
        est.feature_table = lambda rows=rows: rows  # the optional API, on this instance only
    try:
        inter = model._interactions(users[:60], items[:30])
    finally:
        del users_.feature_table, items_.feature_table
    from genz.pairs import affine_map

    Au, _, _ = affine_map(users_, users[:60])
    Ai, _, _ = affine_map(items_, items[:30])
    expect = np.sqrt((se["users"][1:] ** 2).T @ Ai[1:] ** 2 + (Au[1:] ** 2).T @ se["items"][1:] ** 2)
    K_i = len(items_.features_)
    assert inter.M_se is not None and np.allclose(inter.M_se[:, :K_i], expect)
    assert np.allclose(inter.M_se[:, K_i:], 0.0)  # the items' offset features interact with nothing
    rec = inter.table(1)[0]
    assert rec["low"] < rec["effect"] < rec["high"]
    assert model._interactions(users[:60], items[:30]).M_se is None
