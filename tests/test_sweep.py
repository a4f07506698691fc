"""The local sweep runner: grid/random expansion, argument lists without a shell, resume after a
kill, failures recorded while the others go on, and every shipped sweep accepted by the CLI."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import product
from pathlib import Path

import pytest
import yaml

from rlnet.experiments.results_db import ResultsDB
from rlnet.experiments.sweep import grid, load_sweep, main, parse_sweep, plan, render_command, run_sweep, sample

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))

# A stand-in for `rlnet fit`: records each execution, fails on x=fail, else writes metrics.json.
FAKE = r'''
import json, os, sys, time
from pathlib import Path
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
with open(args["log"], "a") as f:
    f.write(args["x"] + "\n")
with open(args["log"] + ".pids", "a") as f:
    f.write(f"{args['x']} {os.getpid()}\n")
time.sleep(float(args.get("sleep", 0)) + (60 if args["x"].startswith("slow") else 0))
if args["x"] == "fail":
    print("Traceback (most recent call last):\nrlnet: error: model.x is bad", file=sys.stderr)
    sys.exit(2)
out = Path(args["trainer.default_root_dir"])
(out / "metrics.json").write_text(json.dumps({"config": {}, "members": [
    {"seed": 0, "connectivity": {"name": "svd", "rank": 1}, "weight_change_norm": 1.0, "diverged": False}]}))
'''


def fake_sweep(tmp_path: Path, xs: list, sleep: float = 0.0, name: str = "fake") -> Path:
    prog = tmp_path / "fake_fit.py"
    prog.write_text(FAKE)
    doc = {"name": name, "program": str(prog), "method": "grid",
           "parameters": {"x": {"values": xs}, "log": {"value": str(tmp_path / "executions.log")},
                          "sleep": {"value": sleep}},
           "command": ["${env}", "${interpreter}", "${program}", "${args}"]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def executions(tmp_path: Path) -> Counter:
    log = tmp_path / "executions.log"
    return Counter(log.read_text().split()) if log.exists() else Counter()


# ---- expansion ----------------------------------------------------------------------------------
def test_grid_is_the_product_of_values():
    params = {"a": {"values": [1, 2]}, "b.c": {"values": ["x", "y", "z"]}, "d": {"value": 0.5},
              "e": {"values": [[0, 1], [2, 3]]}}
    combos = grid(params)
    expected = [dict(zip(params, p)) for p in product([1, 2], ["x", "y", "z"], [0.5], [[0, 1], [2, 3]])]
    assert combos == expected and len(combos) == 12
    sweep = parse_sweep({"method": "grid", "parameters": params, "command": ["python", "${args}"]})
    runs = plan(sweep)
    assert len({r.run_id for r in runs}) == 12
    assert [r.params for r in runs] == expected


def test_random_draws_are_seeded_and_prefix_stable():
    params = {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
              "n": {"distribution": "int_uniform", "min": 2, "max": 5}, "c": {"values": ["a", "b"]}}
    five, ten = sample(params, 5, seed=3), sample(params, 10, seed=3)
    assert ten[:5] == five
    assert sample(params, 5, seed=4) != five
    assert all(1e-4 <= d["lr"] <= 1e-1 and 2 <= d["n"] <= 5 and d["c"] in "ab" for d in ten)
    sweep = parse_sweep({"method": "random", "parameters": params, "command": ["python", "${args}"]})
    with pytest.raises(ValueError, match="--count"):
        plan(sweep)
    assert len(plan(sweep, count=7)) == 7


@pytest.mark.parametrize("raw, field", [
    ({"method": "bayes", "parameters": {"a": {"value": 1}}, "command": ["${args}"]}, "sweep.method"),
    ({"method": "grid", "parameters": {"a": {"min": 0, "max": 1}}, "command": ["${args}"]}, "sweep.parameters.a"),
    ({"method": "grid", "parameters": {"a": {"values": [1, None]}}, "command": ["${args}"]}, "sweep.parameters.a"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "command": ["python", "x.py"]}, "sweep.command"),
    ({"method": "grid", "parameters": {}, "command": ["${args}"]}, "sweep.parameters"),
])
def test_bad_sweep_files_name_the_field(raw, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_sweep(raw)


def test_values_reach_the_process_verbatim_without_a_shell():
    nasty = "a b; rm -rf / $(echo hi) `x` 'q' \"d\""
    sweep = parse_sweep({"method": "grid",
                         "parameters": {"model.name": {"value": nasty}, "config": {"value": "c.yaml"}},
                         "command": ["${env}", "python", "-m", "rlnet", "fit", "${args}"]})
    argv = render_command(sweep, {"model.name": nasty, "config": "c.yaml"}, python="/py")
    assert argv == ["/py", "-m", "rlnet", "fit", "--config=c.yaml", f"--model.name={nasty}"]


# ---- running ------------------------------------------------------------------------------------
def test_a_failing_run_does_not_stop_the_others_and_is_retried(tmp_path, capsys):
    path = fake_sweep(tmp_path, ["a", "fail", "b", "c"])
    rc = main([str(path), "--jobs", "2", "--out", str(tmp_path / "out"), "--progress", "false"])
    assert rc == 1
    rows = {r["params"]["x"]: r for r in ResultsDB(tmp_path / "out" / "results.db").rows()}
    assert {x: r["status"] for x, r in rows.items()} == {"a": "ok", "b": "ok", "c": "ok", "fail": "failed"}
    assert rows["fail"]["error"] == "exit status 2: rlnet: error: model.x is bad"
    assert rows["a"]["metrics"]["members"][0]["weight_change_norm"] == 1.0
    # Again: only the failed run runs.
    assert main([str(path), "--jobs", "2", "--out", str(tmp_path / "out"), "--progress", "false"]) == 1
    assert executions(tmp_path) == Counter({"a": 1, "b": 1, "c": 1, "fail": 2})
    out = capsys.readouterr()
    assert "failed: " in out.err and "3 already finished" in out.err


def test_killed_half_way_then_restarted_runs_each_run_exactly_once(tmp_path):
    xs = [f"r{i}" for i in range(6)]
    path = fake_sweep(tmp_path, xs, sleep=0.4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rlnet", "sweep", str(path), "--jobs", "1", "--out", str(out), "--progress", "false"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "results.db"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if db.exists() and len(ResultsDB(db).rows(status="ok")) >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the sweep did not finish two runs in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and the run it is running, mid-flight
        proc.wait()
    done_before = {r["params"]["x"] for r in ResultsDB(db).rows(status="ok")}
    assert 2 <= len(done_before) < 6
    counts = run_sweep(load_sweep(path), out, jobs=2, progress=False)
    rows = ResultsDB(db).rows()
    assert sorted(r["params"]["x"] for r in rows) == xs  # one row per run
    assert all(r["status"] == "ok" for r in rows)
    assert counts["ok"] == 6 - len(done_before)
    ex = executions(tmp_path)
    assert all(ex[x] == 1 for x in done_before)  # finished runs never ran again
    assert all(1 <= ex[x] <= 2 for x in xs)  # at most the one killed mid-run ran twice
    assert sum(ex.values()) <= 7
    assert len(list((out / "runs").glob("*/metrics.json"))) == 6


def test_dry_run_lists_commands_and_marks_what_is_done(tmp_path, capsys):
    path = fake_sweep(tmp_path, ["a", "b"])
    assert main([str(path), "--out", str(tmp_path / "o"), "--progress", "false"]) == 0
    capsys.readouterr()
    path2 = fake_sweep(tmp_path, ["a", "b", "c"])
    assert main([str(path2), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["done", "done", "todo"]
    assert all("--trainer.default_root_dir=" in ln for ln in lines)


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: grid\nparameters: {a: {values: [1]}}\ncommand: [python, ${args}]\n")
    assert main([str(bad)]) == 2
    assert main([str(fake_sweep(tmp_path, ["a"])), "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(ln.startswith("rlnet: error:") for ln in err)


def _run_real_sweep(doc: dict, tmp_path: Path) -> dict[str, int]:
    """Write ``doc`` to ``tmp_path/<name>.yaml`` and run it from the repository root (2 jobs, no bar)."""
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return run_sweep(load_sweep(path), tmp_path / "out", jobs=2, progress=False)
    finally:
        os.chdir(cwd)


def test_real_cli_runs_through_the_runner(tmp_path):
    """Two tiny real runs (in the default suite: about 15 s): packed into one job, which fails
    because one run's rank exceeds N; both run again alone: one trains and writes its measures,
    one is recorded with the model's error."""
    doc = {"name": "tiny", "method": "grid",
           "parameters": {"model.init_args.connectivity.init_args.rank": {"values": [2, 99]}},
           "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/2af_lowrank.yaml",
                       "--trainer.max_steps=3", "--model.init_args.n_hidden=8", "--data.init_args.n_probe=8",
                       "--laziness.kernel_trials=4", "--trainer.val_check_interval=3", "${args}"]}
    counts = _run_real_sweep(doc, tmp_path)
    assert counts == {"ok": 1, "diverged": 0, "failed": 1}
    rows = {r["params"]["model.init_args.connectivity.init_args.rank"]: r
            for r in ResultsDB(tmp_path / "out" / "results.db").rows()}
    assert rows[2]["metrics"]["steps"] == 3
    assert rows[2]["metrics"]["members"][0]["connectivity"]["rank"] == 2
    assert rows[99]["status"] == "failed" and "exit status 2: rlnet: error:" in rows[99]["error"]


