"""Dale's law kept during training (paper Fig. 17) by projection after every optimiser step.

Each presynaptic neuron ``j`` has a sign ``s_j`` (+1 excitatory, -1 inhibitory). After each step
the recurrent weights are projected onto the sign-constrained set,
``W_ij <- s_j max(s_j W_ij, 0)``, diagonal 0, which is the Euclidean projection (the closest matrix
that obeys the law). This is the projected-gradient counterpart of Yang & Wang's parameterisation
``W = |W_raw| * mask``: both keep every weight on its neuron's side of zero; a weight pushed across
zero stops at 0 here instead of bouncing back with the opposite raw sign.

``readout='excitatory'`` reads out from excitatory units only (Yang & Wang's notebook): the readout
columns of inhibitory units are held at 0, exactly as if they did not exist (SGD with momentum never
lets a zeroed coordinate influence the others). ``readout='all'`` (the paper's code) reads all units.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor


@torch.no_grad()
def project_dale_(W_h: Tensor, signs: Tensor, zero_diagonal: bool = True) -> Tensor:
    """In place: ``W[..., i, j] <- s_j max(s_j W_ij, 0)``; ``signs`` is ``(N,)`` or ``(E, N)``."""
    s = signs.to(W_h.dtype)
    s = s.view(*([1] * (W_h.dim() - 2)), 1, -1) if s.dim() == 1 else s.unsqueeze(-2)
    W_h.copy_(s * torch.clamp(s * W_h, min=0))
    if zero_diagonal:
        W_h.diagonal(dim1=-2, dim2=-1).zero_()
    return W_h


@torch.no_grad()
def excitatory_readout_(W_o: Tensor, signs: Tensor) -> Tensor:
    """In place: zero the readout columns of inhibitory units (``signs < 0``)."""
    s = signs.to(W_o.device)
    mask = (s > 0).to(W_o.dtype)
    mask = mask.view(*([1] * (W_o.dim() - 2)), 1, -1) if s.dim() == 1 else mask.unsqueeze(-2)
    W_o.mul_(mask)
    return W_o


def infer_presynaptic_signs(W_h: Tensor) -> Tensor:
    """``(..., N)`` column signs of ``W_h[..., post, pre]``; ``ValueError`` if a column mixes signs.
    A column with no non-zero entry counts as excitatory."""
    pos, neg = (W_h > 0).any(-2), (W_h < 0).any(-2)
    if (pos & neg).any():
        raise ValueError("model.dale needs an initial W_h with one sign per presynaptic neuron "
                         "(e.g. connectivity DaleBalanced or unshuffled EMConnectivity)")
    return torch.where(neg, -1.0, 1.0).to(W_h.dtype)


class DaleConstraint:
    """Keep Dale's law during training (Fig. 17).

    Args:
        readout: ``'all'`` units (the paper's code) or ``'excitatory'`` units only (Yang & Wang).
        zero_diagonal: keep self-connections at 0 (the Dale structure has none).
    """

    def __init__(self, readout: Literal["all", "excitatory"] = "all", zero_diagonal: bool = True) -> None:
        if readout not in ("all", "excitatory"):
            raise ValueError(f"model.dale.readout must be 'all' or 'excitatory', got {readout!r}")
        self.readout, self.zero_diagonal = readout, bool(zero_diagonal)

    @torch.no_grad()
    def apply_(self, W_h: Tensor, W_o: Tensor, signs: Tensor) -> None:
        """Project ``W_h`` (and, for an excitatory readout, ``W_o``) in place."""
        project_dale_(W_h, signs, self.zero_diagonal)
        if self.readout == "excitatory":
            excitatory_readout_(W_o, signs)

    def params(self) -> dict:
        return {"readout": self.readout, "zero_diagonal": self.zero_diagonal}

    def __repr__(self) -> str:
        return f"DaleConstraint(readout={self.readout!r}, zero_diagonal={self.zero_diagonal})"
