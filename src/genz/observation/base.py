"""The observation model ``p(y | z, u) = N(y; g(z, u; θ), diag σ²)`` (docs/equations.md §2, eq. 8-9).

An observation model knows how to

* fit θ and σ² given posteriors ``Q`` (the M-step, eq. 12-13 or 29-30),
* give the data part of the E-step logit, ``L⁺ᵏ − L⁻ᵏ`` (eq. 11 or 27), one feature at a time,
* evaluate ``E_q[log p(y|z)]`` for the bound (eq. 1, 21-22),
* predict ``g`` for new items,
* keep θ consistent when a feature is added, removed or flipped (``z_k → 1 − z_k``),
* serialise its state as plain arrays (no pickle).

Side inputs ``U`` are standardised with the training mean/std kept in the model, so that
the ridge term (a documented stabiliser) treats them alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

LOG_2PI = float(np.log(2 * np.pi))


def predictive_std(sigma2: np.ndarray, W: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Predictive standard deviation of ``y`` for items whose features have posteriors ``Q``
    (N×K): ``sqrt(σ²_d + Σ_k W_dk² q_k(1 − q_k))`` — the noise plus the spread from features
    that may be on or off (exact for the linear model, eq. 20-22; ``W`` is D×K)."""
    return np.sqrt(np.asarray(sigma2)[None, :] + (Q * (1 - Q)) @ (np.asarray(W) ** 2).T)


class ObservationModel(ABC):
    """Base class; see the module docstring."""

    name: str = "base"

    def __init__(self, sigma2_floor_rel: float = 1e-10) -> None:
        self.sigma2_floor_rel = sigma2_floor_rel
        self.sigma2_: np.ndarray | None = None
        self.u_mean_: np.ndarray | None = None
        self.u_std_: np.ndarray | None = None
        self.y_var_: np.ndarray | None = None
        self.n_features_: int = 0

    # -- side inputs -------------------------------------------------------------------------
    def set_scaling(self, U: np.ndarray | None, Y: np.ndarray) -> None:
        """Learn the side-input standardisation and the σ² floor from training data."""
        if U is not None and U.shape[1]:
            self.u_mean_ = U.mean(axis=0)
            std = U.std(axis=0)
            self.u_std_ = np.where(std > 0, std, 1.0)  # a constant column scales to 0
        else:
            self.u_mean_ = np.zeros(0)
            self.u_std_ = np.ones(0)
        self.y_var_ = np.maximum(Y.var(axis=0), 1e-300)

    def scale_u(self, U: np.ndarray | None, n: int) -> np.ndarray:
        if self.u_mean_ is None or self.u_mean_.size == 0:
            return np.zeros((n, 0))
        if U is None:
            raise ValueError(f"this model was fitted with {self.u_mean_.size} side inputs; pass U")
        return (U - self.u_mean_) / self.u_std_

    def floor_sigma2(self, s2: np.ndarray) -> np.ndarray:
        return np.maximum(s2, self.sigma2_floor_rel * self.y_var_)

    # -- the model ---------------------------------------------------------------------------
    @abstractmethod
    def fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """M-step: θ then σ² (eq. 12-13 / 29-30) given posteriors Q (N×K)."""

    def fit_final(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """A fit outside EM (the predictor for new items): the same M-step unless a model
        trains longer there (the MLP's full ``epochs``)."""
        self.fit(Q, U, Y)

    @abstractmethod
    def begin_e_step(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> Any:
        """Precompute what :meth:`loglik_gap` needs for one E-step sweep."""

    def begin_e_step_after_fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> Any:
        """:meth:`begin_e_step` called right after :meth:`fit` on the same ``Q`` (EM's order);
        a model may reuse what the fit computed."""
        return self.begin_e_step(Q, U, Y)

    @abstractmethod
    def loglik_gap(self, ctx: Any, k: int, q_k: np.ndarray) -> np.ndarray:
        """``L⁺ᵏ_n − L⁻ᵏ_n`` for every item: the data term of the E-step logit (eq. 11 / 27)."""

    @abstractmethod
    def commit(self, ctx: Any, k: int, q_old: np.ndarray, q_new: np.ndarray) -> None:
        """Tell the sweep context that feature k's posterior changed."""

    @abstractmethod
    def expected_loglik(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
        """``E_q[log p(y_n | z_n, u_n)]`` per item (eq. 21-22, or at the mode)."""

    def expected_loglik_total(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, ctx: Any = None) -> float:
        """``Σ_n E_q[log p(y_n | z_n, u_n)]``; ``ctx`` is the context of the E-step sweep that
        produced ``Q`` (a model may read its residuals from it)."""
        return float(self.expected_loglik(Q, U, Y).sum())

    @abstractmethod
    def predict(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        """Predicted targets given feature posteriors (or 0/1 values) Q."""

    @abstractmethod
    def add_feature(self) -> None:
        """Append a feature with no effect (weight 0)."""

    @abstractmethod
    def remove_feature(self, k: int) -> None:
        """Drop feature k."""

    @abstractmethod
    def flip_feature(self, k: int) -> None:
        """Re-parametrise for ``z_k → 1 − z_k`` without changing any prediction."""

    @abstractmethod
    def weights(self) -> np.ndarray:
        """A D×K summary of each feature's effect on each target dimension."""

    # -- persistence -------------------------------------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"name": self.name, "n_features": self.n_features_, "sigma2_floor_rel": self.sigma2_floor_rel}
        arrays = {}
        for key in ("sigma2_", "u_mean_", "u_std_", "y_var_"):
            val = getattr(self, key)
            if val is not None:
                arrays[key] = np.asarray(val)
        return meta, arrays

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.n_features_ = int(meta["n_features"])
        for key in ("sigma2_", "u_mean_", "u_std_", "y_var_"):
            if key in arrays:
                setattr(self, key, np.asarray(arrays[key], dtype=float))


def coefficients(pred: Any, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``coef_`` (K×D), ``intercept_`` (D) and ``side_coef_`` (P×D) in the inputs' own units:
    ``ŷ = intercept_ + qᵀ coef_ + uᵀ side_coef_`` (exact for the linear predictor; for the MLP
    the reference-point effects, the prediction at no feature, and no side coefficients)."""
    W = getattr(pred, "W_", None)
    if W is None:
        w = np.asarray(pred.weights(), dtype=float)
        coef = (w.reshape(-1, K) if K else w).T  # D×K (D×0 without features) → K×D
        D = coef.shape[1]
        P = pred.u_mean_.size if pred.u_mean_ is not None else 0
        base = np.zeros((1, K + P + 1))
        base[0, -1] = 1.0
        icpt = pred._forward(base)[0] if getattr(pred, "net_", None) is not None else np.zeros(D)
        return coef, icpt, np.full((P, D), np.nan)
    side = (W[:, K:-1] / pred.u_std_).T
    icpt = W[:, -1] - side.T @ pred.u_mean_
    return W[:, :K].T.copy(), icpt, side
