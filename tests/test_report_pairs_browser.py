"""The two-sided run's report in headless Chromium (same harness as test_report_browser.py):
both feature lists, the interaction table and the heat map render, with no console error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genz.report import build_report

from .test_report_browser import _load, _problems, _screenshot, browser, served  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _pairs_run(path: Path) -> Path:
    """A two-sided run directory as `genz fit-pairs` writes it (pairs.json + factors.npz), with
    item text that tries to inject markup."""
    rng = np.random.default_rng(0)
    uf = ["'age' is 18-24", "'gender' is \"woman\"", "<img src=x onerror=window.__xss=1>", "'occupation' is \"programmer\""]
    itf = ["'genres' contains \"Animation\"", "'year' is below 1980", "mentions \"Star\"", "<script>window.__xss=2</script>",
           "'genres' contains \"Horror\""]
    M = rng.normal(scale=0.3, size=(len(uf), len(itf)))
    inter = {"user_features": uf, "item_features": itf, "const": 3.58, "user_main": rng.normal(size=len(uf)).tolist(),
             "item_main": rng.normal(size=len(itf)).tolist(), "M": M.tolist(), "M_se": (0.1 + 0 * M).tolist(),
             "user_main_se": None, "item_main_se": None, "exact": {"user_side_max_error": 1e-12, "item_side_max_error": 2e-12}}
    path.mkdir(parents=True)
    (path / "pairs.json").write_text(json.dumps({"format": "genz-pairs/1", "mu": 3.58, "alpha": 0.5, "fill": "svd", "k": 8,
                                                 "user_ids": ["1", "2"], "item_ids": ["a"], "params": {},
                                                 "interactions": inter}))
    np.savez(path / "factors.npz", b=np.zeros(2))
    return path


def test_pairs_report_renders_in_chromium(tmp_path, browser, served):  # noqa: F811
    run = _pairs_run(tmp_path / "run")
    out = build_report([run])
    _load(browser, f"{served(out.parent)}/report.html")
    images = browser.eval("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert images == [["interactions.png", images[0][1]]] and images[0][1] > 0
    n_user = browser.eval("document.querySelectorAll('#users-features tr').length")
    n_item = browser.eval("document.querySelectorAll('#items-features tr').length")
    n_inter = browser.eval("document.querySelectorAll('table.inter tr').length")
    assert (n_user, n_item, n_inter) == (4 + 1, 5 + 1, 20 + 1)
    # the strongest interaction is first, with its interval
    first = browser.eval("Array.from(document.querySelectorAll('table.inter tr')[1].cells).map(c => c.textContent)")
    inter = json.loads((run / "pairs.json").read_text())["interactions"]
    k, l = np.unravel_index(np.argmax(np.abs(np.asarray(inter["M"]))), (4, 5))
    assert first[0] == inter["user_features"][k] and first[1] == inter["item_features"][l]
    assert first[2].startswith(("+", "-")) and first[3].startswith("[")
    assert browser.eval("window.__xss === undefined && !document.querySelector('img[src=x]')")
    assert browser.eval("document.querySelectorAll('script').length") == 0
    assert _screenshot(browser, tmp_path / "pairs.png").std() > 10
    assert _problems(browser) == []


def test_a_missing_heat_map_is_detected(tmp_path, browser, served):  # noqa: F811
    out = build_report([_pairs_run(tmp_path / "run")])
    (out.parent / "interactions.png").unlink()
    _load(browser, f"{served(out.parent)}/report.html")
    assert browser.eval("Array.from(document.images).map(i => i.naturalWidth)") == [0]
    assert _problems(browser)
