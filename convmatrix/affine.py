"""Layer 5 — affine maps ``x -> A x + b`` between sample shapes: what a network's layers are, at a point.

An :class:`AffineMap` holds a matrix ``A`` acting on one sample flattened in
C order (``x.reshape(-1)``, PyTorch's layout ``(C, *spatial)``), an offset
``b`` (the bias terms; zeros where there are none) and the two sample shapes.
Maps compose with ``@`` (``(f @ g)(x) == f(g(x))``) and add with ``+`` (the
map ``x -> f(x) + g(x)``, a skip connection), so a network's map is built from
its layers' the way the network is built from its layers.  For a
piecewise-linear network (ReLU, max pooling, ...) evaluated at a point ``x``,
the composed matrix is its Jacobian at ``x``: the exact local linear map.

:func:`convmatrix.from_torch` makes them from ``torch.nn`` modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._limits import as_format, as_max_bytes, guard
from ._sparse import canonical, finish, nnz_of, structural_product
from ._validation import InputTypeError, InputValueError, as_array, as_shape, detached, object_type_error, show
from .matrices import affine_matrix

__all__ = ["AffineMap", "compose", "stack"]


def _dims(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


@dataclass(frozen=True, eq=False)
class AffineMap(Displayable):
    """The affine map ``x -> matrix @ x.reshape(-1) + offset`` from samples of ``input_shape`` to ``output_shape``.

    Parameters
    ----------
    matrix : scipy.sparse array or ndarray, shape (prod(output_shape), prod(input_shape))
        Real numbers.
    offset : array_like, shape (prod(output_shape),), optional
        Default zeros.
    input_shape, output_shape : tuple of int
        The sample shapes, e.g. ``(C, H, W)``; a 1-d ``(n,)`` for features.

    Attributes
    ----------
    matrix, offset, input_shape, output_shape
        As given (``offset`` as a float64 vector).
    shape : (int, int)
        Of the matrix.
    nnz : int
        Stored entries of the matrix.

    Raises
    ------
    TypeError, ValueError
        For a matrix that is not a 2-d sparse array or ndarray of real numbers,
        shapes that are not positive integers or do not match the matrix, or
        an offset of the wrong length.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> w, b = np.array([[[1.0, 2.0]]]), np.array([5.0])
    >>> f = AffineMap(cm.conv_matrix(w, 3), cm.conv_bias_vector(b, 2), (1, 3), (1, 2))
    >>> f(np.array([[1.0, 1.0, 1.0]]))
    array([[8., 8.]])
    >>> g = AffineMap(cm.pad_matrix(2, 1), None, (1, 2), (1, 4))
    >>> (g @ f).shape, (g @ f)(np.ones((1, 3)))
    ((4, 3), array([[0., 8., 8., 0.]]))
    >>> print(g @ f)
    AffineMap (1, 3) -> (1, 4): 4 x 3 csr_array, 4 stored entries; offset: 2 nonzero of 4
    """

    matrix: Any
    offset: Any = None
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        m = self.matrix
        if not (sp.issparse(m) or isinstance(m, np.ndarray)) or m.ndim != 2:
            raise object_type_error("matrix", m, "must be a 2-d scipy.sparse array or numpy ndarray")
        if m.dtype.kind not in "biuf":
            raise InputTypeError(f"matrix must hold real numbers: got dtype {m.dtype}", "matrix")
        if sp.issparse(m) and not isinstance(m, sp.sparray):
            m = sp.csr_array(m)
        n_in = as_shape(self.input_shape, "input_shape")
        n_out = as_shape(self.output_shape, "output_shape")
        if m.shape != (prod(n_out), prod(n_in)):
            raise InputValueError(
                f"matrix has shape {m.shape} but input_shape={show(n_in)} and output_shape={show(n_out)} need "
                f"({prod(n_out)}, {prod(n_in)})", "matrix")
        if self.offset is None:
            b = np.zeros(m.shape[0])
        else:
            b = as_array(self.offset, "offset", finite=True).astype(np.float64).reshape(-1)
            if b.size != m.shape[0]:
                raise InputValueError(f"offset has {b.size} entries but the matrix has {m.shape[0]} rows: they "
                                      f"must match", "offset")
        for name, value in (("matrix", m), ("offset", b), ("input_shape", n_in), ("output_shape", n_out)):
            object.__setattr__(self, name, value)

    # -- sizes
    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of :attr:`matrix`."""
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        """Stored entries of :attr:`matrix` (nonzero entries when it is dense)."""
        return nnz_of(self.matrix)

    # -- acting on samples
    def __call__(self, x: Any) -> np.ndarray:
        """``(matrix @ x.reshape(-1) + offset).reshape(output_shape)`` for one sample ``x``.

        Raises
        ------
        TypeError, ValueError
            For ``x`` that is not real numbers or has the wrong number of entries.
        """
        arr = as_array(detached(x), "x", rule="must be an array of real numbers")
        if arr.size != self.shape[1]:
            raise InputValueError(
                f"x has shape {arr.shape} ({arr.size} entries) but the map acts on samples of shape "
                f"{_dims(self.input_shape)} ({self.shape[1]} entries)", "x")
        return (self.matrix @ arr.reshape(-1) + self.offset).reshape(self.output_shape)

    # -- algebra
    def __matmul__(self, other: "AffineMap") -> "AffineMap":
        """``self @ other``: the map ``x -> self(other(x))``."""
        if not isinstance(other, AffineMap):
            return NotImplemented
        return compose(self, other)

    def __add__(self, other: "AffineMap") -> "AffineMap":
        """``self + other``: the map ``x -> self(x) + other(x)`` (same shapes)."""
        if not isinstance(other, AffineMap):
            return NotImplemented
        for name in ("input_shape", "output_shape"):
            if getattr(self, name) != getattr(other, name):
                raise InputValueError(
                    f"maps of different {name}s cannot be added: {_dims(getattr(self, name))} and "
                    f"{_dims(getattr(other, name))}", "other")
        m = self.matrix + other.matrix
        m = np.asarray(m) if isinstance(m, np.ndarray) else canonical(m)
        return AffineMap(m, self.offset + other.offset, self.input_shape, self.output_shape)

    def scaled(self, factor: float) -> "AffineMap":
        """The map ``x -> factor * self(x)``."""
        m = self.matrix * factor
        return AffineMap(m if isinstance(m, np.ndarray) else canonical(m), self.offset * factor,
                         self.input_shape, self.output_shape)

    def shifted(self, constant: Any) -> "AffineMap":
        """The map ``x -> self(x) + constant`` (``constant`` broadcast to the output shape)."""
        c = np.asarray(constant, dtype=np.float64)
        c = c.reshape(-1) if c.size == self.shape[0] else np.broadcast_to(c, self.output_shape).reshape(-1)
        return AffineMap(self.matrix, self.offset + c, self.input_shape, self.output_shape)

    def reshaped(self, output_shape) -> "AffineMap":
        """The same map with its output read in another shape of as many entries (Flatten, view)."""
        shape = as_shape(output_shape, "output_shape")
        if prod(shape) != self.shape[0]:
            raise InputValueError(f"output_shape={show(shape)} has {prod(shape)} entries, the map "
                                  f"{self.shape[0]}: they must match", "output_shape")
        return AffineMap(self.matrix, self.offset, self.input_shape, shape)

    # -- forms
    def asformat(self, format: str = "csr", *, max_bytes: int | None = None) -> "AffineMap":
        """The same map with its matrix in ``format`` (a ``scipy.sparse`` name or ``"dense"``).

        Raises
        ------
        TypeError, ValueError
            On an unknown format.
        MatrixTooLargeError
            When the matrix in that format would exceed ``max_bytes``.
        """
        format = as_format(format)
        as_max_bytes(max_bytes)
        m = self.matrix
        if isinstance(m, np.ndarray):
            if format == "dense":
                return self
            m = sp.csr_array(m)
        guard(m.shape, m.nnz, m.dtype.itemsize, format, max_bytes, what="matrix of the affine map")
        return AffineMap(finish(canonical(m), format, max_bytes), self.offset, self.input_shape, self.output_shape)

    def homogeneous(self, *, format: str = "csr", max_bytes: int | None = None):
        """The homogeneous matrix ``[[matrix, offset], [0, 1]]`` (:func:`convmatrix.affine_matrix`)."""
        return affine_matrix(self.matrix, self.offset, format=format, max_bytes=max_bytes)

    @classmethod
    def identity(cls, shape, *, dtype: Any = np.int64) -> "AffineMap":
        """The identity on samples of ``shape``.

        Examples
        --------
        >>> AffineMap.identity((2, 3)).shape
        (6, 6)
        """
        shape = as_shape(shape, "shape")
        n = prod(shape)
        guard((n, n), n, np.dtype(dtype).itemsize, "csr", None, what="identity")
        return cls(sp.csr_array(sp.identity(n, dtype=dtype, format="csr")), None, shape, shape)

    # -- presentation
    def __str__(self) -> str:
        kind = "ndarray" if isinstance(self.matrix, np.ndarray) else type(self.matrix).__name__
        rows, cols = self.shape
        nonzero = int(np.count_nonzero(self.offset))
        offset = "zero" if nonzero == 0 else f"{nonzero:,} nonzero of {self.offset.size:,}"
        return (f"AffineMap {_dims(self.input_shape)} -> {_dims(self.output_shape)}: {rows} x {cols} {kind}, "
                f"{self.nnz:,} stored entries; offset: {offset}")

    def __repr__(self) -> str:
        return f"<{self}>"


