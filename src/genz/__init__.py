"""genz: foundation models as latent-variable generators inside a classical statistical model."""

from .errors import CorruptFileError, FMError, GenZError, GenZInputError, MiningError
from .estimator import GenZRegressor, make_fm
from .items import Item, items_from_texts, load_items, load_targets, save_items
from .settings import MLP, Advanced, Linear, PriorKnowledge, Selection
from .tables import items_from_frame, load_table

__version__ = "0.1.0"

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
]
