"""``convmatrix conv`` and ``convmatrix transpose``: print or save a layer's matrix."""

from __future__ import annotations

import argparse

from ..geometry import PADDING_MODES, ConvGeometry, ConvTransposeGeometry
from ..matrices import conv_matrix, conv_transpose_matrix
from ._common import add_output_args, add_weight_args, check_axes, emit, int_tuple, padding_arg, weight_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("conv", help="the matrix of a convolution (torch ConvNd, no bias)",
                       description="Print (small) or summarise (large) or save the matrix of a convolution.")
    add_weight_args(p, "(C_out, C_in/groups, *k)")
    p.add_argument("--input-size", type=int_tuple, required=True, help="spatial input size, e.g. 5 or 5,5")
    p.add_argument("--stride", type=int_tuple, default=1)
    p.add_argument("--padding", type=padding_arg, default=0, help="int, a,b, ((lo,hi),...), same or valid")
    p.add_argument("--dilation", type=int_tuple, default=1)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros")
    p.add_argument("--flip", action="store_true", help="true convolution (flipped kernel)")
    add_output_args(p)
    p.set_defaults(func=run_conv)

    t = sub.add_parser("transpose", help="the matrix of a transposed convolution (torch ConvTransposeNd)",
                       description="The transposed convolution's matrix, derived as a conv matrix's transpose.")
    add_weight_args(t, "(C_in, C_out/groups, *k)")
    t.add_argument("--input-size", type=int_tuple, required=True)
    t.add_argument("--stride", type=int_tuple, default=1)
    t.add_argument("--padding", type=padding_arg, default=0)
    t.add_argument("--output-padding", type=int_tuple, default=0)
    t.add_argument("--dilation", type=int_tuple, default=1)
    t.add_argument("--groups", type=int, default=1)
    add_output_args(t)
    t.set_defaults(func=run_transpose)


def run_conv(args) -> int:
    w = weight_from_args(args)
    check_axes(args, w)
    params = dict(stride=args.stride, padding=args.padding, dilation=args.dilation, groups=args.groups,
                  padding_mode=args.padding_mode)
    g = ConvGeometry.from_weight_shape(w.shape, args.input_size, **params)
    A = conv_matrix(w, args.input_size, flip=args.flip, max_bytes=args.max_bytes, **params)
    header = (f"conv: weight {w.shape}, input {(g.in_channels, *g.input_size)} -> "
              f"output {(g.out_channels, *g.output_size)}")
    emit(A, args, header, geometry=g)
    return 0


def run_transpose(args) -> int:
    w = weight_from_args(args)
    check_axes(args, w)
    params = dict(stride=args.stride, padding=args.padding, output_padding=args.output_padding,
                  groups=args.groups, dilation=args.dilation)
    g = ConvTransposeGeometry.from_weight_shape(w.shape, args.input_size, **params)
    T = conv_transpose_matrix(w, args.input_size, max_bytes=args.max_bytes, **params)
    header = (f"transpose: weight {w.shape}, input {(g.in_channels, *g.input_size)} -> output "
              f"{(g.out_channels, *g.output_size)}; the transpose of the conv matrix over input size "
              f"{g.output_size}")
    emit(T, args, header, geometry=g)
    return 0
