"""Shared test settings: one torch thread (the CLI's default), offline W&B, tiny CLI overrides."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

# Overrides that make any shipped Neurogym config run in a second or two.
TINY = ["--trainer.max_steps", "3", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_checkpointing", "false", "--trainer.val_check_interval", "2",
        "--laziness.kernel_trials", "4", "--laziness.verbose", "false"]


@pytest.fixture
def tiny_args() -> list[str]:
    return list(TINY)
