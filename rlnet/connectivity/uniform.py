"""Uniform connectivity (App. D, Fig. 7): ``W_ij ~ U(-g/sqrt N, g/sqrt N)``."""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


@register("uniform")
class Uniform(Connectivity):
    """``W_ij ~ U(-g/sqrt(N), g/sqrt(N))``. Use with :class:`~rlnet.connectivity.svd.SVDRank`'s
    ``base='uniform'`` for Fig. 7's rank sweep from a uniform draw.

    >>> import torch
    >>> from rlnet.connectivity import Null
    >>> W = Uniform(g=1.0)(100, torch.Generator().manual_seed(0))
    >>> null = Null(g=1.0)(100, torch.Generator().manual_seed(0))
    >>> bool(torch.isclose(W.norm(), null.norm()))  # rescaled to the null draw's norm (App. C.1)
    True
    """

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        return uniform_draw(n, self.g, generator)


def uniform_draw(n: int, g: float, generator: torch.Generator) -> Tensor:
    bound = g / n**0.5
    return torch.empty(n, n).uniform_(-bound, bound, generator=generator)
