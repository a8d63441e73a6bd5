"""Golden behaviour pinned across refactors (issue 8).

``genz demo binary`` for seeds 0-4 (features and bits recovered) and the houses experiment of
seed 0 (GenZ's features and test median absolute error). The numbers live in
``tests/fixtures/golden.json``; an intended change of behaviour updates that file and is listed
with before/after numbers in the closing note.

The houses part needs the data set: set ``GENZ_DATA`` to the folder holding ``houses/``, or keep
a ``shared/data`` folder beside the repository (``../shared/data``); otherwise it is skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from genz.demo import run_binary_demo

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "fixtures" / "golden.json").read_text())


def _houses_dir() -> Path | None:
    cands = [Path(os.environ["GENZ_DATA"])] if os.environ.get("GENZ_DATA") else []
    cands += [ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"]
    for c in cands:
        if (c / "houses" / "HousesInfo.txt").exists():
            return c / "houses"
    return None


@pytest.mark.parametrize("seed", range(5))
def test_binary_demo_golden(seed):
    """The recorded features, in their order, each as the split it makes of the 512 numbers: a
    feature and its complement ('modulo 64 is between 0 and 31' / '... between 32 and 63') are the
    same split, and which of the two discovery names can turn on a last digit of numpy's arithmetic
    (numpy 2.4.6 / scipy 1.17.1 name the other side on seed 0). Catches: another feature, another
    order, a bit lost."""
    import numpy as np

    from genz.fm.predicates import PredicateFM
    from genz.items import items_from_texts

    res = run_binary_demo(seed=seed)
    want = GOLDEN["binary"][str(seed)]
    items = items_from_texts(str(v) for v in range(512))
    fm = PredicateFM()

    def split(desc: str) -> tuple[int, ...]:
        col = np.asarray(fm.judge(desc, items).values, dtype=int)
        return tuple(col if col[0] == 0 else 1 - col)  # the side without 0, whichever side is named

    assert [split(f) for f in res["features"]] == [split(f) for f in want["features"]]
    assert res["bits_recovered"] == want["bits"] == 9
    assert res["feature_bits"] == want["feature_bits"]


@pytest.mark.slow
def test_houses_seed0_golden():
    data = _houses_dir()
    if data is None:
        pytest.skip("houses data not found (set GENZ_DATA)")
    from genz.commands.experiment import _config
    from genz.datasets.houses import load_houses
    from genz.experiments.runner import run_experiment

    ds = load_houses(data)
    cfg = _config("houses", seeds="0", fm="predicates", model="linear", cycles=None, add_per_cycle=5,
                  remove_per_cycle=2, no_genz=False, no_zeroshot=True, no_peers=True)
    g = run_experiment(ds, cfg)["seeds"][0]["methods"]["genz"]
    want = GOLDEN["houses_seed0"]
    assert g["features"] == want["features"]
    assert g["test"]["median_ae"] == pytest.approx(want["median_ae"], abs=1e-6)
