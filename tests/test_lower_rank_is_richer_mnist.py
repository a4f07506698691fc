"""The paper's rank direction at small scale on MNIST (slow): a lower-rank initial recurrent (sMNIST,
Fig. 1) or hidden (784-300-10 net, Fig. 4B) weight learns richer, at equal accuracy.

The shipped configs through the CLI on the offline 5,000-digit subset. Per rank, ``n`` networks
trained as one ensemble (each member exactly as if alone), each frozen by StopAtAccuracy once its
validation accuracy reaches the target (checked every 25 steps), so the measures compare networks
at the same performance; networks that never reach it or diverge are left out and counted (at most a
quarter per rank). Each claim is a one-sided Mann-Whitney test at ``trend_stats.ALPHA`` (0.01).

The seed block ``s`` (member seeds 100 s .., data seed s) is a parameter; blocks 0-3 all run with
``-m slow`` and give the same verdicts (docs/reliability.md).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
import yaml
from trend_stats import ALPHA, describe, p_less, split

from rlnet.cli import main
from rlnet.data.mnist import write_mnist_subset

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
KEYS = ("kernel_alignment", "representation_alignment", "weight_change_norm", "accuracy")
# name: config, rank argument, (low, full) ranks, networks per rank, accuracy target, step budget
CASES = {
    "smnist": ("configs/smnist_lowrank.yaml", "--model.init_args.connectivity.init_args.rank", (5, 100), 12, 0.6,
               1500),
    "mnist_ff": ("configs/mnist_ff_lowrank.yaml", "--model.init_args.rank", (5, 300), 16, 0.85, 1500),
}


def train(case: str, rank: int, block: int, tmp: Path) -> list[dict]:
    config, rank_arg, (_, full), n, target, steps = CASES[case]
    stop = tmp / "stop.yaml"
    stop.write_text(yaml.safe_dump({"trainer": {"callbacks": [{
        "class_path": "rlnet.callbacks.StopAtAccuracy",
        "init_args": {"target": target, "every_n_steps": 25, "source": "val"}}]}}))
    out = tmp / f"rank{rank}"
    args = ["fit", "--config", str(ROOT / config), "--config", str(stop), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--laziness.verbose", "false",
            "--trainer.max_steps", str(steps), "--trainer.val_check_interval", str(steps),
            "--model.init_args.n_members", str(n), "--laziness.kernel_trials", "50",
            "--model.init_args.n_hidden", str(full), "--model.init_args.seed", str(100 * block),
            "--data.init_args.seed", str(block), "--seed_everything", str(block),
            "--data.init_args.source", "subset", "--data.init_args.root", str(tmp / "data"),
            rank_arg, str(rank), "--trainer.default_root_dir", str(out)]
    assert main(args) == 0
    return json.loads((out / "metrics.json").read_text())["members"]


@pytest.mark.slow
@pytest.mark.timeout(3000)  # up to 24 sMNIST networks x 1,500 steps: ~10 min on a busy 2-core machine
@pytest.mark.parametrize("block", [0, 1, 2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_lower_rank_is_richer(case, block, tmp_path):
    write_mnist_subset(tmp_path / "data" / "mnist5k")
    low_rank, full_rank = CASES[case][2]
    n = CASES[case][3]
    groups = {}
    for rank in (low_rank, full_rank):
        kept, left_out = split(train(case, rank, block, tmp_path), KEYS)
        print(f"{case} block {block} rank {rank}: {len(kept)} kept, {left_out} left out")
        assert left_out <= n // 4, f"rank {rank}: {left_out} of {n} networks did not learn"
        groups[rank] = {k: [m[k] for m in kept] for k in KEYS}
    low, full = groups[low_rank], groups[full_rank]
    for k in KEYS:
        print(f"{case} block {block} {describe(k, low[k], full[k])}")
    assert abs(statistics.median(low["accuracy"]) - statistics.median(full["accuracy"])) < 0.05
    assert p_less(low["representation_alignment"], full["representation_alignment"]) < ALPHA
    assert p_less(low["kernel_alignment"], full["kernel_alignment"]) < ALPHA
