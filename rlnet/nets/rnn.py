"""The rate RNN of Liu et al. (ICLR 2024), Eq. 1-2, with a leading *member* dimension.

Every tensor carries a leading ensemble dimension ``E`` (``E = 1`` for a single network) so that
many networks sharing a task and shapes train in one process with batched matrix products.

For step ``t = 0 .. T-1``, with ``r_{-1} = h_{-1} = 0`` and ``drive_t = W_h r_{t-1} + W_x x_t``:

* ``euler`` (the authors' code, default): ``r_t = relu((1 - a) r_{t-1} + a drive_t)``,
  ``a = dt / tau``;
* ``exponential`` (the paper's Eq. 1): ``h_t = rho h_{t-1} + (1 - rho) drive_t``,
  ``r_t = relu(h_t)``, ``rho = exp(-dt / tau)``.

Readout at every step: ``y_t = W_o r_t`` (Eq. 2). No biases. ``W_h`` is ``[post, pre]``.
With ``dt = tau`` (all figure runs) the Euler update is ``r_t = relu(drive_t)``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from rlnet.nets.bptt import rnn_sequence

Discretization = Literal["euler", "exponential"]
# The hand-written BPTT has no vmap rule: under torch.func transforms the autograd path runs.
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


def leak_and_gain(discretization: Discretization, dt: float, tau: float) -> tuple[float, float]:
    """Return ``(leak, gain)`` so that the state update is ``leak * prev + gain * drive``.

    ``prev`` is the previous rate for ``euler`` and the previous state for ``exponential``.
    """
    if not (math.isfinite(dt) and math.isfinite(tau)):  # YAML .inf/.nan
        raise ValueError(f"dt and tau must be finite numbers, got dt={dt}, tau={tau}")
    if dt <= 0 or tau <= 0:
        raise ValueError(f"dt and tau must be positive, got dt={dt}, tau={tau}")
    if discretization == "euler":
        a = dt / tau
        if a > 1:
            raise ValueError(f"euler needs dt <= tau, got dt={dt}, tau={tau}")
        return 1.0 - a, a
    if discretization == "exponential":
        rho = math.exp(-dt / tau)
        return rho, 1.0 - rho
    raise ValueError(f"discretization must be 'euler' or 'exponential', got {discretization!r}")


def rnn_forward(
    W_h: Tensor,
    W_x: Tensor,
    W_o: Tensor,
    x: Tensor,
    *,
    leak: float,
    gain: float,
    discretization: Discretization = "euler",
    taps: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Run the RNN. Functional core shared by the module, the kernels and the tests.

    Args:
        W_h: ``(E, N, N)`` recurrent weights, ``W_h[e, post, pre]``.
        W_x: ``(E, N, I)`` input weights.
        W_o: ``(E, O, N)`` readout weights.
        x: ``(T, B, I)`` inputs shared by all members, or ``(E, T, B, I)``.
        taps: optional ``(E, T, B, N)`` tensor added to every step's drive; zero-valued taps
            give ``d y / d drive`` by autograd (used by the tangent kernels).

    Returns:
        ``(y, r)``: outputs ``(E, T, B, O)`` and rates ``(E, T, B, N)``.
    """
    E = W_h.shape[0]
    if x.dim() == 3:
        x = x.unsqueeze(0).expand(E, *x.shape)
    T, B = x.shape[1], x.shape[2]
    # All input drives in one batched product: (E, T*B, I) @ (E, I, N).
    inp = torch.bmm(x.reshape(E, T * B, -1), W_x.transpose(1, 2)).reshape(E, T, B, -1)
    if taps is not None:
        inp = inp + taps
    W_hT = W_h.transpose(1, 2)
    rates = []
    r = None
    v = None
    for t in range(T):
        drive = inp[:, t] if r is None else torch.baddbmm(inp[:, t], r, W_hT)
        if discretization == "euler":
            v = gain * drive if r is None or leak == 0.0 else leak * r + gain * drive
        else:
            v = gain * drive if v is None else leak * v + gain * drive
        r = torch.relu(v)
        rates.append(r)
    R = torch.stack(rates, dim=1)  # (E, T, B, N)
    y = torch.bmm(R.reshape(E, T * B, -1), W_o.transpose(1, 2)).reshape(E, T, B, -1)
    return y, R


class RNN(nn.Module):
    """An ensemble of ``E`` rate RNNs (Eq. 1-2); see :func:`rnn_forward` for the equations.

    Weights are created by the caller (see :mod:`rlnet.models.rnn_module`), which owns seeding
    and the initial connectivity; this module only holds parameters and runs them.
    """

    def __init__(
        self,
        n_input: int,
        n_hidden: int,
        n_output: int,
        n_members: int = 1,
        discretization: Discretization = "euler",
        dt: float = 100.0,
        tau: float = 100.0,
        bptt: bool = True,
    ) -> None:
        super().__init__()
        # Hand-written backward through time (rlnet.nets.bptt) for plain calls; the generic
        # autograd path serves taps (kernels) and torch.func transforms.
        self.bptt = bool(bptt)
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden), ("n_output", n_output),
                        ("n_members", n_members)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.discretization: Discretization = discretization
        self.leak, self.gain = leak_and_gain(discretization, dt, tau)
        self.W_h = nn.Parameter(torch.zeros(n_members, n_hidden, n_hidden))
        self.W_x = nn.Parameter(torch.zeros(n_members, n_hidden, n_input))
        self.W_o = nn.Parameter(torch.zeros(n_members, n_output, n_hidden))

    @property
    def n_members(self) -> int:
        return self.W_h.shape[0]

    def forward(self, x: Tensor, taps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if taps is None and self.bptt and not _functorch_active():
            return rnn_sequence(self.W_h, self.W_x, self.W_o, x, leak=self.leak, gain=self.gain,
                                discretization=self.discretization)
        return rnn_forward(self.W_h, self.W_x, self.W_o, x, leak=self.leak, gain=self.gain,
                           discretization=self.discretization, taps=taps)
