"""The W&B logger follows W&B's environment, and commands rendered by W&B's own agent code run
rlnet's CLI (parsed and built here, never trained, never contacting a server)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlnet.cli import build_cli
from rlnet.loggers import WandbLogger, wandb_mode

REPO = Path(__file__).resolve().parents[1]
WANDB_VARS = ("WANDB_MODE", "WANDB_SWEEP_ID", "WANDB_RUN_ID", "WANDB_PROJECT", "WANDB_ENTITY")


@pytest.fixture
def clean_env(monkeypatch):
    for var in WANDB_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("env, mode", [
    ({}, "offline"),
    ({"WANDB_SWEEP_ID": "s1", "WANDB_RUN_ID": "r1"}, "online"),  # what `wandb agent` sets
    ({"WANDB_MODE": "online"}, "online"),
    ({"WANDB_MODE": "run"}, "online"),
    ({"WANDB_MODE": "offline", "WANDB_SWEEP_ID": "s1"}, "offline"),  # an explicit mode wins
    ({"WANDB_MODE": "dryrun"}, "offline"),
    ({"WANDB_MODE": "disabled"}, "disabled"),
])
def test_wandb_mode_rule(env, mode):
    assert wandb_mode(env) == mode


def test_unknown_wandb_mode_is_an_error():
    with pytest.raises(ValueError, match="WANDB_MODE='sometimes'"):
        wandb_mode({"WANDB_MODE": "sometimes"})


def _cli_logger(tmp_path, *extra: str):
    cfg = REPO / "configs" / "2af_lowrank.yaml"
    cli = build_cli(["--config", str(cfg), "--model.init_args.n_hidden", "8", "--trainer.default_root_dir",
                     str(tmp_path / "run"), *extra], run=False)
    return cli.trainer.logger


def test_agent_environment_gives_an_online_logger_on_the_agents_run(tmp_path, clean_env):
    clean_env.setenv("WANDB_SWEEP_ID", "abc123")
    clean_env.setenv("WANDB_RUN_ID", "run42")
    clean_env.setenv("WANDB_PROJECT", "sweeps")
    logger = _cli_logger(tmp_path)
    assert isinstance(logger, WandbLogger)
    assert logger.mode == "online" and not logger.offline
    assert logger.version == "run42"  # attached to the agent's run id (no server contacted yet)
    assert logger._wandb_init["mode"] == "online" and logger._wandb_init["project"] == "sweeps"
    assert logger.save_dir == str(tmp_path / "run")
    import os

    assert "WANDB_MODE" not in os.environ  # nothing switched the process (and its children) offline


def test_no_environment_gives_an_offline_logger(tmp_path, clean_env):
    logger = _cli_logger(tmp_path)
    assert isinstance(logger, WandbLogger)
    assert logger.mode == "offline" and logger._wandb_init["mode"] == "offline"
    assert logger._wandb_init["project"] == "rlnet" and logger.version is None
    assert logger._offline is False  # Lightning's flag that would export WANDB_MODE=dryrun on first use
    logger = _cli_logger(tmp_path, "--trainer.logger.init_args.offline", "false")  # explicit wins
    assert logger.mode == "online"


def _agent_command(sweep_file: Path, args: dict, tmp_path: Path, monkeypatch) -> list[str]:
    """The command W&B's agent (``wandb.wandb_agent.Agent._command_run``) builds for one run of
    ``sweep_file`` with parameters ``args``; its process start is replaced by a recorder."""
    wandb_agent = pytest.importorskip("wandb.wandb_agent")
    started: list[dict] = []

    class Recorder:
        def __init__(self, command=None, env=None, **kw):
            started.append({"command": command, "env": env})

    monkeypatch.setattr(wandb_agent, "AgentProcess", Recorder)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep1")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    sweep = yaml.safe_load(sweep_file.read_text())
    agent = wandb_agent.Agent(api=None, queue=None, sweep_id="sweep1")
    agent._sweep_command = sweep["command"]  # what the server hands the agent from the sweep file
    # The server sends the parameters sorted by name, each as {"value": ...}.
    agent._command_run({"type": "run", "run_id": "run7", "program": sweep.get("program"),
                        "args": {k: {"value": args[k]} for k in sorted(args)}})
    (run,) = started
    assert run["env"]["WANDB_RUN_ID"] == "run7" and run["env"]["WANDB_SWEEP_ID"] == "sweep1"
    return run["command"]


def _first_point(sweep: dict) -> dict:
    out = {}
    for k, spec in sweep["parameters"].items():
        out[k] = spec["value"] if "value" in spec else spec["values"][0]
    return out


SWEEPS = ["fig1_2af.yaml", "fig3b_linear.yaml", "fig4a_linear.yaml", "fig10_lr.yaml"]


@pytest.mark.parametrize("name", SWEEPS)
def test_wandb_agent_commands_parse(name, tmp_path, monkeypatch):
    sweep_file = REPO / "sweeps" / name
    sweep = yaml.safe_load(sweep_file.read_text())
    params = _first_point(sweep)
    cmd = _agent_command(sweep_file, params, tmp_path, monkeypatch)
    assert cmd[:5] == ["/usr/bin/env", "python", "-m", "rlnet", "fit"]
    argv = cmd[5:]
    # W&B's ${args}: one --key=value per parameter, sorted by key, where the file puts ${args}.
    assert argv[-len(params):] == [f"--{k}={params[k]}" for k in sorted(params)]
    monkeypatch.chdir(REPO)  # sweep files name configs relative to the repository
    monkeypatch.setenv("WANDB_RUN_ID", "run7")
    # Small sizes so that building the model is quick; appended after W&B's arguments.
    small = ["--trainer.default_root_dir", str(tmp_path / "run")]
    cli = build_cli([*argv, *small], run=False)
    for key, value in params.items():
        if key == "config":
            continue
        node = cli.config
        for part in key.split("."):
            node = node[part]
        assert _holds(node, value), key
    assert cli.trainer.logger.mode == "online" and cli.trainer.logger.version == "run7"


def _holds(parsed, given) -> bool:
    """The parsed value carries what the sweep gave (a structure's unspecified arguments take their
    defaults, so a given mapping need only be contained in the parsed one)."""
    if hasattr(parsed, "as_dict"):
        parsed = parsed.as_dict()
    if isinstance(given, dict):
        return isinstance(parsed, dict) and all(k in parsed and _holds(parsed[k], v) for k, v in given.items())
    if isinstance(given, list):
        return isinstance(parsed, list) and len(parsed) == len(given) and all(map(_holds, parsed, given))
    return parsed == given


def test_no_shipped_config_switches_logging_off():
    for cfg in sorted(REPO.glob("configs/**/*.yaml")):
        trainer = (yaml.safe_load(cfg.read_text()) or {}).get("trainer") or {}
        assert trainer.get("logger", True) is not False, cfg


def test_final_measures_reach_the_active_logger(tmp_path):
    """A linear config (they used to set ``logger: false``) logs its end-of-training summary, the
    metric the sweep files name, to the logger that is active (here Lightning's CSVLogger)."""
    import csv
    import json

    from rlnet.cli import main

    run = tmp_path / "run"
    assert main(["fit", "--config", str(REPO / "configs/linear_fig3b_aligned.yaml"), "--trainer.max_steps", "5",
                 "--model.init_args.n_hidden", "8", "--laziness.kernel_trials", "6", "--laziness.verbose", "false",
                 "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                 "--trainer.logger.save_dir", str(tmp_path / "csv"), "--trainer.default_root_dir", str(run)]) == 0
    summary = json.loads((run / "metrics.json").read_text())["summary"]
    (path,) = (tmp_path / "csv").rglob("metrics.csv")
    rows = [r for r in csv.DictReader(path.open()) if r.get("final/mean_kernel_alignment")]
    assert len(rows) == 1
    assert float(rows[0]["final/mean_kernel_alignment"]) == pytest.approx(summary["mean_kernel_alignment"], rel=1e-12)
    metric = yaml.safe_load((REPO / "sweeps/fig3b_linear.yaml").read_text())["metric"]["name"]
    assert metric == "final/mean_kernel_alignment"
