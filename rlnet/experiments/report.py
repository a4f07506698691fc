"""``python -m rlnet report RESULTS --out DIR``: tables, statistics and figures in the paper's layout.

RESULTS is a results table written by ``rlnet sweep`` (SQLite), a directory searched for
``metrics.json`` files (e.g. ``runs/`` or a sweep's output), or a CSV with one row per network
(columns ``task``, ``structure``, ``rank``, ``seed`` and measures; any other column is a setting).

One record per trained network. The sweep's variable ``x`` is the initial rank when ranks vary
(Fig. 1, 7-13, 18), else the structure (Fig. 2, 5, 6, 17, 19); any other setting that varies
(task, N, lr, g, ...) makes separate panels. Written to DIR:

* ``cells.csv``: mean, sample sd (ddof = 1) and n per (task, panel, x, measure), diverged networks
  left out and counted;
* ``stats.csv``: the rank trend per measure, Spearman's rho over all networks of a panel
  (``scipy.stats.spearmanr``), and structure versus null per measure, two-sided Mann-Whitney U
  (``scipy.stats.mannwhitneyu``) (paper App. C.2: SciPy tests across seeds);
* ``measures.png`` (Fig. 1 / 2 layout: one dot per network against rank or structure, per measure and
  task), ``spectra.png`` (eigenvalues and singular values of the initial ``W_h``, rebuilt from each
  run's config, and the effective rank per network), ``training.png`` (alignment over training, when
  the runs saved series);
* ``report.md``: the tables as Markdown (also printed).
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlnet._cli_args import parse_cli_args
from rlnet.results import MEASURE_NAMES

# The paper's three laziness measures (Sec. 2.2), with the direction Fig. 1 predicts as rank grows.
MEASURES = {"weight_change_norm": ("||ΔW_h||_F", -1), "representation_alignment": ("rep. alignment", +1),
            "kernel_alignment": ("kernel alignment", +1)}
EXTRA = tuple(m for m in MEASURE_NAMES if m not in MEASURES)
# Measures given a statistic (Spearman over rank, Mann-Whitney against the null): the three, and the
# initial effective rank (higher with rank; a structure's below the null's), as the retired
# ``rlnet.compare_structures`` tested them.
TESTED = {**MEASURES, "initial_eigenvalue_effective_rank": ("eff. rank of initial eigenvalues", +1)}
RESERVED = {"task", "structure", "rank", "seed", "diverged", "source", *MEASURES, *EXTRA}
# Config keys that never define a cell: seeds, places, logging, how members are batched.
_IGNORED = ("seed", "default_root_dir", "run_name", "config", "trainer.logger", "trainer.callbacks",
            "enable_progress_bar", "enable_model_summary", "enable_checkpointing", "ckpt_path",
            "num_threads", "n_members", "verbose", "model.init_args.connectivity", "data.init_args.task",
            "log_every_n_steps", "val_check_interval", "check_val_every_n_epoch", "data.init_args.num_workers",
            "filename", "pairing", "model.init_args.connectivities")


# ---- reading ------------------------------------------------------------------------------------
def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = json.dumps(d) if isinstance(d, list) else d
    return out


def _setting(cfg: dict) -> dict[str, Any]:
    flat = _flatten(cfg or {})
    return {k: v for k, v in flat.items() if not any(s in k for s in _IGNORED)}


def _task(cfg: dict) -> str:
    data = (cfg or {}).get("data") or {}
    init = data.get("init_args") or {}
    if init.get("task"):
        return str(init["task"])
    cp = str(data.get("class_path", "")).rsplit(".", 1)[-1]
    return cp.replace("DataModule", "").lower() or "task"


def records_from_metrics(metrics: dict, source: str) -> list[dict[str, Any]]:
    """One record per network of a run's ``metrics.json``."""
    cfg = metrics.get("config") or {}
    setting = _setting(cfg)
    n_hidden = ((cfg.get("model") or {}).get("init_args") or {}).get("n_hidden")
    out = []
    history = metrics.get("history")
    for e, m in enumerate(metrics.get("members", [])):
        conn = dict(m.get("connectivity") or {})
        name = str(conn.pop("name", "null"))
        rank = conn.get("rank")
        if rank is None and name == "svd":
            rank = n_hidden  # rank=None keeps the full draw
        rec = {"source": source, "task": _task(cfg), "structure": name, "rank": rank, "seed": m.get("seed"),
               "diverged": bool(m.get("diverged", False)), "config": cfg,
               "fit_wall_time_s": metrics.get("fit_wall_time_s")}
        for k in (*MEASURES, *EXTRA):
            if k in m:
                rec[k] = m[k]
        settings = dict(setting)
        settings.update({f"connectivity.{k}": v for k, v in conn.items() if k != "rank"})
        rec["settings"] = settings
        rec["history"] = _member_history(m.get("history"), history, e) or _tracking_history(metrics, e)
        out.append(rec)
    return out


