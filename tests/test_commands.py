"""The command line is discoverable: one table of subcommands, a fast --help, shipped files by name."""

from __future__ import annotations

import subprocess
import sys
import time

from rlnet import commands, resources

PYTHON = sys.executable


def test_help_lists_every_subcommand_fast_and_without_torch():
    code = ("import sys, runpy; sys.argv = ['rlnet', '--help']\n"
            "try:\n    runpy.run_module('rlnet', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('IMPORTED', [m for m in ('torch', 'lightning') if m in sys.modules])")
    t0 = time.perf_counter()
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - t0
    for name in commands.SUBCOMMANDS:
        assert f"\n  {name} " in out
    assert "IMPORTED []" in out
    assert elapsed < 2.0


def test_short_class_names_in_model_help(capsys):
    from rlnet.cli import main

    assert main(["fit", "--model.help", "RNNModule"]) == 0
    assert "--model.n_hidden" in capsys.readouterr().out


def test_shipped_files_resolve_by_name_scheme_and_path():
    names = resources.listing()
    assert "configs/dms_lowrank.yaml" in names["configs"] and "sweeps/fig1_2af.yaml" in names["sweeps"]
    packaged = resources.root() / "configs" / "dms_lowrank.yaml"
    assert resources.resolve("dms_lowrank") == packaged
    assert resources.resolve("rlnet://configs/dms_lowrank.yaml") == packaged
    assert resources.resolve("kernel_tracking") == resources.root() / "callbacks" / "kernel_tracking.yaml"
    assert resources.resolve("no_such_config") is None
    args = resources.resolve_config_args(["fit", "--config", "fig1/2af", "--config=rlnet://callbacks/laziness.yaml"])
    assert args[2] == str(resources.root() / "configs" / "fig1" / "2af.yaml")
    assert args[3] == f"--config={resources.root() / 'callbacks' / 'laziness.yaml'}"
