"""Divergence: a member whose loss turns NaN/inf is frozen and recorded with its step; the other
members of the ensemble finish exactly as if it had never been there; a run whose every member
diverged ends cleanly and says so."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import assert_close_tree, load_metrics, run_cli, tiny_config, write_config
from faults import PoisonMember

from rlnet.callbacks.laziness import LazinessCallback
from rlnet.data import NeurogymDataModule
from rlnet.models import RNNModule
from rlnet.models.divergence import mark_diverged, masked_loss, zero_member_grads

STEPS, POISON_STEP, MEMBER = 20, 5, 1


def _fit(tmp_path, optimizer: str, poison: PoisonMember | None) -> dict:
    dm = NeurogymDataModule(task="2af", batch_size=4, n_probe=8, n_val=8)
    model = RNNModule(dm.n_input, dm.n_output, n_hidden=16, n_members=3, optimizer=optimizer)
    callbacks = [LazinessCallback(kernel_trials=4, verbose=False)] + ([poison] if poison else [])
    trainer = L.Trainer(max_steps=STEPS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=callbacks)
    trainer.fit(model, dm)
    return {"metrics": load_metrics(tmp_path), "weights": model.laziness_weights()}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_diverged_member_is_frozen_recorded_and_others_unaffected(tmp_path, optimizer):
    clean = _fit(tmp_path / "clean", optimizer, None)
    poison = PoisonMember(step=POISON_STEP, member=MEMBER)
    hit = _fit(tmp_path / "poisoned", optimizer, poison)
    members = hit["metrics"]["members"]

    assert members[MEMBER]["diverged"] is True
    assert members[MEMBER]["diverged_step"] == POISON_STEP
    assert hit["metrics"]["summary"]["n_diverged"] == 1 and hit["metrics"]["summary"]["all_diverged"] is False
    # Frozen: its weights are exactly those that produced the NaN loss.
    for k, w0 in poison.frozen.items():
        assert torch.equal(torch.nan_to_num(hit["weights"][k][MEMBER].detach()), torch.nan_to_num(w0)), k
    # The others trained exactly as in the run without the fault (bit for bit).
    for e in (0, 2):
        assert members[e]["diverged"] is False and members[e]["diverged_step"] is None
        assert_close_tree(members[e], clean["metrics"]["members"][e], tol=0.0)
        for k in hit["weights"]:
            assert torch.equal(hit["weights"][k][e], clean["weights"][k][e]), k


def test_every_member_diverged_ends_cleanly(tmp_path):
    """An absurd learning rate blows every member up; the run stops early, exits 0, and
    metrics.json says all diverged (the sweep runner records it as a diverged run)."""
    cfg = tiny_config(max_steps=200, n_members=2, lr=1e6)
    cfg["trainer"]["log_every_n_steps"] = 5
    assert run_cli(["fit", "--config", write_config(tmp_path / "c.yaml", cfg),
                    "--trainer.default_root_dir", tmp_path / "run"]) == 0
    m = load_metrics(tmp_path / "run")
    assert m["summary"]["all_diverged"] is True and m["summary"]["n_diverged"] == 2
    assert all(0 <= mm["diverged_step"] < m["steps"] for mm in m["members"])
    # stopped at the first logging step (every 5) after the last member diverged
    last = max(mm["diverged_step"] for mm in m["members"])
    assert m["steps"] == 5 * ((last + 1 + 4) // 5) < 200
    assert "mean_kernel_alignment" not in m["summary"]  # no mean over diverged networks


def test_divergence_helpers():
    steps = torch.tensor([-1, -1, 3])
    finite = torch.tensor([True, False, False])
    assert mark_diverged(steps, finite, 7).tolist() == [-1, 7, 3]  # the first step is kept
    losses = torch.tensor([1.0, float("nan"), 2.0], requires_grad=True)
    alive = torch.tensor([True, False, True])
    total = masked_loss(losses, alive)
    assert total.item() == 3.0
    p = torch.nn.Parameter(torch.ones(3, 2))
    p.grad = torch.tensor([[1.0, 1.0], [float("nan"), 1.0], [2.0, 2.0]])
    zero_member_grads([p], alive)
    assert p.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]


def test_nonfinite_gradient_marks_divergence_and_state_is_zeroed():
    from rlnet.models.divergence import grads_finite_per_member, zero_member_optimizer_state

    p = torch.nn.Parameter(torch.ones(3, 2, 2))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(3, 2, 2)
    opt.step()  # creates a momentum buffer for every member
    p.grad = torch.ones(3, 2, 2)
    p.grad[2, 1, 0] = float("inf")
    finite = grads_finite_per_member([p], 3, p.device)
    assert finite.tolist() == [True, True, False]
    alive = finite
    zero_member_grads([p], alive)
    zero_member_optimizer_state(opt, alive)
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p[2], before[2])  # frozen: no gradient, no momentum
    assert not torch.equal(p[0], before[0])  # the others still move


class _Silence(L.Callback):
    """At the end of training, silence member ``e``: zero input and recurrent weights, so every
    probe rate is 0 (a finite loss, and RA is 0/0)."""

    def __init__(self, member: int) -> None:
        self.member = member

    def on_train_end(self, trainer, pl_module):
        with torch.no_grad():
            pl_module.net.W_x[self.member].zero_()
            pl_module.net.W_h[self.member].zero_()


def test_silent_member_is_flagged_and_its_ra_is_null(tmp_path):
    """A member whose rates all die is flagged ``silent`` (not diverged: its loss is finite); its RA
    is undefined and written as null, while the other members are measured as usual."""
    dm = NeurogymDataModule(task="2af", batch_size=4, n_probe=8, n_val=8)
    model = RNNModule(dm.n_input, dm.n_output, n_hidden=16, n_members=2)
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[_Silence(1), LazinessCallback(kernel_trials=4, verbose=False)])
    trainer.fit(model, dm)
    live, dead = load_metrics(tmp_path)["members"]
    assert dead["silent"] is True and dead["diverged"] is False
    assert dead["representation_alignment"] is None and dead["final_loss"] is not None
    assert live["silent"] is False and live["representation_alignment"] is not None
