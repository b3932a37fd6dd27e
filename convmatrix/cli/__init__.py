"""The ``convmatrix`` command line: a thin layer over the library.

Each sub-command lives in its own module of this package, which defines
``register(subparsers)``; nothing is computed at import time.  User mistakes
(``ValueError``/``TypeError`` from the library, bad arguments) go to stderr
with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Modules of ``convmatrix.cli`` that register sub-commands, in help order.
COMMAND_MODULES = ("tour", "conv", "transposed", "resample", "deconvnet", "batchnorm")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="convmatrix",
        description="Convolution layers as explicit sparse matrices, and what follows from them.",
    )
    parser.add_argument("--version", action="version", version=f"convmatrix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["conv", "--kernel", "[1, 2, 3]", "--input-size", "3", "--padding", "1"])
    conv: weight (1, 1, 3), input (1, 3) -> output (1, 3)
    3 x 3 int64 CSR matrix, 7 stored entries (density 0.7778), 100 bytes
    [[2 3 0]
     [1 2 3]
     [0 1 2]]
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        status = args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"convmatrix {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0 if status is None else int(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
