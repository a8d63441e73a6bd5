"""The CLI with the user's own data (issue 11): tables in, one-line errors, runs that explain
themselves, one consistent set of options. Every case the issue measured is here; none may
print a traceback."""

from __future__ import annotations

import json
import re
import sys

import click
import numpy as np
import pytest
from click.testing import CliRunner

from genz.cli import main
from genz.fm.predicates import FUNCTION_WORDS
from tests.cars_data import make_cars

pd = pytest.importorskip("pandas")


def run(*args, ok: bool = True):
    r = CliRunner().invoke(main, [str(a) for a in args])
    out = r.output
    assert "Traceback" not in out, out
    if ok:
        assert r.exit_code == 0, out
    return r


def error_line(r) -> str:
    """The one line of an error: exit status not 0, and exactly one error line, the last one
    (before it, at most the one line that says how a table was read)."""
    assert r.exit_code != 0
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error")]
    assert len(errors) == 1 and lines[-1] == errors[0] and len(lines) <= 2, r.output
    return errors[0]


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    d = tmp_path_factory.mktemp("cars")
    df = make_cars(240, seed=1)
    df["year"] = df["year"].fillna(2012)  # a side input needs a value for every item
    df.to_csv(d / "cars.csv", index=False)
    df.drop(columns="price").head(7).to_csv(d / "new.csv", index=False)
    df.tail(40).to_csv(d / "test.csv", index=False)
    return d


@pytest.fixture(scope="module")
def fitted(cars):
    out = cars / "run"
    r = run("fit", "--data", cars / "cars.csv", "--target", "price", "--id", "car_id", "--text", "description",
            "--side-inputs", "year", "--n-features", "4", "-o", out)
    return out, r


def test_fit_predict_score_from_a_pandas_csv(cars, fitted):
    out, r = fitted
    assert "attributes: make, fuel (text) · year, mileage (numbers) · certified (booleans)" in r.output
    assert "mileage had thousands separators" in r.output and "missing cells left out in mileage, fuel" in r.output
    assert re.search(r"\d+ features, \d+ of them findings; run saved to", r.output)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["table"]["types"]["mileage"] == "integer" and cfg["target_names"] == ["price"]
    # predict: a run directory, side inputs from the items' attributes, the id and text columns remembered
    p = run("predict", out, "--data", cars / "new.csv", "-o", cars / "p.csv")
    assert re.search(r"wrote 7 predictions \(price\) to .*p\.csv", p.output)
    lines = (cars / "p.csv").read_text().splitlines()
    assert lines[0] == "id,price" and lines[1].startswith("c0000,") and len(lines) == 8
    # ... or its model directory
    p2 = run("predict", out / "model", "--data", cars / "new.csv")
    assert p2.output.splitlines()[1:] == lines[1:]
    pd.read_csv(cars / "new.csv").drop(columns="fuel").to_csv(cars / "nofuel.csv", index=False)
    w = run("predict", out, "--data", cars / "nofuel.csv")
    assert "warning: " in w.output and "has no column fuel" in w.output
    s = run("score", out, "--data", cars / "test.csv", "--target", "price")
    assert re.match(r"40 items: rmse [\d.]+ · mae [\d.]+ · median_ae [\d.]+ · r2 0\.\d+", s.output), s.output
    sj = json.loads(run("score", out, "--data", cars / "test.csv", "--json").output)  # target remembered
    assert sj["n_items"] == 40 and sj["r2"] > 0.5


def test_predict_output_folder_missing_is_one_line(cars, fitted):
    line = error_line(run("predict", fitted[0], "--data", cars / "new.csv", "-o", cars / "nodir" / "p.csv", ok=False))
    assert "nodir" in line and "does not exist; create it first" in line


def test_bare_model_with_side_inputs_says_how(cars, fitted, tmp_path):
    import shutil

    shutil.copytree(fitted[0] / "model", tmp_path / "m")
    # a copied model directory knows how its inputs were read (inputs.json) ...
    alone = run("predict", tmp_path / "m", "--data", cars / "new.csv")
    assert alone.output == run("predict", fitted[0], "--data", cars / "new.csv").output
    # ... without that file, it says what to pass
    (tmp_path / "m" / "inputs.json").unlink()
    line = error_line(run("predict", tmp_path / "m", "--data", cars / "new.csv", ok=False))
    assert "uses 1 side inputs; pass --side-inputs" in line
    run("predict", tmp_path / "m", "--data", cars / "new.csv", "--side-inputs", "year", "--text", "description",
        "--id", "car_id")


