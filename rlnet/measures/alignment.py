"""Alignment between Gram matrices (paper Sec. 2.2, Eq. 5-6).

All functions accept a leading batch (ensemble member) dimension: ``(..., M, M)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def alignment(A: Tensor, B: Tensor, eps: float = 0.0) -> Tensor:
    """Uncentred alignment ``<A, B>_F / (||A||_F ||B||_F)`` (cosine similarity of the flattened
    matrices), over the last two dimensions. Equal to 1 for ``A = c B`` with ``c > 0``; invariant to
    scaling either argument by a positive number.

    >>> K = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    >>> float(alignment(K, 3 * K))
    1.0
    """
    if A.shape != B.shape:
        raise ValueError(f"alignment needs equal shapes, got {tuple(A.shape)} and {tuple(B.shape)}")
    a, b = A.flatten(-2).double(), B.flatten(-2).double()
    batch, n = a.shape[:-1], a.shape[-1]
    # Matrix by matrix, one BLAS dot each (no M^2 temporary): a member of an ensemble gets the bits
    # it gets alone, where one batched product rounds differently from a single dot.
    vals = [torch.dot(x, y) / (torch.linalg.vector_norm(x) * torch.linalg.vector_norm(y) + eps)
            for x, y in zip(a.reshape(-1, n), b.reshape(-1, n), strict=True)]
    return (torch.stack(vals) if vals else a.new_zeros(0)).reshape(batch).to(A.dtype)


def kernel_alignment(K_f: Tensor, K_0: Tensor) -> Tensor:
    """Tangent kernel alignment ``KA = Tr(K_f K_0) / (||K_f|| ||K_0||)`` (Eq. 6). Kernels are
    symmetric, so ``Tr(K_f K_0) = <K_f, K_0>_F``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> K_0 = torch.randn(6, 6, generator=g); K_0 = K_0 @ K_0.T
    >>> round(float(kernel_alignment(K_0, K_0)), 6), round(float(kernel_alignment(2 * K_0, K_0)), 6)
    (1.0, 1.0)
    """
    return alignment(K_f, K_0)


def gram(H: Tensor) -> Tensor:
    """``R = H H^T`` for representations ``H`` of shape ``(..., m, features)`` (rows are trials)."""
    return H @ H.transpose(-1, -2)


def representation_alignment(H_f: Tensor, H_0: Tensor) -> Tensor:
    """Representation alignment ``RA = Tr(R_f R_0) / (||R_f|| ||R_0||)``, ``R = H H^T`` (Eq. 5),
    from the representations ``(..., m, features)`` after and before training.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> H_0 = torch.randn(2, 10, 5, generator=g)  # two members, 10 trials, 5 units
    >>> RA = representation_alignment(H_0 + 0.01 * torch.randn(2, 10, 5, generator=g), H_0)
    >>> RA.shape, bool((RA > 0.99).all())
    (torch.Size([2]), True)
    """
    return alignment(gram(H_f.double()), gram(H_0.double())).to(H_f.dtype)


def centered(K: Tensor) -> Tensor:
    """Double-centre a Gram matrix: ``C K C`` with ``C = I - 11^T / M``."""
    return K - K.mean(-1, keepdim=True) - K.mean(-2, keepdim=True) + K.mean((-1, -2), keepdim=True)


def centered_alignment(A: Tensor, B: Tensor) -> Tensor:
    """Centred kernel alignment (CKA, Baratin et al. 2021 Eq. 7): alignment of the centred Grams.

    >>> import torch
    >>> K = torch.eye(4)
    >>> round(float(centered_alignment(K, K + 5.0)), 6)  # a constant shift is centred away
    1.0
    """
    return alignment(centered(A.double()), centered(B.double())).to(A.dtype)


def label_alignment(K: Tensor, y: Tensor) -> Tensor:
    """Centred alignment of a symmetric kernel ``K (..., M, M)`` with the label kernel ``y y^T``
    (Baratin et al. 2021), in ``O(M^2)`` without forming either centred matrix.

    With ``C = I - 11^T/M`` (idempotent) and ``u = C y``: ``<CKC, C yy^T C> = u^T K u``,
    ``||C yy^T C|| = ||u||^2`` and ``||CKC||^2 = ||K||^2 - (2/M) ||K 1||^2 + (1^T K 1)^2 / M^2``.
    Equals :func:`centered_alignment` ``(K, y y^T)`` (tested).

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> K = torch.randn(8, 8, generator=g, dtype=torch.float64); K = K @ K.T
    >>> y = torch.randn(8, generator=g, dtype=torch.float64)
    >>> bool(torch.isclose(label_alignment(K, y), centered_alignment(K, torch.outer(y, y))))
    True
    """
    Kd, yd = K.double(), y.double()
    M = Kd.shape[-1]
    u = yd - yd.mean(-1, keepdim=True)
    num = torch.einsum("...i,...ij,...j->...", u, Kd, u)
    k1 = Kd.sum(-1)
    norm_ckc_sq = Kd.flatten(-2).pow(2).sum(-1) - 2.0 / M * k1.pow(2).sum(-1) + k1.sum(-1).pow(2) / M**2
    return (num / (norm_ckc_sq.clamp_min(0.0).sqrt() * u.pow(2).sum(-1))).to(K.dtype)


def task_alignment(K: Tensor, y: Tensor) -> Tensor:
    """Task alignment ``y^T K y / (||y||^2 Tr K)`` (Fig. 14B); ``y`` is ``(..., M)``.

    >>> import torch
    >>> y = torch.tensor([1.0, -1.0])
    >>> float(task_alignment(torch.outer(y, y), y))  # a kernel that is the task itself
    1.0
    """
    Kd, yd = K.double(), y.double()
    num = torch.einsum("...i,...ij,...j->...", yd, Kd, yd)
    den = (yd * yd).sum(-1) * torch.diagonal(Kd, dim1=-2, dim2=-1).sum(-1)
    return (num / den).to(K.dtype)
