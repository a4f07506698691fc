"""``rlnet report`` on results it did not produce: hand-written tables, metrics files and a results
table. Its statistics must equal SciPy's on the same numbers, and every figure must be written."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from rlnet.experiments.report import initial_matrix, load_records, main, make_report, records_from_metrics
from rlnet.experiments.results_db import ResultsDB

PNG = b"\x89PNG\r\n\x1a\n"
RANKS = [1, 30, 100, 300]


def write_rank_csv(path: Path) -> dict:
    """2AF and DMS, 4 ranks x 4 seeds, numbers by hand (a fixed generator), one diverged network."""
    rng = np.random.default_rng(7)
    rows, truth = [], {}
    for task in ("2af", "dms"):
        for r in RANKS:
            for s in range(4):
                row = {"task": task, "rank": r, "seed": s,
                       "weight_change_norm": round(float(3 - np.log10(r) + rng.normal(0, 0.3)), 4),
                       "representation_alignment": round(float(0.5 + 0.1 * np.log10(r) + rng.normal(0, 0.05)), 4),
                       "kernel_alignment": round(float(0.3 + 0.15 * np.log10(r) + rng.normal(0, 0.05)), 4),
                       "initial_eigenvalue_effective_rank": round(r / 300 * 0.6, 4), "diverged": "false"}
                rows.append(row)
    rows[3]["diverged"] = "true"  # 2af, rank 1, seed 3: left out of every cell and test
    rows[3]["weight_change_norm"] = 1e6
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for row in rows:
        truth.setdefault(row["task"], []).append(row)
    return truth


def read_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_rank_trend_equals_scipy_spearman_and_cells_equal_numpy(tmp_path):
    truth = write_rank_csv(tmp_path / "table.csv")
    rep = make_report(tmp_path / "table.csv", tmp_path / "out")
    assert rep["x"] == "rank" and rep["panels"] == []
    st = read_csv(tmp_path / "out" / "stats.csv")
    assert len(st) == 8  # 2 tasks x (3 measures + the initial effective rank)
    for row in st:
        assert row["test"] == "spearman"
        ok = [r for r in truth[row["task"]] if r["diverged"] == "false"]
        ref = stats.spearmanr([r["rank"] for r in ok], [r[row["measure"]] for r in ok])
        assert float(row["statistic"]) == pytest.approx(ref.statistic, rel=1e-12, abs=1e-15)
        assert float(row["pvalue"]) == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)
        assert int(row["n"]) == len(ok)
    cells = read_csv(tmp_path / "out" / "cells.csv")
    for c in cells:
        vals = [r[c["measure"]] for r in truth[c["task"]] if r["rank"] == int(c["value"]) and r["diverged"] == "false"]
        assert int(c["n"]) == len(vals)
        assert float(c["mean"]) == pytest.approx(np.mean(vals), rel=1e-12)
        assert float(c["sd"]) == pytest.approx(np.std(vals, ddof=1), rel=1e-12)
    cell = next(c for c in cells if c["task"] == "2af" and c["value"] == "1" and c["measure"] == "weight_change_norm")
    assert (cell["n"], cell["n_diverged"]) == ("3", "1")
    for name in ("measures.png", "spectra.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == PNG
    assert "spearman" in (tmp_path / "out" / "report.md").read_text()


def test_structure_vs_null_equals_scipy_mann_whitney(tmp_path):
    rng = np.random.default_rng(11)
    rows = []
    for struct, shift in (("null", 0.0), ("cell_type", 0.8), ("dale", 0.3)):
        for s in range(6):
            rows.append({"task": "2af", "structure": struct, "seed": s,
                         "weight_change_norm": round(float(1 + shift + rng.normal(0, 0.2)), 5),
                         "representation_alignment": round(float(0.9 - shift / 4 + rng.normal(0, 0.02)), 5),
                         "kernel_alignment": round(float(0.8 - shift / 3 + rng.normal(0, 0.03)), 5)})
    path = tmp_path / "structures.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    rep = make_report(path, tmp_path / "out")
    assert rep["x"] == "structure"
    st = read_csv(tmp_path / "out" / "stats.csv")
    assert len(st) == 6 and {r["group"] for r in st} == {"cell_type", "dale"}
    for row in st:
        grp = [r[row["measure"]] for r in rows if r["structure"] == row["group"]]
        null = [r[row["measure"]] for r in rows if r["structure"] == "null"]
        ref = stats.mannwhitneyu(grp, null, alternative="two-sided")
        assert row["test"] == "mannwhitneyu" and row["reference"] == "null"
        assert float(row["statistic"]) == ref.statistic
        assert float(row["pvalue"]) == pytest.approx(ref.pvalue, rel=1e-12)
        assert float(row["effect"]) == pytest.approx(np.median(grp) - np.median(null), rel=1e-12)
    wcn = next(r for r in st if r["group"] == "cell_type" and r["measure"] == "weight_change_norm")
    assert wcn["agrees"] == "True"  # richer than the null: larger weight change
    assert (tmp_path / "out" / "measures.png").read_bytes()[:8] == PNG


def _metrics(rank: int, seeds: list[int], task: str = "2af", n: int = 12, history: bool = False) -> dict:
    """A metrics.json as a run writes it, with hand-chosen numbers."""
    cfg = {"model": {"class_path": "rlnet.models.RNNModule",
                     "init_args": {"n_hidden": n, "seeds": seeds,
                                   "connectivity": {"class_path": "rlnet.connectivity.SVDRank",
                                                    "init_args": {"rank": rank, "g": 1.25}}}},
           "data": {"class_path": "rlnet.data.NeurogymDataModule", "init_args": {"task": task, "seed": 0}},
           "trainer": {"default_root_dir": f"runs/r{rank}"}}
    members = []
    for s in seeds:
        m = {"seed": s, "connectivity": {"name": "svd", "rank": rank, "base": "gaussian", "g": 1.25},
             "weight_change_norm": 1.0 / rank + 0.01 * s, "representation_alignment": 1 - 0.1 / rank - 0.001 * s,
             "kernel_alignment": 1 - 0.2 / rank - 0.002 * s, "accuracy": 0.9, "diverged": False}
        if history:
            m["history"] = {"step": [0, 10, 20], "kernel_alignment_initial": [1.0, 1 - 0.1 / rank, 1 - 0.2 / rank],
                            "task_alignment": [0.1, 0.2 + 0.01 * rank, 0.3 + 0.01 * rank]}
        members.append(m)
    return {"config": cfg, "steps": 20, "members": members, "summary": {}}


def test_directory_of_metrics_files_with_series(tmp_path):
    for r in (1, 4, 12):
        d = tmp_path / "runs" / f"rank{r}"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(_metrics(r, [0, 1, 2], history=True)))
    rep = make_report(tmp_path / "runs", tmp_path / "out")
    assert rep["x"] == "rank" and rep["panels"] == []
    for name in ("measures.png", "spectra.png", "training.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == PNG, name
    st = {r["measure"]: r for r in rep["stats"]}
    ref = stats.spearmanr([1, 1, 1, 4, 4, 4, 12, 12, 12],
                          [1.0 / r + 0.01 * s for r in (1, 4, 12) for s in range(3)])
    assert st["weight_change_norm"]["statistic"] == pytest.approx(ref.statistic)
    assert st["weight_change_norm"]["agrees"] and st["kernel_alignment"]["agrees"]


def test_results_table_input_panels_and_failed_runs(tmp_path):
    """Two tasks and two sizes in one table: a panel per (task, N); a failed run is noted."""
    db = ResultsDB(tmp_path / "results.db")
    for task in ("2af", "cxt"):
        for n in (12, 16):
            for r in (1, 12):
                m = _metrics(r, [0, 1], task=task, n=n)
                db.record(f"{task}-{n}-{r}", "s", {"rank": r}, "ok", metrics=m)
    db.record("broken", "s", {"rank": 99}, "failed", error="exit status 2: rlnet: error: bad rank")
    rep = make_report(tmp_path / "results.db", tmp_path / "out")
    assert rep["x"] == "rank" and rep["panels"] == ["model.init_args.n_hidden"]
    assert {(s["task"], s["panel"]) for s in rep["stats"]} == {
        (t, f"n_hidden={n}") for t in ("2af", "cxt") for n in (12, 16)}
    assert any("bad rank" in n for n in rep["notes"])
    assert (tmp_path / "out" / "measures.png").read_bytes()[:8] == PNG


def test_initial_matrix_is_rebuilt_from_the_config():
    import torch

    from rlnet.connectivity import SVDRank

    cfg = _metrics(3, [5])["config"]
    W = initial_matrix(cfg, 5)
    expected = SVDRank(rank=3, g=1.25)(12, torch.Generator().manual_seed(5)).double().numpy()
    np.testing.assert_array_equal(W, expected)
    assert np.linalg.matrix_rank(W, tol=1e-5 * np.abs(W).max()) == 3  # float32 draw
    assert initial_matrix(None, 0) is None


def test_cli_report_and_user_errors(tmp_path, capsys):
    write_rank_csv(tmp_path / "t.csv")
    assert main([str(tmp_path / "t.csv"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "## Statistics" in out and "spearman" in out
    from rlnet.cli import main as cli_main  # the `rlnet` console script dispatches the same way

    assert cli_main(["report", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o2")]) == 0
    assert (tmp_path / "o2" / "measures.png").exists()
    capsys.readouterr()
    assert main([str(tmp_path / "nothing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    (tmp_path / "junk.db").write_text("not sqlite")
    assert main([str(tmp_path / "junk.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("rlnet: error:") for e in err)


def test_records_leave_out_nothing_silently(tmp_path):
    truth = write_rank_csv(tmp_path / "t.csv")
    recs, _notes = load_records(tmp_path / "t.csv")
    assert len(recs) == sum(len(v) for v in truth.values())
    assert sum(r["diverged"] for r in recs) == 1
    assert all(math.isfinite(r["weight_change_norm"]) for r in recs)


def test_training_figure_from_the_kernel_tracking_section(tmp_path):
    """``training.png`` is drawn from the ``"tracking"`` section KernelTrackingCallback writes, and each
    network's series is its own member's."""
    for r in (1, 12):
        d = tmp_path / "runs" / f"rank{r}"
        d.mkdir(parents=True)
        m = _metrics(r, [0, 1])
        m["tracking"] = {"every_n_steps": 10, "steps": [0, 10, 20],
                         "members": [{"kernel_alignment": [1.0, 0.9 - 0.01 * s, 0.8 - 0.01 * s - 0.1 / r],
                                      "kernel_effective_rank": [3.0, 2.5, 2.0]} for s in (0, 1)]}
        (d / "metrics.json").write_text(json.dumps(m))
        recs = records_from_metrics(m, str(d))
        assert recs[1]["history"] == {"step": [0, 10, 20], "kernel_alignment": [1.0, 0.89, 0.79 - 0.1 / r],
                                      "kernel_effective_rank": [3.0, 2.5, 2.0]}
    rep = make_report(tmp_path / "runs", tmp_path / "out")
    assert (tmp_path / "out" / "training.png").read_bytes()[:8] == PNG
    assert not any("training.png not written" in n for n in rep.get("notes", []))