def _tracking_history(metrics: dict, e: int) -> dict[str, list] | None:
    """Member ``e``'s series from the ``"tracking"`` section that ``KernelTrackingCallback`` writes
    (``{"steps": [...], "members": [{measure: [...]}, ...]}``), as ``{'step': [...], measure: [...]}``."""
    tr = metrics.get("tracking")
    if not isinstance(tr, dict) or not tr.get("steps"):
        return None
    members = tr.get("members") or []
    if e >= len(members) or not isinstance(members[e], dict):
        return None
    return {"step": list(tr["steps"]), **{k: list(v) for k, v in members[e].items() if isinstance(v, list)}}


def _member_history(own: Any, shared: Any, e: int) -> dict[str, list] | None:
    """A member's series ``{'step': [...], measure: [...]}``; a run-level series holds one list per
    member (``measure: [[member 0 ...], ...]``) or per step (``[[m0, m1, ...] per step]``)."""
    if isinstance(own, dict):
        return own
    if not isinstance(shared, dict) or "step" not in shared:
        return None
    steps = list(shared["step"])
    out: dict[str, list] = {"step": steps}
    for k, v in shared.items():
        if k == "step" or not isinstance(v, list) or not v:
            continue
        if isinstance(v[0], list) and len(v) != len(steps):
            out[k] = list(v[e])
        elif isinstance(v[0], list):
            out[k] = [row[e] for row in v]
        else:
            out[k] = list(v)
    return out


def _num(v: str) -> Any:
    if v in ("", None):
        return None
    low = v.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in low else f


