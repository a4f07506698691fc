"""SGD with momentum for an ensemble, with the divergence check on the gradients fused into the update.

An ensemble step checks whether each member's gradients are finite (see
:mod:`rlnet.models.divergence`) and then updates every weight. Both stream all the gradients from
memory: with 20 members of N = 300, two passes over 7.2 MB per step. Here one pass does both: each
member's gradients are summed and then used for its update while still in cache
(``rlnet/models/_member_sgd.c``, float32 on CPUs with AVX-512; elsewhere the same in torch ops),
which saves one pass over the gradients per step (``benchmarks/bench_step_parts.py`` measures it).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from rlnet.models import divergence
from rlnet.nets import fused


class MemberSGD(torch.optim.SGD):
    """``torch.optim.SGD`` (``lr``, ``momentum``; no dampening, weight decay or Nesterov) whose next
    step can also run the ensemble's divergence check.

    Every parameter has the member dimension first, ``(E, ...)``. After :meth:`check_next_step`
    ``(alive, on_result)``, the next :meth:`step`:

    1. computes ``finite`` ``(E,)``: whether the sum of each of member ``e``'s gradients is finite
       (the test of :func:`~rlnet.models.divergence.grads_finite_per_member`);
    2. calls ``on_result(finite)``;
    3. freezes the members that are not ``alive & finite``: their gradients and momentum become 0
       and their weights stay as they are;
    4. updates the others exactly as ``torch.optim.SGD``: ``buf = momentum buf + g`` (``buf = g``
       at the first step), ``w = w - lr buf``.

    Without a pending check, :meth:`step` is torch's SGD step. The state dict is torch's SGD's
    (``momentum_buffer``), so checkpoints load into either.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, n_members: int = 1) -> None:
        try:  # torch's fused kernel: one pass over the weights instead of three
            super().__init__(params, lr=lr, momentum=momentum, fused=True)
        except (RuntimeError, TypeError, ValueError):  # a device or torch without it
            super().__init__(params, lr=lr, momentum=momentum)
        self.n_members = n_members
        self._check: tuple[Tensor, Callable[[Tensor], None]] | None = None

    def check_next_step(self, alive: Tensor, on_result: Callable[[Tensor], None]) -> None:
        """Run the divergence check in the next :meth:`step` (see the class docstring).

        ``alive``: ``(E,)`` bool, the members still training before this step."""
        self._check = (alive, on_result)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()  # Lightning's closure: the training step, backward, check_next_step
        check, self._check = self._check, None
        if check is None:
            super().step()
            return loss
        alive, on_result = check
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        lib = self._library(params)
        if lib is None:
            finite = divergence.grads_finite_per_member(params, self.n_members, alive.device)
            on_result(finite)
            divergence.freeze_members(params, self, alive & finite)
            super().step()
            return loss
        self._fused_step(lib, params, alive, on_result)
        return loss

    def _library(self, params: list[Tensor]) -> ctypes.CDLL | None:
        """The C kernel, where it applies: one plain SGD group of CPU float32 contiguous tensors."""
        if len(self.param_groups) != 1 or not params:
            return None
        g = self.param_groups[0]
        if g["dampening"] or g["weight_decay"] or g["nesterov"] or g["maximize"] or isinstance(g["lr"], Tensor):
            return None
        for p in params:
            if (p.device.type != "cpu" or p.dtype != torch.float32 or p.dim() == 0 or p.shape[0] != self.n_members
                    or not p.is_contiguous() or not p.grad.is_contiguous() or p.grad.shape != p.shape):
                return None
            buf = self.state[p].get("momentum_buffer")
            if buf is not None and (not buf.is_contiguous() or buf.shape != p.shape):
                return None
        return fused.library()

    def _fused_step(self, lib: ctypes.CDLL, params: list[Tensor], alive: Tensor,
                    on_result: Callable[[Tensor], None]) -> None:
        group = self.param_groups[0]
        momentum = float(group["momentum"])
        bufs, first = [], 0
        if momentum != 0.0:
            missing = [p for p in params if self.state[p].get("momentum_buffer") is None]
            first = int(len(missing) == len(params))  # buf = g; a buffer missing alone starts at 0
            for p in missing:
                self.state[p]["momentum_buffer"] = torch.empty_like(p) if first else torch.zeros_like(p)
            bufs = [self.state[p]["momentum_buffer"] for p in params]
        P, E = len(params), self.n_members
        arr = ctypes.c_void_p * P
        w, g = arr(*(p.data_ptr() for p in params)), arr(*(p.grad.data_ptr() for p in params))
        b = arr(*(t.data_ptr() for t in bufs)) if bufs else None
        n = (ctypes.c_long * P)(*(p[0].numel() for p in params))
        alive_u8 = alive.to(device="cpu", dtype=torch.uint8).contiguous()
        finite = torch.ones(E, dtype=torch.uint8)
        fused.over_members(lambda e0, e1: lib.rlnet_member_sgd(
            e0, e1, P, w, g, b, n, float(group["lr"]), momentum, first, alive_u8.data_ptr(), finite.data_ptr()), E)
        on_result(finite.to(device=alive.device, dtype=torch.bool))
