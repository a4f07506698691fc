"""rlnet's subcommands, in one table: ``python -m rlnet --help`` and the dispatch read it.

Printing the help and running ``configs``, ``sweep`` or ``report`` import neither torch nor
Lightning: only the chosen subcommand's module is imported, when it runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# name -> (module whose ``main(args) -> int`` runs it, one line of help). Lightning's own
# subcommands go to the LightningCLI (rlnet.cli), which takes the whole argument list.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("rlnet.cli", "train a model and write its laziness measures (metrics.json)"),
    "validate": ("rlnet.cli", "evaluate a model (e.g. a checkpoint: --ckpt_path) on the validation data"),
    "test": ("rlnet.cli", "Lightning's test loop, for modules with a test_step (rlnet's models have none)"),
    "predict": ("rlnet.cli", "Lightning's predict loop, for datamodules with a predict_dataloader"),
    "sweep": ("rlnet.experiments.sweep", "run a W&B-format sweep file locally into a results table"),
    "report": ("rlnet.experiments.report", "tables, statistics and figures from a results table or run folders"),
    "paper": ("rlnet.experiments.paper", "every sweep of the paper by parts (resumable), then the table of claims"),
    "spectra": ("rlnet.spectra", "eigenvalue spectra of every connectivity structure (Fig. 2)"),
    "configs": ("rlnet.resources", "list the configs, sweeps and callback presets shipped with rlnet"),
}
LIGHTNING = "rlnet.cli"


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return (
        "usage: rlnet SUBCOMMAND [ARGS]   (or python -m rlnet SUBCOMMAND [ARGS])\n\n"
        "How initial connectivity shapes rich and lazy learning (Liu et al., ICLR 2024).\n\n"
        f"subcommands:\n{rows}\n\n"
        "`rlnet SUBCOMMAND --help` describes one, e.g. `rlnet fit --help`, `rlnet fit --model.help RNNModule`.\n"
        "Quick start: rlnet fit --config configs/dms_lowrank.yaml   (`rlnet configs` lists the shipped files)"
    )


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``rlnet`` and ``python -m rlnet``; returns the exit status."""
    args = list(sys.argv[1:] if args is None else args)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    name = args[0]
    if name not in SUBCOMMANDS and not name.startswith("-"):
        print(f"rlnet: error: unknown subcommand {name!r}; choose from {', '.join(SUBCOMMANDS)} (rlnet --help)",
              file=sys.stderr)
        return 2
    module = SUBCOMMANDS.get(name, (LIGHTNING, ""))[0]
    if module == LIGHTNING:  # Lightning's subcommands, and its own errors for unknown ones
        return int(importlib.import_module(LIGHTNING).main(args) or 0)
    return int(importlib.import_module(module).main(args[1:]) or 0)
