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


# ------------------------------------------------------------------------------------------------
# per executor: discovery on a sample, bulk judging of the kept features
# ------------------------------------------------------------------------------------------------
#: assumptions of :func:`estimate_executors` (state them beside every number)
EXECUTOR_ASSUMPTIONS = {
    "sync_seconds_per_call": 2.0,  # one judging call of 10 items, hosted API, incl. queueing
    "batch_discount": 0.5,  # OpenAI Batch API: half price
    "batch_turnaround_hours": 24.0,  # the Batch API's completion window (an upper bound; often far less)
    "vllm_output_tokens_per_s": 2500.0,  # one mid-size GPU serving a small model, batched decoding
    "vllm_prompt_tokens_per_s": 25000.0,  # prefill (prefix caching makes shared prompts cheaper still)
}


@dataclass
class ExecutorEstimate:
    phase: str  # discovery | bulk
    executor: str  # sync | batch | vllm | ray
    items: int
    features: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    wall_seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def estimate_executors(
    items: Sequence[Item],
    *,
    n_adds: int,
    n_kept: int,
    discovery_sample: int | None,
    judge_model: str,
    mining_model: str,
    batch_size: int = 10,
    concurrency: int = 4,
    ray_endpoints: int = 1,
    exemplars: int = 10,
    prompts: PromptSet | None = None,
    price_in: float | None = None,
    price_out: float | None = None,
    item_max_chars: int | None = 4000,
    assumptions: dict | None = None,
) -> list[ExecutorEstimate]:
    """Calls, tokens, dollars and wall time for discovery (``n_adds`` features mined and judged
    on the discovery sample: ``discovery_sample`` items, or all) and for bulk judging (the
    ``n_kept`` final features on the items outside the sample), per executor. Dollars: the
    price table (:mod:`genz.fm.pricing`), halved for ``batch``; ``vllm`` is self-hosted (0 $,
    GPU time instead). Wall time: ``sync`` calls / concurrency × seconds per call; ``ray`` the
    same over ``ray_endpoints`` × concurrency; ``batch`` the completion window per sequential
    judging pass (discovery judges one feature at a time: ``n_adds`` passes; bulk: one pass);
    ``vllm`` tokens / throughput. See :data:`EXECUTOR_ASSUMPTIONS`."""
    a = {**EXECUTOR_ASSUMPTIONS, **(assumptions or {})}
    n = len(items)
    s = n if not discovery_sample or discovery_sample >= n else int(discovery_sample)
    rng_idx = list(range(0, n, max(1, n // max(s, 1))))[:s]  # an evenly spread sample for token counts
    sample = [items[i] for i in rng_idx]
    per = estimate_run(sample, n_adds=1, judge_model=judge_model, mining_model=mining_model,
                       batch_size=batch_size, exemplars=exemplars, prompts=prompts, price_in=price_in,
                       price_out=price_out, item_max_chars=item_max_chars)
    j1, m1 = per[0], per[1]  # judging one feature on the sample; one mining call
    phases = []
    # discovery: n_adds features judged on s items (+ n_adds mining calls, always synchronous)
    scale_d = n_adds
    phases.append(("discovery", s, n_adds, j1.calls * scale_d, j1.prompt_tokens * scale_d,
                   j1.completion_tokens * scale_d, n_adds))
    # bulk: n_kept features on the other n - s items
    frac = (n - s) / s if s else 0.0
    phases.append(("bulk", n - s, n_kept, int(round(j1.calls * n_kept * frac)),
                   int(round(j1.prompt_tokens * n_kept * frac)), int(round(j1.completion_tokens * n_kept * frac)), 1))
    jp = price_for(judge_model, price_in, price_out)
    out: list[ExecutorEstimate] = []
    for phase, n_items, feats, calls, pt, ct, passes in phases:
        if phase == "bulk" and n_items == 0:
            continue
        mine_calls = m1.calls * n_adds if phase == "discovery" else 0
        mine_pt = m1.prompt_tokens * n_adds if phase == "discovery" else 0
        mine_ct = m1.completion_tokens * n_adds if phase == "discovery" else 0
        mine_cost = m1.cost_usd * n_adds if phase == "discovery" else 0.0
        full = cost_usd(pt, ct, jp)
        sync_wall = calls * a["sync_seconds_per_call"] / max(concurrency, 1)
        mine_wall = mine_calls * a["sync_seconds_per_call"]
        for ex in ("sync", "batch", "vllm", "ray"):
            if ex == "sync":
                cost, wall = full + mine_cost, sync_wall + mine_wall
            elif ex == "batch":
                cost = full * a["batch_discount"] + mine_cost
                wall = passes * a["batch_turnaround_hours"] * 3600 + mine_wall
            elif ex == "vllm":
                cost = mine_cost
                wall = pt / a["vllm_prompt_tokens_per_s"] + ct / a["vllm_output_tokens_per_s"] + mine_wall
            else:
                cost = full + mine_cost
                wall = sync_wall / max(ray_endpoints, 1) + mine_wall
            out.append(ExecutorEstimate(phase, ex, n_items, feats, calls + mine_calls, pt + mine_pt, ct + mine_ct,
                                        cost, wall))
    return out
