"""The paper's three Neurogym tasks generated a whole batch at a time (numpy, no per-trial Python).

Same trial semantics as neurogym 2.x with the timings of :mod:`rlnet.data.neurogym_tasks`
(checked statistically against neurogym in ``tests/test_vectorized_data.py``); the random draws
differ, so the batches are not neurogym's, but they are a deterministic function of
``(seed, index)`` (``numpy.random.Generator(PCG64(SeedSequence([seed, index])))``). Noise is
``N(0, (sigma / sqrt(dt))^2)`` with neurogym's ``sigma = 1``. Per trial (label 0 = fixation,
labels only in the decision period):

* 2AF (``PerceptualDecisionMaking``): choice ``c ~ {0, 1}``, coherence ``coh ~ {0, 6.4, 12.8, 25.6,
  51.2}``; inputs ``[fixation, s_0, s_1]``: during the stimulus ``s_i = 0.5 + cos(theta_i - theta_c)
  coh / 200 + noise`` (``theta = 0, pi``); the fixation input follows the (0 ms) fixation period;
  label ``1 + c``.
* DMS (``DelayMatchSample``): ``gt ~ {1 (match), 2 (non-match)}``, sample angle ``~ {0, pi}``, test
  angle = sample (match) or opposite; stimulus ``0.5 + 0.5 cos(theta - angle) + noise`` in the
  sample and test periods; fixation input 1 except in the decision period; label ``gt``.
* CXT (``ContextDecisionMaking``, explicit context): ``gt, other ~ {1, 2}``, context ``~ {0, 1}``,
  ``coh_1, coh_2 ~ {5, 15, 50}``; modality 1 shows ``gt`` under context 0 and ``other`` under
  context 1 (modality 2 the reverse); stimulus ``0.5 + cos(theta - theta_choice) coh / 200 + noise``;
  every input 0 in the decision period except the context cue, which is on at every step;
  label ``gt``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from rlnet.data.neurogym_tasks import TASKS, TaskSpec


def _periods(spec: TaskSpec, dt: float) -> dict[str, slice]:
    """Step ranges of the task's periods, in order."""
    out, t = {}, 0
    for name, ms in spec.timing.items():
        n = round(ms / dt)
        out[name] = slice(t, t + n)
        t += n
    return out


def _two_af(rng: np.random.Generator, B: int, p: dict[str, slice], T: int, sigma: float):
    x = np.zeros((T, B, 3), dtype=np.float32)
    y = np.zeros((T, B), dtype=np.int64)
    c = rng.integers(0, 2, B)
    coh = np.array([0, 6.4, 12.8, 25.6, 51.2])[rng.integers(0, 5, B)]
    x[p["fixation"], :, 0] = 1.0
    sign = np.where(np.arange(2)[None, :] == c[:, None], 1.0, -1.0)  # cos(theta_i - theta_c) for theta = 0, pi
    stim = 0.5 + sign * (coh / 200)[:, None]  # (B, 2)
    s = p["stimulus"]
    n = s.stop - s.start
    x[s, :, 1:] = stim[None] + rng.standard_normal((n, B, 2)) * sigma
    y[p["decision"]] = 1 + c
    return x, y


def _dms(rng: np.random.Generator, B: int, p: dict[str, slice], T: int, sigma: float):
    x = np.zeros((T, B, 3), dtype=np.float32)
    y = np.zeros((T, B), dtype=np.int64)
    gt = rng.integers(1, 3, B)
    sample = rng.integers(0, 2, B)  # index of the sample angle in theta = (0, pi)
    test = np.where(gt == 1, sample, 1 - sample)
    x[:, :, 0] = 1.0
    x[p["decision"], :, 0] = 0.0
    for name, idx in (("sample", sample), ("test", test)):
        s = p[name]
        n = s.stop - s.start
        onehot = (np.arange(2)[None, :] == idx[:, None]).astype(np.float64)  # 0.5 + 0.5 cos(.)
        x[s, :, 1:] = onehot[None] + rng.standard_normal((n, B, 2)) * sigma
    y[p["decision"]] = gt
    return x, y


def _cxt(rng: np.random.Generator, B: int, p: dict[str, slice], T: int, sigma: float):
    x = np.zeros((T, B, 7), dtype=np.float32)
    y = np.zeros((T, B), dtype=np.int64)
    gt = rng.integers(1, 3, B)
    other = rng.integers(1, 3, B)
    context = rng.integers(0, 2, B)
    cohs = np.array([5.0, 15.0, 50.0])
    coh1, coh2 = cohs[rng.integers(0, 3, B)], cohs[rng.integers(0, 3, B)]
    ch1 = np.where(context == 0, gt, other)
    ch2 = np.where(context == 0, other, gt)
    x[p["fixation"], :, 0] = 1.0
    s = p["stimulus"]
    n = s.stop - s.start
    for base, ch, coh in ((1, ch1, coh1), (3, ch2, coh2)):
        sign = np.where(np.arange(1, 3)[None, :] == ch[:, None], 1.0, -1.0)
        x[s, :, base:base + 2] = (0.5 + sign * (coh / 200)[:, None])[None] + rng.standard_normal((n, B, 2)) * sigma
    x[p["decision"]] = 0.0
    x[:, np.arange(B), 5 + context] = 1.0
    y[p["decision"]] = gt
    return x, y


_MAKERS = {"2af": _two_af, "dms": _dms, "cxt": _cxt}


class VectorizedSampler:
    """Drop-in for :class:`rlnet.data.neurogym_data.TrialSampler`: ``batch(seed, index, B)``."""

    def __init__(self, task: str, dt: float = 100.0, sigma: float = 1.0) -> None:
        if task not in _MAKERS:
            raise ValueError(f"data.task must be one of {sorted(_MAKERS)} for the vectorized generator, got {task!r}")
        self.spec = TASKS[task]
        self.task, self.dt = task, float(dt)
        self.periods = _periods(self.spec, self.dt)
        self.seq_len = sum(s.stop - s.start for s in self.periods.values())
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.sigma = sigma / np.sqrt(self.dt)  # neurogym's input noise, per step
        self.n_input = {"2af": 3, "dms": 3, "cxt": 7}[task]
        self.n_output = 3

    def batch(self, seed: int, index: int, batch_size: int) -> tuple[Tensor, Tensor]:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))
        x, y = _MAKERS[self.task](rng, batch_size, self.periods, self.seq_len, self.sigma)
        return torch.from_numpy(x), torch.from_numpy(y)
