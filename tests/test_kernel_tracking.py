"""Kernel tracking on rlnet's own RNN through the CLI, and the protocol defaults."""

from __future__ import annotations

import json

import pytest
import torch

from rlnet.cli import main
from rlnet.measures.effective_rank import top_eigenpair

torch.set_num_threads(1)


def test_top_eigenpair_matches_eigh():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(3, 40, 10, generator=g, dtype=torch.float64)
    K = A @ A.transpose(1, 2)
    lam, v = top_eigenpair(K)
    assert torch.allclose(lam, torch.linalg.eigvalsh(K)[:, -1], rtol=1e-8)
    lam2, _ = top_eigenpair(K + 1e-3 * torch.eye(40), v0=v)  # warm start on a moved kernel
    assert torch.allclose(lam2, torch.linalg.eigvalsh(K + 1e-3 * torch.eye(40))[:, -1], rtol=1e-8)


def test_top_eigenpair_of_a_member_is_what_it_is_alone():
    """Kernels whose power iterations stop at different steps (eigengaps 1e-3, 0.5, 1e-6: the last
    falls back to eigh): each one's pair from the stack of four equals its pair computed alone, to
    the bit (a packed run's tracked kernel effective rank equals the run's alone)."""
    g = torch.Generator().manual_seed(0)
    Ks = []
    for gap in (1e-3, 0.5, 1e-6, 0.1):
        Q, _ = torch.linalg.qr(torch.randn(30, 30, generator=g, dtype=torch.float64))
        ev = torch.linspace(0.1, 1.0, 30, dtype=torch.float64)
        ev[-1] = 1.0 + gap
        Ks.append(Q @ torch.diag(ev) @ Q.T)
    K = torch.stack(Ks)
    lam, v = top_eigenpair(K, max_iter=60)
    assert torch.allclose(lam, torch.linalg.eigvalsh(K)[:, -1], rtol=1e-8)
    for e in range(4):
        for alone in (top_eigenpair(K[e], max_iter=60), [t[0] for t in top_eigenpair(K[e:e + 1], max_iter=60)]):
            assert torch.equal(alone[0], lam[e]) and torch.equal(alone[1], v[e])
    lam2, v2 = top_eigenpair(K.reshape(2, 2, 30, 30), v0=v.reshape(2, 2, 30), max_iter=60)
    assert lam2.shape == (2, 2) and v2.shape == (2, 2, 30)


def test_top_eigenpair_of_a_diverged_kernel_is_nan_and_spares_its_mates():
    """A kernel with an infinite or NaN entry (a diverged member's) gives NaN, where eigh would
    raise; its ensemble-mates get their own pairs, and a NaN warm start is not used."""
    g = torch.Generator().manual_seed(1)
    A = torch.randn(3, 20, 5, generator=g, dtype=torch.float64)
    K = A @ A.transpose(1, 2)
    K[1, 0, 0], K[2, 3, 4] = float("inf"), float("nan")
    lam, v = top_eigenpair(K)
    assert torch.isnan(lam[1:]).all() and torch.isnan(v[1:]).all()
    assert torch.equal(lam[0], top_eigenpair(K[0])[0])
    nan_start = torch.full((20,), float("nan"), dtype=torch.float64)
    assert torch.equal(top_eigenpair(K[0], v0=nan_start)[0], top_eigenpair(K[0])[0])


