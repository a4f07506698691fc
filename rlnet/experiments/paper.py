"""``python -m rlnet paper {status,run,export,report}``: the whole paper as a sum of parts.

The parts are declared in ``sweeps/paper/parts.yaml``: one sweep file each (a figure or a panel), with its
expected number of networks and the sizes the wall-time estimate scales from. ``run`` runs each part
through the sweep driver (``rlnet sweep FILE --out OUT/PART --shard I/N --jobs J``: resumable, a
finished run never runs again), then writes the part's networks to ``TABLES/PART.csv``
(``PART.I-of-N.csv`` for a shard): one row per network (:mod:`rlnet.experiments.network_table`),
small enough to commit as soon as the part ends. A part that declares ``reuse`` runs after the part
it names and first takes that part's finished networks that are also its own (:mod:`rlnet.experiments.reuse`):
each network is trained once. ``export`` writes the tables of what
has finished without running anything. ``report`` merges every table there is, writes
``networks.csv``, the parts' status, the table of claims (:mod:`rlnet.experiments.claims`) and one
figure per paper figure that has rows (``figures/figNN.png``, :mod:`rlnet.experiments.paper_figures`),
and names the parts and figures still missing. ``status`` prints the parts, what is done and the estimates.

Estimates are estimates: the measured wall time of the Fig. 1 Neurogym grid on the 2-core machine
(``reference`` in the file) scaled by networks x steps x N^2 x seq_len x batch.
"""

from __future__ import annotations

import calendar
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlnet.experiments.sweep import parse_shard

ROOT = Path(__file__).resolve().parents[2]  # the checkout: sweeps/ and configs/ live there
PAPER_FILE = "sweeps/paper/parts.yaml"


@dataclass
class Part:
    name: str
    sweep: str
    figure: str
    networks: int
    steps: int
    n_hidden: list[int] = field(default_factory=list)
    seq_len: int | None = None
    batch: int | None = None
    model: str = "rnn"
    prepare: dict[str, Any] | None = None
    max_members: int | None = None  # networks per packed process at most (the sweep driver's default if None)
    reuse: list[dict[str, Any]] = field(default_factory=list)  # [{part, networks}]: rlnet.experiments.reuse

    @property
    def trained(self) -> int:
        """Networks this part trains itself: its networks less those other parts train for it."""
        return self.networks - sum(int(r["networks"]) for r in self.reuse)


def _resolve(path: str | Path) -> Path:
    """``path`` as given if it exists (relative to the working directory), else in the checkout."""
    p = Path(path)
    return p if p.exists() or p.is_absolute() else ROOT / p


def _parse_reuse(raw: Any, networks: int, where: str) -> list[dict[str, Any]]:
    """``reuse``: one ``{part: NAME, networks: K}`` or a list of them, each part once, the Ks summing
    to at most the part's networks (``ValueError`` otherwise)."""
    items = [] if raw is None else [raw] if isinstance(raw, dict) else raw
    ok = isinstance(items, list) and all(
        isinstance(r, dict) and isinstance(r.get("part"), str) and isinstance(r.get("networks"), int)
        and not isinstance(r.get("networks"), bool) and r["networks"] >= 1 for r in items)
    if not ok or sum(r["networks"] for r in items) > networks or len({r["part"] for r in items}) != len(items):
        raise ValueError(f"{where} must be a list of {{part: NAME, networks: K}}, each part once, each K >= 1, "
                         f"the Ks at most the part's {networks} networks; got {raw!r}")
    return [{"part": r["part"], "networks": r["networks"]} for r in items]


