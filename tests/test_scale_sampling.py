"""Discovery on a stratified sample, the kept features judged on all items, the predictor
refitted on everything."""

from __future__ import annotations

import numpy as np

from genz.estimator import GenZRegressor
from genz.fm.predicates import PredicateFM
from genz.items import Item
from genz.sampling import _Counting, stratified_sample


def test_stratified_sample_covers_the_quantiles():
    y = np.random.default_rng(0).exponential(size=1000)
    idx = stratified_sample(y, 100, seed=1)
    assert len(idx) == 100 and len(set(idx)) == 100
    dec = np.searchsorted(np.quantile(y, np.linspace(0, 1, 11)[1:-1]), y[idx])
    assert np.bincount(dec, minlength=10).tolist() == [10] * 10  # 10 from each decile
    assert not np.array_equal(idx, stratified_sample(y, 100, seed=2))


def _data(n, seed=0):
    r = np.random.default_rng(seed)
    size = r.integers(20, 300, n)
    city = r.integers(0, 4, n)
    items = [Item(id=f"h{k}", attributes={"size": int(size[k]), "city": ["A", "B", "C", "D"][city[k]]})
             for k in range(n)]
    y = 2.0 * (size > 150) + 1.0 * (city == 2) + 0.1 * r.normal(size=n)
    return items, y


def test_discovery_on_a_sample_then_bulk():
    items, y = _data(1500)
    fm = _Counting(PredicateFM())
    est = GenZRegressor(fm=fm, add_only=3, algorithm="simple", discovery_sample=300, random_state=0)
    est.fit(items[:1200], y[:1200])
    info = est.discovery_sample_
    assert info["sample"] == 300 and info["items"] == 1200 and len(info["sample_ids"]) == 300
    # candidates were judged on the 300 sampled items only; the kept ones also on all 1200
    kept = set(est.features_)
    assert all(n == (1200 if d in kept else 300) for d, n in fm.judged.items())
    assert info["candidates_judged"] == len(fm.judged) > len(kept)
    assert info["judgments_saved"] == info["candidates_judged"] * 1200 - (info["candidates_judged"] * 300 + len(kept) * 900)
    # the fitted state (posteriors, judgments, ids) is the sample's; the predictor saw all 1200
    assert est.judgments_.shape == (300, len(kept)) and est.train_ids_ == info["sample_ids"]
    full = GenZRegressor(fm=PredicateFM(), add_only=3, algorithm="simple", random_state=0).fit(items[:1200], y[:1200])
    mae_s = np.mean(np.abs(est.predict(items[1200:]) - y[1200:]))
    mae_f = np.mean(np.abs(full.predict(items[1200:]) - y[1200:]))
    assert mae_s < mae_f + 0.1


def test_the_predictor_is_refitted_on_all_items():
    from genz.discovery import new_item_q

    items, y = _data(1200, seed=3)
    est = GenZRegressor(fm="predicates", add_only=3, algorithm="simple", random_state=0,
                        discovery_sample=200).fit(items, y)
    idx = stratified_sample(y, 200, seed=0)
    on_sample = GenZRegressor(fm="predicates", add_only=3, algorithm="simple", random_state=0).fit(
        [items[i] for i in idx], y[idx])
    assert on_sample.features_ == est.features_  # the same discovery
    Q = new_item_q(est.transform(items).astype(float), est.epsilon_, est.predictor)
    rss = lambda pred: float(((pred.predict(Q, None)[:, 0] - y) ** 2).sum())  # noqa: E731
    assert rss(est.predictor_) < rss(on_sample.predictor_)  # fitted to all 1200 items, not the 200


