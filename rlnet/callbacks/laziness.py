"""The laziness measures as a Lightning callback (paper Sec. 2.2; SPEC 3).

At the start of fit the callback draws the probe set once and snapshots the initial weights,
representation, rates and tangent kernel; at the end it measures again on the same probe and
writes ``metrics.json`` (atomically) to the run directory, then prints a table.

It works on any LightningModule: the protocol methods (``laziness_weights``,
``laziness_representation``, ``laziness_kernel``, ...; rlnet's modules implement them all) are
optional, with defaults over all trainable parameters and the module's output
(:mod:`rlnet.callbacks.protocol`). The probe is the ``probe`` argument, else
``datamodule.probe_batch()``, else the first validation (or training) batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import move_data_to_device
from torch import Tensor

from rlnet.callbacks.protocol import LazinessProtocol, bind_protocol, eval_mode, resolve_probe
from rlnet.measures.alignment import kernel_alignment, representation_alignment
from rlnet.measures.effective_rank import eigenvalue_effective_rank, singular_value_effective_rank
from rlnet.measures.spectrum import spectrum_summary
from rlnet.measures.weights import sign_similarity, weight_change_norm
from rlnet.results import format_table, write_json_atomic


def run_dir(trainer: L.Trainer) -> Path:
    """Where a run's files go: ``trainer.default_root_dir`` (the CLI makes it unique per run)."""
    return Path(trainer.default_root_dir)


