"""EM connectivity (MICrONS V1 column; paper Fig. 2B, App. C.1) and its shuffles (Fig. 19).

The user's matrix ``C[a, b]`` is the summed post-synaptic density volume over synapses from cell
``a`` to cell ``b``, times -1 when ``a`` is inhibitory; rlnet's ``W[post, pre]`` is ``C^T``. It is read
from ``.npy`` (the matrix), ``.npz`` (array ``C``, or the only array, and optionally a boolean
``excitatory`` vector) or ``.csv`` (comma-separated numbers, no header), then checked: 2-D, square,
finite, not all zero, and one sign per presynaptic cell (an excitatory row has no negative entry, an
inhibitory row no positive one). Problems raise ``ValueError`` naming the file and the problem, so a
bad file stops a run before anything trains. Without ``path`` the labelled synthetic stand-in of
:mod:`rlnet.connectivity.em_standin` is used.

Shuffles (Fig. 19), drawn from each member's generator: ``'mask'`` permutes the non-zero values
among the non-zero positions (the sparsity pattern is kept); ``'all'`` permutes all off-diagonal
entries. Both remove the low effective rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register
from rlnet.connectivity.em_standin import synthetic_em_standin


def validate_em_matrix(C: np.ndarray | Tensor, excitatory: np.ndarray | Tensor | None = None,
                       source: str = "EM connectivity") -> tuple[Tensor, Tensor]:
    """Check ``C[pre, post]``; return ``(C float64, signs (N,))`` with the presynaptic signs (+1 / -1;
    a cell without outgoing synapses counts as excitatory unless ``excitatory`` says otherwise)."""
    C = torch.as_tensor(np.asarray(C, dtype=np.float64))
    if C.dim() != 2:
        raise ValueError(f"{source}: expected a 2-D matrix C[pre, post], got shape {tuple(C.shape)}")
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"{source}: matrix must be square (C[pre, post]), got shape {tuple(C.shape)}")
    if C.shape[0] < 2:
        raise ValueError(f"{source}: need at least 2 cells, got shape {tuple(C.shape)}")
    bad = ~torch.isfinite(C)
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"{source}: {int(bad.sum())} entries are NaN or inf (first at [{i}, {j}])")
    if not C.any():
        raise ValueError(f"{source}: matrix is all zero")
    has_pos, has_neg = (C > 0).any(1), (C < 0).any(1)
    if excitatory is None:
        mixed = (has_pos & has_neg).nonzero().flatten()
        if len(mixed):
            a = int(mixed[0])
            raise ValueError(f"{source}: presynaptic row {a} has both positive and negative entries "
                             f"({len(mixed)} such rows); each cell must have one sign (Dale's law)")
        exc = ~has_neg
    else:
        exc = torch.as_tensor(np.asarray(excitatory)).bool().flatten()
        if exc.shape[0] != C.shape[0]:
            raise ValueError(f"{source}: 'excitatory' has {exc.shape[0]} entries for {C.shape[0]} cells")
        for name, rows in (("excitatory", exc & has_neg), ("inhibitory", ~exc & has_pos)):
            idx = rows.nonzero().flatten()
            if len(idx):
                a = int(idx[0])
                wrong = "negative" if name == "excitatory" else "positive"
                raise ValueError(f"{source}: {name} row {a} has a {wrong} entry ({len(idx)} such rows)")
    return C, torch.where(exc, 1.0, -1.0).double()


def load_em_matrix(path: str | Path) -> tuple[Tensor, Tensor]:
    """Read and validate a user's EM matrix ``C[pre, post]``; returns ``(C, signs)``."""
    p = Path(path)
    src = f"EM file {str(p)!r}"
    if not p.is_file():
        raise ValueError(f"connectivity.path: {src} does not exist")
    excitatory = None
    try:
        if p.suffix == ".npy":
            C = np.load(p, allow_pickle=False)
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.keys())
                if "C" in keys:
                    C = z["C"]
                elif len([k for k in keys if k != "excitatory"]) == 1:
                    C = z[next(k for k in keys if k != "excitatory")]
                else:
                    raise ValueError(f"{src}: .npz needs an array named 'C', found {keys}")
                excitatory = z["excitatory"] if "excitatory" in keys else None
        elif p.suffix == ".csv":
            C = np.loadtxt(p, delimiter=",", dtype=np.float64, ndmin=2)
        else:
            raise ValueError(f"{src}: unsupported extension {p.suffix!r} (use .npy, .npz or .csv)")
    except ValueError as err:
        if str(err).startswith(src):
            raise
        raise ValueError(f"{src}: cannot read it as a numeric matrix ({err})") from err
    if not np.issubdtype(np.asarray(C).dtype, np.number) or np.asarray(C).dtype == bool:
        raise ValueError(f"{src}: expected a numeric matrix, got dtype {np.asarray(C).dtype}")
    return validate_em_matrix(C, excitatory, src)


