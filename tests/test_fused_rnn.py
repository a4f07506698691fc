"""The fused C kernels of the RNN (rlnet/nets/_fused_rnn.c): built here, and equal to two independent
computations, float64 autograd of the per-step reference (``rnn_forward``) and rlnet's torch BPTT."""

from __future__ import annotations

import pytest
import torch
from conftest import KERNELS_EXPECTED as HERE
from conftest import needs_kernels, require_kernels

from rlnet.nets import bptt, fused
from rlnet.nets.bptt import rnn_sequence
from rlnet.nets.rnn import leak_and_gain, rnn_forward


@pytest.fixture
def torch_path(monkeypatch):
    """Force rlnet's torch BPTT (what runs where the kernels cannot)."""
    monkeypatch.setattr(bptt, "_fused_library", lambda tensors, need: None)


def _weights(E: int, N: int, I: int, O: int, seed: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    W_h = torch.randn(E, N, N, generator=g) * 1.2 / N**0.5
    W_x = torch.randn(E, N, I, generator=g)
    W_o = torch.randn(E, O, N, generator=g) / N**0.5
    return [w.to(dtype) for w in (W_h, W_x, W_o)]


def _run(f, W, x, cy, cR, disc: str, leak: float, gain: float):
    """Outputs and gradients of ``sum(y * cy) + sum(R * cR)`` (``None`` weights drop that term)."""
    W = [w.detach().clone().requires_grad_() for w in W]
    y, R = f(*W, x, leak=leak, gain=gain, discretization=disc)
    loss = 0.0
    if cy is not None:
        loss = loss + (y * cy.to(y.dtype)).sum()
    if cR is not None:
        loss = loss + (R * cR.to(R.dtype)).sum()
    grads = torch.autograd.grad(loss, W, allow_unused=True)
    grads = [torch.zeros_like(w) if gr is None else gr for w, gr in zip(W, grads)]
    return [y.detach(), R.detach(), *grads]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


def test_library_builds_where_it_must() -> None:
    """With AVX-512 and a C compiler the kernels build (a failure fails here, with the compiler's
    message); without them ``library()`` is ``None`` and rlnet runs its torch BPTT."""
    if HERE:
        require_kernels()
    else:
        assert fused.library() is None


CASES = [
    # E, T, B, N, I, O, discretization, dt, shared x, use y, use R
    (3, 8, 32, 300, 3, 3, "euler", 100.0, True, True, False),  # the figures' shape: dt = tau
    (2, 8, 32, 64, 7, 3, "euler", 100.0, False, True, True),  # CXT's 7 inputs, per-member x, R used
    (2, 5, 7, 37, 4, 2, "euler", 20.0, True, True, True),  # leak: every edge of the tiles
    (2, 6, 70, 29, 20, 5, "exponential", 20.0, False, True, True),  # batch > 32, 20 inputs
    (2, 4, 9, 40, 3, 3, "exponential", 100.0, True, False, True),  # only R used: no gy
    (2, 1, 5, 20, 3, 2, "exponential", 30.0, False, True, False),  # one step: no recurrence
]


@needs_kernels
@pytest.mark.parametrize("E,T,B,N,I,O,disc,dt,shared,use_y,use_R", CASES)
def test_fused_matches_float64_autograd_and_torch_path(E, T, B, N, I, O, disc, dt, shared, use_y, use_R,
                                                       monkeypatch) -> None:
    leak, gain = leak_and_gain(disc, dt, 100.0)
    W = _weights(E, N, I, O, seed=T * N + B)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*(() if shared else (E,)), T, B, I, generator=g)
    cy = torch.randn(E, T, B, O, generator=g) if use_y else None
    cR = torch.randn(E, T, B, N, generator=g) if use_R else None
    require_kernels()
    assert bptt._fused_library((*W, x), False) is not None  # the kernels run below
    got = _run(rnn_sequence, W, x, cy, cR, disc, leak, gain)
    ref = _run(rnn_forward, [w.double() for w in W], x.double(), cy, cR, disc, leak, gain)
    monkeypatch.setattr(bptt, "_fused_library", lambda tensors, need: None)
    torch_bptt = _run(rnn_sequence, W, x, cy, cR, disc, leak, gain)
    names = ["y", "R", "dW_h", "dW_x", "dW_o"]
    for name, a, b, c in zip(names, got, ref, torch_bptt):
        assert a.shape == b.shape, name
        if name == "dW_h" and T == 1:
            assert a.abs().max() == 0 and b.abs().max() == 0  # W_h never acts in a single step
            continue
        if name == "dW_o" and not use_y:
            assert a.abs().max() == 0
            continue
        assert _rel(a, b) < 1e-5, (name, _rel(a, b))
        assert _rel(a, c) < 1e-5, (name, _rel(a, c))


@needs_kernels
@pytest.mark.parametrize(("disc", "dt"), [("euler", 100.0), ("euler", 20.0), ("exponential", 20.0)])
def test_members_are_independent_of_the_ensemble_and_of_threads(disc: str, dt: float) -> None:
    """Member e computed alone, in an ensemble, and with members split over two threads: identical
    bits, on the relu-in-registers path (dt = tau) and the leaky ones (Fig. 12's dt = 20)."""
    W = _weights(5, 44, 3, 3, seed=3)  # N = 44: a masked column edge
    x = torch.randn(8, 16, 3)
    cy = torch.randn(5, 8, 16, 3)
    leak, gain = leak_and_gain(disc, dt, 100.0)
    together = _run(rnn_sequence, W, x, cy, None, disc, leak, gain)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        threaded = _run(rnn_sequence, W, x, cy, None, disc, leak, gain)
    finally:
        torch.set_num_threads(old)
    for a, b in zip(together, threaded):
        assert torch.equal(a, b)
    for e in (0, 3):
        alone = _run(rnn_sequence, [w[e:e + 1] for w in W], x, cy[e:e + 1], None, disc, leak, gain)
        for a, b in zip(alone, together):
            assert torch.equal(a[0], b[e])


