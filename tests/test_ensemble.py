"""Ensembles and the hand-written backward through time."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from rlnet.callbacks.laziness import LazinessCallback
from rlnet.connectivity import Null, SVDRank
from rlnet.data import NeurogymDataModule
from rlnet.models import RNNModule
from rlnet.nets import fused
from rlnet.nets.bptt import rnn_sequence
from rlnet.nets.rnn import RNN, leak_and_gain, rnn_forward

CASES = [("euler", 100.0), ("euler", 20.0), ("exponential", 100.0), ("exponential", 20.0)]


def _weights(E: int, N: int, I: int, O: int, dtype: torch.dtype, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    W_h = (torch.randn(E, N, N, generator=gen, dtype=dtype) * 1.3 / N**0.5).requires_grad_()
    W_x = torch.randn(E, N, I, generator=gen, dtype=dtype).requires_grad_()
    W_o = torch.randn(E, O, N, generator=gen, dtype=dtype).requires_grad_()
    return W_h, W_x, W_o


@pytest.mark.parametrize(("discretization", "dt"), CASES)
@pytest.mark.parametrize("shared_x", [True, False])
def test_bptt_matches_autograd(discretization: str, dt: float, shared_x: bool) -> None:
    """Outputs, rates and every gradient (with upstream gradients into y and r) agree with
    autograd through rnn_forward to float64 rounding."""
    leak, gain = leak_and_gain(discretization, dt, 100.0)
    E, T, B, N, I, O = 3, 7, 5, 16, 4, 3
    W = _weights(E, N, I, O, torch.float64)
    x = torch.randn(*(() if shared_x else (E,)), T, B, I, dtype=torch.float64, requires_grad=True)
    gy, gR = torch.randn(E, T, B, O, dtype=torch.float64), torch.randn(E, T, B, N, dtype=torch.float64)
    for use in ("both", "y", "r"):  # an unused output reaches the backward as None
        results = []
        for f in (rnn_forward, rnn_sequence):
            y, r = f(*W, x, leak=leak, gain=gain, discretization=discretization)
            loss = {"both": (y * gy).sum() + (r * gR).sum(), "y": (y * gy).sum(), "r": (r * gR).sum()}[use]
            grads = torch.autograd.grad(loss, [*W, x], allow_unused=True, materialize_grads=True)
            results.append((y, r, *grads))
        for a, b in zip(*results, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("discretization", "dt"), CASES)
def test_bptt_gradcheck(discretization: str, dt: float) -> None:
    leak, gain = leak_and_gain(discretization, dt, 100.0)
    W = _weights(2, 6, 2, 2, torch.float64, seed=1)
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c, d: rnn_sequence(a, b, c, d, leak=leak, gain=gain, discretization=discretization),
        (*W, x))


def test_bptt_float32_close_to_float64() -> None:
    """At the paper's size in float32 the weight gradient stays within float rounding of float64."""
    E, T, B, N, I, O = 2, 8, 32, 300, 3, 3
    W64 = _weights(E, N, I, O, torch.float64, seed=2)
    x = torch.randn(T, B, I, dtype=torch.float64)
    labels = torch.randint(0, O, (E * T * B,))
    grads = {}
    for dtype in (torch.float64, torch.float32):
        W = [w.detach().to(dtype).requires_grad_() for w in W64]
        y, _ = rnn_sequence(*W, x.to(dtype), leak=0.0, gain=1.0)
        loss = torch.nn.functional.cross_entropy(y.reshape(-1, O), labels)
        grads[dtype] = torch.autograd.grad(loss, W)
    for g32, g64 in zip(grads[torch.float32], grads[torch.float64], strict=True):
        assert (g32.double() - g64).norm() <= 1e-5 * g64.norm()


def test_rnn_module_uses_bptt_and_falls_back_under_torch_func() -> None:
    net = RNN(3, 8, 3, n_members=2)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(5, 4, 3)
    y, _ = net(x)
    assert type(y.grad_fn).__name__.startswith("RNNSequence")
    params = dict(net.named_parameters())
    # torch.func transforms take the generic autograd path (the custom Function has no vmap rule).
    g = torch.func.grad(lambda p: torch.func.functional_call(net, p, (x,))[0].sum())(params)
    y.sum().backward()
    for k, p in params.items():
        torch.testing.assert_close(g[k], p.grad, rtol=1e-5, atol=1e-6)


