"""Train the Fig. 1 Neurogym grid (3 tasks x SVD ranks 1, 30, 100, 300 x 10 seeds) as ensembles.

``python -m rlnet.grid --out runs/fig1`` runs ``configs/fig1/<task>.yaml`` (one ensemble of
4 ranks x 10 seeds per task), split by seeds into ``chunks`` jobs per task, ``procs`` jobs at a
time, each a separate ``rlnet fit`` process with one torch thread (one process per core beats two
threads per process on this machine; see ``benchmarks/``). Every job writes its own
``metrics.json`` (one entry per network) under ``<out>/<task>-seeds<a>-<b>/``; at the end the
grid prints the per-(task, rank) means over seeds, its wall time and the peak memory of the jobs,
and writes ``<out>/grid.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "fig1"
MEASURES = ("weight_change_norm", "representation_alignment", "kernel_alignment", "final_loss", "accuracy")


def split_seeds(seeds: list[int], chunks: int) -> list[list[int]]:
    """``seeds`` in ``chunks`` contiguous, nearly equal parts (none empty)."""
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    chunks = min(chunks, len(seeds))
    q, r = divmod(len(seeds), chunks)
    out, i = [], 0
    for c in range(chunks):
        n = q + (c < r)
        out.append(seeds[i:i + n])
        i += n
    return out


def grid_jobs(tasks: list[str], seeds: list[int], chunks: int, out: Path, config_dir: Path,
              overrides: list[str]) -> list[dict]:
    """One job (a ``rlnet fit`` command line) per task and seed chunk."""
    jobs = []
    for task in tasks:
        config = config_dir / f"{task}.yaml"
        if not config.is_file():
            raise ValueError(f"tasks: no config {config} for task {task!r}")
        for part in split_seeds(list(seeds), chunks):
            run_dir = out / f"{task}-seeds{part[0]}-{part[-1]}"
            cmd = [sys.executable, "-m", "rlnet", "fit", "--config", str(config),
                   f"--model.init_args.seeds=[{','.join(map(str, part))}]",
                   f"--trainer.default_root_dir={run_dir}", "--num_threads=1", *overrides]
            jobs.append({"task": task, "seeds": part, "dir": run_dir, "cmd": cmd})
    return jobs


def run_jobs(jobs: list[dict], procs: int) -> list[dict]:
    """Run the jobs, ``procs`` at a time, each with one thread; record wall time and peak RSS."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="offline",
               WANDB_SILENT="true")
    pending, running, done = list(jobs), {}, []
    while pending or running:
        while pending and len(running) < procs:
            job = pending.pop(0)
            job["dir"].mkdir(parents=True, exist_ok=True)
            log = open(job["dir"] / "log.txt", "w")  # closed when the job ends
            job["t0"] = time.perf_counter()
            p = subprocess.Popen(job["cmd"], stdout=log, stderr=subprocess.STDOUT, env=env)
            running[p.pid] = (p, job, log)
            print(f"[grid] start {job['dir'].name} ({len(job['seeds'])} seeds)", flush=True)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:  # pragma: no cover - a child we did not start
            continue
        p, job, log = running.pop(pid)
        log.close()
        job.update(wall_s=time.perf_counter() - job["t0"], rc=os.waitstatus_to_exitcode(status),
                   peak_rss_mib=usage.ru_maxrss / 1024)  # Linux: KiB
        p.returncode = job["rc"]
        print(f"[grid] done  {job['dir'].name}: rc={job['rc']} {job['wall_s']:.0f} s, "
              f"peak {job['peak_rss_mib']:.0f} MiB", flush=True)
        done.append(job)
    return done


