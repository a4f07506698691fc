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

from rlnet.connectivity.base import Connectivity, normalize_to, null_gaussian, register
from rlnet.connectivity.uniform import uniform_draw


def svd_truncate(w: Tensor, rank: int) -> Tensor:
    """Best rank-``rank`` approximation of ``w`` (Eckart-Young): ``U[:, :r] diag(S[:r]) V[:, :r]^T``."""
    if not 1 <= rank <= min(w.shape):
        raise ValueError(f"rank must be in [1, {min(w.shape)}], got {rank}")
    U, S, Vh = torch.linalg.svd(w.double(), full_matrices=False)
    return ((U[:, :rank] * S[:rank]) @ Vh[:rank]).to(w.dtype)


def svd_low_rank(w: Tensor, rank: int | None, normalize: str = "frobenius", keep_full_rank_draw: bool = True) -> Tensor:
    """Truncate the draw ``w`` by SVD to ``rank`` components, then rescale to ``w``'s norm (App. C.1).

    The one low-rank initialiser: the RNN's ``W_h`` (:class:`SVDRank`), the hidden layer of Fig. 4B
    (:class:`rlnet.models.MLPModule`) and the linear student's ``'svd:<rank>'`` first layer
    (:func:`rlnet.connectivity.linear_student.first_layer`). ``rank=None`` or a full rank returns
    ``w`` itself (``keep_full_rank_draw=False``: a full rank is reconstructed from the SVD too, as
    the linear student always did; equal to ``w`` up to round-off). ``normalize`` as
    :func:`rlnet.connectivity.base.normalize_to` (``'frobenius'``: ``||W||_F = ||w||_F``;
    ``'eigenvalue'``: the same spectral radius, Fig. 13).

    >>> import torch
    >>> w = torch.randn(50, 50, generator=torch.Generator().manual_seed(0)) / 50**0.5
    >>> low = svd_low_rank(w, 2)
    >>> int(torch.linalg.matrix_rank(low)), bool(torch.isclose(low.norm(), w.norm()))
    (2, True)
    >>> svd_low_rank(w, None) is w
    True
    """
    if rank is None or (keep_full_rank_draw and rank >= min(w.shape)):
        return w
    return normalize_to(svd_truncate(w, rank), w, normalize)


@register("svd")
class SVDRank(Connectivity):
    """Rank-``rank`` SVD truncation of a random draw, rescaled to the draw's Frobenius norm.

    Args:
        rank: number of singular components kept (1 .. N); ``None`` keeps the full draw.
        base: the temporary draw, ``'gaussian'`` (Fig. 1) or ``'uniform'`` (Fig. 7).

    >>> import torch
    >>> from rlnet.connectivity import Null
    >>> W = SVDRank(rank=3)(100, torch.Generator().manual_seed(0))
    >>> null = Null()(100, torch.Generator().manual_seed(0))  # the draw it truncates
    >>> int(torch.linalg.matrix_rank(W)), bool(torch.isclose(W.norm(), null.norm()))
    (3, True)
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

    @classmethod
    def canonical_args(cls, init_args: dict, n: int) -> dict:
        """A rank equal to ``n`` keeps the full draw, as ``rank=None`` does (:func:`svd_low_rank`)."""
        out = dict(init_args)
        if out.get("rank") == n:
            out["rank"] = None
        return out

    def check(self, n: int) -> None:
        if self.rank is not None and self.rank > n:
            raise ValueError(f"connectivity.rank={self.rank} exceeds the network size n_hidden={n}")

    def __call__(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.check(n)
        draw = null_gaussian(n, self.g, generator)
        if self.base == "uniform":
            draw = uniform_draw(n, self.g, generator)
        return svd_low_rank(draw, self.rank, self.normalization)

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:  # pragma: no cover
        raise NotImplementedError("SVDRank overrides __call__")
