"""Files genz writes so that a crash never leaves half of one: atomic writes (a temporary file
in the same directory, ``fsync``, ``os.replace``, ``fsync`` of the directory), strict JSON
reading that names the file on garbage or truncation, checksummed ``.npz`` arrays, and the
checksums of a saved model directory. Used by run directories (:mod:`genz.runs`), saved models
(:meth:`genz.GenZRegressor.save`), reports and the command line."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import secrets as _secrets
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError

__all__ = ["atomic_write_bytes", "atomic_write_json", "read_json_file", "write_model_checksums", "verify_model_dir",
           "MODEL_CHECKSUMS"]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _tmp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{_secrets.token_hex(4)}"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename,
    fsync of the directory. A reader sees the old file or the new one, never a mix."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _finite(obj: Any) -> Any:
    """Replace NaN/±inf by None so that the JSON is standard (readable by jq, browsers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.floating,)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _dumps(obj: Any, *, strict: bool) -> str:
    """JSON text. ``strict``: non-finite floats become null (standard JSON); otherwise they are
    kept as Python's NaN/Infinity extension (exact round trip for checkpoint metadata)."""
    if strict:
        obj = _finite(obj)
    return json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=not strict, sort_keys=False)


def atomic_write_json(path: str | Path, obj: Any, *, strict: bool = True) -> None:
    """Atomically write ``obj`` as indented JSON (see :func:`atomic_write_bytes`)."""
    if strict:
        obj = _finite(obj)
    text = json.dumps(obj, default=_json_default, ensure_ascii=False, indent=1, allow_nan=not strict)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def _read_or_corrupt(path: Path, missing: str, reading: str = "") -> bytes:
    """A file's bytes; a missing or unreadable file raises CorruptFileError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"{path}: {missing}") from None
    except OSError as exc:
        raise CorruptFileError(f"{path}: cannot read{reading} ({exc.strerror})") from None


def read_json_file(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file, raising CorruptFileError naming the file on truncation or garbage."""
    path = Path(path)
    raw = _read_or_corrupt(path, f"missing {what}", f" {what}")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptFileError(f"{path}: {what} is not UTF-8 text (corrupt)") from None
    except json.JSONDecodeError as exc:
        hint = "truncated" if exc.pos >= len(raw.rstrip()) else "corrupt"
        raise CorruptFileError(
            f"{path}: {what} is not valid JSON, {hint} ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


MODEL_CHECKSUMS = "checksums.json"
MODEL_CHECKSUMS_FORMAT = "genz-model-checksums"


def write_model_checksums(model_dir: str | Path) -> None:
    """Write ``checksums.json``: the sha256 of every file of a saved model directory."""
    model_dir = Path(model_dir)
    files = {}
    for p in sorted(model_dir.rglob("*")):
        if p.is_file() and p.name != MODEL_CHECKSUMS:
            files[p.relative_to(model_dir).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    atomic_write_json(model_dir / MODEL_CHECKSUMS, {"format": MODEL_CHECKSUMS_FORMAT, "files": files})


def verify_model_dir(model_dir: str | Path) -> None:
    """Check a saved model against its ``checksums.json`` (when it has one): a missing,
    truncated or edited file raises CorruptFileError naming it (one line)."""
    model_dir = Path(model_dir)
    cpath = model_dir / MODEL_CHECKSUMS
    if not cpath.exists():
        return
    doc = read_json_file(cpath, "model checksums")
    if not isinstance(doc, dict) or doc.get("format") != MODEL_CHECKSUMS_FORMAT or not isinstance(doc.get("files"), dict):
        raise CorruptFileError(f"{cpath}: not a genz model checksum file")
    for rel, digest in doc["files"].items():
        p = model_dir / rel
        raw = _read_or_corrupt(p, "missing from the saved model")
        if hashlib.sha256(raw).hexdigest() != digest:
            raise CorruptFileError(f"{p}: does not match its checksum in {MODEL_CHECKSUMS} (truncated, edited or corrupt)")


def _npz_bytes(arrays: Mapping[str, Any], what: str) -> tuple[bytes, dict]:
    clean: dict[str, np.ndarray] = {}
    listing: dict[str, list] = {}
    for name, arr in arrays.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{what}: array name {name!r} must be a non-empty string without '/'")
        a = np.asarray(arr)
        if a.dtype == object:
            raise TypeError(f"{what}: array {name!r} has dtype object; only numeric/bool/string arrays are saved")
        clean[name] = a
        listing[name] = [list(a.shape), a.dtype.str]
    buf = io.BytesIO()
    np.savez(buf, **clean)
    return buf.getvalue(), listing


def _load_npz(path: Path, sha256: str | None, listing: Mapping[str, Any] | None, what: str) -> dict[str, np.ndarray]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"{path}: missing ({what} arrays)") from None
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise CorruptFileError(f"{path}: {what} arrays do not match their checksum (truncated or corrupt)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CorruptFileError(f"{path}: {what} arrays are unreadable ({exc})") from None
    if listing is not None:
        for name, (shape, dtype) in listing.items():
            a = arrays.get(name)
            if a is None or list(a.shape) != list(shape) or a.dtype.str != dtype:
                raise CorruptFileError(f"{path}: array {name!r} missing or not as recorded (corrupt {what})")
    return arrays
