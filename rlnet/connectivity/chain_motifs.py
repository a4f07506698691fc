"""Over- or under-represented chain motifs (Dahmen et al. 2020, S3.10; paper Fig. 2D, App. C.1).

Target chain correlation ``rho = corr(W_ij, W_jk)``: ``tau_chn / 2`` under Dahmen's normalisation
(``tau_convention='dahmen'``, default) or ``tau_chn`` itself (``'correlation'``). The paper uses
``tau_chn = 0.03`` (over-represented) and ``-0.1`` (under-represented) at ``N = 100``.

A Gaussian matrix cannot carry a chain correlation ``|rho| > 1/(N-2)`` alone: convergent and divergent
correlations of about ``|rho|`` must come with it. The exact generator used here adds the least of
them: with ``a^2 = |rho| / (1 - 2|rho|)``, ``c = sign(rho)``, ``V = 1 + 2 a^2``, ``u ~ N(0, I)``,

    ``W = (Z + a (u 1^T + c 1 u^T)) / sqrt(V)``, zero diagonal,

gives unit variance, ``corr(W_ij, W_jk) = rho``, convergent and divergent correlation ``|rho|``, and
``Z`` (standard Gaussian, entries independent except pairs ``(Z_ij, Z_ji)`` with correlation
``-2 a^2 c``) cancels the reciprocal correlation the rank-2 term brings. Needs ``|rho| <= 1/4``.
The matrix is scaled to the null's variance ``g^2/N`` and then rescaled as usual.
(SONET, Zhao et al. 2011, is the classic alternative; its large-N approximation overshoots at N = 100.)
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


def chain_generator(null_std: Tensor, u: Tensor, rho: float) -> Tensor:
    """``(Z + a (u 1^T + c 1 u^T)) / sqrt(V)`` with zero diagonal, from a standard Gaussian
    ``null_std`` (its two triangles supply ``Z``) and ``u ~ N(0, I)``; unit entry variance."""
    if not abs(rho) <= 0.25:
        raise ValueError(f"chain correlation rho must satisfy |rho| <= 1/4, got {rho}")
    n = null_std.shape[-1]
    X = null_std.double()
    a2 = abs(rho) / (1 - 2 * abs(rho))
    a, c = math.sqrt(a2), (1.0 if rho >= 0 else -1.0)
    r = -2 * a2 * c  # reciprocal correlation of Z that cancels the rank-2 term's
    upper = torch.triu(X, 1)
    Z = upper + r * upper.T + math.sqrt(1 - r * r) * torch.tril(X, -1)
    ud = u.double()
    ones = torch.ones(n, dtype=torch.float64, device=X.device)
    W = (Z + a * (torch.outer(ud, ones) + c * torch.outer(ones, ud))) / math.sqrt(1 + 2 * a2)
    return W.fill_diagonal_(0.0)


@register("chain_motifs")
class ChainMotifs(Connectivity):
    """Gaussian connectivity with a prescribed chain-motif statistic (Dahmen et al. 2020).

    Args:
        tau_chn: chain motif statistic; 0.03 over-represented, -0.1 under-represented (the paper's).
        tau_convention: ``'dahmen'`` (``tau_chn = 2 rho``) or ``'correlation'`` (``tau_chn = rho``).

    >>> from rlnet.measures.motifs import chain_motif_tau
    >>> W = ChainMotifs(tau_chn=0.3)(200)
    >>> chain_motif_tau(W) > 0.1
    True
    """

    def __init__(self, tau_chn: float = 0.03, tau_convention: Literal["dahmen", "correlation"] = "dahmen",
                 g: float = 1.25, match_norm: bool = True, normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if tau_convention not in ("dahmen", "correlation"):
            raise ValueError(f"connectivity.tau_convention must be 'dahmen' or 'correlation', got {tau_convention!r}")
        self.tau_chn, self.tau_convention = float(tau_chn), tau_convention
        if not abs(self.rho) <= 0.25:
            raise ValueError(f"connectivity.tau_chn={tau_chn} gives chain correlation {self.rho}; need |rho| <= 1/4")

    @property
    def rho(self) -> float:
        """Target chain correlation ``corr(W_ij, W_jk)``."""
        return self.tau_chn / 2 if self.tau_convention == "dahmen" else self.tau_chn

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        u = torch.randn(n, generator=generator)
        std = null.double() * (n**0.5 / self.g)
        return (chain_generator(std, u, self.rho) * (self.g / n**0.5)).to(null.dtype)
