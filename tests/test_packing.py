"""Packing a sweep's runs into ensemble jobs: compatible runs together, incompatible
ones apart, jobs of equal network-steps, every packed job accepted by the CLI, and a packed run's
numbers equal to the same run trained alone."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
from pathlib import Path

import pytest
import yaml

from rlnet.experiments.packing import _split, makespan, pack, resolve
from rlnet.experiments.results_db import ResultsDB
from rlnet.experiments.sweep import load_sweep, main, parse_sweep, plan

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "configs" / "2af_lowrank.yaml")
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))


def _runs(parameters: dict, extra: list[str] | None = None) -> list:
    sweep = parse_sweep({"method": "grid", "parameters": parameters,
                         "command": ["python", "-m", "rlnet", "fit", "--config", CONFIG, "${args}", *(extra or [])]})
    return plan(sweep)


def _groups(jobs) -> list[set]:
    return [{json.dumps(r.params, sort_keys=True) for r in j.runs} for j in jobs]


def test_runs_differing_only_in_member_keys_share_a_job():
    runs = _runs({"model.init_args.seed": {"values": [0, 1, 2]},
                  "model.init_args.connectivity.init_args.rank": {"values": [1, 30]}})
    (job,) = pack(runs, processes=1)
    assert len(job.runs) == 6 and job.n_members == 6
    keys = {resolve(r.argv).key for r in runs}
    assert len(keys) == 1
    members = json.loads(job.argv[-4].split("=", 1)[1]), json.loads(job.argv[-3].split("=", 1)[1])
    # Member k is run k's (structure, seed), in plan order.
    assert [(c["init_args"]["rank"], s) for c, s in zip(*members, strict=True)] == \
        [(r.params["model.init_args.connectivity.init_args.rank"], r.params["model.init_args.seed"]) for r in runs]


@pytest.mark.parametrize("other", [
    {"model.init_args.lr": {"values": [0.003, 0.01]}},
    {"model.init_args.n_hidden": {"values": [50, 100]}},
    {"data.init_args.seed": {"values": [0, 1]}},  # another data stream: a job of its own
    {"seed_everything": {"values": [0, 1]}},
    {"trainer.max_steps": {"values": [10, 20]}},
    {"data.init_args.task": {"values": ["2af", "dms"]}},
])
def test_runs_differing_in_anything_else_are_kept_apart(other):
    runs = _runs({**other, "model.init_args.seed": {"values": [0, 1]}})
    jobs = pack(runs, processes=1)
    assert len(jobs) == 2
    (key,) = other
    for job in jobs:
        assert len(job.runs) == 2 and len({json.dumps(r.params[key]) for r in job.runs}) == 1


def test_a_run_that_cannot_be_read_runs_alone_with_its_own_command():
    sweep = parse_sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}},
                         "command": ["python", "prog.py", "${args}"]})
    runs = plan(sweep)
    jobs = pack(runs, processes=1)
    assert [j.argv for j in jobs] == [r.argv for r in runs]
    odd = _runs({"model.init_args.seed": {"values": [0, 1]}}, extra=["-x"])
    assert [len(j.runs) for j in pack(odd, processes=1)] == [1, 1]


def test_an_override_of_a_callback_in_the_list_packs_with_runs_that_give_it_alike():
    """Figs. 14/15's sweep sets its tracking callback's kernel steps with an override the planner
    cannot place in the config (an element of `trainer.callbacks`): each run's process applies it,
    so runs that give the same one at the same place share a job; another value, or such an
    override of the model (which might change what the members vary), keeps runs apart."""
    stop = '--trainer.callbacks=[{"class_path": "rlnet.callbacks.StopAtAccuracy", "init_args": {"target": 0.97}}]'
    tracking = ["--config", str(ROOT / "callbacks" / "kernel_tracking.yaml")]
    track = [stop, *tracking, "--trainer.callbacks.init_args.kernel_steps", "last"]  # as Figs. 14/15 sMNIST
    runs = _runs({"model.init_args.seed": {"values": [0, 1, 2]}}, extra=track)
    assert all(resolve(r.argv) is not None for r in runs)
    (job,) = pack(runs, processes=1)
    assert job.n_members == 3 and job.argv[:len(runs[0].argv)] == runs[0].argv
    other = _runs({"model.init_args.seed": {"values": [3]}}, extra=[*track[:-1], "all"])
    assert len({resolve(r.argv).key for r in runs + other}) == 2
    elsewhere = _runs({"model.init_args.seed": {"values": [4]}}, extra=[stop, *track[-2:], *tracking])
    assert resolve(elsewhere[0].argv).key != resolve(runs[0].argv).key  # the same override, applied before
    conns = '--model.init_args.connectivities=[{"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 2}}]'
    model = _runs({"model.init_args.seed": {"values": [0, 1]}},
                  extra=[conns, "--model.init_args.connectivities.init_args.rank", "3"])
    assert all(resolve(r.argv) is None for r in model)
    assert [len(j.runs) for j in pack(model, processes=1)] == [1, 1]


def test_a_runs_tracked_series_is_cut_where_it_ends_alone():
    """Records before the run's end, then the job's next record under the end's step; a record that
    is not rlnet's (steps that are not integers, a series of another length) is left as it is."""
    from rlnet.experiments.packing import _tracking_until

    t = {"every_n_steps": 100, "steps": [0, 100, 200, 300], "members": [{"ka": [1.0, 0.9, 0.8, 0.7], "odd": [1]}]}
    assert _tracking_until(t, 150) == {"every_n_steps": 100, "steps": [0, 100, 150],
                                       "members": [{"ka": [1.0, 0.9, 0.8], "odd": [1]}]}
    assert _tracking_until(t, 200)["steps"] == [0, 100, 200]
    bad = {"steps": [0, "x"], "members": [{"ka": [1.0, 2.0]}]}
    assert _tracking_until(bad, 1) is bad


