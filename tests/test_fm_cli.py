"""`genz estimate`, `genz describe-images` and the FM options."""

from __future__ import annotations

import json
import math

import click
import pytest
from click.testing import CliRunner

from tests.fake_openai_server import fake_server  # noqa: F401  (pytest fixture)
from genz.commands.fm import default_cache_path, describe_images, estimate, fm_from_options, fm_options
from genz.errors import GenZInputError
from genz.fm.cache import CachedFM
from genz.fm.openai_compat import OpenAIFM
from genz.items import load_items


def write_items(path, n, images=None):
    with open(path, "w") as fh:
        for i in range(n):
            obj = {"id": f"h{i}", "text": f"house number {i} with a garden"}
            if images:
                obj["images"] = images
            fh.write(json.dumps(obj) + "\n")
    return path


def test_estimate_counts_calls_and_cost(tmp_path):
    items = write_items(tmp_path / "items.jsonl", 23)
    r = CliRunner().invoke(estimate, ["--items", str(items), "--fm", "openai", "--cycles", "3", "--add", "2",
                                      "--fm-model", "gpt-4o-mini", "--mining-model", "gpt-5",
                                      "--fm-batch-size", "10", "--zero-shot", "5", "--n-candidates", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    by = {e["kind"]: e for e in out["by_type"]}
    assert by["judge"]["calls"] == (6 + 5) * math.ceil(23 / 10)
    r3 = CliRunner().invoke(estimate, ["--items", str(items), "--n-features", "6", "--fm-model", "gpt-4o-mini",
                                       "--fm-batch-size", "10", "--n-candidates", "3", "--json"])
    by3 = {e["kind"]: e for e in json.loads(r3.output)["by_type"]}
    assert by3["judge"]["calls"] == 6 * 3 * math.ceil(23 / 10) and by3["mine"]["calls"] == 6
    assert by["mine"]["calls"] == 6 and by["mine"]["model"] == "gpt-5"
    assert by["propose"]["calls"] == 1
    assert by["judge"]["prompt_tokens"] > 0 and by["judge"]["cost_usd"] > 0
    # gpt-5 is a reasoning model: its hidden tokens are counted as output
    assert by["mine"]["completion_tokens"] >= 6 * 1000
    assert out["total"]["calls"] == sum(e["calls"] for e in out["by_type"])
    # table output
    r = CliRunner().invoke(estimate, ["--items", str(items), "--fm", "openai", "--n-features", "4", "--fm-model", "my-local"])
    assert r.exit_code == 0 and "total" in r.output and "0.00" in r.output


def test_estimate_bad_items_is_one_line(tmp_path):
    r = CliRunner().invoke(estimate, ["--items", str(tmp_path / "nope.jsonl")])
    assert r.exit_code != 0 and "no such items file" in r.output and "Traceback" not in r.output


def test_describe_images_cached(fake_server, tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 10)
    items = write_items(tmp_path / "items.jsonl", 3, images=["img/a.jpg"])
    cache = tmp_path / "fm.sqlite"
    args = ["--items", str(items), "--out", str(tmp_path / "out.jsonl"), "--fm-model", "fake-vision",
            "--base-url", fake_server.url, "--cache", str(cache), "--fm-concurrency", "2"]
    r = CliRunner().invoke(describe_images, args)
    assert r.exit_code == 0, r.output
    out = load_items(tmp_path / "out.jsonl")
    assert all(it.text.endswith("Photos: a small red square") and not it.images for it in out)
    assert fake_server.n_requests == 3
    r = CliRunner().invoke(describe_images, args + ["--keep-images"])
    assert r.exit_code == 0 and "0 calls, 3 from the cache" in r.output
    assert fake_server.n_requests == 3
    kept = load_items(tmp_path / "out.jsonl")
    assert all(it.images and it.images[0].endswith("a.jpg") for it in kept)


def test_describe_images_needs_images(tmp_path):
    items = write_items(tmp_path / "items.jsonl", 2)
    r = CliRunner().invoke(describe_images, ["--items", str(items), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code != 0 and "no item has images" in r.output


def test_fm_from_options(tmp_path, monkeypatch, fake_server):
    monkeypatch.setenv("GENZ_FM_CACHE", str(tmp_path / "env-cache.sqlite"))
    assert default_cache_path() == tmp_path / "env-cache.sqlite"
    fm = fm_from_options(fm="openai", fm_model="m", base_url=fake_server.url, fm_batch_size=3)
    assert isinstance(fm, CachedFM) and fm.cache.path == tmp_path / "env-cache.sqlite"
    assert isinstance(fm.inner, OpenAIFM) and fm.inner.batch_size == 3
    fm = fm_from_options(fm="openai", fm_model="m", base_url=fake_server.url, no_cache=True)
    assert isinstance(fm, OpenAIFM)
    with pytest.raises(GenZInputError, match="--fm-model only apply to --fm openai"):
        fm_from_options(fm="predicates", fm_model="gpt-4o")


def test_fm_options_decorator_round_trip(fake_server, tmp_path):
    seen = {}

    @click.command()
    @fm_options()
    def cmd(**fm_opts):
        seen["fm"] = fm_from_options(**fm_opts)

    r = CliRunner().invoke(cmd, ["--fm", "openai", "--fm-model", "x", "--mining-model", "y",
                                 "--base-url", fake_server.url, "--cache", str(tmp_path / "c.sqlite"),
                                 "--price-in", "1", "--price-out", "2", "--no-vision"])
    assert r.exit_code == 0, r.output
    inner = seen["fm"].inner
    assert (inner.model, inner.mining_model, inner.prices, inner.vision) == ("x", "y", (1.0, 2.0), False)
