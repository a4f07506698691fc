"""Every shipped structure config builds its model and data (configs/{task}_{structure}.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlnet.cli import build_cli

torch.set_num_threads(1)
STRUCTURES = ["null", "celltype", "celltype_b", "chain_over", "chain_under", "dale", "dale_trained", "em",
              "em_shuffled", "em_shuffled_all", "softrank", "lowrank_eignorm"]
# 2AF in the default suite; DMS and CXT (same classes, another task) with -m slow.
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = [pytest.param(CONFIG_DIR / f"{t}_{s}.yaml", marks=[pytest.mark.slow] if t != "2af" else [])
           for t in ("2af", "dms", "cxt") for s in STRUCTURES]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_instantiates(path, tmp_path):
    cli = build_cli(["--config", str(path), "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"],
                    run=False)
    model = cli.model
    structure = path.stem.split("_", 1)[1]
    W = model.net.W_h.detach()[0]
    n = 100 if structure.startswith("chain") else 198 if structure.startswith("em") else 300
    assert torch.isfinite(W).all() and W.shape[0] == n
    assert (model.dale is not None) == (structure == "dale_trained")
    assert cli.datamodule.task == path.stem.split("_")[0]
