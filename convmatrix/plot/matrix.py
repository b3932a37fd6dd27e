"""``plot_matrix``: a convolution matrix with its channel blocks, coloured by value, tap, pattern or density."""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import InputTypeError, InputValueError, as_choice, as_int, is_sympy_matrix
from ..export.layout import RULE_COLOR, SUM_COLOR, TAP_COLORS, MatrixLayout, check_shape, layout_of
from ..export.png import symbolic_entry_ids
from ..geometry import ConvGeometry, ConvTransposeGeometry
from ..structure import TapMap, tap_map
from ._mpl import figure_axes, rgb

__all__ = ["COLORS", "ENTRY_LIMIT", "AUTO_DENSITY_SIDE", "PATTERN_COLOR", "plot_matrix", "density_histogram",
           "entry_taps", "draw_rules"]

#: How ``plot_matrix`` colours the entries.
COLORS = ("auto", "value", "tap", "pattern", "density")
#: Largest ``rows * cols`` drawn entry by entry (value, tap and pattern modes).
ENTRY_LIMIT = 4_000_000
#: ``color="auto"`` draws the density of matrices with a side longer than this.
AUTO_DENSITY_SIDE = 512
#: Stored entries in ``color="pattern"``.
PATTERN_COLOR = (31, 119, 180)
#: Diverging colormap of values, centred at 0 (white).
VALUE_CMAP = "RdBu_r"


