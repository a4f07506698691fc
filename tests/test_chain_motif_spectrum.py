"""Chain motifs: the outlier pair of the chain-motif structures is the one their chain
statistic implies, computed without the generator.

For any matrix, the chain sum ``sum_{i,j,k} X_ij X_jk = c . r`` (``r = X 1``, ``c = X^T 1``, ``X`` the
off-diagonal-centred matrix), and the rank-2 "degree" part ``(r 1^T + 1 c^T) / N`` has the eigenvalues
``+-sqrt(c . r / N)`` = ``+-g sqrt(N rho_chn)``: a real pair for over-representation, an imaginary
pair for under-representation, outside the bulk (radius about g) once ``N |rho_chn| > 1``.
"""

import math

import numpy as np
import torch

from rlnet.connectivity.chain_motifs import ChainMotifs
from rlnet.connectivity.null import Null
from rlnet.measures.effective_rank import eigenvalue_effective_rank
from rlnet.measures.motifs import centered_offdiagonal


def degree_pair_magnitude(W: np.ndarray) -> tuple[float, float]:
    X = centered_offdiagonal(torch.as_tensor(W)).numpy()
    n = X.shape[0]
    cr = float(X.sum(0) @ X.sum(1)) / n
    return math.sqrt(abs(cr)), math.copysign(1.0, cr)


def test_under_represented_chains_give_an_imaginary_outlier_pair_set_by_the_chain_statistic():
    n, g = 100, 1.25
    for tau, real_pair in ((-0.1, False), (0.03, True)):
        for seed in range(3):
            W = ChainMotifs(tau, g=g)(n, torch.Generator().manual_seed(seed)).double().numpy()
            ev = np.linalg.eigvals(W)
            ev = ev[np.argsort(-np.abs(ev))]
            mag, sign = degree_pair_magnitude(W)
            assert (sign > 0) == real_pair
            null = Null(g=g)(n, torch.Generator().manual_seed(seed)).double()
            if real_pair:
                # N rho = 1.5: the pair (+-1.53) sits just outside the bulk's edge (about g), where the
                # bulk moves it by tens of per cent at N = 100; only its kind is checked: the largest is real.
                assert abs(ev[0].imag) < 1e-9
            else:  # N |rho| = 5: a conjugate pair on the imaginary axis, far outside the bulk
                assert abs(ev[0].imag) > 5 * abs(ev[0].real) and abs(ev[0] - ev[1].conjugate()) < 1e-9
                assert abs(abs(ev[0]) - mag) < 0.1 * mag
                assert abs(ev[0]) > 1.5 * float(np.abs(np.linalg.eigvals(null.numpy())).max())
                assert float(eigenvalue_effective_rank(torch.as_tensor(W))) < float(eigenvalue_effective_rank(null))
