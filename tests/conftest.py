"""Shared helpers: tiny configs and in-process CLI runs (one torch thread, no logger)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "offline")


def _cpu_has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


# The fused C kernels must build wherever the CPU has AVX-512 and a C compiler is installed: there, a
# build failure fails the tests that need them (no skip). Elsewhere those tests skip, saying why.
KERNELS_EXPECTED = (_cpu_has_avx512() and (shutil.which("cc") or shutil.which("gcc")) is not None
                    and os.environ.get("RLNET_FUSED", "1") != "0")
NO_KERNELS_REASON = ("no AVX-512, no C compiler, or RLNET_FUSED=0 here, so rlnet runs its torch path "
                     "(same results)")
needs_kernels = pytest.mark.skipif(not KERNELS_EXPECTED, reason=NO_KERNELS_REASON)


def require_kernels():
    """The compiled kernels; a test that needs them fails (with the build's warning) if they did not
    build on a machine where they must."""
    import warnings

    from rlnet.nets import fused

    lib = fused.library()
    if lib is None:
        fused.library.cache_clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib = fused.library()
        why = "; ".join(str(w.message) for w in caught) or "library() returned None without a warning"
        assert lib is not None, f"the fused kernels did not build on a machine with AVX-512 and cc: {why}"
    return lib


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` run where torch sees CUDA; elsewhere they are deselected (not skipped),
    so a CPU machine reports zero skips. Run them alone with ``python -m pytest -m gpu``."""
    if torch.cuda.is_available():
        return
    gpu = [it for it in items if it.get_closest_marker("gpu") is not None]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [it for it in items if it.get_closest_marker("gpu") is None]


def pytest_report_header(config: pytest.Config) -> str:
    cuda = "CUDA available: gpu tests run" if torch.cuda.is_available() else "no CUDA: gpu tests deselected"
    kernels = "fused kernels required" if KERNELS_EXPECTED else f"fused-kernel tests skip ({NO_KERNELS_REASON})"
    return f"rlnet: {cuda}; {kernels}"


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


# Ranges of the per-member measures in metrics.json (a NaN fails every check: comparisons with NaN are
# False). Alignments are cosines between positive semi-definite Gram matrices or kernels: in [0, 1].
UNIT = ("representation_alignment", "kernel_alignment", "sign_similarity", "accuracy",
        "theory_kernel_alignment", "eq14_alignment", "initial_eigenvalue_effective_rank",
        "initial_singular_value_effective_rank")
NONNEGATIVE = ("weight_change_norm", "final_loss")


def assert_member_measures_valid(member: dict, required: tuple[str, ...] = ("weight_change_norm",
                                 "representation_alignment", "kernel_alignment", "final_loss")) -> None:
    """Every measure of a (non-diverged) member is a finite number in its range; ``required`` present."""
    where = f"member seed {member.get('seed')}"
    for key in required:
        assert member.get(key) is not None, f"{where}: {key} missing or null"
    for key in UNIT + NONNEGATIVE:
        if key not in member or (key == "accuracy" and member[key] is None):
            continue
        v = member[key]
        assert isinstance(v, (int, float)) and math.isfinite(v), f"{where}: {key} = {v!r} is not a finite number"
        lo, hi = (0.0, 1.0) if key in UNIT else (0.0, math.inf)
        assert lo - 1e-6 <= v <= hi + 1e-6, f"{where}: {key} = {v} outside [{lo}, {hi}]"
    for name, v in (member.get("weight_change_by_weight") or {}).items():
        assert math.isfinite(v) and v >= 0, f"{where}: weight_change_by_weight[{name}] = {v}"
    assert member.get("diverged") in (False, None), f"{where}: diverged"


@pytest.fixture
def tiny(tmp_path: Path):
    """Write a tiny config to ``tmp_path`` and return its path; keyword arguments go to the model."""

    def make(name: str = "tiny.yaml", **kw: object) -> Path:
        return write_config(tmp_path / name, tiny_config(**kw))

    return make


def assert_fit_refused(tmp_path, capsys, extra: list, words: list[str]) -> None:
    """``rlnet fit`` on the tiny config plus ``extra`` ends with exactly one ``rlnet: error:`` line
    holding every word, exit status 2, no traceback, and writes nothing (no run directory, no
    ``metrics.json``)."""
    run_dir = tmp_path / "run"
    base = write_config(tmp_path / "base.yaml", tiny_config())
    rc = run_cli(["fit", "--config", base, "--trainer.default_root_dir", run_dir, *extra])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err[-3000:]
    assert "Traceback" not in err
    assert lines[-1].startswith("rlnet: error: ") and sum(ln.startswith("rlnet: error") for ln in lines) == 1
    for w in words:
        assert w in lines[-1], lines[-1]
    assert not run_dir.exists(), sorted(p.name for p in run_dir.rglob("*"))
    assert not list(tmp_path.rglob("metrics.json"))
