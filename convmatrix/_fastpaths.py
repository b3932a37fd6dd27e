"""Fast paths of the structure layer: the same arrays as :mod:`convmatrix.structure`'s plain path, sooner.

Each function here computes something the plain path also computes, and the
tests prove them equal on random geometries (``tests/test_fastpaths.py``):

* :func:`masked_row_pattern` — the row pattern of a zero-padded convolution
  without a sort: every (output position, input channel, tap) is a slot of a
  dense grid, the taps that land inside the image are kept by one boolean mask,
  and C order of the grid *is* CSR order.  A fixed handful of numpy calls,
  whatever the geometry: the path for small and medium layers.
* :func:`axis_runs`, :func:`box_plan`, :func:`fill_boxes` and
  :func:`box_indices` — nothing of the pattern's size at all.  Along each
  axis, consecutive outputs that read the same taps at inputs shifted by the
  stride form a *run* (the interior is one run; each border output is one,
  with its reflected, replicated or wrapped taps summed per input).  A *box*
  is a product of runs: its output positions all hold the same entries, at
  offsets of the CSR arrays that are affine in the position, with columns
  affine in the position too.  So both CSR arrays are written box by box as
  strided broadcasts of a few small arrays, in every padding mode, with the
  summed border taps added up once per box instead of once per entry.
* :func:`row_pattern_runs` — the row pattern from a spatial pattern by block
  copies (used by the transposed map);
* :func:`transposed_spatial` — the transpose's spatial pattern, by sorting the
  spatial triples by input position (instead of the full matrix's entries).
"""

from __future__ import annotations

import heapq
import itertools
from functools import lru_cache
from itertools import accumulate
from math import prod
from typing import NamedTuple

import numpy as np

from ._limits import index_dtype

__all__ = [
    "MAX_ROW_RUNS",
    "MAX_BORDER_TAPS",
    "MAX_BOXES",
    "MAX_PHASES",
    "TILE_ENTRIES",
    "TILE_BYTES",
    "TILE_SHARE",
    "clear_cache",
    "masked_row_pattern",
    "typed_row_pattern",
    "tap_ranges",
    "axis_runs",
    "Box",
    "BoxPlan",
    "box_plan",
    "fill_boxes",
    "box_indices",
    "row_pattern_runs",
    "transposed_spatial",
]

#: At most this many runs of equal-length rows are copied as slices; beyond, rows are grouped by length.
MAX_ROW_RUNS = 4096
#: Border outputs are analysed one by one in Python: at most this many (border output, tap) pairs per axis.
MAX_BORDER_TAPS = 1 << 16
#: At most this many boxes; beyond, the tap map is gathered entry by entry.
MAX_BOXES = 4096
#: At most this many boxes of a transpose (phases of a stride) are joined into one box of adjacent units.
MAX_PHASES = 64
#: A box is written a whole line (its last axis) at a time while a line holds fewer entries than this,
TILE_ENTRIES = 1 << 20
#: a line of values for every row channel takes at most this many bytes (8 an entry),
TILE_BYTES = 1 << 24
#: and at most this fraction of the matrix's data: the lines are working arrays beside it.
TILE_SHARE = 1 / 32


def clear_cache() -> None:
    """Forget the per-axis plans cached here (see :func:`convmatrix.structure.clear_cache`)."""
    _typed_axis.cache_clear()


def _c_strides(sizes) -> list[int]:
    """Element strides of a C-order array of these sizes."""
    out, step = [], 1
    for size in reversed(sizes):
        out.append(step)
        step *= size
    return out[::-1]


