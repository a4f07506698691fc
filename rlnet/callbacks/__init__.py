"""Lightning callbacks built on :mod:`rlnet.measures`; they drop into any Lightning project."""

from rlnet.callbacks.base import MeasuringCallback, MetricsCallback
from rlnet.callbacks.early_stop_accuracy import StopAtAccuracy
from rlnet.callbacks.final_checkpoint import SaveFinalCheckpoint
from rlnet.callbacks.kernel_tracking import KernelTrackingCallback
from rlnet.callbacks.laziness import LazinessCallback
from rlnet.callbacks.protocol import LazinessProtocol

__all__ = ["KernelTrackingCallback", "LazinessCallback", "LazinessProtocol", "MeasuringCallback", "MetricsCallback",
           "SaveFinalCheckpoint", "StopAtAccuracy"]
