"""Child processes that never outlive genz (``vllm run-batch``, the Ray pipeline).

:func:`spawn` starts a command under :mod:`~genz.fm.executors.supervise` in a new session, so
the command and everything it starts form one process group, apart from genz's. The group is
stopped (SIGTERM, then SIGKILL) when the block of :func:`supervised` ends in any way (done, an
error, Ctrl-C, SIGTERM turned into KeyboardInterrupt), at interpreter exit, and by the
supervisor itself when genz dies without a word (SIGKILL): see its docstring.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["spawn", "stop", "supervised", "SUPERVISOR"]

SUPERVISOR = Path(__file__).with_name("supervise.py")
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


def spawn(argv: Sequence[str], **popen: Any) -> subprocess.Popen:
    """``argv`` started under the supervisor, in its own process group (see the module docstring)."""
    opts = [str(os.getpid())]
    if threading.current_thread() is threading.main_thread():
        opts.append("--pdeathsig")  # the kernel signal follows the thread that starts the child
    proc = subprocess.Popen([sys.executable, str(SUPERVISOR), *opts, "--", *map(str, argv)],
                            start_new_session=True, **popen)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 8.0) -> None:
    """Stop ``proc``'s process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    with _LIVE_LOCK:
        _LIVE.discard(proc)
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.monotonic() + grace
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2)


@contextlib.contextmanager
def supervised(argv: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """``with supervised(argv) as proc: ...``: the child's group is stopped when the block
    ends, however it ends."""
    proc = spawn(argv, **popen)
    try:
        yield proc
    finally:
        stop(proc)


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for p in live:
        stop(p, grace=2.0)
