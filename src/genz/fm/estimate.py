"""What a planned run will cost, before spending anything (``genz estimate``).

Counts the foundation-model calls of a run of Algorithm 4 (or ``n_features`` additions, or
the zero-shot baseline) and approximates their tokens by rendering the real prompt templates
on the real items. Tokens are approximated as characters / 4 (typical for English with
OpenAI tokenizers; expect ±30%); an image is counted as 765 input tokens (OpenAI's high-detail
512-px tiling for a 1024×1024 image). The estimate assumes an empty cache and no retries, and
that every feature is judged on every item (training and test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..items import Item
from .pricing import cost_usd, price_for
from .prompts import PromptSet, numbered_items

__all__ = ["CallEstimate", "estimate_run", "approx_tokens", "IMAGE_TOKENS"]

IMAGE_TOKENS = 765
REASONING_TOKENS = 1000  # hidden reasoning tokens per call assumed for reasoning models (billed as output)
_SAMPLE_DESCRIPTOR = "Integers with the 2^7 bit set (value modulo 256 is 128-255)"


def approx_tokens(text: str) -> int:
    """Tokens of ``text``, approximated as characters / 4."""
    return math.ceil(len(text) / 4)


@dataclass
class CallEstimate:
    kind: str  # judge | mine | propose
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float

    def to_dict(self) -> dict:
        return asdict(self)


def _is_reasoning(model: str) -> bool:
    from .openai_compat import _REASONING

    return bool(_REASONING.match(model))


def estimate_run(
    items: Sequence[Item],
    *,
    n_adds: int,
    judge_model: str,
    mining_model: str,
    batch_size: int = 10,
    exemplars: int = 10,
    zero_shot: int = 0,
    prompts: PromptSet | None = None,
    vision: bool = False,
    price_in: float | None = None,
    price_out: float | None = None,
    item_max_chars: int | None = 4000,
    n_candidates: int = 1,
) -> list[CallEstimate]:
    """Calls and tokens for ``n_adds`` feature additions (each: one mining call asking for
    ``n_candidates`` characteristics, then judging each candidate on all ``items``), plus a zero-shot proposal of ``zero_shot`` features
    when that is > 0."""
    prompts = prompts or PromptSet()
    n = len(items)
    jt = prompts["judge"]
    # judging one descriptor on every item: every batch's rendered prompt
    judge_prompt = judge_completion = judge_calls = 0
    for s in range(0, n, batch_size):
        batch = items[s : s + batch_size]
        system, user = jt.render(descriptor=_SAMPLE_DESCRIPTOR, items=numbered_items(batch, 1, item_max_chars),
                                 n_items=len(batch), first_id=1, last_id=len(batch))
        judge_prompt += approx_tokens(system) + approx_tokens(user) + 8
        if vision:
            judge_prompt += IMAGE_TOKENS * sum(len(it.images) for it in batch)
        judge_completion += 6 + 6 * len(batch)
        judge_calls += 1
    if _is_reasoning(judge_model):
        judge_completion += REASONING_TOKENS * judge_calls
    n_judged = n_adds * max(1, n_candidates) + (zero_shot if zero_shot > 0 else 0)
    jp = price_for(judge_model, price_in, price_out)
    out = [CallEstimate("judge", judge_model, judge_calls * n_judged, judge_prompt * n_judged,
                        judge_completion * n_judged, 0.0)]

    mp = price_for(mining_model, price_in if mining_model == judge_model else None,
                   price_out if mining_model == judge_model else None)
    if n_adds > 0:
        mt = prompts["mine"]
        pos = list(items[:exemplars])
        neg = list(items[exemplars : 2 * exemplars]) or pos
        avg_excl = max(0, n_adds // 2)
        system, user = mt.render(
            positives=numbered_items(pos, 1, item_max_chars), negatives=numbered_items(neg, 1, item_max_chars),
            n_pos=len(pos), n_neg=len(neg), exclude="\n".join(f'- "{_SAMPLE_DESCRIPTOR}"' for _ in range(avg_excl))
            or "(none)", context="", n_candidates=max(1, n_candidates),
        )
        per = approx_tokens(system) + approx_tokens(user) + 8
        if vision:
            per += IMAGE_TOKENS * sum(len(it.images) for it in pos + neg)
        comp = 10 + 20 * max(1, n_candidates) + (REASONING_TOKENS if _is_reasoning(mining_model) else 0)
        out.append(CallEstimate("mine", mining_model, n_adds, per * n_adds, comp * n_adds, 0.0))
    if zero_shot > 0:
        pt = prompts["propose"]
        sample = list(items[: exemplars * 3])
        system, user = pt.render(task="(your task description)", items=numbered_items(sample, 1, item_max_chars),
                                 n=zero_shot)
        comp = 15 * zero_shot + (REASONING_TOKENS if _is_reasoning(mining_model) else 0)
        out.append(CallEstimate("propose", mining_model, 1, approx_tokens(system) + approx_tokens(user) + 8, comp, 0.0))
    for e in out:
        prices = jp if e.kind == "judge" else mp
        e.cost_usd = cost_usd(e.prompt_tokens, e.completion_tokens, prices)
    return out