def load_paper(path: str | Path = PAPER_FILE) -> tuple[dict[str, Any], list[Part]]:
    """The reference rate and the parts of ``sweeps/paper/parts.yaml`` (``ValueError`` names a bad field)."""
    p = _resolve(path)
    if not p.is_file():
        raise ValueError(f"paper file {p} does not exist")
    raw = yaml.safe_load(p.read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get("parts"), list):
        raise ValueError(f"paper file {p}: needs 'reference' and a list 'parts'")
    parts = []
    for i, d in enumerate(raw["parts"]):
        missing = [k for k in ("name", "sweep", "figure", "networks", "steps") if k not in d]
        if missing:
            raise ValueError(f"paper file {p}: parts[{i}] lacks {missing}")
        n = d.get("n_hidden", [])
        cap = d.get("max_members")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"paper file {p}: parts[{i}].max_members must be an integer >= 1, got {cap!r}")
        reuse = _parse_reuse(d.get("reuse"), int(d["networks"]), f"paper file {p}: parts[{i}].reuse")
        parts.append(Part(d["name"], d["sweep"], str(d["figure"]), int(d["networks"]), int(d["steps"]),
                          [int(x) for x in (n if isinstance(n, list) else [n])], d.get("seq_len"), d.get("batch"),
                          d.get("model", "rnn"), d.get("prepare"), cap, reuse))
    names = [q.name for q in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"paper file {p}: part names repeat")
    by_name = {q.name: q for q in parts}
    for q in parts:
        for r in q.reuse:
            src = by_name.get(r["part"])
            if src is None or src is q or src.reuse:
                raise ValueError(f"paper file {p}: part {q.name} reuses {r['part']!r}, which must be another "
                                 "part that reuses none itself")
    return raw.get("reference") or {}, parts


def work_in_grids(part: Part, ref: dict[str, Any]) -> float | None:
    """The part's work in units of the reference grid: networks trained x steps x N^2 x seq_len x batch
    over the reference's (the recurrent matmuls forward and back, which dominate an RNN step; networks
    another part trains for it count there); None for parts that are not RNNs."""
    if part.model != "rnn" or not part.n_hidden or part.seq_len is None or part.batch is None:
        return None
    n2 = sum(n * n for n in part.n_hidden) / len(part.n_hidden)
    work = part.trained * part.steps * n2 * part.seq_len * part.batch  # reused networks cost nothing here
    return work / (ref["networks"] * ref["steps"] * ref["n_hidden"] ** 2 * ref["seq_len"] * ref["batch"])


def estimate_minutes(part: Part, ref: dict[str, Any], work: float | None = None) -> tuple[float, float] | None:
    """(low, high) minutes: the reference wall time times the part's share of network-steps x N^2 x
    seq_len x batch (``work``, else :func:`work_in_grids`); None for parts that are not RNNs (no
    measured rate)."""
    share = work_in_grids(part, ref) if work is None else work
    if share is None:
        return None
    lo, hi = ref["minutes"]
    return lo * share, hi * share


def projection_minutes(part: Part, parts: list[Part], walls: dict[str, float], done: dict[str, int]
                       ) -> tuple[float, str] | None:
    """(minutes, source) for a part with no wall time yet: the measured wall time of a finished part
    of the same shape (model, N, seq_len, batch) scaled by networks x steps; None if there is none.
    Closer than the reference grid's rate where the shape differs from it (sMNIST's 28 x 200)."""
    if part.name in walls:
        return None
    for q in parts:
        same = (q.model, q.n_hidden, q.seq_len, q.batch) == (part.model, part.n_hidden, part.seq_len, part.batch)
        # a part that trains none of its networks (all reused) gives no rate
        if same and q.name != part.name and q.name in walls and done.get(q.name, 0) >= q.networks and q.trained:
            share = part.trained * part.steps / (q.trained * q.steps)
            return walls[q.name] / 60 * share, q.name
    return None


def _table_name(part: str, shard: tuple[int, int]) -> str:
    return f"{part}.csv" if shard == (0, 1) else f"{part}.{shard[0]}-of-{shard[1]}.csv"


def _wall_name(part: str, shard: tuple[int, int]) -> str:
    return _table_name(part, shard)[: -len(".csv")] + ".wall.json"


def record_wall_time(tables: Path, part: str, shard: tuple[int, int], jobs: int, started: float,
                     ended: float, networks: int) -> Path:
    """Append one session's wall time of a part (or shard) to ``TABLES/PART.wall.json``: a resumed part
    adds a session, so the sum over sessions is the part's wall time however often it was stopped."""
    path = tables / _wall_name(part, shard)
    old: list[dict[str, Any]] = []
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
            old = [s for s in raw.get("sessions", []) if isinstance(s, dict)] if isinstance(raw, dict) else []
        except (ValueError, OSError):
            old = []  # a damaged record is replaced, never trusted
    old.append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "wall_s": round(ended - started, 1), "jobs": jobs, "shard": f"{shard[0]}/{shard[1]}",
                "networks_in_table": networks, "cpu_count": os.cpu_count(), "machine": platform.machine(),
                "cpu_model": _cpu_model(), "fused_kernels": _fused_kernels(), **_torch_build()})
    tables.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"part": part, "sessions": old}, indent=1) + "\n")
    return path


