"""Gradient-norm clipping for an ensemble: each member by its own norm.

``torch.nn.utils.clip_grad_norm_`` over an ensemble's parameters would scale every member by the
norm of all members' gradients together, so a member's update would depend on the others. Here
member ``e`` is clipped exactly as it would be alone (``clip_grad_norm_``'s formula on its slices):

    n_e = sqrt(sum_p ||g_p[e]||_2^2),   g_p[e] <- g_p[e] * min(1, max_norm / (n_e + 1e-6)).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def _with_member_grads(params: Iterable[Tensor], n_members: int) -> list[Tensor]:
    return [p for p in params if p.grad is not None and p.grad.shape[:1] == (n_members,)]


def member_grad_norms(params: Iterable[Tensor], n_members: int) -> Tensor:
    """``(E,)``: the 2-norm of each member's gradients over all parameters with the member dimension."""
    sq = [p.grad.reshape(n_members, -1).double().square().sum(1) for p in _with_member_grads(params, n_members)]
    return torch.stack(sq).sum(0).sqrt()


def clip_grad_norm_per_member_(params: Iterable[Tensor], max_norm: float, n_members: int) -> Tensor:
    """Scale each member's gradients in place so that their 2-norm is at most ``max_norm`` (as
    ``clip_grad_norm_`` would for that member alone); returns the norms before clipping, ``(E,)``."""
    params = _with_member_grads(params, n_members)
    norms = member_grad_norms(params, n_members)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(coef.to(p.grad.dtype).reshape(-1, *([1] * (p.grad.dim() - 1))))
    return norms
