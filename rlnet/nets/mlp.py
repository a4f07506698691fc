"""The two-layer feedforward ReLU network of Fig. 4B (784-300-10), with a leading member dimension.

``h = relu(W_1 x)``, ``y = W_2 h``; no biases (as the RNN). ``W_1`` is ``(E, N, I)``, ``W_2`` is
``(E, O, N)``. Inputs use the laziness protocol's layout, ``x (T, B, I)`` with ``T = 1`` for
flat images (or ``(E, T, B, I)``); outputs are ``y (E, T, B, O)`` and hidden rates ``(E, T, B, N)``.
Its tangent kernel is :func:`rlnet.measures.ntk_mlp.mlp_tangent_kernel`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def mlp_forward(W_1: Tensor, W_2: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``y = W_2 relu(W_1 x)`` per member; returns ``(y, h)``."""
    E = W_1.shape[0]
    if x.dim() == 3:
        x = x.unsqueeze(0).expand(E, *x.shape)
    lead = x.shape[1:-1]
    h = torch.relu(torch.bmm(x.reshape(E, -1, x.shape[-1]), W_1.transpose(1, 2)))
    y = torch.bmm(h, W_2.transpose(1, 2))
    return y.reshape(E, *lead, -1), h.reshape(E, *lead, -1)


class MLP(nn.Module):
    """An ensemble of ``E`` two-layer ReLU networks; the caller initialises the weights."""

    def __init__(self, n_input: int, n_hidden: int, n_output: int, n_members: int = 1) -> None:
        super().__init__()
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden), ("n_output", n_output),
                        ("n_members", n_members)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.W_1 = nn.Parameter(torch.zeros(n_members, n_hidden, n_input))
        self.W_2 = nn.Parameter(torch.zeros(n_members, n_output, n_hidden))

    @property
    def n_members(self) -> int:
        return self.W_1.shape[0]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return mlp_forward(self.W_1, self.W_2, x)
