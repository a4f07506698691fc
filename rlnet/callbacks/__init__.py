"""Lightning callbacks built on :mod:`rlnet.measures`; they drop into any Lightning project."""

from rlnet.callbacks.early_stop_accuracy import StopAtAccuracy
from rlnet.callbacks.final_checkpoint import SaveFinalCheckpoint
from rlnet.callbacks.laziness import LazinessCallback

__all__ = ["LazinessCallback", "SaveFinalCheckpoint", "StopAtAccuracy"]