def _cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), so that wall times from different hosts are told apart."""
    from rlnet.nets.fused import cpuinfo_line
    return cpuinfo_line("model name").partition(":")[2].strip() or platform.processor()


def _fused_kernels() -> bool:
    """Whether this host runs the fused C kernels (AVX-512) or the torch path: their speed and their
    float32 rounding differ, and a network on the edge of divergence can end differently."""
    from rlnet.nets import fused
    return fused.library() is not None


def _torch_build() -> dict[str, str]:
    """torch's version and the SIMD level its CPU kernels dispatch to (the loss's exp and log, the
    kernels' products): two runs that differ here may round differently (a first run and its
    quiet re-timing differed in a few networks on an unrecorded host: paper/checks/)."""
    import torch
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _wall_records(folder: Path | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``(file name, part, sessions)`` of every readable ``*.wall.json`` in ``folder``, each session as
    ``{"wall_s": float, "started": epoch seconds or None, "shard": "I/N"}``. A file that cannot be read
    whole (bad JSON, a session without its seconds, a start time that does not parse) is skipped:
    a damaged record is never trusted in part."""
    out: list[tuple[str, str, list[dict[str, Any]]]] = []
    if folder is None or not folder.is_dir():
        return out
    for f in sorted(folder.glob("*.wall.json")):
        try:
            raw = json.loads(f.read_text())
            sessions = [{"wall_s": float(s["wall_s"]),
                         "started": calendar.timegm(time.strptime(str(s["started"]), "%Y-%m-%dT%H:%M:%SZ"))
                         if s.get("started") else None,
                         "shard": str(s.get("shard") or "0/1")} for s in raw["sessions"]]
            out.append((f.name, str(raw["part"]), sessions))
        except (ValueError, OSError, KeyError, TypeError, AttributeError):
            continue
    return out


def wall_times(tables: Path) -> dict[str, float]:
    """Seconds per part: every session of every shard summed (``*.wall.json``; unreadable files skipped)."""
    out: dict[str, float] = {}
    for _, part, sessions in _wall_records(tables):
        out[part] = out.get(part, 0.0) + sum(s["wall_s"] for s in sessions)
    return out


def busy_seconds(tables: Path) -> float:
    """Seconds the machine was busy with the parts: the union of every session's interval
    (``started`` .. ``started + wall_s``), so that parts run at the same time on one machine count
    once, where :func:`wall_times` counts each; a session with no start time counts whole."""
    sessions = [s for _, _, ss in _wall_records(tables) for s in ss]
    spans = sorted((s["started"], s["started"] + s["wall_s"]) for s in sessions if s["started"] is not None)
    busy, end = 0.0, float("-inf")
    for a, b in spans:
        busy += max(0.0, b - max(a, end))
        end = max(end, b)
    return busy + sum(s["wall_s"] for s in sessions if s["started"] is None)


def shard_walls(folder: Path | None) -> dict[tuple[str, str], tuple[float, str, float]]:
    """``{(part, shard): (seconds, file name, first session's start)}`` of every ``*.wall.json`` in
    ``folder`` (sessions summed; ``shard`` as ``I/N``, ``0/1`` for a whole part). Of two records of the
    same part and shard, the later one (by its first session's start) counts, never the faster."""
    out: dict[tuple[str, str], tuple[float, str, float]] = {}
    for name, part, sessions in _wall_records(folder):
        if not sessions:
            continue
        key = (part, sessions[0]["shard"])
        started = sessions[0]["started"] if sessions[0]["started"] is not None else float("-inf")
        if key not in out or started >= out[key][2]:
            out[key] = (sum(s["wall_s"] for s in sessions), name, started)
    return out


