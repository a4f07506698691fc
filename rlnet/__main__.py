"""``python -m rlnet``: see :mod:`rlnet.cli`."""

import sys

from rlnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
