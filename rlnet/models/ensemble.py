"""What the ensemble LightningModules share: the member count, the forward pass and the SGD checks."""

from __future__ import annotations

import lightning as L
from torch import Tensor


def check_sgd_args(lr: float, momentum: float) -> None:
    """``ValueError`` unless ``lr > 0`` and ``0 <= momentum < 1``."""
    if not lr > 0:
        raise ValueError(f"model.lr must be > 0, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"model.momentum must be in [0, 1), got {momentum}")


class EnsembleModule(L.LightningModule):
    """A LightningModule whose ``self.net`` holds the ensemble: its member count and forward pass."""

    @property
    def n_members(self) -> int:
        """Members in the ensemble (``self.net.n_members``)."""
        return self.net.n_members

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The ensemble's forward pass, ``self.net(x)``."""
        return self.net(x)
