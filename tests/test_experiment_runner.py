import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genz.commands.experiment import experiment
from genz.datasets import Dataset
from genz.datasets.houses import load_houses
from genz.datasets.movies import load_movies
from genz.errors import GenZInputError
from genz.experiments.runner import (
    DEV_SEEDS,
    REPORT_SEEDS,
    ExperimentConfig,
    interval_coverage,
    markdown_table,
    paired_difference,
    parse_seeds,
    run_experiment,
    write_json,
)
from genz.experiments.splits import inner_validation_indices, train_test_split_indices
from genz.items import Item

FIX = Path(__file__).parent / "fixtures"


def _synthetic_houses(n=80, seed=0):
    """Houses in four zip codes with a zip premium: small enough for a quick GenZ run."""
    rng = np.random.default_rng(seed)
    zips = ["92276", "94501", "62234", "85255"]
    prem = {"92276": -0.4, "94501": 0.5, "62234": -0.8, "85255": 0.3}
    items, y, U = [], [], []
    for i in range(n):
        z = zips[i % 4]
        area = int(rng.integers(900, 3500))
        beds, baths = int(rng.integers(2, 5)), float(rng.integers(1, 4))
        items.append(Item(id=str(i + 1), text=f"house {i + 1}",
                          attributes={"zipcode": z, "area": area, "bedrooms": beds, "bathrooms": baths}))  # fmt: skip
        y.append(4.0 + np.log(area) + prem[z] + 0.05 * rng.standard_normal())
        U.append([np.log(area), beds, baths])
    return Dataset("houses", items, np.array(y), np.array(U), ["log_area", "bedrooms", "bathrooms"], "median_ae",
                   task="predict the log price")  # fmt: skip


def test_houses_runner_all_methods_reproducible():
    ds = _synthetic_houses()
    cfg = ExperimentConfig(kind="houses", seeds=[0, 1], cycles=1, add_per_cycle=2, remove_per_cycle=1)
    res = run_experiment(ds, cfg)
    assert [r["seed"] for r in res["seeds"]] == [0, 1]
    methods = res["seeds"][0]["methods"]
    assert {"genz", "zero-shot", "ridge-zip", "gbm"} <= set(methods)
    g = methods["genz"]
    assert g["n_features"] == len(g["features"]) and g["fm_calls"] > 0
    assert g["history"] and all(h["test"] is not None for h in g["history"])
    assert {"median_ae", "median_rel"} <= set(g["test"])
    # ridge on one-hot zip codes nails this market
    assert methods["ridge-zip"]["test"]["median_ae"] < 0.1
    zs = methods["zero-shot"]
    assert zs["n_usable"] > 0 and len(zs["path"]) == zs["n_usable"] + 1
    # the test-set oracle is its own, labelled row; the compared row is chosen on held-out training items
    best = min(p["test"]["median_ae"] for p in zs["path"])
    assert methods["zero-shot-oracle"]["test"]["median_ae"] == best and methods["zero-shot-oracle"]["oracle"]
    valid = zs["selection"]["valid_path"]
    k = min(valid, key=lambda p: (p["median_ae"], p["n_features"]))["n_features"]
    assert zs["selection"]["chosen_n_features"] == k
    point = min(zs["path"], key=lambda p: (abs(p["n_features"] - k), p["n_features"]))
    assert zs["test"] == point["test"] and zs["n_features"] == point["n_features"]
    assert set(res["comparisons"]) == set(methods) - {"genz", "zero-shot-oracle"}
    assert "zero-shot-oracle" not in res["comparisons"]
    c = res["comparisons"]["ridge-zip"]
    d = [r["methods"]["genz"]["test"]["median_ae"] - r["methods"]["ridge-zip"]["test"]["median_ae"] for r in res["seeds"]]
    assert c["diffs"] == pytest.approx(d) and c["mean"] == pytest.approx(np.mean(d))
    assert 0.0 <= g["coverage90"] <= 1.0  # measured with predict(return_std=True)
    s = res["summary"]["ridge-zip"]["test"]["median_ae"]
    vals = [r["methods"]["ridge-zip"]["test"]["median_ae"] for r in res["seeds"]]
    assert s["mean"] == pytest.approx(np.mean(vals)) and s["n"] == 2
    again = run_experiment(ds, cfg)
    for a, b in zip(res["seeds"], again["seeds"]):
        for m in a["methods"]:
            assert a["methods"][m]["test"] == b["methods"][m]["test"], m
    md = markdown_table(res)
    assert "| ridge-zip |" in md and "**" not in md and "oracle" in md
    assert "genz − method (paired, 95% CI)" in md and "n/a" in md
    import scipy
    import sklearn

    env = res["platform"]  # the versions that produced these numbers travel with them
    assert (env["numpy"], env["scipy"], env["scikit-learn"]) == (np.__version__, scipy.__version__, sklearn.__version__)


