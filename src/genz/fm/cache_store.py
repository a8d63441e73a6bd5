"""The FM cache file: SQLite tables of foundation-model answers, safe for concurrent processes.

One row per judgment, keyed by (backend, model, prompt-template key, descriptor, item content
hash), and one row per mining / proposal / image-description call, keyed by a hash of the
request. A rerun, a resumed run, or the same items in another batch composition therefore
costs no repeated call. The file is safe for concurrent writers (threads and processes): WAL
journal, a busy timeout, short write transactions. Processes sharing the file coordinate:
a judgment or a call in progress is *claimed* (tables ``pending``, ``pending_calls``), so
another process waits for its answer instead of paying for it again.

A ``meta`` table records the schema id and the cache's ``uuid``; a file that is not SQLite, is
corrupt, or is some other program's SQLite database raises
:class:`~genz.errors.CorruptFileError` naming the file; :mod:`genz.fm.cache_file` refuses a
0-byte file beside a WAL, and a WAL of another database, before SQLite can touch them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, GenZInputError
from .cache_file import CacheLock, check_before_open

__all__ = ["FMCache", "SCHEMA_ID", "CLAIM_LEASE"]

SCHEMA_ID = "genz-fm-cache/1"
_CHUNK = 400  # host parameters per IN (...) lookup

_CHUNK = 400  # host parameters per IN (...) lookup

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judgments (
    backend TEXT NOT NULL, model TEXT NOT NULL, template TEXT NOT NULL,
    descriptor TEXT NOT NULL, item_hash TEXT NOT NULL,
    value INTEGER NOT NULL, prob REAL, created REAL NOT NULL,
    PRIMARY KEY (backend, model, template, descriptor, item_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    backend TEXT NOT NULL, model TEXT NOT NULL, template TEXT NOT NULL,
    descriptor TEXT NOT NULL, item_hash TEXT NOT NULL,
    owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (backend, model, template, descriptor, item_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_calls (
    kind TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, template TEXT NOT NULL,
    request_hash TEXT NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (kind, backend, model, template, request_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls (
    kind TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, template TEXT NOT NULL,
    request_hash TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (kind, backend, model, template, request_hash)
) WITHOUT ROWID;
"""

#: tables added after the first release of the schema (created when an older cache is opened)
_LATER_TABLES = [s.strip() for s in _SCHEMA.split(";")
                 if "IF NOT EXISTS pending" in s]
_HOST = socket.gethostname()
#: seconds a claim of another host is honoured (on this host: as long as its process lives)
CLAIM_LEASE = 900.0


def _claim_alive(host: str, pid: int, expires: float, now: float) -> bool:
    if host == _HOST:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    return expires > now


