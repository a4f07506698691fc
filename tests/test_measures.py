"""Alignment, weight change and effective-rank measures against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlnet.measures.alignment import (
    alignment,
    centered_alignment,
    kernel_alignment,
    label_alignment,
    representation_alignment,
    task_alignment,
)
from rlnet.measures.effective_rank import (
    eigenvalue_effective_rank,
    kernel_effective_rank,
    singular_value_effective_rank,
)
from rlnet.measures.weights import sign_similarity, weight_change_norm


def random_psd(m: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, 2 * m, generator=g, dtype=torch.float64)
    return A @ A.T


def test_kernel_alignment_with_itself_is_one():
    K = random_psd(20, 0)
    assert kernel_alignment(K, K).item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("a, b", [(3.0, 1.0), (1.0, 1e-3), (250.0, 7.0)])
def test_alignment_invariant_to_scaling_either_kernel(a, b):
    K1, K2 = random_psd(15, 1), random_psd(15, 2)
    ref = kernel_alignment(K1, K2).item()
    assert kernel_alignment(a * K1, b * K2).item() == pytest.approx(ref, rel=1e-12)
    assert 0 < ref < 1


def test_alignment_matches_numpy_trace_formula():
    K1, K2 = random_psd(12, 3), random_psd(12, 4)
    a, b = K1.numpy(), K2.numpy()
    expected = np.trace(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))
    assert alignment(K1, K2).item() == pytest.approx(expected, rel=1e-12)


def test_alignment_batched_over_members():
    Ks = torch.stack([random_psd(8, s) for s in range(3)])
    Ls = torch.stack([random_psd(8, 10 + s) for s in range(3)])
    batched = alignment(Ks, Ls)
    assert batched.shape == (3,)
    for e in range(3):
        assert batched[e].item() == pytest.approx(alignment(Ks[e], Ls[e]).item(), rel=1e-12)


def test_alignment_of_a_member_is_its_value_alone_to_the_bit():
    """A packed run's KA equals the run's alone: the same bits for a member of 4 (of 320 x 320
    kernels, the tracked sMNIST size), alone, and in an ensemble of one."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 320, 320, generator=g, dtype=torch.float64)
    B = A + 0.1 * torch.randn(4, 320, 320, generator=g, dtype=torch.float64)
    batched = alignment(A, B)
    for e in range(4):
        assert torch.equal(alignment(A[e], B[e]), batched[e])
        assert torch.equal(alignment(A[e:e + 1], B[e:e + 1])[0], batched[e])
    assert alignment(A.reshape(2, 2, 320, 320), B.reshape(2, 2, 320, 320)).shape == (2, 2)


def test_representation_alignment_is_alignment_of_grams():
    g = torch.Generator().manual_seed(5)
    H0, Hf = torch.randn(30, 7, generator=g, dtype=torch.float64), torch.randn(30, 7, generator=g, dtype=torch.float64)
    R0, Rf = H0 @ H0.T, Hf @ Hf.T
    expected = np.trace(Rf.numpy() @ R0.numpy()) / (np.linalg.norm(Rf.numpy()) * np.linalg.norm(R0.numpy()))
    assert representation_alignment(Hf, H0).item() == pytest.approx(expected, rel=1e-10)
    # A rotation of the feature space leaves the Gram matrix, hence RA, unchanged.
    Q, _ = torch.linalg.qr(torch.randn(7, 7, generator=g, dtype=torch.float64))
    assert representation_alignment(H0 @ Q, H0).item() == pytest.approx(1.0, abs=1e-12)


def test_weight_change_norm_and_sign_similarity():
    W0 = torch.zeros(2, 3, 3)
    Wf = W0.clone()
    Wf[0, 0, 0] = 3.0
    Wf[0, 1, 1] = 4.0
    assert weight_change_norm(Wf, W0, member_dims=1).tolist() == pytest.approx([5.0, 0.0])
    r0 = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    rf = torch.tensor([[0.5, 1.0, 2.0, 0.0]])
    assert sign_similarity(rf, r0, member_dims=1).item() == pytest.approx(0.75)


def test_effective_ranks():
    # A rank-1 matrix has relative effective rank 1/N; a scaled identity has 1.
    u = torch.randn(10, 1, dtype=torch.float64)
    assert eigenvalue_effective_rank(u @ u.T).item() == pytest.approx(0.1, rel=1e-6)
    assert singular_value_effective_rank(u @ u.T).item() == pytest.approx(0.1, rel=1e-6)
    assert eigenvalue_effective_rank(2 * torch.eye(10)).item() == pytest.approx(1.0)
    K = random_psd(9, 6)
    ev = np.linalg.eigvalsh(K.numpy())
    assert kernel_effective_rank(K).item() == pytest.approx(ev.sum() / ev.max(), rel=1e-10)


def test_task_and_centered_alignment():
    y = torch.randn(6, dtype=torch.float64)
    K = torch.outer(y, y)
    # A kernel that is the task's own outer product is perfectly task aligned: y^T K y / (|y|^2 Tr K) = 1.
    assert task_alignment(K, y).item() == pytest.approx(1.0)
    assert task_alignment(torch.eye(6, dtype=torch.float64), y).item() == pytest.approx(1 / 6)
    K1 = random_psd(8, 7)
    C = torch.eye(8, dtype=torch.float64) - 1 / 8
    expected = alignment(C @ K1 @ C, C @ random_psd(8, 8) @ C).item()
    assert centered_alignment(K1, random_psd(8, 8)).item() == pytest.approx(expected, rel=1e-10)


def test_label_alignment_closed_form_equals_centring_explicitly():
    """The O(M^2) closed form against C K C and C yy^T C built with the centring matrix, for a
    batch of kernels and +-1 and real-valued labels."""
    gen = torch.Generator().manual_seed(3)
    for M in (5, 24):
        K = torch.stack([random_psd(M, M + e) for e in range(3)])
        for y in (torch.randn(3, M, generator=gen, dtype=torch.float64),
                  torch.randint(0, 2, (3, M), generator=gen).double() * 2 - 1):
            C = torch.eye(M, dtype=torch.float64) - 1.0 / M
            want = [alignment(C @ K[e] @ C, C @ torch.outer(y[e], y[e]) @ C).item() for e in range(3)]
            got = label_alignment(K, y)
            assert got.tolist() == pytest.approx(want, rel=1e-10)
            assert got.tolist() == pytest.approx(
                centered_alignment(K, y[:, :, None] * y[:, None, :]).tolist(), rel=1e-10)