def shuffle_within_mask(W: Tensor, generator: torch.Generator) -> Tensor:
    """Permute the non-zero entries of ``W`` among the non-zero positions (Fig. 19, sparsity kept)."""
    out = W.clone()
    nz = W != 0
    vals = W[nz]
    out[nz] = vals[torch.randperm(vals.numel(), generator=generator).to(W.device)]
    return out


def shuffle_offdiagonal(W: Tensor, generator: torch.Generator) -> Tensor:
    """Permute all off-diagonal entries of ``W`` (zeros included); the diagonal stays."""
    n = W.shape[-1]
    out = W.clone()
    off = ~torch.eye(n, dtype=torch.bool, device=W.device)
    vals = W[off]
    out[off] = vals[torch.randperm(vals.numel(), generator=generator).to(W.device)]
    return out


@register("em")
class EMConnectivity(Connectivity):
    """EM connectivity ``W = C^T`` from a user's file, or the labelled synthetic stand-in.

    Every member gets the same matrix (the data are fixed); with a shuffle, each member's own
    permutation. ``n_hidden`` must equal the number of cells.

    Args:
        path: ``.npy`` / ``.npz`` / ``.csv`` file with ``C[pre, post]``; ``None`` uses the synthetic
            stand-in (NOT MICrONS data; see :mod:`rlnet.connectivity.em_standin`).
        shuffle: ``'none'``, ``'mask'`` (permute non-zero values, Fig. 19) or ``'all'`` (permute all
            off-diagonal entries).
        standin_seed: seed of the synthetic stand-in (ignored with ``path``).

    >>> W = EMConnectivity()(198)  # no path: the labelled synthetic stand-in (198 neurons)
    >>> W.shape
    torch.Size([198, 198])
    """

    def __init__(self, path: str | None = None, shuffle: Literal["none", "mask", "all"] = "none",
                 standin_seed: int = 0, g: float = 1.25, match_norm: bool = True,
                 normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if shuffle not in ("none", "mask", "all"):
            raise ValueError(f"connectivity.shuffle must be 'none', 'mask' or 'all', got {shuffle!r}")
        self.path = None if path in (None, "") else str(path)
        self.shuffle = shuffle
        self.standin_seed = int(standin_seed)
        # Loaded (and validated) now, so a bad file fails before anything is built or trained.
        if self.path is None:
            self.source = "synthetic stand-in (not MICrONS data)"
            C, exc = synthetic_em_standin(seed=self.standin_seed)
            self._C, self._signs = C, torch.where(exc, 1.0, -1.0).double()
        else:
            self.source = "file"
            self._C, self._signs = load_em_matrix(self.path)

    @property
    def n_cells(self) -> int:
        return self._C.shape[0]

    def check(self, n: int) -> None:
        if n != self.n_cells:
            raise ValueError(f"model.n_hidden={n} but the EM matrix ({self.source}) has {self.n_cells} cells; "
                             f"set n_hidden: {self.n_cells}")

    def presynaptic_signs(self, n: int) -> Tensor | None:
        if self.shuffle != "none":
            return None  # a shuffle mixes the signs within a presynaptic cell
        self.check(n)
        return self._signs.float()

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        W = self._C.T.to(null.dtype).contiguous()
        if self.shuffle == "mask":
            W = shuffle_within_mask(W, generator)
        elif self.shuffle == "all":
            W = shuffle_offdiagonal(W, generator)
        return W
