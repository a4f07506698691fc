"""The retired ``rlnet grid``'s means (its ``grid.json``) against ``rlnet report``'s ``cells.csv`` of the
Fig. 1 sweeps: ``python benchmarks/compare_grid_means.py GRID_OUT/grid.json REPORTS`` where
``REPORTS/fig1_{2af,dms,cxt}/cells.csv`` were written by ``rlnet report results/fig1_TASK/results.db
--out REPORTS/fig1_TASK``. Prints how many (task, rank, measure) means it compared and the largest
relative difference (the same networks: float rounding of the summation order only)."""
import csv
import json
import sys

grid = json.load(open(sys.argv[1]))["summary"]
worst, n = 0.0, 0
for task in ("2af", "dms", "cxt"):
    for c in csv.DictReader(open(f"{sys.argv[2]}/fig1_{task}/cells.csv")):
        g = grid[task].get(str(c["value"]), {})
        if c["measure"] in g:
            a, b = float(c["mean"]), g[c["measure"]]
            worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
            n += 1
            assert int(c["n"]) == g["n"] - g["diverged"] or c["measure"] not in g
print(f"{n} (task, rank, measure) means compared; largest relative difference {worst:.2e}")