def load_records(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Records of every network under ``path``, and notes (failed runs, skipped files)."""
    path = Path(path)
    notes: list[str] = []
    recs: list[dict[str, Any]] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("metrics.json") if not p.name.startswith("."))
        for p in files:
            try:
                recs += records_from_metrics(json.loads(p.read_text()), str(p.parent))
            except (json.JSONDecodeError, OSError) as err:
                notes.append(f"skipped {p}: {err}")
    elif path.suffix.lower() == ".csv":
        with path.open(newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                r = {k: _num(v) for k, v in row.items()}
                rec = {"source": f"{path.name}:{i + 2}", "task": str(r.get("task") or "task"),
                       "structure": str(r.get("structure") or "svd"), "rank": r.get("rank"),
                       "seed": r.get("seed"), "diverged": bool(r.get("diverged") or False), "config": None,
                       "history": None}
                rec.update({k: float(r[k]) for k in (*MEASURES, *EXTRA) if r.get(k) is not None})
                rec["settings"] = {k: v for k, v in r.items() if k not in RESERVED and v is not None}
                recs.append(rec)
    elif path.is_file():
        from rlnet.experiments.results_db import ResultsDB

        for row in ResultsDB(path).rows():
            if row["status"] in ("ok", "diverged") and row["metrics"]:
                recs += records_from_metrics(row["metrics"], row["run_id"])
            elif row["status"] == "failed":
                notes.append(f"failed run {row['sweep']}/{row['run_id']}: {row['error']}")
            else:
                notes.append(f"unfinished run {row['sweep']}/{row['run_id']} ({row['status']})")
    else:
        raise ValueError(f"results {path} does not exist")
    if not recs:
        raise ValueError(f"no finished networks found in {path}")
    return recs, notes


# ---- cells and statistics -----------------------------------------------------------------------
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def layout(recs: list[dict[str, Any]]) -> tuple[str | None, list[str]]:
    """The sweep's variable ``x`` and the settings that make separate panels."""
    keys = sorted({k for r in recs for k in r["settings"]})
    common = [k for k in keys if all(k in r["settings"] for r in recs)]
    varying = [k for k in common if len({json.dumps(r["settings"][k], default=str) for r in recs}) > 1]
    if len({r["structure"] for r in recs}) > 1:
        x = "structure"
    elif len({r["rank"] for r in recs if r["rank"] is not None}) > 1:
        x = "rank"
    elif varying:
        conn = [k for k in varying if k.startswith("connectivity.")]
        x = (conn or varying)[0]
    else:
        x = None
    panels = [k for k in varying if k != x]
    if x == "structure" and len({r["rank"] for r in recs}) > 1:
        panels.append("rank")
    return x, panels


def xval(rec: dict[str, Any], x: str | None) -> Any:
    if x is None:
        return "all"
    if x in ("structure", "rank"):
        return rec[x]
    return rec["settings"].get(x)


def panel_of(rec: dict[str, Any], panels: list[str]) -> str:
    parts = [f"{k.rsplit('.', 1)[-1]}={rec[k] if k == 'rank' else rec['settings'].get(k)}" for k in panels]
    return ", ".join(parts) or "-"


def _order(values: list[Any], x: str | None) -> list[Any]:
    """Numbers ascending; structures with the null first."""
    uniq = list(dict.fromkeys(values))
    if all(_is_num(v) for v in uniq):
        return sorted(uniq)
    return sorted(uniq, key=lambda v: (str(v) != "null", str(v)))


def measures_present(recs: list[dict[str, Any]]) -> list[str]:
    return [m for m in (*MEASURES, *EXTRA) if any(m in r for r in recs)]


def cell_table(recs: list[dict[str, Any]], x: str | None, panels: list[str]) -> list[dict[str, Any]]:
    """Mean, sample sd and n of each measure per (task, panel, x); diverged networks left out."""
    rows = []
    groups = _groups(recs, panels)
    for (task, panel), rs in groups.items():
        for xv in _order([xval(r, x) for r in rs], x):
            cell = [r for r in rs if xval(r, x) == xv]
            ok = [r for r in cell if not r["diverged"]]
            for m in measures_present(recs):
                vals = np.array([r[m] for r in ok if r.get(m) is not None], dtype=float)
                rows.append({"task": task, "panel": panel, "x": x or "-", "value": xv, "measure": m,
                             "mean": float(vals.mean()) if len(vals) else math.nan,
                             "sd": float(vals.std(ddof=1)) if len(vals) > 1 else math.nan,
                             "n": len(vals), "n_diverged": len(cell) - len(ok)})
    return rows


def _groups(recs: list[dict[str, Any]], panels: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in recs:
        out.setdefault((r["task"], panel_of(r, panels)), []).append(r)
    return dict(sorted(out.items(), key=lambda kv: kv[0]))


def statistics(recs: list[dict[str, Any]], x: str | None, panels: list[str]) -> list[dict[str, Any]]:
    """Spearman rank trend (numeric ``x``) or Mann-Whitney structure-vs-null, per measure and panel."""
    from scipy import stats

    out = []
    for (task, panel), rs in _groups(recs, panels).items():
        ok = [r for r in rs if not r["diverged"]]
        xs = [xval(r, x) for r in ok]
        for m in TESTED:
            have = [(xv, r[m]) for xv, r in zip(xs, ok) if r.get(m) is not None]
            if not have:
                continue
            expected = TESTED[m][1]
            if all(_is_num(v) for v, _ in have) and len({v for v, _ in have}) > 1:
                xv_, yv = np.array([v for v, _ in have], float), np.array([y for _, y in have], float)
                res = stats.spearmanr(xv_, yv)
                rho, p = float(res.statistic), float(res.pvalue)
                out.append({"task": task, "panel": panel, "measure": m, "test": "spearman", "x": x,
                            "group": "all", "reference": "-", "n": len(yv), "statistic": rho, "pvalue": p,
                            "effect": rho, "expected_sign": expected,
                            "agrees": bool(np.sign(rho) == expected) if math.isfinite(rho) else False})
            elif "null" in {v for v, _ in have}:
                null = np.array([y for v, y in have if v == "null"], float)
                for s in _order([v for v, _ in have], x):
                    if s == "null":
                        continue
                    grp = np.array([y for v, y in have if v == s], float)
                    res = stats.mannwhitneyu(grp, null, alternative="two-sided")
                    diff = float(np.median(grp) - np.median(null))
                    # Structures are lower rank than the null: expected to be richer (opposite sign).
                    out.append({"task": task, "panel": panel, "measure": m, "test": "mannwhitneyu", "x": x,
                                "group": s, "reference": "null", "n": len(grp) + len(null),
                                "statistic": float(res.statistic), "pvalue": float(res.pvalue),
                                "effect": diff, "expected_sign": -expected,
                                "agrees": bool(np.sign(diff) == -expected)})
    return out


# ---- figures ------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _stat_label(st: list[dict[str, Any]], task: str, panel: str, m: str) -> str:
    sel = [s for s in st if s["task"] == task and s["panel"] == panel and s["measure"] == m]
    if not sel:
        return ""
    if sel[0]["test"] == "spearman":
        return f"ρ={sel[0]['statistic']:+.2f}, p={sel[0]['pvalue']:.1e}"
    return "; ".join(f"{s['group']}: p={s['pvalue']:.1e}" for s in sel)


def _xlabel(x: str | None) -> str:
    return {"rank": "initial rank", "structure": "initial structure", None: ""}.get(x, str(x).rsplit(".", 1)[-1])


def figure_measures(recs, x, panels, st, path: Path) -> Path:
    """One dot per network against rank or structure, mean ± sd; rows (task, panel), columns measures."""
    plt = _plt()
    groups = _groups(recs, panels)
    ms = [m for m in MEASURES if any(m in r for r in recs)]
    fig, axes = plt.subplots(len(groups), max(1, len(ms)), figsize=(3.6 * max(1, len(ms)), 3.1 * len(groups)),
                             squeeze=False)
    rng = np.random.default_rng(0)
    for i, ((task, panel), rs) in enumerate(groups.items()):
        xs = _order([xval(r, x) for r in rs], x)
        for j, m in enumerate(ms):
            ax = axes[i][j]
            for k, xv in enumerate(xs):
                ys = [r[m] for r in rs if xval(r, x) == xv and not r["diverged"] and r.get(m) is not None]
                if not ys:
                    continue
                ax.scatter(k + rng.uniform(-0.12, 0.12, len(ys)), ys, s=14, alpha=0.7, color=f"C{k % 10}")
                sd = float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0
                ax.errorbar(k + 0.25, float(np.mean(ys)), yerr=sd, fmt="o", color="k", ms=4, capsize=3)
            ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=30 if x == "structure" else 0)
            ax.set_xlabel(_xlabel(x))
            lab = _stat_label(st, task, panel, m)
            ax.set_title(f"{task}{'' if panel == '-' else ' (' + panel + ')'}: {MEASURES[m][0]}"
                         + (f"\n{lab}" if lab else ""), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def initial_matrix(cfg: dict | None, seed: Any) -> np.ndarray | None:
    """The initial ``W_h`` a run drew, rebuilt from its config (the connectivity's generator seeded by
    the member's seed draws ``W_h`` first, as :meth:`RNNModule.init_weights` does); None if unknown."""
    try:
        import torch

        model = cfg["model"]["init_args"]
        conn = model["connectivity"]
        mod, cls = conn["class_path"].rsplit(".", 1)
        obj = getattr(importlib.import_module(mod), cls)(**(conn.get("init_args") or {}))
        return obj(int(model["n_hidden"]), torch.Generator().manual_seed(int(seed))).double().numpy()
    except Exception:
        return None


def figure_spectra(recs, x, panels, path: Path) -> Path:
    """Initial ``W_h`` of the first network per cell: eigenvalues, singular values; and effective rank."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    ax_eig, ax_sv, ax_er = axes
    seen: dict[Any, dict] = {}
    for r in recs:
        seen.setdefault(xval(r, x), r)
    xs = _order(list(seen), x)
    drawn = 0
    for k, xv in enumerate(xs):
        r = seen[xv]
        W = initial_matrix(r["config"], r["seed"])
        if W is None:
            continue
        drawn += 1
        ev = np.linalg.eigvals(W)
        sv = np.linalg.svd(W, compute_uv=False)
        # Later cells (higher rank, more eigenvalues) underneath, so that sparse spectra stay visible.
        ax_eig.scatter(ev.real, ev.imag, s=6, alpha=0.7, color=f"C{k % 10}", label=str(xv), zorder=len(xs) - k)
        ax_sv.plot(np.arange(1, len(sv) + 1), sv / sv[0], color=f"C{k % 10}", label=str(xv))
    if drawn:
        ax_eig.set_aspect("equal", adjustable="datalim")
        ax_eig.legend(fontsize=7, title=_xlabel(x), title_fontsize=7, markerscale=3)
        ax_sv.set_xscale("log")
        ax_sv.legend(fontsize=7)
    else:
        for ax in (ax_eig, ax_sv):
            ax.text(0.5, 0.5, "no configs to rebuild\nthe initial matrices", ha="center", va="center",
                    transform=ax.transAxes)
    ax_eig.set_title("eigenvalues of initial W_h", fontsize=9)
    ax_sv.set_title("singular values / s_1", fontsize=9)
    key = "initial_eigenvalue_effective_rank"
    for k, xv in enumerate(xs):
        ys = [r[key] for r in recs if xval(r, x) == xv and r.get(key) is not None]
        ax_er.scatter(np.full(len(ys), k) + np.linspace(-0.1, 0.1, len(ys)), ys, s=12, color=f"C{k % 10}")
    ax_er.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax_er.set_xlabel(_xlabel(x))
    ax_er.set_title("effective rank Σ|λ| / (|λ_1| N)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure_training(recs, x, panels, path: Path) -> Path | None:
    """Series saved during training (e.g. alignment with K_0, task alignment): mean over networks per
    cell; None when no run saved series."""
    with_hist = [r for r in recs if r.get("history") and r["history"].get("step")]
    if not with_hist:
        return None
    plt = _plt()
    keys = sorted({k for r in with_hist for k, v in r["history"].items() if k != "step" and v})
    groups = _groups(with_hist, panels)
    fig, axes = plt.subplots(len(groups), len(keys), figsize=(3.4 * len(keys), 2.9 * len(groups)), squeeze=False)
    for i, ((task, panel), rs) in enumerate(groups.items()):
        xs = _order([xval(r, x) for r in rs], x)
        for j, key in enumerate(keys):
            ax = axes[i][j]
            for k, xv in enumerate(xs):
                series = [(r["history"]["step"], r["history"][key]) for r in rs
                          if xval(r, x) == xv and key in r["history"] and not r["diverged"]]
                if not series:
                    continue
                steps = series[0][0]
                ys = np.array([s for st, s in series if len(s) == len(steps)], dtype=float)
                mean = ys.mean(0)
                ax.plot(steps, mean, color=f"C{k % 10}", label=str(xv))
                if len(ys) > 1:
                    sd = ys.std(0, ddof=1)
                    ax.fill_between(steps, mean - sd, mean + sd, color=f"C{k % 10}", alpha=0.2)
            ax.set_xlabel("step")
            ax.set_title(f"{task}{'' if panel == '-' else ' (' + panel + ')'}: {key}", fontsize=9)
            ax.legend(fontsize=7, title=_xlabel(x), title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---- writing ------------------------------------------------------------------------------------
def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else (f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}")
    return str(v)


def markdown(rows: list[dict[str, Any]], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def make_report(results: str | Path, out: str | Path) -> dict[str, Any]:
    """Read results, write tables, statistics and figures to ``out``; returns what was written."""
    recs, notes = load_records(results)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x, panels = layout(recs)
    cells = cell_table(recs, x, panels)
    st = statistics(recs, x, panels)
    files = {"cells": _write_csv(cells, out / "cells.csv"), "stats": _write_csv(st, out / "stats.csv")}
    files["measures"] = figure_measures(recs, x, panels, st, out / "measures.png")
    files["spectra"] = figure_spectra(recs, x, panels, out / "spectra.png")
    tr = figure_training(recs, x, panels, out / "training.png")
    if tr is not None:
        files["training"] = tr
    else:
        notes.append("no series saved during training: training.png not written")
    walls = {r["source"]: r["fit_wall_time_s"] for r in recs if r.get("fit_wall_time_s") is not None}
    if walls:
        w = np.array(list(walls.values()), float)
        notes.append(f"fit wall time of {len(w)} runs: mean {w.mean():.0f} s, min {w.min():.0f} s, "
                     f"max {w.max():.0f} s, sum {w.sum():.0f} s")
    main_cells = [c for c in cells if c["measure"] in (*MEASURES, "accuracy", "initial_eigenvalue_effective_rank")]
    text = [f"# rlnet report: {results}", "",
            f"{len(recs)} networks ({sum(r['diverged'] for r in recs)} diverged); x = {x}; "
            f"panels by {', '.join(panels) or '-'}", "",
            "## Cells (mean, sample sd, n)", "",
            markdown(main_cells, ["task", "panel", "value", "measure", "mean", "sd", "n", "n_diverged"]), "",
            "## Statistics", "",
            markdown(st, ["task", "panel", "measure", "test", "group", "n", "statistic", "pvalue", "agrees"])
            if st else "(no test applies: one cell, or no numeric x and no null)", ""]
    if notes:
        text += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    text += ["## Files", "", *[f"- {k}: {v}" for k, v in files.items()], ""]
    files["report"] = out / "report.md"
    files["report"].write_text("\n".join(text))
    return {"files": files, "cells": cells, "stats": st, "x": x, "panels": panels, "notes": notes,
            "text": "\n".join(text)}


def build_parser():
    from jsonargparse import ArgumentParser

    p = ArgumentParser(prog="rlnet report", exit_on_error=False,
                       description="Tables, SciPy statistics and PNG figures from many runs.")
    p.add_argument("results", type=str, help="results table (.db), directory of metrics.json, or CSV")
    p.add_argument("--out", type=str, default="report", help="output directory")
    return p


def main(args: Sequence[str] | None = None) -> int:
    try:
        a = parse_cli_args(build_parser(), args)
        rep = make_report(a.results, a.out)
    except ValueError as err:  # errors the user can fix: one line, as the CLI prints them
        print(f"rlnet: error: {err}", file=sys.stderr)
        return 2
    print(rep["text"])
    return 0
