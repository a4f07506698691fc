"""Exact tangent kernel of the two-layer ReLU network of Fig. 4B (:mod:`rlnet.nets.mlp`), paper Eq. 6.

One of the structured implementations behind :func:`rlnet.measures.tangent_kernel.empirical_ntk`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mlp_tangent_kernel(W_1: Tensor, W_2: Tensor, x: Tensor, params: str = "W_1") -> Tensor:
    """Exact tangent kernel ``(E, B*O, B*O)`` of the outputs at the last step, rows ``(b, k)``.

    ``d y_{b,k} / d W_1 = (W_2[k] * f'(h_b)) x_b^T``, so
    ``K[(b,k),(c,l)] = <x_b, x_c> sum_n W_2[k,n] f'_b[n] f'_c[n] W_2[l,n]``; with ``params='all'``
    the readout adds ``delta_{kl} <h_b, h_c>``. No per-output gradient is formed.

    Example (two members of a 4-3-2 network, five inputs):

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> W_1, W_2 = torch.randn(2, 3, 4, generator=g), torch.randn(2, 2, 3, generator=g)
    >>> K = mlp_tangent_kernel(W_1, W_2, torch.randn(1, 5, 4, generator=g), params="all")
    >>> K.shape, bool(torch.allclose(K, K.transpose(1, 2)))
    (torch.Size([2, 10, 10]), True)
    """
    E = W_1.shape[0]
    if x.dim() == 3:
        x = x.unsqueeze(0).expand(E, *x.shape)
    x = x[:, -1]  # (E, B, I)
    pre = torch.bmm(x, W_1.transpose(1, 2))  # (E, B, N)
    fp = (pre > 0).to(x.dtype)
    A = W_2.unsqueeze(1) * fp.unsqueeze(2)  # (E, B, O, N)
    B, O = A.shape[1], A.shape[2]
    Af = A.reshape(E, B * O, -1)
    K = torch.bmm(Af, Af.transpose(1, 2)).reshape(E, B, O, B, O)
    K = K * torch.bmm(x, x.transpose(1, 2))[:, :, None, :, None]
    if params == "all":
        h = torch.relu(pre)
        K = K + torch.bmm(h, h.transpose(1, 2))[:, :, None, :, None] * torch.eye(O, dtype=x.dtype,
                                                                                  device=x.device)[:, None]
    elif params != "W_1":
        raise ValueError(f"params must be 'W_1' or 'all', got {params!r}")
    return K.reshape(E, B * O, B * O)
