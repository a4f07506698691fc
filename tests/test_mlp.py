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
