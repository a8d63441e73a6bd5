"""The MLP observation model, evaluated at the posterior mode (docs/equations.md §3, paper §5).

``g(z, u) = MLP([z; u])`` with the paper's defaults: hidden layers of 64 and 32 units, ReLU,
dropout 0.1, Adam with learning rate 1e-3, 100 epochs, batch size 32. The expectations of
eq. (11)-(13) are evaluated at the mode ``ẑ = 1[q > ½]`` as the paper does.

Within EM the network is warm-started and trained for ``em_epochs`` per M-step; a *final* fit
(after each discovery step) trains for the full ``epochs``. Targets are standardised per
dimension inside the model; the loss weights each dimension by 1/σ²_d (eq. 12).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # torch is the optional extra genz[mlp]
    from ..errors import GenZInputError

    raise GenZInputError("the MLP observation model needs PyTorch: pip install 'genz[mlp]' (or use the linear "
                         "model)") from None

from .base import LOG_2PI, ObservationModel


def _threads(fn):
    """Run with ``$GENZ_TORCH_THREADS`` torch threads (default 1): the small network gains nothing
    from more, and on a busy machine more are many times slower (benchmarks/mlp_threads.py)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        prev = torch.get_num_threads()
        torch.set_num_threads(max(1, int(os.environ.get("GENZ_TORCH_THREADS", "1"))))
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(prev)

    return wrapper


@dataclass
class _Sweep:
    Z: np.ndarray  # modes of the other features, N×K (0/1 floats)
    X_rest: np.ndarray  # scaled side inputs and the constant, N×(P+1)
    Y: np.ndarray


