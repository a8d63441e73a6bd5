"""A lighter install and docs a user can follow (issue 11): torch only for the MLP, one torch
thread by default, no path outside the repository in README/docs, a LICENSE."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_torch_and_pandas_are_extras():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith(("torch", "pandas", "pyarrow")) for d in meta["dependencies"])
    assert meta["optional-dependencies"]["mlp"] == ["torch==2.13.0"]
    assert {"pandas", "pyarrow"} <= {re.split(r"[<>=]", d)[0] for d in meta["optional-dependencies"]["tables"]}
    assert "mlp" in (ROOT / ".ci" / "run").read_text()


def test_readme_and_docs_stay_inside_the_repository():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for f in files:
        text = f.read_text()
        assert "../" not in text and "shared/" not in text and "/work/" not in text, f.name
        for link in re.findall(r"\]\(([^)#]+)\)", text):  # relative links resolve inside the repository
            if not link.startswith("http"):
                assert (f.parent / link).exists(), (f.name, link)
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    readme = (ROOT / "README.md").read_text()
    assert "GenZ: Foundational models as latent variable generators within traditional statistical models" in readme


def test_code_cites_the_equations_in_the_repository():
    for f in (ROOT / "src" / "genz").rglob("*.py"):
        assert not re.search(r"SPEC(\.md|\s*§)", f.read_text()), f  # citations point to docs/equations.md


def test_mlp_uses_one_torch_thread_by_default(monkeypatch):
    torch = pytest.importorskip("torch")
    from genz.observation.mlp import MLPGaussian

    seen = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), real(n)))
    monkeypatch.delenv("GENZ_TORCH_THREADS", raising=False)
    before = torch.get_num_threads()
    rng = np.random.default_rng(0)
    Q = (rng.random((40, 3)) < 0.5).astype(float)
    m = MLPGaussian(epochs=2, seed=0)
    m.set_scaling(None, Q[:, :1])
    m.fit(Q, None, Q[:, :1])
    assert seen[0] == 1 and seen[-1] == before and torch.get_num_threads() == before  # restored afterwards
    seen.clear()
    monkeypatch.setenv("GENZ_TORCH_THREADS", "3")
    m.fit(Q, None, Q[:, :1])
    assert seen[0] == 3
