"""Lightning's ``--seed_everything`` seeds what a run draws unless a seed is given explicitly."""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import load_metrics, run_cli, tiny_config, write_config

from rlnet.cli import build_cli

FAST = ["--trainer.max_steps", "3", "--trainer.enable_checkpointing", "false"]


def _fit(cfg_path, run_dir, *extra) -> dict:
    assert run_cli(["fit", "--config", cfg_path, *FAST, "--trainer.default_root_dir", run_dir, *extra]) == 0
    return load_metrics(run_dir)


def test_seed_everything_seeds_weights_and_data(tmp_path):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_config(max_steps=3, n_members=2))
    a = _fit(cfg, tmp_path / "a", "--seed_everything", "5")
    b = _fit(cfg, tmp_path / "b", "--seed_everything", "7")
    a2 = _fit(cfg, tmp_path / "a2", "--seed_everything", "5")
    # metrics.json records the seeds used: members 5, 6 / 7, 8 and the data stream's seed.
    assert a["seeds"] == {"seed_everything": 5, "members": [5, 6], "data": 5}
    assert b["seeds"] == {"seed_everything": 7, "members": [7, 8], "data": 7}
    assert [m["seed"] for m in a["members"]] == [5, 6]
    assert a["config"]["model"]["init_args"]["seed"] == 5 and a["config"]["data"]["init_args"]["seed"] == 5
    # Two seeds: two different networks (initial spectra differ) and different measures.
    assert a["members"][0]["initial_spectrum"] != b["members"][0]["initial_spectrum"]
    assert a["members"][0]["weight_change_norm"] != b["members"][0]["weight_change_norm"]
    # The same seed twice: identical measures.
    for m, m2 in zip(a["members"], a2["members"], strict=True):
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment", "sign_similarity",
                    "final_loss", "initial_spectrum"):
            assert m[key] == m2[key], key


def _parse(tmp_path, cfg: dict, *extra):
    path = write_config(tmp_path / "c.yaml", cfg)
    return build_cli(["--config", str(path), "--trainer.default_root_dir", str(tmp_path / "run"), *extra],
                     run=False)


def test_explicit_seed_wins_and_says_so(tmp_path, caplog):
    cfg = tiny_config(n_members=2)
    cfg["model"]["init_args"]["seed"] = 3
    with caplog.at_level(logging.INFO):
        cli = _parse(tmp_path, cfg, "--seed_everything", "9")
    assert cli.model.seeds == [3, 4] and cli.datamodule.seed == 9
    said = [r.getMessage() for r in caplog.records if "wins over seed_everything" in r.getMessage()]
    assert said == ["rlnet: model.init_args.seed=3 wins over seed_everything=9 (explicit seeds win; "
                    "leave it out to follow seed_everything)"]


def test_explicit_seed_list_and_no_seeding(tmp_path, caplog):
    cfg = tiny_config()
    cfg["model"]["init_args"].pop("n_members")
    cfg["model"]["init_args"]["seeds"] = [4, 8]
    with caplog.at_level(logging.INFO):
        cli = _parse(tmp_path, cfg, "--seed_everything", "1")
    assert cli.model.seeds == [4, 8] and cli.datamodule.seed == 1
    assert any("seeds=[4, 8] set the initial weights" in r.getMessage() for r in caplog.records)
    cfg = tiny_config(n_members=1)
    cli = _parse(tmp_path, cfg, "--seed_everything", "false")
    assert cli.model.seeds == [0] and cli.datamodule.seed == 0  # the classes' own default


@pytest.mark.parametrize("value", [0, 12])
def test_seed_everything_matches_an_explicit_seed(tmp_path, value):
    """``--seed_everything S`` gives exactly the networks of ``model.init_args.seed=S``."""
    implicit = _parse(tmp_path, tiny_config(n_members=1), "--seed_everything", str(value))
    cfg = tiny_config(n_members=1)
    cfg["model"]["init_args"]["seed"] = value
    cfg["data"]["init_args"]["seed"] = value
    explicit = _parse(tmp_path, cfg, "--seed_everything", str(value + 1000))
    for (k, p), q in zip(implicit.model.state_dict().items(), explicit.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
