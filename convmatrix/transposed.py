"""Layer 5 — a transposed convolution as a direct convolution, exactly.

Dumoulin & Visin (*A guide to convolution arithmetic for deep learning*, 2016,
chapter 4) describe every transposed convolution as an ordinary, unit-stride
convolution of a *stretched* input: ``s - 1`` zeros inserted between
neighbours (fractional striding), zero padding ``p' = k - p - 1`` on each side
plus ``a`` extra zeros on the high side, and the kernel flipped.  With
channels, the kernel's two channel axes also swap within each group.  As
matrices::

    conv_transpose_matrix(w, i', ...) == C @ P @ Z
        Z = zero_insertion_matrix(i', s)                 stretched size  ĩ' = s (i' - 1) + 1
        P = pad_matrix(ĩ', ((p'_lo, p'_hi + a), ...))    crops where a width is negative
        C = conv_matrix(w', ĩ' + p'_lo + p'_hi + a, dilation=d)   stride 1, no padding

for every configuration PyTorch accepts, with ``w'`` the flipped, per-group
channel-swapped kernel and ``p'_lo = d (k - 1) - p_lo``, ``p'_hi = d (k - 1) -
p_hi``.  :func:`transposed_conv_as_direct` builds the chain,
:func:`verify_transpose_equivalence` checks it against
:func:`~convmatrix.conv_transpose_matrix`, :func:`~convmatrix.transpose_arithmetic`
states it in the paper's terms, and :func:`overlap_counts` reads the
checkerboard pattern of Odena, Dumoulin & Olah (Distill, 2016) off the matrix.

The product ``C P Z`` is computed from the tap map of ``C`` read through the
selection ``P Z``: along each axis, input position ``i`` of the transposed
convolution sits at position ``j = i s + p'_lo`` of C's padded input, so C's
``(output, j, tap)`` triples become ``(output, i, tap)`` triples where ``j`` is
such a position, and the product of the axes is the spatial pattern of
``C P Z``, exactly as :mod:`convmatrix.structure` makes every other pattern.

**Every padding mode.**  PyTorch's ``ConvTransposeNd`` takes only zero
padding; :func:`~convmatrix.conv_transpose_matrix` takes the others as the
literal transpose of the padded convolution.  That convolution is a valid
(unpadded) convolution ``C_0`` of the padded input, ``A_m = C_0 P_m`` with
``P_m = pad_matrix(o', p, mode=m)``, so its transpose is
``A_mᵀ = P_mᵀ C_0ᵀ``, and ``C_0ᵀ`` is the transposed convolution with
``padding=0`` (same stride, dilation and ``output_padding``), which the
zero-padding identity above writes as ``C P Z`` with ``p'_lo = d (k - 1)``,
``p'_hi = d (k - 1) + a``::

    conv_transpose_matrix(w, i', ..., padding=p, padding_mode=m) == F @ C @ P @ Z
        C @ P @ Z   the transposed convolution with padding 0:  i' -> n_p = o' + p_lo + p_hi
        F = pad_matrix(o', p, mode=m).T                          n_p -> o'   (the fold)

Along one axis, position ``u`` (``0 <= u < n_p``) of the unpadded output is
padded position ``u`` of the convolution being transposed, which copies pixel
``π_m(u - p_lo)`` (reflect: mirrored at ``0`` and ``o' - 1``; replicate: the
nearest end; circular: ``mod o'``), so ``F[j, u] = 1`` exactly when
``π_m(u - p_lo) = j``: the border of the unpadded output *folds* back onto the
pixels it copied, adding there (zeros mode: the border is dropped, a crop that
the zero-padding chain absorbs into ``P``).  The N-d fold is the product of the
axes'.  :func:`transposed_conv_as_direct` and
:func:`verify_transpose_equivalence` take ``padding_mode=`` and check this
exactly with integer kernels.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from math import prod
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._fastpaths import row_pattern_runs
from ._limits import (
    MatrixTooLargeError,
    as_max_bytes,
    guard,
    guard_bytes,
    index_dtype,
    limit_bytes,
    matrix_bytes,
    threads,
)
from ._sparse import canonical, csr_arrays, nnz_of, shifted_cols, structural_product, sympy_csr, tiled_indptr
from ._validation import as_bool, as_numbers, loaded_sympy, ndim_of
from .geometry import (
    ConvGeometry,
    ConvTransposeGeometry,
    IntOrTuple,
    Padding,
    TransposeArithmetic,
    normalize_tuple,
    transpose_arithmetic,
)
from .matrices import conv_matrix, conv_transpose_matrix
from .resample import pad_matrix, zero_insertion_matrix
from .structure import axis_index_map, axis_triples, pattern_nnz, product_pattern, tap_counts

__all__ = [
    "TransposeArithmetic",
    "transpose_arithmetic",
    "TransposedConvAsDirect",
    "transposed_conv_as_direct",
    "TransposeEquivalenceReport",
    "verify_transpose_equivalence",
    "overlap_counts",
    "has_uneven_overlap",
    "LITERAL_CHAIN_LIMIT",
    "SYMBOLIC_LITERAL_CHAIN_LIMIT",
]

#: The literal product ``C @ P @ Z`` is also formed and compared by
#: :func:`verify_transpose_equivalence` when ``C`` has at most this many stored
#: entries (and ``literal=None``).
LITERAL_CHAIN_LIMIT = 2_000_000
#: The same limit for a SymPy kernel (SymPy multiplies entry by entry).
SYMBOLIC_LITERAL_CHAIN_LIMIT = 2_000


def _pairs(pairs) -> str:
    return repr(tuple((int(lo), int(hi)) for lo, hi in pairs))


# =========================================================================== the chain
def _direct_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """Transposed layout ``(C_in, C_out/g, *k)`` -> flipped conv layout ``(C_out, C_in/g, *k)``."""
    c_in, c_out_g, *k = w.shape
    v = w.reshape(groups, c_in // groups, c_out_g, *k).swapaxes(1, 2).reshape(groups * c_out_g, c_in // groups, *k)
    return v[(slice(None), slice(None)) + (slice(None, None, -1),) * len(k)].copy()


@dataclass(frozen=True, eq=False)
class TransposedConvAsDirect(Displayable):
    """A transposed convolution as zero insertion, padding and a stride-1 convolution.

    Made by :func:`transposed_conv_as_direct`.  The matrices are built when first
    asked for and then kept.

    Attributes
    ----------
    weight : ndarray, shape (C_out, C_in/groups, *k)
        The direct convolution's kernel: the transposed weight ``(C_in, C_out/groups,
        *k)`` with its channel axes swapped within each group and flipped along
        every spatial axis, ``weight[g*Cog + o, c, t] == w[g*Cig + c, o, k-1-t]``.
    transposed_weight : ndarray
        The transposed convolution's weight, as given.
    arithmetic : TransposeArithmetic
        The sizes and parameters, in Dumoulin & Visin's terms.
    groups, in_channels, out_channels : int
    Z : sparse array
        The zero insertion, ``(C_in * prod(ĩ'), C_in * prod(i'))``, integer 0/1.
    P : sparse array
        The padding, ``(C_in * prod(padded_size), C_in * prod(ĩ'))``, integer 0/1
        (pads, and crops where ``d (k - 1) - p`` is negative).
    C : sparse array
        The stride-1 convolution matrix of :attr:`weight` over ``padded_size``
        with dilation ``d`` and ``groups``.  It has about ``prod(s)`` times as
        many entries as the transposed convolution: build it for small layers
        only (:attr:`conv_nnz` tells its size without building it).
    direct_matrix : csr_array
        ``C @ P @ Z``, ``(C_out * prod(direct_output_size), C_in * prod(i'))``,
        computed without building ``C`` (see Notes).
    padding_mode : str
        ``"zeros"``, or the padding mode of the convolution this layer
        transposes (``reflect``, ``replicate``, ``circular``); then :attr:`arithmetic`
        is that of the unpadded transposed convolution (``p = 0``) and :attr:`F`
        folds its border back.
    border : tuple of (int, int) or None
        The layer's padding ``(lo, hi)`` per axis that :attr:`F` folds back
        (``None`` in zeros mode, where ``P`` absorbs it).
    F : csr_array
        The fold ``pad_matrix(o', border, mode=padding_mode).T``,
        ``(C_out * prod(o'), C_out * prod(direct_output_size))``, integer 0/1; the
        identity in zeros mode.
    matrix : csr_array
        ``F @ C @ P @ Z``, ``(C_out * prod(o'), C_in * prod(i'))``: the
        transposed convolution's matrix (``C @ P @ Z`` itself in zeros mode).
    max_bytes : int or None
        Every matrix above is refused with :class:`~convmatrix.MatrixTooLargeError`
        beyond this many bytes (``None``: ``CONVMATRIX_MAX_BYTES``, else
        :data:`~convmatrix.DEFAULT_MAX_BYTES`), before it is built.

    Examples
    --------
    >>> import numpy as np
    >>> d = transposed_conv_as_direct(np.ones((1, 1, 3)), 4, stride=2)
    >>> d.shape, d.stretched_size, d.pad_widths
    ((9, 4), (7,), ((2, 2),))
    >>> r = transposed_conv_as_direct(np.ones((1, 1, 3)), 4, stride=2, padding=1, padding_mode="reflect")
    >>> r.direct_shape, r.shape, r.border
    ((9, 4), (7, 4), ((1, 1),))

    Notes
    -----
    :attr:`matrix` is computed without building :attr:`C`: ``P Z`` is a
    selection (column ``i`` of it holds one 1, at C's input position
    ``j(i) = i s + p'_lo`` when that lies inside the padded input), so
    ``(C P Z)[r, i] = C[r, j(i)]``.  Along each axis C's tap-map triples
    ``(output, j, tap)`` are kept where ``j = j(i)`` and renamed ``(output, i,
    tap)``; their product over the axes is the spatial pattern of ``C P Z``, and
    the row pattern and the filling with :attr:`weight` are the structure
    layer's, as for any convolution.  The tests check
    ``matrix == C @ P @ Z`` literally.

    In the other padding modes ``matrix = F @ (C P Z)``: ``F`` has one 1 per
    column, so its product adds rows of ``C P Z`` (the border rows onto the
    pixels they copied), and ``F C P Z`` has at most the entries of ``C P Z``.
    """

    weight: np.ndarray
    transposed_weight: np.ndarray
    arithmetic: TransposeArithmetic
    groups: int
    max_bytes: int | None = None
    padding_mode: str = "zeros"
    border: tuple[tuple[int, int], ...] | None = None

    @property
    def in_channels(self) -> int:
        """Channels of the transposed convolution's input (``Z`` and ``P`` are block diagonal over them)."""
        return self.transposed_weight.shape[0]

    @property
    def out_channels(self) -> int:
        """Channels of the output."""
        return self.weight.shape[0]

    @property
    def input_size(self) -> tuple[int, ...]:
        """``i'``."""
        return self.arithmetic.i_prime

    @property
    def output_size(self) -> tuple[int, ...]:
        """``o'``, the layer's output size."""
        if self.border is None:
            return self.arithmetic.o_prime
        return tuple(n - lo - hi for n, (lo, hi) in zip(self.arithmetic.o_prime, self.border))

    @property
    def direct_output_size(self) -> tuple[int, ...]:
        """Output size of ``C P Z``: ``o'`` in zeros mode, ``o' + p_lo + p_hi`` before the fold otherwise."""
        return self.arithmetic.o_prime

    @property
    def stretched_size(self) -> tuple[int, ...]:
        """``ĩ' = s (i' - 1) + 1``."""
        return self.arithmetic.i_tilde_prime

    @property
    def padded_size(self) -> tuple[int, ...]:
        """The direct convolution's input size."""
        return self.arithmetic.padded_size

    @property
    def pad_widths(self) -> tuple[tuple[int, int], ...]:
        """Per-axis ``(lo, hi)`` of :attr:`P` (negative = crop)."""
        return self.arithmetic.pad_widths

    @property
    def stride(self) -> tuple[int, ...]:
        """``s``, which becomes the zero insertion."""
        return self.arithmetic.s

    @property
    def dilation(self) -> tuple[int, ...]:
        """``d``, kept by the direct convolution."""
        return self.arithmetic.d

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of :attr:`matrix`."""
        return (self.out_channels * prod(self.output_size), self.in_channels * prod(self.input_size))

    @property
    def direct_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of :attr:`direct_matrix`, ``C @ P @ Z``."""
        return (self.out_channels * prod(self.direct_output_size), self.in_channels * prod(self.input_size))

    @property
    def symbolic(self) -> bool:
        """Whether the kernel is SymPy expressions (then :attr:`C` and :attr:`matrix` are SymPy matrices)."""
        return self.weight.dtype == object

    @cached_property
    def conv_geometry(self) -> ConvGeometry:
        """The direct convolution: stride 1, no padding, dilation ``d``, over ``padded_size``."""
        return ConvGeometry.from_weight_shape(
            self.weight.shape, self.padded_size, dilation=self.dilation, groups=self.groups
        )

    @property
    def conv_nnz(self) -> int:
        """Stored entries of :attr:`C`, counted from its geometry and the kernel's zeros (nothing is built)."""
        g = self.conv_geometry
        if self.symbolic:
            return pattern_nnz(g)
        counts = tap_counts(g)
        nonzero = (self.weight != 0).reshape(g.out_channels, g.in_channels_per_group, *g.kernel_size)
        return int((nonzero * counts).sum()) * (g.in_channels // g.in_channels_per_group) // g.groups

    @property
    def nnz(self) -> int:
        """Stored entries of :attr:`direct_matrix` for a kernel without zero entries (nothing is built);
        an upper bound of :attr:`matrix`'s in the folding modes."""
        return self.out_channels * int(self.pattern[1].size)

    # -- the factors
    @cached_property
    def Z(self) -> sp.csr_array:
        """The zero insertion ``Z``: ``s - 1`` zeros between neighbours."""
        return zero_insertion_matrix(self.input_size, self.stride, channels=self.in_channels,
                                     max_bytes=self.max_bytes)

    @cached_property
    def P(self) -> sp.csr_array:
        """The padding ``P`` (crops where a width is negative)."""
        return pad_matrix(self.stretched_size, self.pad_widths, channels=self.in_channels, max_bytes=self.max_bytes)

    @cached_property
    def F(self) -> sp.csr_array:
        """The fold ``F = pad_matrix(o', border, mode).T`` (the identity in zeros mode)."""
        if self.border is None:
            n = self.shape[0]
            guard((n, n), n, 8, "csr", self.max_bytes, what="fold F")
            return sp.csr_array(sp.identity(n, dtype=np.int64, format="csr"))
        pm = pad_matrix(self.output_size, self.border, mode=self.padding_mode, channels=self.out_channels,
                        max_bytes=self.max_bytes)
        return canonical(sp.csr_array(pm.T))

    @cached_property
    def C(self):
        """The stride-1 convolution ``C`` of the flipped, channel-swapped kernel (built when first asked for)."""
        return conv_matrix(self.weight, self.padded_size, dilation=self.dilation, groups=self.groups,
                           max_bytes=self.max_bytes)

    # -- the product, from C's tap map read through P Z
    def _selected_triples(self):
        """Per axis, C's ``(output, j, tap)`` triples kept where ``j`` is a selected position, as ``(output, i, tap)``."""
        g = self.conv_geometry
        out = []
        for n, k, d, o, i_prime, s, (lo, _) in zip(g.input_size, g.kernel_size, g.dilation, g.output_size,
                                                    self.input_size, self.stride, self.pad_widths):
            oo, jj, tt = axis_triples(n, k, 1, 0, d, o, "zeros")
            rel = jj - lo  # position in the stretched input
            keep = (rel >= 0) & (rel % s == 0) & (rel // s < i_prime)
            out.append((oo[keep], rel[keep] // s, tt[keep]))
        return out

    @cached_property
    def pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One output channel's row pattern of :attr:`direct_matrix`: ``(row_indptr, row_cols, row_taps)``."""
        g = self.conv_geometry
        sp_indptr, sp_rows, sp_cols, sp_taps, _ = product_pattern(
            self._selected_triples(), g.output_size, self.input_size, g.kernel_size)
        row_indptr, row_cols, row_taps, _ = row_pattern_runs(
            sp_indptr, sp_cols, sp_taps, self.in_channels // self.groups, prod(self.input_size), prod(g.kernel_size))
        return row_indptr, row_cols, row_taps

    def _fold_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(j, u)`` for every position ``u`` of ``C P Z``'s output and the pixel ``j`` it folds onto, sorted.

        ``F[j, u] = 1`` exactly when ``π_m(u - p_lo) = j`` on every axis (see the module notes).
        """
        js = us = np.zeros(1, dtype=np.int64)
        for o, (lo, _), n in zip(self.output_size, self.border, self.direct_output_size):
            u = np.arange(n, dtype=np.int64)
            j = axis_index_map(u - lo, o, self.padding_mode)
            js = (js[:, None] * o + j[None, :]).reshape(-1)
            us = (us[:, None] * n + u[None, :]).reshape(-1)
        order = np.lexsort((us, js))
        return js[order], us[order]

    @cached_property
    def folded_pattern(self):
        """One output channel's row pattern of :attr:`matrix`: ``(row_indptr, row_cols, row_taps, row_starts)``.

        :attr:`pattern` with its rows folded by ``F``: the rows ``u`` that fold onto
        pixel ``j`` are put together, and entries of one column summed — a run of
        taps starting at ``row_starts`` (``None`` when nothing sums, as in zeros
        mode).  A run lists its taps by descending index of the flipped kernel, that
        is ascending in the transposed weight, the order in which
        :func:`~convmatrix.conv_transpose_matrix` sums them.
        """
        d_indptr, d_cols, d_taps = self.pattern
        if self.border is None:
            return d_indptr, d_cols, d_taps, None
        js, us = self._fold_pairs()
        lens = np.diff(d_indptr)[us]
        first = np.zeros(lens.size + 1, dtype=np.int64)
        np.cumsum(lens, out=first[1:])
        idx = np.repeat(d_indptr[:-1][us] - first[:-1], lens) + np.arange(int(first[-1]))
        rows, cols, taps = np.repeat(js, lens), d_cols[idx], d_taps[idx]
        n_rows = prod(self.output_size)
        multi = np.flatnonzero(np.bincount(js, minlength=n_rows)[rows] > 1)  # entries of rows with several sources
        if multi.size:  # those rows are whole blocks: sort each by column, the taps of a column as summed
            order = multi[np.lexsort((-taps[multi], cols[multi], rows[multi]))]
            rows[multi], cols[multi], taps[multi] = rows[order], cols[order], taps[order]
        new_entry = np.ones(rows.size, dtype=bool)
        new_entry[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        starts = None if new_entry.all() else np.flatnonzero(new_entry)
        entry_rows, entry_cols = (rows, cols) if starts is None else (rows[starts], cols[starts])
        row_indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(entry_rows, minlength=n_rows), out=row_indptr[1:])
        return row_indptr, entry_cols, taps, starts

    @cached_property
    def _runs(self) -> list:
        """The folded pattern's repeats, ``(start, width, count, step)`` each (see :func:`periodic_runs`)."""
        row_indptr, row_cols, row_taps, row_starts = self.folded_pattern
        runs, leftover = periodic_runs(row_indptr, row_taps, self.stride[-1], row_starts)
        return ([(a, w, (b - a) // w, w) for a, b, w in runs]
                + strided_runs(leftover, row_taps, row_starts, row_cols.size))

    def _guard_matrix(self) -> None:
        """Refuse, before any factor or pattern is built, a ``C P Z`` over the limit (Python integers)."""
        tg = ConvTransposeGeometry.from_weight_shape(
            self.transposed_weight.shape, self.input_size, stride=self.stride, padding=self.arithmetic.p,
            output_padding=self.arithmetic.a, groups=self.groups, dilation=self.dilation)
        nnz = pattern_nnz(tg.conv)  # C P Z has the entries of the unfolded transposed convolution's matrix
        guard(self.direct_shape, nnz, 8 if self.symbolic else self.weight.dtype.itemsize,
              "sympy" if self.symbolic else "csr", self.max_bytes, what="matrix C @ P @ Z")

    @cached_property
    def direct_matrix(self):
        """``C @ P @ Z``, from C's tap map read through the selection ``P Z`` (``C`` is not built)."""
        self._guard_matrix()
        return _lift(self.pattern, self.weight, self.groups, self.in_channels, prod(self.input_size))

    @cached_property
    def matrix(self):
        """The transposed convolution's matrix: ``F @ C @ P @ Z`` (``C @ P @ Z`` in zeros mode), from
        :attr:`folded_pattern` (neither ``C`` nor ``F`` is built)."""
        if self.border is None:
            return self.direct_matrix
        if self.symbolic:
            return _fold(self.F, self.direct_matrix, self.weight.dtype.itemsize, self.max_bytes)
        self._guard_matrix()  # F C P Z has at most the entries of C P Z
        return _lift(self.folded_pattern, self.weight, self.groups, self.in_channels, prod(self.input_size))

    def literal_matrix(self):
        """``C @ P @ Z``, multiplied as written (small layers).

        :attr:`C` has about ``prod(stride)`` times the entries of :attr:`matrix`;
        it and the product are refused beyond :attr:`max_bytes` like every
        matrix.  With a symbolic kernel the product is SymPy's (``P Z`` is a 0/1
        selection).
        """
        pz = structural_product([self.P, self.Z], 8, self.max_bytes, what="product P @ Z")
        if self.symbolic:
            cpz = self.C * _sympy_selection(pz)
            return sympy_matrix(cpz if self.border is None else _sympy_selection(self.F) * cpz)
        factors = [self.C, pz] if self.border is None else [self.F, self.C, pz]
        return structural_product(factors, self.weight.dtype.itemsize, self.max_bytes,
                                  what="product C @ P @ Z" if self.border is None else "product F @ C @ P @ Z")


def sympy_matrix(m):
    """An immutable SymPy sparse matrix of ``m``."""
    import sympy

    return sympy.ImmutableSparseMatrix(m)


def _sympy_selection(a: sp.csr_array):
    """A 0/1 scipy matrix as a SymPy sparse matrix of integers."""
    import sympy

    a = canonical(a)
    ones = np.array([sympy.Integer(int(v)) for v in a.data], dtype=object)
    return sympy_csr(a.shape, ones, a.indices, a.indptr)


def _fold(f: sp.csr_array, m, itemsize: int, max_bytes):
    """``F @ m`` for the fold ``F`` (one 1 per column: at most ``m``'s entries), guarded first."""
    if not sp.issparse(m):  # a SymPy matrix
        return sympy_matrix(_sympy_selection(f) * m)
    guard((f.shape[0], m.shape[1]), m.nnz, itemsize, "csr", max_bytes, what="matrix F @ C @ P @ Z")
    out = canonical(sp.csr_array(f @ m))
    return out


def _lift(pattern, weight: np.ndarray, groups: int, in_channels: int, q: int):
    """Repeat one output channel's row pattern over the output channels and fill it with ``weight``.

    ``pattern`` is ``(row_indptr, row_cols, row_taps)``, or with ``row_starts`` of
    runs of taps to sum (in the kernel's dtype, in the order listed).
    """
    row_indptr, row_cols, row_taps = pattern[:3]
    row_starts = pattern[3] if len(pattern) > 3 else None
    c_out = weight.shape[0]
    cg = in_channels // groups
    cog = c_out // groups
    n_pos = row_indptr.size - 1
    rows, cols = c_out * n_pos, in_channels * q
    nnz = c_out * row_cols.size
    dt = index_dtype(nnz, rows, cols)
    indices = shifted_cols(row_cols, (np.arange(c_out) // cog) * (cg * q), dt)
    data = np.take(weight.reshape(c_out, -1), row_taps, axis=1)
    if row_starts is not None:
        data = np.add.reduceat(data, row_starts, axis=1, dtype=None if data.dtype == object else data.dtype)
    data = data.reshape(-1)
    indptr = tiled_indptr(np.diff(row_indptr), c_out, dt)
    if data.dtype == object:
        return sympy_csr((rows, cols), data, indices.reshape(-1), indptr)
    m = csr_arrays((rows, cols), data, indices.reshape(-1), indptr)
    if row_starts is not None or not np.all(weight):
        m.eliminate_zeros()  # as conv_transpose_matrix: no stored zeros (summed taps may cancel)
    return m


#: Verification compares ``T`` with the chain in pieces of at most this many entries (cache-sized temporaries).
COMPARE_CHUNK = 1 << 18
#: Beyond this many periodic runs and leftover ranges, the chain's data is gathered entry by entry instead.
MAX_COMPARE_RUNS = 1 << 14


def periodic_runs(indptr: np.ndarray, taps: np.ndarray, period: int, starts: np.ndarray | None = None):
    """Stretches of a row pattern whose taps repeat every ``period`` positions, and what is left.

    ``indptr`` (positions + 1) and ``taps`` are one row channel's pattern, with
    ``starts`` of each entry's run of taps where taps sum (``None``: one tap an
    entry).  A run ``(start, stop, width)`` covers the entries ``start:stop`` of
    ``period * m`` consecutive positions (``m >= 2`` units), whose taps (and runs)
    are those of the first ``width`` entries repeated ``m`` times; the other
    entries form the ``leftover`` ranges ``(start, stop)``.  Candidates are found
    by the positions' lengths, tap counts and first and last taps, and each run
    is then checked exactly against ``taps`` (one that fails is left over), so
    the runs are facts about the pattern, not assumptions.  Returns ``(runs,
    leftover)``.

    Examples
    --------
    >>> indptr = np.array([0, 2, 5, 8, 11, 13])
    >>> taps = np.array([1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1])
    >>> periodic_runs(indptr, taps, 1)
    ([(2, 11, 3)], [(0, 2), (11, 13)])
    """
    n_pos, r = indptr.size - 1, int(indptr[-1])
    if n_pos <= period or r == 0:
        return [], [(0, r)] if r else []
    at = _tap_offsets(starts, r, taps.size)
    p0, p1 = (indptr[:-1], indptr[1:]) if starts is None else (at[indptr[:-1]], at[indptr[1:]])  # positions' taps
    lengths, counts = np.diff(indptr), p1 - p0
    first = np.where(counts > 0, taps[np.minimum(p0, taps.size - 1)], -1)
    last = np.where(counts > 0, taps[np.maximum(p1 - 1, 0)], -1)
    q = period
    same = ((lengths[:-q] == lengths[q:]) & (counts[:-q] == counts[q:]) & (first[:-q] == first[q:])
            & (last[:-q] == last[q:]) & (lengths[:-q] > 0))
    edges = np.diff(np.concatenate(([0], same.view(np.int8), [0])))
    runs, covered = [], []
    for a, b in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()):
        m = (b - a + q) // q  # positions a .. b + q - 1 repeat: m whole units of q positions
        if m < 2:
            continue
        start, stop, width = int(indptr[a]), int(indptr[a + m * q]), int(indptr[a + q] - indptr[a])
        t0, t1, tw = int(at[start]), int(at[stop]), int(at[start + width] - at[start])
        if (np.array_equal(taps[t0 + tw:t1], taps[t0:t1 - tw])
                and (starts is None or np.array_equal(np.diff(at[start + width:stop + 1]),
                                                      np.diff(at[start:stop - width + 1])))):
            runs.append((start, stop, width))
            covered.append((start, stop))
    leftover, last = [], 0
    for start, stop in covered:
        if start > last:
            leftover.append((last, start))
        last = stop
    if last < r:
        leftover.append((last, r))
    return runs, leftover


def strided_runs(ranges, taps: np.ndarray, starts: np.ndarray | None = None, entries: int | None = None):
    """Ranges of entries that repeat at a constant spacing: ``(start, width, count, step)`` each.

    ``ranges`` are ``(start, stop)`` in increasing order (the leftovers of
    :func:`periodic_runs`: the border positions, which repeat from one line of
    the image to the next); consecutive ranges of one width, one spacing and the
    same taps (and runs) are one strided run, checked exactly.  ``entries`` is
    the pattern's length (for ``starts``).

    Examples
    --------
    >>> strided_runs([(0, 2), (5, 7), (10, 12), (13, 14)], np.array([4, 5, 0, 0, 0, 4, 5, 0, 0, 0, 4, 5, 0, 9]))
    [(0, 2, 3, 5), (13, 1, 1, 1)]
    """
    at = _tap_offsets(starts, entries if entries is not None else (taps.size if starts is None else starts.size),
                      taps.size)

    def same(a: int, b: int, width: int) -> bool:  # the taps (and runs) of entries a:a+width and b:b+width
        ta, tb = int(at[a]), int(at[b])
        n = int(at[a + width]) - ta
        return (int(at[b + width]) - tb == n and np.array_equal(taps[ta:ta + n], taps[tb:tb + n])
                and (starts is None or np.array_equal(at[a:a + width + 1] - ta, at[b:b + width + 1] - tb)))

    out = []
    for start, stop in ranges:
        width = stop - start
        if out:
            first, w, count, step = out[-1]
            spacing = start - (first + (count - 1) * step)
            if w == width and (count == 1 or spacing == step) and spacing >= width and same(first, start, width):
                out[-1] = (first, w, count + 1, spacing)
                continue
        out.append((start, width, 1, width))
    return out


class _OneTapEach:
    """Where each entry's taps start when every entry has one tap: entry ``e``'s at ``e`` (no array)."""

    def __getitem__(self, e):
        if isinstance(e, slice):
            return np.arange(e.start, e.stop, dtype=np.int64)
        return e


def _tap_offsets(starts: np.ndarray | None, entries: int, n_taps: int):
    """Where each entry's taps start, with the end appended (entry ``e``'s at ``e`` when every entry has one)."""
    if starts is None:
        return _OneTapEach()
    return np.append(starts, n_taps).astype(np.int64, copy=False)


def _compare_tasks(runs, c_out: int, chunk: int):
    """Pieces of the data comparison, each at most about ``chunk`` entries: ``(c0, c1, start, width, count, step)``.

    ``runs`` are ``(start, width, count, step)``: ``count`` copies of the entries
    ``start:start + width``, ``step`` apart.  A piece is some channels and some of
    the copies, or, for a single copy longer than a piece, a part of it.
    """
    tasks = []
    for start, width, count, step in runs:
        if count == 1:
            cb = max(1, min(c_out, chunk // max(1, width)))
            part = max(1, chunk // cb)
            for c0 in range(0, c_out, cb):
                for j0 in range(start, start + width, part):
                    tasks.append((c0, min(c_out, c0 + cb), j0, min(part, start + width - j0), 1, 1))
            continue
        per = max(1, chunk // max(1, width))  # copies of one channel per piece
        cb = max(1, min(c_out, per // count)) if count <= per else 1
        ub = min(count, max(1, chunk // (cb * width)))
        for c0 in range(0, c_out, cb):
            for u0 in range(0, count, ub):
                tasks.append((c0, min(c_out, c0 + cb), start + u0 * step, width, min(ub, count - u0), step))
    return tasks


def _streamed_equal(d: "TransposedConvAsDirect", t: sp.csr_array, block_bytes: int = 8 << 20) -> bool:
    """Whether ``d.matrix`` would equal the canonical CSR ``t``, without building it.

    The chain's row pattern (one output channel's, from its own tap map, folded
    by ``F`` in the modes other than zeros: :attr:`TransposedConvAsDirect.folded_pattern`)
    is compared with ``t`` in place, piece by piece, stopping at the first
    difference: the row pointer whole; the column indices against the pattern's
    columns shifted to each channel's group; the values where the pattern's taps
    repeat (:func:`periodic_runs`) against one period of kernel values broadcast
    over the repeats, and elsewhere against the kernel values gathered entry by
    entry (summed where taps fold together, in the kernel's dtype, as the
    builder sums them).  Only for numeric kernels without zero entries; ``False``
    also where summed taps cancel (``t`` stores no zeros): the caller then
    compares the built matrix.  The pieces are shared among up to 4 threads (as
    many as the machine has or ``CONVMATRIX_THREADS`` allows; numpy releases the
    GIL in comparisons and gathers).
    """
    row_indptr, row_cols, row_taps, row_starts = d.folded_pattern
    c_out, q = d.out_channels, prod(d.input_size)
    cg, cog = d.in_channels // d.groups, d.out_channels // d.groups
    r = row_cols.size
    if t.shape != d.shape or t.nnz != c_out * r:
        return False
    if not _equal(t.indptr, tiled_indptr(np.diff(row_indptr), c_out, np.int64)):
        return False
    dt = t.indices.dtype
    if r == 0:
        return True
    if dt.kind not in "iu" or np.iinfo(dt).max < d.shape[1]:
        return False
    chunk = max(1, block_bytes // 32)
    runs = d._runs
    if len(runs) > MAX_COMPARE_RUNS:
        runs = [(0, r, 1, r)]
    tasks = [("data",) + task for task in _compare_tasks(runs, c_out, chunk)]
    step = max(1, chunk // c_out)
    for g in range(d.groups):  # the indices: the pattern's columns, shifted to the group's
        tasks.extend(("cols", g * cog, (g + 1) * cog, j0, min(r - j0, step), g * cg * q) for j0 in range(0, r, step))
    w2 = d.weight.reshape(c_out, -1)
    if t.data.dtype != w2.dtype:
        return False
    data = np.ascontiguousarray(t.data)  # (a copy only for a hand-made t whose data is a strided view)
    data2, ind2 = data.reshape(c_out, r), t.indices.reshape(c_out, r)
    bits = _bits_dtype(w2.dtype)  # finite values without zeros are equal exactly when their bits are
    cols = row_cols.astype(dt)
    at = _tap_offsets(row_starts, r, row_taps.size)
    workers = max(1, min(4, threads(), len(tasks) // 8))
    failed = threading.Event()

    def values(c0: int, c1: int, j0: int, j1: int) -> np.ndarray:
        """The chain's values of entries ``j0:j1`` for channels ``c0:c1``: kernel values gathered, runs summed."""
        t0, t1 = int(at[j0]), int(at[j1])
        out = np.take(w2[c0:c1], row_taps[t0:t1], axis=1)
        if row_starts is None or t1 - t0 == j1 - j0:
            return out
        return np.add.reduceat(out, at[j0:j1] - t0, axis=1, dtype=w2.dtype)

    def check(task, buf) -> bool:
        if task[0] == "cols":
            _, c0, c1, j0, width, offset = task
            got, want = ind2[c0:c1, j0:j0 + width], cols[None, j0:j0 + width]
            if offset:
                want = want + dt.type(offset)
        else:
            _, c0, c1, j0, width, count, step = task
            item = data2.itemsize
            got = np.ndarray((c1 - c0, count, width), data2.dtype, data, (c0 * r + j0) * item,
                             (r * item, step * item, item))
            want = values(c0, c1, j0, j0 + width)[:, None, :]
            if bits is not None:
                got, want = got.view(bits), np.ascontiguousarray(want).view(bits)
        out = buf[:got.size].reshape(got.shape)
        return bool(np.equal(got, want, out=out).all())

    def run(mine) -> bool:
        buf = np.empty(chunk + max(c_out, 1) * 64, dtype=bool)
        for task in mine:
            if failed.is_set():
                return False
            if not check(task, buf if buf.size >= _size(task) else np.empty(_size(task), dtype=bool)):
                failed.set()
                return False
        return True

    if workers == 1:
        return run(tasks)
    with ThreadPoolExecutor(workers) as pool:
        return all(pool.map(run, [tasks[k::workers] for k in range(workers)]))


def _bits_dtype(dtype: np.dtype):
    """An integer dtype of a float dtype's size (its bits compare faster), else ``None``."""
    if dtype.kind not in "fc":
        return None
    return {2: np.int16, 4: np.int32, 8: np.int64, 16: np.int64}.get(dtype.itemsize)


def _streamable_weight(w: np.ndarray) -> bool:
    """Whether values built from ``w`` compare bit for bit: no zero (nothing dropped), finite (no NaN)."""
    return bool(np.all(w)) and (w.dtype.kind not in "fc" or bool(np.isfinite(w).all()))


def _fits(d: "TransposedConvAsDirect") -> bool:
    """Whether ``C P Z`` is within the size limit (then its pattern may be made before ``T`` is)."""
    try:
        d._guard_matrix()
    except MatrixTooLargeError:
        return False
    return True


def _chain_runs(d: "TransposedConvAsDirect"):
    """The folded pattern of the chain and its periodic runs (cached on ``d`` for :func:`_streamed_equal`)."""
    return d._runs


def _size(task) -> int:
    """Entries one comparison piece covers."""
    if task[0] == "cols":
        return (task[2] - task[1]) * task[4]
    return (task[2] - task[1]) * task[4] * task[5]


def transposed_conv_as_direct(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    padding_mode: str = "zeros",
    max_bytes: int | None = None,
) -> TransposedConvAsDirect:
    """A transposed convolution as a direct convolution of a zero-inserted, padded input.

    Parameters
    ----------
    weight : array_like, shape (C_in, C_out/groups, *kernel_size)
        Numbers or SymPy expressions, in torch's transposed layout (with
        symbols, :attr:`~TransposedConvAsDirect.C` and ``matrix`` are SymPy
        matrices: the identity shown entry by entry).
    input_size : int or tuple of int
        Spatial input size ``i'``.
    stride, padding, output_padding, groups, dilation : optional
        As :func:`convmatrix.conv_transpose_matrix` (padding may be ``(lo, hi)`` pairs).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, optional
        The padding mode of the convolution this layer transposes.  In the
        modes other than zeros the chain is ``F @ C @ P @ Z``: ``C P Z`` the
        transposed convolution with ``padding=0`` and ``F`` the fold of the
        padded border (see the module notes).
    max_bytes : int, optional
        Size limit for every matrix the object builds (see
        :func:`convmatrix.conv_matrix`); kept as its :attr:`max_bytes`.

    Returns
    -------
    TransposedConvAsDirect
        With ``Z``, ``P``, ``C``, ``F``, ``matrix``, ``weight`` and ``pad_widths``;
        ``matrix == F @ C @ P @ Z`` (``C @ P @ Z`` in zeros mode) equals
        ``conv_transpose_matrix(weight, input_size, ...)`` entry for entry.

    Raises
    ------
    TypeError, ValueError
        As :func:`convmatrix.conv_transpose_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> from convmatrix import conv_transpose_matrix
    >>> w = np.array([[[1, 2, 3]]])
    >>> d = transposed_conv_as_direct(w, 3, stride=2, padding=1)
    >>> d.weight.tolist(), d.pad_widths
    ([[[3, 2, 1]]], ((1, 1),))
    >>> d.Z.toarray()
    array([[1, 0, 0],
           [0, 0, 0],
           [0, 1, 0],
           [0, 0, 0],
           [0, 0, 1]])
    >>> d.C.toarray()
    array([[3, 2, 1, 0, 0, 0, 0],
           [0, 3, 2, 1, 0, 0, 0],
           [0, 0, 3, 2, 1, 0, 0],
           [0, 0, 0, 3, 2, 1, 0],
           [0, 0, 0, 0, 3, 2, 1]])
    >>> d.matrix.toarray()
    array([[2, 0, 0],
           [3, 1, 0],
           [0, 2, 0],
           [0, 3, 1],
           [0, 0, 2]])
    >>> (d.C @ d.P @ d.Z != d.matrix).nnz
    0
    >>> (d.matrix != conv_transpose_matrix(w, 3, stride=2, padding=1)).nnz
    0

    A circular border folds back onto the opposite edge:

    >>> c = transposed_conv_as_direct(w, 3, stride=2, padding=1, padding_mode="circular")
    >>> c.F.toarray()
    array([[0, 1, 0, 0, 0, 0, 1],
           [0, 0, 1, 0, 0, 0, 0],
           [0, 0, 0, 1, 0, 0, 0],
           [0, 0, 0, 0, 1, 0, 0],
           [1, 0, 0, 0, 0, 1, 0]])
    >>> (c.F @ c.C @ c.P @ c.Z != conv_transpose_matrix(w, 3, stride=2, padding=1, padding_mode="circular")).nnz
    0
    """
    w, _ = as_numbers(weight, "weight")  # numbers or SymPy expressions; the shape is checked by the geometry
    as_max_bytes(max_bytes)  # refuse a bad limit now, not when a matrix is first asked for
    tg = ConvTransposeGeometry.from_weight_shape(
        w.shape, input_size, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation, padding_mode=padding_mode,
    )
    if tg.padding_mode == "zeros":
        arithmetic = TransposeArithmetic(tg.input_size, tg.kernel_size, tg.stride, tg.padding, tg.output_padding,
                                         tg.dilation)
        return TransposedConvAsDirect(_direct_weight(w, tg.groups), w, arithmetic, tg.groups, max_bytes)
    # A_m = C_0 P_m, so A_m^T = P_m^T C_0^T: the unpadded transposed convolution, then the fold
    unpadded = ((0, 0),) * tg.ndim
    arithmetic = TransposeArithmetic(tg.input_size, tg.kernel_size, tg.stride, unpadded, tg.output_padding,
                                     tg.dilation)
    return TransposedConvAsDirect(_direct_weight(w, tg.groups), w, arithmetic, tg.groups, max_bytes,
                                  tg.padding_mode, tg.padding)


# =========================================================================== verification
@dataclass(frozen=True)
class TransposeEquivalenceReport(Displayable):
    """The outcome of :func:`verify_transpose_equivalence`; prints as a short report.

    ``bool(report)`` is :attr:`exact`.

    Attributes
    ----------
    exact : bool
        Whether ``C @ P @ Z`` equals the transposed convolution's matrix entry for entry
        (and, when :attr:`literal_checked`, the literal product equals the computed one).
    max_abs_difference : float
        Largest ``|(C P Z - T)[r, c]|`` (0 when exact).
    shape : (int, int)
        Shape of the transposed convolution's matrix ``T``.
    direct_shape : (int, int)
        Shape of ``C @ P @ Z``.
    nnz_transposed, nnz_direct : int
        Stored entries of ``T`` and of ``C @ P @ Z``.
    zero_insertion_shape, padding_shape, conv_shape : (int, int)
    conv_nnz : int
        Stored entries of ``C`` (counted from its geometry and the kernel's
        zeros whether or not ``C`` was built: the same number as ``C.nnz``).
    direct_weight_shape : tuple of int
        ``(C_out, C_in/groups, *k)`` of the flipped, channel-swapped kernel.
    groups : int
    arithmetic : TransposeArithmetic
        Stretched size, pad widths, kernel, stride 1, dilation of the direct convolution.
    literal_checked : bool
        Whether the literal product ``C @ P @ Z`` (``F @ C @ P @ Z``) was formed too.
    seconds : float
        Wall time of the verification.
    padding_mode : str
        ``"zeros"``, or the mode whose border the fold ``F`` adds back.
    fold_shape : (int, int) or None
        Shape of ``F`` (``None`` in zeros mode, where there is no fold).
    border : tuple of (int, int) or None
        The padding ``F`` folds back.

    Examples
    --------
    >>> import numpy as np
    >>> r = verify_transpose_equivalence(np.ones((2, 3, 3), dtype=int), 4, stride=2)
    >>> bool(r), r.max_abs_difference, r.nnz_transposed == r.nnz_direct
    (True, 0.0, True)
    """

    exact: bool
    max_abs_difference: float
    shape: tuple[int, int]
    direct_shape: tuple[int, int]
    nnz_transposed: int
    nnz_direct: int
    zero_insertion_shape: tuple[int, int]
    padding_shape: tuple[int, int]
    conv_shape: tuple[int, int]
    conv_nnz: int
    direct_weight_shape: tuple[int, ...]
    groups: int
    arithmetic: TransposeArithmetic
    literal_checked: bool
    seconds: float
    padding_mode: str = "zeros"
    fold_shape: tuple[int, int] | None = None
    border: tuple[tuple[int, int], ...] | None = None

    def __bool__(self) -> bool:
        return self.exact

    def __str__(self) -> str:
        a = self.arithmetic
        verdict = "EXACT" if self.exact else "NOT EQUAL"
        dims = lambda shape: f"{shape[0]} x {shape[1]}"  # noqa: E731
        folded = self.fold_shape is not None
        chain = "F @ C @ P @ Z" if folded else "C @ P @ Z"
        o_layer = tuple(n - lo - hi for n, (lo, hi) in zip(a.o_prime, self.border)) if folded else a.o_prime
        rows = [
            ("T", self.shape, f"{self.nnz_transposed:,} stored entries; conv_transpose_matrix"
                              + (f" (padding_mode={self.padding_mode!r})" if folded else "")
                              + f", input i' = {a.i_prime} -> o' = {o_layer}"),
            ("Z", self.zero_insertion_shape, f"zero insertion, stride {a.s}: i' = {a.i_prime} -> ĩ' = {a.i_tilde_prime}"),
            ("P", self.padding_shape, f"pad {_pairs(a.pad_widths)}" + (" (negative = crop)" if any(
                min(p) < 0 for p in a.pad_widths) else "") + f": {a.i_tilde_prime} -> {a.padded_size}"),
            ("C", self.conv_shape, f"{self.conv_nnz:,} stored entries; stride-1 conv, weight "
                                   f"{self.direct_weight_shape} (flipped, channels swapped), dilation {a.d}, "
                                   f"groups {self.groups}"),
        ]
        if folded:
            rows.append(("F", self.fold_shape, f"fold of the {self.padding_mode} border {_pairs(self.border)}: "
                                               f"{a.o_prime} -> {o_layer}"))
        rows.append((chain, self.direct_shape, f"{self.nnz_direct:,} stored entries"
                     + (" (the literal product was formed too)" if self.literal_checked else "")))
        width = max(len(dims(shape)) for _, shape, _ in rows)
        name_width = max(9, len(chain))
        lines = [f"transposed conv == {chain}: {verdict} (max |difference| = {self.max_abs_difference:g}), "
                 f"checked in {self.seconds:.3g} s"]
        lines += [f"  {name:<{name_width}}  {dims(shape):<{width}}  {text}" for name, shape, text in rows]
        lines.append(
            f"  equivalent direct convolution: ĩ' = {a.i_tilde_prime} padded by {_pairs(a.pad_widths)} to "
            f"{a.padded_size}, k' = {a.k_prime}, s' = {a.s_prime}, d' = {a.d_prime}, flipped kernel -> o' = {a.o_prime}"
            + (f", folded by F to {o_layer}" if folded else "")
        )
        return "\n".join(lines)


def _equal(a: np.ndarray, b: np.ndarray, step: int = 1 << 20) -> bool:
    """``np.array_equal`` a million entries at a time: no array-sized temporary, stops at the first difference."""
    if a.shape != b.shape:
        return False
    return all(np.array_equal(a[i:i + step], b[i:i + step]) for i in range(0, a.size, step))


def _compare(m: sp.csr_array, t: sp.csr_array) -> tuple[bool, float]:
    """``(exact, max |m - t|)`` for two sparse arrays; fast when their patterns agree.

    SymPy matrices are compared entry by entry (expanded); the difference is
    then 0 or NaN (a symbolic difference has no size).
    """
    if m.shape != t.shape:
        return False, float("inf")
    sympy = loaded_sympy()
    if sympy is not None and (isinstance(m, sympy.MatrixBase) or isinstance(t, sympy.MatrixBase)):
        dm, dt = (a.todok() if isinstance(a, sympy.MatrixBase) else sympy.SparseMatrix(a).todok() for a in (m, t))
        exact = dm == dt or all(sympy.expand(dm.get(k, 0) - dt.get(k, 0)) == 0 for k in dm.keys() | dt.keys())
        return exact, 0.0 if exact else float("nan")
    m, t = canonical(m, drop_zeros=False), canonical(t, drop_zeros=False)
    if _equal(m.indptr, t.indptr) and _equal(m.indices, t.indices):
        if _equal(m.data, t.data):
            return True, 0.0
        diff = m.data - t.data
    else:
        diff = (m - t).data
        if not np.any(diff):
            return True, 0.0
    return False, float(np.max(np.abs(diff)))


def verify_transpose_equivalence(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    padding_mode: str = "zeros",
    literal: bool | None = None,
    max_bytes: int | None = None,
) -> TransposeEquivalenceReport:
    """Check that a transposed convolution is a direct convolution of a stretched, padded input.

    Builds ``T = conv_transpose_matrix(weight, input_size, ...)`` and the chain
    of :func:`transposed_conv_as_direct`, and compares ``C @ P @ Z`` with ``T``
    entry for entry: the chain's row pattern (one output channel's, folded by
    ``F`` in the modes other than zeros) against ``T``'s arrays in place, piece
    by piece, where the pattern repeats against one period broadcast (see
    ``docs/transposed.md``), without building a second matrix; the built chain
    where that cannot decide (a kernel with zeros or non-finite entries, taps
    that cancel) or when they differ, for the report.

    Parameters
    ----------
    weight, input_size, stride, padding, output_padding, groups, dilation, padding_mode
        As :func:`convmatrix.conv_transpose_matrix`; in the modes other than
        zeros the chain is ``F @ C @ P @ Z`` (see :func:`transposed_conv_as_direct`).
    literal : bool, optional
        Also form ``C @ P @ Z`` as written and compare it
        (it has ``prod(stride)`` times the entries of ``T``).  Default: when
        ``C`` has at most :data:`LITERAL_CHAIN_LIMIT` stored entries
        (:data:`SYMBOLIC_LITERAL_CHAIN_LIMIT` for a SymPy kernel) and fits in
        ``max_bytes``.
    max_bytes : int, optional
        Size limit for the matrices built (see :func:`convmatrix.conv_matrix`).

    Returns
    -------
    TransposeEquivalenceReport

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`convmatrix.conv_transpose_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.arange(1, 2 * 3 * 3 * 3 + 1).reshape(2, 3, 3, 3)
    >>> report = verify_transpose_equivalence(w, (4, 5), stride=2, padding=(1, 0), output_padding=1)
    >>> report.exact, report.max_abs_difference, report.shape
    (True, 0.0, (288, 40))
    >>> print(report)  # doctest: +ELLIPSIS
    transposed conv == C @ P @ Z: EXACT (max |difference| = 0), checked in ... s
      T          288 x 40   990 stored entries; conv_transpose_matrix, input i' = (4, 5) -> o' = (8, 12)
      Z          126 x 40   zero insertion, stride (2, 2): i' = (4, 5) -> ĩ' = (7, 9)
      P          280 x 126  pad ((1, 2), (2, 3)): (7, 9) -> (10, 14)
      C          288 x 280  5,184 stored entries; stride-1 conv, weight (3, 2, 3, 3) (flipped, channels swapped), dilation (1, 1), groups 1
      C @ P @ Z  288 x 40   990 stored entries (the literal product was formed too)
      equivalent direct convolution: ĩ' = (7, 9) padded by ((1, 2), (2, 3)) to (10, 14), k' = (3, 3), s' = (1, 1), d' = (1, 1), flipped kernel -> o' = (8, 12)
    """
    start = time.perf_counter()
    if literal is not None:
        literal = as_bool(literal, "literal")
    d = transposed_conv_as_direct(
        weight, input_size, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation, padding_mode=padding_mode, max_bytes=max_bytes,
    )
    streamable = not d.symbolic and _streamable_weight(d.weight)
    with ThreadPoolExecutor(1) as pool:
        # the chain's pattern (one output channel's) is made while T is built, where it fits
        pattern = pool.submit(_chain_runs, d) if streamable and _fits(d) and threads() > 1 else None
        t = conv_transpose_matrix(
            d.transposed_weight, input_size, stride=stride, padding=padding, output_padding=output_padding,
            groups=groups, dilation=dilation, padding_mode=padding_mode, max_bytes=max_bytes,
        )
        if pattern is not None:
            pattern.result()
    streamable = streamable and isinstance(t, sp.csr_array) and t.has_canonical_format
    if streamable and _streamed_equal(d, t):  # the usual case: no second big matrix is built
        m, exact, diff = None, True, 0.0
    else:
        m = d.matrix
        exact, diff = _compare(m, t)
    conv_nnz = d.conv_nnz
    if literal is None:  # the literal product is a bonus: never let it refuse a check that fits
        conv_bytes = matrix_bytes(d.conv_geometry.shape, conv_nnz, d.weight.dtype.itemsize,
                                  "sympy" if d.symbolic else "csr")
        limit = SYMBOLIC_LITERAL_CHAIN_LIMIT if d.symbolic else LITERAL_CHAIN_LIMIT
        use_literal = conv_nnz <= limit and 2 * conv_bytes <= limit_bytes(max_bytes)
    else:
        use_literal = literal
    if use_literal:
        lit_exact, lit_diff = _compare(d.literal_matrix(), d.matrix if m is None else m)
        exact = exact and lit_exact
        diff = float("nan") if np.isnan(diff) or np.isnan(lit_diff) else max(diff, lit_diff)
    g = d.conv_geometry
    return TransposeEquivalenceReport(
        exact=bool(exact),
        max_abs_difference=float(diff),
        shape=t.shape,
        direct_shape=d.shape,
        nnz_transposed=nnz_of(t),
        nnz_direct=nnz_of(t) if m is None else nnz_of(m),
        zero_insertion_shape=(d.in_channels * prod(d.stretched_size), d.in_channels * prod(d.input_size)),
        padding_shape=(d.in_channels * prod(d.padded_size), d.in_channels * prod(d.stretched_size)),
        conv_shape=g.shape,
        conv_nnz=int(conv_nnz),
        direct_weight_shape=tuple(d.weight.shape),
        groups=d.groups,
        arithmetic=d.arithmetic,
        literal_checked=use_literal,
        seconds=time.perf_counter() - start,
        padding_mode=padding_mode if d.border is not None else "zeros",
        fold_shape=None if d.border is None else d.F.shape,
        border=d.border,
    )


# =========================================================================== checkerboard
def overlap_counts(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    *,
    max_bytes: int | None = None,
) -> np.ndarray:
    """How many input positions reach each output position of a transposed convolution.

    Odena, Dumoulin & Olah (*Deconvolution and checkerboard artifacts*, Distill
    2016): where the kernel size is not divisible by the stride, the kernel's
    footprints overlap unevenly, and an all-ones input gives a checkerboard.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        Spatial sizes; the number of axes comes from the first tuple.
    stride, padding, output_padding, dilation : optional
        As :func:`convmatrix.conv_transpose_matrix`.
    max_bytes : int, optional
        Refuse, before making it, a counts array over this many bytes (see
        :func:`convmatrix.conv_matrix`).

    Returns
    -------
    counts : ndarray of int, shape output_size
        The number of stored entries in each row of the matrix of a one-channel
        transposed convolution (read off its structure; with a kernel of ones it is
        also ``T @ 1``).

    Raises
    ------
    TypeError, ValueError
        As :func:`convmatrix.conv_transpose_output_size`.

    Notes
    -----
    Along one axis an interior output position ``j`` is reached by the taps
    ``t`` with ``t d ≡ j + p_lo (mod s)``: with ``d = 1`` that is ``ceil(k / s)``
    or ``floor(k / s)`` of them, even exactly when ``s`` divides ``k``.  The
    N-d counts are the outer product of the per-axis ones.  See
    :func:`has_uneven_overlap`.

    Examples
    --------
    >>> overlap_counts(4, 3, stride=2)
    array([1, 1, 2, 1, 2, 1, 2, 1, 1])
    >>> overlap_counts((3, 3), 3, stride=2)
    array([[1, 1, 2, 1, 2, 1, 1],
           [1, 1, 2, 1, 2, 1, 1],
           [2, 2, 4, 2, 4, 2, 2],
           [1, 1, 2, 1, 2, 1, 1],
           [2, 2, 4, 2, 4, 2, 2],
           [1, 1, 2, 1, 2, 1, 1],
           [1, 1, 2, 1, 2, 1, 1]])
    >>> overlap_counts(4, 4, stride=2, padding=1)
    array([1, 2, 2, 2, 2, 2, 2, 1])
    """
    ndim = ndim_of(input_size, kernel_size, stride, dilation, padding, output_padding) or 1
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    tg = ConvTransposeGeometry.from_weight_shape(
        (1, 1, *k), input_size, stride=stride, padding=padding, output_padding=output_padding,
        dilation=dilation,
    )
    as_max_bytes(max_bytes)
    guard_bytes(8 * prod(tg.output_size), max_bytes, what=f"the overlap counts of output size {tg.output_size}")
    counts = np.ones((), dtype=np.int64)
    for axis in range(ndim):  # the rows of each axis's one-channel matrix, multiplied out
        t = conv_transpose_matrix(
            np.ones((1, 1, k[axis]), dtype=np.int64), tg.input_size[axis], stride=tg.stride[axis],
            padding=(tg.padding[axis],), output_padding=tg.output_padding[axis], dilation=tg.dilation[axis])
        counts = np.multiply.outer(counts, np.diff(t.indptr).astype(np.int64))
    return counts


def has_uneven_overlap(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1) -> bool:
    """Whether a transposed convolution's interior overlap is uneven (a checkerboard).

    Read off :func:`overlap_counts` on an input large enough to have an interior
    (output positions every tap can reach) of at least one period per axis.  With
    ``dilation=1`` this is ``kernel_size % stride != 0`` along some axis.

    Parameters
    ----------
    kernel_size, stride, dilation : int or tuple of int

    Returns
    -------
    bool

    Raises
    ------
    TypeError, ValueError
        On non-positive sizes.

    Examples
    --------
    >>> has_uneven_overlap(3, 2), has_uneven_overlap(4, 2), has_uneven_overlap((4, 3), (2, 3))
    (True, False, False)
    >>> has_uneven_overlap(2, 2, dilation=2)   # every other output position is never reached
    True
    """
    ndim = ndim_of(kernel_size, stride, dilation) or 1
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    s = normalize_tuple(stride, ndim, "stride")
    d = normalize_tuple(dilation, ndim, "dilation")
    for kk, ss, dd in zip(k, s, d):
        k_hat = dd * (kk - 1) + 1
        n = k_hat + 2
        counts = overlap_counts(n, kk, stride=ss, dilation=dd)
        interior = counts[k_hat - 1:(n - 1) * ss + 1]
        if interior.min() != interior.max():
            return True
    return False
