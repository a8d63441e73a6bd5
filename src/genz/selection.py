"""The predictor's choices inside ``fit``: K-fold cross-validation over the discovery rows.

What new items will have is their FM judgments only, and the predictor for them is the linear
model refitted at the FM priors ``q = (1 − ε) b + ε (1 − b)`` with a ridge (docs/equations.md §5:
exactly a ridge regression on the judgments). So a structure — a set of features with
their error rates — is scored by the **cross-validated loss** of that predictor: the discovery
rows are split once into ``folds`` folds (deterministic from the seed); for each fold the
predictor is fitted on the other folds (eq. 29 at the priors, the mean-field variances
``q(1 − q)`` included, the ridge chosen from :data:`RIDGE_GRID` by the smallest total
cross-validated loss) and predicts the fold; item ``n``'s loss is
``Σ_d (y_nd − ŷ_nd)² / var(y_d)``. Fitting a fold costs a ``J×J`` solve (``J`` = features + side
inputs + 1): the folds cost EM-free linear algebra, never foundation-model calls.

:class:`Discovery` calls this criterion (it sees arrays, not the discovery state) for every
decision that shapes the predictor:

* **keeping a new feature**: kept when it lowers the cross-validated loss by more than half a
  standard error (:func:`keeps`, :data:`KEEP_SE`: a freshly mined descriptor's gain is
  optimistic, as it was mined on these rows); otherwise the addition is undone and the
  descriptor discarded;
* **choosing among mined candidates**: the simplest candidate (the FM's ``complexity``) whose
  gain is within one standard error of the largest (:func:`simplest_within_one_se`);
  a conjunction stays only if it beats its two parts side by side by more than one standard
  error (main effects before interactions);
* **removal** (Algorithm 3): the feature whose drop-one gain is smallest, if it would not be
  kept were it added now (:func:`removable`); otherwise nothing is removed;
* **stopping**: ``patience`` whole cycles without a new best cross-validated loss end the
  schedule;
* **the predictor's structure**: the step of the whole path with the smallest cross-validated
  loss (:func:`best_step`). No pruning: the predictor may keep many small effects, each
  shrunk by the ridge. Which of them are *findings* is a different question, answered on rows
  that none of these choices touched (:mod:`genz.findings`);
* **the foundation model's zero-shot proposals beside the structure**: when the fit has
  untouched rows, the structure tested for findings and the same structure plus the zero-shot
  proposals are each fitted on the discovery rows and scored on the untouched rows
  (:func:`holdout_losses`); the predictor takes the proposals too when that lowers the
  untouched rows' loss by more than :data:`UNION_SE` standard errors (:mod:`genz.discovery_run`).
  Cross-validation cannot make this comparison: the structure was mined on the rows it would
  be scored on, so its cross-validated loss is optimistic, the proposals' is not.

The same fold assignment serves every decision of a fit, so differences between structures
are paired per item (:func:`paired`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .inference import prior_mixture
from .items import numeric_attributes, side_inputs_from_attributes
from .observation.linear import LinearGaussian, _solve_psd, ridge_penalty

__all__ = ["CrossValidation", "paired", "keeps", "removable", "simplest_within_one_se", "best_step",
           "split_indices", "holdout_losses", "holdout_predictions", "RIDGE_GRID", "MIN_CV_ROWS", "UNION_SE", "FALLBACK_SE",
           "structure_check", "numbers_check", "table_spec", "table_matrix", "category_levels"]

#: the ridge values (``ridge · N`` on every column but the constant) tried in each structure
RIDGE_GRID = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
#: fewest discovery rows for cross-validated choices (fewer: the bound decides, as in the paper)
MIN_CV_ROWS = 20


def split_indices(n: int, seed: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The discovery and untouched indices (sorted): a random ``share`` of ``n`` items, from a
    generator of its own (``[seed, 9]``) so discovery's random stream is untouched."""
    rng = np.random.default_rng([int(seed), 9])
    perm = rng.permutation(n)
    n_v = int(round(share * n))
    return np.sort(perm[n_v:]), np.sort(perm[:n_v])


