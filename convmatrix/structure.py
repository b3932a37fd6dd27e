"""Layer 2 — structure: the tap map of a convolution, from its geometry alone.

A convolution matrix is linear in its kernel, ``A(w) = sum_t w_t E_t``.  The
*tap map* says, for every stored entry of ``A``, which flat kernel index ``t``
(into ``weight.reshape(-1)``) lands there.  Every numeric, integer, complex and
symbolic matrix of the package is a filling of one tap map, and so are the
im2col matrix, the transposed convolution and its direct-convolution chain.

This module is the plain path, and it reads like the definition:

1. **per axis**, output index ``o`` and tap ``t`` read input position
   ``o * stride - pad_lo + t * dilation``, mapped into the image by the padding
   mode (:func:`axis_index_map`; outside the image in ``zeros`` mode there is no
   entry): a short list of ``(output, input, tap)`` triples;
2. the **spatial pattern** (one input channel, one output channel) is the
   product of the axes' triples, sorted by ``(output, input, tap)``; where
   several taps meet on one input position (reflected borders, circular wraps)
   they form a *run* that the filling sums;
3. the **row pattern** is one output channel against all the input channels
   of its group, in CSR order ``(output position, input channel, input
   position)``: entry ``e`` of the spatial pattern in channel ``c`` goes to
   position ``Cg * start[o] + c * len[o] + (e - start[o])``.  It is the same for
   every output channel up to a column offset of the group, so the full matrix
   is a broadcast of it, and nothing of the full size is built until the
   caller fills it.

Faster ways to the same arrays live beside it in :mod:`convmatrix._fastpaths`
(boxes of output positions with the same entries, written as strided
broadcasts in every padding mode; the row pattern from a small table of tap
types, for small layers; the transpose read column by column); :func:`tap_map`
takes them where they apply, :func:`plain_tap_map` never does, and the tests
prove the two equal (``tests/test_fastpaths.py``).
"""

from __future__ import annotations

from functools import lru_cache
from math import prod

import numpy as np

from ._display import Displayable
from . import _fastpaths
from ._limits import guard, index_dtype
from ._sparse import tiled_pointer
from ._validation import InputValueError, as_array, as_bool, as_choice, as_instance, as_int
from .geometry import PADDING_MODES, ConvGeometry

__all__ = [
    "TapMap",
    "tap_map",
    "tap_map_for",
    "plain_tap_map",
    "transposed_tap_map",
    "axis_index_map",
    "axis_triples",
    "spatial_pattern",
    "product_pattern",
    "row_pattern",
    "tap_counts",
    "pattern_nnz",
    "clear_cache",
]


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
    positions = as_array(positions, "positions", kinds="iu", rule="must be an array of integer positions")
    size = as_int(size, "size", minimum=1)
    mode = as_choice(mode, "mode", PADDING_MODES)
    if mode == "zeros":
        return np.where((positions >= 0) & (positions < size), positions, -1)
    if mode == "reflect":
        if size == 1:
            return np.zeros_like(positions)
        r = np.abs(positions)
        return np.where(r > size - 1, 2 * (size - 1) - r, r)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return np.mod(positions, size)


def axis_triples(n: int, k: int, s: int, lo: int, d: int, out: int, mode: str):
    """The valid ``(output, input, tap)`` triples along one axis, in ``(output, tap)`` order.

    Examples
    --------
    >>> [a.tolist() for a in axis_triples(4, 3, 1, 1, 1, 4, "zeros")]
    [[0, 0, 1, 1, 1, 2, 2, 2, 3, 3], [0, 1, 0, 1, 2, 1, 2, 3, 2, 3], [1, 2, 0, 1, 2, 0, 1, 2, 0, 1]]
    """
    o = np.repeat(np.arange(out, dtype=np.int64), k)
    t = np.tile(np.arange(k, dtype=np.int64), out)
    i = axis_index_map(o * s - lo + t * d, n, mode)
    keep = i >= 0
    return o[keep], i[keep], t[keep]


