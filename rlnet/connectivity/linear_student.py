"""Initial first layers of the two-layer linear student (paper Sec. 2.3, Fig. 3B, 4A; Theorem 1, Prop. 1).

:class:`rlnet.models.LinearModule` builds one member per entry of ``model.inits``, written in a small
mini-language: ``'gaussian'``, ``'svd:<rank>'``, ``'isotropic'``, ``'aligned'``, ``'partial'``
(:func:`parse_init`); :func:`first_layer` restructures a Gaussian draw at its Frobenius norm.

>>> import torch
>>> draw = torch.randn(10, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
>>> kind, rank = parse_init("svd:1")
>>> W_1 = first_layer(kind, rank, draw)
>>> int(torch.linalg.matrix_rank(W_1)), bool(torch.isclose(W_1.norm(), draw.norm()))
(1, True)
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.svd import svd_low_rank

INIT_KINDS = ("gaussian", "svd", "isotropic", "aligned", "partial")


def parse_init(spec: str) -> tuple[str, int | None]:
    """``'gaussian'``, ``'svd:<rank>'``, ``'isotropic'``, ``'aligned'`` or ``'partial'`` -> ``(kind, rank)``."""
    kind, _, arg = str(spec).partition(":")
    if kind not in INIT_KINDS:
        raise ValueError(f"model.inits entry {spec!r}: kind must be one of {INIT_KINDS}")
    if kind == "svd":
        if not arg.isdigit() or int(arg) < 1:
            raise ValueError(f"model.inits entry {spec!r}: write 'svd:<rank>' with rank >= 1")
        return kind, int(arg)
    if arg:
        raise ValueError(f"model.inits entry {spec!r}: {kind!r} takes no argument")
    return kind, None


def first_layer(kind: str, rank: int | None, draw: Tensor, direction: Tensor | None = None) -> Tensor:
    """The initial ``W_1`` of one structure, at the Frobenius norm of the Gaussian ``draw`` ``(N, d)``.

    * ``gaussian``: the draw itself (the paper's simulations: entries ``N(0, sigma^2)``);
    * ``svd``: its best rank-``rank`` approximation, rescaled (Fig. 4A; the RNN's SVD rank);
    * ``isotropic``: all ``d`` singular values equal (Theorem 1's maximiser);
    * ``aligned`` / ``partial``: first row along ``direction`` (Prop. 1:
      ``W_1 = sigma [beta_hat^T; 0; ...]``; Fig. 3B), all other rows zero.
    """
    if kind == "gaussian":
        return draw.clone()
    if kind == "svd":
        if rank is None or not 1 <= rank <= min(draw.shape):
            raise ValueError(f"model.inits 'svd:{rank}': rank must be in [1, {min(draw.shape)}]")
        return svd_low_rank(draw, rank, keep_full_rank_draw=False)
    if kind == "isotropic":
        U, _, Vh = torch.linalg.svd(draw.double(), full_matrices=False)
        return (U @ Vh * (draw.double().norm() / Vh.shape[0] ** 0.5)).to(draw.dtype)
    if kind in ("aligned", "partial"):
        if direction is None:
            raise ValueError(f"model.inits {kind!r} needs the teacher's direction (a StudentTeacherDataModule)")
        w = torch.zeros_like(draw)
        u = direction.to(draw.dtype)
        w[0] = u / u.norm() * draw.norm()
        return w
    raise ValueError(f"unknown init kind {kind!r}")