def retimed_walls(tables: Path, checks: Path | None) -> dict[str, tuple[float, list[str], list[str]]]:
    """``{part: (seconds, shards re-timed, files)}``: the part's wall time with the shards run again on a
    quiet machine (their networks into a table of their own, their wall time into ``CHECKS/*.wall.json``,
    the record ``paper run`` writes) in place of the first runs' (``TABLES``). A whole-part re-timing
    (shard ``0/1``) replaces every shard; a shard re-timing replaces that shard only, and only where
    the tables hold that shard."""
    first, again = shard_walls(tables), shard_walls(checks)
    out: dict[str, tuple[float, list[str], list[str]]] = {}
    for part in sorted({p for p, _ in again}):
        if (part, "0/1") in again:
            secs, name, _ = again[(part, "0/1")]
            out[part] = (secs, ["0/1"], [name])
            continue
        mine = {sh: v[0] for (p, sh), v in first.items() if p == part}
        redo = {sh: v for (p, sh), v in again.items() if p == part and sh in mine}
        if redo:
            total = sum(redo[sh][0] if sh in redo else secs for sh, secs in mine.items())
            out[part] = (total, sorted(redo), [redo[sh][1] for sh in sorted(redo)])
    return out


def _sweep_main():
    from rlnet.experiments.sweep import main
    return main


def _shard_hashes(sweep: str | Path | None, shard: tuple[int, int]) -> set[str] | None:
    """The run hashes of ``shard`` of the sweep's plan; ``None`` (keep every run) for the whole sweep
    or a sweep that cannot be planned without more arguments (a random one without ``run_cap``)."""
    if sweep is None or shard[1] == 1:
        return None
    from rlnet.experiments.sweep import _hash_of, _shard, load_sweep, plan

    try:
        return {_hash_of(r.run_id) for r in _shard(plan(load_sweep(_resolve(str(sweep)))), shard)}
    except ValueError:
        return None


def export_part(part: str, out: Path, tables: Path, shard: tuple[int, int], sweep: str | Path | None = None) -> int:
    """Write the shard's finished networks of the part to its table (the shard's own runs only, where
    ``sweep`` is given: shards run on one machine share one results table); returns how many."""
    from rlnet.experiments.network_table import rows_from_db, write_csv
    from rlnet.experiments.sweep import _hash_of

    db = out / part / "results.db"
    rows = rows_from_db(db) if db.is_file() else []
    keep = _shard_hashes(sweep, shard)
    if keep is not None:
        rows = [r for r in rows if _hash_of(str(r.get("run_id", ""))) in keep]
    if rows:
        write_csv(rows, tables / _table_name(part, shard))
    return len(rows)


def networks_done(tables: Path) -> dict[str, int]:
    """Networks per part in the tables (shards merged; a network counted once)."""
    from collections import Counter

    from rlnet.experiments.network_table import load_rows  # each network once, shards merged

    if not (tables.is_dir() and any(tables.glob("*.csv"))):
        return {}
    return dict(Counter(str(r.get("part")) for r in load_rows(tables)))


def _retimed_cell(entry: tuple[float, list[str], list[str]]) -> str:
    secs, shards, _ = entry
    return f"{secs / 60:.1f}" + ("" if shards == ["0/1"] else f" (shard {', '.join(shards)} again)")


