import json

import numpy as np
import pytest

from genz import GenZInputError, GenZRegressor, Item
from genz.items import load_items, load_targets, side_inputs_from_attributes


def _write(p, text):
    p.write_text(text, encoding="utf-8")
    return p


def test_load_items_ok(tmp_path):
    p = _write(tmp_path / "i.jsonl", '{"id": "a", "text": "x", "attributes": {"area": 3}}\n\n{"id": 2, "text": "y"}\n')
    items = load_items(p)
    assert [it.id for it in items] == ["a", "2"]
    assert items[0].attributes == {"area": 3}


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "duplicate id 'a'"),
    ('{"text": "x"}\n', "no 'id'"),
    ('{"id": "a", "text": "x"}\n{"id": "b", "text": \n', ":2: not valid JSON"),
    ('[1, 2]\n', "expected a JSON object"),
    ('{"id": "a", "text": 5}\n', "'text' must be a string"),
    ('{"id": "a", "text": "x", "attributes": [1]}\n', "'attributes' must be a JSON object"),
    ('{"id": "a", "text": "x", "attributes": {"k": {"n": 1}}}\n', "attribute 'k'"),
    ('{"id": "a"}\n', "has no text, attributes or images"),
    ('{"id": "a", "text": "x", "attributes": {"v": NaN}}\n', "not a finite number"),
])
def test_load_items_errors(tmp_path, content, message):
    p = _write(tmp_path / "i.jsonl", content)
    with pytest.raises(GenZInputError, match=message) as exc:
        load_items(p)
    assert "\n" not in str(exc.value)


def test_missing_items_file(tmp_path):
    with pytest.raises(GenZInputError, match="no such items file"):
        load_items(tmp_path / "nope.jsonl")


def test_load_targets_csv(tmp_path):
    p = _write(tmp_path / "t.csv", "id,y0,y1\nb,3,4\na,1,2\n")
    np.testing.assert_array_equal(load_targets(p, ["a", "b"]), [[1, 2], [3, 4]])


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("id,y\n", "no rows"),
    ("name,y\na,1\n", "header must be"),
    ("id,y\na,1\na,2\n", "duplicate id 'a'"),
    ("id,y\na,nan\n", "item 'a': y is nan, not finite"),
    ("id,y\na,inf\n", "not finite"),
    ("id,y\na,abc\n", "'abc' is not a number"),
    ("id,y0,y1\na,1\n", "item 'a' has 1 target values, expected 2"),
    ("id,y\nzz,1\n", "no target for item 'a'"),
])
def test_load_targets_errors(tmp_path, content, message):
    p = _write(tmp_path / "t.csv", content)
    with pytest.raises(GenZInputError, match=message):
        load_targets(p, ["a"])


def test_load_targets_npy(tmp_path):
    np.save(tmp_path / "t.npy", np.array([1.0, 2.0]))
    assert load_targets(tmp_path / "t.npy", ["a", "b"]).shape == (2, 1)
    with pytest.raises(GenZInputError, match="3 rows for 2 items"):
        np.save(tmp_path / "u.npy", np.ones((3, 2)))
        load_targets(tmp_path / "u.npy", ["a", "b"])
    np.save(tmp_path / "n.npy", np.array([1.0, np.nan]))
    with pytest.raises(GenZInputError, match="item 'b' has a non-finite value"):
        load_targets(tmp_path / "n.npy", ["a", "b"])


def test_side_inputs_errors():
    items = [Item("a", "x", {"area": 3}), Item("b", "y", {"area": "big"})]
    with pytest.raises(GenZInputError, match="item 'b': side input 'area'"):
        side_inputs_from_attributes(items, ["area"])
    with pytest.raises(GenZInputError, match=r"side input 'beds' is not an attribute of the items \(attributes: area\)"):
        side_inputs_from_attributes(items, ["beds"])
    with pytest.raises(GenZInputError, match="item 'b': side input 'area' is missing"):
        side_inputs_from_attributes([Item("a", "x", {"area": 3}), Item("b", "y", {"rooms": 2})], ["area"])


def test_estimator_input_errors():
    items = [Item(str(i), str(i)) for i in range(10)]
    est = GenZRegressor(add_only=1)
    with pytest.raises(GenZInputError, match="not a genz.Item"):
        est.fit(["a", "b"], [1, 2])
    with pytest.raises(GenZInputError, match="3 rows for 10 items"):
        est.fit(items, [1, 2, 3])
    y = np.arange(10.0)
    y[4] = np.nan
    with pytest.raises(GenZInputError, match="item '4' has a non-finite value"):
        est.fit(items, y)
    with pytest.raises(GenZInputError, match="ragged"):
        est.fit(items, [[1, 2]] * 9 + [[1]])
    dup = items[:-1] + [Item("0", "z")]
    with pytest.raises(GenZInputError, match="duplicate id '0'"):
        est.fit(dup, np.arange(10.0))
    with pytest.raises(GenZInputError, match="model must be"):
        GenZRegressor(model="tree").fit(items, np.arange(10.0))
