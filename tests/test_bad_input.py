"""Bad input: every case ends with one line ``rlnet: error: ...`` naming the problem, exit status 2,
no traceback, and nothing written (no run directory, no metrics.json)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PYTHON, assert_fit_refused, run_cli, subprocess_env, tiny_config, write_config

MODEL = "--model.init_args."
CONN = "--model.init_args.connectivity"


def _file_conn(path: Path) -> list[str]:
    return [CONN, "rlnet.connectivity.FromFile", f"{CONN}.init_args.path", str(path)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Bad files of every kind, and one good checkpoint to spoil."""
    d = tmp_path_factory.mktemp("bad_files")
    f: dict[str, Path] = {}
    f["unknown_key"] = d / "unknown.yaml"
    f["unknown_key"].write_text("model:\n  init_args:\n    n_hiden: 3\n")
    f["broken_yaml"] = d / "broken.yaml"
    f["broken_yaml"].write_text("model:\n  init_args: {n_hidden: [1, 2\n")
    f["truncated_yaml"] = d / "truncated.yaml"
    f["truncated_yaml"].write_text("model:\n  class_path: rlnet.models.RNNModule\n  init_args:\n")
    w = np.random.default_rng(0).standard_normal((16, 16))
    wn = w.copy()
    wn[2, 3] = np.nan
    np.save(d / "nan.npy", wn)
    np.save(d / "good.npy", w)
    f["nan_npy"] = d / "nan.npy"
    f["truncated_npy"] = d / "truncated.npy"
    f["truncated_npy"].write_bytes((d / "good.npy").read_bytes()[:300])
    f["object_npy"] = d / "object.npy"
    np.save(f["object_npy"], np.array([{"W": 1}], dtype=object), allow_pickle=True)
    f["rect_npy"] = d / "rect.npy"
    np.save(f["rect_npy"], w[:, :8])
    f["big_npy"] = d / "big.npy"
    np.save(f["big_npy"], np.eye(20))
    f["text_csv"] = d / "text.csv"
    f["text_csv"].write_text("1,2\nthree,4\n")
    f["text_ckpt"] = d / "text.ckpt"
    f["text_ckpt"].write_text("not a checkpoint\n")

    # A real checkpoint of the tiny model, then a truncated copy and one of another shape.
    cfg = tiny_config(max_steps=4)
    cfg["checkpoint_every"] = 2
    run = d / "good_run"
    assert run_cli(["fit", "--config", write_config(d / "good.yaml", cfg), "--trainer.default_root_dir", run]) == 0
    good = run / "checkpoints" / "last.ckpt"
    f["truncated_ckpt"] = d / "truncated.ckpt"
    f["truncated_ckpt"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    ck = torch.load(good, weights_only=True)
    ck["state_dict"]["net.W_h"] = torch.zeros(2, 8, 8)
    f["other_model_ckpt"] = d / "other.ckpt"
    torch.save(ck, f["other_model_ckpt"])
    return f


# (case id, extra command-line arguments (a function of the files), words the error line must hold)
CASES = [
    ("config file missing", lambda f: ["--config", "/nonexistent/run.yaml"], ["/nonexistent/run.yaml", "not exist"]),
    ("config not YAML", lambda f: ["--config", f["broken_yaml"]], ["broken.yaml", "not valid YAML", "line"]),
    ("config truncated", lambda f: ["--config", f["truncated_yaml"]], ["model", "empty"]),
    ("config unknown key", lambda f: ["--config", f["unknown_key"]], ["n_hiden", "not accepted"]),
    ("override wrong type", lambda f: [MODEL + "n_hidden", "abc"], ["model.n_hidden", "int", "abc"]),
    ("override unknown key", lambda f: [MODEL + "n_hiddden", "3"], ["n_hiddden"]),
    ("lr not positive", lambda f: [MODEL + "lr", "-1"], ["model.lr", "> 0"]),
    ("momentum out of range", lambda f: [MODEL + "momentum", "1.5"], ["model.momentum", "[0, 1)"]),
    ("unknown task", lambda f: ["--data.init_args.task", "foo"], ["data.task", "foo"]),
    ("batch size zero", lambda f: ["--data.init_args.batch_size", "0"], ["data.batch_size", ">= 1"]),
    ("no members", lambda f: [MODEL + "n_members", "0"], ["n_members", ">= 1"]),
    ("unknown discretization", lambda f: [MODEL + "discretization", "rk4"], ["model.discretization", "rk4"]),
    ("threads zero", lambda f: ["--num_threads", "0"], ["num_threads", ">= 1"]),
    ("negative max_steps", lambda f: ["--trainer.max_steps", "-5"], ["max_steps", "-5"]),
    ("negative checkpoint_every", lambda f: ["--checkpoint_every", "-3"], ["checkpoint_every", ">= 0"]),
    ("kernel_trials zero", lambda f: ["--laziness.kernel_trials", "0"], ["kernel_trials", ">= 1"]),
    ("unknown measured weight", lambda f: ["--laziness.weights", "[W_z]"], ["laziness.weights", "W_z"]),
    ("unknown connectivity", lambda f: [CONN, "rlnet.connectivity.Foo"], ["model.connectivity", "Foo"]),
    ("rank zero", lambda f: [CONN, "rlnet.connectivity.SVDRank", f"{CONN}.init_args.rank", "0"],
     ["connectivity.rank", ">= 1"]),
    ("rank above N", lambda f: [CONN, "rlnet.connectivity.SVDRank", f"{CONN}.init_args.rank", "17"],
     ["connectivity.rank=17", "n_hidden=16"]),
    ("gain negative", lambda f: [CONN, "rlnet.connectivity.Null", f"{CONN}.init_args.g", "-1"],
     ["connectivity.g", "> 0"]),
    ("matrix file missing", lambda f: _file_conn(Path("/nonexistent/W.npy")), ["/nonexistent/W.npy", "not exist"]),
    ("matrix with NaN", lambda f: _file_conn(f["nan_npy"]), ["nan.npy", "non-finite", "[2, 3]"]),
    ("matrix truncated", lambda f: _file_conn(f["truncated_npy"]), ["truncated.npy", "truncated"]),
    ("matrix pickled objects", lambda f: _file_conn(f["object_npy"]), ["object.npy", "refused"]),
    ("matrix not square", lambda f: _file_conn(f["rect_npy"]), ["rect.npy", "square"]),
    ("matrix wrong size", lambda f: _file_conn(f["big_npy"]), ["big.npy", "(20, 20)", "n_hidden=16"]),
    ("matrix text entries", lambda f: _file_conn(f["text_csv"]), ["text.csv", "malformed"]),
    ("checkpoint missing", lambda f: ["--ckpt_path", "/nonexistent/last.ckpt"],
     ["/nonexistent/last.ckpt", "not exist"]),
    ("checkpoint not a checkpoint", lambda f: ["--ckpt_path", f["text_ckpt"]], ["text.ckpt", "not a PyTorch file"]),
    ("checkpoint truncated", lambda f: ["--ckpt_path", f["truncated_ckpt"]], ["truncated.ckpt", "truncated"]),
    ("checkpoint of another model", lambda f: ["--ckpt_path", f["other_model_ckpt"]],
     ["other.ckpt", "net.W_h", "(2, 8, 8)", "(2, 16, 16)"]),
    ("checkpoint unsafe loading asked", lambda f: ["--weights_only", "false"], ["weights_only", "refuses"]),
    ("run directory under a file", lambda f: ["--trainer.default_root_dir", f["rect_npy"] / "run"],
     ["trainer.default_root_dir", "rect.npy", "not a directory"]),
]


@pytest.mark.parametrize("make_args, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, files, make_args, words):
    assert_fit_refused(tmp_path, capsys, make_args(files), words)


def test_finished_run_is_not_overwritten(tmp_path, capsys):
    base = write_config(tmp_path / "base.yaml", tiny_config(max_steps=3))
    run_dir = tmp_path / "run"
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", run_dir]) == 0
    before = (run_dir / "metrics.json").read_bytes()
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", run_dir, "--model.init_args.lr", "0.1"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("rlnet: error: ") and "already holds a finished run's results" in line
    assert (run_dir / "metrics.json").read_bytes() == before


def test_at_least_fifteen_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 15


def test_exit_status_of_the_process(tmp_path):
    """The same contract at the process level: ``python -m rlnet`` exits 2 with one error line."""
    base = write_config(tmp_path / "base.yaml", tiny_config())
    proc = subprocess.run([PYTHON, "-m", "rlnet", "fit", "--config", str(base), "--model.init_args.lr", "0",
                           "--trainer.default_root_dir", str(tmp_path / "run")],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "rlnet: error: model.lr must be > 0, got 0.0"
    assert not (tmp_path / "run").exists()
