"""Soft low rank (App. D, Fig. 8): a smooth power-law decay of the singular values.

Draw the null matrix ``W_hat = U S V^T``, replace its singular values by
``s_i = s_1 (1 - i/N)^k`` (``i = 0 .. N-1``, so ``s_0`` is the draw's largest), and rescale to the
draw's norm. Larger ``k`` gives a lower effective rank; ``k = 0`` keeps all singular values equal to
``s_1``. As with :class:`~rlnet.connectivity.svd.SVDRank`, only the initial condition is shaped.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


def soft_rank_singular_values(s1: float | Tensor, n: int, k: float) -> Tensor:
    """``s_i = s_1 (1 - i/n)^k`` for ``i = 0 .. n-1`` (float64)."""
    i = torch.arange(n, dtype=torch.float64)
    return torch.as_tensor(s1, dtype=torch.float64) * (1.0 - i / n) ** k


@register("soft_rank")
class SoftRank(Connectivity):
    """Null draw with singular values replaced by ``s_1 (1 - i/N)^k`` (Fig. 8).

    Args:
        k: decay exponent (>= 0); the paper sweeps it like the SVD rank.

    >>> import torch
    >>> from rlnet.measures.effective_rank import singular_value_effective_rank
    >>> ranks = [float(singular_value_effective_rank(SoftRank(k=k)(100))) for k in (1.0, 8.0)]
    >>> ranks[0] > ranks[1]  # a larger k decays faster: a lower effective rank
    True
    """

    def __init__(self, k: float = 1.0, g: float = 1.25, match_norm: bool = True,
                 normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if not k >= 0:
            raise ValueError(f"connectivity.k must be >= 0, got {k}")
        self.k = float(k)

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        U, S, Vh = torch.linalg.svd(null.double())
        s = soft_rank_singular_values(S[0], n, self.k)
        return ((U * s) @ Vh).to(null.dtype)
