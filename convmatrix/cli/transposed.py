"""``convmatrix verify`` and ``convmatrix overlap``: a transposed convolution as a direct one.

``verify`` prints the chain ``C @ P @ Z`` (zero insertion, padding, stride-1
convolution of the flipped kernel), the equivalent direct convolution in
Dumoulin & Visin's terms and the comparison with ``conv_transpose_matrix``;
its exit status is 0 exactly when the two matrices are equal.  ``overlap``
prints how many input positions reach each output position (the checkerboard
of Odena, Dumoulin & Olah).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._common import (add_format_arg, add_max_bytes_arg, add_weight_args, check_axes, emit_latex, int_tuple,
                      padding_arg, wants_latex, weight_from_args)

#: ``overlap`` prints the grid of counts up to this many output positions, else a summary.
OVERLAP_GRID_LIMIT = 4096


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "verify", help="check that a transposed convolution is a zero-inserted, padded direct convolution",
        description="Build the chain C @ P @ Z (zero insertion, padding, stride-1 convolution of the flipped, "
                    "channel-swapped kernel) and compare it with conv_transpose_matrix, entry for entry. "
                    "Exit status 0 exactly when they are equal.",
    )
    add_weight_args(v, "(C_in, C_out/groups, *k)")
    _add_transpose_args(v)
    v.add_argument("--literal", action="store_true",
                   help="also multiply C @ P @ Z as written, however large")
    add_max_bytes_arg(v)
    add_format_arg(v, output=True)
    v.set_defaults(func=run_verify)

    o = sub.add_parser(
        "overlap", help="per output position of a transposed convolution, how many inputs reach it",
        description="The overlap counts of a transposed convolution, read off its matrix: uneven "
                    "(a checkerboard) where the kernel size is not divisible by the stride. "
                    "The counts are spatial (one input channel, one output channel); groups only "
                    "change how many input channels reach each output channel, so there is no --groups.",
    )
    o.add_argument("--kernel-size", type=int_tuple, required=True, help="e.g. 3 or 3,3")
    # No --groups: the counts are those of one channel pair, which groups do not change
    # (a grouped layer's output channel sees C_in/groups input channels, each with these counts).
    _add_transpose_args(o, groups=False)
    add_format_arg(o)
    o.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="save the map as a picture (.png, .svg or .pdf), or as a LaTeX document (FILE.tex, or "
                        "FILE.pdf with --format latex)")
    add_max_bytes_arg(o)
    o.set_defaults(func=run_overlap)


def _add_transpose_args(p: argparse.ArgumentParser, *, groups: bool = True) -> None:
    p.add_argument("--input-size", type=int_tuple, required=True, help="spatial input size i', e.g. 4 or 4,4")
    p.add_argument("--stride", type=int_tuple, default=1)
    p.add_argument("--padding", type=padding_arg, default=0, help="int, a,b or ((lo,hi),...)")
    p.add_argument("--output-padding", type=int_tuple, default=0)
    p.add_argument("--dilation", type=int_tuple, default=1)
    if groups:
        p.add_argument("--groups", type=int, default=1)


def _show(name: str, A) -> list[str]:
    from ..export import format_matrix, summarize_matrix

    summary = summarize_matrix(A)
    grid = format_matrix(A)
    return [f"{name}: {summary}"] + ([grid] if grid != summary else [])


def run_verify(args) -> int:
    from .._limits import MatrixTooLargeError
    from ..transposed import LITERAL_CHAIN_LIMIT, transposed_conv_as_direct, verify_transpose_equivalence

    w = weight_from_args(args)
    check_axes(args, w)
    params = dict(stride=args.stride, padding=args.padding, output_padding=args.output_padding,
                  groups=args.groups, dilation=args.dilation, max_bytes=args.max_bytes)
    d = transposed_conv_as_direct(w, args.input_size, **params)
    if wants_latex(args, document_output=True):
        report = verify_transpose_equivalence(w, args.input_size, literal=True if args.literal else None, **params)
        emit_latex([d, report], args, comment=f"verify: transposed convolution, weight {tuple(w.shape)}")
        return 0 if report.exact else 1
    print(f"verify: transposed convolution, weight {tuple(w.shape)}, input {(d.in_channels, *d.input_size)} "
          f"-> output {(d.out_channels, *d.output_size)}")
    print(d.arithmetic)
    print()
    lines = _show("Z (zero insertion)", d.Z)
    lines += _show(f"P (pad {d.pad_widths})", d.P)
    if args.literal or d.conv_nnz <= LITERAL_CHAIN_LIMIT:
        try:
            lines += _show("C (stride-1 conv, flipped kernel)", d.C)
        except MatrixTooLargeError as exc:
            lines.append(f"C (stride-1 conv, flipped kernel): not built: {exc}")
    else:
        rows, cols = d.conv_geometry.shape
        lines.append(f"C (stride-1 conv, flipped kernel): {rows} x {cols}, {d.conv_nnz:,} stored entries "
                     f"(not built; --literal builds it)")
    from ..export import GRID_LIMIT

    if d.shape[0] <= GRID_LIMIT[0] and d.shape[1] <= GRID_LIMIT[1]:  # small: show both as grids
        from ..matrices import conv_transpose_matrix

        lines += _show("C @ P @ Z", d.matrix)
        lines += _show("T = conv_transpose_matrix", conv_transpose_matrix(w, args.input_size, **params))
    print("\n".join(lines))
    print()
    report = verify_transpose_equivalence(w, args.input_size, literal=True if args.literal else None, **params)
    print(report)
    return 0 if report.exact else 1


def run_overlap(args) -> int:
    from ..transposed import has_uneven_overlap, overlap_counts

    counts = overlap_counts(args.input_size, args.kernel_size, stride=args.stride, padding=args.padding,
                            output_padding=args.output_padding, dilation=args.dilation, max_bytes=args.max_bytes)
    nd = counts.ndim
    if wants_latex(args):
        return _overlap_latex(counts, args)
    k = args.kernel_size if isinstance(args.kernel_size, tuple) else (args.kernel_size,) * nd
    s = args.stride if isinstance(args.stride, tuple) else (args.stride,) * nd
    dil = args.dilation if isinstance(args.dilation, tuple) else (args.dilation,) * nd
    print(f"overlap: transposed convolution, kernel {k}, stride {s}, input {args.input_size} -> output "
          f"{counts.shape}: inputs reaching each output position")
    if counts.size <= OVERLAP_GRID_LIMIT:
        with np.printoptions(linewidth=200, threshold=OVERLAP_GRID_LIMIT + 1):
            print(np.array2string(counts))
    else:
        print(f"{counts.size} positions (grid not printed): counts from {counts.min()} to {counts.max()}")
    uneven = has_uneven_overlap(k, s, dil)
    if uneven:
        why = [f"kernel_size {kk} is not divisible by stride {ss}" for kk, ss in zip(k, s) if kk % ss]
        why += [f"dilation {dd} shares a factor with stride {ss}" for dd, ss in zip(dil, s)
                if ss > 1 and np.gcd(dd, ss) > 1]
        print(f"interior overlap: uneven (checkerboard): {'; '.join(dict.fromkeys(why))}")
    else:
        print("interior overlap: even (no checkerboard): the stride divides the kernel size along every axis")
    if args.output is not None:
        _save_overlap(args, counts, uneven, k, s)
    return 0


def _overlap_latex(counts: np.ndarray, args) -> int:
    """The overlap counts as a LaTeX matrix (N-d counts with N > 2: one row per position of the leading axes)."""
    from ..transposed import has_uneven_overlap

    nd = counts.ndim
    grid = counts if nd <= 2 else counts.reshape(-1, counts.shape[-1])
    k, s, dil = (v if isinstance(v, tuple) else (v,) * nd for v in (args.kernel_size, args.stride, args.dilation))
    uneven = has_uneven_overlap(k, s, dil)
    shape = " × ".join(map(str, counts.shape))
    note = (f"How many input positions reach each of the {shape} output positions of the transposed convolution "
            f"(kernel {k}, stride {s}): the interior overlap is "
            + ("uneven, a checkerboard." if uneven else "even: the stride divides the kernel size along every axis."))
    if nd > 2:
        note += f" Rows are the positions of the first {nd - 1} axes, in C order."
    emit_latex([note, grid], args, comment="overlap counts", name="N", caption=False)
    return 0


def _save_overlap(args, counts, uneven: bool, k, s) -> None:
    """``-o map.png``: the counts as a picture, titled with the layer and its verdict."""
    from ._common import user_error
    from ._pictures import PICTURE_SUFFIXES, save_map_picture

    if args.output.suffix.lower() not in PICTURE_SUFFIXES:
        raise user_error("--output", f"{str(args.output)!r} must end in one of {', '.join(PICTURE_SUFFIXES)} "
                                     "(a picture of the counts)")
    path = save_map_picture(counts, args.output, uneven=uneven,
                            title=f"transposed convolution k={k}, s={s}: inputs reaching each output position")
    print(f"saved a picture of the {counts.shape} counts to {path}")


def section_equivalence() -> str:
    """Tour section: a transposed convolution is a zero-inserted, padded, flipped direct convolution."""
    from ..export import format_matrix
    from ..transposed import transposed_conv_as_direct, verify_transpose_equivalence

    w = np.array([[[1, 2, 3]]])
    d = transposed_conv_as_direct(w, 3, stride=2, padding=1)
    report = verify_transpose_equivalence(w, 3, stride=2, padding=1)
    lines = [
        "A transposed convolution is a direct convolution (Dumoulin & Visin, chapter 4).",
        "ConvTranspose1d(1, 1, 3, stride=2, padding=1), kernel [1, 2, 3], input size 3 -> output 5:",
        "insert s - 1 = 1 zero between inputs (Z), pad by k - p - 1 = 1 (P), convolve with stride 1",
        "and the flipped kernel [3, 2, 1] (C):",
        "",
        "Z =", format_matrix(d.Z),
        "P =", format_matrix(d.P),
        "C =", format_matrix(d.C),
        "C @ P @ Z =", format_matrix(d.matrix),
        "",
        f"equal to conv_transpose_matrix entry for entry: {report.exact} "
        f"(max |difference| = {report.max_abs_difference:g}); integer kernel, exact check.",
        "Try: convmatrix verify --random 8,4,4,4 --input-size 5,5 --stride 2 --padding 1",
    ]
    return "\n".join(lines)
