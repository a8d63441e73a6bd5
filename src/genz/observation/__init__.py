"""Observation models ``g(z, u; θ)`` with per-dimension variances (docs/equations.md §2-§4)."""

from .base import ObservationModel
from .linear import LinearGaussian

__all__ = ["ObservationModel", "LinearGaussian", "MLPGaussian", "make_observation_model"]


def make_observation_model(kind: str, **options) -> ObservationModel:
    """``"linear"`` (exact mean field) or ``"mlp"`` (at the mode)."""
    if kind == "linear":
        return LinearGaussian(**{k: v for k, v in options.items() if k in ("ridge", "sigma2_floor_rel")})
    if kind == "mlp":
        from .mlp import MLPGaussian  # imports torch: only when an MLP is asked for

        allowed = ("hidden", "dropout", "lr", "epochs", "batch_size", "em_epochs", "seed", "sigma2_floor_rel")
        return MLPGaussian(**{k: v for k, v in options.items() if k in allowed})
    raise ValueError(f"unknown observation model {kind!r}: use 'linear' or 'mlp'")


def observation_model_from_state(meta: dict, arrays: dict) -> ObservationModel:
    model = make_observation_model(meta["name"])
    model.set_state(meta, arrays)
    return model


def __getattr__(name: str):
    if name == "MLPGaussian":
        from .mlp import MLPGaussian

        return MLPGaussian
    raise AttributeError(name)
