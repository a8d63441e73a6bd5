"""A fit inside a run directory: checkpoint after every step, resume after a crash or Ctrl-C,
live progress, and the files the report reads.

``fit_run(est, items, Y, out=RUN)`` is what ``genz fit ... --out RUN [--resume]`` runs::

    est = GenZRegressor(fm=CachedFM(inner, "fm.sqlite"), cycles=12, random_state=0)
    fit_run(est, items, Y, U, eval_set=(test_items, Y_test, U_test), out="runs/houses",
            resume=True, progress=FitProgress(total_cycles=12))

Resuming restores the discovery state of the latest checkpoint (descriptors, judgments,
posteriors, ε, θ, the random generator, the history) and continues the schedule; with the
same seed the result equals an uninterrupted run. The foundation model's answers of the step
that was interrupted are not lost when the model is wrapped in the persistent cache
(:class:`genz.fm.cache.CachedFM`): the redone step is answered from it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError, FMError
from .items import Item
from .progress import FitProgress
from .runs import PATH_KEYS, RunDir, RunSummary
from .signals import terminate_as_interrupt

__all__ = ["fit_run", "run_config", "data_fingerprint", "summary_from_estimator", "screening_saved"]


def data_fingerprint(items: Sequence[Item], Y: Any, U: Any = None, eval_set: Any = None) -> str:
    """A hash of the training (and evaluation) data: a run is only resumed on the same data."""
    h = hashlib.sha256()

    def add(its: Sequence[Item], y: Any, u: Any) -> None:
        for it in its:
            h.update(it.id.encode("utf-8") + b"\0" + it.content_hash().encode() + b"\n")
        h.update(np.ascontiguousarray(np.asarray(y, dtype=float)).tobytes())
        if u is not None:
            h.update(b"U" + np.ascontiguousarray(np.asarray(u, dtype=float)).tobytes())

    add(items, Y, U)
    if eval_set is not None:
        h.update(b"|eval|")
        add(eval_set[0], eval_set[1], eval_set[2] if len(eval_set) > 2 else None)
    return h.hexdigest()[:32]


def run_config(est: Any, items: Sequence[Item], Y: Any, U: Any = None, eval_set: Any = None,
               extra: Mapping[str, Any] | None = None) -> dict:
    """The configuration stored in ``config.json``: the estimator's parameters (the foundation
    model by name), the data fingerprint and sizes, and ``extra`` (e.g. input file paths)."""
    params = est.params_json()
    cfg: dict[str, Any] = {"estimator": params, "data": {
        "sha256": data_fingerprint(items, Y, U, eval_set), "n_items": len(items),
        "n_targets": int(np.asarray(Y).reshape(len(items), -1).shape[1]),
        "n_side_inputs": 0 if U is None else int(np.asarray(U).shape[1]),
        "n_eval": 0 if eval_set is None else len(eval_set[0]),
    }}
    cfg.update(dict(extra or {}))
    for k in PATH_KEYS:  # stored resolved: resuming from another working directory means the same files
        if isinstance(cfg.get(k), str):
            cfg[k] = str(Path(cfg[k]).expanduser().resolve())
    return cfg


def _restore_fm_stats(fm: Any, fm_total: Mapping[str, Any] | None) -> None:
    """Continue the foundation model's counters from a checkpoint's totals, so that 'FM calls
    and cost so far' count the whole run, not just this process."""
    if not fm_total:
        return
    stats = fm.stats
    for key, value in fm_total.items():
        if key == "total_calls" or key.startswith("_") or not hasattr(stats, key):
            continue
        cur = getattr(stats, key)
        if isinstance(cur, dict) and isinstance(value, dict):
            setattr(stats, key, dict(value))
        elif isinstance(cur, (int, float)) and isinstance(value, (int, float)):
            setattr(stats, key, type(cur)(value))


def summary_from_estimator(est: Any, items: Sequence[Item], Y: Any, U: Any = None,
                           target_names: Sequence[str] | None = None) -> RunSummary:
    """What the report needs of a fitted :class:`~genz.GenZRegressor`: features, ε, each
    feature's effect per target dimension (the predictor's ``weights()``), the training items'
    posteriors and judgments, ids, texts and targets."""
    Yarr = np.asarray(Y, dtype=float).reshape(len(items), -1)
    K, D = len(est.features_), Yarr.shape[1]
    W = np.asarray(est.predictor_.weights(), dtype=float)
    weights = W.T if W.shape == (D, K) else np.zeros((K, D))
    return RunSummary(
        features=list(est.features_), epsilon=np.asarray(est.epsilon_, dtype=float), weights=weights,
        Q=np.asarray(est.posteriors_, dtype=float).reshape(len(items), K),
        B=np.asarray(est.judgments_).reshape(len(items), K) > 0.5,
        item_ids=[it.id for it in items], item_texts=[it.render() for it in items], Y=Yarr,
        target_names=list(target_names) if target_names is not None else None,
    )


@contextlib.contextmanager
def _recording(run: RunDir, progress: FitProgress, resume_hint: bool = False) -> Iterator[None]:
    """Close the run directory with its status — complete, interrupted (Ctrl-C) or failed —
    and the progress display, whatever happens inside."""
    try:
        yield
        run.close("complete")
    except KeyboardInterrupt:
        if resume_hint:
            progress.message(f"interrupted; the run is saved up to its last step: resume with --out {run.path} --resume")
        run.close("interrupted")
        raise
    except BaseException as exc:
        run.close("failed", error=_one_line(exc))
        raise
    finally:
        progress.close()


