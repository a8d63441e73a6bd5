"""A persistent SQLite cache of foundation-model answers, around any foundation model.

One row per judgment, keyed by (backend, model, prompt-template key, descriptor, item content
hash), and one row per mining / proposal / image-description call, keyed by a hash of the
request. A rerun, a resumed run, or the same items in another batch composition therefore
costs no repeated call. The file is safe for concurrent writers (threads and processes): WAL
journal, a busy timeout, short write transactions.

A ``meta`` table records the schema id; a file that is not SQLite, is corrupt, or is some other
program's SQLite database raises :class:`~genz.errors.CorruptFileError` naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, GenZInputError, MiningError
from ..items import Item
from .base import FMStats, FoundationModel, Judgments, accepts_keyword

__all__ = ["FMCache", "CachedFM", "SCHEMA_ID", "cache_identity"]

SCHEMA_ID = "genz-fm-cache/1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
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
CREATE TABLE IF NOT EXISTS calls (
    kind TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, template TEXT NOT NULL,
    request_hash TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (kind, backend, model, template, request_hash)
) WITHOUT ROWID;
"""


_PENDING_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS pending"):_SCHEMA.index("CREATE TABLE IF NOT EXISTS calls")].strip().rstrip(";")
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


def cache_identity(fm: Any, kind: str) -> tuple[str, str, str]:
    """(backend, model, template key) under which ``fm``'s answers of call type ``kind`` are
    cached: the backend's own ``cache_identity(kind)`` where it has one, else its ``name``."""
    f = getattr(fm, "cache_identity", None)
    if callable(f):
        b, m, t = f(kind)
        return str(b), str(m), str(t)
    return (str(getattr(fm, "name", type(fm).__name__)), "", "")


def _hash_json(obj: Any) -> str:
    s = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:32]


