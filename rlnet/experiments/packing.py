"""Packing a sweep's runs into ensemble jobs: one process trains many runs, each as alone.

Two runs share a process when their resolved configs are equal except for the keys the model
declares per-member (:data:`rlnet.models.members.MEMBER_KEYS`, ``RNNModule.member_keys``: each member's seed and initial
structure). A run's config is resolved from its own argument list: the ``--config`` files it
names (YAML, merged in order) and its ``--key=value`` overrides (YAML values, applied in order),
the same order in which jsonargparse applies them. A run whose argument list holds anything else,
or whose model is not in :data:`PACKABLE`, runs alone (its own job, its own argument list).

Runs with another data seed (``data.init_args.seed``, ``seed_everything``) differ outside the
member keys, so they get separate jobs: every member of a job sees the one data stream it would
see alone.

A job's argument list is its first run's, plus the members of all its runs as one zipped
ensemble (``connectivities``, ``seeds``, ``pairing=zip``, ``n_members``); run ``k`` owns members
``slices[k]`` of the job's ``metrics.json``.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlnet.resources import resolve as resolve_shipped

#: Models whose members the packer may combine, by the class path a config names. A table, not an
#: import of whatever a config names.
PACKABLE = ("rlnet.models.RNNModule", "rlnet.models.rnn_module.RNNModule")
NULL_STRUCTURE = {"class_path": "rlnet.connectivity.Null"}
DEFAULT_MAX_MEMBERS = 20  # the grid's jobs: 1.45 GiB peak at N = 300
LIGHTNING_LOG_EVERY = 50  # Trainer(log_every_n_steps=None)'s


@dataclass
class Resolved:
    """What packing needs of one run."""

    key: str  # equal for runs that may share a process
    members: list[dict]  # [{"seed", "connectivity"}]
    cost: float  # network-steps: members x max_steps


@dataclass
class Job:
    """Runs trained by one process."""

    job_id: str
    runs: list  # list[rlnet.experiments.sweep.Run]
    slices: list[tuple[int, int]]
    argv: list[str]
    cost: float
    resolved: list = field(default_factory=list)  # list[Resolved | None], one per run

    @property
    def n_members(self) -> int:
        return self.slices[-1][1] if self.slices else 0

    def manifest(self) -> dict:
        return {"job_id": self.job_id, "argv": self.argv,
                "runs": [{"run_id": r.run_id, "params": r.params, "members": list(s)}
                         for r, s in zip(self.runs, self.slices, strict=True)]}


def _member_rules():
    from rlnet.models.members import MEMBER_KEYS, members_of  # RNNModule's own list, without torch

    return MEMBER_KEYS, members_of


def _set_dotted(cfg: dict, key: str, value: Any) -> bool:
    parts = key.split(".")
    d = cfg
    for p in parts[:-1]:
        nxt = d.get(p)
        if nxt is None:
            nxt = d[p] = {}
        if not isinstance(nxt, dict):
            return False
        d = nxt
    if parts[-1] == "class_path" and d.get("class_path") not in (None, value):
        return _switch_class(d, value, {})
    if parts[-1] in d and isinstance(d[parts[-1]], dict) and isinstance(value, dict):
        return _merge(d, {parts[-1]: value})
    d[parts[-1]] = value
    return True


def structure_class(class_path: Any) -> type | None:
    """A structure's class looked up in rlnet's own registry (``rlnet.connectivity``), never imported
    from what a config names; ``None`` for any other class path."""
    prefix = "rlnet.connectivity."
    if not isinstance(class_path, str) or not class_path.startswith(prefix):
        return None
    import rlnet.connectivity as structures

    cls = getattr(structures, class_path[len(prefix):], None)
    return cls if isinstance(cls, type) else None


def _accepted(class_path: Any) -> set[str] | None:
    """The arguments a structure's class accepts (:func:`structure_class`); ``None`` for any other
    class (the run then trains alone)."""
    cls = structure_class(class_path)
    return None if cls is None else set(inspect.signature(cls.__init__).parameters) - {"self"}


def _switch_class(section: dict, class_path: str, new_init: dict) -> bool:
    """A section's class replaced as jsonargparse does: the old ``init_args`` the new class accepts
    are kept, then the new ones applied."""
    accepted = _accepted(class_path)
    if accepted is None:
        return False
    old = section.get("init_args") or {}
    section["class_path"] = class_path
    section["init_args"] = {k: v for k, v in old.items() if k in accepted} if isinstance(old, dict) else {}
    return _merge(section["init_args"], new_init) if new_init else True


#: The packing key's entry for the overrides a run's own process applies (see :func:`resolve_config`).
APPLIED_BY_THE_RUN = "(overrides applied by the run)"


def _yaml_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def resolve_config(argv: list[str]) -> tuple[list[str], dict] | None:
    """``(prefix up to 'fit', merged config)`` of an ``rlnet fit`` argument list, or ``None`` when
    it holds anything but ``--config FILE`` and ``--key=value`` arguments."""
    if "fit" not in argv:
        return None
    i = argv.index("fit")
    prefix, rest = argv[:i + 1], argv[i + 1:]
    cfg: dict = {}
    k = 0
    while k < len(rest):
        at, tok = k, rest[k]
        if not tok.startswith("--"):
            return None
        if "=" in tok:
            name, value = tok[2:].split("=", 1)
            k += 1
        elif k + 1 < len(rest) and not rest[k + 1].startswith("--"):
            name, value = tok[2:], rest[k + 1]
            k += 2
        else:
            return None
        if name == "config":
            try:
                found = resolve_shipped(value)  # as `rlnet fit` finds it: here, or shipped with rlnet
                loaded = yaml.safe_load(Path(found if found is not None else value).read_text())
            except (OSError, yaml.YAMLError):
                return None
            if not isinstance(loaded, dict) or not _merge(cfg, loaded):
                return None
        elif not _set_dotted(cfg, name, _yaml_value(value)):
            if name.split(".", 1)[0] == "model":
                return None  # it might change what the members vary: the run trains alone
            # An override this planner cannot place (an element of a list, such as
            # `--trainer.callbacks.init_args.kernel_steps`) outside the model: the process applies it
            # itself, the same for every run of a job (a job's command is its first run's), so runs
            # share a job only with runs that give the same override at the same place.
            cfg.setdefault(APPLIED_BY_THE_RUN, []).append([at, name, value])
    return prefix, cfg


def _merge(into: dict, new: dict) -> bool:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            old_cp = into[key].get("class_path")
            if "class_path" in value and old_cp is not None and value["class_path"] != old_cp:
                rest = {k: v for k, v in value.items() if k not in ("class_path", "init_args")}
                if not _switch_class(into[key], value["class_path"], copy.deepcopy(value.get("init_args") or {})) \
                        or not _merge(into[key], rest):
                    return False
            elif not _merge(into[key], value):
                return False
        else:
            into[key] = copy.deepcopy(value)
    return True


def resolve(argv: list[str]) -> Resolved | None:
    """The packing key, members and cost of a run, or ``None`` if it must run alone."""
    got = resolve_config(argv)
    if got is None:
        return None
    prefix, cfg = got
    model = cfg.get("model")
    if not isinstance(model, dict) or model.get("class_path") not in PACKABLE:
        return None
    init = model.get("init_args") or {}
    if not isinstance(init, dict):
        return None
    keys, members_of = _member_rules()
    try:
        members = members_of(init)
    except (ValueError, TypeError):
        return None
    base = copy.deepcopy(cfg)
    base["model"]["class_path"] = "rlnet.models.RNNModule"
    for k in keys:
        (base["model"].get("init_args") or {}).pop(k, None)
    members = [{"seed": m["seed"], "connectivity": m["connectivity"] or NULL_STRUCTURE} for m in members]
    steps = (cfg.get("trainer") or {}).get("max_steps")
    steps = steps if isinstance(steps, int) and steps > 0 else 1
    key = json.dumps([prefix, base], sort_keys=True, default=str)
    return Resolved(key, members, float(len(members) * steps))


def make_job(runs: list, resolved: list[Resolved | None]) -> Job:
    """One job of ``runs`` (all with the same key, or one run that must run alone)."""
    if len(runs) == 1:
        r = resolved[0]
        n = len(r.members) if r is not None else 1
        return Job(runs[0].run_id, list(runs), [(0, n)], list(runs[0].argv), r.cost if r else 1.0, list(resolved))
    members, slices = [], []
    for r in resolved:
        assert r is not None
        slices.append((len(members), len(members) + len(r.members)))
        members += r.members
    argv = [*runs[0].argv,
            f"--model.init_args.connectivities={json.dumps([m['connectivity'] for m in members])}",
            f"--model.init_args.seeds={json.dumps([m['seed'] for m in members])}",
            "--model.init_args.pairing=zip", f"--model.init_args.n_members={len(members)}"]
    h = hashlib.sha1(json.dumps([r.run_id for r in runs]).encode()).hexdigest()[:10]
    return Job(f"job-{len(runs)}runs-{h}", list(runs), slices, argv, sum(r.cost for r in resolved), list(resolved))


def _split(costs: list[float], k: int) -> list[tuple[int, int]]:
    """Cut a list into ``k`` contiguous non-empty parts of nearly equal total cost."""
    n = len(costs)
    k = max(1, min(k, n))
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    cuts = [0]
    for j in range(1, k):
        target = prefix[-1] * j / k
        cuts.append(min(range(cuts[-1] + 1, n - (k - j) + 1), key=lambda c: abs(prefix[c] - target)))
    cuts.append(n)
    return list(itertools.pairwise(cuts))


def _part_costs(costs: list[float], k: int) -> list[float]:
    return [sum(costs[a:b]) for a, b in _split(costs, k)]


def makespan(costs: list[float], processes: int) -> float:
    """When the last of ``costs`` ends on a pool of ``processes`` workers that starts the longest job
    first, each on the worker that frees first (as the sweep runner does)."""
    free = [0.0] * max(1, processes)
    for c in sorted(costs, reverse=True):
        free.sort()
        free[0] += c
    return max(free)


def pack(runs: list, processes: int = 1, max_members: int = DEFAULT_MAX_MEMBERS, enabled: bool = True) -> list[Job]:
    """Jobs for ``runs`` (in plan order): compatible runs grouped, each group cut into parts of at most
    about ``max_members`` members and into enough parts that ``processes`` cores are busy, parts of
    equal network-steps, cut finer where whole rounds of jobs finish sooner (:func:`makespan`).
    Returned longest first (the order in which a pool should start them)."""
    resolved = [resolve(r.argv) if enabled else None for r in runs]
    groups: dict[str, list[int]] = {}
    alone: list[int] = []
    for i, r in enumerate(resolved):
        if r is None:
            alone.append(i)
        else:
            groups.setdefault(r.key, []).append(i)
    parts = {key: max(1, math.ceil(sum(len(resolved[i].members) for i in idx) / max_members))
             for key, idx in groups.items()}
    for key in parts:
        parts[key] = min(parts[key], len(groups[key]))
    # More parts, largest per-part cost first, until every core has one.
    while len(alone) + sum(parts.values()) < processes:
        open_ = [k for k in groups if parts[k] < len(groups[k])]
        if not open_:
            break
        k = max(open_, key=lambda k: sum(resolved[i].cost for i in groups[k]) / parts[k])
        parts[k] += 1
    # Whole rounds: where a last round holds fewer jobs than cores, cores stand idle (Fig. 3C's 30
    # students as jobs of 7, 7, 6, 5, 5 on two cores: the last ran alone for 20 of 72 minutes). Cut a
    # group finer while that shortens the schedule the pool runs (longest job first, each to the core
    # that frees first) by more than 1 %: each extra job costs a process start and its final kernels,
    # seconds against minutes.
    if processes > 1:
        def span() -> float:
            costs = [resolved[i].cost if resolved[i] is not None else 1.0 for i in alone]
            costs += [c for k, idx in groups.items() for c in _part_costs([resolved[i].cost for i in idx], parts[k])]
            return makespan(costs, processes)
        best = span()
        while True:
            trials = []
            for k in [k for k in groups if parts[k] < len(groups[k])]:
                parts[k] += 1
                trials.append((span(), k))
                parts[k] -= 1
            if not trials or min(trials)[0] >= best * 0.99:
                break
            best, k = min(trials)
            parts[k] += 1
    jobs = [make_job([runs[i]], [resolved[i]]) for i in alone]
    for key, idx in groups.items():
        for a, b in _split([resolved[i].cost for i in idx], parts[key]):
            sel = idx[a:b]
            jobs.append(make_job([runs[i] for i in sel], [resolved[i] for i in sel]))
    return sorted(jobs, key=lambda j: -j.cost)


def _own_end(members: list[dict], log_every: int) -> int | None:
    """The step at which a run ends alone where it ends before its job, else ``None``; in a job its
    networks are frozen there while their job-mates train on.

    Every network stopped (``stopped_at_step``: :class:`~rlnet.callbacks.StopAtAccuracy`, or
    ``LinearModule``'s ``loss_tol``): the run stops when its last one does. Every network diverged
    (``diverged_step``, the RNN's): it stops at the first logging step (``log_every``) after the last
    divergence, ``RNNModule.on_train_batch_end``."""
    stops = [m.get("stopped_at_step") for m in members]
    if stops and all(isinstance(s, int) for s in stops):
        return max(stops)
    diverged = [m.get("diverged_step") for m in members]
    if diverged and all(isinstance(d, int) for d in diverged):
        every = max(1, log_every)
        return every * ((max(diverged) + every) // every)  # the first multiple of `every` > the last
    return None


def _tracking_until(tracking: dict, end: int) -> dict:
    """A run's tracked series as the run alone records them when it ends at ``end``: the records
    before ``end``, then one at ``end``. Its networks are frozen from ``end`` on, so the job's first
    record at or after ``end`` holds exactly the values of the record alone (the same weights, the
    same warm start of the eigenvalue iteration, from the record before)."""
    steps = tracking.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, int) for s in steps):
        return tracking  # not rlnet's record: left as it is
    keep = [i for i, s in enumerate(steps) if s < end]
    last = next((i for i, s in enumerate(steps) if s >= end), None)
    idx = keep + ([last] if last is not None else [])

    def cut(vals: Any) -> Any:
        return [vals[i] for i in idx] if isinstance(vals, list) and len(vals) == len(steps) else vals

    members = [{name: cut(vals) for name, vals in m.items()} if isinstance(m, dict) else m
               for m in tracking.get("members", [])]
    return {**tracking, "steps": [steps[i] for i in keep] + ([end] if last is not None else []), "members": members}


def run_metrics(job_metrics: dict, job: Job, k: int) -> dict:
    """Run ``k``'s own ``metrics.json`` content: its members, its summary, its config."""
    from rlnet.results import MEASURE_COLUMNS

    a, b = job.slices[k]
    out = {key: v for key, v in job_metrics.items() if key not in ("members", "summary", "tracking")}
    members = list(job_metrics.get("members", []))[a:b]
    out["members"] = members
    summary: dict[str, Any] = {}
    for key in MEASURE_COLUMNS:  # as the laziness callback summarises a run
        vals = [m[key] for m in members if m.get(key) is not None and not m.get("diverged")]
        if vals:
            summary[f"mean_{key}"] = sum(vals) / len(vals)
    summary["n_diverged"] = sum(bool(m.get("diverged")) for m in members)
    summary["all_diverged"] = summary["n_diverged"] == len(members)
    out["summary"] = summary
    tracking = job_metrics.get("tracking")
    if isinstance(tracking, dict) and isinstance(tracking.get("members"), list):
        out["tracking"] = {**tracking, "members": tracking["members"][a:b]}
    log_every = ((job_metrics.get("config") or {}).get("trainer") or {}).get("log_every_n_steps")
    end = _own_end(members, log_every if isinstance(log_every, int) else LIGHTNING_LOG_EVERY) \
        if len(job.runs) > 1 else None
    if end is not None and isinstance(out.get("steps"), int) and end < out["steps"]:
        out["steps"] = end
        if "tracking" in out:
            out["tracking"] = _tracking_until(out["tracking"], end)
    cfg = copy.deepcopy(job_metrics.get("config"))
    init = ((cfg or {}).get("model") or {}).get("init_args")
    if len(job.runs) > 1 and isinstance(init, dict):
        # The run's own members, so that its config describes what it trained.
        own = job_metrics.get("members", [])[a:b]
        init["seeds"] = [m.get("seed") for m in own]
        init["seed"] = init["seeds"][0] if init["seeds"] else init.get("seed")
        conns = json.loads(job.argv[-4].split("=", 1)[1])[a:b]
        init["connectivities"], init["connectivity"] = conns, conns[0] if conns else init.get("connectivity")
        init["pairing"], init["n_members"] = "zip", b - a
    out["config"] = cfg
    if len(job.runs) > 1:
        out["packed"] = {"job": job.job_id, "members": [a, b], "of": job.n_members}
    return out
