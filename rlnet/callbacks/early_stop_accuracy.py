"""Stop at a target accuracy or a step budget, whichever comes first (paper App. C.2: sMNIST
training ends at 97 % accuracy).

Every ``every_n_steps`` the callback scores each member on the DataModule's validation batches
(or its probe batch) through the module's ``laziness_scores(x, y)['accuracy']``. A member that
reaches ``target`` is *frozen* by :func:`rlnet.models.divergence.freeze_members` (the freezing of
diverged members): from then on its gradient and its optimiser state (e.g. SGD's momentum buffer)
are zeroed before each step, so its weights are exactly those it had when it reached the target,
as if it had been trained alone and stopped. The run stops when every member
is frozen; ``trainer.max_steps`` is the budget. Each member's stopping step and accuracy go into
``metrics.json`` through :meth:`member_metrics`. Scoring runs in eval mode with the global RNG
states saved and restored, so the checks themselves change nothing of the training.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from torch import Tensor

from rlnet.callbacks.base import MetricsCallback, measuring
from rlnet.models.divergence import freeze_members


class StopAtAccuracy(MetricsCallback):
    """Args:
        target: accuracy at which a member stops (paper: 0.97).
        every_n_steps: how often to score (each check is a forward pass over the validation split).
        source: ``'val'`` (the DataModule's validation batches) or ``'probe'`` (its probe batch).
    """

    def __init__(self, target: float = 0.97, every_n_steps: int = 100, source: Literal["val", "probe"] = "val"
                 ) -> None:
        super().__init__()
        if not 0 < target <= 1:
            raise ValueError(f"target must be in (0, 1], got {target}")
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        if source not in ("val", "probe"):
            raise ValueError(f"source must be 'val' or 'probe', got {source!r}")
        self.target, self.every_n_steps, self.source = float(target), int(every_n_steps), source
        self.stopped_at: list[int | None] = []
        self.accuracy_at_stop: list[float | None] = []

    @torch.no_grad()
    def accuracy(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Tensor:
        """Per-member accuracy ``(E,)`` on the chosen batches."""
        dm = trainer.datamodule
        batches = dm.val_dataloader() if self.source == "val" else [dm.probe_batch()]
        correct, total = None, 0
        for x, y in batches:
            x, y = x.to(pl_module.device), y.to(pl_module.device)
            n = x.shape[1]
            acc = pl_module.laziness_scores(x, y)["accuracy"].double() * n
            correct = acc if correct is None else correct + acc
            total += n
        return correct / total

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        if not self.stopped_at:
            self.stopped_at = [None] * pl_module.n_members
            self.accuracy_at_stop = [None] * pl_module.n_members

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
                           ) -> None:
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        with measuring(pl_module):
            acc = self.accuracy(trainer, pl_module)
        for e, a in enumerate(acc.tolist()):
            if self.stopped_at[e] is None and a >= self.target:
                self.stopped_at[e], self.accuracy_at_stop[e] = step, a
        if all(s is not None for s in self.stopped_at):
            trainer.should_stop = True

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if not any(s is not None for s in self.stopped_at):
            return
        keep = torch.tensor([s is None for s in self.stopped_at], device=pl_module.device)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        freeze_members(params, optimizer, keep)

    def member_metrics(self, trainer: L.Trainer | None = None, pl_module: L.LightningModule | None = None
                       ) -> list[dict]:
        """Per-member entries of ``metrics.json``."""
        return [{"stopped_at_step": s, "accuracy_at_stop": a, "reached_target": s is not None,
                 "target_accuracy": self.target} for s, a in zip(self.stopped_at, self.accuracy_at_stop)]

    def state_dict(self) -> dict:
        return {"stopped_at": self.stopped_at, "accuracy_at_stop": self.accuracy_at_stop}

    def load_state_dict(self, state_dict: dict) -> None:
        self.stopped_at = list(state_dict.get("stopped_at", []))
        self.accuracy_at_stop = list(state_dict.get("accuracy_at_stop", []))
