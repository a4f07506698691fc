"""The snapshot format: what the measuring callbacks keep from the start of training.

At fit start :class:`~rlnet.callbacks.base.MeasuringCallback` (and so ``LazinessCallback`` and
``KernelTrackingCallback``) takes a *snapshot*, a flat ``dict[str, Tensor]`` measured again at the
end (and during training). It travels in Lightning checkpoints as the callback's state,
``checkpoint["callbacks"][<callback state key>][SNAPSHOT_STATE_KEY]``, so that a resumed run
measures against the same start and a teacher's initial weights can be read back
(:mod:`rlnet.connectivity.teacher`, ``structure_of='learned'``). Keys:

==================  ==============================================================
key                 value
==================  ==============================================================
``probe_x``         probe inputs (trials on the module's trial dimension)
``probe_y``         probe targets, when the probe has them
``weight/<name>``   initial weight ``<name>``, member dimension first ``(E, ...)``
``representation``  initial representation on the probe ``(E, trials, features)``
``kernel``          initial tangent kernel ``(E, M, M)``
``rates``           initial activity for sign similarity (laziness callback)
``targets``         targets in the kernel's row order ``(M,)`` (kernel tracking)
==================  ==============================================================

Reading a snapshot never imports or calls anything named in it: it is tensors under these keys.

Example::

    >>> import torch
    >>> snap = {weight_key("W_h"): torch.zeros(1, 3, 3)}
    >>> sorted(initial_weights(snap))
    ['W_h']
    >>> ckpt = {"callbacks": {"LazinessCallback{...}": {SNAPSHOT_STATE_KEY: snap}}}
    >>> initial_weight_from_checkpoint(ckpt, "W_h").shape
    torch.Size([1, 3, 3])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

SNAPSHOT_STATE_KEY = "snapshot"
WEIGHT_PREFIX = "weight/"


def weight_key(name: str) -> str:
    """The snapshot key of initial weight ``name``."""
    return f"{WEIGHT_PREFIX}{name}"


def initial_weights(snapshot: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``{name: initial weight}`` of a snapshot."""
    return {k[len(WEIGHT_PREFIX):]: v for k, v in snapshot.items() if k.startswith(WEIGHT_PREFIX)}


def snapshots_in_checkpoint(checkpoint: Mapping[str, Any]) -> list[Mapping[str, Tensor]]:
    """Every snapshot stored in a Lightning checkpoint's callback states, in the saved order."""
    out = []
    for state in (checkpoint.get("callbacks") or {}).values():
        snap = state.get(SNAPSHOT_STATE_KEY) if isinstance(state, Mapping) else None
        if isinstance(snap, Mapping):
            out.append(snap)
    return out


def initial_weight_from_checkpoint(checkpoint: Mapping[str, Any], name: str) -> Tensor | None:
    """Initial weight ``name`` from the first snapshot in ``checkpoint`` that holds it (every
    measuring callback snapshots the same initial weights), or ``None``."""
    for snap in snapshots_in_checkpoint(checkpoint):
        w = snap.get(weight_key(name))
        if isinstance(w, Tensor):
            return w
    return None
