"""Property-based hostile input: random and mutated configs, matrices and results files
fed to ``rlnet fit`` and ``rlnet report`` in-process.

For every example: no exception escapes (no traceback), the exit status is 0 or 2, a refusal is one
``rlnet: error:`` line and leaves no run directory or report, a success leaves complete files
(``metrics.json`` parses; ``cells.csv`` and ``report.md`` exist), no temporary file is left, and the
planted commands never run (their marker file never appears).

Derandomised (a fixed sequence of examples, the same in every run) and sized to about a minute.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from conftest import run_cli, tiny_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rlnet.cli  # noqa: F401  (Lightning's log handler binds the session's stderr, not one test's)
from rlnet.experiments import report
from rlnet.experiments.results_db import ResultsDB

SETTINGS = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def planted(marker: Path) -> list[dict]:
    """Values that would create ``marker`` if anything called what they name."""
    cmd = f"touch {marker}"
    return [{"class_path": "subprocess.run", "init_args": {"args": cmd, "shell": True}},
            {"class_path": "os.system", "init_args": {"command": cmd}},
            {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", str(marker)]}},
            {"class_path": "builtins.exec", "init_args": {"source": f"open({str(marker)!r}, 'w')"}},
            f"!!python/object/apply:os.system ['{cmd}']"]


# Values a mutation puts somewhere: absurd sizes (never moderately large: a valid run must stay
# tiny), non-finite and wrong-typed values, containers, and the planted commands.
SCALARS = st.sampled_from([None, True, False, 0, -1, 1, 2, 3, 10**12, 2**63, -(2**63), 0.0, -0.5, 0.5, 1e-300,
                           1e308, float("inf"), float("-inf"), float("nan"), "", "abc", "../../etc/passwd",
                           "rlnet.connectivity.Foo", "\x00", "é" * 3])
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                      max_leaves=6)


def _paths(doc, prefix=()):
    """Every (container path) in a JSON-like document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def mutate(doc, data, marker: Path, n: int = 3, allowed=lambda path: True):
    """``doc`` with up to ``n`` random edits: a value replaced (by a drawn value or a planted
    command), a key deleted, or an unknown key added."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, n))):
        paths = [p for p in _paths(doc) if p and allowed(p)]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = data.draw(st.sampled_from(["value", "value", "planted", "delete", "add"]))
        if action == "value":
            parent[path[-1]] = data.draw(VALUES)
        elif action == "planted":
            parent[path[-1]] = data.draw(st.sampled_from(planted(marker)))
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=6))] = data.draw(VALUES)
    return doc


def mutate_bytes(raw: bytes, data) -> bytes:
    """Truncated, bit-flipped or spliced bytes."""
    how = data.draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if how == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:]
    if how == "splice":
        i = data.draw(st.integers(0, len(raw)))
        return raw[:i] + data.draw(st.binary(max_size=40)) + raw[i:]
    return data.draw(st.binary(max_size=200))


def assert_clean_exit(rc: int, err: str) -> None:
    last = [ln for ln in err.splitlines() if ln.startswith("rlnet: ")]
    words = [w.rsplit("/", 1)[-1] for w in last[-1].split()[2:6]] if rc and last else ["ok"]
    event(f"exit {rc}: {' '.join(words)}")  # see them with --hypothesis-show-statistics
    assert rc in (0, 2), err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    if rc == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines[-1].startswith("rlnet: error: "), err[-2000:]
        assert sum(ln.startswith("rlnet: error") for ln in lines) == 1, err[-2000:]


def no_temporary_files(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")], sorted(root.rglob("*"))


# ---- the command line ----------------------------------------------------------------------------
def _fit_editable(path: tuple) -> bool:
    # The training budget and the run's place stay fixed (the command line sets them); the rest is fair game.
    return path[0] in ("model", "data", "laziness", "seed_everything", "checkpoint_every")


@settings(SETTINGS, max_examples=14)
@given(data=st.data())
def test_fit_on_mutated_configs(tmp_path, capsys, data):
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    marker = d / "code_was_executed"
    cfg = tiny_config(max_steps=1, n_members=1)
    cfg["data"]["init_args"].update(n_probe=4, n_val=4)
    if data.draw(st.booleans()):
        cfg_bytes = yaml.safe_dump(mutate(cfg, data, marker, allowed=_fit_editable)).encode()
    else:
        cfg_bytes = mutate_bytes(yaml.safe_dump(cfg).encode(), data)
    (d / "cfg.yaml").write_bytes(cfg_bytes)
    run = d / "run"
    rc = run_cli(["fit", "--config", d / "cfg.yaml", "--trainer.default_root_dir", run, "--trainer.max_steps", "1",
                  "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"])
    assert_clean_exit(rc, capsys.readouterr().err)
    assert not marker.exists()
    if rc == 2:
        assert not run.exists()
    else:
        json.loads((run / "metrics.json").read_text())
    no_temporary_files(d)


MATRIX_KINDS = ["npy", "npz", "csv", "txt", "pt", "bytes"]


@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_fit_on_random_matrix_files(tmp_path, capsys, data):
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    shape = data.draw(st.sampled_from([(16, 16), (16, 8), (20, 20), (16,), (0, 0), (2, 16, 16)]))
    dtype = data.draw(st.sampled_from(["float32", "float64", "int64", "complex64", "bool"]))
    w = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape).astype(dtype)
    if w.size and data.draw(st.booleans()):
        w.flat[data.draw(st.integers(0, w.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, 1e30, 0]))
    kind = data.draw(st.sampled_from(MATRIX_KINDS))
    path = d / f"W.{kind if kind != 'bytes' else 'npy'}"
    if kind == "npy":
        np.save(path, w)
    elif kind == "npz":
        np.savez(path, W=w)
    elif kind in ("csv", "txt") and w.ndim <= 2:
        np.savetxt(path, np.atleast_2d(w).real, delimiter="," if kind == "csv" else " ")
    elif kind == "pt":
        torch.save(torch.from_numpy(np.ascontiguousarray(w)), path)
    else:
        path.write_bytes(mutate_bytes(np.lib.format.magic(1, 0) + w.tobytes(), data))
    if path.exists() and data.draw(st.booleans()):
        path.write_bytes(mutate_bytes(path.read_bytes(), data))
    run = d / "run"
    cfg = tiny_config(max_steps=1, n_members=1)
    cfg["data"]["init_args"].update(n_probe=4, n_val=4)
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    rc = run_cli(["fit", "--config", d / "cfg.yaml", "--trainer.default_root_dir", run,
                  "--model.init_args.connectivity", "rlnet.connectivity.FromFile",
                  "--model.init_args.connectivity.init_args.path", path])
    assert_clean_exit(rc, capsys.readouterr().err)
    if rc == 2:
        assert not run.exists()
    else:
        json.loads((run / "metrics.json").read_text())
    no_temporary_files(d)


# ---- the report ----------------------------------------------------------------------------------
def good_metrics(seed: int, rank: int) -> dict:
    m = {"seed": seed, "connectivity": {"name": "svd", "rank": rank}, "diverged": False,
         "weight_change_norm": 1.0 + seed, "representation_alignment": 0.5, "kernel_alignment": 0.1 * rank,
         "initial_eigenvalue_effective_rank": 0.2}
    return {"config": {"model": {"class_path": "rlnet.models.RNNModule",
                                 "init_args": {"n_hidden": 8, "connectivity": {
                                     "class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": rank}}}},
                       "data": {"class_path": "rlnet.data.NeurogymDataModule", "init_args": {"task": "2af"}}},
            "members": [m], "summary": {"n_diverged": 0},
            "history": {"step": [0, 1], "kernel_alignment": [[1.0, 0.9]]}}


def _report_and_check(results: Path, out: Path, marker: Path, capsys) -> None:
    rc = report.main([str(results), "--out", str(out)])
    assert_clean_exit(rc, capsys.readouterr().err)
    assert not marker.exists()
    if rc == 0:
        assert (out / "cells.csv").exists() and (out / "report.md").exists()
    else:
        assert not out.exists()


@settings(SETTINGS, max_examples=16)
@given(data=st.data())
def test_report_on_mutated_metrics_files(tmp_path, capsys, data):
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    marker = d / "code_was_executed"
    runs = d / "runs"
    for i in range(data.draw(st.integers(0, 2))):  # none: every record is the hostile one
        (runs / f"good{i}").mkdir(parents=True)
        (runs / f"good{i}" / "metrics.json").write_text(json.dumps(good_metrics(i, 1 + i)))
    (runs / "bad").mkdir(parents=True)
    doc = mutate(good_metrics(7, 2), data, marker, n=4)
    raw = json.dumps(doc).encode()
    if data.draw(st.booleans()):
        raw = mutate_bytes(raw, data)
    (runs / "bad" / "metrics.json").write_bytes(raw)
    _report_and_check(runs, d / "rep", marker, capsys)


@settings(SETTINGS, max_examples=14)
@given(data=st.data())
def test_report_on_mutated_results_tables(tmp_path, capsys, data):
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    marker = d / "code_was_executed"
    db_path = d / "results.db"
    db = ResultsDB(db_path)
    db.record("good", "s", {"rank": 1}, "ok", metrics=good_metrics(0, 1))
    db.record("bad", "s", {"rank": 2}, "ok", metrics=good_metrics(1, 2))
    how = data.draw(st.sampled_from(["row", "row", "file"]))
    if how == "row":
        con = sqlite3.connect(db_path)
        bad = mutate(good_metrics(1, 2), data, marker, n=4)
        value = json.dumps(bad) if data.draw(st.booleans()) else mutate_bytes(json.dumps(bad).encode(), data)
        column = data.draw(st.sampled_from(["metrics", "status", "sweep", "error"]))
        if column == "status":
            value = data.draw(st.sampled_from(["running", "failed", "diverged", "ok"]))
        con.execute(f"UPDATE runs SET {column} = ? WHERE run_id = 'bad'", (value,))
        con.commit()
        con.close()
    else:
        con = sqlite3.connect(db_path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        db_path.write_bytes(mutate_bytes(db_path.read_bytes(), data))
    _report_and_check(db_path, d / "rep", marker, capsys)


def test_the_planted_values_would_leave_a_trace(tmp_path):
    """The marker check is meaningful: calling a planted value does create the file."""
    import subprocess

    marker = tmp_path / "code_was_executed"
    spec = planted(marker)[0]
    subprocess.run(**spec["init_args"], check=True)  # the point of this check
    assert marker.exists()
