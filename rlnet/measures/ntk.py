"""Empirical tangent kernels of the RNN (paper Eq. 6); behind :func:`rlnet.measures.tangent_kernel.empirical_ntk`.

Rows of the Jacobian ``J`` are gradients of single outputs ``y_{b,t,k}`` (probe trial ``b``, step
``t``, output ``k``); ``K = J J^T``. Entries are ordered ``(b, t, k)`` with ``b`` outermost.

Fast path (:func:`rnn_tangent_kernel`): probe trials never interact, so one backward sweep with
hand-written adjoints (:func:`drive_adjoints`; or batched autograd, :func:`drive_gradients`) gives,
for every output slot ``c = (t, k)`` and trial at once, ``G[b, c, s] = d y_{b,c} / d drive_{b,s}``
with ``drive_s = W_h r_{s-1} + W_x x_s``. Then ``d y_{b,c} / d W_h = sum_s G[b,c,s] r_{b,s-1}^T`` and

    K[(b,c),(d,c')] = sum_{s,u} <G[b,c,s], G[d,c',u]> <z_{b,s}, z_{d,u}>,

with ``z_{b,s} = r_{b,s-1}`` (append ``x_s`` for ``W_x``); the readout adds
``delta_{kk'} <r_{b,t}, r_{d,t'}>``. No parameter-sized gradient is ever formed; the time-mix
contraction is computed for the upper block triangle only and in cache-sized trial blocks.

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
    """``G[e, c, b, s, :] = d y_{e,b,c} / d drive_{e,b,s}`` by autograd, and the rates ``(E, T, B, N)``.

    Zero "tap" tensors are added to every step's drive; one batched ``autograd.grad`` call with a
    one-hot basis over output slots returns all per-trial adjoints at once. Model-agnostic
    cross-check of :func:`drive_adjoints`.
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


def drive_adjoints(
    W_h: Tensor, W_o: Tensor, r: Tensor, *, leak: float, gain: float, discretization: str,
    slots: list[tuple[int, int]],
) -> Tensor:
    """Hand-written adjoints of all output slots at once: ``G[e, b, s, n, c] = d y_{e,b,c} / d drive_{e,b,s,n}``.

    One backward sweep over steps with the state of every slot ``c = (t_c, k)`` and trial stacked
    into one ``(E, C*B, N)`` matrix, so each step is one batched product with ``W_h``
    (``docs/kernels-and-callbacks.md``). With ``m_s = 1[r_s > 0]`` (= ``relu'``) and the direct term
    ``a_s[c] = 1[s = t_c] W_o[k]``:

    * euler (``r_s = relu(leak r_{s-1} + gain drive_s)``):
      ``v_s = m_s (a_s + W_h^T G_{s+1} + leak v_{s+1})``;
    * exponential (``h_s = leak h_{s-1} + gain drive_s``):
      ``v_s = m_s (a_s + W_h^T G_{s+1}) + leak v_{s+1}``;

    and ``G_s = gain v_s``. ``r``: rates ``(E, T, B, N)`` of the forward pass.
    """
    if discretization not in ("euler", "exponential"):
        raise ValueError(f"discretization must be 'euler' or 'exponential', got {discretization!r}")
    E, T, B, N = r.shape
    C = len(slots)
    mask = (r > 0).to(r.dtype)  # relu'(pre-activation): pre > 0 iff rate > 0
    G = torch.empty(E, B, T, N, C, dtype=r.dtype, device=r.device)
    # Direct terms grouped by step: slot indices and their readout rows.
    by_step: dict[int, list[tuple[int, int]]] = {}
    for c, (t, k) in enumerate(slots):
        by_step.setdefault(t, []).append((c, k))
    v = torch.zeros(E, C, B, N, dtype=r.dtype, device=r.device)
    # Causality: slot c's adjoint is zero at steps s > t_c. With slots in step order (all of
    # rlnet's), the live slots at step s are a suffix c >= first_live[s]: only they enter the product.
    in_order = all(slots[i][0] <= slots[i + 1][0] for i in range(C - 1))
    first_live = [next((c for c, (t, _) in enumerate(slots) if t >= s), C) if in_order else 0 for s in range(T)]
    g_next: Tensor | None = None
    for s in range(T - 1, -1, -1):
        c0 = first_live[s]
        if g_next is not None and c0 < C:
            u = torch.empty_like(v)
            u[:, :c0].zero_()
            u[:, c0:] = torch.bmm(g_next[:, c0:].reshape(E, (C - c0) * B, N), W_h).reshape(E, C - c0, B, N)
        else:
            u = torch.zeros_like(v)
        for c, k in by_step.get(s, ()):
            u[:, c] += W_o[:, k, None, :]
        m = mask[:, s, None]  # (E, 1, B, N)
        if discretization == "euler":
            v = (u.add_(v, alpha=leak) if leak != 0.0 else u).mul_(m)
        else:
            v = u.mul_(m).add_(v, alpha=leak)
        g_next = v if gain == 1.0 else gain * v
        G[:, :, s] = g_next.permute(0, 2, 3, 1)
    return G


