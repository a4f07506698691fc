"""A LightningDataModule for the paper's Neurogym tasks, deterministic in ``(seed, step)``.

Batch ``i`` of a run is generated from ``numpy.random.RandomState`` seeded by
``SeedSequence([seed, i])``, trial by trial, so a resumed run sees exactly the same stream and the
data never depend on worker timing. The probe set (the laziness measures' fixed inputs) and the
validation set come from separate streams of the same seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from rlnet.data.neurogym_tasks import TASKS, TaskSpec
from rlnet.data.vectorized import VectorizedSampler
from rlnet.memory import available_memory, check_fits

PROBE_STREAM = 2**31 - 1
VAL_STREAM = 2**31 - 2


def make_env(spec: TaskSpec, dt: float):
    """The unwrapped Neurogym environment for ``spec`` at time step ``dt`` (ms)."""
    import neurogym as ngym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ngym.make(spec.env_id, dt=dt, timing=dict(spec.timing), **spec.env_kwargs).unwrapped


class TrialSampler:
    """Draws batches ``x (T, B, I)`` (float32) and ``y (T, B)`` (int64) from a Neurogym env."""

    def __init__(self, task: str, dt: float = 100.0) -> None:
        if task not in TASKS:
            raise ValueError(f"data.task must be one of {sorted(TASKS)}, got {task!r}")
        self.spec = TASKS[task]
        self.env = make_env(self.spec, dt)
        self.seq_len = round(self.spec.duration() / dt)
        self.n_input = int(self.env.observation_space.shape[0])
        self.n_output = int(self.env.action_space.n)

    def batch(self, seed: int, index: int, batch_size: int) -> tuple[Tensor, Tensor]:
        env = self.env
        env.rng = np.random.RandomState(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        xs = np.empty((self.seq_len, batch_size, self.n_input), dtype=np.float32)
        ys = np.empty((self.seq_len, batch_size), dtype=np.int64)
        for b in range(batch_size):
            env.new_trial()
            ob, gt = env.ob, env.gt
            if ob.shape[0] != self.seq_len:  # pragma: no cover - guards a neurogym change
                raise RuntimeError(f"{self.spec.env_id} trial has {ob.shape[0]} steps, expected {self.seq_len}")
            xs[:, b] = ob
            ys[:, b] = gt
        return torch.from_numpy(xs), torch.from_numpy(ys)


def make_sampler(task: str, dt: float, generator: str = "neurogym") -> TrialSampler | VectorizedSampler:
    """The batch source: neurogym itself, trial by trial, or :mod:`rlnet.data.vectorized`."""
    if generator == "neurogym":
        return TrialSampler(task, dt)
    if generator == "vectorized":
        return VectorizedSampler(task, dt)
    raise ValueError(f"data.generator must be 'neurogym' or 'vectorized', got {generator!r}")


class TrialStream(IterableDataset):
    """Endless stream of batches ``start, start + 1, ...`` for one seed."""

    def __init__(self, task: str, dt: float, seed: int, batch_size: int, start: int = 0,
                 generator: str = "neurogym") -> None:
        self.task, self.dt, self.seed, self.batch_size, self.start = task, dt, seed, batch_size, start
        self.generator = generator

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        sampler = make_sampler(self.task, self.dt, self.generator)
        i = self.start
        while True:
            yield sampler.batch(self.seed, i, self.batch_size)
            i += 1


class NeurogymDataModule(L.LightningDataModule):
    """2AF, DMS or CXT with the paper's timings (App. C.2).

    Args:
        task: ``'2af'``, ``'dms'`` or ``'cxt'``.
        batch_size: trials per training batch (paper: 32).
        dt: simulation step in ms (paper: 100; Fig. 12 uses 20).
        seed: seed of the data streams (training, probe, validation); ``None``: 0, or rlnet's CLI
            fills in ``seed_everything``.
        n_probe: probe trials for the laziness measures (the authors' code: 10 batches = 320).
        n_val: validation trials.
        num_workers: 0 generates batches in the training process; 1 in a background worker
            (same batches: generation depends only on ``(seed, step)``).
        generator: ``'neurogym'`` (the package, trial by trial) or ``'vectorized'`` (the same
            trial semantics a batch at a time, :mod:`rlnet.data.vectorized`; different draws).
    """

    def __init__(self, task: str = "2af", batch_size: int = 32, dt: float = 100.0, seed: int | None = None,
                 n_probe: int = 320, n_val: int = 320, num_workers: int = 0,
                 generator: Literal["neurogym", "vectorized"] = "neurogym") -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"data.task must be one of {sorted(TASKS)}, got {task!r}")
        for name, v in (("batch_size", batch_size), ("n_probe", n_probe), ("n_val", n_val)):
            if int(v) < 1:
                raise ValueError(f"data.{name} must be >= 1, got {v}")
        if not dt > 0:
            raise ValueError(f"data.dt must be > 0, got {dt}")
        if not math.isfinite(dt):
            raise ValueError(f"data.dt must be a finite number, got {dt}")
        # Before the environment is built (its set-up alone grows with the trial's length): one
        # batch of the largest set, inputs (float32, at least one) and labels (int64), must fit.
        steps = TASKS[task].duration() / float(dt)
        trials = max(int(batch_size), int(n_probe), int(n_val))
        check_fits({"one batch of trials": int(min(steps, 1e300) * trials) * 12}, available_memory(),
                   f"data.dt={dt} makes a trial of {steps:.3g} steps; increase data.dt")
        if num_workers not in (0, 1):
            raise ValueError(f"data.num_workers must be 0 or 1, got {num_workers}")
        self.task, self.batch_size, self.dt, self.seed = task, int(batch_size), float(dt), int(seed or 0)
        self.n_probe, self.n_val, self.num_workers = int(n_probe), int(n_val), int(num_workers)
        self.generator = generator
        self._sampler = make_sampler(task, self.dt, generator)
        self.start_step = 0  # set on resume so the stream continues where it stopped

    @property
    def n_input(self) -> int:
        return self._sampler.n_input

    @property
    def n_output(self) -> int:
        return self._sampler.n_output

    @property
    def seq_len(self) -> int:
        return self._sampler.seq_len

    @staticmethod
    def config_seq_len(init: dict) -> int | None:
        """The trial length ``init`` (this class's init args) asks for, before anything is built
        (the CLI's first memory check); ``None`` where the args are not yet valid."""
        task, dt = init.get("task", "2af"), init.get("dt", 100.0)
        if task not in TASKS or not isinstance(dt, (int, float)) or not 0 < dt < math.inf:
            return None
        return max(1, round(min(TASKS[task].duration() / dt, 1e18)))

    def probe_batch(self) -> tuple[Tensor, Tensor]:
        """The fixed probe set ``(x (T, n_probe, I), y (T, n_probe))``."""
        return self._sampler.batch(self.seed, PROBE_STREAM, self.n_probe)

    def train_dataloader(self) -> DataLoader:
        start = self.trainer.global_step if self.trainer is not None else self.start_step
        ds = TrialStream(self.task, self.dt, self.seed, self.batch_size, start=start, generator=self.generator)
        return DataLoader(ds, batch_size=None, num_workers=self.num_workers,
                          persistent_workers=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self._sampler.batch(self.seed, VAL_STREAM, self.n_val)], batch_size=None)
