"""Argument parsing shared by the sub-commands: sizes, paddings, weights, output."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import numpy as np

from ..export import format_matrix, save_matrix, summarize_matrix
from ..matrices import symbolic_weight


def int_tuple(text: str) -> int | tuple[int, ...]:
    """``"3"`` -> 3, ``"3,4"`` -> (3, 4) (``x`` also separates: ``3x4``)."""
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer or a comma-separated list of integers")
    if not values:
        raise argparse.ArgumentTypeError("an empty value is not a size")
    return values[0] if len(values) == 1 and "," not in text and "x" not in text else values


def padding_arg(text: str):
    """An int, ``a,b``, a Python literal of (lo, hi) pairs such as ``((0,1),(1,1))``, ``same`` or ``valid``."""
    if text in ("same", "valid"):
        return text
    if "(" in text or "[" in text:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise argparse.ArgumentTypeError(f"padding {text!r} is not a literal such as ((0, 1), (1, 1))")
    return int_tuple(text)


def add_weight_args(p: argparse.ArgumentParser, layout: str) -> None:
    g = p.add_argument_group("weight (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--kernel", help=f"nested list, e.g. '[[2,3],[4,5]]'; a bare kernel is read as "
                     f"one channel in and out, else the torch layout {layout}")
    src.add_argument("--weight", type=Path, help="a .npy file in the torch layout")
    src.add_argument("--random", type=int_tuple, metavar="SHAPE",
                     help=f"random integer weight of this shape {layout}, e.g. 2,1,3,3")
    src.add_argument("--symbolic", type=int_tuple, metavar="SHAPE", help="SymPy symbols w_{o,c,i,j} of this shape")
    g.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")


def weight_from_args(args, ndim_hint: int | None = None) -> np.ndarray:
    if args.weight is not None:
        return np.load(args.weight, allow_pickle=False)
    if args.random is not None:
        shape = (args.random,) if isinstance(args.random, int) else args.random
        return np.random.default_rng(args.seed).integers(-3, 4, size=shape)
    if args.symbolic is not None:
        shape = (args.symbolic,) if isinstance(args.symbolic, int) else args.symbolic
        return symbolic_weight(shape)
    text = args.kernel
    try:
        w = np.array(ast.literal_eval(text))
    except (ValueError, SyntaxError):
        raise ValueError(f"--kernel {text!r} is not a nested list of numbers")
    nd = ndim_hint or (len(args.input_size) if isinstance(args.input_size, tuple) else 1)
    if w.ndim == nd:  # bare spatial kernel: one channel in, one out
        w = w[None, None]
    elif w.ndim != nd + 2:
        raise ValueError(f"--kernel {text!r} has {w.ndim} axes: give a bare {nd}-d kernel or a weight "
                         f"with {nd + 2} axes (torch layout) for input size {args.input_size}")
    return w


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", type=Path, help="save instead of printing: .npz, .mtx or .npy (numbers) or .png (a picture)")
    p.add_argument("--summary", action="store_true", help="print a one-line summary even when small")


def emit(A, args, header: str) -> None:
    """Print the header and the matrix's summary, then the grid (small matrices) or save it."""
    print(header)
    if args.output is not None:
        path = save_matrix(A, args.output)
        print(f"saved {summarize_matrix(A)} to {path}")
        return
    summary = summarize_matrix(A)
    print(summary)
    if not args.summary:
        text = format_matrix(A)
        if text != summary:
            print(text)
