"""Dale's law, balanced, 80 % excitatory (Yang & Wang 2020, notebook ``EI_RNN.ipynb``; paper Fig. 2C).

The first ``round(exc_fraction N)`` neurons are excitatory, the rest inhibitory. Raw weights
``W_raw ~ U(-1/sqrt N, 1/sqrt N)`` (PyTorch's default ``kaiming_uniform_(a=sqrt 5)``); the excitatory
columns are divided by ``n_E / n_I`` so that the expected excitatory and inhibitory input to each
neuron cancel; the effective weight is ``W = |W_raw| * mask`` with ``mask_ij = +1`` for an excitatory
presynaptic neuron ``j``, ``-1`` for an inhibitory one, and 0 on the diagonal (no autapses).
Unscaled, ``||W||_F`` is about a fifth of the null's, so the default Frobenius rescaling matters.
Keeping the law during training (Fig. 17) is :class:`rlnet.models.dale.DaleConstraint`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlnet.connectivity.base import Connectivity, register


def excitatory_count(n: int, exc_fraction: float) -> int:
    """``n_E = round(exc_fraction n)``."""
    return round(exc_fraction * n)


def dale_signs(n: int, exc_fraction: float) -> Tensor:
    """``(n,)`` presynaptic signs: +1 for the first ``n_E`` neurons, -1 for the others."""
    s = -torch.ones(n)
    s[: excitatory_count(n, exc_fraction)] = 1.0
    return s


def dale_mask(signs: Tensor) -> Tensor:
    """``mask[post, pre] = signs[pre]``, zero diagonal."""
    n = signs.shape[-1]
    mask = signs[None, :].expand(n, n).clone()
    return mask.fill_diagonal_(0.0)


@register("dale")
class DaleBalanced(Connectivity):
    """Balanced excitatory/inhibitory connectivity obeying Dale's law (Yang & Wang 2020).

    Args:
        exc_fraction: fraction of excitatory neurons (0.8); both populations must be non-empty.

    >>> import torch
    >>> c = DaleBalanced(exc_fraction=0.8)
    >>> W, signs = c(100), c.presynaptic_signs(100)
    >>> int((signs > 0).sum()), bool(((W * signs) >= 0).all())  # column j has the sign of neuron j
    (80, True)
    """

    def __init__(self, exc_fraction: float = 0.8, g: float = 1.25, match_norm: bool = True,
                 normalize: str = "frobenius") -> None:
        super().__init__(g=g, match_norm=match_norm, normalize=normalize)
        if not 0 < exc_fraction < 1:
            raise ValueError(f"connectivity.exc_fraction must be in (0, 1), got {exc_fraction}")
        self.exc_fraction = float(exc_fraction)

    def check(self, n: int) -> None:
        n_e = excitatory_count(n, self.exc_fraction)
        if not 0 < n_e < n:
            raise ValueError(f"connectivity.exc_fraction={self.exc_fraction} leaves an empty population "
                             f"at n_hidden={n}")

    def presynaptic_signs(self, n: int) -> Tensor:
        return dale_signs(n, self.exc_fraction)

    def structure(self, n: int, null: Tensor, generator: torch.Generator) -> Tensor:
        bound = 1.0 / n**0.5
        raw = torch.empty(n, n, dtype=null.dtype).uniform_(-bound, bound, generator=generator)
        n_e = excitatory_count(n, self.exc_fraction)
        raw[:, :n_e] /= n_e / (n - n_e)
        return raw.abs() * dale_mask(dale_signs(n, self.exc_fraction)).to(raw.dtype)
