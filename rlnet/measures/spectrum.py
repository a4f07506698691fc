"""Connectivity spectra (paper Fig. 2 and 16, left panels).

Fig. 2 plots the eigenvalue magnitudes ``|lambda_i| / |lambda_1|`` in decreasing order against the
index ``i / N``; the relative effective rank ``sum_i |lambda_i| / (|lambda_1| N)`` is the area under
that curve. Fig. 16 does the same with singular values. All functions accept ``(..., N, N)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.measures.effective_rank import eigenvalue_effective_rank, singular_value_effective_rank


def eigenvalue_magnitudes(W: Tensor, relative: bool = True) -> Tensor:
    """``|lambda_i|`` in decreasing order (float64), divided by ``|lambda_1|`` if ``relative``.

    >>> import torch
    >>> eigenvalue_magnitudes(torch.diag(torch.tensor([1.0, -4.0, 2.0])))
    tensor([1.0000, 0.5000, 0.2500], dtype=torch.float64)
    """
    mags = torch.linalg.eigvals(W.double()).abs().sort(-1, descending=True).values
    return mags / mags[..., :1] if relative else mags


def singular_values(W: Tensor, relative: bool = True) -> Tensor:
    """Singular values in decreasing order (float64), divided by ``s_1`` if ``relative``.

    >>> import torch
    >>> singular_values(torch.diag(torch.tensor([1.0, -4.0])), relative=False)
    tensor([4., 1.], dtype=torch.float64)
    """
    s = torch.linalg.svdvals(W.double())
    return s / s[..., :1] if relative else s


def spectrum_summary(W: Tensor, digits: int = 4) -> dict:
    """A small JSON-ready description of one ``(N, N)`` matrix: effective ranks, spectral radius,
    Frobenius norm and the relative eigenvalue magnitudes (rounded to ``digits``).

    >>> import torch
    >>> s = spectrum_summary(torch.eye(3))
    >>> s['eigenvalue_effective_rank'], s['spectral_radius'], s['eigenvalue_magnitudes']
    (1.0, 1.0, [1.0, 1.0, 1.0])
    """
    if W.dim() != 2:
        raise ValueError(f"spectrum_summary takes one (N, N) matrix, got shape {tuple(W.shape)}")
    mags = eigenvalue_magnitudes(W, relative=False)
    return {
        "eigenvalue_effective_rank": float(eigenvalue_effective_rank(W)),
        "singular_value_effective_rank": float(singular_value_effective_rank(W)),
        "spectral_radius": float(mags[0]),
        "frobenius_norm": float(W.double().norm()),
        "eigenvalue_magnitudes": [round(float(v), digits) for v in (mags / mags[0])],
    }
