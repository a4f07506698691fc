"""A network two parts of the paper ask for is trained once (rlnet.experiments.reuse): the training
key that decides it, the declared reuses of the paper file against the sweeps' plans, and a paper
run whose reused rows equal, bit for bit, the rows of the same part trained alone."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from rlnet.connectivity import SVDRank
from rlnet.experiments import paper as P
from rlnet.experiments.packing import resolve
from rlnet.experiments.reuse import matches, training_key, without_instruments
from rlnet.experiments.sweep import load_sweep, plan

ROOT = Path(__file__).resolve().parents[1]
FIT = ["python", "-m", "rlnet", "fit"]
SMNIST = ["--config", "configs/smnist_lowrank.yaml"]
TRACK = ["--config", "callbacks/kernel_tracking.yaml", "--trainer.callbacks.init_args.kernel_steps", "last"]


def key(*args: str) -> str | None:
    return training_key([*FIT, *args])


def test_an_instrument_and_the_overrides_aimed_at_it_do_not_change_the_key():
    plain = key(*SMNIST, "--model.init_args.seed=3")
    assert plain is not None
    assert key(*SMNIST, *TRACK, "--model.init_args.seed=3") == plain
    assert key(*SMNIST, *TRACK, "--model.init_args.seed=4") != plain
    # What the final measures depend on is part of the key, whoever sets it.
    assert key(*SMNIST, *TRACK, "--model.init_args.seed=3", "--laziness.kernel_trials=50") != plain


def test_an_override_aimed_at_a_callback_that_acts_is_kept():
    """After smnist_lowrank.yaml alone the last callback is the accuracy stop, which changes training."""
    plain = key(*SMNIST)
    assert key(*SMNIST, "--trainer.callbacks.init_args.target", "0.5") != plain
    # After the tracking preset the same override sets the tracker's field, not the stop's.
    assert key(*SMNIST, "--config", "callbacks/kernel_tracking.yaml", "--trainer.callbacks.init_args.every_n_steps",
               "7") == plain


def test_an_svd_rank_of_n_is_the_full_draw_and_keys_alike():
    g = torch.Generator().manual_seed(5)
    full = SVDRank(rank=None)(40, torch.Generator().manual_seed(5))
    assert torch.equal(SVDRank(rank=40)(40, g), full)  # the synonym the key relies on, bit for bit
    assert not torch.equal(SVDRank(rank=39)(40, torch.Generator().manual_seed(5)), full)
    full_key = key("--config", "configs/smnist_fullrank.yaml")
    assert full_key == key(*SMNIST, "--model.init_args.connectivity.init_args.rank=300")
    assert full_key != key(*SMNIST, "--model.init_args.connectivity.init_args.rank=299")
    assert full_key != key("--config", "configs/smnist_fullrank.yaml", "--model.init_args.n_hidden=200")


def test_an_argument_list_that_cannot_be_read_is_never_reused():
    assert key(*SMNIST, "--print_config") is None
    assert training_key(["python", "-c", "pass"]) is None


def test_every_declared_reuse_matches_the_sweeps_plans():
    """Each ``reuse`` of the paper file names as many networks as the two sweeps share, and no two
    parts share a network without one of them saying so, or both taking it from a third part (so
    that none is trained twice)."""
    _, parts = P.load_paper(ROOT / "sweeps/paper/parts.yaml")
    keys: dict[str, dict[str, int]] = {}  # part -> {training key: networks of that run}
    for p in parts:
        if p.model == "rnn":
            runs = plan(load_sweep(ROOT / p.sweep))
            keys[p.name] = {training_key(r.argv): len(resolve(r.argv).members) for r in runs}
            assert None not in keys[p.name], p.name  # every run of the paper can be compared
    declared = {frozenset((p.name, r["part"])): (p.name, r["networks"]) for p in parts for r in p.reuse}
    assert declared  # the paper file does declare some
    names = sorted(keys)
    shared = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = keys[a].keys() & keys[b].keys()
            for c in names:  # both take them from a third part: trained once there
                if frozenset((a, c)) in declared and frozenset((b, c)) in declared and c not in (a, b):
                    common -= keys[c].keys()
            if common:
                user = declared.get(frozenset((a, b)), (a, 0))[0]
                shared[frozenset((a, b))] = (user, sum(keys[user][k] for k in common))
    assert shared == declared
    # and the matching the run uses agrees with the keys
    fig1 = plan(load_sweep(ROOT / "sweeps/fig1_smnist.yaml"))
    assert len(matches(fig1, plan(load_sweep(ROOT / "sweeps/fig14_15_smnist.yaml")))) == len(fig1) == 30


def test_without_instruments_drops_the_tracked_series_and_names_the_source():
    m = {"members": [{"seed": 0}], "tracking": {"steps": [0, 5]}, "steps": 5,
         "config": {"trainer": {"callbacks": [{"class_path": "rlnet.callbacks.StopAtAccuracy"},
                                              {"class_path": "rlnet.callbacks.KernelTrackingCallback"}]}}}
    out = without_instruments(m, "src", "r1", "/runs/j")
    assert "tracking" not in out and out["steps"] == 5 and out["members"] == [{"seed": 0}]
    assert out["config"]["trainer"]["callbacks"] == [{"class_path": "rlnet.callbacks.StopAtAccuracy"}]
    assert out["reused_from"] == {"part": "src", "run_id": "r1", "run_dir": "/runs/j"}
    assert "tracking" in m and len(m["config"]["trainer"]["callbacks"]) == 2  # the source's record untouched


TINY = ["--model.init_args.n_hidden=16", "--trainer.max_steps=6", "--data.init_args.n_probe=8",
        "--laziness.kernel_trials=8"]


def _tiny_paper(tmp_path: Path) -> Path:
    """Two parts: ``dst`` (listed first) trains seeds 0-2 x configs rank 1 and full rank (rank null);
    ``src`` trains seeds 0-1 x ranks 1 and 16 (= N) with the kernel tracked, so 4 of dst's 6 runs are
    src's (two of them through the synonym rank N = full draw)."""
    cfg = str(ROOT / "configs/dms_lowrank.yaml")
    track = [str(ROOT / "callbacks/kernel_tracking.yaml"), "--trainer.callbacks.init_args.every_n_steps", "2"]
    sweeps = {
        "dst": {"parameters": {"model.init_args.seed": {"values": [0, 1, 2]},
                               "config": {"values": [str(tmp_path / "rank1.yaml"), str(tmp_path / "full.yaml")]}},
                "command": [*FIT, "--config", cfg, *TINY, "${args}"]},
        "src": {"parameters": {"model.init_args.seed": {"values": [0, 1]},
                               "model.init_args.connectivity.init_args.rank": {"values": [1, 16]}},
                "command": [*FIT, "--config", cfg, "--config", *track, *TINY, "${args}"]},
    }
    for name, rank in (("rank1", 1), ("full", None)):  # a sweep cannot say null; a config can
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(
            {"model": {"init_args": {"connectivity": {"class_path": "rlnet.connectivity.SVDRank",
                                                      "init_args": {"rank": rank}}}}}))
    for name, s in sweeps.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "method": "grid", **s}))
    paper = {"reference": {"networks": 1, "steps": 1, "n_hidden": 1, "seq_len": 1, "batch": 1, "minutes": [1, 1]},
             "parts": [{"name": "dst", "sweep": str(tmp_path / "dst.yaml"), "figure": "Fig. 1", "networks": 6,
                        "steps": 6, "reuse": {"part": "src", "networks": 4}},
                       {"name": "src", "sweep": str(tmp_path / "src.yaml"), "figure": "Fig. 14", "networks": 4,
                        "steps": 6}]}
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(paper))
    return tmp_path / "paper.yaml"


