"""rlnet's notices on the console: the ``rlnet`` logger, written by global rank 0 only.

Notices (a fallback taken, a result that is not comparable with others) go through :mod:`logging`,
as Lightning's own messages do, on rank zero (:func:`lightning.pytorch.utilities.rank_zero_only`),
to whatever ``sys.stderr`` is when they are written, as ``rlnet: notice: ...``. Silence them as any
logger's: ``logging.getLogger("rlnet").setLevel(logging.ERROR)``.
"""

from __future__ import annotations

import logging
import sys

from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger("rlnet")


class _CurrentStderr(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment, so that redirections and captures see it."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it once; the property answers sys.stderr
        pass


if not log.handlers:
    _handler = _CurrentStderr()
    _handler.setFormatter(logging.Formatter("rlnet: notice: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # written once, by the handler above


@rank_zero_only
def notice(message: str) -> None:
    """Log ``message`` at warning level; it shows as ``rlnet: notice: message`` on rank zero."""
    log.warning(message)
