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
from ._limits import as_format, as_max_bytes, guard, index_dtype, limit_bytes, matrix_bytes
from ._sparse import canonical, finish, nnz_of, structural_product
from ._validation import (InputTypeError, InputValueError, as_array, as_real, as_shape, detached, object_type_error,
                          show)
from .matrices import affine_matrix

__all__ = ["AffineMap", "AffineGraph", "compose", "stack", "sparse_product", "right_product"]


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
        """The map ``x -> factor * self(x)``.

        Raises
        ------
        TypeError, ValueError
            For a factor that is not a finite real number.
        """
        factor = as_real(factor, "factor", minimum=None)
        m = self.matrix * factor
        return AffineMap(m if isinstance(m, np.ndarray) else canonical(m), self.offset * factor,
                         self.input_shape, self.output_shape)

    def shifted(self, constant: Any) -> "AffineMap":
        """The map ``x -> self(x) + constant`` (``constant`` broadcast to the output shape, or flat).

        Raises
        ------
        TypeError, ValueError
            For a constant that is not finite real numbers or does not broadcast to the output shape.
        """
        c = as_array(constant, "constant", finite=True).astype(np.float64)
        if c.size == self.shape[0]:
            c = c.reshape(-1)
        else:
            try:
                c = np.broadcast_to(c, self.output_shape).reshape(-1)
            except ValueError:
                raise InputValueError(f"constant of shape {c.shape} does not broadcast to the output shape "
                                      f"{_dims(self.output_shape)}", "constant") from None
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
    def identity(cls, shape) -> "AffineMap":
        """The identity on samples of ``shape`` (integer ones).

        Raises
        ------
        TypeError, ValueError
            For a shape that is not positive integers.
        MatrixTooLargeError
            When the identity would exceed the size limit.

        Examples
        --------
        >>> AffineMap.identity((2, 3)).shape
        (6, 6)
        """
        shape = as_shape(shape, "shape")
        n = prod(shape)
        guard((n, n), n, 8, "csr", None, what="identity")
        return cls(_sparse_identity(n), None, shape, shape)

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


def _gather_rows(a: sp.csr_array, b: sp.csr_array, max_bytes) -> sp.csr_array:
    """``a @ b`` when every row of ``a`` holds at most one entry (a selection, a diagonal, a pad):
    row ``r`` is ``a[r, c] * b[c]``, gathered without a product (``b``'s index order is kept)."""
    has = np.diff(a.indptr) > 0
    lengths = np.diff(b.indptr)[a.indices]
    nnz = int(lengths.sum())
    dtype = np.result_type(a.dtype, b.dtype)
    guard((a.shape[0], b.shape[1]), nnz, dtype.itemsize, "csr", max_bytes, what="product of the affine maps")
    g = b[a.indices] if a.nnz else sp.csr_array((0, b.shape[1]), dtype=b.dtype)
    data = g.data * np.repeat(a.data, lengths).astype(dtype, copy=False)
    it = index_dtype(nnz, a.shape[0], b.shape[1])
    indptr = np.zeros(a.shape[0] + 1, dtype=it)
    counts = np.zeros(a.shape[0], dtype=it)
    counts[has] = lengths
    np.cumsum(counts, out=indptr[1:])
    out = sp.csr_array((data.astype(dtype, copy=False), g.indices.astype(it, copy=False), indptr),
                       shape=(a.shape[0], b.shape[1]))
    out.has_sorted_indices = bool(getattr(b, "has_sorted_indices", False))
    return out


