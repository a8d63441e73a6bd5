"""The foundation-model layer: protocol, backends, prompts and cache."""

from .base import FMStats, FoundationModel, Judgments

__all__ = ["FMStats", "FoundationModel", "Judgments"]
