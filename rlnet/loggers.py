"""rlnet's default logger: Lightning's ``WandbLogger`` whose mode follows W&B's environment.

W&B's own rule is that the environment decides: ``wandb agent`` starts each run with
``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID`` set (and whatever ``WANDB_MODE`` the agent's shell has), and
the run must report online to that sweep and run id, or the sweep's controller never sees its
metric. rlnet adds one thing: with nothing set it logs offline, so no account is needed.

:func:`wandb_mode` is the rule (environment in, mode out):

====================================================  ============
environment                                           mode
====================================================  ============
``WANDB_MODE=online`` (or ``run``)                    ``online``
``WANDB_MODE=offline`` (or ``dryrun``)                ``offline``
``WANDB_MODE=disabled``                               ``disabled``
no ``WANDB_MODE``, ``WANDB_SWEEP_ID`` set (an agent)  ``online``
nothing set                                           ``offline``
====================================================  ============

:class:`WandbLogger` passes the mode to ``wandb.init(mode=...)`` instead of letting Lightning set
``WANDB_MODE=dryrun`` in the process environment (Lightning's ``offline=True`` does that, which
would also switch off every later run of the process and every child it starts), and attaches to
``WANDB_RUN_ID`` and ``WANDB_PROJECT`` when they are set. An explicit ``offline=True/False``
still wins over the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger

_MODES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline",
          "disabled": "disabled", "shared": "shared"}


def wandb_mode(environ: Mapping[str, str] | None = None) -> str:
    """The W&B mode the environment asks for (see the module's table); ``ValueError`` for a
    ``WANDB_MODE`` that W&B does not know."""
    env = os.environ if environ is None else environ
    mode = env.get("WANDB_MODE", "").strip().lower()
    if mode:
        if mode not in _MODES:
            raise ValueError(f"WANDB_MODE={env['WANDB_MODE']!r} is not one of W&B's modes {sorted(_MODES)}")
        return _MODES[mode]
    return "online" if env.get("WANDB_SWEEP_ID") else "offline"


class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger`` with the mode taken from the environment (:func:`wandb_mode`).

    Args:
        offline: ``None`` (default): follow the environment; ``True``/``False``: offline/online.
        project: W&B project; default ``WANDB_PROJECT`` (an agent sets it to the sweep's), else
            ``'rlnet'``.
        id: run id; default ``WANDB_RUN_ID`` (an agent sets it to the run it hands out).
        **kwargs: as Lightning's ``WandbLogger`` (``name``, ``save_dir``, ``log_model``, ...).

    Example::

        >>> from rlnet.loggers import wandb_mode
        >>> wandb_mode({"WANDB_SWEEP_ID": "abc123", "WANDB_RUN_ID": "r1"})   # what `wandb agent` sets
        'online'
        >>> wandb_mode({})
        'offline'
    """

    def __init__(self, offline: bool | None = None, project: str | None = None, id: str | None = None,
                 **kwargs: Any) -> None:
        mode = wandb_mode() if offline is None else ("offline" if offline else "online")
        if mode == "offline" and kwargs.get("log_model"):
            raise ValueError("log_model needs an online W&B run; it cannot upload checkpoints offline")
        self.mode = mode
        project = project or os.environ.get("WANDB_PROJECT") or "rlnet"
        run_id = id or kwargs.pop("version", None) or os.environ.get("WANDB_RUN_ID") or None
        # offline=False: Lightning must not set WANDB_MODE=dryrun; wandb.init gets the mode instead.
        super().__init__(offline=False, project=project, id=run_id, mode=mode, **kwargs)

    @property
    def offline(self) -> bool:
        return self.mode != "online"