class FMCache:
    """The SQLite file. Thread-safe (one connection, a lock); process-safe (WAL + busy timeout)."""

    def __init__(self, path: str | Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise GenZInputError(f"{self.path}: the FM cache path is a directory, expected a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_magic()
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._init_schema()  # refuses a foreign database before anything is changed in it
            self._set_wal()
        except CorruptFileError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise CorruptFileError(f"{self.path}: the FM cache is corrupt or unreadable ({exc})") from None

    def _close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _check_magic(self) -> None:
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                head = fh.read(16)
            if head != _SQLITE_MAGIC:
                raise CorruptFileError(
                    f"{self.path}: not a genz FM cache (not an SQLite database); "
                    "remove it or choose another --cache path"
                )

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
                # judgments in progress (added in a later version of the same schema)
                c.execute(_PENDING_TABLE)
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

    def put_judgments_packed(self, requests: Sequence[tuple]) -> int:
        """Bulk insert of answered batch requests (:func:`genz.fm.requests.ingest`). Each
        request ``(backend, model, template, descriptor, k, hashes, values, probs)`` packs ``k``
        judgments: ``hashes`` the ``k`` item content hashes concatenated (all of one width),
        ``values`` ``k`` characters ``0``/``1``, ``probs`` a JSON array of ``k`` P(yes) (null
        where unknown) or None. The requests go into a temporary table; one INSERT OR IGNORE
        unpacks them (a join with the numbers 0..k−1) in primary-key order, so rows already in
        the cache are kept as they are and the B-tree is appended to rather than written at
        random. All in one write transaction: a crash leaves the cache as it was before the
        call (WAL journal). Returns the number of new rows."""
        if not requests:
            return 0
        now = time.time()
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
        )

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


class CachedFM:
    """Wrap any :class:`~genz.fm.base.FoundationModel` with an :class:`FMCache`.

    ``stats`` is the inner model's own counter object: its ``calls`` count only what reached the
    inner model, and ``cache_hits`` counts judgments (per item) and mining/proposal answers
    served from the cache.
    """

    def __init__(self, inner: FoundationModel, cache: FMCache | str | Path) -> None:
        self.inner = inner
        self.cache = cache if isinstance(cache, FMCache) else FMCache(cache)
        self.name = inner.name
        self.max_exemplars = inner.max_exemplars

    @property
    def stats(self) -> FMStats:
        return self.inner.stats

    @stats.setter
    def stats(self, value: FMStats) -> None:
        self.inner.stats = value

    def __getattr__(self, attr: str) -> Any:  # batch_size, model, describe_images, ...
        if attr in ("inner", "cache"):
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def __repr__(self) -> str:
        return f"CachedFM({self.inner!r}, cache={str(self.cache.path)!r})"

    def cache_identity(self, kind: str) -> tuple[str, str, str]:
        return cache_identity(self.inner, kind)

    # -------------------------------------------------------------- judge
    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """Cached judgments; only items whose content was never judged for ``descriptor`` by this
        backend/model/template reach the inner model (each distinct content once)."""
        n = len(items)
        backend, model, template = cache_identity(self.inner, "judge")
        try:
            hashes = [it.content_hash() for it in items]
        except UnicodeEncodeError:
            from .prompts import check_encodable

            check_encodable(items)  # names the item
            raise
        known = self.cache.get_judgments(backend, model, template, descriptor, hashes)
        # one representative item per unseen content hash
        todo: dict[str, Item] = {}
        for h, it in zip(hashes, items):
            if h not in known and h not in todo:
                todo[h] = it
        hits = sum(1 for h in hashes if h in known)
        if hits:
            self.stats.add_cache_hits(hits)
        if todo:
            stream = getattr(self.inner, "judge_batches", None)
            if callable(stream):
                self._judge_shared(descriptor, todo, known, (backend, model, template), stream)
            else:  # an instant backend (the offline engine): no coordination needed
                todo_hashes = list(todo)
                todo_items = [todo[h] for h in todo_hashes]
                j = self.inner.judge(descriptor, todo_items)
                if len(j) != len(todo_items):
                    raise GenZInputError(
                        f"{self.inner.name}: judge returned {len(j)} answers for {len(todo_items)} items"
                    )
                self._store(descriptor, (backend, model, template), todo_hashes, known)(
                    list(range(len(todo_items))), j.values, j.prob)
        values = np.array([known[h][0] for h in hashes], dtype=bool)
        probs = [known[h][1] for h in hashes]
        prob = np.array(probs, dtype=float) if n and all(p is not None for p in probs) else None
        return Judgments(values=values, prob=prob)

    def _store(self, descriptor: str, ident: tuple[str, str, str], hashes: list[str],
               known: dict[str, tuple[bool, float | None]]):
        """A judge_batches callback storing answers for ``hashes[pos]`` (thread-safe)."""
        def store(pos: list[int], v: np.ndarray, p: np.ndarray | None) -> None:
            rows = []
            for j, i in enumerate(pos):
                pi = None if p is None or not np.isfinite(p[j]) else float(p[j])
                rows.append((hashes[i], bool(v[j]), pi))
            self.cache.put_judgments(*ident, descriptor, rows)
            for h, v_, p_ in rows:
                known[h] = (v_, p_)
        return store

    def _judge_shared(self, descriptor: str, todo: dict[str, Item], known: dict[str, tuple[bool, float | None]],
                      ident: tuple[str, str, str], stream: Any) -> None:
        """Judge ``todo`` with a streaming backend, coordinated with other processes that share
        the cache: claim a chunk of unanswered, unclaimed items, judge it (each answer stored as
        it returns), repeat; items claimed by another live process are waited for and read
        from the cache. No judgment is asked for twice at the same time."""
        owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        chunk = max(50, 2 * int(getattr(self.inner, "batch_size", 10)) * int(getattr(self.inner, "concurrency", 4)))
        remaining = list(todo)
        claimed: list[str] = []
        waited = 0
        try:
            while remaining:
                mine = self.cache.claim(*ident, descriptor, remaining, owner, limit=chunk)
                claimed = mine
                if mine:
                    stream(descriptor, [todo[h] for h in mine], self._store(descriptor, ident, mine, known))
                    self.stats.add_judgments(len(mine))
                    claimed = []
                rest = [h for h in remaining if h not in known]
                if rest and not mine:  # all held by other processes: read what they have answered
                    got = self.cache.get_judgments(*ident, descriptor, rest)
                    if got:
                        known.update(got)
                        self.stats.add_cache_hits(len(got))
                    else:
                        time.sleep(min(0.05 * 2 ** min(waited, 3), 0.4))
                        waited += 1
                    rest = [h for h in rest if h not in known]
                remaining = rest
        finally:
            left = [h for h in claimed if h not in known]
            if left:
                self.cache.release(*ident, descriptor, left, owner)

    # -------------------------------------------------------------- mine / propose
    def _mine_key(self, positives, negatives, exclude, context, weights, n=None) -> str:
        from .prompts import check_encodable

        check_encodable(list(positives) + list(negatives))
        req: dict[str, Any] = {
            "pos": [it.content_hash() for it in positives],
            "neg": [it.content_hash() for it in negatives],
            "exclude": sorted(set(exclude)),
            "context": context,
        }
        if weights is not None:
            req["weights"] = [[round(float(w), 6) for w in ws] for ws in weights]
        if n is not None:
            req["n"] = int(n)
        return _hash_json(req)

    def _cached_mine(self, kind: str, key: str, call: Any) -> Any:
        backend, model, template = cache_identity(self.inner, "mine")
        hit = self.cache.get_call(kind, backend, model, template, key)
        if hit is not None and "no_characteristic" in hit:
            # the model answered "nothing separates these groups" before: same answer, no call
            self.stats.add_cache_hits(1)
            raise MiningError(str(hit["no_characteristic"]))
        if hit is not None and "answer" in hit:
            self.stats.add_cache_hits(1)
            return hit["answer"]
        # anything else (e.g. a "mining_error" row of an older genz, which cached failures) is
        # not an answer: ask again

        def store(answer: Any) -> None:
            resp: dict[str, Any] = {"answer": answer}
            conf = getattr(self.inner, "last_confidence", None)
            if isinstance(conf, (int, float)):
                resp["confidence"] = conf
            self.cache.put_call(kind, backend, model, template, key, resp)

        try:
            return self._keeping_answer(call, store)
        except MiningError as exc:
            # "nothing separates" is an answer (the offline engine's is deterministic); a backend
            # marks a failure (no usable answer) with cacheable=False, and it is never stored
            if getattr(exc, "cacheable", True):
                self.cache.put_call(kind, backend, model, template, key, {"no_characteristic": str(exc)})
            raise

    def _keeping_answer(self, call: Any, store: Any) -> Any:
        """``store(call())`` and its result, with ``call`` in a worker thread: on Ctrl-C/SIGTERM
        (KeyboardInterrupt here), the backend sends nothing new (``cancellable``), the request
        in flight gets ``interrupt_grace`` seconds, and its answer is still stored before the
        interrupt goes on. A mining or proposal answer in flight is thus not lost either."""
        box: dict[str, Any] = {}
        cancel, done = threading.Event(), threading.Event()
        cancellable = getattr(self.inner, "cancellable", None)

        def work() -> None:
            try:
                with (cancellable(cancel) if callable(cancellable) else contextlib.nullcontext()):
                    box["value"] = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="genz-fm-call", daemon=True).start()
        try:
            while not done.wait(0.05):  # (not Thread.join: a join interrupted by Ctrl-C forgets the thread)
                pass
        except BaseException:
            cancel.set()
            done.wait(float(getattr(self.inner, "interrupt_grace", 1.0)))
            if "value" in box:
                store(box["value"])
            raise
        if "error" in box:
            raise box["error"]
        store(box["value"])
        return box["value"]

    def mine(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> str:
        """Cached mining; ``weights`` reach the inner model only where its ``mine`` takes them."""
        kw: dict[str, Any] = {"exclude": exclude, "context": context}
        if weights is not None and accepts_keyword(self.inner.mine, "weights"):
            kw["weights"] = weights
        else:
            weights = None
        key = self._mine_key(positives, negatives, exclude, context, weights)
        return str(self._cached_mine("mine", key, lambda: self.inner.mine(positives, negatives, **kw)))

    def mine_candidates(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        n: int = 5,
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
        weights: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> list[str]:
        """Cached ``mine_candidates`` of the inner model; one :meth:`mine` answer for a model
        that offers a single characteristic."""
        inner_fn = getattr(self.inner, "mine_candidates", None)
        if not callable(inner_fn):
            return [self.mine(positives, negatives, exclude=exclude, context=context, weights=weights)]
        kw: dict[str, Any] = {"exclude": exclude, "context": context}
        if weights is not None and accepts_keyword(inner_fn, "weights"):
            kw["weights"] = weights
        else:
            weights = None
        key = self._mine_key(positives, negatives, exclude, context, weights, n=n)
        return [str(c) for c in self._cached_mine(
            "mine_candidates", key, lambda: list(inner_fn(positives, negatives, n, **kw)))]

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        backend, model, template = cache_identity(self.inner, "propose")
        key = _hash_json({"task": task, "items": [it.content_hash() for it in sample_items], "n": n})
        hit = self.cache.get_call("propose", backend, model, template, key)
        if hit is not None and isinstance(hit.get("questions"), list):
            self.stats.add_cache_hits(1)
            return [str(q) for q in hit["questions"]]
        qs = self._keeping_answer(lambda: list(self.inner.propose(task, sample_items, n)),
                                  lambda q: self.cache.put_call("propose", backend, model, template, key,
                                                                {"questions": list(q)}))
        return list(qs)

    def describe_images(self, item: Item) -> str:
        """Cached image description, keyed by the item's text and the images' bytes."""
        backend, model, template = cache_identity(self.inner, "describe")
        digests = []
        for p in item.images:
            try:
                digests.append(hashlib.sha256(Path(p).read_bytes()).hexdigest()[:32])
            except OSError:
                raise GenZInputError(f"item {item.id!r}: image {p} cannot be read") from None
        key = _hash_json({"item": item.render(), "images": digests})
        hit = self.cache.get_call("describe", backend, model, template, key)
        if hit is not None and isinstance(hit.get("description"), str):
            self.stats.add_cache_hits(1)
            return hit["description"]
        d = self.inner.describe_images(item)  # type: ignore[attr-defined]
        self.cache.put_call("describe", backend, model, template, key, {"description": d})
        return d