# ---- the shipped sweep files --------------------------------------------------------------------
def _requirements(path: Path) -> list[str]:
    for line in path.read_text().splitlines():
        if line.startswith("# requires:"):
            return line.split(":", 1)[1].split()
    return []


def _missing(req: str) -> bool:
    if "/" in req or req.endswith((".yaml", ".yml")):
        return not (ROOT / req).exists()
    mod, _, name = req.rpartition(".")
    try:
        return not hasattr(importlib.import_module(mod), name)
    except ImportError:
        return True


def test_sweep_files_exist_for_every_figure():
    names = {p.stem.split("_")[0] for p in SWEEPS}
    assert {f"fig{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18, 19)} <= {
        n.rstrip("abc") for n in names}


def covering(runs: list) -> list:
    """Runs that together show every value of every parameter at least once (greedy)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for r in runs:
        pairs = {(k, json.dumps(v)) for k, v in r.params.items()}
        if pairs - seen:
            out.append(r)
            seen |= pairs
    return out


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_shipped_sweep_parses_and_the_cli_accepts_its_commands(path, tmp_path):
    """Every value of every parameter, each through the CLI at least once (fast)."""
    check_sweep_file(path, tmp_path, exhaustive=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_shipped_sweep_every_rendered_command_is_accepted(path, tmp_path):
    """Every rendered command of every shipped sweep (about 0.5 s of CPU each)."""
    check_sweep_file(path, tmp_path, exhaustive=True)


def check_sweep_file(path: Path, tmp_path: Path, exhaustive: bool) -> None:
    sweep = load_sweep(path)
    raw = yaml.safe_load(path.read_text())
    assert raw["command"][:5] == ["${env}", "python", "-m", "rlnet", "fit"] and "${args}" in raw["command"]
    assert sweep.name == path.stem
    runs = plan(sweep)
    assert len(runs) == len(grid(sweep.parameters)) and len({r.run_id for r in runs}) == len(runs)
    missing = [r for r in _requirements(path) if _missing(r)]
    if missing:
        pytest.skip(f"needs {' '.join(missing)} (another issue's workload, not merged here)")
    from rlnet.cli import main as cli_main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for run in runs if exhaustive else covering(runs):
            argv = [*run.argv[run.argv.index("fit"):], f"--trainer.default_root_dir={tmp_path}", "--print_config"]
            buf, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
                rc = cli_main(argv)
            assert rc == 0, f"{path.name}: {' '.join(argv)}\n{err.getvalue()}"
            cfg = yaml.safe_load(buf.getvalue())
            for key, value in run.params.items():
                if key == "config":
                    continue
                node = cfg
                for part in key.split("."):
                    node = node[part]
                assert _contains(node, value), f"{key}: {node!r} does not hold {value!r}"
            _check_tracked_kernel_is_the_measured_one(path, cfg)
    finally:
        os.chdir(cwd)


def _check_tracked_kernel_is_the_measured_one(path: Path, cfg: dict) -> None:
    """A tracked kernel covers the output steps the laziness kernel covers (sMNIST: the last step
    only, SPEC 3): the preset's default, every step, is another kernel (and at sMNIST's 28 steps,
    8,960 rows per member instead of 320, which ran a packed job out of memory)."""
    steps = (cfg.get("laziness") or {}).get("kernel_steps") or "all"
    for cb in (cfg.get("trainer") or {}).get("callbacks") or []:
        if isinstance(cb, dict) and str(cb.get("class_path", "")).endswith("KernelTrackingCallback"):
            tracked = (cb.get("init_args") or {}).get("kernel_steps", "all")
            assert tracked == steps, f"{path.name}: tracking kernel_steps {tracked!r}, laziness {steps!r}"


def _contains(node, value) -> bool:
    """``node`` (a printed config) holds ``value``: equal, or with defaults filled into mappings."""
    if isinstance(value, dict):
        return isinstance(node, dict) and all(k in node and _contains(node[k], v) for k, v in value.items())
    if isinstance(value, list):
        return isinstance(node, list) and len(node) == len(value) and all(map(_contains, node, value))
    return node == value


def test_shards_partition_the_runs(tmp_path, capsys):
    path = fake_sweep(tmp_path, [f"r{i}" for i in range(5)])
    seen = []
    for i in range(3):
        assert main([str(path), "--dry-run", "--shard", f"{i}/3", "--out", str(tmp_path / "o")]) == 0
        seen.append(capsys.readouterr().out.strip().splitlines())
    assert [len(s) for s in seen] == [2, 2, 1]
    everything = [ln for s in seen for ln in s]
    assert len(set(everything)) == 5
    assert main([str(path), "--dry-run", "--shard", "3/3"]) == 2


def test_a_diverging_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    """lr = 1e6 makes every member's loss non-finite: the run is recorded as diverged (with the
    step in its metrics.json) and the healthy run of the same sweep finishes."""
    doc = {"name": "div", "method": "grid",
           "parameters": {"model.init_args.lr": {"values": [0.003, 1.0e6]}},
           "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/2af_lowrank.yaml",
                       "--trainer.max_steps=200", "--model.init_args.n_hidden=16", "--model.init_args.n_members=2",
                       "--data.init_args.batch_size=4", "--data.init_args.n_probe=8", "--data.init_args.n_val=8",
                       "--laziness.kernel_trials=4", "--trainer.val_check_interval=100", "--checkpoint_every=0",
                       "--trainer.log_every_n_steps=10", "${args}"]}
    counts = _run_real_sweep(doc, tmp_path)
    assert counts == {"ok": 1, "diverged": 1, "failed": 0}
    rows = {r["params"]["model.init_args.lr"]: r for r in ResultsDB(tmp_path / "out" / "results.db").rows()}
    assert rows[0.003]["status"] == "ok" and rows[0.003]["metrics"]["steps"] == 200
    bad = rows[1.0e6]
    assert bad["status"] == "diverged" and bad["metrics"]["summary"]["all_diverged"]
    assert all(m["diverged_step"] is not None for m in bad["metrics"]["members"])


# ---- claims, faults and stops (issues 17 and 21) ----------------------------------------------
def _runner_cmd(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rlnet", "sweep", str(path), "--out", str(out), "--progress", "false", *extra]


def _pids(tmp_path: Path) -> dict[str, int]:
    f = tmp_path / "executions.log.pids"
    return {x: int(p) for x, p in (ln.split() for ln in f.read_text().splitlines())} if f.exists() else {}


def _gone(pid: int, within: float = 15.0) -> bool:
    """Whether process ``pid`` has ended (exited, or a zombie waiting to be reaped) within ``within`` s."""
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _wait_for(cond, what: str, within: float = 120.0) -> None:
    deadline = time.time() + within
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_two_runners_on_one_folder_run_every_run_once(tmp_path):
    """Two `rlnet sweep` processes on one output folder at once: each run executes once, every row
    ends ok (a finished row is never replaced by a failed one)."""
    xs = [f"r{i}" for i in range(8)]
    path = fake_sweep(tmp_path, xs, sleep=0.3)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(_runner_cmd(path, out, "--jobs", "2"), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert executions(tmp_path) == Counter({x: 1 for x in xs})
    rows = ResultsDB(out / "results.db").rows()
    assert sorted(r["params"]["x"] for r in rows) == xs and {r["status"] for r in rows} == {"ok"}


def _open_and_record(args: tuple[str, int, float]) -> str | None:
    path, i, start = args
    time.sleep(max(0.0, start - time.time()))
    try:
        ResultsDB(path).record(f"r{i}", "s", {}, "ok", metrics={})
    except Exception as err:  # reported back to the test, which names it
        return repr(err)
    return None


def test_processes_creating_one_results_table_at_once_all_record(tmp_path):
    """Eight processes open one new table at the same instant, 20 times: SQLite refuses the switch to
    WAL without waiting ("database is locked") when two do it together; the table retries it."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(8) as pool:
        for k in range(20):
            path, start = str(tmp_path / f"t{k}.db"), time.time() + 0.2
            errs = [e for e in pool.map(_open_and_record, [(path, i, start) for i in range(8)], chunksize=1) if e]
            assert not errs, errs
            assert len(ResultsDB(path).rows()) == 8


