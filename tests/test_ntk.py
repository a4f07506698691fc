"""Every tangent-kernel path against a float64 per-output ``autograd.grad`` loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlnet.measures.ntk import naive_tangent_kernel, rnn_tangent_kernel
from rlnet.measures.ntk_generic import module_tangent_kernel
from rlnet.nets.rnn import leak_and_gain, rnn_forward

TOL = 1e-5
torch.set_num_threads(1)  # two threads on the shared two cores are several times slower


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def weights(E: int, N: int, I: int, O: int, seed: int = 0, g: float = 1.5):
    gen = torch.Generator().manual_seed(seed)
    W_h = torch.randn(E, N, N, generator=gen) * g / N**0.5
    W_x = (torch.rand(E, N, I, generator=gen) - 0.5) * 2 / I**0.5
    W_o = (torch.rand(E, O, N, generator=gen) - 0.5) * 2 / N**0.5
    return W_h, W_x, W_o


def naive(W_h, W_x, W_o, x, *, leak, gain, disc, params, steps):
    """float64 reference for member 0: one ``autograd.grad`` per output, rows ``(b, t, k)``."""
    ps = [w[0].double().clone().requires_grad_() for w in (W_h, W_x, W_o)]
    chosen = ps[:1] if params == "W_h" else ps

    def outputs():
        y, _ = rnn_forward(ps[0][None], ps[1][None], ps[2][None], x.double(), leak=leak, gain=gain,
                           discretization=disc)
        y = y[0].transpose(0, 1)  # (B, T, O)
        return (y[:, -1:] if steps == "last" else y).reshape(-1)

    return naive_tangent_kernel(outputs, chosen)


@pytest.fixture(scope="module")
def probe_2af():
    from rlnet.data import NeurogymDataModule

    x, _ = NeurogymDataModule(task="2af", n_probe=32).probe_batch()
    return x  # (8, 32, 3)


@pytest.mark.parametrize("adjoints", ["hand", "autograd"])
def test_2af_768_kernel_matches_naive(probe_2af, adjoints):
    x = probe_2af
    I = x.shape[-1]
    W_h, W_x, W_o = weights(1, 100, I, 3)
    K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0, adjoints=adjoints)
    assert K.shape == (1, 768, 768) and K.dtype == torch.float32
    assert rel(K[0], naive(W_h, W_x, W_o, x, leak=0.0, gain=1.0, disc="euler", params="W_h", steps="all")) < TOL


@pytest.mark.slow
def test_2af_768_kernel_n300_matches_naive(probe_2af):
    x = probe_2af
    W_h, W_x, W_o = weights(1, 300, x.shape[-1], 3)
    K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0)
    assert rel(K[0], naive(W_h, W_x, W_o, x, leak=0.0, gain=1.0, disc="euler", params="W_h", steps="all")) < TOL


@pytest.mark.parametrize("disc,tau", [("euler", 100.0), ("euler", 250.0), ("exponential", 250.0)])
@pytest.mark.parametrize("params", ["W_h", "all"])
@pytest.mark.parametrize("steps", ["all", "last"])
def test_kernel_paths_match_naive(disc, tau, params, steps):
    leak, gain = leak_and_gain(disc, 100.0, tau)
    T, B, I, O, N = 6, 5, 4, 3, 24
    W_h, W_x, W_o = weights(2, N, I, O, seed=1)
    x = torch.randn(T, B, I, generator=torch.Generator().manual_seed(2))
    ref = naive(W_h, W_x, W_o, x, leak=leak, gain=gain, disc=disc, params=params, steps=steps)
    for adjoints in ("hand", "autograd"):
        for chunk in (None, 1, 2):
            K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=disc, params=params,
                                   steps=steps, chunk=chunk, adjoints=adjoints)
            assert rel(K[0], ref) < TOL, (adjoints, chunk)
            assert torch.equal(K[0], K[0].T)  # symmetric by construction
    # Generic torch.func paths (the same network as an nn.Module).
    net = _RNNAsModule(W_h[0], W_x[0], W_o[0], leak, gain, disc, steps)
    for method in ("jacobian", "ntk_vp"):
        Kg = module_tangent_kernel(net, x, params="W_h" if params == "W_h" else "all", trial_dim=1,
                                   method=method, chunk_size=7)
        assert rel(Kg, ref) < TOL, method


def test_smnist_shape_last_step_all_params():
    """sMNIST layout (28 steps of 28 inputs, 10 outputs, last step) at small N and B."""
    T, B, I, O, N = 28, 6, 28, 10, 40
    W_h, W_x, W_o = weights(1, N, I, O, seed=3, g=1.25)
    x = torch.rand(T, B, I, generator=torch.Generator().manual_seed(4))
    for params in ("W_h", "all"):
        K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0, params=params, steps="last")
        assert K.shape == (1, B * O, B * O)
        ref = naive(W_h, W_x, W_o, x, leak=0.0, gain=1.0, disc="euler", params=params, steps="last")
        assert rel(K[0], ref) < TOL


def test_members_are_independent():
    """Member ``e`` of an ensemble kernel equals the kernel of that network alone, with shared or
    per-member inputs."""
    T, B, I, O, N = 5, 4, 3, 2, 16
    W_h, W_x, W_o = weights(3, N, I, O, seed=5)
    x = torch.randn(3, T, B, I, generator=torch.Generator().manual_seed(6))
    K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0, params="all")
    for e in range(3):
        Ke = rnn_tangent_kernel(W_h[e:e + 1], W_x[e:e + 1], W_o[e:e + 1], x[e], leak=0.0, gain=1.0, params="all")
        assert rel(K[e], Ke[0]) < 1e-6


def test_generic_kernel_of_an_mlp_matches_naive():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    ref = naive_tangent_kernel(lambda: mlp(x), list(mlp.parameters()))
    for method in ("auto", "jacobian", "ntk_vp", "loop"):
        assert rel(module_tangent_kernel(mlp, x, method=method), ref) < 1e-10
    only = module_tangent_kernel(mlp, x, params=["0.weight"])
    assert rel(only, naive_tangent_kernel(lambda: mlp(x), [mlp[0].weight])) < 1e-10


def test_bad_arguments_raise_value_errors():
    W_h, W_x, W_o = weights(1, 8, 2, 2)
    x = torch.randn(3, 2, 2)
    with pytest.raises(ValueError, match="params"):
        rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0, params="W_x")
    with pytest.raises(ValueError, match="chunk"):
        rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0, chunk=0)
    with pytest.raises(ValueError, match="kernel_params"):
        module_tangent_kernel(nn.Linear(2, 2), torch.randn(3, 2), params=["nope"])


class _RNNAsModule(nn.Module):
    """The RNN written as a plain module with outputs ``(B, steps, O)``, for the generic path."""

    def __init__(self, W_h, W_x, W_o, leak, gain, disc, steps):
        super().__init__()
        self.W_h, self.W_x, self.W_o = (nn.Parameter(w.double().clone()) for w in (W_h, W_x, W_o))
        self.leak, self.gain, self.disc, self.steps = leak, gain, disc, steps

    def forward(self, x):
        y, _ = rnn_forward(self.W_h[None], self.W_x[None], self.W_o[None], x.double(), leak=self.leak,
                           gain=self.gain, discretization=self.disc)
        y = y[0]  # (T, B, O)
        return y[-1:] if self.steps == "last" else y
