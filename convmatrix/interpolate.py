"""Layer 4 — interpolation, pixel shuffle, adaptive pooling and fold/unfold as sparse matrices.

Each builder mirrors one function of ``torch.nn.functional`` and acts, like
every matrix of the package, on one sample ``x`` of shape ``(channels,
*input_size)`` flattened in C order:

* :func:`interpolate_matrix` — ``F.interpolate`` (nearest, nearest-exact,
  linear, bilinear, trilinear, bicubic, area): ``int64`` ones for the nearest
  modes (a selection), float weights otherwise;
* :func:`pixel_shuffle_matrix`, :func:`pixel_unshuffle_matrix` —
  ``F.pixel_shuffle`` and its inverse: permutations, ``int64`` ones;
* :func:`adaptive_avg_pool_matrix` — ``F.adaptive_avg_pool{1,2,3}d``: float;
* :func:`unfold_matrix`, :func:`fold_matrix` — ``F.unfold`` (im2col) and
  ``F.fold`` (col2im), ``fold == unfold.T``: ``int64`` ones.

Interpolation and adaptive pooling are *separable*: the matrix of an N-d
map is the Kronecker product of one matrix per axis, ``M = M_0 ⊗ M_1 ⊗ …``
(C order: the first axis varies slowest), repeated over the channels.  The
per-axis matrices follow torch's own index and weight formulas
(``ATen/native/UpSample.h``, ``AdaptivePooling.h``), down to the float32
arithmetic of the nearest modes; see :func:`interpolate_matrix`.

``unfold`` is im2col: its matrix is read off the tap map of a one-channel
convolution with the unfold's kernel, stride, padding and dilation (an entry
with tap ``t`` at output position ``l`` reading pixel ``q`` is the 1 of row
``t L + l``), so nothing here builds convolution structure of its own;
``unfold_matrix(n, k) @ x.ravel()`` equals
``im2col_matrix(x, k).T.ravel()`` (with ``C`` input channels).  ``fold`` is
its adjoint, torch's definition and ours: ``fold_matrix == unfold_matrix.T``.
"""

from __future__ import annotations

import math
from math import prod
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ._limits import as_format, as_max_bytes, guard, index_dtype
from ._sparse import canonical, csr_arrays, finish, shifted_cols, tiled_indptr
from ._validation import (InputTypeError, InputValueError, as_bool, as_choice, as_float_dtype, as_int, as_real,
                          is_bool, is_integer, is_sequence, ndim_of, show)
from .geometry import ConvGeometry, IntOrTuple, normalize_tuple
from .structure import tap_map

__all__ = [
    "INTERPOLATE_MODES",
    "CUBIC_A",
    "cubic_weights",
    "interpolate_output_size",
    "interpolate_matrix",
    "pixel_shuffle_matrix",
    "pixel_unshuffle_matrix",
    "adaptive_avg_pool_matrix",
    "adaptive_pool_windows",
    "unfold_matrix",
    "fold_matrix",
]

#: Modes of :func:`interpolate_matrix`, as ``F.interpolate`` names them (``antialias`` is not offered).
INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")
#: Modes that fix the number of spatial axes (as torch, which refuses the others).
_MODE_NDIM = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}
#: Entries per output row along one axis, an upper bound for the size guard.
_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}
#: torch's bicubic convolution constant (Keys' ``a``; OpenCV's and torch's choice).
CUBIC_A = -0.75


# =========================================================================== shared plumbing
def _common(channels, format, max_bytes) -> tuple[int, str]:
    c = as_int(channels, "channels", minimum=1)
    format = as_format(format)
    as_max_bytes(max_bytes)
    return c, format


def _axis_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """One axis's matrix from its entries: duplicates summed, zeros dropped, canonical."""
    return canonical(sp.coo_array((vals, (rows, cols)), shape=shape))


def _kron_axes(axes: Sequence[sp.csr_array]) -> sp.csr_array:
    """``M_0 ⊗ M_1 ⊗ …`` (the first axis slowest, as C order), canonical CSR."""
    m = axes[0]
    for a in axes[1:]:
        m = sp.csr_array(sp.kron(m, a, format="csr"))
    return canonical(m)


def _over_channels(m: sp.csr_array, channels: int) -> sp.csr_array:
    """``I_channels ⊗ m``: the same block for every channel, built from ``m``'s arrays (no product)."""
    rows, cols = m.shape
    nnz = channels * m.nnz
    dt = index_dtype(nnz, channels * rows, channels * cols)
    indices = shifted_cols(m.indices, np.arange(channels, dtype=np.int64) * cols, dt).reshape(-1)
    indptr = tiled_indptr(np.diff(m.indptr), channels, dt)
    return csr_arrays((channels * rows, channels * cols), np.tile(m.data, channels), indices, indptr)


