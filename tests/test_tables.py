"""Tables in (issue 11): CSV, TSV, Parquet, JSONL records, gzip, BOM, encodings, type
inference, DataFrames in the estimator, numpy/pandas scalars and missing values everywhere."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from genz import GenZInputError, GenZRegressor, Item, items_from_frame, load_table, save_items
from genz.fm.predicates import PredicateFM
from genz.items import load_items, load_targets
from genz.tables import infer_types, read_table

pd = pytest.importorskip("pandas")


def small_frame(n: int = 6) -> "pd.DataFrame":
    return pd.DataFrame({
        "car_id": [f"c{i}" for i in range(n)],
        "make": ["ford", "bmw", None, "kia", "ford", "bmw"][:n],
        "year": [2010, 2012, np.nan, 2015, 2008, 2019][:n],
        "mileage": ["259,200", "12,000", None, "98,500", "150,000", "1,000"][:n],
        "zip": ["02134", "10001", "94110", "02134", "60601", "73301"][:n],
        "certified": [True, False, None, True, False, True][:n],
        "description": ["Has a sunroof. Clean title.", "Runs well", "One owner", None, "Has a sunroof.", "New"][:n],
        "price": [5000.0, 12000, 8000, 9000, 4000, 20000][:n],
    })


EXPECTED_ROW0 = {"make": "ford", "year": 2010, "mileage": 259200, "zip": "02134", "certified": True}


def check_cars(items, Y=None):
    assert [it.id for it in items] == [f"c{i}" for i in range(6)]
    assert items[0].attributes == EXPECTED_ROW0
    assert items[0].text == "Has a sunroof. Clean title."
    # missing cells are absent, not None/NaN/"nan"
    assert items[2].attributes == {"zip": "94110"}
    assert items[3].text == "" and items[3].attributes["mileage"] == 98500
    assert isinstance(items[0].attributes["year"], int) and isinstance(items[0].attributes["certified"], bool)
    if Y is not None:
        np.testing.assert_array_equal(Y[:, 0], [5000, 12000, 8000, 9000, 4000, 20000])


@pytest.mark.parametrize("form", ["csv", "tsv", "parquet", "jsonl", "csv.gz", "jsonl.gz", "bom.csv", "gz-no-suffix",
                                  "utf16.tsv"])
def test_every_table_form_reads_the_same(tmp_path, form):
    df = small_frame()
    p = tmp_path / f"cars.{form}"
    if form in ("csv", "csv.gz"):
        df.to_csv(p, index=False)  # pandas gzips by the .gz suffix
    elif form == "bom.csv":
        df.to_csv(p, index=False, encoding="utf-8-sig")  # what Excel writes
        assert p.read_bytes()[:3] == b"\xef\xbb\xbf"
    elif form == "tsv":
        df.to_csv(p, index=False, sep="\t")
    elif form == "utf16.tsv":  # Excel's "Unicode text" export
        df.to_csv(p, index=False, sep="\t", encoding="utf-16")
        assert p.read_bytes()[:2] == b"\xff\xfe"
    elif form == "parquet":
        pytest.importorskip("pyarrow")
        df.to_parquet(p)
    elif form in ("jsonl", "jsonl.gz"):
        df.to_json(p, orient="records", lines=True)
    else:  # a gzipped CSV whose name says nothing: recognised by its magic bytes
        p = tmp_path / "cars.csv"
        p.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    if form.endswith(".gz"):
        assert p.read_bytes()[:2] == b"\x1f\x8b"
    t = load_table(p, "price", id="car_id", text="description")
    check_cars(t.items, t.Y)
    assert "\n" not in t.summary
    assert "mileage had thousands separators" in t.summary and "certified (booleans)" in t.summary


def test_dataframe_in_python_and_the_estimator():
    df = small_frame()
    check_cars(items_from_frame(df, id="car_id", text="description", exclude=["price"]))
    rng = np.random.default_rng(0)
    n = 80
    big = pd.DataFrame({"year": rng.integers(2000, 2020, n).astype(np.int64),
                        "mileage": [f"{m:,}" for m in rng.integers(1000, 300000, n)],
                        "sunroof": rng.random(n) < 0.5})
    big["description"] = np.where(big.sunroof, "Has a sunroof. Clean title.", "Clean title. Runs well.")
    y = pd.Series(1000.0 * big.year + 5000.0 * big.sunroof, name="price")
    big = big.drop(columns="sunroof")
    big["price"] = y  # a frame that still holds the target: the target column is not an attribute
    est = GenZRegressor(add_only=2, random_state=0).fit(big, y, text="description")
    assert not any("price" in f for f in est.features_)
    assert any("sunroof" in f or "runs well" in f for f in est.features_), est.features_  # the text was used
    est2 = GenZRegressor(add_only=2, random_state=0).fit(big, y.to_numpy(), text="description")
    assert est2.features_ == est.features_  # the target column is recognised by its values too
    P = est.predict(big, text="description")
    assert P.shape == (n,) and np.corrcoef(P, y)[0, 1] > 0.9
    assert est.transform(big.head(3), text="description").shape == (3, 2)


def test_numbers_as_strings_become_numbers_codes_stay_text():
    t = {"year": ["2010", "2012", ""], "mileage": ["259,200", "$1,000.50", "NA"], "zip": ["02134", "10001", "94110"],
         "flag": ["yes", "No", "TRUE"], "mixed": ["12", "twelve", "3"]}
    assert infer_types(t) == {"year": "integer", "mileage": "number", "zip": "text", "flag": "boolean",
                              "mixed": "text"}
    items = items_from_frame(t)
    assert items[0].attributes == {"year": 2010, "mileage": 259200, "zip": "02134", "flag": True, "mixed": "12"}
    assert items[1].attributes["mileage"] == 1000.5 and "year" in items[1].attributes
    assert "year" not in items[2].attributes and "mileage" not in items[2].attributes


def test_numpy_and_pandas_scalars_and_missing_values_in_items():
    it = Item("a", "x", {"n": np.int64(3), "f": np.float32(2.5), "b": np.bool_(True), "m": None,
                         "nan": float("nan"), "na": pd.NA, "l": np.array(["a", "b"])})
    assert it.attributes == {"n": 3, "f": 2.5, "b": True, "l": ["a", "b"]}
    assert type(it.attributes["n"]) is int
    assert Item("b", "y", None).attributes == {}
    assert Item("c", None).text == ""


def test_predicate_engine_takes_numpy_attributes():
    """An np.int64 attribute used to crash mining with IndexError (issue 11)."""
    import dataclasses

    items = [Item(f"i{n}", "", {"area": n}) for n in range(40)]
    # bypass the Item normalisation: the engine itself must accept numpy scalars
    for n, it in enumerate(items):
        object.__setattr__(it, "attributes", {"area": np.int64(n)})
    assert isinstance(items[0].attributes["area"], np.int64)
    fm = PredicateFM()
    d = fm.mine(items[20:], items[:20])
    assert d == "'area' is at least 20"
    assert fm.judge(d, items).values.sum() == 20
    assert dataclasses.is_dataclass(items[0])


def test_save_items_is_exported_and_round_trips(tmp_path):
    items = [Item("a", "x", {"k": 1}), Item("b", "y")]
    save_items(items, tmp_path / "i.jsonl")
    assert load_items(tmp_path / "i.jsonl") == items
    with pytest.raises(GenZInputError, match="does not exist"):
        save_items(items, tmp_path / "nodir" / "i.jsonl")


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"a,b\n", "header but no rows"),
    (b"a,a\n1,2\n", "appears twice"),
    (b"a,b\n1,2\n1,2,3\n", ":3: 3 cells, the header has 2"),
    (b"a,price\nx,\n", ":2: the target 'price' is missing"),
    (b"a,price\nx,abc\n", "'abc' is not a finite number"),
    (b"a,b\nx,1\n", "no column 'price'"),
    (b"a,price\n\xe9t\xe9,1\n", "byte 0xe9 at offset 8 is not utf-8"),
    (b"\x00\x01\x02\xff\xfe", "not utf-8"),
])
def test_table_errors_are_one_line(tmp_path, content, message):
    p = tmp_path / "t.csv"
    p.write_bytes(content)
    with pytest.raises(GenZInputError, match=message) as exc:
        load_table(p, "price")
    assert "\n" not in str(exc.value)


def test_encoding_option_reads_latin1(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("name,price\ncaf\xe9,1\n".encode("latin-1"))
    assert load_table(p, "price", encoding="latin-1").items[0].attributes == {"name": "café"}
    with pytest.raises(GenZInputError, match="unknown encoding"):
        load_table(p, "price", encoding="klingon")


def test_items_and_targets_gzip_bom_latin1(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_bytes(gzip.compress(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n'))
    assert [it.id for it in load_items(p)] == ["a", "b"]
    q = tmp_path / "bom.jsonl"
    q.write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "x"}\n')
    assert load_items(q)[0].id == "a"
    t = tmp_path / "t.csv"
    t.write_bytes(b"\xef\xbb\xbfid,y\na,1\nb,2\n")  # Excel's byte-order mark
    np.testing.assert_array_equal(load_targets(t, ["a", "b"])[:, 0], [1, 2])
    lat = tmp_path / "latin.jsonl"
    lat.write_bytes('{"id": "a", "text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(GenZInputError, match=r"latin\.jsonl:1: byte 0xe9 at offset 24 .*--encoding"):
        load_items(lat)
    assert load_items(lat, encoding="latin-1")[0].text == "café"
    binary = tmp_path / "targets.csv"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(GenZInputError, match="looks binary"):
        load_targets(binary, ["a"])


def test_naive_jsonl_records_say_where_the_columns_belong(tmp_path):
    """df.to_json(orient='records', lines=True) given as items: the message says what to do."""
    df = small_frame().drop(columns=["description"]).rename(columns={"car_id": "id"})
    p = tmp_path / "naive.jsonl"
    df.to_json(p, orient="records", lines=True)
    with pytest.raises(GenZInputError, match=r"naive\.jsonl:1: item 'c0'.*belong under \"attributes\".*--data") as exc:
        load_items(p)
    assert "\n" not in str(exc.value)
    t = read_table(p)  # the same file read as a table
    assert t.n_rows == 6 and "make" in t.columns
    df.drop(columns="id").to_json(p, orient="records", lines=True)
    with pytest.raises(GenZInputError, match=r"naive\.jsonl:1: item has no 'id'.*--data"):
        load_items(p)


def test_predict_types_follow_training(tmp_path):
    """New data is converted with the training table's column types."""
    p = tmp_path / "new.csv"
    p.write_text("year,zip\n2010,1234\n")
    t = load_table(p, types={"year": "integer", "zip": "text"})
    assert t.items[0].attributes == {"year": 2010, "zip": "1234"}
    p.write_text("year\nlots\n")
    with pytest.raises(GenZInputError, match=r"new\.csv:2: column 'year' = 'lots' is not a number"):
        load_table(p, types={"year": "integer"})


