"""Pictures of matrices as PNG files, with no imaging library (zlib only).

The fallback of the pictures when matplotlib (the ``plot`` extra) is not
installed, and the writer of :func:`~convmatrix.export.save_matrix`'s ``.png``:
one square of pixels per entry, black rules between the channel blocks of a
matrix whose geometry is known, one colour per distinct entry of a symbolic
matrix, and the pattern (stored entries per tile) of matrices too large to draw
entry by entry.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import scipy.sparse as sp

from .._sparse import csr_entry_chunks
from .._validation import InputTypeError, InputValueError, as_int, is_sympy_matrix
from .layout import RULE_COLOR, TAP_COLORS, MatrixLayout, check_shape, layout_of

__all__ = ["matrix_image", "png_bytes", "symbolic_entry_ids", "DENSITY_DARK"]

#: The darkest colour of the pattern of a large matrix (a full tile): dark blue, so that black rules show.
DENSITY_DARK = (8, 48, 107)
#: Largest zoom of a tiny matrix (pixels per entry).
MAX_ZOOM = 256


def symbolic_entry_ids(A) -> tuple[np.ndarray, list]:
    """``(ids, values)``: per entry of a SymPy matrix, the index of its value in ``values`` (``-1`` for zero).

    Values are the distinct nonzero entries in order of first appearance (row by row).

    Examples
    --------
    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> ids, values = symbolic_entry_ids(sympy.Matrix([[a, 0], [b, a]]))
    >>> ids.tolist(), values
    ([[0, -1], [1, 0]], [a, b])
    """
    ids = np.full(A.shape, -1, dtype=np.int64)
    seen: dict = {}
    items = sorted(A.todok().items()) if hasattr(A, "todok") else []
    for (r, c), v in items:
        if v != 0:
            ids[r, c] = seen.setdefault(v, len(seen))
    return ids, list(seen)


def _value_image(A) -> np.ndarray:
    """RGB of a numeric matrix entry by entry: red positive, blue negative, black NaN/inf, white zero."""
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    if dense.dtype.kind == "c":
        dense, signed = np.abs(dense), False
    elif dense.dtype.kind in "biuf":
        signed = True
    else:
        raise InputTypeError(f"A must be numeric or a SymPy matrix to draw: got dtype {dense.dtype}", "A")
    vals = dense.astype(float)
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
        img = np.repeat(light[:, :, None], 3, axis=2)
    img[~finite] = 0
    return img


def _tap_image(A) -> np.ndarray:
    """RGB of a SymPy matrix: one colour per distinct nonzero entry (cycling after 20), white zero."""
    ids, _ = symbolic_entry_ids(A)
    palette = np.array(TAP_COLORS, dtype=np.uint8)
    img = palette[np.maximum(ids, 0) % len(palette)]
    img[ids < 0] = 255
    return img


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


def _pattern_image(A, block: int) -> np.ndarray:
    """One pixel per tile of ``block x block`` entries: white empty, darker blue the fuller."""
    rows, cols = A.shape
    counts = _block_counts(A if sp.issparse(A) else sp.csr_array(np.asarray(A)), block)
    tile_rows = np.minimum(block, rows - block * np.arange(counts.shape[0]))  # the last tiles are partial
    tile_cols = np.minimum(block, cols - block * np.arange(counts.shape[1]))
    density = np.clip(counts / np.outer(tile_rows, tile_cols), 0, 1)  # duplicates could pass 1
    t = np.where(density > 0, 0.2 + 0.8 * np.sqrt(density), 0.0)[:, :, None]
    dark = np.array(DENSITY_DARK, dtype=float)
    return (255 * (1 - t) + dark * t).round().astype(np.uint8)


def _rules(img: np.ndarray, layout: MatrixLayout, scale: float, width: int, insert: bool) -> np.ndarray:
    """Black rules between channel blocks: inserted between pixels (entry by entry) or painted over tiles."""
    rule = np.array(RULE_COLOR, dtype=np.uint8)
    for axis, (channels, block) in enumerate(((layout.row_channels, layout.row_block),
                                              (layout.col_channels, layout.col_block))):
        edges = np.arange(1, channels) * block
        if edges.size == 0:
            continue
        if insert:
            img = np.insert(img, np.repeat((edges * scale).astype(np.int64), width), rule, axis=axis)
        else:
            at = np.unique(np.minimum((edges / scale).astype(np.int64), img.shape[axis] - 1))
            index = [slice(None)] * 3
            index[axis] = at
            img[tuple(index)] = rule
    return img


def matrix_image(A, *, max_side: int = 2048, min_side: int = 256, geometry=None) -> np.ndarray:
    """An RGB picture of a matrix, as a ``(height, width, 3)`` uint8 array.

    Up to ``max_side`` rows and columns, one square of pixels per entry: white
    for zero, red for positive and blue for negative entries, darker the larger
    ``|a_ij|`` is against the largest finite one, black for NaN and infinities
    (complex matrices: grey, darker the larger ``|a_ij|``); a symbolic matrix gets
    one colour per distinct entry (:data:`~convmatrix.export.layout.TAP_COLORS`,
    cycling after 20), so that its taps can be told apart.  Small matrices are
    enlarged to whole squares so that the longer side has at least ``min_side``
    pixels.  Larger matrices are drawn as their pattern: one pixel per tile of
    ``b x b`` entries, darker blue the more of them are nonzero.

    With a ``geometry``, black rules separate the channel blocks: lines of
    pixels inserted between the squares (1 pixel, 2 from 8 pixels per entry),
    or painted over the tiles of a pattern.

    Parameters
    ----------
    A : sparse array, ndarray or SymPy matrix
    max_side : int, optional
        Largest side drawn entry by entry.
    min_side : int, optional
        Smallest longer side of the picture of a small matrix (before rules).
    geometry : ConvGeometry, ConvTransposeGeometry, TapMap or MatrixLayout, optional
        Where the channel blocks are (see :func:`~convmatrix.export.layout.layout_of`).

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)

    Raises
    ------
    TypeError, ValueError
        For a matrix that is not numeric or symbolic, bad sizes, a geometry of
        another shape, or a symbolic matrix too large to draw entry by entry.

    Examples
    --------
    >>> import numpy as np
    >>> img = matrix_image(np.array([[2, 0], [0, -1]]), min_side=2)
    >>> img[0, 0].tolist(), img[0, 1].tolist(), img[1, 1].tolist()
    ([255, 0, 0], [255, 255, 255], [96, 96, 255])
    >>> matrix_image(np.ones((72, 36))).shape         # at least 256 pixels: 4 per entry
    (288, 144, 3)
    >>> from convmatrix.export.layout import MatrixLayout
    >>> img = matrix_image(np.ones((4, 4)), min_side=4, geometry=MatrixLayout(2, 2, 2, 2))
    >>> img.shape, img[2, 0].tolist(), img[:, 2].tolist() == [[0, 0, 0]] * 5
    ((5, 5, 3), [0, 0, 0], True)
    """
    max_side = as_int(max_side, "max_side", minimum=1)
    min_side = as_int(min_side, "min_side", minimum=1)
    rows, cols = check_shape(A)
    layout = None if geometry is None else layout_of(geometry, (rows, cols))
    if max(rows, cols) > max_side:
        if is_sympy_matrix(A):
            raise InputValueError(f"a symbolic matrix of shape {A.shape} is too large to draw (max_side={max_side})",
                                  "A")
        block = -(-max(rows, cols) // max_side)
        img = _pattern_image(A, block)
        return img if layout is None else _rules(img, layout, block, 1, insert=False)
    img = _tap_image(A) if is_sympy_matrix(A) else _value_image(A)
    zoom = max(1, min(MAX_ZOOM, -(-min_side // max(rows, cols))))
    if zoom > 1:
        img = np.repeat(np.repeat(img, zoom, axis=0), zoom, axis=1)
    if layout is not None:
        img = _rules(img, layout, zoom, 2 if zoom >= 8 else 1, insert=True)
    return img


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit RGB (or gray) image as PNG file bytes (zlib only; no imaging library).

    Raises
    ------
    ValueError
        For an image that is not ``uint8`` of shape ``(h, w)`` or ``(h, w, 3)``, or is empty.

    Examples
    --------
    >>> import numpy as np
    >>> png_bytes(np.zeros((2, 3, 3), dtype=np.uint8))[1:4]
    b'PNG'
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputValueError(f"image must be a uint8 array of shape (h, w) or (h, w, 3): got {img.dtype} "
                              f"{img.shape}", "image")
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
