"""The two-layer linear network of the paper's theory (Sec. 2.3, App. B), with a member dimension.

``f(x) = W_2 W_1 x``: ``W_1 (E, N, d)``, ``W_2 (E, O, N)``, hidden ``h = W_1 x``. Samples are rows,
``x (m, d)`` shared by all members or ``(E, m, d)``.

The initial first layers the paper compares are in :mod:`rlnet.connectivity.linear_student`; the
tangent kernel (Eq. 7) is :func:`rlnet.measures.theory.linear_tangent_kernel`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def linear_forward(W_1: Tensor, W_2: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``y = W_2 W_1 x`` for every member, ``x`` ``(m, d)`` (shared) or ``(E, m, d)``: returns
    ``(y (E, m, O), h (E, m, N))``.

    Member by member: a batched matmul rounds differently from a single one (the last bit in
    float64), and a member must end with the bits it has alone, whatever its ensemble-mates."""
    x = x.to(W_1)
    xs = x.unbind(0) if x.dim() == 3 else [x] * W_1.shape[0]
    h = torch.stack([a @ w.T for a, w in zip(xs, W_1.unbind(0), strict=True)])
    return torch.stack([a @ w.T for a, w in zip(h.unbind(0), W_2.unbind(0), strict=True)]), h


def half_mse(y_hat: Tensor, y: Tensor) -> Tensor:
    """Per-member loss ``L = 1/(2m) sum_b ||y_hat_b - y_b||^2``, shape ``(E,)``."""
    return 0.5 * (y_hat - y.to(y_hat)).pow(2).sum(-1).mean(-1)


class TwoLayerLinear(nn.Module):
    """An ensemble of ``E`` two-layer linear networks ``y = W_2 W_1 x`` (weights set by the caller)."""

    def __init__(self, n_input: int, n_hidden: int, n_output: int = 1, n_members: int = 1,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden), ("n_output", n_output),
                        ("n_members", n_members)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.W_1 = nn.Parameter(torch.zeros(n_members, n_hidden, n_input, dtype=dtype))
        self.W_2 = nn.Parameter(torch.zeros(n_members, n_output, n_hidden, dtype=dtype))

    @property
    def n_members(self) -> int:
        return self.W_1.shape[0]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return linear_forward(self.W_1, self.W_2, x)
