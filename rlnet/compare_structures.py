"""Small-scale Fig. 2 / 17 / 19 comparison: each structure against the null on one task.

``python -m rlnet.compare_structures --task 2af --steps 1000 --members 5 --out DIR`` trains, for every
structure config ``configs/{task}_{structure}.yaml``, ``--members`` networks in one process (seeds
0 .. members-1), and the null at the same ``N`` with the same seeds; then prints, per structure, the
initial effective rank and the three laziness measures (weight change, representation and kernel
alignment) beside the null's, with the two-sided Mann-Whitney U p-value (``scipy.stats``,
App. C.2). The paper's direction: the structure learns richer, i.e. larger ``||dW||``, smaller RA
and KA. Runs are skipped when their ``metrics.json`` exists, so an interrupted comparison resumes.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

STRUCTURE_N = {"celltype": 300, "celltype_b": 300, "dale": 300, "dale_trained": 300, "softrank": 300,
               "em": 198, "em_shuffled": 198, "em_shuffled_all": 198, "chain_over": 100, "chain_under": 100}
MEASURES = [("initial_eigenvalue_effective_rank", "eff. rank", "lower"),
            ("weight_change_norm", "dW_F", "higher"),
            ("representation_alignment", "RA", "lower"),
            ("kernel_alignment", "KA", "lower")]


def config_path(task: str, structure: str) -> str:
    """``configs/{task}_{structure}.yaml`` in the working directory, else in the source checkout."""
    name = f"{task}_{structure}.yaml"
    for base in (Path("configs"), Path(__file__).resolve().parents[1] / "configs"):
        if (base / name).is_file():
            return str(base / name)
    raise FileNotFoundError(f"no config {name} in ./configs or the rlnet checkout")


def run_one(config: str, out: Path, steps: int, members: int, n_hidden: int | None = None) -> dict:
    from rlnet.cli import main as cli_main

    metrics = out / "metrics.json"
    if not metrics.exists():
        args = ["fit", "--config", config, f"--trainer.max_steps={steps}", "--trainer.logger=false",
                "--trainer.enable_progress_bar=false", "--trainer.enable_checkpointing=false",
                "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={out}",
                f"--model.init_args.n_members={members}", "--laziness.verbose=false"]
        if n_hidden is not None:
            args.append(f"--model.init_args.n_hidden={n_hidden}")
        code = cli_main(args)
        if code != 0:
            raise RuntimeError(f"run {config} failed with exit status {code}")
    return json.loads(metrics.read_text())


def usable(members: list[dict], key: str) -> list[float]:
    """Values of ``key`` over members that did not diverge and for which it is defined (finite)."""
    vals = [m.get(key) for m in members if not m["diverged"]]
    return [float(v) for v in vals if v is not None and math.isfinite(v)]


def compare(task: str, steps: int, members: int, out: Path, structures: list[str]) -> list[dict]:
    from scipy.stats import mannwhitneyu

    rows = []
    for s in structures:
        n = STRUCTURE_N[s]
        null = run_one(config_path(task, "null"), out / f"null_n{n}", steps, members, n_hidden=n)
        st = run_one(config_path(task, s), out / s, steps, members)
        row = {"structure": s, "n": n}
        for key, label, direction in MEASURES:
            # A measure is missing (null in metrics.json) when it is undefined, e.g. RA of a network whose
            # decision-step rates all died; such members are left out of that measure and counted.
            a, b = usable(st["members"], key), usable(null["members"], key)
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue) if a and b else float("nan")
            ma, mb = sorted(a)[len(a) // 2] if a else float("nan"), sorted(b)[len(b) // 2] if b else float("nan")
            holds = ma > mb if direction == "higher" else ma < mb
            row[label] = {"structure": a, "null": b, "median_structure": ma, "median_null": mb, "p": p,
                          "paper_direction": bool(holds)}
        row["accuracy"] = {"structure": [m.get("accuracy") for m in st["members"]],
                           "null": [m.get("accuracy") for m in null["members"]]}
        row["diverged"] = {"structure": sum(m["diverged"] for m in st["members"]),
                           "null": sum(m["diverged"] for m in null["members"])}
        row["undefined_measures"] = {w: sum(any(m.get(k) is None for k, _, _ in MEASURES) for m in r["members"])
                                     for w, r in (("structure", st), ("null", null))}
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| structure (N) | " + " | ".join(f"{lab}: struct. / null (p)" for _, lab, _ in MEASURES)
            + " | acc. struct. / null |")
    lines = [head, "|" + "---|" * (len(MEASURES) + 2)]
    for r in rows:
        cells = []
        for _, lab, _ in MEASURES:
            d = r[lab]
            mark = "" if d["paper_direction"] else " ✗"
            cells.append(f"{d['median_structure']:.3f} / {d['median_null']:.3f} ({d['p']:.3f}){mark}")
        acc = r["accuracy"]
        mean = lambda v: sum(x for x in v if x is not None) / max(1, len([x for x in v if x is not None]))  # noqa: E731
        und = r["undefined_measures"]
        note = f" ({und['structure']} / {und['null']} with an undefined measure)" if any(und.values()) else ""
        lines.append(f"| {r['structure']} ({r['n']}) | " + " | ".join(cells)
                     + f" | {mean(acc['structure']):.2f} / {mean(acc['null']):.2f}{note} |")
    return "\n".join(lines)


def main(args: Sequence[str] | None = None) -> int:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog="python -m rlnet.compare_structures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", type=str, default="2af")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--out", type=str, default="runs/compare_structures")
    parser.add_argument("--structures", type=list[str], default=list(STRUCTURE_N))
    cfg = parser.parse_args(list(sys.argv[1:] if args is None else args))
    unknown = [s for s in cfg.structures if s not in STRUCTURE_N]
    if unknown or cfg.steps < 1 or cfg.members < 1:
        print(f"rlnet: error: structures must be among {list(STRUCTURE_N)} (got unknown {unknown}); "
              f"steps and members must be >= 1", file=sys.stderr)
        return 2
    out = Path(cfg.out)
    rows = compare(cfg.task, cfg.steps, cfg.members, out, cfg.structures)
    from rlnet.results import write_json_atomic

    write_json_atomic(out / "comparison.json", {"task": cfg.task, "steps": cfg.steps, "members": cfg.members,
                                                 "rows": rows})
    table = markdown(rows)
    (out / "comparison.md").write_text(table + "\n")
    print(f"{cfg.task}, {cfg.steps} steps, {cfg.members} seeds; medians, two-sided Mann-Whitney p; "
          "✗ = against the paper's direction (structure richer: higher dW_F = ||W_f - W_0||_F, lower RA, KA)")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
