"""MemberSGD (rlnet/models/member_sgd.py): the C pass (update + divergence check) against torch's SGD
and against the torch fallback; frozen members; threads; checkpoints; the RNN module's use of it."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
from conftest import KERNELS_EXPECTED, NO_KERNELS_REASON, needs_kernels, require_kernels

from rlnet.data import NeurogymDataModule
from rlnet.models import RNNModule, divergence
from rlnet.models.member_sgd import MemberSGD
from rlnet.nets import fused

E = 5
SHAPES = [(E, 37, 19), (E, 3), (E, 16, 2)]  # tails of 13 and 3 lanes, a 1-d slice, whole vectors



@pytest.fixture(autouse=True)
def _kernels_built_where_they_must():
    """Where the kernels must build, a test of the C pass fails (never skips) if they did not."""
    if KERNELS_EXPECTED:
        require_kernels()


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in SHAPES]


def _grads(params, step: int) -> None:
    g = torch.Generator().manual_seed(100 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)


def _run(opt_factory, steps: int = 4, poison: dict | None = None, alive: torch.Tensor | None = None):
    """Steps of an optimiser over fixed random gradients; with ``alive`` every step runs the check.
    ``poison``: {step: (param index, member, value)} written into a gradient."""
    params = _params()
    opt = opt_factory(params)
    results = []
    for s in range(steps):
        _grads(params, s)
        if poison and s in poison:
            i, e, v = poison[s]
            params[i].grad[e].view(-1)[:2] = v  # two entries: 2 x 3e38 overflows float32
        if alive is not None:
            opt.check_next_step(alive, results.append)
        opt.step()
    bufs = [opt.state[p]["momentum_buffer"].clone() for p in params if "momentum_buffer" in opt.state[p]]
    return [p.detach().clone() for p in params], [p.grad.clone() for p in params], bufs, results


@needs_kernels
@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_fused_pass_equals_torch_sgd(momentum):
    """With every member finite, the C pass is torch's SGD. The roundings are those of torch's vector
    path (the momentum as a product then a sum, the step as one fma), so every float that torch
    handles 16 at a time agrees in every bit; torch's scalar path for the last ``numel % 16`` floats
    of a tensor rounds the step without the fma: there, one float32 ulp."""
    factory = lambda p: torch.optim.SGD(p, lr=0.05, momentum=momentum, fused=True)  # noqa: E731
    ref = _run(factory)
    got = _run(lambda p: MemberSGD(p, lr=0.05, momentum=momentum, n_members=E), alive=torch.ones(E, dtype=torch.bool))
    pairs = list(zip(ref[0], got[0], strict=True)) + (list(zip(ref[2], got[2], strict=True)) if momentum else [])
    for a, b in pairs:
        assert torch.allclose(a, b, rtol=2.4e-7, atol=1e-7)
        vec = a.numel() // 16 * 16
        assert torch.equal(a.flatten()[:vec], b.flatten()[:vec])
    assert all(r.tolist() == [True] * E for r in got[3])


@needs_kernels
def test_fused_check_equals_torch_fallback(monkeypatch):
    """A NaN, an inf and an overflowing sum in three members' gradients, a member already dead: the C
    pass and the torch ops (check, zero, torch's SGD) agree on the verdict, weights, gradients and
    momentum."""
    poison = {1: (0, 1, float("nan")), 2: (1, 3, float("inf")), 3: (2, 2, 3e38)}
    alive = torch.tensor([True, True, True, True, False])
    fused_run = _run(lambda p: MemberSGD(p, lr=0.05, momentum=0.9, n_members=E), poison=poison, alive=alive)
    monkeypatch.setattr(fused, "library", lambda: None)
    torch_run = _run(lambda p: MemberSGD(p, lr=0.05, momentum=0.9, n_members=E), poison=poison, alive=alive)
    for a, b in zip(fused_run[3], torch_run[3], strict=True):
        assert torch.equal(a, b)
    assert [r.tolist() for r in fused_run[3]][1:] == [[True, False, True, True, True], [True, True, True, False, True],
                                                      [True, True, False, True, True]]
    for a, b in zip(fused_run[0] + fused_run[1] + fused_run[2], torch_run[0] + torch_run[1] + torch_run[2],
                    strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)
        assert torch.equal(torch.isnan(a), torch.isnan(b))


@pytest.mark.parametrize("kernels", [True, False])
def test_frozen_members_keep_their_weights(monkeypatch, kernels):
    """A member that is not alive, or whose gradient is not finite, keeps its weights exactly; its
    gradient and momentum are zeroed; the others move as in a run without them (bit for bit)."""
    if not kernels:
        monkeypatch.setattr(fused, "library", lambda: None)
    elif not KERNELS_EXPECTED:
        pytest.skip(NO_KERNELS_REASON)
    params = _params()
    opt = MemberSGD(params, lr=0.05, momentum=0.9, n_members=E)
    clean = _params()
    ref = MemberSGD(clean, lr=0.05, momentum=0.9, n_members=E)
    for ps, o in ((params, opt), (clean, ref)):
        _grads(ps, 0)
        o.check_next_step(torch.ones(E, dtype=torch.bool), lambda f: None)
        o.step()
    before = [p.detach().clone() for p in params]
    _grads(params, 1)
    _grads(clean, 1)
    params[2].grad[3, 0, 0] = float("nan")
    verdict = []
    opt.check_next_step(torch.tensor([True, False, True, True, True]), verdict.append)
    opt.step()
    ref.check_next_step(torch.ones(E, dtype=torch.bool), lambda f: None)
    ref.step()
    assert verdict[0].tolist() == [True, True, True, False, True]
    for p, b, c in zip(params, before, clean, strict=True):
        for e in (1, 3):
            assert torch.equal(p[e], b[e])
            assert not p.grad[e].any() and not opt.state[p]["momentum_buffer"][e].any()
        for e in (0, 2, 4):
            assert torch.equal(p[e], c[e])


@needs_kernels
def test_threads_split_members_bit_for_bit():
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(lambda p: MemberSGD(p, lr=0.05, momentum=0.9, n_members=E), alive=torch.ones(E, dtype=torch.bool))
        torch.set_num_threads(2)
        two = _run(lambda p: MemberSGD(p, lr=0.05, momentum=0.9, n_members=E), alive=torch.ones(E, dtype=torch.bool))
    finally:
        torch.set_num_threads(prev)
    for a, b in zip(one[0] + one[2], two[0] + two[2], strict=True):
        assert torch.equal(a, b)


def test_state_dict_moves_between_member_sgd_and_torch_sgd():
    """Checkpoints: MemberSGD's state loads into torch's SGD and back, and training goes on the same."""
    params = _params()
    opt = MemberSGD(params, lr=0.05, momentum=0.9, n_members=E)
    _grads(params, 0)
    opt.step()
    other = _params()
    with torch.no_grad():
        for a, b in zip(other, params, strict=True):
            a.copy_(b)
    plain = torch.optim.SGD(other, lr=0.05, momentum=0.9)
    plain.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a checkpoint file: no shared buffers
    for ps, o in ((params, opt), (other, plain)):
        _grads(ps, 1)
        o.step()
    for a, b in zip(params, other, strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    again = MemberSGD(other, lr=0.05, momentum=0.9, n_members=E)
    again.load_state_dict(plain.state_dict())
    assert all(torch.equal(again.state[p]["momentum_buffer"], plain.state[p]["momentum_buffer"]) for p in other)


class _PoisonGrad(L.Callback):
    """After the backward of step ``step``, a NaN in member ``member``'s W_x gradient (its loss stays
    finite): only the gradient check can catch it."""

    def __init__(self, step: int, member: int) -> None:
        self.step, self.member = step, member
        self.frozen: dict[str, torch.Tensor] = {}

    def on_after_backward(self, trainer, pl_module) -> None:
        if trainer.global_step == self.step:
            pl_module.net.W_x.grad[self.member, 0, 0] = float("nan")
            self.frozen = {k: v[self.member].detach().clone() for k, v in pl_module.laziness_weights().items()}


def _fit(tmp_path, clip: float | None, poison: _PoisonGrad | None):
    dm = NeurogymDataModule(task="2af", batch_size=4, n_probe=8, n_val=8)
    model = RNNModule(dm.n_input, dm.n_output, n_hidden=16, n_members=3)
    trainer = L.Trainer(max_steps=12, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, gradient_clip_val=clip,
                        callbacks=[poison] if poison else [])
    trainer.fit(model, dm)
    return model


@pytest.mark.parametrize("clip", [None, 0.05])
def test_module_catches_a_nonfinite_gradient(tmp_path, clip):
    """In the RNN module: a NaN gradient with a finite loss marks the member diverged at that step
    and freezes it; the other members train exactly as without the fault. Without clipping the
    check runs in MemberSGD's pass; with clipping, before it (clipping must see the zeroed
    gradients; each member is clipped by its own norm, so the others are unaffected)."""
    clean = _fit(tmp_path / "clean", clip, None)
    poison = _PoisonGrad(step=4, member=1)
    hit = _fit(tmp_path / "hit", clip, poison)
    assert isinstance(hit.trainer.optimizers[0], MemberSGD)
    assert hit.diverged_step.tolist() == [divergence.NOT_DIVERGED, 4, divergence.NOT_DIVERGED]
    for k, w0 in poison.frozen.items():
        assert torch.equal(hit.laziness_weights()[k][1].detach(), w0), k
    for e in (0, 2):
        for k, w in hit.laziness_weights().items():
            assert torch.equal(w[e], clean.laziness_weights()[k][e]), k
