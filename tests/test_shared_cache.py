"""Issue 22, item 8: caches shared by processes and cache files in odd states. Processes sharing a
cache ask each mining prompt once (as they already did each judgment); a 0-byte cache file
beside its WAL and a WAL of another database are refused before SQLite can discard or overwrite
a single row; a WAL left by a crash is still read."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import genz
from genz.errors import CorruptFileError
from genz.fm.cache import FMCache
from tests.fake_openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]


def _rows(n: int, tag: str = "h") -> list[tuple[str, bool, None]]:
    return [(f"{tag}{i:05d}", bool(i % 2), None) for i in range(n)]


def _crash_copy(src: FMCache, dst: Path) -> None:
    """``dst`` as a crash would leave ``src``: its main file and its WAL (not checkpointed)."""
    shutil.copyfile(src.path, dst)
    shutil.copyfile(str(src.path) + "-wal", str(dst) + "-wal")


def _judgments(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        return c.execute("SELECT count(*) FROM judgments").fetchone()[0]


@pytest.mark.slow
def test_three_processes_sharing_a_cache_ask_each_mining_prompt_once(tmp_path):
    """genz < 0.9 coordinated judgments across processes, not mining: 3 processes, 3 calls."""
    srv = FakeOpenAIServer()
    srv.delay = 0.6  # the calls overlap
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(genz.__file__).parents[1]), str(ROOT)])}
        env.pop("OPENAI_BASE_URL", None)
        start = time.time() + 5
        ps = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "_judge_entry.py"), srv.url,
                                str(tmp_path / "c.sqlite"), "12", "--mine", "--start-at", str(start)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(3)]
        outs = [p.communicate(timeout=120)[0] for p in ps]
        assert all(p.returncode == 0 for p in ps), outs
        mining = [r for r in srv.requests if "<positive_group>" in srv.user_text(r)]
        assert len(mining) == 1
    finally:
        srv.close()


def test_a_zero_byte_cache_beside_its_wal_is_refused_and_the_wal_kept(tmp_path):
    """genz < 0.9 treated a 0-byte cache file as new: SQLite discarded the WAL beside it, and
    every answer in it was paid for again."""
    live = FMCache(tmp_path / "live.sqlite")
    live.put_judgments("b", "m", "t", "d", _rows(300))
    path = tmp_path / "fm.sqlite"
    _crash_copy(live, path)
    path.write_bytes(b"")
    wal_size = Path(str(path) + "-wal").stat().st_size
    assert wal_size > 0
    with pytest.raises(CorruptFileError, match=r"fm\.sqlite is empty \(0 bytes\) but fm\.sqlite-wal .* holds"):
        FMCache(path)
    assert Path(str(path) + "-wal").stat().st_size == wal_size  # untouched
    live.close()


def test_an_empty_file_alone_starts_a_new_cache_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="genz.fm")
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    FMCache(path).put_judgments("b", "m", "t", "d", _rows(2))
    assert "empty file (0 bytes): starting a new FM cache" in caplog.text
    assert _judgments(path) == 2


@pytest.mark.parametrize("foreign", ["genz", "other"])
def test_a_wal_of_another_database_is_refused_and_the_rows_stay(tmp_path, foreign):
    """genz < 0.9 let SQLite replay a stray -wal of another database into the cache: all its
    rows were replaced by the other database's pages."""
    path = tmp_path / "fm.sqlite"
    c = FMCache(path)
    c.put_judgments("b", "m", "t", "d", _rows(2706))
    c.close()  # checkpointed: the rows are in fm.sqlite, no WAL
    assert not Path(str(path) + "-wal").exists()
    if foreign == "genz":
        other = FMCache(tmp_path / "other.sqlite")
        other.put_judgments("b", "m", "t", "d", _rows(50, "x"))
        wal = str(other.path) + "-wal"
    else:
        con = sqlite3.connect(tmp_path / "other.db", isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t (x)")
        con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
        wal = str(tmp_path / "other.db") + "-wal"
    shutil.copyfile(wal, str(path) + "-wal")
    with pytest.raises((CorruptFileError, sqlite3.DatabaseError)) as ei:
        FMCache(path).counts()
    if os.path.exists(str(path) + "-wal"):
        os.remove(str(path) + "-wal")
    try:
        assert _judgments(path) == 2706  # the rows are still there
    except sqlite3.DatabaseError as exc:  # (genz < 0.9: overwritten by the other database's pages)
        raise AssertionError(f"the cache was destroyed: {exc}") from None
    assert "fm.sqlite-wal does not belong to the FM cache fm.sqlite" in str(ei.value)


def test_a_wal_left_by_a_crash_is_read(tmp_path):
    live = FMCache(tmp_path / "live.sqlite")
    live.put_judgments("b", "m", "t", "d", _rows(500))
    path = tmp_path / "fm.sqlite"
    _crash_copy(live, path)
    live.close()
    assert Path(str(path) + "-wal").stat().st_size > 0
    c = FMCache(path)
    assert c.counts()["judgments"] == 500
    assert len(c.get_judgments("b", "m", "t", "d", [f"h{i:05d}" for i in range(500)])) == 500
