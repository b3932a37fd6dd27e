"""Files, written whole or not at all: to a temporary file beside the target, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from .._limits import as_max_bytes
from .._sparse import guard_dense
from .._validation import InputValueError, is_sympy_matrix, object_type_error
from .png import matrix_image, png_bytes

__all__ = ["SAVE_SUFFIXES", "LOAD_SUFFIXES", "atomic_write", "save_matrix", "load_matrix"]

SAVE_SUFFIXES = (".npz", ".mtx", ".npy", ".png")
LOAD_SUFFIXES = (".npz", ".mtx", ".npy")


def _umask() -> int:
    """The process umask, read without changing it where the system tells it (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def _file_mode(path: Path) -> int:
    """The mode a rewrite of ``path`` keeps (its own), or a new file's (``0o666`` less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Nothing is left behind on failure: the file is written whole or not at all.
    A new file gets the permissions a plain ``open`` would give it (``0o666``
    less the umask), a rewritten one keeps its own, and a symlink is written
    through to its target.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_write(p, "w") as fh:
    ...     _ = fh.write("whole")
    >>> open(p).read()
    'whole'
    """
    path = Path(path)
    path = Path(os.path.realpath(path))  # through a symlink, to the file it names
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _as_path(path, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise object_type_error(name, path, "must be a file name (a str or os.PathLike)")
    return Path(path)


def save_matrix(A, path: str | os.PathLike, *, max_bytes: int | None = None) -> Path:
    """Save a matrix by its suffix: ``.npz`` (``scipy.sparse.save_npz``), ``.mtx`` (Matrix Market),
    ``.npy``, or ``.png`` (a picture: :func:`matrix_image`).

    Written whole or not at all.  A sparse matrix saved as ``.npy`` is made
    dense first: that is refused up front beyond ``max_bytes`` (see
    :func:`convmatrix.conv_matrix`).

    Raises
    ------
    TypeError, ValueError
        On a matrix that is not a sparse array, ndarray or SymPy matrix, a path
        that is not a file name, an unknown suffix, a missing folder, or a
        symbolic matrix saved as numbers (save its LaTeX, or a ``.png`` of its
        pattern, instead).
    MatrixTooLargeError
        When a dense ``.npy`` would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = save_matrix(sp.csr_array(np.eye(2, dtype=int)), os.path.join(d, "a.mtx"))
    >>> load_matrix(p).toarray()
    array([[1, 0],
           [0, 1]])
    """
    path = _as_path(path)
    suffix = path.suffix.lower()
    if not (sp.issparse(A) or isinstance(A, np.ndarray) or is_sympy_matrix(A)) or len(getattr(A, "shape", ())) != 2:
        raise object_type_error("A", A, "must be a 2-d scipy.sparse array, ndarray or SymPy matrix")
    if suffix not in SAVE_SUFFIXES:
        raise InputValueError(f"path={str(path)!r} must end in one of {', '.join(SAVE_SUFFIXES)}", "path")
    if is_sympy_matrix(A) and suffix != ".png":
        raise InputValueError("a symbolic matrix cannot be saved as numbers: export its LaTeX (or a .png) instead",
                              "path")
    as_max_bytes(max_bytes)
    if not path.parent.exists():
        raise InputValueError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist", "path")
    if suffix == ".npy" and sp.issparse(A):
        guard_dense(A.shape, A.dtype.itemsize, max_bytes, what=f"dense {A.dtype} array for {path.name}")
    data = png_bytes(matrix_image(A)) if suffix == ".png" else None
    with atomic_write(path) as fh:
        if data is not None:
            fh.write(data)
        elif suffix == ".npz":
            sp.save_npz(fh, sp.csr_array(A) if not sp.issparse(A) else A)
        elif suffix == ".mtx":
            scipy.io.mmwrite(fh, sp.coo_array(A) if sp.issparse(A) else np.asarray(A))
        else:
            np.save(fh, A.toarray() if sp.issparse(A) else np.asarray(A))
    return path


def load_matrix(path: str | os.PathLike):
    """Load what :func:`save_matrix` wrote as numbers (a sparse array, or an ndarray for ``.npy``).

    Raises
    ------
    ValueError
        On a suffix other than ``.npz``, ``.mtx`` or ``.npy``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = save_matrix(np.array([[1.5, 0.0]]), os.path.join(tempfile.mkdtemp(), "a.npy"))
    >>> load_matrix(p)
    array([[1.5, 0. ]])
    """
    path = _as_path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return sp.load_npz(path)
    if suffix == ".mtx":
        m = scipy.io.mmread(path)
        return sp.csr_array(m) if sp.issparse(m) else m
    if suffix == ".npy":
        return np.load(path)
    raise InputValueError(f"path={str(path)!r} must end in one of {', '.join(LOAD_SUFFIXES)}", "path")