def _table(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["run_id"]: r for r in csv.DictReader(fh)}


@pytest.mark.parametrize("jobs", [1])
def test_a_reused_network_equals_the_one_its_part_trains_alone(tmp_path, capsys, monkeypatch, jobs):
    monkeypatch.chdir(ROOT)
    paper = _tiny_paper(tmp_path)
    common = ["--paper", str(paper), "--jobs", str(jobs), "--report", str(tmp_path / "report")]
    assert P.main(["run", *common, "--out", str(tmp_path / "o1"), "--tables", str(tmp_path / "t1")]) == 0
    said = capsys.readouterr()
    assert said.out.index("# src (") < said.out.index("# dst (")  # the source first, whatever the file's order
    assert "# dst: 4 runs taken from src's finished networks (trained once)" in said.out
    assert "sweep dst: 6 runs, 4 already finished" in said.err  # the sweep trains only seed 2's two runs
    # The same part alone, its source never run: it trains all six itself.
    assert P.main(["run", *common, "--parts", "dst", "--out", str(tmp_path / "o2"), "--tables",
                   str(tmp_path / "t2")]) == 0
    assert "4 are src's but not finished" in capsys.readouterr().out
    reused, alone = _table(tmp_path / "t1" / "dst.csv"), _table(tmp_path / "t2" / "dst.csv")
    assert reused.keys() == alone.keys() and len(alone) == 6
    src = _table(tmp_path / "t1" / "src.csv")
    assert any(k.startswith("track_") for k in next(iter(src.values())))  # the source did track
    for run_id, row in reused.items():
        origin = row.pop("reused_from")
        assert (origin.startswith("src:") and origin[4:] in src) == ("seed=2" not in run_id), run_id
        assert not any(k.startswith("track_") for k in row)
        assert row == {k: v for k, v in alone[run_id].items() if k != "reused_from"}, run_id  # bit for bit


@pytest.mark.parametrize("reuse, says", [
    ({"part": "nope", "networks": 2}, "reuses 'nope', which must be another part"),
    ({"part": "a", "networks": 2}, "reuses 'a', which must be another part"),  # itself
    ({"part": "b", "networks": 5}, "the Ks at most the part's 4 networks"),
    ([{"part": "b", "networks": 1}, {"part": "b", "networks": 1}], "each part once"),
    ({"part": "b", "networks": True}, "must be a list of"),
    ({"part": "c", "networks": 1}, "reuses 'c', which must be another part that reuses none itself"),  # a chain
])
def test_a_bad_reuse_in_the_paper_file_is_one_clear_error(tmp_path, reuse, says):
    parts = [{"name": "a", "sweep": "s.yaml", "figure": "1", "networks": 4, "steps": 1, "reuse": reuse},
             {"name": "b", "sweep": "s.yaml", "figure": "1", "networks": 4, "steps": 1},
             {"name": "c", "sweep": "s.yaml", "figure": "1", "networks": 4, "steps": 1,
              "reuse": {"part": "b", "networks": 1}}]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"reference": {}, "parts": parts}))
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        P.load_paper(tmp_path / "p.yaml")
