"""Layer 7 — export: text, LaTeX and files.  Reads what the other layers make; computes nothing.

Files are written whole or not at all: to a temporary file beside the target,
then renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp
import sympy

__all__ = ["format_matrix", "summarize_matrix", "save_matrix", "load_matrix", "matrix_latex", "atomic_write"]

#: Largest matrix (rows, cols) printed as a grid; larger ones are summarised.
GRID_LIMIT = (24, 32)

SAVE_SUFFIXES = (".npz", ".mtx", ".npy")


def _kind(A) -> str:
    if isinstance(A, sympy.MatrixBase):
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
    rows, cols = A.shape
    if isinstance(A, sympy.MatrixBase):
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
    rows, cols = A.shape
    if rows > limit[0] or cols > limit[1]:
        return summarize_matrix(A)
    if isinstance(A, sympy.MatrixBase):
        return sympy.pretty(sympy.Matrix(A), use_unicode=True, wrap_line=False)
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    with np.printoptions(linewidth=200, threshold=10**6, suppress=True, precision=4):
        return np.array2string(dense)


def matrix_latex(A, *, environment: str = "bmatrix", zero: str = "0") -> str:
    """LaTeX of a small matrix through SymPy's printer.

    Examples
    --------
    >>> import numpy as np
    >>> print(matrix_latex(np.array([[1, 0], [2, 3]])))
    \\begin{bmatrix}1 & 0\\\\2 & 3\\end{bmatrix}
    """
    if isinstance(A, sympy.MatrixBase):
        M = sympy.Matrix(A)
    else:
        dense = A.toarray() if sp.issparse(A) else np.asarray(A)
        M = sympy.Matrix(dense.tolist())
    return sympy.latex(M, mat_str=environment, mat_delim="")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Nothing is left behind on failure: the file is written whole or not at all.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_matrix(A, path: str | os.PathLike) -> Path:
    """Save a matrix by its suffix: ``.npz`` (``scipy.sparse.save_npz``), ``.mtx`` (Matrix Market), ``.npy``.

    Written whole or not at all.

    Raises
    ------
    ValueError
        On an unknown suffix, or a symbolic matrix (save its LaTeX instead).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = save_matrix(sp.csr_array(np.eye(2, dtype=int)), os.path.join(d, "a.mtx"))
    >>> load_matrix(p).toarray()
    array([[1, 0],
           [0, 1]])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        raise ValueError(f"path={str(path)!r} must end in one of {', '.join(SAVE_SUFFIXES)}")
    if isinstance(A, sympy.MatrixBase):
        raise ValueError("a symbolic matrix cannot be saved as numbers: export its LaTeX instead")
    if not path.parent.exists():
        raise ValueError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist")
    with atomic_write(path) as fh:
        if suffix == ".npz":
            sp.save_npz(fh, sp.csr_array(A) if not sp.issparse(A) else A)
        elif suffix == ".mtx":
            scipy.io.mmwrite(fh, sp.coo_array(A) if sp.issparse(A) else np.asarray(A))
        else:
            np.save(fh, A.toarray() if sp.issparse(A) else np.asarray(A))
    return path


def load_matrix(path: str | os.PathLike):
    """Load what :func:`save_matrix` wrote (a sparse array, or an ndarray for ``.npy``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return sp.load_npz(path)
    if suffix == ".mtx":
        m = scipy.io.mmread(path)
        return sp.csr_array(m) if sp.issparse(m) else m
    if suffix == ".npy":
        return np.load(path)
    raise ValueError(f"path={str(path)!r} must end in one of {', '.join(SAVE_SUFFIXES)}")
