"""``GenZRegressor``: the scikit-learn-style estimator.

``fit(items, Y, U=None)`` discovers features with Algorithms 1-4; ``predict(items, U=None)``
judges the discovered descriptors for new items and predicts from those judgments alone
(docs/equations.md §5: ``q = 1 − ε`` if judged yes, else ``ε``); ``transform(items)`` returns the N×K
binary judgments. ``save(dir)`` / ``GenZRegressor.load(dir)`` use JSON and ``.npz`` only.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .discovery import Discovery, DiscoveryConfig, new_item_q
from .errors import CorruptFileError, GenZInputError
from .fm.base import FoundationModel
from .items import Item, check_side_inputs, check_targets
from .metrics import regression_metrics
from .observation import observation_model_from_state
from .runs import atomic_write_bytes

__all__ = ["GenZRegressor", "make_fm"]

MODEL_FORMAT = "genz-model/1"


def make_fm(fm: Any, **options: Any) -> FoundationModel:
    """A foundation model from a name (``"predicates"``, or a backend registered in
    :mod:`genz.fm.registry`) or an instance (returned as is)."""
    if not isinstance(fm, str):
        if not isinstance(fm, FoundationModel):
            raise GenZInputError(f"fm must be a backend name or implement genz.fm.FoundationModel, got {type(fm).__name__}")
        return fm
    try:
        from .fm.registry import make_fm as _registry_make_fm
    except ImportError:  # the registry is optional; the predicate engine is always there
        _registry_make_fm = None
    if _registry_make_fm is not None:
        return _registry_make_fm(fm, **options)
    if fm == "predicates":
        from .fm.predicates import PredicateFM

        return PredicateFM(**options)
    raise GenZInputError(f"unknown foundation model {fm!r}")


def _check_items(items: Any, name: str = "items", **table: Any) -> list[Item]:
    if hasattr(items, "columns") or isinstance(items, dict) or (  # a table: genz.tables
            isinstance(items, list) and items and all(isinstance(r, dict) for r in items)):
        from .tables import items_from_frame

        return items_from_frame(items, **table)
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise GenZInputError(f"{name} must be a sequence of genz.Item, got {type(items).__name__}")
    items = list(items)
    if not items:
        raise GenZInputError(f"{name}: no items")
    for pos, it in enumerate(items):
        if not isinstance(it, Item):
            raise GenZInputError(f"{name}[{pos}] is a {type(it).__name__}, not a genz.Item (see genz.items_from_texts, or pass a "
                                  "pandas DataFrame: genz.items_from_frame)")
    seen: dict[str, int] = {}
    for pos, it in enumerate(items):
        if it.id in seen:
            raise GenZInputError(f"{name}: duplicate id {it.id!r} (positions {seen[it.id]} and {pos})")
        seen[it.id] = pos
    return items


class GenZRegressor(RegressorMixin, BaseEstimator):
    """GenZ: discover natural-language binary features that predict a real target.

    Parameters follow the paper's defaults (linear or MLP ``g``; 12 cycles of adding 5 features
    and removing 2, with targeted additions; the 2%/98% activity filter). ``fm`` is a
    foundation-model name (``"predicates"``: the offline engine) or instance. ``n_features``
    switches to plain repeated additions (the binary demo). See :class:`DiscoveryConfig` for
    the EM settings. ``refit_on_judgments`` refits θ on the training items' FM priors after each
    step, so that the predictor sees what new items will have (docs/equations.md §9).
    """

    def __init__(
        self,
        fm: Any = "predicates",
        model: str = "linear",
        algorithm: str = "targeted",
        n_features: int | None = None,
        cycles: int = 12,
        add_per_cycle: int = 5,
        remove_per_cycle: int = 2,
        min_activity: float = 0.02,
        eps_min: float = 1e-3,
        ridge: float = 0.0,
        em_max_iter: int = 100,
        em_min_iter: int = 5,
        em_tol: float = 1e-6,
        n_exemplars: int | None = None,
        min_group: int = 10,
        refit_on_judgments: bool = True,
        predictor_ridge: float | str = "cv",
        weighted_mining: bool = True,
        n_candidates: int = 5,
        criterion: str = "bound",
        predict_at: str = "mean",
        soft_judgments: bool = False,
        eps_from_prob: bool = False,
        mlp_hidden: tuple[int, ...] = (64, 32),
        mlp_dropout: float = 0.1,
        mlp_lr: float = 1e-3,
        mlp_epochs: int = 100,
        mlp_batch_size: int = 32,
        mlp_em_epochs: int = 10,
        mlp_em_max_iter: int = 10,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.fm = fm
        self.model = model
        self.algorithm = algorithm
        self.n_features = n_features
        self.cycles = cycles
        self.add_per_cycle = add_per_cycle
        self.remove_per_cycle = remove_per_cycle
        self.min_activity = min_activity
        self.eps_min = eps_min
        self.ridge = ridge
        self.em_max_iter = em_max_iter
        self.em_min_iter = em_min_iter
        self.em_tol = em_tol
        self.n_exemplars = n_exemplars
        self.min_group = min_group
        self.refit_on_judgments = refit_on_judgments
        self.predict_at = predict_at
        self.predictor_ridge = predictor_ridge
        self.weighted_mining = weighted_mining
        self.n_candidates = n_candidates
        self.criterion = criterion
        self.soft_judgments = soft_judgments
        self.eps_from_prob = eps_from_prob
        self.mlp_hidden = mlp_hidden
        self.mlp_dropout = mlp_dropout
        self.mlp_lr = mlp_lr
        self.mlp_epochs = mlp_epochs
        self.mlp_batch_size = mlp_batch_size
        self.mlp_em_epochs = mlp_em_epochs
        self.mlp_em_max_iter = mlp_em_max_iter
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------
    def _config(self) -> DiscoveryConfig:
        if self.model not in ("linear", "mlp"):
            raise GenZInputError(f"model must be 'linear' or 'mlp', not {self.model!r}")
        if self.algorithm not in ("targeted", "simple"):
            raise GenZInputError(f"algorithm must be 'targeted' or 'simple', not {self.algorithm!r}")
        if not 0 <= self.min_activity < 0.5:
            raise GenZInputError(f"min_activity must be in [0, 0.5), not {self.min_activity}")
        if self.predict_at not in ("mean", "mode"):
            raise GenZInputError(f"predict_at must be 'mean' or 'mode', not {self.predict_at!r}")
        if not 0 < self.eps_min < 0.5:
            raise GenZInputError(f"eps_min must be in (0, 0.5), not {self.eps_min}")
        seed = self.random_state if self.random_state is not None else 0
        names = {f.name for f in fields(DiscoveryConfig)}
        kw = {k: v for k, v in self.get_params(deep=False).items() if k in names}
        kw["mlp_hidden"] = tuple(self.mlp_hidden)
        return DiscoveryConfig(seed=int(seed), **kw)

    def _prepare(self, items, Y, U):
        items = _check_items(items)
        ids = [it.id for it in items]
        Y = check_targets(Y, ids)
        if Y.shape[0] != len(items):
            raise GenZInputError(f"targets: {Y.shape[0]} rows for {len(items)} items")
        U = check_side_inputs(U, len(items), ids)
        return items, Y, U

    def make_discovery(self, items, Y, U=None, eval_set=None) -> Discovery:
        """Validate the inputs and build (without running) the discovery run behind ``fit``."""
        items, Y_arr, U = self._prepare(items, Y, U)
        self._y_1d = np.ndim(Y) == 1
        Y = Y_arr
        ev = None
        if eval_set is not None:
            e_items, e_Y = eval_set[0], eval_set[1]
            e_U = eval_set[2] if len(eval_set) > 2 else None
            e_items, e_Y, e_U = self._prepare(e_items, e_Y, e_U)
            if e_Y.shape[1] != Y.shape[1]:
                raise GenZInputError(f"eval_set targets have {e_Y.shape[1]} columns, training targets {Y.shape[1]}")
            if (U is None) != (e_U is None):
                raise GenZInputError("pass side inputs for both the training items and eval_set, or for neither")
            ev = (e_items, e_Y, e_U)
        self.fm_ = make_fm(self.fm)
        return Discovery(self.fm_, self._config(), items, Y, U, ev)

    def fit(
        self,
        X: Sequence[Item],
        y: Any,
        U: Any = None,
        eval_set: tuple | None = None,
        callbacks: Any = None,
        on_step: Any = None,
        discovery: Discovery | None = None,
        text: Any = None,
        id: Any = None,
    ) -> "GenZRegressor":
        """Discover features for items ``X`` with targets ``y`` (N or N×D) and optional side
        inputs ``U`` (N×P). ``eval_set=(items, Y[, U])`` adds test metrics to every history
        step. ``callbacks`` receives progress hooks; ``on_step(discovery, record)`` is called
        after every step (run directories use it to checkpoint). ``discovery`` continues a run
        built by :meth:`make_discovery` (e.g. restored from a checkpoint). ``X`` may be a pandas
        DataFrame: ``text``/``id`` name its text and id columns (:func:`genz.items_from_frame`)."""
        X = _check_items(X, text=text, id=id, target=y) if discovery is None else X
        disc = discovery if discovery is not None else self.make_discovery(X, y, U, eval_set)
        if discovery is not None:
            self.fm_ = disc.fm
            self._y_1d = getattr(self, "_y_1d", disc.Y.shape[1] == 1 and np.ndim(y) == 1)
        if callbacks is None and self.verbose:
            callbacks = _PrintProgress()
        disc.run(callbacks=callbacks, on_step=on_step)
        self._adopt(disc)
        return self

    def _adopt(self, disc: Discovery) -> None:
        self.features_ = list(disc.features)
        self.epsilon_ = disc.st.eps.copy()
        self.model_ = disc.model
        self.predictor_ = disc.predictor or disc.fit_predictor()
        self.sigma2_ = disc.model.sigma2_.copy()
        self.history_ = disc.history
        self.posteriors_ = disc.st.Q.copy()
        self.judgments_ = disc.st.B.copy()
        self.counters_ = dict(disc.counters)
        self.fm_stats_ = disc.fm.stats.snapshot()
        self.n_targets_ = disc.Y.shape[1]
        self.n_side_inputs_ = 0 if disc.U is None else disc.U.shape[1]
        self.train_ids_ = [it.id for it in disc.items]

    # ------------------------------------------------------------------------------------------
    def transform(self, X: Sequence[Item], text: Any = None, id: Any = None) -> np.ndarray:
        """The N×K matrix of FM judgments (0/1) of the discovered features for items X."""
        check_is_fitted(self, "features_")
        items = _check_items(X, text=text, id=id)
        out = np.zeros((len(items), len(self.features_)), dtype=int)
        for k, d in enumerate(self.features_):
            out[:, k] = self.fm_.judge(d, items).values
        return out

    def predict(self, X: Sequence[Item], U: Any = None, text: Any = None, id: Any = None) -> np.ndarray:
        """Predict targets of new items from FM judgments only (docs/equations.md §5)."""
        check_is_fitted(self, "features_")
        items = _check_items(X, text=text, id=id)
        if self.n_side_inputs_ and U is None:
            raise GenZInputError(f"this model was fitted with {self.n_side_inputs_} side inputs; pass U")
        U = check_side_inputs(U, len(items), [it.id for it in items])
        if U is not None and U.shape[1] != self.n_side_inputs_:
            raise GenZInputError(f"side inputs have {U.shape[1]} columns, the model was fitted with {self.n_side_inputs_}")
        B = self.transform(items).astype(float)
        Q = new_item_q(B, self.epsilon_, self.predict_at)
        P = self.predictor_.predict(Q, U)
        return P[:, 0] if self._y_1d and P.shape[1] == 1 else P

    def evaluate(self, X: Sequence[Item], y: Any, U: Any = None) -> dict[str, float]:
        """The metrics of :func:`genz.metrics.regression_metrics` on (X, y)."""
        return regression_metrics(check_targets(y), self.predict(X, U))

    # ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to a directory: ``model.json`` + ``arrays.npz``."""
        check_is_fitted(self, "features_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        params = self.get_params(deep=False)
        params["fm"] = self.fm if isinstance(self.fm, str) else getattr(self.fm_, "name", "custom")
        params["mlp_hidden"] = list(self.mlp_hidden)
        m_meta, m_arr = self.model_.get_state()
        p_meta, p_arr = self.predictor_.get_state()
        meta = {
            "format": MODEL_FORMAT,
            "params": params,
            "features": self.features_,
            "n_targets": self.n_targets_,
            "n_side_inputs": self.n_side_inputs_,
            "y_1d": bool(self._y_1d),
            "model": m_meta,
            "predictor": p_meta,
            "counters": self.counters_,
            "fm_stats": self.fm_stats_,
            "train_ids": self.train_ids_,
            "fm_spec": _fm_registry().fm_spec(self.fm_),  # issue 10: where the FM lives
        }
        arrays = {"epsilon": self.epsilon_, "sigma2": self.sigma2_, "posteriors": self.posteriors_,
                  "judgments": self.judgments_}
        arrays.update({f"model.{k}": v for k, v in m_arr.items()})
        arrays.update({f"predictor.{k}": v for k, v in p_arr.items()})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path / "arrays.npz", buf.getvalue())
        atomic_write_bytes(path / "model.json", json.dumps(meta, indent=1).encode())
        with (path / "history.json").open("w") as fh:
            json.dump(self.history_, fh)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, fm: Any = None) -> "GenZRegressor":
        """Load a model saved by :meth:`save`. ``fm`` overrides the saved backend name."""
        path = Path(path)
        mfile, afile = path / "model.json", path / "arrays.npz"
        if not mfile.exists() or not afile.exists():
            raise GenZInputError(f"{path}: not a saved genz model (model.json and arrays.npz expected)")
        try:
            meta = json.loads(mfile.read_text())
        except json.JSONDecodeError as exc:
            raise CorruptFileError(f"{mfile}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if meta.get("format") != MODEL_FORMAT:
            raise CorruptFileError(f"{mfile}: not a genz model file (format {meta.get('format')!r})")
        try:
            with np.load(afile, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError) as exc:
            raise CorruptFileError(f"{afile}: unreadable ({exc})") from None
        params = dict(meta["params"])
        params["mlp_hidden"] = tuple(params["mlp_hidden"])
        if fm is not None:
            params["fm"] = fm
        est = cls(**params)
        spec = meta.get("fm_spec") if fm is None else None  # issue 10: the FM the model was trained with
        est.fm_ = _fm_registry().make_fm_from_spec(spec) if isinstance(spec, dict) else make_fm(params["fm"])
        est.features_ = list(meta["features"])
        est.epsilon_ = arrays["epsilon"]
        est.sigma2_ = arrays["sigma2"]
        est.posteriors_ = arrays["posteriors"]
        est.judgments_ = arrays["judgments"]
        est.model_ = observation_model_from_state(meta["model"], _sub(arrays, "model."))
        est.predictor_ = observation_model_from_state(meta["predictor"], _sub(arrays, "predictor."))
        est.n_targets_ = int(meta["n_targets"])
        est.n_side_inputs_ = int(meta["n_side_inputs"])
        est._y_1d = bool(meta["y_1d"])
        est.counters_ = meta.get("counters", {})
        est.fm_stats_ = meta.get("fm_stats", {})
        est.train_ids_ = meta.get("train_ids", [])
        hist = path / "history.json"
        est.history_ = json.loads(hist.read_text()) if hist.exists() else []
        return est


def _fm_registry() -> Any:  # issue 10: the FM spec lives in genz.fm.registry
    from .fm import registry
    return registry


def _sub(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


class _PrintProgress:
    """Minimal progress for ``verbose=1``: one line per step on stderr."""

    def on_step_end(self, rec: dict) -> None:
        import sys

        tr = rec["train"]
        key = "median_ae" if "median_ae" in tr else "cosine"
        te = rec["test"][key] if rec.get("test") else float("nan")
        print(
            f"step {rec['step']:3d} {rec['action']:7s} K={rec['n_features']:2d} train {key}={tr[key]:.4f} "
            f"test {key}={te:.4f}  {rec['feature'] or ''}",
            file=sys.stderr,
        )
