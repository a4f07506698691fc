"""Initial recurrent connectivity: the base class and the registry (paper App. C.1).

A structure is a small configurable object; calling it with ``(n, generator)`` returns an
``(n, n)`` matrix ``W[post, pre]``. Every structure first draws the null matrix
``W0_ij ~ N(0, g^2 / n)`` from the generator, builds its own matrix (SVD truncation of ``W0``, a
block-gain matrix, ...) and, by default, rescales it to ``||W0||_F`` so that comparisons hold the
weight magnitude fixed (``normalize='frobenius'``, App. C.1). ``normalize='eigenvalue'`` matches the
largest eigenvalue modulus (spectral radius) of ``W0`` instead (Fig. 13); ``'none'`` (or
``match_norm=False``) keeps the structure's own scale. Structures are plain classes so that LightningCLI can
pick them by name: ``--model.connectivity=SVDRank --model.connectivity.rank=30``.
"""

from __future__ import annotations

import math

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


def spectral_radius(w: Tensor) -> Tensor:
    """Largest eigenvalue modulus ``max_i |lambda_i(w)|`` of ``(..., N, N)``, in ``w``'s dtype."""
    return torch.linalg.eigvals(w.double()).abs().amax(-1).to(w.dtype)


def match_leading_eigenvalue(w: Tensor, reference: Tensor) -> Tensor:
    """Rescale ``w`` so its spectral radius equals that of ``reference`` (Fig. 13)."""
    rad = spectral_radius(w)
    if rad == 0:
        raise ValueError("cannot rescale a nilpotent (all-zero spectrum) matrix to a reference eigenvalue")
    return w * (spectral_radius(reference) / rad)


NORMALIZATIONS = ("frobenius", "eigenvalue", "none")


def normalize_to(w: Tensor, reference: Tensor, normalize: str) -> Tensor:
    """Apply one of :data:`NORMALIZATIONS` to ``w`` against the ``reference`` draw.

    >>> import torch
    >>> w, ref = torch.eye(2), 3 * torch.ones(2, 2)
    >>> frob, eig = normalize_to(w, ref, 'frobenius'), normalize_to(w, ref, 'eigenvalue')
    >>> round(float(frob.norm()), 4), float(spectral_radius(eig))
    (6.0, 6.0)
    """
    if normalize == "frobenius":
        return match_frobenius(w, reference)
    if normalize == "eigenvalue":
        return match_leading_eigenvalue(w, reference)
    if normalize == "none":
        return w
    raise ValueError(f"connectivity.normalize must be one of {NORMALIZATIONS}, got {normalize!r}")


class Connectivity:
    """Base class. Subclasses implement :meth:`structure` and keep their arguments as attributes.

    Args:
        g: gain of the null draw ``N(0, g^2/N)`` (the authors' code uses 1.25, the paper's text 1.5).
        match_norm: rescale the result to the null draw (``False`` is ``normalize='none'``).
        normalize: ``'frobenius'`` (default, App. C.1): match the null draw's Frobenius norm;
            ``'eigenvalue'`` (Fig. 13): match its largest eigenvalue modulus; ``'none'``.
    """

    registry_name = "base"

    def __init__(self, g: float = 1.25, match_norm: bool = True, normalize: str = "frobenius") -> None:
        if not g > 0:
            raise ValueError(f"connectivity.g must be > 0, got {g}")
        if not math.isfinite(g):  # else the first SVD or eigensolver of an inf matrix fails (or aborts)
            raise ValueError(f"connectivity.g must be a finite number, got {g}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"connectivity.normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.g = float(g)
        self.match_norm = bool(match_norm)
        self.normalize = normalize

    @classmethod
    def canonical_args(cls, init_args: dict, n: int) -> dict:
        """``init_args`` in the one spelling of the draw they give at size ``n`` (two spellings of one
        draw then compare equal: :mod:`rlnet.experiments.reuse`). The base class knows no synonyms."""
        return dict(init_args)

    @property
    def normalization(self) -> str:
        """The rescaling actually applied: ``normalize``, or ``'none'`` when ``match_norm`` is off."""
        return self.normalize if self.match_norm else "none"

    def rescale(self, w: Tensor, reference: Tensor) -> Tensor:
        """Rescale a built structure ``w`` against the ``reference`` draw (see ``normalize``)."""
        return normalize_to(w, reference, self.normalization)

    def presynaptic_signs(self, n: int) -> Tensor | None:
        """``(n,)`` sign (+1 excitatory, -1 inhibitory) of each presynaptic neuron for structures that
        obey Dale's law (used to keep the law during training); ``None`` for the others."""
        return None

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
        return self.rescale(w, null)

    def params(self) -> dict:
        """The structure's parameters, as saved in ``metrics.json``."""
        return {"name": self.registry_name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def make(name: str, **kwargs) -> Connectivity:
    """Build a registered structure by name.

    >>> make('svd', rank=2)
    SVDRank(g=1.25, match_norm=True, normalize='frobenius', rank=2, base='gaussian')
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown connectivity {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name](**kwargs)
