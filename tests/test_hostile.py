"""Hostile files and faults: tried as a crafted file or an unlucky user would.

Every case ends with one line (``rlnet: error: ...`` or, for a skipped record, ``rlnet: warning:
...``), exit status 2 (0 where the report goes on without the bad record), no traceback, nothing
half-written, and nothing that a file names is imported or executed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, assert_fit_refused, run_cli, tiny_config, write_config

import rlnet.cli  # imported first (Lightning's log handler keeps the session's stderr, not a test's)
from rlnet.atomic import atomic_file
from rlnet.connectivity import REGISTRY, SVDRank
from rlnet.connectivity.from_config import structure_from_config
from rlnet.experiments import report
from rlnet.experiments.results_db import ResultsDB
from rlnet.safe_io import load_checkpoint

MODEL = "--model.init_args."
CONN = "--model.init_args.connectivity"


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err[-3000:]
    assert lines and lines[-1].startswith("rlnet: error: "), err[-3000:]
    assert sum(ln.startswith("rlnet: error") for ln in lines) == 1, err[-3000:]
    return lines[-1]


# ---- the command line: configs, sizes, seeds ------------------------------------------------------
ALIAS_BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcde", "bcdef"))


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile_configs")
    files = {
        "binary": bytes(range(256)) * 4,
        "nul": b"model:\n  init_args:\n    lr: 0.1\x00\n",
        "list": b"- model\n- data\n",
        "empty": b"",
        "comments only": b"# nothing here\n",
        "scalar": b"just a sentence\n",
        "lr inf": b"model:\n  init_args:\n    lr: .inf\n",
        "lr nan": b"model:\n  init_args:\n    lr: .nan\n",
        "tau inf": b"model:\n  init_args:\n    tau: .inf\n",
        "tau nan": b"model:\n  init_args:\n    tau: .nan\n",
        "g inf": b"model:\n  init_args:\n    connectivity:\n      class_path: rlnet.connectivity.Null\n"
                 b"      init_args:\n        g: .inf\n",
        "alias bomb": ALIAS_BOMB.encode(),
        "seeds repeated": b"model:\n  init_args:\n    seeds: [4, 4]\n",
        "huge": b"# " + b"x" * (17 * 2**20) + b"\n",
    }
    out = {}
    for name, data in files.items():
        out[name] = d / (name.replace(" ", "_") + ".yaml")
        out[name].write_bytes(data)
    out["fifo"] = d / "fifo.yaml"
    os.mkfifo(out["fifo"])  # nothing ever writes it: reading it would block
    return out


def _cfg(name: str):
    return lambda c: ["--config", c[name]]


# (case id, extra arguments (a function of the config files), words the error line must hold)
CLI_CASES = [
    ("config binary", _cfg("binary"), ["binary.yaml", "not a text file", "UTF-8"]),
    ("config with NUL bytes", _cfg("nul"), ["nul.yaml", "NUL"]),
    ("config a list", _cfg("list"), ["list.yaml", "holds a list", "mapping"]),
    ("config empty", _cfg("empty"), ["empty.yaml", "is empty"]),
    ("config only comments", _cfg("comments only"), ["comments_only.yaml", "is empty"]),
    ("config a scalar", _cfg("scalar"), ["scalar.yaml", "holds a str", "mapping"]),
    ("config lr .inf", _cfg("lr inf"), ["model.init_args.lr", ".inf", "finite"]),
    ("config lr .nan", _cfg("lr nan"), ["model.init_args.lr", ".nan", "finite"]),
    ("config tau .inf", _cfg("tau inf"), ["model.init_args.tau", ".inf", "finite"]),
    ("config tau .nan", _cfg("tau nan"), ["model.init_args.tau", ".nan", "finite"]),
    ("config g .inf", _cfg("g inf"), ["connectivity.init_args.g", ".inf", "finite"]),
    ("config alias bomb", _cfg("alias bomb"), ["alias_bomb.yaml", "aliases"]),
    ("config huge", _cfg("huge"), ["huge.yaml", "bytes", "small"]),
    ("config a FIFO", _cfg("fifo"), ["fifo.yaml", "not a regular file"]),
    ("config a device", lambda c: ["--config", "/dev/zero"], ["/dev/zero", "not a regular file"]),
    ("config a directory", lambda c: ["--config", c["fifo"].parent], ["not a regular file"]),
    ("config repeated seed", _cfg("seeds repeated"), ["model.seeds", "repeats seed 4", "twice"]),
    ("override lr .inf", lambda c: [MODEL + "lr", ".inf"], ["model.lr", "finite", "inf"]),
    ("override tau .nan", lambda c: [MODEL + "tau", ".nan"], ["tau", "finite", "nan"]),
    ("override dt .inf", lambda c: [MODEL + "dt", ".inf"], ["dt", "finite", "inf"]),
    ("override momentum .nan", lambda c: [MODEL + "momentum", ".nan"], ["momentum"]),
    ("override g .inf", lambda c: [CONN, "rlnet.connectivity.SVDRank", f"{CONN}.init_args.g", ".inf"],
     ["connectivity.g", "finite", "inf"]),
    ("override g 1e30 (finite, overflows float32)",
     lambda c: [CONN, "rlnet.connectivity.SVDRank", f"{CONN}.init_args.g", "1e30", f"{CONN}.init_args.rank", "1"],
     ["model.connectivity", "g=1e+30", "non-finite initial W_h", "smaller gain"]),
    ("override repeated seed", lambda c: [MODEL + "seeds", "[3, 3]"], ["model.seeds", "repeats seed 3"]),
    ("repeated structure and seed (zip)", lambda c: [MODEL + "connectivities", "[rlnet.connectivity.Null, "
                                                     "rlnet.connectivity.Null]", MODEL + "pairing", "zip",
                                                     MODEL + "seeds", "[5, 5]"], ["repeats seed 5"]),
    ("run name with ../", lambda c: ["--run_name", "../../outside"], ["run_name", "plain name"]),
    ("members 10^6", lambda c: [MODEL + "n_members", "1000000", MODEL + "n_hidden", "300"],
     ["needs at least", "TB", "weights", "available", "n_members"]),
    ("batch 10^9", lambda c: ["--data.init_args.batch_size", "1000000000"],
     ["needs at least", "GB", "backpropagation through time", "available", "batch_size"]),
    ("probe trials 10^9", lambda c: ["--data.init_args.n_probe", "1000000000"], ["needs at least", "probe rates"]),
    # A kernel takes the first kernel_trials probe trials: a larger kernel_trials alone is no larger kernel.
    ("kernel trials 10^6", lambda c: ["--laziness.kernel_trials", "1000000", "--data.init_args.n_probe", "1000000"],
     ["needs at least", "tangent kernels"]),
    # The tracking callback's kernels count too: its own K_0 and K_t, beside the laziness kernels.
    ("tracking kernel trials 10^5", lambda c: ["--config", str(REPO / "callbacks" / "kernel_tracking.yaml"),
                                               "--trainer.callbacks.init_args.kernel_trials", "100000",
                                               "--data.init_args.n_probe", "100000"],
     ["needs at least", "tangent kernels (KernelTrackingCallback)"]),
    ("validation trials 10^12", lambda c: ["--data.init_args.n_val", "1000000000000"],
     ["needs at least", "validation batch"]),
    ("time step 1e-300", lambda c: ["--data.init_args.dt", "1e-300", MODEL + "dt", "1e-300"],
     ["needs at least", "data.dt=1e-300", "increase data.dt"]),
]


@pytest.mark.parametrize("make_args, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_hostile_cli_input_one_line_exit_2_nothing_written(tmp_path, capsys, configs, make_args, words):
    assert_fit_refused(tmp_path, capsys, make_args(configs), words)


def test_zip_pairing_may_reuse_a_seed_across_structures():
    """A paired design (the same seed under two structures) is two networks: not refused."""
    from rlnet.connectivity import Null
    from rlnet.models import RNNModule

    m = RNNModule(n_hidden=8, connectivities=[Null(), SVDRank(rank=1)], pairing="zip", seeds=[5, 5])
    assert m.seeds == [5, 5] and not torch.equal(m.net.W_h[0], m.net.W_h[1])


def test_memory_estimate_equals_an_independent_count():
    """The weights part is the model's own parameter bytes, held four times (parameters, gradients,
    momentum, initial snapshot); the BPTT part is 4 tensors of E x T x B x N float32."""
    from rlnet.memory import fit_parts
    from rlnet.models import RNNModule

    m = RNNModule(n_input=3, n_output=3, n_hidden=16, n_members=3)
    P = sum(p.numel() for p in m.parameters())
    assert P == 3 * (16 * 16 + 16 * 3 + 3 * 16)  # W_h, W_x, W_o (no biases)
    parts = fit_parts(P, 3, 16, seq_len=8, batch_size=4, n_probe=8, kernel_trials=4, n_output=3, n_val=5)
    assert parts["weights"] == P * 4 * 4
    assert parts["backpropagation through time"] == 4 * 3 * 8 * 4 * 16 * 4
    assert parts["probe rates"] == 2 * 3 * 8 * 8 * 16 * 4
    assert parts["tangent kernels"] == 2 * 3 * (4 * 8 * 3) ** 2 * 8
    assert parts["validation batch"] == 3 * 8 * 5 * 16 * 4


def test_available_memory_is_what_proc_meminfo_says():
    from rlnet.memory import available_memory

    line = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemAvailable:"))
    meminfo = int(line.split()[1]) * 1024
    got = available_memory()
    assert got is not None and 0 < got <= meminfo * 1.05  # capped by a cgroup limit, if any


def test_runs_started_together_by_a_sweep_each_check_against_their_share(monkeypatch):
    """``rlnet sweep --jobs J`` starts J runs at once, each of which sees the whole machine free: its
    children check against 1/J of it (two packed sMNIST jobs once passed their checks together and
    the kernel tracking of one was killed for memory). A user's own setting wins."""
    from rlnet import memory
    from rlnet.experiments.sweep import _child_env

    monkeypatch.setattr(memory, "_meminfo_available", lambda: 24_000)
    monkeypatch.setattr(memory, "_cgroup_available", lambda: None)
    monkeypatch.delenv(memory.MEMORY_SHARE_ENV, raising=False)
    assert memory.available_memory() == 24_000
    assert memory.MEMORY_SHARE_ENV not in _child_env(1)
    env = _child_env(3)
    assert env[memory.MEMORY_SHARE_ENV] == "3"
    monkeypatch.setenv(memory.MEMORY_SHARE_ENV, env[memory.MEMORY_SHARE_ENV])
    assert memory.available_memory() == 8_000
    assert _child_env(2)[memory.MEMORY_SHARE_ENV] == "3"  # set by the user: kept
    for bad in ("0", "-2", "x", ""):
        monkeypatch.setenv(memory.MEMORY_SHARE_ENV, bad)
        assert memory.available_memory() == 24_000


