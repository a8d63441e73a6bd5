"""Issue 10, items 3 and 7: a saved model remembers where its FM lives, `genz predict` talks to
the training host (or refuses), predictions are proper CSV, and damaged model or checkpoint
files give one line."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from tests.fake_openai_server import FakeOpenAIServer, fake_server  # noqa: F401  (pytest fixture)
from tests.test_fm_failures import _data
from genz.cli import main
from genz.runs import RunDir

KEY = "sk-test-PREDICTkey0123456789"


def _fit(url, tmp_path, *extra, env=None):
    items, targets = _data(tmp_path)
    args = ["fit", "--items", str(items), "--targets", str(targets), "--fm", "openai", "--fm-model", "fake",
            "--base-url", url, "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "run"),
            "--fm-batch-size", "7", "--api-key-env", "MY_FM_KEY", "--n-features", "1", "-q", *extra]
    e = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "MY_FM_KEY": KEY}
    e.update(env or {})
    return CliRunner().invoke(main, args, env=e)


def _new_items(tmp_path, ids=None):
    p = tmp_path / "new.jsonl"
    ids = ids or [f"new{i}" for i in range(5)]
    with p.open("w") as fh:
        for k, i in enumerate(ids):
            fh.write(json.dumps({"id": i, "text": f"{100 + k} seven" if k % 2 else f"{100 + k} two"}) + "\n")
    return p


@pytest.fixture
def other():
    srv = FakeOpenAIServer()
    yield srv
    srv.close()


def test_the_model_remembers_its_fm_and_predict_uses_it(fake_server, other, tmp_path):
    url = fake_server.url.replace("http://", "http://alice:s3cret@")  # credentials in the URL
    r = _fit(url, tmp_path)
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    spec = meta["fm_spec"]
    assert spec["backend"] == "openai" and spec["model"] == "fake" and spec["batch_size"] == 7
    assert spec["base_url"] == fake_server.url  # the credentials are not stored
    assert spec["api_key_env"] == "MY_FM_KEY" and spec["prompts"]["judge"].startswith("judge-2+")
    blob = json.dumps(meta) + (tmp_path / "run" / "config.json").read_text()
    assert "s3cret" not in blob and KEY not in blob
    assert spec["cache"] == str((tmp_path / "c.sqlite").resolve())

    # $OPENAI_BASE_URL points elsewhere, and the environment has no key: the items still go
    # to the training host, with its batch size; a second predict is answered by the cache
    before = fake_server.n_requests
    new = _new_items(tmp_path)
    env = {"OPENAI_BASE_URL": other.url, "OPENAI_API_KEY": None, "MY_FM_KEY": KEY}
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new)], env=env)
    assert r.exit_code == 0, r.output
    assert other.n_requests == 0
    assert fake_server.n_requests - before == 1  # 5 new items, one batch of up to 7
    assert {k.lower(): v for k, v in fake_server.headers[-1].items()}["authorization"] == f"Bearer {KEY}"
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[0] == ["id", "y0"] and [x[0] for x in rows[1:]] == [f"new{i}" for i in range(5)]
    r2 = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new)], env=env)
    assert r2.output == r.output and fake_server.n_requests - before == 1

    # another host only when asked explicitly
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new), "--base-url", other.url,
                                  "--no-cache"], env=env)
    assert r.exit_code == 1 and "another host" in r.output and "--allow-other-host" in r.output
    assert other.n_requests == 0
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new), "--base-url", other.url,
                                  "--no-cache", "--allow-other-host"], env=env)
    assert r.exit_code == 0, r.output
    assert other.n_requests == 1


def test_a_model_trained_on_a_local_server_never_goes_to_openai(fake_server, tmp_path, monkeypatch):
    from genz import GenZRegressor

    assert _fit(fake_server.url, tmp_path).exit_code == 0
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    est = GenZRegressor.load(tmp_path / "run" / "model")
    assert est.fm_.inner.base_url == fake_server.url


def test_predictions_are_csv_and_formulas_can_be_neutralised(fake_server, tmp_path):
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    ids = ['a,b', 'line\nbreak', '=HYPERLINK("http://x","y")', 'quote"d', "-1+2", "plain"]
    new = _new_items(tmp_path, ids)
    out = tmp_path / "p.csv"
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new), "--out", str(out)],
                           env={"OPENAI_BASE_URL": None})
    assert r.exit_code == 0, r.output
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert [x[0] for x in rows[1:]] == ids and all(len(x) == 2 for x in rows)
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new), "--out", str(out),
                                  "--safe-csv"], env={"OPENAI_BASE_URL": None})
    with out.open(newline="") as fh:
        got = [x[0] for x in list(csv.reader(fh))[1:]]
    assert got == ['a,b', 'line\nbreak', '\'=HYPERLINK("http://x","y")', 'quote"d', "'-1+2", "plain"]


@pytest.mark.parametrize("damage", ["swap_features", "truncate_arrays", "delete_history"])
def test_a_damaged_model_directory_gives_one_line(fake_server, tmp_path, damage):
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    mdir = tmp_path / "run" / "model"
    if damage == "swap_features":
        meta = json.loads((mdir / "model.json").read_text())
        meta["features"] = ["contains two"]
        (mdir / "model.json").write_text(json.dumps(meta, indent=1))
        name = "model.json"
    elif damage == "truncate_arrays":
        raw = (mdir / "arrays.npz").read_bytes()
        (mdir / "arrays.npz").write_bytes(raw[: len(raw) // 2])
        name = "arrays.npz"
    else:
        (mdir / "history.json").unlink()
        name = "history.json"
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(_new_items(tmp_path))],
                           env={"OPENAI_BASE_URL": None})
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and name in lines[0], r.output


def test_an_edited_checkpoint_is_refused(fake_server, tmp_path):
    from genz.errors import CorruptFileError

    assert _fit(fake_server.url, tmp_path).exit_code == 0
    run = RunDir.open(tmp_path / "run")
    step = run.checkpoint_steps()[-1]
    jpath = tmp_path / "run" / "checkpoints" / f"ckpt-{step:06d}.json"
    doc = json.loads(jpath.read_text())
    doc["meta"]["features"] = ["contains two"] if "features" in doc["meta"] else doc["meta"].get("features")
    doc["written"] = "2000-01-01T00:00:00+00:00"
    jpath.write_text(json.dumps(doc))
    with pytest.raises(CorruptFileError, match="does not match its checksum"):
        run.load_checkpoint(step)


@pytest.mark.parametrize("code", [400, 403, 404, 422])
def test_credentials_in_the_base_url_never_reach_a_message(fake_server, code):
    from genz.errors import FMError
    from genz.fm.openai_compat import OpenAIFM
    from genz.items import items_from_texts

    url = fake_server.url.replace("http://", "http://alice:s3cretpw@")
    fm = OpenAIFM("fake", base_url=url, api_key=KEY, progress=False, max_retries=0)
    fake_server.push(("reflect", code))
    with pytest.raises(FMError) as ei:
        fm.judge("has a seven", items_from_texts(["7 seven"]))
    msg = str(ei.value)
    sent = {k.lower(): v for k, v in fake_server.headers[-1].items()}
    assert "s3cretpw" not in msg and KEY not in msg and "alice:" not in msg
    if "authorization" in sent and sent["authorization"].lower().startswith("basic"):
        assert sent["authorization"].split()[1] not in msg
    assert "s3cretpw" not in repr(fm) and "s3cretpw" not in str(fm.base_url)


def test_a_model_saved_without_checksums_still_gives_one_line_when_damaged(fake_server, tmp_path):
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    mdir = tmp_path / "run" / "model"
    (mdir / "checksums.json").unlink()  # as GenZRegressor.save writes it outside a run
    raw = (mdir / "arrays.npz").read_bytes()
    (mdir / "arrays.npz").write_bytes(raw[: len(raw) // 3])
    r = CliRunner().invoke(main, ["predict", str(mdir), "--items", str(_new_items(tmp_path))],
                           env={"OPENAI_BASE_URL": None})
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "model" in lines[0], r.output