def compose(outer: AffineMap, inner: AffineMap, *, max_bytes: int | None = None) -> AffineMap:
    """``outer @ inner``: ``x -> outer(inner(x))``, the product built a block of rows at a time within the limit.

    Parameters
    ----------
    outer, inner : AffineMap
        ``inner.output_shape`` must equal ``outer.input_shape``.
    max_bytes : int, optional
        Refuse a product larger than this (see :func:`convmatrix.conv_matrix`).

    Returns
    -------
    AffineMap
        Matrix ``outer.matrix @ inner.matrix`` (dense only when both are),
        offset ``outer.matrix @ inner.offset + outer.offset``.

    Raises
    ------
    TypeError, ValueError
        For arguments that are not maps or shapes that do not chain.
    MatrixTooLargeError
        As soon as the product exceeds ``max_bytes``.

    Examples
    --------
    >>> f = AffineMap.identity((2,)).shifted([1.0, 2.0])
    >>> compose(f, f)(np.zeros(2))
    array([2., 4.])
    """
    for name, value in (("outer", outer), ("inner", inner)):
        if not isinstance(value, AffineMap):
            raise object_type_error(name, value, "must be an AffineMap")
    if inner.output_shape != outer.input_shape:
        raise InputValueError(
            f"the maps do not chain: the inner map gives samples of shape {_dims(inner.output_shape)}, the outer "
            f"takes {_dims(outer.input_shape)}", "inner")
    as_max_bytes(max_bytes)
    a, b = outer.matrix, inner.matrix
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        m = a @ b
    else:
        itemsize = max(np.dtype(a.dtype).itemsize, np.dtype(b.dtype).itemsize, 8)
        m = structural_product([sp.csr_array(a), sp.csr_array(b)], itemsize, max_bytes,
                               what="product of the affine maps")
        m = canonical(m)
    return AffineMap(m, a @ inner.offset + outer.offset, inner.input_shape, outer.output_shape)


