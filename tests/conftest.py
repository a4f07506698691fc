"""Shared helpers: tiny configs and in-process CLI runs (one torch thread, no logger)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "offline")


def tiny_config(max_steps: int = 20, n_members: int = 2, **model: object) -> dict:
    """A run of a few seconds: N = 16, batches of 4 trials, 8 probe trials."""
    return {
        "seed_everything": 0,
        "trainer": {"max_steps": max_steps, "logger": False, "enable_progress_bar": False},
        "model": {"class_path": "rlnet.models.RNNModule",
                  "init_args": {"n_hidden": 16, "n_members": n_members, **model}},
        "data": {"class_path": "rlnet.data.NeurogymDataModule",
                 "init_args": {"task": "2af", "batch_size": 4, "n_probe": 8, "n_val": 8}},
        "laziness": {"kernel_trials": 4, "verbose": False},
    }


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(args: list[str]) -> int:
    from rlnet.cli import main

    return main([str(a) for a in args])


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    env["WANDB_MODE"] = "offline"
    env["OMP_NUM_THREADS"] = "1"
    return env


PYTHON = sys.executable


def load_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def assert_close_tree(a: object, b: object, tol: float = 1e-6, path: str = "") -> None:
    """Recursive comparison: numbers to ``tol`` (relative to max(1, |a|)), everything else equal."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_close_tree(a[k], b[k], tol, f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close_tree(x, y, tol, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, (int, float)), f"{path}: {a} vs {b}"
        assert math.isclose(a, b, rel_tol=tol, abs_tol=tol), f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


@pytest.fixture
def tiny(tmp_path: Path):
    """Write a tiny config to ``tmp_path`` and return its path; keyword arguments go to the model."""

    def make(name: str = "tiny.yaml", **kw: object) -> Path:
        return write_config(tmp_path / name, tiny_config(**kw))

    return make
