"""The RNN's update equations and the ensemble dimension."""

from __future__ import annotations

import math

import pytest
import torch

from rlnet.nets.rnn import leak_and_gain, rnn_forward


def loop_reference(W_h, W_x, W_o, x, disc, dt, tau):
    """Eq. 1-2 written out one network, one trial, one step at a time."""
    N = W_h.shape[0]
    a = dt / tau
    rho = math.exp(-dt / tau)
    ys = []
    for b in range(x.shape[1]):
        h = torch.zeros(N, dtype=W_h.dtype)
        r = torch.zeros(N, dtype=W_h.dtype)
        yb = []
        for t in range(x.shape[0]):
            drive = W_h @ r + W_x @ x[t, b]
            if disc == "euler":
                r = torch.relu((1 - a) * r + a * drive)
            else:
                h = rho * h + (1 - rho) * drive
                r = torch.relu(h)
            yb.append(W_o @ r)
        ys.append(torch.stack(yb))
    return torch.stack(ys, 1)  # (T, B, O)


@pytest.mark.parametrize("disc, dt", [("euler", 100.0), ("euler", 20.0), ("exponential", 100.0), ("exponential", 20.0)])
def test_forward_matches_loop(disc, dt):
    g = torch.Generator().manual_seed(0)
    E, N, I, O, T, B = 3, 10, 4, 2, 7, 5
    W_h = torch.randn(E, N, N, generator=g, dtype=torch.float64) / N**0.5
    W_x = torch.randn(E, N, I, generator=g, dtype=torch.float64)
    W_o = torch.randn(E, O, N, generator=g, dtype=torch.float64)
    x = torch.randn(T, B, I, generator=g, dtype=torch.float64)
    leak, gain = leak_and_gain(disc, dt, 100.0)
    y, r = rnn_forward(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=disc)
    assert y.shape == (E, T, B, O) and r.shape == (E, T, B, N)
    for e in range(E):
        assert torch.allclose(y[e], loop_reference(W_h[e], W_x[e], W_o[e], x, disc, dt, 100.0), atol=1e-12)


def test_leak_and_gain_errors():
    with pytest.raises(ValueError, match="dt"):
        leak_and_gain("euler", -1.0, 100.0)
    with pytest.raises(ValueError, match="discretization"):
        leak_and_gain("rk4", 1.0, 100.0)


def _cross_entropy(logits: torch.Tensor, label: int) -> torch.Tensor:
    """-log softmax(logits)[label], written out."""
    return torch.log(torch.exp(logits).sum()) - logits[label]


@pytest.mark.parametrize("kind", ["rnn", "mlp"])
def test_training_step_runs_without_a_trainer(kind):
    """The modules' training step in a plain PyTorch loop (no Trainer attached) gives the sum over
    members of each member's mean cross-entropy, computed here from the weights with loops in float64:
    the RNN (Eq. 1, Euler) at every step of every trial, the MLP (``W_2 relu(W_1 x)``) at the last step."""
    from rlnet.models import MLPModule, RNNModule

    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(5, 4, 3, generator=g), torch.randint(0, 3, (5, 4), generator=g)
    model = RNNModule(3, 3, n_hidden=8, n_members=2) if kind == "rnn" else MLPModule(3, 3, n_hidden=8, n_members=2)
    loss = model.training_step((x, y), 0)
    xd, expected = x.double(), torch.zeros((), dtype=torch.float64)
    for e in range(2):
        if kind == "rnn":
            W_h, W_x, W_o = (w[e].detach().double() for w in (model.net.W_h, model.net.W_x, model.net.W_o))
            out = loop_reference(W_h, W_x, W_o, xd, "euler", model.hparams.dt, model.hparams.tau)  # (T, B, O)
            terms = [_cross_entropy(out[t, b], int(y[t, b])) for t in range(5) for b in range(4)]
        else:
            W_1, W_2 = (w[e].detach().double() for w in (model.net.W_1, model.net.W_2))
            terms = [_cross_entropy(W_2 @ torch.relu(W_1 @ xd[-1, b]), int(y[-1, b])) for b in range(4)]
        expected = expected + torch.stack(terms).mean()
    assert model.hparams.get("discretization", "euler") == "euler"
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
