"""LightningModules: thin wrappers that own loss, optimiser and the laziness protocol.

Imported lazily (PEP 562), so that ``rlnet.models.members`` is read without Lightning."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {"DaleConstraint": "rlnet.models.dale", "LinearModule": "rlnet.models.linear_module",
            "MLPModule": "rlnet.models.mlp_module", "RNNModule": "rlnet.models.rnn_module"}
__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module 'rlnet.models' has no attribute {name!r}")
