"""Opening an FM cache file without ever destroying its rows.

An FM cache is an SQLite database in WAL mode: committed answers may live in ``FILE-wal`` until
a checkpoint copies them into ``FILE``. SQLite trusts whatever ``-wal`` file lies beside the
database: a 0-byte ``FILE`` next to a WAL makes SQLite discard the WAL (every answer in it
lost), and a ``-wal`` left by another database is replayed into this one (its pages overwrite
the cache's). Before connecting, :func:`check_before_open` therefore refuses:

* a file that is not SQLite at all, and a 0-byte ``FILE`` beside a non-empty ``FILE-wal``;
* a leftover ``FILE-wal`` (no other genz process has the cache open) that does not belong to
  ``FILE``: another page size, a commit that would shrink the database, or, read through a
  read-only connection (which never checkpoints), no genz schema, another cache's ``uuid``
  (written in ``meta`` when a cache is created) or a failed ``PRAGMA quick_check``.

Which genz processes have the cache open is known from an advisory lock on ``FILE.lock``
(``fcntl.flock``): each :class:`~genz.fm.cache_store.FMCache` holds it shared; the check runs
only when an exclusive lock can be had (nobody else is writing the WAL).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
from pathlib import Path

from ..errors import CorruptFileError, GenZInputError

__all__ = ["check_before_open", "CacheLock", "SQLITE_MAGIC"]

log = logging.getLogger("genz.fm")

SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (0x377F0682, 0x377F0683)


class CacheLock:
    """The advisory lock on ``FILE.lock``: shared while a cache is open, exclusive (without
    waiting) to find out that no other genz process has it open. A no-op where ``fcntl`` is
    missing (Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(str(path) + ".lock")
        self._fd: int | None = None
        self._created = False

    def _open(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                self._created = True
            except FileExistsError:
                try:
                    self._fd = os.open(self.path, os.O_RDWR)
                except OSError:
                    return None
            except OSError:  # a read-only folder: no lock, no check
                return None
        return self._fd

    def try_exclusive(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return False
        fd = self._open()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def shared(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return
        fd = self._open()
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)  # converts an exclusive lock we hold

    def abandon(self) -> None:
        """Close, removing the lock file if this object created it (a cache that could not be
        opened leaves nothing behind)."""
        if self._created:
            try:
                self.path.unlink()
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)  # releases the lock
            except OSError:
                pass
            self._fd = None


def _page_size(header: bytes) -> int:
    ps = struct.unpack(">H", header[16:18])[0]
    return 65536 if ps == 1 else ps


def _wal_problem(path: Path, wal: Path) -> str | None:
    """Why ``wal`` does not belong to the database ``path``, or None (see the module docstring)."""
    with open(path, "rb") as fh:
        head = fh.read(100)
    main_ps = _page_size(head)
    main_pages = path.stat().st_size // max(main_ps, 1)
    with open(wal, "rb") as fh:
        whead = fh.read(32)
        if len(whead) < 32:
            return None  # a header not yet written: SQLite ignores it
        magic, _version, ps, _ckpt, salt1, salt2 = struct.unpack(">IIIIII", whead[:24])
        if magic not in _WAL_MAGIC:
            return "it is not an SQLite WAL file"
        if ps != main_ps:
            return f"its page size is {ps}, the cache's {main_ps}"
        while True:
            fr = fh.read(24)
            if len(fr) < 24:
                break
            _pgno, db_size, s1, s2 = struct.unpack(">IIII", fr[:16])
            if (s1, s2) != (salt1, salt2):
                break  # frames of an older WAL generation: SQLite ignores them too
            if db_size and db_size < main_pages:
                return f"it would shrink the cache from {main_pages} to {db_size} pages"
            fh.seek(ps, 1)
    try:
        ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        im = sqlite3.connect(f"file:{path}?immutable=1", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return f"the cache cannot be read with it ({exc})"
    try:
        try:
            schema = ro.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError:
            schema = None
        if schema is None:
            return "read with it, the file is no genz FM cache"
        uid = lambda c: (c.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone() or [None])[0]  # noqa: E731
        try:
            mine = uid(im)
        except sqlite3.DatabaseError:
            mine = None
        theirs = uid(ro)
        if mine is not None and theirs != mine:
            return f"it holds another cache (uuid {theirs}, this cache's is {mine})"
        check = ro.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            return f"read with it, the database fails its integrity check ({check[0] if check else '?'})"
    except sqlite3.DatabaseError as exc:
        return f"read with it, the database is damaged ({exc})"
    finally:
        ro.close()
        im.close()
    return None


def check_before_open(path: Path, lock: CacheLock) -> None:
    """Refuse to open ``path`` where SQLite would lose or overwrite rows (module docstring).
    Takes ``lock`` shared before returning."""
    if path.is_dir():
        raise GenZInputError(f"{path}: the FM cache path is a directory, expected a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    wal = Path(str(path) + "-wal")
    size = path.stat().st_size if path.exists() else None
    if size:
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                raise CorruptFileError(f"{path}: not a genz FM cache (not an SQLite database); "
                                       "remove it or choose another --cache path")
    alone = lock.try_exclusive()
    try:
        wal_size = wal.stat().st_size if wal.exists() else 0
        if size == 0 and wal_size > 0:
            raise CorruptFileError(
                f"{path} is empty (0 bytes) but {wal.name} beside it holds {wal_size} bytes of the cache's answers; "
                f"opening it would discard them. Restore {path.name} (e.g. from a backup), or move {wal.name} away "
                "to start a new, empty cache")
        if size == 0:
            log.warning("%s is an empty file (0 bytes): starting a new FM cache in it", path)
        if alone and size and wal_size > 0:
            why = _wal_problem(path, wal)
            if why is not None:
                raise CorruptFileError(
                    f"{wal} does not belong to the FM cache {path.name}: {why}. Opening the cache would copy its "
                    f"pages over the cache's rows; move {wal.name} (and {path.name}-shm) away and rerun")
    finally:
        lock.shared()
