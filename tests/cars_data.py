"""A used-car table with planted effects, made the way a data scientist would, with pandas.

    python tests/cars_data.py cars.csv [--rows 400] [--seed 0]

Columns: ``car_id``, ``make``, ``year``, ``mileage`` (strings with thousands separators, as
exported from a spreadsheet), ``fuel``, ``certified`` (a boolean), ``description`` (free text
of a few sentences) and ``price``. Some cells are missing. The price is

    price = base(make) + 900·(year − 2010) − 0.03·mileage
            + 2500·[has a sunroof] + 1800·[one owner] − 3500·[accident reported]
            + 1200·[certified] + noise,

so the planted binary terms are two phrases of the description, one phrase with a negative
effect and a boolean column. The descriptions put "Has a sunroof." right before "Clean
title." in most listings, the case where a phrase miner that ignores sentence boundaries
proposes ``mentions "sunroof clean"``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

MAKES = {"toyota": 15000, "ford": 12000, "honda": 14000, "bmw": 21000, "kia": 10000, "subaru": 13000}
FILLER = ["Runs great.", "New tires.", "Recently serviced.", "Cold air conditioning.", "Bluetooth stereo.",
          "Minor scratches on the bumper.", "Non smoker.", "Garage kept.", "Good on gas.", "Ready to go."]


def make_cars(n: int = 400, seed: int = 0) -> Any:
    """The car table as a pandas DataFrame (see the module docstring)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    make = rng.choice(list(MAKES), n)
    year = rng.integers(2003, 2021, n)
    mileage = np.clip(rng.normal(14000 * (2022 - year), 15000), 3000, None).round(-2).astype(int)
    fuel = rng.choice(["gasoline", "diesel", "hybrid"], n, p=[0.7, 0.15, 0.15])
    certified = rng.random(n) < 0.3
    sunroof = rng.random(n) < 0.35
    one_owner = rng.random(n) < 0.3
    accident = rng.random(n) < 0.2
    clean = ~accident & (rng.random(n) < 0.8)
    descriptions = []
    for i in range(n):
        s = [f"{year[i]} {make[i].title()} for sale."]
        if sunroof[i]:
            s.append("Has a sunroof.")
        if clean[i]:
            s.append("Clean title.")
        if one_owner[i]:
            s.append("One owner, all records.")
        if accident[i]:
            s.append("Accident reported in 2019, repaired.")
        s += list(rng.choice(FILLER, 2, replace=False))
        descriptions.append(" ".join(s))
    price = (np.array([MAKES[m] for m in make]) + 900.0 * (year - 2010) - 0.03 * mileage
             + 2500 * sunroof + 1800 * one_owner - 3500 * accident + 1200 * certified
             + rng.normal(0, 600, n))
    df = pd.DataFrame({
        "car_id": [f"c{i:04d}" for i in range(n)],
        "make": make,
        "year": year.astype(float),
        "mileage": [f"{m:,}" for m in mileage],
        "fuel": fuel,
        "certified": certified,
        "description": descriptions,
        "price": price.round(0),
    })
    # missing cells, as in real exports
    for col, share in (("year", 0.03), ("mileage", 0.03), ("fuel", 0.05)):
        df.loc[rng.random(n) < share, col] = None
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="CSV file to write")
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    make_cars(a.rows, a.seed).to_csv(a.out, index=False)
    print(f"wrote {a.rows} cars to {a.out}")


if __name__ == "__main__":
    main()