def status_table(parts: list[Part], ref: dict[str, Any], tables: Path, checks: Path | None = None) -> str:
    """The parts: networks done, the estimate and the measured wall time (every session and shard summed);
    with ``checks``, a column of the parts timed again on a quiet machine (:func:`retimed_walls`) and the
    whole run's time with those in place of the first runs'."""
    done = networks_done(tables)
    walls = wall_times(tables)
    again = retimed_walls(tables, checks)
    lines = ["| part | figure | networks done / expected | work (reference grids) "
             "| estimate (minutes, 2-core machine) | measured (minutes) |"
             + (" re-timed, quiet machine (minutes) |" if again else ""),
             "|---|---|---|---|---|---|" + ("---|" if again else "")]
    grids = 0.0
    total = [0.0, 0.0]
    rest = [0.0, 0.0]  # the parts not measured yet: projected where a same-shape part ran, else estimated
    for p in parts:
        work = work_in_grids(p, ref)
        est = estimate_minutes(p, ref, work)
        grids += work or 0.0
        if est:
            total = [total[0] + est[0], total[1] + est[1]]
        proj = projection_minutes(p, parts, walls, done)
        if p.name not in walls:
            lo_hi = (proj[0], proj[0]) if proj else est
            if lo_hi:
                rest = [rest[0] + lo_hi[0], rest[1] + lo_hi[1]]
        n = done.get(p.name, 0)
        mark = "" if n >= p.networks else (" (missing)" if n == 0 else " (partial)")
        shared = (f"{p.networks - p.trained} trained by {', '.join(r['part'] for r in p.reuse)}" if p.reuse else "")
        lines.append(f"| {p.name} | {p.figure} | {n} / {p.networks}{mark}" + (f" ({shared})" if shared else "")
                     + " | " + (f"{work:.2f}" if work is not None else "") + " | "
                     + (f"{est[0]:.1f}-{est[1]:.1f}" if est else f"no measured rate ({p.model})")
                     + (f"; {proj[0]:.0f} scaled from {proj[1]}'s measured time" if proj else "") + " | "
                     + (f"{walls[p.name] / 60:.1f}" if p.name in walls else "") + " |"
                     + ((f" {_retimed_cell(again[p.name])} |" if p.name in again else " |") if again else ""))
    measured = sum(walls.get(p.name, 0.0) for p in parts)
    ratio = ""
    if measured and ref.get("minutes"):
        lo, hi = ref["minutes"]
        ratio = f"; {measured / 60 / hi:.1f}-{measured / 60 / lo:.1f} x the reference grid's {lo}-{hi} min"
    lines.append(f"| all parts | | | {grids:.2f} | {total[0]:.0f}-{total[1]:.0f} "
                 f"({total[0] / 60:.1f}-{total[1] / 60:.1f} h, RNN parts) | "
                 f"{measured / 60:.0f} ({measured / 3600:.1f} h, the parts measured{ratio}) |"
                 + (" |" if again else ""))
    busy = busy_seconds(tables) if measured else 0.0
    if busy and busy < measured - 60:
        lines.append("\nMachine time, if every part ran on this one machine: "
                     f"{busy / 60:.0f} minutes ({busy / 3600:.1f} h) from the first session's start "
                     f"to the last one's end, less the idle gaps: parts that ran at the same time on one machine "
                     f"count once here and each in full above ({measured / 60:.0f}), where each ran slower for "
                     "sharing the cores.")
    swapped = [p.name for p in parts if p.name in again and p.name in walls]
    if swapped:
        with_again = measured + sum(again[n][0] - walls[n] for n in swapped)
        r = ""
        if ref.get("minutes"):
            lo, hi = ref["minutes"]
            r = f", {with_again / 60 / hi:.1f}-{with_again / 60 / lo:.1f} x the reference grid"
        where = checks if checks is None or not checks.is_relative_to(Path.cwd()) else checks.relative_to(Path.cwd())
        plural = "s" if len(swapped) > 1 else ""
        files = ", ".join(f for n in swapped for f in again[n][2])
        grid_parts = [str(n) for n in ref.get("grid_parts") or []]
        grid_s = sum(again[n][0] if n in again else walls.get(n, 0.0) for n in grid_parts)
        if grid_parts and all(n in walls for n in grid_parts) and grid_s > 0:
            r += (f"; {with_again / grid_s:.1f} x the reference grid as measured here ({' + '.join(grid_parts)}: "
                  f"{grid_s:.0f} s)")
        lines.append(f"\nRe-timed: {len(swapped)} part{plural} ({', '.join(swapped)}) ran again, in whole or a shard, "
                     f"with nothing else on the machine ({files} in {where}); with those times in "
                     f"place of their first runs', the parts measured take {with_again / 60:.0f} minutes "
                     f"({with_again / 3600:.1f} h{r}). Their tables stay the first runs'.")
    if grids:
        reused = sum(p.networks - p.trained for p in parts)
        lines.append(f"\nWork: the RNN parts are {grids:.1f} times the reference grid's work, so at the "
                     f"grid's own rate they alone take {grids:.1f} times its wall time; the parts with no "
                     "estimate and each process's start and final kernels come on top."
                     + (f" {reused} networks that two parts ask for are trained once and counted in the part "
                        "that trains them ('reuse' in the paper file)." if reused else ""))
    if any(p.name not in walls for p in parts):
        lo, hi = measured / 60 + rest[0], measured / 60 + rest[1]
        lines.append(f"\nThe whole paper, projected: {lo:.0f}-{hi:.0f} minutes ({lo / 60:.1f}-{hi / 60:.1f} h): "
                     f"the {measured / 60:.0f} measured plus {rest[0]:.0f}-{rest[1]:.0f} for the parts not run yet "
                     "(scaled from a measured part of the same shape where one ran, else the estimate; "
                     "parts with no estimate count 0).")
    return "\n".join(lines)