@needs_kernels
def test_input_gradient_falls_back_to_the_torch_path() -> None:
    W = _weights(2, 24, 3, 3, seed=5)
    x = torch.randn(2, 6, 4, 3, requires_grad=True)
    assert bptt._fused_library((*W, x), True) is None
    W = [w.requires_grad_() for w in W]
    y, _ = rnn_sequence(*W, x, leak=0.0, gain=1.0)
    (gx,) = torch.autograd.grad(y.square().sum(), [x])
    xd = x.detach().double().requires_grad_()
    y2, _ = rnn_forward(*[w.detach().double() for w in W], xd, leak=0.0, gain=1.0)
    (gx2,) = torch.autograd.grad(y2.square().sum(), [xd])
    assert _rel(gx, gx2) < 1e-5


@needs_kernels
def test_a_non_finite_member_stays_visible_as_in_torch(monkeypatch) -> None:
    """relu(NaN) is NaN in torch: a diverging member must show non-finite outputs and gradients
    (the divergence check relies on it), not a silently clipped 0, and leave the others untouched."""
    W = _weights(3, 40, 3, 3, seed=7)
    W[0][1, 5, 7] = float("nan")
    W[0][2, 3, 4] = float("inf")
    x = torch.randn(8, 16, 3).abs()
    cy = torch.randn(3, 8, 16, 3)
    got = _run(rnn_sequence, W, x, cy, None, "euler", 0.0, 1.0)
    with monkeypatch.context() as m:
        m.setattr(bptt, "_fused_library", lambda tensors, need: None)
        ref = _run(rnn_sequence, W, x, cy, None, "euler", 0.0, 1.0)
    for a, b in zip(got, ref):
        assert torch.equal(torch.isfinite(a), torch.isfinite(b))
        assert not torch.isfinite(a[1:]).all() and torch.isfinite(a[0]).all()
        assert _rel(a[0], b[0]) < 1e-5


@needs_kernels
@pytest.mark.parametrize("M,Nc,K", [(300, 32, 300), (300, 300, 224), (7, 5, 3), (13, 305, 40), (300, 33, 1)])
def test_product_and_transpose_kernels(M: int, Nc: int, K: int) -> None:
    lib = require_kernels()
    A, B = torch.randn(M, K, dtype=torch.float64), torch.randn(K, Nc, dtype=torch.float64)
    ref, b = A @ B, B.float()
    for MR, NV in [(12, 2), (8, 3), (6, 4), (1, 1)]:
        for trans in (0, 1):
            a = (A.T.contiguous() if trans else A).float()
            C = torch.empty(M, Nc)
            lib.rlnet_gemm(M, Nc, K, a.data_ptr(), b.data_ptr(), C.data_ptr(), MR, NV, trans)
            assert _rel(C, ref) < 1e-5
    src = torch.randn(M, Nc)
    dst = torch.empty(Nc, M)
    lib.rlnet_transpose(M, Nc, src.data_ptr(), dst.data_ptr())
    assert torch.equal(dst, src.T)


def test_build_cache_and_fallbacks(tmp_path, monkeypatch) -> None:
    """Built into the user cache once; ``RLNET_FUSED=0`` or a missing compiler give the torch path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        fused.library.cache_clear()
        monkeypatch.setenv("RLNET_FUSED", "0")
        assert fused.library() is None
        fused.library.cache_clear()
        monkeypatch.setenv("RLNET_FUSED", "1")
        monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
        assert fused.library() is None
        fused.library.cache_clear()
        monkeypatch.delenv("CC")
        lib = fused.library()
        if HERE:
            assert lib is not None
            assert len(list((tmp_path / "rlnet").glob("fused_rnn-*.so"))) == 1
        else:
            assert lib is None
    finally:
        monkeypatch.undo()
        fused.library.cache_clear()


def test_concurrent_calls_from_threads_agree(monkeypatch) -> None:
    """Both paths keep scratch per thread: backward passes running at once in two threads give the
    gradients each gives alone."""
    from concurrent.futures import ThreadPoolExecutor

    W = _weights(4, 64, 3, 3, seed=11)
    xs = [torch.randn(8, 16, 3, generator=torch.Generator().manual_seed(s)) for s in range(2)]
    cy = torch.randn(4, 8, 16, 3)
    for force_torch in (False, True):
        with monkeypatch.context() as m:
            if force_torch:
                m.setattr(bptt, "_fused_library", lambda tensors, need: None)
            alone = [_run(rnn_sequence, W, x, cy, None, "euler", 0.0, 1.0) for x in xs]
            for _ in range(3):
                with ThreadPoolExecutor(2) as pool:
                    both = list(pool.map(lambda x: _run(rnn_sequence, W, x, cy, None, "euler", 0.0, 1.0), xs))
                for a, b in zip(alone, both):
                    for u, v in zip(a, b):
                        assert torch.equal(u, v)
