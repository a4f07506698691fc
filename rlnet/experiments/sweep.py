"""``python -m rlnet sweep FILE --jobs N``: run a W&B sweep file on this machine, no server needed.

A sweep file is in W&B's format (https://docs.wandb.ai/guides/sweeps/define-sweep-configuration):
``method`` (``grid`` or ``random``), ``parameters`` with flat dotted keys
(``model.init_args.connectivity.init_args.rank: {values: [1, 30, 100, 300]}``) and a ``command``
such as ``[${env}, python, -m, rlnet, fit, --config, configs/2af_lowrank.yaml, ${args}]``. The same
file works unchanged with ``wandb sweep FILE`` and any number of ``wandb agent``s.

Locally each run is one process (an argument list, never a shell, so parameter values are never
interpolated by one) with its own ``--trainer.default_root_dir``; its row goes into the results
table (:class:`rlnet.experiments.results_db.ResultsDB`, one SQLite transaction per row). A run's id is a hash
of its parameters and the command, so running the same sweep again runs only what is missing
(runs that failed, or were killed, run again); a failed run is recorded with its error and the
others go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rlnet._cli_args import parse_cli_args
from rlnet.experiments import wandb_sampling
from rlnet.experiments.packing import DEFAULT_MAX_MEMBERS, Job, make_job, pack, run_metrics
from rlnet.experiments.results_db import ResultsDB
from rlnet.memory import MEMORY_SHARE_ENV
from rlnet.resources import resolve
from rlnet.results import write_json_atomic

METHODS = ("grid", "random")
# W&B's command macros; locally ${env} is dropped and ${interpreter} / `python` is this interpreter.
MACROS = ("${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}")


@dataclass
class Sweep:
    """A parsed sweep file."""

    name: str
    method: str
    parameters: dict[str, dict[str, Any]]
    command: list[str]
    program: str | None = None
    run_cap: int | None = None
    path: Path | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class Run:
    """One run of a sweep: its parameters, id and argument list."""

    run_id: str
    params: dict[str, Any]
    argv: list[str]


# ---- parsing ------------------------------------------------------------------------------------
def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; errors name the offending field (``ValueError``)."""
    path = Path(path)
    if not path.is_file():  # a shipped sweep by its name (fig1_2af, rlnet://sweeps/...) from any directory
        found = resolve(str(path), ("sweeps",))
        if found is None:
            raise ValueError(f"sweep file {path} does not exist")
        path = found
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"sweep file {path} is not valid YAML{where}: {getattr(err, 'problem', err)}") from err
    return parse_sweep(raw, name=path.stem, path=path)


def parse_sweep(raw: Any, name: str = "sweep", path: Path | None = None) -> Sweep:
    if not isinstance(raw, dict):
        raise ValueError("a sweep file must be a mapping with method, parameters and command")
    method = raw.get("method")
    if method not in METHODS:
        raise ValueError(f"sweep.method must be one of {METHODS} for local runs, got {method!r}")
    params = raw.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ValueError("sweep.parameters must be a non-empty mapping of dotted keys")
    for key, spec in params.items():
        _check_param(key, spec, method)
    command = raw.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ValueError("sweep.command must be a non-empty list of strings, e.g. "
                         "[${env}, python, -m, rlnet, fit, --config, FILE, ${args}]")
    if "${args}" not in command and "${args_no_hyphens}" not in command:
        raise ValueError("sweep.command must contain ${args} (where the parameters go)")
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or run_cap < 1):
        raise ValueError(f"sweep.run_cap must be a positive integer, got {run_cap!r}")
    sweep_name = str(raw.get("name") or name)
    if not sweep_name or sweep_name in (".", "..") or any(c in sweep_name for c in ("/", "\\", os.sep)):
        raise ValueError(f"sweep.name {sweep_name!r} must be a plain name (no path separator, not '..'): "
                         "it names the results folder")
    return Sweep(name=sweep_name, method=method, parameters=params, command=command,
                 program=raw.get("program"), run_cap=run_cap, path=path, raw=raw)