def stack(maps, output_shape, rows: np.ndarray) -> AffineMap:
    """Rows of several maps of one input, gathered into one map: ``out[r] = stacked[rows[r]]``.

    ``stacked`` is the maps' rows one after the other; ``rows`` (length
    ``prod(output_shape)``) says which of them each output entry is
    (concatenation along any axis is such a gather).

    Raises
    ------
    ValueError
        When the maps do not share their input shape.

    Examples
    --------
    >>> f = AffineMap.identity((2,))
    >>> stack([f, f.scaled(10)], (4,), np.array([0, 2, 1, 3]))(np.array([1, 2]))
    array([ 1., 10.,  2., 20.])
    """
    maps = list(maps)
    shape = maps[0].input_shape
    for m in maps[1:]:
        if m.input_shape != shape:
            raise InputValueError(f"maps of different input shapes cannot be stacked: {_dims(shape)} and "
                                  f"{_dims(m.input_shape)}", "maps")
    dense = all(isinstance(m.matrix, np.ndarray) for m in maps)
    if dense:
        matrix = np.vstack([m.matrix for m in maps])[rows]
    else:
        matrix = canonical(sp.csr_array(sp.vstack([sp.csr_array(m.matrix) for m in maps], format="csr"))[rows])
    offset = np.concatenate([m.offset for m in maps])[rows]
    return AffineMap(matrix, offset, shape, output_shape)
