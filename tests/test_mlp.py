"""The 784-300-10 network of Fig. 4B: exact kernel, SVD-rank hidden layer, ensemble independence."""

from __future__ import annotations

import pytest
import torch

from rlnet.connectivity.svd import svd_low_rank as low_rank_hidden
from rlnet.measures.ntk import naive_tangent_kernel
from rlnet.measures.ntk_mlp import mlp_tangent_kernel
from rlnet.models.mlp_module import MLPModule
from rlnet.nets.mlp import mlp_forward

torch.set_num_threads(1)


@pytest.mark.parametrize("params", ["W_1", "all"])
def test_closed_form_kernel_matches_autograd(params):
    g = torch.Generator().manual_seed(0)
    E, N, I, O, B = 2, 9, 7, 3, 5
    W1 = torch.randn(E, N, I, generator=g, dtype=torch.float64)
    W2 = torch.randn(E, O, N, generator=g, dtype=torch.float64)
    x = torch.randn(1, B, I, generator=g, dtype=torch.float64)
    K = mlp_tangent_kernel(W1, W2, x, params=params)
    for e in range(E):
        w1, w2 = W1[e].clone().requires_grad_(), W2[e].clone().requires_grad_()

        def outs(w1=w1, w2=w2):
            return mlp_forward(w1[None], w2[None], x)[0][0, -1].reshape(-1)  # rows (b, k)

        ref = naive_tangent_kernel(outs, [w1] if params == "W_1" else [w1, w2])
        assert torch.allclose(K[e], ref, rtol=1e-10, atol=1e-10)


def test_low_rank_hidden_layer():
    g = torch.Generator().manual_seed(1)
    w = torch.rand(30, 50, generator=g) - 0.5
    for r in (1, 5, 30):
        v = low_rank_hidden(w, r)
        assert torch.linalg.matrix_rank(v, rtol=1e-5).item() == r
        assert v.norm().item() == pytest.approx(w.norm().item(), rel=1e-5)
    assert low_rank_hidden(w, None) is w


def test_module_initialisation_and_members():
    m = MLPModule(n_input=784, n_output=10, n_hidden=300, rank=5, seeds=[3, 4])
    bound1, bound2 = 1 / 784**0.5, 1 / 300**0.5
    for e in range(2):
        assert torch.linalg.matrix_rank(m.net.W_1[e].detach(), rtol=1e-5).item() == 5
        assert m.net.W_2[e].abs().max().item() <= bound2
    alone = MLPModule(n_input=784, n_output=10, n_hidden=300, rank=5, seed=4)
    assert torch.equal(alone.net.W_1[0], m.net.W_1[1]) and torch.equal(alone.net.W_2[0], m.net.W_2[1])
    full = MLPModule(n_input=784, n_output=10, n_hidden=300, seed=3)
    assert full.net.W_1.abs().max().item() <= bound1
    # The rank-5 layer is the truncation of the same draw, rescaled to its norm.
    assert m.net.W_1[0].norm().item() == pytest.approx(full.net.W_1[0].norm().item(), rel=1e-5)
    with pytest.raises(ValueError, match=r"model\.rank"):
        MLPModule(rank=0)


def test_the_probe_counts_its_images_not_its_single_time_step():
    """metrics.json's probe_trials (and the claims' chance threshold that reads it) is the number of
    probe images: the MLP's probe is (1, B, 784), trials on dim 1 as the RNN's."""
    from rlnet.callbacks.protocol import LazinessProtocol

    m = MLPModule(n_input=784, n_output=10, n_hidden=16, rank=2)
    x = torch.zeros(1, 37, 784)
    assert LazinessProtocol(m).n_trials(x) == 37


def test_targets_are_in_the_kernels_row_order():
    """``y^T K y`` with the module's targets equals ``||d/dW_1 sum_b y_hat[b, label_b]||^2``
    by autograd, which holds only if target k of trial b sits on the kernel's row (b, k)."""
    m = MLPModule(n_input=12, n_output=4, n_hidden=9, rank=3, seeds=[0, 1]).double()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 6, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (1, 6), generator=g)
    K, t = m.laziness_kernel(x, params="W_1"), m.laziness_targets(y)
    assert t.shape == (6 * 4,) and t.sum() == 6
    picked = m.net(x)[0][:, -1].gather(-1, y[-1].expand(2, 6).unsqueeze(-1)).sum((1, 2))  # (E,)
    for e in range(2):
        (grad,) = torch.autograd.grad(picked[e], m.net.W_1, retain_graph=True)
        assert torch.allclose(t @ K[e] @ t, grad[e].pow(2).sum(), rtol=1e-12)


def test_cli_tracking_preset_on_the_mlp(tmp_path):
    """The kernel-tracking preset runs on the Fig. 4B network (it needed the module's targets)."""
    import json

    from rlnet.cli import main

    run = tmp_path / "run"
    assert main(["fit", "--config", "configs/mnist_ff_lowrank.yaml", "--config", "callbacks/kernel_tracking.yaml",
                 "--trainer.max_steps", "4", "--trainer.callbacks.init_args.every_n_steps", "2",
                 "--model.init_args.n_hidden", "16", "--data.init_args.n_probe", "8", "--laziness.kernel_trials", "8",
                 "--trainer.callbacks.init_args.kernel_trials", "8", "--trainer.default_root_dir", str(run)]) == 0
    tr = json.loads((run / "metrics.json").read_text())["tracking"]
    assert tr["steps"] == [0, 2, 4]
    for m in tr["members"]:
        assert all(0.0 < a <= 1.0 for a in m["task_alignment"]) and m["kernel_alignment"][0] == pytest.approx(1.0)