def summarize(jobs: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and SD over seeds of each measure, per task and rank, from the jobs' metrics.json."""
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for job in jobs:
        path = job["dir"] / "metrics.json"
        if not path.is_file():
            continue
        for m in json.loads(path.read_text())["members"]:
            c = m["connectivity"]
            cells[(job["task"], str(c.get("rank", c.get("name"))))].append(m)
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (task, rank), members in sorted(cells.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        ok = [m for m in members if not m["diverged"]]
        row = {"n": len(members), "diverged": len(members) - len(ok)}
        for k in MEASURES:
            vals = [m[k] for m in ok if m.get(k) is not None]
            if vals:
                row[k] = statistics.fmean(vals)
                row[f"{k}_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        table[task][rank] = row
    return dict(table)


def format_summary(table: dict) -> str:
    lines = [f"{'task':5} {'rank':>4} {'n':>3} {'|dW|':>7} {'RA':>6} {'KA':>6} {'loss':>6} {'acc':>6}"]
    for task, rows in table.items():
        for rank, r in rows.items():
            lines.append(f"{task:5} {rank:>4} {r['n']:>3} {r.get('weight_change_norm', float('nan')):7.3f} "
                         f"{r.get('representation_alignment', float('nan')):6.3f} "
                         f"{r.get('kernel_alignment', float('nan')):6.3f} "
                         f"{r.get('final_loss', float('nan')):6.3f} {r.get('accuracy', float('nan')):6.3f}")
    return "\n".join(lines)


def run_grid(out: str = "runs/fig1-grid", tasks: list[str] | None = None, seeds: list[int] | None = None,
             chunks: int = 2, procs: int = 2, max_steps: int | None = None, config_dir: str | None = None,
             overrides: list[str] | None = None) -> int:
    """Train the Fig. 1 Neurogym grid; return 0 if every job succeeded.

    Args:
        out: directory for the jobs' run directories and ``grid.json``.
        tasks: subset of ``2af, dms, cxt`` (default: all three).
        seeds: network seeds (default: 0-9); each task's ensemble is every rank with every seed.
        chunks: jobs per task (the seeds split in contiguous parts); ``tasks x chunks`` should be a
            multiple of ``procs`` so that the processes finish together.
        procs: jobs run at once (one per core).
        max_steps: training steps (default: the configs' 10,000).
        config_dir: where ``<task>.yaml`` live (default: the repository's ``configs/fig1``).
        overrides: extra ``rlnet fit`` arguments for every job, e.g. ``--trainer.max_steps=100``.
    """
    tasks = list(tasks) if tasks is not None else ["2af", "dms", "cxt"]
    seeds = list(seeds) if seeds is not None else list(range(10))
    if procs < 1:
        raise ValueError(f"procs must be >= 1, got {procs}")
    if not seeds:
        raise ValueError("seeds must not be empty")
    extra = list(overrides or [])
    if max_steps is not None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        extra.insert(0, f"--trainer.max_steps={max_steps}")
    out_dir = Path(out)
    jobs = grid_jobs(tasks, seeds, chunks, out_dir, Path(config_dir) if config_dir else CONFIG_DIR, extra)
    print(f"[grid] {len(jobs)} jobs, {procs} at a time, into {out_dir}", flush=True)
    t0 = time.perf_counter()
    done = run_jobs(jobs, procs)
    wall = time.perf_counter() - t0
    table = summarize(done)
    peak = max(j["peak_rss_mib"] for j in done)
    result = {
        "wall_time_s": wall,
        "procs": procs,
        "peak_rss_mib_per_job": peak,
        "peak_rss_mib_bound": peak * min(procs, len(done)),
        "jobs": [{"dir": str(j["dir"]), "task": j["task"], "seeds": j["seeds"], "rc": j["rc"],
                  "wall_s": j["wall_s"], "peak_rss_mib": j["peak_rss_mib"]} for j in done],
        "summary": table,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "grid.json").write_text(json.dumps(result, indent=1))
    print(format_summary(table))
    print(f"[grid] wall time {wall:.0f} s ({wall / 60:.1f} min); peak memory {peak:.0f} MiB per job, "
          f"at most {result['peak_rss_mib_bound']:.0f} MiB together; {out_dir / 'grid.json'}")
    failed = [j for j in done if j["rc"] != 0]
    for j in failed:
        print(f"[grid] FAILED {j['dir']} (rc {j['rc']}): see {j['dir'] / 'log.txt'}", file=sys.stderr)
    return 1 if failed else 0


def main(args: list[str] | None = None) -> int:
    from jsonargparse import CLI

    try:
        return int(CLI(run_grid, args=args, as_positional=False) or 0)
    except ValueError as err:
        print(f"rlnet grid: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
