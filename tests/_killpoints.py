"""Kill a fit at chosen file events (SIGKILL), in a forked child: the harness of
tests/test_kill_anywhere.py.

A *file event* is a call of one of ``os.open / os.write / os.fsync / os.replace / os.rename /
os.unlink / os.rmdir / os.mkdir / os.truncate`` or ``open`` for writing, made by the fit. The
child counts them and kills itself with SIGKILL just before event ``kill_at`` (so each kill
point is also "just after" the previous event: the instant a temporary file appeared, a rename
was done, a directory was half deleted).
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

_NAMES = ("open", "write", "fsync", "replace", "rename", "unlink", "rmdir", "mkdir", "truncate", "ftruncate")


def _install(kill_at: int | None, events: list[str]) -> None:
    real_open = builtins.open

    def hit(name: str, arg: Any) -> None:
        events.append(f"{name} {arg}")
        if kill_at is not None and len(events) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    for name in _NAMES:
        real = getattr(os, name)

        def wrapper(*a, _real=real, _name=name, **kw):
            hit(_name, f"{a[0]} -> {a[1]}" if _name in ("rename", "replace") else a[0] if a else "")
            return _real(*a, **kw)

        setattr(os, name, wrapper)

    def open_(file, mode="r", *a, **kw):
        if any(c in mode for c in "wax+"):
            hit("open", file)
        return real_open(file, mode, *a, **kw)

    builtins.open = open_


def run_forked(fn: Callable[[], Any], kill_at: int | None = None, events_file: str | None = None) -> int:
    """Run ``fn`` in a forked child, killed at file event ``kill_at``; the child's exit status
    (``-9`` when killed, 0 on success, 1 on an exception, whose one-line message goes to
    stderr). ``events_file`` receives the list of events (JSON) when the child finishes."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        events: list[str] = []
        try:
            _install(kill_at, events)
            fn()
        except BaseException as exc:  # noqa: BLE001
            code = 1
            os.write(2, (f"child: {type(exc).__name__}: {exc}\n" + traceback.format_exc()).encode())
        if events_file:
            data = json.dumps(events).encode()
            fd = os.open(events_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.close(fd)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
