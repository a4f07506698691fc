"""Kernel and representation measures during training (paper Fig. 14, 15; SPEC 3).

Every ``every_n_steps`` optimiser steps (and at steps 0 and the last), on a fixed probe:

* ``kernel_alignment``: ``KA(K_t, K_0) = <K_t, K_0> / (||K_t|| ||K_0||)`` (Fig. 14A, C);
* ``task_alignment``: ``y^T K_t y / (||y||^2 Tr K_t)``, ``y`` the targets in the kernel's row order
  (Fig. 14B);
* ``label_alignment``: centred alignment of ``K_t`` with the label kernel ``y y^T`` (Baratin et
  al. 2021, Eq. 7; Fig. 14D);
* ``kernel_effective_rank``: ``sum_i lambda_i / lambda_1 = Tr K_t / lambda_max`` (Fig. 15);
* ``representation_alignment``: ``RA(R_t, R_0)`` (Eq. 5);
* ``weight_change_norm``: ``||W_t - W_0||_F`` over the chosen weights (Eq. 4).

Series go to the loggers (``track/<measure>``, mean over members, and ``track/<measure>/<e>`` per
member when there are several) and into ``metrics.json`` under ``"tracking"``: ``steps`` and one
dict of lists per member. Works on any LightningModule (:mod:`rlnet.callbacks.protocol`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import move_data_to_device
from torch import Tensor

from rlnet.callbacks.protocol import LazinessProtocol, bind_protocol, eval_mode, resolve_probe
from rlnet.measures.alignment import alignment, gram, kernel_alignment, label_alignment, task_alignment
from rlnet.measures.effective_rank import top_eigenpair
from rlnet.results import write_json_atomic

MEASURES = ("kernel_alignment", "task_alignment", "label_alignment", "kernel_effective_rank",
            "representation_alignment", "weight_change_norm")


class KernelTrackingCallback(L.Callback):
    """Track the tangent kernel and the representation every ``every_n_steps`` steps.

    Args:
        every_n_steps: measuring period in optimiser steps.
        kernel_params: ``'W_h'``, ``'all'`` or parameter names; default: the module's choice
            (rlnet: ``'W_h'``), else ``'all'``.
        kernel_trials: probe trials in the kernel (the authors' code: 32).
        kernel_steps: ``'all'`` output steps (Neurogym) or ``'last'`` (sMNIST).
        weights: weights in ``||W_t - W_0||``; default: the module's choice, else all.
        probe, trial_dim: as for :class:`~rlnet.callbacks.laziness.LazinessCallback`.
        log: send the measures to the trainer's loggers.
        filename: where the series go when no ``LazinessCallback`` writes ``metrics.json``.
    """

    def __init__(self, every_n_steps: int = 100, kernel_params: str | list[str] | None = None,
                 kernel_trials: int = 32, kernel_steps: Literal["all", "last"] = "all",
                 weights: list[str] | None = None, probe: Any = None, trial_dim: int = 0, log: bool = True,
                 filename: str = "metrics.json") -> None:
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        if kernel_trials < 1:
            raise ValueError(f"kernel_trials must be >= 1, got {kernel_trials}")
        if kernel_steps not in ("all", "last"):
            raise ValueError(f"kernel_steps must be 'all' or 'last', got {kernel_steps!r}")
        self.every_n_steps, self.kernel_params, self.kernel_trials = every_n_steps, kernel_params, kernel_trials
        self.kernel_steps, self.weights, self.probe, self.trial_dim = kernel_steps, weights, probe, trial_dim
        self.log, self.filename = log, filename
        self.proto: LazinessProtocol | None = None
        self.snapshot: dict[str, Tensor] | None = None
        self.steps: list[int] = []
        self.series: list[dict[str, list[float]]] = []
        self.measure_time_s = 0.0
        self._top_vec: Tensor | None = None  # warm start of the power iteration
        self._derived: dict[str, tuple[Tensor, Tensor]] = {}  # name -> (snapshot tensor, value from it)

    # ---- snapshot and measures --------------------------------------------------------------
    def _setup(self, pl_module: L.LightningModule) -> LazinessProtocol:
        return bind_protocol(self, pl_module)

    def take_snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Tensor] | None:
        proto = self.proto or self._setup(pl_module)
        probe = resolve_probe(trainer, pl_module, proto, self.probe)
        if probe is None:
            return None
        x, y = move_data_to_device(probe, pl_module.device)
        W = proto.weights()
        unknown = [k for k in self.weights if k not in W]
        if unknown:
            raise ValueError(f"weights {unknown} not among the module's {sorted(W)}")
        xk = proto.first_trials(x, self.kernel_trials)
        snap = {"probe_x": x, "representation": proto.representation(x),
                "kernel": proto.kernel(xk, self.kernel_params, self.kernel_steps)}
        snap.update({f"weight/{k}": W[k].detach().clone() for k in self.weights})
        if y is not None:
            snap["targets"] = proto.targets(xk, proto.first_trials(y, self.kernel_trials), self.kernel_steps)
        return snap

    def _from_snapshot(self, key: str, fn: Callable[[Tensor], Tensor]) -> Tensor:
        """``fn(snapshot[key])``, computed once per snapshot (a new or reloaded one recomputes it)."""
        src = self.snapshot[key]
        cached = self._derived.get(key)
        if cached is None or cached[0] is not src:
            cached = self._derived[key] = (src, fn(src))
        return cached[1]

    def compute(self, pl_module: L.LightningModule) -> dict[str, Tensor]:
        """All measures now, ``{name: (E,)}``, against the snapshot."""
        s, proto = self.snapshot, self.proto
        assert s is not None and proto is not None
        x = s["probe_x"]
        first = not self.steps and int(pl_module.global_step) == 0
        K = s["kernel"] if first else proto.kernel(proto.first_trials(x, self.kernel_trials), self.kernel_params,
                                                   self.kernel_steps)
        Kd = K.double()  # every measure below sums M^2 terms: float64 once, here
        trace = torch.diagonal(Kd, dim1=-2, dim2=-1).sum(-1)
        v0 = self._top_vec if self._top_vec is not None and self._top_vec.shape == K.shape[:-1] else None
        top, self._top_vec = top_eigenpair(Kd, v0)
        K0d = self._from_snapshot("kernel", lambda K0: K0.double())
        out = {"kernel_alignment": kernel_alignment(Kd, K0d), "kernel_effective_rank": trace / top}
        if "targets" in s:
            y = s["targets"].double().reshape(-1).expand(K.shape[0], -1)
            out["task_alignment"] = task_alignment(Kd, y)
            out["label_alignment"] = label_alignment(Kd, y)  # = centred alignment with y y^T, O(M^2)
        # = representation_alignment(H_t, H_0), with R_0 = H_0 H_0^T formed once
        R0 = self._from_snapshot("representation", lambda H0: gram(H0.double()))
        out["representation_alignment"] = alignment(gram(proto.representation(x).double()), R0)
        W = proto.weights()
        sq = sum((W[k].detach().double() - s[f"weight/{k}"].double()).flatten(1).pow(2).sum(1) for k in self.weights)
        out["weight_change_norm"] = sq.sqrt()
        return out

    def record(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        step = int(trainer.global_step)
        if self.snapshot is None or (self.steps and self.steps[-1] == step):
            return
        t0 = time.perf_counter()
        with eval_mode(pl_module), torch.no_grad():
            vals = self.compute(pl_module)
        if not self.series:
            self.series = [{} for _ in range(len(next(iter(vals.values()))))]
        self.steps.append(step)
        for name, v in vals.items():
            for e, ve in enumerate(v.tolist()):
                self.series[e].setdefault(name, []).append(float(ve))
        if self.log and trainer.loggers:
            logged = {f"track/{n}": float(v.mean()) for n, v in vals.items()}
            if len(self.series) > 1:
                logged.update({f"track/{n}/{e}": float(ve) for n, v in vals.items() for e, ve in enumerate(v)})
            for lg in trainer.loggers:
                lg.log_metrics(logged, step=step)
        self.measure_time_s += time.perf_counter() - t0

    def metrics_sections(self) -> dict[str, Any]:
        """The ``"tracking"`` section of ``metrics.json``."""
        return {"tracking": {
            "every_n_steps": self.every_n_steps,
            "settings": {"kernel_params": self.kernel_params, "kernel_trials": self.kernel_trials,
                         "kernel_steps": self.kernel_steps, "weights": self.weights},
            "measure_time_s": self.measure_time_s,
            "steps": list(self.steps),
            "members": self.series,
        }}

    # ---- Lightning hooks --------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._setup(pl_module)
        if self.snapshot is None:  # a resumed run restores it (and the series) from the checkpoint
            with eval_mode(pl_module):
                self.snapshot = self.take_snapshot(trainer, pl_module)
        self.record(trainer, pl_module)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.snapshot is None:
            with eval_mode(pl_module):
                self.snapshot = self.take_snapshot(trainer, pl_module)
            if self.snapshot is None:
                raise ValueError("kernel tracking: no probe batch: pass `probe`, give the datamodule a "
                                 "`probe_batch()`, or provide a validation or training dataloader")
            self.record(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.record(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record(trainer, pl_module)  # the last step, before any on_fit_end collects the series

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or not self.steps:
            return
        from rlnet.callbacks.laziness import LazinessCallback

        if any(isinstance(cb, LazinessCallback) for cb in trainer.callbacks):
            return  # it writes metrics.json with our section
        path = Path(trainer.default_root_dir) / self.filename
        data = json.loads(path.read_text()) if path.exists() else {}
        data.update(self.metrics_sections())
        write_json_atomic(path, data)

    def state_dict(self) -> dict:
        return {"snapshot": self.snapshot, "steps": self.steps, "series": self.series,
                "measure_time_s": self.measure_time_s}

    def load_state_dict(self, state_dict: dict) -> None:
        self.snapshot = state_dict.get("snapshot")
        self.steps = list(state_dict.get("steps", []))
        self.series = list(state_dict.get("series", []))
        self.measure_time_s = float(state_dict.get("measure_time_s", 0.0))
