"""``convmatrix resample``: print or save a resampling matrix (pad/crop, zero insertion, ...)."""

from __future__ import annotations

import argparse

from ..resample import (
    PAD_MODES,
    UPSAMPLE_MODES,
    avg_pool_matrix,
    pad_matrix,
    subsample_matrix,
    sum_pool_matrix,
    upsample_matrix,
    zero_insertion_matrix,
)
from ._common import add_output_args, emit, int_tuple, padding_arg


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-size", type=int_tuple, required=True, help="spatial input size, e.g. 5 or 5,5")
    p.add_argument("--channels", type=int, default=1, help="channels (block-diagonal; default 1)")
    add_output_args(p)


def _pool_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel-size", type=int_tuple, required=True)
    p.add_argument("--stride", type=int_tuple, default=None, help="default: the kernel size")
    p.add_argument("--padding", type=int_tuple, default=0, help="symmetric, at most half the kernel")
    p.add_argument("--ceil-mode", action="store_true")


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "resample", help="the matrix of padding/cropping, zero insertion, subsampling, up-sampling or pooling",
        description="Print (small) or summarise (large) or save a resampling matrix.",
    )
    ops = r.add_subparsers(dest="operation", metavar="OPERATION", required=True)

    p = ops.add_parser("pad", help="padding (positive widths) or cropping (negative), per axis, first axis first",
                       description="The matrix of padding and cropping. Widths are per axis, first axis first, as "
                                   "Conv's padding: an int (every side), a,b (one width per axis, both sides) or "
                                   "((lo,hi),...) pairs; negative widths crop. F.pad lists the last axis first "
                                   "((last_lo, last_hi, prev_lo, ...)): convert with convmatrix.pad_widths_from_torch.")
    _common(p)
    p.add_argument("--padding", type=padding_arg, required=True,
                   help="int, a,b (one width per axis) or ((lo,hi),...) first axis first; negative crops")
    p.add_argument("--mode", choices=PAD_MODES, default="zeros")
    p.set_defaults(func=run, build=lambda a: pad_matrix(a.input_size, a.padding, mode=a.mode, channels=a.channels,
                                                        max_bytes=a.max_bytes))

    z = ops.add_parser("zero-insert", help="stride - 1 zeros between neighbours (fractional striding)")
    _common(z)
    z.add_argument("--stride", type=int_tuple, required=True)
    z.set_defaults(func=run, build=lambda a: zero_insertion_matrix(a.input_size, a.stride, channels=a.channels,
                                                                   max_bytes=a.max_bytes))

    s = ops.add_parser("subsample", help="keep every stride-th entry, x[::s]")
    _common(s)
    s.add_argument("--stride", type=int_tuple, required=True)
    s.set_defaults(func=run, build=lambda a: subsample_matrix(a.input_size, a.stride, channels=a.channels,
                                                              max_bytes=a.max_bytes))

    u = ops.add_parser("upsample", help="integer up-sampling: nearest neighbour or zeros")
    _common(u)
    u.add_argument("--scale-factor", type=int_tuple, required=True)
    u.add_argument("--mode", choices=UPSAMPLE_MODES, default="nearest")
    u.set_defaults(func=run, build=lambda a: upsample_matrix(
        a.input_size, a.scale_factor, mode=a.mode, channels=a.channels, max_bytes=a.max_bytes))

    a = ops.add_parser("avg-pool", help="average pooling, as F.avg_pool{1,2,3}d")
    _common(a)
    _pool_args(a)
    a.add_argument("--exclude-pad", action="store_true", help="count_include_pad=False")
    a.add_argument("--divisor-override", type=int, default=None)
    a.set_defaults(func=run, build=lambda a: avg_pool_matrix(
        a.input_size, a.kernel_size, stride=a.stride, padding=a.padding, ceil_mode=a.ceil_mode,
        count_include_pad=not a.exclude_pad, divisor_override=a.divisor_override, channels=a.channels,
        max_bytes=a.max_bytes))

    m = ops.add_parser("sum-pool", help="sum pooling (integer): nearest up-sampling transposed")
    _common(m)
    _pool_args(m)
    m.set_defaults(func=run, build=lambda a: sum_pool_matrix(
        a.input_size, a.kernel_size, stride=a.stride, padding=a.padding, ceil_mode=a.ceil_mode,
        channels=a.channels, max_bytes=a.max_bytes))


def run(args) -> int:
    A = args.build(args)
    emit(A, args, f"resample {args.operation}: {A.shape[0]} x {A.shape[1]} matrix acting on x.reshape(-1)")
    return 0


def section_resampling() -> str:
    """Tour section: the exact identities between the resampling matrices."""
    import numpy as np

    from ..export import format_matrix

    P = pad_matrix(3, 1)
    C = pad_matrix(5, -1)
    Z = zero_insertion_matrix(3, 2)
    S = subsample_matrix(5, 2)
    U = upsample_matrix(2, 2)
    Q = sum_pool_matrix(4, 2)
    lines = [
        "Resampling is a matrix too, and the identities between the maps are exact.",
        "pad_matrix(3, 1) (zero padding) and pad_matrix(5, -1) (cropping):",
        format_matrix(P),
        format_matrix(C),
        f"crop = zero-pad transposed: (C != P.T).nnz == {(C != P.T).nnz}",
        "",
        "zero_insertion_matrix(3, 2) puts one zero between neighbours: "
        f"{(Z @ np.array([1, 2, 3])).tolist()}",
        f"subsample = zero-insertion transposed: (subsample_matrix(5, 2) != Z.T).nnz == {(S != Z.T).nnz}",
        "",
        f"upsample_matrix(2, 2) (nearest): {(U @ np.array([1, 2])).tolist()}",
        f"nearest up-sampling = sum pooling transposed: (U != sum_pool_matrix(4, 2).T).nnz == {(U != Q.T).nnz}",
    ]
    return "\n".join(lines)