class LazinessCallback(L.Callback):
    """Snapshot at fit start, measure at fit end, write ``metrics.json``.

    Args:
        weights: weights whose change ``||W_f - W_0||_F`` is reported: ``['W_h']`` (the authors'
            code) or, e.g., ``['W_h', 'W_x', 'W_o']`` (the paper's Eq. 4, all weights). Default: the
            module's ``laziness_defaults['weights']`` (rlnet: ``['W_h']``), else all its weights.
        kernel_params: ``'W_h'`` (the authors' code) or ``'all'`` (the paper's Eq. 6), or a list of
            parameter names. Default: the module's choice (rlnet: ``'W_h'``), else ``'all'``.
        kernel_trials: probe trials in the kernel (the authors' code: the first 32).
        kernel_steps: ``'all'`` output steps (Neurogym) or ``'last'`` (sMNIST).
        filename: results file in the run directory.
        verbose: print the table and the file's path at the end.
        probe: fixed probe batch ``(x, y)`` (or ``x``) for modules whose data has no ``probe_batch()``.
        trial_dim: the trial dimension of probe tensors for modules without ``laziness_trial_dim``.
    """

    def __init__(self, weights: list[str] | None = None, kernel_params: str | list[str] | None = None,
                 kernel_trials: int = 32, kernel_steps: Literal["all", "last"] = "all",
                 filename: str = "metrics.json", verbose: bool = True, probe: Any = None,
                 trial_dim: int = 0) -> None:
        super().__init__()
        if kernel_trials < 1:
            raise ValueError(f"kernel_trials must be >= 1, got {kernel_trials}")
        if kernel_steps not in ("all", "last"):
            raise ValueError(f"kernel_steps must be 'all' or 'last', got {kernel_steps!r}")
        self.weights = list(weights) if weights is not None else None
        self.kernel_params, self.kernel_trials, self.kernel_steps = kernel_params, kernel_trials, kernel_steps
        self.filename, self.verbose, self.probe, self.trial_dim = filename, verbose, probe, trial_dim
        self.config: dict | None = None  # the resolved config, set by the CLI
        self.snapshot: dict[str, Tensor] | None = None
        self.metrics_path: Path | None = None
        self.proto: LazinessProtocol | None = None
        self._t0 = 0.0

    # ---- the measures -----------------------------------------------------------------------
    def _setup(self, pl_module: L.LightningModule) -> LazinessProtocol:
        return bind_protocol(self, pl_module)

    def _kernel(self, pl_module: L.LightningModule, x: Tensor) -> Tensor:
        assert self.proto is not None
        xk = self.proto.first_trials(x, self.kernel_trials)
        return self.proto.kernel(xk, self.kernel_params, self.kernel_steps)

    def take_snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Tensor] | None:
        """Probe, initial weights, representation, rates and kernel; ``None`` if no probe yet."""
        proto = self._setup(pl_module)
        unknown = [k for k in self.weights if k not in proto.weights()]
        if unknown:  # fail before training, not after it
            raise ValueError(f"laziness.weights {unknown} not among the model's weights {sorted(proto.weights())}")
        probe = resolve_probe(trainer, pl_module, proto, self.probe)
        if probe is None:
            return None
        x, y = move_data_to_device(probe, pl_module.device)
        snap = {f"weight/{k}": v.detach().clone() for k, v in proto.weights().items()}
        snap.update(probe_x=x, representation=proto.representation(x), rates=proto.rates(x),
                    kernel=self._kernel(pl_module, x))
        if y is not None:
            snap["probe_y"] = y
        return snap

    def measure(self, pl_module: L.LightningModule) -> list[dict]:
        """Final measures per member, against the snapshot."""
        s = self.snapshot
        assert s is not None, "measure() needs the snapshot taken at fit start"
        proto = self.proto if self.proto is not None else self._setup(pl_module)
        x, y = s["probe_x"], s.get("probe_y")
        W = proto.weights()
        W0 = {k[len("weight/"):]: v for k, v in s.items() if k.startswith("weight/")}
        unknown = [k for k in self.weights if k not in W]
        if unknown:
            raise ValueError(f"weights {unknown} not among the module's {sorted(W)}")
        # Weights differ in shape: sum squared changes per member, weight by weight.
        wcn = sum((W[k].detach() - W0[k]).flatten(1).double().pow(2).sum(1) for k in self.weights).sqrt()
        per_weight = {k: weight_change_norm(W[k].detach(), W0[k], member_dims=1) for k in W}
        H = proto.representation(x)
        ra = representation_alignment(H, s["representation"])
        K = self._kernel(pl_module, x)
        ka = kernel_alignment(K, s["kernel"])
        ss = sign_similarity(proto.rates(x), s["rates"], member_dims=1)
        scores = proto.scores(x, y)
        W_h0 = W0.get("W_h")
        members = []
        for e, info in enumerate(proto.member_info()):
            m = dict(info)
            if W_h0 is not None:
                m["initial_eigenvalue_effective_rank"] = float(eigenvalue_effective_rank(W_h0[e]))
                m["initial_singular_value_effective_rank"] = float(singular_value_effective_rank(W_h0[e]))
                m["initial_spectrum"] = spectrum_summary(W_h0[e].cpu())
            loss = float(scores["loss"][e]) if "loss" in scores else None
            m.update(
                weight_change_norm=float(wcn[e]),
                representation_alignment=float(ra[e]),
                kernel_alignment=float(ka[e]),
                sign_similarity=float(ss[e]),
                weight_change_by_weight={k: float(v[e]) for k, v in per_weight.items()},
                final_loss=loss,
            )
            if "accuracy" in scores:
                m["accuracy"] = float(scores["accuracy"][e])
            # Diverged if the module says so (it records the step) or the end state is not finite.
            m["diverged"] = bool(m.get("diverged", False)) or not (
                (loss is None or torch.isfinite(torch.tensor(loss)).item())
                and all(torch.isfinite(w[e]).all().item() for w in W.values()))
            m.setdefault("diverged_step", None)
            # A silent network (every probe representation entry exactly 0, e.g. all rates died) has a
            # finite loss but no defined RA (0/0, written as null): say so instead of leaving a gap.
            m["silent"] = not bool((H[e] != 0).any())
            members.append(m)
        return members

    # ---- Lightning hooks --------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()
        self._setup(pl_module)
        if self.snapshot is None:  # a resumed run restores it from the checkpoint instead
            with eval_mode(pl_module):
                self.snapshot = self.take_snapshot(trainer, pl_module)
        else:  # restored: on the module's device, whichever device wrote the checkpoint
            self.snapshot = {k: v.to(pl_module.device) for k, v in self.snapshot.items()}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Without an explicit probe, the first validation/training batch exists only from here on.
        if self.snapshot is None:
            with eval_mode(pl_module):
                self.snapshot = self.take_snapshot(trainer, pl_module)
            if self.snapshot is None:
                raise ValueError("laziness: no probe batch: pass `probe`, give the datamodule a "
                                 "`probe_batch()`, or provide a validation or training dataloader")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or self.snapshot is None:
            return
        with eval_mode(pl_module):
            members = self.measure(pl_module)
        # Other callbacks (e.g. StopAtAccuracy) may add per-member entries.
        for cb in trainer.callbacks:
            if cb is not self and hasattr(cb, "member_metrics"):
                for m, extra in zip(members, cb.member_metrics(), strict=False):
                    m.update(extra)
        summary = {}
        for key in ("weight_change_norm", "representation_alignment", "kernel_alignment",
                    "sign_similarity", "final_loss", "accuracy"):
            vals = [m[key] for m in members if m.get(key) is not None and not m["diverged"]]
            if vals:
                summary[f"mean_{key}"] = sum(vals) / len(vals)
        summary["n_diverged"] = sum(bool(m["diverged"]) for m in members)
        summary["all_diverged"] = summary["n_diverged"] == len(members)
        out = {
            "config": self.config,
            "steps": int(trainer.global_step),
            "fit_wall_time_s": time.perf_counter() - self._t0,
            "measure_settings": {"weights": self.weights, "kernel_params": self.kernel_params,
                                 "kernel_trials": self.kernel_trials, "kernel_steps": self.kernel_steps,
                                 "probe_trials": int(self.snapshot["probe_x"].shape[1])},
            "members": members,
            "summary": summary,
        }
        if hasattr(trainer.datamodule, "run_info"):  # e.g. whether the offline MNIST subset was used
            out["data"] = trainer.datamodule.run_info()
        # Sections other callbacks contribute (e.g. the kernel tracking series).
        for cb in trainer.callbacks:
            if cb is not self and callable(getattr(cb, "metrics_sections", None)):
                out.update(cb.metrics_sections())
        self.metrics_path = write_json_atomic(run_dir(trainer) / self.filename, out)
        for lg in trainer.loggers:
            lg.log_metrics({f"final/{k}": v for k, v in summary.items()}, step=trainer.global_step)
        if self.verbose:
            print(f"\nLaziness measures after {trainer.global_step} steps:")
            print(format_table(members))
            print(f"metrics written to {self.metrics_path}")

    # The snapshot travels in checkpoints so that a resumed run measures against the same K_0.
    def state_dict(self) -> dict:
        return {"snapshot": self.snapshot}

    def load_state_dict(self, state_dict: dict) -> None:
        self.snapshot = state_dict.get("snapshot")
