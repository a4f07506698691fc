"""The Fig. 1 grid runner (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlnet.cli import main as cli_main
from rlnet.grid import CONFIG_DIR, grid_jobs, run_grid, split_seeds


def test_split_seeds_contiguous_and_complete() -> None:
    assert split_seeds(list(range(10)), 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert split_seeds(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_seeds([4, 5], 5) == [[4], [5]]
    with pytest.raises(ValueError, match="chunks"):
        split_seeds([1], 0)


def test_grid_jobs_cover_the_paper_grid(tmp_path: Path) -> None:
    jobs = grid_jobs(["2af", "dms", "cxt"], list(range(10)), 2, tmp_path, CONFIG_DIR, ["--trainer.max_steps=7"])
    assert len(jobs) == 6
    assert sorted(s for j in jobs if j["task"] == "dms" for s in j["seeds"]) == list(range(10))
    assert all("--trainer.max_steps=7" in j["cmd"] and "--num_threads=1" in j["cmd"] for j in jobs)
    with pytest.raises(ValueError, match="tasks"):
        grid_jobs(["nope"], [0], 1, tmp_path, CONFIG_DIR, [])


@pytest.mark.parametrize("task", ["2af", "dms", "cxt"])
def test_fig1_configs_parse(task: str, capsys) -> None:
    """The shipped configs name 4 ranks x 10 seeds and the vectorised generator."""
    assert cli_main(["fit", "--config", str(CONFIG_DIR / f"{task}.yaml"), "--print_config"]) == 0
    out = capsys.readouterr().out
    assert out.count("class_path: rlnet.connectivity.SVDRank") == 4
    assert "generator: vectorized" in out and "max_steps: 10000" in out


@pytest.mark.slow
def test_tiny_grid_end_to_end(tmp_path: Path) -> None:
    """Two tasks, two jobs each, run two at a time with a tiny network: one metrics.json per job,
    one member per (rank, seed), and a summary per task and rank."""
    cfg = tmp_path / "configs"
    cfg.mkdir()
    for task in ("2af", "dms"):
        text = (CONFIG_DIR / f"{task}.yaml").read_text()
        text = text.replace("n_hidden: 300", "n_hidden: 12").replace("rank: 100", "rank: 6")
        text = text.replace("rank: 300", "rank: 12").replace("rank: 30,", "rank: 3,")
        (cfg / f"{task}.yaml").write_text(text)
    out = tmp_path / "grid"
    rc = run_grid(out=str(out), tasks=["2af", "dms"], seeds=[0, 1], chunks=2, procs=2, max_steps=3,
                  config_dir=str(cfg), overrides=["--data.init_args.n_probe=16", "--laziness.kernel_trials=4"])
    assert rc == 0
    grid = json.loads((out / "grid.json").read_text())
    assert len(grid["jobs"]) == 4 and all(j["rc"] == 0 for j in grid["jobs"])
    for task in ("2af", "dms"):
        assert sorted(grid["summary"][task], key=int) == ["1", "3", "6", "12"]
        assert all(row["n"] == 2 for row in grid["summary"][task].values())
    members = json.loads((out / "2af-seeds1-1" / "metrics.json").read_text())["members"]
    assert [(m["seed"], m["connectivity"]["rank"]) for m in members] == [(1, 1), (1, 3), (1, 6), (1, 12)]
