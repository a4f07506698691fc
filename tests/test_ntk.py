"""The RNN tangent kernel against a naive loop of one autograd.grad per output."""

from __future__ import annotations

import pytest
import torch

from rlnet.measures.ntk import naive_tangent_kernel, rnn_tangent_kernel
from rlnet.nets.rnn import leak_and_gain, rnn_forward


def make_weights(E, N, I, O, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    W_h = torch.randn(E, N, N, generator=g, dtype=dtype) * (1.25 / N**0.5)
    W_x = torch.rand(E, N, I, generator=g, dtype=dtype) * 2 - 1
    W_o = (torch.rand(E, O, N, generator=g, dtype=dtype) * 2 - 1) / N**0.5
    return W_h, W_x, W_o


def naive(W_h, W_x, W_o, x, leak, gain, disc, params, steps):
    ps = [p.detach().double().clone().requires_grad_() for p in (W_h, W_x, W_o)]

    def outputs():
        y, _ = rnn_forward(ps[0], ps[1], ps[2], x.double(), leak=leak, gain=gain, discretization=disc)
        y = y[0].transpose(0, 1)  # (B, T, O): row order (b, t, k)
        return (y[:, -1:] if steps == "last" else y).reshape(-1)

    return naive_tangent_kernel(outputs, ps[:1] if params == "W_h" else ps)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def test_2af_shape_kernel_matches_naive_loop():
    """The paper's 768 x 768 case: N = 300, 32 trials x 8 steps x 3 outputs, over W_h, float32."""
    torch.manual_seed(0)
    W_h, W_x, W_o = make_weights(1, 300, 3, 3)
    x = torch.randn(8, 32, 3)
    K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0)
    assert K.shape == (1, 768, 768)
    assert rel(K[0], naive(W_h, W_x, W_o, x, 0.0, 1.0, "euler", "W_h", "all")) < 1e-5


@pytest.mark.parametrize("disc, dt", [("euler", 100.0), ("euler", 20.0), ("exponential", 100.0)])
@pytest.mark.parametrize("params", ["W_h", "all"])
@pytest.mark.parametrize("steps", ["all", "last"])
def test_kernel_variants_match_naive_loop(disc, dt, params, steps):
    leak, gain = leak_and_gain(disc, dt, 100.0)
    W_h, W_x, W_o = make_weights(2, 24, 3, 3, seed=1)
    x = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(2))
    K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=disc, params=params, steps=steps)
    for e in range(2):
        Kn = naive(W_h[e : e + 1], W_x[e : e + 1], W_o[e : e + 1], x, leak, gain, disc, params, steps)
        assert rel(K[e], Kn) < 1e-5
