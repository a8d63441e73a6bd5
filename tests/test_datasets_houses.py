import json
from pathlib import Path

import numpy as np
import pytest

from genz.datasets.houses import load_houses, read_houses_info, zip_info
from genz.errors import GenZInputError

FIX = Path(__file__).parent / "fixtures" / "houses"


def test_load_houses_items_targets_side_inputs():
    ds = load_houses(FIX)
    assert len(ds) == 6 and ds.Y.shape == (6, 1) and ds.U.shape == (6, 3)
    assert ds.side_input_names == ["log_area", "bedrooms", "bathrooms"]
    np.testing.assert_allclose(ds.Y[:, 0], np.log([869500, 865200, 249000, 98000, 1250000, 215000]))
    np.testing.assert_allclose(ds.U[2], [np.log(1923), 3, 2.5])
    first = ds.items[0]
    assert first.id == "1"
    assert first.attributes["zipcode"] == "85255"
    assert first.attributes["city"] == "Scottsdale"
    assert first.attributes["county"] == "Maricopa County"
    assert first.attributes["state"] == "AZ"
    assert "price" not in first.attributes and "869500" not in first.render()
    assert [Path(p).name for p in first.images] == ["1_frontal.jpg", "1_kitchen.jpg"]
    assert ds.items[1].images == ()
    # a zip code unknown to the database keeps the zip code, without a place
    assert ds.items[1].attributes["zipcode"] == "36372" and "city" not in ds.items[1].attributes
    assert ds.items[2].attributes["bathrooms"] == 2.5
    raw = load_houses(FIX, area="raw")
    np.testing.assert_allclose(raw.U[:, 0], [4053, 3343, 1923, 1100, 3800, 1600])


def test_zip_info_offline():
    assert zip_info("62234") == {"city": "Collinsville", "county": "Madison County", "state": "IL"}
    assert zip_info("00000") == {}


def test_image_descriptions(tmp_path):
    d = tmp_path / "houses"
    d.mkdir()
    (d / "HousesInfo.txt").write_text((FIX / "HousesInfo.txt").read_text())
    recs = [
        {"image": "images/1_frontal.jpg", "description": "A two-story stucco house with a tile roof."},
        {"image": "3_kitchen.jpg", "description": "A small galley kitchen."},
    ]
    (d / "image_descriptions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    ds = load_houses(d)
    assert ds.items[0].attributes["image_descriptions"] == ["frontal: A two-story stucco house with a tile roof."]
    assert ds.items[2].attributes["image_descriptions"] == ["kitchen: A small galley kitchen."]
    assert "image_descriptions" not in ds.items[1].attributes
    assert ds.extra["n_described"] == 2
    (d / "image_descriptions.jsonl").write_text('{"image": "1_frontal.jpg"}\n')
    with pytest.raises(GenZInputError, match=r"image_descriptions\.jsonl:1: expected string fields"):
        load_houses(d)


@pytest.mark.parametrize(
    "line,msg",
    [
        ("4 4 4053 85255", r"HousesInfo\.txt:2: expected 5 space-separated fields"),
        ("4 four 4053 85255 869500", r"HousesInfo\.txt:2: bathrooms = 'four' is not a number"),
        ("4 4 4053 8525 869500", r"HousesInfo\.txt:2: zip code '8525' is not 5 digits"),
        ("4 4 4053 85255 0", r"HousesInfo\.txt:2: price '0' must be positive"),
    ],
)
def test_malformed_lines(tmp_path, line, msg):
    p = tmp_path / "HousesInfo.txt"
    p.write_text("3 2 1600 92276 215000\n" + line + "\n")
    with pytest.raises(GenZInputError, match=msg):
        read_houses_info(p)


def test_missing_file(tmp_path):
    with pytest.raises(GenZInputError, match="no such file"):
        load_houses(tmp_path)
