"""Pictures of matrices as PNG files, with no imaging library (zlib only)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import scipy.sparse as sp

from .._sparse import csr_entry_chunks
from .._validation import InputTypeError, InputValueError, as_any_matrix, as_array, as_int, is_sympy_matrix

__all__ = ["matrix_image", "png_bytes"]


def _image_values(A) -> tuple[np.ndarray, bool]:
    """``(values, signed)``: a dense float array of ``A`` (1 where a symbolic entry is nonzero)."""
    if is_sympy_matrix(A):
        vals = np.zeros(A.shape)
        for (r, c), v in (A.todok().items() if hasattr(A, "todok") else []):
            vals[r, c] = 1.0 if v != 0 else 0.0
        return vals, False
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    if dense.dtype.kind == "c":
        return np.abs(dense).astype(float), False
    if dense.dtype.kind not in "biuf":
        raise InputTypeError(f"A must be numeric or a SymPy matrix to draw: got dtype {dense.dtype}", "A")
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
    max_side = as_int(max_side, "max_side", minimum=1)
    min_side = as_int(min_side, "min_side", minimum=1, maximum=1 << 16)
    A = as_any_matrix(A)
    rows, cols = A.shape
    if rows == 0 or cols == 0:
        raise InputValueError(f"A has shape {A.shape}: there is nothing to draw", "A")
    if max(rows, cols) > max_side:
        if is_sympy_matrix(A):
            raise InputValueError(f"a symbolic matrix of shape {A.shape} is too large to draw (max_side={max_side})", "A")
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
    img = as_array(image, "image", kinds="u", rule="must be a uint8 array of shape (h, w) or (h, w, 3)")
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputValueError(f"image must be a uint8 array of shape (h, w) or (h, w, 3): got {img.dtype} {img.shape}",
                              "image")
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        raise InputValueError(f"image has shape {img.shape}: a PNG needs at least one pixel", "image")
    color = 2 if img.ndim == 3 else 0
    rows = np.ascontiguousarray(img).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


