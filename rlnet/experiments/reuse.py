"""A network that two parts of the paper ask for, trained once.

Figs. 14/15 track the kernel of the very networks that Fig. 1 trains on sMNIST (the same config with
``callbacks/kernel_tracking.yaml`` added), and Fig. 3C's random full-rank students are Fig. 1's
rank-300 sMNIST networks. A callback that only observes changes no weight and no final measure
(``tests/test_callbacks_generic.py::test_callbacks_never_change_training``), so such a network needs
training once: a part that declares ``reuse: {part: SOURCE, networks: K}`` in ``sweeps/paper/parts.yaml``
takes each finished run of SOURCE whose training config equals one of its own runs' into its own
results table before its sweep starts, and the sweep trains only the rest (a finished run never
runs again). The row keeps the part's own run id and parameters (its variant, its place in the
claims), the source run's measures less what the instruments added (the tracked series), and says
where it came from (``metrics.reused_from``; the table's ``reused_from`` column).

The training config (:func:`training_key`) is the run's merged config
(:func:`rlnet.experiments.packing.resolve_config`) less the instruments (:data:`INSTRUMENTS`) and the
overrides aimed at them, with each structure in one spelling (``Connectivity.canonical_args``: an
SVD rank equal to N is the full draw). Everything else, the laziness settings included, must be
equal, so equal keys give equal training and equal final measures. A run whose config cannot be
read that way (an argument other than ``--config FILE`` and ``--key=value``) is never reused.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

#: Callbacks that only observe (they draw no training randomness, consume no training batch and
#: change no module state: tests/test_callbacks_generic.py), by the class paths a config names.
INSTRUMENTS = ("rlnet.callbacks.KernelTrackingCallback", "rlnet.callbacks.kernel_tracking.KernelTrackingCallback")
#: What the instruments add to a run's ``metrics.json``.
INSTRUMENT_KEYS = ("tracking",)
_CALLBACK_OVERRIDE = "trainer.callbacks."


def _is_instrument(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("class_path") in INSTRUMENTS


def _canonical_structure(section: Any, n: Any) -> Any:
    """A connectivity section (``{class_path, init_args}``) in the one spelling its class gives it."""
    from rlnet.experiments.packing import structure_class

    if not isinstance(section, dict) or not isinstance(n, int) or isinstance(n, bool):
        return section
    cls, init = structure_class(section.get("class_path")), section.get("init_args")
    if cls is None or not isinstance(init, dict):
        return section
    canon = getattr(cls, "canonical_args", None)
    return {**section, "init_args": canon(init, n)} if callable(canon) else section


def _callback_overrides(argv: list[str]) -> tuple[list[str], list[tuple[int, str, str]]]:
    """``argv`` without its ``--trainer.callbacks.*`` overrides, and those overrides as
    ``(position, name, value)``: jsonargparse applies such an override to the last callback named by
    then, which the merged config alone cannot say (the planner may even file it as a dict)."""
    i = argv.index("fit") + 1
    kept, found = argv[:i], []
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("--" + _CALLBACK_OVERRIDE):
            if "=" in tok:
                name, value = tok[2:].split("=", 1)
                i += 1
            elif i + 1 < len(argv):
                name, value = tok[2:], argv[i + 1]
                i += 2
            else:
                return argv, []  # a flag without a value: left for resolve_config to refuse
            found.append((len(kept), name, value))
            continue
        kept.append(tok)
        i += 1
    return kept, found


def training_key(argv: list[str]) -> str | None:
    """What decides a run's networks and their final measures, as one string; ``None`` if its
    argument list cannot be read without running it (the run is then never reused)."""
    from rlnet.experiments.packing import APPLIED_BY_THE_RUN, resolve_config

    if "fit" not in argv:
        return None
    argv, aimed = _callback_overrides(argv)
    got = resolve_config(argv)
    if got is None:
        return None
    prefix, cfg = got
    cfg = copy.deepcopy(cfg)
    if cfg.get(APPLIED_BY_THE_RUN):  # any other override the planner could not place: not comparable here
        return None
    trainer = cfg.get("trainer") if isinstance(cfg.get("trainer"), dict) else {}
    # jsonargparse's order: `callbacks`, then what every `callbacks+` appended.
    callbacks = [*(trainer.pop("callbacks", None) or []), *(trainer.pop("callbacks+", None) or [])]
    if any(not isinstance(c, dict) for c in callbacks):
        return None
    configs = [i for i, t in enumerate(argv) if t == "--config" or t.startswith("--config=")]
    kept = []
    for at, name, value in aimed:
        # after every config, `--trainer.callbacks.init_args.X v` sets X of the last callback
        if not (configs and at > configs[-1] and callbacks and _is_instrument(callbacks[-1])):
            kept.append([name, value])
    if trainer or callbacks:
        cfg["trainer"] = {**trainer, "callbacks": [c for c in callbacks if not _is_instrument(c)]}
    init = (cfg.get("model") or {}).get("init_args") if isinstance(cfg.get("model"), dict) else None
    if isinstance(init, dict):
        n = init.get("n_hidden")
        if "connectivity" in init:
            init["connectivity"] = _canonical_structure(init["connectivity"], n)
        if isinstance(init.get("connectivities"), list):
            init["connectivities"] = [_canonical_structure(c, n) for c in init["connectivities"]]
    return json.dumps([prefix[1:], cfg, kept], sort_keys=True, default=str)  # prefix[0]: the interpreter


def without_instruments(metrics: dict, source: str, run_id: str, run_dir: str | None) -> dict:
    """A source run's ``metrics.json`` as the run without the instruments would have written it:
    the tracked series and the instruments' config entries dropped, its origin named."""
    out = {k: copy.deepcopy(v) for k, v in metrics.items() if k not in INSTRUMENT_KEYS}
    trainer = (out.get("config") or {}).get("trainer") if isinstance(out.get("config"), dict) else None
    if isinstance(trainer, dict) and isinstance(trainer.get("callbacks"), list):
        trainer["callbacks"] = [c for c in trainer["callbacks"] if not _is_instrument(c)]
    out["reused_from"] = {"part": source, "run_id": run_id, "run_dir": run_dir}
    return out


