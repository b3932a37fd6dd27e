"""A transposed convolution's chain ``T = C P Z`` side by side: zero insertion, padding, the stride-1 convolution."""

from __future__ import annotations

from math import prod

from .._validation import InputValueError, as_instance
from ..export.layout import MatrixLayout
from ..transposed import TransposedConvAsDirect
from ._mpl import axes_grid, root_figure
from .matrix import ENTRY_LIMIT, plot_matrix

__all__ = ["plot_chain", "chain_layouts"]


def chain_layouts(d: TransposedConvAsDirect) -> dict[str, MatrixLayout]:
    """The layouts of ``T``, ``C``, ``P`` and ``Z``: channel blocks over ``o'``, the padded, stretched and input sizes.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> d = cm.transposed_conv_as_direct(np.ones((2, 3, 3)), 4, stride=2)
    >>> {k: v.shape for k, v in chain_layouts(d).items()}
    {'T': (27, 8), 'C': (27, 22), 'P': (22, 14), 'Z': (14, 8)}
    """
    c_in, c_out = d.in_channels, d.out_channels
    return {
        "T": MatrixLayout(c_out, d.output_size, c_in, d.input_size),
        "C": MatrixLayout(c_out, d.output_size, c_in, d.padded_size),
        "P": MatrixLayout(c_in, d.padded_size, c_in, d.stretched_size, "c", "c"),
        "Z": MatrixLayout(c_in, d.stretched_size, c_in, d.input_size, "c", "c"),
    }


def _shared_key(t_ax, axes) -> None:
    """One colorbar (values) or legend (taps) for the four panels, to the right of all of them."""
    owner = t_ax.figure
    legend = t_ax.get_legend()
    if legend is not None:
        handles = list(legend.legend_handles)
        legend.remove()
        owner.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False, title="tap")
    elif t_ax.images and t_ax.images[0].get_array().ndim == 2:
        owner.colorbar(t_ax.images[0], ax=list(axes), shrink=0.6, label="entry value")


def plot_chain(d: TransposedConvAsDirect, *, ax=None, color: str = "auto"):
    """``T = C @ P @ Z`` drawn as four matrices side by side, each with its channel blocks.

    ``T`` and ``C`` (the flipped, channel-swapped kernel) by value (by tap for a
    symbolic kernel), ``P`` and ``Z`` (0/1 selections) by pattern; the widths
    follow the matrices' columns, so that the product reads left to right.

    Parameters
    ----------
    d : TransposedConvAsDirect
        From :func:`~convmatrix.transposed_conv_as_direct` (``C`` is built: small layers).
    ax : sequence of four Axes, optional
        For ``T``, ``C``, ``P``, ``Z``.
    color : {"auto", "value", "tap", "pattern"}, optional
        For ``T`` and ``C`` (see :func:`plot_matrix`).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For something else than a TransposedConvAsDirect, or a chain too large to draw entry by entry.
    MatrixTooLargeError
        When ``C`` exceeds the object's ``max_bytes``.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> fig = plot_chain(cm.transposed_conv_as_direct(np.array([[[1, 2, 3]]]), 3, stride=2, padding=1))
    >>> [a.get_title() for a in fig.axes if a.get_title()]
    ['T (5 x 3)', '= C (5 x 7)', '· P (7 x 5)', '· Z (5 x 3)']
    """
    as_instance(d, "d", TransposedConvAsDirect, "a TransposedConvAsDirect (from transposed_conv_as_direct)")
    layouts = chain_layouts(d)
    for name, layout in layouts.items():
        if prod(layout.shape) > ENTRY_LIMIT:
            raise InputValueError(f"{name} is {layout.shape[0]} x {layout.shape[1]}: too large to draw entry by "
                                  f"entry (at most {ENTRY_LIMIT:,} entries)", "d")
    mats = {"T": d.matrix, "C": d.C, "P": d.P, "Z": d.Z}
    widths = [layouts[k].shape[1] for k in mats]
    height = max(layouts[k].shape[0] for k in mats)
    fig, axes = axes_grid(ax, 4, (min(3 + 0.16 * sum(widths), 16), min(2.5 + 0.14 * height, 8)),
                          width_ratios=widths)
    symbolic = d.symbolic
    for n, (a, (name, M)) in enumerate(zip(axes, mats.items())):
        mode = ("tap" if symbolic else "value") if color == "auto" and name in "TC" else (
            color if name in "TC" else "pattern")
        plot_matrix(M, geometry=layouts[name], color=mode, ax=a, colorbar=False, legend=name == "T", aspect="equal",
                    title=f"{'' if n == 0 else ('= ' if n == 1 else '· ')}{name} ({M.shape[0]} x {M.shape[1]})")
        a.set_xlabel("")
        a.set_ylabel("")
        a.tick_params(labelsize=6)
    _shared_key(axes[0], axes)
    if ax is None:
        a = d.arithmetic
        fig.suptitle(f"transposed convolution = direct convolution: zero insertion Z (stride {a.s}), padding P "
                     f"{a.pad_widths}, stride-1 convolution C of the flipped kernel", fontsize=9)
    return root_figure(axes[0])
