"""Test helpers for the linear student (paper Sec. 2.3, App. B): plain full-batch gradient descent
with hand-written gradients (independent of autograd and of Lightning) and Theorem 1's initial
weights of a given singular-value profile."""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.nets.linear import half_mse, linear_forward


def gradient_descent(
    W_1: Tensor, W_2: Tensor, x: Tensor, y: Tensor, lr: float | Tensor, steps: int,
    tol: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Full-batch gradient descent on :func:`half_mse`, gradients by hand:

        dL/dW_2 = E^T H / m,   dL/dW_1 = W_2^T E^T X / m,   E = Y_hat - Y.

    Args:
        W_1, W_2: initial weights ``(E, N, d)``, ``(E, O, N)`` (not modified).
        x: ``(m, d)`` or ``(E, m, d)``; y: ``(m, O)`` or ``(E, m, O)``.
        lr: a float or a per-member ``(E,)`` tensor (a per-member time rescaling of gradient flow).
        steps: maximum number of steps; tol: stop once every member's loss is below it.

    Returns:
        ``(W_1, W_2, loss)`` after training; ``loss`` ``(E,)`` is the final loss.
    """
    W_1, W_2 = W_1.clone(), W_2.clone()
    x, y = x.to(W_1), y.to(W_1)
    m = x.shape[-2]
    eta = torch.as_tensor(lr, dtype=W_1.dtype, device=W_1.device).reshape(-1, 1, 1)
    for _ in range(steps):
        y_hat, h = linear_forward(W_1, W_2, x)
        err = (y_hat - y) / m  # (E, m, O)
        if tol is not None and bool((half_mse(y_hat, y) < tol).all()):
            break
        g2 = err.transpose(-1, -2) @ h
        g1 = W_2.transpose(-1, -2) @ (err.transpose(-1, -2) @ x)
        W_1 = W_1 - eta * g1
        W_2 = W_2 - eta * g2
    return W_1, W_2, half_mse(linear_forward(W_1, W_2, x)[0], y)


def with_singular_values(s: Tensor, n: int, d: int, generator: torch.Generator | None = None,
                         dtype: torch.dtype = torch.float64) -> Tensor:
    """A random ``(n, d)`` matrix with singular values ``s`` (``len(s) <= min(n, d)``): ``U diag(s) V^T``
    with Haar-random orthonormal ``U (n, r)`` and ``V (d, r)``; Theorem 1's ``W_1^(0)`` of a given profile."""
    r = s.shape[-1]
    if r > min(n, d):
        raise ValueError(f"{r} singular values do not fit an ({n}, {d}) matrix")
    U, _ = torch.linalg.qr(torch.randn(n, r, generator=generator, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(d, r, generator=generator, dtype=torch.float64))
    return ((U * s.double()) @ V.T).to(dtype)