def sparse_product(a, b, max_bytes: int | None = None, *, sort: bool = True) -> sp.csr_array:
    """``a @ b`` for sparse matrices, refused beyond the limit; canonical unless ``sort=False``.

    Three ways, the cheapest that applies: when every row of ``a`` holds at most
    one entry (diagonals, selections, pads: most layers between convolutions),
    the rows of ``b`` are gathered and scaled; when an upper bound of the
    product's entries (``sum`` of ``b``'s row lengths over ``a``'s entries,
    computed in ``O(nnz(a))``) fits in the limit, one product; otherwise the
    product is formed a block of rows at a time and checked after each block.

    Raises
    ------
    MatrixTooLargeError
        When the product exceeds ``max_bytes``.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 2], [0, 0], [1, 0]]))
    >>> sparse_product(a, sp.csr_array(np.array([[1, 2], [3, 4]]))).toarray()
    array([[6, 8],
           [0, 0],
           [1, 2]])
    """
    a, b = sp.csr_array(a), sp.csr_array(b)
    if a.nnz == 0 or np.diff(a.indptr).max() <= 1:
        out = _gather_rows(a, b, max_bytes)
    else:
        itemsize = np.result_type(a.dtype, b.dtype).itemsize
        bound = int(np.diff(b.indptr)[a.indices].sum())
        if matrix_bytes((a.shape[0], b.shape[1]), bound, itemsize) <= limit_bytes(max_bytes):
            out = sp.csr_array(a @ b)
        else:
            out = structural_product([a, b], itemsize, max_bytes, what="product of the affine maps")
    return canonical(out) if sort else out


