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
from genz.experiments.runner import ExperimentConfig, markdown_table, parse_seeds, run_experiment, write_json
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
    best = min(p["test"]["median_ae"] for p in zs["path"])
    assert zs["test"]["median_ae"] == best
    s = res["summary"]["ridge-zip"]["test"]["median_ae"]
    vals = [r["methods"]["ridge-zip"]["test"]["median_ae"] for r in res["seeds"]]
    assert s["mean"] == pytest.approx(np.mean(vals)) and s["n"] == 2
    again = run_experiment(ds, cfg)
    for a, b in zip(res["seeds"], again["seeds"]):
        for m in a["methods"]:
            assert a["methods"][m]["test"] == b["methods"][m]["test"], m
    assert "| ridge-zip |" in markdown_table(res)


def test_movies_runner_on_fixture(tmp_path):
    ds = load_movies(FIX / "ml-1m", "movielens-1m", n_items=8, dim=3)
    cfg = ExperimentConfig(kind="movies", seeds=[0], cycles=1, add_per_cycle=1, remove_per_cycle=0,
                           minilm=False, run_genz=False)  # fmt: skip
    res = run_experiment(ds, cfg)
    methods = res["seeds"][0]["methods"]
    assert set(methods) == {"zero-shot", "ridge-genres-decade", "train-mean"}
    assert -1.0 <= methods["train-mean"]["test"]["cosine"] <= 1.0
    out = write_json(res, tmp_path / "r.json")
    back = json.loads(out.read_text())
    assert back["summary"]["train-mean"]["test"]["cosine"]["n"] == 1


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
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