# --------------------------------------------------------------------------- the masked row pattern
def masked_row_pattern(geometry):
    """``(row_indptr, row_cols, row_taps)`` of a zero-padded geometry, by one mask over a dense grid.

    The grid is ``(output position, input channel, tap)``; a slot is kept where
    its input lies inside the image.  Along an axis the input ``o s - lo + t d``
    grows with the tap, so within an output position C order of the grid is
    column order: the kept slots, read in C order, are the CSR row pattern, and a
    kept slot's flat index within its position is its tap ``c * prod(k) + t``.
    Equal to :func:`convmatrix.structure.row_pattern` of the spatial pattern.
    """
    g = geometry
    output_size, input_size = g.output_size, g.input_size
    nd, cg = len(input_size), g.in_channels_per_group
    q, kk, p = prod(input_size), prod(g.kernel_size), prod(output_size)
    cols = valid = None
    for a, (n, k, s, (lo, _), d, out) in enumerate(zip(input_size, g.kernel_size, g.stride, g.padding, g.dilation,
                                                      output_size)):
        # input index of (output, tap) along this axis; outside the image iff negative or >= n (one unsigned test)
        i = np.arange(-lo, out * s - lo, s, dtype=np.int64)[:, None] + np.arange(0, k * d, d, dtype=np.int64)
        inside = i.view(np.uint64) < n
        if nd > 1:
            shape = [1] * (2 * nd)
            shape[a], shape[nd + a] = out, k
            i, inside = i.reshape(shape), inside.reshape(shape)
            if cols is not None:
                cols = cols * n + i
                valid = valid & inside
                continue
        cols, valid = i, inside
    if nd > 1:
        cols, valid = cols.reshape(p, kk), valid.reshape(p, kk)
    per_position = np.count_nonzero(valid, axis=1)
    if cg > 1:
        valid = np.repeat(valid[:, None, :], cg, axis=1)
        cols = cols[:, None, :] + np.arange(0, cg * q, q, dtype=np.int64)[:, None]
    kept = np.flatnonzero(valid)
    small = index_dtype(cg * q, cg * kk, kept.size)
    row_cols = cols.reshape(-1)[kept].astype(small)
    row_taps = kept % (cg * kk)
    row_indptr = np.empty(p + 1, dtype=np.int64)
    row_indptr[0] = 0
    np.cumsum(per_position * cg, out=row_indptr[1:])
    return row_indptr, row_cols, row_taps.astype(np.intp, copy=False)


@lru_cache(maxsize=256)
def _typed_axis(n: int, k: int, s: int, lo: int, d: int, out: int, q_stride: int):
    """One zero-padded axis for :func:`typed_row_pattern`, or ``None``: ``(mask, run_of, base, off)``.

    ``mask[r, t]``: run ``r`` reads tap ``t``; ``run_of[o]``: the run of output ``o``;
    ``base[o] = (o s - lo) q_stride``; ``off[t] = t d q_stride``.  Cached (the axes of a
    square layer are one axis); :func:`convmatrix.structure.clear_cache` clears it.
    """
    runs = tap_ranges(n, k, s, lo, d, out)
    if runs is None:
        return None
    # small lists are cheaper in Python than in numpy calls
    if len(runs) * k <= 512:
        mask = np.array([[t_lo <= t < t_hi for t in range(k)] for _, _, t_lo, t_hi in runs], dtype=bool)
    else:
        t = np.arange(k)
        mask = (t >= np.array([r[2] for r in runs])[:, None]) & (t < np.array([r[3] for r in runs])[:, None])
    if out <= 512:
        run_of = np.array([i for i, r in enumerate(runs) for _ in range(r[1])], dtype=np.int64)
    else:
        run_of = np.repeat(np.arange(len(runs)), [r[1] for r in runs])
    base = np.arange(-lo * q_stride, (out * s - lo) * q_stride, s * q_stride, dtype=np.int64)
    return mask.reshape(len(runs), k), run_of, base, np.arange(0, k * d * q_stride, d * q_stride, dtype=np.int64)


