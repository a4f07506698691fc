"""Small-scale reproductions for issue 6 (sMNIST rank direction, Fig. 4B, Fig. 18, Fig. 3C).

Each experiment runs rlnet's CLI in-process on the shipped configs with smaller sizes, then prints
one row per network (seed, rank, measures) and the per-rank means. Results stay in each run's
``metrics.json`` under ``runs/issue6/<experiment>/``.

    PYTHONPATH=$PWD nice -n 10 python scripts/issue6_small_scale.py smnist --n_hidden 100 --steps 600
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from rlnet.cli import main as cli

KEYS = ("weight_change_norm", "representation_alignment", "kernel_alignment", "final_loss", "accuracy",
        "stopped_at_step")
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--laziness.verbose", "false",
         "--trainer.enable_checkpointing", "false"]


def run(name: str, config: str, extra: list[str], out: Path) -> dict:
    d = out / name
    if not (d / "metrics.json").exists():
        rc = cli(["fit", "--config", config, *QUIET, *extra, "--trainer.default_root_dir", str(d)])
        if rc:
            sys.exit(f"run {name} failed with status {rc}")
    return json.loads((d / "metrics.json").read_text())


def _num(m: dict, k: str) -> float:
    v = m.get(k)
    return float("nan") if v is None else float(v)


def table(rows: list[tuple[str, dict]]) -> None:
    print(f"{'init':<16}{'seed':>5}" + "".join(f"{k[:14]:>16}" for k in KEYS))
    groups: dict[str, list[dict]] = {}
    for label, m in rows:
        for mem in m["members"]:
            groups.setdefault(label, []).append(mem)
            print(f"{label:<16}{mem['seed']:>5}" + "".join(f"{_num(mem, k):>16.4f}" for k in KEYS))
    print("means:")
    for label, mems in groups.items():
        print(f"{label:<16}{len(mems):>5}" + "".join(
            f"{statistics.mean(_num(x, k) for x in mems):>16.4f}" for k in KEYS))
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("experiment", choices=["smnist", "mnist_ff", "pattern", "fig3c"])
    ap.add_argument("--n_hidden", type=int, default=100)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--teacher_steps", type=int, default=1500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ranks", type=str, default="")
    ap.add_argument("--kernel_trials", type=int, default=200)
    ap.add_argument("--target", type=float, default=None,
                    help="sMNIST: stop each network at this validation accuracy (the paper: 0.97)")
    ap.add_argument("--check_every", type=int, default=20)
    ap.add_argument("--extra", default="", help="more CLI overrides for every run, space-separated")
    ap.add_argument("--out", default="runs/issue6")
    a = ap.parse_args()
    out = Path(a.out) / a.experiment
    N, S = a.n_hidden, a.steps
    common = ["--trainer.max_steps", str(S), "--trainer.val_check_interval", str(S),
              "--model.init_args.n_members", str(a.seeds), "--laziness.kernel_trials", str(a.kernel_trials),
              *a.extra.split()]
    if a.target is not None and a.experiment in ("smnist", "fig3c"):
        common += ["--trainer.callbacks.init_args.target", str(a.target),
                   "--trainer.callbacks.init_args.every_n_steps", str(a.check_every)]
    rows = []
    if a.experiment in ("smnist", "pattern"):
        ranks = [int(r) for r in a.ranks.split(",")] if a.ranks else ([5, 30, N] if a.experiment == "smnist"
                                                                       else [1, 30, N])
        cfg = "configs/smnist_lowrank.yaml" if a.experiment == "smnist" else "configs/pattern_lowrank.yaml"
        extra = ["--data.init_args.source", "auto"] if a.experiment == "smnist" else []
        if a.experiment == "pattern":
            common[common.index("--laziness.kernel_trials") + 1] = "1"
        for r in ranks:
            m = run(f"rank{r}", cfg, [*common, *extra, "--model.init_args.n_hidden", str(N),
                                      "--model.init_args.connectivity.init_args.rank", str(r)], out)
            rows.append((f"rank {r}", m))
    elif a.experiment == "mnist_ff":
        ranks = [int(r) for r in a.ranks.split(",")] if a.ranks else [5, 30, N]
        for r in ranks:
            m = run(f"rank{r}", "configs/mnist_ff_lowrank.yaml",
                    [*common, "--model.init_args.n_hidden", str(N), "--model.init_args.rank", str(r)], out)
            rows.append((f"rank {r}", m))
    else:  # fig3c
        teacher = out / "teacher"
        run("teacher", "configs/fig3c/teacher.yaml",
            ["--trainer.max_steps", str(a.teacher_steps), "--trainer.val_check_interval", str(a.teacher_steps),
             "--model.init_args.n_hidden", str(N), "--laziness.kernel_trials", "20",
             # the teacher only has to be a trained network: Adam gets there in fewer steps
             "--model.init_args.optimizer", "adam", "--model.init_args.lr", "0.001"], out)
        t = json.loads((teacher / "metrics.json").read_text())["members"][0]
        print(f"teacher: N={N}, accuracy on the probe {t['accuracy']:.3f}, loss {t['final_loss']:.3f}")
        half = str(N // 2)
        specs = [
            ("aligned", "configs/fig3c/aligned.yaml", []),
            ("partial", "configs/fig3c/aligned_partial.yaml", ["--model.init_args.connectivity.init_args.rank", half]),
            ("random half", "configs/smnist_lowrank.yaml", ["--model.init_args.connectivity.init_args.rank", half]),
            ("random full", "configs/smnist_fullrank.yaml", []),
        ]
        for label, cfg, extra in specs:
            if "fig3c" in cfg:
                extra = [*extra, "--model.init_args.connectivity.init_args.checkpoint", str(teacher)]
            m = run(label.replace(" ", "_"), cfg, [*common, "--model.init_args.n_hidden", str(N), *extra], out)
            rows.append((label, m))
    table(rows)


if __name__ == "__main__":
    main()
