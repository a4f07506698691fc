"""Chain motifs (Dahmen et al. 2020 S3.10; paper Fig. 2D): spectra and effective ranks of the over- and
under-represented structures against the null, no training.

    python scripts/chain_motif_spectra.py            # N = 100 and 300, 10 seeds, g = 1.25 and 1.5

For each matrix: the eigenvalue and singular-value effective ranks (paper Sec. 3), the two largest
|eigenvalues|, the measured chain statistic, and two predictions of the outlier pair that do not use
the generator: ``+-g sqrt(N rho)`` from the target chain correlation ``rho``, and ``+-sqrt(c . r / N)``
from the matrix itself (``r = W 1`` row sums, ``c = W^T 1`` column sums of the off-diagonal-centred
matrix: the eigenvalues of its rank-2 "degree" part ``(r 1^T + 1 c^T) / N``). Real for rho > 0,
imaginary for rho < 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rlnet.connectivity.chain_motifs import ChainMotifs
from rlnet.connectivity.null import Null
from rlnet.measures.motifs import centered_offdiagonal, motif_correlations


def eff_ranks(W: np.ndarray) -> tuple[float, float]:
    ev = np.abs(np.linalg.eigvals(W))
    sv = np.linalg.svd(W, compute_uv=False)
    n = W.shape[0]
    return float(ev.sum() / (ev.max() * n)), float(sv.sum() / (sv.max() * n))


def degree_pair(W: np.ndarray) -> complex:
    """Eigenvalue of the rank-2 degree part: +-sqrt(c . r / N) (imaginary when c . r < 0)."""
    X = centered_offdiagonal(torch.as_tensor(W)).numpy()
    n = X.shape[0]
    r, c = X.sum(1), X.sum(0)
    cr = float(c @ r) / n**2 * n  # eigenvalues of [[1.r, N], [c.r, c.1]] / N with 1.r = c.1 = 0
    return complex(math.sqrt(cr), 0) if cr >= 0 else complex(0, math.sqrt(-cr))


def main() -> None:
    for g in (1.25, 1.5):
        for n in (100, 300):
            print(f"\ng = {g}, N = {n}, 10 seeds: mean +- s.d.")
            print(f"{'structure':<22}{'eig eff rank':>16}{'sv eff rank':>16}{'|l1|, |l2|':>16}"
                  f"{'l1 (one seed)':>18}{'g sqrt(N rho)':>15}{'sqrt(c.r/N)':>14}{'rho_chn':>9}")
            for name, struct, rho in (("null", Null(g=g), 0.0),
                                      ("chain over (0.03)", ChainMotifs(0.03, g=g), 0.015),
                                      ("chain under (-0.1)", ChainMotifs(-0.1, g=g), -0.05)):
                er, sr, l12, pred_deg, chain = [], [], [], [], []
                first = None
                for seed in range(10):
                    W = struct(n, torch.Generator().manual_seed(seed)).double().numpy()
                    e, s = eff_ranks(W)
                    ev = np.linalg.eigvals(W)
                    ev = ev[np.argsort(-np.abs(ev))]
                    er.append(e), sr.append(s), l12.append((abs(ev[0]), abs(ev[1])))
                    pred_deg.append(abs(degree_pair(W)))
                    chain.append(motif_correlations(torch.as_tensor(W))["chain"])
                    first = first if first is not None else ev[0]
                l12a = np.array(l12)
                pred = g * math.sqrt(n * abs(rho))
                print(f"{name:<22}{np.mean(er):>9.3f} +- {np.std(er, ddof=1):.3f}{np.mean(sr):>9.3f} +- "
                      f"{np.std(sr, ddof=1):.3f}{l12a[:, 0].mean():>9.2f}, {l12a[:, 1].mean():.2f}"
                      f"{first.real:>+9.2f}{first.imag:+.2f}i{pred:>15.2f}{np.mean(pred_deg):>14.2f}"
                      f"{np.mean(chain):>+9.4f}")


if __name__ == "__main__":
    main()
