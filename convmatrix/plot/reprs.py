"""The ``_repr_png_`` of result objects whose natural view is a picture (registered in ``export.display.PNG``).

Without matplotlib each renderer gives ``None`` (Jupyter then shows the HTML
summary), except a matrix view, which falls back to the dependency-free PNG.
Objects too large to draw entry by entry give ``None`` too: a notebook never
stalls on a picture nobody asked for.
"""

from __future__ import annotations

from math import prod

from ..export.display import PNG, register
from ._mpl import figure_png

__all__ = ["REPR_DPI", "REPR_ENTRY_LIMIT", "REPR_CELL_LIMIT"]

#: Resolution of the notebook pictures.
REPR_DPI = 80
#: Largest matrix (``rows * cols``) a notebook draws entry by entry; beyond, the density.
REPR_ENTRY_LIMIT = 250_000
#: Largest animation frame (cells of the padded input) a geometry draws as its picture.
REPR_CELL_LIMIT = 1024


def _png(draw):
    """The PNG of ``draw()``'s figure, or ``None`` without matplotlib."""
    try:
        fig = draw()
    except ImportError:
        return None
    return figure_png(fig, REPR_DPI)


@register(PNG, "MatrixView")
def matrix_view_png(v):
    """The matrix by :func:`~convmatrix.plot.plot_matrix` (the dependency-free PNG without matplotlib)."""
    from ..export.png import matrix_image, png_bytes
    from .matrix import plot_matrix

    color = v.color
    if color == "auto" and prod(v.shape) > REPR_ENTRY_LIMIT and not _symbolic(v.matrix):
        color = "density"
    data = _png(lambda: plot_matrix(v.matrix, geometry=v.geometry, color=color))
    if data is None:
        return png_bytes(matrix_image(v.matrix, geometry=v.layout))
    return data


def _symbolic(A) -> bool:
    from .._validation import is_sympy_matrix

    return is_sympy_matrix(A)


@register(PNG, "TapMap")
def tap_map_png(m):
    """The taps of a small tap map, one colour per kernel entry."""
    from .matrix import plot_matrix

    if prod(m.shape) > REPR_ENTRY_LIMIT:
        return None
    return _png(lambda: plot_matrix(m, color="tap"))


@register(PNG, "TransposedConvAsDirect")
def chain_png(d):
    """``T = C P Z`` side by side, for chains small enough to read."""
    from .chain import plot_chain

    g = d.conv_geometry
    if prod(g.shape) > REPR_ENTRY_LIMIT:
        return None
    return _png(lambda: plot_chain(d))


def _frame_png(obj):
    from ..animation import plot_conv_frame, scene_of

    try:
        scene = scene_of(obj)
    except ValueError:  # a padding mode the transposed view does not draw
        return None
    if scene.cells.size > REPR_CELL_LIMIT:
        return None
    return _png(lambda: plot_conv_frame(scene, 0))


@register(PNG, "TransposeArithmetic", "ConvGeometry", "ConvTransposeGeometry")
def geometry_png(g):
    """The first frame of the layer's animation (Dumoulin & Visin's picture), for small layers."""
    return _frame_png(g)


@register(PNG, "OverlapMap")
def overlap_png(m):
    """The overlap maps, one panel per depth."""
    from .overlap import plot_overlap

    if sum(mp[0].size for mp in m.maps) > REPR_ENTRY_LIMIT:
        return None
    return _png(lambda: plot_overlap(m))


@register(PNG, "ZeilerStack", "ZeilerLayer")
def filters_png(s):
    """The filter banks of a stack's layers (2-d filters only)."""
    from .zeiler import plot_filters

    layers = s.layers if hasattr(s, "layers") else [s]
    if any(layer.filters.ndim != 4 for layer in layers):
        return None
    if sum(layer.filters.size for layer in layers) > REPR_ENTRY_LIMIT:
        return None
    return _png(lambda: plot_filters(s))