def test_cli_fit_with_a_discovery_sample(tmp_path):
    """`genz fit --discovery-sample N`: discovery sees N stratified rows (the run's history and
    checkpoints are of the sample), the kept features are judged on every row and the saved
    predictor is refitted on all of them; a resume redoes the bulk step from the saved run."""
    import json

    from click.testing import CliRunner

    from genz.cli import main
    from genz.estimator import GenZRegressor
    from genz.sampling import stratified_sample
    from tests.cars_data import make_cars

    df = make_cars(300, seed=5)
    df.to_csv(tmp_path / "cars.csv", index=False)
    args = ["fit", "--data", str(tmp_path / "cars.csv"), "--target", "price", "--id", "car_id", "--text",
            "description", "--discovery-sample", "150", "-o", str(tmp_path / "run")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "discovery on 150 of 300 items" in r.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["estimator"]["discovery_sample"] == 150  # the estimator's parameter (one code path)
    est = GenZRegressor.load(tmp_path / "run" / "model")
    assert est.discovery_sample == 150 and est.discovery_sample_["sample"] == 150  # model.json records it
    assert est.discovery_sample_["items"] == 300 and est.discovery_sample_["sample_ids"] == est.train_ids_
    idx = stratified_sample(df["price"].to_numpy(), 150, seed=0)
    assert sorted(est.train_ids_) == sorted(df["car_id"].iloc[idx])  # the run's arrays are the sample's
    # the predictor saw every row: refitting it on the sample's priors alone gives other weights
    from genz.discovery import new_item_q
    from genz.tables import items_from_frame

    items = items_from_frame(df, id="car_id", text="description", target="price")
    B = est.transform(items).astype(float)
    Q = new_item_q(B, est.epsilon_, est.predictor)
    P_all = est.predictor_.predict(Q, None)[:, 0]
    resid = df["price"].to_numpy() - P_all
    assert abs(resid.mean()) < 1e-6 * df["price"].abs().mean()  # least squares on all rows: mean residual 0
    r2 = CliRunner().invoke(main, args + ["--resume"])
    assert r2.exit_code == 0, r2.output
    again = GenZRegressor.load(tmp_path / "run" / "model")
    assert again.features_ == est.features_
    assert again.discovery_sample_ == est.discovery_sample_  # the candidates judged are kept in checkpoints


def test_discovery_sample_is_an_ordinary_parameter():
    """get_params / clone / set_params carry it; bad values are one line; None or a sample as
    large as the data is discovery on all items (and the same fit)."""
    import pytest
    from sklearn.base import clone

    from genz.errors import GenZInputError

    est = GenZRegressor(discovery_sample=500)
    assert est.get_params()["discovery_sample"] == 500 and clone(est).discovery_sample == 500
    items, y = _data(200, seed=2)
    for bad in (5, 2.5, "100", True):
        with pytest.raises(GenZInputError, match="discovery_sample must be"):
            GenZRegressor(discovery_sample=bad, add_only=1).fit(items, y)
    kw = dict(add_only=2, algorithm="simple", random_state=0)
    a = GenZRegressor(discovery_sample=200, **kw).fit(items, y)
    b = GenZRegressor(**kw).fit(items, y)
    assert a.discovery_sample_ is None and b.discovery_sample_ is None
    assert a.features_ == b.features_ and np.allclose(a.predict(items), b.predict(items))


def test_discovery_sample_with_held_out_selection_and_an_executor_prefetch(tmp_path):
    """With held-out selection (the default schedule) the split is made inside the sample;
    the final features reach all items through the FM's prefetch (one bulk pass), and a saved
    and loaded model predicts the same."""
    items, y = _data(700, seed=4)

    class Prefetching(_Counting):
        def __init__(self, fm):
            super().__init__(fm)
            self.prefetched = []

        def prefetch(self, descriptors, its):
            self.prefetched.append((list(descriptors), len(its)))

    fm = Prefetching(PredicateFM())
    est = GenZRegressor(fm=fm, cycles=2, add_per_cycle=2, remove_per_cycle=1, algorithm="simple",
                        discovery_sample=300, random_state=1).fit(items, y)
    assert est.features_ and fm.prefetched == [(est.features_, 700)]
    assert len(est.train_ids_) == 300 and est.discovery_sample_["candidates_judged"] >= len(est.features_)
    est.save(tmp_path / "m")
    back = GenZRegressor.load(tmp_path / "m", fm="predicates")
    assert back.discovery_sample_ == {k: v for k, v in est.discovery_sample_.items()}
    assert np.allclose(back.predict(items[:50]), est.predict(items[:50]))
