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
  run's config through rlnet's registry of structures, never by importing a name the file holds,
  and the effective rank per network), ``training.png`` (alignment over training, when
  the runs saved series);
* ``report.md``: the tables as Markdown (also printed);
* when the rows belong to parts of the paper run that a claim reads: the claims
  (``claims.md/.csv/.json``, :mod:`rlnet.experiments.claims`) and ``figures/figNN.png``, one per paper
  figure with rows, in the paper's layout (:mod:`rlnet.experiments.paper_figures`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlnet._cli_args import parse_cli_args
from rlnet.experiments.csv_table import parse_cell, write_csv
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
    data = data if isinstance(data, dict) else {}
    init = data.get("init_args") or {}
    if isinstance(init, dict) and init.get("task"):
        return str(init["task"])
    cp = str(data.get("class_path", "")).rsplit(".", 1)[-1]
    return cp.replace("DataModule", "").lower() or "task"


def _measure(v: Any, key: str) -> float | None:
    """A measure as read from a file: a number (non-finite: missing), or ``ValueError``."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{key} is {str(v)[:40]!r}, not a number")
    return float(v) if math.isfinite(v) else None


def _check_metrics(metrics: Any) -> None:
    """``ValueError`` unless ``metrics`` has the shape of a ``metrics.json`` (data only: nothing
    it names is imported or called)."""
    if not isinstance(metrics, dict):
        raise ValueError(f"holds a {type(metrics).__name__}, not a metrics mapping")
    for key, kind in (("config", dict), ("members", list), ("history", dict), ("tracking", dict)):
        if metrics.get(key) is not None and not isinstance(metrics[key], kind):
            raise ValueError(f"{key!r} is a {type(metrics[key]).__name__}, expected a {kind.__name__}")
    for e, m in enumerate(metrics.get("members") or []):
        if not isinstance(m, dict):
            raise ValueError(f"member {e} is a {type(m).__name__}, expected a mapping")
        if m.get("connectivity") is not None and not isinstance(m["connectivity"], dict):
            raise ValueError(f"member {e}'s connectivity is a {type(m['connectivity']).__name__}")
        for k in ("seed", "rank"):
            v = m.get(k, (m.get("connectivity") or {}).get(k))
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"member {e}'s {k} is {str(v)[:40]!r}, not an integer")
        for k in (*MEASURES, *EXTRA):
            _measure(m.get(k), f"member {e}'s {k}")
    _measure(metrics.get("fit_wall_time_s"), "fit_wall_time_s")


def records_from_metrics(metrics: dict, source: str) -> list[dict[str, Any]]:
    """One record per network of a run's ``metrics.json``; ``ValueError`` if it is malformed."""
    _check_metrics(metrics)
    cfg = metrics.get("config") or {}
    setting = _setting(cfg)
    n_hidden = ((cfg.get("model") or {}).get("init_args") or {}).get("n_hidden")
    out = []
    history = metrics.get("history")
    for e, m in enumerate(metrics.get("members") or []):
        conn = dict(m.get("connectivity") or {})
        name = str(conn.pop("name", "null"))
        rank = conn.get("rank")
        if rank is None and name == "svd":
            rank = n_hidden  # rank=None keeps the full draw
        rec = {"source": source, "task": _task(cfg), "structure": name, "rank": rank, "seed": m.get("seed"),
               "diverged": bool(m.get("diverged", False)), "config": cfg,
               "fit_wall_time_s": _measure(metrics.get("fit_wall_time_s"), "fit_wall_time_s")}
        for k in (*MEASURES, *EXTRA):
            if k in m:
                rec[k] = _measure(m[k], k)
        settings = dict(setting)
        # flattened as the config is (lists as JSON text): a setting must be hashable to form a cell
        settings.update(_flatten({k: v for k, v in conn.items() if k != "rank"}, "connectivity."))
        rec["settings"] = settings
        rec["history"] = _numeric_series(_member_history(m.get("history"), history, e)
                                         or _tracking_history(metrics, e))
        out.append(rec)
    return out


