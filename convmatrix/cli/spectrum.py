"""``convmatrix spectrum``: a layer's singular values, its exact norm and how the cheap bounds compare."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..geometry import PADDING_MODES, ConvGeometry
from ._common import (add_max_bytes_arg, add_weight_args, check_axes, int_tuple, output_errors, padding_arg,
                      user_error, weight_from_args)

#: How many values a plain run prints.
DEFAULT_K = 5


def k_arg(text: str) -> int | str:
    """A positive number of singular values, or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer or 'all'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer or 'all'")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spectrum", help="singular values, exact norm (Lipschitz constant) and bounds of a convolution",
        description="The singular values of a convolution layer (by FFT for circular padding, else from its "
                    "explicit matrix), its exact operator norm, and every cheap bound beside it with its ratio "
                    "to the exact norm.")
    add_weight_args(p, "(C_out, C_in/groups, *k)", symbolic=False)
    p.add_argument("--input-size", type=int_tuple, required=True, help="spatial input size, e.g. 32 or 32,32")
    p.add_argument("--stride", type=int_tuple, default=1)
    p.add_argument("--padding", type=padding_arg, default=0, help="int, a,b, ((lo,hi),...), same or valid")
    p.add_argument("--dilation", type=int_tuple, default=1)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros")
    p.add_argument("--k", type=k_arg, default=None, metavar="K",
                   help=f"how many singular values (default {DEFAULT_K}, or all of a smaller matrix), or 'all'")
    p.add_argument("--which", choices=("largest", "smallest"), default="largest")
    p.add_argument("--no-bounds", action="store_true", help="skip the table of bounds")
    p.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="also save the singular values: .npy, or .txt/.csv (one per line)")
    add_max_bytes_arg(p)
    p.set_defaults(func=run_spectrum)


def _values_line(values: np.ndarray, limit: int = 12) -> str:
    shown = [f"{v:.6g}" for v in values[:limit]]
    more = f" ... ({len(values) - limit:,} more)" if len(values) > limit else ""
    return "  " + ", ".join(shown) + more


def _check_output(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".txt", ".csv"):
        raise user_error("--output", f"{str(path)!r}: the values are saved as .npy, .txt or .csv, not "
                                     f"{suffix or 'a file without an extension'}")


def _save_values(values: np.ndarray, path: Path) -> None:
    with output_errors(path):
        if path.suffix.lower() == ".npy":
            np.save(path, values)
        else:
            np.savetxt(path, values, fmt="%.17g")


def run_spectrum(args) -> int:
    from ..bounds import spectral_norm_bounds
    from ..spectra import spectral_norm, spectrum

    w = weight_from_args(args)
    check_axes(args, w)
    params = dict(stride=args.stride, padding=args.padding, dilation=args.dilation, groups=args.groups,
                  padding_mode=args.padding_mode)
    g = ConvGeometry.from_weight_shape(w.shape, args.input_size, **params)
    w = np.asarray(w, dtype=np.float64)
    if args.output is not None:
        _check_output(args.output)
    rows, cols = g.shape
    k = None if args.k == "all" else (min(DEFAULT_K, rows, cols) if args.k is None else args.k)
    s = spectrum(w, args.input_size, k=k, which=args.which, max_bytes=args.max_bytes, **params)
    print(f"spectrum: weight {w.shape}, input {(g.in_channels, *g.input_size)} -> output "
          f"{(g.out_channels, *g.output_size)}, padding_mode {args.padding_mode}; matrix {rows:,} x {cols:,}")
    what = "all" if k is None else f"the {min(k, len(s.values)):,} {args.which}"
    checked = {"deflation": "; none skipped (deflation check)", "top": ""}.get(s.completeness, "")
    print(f"singular values ({what} of {min(rows, cols):,}, by {s.method}; residual {s.residual:.1e}{checked}):")
    print(_values_line(s.values))
    if args.output is not None:
        _save_values(s.values, args.output)
        print(f"saved {len(s.values):,} values to {args.output}")
    norm = float(s.values[0]) if (args.which == "largest" and len(s.values)) else \
        spectral_norm(w, args.input_size, max_bytes=args.max_bytes, **params)
    print(f"spectral norm (Lipschitz constant), exact: {norm:.10g}")
    if args.no_bounds:
        return 0
    bounds = spectral_norm_bounds(w, args.input_size, **params)
    width = max(len(b.name) for b in bounds + [type(bounds[0])("bound", 0.0, False, "", "")])
    print("bounds and estimates, against the exact norm:")
    print(f"  {'bound':<{width}}  {'value':>12}  {'/ exact':>8}  upper bound?  source")
    for b in bounds:
        ratio = b.value / norm if norm else float("nan")
        print(f"  {b.name:<{width}}  {b.value:>12.6g}  {ratio:>8.4f}  {'yes (proved)' if b.is_upper_bound else 'no':<12}"
              f"  {b.citation}")
    return 0


def section_spectrum() -> str:
    """Tour section: a layer's exact norm, by FFT and from its matrix, against the cheap bounds."""
    from ..bounds import spectral_norm_report
    from ..spectra import spectral_norm, spectrum

    w = np.random.default_rng(0).standard_normal((4, 4, 3, 3))
    circ = spectrum(w, (16, 16), padding=1, padding_mode="circular")
    zeros = spectral_norm(w, (16, 16), padding=1)
    reshaped = float(np.linalg.norm(w.reshape(4, -1), 2))
    report = spectral_norm_report(w, (16, 16), padding=1, exact=zeros)
    lines = [
        "The singular values of a convolution layer, exact: its Lipschitz constant.",
        "w = 4 x 4 x 3 x 3 (standard normal), input 16 x 16, padding 1: a 1,024 x 1,024 matrix.",
        "",
        f"circular padding, all {len(circ.values):,} values by FFT (one 4 x 4 SVD per frequency): "
        f"largest {circ.values[0]:.6g}, smallest {circ.values[-1]:.6g}",
        f"zero padding, from the explicit matrix (Lanczos on A^T A): ||A|| = {zeros:.6g}",
        f"torch.nn.utils.spectral_norm's value, ||w.reshape(4, -1)|| = {reshaped:.6g}, is not the layer's norm.",
        "",
        str(report),
        "",
        "Try: convmatrix spectrum --random 64,64,3,3 --input-size 32,32 --padding 1 [--padding-mode circular]",
    ]
    return "\n".join(lines)
