"""Receptive fields read off a matrix: the inputs one output position reads, the outputs one input reaches."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import InputTypeError, InputValueError, as_index, is_integer, is_sequence, is_sympy_matrix
from ..export.layout import MatrixLayout, layout_of
from ..structure import TapMap
from ._grid import montage, slice_labels, spatial_lead_names
from ._mpl import axes_grid, figure_axes, root_figure
from .matrix import VALUE_CMAP

__all__ = ["plot_receptive_field", "footprint", "cell_edges", "MARK_COLOR"]

#: The chosen position.
MARK_COLOR = "#ffd21f"


def _position(value: Any, name: str, channels: int, size: tuple[int, ...]) -> int:
    """A flat row/column index from ``(channel, *position)`` or a flat int."""
    if is_integer(value):
        return as_index(value, name, channels * int(np.prod(size)), what="a flat index")
    if not is_sequence(value) or len(value) != 1 + len(size):
        want = "channel, " + ", ".join(["pos"] * len(size))
        raise InputTypeError(f"{name}={value!r} must be a flat index or ({want}): a channel and {len(size)} "
                             "spatial coordinates", name)
    idx = [as_index(v, name, n, what=f"a coordinate along axis {a} (channel first)")
           for a, (v, n) in enumerate(zip(value, (channels, *size)))]
    return int(np.ravel_multi_index(idx, (channels, *size)))


def footprint(A, layout: MatrixLayout, *, output: Any = None, input: Any = None) -> tuple[np.ndarray, int, str]:
    """``(values, index, side)``: one row (``output=``) or column (``input=``) of ``A`` as an array of the other side.

    ``values`` has shape ``(C_in, *input_size)`` for an output position (NaN where
    nothing is stored) or ``(C_out, *output_size)`` for an input position.
    SymPy entries become 1 (the pattern).

    Raises
    ------
    TypeError, ValueError
        Unless exactly one of ``output`` and ``input`` is given, as a flat index
        or ``(channel, *position)`` inside the layout.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> g = cm.ConvGeometry.from_weight_shape((1, 1, 3), 5, stride=2)
    >>> A = cm.conv_matrix(np.array([[[1, 2, 3]]]), 5, stride=2)
    >>> footprint(A, layout_of(g), output=(0, 1))[0].tolist()
    [[nan, nan, 1.0, 2.0, 3.0]]
    >>> footprint(A, layout_of(g), input=(0, 2))[0].tolist()      # x=2 is read by both outputs
    [[3.0, 1.0]]
    """
    if (output is None) == (input is None):
        raise InputValueError("give exactly one of output= (its input footprint) and input= (its output footprint)",
                              "output")
    if output is not None:
        r = _position(output, "output", layout.row_channels, layout.row_size)
        line, shape, index = _line(A, r, 0), (layout.col_channels, *layout.col_size), r
    else:
        c = _position(input, "input", layout.col_channels, layout.col_size)
        line, shape, index = _line(A, c, 1), (layout.row_channels, *layout.row_size), c
    return line.reshape(shape), index, "output" if output is not None else "input"


def _line(A, index: int, axis: int) -> np.ndarray:
    """Row (axis 0) or column (axis 1) ``index`` of ``A`` as floats, NaN where nothing is stored."""
    n = A.shape[1 - axis]
    out = np.full(n, np.nan)
    if isinstance(A, TapMap):
        A = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    if is_sympy_matrix(A):
        for (r, c), v in A.todok().items():
            if (r if axis == 0 else c) == index and v != 0:
                out[c if axis == 0 else r] = 1.0
        return out
    if sp.issparse(A):
        a = sp.csr_array(A) if axis == 0 else sp.csc_array(A)
        lo, hi = a.indptr[index], a.indptr[index + 1]
        data = a.data[lo:hi]
        out[a.indices[lo:hi]] = np.abs(data) if data.dtype.kind == "c" else data
        return out
    dense = np.asarray(A)
    vals = dense[index] if axis == 0 else dense[:, index]
    vals = np.abs(vals) if vals.dtype.kind == "c" else vals.astype(float)
    return np.where(vals != 0, vals, np.nan)


def cell_edges(ax, m, color: str = "#bbb", linewidth: float = 0.5) -> None:
    """Thin lines around every cell of every panel of a montage (one line collection)."""
    from matplotlib.collections import LineCollection

    ph, pw = m.panel
    segments = []
    for r0, c0 in m.origins:
        top, bottom, left, right = r0 - 0.5, r0 + ph - 0.5, c0 - 0.5, c0 + pw - 0.5
        segments += [[(left + j, top), (left + j, bottom)] for j in range(pw + 1)]
        segments += [[(left, top + i), (right, top + i)] for i in range(ph + 1)]
    ax.add_collection(LineCollection(segments, colors=color, linewidths=linewidth, zorder=2))


def _draw_grid(ax, values: np.ndarray, lead_names: tuple, cmap, norm, mark=None) -> Any:
    """A ``(C, *spatial)`` array as 2-D slices with cell edges; ``mark`` outlines one cell (an N-d index)."""
    from matplotlib.patches import Rectangle

    img, m = montage(values, gap=1)
    im = ax.imshow(np.ma.masked_invalid(img), cmap=cmap, norm=norm, interpolation="nearest")
    h, w = m.size
    if values.size <= 4096:
        cell_edges(ax, m)
    labels = slice_labels(lead_names, m.lead) if len(m.lead) and np.prod(m.lead) > 1 else []
    for label, (r0, c0) in zip(labels, m.origins):
        ax.text(c0 - 0.5, r0 - 0.7, label, fontsize=7, va="bottom", ha="left")
    if mark is not None:
        r, c = m.place(mark)
        ax.add_patch(Rectangle((float(c) - 0.5, float(r) - 0.5), 1, 1, facecolor=MARK_COLOR, edgecolor="black",
                               linewidth=1, zorder=3))
    ax.set_xlim(-0.6, w - 0.4)
    ax.set_ylim(h - 0.4, -0.6 - (0.8 if labels else 0))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    return im


def plot_receptive_field(A: Any, geometry=None, *, output: Any = None, input: Any = None, ax=None):
    """The input footprint of one output position (``output=``), or the output footprint of one input (``input=``).

    Read off the matrix: the footprint of output ``(o, y, x)`` is row ``r`` of
    ``A`` drawn over the input ``(C_in, *input_size)``, with the value of each
    entry (the kernel entry that lands there); the footprint of input
    ``(c, y, x)`` is a column drawn over the output.  N-d positions are drawn
    as 2-D slices.  The second panel marks the chosen position on its own grid.

    Parameters
    ----------
    A : sparse array, ndarray, SymPy matrix or TapMap
        The layer's matrix (a tap map or a symbolic matrix draws the pattern).
    geometry : ConvGeometry, ConvTransposeGeometry or MatrixLayout
        What built ``A`` (a TapMap carries its own).
    output, input : int or tuple of int
        Exactly one: ``(channel, *position)`` or a flat row (column) index.
    ax : Axes or sequence of two Axes, optional
        One Axes draws the footprint only; two draw the footprint and the chosen position.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        A missing or mismatched geometry, a bad position, or not exactly one of ``output``, ``input``.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> w = np.arange(1, 10).reshape(1, 1, 3, 3)
    >>> g = cm.ConvGeometry.from_weight_shape(w.shape, (5, 5), stride=2, padding=1)
    >>> fig = plot_receptive_field(cm.conv_matrix(w, (5, 5), stride=2, padding=1), g, output=(0, 1, 1))
    >>> [a.get_title() for a in fig.axes[:2]]
    ['input footprint of output (o=0, y=1, x=1)', 'output (o=0, y=1, x=1)']
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    if isinstance(A, TapMap):
        geometry = A if geometry is None else geometry
    if geometry is None:
        raise InputValueError("geometry is needed to lay the footprint out over (channel, *position)", "geometry")
    layout = layout_of(geometry, A.shape)
    values, index, side = footprint(A, layout, output=output, input=input)
    single = ax is not None and not is_sequence(ax)
    fig, axes = figure_axes(ax, (4, 4)) if single else axes_grid(ax, 2, (9, 4.2), width_ratios=_ratios(layout, side))
    axes = [axes] if single else axes
    finite = values[np.isfinite(values)]
    vmax = float(np.abs(finite).max()) if finite.size else 1.0
    cmap = colormaps[VALUE_CMAP].with_extremes(bad="white")
    norm = Normalize(-vmax or -1, vmax or 1)
    if side == "output":
        here, there = layout.row_label(index), ("c", len(layout.col_size))
        title = f"input footprint of output ({here})"
        mark_shape, mark_name = (layout.row_channels, *layout.row_size), (layout.row_name, len(layout.row_size))
    else:
        here, there = layout.col_label(index), ("o", len(layout.row_size))
        title = f"output footprint of input ({here})"
        mark_shape, mark_name = (layout.col_channels, *layout.col_size), (layout.col_name, len(layout.col_size))
    im = _draw_grid(axes[0], values, spatial_lead_names(there[1], there[0]), cmap, norm)
    axes[0].set_title(title, fontsize=10)
    axes[0].figure.colorbar(im, ax=axes[0], shrink=0.8, label="entry value")
    if len(axes) > 1:
        mark = np.unravel_index(index, mark_shape)
        blank = np.full(mark_shape, np.nan)
        _draw_grid(axes[1], blank, spatial_lead_names(mark_name[1], mark_name[0]), cmap, norm, mark=mark)
        axes[1].set_title(f"{side} ({here})", fontsize=10)
    return root_figure(axes[0])


def _ratios(layout: MatrixLayout, side: str) -> list[float]:
    a, b = (layout.col_size, layout.row_size) if side == "output" else (layout.row_size, layout.col_size)
    return [max(a[-1], 1) * 1.25, max(b[-1], 1)]
