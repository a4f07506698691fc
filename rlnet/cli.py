"""rlnet's command line: ``python -m rlnet fit --config configs/dms_lowrank.yaml``.

A LightningCLI (jsonargparse) in the torchgeo shape: :func:`main` takes the argument list, so
tests run it in-process. Besides Lightning's ``fit/validate/test`` it dispatches ``sweep`` and
``report`` (see :mod:`rlnet.experiments.sweep` and :mod:`rlnet.experiments.report`) when those modules are present.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from rlnet.callbacks.laziness import LazinessCallback
from rlnet.callbacks.preemption import CheckpointOnSigterm
from rlnet.safe_io import check_state_dict_matches, load_checkpoint


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
        parser.add_argument("--checkpoint_every", type=int, default=1000,
                            help="save <run dir>/checkpoints/last.ckpt every k training steps, to resume "
                                 "with --ckpt_path last (0: Lightning's default checkpointing)")
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
        if trainer.enable_progress_bar is not False:
            # A bar redrawn every step costs ~0.5 ms of a ~3 ms step and floods logs.
            bar = Namespace(class_path="lightning.pytorch.callbacks.TQDMProgressBar",
                            init_args=Namespace(refresh_rate=100, leave=False))
            cbs = list(trainer.callbacks or [])
            if not any("ProgressBar" in str(getattr(c, "class_path", "")) for c in cbs):
                trainer.callbacks = [*cbs, bar]
        _check_writable_dir(trainer.default_root_dir, "trainer.default_root_dir")
        if cfg.get("checkpoint_every", 0) < 0:
            raise UserError(f"checkpoint_every must be >= 0, got {cfg.checkpoint_every}")
        logger = trainer.logger
        if isinstance(logger, dict) or hasattr(logger, "class_path"):
            if "WandbLogger" in str(logger["class_path"]):
                init = logger.get("init_args")
                if init is not None and init.get("save_dir") in (None, ".", ""):
                    init["save_dir"] = trainer.default_root_dir

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, FileNotFoundError, MisconfigurationException) as err:
            raise UserError(describe_error(err)) from err
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        self._add_periodic_checkpoint(cfg)
        lc = self._laziness_callback()
        if lc is not None:
            lc.config = yaml.safe_load(self.parser._subcommands_action._name_parser_map[self.subcommand]
                                       .dump(cfg, skip_none=False)) if self.subcommand else None

    def _add_periodic_checkpoint(self, cfg) -> None:
        """Replace Lightning's default checkpoint (end of epoch, in the logger's directory) with one
        every ``checkpoint_every`` steps to ``<run dir>/checkpoints/last.ckpt`` (atomic: Lightning
        writes a temporary file and renames it), which ``--ckpt_path last`` finds on resume. A
        ModelCheckpoint the user configured is left alone."""
        every = int(cfg.get("checkpoint_every", 0) or 0)
        cbs = self.trainer.callbacks
        idx = [i for i, cb in enumerate(cbs) if isinstance(cb, ModelCheckpoint)]
        user_defined = "ModelCheckpoint" in str(cfg.trainer.get("callbacks"))
        if every <= 0 or len(idx) != 1 or user_defined:
            return
        ckpt_dir = Path(self.trainer.default_root_dir) / "checkpoints"
        cbs[idx[0]] = ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=every, save_top_k=0, save_last=True,
                                      enable_version_counter=False)
        cbs.append(CheckpointOnSigterm(ckpt_dir / "last.ckpt"))

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads the checkpoint's hyperparameters here, before anything else: load it
        # safely first, so that a missing, truncated or code-carrying file is one clear line.
        sub = self.config.get("subcommand")
        ckpt = self.config[sub].get("ckpt_path") if sub else None
        if ckpt and ckpt not in ("last", "best", "hpc", "registry"):
            try:
                load_checkpoint(ckpt)
            except ValueError as err:
                raise UserError(str(err)) from err
        super()._parse_ckpt_path()

    def before_fit(self) -> None:
        """Check what fit will load before anything is written: the checkpoint (safely, and that it
        fits the model) and the measured weights."""
        cfg = self.config_init[self.subcommand]
        if cfg.get("weights_only") is None:
            cfg["weights_only"] = True  # checkpoints never execute code (see rlnet.safe_io)
        elif not cfg["weights_only"]:
            raise UserError("weights_only=false would let a checkpoint execute code; rlnet refuses it")
        ckpt = cfg.get("ckpt_path")
        if ckpt == "last":
            last = Path(self.trainer.default_root_dir) / "checkpoints" / "last.ckpt"
            if last.exists():
                ckpt = cfg["ckpt_path"] = str(last)
            else:  # a user-configured ModelCheckpoint elsewhere, or nothing yet: step 0 (Lightning warns)
                ckpt = None
        elif ckpt in ("best", "hpc", "registry"):
            raise UserError(f"ckpt_path={ckpt!r} is not supported by rlnet; give a file or 'last'")
        if ckpt is not None:
            try:
                state = load_checkpoint(ckpt)["state_dict"]
                check_state_dict_matches(state, self.model.state_dict(), f"checkpoint {ckpt}")
            except ValueError as err:
                raise UserError(str(err)) from err
        lc = self._laziness_callback()
        if lc is not None and cfg.get("ckpt_path") is None:
            done = Path(self.trainer.default_root_dir) / lc.filename
            if done.exists():  # never overwrite a finished run's results by accident
                raise UserError(f"{done} already holds a finished run's results; choose another "
                                f"trainer.default_root_dir (or --ckpt_path last to resume and re-measure it)")
        if lc is not None and hasattr(self.model, "laziness_weights"):
            known = sorted(self.model.laziness_weights())
            listed = lc.weights
            if listed is None:  # the callback's default: the module's own choice
                listed = getattr(self.model, "laziness_defaults", {}).get("weights")
            unknown = [w for w in listed or [] if w not in known]
            if unknown:
                raise UserError(f"laziness.weights {unknown} not among the model's weights {known}")

    def _laziness_callback(self) -> LazinessCallback | None:
        for cb in self.trainer.callbacks:
            if isinstance(cb, LazinessCallback):
                return cb
        return None


EXTRA_SUBCOMMANDS = {"sweep": "rlnet.experiments.sweep", "report": "rlnet.experiments.report",
                     "spectra": "rlnet.spectra"}


def _dispatch_extra(args: list[str]) -> int | None:
    """``sweep``, ``report`` and ``spectra`` subcommands, provided by their own modules."""
    if args and args[0] in EXTRA_SUBCOMMANDS:
        import importlib

        mod = importlib.import_module(EXTRA_SUBCOMMANDS[args[0]])
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
        argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when argv and args both hold arguments
        try:
            build_cli(args)
        finally:
            sys.argv = argv
    except UserError as err:
        print(f"rlnet: error: {err}", file=sys.stderr)
        return 2
    except SIGTERMException:
        print("rlnet: stopped by SIGTERM; its last checkpoint is saved: rerun with --ckpt_path last to resume",
              file=sys.stderr)
        return 128 + signal.SIGTERM
    except SystemExit as err:  # --help, --print_config, and jsonargparse's own exits
        return int(err.code or 0) if isinstance(err.code, int) else 2
    except Exception as err:
        from jsonargparse import ArgumentError

        if isinstance(err, ArgumentError):
            msg = describe_error(err)
            if str(err).startswith("Problems parsing config"):
                msg = _yaml_problem(args) or msg
            print(f"rlnet: error: {msg}", file=sys.stderr)
            return 2
        raise
    return 0


def _check_writable_dir(path: str, field: str) -> None:
    """``UserError`` unless ``path`` is, or can be created as, a writable directory (checked
    without creating anything)."""
    p = Path(path).absolute()
    if p.exists() and not p.is_dir():
        raise UserError(f"{field}={path} exists and is not a directory")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{field}={path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{field}={path}: {probe} is not writable")


_WRAPPER = re.compile(r'^(Parser key "|Does not validate against any|Problem with given class_path|'
                      r"Problems parsing config|Configuration check failed)")


def describe_error(err: BaseException) -> str:
    """One line for a (jsonargparse-wrapped) error: the dotted key path collected from the
    ``Parser key "..."`` wrappers along the exception chain, then the message of the first error
    that is not such a wrapper (rlnet's own ``ValueError`` or jsonargparse's innermost complaint),
    e.g. ``model.n_hidden: Expected a <class 'int'>. Got value: abc``."""
    keys: list[str] = []
    e: BaseException | None = err
    last = err
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        first = _first_line(str(e))
        m = re.match(r'Parser key "([^"]+)":', first)
        if m and (not keys or keys[-1] != m.group(1)):
            keys.append(m.group(1))
        last = e
        if not _WRAPPER.match(first):
            break
        e = e.__cause__ or e.__context__
    text = str(last)
    if text.startswith("Parser key") and ":" in text:
        text = text.split(":", 1)[1]
    msg = _first_line(text) or type(last).__name__
    if msg.startswith("- "):  # several alternatives failed: report the class that could not be built
        found = re.findall(r"Problem with given class_path '([^']+)':\s*\n\s*(.+)", str(err))
        msg = f"class_path '{found[-1][0]}': {found[-1][1].strip()}" if found else msg[2:]
    if "'NoneType' object" in msg:  # jsonargparse's words for an empty section
        msg = "a section is empty where settings were expected (truncated or incomplete config?)"
    prefix = ".".join(keys)
    return f"{prefix}: {msg}" if prefix and prefix not in msg else msg


def _yaml_problem(args: list[str]) -> str | None:
    """Name the ``--config`` file that is not valid YAML (safe loader: no Python tags), with the
    line and column of the problem."""
    paths = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    paths += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    for path in paths:
        try:
            yaml.safe_load(Path(path).read_text())
        except OSError:
            continue
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(err, "problem", None) or _first_line(str(err))
            return f"config {path} is not valid YAML: {problem}{where}"
    return None


def _first_line(msg: str) -> str:
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    return lines[0] if lines else msg
