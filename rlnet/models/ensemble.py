"""What the ensemble LightningModules share: the member count, the forward pass, the SGD checks
and gradient clipping member by member."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import lightning as L
from torch import Tensor
from torch.optim import Optimizer

from rlnet.models.clipping import clip_grad_norm_per_member_


def check_sgd_args(lr: float, momentum: float) -> None:
    """``ValueError`` unless ``lr > 0`` (finite) and ``0 <= momentum < 1``."""
    if not lr > 0:
        raise ValueError(f"model.lr must be > 0, got {lr}")
    if not math.isfinite(lr):  # YAML .inf: every step would be NaN, recorded as "diverged"
        raise ValueError(f"model.lr must be a finite number, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"model.momentum must be in [0, 1), got {momentum}")


def check_distinct_members(members: Sequence[Hashable], seeds: Sequence[int], field: str = "model.seeds") -> None:
    """``ValueError`` if two members are the same network (same structure and seed): a repeated
    seed would train and count one network twice, as if it were two samples."""
    seen: dict[Hashable, int] = {}
    for e, m in enumerate(members):
        if m in seen:
            raise ValueError(f"{field} repeats seed {seeds[e]} (members {seen[m]} and {e} would be the same "
                             f"network, counted twice); list distinct seeds")
        seen[m] = e


class EnsembleModule(L.LightningModule):
    """A LightningModule whose ``self.net`` holds the ensemble: its member count and forward pass."""

    @property
    def n_members(self) -> int:
        """Members in the ensemble (``self.net.n_members``)."""
        return self.net.n_members

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The ensemble's forward pass, ``self.net(x)``."""
        return self.net(x)

    def configure_gradient_clipping(self, optimizer: Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """``Trainer(gradient_clip_val=c)``: each member's gradient norm is clipped by its own norm
        (:mod:`rlnet.models.clipping`), as it would be alone; ``'value'`` clipping is elementwise
        and stays Lightning's."""
        if gradient_clip_val and (gradient_clip_algorithm or "norm") == "norm":
            clip_grad_norm_per_member_(self.net.parameters(), float(gradient_clip_val), self.n_members)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
