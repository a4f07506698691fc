"""The null connectivity: i.i.d. Gaussian ``N(0, g^2/N)`` (App. C.1)."""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


@register("null")
class Null(Connectivity):
    """``W_ij ~ N(0, g^2 / N)``: the paper's baseline ("null") initialisation.

    >>> W = Null(g=1.5)(400)  # N(0, g^2/N): Frobenius norm about g sqrt(N)
    >>> W.shape, round(float(W.norm()) / (1.5 * 400 ** 0.5), 1)
    (torch.Size([400, 400]), 1.0)
    """

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        return null