# --------------------------------------------------------------------------- data
def density_histogram(A, bins: int | tuple[int, int] = 512) -> np.ndarray:
    """Stored entries of a sparse matrix per bin of a ``(row_bins, col_bins)`` grid, read from its CSR arrays.

    Row ``r`` falls in bin ``r * B_r // R`` and column ``c`` in bin ``c * B_c // C``
    (``R x C`` entries, ``B_r x B_c`` bins).  The CSR arrays are read one
    row bin at a time (long bins in pieces of 4 M entries): no COO copy and no
    dense array of the matrix's size exist; a CSC array is read as the CSR array
    of its transpose.

    Parameters
    ----------
    A : sparse array, ndarray or SymPy matrix
    bins : int or (int, int), optional
        Bins per axis, at most the matrix's size along it.

    Returns
    -------
    counts : ndarray of int64, shape (row_bins, col_bins)

    Raises
    ------
    TypeError, ValueError
        For something that is not a non-empty matrix, or bins that are not positive integers.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> density_histogram(sp.eye_array(4, format="csr"), 2)
    array([[2, 0],
           [0, 2]])
    """
    rows, cols = check_shape(A)
    hb, wb = (bins, bins) if not isinstance(bins, (tuple, list)) else tuple(bins)
    hb = min(rows, as_int(hb, "bins", minimum=1))
    wb = min(cols, as_int(wb, "bins", minimum=1))
    if isinstance(A, (sp.csc_array, sp.csc_matrix)):
        return density_histogram(A.T, (wb, hb)).T
    a = _as_csr(A)
    counts = np.zeros((hb, wb), dtype=np.int64)
    edges = -(-(np.arange(hb + 1, dtype=np.int64) * rows) // hb)  # rows r with r * hb // rows == b
    offsets = np.asarray(a.indptr)[edges].astype(np.int64)
    step = 1 << 22
    for b in range(hb):
        for lo in range(int(offsets[b]), int(offsets[b + 1]), step):
            seg = a.indices[lo:min(lo + step, int(offsets[b + 1]))].astype(np.int64)
            seg *= wb
            seg //= cols
            counts[b] += np.bincount(seg, minlength=wb)
    return counts


def _as_csr(A):
    if isinstance(A, (sp.csr_array, sp.csr_matrix)):
        return A
    if is_sympy_matrix(A):
        keys = [k for k, v in A.todok().items() if v != 0]
        r = np.array([k[0] for k in keys], dtype=np.int64)
        c = np.array([k[1] for k in keys], dtype=np.int64)
        return sp.csr_array((np.ones(r.size, dtype=np.int8), (r, c)), shape=A.shape)
    return sp.csr_array(A)


def _geometry_of(geometry, A):
    """``(layout, tap map or None, transposed)`` of the geometry given for a matrix of ``A``'s shape.

    The tap map is a zero-argument function (built only for the tap and pattern modes).
    """
    if geometry is None:
        return None, (lambda: None), False
    layout = layout_of(geometry, A.shape if A is not None else None)
    if isinstance(geometry, TapMap):
        return layout, (lambda: geometry), False
    if isinstance(geometry, ConvTransposeGeometry):
        return layout, (lambda: tap_map(geometry.conv)), True
    if isinstance(geometry, ConvGeometry):
        return layout, (lambda: tap_map(geometry)), False
    return layout, (lambda: None), False


def entry_taps(m: TapMap, transposed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, taps)`` of a tap map's entries; ``taps`` is ``-2`` where an entry sums several taps.

    ``transposed=True`` gives them for the transpose of the map's matrix.

    Examples
    --------
    >>> from convmatrix import ConvGeometry, tap_map
    >>> r, c, t = entry_taps(tap_map(ConvGeometry.from_weight_shape((1, 1, 2), 3)))
    >>> r.tolist(), c.tolist(), t.tolist()
    ([0, 0, 1, 1], [0, 1, 1, 2], [0, 1, 0, 1])
    """
    indptr = m.indptr
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(indptr))
    cols = np.asarray(m.indices, dtype=np.int64)
    taps, starts = m.taps, m.starts
    if starts is None:
        t = np.asarray(taps, dtype=np.int64)
    else:
        runs = np.diff(np.append(starts, taps.size))
        t = np.where(runs > 1, -2, np.asarray(taps)[starts]).astype(np.int64)
    return (cols, rows, t) if transposed else (rows, cols, t)


# --------------------------------------------------------------------------- images
def _dense_values(A) -> np.ndarray:
    """Float values with NaN where nothing is stored (drawn white)."""
    if sp.issparse(A):
        a = sp.coo_array(A)
        out = np.full(a.shape, np.nan)
        out[a.row, a.col] = np.abs(a.data) if a.dtype.kind == "c" else a.data
        return out
    dense = np.asarray(A)
    if dense.dtype.kind not in "biufc":
        raise InputTypeError(f"A must be numeric or a SymPy matrix to draw its values: got dtype {dense.dtype}", "A")
    vals = np.abs(dense) if dense.dtype.kind == "c" else dense.astype(float)
    return np.where(vals != 0, vals, np.nan)


def _stored(A) -> np.ndarray:
    """Dense boolean: where ``A`` has a nonzero entry."""
    if is_sympy_matrix(A):
        return symbolic_entry_ids(A)[0] >= 0
    if sp.issparse(A):
        a = sp.coo_array(A)
        out = np.zeros(a.shape, dtype=bool)
        out[a.row, a.col] = a.data != 0
        return out
    return np.asarray(A) != 0


def _tap_grid(A, layout: MatrixLayout | None, m: TapMap | None, transposed: bool):
    """``(ids, labels)``: per entry the index of its colour (-1 empty, -2 several taps), and the legend labels."""
    shape = A.shape if A is not None else m.shape[::-1] if transposed else m.shape
    ids = np.full(shape, -1, dtype=np.int64)
    if m is not None:
        rows, cols, taps = entry_taps(m, transposed)
        g = m.geometry
        weight_shape = g.weight_shape
        k = prod(g.kernel_size)
        full = prod(weight_shape) <= len(TAP_COLORS)
        key = np.where(taps >= 0, taps if full else taps % k, -2)
        ids[rows, cols] = key
        if A is not None:
            ids[~_stored(A)] = -1
        names = ("c", "o") if transposed or m.transposed else ("o", "c")
        used = np.unique(key[key >= 0])
        labels = {int(t): _tap_label(int(t), weight_shape, full, names) for t in used}
        return ids, labels
    if is_sympy_matrix(A):
        ids, values = symbolic_entry_ids(A)
        return ids, {n: _sympy_label(v) for n, v in enumerate(values)}
    vals = _dense_values(A)
    distinct = np.unique(vals[np.isfinite(vals)])
    if distinct.size > len(TAP_COLORS):
        raise InputValueError(f"A has {distinct.size} distinct values and no geometry: color='tap' tells at most "
                              f"{len(TAP_COLORS)} apart; give geometry= (the taps are then read off its tap map) "
                              "or use color='value'", "color")
    finite = np.isfinite(vals)
    ids[finite] = np.searchsorted(distinct, vals[finite])
    return ids, {n: f"{v:g}" for n, v in enumerate(distinct)}


def _tap_label(t: int, weight_shape: tuple, full: bool, names: tuple[str, str]) -> str:
    idx = np.unravel_index(t, weight_shape if full else weight_shape[2:])
    parts = [str(int(i)) for i in idx] if full else list(names) + [str(int(i)) for i in idx]
    return "$w_{" + ",".join(parts) + "}$"


def _sympy_label(v) -> str:
    import sympy

    return f"${sympy.latex(v)}$"


def _tap_image(ids: np.ndarray, labels: dict):
    """RGB floats: a palette colour per id, grey for sums, white for empty; and the legend handles."""
    from matplotlib.patches import Patch

    keys = sorted(labels)
    many = len(keys) > len(TAP_COLORS)
    if many:
        from matplotlib import colormaps

        cmap = colormaps["turbo"].resampled(len(keys))
        colors = {t: tuple(cmap(n)[:3]) for n, t in enumerate(keys)}
    else:
        colors = {t: rgb(TAP_COLORS[n]) for n, t in enumerate(keys)}
    img = np.ones(ids.shape + (3,))
    for t, c in colors.items():
        img[ids == t] = c
    handles = [] if many else [Patch(facecolor=colors[t], edgecolor="none", label=labels[t]) for t in keys]
    if (ids == -2).any():
        img[ids == -2] = rgb(SUM_COLOR)
        handles.append(Patch(facecolor=rgb(SUM_COLOR), edgecolor="none", label="sum of taps"))
    return img, handles


# --------------------------------------------------------------------------- axes decoration
def draw_rules(ax, layout: MatrixLayout, *, color=RULE_COLOR, linewidth: float | None = None) -> None:
    """Black lines between the channel blocks of a matrix drawn in entry coordinates (pixel-sharp).

    ``linewidth`` in points; default 1, or 0.5 beyond 16 blocks along an axis.
    """
    rows, cols = layout.shape
    if linewidth is None:
        linewidth = 1.0 if max(layout.row_channels, layout.col_channels) <= 16 else 0.5
    xs = np.arange(1, layout.col_channels) * layout.col_block - 0.5
    ys = np.arange(1, layout.row_channels) * layout.row_block - 0.5
    kw = dict(colors=[rgb(color)], linewidth=linewidth, antialiased=False, zorder=3)
    if xs.size:
        ax.vlines(xs, -0.5, rows - 0.5, **kw)
    if ys.size:
        ax.hlines(ys, -0.5, cols - 0.5, **kw)


def _block_ticks(ax, layout: MatrixLayout) -> None:
    """Channel labels at the block centres (``o=0``, ``c=1``), or spatial positions for one small block."""
    for axis, (channels, block, size, name) in enumerate(
            ((layout.row_channels, layout.row_block, layout.row_size, layout.row_name),
             (layout.col_channels, layout.col_block, layout.col_size, layout.col_name))):
        if channels == 1 and block <= 16:
            pos = np.arange(block)
            labels = [",".join(map(str, np.unravel_index(p, size))) for p in pos]
        else:
            step = -(-channels // 16)
            pos = np.arange(0, channels, step) * block + (block - 1) / 2
            labels = [f"{name}={c}" for c in range(0, channels, step)]
        set_ticks = ax.set_yticks if axis == 0 else ax.set_xticks
        set_ticks(pos, labels, fontsize=7 if len(labels) > 8 else 8,
                  rotation=0 if axis == 0 or len(labels) <= 8 else 90)
    ax.tick_params(length=0)
    where = "output" if layout.row_name == "o" else "rows"
    ax.set_ylabel(f"{where} {layout.axis_label(0)}")
    ax.set_xlabel(f"{'input' if layout.col_name == 'c' else 'columns'} {layout.axis_label(1)}")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()


def _format_coord(layout: MatrixLayout | None, values: np.ndarray | None):
    def fmt(x, y):
        r, c = int(round(y)), int(round(x))
        if layout is None or not (0 <= r < layout.shape[0] and 0 <= c < layout.shape[1]):
            return f"row {r}, col {c}"
        text = f"row {r} ({layout.row_label(r)}), col {c} ({layout.col_label(c)})"
        if values is not None and np.isfinite(values[r, c]):
            text += f": {values[r, c]:g}"
        return text
    return fmt


def _figsize(shape: tuple[int, int], extra: float) -> tuple[float, float]:
    rows, cols = shape
    ratio = rows / cols
    width = 6.0 if ratio <= 1.5 else max(3.5, 6.0 / min(ratio, 3) * 1.5)
    height = float(np.clip(width * ratio, 2.2, 7.5))
    return (width + extra, height + 0.9)


# --------------------------------------------------------------------------- the function
def _resolve(A, geometry):
    """``(matrix or None, geometry)`` from what the user passed (a matrix, a TapMap or a MatrixView)."""
    if isinstance(A, TapMap):
        if geometry is not None:
            raise InputValueError("geometry must not be given with a TapMap (it carries its own)", "geometry")
        return None, A
    view = type(A).__name__ == "MatrixView"
    if view:
        return A.matrix, A.geometry if geometry is None else geometry
    if not (sp.issparse(A) or isinstance(A, np.ndarray) or is_sympy_matrix(A)):
        raise InputTypeError(f"A must be a scipy.sparse array, an ndarray, a SymPy matrix or a TapMap, not a "
                             f"{type(A).__name__}", "A")
    check_shape(A)
    return A, geometry


def _auto(A, shape) -> str:
    if A is None or is_sympy_matrix(A):
        return "tap" if shape[0] * shape[1] <= ENTRY_LIMIT else "density"
    return "value" if max(shape) <= AUTO_DENSITY_SIDE else "density"


def plot_matrix(
    A: Any,
    *,
    geometry=None,
    color: str = "auto",
    ax=None,
    rules: bool = True,
    bins: int = 512,
    title: str | None = None,
    colorbar: bool = True,
    legend: bool = True,
    aspect: str | None = None,
):
    """Draw a matrix with rules between its channel blocks, rows indexed ``(o, y, x)`` and columns ``(c, y, x)``.

    Parameters
    ----------
    A : sparse array, ndarray, SymPy matrix, TapMap or MatrixView
        The matrix (a tap map draws its taps; a :func:`convmatrix.show` view its matrix).
    geometry : ConvGeometry, ConvTransposeGeometry, TapMap or MatrixLayout, optional
        What built ``A``: gives the channel blocks and the labels, and the taps
        for ``color="tap"``.  Without it the matrix is one block with plain indices.
    color : {"auto", "value", "tap", "pattern", "density"}, optional
        * ``"value"``: a diverging colormap centred at 0 (``RdBu_r``: red positive,
          blue negative, white zero and unstored) with a colorbar; complex
          entries by ``|a|``;
        * ``"tap"``: one colour per kernel entry with a legend ``w_{o,c,i,j}``
          (numbers and symbolic matrices alike; with more than 20 kernel entries,
          one colour per spatial tap ``w_{o,c,i,j}`` with ``o, c`` read off the
          blocks; grey where several taps are summed at a border);
        * ``"pattern"``: stored entries in one colour;
        * ``"density"``: a rasterised 2-D histogram of the stored entries
          (:func:`density_histogram`), for large matrices, with a colorbar;
        * ``"auto"``: ``"tap"`` for symbolic matrices and tap maps, ``"value"`` up
          to 512 rows and columns, ``"density"`` beyond.
    ax : matplotlib Axes, optional
        Draw into these axes (colorbar and legend beside them); default: a new figure.
    rules : bool, optional
        Draw the black rules between channel blocks.
    bins : int, optional
        Bins per axis of the density mode.
    title : str, optional
        Default: the shape and the stored entries.
    colorbar, legend : bool, optional
        Draw the colorbar (value and density modes) and the legend of taps.
    aspect : {"equal", "auto"}, optional
        Square entries, or stretched to the axes; default square unless one side is
        more than 4 times the other.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For something that is not a matrix, a geometry of another shape, an
        unknown ``color``, a matrix too large to draw entry by entry (use
        ``"density"``), or ``"tap"`` for a numeric matrix of more than 20
        distinct values without a geometry.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> w = np.arange(1, 2 * 3 * 3 * 3 + 1).reshape(2, 3, 3, 3)
    >>> g = cm.ConvGeometry.from_weight_shape(w.shape, (4, 4), padding=1)
    >>> fig = plot_matrix(cm.conv_matrix(w, (4, 4), padding=1), geometry=g)
    >>> ax = fig.axes[0]
    >>> ax.get_ylabel(), ax.get_xlabel(), [t.get_text() for t in ax.get_xticklabels()]
    ('output (o, y, x)', 'input (c, y, x)', ['c=0', 'c=1', 'c=2'])
    >>> len(fig.axes)          # the matrix and its colorbar
    2
    """
    matrix, geometry = _resolve(A, geometry)
    color = as_choice(color, "color", COLORS)
    layout, tap_map_of, transposed = _geometry_of(geometry, matrix)
    shape = matrix.shape if matrix is not None else layout.shape
    color = _auto(matrix, shape) if color == "auto" else color
    if matrix is None and color in ("value", "density"):
        raise InputValueError(f"color={color!r} needs numbers: a TapMap has taps only (use 'tap' or 'pattern')",
                              "color")
    if color != "density" and shape[0] * shape[1] > ENTRY_LIMIT:
        raise InputValueError(f"A is {shape[0]} x {shape[1]}: too large to draw entry by entry (at most "
                              f"{ENTRY_LIMIT:,} entries); use color='density'", "color")
    own = ax is None
    fig, ax = figure_axes(ax, _figsize(shape, 1.6 if color in ("value", "density", "tap") else 0.2))
    values = None
    extent = (-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5)
    if aspect is None:
        aspect = "equal" if max(shape) / min(shape) <= 4 else "auto"
    aspect = as_choice(aspect, "aspect", ("equal", "auto"))
    if color == "value":
        values = _draw_values(ax, matrix, extent, aspect, colorbar)
    elif color == "tap":
        _draw_taps(ax, matrix, layout, tap_map_of(), transposed, extent, aspect, legend, own)
    elif color == "pattern":
        stored = _stored(matrix) if matrix is not None else _tap_grid(None, layout, tap_map_of(), transposed)[0] != -1
        img = np.where(stored[:, :, None], np.array(rgb(PATTERN_COLOR)), 1.0)
        ax.imshow(img, extent=extent, aspect=aspect, interpolation="nearest")
    else:
        _draw_density(ax, matrix, bins, extent, aspect, colorbar)
    if layout is not None:
        if rules:
            draw_rules(ax, layout)
        _block_ticks(ax, layout)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.format_coord = _format_coord(layout, values)
    ax.set_title(title if title is not None else _title(matrix, tap_map_of, shape), fontsize=10)
    return fig


def _title(matrix, m, shape) -> str:
    from ..export.text import summarize_matrix

    if matrix is None:
        return f"tap map: {shape[0]} x {shape[1]}, {m().nnz:,} stored entries"
    return summarize_matrix(matrix).split(" (density")[0].replace(" CSR matrix", "").replace(" dense matrix", "")


def _draw_values(ax, A, extent, aspect, colorbar: bool) -> np.ndarray:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    if is_sympy_matrix(A):
        raise InputValueError("color='value' needs numbers: a symbolic matrix is drawn by tap (color='tap')", "color")
    values = _dense_values(A)
    finite = values[np.isfinite(values)]
    complex_ = getattr(A, "dtype", np.dtype(float)).kind == "c"
    vmax = float(np.abs(finite).max()) if finite.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    cmap = colormaps["viridis" if complex_ else VALUE_CMAP].with_extremes(bad="white")
    norm = Normalize(0 if complex_ else -vmax, vmax)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, extent=extent, aspect=aspect,
                   interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="|entry|" if complex_ else "entry value", shrink=0.9)
    return values


def _draw_taps(ax, A, layout, m, transposed, extent, aspect, legend: bool, own: bool) -> None:
    """The taps in their colours; the legend beside the figure (a new one) or beside the axes (the user's)."""
    ids, labels = _tap_grid(A, layout, m, transposed)
    img, handles = _tap_image(ids, labels)
    ax.imshow(img, extent=extent, aspect=aspect, interpolation="nearest")
    if not legend:
        return
    if handles:
        kw = dict(handles=handles, fontsize=8, frameon=False, title="tap", title_fontsize=8,
                  ncols=1 if len(handles) <= 12 else 2)
        if own:
            ax.figure.legend(loc="outside right upper", **kw)
        else:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), **kw)
    elif len(labels) > len(TAP_COLORS):
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        sm = ScalarMappable(Normalize(0, len(labels) - 1), colormaps["turbo"].resampled(len(labels)))
        ax.figure.colorbar(sm, ax=ax, label="tap (colour order)", shrink=0.9)


def _draw_density(ax, A, bins, extent, aspect, colorbar: bool) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm, Normalize

    counts = density_histogram(A, bins)
    br = A.shape[0] / counts.shape[0]
    bc = A.shape[1] / counts.shape[1]
    top = int(counts.max()) if counts.size else 1
    low = int(counts[counts > 0].min()) if top > 0 else 1
    # light blue (few entries) to dark blue (many) on white, so that the black rules stay apart
    cmap = ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)), name="density").with_extremes(bad="white")
    norm = LogNorm(low, max(top, low + 1)) if top > 50 * low else Normalize(0, max(top, 1))
    im = ax.imshow(np.ma.masked_equal(counts, 0), cmap=cmap, norm=norm, extent=extent, aspect=aspect,
                   interpolation="nearest", rasterized=True)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.9, label=f"stored entries per bin ({br:.3g} x {bc:.3g} entries)")

