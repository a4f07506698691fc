"""Argument parsing shared by the ``rlnet`` subcommands that have their own parser (sweep, report)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def parse_cli_args(parser: Any, args: Sequence[str] | None) -> Any:
    """``parser.parse_args(args)`` (``sys.argv[1:]`` for ``None``); ``ArgumentError`` -> ``ValueError(first line)``."""
    from jsonargparse import ArgumentError

    try:
        return parser.parse_args(list(sys.argv[1:] if args is None else args))
    except ArgumentError as err:
        raise ValueError(str(err).splitlines()[0]) from err