def _numeric_series(h: Any) -> dict[str, list] | None:
    """A history with only its numeric series (``None`` entries allowed), all as long as ``step``."""
    if not isinstance(h, dict) or not isinstance(h.get("step"), list):
        return None
    n = len(h["step"])

    def ok(v: Any) -> bool:
        return isinstance(v, list) and len(v) == n and all(
            x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v)

    if not ok(h["step"]) or any(x is None for x in h["step"]):
        return None
    out = {k: v for k, v in h.items() if isinstance(k, str) and ok(v)}
    return out if len(out) > 1 else None


def _tracking_history(metrics: dict, e: int) -> dict[str, list] | None:
    """Member ``e``'s series from the ``"tracking"`` section that ``KernelTrackingCallback`` writes
    (``{"steps": [...], "members": [{measure: [...]}, ...]}``), as ``{'step': [...], measure: [...]}``."""
    tr = metrics.get("tracking")
    if not isinstance(tr, dict) or not tr.get("steps"):
        return None
    members = tr.get("members") or []
    if not isinstance(tr["steps"], list) or not isinstance(members, list) or e >= len(members) \
            or not isinstance(members[e], dict):
        return None
    return {"step": list(tr["steps"]), **{k: list(v) for k, v in members[e].items() if isinstance(v, list)}}


def _member_history(own: Any, shared: Any, e: int) -> dict[str, list] | None:
    """A member's series ``{'step': [...], measure: [...]}``; a run-level series holds one list per
    member (``measure: [[member 0 ...], ...]``) or per step (``[[m0, m1, ...] per step]``)."""
    if isinstance(own, dict):
        return own
    if not isinstance(shared, dict) or not isinstance(shared.get("step"), list):
        return None
    steps = list(shared["step"])
    out: dict[str, list] = {"step": steps}
    for k, v in shared.items():
        if k == "step" or not isinstance(v, list) or not v:
            continue
        if isinstance(v[0], list) and len(v) != len(steps):
            if e < len(v) and isinstance(v[e], list):
                out[k] = list(v[e])
        elif isinstance(v[0], list):
            if all(isinstance(row, list) and e < len(row) for row in v):
                out[k] = [row[e] for row in v]
        else:
            out[k] = list(v)
    return out


_MAX_METRICS_BYTES = 512 * 2**20
_SQLITE_HEADER = b"SQLite format 3\x00"


def _read_metrics_file(p: Path) -> Any:
    if not p.is_file():  # a FIFO or device named metrics.json would block or never end
        raise ValueError("not a regular file")
    size = p.stat().st_size
    if size > _MAX_METRICS_BYTES:
        raise ValueError(f"{size} bytes, more than a metrics.json holds")
    return json.loads(p.read_bytes().decode("utf-8"))


# What a malformed file can raise while its records are read: it is skipped, the report goes on.
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, UnicodeDecodeError)


def _db_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results table, opened read-only (a report never creates or changes one);
    ``ValueError`` for an empty file, a file that is not SQLite, or a table without ``runs``."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"results {path} is empty (0 bytes): not a results table, a directory of metrics.json "
                         f"or a CSV")
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_HEADER))
    if head != _SQLITE_HEADER:
        raise ValueError(f"results {path} is not a results table (SQLite), a directory of metrics.json or a "
                         f"CSV (.csv)")
    try:
        con = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            cur = con.execute("SELECT run_id, sweep, status, error, metrics FROM runs ORDER BY run_id")
            rows = [dict(zip(("run_id", "sweep", "status", "error", "metrics"), r, strict=True))
                    for r in cur.fetchall()]
        finally:
            con.close()
    except sqlite3.Error as err:
        raise ValueError(f"results table {path} cannot be read ({err})") from err
    return rows


