"""SVD low-rank connectivity (App. C.1, Fig. 1).

Draw the temporary matrix ``W_hat`` (Gaussian null, or uniform for Fig. 7), keep its top ``r``
singular components, ``W = U_r S_r V_r^T``, and rescale to ``||W_hat||_F`` (or, with
``normalize='eigenvalue'``, to ``W_hat``'s spectral radius, Fig. 13). The low rank is an
initial condition only; it is never enforced during training.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register
from rlnet.connectivity.uniform import uniform_draw


def svd_truncate(w: Tensor, rank: int) -> Tensor:
    """Best rank-``rank`` approximation of ``w`` (Eckart-Young): ``U[:, :r] diag(S[:r]) V[:, :r]^T``."""
    if not 1 <= rank <= min(w.shape):
        raise ValueError(f"rank must be in [1, {min(w.shape)}], got {rank}")
    U, S, Vh = torch.linalg.svd(w.double(), full_matrices=False)
    return ((U[:, :rank] * S[:rank]) @ Vh[:rank]).to(w.dtype)


@register("svd")
class SVDRank(Connectivity):
    """Rank-``rank`` SVD truncation of a random draw, rescaled to the draw's Frobenius norm.

    Args:
        rank: number of singular components kept (1 .. N); ``None`` keeps the full draw.
        base: the temporary draw, ``'gaussian'`` (Fig. 1) or ``'uniform'`` (Fig. 7).
    """

    def __init__(self, rank: int | None = None, base: Literal["gaussian", "uniform"] = "gaussian",
                 g: float = 1.25, match_norm: bool = True, normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if rank is not None and int(rank) < 1:
            raise ValueError(f"connectivity.rank must be >= 1, got {rank}")
        if base not in ("gaussian", "uniform"):
            raise ValueError(f"connectivity.base must be 'gaussian' or 'uniform', got {base!r}")
        self.rank = None if rank is None else int(rank)
        self.base = base

    def check(self, n: int) -> None:
        if self.rank is not None and self.rank > n:
            raise ValueError(f"connectivity.rank={self.rank} exceeds the network size n_hidden={n}")

    def __call__(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.check(n)
        draw = torch.randn(n, n, generator=generator) * (self.g / n**0.5)
        if self.base == "uniform":
            draw = uniform_draw(n, self.g, generator)
        w = draw if self.rank is None or self.rank == n else svd_truncate(draw, self.rank)
        return self.rescale(w, draw)

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:  # pragma: no cover
        raise NotImplementedError("SVDRank overrides __call__")
