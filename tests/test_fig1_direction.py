"""Fig. 1's direction at small scale on 2AF: a rank-1 initial W_h learns richer (lower kernel and
representation alignment) than a full-rank one, at equal accuracy.

20 networks per rank (N = 100), trained together as one ensemble (each member exactly as if alone),
each frozen by StopAtAccuracy once its validation accuracy reaches 0.8 (checked every 25 steps, at
most 2,000 steps), so the measures compare networks at the same performance. Networks that never
reach the target or diverge are left out and counted (at most 4 of 20 per rank). Each claim is a
one-sided Mann-Whitney test at ``trend_stats.ALPHA`` (0.01) over the networks kept.

The seed block ``s`` (member seeds 100 s .. 100 s + 19, data seed s) is a parameter: block 0 runs in the
default suite, blocks 1-3 with ``-m slow``; all four give the same verdicts (docs/reliability.md).

Verdicts when written (median rank 1 vs full rank, one-sided p), blocks 0 / 1 / 2 / 3:
KA 0.185 vs 0.455 (7e-7) / 0.248 vs 0.455 (5e-4) / 0.225 vs 0.456 (4e-6) / 0.204 vs 0.431 (6e-5);
RA 0.860 vs 0.985 (4e-7) / 0.763 vs 0.990 (1e-7) / 0.852 vs 0.987 (3e-8) / 0.885 vs 0.990 (2e-7).

Not asserted: that rank 1 changes W_h more (Fig. 1's weight change). Its median ||dW_h|| is higher on
all four blocks (0.925 vs 0.753, 0.928 vs 0.831, 1.064 vs 0.759, 1.070 vs 0.779) but the test gives
p = 0.0036 / 0.038 / 1e-5 / 6e-5: block 1 misses ALPHA, so at this scale the verdict depends on the
seed and is reported, not tested.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import yaml
from trend_stats import ALPHA, describe, p_less, split

from rlnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
N_NETS, TARGET, MAX_LEFT_OUT = 20, 0.8, 4
KEYS = ("kernel_alignment", "representation_alignment", "weight_change_norm", "accuracy")


def train(rank: int, block: int, out: Path) -> list[dict]:
    stop = out.parent / "stop.yaml"
    stop.write_text(yaml.safe_dump({"trainer": {"callbacks": [{
        "class_path": "rlnet.callbacks.StopAtAccuracy",
        "init_args": {"target": TARGET, "every_n_steps": 25, "source": "val"}}]}}))
    code = main(["fit", "--config", str(ROOT / "configs/2af_lowrank.yaml"), "--config", str(stop),
                 "--trainer.max_steps", "2000", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                 "--trainer.enable_checkpointing", "false", "--trainer.val_check_interval", "2000",
                 "--model.init_args.n_hidden", "100", "--model.init_args.n_members", str(N_NETS),
                 "--model.init_args.seed", str(100 * block), "--data.init_args.seed", str(block),
                 "--seed_everything", str(block), "--model.init_args.connectivity.init_args.rank", str(rank),
                 "--laziness.verbose", "false", "--trainer.default_root_dir", str(out)])
    assert code == 0
    return json.loads((out / "metrics.json").read_text())["members"]


@pytest.mark.parametrize("block", [0, *(pytest.param(b, marks=pytest.mark.slow) for b in (1, 2, 3))])
def test_rank_one_is_richer_than_full_rank_on_2af(block, tmp_path):
    groups = {}
    for rank in (1, 100):
        kept, left_out = split(train(rank, block, tmp_path / f"rank{rank}"), KEYS)
        assert left_out <= MAX_LEFT_OUT, f"rank {rank}: {left_out} of {N_NETS} networks did not learn"
        groups[rank] = {k: [m[k] for m in kept] for k in KEYS}
        print(f"block {block} rank {rank}: {len(kept)} kept, {left_out} left out")
    low, full = groups[1], groups[100]
    for k in KEYS:
        print(f"block {block} {describe(k, low[k], full[k])}")
    # Equal performance: the kept networks' accuracies on the probe trials agree (the stopping rule).
    assert abs(statistics.median(low["accuracy"]) - statistics.median(full["accuracy"])) < 0.05
    assert p_less(low["kernel_alignment"], full["kernel_alignment"]) < ALPHA
    assert p_less(low["representation_alignment"], full["representation_alignment"]) < ALPHA
