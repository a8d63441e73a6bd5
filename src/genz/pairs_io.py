"""Inputs and run directories of the two-sided model (:mod:`genz.pairs`): interactions as a
sparse matrix or ``user,item,value`` rows, and :func:`fit_pairs_run`, a two-sided fit inside a
resumable run directory (``genz fit-pairs --out RUN``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import GenZInputError
from .items import Item

__all__ = ["interactions_from_csv", "fit_pairs_run", "PAIRS_RUN_FILE"]


# --------------------------------------------------------------------------- inputs


def _as_matrix(interactions: Any, user_items: Sequence[Item], item_items: Sequence[Item]) -> sp.csr_matrix:
    if sp.issparse(interactions):
        R = sp.csr_matrix(interactions, dtype=float)
        if R.shape != (len(user_items), len(item_items)):
            raise GenZInputError(f"interactions are {R.shape[0]}×{R.shape[1]}, for {len(user_items)} users × {len(item_items)} items")
        return R
    try:
        users, items, values = interactions
    except (TypeError, ValueError):
        raise GenZInputError("interactions must be a sparse users × items matrix or (user_ids, item_ids, values)") from None
    upos = {it.id: n for n, it in enumerate(user_items)}
    ipos = {it.id: n for n, it in enumerate(item_items)}
    users, items = [str(u) for u in users], [str(i) for i in items]
    for name, ids, pos in (("user", users, upos), ("item", items, ipos)):
        missing = [x for x in ids if x not in pos]
        if missing:
            raise GenZInputError(f"interactions name {len(set(missing))} unknown {name} id(s), e.g. {missing[0]!r}")
    r = np.array([upos[u] for u in users], dtype=np.int64)
    c = np.array([ipos[i] for i in items], dtype=np.int64)
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        raise GenZInputError("interactions: values must be finite numbers")
    key = r * len(item_items) + c
    if np.unique(key).size != key.size:
        raise GenZInputError("interactions: a (user, item) pair appears more than once")
    return sp.csr_matrix((v, (r, c)), shape=(len(user_items), len(item_items)))


def interactions_from_csv(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """``user,item,value`` rows (a header naming the columns first, e.g. ``user,item,rating``):
    ``(user_ids, item_ids, values)``. Malformed lines are reported as ``file:line:``."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise GenZInputError(f"{path}: no such interactions file")
    users, items, values = [], [], []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = None
        for row in reader:
            if not row or not any(c.strip() for c in row):
                continue
            if header is None:
                header = row
                if len(row) < 3:
                    raise GenZInputError(f"{path}:{reader.line_num}: expected a header 'user,item,value'")
                continue
            if len(row) < 3:
                raise GenZInputError(f"{path}:{reader.line_num}: expected 'user,item,value', got {len(row)} fields")
            try:
                v = float(row[2])
            except ValueError:
                raise GenZInputError(f"{path}:{reader.line_num}: value {row[2]!r} is not a number") from None
            if not math.isfinite(v):
                raise GenZInputError(f"{path}:{reader.line_num}: value {row[2]!r} is not finite")
            users.append(row[0].strip())
            items.append(row[1].strip())
            values.append(v)
    if not values:
        raise GenZInputError(f"{path}: no interactions")
    return users, items, np.asarray(values)


# --------------------------------------------------------------------------- run directories

PAIRS_RUN_FILE = "pairs-run.json"


def _fingerprint(user_items: Sequence[Item], item_items: Sequence[Item], R: sp.csr_matrix) -> str:
    import hashlib

    h = hashlib.sha256()
    for its in (user_items, item_items):
        for it in its:
            h.update(it.id.encode() + b"\0" + it.content_hash().encode() + b"\n")
        h.update(b"|")
    R = sp.csr_matrix(R)
    R.sort_indices()
    for a in (R.indptr, R.indices, R.data):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


def fit_pairs_run(model: Any, user_items: Sequence[Item], item_items: Sequence[Item], interactions: Any, *,
                  out: str | Path, resume: bool = False, overwrite: bool = False, progress: Any = None,
                  config_extra: dict[str, Any] | None = None) -> Any:
    """Fit ``model`` inside the run directory ``out``: ``out/users`` and ``out/items`` are the two
    sides' GenZ runs (``genz fit`` run directories: checkpoint after every step, resumable),
    ``out/pairs.json`` + ``out/factors.npz`` the factorisation and the interaction table, and
    ``out/pairs-run.json`` the configuration and status. ``resume`` continues an interrupted run
    (each side from its last checkpoint; a finished side is not refitted) on the same data and
    settings; ``overwrite`` replaces a previous two-sided run in ``out``."""
    import shutil

    from .progress import FitProgress
    from .runfit import fit_run
    from .files import atomic_write_bytes

    out = Path(out)
    user_items, item_items = list(user_items), list(item_items)
    R = _as_matrix(interactions, user_items, item_items)
    config = {"format": "genz-pairs-run/1",
              "params": {"k": model.k, "alpha": model.alpha, "fill": model.fill, "n_iter": model.n_iter,
                         "damping_user": model.damping_user, "damping_item": model.damping_item,
                         "readout": model.readout, "offsets": model.offsets},
              "data": {"sha256": _fingerprint(user_items, item_items, R), "n_users": len(user_items),
                       "n_items": len(item_items), "n_interactions": int(R.nnz)}}
    config.update(config_extra or {})
    marker = out / PAIRS_RUN_FILE
    if resume and overwrite:
        raise GenZInputError("--resume and --overwrite exclude each other")
    if out.exists() and not out.is_dir():
        raise GenZInputError(f"{out}: exists and is not a directory")
    if marker.exists():
        if overwrite:
            shutil.rmtree(out)
        elif not resume:
            raise GenZInputError(f"{out}: already holds a two-sided genz run; pass --resume to continue it or --overwrite to start over")
        else:
            try:
                old = json.loads(marker.read_text())
            except json.JSONDecodeError as exc:
                from .errors import CorruptFileError

                raise CorruptFileError(f"{marker}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
            for key in ("params", "data"):
                if old.get(key) != config[key]:
                    raise GenZInputError(f"{out}: the run was started with different {'settings' if key == 'params' else 'data'}; "
                                         "use another --out or --overwrite")
    elif resume:
        raise GenZInputError(f"{out}: nothing to resume (no {PAIRS_RUN_FILE})")
    elif out.exists() and any(out.iterdir()):
        raise GenZInputError(f"{out}: directory is not empty and is not a two-sided genz run; choose another --out")
    out.mkdir(parents=True, exist_ok=True)

    def status(s: str) -> None:
        atomic_write_bytes(marker, json.dumps({**config, "status": s}, indent=1).encode())

    status("running")

    def fit_side(name: str, est: Any, its: Sequence[Item], Y: np.ndarray) -> Any:
        side = out / name
        names = ["offset"] + [f"dim{d + 1}" for d in range(Y.shape[1] - 1)]
        again = resume and side.exists() and any(side.iterdir())
        prog = progress(name) if callable(progress) else FitProgress(quiet=True)
        fitted, _ = fit_run(est, its, Y, out=side, resume=again, progress=prog, target_names=names,
                            config_extra={"side": name})
        return fitted

    try:
        model.fit(user_items, item_items, R, fit_side=fit_side)
        model._save_pairs(out)
    except KeyboardInterrupt:
        status("interrupted")
        raise
    except BaseException:
        status("failed")
        raise
    status("complete")
    return model