def test_a_runs_own_end_is_its_last_stop_or_the_logging_step_after_its_last_divergence():
    from rlnet.experiments.packing import _own_end

    stopped = [{"stopped_at_step": 700, "diverged_step": None}, {"stopped_at_step": 400, "diverged_step": None}]
    assert _own_end(stopped, 50) == 700
    diverged = [{"stopped_at_step": None, "diverged_step": d} for d in (3, 73)]
    assert _own_end(diverged, 50) == 100  # the first multiple of 50 after step 73
    assert _own_end(diverged[:1], 50) == 50 and _own_end([{"diverged_step": 49}], 50) == 50
    assert _own_end([{"diverged_step": 50}], 50) == 100 and _own_end([{"diverged_step": 5}], 0) == 6
    # one network still training, or one stopped and one diverged: alone, the run goes on to the end
    assert _own_end([diverged[0], {"diverged_step": None}], 50) is None
    assert _own_end([stopped[0], diverged[0]], 50) is None
    assert _own_end([], 50) is None


def test_jobs_fill_the_cores_with_equal_network_steps():
    runs = _runs({"model.init_args.seed": {"values": list(range(8))}})
    jobs = pack(runs, processes=4)
    assert [len(j.runs) for j in jobs] == [2, 2, 2, 2]
    assert len({j.cost for j in jobs}) == 1
    capped = pack(runs, processes=1, max_members=3)
    assert sorted(len(j.runs) for j in capped) == [2, 3, 3]
    assert sorted(r.run_id for j in capped for r in j.runs) == sorted(r.run_id for r in runs)


def test_makespan_is_the_pools_longest_first_schedule():
    assert makespan([5, 7, 6, 7, 5], 2) == 17  # 7+6 | 7+5+5: the last job alone on one core
    assert makespan([5] * 6, 2) == 15
    assert makespan([3, 3, 2, 2, 2], 2) == 7  # longest first is not always optimal (6 | 6): it is what runs
    assert makespan([4, 1], 1) == 5 and makespan([], 3) == 0