class MLPGaussian(ObservationModel):
    """A two-hidden-layer perceptron over the binary latents and side inputs."""

    name = "mlp"

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 32),
        dropout: float = 0.1,
        lr: float = 1e-3,
        epochs: int = 100,
        batch_size: int = 32,
        em_epochs: int = 10,
        seed: int = 0,
        sigma2_floor_rel: float = 1e-6,
        n_samples: int = 16,
    ) -> None:
        super().__init__(sigma2_floor_rel)
        self.hidden = tuple(int(h) for h in hidden)
        self.dropout = float(dropout)
        self.lr = float(lr)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.em_epochs = int(em_epochs)
        self.seed = int(seed)
        self.n_samples = int(n_samples)
        self.net_: nn.Sequential | None = None
        self.y_mean_: np.ndarray | None = None
        self.y_std_: np.ndarray | None = None
        self._n_fits = 0

    # network ---------------------------------------------------------------------------------
    def _build(self, n_in: int, n_out: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        prev = n_in
        for h in self.hidden:
            layers += [nn.Linear(prev, h), nn.ReLU(), nn.Dropout(self.dropout)]
            prev = h
        layers.append(nn.Linear(prev, n_out))
        return nn.Sequential(*layers).double()

    def _inputs(self, Z: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        n = Z.shape[0]
        return np.hstack([Z, self.scale_u(U, n), np.ones((n, 1))])

    @_threads
    def _forward(self, X: np.ndarray) -> np.ndarray:
        self.net_.eval()
        with torch.no_grad():
            out = self.net_(torch.from_numpy(np.ascontiguousarray(X))).numpy()
        return out * self.y_std_ + self.y_mean_

    # M-step ----------------------------------------------------------------------------------
    def fit(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """θ by Adam on the 1/σ²-weighted squared error at the mode (eq. 12), then σ² (eq. 13);
        inside EM a warm start trains ``em_epochs``."""
        self._train(Q, U, Y, final=False)

    def fit_final(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> None:
        """The same fit for the full ``epochs`` (the predictor for new items)."""
        self._train(Q, U, Y, final=True)

    @_threads
    def _train(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray, *, final: bool) -> None:
        n, K = Q.shape
        self.n_features_ = K
        Z = (Q > 0.5).astype(float)
        X = self._inputs(Z, U)
        if self.net_ is None:
            self.y_mean_ = Y.mean(axis=0)
            sd = Y.std(axis=0)
            self.y_std_ = np.where(sd > 0, sd, 1.0)
            torch.manual_seed(self.seed)
            self.net_ = self._build(X.shape[1], Y.shape[1])
            epochs = self.epochs
        else:
            epochs = self.epochs if final else self.em_epochs
        Ys = (Y - self.y_mean_) / self.y_std_
        if self.sigma2_ is not None:
            w = (self.y_std_**2) / self.sigma2_
            w = w / w.mean()
        else:
            w = np.ones(Y.shape[1])
        # one seed per fit, from the fit counter: dropout masks and batch order are reproducible
        # (also after a checkpoint is restored)
        torch.manual_seed(self.seed * 100003 + self._n_fits)
        self._n_fits += 1
        Xt = torch.from_numpy(np.ascontiguousarray(X))
        Yt = torch.from_numpy(np.ascontiguousarray(Ys))
        wt = torch.from_numpy(w)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.net_.train()
        for _ in range(epochs):
            perm = torch.randperm(n)
            for start in range(0, n, self.batch_size):
                idx = perm[start : start + self.batch_size]
                opt.zero_grad()
                err = self.net_(Xt[idx]) - Yt[idx]
                loss = ((err**2) * wt).sum(dim=1).mean()
                loss.backward()
                opt.step()
        R = Y - self._forward(X)
        self.sigma2_ = self.floor_sigma2((R**2).mean(axis=0))  # eq. (13)

    # E-step at the mode ------------------------------------------------------------------------
    def begin_e_step(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> _Sweep:
        n = Q.shape[0]
        rest = np.hstack([self.scale_u(U, n), np.ones((n, 1))])
        return _Sweep(Z=(Q > 0.5).astype(float), X_rest=rest, Y=Y)

    def loglik_gap(self, ctx: _Sweep, k: int, q_k: np.ndarray) -> np.ndarray:
        """eq. (11) at the mode: ½ Σ_d [(y − g(ẑ, z_k=0))² − (y − g(ẑ, z_k=1))²]/σ²_d."""
        n = ctx.Z.shape[0]
        Z2 = np.concatenate([ctx.Z, ctx.Z])
        Z2[:n, k] = 1.0
        Z2[n:, k] = 0.0
        G = self._forward(np.hstack([Z2, np.concatenate([ctx.X_rest, ctx.X_rest])]))
        e1 = ((ctx.Y - G[:n]) ** 2 / self.sigma2_).sum(axis=1)
        e0 = ((ctx.Y - G[n:]) ** 2 / self.sigma2_).sum(axis=1)
        return 0.5 * (e0 - e1)

    def commit(self, ctx: _Sweep, k: int, q_old: np.ndarray, q_new: np.ndarray) -> None:
        ctx.Z[:, k] = q_new > 0.5

    def expected_loglik(self, Q: np.ndarray, U: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
        """``E_q[log p(y_n | z, u_n)]`` per item, estimated by Monte Carlo: the mean over
        ``n_samples`` draws ``z ~ q`` (a fixed seed, so that two structures are compared on the
        same draws). With it the bound of eq. (1) is an unbiased estimate of the true
        variational bound, not the data term at the mode."""
        rng = np.random.default_rng(self.seed + 7919)
        n = Q.shape[0]
        Z = (rng.random((self.n_samples, *Q.shape)) < Q).astype(float).reshape(self.n_samples * n, Q.shape[1])
        rest = np.hstack([self.scale_u(U, n), np.ones((n, 1))])
        G = self._forward(np.hstack([Z, np.tile(rest, (self.n_samples, 1))])).reshape(self.n_samples, n, -1)
        quad = (((Y[None] - G) ** 2) / self.sigma2_).sum(axis=2).mean(axis=0)
        return -0.5 * quad - 0.5 * np.sum(np.log(self.sigma2_) + LOG_2PI)

    def predict(self, Q: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        return self._forward(self._inputs((Q > 0.5).astype(float), U))

    # structure changes: edit the first layer so that predictions are unchanged -------------
    def _first(self) -> nn.Linear:
        return self.net_[0]

    def _set_first(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        new = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            new.weight.copy_(weight)
            new.bias.copy_(bias)
        self.net_[0] = new

    def add_feature(self) -> None:
        K = self.n_features_
        if self.net_ is not None:
            lin = self._first()
            W = lin.weight.detach()
            W = torch.cat([W[:, :K], torch.zeros(W.shape[0], 1, dtype=W.dtype), W[:, K:]], dim=1)
            self._set_first(W, lin.bias.detach())
        self.n_features_ = K + 1

    def remove_feature(self, k: int) -> None:
        if self.net_ is not None:
            lin = self._first()
            W = lin.weight.detach()
            keep = [j for j in range(W.shape[1]) if j != k]
            self._set_first(W[:, keep], lin.bias.detach())
        self.n_features_ -= 1

    def flip_feature(self, k: int) -> None:
        if self.net_ is not None:
            lin = self._first()
            W = lin.weight.detach().clone()
            b = lin.bias.detach() + W[:, k]
            W[:, k] = -W[:, k]
            self._set_first(W, b)

    def weights(self) -> np.ndarray:
        """The effect of switching each feature on, per dimension (D×K), at one reference
        point: all other features off and the side inputs at their training mean. A linear
        summary of a nonlinear g, not an average over items."""
        K = self.n_features_
        if self.net_ is None or K == 0:  # D×0 for a fit without features (D from its noise variances)
            return np.zeros((0 if self.sigma2_ is None else self.sigma2_.size, K))
        P = self.u_mean_.size
        base = np.zeros((K + 1, K + P + 1))
        base[:, -1] = 1.0
        for k in range(K):
            base[k + 1, k] = 1.0
        out = self._forward(base)
        return (out[1:] - out[0]).T

    # persistence -------------------------------------------------------------------------------
    def get_state(self):
        meta, arrays = super().get_state()
        meta.update(
            hidden=list(self.hidden), dropout=self.dropout, lr=self.lr, epochs=self.epochs,
            batch_size=self.batch_size, em_epochs=self.em_epochs, seed=self.seed, n_fits=self._n_fits,
        )
        if self.net_ is not None:
            meta["n_in"] = int(self._first().weight.shape[1])
            meta["n_out"] = int(self.net_[-1].weight.shape[0])
            for key, val in self.net_.state_dict().items():
                arrays[f"net.{key}"] = val.numpy().copy()
            arrays["y_mean_"] = self.y_mean_
            arrays["y_std_"] = self.y_std_
        return meta, arrays

    def set_state(self, meta, arrays):
        super().set_state(meta, arrays)
        self.hidden = tuple(meta["hidden"])
        self.dropout, self.lr = float(meta["dropout"]), float(meta["lr"])
        self.epochs, self.batch_size = int(meta["epochs"]), int(meta["batch_size"])
        self.em_epochs, self.seed = int(meta["em_epochs"]), int(meta["seed"])
        self._n_fits = int(meta.get("n_fits", 0))
        if "n_in" in meta:
            self.net_ = self._build(int(meta["n_in"]), int(meta["n_out"]))
            sd = {k[4:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith("net.")}
            self.net_.load_state_dict(sd)
            self.y_mean_ = np.asarray(arrays["y_mean_"], dtype=float)
            self.y_std_ = np.asarray(arrays["y_std_"], dtype=float)
