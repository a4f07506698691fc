"""Weight and activity change measures (paper Sec. 2.2, Eq. 4; the authors' sign similarity)."""

from __future__ import annotations

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
