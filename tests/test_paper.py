"""The paper command: the declared parts, the dry run through the sweep driver (no
training), the per-part tables, the estimates, and the report that names the missing parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rlnet.experiments import network_table as T
from rlnet.experiments import paper as P
from rlnet.experiments.results_db import ResultsDB
from rlnet.experiments.sweep import load_sweep, plan
from rlnet.experiments.sweep import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]


def members_per_run(params: dict, command: list[str]) -> int:
    if "model.init_args.seeds" in params:
        return len(params["model.init_args.seeds"])
    cfg = params.get("config") or command[command.index("--config") + 1]
    model = (yaml.safe_load((ROOT / cfg).read_text()).get("model") or {}).get("init_args") or {}
    return int(model.get("n_members", 1))


def test_every_part_is_a_sweep_file_with_the_declared_number_of_networks():
    _, parts = P.load_paper(ROOT / "sweeps/paper/parts.yaml")
    assert len(parts) == len({p.name for p in parts})
    for p in parts:
        sweep = load_sweep(ROOT / p.sweep)
        assert sweep.name == p.name, p.name
        runs = plan(sweep)
        if p.model == "rnn":
            assert sum(members_per_run(r.params, sweep.command) for r in runs) == p.networks, p.name
    claimed = {q for c in __import__("rlnet.experiments.claims", fromlist=["CLAIMS"]).CLAIMS for q in c.parts}
    assert claimed <= {p.name for p in parts}  # every claim reads a part the command runs


def test_estimate_scales_the_measured_grid():
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.6, 17.0]}
    p = P.Part("x", "s.yaml", "Fig. 1", 40, 10000, [300], 8, 32)
    assert P.estimate_minutes(p, ref) == pytest.approx((10.6 / 3, 17.0 / 3))
    p = P.Part("x", "s.yaml", "Fig. 9", 120, 5000, [100, 200, 300], 8, 32)
    share = 0.5 * (100**2 + 200**2 + 300**2) / 3 / 300**2
    assert P.estimate_minutes(p, ref) == pytest.approx((10.6 * share, 17.0 * share))
    assert P.estimate_minutes(P.Part("y", "s.yaml", "Fig. 4A", 100, 20000, model="linear"), ref) is None
    assert P.work_in_grids(P.Part("y", "s.yaml", "Fig. 4A", 100, 20000, model="linear"), ref) is None
    # sMNIST: 30 networks of 28 steps x 200 trials against 120 of 8 x 32, by hand
    smnist = P.Part("s", "s.yaml", "Fig. 1", 30, 10000, [300], 28, 200)
    assert P.work_in_grids(smnist, ref) == pytest.approx(30 * 28 * 200 / (120 * 8 * 32))


def test_status_sums_the_work_in_reference_grids(tmp_path):
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.0, 20.0]}
    grid = P.Part("g", "s.yaml", "Fig. 1", 120, 10000, [300], 8, 32)
    half = P.Part("h", "s.yaml", "Fig. 9", 120, 10000, [150], 8, 64)  # N^2 / 4 x batch x 2: half the work
    lin = P.Part("l", "s.yaml", "Fig. 4A", 100, 20000, model="linear")
    text = P.status_table([grid, half, lin], ref, tmp_path / "none")
    assert "| g | Fig. 1 | 0 / 120 (missing) | 1.00 | 10.0-20.0 |" in text
    assert "| h | Fig. 9 | 0 / 120 (missing) | 0.50 | 5.0-10.0 |" in text
    assert "| all parts | | | 1.50 | 15-30 " in text
    assert "the RNN parts are 1.5 times the reference grid's work" in text


def test_a_missing_part_is_projected_from_a_measured_part_of_the_same_shape(tmp_path):
    """sMNIST parts (28 steps x 200 trials) scale from the measured sMNIST part, not the Neurogym grid."""
    ran = P.Part("a", "s.yaml", "Fig. 1", 30, 10000, [300], 28, 200)
    same = P.Part("b", "s.yaml", "Fig. 14", 15, 20000, [300], 28, 200)  # networks x steps: the same work
    other = P.Part("c", "s.yaml", "Fig. 12", 40, 10000, [300], 40, 32)
    walls, done = {"a": 7200.0}, {"a": 30}
    assert P.projection_minutes(same, [ran, same, other], walls, done) == (pytest.approx(120.0), "a")
    assert P.projection_minutes(other, [ran, same, other], walls, done) is None  # another shape
    assert P.projection_minutes(same, [ran, same], walls, {"a": 29}) is None  # the measured part is partial
    assert P.projection_minutes(ran, [ran, same], walls, done) is None  # measured itself
    # A part whose networks another part trains took seconds: no rate (and no division by its zero networks).
    reused = P.Part("a", "s.yaml", "Fig. 1", 30, 10000, [300], 28, 200, reuse=[{"part": "x", "networks": 30}])
    assert reused.trained == 0 and P.projection_minutes(same, [reused, same], {"a": 0.2}, done) is None
    half = P.Part("b", "s.yaml", "Fig. 14", 30, 10000, [300], 28, 200, reuse=[{"part": "x", "networks": 15}])
    assert P.projection_minutes(half, [ran, half], walls, done) == (pytest.approx(60.0), "a")  # 15 trained of 30
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "a.wall.json").write_text(__import__("json").dumps({"part": "a", "sessions": [{"wall_s": 7200.0}]}))
    (tables / "a.csv").write_text("part,run_id,member\n" + "".join(f"a,r{i},0\n" for i in range(30)))
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.0, 20.0]}
    text = P.status_table([ran, same, other], ref, tables)
    est = P.estimate_minutes(other, ref)
    assert "120 scaled from a's measured time" in text
    lo, hi = 120 + 120 + est[0], 120 + 120 + est[1]
    assert f"projected: {lo:.0f}-{hi:.0f} minutes" in text


def test_dry_run_lists_each_parts_shard_and_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    out, tables = tmp_path / "out", tmp_path / "tables"
    rc = P.main(["run", "--dry-run", "--parts", "fig1_2af,fig2_2af_chain", "--shard", "1/2",
                 "--out", str(out), "--tables", str(tables)])
    text = capsys.readouterr().out
    assert rc == 0 and "--shard 1/2" in text
    todo = [ln for ln in text.splitlines() if ln.startswith(("todo", "done"))]
    # exactly what the sweep driver itself lists for each part's shard
    want = []
    for part in ("fig1_2af", "fig2_2af_chain"):
        assert sweep_main([f"sweeps/{part}.yaml", "--out", str(out / part), "--shard", "1/2", "--jobs", "2",
                           "--dry-run"]) == 0
        want += [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(("todo", "done"))]
    assert todo == want and todo and all(ln.startswith("todo") for ln in todo)
    assert any("configs/2af_chain_" in ln for ln in todo) and any("2af_lowrank" in ln or "fig1" in ln for ln in todo)
    assert not tables.exists() and not list(out.rglob("metrics.json"))


def test_export_and_report_name_the_missing_parts(tmp_path):
    db = ResultsDB(tmp_path / "out" / "fig1_2af" / "results.db")
    members = [{"seed": s, "connectivity": {"name": "svd", "rank": r}, "diverged": False, "accuracy": 0.9,
                "weight_change_norm": 2.0 - r / 300 + 0.01 * s, "representation_alignment": 0.5 + r / 1000 + 0.01 * s,
                "kernel_alignment": 0.8 + r / 2000 - 0.001 * s} for r in (1, 300) for s in range(5)]
    metrics = {"config": {"model": {"init_args": {"n_hidden": 300}}, "data": {"init_args": {"task": "2af"}}},
               "measure_settings": {"probe_trials": 320}, "members": members}
    db.record("run0", "fig1_2af", {"model.init_args.seeds": [0, 1, 2, 3, 4]}, "ok", metrics=metrics)
    db.record("run1", "fig1_2af", {}, "failed", error="boom")
    assert P.export_part("fig1_2af", tmp_path / "out", tmp_path / "tables", (0, 1)) == 10
    assert (tmp_path / "tables" / "fig1_2af.csv").exists()
    # a second shard's table overlapping the first: each network counted once
    P.export_part("fig1_2af", tmp_path / "out", tmp_path / "tables", (1, 2))
    assert len(T.load_rows(tmp_path / "tables")) == 10
    rc = P.main(["report", "--tables", str(tmp_path / "tables"), "--report", str(tmp_path / "rep")])
    assert rc == 0
    claims = (tmp_path / "rep" / "claims.md").read_text()
    missing = claims.split("### Parts not run yet (or not complete)")[1]
    assert "fig1_dms," in missing and "fig1_2af (10 of 40)" in missing
    parts = (tmp_path / "rep" / "parts.md").read_text()
    assert "| fig1_2af | Fig. 1 | 10 / 40 (partial) |" in parts
    assert (tmp_path / "rep" / "networks.csv").exists()
    assert "| Fig. 1 | 2AF: higher rank -> larger KA | Spearman |" in claims
    # one figure per paper figure with rows, listed with those not drawn
    assert (tmp_path / "rep" / "figures" / "fig01.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "rep" / "figures" / "fig02.png").exists()
    for text in (parts, claims):
        assert "- figures/fig01.png: Fig. 1; drawn without fig1_dms, fig1_cxt, fig1_smnist" in text
        assert "- fig02: no rows of fig2_2af_celltype_dale" in text


def test_unknown_part_is_one_line_and_status_2(capsys):
    assert P.main(["status", "--parts", "fig99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlnet: error: unknown parts ['fig99']")


def test_report_writes_the_claims_of_a_sweep_table(tmp_path, capsys):
    from rlnet.experiments.report import main as report_main
    db = ResultsDB(tmp_path / "results.db")
    members = [{"seed": s, "connectivity": {"name": "svd", "rank": r}, "diverged": False, "accuracy": 0.9,
                "weight_change_norm": 2.0 - r / 300 + 0.01 * s, "representation_alignment": 0.5 + r / 1000,
                "kernel_alignment": 0.8 + r / 2000 - 0.001 * s} for r in (1, 300) for s in range(5)]
    db.record("run0", "fig1_2af", {}, "ok", metrics={"config": {"data": {"init_args": {"task": "2af"}}},
                                                     "members": members})
    assert report_main([str(tmp_path / "results.db"), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "## Claims of the paper" in out and "- figures/fig01.png: Fig. 1" in out
    assert (tmp_path / "rep" / "figures" / "fig01.png").exists()
    text = (tmp_path / "rep" / "claims.md").read_text()
    assert "3 claims: 3 holds" in text  # only Fig. 1 2AF's claims: the rows hold no other part


def test_network_rows_keep_each_weights_change_beside_the_total():
    """Eq. 4's total over all weights and the authors' ||dW_h|| both reach the per-network table."""
    metrics = {"config": {"data": {"class_path": "rlnet.data.NeurogymDataModule", "init_args": {"task": "dms"}}},
               "steps": 10, "members": [{"seed": 3, "connectivity": {"name": "svd", "rank": 1},
                                         "weight_change_norm": 5.0, "diverged": False,
                                         "weight_change_by_weight": {"W_h": 3.0, "W_x": 4.0, "W_o": 0.0}}]}
    (row,) = T.network_rows(metrics, part="check")
    assert (row["weight_change_norm"], row["weight_change_W_h"], row["weight_change_W_x"]) == (5.0, 3.0, 4.0)
    assert (row["task"], row["rank"], row["seed"]) == ("dms", 1, 3)


def test_each_session_of_a_part_adds_its_wall_time(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "_sweep_main", lambda: (lambda args: calls.append(args) or 0))
    monkeypatch.setattr(P, "export_part", lambda name, out, tables, shard, sweep=None: 7)
    ticks = iter([100.0, 130.5, 200.0, 212.0, 300.0, 303.0])  # (start, end) of three sessions
    monkeypatch.setattr(P.time, "time", lambda: next(ticks))
    part = P.Part("fig1_2af", "sweeps/fig1_2af.yaml", "Fig. 1", 40, 10000, [300], 8, 32)
    tables = tmp_path / "tables"
    for shard in ((0, 1), (0, 1), (1, 2)):
        assert P.run_parts([part], tmp_path / "out", tables, 2, shard, dry_run=False) == 0
    whole = __import__("json").loads((tables / "fig1_2af.wall.json").read_text())
    assert [s["wall_s"] for s in whole["sessions"]] == [30.5, 12.0]
    assert whole["sessions"][0]["jobs"] == 2 and whole["sessions"][0]["networks_in_table"] == 7
    import torch

    from rlnet.nets import fused
    assert whole["sessions"][0]["fused_kernels"] == (fused.library() is not None)
    assert isinstance(whole["sessions"][0]["cpu_model"], str)
    assert whole["sessions"][0]["torch"] == torch.__version__
    assert whole["sessions"][0]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert (tables / "fig1_2af.1-of-2.wall.json").is_file()
    assert P.wall_times(tables) == {"fig1_2af": pytest.approx(45.5)}
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.0, 20.0]}
    text = P.status_table([part], ref, tables)
    assert f"| {45.5 / 60:.1f} |" in text.splitlines()[2]
    assert "0.0-0.1 x the reference grid's 10.0-20.0 min" in text
    # a damaged record is replaced by the new session, not summed
    (tables / "fig1_2af.wall.json").write_text("{not json")
    monkeypatch.setattr(P.time, "time", iter([0.0, 5.0]).__next__)
    P.run_parts([part], tmp_path / "out", tables, 1, (0, 1), dry_run=False)
    assert P.wall_times(tables) == {"fig1_2af": pytest.approx(5.0 + 3.0)}


def test_the_committed_report_is_rebuilt_from_the_committed_tables_without_training(tmp_path):
    """Issue 20 (5): the per-network tables committed under paper/tables rebuild the committed table of
    claims exactly, through `paper report` and through `rlnet report` on the merged networks.csv."""
    import json

    from rlnet.experiments.claims import claims_for_report  # what `rlnet report` writes its claims with

    committed = json.loads((ROOT / "paper/report/claims.json").read_text())["claims"]
    assert P.main(["report", "--tables", str(ROOT / "paper/tables"), "--report", str(tmp_path / "paper")]) == 0
    rebuilt = json.loads((tmp_path / "paper" / "claims.json").read_text())["claims"]
    assert rebuilt == committed
    # (rlnet report's figures, which rebuild every initial matrix, are tested in test_report.py)
    assert claims_for_report(ROOT / "paper/report/networks.csv", tmp_path / "one")
    # claims with rows on both sides (a part run in part, e.g. one shard, leaves some of its claims missing)
    via_report = {r["key"]: r for r in json.loads((tmp_path / "one" / "claims.json").read_text())["claims"]
                  if r["verdict"] != "missing"}
    present = {r["key"]: r for r in committed if r["verdict"] != "missing"}
    assert via_report == present and present


def test_an_interrupted_part_keeps_its_finished_networks_and_starts_no_other_part(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "_sweep_main", lambda: (lambda args: calls.append(args[0]) or 130))
    exported = []
    monkeypatch.setattr(P, "export_part", lambda name, out, tables, shard, sweep=None: exported.append(name) or 3)
    parts = [P.Part(n, f"sweeps/{n}.yaml", "Fig. 1", 40, 10000, [300], 8, 32) for n in ("fig1_2af", "fig1_dms")]
    assert P.run_parts(parts, tmp_path / "out", tmp_path / "tables", 2, (0, 1), dry_run=False) == 130
    assert len(calls) == 1 and exported == ["fig1_2af"]  # its finished runs are in its table
    assert P.wall_times(tmp_path / "tables") and "fig1_dms" not in P.wall_times(tmp_path / "tables")


def test_shards_sharing_one_results_table_each_export_only_their_own_runs(tmp_path):
    """Shards run one after another on one machine share the part's results table; each shard's
    table holds the runs of its shard of the sweep's plan (as on separate machines), and together they
    hold every run once."""
    from rlnet.experiments.sweep import _shard

    sweep = "sweeps/fig1_2af.yaml"
    runs = plan(load_sweep(P.ROOT / sweep))
    db = ResultsDB(tmp_path / "out" / "fig1_2af" / "results.db")
    for k, r in enumerate(runs):
        members = [{"seed": k, "connectivity": {"name": "svd", "rank": 1}, "diverged": False, "accuracy": 0.9,
                    "weight_change_norm": 1.0, "representation_alignment": 0.5, "kernel_alignment": 0.2}]
        db.record(r.run_id, "fig1_2af", {}, "ok", metrics={"config": {"data": {"init_args": {"task": "2af"}}},
                                                            "members": members})
    seen = []
    for i in range(3):
        n = P.export_part("fig1_2af", tmp_path / "out", tmp_path / "tables", (i, 3), sweep)
        rows = T.rows_from_csv(tmp_path / "tables" / f"fig1_2af.{i}-of-3.csv")
        assert n == len(rows) == len(_shard(runs, (i, 3)))
        assert {r["run_id"] for r in rows} == {r.run_id for r in _shard(runs, (i, 3))}
        seen += [r["run_id"] for r in rows]
    assert sorted(seen) == sorted(r.run_id for r in runs)


def test_export_writes_the_finished_networks_without_running_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(P, "_sweep_main", lambda: pytest.fail("export must not run a sweep"))
    db = ResultsDB(tmp_path / "out" / "fig1_2af" / "results.db")
    members = [{"seed": s, "connectivity": {"name": "svd", "rank": 1}, "diverged": False, "accuracy": 0.9,
                "weight_change_norm": 1.0, "representation_alignment": 0.5, "kernel_alignment": 0.2} for s in range(4)]
    db.record("run0", "fig1_2af", {}, "ok", metrics={"config": {"data": {"init_args": {"task": "2af"}}},
                                                     "members": members})
    rc = P.main(["export", "--out", str(tmp_path / "out"), "--tables", str(tmp_path / "tables"),
                 "--report", str(tmp_path / "rep")])
    assert rc == 0 and "fig1_2af: 4 networks" in capsys.readouterr().out
    assert len(T.load_rows(tmp_path / "tables")) == 4 and not (tmp_path / "tables" / "fig1_dms.csv").exists()
    # the report follows the tables: its claims are the ones `paper report` writes from them
    exported = json.loads((tmp_path / "rep" / "claims.json").read_text())["claims"]
    assert P.main(["report", "--tables", str(tmp_path / "tables"), "--report", str(tmp_path / "again")]) == 0
    assert exported == json.loads((tmp_path / "again" / "claims.json").read_text())["claims"]
    assert next(c for c in exported if c["key"] == "fig1.2af.KA")["n"] == 4


def test_no_process_of_the_paper_run_needs_more_than_two_hours_at_the_measured_rates():
    """Issue 20 (1): no single process may need more than about two hours. A part's processes are the jobs
    the sweep driver packs (its max_members, 2 at a time); a network's minutes in a process are measured
    (wall time x jobs / networks, from the committed wall.json of the part, or of a part of the same
    shape scaled by steps). fig1_smnist's two processes of 15 networks took 139 min: over it."""
    from rlnet.experiments.packing import DEFAULT_MAX_MEMBERS, pack

    _, parts = P.load_paper()
    tables = ROOT / "paper/tables"
    walls, done = P.wall_times(tables), P.networks_done(tables)

    def jobs_of(name: str) -> int:
        sessions = [json.loads(f.read_text())["sessions"] for f in tables.glob(f"{name}*.wall.json")]
        return max(s.get("jobs", 1) for ss in sessions for s in ss)

    def per_network(p: P.Part) -> float | None:  # minutes one network takes in a process
        for q in [p] + [q for q in parts if (q.model, q.n_hidden, q.seq_len, q.batch)
                        == (p.model, p.n_hidden, p.seq_len, p.batch)]:
            if walls.get(q.name) and done.get(q.name):
                return walls[q.name] / 60 * jobs_of(q.name) / done[q.name] * p.steps / q.steps
        return None

    longest = {}
    for p in parts:
        rate = per_network(p)
        if rate is None:
            continue
        jobs = pack(plan(load_sweep(ROOT / p.sweep)), 2, p.max_members or DEFAULT_MAX_MEMBERS)
        longest[p.name] = max(j.n_members for j in jobs) * rate
    assert {"fig1_smnist", "fig3c_smnist", "fig14_15_smnist", "fig12_dt"} <= set(longest)
    over = {k: round(v) for k, v in longest.items() if v > 120}
    assert not over, f"processes over two hours (minutes): {over}"
    fig1 = next(p for p in parts if p.name == "fig1_smnist")  # the cap is what keeps sMNIST within it
    jobs = pack(plan(load_sweep(ROOT / fig1.sweep)), 2, DEFAULT_MAX_MEMBERS)
    assert max(j.n_members for j in jobs) * per_network(fig1) > 120


