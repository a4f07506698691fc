"""Resume: a run SIGKILLed during training and restarted from its last checkpoint ends with the
same metrics.json as an uninterrupted run; the snapshot and the data position are in the checkpoint."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import torch
from conftest import PYTHON, assert_close_tree, load_metrics, run_cli, subprocess_env, tiny_config, write_config

from rlnet.safe_io import load_checkpoint

STEPS, EVERY, KILL = 30, 10, 15  # killed between the checkpoints at steps 10 and 20


def _reference_and_faulty_run(tmp_path: Path, every: int, fault: str,
                              run_name: str) -> tuple[Path, Path, Path, subprocess.CompletedProcess]:
    """Fit the tiny config into ``reference``, then (subprocess) into ``run_name`` with ``faults.<fault>`` at KILL."""
    cfg = tiny_config(max_steps=STEPS, n_members=2)
    cfg["checkpoint_every"] = every
    base = write_config(tmp_path / "run.yaml", cfg)
    faulty = write_config(tmp_path / "fault.yaml", {"trainer": {"callbacks": [
        {"class_path": f"faults.{fault}", "init_args": {"step": KILL}}]}})
    ref_dir, run_dir = tmp_path / "reference", tmp_path / run_name
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", ref_dir]) == 0
    proc = subprocess.run([PYTHON, "-m", "rlnet", "fit", "--config", str(base), "--config", str(faulty),
                           "--trainer.default_root_dir", str(run_dir)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    return base, ref_dir, run_dir, proc


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    base, ref_dir, run_dir, proc = _reference_and_faulty_run(tmp_path, EVERY, "KillAtStep", "killed")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (run_dir / "metrics.json").exists()
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == EVERY
    assert ckpt["state_dict"]["diverged_step"].tolist() == [-1, -1]  # divergence state travels too

    # The checkpoint carries the initial snapshot: the same W_h(0) and probe as the reference run.
    snap = next(v for k, v in ckpt["callbacks"].items() if "LazinessCallback" in k)["snapshot"]
    assert {"weight/W_h", "probe_x", "probe_y", "kernel", "representation", "rates"} <= set(snap)
    assert not torch.equal(snap["weight/W_h"], ckpt["state_dict"]["net.W_h"])  # W_h(0), not W_h(10)

    # Restart the same command (without the fault) from the last checkpoint.
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", run_dir, "--ckpt_path", "last"]) == 0
    ref, resumed = load_metrics(ref_dir), load_metrics(run_dir)
    assert resumed["steps"] == ref["steps"] == STEPS
    assert_close_tree(resumed["members"], ref["members"], tol=1e-6)
    assert_close_tree(resumed["summary"], ref["summary"], tol=1e-6)


def test_resume_from_run_config_and_last_without_checkpoint_starts_fresh(tmp_path):
    """``--ckpt_path last`` with no checkpoint yet starts at step 0 (so a requeued job can always
    pass it); the run's own config.yaml is a complete recipe to resume it."""
    cfg = tiny_config(max_steps=12, n_members=1)
    cfg["checkpoint_every"] = 5
    base = write_config(tmp_path / "run.yaml", cfg)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", a, "--ckpt_path", "last"]) == 0
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", b]) == 0
    assert_close_tree(load_metrics(a)["members"], load_metrics(b)["members"], tol=0)
    # Resuming a finished run from its own config re-measures the same numbers.
    assert run_cli(["fit", "--config", a / "config.yaml", "--ckpt_path", "last", "--trainer.max_steps", 12]) == 0
    assert_close_tree(load_metrics(a)["members"], load_metrics(b)["members"], tol=1e-6)


def test_sigterm_saves_a_checkpoint_at_the_current_step_and_resumes_exactly(tmp_path):
    # checkpoint_every=1000: no periodic checkpoint before the signal
    base, ref_dir, run_dir, proc = _reference_and_faulty_run(tmp_path, 1000, "TermAtStep", "pre-empted")
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-2000:]
    assert "--ckpt_path last" in proc.stderr.strip().splitlines()[-1]
    assert not (run_dir / "metrics.json").exists()
    assert load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == KILL + 1
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", run_dir, "--ckpt_path", "last"]) == 0
    ref, resumed = load_metrics(ref_dir), load_metrics(run_dir)
    assert resumed["steps"] == ref["steps"] == STEPS
    assert_close_tree(resumed["members"], ref["members"], tol=1e-6)