def _check_param(key: str, spec: Any, method: str) -> None:
    where = f"sweep.parameters.{key}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a mapping with 'value' or 'values', got {spec!r}")
    if " " in key or key.startswith("-"):
        raise ValueError(f"{where}: keys are flat dotted names without dashes, e.g. model.init_args.lr")
    if "parameters" in spec:
        raise ValueError(f"{where}: nested parameters are not supported; use flat dotted keys")
    if "value" in spec:
        vals = [spec["value"]]
    elif "values" in spec:
        vals = spec["values"]
        if not isinstance(vals, list) or not vals:
            raise ValueError(f"{where}.values must be a non-empty list")
    elif method == "grid":
        raise ValueError(f"{where}: a grid needs 'value' or 'values'")
    else:
        vals = []
    if method == "random":  # W&B's distributions and their checks (rlnet.experiments.wandb_sampling)
        try:
            wandb_sampling.validate_parameter(key, spec)
        except ValueError as err:
            raise ValueError(f"sweep.{err}") from None
    # W&B renders None as --x=None, which the CLI rejects (DESIGN "Known traps").
    if any(v is None for v in vals):
        raise ValueError(f"{where}: null values are rendered as 'None' by W&B; leave the key out instead")


# ---- expansion ----------------------------------------------------------------------------------
def _values(spec: dict) -> list:
    return [spec["value"]] if "value" in spec else list(spec["values"])


def grid(parameters: dict[str, dict]) -> list[dict[str, Any]]:
    """The Cartesian product of every key's values, in file order (last key fastest)."""
    keys = list(parameters)
    return [dict(zip(keys, combo)) for combo in product(*(_values(parameters[k]) for k in keys))]