def test_wrong_side_input_lists_the_attributes(cars, tmp_path):
    line = error_line(run("fit", "--data", cars / "cars.csv", "--target", "price", "--side-inputs", "milage",
                          "-o", tmp_path / "r", "-q", ok=False))
    assert "side input 'milage' is not an attribute" in line
    assert "certified, description, fuel, make, mileage, year" in line  # no --text: description is an attribute


@pytest.mark.parametrize("args, message", [
    (["--n-features", "-3"], "--n-features"),
    (["--n-features", "0"], "--n-features"),
    (["--cycles", "0"], "--cycles"),
    (["--add", "0"], "--add"),
    (["--remove", "-1"], "--remove"),
    (["--n-candidates", "0"], "--n-candidates"),
])
def test_invalid_counts_are_rejected(cars, tmp_path, args, message):
    r = run("fit", "--data", cars / "cars.csv", "--target", "price", "-o", tmp_path / "r", *args, ok=False)
    assert r.exit_code == 2 and message in r.output and "is not in the range" in r.output


def test_too_few_items_and_constant_target(tmp_path):
    (tmp_path / "three.csv").write_text("name,price\na,1\nb,2\nc,3\n")
    line = error_line(run("fit", "--data", tmp_path / "three.csv", "--target", "price", "-o", tmp_path / "r",
                          ok=False))
    assert "only 3 items; genz needs at least 20" in line
    rows = "\n".join(f"car {i},{i % 5},7000" for i in range(40))
    (tmp_path / "const.csv").write_text("name,rank,price\n" + rows + "\n")
    line = error_line(run("fit", "--data", tmp_path / "const.csv", "--target", "price", "-o", tmp_path / "r2",
                          ok=False))
    assert "the price is the same for every item (7000); there is nothing to predict" in line


def test_titles_only_with_the_offline_engine_explains(tmp_path):
    rng = np.random.default_rng(0)
    letters = list("bcdfghklmnprstvz")
    # titles as unlike as real movie titles: no word repeats across items
    titles = [" ".join("".join(rng.choice(letters, 6)).title() + f"{chr(97 + i % 26)}{i}" for _ in range(2))
              for i in range(60)]
    items = tmp_path / "titles.jsonl"
    items.write_text("".join(json.dumps({"id": f"m{i}", "text": t}) + "\n" for i, t in enumerate(titles)))
    (tmp_path / "y.csv").write_text("id,y\n" + "".join(f"m{i},{v:.3f}\n" for i, v in enumerate(rng.normal(size=60))))
    r = run("fit", "--items", items, "--targets", tmp_path / "y.csv", "--n-features", "3", "-o", tmp_path / "r",
            "-q", ok=False)
    line = error_line(r)
    assert line.startswith("Error: genz kept no feature")
    assert "short texts without attributes" in line and "--fm openai" in line and "--data" in line


def test_naive_records_as_items_then_as_a_table(cars, tmp_path):
    df = make_cars(60, seed=2).rename(columns={"car_id": "id"})
    df.to_json(tmp_path / "naive.jsonl", orient="records", lines=True)
    df[["id", "price"]].to_csv(tmp_path / "t.csv", index=False)
    line = error_line(run("fit", "--items", tmp_path / "naive.jsonl", "--targets", tmp_path / "t.csv",
                          "-o", tmp_path / "r", ok=False))
    assert 'belong under "attributes"' in line and "--data naive.jsonl --target COLUMN" in line
    run("fit", "--data", tmp_path / "naive.jsonl", "--target", "price", "--id", "id", "--text", "description",
        "--n-features", "2", "-o", tmp_path / "r", "-q")


