"""``python -m rlnet``: the subcommands of :mod:`rlnet.commands` (``--help`` lists them)."""

import sys

from rlnet.commands import main

if __name__ == "__main__":
    sys.exit(main())
