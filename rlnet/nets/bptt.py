"""Hand-written backpropagation through time for the rate RNN (paper Eq. 1-2), ensemble-batched.

Same equations as :func:`rlnet.nets.rnn.rnn_forward` (``drive_t = W_h r_{t-1} + W_x x_t``,
``v_t = leak * prev + gain * drive_t``, ``r_t = relu(v_t)``, ``y_t = W_o r_t``), but with one
autograd node for the whole sequence instead of ~5 per step. Only the rates ``R`` are saved
(``relu'(v_t) = 1[r_t > 0]``). With ``delta_t = dL/dv_t`` and ``m_t = 1[r_t > 0]``, the adjoints are

* euler (prev = ``r_{t-1}``): ``dL/dr_t = W_o^T gy_t + gR_t + leak delta_{t+1} + gain W_h^T delta_{t+1}``,
  ``delta_t = m_t * dL/dr_t``;
* exponential (prev = ``h_{t-1}``): ``delta_t = m_t * (W_o^T gy_t + gR_t + gain W_h^T delta_{t+1})
  + leak delta_{t+1}``;

and ``dW_h = gain sum_{t>=1} delta_t^T r_{t-1}`` is one GEMM over all steps and trials;
the thin ``dW_x = gain sum_t delta_t^T x_t`` and ``dW_o = sum_t gy_t^T r_t`` accumulate step by
step while each step's slice is in cache. Scratch buffers that never leave the module (the drive,
the adjoint, ``D``) are reused across calls.

Two implementations of these equations: float32 on a CPU with AVX-512 runs the C kernels of
:mod:`rlnet.nets.fused` (``_fused_rnn.c``: each member's whole sequence while its ``W_h`` is in
cache, the relu and its derivative applied to the product's registers; members split over torch's
threads); every other case (float64, GPUs, other CPUs, an input that needs a gradient,
``RLNET_FUSED=0``) runs the torch code below. ``tests/test_fused_rnn.py`` checks both against
autograd in float64 and against each other.
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor

from rlnet.nets import fused

_WORKSPACE: dict[tuple, Tensor] = {}


def _workspace(name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A scratch buffer reused across calls (a fresh multi-MB tensor costs a page-zeroing pass).

    Only for tensors that never leave this module and live within one call: the drive, the
    adjoint and ``D``. One set per thread, so that concurrent calls never share one."""
    key = (name, shape, like.dtype, like.device, threading.get_ident())
    buf = _WORKSPACE.get(key)
    if buf is None:
        if len(_WORKSPACE) >= 32:  # many shapes in one process: start over rather than grow
            _WORKSPACE.clear()
        buf = _WORKSPACE[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
    return buf


def _threshold_backward(g: Tensor, r: Tensor, out: Tensor) -> Tensor:
    """``out = g * 1[r > 0]`` in one pass (the kernel autograd uses for relu)."""
    return torch.ops.aten.threshold_backward.grad_input(g, r, 0.0, grad_input=out)


def _x_cols(x: Tensor, t: int, E: int) -> Tensor:
    """Step ``t``'s inputs as ``(E, I, B)`` columns (a view; shared inputs are broadcast)."""
    return x[t].T.expand(E, -1, -1) if x.dim() == 3 else x[:, t].transpose(1, 2)


def _forward(W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, leak: float, gain: float,
             exponential: bool) -> tuple[Tensor, Tensor]:
    """Outputs ``y (E, T, B, O)`` and rates ``R (E, T, B, N)``, one step at a time.

    Each step's drive is built transposed, ``W_x x_t^T + W_h r_{t-1}^T`` ``(E, N, B)``: that
    orientation of the recurrent product streams ``W_h`` along its rows (faster than ``r_{t-1} W_h^T``
    on the CPUs measured; ``benchmarks/bench_training.py``), and the thin input and readout products
    act on the step's cache-resident slice instead of making separate passes over all steps.
    """
    E, N = W_h.shape[0], W_h.shape[1]
    T, B = x.shape[-3], x.shape[-2]
    R = torch.empty(E, T, B, N, dtype=W_h.dtype, device=W_h.device)
    drive = _workspace("drive", (E, N, B), W_h)
    fast = not exponential and leak == 0.0 and gain == 1.0  # the figures' case, dt = tau
    h = None
    ys = []
    for t in range(T):
        torch.bmm(W_x, _x_cols(x, t, E), out=drive)
        if t > 0:  # r_{-1} = 0: no recurrent product at t = 0
            drive.baddbmm_(W_h, R[:, t - 1].transpose(1, 2))
        if fast:
            v = drive
        elif exponential:  # h_t = leak h_{t-1} + gain drive_t (h outlives this step's drive)
            v = drive.mul(gain) if h is None else torch.add(h.mul(leak), drive, alpha=gain)
            h = v
        else:  # euler: v_t = leak r_{t-1} + gain drive_t
            v = drive.mul_(gain) if gain != 1.0 else drive
            if t > 0 and leak != 0.0:
                v.add_(R[:, t - 1].transpose(1, 2), alpha=leak)
        torch.clamp_min(v.transpose(1, 2), 0.0, out=R[:, t])
        ys.append(torch.bmm(W_o, R[:, t].transpose(1, 2)))  # (E, O, B): 3-row products are fast
    y = torch.stack(ys, 1).transpose(2, 3).contiguous()
    return y, R


def _fused_library(tensors: tuple[Tensor, ...], need_input_grad: bool):
    """The C kernels (:mod:`rlnet.nets.fused`) where they apply: float32 on the CPU, no input gradient."""
    if need_input_grad or any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return None
    return fused.library()


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _x_stride(x: Tensor) -> int:
    """Floats between members' inputs: 0 for inputs shared by all members."""
    return 0 if x.dim() == 3 else x[0].numel()


def _forward_fused(lib, W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, leak: float, gain: float,
                   exponential: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``y``, ``R`` and the neuron-major rates ``RT (E, N, T B)`` from the C forward.

    ``R`` is a permuted view of ``RT`` (not contiguous): writing both layouts cost a memory pass."""
    E, N, I = W_x.shape
    O = W_o.shape[1]
    T, B = x.shape[-3], x.shape[-2]
    y = W_h.new_empty(E, T, B, O)
    RT = W_h.new_empty(E, N, T * B)
    fused.over_members(lambda e0, e1: lib.rlnet_forward(
        e0, e1, T, B, N, I, O, W_h.data_ptr(), W_x.data_ptr(), W_o.data_ptr(), x.data_ptr(), _x_stride(x),
        leak, gain, 2 if exponential else 1, y.data_ptr(), RT.data_ptr(), T * B), E)
    return y, RT.view(E, N, T, B).permute(0, 2, 3, 1), RT


class RNNSequence(torch.autograd.Function):
    """``(W_h, W_x, W_o, x) -> (y, R)`` with the backward written out (see the module docstring).

    Float32 on a CPU with AVX-512 runs the fused C kernels of :mod:`rlnet.nets.fused` (one member's
    whole sequence at a time, its ``W_h`` in cache); everything else runs the torch code below.
    """

    @staticmethod
    def forward(ctx, W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, leak: float, gain: float,
                exponential: bool) -> tuple[Tensor, Tensor]:
        ctx.leak, ctx.gain, ctx.exponential = leak, gain, exponential
        ctx.set_materialize_grads(False)  # unused outputs get None, not a zero tensor to add
        ctx.lib = lib = _fused_library((W_h, W_x, W_o, x), ctx.needs_input_grad[3])
        if lib is not None:
            W_h, W_x, W_o, x = (t.contiguous() for t in (W_h, W_x, W_o, x))
            y, R, RT = _forward_fused(lib, W_h, W_x, W_o, x, leak, gain, exponential)
            ctx.save_for_backward(W_h, W_x, W_o, x, RT)
            return y, R
        y, R = _forward(W_h, W_x, W_o, x, leak, gain, exponential)
        ctx.save_for_backward(W_h, W_x, W_o, x, R)
        return y, R

    @staticmethod
    def backward(ctx, gy: Tensor | None, gR: Tensor | None):
        if ctx.lib is not None:
            return RNNSequence._backward_fused(ctx, gy, gR)
        W_h, W_x, W_o, x, R = ctx.saved_tensors
        leak, gain, exponential = ctx.leak, ctx.gain, ctx.exponential
        need_h, need_x, need_o, need_in = ctx.needs_input_grad[:4]
        E, T, B, N = R.shape
        D = _workspace("D", (E, T, B, N), R)  # delta_t = dL/dv_t, member-major for the dW_h product
        g = _workspace("adjoint", (E, B, N), R)
        gW_xT = torch.zeros(E, x.shape[-1], N, dtype=R.dtype, device=R.device) if need_x else None
        gW_o = torch.zeros_like(W_o) if need_o else None
        gxs = []
        for t in range(T - 1, -1, -1):
            # dL/dr_t = W_o^T gy_t + gR_t + (gain W_h^T + [euler] leak) delta_{t+1}
            if gy is not None:
                torch.bmm(gy[:, t], W_o, out=g)
            else:
                g.zero_()
            if gR is not None:
                g.add_(gR[:, t])
            if t < T - 1:
                g.baddbmm_(D[:, t + 1], W_h, alpha=gain)
                if not exponential and leak != 0.0:
                    g.add_(D[:, t + 1], alpha=leak)
            # relu'(v_t) = 1[r_t > 0], applied in one fused pass into D[:, t].
            d = _threshold_backward(g, R[:, t], out=D[:, t])
            if exponential and t < T - 1:
                d.add_(D[:, t + 1], alpha=leak)
            # Thin weight and input gradients while the step's slices are in cache.
            if need_x:
                gW_xT.baddbmm_(_x_cols(x, t, E), d)
            if need_o and gy is not None:
                gW_o.baddbmm_(gy[:, t].transpose(1, 2), R[:, t])
            if need_in:
                gxs.append(torch.bmm(d, W_x))
        gW_h = gW_x = gx = None
        if need_h and T > 1:
            # One GEMM over all steps and trials: sum_{t>=1} delta_t^T r_{t-1}.
            gW_h = torch.bmm(D[:, 1:].reshape(E, (T - 1) * B, N).transpose(1, 2),
                             R[:, :-1].reshape(E, (T - 1) * B, N))
            if gain != 1.0:
                gW_h.mul_(gain)
        elif need_h:
            gW_h = torch.zeros_like(W_h)
        if need_x:
            gW_x = gW_xT.transpose(1, 2).mul(gain).contiguous()
        if need_in:
            gx = torch.stack(gxs[::-1], 1).mul_(gain)  # (E, T, B, I)
            if x.dim() == 3:
                gx = gx.sum(0)
        return gW_h, gW_x, gW_o, gx, None, None, None

    @staticmethod
    def _backward_fused(ctx, gy: Tensor | None, gR: Tensor | None):
        W_h, W_x, W_o, x, RT = ctx.saved_tensors
        need_h, need_x, need_o = ctx.needs_input_grad[:3]
        E, N = RT.shape[:2]
        T, B = x.shape[-3], x.shape[-2]
        I, O = W_x.shape[2], W_o.shape[1]
        gy = None if gy is None else gy.contiguous()
        gR = None if gR is None else gR.contiguous()
        gW_h = torch.empty_like(W_h) if need_h else None
        gW_x = torch.empty_like(W_x) if need_x else None
        gW_o = torch.empty_like(W_o) if need_o else None
        fused.over_members(lambda e0, e1: ctx.lib.rlnet_backward(
            e0, e1, T, B, N, I, O, W_h.data_ptr(), W_o.data_ptr(), x.data_ptr(), _x_stride(x), ctx.leak, ctx.gain,
            2 if ctx.exponential else 1, _ptr(gy), _ptr(gR), RT.data_ptr(), RT.shape[2], _ptr(gW_h), _ptr(gW_x),
            _ptr(gW_o)), E)
        return gW_h, gW_x, gW_o, None, None, None, None


def rnn_sequence(W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, *, leak: float, gain: float,
                 discretization: str = "euler") -> tuple[Tensor, Tensor]:
    """Run the RNN with the hand-written BPTT; same signature and result as ``rnn_forward`` (no taps).

    Args:
        W_h: ``(E, N, N)`` ``[post, pre]``; W_x: ``(E, N, I)``; W_o: ``(E, O, N)``.
        x: ``(T, B, I)`` shared by all members, or ``(E, T, B, I)``.

    Returns:
        ``(y (E, T, B, O), R (E, T, B, N))``.
    """
    if discretization not in ("euler", "exponential"):
        raise ValueError(f"discretization must be 'euler' or 'exponential', got {discretization!r}")
    return RNNSequence.apply(W_h, W_x, W_o, x, float(leak), float(gain), discretization == "exponential")