def test_encodings_and_binary_files_are_one_line(tmp_path):
    lat = tmp_path / "items.jsonl"
    lat.write_bytes("".join(json.dumps({"id": f"i{i}", "text": f"caf\xe9 {i % 3}"}, ensure_ascii=False) + "\n"
                            for i in range(30)).encode("latin-1"))
    (tmp_path / "y.csv").write_text("id,y\n" + "".join(f"i{i},{i}\n" for i in range(30)))
    line = error_line(run("fit", "--items", lat, "--targets", tmp_path / "y.csv", "-o", tmp_path / "r", ok=False))
    assert "items.jsonl:1: byte 0xe9 at offset" in line and "--encoding" in line
    run("fit", "--items", lat, "--targets", tmp_path / "y.csv", "--encoding", "latin-1", "--n-features", "1",
        "-o", tmp_path / "r", "-q", ok=None)  # reads; the fit itself may keep no feature
    binary = tmp_path / "t.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    ok_items = tmp_path / "ok.jsonl"
    ok_items.write_text("".join(json.dumps({"id": f"i{i}", "text": "x"}) + "\n" for i in range(30)))
    line = error_line(run("fit", "--items", ok_items, "--targets", binary, "-o", tmp_path / "r2", ok=False))
    assert "t.bin" in line and "looks binary" in line


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    import genz.commands.inputs as inputs

    def boom(*a, **k):
        raise RuntimeError("something broke\nover two lines")

    monkeypatch.setattr(inputs, "load_inputs", boom)
    monkeypatch.setattr("genz.cli.load_inputs", boom)
    args = ["fit", "--data", "x.csv", "--target", "y", "-o", str(tmp_path / "r")]
    line = error_line(run(*args, ok=False))
    assert "RuntimeError: something broke over two lines (at genz/" in line and "genz --debug" in line
    r = CliRunner().invoke(main, ["--debug", *args])
    assert isinstance(r.exception, RuntimeError)  # --debug lets the traceback through


def test_genz_alone_prints_help_and_exits_0():
    r = run()
    assert "Usage:" in r.output and "genz fit --data" in r.output and "Commands:" in r.output


def _walk(cmd, path):
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _walk(sub, path + [name])
    else:
        yield path, cmd


def test_every_option_has_help_and_q_o_are_consistent():
    missing, no_o = [], []
    for path, cmd in _walk(main, ["genz"]):
        for p in cmd.params:
            if isinstance(p, click.Option):
                if not p.help:
                    missing.append(f"{' '.join(path)} {p.opts}")
                if "--out" in p.opts and "-o" not in p.opts:
                    no_o.append(" ".join(path))
        if path[1] in ("fit", "predict", "score", "estimate", "report", "demo", "experiment"):
            assert any("-q" in getattr(p, "opts", []) for p in cmd.params), path
    assert not missing and not no_o, (missing, no_o)


def test_the_same_fm_default_everywhere():
    defaults = {}
    for path, cmd in _walk(main, ["genz"]):
        for p in cmd.params:
            if isinstance(p, click.Option) and p.name == "fm":
                defaults[" ".join(path)] = (p.default, list(getattr(p.type, "choices", [])))
    assert defaults["genz fit"][0] == defaults["genz estimate"][0] == "predicates"
    # commands that only make sense with an LLM (image descriptions, batch request files) offer only it
    assert all(d == "predicates" or ch == ["openai"] for d, ch in defaults.values()), defaults
    assert defaults["genz describe-images"] == ("openai", ["openai"])  # it needs a vision model: nothing else listed


def test_demo_twice_then_resume(tmp_path):
    out = tmp_path / "demo"
    run("demo", "binary", "-o", out, "-q")
    line = error_line(run("demo", "binary", "-o", out, ok=False))
    assert "--resume" in line
    r = run("demo", "binary", "-o", out, "--resume")
    assert "bits recovered: 9 of 9" in r.output


def test_changed_configuration_lists_only_the_differences(cars, tmp_path):
    out = tmp_path / "r"
    base = ["fit", "--data", cars / "cars.csv", "--target", "price", "--text", "description", "-o", out, "-q"]
    run(*base, "--n-features", "1")
    line = error_line(run(*base, "--n-features", "2", ok=False))
    assert "estimator.add_only: 1 -> 2" in line and "estimator.model" not in line and len(line) < 400


