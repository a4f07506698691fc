"""Fault injection for the reliability tests (loaded by the CLI through ``class_path``)."""

from __future__ import annotations

import os
import signal

import lightning as L
import torch


class KillAtStep(L.Callback):
    """SIGKILL this very process at the end of training step ``step``: no handler, no cleanup,
    exactly what a pre-empted machine or the OOM killer does."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonMember(L.Callback):
    """Before training step ``step``, put a NaN into member ``member``'s ``W_h`` (a member that
    blew up), and remember its weights then, to check they stay frozen."""

    def __init__(self, step: int, member: int) -> None:
        self.step, self.member = step, member
        self.frozen: dict[str, torch.Tensor] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.net.W_h[self.member, 0, 0] = float("nan")
            self.frozen = {k: v[self.member].detach().clone() for k, v in pl_module.laziness_weights().items()}


class TermAtStep(L.Callback):
    """Send this process SIGTERM during training step ``step`` (a scheduler pre-empting the job)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)