def test_a_finished_row_is_never_downgraded(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.record("a_1", "s", {}, "ok", metrics={"members": []})
    assert not db.record("a_1", "s", {}, "failed", error="late")
    assert not db.claim("a_1", "s", {}, owner="host:1")
    (row,) = db.rows()
    assert row["status"] == "ok" and row["error"] is None


def test_kill_9_of_the_runner_kills_its_runs_and_a_restart_records_each_once(tmp_path):
    xs = ["a", "b", "slow"]
    path = fake_sweep(tmp_path, xs)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_runner_cmd(path, out, "--jobs", "1"), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "slow" in _pids(tmp_path), "the slow run to start")
    finally:
        proc.send_signal(signal.SIGKILL)  # the runner alone, not its process group
        proc.wait()
    assert _gone(_pids(tmp_path)["slow"]), "the run outlived its runner"
    rows = {r["params"]["x"]: r["status"] for r in ResultsDB(out / "results.db").rows()}
    assert rows == {"a": "ok", "b": "ok", "slow": "running"}
    # Restart without the slow run's sleep: a and b are not run again, slow runs once more.
    path = fake_sweep(tmp_path, ["a", "b", "slow"])
    (tmp_path / "fake_fit.py").write_text(FAKE.replace("(60 if", "(0 if"))
    assert main([str(path), "--out", str(out), "--progress", "false"]) == 0
    assert executions(tmp_path) == Counter({"a": 1, "b": 1, "slow": 2})
    rows = ResultsDB(out / "results.db").rows()
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}