def test_mlp_without_torch_says_how_to_get_it(cars, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    line = error_line(run("fit", "--data", cars / "cars.csv", "--target", "price", "--model", "mlp",
                          "-o", tmp_path / "r", ok=False))
    assert "pip install 'genz[mlp]'" in line


def test_no_conjunctions_switch(cars, tmp_path):
    out = tmp_path / "r"
    run("fit", "--data", cars / "cars.csv", "--target", "price", "--text", "description", "--no-conjunctions",
        "--n-features", "6", "-o", out, "-q")
    feats = json.loads((out / "model" / "model.json").read_text())["features"]
    assert len(feats) >= 3 and not any(") and (" in f for f in feats), feats


def _phrases(features):
    for f in features:
        for m in re.finditer(r'mentions ("(?:[^"\\]|\\.)*")', f):
            yield json.loads(m.group(1))


@pytest.mark.slow
def test_default_run_on_the_car_data_reads_as_a_person_would_write(tmp_path):
    """The default fit on planted car data: no function-word-only phrase, no phrase across a
    sentence boundary, and the planted phrases found in their context."""
    df = make_cars(600, seed=0)  # 300: the held-out quarter (75 cars) cannot show the phrases beside mileage
    df.to_csv(tmp_path / "cars.csv", index=False)
    out = tmp_path / "run"
    run("fit", "--data", tmp_path / "cars.csv", "--target", "price", "--id", "car_id", "--text", "description",
        "-o", out, "-q")
    feats = json.loads((out / "model" / "model.json").read_text())["features"]
    phrases = list(_phrases(feats))
    assert phrases, feats
    sentences = [s.strip().lower() for d in df.description for s in re.split(r"[.!?]\s*", d) if s.strip()]
    for ph in phrases:
        assert not all(w in FUNCTION_WORDS for w in ph.split()), ph
        assert any(ph in s for s in sentences), f"{ph!r} is not inside one sentence"
    assert {"has a sunroof", "accident reported"} <= set(phrases) or "one owner" in phrases, phrases


def test_fit_estimate_and_experiment_share_the_fm_and_discovery_options():
    def names(*path):
        cmd = main
        for p in path:
            cmd = cmd.commands[p]
        return {o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--")}

    from genz.commands.fm import FM_OPTION_KEYS

    fm_opts = {"--fm", "--fm-model", "--mining-model", "--base-url", "--cache", "--no-cache", "--prompts-dir"}
    discovery = {"--cycles", "--add", "--remove", "--n-candidates", "--algorithm", "--model", "--conjunctions"}
    fit, est, exp = names("fit"), names("estimate"), names("experiment", "houses")
    assert fm_opts | discovery | {"--n-features", "--seed", "--data", "--target", "--text", "--id"} <= fit
    assert fm_opts | discovery | {"--n-features", "--seed", "--data", "--target", "--text", "--id"} <= est
    assert fm_opts | discovery <= exp
    assert len(FM_OPTION_KEYS) >= len(fm_opts)


def test_categorical_keeps_number_columns_as_categories(tmp_path):
    rng = np.random.default_rng(0)
    zips = rng.choice([85255, 85262, 92880, 60016], 60)
    price = np.where(zips == 92880, 500.0, 100.0) + rng.normal(0, 1, 60)
    pd.DataFrame({"zip": zips, "rooms": rng.integers(1, 5, 60), "price": price}).to_csv(tmp_path / "h.csv", index=False)
    out = tmp_path / "r"
    r = run("fit", "--data", tmp_path / "h.csv", "--target", "price", "--categorical", "zip", "--n-features", "1",
            "-o", out)
    assert "zip (text)" in r.output and "'zip' is \"92880\"" in r.output
    line = error_line(run("fit", "--data", tmp_path / "h.csv", "--target", "price", "--categorical", "zipp",
                          "-o", tmp_path / "r2", ok=False))
    assert "--categorical 'zipp': no such attribute column (attributes: zip, rooms)" in line


def test_side_inputs_numeric(tmp_path):
    """`--side-inputs numeric` takes every numeric column with a value in every row, and a
    model fitted so predicts from the same columns, also when the side inputs explain the
    target and no feature is kept (a result, not a failed run). Catches: 'numeric' read as a
    column name; a fit with side inputs and no feature marked failed or refused by predict."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 300)
    df = pd.DataFrame({"id": [f"r{i}" for i in range(300)], "x": x.round(3),
                       "c": rng.choice(["a", "b"], 300), "y": x + rng.normal(0, 0.3, 300)})
    df.iloc[:250].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[250:].drop(columns=["y"]).to_csv(tmp_path / "new.csv", index=False)
    side = run("fit", "--data", tmp_path / "train.csv", "--target", "y", "--id", "id", "--cycles", "2",
               "--side-inputs", "numeric", "-o", tmp_path / "side").output
    assert "side inputs: x" in side
    run("predict", tmp_path / "side", "--data", tmp_path / "new.csv", "-o", tmp_path / "p.csv")
    p = pd.read_csv(tmp_path / "p.csv")
    assert np.sqrt(np.mean((p["y"].to_numpy() - x[250:]) ** 2)) < 0.6
    # the saved model predicts the same from a DataFrame in Python (its side inputs read from the
    # remembered columns; a numbers route fitted on them as an array appends its own columns)
    from genz import GenZRegressor
    est = GenZRegressor.load(tmp_path / "side" / "model")
    new = df.iloc[250:].drop(columns=["y"]).reset_index(drop=True)
    np.testing.assert_allclose(np.ravel(est.predict(new)), p["y"].to_numpy(), rtol=1e-6, atol=1e-6)
