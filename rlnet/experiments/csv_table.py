"""Results as CSV: one row a network or run, columns in first-seen order, cells read back as the
plain values they were written from (numbers, booleans, empty for none)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def parse_cell(v: str | None) -> Any:
    """A CSV cell as its value: ``""`` -> ``None``, ``true``/``false`` -> bool, ``3`` -> int,
    ``3.0`` / ``1e-3`` / ``nan`` -> float, anything else the text itself."""
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


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write ``rows`` (dicts) to ``path``; the header is every key in first-seen order."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path
