"""Layer 4 — resampling: padding and cropping, zero insertion and subsampling,
up-sampling and pooling, each as a sparse matrix.

Every matrix here acts on one sample ``x`` of shape ``(channels, *input_size)``
flattened in C order, like the convolution matrices, and is block-diagonal
over the channels (one identical block per channel).  Where the map is a
*selection* — every output entry is one input entry or zero — the matrix holds
integer ones (``np.int64``), so that the identities between the maps can be
checked exactly, by sparse equality::

    pad_matrix(m, -w)       == pad_matrix(n, w).T          (crop = zero-pad transposed,
                                                            m = n + lo + hi)
    subsample_matrix(m, s)  == zero_insertion_matrix(n, s).T      (m = (n - 1) s + 1)
    upsample_matrix(n, f)   == sum_pool_matrix(n f, f).T          (nearest up-sampling)

Average pooling is built from the package's tap map (a depthwise convolution
with a kernel of ones) and scaled by PyTorch's divisors; nothing here builds
convolution structure of its own.
"""

from __future__ import annotations

from math import prod
from typing import Any, Sequence, Union

import numpy as np
import scipy.sparse as sp

from ._limits import as_format, as_max_bytes, guard, index_dtype
from ._sparse import csr_arrays, finish, shifted_cols, tiled_indptr
from ._validation import (InputTypeError, InputValueError, as_bool, as_choice, as_float_dtype, as_int, is_integer,
                          is_sequence, ndim_of, show)
from .geometry import IntOrTuple, PoolGeometry, normalize_tuple, padding_pairs
from .structure import axis_index_map, pattern_nnz, tap_map

__all__ = [
    "PAD_MODES",
    "UPSAMPLE_MODES",
    "pad_matrix",
    "pad_widths_from_torch",
    "zero_insertion_matrix",
    "subsample_matrix",
    "upsample_matrix",
    "avg_pool_matrix",
    "sum_pool_matrix",
]

#: Padding modes of :func:`pad_matrix` (``"zeros"`` is ``F.pad``'s ``"constant"`` with value 0).
PAD_MODES = ("zeros", "reflect", "replicate", "circular")
#: Modes of :func:`upsample_matrix`.
UPSAMPLE_MODES = ("nearest", "zeros")

PadWidths = Union[int, Sequence[int], Sequence[Sequence[int]]]


# --------------------------------------------------------------------------- validation helpers
def _ndim(input_size, *others) -> int:
    """Number of spatial axes: from ``input_size`` if it is a tuple, else the other tuples, else 1."""
    return ndim_of(input_size, *others) or 1


def _channels(channels) -> int:
    return as_int(channels, "channels", minimum=1)


def _common(channels, format, max_bytes) -> tuple[int, str]:
    """The arguments every resampling builder shares, checked: ``(channels, format)``."""
    c = _channels(channels)
    format = as_format(format)
    as_max_bytes(max_bytes)
    return c, format


# --------------------------------------------------------------------------- selections
def _selection_matrix(axes, input_size, channels: int, format: str, max_bytes: int | None):
    """The 0/1 matrix whose output position ``(j_0, ..., j_{N-1})`` reads input
    ``(col_0[j_0], ...)``, or nothing where any of them is ``-1``; block-diagonal over ``channels``.

    ``axes`` holds, per axis, ``(length, kept, column_map)``: the output length, how
    many of its positions read an input (both Python integers, so that the size
    is checked before any array exists) and a function that returns the column map.
    """
    rows = channels * prod(length for length, _, _ in axes)
    q = prod(input_size)
    nnz = channels * prod(kept for _, kept, _ in axes)
    guard((rows, channels * q), nnz, 8, format, max_bytes)
    col = np.zeros(1, dtype=np.int64)
    valid = np.ones(1, dtype=bool)
    for (_, _, column_map), n in zip(axes, input_size):
        c = np.asarray(column_map(), dtype=np.int64)
        col = (col[:, None] * n + c[None, :]).reshape(-1)
        valid = (valid[:, None] & (c >= 0)[None, :]).reshape(-1)
    kept = col[valid]
    dt = index_dtype(nnz, rows, channels * q)
    indices = shifted_cols(kept, np.arange(channels) * q, dt)
    indptr = tiled_indptr(valid, channels, dt)
    a = csr_arrays((rows, channels * q), np.ones(nnz, dtype=np.int64), indices.reshape(-1), indptr)
    return finish(a, format, max_bytes)


