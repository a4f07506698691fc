"""Print the kernel-tracking series of runs side by side (mean and range over members).

    python benchmarks/tracking_table.py runs/a runs/b [--measure kernel_alignment]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories holding metrics.json")
    ap.add_argument("--measure", default="kernel_alignment")
    a = ap.parse_args(argv)
    series = {}
    steps: list[int] = []
    for r in a.runs:
        d = json.loads((Path(r) / "metrics.json").read_text())
        t = d["tracking"]
        conn = d["members"][0].get("connectivity", {})
        name = f"{Path(r).name} ({conn.get('name', '')} rank={conn.get('rank', '-')})"
        series[name] = [m[a.measure] for m in t["members"]]
        steps = t["steps"] if len(t["steps"]) > len(steps) else steps
    print(f"{a.measure}: mean over members [min, max]")
    print("step    " + "  ".join(f"{n:>34}" for n in series))
    for i, s in enumerate(steps):
        cells = []
        for vals in series.values():
            col = [v[i] for v in vals if i < len(v)]
            cells.append(f"{sum(col) / len(col):.3f} [{min(col):.3f}, {max(col):.3f}]" if col else "-")
        print(f"{s:<7} " + "  ".join(f"{c:>34}" for c in cells))


if __name__ == "__main__":
    main()
