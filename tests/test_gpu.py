"""``--trainer.accelerator gpu`` end to end (marker ``gpu``). Where torch sees no CUDA device these
tests are deselected, not skipped (tests/conftest.py): run them on a GPU machine with
``python -m pytest -q -m gpu``."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import assert_member_measures_valid, run_cli, tiny_config, write_config

pytestmark = pytest.mark.gpu


def test_tiny_fit_on_the_gpu_matches_the_cpu(tmp_path):
    assert torch.cuda.is_available()
    config = write_config(tmp_path / "tiny.yaml", tiny_config(max_steps=20))
    out = {}
    for acc in ("gpu", "cpu"):
        run = tmp_path / acc
        assert run_cli(["fit", "--config", config, "--trainer.accelerator", acc, "--trainer.devices", "1",
                        "--trainer.default_root_dir", run]) == 0
        out[acc] = json.loads((run / "metrics.json").read_text())["members"]
    for g, c in zip(out["gpu"], out["cpu"], strict=True):
        assert_member_measures_valid(g)
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment", "final_loss"):
            assert g[key] == pytest.approx(c[key], rel=1e-3, abs=1e-4), key  # float32 on both devices
