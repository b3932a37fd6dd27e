"""The peers conv_matrix is measured against: direct vectorised numpy constructions of the same CSR matrix.

No tap map, no cache, no validation: the arithmetic of a zero-padded
convolution written straight into CSR order, as one would write it by hand.
Along each axis the input read by output ``o`` and tap ``t`` is
``o * s - lo + t * d``, increasing in ``t``; so on a dense grid of (output
position, input channel, tap) slots, C order *is* CSR order, and one mask of
the slots that land inside the image gives the matrix.

* :func:`masked_csr` applies that mask to the full (output channel, output
  position, input channel, tap) grid: values and columns both by one boolean
  selection;
* :func:`gathered_csr` applies it to one output channel's grid, then gathers
  every channel's values through the kept taps (``np.take``) and shifts the
  columns by each group's offset.

Both give ``scipy.sparse.csr_array`` in canonical form (equal to
``conv_matrix`` for kernels without zero entries: they store zeros).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _grid(weight_shape, input_size, stride, padding, dilation):
    """Per (output position, tap): the flat input index and whether it lies inside the image."""
    k = weight_shape[2:]
    nd = len(k)
    cols, valid, out = 0, True, []
    for a in range(nd):
        n, kk, s, (lo, hi), d = input_size[a], k[a], stride[a], padding[a], dilation[a]
        o = (n + lo + hi - d * (kk - 1) - 1) // s + 1
        i = (np.arange(o) * s - lo)[:, None] + np.arange(kk) * d  # (o, k) input index
        shape = [1] * (2 * nd)
        shape[a], shape[nd + a] = o, kk
        cols = cols * n + i.reshape(shape)
        valid = valid & ((i >= 0) & (i < n)).reshape(shape)
        out.append(o)
    P, K = int(np.prod(out)), int(np.prod(k))
    return cols.reshape(P, K), np.broadcast_to(valid, cols.shape).reshape(P, K), P, K


def masked_csr(weight, input_size, stride, padding, dilation, groups=1):
    """The convolution's CSR matrix by one boolean mask over the full grid."""
    c_out, cg = weight.shape[:2]
    cols, valid, P, K = _grid(weight.shape, input_size, stride, padding, dilation)
    Q = int(np.prod(input_size))
    mask = np.broadcast_to(valid[:, None, :], (P, cg, K))
    data = np.broadcast_to(weight.reshape(c_out, 1, cg, K), (c_out, P, cg, K))[:, mask].reshape(-1)
    group = (np.arange(c_out) // (c_out // groups)) * (cg * Q)
    row_cols = (cols[:, None, :] + np.arange(cg)[:, None] * Q)[mask]
    indices = (row_cols[None, :] + group[:, None]).astype(np.int32).reshape(-1)
    counts = np.tile(valid.sum(axis=1) * cg, c_out)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    return sp.csr_array((data, indices, indptr), shape=(c_out * P, cg * groups * Q))


def gathered_csr(weight, input_size, stride, padding, dilation, groups=1):
    """The convolution's CSR matrix by one mask over one output channel's grid and a gather."""
    c_out, cg = weight.shape[:2]
    cols, valid, P, K = _grid(weight.shape, input_size, stride, padding, dilation)
    Q = int(np.prod(input_size))
    mask = np.broadcast_to(valid[:, None, :], (P, cg, K))
    row_cols = (cols[:, None, :] + np.arange(cg)[:, None] * Q)[mask].astype(np.int32)
    row_taps = np.broadcast_to(np.arange(cg * K).reshape(1, cg, K), (P, cg, K))[mask]
    data = np.take(weight.reshape(c_out, cg * K), row_taps, axis=1).reshape(-1)
    group = ((np.arange(c_out) // (c_out // groups)) * (cg * Q)).astype(np.int32)
    indices = (row_cols[None, :] + group[:, None]).reshape(-1)
    row_indptr = np.concatenate(([0], np.cumsum(valid.sum(axis=1) * cg)))
    indptr = (row_indptr[None, :-1] + np.arange(c_out)[:, None] * row_cols.size).reshape(-1)
    indptr = np.append(indptr, c_out * row_cols.size).astype(np.int32)
    return sp.csr_array((data, indices, indptr), shape=(c_out * P, cg * groups * Q))


PEERS = {"numpy masked": masked_csr, "numpy gather": gathered_csr}
