"""The Batch API executor's record of its batches: ``STATE_DIR/batches.json``, under a lock.

Every step of a batch is recorded before and after it happens (shard written, upload, the
idempotency key and that a create was attempted, the batch id, its collection), so a process
killed anywhere resumes without paying twice. Several processes may share one state folder
(two ``genz fit --executor batch`` on one cache): every read-modify-write of the file happens
under an exclusive ``flock`` on ``STATE_DIR/batches.lock`` (:meth:`BatchState.locked`), and
the file is replaced atomically (a temporary file of this process, fsync, rename).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import GenZInputError

__all__ = ["BatchState", "STATE_FILE", "TERMINAL", "load_state", "manifest_ids"]

STATE_FILE = "batches.json"
LOCK_FILE = "batches.lock"
SCHEMA = "genz-batches/1"
TERMINAL = ("completed", "failed", "expired", "cancelled")


def load_state(state_dir: str | Path) -> dict[str, Any]:
    """The recorded batches of ``state_dir`` (empty when none); read without the lock."""
    p = Path(state_dir) / STATE_FILE
    if not p.exists():
        return {"schema": SCHEMA, "next_shard": 0, "batches": []}
    try:
        st = json.loads(p.read_text())
        if st.get("schema") != SCHEMA:
            raise ValueError
        return st
    except (json.JSONDecodeError, ValueError, AttributeError):
        raise GenZInputError(f"{p}: not a genz batch state file; move it away to start afresh") from None


def manifest_ids(entry: dict[str, Any]) -> list[str]:
    """The custom_ids of a recorded shard (from its manifest)."""
    out = []
    try:
        with open(entry["manifest"], encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    out.append(json.loads(line)["custom_id"])
    except FileNotFoundError:
        raise GenZInputError(f"{entry['manifest']}: the manifest of batch shard {entry.get('shard')} is gone; "
                             "restore it, or move the batch folder away to start afresh") from None
    return out


class BatchState:
    """``batches.json`` of one state folder; see the module docstring."""

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)

    def read(self) -> dict[str, Any]:
        with self.locked(write=False) as st:
            return st

    @contextlib.contextmanager
    def locked(self, write: bool = True) -> Iterator[dict[str, Any]]:
        """The state, read under the exclusive lock; written back (atomically) when the block
        ends without an error and ``write``. Call :meth:`save` inside to record a step at once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - not POSIX
                pass
            st = load_state(self.dir)
            yield st
            if write:
                self.save(st)
        finally:
            os.close(fd)  # releases the lock

    def save(self, st: dict[str, Any]) -> None:
        """Write ``st`` atomically (call with the lock held, inside :meth:`locked`)."""
        p = self.dir / STATE_FILE
        tmp = self.dir / f"{STATE_FILE}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(st, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)

    @staticmethod
    def submissions(st: dict[str, Any]) -> tuple[Counter, set[str], set[str]]:
        """(times each custom_id was put in a recorded batch, the ids of batches still open,
        the ids of batches the provider failed as a whole)."""
        times: Counter = Counter()
        open_ids: set[str] = set()
        failed: set[str] = set()
        for e in st["batches"]:
            if e.get("forgotten"):
                continue  # the provider never knew it (or no longer does): not a submission
            ids = manifest_ids(e)
            times.update(ids)
            if not e.get("collected"):
                open_ids.update(ids)
            elif e.get("status") == "failed":
                failed.update(ids)
        return times, open_ids, failed
