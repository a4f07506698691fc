"""Effective ranks (paper Fig. 2, 15, 16)."""

from __future__ import annotations

import torch
from torch import Tensor


def eigenvalue_effective_rank(W: Tensor) -> Tensor:
    """Relative effective rank over eigenvalues: ``sum_i |lambda_i| / (|lambda_1| N)`` (Fig. 2),
    with ``lambda_1`` the eigenvalue of largest modulus. Works on ``(..., N, N)``.

    >>> import torch
    >>> float(eigenvalue_effective_rank(torch.eye(5))), round(float(eigenvalue_effective_rank(torch.ones(5, 5))), 6)
    (1.0, 0.2)
    """
    mags = torch.linalg.eigvals(W.double()).abs()
    return (mags.sum(-1) / (mags.amax(-1) * W.shape[-1])).to(W.dtype)


def singular_value_effective_rank(W: Tensor) -> Tensor:
    """The same over singular values: ``sum_i s_i / (s_1 N)``.

    >>> import torch
    >>> float(singular_value_effective_rank(torch.diag(torch.tensor([2.0, 1.0]))))
    0.75
    """
    s = torch.linalg.svdvals(W.double())
    return (s.sum(-1) / (s[..., 0] * W.shape[-1])).to(W.dtype)


def kernel_effective_rank(K: Tensor) -> Tensor:
    """Kernel effective rank ``sum_i lambda_i / lambda_1 = Tr K / lambda_max`` (Fig. 15).

    >>> import torch
    >>> float(kernel_effective_rank(torch.diag(torch.tensor([4.0, 2.0, 2.0]))))
    2.0
    """
    Kd = K.double()
    top = torch.linalg.eigvalsh(Kd)[..., -1]
    return (torch.diagonal(Kd, dim1=-2, dim2=-1).sum(-1) / top).to(K.dtype)


def top_eigenpair(K: Tensor, v0: Tensor | None = None, tol: float = 1e-9, max_iter: int = 100
                  ) -> tuple[Tensor, Tensor]:
    """Largest eigenvalue and its eigenvector of PSD kernels ``(..., M, M)`` by power iteration in
    float64, warm-started from ``v0`` (the previous eigenvector while tracking a slowly moving
    kernel: a few matrix-vector products instead of a full ``eigvalsh``). Stops when the Rayleigh
    quotient changes by less than ``tol`` (relative); falls back to ``eigh`` if it does not within
    ``max_iter``. The Rayleigh quotient's error is second order in the vector's, so near-degenerate
    top eigenvalues still give an accurate value. A kernel with a non-finite entry (a diverged
    network's) gives NaN for both.

    Kernel by kernel: a member of an ensemble gets the bits it would get alone (a common stop would
    iterate every member as long as the slowest, and a batched matrix-vector product rounds
    differently from a single one).

    >>> import torch
    >>> lam, v = top_eigenpair(torch.diag(torch.tensor([1.0, 3.0, 2.0])))
    >>> round(float(lam), 6), [round(abs(float(c)), 3) for c in v]
    (3.0, [0.0, 1.0, 0.0])
    """
    Kd = K.double()
    if Kd.dim() > 2:
        batch, M = Kd.shape[:-2], Kd.shape[-1]
        Kf = Kd.reshape(-1, M, M)
        vf = [None] * len(Kf) if v0 is None else v0.reshape(-1, M)
        pairs = [top_eigenpair(k, v, tol, max_iter) for k, v in zip(Kf, vf, strict=True)]
        lam = torch.stack([p[0] for p in pairs]) if pairs else Kd.new_zeros(0)
        vec = torch.stack([p[1] for p in pairs]) if pairs else Kd.new_zeros(0, M)
        return lam.reshape(batch), vec.reshape(*batch, M)
    if not bool(torch.isfinite(Kd).all()):  # a diverged network's kernel: eigh would fail on it
        return Kd.new_full((), float("nan")), Kd.new_full(Kd.shape[:-1], float("nan"))
    fresh = v0 is None or not bool(torch.isfinite(v0).all())
    v = torch.ones(Kd.shape[:-1], dtype=Kd.dtype, device=Kd.device) if fresh else v0.to(Kd).clone()
    v = v / v.norm()
    lam = torch.zeros((), dtype=Kd.dtype, device=Kd.device)
    for _ in range(max_iter):
        w = Kd @ v
        new = (w * v).sum()  # Rayleigh quotient
        v = w / w.norm().clamp_min(torch.finfo(Kd.dtype).tiny)
        done = bool((new - lam).abs() <= tol * new.abs())
        lam = new
        if done:
            return lam, v
    evals, evecs = torch.linalg.eigh(Kd)
    return evals[-1], evecs[:, -1]
