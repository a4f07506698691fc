"""rlnet's command line: ``python -m rlnet fit --config configs/dms_lowrank.yaml``.

A LightningCLI (jsonargparse) in the torchgeo shape: :func:`main` takes the argument list, so
tests run it in-process. Besides Lightning's ``fit/validate/test`` it dispatches ``sweep`` and
``report`` (see :mod:`rlnet.sweep` and :mod:`rlnet.report`) when those modules are present.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from rlnet.callbacks.laziness import LazinessCallback


class UserError(Exception):
    """An error the user can fix (bad config, bad file): printed as one line, exit status 2."""


DEFAULT_LOGGER = {
    "class_path": "lightning.pytorch.loggers.WandbLogger",
    "init_args": {"offline": True, "project": "rlnet"},
}


class RLNetCLI(LightningCLI):
    """LightningCLI with the laziness callback always present (configurable under ``laziness:``),
    task sizes linked from the DataModule into the model, and one directory per run."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(LazinessCallback, "laziness")
        parser.add_argument("--num_threads", type=int, default=1,
                            help="torch threads per process (1 is fastest for small RNNs; see README)")
        parser.add_argument("--run_name", type=str | None, default=None,
                            help="run directory name under runs/ (default: config name + time)")
        for size in ("n_input", "n_output"):
            parser.link_arguments(f"data.{size}", f"model.init_args.{size}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        if cfg.num_threads < 1:
            raise UserError(f"num_threads must be >= 1, got {cfg.num_threads}")
        torch.set_num_threads(cfg.num_threads)
        trainer = cfg.trainer
        if trainer.default_root_dir in (None, "", os.getcwd(), "."):
            stem = "run"
            configs = cfg.get("config") or []
            if configs:
                stem = Path(str(configs[-1])).stem
            name = cfg.run_name or f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            trainer.default_root_dir = str(Path("runs") / name)
        logger = trainer.logger
        if isinstance(logger, dict) or hasattr(logger, "class_path"):
            if "WandbLogger" in str(logger["class_path"]):
                init = logger.get("init_args")
                if init is not None and init.get("save_dir") in (None, ".", ""):
                    init["save_dir"] = trainer.default_root_dir

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, FileNotFoundError) as err:
            root = _innermost_error(err)
            raise UserError(str(root).splitlines()[0] if str(root) else type(root).__name__) from err
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        lc = self._laziness_callback()
        if lc is not None:
            lc.config = yaml.safe_load(self.parser._subcommands_action._name_parser_map[self.subcommand]
                                       .dump(cfg, skip_none=False)) if self.subcommand else None

    def _laziness_callback(self) -> LazinessCallback | None:
        for cb in self.trainer.callbacks:
            if isinstance(cb, LazinessCallback):
                return cb
        return None


def _dispatch_extra(args: list[str]) -> int | None:
    """``sweep``, ``report`` and ``spectra`` subcommands, provided by their own modules."""
    if args and args[0] in ("sweep", "report", "spectra"):
        import importlib

        mod = importlib.import_module(f"rlnet.{args[0]}")
        return int(mod.main(args[1:]) or 0)
    return None


def build_cli(args: Sequence[str], run: bool = True) -> RLNetCLI:
    from lightning import LightningDataModule, LightningModule

    return RLNetCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults={"logger": DEFAULT_LOGGER, "enable_model_summary": False,
                          "log_every_n_steps": 100},
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"parser_mode": "omegaconf+", "exit_on_error": False},
        seed_everything_default=0,
        args=list(args),
        run=run,
    )


def main(args: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 for an error the user can fix)."""
    args = list(sys.argv[1:] if args is None else args)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        extra = _dispatch_extra(args)
        if extra is not None:
            return extra
        build_cli(args)
    except UserError as err:
        print(f"rlnet: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as err:  # --help, --print_config, and jsonargparse's own exits
        return int(err.code or 0) if isinstance(err.code, int) else 2
    except Exception as err:
        from jsonargparse import ArgumentError

        if isinstance(err, ArgumentError):
            print(f"rlnet: error: {_first_line(str(err))}", file=sys.stderr)
            return 2
        raise
    return 0


def _innermost_error(err: BaseException) -> BaseException:
    """The deepest user-fixable error in ``err``'s chain: jsonargparse wraps a class's own ``ValueError``
    (e.g. a bad EM file) in "Does not validate against any of the Union subtypes"."""
    found, seen = err, set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (ValueError, TypeError, FileNotFoundError)):
            found = cur
        cur = cur.__cause__ or cur.__context__
    return found


def _first_line(msg: str) -> str:
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    return lines[0] if lines else msg