def test_groups_are_cut_finer_when_a_last_round_would_leave_a_core_idle():
    """Fig. 3C's shape: 20 runs of one packing key and 10 of another, at most 8 members a job, two
    cores. Cut per key (7, 7, 6 and 5, 5), the fifth job runs alone at the end (17 units); six jobs
    of 5 fill three whole rounds (15)."""
    a = _runs({"model.init_args.seed": {"values": list(range(20))}})
    b = _runs({"model.init_args.seed": {"values": list(range(100, 110))}}, extra=["--model.init_args.lr=0.01"])
    jobs = pack(a + b, processes=2, max_members=8)
    assert [j.n_members for j in jobs] == [5] * 6
    per_network = jobs[0].cost / 5
    assert makespan([j.cost for j in jobs], 2) == pytest.approx(15 * per_network)
    assert sorted(r.run_id for j in jobs for r in j.runs) == sorted(r.run_id for r in a + b)
    assert all(len({resolve(r.argv).key for r in j.runs}) == 1 for j in jobs)
    # one core: nothing to balance, the cut per key stands
    assert sorted(j.n_members for j in pack(a + b, processes=1, max_members=8)) == [5, 5, 6, 7, 7]


@pytest.mark.parametrize("costs,k", [([1] * 7, 3), ([5, 1, 1, 1, 1, 1], 2), ([1, 2, 3, 4], 4), ([3], 2)])
def test_split_is_contiguous_complete_and_balanced(costs, k):
    parts = _split(costs, k)
    assert parts[0][0] == 0 and parts[-1][1] == len(costs)
    assert all(a < b for a, b in parts) and all(p[1] == q[0] for p, q in itertools.pairwise(parts))
    sums = [sum(costs[a:b]) for a, b in parts]
    # No single move of a boundary element would make the largest part smaller.
    assert max(sums) - min(sums) <= max(costs)


def test_members_of_agrees_with_the_module():
    """The planner's member list is the module's own: the seeds and structures RNNModule builds."""
    from rlnet.connectivity import SVDRank
    from rlnet.models import RNNModule

    for init, kw in [({"seeds": [3, 4], "pairing": "product",
                       "connectivities": [{"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 1}},
                                          {"class_path": "rlnet.connectivity.SVDRank", "init_args": {"rank": 2}}]},
                      {"seeds": [3, 4], "pairing": "product", "connectivities": [SVDRank(rank=1), SVDRank(rank=2)]}),
                     ({"seed": 5, "n_members": 3}, {"seed": 5, "n_members": 3})]:
        m = RNNModule(n_hidden=6, **kw)
        got = RNNModule.members_of(init)
        assert [g["seed"] for g in got] == m.seeds
        ranks = [(g["connectivity"] or {}).get("init_args", {}).get("rank") for g in got]
        assert ranks == [c.params().get("rank") for c in m.member_connectivity]


def _print_config(argv: list[str], tmp_path: Path) -> dict:
    from rlnet.cli import main as cli_main

    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        rc = cli_main([*argv[argv.index("fit"):], f"--trainer.default_root_dir={tmp_path}", "--print_config"])
    assert rc == 0, err.getvalue()
    return yaml.safe_load(buf.getvalue())


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_shipped_sweep_packed_jobs_are_accepted_by_the_cli(path, tmp_path):
    """Every shipped sweep's first packed job parses in the CLI with one member per network of its runs."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        runs = plan(load_sweep(path))
        jobs = [j for j in pack(runs, processes=2) if len(j.runs) > 1]
        for job in jobs[:1]:
            init = _print_config(job.argv, tmp_path)["model"]["init_args"]
            assert init["pairing"] == "zip" and len(init["seeds"]) == len(init["connectivities"]) == job.n_members
            assert init["n_members"] == job.n_members
    finally:
        os.chdir(cwd)


def test_fig1_sweeps_pack_like_the_grid():
    """Fig. 1's Neurogym sweeps: 40 one-network runs per task, two jobs of 20 per task (seeds 0-4 and
    5-9, every rank), the grid's configs/fig1 settings."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for task in ("2af", "dms", "cxt"):
            runs = plan(load_sweep(ROOT / "sweeps" / f"fig1_{task}.yaml"))
            assert len(runs) == 40
            assert all(f"configs/fig1/{task}.yaml" in r.argv for r in runs)
            jobs = pack(runs, processes=2)
            assert [j.n_members for j in jobs] == [20, 20]
            seeds = [sorted({s for r in j.runs for s in r.params["model.init_args.seeds"]}) for j in jobs]
            assert sorted(seeds) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    finally:
        os.chdir(cwd)


