"""Tables as pandas writes them (issue 21), fitted and predicted through the CLI and the API.

One small frame with the column kinds a data scientist has — dates (``datetime64``), a
category (``category`` dtype), nullable integers with missing values (``Int64``), floats with
NaN, booleans, free text — written by pandas' own writers (``to_csv`` with and without the
index, ``to_parquet``, ``to_json(orient="records", lines=True)``). Every form must read to the
same items, and ``genz fit`` / ``genz predict`` on the file must give the same predictions as
``GenZRegressor`` on the DataFrame itself.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest

from genz import items_from_frame
from genz.fm.predicates import parse_predicate
from click.testing import CliRunner

from genz import GenZRegressor, load_table
from genz.cli import main

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

N = 150
FORMS = ("csv", "csv_index", "parquet", "jsonl")
TYPES = {"day": "date", "kind": "text", "count": "integer", "weight": "number", "fresh": "boolean"}


def frame(seed: int = 0) -> "pd.DataFrame":
    r = np.random.default_rng(seed)
    day = pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 730, N), unit="D")
    count = pd.array(r.integers(0, 6, N), dtype="Int64")
    count[r.random(N) < 0.1] = pd.NA
    weight = r.normal(10, 2, N).round(2)
    weight[r.random(N) < 0.1] = np.nan
    df = pd.DataFrame({
        "day": day,
        "kind": pd.Categorical(r.choice(["apple", "pear", "plum"], N)),
        "count": count,
        "weight": weight,
        "fresh": r.random(N) < 0.5,
        "note": r.choice(["picked this morning in the orchard", "stored for a week in the cellar",
                          "imported by ship from abroad"], N),
    })
    summer = df.day.dt.month.isin([6, 7, 8])
    df["y"] = (30.0 * (df.kind == "pear") + 20.0 * (df["count"].fillna(0) >= 3) + 15.0 * summer
               + r.normal(0, 1, N))
    return df


def write(df: "pd.DataFrame", form: str, path) -> None:
    if form == "csv":
        df.to_csv(path, index=False)
    elif form == "csv_index":
        df.to_csv(path)  # pandas' default: the index first, without a name
    elif form == "parquet":
        df.to_parquet(path)
    else:
        # dates as epoch milliseconds (pandas' default); all 15 digits of the numbers (pandas rounds
        # to 10 by default, and a fit on rounded targets may break a tie differently)
        df.to_json(path, orient="records", lines=True, double_precision=15)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    df = frame()
    out = {}
    for form in FORMS:
        p = d / f"fruit_{form}.{'jsonl' if form == 'jsonl' else form.split('_')[0]}"
        write(df, form, p)
        out[form] = p
    return d, df, out


@pytest.mark.parametrize("form", FORMS)
def test_every_pandas_writer_reads_to_the_same_items(files, form):
    _, df, paths = files
    t = load_table(paths[form], "y", text="note")
    assert t.types == TYPES, t.summary
    reference = load_table(paths["csv"], "y", text="note")
    assert [it.attributes for it in t.items] == [it.attributes for it in reference.items]
    assert [it.text for it in t.items] == list(df.note)
    np.testing.assert_allclose(t.Y[:, 0], df.y)
    first = t.items[0].attributes
    assert first["day"] == df.day[0].strftime("%Y-%m-%d") and first["kind"] == str(df.kind[0])
    missing = int(df["count"].isna().sum())
    assert sum("count" not in it.attributes for it in t.items) == missing and missing > 0
    assert all(isinstance(it.attributes.get("count", 0), int) for it in t.items)


@pytest.fixture(scope="module")
def api_fit(files):
    _, df, _ = files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = GenZRegressor(cycles=2, random_state=0, text="note").fit(df.drop(columns="y"), df.y)
    return est


def test_the_api_fits_and_predicts_the_dataframe_itself(files, api_fit):
    _, df, _ = files
    est = api_fit
    assert est.inputs_["types"] == TYPES and est.inputs_["text"] == ["note"]
    p = est.predict(df.drop(columns="y"))
    assert np.corrcoef(p, df.y)[0, 1] ** 2 > 0.8
    # the frames pandas reads back from the files predict alike
    for back in (pd.read_csv(files[2]["csv"]), pd.read_parquet(files[2]["parquet"])):
        np.testing.assert_allclose(est.predict(back.drop(columns="y")), p)


@pytest.mark.parametrize("form", FORMS)
def test_the_cli_fits_and_predicts_every_form_as_the_api_does(files, api_fit, form):
    d, df, paths = files
    run_dir = d / f"run_{form}"
    r = CliRunner().invoke(main, ["fit", "--data", str(paths[form]), "--target", "y", "--text", "note",
                                  "--cycles", "2", "-o", str(run_dir), "-q"])
    assert r.exit_code == 0, r.output
    inputs = json.loads((run_dir / "model" / "inputs.json").read_text())
    assert inputs["table"]["types"] == TYPES
    r = CliRunner().invoke(main, ["predict", str(run_dir), "--data", str(paths[form])])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(io.StringIO(_csv_part(r.output)))
    assert len(got) == N and list(got.columns) == ["id", "y"]
    assert list(got["id"]) == list(range(1, N + 1))  # row numbers, pandas' index or not
    # the same data, the same seed: the same features and predictions as the API on the DataFrame
    feats = json.loads((run_dir / "model" / "model.json").read_text())["features"]
    if form == "jsonl":  # JSON's numbers round trip to the last bit only: a tie may pick the other polarity
        items = items_from_frame(df.drop(columns="y"), text="note")
        assert len(feats) == len(api_fit.features_)
        for a, b in zip(feats, api_fit.features_):
            ja, jb = parse_predicate(a).evaluate(items), parse_predicate(b).evaluate(items)
            assert (ja == jb).all() or (ja != jb).all(), (a, b)
    else:
        assert feats == api_fit.features_
    np.testing.assert_allclose(got["y"].to_numpy(), api_fit.predict(df.drop(columns="y")), rtol=1e-6)


def _csv_part(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("id,"))
    return "\n".join(ln for ln in lines[start:] if not ln.startswith(("warning", "wrote")))


def test_an_excel_workbook_is_read_with_openpyxl_or_refused_with_what_to_do(files, tmp_path):
    _, df, paths = files
    xlsx = tmp_path / "fruit.xlsx"
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        xlsx.write_bytes(b"PK\x03\x04" + bytes(64))  # a zip: what an .xlsx is
        r = CliRunner().invoke(main, ["fit", "--data", str(xlsx), "--target", "y", "-o", str(tmp_path / "run")])
        assert r.exit_code == 1 and "save the sheet as CSV" in r.output and "pip install openpyxl" in r.output
        return
    df.to_excel(xlsx)  # pandas' default: the index in an unnamed first column; dates as Excel dates
    t = load_table(xlsx, "y", text="note")
    assert t.types == TYPES, t.summary
    assert [it.attributes for it in t.items] == [it.attributes for it in load_table(paths["csv"], "y",
                                                                                      text="note").items]
    r = CliRunner().invoke(main, ["fit", "--data", str(xlsx), "--target", "y", "--text", "note", "--cycles", "2",
                                  "-o", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--data", str(xlsx)])
    assert r.exit_code == 0 and len(pd.read_csv(io.StringIO(_csv_part(r.output)))) == N
