"""A sweep's cost per network-step against one ensemble ``fit`` of the same networks.

``python benchmarks/bench_sweep.py`` trains the same networks (2AF on ``configs/fig1/2af.yaml``:
SVD ranks x seeds, one network per run) twice, alternated over ``--rounds``:

1. ``python -m rlnet sweep FILE --jobs 1``: the driver plans one run per network, packs them into
   one ensemble job and records one row per run;
2. ``python -m rlnet fit`` of one ensemble with every network (``seeds`` x ``connectivities``).

and prints both wall times (each a whole command: Python, Lightning, data, training, measures,
for the sweep also planning and the results table), the cost per network-step and their ratio
(the issue's target: the sweep within 15 % of the ensemble), and checks that each run's kernel
alignment equals its network's in the ensemble (``--pack false`` adds the old one-process-per-run
sweep for reference).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def structures(ranks: list[int]) -> list[dict]:
    return [{"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": r, "g": 1.25}} for r in ranks]


def sweep_doc(name: str, ranks: list[int], seeds: list[int], common: list[str]) -> dict:
    conns = [[c] for c in structures(ranks)]
    return {"name": name, "method": "grid",
            "parameters": {"model.init_args.seeds": {"values": [[s] for s in seeds]},
                           "model.init_args.connectivities": {"values": conns}},
            "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/fig1/2af.yaml", *common,
                        "${args}"]}


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n_hidden", type=int, default=300)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--ranks", type=str, default="1,300")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--unpacked", action="store_true", help="also time the sweep with --pack false")
    a = ap.parse_args()
    ranks = [int(r) for r in a.ranks.split(",")]
    seeds = list(range(a.seeds))
    nets = len(ranks) * len(seeds)
    common = [f"--model.init_args.n_hidden={a.n_hidden}", f"--trainer.max_steps={a.steps}",
              "--checkpoint_every=0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    walls: dict[str, list[float]] = {"sweep": [], "fit": [], "unpacked": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k in range(a.rounds):
            path = tmp / f"bench{k}.yaml"
            path.write_text(yaml.safe_dump(sweep_doc(f"bench{k}", ranks, seeds, common)))
            fit_dir = tmp / f"fit{k}"
            walls["fit"].append(timed(
                [sys.executable, "-m", "rlnet", "fit", "--config", "configs/fig1/2af.yaml", *common,
                 f"--model.init_args.seeds={json.dumps(seeds)}",
                 f"--model.init_args.connectivities={json.dumps(structures(ranks))}",
                 "--model.init_args.pairing=product", f"--trainer.default_root_dir={fit_dir}",
                 "--trainer.logger=false", "--trainer.enable_progress_bar=false"], env))
            walls["sweep"].append(timed([sys.executable, "-m", "rlnet", "sweep", str(path), "--jobs", "1",
                                         "--out", str(tmp / f"sweep{k}"), "--progress", "false"], env))
            if a.unpacked:
                walls["unpacked"].append(timed([sys.executable, "-m", "rlnet", "sweep", str(path), "--jobs", "1",
                                                "--out", str(tmp / f"unpacked{k}"), "--progress", "false",
                                                "--pack", "false"], env))
            # The same networks, the same numbers.
            fit = json.loads((fit_dir / "metrics.json").read_text())["members"]
            ka = {(m["connectivity"]["rank"], m["seed"]): m["kernel_alignment"] for m in fit}
            sys.path.insert(0, str(REPO))
            from rlnet.experiments.results_db import ResultsDB

            rows = ResultsDB(tmp / f"sweep{k}" / "results.db").rows()
            assert len(rows) == nets, rows
            worst = max(abs(m["kernel_alignment"] - ka[(m["connectivity"]["rank"], m["seed"])])
                        for r in rows for m in r["metrics"]["members"])
    steps = nets * a.steps
    med = {k: statistics.median(v) for k, v in walls.items() if v}
    print(f"{nets} networks (N={a.n_hidden}, ranks {ranks}, seeds 0-{a.seeds - 1}), {a.steps} steps, "
          f"{a.rounds} round(s), medians of whole commands:")
    for k, w in med.items():
        print(f"  {k:8s} {w:7.1f} s  {1e3 * w / steps:6.3f} ms per network-step   (all: "
              f"{', '.join(f'{x:.1f}' for x in walls[k])})")
    print(f"  sweep / fit = {med['sweep'] / med['fit']:.3f} (target <= 1.15); largest |KA difference| of a run "
          f"and its network in the ensemble: {worst:.2e}")
    if "unpacked" in med:
        print(f"  unpacked sweep / fit = {med['unpacked'] / med['fit']:.2f}")


if __name__ == "__main__":
    main()
