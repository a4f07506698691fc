"""Lightning callbacks built on :mod:`rlnet.measures`; they drop into any Lightning project."""

from rlnet.callbacks.kernel_tracking import KernelTrackingCallback
from rlnet.callbacks.laziness import LazinessCallback
from rlnet.callbacks.protocol import LazinessProtocol

__all__ = ["KernelTrackingCallback", "LazinessCallback", "LazinessProtocol"]
