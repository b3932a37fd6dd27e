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


def csr_arrays(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> sp.csr_array:
    """Wrap canonical CSR arrays (sorted, unique) in a ``csr_array`` without copying or re-checking them.

    Examples
    --------
    >>> a = csr_arrays((2, 2), np.array([1, 2]), np.array([0, 1], dtype=np.int32), np.array([0, 1, 2], dtype=np.int32))
    >>> a.toarray().tolist(), a.has_canonical_format
    ([[1, 0], [0, 2]], True)
    """
    a = sp.csr_array(shape, dtype=data.dtype)
    a.data, a.indices, a.indptr = data, indices, indptr
    a.has_sorted_indices = True
    a.has_canonical_format = True
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


def tiled_indptr(row_lengths: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of rows with these lengths.

    Examples
    --------
    >>> tiled_indptr(np.array([1, 2]), 2, np.int32).tolist()
    [0, 1, 3, 4, 6]
    """
    out = np.empty(channels * row_lengths.size + 1, dtype=dtype)
    out[0] = 0
    np.cumsum(np.tile(row_lengths.astype(dtype), channels), out=out[1:])
    return out


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
    """A ``sympy.ImmutableSparseMatrix`` from CSR arrays of SymPy expressions (zeros not stored)."""
    import sympy

    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    entries = {(int(r), int(c)): v for r, c, v in zip(rows, indices, data) if v != 0}
    return sympy.ImmutableSparseMatrix(*shape, entries)


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