# ---- the real runner ----------------------------------------------------------------------------
TINY = ["--trainer.max_steps=3", "--model.init_args.n_hidden=10", "--data.init_args.n_probe=8",
        "--data.init_args.batch_size=4", "--laziness.kernel_trials=4", "--trainer.val_check_interval=3",
        "--checkpoint_every=0"]
# The tracking tests: 8 steps, the tracking preset every 3 steps on the last step's kernel.
TINY_8 = [*(t for t in TINY if not t.startswith("--trainer.max_steps")), "--trainer.max_steps=8"]
TRACK_EVERY_3 = ["--config", "callbacks/kernel_tracking.yaml", "--trainer.callbacks.init_args.kernel_steps", "last",
                 "--trainer.callbacks.init_args.every_n_steps", "3"]


def _packed_and_alone(tmp_path, doc: dict) -> tuple[dict, dict]:
    """The sweep ``doc`` run packed (one process) and with every run alone: its rows by run id, each way."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc))
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert main([str(path), "--out", str(tmp_path / "packed"), "--jobs", "1", "--progress", "false"]) == 0
        assert main([str(path), "--out", str(tmp_path / "alone"), "--jobs", "2", "--progress", "false",
                     "--pack", "false"]) == 0
    finally:
        os.chdir(cwd)
    return tuple({r["run_id"]: r for r in ResultsDB(tmp_path / way / "results.db").rows()}
                 for way in ("packed", "alone"))


def test_packed_tracking_runs_equal_the_same_runs_alone(tmp_path):
    """Figs. 14/15's shape at a tiny size: the tracking callback after the accuracy stop, its kernel
    steps set by a list-element override. The runs pack into one process, and every run's row is
    the same run's alone: its measures and tracked series (KA with K_0, kernel effective rank, ...)
    to the bit, and, for the network that reaches the target at step 2 (frozen there while its
    job-mates train to step 8), the steps alone (2) and the series alone (records at 0 and 2)."""
    stop = ('--trainer.callbacks=[{"class_path": "rlnet.callbacks.StopAtAccuracy", '
            '"init_args": {"target": 0.6, "every_n_steps": 2, "source": "probe"}}]')
    doc = {"name": "tiny_tracking", "method": "grid",
           "parameters": {"model.init_args.seed": {"values": [0, 1]},
                          "model.init_args.connectivity.init_args.rank": {"values": [1, 10]}},
           "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/2af_lowrank.yaml", *TINY_8,
                       stop, *TRACK_EVERY_3, "${args}"]}
    packed, alone = _packed_and_alone(tmp_path, doc)
    assert packed.keys() == alone.keys() and len(packed) == 4
    assert len({r["run_dir"] for r in packed.values()}) == 1
    ends = {}
    for run_id, a in alone.items():
        p = packed[run_id]
        assert p["status"] == a["status"] == "ok"
        (pm,), (am,) = p["metrics"]["members"], a["metrics"]["members"]
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment", "final_loss", "accuracy",
                    "stopped_at_step"):
            assert pm[key] == am[key], key
        assert p["metrics"]["steps"] == a["metrics"]["steps"]
        pt, at = p["metrics"]["tracking"], a["metrics"]["tracking"]
        assert pt["steps"] == at["steps"] and pt["settings"]["kernel_steps"] == at["settings"]["kernel_steps"] == "last"
        assert pt["members"] == at["members"] and set(pt["members"][0]) >= {"kernel_alignment", "kernel_effective_rank"}
        ends[run_id] = (a["metrics"]["steps"], at["steps"])
    assert sorted(ends.values()) == [(2, [0, 2])] + [(8, [0, 3, 6, 8])] * 3  # the case this test is about


def test_a_packed_run_whose_networks_all_diverged_ends_where_it_ends_alone(tmp_path):
    """A run whose every network diverges (gain 1e12: non-finite at step 0) stops alone at the first
    logging step after (3 here); packed, it is frozen while its job-mates train to 8. Its row says
    what the run alone says: status, steps, every member entry and the tracked series (cut at 3)."""
    doc = {"name": "tiny_diverging", "method": "grid",
           "parameters": {"model.init_args.seed": {"values": [0, 1]},
                          "model.init_args.connectivity.init_args.g": {"values": [1.25, 1.0e12]}},
           "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/2af_lowrank.yaml", *TINY_8,
                       "--trainer.log_every_n_steps=3", *TRACK_EVERY_3, "${args}"]}
    packed, alone = _packed_and_alone(tmp_path, doc)
    assert packed.keys() == alone.keys() and len(packed) == 4
    assert len({r["run_dir"] for r in packed.values()}) == 1
    ends = []
    for run_id, a in alone.items():
        p = packed[run_id]
        assert p["status"] == a["status"]
        # json.dumps: a diverged network's NaN measures compare equal as text
        assert json.dumps(p["metrics"]["members"]) == json.dumps(a["metrics"]["members"])
        assert p["metrics"]["steps"] == a["metrics"]["steps"]
        assert json.dumps(p["metrics"]["tracking"]["steps"]) == json.dumps(a["metrics"]["tracking"]["steps"])
        assert json.dumps(p["metrics"]["tracking"]["members"]) == json.dumps(a["metrics"]["tracking"]["members"])
        ends.append((a["status"], a["metrics"]["steps"], a["metrics"]["tracking"]["steps"]))
    assert sorted(ends) == [("diverged", 3, [0, 3])] * 2 + [("ok", 8, [0, 3, 6, 8])] * 2  # the case tested


def test_a_packed_run_equals_the_same_run_alone(tmp_path):
    """Four runs (one and two networks each, two structures) in one ensemble job, then each alone
    (`--pack false`): every run's row holds its own networks, with the same numbers to the bit (the
    ensemble's member equivalence, tests/test_ensemble.py)."""
    doc = {"name": "tiny", "method": "grid",
           "parameters": {"model.init_args.seeds": {"values": [[0], [1, 2]]},
                          "model.init_args.connectivity.init_args.rank": {"values": [1, 10]}},
           "command": ["${env}", "python", "-m", "rlnet", "fit", "--config", "configs/2af_lowrank.yaml", *TINY,
                       "${args}"]}
    packed, alone = _packed_and_alone(tmp_path, doc)
    assert packed.keys() == alone.keys() and len(packed) == 4
    assert len({r["run_dir"] for r in packed.values()}) == 1  # one process trained all four
    assert len({r["run_dir"] for r in alone.values()}) == 4
    for run_id, a in alone.items():
        p = packed[run_id]
        assert p["status"] == a["status"] == "ok"
        pm, am = p["metrics"]["members"], a["metrics"]["members"]
        assert len(pm) == len(am) == len(p["params"]["model.init_args.seeds"])
        for x, y in zip(pm, am, strict=True):
            assert x["seed"] == y["seed"] and x["connectivity"] == y["connectivity"]
            for key in ("weight_change_norm", "representation_alignment", "kernel_alignment", "final_loss",
                        "accuracy"):
                assert x[key] == y[key], key
        assert p["metrics"]["summary"]["mean_kernel_alignment"] == a["metrics"]["summary"]["mean_kernel_alignment"]
    # The report's per-(task, rank) means (what `rlnet grid` printed) from the packed table equal the
    # mean over the rows' own networks, computed here directly.
    import statistics as st

    from rlnet.experiments.report import make_report

    rep = make_report(tmp_path / "packed" / "results.db", tmp_path / "report")
    nets = [m for r in packed.values() for m in r["metrics"]["members"] if not m["diverged"]]
    for rank in (1, 10):
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment", "accuracy"):
            (cell,) = [c for c in rep["cells"] if c["value"] == rank and c["measure"] == key]
            vals = [m[key] for m in nets if m["connectivity"]["rank"] == rank]
            assert cell["n"] == len(vals) == 3
            assert cell["mean"] == pytest.approx(st.fmean(vals), rel=1e-12)
