"""Hand-written backpropagation through time for the rate RNN (paper Eq. 1-2), ensemble-batched.

Same equations as :func:`rlnet.nets.rnn.rnn_forward` (``drive_t = W_h r_{t-1} + W_x x_t``,
``v_t = leak * prev + gain * drive_t``, ``r_t = relu(v_t)``, ``y_t = W_o r_t``), but with one
autograd node for the whole sequence instead of ~5 per step. Only the rates ``R`` are saved
(``relu'(v_t) = 1[r_t > 0]``). With ``delta_t = dL/dv_t`` and ``m_t = 1[r_t > 0]``, the adjoints are

* euler (prev = ``r_{t-1}``): ``dL/dr_t = W_o^T gy_t + gR_t + leak delta_{t+1} + gain W_h^T delta_{t+1}``,
  ``delta_t = m_t * dL/dr_t``;
* exponential (prev = ``h_{t-1}``): ``delta_t = m_t * (W_o^T gy_t + gR_t + gain W_h^T delta_{t+1})
  + leak delta_{t+1}``;

and the weight gradients are single GEMMs over all steps and trials:
``dW_h = gain sum_{t>=1} delta_t^T r_{t-1}``, ``dW_x = gain sum_t delta_t^T x_t``,
``dW_o = sum_t gy_t^T r_t``. Only the sequential ``W_h^T delta`` products remain per step.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _add_relu(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """``out = relu(a + b)`` in one pass (ATen's fused CPU kernel; two passes elsewhere)."""
    if a.device.type == "cpu" and hasattr(torch.ops.aten, "_add_relu"):
        return torch.ops.aten._add_relu.out(a, b, out=out)
    return torch.clamp_min(a.add_(b), 0.0, out=out)


def _threshold_backward(g: Tensor, r: Tensor, out: Tensor) -> Tensor:
    """``out = g * 1[r > 0]`` in one pass (the kernel autograd uses for relu)."""
    return torch.ops.aten.threshold_backward.grad_input(g, r, 0.0, grad_input=out)


def _forward_rates(W_h: Tensor, inp: Tensor, leak: float, gain: float, exponential: bool) -> Tensor:
    """Rates ``R (E, T, B, N)`` from input drives ``inp (E, T, B, N)``."""
    T = inp.shape[1]
    R = torch.empty_like(inp)
    W_hT = W_h.transpose(1, 2)
    v = None
    for t in range(T):
        if t == 0:  # r_{-1} = 0: skip the zero product
            drive = inp[:, 0]
        elif not exponential and leak == 0.0 and gain == 1.0:
            # The figures' case (dt = tau): r_t = relu(W_h r_{t-1} + inp_t) in one fused pass.
            _add_relu(torch.bmm(R[:, t - 1], W_hT), inp[:, t], out=R[:, t])
            continue
        else:
            drive = torch.bmm(R[:, t - 1], W_hT).add_(inp[:, t])
        if exponential:
            v = drive * gain if v is None else torch.add(drive * gain, v, alpha=leak)
        elif leak == 0.0 or t == 0:
            v = drive if gain == 1.0 else drive * gain
        else:
            v = torch.add(drive * gain, R[:, t - 1], alpha=leak)
        torch.clamp_min(v, 0.0, out=R[:, t])
    return R


class RNNSequence(torch.autograd.Function):
    """``(W_h, W_x, W_o, x) -> (y, R)`` with the backward written out (see the module docstring)."""

    @staticmethod
    def forward(ctx, W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, leak: float, gain: float,
                exponential: bool) -> tuple[Tensor, Tensor]:
        E = W_h.shape[0]
        T, B, I = x.shape[-3], x.shape[-2], x.shape[-1]
        shared = x.dim() == 3
        x_flat = x.reshape(1, T * B, I).expand(E, T * B, I) if shared else x.reshape(E, T * B, I)
        inp = torch.bmm(x_flat, W_x.transpose(1, 2)).reshape(E, T, B, -1)
        R = _forward_rates(W_h, inp, leak, gain, exponential)
        N = R.shape[-1]
        # As (W_o R^T)^T: a 3-row product runs about 2.5x faster than a 3-column one.
        y = torch.bmm(W_o, R.reshape(E, T * B, N).transpose(1, 2)).transpose(1, 2).reshape(E, T, B, -1).contiguous()
        ctx.save_for_backward(W_h, W_x, W_o, x, R)
        ctx.leak, ctx.gain, ctx.exponential = leak, gain, exponential
        ctx.set_materialize_grads(False)  # unused rates get None, not a zero tensor to add
        return y, R

    @staticmethod
    def backward(ctx, gy: Tensor | None, gR: Tensor | None):
        W_h, W_x, W_o, x, R = ctx.saved_tensors
        leak, gain, exponential = ctx.leak, ctx.gain, ctx.exponential
        E, T, B, N = R.shape
        I = x.shape[-1]
        R_flat = R.reshape(E, T * B, N)
        # Direct gradient into every rate: the readout's W_o^T gy_t (one product for all steps) + gR.
        if gy is not None:
            gy = gy.contiguous()
            A = torch.bmm(gy.reshape(E, T * B, -1), W_o).reshape(E, T, B, N)
            if gR is not None:
                A = A + gR
        else:
            A = gR.clone() if gR is not None else torch.zeros_like(R)
        D = torch.empty_like(R)  # delta_t = dL/dv_t
        delta = None
        for t in range(T - 1, -1, -1):
            if delta is None:
                g = A[:, t]
            else:
                g = torch.bmm(delta, W_h)
                if gain != 1.0:
                    g.mul_(gain)
                g.add_(A[:, t])
                if not exponential and leak != 0.0:
                    g.add_(delta, alpha=leak)
            # relu'(v_t) = 1[r_t > 0], applied in one fused pass into D[:, t].
            d = _threshold_backward(g, R[:, t], out=D[:, t])
            if exponential and delta is not None:
                d.add_(delta, alpha=leak)
            delta = d
        gW_h = gW_x = gW_o = gx = None
        D_flat = D.reshape(E, T * B, N)
        if ctx.needs_input_grad[0] and T > 1:
            # One GEMM over all steps and trials: sum_{t>=1} delta_t^T r_{t-1}.
            gW_h = torch.bmm(D[:, 1:].reshape(E, (T - 1) * B, N).transpose(1, 2),
                             R[:, :-1].reshape(E, (T - 1) * B, N))
            if gain != 1.0:
                gW_h.mul_(gain)
        elif ctx.needs_input_grad[0]:
            gW_h = torch.zeros_like(W_h)
        x_flat = x.reshape(1, T * B, I).expand(E, T * B, I) if x.dim() == 3 else x.reshape(E, T * B, I)
        if ctx.needs_input_grad[1]:
            gW_x = torch.bmm(x_flat.transpose(1, 2).to(D.dtype), D_flat).transpose(1, 2).contiguous()
            if gain != 1.0:
                gW_x.mul_(gain)
        if ctx.needs_input_grad[2] and gy is not None:
            gW_o = torch.bmm(gy.reshape(E, T * B, -1).transpose(1, 2), R_flat)
        elif ctx.needs_input_grad[2]:
            gW_o = torch.zeros_like(W_o)
        if ctx.needs_input_grad[3]:
            gx = torch.bmm(D_flat, W_x) * gain
            gx = gx.reshape(E, T, B, I)
            if x.dim() == 3:
                gx = gx.sum(0)
        return gW_h, gW_x, gW_o, gx, None, None, None


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
