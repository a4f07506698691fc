"""The foundation's initial structures: null, uniform and SVD rank r."""

from __future__ import annotations

import pytest
import torch

from rlnet.connectivity import REGISTRY, Null, SVDRank, Uniform, make, null_gaussian


@pytest.mark.parametrize("rank", [1, 5, 30, 100])
def test_svd_rank_exact_and_null_norm(rank):
    n, g, seed = 100, 1.5, 3
    W = SVDRank(rank=rank, g=g)(n, torch.Generator().manual_seed(seed))
    null = null_gaussian(n, g, torch.Generator().manual_seed(seed))
    # Numerical rank at float32 precision (the dtype of the weights).
    assert torch.linalg.matrix_rank(W).item() == rank
    s = torch.linalg.svdvals(W.double())
    assert (s[rank:] < 1e-5 * s[0]).all() and (s[:rank] > 1e-3 * s[0]).all()
    assert W.norm().item() == pytest.approx(null.norm().item(), rel=1e-5)
    # The kept directions are the null draw's top singular directions.
    U, _S, _Vh = torch.linalg.svd(null.double())
    P = U[:, :rank] @ U[:, :rank].T
    assert (P @ W.double() - W.double()).norm().item() < 1e-8 * W.norm().item() + 1e-6


def test_full_rank_svd_is_the_null_draw():
    gen = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    assert torch.allclose(SVDRank(rank=50)(50, gen()), Null()(50, gen()))


def test_null_statistics():
    n, g = 400, 1.5
    W = Null(g=g)(n, torch.Generator().manual_seed(0))
    assert W.var().item() == pytest.approx(g**2 / n, rel=0.02)
    U = Uniform(g=g, match_norm=False)(n, torch.Generator().manual_seed(0))
    assert U.abs().max().item() <= g / n**0.5
    assert U.var().item() == pytest.approx((g / n**0.5) ** 2 / 3, rel=0.02)


def test_registry_and_errors():
    assert {"null", "uniform", "svd"} <= set(REGISTRY)
    assert isinstance(make("svd", rank=2), SVDRank)
    with pytest.raises(ValueError, match="rank"):
        SVDRank(rank=301)(300)
    with pytest.raises(ValueError, match="unknown connectivity"):
        make("nope")