def missing_parts(parts: list[Part], tables: Path) -> list[str]:
    """Parts with fewer networks than expected: ``name`` if none, ``name (k of n)`` if some."""
    done = networks_done(tables)
    return [p.name if not done.get(p.name) else f"{p.name} ({done[p.name]} of {p.networks})"
            for p in parts if done.get(p.name, 0) < p.networks]


def sources_first(parts: list[Part]) -> list[Part]:
    """The parts in their order, except that a part runs after the part whose networks it reuses."""
    names = {p.name for p in parts}
    later = [p for p in parts if any(r["part"] in names for r in p.reuse)]
    return [p for p in parts if p not in later] + later


def _take_reused(p: Part, source: Part, networks: int, out: Path, shard: tuple[int, int], dry_run: bool) -> None:
    """Put the networks that ``source`` trained for ``p`` into ``p``'s results table (:mod:`reuse`)."""
    if dry_run:
        print(f"# {p.name}: {networks} of its networks are {source.name}'s (trained once): "
              f"taken from {out / source.name} where finished there", flush=True)
        return
    from rlnet.experiments.reuse import reuse_finished

    taken, waiting = reuse_finished(_resolve(p.sweep), out / p.name, _resolve(source.sweep), out / source.name,
                                    shard)
    print(f"# {p.name}: {taken} runs taken from {source.name}'s finished networks (trained once)"
          + (f"; {waiting} are {source.name}'s but not finished in {out / source.name}: trained here" if waiting
             else ""), flush=True)


def run_parts(parts: list[Part], out: Path, tables: Path, jobs: int, shard: tuple[int, int], dry_run: bool,
              extra: Sequence[str] = (), every: list[Part] | None = None) -> int:
    """Each part through the sweep driver (a part after the part it reuses networks of), then its
    table. Returns the worst exit status."""
    sweep_main = _sweep_main()
    by_name = {p.name: p for p in (every or parts)}
    worst = 0
    for p in sources_first(parts):
        started = time.time()
        if p.prepare and not _resolve(p.prepare["creates"]).exists():
            cmd = [sys.executable if c in ("python", "python3") else c for c in p.prepare["command"]]
            print(f"# {p.name}: prepare ({p.prepare['creates']} missing): {' '.join(cmd)}", flush=True)
            if not dry_run:  # every shard that lacks it (the teacher is seeded: the same network each time)
                rc = subprocess.call(cmd)
                if rc != 0:
                    print(f"rlnet paper: part {p.name}: its preparation failed (exit status {rc}); skipped",
                          file=sys.stderr)
                    worst = max(worst, 1)
                    continue
        for r in p.reuse:
            _take_reused(p, by_name[r["part"]], int(r["networks"]), out, shard, dry_run)
        args = [str(_resolve(p.sweep)), "--out", str(out / p.name), "--shard", f"{shard[0]}/{shard[1]}",
                "--jobs", str(jobs), *extra]
        if p.max_members is not None:  # keeps each process of a long part within the ~2 h the issue allows
            args += ["--max_members", str(p.max_members)]
        if dry_run:
            args.append("--dry-run")
        print(f"# {p.name} ({p.figure}): rlnet sweep {' '.join(args)}", flush=True)
        rc = int(sweep_main(args) or 0)
        if rc == 2:  # a user error (bad file): one line already printed
            return 2
        worst = max(worst, rc)
        if not dry_run:
            n = export_part(p.name, out, tables, shard, p.sweep)
            wall = record_wall_time(tables, p.name, shard, jobs, started, time.time(), n)
            print(f"# {p.name}: {n} networks in {tables / _table_name(p.name, shard)}; wall time in {wall}",
                  flush=True)
        if rc == 130:  # interrupted (Ctrl-C, SIGTERM): what finished is in the table; start no other part
            return 130
    return worst


def export_parts(parts: list[Part], out: Path, tables: Path, shard: tuple[int, int]) -> int:
    """``paper export``: write each part's finished networks to its table without running anything (e.g.
    after a run was killed outright, or to commit a long part's rows before it ends); returns 0."""
    for p in parts:
        if (out / p.name / "results.db").is_file():
            n = export_part(p.name, out, tables, shard, p.sweep)
            print(f"# {p.name}: {n} networks in {tables / _table_name(p.name, shard)}", flush=True)
    return 0


