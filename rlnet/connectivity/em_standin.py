"""A *synthetic stand-in* for the paper's EM connectivity (NOT MICrONS data; paper Fig. 2B).

The paper's matrix (198 proofread cells of the MICrONS V1 column between L2/3 and L4) cannot be
fetched here. This generator has published-order statistics so the pipeline can run end to end;
load the real matrix with :class:`rlnet.connectivity.em.EMConnectivity`'s ``path``.

``C[a, b]`` (presynaptic ``a``, postsynaptic ``b``): ``N = 198``, the first 80 % excitatory;
connection probability by (pre -> post) EE 0.10, EI 0.30, IE 0.40, II 0.40; synapses per connection
``1 + Poisson(m - 1)`` with ``m`` = 1.2 / 1.5 / 3.0 / 2.0; a log-normal volume per synapse
(``sigma_ln = 0.8``) summed over a connection's synapses; no autapses; ``-1`` for inhibitory rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

STANDIN_N = 198
# (pre, post) -> (connection probability, mean synapses per connection); E = 0, I = 1.
STANDIN_BLOCKS = {(0, 0): (0.10, 1.2), (0, 1): (0.30, 1.5), (1, 0): (0.40, 3.0), (1, 1): (0.40, 2.0)}
STANDIN_SIGMA_LN = 0.8


def synthetic_em_standin(n: int = STANDIN_N, exc_fraction: float = 0.8, seed: int = 0,
                         blocks: dict | None = None, sigma_ln: float = STANDIN_SIGMA_LN) -> tuple[Tensor, Tensor]:
    """Draw the stand-in; returns ``(C (n, n) float64, excitatory (n,) bool)``, ``C[pre, post]``.

    >>> C, excitatory = synthetic_em_standin(n=50)
    >>> C.shape, int(excitatory.sum()), bool((C[excitatory] >= 0).all() and (C[~excitatory] <= 0).all())
    (torch.Size([50, 50]), 40, True)
    """
    blocks = STANDIN_BLOCKS if blocks is None else blocks
    gen = torch.Generator().manual_seed(int(seed))
    n_e = round(exc_fraction * n)
    typ = (torch.arange(n) >= n_e).long()  # 0 = E, 1 = I
    prob = torch.empty(n, n, dtype=torch.float64)
    mean_syn = torch.empty(n, n, dtype=torch.float64)
    for (pre, post), (p, m) in blocks.items():
        sel = (typ[:, None] == pre) & (typ[None, :] == post)
        prob[sel], mean_syn[sel] = p, m
    connected = torch.rand(n, n, generator=gen, dtype=torch.float64) < prob
    connected.fill_diagonal_(False)
    n_syn = 1 + torch.poisson(mean_syn - 1, generator=gen)
    k_max = int(n_syn.max())
    vols = torch.exp(sigma_ln * torch.randn(n, n, k_max, generator=gen, dtype=torch.float64))
    vols = (vols * (torch.arange(k_max) < n_syn[..., None])).sum(-1)
    sign = torch.where(typ == 0, 1.0, -1.0).double()
    C = vols * connected * sign[:, None]
    return C, typ == 0
