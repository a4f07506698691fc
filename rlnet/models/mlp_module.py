"""LightningModule for the 784-300-10 ReLU network of Fig. 4B, with an SVD-rank hidden layer."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rlnet.connectivity.svd import svd_low_rank
from rlnet.connectivity.torch_default import torch_default_linear_
from rlnet.measures.tangent_kernel import empirical_ntk
from rlnet.models.ensemble import EnsembleModule, check_distinct_members, check_sgd_args
from rlnet.nets.mlp import MLP


class MLPModule(EnsembleModule):
    """Trains ``n_members`` two-layer ReLU networks (784-300-10) on MNIST, cross-entropy, SGD.

    Initialisation (App. C.2): the hidden layer like the RNN's input weights and the readout like
    its readout, i.e. PyTorch's ``nn.Linear`` default ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; then
    the hidden layer is truncated to ``rank`` singular components and rescaled to its Frobenius norm.

    Laziness protocol as :class:`~rlnet.models.RNNModule`: the weights are ``W_1`` (hidden) and
    ``W_2`` (readout); the representation is the hidden rates; the kernel's ``params='W_h'`` (the
    laziness callback's default, "the structured hidden weight") means ``W_1``, ``'all'`` adds ``W_2``.

    Args:
        n_input, n_output: linked from the DataModule (784, 10).
        n_hidden: 300 in the paper.
        rank: SVD rank of the initial hidden layer (``None``: full).
        lr, momentum, optimizer: as the RNN (SGD 3e-3, momentum 0.9).
        seed, n_members, seeds: member ``e`` uses ``seed + e`` unless ``seeds`` lists them
            (``seed=None``: 0, or rlnet's CLI fills in ``seed_everything``).
    """

    def __init__(self, n_input: int = 784, n_output: int = 10, n_hidden: int = 300, rank: int | None = None,
                 lr: float = 3e-3, momentum: float = 0.9, optimizer: Literal["sgd", "adam"] = "sgd",
                 seed: int | None = None, n_members: int = 1, seeds: list[int] | None = None) -> None:
        super().__init__()
        check_sgd_args(lr, momentum)
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"model.optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        if rank is not None and not 1 <= int(rank) <= min(n_hidden, n_input):
            raise ValueError(f"model.rank must be in [1, {min(n_hidden, n_input)}], got {rank}")
        if seeds is not None and len(seeds) != n_members:
            if n_members != 1:
                raise ValueError(f"model.seeds has {len(seeds)} entries but model.n_members={n_members}")
            n_members = len(seeds)
        self.save_hyperparameters()
        seed = 0 if seed is None else int(seed)  # None: rlnet's CLI fills in seed_everything
        self.seeds = list(seeds) if seeds is not None else [seed + e for e in range(n_members)]
        check_distinct_members([int(s) for s in self.seeds], self.seeds)
        self.rank = None if rank is None else int(rank)
        self.lr, self.momentum, self.optimizer_name = lr, momentum, optimizer
        self.net = MLP(n_input, n_hidden, n_output, len(self.seeds))
        self.init_weights()

    def init_weights(self) -> None:
        """Member ``e``: one generator seeded by ``seeds[e]`` draws ``W_1``, then ``W_2``."""
        with torch.no_grad():
            for e, s in enumerate(self.seeds):
                gen = torch.Generator().manual_seed(int(s))
                w1 = torch_default_linear_(torch.empty(self.net.W_1.shape[1:]), gen)
                self.net.W_1[e].copy_(svd_low_rank(w1, self.rank))  # App. C.1 on the hidden layer
                self.net.W_2[e].copy_(torch_default_linear_(torch.empty(self.net.W_2.shape[1:]), gen))

    def member_losses(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Per-member mean cross-entropy ``(E,)`` at the last step."""
        y_hat, y = y_hat[:, -1], y[-1]
        E, B, O = y_hat.shape
        ce = F.cross_entropy(y_hat.reshape(E * B, O), y.reshape(1, B).expand(E, B).reshape(-1), reduction="none")
        return ce.reshape(E, B).mean(1)

    def member_accuracy(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return (y_hat[:, -1].argmax(-1) == y[-1]).double().mean(-1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        losses = self.member_losses(self.net(x)[0], y)
        if self._trainer is not None and (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
            self.log("train/loss", losses.detach().mean(), prog_bar=True)
        return losses.sum()  # each member's gradient is its own loss's

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        y_hat, _ = self.net(x)
        self.log("val/loss", self.member_losses(y_hat, y).mean())
        self.log("val/acc", self.member_accuracy(y_hat, y).mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)

    # ---- laziness protocol ----------------------------------------------------------------------
    laziness_trial_dim = 1  # probe tensors are (1, B, 784), the RNN's (T, B, ...) layout

    def laziness_weights(self) -> dict[str, Tensor]:
        return {"W_1": self.net.W_1, "W_2": self.net.W_2}

    @torch.no_grad()
    def laziness_representation(self, x: Tensor) -> Tensor:
        return self.net(x)[1][:, -1]

    @torch.no_grad()
    def laziness_rates(self, x: Tensor) -> Tensor:
        return self.net(x)[1]

    @torch.no_grad()
    def laziness_kernel(self, x: Tensor, params: str = "W_h", steps: str = "last") -> Tensor:
        """Exact kernel over the hidden layer (``'W_h'`` or ``'W_1'``) or all weights (``'all'``)."""
        return empirical_ntk(self.net, x, params="W_1" if params in ("W_h", "W_1") else params,
                             implementation="structured")

    @torch.no_grad()
    def laziness_targets(self, y: Tensor, steps: str = "last") -> Tensor:
        """One-hot labels ``(B*O,)`` in the kernel's row order ``(b, k)`` (task and label alignment
        of :class:`~rlnet.callbacks.KernelTrackingCallback`); ``y`` is ``(1, B)``."""
        return F.one_hot(y[-1].long(), self.net.W_2.shape[1]).to(self.net.W_2.dtype).reshape(-1)

    @torch.no_grad()
    def laziness_scores(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        y_hat, _ = self.net(x)
        return {"loss": self.member_losses(y_hat, y), "accuracy": self.member_accuracy(y_hat, y)}

    def member_info(self) -> list[dict]:
        return [{"seed": int(s), "connectivity": {"name": "svd_hidden", "rank": self.rank}} for s in self.seeds]
