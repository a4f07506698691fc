"""Lightning callbacks built on :mod:`rlnet.measures`; they drop into any Lightning project."""

from rlnet.callbacks.laziness import LazinessCallback

__all__ = ["LazinessCallback"]
