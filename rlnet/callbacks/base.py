"""The shared base of rlnet's callbacks: one owner of ``metrics.json``, one probe, one snapshot.

Two layers, as Lightning's ``ModelSummary`` / ``RichModelSummary`` split their work (the base does
the work, variants override a hook or two):

* :class:`MetricsCallback`: a callback that contributes to the run's ``metrics.json``
  (:meth:`~MetricsCallback.metrics_sections`, :meth:`~MetricsCallback.member_metrics`). The file
  is written once, at fit end, by the first :class:`MeasuringCallback` in ``trainer.callbacks``
  (else the first ``MetricsCallback``: the *owner*), which collects every other one's
  contribution: callbacks find each other by type, never by attribute probing. Written
  atomically (temporary file in the same folder, then ``os.replace``) to the run folder
  (:func:`run_folder`), never to the working directory.
* :class:`MeasuringCallback`: a ``MetricsCallback`` that measures the module against a snapshot
  of its start (:mod:`rlnet.snapshot`) on a fixed probe. It never changes what it measures
  (:func:`measuring`): it draws nothing from the training RNGs (their states are saved and
  restored around every measurement), never pulls from the training loader's iterator (the probe
  is the callback's ``probe``, the datamodule's or the module's own probe batch, the first
  validation batch, or else a copy of the first training batch as training receives it) and
  leaves every submodule in the train/eval mode it had.

The measures themselves are pure functions in :mod:`rlnet.measures`; the variants
(:class:`~rlnet.callbacks.LazinessCallback`, :class:`~rlnet.callbacks.KernelTrackingCallback`)
only choose which to call when.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import move_data_to_device
from torch import Tensor, nn

from rlnet.callbacks.protocol import LazinessProtocol, resolve_probe
from rlnet.results import write_json_atomic
from rlnet.snapshot import SNAPSHOT_STATE_KEY, initial_weights, weight_key

METRICS_FILE = "metrics.json"


# ---- isolation: measuring never changes what is measured -------------------------------------
@contextmanager
def preserved_rng(device: torch.device | None = None) -> Iterator[None]:
    """Save Python's, NumPy's and torch's global RNG states (CPU, and the module's CUDA device) and
    restore them on exit: whatever runs inside draws nothing that training would have drawn."""
    py, np_state = random.getstate(), np.random.get_state()
    cuda = [device.index or 0] if device is not None and device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Measure in eval mode (no dropout, running batch statistics frozen), then give every
    submodule back the mode it had (a submodule kept in eval on purpose stays in eval)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, was_training in modes:
            m.training = was_training


@contextmanager
def measuring(module: nn.Module) -> Iterator[nn.Module]:
    """:func:`eval_mode` inside :func:`preserved_rng`: the context every measurement runs in."""
    device = next((p.device for p in module.parameters()), None)
    with preserved_rng(device), eval_mode(module):
        yield module


def detached_copy(batch: Any) -> Any:
    """A copy of a (nested) batch whose tensors share nothing with the original."""
    if isinstance(batch, Tensor):
        return batch.detach().clone()
    if isinstance(batch, dict):
        return {k: detached_copy(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(detached_copy(v) for v in batch) if not hasattr(batch, "_fields") \
            else type(batch)(*(detached_copy(v) for v in batch))
    return batch


def run_folder(trainer: L.Trainer) -> Path:
    """Where a run's ``metrics.json`` goes: ``trainer.default_root_dir`` (rlnet's CLI makes it one
    folder per run); when that is the working directory, the first logger's folder
    (``trainer.log_dir``, e.g. ``lightning_logs/version_0``); when that is the working directory
    too (no logger, no folder set), a new ``lightning_logs/rlnet-<time>-<pid>`` below it."""
    cwd = Path.cwd().resolve()
    for candidate in (trainer.default_root_dir, trainer.log_dir):
        if candidate and Path(candidate).resolve() != cwd:
            return Path(candidate)
    return Path(trainer.default_root_dir) / "lightning_logs" / f"rlnet-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(obj: Any) -> dict | None:
    """``{"class_path", "init_args"}`` of a module or datamodule from the hyperparameters it saved."""
    if obj is None:
        return None
    hp = getattr(obj, "hparams", None)
    return {"class_path": _qualname(obj), "init_args": dict(hp) if hp else {}}


# ---- contributing to metrics.json --------------------------------------------------------------
class MetricsCallback(L.Callback):
    """A callback that contributes to ``metrics.json``; the first one in ``trainer.callbacks`` writes it.

    Args:
        filename: results file in the run folder (:func:`run_folder`).

    Attributes set by a caller (rlnet's CLI does):
        config: the run's resolved configuration, recorded as ``"config"``. Without one the file
            records the module's and datamodule's class and saved hyperparameters instead.
    """

    def __init__(self, filename: str = METRICS_FILE) -> None:
        super().__init__()
        self.filename = filename
        self.config: dict | None = None
        self.metrics_path: Path | None = None
        self._t0 = time.perf_counter()

    # What a variant contributes (both called once, at fit end, by the owner).
    def metrics_sections(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """Top-level sections of ``metrics.json``."""
        return {}

    def member_metrics(self, trainer: L.Trainer | None = None, pl_module: L.LightningModule | None = None
                       ) -> list[dict]:
        """One dict per network (ensemble member), merged into ``metrics.json``'s ``"members"``."""
        return []

    def after_metrics(self, trainer: L.Trainer, metrics: dict[str, Any]) -> None:
        """Called on every contributor after the file is written (e.g. to log or print a summary)."""

    # The owner and the file.
    @staticmethod
    def owner(trainer: L.Trainer) -> MetricsCallback:
        """The callback that writes the file: the first measuring callback, else the first one."""
        found = [cb for cb in trainer.callbacks if isinstance(cb, MetricsCallback)]
        return next((cb for cb in found if isinstance(cb, MeasuringCallback)), found[0])

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The contents of ``metrics.json`` from every ``MetricsCallback`` of the trainer."""
        contributors = [cb for cb in trainer.callbacks if isinstance(cb, MetricsCallback)]
        config = next((cb.config for cb in contributors if cb.config is not None), None)
        if config is None:
            dm = getattr(trainer, "datamodule", None)
            config = {"model": _describe(pl_module), "data": _describe(dm),
                      "trainer": {"max_steps": trainer.max_steps, "max_epochs": trainer.max_epochs}}
        out: dict[str, Any] = {"config": config, "steps": int(trainer.global_step),
                               "fit_wall_time_s": time.perf_counter() - self._t0}
        members: list[dict] = []
        for cb in contributors:
            for e, extra in enumerate(cb.member_metrics(trainer, pl_module)):
                if e == len(members):
                    members.append({})
                members[e].update(extra)
        for cb in contributors:
            out.update(cb.metrics_sections(trainer, pl_module))
        if members or "members" in out:
            out["members"] = members
        out["seeds"] = recorded_seeds(trainer, members)
        run_info = getattr(getattr(trainer, "datamodule", None), "run_info", None)
        if callable(run_info):  # e.g. whether the offline MNIST subset was used
            out["data"] = run_info()
        return out

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or self.owner(trainer) is not self:
            return
        metrics = self.collect(trainer, pl_module)
        self.metrics_path = write_json_atomic(run_folder(trainer) / self.filename, metrics)
        for cb in trainer.callbacks:
            if isinstance(cb, MetricsCallback):
                cb.metrics_path = self.metrics_path
                cb.after_metrics(trainer, metrics)


def recorded_seeds(trainer: L.Trainer, members: list[dict]) -> dict[str, Any]:
    """The seeds a run used: Lightning's ``seed_everything`` (``PL_GLOBAL_SEED``), each member's
    seed (from ``member_info``) and the datamodule's ``seed``, ``None`` where unknown."""
    glob = os.environ.get("PL_GLOBAL_SEED")
    dm = getattr(trainer, "datamodule", None)
    data_seed = getattr(dm, "seed", None)
    return {"seed_everything": int(glob) if glob is not None else None,
            "members": [m.get("seed") for m in members] if members else None,
            "data": int(data_seed) if isinstance(data_seed, (int, np.integer)) else None}


# ---- measuring against a snapshot --------------------------------------------------------------
class MeasuringCallback(MetricsCallback):
    """Snapshot the module on a fixed probe at fit start and measure it against the snapshot.

    Args:
        weights: weights whose change ``||W_t - W_0||_F`` is reported. Default: the module's
            ``laziness_defaults['weights']`` (rlnet: ``['W_h']``), else all its weights.
        kernel_params: ``'W_h'`` (the authors' code), ``'all'`` (the paper's Eq. 6) or parameter
            names. Default: the module's choice (rlnet: ``'W_h'``), else ``'all'``.
        kernel_trials: probe trials in the kernel (the authors' code: the first 32).
        kernel_steps: ``'all'`` output steps (Neurogym) or ``'last'`` (sMNIST).
        probe: fixed probe batch ``(x, y)`` (or ``x``); default: the datamodule's
            ``probe_batch()``, the module's ``laziness_probe_batch()``, the first validation batch,
            else a copy of the first training batch.
        trial_dim: trial dimension of probe tensors for modules without ``laziness_trial_dim``.
        filename: results file in the run folder.
    """

    def __init__(self, weights: list[str] | None = None, kernel_params: str | list[str] | None = None,
                 kernel_trials: int = 32, kernel_steps: Literal["all", "last"] = "all", probe: Any = None,
                 trial_dim: int = 0, filename: str = METRICS_FILE) -> None:
        super().__init__(filename)
        if kernel_trials < 1:
            raise ValueError(f"kernel_trials must be >= 1, got {kernel_trials}")
        if kernel_steps not in ("all", "last"):
            raise ValueError(f"kernel_steps must be 'all' or 'last', got {kernel_steps!r}")
        self.weights = list(weights) if weights is not None else None
        self.kernel_params, self.kernel_trials, self.kernel_steps = kernel_params, kernel_trials, kernel_steps
        self.probe, self.trial_dim = probe, trial_dim
        self.proto: LazinessProtocol | None = None
        self.snapshot: dict[str, Tensor] | None = None

    # ---- the module's protocol and the snapshot ----------------------------------------------
    def bind(self, pl_module: L.LightningModule) -> LazinessProtocol:
        """Bind the protocol to ``pl_module``; settings left at ``None`` take the module's defaults;
        unknown weight names fail here, before training."""
        proto = self.proto = LazinessProtocol(pl_module, self.trial_dim)
        if self.weights is None:
            self.weights = proto.default_weights()
        if self.kernel_params is None:
            self.kernel_params = proto.default_kernel_params()
        known = proto.weights()
        unknown = [k for k in self.weights if k not in known]
        if unknown:
            raise ValueError(f"weights {unknown} not among the module's weights {sorted(known)}")
        return proto

    def kernel(self, x: Tensor) -> Tensor:
        """``(E, M, M)`` tangent kernel on the first ``kernel_trials`` probe trials."""
        assert self.proto is not None
        return self.proto.kernel(self.proto.first_trials(x, self.kernel_trials), self.kernel_params,
                                 self.kernel_steps)

    def extend_snapshot(self, snap: dict[str, Tensor], x: Tensor, y: Tensor | None) -> None:
        """What a variant adds to the shared snapshot (keys of :mod:`rlnet.snapshot`)."""

    def take_snapshot(self, pl_module: L.LightningModule, probe: Any) -> dict[str, Tensor]:
        """Probe, initial weights, representation and kernel (the format of :mod:`rlnet.snapshot`)."""
        proto = self.proto or self.bind(pl_module)
        x, y = move_data_to_device(proto.split_batch(probe), pl_module.device)
        snap = {weight_key(k): v.detach().clone() for k, v in proto.weights().items()}
        snap.update(probe_x=x, representation=proto.representation(x), kernel=self.kernel(x))
        if y is not None:
            snap["probe_y"] = y
        self.extend_snapshot(snap, x, y)
        return snap

    def probe_trials(self) -> int:
        assert self.snapshot is not None and self.proto is not None
        return self.proto.n_trials(self.snapshot["probe_x"])

    def initial_weights(self) -> dict[str, Tensor]:
        assert self.snapshot is not None
        return initial_weights(self.snapshot)

    def _snapshot_now(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any = None) -> None:
        with measuring(pl_module):
            probe = resolve_probe(trainer, pl_module, self.proto, self.probe)
            if probe is None and batch is not None:
                probe = detached_copy(batch)
            if probe is not None:
                self.snapshot = self.take_snapshot(pl_module, probe)
                self.on_snapshot(trainer, pl_module)

    def on_snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Called right after the snapshot is taken (e.g. to record step 0)."""

    # ---- Lightning hooks ---------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        self.bind(pl_module)
        if self.snapshot is None:  # a resumed run restores it from the checkpoint instead
            self._snapshot_now(trainer, pl_module)
        else:  # restored: on the module's device, whichever device wrote the checkpoint
            self.snapshot = {k: v.to(pl_module.device) for k, v in self.snapshot.items()}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.snapshot is None:  # validation batches exist from here on
            self._snapshot_now(trainer, pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.snapshot is None:  # no probe anywhere: a copy of the batch training receives first
            self._snapshot_now(trainer, pl_module, batch)
            if self.snapshot is None:
                raise ValueError(f"{type(self).__name__}: no probe batch: pass `probe`, or give the datamodule "
                                 "a `probe_batch()`")

    def state_dict(self) -> dict:
        return {SNAPSHOT_STATE_KEY: self.snapshot}

    def load_state_dict(self, state_dict: dict) -> None:
        self.snapshot = state_dict.get(SNAPSHOT_STATE_KEY)


__all__ = ["MeasuringCallback", "MetricsCallback", "detached_copy", "eval_mode", "measuring", "preserved_rng",
           "run_folder"]