def test_a_parts_max_members_reaches_the_sweep_driver_and_a_bad_one_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc = P.main(["run", "--dry-run", "--parts", "fig1_smnist", "--out", str(tmp_path / "out"),
                 "--tables", str(tmp_path / "tables")])
    text = capsys.readouterr().out
    assert rc == 0 and "--max_members 8" in text
    members = [int(ln.rsplit(" members:", 1)[0].rsplit(" ", 1)[1]) for ln in text.splitlines()
               if ln.startswith("todo") and " members:" in ln]
    assert sum(members) == 30 and max(members) <= 8 and len(members) == 4
    bad = tmp_path / "parts.yaml"
    raw = yaml.safe_load((ROOT / "sweeps/paper/parts.yaml").read_text())
    raw["parts"][0]["max_members"] = 0
    bad.write_text(yaml.safe_dump(raw))
    assert P.main(["status", "--paper", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "max_members must be an integer >= 1" in err[0]


def _wall(path, part, *sessions, shard="0/1"):
    """A wall-time record as `paper run` writes it: (started or None, seconds) per session."""
    path.write_text(__import__("json").dumps({"part": part, "sessions": [
        {"started": t, "wall_s": w, "shard": shard} for t, w in sessions]}))


def test_machine_time_counts_parts_that_ran_at_once_once(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    _wall(tables / "a.wall.json", "a", ("2026-01-01T00:00:00Z", 600.0), ("2026-01-01T02:00:00Z", 60.0))
    _wall(tables / "b.0-of-2.wall.json", "b", ("2026-01-01T00:05:00Z", 600.0))  # 00:05-00:15, over a's 00:00-00:10
    _wall(tables / "b.1-of-2.wall.json", "b", (None, 30.0))  # no start time: counted whole
    (tables / "c.wall.json").write_text("{not json")
    assert P.wall_times(tables) == {"a": 660.0, "b": 630.0}
    assert P.busy_seconds(tables) == pytest.approx(900.0 + 60.0 + 30.0)  # 00:00-00:15, 02:00-02:01, loose
    assert P.busy_seconds(tmp_path / "none") == 0.0


def test_retimed_parts_get_a_column_and_the_total_with_their_times(tmp_path):
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.0, 20.0]}
    a = P.Part("a", "s.yaml", "Fig. 1", 120, 10000, [300], 8, 32)
    b = P.Part("b", "s.yaml", "Fig. 9", 120, 10000, [300], 8, 32)
    tables, checks = tmp_path / "tables", tmp_path / "checks"
    tables.mkdir()
    checks.mkdir()
    _wall(tables / "a.wall.json", "a", ("2026-01-01T00:00:00Z", 3600.0))
    _wall(tables / "b.wall.json", "b", ("2026-01-01T01:00:00Z", 1200.0))
    _wall(checks / "a_old.wall.json", "a", ("2026-01-02T00:00:00Z", 600.0))  # an earlier re-timing, faster
    _wall(checks / "a_rerun.wall.json", "a", ("2026-01-03T00:00:00Z", 1500.0), ("2026-01-03T01:00:00Z", 300.0))
    _wall(checks / "z.wall.json", "z", ("2026-01-03T00:00:00Z", 60.0))  # a part not in the list: ignored
    # the latest re-timing, sessions summed, in place of the whole part
    assert P.retimed_walls(tables, checks)["a"] == (1800.0, ["0/1"], ["a_rerun.wall.json"])
    assert P.retimed_walls(tables, tmp_path / "none") == {}
    plain = P.status_table([a, b], ref, tables)
    assert "re-timed" not in plain and "Re-timed" not in plain
    text = P.status_table([a, b], ref, tables, checks)
    rows = text.splitlines()
    assert rows[0].endswith("| re-timed, quiet machine (minutes) |") and rows[1].count("|") == 8
    assert rows[2].endswith("| 60.0 | 30.0 |") and rows[3].endswith("| 20.0 | |")
    # 60 + 20 measured; with a's re-timing (30) in place of its first run (60): 50 minutes, 2.5-5.0 x 10-20 min
    assert "Re-timed: 1 part (a)" in text and "take 50 minutes (0.8 h, 2.5-5.0 x the reference grid)" in text
    assert "a_rerun.wall.json" in text and "a_old" not in text
    assert "Machine time" not in text  # a and b did not overlap: nothing to say
    # The grid itself among the parts: the total against its time as measured here (b's 1200 s).
    text = P.status_table([a, b], {**ref, "grid_parts": ["b"]}, tables, checks)
    assert "2.5-5.0 x the reference grid; 2.5 x the reference grid as measured here (b: 1200 s))" in text


def test_paper_status_reads_the_checks_beside_the_tables(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    tables = tmp_path / "paper" / "tables"
    tables.mkdir(parents=True)
    (tmp_path / "paper" / "checks").mkdir()
    _wall(tables / "fig1_2af.wall.json", "fig1_2af", ("2026-01-01T00:00:00Z", 600.0))
    _wall(tmp_path / "paper" / "checks" / "r.wall.json", "fig1_2af", ("2026-01-02T00:00:00Z", 300.0))
    assert P.main(["status", "--tables", str(tables)]) == 0
    assert "| 10.0 | 5.0 |" in capsys.readouterr().out
    assert P.main(["status", "--tables", str(tables), "--checks", str(tmp_path / "elsewhere")]) == 0
    assert "Re-timed" not in capsys.readouterr().out


def test_a_shard_timed_again_replaces_that_shard_only(tmp_path):
    ref = {"networks": 120, "steps": 10000, "n_hidden": 300, "seq_len": 8, "batch": 32, "minutes": [10.0, 20.0]}
    a = P.Part("a", "s.yaml", "Fig. 14", 30, 10000, [300], 28, 200)
    tables, checks = tmp_path / "tables", tmp_path / "checks"
    tables.mkdir()
    checks.mkdir()
    _wall(tables / "a.0-of-2.wall.json", "a", ("2026-01-01T00:00:00Z", 1200.0), shard="0/2")
    _wall(tables / "a.1-of-2.wall.json", "a", ("2026-01-01T01:00:00Z", 3000.0), shard="1/2")
    _wall(checks / "a.1-of-2.wall.json", "a", ("2026-01-02T00:00:00Z", 900.0), shard="1/2")
    _wall(checks / "a.2-of-3.wall.json", "a", ("2026-01-02T01:00:00Z", 60.0), shard="2/3")  # no such shard: ignored
    assert P.retimed_walls(tables, checks) == {"a": (2100.0, ["1/2"], ["a.1-of-2.wall.json"])}
    text = P.status_table([a], ref, tables, checks)
    assert text.splitlines()[2].endswith("| 70.0 | 35.0 (shard 1/2 again) |")
    assert "take 35 minutes" in text
    # a whole-part re-timing replaces every shard
    _wall(checks / "a_whole.wall.json", "a", ("2026-01-03T00:00:00Z", 1500.0))
    assert P.retimed_walls(tables, checks)["a"] == (1500.0, ["0/1"], ["a_whole.wall.json"])