def pad_widths_from_torch(pad: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Convert ``torch.nn.functional.pad``'s flat ``pad`` to per-axis ``(lo, hi)`` pairs.

    ``F.pad`` lists the *last* axis first: ``(last_lo, last_hi, prev_lo, prev_hi,
    ...)``; :func:`pad_matrix` takes one pair per axis, first axis first.  When
    ``pad`` covers fewer axes than the input has, pad the leading axes with
    ``(0, 0)`` yourself.

    Parameters
    ----------
    pad : sequence of int
        An even number of integers.

    Returns
    -------
    tuple of (int, int)

    Raises
    ------
    TypeError, ValueError
        If ``pad`` is not a sequence of an even number of integers.

    Examples
    --------
    >>> pad_widths_from_torch((1, 2, 3, 4))
    ((3, 4), (1, 2))
    """
    if not is_sequence(pad):
        raise InputTypeError(f"pad={show(pad)} must be a sequence of integers (F.pad's layout), not a "
                             f"{type(pad).__name__}", "pad")
    values = tuple(as_int(v, "pad", minimum=-(2**63 - 1)) for v in pad)
    if not values or len(values) % 2:
        raise InputValueError(f"pad={show(pad)} must have an even, positive number of entries: got {len(values)}",
                              "pad")
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    return tuple(reversed(pairs))


def pad_matrix(
    input_size: IntOrTuple,
    padding: PadWidths,
    *,
    mode: str = "zeros",
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of padding (positive widths) and cropping (negative widths), as ``F.pad``.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size of the input.  An int stands for every axis; the number of
        axes is taken from the first tuple among ``input_size`` and
        ``padding`` (1 if neither is one).
    padding : int, tuple of int, or tuple of (int, int)
        One width for every side, one per axis, or one signed ``(lo, hi)`` pair
        per axis, *first axis first* (``F.pad`` lists the last axis first: see
        :func:`pad_widths_from_torch`).  A negative width removes that many
        positions from that side.
    mode : {"zeros", "reflect", "replicate", "circular"}, optional
        What fills the added positions, as ``F.pad``'s ``"constant"`` (value 0),
        ``"reflect"``, ``"replicate"`` and ``"circular"``.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    P : (channels * prod(padded_size), channels * prod(input_size)) sparse array of int64
        ``padded_size[a] = input_size[a] + lo[a] + hi[a]``.  Each row holds one
        1 (the input position it copies) or nothing (a zero of ``"zeros"`` mode).

    Raises
    ------
    TypeError, ValueError
        On a bad size, width, mode, channel count or format; when a padded size
        is not positive; for ``"reflect"`` when a width is not smaller than the
        input size (as torch); for ``"circular"`` when a width exceeds the size
        left after cropping (it would wrap around more than once).
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    Along one axis of size ``n`` with widths ``(lo, hi)``, output position ``j``
    (``0 <= j < n + lo + hi``) reads input position ``i = j - lo`` when
    ``0 <= i < n``.  Outside, ``"zeros"`` stores nothing, ``"reflect"`` reads
    ``-i`` or ``2 (n - 1) - i``, ``"replicate"`` the nearest end.
    ``"circular"`` follows torch: it first crops the negative sides, leaving
    ``n' = n - max(-lo, 0) - max(-hi, 0)`` positions starting at
    ``c = max(-lo, 0)``, then wraps within them: ``i = c + (j - max(lo, 0)) mod n'``.
    The N-d matrix is the product of the axes' maps.

    ``"zeros"`` also accepts crops deeper than the input (``F.pad`` refuses
    them); the rows are then zero where nothing of the input is left.  In that
    mode the transpose of padding is cropping, for any signs::

        pad_matrix(n + lo + hi, ((-lo, -hi),)) == pad_matrix(n, ((lo, hi),)).T

    Examples
    --------
    >>> pad_matrix(3, 1).toarray()
    array([[0, 0, 0],
           [1, 0, 0],
           [0, 1, 0],
           [0, 0, 1],
           [0, 0, 0]])
    >>> import numpy as np
    >>> (pad_matrix(4, ((2, -1),), mode="reflect") @ np.array([10, 11, 12, 13])).tolist()
    [12, 11, 10, 11, 12]
    >>> crop = pad_matrix((5, 6), ((-1, -1), (-2, 0)))
    >>> (crop != pad_matrix((3, 4), ((1, 1), (2, 0))).T).nnz
    0
    """
    if is_integer(input_size) and is_sequence(padding) and padding and all(is_integer(v) for v in padding):
        raise InputValueError(
            f"padding={show(padding)} with input_size={show(input_size)} is ambiguous (np.pad and F.pad read "
            f"{show(tuple(padding))} as widths of one axis, Conv's padding as one width per axis): give "
            f"input_size one size per axis, or padding as (lo, hi) pairs, e.g. ({show(tuple(padding[:2]))},)",
            "padding")
    ndim = _ndim(input_size, padding)
    n = normalize_tuple(input_size, ndim, "input_size", axes_from="padding")
    widths = padding_pairs(padding, ndim, axes_from="input_size")
    mode = as_choice(mode, "mode", PAD_MODES,
                     hint=" (F.pad's 'constant' with value 0 is 'zeros')" if isinstance(mode, str) and mode == "constant"
                     else "")
    c, format = _common(channels, format, max_bytes)
    axes = []
    for axis, (size, (lo, hi)) in enumerate(zip(n, widths)):
        out = size + lo + hi
        if out < 1:
            raise InputValueError(
                f"padding={show(padding)} leaves nothing along axis {axis}: input size {size} "
                f"padded by ({lo}, {hi}) is {out}, and the padded size must be positive", "padding")
        if out > 2**63 - 1:
            raise InputValueError(f"padding={show(padding)} makes axis {axis} longer than 2**63 - 1", "padding")
        if mode == "reflect" and max(lo, hi) >= size:
            raise InputValueError(
                f"padding={show(padding)} is too large for reflect mode along axis {axis}: "
                f"got ({lo}, {hi}), each side must be smaller than the input size {size}", "padding")
        if mode == "circular":
            kept = size - max(-lo, 0) - max(-hi, 0)
            if kept < 1:
                raise InputValueError(
                    f"padding={show(padding)} crops all of the input size {size} along axis {axis} "
                    f"in circular mode: got ({lo}, {hi}), at least one position must be left to wrap", "padding")
            if max(lo, hi) > kept:
                raise InputValueError(
                    f"padding={show(padding)} is too large for circular mode along axis {axis}: "
                    f"got ({lo}, {hi}), each side must be at most the size left after cropping, {kept} "
                    f"(it would wrap around more than once)", "padding")
        reads = max(0, min(out, lo + size) - max(0, lo)) if mode == "zeros" else out
        axes.append((out, reads, lambda size=size, lo=lo, hi=hi: _pad_axis(size, lo, hi, mode)))
    return _selection_matrix(axes, n, c, format, max_bytes)


def _pad_axis(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    j = np.arange(n + lo + hi, dtype=np.int64)
    if mode == "circular":
        start, kept = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
        return start + np.mod(j - max(lo, 0), kept)
    return axis_index_map(j - lo, n, mode)


def zero_insertion_matrix(
    input_size: IntOrTuple,
    stride: IntOrTuple,
    *,
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix that puts ``stride - 1`` zeros between neighbours (fractional striding).

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` of the input; the number of axes comes from the first
        tuple among ``input_size`` and ``stride``.
    stride : int or tuple of int
        ``s >= 1`` per axis.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    Z : (channels * prod((n - 1) * s + 1), channels * prod(n)) sparse array of int64
        ``Z[j, i] = 1`` exactly when ``j = i * s`` along every axis.

    Raises
    ------
    TypeError, ValueError
        On a bad size, stride, channel count or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    The output size is ``(n - 1) * s + 1``: no zeros after the last entry (the
    stretched input ``ĩ'`` of Dumoulin & Visin).  Its transpose is
    :func:`subsample_matrix` of that size.

    Examples
    --------
    >>> import numpy as np
    >>> (zero_insertion_matrix(3, 2) @ np.array([1, 2, 3])).tolist()
    [1, 0, 2, 0, 3]
    >>> Z = zero_insertion_matrix((2, 2), 3)
    >>> (Z @ np.array([1, 2, 3, 4])).reshape(4, 4)
    array([[1, 0, 0, 2],
           [0, 0, 0, 0],
           [0, 0, 0, 0],
           [3, 0, 0, 4]])
    """
    ndim = _ndim(input_size, stride)
    n = normalize_tuple(input_size, ndim, "input_size")
    s = normalize_tuple(stride, ndim, "stride")
    c, format = _common(channels, format, max_bytes)
    axes = [((size - 1) * st + 1, size, lambda size=size, st=st: _zero_insertion_axis(size, st))
            for size, st in zip(n, s)]
    return _selection_matrix(axes, n, c, format, max_bytes)


def _zero_insertion_axis(size: int, st: int) -> np.ndarray:
    j = np.arange((size - 1) * st + 1, dtype=np.int64)
    return np.where(j % st == 0, j // st, -1)


def subsample_matrix(
    input_size: IntOrTuple,
    stride: IntOrTuple,
    *,
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix that keeps every ``stride``-th entry, ``x[..., ::s]``, along every axis.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``m`` of the input; the number of axes comes from the first
        tuple among ``input_size`` and ``stride``.
    stride : int or tuple of int
        ``s >= 1`` per axis.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    S : (channels * prod(ceil(m / s)), channels * prod(m)) sparse array of int64
        ``S[j, i] = 1`` exactly when ``i = j * s`` along every axis.

    Raises
    ------
    TypeError, ValueError
        On a bad size, stride, channel count or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    For an input of size ``m = (n - 1) s + 1`` the output has ``n`` entries and
    ``subsample_matrix(m, s) == zero_insertion_matrix(n, s).T`` exactly.  Other
    sizes ``m`` (a tail of ``1 .. s - 1`` positions that are never kept) give
    the same matrix with extra zero columns.

    Examples
    --------
    >>> import numpy as np
    >>> (subsample_matrix(6, 2) @ np.arange(6)).tolist()
    [0, 2, 4]
    >>> (subsample_matrix(5, 2) != zero_insertion_matrix(3, 2).T).nnz
    0
    """
    ndim = _ndim(input_size, stride)
    m = normalize_tuple(input_size, ndim, "input_size")
    s = normalize_tuple(stride, ndim, "stride")
    c, format = _common(channels, format, max_bytes)
    axes = [(-(-size // st), -(-size // st), lambda size=size, st=st: np.arange(-(-size // st), dtype=np.int64) * st)
            for size, st in zip(m, s)]
    return _selection_matrix(axes, m, c, format, max_bytes)


def upsample_matrix(
    input_size: IntOrTuple,
    scale_factor: IntOrTuple,
    *,
    mode: str = "nearest",
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of up-sampling by an integer factor: nearest neighbour, or zeros.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` of the input; the number of axes comes from the first
        tuple among ``input_size`` and ``scale_factor``.
    scale_factor : int or tuple of int
        Integer factor ``f >= 1`` per axis.
    mode : {"nearest", "zeros"}, optional
        ``"nearest"`` copies each value over its ``f``-block, as
        ``F.interpolate(x, scale_factor=f, mode="nearest")``; ``"zeros"`` puts
        it at the block's first (top-left) position and zeros elsewhere.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    U : (channels * prod(n * f), channels * prod(n)) sparse array of int64
        ``U[j, i] = 1`` when ``i = j // f`` (``"nearest"``), or when
        ``j = i * f`` (``"zeros"``), along every axis.

    Raises
    ------
    TypeError, ValueError
        On a bad size, a factor that is not a positive integer, a bad mode,
        channel count or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    Nearest up-sampling is the transpose of sum pooling with kernel and stride
    ``f``: ``upsample_matrix(n, f) == sum_pool_matrix(n * f, f).T``.  Up-sampling
    with zeros is :func:`zero_insertion_matrix` followed by ``f - 1`` zeros at
    the end of every axis.

    Examples
    --------
    >>> import numpy as np
    >>> (upsample_matrix(3, 2) @ np.array([1, 2, 3])).tolist()
    [1, 1, 2, 2, 3, 3]
    >>> (upsample_matrix((1, 2), 2, mode="zeros") @ np.array([1, 2])).reshape(2, 4)
    array([[1, 0, 2, 0],
           [0, 0, 0, 0]])
    """
    ndim = _ndim(input_size, scale_factor)
    n = normalize_tuple(input_size, ndim, "input_size")
    f = normalize_tuple(_integral_floats(scale_factor), ndim, "scale_factor")
    mode = as_choice(mode, "mode", UPSAMPLE_MODES)
    c, format = _common(channels, format, max_bytes)
    axes = [(size * fa, size * fa if mode == "nearest" else size,
             lambda size=size, fa=fa: _upsample_axis(size, fa, mode)) for size, fa in zip(n, f)]
    return _selection_matrix(axes, n, c, format, max_bytes)


def _upsample_axis(size: int, fa: int, mode: str) -> np.ndarray:
    j = np.arange(size * fa, dtype=np.int64)
    return j // fa if mode == "nearest" else np.where(j % fa == 0, j // fa, -1)


def _integral_floats(value):
    """``2.0`` -> ``2`` (also inside a tuple), so that ``scale_factor=2.0`` works as in torch."""
    def one(v):
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return int(v)
        return v

    if isinstance(value, (tuple, list)):
        return tuple(one(v) for v in value)
    return one(value)


# --------------------------------------------------------------------------- pooling
def _pool_structure(pool: PoolGeometry, channels: int, itemsize: int = 8, format: str = "csr",
                    max_bytes: int | None = None, window_values=None) -> sp.csr_array:
    """The tap map of the pooling windows (a depthwise convolution), filled with ones (sum
    pooling), or with ``window_values()[j]`` along the rows of output position ``j`` of every
    channel (no ones array in between).  ``window_values`` is called after the size check."""
    geometry = pool.window_geometry(channels)
    guard(geometry.shape, pattern_nnz(geometry), itemsize, format, max_bytes)
    tm = tap_map(geometry, max_bytes=max_bytes)
    indptr = tm.indptr
    if window_values is None:
        return csr_arrays(tm.shape, np.ones(tm.nnz, dtype=np.int64), tm.indices, indptr)
    return csr_arrays(tm.shape, np.repeat(np.tile(window_values(), channels), np.diff(indptr)), tm.indices, indptr)


def _pool_divisors(pool: PoolGeometry, count_include_pad: bool) -> np.ndarray:
    """PyTorch's divisor for every output position (flat, C order)."""
    div = np.ones(1, dtype=np.int64)
    for na, ka, sa, pa, o in zip(pool.input_size, pool.kernel_size, pool.stride, pool.padding, pool.output_size):
        start = np.arange(o, dtype=np.int64) * sa - pa
        end = np.minimum(start + ka, na + pa)
        if count_include_pad:
            d = end - start
        else:
            d = np.minimum(end, na) - np.maximum(start, 0)
        div = (div[:, None] * d[None, :]).reshape(-1)
    return div


def sum_pool_matrix(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    *,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of sum pooling: average pooling with divisor 1, integer entries.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        Spatial sizes; the number of axes comes from the first tuple among
        ``input_size``, ``kernel_size``, ``stride`` and ``padding``.
    stride : int or tuple of int, optional
        Defaults to ``kernel_size`` (as torch).
    padding : int or tuple of int, optional
        Zeros on both sides, at most half the kernel size.
    ceil_mode : bool, optional
        As torch's pooling layers.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    S : (channels * prod(output_size), channels * prod(input_size)) sparse array of int64
        Row ``j`` holds a 1 at every input position of window ``j`` (the padding
        contributes nothing).  ``output_size`` is torch's pooling output size
        (see :func:`avg_pool_matrix`).

    Raises
    ------
    TypeError, ValueError
        As :func:`avg_pool_matrix`.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Examples
    --------
    >>> sum_pool_matrix(4, 2).toarray()
    array([[1, 1, 0, 0],
           [0, 0, 1, 1]])
    >>> (sum_pool_matrix(6, 2).T != upsample_matrix(3, 2)).nnz
    0
    """
    pool = PoolGeometry.from_args(input_size, kernel_size, stride, padding, ceil_mode=ceil_mode)
    c, format = _common(channels, format, max_bytes)
    return finish(_pool_structure(pool, c, 8, format, max_bytes), format, max_bytes)


def avg_pool_matrix(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    *,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    channels: int = 1,
    dtype: Any = np.float64,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of average pooling, exactly as ``F.avg_pool{1,2,3}d``.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        Spatial sizes; the number of axes comes from the first tuple among
        ``input_size``, ``kernel_size``, ``stride`` and ``padding``.
    stride : int or tuple of int, optional
        Defaults to ``kernel_size`` (as torch).
    padding : int or tuple of int, optional
        Zeros on both sides, at most half the kernel size (torch's rule).
    ceil_mode : bool, optional
        Round the output size up; a last window that would start in the right
        padding is dropped (torch's rule).
    count_include_pad : bool, optional
        Whether the padding zeros count in the divisor (default ``True``).
    divisor_override : int, optional
        A nonzero divisor used for every window instead.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    dtype : float or complex dtype, optional
        Of the entries (default float64).
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    A : (channels * prod(output_size), channels * prod(input_size)) sparse array
        ``A = diag(1 / divisor) @ sum_pool_matrix(...)``; ``output_size[a] =
        floor_or_ceil((n + 2 p - k) / s) + 1``, less one in ceil mode when that
        last window would start in the right padding (torch's rule).

    Raises
    ------
    TypeError, ValueError
        On a bad size, stride or padding (negative, or more than half the
        kernel), a non-bool flag, a zero or non-integer ``divisor_override``, a
        non-float ``dtype``, a bad channel count or format, or an empty output.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    Along one axis, window ``j`` starts at ``a = j s - p`` and ends at
    ``b = min(a + k, n + p)`` (a window overhanging the right padding in ceil
    mode is cut there).  With ``count_include_pad`` the axis contributes
    ``b - a`` to the divisor, otherwise ``min(b, n) - max(a, 0)``; the divisor
    of an N-d window is the product over its axes.  Its row holds
    ``1 / divisor`` at the input positions of the window.

    Examples
    --------
    >>> avg_pool_matrix(4, 2).toarray()
    array([[0.5, 0.5, 0. , 0. ],
           [0. , 0. , 0.5, 0.5]])
    >>> A = avg_pool_matrix(5, 3, stride=2, padding=1, count_include_pad=False)
    >>> A @ np.array([3.0, 6.0, 9.0, 0.0, 0.0])
    array([4.5, 5. , 0. ])
    """
    pool = PoolGeometry.from_args(input_size, kernel_size, stride, padding, ceil_mode=ceil_mode)
    count_include_pad = as_bool(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        divisor_override = as_int(divisor_override, "divisor_override", minimum=-(2**63 - 1))
        if divisor_override == 0:
            raise InputValueError("divisor_override=0 must be a nonzero integer (or None)", "divisor_override")
    c, format = _common(channels, format, max_bytes)
    dt = as_float_dtype(dtype)
    def scale() -> np.ndarray:  # one per output position, computed only once the size is known to fit
        if divisor_override is not None:
            return np.full(prod(pool.output_size), 1 / divisor_override, dtype=dt)
        return (1 / _pool_divisors(pool, count_include_pad)).astype(dt)

    return finish(_pool_structure(pool, c, dt.itemsize, format, max_bytes, window_values=scale), format, max_bytes)

