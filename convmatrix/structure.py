"""Layer 2 — structure: the tap map of a convolution, from its geometry alone.

A convolution matrix is linear in its kernel, ``A(w) = sum_t w_t E_t``.  The
*tap map* says, for every stored entry of ``A``, which flat kernel index ``t``
(into ``weight.reshape(-1)``) lands there.  Every numeric, integer, complex and
symbolic matrix of the package is a filling of one tap map, and so are the
im2col matrix and the transposed convolution.

The map is computed in two stages, both vectorised and cached on the frozen
geometry:

1. the *spatial pattern*: a convolution of one input channel with one output
   channel.  The geometry is separable, so each axis contributes a short list of
   ``(output index, input index, tap)`` triples, and the N-d pattern is their
   product, sorted once by ``(output, input, tap)``.  It is as small as the
   image times the kernel.
2. the *row pattern*: one output channel against all the input channels of its
   group, laid out in CSR order ``(output position, input channel, input
   position)``.  It is the same for every output channel up to a column offset
   of the group, so the full matrix is a broadcast of it and nothing of the
   full size is built until the caller fills it.

With padding modes other than ``zeros`` several taps can land on the same input
pixel (a reflected border, a circular wrap in a small image): the map then
holds, per stored entry, a run of taps that the filling sums.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property, lru_cache
from math import prod

import numpy as np

from .geometry import ConvGeometry

__all__ = ["TapMap", "tap_map", "transposed_tap_map", "axis_index_map", "index_dtype", "pattern_nnz"]

_INT32_MAX = np.iinfo(np.int32).max


def index_dtype(*bounds: int) -> type:
    """``np.int32`` while every bound fits, ``np.int64`` beyond (scipy's rule).

    Examples
    --------
    >>> index_dtype(10, 2**31 - 1), index_dtype(2**31)
    (<class 'numpy.int32'>, <class 'numpy.int64'>)
    """
    return np.int32 if max(bounds, default=0) <= _INT32_MAX else np.int64


def axis_index_map(positions: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Map positions in a padded axis to input indices, ``-1`` where the pad is zero.

    ``positions`` are coordinates in the unpadded axis (negative before the start,
    ``>= size`` after the end).  One reflection or wrap suffices because the
    geometry layer refuses wider pads (reflect: each side < size; circular: <= size).

    Examples
    --------
    >>> p = np.arange(-2, 6)
    >>> [axis_index_map(p, 4, m).tolist() for m in ("zeros", "reflect", "replicate", "circular")]
    [[-1, -1, 0, 1, 2, 3, -1, -1], [2, 1, 0, 1, 2, 3, 2, 1], [0, 0, 0, 1, 2, 3, 3, 3], [2, 3, 0, 1, 2, 3, 0, 1]]
    """
    positions = np.asarray(positions)
    if mode == "zeros":
        return np.where((positions >= 0) & (positions < size), positions, -1)
    if mode == "reflect":
        if size == 1:
            return np.zeros_like(positions)
        r = np.abs(positions)
        return np.where(r > size - 1, 2 * (size - 1) - r, r)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    if mode == "circular":
        return np.mod(positions, size)
    raise ValueError(f"padding_mode={mode!r} is not one of 'zeros', 'reflect', 'replicate', 'circular'")


def _axis_triples(n, k, s, lo, d, out, mode):
    """Valid (output, input, tap) triples along one axis, in (output, tap) order."""
    o = np.repeat(np.arange(out, dtype=np.int64), k)
    t = np.tile(np.arange(k, dtype=np.int64), out)
    i = axis_index_map(o * s - lo + t * d, n, mode)
    keep = i >= 0
    return o[keep], i[keep], t[keep]


def _tiled_indptr(row_lengths: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of rows with these lengths."""
    out = np.empty(channels * row_lengths.size + 1, dtype=dtype)
    out[0] = 0
    np.cumsum(np.tile(row_lengths.astype(dtype), channels), out=out[1:])
    return out


def _shifted_cols(cols: np.ndarray, offsets: np.ndarray, dtype) -> np.ndarray:
    """``cols + offsets[c]`` for every channel ``c``: a ``(len(offsets), len(cols))`` array of ``dtype``."""
    out = np.empty((offsets.size, cols.size), dtype=dtype)
    np.add(cols.astype(dtype)[None, :], offsets.astype(dtype)[:, None], out=out)
    return out


def pattern_nnz(geometry: ConvGeometry) -> int:
    """Stored entries of the geometry's matrix, counted without building it.

    Exact for ``zeros`` padding; an upper bound for the other modes, where taps
    that land on the same input position become one entry.

    Examples
    --------
    >>> pattern_nnz(ConvGeometry.from_weight_shape((2, 1, 3), (5,), padding=1))
    26
    """
    per_axis = 1
    for n, k, s, (lo, _), d, o in zip(
        geometry.input_size, geometry.kernel_size, geometry.stride, geometry.padding,
        geometry.dilation, geometry.output_size,
    ):
        per_axis *= _axis_triples(n, k, s, lo, d, o, geometry.padding_mode)[0].size
    return geometry.out_channels * geometry.in_channels_per_group * per_axis


@dataclass(frozen=True, eq=False)
class TapMap:
    """The tap map of a convolution geometry, in factored form.

    Attributes
    ----------
    geometry : ConvGeometry
    row_indptr : ndarray, shape (prod(output_size) + 1,)
        Where each output position's entries start in the row pattern.
    row_cols : ndarray, shape (Cg * nnz_spatial,)
        Column of each entry of the row pattern (group 0).
    row_taps : ndarray
        Flat tap, into one output channel's ``weight[co].reshape(-1)``, of each
        entry of the row pattern; one per entry, or a run per entry when
        ``row_starts`` is not ``None``.
    row_starts : ndarray or None
        Start of each entry's run in ``row_taps`` (for ``np.add.reduceat``);
        ``None`` when every entry has exactly one tap.

    Notes
    -----
    Entry ``e`` of output channel ``co`` lies in row ``co * P + p`` (``p`` the
    output position, ``P`` their number), column ``row_cols[e] + g * Cg * Q``
    (``g = co // (C_out / groups)`` the group, ``Cg`` the input channels per
    group, ``Q`` the input positions), and holds
    ``weight[co].reshape(-1)[row_taps[e]]`` (or the sum over its run).  The full
    arrays are :attr:`indptr`, :attr:`indices` and :attr:`taps`; they are built
    only when asked for.

    Examples
    --------
    Two output channels of a 1-D kernel of size 2 over 3 inputs: the row
    pattern is one channel's, the full arrays repeat it.

    >>> m = tap_map(ConvGeometry.from_weight_shape((2, 1, 2), 3))
    >>> m.shape, m.row_nnz, m.nnz
    ((4, 3), 4, 8)
    >>> m.indices.tolist(), m.taps.tolist()
    ([0, 1, 1, 2, 0, 1, 1, 2], [0, 1, 0, 1, 2, 3, 2, 3])
    >>> m.fill(np.array([[[5, 6]], [[7, 8]]])).tolist()
    [5, 6, 5, 6, 7, 8, 7, 8]
    """

    geometry: ConvGeometry
    row_indptr: np.ndarray
    row_cols: np.ndarray
    row_taps: np.ndarray
    row_starts: np.ndarray | None
    lattices: tuple | None = None
    transposed: bool = False

    # -- sizes
    @property
    def shape(self) -> tuple[int, int]:
        return self.geometry.shape[::-1] if self.transposed else self.geometry.shape

    @property
    def channels(self) -> int:
        """Row channels: output channels of the convolution (input channels when transposed)."""
        g = self.geometry
        return g.in_channels if self.transposed else g.out_channels

    def channel_weights(self, weight: np.ndarray) -> np.ndarray:
        """The convolution weight as one row of values per row channel, in ``row_taps`` order.

        For the conv, ``weight.reshape(C_out, -1)``; for the transpose, row ``ci`` holds
        ``weight[g*og:(g+1)*og, ci - g*Cg]`` (the output channels of ``ci``'s group).
        """
        g = self.geometry
        if not self.transposed:
            return weight.reshape(g.out_channels, -1)
        og, cg = g.out_channels_per_group, g.in_channels_per_group
        w4 = weight.reshape(g.groups, og, cg, -1).transpose(0, 2, 1, 3)
        return w4.reshape(g.in_channels, -1)

    @property
    def row_nnz(self) -> int:
        """Stored entries per output channel."""
        return int(self.row_cols.size)

    @property
    def nnz(self) -> int:
        """Stored entries of the full matrix (after summing duplicate taps)."""
        return self.channels * self.row_nnz

    @property
    def has_duplicates(self) -> bool:
        """Whether some entry receives more than one tap (non-zero padding modes only)."""
        return self.row_starts is not None

    @cached_property
    def index_dtype(self) -> type:
        return index_dtype(self.nnz, *self.shape)

    def group_offsets(self) -> np.ndarray:
        """Column offset of each row channel's group."""
        g = self.geometry
        if self.transposed:
            per_group = g.out_channels_per_group * prod(g.output_size)
            return (np.arange(g.in_channels) // g.in_channels_per_group) * per_group
        per_group = g.in_channels_per_group * prod(g.input_size)
        return (np.arange(g.out_channels) // g.out_channels_per_group) * per_group

    # -- full arrays, built on demand
    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer of the full matrix."""
        return _tiled_indptr(np.diff(self.row_indptr), self.channels, self.index_dtype)

    @property
    def indices(self) -> np.ndarray:
        """CSR column indices of the full matrix (sorted within rows, unique)."""
        return _shifted_cols(self.row_cols, self.group_offsets(), self.index_dtype).reshape(-1)

    @property
    def taps(self) -> np.ndarray:
        """Flat index into ``weight.reshape(-1)`` of every tap, entry by entry.

        With duplicates (see :attr:`starts`) an entry owns a run of taps.
        """
        g = self.geometry
        flat = np.arange(prod(g.weight_shape)).reshape(g.weight_shape)
        dt = index_dtype(flat.size)
        return np.take(self.channel_weights(flat).astype(dt), self.row_taps, axis=1).reshape(-1)

    @property
    def starts(self) -> np.ndarray | None:
        """Start of each entry's run in :attr:`taps`, or ``None`` without duplicates."""
        if self.row_starts is None:
            return None
        c = self.channels
        return (self.row_starts[None, :] + np.arange(c)[:, None] * self.row_taps.size).reshape(-1)

    def fill(self, weight: np.ndarray) -> np.ndarray:
        """The CSR data array for ``weight``: its entries gathered (and summed) by the map.

        ``weight`` is an ndarray of the geometry's weight shape, any dtype numpy
        can index (object arrays of SymPy expressions included).
        """
        w2 = self.channel_weights(weight)
        c = w2.shape[0]
        if self.lattices is None or w2.dtype == object:
            # np.take keeps C order (w2[:, taps] would not, and reshape would copy)
            data = np.take(w2, self.row_taps, axis=1)
            if self.row_starts is not None:
                # summed in the kernel's own dtype (numpy would widen int8/int16/int32 to int64)
                data = np.add.reduceat(data, self.row_starts, axis=1,
                                       dtype=None if data.dtype == object else data.dtype)
            return data.reshape(-1)
        # Output positions whose taps are the same (the interior, each stretch of border)
        # form boxes that lie on regular lattices of the row pattern: write each box as
        # one broadcast of its taps' values instead of gathering entry by entry.
        r = self.row_taps.size
        data = np.empty((c, r), dtype=w2.dtype)
        item = data.itemsize
        for base, box, strides, taps in self.lattices:
            view = np.lib.stride_tricks.as_strided(
                data[:, base:], shape=(c, *box, taps.size),
                strides=(r * item, *(st * item for st in strides), item), writeable=True,
            )
            view[...] = np.take(w2, taps, axis=1).reshape((c,) + (1,) * len(box) + (taps.size,))
        return data.reshape(-1)


def _spatial_pattern(geom: ConvGeometry):
    """One channel in, one channel out: (indptr, cols, taps, starts) of the spatial pattern."""
    out = geom.output_size
    per_axis = [
        _axis_triples(n, k, s, lo, d, o, geom.padding_mode)
        for n, k, s, (lo, _), d, o in zip(
            geom.input_size, geom.kernel_size, geom.stride, geom.padding, geom.dilation, out
        )
    ]
    # product over axes of the per-axis triples, flattened in C order
    o_flat = np.zeros(1, dtype=np.int64)
    i_flat = np.zeros(1, dtype=np.int64)
    t_flat = np.zeros(1, dtype=np.int64)
    for (o, i, t), n_out, n_in, k in zip(per_axis, out, geom.input_size, geom.kernel_size):
        o_flat = (o_flat[:, None] * n_out + o[None, :]).reshape(-1)
        i_flat = (i_flat[:, None] * n_in + i[None, :]).reshape(-1)
        t_flat = (t_flat[:, None] * k + t[None, :]).reshape(-1)
    order = np.lexsort((t_flat, i_flat, o_flat))
    o_flat, i_flat, t_flat = o_flat[order], i_flat[order], t_flat[order]
    new_entry = np.ones(o_flat.size, dtype=bool)
    new_entry[1:] = (o_flat[1:] != o_flat[:-1]) | (i_flat[1:] != i_flat[:-1])
    starts = None if new_entry.all() else np.flatnonzero(new_entry)
    if starts is not None:
        o_u, i_u = o_flat[starts], i_flat[starts]
    else:
        o_u, i_u = o_flat, i_flat
    counts = np.bincount(o_u, minlength=prod(out))
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, o_u, i_u, t_flat, starts


@lru_cache(maxsize=64)
def _tap_map_cached(geom: ConvGeometry) -> TapMap:
    sp_indptr, sp_o, sp_cols, sp_taps, sp_starts = _spatial_pattern(geom)
    row_indptr, row_cols, row_taps, row_starts = _row_pattern(
        sp_indptr, sp_o, sp_cols, sp_taps, sp_starts,
        geom.in_channels_per_group, prod(geom.input_size), prod(geom.kernel_size),
    )
    lattices = None if row_starts is not None else _lattices(geom, row_indptr, row_taps)
    return TapMap(geom, row_indptr, row_cols, row_taps, row_starts, lattices)


@lru_cache(maxsize=16)
def _transposed_tap_map_cached(geom: ConvGeometry) -> TapMap:
    sp_indptr, sp_o, sp_cols, sp_taps, sp_starts = _spatial_pattern(geom)
    if sp_starts is not None:
        raise ValueError("a transposed tap map needs a pattern without summed taps (zeros padding)")
    # the spatial pattern read by input position: the same triples, sorted the other way
    order = np.lexsort((sp_taps, sp_o, sp_cols))
    t_rows, t_cols, t_taps = sp_cols[order], sp_o[order], sp_taps[order]
    q = prod(geom.input_size)
    t_indptr = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_rows, minlength=q), out=t_indptr[1:])
    row_indptr, row_cols, row_taps, _ = _row_pattern(
        t_indptr, t_rows, t_cols, t_taps, None,
        geom.out_channels_per_group, prod(geom.output_size), prod(geom.kernel_size),
    )
    return TapMap(geom, row_indptr, row_cols, row_taps, None, None, transposed=True)


def _row_pattern(sp_indptr, sp_o, sp_cols, sp_taps, sp_starts, cg, q, kk):
    """One row channel against the ``cg`` column channels of its group, in CSR order.

    ``sp_*`` is a spatial pattern with rows ``sp_o``; ``q`` positions per column channel,
    ``kk`` taps per channel pair.
    """
    lengths = np.diff(sp_indptr)
    nnz_s = sp_cols.size
    small = index_dtype(cg * q, cg * kk, cg * max(nnz_s, sp_taps.size))
    if sp_starts is None:
        row_cols = np.empty(cg * nnz_s, dtype=small)
        row_taps = np.empty(cg * nnz_s, dtype=np.intp)
        col_shift = (np.arange(cg, dtype=small) * small(q))[None, :, None]
        tap_shift = (np.arange(cg, dtype=np.intp) * kk)[None, :, None]
        cols, taps = sp_cols.astype(small), sp_taps.astype(np.intp)
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(lengths)) + 1, [lengths.size]))
        if bounds.size <= MAX_ROW_RUNS:
            # consecutive rows of equal length L are one contiguous (rows, L) block of the spatial
            # pattern and one contiguous (rows, cg, L) block of the row pattern: written as slices
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                s0, s1 = int(sp_indptr[a]), int(sp_indptr[b])
                if s1 > s0:
                    shape = (b - a, 1, (s1 - s0) // (b - a))
                    row_cols[cg * s0:cg * s1] = (cols[s0:s1].reshape(shape) + col_shift).reshape(-1)
                    row_taps[cg * s0:cg * s1] = (taps[s0:s1].reshape(shape) + tap_shift).reshape(-1)
        else:
            # many short runs: group the rows by length instead, and scatter each group's block
            for L in np.unique(lengths[lengths > 0]).tolist():
                rows = np.flatnonzero(lengths == L)
                src = sp_indptr[rows][:, None] + np.arange(L)
                dst = (cg * sp_indptr[rows])[:, None] + np.arange(cg * L)
                row_cols[dst] = (cols[src][:, None, :] + col_shift).reshape(rows.size, cg * L)
                row_taps[dst] = (taps[src][:, None, :] + tap_shift).reshape(rows.size, cg * L)
        return cg * sp_indptr, row_cols, row_taps, None
    # entry j of the spatial pattern, channel c -> position Cg*start[o] + c*L[o] + (j - start[o])
    j = np.arange(nnz_s)
    start_j = sp_indptr[sp_o]
    c = np.arange(cg)[:, None]
    pos = cg * start_j[None, :] + c * lengths[sp_o][None, :] + (j - start_j)[None, :]
    row_cols = np.empty(cg * nnz_s, dtype=small)
    row_cols[pos] = c * q + sp_cols[None, :]
    # runs: the same permutation, applied to runs of taps
    run_len = np.diff(np.append(sp_starts, sp_taps.size))
    tri_entry = np.repeat(j, run_len)  # spatial entry of each triple
    tri_o = sp_o[tri_entry]
    tri_start = np.zeros(lengths.size + 1, dtype=np.int64)  # triples per output position
    np.cumsum(np.bincount(tri_o, minlength=lengths.size), out=tri_start[1:])
    tri_len = np.diff(tri_start)
    tj = np.arange(sp_taps.size)
    tpos = cg * tri_start[tri_o][None, :] + c * tri_len[tri_o][None, :] + (tj - tri_start[tri_o])[None, :]
    row_taps = np.empty(cg * sp_taps.size, dtype=small)
    row_taps[tpos] = c * kk + sp_taps[None, :]
    row_starts = np.empty(cg * nnz_s, dtype=np.int64)
    row_starts[pos] = tpos[:, sp_starts]
    return cg * sp_indptr, row_cols, row_taps.astype(np.intp), row_starts


#: At most this many boxes of equal taps are written as broadcasts; beyond, a plain gather.
MAX_LATTICES = 512
#: At most this many runs of equal-length rows are copied as slices; beyond, rows are grouped by length.
MAX_ROW_RUNS = 4096


def _lattices(geom: ConvGeometry, row_indptr: np.ndarray, row_taps: np.ndarray):
    """Boxes of output positions with equal tap sequences, as lattices of the row pattern.

    Along each axis, consecutive output indices whose taps (in input order) are the same
    form a run; the boxes are the products of runs.  A box's positions all hold the same
    run of taps, at offsets ``base + sum_a j_a * strides[a]`` of the row pattern.
    Returns ``(base, box, strides, taps)`` per box, or ``None`` when there are too many.
    """
    out = geom.output_size
    runs = []
    total = 1
    for n, k, s, (lo, _), d, o in zip(
        geom.input_size, geom.kernel_size, geom.stride, geom.padding, geom.dilation, out
    ):
        oo, ii, tt = _axis_triples(n, k, s, lo, d, o, geom.padding_mode)
        order = np.lexsort((tt, ii, oo))
        seq = np.full((o, k), -1, dtype=np.int64)  # taps of each output index, in input order
        rank = np.arange(oo.size) - np.searchsorted(oo[order], oo[order])
        seq[oo[order], rank] = tt[order]
        change = np.ones(o, dtype=bool)
        change[1:] = np.any(seq[1:] != seq[:-1], axis=1)
        starts = np.flatnonzero(change)
        runs.append(list(zip(starts.tolist(), np.append(starts[1:], o).tolist())))
        total *= len(starts)
        if total > MAX_LATTICES:
            return None
    lattices = []
    for box_runs in itertools.product(*runs):
        first = tuple(a for a, _ in box_runs)
        box = tuple(b - a for a, b in box_runs)
        p0 = int(np.ravel_multi_index(first, out))
        base = int(row_indptr[p0])
        block = int(row_indptr[p0 + 1]) - base
        strides = []
        for axis in range(len(box)):
            if box[axis] > 1:
                nxt = list(first)
                nxt[axis] += 1
                strides.append(int(row_indptr[np.ravel_multi_index(tuple(nxt), out)]) - base)
            else:
                strides.append(block)
        lattices.append((base, box, tuple(strides), row_taps[base:base + block].copy()))
    return tuple(lattices)


def tap_map(geometry: ConvGeometry) -> TapMap:
    """The (cached) tap map of a convolution geometry.

    Parameters
    ----------
    geometry : ConvGeometry

    Returns
    -------
    TapMap

    Examples
    --------
    A 1-D convolution, kernel size 3, input 4, padding 1: row ``r`` holds taps
    ``t`` with input ``r - 1 + t`` inside the image.

    >>> from convmatrix.geometry import ConvGeometry
    >>> m = tap_map(ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1))
    >>> m.indptr.tolist(), m.indices.tolist(), m.taps.tolist()
    ([0, 2, 5, 8, 10], [0, 1, 0, 1, 2, 1, 2, 3, 2, 3], [1, 2, 0, 1, 2, 0, 1, 2, 0, 1])
    """
    return _tap_map_cached(geometry)


def transposed_tap_map(geometry: ConvGeometry) -> TapMap:
    """The (cached) tap map of the transpose ``A.T`` of a zero-padded convolution.

    The same taps as :func:`tap_map`, read column by column: its CSR arrays are the CSC
    arrays of ``A``, so ``A.T`` is filled directly instead of transposing a built matrix.

    Examples
    --------
    >>> from convmatrix.geometry import ConvGeometry
    >>> g = ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1)
    >>> m = transposed_tap_map(g)
    >>> m.shape, m.indptr.tolist(), m.indices.tolist(), m.taps.tolist()
    ((4, 4), [0, 2, 5, 8, 10], [0, 1, 0, 1, 2, 1, 2, 3, 2, 3], [1, 0, 2, 1, 0, 2, 1, 0, 2, 1])
    """
    return _transposed_tap_map_cached(geometry)