def report(parts: list[Part], ref: dict[str, Any], tables: Path, out: Path, checks: Path | None = None) -> str:
    """Merge the tables; write networks.csv, parts.md, the claims (claims.md/.csv/.json) and one figure per
    paper figure with rows (figures/figNN.png, :mod:`rlnet.experiments.paper_figures`), listed with those
    not drawn in parts.md, claims.md and the returned Markdown."""
    from rlnet.experiments.claims import write_claims
    from rlnet.experiments.network_table import load_rows, write_csv
    from rlnet.experiments.paper_figures import markdown as figures_markdown
    from rlnet.experiments.paper_figures import write_figures

    rows = load_rows(tables) if tables.is_dir() and any(tables.glob("*.csv")) else []
    out.mkdir(parents=True, exist_ok=True)
    if rows:
        write_csv(rows, out / "networks.csv")
    missing = missing_parts(parts, tables)
    status = status_table(parts, ref, tables, checks)
    claims = write_claims(rows, out, missing)
    figures = figures_markdown(write_figures(rows, out / "figures", claims["results"]), rows, out)
    (out / "parts.md").write_text("## Parts of the paper run\n\n" + status + "\n\n" + figures)
    with (out / "claims.md").open("a") as fh:
        fh.write("\n" + figures)
    return (f"# The paper, claim by claim ({len(rows)} networks from {tables})\n\n"
            + claims["text"] + "\n## Parts of the paper run\n\n" + status + "\n\n" + figures)


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog="python -m rlnet paper", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("status", "run", "export", "report"))
    p.add_argument("--paper", default=PAPER_FILE, help="the list of parts (default sweeps/paper/parts.yaml)")
    p.add_argument("--parts", default=None, help="comma-separated part names (default: all)")
    p.add_argument("--out", default="results/paper", help="where the runs go (not committed)")
    p.add_argument("--tables", default="paper/tables", help="the per-network tables, one per part (commit these)")
    p.add_argument("--report", default="paper/report", help="where report writes")
    p.add_argument("--checks", default=None,
                   help="parts timed again on a quiet machine, CHECKS/*.wall.json (default: 'checks' beside --tables)")
    p.add_argument("--jobs", type=int, default=2, help="runs at once (one torch thread each)")
    p.add_argument("--shard", default="0/1", help="run only runs k with k %% N == I of every part")
    p.add_argument("--dry-run", action="store_true", help="list each part's commands and what is done; run nothing")
    return p


def main(args: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        a = parser.parse_args(list(sys.argv[1:] if args is None else args))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        ref, parts = load_paper(a.paper)
        every_part = parts  # the report is always of the whole paper, whichever parts ran
        if a.parts:
            want = [s.strip() for s in a.parts.split(",") if s.strip()]
            unknown = [w for w in want if w not in {p.name for p in parts}]
            if unknown:
                raise ValueError(f"unknown parts {unknown}; known: {[p.name for p in parts]}")
            parts = [p for p in parts if p.name in want]
        shard = parse_shard(a.shard)
        if a.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {a.jobs}")
        out, tables, rep = (Path(x).resolve() for x in (a.out, a.tables, a.report))
        checks = Path(a.checks).resolve() if a.checks else tables.parent / "checks"
        if a.command == "status":
            print(status_table(parts, ref, tables, checks))
            return 0
        if a.command == "report":
            print(report(parts, ref, tables, rep, checks))
            return 0
        if a.command == "export":
            rc = export_parts(parts, out, tables, shard)
        else:
            if not Path("configs").is_dir():  # the sweeps name configs/... relative to the checkout
                os.chdir(ROOT)
            rc = run_parts(parts, out, tables, a.jobs, shard, a.dry_run, every=every_part)
        if not a.dry_run and rc != 2:
            # The report follows the tables at once: a table committed without its report once left the
            # committed claims stale (the test that rebuilds them from the tables caught it in CI).
            report(every_part, ref, tables, rep, checks)
            print(f"# report: {rep / 'claims.md'} (from every table in {tables})", flush=True)
        return rc
    except ValueError as err:
        print(f"rlnet: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlnet paper: interrupted; run the same command again to finish what is missing", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
