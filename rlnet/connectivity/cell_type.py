"""Cell-type-specific block statistics (Aljadeff, Stern & Sharpee, PRL 2015, Fig. S3; paper Fig. 2A).

``W_ij = G_{c(i) c(j)} Z_ij`` with ``Z_ij ~ N(0, 1/N)`` (rows postsynaptic, columns presynaptic) and
two populations: population 1, the first ``round(alpha N)`` neurons (hyperexcitable), and the rest.
The paper's parameters: ``alpha = 0.02``, ``gamma = 10`` (hyperexcitable gain), ``1 - eps = 0.8``.

The paper does not say which blocks are hyperexcitable, so both readings are offered:

* ``reading='A'`` (default): every connection to *or* from population 1 has gain ``gamma``;
  bulk radius ``sqrt(lambda_max(M))``, ``M_cd = alpha_d G_cd^2``, about 3.9;
* ``reading='B'``: only population 1's outgoing connections (its columns) have gain ``gamma``;
  radius about 1.6.

``Z`` is the null draw divided by ``g``; the result is then rescaled as usual.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


def cell_type_gains(n: int, alpha: float, gamma: float, gain_rest: float, reading: str) -> Tensor:
    """The ``(n, n)`` gain matrix ``G_{c(i) c(j)}`` (float64)."""
    n1 = round(alpha * n)
    hyper = torch.zeros(n, dtype=torch.bool)
    hyper[:n1] = True
    if reading == "A":
        mask = hyper[:, None] | hyper[None, :]
    elif reading == "B":
        mask = hyper[None, :].expand(n, n)
    else:
        raise ValueError(f"connectivity.reading must be 'A' or 'B', got {reading!r}")
    return torch.where(mask, torch.tensor(float(gamma), dtype=torch.float64),
                       torch.tensor(float(gain_rest), dtype=torch.float64))


def block_radius(n: int, alpha: float, gamma: float, gain_rest: float, reading: str) -> float:
    """Predicted bulk radius ``sqrt(lambda_max(M))``, ``M_cd = alpha_d G_cd^2`` (Aljadeff et al. Eq. 3),
    for ``Z_ij ~ N(0, 1/N)``, before any rescaling."""
    n1 = round(alpha * n)
    G = cell_type_gains(n, alpha, gamma, gain_rest, reading)
    idx = [0, n1] if n1 < n else [0]
    frac = torch.tensor([n1 / n, 1 - n1 / n], dtype=torch.float64)[: len(idx)]
    Gc = G[idx][:, idx]
    M = frac[None, :] * Gc**2
    return float(torch.linalg.eigvals(M).abs().max().sqrt())


@register("cell_type")
class CellType(Connectivity):
    """Two-population block-variance connectivity (Aljadeff et al. 2015, Fig. S3).

    Args:
        alpha: fraction of neurons in population 1 (hyperexcitable); ``round(alpha N)`` neurons.
        gamma: gain of population 1's connections.
        gain_rest: gain of the other connections (``1 - eps``).
        reading: ``'A'`` (to and from population 1) or ``'B'`` (from population 1 only).

    >>> W = CellType()(300)
    >>> W.shape
    torch.Size([300, 300])
    """

    def __init__(self, alpha: float = 0.02, gamma: float = 10.0, gain_rest: float = 0.8,
                 reading: Literal["A", "B"] = "A", g: float = 1.25, match_norm: bool = True,
                 normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if not 0 <= alpha <= 1:
            raise ValueError(f"connectivity.alpha must be in [0, 1], got {alpha}")
        if not (gamma > 0 and gain_rest > 0):
            raise ValueError(f"connectivity.gamma and gain_rest must be > 0, got {gamma}, {gain_rest}")
        if reading not in ("A", "B"):
            raise ValueError(f"connectivity.reading must be 'A' or 'B', got {reading!r}")
        self.alpha, self.gamma, self.gain_rest, self.reading = float(alpha), float(gamma), float(gain_rest), reading

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        G = cell_type_gains(n, self.alpha, self.gamma, self.gain_rest, self.reading)
        return (G * (null.double() / self.g)).to(null.dtype)
