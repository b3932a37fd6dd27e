"""``convmatrix animate``: a convolution (or a transposed one) as a GIF in the style of Dumoulin & Visin.

One frame per output position: the kernel's footprint over the padded input
and the output position it makes.  ``--transposed`` draws the transposed
convolution as the unit-stride convolution of the flipped kernel over the
zero-inserted, padded input.  A single number for a size is repeated over
``--ndim`` axes (2 by default, as in the paper's figures); ``-o x.png`` (or
``.svg``, ``.pdf``) draws one frame (``--frame``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..geometry import PADDING_MODES
from ._common import int_tuple, padding_arg, user_error

#: What ``-o`` may name.
ANIMATION_SUFFIXES = (".gif", ".png", ".svg", ".pdf")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "animate", help="a convolution or transposed convolution as a GIF (Dumoulin & Visin's figures)",
        description="Animate a convolution, one frame per output position, as a GIF: the kernel sliding over the "
                    "padded input. --transposed shows a transposed convolution as the direct convolution of the "
                    "flipped kernel over the zero-inserted, padded input. Needs the plot extra "
                    '(pip install "convmatrix[plot]").')
    p.add_argument("--kernel-size", type=int_tuple, required=True, help="e.g. 3 or 3,3")
    p.add_argument("--input-size", type=int_tuple, required=True, help="e.g. 5 or 5,5 (i' when --transposed)")
    p.add_argument("--stride", type=int_tuple, default=1)
    p.add_argument("--padding", type=padding_arg, default=0, help="int, a,b, ((lo,hi),...), same or valid")
    p.add_argument("--dilation", type=int_tuple, default=1)
    p.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros")
    p.add_argument("--transposed", action="store_true", help="a transposed convolution, as its direct equivalent")
    p.add_argument("--output-padding", type=int_tuple, default=0, help="with --transposed")
    p.add_argument("--ndim", type=int, default=2, help="spatial axes when every size is one number (default 2)")
    p.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    p.add_argument("--dpi", type=float, default=72.0, help="resolution (default 72)")
    p.add_argument("--frame", type=int, default=0, help="the frame a .png/.svg/.pdf shows (default 0)")
    p.add_argument("--output", "-o", type=Path, required=True, help=".gif (the animation) or .png/.svg/.pdf (a frame)")
    p.set_defaults(func=run)


def _spread(value, ndim: int):
    """A single int over ``ndim`` axes; tuples, pairs and strings as given."""
    return (value,) * ndim if isinstance(value, int) else value


def run(args) -> int:
    from ..animation import animate_conv, conv_scene, plot_conv_frame
    from ..plot._mpl import PLOT_EXTRA, require_matplotlib
    from ._pictures import save_figure_file

    suffix = args.output.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise user_error("--output", f"{str(args.output)!r} must end in one of {', '.join(ANIMATION_SUFFIXES)}")
    if args.ndim < 1:
        raise user_error("--ndim", f"--ndim {args.ndim} must be positive")
    sized = [v for v in (args.kernel_size, args.input_size, args.stride, args.dilation, args.output_padding)
             if isinstance(v, tuple)]
    ndim = len(sized[0]) if sized else args.ndim
    scene = conv_scene(
        _spread(args.kernel_size, ndim), _spread(args.input_size, ndim), stride=args.stride,
        padding=args.padding if not isinstance(args.padding, int) else _spread(args.padding, ndim),
        dilation=args.dilation, padding_mode=args.padding_mode, transposed=args.transposed,
        output_padding=args.output_padding)
    try:
        require_matplotlib("convmatrix animate")
    except ImportError:
        raise user_error("--output", f"convmatrix animate needs matplotlib and pillow, which are not installed: "
                                     f"they come with the plot extra, {PLOT_EXTRA}") from None
    print(f"animate: {scene.title.replace(chr(10), '; ')}")
    if suffix == ".gif":
        if not args.output.parent.exists():
            raise user_error("--output", f"{str(args.output)!r}: the folder {str(args.output.parent)!r} does not exist")
        try:
            path = animate_conv(scene, args.output, fps=args.fps, dpi=args.dpi)
        except ImportError as exc:  # pillow missing
            raise user_error("--output", str(exc)) from None
        print(f"saved {scene.frames} frames (one per output position) to {path}")
        return 0
    if not 0 <= args.frame < scene.frames:
        raise user_error("--frame", f"--frame {args.frame} must be between 0 and {scene.frames - 1} "
                                    f"(one frame per output position)")
    path = save_figure_file(plot_conv_frame(scene, args.frame), args.output)
    print(f"saved frame {args.frame} of {scene.frames} to {path}")
    return 0