# ---- resuming with changed settings --------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A finished run with a checkpoint at step 4 (and its config.yaml), and an unfinished copy."""
    d = tmp_path_factory.mktemp("hostile_resume")
    cfg = tiny_config(max_steps=4)
    cfg["checkpoint_every"] = 2
    base = write_config(d / "base.yaml", cfg)
    run = d / "run"
    assert run_cli(["fit", "--config", base, "--trainer.default_root_dir", run]) == 0
    return {"base": base, "run": run, "ckpt": run / "checkpoints" / "last.ckpt"}


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


RESUME_CASES = [
    ("learning rate", [MODEL + "lr", "0.1"], ["model.init_args.lr", "0.003", "0.1"]),
    ("momentum and tau", [MODEL + "momentum", "0.5", MODEL + "tau", "200"],
     ["model.init_args.momentum", "model.init_args.tau"]),
    ("connectivity", [CONN, "rlnet.connectivity.SVDRank", f"{CONN}.init_args.rank", "2"], ["connectivity"]),
    ("task's data", ["--data.init_args.batch_size", "8"], ["data.init_args.batch_size", "4", "8"]),
    ("seed", ["--seed_everything", "3"], ["seed_everything"]),
]


@pytest.mark.parametrize("how", ["last", "file"])
@pytest.mark.parametrize("extra, words", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_resume_with_a_changed_setting_is_refused(trained, capsys, how, extra, words):
    ckpt = "last" if how == "last" else trained["ckpt"]
    before = _snapshot(trained["run"])
    rc = run_cli(["fit", "--config", trained["base"], "--trainer.default_root_dir", trained["run"],
                  "--ckpt_path", ckpt, "--trainer.max_steps", "6", *extra])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "fixes settings that this command changes" in line
    for w in words:
        assert w in line, line
    assert _snapshot(trained["run"]) == before  # nothing written: checkpoint, metrics.json, config.yaml


def test_checkpoint_naming_a_class_imports_nothing(tmp_path, capsys, trained):
    """LightningCLI would import the class a checkpoint's hyper_parameters name (``_class_path``);
    rlnet compares the name as text and refuses it."""
    ck = torch.load(trained["ckpt"], weights_only=True)
    ck["hyper_parameters"]["_class_path"] = "this.Zen"  # importing `this` prints the Zen of Python
    evil = tmp_path / "evil.ckpt"
    torch.save(ck, evil)
    sys.modules.pop("this", None)
    rc = run_cli(["fit", "--config", trained["base"], "--trainer.default_root_dir", tmp_path / "run",
                  "--ckpt_path", evil])
    out = capsys.readouterr()
    line = _one_error_line(out.err)
    assert rc == 2 and "model.class_path" in line and "this.Zen" in line
    assert "this" not in sys.modules and "Beautiful is better" not in out.out


# ---- checkpoints on a full disk ------------------------------------------------------------------
def test_full_disk_keeps_the_previous_checkpoint_whole(tmp_path, capsys):
    """The checkpoints folder fills up (its own filesystem, see tests/faults.FullDisk) after the
    step-2 checkpoint: saving step 4 fails; one line, exit 2, and last.ckpt is still step 2's,
    whole, with no temporary file left."""
    cfg = tiny_config(max_steps=6)
    cfg["checkpoint_every"] = 2
    cfg["trainer"]["callbacks"] = [{"class_path": "faults.FullDiskAtStep", "init_args": {"step": 3, "free": 1000}}]
    run = tmp_path / "run"
    rc = run_cli(["fit", "--config", write_config(tmp_path / "full.yaml", cfg), "--trainer.default_root_dir", run])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "No space left on device" in line
    ck = load_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ck["global_step"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    assert not (run / "metrics.json").exists()


def test_full_disk_fault_injector_breaks_a_copy_from_elsewhere(tmp_path):
    """The injector's own check: a file moved in from another folder is copied (EXDEV) and the copy
    stops at the free space, leaving the partial file that an atomic rename avoids."""
    import shutil

    from faults import FullDisk

    (tmp_path / "full").mkdir()
    src = tmp_path / "elsewhere.bin"
    src.write_bytes(b"x" * 5000)
    with FullDisk(tmp_path / "full", free=1000), pytest.raises(OSError, match="No space"):
        shutil.move(src, tmp_path / "full" / "last.ckpt")
    assert (tmp_path / "full" / "last.ckpt").stat().st_size == 1000  # what a non-atomic save leaves


def test_atomic_file_leaves_the_old_file_on_failure(tmp_path):
    from faults import FullDisk

    target = tmp_path / "last.ckpt"
    target.write_bytes(b"old")
    with FullDisk(tmp_path, free=10), pytest.raises(OSError, match="No space"), atomic_file(target) as f:
        f.write(b"y" * 100)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    with atomic_file(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new" and oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    m = os.umask(0o022)
    os.umask(m)
    return m


# ---- results are data: the report ----------------------------------------------------------------
def _metrics(connectivity: object, seed: int = 0, **measures: float) -> dict:
    """A minimal metrics.json of one network (the shape LazinessCallback writes)."""
    m = {"weight_change_norm": 1.0, "representation_alignment": 0.5, "kernel_alignment": 0.4, **measures}
    return {"config": {"model": {"class_path": "rlnet.models.RNNModule",
                                 "init_args": {"n_hidden": 8, "connectivity": connectivity}},
                       "data": {"init_args": {"task": "2af"}}},
            "members": [{"seed": seed, "connectivity": {"name": "svd", "rank": 2}, "diverged": False, **m}]}


GOOD_CONN = {"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 2}}


def _planted(marker: Path) -> list[dict]:
    cmd = f"touch {marker}"
    return [{"class_path": "subprocess.run", "init_args": {"args": cmd, "shell": True}},
            {"class_path": "os.system", "init_args": {"command": cmd}},
            {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", str(marker)]}},
            {"class_path": "builtins.exec", "init_args": {"source": f"open({str(marker)!r}, 'w')"}},
            {"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 2, "__class__": "x"}},
            {"class_path": "rlnet.connectivity.FromFile", "init_args": {"path": "/etc/passwd"}},
            {"class_path": "rlnet.safe_io.load_checkpoint", "init_args": {"path": "/etc/passwd"}}]


def test_planted_command_in_metrics_json_is_never_run(tmp_path, capsys):
    marker = tmp_path / "code_was_executed"
    runs = tmp_path / "runs"
    for i, conn in enumerate([GOOD_CONN, *_planted(marker)]):
        (runs / f"r{i}").mkdir(parents=True)
        (runs / f"r{i}" / "metrics.json").write_text(json.dumps(_metrics(conn, seed=i)))
    rc = report.main([str(runs), "--out", str(tmp_path / "rep")])
    assert rc == 0, capsys.readouterr().err
    assert not marker.exists()
    assert (tmp_path / "rep" / "spectra.png").exists()
    # Only the registered structure was rebuilt; the planted ones are refused, not called.
    recs, _ = report.load_records(runs)
    rebuilt = [report.initial_matrix(r["config"], r["seed"]) is not None for r in recs]
    assert rebuilt == [True] + [False] * len(_planted(marker))
    assert not marker.exists()


def test_planted_command_in_results_db_is_never_run(tmp_path, capsys):
    marker = tmp_path / "code_was_executed"
    db = ResultsDB(tmp_path / "results.db")
    for i, conn in enumerate([GOOD_CONN, *_planted(marker)]):
        db.record(f"run{i}", "evil", {"i": i}, "ok", metrics=_metrics(conn, seed=i))
    rc = report.main([str(tmp_path / "results.db"), "--out", str(tmp_path / "rep")])
    assert rc == 0, capsys.readouterr().err
    assert not marker.exists()


def test_rebuilt_matrix_equals_the_trained_networks_initial_weights():
    from rlnet.models import RNNModule

    m = RNNModule(n_hidden=12, connectivity=SVDRank(rank=3), seeds=[11])
    W = report.initial_matrix({"model": {"init_args": {"n_hidden": 12, "connectivity": {
        "class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 3}}}}}, 11)
    assert W is not None and torch.allclose(torch.from_numpy(W).float(), m.net.W_h[0], atol=1e-6)


@pytest.mark.parametrize("spec, words", [
    ({"class_path": "subprocess.run"}, "not one of rlnet's registered structures"),
    ({"class_path": "rlnet.connectivity.base.null_gaussian"}, "not one of"),
    ({"class_path": "SVDRank", "init_args": {"rank": 1, "evil": 1}}, "no argument 'evil'"),
    ({"class_path": "svd", "init_args": {"rank": {"class_path": "os.system"}}}, "dict value"),
    ({"class_path": "svd", "init_args": {"g": float("inf")}}, "not a finite number"),
    ({"class_path": "rlnet.connectivity.FromFile", "init_args": {"path": "W.npy"}}, "reads a file"),
    ({"class_path": "rlnet.connectivity.TeacherAligned"}, "reads a file"),
    ({"class_path": "rlnet.connectivity.EMConnectivity", "init_args": {"path": "em.npz"}}, "reads a file"),
    (["subprocess.run"], "expected a mapping"),
])
def test_structure_from_config_allows_only_the_registry(spec, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        structure_from_config(spec)


def test_every_registered_structure_is_rebuildable_by_each_name():
    for name, cls in REGISTRY.items():
        if name in ("file", "teacher"):
            continue
        for spelled in (name, cls.__name__, f"rlnet.connectivity.{cls.__name__}"):
            assert type(structure_from_config({"class_path": spelled})) is cls


MALFORMED = {
    "not JSON": b'{"members": [',
    "binary": bytes(range(256)),
    "a list": b"[1, 2, 3]",
    "members not a list": b'{"members": "everything"}',
    "member not a mapping": b'{"members": [42]}',
    "measure a string": json.dumps(_metrics(GOOD_CONN, kernel_alignment="high")).encode(),
    "seed a float": json.dumps(_metrics(GOOD_CONN, 0) | {"members": [{"seed": 1.5}]}).encode(),
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "history of strings": json.dumps(_metrics(GOOD_CONN) | {"history": {"step": ["a"], "x": [{}]}}).encode(),
    "config a string": json.dumps(_metrics(GOOD_CONN) | {"config": "rm -rf /"}).encode(),
    "empty": b"",
}


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_metrics_json_is_skipped_with_a_warning(tmp_path, capsys, content):
    runs = tmp_path / "runs"
    (runs / "good").mkdir(parents=True)
    (runs / "good" / "metrics.json").write_text(json.dumps(_metrics(GOOD_CONN)))
    (runs / "bad").mkdir()
    (runs / "bad" / "metrics.json").write_bytes(content)
    rc = report.main([str(runs), "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if content.startswith(b"{") and b'"history"' in content:  # a bad series is dropped, the record kept
        assert rc == 0
        return
    warnings = [ln for ln in err.splitlines() if ln.startswith("rlnet: warning: skipped")]
    assert rc == 0 and len(warnings) == 1 and "bad" in warnings[0], err
    assert (tmp_path / "rep" / "cells.csv").exists()


def test_fifo_named_metrics_json_does_not_block(tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "good").mkdir(parents=True)
    (runs / "good" / "metrics.json").write_text(json.dumps(_metrics(GOOD_CONN)))
    (runs / "fifo").mkdir()
    os.mkfifo(runs / "fifo" / "metrics.json")
    assert report.main([str(runs), "--out", str(tmp_path / "rep")]) == 0
    assert "not a regular file" in capsys.readouterr().err


def test_only_malformed_files_end_in_one_line(tmp_path, capsys):
    (tmp_path / "runs" / "bad").mkdir(parents=True)
    (tmp_path / "runs" / "bad" / "metrics.json").write_text("[]")
    rc = report.main([str(tmp_path / "runs"), "--out", str(tmp_path / "rep")])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "no finished networks" in line and not (tmp_path / "rep").exists()


@pytest.mark.parametrize("content, words", [
    (b"", "is empty (0 bytes)"),
    (b"not a database at all\n" * 10, "not a results table"),
    (b"SQLite format 3\x00" + b"\xff" * 600, "cannot be read"),
], ids=["0-byte file", "text file", "damaged SQLite"])
def test_results_file_that_is_not_a_table_is_refused_and_left_alone(tmp_path, capsys, content, words):
    db = tmp_path / "results.db"
    db.write_bytes(content)
    rc = report.main([str(db), "--out", str(tmp_path / "rep")])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and words in line
    assert db.read_bytes() == content  # not turned into a database
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.db"]


def test_results_table_without_runs_is_refused(tmp_path, capsys):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = db.read_bytes()
    assert report.main([str(db), "--out", str(tmp_path / "rep")]) == 2
    assert "no such table: runs" in _one_error_line(capsys.readouterr().err)
    assert db.read_bytes() == before


def test_malformed_row_in_results_db_is_skipped(tmp_path, capsys):
    db = ResultsDB(tmp_path / "results.db")
    db.record("good", "s", {}, "ok", metrics=_metrics(GOOD_CONN))
    db.record("bad", "s", {}, "ok", metrics=_metrics(GOOD_CONN))
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("UPDATE runs SET metrics = '{not json' WHERE run_id = 'bad'")
    con.commit()
    con.close()
    rc = report.main([str(tmp_path / "results.db"), "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert rc == 0 and "rlnet: warning: skipped run s/bad" in err and "Traceback" not in err


@pytest.mark.parametrize("out, words", [
    ("/proc/rlnet-report", "/proc/rlnet-report"),
    ("/sys/rlnet-report", "/sys/rlnet-report"),
    ("file/sub", "is a file"),
], ids=["unwritable (proc)", "unwritable (sys)", "under a file"])
def test_report_into_storage_it_cannot_write(tmp_path, capsys, out, words):
    runs = tmp_path / "runs" / "a"
    runs.mkdir(parents=True)
    (runs / "metrics.json").write_text(json.dumps(_metrics(GOOD_CONN)))
    (tmp_path / "file").write_text("x")
    target = out if out.startswith("/") else str(tmp_path / out)
    rc = report.main([str(tmp_path / "runs"), "--out", target])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and words in line, line
    assert not list(tmp_path.rglob("*.csv")) and not list(tmp_path.rglob("*.png"))


def _unprivileged(fn) -> int:
    """``fn()`` (0 when its checks pass) in a forked child that has dropped root, since root writes
    into read-only folders; as a normal user, in this process."""
    if os.geteuid() != 0:
        return fn()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 99
        try:
            os.setgid(65534)
            os.setuid(65534)  # nobody
            code = fn()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_report_into_read_only_folder():
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # tmp_path's parents are closed to other users
    try:
        base.chmod(0o755)
        runs = base / "runs" / "a"
        runs.mkdir(parents=True)
        (runs / "metrics.json").write_text(json.dumps(_metrics(GOOD_CONN)))
        ro = base / "ro"
        ro.mkdir()
        ro.chmod(0o555)

        def check() -> int:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = report.main([str(base / "runs"), "--out", str(ro / "rep")])
            return 0 if rc == 2 and "not writable" in _one_error_line(err.getvalue()) else 1

        assert _unprivileged(check) == 0
        assert not (ro / "rep").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_results_path_that_is_a_fifo(tmp_path, capsys):
    os.mkfifo(tmp_path / "results.db")
    assert report.main([str(tmp_path / "results.db"), "--out", str(tmp_path / "rep")]) == 2
    assert "not a regular file" in _one_error_line(capsys.readouterr().err)


def test_csv_with_text_in_a_measure_column_skips_that_row(tmp_path, capsys):
    p = tmp_path / "r.csv"
    p.write_text("task,rank,seed,kernel_alignment\n2af,1,0,0.5\n2af,2,0,__import__('os')\n2af,2,1,0.7\n")
    assert report.main([str(p), "--out", str(tmp_path / "rep")]) == 0
    assert "skipped r.csv line 3" in capsys.readouterr().err


@pytest.mark.parametrize("content, words", [
    (b"task,rank,seed,kernel_alignment\n2af,1,0,0.5\x00\n", "not a number"),
    (b'task,rank\n2af,"' + b"9" * 200_000 + b'"\n', "not a readable CSV"),
], ids=["NUL byte", "field beyond the csv limit"])
def test_csv_that_cannot_be_read_is_one_line(tmp_path, capsys, content, words):
    p = tmp_path / "r.csv"
    p.write_bytes(content)
    assert report.main([str(p), "--out", str(tmp_path / "rep")]) == 2
    assert words in _one_error_line(capsys.readouterr().err)


def test_list_and_mapping_valued_structure_settings_form_cells(tmp_path, capsys):
    """Per-member connectivity settings that are lists or mappings (and differ between runs) become
    the sweep's variable: they must still form cells, not end in a traceback."""
    runs = tmp_path / "runs"
    for i, v in enumerate([[1, 2], {"a": [3]}, [1, 2]]):
        doc = _metrics(GOOD_CONN, seed=i)
        doc["members"][0]["connectivity"]["gains"] = v
        (runs / f"r{i}").mkdir(parents=True)
        (runs / f"r{i}" / "metrics.json").write_text(json.dumps(doc))
    assert report.main([str(runs), "--out", str(tmp_path / "rep")]) == 0, capsys.readouterr().err


def test_huge_n_hidden_in_results_is_not_rebuilt():
    cfg = _metrics({"class_path": "rlnet.connectivity.Null"})["config"]
    cfg["model"]["init_args"]["n_hidden"] = 10**9
    assert report.initial_matrix(cfg, 0) is None
    cfg["model"]["init_args"]["n_hidden"] = 8
    assert report.initial_matrix(cfg, 0).shape == (8, 8)
    assert report.initial_matrix(cfg, "0; rm -rf /") is None


def test_yaml_of_the_run_config_is_never_constructed(tmp_path, capsys, trained):
    """A run directory's config.yaml with a Python tag, met when resuming: read with the safe
    loader, so it is not an object (and the run resumes, comparing only the checkpoint)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    marker = tmp_path / "code_was_executed"
    (run / "config.yaml").write_text(f'model: !!python/object/apply:builtins.open ["{marker}", "w"]\n')
    (run / "metrics.json").unlink()
    rc = run_cli(["fit", "--config", trained["base"], "--trainer.default_root_dir", run, "--ckpt_path", "last",
                  "--trainer.max_steps", "6"])
    assert rc == 0, capsys.readouterr().err[-2000:]
    assert not marker.exists()
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_steps"] == 6


@pytest.mark.parametrize("steps", ["all", "last"])
def test_kernel_memory_estimate_equals_the_kernel_the_callback_computes(steps):
    """The tangent-kernel part is two (start, end) float64 kernels of the size the module really
    computes: every step of the probe trials, or only the last (sMNIST's setting, which must not be
    refused for a kernel it never builds)."""
    from rlnet.memory import fit_parts
    from rlnet.models import RNNModule

    m = RNNModule(n_input=3, n_output=3, n_hidden=16, n_members=3)
    x = torch.randn(8, 4, 3)  # (T, B, I): 4 probe trials of 8 steps
    K = m.laziness_kernel(x, params="W_h", steps=steps)
    P = sum(p.numel() for p in m.parameters())
    parts = fit_parts(P, 3, 16, seq_len=8, kernel_trials=4, n_output=3, kernel_steps=steps)
    assert parts["tangent kernels"] == 2 * K.numel() * 8
    # kernel_trials past the probe's 4 trials: the callback's kernel is still the 4 trials' one
    from rlnet.callbacks import LazinessCallback

    cb = LazinessCallback(kernel_trials=1000, kernel_steps=steps, verbose=False)
    cb.bind(m)
    K_big = cb.kernel(x)
    more = fit_parts(P, 3, 16, seq_len=8, n_probe=4, kernel_trials=1000, n_output=3, kernel_steps=steps)
    assert more["tangent kernels"] == 2 * K_big.numel() * 8


def test_a_million_small_networks_are_refused_before_their_weights_are_drawn(tmp_path, capsys, monkeypatch):
    """10^6 networks of N = 16 with a one-trial probe: the weights (4 GB) fit, the activations over the
    task's 8 steps do not. The first check reads the trial length from the data section, so the run is
    refused before the model draws a single member (drawing all of them takes minutes)."""
    from rlnet.models import RNNModule

    def drawn(self):  # the test fails here if the first check lets the run through
        raise AssertionError("the weights were drawn before the run was refused")

    monkeypatch.setattr(RNNModule, "init_weights", drawn)
    # 20 GiB free: one step of the run (about 13 GB) would fit, its 8 steps (about 42 GB) do not
    monkeypatch.setattr(rlnet.cli, "available_memory", lambda: 20 * 2**30)
    assert_fit_refused(tmp_path, capsys, [MODEL + "n_members", "1000000", MODEL + "n_hidden", "16",
                                          "--laziness.kernel_trials", "1", "--data.init_args.n_probe", "1",
                                          "--data.init_args.n_val", "1", "--data.init_args.batch_size", "16"],
                       ["needs at least", "backpropagation through time", "available"])


@pytest.mark.parametrize("steps", ["last", "all"])
def test_the_first_memory_check_counts_the_kernel_steps_the_config_states(monkeypatch, steps):
    """The config-only check is a lower bound of the run's memory: with sMNIST's kernel over the last
    step (`laziness.kernel_steps: last`) eight networks with 200 kernel trials fit in 11.8 GB (their
    kernels take 0.5 GB), as Figs. 14/15's packed jobs do; the same kernel over all 28 steps (16 GB
    with two outputs) does not."""
    from jsonargparse import Namespace

    import rlnet.data  # the data class must be imported for its trial length

    monkeypatch.setattr(rlnet.cli, "available_memory", lambda: int(11.8 * 2**30))
    model = Namespace(class_path="rlnet.models.RNNModule", init_args=Namespace(n_members=8, n_hidden=300))
    cfg = Namespace(model=model,
                    data=Namespace(class_path="rlnet.data.MNISTDataModule",
                                   init_args=Namespace(sequential=True, batch_size=200, n_probe=200, n_val=1000)),
                    laziness=Namespace(kernel_trials=200, kernel_steps=steps))
    if steps == "last":
        rlnet.cli._check_weight_memory(cfg)
    else:
        with pytest.raises(rlnet.cli.UserError, match="tangent kernels"):
            rlnet.cli._check_weight_memory(cfg)


@pytest.mark.parametrize("cls, init", [
    ("rlnet.data.NeurogymDataModule", {"task": "dms"}),
    ("rlnet.data.NeurogymDataModule", {"task": "cxt", "dt": 20.0}),
    ("rlnet.data.MNISTDataModule", {"sequential": True}),
    ("rlnet.data.MNISTDataModule", {"sequential": False}),
    ("rlnet.data.PatternDataModule", {"dt": 5, "duration": 1000}),
])
def test_the_trial_length_read_from_a_config_is_the_built_data_modules(cls, init):
    import importlib

    module, _, name = cls.rpartition(".")
    klass = getattr(importlib.import_module(module), name)
    assert klass.config_seq_len(init) == klass(**init).seq_len
