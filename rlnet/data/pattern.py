"""The pattern-generation task (paper Fig. 18; Bellec et al. 2020, Fig. S7) as a regression DataModule.

Bellec et al.: 100 input channels of frozen Poisson noise at 50 Hz (1 ms bins, spike probability
0.05), drawn once and reused every trial; the target is 1 s of

    f(t) = sum_{j=1..4} A_j sin(2 pi t / P_j + phi_j),  P = (1000, 500, 333, 200) ms,
    A_j ~ U[0.5, 2],  phi_j ~ U[0, 2 pi]   (drawn once),

shifted to start at 0 and divided by its largest absolute value. The paper trains a rate RNN on it
but does not say how; rlnet keeps Bellec's input and target and bins them to the RNN's step
``dt`` (ms, dividing the duration):

* input at step ``k`` = the spike **counts** of each channel in the 1 ms bins of
  ``[k dt, (k + 1) dt)`` (so the input carries every spike of the 1 ms noise);
* target at step ``k`` = ``f`` evaluated at ``t = k dt``, then ``f - f(0)`` divided by
  ``max_k |f(k dt) - f(0)|`` over the binned grid: the binned target starts at exactly 0 and its
  largest absolute value is exactly 1, as Bellec's 1 ms target.

The whole task is one trial, ``x (T, 1, 100)``, ``y (T, 1, 1)``, trained with MSE at every step
(``RNNModule(loss='mse')``); the probe is that same trial, so the laziness representation should
use the rates at all steps (``RNNModule(representation_steps='all')``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

PERIODS_MS = (1000.0, 500.0, 333.0, 200.0)


def frozen_poisson_input(n_channels: int, duration_ms: int, rate_hz: float, dt: int,
                         rng: np.random.Generator) -> Tensor:
    """Spike counts ``(duration/dt, n_channels)`` of 1 ms Bernoulli(rate * 1 ms) spikes, summed per bin."""
    spikes = rng.random((duration_ms, n_channels)) < rate_hz * 1e-3
    return torch.from_numpy(spikes.reshape(duration_ms // dt, dt, n_channels).sum(1).astype(np.float32))


def sum_of_sines_target(duration_ms: int, dt: int, rng: np.random.Generator,
                        periods_ms: tuple[float, ...] = PERIODS_MS) -> Tensor:
    """Target ``(duration/dt,)``: ``sum_j A_j sin(2 pi t/P_j + phi_j)`` at ``t = k dt``, minus its
    first value, divided by its max absolute value (so ``y[0] = 0``, ``max |y| = 1``)."""
    amps = rng.uniform(0.5, 2.0, size=len(periods_ms))
    phases = rng.uniform(0.0, 2 * math.pi, size=len(periods_ms))
    t = np.arange(0, duration_ms, dt, dtype=np.float64)
    f = sum(a * np.sin(2 * math.pi * t / p + ph) for a, p, ph in zip(amps, periods_ms, phases))
    f = f - f[0]
    return torch.from_numpy((f / np.abs(f).max()).astype(np.float32))


class _Repeat(IterableDataset):
    def __init__(self, batch: tuple[Tensor, Tensor]) -> None:
        self.batch = batch

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        while True:
            yield self.batch


class PatternDataModule(L.LightningDataModule):
    """Frozen-noise pattern generation (Bellec et al. 2020, Fig. S7), binned to ``dt``.

    Args:
        dt: the RNN's step in ms; must divide ``duration`` (default 20 ms: 50 steps, 10 per period
            of the fastest sine).
        duration: trial length in ms (Bellec: 1000).
        n_input: input channels (Bellec: 100).
        rate: Poisson rate in Hz (Bellec: 50).
        seed: draws the frozen input and the target once; ``None``: 0, or rlnet's CLI fills in
            ``seed_everything``.
    """

    def __init__(self, dt: int = 20, duration: int = 1000, n_input: int = 100, rate: float = 50.0,
                 seed: int | None = None) -> None:
        super().__init__()
        if int(dt) != dt or dt < 1:
            raise ValueError(f"data.dt must be a whole number of ms >= 1, got {dt}")
        if int(duration) != duration or duration < 1 or duration % int(dt):
            raise ValueError(f"data.duration must be a positive multiple of data.dt={dt}, got {duration}")
        if int(n_input) < 1:
            raise ValueError(f"data.n_input must be >= 1, got {n_input}")
        if not 0 <= rate <= 1000:
            raise ValueError(f"data.rate must be in [0, 1000] Hz, got {rate}")
        self.dt, self.duration, self.n_input, self.rate, self.seed = int(dt), int(duration), int(n_input), \
            float(rate), int(seed or 0)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed]))
        self.x = frozen_poisson_input(self.n_input, self.duration, self.rate, self.dt, rng).unsqueeze(1)
        self.y = sum_of_sines_target(self.duration, self.dt, rng).reshape(-1, 1, 1)
        self.n_output = 1  # one readout: the target pattern

    @property
    def seq_len(self) -> int:
        return self.duration // self.dt

    @staticmethod
    def config_seq_len(init: dict) -> int | None:
        """The trial length ``init`` asks for, before anything is built; ``None`` where not yet valid."""
        dt, duration = init.get("dt", 20), init.get("duration", 1000)
        if not all(isinstance(v, int) and v >= 1 for v in (dt, duration)):
            return None
        return max(1, duration // dt)

    def probe_batch(self) -> tuple[Tensor, Tensor]:
        """The one frozen trial: ``x (T, 1, n_input)``, ``y (T, 1, 1)``."""
        return self.x.clone(), self.y.clone()

    def run_info(self) -> dict:
        return {"dataset": "pattern", "dt_ms": self.dt, "duration_ms": self.duration, "steps": self.seq_len}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Repeat((self.x, self.y)), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([(self.x, self.y)], batch_size=None)