def _time_mix_kernel(G: Tensor, Z: Tensor, block: int) -> Tensor:
    """``K[(b,c),(d,c')] = sum_{s,u} <G[b,s,:,c], G[d,u,:,c']> <Z[b,s], Z[d,u]>`` for one member.

    ``G``: ``(B, T, N, C)``; ``Z``: ``(B, T, F)``. For each block of at most ``block`` trials ``b``
    and each trial ``d`` at or after the block's start (the kernel is symmetric: the other half is
    a transpose): ``Cz = Z_b Z_d^T`` ``(b*T, T)``, ``X = Cz G_d`` ``(b*T, N*C)`` (one GEMM) and
    ``K[b, :, d, :] = G_b^T X_b`` (one batched product over ``b``). The block of ``G_b`` stays in
    cache while ``d`` runs (block outermost, the faster order when timed). Memory:
    ``O(block T N C)`` beyond ``K`` and ``G``, so large probes stay bounded.
    """
    B, T, N, C = G.shape
    K = torch.empty(B, C, B, C, dtype=G.dtype, device=G.device)
    Gf = G.reshape(B, T * N, C)
    Zf = Z.reshape(B * T, Z.shape[-1])
    Gd = G.reshape(B, T, N * C)
    for b0 in range(0, B, block):
        b1 = min(B, b0 + block)
        Gb = Gf[b0:b1].transpose(1, 2)  # (nb, C, T*N)
        Zb = Zf[b0 * T: b1 * T]
        for d in range(b0, B):
            e = min(b1, d + 1)  # trials b0 <= b < e, b <= d
            Cz = Zb[: (e - b0) * T] @ Z[d].T  # (nb*T, T)
            X = (Cz @ Gd[d]).reshape(e - b0, T * N, C)
            Kb = torch.bmm(Gb[: e - b0], X)  # (nb, C, C)
            K[b0:e, :, d] = Kb
            K[d, :, b0:e] = Kb.transpose(1, 2).transpose(0, 1)
    # Diagonal blocks (b = d) were computed once; make them exactly symmetric too.
    idx = torch.arange(B, device=G.device)
    diag = K[idx, :, idx]  # (B, C, C)
    K[idx, :, idx] = 0.5 * (diag + diag.transpose(1, 2))
    return K.reshape(B * C, B * C)


