"""Fig. 3C: a teacher trained and checkpointed, students aligned with it (and its rank-N/2
truncation); and StopAtAccuracy freezing members exactly."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from rlnet.callbacks import StopAtAccuracy
from rlnet.cli import main
from rlnet.connectivity import TeacherAligned, null_gaussian
from rlnet.data.mnist import write_mnist_subset
from rlnet.models import RNNModule

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--laziness.kernel_trials", "4",
        "--laziness.verbose", "false", "--data.init_args.source", "subset", "--trainer.max_steps", "3",
        "--model.init_args.n_hidden", "12", "--data.init_args.batch_size", "8", "--data.init_args.n_probe", "6"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("fig3c")
    write_mnist_subset(base / "data" / "mnist5k")
    run = base / "teacher"
    args = ["fit", "--config", str(ROOT / "configs/fig3c/teacher.yaml"), *TINY,
            "--data.init_args.root", str(base / "data"), "--trainer.default_root_dir", str(run)]
    assert main(args) == 0
    assert (run / "final.ckpt").exists()
    return base, run


def _teacher_W(run: Path) -> torch.Tensor:
    return torch.load(run / "final.ckpt", map_location="cpu", weights_only=False)["state_dict"]["net.W_h"][0]


def test_aligned_students_through_cli(teacher):
    base, run = teacher
    for name, rank in (("aligned", None), ("aligned_partial", 6)):
        out = base / name
        args = ["fit", "--config", str(ROOT / f"configs/fig3c/{name}.yaml"), *TINY,
                "--data.init_args.root", str(base / "data"), "--trainer.default_root_dir", str(out),
                "--model.init_args.connectivity.init_args.checkpoint", str(run)]
        if rank is not None:
            args += ["--model.init_args.connectivity.init_args.rank", str(rank)]
        assert main(args) == 0
        m = json.loads((out / "metrics.json").read_text())
        assert m["members"][0]["connectivity"]["name"] == "teacher"
        assert m["members"][0]["connectivity"]["rank"] == rank


def test_teacher_alignment_construction(teacher):
    _, run = teacher
    W_t = _teacher_W(run).double()
    n = W_t.shape[0]
    for rank in (None, n // 2):
        conn = TeacherAligned(checkpoint=str(run), rank=rank, g=1.25)
        W = conn(n, torch.Generator().manual_seed(5)).double()
        null = null_gaussian(n, 1.25, torch.Generator().manual_seed(5)).double()
        assert W.norm().item() == pytest.approx(null.norm().item(), rel=1e-5)  # magnitude of the null draw
        U, S, Vh = torch.linalg.svd(W_t)
        r = n if rank is None else rank
        target = (U[:, :r] * S[:r]) @ Vh[:r]
        cos = (W * target).sum() / (W.norm() * target.norm())
        assert cos.item() == pytest.approx(1.0, abs=1e-5)  # direction of the teacher (or its truncation)
        assert torch.linalg.matrix_rank(W, rtol=1e-5).item() == r


def test_teacher_errors_name_the_field(teacher, tmp_path):
    _, run = teacher
    with pytest.raises(ValueError, match=r"connectivity\.checkpoint"):
        TeacherAligned(checkpoint=str(tmp_path / "missing"))(12)
    with pytest.raises(ValueError, match="n_hidden"):
        TeacherAligned(checkpoint=str(run))(13)


class _Toy(L.LightningDataModule):
    """A tiny classification stream for the freezing test (2AF-like shapes, fixed data)."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(4, 16, 3, generator=g)
        self.y = torch.randint(0, 3, (4, 16), generator=g)

    def train_dataloader(self):
        return DataLoader([(self.x, self.y)] * 100, batch_size=None)

    def val_dataloader(self):
        return DataLoader([(self.x, self.y)], batch_size=None)

    def probe_batch(self):
        return self.x, self.y


