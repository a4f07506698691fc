"""The student-teacher regression task of the paper's theory (Sec. 2.3, Fig. 3A-B, 4A, App. C).

Inputs ``x (m, d)``: ``X ~ U[-2, 2]`` (the paper's simulations) or whitened, ``X X^T = m I_d``
(Theorem 1's ``X X^T = I_d`` up to the factor ``m``, which no alignment sees and which keeps the
learning rate independent of ``m``; rows are samples here, the paper's ``X`` is ``(d, m)``).

Teacher: ``y = beta^T x``, with ``beta`` all ones (Fig. 4A) or ``beta ~ N(0, I/d)`` (Theorem 1);
or, with ``kappa`` set (Fig. 3), ``z = F x``, ``y = w^T z``, ``F = U S V^T`` with Haar-random
``U, V`` and ``S`` = ``kappa`` on the top ``d // 2`` singular values and 1 on the rest, so
``beta = F^T w``. Everything is drawn once from ``seed``; every training step sees the same full
batch (full-batch gradient descent), so step ``i``'s data trivially depend only on ``(seed, i)``.

Batches follow the RNN's layout with one time step: ``x (1, m, d)``, ``y (1, m, 1)``, samples on
dimension 1 (what :class:`rlnet.callbacks.LazinessCallback` slices).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from rlnet.connectivity.svd import svd_truncate


def haar_orthogonal(d: int, generator: torch.Generator) -> Tensor:
    """A Haar-random ``(d, d)`` orthogonal matrix (QR of a Gaussian, signs fixed by ``R``'s diagonal)."""
    Q, R = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R)).unsqueeze(0)


def feature_matrix(d: int, kappa: float, generator: torch.Generator) -> Tensor:
    """``F = U S V^T``: condition number ``kappa``, top ``d // 2`` singular values ``kappa``, rest 1 (Fig. 3A)."""
    U, V = haar_orthogonal(d, generator), haar_orthogonal(d, generator)
    s = torch.ones(d, dtype=torch.float64)
    s[: d // 2] = kappa
    return (U * s) @ V.T


def whiten(x: Tensor) -> Tensor:
    """Rows ``x (m, d)`` mapped to ``x C^{-1/2}`` with ``C = x^T x / m``: then ``x^T x = m I_d``."""
    m = x.shape[0]
    evals, evecs = torch.linalg.eigh(x.T @ x / m)
    return x @ (evecs * evals.rsqrt()) @ evecs.T


class FullBatch(IterableDataset):
    """The same full batch at every step."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        while True:
            yield self.x, self.y


class StudentTeacherDataModule(L.LightningDataModule):
    """Linear teacher, full batch (Sec. 2.3, App. C).

    Args:
        d: input dimension (paper: 2; also 20, 100).
        n_samples: ``m``, the number of training inputs (all of them form the probe set).
        inputs: ``'uniform'`` (``U[-2, 2]``, the paper's simulations) or ``'whitened'`` (Theorem 1).
        teacher: ``'ones'`` (``beta`` or ``w`` all ones, the paper's) or ``'gaussian'`` (``N(0, 1/d)``).
        kappa: condition number of the feature matrix ``F`` (Fig. 3); ``None``: ``F = I``.
        seed: seed of the inputs, ``F`` and a Gaussian teacher; ``None``: 0, or rlnet's CLI fills
            in ``seed_everything``.
    """

    def __init__(self, d: int = 2, n_samples: int = 200, inputs: Literal["uniform", "whitened"] = "uniform",
                 teacher: Literal["ones", "gaussian"] = "ones", kappa: float | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        if int(d) < 1:
            raise ValueError(f"data.d must be >= 1, got {d}")
        if int(n_samples) < int(d):
            raise ValueError(f"data.n_samples must be >= data.d={d} (full-rank inputs), got {n_samples}")
        if inputs not in ("uniform", "whitened"):
            raise ValueError(f"data.inputs must be 'uniform' or 'whitened', got {inputs!r}")
        if teacher not in ("ones", "gaussian"):
            raise ValueError(f"data.teacher must be 'ones' or 'gaussian', got {teacher!r}")
        if kappa is not None and not kappa > 0:
            raise ValueError(f"data.kappa must be > 0, got {kappa}")
        if kappa is not None and int(d) < 2:
            raise ValueError(f"data.kappa needs data.d >= 2, got d={d}")
        self.d, self.n_samples, self.inputs, self.teacher = int(d), int(n_samples), inputs, teacher
        self.n_input, self.n_output = self.d, 1  # d inputs, one scalar target
        self.kappa = None if kappa is None else float(kappa)
        self.seed = int(seed or 0)
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.rand(self.n_samples, self.d, generator=gen, dtype=torch.float64) * 4 - 2
        self.x = whiten(x) if inputs == "whitened" else x
        if teacher == "ones":
            self.w = torch.ones(self.d, dtype=torch.float64)
        else:
            self.w = torch.randn(self.d, generator=gen, dtype=torch.float64) / self.d**0.5
        self.F = (torch.eye(self.d, dtype=torch.float64) if self.kappa is None
                  else feature_matrix(self.d, self.kappa, gen))
        self.beta = self.F.T @ self.w
        self.y = (self.x @ self.beta).unsqueeze(-1)

    def teacher_direction(self, kind: Literal["aligned", "partial"] = "aligned") -> Tensor:
        """Direction of an aligned init (Prop. 1): ``beta = F^T w``; ``'partial'`` uses the rank-``d/2``
        truncation of ``F`` (Fig. 3B), i.e. only the dominant features."""
        if kind == "aligned":
            return self.beta.clone()
        if kind == "partial":
            F = svd_truncate(self.F, max(1, self.d // 2))
            return F.T @ self.w
        raise ValueError(f"teacher direction must be 'aligned' or 'partial', got {kind!r}")

    def probe_batch(self) -> tuple[Tensor, Tensor]:
        """All inputs and targets, ``(x (1, m, d), y (1, m, 1))``."""
        return self.x.unsqueeze(0), self.y.unsqueeze(0)

    def train_dataloader(self) -> DataLoader:
        x, y = self.probe_batch()
        return DataLoader(FullBatch(x, y), batch_size=None)
