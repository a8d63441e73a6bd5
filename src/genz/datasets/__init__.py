"""Real data sets of the paper's experiments (docs/equations.md §7), loaded as genz items and targets.

* :func:`~genz.datasets.houses.load_houses` — Ahmed & Moustafa (2016) house listings,
  target ``log price``.
* :func:`~genz.datasets.movies.load_movies` — Netflix prize / MovieLens ratings reduced to
  32-dimensional SVD movie embeddings of the most-rated movies (docs/equations.md §8), plus the cold-start
  fold-in simulation of the paper's Fig. 5.

Each loader returns a :class:`Dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..items import Item

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """Items with their targets, ready for :class:`genz.GenZRegressor`.

    ``Y`` is N×D; ``U`` is N×P side inputs (or ``None``) whose columns are named by
    ``side_input_names``; ``metric`` names the headline metric (``"median_ae"`` for a 1-d
    target such as log price, ``"cosine"`` for embeddings); ``extra`` holds data-set specific
    objects (raw prices, the SVD, rating counts, ...).
    """

    name: str
    items: list[Item]
    Y: np.ndarray
    U: np.ndarray | None = None
    side_input_names: list[str] = field(default_factory=list)
    metric: str = "median_ae"
    task: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.Y = np.asarray(self.Y, dtype=float)
        if self.Y.ndim == 1:
            self.Y = self.Y[:, None]
        if self.Y.shape[0] != len(self.items):
            raise ValueError(f"{self.name}: {self.Y.shape[0]} targets for {len(self.items)} items")
        if self.U is not None:
            self.U = np.asarray(self.U, dtype=float)
            if self.U.shape[0] != len(self.items):
                raise ValueError(f"{self.name}: {self.U.shape[0]} side-input rows for {len(self.items)} items")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    def subset(self, idx: np.ndarray) -> tuple[list[Item], np.ndarray, np.ndarray | None]:
        """Items, targets and side inputs of the rows ``idx``."""
        idx = np.asarray(idx, dtype=int)
        U = self.U[idx] if self.U is not None else None
        return [self.items[i] for i in idx], self.Y[idx], U
