"""The laziness measures as a Lightning callback (paper Sec. 2.2).

At the start of fit the callback draws the probe set once and snapshots the initial weights,
representation, rates and tangent kernel; at the end it measures again on the same probe and
writes ``metrics.json`` (atomically) to the run directory, then prints a table.

It works on any LightningModule: the protocol methods (``laziness_weights``,
``laziness_representation``, ``laziness_kernel``, ...; rlnet's modules implement them all) are
optional, with defaults over all trainable parameters and the module's output
(:mod:`rlnet.callbacks.protocol`). The probe, the snapshot and the file are the shared base's
(:class:`~rlnet.callbacks.base.MeasuringCallback`); this class chooses the end-of-training measures.

Example::

    trainer = L.Trainer(max_steps=100, callbacks=[LazinessCallback(kernel_trials=32)])
    trainer.fit(module, datamodule)    # metrics.json in trainer.default_root_dir
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from rlnet.callbacks.base import METRICS_FILE, MeasuringCallback, measuring
from rlnet.measures.alignment import kernel_alignment, representation_alignment
from rlnet.measures.effective_rank import eigenvalue_effective_rank, singular_value_effective_rank
from rlnet.measures.spectrum import spectrum_summary
from rlnet.measures.weights import sign_similarity, total_weight_change_norm, weight_change_norm
from rlnet.results import format_table

SUMMARY_MEASURES = ("weight_change_norm", "representation_alignment", "kernel_alignment", "sign_similarity",
                    "final_loss", "accuracy")


class LazinessCallback(MeasuringCallback):
    """Snapshot at fit start, measure at fit end, write ``metrics.json``.

    Args:
        weights, kernel_params, kernel_trials, kernel_steps, probe, trial_dim, filename: as
            :class:`~rlnet.callbacks.base.MeasuringCallback` (``weights``: ``['W_h']`` is the
            authors' code, ``['W_h', 'W_x', 'W_o']`` the paper's Eq. 4; ``kernel_params``:
            ``'W_h'`` the authors' code, ``'all'`` the paper's Eq. 6).
        verbose: print the table and the file's path at the end.
    """

    def __init__(self, weights: list[str] | None = None, kernel_params: str | list[str] | None = None,
                 kernel_trials: int = 32, kernel_steps: str = "all", filename: str = METRICS_FILE,
                 verbose: bool = True, probe: Any = None, trial_dim: int = 0) -> None:
        super().__init__(weights=weights, kernel_params=kernel_params, kernel_trials=kernel_trials,
                         kernel_steps=kernel_steps, probe=probe, trial_dim=trial_dim, filename=filename)
        self.verbose = verbose
        self._members: list[dict] | None = None

    def extend_snapshot(self, snap: dict[str, Tensor], x: Tensor, y: Tensor | None) -> None:
        assert self.proto is not None
        snap["rates"] = self.proto.rates(x)

    def measure(self, pl_module: L.LightningModule) -> list[dict]:
        """Final measures per member, against the snapshot."""
        s = self.snapshot
        assert s is not None, "measure() needs the snapshot taken at fit start"
        proto = self.proto if self.proto is not None else self.bind(pl_module)
        x, y = s["probe_x"], s.get("probe_y")
        W = proto.weights()
        W0 = self.initial_weights()
        wcn = total_weight_change_norm(W, W0, self.weights)
        per_weight = {k: weight_change_norm(W[k].detach(), W0[k], member_dims=1) for k in W}
        H = proto.representation(x)
        ra = representation_alignment(H, s["representation"])
        K = self.kernel(x)
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

    # ---- metrics.json --------------------------------------------------------------------------
    def member_metrics(self, trainer: L.Trainer | None = None, pl_module: L.LightningModule | None = None
                       ) -> list[dict]:
        if self._members is None and (self.snapshot is None or pl_module is None):
            return []
        if self._members is None:
            with measuring(pl_module):
                self._members = self.measure(pl_module)
        return self._members

    def metrics_sections(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        if self.snapshot is None:
            return {}
        members = self.member_metrics(trainer, pl_module)
        summary: dict[str, Any] = {}
        for key in SUMMARY_MEASURES:
            vals = [m[key] for m in members if m.get(key) is not None and not m["diverged"]]
            if vals:
                summary[f"mean_{key}"] = sum(vals) / len(vals)
        summary["n_diverged"] = sum(bool(m["diverged"]) for m in members)
        summary["all_diverged"] = summary["n_diverged"] == len(members)
        return {"measure_settings": {"weights": self.weights, "kernel_params": self.kernel_params,
                                     "kernel_trials": self.kernel_trials, "kernel_steps": self.kernel_steps,
                                     "probe_trials": self.probe_trials()},
                "summary": summary}

    def after_metrics(self, trainer: L.Trainer, metrics: dict[str, Any]) -> None:
        """Send the summary to every active logger as ``final/<measure>`` (the metric a W&B sweep
        optimises, e.g. ``final/mean_kernel_alignment``) and print the table."""
        summary = metrics.get("summary") or {}
        for lg in trainer.loggers:
            lg.log_metrics({f"final/{k}": v for k, v in summary.items()}, step=trainer.global_step)
        if self.verbose and "summary" in metrics:  # the run's own table, on stdout as the CLI's output
            print(f"\nLaziness measures after {trainer.global_step} steps:")
            print(format_table(metrics["members"]))
            print(f"metrics written to {self.metrics_path}")

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._members = None
        super().on_fit_start(trainer, pl_module)
