"""Each initial structure delivers the statistics it promises (paper App. C.1, STRUCTURES.md)."""

from __future__ import annotations

import math

import pytest
import torch

from rlnet.connectivity import (
    REGISTRY,
    CellType,
    ChainMotifs,
    DaleBalanced,
    EMConnectivity,
    Null,
    SoftRank,
    SVDRank,
    make,
    null_gaussian,
    spectral_radius,
)
from rlnet.connectivity.cell_type import cell_type_gains
from rlnet.connectivity.dale import excitatory_count
from rlnet.measures.effective_rank import eigenvalue_effective_rank, singular_value_effective_rank
from rlnet.measures.motifs import chain_motif_tau, motif_correlations

torch.set_num_threads(1)  # small LAPACK calls: threads only contend on a busy machine


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def within_sampling_error(samples: list[float], target: float, z: float = 4.0) -> bool:
    t = torch.tensor(samples, dtype=torch.float64)
    se = t.std() / math.sqrt(len(t))
    return abs(float(t.mean()) - target) <= z * float(se)


ALL = [Null(), SVDRank(rank=3), SoftRank(k=2), CellType(), CellType(reading="B"), ChainMotifs(0.03),
       ChainMotifs(-0.1), DaleBalanced(), EMConnectivity(), EMConnectivity(shuffle="mask"),
       EMConnectivity(shuffle="all")]


def size(c) -> int:
    return 198 if isinstance(c, EMConnectivity) else 60


@pytest.mark.parametrize("c", ALL, ids=repr)
def test_seeded_and_frobenius_matched(c):
    n = size(c)
    w1, w2, w3 = c(n, gen(3)), c(n, gen(3)), c(n, gen(4))
    assert w1.shape == (n, n) and torch.equal(w1, w2)
    if not (isinstance(c, EMConnectivity) and c.shuffle == "none"):
        assert not torch.equal(w1, w3)  # the member's seed matters (the EM matrix itself is fixed)
    # Default normalisation: the Frobenius norm of the null draw of the same generator.
    ref = null_gaussian(n, c.g, gen(3))
    assert torch.allclose(w1.norm(), ref.norm(), rtol=1e-5)


@pytest.mark.parametrize("c", ALL, ids=repr)
def test_eigenvalue_normalisation_matches_spectral_radius(c):
    kw = {k: v for k, v in vars(c).items() if not k.startswith("_") and k not in ("normalize", "source")}
    ce = type(c)(**{**kw, "normalize": "eigenvalue"})
    n = size(c)
    w = ce(n, gen(5))
    ref = null_gaussian(n, c.g, gen(5))
    assert torch.allclose(spectral_radius(w), spectral_radius(ref), rtol=1e-4)
    # Same structure, different scale: proportional to the Frobenius-normalised matrix.
    wf = c(n, gen(5))
    assert torch.allclose(w / w.norm(), wf / wf.norm(), atol=1e-6)


def test_no_normalisation_keeps_the_structures_own_scale():
    n = 50
    w = CellType(match_norm=False, g=1.5)(n, gen(0))
    Z = null_gaussian(n, 1.5, gen(0)) / 1.5
    assert torch.allclose(w, cell_type_gains(n, 0.02, 10, 0.8, "A").float() * Z, atol=1e-6)
    assert torch.equal(CellType(normalize="none", g=1.5)(n, gen(0)), w)
    with pytest.raises(ValueError, match="normalize"):
        Null(normalize="spectral")


def test_registry_names():
    assert {"null", "uniform", "svd", "soft_rank", "cell_type", "chain_motifs", "dale", "em"} <= set(REGISTRY)
    assert isinstance(make("chain_motifs", tau_chn=-0.1), ChainMotifs)


# ---- soft rank (Fig. 8) ---------------------------------------------------------------------
@pytest.mark.parametrize("k", [0.0, 1.0, 3.0])
def test_soft_rank_singular_values_follow_the_power_law(k):
    n = 40
    s = torch.linalg.svdvals(SoftRank(k=k)(n, gen(1)).double())
    expected = (1 - torch.arange(n, dtype=torch.float64) / n) ** k
    assert torch.allclose(s / s[0], expected, atol=1e-5)


def test_soft_rank_effective_rank_falls_with_k():
    ranks = [float(eigenvalue_effective_rank(SoftRank(k=k, g=1.5)(100, gen(2)))) for k in (0.5, 1, 2, 4)]
    assert ranks == sorted(ranks, reverse=True)