def test_connectivities_make_structure_major_members() -> None:
    conns = [SVDRank(rank=1), SVDRank(rank=4), Null()]
    m = RNNModule(n_hidden=8, connectivities=conns, seeds=[5, 6])
    assert m.n_members == 6
    assert m.seeds == [5, 6, 5, 6, 5, 6]
    ranks = [int(torch.linalg.matrix_rank(w, rtol=1e-5)) for w in m.net.W_h.detach()]
    assert ranks == [1, 1, 4, 4, 8, 8]
    for e, info in enumerate(m.member_info()):
        alone = RNNModule(n_hidden=8, connectivity=conns[e // 2], seed=m.seeds[e])
        assert torch.equal(alone.net.W_h[0], m.net.W_h[e])
        assert info["connectivity"] == conns[e // 2].params()
    with pytest.raises(ValueError, match="connectivities"):
        RNNModule(n_hidden=8, connectivities=[])
    with pytest.raises(ValueError, match="pairing"):
        RNNModule(n_hidden=8, connectivities=conns, seeds=[1, 2], pairing="zip")


def _fit(module: RNNModule, root, steps: int, clip: float | None = None) -> list[dict]:
    data = NeurogymDataModule(task="2af", batch_size=8, seed=11, n_probe=16, n_val=8)
    cb = LazinessCallback(kernel_trials=4, verbose=False)
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, callbacks=[cb], default_root_dir=root,
                        gradient_clip_val=clip)
    trainer.fit(module, datamodule=data)
    return json.loads(cb.metrics_path.read_text())["members"]


@pytest.mark.parametrize(("dt", "clip", "kernels"), [(100.0, None, True), (100.0, 0.05, True), (20.0, None, True),
                                                    (20.0, 0.05, True), (20.0, None, False)])
def test_three_members_together_equal_each_alone(tmp_path, monkeypatch, dt, clip, kernels) -> None:
    """Issue 8: an ensemble of three (different ranks and seeds) trains each member exactly as it
    would train alone: the same bits in the final weights and every measure (a sweep packed into
    ensembles changes no number). At dt = tau (the figures) and dt = 20 (Fig. 12: leak 0.8, the
    kernels' other path), and with gradient-norm clipping (0.05 clips these members' gradients at
    every step), which clips each member by its own norm. With the fused kernels where they run,
    and with the torch path (``kernels=False``: forward, backward and update without them)."""
    torch.set_num_threads(1)
    if not kernels:
        monkeypatch.setattr(fused, "library", lambda: None)
    conns, seeds, steps = [SVDRank(rank=2), SVDRank(rank=2), SVDRank(rank=24)], [3, 4, 3], 25
    together = RNNModule(n_input=3, n_output=3, n_hidden=24, connectivities=conns, seeds=seeds, pairing="zip", dt=dt)
    m_together = _fit(together, tmp_path / "together", steps, clip)
    for e in range(3):
        alone = RNNModule(n_input=3, n_output=3, n_hidden=24, connectivity=conns[e], seed=seeds[e], dt=dt)
        m_alone = _fit(alone, tmp_path / f"alone{e}", steps, clip)[0]
        for name in ("W_h", "W_x", "W_o"):
            assert torch.equal(getattr(together.net, name)[e], getattr(alone.net, name)[0]), name
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment",
                    "sign_similarity", "final_loss", "accuracy"):
            assert m_together[e][key] == m_alone[key], key
        assert m_together[e]["seed"] == m_alone["seed"]
        assert m_together[e]["connectivity"] == m_alone["connectivity"]


def test_clip_grad_norm_per_member_is_torch_clipping_member_by_member() -> None:
    """Each member's slices clipped as torch's ``clip_grad_norm_`` clips that member alone."""
    from rlnet.models.clipping import clip_grad_norm_per_member_

    g = torch.Generator().manual_seed(0)
    shapes, E = [(4, 5, 5), (4, 5, 3), (4, 2, 5)], 4
    scale = torch.tensor([0.01, 1.0, 10.0, 0.3]).reshape(-1, 1, 1)  # some under the limit, some over
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    alone = [[torch.nn.Parameter(p[e].detach().clone()) for p in params] for e in range(E)]
    for e in range(E):
        for a, p in zip(alone[e], params, strict=True):
            a.grad = p.grad[e].clone()
    norms = clip_grad_norm_per_member_(params, 1.0, E)
    for e in range(E):
        ref = torch.nn.utils.clip_grad_norm_(alone[e], 1.0)
        assert norms[e].item() == pytest.approx(ref.item(), rel=1e-6)
        for a, p in zip(alone[e], params, strict=True):
            torch.testing.assert_close(p.grad[e], a.grad, rtol=1e-6, atol=1e-7)
