"""The progress display: plain lines off a terminal, nothing when quiet, a live panel on one."""

from __future__ import annotations

import io

from genz.progress import FitProgress, format_record


def _rec(step: int, feature: str = "has a [bold]pool[/bold]") -> dict:
    return {"step": step, "cycle": 1, "action": "add", "feature": feature, "features": ["a", feature],
            "n_features": 2, "train": {"mae": 0.12345, "rmse": 0.2}, "test": {"mae": 0.15}, "bound": -1234.5,
            "fm_total": {"calls": {"judge": 40, "mine": 2}, "total_calls": 42, "cache_hits": 3,
                         "prompt_tokens": 1000, "completion_tokens": 200, "cost_usd": 0.0123}, "seconds": 1.25}


def test_plain_mode_one_line_per_step_when_not_a_tty():
    buf = io.StringIO()
    p = FitProgress(file=buf, total_cycles=12)
    assert p.mode == "plain"
    p.on_step_start("add", 1, 3, total_steps=10)
    p.on_mining(8, 8)  # as the core calls it
    assert p.phase == "mining (8 vs 8 exemplars)"
    p.on_judging("has a [bold]pool[/bold]", 120)
    p.on_step_end(_rec(3))
    p.on_step_end(_rec(4, "near a park"))
    p.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[genz fit] step 3 cycle 1/12 add")
    assert '"has a [bold]pool[/bold]"' in lines[0]  # not interpreted as markup
    assert "train mae 0.1235" in lines[0] and "test mae 0.15" in lines[0]
    assert "FM 42 calls (judge 40, mine 2), 3 cached, 1,200 tokens, $0.0123" in lines[0]
    assert "\x1b" not in buf.getvalue()


def test_quiet_prints_nothing():
    buf = io.StringIO()
    p = FitProgress(file=buf, quiet=True)
    p.on_step_start("add", 0, 0)
    p.on_mining("x")
    p.on_step_end(_rec(0))
    p.message("hello")
    p.close()
    assert buf.getvalue() == ""


def test_live_panel_shows_current_state():
    buf = io.StringIO()
    p = FitProgress(file=buf, live=True, total_cycles=3)
    assert p.mode == "live"
    p.on_step_start("add", 2, 5, total_steps=20)
    p.on_judging("is a war film")
    rows = dict(p.status_lines())
    assert rows["cycle / step"] == "2/3 · 5/20 · add"
    assert rows["now"] == 'judging: "is a war film"'
    p.on_step_end(_rec(5))
    rows = dict(p.status_lines())
    assert rows["features"] == "2" and rows["train"].startswith("mae 0.1235")
    assert "42 calls" in rows["FM so far"]
    p.close()
    out = buf.getvalue()
    assert "step 5 cycle 1/3 add" in out and "FM so far" in out


def test_format_record_without_test_or_fm():
    line = format_record({"step": 0, "cycle": 0, "action": "init", "feature": None, "features": [],
                          "train": {"r2": float("nan")}, "test": None, "bound": None})
    assert line.startswith("step 0 cycle 0 init | K=0 | train r2 nan | FM -")
