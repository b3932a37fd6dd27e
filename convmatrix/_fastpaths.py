"""Fast paths of the structure layer: the same arrays as :mod:`convmatrix.structure`'s plain path, sooner.

Each function here computes something the plain path also computes, and the
tests prove them equal on random geometries (``tests/test_fastpaths.py``):

* :func:`row_pattern_runs` — the row pattern without a scatter: consecutive
  output positions with the same number of entries are one contiguous block
  of the spatial pattern and of the row pattern, copied as slices;
* :func:`lattices` and :func:`fill_lattices` — output positions whose taps are
  the same (the interior, each stretch of border) form boxes on regular
  lattices of the row pattern; each box is written as one broadcast of its
  taps' values instead of a gather entry by entry;
* :func:`transposed_spatial` — the transpose's spatial pattern, by sorting the
  spatial triples by input position (instead of the full matrix's entries).
"""

from __future__ import annotations

import itertools

import numpy as np

from ._limits import index_dtype

__all__ = ["MAX_LATTICES", "MAX_ROW_RUNS", "row_pattern_runs", "lattices", "fill_lattices", "transposed_spatial"]

#: At most this many boxes of equal taps are written as broadcasts; beyond, a plain gather.
MAX_LATTICES = 512
#: At most this many runs of equal-length rows are copied as slices; beyond, rows are grouped by length.
MAX_ROW_RUNS = 4096


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


def lattices(output_size, axis_triples, row_indptr: np.ndarray, row_taps: np.ndarray):
    """Boxes of output positions with equal tap sequences, as lattices of the row pattern.

    ``axis_triples`` holds each axis's ``(output, input, tap)`` triples.  Along
    each axis, consecutive output indices whose taps (in input order) are the same
    form a run; the boxes are the products of runs.  A box's positions all hold
    the same run of taps, at offsets ``base + sum_a j_a * strides[a]`` of the row
    pattern.  Returns ``(base, box, strides, taps)`` per box, or ``None`` when
    there are more than :data:`MAX_LATTICES`.
    """
    runs = []
    total = 1
    for (oo, ii, tt), o in zip(axis_triples, output_size):
        k = int(np.bincount(oo, minlength=o).max(initial=0)) if oo.size else 0
        order = np.lexsort((tt, ii, oo))
        seq = np.full((o, max(k, 1)), -1, dtype=np.int64)  # taps of each output index, in input order
        rank = np.arange(oo.size) - np.searchsorted(oo[order], oo[order])
        seq[oo[order], rank] = tt[order]
        change = np.ones(o, dtype=bool)
        change[1:] = np.any(seq[1:] != seq[:-1], axis=1)
        starts = np.flatnonzero(change)
        runs.append(list(zip(starts.tolist(), np.append(starts[1:], o).tolist())))
        total *= len(starts)
        if total > MAX_LATTICES:
            return None
    boxes = []
    for box_runs in itertools.product(*runs):
        first = tuple(a for a, _ in box_runs)
        box = tuple(b - a for a, b in box_runs)
        p0 = int(np.ravel_multi_index(first, output_size))
        base = int(row_indptr[p0])
        block = int(row_indptr[p0 + 1]) - base
        strides = []
        for axis in range(len(box)):
            if box[axis] > 1:
                nxt = list(first)
                nxt[axis] += 1
                strides.append(int(row_indptr[np.ravel_multi_index(tuple(nxt), output_size)]) - base)
            else:
                strides.append(block)
        boxes.append((base, box, tuple(strides), row_taps[base:base + block].copy()))
    return tuple(boxes)


def fill_lattices(w2: np.ndarray, size: int, boxes) -> np.ndarray:
    """The data array of a tap map filled box by box: one broadcast of each box's tap values.

    ``w2`` holds one row of kernel values per row channel; ``size`` is the row
    pattern's length.  Equal to ``np.take(w2, row_taps, axis=1).reshape(-1)``.
    """
    c = w2.shape[0]
    data = np.empty((c, size), dtype=w2.dtype)
    item = data.itemsize
    for base, box, strides, taps in boxes:
        view = np.lib.stride_tricks.as_strided(
            data[:, base:], shape=(c, *box, taps.size),
            strides=(size * item, *(st * item for st in strides), item), writeable=True,
        )
        view[...] = np.take(w2, taps, axis=1).reshape((c,) + (1,) * len(box) + (taps.size,))
    return data.reshape(-1)


def transposed_spatial(sp_rows, sp_cols, sp_taps, q: int):
    """The spatial pattern of ``A.T``: the same triples sorted by input position.

    Returns ``(indptr, rows, cols, taps)`` with ``q`` rows (input positions).
    """
    order = np.lexsort((sp_taps, sp_rows, sp_cols))
    t_rows, t_cols, t_taps = sp_cols[order], sp_rows[order], sp_taps[order]
    t_indptr = np.zeros(q + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_rows, minlength=q), out=t_indptr[1:])
    return t_indptr, t_rows, t_cols, t_taps
