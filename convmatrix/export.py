"""Layer 7 — export: text, LaTeX and files.  Reads what the other layers make; computes nothing.

Files are written whole or not at all: to a temporary file beside the target,
then renamed over it.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp
import sympy

from ._sparse import csr_entry_chunks

__all__ = [
    "format_matrix",
    "summarize_matrix",
    "save_matrix",
    "load_matrix",
    "matrix_latex",
    "matrix_image",
    "png_bytes",
    "atomic_write",
]

#: Largest matrix (rows, cols) printed as a grid; larger ones are summarised.
GRID_LIMIT = (24, 32)

SAVE_SUFFIXES = (".npz", ".mtx", ".npy", ".png")
LOAD_SUFFIXES = (".npz", ".mtx", ".npy")


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


# --------------------------------------------------------------------------- images
def _image_values(A) -> tuple[np.ndarray, bool]:
    """``(values, signed)``: a dense float array of ``A`` (1 where a symbolic entry is nonzero)."""
    if isinstance(A, sympy.MatrixBase):
        vals = np.zeros(A.shape)
        for (r, c), v in (A.todok().items() if hasattr(A, "todok") else []):
            vals[r, c] = 1.0 if v != 0 else 0.0
        return vals, False
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    if dense.dtype.kind == "c":
        return np.abs(dense).astype(float), False
    if dense.dtype.kind not in "biuf":
        raise TypeError(f"A must be numeric or a SymPy matrix to draw: got dtype {dense.dtype}")
    return dense.astype(float), True


def _block_counts(A, block: int) -> np.ndarray:
    """Nonzero entries per ``block x block`` tile, read from CSR in row chunks (no COO copy).

    A CSC array is read as the CSR array of its transpose (no conversion).
    """
    if isinstance(A, (sp.csc_array, sp.csc_matrix)):
        return _block_counts(A.T, block).T
    a = A if isinstance(A, (sp.csr_array, sp.csr_matrix)) else sp.csr_array(A)
    h, w = -(-a.shape[0] // block), -(-a.shape[1] // block)
    counts = np.zeros(h * w, dtype=np.int64)
    for rows, cols, data in csr_entry_chunks(a):
        keep = np.asarray(data) != 0
        counts += np.bincount(rows[keep] // block * w + cols[keep] // block, minlength=h * w)
    return counts.reshape(h, w)


def matrix_image(A, *, max_side: int = 2048, min_side: int = 256) -> np.ndarray:
    """An RGB picture of a matrix, as a ``(height, width, 3)`` uint8 array.

    Up to ``max_side`` rows and columns, one square of pixels per entry: white
    for zero, red for positive and blue for negative entries, darker the larger
    ``|a_ij|`` is against the largest finite one, black for NaN and infinities
    (symbolic and complex matrices: gray where an entry is nonzero); small matrices are enlarged so that the longer side has
    at least ``min_side`` pixels.  Larger matrices are drawn as their pattern:
    one pixel per tile of ``b x b`` entries, darker the more of them are nonzero.

    Parameters
    ----------
    A : sparse array, ndarray or SymPy matrix
    max_side : int, optional
        Largest side drawn entry by entry.
    min_side : int, optional
        Smallest longer side of the picture of a small matrix.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)

    Raises
    ------
    TypeError, ValueError
        For a matrix that is not numeric or symbolic, or bad sizes.

    Examples
    --------
    >>> import numpy as np
    >>> img = matrix_image(np.array([[2, 0], [0, -1]]), min_side=2)
    >>> img[0, 0].tolist(), img[0, 1].tolist(), img[1, 1].tolist()
    ([255, 0, 0], [255, 255, 255], [96, 96, 255])
    """
    for name, v in (("max_side", max_side), ("min_side", min_side)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    if len(getattr(A, "shape", ())) != 2:
        raise ValueError(f"A must be a matrix (2-d): got shape {getattr(A, 'shape', None)}")
    rows, cols = A.shape
    if rows == 0 or cols == 0:
        raise ValueError(f"A has shape {A.shape}: there is nothing to draw")
    if max(rows, cols) > max_side:
        if isinstance(A, sympy.MatrixBase):
            raise ValueError(f"a symbolic matrix of shape {A.shape} is too large to draw (max_side={max_side})")
        block = -(-max(rows, cols) // max_side)
        counts = _block_counts(A if sp.issparse(A) else sp.csr_array(np.asarray(A)), block)
        tile_rows = np.minimum(block, rows - block * np.arange(counts.shape[0]))  # the last tiles are partial
        tile_cols = np.minimum(block, cols - block * np.arange(counts.shape[1]))
        density = np.clip(counts / np.outer(tile_rows, tile_cols), 0, 1)  # duplicates could pass 1
        gray = np.where(density > 0, 200 * (1 - np.sqrt(density)), 255).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    vals, signed = _image_values(A)
    finite = np.isfinite(vals)
    vals = np.where(finite, vals, 0.0)  # NaN and inf: drawn black below, kept out of the scale
    scale = np.abs(vals).max()
    t = np.abs(vals) / scale if scale > 0 else np.zeros_like(vals)
    t = np.where(vals != 0, 0.25 + 0.75 * t, 0.0)  # the smallest nonzero still shows
    light = (255 * (1 - t)).round().astype(np.uint8)
    full = np.full_like(light, 255)
    if signed:
        pos = vals >= 0
        img = np.stack([np.where(pos, full, light), light, np.where(pos, light, full)], axis=2)
    else:
        g = (255 * (1 - np.where(vals != 0, 0.75, 0.0))).round().astype(np.uint8)
        img = np.repeat(g[:, :, None], 3, axis=2)
    img[~finite] = 0
    zoom = max(1, min(32, min_side // max(rows, cols)))
    if zoom > 1:
        img = np.repeat(np.repeat(img, zoom, axis=0), zoom, axis=1)
    return img


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit RGB (or gray) image as PNG file bytes (zlib only; no imaging library).

    Examples
    --------
    >>> import numpy as np
    >>> png_bytes(np.zeros((2, 3, 3), dtype=np.uint8))[1:4]
    b'PNG'
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"image must be a uint8 array of shape (h, w) or (h, w, 3): got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"image has shape {img.shape}: a PNG needs at least one pixel")
    color = 2 if img.ndim == 3 else 0
    rows = np.ascontiguousarray(img).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- files
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


def save_matrix(A, path: str | os.PathLike) -> Path:
    """Save a matrix by its suffix: ``.npz`` (``scipy.sparse.save_npz``), ``.mtx`` (Matrix Market),
    ``.npy``, or ``.png`` (a picture: :func:`matrix_image`).

    Written whole or not at all.

    Raises
    ------
    ValueError
        On an unknown suffix, a missing folder, or a symbolic matrix saved as
        numbers (save its LaTeX, or a ``.png`` of its pattern, instead).

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
    if isinstance(A, sympy.MatrixBase) and suffix != ".png":
        raise ValueError("a symbolic matrix cannot be saved as numbers: export its LaTeX (or a .png) instead")
    if not path.parent.exists():
        raise ValueError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist")
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
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return sp.load_npz(path)
    if suffix == ".mtx":
        m = scipy.io.mmread(path)
        return sp.csr_array(m) if sp.issparse(m) else m
    if suffix == ".npy":
        return np.load(path)
    raise ValueError(f"path={str(path)!r} must end in one of {', '.join(LOAD_SUFFIXES)}")