class FMCache:
    """The SQLite file. Thread-safe (one connection, a lock); process-safe (WAL + busy timeout)."""

    def __init__(self, path: str | Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._file_lock = CacheLock(self.path)
        try:
            check_before_open(self.path, self._file_lock)
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._init_schema()  # refuses a foreign database before anything is changed in it
            self._set_wal()
        except (CorruptFileError, GenZInputError):
            self._close_quietly(failed=True)
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly(failed=True)
            raise CorruptFileError(f"{self.path}: the FM cache is corrupt or unreadable ({exc})") from None

    def _close_quietly(self, failed: bool = False) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        if failed:
            self._file_lock.abandon()
        else:
            self._file_lock.close()

    def _set_wal(self) -> None:
        for _ in range(50):
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:  # locked while another process sets it up
                if "locked" not in str(exc):
                    raise
                time.sleep(0.05)
        self._conn.execute("PRAGMA journal_mode=WAL")

    def _init_schema(self) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            n_objects = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if n_objects == 0:
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_ID,))
                c.execute("INSERT INTO meta(key, value) VALUES ('created', ?)", (repr(time.time()),))
                c.execute("INSERT INTO meta(key, value) VALUES ('uuid', ?)", (uuid.uuid4().hex,))
            else:
                try:
                    row = c.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                except sqlite3.OperationalError:
                    row = None
                if row is None:
                    raise CorruptFileError(
                        f"{self.path}: an SQLite database, but not a genz FM cache (no genz schema id); "
                        "choose another --cache path"
                    )
                if row[0] != SCHEMA_ID:
                    raise CorruptFileError(
                        f"{self.path}: FM cache schema {row[0]!r}, this genz reads {SCHEMA_ID!r}"
                    )
                # a quick structural check: both tables readable
                c.execute("SELECT count(*) FROM (SELECT 1 FROM judgments LIMIT 1)").fetchone()
                c.execute("SELECT count(*) FROM (SELECT 1 FROM calls LIMIT 1)").fetchone()
                # judgments and calls in progress, the cache's uuid (added later to the same schema)
                for stmt in _LATER_TABLES:
                    c.execute(stmt)
                c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('uuid', ?)", (uuid.uuid4().hex,))
            c.execute("COMMIT")
        except BaseException:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    # -------------------------------------------------------------- judgments
    def get_judgments(
        self, backend: str, model: str, template: str, descriptor: str, hashes: Sequence[str]
    ) -> dict[str, tuple[bool, float | None]]:
        """Cached (value, prob) for those of ``hashes`` that have a row."""
        out: dict[str, tuple[bool, float | None]] = {}
        uniq = list(dict.fromkeys(hashes))
        with self._lock:
            try:
                for s in range(0, len(uniq), _CHUNK):
                    chunk = uniq[s : s + _CHUNK]
                    q = (
                        "SELECT item_hash, value, prob FROM judgments WHERE backend=? AND model=? "
                        f"AND template=? AND descriptor=? AND item_hash IN ({','.join('?' * len(chunk))})"
                    )
                    for h, v, p in self._conn.execute(q, (backend, model, template, descriptor, *chunk)):
                        out[h] = (bool(v), None if p is None else float(p))
            except sqlite3.DatabaseError as exc:
                raise CorruptFileError(f"{self.path}: the FM cache is corrupt ({exc})") from None
        return out

    def put_judgments(
        self,
        backend: str,
        model: str,
        template: str,
        descriptor: str,
        rows: Iterable[tuple[str, bool, float | None]],
    ) -> None:
        now = time.time()
        data = [
            (backend, model, template, descriptor, h, int(bool(v)),
             None if p is None or not np.isfinite(p) else float(p), now)
            for h, v, p in rows
        ]
        if not data:
            return
        self._write(
            "INSERT OR REPLACE INTO judgments(backend, model, template, descriptor, item_hash, value, prob, created) "
            "VALUES (?,?,?,?,?,?,?,?)",
            data,
            then=("DELETE FROM pending WHERE backend=? AND model=? AND template=? AND descriptor=? AND item_hash=?",
                  [r[:5] for r in data]),
        )

    def put_judgments_packed(self, requests: Sequence[tuple], created: float | None = None) -> int:
        """Bulk insert of answered batch requests (:func:`genz.fm.requests.ingest`). Each
        request ``(backend, model, template, descriptor, k, hashes, values, probs)`` packs ``k``
        judgments: ``hashes`` the ``k`` item content hashes concatenated (all of one width),
        ``values`` ``k`` characters ``0``/``1``, ``probs`` a JSON array of ``k`` P(yes) (null
        where unknown) or None. The requests go into a temporary table; one INSERT OR IGNORE
        unpacks them (a join with the numbers 0..k−1) in primary-key order, so rows already in
        the cache are kept as they are and the B-tree is appended to rather than written at
        random. All in one write transaction: a crash leaves the cache as it was before the
        call (WAL journal). Returns the number of new rows (each with the timestamp
        ``created``, default now)."""
        if not requests:
            return 0
        now = time.time() if created is None else float(created)
        with self._transaction() as c:
            c.execute("CREATE TEMP TABLE IF NOT EXISTS genz_ingest (backend TEXT, model TEXT, template TEXT, "
                      "descriptor TEXT, k INTEGER, hashes TEXT, bits TEXT, probs TEXT, created REAL)")
            c.execute("CREATE TEMP TABLE IF NOT EXISTS genz_numbers (j INTEGER PRIMARY KEY)")
            c.execute("INSERT OR IGNORE INTO temp.genz_numbers WITH RECURSIVE i(j) AS (SELECT 0 UNION ALL "
                      "SELECT j + 1 FROM i WHERE j + 1 < ?) SELECT j FROM i", (max(int(r[4]) for r in requests),))
            c.executemany("INSERT INTO temp.genz_ingest VALUES (?,?,?,?,?,?,?,?,?)", [(*r, now) for r in requests])
            new = c.execute(
                "INSERT OR IGNORE INTO judgments(backend, model, template, descriptor, item_hash, value, prob, created) "
                "SELECT backend, model, template, descriptor, substr(hashes, j * (length(hashes) / k) + 1, "
                "length(hashes) / k) AS h, CAST(substr(bits, j + 1, 1) AS INTEGER), json_extract(probs, '$[' || j || ']'), "
                "created FROM temp.genz_ingest JOIN temp.genz_numbers ON j < k "
                "ORDER BY descriptor, h"  # the key's order (backend, model, template: one per ingest, as a rule)
            ).rowcount
            c.execute("DELETE FROM temp.genz_ingest")
        return int(new)

    def delete_judgments(self, identity: Sequence[str], descriptor: str, hashes: Sequence[str], *,
                         created: float) -> int:
        """Delete the judgments of ``hashes`` written at ``created`` (one ingest's rows, never
        older ones); returns how many were deleted."""
        rows = [(*identity, descriptor, h, created) for h in hashes]
        with self._transaction() as c:
            n = 0
            for r in rows:
                n += c.execute("DELETE FROM judgments WHERE backend=? AND model=? AND template=? AND descriptor=? "
                               "AND item_hash=? AND created=?", r).rowcount
        return n

    def other_identities(self, identity: Sequence[str], descriptors: Sequence[str],
                         hashes: Sequence[str]) -> dict[tuple[str, str, str], int]:
        """For judgments of ``descriptors`` × ``hashes`` that ``identity`` lacks: how many the
        cache holds under each other (backend, model, template) (e.g. answers ingested from
        requests exported for another model)."""
        out: dict[tuple[str, str, str], int] = {}
        uniq = list(dict.fromkeys(hashes))
        with self._lock:
            try:
                for d in dict.fromkeys(descriptors):
                    have = set(self.get_judgments(*identity, d, uniq))
                    need = [h for h in uniq if h not in have]
                    for s in range(0, len(need), _CHUNK):
                        chunk = need[s: s + _CHUNK]
                        q = ("SELECT backend, model, template, count(DISTINCT item_hash) FROM judgments WHERE "
                             f"descriptor=? AND item_hash IN ({','.join('?' * len(chunk))}) "
                             "GROUP BY backend, model, template")
                        for b, m, t, n in self._conn.execute(q, (d, *chunk)):
                            if (b, m, t) != tuple(identity):
                                out[(b, m, t)] = out.get((b, m, t), 0) + int(n)
            except sqlite3.DatabaseError as exc:
                raise CorruptFileError(f"{self.path}: the FM cache is corrupt ({exc})") from None
        return out

    # -------------------------------------------------------------- judgments in progress
    def claim(self, backend: str, model: str, template: str, descriptor: str, hashes: Sequence[str],
              owner: str, limit: int | None = None) -> list[str]:
        """Claim, for ``owner``, up to ``limit`` of ``hashes`` that have no judgment yet and no
        live claim of another process; returns the claimed hashes. Processes sharing the cache
        thus never ask for the same judgment at the same time: a claim lives as long as its
        process (same host) or :data:`CLAIM_LEASE` seconds (another host)."""
        uniq = list(dict.fromkeys(hashes))
        mine: list[str] = []
        now = time.time()
        key = (backend, model, template, descriptor)
        with self._transaction() as c:
            for s in range(0, len(uniq), _CHUNK):
                chunk = uniq[s: s + _CHUNK]
                marks = ",".join("?" * len(chunk))
                done = {h for (h,) in c.execute(
                    "SELECT item_hash FROM judgments WHERE backend=? AND model=? AND template=? AND descriptor=? "
                    f"AND item_hash IN ({marks})", (*key, *chunk))}
                held = {h: (o, hst, pid, exp) for h, o, hst, pid, exp in c.execute(
                    "SELECT item_hash, owner, host, pid, expires FROM pending WHERE backend=? AND model=? AND "
                    f"template=? AND descriptor=? AND item_hash IN ({marks})", (*key, *chunk))}
                for h in chunk:
                    if h in done:
                        continue
                    if h in held and held[h][0] != owner and _claim_alive(held[h][1], held[h][2], held[h][3], now):
                        continue
                    mine.append(h)
                    if limit is not None and len(mine) >= limit:
                        break
                if limit is not None and len(mine) >= limit:
                    break
            c.executemany(
                "INSERT OR REPLACE INTO pending(backend, model, template, descriptor, item_hash, owner, host, pid, "
                "expires) VALUES (?,?,?,?,?,?,?,?,?)",
                [(*key, h, owner, _HOST, os.getpid(), now + CLAIM_LEASE) for h in mine])
        return mine

    def release(self, backend: str, model: str, template: str, descriptor: str, hashes: Sequence[str],
                owner: str) -> None:
        """Drop ``owner``'s claims on ``hashes`` (those it did not answer)."""
        rows = [(backend, model, template, descriptor, h, owner) for h in dict.fromkeys(hashes)]
        if rows:
            self._write("DELETE FROM pending WHERE backend=? AND model=? AND template=? AND descriptor=? "
                        "AND item_hash=? AND owner=?", rows)

    # -------------------------------------------------------------- calls
    def get_call(self, kind: str, backend: str, model: str, template: str, request_hash: str) -> Any | None:
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT response FROM calls WHERE kind=? AND backend=? AND model=? AND template=? "
                    "AND request_hash=?",
                    (kind, backend, model, template, request_hash),
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                raise CorruptFileError(f"{self.path}: the FM cache is corrupt ({exc})") from None
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except json.JSONDecodeError:
            raise CorruptFileError(f"{self.path}: a cached {kind} answer is not valid JSON") from None

    def put_call(self, kind: str, backend: str, model: str, template: str, request_hash: str, response: Any) -> None:
        self._write(
            "INSERT OR REPLACE INTO calls(kind, backend, model, template, request_hash, response, created) "
            "VALUES (?,?,?,?,?,?,?)",
            [(kind, backend, model, template, request_hash, json.dumps(response, ensure_ascii=False), time.time())],
            then=("DELETE FROM pending_calls WHERE kind=? AND backend=? AND model=? AND template=? AND request_hash=?",
                  [(kind, backend, model, template, request_hash)]),
        )

    def claim_call(self, kind: str, backend: str, model: str, template: str, request_hash: str, owner: str) -> str:
        """Claim a call for ``owner``: ``"answered"`` (the cache has its answer), ``"mine"``
        (claimed: make the call, then :meth:`put_call` or :meth:`release_call`) or ``"held"``
        (another live process is making it: wait for its answer). Processes sharing the cache
        thus never pay for the same mining, proposal or description call at the same time."""
        key = (kind, backend, model, template, request_hash)
        now = time.time()
        with self._transaction() as c:
            if c.execute("SELECT 1 FROM calls WHERE kind=? AND backend=? AND model=? AND template=? AND "
                         "request_hash=?", key).fetchone():
                return "answered"
            row = c.execute("SELECT owner, host, pid, expires FROM pending_calls WHERE kind=? AND backend=? AND "
                            "model=? AND template=? AND request_hash=?", key).fetchone()
            if row is not None and row[0] != owner and _claim_alive(row[1], row[2], row[3], now):
                return "held"
            c.execute("INSERT OR REPLACE INTO pending_calls(kind, backend, model, template, request_hash, owner, host, "
                      "pid, expires) VALUES (?,?,?,?,?,?,?,?,?)", (*key, owner, _HOST, os.getpid(), now + CLAIM_LEASE))
        return "mine"

    def release_call(self, kind: str, backend: str, model: str, template: str, request_hash: str, owner: str) -> None:
        """Drop ``owner``'s claim on a call it did not answer."""
        self._write("DELETE FROM pending_calls WHERE kind=? AND backend=? AND model=? AND template=? AND "
                    "request_hash=? AND owner=?", [(kind, backend, model, template, request_hash, owner)])

    # -------------------------------------------------------------- plumbing
    def _begin(self) -> None:
        c = self._conn
        for attempt in range(100):
            try:
                c.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:  # busy beyond the timeout: keep trying
                if "locked" not in str(exc) or attempt == 99:
                    raise CorruptFileError(f"{self.path}: cannot write the FM cache ({exc})") from None
                time.sleep(0.05)

    @contextlib.contextmanager
    def _transaction(self, what: str = "write"):
        """One write transaction under the lock: ``BEGIN IMMEDIATE`` (retried while another
        process holds the file), ``COMMIT``, or ``ROLLBACK`` on any exception, Ctrl-C included,
        so a transaction is never left open; a database error becomes one line."""
        with self._lock:
            c = self._conn
            self._begin()
            try:
                yield c
                c.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    c.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise CorruptFileError(f"{self.path}: cannot {what} the FM cache ({exc})") from None
                raise

    def _write(self, sql: str, rows: list[tuple], then: tuple[str, list[tuple]] | None = None) -> None:
        with self._transaction() as c:
            c.executemany(sql, rows)
            if then is not None:
                c.executemany(then[0], then[1])

    def summary(self) -> list[dict[str, Any]]:
        """What the cache holds: one row per (call type, backend, model) with the number of
        entries, distinct descriptors (judgments) and failures (``mining_error`` rows written by
        older versions, which cached failures; they are never served)."""
        out: list[dict[str, Any]] = []
        with self._lock:
            try:
                for b, m, n, d, t0, t1 in self._conn.execute(
                        "SELECT backend, model, count(*), count(DISTINCT descriptor), min(created), max(created) "
                        "FROM judgments GROUP BY backend, model ORDER BY backend, model"):
                    out.append({"kind": "judge", "backend": b, "model": m, "entries": int(n), "descriptors": int(d),
                                "failures": 0, "first": t0, "last": t1})
                for k, b, m, n, f, t0, t1 in self._conn.execute(
                        "SELECT kind, backend, model, count(*), sum(response LIKE '{\"mining_error\"%'), "
                        "min(created), max(created) FROM calls GROUP BY kind, backend, model "
                        "ORDER BY kind, backend, model"):
                    out.append({"kind": k, "backend": b, "model": m, "entries": int(n), "descriptors": None,
                                "failures": int(f or 0), "first": t0, "last": t1})
            except sqlite3.DatabaseError as exc:
                raise CorruptFileError(f"{self.path}: the FM cache is corrupt ({exc})") from None
        return out

    def drop(self, *, failures: bool = False, model: str | None = None, descriptor: str | None = None) -> dict[str, int]:
        """Delete entries: failure rows (``failures``), everything of one ``model``, or every
        judgment of one ``descriptor`` and the mining answers that produced it. Returns the
        number of rows deleted per table."""
        if not (failures or model or descriptor):
            raise GenZInputError("genz cache drop: say what to drop (--failures, --model or --descriptor)")
        done = {"judgments": 0, "calls": 0, "pending": 0}
        stmts: list[tuple[str, str, tuple]] = []
        if failures:
            stmts.append(("calls", "DELETE FROM calls WHERE response NOT LIKE '{\"answer\"%' AND "
                                   "response NOT LIKE '{\"questions\"%' AND response NOT LIKE '{\"description\"%' "
                                   "AND response NOT LIKE '{\"no_characteristic\"%'", ()))
        if model:
            stmts.append(("judgments", "DELETE FROM judgments WHERE model = ?", (model,)))
            stmts.append(("calls", "DELETE FROM calls WHERE model = ?", (model,)))
            stmts.append(("pending", "DELETE FROM pending WHERE model = ?", (model,)))
            stmts.append(("pending", "DELETE FROM pending_calls WHERE model = ?", (model,)))
        if descriptor:
            stmts.append(("judgments", "DELETE FROM judgments WHERE descriptor = ?", (descriptor,)))
            stmts.append(("calls", "DELETE FROM calls WHERE kind = 'mine' AND json_valid(response) AND "
                                   "json_extract(response, '$.answer') = ?", (descriptor,)))
            stmts.append(("calls", "DELETE FROM calls WHERE kind = 'mine_candidates' AND json_valid(response) AND "
                                   "EXISTS (SELECT 1 FROM json_each(response, '$.answer') WHERE value = ?)",
                          (descriptor,)))
        with self._transaction("change") as c:
            for table, sql, args in stmts:
                done[table] += c.execute(sql, args).rowcount
        return done

    def counts(self) -> dict[str, int]:
        """Rows per table (judgments, calls)."""
        with self._lock:
            j = self._conn.execute("SELECT count(*) FROM judgments").fetchone()[0]
            k = self._conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        return {"judgments": int(j), "calls": int(k)}

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def __repr__(self) -> str:
        return f"FMCache({str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

