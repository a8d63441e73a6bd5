"""The report in a real browser: headless Chromium, driven over the DevTools protocol.

Loads the report from a local HTTP server on 127.0.0.1 and checks that the page raises no
console error or exception and loads every resource, that every figure is present and
decoded (naturalWidth > 0), that the step slider works, and that a screenshot is not blank.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests._synthetic_runs import make_run
from genz.report import build_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)", allow_module_level=True)
websocket = pytest.importorskip("websocket", reason="the websocket-client package drives the browser")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class CDP:
    """A minimal DevTools-protocol client: send commands, collect events."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev["method"] == method:
                return ev
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)

    def eval(self, expr: str):
        res = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--remote-allow-origins=*", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1280,1800", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        cdp = CDP(pages[0]["webSocketDebuggerUrl"])
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def served(tmp_path):
    """Serve a directory on 127.0.0.1; returns a function dir -> base URL."""
    servers = []

    def serve(directory: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(directory))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield serve
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _load(cdp: CDP, url: str) -> None:
    for domain in ("Page", "Runtime", "Log"):
        cdp.send(f"{domain}.enable")
    cdp.send("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired")
    # wait until every image has finished (loaded or failed)
    for _ in range(100):
        if cdp.eval("Array.from(document.images).every(i => i.complete)"):
            break
        time.sleep(0.05)


def _problems(cdp: CDP) -> list[str]:
    out = []
    for ev in cdp.events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif m == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description', p['exceptionDetails'])}")
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
    return out


def _screenshot(cdp: CDP, path: Path) -> np.ndarray:
    from PIL import Image

    shot = cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def test_report_loads_cleanly_in_chromium(tmp_path, browser, served):
    run = make_run(tmp_path / "run", with_results=True)
    out = build_report([run])
    base = served(out.parent)
    _load(browser, f"{base}/report.html")

    images = browser.eval("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])")
    expected = sorted(p.name for p in out.parent.glob("*.png"))
    assert sorted(src for src, _, _ in images) == expected
    assert all(w > 0 and h > 0 for _, w, h in images), images

    # the step slider: at the first step (init) no feature; at the last, the final set
    n_final = browser.eval("document.querySelectorAll('.featlist li:not(.gone)').length")
    state0 = browser.eval("""(() => { const s = document.querySelector('.timeline input[type=range]');
        s.value = '0'; s.dispatchEvent(new Event('input'));
        return [document.querySelectorAll('.featlist li').length, document.querySelector('.steplabel').textContent,
                document.querySelector('.timeline .cursor').style.left]; })()""")
    assert n_final == 5
    assert state0[0] == 0 and state0[1].startswith("step 0") and state0[2].endswith("px")
    assert browser.eval("document.querySelector('button.play').click(), document.querySelector('button.play').textContent") \
        .startswith("❚❚")
    # injected item text stayed text
    assert browser.eval("document.querySelectorAll('script').length") == 2
    assert browser.eval("window.__xss === undefined && !document.querySelector('img[src=x]')")

    pixels = _screenshot(browser, tmp_path / "report.png")
    assert pixels.shape[0] > 1000 and pixels.std() > 10  # not blank
    assert _problems(browser) == []


def test_compare_report_loads_cleanly_in_chromium(tmp_path, browser, served):
    a = make_run(tmp_path / "a", seed=0)
    b = make_run(tmp_path / "b", D=4, seed=1, with_summary=False, status="interrupted")
    out = build_report([a, b], tmp_path / "cmp")
    _load(browser, f"{served(out.parent)}/report.html")
    images = browser.eval("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(images) == len(list(out.parent.glob("*.png"))) and all(w > 0 for _, w in images)
    assert browser.eval("document.querySelectorAll('.timeline').length") == 2
    assert _screenshot(browser, tmp_path / "cmp.png").std() > 10
    assert _problems(browser) == []


def test_a_missing_figure_is_detected(tmp_path, browser, served):
    """The checks above can fail: delete a figure and the browser reports it."""
    run = make_run(tmp_path / "run")
    out = build_report([run])
    (out.parent / "weights.png").unlink()
    _load(browser, f"{served(out.parent)}/report.html")
    images = browser.eval("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert ["weights.png", 0] in images
    assert any("404" in p or "weights.png" in p for p in _problems(browser))


def test_feature_evidence_renders_in_chromium(tmp_path, browser, served):
    """The feature table's 95% intervals, held-out gains and EM convergence are visible."""
    run = make_run(tmp_path / "run", D=2, with_feature_table=True)
    out = build_report([run])
    _load(browser, f"{served(out.parent)}/report.html")
    cells = browser.eval("Array.from(document.querySelectorAll('table.feature-table td.ci')).map(td => "
                         "[td.textContent, td.getBoundingClientRect().width])")
    assert cells and all(w > 0 for _, w in cells)
    import re

    assert all(re.fullmatch(r"[+-]\d+\.\d+ \[-?\d+\.\d+, -?\d+\.\d+\]", t) for t, _ in cells), cells
    assert browser.eval("document.querySelectorAll('table.em-table tr.notconv').length") == 2
    assert "did not converge" in browser.eval("document.getElementById('evidence').parentElement.textContent")
    assert _problems(browser) == []