def typed_row_pattern(geometry):
    """``(row_indptr, row_cols, row_taps)`` of a zero-padded geometry from its axis runs, or ``None``.

    Output positions come in few *types* (one run per axis, :func:`tap_ranges`),
    and a type is one row of a small table of which taps ``c * prod(k) + t`` it
    reads.  The grid of (output position, tap) slots is then that table's rows,
    gathered by type — not a product of tiny per-axis arrays — and its kept
    slots in C order are the CSR row pattern (inputs grow with the tap along
    each axis), with columns ``base(p) + off(c, t)``, ``base(p) = sum_a (o_a s_a
    - lo_a) Q_a`` and ``off(c, t) = c Q + sum_a t_a d_a Q_a``.  A fixed handful
    of numpy calls, no sort.  ``None`` where the runs would be too many (see
    :func:`tap_ranges`).  Equal to :func:`convmatrix.structure.row_pattern` of
    the spatial pattern.
    """
    g = geometry
    output_size, input_size, kernel_size = g.output_size, g.input_size, g.kernel_size
    cg, q, kk = g.in_channels_per_group, prod(input_size), prod(kernel_size)
    q_str = _c_strides(input_size)
    table = types = base = off = None
    for a, (n, k, s, (lo, _), d, out) in enumerate(zip(input_size, kernel_size, g.stride, g.padding, g.dilation,
                                                      output_size)):
        axis = _typed_axis(n, k, s, lo, d, out, q_str[a])
        if axis is None:
            return None
        mask, run_of, axis_base, axis_off = axis
        if table is None:
            table, types, base, off = axis
            continue
        r = mask.shape[0]
        if table.shape[0] * r > MAX_BOXES:
            return None
        table = (table[:, None, :, None] & mask[None, :, None, :]).reshape(table.shape[0] * r, -1)
        types = (types[:, None] * r + run_of).reshape(-1)
        base = (base[:, None] + axis_base).reshape(-1)
        off = (off[:, None] + axis_off).reshape(-1)
    if cg > 1:  # channel c's slots: taps + c prod(k), columns + c Q
        table = np.tile(table, (1, cg))
        off = (np.arange(0, cg * q, q, dtype=np.int64)[:, None] + off).reshape(-1)
    row_indptr = np.zeros(types.size + 1, dtype=np.int64)
    np.cumsum(table.sum(axis=1)[types], out=row_indptr[1:])
    mask = table[types]
    small = index_dtype(cg * q, cg * kk, int(row_indptr[-1]))
    # fresh pages cost as much as the arithmetic: the grid's columns in the indices' own dtype when every
    # column computed on it (kept or not, |base| + |off|) fits, and only the kept slots' taps
    reach = sum(max(lo, (out - 1) * s - lo, 0) * qs + (k - 1) * d * qs for (lo, _), out, s, k, d, qs in
                zip(g.padding, output_size, g.stride, kernel_size, g.dilation, q_str)) + (cg - 1) * q
    work = small if index_dtype(reach) is small else np.int64
    cols = np.add(base[:, None], off, dtype=work)
    if mask.size > 4096:  # only the kept slots' taps, without a grid of them
        taps = np.broadcast_to(np.arange(cg * kk), mask.shape)[mask]
    else:  # small: a grid of taps is cheaper than numpy's broadcast_to or nonzero
        taps = np.empty(mask.shape, dtype=np.intp)
        taps[...] = np.arange(cg * kk)
        taps = taps[mask]
    return row_indptr, cols[mask].astype(small, copy=False), taps


# --------------------------------------------------------------------------- runs and boxes
def _map_position(i: int, n: int, mode: str) -> int:
    """One padded position mapped into the image, as :func:`convmatrix.structure.axis_index_map`."""
    if mode == "zeros":
        return i if 0 <= i < n else -1
    if mode == "reflect":
        if n == 1:
            return 0
        r = abs(i)
        return 2 * (n - 1) - r if r > n - 1 else r
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    return i % n


def _border_entries(first: int, n: int, k: int, d: int, mode: str):
    """``(cols, tapsets)`` of one output whose taps start at padded position ``first``."""
    where: dict[int, list[int]] = {}
    for t in range(k):
        i = _map_position(first + t * d, n, mode)
        if i >= 0:
            where.setdefault(i, []).append(t)
    cols = tuple(sorted(where))
    return cols, tuple(tuple(where[i]) for i in cols)


def _extend(runs: list, o: int, cols: tuple, taps: tuple, s: int, count: int = 1) -> None:
    """Append outputs ``o .. o + count - 1`` to the runs, merged into the last run when they continue it."""
    if runs:
        last = runs[-1]
        start, n_out, c0, t0 = last
        if (start + n_out == o and t0 == taps and len(c0) == len(cols)
                and all(c == c_prev + s * n_out for c, c_prev in zip(cols, c0))):
            last[1] += count
            return
    runs.append([o, count, cols, taps])