def test_a_run_whose_metrics_exist_on_restart_is_recorded_as_finished(tmp_path, capsys):
    path = fake_sweep(tmp_path, ["a", "b"])
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out), "--progress", "false"]) == 0
    (out / "results.db").unlink()  # e.g. killed after the fit's end, before its row
    for extra in ("-wal", "-shm"):
        (out / f"results.db{extra}").unlink(missing_ok=True)
    capsys.readouterr()
    assert main([str(path), "--out", str(out), "--progress", "false"]) == 0
    assert executions(tmp_path) == Counter({"a": 1, "b": 1})
    assert "2 found finished on disk" in capsys.readouterr().err
    assert {r["status"] for r in ResultsDB(out / "results.db").rows()} == {"ok"}


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "a\\b"])
def test_a_sweep_name_with_a_path_is_refused(tmp_path, capsys, name):
    doc = {"name": name, "method": "grid", "parameters": {"x": {"values": [1]}}, "command": ["python", "${args}"]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlnet: error: sweep.name")
    assert not (tmp_path / "o").exists() and not (tmp_path / "escape").exists()


def test_run_timeout_kills_the_run_and_records_it(tmp_path):
    path = fake_sweep(tmp_path, ["slow", "a"])
    out = tmp_path / "out"
    t0 = time.time()
    assert main([str(path), "--out", str(out), "--progress", "false", "--run_timeout", "2"]) == 1
    assert time.time() - t0 < 45
    assert _gone(_pids(tmp_path)["slow"], within=1.0)
    rows = {r["params"]["x"]: r for r in ResultsDB(out / "results.db").rows()}
    assert rows["a"]["status"] == "ok"
    assert rows["slow"]["status"] == "failed" and "--run_timeout 2.0 s" in rows["slow"]["error"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_on_a_signal_leaves_no_orphans_and_keeps_finished_rows(tmp_path, sig):
    path = fake_sweep(tmp_path, ["a", "slow"])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_runner_cmd(path, out, "--jobs", "1"), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: "slow" in _pids(tmp_path), "the slow run to start")
        proc.send_signal(sig)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err
    assert _gone(_pids(tmp_path)["slow"], within=5.0)
    rows = {r["params"]["x"]: r for r in ResultsDB(out / "results.db").rows()}
    assert rows["a"]["status"] == "ok"
    assert rows["slow"]["status"] == "failed" and "stopped" in rows["slow"]["error"]