def paired(d: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-item differences ``d`` (the one paired standard error of
    genz's selection)."""
    d = np.asarray(d, dtype=float)
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0, 0.0
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


#: a mined feature is kept when its mean cross-validated gain exceeds this many (paired) standard
#: errors: the descriptor was mined on the same rows, so its cross-validated gain is optimistic.
#: 0.5 was chosen on development seeds: 0 kept 22-32 features on planted tasks with 4-5 true terms
#: (test RMSE 6% above the oracle), 1 cost houses 0.01 in median error (docs/feature-table.md)
KEEP_SE = 0.5
#: the predictor's structure: the smallest step within this many standard errors of the best one
#: (0: the best step itself)
FINAL_SE = 0.0
#: the predictor takes the zero-shot proposals beside its structure when they lower the untouched
#: rows' loss by more than this many paired standard errors: the rule that keeps any feature
#: (:data:`KEEP_SE`). Chosen on development seeds (docs/experiments.md, "The zero-shot proposals
#: beside the structure"): 0 let a gain of 0.006 standard errors add 30 proposals to a planted task
#: the structure already explained; 1 left out houses seeds where they helped
UNION_SE = KEEP_SE
#: the structure check (:func:`structure_check`): when phase 1's structure, fitted on the discovery
#: rows, lowers the untouched rows' loss against no feature at all by no more than this many paired
#: standard errors, the predictor keeps only the findings (and pinned features) and discovery does
#: not go on over every row. 0: only a structure that predicts fresh rows no better than nothing
#: (a pure-noise target: 40-55 features before, docs/feature-table.md). None: never
FALLBACK_SE: float | None = 0.0
#: the text route (``Selection(text_route=True)``): the words' ridge's prediction joins the predictor
#: when, beside phase 1's structure, it lowers the untouched rows' loss by more than this many
#: standard errors. Chosen on development data (docs/user-guide.md, "The text check and the text
#: route"): at 1, 3 of 20 pure-noise simulation fits took it by chance (union z 1.3-1.6; one went
#: from excess MSE 0.003 to 0.072); the posts where it helps had z 3.0-7.5
TEXT_UNION_SE = 2.0
#: ... and by more than this share of the structure's untouched-row loss (a gain a user would
#: notice). Chosen on development data at stop 41 (docs/user-guide.md, "The text check and the
#: text route"): the one development fit that took the route at 2 standard errors with a gain
#: under 1% (simulation `N300` seed 1002, 0.43%) got worse on test; those with 5-48% did not on
#: the whole
TEXT_UNION_REL = 0.01


def text_route_gains(gain: float, se: float, loss: float) -> bool:
    """Whether the words' ridge's prediction beside the structure earns the text route: its paired
    gain on the untouched rows (``gain`` ± ``se``) above :data:`TEXT_UNION_SE` standard errors and
    above :data:`TEXT_UNION_REL` × the structure's loss ``loss`` on those rows."""
    return gain > TEXT_UNION_SE * se and gain > TEXT_UNION_REL * loss


def union_share(text: dict) -> float | None:
    """A text check's union gain as a share of the structure's untouched-row loss (what
    :data:`TEXT_UNION_REL` is compared with; ``genz_loss`` is that loss); None when the union was
    not tried."""
    return text["union_gain"] / text["genz_loss"] if "union_gain" in text and text.get("genz_loss") else None


def keeps(gain: np.ndarray) -> bool:
    """Whether per-item cross-validated gains say a feature lowers the loss (mean gain above
    :data:`KEEP_SE` standard errors, and above 0)."""
    m, se = paired(gain)
    return m > 0.0 and m > KEEP_SE * se


def removable(gain: np.ndarray) -> bool:
    """Whether a feature with these per-item drop-one gains would not be kept if it were added
    now (:func:`keeps`)."""
    return not keeps(gain)


def simplest_within_one_se(names: Sequence[str], gains: Sequence[np.ndarray],
                           complexity: Callable[[str], float] | None = None) -> int:
    """Of candidates with per-item gains, the simplest descriptor (by the FM's ``complexity``,
    where it has one) whose mean gain is within one paired standard error of the best one's,
    the largest gain among equally simple ones. Without a complexity, the largest gain."""
    best = int(np.argmax([np.mean(g) for g in gains]))
    ok = []
    for i, g in enumerate(gains):
        m, se = paired(gains[best] - g)
        if m <= se:
            ok.append((complexity(names[i]) if complexity is not None else 0.0, -float(np.mean(g)), i))
    return min(ok)[2]


def best_step(losses: Sequence[np.ndarray], sizes: Sequence[int]) -> int:
    """Of structures with per-item cross-validated losses, the index of the one with the
    smallest mean loss — or, with :data:`FINAL_SE` > 0, of the smallest structure (``sizes``)
    whose loss is within that many paired standard errors of it (the first one on ties)."""
    means = [float(np.mean(L)) for L in losses]
    best = int(np.argmin(means))
    if FINAL_SE <= 0:
        return best
    ok = [(sizes[i], means[i], i) for i, L in enumerate(losses)
          if (lambda m_se: m_se[0] <= FINAL_SE * m_se[1])(paired(L - losses[best]))]
    return min(ok)[2]


def holdout_losses(Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
                   folds: int, seed: int) -> np.ndarray:
    """Per-item loss ``Σ_d (y_nd − ŷ_nd)² / var(y_d)`` on the rows ``test`` of the predictor at the
    FM priors ``Q`` (N×K, with side inputs ``U``) fitted on the rows ``train`` alone: its ridge
    chosen by :class:`CrossValidation` over ``train`` (``folds`` folds), the side inputs scaled and
    ``var(y)`` taken on ``train``. Nothing about ``test`` but its judgments enters the fit."""
    Y = np.asarray(Y, dtype=float)
    P, y_var = holdout_predictions(Q, U, Y, train, test, folds, seed)
    return ((Y[np.asarray(test)] - P) ** 2 / y_var).sum(axis=1)


def holdout_predictions(Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
                        folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The predictions on the rows ``test`` (len(test)×D) of the predictor :func:`holdout_losses`
    scores, and ``var(y)`` on ``train`` (its loss scale)."""
    Y = np.asarray(Y, dtype=float)
    tr, te = np.asarray(train), np.asarray(test)
    U_tr, U_te = (None, None) if U is None else (U[tr], U[te])
    cv = CrossValidation(Y[tr], U_tr, folds, seed)
    model = LinearGaussian(ridge=cv.predictions(Q[tr])[1])
    model.set_scaling(U_tr, Y[tr])
    model.fit_final(Q[tr], U_tr, Y[tr])
    return model.predict(Q[te], U_te), cv.y_var


class CrossValidation:
    """K-fold cross-validated losses of the predictor at the FM priors (module doc) on a fixed
    set of rows with targets ``Y`` (N×D) and side inputs ``U``."""

    def __init__(self, Y: np.ndarray, U: np.ndarray | None, folds: int, seed: int,
                 y_var: np.ndarray | None = None, fold_of: np.ndarray | None = None) -> None:
        self.Y = np.asarray(Y, dtype=float)
        self.U = U
        n = len(self.Y)
        self.folds = int(max(2, min(folds, n)))
        if fold_of is None:
            fold_of = np.random.default_rng([int(seed), 17]).permutation(n) % self.folds
        self.fold_of = np.asarray(fold_of)
        self.seed = int(seed)
        self.y_var = np.maximum(self.Y.var(axis=0), 1e-300) if y_var is None else y_var
        scaler = LinearGaussian()
        scaler.set_scaling(U, self.Y)
        self.Us = scaler.scale_u(U, n)  # N×P (P may be 0), as the predictor scales them

    def __len__(self) -> int:
        return len(self.Y)

    def subset(self, rows: np.ndarray) -> "CrossValidation":
        """The same criterion on some rows (candidate screening), same folds and loss scale."""
        sub = CrossValidation.__new__(CrossValidation)
        sub.Y, sub.U = self.Y[rows], None if self.U is None else self.U[rows]
        sub.folds, sub.fold_of, sub.seed, sub.y_var = self.folds, self.fold_of[rows], self.seed, self.y_var
        sub.Us = self.Us[rows]
        sub._rows = None
        return sub

    def predictions(self, Q: np.ndarray) -> tuple[np.ndarray, float]:
        """Out-of-fold predictions (N×D) of the structure whose FM priors are the columns of
        ``Q`` (N×K), at the ridge of :data:`RIDGE_GRID` with the smallest total loss, and that
        ridge. Each fold's normal equations are the totals minus the fold's own (one pass over
        the rows); each (fold, ridge) pair costs a J×J solve."""
        n = len(self.Y)
        M = np.hstack([Q, self.Us, np.ones((n, 1))])
        J = M.shape[1]
        parts = []  # per fold: rows, design, targets, Gram, right-hand side (least squares on the
        # priors, as the predictor's fit_final: no variance term)
        for idx in self._fold_rows():
            Mf, Yf = M[idx], self.Y[idx]
            G = Mf.T @ Mf
            parts.append((idx, Mf, Yf, G, Mf.T @ Yf))
        G_all, r_all = sum(p[3] for p in parts), sum(p[4] for p in parts)
        best, best_loss, best_lam = None, np.inf, 0.0
        for lam in RIDGE_GRID:
            preds, loss = [], 0.0
            for idx, Mf, Yf, Gf, rf in parts:
                n_tr = n - len(idx)
                if n_tr == 0:
                    Pf = np.broadcast_to(self.Y.mean(axis=0), Yf.shape)
                else:
                    G = G_all - Gf
                    G[np.arange(J), np.arange(J)] += ridge_penalty(J, n_tr, lam)
                    Pf = Mf @ _solve_psd(G, r_all - rf)
                preds.append(Pf)
                loss += float(((Yf - Pf) ** 2 / self.y_var).sum())
            if best is None or loss < best_loss - 1e-12 * abs(best_loss):
                best, best_loss, best_lam = preds, loss, lam
        P = np.empty_like(self.Y)
        for (idx, *_), Pf in zip(parts, best):
            P[idx] = Pf
        return P, float(best_lam)

    def _fold_rows(self) -> list[np.ndarray]:
        """The row indices of each fold (computed once)."""
        rows = getattr(self, "_rows", None)
        if rows is None:
            rows = self._rows = [np.flatnonzero(self.fold_of == f) for f in range(self.folds)]
        return rows

    def losses(self, Q: np.ndarray) -> np.ndarray:
        """Per-item cross-validated loss ``Σ_d (y_nd − ŷ_nd)² / var(y_d)`` of the structure
        whose FM priors are the columns of ``Q``."""
        P, _ = self.predictions(Q)
        return ((self.Y - P) ** 2 / self.y_var).sum(axis=1)


class CrossValidatedChoices:
    """The cross-validated criterion as discovery asks it (:class:`genz.discovery.Discovery`
    mixes this in): losses and gains of the current structure (``self.st``, ``self.features``,
    ``self.cfg``) under ``self.criterion`` (a :class:`CrossValidation`, or None: the bound
    decides), with the current structure's losses cached in ``self._base``."""

    def priors(self) -> np.ndarray:
        """Every feature at its FM prior ``(1 − ε) b + ε (1 − b)``: what a new item has, and
        what the predictor and the criterion use."""
        return prior_mixture(self.st.B, self.st.eps)

    def cv_losses(self, extra: np.ndarray | None = None, rows: np.ndarray | None = None,
                  crit: CrossValidation | None = None, drop: int | None = None) -> np.ndarray:
        """Per-item cross-validated losses of the current structure (minus feature ``drop``;
        plus the judgments ``extra`` as new features at ε = ``eps_min``), on the criterion's
        rows or a subset ``rows`` scored by ``crit``."""
        crit = self.criterion if crit is None else crit
        Q = self.priors() if rows is None else self.priors()[rows]
        if drop is not None:
            Q = np.delete(Q, drop, axis=1)
        if extra is not None:
            Q = np.column_stack([Q, prior_mixture(np.reshape(extra, (len(Q), -1)), self.cfg.advanced.eps_min)])
        return crit.losses(Q)

    def base_losses(self) -> np.ndarray:
        """:meth:`cv_losses` of the current structure, computed once per structure and ε."""
        key = (tuple(self.features), self.st.eps.tobytes())
        if self._base is None or self._base[0] != key:
            self._base = (key, self.cv_losses())
        return self._base[1]

    def cv_gain(self, b: np.ndarray, rows: np.ndarray | None = None, crit: CrossValidation | None = None) -> np.ndarray:
        """Per item, the cross-validated loss decrease from adding the judgments ``b`` (one
        column, or several side by side) to the current structure."""
        base = self.base_losses() if rows is None else self.cv_losses(rows=rows, crit=crit)
        return base - self.cv_losses(extra=b, rows=rows, crit=crit)

    def cv_drop_gain(self, k: int) -> np.ndarray:
        """Per item, the cross-validated loss increase when feature ``k`` is dropped."""
        return self.cv_losses(drop=k) - self.base_losses()

    def new_feature_gain(self) -> np.ndarray | None:
        """Per item, the cross-validated gain of the feature just added (the last one); None
        without cross-validated selection."""
        return None if self.criterion is None else self.cv_drop_gain(self.st.K - 1)

    @staticmethod
    def rejects(gain: np.ndarray | None) -> str | None:
        """Why a feature with this :meth:`new_feature_gain` is undone (it does not lower the
        cross-validated loss), or None (kept, or no cross-validated selection)."""
        if gain is None or keeps(gain):
            return None
        m, se = paired(gain)
        return f"does not lower the cross-validated loss ({m:+.4f} ± {se:.4f})"


def numeric_columns(items: Sequence) -> tuple[list[str], np.ndarray | None]:
    """The attributes with a finite number (not a boolean) for every item
    (:func:`genz.items.numeric_attributes`, less those with a NaN or an infinity), and their N×P matrix."""
    cols = numeric_attributes(items)
    X = np.array([[float(it.attributes[c]) for c in cols] for it in items], dtype=float).reshape(len(items), len(cols))
    keep = np.isfinite(X).all(axis=0)
    if not keep.any():
        return [], None
    return [c for c, k in zip(cols, keep) if k], X[:, keep]


#: the table ridge (:func:`table_spec`): a category column has at most this share of distinct values
#: among the rows (more: an identifier or free text), levels seen at least :data:`TABLE_MIN_COUNT`
#: times, the :data:`TABLE_MAX_LEVELS` most frequent of them
TABLE_MAX_DISTINCT = 0.5
TABLE_MIN_COUNT = 2
TABLE_MAX_LEVELS = 50
#: a positive numeric column whose skewness exceeds this enters the table ridge as its log
TABLE_LOG_SKEW = 1.0


def _category_values(items: Sequence, key: str) -> np.ndarray:
    """Each item's value of ``key`` as a string ("" when absent or not a string or boolean)."""
    return np.array([str(v) if isinstance(v := it.attributes.get(key), (str, bool, np.bool_)) else ""
                     for it in items], dtype=object)


def category_levels(items: Sequence) -> dict[str, list[str]]:
    """The table's category columns (string or boolean values, at most
    :data:`TABLE_MAX_DISTINCT` as many distinct values as rows) and their levels seen at least
    :data:`TABLE_MIN_COUNT` times (the :data:`TABLE_MAX_LEVELS` most frequent, most frequent
    first), chosen without the target: what the table ridge one-hots and the tree route's trees
    read (:mod:`genz.tree_route`)."""
    keys = sorted({k for it in items for k, v in it.attributes.items() if isinstance(v, (str, bool, np.bool_))})
    levels: dict[str, list[str]] = {}
    for k in keys:
        vals = _category_values(items, k)
        lv, n = np.unique(vals[vals != ""], return_counts=True)
        if len(lv) > TABLE_MAX_DISTINCT * len(items):
            continue
        order = np.lexsort((lv, -n))  # most frequent first, ties by value
        keep = [str(lv[i]) for i in order if n[i] >= TABLE_MIN_COUNT][:TABLE_MAX_LEVELS]
        if len(keep) >= 2 or (len(keep) == 1 and n[order[0]] < len(items)):
            levels[k] = keep
    return levels


def table_spec(items: Sequence, numeric: tuple[list[str], np.ndarray | None] | None = None) -> dict | None:
    """What a practitioner's ridge sees of a table, chosen without the target: every numeric
    column (:func:`numeric_columns`), as its log when all its values are positive and its
    skewness exceeds :data:`TABLE_LOG_SKEW`, and every category column (string or boolean
    values, at most :data:`TABLE_MAX_DISTINCT` as many distinct values as rows) one-hot over its
    levels seen at least :data:`TABLE_MIN_COUNT` times (the :data:`TABLE_MAX_LEVELS` most
    frequent). None without numeric columns, or when it would be the numbers check's ridge
    (no log, no category). ``numeric``: :func:`numeric_columns` of ``items`` when already read."""
    cols, X = numeric_columns(items) if numeric is None else numeric
    if X is None:
        return None
    from scipy.stats import skew

    log = [c for c, x in zip(cols, X.T) if x.min() > 0 and x.std() > 0 and skew(x) > TABLE_LOG_SKEW]
    floor = {c: float(X[:, cols.index(c)].min()) for c in log}
    levels = category_levels(items)
    if not log and not levels:
        return None
    return {"columns": cols, "log": log, "floor": floor, "levels": levels}


def table_matrix(items: Sequence, spec: dict, X: np.ndarray | None = None) -> np.ndarray:
    """The table ridge's inputs for ``items`` (:func:`table_spec`): the numeric columns ``X``
    (N×P, in ``spec["columns"]``' order; read from the items when None), the logged ones as
    ``log(max(x, the training minimum))``, then one 0/1 column per level of each category (an
    unseen level or a missing value: all zeros)."""
    cols = list(spec["columns"])
    if X is None:
        X = np.array([[float(it.attributes[c]) for c in cols] for it in items], dtype=float).reshape(len(items), len(cols))
    X = np.array(X, dtype=float, copy=True)
    for c in spec["log"]:
        j = cols.index(c)
        X[:, j] = np.log(np.maximum(X[:, j], spec["floor"][c]))
    onehot = [(_category_values(items, k)[:, None] == np.array(lv, dtype=object)[None, :]).astype(float)
              for k, lv in spec["levels"].items()]
    return np.hstack([X, *onehot]) if onehot else X


def beside(U: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """The side inputs ``U`` (None: none) followed by the columns ``X``: how a route's columns or
    prediction join the predictor's side inputs (the checks, the fit and predict)."""
    return X if U is None else np.hstack([U, X])


def _versus(genz: np.ndarray, loss: np.ndarray) -> dict:
    """A cheaper route's per-item losses ``loss`` on the untouched rows against the structure's
    ``genz``: its mean loss, the paired difference ``genz − loss`` with its standard error, and the
    verdict (``"ridge"`` / ``"genz"`` ahead by more than one standard error, else ``"tie"``)."""
    m, se = paired(genz - loss)
    return {"ridge_loss": float(loss.mean()), "diff": m, "se": se,
            "better": "ridge" if m > se else "genz" if m < -se else "tie"}


def text_holdout(items: Sequence, U: np.ndarray | None, Y: np.ndarray, train: np.ndarray,
                 test: np.ndarray) -> tuple[np.ndarray, int] | None:
    """:class:`genz.text_ridge.TextRidge` fitted on the rows ``train``: its predictions for the
    rows ``test`` and its number of terms. None when fewer than half the training items have a
    text or the texts share fewer than two terms (what :func:`text_check` and the text route use)."""
    from .text_ridge import TextRidge, item_texts

    tr, te = np.asarray(train), np.asarray(test)
    texts = item_texts(items)
    if not len(tr) or (texts[tr] != "").mean() < 0.5:
        return None
    try:
        model = TextRidge().fit(texts[tr], None if U is None else U[tr], np.asarray(Y, dtype=float)[tr])
    except ValueError:  # the texts share fewer than two terms
        return None
    return model.predict(texts[te], None if U is None else U[te]), len(model.vocabulary)


def text_check(items: Sequence, genz: np.ndarray, U: np.ndarray | None, Y: np.ndarray, train: np.ndarray,
               test: np.ndarray, held: tuple[np.ndarray, int] | None = None) -> dict | None:
    """Would a practitioner's ridge on the items' text have predicted better? ``genz``: the
    per-item losses (:func:`holdout_losses`) on the untouched rows ``test`` of the structure tested
    for findings, fitted on the rows ``train``; against them, :class:`genz.text_ridge.TextRidge`
    (scikit-learn's ``RidgeCV`` on the TF-IDF of the texts' words and word pairs, learned on
    ``train``; the side inputs ``U`` standardised beside them), fitted on ``train`` and scored on
    ``test`` with the same loss ``Σ_d (y_nd − ŷ_nd)² / var(y_d)`` (``held``: its
    :func:`text_holdout`, when already computed). A report (with a
    :class:`genz.CheaperRouteWarning` when it won) unless ``Selection(text_route=True)``. None
    when fewer than half the training items have a text, when the texts share fewer than two
    terms, or without untouched rows."""
    tr, te = np.asarray(train), np.asarray(test)
    held = held if held is not None or not len(te) else text_holdout(items, U, Y, tr, te)
    if held is None:
        return None
    Y = np.asarray(Y, dtype=float)
    loss = ((Y[te] - held[0]) ** 2 / np.maximum(Y[tr].var(axis=0), 1e-300)).sum(axis=1)
    return {"rows": int(len(te)), "terms": held[1], "genz_loss": float(genz.mean()), **_versus(genz, loss)}


def route_columns(items: Sequence, route: dict, X: np.ndarray | None = None) -> np.ndarray:
    """The numbers route's side inputs for ``items`` (``Selection.numbers_route``;
    ``GenZRegressor.numbers_route_``): its numeric columns ``route["columns"]`` (``X``, N×P, when
    already read; else from the items' attributes, where a missing or non-numeric value is an
    error naming the item), through :func:`table_matrix` when the route took the table's ridge
    (``"levels"`` in ``route``)."""
    if X is None:
        X = side_inputs_from_attributes(items, list(route["columns"]))
    return table_matrix(items, route, X) if "levels" in route else X


def structure_check(genz: np.ndarray, empty: np.ndarray, kept: Sequence[str], tested: int) -> dict:
    """Does the discovered structure predict rows that no choice touched better than no feature?
    ``genz`` and ``empty``: per-item losses on the untouched rows of phase 1's structure and of
    the side inputs alone (an intercept without them), each fitted on the discovery rows
    (:func:`holdout_losses`). ``fell_back``: the gain is at most :data:`FALLBACK_SE` standard
    errors, so the predictor keeps only ``kept`` (the findings and pinned features of the
    ``tested`` features)."""
    m, se = paired(empty - genz)
    fell = FALLBACK_SE is not None and m <= FALLBACK_SE * se
    return {"rows": int(len(genz)), "genz_loss": float(genz.mean()), "empty_loss": float(empty.mean()),
            "gain": m, "se": se, "tested": int(tested), "fell_back": bool(fell), "kept": list(kept) if fell else None}


def numbers_check(items: Sequence, genz: np.ndarray, U: np.ndarray | None, Y: np.ndarray, train: np.ndarray,
                  test: np.ndarray, folds: int, seed: int) -> dict | None:
    """Would a plain ridge on the table's numbers have predicted better? ``genz``: the per-item
    losses on the untouched rows ``test`` of the structure tested for findings, fitted on the rows
    ``train`` (:func:`holdout_losses`); against them, a ridge on every numeric column
    (:func:`numeric_columns`, standardised; with the side inputs ``U`` in both) fitted and scored
    the same way. With a ``"table"`` entry when :func:`table_spec` adds anything: the same for a
    practitioner's ridge on the table (skewed numbers logged, categories one-hot; its ``log``,
    ``floor`` and ``levels``, which the numbers route reuses). The numbers
    route (:class:`genz.Selection`) reads it; None without numeric columns or untouched rows."""
    cols, X = numeric_columns(items)
    if X is None or not len(test):
        return None

    def ridge(Z: np.ndarray) -> dict:  # a ridge on Z (beside U) against the structure, on the untouched rows
        return _versus(genz, holdout_losses(np.zeros((len(Y), 0)), beside(U, Z), Y, train, test, folds, seed))

    out = {"columns": cols, "rows": int(len(test)), "genz_loss": float(genz.mean()), **ridge(X)}
    spec = table_spec(items, (cols, X))
    if spec is not None:  # the same with the categories one-hot and the skewed numbers logged
        out["table"] = {**{k: spec[k] for k in ("log", "floor", "levels")}, **ridge(table_matrix(items, spec, X))}
    return out