def sample(parameters: dict[str, dict], count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` random draws, deterministic in ``seed``: the first k draws never depend on count."""
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        draw = {}
        for k, spec in parameters.items():
            draw[k] = wandb_sampling.draw(spec, rng, k)
        out.append(draw)
    return out


def render_value(v: Any) -> str:
    """A value as W&B's ``${args}`` renders it (``str``), so local runs and agents see the same text."""
    return str(v)


def ordered(params: dict[str, Any]) -> list[tuple[str, Any]]:
    """``config`` first, so that the other parameters override the file it names (jsonargparse applies
    arguments in order). W&B agents receive the parameters sorted by key, where ``config`` also comes
    before ``data.*``, ``model.*`` and ``trainer.*``."""
    return sorted(params.items(), key=lambda kv: kv[0] != "config")


def render_command(sweep: Sweep, params: dict[str, Any], python: str | None = None) -> list[str]:
    """The argument list of one run: macros replaced, ``python`` -> this interpreter."""
    python = python or sys.executable
    argv: list[str] = []
    for tok in sweep.command:
        if tok == "${env}":
            continue
        if tok in ("${interpreter}", "python", "python3"):
            argv.append(python)
        elif tok == "${program}":
            if not sweep.program:
                raise ValueError("sweep.command uses ${program} but sweep.program is not set")
            argv.append(sweep.program)
        elif tok == "${args}":
            argv += [f"--{k}={render_value(v)}" for k, v in ordered(params)]
        elif tok == "${args_no_hyphens}":
            argv += [f"{k}={render_value(v)}" for k, v in ordered(params)]
        else:
            argv.append(tok)
    return argv


def _short(v: Any) -> str:
    """A value as it appears in a run id: config paths by their stem, runs of integers as a-b."""
    if isinstance(v, str) and v.endswith((".yaml", ".yml")):
        return Path(v).stem
    if isinstance(v, list) and len(v) > 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in v) \
            and v == list(range(v[0], v[0] + len(v))):
        return f"{v[0]}-{v[-1]}"
    return render_value(v)


def run_hash(sweep: Sweep, params: dict[str, Any]) -> str:
    """The identity of a run: a hash of its parameters and the command (not of the readable id)."""
    blob = json.dumps({"params": params, "command": sweep.command}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def run_id_for(sweep: Sweep, params: dict[str, Any], index: int | None = None) -> str:
    """A readable, stable id: ``key=value`` of the parameters that vary, then :func:`run_hash`."""
    parts = [f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in ordered(params)
             if sweep.method == "random" or "value" not in sweep.parameters.get(k, {})]
    readable = "".join(c if c.isalnum() or c in "=.-" else ("_" if c == "," else "-") for c in "_".join(parts))
    readable = readable[:80]
    prefix = f"{index:04d}_" if index is not None else ""
    h = run_hash(sweep, params)
    return f"{prefix}{readable}_{h}" if readable else f"{prefix}{h}"


def _hash_of(run_id: str) -> str:
    return run_id.rsplit("_", 1)[-1]


def plan(sweep: Sweep, count: int | None = None, seed: int = 0, python: str | None = None) -> list[Run]:
    """Every run of the sweep, in order."""
    if sweep.method == "grid":
        combos = grid(sweep.parameters)
        ids = [run_id_for(sweep, p) for p in combos]
    else:
        n = count or sweep.run_cap
        if not n:
            raise ValueError("a random sweep needs --count N (or run_cap in the file)")
        combos = sample(sweep.parameters, n, seed)
        ids = [run_id_for(sweep, p, i) for i, p in enumerate(combos)]
    return [Run(i, p, render_command(sweep, p, python)) for i, p in zip(ids, combos)]


# ---- running ------------------------------------------------------------------------------------
def run_argv(run: Run | Job, run_dir: Path, wandb: bool) -> list[str]:
    """A run's (or job's) argument list plus what the local runner adds (its directory, no progress bar)."""
    extra = [f"--trainer.default_root_dir={run_dir}", "--trainer.enable_progress_bar=false"]
    if not wandb:
        extra.append("--trainer.logger=false")
    return [*run.argv, *extra]


def _error_of(stderr: Path, rc: int, start: int = 0) -> str:
    """The user-facing error line (``rlnet: error: ...``) or a traceback's last line, from what this
    attempt wrote to ``stderr`` (from byte ``start``: the log keeps earlier attempts)."""
    text = ""
    if stderr.exists():
        with stderr.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    chosen = next((ln for ln in reversed(lines) if ln.startswith("rlnet: error:")), None)
    if chosen is None:
        chosen = next((ln for ln in reversed(lines) if not ln.startswith(("warnings.warn", "/"))),
                      lines[-1] if lines else "")
    return f"exit status {rc}: {chosen}" if chosen else f"exit status {rc}"


def _child_env(jobs: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # children import this very rlnet
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, "1")  # one thread per process: --jobs sets the parallelism
    env.setdefault("WANDB_SILENT", "true")
    if jobs > 1:  # each of the runs at once checks its memory against its share (rlnet.memory)
        env.setdefault(MEMORY_SHARE_ENV, str(jobs))
    return env


def _die_with(parent: int):
    """A ``preexec_fn``: the child gets SIGKILL when the thread that started it dies (Linux
    ``PR_SET_PDEATHSIG``), so that even a ``kill -9`` of the runner leaves no run training. libc's
    ``prctl`` is looked up here, in the parent: the forked child only calls it (no import there,
    which could wait forever on a lock another thread of the runner held at the fork)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_deathsig() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the runner died before prctl
            os._exit(1)
    return set_deathsig


def _load_metrics(path: Path) -> dict | None:
    """A finished ``metrics.json`` (written atomically), or ``None`` if absent or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("members"), list) else None


class _Runner:
    """Claims, runs and records jobs; tracks their processes so that an interrupt stops them all."""

    def __init__(self, db: ResultsDB, sweep_name: str, runs_dir: Path, wandb: bool,
                 timeout: float | None, jobs: int = 1) -> None:
        self.db, self.sweep_name, self.runs_dir = db, sweep_name, runs_dir
        self.wandb, self.timeout = wandb, timeout
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False
        self.env = _child_env(jobs)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def record_finished(self, job: Job, job_dir: Path, metrics: dict, started: float | None = None) -> dict[str, str]:
        """One row per run from its members of the job's ``metrics.json``."""
        out = {}
        if len(job.runs) > 1 and len(metrics.get("members", [])) != job.n_members:
            return self.record_failed(job, job_dir, f"metrics.json has {len(metrics.get('members', []))} members, "
                                                    f"the job {job.n_members}")
        for k, run in enumerate(job.runs):
            m = run_metrics(metrics, job, k) if len(job.runs) > 1 else metrics
            status = "diverged" if any(x.get("diverged") for x in m["members"]) else "ok"
            self.db.record(run.run_id, self.sweep_name, run.params, status, run_dir=str(job_dir), metrics=m,
                           started=started, owner=self.owner)
            out[run.run_id] = status
        return out

    def record_failed(self, job: Job, job_dir: Path, error: str, started: float | None = None) -> dict[str, str]:
        for run in job.runs:  # never replaces a finished row (ResultsDB.record)
            self.db.record(run.run_id, self.sweep_name, run.params, "failed", error=error, run_dir=str(job_dir),
                           started=started, owner=self.owner)
        return {run.run_id: "failed" for run in job.runs}

    def adopt(self, plan_ids: dict[str, Run], finished: set[str]) -> int:
        """Record runs whose job finished (its ``metrics.json`` exists) but whose rows do not say so,
        e.g. after the runner was killed between the fit's end and the row. Returns how many."""
        n = 0
        for manifest_path in sorted(self.runs_dir.glob("*/job.json")):
            try:
                manifest = json.loads(manifest_path.read_text())
                entries = manifest["runs"]
                runs = [plan_ids.get(_hash_of(e["run_id"])) for e in entries]
                slices = [tuple(e["members"]) for e in entries]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if any(r is None for r in runs) or all(_hash_of(r.run_id) in finished for r in runs):
                continue
            metrics = _load_metrics(manifest_path.parent / "metrics.json")
            if metrics is None:
                continue
            job = Job(manifest.get("job_id", manifest_path.parent.name), runs, slices,
                      list(manifest.get("argv", [])), 0.0)
            for run_id, status in self.record_finished(job, manifest_path.parent, metrics).items():
                n += status != "failed"
                finished.add(_hash_of(run_id))
        return n

    def run(self, job: Job) -> dict[str, str]:
        """Run one job; returns the status of each run it claimed (runs another runner holds are left out)."""
        claimed = [(r, res) for r, res in zip(job.runs, job.resolved, strict=True)
                   if self.db.claim(r.run_id, self.sweep_name, r.params, self.owner)]
        if not claimed:
            return {}
        if len(claimed) < len(job.runs):  # another runner holds some: train the rest together
            job = make_job([r for r, _ in claimed], [res for _, res in claimed])
        return self.execute(job)

    def execute(self, job: Job) -> dict[str, str]:
        """Train a job whose runs this runner holds and record them. A packed job that fails (not by a
        timeout or a stop) is run again run by run, so that one run's error (say, a rank above N)
        is recorded as its own and its job-mates finish."""
        job_dir = self.runs_dir / job.job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(job_dir / "job.json", job.manifest())
        metrics = _load_metrics(job_dir / "metrics.json")
        if metrics is not None:  # finished before a restart: recorded, not run again
            return self.record_finished(job, job_dir, metrics)
        for stale in ("metrics.json",):  # an unreadable file left by a crash would stop the fit
            (job_dir / stale).unlink(missing_ok=True)
        argv = run_argv(job, job_dir, self.wandb)
        started = time.time()
        out, err = job_dir / "stdout.log", job_dir / "stderr.log"
        err_start = err.stat().st_size if err.exists() else 0
        with out.open("a") as fo, err.open("a") as fe:
            fo.write(f"# started {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(argv)}\n")
            fo.flush()
            with self.lock:
                if self.stopping:
                    return self.record_failed(job, job_dir, "the sweep was stopped before this run started", started)
                proc = subprocess.Popen(argv, stdout=fo, stderr=fe, env=self.env, stdin=subprocess.DEVNULL,
                                        preexec_fn=_die_with(os.getpid()))
                self.procs.add(proc)
            timed_out = False
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc, timed_out = proc.wait(), True
                fe.write(f"\nrlnet: error: run exceeded --run_timeout {self.timeout} s\n")
            finally:
                with self.lock:
                    self.procs.discard(proc)
        metrics = _load_metrics(job_dir / "metrics.json")
        if rc == 0 and metrics is not None:
            return self.record_finished(job, job_dir, metrics, started)
        if self.stopping:
            return self.record_failed(job, job_dir, "stopped with the sweep (SIGINT/SIGTERM)", started)
        error = _error_of(err, rc, err_start) if rc != 0 else "exit status 0 but no metrics.json was written"
        if len(job.runs) > 1 and not timed_out:
            with err.open("a") as fe:
                fe.write(f"\nrlnet sweep: the packed job failed ({error}); its {len(job.runs)} runs run again alone\n")
            out_status: dict[str, str] = {}
            for run, res in zip(job.runs, job.resolved, strict=True):
                out_status.update(self.execute(make_job([run], [res])))
            return out_status
        return self.record_failed(job, job_dir, error, started)

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for p in list(self.procs):
                p.terminate()


def run_sweep(sweep: Sweep, out: Path, jobs: int = 1, db_path: Path | None = None, count: int | None = None,
              seed: int = 0, shard: tuple[int, int] = (0, 1), wandb: bool = False,
              timeout: float | None = None, progress: bool = True, pack_runs: bool = True,
              max_members: int = DEFAULT_MAX_MEMBERS) -> dict[str, int]:
    """Run what is missing of ``sweep``; returns counts by status of the runs finished now."""
    return run_sweeps([(sweep, out, db_path or out / "results.db")], jobs, count, seed, shard, wandb, timeout,
                      progress, pack_runs, max_members)


def run_sweeps(targets: list[tuple[Sweep, Path, Path]], jobs: int = 1, count: int | None = None, seed: int = 0,
               shard: tuple[int, int] = (0, 1), wandb: bool = False, timeout: float | None = None,
               progress: bool = True, pack_runs: bool = True,
               max_members: int = DEFAULT_MAX_MEMBERS) -> dict[str, int]:
    """Run what is missing of every ``(sweep, out, results table)`` in one pool of ``jobs`` processes:
    each sweep planned as W&B plans it (then ``--shard``), its unfinished runs packed into ensemble
    jobs, all jobs longest first. Returns counts by status of the runs finished now."""
    work: list[tuple[_Runner, Job]] = []
    total = 0
    for sweep, out, db_path in targets:
        runs = _shard(plan(sweep, count, seed), shard)
        db = ResultsDB(db_path)
        runner = _Runner(db, sweep.name, out / "runs", wandb, timeout, jobs)
        done = {_hash_of(i) for i in db.finished_ids(sweep.name)}  # the hash is the identity
        adopted = runner.adopt({_hash_of(r.run_id): r for r in runs}, done)
        todo = [r for r in runs if _hash_of(r.run_id) not in done]
        job_list = pack(todo, jobs, max_members, enabled=pack_runs and not wandb)
        print(f"sweep {sweep.name}: {len(runs)} runs, {len(runs) - len(todo)} already finished"
              f"{f' ({adopted} found finished on disk)' if adopted else ''}, {len(todo)} to run as "
              f"{len(job_list)} job(s), {jobs} at a time; results table {db.path}", file=sys.stderr)
        work += [(runner, j) for j in job_list]
        total += len(todo)
    counts = {"ok": 0, "diverged": 0, "failed": 0}
    if not work:
        return counts
    work.sort(key=lambda rj: -rj[1].cost)  # longest first: the processes finish together
    from tqdm import tqdm

    bar = tqdm(total=total, unit="run", desc="sweep", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, smoothing=0.0)
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(runner.run, job): (runner, job) for runner, job in work}
        for fut in as_completed(futures):
            runner, job = futures[fut]
            try:
                statuses = fut.result()
            except Exception as err:  # the runner itself failed on this job: record, go on
                statuses = runner.record_failed(job, runner.runs_dir / job.job_id, f"runner: {err!r}")
            for run_id, status in statuses.items():
                counts[status] += 1
                if status == "failed":
                    bar.write(f"failed: {run_id}: {_last_error(runner.db, runner.sweep_name, run_id)}",
                              file=sys.stderr)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"], diverged=counts["diverged"])
            bar.update(len(job.runs))
    except KeyboardInterrupt:
        for runner in {id(r): r for r, _ in work}.values():
            runner.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        if main_thread:
            for s_, h in old.items():
                signal.signal(s_, h)
    return counts


def _shard(runs: list[Run], shard: tuple[int, int]) -> list[Run]:
    i, n = shard
    return [r for k, r in enumerate(runs) if k % n == i]


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _last_error(db: ResultsDB, sweep: str, run_id: str) -> str:
    rows = [r for r in db.rows(sweep) if r["run_id"] == run_id]
    return (rows[0]["error"] or "") if rows else ""


# ---- command line -------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be I/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard I/N needs 0 <= I < N, got {text!r}")
    return i, n


def build_parser():
    from jsonargparse import ArgumentParser

    p = ArgumentParser(prog="rlnet sweep", exit_on_error=False,
                       description="Run W&B sweep files locally: runs packed into ensemble jobs, one process "
                                   "per core, one row per run in SQLite.")
    p.add_argument("files", type=str, nargs="+",
                   help="sweep files (W&B format), e.g. sweeps/fig1_2af.yaml; several run in one pool")
    p.add_argument("--jobs", type=int, default=1, help="processes at once (one torch thread each)")
    p.add_argument("--out", type=str | None, default=None,
                   help="output directory (default results/NAME; with several files OUT/NAME)")
    p.add_argument("--db", type=str | None, default=None, help="results table (default OUT/results.db)")
    p.add_argument("--count", type=int | None, default=None, help="runs of a random sweep (default run_cap)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random sweep's draws")
    p.add_argument("--shard", type=str, default="0/1", help="run only runs k with k %% N == I (SLURM arrays)")
    p.add_argument("--wandb", type=bool, default=False,
                   help="keep the config's (offline) W&B logger; each run then trains alone")
    p.add_argument("--run_timeout", type=float | None, default=None,
                   help="seconds before a job's process (one run, or a packed ensemble of runs) is killed")
    p.add_argument("--pack", type=bool, default=True,
                   help="train runs that differ only in per-member keys (seed, structure) as one ensemble")
    p.add_argument("--max_members", type=int, default=DEFAULT_MAX_MEMBERS,
                   help="about this many networks per packed job at most (memory: 1.45 GiB for 20 at N=300)")
    p.add_argument("--override", type=list[str], default=[],
                   help="extra 'rlnet fit' arguments appended to every run, e.g. --override "
                        "'[--trainer.max_steps=20]' (part of each run's identity: another results row)")
    p.add_argument("--dry-run", action="store_true", help="list the jobs and what is done; run nothing")
    p.add_argument("--progress", type=bool, default=True, help="show the progress bar")
    return p


def main(args: Sequence[str] | None = None) -> int:
    """``rlnet sweep``: 0 if every run finished, 1 if some failed, 2 on a user error."""
    try:
        a = parse_cli_args(build_parser(), args)
        if a.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {a.jobs}")
        if a.max_members < 1:
            raise ValueError(f"--max_members must be >= 1, got {a.max_members}")
        if any(not o.startswith("--") for o in a.override):
            raise ValueError(f"--override takes 'rlnet fit' arguments such as --trainer.max_steps=20, got {a.override}")
        files = [f for item in a.files for f in ([item] if isinstance(item, str) else item)]
        sweeps = [load_sweep(f) for f in files]
        names = [s.name for s in sweeps]
        if len(set(names)) != len(names):
            raise ValueError(f"two sweep files have the same name: {names}")
        for s in sweeps:
            if a.override:
                s.command = [*s.command, *a.override]
        shard = parse_shard(a.shard)
        targets = []
        for s in sweeps:
            out = (Path(a.out) / s.name if len(sweeps) > 1 else Path(a.out)) if a.out else Path("results") / s.name
            targets.append((s, out, Path(a.db) if a.db else out / "results.db"))
        if a.dry_run:
            return _dry_run(targets, a.count, a.seed, shard, a.wandb, a.jobs, a.pack, a.max_members)
        counts = run_sweeps(targets, a.jobs, a.count, a.seed, shard, a.wandb, a.run_timeout, a.progress, a.pack,
                            a.max_members)
    except ValueError as err:  # errors the user can fix: one line, as the CLI prints them
        print(f"rlnet: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlnet sweep: interrupted; finished runs are kept: run the same command again to finish what is "
              "missing", file=sys.stderr)
        return 130
    print(f"sweep {', '.join(names)}: ok {counts['ok']}, diverged {counts['diverged']}, failed {counts['failed']}; "
          f"table(s) {', '.join(str(t[2]) for t in targets)}", file=sys.stderr)
    return 1 if counts["failed"] else 0


def _dry_run(targets: list[tuple[Sweep, Path, Path]], count: int | None, seed: int, shard: tuple[int, int],
             wandb: bool, jobs: int, pack_runs: bool, max_members: int) -> int:
    for sweep, out, db_path in targets:
        runs = _shard(plan(sweep, count, seed), shard)
        done = {_hash_of(i) for i in ResultsDB(db_path).finished_ids(sweep.name)} if db_path.exists() else set()
        for r in runs:
            if _hash_of(r.run_id) in done:
                print(f"done  {shlex.join(run_argv(r, out / 'runs' / r.run_id, wandb))}")
        todo = [r for r in runs if _hash_of(r.run_id) not in done]
        for job in pack(todo, jobs, max_members, enabled=pack_runs and not wandb):
            runs_of = ", ".join(r.run_id for r in job.runs) if len(job.runs) > 1 else ""
            print(f"todo  {shlex.join(run_argv(job, out / 'runs' / job.job_id, wandb))}"
                  + (f"  # {len(job.runs)} runs, {job.n_members} members: {runs_of}" if runs_of else ""))
    return 0
