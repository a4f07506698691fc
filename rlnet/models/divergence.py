"""Divergence of ensemble members: detect it, record the step, freeze the member.

An ensemble trains ``E`` independent networks in one process (a leading member dimension on every
parameter). When one of them blows up (its loss or one of its gradients is NaN or infinite) it must
not stop the others, and must not be mistaken for a result. A member is declared diverged at the
first step ``s`` whose loss or gradient is not finite; from then on its loss is masked out of the
summed loss, its gradients are zeroed and its optimiser state (momentum, Adam moments) is zeroed,
so that its weights stay exactly those that produced the non-finite value at step ``s`` (with SGD
and Adam without weight decay, a zero gradient and zero state give a zero update). The other
members' gradients are untouched: each member's gradient depends only on its own loss term.

All functions are tensor in, tensor out, with no host synchronisation, so they cost nothing on a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

NOT_DIVERGED = -1


def finite_per_member(t: Tensor) -> Tensor:
    """``(E,)`` bool: whether every entry of member ``e``'s slice ``t[e]`` is finite."""
    return torch.isfinite(t).reshape(t.shape[0], -1).all(1)


def mark_diverged(diverged_step: Tensor, finite: Tensor, step: int) -> Tensor:
    """Record ``step`` for members that are not ``finite`` and not already diverged.

    ``diverged_step`` is ``(E,)`` long, ``-1`` for members still training; returns the new value.
    """
    newly = (~finite) & (diverged_step == NOT_DIVERGED)
    return torch.where(newly, torch.full_like(diverged_step, step), diverged_step)


def masked_loss(losses: Tensor, alive: Tensor) -> Tensor:
    """Sum of the live members' losses; a diverged member's NaN/inf term does not reach the sum."""
    return torch.where(alive, losses, torch.zeros_like(losses)).sum()


def _member_mask(alive: Tensor, t: Tensor) -> Tensor:
    return alive.reshape(-1, *([1] * (t.dim() - 1)))


def zero_member_grads(params: Iterable[Tensor], alive: Tensor) -> None:
    """Set the gradients of diverged members to exactly 0 (also replacing NaN, since 0 * NaN = NaN)."""
    for p in params:
        if p.grad is not None and p.grad.shape[:1] == alive.shape:
            p.grad.masked_fill_(~_member_mask(alive, p.grad), 0.0)


def zero_member_optimizer_state(optimizer: torch.optim.Optimizer, alive: Tensor) -> None:
    """Zero the diverged members' slices of every per-parameter optimiser state tensor
    (SGD's momentum buffer, Adam's moments), so that no update reaches a frozen member."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for v in optimizer.state.get(p, {}).values():
                if isinstance(v, Tensor) and v.shape == p.shape and v.shape[:1] == alive.shape:
                    v.masked_fill_(~_member_mask(alive, v), 0)


def freeze_members(params: list[Tensor], optimizer: torch.optim.Optimizer, keep: Tensor) -> None:
    """Zero the gradients and optimiser state of the members not in ``keep`` ``(E,)`` (see the module
    docstring); on CPU nothing is touched when every member is kept (on a GPU the test would sync)."""
    if keep.device.type == "cpu" and bool(keep.all()):
        return
    zero_member_grads(params, keep)
    zero_member_optimizer_state(optimizer, keep)


def grads_finite_per_member(params: Iterable[Tensor], n_members: int, device: torch.device) -> Tensor:
    """``(E,)`` bool: whether all of member ``e``'s gradients are finite.

    One reduction per parameter instead of an elementwise test: a sum is finite iff no term is
    NaN or infinite (or the finite terms overflow, which is divergence too)."""
    ok = torch.ones(n_members, dtype=torch.bool, device=device)
    for p in params:
        if p.grad is not None and p.grad.shape[0] == n_members:
            ok = ok & torch.isfinite(p.grad.reshape(n_members, -1).sum(1))
    return ok