def test_cli_tracking_preset_on_rnn_ensemble(tmp_path):
    run = tmp_path / "run"
    args = ["fit", "--config", "configs/dms_lowrank.yaml", "--config", "callbacks/kernel_tracking.yaml",
            "--trainer.max_steps", "30", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_checkpointing", "false", "--trainer.limit_val_batches", "0",
            "--trainer.default_root_dir", str(run), "--model.init_args.n_hidden", "16",
            "--model.init_args.n_members", "2", "--data.init_args.n_probe", "12"]
    # The preset measures every 100 steps; the last step is always measured too.
    assert main(args) == 0
    out = json.loads((run / "metrics.json").read_text())
    assert out["measure_settings"]["kernel_params"] == "W_h" and out["measure_settings"]["weights"] == ["W_h"]
    tr = out["tracking"]
    assert tr["steps"] == [0, 30]
    assert tr["settings"]["kernel_params"] == "W_h"  # the module's default, as the authors' code
    assert len(tr["members"]) == 2
    for m in tr["members"]:
        assert m["kernel_alignment"][0] == pytest.approx(1.0)
        assert m["representation_alignment"][0] == pytest.approx(1.0)
        assert m["weight_change_norm"][0] == 0.0 and m["weight_change_norm"][-1] > 0
        assert 1.0 <= m["kernel_effective_rank"][-1] <= 4 * 8 * 2
        assert 0.0 < m["task_alignment"][-1] <= 1.0
    # Both callbacks use the whole 12-trial probe: the last tracked point is the final measure.
    for m, f in zip(tr["members"], out["members"]):
        for key in ("weight_change_norm", "kernel_alignment", "representation_alignment"):
            assert m[key][-1] == pytest.approx(f[key], rel=1e-6)


TRACK_TINY = ["--config", "callbacks/kernel_tracking.yaml", "--trainer.max_steps", "4",
              "--trainer.callbacks.init_args.every_n_steps", "2", "--trainer.callbacks.init_args.kernel_trials", "4",
              "--laziness.kernel_trials", "4", "--trainer.enable_progress_bar", "false"]
# Every model kind rlnet ships, each with the loss it trains on, and a learning rate that blows it up.
MODEL_KINDS = {
    "rnn_neurogym": (["--config", "configs/dms_lowrank.yaml", "--model.init_args.n_hidden", "12",
                      "--data.init_args.n_probe", "8"], "1e9"),
    "rnn_smnist_last_step": (["--config", "configs/smnist_lowrank.yaml", "--model.init_args.n_hidden", "12",
                              "--data.init_args.batch_size", "8", "--data.init_args.n_probe", "8"], "1e9"),
    # N = 40: at N = 12 the rank-1 start's 50-step activity already overflows
    "rnn_pattern_mse": (["--config", "configs/pattern_lowrank.yaml", "--model.init_args.n_hidden", "40"], "1e9"),
    "mlp_mnist": (["--config", "configs/mnist_ff_lowrank.yaml", "--model.init_args.n_hidden", "12",
                   "--data.init_args.batch_size", "8", "--data.init_args.n_probe", "8"], "1e35"),  # 1e8: silent
    "linear": (["--config", "configs/linear_fig4a_d2.yaml", "--model.init_args.n_hidden", "12",
                "--model.init_args.n_members", "2", "--data.init_args.n_samples", "8"], "1e3"),
}


@pytest.mark.parametrize("diverge", [False, True], ids=["learns", "diverges"])
@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_tracking_runs_on_every_model_kind_learning_or_diverging(tmp_path, kind, diverge):
    """The tracking preset on each shipped model kind, and the same run blown up by its learning
    rate: it ends cleanly (exit 0, metrics.json with every record), a diverged network is flagged
    and never crashes a kernel measure, and a learning one's series start where they must."""
    args, bad_lr = MODEL_KINDS[kind]
    run = tmp_path / "run"
    lr = ["--model.init_args.lr", bad_lr] if diverge else []
    assert main(["fit", *args, *TRACK_TINY, *lr, "--trainer.default_root_dir", str(run)]) == 0
    out = json.loads((run / "metrics.json").read_text())
    assert out["tracking"]["steps"] == [0, 2, 4]
    assert all(m["diverged"] is diverge for m in out["members"])
    for m in out["tracking"]["members"]:
        assert len(m["kernel_alignment"]) == 3 and m["weight_change_norm"][0] == 0.0
        if not diverge:
            assert m["kernel_alignment"][0] == pytest.approx(1.0)
            assert all(0.0 < a <= 1.0 + 1e-9 for a in m["task_alignment"])
