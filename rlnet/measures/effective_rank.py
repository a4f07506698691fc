"""Effective ranks (paper Fig. 2, 15, 16; SPEC 3)."""

from __future__ import annotations

import torch
from torch import Tensor


def eigenvalue_effective_rank(W: Tensor) -> Tensor:
    """Relative effective rank over eigenvalues: ``sum_i |lambda_i| / (|lambda_1| N)`` (Fig. 2),
    with ``lambda_1`` the eigenvalue of largest modulus. Works on ``(..., N, N)``."""
    mags = torch.linalg.eigvals(W.double()).abs()
    return (mags.sum(-1) / (mags.amax(-1) * W.shape[-1])).to(W.dtype)


def singular_value_effective_rank(W: Tensor) -> Tensor:
    """The same over singular values: ``sum_i s_i / (s_1 N)``."""
    s = torch.linalg.svdvals(W.double())
    return (s.sum(-1) / (s[..., 0] * W.shape[-1])).to(W.dtype)


def kernel_effective_rank(K: Tensor) -> Tensor:
    """Kernel effective rank ``sum_i lambda_i / lambda_1 = Tr K / lambda_max`` (Fig. 15)."""
    Kd = K.double()
    top = torch.linalg.eigvalsh(Kd)[..., -1]
    return (torch.diagonal(Kd, dim1=-2, dim2=-1).sum(-1) / top).to(K.dtype)