def _separable(axes, channels: int, itemsize: int, format: str, max_bytes):
    """The channel-block-diagonal Kronecker product of per-axis matrices, guarded first.

    ``axes`` holds per axis ``(out, n, bound, build)``: the sizes, an upper bound
    of the axis matrix's entries (Python integers) and a function that builds it.
    """
    rows = channels * prod(out for out, _, _, _ in axes)
    cols = channels * prod(n for _, n, _, _ in axes)
    one = prod(bound for _, _, bound, _ in axes)
    guard((rows, cols), channels * one, itemsize, format, max_bytes, working=24 * one)
    m = _kron_axes([build() for _, _, _, build in axes])
    return finish(_over_channels(m, channels), format, max_bytes)


def _spatial(input_size, name: str = "input_size", ndim: int | None = None) -> tuple[int, ...]:
    if ndim is None:
        ndim = ndim_of(input_size) or 1
    return normalize_tuple(input_size, ndim, name)


# =========================================================================== interpolate
def _scale_factors(scale_factor, ndim: int) -> tuple[float, ...]:
    entries = tuple(scale_factor) if is_sequence(scale_factor) else (scale_factor,) * ndim
    if len(entries) != ndim:
        raise InputValueError(
            f"scale_factor={show(scale_factor)} must have one entry per spatial axis: expected {ndim}, "
            f"got {len(entries)}", "scale_factor")
    return tuple(as_real(v, "scale_factor", positive=True) for v in entries)


def interpolate_output_size(input_size: IntOrTuple, size: IntOrTuple | None = None,
                            scale_factor: float | Sequence[float] | None = None) -> tuple[int, ...]:
    """The output size of ``F.interpolate``: ``size``, or ``floor(input_size * scale_factor)`` per axis.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size; the number of axes comes from the first tuple among
        ``input_size``, ``size`` and ``scale_factor``.
    size : int or tuple of int, optional
    scale_factor : float or tuple of float, optional
        Exactly one of ``size`` and ``scale_factor``.

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError, ValueError
        When both or neither of ``size`` and ``scale_factor`` are given, on
        non-positive sizes or factors, or an empty output.

    Examples
    --------
    >>> interpolate_output_size((5, 4), scale_factor=1.5)
    (7, 6)
    """
    ndim = ndim_of(input_size, size, scale_factor) or 1
    n = _spatial(input_size, ndim=ndim)
    if (size is None) == (scale_factor is None):
        raise InputValueError(f"size={show(size)}, scale_factor={show(scale_factor)}: give exactly one of them",
                              "size")
    if size is not None:
        return normalize_tuple(size, ndim, "size")
    factors = _scale_factors(scale_factor, ndim)
    out = tuple(math.floor(na * f) for na, f in zip(n, factors))
    for axis, (na, f, o) in enumerate(zip(n, factors, out)):
        if o < 1:
            raise InputValueError(
                f"scale_factor={show(scale_factor)} gives an empty output along axis {axis}: "
                f"floor({na} * {f}) = {o}", "scale_factor")
    return out


