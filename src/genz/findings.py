"""Findings: which of the predictor's features have an effect that survives a stated error
control, estimated on rows that no choice touched (docs/feature-table.md).

The training rows are split once into the *discovery* rows (mining, EM, every choice of the
predictor: :mod:`genz.selection`) and the *untouched* rows ``I`` (``Selection.holdout``). The
structure — the features ``S`` and their error rates ε — is fixed from the discovery rows
alone. On ``I`` one ordinary least-squares fit

    ``y_n = β₀ + Σ_{k∈S} β_k q_nk + γᵀ u_n + e_n``,   ``q_nk = (1 − ε_k) b_nk + ε_k (1 − b_nk)``

(the FM priors of docs/equations.md §5, so ``β_k`` is the effect of the *latent* property
``z_k``: the judgments' regression coefficient divided by ``1 − 2ε_k``; side inputs ``u``
included; for a foundation model whose judgments are exact by construction, the offline engine's
``exact_judgments``, ``q_nk = b_nk``: there is nothing latent to convert to) gives everything a
finding has, from one covariance ``s² (XᵀX)⁻¹``:

* the effect ``β_k`` (per target) with its standard error and a ``1 − max(α, 0.05)`` t-interval
  (95% by default);
* a p-value per feature: the two-sided t-test of ``β_k = 0`` for one target; for ``D`` targets
  the F-test of ``β_k = 0`` in every target at once (Hotelling's T², residual covariance
  estimated on ``I``), or, when ``I`` has too few rows for that, Bonferroni over the ``D``
  t-tests;
* the correction over every feature tested on ``I``: Benjamini-Yekutieli (the default: the
  expected share of false findings among the findings is at most α whatever the dependence
  between the features' estimates), Benjamini-Hochberg (the same for independent or positively
  dependent estimates) or Holm (the probability of any false finding is at most α). The family is the features tested on ``I``: every descriptor
  mined and scored during discovery was chosen with the discovery rows only, which are
  independent of ``I``, so choosing them does not bias the tests (sample splitting).

A feature is tested only when the discovery rows place it (a cut of a number or a phrase that
at least ``Selection.located`` of bootstrap resamples of those rows put where it is, against
the residual of the other features or, failing that, of the placed ones,
:func:`genz.fm.predicates.cuts.cut_located`); the others stay in the regression as controls,
outside the family (``tested``). Nor is a feature that the same test on the discovery rows gives
a p-value above ``Selection.discovery_p`` (screen and clean: ``discovery_p``, kept for the
table; a control too). A finding is a tested feature whose adjusted p-value (``q``)
is at most α. Because the interval's
level is ``1 − max(α, 0.05)`` and an adjusted p-value is never below the raw one, a finding's
interval never contains 0 for one target (for several targets the F-test may find an effect
spread over dimensions whose intervals each contain 0; the table says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .settings import CORRECTIONS

__all__ = ["FindingsResult", "fit_findings", "adjust_pvalues", "harmonic", "dependence_price", "CORRECTIONS",
           "MIN_ROWS"]

#: fewest untouched rows (beyond the regression's parameters) for a test
MIN_ROWS = 10


def adjust_pvalues(p: Sequence[float], method: str = "bh") -> np.ndarray:
    """Adjusted p-values: Benjamini-Yekutieli (``"by"``, step-up, FDR under any dependence
    between the tests: Benjamini-Hochberg's times ``c_m = Σ_{i≤m} 1/i``), Benjamini-Hochberg
    (``"bh"``, step-up, FDR for independent or positively dependent tests), Holm (``"holm"``,
    step-down, family-wise) or Bonferroni. A hypothesis is rejected at level α when its adjusted
    p-value is at most α."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {method!r}")
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    rank = np.arange(1, m + 1)
    if method in ("bh", "by"):
        adj = np.minimum.accumulate((ps * m * dependence_price(method, m) / rank)[::-1])[::-1]
    else:  # holm
        adj = np.maximum.accumulate(ps * (m - rank + 1))
    out = np.empty(m)
    out[order] = np.minimum(np.maximum(adj, ps), 1.0)  # never below p (p·m/m can round under p)
    return out


def harmonic(m: int) -> float:
    """``c_m = Σ_{i=1}^{m} 1/i``: Benjamini-Yekutieli's price of arbitrary dependence."""
    return float(np.sum(1.0 / np.arange(1, m + 1))) if m > 0 else 1.0


def dependence_price(method: str, m: int) -> float:
    """The factor a step-up correction pays over ``m`` tests: ``c_m`` for Benjamini-Yekutieli,
    1 for Benjamini-Hochberg (the q-values and the findings' interval levels both use it)."""
    return harmonic(m) if method == "by" else 1.0


