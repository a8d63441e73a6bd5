"""Run directories: a fit that survives a crash, can be resumed, and can be reported on.

Layout of a run directory ``RUN/`` (see ``docs/runs-and-reports.md``)::

    RUN/
      run.json              what this directory is: format, version, status, timestamps
      config.json           the fit's configuration (secrets redacted)
      history.jsonl         one JSON line per discovery step, append-only, fsync'd
      checkpoints/
        ckpt-000012.npz     the model state's arrays after step 12
        ckpt-000012.json    its metadata; written last, so it is the commit marker
      summary.json/.npz     what the report needs of the final model (features, weights,
                            posteriors Q, judgments B, item ids and texts)
      model/                the final model (``GenZRegressor.save``)
      results.json          optional: an experiment's comparison table (see ``save_results``)
      lock                  held (``flock``) by the one process writing the run

Every file is written atomically (temporary file in the same directory, ``fsync``,
``os.replace``, ``fsync`` of the directory), except ``history.jsonl``, which only ever grows by
whole lines written with one ``write`` call and ``fsync``. A step is committed by writing its
checkpoint first (which carries the step's history record) and then appending the record to
the history, so a process killed at any moment loses at most the step in progress:
:meth:`RunDir.resume` re-appends a record whose checkpoint was written but whose history line
was not, and drops a final history line torn by the kill (the only repair ever made; a torn
line is recognised by its missing newline, and its record is in the checkpoint).

Reading is strict: garbage, a truncated line, a checkpoint whose arrays do not match their
checksum raise :class:`~genz.errors.CorruptFileError` naming the file (and line).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets as _secrets
import shutil
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError, GenZInputError
from .files import (_dumps, _finite, _fsync_dir, _json_default, _load_npz, _npz_bytes, atomic_write_bytes,
                    atomic_write_json, read_json_file, verify_model_dir, write_model_checksums)
from .fm.secrets import redact_secrets, scrub_credentials
from .signals import Terminated, _defer_sigint, defer_signals, exit_now, terminate_as_interrupt

__all__ = [
    "RunDir",
    "Checkpoint",
    "Terminated",
    "terminate_as_interrupt",
    "defer_signals",
    "exit_now",
    "verify_model_dir",
    "write_model_checksums",
    "RunSummary",
    "read_history",
    "read_json_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "redact_secrets",
    "scrub_credentials",
    "RUN_FORMAT",
    "RUN_VERSION",
]

RUN_FORMAT = "genz-run"
RUN_VERSION = 1
CKPT_FORMAT = "genz-checkpoint"
SUMMARY_FORMAT = "genz-run-summary"
RESULTS_FORMAT = "genz-results"

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.jsonl"
CKPT_DIR = "checkpoints"
MODEL_DIR = "model"
SUMMARY_JSON = "summary.json"
SUMMARY_NPZ = "summary.npz"
RESULTS_FILE = "results.json"
LOCK_FILE = "lock"

STATUSES = ("running", "interrupted", "complete", "failed")
_CKPT_RE = re.compile(r"^ckpt-(\d{6,})\.json$")
#: configuration keys that may differ between a run and its resumption
RESUMABLE_KEYS = frozenset({"cycles", "verbose", "quiet", "progress", "out", "resume", "overwrite"})
#: configuration keys holding file paths (compared resolved)
PATH_KEYS = frozenset({"items", "targets", "test_items", "cache", "prompts_dir", "data"})


# ----------------------------------------------------------------------------- low-level I/O
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    if isinstance(obj, Mapping) and (obj or not prefix):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def _resolved(path: str) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):
        return os.path.normpath(path)


# ----------------------------------------------------------------------------- history
def _parse_history(raw: bytes, path: Path, *, allow_torn_tail: bool) -> tuple[list[dict], int]:
    """Parse history bytes. Returns (records, byte offset of the end of the last whole line).
    A final chunk without newline is a torn write: an error unless ``allow_torn_tail``."""
    records: list[dict] = []
    pos = 0
    lineno = 0
    prev_step: int | None = None
    while pos < len(raw):
        lineno += 1
        nl = raw.find(b"\n", pos)
        if nl < 0:
            if allow_torn_tail:
                return records, pos
            raise CorruptFileError(
                f"{path} line {lineno}: truncated final line (the process was killed while writing it);"
                " resuming the run (genz fit ... --resume) repairs it"
            )
        line = raw[pos:nl]
        pos = nl + 1
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = getattr(exc, "msg", "not UTF-8")
            raise CorruptFileError(f"{path} line {lineno}: not a JSON history record ({msg}); the file is corrupt") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("step"), int) or isinstance(rec.get("step"), bool):
            raise CorruptFileError(f"{path} line {lineno}: not a history record (expected an object with an integer 'step')")
        if prev_step is not None and rec["step"] <= prev_step:
            raise CorruptFileError(f"{path} line {lineno}: step {rec['step']} follows step {prev_step}; the file is corrupt")
        prev_step = rec["step"]
        records.append(rec)
    return records, pos


def read_history(path: str | Path) -> list[dict]:
    """All records of a ``history.jsonl`` file, strictly: a truncated last line, a line that is
    not a JSON object with an integer ``step``, or steps out of order raise CorruptFileError
    naming the file and line. A missing file is an empty history."""
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY_FILE
    if not path.exists():
        return []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{path}: cannot read history ({exc.strerror})") from None
    return _parse_history(raw, path, allow_torn_tail=False)[0]


# ----------------------------------------------------------------------------- checkpoints
@dataclass
class Checkpoint:
    """A loaded checkpoint: the step it was taken after, the core's metadata and arrays, the
    history record of that step (when written by :meth:`RunDir.commit_step`) and how many
    history lines existed once it was committed."""

    step: int
    meta: dict
    arrays: dict[str, np.ndarray]
    record: dict | None = None
    history_lines: int | None = None
    path: Path | None = None

    def __iter__(self) -> Iterator[Any]:  # step, meta, arrays = ckpt
        return iter((self.step, self.meta, self.arrays))


def _doc_digest(doc: Mapping[str, Any]) -> str:
    """sha256 of a JSON document without its ``doc_sha256`` field (keys sorted)."""
    body = {k: v for k, v in doc.items() if k != "doc_sha256"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, allow_nan=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- summary
@dataclass
class RunSummary:
    """What the report needs to know of a finished model (written by :meth:`RunDir.save_summary`).

    ``weights[k, d]`` is feature k's effect on target dimension d (the linear model's W[d, k];
    for an MLP, the mean change of g when z_k flips from 0 to 1 at the mode). ``Q`` and ``B``
    are the training items' posteriors q_nk and the FM's judgments b_nk (N×K).
    """

    features: list[str]
    epsilon: np.ndarray  # (K,)
    weights: np.ndarray  # (K, D)
    Q: np.ndarray  # (N, K) float
    B: np.ndarray  # (N, K) bool
    item_ids: list[str]
    item_texts: list[str]
    Y: np.ndarray | None = None  # (N, D) targets of the training items
    target_names: list[str] | None = None
    extra: dict = field(default_factory=dict)

    def validate(self, where: str = "summary") -> "RunSummary":
        K = len(self.features)
        self.epsilon = np.asarray(self.epsilon, dtype=float).reshape(-1)
        self.weights = np.asarray(self.weights, dtype=float)
        if self.weights.ndim == 1:
            self.weights = self.weights[:, None]
        self.Q = np.asarray(self.Q, dtype=float)
        self.B = np.asarray(self.B).astype(bool)
        N = len(self.item_ids)
        if self.Q.ndim == 1 and K == 1:
            self.Q = self.Q[:, None]
        if self.B.ndim == 1 and K == 1:
            self.B = self.B[:, None]
        checks = [
            (self.epsilon.shape == (K,), f"epsilon has shape {self.epsilon.shape}, expected ({K},)"),
            (self.weights.ndim == 2 and self.weights.shape[0] == K, f"weights has shape {self.weights.shape}, expected ({K}, D)"),
            (self.Q.shape == (N, K), f"Q has shape {self.Q.shape}, expected ({N}, {K})"),
            (self.B.shape == (N, K), f"B has shape {self.B.shape}, expected ({N}, {K})"),
            (len(self.item_texts) == N, f"{len(self.item_texts)} item texts for {N} item ids"),
        ]
        if self.Y is not None:
            self.Y = np.asarray(self.Y, dtype=float)
            if self.Y.ndim == 1:
                self.Y = self.Y[:, None]
            checks.append((self.Y.shape[0] == N, f"Y has {self.Y.shape[0]} rows for {N} items"))
        if self.target_names is not None:
            checks.append((len(self.target_names) == self.weights.shape[1], "target_names does not match weights' D"))
        for ok, msg in checks:
            if not ok:
                raise CorruptFileError(f"{where}: {msg}")
        return self


# ----------------------------------------------------------------------------- the run directory
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_siblings(path: Path) -> None:
    """Remove ``.NAME.new-PID-*`` / ``.NAME.old-PID-*`` directories next to ``path`` left by a
    process that was killed (its pid is gone) while creating or overwriting the run; an old run
    moved aside by an ``--overwrite`` killed before the new run took its place is put back."""
    parent = path.parent
    if not parent.is_dir():
        return
    pat = re.compile(rf"^\.{re.escape(path.name)}\.(new|old)-(\d+)-[0-9a-f]+$")
    for e in sorted(parent.iterdir(), key=lambda x: ".old-" not in x.name):  # a run moved aside first
        m = pat.match(e.name)
        if m and (int(m.group(2)) == os.getpid() or not _pid_alive(int(m.group(2)))):
            if m.group(1) == "old" and not (path.is_dir() and any(path.iterdir())) and RunDir.is_run(e):
                # killed between the two renames of --overwrite: this is the only run there is
                if path.is_dir():
                    path.rmdir()
                os.rename(e, path)
                print(f"genz: {path}: restored the run an interrupted --overwrite had moved aside", file=sys.stderr)
                continue
            shutil.rmtree(e, ignore_errors=True)


class RunDir:
    """A run directory. Create one with :meth:`create`, continue one with :meth:`resume`,
    read one (e.g. for a report, no lock) with :meth:`open`, or let :meth:`for_fit` decide
    from the CLI flags. Writers hold an exclusive ``flock`` on ``RUN/lock`` until :meth:`close`.
    """

    def __init__(self, path: str | Path, *, writable: bool = False, keep_checkpoints: int = 3) -> None:
        self.path = Path(path)
        self.writable = writable
        self.keep_checkpoints = max(1, int(keep_checkpoints))
        self._lock_fd: int | None = None
        self._history_len = 0
        self.repairs: list[str] = []  # what resume() repaired, in words
        self.previous_status: str | None = None  # status found by resume()

    # -- paths
    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CKPT_DIR

    @property
    def model_dir(self) -> Path:
        return self.path / MODEL_DIR

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_FILE

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}, writable={self.writable})"

    # -- opening
    @staticmethod
    def is_run(path: str | Path) -> bool:
        """Whether ``path`` is (or claims to be) a genz run directory."""
        return (Path(path) / RUN_FILE).exists()

    @staticmethod
    def is_stub(path: str | Path) -> bool:
        """Whether ``path`` is what a run left when killed while being created or cleared by an
        older genz: no ``run.json``, and nothing but run files (lock, config, an empty history,
        an empty checkpoints directory, temporary files). Such a directory holds nothing of
        value: a new run may replace it."""
        path = Path(path)
        if not path.is_dir() or (path / RUN_FILE).exists():
            return False
        for e in path.iterdir():
            if e.name in (LOCK_FILE, CONFIG_FILE) or (e.name.startswith(".") and ".tmp-" in e.name):
                continue
            if e.name == HISTORY_FILE and e.is_file() and e.stat().st_size == 0:
                continue
            if e.name == CKPT_DIR and e.is_dir() and not any(
                    not (c.name.startswith(".") and ".tmp-" in c.name) for c in e.iterdir()):
                continue
            return False
        return True

    @classmethod
    def create(cls, path: str | Path, config: Mapping[str, Any] | None = None, *, overwrite: bool = False,
               keep_checkpoints: int = 3) -> "RunDir":
        """Start a new run in ``path``. Refuses an existing run unless ``overwrite``, and a
        non-empty directory that is not a run in any case (a stub left by a kill during creation,
        see :meth:`is_stub`, is replaced).

        Never leaves a directory that cannot be used, whenever the process is killed: the new
        run is assembled in a hidden sibling directory and renamed into place complete (its
        ``run.json`` included); ``overwrite`` first takes the old run's lock and renames it
        aside (atomic), then deletes it after the new run is in place. Leftovers of a kill
        (hidden ``.NAME.new-*`` / ``.NAME.old-*`` siblings) are removed by the next create."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise GenZInputError(f"{path}: exists and is not a directory")
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True)
        _clean_siblings(path)
        old: Path | None = None
        old_run: "RunDir | None" = None
        if path.exists() and any(path.iterdir()):
            if cls.is_stub(path):
                old = path
            elif not cls.is_run(path):
                raise GenZInputError(f"{path}: directory is not empty and is not a genz run; choose another --out")
            elif not overwrite:
                raise GenZInputError(
                    f"{path}: already holds a genz run; pass --resume to continue it or --overwrite to start over"
                )
            else:
                old_run = cls(path, writable=True)
                old_run._acquire_lock()  # nobody else is writing it
                old = path
        run = cls(path, writable=True, keep_checkpoints=keep_checkpoints)
        tmp = parent / f".{path.name}.new-{os.getpid()}-{_secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            (tmp / CKPT_DIR).mkdir()
            atomic_write_json(tmp / CONFIG_FILE, redact_secrets(dict(config or {})))
            (tmp / HISTORY_FILE).touch()
            atomic_write_json(tmp / RUN_FILE, {
                "format": RUN_FORMAT, "version": RUN_VERSION, "status": "running",
                "created": _now(), "updated": _now(),
            })
            run.path = tmp
            run._acquire_lock()  # the lock file's inode moves with the directory
            run.path = path
            aside = None
            if old is not None:
                aside = parent / f".{path.name}.old-{os.getpid()}-{_secrets.token_hex(4)}"
                os.rename(path, aside)
            elif path.exists():
                path.rmdir()  # empty
            os.rename(tmp, path)
            _fsync_dir(parent)
        except BaseException:
            run.close()
            shutil.rmtree(tmp, ignore_errors=True)
            if old_run is not None:
                old_run.close()
            raise
        if old_run is not None:
            old_run.close()
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """Open a run for reading (no lock). Validates ``run.json`` and ``config.json``."""
        path = Path(path)
        if not path.is_dir():
            raise GenZInputError(f"{path}: no such run directory")
        if not cls.is_run(path):
            raise GenZInputError(f"{path}: not a genz run directory (no {RUN_FILE})")
        run = cls(path)
        run.info()  # validate
        run.config()
        return run

    @classmethod
    def resume(cls, path: str | Path, config: Mapping[str, Any] | None = None, *,
               may_change: Collection[str] = RESUMABLE_KEYS, keep_checkpoints: int = 3) -> "RunDir":
        """Open an existing run for writing, to continue it from its latest checkpoint.

        Takes the lock, validates every file, checks that ``config`` (when given) agrees with
        the stored configuration except for keys in ``may_change``, and reconciles the
        history with the latest checkpoint (see the module docstring). Raises
        CorruptFileError, naming the file, when something is damaged beyond that repair.
        """
        run = cls.open(path)
        run.writable = True
        run.keep_checkpoints = max(1, int(keep_checkpoints))
        run._acquire_lock()
        try:
            if config is not None:
                run.check_config(config, may_change=may_change)
            run._reconcile()
            _clean_siblings(run.path)  # what a killed create/overwrite left next to it
            run.previous_status = run.status
            run.set_status("running")
        except BaseException:
            run.close()
            raise
        return run

    @classmethod
    def for_fit(cls, path: str | Path, config: Mapping[str, Any], *, resume: bool = False,
                overwrite: bool = False, keep_checkpoints: int = 3) -> tuple["RunDir", Checkpoint | None]:
        """What ``genz fit --out RUN [--resume] [--overwrite]`` does: a fresh run where there
        is none (or with ``overwrite``); otherwise continue the existing one when its
        configuration matches (``--resume`` is implied by rerunning into RUN), and refuse when it
        does not. Returns the run and the checkpoint to continue from (None: start afresh)."""
        path = Path(path)
        if resume and overwrite:
            raise GenZInputError("--resume and --overwrite exclude each other")
        if not path.exists():
            _clean_siblings(path)  # an --overwrite killed between its renames: its old run comes back
        if overwrite or not cls.is_run(path):
            if resume and not cls.is_run(path):
                if cls.is_stub(path):
                    raise GenZInputError(f"{path}: nothing to resume (the run was stopped while being created); "
                                         "run the same command without --resume to start it")
                raise GenZInputError(f"{path}: nothing to resume (not a genz run directory)")
            return cls.create(path, config, overwrite=overwrite, keep_checkpoints=keep_checkpoints), None
        if not resume:
            try:
                cls.open(path).check_config(config)
            except GenZInputError as exc:
                raise GenZInputError(f"{exc}; pass --overwrite to start a new run there") from None
        run = cls.resume(path, config, keep_checkpoints=keep_checkpoints)
        ckpt = run.load_latest_checkpoint()
        return run, ckpt

    def _acquire_lock(self) -> None:
        lock = self.path / LOCK_FILE
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                try:
                    holder = lock.read_text().strip() or "unknown"
                except OSError:
                    holder = "unknown"
                raise GenZInputError(
                    f"{self.path}: run is in use by another genz process ({holder}); wait for it or stop it"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        os.fsync(fd)
        self._lock_fd = fd

    def close(self, status: str | None = None, **extra: Any) -> None:
        """Optionally record a final ``status`` (and ``extra`` fields of ``run.json``, e.g. the
        error that ended the run), then release the lock."""
        if status is not None and self.writable and self._lock_fd is not None:
            self.set_status(status, **extra)
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.writable and self._lock_fd is not None:
            if exc_type is None:
                pass  # status left to the caller (set_status('complete') at the end of a fit)
            elif issubclass(exc_type, KeyboardInterrupt):
                self.set_status("interrupted")
            else:
                self.set_status("failed")
        self.close()

    def _require_writable(self) -> None:
        if not self.writable or self._lock_fd is None:
            raise GenZInputError(f"{self.path}: run is opened read-only")

    # -- run.json / config.json
    def info(self) -> dict:
        """The validated contents of ``run.json``."""
        p = self.path / RUN_FILE
        info = read_json_file(p, "run description")
        if not isinstance(info, dict) or info.get("format") != RUN_FORMAT:
            raise CorruptFileError(f"{p}: not a genz run description (format is not {RUN_FORMAT!r})")
        if not isinstance(info.get("version"), int) or info["version"] > RUN_VERSION:
            raise CorruptFileError(f"{p}: run format version {info.get('version')!r} is not supported by this genz")
        if info.get("status") not in STATUSES:
            raise CorruptFileError(f"{p}: unknown status {info.get('status')!r}")
        return info

    @property
    def status(self) -> str:
        return self.info()["status"]

    def set_status(self, status: str, **extra: Any) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        self._require_writable()
        info = self.info()
        info.pop("error", None)  # of an earlier attempt
        info.update(redact_secrets(dict(extra)))
        info["status"] = status
        info["updated"] = _now()
        atomic_write_json(self.path / RUN_FILE, info)

    def config(self) -> dict:
        cfg = read_json_file(self.config_path, "configuration")
        if not isinstance(cfg, dict):
            raise CorruptFileError(f"{self.config_path}: configuration is not a JSON object")
        return cfg

    def check_config(self, config: Mapping[str, Any], *, may_change: Collection[str] = RESUMABLE_KEYS) -> None:
        """Raise GenZInputError listing exactly the settings where ``config`` differs in meaning
        from the stored one: nested keys are compared one by one (``estimator.cycles``), a key
        in ``may_change`` (by its last component or its dotted name) may differ, and file paths
        (:data:`PATH_KEYS`) are compared resolved (``./data/x.jsonl`` is ``data/x.jsonl``)."""
        stored = _flatten(self.config())
        new = _flatten(json.loads(_dumps(redact_secrets(dict(config)), strict=True)))
        diff = []
        for k in sorted(set(stored) | set(new)):
            if k in may_change or k.rsplit(".", 1)[-1] in may_change:
                continue
            a, b = stored.get(k), new.get(k)
            if k.rsplit(".", 1)[-1] in PATH_KEYS and isinstance(a, str) and isinstance(b, str):
                a, b = _resolved(a), _resolved(b)
            if a != b:
                diff.append((k, stored.get(k), new.get(k)))
        if diff:
            shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in diff[:8])
            more = f" (and {len(diff) - 8} more)" if len(diff) > 8 else ""
            raise GenZInputError(
                f"{self.path}: the configuration differs from the run's: {shown}{more}; a run can only be resumed "
                "with the configuration it was started with"
            )

    # -- history
    def history(self) -> list[dict]:
        """The history records (strict; see :func:`read_history`)."""
        return read_history(self.history_path)

    def append_history(self, record: Mapping[str, Any]) -> None:
        """Append one record as one JSON line (non-finite floats become null), fsync'd."""
        self._require_writable()
        rec = dict(record)
        if not isinstance(rec.get("step"), int):
            raise ValueError("a history record needs an integer 'step'")
        line = (_dumps(rec, strict=True).replace("\n", " ") + "\n").encode("utf-8")
        fd = os.open(self.history_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._history_len += 1

    # -- checkpoints
    def _ckpt_paths(self, step: int) -> tuple[Path, Path]:
        stem = f"ckpt-{int(step):06d}"
        return self.checkpoint_dir / f"{stem}.json", self.checkpoint_dir / f"{stem}.npz"

    def checkpoint_steps(self) -> list[int]:
        """Steps with a committed checkpoint (a ``.json``), ascending."""
        if not self.checkpoint_dir.is_dir():
            return []
        steps = []
        for p in self.checkpoint_dir.iterdir():
            m = _CKPT_RE.match(p.name)
            if m:
                steps.append(int(m.group(1)))
        return sorted(steps)

    def save_checkpoint(self, step: int, meta: Mapping[str, Any], arrays: Mapping[str, Any], *,
                        record: Mapping[str, Any] | None = None) -> Path:
        """Write checkpoint ``step`` atomically: the arrays (``.npz``) first, then the metadata
        (``.json``, with the arrays' checksum), which commits it. Keeps the last
        ``keep_checkpoints`` checkpoints. ``meta`` keeps non-finite floats exactly."""
        self._require_writable()
        step = int(step)
        jpath, npath = self._ckpt_paths(step)
        data, listing = _npz_bytes(arrays, f"checkpoint {step}")
        history_lines = self._history_len + (1 if record is not None else 0)
        doc = {
            "format": CKPT_FORMAT, "version": 1, "step": step, "written": _now(),
            "npz": npath.name, "npz_sha256": hashlib.sha256(data).hexdigest(), "arrays": listing,
            "history_lines": history_lines,
            "record": _finite(dict(record)) if record is not None else None,
            "meta": dict(meta),
        }
        text = json.dumps(doc, default=_json_default, ensure_ascii=False, allow_nan=True)
        doc = json.loads(text)
        doc["doc_sha256"] = _doc_digest(doc)  # the whole checkpoint is checksummed, not only its arrays
        text = json.dumps(doc, ensure_ascii=False, allow_nan=True)
        with _defer_sigint():
            atomic_write_bytes(npath, data)
            atomic_write_bytes(jpath, (text + "\n").encode("utf-8"))
            self._prune_checkpoints()
        return jpath

    def commit_step(self, record: Mapping[str, Any], meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
        """Commit one discovery step: its checkpoint (carrying ``record``), then its history
        line. Ctrl-C is held until both are written."""
        with _defer_sigint():
            self.save_checkpoint(int(record["step"]), meta, arrays, record=record)
            self.append_history(record)

    def _prune_checkpoints(self) -> None:
        steps = self.checkpoint_steps()
        for s in steps[: max(0, len(steps) - self.keep_checkpoints)]:
            jpath, npath = self._ckpt_paths(s)
            with contextlib.suppress(FileNotFoundError):
                jpath.unlink()  # uncommit first
            with contextlib.suppress(FileNotFoundError):
                npath.unlink()
        # leftovers of interrupted writes: temp files and arrays whose .json never came
        committed = {f"ckpt-{s:06d}.npz" for s in self.checkpoint_steps()}
        for p in self.checkpoint_dir.iterdir():
            if p.name.startswith(".") and ".tmp-" in p.name:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            elif p.suffix == ".npz" and p.name not in committed:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def load_checkpoint(self, step: int) -> Checkpoint:
        """Load and validate checkpoint ``step`` (CorruptFileError naming the file if damaged)."""
        jpath, npath = self._ckpt_paths(step)
        doc = read_json_file(jpath, "checkpoint")
        if not isinstance(doc, dict) or doc.get("format") != CKPT_FORMAT:
            raise CorruptFileError(f"{jpath}: not a genz checkpoint")
        if doc.get("step") != step or not isinstance(doc.get("meta"), dict) or not isinstance(doc.get("arrays"), dict):
            raise CorruptFileError(f"{jpath}: checkpoint fields are missing or inconsistent (corrupt)")
        if "doc_sha256" in doc and doc["doc_sha256"] != _doc_digest(doc):
            raise CorruptFileError(f"{jpath}: does not match its checksum (edited or corrupt checkpoint)")
        arrays = _load_npz(npath, doc.get("npz_sha256"), doc["arrays"], f"checkpoint {step}")
        rec = doc.get("record")
        if rec is not None and (not isinstance(rec, dict) or rec.get("step") != step):
            raise CorruptFileError(f"{jpath}: its history record is not for step {step} (corrupt)")
        return Checkpoint(step=step, meta=doc["meta"], arrays=arrays, record=rec,
                          history_lines=doc.get("history_lines"), path=jpath)

    def load_latest_checkpoint(self) -> Checkpoint | None:
        """The latest committed checkpoint, or None when there is none. A damaged latest
        checkpoint raises CorruptFileError (never a silent fall-back to an older one)."""
        steps = self.checkpoint_steps()
        if not steps:
            return None
        try:
            return self.load_checkpoint(steps[-1])
        except CorruptFileError as exc:
            if len(steps) > 1:
                jpath, _ = self._ckpt_paths(steps[-1])
                raise CorruptFileError(
                    f"{exc}. Checkpoint {steps[-2]} is older; delete {jpath.name} to resume from it"
                ) from None
            raise

    def _clean_leftovers(self) -> None:
        """Remove temporary files and directories a killed writer left in the run directory."""
        for d in (self.path, self.checkpoint_dir):
            if not d.is_dir():
                continue
            for e in d.iterdir():
                if e.name.startswith(".") and (".tmp-" in e.name or e.name.startswith(".model.old-")):
                    if e.is_dir() and not e.is_symlink():
                        shutil.rmtree(e, ignore_errors=True)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            e.unlink()

    def _reconcile(self) -> None:
        """Bring history.jsonl in line with the latest checkpoint after a crash (resume only)."""
        path = self.history_path
        if not path.exists():
            raise CorruptFileError(f"{path}: missing (the run's history was deleted); "
                                   "it cannot be resumed: start over with --overwrite")
        raw = path.read_bytes()
        records, good_end = _parse_history(raw, path, allow_torn_tail=True)
        if records and not self.checkpoint_steps():
            where = self.checkpoint_dir
            raise CorruptFileError(
                f"{where}: {'missing' if not where.is_dir() else 'holds no checkpoint'}, but the history has "
                f"{len(records)} steps; the run cannot be resumed or rerun without refitting: "
                "start over with --overwrite"
            )
        ckpt = self.load_latest_checkpoint()
        expected = 0 if ckpt is None else ckpt.history_lines
        # decide everything first; change the file only when the whole repair is certain
        action, keep = "none", len(records)
        if expected is not None:
            if len(records) > expected:
                action, keep = "drop", expected
            elif len(records) == expected - 1 and ckpt is not None and ckpt.record is not None:
                if records and records[-1]["step"] >= ckpt.step:
                    raise CorruptFileError(
                        f"{path}: last record's step {records[-1]['step']} is not before checkpoint {ckpt.step}")
                action = "append"
            elif len(records) < expected:
                raise CorruptFileError(
                    f"{path}: holds {len(records)} records but checkpoint {ckpt.step if ckpt else '?'} expects "
                    f"{expected} (the history lost lines); nothing was changed. Restore it, or start over with --overwrite"
                )
            if ckpt is not None and ckpt.record is not None and keep and action != "append" \
                    and records[keep - 1]["step"] != ckpt.step:
                raise CorruptFileError(
                    f"{path}: record {keep} is step {records[keep - 1]['step']}, but the checkpoint is step {ckpt.step};"
                    " nothing was changed")
        self._clean_leftovers()
        if good_end < len(raw):
            with open(path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
            self.repairs.append(f"{path.name}: dropped a torn final line ({len(raw) - good_end} bytes) left by a crash")
        self._history_len = len(records)
        if action == "drop":
            # steps recorded after the last checkpoint: they will be redone from the checkpoint
            text = "".join(_dumps(r, strict=True) + "\n" for r in records[:keep])
            atomic_write_bytes(path, text.encode("utf-8"))
            self.repairs.append(
                f"{path.name}: dropped {len(records) - keep} record(s) after the last checkpoint (they are redone)"
            )
            self._history_len = keep
        elif action == "append":
            self.append_history(ckpt.record)
            self.repairs.append(f"{path.name}: re-appended step {ckpt.step}'s record from its checkpoint")

    # -- final model, summary, experiment results
    def save_model(self, writer: Callable[[Path], Any]) -> Path:
        """Write the final model with ``writer(tmp_dir)`` (e.g. ``est.save``) into a temporary
        directory, then move it to ``RUN/model`` (replacing an older one)."""
        self._require_writable()
        tmp = self.path / f".model.tmp-{os.getpid()}-{_secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            writer(tmp)
            write_model_checksums(tmp)
            for p in tmp.rglob("*"):
                if p.is_file():
                    with open(p, "rb") as f:
                        os.fsync(f.fileno())
            _fsync_dir(tmp)
            old = None
            if self.model_dir.exists():
                old = self.path / f".model.old-{os.getpid()}-{_secrets.token_hex(4)}"
                os.replace(self.model_dir, old)
            os.replace(tmp, self.model_dir)
            _fsync_dir(self.path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.model_dir

    def save_summary(self, summary: RunSummary) -> None:
        """Write what the report needs of the final model (``summary.npz`` then ``summary.json``)."""
        self._require_writable()
        summary.validate()
        arrays = {"epsilon": summary.epsilon, "weights": summary.weights, "Q": summary.Q, "B": summary.B}
        if summary.Y is not None:
            arrays["Y"] = summary.Y
        data, listing = _npz_bytes(arrays, "summary")
        doc = {
            "format": SUMMARY_FORMAT, "version": 1, "written": _now(),
            "npz_sha256": hashlib.sha256(data).hexdigest(), "arrays": listing,
            "features": list(summary.features), "item_ids": [str(i) for i in summary.item_ids],
            "item_texts": [str(t) for t in summary.item_texts], "target_names": summary.target_names,
            "extra": _finite(summary.extra),
        }
        atomic_write_bytes(self.path / SUMMARY_NPZ, data)
        atomic_write_json(self.path / SUMMARY_JSON, doc)

    def load_summary(self) -> RunSummary | None:
        """The final-model summary, or None if the run has not written one."""
        jpath = self.path / SUMMARY_JSON
        if not jpath.exists():
            return None
        doc = read_json_file(jpath, "run summary")
        if not isinstance(doc, dict) or doc.get("format") != SUMMARY_FORMAT:
            raise CorruptFileError(f"{jpath}: not a genz run summary")
        arrays = _load_npz(self.path / SUMMARY_NPZ, doc.get("npz_sha256"), doc.get("arrays"), "summary")
        try:
            s = RunSummary(
                features=list(doc["features"]), epsilon=arrays["epsilon"], weights=arrays["weights"],
                Q=arrays["Q"], B=arrays["B"], item_ids=list(doc["item_ids"]), item_texts=list(doc["item_texts"]),
                Y=arrays.get("Y"), target_names=doc.get("target_names"), extra=doc.get("extra") or {},
            )
        except (KeyError, TypeError):
            raise CorruptFileError(f"{jpath}: run summary fields are missing (corrupt)") from None
        return s.validate(str(jpath))

    def save_results(self, results: Mapping[str, Any]) -> None:
        """Write an experiment's comparison table (format in :func:`validate_results`)."""
        self._require_writable()
        atomic_write_json(self.results_path, validate_results(dict(results), str(self.results_path)))

    def load_results(self) -> dict | None:
        if not self.results_path.exists():
            return None
        return validate_results(read_json_file(self.results_path, "experiment results"), str(self.results_path))


def validate_results(doc: Any, where: str = "results") -> dict:
    """Check an experiment results document::

        {"format": "genz-results", "version": 1, "experiment": "houses",
         "metric": "median_ae", "higher_is_better": false,
         "rows": [{"method": "genz-linear", "mean": 0.21, "std": 0.01, "n": 5,
                   "n_features": 30, "fm_calls": 1234, "seconds": 81.2, "note": "..."}, ...]}

    ``method`` and ``mean`` are required in each row; ``std``, ``n`` (number of seeds/splits),
    ``n_features``, ``fm_calls``, ``cost_usd``, ``seconds``, ``note`` and ``kind``
    (``"genz"``, ``"peer"`` or ``"zero-shot"``) are optional.
    """
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise CorruptFileError(f"{where}: not a genz results file (format is not {RESULTS_FORMAT!r})")
    if not isinstance(doc.get("metric"), str) or not isinstance(doc.get("rows"), list):
        raise CorruptFileError(f"{where}: results need a 'metric' name and a list of 'rows'")
    for i, row in enumerate(doc["rows"]):
        if not isinstance(row, dict) or not isinstance(row.get("method"), str):
            raise CorruptFileError(f"{where}: row {i} has no 'method'")
        if not isinstance(row.get("mean"), (int, float)) or isinstance(row.get("mean"), bool):
            raise CorruptFileError(f"{where}: row {i} ({row['method']}) has no numeric 'mean'")
    doc.setdefault("version", 1)
    doc.setdefault("higher_is_better", doc["metric"] in ("r2", "cosine", "accuracy", "auc"))
    return doc
