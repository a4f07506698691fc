"""Save one checkpoint when training ends, whatever stopped it (step budget, target accuracy).

Lightning's ``ModelCheckpoint`` saves on validation or epoch ends, which an endless stream with a
short budget may never reach; the Fig. 3C teacher must always leave a checkpoint for its students.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L


class SaveFinalCheckpoint(L.Callback):
    """Write ``<trainer.default_root_dir>/<filename>`` at the end of training.

    Args:
        filename: checkpoint file name (``.ckpt``).
    """

    def __init__(self, filename: str = "final.ckpt") -> None:
        super().__init__()
        if not filename.endswith(".ckpt"):
            raise ValueError(f"filename must end in .ckpt, got {filename!r}")
        self.filename = filename
        self.path: Path | None = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.path = Path(trainer.default_root_dir) / self.filename
        trainer.save_checkpoint(self.path)
        if trainer.is_global_zero:
            print(f"checkpoint written to {self.path}")
