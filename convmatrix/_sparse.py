"""CSR assembly shared by every builder: canonical arrays in, the requested format out.

Builders write index and data arrays of their final size once and wrap them
here without a copy or a re-check (:func:`csr_arrays`); :func:`finish` turns a
canonical CSR array into the requested format, checking the formats whose size
depends on the pattern (``dia``) against the limit first.
"""

from __future__ import annotations

from itertools import compress, islice, repeat

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
    type, entries, internal representation (a ``DomainMatrix`` in SDM form over
    ``EXRAW``, or ``ZZ``/``QQ`` when every entry is an integer/rational),
    arguments, hash and ``Dict`` contents — built directly from its parts.
    SymPy's constructor sympifies every key and value and sorts the entries by
    their sort keys, tens of microseconds per entry.  Here the values (the
    kernel's own objects, shared) are looked at once per distinct object, and
    each entry costs its two SymPy tuples (key and item), made in plain loops,
    and their places in the ``Dict``'s dict and frozenset (hashed by SymPy).
    The garbage collector is paused while the objects are made (none of them is
    garbage) and left as the caller had it.

    ``indices`` must be sorted within each row and unique (canonical CSR);
    ``data`` is an object array (numbers are sympified).

    Examples
    --------
    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> M = sympy_csr((2, 2), np.array([a, a + b], dtype=object), np.array([1, 0]), np.array([0, 1, 2]))
    >>> M == sympy.ImmutableSparseMatrix(2, 2, {(0, 1): a, (1, 0): a + b}), type(M).__name__
    (True, 'ImmutableSparseMatrix')
    """
    import gc

    import sympy
    from sympy.core.basic import Basic
    from sympy.core.containers import Dict, Tuple
    from sympy.core.sorting import _nodes
    from sympy.polys.domains import EXRAW, QQ, ZZ
    from sympy.polys.matrices import DomainMatrix
    from sympy.polys.matrices.sdm import SDM

    nrows, ncols = int(shape[0]), int(shape[1])
    indptr = np.asarray(indptr, dtype=np.int64)
    values = np.asarray(data, dtype=object).reshape(-1).tolist()
    cols = np.asarray(indices).reshape(-1).astype(np.int64, copy=False)
    code, distinct = _distinct(values)  # the distinct objects (a kernel's symbols and sums), index of each entry's
    if not all(isinstance(v, Basic) for v in distinct):
        values = [v if isinstance(v, Basic) else sympy.sympify(v) for v in values]
        code, distinct = _distinct(values)
    zero = np.array([v == 0 for v in distinct], dtype=bool)
    if zero.any():  # dropped, as SymPy's constructor drops them
        keep = ~zero[code]
        values = list(compress(values, keep.tolist()))
        code, cols = code[keep], cols[keep]
        indptr = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))[indptr]
    distinct = [v for v, z in zip(distinct, zero.tolist()) if not z]
    code = (np.cumsum(~zero) - 1)[code]
    lengths = np.diff(indptr)
    full = np.flatnonzero(lengths)
    rows = np.repeat(full, lengths[full])
    n = len(values)
    # sympy.ordered's first key, the node count of an item: 4 + that of its value (key Tuple, 2 Integers)
    nodes = np.array([_nodes(Basic.__new__(Tuple, v)) for v in distinct], dtype=np.int64)
    # SymPy's Integer of every row and column index used, made once each, and read per entry by numpy
    used = np.zeros(max(nrows, ncols), dtype=bool)
    used[cols] = True
    used[full] = True
    new, assumptions = object.__new__, Tuple.default_assumptions
    enabled = gc.isenabled()
    gc.disable()  # millions of small objects, none of them garbage: the collector would only rescan them
    try:
        integers = np.array(_integers(np.flatnonzero(used).tolist(), used.size) + [None], dtype=object)[:-1]
        # Basic.__new__(Tuple, *args) without the argument packing: SymPy's own three slots set
        keys = list(map(new, repeat(Tuple, n)))
        for t, a in zip(keys, zip(integers[rows].tolist(), integers[cols].tolist())):
            t._assumptions, t._mhash, t._args = assumptions, None, a
        items = list(map(new, repeat(Tuple, n)))
        for t, a in zip(items, zip(keys, values)):
            t._assumptions, t._mhash, t._args = assumptions, None, a
        if np.unique(nodes).size > 1:  # sympy.ordered: by node count first; within one count by (row, col)
            ordered_items = tuple(map(items.__getitem__, np.argsort(nodes[code], kind="stable").tolist()))
        else:
            ordered_items = tuple(items)
        table = Basic.__new__(Dict, *ordered_items)
        table.elements = frozenset(items)
        table._dict = dict(zip(keys, values))
        # the matrix's domain, as SymPy's constructor picks it: ZZ or QQ when every entry is one, else EXRAW
        types = {type(v) for v in distinct}
        domain = EXRAW
        if all(issubclass(t, sympy.Rational) for t in types):
            domain = ZZ if all(issubclass(t, sympy.Integer) for t in types) else QQ
            values = list(map([domain.from_sympy(v) for v in distinct].__getitem__, code.tolist()))
        # SDM's dict of rows, each a dict of columns, cut from the flat lists in C-level loops
        col_it, val_it, lens = iter(cols.tolist()), iter(values), lengths[full].tolist()
        dod = dict(zip(full.tolist(), map(dict, map(zip, map(islice, repeat(col_it), lens),
                                                    map(islice, repeat(val_it), lens)))))
    finally:
        if enabled:
            gc.enable()
    sdm = SDM({}, (nrows, ncols), domain)  # checked empty; its rows are within the shape by construction
    dict.update(sdm, dod)
    M = Basic.__new__(sympy.ImmutableSparseMatrix, sympy.Integer(nrows), sympy.Integer(ncols), table)
    M._rows, M._cols, M._rep = nrows, ncols, DomainMatrix.from_rep(sdm)
    return M


def _distinct(values: list):
    """``(code, distinct)``: the distinct objects of ``values`` (by identity), and each value's index into them."""
    ids = np.fromiter(map(id, values), dtype=np.uintp, count=len(values))
    unique = np.unique(ids)
    code = np.searchsorted(unique, ids)
    where = np.empty(unique.size, dtype=np.intp)
    where[code] = np.arange(len(values))
    return code, [values[i] for i in where.tolist()]


def _integers(used: list, size: int) -> list:
    """A list of ``size`` whose entries at ``used`` (sorted) are ``sympy.Integer(i)`` (the others ``None``).

    Made as ``Integer(i)`` makes them (``Expr.__new__`` and its ``p``), without
    its cache, which holds only the last thousand; 0 and 1 are SymPy's singletons.
    """
    import sympy

    out: list = [None] * size
    small = [i for i in used[:2] if i < 2]
    for i in small:
        out[i] = sympy.Integer(i)
    new, cls, assumptions = object.__new__, sympy.Integer, sympy.Integer.default_assumptions
    for i in used[len(small):]:
        o = out[i] = new(cls)
        o._assumptions, o._mhash, o._args, o.p = assumptions, None, (), i
    return out


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

