"""rlnet's command line: ``python -m rlnet fit --config configs/dms_lowrank.yaml``.

A LightningCLI (jsonargparse) in the torchgeo shape: :func:`main` takes the argument list, so
tests run it in-process. Lightning's subcommands run here; the others (``sweep``, ``report``,
``spectra``, ``configs``) and ``--help`` go through the one table in :mod:`rlnet.commands`.
``--config`` also takes the shipped files by name (:mod:`rlnet.resources`).
"""

from __future__ import annotations

import errno
import math
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

from rlnet import commands
from rlnet.callbacks.base import MeasuringCallback
from rlnet.callbacks.laziness import LazinessCallback
from rlnet.callbacks.preemption import CheckpointOnSigterm
from rlnet.checkpoint_io import use_atomic_checkpoints
from rlnet.memory import available_memory, check_fits, device_available_memory, fit_parts
from rlnet.resources import resolve_config_args
from rlnet.safe_io import check_state_dict_matches, load_checkpoint


class UserError(Exception):
    """An error the user can fix (bad config, bad file): printed as one line, exit status 2."""


# Online to the agent's run under `wandb agent` (or WANDB_MODE=online), offline otherwise: rlnet.loggers.
DEFAULT_LOGGER = {"class_path": "rlnet.loggers.WandbLogger", "init_args": {}}


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
        held = self.__dict__.pop("_held_ckpt_path", None)
        if held is not None:
            cfg["ckpt_path"] = held
        if cfg.num_threads < 1:
            raise UserError(f"num_threads must be >= 1, got {cfg.num_threads}")
        torch.set_num_threads(cfg.num_threads)
        apply_seed_everything(cfg)
        if cfg.run_name is not None and (cfg.run_name in ("", ".", "..") or "/" in cfg.run_name
                                         or os.sep in cfg.run_name or "\x00" in cfg.run_name):
            # a name, not a path: runs/<name> must stay under runs/ (use default_root_dir for a path)
            raise UserError(f"run_name {cfg.run_name!r} must be a plain name (no '/', not '.' or '..'); "
                            f"give trainer.default_root_dir for a directory elsewhere")
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
        _check_weight_memory(cfg)
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
        use_atomic_checkpoints(self.trainer)  # temporary file in the same folder, renamed
        self._add_periodic_checkpoint(cfg)
        lc = self._laziness_callback()
        if lc is not None:
            # The resolved config of this subcommand, as `--print_config` shows it (jsonargparse's public dump).
            lc.config = (yaml.safe_load(self.parser.dump(self.config, skip_none=False))[self.subcommand]
                         if self.subcommand else None)

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

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        # Right after parsing, LightningCLI reads the checkpoint's hyperparameters: load it safely
        # first, so that a missing, truncated or code-carrying file is one clear line.
        super().parse_arguments(parser, args)
        sub = self.config.get("subcommand")
        ckpt = self.config[sub].get("ckpt_path") if sub else None
        if ckpt and ckpt not in ("last", "best", "hpc", "registry"):
            try:
                load_checkpoint(ckpt)
            except ValueError as err:
                raise UserError(str(err)) from err
        # Lightning's own _parse_ckpt_path, next, merges the checkpoint's hyper_parameters into the
        # config, importing the class its '_class_path' names and overriding what the command line set
        # without a word. A checkpoint is data: hold the path back here, put it back in
        # before_instantiate_classes, and let before_fit compare the settings instead.
        if ckpt is not None:
            self._held_ckpt_path = ckpt
            self.config[sub]["ckpt_path"] = None

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
                loaded = load_checkpoint(ckpt)
                check_state_dict_matches(loaded["state_dict"], self.model.state_dict(), f"checkpoint {ckpt}")
            except ValueError as err:
                raise UserError(str(err)) from err
            self._check_resumed_settings(ckpt, loaded)
        self._check_fit_memory()
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

    def _check_resumed_settings(self, ckpt: str, loaded: dict) -> None:
        """``UserError`` naming every setting the checkpoint fixes that this command changes: the
        model's hyper-parameters saved in the checkpoint, and (when the checkpoint lies in a run
        directory, ``<run>/checkpoints/``) the model, data and seed sections of ``<run>/config.yaml``.
        Lightning would silently keep the checkpoint's values (the optimiser state carries the old
        learning rate) or mix them."""
        now_cfg = self._dumped_config()
        changed: list[str] = []
        saved = loaded.get("hyper_parameters")
        if isinstance(saved, dict):
            hp = dict(self.model.hparams)
            cls_saved, cls_now = saved.get("_class_path"), str((now_cfg.get("model") or {}).get("class_path", ""))
            if isinstance(cls_saved, str) and cls_now and cls_saved != cls_now:
                changed.append(f"model.class_path (checkpoint {cls_saved}, now {cls_now})")
            for k in sorted(set(saved) | set(hp)):
                if k.startswith("_") or k in _RESUME_MAY_CHANGE or cls_saved not in (None, cls_now):
                    continue
                if _canon(saved.get(k)) != _canon(hp.get(k)):
                    changed.append(f"model.init_args.{k} (checkpoint {saved.get(k)!r}, now {hp.get(k)!r})")
        p = Path(ckpt).absolute()
        run_cfg = p.parent.parent / "config.yaml"
        if p.parent.name == "checkpoints" and run_cfg.is_file():
            try:
                old = yaml.safe_load(run_cfg.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                old = None
            if isinstance(old, dict):
                diffs: list[tuple[str, object, object]] = []
                for top in ("model", "data", "seed_everything"):
                    _differences(old.get(top), now_cfg.get(top), top, diffs)
                for k, a, b in diffs:
                    if not any(c.startswith(f"{k} ") for c in changed):
                        changed.append(f"{k} (checkpoint's run {_short_repr(a)}, now {_short_repr(b)})")
        if changed:
            raise UserError(f"checkpoint {ckpt} fixes settings that this command changes: {'; '.join(changed)}; "
                            f"refused (resume with the run's own settings, e.g. --config {run_cfg}, or start a "
                            f"new run in another directory)")

    def _dumped_config(self) -> dict:
        try:
            sub = self.parser._subcommands_action._name_parser_map[self.subcommand]
            out = yaml.safe_load(sub.dump(self.config[self.subcommand], skip_none=False))
        except Exception:  # a config jsonargparse cannot dump: compare the hyper-parameters only
            return {}
        return out if isinstance(out, dict) else {}

    def _check_fit_memory(self) -> None:
        """Refuse a run whose activations, probe and kernels cannot fit, before the first batch."""
        model, dm = self.model, self.datamodule
        n_members = getattr(model, "n_members", None)
        n_hidden = getattr(model, "hparams", {}).get("n_hidden")
        if not isinstance(n_members, int) or not isinstance(n_hidden, int):
            return
        lc = self._laziness_callback()
        params = list(model.parameters())
        parts = fit_parts(sum(q.numel() for q in params), n_members, n_hidden,
                          seq_len=getattr(dm, "seq_len", None), batch_size=getattr(dm, "batch_size", None),
                          n_probe=getattr(dm, "n_probe", None), kernel_trials=getattr(lc, "kernel_trials", None),
                          n_output=model.hparams.get("n_output"), n_val=getattr(dm, "n_val", None),
                          bytes_per=params[0].element_size() if params else 4,
                          kernel_steps=getattr(lc, "kernel_steps", "all"))
        parts["weights"] -= sum(q.numel() * q.element_size() for q in params)  # already allocated
        # Every other measuring callback (kernel tracking) keeps its own K_0 and computes its own K_t.
        for cb in self.trainer.callbacks:
            if isinstance(cb, MeasuringCallback) and cb is not lc:
                extra = fit_parts(0, n_members, n_hidden, seq_len=getattr(dm, "seq_len", None),
                                  n_probe=getattr(dm, "n_probe", None), kernel_trials=cb.kernel_trials,
                                  n_output=model.hparams.get("n_output"),
                                  kernel_steps=cb.kernel_steps).get("tangent kernels", 0)
                key = f"tangent kernels ({type(cb).__name__})"
                parts[key] = parts.get(key, 0) + extra
        device = self.trainer.strategy.root_device
        try:
            check_fits(parts, device_available_memory(device), _MEMORY_HINT,
                       where="GPU memory" if device.type == "cuda" else "memory")
        except ValueError as err:
            raise UserError(str(err)) from err

    def _laziness_callback(self) -> LazinessCallback | None:
        for cb in self.trainer.callbacks:
            if isinstance(cb, LazinessCallback):
                return cb
        return None


def apply_seed_everything(cfg: Namespace) -> list[str]:
    """Lightning's ``seed_everything`` seeds what the run draws: every ``seed`` of the model and the
    data left unset (``None``) becomes ``seed_everything``, so ``--seed_everything 5`` trains the
    networks of seed 5 on the data stream of seed 5. A seed given explicitly (``model.init_args.seed``,
    ``model.init_args.seeds``, ``data.init_args.seed``) wins; when it differs from
    ``seed_everything`` one line says so. ``seed_everything: false`` leaves the seeds unset (the
    classes then use 0). Returns the lines logged."""
    from lightning.pytorch.utilities import rank_zero_info

    seed = cfg.get("seed_everything")
    if seed is None or isinstance(seed, bool):  # false: no seeding; true was replaced by Lightning's draw
        return []
    seed, said = int(seed), []
    for section in ("model", "data"):
        part = cfg.get(section)
        init = part.get("init_args") if part is not None else None
        if init is None or "seed" not in init:
            continue
        explicit = init.get("seeds") if section == "model" else None
        if explicit is not None:
            if list(explicit) != [seed + e for e in range(len(explicit))]:
                said.append(f"{section}.init_args.seeds={list(explicit)} set the initial weights; "
                            f"seed_everything={seed} does not change them")
        elif init["seed"] is None:
            init["seed"] = seed
        elif int(init["seed"]) != seed:
            said.append(f"{section}.init_args.seed={init['seed']} wins over seed_everything={seed} "
                        f"(explicit seeds win; leave it out to follow seed_everything)")
    for line in said:
        rank_zero_info(f"rlnet: {line}")
    return said


def build_cli(args: Sequence[str], run: bool = True) -> RLNetCLI:
    from lightning import LightningDataModule, LightningModule

    import rlnet.data
    import rlnet.models  # noqa: F401  (imported subclasses resolve by short name: --model RNNModule)

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
    if not args or args[0] in ("-h", "--help") or commands.SUBCOMMANDS.get(args[0], (commands.LIGHTNING,))[0] \
            != commands.LIGHTNING:
        return commands.main(args)  # the subcommand table, and the subcommands with their own modules
    args = resolve_config_args(args)  # --config dms_lowrank, rlnet://configs/..., configs/... from anywhere
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        check_config_files(args)
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
    except UnicodeDecodeError as err:  # a file named in a setting (e.g. --model model.yaml) is binary
        print(f"rlnet: error: a file given in the arguments is not UTF-8 text ({err.reason} at offset {err.start})",
              file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in _STORAGE_ERRNOS:
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(f"rlnet: error: {err.strerror}{where}; files already complete (the last checkpoint, finished "
              f"results) are kept", file=sys.stderr)
        return 2
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


_MEMORY_HINT = "reduce model.n_members, model.n_hidden, data.batch_size or laziness.kernel_trials"
# Settings a resumed run may change: how it runs, not what it computes.
_RESUME_MAY_CHANGE = ("bptt", "num_workers", "verbose")


def _members(init: Namespace | dict) -> int | None:
    """The member count a model section asks for (seeds x structures), without building it."""
    get = init.get
    seeds, conns, n = get("seeds"), get("connectivities"), get("n_members", 1)
    try:
        base = len(seeds) if seeds else int(n)
        if conns and get("pairing", "product") == "product":
            return base * len(conns)
        return base
    except (TypeError, ValueError):
        return None


def _check_weight_memory(cfg: Namespace) -> None:
    """Before anything is built: a lower bound of the run's memory from the config alone (the weights,
    ``members x N^2`` for an RNN; the activations, probe and kernels over the trial length the data
    section states, :func:`_config_seq_len`, with two outputs) must fit. Drawing a million small
    networks' weights takes minutes, so a run that cannot fit is refused before it."""
    model = cfg.get("model")
    init = model.get("init_args") if model is not None and hasattr(model, "get") else None
    if init is None or not hasattr(init, "get"):
        return
    E, N = _members(init), init.get("n_hidden")
    if not isinstance(E, int) or not isinstance(N, int) or E < 1 or N < 1:
        return  # the model's own checks name the problem
    if "RNN" in str(model.get("class_path", "")):
        n_params = E * N * N
    else:
        ins = [v for v in (init.get("n_input"), init.get("n_output")) if isinstance(v, int) and v > 0]
        n_params = E * N * sum(ins)
    data = cfg.get("data")
    dinit = data.get("init_args") if data is not None and hasattr(data, "get") else None
    dget = dinit.get if dinit is not None and hasattr(dinit, "get") else (lambda k, d=None: d)
    lazy = cfg.get("laziness")
    kt = lazy.get("kernel_trials") if lazy is not None and hasattr(lazy, "get") else None
    # sMNIST's kernel covers the last step only: counting every step (28x the rows) refused a
    # packed sMNIST job of 8 networks that needs 0.5 GB for its kernels, not 16
    ks = lazy.get("kernel_steps") if lazy is not None and hasattr(lazy, "get") else None
    ks = ks if ks in ("all", "last") else "all"

    def pos(v: object) -> int | None:
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

    # One step first, then the stated trial length: a run that fails only the second is too long a
    # trial, which is what its message then says.
    T = _config_seq_len(data)
    for steps in sorted({1, T}):
        parts = fit_parts(n_params, E, N, seq_len=steps, batch_size=pos(dget("batch_size")),
                          n_probe=pos(dget("n_probe")), kernel_trials=pos(kt), n_output=2, n_val=pos(dget("n_val")),
                          kernel_steps=ks)
        hint = _MEMORY_HINT
        if steps > 1:
            dt = dget("dt")
            hint += f", or shorten its trials of {steps:.3g} steps" + (
                f" (data.dt={dt}: increase data.dt)" if dt is not None else "")
        try:
            check_fits(parts, available_memory(), hint)
        except ValueError as err:
            raise UserError(str(err)) from err


def _config_seq_len(data: object) -> int:
    """The trial length the data section states, from its class's ``config_seq_len`` (1, a lower
    bound, where the class has none). Only a class the parser has already imported is consulted."""
    if data is None or not hasattr(data, "get") or not isinstance(data.get("class_path"), str):
        return 1
    module, _, name = data.get("class_path").rpartition(".")
    fn = getattr(getattr(sys.modules.get(module), name, None), "config_seq_len", None)
    init = data.get("init_args")
    if fn is None or init is None:
        return 1
    try:
        steps = fn(init.as_dict() if hasattr(init, "as_dict") else dict(init))
    except (TypeError, ValueError):
        return 1
    return steps if isinstance(steps, int) and steps >= 1 else 1


def _canon(v: object) -> object:
    """A comparable form: tuples as lists, ints and equal floats alike."""
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _canon(x) for k, x in v.items()}
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return v


def _differences(a: object, b: object, key: str, out: list[tuple[str, object, object]]) -> None:
    """Append ``(dotted key, a's value, b's value)`` for each place where two configs differ: the
    deepest key where both are mappings, else the whole value (a section added or removed is one
    entry). Keys in ``_RESUME_MAY_CHANGE`` are left out."""
    if key.rsplit(".", 1)[-1] in _RESUME_MAY_CHANGE:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _differences(a.get(k), b.get(k), f"{key}.{k}", out)
    elif _canon(a) != _canon(b):
        out.append((key, a, b))


def _short_repr(v: object, n: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."


_MAX_CONFIG_BYTES = 16 * 2**20
_MAX_CONFIG_VALUES = 100_000


def _config_paths(args: list[str]) -> list[str]:
    paths = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    return paths + [a.split("=", 1)[1] for a in args if a.startswith("--config=")]


def check_config_files(args: list[str]) -> None:
    """``UserError`` for a ``--config`` file that is not a YAML mapping of finite settings: binary,
    huge, an alias bomb, empty, a list or a scalar, or holding ``.inf``/``.nan``. Missing files are
    left to the parser, which names them."""
    for path in _config_paths(args):
        p = Path(path)
        try:
            if not p.exists():
                continue  # the parser names a missing file
            if not p.is_file():  # reading a FIFO would block for ever, a device never end
                raise UserError(f"config {path} is not a regular file (a directory, FIFO or device)")
            size = p.stat().st_size
            if size > _MAX_CONFIG_BYTES:
                raise UserError(f"config {path} is {size} bytes; a config is a small YAML text file")
            raw = p.read_bytes()
        except OSError as err:
            raise UserError(f"config {path} cannot be read ({err.strerror or err})") from err
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UserError(f"config {path} is not a text file (byte 0x{raw[err.start]:02x} at offset {err.start} "
                            f"is not UTF-8)") from err
        if "\x00" in text:
            raise UserError(f"config {path} is not a text file (it holds NUL bytes)")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue  # the parser's error path names the line and column (_yaml_problem)
        if node is not None and _expanded_size(node, {}) > _MAX_CONFIG_VALUES:
            raise UserError(f"config {path} expands to more than {_MAX_CONFIG_VALUES} values through YAML aliases "
                            f"(an alias bomb?); refused")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if data is None:
            raise UserError(f"config {path} is empty; expected settings such as model:, data:, trainer:")
        if not isinstance(data, dict):
            shown = _first_line(repr(data))[:60]
            raise UserError(f"config {path} holds a {type(data).__name__} ({shown}), not a mapping of settings "
                            f"(model:, data:, trainer:, ...)")
        bad = _non_finite(data, "")
        if bad is not None:
            raise UserError(f"config {path}: {bad[0]} is {bad[1]}; settings must be finite numbers")


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Values a composed YAML document holds once its aliases are expanded (memoised by node)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        n = 1
    memo[key] = min(n, 2**62)
    return memo[key]


def _non_finite(v: object, key: str) -> tuple[str, str] | None:
    if isinstance(v, float) and not math.isfinite(v):
        return key or "the config", ".nan" if math.isnan(v) else (".inf" if v > 0 else "-.inf")
    if isinstance(v, dict):
        for k, x in v.items():
            found = _non_finite(x, f"{key}.{k}" if key else str(k))
            if found:
                return found
    if isinstance(v, list):
        for i, x in enumerate(v):
            found = _non_finite(x, f"{key}[{i}]")
            if found:
                return found
    return None


# Errors of the machine, not of the code: a full disk or a read-only folder while a run writes.
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM)


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
