"""``convmatrix.show(A)``: a matrix wrapped so that a notebook renders it (an HTML summary and a picture)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._display import Displayable
from .._validation import is_sympy_matrix, object_type_error
from .display import HTML, register
from .html import matrix_html
from .layout import check_shape, layout_of
from .text import summarize_matrix

__all__ = ["MatrixView", "show"]


class MatrixView(Displayable):
    """A matrix and (optionally) the geometry it was built from, for display.

    In a notebook it renders as an HTML summary (shape, dtype, stored entries,
    the channel blocks, and small matrices as a grid) and a picture
    (:func:`convmatrix.plot.plot_matrix`, or the dependency-free PNG without
    matplotlib); in a terminal it prints its one-line summary.

    Attributes
    ----------
    matrix : sparse array, ndarray or SymPy matrix
    layout : MatrixLayout or None
        Where the channel blocks are (from ``geometry``).
    geometry : ConvGeometry, ConvTransposeGeometry, TapMap, MatrixLayout or None
    color : str
        Passed to :func:`convmatrix.plot.plot_matrix` for the picture.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> v = cm.show(cm.conv_matrix(np.ones((2, 1, 3)), 4, padding=1))
    >>> v
    MatrixView(8 x 4 float64 CSR matrix, 20 stored entries (density 0.625), 276 bytes)
    >>> "<table" in v._repr_html_()
    True
    """

    __slots__ = ("matrix", "geometry", "layout", "color")

    def __init__(self, matrix, geometry=None, *, color: str = "auto"):
        check_shape(matrix)
        if not (sp.issparse(matrix) or isinstance(matrix, np.ndarray) or is_sympy_matrix(matrix)):
            raise object_type_error("A", matrix, "must be a 2-d scipy.sparse array, ndarray or SymPy matrix")
        self.matrix = matrix
        self.geometry = geometry
        self.layout = None if geometry is None else layout_of(geometry, matrix.shape)
        self.color = color

    @property
    def shape(self) -> tuple[int, int]:
        """The matrix's shape."""
        return tuple(self.matrix.shape)

    def __repr__(self) -> str:
        return f"MatrixView({summarize_matrix(self.matrix)})"


def show(A, geometry=None, *, color: str = "auto") -> MatrixView:
    """Wrap a scipy sparse matrix, an ndarray or a SymPy matrix for display in a notebook.

    Parameters
    ----------
    A : sparse array, ndarray or SymPy matrix
        Any 2-d matrix, e.g. one that :func:`~convmatrix.conv_matrix` built.
    geometry : ConvGeometry, ConvTransposeGeometry, TapMap or MatrixLayout, optional
        The geometry ``A`` was built from: rules between channel blocks, rows
        labelled ``(o, y, x)`` and columns ``(c, y, x)``.
    color : {"auto", "value", "tap", "pattern", "density"}, optional
        How the picture colours the entries (see :func:`convmatrix.plot.plot_matrix`).

    Returns
    -------
    MatrixView
        Renders as HTML (``_repr_html_``) and PNG (``_repr_png_``).

    Raises
    ------
    TypeError, ValueError
        For something that is not a non-empty 2-d matrix, or a geometry of another shape.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> g = cm.ConvGeometry.from_weight_shape((2, 1, 3), 4, padding=1)
    >>> v = show(cm.conv_matrix(np.ones((2, 1, 3)), 4, padding=1), g)
    >>> v.layout.row_block, v._repr_png_()[:4]
    (4, b'\\x89PNG')
    """
    return MatrixView(A, geometry, color=color)


@register(HTML, "MatrixView")
def matrix_view_html(v: MatrixView) -> str:
    """:func:`~convmatrix.export.html.matrix_html` of the wrapped matrix, with its layout."""
    return matrix_html(v.matrix, v.layout)

