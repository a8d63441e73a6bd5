"""genz: foundation models as latent-variable generators inside a classical statistical model.

The public names are imported on first use (PEP 562), so that ``genz --version`` and
``genz --help`` do not load scikit-learn, SciPy and pandas."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CheaperRouteWarning, CorruptFileError, FMError, GenZError, GenZInputError, MiningError

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "GenZRegressor": "estimator", "make_fm": "estimator",
    "Item": "items", "items_from_texts": "items", "load_items": "items", "load_targets": "items",
    "save_items": "items",
    "MLP": "settings", "Advanced": "settings", "Linear": "settings", "PriorKnowledge": "settings",
    "Selection": "settings",
    "items_from_frame": "tables", "load_table": "tables",
}

__all__ = [
    "GenZRegressor",
    "Linear",
    "MLP",
    "Advanced",
    "Selection",
    "PriorKnowledge",
    "Item",
    "items_from_texts",
    "items_from_frame",
    "load_table",
    "save_items",
    "load_items",
    "load_targets",
    "make_fm",
    "GenZError",
    "GenZInputError",
    "FMError",
    "MiningError",
    "CorruptFileError",
    "CheaperRouteWarning",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs
    from .estimator import GenZRegressor, make_fm
    from .items import Item, items_from_texts, load_items, load_targets, save_items
    from .settings import MLP, Advanced, Linear, PriorKnowledge, Selection
    from .tables import items_from_frame, load_table