def _fit(module: RNNModule, callbacks: list, steps: int) -> None:
    L.Trainer(max_steps=steps, logger=False, enable_progress_bar=False, enable_checkpointing=False,
              enable_model_summary=False, callbacks=callbacks, limit_val_batches=0).fit(module, datamodule=_Toy())


class _ScriptedAccuracy(StopAtAccuracy):
    """StopAtAccuracy whose *scoring* is scripted (member e scores 1.0 from step ``reach[e]`` on, 0.5
    before); the trigger under test (the comparison with the target, the freezing of reached members,
    the stop once all are frozen) is StopAtAccuracy's own."""

    def __init__(self, reach: list[int | None]) -> None:
        super().__init__(target=0.9, every_n_steps=1)
        self.reach, self.scored_steps = reach, []

    def accuracy(self, trainer, pl_module):
        self.scored_steps.append(trainer.global_step)
        return torch.tensor([1.0 if r is not None and trainer.global_step >= r else 0.5 for r in self.reach])


def _alone(seed: int, steps: int) -> dict[str, torch.Tensor]:
    """Independent reference: the same member trained alone, without any callback, for ``steps``."""
    m = RNNModule(n_input=3, n_output=3, n_hidden=10, seeds=[seed], lr=0.05)
    _fit(m, [], steps=steps)
    return {k: v[0] for k, v in m.laziness_weights().items()}


def test_frozen_member_keeps_its_weights_and_others_train_as_alone():
    """Member 0 reaches the target at step 2, member 1 never: member 0's final weights are those of
    the same network trained alone for 2 steps, member 1's those of 6 steps alone."""
    ens = RNNModule(n_input=3, n_output=3, n_hidden=10, seeds=[0, 1], lr=0.05)
    cb = _ScriptedAccuracy(reach=[2, None])
    _fit(ens, [cb], steps=6)
    assert cb.scored_steps == [1, 2, 3, 4, 5, 6]  # every_n_steps=1: scored after each step
    at2, at6 = _alone(0, 2), _alone(1, 6)
    for k, w in ens.laziness_weights().items():
        assert torch.allclose(w[0], at2[k], atol=1e-6)  # frozen exactly at its stopping step
        assert torch.allclose(w[1], at6[k], atol=1e-6)  # member 1 unaffected
    mm = cb.member_metrics()
    assert mm[0]["stopped_at_step"] == 2 and mm[0]["accuracy_at_stop"] == 1.0 and mm[0]["reached_target"]
    assert mm[1]["stopped_at_step"] is None and mm[1]["reached_target"] is False


def test_run_stops_when_every_member_reached_the_target():
    ens = RNNModule(n_input=3, n_output=3, n_hidden=10, seeds=[0, 1], lr=0.05)
    cb = _ScriptedAccuracy(reach=[2, 4])
    trainer = L.Trainer(max_steps=10, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                        enable_model_summary=False, callbacks=[cb], limit_val_batches=0)
    trainer.fit(ens, datamodule=_Toy())
    assert trainer.global_step == 4 and cb.scored_steps == [1, 2, 3, 4]
    at2, at4 = _alone(0, 2), _alone(1, 4)
    for k, w in ens.laziness_weights().items():
        assert torch.allclose(w[0], at2[k], atol=1e-6) and torch.allclose(w[1], at4[k], atol=1e-6)


def test_learned_structure_is_the_teachers_weight_change(teacher):
    _, run = teacher
    ckpt = torch.load(run / "final.ckpt", map_location="cpu", weights_only=False)
    W_f = ckpt["state_dict"]["net.W_h"][0].double()
    snap = next(v["snapshot"] for k, v in ckpt["callbacks"].items() if k.startswith("LazinessCallback"))
    dW = W_f - snap["weight/W_h"][0].double()
    W = TeacherAligned(checkpoint=str(run), structure_of="learned")(12, torch.Generator().manual_seed(0)).double()
    cos = (W * dW).sum() / (W.norm() * dW.norm())
    assert cos.item() == pytest.approx(1.0, abs=1e-5)
