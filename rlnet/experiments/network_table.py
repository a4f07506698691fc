"""The per-network results table: one flat row per trained network, small enough to commit.

A row holds what the claims of the paper read (:mod:`rlnet.experiments.claims`): which part of the
paper run it came from (``part``, the sweep's name), the task, the variant (the config file's stem
without the task prefix, e.g. ``chain_over``), the structure and rank, the seed, whether it diverged,
every scalar a member recorded in ``metrics.json`` (the laziness measures, accuracy, effective ranks,
the linear theory's closed forms, ...), the scalar settings of its config and sweep parameters by
their last dotted name (``lr``, ``g``, ``n_hidden``, ``dt``, ``kappa``, ``d``, ``k``), the probe size,
and for runs that tracked the kernel the first and last value of each series
(``track_<measure>_initial`` / ``_final``).

Reading a results table or ``metrics.json`` never imports or calls anything named in it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from rlnet.experiments.csv_table import parse_cell

# Columns first in the CSV, in this order; the others follow alphabetically.
LEAD = ("part", "run_id", "member", "task", "variant", "structure", "rank", "seed", "diverged", "accuracy",
        "weight_change_norm", "representation_alignment", "kernel_alignment",
        "initial_eigenvalue_effective_rank", "initial_singular_value_effective_rank")


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _task(cfg: dict) -> str:
    data = (cfg or {}).get("data") or {}
    init = data.get("init_args") or {}
    if init.get("task"):
        return str(init["task"])
    cp = str(data.get("class_path", "")).rsplit(".", 1)[-1]
    return cp.replace("DataModule", "").lower() or "task"


def _variant(config_path: Any, task: str) -> str | None:
    if not isinstance(config_path, str):
        return None
    stem = Path(config_path).stem
    return stem[len(task) + 1:] if stem.startswith(f"{task}_") else stem


def network_rows(metrics: dict, part: str, run_id: str = "", params: dict | None = None) -> list[dict[str, Any]]:
    """One flat row per member of a run's ``metrics.json`` (``params``: the sweep's parameters)."""
    cfg = metrics.get("config") or {}
    params = params or {}
    task = _task(cfg)
    base: dict[str, Any] = {}
    for section in ("model", "data"):
        init = ((cfg.get(section) or {}).get("init_args") or {})
        base.update({k: v for k, v in init.items() if _scalar(v) and v is not None})
    base.update({k.rsplit(".", 1)[-1]: v for k, v in params.items() if _scalar(v) and k != "config"})
    settings = metrics.get("measure_settings") or {}
    tracking = metrics.get("tracking") if isinstance(metrics.get("tracking"), dict) else {}
    tr_members = tracking.get("members") or []
    rows = []
    for e, m in enumerate(metrics.get("members") or []):
        row: dict[str, Any] = {"part": part, "run_id": run_id, "member": e, "task": task,
                               "variant": _variant(params.get("config"), task)}
        conn = dict(m.get("connectivity") or {})
        row["structure"] = str(conn.pop("name", "null")) if m.get("connectivity") is not None else m.get("kind")
        for k, v in base.items():
            row.setdefault(k, v)
        for k, v in conn.items():
            if _scalar(v):
                row[k if k not in ("seed",) else f"connectivity.{k}"] = v
        for k, v in m.items():
            if _scalar(v) and k != "connectivity":
                row[k] = v
        for w, v in (m.get("weight_change_by_weight") or {}).items():  # ||dW_h|| beside Eq. 4's total
            if _scalar(v):
                row[f"weight_change_{w}"] = v
        if row.get("rank") is None and row["structure"] == "svd":
            row["rank"] = row.get("n_hidden")  # rank=None keeps the full draw
        row["diverged"] = bool(m.get("diverged", False))
        if settings.get("probe_trials") is not None:
            row["probe_trials"] = settings["probe_trials"]
        row["steps"] = metrics.get("steps")
        origin = metrics.get("reused_from")
        if isinstance(origin, dict):  # trained once by another part (rlnet.experiments.reuse)
            row["reused_from"] = f"{origin.get('part')}:{origin.get('run_id')}"
        if e < len(tr_members) and isinstance(tr_members[e], dict):
            for k, series in tr_members[e].items():
                vals = [x for x in series if isinstance(x, (int, float))] if isinstance(series, list) else []
                if vals:
                    row[f"track_{k}_initial"], row[f"track_{k}_final"] = vals[0], vals[-1]
        rows.append(row)
    return rows


def rows_from_db(path: str | Path) -> list[dict[str, Any]]:
    """Rows of every finished run (``ok`` or ``diverged``) of a sweep's SQLite results table."""
    from rlnet.experiments.results_db import ResultsDB

    out = []
    for r in ResultsDB(path).rows():
        if r["status"] in ("ok", "diverged") and r["metrics"]:
            out += network_rows(r["metrics"], r["sweep"], r["run_id"], r["params"])
    return out


def rows_from_csv(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(newline="") as fh:
        return [{k: parse_cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows from a results table (``.db``), a CSV written by :func:`write_csv`, or a directory of
    such CSVs (the paper's tables; if it holds none, every ``results.db`` below it)."""
    path = Path(path)
    if path.is_dir():
        tables = sorted(path.glob("*.csv"))
        if tables:  # shards of one part may overlap (a shared table): each network once
            rows = {_identity(r): r for t in tables for r in rows_from_csv(t) if "part" in r}
            return list(rows.values())
        return [r for db in sorted(path.rglob("results.db")) for r in rows_from_db(db)]
    if path.suffix.lower() == ".csv":
        return rows_from_csv(path)
    if path.is_file():
        return rows_from_db(path)
    raise ValueError(f"results {path} does not exist")


def _identity(r: dict[str, Any]) -> tuple:
    """A network: its part, its run and its index among the run's members."""
    return (r.get("part"), r.get("run_id"), r.get("member"))


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return "" if v is None else v


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """One CSV row per network; columns :data:`LEAD` first, then the rest sorted."""
    keys = [k for k in LEAD if any(k in r for r in rows)]
    keys += sorted({k for r in rows for k in r} - set(keys))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows({k: _cell(r.get(k)) for k in keys} for r in rows)
    tmp.replace(path)
    return path


def dumps(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=1, default=str)
