"""rlnet's callbacks on a LightningModule written here, not one of rlnet's."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from rlnet.callbacks import KernelTrackingCallback, LazinessCallback
from rlnet.measures.alignment import centered_alignment, kernel_alignment, representation_alignment, task_alignment
from rlnet.measures.ntk import naive_tangent_kernel

torch.set_num_threads(1)


class TinyMLP(L.LightningModule):
    """A plain classifier: no laziness protocol at all."""

    def __init__(self, n_in: int = 4, hidden: int = 16, n_classes: int = 3, lr: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_classes))
        self.lr = lr

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class TinyGRU(TinyMLP):
    """A GRU classifier reading the last step; trials on dim 0."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(2, 8, batch_first=True)
        self.net = nn.Linear(8, 3)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.net(h[:, -1])


def data(n: int, shape: tuple[int, ...], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    y = (x.flatten(1)[:, 0] > 0).long() + (x.flatten(1)[:, 1] > 0.5).long()
    return x, y


def flat_grads(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Reference kernel: one autograd.grad per scalar output over all parameters, float64."""
    m = model.double()
    K = naive_tangent_kernel(lambda: m(x.double()), list(m.parameters()))
    model.float()
    return K


@pytest.mark.parametrize("Model,shape", [(TinyMLP, (4,)), (TinyGRU, (5, 2))])
def test_callbacks_on_a_plain_lightning_module(tmp_path, Model, shape):
    torch.manual_seed(0)
    model = Model()
    x, y = data(64, shape)
    xv, yv = data(12, shape, seed=1)
    init = Model()
    init.load_state_dict(model.state_dict())
    laz = LazinessCallback(kernel_trials=12, verbose=False)
    track = KernelTrackingCallback(every_n_steps=5, kernel_trials=12)
    trainer = L.Trainer(max_steps=20, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[laz, track],
                        limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False),
                DataLoader(TensorDataset(xv, yv), batch_size=12))

    out = json.loads((tmp_path / "metrics.json").read_text())
    (m,) = out["members"]
    # Direct computation: kernels over all parameters of the outputs on the first validation batch.
    K0, Kf = flat_grads(init, xv), flat_grads(model, xv)
    assert m["kernel_alignment"] == pytest.approx(float(kernel_alignment(Kf, K0)), rel=1e-5)
    with torch.no_grad():
        ra = representation_alignment(model(xv)[None].double(), init(xv)[None].double())
    assert m["representation_alignment"] == pytest.approx(float(ra), rel=1e-5)
    dW = torch.cat([(p - q).flatten() for p, q in zip(model.parameters(), init.parameters())]).norm()
    assert m["weight_change_norm"] == pytest.approx(float(dW), rel=1e-5)
    assert out["measure_settings"]["kernel_params"] == "all"
    assert m["accuracy"] == pytest.approx(float((model(xv).argmax(-1) == yv).double().mean()))

    # The tracking series: steps 0, 5, ..., 20, and the last point equals the final measures.
    tr = out["tracking"]
    assert tr["steps"] == [0, 5, 10, 15, 20]
    s = tr["members"][0]
    assert s["kernel_alignment"][0] == pytest.approx(1.0)
    assert s["kernel_alignment"][-1] == pytest.approx(m["kernel_alignment"], rel=1e-5)
    assert s["weight_change_norm"][0] == 0.0
    assert s["representation_alignment"][0] == pytest.approx(1.0)
    assert s["representation_alignment"][-1] == pytest.approx(m["representation_alignment"], rel=1e-5)
    assert s["weight_change_norm"][-1] == pytest.approx(m["weight_change_norm"], rel=1e-5)
    yy = F.one_hot(yv, 3).double().reshape(-1)
    assert s["task_alignment"][-1] == pytest.approx(float(task_alignment(Kf, yy)), rel=1e-5)
    assert s["label_alignment"][-1] == pytest.approx(float(centered_alignment(Kf, yy[:, None] * yy[None])), rel=1e-5)
    ev = torch.linalg.eigvalsh(Kf)
    assert s["kernel_effective_rank"][-1] == pytest.approx(float(ev.sum() / ev[-1]), rel=1e-5)


def test_tracking_alone_writes_metrics_and_explicit_probe(tmp_path):
    torch.manual_seed(0)
    model = TinyMLP()
    x, y = data(32, (4,))
    probe = data(6, (4,), seed=2)
    track = KernelTrackingCallback(every_n_steps=3, probe=probe, kernel_params=["net.0.weight"])
    trainer = L.Trainer(max_steps=7, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[track])
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=8))
    tr = json.loads((tmp_path / "metrics.json").read_text())["tracking"]
    assert tr["steps"] == [0, 3, 6, 7]
    assert tr["settings"]["kernel_params"] == ["net.0.weight"]
    assert len(tr["members"][0]["kernel_alignment"]) == 4


def test_bad_callback_arguments():
    with pytest.raises(ValueError, match="every_n_steps"):
        KernelTrackingCallback(every_n_steps=0)
    with pytest.raises(ValueError, match="kernel_steps"):
        LazinessCallback(kernel_steps="middle")


class NoisyMLP(L.LightningModule):
    """Dropout (draws from torch's RNG every step) and batch norm (running statistics are module
    state): a callback that drew from the RNG or ran the module in train mode would change training."""

    def __init__(self, n_in: int = 4, hidden: int = 16, n_classes: int = 3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.Tanh(), nn.Dropout(0.3),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.3, momentum=0.9)


def _train_noisy(root, callbacks, steps: int = 30) -> tuple[dict, NoisyMLP]:
    L.seed_everything(3)
    model = NoisyMLP()
    x, y = data(64, (4,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)  # draws from torch's RNG
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=root, callbacks=callbacks)
    trainer.fit(model, loader)  # no validation loader
    return {k: v.clone() for k, v in model.state_dict().items()}, model


def test_callbacks_never_change_training(tmp_path, capsys):
    bare, _ = _train_noisy(tmp_path / "bare", [])
    laz = LazinessCallback(kernel_trials=8)
    track = KernelTrackingCallback(every_n_steps=7, kernel_trials=8)
    measured, model = _train_noisy(tmp_path / "measured", [laz, track])
    # Bit for bit: weights, batch-norm running statistics and its batch counter.
    assert bare.keys() == measured.keys()
    for k in bare:
        assert torch.equal(bare[k], measured[k]), k
    assert model.training and all(m.training for m in model.modules())  # modes given back

    out = json.loads((tmp_path / "measured" / "metrics.json").read_text())
    # The probe: a copy of the first training batch (16 trials, on dim 0), not a pull of its own.
    assert out["measure_settings"]["probe_trials"] == 16 and laz.snapshot["probe_x"].shape == (16, 4)
    assert out["measure_settings"]["kernel_trials"] == 8
    assert out["tracking"]["steps"] == [0, 7, 14, 21, 28, 30]
    assert out["config"]["model"]["class_path"].endswith("NoisyMLP")
    assert out["config"]["model"]["init_args"] == {"n_in": 4, "hidden": 16, "n_classes": 3}
    assert out["steps"] == 30 and out["seeds"]["seed_everything"] == 3
    # The first training batch after seed_everything(3) is exactly what the snapshot holds.
    L.seed_everything(3)
    NoisyMLP()  # the same draws as in _train_noisy before the loader
    x, y = data(64, (4,))
    first = next(iter(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)))
    assert torch.equal(laz.snapshot["probe_x"], first[0]) and torch.equal(laz.snapshot["probe_y"], first[1])
    # The printed table has no seed / connectivity columns for a module without them.
    table = capsys.readouterr().out
    header = next(ln for ln in table.splitlines() if ln.strip().startswith("member"))
    assert header.split() == ["member", "weight_change_norm", "representation_alignment", "kernel_alignment",
                              "sign_similarity", "final_loss", "accuracy", "diverged"]


def test_no_run_folder_never_writes_into_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = TinyMLP()
    x, y = data(32, (4,))
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[LazinessCallback(kernel_trials=4, verbose=False)])
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=8))
    assert not (tmp_path / "metrics.json").exists()
    (written,) = (tmp_path / "lightning_logs").glob("rlnet-*/metrics.json")
    assert json.loads(written.read_text())["steps"] == 2
    assert not list(written.parent.glob(".metrics.json.*"))  # the temporary file is gone (os.replace)
