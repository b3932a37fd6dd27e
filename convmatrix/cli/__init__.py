"""The ``convmatrix`` command line: a thin layer over the library.

Each sub-command lives in its own module of this package, which defines
``register(subparsers)``; nothing is computed at import time.

What the user sees when something goes wrong:

* a user mistake — a bad value (the library's :class:`~convmatrix.InputError`,
  which names the parameter), a bad, empty or wrong-kind file, a size over the
  limit, an unknown extension — is one line on stderr that names the option,
  and exit status 2, with no traceback;
* a bug in the library is *not* caught: its traceback shows;
* a closed pipe (``convmatrix tour | head -1``) ends quietly, with the exit
  status of a process killed by SIGPIPE (141), as ``yes | head`` does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

#: Modules of ``convmatrix.cli`` that register sub-commands, in help order.
COMMAND_MODULES = ("tour", "conv", "transposed", "spectrum", "resample", "deconvnet", "batchnorm", "animate")

#: Exit status after a closed pipe (128 + SIGPIPE).
BROKEN_PIPE_STATUS = 141


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
    from .._validation import InputError
    from ._common import option_of

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        status = args.func(args)
        sys.stdout.flush()
    except InputError as exc:
        option = option_of(args, exc.parameter)
        text = str(exc)
        if exc.parameter == "max_bytes":  # the size guard: say how to raise the limit here
            option = None
            if hasattr(args, "max_bytes"):
                text = text.replace("pass a larger max_bytes=", "pass a larger --max-bytes")
        prefix = f"{option}: " if option and option not in text else ""
        print(f"convmatrix {args.command}: error: {prefix}{text}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return BROKEN_PIPE_STATUS
    return 0 if status is None else int(status)


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