def load_records(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Records of every network under ``path``, and notes (failed runs, skipped files).

    Files are data: a malformed ``metrics.json`` (or row) is skipped with a note, and nothing a
    file names is imported or called."""
    path = Path(path)
    notes: list[str] = []
    recs: list[dict[str, Any]] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("metrics.json") if not p.name.startswith("."))
        for p in files:
            try:
                recs += records_from_metrics(_read_metrics_file(p), str(p.parent))
            except (*_MALFORMED, OSError) as err:
                notes.append(f"skipped {p}: {_one_line(err)}")
    elif path.suffix.lower() == ".csv" and path.is_file():
        try:
            recs += _csv_records(path, notes)
        except csv.Error as err:  # NUL bytes, a field beyond csv's size limit
            raise ValueError(f"results {path} is not a readable CSV ({err})") from err
    elif path.is_file():
        for row in _db_rows(path):
            where = f"{row['sweep']}/{row['run_id']}"
            if row["status"] in ("ok", "diverged") and row["metrics"]:
                try:
                    recs += records_from_metrics(json.loads(row["metrics"]), str(row["run_id"]))
                except _MALFORMED as err:
                    notes.append(f"skipped run {where}: {_one_line(err)}")
            elif row["status"] == "failed":
                notes.append(f"failed run {where}: {row['error']}")
            else:
                notes.append(f"unfinished run {where} ({row['status']})")
    elif path.exists():
        raise ValueError(f"results {path} is not a regular file or a directory")
    else:
        raise ValueError(f"results {path} does not exist")
    if not recs:
        raise ValueError(f"no finished networks found in {path}" + (f" ({notes[0]})" if notes else ""))
    return recs, notes


def _csv_records(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            try:
                r = {k: parse_cell(v) for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
                rec = {"source": f"{path.name}:{i + 2}", "task": str(r.get("task") or "task"),
                       "structure": str(r.get("structure") or "svd"), "rank": r.get("rank"),
                       "seed": r.get("seed"), "diverged": bool(r.get("diverged") or False), "config": None,
                       "history": None}
                rec.update({k: _measure(r[k], k) for k in (*MEASURES, *EXTRA) if r.get(k) is not None})
            except _MALFORMED as err:
                notes.append(f"skipped {path.name} line {i + 2}: {_one_line(err)}")
                continue
            rec["settings"] = {k: v for k, v in r.items() if k not in RESERVED and v is not None}
            recs.append(rec)
    return recs


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return f"{type(err).__name__}: {(lines[0] if lines else '')[:200]}"


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


# Larger initial matrices are not rebuilt for the figure (an eigendecomposition of N = 4096 takes
# about a minute; a crafted n_hidden must not exhaust memory).
MAX_REBUILD_N = 4096


def initial_matrix(cfg: dict | None, seed: Any) -> np.ndarray | None:
    """The initial ``W_h`` a run drew, rebuilt from its config (the connectivity's generator seeded by
    the member's seed draws ``W_h`` first, as :meth:`RNNModule.init_weights` does); None if unknown.

    Only rlnet's registered structures are rebuilt, with checked arguments
    (:func:`rlnet.connectivity.from_config.structure_from_config`): a ``class_path`` in a results file
    is never imported or called."""
    try:
        import torch

        from rlnet.connectivity.from_config import structure_from_config

        model = cfg["model"]["init_args"]
        n = model["n_hidden"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_REBUILD_N:
            return None
        if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**64:
            return None
        structure = structure_from_config(model.get("connectivity"))
        return structure(n, torch.Generator().manual_seed(seed % 2**64)).double().numpy()
    except Exception:  # not rebuildable (malformed, refused, or a structure that rejects its arguments)
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
    ax_er.set_title("effective rank of initial W_h", fontsize=9)
    ax_er.set_ylabel("Σ|λ_i| / (|λ_1| N)  (÷ N)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# What each series measures, for panel titles and axes; a rank divided by N says so.
SERIES_LABELS = {
    "kernel_alignment": ("kernel alignment with K_0", "KA(K_t, K_0)"),
    "task_alignment": ("task alignment", "yᵀK_t y / (‖y‖² Tr K_t)"),
    "label_alignment": ("centred label alignment", "CKA(K_t, y yᵀ)"),
    "kernel_effective_rank": ("kernel effective rank", "Tr K_t / λ_max(K_t)  (not ÷ N)"),
    "representation_alignment": ("representation alignment with R_0", "RA(R_t, R_0)"),
    "weight_change_norm": ("weight change", "‖W_t − W_0‖_F"),
}


def figure_training(recs, x, panels, path: Path) -> Path | None:
    """Series saved during training (alignment with K_0, task alignment, ...): a grid of labelled
    panels (A, B, ...), one per (task/panel, series), at most three across; in each, one line per
    cell (rank or structure) with the mean over its networks and a shaded band of ± 1 sample sd
    (ddof = 1) where the cell has several networks. One legend for the figure names the lines and
    the bands. None when no run saved series."""
    with_hist = [r for r in recs if r.get("history") and r["history"].get("step")]
    if not with_hist:
        return None
    plt = _plt()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    order = list(SERIES_LABELS)
    keys = sorted({k for r in with_hist for k, v in r["history"].items() if k != "step" and v},
                  key=lambda k: (order.index(k) if k in order else len(order), k))
    groups = _groups(with_hist, panels)
    all_x = _order(list({xval(r, x): None for r in with_hist}), x)
    color = {xv: f"C{k % 10}" for k, xv in enumerate(all_x)}  # one colour per cell across all panels
    cells = [(g, key) for g in groups for key in keys]
    ncols = min(3, len(cells))
    nrows = math.ceil(len(cells) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.3 * nrows + 0.6), squeeze=False)
    for ax in axes.flat[len(cells):]:
        ax.set_visible(False)
    drawn: dict[Any, None] = {}
    band_sizes: set[int] = set()
    for idx, ((task, panel), key) in enumerate(cells):
        ax = axes.flat[idx]
        rs = groups[(task, panel)]
        for xv in _order([xval(r, x) for r in rs], x):
            series = [(r["history"]["step"], r["history"][key]) for r in rs
                      if xval(r, x) == xv and key in r["history"] and not r["diverged"]]
            if not series:
                continue
            steps = series[0][0]
            ys = np.array([s for st, s in series if len(s) == len(steps)], dtype=float)
            mean = ys.mean(0)
            ax.plot(steps, mean, color=color[xv])
            drawn[xv] = None
            if len(ys) > 1:
                sd = ys.std(0, ddof=1)
                ax.fill_between(steps, mean - sd, mean + sd, color=color[xv], alpha=0.2, linewidth=0)
                band_sizes.add(len(ys))
        title, axis = SERIES_LABELS.get(key, (key.replace("_", " "), key))
        where = task if panel == "-" else f"{task} ({panel})"
        ax.set_title(f"{where}: {title}", fontsize=9, loc="left")
        ax.text(-0.14, 1.04, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[idx % 26], transform=ax.transAxes, fontsize=12,
                fontweight="bold", va="bottom")
        ax.set_xlabel("training step", fontsize=8)
        ax.set_ylabel(axis, fontsize=8)
    handles: list[Any] = [Line2D([], [], color=color[xv]) for xv in drawn]
    labels = [f"{_xlabel(x)} {xv}".strip() for xv in drawn]
    if band_sizes:
        n = min(band_sizes) if len(band_sizes) == 1 else f"{min(band_sizes)}-{max(band_sizes)}"
        handles.append(Patch(facecolor="0.55", alpha=0.35, linewidth=0))
        labels.append(f"line: mean; shaded: ± 1 sd over a cell's networks (n = {n})")
    fig.legend(handles, labels, loc="upper center", ncol=min(len(handles), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---- writing ------------------------------------------------------------------------------------
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
    _check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    x, panels = layout(recs)
    cells = cell_table(recs, x, panels)
    st = statistics(recs, x, panels)
    files = {"cells": write_csv(cells, out / "cells.csv"), "stats": write_csv(st, out / "stats.csv")}
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


def _check_out_dir(out: Path) -> None:
    """``ValueError`` unless ``out`` is, or can be made as, a writable directory."""
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe == out and not probe.is_dir():
        raise ValueError(f"report directory {out} exists and is not a directory")
    if not probe.is_dir():
        raise ValueError(f"report directory {out}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"report directory {out}: {probe} is not writable")


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
    except OSError as err:  # read-only or full storage, a file vanished: one line, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        print(f"rlnet: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    for note in rep["notes"]:
        if note.startswith("skipped "):
            print(f"rlnet: warning: {note}", file=sys.stderr)
    print(rep["text"])
    from rlnet.experiments.claims import claims_for_report  # the paper's claims these rows test, if any

    claims = claims_for_report(a.results, a.out)
    if claims:
        print(claims)
    from rlnet.experiments.paper_figures import figures_for_report  # and its figures, in the paper's layout

    figures = figures_for_report(a.results, Path(a.out) / "figures")
    if figures:
        print(figures)
    return 0