def test_the_summary_says_why_a_number_column_stayed_text(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("mileage,price\n" + "".join(f'"{i * 1000:,}",{i}\n' for i in range(1, 20)) + "unknown,3\n")
    t = load_table(p, "price")
    assert t.types == {"mileage": "text"}
    assert "mileage is text because 1 value is not a number (e.g. 'unknown')" in t.summary


def test_a_target_series_named_like_an_input_column_is_flagged():
    """``y = f(df["c"])`` is a Series named "c": the column is left out as the target (by name), and
    since it holds no numbers it cannot be where a numeric target came from: a warning says so.
    Catches: the warning missing, or raised for a numeric column the target may come from (the
    target column itself, or ``np.log(df["price"])``)."""
    import warnings

    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "c": list("ababab")})
    y = (df["c"] == "a").astype(float) + df["x"]
    y = y.rename("c")
    with pytest.warns(UserWarning, match="column 'c' is left out as the target because the target is a Series"):
        items = items_from_frame(df, target=y)
    assert "c" not in items[0].attributes
    same = df.assign(price=[10.0, 11, 12, 13, 14, 15])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        items = items_from_frame(same, target=same["price"])
        logged = items_from_frame(same, target=np.log(same["price"]))
    assert "price" not in items[0].attributes and "price" not in logged[0].attributes


def test_whole_numbers_under_a_code_name_stay_codes():
    """A zip code without a leading zero (``92880``, as a number or a string) is a place, not an
    amount: under a code's name it stays text, so the offline engine reads values, not thresholds.
    Catches: the name rule missing, applied to amounts (``price``) or to fractional numbers, or
    lost on ``types=`` (a model's saved types)."""
    from genz.tables import code_name

    t = {"zipcode": [92880, 94501, 85255], "ZipCode": ["92880", "94501", "85255"], "area_code": [415, 212, 312],
         "price": [92880, 94501, 85255], "zip_share": [0.5, 0.25, 0.125]}
    assert infer_types(t) == {"zipcode": "text", "ZipCode": "text", "area_code": "text", "price": "integer",
                              "zip_share": "number"}
    items = items_from_frame(t)
    assert items[0].attributes["zipcode"] == "92880" and items[0].attributes["price"] == 92880
    forced = items_from_frame(t, types={"zipcode": "integer"})
    assert forced[0].attributes["zipcode"] == 92880
    assert [code_name(n) for n in ("zip", "Postcode", "fips", "bedrooms", "episode", "decode")] == [
        True, True, True, False, False, False]
