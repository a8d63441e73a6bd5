"""Ctrl-C in tests that send it, whatever the suite was started with.

A suite started in the background or under ``nohup`` begins with SIGINT ignored; child
processes inherit that, and a Python started with SIGINT ignored never raises
KeyboardInterrupt. The interrupt tests therefore start their children with the default action
(:func:`default_sigint` as ``preexec_fn``: Python then installs its own handler) and raise
KeyboardInterrupt in-process under :func:`sigint_raises`."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


def default_sigint() -> None:
    """``preexec_fn`` of a child that must stop on Ctrl-C (runs in the child before exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process for the duration."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
