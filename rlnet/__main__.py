"""``python -m rlnet``: see :mod:`rlnet.cli`."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("sweep", "report"):
        # These need neither Lightning nor torch at start-up: skip importing the CLI (seconds).
        import importlib

        sys.exit(int(importlib.import_module(f"rlnet.experiments.{sys.argv[1]}").main(sys.argv[2:]) or 0))
    from rlnet.cli import main

    sys.exit(main())
