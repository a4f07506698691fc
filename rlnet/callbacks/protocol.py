"""What the laziness callbacks need from a LightningModule, with defaults for any module.

A module may implement any of these methods (rlnet's :class:`~rlnet.models.RNNModule` implements
all); each missing one falls back to a default that works for a plain ``nn.Module`` whose trials
do not interact:

=====================================  ==========================================================
protocol member                        default
=====================================  ==========================================================
``laziness_trial_dim`` (attribute)     ``0`` (Lightning's batch-first convention)
``laziness_defaults`` (attribute)      ``{}``; keys ``weights`` / ``kernel_params`` set the
                                       callbacks' defaults (rlnet: ``['W_h']`` / ``'W_h'``)
``laziness_weights() -> {name: W}``    every trainable parameter, with a member dim of 1
``laziness_outputs(x) -> (B, ...)``    ``forward(x)`` (first element of a tuple), trials first
``laziness_representation(x)``         the outputs, ``(1, B, features)``
``laziness_rates(x)``                  the representation
``laziness_kernel(x, params, steps)``  exact kernel of the outputs by ``torch.func``
                                       (:func:`rlnet.measures.ntk_generic.module_tangent_kernel`)
``laziness_targets(y, steps) -> (M,)`` one-hot of integer labels / the float targets, trials first
``laziness_scores(x, y) -> {name: (E,)}``  ``accuracy`` when outputs are ``(B, classes)`` and
                                       ``y`` holds class indices; else nothing
``member_info() -> [dict]``            ``[{}]`` per member
``laziness_split_batch(batch)``        ``(batch[0], batch[1])`` for tuples, ``(batch, None)`` for
                                       a tensor
``laziness_probe_batch() -> batch``    none: the datamodule's ``probe_batch()``, the first
                                       validation batch, or a copy of the first training batch
=====================================  ==========================================================

All returned tensors carry a leading member (ensemble) dimension ``E`` (``E = 1`` by default), as
rlnet's ensembles do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rlnet.measures.ntk_generic import module_tangent_kernel


class LazinessProtocol:
    """Adapter: the protocol method when the module has it, the default otherwise."""

    def __init__(self, module: nn.Module, trial_dim: int | None = None) -> None:
        self.module = module
        self.trial_dim = int(getattr(module, "laziness_trial_dim", 0 if trial_dim is None else trial_dim))
        self.defaults: dict[str, Any] = dict(getattr(module, "laziness_defaults", {}) or {})

    def has(self, name: str) -> bool:
        return callable(getattr(self.module, name, None))

    # ---- probe handling --------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        if self.has("laziness_split_batch"):
            return self.module.laziness_split_batch(batch)
        if isinstance(batch, Tensor):
            return batch, None
        if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
            y = batch[1] if len(batch) > 1 and isinstance(batch[1], Tensor) else None
            return batch[0], y
        raise ValueError("probe: cannot split the batch into inputs and targets; give the callback a "
                         "`probe` (x, y) or implement `laziness_split_batch(batch)` on the module")

    def n_trials(self, x: Tensor) -> int:
        return int(x.shape[self.trial_dim])

    def first_trials(self, t: Tensor | None, n: int) -> Tensor | None:
        if t is None:
            return None
        return t.narrow(self.trial_dim, 0, min(n, int(t.shape[self.trial_dim])))

    # ---- weights ---------------------------------------------------------------------------
    def weights(self) -> dict[str, Tensor]:
        if self.has("laziness_weights"):
            return dict(self.module.laziness_weights())
        return {k: p.unsqueeze(0) for k, p in self.module.named_parameters() if p.requires_grad}

    def default_weights(self) -> list[str]:
        return list(self.defaults.get("weights") or self.weights())

    def default_kernel_params(self) -> str | list[str]:
        return self.defaults.get("kernel_params", "all")

    def n_members(self) -> int:
        return int(next(iter(self.weights().values())).shape[0])

    # ---- activity --------------------------------------------------------------------------
    def outputs(self, x: Tensor) -> Tensor:
        """Outputs with trials first, ``(B, ...)`` (default protocol only)."""
        if self.has("laziness_outputs"):
            return self.module.laziness_outputs(x)
        out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.movedim(self.trial_dim, 0)

    @torch.no_grad()
    def representation(self, x: Tensor) -> Tensor:
        if self.has("laziness_representation"):
            return self.module.laziness_representation(x).detach()
        o = self.outputs(x)
        return o.reshape(1, o.shape[0], -1).detach()

    @torch.no_grad()
    def rates(self, x: Tensor) -> Tensor:
        if self.has("laziness_rates"):
            return self.module.laziness_rates(x).detach()
        return self.representation(x)

    def kernel(self, x: Tensor, params: str | Sequence[str] | None, steps: str) -> Tensor:
        """``(E, M, M)`` exact tangent kernel over ``params`` on the probe ``x``."""
        if self.has("laziness_kernel"):
            kw: dict[str, Any] = {"steps": steps}
            if params is not None:
                kw["params"] = params
            return self.module.laziness_kernel(x, **kw).detach()
        output_fn = (lambda m, xx: m.laziness_outputs(xx)) if self.has("laziness_outputs") else None
        K = module_tangent_kernel(self.module, x, params=params if params is not None else "all",
                                  output_fn=output_fn, trial_dim=self.trial_dim)
        return K.unsqueeze(0)

    @torch.no_grad()
    def targets(self, x: Tensor, y: Tensor, steps: str) -> Tensor:
        """Target vector ``(M,)`` in the kernel's row order, for task alignment."""
        if self.has("laziness_targets"):
            return self.module.laziness_targets(y, steps=steps)
        o = self.outputs(x)
        yt = y.movedim(self.trial_dim, 0) if y.dim() > self.trial_dim else y
        if not torch.is_floating_point(yt) and tuple(yt.shape) == tuple(o.shape[:-1]):
            return F.one_hot(yt.long(), o.shape[-1]).to(o.dtype).reshape(-1)
        if yt.numel() == o.numel():
            return yt.to(o.dtype).reshape(-1)
        raise ValueError(f"targets of shape {tuple(y.shape)} do not match outputs {tuple(o.shape)}: "
                         "implement `laziness_targets(y, steps)` on the module")

    @torch.no_grad()
    def scores(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        if self.has("laziness_scores"):
            return self.module.laziness_scores(x, y)
        if y is None:
            return {}
        o = self.outputs(x)
        yt = y.movedim(self.trial_dim, 0) if y.dim() > self.trial_dim else y
        if o.dim() == 2 and yt.dim() == 1 and not torch.is_floating_point(yt):
            return {"accuracy": (o.argmax(-1) == yt).double().mean().reshape(1)}
        return {}

    def member_info(self) -> list[dict]:
        if self.has("member_info"):
            return list(self.module.member_info())
        return [{} for _ in range(self.n_members())]


def resolve_probe(trainer: Any, module: nn.Module, proto: LazinessProtocol | None, probe: Any = None) -> Any:
    """The probe batch: ``probe`` if given, else ``datamodule.probe_batch()``, else the module's
    ``laziness_probe_batch()``, else the first batch of the (first) validation dataloader; ``None``
    if none is available (yet). Never the training loader: a measuring callback must not pull from
    it or draw from the RNG its shuffling uses (the callbacks take a copy of the first batch training
    receives instead). Call it inside :func:`rlnet.callbacks.base.measuring`: a fresh iterator over
    a validation loader draws its base seed from torch's global generator."""
    if probe is not None:
        return probe
    dm = getattr(trainer, "datamodule", None)
    if dm is not None and callable(getattr(dm, "probe_batch", None)):
        return dm.probe_batch()
    if proto is not None and proto.has("laziness_probe_batch"):
        return module.laziness_probe_batch()
    loaders = getattr(trainer, "val_dataloaders", None)
    if isinstance(loaders, dict):
        loaders = next(iter(loaders.values()), None)
    if isinstance(loaders, (list, tuple)):
        loaders = loaders[0] if loaders else None
    if loaders is None:
        return None
    return next(iter(loaders), None)
