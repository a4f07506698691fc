"""LightningModules: thin wrappers that own loss, optimiser and the laziness protocol."""

from rlnet.models.dale import DaleConstraint
from rlnet.models.linear_module import LinearModule
from rlnet.models.mlp_module import MLPModule
from rlnet.models.rnn_module import RNNModule

__all__ = ["DaleConstraint", "LinearModule", "MLPModule", "RNNModule"]
