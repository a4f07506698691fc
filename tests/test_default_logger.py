"""The default logger: a plain ``python -m rlnet fit`` (no ``--trainer.logger``) logs to W&B offline,
writes the offline run under the run directory, and needs no network."""

from __future__ import annotations

import subprocess

from conftest import PYTHON, assert_member_measures_valid, load_metrics, subprocess_env, tiny_config, write_config


def test_tiny_fit_with_the_default_wandb_logger_writes_an_offline_run(tmp_path):
    cfg = tiny_config(max_steps=4)
    del cfg["trainer"]["logger"]  # the CLI's default: WandbLogger(offline=True, project="rlnet")
    cfg["trainer"]["log_every_n_steps"] = 1
    config = write_config(tmp_path / "tiny.yaml", cfg)
    env = subprocess_env()
    env.pop("WANDB_MODE")  # the CLI's own default must make it offline
    env["WANDB_BASE_URL"] = "http://127.0.0.1:9"  # a closed port: any attempt to reach a server fails
    env["WANDB_DIR"] = env["WANDB_CACHE_DIR"] = env["WANDB_CONFIG_DIR"] = env["WANDB_DATA_DIR"] = str(tmp_path / "wb")
    run = tmp_path / "run"
    proc = subprocess.run([PYTHON, "-m", "rlnet", "fit", "--config", str(config), "--trainer.default_root_dir",
                           str(run)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1, sorted(p.name for p in run.rglob("*"))
    (log,) = offline[0].glob("run-*.wandb")
    assert b"train/loss" in log.read_bytes()  # the logged training loss is in the offline run
    assert not list((run / "wandb").glob("run-*"))  # no online run directory
    for m in load_metrics(run)["members"]:
        assert_member_measures_valid(m)
