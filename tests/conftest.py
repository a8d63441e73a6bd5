import os

import numpy as np
import pytest
from hypothesis import settings

from genz.items import Item

# Property tests draw the same examples on every run ("repeatable", the default: CI cannot fail on
# an example no earlier run drew); HYPOTHESIS_PROFILE=explore draws new ones (run it when changing
# the offline engine, and add what it finds as a fixed case).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def make_attr_items(n: int, seed: int = 0) -> list[Item]:
    """Synthetic house-like items with numeric, categorical, list and text attributes."""
    r = np.random.default_rng(seed)
    zips = ["85255", "85262", "92880", "94531", "60016", "60002"]
    words = ["pool", "garage", "view", "fireplace", "patio", "basement"]
    items = []
    for i in range(n):
        items.append(Item(
            id=f"h{i}",
            text="house with " + " and ".join(r.choice(words, 2, replace=False)),
            attributes={
                "area": float(r.integers(600, 5000)),
                "bedrooms": int(r.integers(1, 6)),
                "zip": str(r.choice(zips)),
                "tags": list(r.choice(["new", "renovated", "old"], 1)),
            },
        ))
    return items
