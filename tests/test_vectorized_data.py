"""The vectorised task generator against neurogym itself: same trial statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlnet.data import NeurogymDataModule
from rlnet.data.neurogym_data import TrialSampler
from rlnet.data.vectorized import VectorizedSampler

N_BATCHES, B = 128, 32  # 4096 trials from each generator
Z = 6.0  # a 6-standard-error bound: about 2e-9 false alarms per comparison


def _draw(sampler, seed: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(sampler.batch(seed, i, B) for i in range(N_BATCHES)), strict=True)
    return torch.cat(xs, 1).double().numpy(), torch.cat(ys, 1).numpy()


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, its standard error, variance and its standard error over trials (axis 1)."""
    n = x.shape[1]
    mu = x.mean(1)
    d = x - mu[:, None]
    var = (d**2).mean(1)
    m4 = (d**4).mean(1)
    return mu, np.sqrt(var / n), var, np.sqrt(np.maximum(m4 - var**2, 0) / n)


@pytest.mark.parametrize("task", ["2af", "dms", "cxt"])
def test_vectorized_matches_neurogym_statistics(task: str) -> None:
    ng, vec = TrialSampler(task), VectorizedSampler(task)
    assert (vec.seq_len, vec.n_input, vec.n_output) == (ng.seq_len, ng.n_input, ng.n_output)
    (xn, yn), (xv, yv) = _draw(ng, 1), _draw(vec, 2)
    # Labels: 0 before the decision step, the same choice frequencies there.
    assert (yn[:-1] == 0).all() and (yv[:-1] == 0).all()
    labels = sorted(set(yn[-1].tolist()))
    assert sorted(set(yv[-1].tolist())) == labels
    for c in labels:
        pn, pv = (yn[-1] == c).mean(), (yv[-1] == c).mean()
        assert abs(pn - pv) <= Z * np.sqrt(pn * (1 - pn) * 2 / yn.shape[1]), (c, pn, pv)
    # Inputs given the label: every step and channel, mean and variance.
    for c in labels:
        mn, sn, vn, svn = _moments(xn[:, yn[-1] == c])
        mv, sv, vv, svv = _moments(xv[:, yv[-1] == c])
        tol_m = Z * np.hypot(sn, sv) + 1e-6  # 1e-6: float32 inputs with zero variance
        tol_v = Z * np.hypot(svn, svv) + 1e-6
        assert (np.abs(mn - mv) <= tol_m).all(), (c, np.argwhere(np.abs(mn - mv) > tol_m))
        assert (np.abs(vn - vv) <= tol_v).all(), (c, np.argwhere(np.abs(vn - vv) > tol_v))


@pytest.mark.parametrize("task", ["2af", "dms", "cxt"])
def test_vectorized_noise_free_trials_are_neurogyms(task: str) -> None:
    """Without input noise every trial is one of finitely many patterns: both generators produce
    exactly the same set of patterns, with the same frequencies."""
    ng, vec = TrialSampler(task), VectorizedSampler(task, sigma=0.0)
    ng.env.sigma = 0.0
    counts = []
    for sampler, seed in ((ng, 1), (vec, 2)):
        x, y = _draw(sampler, seed)
        trials = np.concatenate([x.round(6), y[..., None]], -1).transpose(1, 0, 2).reshape(x.shape[1], -1)
        patterns, n = np.unique(trials, axis=0, return_counts=True)
        counts.append(dict(zip(map(tuple, patterns), n, strict=True)))
    assert set(counts[0]) == set(counts[1])
    total = N_BATCHES * B
    for k, n_ng in counts[0].items():
        p = n_ng / total
        assert abs(n_ng - counts[1][k]) / total <= Z * np.sqrt(2 * p * (1 - p) / total)


@pytest.mark.parametrize("task", ["2af", "cxt"])
def test_vectorized_noise_scale(task: str) -> None:
    """Within the stimulus period the signal is constant, so step-to-step differences are pure
    noise: their variance agrees with neurogym's."""
    ng, vec = TrialSampler(task), VectorizedSampler(task)
    s = vec.periods["stimulus"]
    v = []
    for sampler, seed in ((ng, 1), (vec, 2)):
        x, _ = _draw(sampler, seed)
        d = np.diff(x[s], axis=0)  # (steps - 1, trials, channels)
        v.append(_moments(d.transpose(2, 1, 0).reshape(x.shape[2], -1, 1)[..., 0]))
    (_, _, vn, svn), (_, _, vv, svv) = v
    assert (np.abs(vn - vv) <= Z * np.hypot(svn, svv) + 1e-6).all(), (vn, vv)


def test_vectorized_deterministic_in_seed_and_step() -> None:
    v = VectorizedSampler("cxt")
    a, b = v.batch(3, 7, 16), v.batch(3, 7, 16)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(v.batch(3, 8, 16)[0], a[0])
    assert not torch.equal(v.batch(4, 7, 16)[0], a[0])


def test_datamodule_generator_option() -> None:
    dm = NeurogymDataModule(task="dms", generator="vectorized", n_probe=8)
    x, y = dm.probe_batch()
    assert x.shape == (8, 8, 3) and y.shape == (8, 8)
    with pytest.raises(ValueError, match="generator"):
        NeurogymDataModule(task="dms", generator="fast")
