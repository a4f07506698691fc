"""The paper's rank direction at small scale (slow): sMNIST (Fig. 1) and the 784-300-10 net (Fig. 4B).

Seeds 0-2 as one ensemble per rank, the shipped configs through the CLI, the offline subset.
Only the direction of the seed means is asserted (lower rank: smaller RA and KA).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlnet.cli import main
from rlnet.data.mnist import write_mnist_subset

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def _means(tmp: Path, config: str, extra: list[str]) -> dict[str, float]:
    args = ["fit", "--config", str(ROOT / config), "--trainer.logger", "false", "--trainer.enable_progress_bar",
            "false", "--laziness.verbose", "false", "--trainer.max_steps", "300", "--trainer.val_check_interval",
            "300", "--model.init_args.n_members", "3", "--laziness.kernel_trials", "50",
            "--data.init_args.source", "subset", "--data.init_args.root", str(tmp / "data"), *extra,
            "--trainer.default_root_dir", str(tmp / "run")]
    assert main(args) == 0
    members = json.loads((tmp / "run" / "metrics.json").read_text())["members"]
    return {k: sum(m[k] for m in members) / len(members) for k in ("representation_alignment", "kernel_alignment")}


@pytest.mark.slow
@pytest.mark.parametrize("config,rank_arg,low,full", [
    ("configs/smnist_lowrank.yaml", "--model.init_args.connectivity.init_args.rank", 5, 100),
    ("configs/mnist_ff_lowrank.yaml", "--model.init_args.rank", 5, 300),
])
def test_lower_rank_is_richer(config, rank_arg, low, full, tmp_path):
    for d in ("low", "full"):
        write_mnist_subset(tmp_path / d / "data" / "mnist5k")
    n = ["--model.init_args.n_hidden", str(full)]
    lo = _means(tmp_path / "low", config, [*n, rank_arg, str(low)])
    hi = _means(tmp_path / "full", config, [*n, rank_arg, str(full)])
    assert lo["representation_alignment"] < hi["representation_alignment"]
    assert lo["kernel_alignment"] < hi["kernel_alignment"]
