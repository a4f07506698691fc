"""The pattern-generation task (Fig. 18): target definition, binning, and a CLI run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rlnet.cli import main
from rlnet.data.pattern import PERIODS_MS, PatternDataModule

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("dt", [1, 10, 20, 50])
def test_target_starts_at_zero_with_max_abs_one(dt):
    dm = PatternDataModule(dt=dt, seed=4)
    x, y = dm.probe_batch()
    assert x.shape == (1000 // dt, 1, 100) and y.shape == (1000 // dt, 1, 1)
    assert y[0].item() == 0.0
    assert y.abs().max().item() == pytest.approx(1.0, abs=1e-7)


def test_target_is_a_sum_of_the_four_sines():
    """Least squares on {1, sin, cos of the four periods} reproduces the target exactly."""
    y = PatternDataModule(dt=1, seed=2).y.flatten().double().numpy()
    t = np.arange(1000.0)
    basis = [np.ones_like(t)] + [f(2 * math.pi * t / p) for p in PERIODS_MS for f in (np.sin, np.cos)]
    A = np.stack(basis, 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    assert np.abs(A @ coef - y).max() < 1e-6
    amps = [math.hypot(coef[1 + 2 * j], coef[2 + 2 * j]) for j in range(4)]
    ratio = max(amps) / min(amps)
    assert ratio <= 4 + 1e-6  # amplitudes drawn from U[0.5, 2]


def test_binning_keeps_every_spike_and_samples_the_same_target():
    fine, coarse = PatternDataModule(dt=1, seed=7), PatternDataModule(dt=20, seed=7)
    # Input: counts per 20 ms bin are the sums of the 1 ms spikes (same frozen noise).
    assert torch.equal(fine.x.reshape(50, 20, 1, 100).sum(1), coarse.x)
    assert set(fine.x.unique().tolist()) <= {0.0, 1.0}
    rate = fine.x.mean().item() * 1000
    assert 40 < rate < 60  # 50 Hz, 100 x 1000 Bernoulli(0.05) draws: sd ~0.7 Hz
    # Target: the 20 ms grid samples the same function, normalised on its own grid.
    sub = fine.y[::20].flatten()
    c = coarse.y.flatten()
    scale = sub.abs().max()
    assert torch.allclose(c * scale, sub, atol=1e-6)
    # The frozen pattern is drawn once: every training batch is the probe trial.
    it = iter(coarse.train_dataloader())
    for _ in range(3):
        xb, yb = next(it)
        assert torch.equal(xb, coarse.x) and torch.equal(yb, coarse.y)


def test_bad_binning_names_the_field():
    with pytest.raises(ValueError, match=r"data\.duration"):
        PatternDataModule(dt=30)
    with pytest.raises(ValueError, match=r"data\.dt"):
        PatternDataModule(dt=0)


def test_pattern_rnn_through_cli(tmp_path):
    args = ["fit", "--config", str(ROOT / "configs/pattern_fullrank.yaml"), "--trainer.max_steps", "3",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--laziness.verbose", "false",
            "--model.init_args.n_hidden", "16", "--model.init_args.n_members", "2",
            "--trainer.default_root_dir", str(tmp_path)]
    assert main(args) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["steps"] == 3 and m["data"]["steps"] == 50
    assert m["config"]["model"]["init_args"]["loss"] == "mse"
    for member in m["members"]:
        assert "accuracy" not in member and member["final_loss"] > 0
        # With one probe trial the representation is the rates at all 50 steps (not a 1 x 1 Gram).
        assert 0 < member["representation_alignment"] <= 1


def test_representation_over_all_steps():
    from rlnet.models import RNNModule

    x = PatternDataModule(dt=50, seed=0).x
    m = RNNModule(n_input=100, n_output=1, n_hidden=12, n_members=2, loss="mse", representation_steps="all")
    H = m.laziness_representation(x)
    assert H.shape == (2, 20, 12)
    # Independent reference: Eq. 1 (Euler, a = dt / tau) stepped by hand in float64 for the one trial.
    a = m.hparams.dt / m.hparams.tau
    assert m.hparams.discretization == "euler"
    for e in range(2):
        W_h, W_x = m.net.W_h[e].detach().double(), m.net.W_x[e].detach().double()
        r, rates = torch.zeros(12, dtype=torch.float64), []
        for t in range(20):
            r = torch.relu((1 - a) * r + a * (W_h @ r + W_x @ x[t, 0].double()))
            rates.append(r)
        torch.testing.assert_close(H[e].double(), torch.stack(rates), rtol=1e-4, atol=1e-4)  # float32 vs float64
    with pytest.raises(ValueError, match=r"model\.representation_steps"):
        RNNModule(representation_steps="some")
