"""The two-layer linear network of the paper's theory (Sec. 2.3, App. B), with a member dimension.

``f(x) = W_2 W_1 x``: ``W_1 (E, N, d)``, ``W_2 (E, O, N)``, hidden ``h = W_1 x``. Samples are rows,
``x (m, d)`` shared by all members or ``(E, m, d)``.

Also here: the initial first layers the paper compares (random Gaussian, SVD rank ``r`` at fixed
norm, isotropic, aligned with a teacher as in Prop. 1) and plain full-batch gradient descent with
hand-written gradients (an implementation independent of autograd, used by the theory tests).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rlnet.connectivity.base import match_frobenius
from rlnet.connectivity.svd import svd_truncate


def linear_forward(W_1: Tensor, W_2: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``y = W_2 W_1 x`` for every member: returns ``(y (E, m, O), h (E, m, N))``."""
    h = x.to(W_1) @ W_1.transpose(-1, -2)
    return h @ W_2.transpose(-1, -2), h


def half_mse(y_hat: Tensor, y: Tensor) -> Tensor:
    """Per-member loss ``L = 1/(2m) sum_b ||y_hat_b - y_b||^2``, shape ``(E,)``."""
    return 0.5 * (y_hat - y.to(y_hat)).pow(2).sum(-1).mean(-1)


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


INIT_KINDS = ("gaussian", "svd", "isotropic", "aligned", "partial")


def parse_init(spec: str) -> tuple[str, int | None]:
    """``'gaussian'``, ``'svd:<rank>'``, ``'isotropic'``, ``'aligned'`` or ``'partial'`` -> ``(kind, rank)``."""
    kind, _, arg = str(spec).partition(":")
    if kind not in INIT_KINDS:
        raise ValueError(f"model.inits entry {spec!r}: kind must be one of {INIT_KINDS}")
    if kind == "svd":
        if not arg.isdigit() or int(arg) < 1:
            raise ValueError(f"model.inits entry {spec!r}: write 'svd:<rank>' with rank >= 1")
        return kind, int(arg)
    if arg:
        raise ValueError(f"model.inits entry {spec!r}: {kind!r} takes no argument")
    return kind, None


def first_layer(kind: str, rank: int | None, draw: Tensor, direction: Tensor | None = None) -> Tensor:
    """The initial ``W_1`` of one structure, at the Frobenius norm of the Gaussian ``draw`` ``(N, d)``.

    * ``gaussian``: the draw itself (the paper's simulations: entries ``N(0, sigma^2)``);
    * ``svd``: its best rank-``rank`` approximation, rescaled (Fig. 4A; the RNN's SVD rank);
    * ``isotropic``: all ``d`` singular values equal (Theorem 1's maximiser);
    * ``aligned`` / ``partial``: first row along ``direction`` (Prop. 1:
      ``W_1 = sigma [beta_hat^T; 0; ...]``; Fig. 3B), all other rows zero.
    """
    if kind == "gaussian":
        return draw.clone()
    if kind == "svd":
        if rank is None or not 1 <= rank <= min(draw.shape):
            raise ValueError(f"model.inits 'svd:{rank}': rank must be in [1, {min(draw.shape)}]")
        return match_frobenius(svd_truncate(draw, rank), draw)
    if kind == "isotropic":
        U, _, Vh = torch.linalg.svd(draw.double(), full_matrices=False)
        return (U @ Vh * (draw.double().norm() / Vh.shape[0] ** 0.5)).to(draw.dtype)
    if kind in ("aligned", "partial"):
        if direction is None:
            raise ValueError(f"model.inits {kind!r} needs the teacher's direction (a StudentTeacherDataModule)")
        w = torch.zeros_like(draw)
        u = direction.to(draw.dtype)
        w[0] = u / u.norm() * draw.norm()
        return w
    raise ValueError(f"unknown init kind {kind!r}")


class TwoLayerLinear(nn.Module):
    """An ensemble of ``E`` two-layer linear networks ``y = W_2 W_1 x`` (weights set by the caller)."""

    def __init__(self, n_input: int, n_hidden: int, n_output: int = 1, n_members: int = 1,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden), ("n_output", n_output),
                        ("n_members", n_members)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.W_1 = nn.Parameter(torch.zeros(n_members, n_hidden, n_input, dtype=dtype))
        self.W_2 = nn.Parameter(torch.zeros(n_members, n_output, n_hidden, dtype=dtype))

    @property
    def n_members(self) -> int:
        return self.W_1.shape[0]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return linear_forward(self.W_1, self.W_2, x)
