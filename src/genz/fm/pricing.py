"""Token prices for cost accounting.

Prices are US dollars per 1M tokens (input, output), for a few well-known OpenAI model names
as published on openai.com/api/pricing in 2025. They change: check the page, and override them
with ``price_in``/``price_out`` (CLI ``--price-in``/``--price-out``). A model not in the table
(a local vLLM/Ollama/llama.cpp model) costs 0; its tokens are still counted.
"""

from __future__ import annotations

__all__ = ["PRICES", "price_for", "cost_usd"]

#: model name (or its dated snapshots, matched by longest prefix) -> (input, output) $/1M tokens
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
}


def price_for(
    model: str, price_in: float | None = None, price_out: float | None = None
) -> tuple[float, float]:
    """(input, output) $/1M tokens for ``model``: the overrides where given, else the table
    entry whose name is the longest prefix of ``model`` (so ``gpt-4o-mini-2024-07-18`` is
    priced as ``gpt-4o-mini``), else 0."""
    base = (0.0, 0.0)
    best = ""
    for name, prices in PRICES.items():
        if (model == name or model.startswith(name + "-")) and len(name) > len(best):
            best, base = name, prices
    return (
        float(price_in) if price_in is not None else base[0],
        float(price_out) if price_out is not None else base[1],
    )


def cost_usd(prompt_tokens: int, completion_tokens: int, prices: tuple[float, float]) -> float:
    """Dollars for a call with the given token counts at ``prices`` ($/1M)."""
    return (prompt_tokens * prices[0] + completion_tokens * prices[1]) / 1e6
