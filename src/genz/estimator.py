"""``GenZRegressor``: the scikit-learn-style estimator.

``fit(items, Y, U=None)`` discovers features with Algorithms 1-4; ``predict(items, U=None)``
judges the discovered descriptors for new items and predicts from those judgments alone
(docs/equations.md §5: ``q = 1 − ε`` if judged yes, else ``ε``); ``transform(items)`` returns the N×K
binary judgments. ``save(dir)`` / ``GenZRegressor.load(dir)`` use JSON and ``.npz`` only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .discovery import Discovery, DiscoveryConfig, new_item_q
from .discovery_run import DiscoveryRun
from .errors import GenZInputError
from .fm.base import FoundationModel
from .inference import blas_threads
from .items import Item, check_side_inputs, check_targets
from .metrics import regression_metrics
from .observation.base import coefficients, predictive_std
from .checks import warn_cheaper_routes
from .sampling import _Counting, judge_in_bulk, sample_savings, stratified_sample
from .selection import MIN_CV_ROWS, split_indices
from .tree_route import tree_blend
from .settings import (Selection, advanced_settings, model_spec, nested_fields, prior_knowledge, replace_fields,
                       selection_settings, split_nested, to_json)
from .effects_table import FEATURE_TABLE_COLUMNS, build_feature_table, hypothesis_rows
from .estimator_inputs import (check_items as _check_items, check_sample_weight, check_target_values, is_table,
                               new_items, remember_inputs, route_side_inputs, side_input_columns,
                               side_matrix, table_items, validate_params)

__all__ = ["GenZRegressor", "make_fm"]

PREDICTORS = ("priors", "judgments", "em")


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


class GenZRegressor(RegressorMixin, TransformerMixin, BaseEstimator):
    """GenZ: discover natural-language binary features ``z`` that predict a real target ``y``.

    The model (paper §2, docs/equations.md §2): a foundation model judges each item against each feature's
    descriptor, ``b_nk ∈ {0, 1}``; the feature is ``z_nk`` with prior ``p(z_nk = 1) = 1 − ε_k``
    if ``b_nk = 1`` else ``ε_k`` (the FM's error rate); the target is
    ``y_n ~ N(g(z_n, u_n; θ), diag σ²)`` with side inputs ``u``. ``fit`` alternates variational
    EM (posteriors ``q``, then θ, σ², ε) with the discovery of descriptors (Algorithms 1-4);
    ``predict`` judges new items and predicts from those judgments alone (docs/equations.md §5).

    Parameters
    ----------
    fm : str or FoundationModel, default "predicates"
        The foundation model: a backend name (``"predicates"`` is the offline engine) or an
        instance implementing :class:`genz.fm.FoundationModel`.
    model : "linear", "mlp", Linear or MLP, default "linear"
        The observation model ``g``: :class:`genz.Linear` (exact mean field, docs/equations.md §4; its
        ``ridge``) or :class:`genz.MLP` (at the mode; layers, dropout, epochs...).
    algorithm : {"targeted", "simple"}, default "targeted"
        How a feature is added: Algorithm 2 (exemplars from the combination of current
        features with the largest error, eq. 15-16) or Algorithm 1 (exemplars from all items).
    cycles, add_per_cycle, remove_per_cycle : int, default 12, 5, 2
        Algorithm 4's schedule: ``cycles`` times, add ``add_per_cycle`` features and remove
        ``remove_per_cycle`` (Algorithm 3).
    add_only : int or None, default None
        A different, simpler run (the paper's binary demo, §5.1): Algorithm 1 or 2 exactly
        ``add_only`` times, no removal; the schedule above is ignored.
    min_activity : float, default 0.02
        The activity filter: a feature judged yes for fewer than this share of the training
        items, or more than ``1 − min_activity``, is discarded.
    max_iter, tol : int and float, default 100 and 1e-6
        EM per phase: at most ``max_iter`` iterations (the MLP has its own ``em_max_iter``);
        converged when the relative change of the bound is below ``tol`` (and the posteriors
        settle, see ``Advanced.em_q_tol``).
    predictor : {"priors", "judgments", "em"}, default "priors"
        θ used for new items (docs/equations.md §9): refitted on the training items' FM priors
        ``q = 1 − ε`` / ``ε`` (what new items have; the linear ridge by leave-one-out), refitted
        at the judgments themselves (``q = b``, the mode; the binary demo), or the EM θ itself.
    hypotheses : list of str, PriorKnowledge, dict or None
        What you already believe. A list of descriptors: hypotheses, judged like mined
        features and kept only if they lower the cross-validated loss (their evidence is in
        ``hypotheses_`` either way; if kept, they are tested for findings like the others). ``PriorKnowledge(hypotheses=[...], pin=[...], veto=[...])``
        also pins features (kept whatever the evidence) and vetoes descriptors (never mined).
    discovery_sample : int or None, default None
        Discovery on a sample (docs/scale.md): mining, candidate choice, EM, the cross-validated
        selection and the findings run on this many training items, stratified by the first target's deciles
        (each decile gives its share); the final features are then judged on all items (one
        bulk pass through an executor's ``prefetch``, :class:`genz.fm.executors.ExecutorFM`)
        and the predictor is refitted on all of them (θ on their FM priors, docs/equations.md
        §5). None, or at least as many as there are items: discovery on all items. The sample
        and the judgments it saved are in ``discovery_sample_``; ``posteriors_``,
        ``judgments_`` and ``train_ids_`` are the sample's.
    selection : Selection, dict or None
        How features are kept for the predictor and how findings are tested, documented in
        :class:`genz.Selection` (``folds``, ``patience``, ``holdout``, ``error_rate``,
        ``correction``); ``set_params(selection__folds=3)`` and GridSearchCV grids reach each.
    advanced : Advanced, dict or None
        Rarely changed settings, documented in :class:`genz.Advanced` (ε floor and start, soft
        judgments, exemplars, candidates, EM's minor stopping rules).
    random_state : int, RandomState or None, default None
        Seeds discovery's random choices. None follows scikit-learn: a seed is drawn from
        NumPy's global random state at ``fit`` (so ``np.random.seed`` makes it reproducible).
    verbose : int, default 0
        1: one line per discovery step on standard error.
    text, id : str (text: or a list of str) or None, default None
        For a table ``X`` (a pandas DataFrame, a dict of columns, a list of records): the
        free-text column(s) and the id column (:func:`genz.items_from_frame`); ``fit``'s
        ``text=``/``id=`` override them. The columns of the fit are remembered (``inputs_``) and
        used by ``predict``, ``predict_interval``, ``transform``, ``score`` and a saved model.
    side_inputs : list of str, "numeric" or None, default None
        Columns (attributes) that enter the predictor directly as side inputs ``u``, next to
        the discovered features: a list of names, or ``"numeric"`` for every numeric column with
        a value in every training row. Taken from ``X`` at ``fit`` and ``predict`` (instead of
        ``U``).

    Attributes (besides the results documented in the README and docs/architecture.md): ``inputs_`` (the
    columns of a table fit), ``n_features_in_`` and ``feature_names_in_`` (the columns of a table ``X``, as
    scikit-learn sets them), ``get_feature_names_out()`` (the descriptors), ``baseline_`` (the zero-shot check,
    README; origin ``"zero-shot"``), ``numbers_check_``, ``text_check_``, ``structure_check_`` and ``numbers_route_`` (README,
    docs/feature-table.md; None when not made or not taken);
    ``fit`` warns (:class:`genz.CheaperRouteWarning`) when either found a cheaper route that predicted better.
    """

    def __init__(
        self,
        fm: Any = "predicates",
        model: Any = "linear",
        algorithm: str = "targeted",
        cycles: int = 12,
        add_per_cycle: int = 5,
        remove_per_cycle: int = 2,
        add_only: int | None = None,
        min_activity: float = 0.02,
        max_iter: int = 100,
        tol: float = 1e-6,
        predictor: str = "priors",
        hypotheses: Any = None,
        discovery_sample: int | None = None,
        selection: Any = None,
        advanced: Any = None,
        random_state: Any = None,
        verbose: int = 0,
        text: Any = None,
        id: Any = None,
        side_inputs: Any = None,
    ) -> None:
        self.fm = fm
        self.model = model
        self.algorithm = algorithm
        self.cycles = cycles
        self.add_per_cycle = add_per_cycle
        self.remove_per_cycle = remove_per_cycle
        self.add_only = add_only
        self.min_activity = min_activity
        self.max_iter = max_iter
        self.tol = tol
        self.predictor = predictor
        self.hypotheses = hypotheses
        self.discovery_sample = discovery_sample
        self.selection = selection
        self.advanced = advanced
        self.random_state = random_state
        self.verbose = verbose
        self.text = text
        self.id = id
        self.side_inputs = side_inputs

    #: settings objects whose fields are reachable as ``name__field`` (scikit-learn's nested
    #: parameters: ``set_params(selection__folds=3)``, GridSearchCV grids)
    _NESTED = {"selection": selection_settings, "advanced": advanced_settings, "model": model_spec}

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters; with ``deep`` also every field of the settings objects
        as ``selection__folds``, ``advanced__eps_min``, ``model__ridge``..."""
        out = super().get_params(deep=False)
        return {**out, **nested_fields(out, self._NESTED)} if deep else out

    def set_params(self, **params: Any) -> "GenZRegressor":
        """Set constructor parameters; ``selection__folds=3`` replaces one field of a settings
        object (the others keep their values)."""
        plain, nested = split_nested(params, self._NESTED)
        super().set_params(**plain)
        for name, changes in nested.items():
            setattr(self, name, replace_fields(self._NESTED[name](getattr(self, name)), name, changes))
        return self

    def __sklearn_tags__(self):
        """X is a sequence of :class:`genz.Item` (not an array); ``transform`` gives the N×K
        judgments; ``y`` may have several columns; fits are random unless seeded."""
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        tags.target_tags.multi_output = True
        tags.non_deterministic = self.random_state is None
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------------------------------------
    def _config(self, seed: int) -> DiscoveryConfig:
        if self.algorithm not in ("targeted", "simple"):
            raise GenZInputError(f"algorithm must be 'targeted' or 'simple', not {self.algorithm!r}")
        if not 0 <= self.min_activity < 0.5:
            raise GenZInputError(f"min_activity must be in [0, 0.5), not {self.min_activity}")
        if self.predictor not in PREDICTORS:
            raise GenZInputError(f"predictor must be one of {', '.join(PREDICTORS)}, not {self.predictor!r}")
        if self.add_only is not None and int(self.add_only) < 1:
            raise GenZInputError(f"add_only must be at least 1 (or None), not {self.add_only}")
        return DiscoveryConfig(
            model=model_spec(self.model), algorithm=self.algorithm, cycles=int(self.cycles),
            add_per_cycle=int(self.add_per_cycle), remove_per_cycle=int(self.remove_per_cycle),
            add_only=None if self.add_only is None else int(self.add_only), min_activity=float(self.min_activity),
            max_iter=int(self.max_iter), tol=float(self.tol), predictor=self.predictor,
            advanced=advanced_settings(self.advanced), seed=seed,
        )

    def _seed(self) -> int:
        """scikit-learn's convention: an int is the seed; None draws one from NumPy's global
        random state; a RandomState draws one from it."""
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _prepare(self, items, Y, U, types=None):
        """Checked items (a table read with the ``text``/``id`` columns), targets (N×D) and side
        inputs (``U``, or the ``side_inputs`` columns); the constructor arguments are checked
        first, as ``genz fit`` checks its options."""
        validate_params(self)
        if isinstance(Y, str):
            raise GenZInputError(f"y={Y!r} is a column name; pass the target values, e.g. "
                                 f"fit(df.drop(columns={Y!r}), df[{Y!r}])")
        if is_table(items):
            items = table_items(items, text=self.text, id=self.id, target=Y, types=types)[0]
        items = _check_items(items)
        ids = [it.id for it in items]
        Y = check_targets(Y, ids)
        if Y.shape[0] != len(items):
            raise GenZInputError(f"targets: {Y.shape[0]} rows for {len(items)} items")
        check_target_values(Y)
        side = None
        if U is None and self.side_inputs is not None:
            side = side_input_columns(self.side_inputs, items, types)
            U = side_matrix(items, side)
        elif U is not None and self.side_inputs is not None:
            raise GenZInputError("side inputs given twice: as U and as side_inputs columns; pass one of them")
        U = check_side_inputs(U, len(items), ids)
        if U is not None:
            check_target_values(U, side, what="side inputs")
        return items, Y, U

    def _sample_rows(self, Y: np.ndarray, seed: int) -> np.ndarray | None:
        """The rows discovery runs on with ``discovery_sample`` (None: all of them)."""
        n = self.discovery_sample
        if n is None:
            return None
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 20:
            raise GenZInputError(f"discovery_sample must be a whole number of at least 20 items (or None), not {n!r}")
        return None if n >= len(Y) else stratified_sample(Y, int(n), seed=seed)

    def make_discovery(self, items, Y, U=None, eval_set=None, target_names=None) -> DiscoveryRun:
        """Validate the inputs and build (without running) the discovery run behind ``fit``;
        the estimator itself is not changed. The algorithm runs on the discovery rows (all
        training rows but the ``Selection.holdout`` share set aside for the findings); with
        ``discovery_sample`` on a stratified sample of them (the run keeps all of them in
        ``sample`` for the bulk judging that follows)."""
        side_array = U is not None and self.side_inputs is None  # (predict gets it again: the route appends to it)
        items, Y_arr, U = self._prepare(items, Y, U)
        names = _target_names(Y, target_names, Y_arr.shape[1])
        if len(names) != Y_arr.shape[1]:
            raise GenZInputError(f"target_names: {len(names)} names for {Y_arr.shape[1]} target columns")
        ev = None
        if eval_set is not None:
            e_items, e_Y = eval_set[0], eval_set[1]
            e_U = eval_set[2] if len(eval_set) > 2 else None
            e_items, e_Y, e_U = self._prepare(e_items, e_Y, e_U)
            if e_Y.shape[1] != Y_arr.shape[1]:
                raise GenZInputError(f"eval_set targets have {e_Y.shape[1]} columns, training targets {Y_arr.shape[1]}")
            if (U is None) != (e_U is None):
                raise GenZInputError("pass side inputs for both the training items and eval_set, or for neither")
            ev = (e_items, e_Y, e_U)
        cfg = self._config(self._seed())
        fm = make_fm(self.fm)
        sample = None
        idx = self._sample_rows(Y_arr, cfg.seed)
        if idx is not None:
            sample = (items, Y_arr, U, idx)
            items, Y_arr, U = [items[i] for i in idx], Y_arr[idx], None if U is None else U[idx]
            fm = _Counting(fm)  # which candidates discovery judged (judgments_saved)
        know = prior_knowledge(self.hypotheses)
        given = [(h, "hypothesis") for h in know.hypotheses] + [(p, "pinned") for p in know.pin]
        sel = selection_settings(self.selection)
        split = None
        if cfg.add_only is None:  # cross-validated choices; findings on untouched rows when there are enough
            n = len(items)
            n_u = int(round(sel.holdout * n))
            n_u = n_u if n_u >= Selection.MIN_HOLDOUT and n - n_u >= MIN_CV_ROWS else 0
            if n - n_u >= MIN_CV_ROWS:
                ia, iu = split_indices(n, cfg.seed, n_u / n) if n_u else (np.arange(n), np.zeros(0, int))
                split = (items, Y_arr, U, ia, iu)
                items, Y_arr, U = [items[i] for i in ia], Y_arr[ia], None if U is None else U[ia]
        disc = Discovery(fm, cfg, items, Y_arr, U, given=given, veto=know.veto)
        return DiscoveryRun(disc, ev, y_1d=np.asarray(Y, dtype=float).ndim == 1, split=split, target_names=names,
                            sample=sample, selection=sel, side_array=side_array)

    def fit(
        self,
        X: Sequence[Item],
        y: Any,
        U: Any = None,
        eval_set: tuple | None = None,
        callbacks: Any = None,
        on_step: Any = None,
        discovery: DiscoveryRun | None = None,
        target_names: Sequence[str] | None = None,
        text: Any = None,
        id: Any = None,
        sample_weight: Any = None,
    ) -> "GenZRegressor":
        """Discover features for items ``X`` with targets ``y`` (N or N×D) and optional side
        inputs ``U`` (N×P). ``eval_set=(items, Y[, U])`` adds test metrics to every history
        step and influences nothing. ``callbacks`` receives progress hooks;
        ``on_step(run, record)`` is called after every step (run directories checkpoint
        there). ``discovery`` continues a run built by :meth:`make_discovery` (e.g. restored
        from a checkpoint). Target names come from ``target_names``, a DataFrame's columns or
        a Series' name, else ``y0``, ``y1``... ``X`` may be a table (a pandas DataFrame):
        ``text``/``id`` name its text and id columns (default: the constructor's), and the
        columns are remembered for ``predict`` (:mod:`genz.estimator_inputs`).
        ``sample_weight``: only equal weights (genz weighs every item equally)."""
        info = None
        if discovery is None:
            if is_table(X):
                validate_params(self)
                X, info = table_items(X, text=text if text is not None else self.text,
                                      id=id if id is not None else self.id, target=y)
                if eval_set is not None and is_table(eval_set[0]):
                    e_items = table_items(eval_set[0], text=info["text"], id=info["id"], types=info["types"],
                                          target=eval_set[1], exclude=info["target"])[0]
                    eval_set = (e_items, *tuple(eval_set)[1:])
            check_sample_weight(sample_weight, len(X) if hasattr(X, "__len__") else 0)
        run = discovery if discovery is not None else self.make_discovery(X, y, U, eval_set, target_names)
        if callbacks is None and self.verbose:
            callbacks = _PrintProgress()
        with blas_threads():
            run.run(callbacks=callbacks, on_step=on_step)
        self._adopt(run)
        if run.sample is not None:
            self._judge_all(run)
        remember_inputs(self, info, run.sample[0] if run.sample is not None else run.items)
        return self

    def _judge_all(self, run: DiscoveryRun) -> None:
        """After discovery on a sample: the final features judged on all items, the predictor
        refitted on all of them (:func:`genz.sampling.judge_in_bulk`), and what the sample
        saved: every candidate judged on the items outside the sample, less the kept features
        judged there."""
        items, Y, U, idx = run.sample
        judge_in_bulk(self, items, Y, U, record=False)
        self.discovery_sample_ = sample_savings(items, idx, len(run.fm.judged), len(self.features_))

    def _adopt(self, run: DiscoveryRun) -> None:
        disc = run.result
        self.fm_ = disc.fm.fm if isinstance(disc.fm, _Counting) else disc.fm
        self.discovery_sample_ = None
        self._y_1d = bool(run.y_1d)
        self.features_ = list(disc.features)
        self.epsilon_ = disc.st.eps.copy()
        self.model_ = disc.model
        self.predictor_ = disc.predictor
        self.sigma2_ = disc.model.sigma2_.copy()
        self.history_ = disc.history
        self.posteriors_ = disc.st.Q.copy()
        self.judgments_ = disc.st.B.copy()
        self.counters_ = dict(disc.counters)
        self.fm_stats_ = disc.fm.stats.snapshot()
        self.n_targets_ = disc.Y.shape[1]
        self.n_side_inputs_ = 0 if disc.U is None else disc.U.shape[1]
        self.train_ids_ = [it.id for it in disc.items]
        self.n_iter_ = max((p["iterations"] for r in disc.history for p in r.get("em_phases", [])), default=0)
        self.target_names_ = list(run.target_names or [f"y{d}" for d in range(self.n_targets_)])
        self.origins_ = [disc.origin.get(f, "mined") for f in self.features_]
        self.coef_, self.intercept_, self.side_coef_ = coefficients(self.predictor_, len(self.features_))
        sel = run.selection or {}
        self.inference_ = sel.get("findings")
        self.baseline_, self.numbers_check_, self.structure_check_, self.numbers_route_, self.text_check_, \
            self.tree_route_ = (sel.get(k) for k in ("baseline", "numbers", "structure", "numbers_route", "text",
                                                     "tree_route"))  # the checks' records
        warn_cheaper_routes(self.baseline_, self.numbers_check_, self.text_check_)  # what genz fit prints, for a notebook
        self.findings_ = [] if self.inference_ is None else self.inference_.findings
        self.cv_gains_ = np.array(sel.get("cv_gains") or np.full((len(self.features_), 2), np.nan), dtype=float)
        self.cv_gains_ = self.cv_gains_.reshape(len(self.features_), 2)
        self.share_yes_ = (disc.st.B > 0.5).mean(axis=0) if len(self.features_) else np.zeros(0)
        self.eps_bounds_ = (disc.cfg.advanced.eps_min, disc.cfg.advanced.eps_init_max)
        self.hypotheses_ = hypothesis_rows(run.selection)
        self.calibration_ = None if run.selection is None else np.asarray(run.selection["calibration"], dtype=float)

    def __getstate__(self) -> dict:
        """Pickling drops a foundation model given by name (it holds locks and connections);
        it is rebuilt from the name. Saving with :meth:`save` is the supported way."""
        state = dict(self.__dict__)
        if isinstance(self.fm, str):
            state.pop("fm_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "features_" in state and "fm_" not in state:
            self.fm_ = make_fm(self.fm)

    def params_json(self) -> dict:
        """The constructor parameters as JSON (the foundation model by name)."""
        params = self.get_params(deep=False)
        fm = params["fm"]
        params["fm"] = fm if isinstance(fm, str) else getattr(getattr(self, "fm_", fm), "name", "custom")
        params["model"] = to_json(model_spec(self.model))
        params["advanced"] = to_json(advanced_settings(self.advanced))
        params["selection"] = to_json(selection_settings(self.selection))
        params["hypotheses"] = to_json(prior_knowledge(self.hypotheses))
        if not isinstance(params["random_state"], (int, np.integer, type(None))):
            params["random_state"] = None
        return params

    # ------------------------------------------------------------------------------------------
    def transform(self, X: Sequence[Item], text: Any = None, id: Any = None, allow_missing: bool = False) -> np.ndarray:
        """The N×K matrix of FM judgments (0/1) of the discovered features for items X (a table
        is read as in :meth:`predict`); its columns are :meth:`get_feature_names_out`."""
        check_is_fitted(self, "features_")
        return self._judgments(self._new_items(X, text, id, allow_missing)[0])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The descriptors of the kept features: the names of :meth:`transform`'s columns."""
        check_is_fitted(self, "features_")
        return np.asarray(list(self.features_), dtype=object)

    def _new_items(self, X: Any, text: Any = None, id: Any = None, allow_missing: bool = False
                   ) -> tuple[list[Item], np.ndarray | None]:
        """New items and their side inputs, read as the training table was
        (:func:`genz.estimator_inputs.new_items`)."""
        return new_items(self, X, text=text, id=id, allow_missing=allow_missing)

    def _judgments(self, items: list[Item]) -> np.ndarray:
        out = np.zeros((len(items), len(self.features_)), dtype=int)
        for k, d in enumerate(self.features_):
            out[:, k] = self.fm_.judge(d, items).values
        return out

    def predict(self, X: Sequence[Item], U: Any = None, return_std: bool = False, text: Any = None,
                id: Any = None, allow_missing: bool = False) -> Any:
        """Predict targets of new items from FM judgments only (docs/equations.md §5). With ``return_std``
        also the predictive standard deviation, ``sqrt(σ²_d + Σ_k w_dk² q_k(1 − q_k))``: the
        model's noise plus the spread from features the FM may have judged wrongly (``q`` the
        FM prior; for the MLP ``w`` is its reference-point effect). A table ``X`` is read as
        the training table was (its text, id and column types, ``inputs_``; ``text``/``id``
        override); a table without a column the kept features test is an error naming it,
        unless ``allow_missing=True`` (the column then counts as empty cells)."""
        check_is_fitted(self, "features_")
        items, U_cols = self._new_items(X, text, id, allow_missing)
        U = route_side_inputs(self, items, U, U_cols)  # with what a route appends
        if self.n_side_inputs_ and U is None:
            raise GenZInputError(f"this model was fitted with {self.n_side_inputs_} side inputs; pass U")
        U = check_side_inputs(U, len(items), [it.id for it in items])
        if U is not None and U.shape[1] != self.n_side_inputs_:
            raise GenZInputError(f"side inputs have {U.shape[1]} columns, the model was fitted with {self.n_side_inputs_}")
        B = self._judgments(items).astype(float)
        Q = new_item_q(B, self.epsilon_, self.predictor)
        P = tree_blend(getattr(self, "tree_route_", None), items, self.predictor_.predict(Q, U), U)  # Selection.tree_route
        flat = (lambda A: A[:, 0]) if self._y_1d and P.shape[1] == 1 else (lambda A: A)
        if not return_std:
            return flat(P)
        W = np.asarray(self.predictor_.weights(), dtype=float).reshape(P.shape[1], -1)
        return flat(P), flat(predictive_std(self.predictor_.sigma2_, W, Q))

    def predict_interval(self, X: Sequence[Item], level: float = 0.9, U: Any = None, *, text: Any = None,
                         id: Any = None, allow_missing: bool = False) -> tuple[Any, Any]:
        """A robust ``level`` prediction interval ``(low, high)``: ``ŷ ± c·sd`` with ``sd`` from
        ``predict(return_std=True)`` and ``c`` the conformal quantile (rank ⌈(n+1)·level⌉) of
        the standardized out-of-fold errors of the final structure over every training row
        (each row predicted by the structure fitted on the other folds; the structure itself
        was chosen on those rows, so the quantile can be slightly optimistic). Unlike the
        Gaussian ``z·sd`` it adapts to heavy tails; it assumes new items are exchangeable with
        the training items. Without cross-validated selection (``add_only``, or too few items)
        the Gaussian quantile is used. ``predict_interval(X, 0.9)`` and
        ``predict_interval(X, level=0.9)`` are the same; side inputs go by keyword (``U=``)."""
        from scipy.stats import norm

        check_is_fitted(self, "features_")
        if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
            raise GenZInputError(f"level must be a number in (0, 1), not a {type(level).__name__}; pass side inputs "
                                 "by keyword: predict_interval(X, level=0.9, U=U)")
        if not 0 < level < 1:
            raise GenZInputError(f"level must be in (0, 1), not {level}")
        P, sd = self.predict(X, U, return_std=True, text=text, id=id, allow_missing=allow_missing)
        Z = getattr(self, "calibration_", None)
        if Z is None or len(Z) == 0:
            c = np.full(self.n_targets_, norm.ppf(0.5 + level / 2))
        else:
            n = Z.shape[0]
            k = min(int(np.ceil((n + 1) * level)), n)
            c = np.sort(Z, axis=0)[k - 1]
        c = c[0] if np.ndim(P) == 1 else c
        return P - c * sd, P + c * sd

    def feature_table(self) -> Any:
        """One row per (feature, target), findings first (docs/feature-table.md):

        * ``weight``: the predictor's coefficient (``coef_``; refitted on every training row,
          shrunk by its ridge) — what ``predict`` uses;
        * ``finding``: whether the feature is a finding (``findings_``): its effect survives the
          stated error control (``Selection.error_rate``, ``correction``) on the untouched rows;
        * ``effect``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value``: the effect of the latent
          property estimated by least squares on the untouched rows, its interval (95% by
          default; a finding's interval is adjusted for its selection,
          :attr:`genz.findings.FindingsResult.levels`), the test's p-value and its adjusted
          value (``inference_``; NaN without untouched rows);
        * ``cv_gain`` ± ``cv_gain_se``: how much the cross-validated loss on the discovery rows
          rises when the feature alone is dropped (in units of the target's variance);
        * ``epsilon``, ``epsilon_note`` (``"at floor"`` / ``"at cap"``: ε not identified),
          ``share_yes``, ``origin``.

        A pandas DataFrame when pandas is installed, else a list of dicts."""
        check_is_fitted(self, "features_")
        rows = build_feature_table(self)
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows, columns=list(FEATURE_TABLE_COLUMNS))

    def evaluate(self, X: Sequence[Item], y: Any, U: Any = None, **table: Any) -> dict[str, float]:
        """The metrics of :func:`genz.metrics.regression_metrics` on (X, y) (``table``: the
        keywords of :meth:`predict` for a table X)."""
        return regression_metrics(check_targets(y), self.predict(X, U, **table))

    # ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to a directory (:func:`genz.model_files.save_model`)."""
        from .model_files import save_model
        return save_model(self, path)

    make_fm = staticmethod(make_fm)  # what load resolves a backend with (genz.model_files)

    @classmethod
    def load(cls, path: str | os.PathLike, fm: Any = None) -> "GenZRegressor":
        """Load a model saved by :meth:`save`; ``fm`` overrides its backend (:func:`genz.model_files.load_model`)."""
        from .model_files import load_model
        return load_model(cls, path, fm)


def _target_names(Y: Any, names: Sequence[str] | None, D: int) -> list[str]:
    """Names from ``names``, a DataFrame's columns or a Series' name; else y0, y1, ..."""
    if names is not None:
        return [str(n) for n in names]
    cols = getattr(Y, "columns", None)
    if cols is not None:
        return [str(c) for c in cols]
    if getattr(Y, "name", None) is not None and D == 1:
        return [str(Y.name)]
    return [f"y{d}" for d in range(D)]


class _PrintProgress:
    """Minimal progress for ``verbose=1``: one line per step on stderr."""

    def on_step_end(self, rec: dict) -> None:
        import sys

        tr = rec["train"]
        key = "median_ae" if "median_ae" in tr else "cosine"
        te = rec["test"][key] if rec.get("test") else float("nan")
        em = f"  [EM not converged in {rec['em_not_converged']} phase(s)]" if rec.get("em_not_converged") else ""
        print(
            f"step {rec['step']:3d} {rec['action']:7s} K={rec['n_features']:2d} train {key}={tr[key]:.4f} "
            f"test {key}={te:.4f}  {rec['feature'] or ''}{em}",
            file=sys.stderr,
        )
