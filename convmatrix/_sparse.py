"""CSR assembly shared by every builder: canonical arrays in, the requested format out.

Builders write index and data arrays of their final size once and wrap them
here without a copy or a re-check (:func:`csr_arrays`); :func:`finish` turns a
canonical CSR array into the requested format, checking the formats whose size
depends on the pattern (``dia``) against the limit first.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._limits import MatrixTooLargeError, guard, guard_bytes, limit_bytes

__all__ = [
    "csr_arrays",
    "canonical",
    "tiled_pointer",
    "tiled_indptr",
    "shifted_cols",
    "csr_entry_chunks",
    "diagonal_count",
    "finish",
    "sympy_csr",
    "sympy_sparse",
    "structural_product",
    "nnz_of",
    "dense_bytes",
    "guard_dense",
]


_CSR_STATE: dict | None = None


def _csr_state() -> dict | None:
    """The attributes scipy gives a canonical ``csr_array`` besides its arrays and shape (or ``None``).

    Read once from an array scipy's own constructor made; ``None`` (use the
    constructor every time) if this scipy keeps them differently than expected.
    """
    global _CSR_STATE
    if _CSR_STATE is None:
        a = sp.csr_array((np.ones(1), np.zeros(1, dtype=np.int32), np.array([0, 1], dtype=np.int32)), shape=(1, 1))
        a.has_sorted_indices = True
        a.has_canonical_format = True
        state = dict(a.__dict__)
        expected = {"_shape", "data", "indices", "indptr"}
        _CSR_STATE = {k: v for k, v in state.items() if k not in expected} if expected <= state.keys() else {}
    return _CSR_STATE or None


def csr_arrays(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> sp.csr_array:
    """Wrap canonical CSR arrays (sorted, unique) in a ``csr_array`` without copying or re-checking them.

    The arrays are trusted: 1-d, ``indptr`` of ``shape[0] + 1`` entries from 0 to
    ``data.size``, indices of one integer dtype (int32 while they fit).  The
    array gets the same attributes scipy's constructor gives it, without the
    constructor's checks (a few microseconds instead of tens).

    Examples
    --------
    >>> a = csr_arrays((2, 2), np.array([1, 2]), np.array([0, 1], dtype=np.int32), np.array([0, 1, 2], dtype=np.int32))
    >>> a.toarray().tolist(), a.has_canonical_format
    ([[1, 0], [0, 2]], True)
    """
    state = _csr_state()
    if state is None:
        a = sp.csr_array(shape, dtype=data.dtype)
        a.data, a.indices, a.indptr = data, indices, indptr
        a.has_sorted_indices = True
        a.has_canonical_format = True
        return a
    a = object.__new__(sp.csr_array)
    a.__dict__.update(state)
    a._shape = (int(shape[0]), int(shape[1]))
    a.data, a.indices, a.indptr = data, indices, indptr
    return a


def canonical(a, *, drop_zeros: bool = True) -> sp.csr_array:
    """``a`` as canonical CSR (sorted, no duplicates; no stored zeros unless ``drop_zeros=False``).

    A canonical ``csr_array`` is not copied or rescanned (only its data, for zeros).

    Examples
    --------
    >>> canonical(sp.coo_array(([1, 1, 0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))).toarray().tolist()
    [[0, 2], [0, 0]]
    """
    if not (isinstance(a, sp.csr_array) and a.has_canonical_format):
        a = sp.csr_array(a)
        a.sum_duplicates()
    if drop_zeros:
        a.eliminate_zeros()
    return a


def tiled_pointer(row_indptr: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of the rows ``row_indptr`` points into.

    One pass: ``out[c * P + p] = c * row_indptr[-1] + row_indptr[p]``.

    Examples
    --------
    >>> tiled_pointer(np.array([0, 1, 3]), 2, np.int32).tolist()
    [0, 1, 3, 4, 6]
    """
    rows = row_indptr.size - 1
    per_channel = int(row_indptr[-1])
    out = np.empty(channels * rows + 1, dtype=dtype)
    np.add((np.arange(channels, dtype=dtype) * dtype(per_channel))[:, None], row_indptr[None, :-1],
           out=out[:-1].reshape(channels, rows), casting="unsafe")
    out[-1] = channels * per_channel
    return out


def tiled_indptr(row_lengths: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of rows with these lengths.

    Examples
    --------
    >>> tiled_indptr(np.array([1, 2]), 2, np.int32).tolist()
    [0, 1, 3, 4, 6]
    """
    row_indptr = np.zeros(row_lengths.size + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=row_indptr[1:])
    return tiled_pointer(row_indptr, channels, dtype)


def shifted_cols(cols: np.ndarray, offsets: np.ndarray, dtype) -> np.ndarray:
    """``cols + offsets[c]`` for every channel ``c``: a ``(len(offsets), len(cols))`` array of ``dtype``.

    Examples
    --------
    >>> shifted_cols(np.array([0, 1]), np.array([0, 10]), np.int32).tolist()
    [[0, 1], [10, 11]]
    """
    out = np.empty((offsets.size, cols.size), dtype=dtype)
    np.add(cols.astype(dtype)[None, :], offsets.astype(dtype)[:, None], out=out)
    return out


def csr_entry_chunks(a, chunk: int = 1 << 22):
    """``(rows, cols, data)`` of a CSR array's entries, about ``chunk`` entries at a time.

    Each chunk holds whole rows, so no nnz-sized temporary is made; ``rows``
    and ``cols`` are int64.

    Examples
    --------
    >>> [r.tolist() for r, _, _ in csr_entry_chunks(sp.csr_array(np.eye(3)), chunk=2)]
    [[0, 1], [2]]
    """
    n = a.shape[0]
    step = max(1, chunk // max(1, a.nnz // max(1, n)))
    for start in range(0, n, step):
        stop = min(n, start + step)
        lo, hi = int(a.indptr[start]), int(a.indptr[stop])
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(a.indptr[start:stop + 1]))
        yield rows, a.indices[lo:hi].astype(np.int64), a.data[lo:hi]


def diagonal_count(a: sp.csr_array, chunk: int = 1 << 22) -> int:
    """Distinct diagonals of a CSR array, in chunks of rows (no nnz-sized temporaries).

    Examples
    --------
    >>> diagonal_count(sp.csr_array(np.array([[1, 1], [0, 1]])))
    2
    """
    offsets = np.empty(0, dtype=np.int64)
    for rows, cols, _ in csr_entry_chunks(a, chunk):
        offsets = np.union1d(offsets, cols - rows)
    return offsets.size


def finish(a: sp.csr_array, format: str, max_bytes=None, what: str = "matrix"):
    """A canonical CSR array in ``format``; ``dia`` is checked against the limit by its real size.

    ``"dense"`` gives an ndarray.  ``format`` is trusted (checked by the builder).
    """
    if format == "csr":
        return a
    if format == "dense":
        return a.toarray()
    if format == "dia":
        nbytes = diagonal_count(a) * a.shape[1] * a.dtype.itemsize
        limit = limit_bytes(max_bytes)
        if nbytes > limit:
            raise MatrixTooLargeError(
                f"the {a.shape[0]} x {a.shape[1]} {what} in 'dia' format would take about "
                f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes: one row of {a.shape[1]} per "
                f"diagonal), over max_bytes={limit:,}: use 'csr', or pass a larger max_bytes= "
                f"or set CONVMATRIX_MAX_BYTES")
    return a.asformat(format)


def sympy_csr(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray):
    """A ``sympy.ImmutableSparseMatrix`` from CSR arrays of SymPy expressions (zeros not stored).

    The same matrix ``ImmutableSparseMatrix(rows, cols, {(r, c): v})`` gives — same
    type, entries, internal representation (a ``DomainMatrix`` in SDM form),
    arguments and hash — built directly: SymPy's constructor sorts the entries by
    their sort keys and sympifies every key, which costs tens of microseconds per
    entry; here each entry costs two tuples.  See :func:`sympy_sparse`.

    Examples
    --------
    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> M = sympy_csr((2, 2), np.array([a, a + b], dtype=object), np.array([1, 0]), np.array([0, 1, 2]))
    >>> M == sympy.ImmutableSparseMatrix(2, 2, {(0, 1): a, (1, 0): a + b}), type(M).__name__
    (True, 'ImmutableSparseMatrix')
    """
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr)).tolist()
    return sympy_sparse(shape, rows, indices.tolist(), data.tolist())


def _tuple(new, state, args):
    """``Basic.__new__(Tuple, *args)`` without the call's argument packing (SymPy's own three slots)."""
    t = new(_TUPLE[0])
    t._assumptions, t._mhash, t._args = state, None, args
    return t


_TUPLE: list = []  # sympy's Tuple class, once SymPy is loaded


def sympy_sparse(shape: tuple[int, int], rows: list, cols: list, values: list):
    """``ImmutableSparseMatrix(*shape, {(r, c): v})`` built directly, for entries given in CSR order.

    ``rows``, ``cols`` (Python ints, sorted by row then column, unique) and
    ``values`` (SymPy expressions) list the entries; zero values are dropped.
    The matrix's arguments are SymPy's own: ``(Integer(rows), Integer(cols),
    Dict)``, the ``Dict`` of ``Tuple((Integer(r), Integer(c)), v)`` items in the
    order :func:`sympy.ordered` gives them — by node count, then by position —
    and its ``_rep`` is the ``DomainMatrix`` SymPy's constructor would make.
    """
    import gc

    import sympy
    from sympy.core.basic import Basic
    from sympy.core.containers import Dict, Tuple
    from sympy.core.sorting import _nodes
    from sympy.polys.domains import EXRAW, QQ, ZZ
    from sympy.polys.matrices import DomainMatrix
    from sympy.polys.matrices.sdm import SDM

    if not _TUPLE:
        _TUPLE.append(Tuple)

    distinct = {id(v): v for v in values}
    if not all(isinstance(v, Basic) for v in distinct.values()):
        values = [v if isinstance(v, Basic) else sympy.sympify(v) for v in values]
        distinct = {id(v): v for v in values}
    # what each distinct value is: kept (v != 0), its node count in an item (sympy.ordered's first key), type
    facts = {i: (v != 0, _nodes(Basic.__new__(Tuple, v)), type(v)) for i, v in distinct.items()}
    if not all(f[0] for f in facts.values()):
        kept = [i for i, v in enumerate(values) if facts[id(v)][0]]
        rows, cols, values = [rows[i] for i in kept], [cols[i] for i in kept], [values[i] for i in kept]
        facts = {i: f for i, f in facts.items() if f[0]}
    types = {f[2] for f in facts.values()}
    counts = {f[1] for f in facts.values()}
    # SymPy's Integer of every row and column index used, made once each
    integers = {i: sympy.Integer(i) for i in set(rows).union(cols)}
    new, tuple_state = object.__new__, Tuple.default_assumptions
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small objects, none of them garbage: the collector would only rescan them
    try:
        keys = [_tuple(new, tuple_state, (integers[r], integers[c])) for r, c in zip(rows, cols)]
        items = [_tuple(new, tuple_state, kv) for kv in zip(keys, values)]
        if len(counts) > 1:  # sympy.ordered: by node count first; within one count by (row, col), as given
            order = np.argsort(np.array([facts[id(v)][1] for v in values]), kind="stable").tolist()
            ordered_items = tuple(items[i] for i in order)
        else:
            ordered_items = tuple(items)
        table = Basic.__new__(Dict, *ordered_items)
        table.elements = frozenset(items)
        table._dict = dict(zip(keys, values))
        dod: dict[int, dict] = {}
        start = 0
        for end in np.flatnonzero(np.diff(rows)).tolist() + [len(rows) - 1] if rows else []:
            dod[rows[start]] = dict(zip(cols[start:end + 1], values[start:end + 1]))
            start = end + 1
    finally:
        if was_enabled:
            gc.enable()
    rep = DomainMatrix.from_rep(SDM(dod, tuple(shape), EXRAW))
    if all(issubclass(t, sympy.Rational) for t in types):  # as SymPy's constructor: ZZ or QQ when it can
        rep = rep.convert_to(ZZ if all(issubclass(t, sympy.Integer) for t in types) else QQ)
    M = Basic.__new__(sympy.ImmutableSparseMatrix, sympy.Integer(shape[0]), sympy.Integer(shape[1]), table)
    M._rows, M._cols, M._rep = int(shape[0]), int(shape[1]), rep
    return M


def nnz_of(a) -> int:
    """Stored entries of a sparse array, or nonzero entries of a SymPy matrix."""
    if sp.issparse(a):
        return int(a.nnz)
    if hasattr(a, "todok"):
        return len(a.todok())
    return int(np.count_nonzero(a))


def structural_product(factors, itemsize: int = 8, max_bytes=None, *, what: str = "product",
                       block_rows: int | None = None) -> sp.csr_array:
    """``factors[0] @ factors[1] @ ...`` as canonical CSR, built a block of rows at a time within the limit.

    The nnz of a sparse product is unknown until it is formed, so it is formed
    in row blocks, right to left within each block, and the sizes so far are
    checked against the limit after every block: memory never exceeds the limit
    by more than one block's product.

    Raises
    ------
    MatrixTooLargeError
        As soon as the blocks built so far exceed the limit.

    Examples
    --------
    >>> A = sp.csr_array(np.array([[1, 1], [0, 1]])); B = sp.csr_array(np.array([[1, 0], [1, 1]]))
    >>> structural_product([A, B]).toarray().tolist()
    [[2, 1], [1, 1]]
    """
    first, rest = factors[0], factors[1:]
    rows = first.shape[0]
    cols = rest[-1].shape[1] if rest else first.shape[1]
    first = sp.csr_array(first)
    limit = limit_bytes(max_bytes)
    if block_rows is None:
        block_rows = max(1, min(rows, (1 << 22) // max(1, first.nnz // max(1, rows))))
    blocks, nnz = [], 0
    for start in range(0, rows, block_rows):
        block = first[start:start + block_rows]
        for f in rest:
            block = sp.csr_array(block @ f)
        block = canonical(block)
        blocks.append(block)
        nnz += block.nnz
        guard((rows, cols), nnz, itemsize, "csr", limit, what=what)
    if not blocks:
        return sp.csr_array((rows, cols))
    out = sp.csr_array(sp.vstack(blocks, format="csr"))
    out.sum_duplicates()
    return out


def dense_bytes(shape, itemsize: int) -> int:
    """Bytes of a dense array of ``shape`` (Python integers)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n * itemsize


def guard_dense(shape, itemsize: int, max_bytes=None, *, what: str = "dense array") -> None:
    """Refuse a dense array of ``shape`` over the limit before it is made."""
    guard_bytes(dense_bytes(shape, itemsize), max_bytes,
                what=f"the {' x '.join(map(str, shape))} {what}")

