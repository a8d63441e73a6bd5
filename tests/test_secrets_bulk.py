"""Issue 22, item 3: the API key never leaks on the Batch API path. A scripted server echoes the
request's ``Authorization`` header in every error it sends; whichever call fails (upload,
create, retrieve, download, a synchronous mining call), the key is in none of: the one-line
error, the ``--debug`` traceback, ``RUN/run.json``, the report, the batch state folder, the
cache."""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genz.cli import main
from genz.items import Item, save_items
from tests.fake_batch_server import batch_server  # noqa: F401

KEY = "sk-proj-BULKSECRET-0123456789abcdefghij"


def _data(tmp: Path) -> None:
    words = ["seven", "three", "five"]
    items = [Item(id=f"i{k}", text=f"item {k} {words[k % 3]}") for k in range(30)]
    y = np.array([3.0 if "seven" in it.text else 0.0 for it in items])
    save_items(items, tmp / "items.jsonl")
    (tmp / "y.csv").write_text("id,y\n" + "".join(f"{it.id},{v}\n" for it, v in zip(items, y)))


def _files_hold_no_key(root: Path) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("method,route,code", [
    ("POST", "/v1/files", 400),  # upload
    ("POST", "/v1/batches", 400),  # create
    ("GET", "/v1/batches/", 403),  # retrieve
    ("GET", "/v1/files/", 403),  # download of the output
    ("POST", "/v1/chat/completions", 400),  # a synchronous mining call (redacted before issue 22 too: a guard)
])
def test_an_echoed_authorization_header_reaches_no_message_file_or_report(batch_server, tmp_path, monkeypatch,
                                                                          method, route, code):
    srv = batch_server
    srv.echo_auth = True
    srv.fail_route(method, route, code, times=1000)
    monkeypatch.setenv("GENZ_TEST_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    _data(tmp_path)
    args = ["fit", "--items", str(tmp_path / "items.jsonl"), "--targets", str(tmp_path / "y.csv"), "--fm", "openai",
            "--base-url", srv.url, "--fm-model", "fake", "--api-key-env", "GENZ_TEST_KEY", "--cache",
            str(tmp_path / "c.sqlite"), "--executor", "batch", "--poll-interval", "0", "--n-features", "1",
            "--algorithm", "simple", "--fm-batch-size", "8", "-q"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "run")])
    assert r.exit_code == 1, r.output
    assert "Authorization:" in r.output and "***" in r.output, r.output  # the echo arrived, masked
    assert KEY not in r.output and "Traceback" not in r.output
    run_json = (tmp_path / "run" / "run.json").read_text()
    assert '"failed"' in run_json and KEY not in run_json
    rep = CliRunner().invoke(main, ["report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html")])
    assert rep.exit_code == 0, rep.output
    assert KEY not in (tmp_path / "report.html").read_text()
    # --debug: the traceback of what reached the command line
    d = CliRunner().invoke(main, ["--debug"] + args + ["--out", str(tmp_path / "run2")])
    assert d.exception is not None and not isinstance(d.exception, SystemExit)
    tb = "".join(traceback.format_exception(d.exception))
    assert KEY not in tb and KEY not in d.output
    _files_hold_no_key(tmp_path)
    assert f"Bearer {KEY}" in srv.auth  # the key did reach the server it was meant for


def test_the_redaction_routine_masks_headers_keys_and_registered_secrets():
    from genz.fm.secrets import redact, register_secret

    assert KEY not in redact(f"headers {{'Authorization': 'Bearer {KEY}'}}")
    assert KEY not in redact(f"Authorization: Bearer {KEY}") and "Authorization: ***" in redact(f"Authorization: {KEY}")
    assert "abc123" not in redact('{"api-key": "abc123xyz"}')
    assert redact("https://user:pw@host/v1?api_key=zzz&x=1") == "https://***@host/v1?api_key=***&x=1"
    register_secret("plain-looking-secret")
    assert redact("it was plain-looking-secret here") == "it was *** here"
    assert redact("basic authentication failed; the token probabilities") == \
        "basic authentication failed; the token probabilities"  # ordinary words stay
