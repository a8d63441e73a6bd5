"""`genz fit` on a table, then `genz predict` on new rows, through the CLI (shared by the route tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner


def fit_and_predict(tmp_path: Path, train: pd.DataFrame, target: str, new: pd.DataFrame,
                    *fit_args: str) -> tuple[str, np.ndarray]:
    """``genz fit --data train.csv --target TARGET --out run FIT_ARGS`` then ``genz predict run
    --data new.csv``: the fit's output and the predictions (each command must succeed)."""
    from genz.cli import main

    train.to_csv(tmp_path / "t.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    res = CliRunner().invoke(main, ["fit", "--data", str(tmp_path / "t.csv"), "--target", target, "--out",
                                    str(tmp_path / "run"), *fit_args])
    assert res.exit_code == 0, res.output
    pred = CliRunner().invoke(main, ["predict", str(tmp_path / "run"), "--data", str(tmp_path / "new.csv"),
                                     "-o", str(tmp_path / "p.csv")])
    assert pred.exit_code == 0, pred.output
    p = pd.read_csv(tmp_path / "p.csv")
    return res.output, p[[c for c in p.columns if c != "id"][0]].to_numpy()
