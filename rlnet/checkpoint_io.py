"""Checkpoints written atomically: a temporary file in the checkpoint's own directory, renamed.

Lightning's ``TorchCheckpointIO`` saves through an fsspec transaction whose temporary file lies in
the system's temporary directory; when that is another filesystem the final move is a copy, and a
full disk during the copy leaves a partial ``last.ckpt`` (the run then cannot resume). Here the
temporary file is in the same directory, so the final step is ``os.replace``: the previous
checkpoint survives any failure (see :func:`rlnet.atomic.atomic_file`).
"""

from __future__ import annotations

import io
import os
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.types import _PATH

from rlnet.atomic import atomic_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose ``save_checkpoint`` is all-or-nothing (local paths)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's own way
            return super().save_checkpoint(checkpoint, path, storage_options)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        buffer = io.BytesIO()  # serialise first: a failed write is then a plain OSError, not torch's
        torch.save(checkpoint, buffer)
        with atomic_file(path) as f:
            f.write(buffer.getbuffer())
        return None


def use_atomic_checkpoints(trainer: Any) -> bool:
    """Give ``trainer``'s strategy an :class:`AtomicCheckpointIO` unless a custom one is configured;
    True if it did."""
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is not TorchCheckpointIO:
        return False
    strategy.checkpoint_io = AtomicCheckpointIO()
    return True
