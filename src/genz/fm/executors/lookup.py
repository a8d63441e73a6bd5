"""Executors by name (``--executor sync|batch|vllm|ray``): the one place that knows them all."""

from __future__ import annotations

from typing import Any

from ...errors import GenZInputError
from .base import Executor

__all__ = ["EXECUTORS", "make_executor"]

EXECUTORS = ("sync", "batch", "vllm", "ray")


def make_executor(name: str, **options: Any) -> Executor | None:
    """An executor by name (None for ``sync``); options go to its constructor."""
    name = (name or "sync").lower()
    if name == "sync":
        return None
    if name == "batch":
        from .batch import BatchAPIExecutor

        return BatchAPIExecutor(**options)
    if name == "vllm":
        from .vllm import VLLMExecutor

        return VLLMExecutor(**options)
    if name == "ray":
        from .ray import RayExecutor

        return RayExecutor(**options)
    raise GenZInputError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