def default_block(T: int, N: int, C: int, B: int | None = None, cache_floats: int = 1_000_000) -> int:
    """Trials per block: a block of ``G`` and its ``X`` (``block * T * N * C`` floats each) stay near
    the cache, and at most a quarter of the ``B`` trials (timed on the 2AF tracking kernel and the
    sMNIST kernel: smaller and larger blocks were slower)."""
    block = max(1, cache_floats // max(1, T * N * C))
    return max(1, min(block, B // 4)) if B is not None else block


def rnn_tangent_kernel(
    W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, *, leak: float, gain: float,
    discretization: str = "euler", params: KernelParams = "W_h",
    steps: OutputSteps | Sequence[int] = "all", chunk: int | None = None,
    adjoints: Literal["hand", "autograd"] = "hand",
) -> Tensor:
    """Exact empirical tangent kernel of the RNN for every ensemble member.

    Args:
        W_h, W_x, W_o: ``(E, N, N)``, ``(E, N, I)``, ``(E, O, N)``.
        x: probe inputs ``(T, B, I)`` (shared) or ``(E, T, B, I)``.
        params: ``'W_h'`` (the authors' code) or ``'all'`` (the paper's Eq. 6: ``W_h, W_x, W_o``).
        steps: output steps in the kernel, ``'all'`` (Neurogym) or ``'last'`` (sMNIST), or a list.
        chunk: trials per block of the contraction (default: :func:`default_block`, about 1 M floats).
        adjoints: ``'hand'`` (one sweep for all slots, default) or ``'autograd'`` (batched
            ``autograd.grad`` through zero taps; the cross-check).

    Returns:
        ``(E, B*C, B*C)`` with ``C = len(slots)``, rows ordered ``(b, t, k)``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> W_h = torch.randn(1, 8, 8, generator=g) / 8
    >>> W_x, W_o = torch.randn(1, 8, 2, generator=g), torch.randn(1, 3, 8, generator=g)
    >>> x = torch.randn(4, 5, 2, generator=g)  # 4 steps, 5 trials, 2 inputs
    >>> K = rnn_tangent_kernel(W_h, W_x, W_o, x, leak=0.0, gain=1.0)  # over W_h, every step and output
    >>> K.shape  # rows (trial, step, output): 5 * 4 * 3
    torch.Size([1, 60, 60])
    """
    if params not in ("W_h", "all"):
        raise ValueError(f"params must be 'W_h' or 'all', got {params!r}")
    if adjoints not in ("hand", "autograd"):
        raise ValueError(f"adjoints must be 'hand' or 'autograd', got {adjoints!r}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    E, N = W_h.shape[0], W_h.shape[1]
    T, B = x.shape[-3], x.shape[-2]
    O = W_o.shape[1]
    slots = output_slots(T, O, steps)
    C = len(slots)
    W_h, W_x, W_o = W_h.detach(), W_x.detach(), W_o.detach()
    x = x.to(W_h.dtype)
    if adjoints == "hand":
        with torch.no_grad():
            _, r = rnn_forward(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=discretization)
            G = drive_adjoints(W_h, W_o, r, leak=leak, gain=gain, discretization=discretization, slots=slots)
    else:
        Ga, r = drive_gradients(W_h, W_x, W_o, x, leak=leak, gain=gain, discretization=discretization,
                                slots=slots)
        G = Ga.permute(0, 2, 3, 4, 1).contiguous()  # (E, B, T, N, C)
    block = chunk if chunk is not None else default_block(T, N, C, B)
    xe = x if x.dim() == 4 else x.unsqueeze(0).expand(E, *x.shape)
    # z_{b,s} = r_{b,s-1} (zero at s = 0).
    r_prev = torch.cat([torch.zeros_like(r[:, :1]), r[:, :-1]], dim=1)  # (E, T, B, N)
    Ks = []
    with torch.no_grad():
        for e in range(E):
            Z = r_prev[e].transpose(0, 1)  # (B, T, N)
            if params == "all":
                Z = torch.cat([Z, xe[e].transpose(0, 1)], dim=-1)
            K = _time_mix_kernel(G[e], Z.contiguous(), block)
            if params == "all":
                # Readout: d y_{b,(t,k)} / d W_o[k'] = delta_{kk'} r_{b,t}.
                R = r[e][[t for t, _ in slots]]  # (C, B, N)
                ks = torch.tensor([k for _, k in slots], device=K.device)
                same_k = (ks[:, None] == ks[None, :]).to(K.dtype)  # (C, C)
                Kr = torch.einsum("cbn,edn->bcde", R, R) * same_k[None, :, None, :]
                K = K + Kr.reshape(B * C, B * C)
            Ks.append(K)
    return torch.stack(Ks)


def naive_tangent_kernel(outputs_fn: Callable[[], Tensor], params: Sequence[Tensor]) -> Tensor:
    """Reference kernel: one ``torch.autograd.grad`` per scalar output (the authors' loop).

    ``outputs_fn()`` returns the flattened outputs ``(M,)`` as a function of ``params``.

    >>> import torch
    >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> naive_tangent_kernel(lambda: torch.stack([w.sum(), (w ** 2).sum()]), [w])  # rows: [1, 1], [2, 4]
    tensor([[ 2.,  6.],
            [ 6., 20.]])
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
