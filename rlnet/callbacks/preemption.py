"""Pre-emption: on SIGTERM (what schedulers send before killing a job) save a checkpoint and stop.

Lightning turns SIGTERM into ``SIGTERMException`` at the end of the current training step; this
callback then writes ``last.ckpt`` (atomically, like the periodic checkpoint), so that the run
resumes with ``--ckpt_path last`` from the step it reached instead of the last periodic checkpoint.
SIGKILL cannot be caught: then the periodic checkpoint is what remains.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException


class CheckpointOnSigterm(L.Callback):
    """Save the full training state to ``path`` when the run stops on SIGTERM."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.saved_step: int | None = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.global_step > 0:
            trainer.save_checkpoint(self.path)
            self.saved_step = int(trainer.global_step)
