"""Kernel and representation measures during training (paper Fig. 14, 15; App. D).

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
dict of lists per member. Works on any LightningModule (:mod:`rlnet.callbacks.protocol`); the
probe, the snapshot and the file are the shared base's (:class:`~rlnet.callbacks.base.MeasuringCallback`).

Example::

    trainer = L.Trainer(max_steps=1000, callbacks=[KernelTrackingCallback(every_n_steps=100)])
    trainer.fit(module, datamodule)    # metrics.json["tracking"] in trainer.default_root_dir
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor

from rlnet.callbacks.base import METRICS_FILE, MeasuringCallback, measuring
from rlnet.measures.alignment import alignment, gram, kernel_alignment, label_alignment, task_alignment
from rlnet.measures.effective_rank import top_eigenpair
from rlnet.measures.weights import total_weight_change_norm
from rlnet.snapshot import SNAPSHOT_STATE_KEY

MEASURES = ("kernel_alignment", "task_alignment", "label_alignment", "kernel_effective_rank",
            "representation_alignment", "weight_change_norm")


class KernelTrackingCallback(MeasuringCallback):
    """Track the tangent kernel and the representation every ``every_n_steps`` steps.

    Args:
        every_n_steps: measuring period in optimiser steps.
        kernel_params, kernel_trials, kernel_steps, weights, probe, trial_dim, filename: as
            :class:`~rlnet.callbacks.base.MeasuringCallback`.
        log: send the measures to the trainer's loggers.
    """

    def __init__(self, every_n_steps: int = 100, kernel_params: str | list[str] | None = None,
                 kernel_trials: int = 32, kernel_steps: str = "all", weights: list[str] | None = None,
                 probe: Any = None, trial_dim: int = 0, log: bool = True, filename: str = METRICS_FILE) -> None:
        super().__init__(weights=weights, kernel_params=kernel_params, kernel_trials=kernel_trials,
                         kernel_steps=kernel_steps, probe=probe, trial_dim=trial_dim, filename=filename)
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps, self.log = every_n_steps, log
        self.steps: list[int] = []
        self.series: list[dict[str, list[float]]] = []
        self.measure_time_s = 0.0
        self._top_vec: Tensor | None = None  # warm start of the power iteration
        self._derived: dict[str, tuple[Tensor, Tensor]] = {}  # name -> (snapshot tensor, value from it)

    def extend_snapshot(self, snap: dict[str, Tensor], x: Tensor, y: Tensor | None) -> None:
        assert self.proto is not None
        if y is not None:
            n = self.kernel_trials
            snap["targets"] = self.proto.targets(self.proto.first_trials(x, n), self.proto.first_trials(y, n),
                                                 self.kernel_steps)

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
        K = s["kernel"] if first else self.kernel(x)
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
        out["weight_change_norm"] = total_weight_change_norm(proto.weights(), self.initial_weights(), self.weights)
        return out

    def record(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        step = int(trainer.global_step)
        if self.snapshot is None or (self.steps and self.steps[-1] == step):
            return
        t0 = time.perf_counter()
        with measuring(pl_module), torch.no_grad():
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

    def metrics_sections(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The ``"tracking"`` section of ``metrics.json``."""
        if not self.steps:
            return {}
        return {"tracking": {
            "every_n_steps": self.every_n_steps,
            "settings": {"kernel_params": self.kernel_params, "kernel_trials": self.kernel_trials,
                         "kernel_steps": self.kernel_steps, "weights": self.weights},
            "measure_time_s": self.measure_time_s,
            "steps": list(self.steps),
            "members": self.series,
        }}

    # ---- Lightning hooks --------------------------------------------------------------------
    def on_snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record(trainer, pl_module)  # step 0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        self.record(trainer, pl_module)  # a resumed run: the step it resumes at (skipped if recorded)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.record(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record(trainer, pl_module)  # the last step

    def state_dict(self) -> dict:
        return {SNAPSHOT_STATE_KEY: self.snapshot, "steps": self.steps, "series": self.series,
                "measure_time_s": self.measure_time_s}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.steps = list(state_dict.get("steps", []))
        self.series = list(state_dict.get("series", []))
        self.measure_time_s = float(state_dict.get("measure_time_s", 0.0))