def _axes(geometry: ConvGeometry):
    return zip(geometry.input_size, geometry.kernel_size, geometry.stride, (lo for lo, _ in geometry.padding),
               geometry.dilation, geometry.output_size)


@lru_cache(maxsize=256)
def _axis_count(n: int, k: int, s: int, lo: int, d: int, out: int, mode: str, chunk: int = 1 << 20) -> int:
    """Triples along one axis, counted without listing them (chunks of taps, no axis-sized array).

    Exact for ``zeros`` padding; in the other modes every tap reads a pixel, so it is ``out * k``.
    """
    if mode != "zeros":
        return out * k
    if k <= 64:  # tap by tap, in Python integers
        total = 0
        for t in range(k):
            first = max(0, -((t * d - lo) // s))  # smallest o with o s - lo + t d >= 0
            last = min(out - 1, (n - 1 + lo - t * d) // s)  # largest o with o s - lo + t d <= n - 1
            total += max(last - first + 1, 0)
        return total
    total = 0
    for t0 in range(0, k, chunk):
        t = np.arange(t0, min(k, t0 + chunk), dtype=np.int64)
        first = np.maximum(0, -((t * d - lo) // s))
        last = np.minimum(out - 1, (n - 1 + lo - t * d) // s)
        total += int(np.maximum(last - first + 1, 0).sum())
    return total


def pattern_nnz(geometry: ConvGeometry) -> int:
    """Stored entries of the geometry's matrix, counted without building it (Python integers).

    Exact for ``zeros`` padding and a kernel without zero entries; an upper
    bound otherwise (zero entries are not stored, and in the other modes taps
    that land on the same input position become one entry).  No array of the
    matrix's or of an axis's size is made.

    Examples
    --------
    >>> pattern_nnz(ConvGeometry.from_weight_shape((2, 1, 3), (5,), padding=1))
    26
    >>> pattern_nnz(ConvGeometry.from_weight_shape((1, 1, 3), 10**12))
    2999999999994
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    return _pattern_nnz(geometry)


@lru_cache(maxsize=256)
def _pattern_nnz(geometry: ConvGeometry) -> int:
    per_axis = 1
    for n, k, s, lo, d, o in _axes(geometry):
        per_axis *= _axis_count(n, k, s, lo, d, o, geometry.padding_mode)
    return geometry.out_channels * geometry.in_channels_per_group * per_axis


# --------------------------------------------------------------------------- the plain path
def spatial_pattern(geometry: ConvGeometry):
    """One channel in, one channel out: ``(indptr, rows, cols, taps, starts)`` of the spatial pattern.

    ``rows``, ``cols`` list the stored entries sorted by (output, input); ``taps``
    the taps, one per entry, or runs of them that meet on one input position,
    starting at ``starts`` (``None`` when every entry has one tap).

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((1, 1, 3), 2, padding=1, padding_mode="reflect")
    >>> indptr, rows, cols, taps, starts = spatial_pattern(g)
    >>> cols.tolist(), taps.tolist(), starts.tolist()     # row 0 reads (x1, x0, x1): taps 0 and 2 meet
    ([0, 1, 0, 1], [1, 0, 2, 0, 2, 1], [0, 1, 3, 5])
    """
    triples = [axis_triples(*axis, geometry.padding_mode) for axis in _axes(geometry)]
    return product_pattern(triples, geometry.output_size, geometry.input_size, geometry.kernel_size)


def product_pattern(triples, output_size, input_size, kernel_size):
    """The N-d spatial pattern of per-axis ``(output, input, tap)`` triples: their product, sorted.

    Returns ``(indptr, rows, cols, taps, starts)`` as :func:`spatial_pattern`.
    """
    o_flat = np.zeros(1, dtype=np.int64)
    i_flat = np.zeros(1, dtype=np.int64)
    t_flat = np.zeros(1, dtype=np.int64)
    for (o, i, t), n_out, n, k in zip(triples, output_size, input_size, kernel_size):
        o_flat = (o_flat[:, None] * n_out + o[None, :]).reshape(-1)
        i_flat = (i_flat[:, None] * n + i[None, :]).reshape(-1)
        t_flat = (t_flat[:, None] * k + t[None, :]).reshape(-1)
    order = np.lexsort((t_flat, i_flat, o_flat))
    o_flat, i_flat, t_flat = o_flat[order], i_flat[order], t_flat[order]
    new_entry = np.ones(o_flat.size, dtype=bool)
    new_entry[1:] = (o_flat[1:] != o_flat[:-1]) | (i_flat[1:] != i_flat[:-1])
    starts = None if new_entry.all() else np.flatnonzero(new_entry)
    rows, cols = (o_flat, i_flat) if starts is None else (o_flat[starts], i_flat[starts])
    n_rows = prod(output_size)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, rows, cols, t_flat, starts


def tap_counts(geometry: ConvGeometry) -> np.ndarray:
    """How many stored entries of one channel pair each tap lands on, shape ``kernel_size`` (int64).

    ``(weight != 0) * tap_counts`` summed is the exact number of stored entries
    of a zero-padded convolution matrix (taps never meet there); the counts are
    products of per-axis counts, so nothing of the matrix's size is built.

    Examples
    --------
    >>> tap_counts(ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1)).tolist()
    [3, 4, 3]
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    counts = np.ones((), dtype=np.int64)
    for n, k, s, lo, d, o in _axes(geometry):
        t = np.arange(k, dtype=np.int64)
        if geometry.padding_mode == "zeros":
            first = np.maximum(0, -((t * d - lo) // s))
            last = np.minimum(o - 1, (n - 1 + lo - t * d) // s)
            axis = np.maximum(last - first + 1, 0)
        else:
            axis = np.full(k, o, dtype=np.int64)
        counts = np.multiply.outer(counts, axis)
    return counts


def row_pattern(sp_indptr, sp_rows, sp_cols, sp_taps, sp_starts, cg: int, q: int, kk: int):
    """One row channel against the ``cg`` column channels of its group, in CSR order.

    ``sp_*`` is a spatial pattern (see :func:`spatial_pattern`); ``q`` positions per
    column channel, ``kk`` taps per channel pair.  Entry ``e`` of output position
    ``o`` in channel ``c`` goes to ``cg * start[o] + c * len[o] + (e - start[o])``,
    with column ``c * q + col`` and taps ``c * kk + tap``.

    Returns ``(row_indptr, row_cols, row_taps, row_starts)``.
    """
    lengths = np.diff(sp_indptr)
    nnz_s = sp_cols.size
    small = index_dtype(cg * q, cg * kk, cg * max(nnz_s, sp_taps.size))
    j = np.arange(nnz_s)
    start_j = sp_indptr[sp_rows]
    c = np.arange(cg)[:, None]
    pos = cg * start_j[None, :] + c * lengths[sp_rows][None, :] + (j - start_j)[None, :]
    row_cols = np.empty(cg * nnz_s, dtype=small)
    row_cols[pos] = c * q + sp_cols[None, :]
    if sp_starts is None:
        row_taps = np.empty(cg * nnz_s, dtype=np.intp)
        row_taps[pos] = c * kk + sp_taps[None, :]
        return cg * sp_indptr, row_cols, row_taps, None
    # runs: the same permutation, applied to runs of taps
    run_len = np.diff(np.append(sp_starts, sp_taps.size))
    tri_rows = sp_rows[np.repeat(j, run_len)]  # output position of each tap
    tri_start = np.zeros(lengths.size + 1, dtype=np.int64)  # taps per output position
    np.cumsum(np.bincount(tri_rows, minlength=lengths.size), out=tri_start[1:])
    tri_len = np.diff(tri_start)
    tj = np.arange(sp_taps.size)
    tpos = (cg * tri_start[tri_rows][None, :] + c * tri_len[tri_rows][None, :]
            + (tj - tri_start[tri_rows])[None, :])
    row_taps = np.empty(cg * sp_taps.size, dtype=np.intp)
    row_taps[tpos] = c * kk + sp_taps[None, :]
    row_starts = np.empty(cg * nnz_s, dtype=np.int64)
    row_starts[pos] = tpos[:, sp_starts]
    return cg * sp_indptr, row_cols, row_taps, row_starts


class TapMap(Displayable):
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
    boxes : BoxPlan or None
        The map as boxes of output positions with the same entries (see
        :func:`convmatrix._fastpaths.box_plan`): the CSR arrays are then written
        box by box, and the row arrays above are made only when asked for.
    lattices : tuple or None
        The boxes position by position, ``(base, box, strides, taps)`` each,
        for a map without summed taps; ``None`` otherwise.
    transposed : bool
        Whether this is the map of the transpose ``A.T`` (rows are the
        convolution's input positions).
    shape : (int, int)
        ``(rows, cols)`` of the matrix.
    channels : int
        Row channels: output channels of the convolution (input channels when transposed).
    row_nnz, nnz : int
        Stored entries per row channel, and of the full matrix (after summing duplicate taps).
    index_dtype : type
        ``np.int32`` while the indices fit, ``np.int64`` beyond.
    has_duplicates : bool
        Whether some entry receives more than one tap (non-zero padding modes only).

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

    def __init__(self, geometry: ConvGeometry, row_indptr: np.ndarray, row_cols: np.ndarray | None = None,
                 row_taps: np.ndarray | None = None, row_starts: np.ndarray | None = None,
                 lattices: tuple | None = None, transposed: bool = False, *, boxes=None, rows=None):
        self.geometry = geometry
        self.row_indptr = row_indptr
        self.transposed = transposed
        self.boxes = boxes
        self._lattices = lattices
        # the row arrays, or (for a box plan) the function that makes them when first asked for
        self._rows = None if row_cols is None else (row_cols, row_taps, row_starts)
        self._make_rows = rows
        self.has_duplicates = boxes.has_duplicates if boxes is not None else row_starts is not None
        # sizes, computed once (plain attributes: a cached_property takes a lock on first use)
        shape = geometry.shape
        self.shape = shape[::-1] if transposed else shape
        self.channels = geometry.in_channels if transposed else geometry.out_channels
        self.row_nnz = int(row_indptr[-1])
        self.nnz = self.channels * self.row_nnz
        self.index_dtype = index_dtype(self.nnz, *self.shape)
        self._offsets = None

    def __repr__(self) -> str:
        kind = "boxes" if self.boxes is not None else "rows"
        return (f"TapMap({self.geometry!r}, shape={self.shape}, nnz={self.nnz}, {kind}"
                f"{', transposed' if self.transposed else ''})")

    # -- the row pattern
    def _row_arrays(self):
        if self._rows is None:
            self._rows = self._make_rows()
        return self._rows

    @property
    def row_cols(self) -> np.ndarray:
        """Column of each entry of the row pattern (group 0)."""
        return self._row_arrays()[0]

    @property
    def row_taps(self) -> np.ndarray:
        """Flat tap of each entry of the row pattern (a run per entry when :attr:`row_starts` is set)."""
        return self._row_arrays()[1]

    @property
    def row_starts(self) -> np.ndarray | None:
        """Start of each entry's run in :attr:`row_taps`, or ``None`` when no taps sum."""
        return self._row_arrays()[2] if self.has_duplicates else None

    @property
    def lattices(self) -> tuple | None:
        """The boxes position by position: ``(base, box, strides, taps)`` each (no summed taps only)."""
        if self.boxes is None or self.has_duplicates:
            return self._lattices
        return tuple((b.base, b.box, b.strides, b.taps) for b in self.boxes.boxes)

    # -- sizes
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

    def group_offsets(self) -> np.ndarray:
        """Column offset of each row channel's group."""
        return self._group_offsets().copy()

    def _group_offsets(self) -> np.ndarray:
        if self._offsets is None:
            self._offsets = self._compute_offsets()
        return self._offsets

    def _compute_offsets(self) -> np.ndarray:
        g = self.geometry
        if self.transposed:
            per_group = g.out_channels_per_group * prod(g.output_size)
            return (np.arange(g.in_channels) // g.in_channels_per_group) * per_group
        per_group = g.in_channels_per_group * prod(g.input_size)
        return (np.arange(g.out_channels) // g.out_channels_per_group) * per_group

    # -- full arrays, built on demand
    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer of the full matrix (a fresh array: one row channel's pointer, tiled)."""
        return tiled_pointer(self.row_indptr, self.channels, self.index_dtype)  # one pass, as a copy would be

    @property
    def indices(self) -> np.ndarray:
        """CSR column indices of the full matrix (sorted within rows, unique)."""
        # one row channel's columns, then a copy per row channel (shifted by its group's offset): the
        # full array is written once by long contiguous copies, not box by box.  It is allocated
        # first, so that a box plan's one-channel columns are a temporary above it, freed at once
        out = np.empty((self.channels, self.row_nnz), dtype=self.index_dtype)
        if self.boxes is not None:
            cols = _fastpaths.box_indices(self.boxes, np.zeros(1, dtype=np.int64), self.index_dtype)
        else:
            cols = self.row_cols
        if self.geometry.groups == 1:  # every row channel's columns are the row pattern's
            out[...] = cols
        else:
            np.add(cols[None, :], self._group_offsets().astype(self.index_dtype)[:, None], out=out,
                   casting="unsafe")
        return out.reshape(-1)

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
        return self.fill_data(weight)[0]

    def fill_data(self, weight: np.ndarray):
        """``(data, zeros)``: the CSR data array for ``weight``, and whether it holds a zero.

        ``zeros`` is exact (``True``/``False``) where the map is written box by box,
        and ``None`` (not known without a scan) otherwise.
        """
        w2 = self.channel_weights(weight)
        if self.boxes is not None and w2.dtype != object:
            return _fastpaths.fill_boxes(np.ascontiguousarray(w2), self.boxes)
        if self.row_starts is not None and w2.dtype == object:
            return _summed_objects(w2, self.row_taps, self.row_starts).reshape(-1), None
        # np.take keeps C order (w2[:, taps] would not, and reshape would copy)
        data = w2.take(self.row_taps, axis=1)
        if self.row_starts is not None:
            # summed in the kernel's own dtype (numpy would widen int8/int16/int32 to int64)
            data = np.add.reduceat(data, self.row_starts, axis=1,
                                   dtype=None if data.dtype == object else data.dtype)
        return data.reshape(-1), None


def _summed_objects(w2: np.ndarray, row_taps: np.ndarray, row_starts: np.ndarray) -> np.ndarray:
    """``np.add.reduceat(w2.take(row_taps, axis=1), row_starts, axis=1)`` for objects, each distinct run summed once.

    Entries of one tap are the kernel's own objects; the entries where taps meet
    (on the border, in reflect, replicate and circular padding) repeat a few
    runs of taps, each summed here once per row channel — as ``reduceat`` sums
    it, left to right — and shared by every entry of that run.
    """
    lengths = np.diff(np.append(row_starts, row_taps.size))
    out = w2.take(row_taps[row_starts], axis=1)  # the first tap: the whole run where it is the only one
    multi = np.flatnonzero(lengths > 1)
    if not multi.size:
        return out
    width = int(lengths[multi].max())
    runs = np.full((multi.size, width), -1, dtype=np.int64)  # each run's taps, padded with -1
    offset = np.arange(width)
    inside = offset[None, :] < lengths[multi][:, None]
    runs[inside] = row_taps[(row_starts[multi][:, None] + offset[None, :])[inside]]
    distinct, which = np.unique(runs, axis=0, return_inverse=True)
    sums = np.empty((w2.shape[0], distinct.shape[0]), dtype=object)
    for u, run in enumerate(distinct.tolist()):
        taps = [t for t in run if t >= 0]
        column = w2[:, taps[0]].copy()
        for t in taps[1:]:
            column = column + w2[:, t]
        sums[:, u] = column
    out[:, multi] = sums[:, which.reshape(-1)]
    return out


def _plain(geometry: ConvGeometry) -> TapMap:
    sp_indptr, sp_rows, sp_cols, sp_taps, sp_starts = spatial_pattern(geometry)
    parts = row_pattern(sp_indptr, sp_rows, sp_cols, sp_taps, sp_starts, geometry.in_channels_per_group,
                        prod(geometry.input_size), prod(geometry.kernel_size))
    return TapMap(geometry, *parts)


def _plain_transposed(geometry: ConvGeometry) -> TapMap:
    """The map of ``A.T`` read off ``A``'s full arrays: every entry's (column, row) sorted.

    A row channel of ``A.T`` is an input channel of the convolution; its pattern is
    that of input channel 0, whose columns are the output channels of group 0,
    and whose taps index ``weight[co, 0].reshape(-1)`` as ``co * prod(k) + t``.
    Where taps sum (padding modes other than zeros) an entry keeps its run of taps.
    """
    m = _plain(geometry)
    g = geometry
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    cols = m.indices.astype(np.int64)
    flat = m.taps.astype(np.int64)  # co * (Cg * kk) + c * kk + t
    q, kk = prod(g.input_size), prod(g.kernel_size)
    mine = np.flatnonzero(cols < q)  # the entries of input channel 0
    order = mine[np.lexsort((rows[mine], cols[mine]))]
    t_rows, t_cols = cols[order], rows[order]
    starts = None
    if m.row_starts is None:
        flat = flat[order]
    else:  # move each entry's run of taps with it
        run_start = m.starts
        run_len = np.diff(np.append(run_start, flat.size))[order]
        starts = np.zeros(order.size, dtype=np.int64)
        np.cumsum(run_len[:-1], out=starts[1:])
        flat = flat[np.repeat(run_start[order] - starts, run_len) + np.arange(int(run_len.sum()))]
    indptr = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_rows, minlength=q), out=indptr[1:])
    taps = (flat // (g.in_channels_per_group * kk)) * kk + flat % kk
    small = index_dtype(g.out_channels_per_group * prod(g.output_size))
    return TapMap(geometry, indptr, t_cols.astype(small), taps.astype(np.intp), starts, None, transposed=True)


def plain_tap_map(geometry: ConvGeometry, *, transposed: bool = False) -> TapMap:
    """The tap map by the plain path only (the reference the fast paths are tested against).

    Parameters
    ----------
    geometry : ConvGeometry
    transposed : bool, optional
        The map of ``A.T``, read off the full map sorted by column.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((2, 3, 3, 3), (5, 4), stride=2, padding=1)
    >>> fast, plain = tap_map(g), plain_tap_map(g)
    >>> all(np.array_equal(a, b) for a, b in ((fast.indptr, plain.indptr), (fast.indices, plain.indices),
    ...                                        (fast.taps, plain.taps)))
    True
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    transposed = as_bool(transposed, "transposed")
    _guard_pattern(geometry, None)
    return _plain_transposed(geometry) if transposed else _plain(geometry)


# --------------------------------------------------------------------------- with the fast paths
#: Below this many stored entries a zero-padded map is one masked gather (a fixed number of numpy
#: calls); from here on it is written box by box (no array of the pattern's size at all).
BOX_MIN_NNZ = 1 << 18
#: ... and only while the boxes hold this many entries each on average (each costs a few numpy calls).
BOX_MIN_ENTRIES = 1 << 12


def _zero_padded_rows(geometry: ConvGeometry):
    """The row pattern of a zero-padded geometry: by its axis runs, or (very long borders) by one mask."""
    return _fastpaths.typed_row_pattern(geometry) or _fastpaths.masked_row_pattern(geometry)


def _masked(geometry: ConvGeometry) -> TapMap:
    return TapMap(geometry, *_zero_padded_rows(geometry), None)


def _row_arrays_of(geometry: ConvGeometry):
    """The row arrays the plain path computes, by a fast path where one applies (zeros padding)."""
    if geometry.padding_mode == "zeros":
        return _zero_padded_rows(geometry)[1:] + (None,)
    m = _plain(geometry)
    return m.row_cols, m.row_taps, m.row_starts


def _boxed(geometry: ConvGeometry, nnz: int) -> TapMap | None:
    plan = _fastpaths.box_plan(geometry)
    if plan is None or (geometry.padding_mode == "zeros" and nnz < BOX_MIN_ENTRIES * len(plan.boxes)):
        return None
    return TapMap(geometry, plan.row_indptr, boxes=plan, rows=lambda: _row_arrays_of(geometry))


@lru_cache(maxsize=64)
def _tap_map_cached(geometry: ConvGeometry) -> TapMap:
    nnz = _pattern_nnz(geometry)
    zeros = geometry.padding_mode == "zeros"
    if not zeros or nnz >= BOX_MIN_NNZ:
        boxed = _boxed(geometry, nnz)
        if boxed is not None:
            return boxed
    return _masked(geometry) if zeros else _plain(geometry)


def _sorted_transposed(geometry: ConvGeometry) -> TapMap:
    """The map of ``A.T``: the spatial triples sorted by input position, repeated over the channels by blocks."""
    sp_indptr, sp_rows, sp_cols, sp_taps, sp_starts = spatial_pattern(geometry)
    if sp_starts is not None:
        raise InputValueError("geometry: a transposed tap map needs a pattern without summed taps (zeros padding)",
                              "geometry")
    t_indptr, t_rows, t_cols, t_taps = _fastpaths.transposed_spatial(sp_rows, sp_cols, sp_taps,
                                                                     prod(geometry.input_size))
    cg, q_out, kk = geometry.out_channels_per_group, prod(geometry.output_size), prod(geometry.kernel_size)
    row_indptr, row_cols, row_taps, _ = _fastpaths.row_pattern_runs(t_indptr, t_cols, t_taps, cg, q_out, kk)
    return TapMap(geometry, row_indptr, row_cols, row_taps, None, None, transposed=True)


@lru_cache(maxsize=16)
def _transposed_tap_map_cached(geometry: ConvGeometry) -> TapMap:
    nnz = _pattern_nnz(geometry)
    zeros = geometry.padding_mode == "zeros"
    if not zeros or nnz >= BOX_MIN_NNZ:
        plan = _fastpaths.transposed_box_plan(geometry)
        if plan is not None and (not zeros or nnz >= BOX_MIN_ENTRIES * len(plan.boxes)):
            def rows():
                m = _sorted_transposed(geometry) if zeros else _plain_transposed(geometry)
                return m.row_cols, m.row_taps, m.row_starts

            return TapMap(geometry, plan.row_indptr, transposed=True, boxes=plan, rows=rows)
    return _sorted_transposed(geometry) if zeros else _plain_transposed(geometry)


def _guard_pattern(geometry: ConvGeometry, max_bytes) -> None:
    """Refuse a geometry whose row pattern would not fit, before any of its arrays exist."""
    output_size = geometry.output_size
    bound = geometry.in_channels_per_group * prod(o * k for o, k in zip(output_size, geometry.kernel_size))
    rows = prod(output_size)
    # the row pattern kept in the cache: a column (as the matrix's index) and a tap (intp) per entry
    guard((rows, geometry.in_channels * prod(geometry.input_size)), bound, 8, "csr", max_bytes,
          what="tap map (one output channel's pattern)")


def tap_map_for(geometry: ConvGeometry, matrix_bytes: int, *, max_bytes=None) -> TapMap:
    """The (cached) tap map of a geometry whose matrix a builder has already guarded at ``matrix_bytes``.

    The pattern (one output channel's) is checked against the same limit only
    when its bytes could exceed the matrix's: one size check instead of two.

    Raises
    ------
    TypeError
        If ``geometry`` is not a :class:`~convmatrix.ConvGeometry`.
    MatrixTooLargeError
        As :func:`tap_map`.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((2, 1, 3), 5, padding=1)
    >>> tap_map_for(g, 10**6) is tap_map(g)
    True
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    output_size = geometry.output_size
    bound = geometry.in_channels_per_group * prod(o * k for o, k in zip(output_size, geometry.kernel_size))
    if bound * 16 + (prod(output_size) + 1) * 8 > matrix_bytes:  # at most 8 + 8 bytes an entry, 8 a row
        _guard_pattern(geometry, max_bytes)
    return _tap_map_cached(geometry)


def tap_map(geometry: ConvGeometry, *, max_bytes=None) -> TapMap:
    """The (cached) tap map of a convolution geometry.

    Parameters
    ----------
    geometry : ConvGeometry
    max_bytes : int, optional
        Refuse a geometry whose pattern (one output channel's) would exceed
        this many bytes (see :func:`convmatrix.conv_matrix`).

    Returns
    -------
    TapMap

    Raises
    ------
    TypeError
        If ``geometry`` is not a :class:`~convmatrix.ConvGeometry`.
    MatrixTooLargeError
        Before anything is built, when the pattern would exceed the limit.

    Examples
    --------
    A 1-D convolution, kernel size 3, input 4, padding 1: row ``r`` holds taps
    ``t`` with input ``r - 1 + t`` inside the image.

    >>> m = tap_map(ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1))
    >>> m.indptr.tolist(), m.indices.tolist(), m.taps.tolist()
    ([0, 2, 5, 8, 10], [0, 1, 0, 1, 2, 1, 2, 3, 2, 3], [1, 2, 0, 1, 2, 0, 1, 2, 0, 1])
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    _guard_pattern(geometry, max_bytes)
    return _tap_map_cached(geometry)


def transposed_tap_map(geometry: ConvGeometry, *, max_bytes=None) -> TapMap:
    """The (cached) tap map of the transpose ``A.T`` of a convolution, in every padding mode.

    The same taps as :func:`tap_map`, read column by column: its CSR arrays are the CSC
    arrays of ``A``, so ``A.T`` is filled directly instead of transposing a built matrix.
    Where a padding mode sums taps onto a border pixel, the entry of ``A.T`` sums them too.

    Raises
    ------
    TypeError
        If ``geometry`` is not a :class:`~convmatrix.ConvGeometry`.
    MatrixTooLargeError
        As :func:`tap_map`.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1)
    >>> m = transposed_tap_map(g)
    >>> m.shape, m.indptr.tolist(), m.indices.tolist(), m.taps.tolist()
    ((4, 4), [0, 2, 5, 8, 10], [0, 1, 0, 1, 2, 1, 2, 3, 2, 3], [1, 0, 2, 1, 0, 2, 1, 0, 2, 1])
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    _guard_pattern(geometry, max_bytes)
    return _transposed_tap_map_cached(geometry)


def clear_cache() -> None:
    """Forget every cached tap map, and the counts and per-axis plans cached with them (for cold builds, tests)."""
    _tap_map_cached.cache_clear()
    _transposed_tap_map_cached.cache_clear()
    _pattern_nnz.cache_clear()
    _axis_count.cache_clear()
    _fastpaths.clear_cache()