def _nearest_axis(n: int, out: int, scale: float | None, exact: bool, shortcuts: bool) -> np.ndarray:
    """Source index of every output position (torch's ``nearest_idx`` / ``nearest_exact_idx``).

    In float32, as torch: ``scale = float32(1 / scale_factor)`` or
    ``float32(n) / out``; nearest reads ``min(floor(j * scale), n - 1)``,
    nearest-exact ``min(floor(float32((j + 0.5) * scale)), n - 1)``.  With
    ``shortcuts`` (torch's 2-d nearest kernel), ``out == n`` copies and
    ``out == 2 n`` reads ``j >> 1`` whatever the scale factor.
    """
    j = np.arange(out, dtype=np.int64)
    if shortcuts and not exact and out == n:
        return j
    if shortcuts and not exact and out == 2 * n:
        return j >> 1
    s = np.float32(1.0 / scale) if scale is not None else np.float32(n) / np.float32(out)
    if exact:
        src = np.floor(((j + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(j.astype(np.float32) * s)
    return np.minimum(src.astype(np.int64), n - 1)


def _area_scale(n: int, out: int, align_corners: bool, scale: float | None) -> float:
    """torch's ``area_pixel_compute_scale`` (in double)."""
    if align_corners:
        return (n - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale is not None else n / out


def _source_index(ratio: float, out: int, align_corners: bool, cubic: bool) -> np.ndarray:
    """torch's ``area_pixel_compute_source_index``: ``ratio j``, or ``ratio (j + 1/2) - 1/2``
    (clamped at 0 except for cubic)."""
    j = np.arange(out, dtype=np.float64)
    if align_corners:
        return ratio * j
    src = ratio * (j + 0.5) - 0.5
    return src if cubic else np.maximum(src, 0.0)


def _guard_index(real: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's ``guard_index_and_lambda``: ``i = min(floorf(real), n - 1)``, ``λ = clamp(real - i, 0, 1)``."""
    i = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), n - 1)
    return i, np.clip(real - i, 0.0, 1.0)


def _linear_axis(n: int, out: int, scale: float | None, align_corners: bool):
    """``(rows, cols, weights)`` of linear interpolation along one axis (``out == n`` copies, as torch)."""
    j = np.arange(out, dtype=np.int64)
    if out == n:
        return j, j, np.ones(out)
    i0, lam = _guard_index(_source_index(_area_scale(n, out, align_corners, scale), out, align_corners, False), n)
    i1 = np.where(i0 < n - 1, i0 + 1, i0)
    return np.concatenate([j, j]), np.concatenate([i0, i1]), np.concatenate([1.0 - lam, lam])


def cubic_weights(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution weights of the 4 neighbours ``i - 1 … i + 2`` at fraction ``t``, ``A = -0.75``.

    ``W(x) = ((A + 2) x - (A + 3)) x² + 1`` for ``|x| <= 1`` and
    ``((A x - 5 A) x + 8 A) x - 4 A`` for ``1 < |x| < 2`` (torch's
    ``get_cubic_upsample_coefficients``); the four weights sum to one.

    Examples
    --------
    >>> cubic_weights(np.array([0.0, 0.5])).tolist()
    [[0.0, 1.0, 0.0, 0.0], [-0.09375, 0.59375, 0.59375, -0.09375]]
    """
    a = CUBIC_A
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # noqa: E731
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # noqa: E731
    return np.stack([far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)], axis=-1)


def _cubic_axis(n: int, out: int, scale: float | None, align_corners: bool):
    """``(rows, cols, weights)`` of bicubic interpolation along one axis: 4 neighbours, indices clamped to
    ``[0, n - 1]`` (torch's ``upsample_get_value_bounded``), so border taps add up on the edge pixel."""
    real = _source_index(_area_scale(n, out, align_corners, scale), out, align_corners, True)
    i, t = _guard_index(real, n)
    cols = np.clip(i[:, None] + np.arange(-1, 3), 0, n - 1)
    rows = np.repeat(np.arange(out, dtype=np.int64), 4)
    return rows, cols.reshape(-1), cubic_weights(t).reshape(-1)


def _check_mode(mode, ndim: int, align_corners):
    mode = as_choice(mode, "mode", INTERPOLATE_MODES)
    need = _MODE_NDIM.get(mode)
    if need is not None and need != ndim:
        raise InputValueError(
            f"mode={mode!r} needs {need} spatial axis{'es' if need > 1 else ''} (as torch): input_size and size "
            f"give {ndim}; use {', '.join(repr(m) for m, d in _MODE_NDIM.items() if d == ndim) or 'nearest or area'}",
            "mode")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise InputValueError(
                f"align_corners={show(align_corners)} can only be set with the interpolating modes linear, "
                f"bilinear, trilinear and bicubic (as torch): leave it None for mode={mode!r}", "align_corners")
        return mode, False
    return mode, (False if align_corners is None else as_bool(align_corners, "align_corners"))


def interpolate_matrix(
    input_size: IntOrTuple,
    size: IntOrTuple | None = None,
    scale_factor: float | Sequence[float] | None = None,
    *,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    channels: int = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of ``F.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor)``.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` of the input; the number of axes comes from the first
        tuple among ``input_size``, ``size`` and ``scale_factor``.
    size : int or tuple of int, optional
        Output size.
    scale_factor : float or tuple of float, optional
        The output size is ``floor(n * scale_factor)``; exactly one of ``size``
        and ``scale_factor``.  Unless ``recompute_scale_factor`` is true, the
        interpolation itself uses ``1 / scale_factor`` (torch's rule), which can
        differ from ``n / out``.
    mode : {"nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area"}, optional
        ``linear`` needs one spatial axis, ``bilinear`` and ``bicubic`` two,
        ``trilinear`` three (as torch); ``nearest``, ``nearest-exact`` and
        ``area`` take any number.
    align_corners : bool, optional
        For the interpolating modes (default ``False``); must be ``None`` for
        the others (as torch).
    recompute_scale_factor : bool, optional
        ``True``: interpolate with ``n / out`` even when ``scale_factor`` is given.
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (default: the
        ``CONVMATRIX_MAX_BYTES`` environment variable, else 4 GiB).

    Returns
    -------
    M : (channels * prod(out), channels * prod(n)) sparse array
        ``int64`` ones for the nearest modes (a selection), float64 weights
        otherwise (each row sums to one).

    Raises
    ------
    TypeError, ValueError
        On a bad size, factor, mode (or a mode for another number of axes),
        ``align_corners`` with a nearest mode, both or neither of ``size`` and
        ``scale_factor``, a bad channel count or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    Along one axis, with ``ratio = (n - 1) / (out - 1)`` when ``align_corners``
    (0 if ``out == 1``), else ``1 / scale_factor`` or ``n / out``, output
    position ``j`` reads the source coordinate ``r = ratio j`` (align_corners)
    or ``r = ratio (j + 1/2) - 1/2`` (torch's ``area_pixel_compute_source_index``):

    * ``linear``: ``r`` clamped at 0, ``i = min(floor(r), n - 1)``,
      ``λ = r - i`` clamped to ``[0, 1]``, weights ``1 - λ`` at ``i`` and ``λ``
      at ``min(i + 1, n - 1)``; when ``out == n`` torch copies (even for a
      ``scale_factor`` other than 1), and so does the matrix;
    * ``bicubic``: ``i = floor(r)`` (not clamped), ``t = r - i``, Keys' weights
      with ``A = -0.75`` (:func:`cubic_weights`) at ``i - 1 … i + 2``, each index
      clamped to ``[0, n - 1]``;
    * ``nearest`` / ``nearest-exact``: float32 arithmetic as torch,
      ``s = float32(1 / scale_factor)`` or ``float32(n) / out``, source
      ``min(floor(j s), n - 1)`` or ``min(floor((j + 1/2) s), n - 1)``; with
      two spatial axes torch's nearest kernel also copies when ``out == n`` and
      reads ``j >> 1`` when ``out == 2 n``, whatever the scale factor (its 1-d
      and 3-d kernels do not: checked against torch 2.13), and so does the matrix;
    * ``area``: :func:`adaptive_avg_pool_matrix` of the output size.

    The N-d weights are products of the axes' (torch's separable kernels).

    Examples
    --------
    >>> import numpy as np
    >>> (interpolate_matrix(3, scale_factor=2) @ np.array([1, 2, 3])).tolist()
    [1, 1, 2, 2, 3, 3]
    >>> interpolate_matrix(3, 5, mode="linear", align_corners=True).toarray()
    array([[1. , 0. , 0. ],
           [0.5, 0.5, 0. ],
           [0. , 1. , 0. ],
           [0. , 0.5, 0.5],
           [0. , 0. , 1. ]])
    >>> interpolate_matrix(2, 4, mode="linear") @ np.array([0.0, 4.0])
    array([0., 1., 3., 4.])
    """
    ndim = ndim_of(input_size, size, scale_factor) or 1
    n = _spatial(input_size, ndim=ndim)
    out = interpolate_output_size(n, size, scale_factor)
    mode, align = _check_mode(mode, ndim, align_corners)
    if recompute_scale_factor is not None:
        recompute_scale_factor = as_bool(recompute_scale_factor, "recompute_scale_factor")
        if recompute_scale_factor and size is not None:
            raise InputValueError("recompute_scale_factor=True is not meaningful with an explicit size (as torch)",
                                  "recompute_scale_factor")
    c, format = _common(channels, format, max_bytes)
    if mode == "area":
        return adaptive_avg_pool_matrix(n, out, channels=c, format=format, max_bytes=max_bytes)
    scales = (None,) * ndim if scale_factor is None or recompute_scale_factor else _scale_factors(scale_factor, ndim)
    taps = _TAPS[mode]
    nearest = mode in ("nearest", "nearest-exact")

    def axis(na: int, oa: int, scale: float | None):
        if nearest:
            cols = _nearest_axis(na, oa, scale, mode == "nearest-exact", shortcuts=ndim == 2)
            it = index_dtype(oa, na)
            return csr_arrays((oa, na), np.ones(oa, dtype=np.int64), cols.astype(it), np.arange(oa + 1, dtype=it))
        rows, cols, vals = (_cubic_axis if mode == "bicubic" else _linear_axis)(na, oa, scale, align)
        return _axis_csr(rows, cols, vals, (oa, na))

    axes = [(oa, na, taps * oa, lambda na=na, oa=oa, s=s: axis(na, oa, s)) for na, oa, s in zip(n, out, scales)]
    return _separable(axes, c, 8, format, max_bytes)


# =========================================================================== pixel shuffle
def _shuffle_args(input_size, factor, channels, name: str, divide: bool):
    ndim = ndim_of(input_size) or 1
    n = _spatial(input_size, ndim=ndim)
    r = as_int(factor, name, minimum=1)
    if r.bit_length() * ndim > 63:  # r**N beyond int64: no such tensor
        raise InputValueError(f"{name}={r} gives r**{ndim} beyond 2**63 - 1 channels", name)
    block = r**ndim
    if channels is None:
        channels = block if divide else 1
    c = as_int(channels, "channels", minimum=1)
    if divide and c % block:
        raise InputValueError(
            f"channels={c} must be divisible by {name}**{ndim} = {block} (the input channels of a pixel "
            f"shuffle are the output channels times r**N)", "channels")
    if not divide:
        for axis, na in enumerate(n):
            if na % r:
                raise InputValueError(
                    f"input_size={show(input_size)} must be divisible by {name}={r} along every axis: "
                    f"got {na} along axis {axis}", "input_size")
    return n, r, c


def _shuffle_permutation(c_out: int, n: tuple[int, ...], r: int) -> np.ndarray:
    """For every output entry of ``pixel_shuffle`` (C order), the flat input entry it copies.

    ``out[c, h_0 r + i_0, …] = in[c r^N + flat(i_0, …, i_{N-1}), h_0, …]``: the input
    indices arranged as ``(c, i_0, …, i_{N-1}, h_0, …, h_{N-1})`` and transposed to
    ``(c, h_0, i_0, h_1, i_1, …)``.
    """
    ndim = len(n)
    src = np.arange(c_out * r**ndim * prod(n), dtype=np.int64).reshape(c_out, *([r] * ndim), *n)
    order = [0] + [a for axis in range(ndim) for a in (1 + ndim + axis, 1 + axis)]
    return src.transpose(order).reshape(-1)


def _unshuffle_permutation(c_in: int, n: tuple[int, ...], r: int) -> np.ndarray:
    """For every output entry of ``pixel_unshuffle`` (C order), the flat input entry it copies.

    ``out[c r^N + flat(i_0, …), h_0, …] = in[c, h_0 r + i_0, …]``: the input indices
    arranged as ``(c, h_0, i_0, h_1, i_1, …)`` and transposed to ``(c, i_0, …, h_0, …)``.
    """
    ndim = len(n)
    small = tuple(na // r for na in n)
    src = np.arange(c_in * prod(n), dtype=np.int64).reshape(c_in, *[v for h in small for v in (h, r)])
    order = [0] + [2 + 2 * axis for axis in range(ndim)] + [1 + 2 * axis for axis in range(ndim)]
    return src.transpose(order).reshape(-1)


def _permutation_matrix(perm_fn, size: int, format: str, max_bytes):
    guard((size, size), size, 8, format, max_bytes, working=8 * size)
    it = index_dtype(size)
    cols = perm_fn().astype(it)
    return finish(csr_arrays((size, size), np.ones(size, dtype=np.int64), cols, np.arange(size + 1, dtype=it)),
                  format, max_bytes)


def pixel_shuffle_matrix(input_size: IntOrTuple, upscale_factor: int, *, channels: int | None = None,
                         format: str = "csr", max_bytes: int | None = None):
    """The permutation matrix of ``F.pixel_shuffle``: ``(C r^N, *n) -> (C, *(n r))``.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` of the input (torch: two axes; any number here, the
        same rule on every axis).
    upscale_factor : int
        ``r``.
    channels : int, optional
        Channels of the *input*, a multiple of ``r**N`` (default ``r**N``: one
        output channel).
    format, max_bytes : optional
        As :func:`interpolate_matrix`.

    Returns
    -------
    S : (channels * prod(n), channels * prod(n)) sparse array of int64
        One 1 per row and per column: ``out[c, h_0 r + i_0, …] = in[c r^N + flat(i_0, …), h_0, …]``.

    Raises
    ------
    TypeError, ValueError
        On a bad size or factor, or ``channels`` not a multiple of ``r**N``.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8).reshape(4, 1, 2)          # 4 channels of 1 x 2
    >>> (pixel_shuffle_matrix((1, 2), 2) @ x.ravel()).reshape(2, 4)
    array([[0, 2, 1, 3],
           [4, 6, 5, 7]])
    >>> (pixel_shuffle_matrix((1, 2), 2).T != pixel_unshuffle_matrix((2, 4), 2)).nnz
    0
    """
    n, r, c = _shuffle_args(input_size, upscale_factor, channels, "upscale_factor", divide=True)
    format = as_format(format)
    as_max_bytes(max_bytes)
    return _permutation_matrix(lambda: _shuffle_permutation(c // r**len(n), n, r), c * prod(n), format, max_bytes)


def pixel_unshuffle_matrix(input_size: IntOrTuple, downscale_factor: int, *, channels: int = 1,
                           format: str = "csr", max_bytes: int | None = None):
    """The permutation matrix of ``F.pixel_unshuffle``: ``(C, *n) -> (C r^N, *(n / r))``, the inverse of
    :func:`pixel_shuffle_matrix` (built on its own, so ``unshuffle == shuffle.T`` is a check).

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` of the input, divisible by ``r`` on every axis.
    downscale_factor : int
        ``r``.
    channels : int, optional
        Channels of the input.
    format, max_bytes : optional
        As :func:`interpolate_matrix`.

    Returns
    -------
    U : (channels * prod(n), channels * prod(n)) sparse array of int64

    Raises
    ------
    TypeError, ValueError
        On a bad size or factor, or a size not divisible by ``r``.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> (pixel_unshuffle_matrix((2, 2), 2) @ np.array([1, 2, 3, 4])).tolist()
    [1, 2, 3, 4]
    >>> U = pixel_unshuffle_matrix((2, 4), 2)
    >>> (U @ np.arange(8)).reshape(4, 1, 2)[:, 0].tolist()
    [[0, 2], [1, 3], [4, 6], [5, 7]]
    """
    n, r, c = _shuffle_args(input_size, downscale_factor, channels, "downscale_factor", divide=False)
    format = as_format(format)
    as_max_bytes(max_bytes)
    return _permutation_matrix(lambda: _unshuffle_permutation(c, n, r), c * prod(n), format, max_bytes)


# =========================================================================== adaptive pooling
def adaptive_pool_windows(input_size: int, output_size: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive pooling windows along one axis: ``[start_j, end_j)`` for ``j < output_size``.

    ``start_j = floor(j n / o)`` and ``end_j = ceil((j + 1) n / o)``, computed as
    ATen's ``start_index`` / ``end_index`` do, in integers.

    Examples
    --------
    >>> [a.tolist() for a in adaptive_pool_windows(5, 3)]
    [[0, 1, 3], [2, 4, 5]]
    """
    n, o = input_size, output_size
    j = np.arange(o, dtype=np.int64)
    start = (j // o) * n + ((j % o) * n) // o
    end = 1 + ((j + 1) * n - 1) // o
    return start, end


def _adaptive_axis(n: int, o: int) -> sp.csr_array:
    start, end = adaptive_pool_windows(n, o)
    lengths = end - start
    it = index_dtype(int(lengths.sum()), n, o)
    indptr = np.zeros(o + 1, dtype=it)
    np.cumsum(lengths, out=indptr[1:])
    cols = (np.repeat(start - indptr[:-1], lengths) + np.arange(int(indptr[-1]))).astype(it)
    return csr_arrays((o, n), np.ones(cols.size, dtype=np.int64), cols, indptr)


def _adaptive_sizes(input_size, output_size) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ndim = ndim_of(input_size, output_size) or 1
    n = _spatial(input_size, ndim=ndim)
    entries = tuple(output_size) if is_sequence(output_size) else (output_size,) * ndim
    if len(entries) != ndim:
        raise InputValueError(
            f"output_size={show(output_size)} must have one entry per spatial axis: expected {ndim}, "
            f"got {len(entries)}", "output_size")
    out = []
    for na, v in zip(n, entries):  # None keeps the input size (as torch)
        if v is not None and (not is_integer(v) or is_bool(v)):
            raise InputTypeError(f"output_size={show(output_size)} must hold integers or None, not "
                                 f"{type(v).__name__}", "output_size")
        out.append(na if v is None else as_int(v, "output_size", minimum=1))
    return n, tuple(out)


def adaptive_avg_pool_matrix(input_size: IntOrTuple, output_size: IntOrTuple, *, channels: int = 1,
                             dtype: Any = np.float64, format: str = "csr", max_bytes: int | None = None):
    """The matrix of ``F.adaptive_avg_pool{1,2,3}d(x, output_size)``.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n``.
    output_size : int or tuple of int (entries may be None)
        ``o``; ``None`` keeps that axis's input size (as torch).
    channels : int, optional
        Number of channels; the matrix is block-diagonal over them.
    dtype : float or complex dtype, optional
        Of the entries (default float64).
    format, max_bytes : optional
        As :func:`interpolate_matrix`.

    Returns
    -------
    A : (channels * prod(o), channels * prod(n)) sparse array
        Row ``j`` holds ``1 / |window_j|`` at the window's positions, the window
        the product of the axes' ``[start, end)`` of :func:`adaptive_pool_windows`.

    Raises
    ------
    TypeError, ValueError
        On bad sizes, channel count, dtype or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    The windows may overlap (``n`` not a multiple of ``o``) and always cover
    the input.  The divisor of a window is the product of its axis lengths, as
    torch divides the window's sum by ``kh * kw``.

    Examples
    --------
    >>> adaptive_avg_pool_matrix(5, 3).toarray()
    array([[0.5       , 0.5       , 0.        , 0.        , 0.        ],
           [0.        , 0.33333333, 0.33333333, 0.33333333, 0.        ],
           [0.        , 0.        , 0.        , 0.5       , 0.5       ]])
    """
    n, out = _adaptive_sizes(input_size, output_size)
    c, format = _common(channels, format, max_bytes)
    dt = as_float_dtype(dtype)
    bounds = [o * (-(-na // o) + 1) for na, o in zip(n, out)]
    rows, cols = c * prod(out), c * prod(n)
    guard((rows, cols), c * prod(bounds), dt.itemsize, format, max_bytes, working=24 * prod(bounds))
    ones = _kron_axes([_adaptive_axis(na, o) for na, o in zip(n, out)])
    divisor = np.ones(1, dtype=np.int64)
    for na, o in zip(n, out):
        start, end = adaptive_pool_windows(na, o)
        divisor = np.multiply.outer(divisor, end - start).reshape(-1)
    ones.data = np.repeat(1 / divisor, np.diff(ones.indptr)).astype(dt)
    return finish(_over_channels(ones, c), format, max_bytes)


# =========================================================================== unfold / fold
def _unfold_geometry(input_size, kernel_size, dilation, padding, stride, name: str = "input_size") -> ConvGeometry:
    ndim = ndim_of(input_size, kernel_size, dilation, padding, stride) or 1
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    if isinstance(padding, str):
        raise InputTypeError(f"padding={padding!r} must be an integer or one integer per axis (as F.unfold)",
                             "padding")
    n = _spatial(input_size, name, ndim=ndim)
    try:
        return ConvGeometry.from_weight_shape((1, 1, *k), n, stride=stride, padding=padding, dilation=dilation)
    except InputValueError as exc:
        if exc.parameter != "input_size" or name == "input_size":
            raise
        raise InputValueError(str(exc).replace("input_size", name), name) from None


def _unfold_one_channel(g: ConvGeometry) -> sp.csr_array:
    """``(K L, Q)``: row ``t L + l`` holds a 1 at the pixel that tap ``t`` of window ``l`` reads.

    Read off the one-channel tap map: its entry at output position ``l``,
    column ``q`` with tap ``t`` is this matrix's 1 at ``(t L + l, q)``.  Zeros
    padding: a tap in the padding has no entry, and no two taps of a window
    meet, so every row holds at most one 1.
    """
    tm = tap_map(g)
    L, K, Q = prod(g.output_size), prod(g.kernel_size), prod(g.input_size)
    position = np.repeat(np.arange(L, dtype=np.int64), np.diff(tm.row_indptr))
    rows = tm.row_taps.astype(np.int64) * L + position
    order = np.argsort(rows, kind="stable")
    it = index_dtype(K * L, Q)
    indptr = np.zeros(K * L + 1, dtype=it)
    np.cumsum(np.bincount(rows, minlength=K * L), out=indptr[1:])
    cols = tm.row_cols.astype(it)[order]
    return csr_arrays((K * L, Q), np.ones(cols.size, dtype=np.int64), cols, indptr)


def unfold_matrix(input_size: IntOrTuple, kernel_size: IntOrTuple, *, dilation: IntOrTuple = 1,
                  padding: IntOrTuple = 0, stride: IntOrTuple = 1, channels: int = 1,
                  format: str = "csr", max_bytes: int | None = None):
    """The matrix of ``F.unfold`` (im2col): ``(C, *n) -> (C prod(k), L)``, flattened in C order.

    Parameters
    ----------
    input_size : int or tuple of int
        Spatial size ``n`` (torch: two axes; any number here).
    kernel_size : int or tuple of int
    dilation, padding, stride : int or tuple of int, optional
        As ``F.unfold`` (zero padding; ``(lo, hi)`` pairs are accepted too).
    channels : int, optional
        ``C``.
    format, max_bytes : optional
        As :func:`interpolate_matrix`.

    Returns
    -------
    U : (C * prod(k) * L, C * prod(n)) sparse array of int64
        ``L = prod(output_size)`` windows, as a convolution's output size.
        Row ``(c prod(k) + t) L + l`` holds a 1 at pixel ``(c, l s - p + t d)``
        (per axis), or nothing where that lies in the padding.

    Raises
    ------
    TypeError, ValueError
        As :func:`convmatrix.conv_matrix` for the sizes; a string padding.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    It is the im2col matrix read the other way: for a sample ``x`` of ``C``
    channels, ``U @ x.ravel() == im2col_matrix(x, k, ...).T.ravel()`` (the
    columns of ``im2col_matrix`` are the ``(c, t)`` taps, its rows the windows).

    Examples
    --------
    >>> import numpy as np
    >>> from convmatrix import im2col_matrix
    >>> x = np.arange(1, 7).reshape(1, 2, 3)
    >>> (unfold_matrix((2, 3), 2) @ x.ravel()).reshape(4, 2)
    array([[1, 2],
           [2, 3],
           [4, 5],
           [5, 6]])
    >>> np.array_equal(unfold_matrix((2, 3), 2) @ x.ravel(), im2col_matrix(x, 2).T.toarray().ravel())
    True
    """
    g = _unfold_geometry(input_size, kernel_size, dilation, padding, stride)
    c, format = _common(channels, format, max_bytes)
    L, K, Q = prod(g.output_size), prod(g.kernel_size), prod(g.input_size)
    per_channel = prod(o * k for o, k in zip(g.output_size, g.kernel_size))
    guard((c * K * L, c * Q), c * per_channel, 8, format, max_bytes, working=40 * per_channel)
    return finish(_over_channels(_unfold_one_channel(g), c), format, max_bytes)


def fold_matrix(output_size: IntOrTuple, kernel_size: IntOrTuple, *, dilation: IntOrTuple = 1,
                padding: IntOrTuple = 0, stride: IntOrTuple = 1, channels: int = 1,
                format: str = "csr", max_bytes: int | None = None):
    """The matrix of ``F.fold`` (col2im): ``(C prod(k), L) -> (C, *output_size)``, overlaps summed.

    Derived, not built on its own: it is :func:`unfold_matrix` ``(output_size,
    ...).T``, the adjoint torch defines ``fold`` to be.

    Parameters
    ----------
    output_size : int or tuple of int
        Spatial size of the folded output (``F.fold``'s ``output_size``).
    kernel_size, dilation, padding, stride, channels, format, max_bytes
        As :func:`unfold_matrix`; ``channels`` is ``C`` of the output.

    Returns
    -------
    F : (C * prod(output_size), C * prod(k) * L) sparse array of int64

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`unfold_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> F = fold_matrix(3, 2)                       # two windows of 2 over 3 positions
    >>> F @ np.array([1, 10, 2, 20])                # (t, l) = (0,0) (0,1) (1,0) (1,1)
    array([ 1, 12, 20])
    >>> (F != unfold_matrix(3, 2).T).nnz
    0
    """
    g = _unfold_geometry(output_size, kernel_size, dilation, padding, stride, "output_size")
    c, format = _common(channels, format, max_bytes)
    L, K, Q = prod(g.output_size), prod(g.kernel_size), prod(g.input_size)
    per_channel = prod(o * k for o, k in zip(g.output_size, g.kernel_size))
    guard((c * Q, c * K * L), c * per_channel, 8, format, max_bytes, working=80 * per_channel)
    u = _over_channels(_unfold_one_channel(g), c)
    return finish(canonical(sp.csr_array(u.T)), format, max_bytes)
