"""Numbers the user already has: thresholds (the default) or side inputs (``side_inputs="numeric"``)?

Fits ``GenZRegressor`` with its defaults and with ``side_inputs="numeric"`` on the same splits of
two tables as a user would hand them over, next to a practitioner's ``RidgeCV``:

* ``houses``: the houses listings (``HousesInfo.txt``) read as a plain table (id, bedrooms,
  bathrooms, raw area, zip code; target ln price), 80/20 splits of
  :func:`genz.experiments.splits.train_test_split_indices`; metric: test median
  ``|Δ ln price|``; ridge on log area, bedrooms, bathrooms and one-hot zip code.
* ``cars``: the used-car table of ``tests/cars_data.py`` (400 training rows, 1,000 test rows
  from another seed; make, year, mileage, fuel, certified, a description; target price), its
  missing numbers filled by the training median in both arms; metric: test RMSE; ridge on
  one-hot make/fuel/certified, standardised year and mileage and the TF-IDF of the
  description.

With ``--variants None,noroute`` the second arm is the defaults without the numbers route
(``Selection(numbers_route=False)``, the default before stop 36; docs/user-guide.md, "The numbers
route").

Prints one line per seed and the paired differences with 95% t-intervals. Development seeds
only (the default, 100-109 for houses, 100-104 for cars): the choice of the default was made
on them (docs/user-guide.md, "Numbers the user already has").

    OMP_NUM_THREADS=1 python benchmarks/side_inputs.py --data DATA/houses --tables houses,cars
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _ridge(tr, ytr, te, cats, nums, text=None):
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = [(OneHotEncoder(handle_unknown="ignore"), cats), (StandardScaler(), nums)]
    if text:
        parts.append((TfidfVectorizer(ngram_range=(1, 2), min_df=2), text))
    model = make_pipeline(make_column_transformer(*parts), RidgeCV(alphas=np.logspace(-3, 4, 30)))
    return model.fit(tr, ytr).predict(te)


def _ci(a, b) -> str:
    """``a − b`` per seed, its mean and 95% t-interval (:func:`genz.experiments.runner.paired_difference`)."""
    from genz.experiments.runner import paired_difference

    p = paired_difference(a, b, higher_is_better=False)
    return f"{p['mean']:+.4g} [{p['low']:+.4g}, {p['high']:+.4g}]"


#: the arms a table is fitted with: ``None`` (the defaults), ``numeric`` (side_inputs="numeric"),
#: ``noroute`` (the defaults with Selection(numbers_route=False)), ``table`` (Selection(route_inputs="table"))
VARIANTS = {"None": {}, "numeric": {"side_inputs": "numeric"}, "noroute": {"selection": {"numbers_route": False}},
            "table": {"selection": {"route_inputs": "table"}}}


def houses(data: str, seeds: list[int], variants: tuple[str, ...] = ("None", "numeric")) -> list[dict]:
    import pandas as pd

    from genz import GenZRegressor
    from genz.datasets.houses import read_houses_info
    from genz.experiments.splits import train_test_split_indices

    df = pd.DataFrame(read_houses_info(str(Path(data) / "HousesInfo.txt")))
    y = np.log(df.pop("price").to_numpy(float))
    out = []
    for s in seeds:
        tr, te = train_test_split_indices(len(df), s)
        row = {"seed": s}
        for side in variants:
            est = GenZRegressor(random_state=s, id="id", **VARIANTS[side]).fit(df.iloc[tr], y[tr])
            row[side] = float(np.median(np.abs(est.predict(df.iloc[te]) - y[te])))
        d2 = df.assign(log_area=np.log(df["area"].astype(float)))
        row["ridge"] = float(np.median(np.abs(_ridge(d2.iloc[tr], y[tr], d2.iloc[te], ["zipcode"],
                                                     ["log_area", "bedrooms", "bathrooms"]) - y[te])))
        print("houses", row, flush=True)
        out.append(row)
    return out


def cars(seeds: list[int], variants: tuple[str, ...] = ("None", "numeric")) -> list[dict]:
    import pandas as pd

    from genz import GenZRegressor
    from tests.cars_data import make_cars

    out = []
    for s in seeds:
        tr, te = make_cars(400, s), make_cars(1000, s + 1000)
        for d in (tr, te):
            d["mileage"] = pd.to_numeric(d["mileage"].str.replace(",", ""), errors="coerce")
        for c in ("year", "mileage"):
            med = tr[c].median()
            tr[c], te[c] = tr[c].fillna(med), te[c].fillna(med)
        row = {"seed": s}
        for side in variants:
            est = GenZRegressor(random_state=s, text="description", id="car_id", **VARIANTS[side])
            est.fit(tr.drop(columns=["price"]), tr["price"])
            row[side] = float(np.sqrt(np.mean((est.predict(te.drop(columns=["price"])) - te["price"]) ** 2)))
        for d in (tr, te):
            d["fuel"] = d["fuel"].fillna("missing").astype(object)
            d["make"] = d["make"].astype(object)
        p = _ridge(tr, tr["price"], te, ["make", "fuel", "certified"], ["year", "mileage"], "description")
        row["ridge"] = float(np.sqrt(np.mean((p - te["price"]) ** 2)))
        print("cars", row, flush=True)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="folder with HousesInfo.txt (for --tables houses)")
    ap.add_argument("--tables", default="houses,cars")
    ap.add_argument("--houses-seeds", default="100-109")
    ap.add_argument("--cars-seeds", default="100-104")
    ap.add_argument("--variants", default="None,numeric", help="the defaults and one other arm: None,numeric, None,noroute or None,table")
    args = ap.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(","))
    if len(variants) != 2 or variants[0] != "None" or variants[1] not in VARIANTS:
        ap.error("--variants: None,numeric, None,noroute or None,table")

    from threadpoolctl import threadpool_limits

    from genz.experiments.runner import parse_seeds

    with threadpool_limits(1):
        for name in [t.strip() for t in args.tables.split(",") if t.strip()]:
            if name == "houses" and not args.data:
                ap.error("--tables houses needs --data (the folder with HousesInfo.txt)")
            rows = houses(args.data, parse_seeds(args.houses_seeds), variants) if name == "houses" \
                else cars(parse_seeds(args.cars_seeds), variants)
            other = variants[1]
            col = {k: [r[k] for r in rows] for k in ("None", other, "ridge")}
            print(f"{name}: defaults {np.mean(col['None']):.4g}, {other} {np.mean(col[other]):.4g}, "
                  f"ridge {np.mean(col['ridge']):.4g}; {other} − defaults {_ci(col[other], col['None'])}; "
                  f"defaults − ridge {_ci(col['None'], col['ridge'])}; {other} − ridge "
                  f"{_ci(col[other], col['ridge'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
