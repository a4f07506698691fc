"""Teacher-aligned initial connectivity for sMNIST (paper Fig. 3C).

Fig. 3B aligns the first layer of a linear student with the task's statistics (Prop. 1:
``W_1 = sigma beta^T / ||beta||`` with ``beta = w^T F``) and partially aligns it through the
rank-``d/2`` truncation of the feature matrix ``F``. For sMNIST, "as the ground truth network
function is elusive, we use a teacher network with pre-trained weights" and "replace F with its
rank-(d/2) truncation for partial alignment". The paper gives no more detail; rlnet's reading:

* the teacher is an RNN of the same size trained on sMNIST (any rlnet checkpoint);
* **aligned**: the student's initial ``W_h`` is the teacher's trained ``W_h`` (the recurrent
  structure that solves the task plays the role of ``F``), rescaled to the Frobenius norm of the
  student's own null draw, so the magnitude matches every other initialisation;
* **partially aligned**: the rank-``N/2`` SVD truncation of the teacher's ``W_h`` (``d = N``, the
  rank of the full matrix), rescaled the same way;
* option ``structure_of='learned'``: use the teacher's weight *change* ``W_h(final) - W_h(initial)``
  instead of its final ``W_h`` (the task-specific part without the teacher's random draw);
* the student's input and readout weights are drawn fresh as in every run, so the initial error
  is high (as the paper notes for Fig. 3) and learning is a real problem.

The random controls are :class:`~rlnet.connectivity.Null` (full rank) and
:class:`~rlnet.connectivity.SVDRank` with ``rank = N/2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register
from rlnet.connectivity.svd import svd_truncate
from rlnet.safe_io import torch_load_safe
from rlnet.snapshot import initial_weight_from_checkpoint


def find_checkpoint(path: str | Path) -> Path:
    """``path`` itself if it is a file, else the newest ``*.ckpt`` below the directory ``path``."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        ckpts = sorted(p.rglob("*.ckpt"), key=lambda f: f.stat().st_mtime)
        if ckpts:
            return ckpts[-1]
        raise ValueError(f"connectivity.checkpoint: no *.ckpt file under {p} (train the teacher first)")
    raise ValueError(f"connectivity.checkpoint: {p} does not exist (train the teacher first)")


def _initial_W_h(ckpt: dict, p: Path) -> Tensor:
    """The teacher's initial ``W_h``, from the measuring callbacks' snapshot in its checkpoint
    (the format of :mod:`rlnet.snapshot`)."""
    w = initial_weight_from_checkpoint(ckpt, "W_h")
    if w is None:
        raise ValueError(f"connectivity.structure_of='learned' needs the teacher's initial W_h, which {p} lacks")
    return w


def load_recurrent_weight(path: str | Path, member: int = 0, learned: bool = False) -> Tensor:
    """The recurrent matrix ``W_h[post, pre]`` of a teacher: member ``member`` of ``net.W_h`` in a
    Lightning checkpoint (``.ckpt``), or a saved matrix (``.pt`` tensor, ``.npy``). ``learned``:
    the change ``W_h(final) - W_h(initial)`` instead (checkpoints of rlnet runs only)."""
    p = find_checkpoint(path)
    if p.suffix == ".npy":
        if learned:
            raise ValueError("connectivity.structure_of='learned' needs a .ckpt teacher, not a .npy matrix")
        w = torch.from_numpy(np.load(p, allow_pickle=False))
    else:
        obj = torch_load_safe(p, "connectivity.checkpoint")  # weights_only: never runs code
        if isinstance(obj, dict) and "state_dict" in obj:
            ckpt = obj
            obj = obj["state_dict"].get("net.W_h")
            if obj is not None and learned:
                obj = obj - _initial_W_h(ckpt, p).to(obj.dtype)
            if obj is None:
                raise ValueError(f"connectivity.checkpoint: {p} holds no 'net.W_h' (not an RNNModule checkpoint)")
        if not torch.is_tensor(obj):
            raise ValueError(f"connectivity.checkpoint: {p} holds no recurrent weight tensor")
        w = obj
    if w.dim() == 3:
        if not 0 <= member < w.shape[0]:
            raise ValueError(f"connectivity.member={member} but the teacher has {w.shape[0]} members")
        w = w[member]
    if w.dim() != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"connectivity.checkpoint: expected a square recurrent matrix, got {tuple(w.shape)}")
    return w.detach().float()


@register("teacher")
class TeacherAligned(Connectivity):
    """The teacher's trained ``W_h`` (``rank=None``: aligned) or its rank-``rank`` truncation
    (``rank = N/2``: partially aligned), rescaled to the null draw's Frobenius norm.

    Args:
        checkpoint: a teacher checkpoint (``.ckpt``), or a directory holding one (the newest is used).
        rank: ``None`` (aligned) or the truncation rank (partial alignment: ``N/2``).
        member: which member of an ensemble teacher.
        structure_of: ``'trained'`` (default: the teacher's final ``W_h``) or ``'learned'`` (its
            change ``W_h(final) - W_h(initial)``, the task structure without the random initial draw;
            the closer analogue of Prop. 1's ``beta^T/||beta||``).

    >>> import os, tempfile, numpy as np, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "teacher_W_h.npy")
    >>> np.save(path, np.random.default_rng(0).standard_normal((20, 20)))  # a trained W_h, e.g.
    >>> W = TeacherAligned(checkpoint=path, rank=10)(20)  # partially aligned: rank N/2
    >>> int(torch.linalg.matrix_rank(W))
    10
    """

    def __init__(self, checkpoint: str = "runs/smnist_teacher", rank: int | None = None, member: int = 0,
                 structure_of: Literal["trained", "learned"] = "trained", g: float = 1.25,
                 match_norm: bool = True) -> None:
        super().__init__(g=g, match_norm=match_norm)
        if rank is not None and int(rank) < 1:
            raise ValueError(f"connectivity.rank must be >= 1, got {rank}")
        if structure_of not in ("trained", "learned"):
            raise ValueError(f"connectivity.structure_of must be 'trained' or 'learned', got {structure_of!r}")
        self.checkpoint, self.rank, self.member = str(checkpoint), None if rank is None else int(rank), int(member)
        self.structure_of = structure_of
        self._teacher: Tensor | None = None

    def teacher(self) -> Tensor:
        if self._teacher is None:
            self._teacher = load_recurrent_weight(self.checkpoint, self.member, self.structure_of == "learned")
        return self._teacher

    def check(self, n: int) -> None:
        w = self.teacher()
        if w.shape[0] != n:
            raise ValueError(f"connectivity.checkpoint: the teacher has N={w.shape[0]} but model.n_hidden={n}")
        if self.rank is not None and self.rank > n:
            raise ValueError(f"connectivity.rank={self.rank} exceeds the network size n_hidden={n}")

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        w = self.teacher().to(null.dtype)
        return w if self.rank is None or self.rank == n else svd_truncate(w, self.rank)