def _one_line(exc: Any, n: int = 300) -> str:
    from .fm.secrets import scrub_credentials

    t = scrub_credentials(" ".join(str(exc).split())) or type(exc).__name__
    return t if len(t) <= n else t[: n - 1] + "…"


#: how a discovery step records that the FM gave no usable characteristic (a failure, not an
#: answer; see genz.fm.openai_compat.OpenAIFM.mine)
FM_FAILURE_MARK = "no usable characteristic"


def fm_failures(history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The steps discarded because the foundation model failed (gave no usable answer), as
    opposed to steps discarded on their merits (nothing separates the groups, the activity
    filter, a redundant feature)."""
    return [r for r in history if r.get("action") == "discard" and FM_FAILURE_MARK in str(r.get("reason") or "")]


def screening_saved(history: Sequence[Mapping[str, Any]]) -> int:
    """The judgments candidate screening saved over a run (each step's ``screen`` record,
    :meth:`genz.discovery.Discovery.screen_candidates`)."""
    return int(sum(int((r.get("screen") or {}).get("judgments_saved", 0)) for r in history))


def fit_run(est: Any, items: Sequence[Item], Y: Any, U: Any = None, eval_set: Any = None, *,
            out: str | Path, resume: bool = False, overwrite: bool = False,
            progress: FitProgress | None = None, config_extra: Mapping[str, Any] | None = None,
            target_names: Sequence[str] | None = None, keep_checkpoints: int = 3,
            check: Any = None) -> tuple[Any, RunDir]:
    """Fit ``est`` inside the run directory ``out`` (see the module docstring).

    A new run where ``out`` holds none (or with ``overwrite``); otherwise the existing run
    continues from its latest checkpoint if its configuration (estimator parameters except
    ``cycles``/``verbose``, and the data) matches. Ctrl-C stops after the step being committed
    is saved; the run is marked ``interrupted`` and KeyboardInterrupt propagates. Returns the
    fitted estimator and the (closed) run directory. With ``discovery_sample`` the run's
    history, checkpoints and summary are the sample's; the saved model's predictor is refitted
    on all items (``GenZRegressor.fit`` judges the final features on all of them).
    ``check(est)``, called once the model is saved, may raise to mark the run ``failed``
    (``genz fit``: a fit that kept no feature).
    """
    config = run_config(est, items, Y, U, eval_set, config_extra)
    run, ckpt = RunDir.for_fit(out, config, resume=resume, overwrite=overwrite, keep_checkpoints=keep_checkpoints)
    progress = progress if progress is not None else FitProgress(quiet=True)
    with terminate_as_interrupt(), _recording(run, progress, resume_hint=True):
        disc = est.make_discovery(items, Y, U, eval_set, target_names)
        if ckpt is not None:
            try:
                disc.load_payload(ckpt.meta, ckpt.arrays)
            except (KeyError, ValueError, TypeError) as exc:
                raise CorruptFileError(f"{ckpt.path}: checkpoint does not fit this run ({exc})") from None
            hist = disc.history
            _restore_fm_stats(disc.fm, hist[-1].get("fm_total") if hist else None)
            for note in run.repairs:
                progress.message(f"repaired {note}")
            progress.message(f"resumed {run.path} from step {ckpt.step}"
                             + (" (already complete)" if disc.done else ""))

        def on_step(d: Any, record: dict) -> None:
            meta, arrays = d.to_payload()
            run.commit_step(record, meta, arrays)

        est.fit(items, Y, U, eval_set, callbacks=progress, on_step=on_step, discovery=disc)
        run.save_model(est.save)
        run.save_summary(summary_from_estimator(est, disc.items, disc.Y, disc.U, est.target_names_))
        failed = fm_failures(disc.history)
        if failed:  # fewer features than asked because the FM failed: say so, never "complete"
            raise FMError(
                f"the run ended with {len(est.features_)} features, fewer than asked: {len(failed)} mining "
                f"step(s) got no usable characteristic from the foundation model (step {failed[-1]['step']}: "
                f"{_one_line(failed[-1].get('reason'), 160)}). The model is saved in {run.path / 'model'}; "
                f"fix the model or server and rerun with --overwrite"
            )
        if check is not None:
            check(est)
    return est, run



def binary_demo_run(out: str | Path, *, seed: int = 0, n_bits: int = 9, overwrite: bool = False,
                    progress: FitProgress | None = None) -> dict:
    """``genz demo binary --out RUN``: the binary toy (paper Section 5.1) recorded as a run
    directory, so that ``genz report RUN`` shows the bits appearing coarse to fine."""
    from .demo import run_binary_demo
    from .items import items_from_texts

    config = {"demo": "binary", "seed": seed, "n_bits": n_bits}
    run = RunDir.create(out, config, overwrite=overwrite)
    progress = progress if progress is not None else FitProgress(quiet=True)
    with _recording(run, progress):
        res = run_binary_demo(seed=seed, n_bits=n_bits, callbacks=progress,
                              on_step=lambda d, rec: run.commit_step(rec, *d.to_payload()))
        est = res["estimator"]
        values = np.arange(2**n_bits)
        items = items_from_texts(str(v) for v in values)
        run.save_model(est.save)
        run.save_summary(summary_from_estimator(est, items, values.astype(float), target_names=["n"]))
    return res
