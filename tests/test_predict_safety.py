"""Issue 22, items 2 and 10: requests and predictions use the model's own FM; a mismatch is an
error before anything is paid; a model directory naming a host the user did not configure gets
neither the items nor the key without the user's word; a 0-feature model is not used to
predict; an --overwrite killed between its two renames gives the old run back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genz.cli import main
from genz.fm.openai_compat import OpenAIFM
from genz.runs import write_model_checksums
from tests.fake_openai_server import FakeOpenAIServer, fake_server  # noqa: F401  (pytest fixture)
from tests.test_predict_fm import KEY, _fit, _new_items

ENV = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "MY_FM_KEY": KEY}


def _answer(srv: FakeOpenAIServer, export_dir: Path, out: Path) -> int:
    """Answer every exported request as a provider would; returns how many were paid for."""
    lines = []
    for shard in sorted(export_dir.glob("requests-*.jsonl")):
        if ".manifest" in shard.name:
            continue
        for raw in shard.read_text().splitlines():
            req = json.loads(raw)
            content, _ = srv.correct_content(req["body"])
            lines.append(json.dumps({"id": "x", "custom_id": req["custom_id"], "error": None,
                                     "response": {"status_code": 200, "body": srv.completion(req["body"], content)}}))
    out.write_text("\n".join(lines) + "\n")
    return len(lines)


def _judging_requests(srv: FakeOpenAIServer, since: int) -> int:
    return sum(1 for body in srv.requests[since:] if "<items>" in srv.user_text(body))


def test_exported_requests_are_the_models_and_predict_pays_nothing_again(fake_server, tmp_path):
    """genz < 0.9 wrote requests for gpt-4o-mini with another prompt when --fm-model was not
    given; after that batch was paid and ingested, `genz predict` judged everything again."""
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    new = _new_items(tmp_path, [f"new{i}" for i in range(40)])
    r = CliRunner().invoke(main, ["requests", "export", "--model", str(tmp_path / "run"), "--items", str(new),
                                  "-o", str(tmp_path / "x"), "--cache", str(tmp_path / "p.sqlite")], env=ENV)
    assert r.exit_code == 0, r.output
    first = json.loads((tmp_path / "x" / "requests-00000.jsonl").read_text().splitlines()[0])
    assert first["body"]["model"] == "fake"
    paid = _answer(fake_server, tmp_path / "x", tmp_path / "out.jsonl")
    assert paid == 6  # 40 items in batches of 7, one feature
    r = CliRunner().invoke(main, ["requests", "ingest", str(tmp_path / "out.jsonl"), "--manifests",
                                  str(tmp_path / "x"), "--cache", str(tmp_path / "p.sqlite")])
    assert r.exit_code == 0, r.output
    before = fake_server.n_requests
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(new), "--cache",
                                  str(tmp_path / "p.sqlite"), "-o", str(tmp_path / "p.csv")], env=ENV)
    assert r.exit_code == 0, r.output
    assert _judging_requests(fake_server, before) == 0  # nothing judged twice


def test_predict_refuses_to_pay_again_for_another_fms_judgments(fake_server, tmp_path):
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    new = _new_items(tmp_path, [f"new{i}" for i in range(40)])
    r = CliRunner().invoke(main, ["requests", "export", "--features", str(_features(tmp_path)), "--items",
                                  str(new), "-o", str(tmp_path / "x"), "--cache", str(tmp_path / "p.sqlite"),
                                  "--fm-model", "gpt-4o-mini", "--base-url", fake_server.url], env=ENV)
    assert r.exit_code == 0, r.output
    _answer(fake_server, tmp_path / "x", tmp_path / "out.jsonl")
    assert CliRunner().invoke(main, ["requests", "ingest", str(tmp_path / "out.jsonl"), "--manifests",
                                     str(tmp_path / "x"), "--cache", str(tmp_path / "p.sqlite")]).exit_code == 0
    before = fake_server.n_requests
    args = ["predict", str(tmp_path / "run"), "--items", str(new), "--cache", str(tmp_path / "p.sqlite"),
            "-o", str(tmp_path / "p.csv")]
    r = CliRunner().invoke(main, args, env=ENV)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "from gpt-4o-mini" in r.output and "judges with fake" in r.output and "--rejudge" in r.output
    assert fake_server.n_requests == before  # an error before anything is paid
    r = CliRunner().invoke(main, args + ["--rejudge"], env=ENV)
    assert r.exit_code == 0, r.output
    assert _judging_requests(fake_server, before) == 6


def _features(tmp_path: Path) -> Path:
    meta = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    feats = meta.get("features") or meta.get("features_") or []
    if not feats:
        from genz.estimator import GenZRegressor

        feats = list(GenZRegressor.load(tmp_path / "run" / "model").features_)
    p = tmp_path / "features.txt"
    p.write_text("\n".join(feats) + "\n")
    return p


def test_a_model_directory_naming_an_unconfigured_host_gets_neither_items_nor_key(fake_server, tmp_path):
    """genz < 0.9 sent the items and the key to whatever host an edited (checksums resealed)
    model.json named. 2130706433 is 127.0.0.1 written as one number: another host by name, so
    the test stays on this machine."""
    assert _fit(fake_server.url, tmp_path).exit_code == 0
    evil = FakeOpenAIServer()
    try:
        model = tmp_path / "run" / "model"
        meta = json.loads((model / "model.json").read_text())
        evil_url = f"http://2130706433:{evil.port}/v1"
        meta["fm_spec"]["base_url"] = evil_url
        meta["fm_spec"]["cache"] = None
        (model / "model.json").write_text(json.dumps(meta))
        write_model_checksums(model)
        new = _new_items(tmp_path)
        args = ["predict", str(model), "--items", str(new), "--no-cache", "-o", str(tmp_path / "p.csv")]
        r = CliRunner().invoke(main, args, env=ENV)
        assert r.exit_code == 1, r.output
        assert "names the FM host" in r.output and "--allow-other-host" in r.output and "Traceback" not in r.output
        assert evil.n_requests == 0
        r = CliRunner().invoke(main, args + ["--allow-other-host"], env=ENV)
        assert r.exit_code == 0, r.output
        assert evil.n_requests > 0
        assert all(KEY not in json.dumps(h) for h in evil.headers)  # the items went, the key did not
        n = evil.n_requests
        r = CliRunner().invoke(main, args + ["--base-url", evil_url], env=ENV)  # configured by the user: key sent
        assert r.exit_code == 0, r.output
        assert any({k.lower(): v for k, v in h.items()}.get("authorization") == f"Bearer {KEY}"
                   for h in evil.headers[n:])
    finally:
        evil.close()


def test_predict_with_a_model_without_features_is_refused(fake_server, tmp_path):
    """genz < 0.9 returned rc 0 and one constant for every item."""
    fake_server.mine_answer = {"characteristic": "none", "confidence": 0.0}  # mining never finds anything
    r = _fit(fake_server.url, tmp_path)
    model = tmp_path / "run" / "model"
    if not model.is_dir():  # the fit saved no model: make one the way a failed run leaves it
        pytest.skip(f"no model saved: {r.output[-200:]}")
    from genz.estimator import GenZRegressor

    assert list(GenZRegressor.load(model).features_) == []
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--items", str(_new_items(tmp_path)), "-o",
                                  str(tmp_path / "p.csv")], env=ENV)
    assert r.exit_code == 1 and "has no features" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "p.csv").exists()


def test_an_overwrite_killed_between_its_renames_gives_the_old_run_back(tmp_path):
    """genz < 0.9 left the old run only in a hidden folder, which the next command deleted."""
    from genz.runs import RunDir

    path = tmp_path / "run"
    run = RunDir.create(path, {"x": 1})
    run.append_history({"step": 0, "action": "add"})
    run.close("complete")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.rename(path, tmp_path / f".run.old-{dead.pid}-abcd1234")  # what the kill left
    (tmp_path / f".run.new-{dead.pid}-ef012345").mkdir()
    with pytest.raises(Exception, match="already holds a genz run"):
        RunDir.create(path, {"x": 2})
    assert RunDir.open(path).config() == {"x": 1} and len(RunDir.open(path).history()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_an_untrusted_host_never_gets_the_key_in_the_backend_either(fake_server, monkeypatch):
    monkeypatch.setenv("GENZ_KEY_X", KEY)
    fm = OpenAIFM("fake", base_url=fake_server.url, api_key_env="GENZ_KEY_X", send_key=False, progress=False)
    fm.judge("has a seven", [__import__("genz").Item(id="a", text="seven")])
    assert all(KEY not in json.dumps(h) for h in fake_server.headers)
