"""LightningModules: thin wrappers that own loss, optimiser and the laziness protocol."""

from rlnet.models.dale import DaleConstraint
from rlnet.models.rnn_module import RNNModule

__all__ = ["DaleConstraint", "RNNModule"]
