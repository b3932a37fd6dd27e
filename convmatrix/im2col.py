"""Layer 3 — the im2col matrix ``X(x)``: the tap map read the other way.

A convolution is bilinear in its input and its kernel.  :func:`conv_matrix`
fixes the kernel, ``y = A(w) @ x.reshape(-1)``; :func:`im2col_matrix` fixes the
input, ``y = X(x) @ w.reshape(-1)``.  Both are fillings of the same tap map
(:func:`convmatrix.structure.tap_map`): a stored entry of ``A`` at ``(r, c)``
with tap ``t`` is a stored entry of ``X`` at ``(r, t)`` holding ``x[c]``.
Backpropagation is then two matrix transposes:

* input gradient  ``dL/dx = A(w).T @ g``,
* weight gradient ``dL/dw = X(x).T @ g``,

for ``g = dL/dy`` flattened like the output.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from ._limits import as_format, as_max_bytes, guard, index_dtype
from ._sparse import csr_arrays, finish, shifted_cols, sympy_csr, tiled_indptr
from ._validation import InputValueError, as_int, as_numbers
from .geometry import ConvGeometry, IntOrTuple, Padding, normalize_tuple
from .structure import pattern_nnz, tap_map

__all__ = ["im2col_matrix"]

#: Bytes of working arrays per entry of one output channel's pattern (tap map,
#: sort keys, the lexsort order: int64 arrays), counted by the size guard.
IM2COL_WORKING_BYTES = 64


def _row_pattern(tm):
    """One output channel's entries of ``X``, sorted by (output position, tap).

    Returns ``(indptr, taps, sources)``: per output position the slice of
    entries, each entry's flat tap into ``weight[co].reshape(-1)`` (the column
    within the channel's block) and its flat input index within the group.
    """
    n_entries = tm.row_cols.size
    if tm.row_starts is None:
        entry_of_tap = np.arange(n_entries)
    else:  # a run of taps per entry of A: each tap is its own column of X
        run = np.diff(np.append(tm.row_starts, tm.row_taps.size))
        entry_of_tap = np.repeat(np.arange(n_entries), run)
    lengths = np.diff(tm.row_indptr)
    position = np.repeat(np.arange(lengths.size), lengths)[entry_of_tap]
    taps = tm.row_taps.astype(np.int64)
    order = np.lexsort((taps, position))
    counts = np.bincount(position, minlength=lengths.size)
    indptr = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, taps[order], tm.row_cols.astype(np.int64)[entry_of_tap[order]]


def im2col_matrix(
    x: Any,
    kernel_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    out_channels: int | None = None,
    padding_mode: str = "zeros",
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The im2col matrix ``X(x)`` of one input: ``conv(x, w) == X(x) @ w.reshape(-1)``.

    Parameters
    ----------
    x : array_like, shape (C_in, *input_size)
        One sample (numbers, dtype kept, or SymPy expressions).
    kernel_size : int or tuple of int
        Spatial kernel size (the number of axes is ``x.ndim - 1``).
    stride, padding, dilation, groups, padding_mode : optional
        As :func:`convmatrix.conv_matrix`.
    out_channels : int, optional
        ``C_out`` of the weight ``w`` of shape ``(C_out, C_in/groups, *k)`` that
        ``X`` multiplies; it fixes the number of rows ``C_out * prod(output_size)``
        and columns ``w.size``.  It must be a multiple of ``groups``.  Default
        ``groups`` (one output channel per group): with ``groups=1`` that is the
        classic im2col matrix, one row per output position and one column per
        patch entry, and ``X @ w.reshape(C_out, -1).T`` is the output for all
        channels at once (``(P, C_out)``, positions by channels).
    format : str, optional
        A ``scipy.sparse`` format (``"csr"`` default) or ``"dense"``; ignored for
        symbolic input, which gives a ``sympy.ImmutableSparseMatrix``.
    max_bytes : int, optional
        Refuse matrices larger than this (default
        :data:`convmatrix.DEFAULT_MAX_BYTES`).

    Returns
    -------
    X : (out_channels * prod(output_size), out_channels * C_in/groups * prod(kernel_size)) sparse array

    Raises
    ------
    TypeError, ValueError
        On bad parameters (naming the parameter, its value and the rule), a
        ``groups`` that does not divide ``C_in`` or ``out_channels``.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    Built from the tap map of the convolution geometry of a weight of shape
    ``(out_channels, C_in/groups, *kernel_size)`` over ``x``: for every stored
    entry of ``A(w)`` at row ``r`` and column ``c`` with flat tap ``t`` (into
    ``w.reshape(-1)``), ``X[r, t] = x.reshape(-1)[c]``.  With ``zeros`` padding
    the taps that fall into the padding have no entry.  Other padding modes map
    them back into the image; several taps can then read the same pixel, so an
    entry of ``A`` owns a run of taps, but every tap of a row reads one pixel,
    so ``X`` has no duplicates.  Row ``co * P + p`` is the patch of output
    position ``p`` for output channel ``co``: it is nonzero only in the columns
    of ``w[co]``, so ``X`` is block diagonal over output channels, with the
    patch matrix of group ``co // (out_channels / groups)`` in block ``co``.
    Zeros of ``x`` are not stored (as no matrix of the package stores zeros).

    With ``g`` the gradient of a loss with respect to the flattened output,
    ``X.T @ g`` is the gradient with respect to ``w.reshape(-1)``, and
    ``conv_matrix(w, ...).T @ g`` the gradient with respect to ``x.reshape(-1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from convmatrix import conv_matrix
    >>> x = np.array([[1, 2, 3, 4]])
    >>> im2col_matrix(x, 3, padding=1).toarray()
    array([[0, 1, 2],
           [1, 2, 3],
           [2, 3, 4],
           [3, 4, 0]])

    The same output, from the input's side and from the kernel's:

    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.integers(-3, 4, (4, 5, 6)), rng.integers(-3, 4, (6, 2, 3, 2))
    >>> X = im2col_matrix(x, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, out_channels=6)
    >>> A = conv_matrix(w, (5, 6), stride=2, padding=1, dilation=(1, 2), groups=2)
    >>> np.array_equal(X @ w.reshape(-1), A @ x.reshape(-1))
    True
    """
    xa, symbolic = as_numbers(x, "x")
    if xa.ndim < 2 or xa.size == 0:
        raise InputValueError(
            f"x must have shape (in_channels, *input_size) with at least one spatial axis and positive sizes: "
            f"got shape {xa.shape}", "x")
    ndim = xa.ndim - 1
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    groups = as_int(groups, "groups", minimum=1)
    c_in = xa.shape[0]
    if c_in % groups:
        raise InputValueError(f"groups={groups} must divide in_channels={c_in} (x.shape[0])", "groups")
    if out_channels is None:
        out_channels = groups
    out_channels = as_int(out_channels, "out_channels", minimum=1)
    if out_channels % groups:
        raise InputValueError(f"out_channels={out_channels} must be a positive multiple of groups={groups}",
                              "out_channels")
    format = as_format(format)
    as_max_bytes(max_bytes)
    geometry = ConvGeometry.from_weight_shape(
        (out_channels, c_in // groups, *k), xa.shape[1:], stride=stride, padding=padding,
        dilation=dilation, groups=groups, padding_mode=padding_mode,
    )
    rows = out_channels * prod(geometry.output_size)
    cols = out_channels * (c_in // groups) * prod(k)
    # one entry per tap that lands inside the input (taps are never summed here): the conv's count
    # before duplicates are merged, exact; one output channel's pattern is built in int64 arrays
    nnz_estimate = pattern_nnz(geometry)
    guard((rows, cols), nnz_estimate, xa.dtype.itemsize, "sympy" if symbolic else format,
          max_bytes, what="im2col matrix",
          working=nnz_estimate // out_channels * (IM2COL_WORKING_BYTES + groups * xa.dtype.itemsize))
    tm = tap_map(geometry, max_bytes=max_bytes)
    per_channel = tm.row_taps.size
    nnz = out_channels * per_channel

    row_indptr, row_taps, row_src = _row_pattern(tm)
    dt = index_dtype(nnz, rows, cols)
    co = np.arange(out_channels, dtype=np.int64)
    # one gather per group, repeated over the group's output channels (no nnz-sized index array)
    data = xa.reshape(groups, -1)[:, row_src]
    if geometry.out_channels_per_group > 1:
        data = np.repeat(data, geometry.out_channels_per_group, axis=0)
    data = data.reshape(-1)
    indices = shifted_cols(row_taps, co * prod(k) * (c_in // groups), dt)
    indptr = tiled_indptr(np.diff(row_indptr), out_channels, dt)
    if symbolic:
        return sympy_csr((rows, cols), data, indices.reshape(-1), indptr)
    X = csr_arrays((rows, cols), data, indices.reshape(-1), indptr)
    if not np.all(xa):
        X.eliminate_zeros()  # no stored zeros: the entries are x's, and x may hold zeros
    return finish(X, format, max_bytes, what="im2col matrix")
