"""Weight and activity change measures (paper Sec. 2.2, Eq. 4; the authors' sign similarity)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor


def weight_change_norm(W_f: Tensor, W_0: Tensor, member_dims: int = 0) -> Tensor:
    """``||W_f - W_0||_F`` (Eq. 4). With ``member_dims = k`` the first ``k`` dimensions index
    separate networks and one norm per network is returned.

    >>> import torch
    >>> W_0 = torch.zeros(2, 3, 3)
    >>> W_f = W_0.clone(); W_f[1, 0, 0] = 2.0
    >>> weight_change_norm(W_f, W_0, member_dims=1)  # one norm per member
    tensor([0., 2.])
    """
    d = (W_f.double() - W_0.double()).flatten(member_dims)
    return d.norm(dim=-1).to(W_f.dtype)


def sign_similarity(r_f: Tensor, r_0: Tensor, member_dims: int = 0) -> Tensor:
    """Fraction of entries whose sign (-1, 0, +1) is unchanged between ``r_0`` and ``r_f``.

    >>> import torch
    >>> float(sign_similarity(torch.tensor([1.0, -2.0, 0.0, 3.0]), torch.tensor([2.0, -1.0, 1.0, -3.0])))
    0.5
    """
    same = (torch.sign(r_f) == torch.sign(r_0)).flatten(member_dims)
    return same.double().mean(-1).to(r_f.dtype)


def total_weight_change_norm(W_f: Mapping[str, Tensor], W_0: Mapping[str, Tensor], names: Iterable[str]) -> Tensor:
    """``sqrt(sum_k ||W_f[k] - W_0[k]||_F^2)`` over the weights ``names`` (Eq. 4 over several
    matrices), one value per network: every tensor has the member dimension first, ``(E, ...)``.
    The difference in the weights' dtype (exact for entries within a factor 2 of their start,
    Sterbenz), squares and sums in float64."""
    sq = [(W_f[k].detach() - W_0[k]).flatten(1).double().pow(2).sum(1) for k in names]
    if not sq:
        raise ValueError("total_weight_change_norm: no weights named")
    total = sq[0]
    for t in sq[1:]:  # in the order named, as a running sum
        total = total + t
    return total.sqrt()