def tap_ranges(n: int, k: int, s: int, lo: int, d: int, out: int):
    """Runs of one zero-padded axis as tap ranges: ``(first_output, count, t_lo, t_hi)`` each.

    Output ``o`` reads the taps ``t_lo <= t < t_hi`` (at inputs ``o s - lo + t d``, all
    inside the image; ``t_lo == t_hi == 0`` for an output that reads none):
    ``t_lo = max(0, ceil((lo - o s) / d))``, ``t_hi = min(k, floor((n - 1 + lo - o s) / d) + 1)``.
    Consecutive outputs with the same range are one run.  ``None`` when more than
    :data:`MAX_BORDER_TAPS` outputs lie outside the interior.

    Examples
    --------
    >>> tap_ranges(5, 3, 1, 1, 1, 5)
    [(0, 1, 1, 3), (1, 3, 0, 3), (4, 1, 0, 2)]
    """
    first = max(0, -((-lo) // s))  # the smallest o with o s - lo >= 0
    last = min(out - 1, (n - 1 + lo - (k - 1) * d) // s)  # the largest o with o s - lo + (k - 1) d <= n - 1
    interior = first <= last
    if ((first + out - 1 - last) if interior else out) > MAX_BORDER_TAPS:
        return None
    runs: list = []
    border = range(first) if interior else range(out)
    for o in border:
        _add_range(runs, o, 1, max(0, -((o * s - lo) // d)), min(k, (n - 1 + lo - o * s) // d + 1))
    if interior:
        _add_range(runs, first, last - first + 1, 0, k)
        for o in range(last + 1, out):
            _add_range(runs, o, 1, max(0, -((o * s - lo) // d)), min(k, (n - 1 + lo - o * s) // d + 1))
    return [tuple(r) for r in runs]


def _add_range(runs: list, o: int, count: int, t_lo: int, t_hi: int) -> None:
    """Append outputs ``o .. o + count - 1`` reading taps ``[t_lo, t_hi)`` to the runs, merging equal ranges."""
    if t_hi <= t_lo:
        t_lo = t_hi = 0
    if runs and runs[-1][2] == t_lo and runs[-1][3] == t_hi:
        runs[-1][1] += count
    else:
        runs.append([o, count, t_lo, t_hi])


def axis_runs(n: int, k: int, s: int, lo: int, d: int, out: int, mode: str):
    """Runs of consecutive outputs along one axis that read the same taps at inputs shifted by the stride.

    Returns a list of ``(first_output, count, cols, tapsets)``: output
    ``first_output + m`` (``m < count``) holds one entry per ``cols[e] + m * s``,
    the sum of the taps ``tapsets[e]`` (sorted; more than one only where a
    padding mode folds taps onto one input).  The interior is one run; border
    outputs are analysed one by one (for ``zeros``, :func:`tap_ranges`).  ``None``
    when the border is too long (more than :data:`MAX_BORDER_TAPS` pairs of
    border output and tap; outputs, for ``zeros``).

    Examples
    --------
    >>> axis_runs(5, 3, 1, 1, 1, 5, "reflect")
    [(0, 1, (0, 1), ((1,), (0, 2))), (1, 3, (0, 1, 2), ((0,), (1,), (2,))), (4, 1, (3, 4), ((0, 2), (1,)))]
    """
    if mode == "zeros":
        ranges = tap_ranges(n, k, s, lo, d, out)
        if ranges is None:
            return None
        return [(o, count, tuple(o * s - lo + t * d for t in range(t_lo, t_hi)), tuple((t,) for t in range(t_lo, t_hi)))
                for o, count, t_lo, t_hi in ranges]
    first = max(0, -((-lo) // s))  # the smallest o with o s - lo >= 0
    last = min(out - 1, (n - 1 + lo - (k - 1) * d) // s)  # the largest o with o s - lo + (k - 1) d <= n - 1
    interior = first <= last
    n_border = (first + out - 1 - last) if interior else out
    if n_border * k > MAX_BORDER_TAPS:
        return None
    runs: list = []
    for o in range(first if interior else out):
        _extend(runs, o, *_border_entries(o * s - lo, n, k, d, mode), s)
    if interior:
        base = first * s - lo
        _extend(runs, first, tuple(base + t * d for t in range(k)), tuple((t,) for t in range(k)), s,
                last - first + 1)
        for o in range(last + 1, out):
            _extend(runs, o, *_border_entries(o * s - lo, n, k, d, mode), s)
    return [tuple(r) for r in runs]


class Box(NamedTuple):
    """Output positions of one product of runs, written as strided broadcasts (see :func:`box_plan`).

    A *line* is the entries of one position, or of every position along the
    last axis when ``tiled``.  ``view_shape``/``view_strides`` (in entries of
    one output channel's row pattern, from ``base``) lay the lines out;
    ``line_taps`` (with ``line_starts``, runs to sum, or ``None``) give a
    line's values, ``line_cols`` its columns at the first line, and ``pos``
    (shape ``view_shape[:-1]``, or ``None``) the column shift of each line.
    ``box``, ``strides`` and ``taps`` describe it position by position.
    """

    base: int
    box: tuple
    strides: tuple
    taps: np.ndarray | None
    view_shape: tuple
    view_strides: tuple
    line_taps: np.ndarray
    line_starts: np.ndarray | None
    line_cols: np.ndarray
    pos: np.ndarray | None


class BoxPlan(NamedTuple):
    """A tap map as boxes: the row pointer of one output channel, its length, the boxes, whether taps sum."""

    row_indptr: np.ndarray
    row_nnz: int
    boxes: tuple
    has_duplicates: bool


def _outer_sum(parts) -> np.ndarray:
    """``a[i] + b[j] + ...`` flattened in C order, for 1-d int64 arrays."""
    out = parts[0]
    for part in parts[1:]:
        out = (out[:, None] + part[None, :]).reshape(-1)
    return out


def _box_taps(runs, k_str):
    """The taps of one position of a box, ``(taps, starts)``; ``starts`` is ``None`` when none sum."""
    if all(len(ts) == 1 for r in runs for ts in r[3]):
        return _outer_sum([np.array([ts[0] for ts in r[3]], dtype=np.int64) * ks for r, ks in zip(runs, k_str)]), None
    per_axis = [[tuple(t * ks for t in ts) for ts in r[3]] for r, ks in zip(runs, k_str)]
    taps, starts = [], []
    for entry in itertools.product(*per_axis):
        starts.append(len(taps))
        taps.extend(sum(combo) for combo in itertools.product(*entry))
    return np.array(taps, dtype=np.int64), np.array(starts, dtype=np.int64)


def _line(taps, starts, cols, entries: int, steps, box, strides, c_out: int, total: int):
    """Lay a box out as lines: tile its entries along the last axis while they are contiguous there and small.

    One line per position leaves numpy an inner loop of one position's entries; a
    line along the last axis (whose positions are adjacent when ``strides[-1] ==
    entries``) makes it the whole stretch.  ``total`` is the matrix's stored entries.
    """
    j_last = box[-1]
    line_bytes = c_out * j_last * entries * 8
    tiled = (j_last > 1 and strides[-1] == entries and j_last * entries <= TILE_ENTRIES
             and line_bytes <= min(TILE_BYTES, total * 8 * TILE_SHARE))
    if tiled:
        rep = np.arange(j_last, dtype=np.int64)[:, None]
        cols = (rep * steps[-1] + cols[None, :]).reshape(-1)
        if starts is not None:
            starts = (rep * taps.size + starts[None, :]).reshape(-1)
        taps = np.tile(taps, j_last)
        kept = [a for a in range(len(box) - 1) if box[a] > 1]
    else:
        kept = [a for a in range(len(box)) if box[a] > 1]
    view_shape = tuple(box[a] for a in kept) + (cols.size,)
    view_strides = tuple(strides[a] for a in kept) + (1,)
    pos = None
    if kept:
        pos = _outer_sum([np.arange(box[a], dtype=np.int64) * steps[a] for a in kept]).reshape(view_shape[:-1])
    return view_shape, view_strides, taps, starts, cols, pos


def box_plan(geometry) -> BoxPlan | None:
    """The tap map of a convolution geometry as boxes of output positions with the same entries.

    Along each axis the outputs form runs (:func:`axis_runs`); a box is one
    run per axis.  With ``len_a``/``nnz_a`` the entries per output of a run
    and of the whole axis, and ``cum_a`` the entries before the run, the
    positions of a box start, in one output channel's row pattern (``Cg``
    input channels), at ``Cg * sum_a prod(len_b, b < a) * (cum_a + j_a len_a)
    * prod(nnz_b, b > a)``: affine in the position ``j``.  Their columns are
    ``c Q + sum_a (col_a + j_a s_a) Q_a``, affine too.

    Returns ``None`` where the runs or boxes would be too many (see
    :data:`MAX_BORDER_TAPS`, :data:`MAX_BOXES`).
    """
    g = geometry
    per_axis, lengths = [], []
    for n, k, s, (lo, _), d, out in zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation,
                                        g.output_size):
        runs = axis_runs(n, k, s, lo, d, out, g.padding_mode)
        if runs is None:
            return None
        cums = accumulate((r[1] * len(r[2]) for r in runs[:-1]), initial=0)
        per_axis.append([(count, cols, taps, cum, len(cols)) for (_, count, cols, taps), cum in zip(runs, cums)])
        lengths.append([len(r[2]) for r in runs for _ in range(r[1])] if out <= 4096 else
                       np.repeat([len(r[2]) for r in runs], [r[1] for r in runs]))
    q_str = _c_strides(g.input_size)
    return _plan(per_axis, lengths, g.in_channels_per_group, prod(g.input_size), q_str,
                 [s * qs for s, qs in zip(g.stride, q_str)], g.kernel_size, g.out_channels)


def transposed_axis_runs(n: int, k: int, s: int, lo: int, d: int, out: int, mode: str = "zeros"):
    """Along one axis of ``A.T``: inputs ``i0 + m s`` reading the same taps, at outputs shifted by ``m``.

    Input ``i`` is read by output ``o`` through tap ``t`` where ``o s - lo + t d = i``
    (in the other padding modes, where that position mapped into the image is
    ``i``: then several taps of one output may meet on ``i``, a tapset summed);
    for ``i + s`` the same taps meet outputs ``o + 1``.  Returns ``(runs, lengths)``:
    ``lengths[i]`` entries per input, and runs ``(first, count, cols, tapsets,
    cum, step)`` — members ``first + m s`` (``m < count``), each with outputs
    ``cols[e] + m`` (ascending) and taps ``tapsets[e]``, the first member's row
    starting after ``cum`` entries of the axis and each next member ``step``
    entries later.  ``None`` when the axis is too long to list (more than
    :data:`MAX_BORDER_TAPS` pairs of input and tap).

    Examples
    --------
    >>> runs, lengths = transposed_axis_runs(4, 2, 2, 0, 1, 2)   # outputs 0, 1 read inputs (0, 1), (2, 3)
    >>> lengths, runs
    ([1, 1, 1, 1], [(0, 2, (0,), ((0,),), 0, 2), (1, 2, (0,), ((1,),), 1, 2)])
    >>> transposed_axis_runs(3, 3, 1, 1, 1, 3, "reflect")[0][0]   # input 1 holds taps 0 and 2 of output 0
    (0, 1, (0, 1), ((1,), (0,)), 0, 2)
    """
    if max(n, out) * k > MAX_BORDER_TAPS:
        return None
    entries = []
    if mode == "zeros":
        for i in range(n):
            pairs = []
            for t in range(k - 1, -1, -1):  # outputs ascending
                o, rest = divmod(i + lo - t * d, s)
                if not rest and 0 <= o < out:
                    pairs.append((o, (t,)))
            entries.append(pairs)
    else:
        where: list[dict[int, list[int]]] = [{} for _ in range(n)]
        for o in range(out):
            for t in range(k):  # taps ascending: the plain path's order of summing
                where[_map_position(o * s - lo + t * d, n, mode)].setdefault(o, []).append(t)
        entries = [[(o, tuple(ts)) for o, ts in sorted(w.items())] for w in where]
    lengths = [len(p) for p in entries]
    cum = list(accumulate(lengths, initial=0))
    runs = []
    for phase in range(min(s, n)):
        current = None
        for i in range(phase, n, s):
            cols, taps = tuple(o for o, _ in entries[i]), tuple(t for _, t in entries[i])
            if current is not None:
                first, count, c0, t0, cum0, step = current
                delta = cum[i] - cum[first + (count - 1) * s]
                if (t0 == taps and all(c == c_prev + count for c, c_prev in zip(cols, c0))
                        and (count == 1 or delta == step)):
                    current[1], current[5] = count + 1, delta
                    continue
                runs.append(tuple(current))
            current = [i, 1, cols, taps, cum[i], lengths[i]]
        runs.append(tuple(current))
    return runs, lengths


def transposed_box_plan(geometry) -> BoxPlan | None:
    """The tap map of ``A.T``, as boxes of input positions (see :func:`box_plan`), in every padding mode.

    A row channel is an input channel; its entries are the output channels of its
    group (``og`` of them), each with the taps that meet the input.  Along each axis
    the inputs form runs (:func:`transposed_axis_runs`) — progressions with the
    stride as step, between whose members the other phases' rows lie, so a box's
    positions are ``step`` entries apart instead of adjacent — and a box is one run
    per axis, written as for the convolution itself, once the phases of the last
    axis are joined into units of adjacent rows (:func:`_merge_phases`).  In the
    modes other than zeros a border input also holds the taps that reflect, clamp
    or wrap onto it, summed per output.  ``None`` as :func:`box_plan`.
    """
    g = geometry
    per_axis, lengths = [], []
    for n, k, s, (lo, _), d, out in zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation,
                                        g.output_size):
        axis = transposed_axis_runs(n, k, s, lo, d, out, g.padding_mode)
        if axis is None:
            return None
        runs, axis_lengths = axis
        per_axis.append([(count, cols, taps, cum, step) for _, count, cols, taps, cum, step in runs])
        lengths.append(axis_lengths)
    p_str = _c_strides(g.output_size)
    return _plan(per_axis, lengths, g.out_channels_per_group, prod(g.output_size), p_str, p_str, g.kernel_size,
                 g.in_channels, merge=True)


def _plan(per_axis, lengths, cg: int, q: int, q_str, steps, kernel_size, c_rows: int,
          merge: bool = False) -> BoxPlan | None:
    """Boxes from per-axis runs ``(count, cols, tapsets, cum, step)`` and per-position entry counts.

    ``cg`` channels of columns per row (``q`` columns each, C strides ``q_str``),
    ``steps[a]`` the column shift of one step along axis ``a``'s runs, ``c_rows``
    row channels (for the size of tiled lines).  A box starts at
    ``cg * sum_a prod(len_b, b < a) * cum_a * prod(nnz_b, b > a)`` of the row
    pattern, and one step along axis ``a`` moves ``cg * prod(len_b, b < a) * step_a
    * prod(nnz_b, b > a)`` entries.  With ``merge``, boxes whose positions
    interleave along the last axis are joined first (see :func:`_merge_phases`).
    """
    if prod(len(r) for r in per_axis) > MAX_BOXES:
        return None
    nd, kk = len(per_axis), prod(kernel_size)
    k_str = _c_strides(kernel_size)
    nnz = [sum(int(length) for length in axis) for axis in lengths]
    after = [prod(nnz[a + 1:]) for a in range(nd)]
    channel = np.arange(cg, dtype=np.int64)[:, None]
    raw, duplicates = [], False
    for runs in itertools.product(*per_axis):
        lens = [len(r[1]) for r in runs]
        if 0 in lens:
            continue
        base, before, strides = 0, 1, []
        for a, (_, _, _, cum, step) in enumerate(runs):
            base += before * cum * after[a]
            strides.append(cg * before * step * after[a])
            before *= lens[a]
        taps, starts = _box_taps([(None, None, None, r[2]) for r in runs], k_str)
        cols = _outer_sum([np.array(r[1], dtype=np.int64) * qs for r, qs in zip(runs, q_str)])
        cols = (channel * q + cols[None, :]).reshape(-1)
        if starts is not None:
            duplicates = True
            starts = (channel * taps.size + starts[None, :]).reshape(-1)
        taps = (channel * kk + taps[None, :]).reshape(-1)
        raw.append(_RawBox(cg * base, tuple(r[0] for r in runs), tuple(strides), taps, starts, cols))
    if merge:
        raw = _merge_phases(raw, steps[-1])
    total = c_rows * cg * prod(nnz)
    boxes = [Box(b.base, b.box, b.strides, b.taps if b.starts is None else None,
                 *_line(b.taps, b.starts, b.cols, b.cols.size, steps, b.box, list(b.strides), c_rows, total))
             for b in raw]
    counts = np.ones(1, dtype=np.int64)  # entries of each position, C order: a product over the axes
    for axis in lengths:
        counts = (counts[:, None] * np.asarray(axis, dtype=np.int64)[None, :]).reshape(-1)
    row_indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts * cg, out=row_indptr[1:])
    return BoxPlan(row_indptr, cg * prod(nnz), tuple(boxes), duplicates)


class _RawBox(NamedTuple):
    """A box before its layout: ``base``, counts and entry strides per axis, one position's taps
    (with ``starts`` of summed runs, or ``None``) and columns (at the box's first position)."""

    base: int
    box: tuple
    strides: tuple
    taps: np.ndarray
    starts: np.ndarray | None
    cols: np.ndarray


def _merge_phases(raw: list, col_step: int) -> list:
    """Join boxes whose positions interleave along the last axis into boxes of adjacent units.

    In the transpose the inputs of one run are ``s`` apart along the last axis, and
    the other phases' rows lie between them, so a box's rows are not adjacent and
    its lines cannot be tiled.  Where boxes ``B_1, ..., B_s`` have the same counts
    on the other axes and the same strides, and ``B_{i+1}`` starts right after the
    first position of ``B_i`` with the first positions together exactly one step
    long (a box of one member has no step of its own: it joins any), member ``m``
    of all of them is one *unit* of consecutive rows: the joined box has their
    entries side by side, its step is its length, and ``_line`` can tile it.  Members beyond the shortest box's count become boxes of their own
    (their columns shifted by ``col_step`` per member), which are joined in turn.
    """
    if not raw or len(raw[0].box) == 0:
        return raw
    pool = {b.base: b for b in raw}
    todo = sorted(pool)
    out = []
    while todo:
        b = pool.pop(heapq.heappop(todo), None)
        if b is None:
            continue
        chain, length = [b], b.cols.size
        step = b.strides[-1] if b.box[-1] > 1 else None  # a lone member's step says nothing
        while (step is None or length < step) and len(chain) < MAX_PHASES:
            nxt = pool.get(chain[-1].base + chain[-1].cols.size)
            if (nxt is None or nxt.box[:-1] != b.box[:-1] or nxt.strides[:-1] != b.strides[:-1]
                    or (nxt.starts is None) != (b.starts is None)):
                break
            if nxt.box[-1] > 1:
                if step is None:
                    step = nxt.strides[-1]
                elif nxt.strides[-1] != step:
                    break
            chain.append(nxt)
            length += nxt.cols.size
        if len(chain) == 1 or length != step:
            out.append(b)
            continue
        for c in chain[1:]:
            del pool[c.base]
        units = min(c.box[-1] for c in chain)
        taps = np.concatenate([c.taps for c in chain])
        starts = None
        if b.starts is not None:
            offsets = np.cumsum([0] + [c.taps.size for c in chain[:-1]])
            starts = np.concatenate([c.starts + off for c, off in zip(chain, offsets)])
        cols = np.concatenate([c.cols for c in chain])
        out.append(_RawBox(b.base, b.box[:-1] + (units,), b.strides[:-1] + (step,), taps, starts, cols))
        for c in chain:  # the members past the shortest run go back into the pool, to be joined in turn
            if c.box[-1] > units:
                rest = _RawBox(c.base + units * step, c.box[:-1] + (c.box[-1] - units,), c.strides,
                               c.taps, c.starts, c.cols + units * col_step)
                pool[rest.base] = rest
                heapq.heappush(todo, rest.base)
    return out


def _view(out: np.ndarray, rows: int, row_len: int, box: Box) -> np.ndarray:
    """The strided view of ``out`` (``rows`` row channels of ``row_len`` entries) that one box writes."""
    item = out.itemsize
    return np.ndarray((rows,) + box.view_shape, out.dtype, out, box.base * item,
                      (row_len * item,) + tuple(st * item for st in box.view_strides))


def fill_boxes(w2: np.ndarray, plan: BoxPlan):
    """``(data, zeros)``: the CSR data of a box plan for row weights ``w2``, and whether a value is zero.

    ``w2`` holds one row of kernel values per row channel (``weight.reshape(C_out, -1)``);
    summed taps are added in the kernel's own dtype, in the plain path's order.
    """
    c, row_len = w2.shape[0], plan.row_nnz
    data = np.empty(c * row_len, dtype=w2.dtype)
    zeros = False
    for box in plan.boxes:
        values = np.take(w2, box.line_taps, axis=1)
        if box.line_starts is not None:
            values = np.add.reduceat(values, box.line_starts, axis=1, dtype=w2.dtype)
        zeros = zeros or not values.all()
        view = _view(data, c, row_len, box)
        view[...] = values.reshape((c,) + (1,) * (len(box.view_shape) - 1) + (values.shape[1],))
    return data, zeros


def box_indices(plan: BoxPlan, offsets: np.ndarray, dtype) -> np.ndarray:
    """The CSR column indices of a box plan, ``offsets[c]`` added to row channel ``c``'s columns.

    Everything is added in the indices' own dtype (no cast on the way out).
    """
    c, row_len = offsets.size, plan.row_nnz
    out = np.empty(c * row_len, dtype=dtype)
    shifted = offsets.astype(dtype)[:, None]
    grouped = bool(offsets.any())
    for box in plan.boxes:
        view = _view(out, c, row_len, box)
        cols = box.line_cols.astype(dtype)
        line = shifted + cols[None, :] if grouped else cols[None, :]
        if box.pos is None:
            view[...] = line
        else:
            ones = (1,) * (len(box.view_shape) - 1)
            np.add(line.reshape((line.shape[0],) + ones + (line.shape[1],)),
                   box.pos.astype(dtype).reshape((1,) + box.pos.shape + (1,)), out=view)
    return out


# --------------------------------------------------------------------------- block copies (transposed map)
def row_pattern_runs(sp_indptr, sp_cols, sp_taps, cg: int, q: int, kk: int):
    """The row pattern of a spatial pattern without summed taps, by block copies.

    Returns ``(row_indptr, row_cols, row_taps, None)`` as
    :func:`convmatrix.structure.row_pattern` does.
    """
    lengths = np.diff(sp_indptr)
    nnz_s = sp_cols.size
    small = index_dtype(cg * q, cg * kk, cg * max(nnz_s, sp_taps.size))
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


def transposed_spatial(sp_rows, sp_cols, sp_taps, q: int):
    """The spatial pattern of ``A.T``: the same triples sorted by input position.

    Returns ``(indptr, rows, cols, taps)`` with ``q`` rows (input positions).
    """
    order = np.lexsort((sp_taps, sp_rows, sp_cols))
    t_rows, t_cols, t_taps = sp_cols[order], sp_rows[order], sp_taps[order]
    t_indptr = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_rows, minlength=q), out=t_indptr[1:])
    return t_indptr, t_rows, t_cols, t_taps
