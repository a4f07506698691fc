"""Connectivity read from a file: a measured or hand-made recurrent matrix ``W[post, pre]``.

The matrix loads without executing code (see :mod:`rlnet.safe_io`: ``allow_pickle=False``,
``weights_only=True``) and is checked when the structure is built, so a missing, truncated or
NaN-holding file fails before anything is written. As for every structure, ``match_norm`` rescales
it to the Frobenius norm of the null draw ``N(0, g^2/N)`` so that comparisons hold the weight
magnitude fixed (App. C.1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register
from rlnet.safe_io import load_matrix


@register("file")
class FromFile(Connectivity):
    """The matrix in ``path`` (``.npy``, ``.npz``, ``.pt``, ``.csv``, ``.txt``), ``N x N``.

    Args:
        path: the matrix file; rows are postsynaptic, columns presynaptic.
        g, match_norm: as :class:`~rlnet.connectivity.Connectivity`.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "W.npy")
    >>> np.save(path, np.eye(4))
    >>> W = FromFile(path)(4)  # rescaled to the null draw's norm
    >>> bool(W[0, 1] == 0) and bool(W[0, 0] > 0)
    True
    """

    def __init__(self, path: str, g: float = 1.25, match_norm: bool = True) -> None:
        super().__init__(g=g, match_norm=match_norm)
        self.path = str(path)
        self._matrix = load_matrix(self.path, what="connectivity.path")
        if self._matrix.shape[0] != self._matrix.shape[1]:
            raise ValueError(f"connectivity.path {self.path} is {tuple(self._matrix.shape)}; a recurrent "
                             f"matrix must be square")
        if match_norm and not bool(self._matrix.any()):
            raise ValueError(f"connectivity.path {self.path} is all zeros and cannot be rescaled (match_norm)")

    def check(self, n: int) -> None:
        if self._matrix.shape[0] != n:
            raise ValueError(f"connectivity.path {self.path} is {tuple(self._matrix.shape)} but "
                             f"model.n_hidden={n}")

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        return self._matrix.clone()