def compose(outer: AffineMap, inner: AffineMap, *, max_bytes: int | None = None, sort: bool = True) -> AffineMap:
    """``outer @ inner``: ``x -> outer(inner(x))``, the product refused beyond the limit.

    Parameters
    ----------
    outer, inner : AffineMap
        ``inner.output_shape`` must equal ``outer.input_shape``.
    max_bytes : int, optional
        Refuse a product larger than this (see :func:`convmatrix.conv_matrix`).
    sort : bool, optional
        ``False`` leaves a sparse product's indices as the product makes them
        (for a chain of products, sorted once at its end); ``True``: canonical CSR.

    Returns
    -------
    AffineMap
        Matrix ``outer.matrix @ inner.matrix`` (see :func:`sparse_product`; dense only when both are),
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
        m = sparse_product(a, b, max_bytes, sort=sort)
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
    in_order = rows.size == sum(m.shape[0] for m in maps) and np.array_equal(rows, np.arange(rows.size))
    if dense:
        matrix = np.vstack([m.matrix for m in maps])
        matrix = matrix if in_order else matrix[rows]
    else:
        matrix = sp.csr_array(sp.vstack([sp.csr_array(m.matrix) for m in maps], format="csr"))
        matrix = matrix if in_order else sp.csr_array(matrix[rows])
    offset = np.concatenate([m.offset for m in maps])[rows]
    return AffineMap(matrix, offset, shape, output_shape)


# =========================================================================== a network as a graph of maps
def _is_identity(m) -> bool:
    """Whether a sparse matrix is the identity (square, one 1 per row on the diagonal)."""
    if not sp.issparse(m) or m.shape[0] != m.shape[1]:
        return False
    m = sp.csr_array(m)
    n = m.shape[0]
    return (m.nnz == n and np.array_equal(m.indptr, np.arange(n + 1)) and np.array_equal(m.indices, np.arange(n))
            and bool(np.all(m.data == 1)))


def _sparse_identity(n: int, scale: float = 1.0) -> sp.csr_array:
    it = index_dtype(n)
    data = np.full(n, scale) if scale != 1 else np.ones(n, dtype=np.int64)
    return sp.csr_array((data, np.arange(n, dtype=it), np.arange(n + 1, dtype=it)), shape=(n, n))


def _plus(a, b):
    """The sum of two terms, ``None`` standing for an identity of ``b``'s (or ``a``'s) size."""
    if a is None:
        a = _sparse_identity(b.shape[0])
    if b is None:
        b = _sparse_identity(a.shape[0])
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (a.toarray() if sp.issparse(a) else a) + (b.toarray() if sp.issparse(b) else b)
    return sp.csr_array(a + b)


#: A product at least this dense is kept as an ndarray (8 bytes an entry instead of CSR's 12 per stored one),
#: so that the next products are sparse-times-dense (when it fits in the limit).
DENSE_FRACTION = 0.5


def _maybe_dense(m, max_bytes):
    """``m`` as an ndarray when at least :data:`DENSE_FRACTION` of it is stored and the array fits."""
    if not sp.issparse(m):
        return m
    rows, cols = m.shape
    if rows * cols and m.nnz >= DENSE_FRACTION * rows * cols and 8 * rows * cols <= limit_bytes(max_bytes):
        return m.toarray()
    return m


def right_product(a: sp.csr_array, m, max_bytes: int | None = None) -> sp.csr_array:
    """``a @ m``; when every row of ``m`` holds at most one entry (a diagonal, a selection, an injection) the
    columns of ``a`` are renamed and scaled in ``O(nnz(a))`` instead (duplicates summed where two rows of
    ``m`` share a column).

    Examples
    --------
    >>> a = sp.csr_array(np.array([[1, 2, 3]]))
    >>> m = sp.csr_array(np.array([[0, 5], [0, 0], [1, 0]]))
    >>> right_product(a, m).toarray()
    array([[3, 5]])
    """
    if isinstance(a, np.ndarray):
        return a @ sp.csr_array(m)
    a, m = sp.csr_array(a), sp.csr_array(m)
    lengths = np.diff(m.indptr)
    if m.nnz and lengths.max() > 1:
        return sparse_product(a, m, max_bytes, sort=False)
    has = lengths > 0
    col = np.full(m.shape[0], -1, dtype=np.int64)
    col[has] = m.indices
    val = np.zeros(m.shape[0], dtype=m.dtype)
    val[has] = m.data
    keep = has[a.indices]
    dtype = np.result_type(a.dtype, m.dtype)
    rows_kept = np.bincount(np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))[keep], minlength=a.shape[0])
    nnz = int(rows_kept.sum())
    guard((a.shape[0], m.shape[1]), nnz, dtype.itemsize, "csr", max_bytes, what="product of the affine maps")
    it = index_dtype(nnz, a.shape[0], m.shape[1])
    indptr = np.zeros(a.shape[0] + 1, dtype=it)
    np.cumsum(rows_kept, out=indptr[1:])
    src = a.indices[keep]
    out = sp.csr_array(((a.data[keep] * val[src]).astype(dtype, copy=False), col[src].astype(it), indptr),
                       shape=(a.shape[0], m.shape[1]))
    if np.unique(m.indices).size != m.nnz:  # two rows of m share a column: entries to sum
        out.sum_duplicates()
    return out


class AffineGraph:
    """A network's affine map as a graph: node ``k`` is ``Σ_p L_{k,p} node_p + c_k``; node 0 is the input.

    Each edge's ``L`` is a sparse matrix, a number (that multiple of the
    identity) or ``None`` (the identity: a reshape, a skip connection).  The map
    of a node is accumulated in one of two orders, as automatic
    differentiation would: *forward* (``M_k = Σ_p L_{k,p} M_p`` from ``M_0 = I``,
    products with as many columns as the input has entries) or *reverse*
    (adjoints ``A_p += A_k L_{k,p}`` from ``A_node = I``, products with as many
    rows as the node has entries).  ``mode="auto"`` takes the one whose side is
    smaller.  The offset is always propagated forward, as a vector.

    Parameters
    ----------
    input_shape : tuple of int
    max_bytes : int, optional
        Limit for every product (see :func:`convmatrix.conv_matrix`).

    Examples
    --------
    >>> g = AffineGraph((2,))
    >>> a = g.add((2,), [(0, sp.csr_array(np.array([[1.0, 1.0], [0.0, 2.0]])))], offset=[1.0, 0.0])
    >>> b = g.add((2,), [(a, None), (0, -1.0)])             # a skip connection: a - x
    >>> g.map(b, mode="forward").matrix.toarray(), g.map(b, mode="reverse").matrix.toarray()
    (array([[0., 1.],
           [0., 1.]]), array([[0., 1.],
           [0., 1.]]))
    >>> g.map(b)(np.array([1.0, 1.0]))
    array([2., 1.])
    """

    def __init__(self, input_shape, max_bytes: int | None = None):
        self.shapes = [as_shape(input_shape, "input_shape")]
        self.parents: list[list] = [[]]
        self.offsets: list = [None]
        self.max_bytes = as_max_bytes(max_bytes)

    def add(self, shape, parents, offset=None) -> int:
        """A node ``Σ L node_p + offset`` of ``shape`` from ``parents``, a list of ``(node, L)``; its index."""
        shape = tuple(int(v) for v in shape)
        n = prod(shape)
        edges = []
        for p, L in parents:
            if sp.issparse(L) and _is_identity(L):
                L = None
            if L is not None and not isinstance(L, (int, float)):
                L = sp.csr_array(L)
                if L.shape != (n, prod(self.shapes[p])):
                    raise InputValueError(f"an edge from node {p} has shape {L.shape}, not "
                                          f"({n}, {prod(self.shapes[p])})", "parents")
            elif L is None and prod(self.shapes[p]) != n:
                raise InputValueError(f"an identity edge from node {p} joins {prod(self.shapes[p])} entries to {n}",
                                      "parents")
            edges.append((int(p), L))
        c = None
        if offset is not None:
            c = np.asarray(offset, dtype=np.float64).reshape(-1)
            c = None if not np.any(c) else c
        self.shapes.append(shape)
        self.parents.append(edges)
        self.offsets.append(c)
        return len(self.shapes) - 1

    def _ancestors(self, node: int) -> list[int]:
        seen, todo = {node}, [node]
        while todo:
            for p, _ in self.parents[todo.pop()]:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return sorted(seen)

    def _offset(self, nodes: list[int], node: int) -> np.ndarray:
        values: dict[int, np.ndarray] = {0: np.zeros(prod(self.shapes[0]))}
        for k in nodes[1:]:
            v = np.zeros(prod(self.shapes[k])) if self.offsets[k] is None else self.offsets[k].copy()
            for p, L in self.parents[k]:
                v += values[p] if L is None else (L * values[p] if isinstance(L, (int, float)) else L @ values[p])
            values[k] = v
        return values[node]

    def _forward(self, nodes: list[int], node: int):
        users = {k: 0 for k in nodes}
        for k in nodes:
            for p, _ in self.parents[k]:
                users[p] += 1
        M: dict[int, Any] = {0: None}  # None: the identity
        for k in nodes[1:]:
            if not self.parents[k]:  # a constant: no dependence on the input
                M[k] = sp.csr_array((prod(self.shapes[k]), prod(self.shapes[0])))
                continue
            acc, first = None, True
            for p, L in self.parents[k]:
                Mp = M[p]
                if L is None:
                    term = Mp
                elif isinstance(L, (int, float)):
                    term = _sparse_identity(prod(self.shapes[p]), L) if Mp is None else L * Mp
                elif Mp is None:
                    term = L
                elif isinstance(Mp, np.ndarray):
                    term = L @ Mp
                else:
                    term = _maybe_dense(sparse_product(L, Mp, self.max_bytes, sort=False), self.max_bytes)
                acc, first = (term, False) if first else (_plus(acc, term), False)
                users[p] -= 1
                if users[p] == 0 and p != node:
                    M.pop(p, None)
            M[k] = acc
        return M[node]

    def _reverse(self, nodes: list[int], node: int):
        A: dict[int, Any] = {node: None}  # None: the identity
        for k in reversed(nodes):
            if k == 0:
                break
            Ak = A.pop(k)
            for p, L in self.parents[k]:
                if L is None:
                    term = Ak
                elif isinstance(L, (int, float)):
                    term = _sparse_identity(prod(self.shapes[k]), L) if Ak is None else L * Ak
                else:
                    term = L if Ak is None else _maybe_dense(right_product(Ak, L, self.max_bytes), self.max_bytes)
                A[p] = term if p not in A else _plus(A[p], term)
        return A.get(0, sp.csr_array((prod(self.shapes[node]), prod(self.shapes[0]))))

    def map(self, node: int, *, mode: str = "auto") -> AffineMap:
        """The map from the input to ``node``, accumulated ``"forward"``, in ``"reverse"``, or ``"auto"``.

        Raises
        ------
        ValueError
            For an unknown mode.
        MatrixTooLargeError
            When a product exceeds the limit.
        """
        from ._validation import as_choice

        mode = as_choice(mode, "mode", ("auto", "forward", "reverse"))
        n_in, n_out = prod(self.shapes[0]), prod(self.shapes[node])
        if mode == "auto":
            mode = "forward" if n_in < n_out else "reverse"
        nodes = self._ancestors(node)
        J = None if node == 0 else (self._forward if mode == "forward" else self._reverse)(nodes, node)
        if J is None:
            J = _sparse_identity(n_in)
        return AffineMap(J, self._offset(nodes, node), self.shapes[0], self.shapes[node])