def test_movies_runner_on_fixture(tmp_path):
    ds = load_movies(FIX / "ml-1m", "movielens-1m", n_items=8, dim=3)
    cfg = ExperimentConfig(kind="movies", seeds=[0], cycles=1, add_per_cycle=1, remove_per_cycle=0,
                           minilm=False, run_genz=False)  # fmt: skip
    res = run_experiment(ds, cfg)
    methods = res["seeds"][0]["methods"]
    assert set(methods) == {"zero-shot", "zero-shot-oracle", "ridge-genres-decade", "ridge-genre-pairs", "gbm", "train-mean"}
    assert -1.0 <= methods["train-mean"]["test"]["cosine"] <= 1.0
    out = write_json(res, tmp_path / "r.json")
    back = json.loads(out.read_text())
    assert back["summary"]["train-mean"]["test"]["cosine"]["n"] == 1


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("dev") == list(range(100, 110)) == DEV_SEEDS
    assert parse_seeds("report") == [0, 1, 2, 3, 4] == REPORT_SEEDS
    assert not set(DEV_SEEDS) & set(REPORT_SEEDS)
    assert parse_seeds("3,1,3") == [3, 1]
    assert parse_seeds("7") == [7]
    for bad in ("", "a", "4-1", "-1"):
        with pytest.raises(GenZInputError):
            parse_seeds(bad)


