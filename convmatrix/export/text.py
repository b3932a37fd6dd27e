"""Text: one-line summaries and small grids of matrices, for terminals and reprs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import InputValueError, as_any_matrix, as_int, is_sequence, is_sympy_matrix, object_type_error

__all__ = ["GRID_LIMIT", "summarize_matrix", "format_matrix"]

#: Largest matrix (rows, cols) printed as a grid; larger ones are summarised.
GRID_LIMIT = (24, 32)


def _kind(A) -> str:
    if is_sympy_matrix(A):
        return "SymPy"
    if sp.issparse(A):
        return A.format.upper()
    return "dense"


def summarize_matrix(A) -> str:
    """One line: shape, dtype, format, stored entries, density, bytes.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> summarize_matrix(sp.csr_array(np.eye(3)))
    '3 x 3 float64 CSR matrix, 3 stored entries (density 0.3333), 52 bytes'
    """
    A = as_any_matrix(A)
    rows, cols = A.shape
    if is_sympy_matrix(A):
        nnz = len(A.todok()) if hasattr(A, "todok") else sum(1 for v in A if v != 0)
        return f"{rows} x {cols} SymPy matrix, {nnz} nonzero entries"
    if sp.issparse(A):
        nbytes = sum(getattr(A, k).nbytes for k in ("data", "indices", "indptr", "row", "col", "offsets")
                     if isinstance(getattr(A, k, None), np.ndarray))
        density = A.nnz / max(rows * cols, 1)
        return (f"{rows} x {cols} {A.dtype} {_kind(A)} matrix, {A.nnz:,} stored entries "
                f"(density {density:.4g}), {nbytes:,} bytes")
    A = np.asarray(A)
    return f"{rows} x {cols} {A.dtype} dense matrix, {A.nbytes:,} bytes"


def format_matrix(A, *, limit: tuple[int, int] = GRID_LIMIT) -> str:
    """A readable grid for small matrices (zeros shown as ``.`` when sparse), else a summary.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> print(format_matrix(sp.csr_array(np.array([[1, 0], [0, 2]]))))
    [[1 0]
     [0 2]]
    >>> print(format_matrix(sp.eye_array(100, format="csr")))
    100 x 100 float64 CSR matrix, 100 stored entries (density 0.01), 1,604 bytes
    """
    A = as_any_matrix(A)
    if not is_sequence(limit) or len(limit) != 2:
        raise object_type_error("limit", limit, "must be a pair (rows, cols) of positive integers")
    limit = (as_int(limit[0], "limit", minimum=1), as_int(limit[1], "limit", minimum=1))
    rows, cols = A.shape
    if rows > limit[0] or cols > limit[1]:
        return summarize_matrix(A)
    if is_sympy_matrix(A):
        import sympy

        return sympy.pretty(sympy.Matrix(A), use_unicode=True, wrap_line=False)
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    with np.printoptions(linewidth=200, threshold=10**6, suppress=True, precision=4):
        return np.array2string(dense)


