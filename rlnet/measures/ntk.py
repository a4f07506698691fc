"""Empirical tangent kernels of the RNN (paper Eq. 6; ``../shared/KERNELS.md``).

Rows of the Jacobian ``J`` are gradients of single outputs ``y_{b,t,k}`` (probe trial ``b``, step
``t``, output ``k``); ``K = J J^T``. Entries are ordered ``(b, t, k)`` with ``b`` outermost.

Fast path (:func:`rnn_tangent_kernel`): probe trials never interact, so one batched backward pass
per output slot ``c = (t, k)`` gives, for every trial, ``G[b, c, s] = d y_{b,c} / d drive_{b,s}``
with ``drive_s = W_h r_{s-1} + W_x x_s``. Then ``d y_{b,c} / d W_h = sum_s G[b,c,s] r_{b,s-1}^T`` and

    K[(b,c),(d,c')] = sum_{s,u} <G[b,c,s], G[d,c',u]> <z_{b,s}, z_{d,u}>,

with ``z_{b,s} = r_{b,s-1}`` (append ``x_s`` for ``W_x``); the readout adds
``delta_{kk'} <r_{b,t}, r_{d,t'}>``. No parameter-sized gradient is ever formed.

Reference path (:func:`naive_tangent_kernel`): one ``torch.autograd.grad`` per output, as the
authors' code does; used by the tests as the independent computation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from rlnet.nets.rnn import rnn_forward

KernelParams = Literal["W_h", "all"]
OutputSteps = Literal["all", "last"]


def output_slots(T: int, O: int, steps: OutputSteps | Sequence[int]) -> list[tuple[int, int]]:
    """The output slots ``(t, k)`` a kernel runs over, in row order."""
    if steps == "all":
        ts = list(range(T))
    elif steps == "last":
        ts = [T - 1]
    else:
        ts = [int(t) % T for t in steps]
    return [(t, k) for t in ts for k in range(O)]


def drive_gradients(
    W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, *, leak: float, gain: float,
    discretization: str, slots: list[tuple[int, int]],
) -> tuple[Tensor, Tensor]:
    """``G[e, c, b, s, :] = d y_{e,b,c} / d drive_{e,b,s}`` and the rates ``r`` ``(E, T, B, N)``.

    Zero "tap" tensors are added to every step's drive; one batched ``autograd.grad`` call with a
    one-hot basis over output slots returns all per-trial adjoints at once.
    """
    E, N = W_h.shape[0], W_h.shape[1]
    T, B = x.shape[-3], x.shape[-2]
    taps = torch.zeros(E, T, B, N, dtype=W_h.dtype, device=W_h.device, requires_grad=True)
    with torch.enable_grad():
        y, r = rnn_forward(W_h.detach(), W_x.detach(), W_o.detach(), x, leak=leak, gain=gain,
                           discretization=discretization, taps=taps)
        basis = torch.zeros(len(slots), *y.shape, dtype=y.dtype, device=y.device)
        for c, (t, k) in enumerate(slots):
            basis[c, :, t, :, k] = 1.0
        (G,) = torch.autograd.grad(y, taps, grad_outputs=basis, is_grads_batched=True)
    # (C, E, T, B, N) -> (E, C, B, T, N)
    return G.permute(1, 0, 3, 2, 4), r.detach()


def _time_mix_kernel(G: Tensor, Z: Tensor, chunk: int) -> Tensor:
    """``K[(b,c),(d,c')] = sum_{s,u} <G[c,b,s], G[c',d,u]> <Z[b,s], Z[d,u]>`` for one member.

    ``G``: ``(C, B, T, N)``; ``Z``: ``(B, T, F)``. Blocked over ``b`` so memory stays bounded.
    """
    C, B, _T, _N = G.shape
    Cz = torch.einsum("bsf,duf->bsdu", Z, Z)  # (B, T, B, T)
    Gd = G.permute(1, 2, 0, 3)  # (B, T, C, N): trial, step, slot, unit
    K = torch.empty(B, C, B, C, dtype=G.dtype, device=G.device)
    for b0 in range(0, B, chunk):
        b1 = min(B, b0 + chunk)
        # H[b, s, d, c', n] = sum_u Cz[b, s, d, u] G[c', d, u, n]
        H = torch.einsum("bsdu,duen->bsden", Cz[b0:b1], Gd)
        K[b0:b1] = torch.einsum("cbsn,bsden->bcde", G[:, b0:b1], H)
    return K.reshape(B * C, B * C)


def rnn_tangent_kernel(
    W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, *, leak: float, gain: float,
    discretization: str = "euler", params: KernelParams = "W_h",
    steps: OutputSteps | Sequence[int] = "all", chunk: int = 4,
) -> Tensor:
    """Exact empirical tangent kernel of the RNN for every ensemble member.

    Args:
        W_h, W_x, W_o: ``(E, N, N)``, ``(E, N, I)``, ``(E, O, N)``.
        x: probe inputs ``(T, B, I)`` (shared) or ``(E, T, B, I)``.
        params: ``'W_h'`` (the authors' code) or ``'all'`` (the paper's Eq. 6: ``W_h, W_x, W_o``).
        steps: output steps in the kernel, ``'all'`` (Neurogym) or ``'last'`` (sMNIST).

    Returns:
        ``(E, B*C, B*C)`` with ``C = len(slots)``, rows ordered ``(b, t, k)``.
    """
    E = W_h.shape[0]
    T, B = x.shape[-3], x.shape[-2]
    O = W_o.shape[1]
    slots = output_slots(T, O, steps)
    G, r = drive_gradients(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=discretization,
                           slots=slots)
    xe = x if x.dim() == 4 else x.unsqueeze(0).expand(E, *x.shape)
    # z_{b,s} = r_{b,s-1} (zero at s = 0).
    r_prev = torch.cat([torch.zeros_like(r[:, :1]), r[:, :-1]], dim=1)  # (E, T, B, N)
    Ks = []
    for e in range(E):
        Z = r_prev[e].transpose(0, 1)  # (B, T, N)
        if params == "all":
            Z = torch.cat([Z, xe[e].transpose(0, 1).to(Z.dtype)], dim=-1)
        K = _time_mix_kernel(G[e], Z, chunk)
        if params == "all":
            # Readout: d y_{b,(t,k)} / d W_o[k'] = delta_{kk'} r_{b,t}.
            C = len(slots)
            R = r[e][[t for t, _ in slots]]  # (C, B, N)
            ks = torch.tensor([k for _, k in slots], device=K.device)
            same_k = (ks[:, None] == ks[None, :]).to(K.dtype)  # (C, C)
            Kr = torch.einsum("cbn,edn->bcde", R, R) * same_k[None, :, None, :]
            K = K + Kr.reshape(B * C, B * C)
        elif params != "W_h":
            raise ValueError(f"params must be 'W_h' or 'all', got {params!r}")
        Ks.append(K)
    return torch.stack(Ks)


def naive_tangent_kernel(outputs_fn: Callable[[], Tensor], params: Sequence[Tensor]) -> Tensor:
    """Reference kernel: one ``torch.autograd.grad`` per scalar output (the authors' loop).

    ``outputs_fn()`` returns the flattened outputs ``(M,)`` as a function of ``params``.
    """
    with torch.enable_grad():
        y = outputs_fn().reshape(-1)
        rows = []
        for i in range(y.numel()):
            gs = torch.autograd.grad(y[i], params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                   for g, p in zip(gs, params, strict=True)]))
    J = torch.stack(rows)
    return J @ J.T