def test_cli_houses_and_movies_on_fixtures(tmp_path):
    runner = CliRunner()
    out = tmp_path / "h.json"
    r = runner.invoke(experiment, ["houses", "--data", str(FIX / "houses"), "--seeds", "0", "--no-genz",
                                   "--no-zeroshot", "--out", str(out), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "ridge-zip" in r.output and json.loads(out.read_text())["experiment"] == "houses"
    out = tmp_path / "m.json"
    r = runner.invoke(experiment, ["movies", "--data", str(FIX / "netflix"), "--format", "netflix", "--n-items", "8",
                                   "--dim", "3", "--seeds", "0", "--no-genz", "--no-minilm", "--out", str(out), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert "cold_start" in res and "worth_in_ratings" in res
    assert "is worth" in r.output


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    (tmp_path / "HousesInfo.txt").write_text("3 2 1600 92276\n")
    r = runner.invoke(experiment, ["houses", "--data", str(tmp_path), "--no-genz"])
    assert r.exit_code != 0
    assert "HousesInfo.txt:1: expected 5 space-separated fields" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(experiment, ["houses", "--data", str(FIX / "houses"), "--seeds", "x"])
    assert r.exit_code != 0 and "--seeds" in r.output


def test_houses_fixture_loads_for_cli():
    ds = load_houses(FIX / "houses")
    assert len(ds) == 6


def test_cli_binary(tmp_path):
    out = tmp_path / "b.json"
    r = CliRunner().invoke(experiment, ["binary", "--seeds", "0", "--bits", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["runs"][0]["bits_recovered"] == 5
    assert "all 5 bits recovered on 1 of 1 seeds" in r.output


def test_paired_difference_interval_and_verdicts():
    # d = [1, 2, 3]: mean 2, sd 1, t_{0.975,2} = 4.303 -> half-width 2.484: covers zero -> tie
    c = paired_difference([1, 2, 3], [0, 0, 0], higher_is_better=True)
    assert c["mean"] == pytest.approx(2.0)
    assert c["low"] == pytest.approx(2 - 4.302653 / np.sqrt(3), abs=1e-5)
    assert c["high"] == pytest.approx(2 + 4.302653 / np.sqrt(3), abs=1e-5)
    assert c["verdict"] == "tie"
    d = [0.10, 0.12, 0.09, 0.11, 0.10]
    assert paired_difference(d, [0] * 5, higher_is_better=True)["verdict"] == "better"
    # a positive difference of an error (lower is better) means genz is worse
    assert paired_difference(d, [0] * 5, higher_is_better=False)["verdict"] == "worse"
    assert paired_difference([0] * 5, d, higher_is_better=False)["verdict"] == "better"
    one = paired_difference([1.0], [0.5], higher_is_better=True)
    assert one["verdict"] == "n/a" and one["low"] is None


def test_inner_validation_split_is_deterministic_and_not_the_test_split():
    fit, val = inner_validation_indices(100, 3)
    fit2, val2 = inner_validation_indices(100, 3)
    assert np.array_equal(val, val2) and len(val) == 25 and len(fit) == 75
    assert not set(fit) & set(val) and set(fit) | set(val) == set(range(100))
    assert not np.array_equal(np.sort(val), np.sort(train_test_split_indices(100, 3, 0.25)[1]))
    assert not np.array_equal(val, inner_validation_indices(100, 4)[1])


def test_zero_shot_choice_ignores_the_test_targets():
    """The compared zero-shot row must not change when only the test targets change."""
    from genz.experiments.runner import _zero_shot_heldout
    from genz.estimator import make_fm

    ds = _synthetic_houses(n=120, seed=2)
    cfg = ExperimentConfig(kind="houses")
    tr, te = train_test_split_indices(len(ds), 0)
    itr, ytr, utr = ds.subset(tr)
    ite, yte, ute = ds.subset(te)
    zs, oracle = _zero_shot_heldout(lambda: make_fm("predicates"), ds.task, itr, ytr, utr, ite, yte, ute, cfg, 0)
    rng = np.random.default_rng(0)
    zs2, oracle2 = _zero_shot_heldout(lambda: make_fm("predicates"), ds.task, itr, ytr, utr, ite,
                                      yte + rng.normal(scale=2.0, size=yte.shape), ute, cfg, 0)  # fmt: skip
    assert zs["selection"] == zs2["selection"] and zs["n_features"] == zs2["n_features"]
    assert zs["train"] == zs2["train"]


class _GaussEstimator:
    def __init__(self, scale):
        self.scale = scale

    def predict(self, items, U=None, return_std=False):
        mean = np.zeros(len(items))
        return (mean, np.full(len(items), self.scale)) if return_std else mean


class _PlainEstimator:
    def predict(self, items, U=None):
        return np.zeros(len(items))


def test_interval_coverage_measures_nominal_90():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(4000)
    items = list(range(4000))
    assert interval_coverage(_GaussEstimator(1.0), items, None, y) == pytest.approx(0.90, abs=0.015)
    # intervals half as wide cover about 59% (2·Φ(0.822) − 1)
    assert interval_coverage(_GaussEstimator(0.5), items, None, y) == pytest.approx(0.589, abs=0.02)
    assert interval_coverage(_PlainEstimator(), items, None, y) is None


def test_cli_table_from_saved_results(tmp_path):
    runner = CliRunner()
    out = tmp_path / "h.json"
    md = tmp_path / "h.md"
    r = runner.invoke(experiment, ["houses", "--data", str(FIX / "houses"), "--seeds", "0,1", "--no-genz",
                                   "--no-zeroshot", "--out", str(out), "--markdown", str(md), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "| ridge-zip |" in md.read_text()
    r = runner.invoke(experiment, ["table", str(out)])
    assert r.exit_code == 0, r.output
    assert "| ridge-zip |" in r.output and "reported seeds [0, 1]" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = runner.invoke(experiment, ["table", str(bad)])
    assert r.exit_code != 0 and "not an experiment result" in r.output and "Traceback" not in r.output


class _MeanWithStd:
    """A stand-in estimator with predict(..., return_std=True): the training mean ± its sd."""

    def __init__(self, seed, fm):
        self.features_ = []

    def fit(self, items, y, U=None, eval_set=None):
        y = np.asarray(y, dtype=float)
        self.mu, self.sd = y.mean(axis=0), y.std(axis=0)
        return self

    def predict(self, items, U=None, return_std=False):
        mean = np.full(len(items), float(np.ravel(self.mu)[0]))
        return (mean, np.full(len(items), float(np.ravel(self.sd)[0]))) if return_std else mean


def test_runner_reports_measured_coverage_when_the_estimator_has_return_std():
    ds = _synthetic_houses(n=120, seed=3)
    cfg = ExperimentConfig(kind="houses", seeds=[0, 1], run_zeroshot=False, run_peers=False)
    res = run_experiment(ds, cfg, make_estimator=_MeanWithStd)
    covs = [r["methods"]["genz"]["coverage90"] for r in res["seeds"]]
    for rec, cov in zip(res["seeds"], covs):
        tr, te = train_test_split_indices(len(ds), rec["seed"])
        y_tr, y_te = ds.Y[tr, 0], ds.Y[te, 0]
        inside = np.abs(y_te - y_tr.mean()) <= 1.6448536 * y_tr.std()
        assert cov == pytest.approx(inside.mean())
    md = markdown_table(res)
    assert f"{100 * np.mean(covs):.1f}%" in md
