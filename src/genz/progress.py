"""Live progress of a fit: cycle and step, the feature being mined, FM calls and cost so far,
the latest train/test metrics.

Three modes, chosen by :class:`FitProgress`:

* ``live``  — on a terminal: a rich panel that updates in place, with one log line per
  finished step scrolling above it;
* ``plain`` — when the output is not a terminal (a pipe, a log file, CI): one line per finished
  step, nothing else, no control characters;
* ``quiet`` — nothing at all (``genz fit --quiet``, scripts).

The discovery loop calls :meth:`FitProgress.on_step_start`, :meth:`FitProgress.on_mining`,
:meth:`FitProgress.on_judging`, :meth:`FitProgress.on_selection` and :meth:`FitProgress.on_step_end` (with the step's history record, the same dict as a line of
``history.jsonl``), and :meth:`FitProgress.close` at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["FitProgress", "format_record", "NullProgress"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        a = abs(v)
        if a < 1e-12:  # rounding noise (an R² of -2.2e-16 at the start) reads as 0
            return "0"
        if a >= 1e5 or a < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}" if a < 100 else f"{v:.1f}"
    return str(v)


def _metrics(m: Mapping[str, Any] | None, limit: int = 4) -> str:
    if not m:
        return "-"
    return " ".join(f"{k} {_fmt(v)}" for k, v in list(m.items())[:limit])


def _short(text: str | None, n: int = 70) -> str:
    if not text:
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _fm_summary(fm_total: Mapping[str, Any] | None) -> str:
    if not fm_total:
        return "-"
    calls = fm_total.get("total_calls")
    if calls is None:
        calls = sum((fm_total.get("calls") or {}).values())
    parts = [f"{calls} calls"]
    by = fm_total.get("calls") or {}
    if by:
        parts[0] += " (" + ", ".join(f"{k} {v}" for k, v in sorted(by.items())) + ")"
    if fm_total.get("cache_hits"):
        parts.append(f"{fm_total['cache_hits']} cached")
    tokens = int(fm_total.get("prompt_tokens", 0) or 0) + int(fm_total.get("completion_tokens", 0) or 0)
    if tokens:
        parts.append(f"{tokens:,} tokens")
    cost = fm_total.get("cost_usd")
    if cost:
        parts.append(f"${cost:.4f}" if cost < 1 else f"${cost:.2f}")
    return ", ".join(parts)


def format_record(record: Mapping[str, Any], total_cycles: int | None = None) -> str:
    """One plain log line for a finished step (its ``history.jsonl`` record)."""
    cyc = record.get("cycle")
    cyc_s = f"cycle {cyc}" + (f"/{total_cycles}" if total_cycles else "") if cyc is not None else ""
    if record.get("phase") == 2:  # discovery over every row, after the findings were tested
        cyc_s = f"phase 2 {cyc_s}"
    action = record.get("action", "?")
    feat = record.get("feature")
    head = f"step {record.get('step')} {cyc_s} {action}"
    if feat:
        head += f' "{_short(feat, 60)}"'
    bits = [head.replace("  ", " ").strip(), f"K={record.get('n_features', len(record.get('features') or []))}"]
    bits.append(f"train {_metrics(record.get('train'))}")
    if record.get("test"):
        bits.append(f"test {_metrics(record.get('test'))}")
    if record.get("bound") is not None:
        bits.append(f"bound {_fmt(record.get('bound'))}")
    bits.append(f"FM {_fm_summary(record.get('fm_total'))}")
    if record.get("seconds") is not None:
        bits.append(f"{float(record['seconds']):.1f}s")
    return " | ".join(bits)


class FitProgress:
    """Progress display for a fit. ``quiet``: print nothing. ``live``: force (True) or forbid
    (False) the in-place panel; by default it is used when ``file`` (default stderr) is a
    terminal. ``total_cycles``: shown as ``cycle 3/12``."""

    def __init__(self, *, quiet: bool = False, file: IO[str] | None = None, live: bool | None = None,
                 total_cycles: int | None = None, title: str = "genz fit") -> None:
        self.file = file if file is not None else sys.stderr
        self.console = Console(file=self.file, highlight=False, soft_wrap=False)
        if quiet:
            self.mode = "quiet"
        elif live is None:
            self.mode = "live" if self.console.is_terminal else "plain"
        else:
            self.mode = "live" if live else "plain"
        self.title = title
        self.total_cycles = total_cycles
        self.t0 = time.monotonic()
        self.kind: str | None = None
        self.cycle: int | None = None
        self.step: int | None = None
        self.total_steps: int | None = None
        self.mining: str | None = None
        self.phase: str | None = None
        self.last: dict | None = None
        self.fm_total: dict | None = None
        self._live: Live | None = None
        self._bar: Progress | None = None
        self._task = None
        self._closed = False

    # -- the callback API used by the discovery loop
    def on_step_start(self, kind: str, cycle: int | None, step: int, total_steps: int | None = None) -> None:
        """A step begins: ``kind`` is ``add``/``remove``/``init``/..."""
        self.kind, self.cycle, self.step, self.total_steps = kind, cycle, step, total_steps
        self.mining, self.phase = None, None
        self._refresh()

    def on_mining(self, n_pos: int | None = None, n_neg: int | None = None, descriptor: str | None = None, *,
                  phase: str = "mining", targeted: bool | None = None) -> None:
        """The step asks the FM for a characteristic of ``n_pos`` positive vs ``n_neg``
        negative exemplars (the core calls ``on_mining(n_pos, n_neg)``)."""
        self.phase = phase
        if descriptor is not None:
            self.mining = descriptor
        extra = []
        if n_pos is not None and n_neg is not None:
            extra.append(f"{n_pos} vs {n_neg} exemplars")
        if targeted is not None:
            extra.append("targeted" if targeted else "untargeted")
        if extra:
            self.phase = f"{phase} ({', '.join(extra)})"
        self._refresh()

    def on_judging(self, descriptor: str, n_items: int | None = None) -> None:
        """The FM is judging ``descriptor`` for ``n_items`` items (the expensive part)."""
        self.mining = descriptor
        self.phase = "judging" + (f" {n_items} items" if n_items is not None else "")
        self._refresh()

    def on_selection(self, what: str) -> None:
        """The final selection step is at ``what`` (choosing the structure, judging a feature on
        the untouched rows, testing the findings, refitting): it can take a large share of a
        fit, so each part is shown (and printed as a line when the output is not a terminal)."""
        self.kind, self.mining, self.phase = "select", None, what
        if self.mode == "plain":
            print(f"[{self.title}] select: {_short(what, 100)}", file=self.file, flush=True)
        self._refresh()

    def on_step_end(self, record: Mapping[str, Any]) -> None:
        """A step finished; ``record`` is its history record."""
        self.last = dict(record)
        if record.get("fm_total"):
            self.fm_total = dict(record["fm_total"])
        if self.mode == "quiet":
            return
        line = format_record(record, self.total_cycles)
        if self.mode == "plain":
            print(f"[{self.title}] {line}", file=self.file, flush=True)
            return
        self._ensure_live()
        self.console.print(escape(line))
        if self._bar is not None and self.total_steps:
            self._bar.update(self._task, total=self.total_steps, completed=min(int(record.get("step", 0)) + 1, self.total_steps))
        self._refresh()

    def message(self, text: str) -> None:
        """An informational line (e.g. 'resumed from step 12')."""
        if self.mode == "quiet":
            return
        if self.mode == "plain":
            print(f"[{self.title}] {text}", file=self.file, flush=True)
        else:
            self._ensure_live()
            self.console.print(escape(text))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()
            self._live = None

    def __enter__(self) -> "FitProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- rendering
    def _ensure_live(self) -> None:
        if self._live is None and not self._closed:
            self._bar = Progress(TextColumn("steps"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self.console)
            self._task = self._bar.add_task("steps", total=self.total_steps)
            # get_renderable: the panel is rebuilt at every refresh, so the clock keeps running
            self._live = Live(console=self.console, refresh_per_second=4, transient=False,
                              get_renderable=self._render)
            self._live.start()

    def _refresh(self) -> None:
        if self.mode != "live" or self._closed:
            return
        self._ensure_live()
        if self._live is not None:
            self._live.update(self._render())

    def status_lines(self) -> list[tuple[str, str]]:
        """The panel's rows as (label, text) pairs (also used by tests)."""
        cyc = "-" if self.cycle is None else str(self.cycle) + (f"/{self.total_cycles}" if self.total_cycles else "")
        step = "-" if self.step is None else str(self.step) + (f"/{self.total_steps}" if self.total_steps else "")
        rows = [("cycle / step", f"{cyc} · {step} · {self.kind or '-'}")]
        now = self.phase or "-"
        if self.mining:
            now += f': "{_short(self.mining)}"'
        rows.append(("now", now))
        last = self.last or {}
        rows.append(("features", str(last.get("n_features", len(last.get("features") or [])) if last else "-")))
        rows.append(("train", _metrics(last.get("train"))))
        rows.append(("test", _metrics(last.get("test"))))
        rows.append(("bound", _fmt(last.get("bound"))))
        rows.append(("FM so far", _fm_summary(self.fm_total)))
        rows.append(("elapsed", time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - self.t0))))
        return rows

    def _render(self) -> Any:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold cyan", no_wrap=True)
        grid.add_column()
        for label, text in self.status_lines():
            grid.add_row(label, escape(text))
        parts: list[Any] = [grid]
        if self._bar is not None and self.total_steps:
            parts.append(self._bar)
        return Panel(Group(*parts), title=self.title, border_style="blue", expand=False)


class NullProgress(FitProgress):
    """A progress object that shows nothing (same as ``FitProgress(quiet=True)``)."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
