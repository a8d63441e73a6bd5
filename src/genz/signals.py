"""Ctrl-C and SIGTERM: a run stops the same way for both (queued FM requests cancelled, the step
being committed saved, the status "interrupted"), a commit is never half-done, and an
interrupted command ends at once once everything paid for is on disk."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["Terminated", "terminate_as_interrupt", "defer_signals", "exit_now"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C (see :func:`terminate_as_interrupt`): the run stops the same
    way — queued FM requests cancelled, the step being committed saved, status interrupted."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main
    thread instead of killing the process, so it is handled exactly like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        old = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # pragma: no cover - not in the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def defer_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block has finished (a commit is never half-done)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[Any] = []
    olds: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            olds[sig] = signal.signal(sig, lambda s, f: pending.append((s, f)))
    except ValueError:  # pragma: no cover - not in main interpreter
        yield
        return
    try:
        yield
    finally:
        for sig, old in olds.items():
            signal.signal(sig, old)
        if pending:
            s, f = pending[0]
            old = olds[s]
            if callable(old):
                old(s, f)  # Python's SIGINT handler raises KeyboardInterrupt here
            elif old == signal.SIG_DFL:
                signal.raise_signal(s)


_defer_sigint = defer_signals  # the old name


def exit_now(code: int) -> None:
    """End the process at once with ``code`` after flushing stdout and stderr, skipping the
    interpreter's teardown (about a second with the SDKs imported, on a busy machine). For the
    end of an interrupted command, when every answer and step is already committed to disk."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
