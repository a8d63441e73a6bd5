"""Estimates per executor: batch halves the judging dollars, a discovery sample cuts discovery's
judging in proportion, bulk judging covers only the items outside the sample."""

from __future__ import annotations

import pytest

from genz.fm.estimate import estimate_executors
from genz.items import Item


def test_executor_estimates():
    items = [Item(id=str(k), text=f"a house with {k % 7} rooms and a garden") for k in range(2000)]
    full = {(e.phase, e.executor): e for e in estimate_executors(
        items, n_adds=20, n_kept=10, discovery_sample=None, judge_model="gpt-4o-mini", mining_model="gpt-4o-mini")}
    samp = {(e.phase, e.executor): e for e in estimate_executors(
        items, n_adds=20, n_kept=10, discovery_sample=500, judge_model="gpt-4o-mini", mining_model="gpt-4o-mini")}
    assert ("bulk", "sync") not in full  # nothing left to judge in bulk without a sample
    d_full, d_samp = full[("discovery", "sync")], samp[("discovery", "sync")]
    assert d_full.calls == 20 * 200 + 20 and d_samp.calls == 20 * 50 + 20  # 10 items per call, + mining
    b = samp[("bulk", "sync")]
    assert b.items == 1500 and b.calls == 10 * 150
    assert samp[("bulk", "batch")].cost_usd == pytest.approx(b.cost_usd / 2)
    assert samp[("bulk", "vllm")].cost_usd == 0.0
    assert samp[("bulk", "ray")].calls == b.calls
    assert d_samp.cost_usd + b.cost_usd < d_full.cost_usd  # the sample saves money
