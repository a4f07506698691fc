"""Input and readout weights: PyTorch's ``nn.Linear`` default initialisation, as in the authors' code."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def torch_default_linear_(w: Tensor, generator: torch.Generator) -> Tensor:
    """Fill ``w`` in place with PyTorch's ``nn.Linear`` default (the authors' code for input and
    readout weights, App. C.2): ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in = w.shape[-1]``.

    >>> import torch
    >>> w = torch_default_linear_(torch.empty(3, 16), torch.Generator().manual_seed(0))
    >>> bool(w.abs().max() <= 0.25)
    True
    """
    bound = 1.0 / math.sqrt(w.shape[-1])
    with torch.no_grad():
        return w.uniform_(-bound, bound, generator=generator)
