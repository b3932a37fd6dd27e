"""How a convolution matrix's rows and columns are laid out: channel blocks, then spatial positions.

Row ``r`` of a convolution's matrix is output channel ``o = r // P`` at spatial
position ``r % P`` (C order over the output size, ``P`` positions); column
``c`` is input channel ``c // Q`` at position ``c % Q``.  Pictures draw rules
between the channel blocks and label rows ``(o, y, x)`` and columns
``(c, y, x)``; this module reads that layout off a geometry and holds the
colours the pictures share (the dependency-free PNG and matplotlib's).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from .._validation import InputValueError, as_instance, as_sizes, object_type_error
from ..geometry import ConvGeometry, ConvTransposeGeometry
from ..structure import TapMap

__all__ = ["MatrixLayout", "layout_of", "check_shape", "spatial_names", "TAP_COLORS", "RULE_COLOR", "SUM_COLOR"]

#: One colour per kernel entry (tap), as 8-bit RGB: matplotlib's ``tab20`` order
#: (strong colours first, then their light partners), none of them black or grey.
TAP_COLORS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (174, 199, 232),
    (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148),
    (247, 182, 210), (219, 219, 141), (158, 218, 229), (57, 59, 121), (140, 109, 49),
)
#: Rules between channel blocks: black, which no entry colour uses.
RULE_COLOR = (0, 0, 0)
#: An entry that sums several taps (reflect, replicate, circular borders): grey.
SUM_COLOR = (128, 128, 128)


def spatial_names(ndim: int) -> tuple[str, ...]:
    """Names of the spatial axes: ``x``; ``y, x``; ``z, y, x``; beyond three ``d0, d1, ...``.

    Examples
    --------
    >>> spatial_names(2), spatial_names(4)
    (('y', 'x'), ('d0', 'd1', 'd2', 'd3'))
    """
    return (("x",), ("y", "x"), ("z", "y", "x"))[ndim - 1] if 1 <= ndim <= 3 else tuple(f"d{a}" for a in range(ndim))


@dataclass(frozen=True)
class MatrixLayout:
    """Rows as ``(row_channels, *row_size)`` and columns as ``(col_channels, *col_size)``, in C order.

    Attributes
    ----------
    row_channels, col_channels : int
    row_size, col_size : tuple of int
        Spatial sizes.
    row_name, col_name : str
        Names of the channel indices (``"o"`` and ``"c"`` for a convolution).

    Raises
    ------
    TypeError, ValueError
        For sizes that are not positive integers.

    Examples
    --------
    >>> m = MatrixLayout(2, (2, 3), 1, (4, 5))
    >>> m.shape, m.row_block, m.row_label(7), m.col_label(6)
    ((12, 20), 6, 'o=1, y=0, x=1', 'c=0, y=1, x=1')
    """

    row_channels: int
    row_size: tuple
    col_channels: int
    col_size: tuple
    row_name: str = "o"
    col_name: str = "c"

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        put("row_channels", as_sizes(self.row_channels, 1, "row_channels")[0])
        put("col_channels", as_sizes(self.col_channels, 1, "col_channels")[0])
        for name in ("row_size", "col_size"):
            value = getattr(self, name)
            put(name, as_sizes(value, len(value) if isinstance(value, (tuple, list)) else 1, name))

    @property
    def row_block(self) -> int:
        """Rows per channel block."""
        return prod(self.row_size)

    @property
    def col_block(self) -> int:
        """Columns per channel block."""
        return prod(self.col_size)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the matrix."""
        return (self.row_channels * self.row_block, self.col_channels * self.col_block)

    def axis_label(self, axis: int) -> str:
        """``"(o, y, x)"`` for the rows (``axis=0``), ``"(c, y, x)"`` for the columns."""
        name, size = (self.row_name, self.row_size) if axis == 0 else (self.col_name, self.col_size)
        return "(" + ", ".join((name,) + spatial_names(len(size))) + ")"

    def _label(self, index: int, channels: int, size: tuple, name: str) -> str:
        block = prod(size)
        pos = np.unravel_index(int(index) % block, size)
        names = spatial_names(len(size))
        return ", ".join([f"{name}={int(index) // block}"] + [f"{n}={int(p)}" for n, p in zip(names, pos)])

    def row_label(self, r: int) -> str:
        """``"o=1, y=0, x=2"`` for row ``r``."""
        return self._label(r, self.row_channels, self.row_size, self.row_name)

    def col_label(self, c: int) -> str:
        """``"c=0, y=1, x=1"`` for column ``c``."""
        return self._label(c, self.col_channels, self.col_size, self.col_name)

    def transposed(self) -> "MatrixLayout":
        """The layout of the transpose."""
        return MatrixLayout(self.col_channels, self.col_size, self.row_channels, self.row_size,
                            self.col_name, self.row_name)


def layout_of(geometry, shape: tuple[int, int] | None = None) -> MatrixLayout:
    """The layout of a matrix built from ``geometry``, checked against the matrix's ``shape``.

    Parameters
    ----------
    geometry : ConvGeometry, ConvTransposeGeometry, TapMap or MatrixLayout
        A convolution (rows ``(o, *output)``, columns ``(c, *input)``), a
        transposed convolution (the same, for its own input and output), a tap
        map (transposed when it is), or a layout as it is.
    shape : (int, int), optional
        The matrix's shape; refused when it is not the geometry's.

    Raises
    ------
    TypeError
        For anything else.
    ValueError
        When ``shape`` is not the geometry's.

    Examples
    --------
    >>> from convmatrix import ConvGeometry
    >>> layout_of(ConvGeometry.from_weight_shape((4, 3, 3, 3), (8, 8), stride=2, padding=1)).shape
    (64, 192)
    """
    as_instance(geometry, "geometry", (ConvGeometry, ConvTransposeGeometry, TapMap, MatrixLayout),
                "a ConvGeometry, ConvTransposeGeometry, TapMap or MatrixLayout")
    if isinstance(geometry, MatrixLayout):
        layout = geometry
    elif isinstance(geometry, TapMap):
        layout = layout_of(geometry.geometry)
        layout = layout.transposed() if geometry.transposed else layout
    else:  # a convolution or a transposed one: rows are its output, columns its input
        layout = MatrixLayout(geometry.out_channels, geometry.output_size, geometry.in_channels, geometry.input_size)
    if shape is not None and tuple(shape) != layout.shape:
        raise InputValueError(f"geometry gives a {layout.shape[0]} x {layout.shape[1]} matrix (rows "
                              f"{layout.axis_label(0)}, columns {layout.axis_label(1)}) but the matrix is "
                              f"{shape[0]} x {shape[1]}", "geometry")
    return layout


def check_shape(A) -> tuple[int, int]:
    """``A.shape`` of a 2-d matrix with at least one entry (the pictures' common refusal)."""
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2:
        raise object_type_error("A", A, "must be a matrix: a 2-d scipy.sparse array, ndarray or SymPy matrix")
    if shape[0] == 0 or shape[1] == 0:
        raise InputValueError(f"A has shape {tuple(shape)}: there is nothing to draw", "A")
    return int(shape[0]), int(shape[1])