# ---- cell types (Aljadeff et al. 2015) ------------------------------------------------------
@pytest.mark.parametrize("reading", ["A", "B"])
def test_cell_type_block_variances(reading):
    n, alpha, gamma, rest = 300, 0.02, 10.0, 0.8
    n1 = round(alpha * n)
    W = CellType(reading=reading, match_norm=False, g=1.5)(n, gen(7)).double()
    blocks = {"11": W[:n1, :n1], "1r": W[:n1, n1:], "r1": W[n1:, :n1], "rr": W[n1:, n1:]}
    high = {"A": {"11", "1r", "r1"}, "B": {"11", "r1"}}[reading]  # "r1" = from population 1 to the rest
    for name, b in blocks.items():
        target = (gamma if name in high else rest) ** 2 / n
        var = b.pow(2).mean()  # zero-mean entries
        se = var * math.sqrt(2 / b.numel())
        assert abs(float(var) - target) <= 4 * float(se), (name, float(var), target)


# ---- chain motifs (Dahmen et al. 2020) -------------------------------------------------------
@pytest.mark.parametrize(("tau", "convention"), [(0.03, "dahmen"), (-0.1, "dahmen"), (-0.1, "correlation")])
def test_chain_motif_statistics(tau, convention):
    n = 100
    c = ChainMotifs(tau, tau_convention=convention, g=1.5)
    rho = tau / 2 if convention == "dahmen" else tau
    stats = [motif_correlations(c(n, gen(s))) for s in range(24)]
    assert within_sampling_error([d["chain"] for d in stats], rho)
    assert within_sampling_error([d["convergent"] for d in stats], abs(rho))
    assert within_sampling_error([d["divergent"] for d in stats], abs(rho))
    assert within_sampling_error([d["reciprocal"] for d in stats], 0.0)
    assert all(torch.all(c(n, gen(s)).diagonal() == 0) for s in range(2))


def test_dahmen_tau_is_twice_the_chain_correlation():
    W = ChainMotifs(0.03)(30, gen(0))
    n = W.shape[0]
    assert math.isclose(chain_motif_tau(W), 2 * motif_correlations(W)["chain"] * (n - 2) / (n - 1), rel_tol=1e-9)


def test_null_has_no_motifs():
    stats = [motif_correlations(Null()(80, gen(s))) for s in range(16)]
    for key in ("chain", "convergent", "divergent", "reciprocal"):
        # Off-diagonal mean removal biases each estimate by O(1/N^2); well inside 4 SE at N = 80.
        assert within_sampling_error([d[key] for d in stats], 0.0), key


def test_chain_rejects_impossible_correlation():
    with pytest.raises(ValueError, match="tau_chn"):
        ChainMotifs(0.6)


# ---- Dale's law, balanced (Yang & Wang 2020) ---------------------------------------------------
def test_dale_sign_pattern_and_balance():
    n = 200
    c = DaleBalanced(g=1.5)
    n_e = excitatory_count(n, 0.8)
    row_sums, e_in, i_in = [], [], []
    for s in range(5):
        W = c(n, gen(s)).double()
        assert torch.all(W.diagonal() == 0)
        off = ~torch.eye(n, dtype=torch.bool)
        assert torch.all(W[:, :n_e][off[:, :n_e]] > 0) and torch.all(W[:, n_e:][off[:, n_e:]] < 0)
        assert torch.equal(c.presynaptic_signs(n), torch.where(torch.arange(n) < n_e, 1.0, -1.0))
        row_sums.append(W.sum(1))
        e_in.append(W[:, :n_e].sum(1))
        i_in.append(W[:, n_e:].sum(1))
    # Expected E and I input cancel: the mean row sum is 0 within sampling error.
    assert within_sampling_error(torch.cat(row_sums).tolist(), 0.0)
    # ... while each is far from 0: the balance is between two large inputs.
    e, i = torch.cat(e_in), torch.cat(i_in)
    assert float(e.mean()) > 10 * float(e.std()) / len(e) ** 0.5 and float(i.mean()) < 0


def test_dale_rejects_empty_population():
    with pytest.raises(ValueError, match="exc_fraction"):
        DaleBalanced(exc_fraction=0.99)(20)


# ---- every biological structure has a lower effective rank than the null (Fig. 2, 16) ---------
@pytest.mark.parametrize(("c", "n"), [(CellType(g=1.5), 300), (CellType(reading="B", g=1.5), 300),
                                      (ChainMotifs(0.03, g=1.5), 100), (ChainMotifs(-0.1, g=1.5), 100),
                                      (DaleBalanced(g=1.5), 300), (EMConnectivity(g=1.5), 198)], ids=repr)
def test_biological_structures_have_lower_effective_rank_than_null(c, n):
    for s in range(3):
        w, w0 = c(n, gen(s)), Null(g=1.5)(n, gen(s))
        assert eigenvalue_effective_rank(w) < eigenvalue_effective_rank(w0)
        assert singular_value_effective_rank(w) < singular_value_effective_rank(w0)