@dataclass
class FindingsResult:
    """One least-squares fit on the untouched rows and everything derived from it (module doc).

    ``params``, ``bse``, ``tvalues``: K×D (features × targets); ``pvalues``, ``qvalues``,
    ``significant``: K; ``identified``: K (False where the feature's judgments on the untouched
    rows are constant or a combination of the others', so no test was possible: p = 1);
    ``xtx_inv``: (XᵀX)⁻¹ of the design ``[q_S | u | 1]``; ``sigma``: D×D residual covariance
    (``s²`` on the diagonal). ``cov(d)`` is the K×K covariance of the effects of target ``d``."""

    features: list[str]
    target_names: list[str]
    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    qvalues: np.ndarray
    identified: np.ndarray
    xtx_inv: np.ndarray
    sigma: np.ndarray
    nobs: int
    df_resid: int
    error_rate: float
    correction: str
    test: str  # "t", "F" or "bonferroni-t"
    ids: list[str] = field(default_factory=list)  # the untouched rows' item ids
    #: K: False where the feature is in the regression (its effect estimated, as a control) but
    #: not tested as a finding: a cut of a number or a phrase the discovery rows could not place
    #: (:attr:`genz.Selection.located`); such a feature is never significant and is not counted
    #: in the correction's family
    tested: np.ndarray | None = None
    #: K: the share of bootstrap resamples of the discovery rows that put the feature's cut of a
    #: number or phrase where it is (1 for any other feature; None: not measured)
    located: np.ndarray | None = None
    #: K: the p-value of the same test on the discovery rows (the screen; None: not measured)
    discovery_p: np.ndarray | None = None
    #: K: the caller's ``tested`` before the screen (False: a cut or phrase the discovery rows
    #: could not place); None: all, or a result saved before stop 34
    placed: np.ndarray | None = None

    @property
    def ci_level(self) -> float:
        """The intervals' level: 95%, or ``1 − α`` when α is larger (so a finding's interval
        never contains 0)."""
        return 1.0 - max(self.error_rate, 0.05)

    @property
    def tvalues(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.params / self.bse

    @property
    def testable(self) -> np.ndarray:
        """K: identified and tested (the correction's family)."""
        t = np.ones(len(self.features), bool) if self.tested is None else np.asarray(self.tested, bool)
        return self.identified & t

    @property
    def significant(self) -> np.ndarray:
        return self.testable & (self.qvalues <= self.error_rate)

    def untested_reasons(self, min_located: float | None = None) -> list[str]:
        """K: why each feature was not tested (``""`` when it was): ``"not identified"`` (its
        judgments on the untouched rows are constant or a combination of the others'), ``"not
        placed"`` (the discovery rows could not place its cut or phrase) or ``"screened out"``
        (the screen on the discovery rows left it out). ``min_located`` reads a result saved
        before :attr:`placed` was kept (``located`` below it: not placed)."""
        placed = self.placed
        if placed is None and self.located is not None and min_located is not None:
            placed = np.asarray(self.located) >= min_located
        out = []
        for k in range(len(self.features)):
            if self.testable[k]:
                out.append("")
            elif not self.identified[k]:
                out.append("not identified")
            else:
                out.append("not placed" if placed is not None and not placed[k] else "screened out")
        return out

    @property
    def findings(self) -> list[str]:
        return [f for f, s in zip(self.features, self.significant) if s]

    def cov(self, d: int = 0) -> np.ndarray:
        K = len(self.features)
        return self.xtx_inv[:K, :K] * self.sigma[d, d]

    @property
    def levels(self) -> np.ndarray:
        """K: each feature's interval level. A feature that is not a finding: :attr:`ci_level`.
        A finding: adjusted for having been selected as one, so that the intervals of the
        findings mean what they say as a set — Benjamini & Yekutieli's false-coverage-statement-rate
        intervals, ``1 − R·a/(m·c_m)`` with ``correction="by"`` (R findings among m features
        tested, ``a = 1 − ci_level``, ``c_m`` :func:`harmonic`: any dependence between the
        estimates) and ``1 − R·a/m`` with ``"bh"`` (independent estimates): on average at most a
        share ``a`` of the findings' intervals miss their effect, and a finding's interval never
        contains 0 (the correction's own threshold); with ``"bonferroni"``, simultaneous
        intervals ``1 − a/m``; with ``"holm"``, ``1 − a/(m − r + 1)`` for the finding whose
        p-value ranks r-th: the step-down rejected it at a p-value up to ``a/(m − r + 1)``, so its
        interval excludes 0 too (Bonferroni's level would not), and since
        ``R·(m − r + 1) ≥ R·(m − R + 1) ≥ m`` each is at least as wide as the ``"bh"`` one (the
        same false-coverage-statement bound for independent estimates). Intervals at the
        plain level, for only the features that passed a test on the same rows, cover less than
        they say (measured: 0.87-0.89 for nominal 0.95 in benchmarks/simulation.py)."""
        a = 1.0 - self.ci_level
        out = np.full(len(self.features), self.ci_level)
        sig = self.significant
        m, R = int(self.testable.sum()), int(sig.sum())
        if R and m:
            if self.correction in ("bh", "by"):
                out[sig] = 1.0 - R * a / (m * dependence_price(self.correction, m))
            elif self.correction == "holm":  # the finding of rank r passed the step-down at a/(m − r + 1)
                p = np.where(self.testable, self.pvalues, np.inf)
                rank = np.empty(len(p), int)
                rank[np.argsort(p, kind="stable")] = np.arange(1, len(p) + 1)
                out[sig] = 1.0 - a / (m - rank[sig] + 1)
            else:
                out[sig] = 1.0 - a / m
        return out

    def conf_int(self, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, K×D t-intervals at ``level``; by default each feature's
        :attr:`levels` (the findings' intervals adjusted for their selection)."""
        lev = self.levels[:, None] if level is None else np.full((len(self.features), 1), float(level))
        t = stats.t.ppf(0.5 + lev / 2, max(self.df_resid, 1))
        return self.params - t * self.bse, self.params + t * self.bse

    # -- persistence ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        def arr(a: np.ndarray) -> list:
            return np.where(np.isfinite(a), a, np.nan).astype(float).tolist()

        return {"features": list(self.features), "target_names": list(self.target_names),
                "params": arr(self.params), "bse": arr(self.bse), "pvalues": arr(self.pvalues),
                "qvalues": arr(self.qvalues), "identified": self.identified.astype(bool).tolist(),
                "xtx_inv": arr(self.xtx_inv), "sigma": arr(self.sigma), "nobs": int(self.nobs),
                "df_resid": int(self.df_resid), "error_rate": float(self.error_rate),
                "correction": self.correction, "test": self.test, "ids": list(self.ids),
                **({} if self.tested is None else {"tested": np.asarray(self.tested, bool).tolist()}),
                **({} if self.located is None else {"located": arr(np.asarray(self.located, float))}),
                **({} if self.discovery_p is None else {"discovery_p": arr(np.asarray(self.discovery_p, float))}),
                **({} if self.placed is None else {"placed": np.asarray(self.placed, bool).tolist()})}

    @classmethod
    def from_json(cls, d: dict) -> "FindingsResult":
        def arr(key: str) -> np.ndarray:
            return np.array([[np.nan if v is None else v for v in row] if isinstance(row, list) else
                             (np.nan if row is None else row) for row in d[key]], dtype=float)

        K, D = len(d["features"]), len(d["target_names"])
        return cls(features=list(d["features"]), target_names=list(d["target_names"]),
                   params=arr("params").reshape(K, D), bse=arr("bse").reshape(K, D),
                   pvalues=arr("pvalues").reshape(K), qvalues=arr("qvalues").reshape(K),
                   identified=np.array(d["identified"], dtype=bool).reshape(K),
                   xtx_inv=arr("xtx_inv"), sigma=arr("sigma").reshape(D, D), nobs=int(d["nobs"]),
                   df_resid=int(d["df_resid"]), error_rate=float(d["error_rate"]), correction=d["correction"],
                   test=d["test"], ids=list(d.get("ids", [])),
                   tested=None if d.get("tested") is None else np.array(d["tested"], dtype=bool).reshape(K),
                   located=None if d.get("located") is None else arr("located").reshape(K),
                   discovery_p=None if d.get("discovery_p") is None else arr("discovery_p").reshape(K),
                   placed=None if d.get("placed") is None else np.array(d["placed"], dtype=bool).reshape(K))


def _identified_columns(X: np.ndarray, K: int) -> np.ndarray:
    """Which of the first ``K`` columns of ``X`` add rank to the others (a constant or
    duplicated feature cannot be tested); the side-input and constant columns are kept first."""
    keep = list(range(K, X.shape[1]))
    base = np.linalg.matrix_rank(X[:, keep]) if keep else 0
    ok = np.zeros(K, dtype=bool)
    for k in range(K):
        r = np.linalg.matrix_rank(X[:, keep + [k]])
        if r > base:
            keep.append(k)
            base, ok[k] = r, True
    return ok


def fit_findings(Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, features: Sequence[str],
                  target_names: Sequence[str], error_rate: float = 0.05, correction: str = "by",
                  ids: Sequence[str] = (), tested: np.ndarray | None = None,
                  located: np.ndarray | None = None,
                  screen: tuple[np.ndarray, np.ndarray | None, np.ndarray, float] | None = None
                  ) -> FindingsResult | None:
    """The findings test (module doc) of the features whose FM priors on the untouched rows are
    the columns of ``Q`` (N×K), with side inputs ``U`` and targets ``Y`` (N×D). None when the
    rows are too few for a regression with these columns (fewer than :data:`MIN_ROWS` residual
    degrees of freedom). ``tested`` (K, default all): the features tested as findings; the others
    are controls, estimated but outside the correction's family. ``located`` (K): how well the
    discovery rows placed each feature, kept for the table. ``screen = (Q_D, U_D, Y_D, level)``:
    the same features on the discovery rows; the same test there gives each feature a p-value
    (``discovery_p``) and only those at most ``level`` are tested (screen and clean; 1: all)."""
    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    n, K, D = Q.shape[0], Q.shape[1], Y.shape[1]
    discovery_p, placed = None, None if tested is None else np.asarray(tested, bool).copy()
    if screen is not None:
        Q_D, U_D, Y_D, level = screen
        on_discovery = fit_findings(Q_D, U_D, Y_D, features, target_names)
        if on_discovery is not None:
            discovery_p = on_discovery.pvalues
            if level < 1:
                tested = (discovery_p <= level) & (True if tested is None else np.asarray(tested, bool))
    parts = [Q] + ([np.asarray(U, dtype=float)] if U is not None else []) + [np.ones((n, 1))]
    X = np.hstack(parts)
    ok = _identified_columns(X, K)
    cols = [k for k in range(K) if ok[k]] + list(range(K, X.shape[1]))
    Xr = X[:, cols]
    df = n - np.linalg.matrix_rank(Xr)
    if df < MIN_ROWS:
        return None
    xtx_inv_r = np.linalg.pinv(Xr.T @ Xr, hermitian=True)
    B = xtx_inv_r @ Xr.T @ Y
    R = Y - Xr @ B
    sigma = (R.T @ R) / df
    # back to all K features (unidentified ones: NaN, p = 1)
    J = X.shape[1]
    xtx_inv = np.full((J, J), np.nan)
    xtx_inv[np.ix_(cols, cols)] = xtx_inv_r
    params, bse = np.full((K, D), np.nan), np.full((K, D), np.nan)
    pos = {c: i for i, c in enumerate(cols)}
    for k in np.flatnonzero(ok):
        i = pos[k]
        params[k] = B[i]
        bse[k] = np.sqrt(np.maximum(xtx_inv_r[i, i] * np.diag(sigma), 0.0))
    p = np.ones(K)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = params / bse
    p_t = np.where(np.isfinite(t), 2 * stats.t.sf(np.abs(t), df), 1.0)  # K×D
    test = "t"
    if D > 1:
        df2 = df - D + 1
        S_ok = df2 >= MIN_ROWS and np.linalg.matrix_rank(sigma) == D
        test = "F" if S_ok else "bonferroni-t"
        S_inv = np.linalg.inv(sigma) if S_ok else None
    for k in np.flatnonzero(ok):
        if D == 1:
            p[k] = p_t[k, 0]
        elif S_inv is not None:
            c = xtx_inv_r[pos[k], pos[k]]
            T2 = float(params[k] @ S_inv @ params[k]) / c
            F = T2 * df2 / (df * D)
            p[k] = float(stats.f.sf(F, D, df2))
        else:
            p[k] = min(1.0, D * float(p_t[k].min()))
    fam = np.ones(K, bool) if tested is None else np.asarray(tested, bool)
    q = np.ones(K)
    q[fam] = adjust_pvalues(p[fam], correction)
    return FindingsResult(features=list(features), target_names=list(target_names), params=params, bse=bse,
                          pvalues=p, qvalues=q, identified=ok, xtx_inv=xtx_inv, sigma=sigma, nobs=n,
                          df_resid=int(df), error_rate=float(error_rate), correction=correction, test=test,
                          ids=list(ids), tested=None if tested is None else np.asarray(tested, bool).copy(),
                          located=None if located is None else np.asarray(located, float).copy(),
                          discovery_p=discovery_p, placed=placed)