def matches(runs: list, source_runs: list) -> dict[str, Any]:
    """``{run_id: source run}``: each run whose training key equals a source run's."""
    by_key: dict[str, Any] = {}
    for s in source_runs:
        k = training_key(s.argv)
        if k is not None:
            by_key.setdefault(k, s)
    out = {}
    for r in runs:
        k = training_key(r.argv)
        if k is not None and k in by_key:
            out[r.run_id] = by_key[k]
    return out


def reuse_finished(sweep_file: str | Path, out: Path, source_sweep_file: str | Path, source_out: Path,
                   shard: tuple[int, int] = (0, 1)) -> tuple[int, int]:
    """Record in ``OUT/results.db`` every run of the sweep (its ``shard``) that a finished run of the
    source sweep (``SOURCE_OUT/results.db``, any shard) already trained. Returns ``(taken, waiting)``:
    rows taken now, and matched runs whose source has not finished (the sweep trains those itself)."""
    from rlnet.experiments.results_db import FINISHED, ResultsDB
    from rlnet.experiments.sweep import _hash_of, _shard, load_sweep, plan

    sweep, source = load_sweep(sweep_file), load_sweep(source_sweep_file)
    runs = _shard(plan(sweep), shard)
    pairs = matches(runs, plan(source))
    if not pairs:
        return 0, 0
    src_db = source_out / "results.db"
    finished = {_hash_of(r["run_id"]): r for r in ResultsDB(src_db).rows(source.name)
                if r["status"] in FINISHED and r["metrics"]} if src_db.is_file() else {}
    db = ResultsDB(out / "results.db")
    done = {_hash_of(i) for i in db.finished_ids(sweep.name)}
    taken = waiting = 0
    for run in runs:
        src = pairs.get(run.run_id)
        if src is None or _hash_of(run.run_id) in done:
            continue
        row = finished.get(_hash_of(src.run_id))
        if row is None:
            waiting += 1
            continue
        metrics = without_instruments(row["metrics"], source.name, row["run_id"], row["run_dir"])
        db.record(run.run_id, sweep.name, run.params, row["status"], run_dir=row["run_dir"], metrics=metrics)
        taken += 1
    return taken, waiting
