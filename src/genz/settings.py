"""The grouped settings of :class:`genz.GenZRegressor`.

* :class:`Linear` and :class:`MLP` choose the observation model ``g(z, u; θ)`` (docs/equations.md §3-§4);
  ``GenZRegressor(model="linear")`` / ``"mlp"`` mean ``Linear()`` / ``MLP()``.
* :class:`Advanced` holds the switches that a user rarely needs: the ε floor and start,
  experiments with soft judgments, the exemplar and candidate counts, EM's minor stopping rules.
  Pass an ``Advanced(...)`` or a dict of its fields.
* :class:`Selection` says how features are kept for the predictor (cross-validation) and how
  the findings are tested (on rows no choice touched).
* :class:`PriorKnowledge` holds what the user already believes: hypotheses to test, features to
  pin, descriptors to veto.

All of them are plain dataclasses (compared by value, so scikit-learn's ``clone`` and
``get_params`` treat them as ordinary parameters) and serialise to JSON with :func:`to_json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from .errors import GenZInputError

#: the findings' corrections over the features tested (:mod:`genz.findings`), by the name
#: ``Selection.correction`` takes, with the name the feature table prints
CORRECTIONS = {"by": "Benjamini-Yekutieli", "bh": "Benjamini-Hochberg", "holm": "Holm", "bonferroni": "Bonferroni"}
#: what the numbers route may take (Selection.route_inputs)
ROUTE_INPUTS = ("numbers", "table")

__all__ = ["Linear", "MLP", "Advanced", "Selection", "PriorKnowledge", "model_spec", "advanced_settings",
           "selection_settings", "prior_knowledge"]


@dataclass(frozen=True)
class Linear:
    """The linear model ``g(z, u) = W [z; u; 1]`` with exact mean-field expectations (docs/equations.md §4).

    ``ridge`` adds ``ridge · N`` to the diagonal of the M-step's normal equations (eq. 29) for
    the feature and side-input columns, never the constant; 0 (the default) is the paper's
    maximum-likelihood M-step."""

    ridge: float = 0.0

    kind = "linear"


@dataclass(frozen=True)
class MLP:
    """The MLP ``g(z, u) = MLP([z; u])`` evaluated at the posterior mode (docs/equations.md §3, paper §5).

    Paper defaults: ``hidden=(64, 32)``, ReLU, ``dropout=0.1``, Adam with ``lr=1e-3``,
    ``epochs=100`` for a full fit, ``batch_size=32``. Inside EM the network is warm-started and
    trained ``em_epochs`` per M-step, for at most ``em_max_iter`` EM iterations per phase (its
    stochastic gradient never settles exactly)."""

    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    em_epochs: int = 10
    em_max_iter: int = 10

    kind = "mlp"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))


@dataclass(frozen=True)
class Advanced:
    """Rarely changed settings of a GenZ fit (every one documented here).

    Error rates ε (docs/equations.md §2, eq. 14):
        ``eps_min``: the floor of ε (a feature at the floor is treated as almost exactly what
        the foundation model says). ``eps_init_max``: the largest starting ε of a new feature.
        ``eps_from_prob``: start ε from the foundation model's P(yes) where the backend gives
        it (experimental). ``soft_judgments``: use P(yes) in place of the 0/1 judgment
        (experimental).
    EM (docs/equations.md §9): ``em_min_iter`` iterations at least; converged also needs
        ``max |Δq| < em_q_tol`` (besides ``tol`` on the bound).
    Error rates of the final features (docs/noise-model.md): ``eps_estimator="structured"``
        re-estimates ε, the weights and the posteriors of the final features with an exact
        posterior over the ``eps_strong`` strongest features (within ``eps_flips`` wrong
        judgments per item) and ε pooled across features with ``eps_pool`` pseudo-judgments
        (``genz.error_rates``); ``"mean_field"`` keeps the mean-field EM's ε (the paper's, biased
        towards the floor when the target cannot tell which judgment was wrong). ``eps_fixed``:
        hold every ε at this value instead of learning it (0: the judgments are taken as exact,
        the posterior is the judgment and the predictor a plain regression on the judgments).
    Mining (Algorithms 1-2): ``n_candidates`` characteristics asked of foundation models that
        offer several (the one lowering the cross-validated loss most is judged best);
        ``n_exemplars`` per side (None: the backend's ``max_exemplars``, else 20);
        ``weighted_mining`` passes |L⁺ − L⁻| as exemplar weights; ``decoupled_init`` starts the
        decoupled feature from the main residual direction (``"residual"``) or a fair coin
        (``"random"``); a targeted group needs ``min_group`` items and ``min_group_side`` on
        each side, else the addition falls back to all items.
    Screening (docs/scale.md): ``screen_sample`` items of the discovery rows on which several
        mined candidates are judged (and cross-validated) first; only the winner, by the same rule as without screening, is then judged on every item.
        ``"auto"``: 500 items when the foundation model's judgments cost (an LLM, not the
        offline engine) and there are at least 1,000 discovery items; a number: that many
        whatever the backend; None: every candidate judged on every item.
    Removal (Algorithm 3): ``remove_refit_iter`` EM iterations to score each candidate
        removal by the bound (None: 3 for the linear model, 0 for the MLP); used only without
        cross-validated selection (``add_only``, or too few items).
    How features are kept, and which are findings, is :class:`Selection`.
    """

    eps_min: float = 1e-3
    eps_init_max: float = 0.25
    eps_from_prob: bool = False
    soft_judgments: bool = False
    em_min_iter: int = 5
    em_q_tol: float = 1e-3
    eps_estimator: str = "structured"
    eps_pool: float = 200.0
    eps_strong: int = 8
    eps_flips: int = 4
    eps_fixed: float | None = None
    n_candidates: int = 5
    screen_sample: int | str | None = "auto"
    n_exemplars: int | None = None
    weighted_mining: bool = True
    decoupled_init: str = "residual"
    min_group: int = 10
    min_group_side: int = 3
    remove_refit_iter: int | None = None

    def check(self) -> None:
        if not 0 < self.eps_min < 0.5:
            raise GenZInputError(f"advanced eps_min must be in (0, 0.5), not {self.eps_min}")
        if not self.eps_min <= self.eps_init_max <= 0.5:
            raise GenZInputError(f"advanced eps_init_max must be in [eps_min, 0.5], not {self.eps_init_max}")
        if self.eps_estimator not in ("structured", "mean_field"):
            raise GenZInputError(f"advanced eps_estimator must be 'structured' or 'mean_field', not {self.eps_estimator!r}")
        if self.eps_pool < 0 or self.eps_strong < 0 or self.eps_flips < 1:
            raise GenZInputError("advanced eps_pool and eps_strong must be >= 0 and eps_flips >= 1")
        if self.eps_fixed is not None and not 0 <= self.eps_fixed < 0.5:
            raise GenZInputError(f"advanced eps_fixed must be in [0, 0.5) or None, not {self.eps_fixed}")
        if self.decoupled_init not in ("residual", "random"):
            raise GenZInputError(f"advanced decoupled_init must be 'residual' or 'random', not {self.decoupled_init!r}")
        if self.n_candidates < 1:
            raise GenZInputError("advanced n_candidates must be at least 1")
        s = self.screen_sample
        if not (s is None or s == "auto" or (isinstance(s, int) and not isinstance(s, bool) and s >= 20)):
            raise GenZInputError(f"advanced screen_sample must be 'auto', None or a number of at least 20 items, not {s!r}")


@dataclass(frozen=True)
class Selection:
    """How a fit chooses its features, and how it tests which of them are findings
    (docs/feature-table.md).

    One fit gives two answers. **The predictor** (``features_``, ``coef_``, ``predict``) keeps
    what lowers the K-fold cross-validated loss of the predictor at the FM priors, with its
    ridge shrinkage, over the discovery rows (:mod:`genz.selection`):

    ``folds`` (default 5): folds of that cross-validation; every keep / remove / stop / size
        decision uses it.
    ``patience`` (default 2): whole cycles without a new best cross-validated loss before
        discovery stops (one cycle's removals pay off only with the next cycle's additions).

    **The findings** (``findings_``, ``inference_``) are the features whose effect survives a
    stated error control on rows that no choice touched (:mod:`genz.findings`):

    ``holdout`` (default 0.3): the share of the training rows set aside before discovery; the
        findings are tested there by least squares, and those rows join the others only for the
        predictor's final refit. 0: no findings (discovery and the predictor use every row).
        Also no findings when fewer than 30 rows would be set aside.
    ``error_rate`` (default 0.05): α, the stated error level of the findings.
    ``correction`` (default ``"by"``): ``"by"``, Benjamini-Yekutieli: the expected share of
        false findings among the findings is at most α whatever the dependence between the
        features' estimates (features over the same rows are correlated: proxies of each other,
        cuts of one number); ``"bh"``, Benjamini-Hochberg: the same for independent (or
        positively dependent) estimates, more findings; ``"holm"``: the probability of any false
        finding is at most α; ``"bonferroni"``: the same, more conservative. The findings'
        intervals follow the correction (:attr:`genz.findings.FindingsResult.levels`).
    ``located`` (default 0.7): a cut of a number (``'vintage' is at least 2008``, alone or in a
        conjunction) or a phrase is tested as a finding only when at least this share of
        bootstrap resamples of the discovery rows put its cut (phrase) where it is, give or take
        5% of the items (the offline engine's ``locate``); otherwise its position is noise and
        it stays a supporting feature, estimated on the untouched rows as a control beside the
        findings but not tested. 0: every feature is tested.
    ``discovery_p`` (default 0.05): a feature is tested as a finding only when the same test on
        the *discovery* rows (least squares with the whole structure and the side inputs) gives
        it a p-value of at most ``discovery_p`` (screen and clean: the discovery rows screen, the
        untouched rows test, so the screen spends none of the error rate); the others stay
        supporting features, estimated on the untouched rows as controls, outside the
        correction's family. A feature the predictor keeps for a small cross-validated gain
        then no longer dilutes the correction. 1: no screen (every placed feature is tested).
    ``extend`` (default True): once the findings are tested, discovery goes on over every
        training row (the set-aside ones included), from the tested structure, to improve the
        predictor; the findings stay as tested and stay in the model. False: the predictor is
        the tested structure refitted on every row (faster; fewer foundation-model calls).
    ``max_features`` (default None: no limit): a budget of features. Once the model holds
        that many, discovery mines no more until a removal makes room, so the predictor never
        uses more (for a comparison at equal budget with a sparse model, or a short list to read).
    ``numbers_route`` (default True since stop 36, chosen on development data: docs/user-guide.md):
        when the numbers check (README) finds that a ridge on the table's numeric columns predicted the untouched rows better than the discovered structure
        by more than one standard error, the predictor becomes that route: the numeric columns as
        side inputs beside the findings and pinned features only (no other discovered feature,
        no zero-shot proposal). For tables whose target follows its numbers along lines; the
        findings do not change. Only when discovery ran on every row (no ``discovery_sample``); side
        inputs given as an array ``U`` are extended (predict appends the columns, since stop 39). False: the
        check only reports (``numbers_check_``, a :class:`genz.CheaperRouteWarning`).
    ``route_se`` (default 1.0): how clear the ridge's win must be for the numbers route: the route
        is taken when the ridge's loss on the untouched rows is below the structure's by more than
        ``route_se`` standard errors of the paired difference. 0: whenever the ridge is ahead; −1:
        the cheaper ridge unless the structure is ahead by more than one standard error (the
        one-standard-error rule with the ridge as the simpler model). From −3 to 3.
    ``route_inputs`` (default ``"table"`` since stop 38, chosen on development data:
        docs/user-guide.md): what the numbers route may take. ``"numbers"``: the ridge on the
        numeric columns as they are (stops 36-37). ``"table"``: also a practitioner's ridge on the
        table, which the numbers check fits beside it (each numeric column, as its log when its
        values are positive and skewed; each category column one-hot over its levels seen at least
        twice): the route takes whichever of the two is ahead by more than ``route_se`` standard
        errors (both: the one with the smaller loss on the untouched rows), and the predictor's
        side inputs are that ridge's columns. With ``"numbers"``, ``genz fit`` says when the
        table's ridge was ahead and was left (a :class:`genz.CheaperRouteWarning` in Python).
    ``text_route`` (default True since stop 40, chosen on development data and then run once on
        every reported lane whose items have texts; docs/user-guide.md): when
        the text check (README; :func:`genz.selection.text_check`) ran and no numbers route was
        taken, try a ridge on the TF-IDF of the items' texts as a side input beside the discovered
        features: its prediction (out-of-fold on the discovery rows), beside phase 1's structure,
        must lower the untouched rows' loss by more than :data:`genz.selection.TEXT_UNION_SE` (2)
        standard errors and by more than :data:`genz.selection.TEXT_UNION_REL` (1%, since stop 41)
        of that loss. Then the
        predictor's side inputs end with that prediction (per target; out-of-fold over every
        training row for the fit, the ridge refitted on every row for new items), beside every
        feature it would have used. For texts whose target is spread over many words; the findings
        do not change. A fit whose union gain is at most two standard errors is the fit False
        gives. False: the check only reports (``text_check_``, a :class:`genz.CheaperRouteWarning`).
    ``tree_route`` (default True since stop 44, chosen on development data by a rule written before
        the runs: docs/user-guide.md, "The tree route"): with one target, a table (numeric or category
        columns) and untouched rows, try blending the predictor with gradient-boosted trees on the
        table's columns (LightGBM, :mod:`genz.tree_route`): ``(1 − a)·predictor + a·trees``, the
        share ``a`` in [0, 1] fitted on the untouched rows (each row scored with the share of the
        other folds), both fitted on the discovery rows; taken when the blend lowers the untouched
        rows' loss by more than one standard error and more than 1% of it
        (:func:`genz.tree_route.tree_gains`). Then ``predict``
        blends the predictor (unchanged) with the trees refitted on every training row
        (``tree_route_``, which a saved model keeps as LightGBM's text format). The findings and
        the features do not change. False: the fit never fits trees (a fit the route did not take
        predicts as it would with False). Uses ``lightgbm``, a dependency of genz.
    ``blend_words`` (default False): when the items also have texts, the tree route's blend may add
        the words' ridge (:class:`genz.text_ridge.TextRidge`, the text check's model):
        ``(1 − a_t − a_w)·predictor + a_t·trees + a_w·words``, shares on the simplex, scored and
        taken by the same rule. Off by default: on development data it helped houses and cost a
        simulated setting 4% (docs/user-guide.md, "The tree route"); either way the fit reports
        what the blend with the words would have done (``tree_route_["words"]``).
    """

    folds: int = 5
    patience: int = 2
    holdout: float = 0.3
    error_rate: float = 0.05
    correction: str = "by"
    located: float = 0.7
    discovery_p: float = 0.05
    extend: bool = True
    max_features: int | None = None
    numbers_route: bool = True
    route_se: float = 1.0
    route_inputs: str = "table"
    text_route: bool = True
    tree_route: bool = True
    blend_words: bool = False

    MIN_HOLDOUT = 30  # fewest rows set aside for findings

    def check(self) -> None:
        def whole(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def real(v: Any) -> bool:
            return isinstance(v, (int, float, np.floating)) and not isinstance(v, bool)

        if not whole(self.folds) or not 2 <= self.folds <= 20:
            raise GenZInputError(f"selection folds must be a whole number from 2 to 20, not {self.folds!r}")
        if not whole(self.patience) or self.patience < 1:
            raise GenZInputError(f"selection patience must be a whole number of cycles, at least 1, not {self.patience!r}")
        if not real(self.holdout) or not 0 <= self.holdout <= 0.6:
            raise GenZInputError(f"selection holdout must be a share from 0 to 0.6 of the training rows, not {self.holdout!r}")
        if not isinstance(self.error_rate, (int, float, np.floating)) or not 0 < self.error_rate < 0.5:
            raise GenZInputError(f"selection error_rate must be in (0, 0.5), not {self.error_rate!r}")
        if not real(self.located) or not 0 <= self.located <= 1:
            raise GenZInputError(f"selection located must be a share from 0 to 1, not {self.located!r}")
        if not real(self.discovery_p) or not 0 < self.discovery_p <= 1:
            raise GenZInputError(f"selection discovery_p must be a p-value level in (0, 1], not {self.discovery_p!r}")
        if not isinstance(self.extend, (bool, np.bool_)):
            raise GenZInputError(f"selection extend must be True or False, not {self.extend!r}")
        if not isinstance(self.numbers_route, (bool, np.bool_)):
            raise GenZInputError(f"selection numbers_route must be True or False, not {self.numbers_route!r}")
        if not isinstance(self.text_route, (bool, np.bool_)):
            raise GenZInputError(f"selection text_route must be True or False, not {self.text_route!r}")
        if not isinstance(self.tree_route, (bool, np.bool_)):
            raise GenZInputError(f"selection tree_route must be True or False, not {self.tree_route!r}")
        if not isinstance(self.blend_words, (bool, np.bool_)):
            raise GenZInputError(f"selection blend_words must be True or False, not {self.blend_words!r}")
        if not real(self.route_se) or not -3 <= self.route_se <= 3:
            raise GenZInputError(f"selection route_se must be a number of standard errors from -3 to 3, not {self.route_se!r}")
        if self.route_inputs not in ROUTE_INPUTS:
            raise GenZInputError(f"selection route_inputs must be one of {', '.join(map(repr, ROUTE_INPUTS))}, "
                                 f"not {self.route_inputs!r}")
        if self.max_features is not None and (not whole(self.max_features) or self.max_features < 1):
            raise GenZInputError(f"selection max_features must be None or a whole number, at least 1, not {self.max_features!r}")
        if self.correction not in CORRECTIONS:
            raise GenZInputError(f"selection correction must be one of {', '.join(map(repr, CORRECTIONS))}, "
                                 f"not {self.correction!r}")



@dataclass(frozen=True)
class PriorKnowledge:
    """What the user already believes.

    ``hypotheses``: descriptors judged like mined features and kept only if they earn their
    place; ``pin``: descriptors kept whatever the evidence; ``veto``: descriptors never mined."""

    hypotheses: tuple[str, ...] = ()
    pin: tuple[str, ...] = ()
    veto: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("hypotheses", "pin", "veto"):
            vals = getattr(self, name)
            if isinstance(vals, str):
                vals = (vals,)
            object.__setattr__(self, name, tuple(str(v).strip() for v in vals if str(v).strip()))


def _coerce(cls: type, value: Any, what: str) -> Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        names = {f.name for f in fields(cls)}
        bad = sorted(set(value) - names)
        if bad:
            raise GenZInputError(f"{what}: unknown setting(s) {', '.join(bad)}; known: {', '.join(sorted(names))}")
        return cls(**value)
    raise GenZInputError(f"{what} must be a {cls.__name__}, a dict or None, not {type(value).__name__}")


def model_spec(model: Any) -> Linear | MLP:
    """``"linear"`` → ``Linear()``, ``"mlp"`` → ``MLP()``; a spec or a dict with ``kind`` as is."""
    if isinstance(model, (Linear, MLP)):
        return model
    if isinstance(model, str) and model in ("linear", "mlp"):
        return Linear() if model == "linear" else MLP()
    if isinstance(model, Mapping) and model.get("kind") in ("linear", "mlp"):
        rest = {k: v for k, v in model.items() if k != "kind"}
        return _coerce(Linear if model["kind"] == "linear" else MLP, rest, "model")
    raise GenZInputError(f"model must be 'linear', 'mlp', genz.Linear(...) or genz.MLP(...), not {model!r}")


MOVED_TO_SELECTION = {"validation": "holdout", "n_bootstrap": None}


def advanced_settings(value: Any) -> Advanced:
    if isinstance(value, Mapping) and set(value) & set(MOVED_TO_SELECTION):
        old = sorted(set(value) & set(MOVED_TO_SELECTION))[0]
        new = MOVED_TO_SELECTION[old]
        raise GenZInputError(f"advanced {old} is gone: how features are kept and tested is now genz.Selection "
                             f"(folds, patience, holdout, error_rate, correction)"
                             + ("; the share of rows set aside is Selection(holdout=...)" if new else ""))
    adv = _coerce(Advanced, value, "advanced")
    adv.check()
    return adv


def selection_settings(value: Any) -> Selection:
    sel = _coerce(Selection, value, "selection")
    sel.check()
    return sel


def prior_knowledge(value: Any) -> PriorKnowledge:
    if isinstance(value, Sequence) and not isinstance(value, (str, Mapping)):
        return PriorKnowledge(hypotheses=tuple(value))
    return _coerce(PriorKnowledge, value, "prior_knowledge")


def to_json(spec: Any) -> dict | None:
    """A settings object as a JSON-able dict (``kind`` added for model specs)."""
    if spec is None:
        return None
    d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()}
    if isinstance(spec, (Linear, MLP)):
        d = {"kind": spec.kind, **d}
    return d


# -- settings objects as nested estimator parameters (``selection__folds``) -------------------------
def nested_fields(params: dict, nested: dict) -> dict:
    """``{"selection__folds": 5, ...}``: every field of each settings object in ``params``
    (``nested``: parameter name → its coercion, e.g. :func:`selection_settings`); an invalid
    value is skipped (fit will say so; ``get_params`` never raises)."""
    out: dict = {}
    for name, coerce in nested.items():
        try:
            spec = coerce(params[name])
        except GenZInputError:
            continue
        out.update({f"{name}__{f.name}": getattr(spec, f.name) for f in fields(spec)})
    return out


def split_nested(params: dict, nested: dict) -> tuple[dict, dict[str, dict]]:
    """``params`` without the ``name__field`` keys of the settings objects in ``nested``, and
    those keys grouped by object: ``{"selection": {"folds": 3}}``."""
    plain, grouped = dict(params), {}
    for key in [k for k in params if "__" in k]:
        name, field_name = key.split("__", 1)
        if name in nested:
            grouped.setdefault(name, {})[field_name] = plain.pop(key)
    return plain, grouped


def replace_fields(spec: Any, name: str, changes: dict) -> Any:
    """``spec`` with the fields ``changes`` replaced; an unknown field is one line naming the
    known ones."""
    known = {f.name for f in fields(spec)}
    bad = sorted(set(changes) - known)
    if bad:
        raise GenZInputError(f"{name}: unknown setting(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    return replace(spec, **changes)
