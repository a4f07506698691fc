"""Initial recurrent connectivity: the base class and the registry (paper App. C.1, SPEC 2).

A structure is a small configurable object; calling it with ``(n, generator)`` returns an
``(n, n)`` matrix ``W[post, pre]``. Every structure first draws the null matrix
``W0_ij ~ N(0, g^2 / n)`` from the generator, builds its own matrix (SVD truncation of ``W0``, a
block-gain matrix, ...) and, by default, rescales it to ``||W0||_F`` so that comparisons hold the
weight magnitude fixed (``match_norm``). Structures are plain classes so that LightningCLI can
pick them by name: ``--model.connectivity=SVDRank --model.connectivity.rank=30``.
"""

from __future__ import annotations

import torch
from torch import Tensor

REGISTRY: dict[str, type[Connectivity]] = {}


def register(name: str):
    """Class decorator: add a structure to :data:`REGISTRY` under ``name``."""

    def deco(cls: type[Connectivity]) -> type[Connectivity]:
        if name in REGISTRY:
            raise ValueError(f"connectivity {name!r} registered twice")
        REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return deco


def null_gaussian(n: int, g: float, generator: torch.Generator | None = None) -> Tensor:
    """The null draw ``W_ij ~ N(0, g^2 / n)`` (App. C.1)."""
    return torch.randn(n, n, generator=generator) * (g / n**0.5)


def match_frobenius(w: Tensor, reference: Tensor) -> Tensor:
    """Rescale ``w`` to the Frobenius norm of ``reference``."""
    norm = w.norm()
    if norm == 0:
        raise ValueError("cannot rescale an all-zero matrix to a reference norm")
    return w * (reference.norm() / norm)


class Connectivity:
    """Base class. Subclasses implement :meth:`structure` and keep their arguments as attributes.

    Args:
        g: gain of the null draw ``N(0, g^2/N)`` (the authors' code uses 1.25, the paper's text 1.5).
        match_norm: rescale the result to the null draw's Frobenius norm.
    """

    registry_name = "base"

    def __init__(self, g: float = 1.25, match_norm: bool = True) -> None:
        if not g > 0:
            raise ValueError(f"connectivity.g must be > 0, got {g}")
        self.g = float(g)
        self.match_norm = bool(match_norm)

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def check(self, n: int) -> None:
        """Validate the arguments against the network size; raise ``ValueError`` naming the field."""

    def __call__(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.check(n)
        null = null_gaussian(n, self.g, generator)
        w = self.structure(n, null, generator)
        if w.shape != (n, n):
            raise ValueError(f"{type(self).__name__} returned shape {tuple(w.shape)}, expected {(n, n)}")
        return match_frobenius(w, null) if self.match_norm else w

    def params(self) -> dict:
        """The structure's parameters, as saved in ``metrics.json``."""
        return {"name": self.registry_name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def make(name: str, **kwargs) -> Connectivity:
    """Build a registered structure by name."""
    if name not in REGISTRY:
        raise ValueError(f"unknown connectivity {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name](**kwargs)
