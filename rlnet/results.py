"""Writing a run's results: ``metrics.json`` atomically, and the table printed at the end."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from rlnet.atomic import atomic_file


def _clean(v: Any) -> Any:
    """JSON-safe values: tensors and numpy scalars to Python, non-finite floats to ``None``."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json_atomic(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` to ``path`` as JSON, all or nothing (:func:`rlnet.atomic.atomic_file`): a reader
    never sees a half-written file, and a crash mid-write leaves the previous file (or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w") as f:
        json.dump(_clean(data), f, indent=2, sort_keys=False)
    return path


#: The one list of per-network measure names a ``metrics.json`` member holds and the experiment
#: tools read (the sweep's per-run summaries, ``rlnet report``'s cells and tests), in the paper's order.
MEASURE_NAMES = ("weight_change_norm", "representation_alignment", "kernel_alignment", "sign_similarity",
                 "final_loss", "accuracy", "initial_eigenvalue_effective_rank",
                 "initial_singular_value_effective_rank")
MEASURE_COLUMNS = MEASURE_NAMES[:6]  # what a fit prints and summarises (measured at its end)


def format_table(members: list[dict], columns: tuple[str, ...] = MEASURE_COLUMNS) -> str:
    """A readable fixed-width table, one row per network; ``seed`` and ``connectivity`` columns only
    when some member has them (a module rlnet did not write has neither)."""
    cols = [c for c in columns if any(c in m for m in members)]
    ident = [c for c in ("seed", "connectivity") if any(c in m for m in members)]
    head = ["member", *ident, *cols, "diverged"]
    rows = []
    for i, m in enumerate(members):
        conn = m.get("connectivity", {})
        desc = conn.get("name", "") + "".join(
            f" {k}={conn[k]}" for k in ("rank",) if k in conn and conn[k] is not None)
        known = {"seed": str(m.get("seed", "-")), "connectivity": desc}
        vals = [f"{m[c]:.4f}" if isinstance(m.get(c), float) else str(m.get(c, "-")) for c in cols]
        rows.append([str(i), *(known[c] for c in ident), *vals, str(m.get("diverged", False))])
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]
    fmt = lambda r: "  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows)])
