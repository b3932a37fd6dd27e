"""Max pooling through switches: the pooling ``P_s`` and unpooling ``U_s`` matrices.

Max pooling is not linear, but once the *switches* ``s`` (where each window's
maximum sits) are known, both directions are: pooling keeps the entries at the
switches, ``p = P_s x``, and unpooling puts pooled values back there,
``x̂ = U_s p`` with ``U_s = P_sᵀ`` exactly (Zeiler, Taylor & Fergus, 2011).

:func:`max_pool_switches` computes the switches of one sample ``x`` of shape
``(C, *spatial)`` with the semantics of ``torch.nn.functional.max_pool{1,2,3}d``
(any number of spatial axes; ``padding``, ``dilation``, ``ceil_mode``; torch's
tie-breaking), plus Zeiler's 3-D pooling across groups of ``channel_pool``
consecutive feature maps.  :func:`pool_matrix` and :func:`unpool_matrix` turn
them into sparse 0/1 matrices.

Tie-breaking (as torch 2.x on the CPU, checked by the tests): each window is
scanned in increasing input position (channel first, then the spatial axes in
C order) and a later entry replaces the current maximum only if it is strictly
greater, so **the lowest flat index among equal maxima wins**.  Padding never
wins: it is ``-inf`` for torch, and here it is simply not a candidate (a window
whose real entries are all ``-inf`` picks its first real entry, as torch).
A NaN always wins, and among several NaNs the last one does (torch's
``val > max || isnan(val)`` rule).

Overlapping windows (``stride < kernel_size``) may share a switch.  Then the
row of ``U_s = P_sᵀ`` of that input position holds several ones and ``U_s p``
*sums* the pooled values that go there, while ``torch.nn.functional.max_unpool``
*overwrites* (one of them survives).  Both agree wherever switches are
distinct, in particular for non-overlapping windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from ._display import Displayable
from ._limits import as_format, as_max_bytes, guard, index_dtype
from ._sparse import csr_arrays, finish
from ._validation import (InputTypeError, InputValueError, as_array, as_bool, as_int, as_instance, is_integer,
                          is_sequence, show)
from .geometry import IntOrTuple, PoolGeometry
from .structure import tap_map

__all__ = ["MaxPool", "Switches", "max_pool_switches", "pool_matrix", "unpool_matrix", "max_pool_output_size"]


# --------------------------------------------------------------------------- sizes
def max_pool_output_size(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Spatial output size of a max pooling, as ``torch.nn.MaxPoolNd``.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
    stride : int or tuple of int, optional
        Defaults to ``kernel_size``.
    padding : int or tuple of int, optional
        Symmetric; at most ``kernel_size // 2``.
    dilation : int or tuple of int, optional
    ceil_mode : bool, optional
        Round up, but never start a window in the right padding.

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError, ValueError
        On bad parameters, an empty output, or a window that sees only
        padding (possible with dilation), naming the parameter.

    Examples
    --------
    >>> max_pool_output_size((5, 6), 2)
    (2, 3)
    >>> max_pool_output_size(5, 2, ceil_mode=True)
    (3,)
    """
    return PoolGeometry.from_args(input_size, kernel_size, stride, padding, dilation, ceil_mode).output_size


# --------------------------------------------------------------------------- switches
@dataclass(frozen=True, eq=False)
class Switches(Displayable):
    """Where each pooling window's maximum sits: everything ``P_s`` and ``U_s`` need.

    Attributes
    ----------
    input_shape : tuple of int
        ``(C, *spatial)`` of the pooled sample.
    output_shape : tuple of int
        ``(C // channel_pool, *output_size)``.
    indices : ndarray of int64, shape ``output_shape``
        Flat positions in ``x.reshape(-1)`` of the maxima.
    kernel_size, stride, padding, dilation, ceil_mode, channel_pool
        The pooling that produced them.

    Examples
    --------
    >>> import numpy as np
    >>> s = max_pool_switches(np.array([[[1, 5], [7, 2]]]), 2)
    >>> s.indices, s.pool(np.array([[[1, 5], [7, 2]]]))
    (array([[[2]]]), array([[[7]]]))
    """

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    indices: np.ndarray
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool = False
    channel_pool: int = 1

    @property
    def n_in(self) -> int:
        """Length of the flattened input."""
        return prod(self.input_shape)

    @property
    def n_out(self) -> int:
        """Length of the flattened pooled output (the number of switches)."""
        return prod(self.output_shape)

    @property
    def torch_indices(self) -> np.ndarray:
        """The indices ``max_pool{1,2,3}d(return_indices=True)`` returns: flat per channel plane.

        Only for spatial pooling (``channel_pool == 1``).

        Examples
        --------
        >>> import numpy as np
        >>> x = np.arange(8).reshape(2, 4)
        >>> max_pool_switches(x, 2).torch_indices
        array([[1, 3],
               [1, 3]])
        """
        if self.channel_pool != 1:
            raise InputValueError(
                f"torch_indices is only defined for spatial pooling: channel_pool={self.channel_pool} "
                f"pools across feature maps (use .indices, flat over the whole sample)", "channel_pool")
        plane = prod(self.input_shape[1:])
        return self.indices % plane

    def pool(self, x: Any) -> np.ndarray:
        """``P_s x``: the entries of ``x`` at the switches, shape ``output_shape``.

        Examples
        --------
        >>> import numpy as np
        >>> x = np.array([[3, 1, 4, 1, 5, 9]])
        >>> s = max_pool_switches(x, 2)
        >>> s.pool(-x)
        array([[-3, -4, -9]])
        """
        x = as_array(x, "x", kinds="iufc", rule="must be an array of numbers")
        if x.size != self.n_in:
            raise InputValueError(f"x has {x.size} entries but the switches pool {self.input_shape}: they must match",
                                  "x")
        return x.reshape(-1)[self.indices]

    def unpool(self, y: Any) -> np.ndarray:
        """``U_s y``: pooled values put back at the switches (summed where switches coincide).

        Returns shape ``input_shape``; equals ``unpool_matrix(self) @ y.reshape(-1)``.

        Examples
        --------
        >>> import numpy as np
        >>> s = max_pool_switches(np.array([[3, 1, 4, 1, 5, 9]]), 2)
        >>> s.unpool([[10, 20, 30]])
        array([[10,  0, 20,  0,  0, 30]])
        """
        y = as_array(y, "y", kinds="iufc", rule="must be an array of numbers")
        if y.size != self.n_out:
            raise InputValueError(
                f"y has {y.size} entries but the switches have {self.n_out} = prod{self.output_shape}: they must match",
                "y")
        out = np.zeros(self.n_in, dtype=np.result_type(y.dtype, np.int64) if y.dtype.kind in "biu" else y.dtype)
        np.add.at(out, self.indices.reshape(-1), y.reshape(-1))
        return out.reshape(self.input_shape)


def _as_samples(x: Any) -> np.ndarray:
    arr = as_array(x, "x", rule="must hold real numbers (integer or float)")
    if arr.ndim < 2 or min(arr.shape) < 1:
        raise InputValueError(
            f"x must have shape (C, *spatial) with at least one spatial axis and positive sizes: "
            f"got shape {arr.shape}", "x")
    return arr


def _windows(C: int, g: int, pool: PoolGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    """Every window's candidates, from the tap map of the spatial windows.

    Returns ``flat`` of shape ``(C // g * prod(out), g * prod(k))``: row ``r`` holds
    the flat positions in ``x.reshape(-1)`` of window ``r``'s entries in increasing
    order (map by map; within a map, the tap map's sorted row), which gives torch's
    tie-breaking.  Where a window overhangs the input its row is padded at the end,
    and ``valid`` marks the real entries; ``valid`` is ``None`` when none overhangs.
    """
    tm = tap_map(pool.window_geometry())
    k = pool.kernel_size
    cols, indptr = tm.row_cols, tm.row_indptr
    P, K = indptr.size - 1, prod(k)
    if cols.size == P * K:  # every window whole: the rows are a dense block
        spatial, valid = cols.reshape(P, K), None
    else:
        lengths = np.diff(indptr)
        slot = np.repeat(np.arange(P) * K - indptr[:-1], lengths) + np.arange(cols.size)
        spatial = np.zeros(P * K, dtype=cols.dtype)
        valid = np.zeros(P * K, dtype=bool)
        spatial[slot] = cols
        valid[slot] = True
        spatial, valid = spatial.reshape(P, K), valid.reshape(P, 1, K)
    # map c of block b is b * g + c: offsets (C // g, 1, g, 1), windows (1, P, 1, K)
    plane = prod(pool.input_size)
    it = index_dtype(C * plane)
    offsets = (np.arange(C, dtype=it) * plane).reshape(C // g, 1, g, 1)
    flat = (offsets + spatial.astype(it)[None, :, None, :]).reshape(C // g * P, g * K)
    if valid is not None:
        valid = np.broadcast_to(valid[None], (C // g, P, g, K)).reshape(flat.shape)
    return flat, valid


def _magnitude(vals: np.ndarray) -> np.ndarray:
    """``|vals|`` that cannot overflow: a signed integer's is read as its unsigned twin.

    ``np.abs(np.int8(-128))`` is ``-128``; the same bits read as ``uint8`` are ``128``,
    and every other magnitude is unchanged.
    """
    mag = np.abs(vals)
    if mag.dtype.kind == "i":
        mag = mag.view(mag.dtype.str.replace("i", "u"))
    return mag


def max_pool_switches(
    x: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    channel_pool: int = 1,
    absolute: bool = False,
) -> Switches:
    """The switches of a max pooling of one sample ``x`` of shape ``(C, *spatial)``.

    Spatially this is ``torch.nn.functional.max_pool{N}d`` for any ``N``;
    ``channel_pool`` adds Zeiler's 3-D pooling across feature maps.

    Parameters
    ----------
    x : array_like, shape (C, *spatial)
        Real numbers (integer or float).
    kernel_size : int or tuple of int
        Spatial window.
    stride : int or tuple of int, optional
        Defaults to ``kernel_size``.
    padding : int or tuple of int, optional
        Implicit ``-inf`` on both sides of each axis; at most ``kernel_size // 2``
        (torch's rule).
    dilation : int or tuple of int, optional
    ceil_mode : bool, optional
        As torch: round the output size up, but a window may not start in the
        right padding.
    channel_pool : int, optional
        Zeiler's 3-D pooling: also take the maximum over blocks of this many
        consecutive feature maps (non-overlapping, so ``C`` must be a
        multiple).  The output has ``C // channel_pool`` maps.  ``1`` (default)
        is plain spatial pooling.
    absolute : bool, optional
        Compare ``|x|`` instead of ``x`` (the switches then mark the largest
        magnitude, whose signed value :meth:`Switches.pool` keeps).  Used for
        signed feature maps in Zeiler's inference.  Magnitudes of signed
        integers are compared as unsigned integers of the same width, so the
        minimum (``int8`` ``-128``) has the largest magnitude, ``128``.

    Returns
    -------
    Switches

    Raises
    ------
    TypeError
        If ``x`` is not real numbers, or a parameter is not an integer.
    ValueError
        On a bad shape or parameter (non-positive sizes, padding over half the
        kernel, an empty output, ``C`` not a multiple of ``channel_pool``).

    Notes
    -----
    Switch ``indices[c', j]`` is the flat position in ``x.reshape(-1)`` of the
    maximum over the window ``{(c, q) : c'·g <= c < (c'+1)·g, q_a = j_a s_a - p_a
    + t_a d_a, 0 <= q_a < n_a}`` with ``g = channel_pool``; among equal maxima
    the lowest position wins (torch's rule, see the module notes).

    The spatial windows are the rows of the tap map
    (:func:`convmatrix.structure.tap_map`) of a one-channel convolution with the
    pooling's kernel size, stride, padding and dilation (in ceil mode, extra
    padding on the high side), the structure the sum and average pooling
    matrices of :mod:`convmatrix.resample` are filled from.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[1, 5, 5, 1],
    ...                [5, 5, 1, 1],
    ...                [0, 0, 2, 3],
    ...                [0, 4, 1, 1]]])
    >>> s = max_pool_switches(x, 2)
    >>> s.indices            # the first of the tied 5s wins
    array([[[ 1,  2],
            [13, 11]]])
    >>> s.pool(x)
    array([[[5, 5],
            [4, 3]]])

    Zeiler's 2×2×2 pooling: two maps pooled into one.

    >>> z = np.arange(32).reshape(2, 4, 4) % 7
    >>> s3 = max_pool_switches(z, 2, channel_pool=2)
    >>> s3.output_shape, s3.pool(z)
    ((1, 2, 2), array([[[6, 6],
            [6, 6]]]))

    By magnitude, without overflow at the integer minimum:

    >>> w = np.array([[5, -128, 100, 127]], dtype=np.int8)
    >>> max_pool_switches(w, 4, absolute=True).pool(w)
    array([[-128]], dtype=int8)
    """
    arr = _as_samples(x)
    C, n = arr.shape[0], arr.shape[1:]
    pool = PoolGeometry.from_args(n, kernel_size, stride, padding, dilation, ceil_mode, ndim=arr.ndim - 1)
    channel_pool = as_int(channel_pool, "channel_pool", minimum=1)
    absolute = as_bool(absolute, "absolute")
    if C % channel_pool:
        raise InputValueError(
            f"channel_pool={channel_pool} must divide the number of feature maps C={C} "
            f"(blocks of maps do not overlap)", "channel_pool")
    out = pool.output_size
    g = int(channel_pool)
    c_out = C // g

    flat, valid = _windows(C, g, pool)
    vals = arr.reshape(-1)[flat]
    if absolute:
        vals = _magnitude(vals)
    if valid is None:  # every window lies wholly inside the input
        masked = vals
    else:
        lowest = -np.inf if vals.dtype.kind == "f" else np.iinfo(vals.dtype).min
        masked = np.where(valid, vals, lowest)
    with np.errstate(invalid="ignore"):
        best = masked.max(axis=1, keepdims=True)
        hit = masked == best if valid is None else valid & (masked == best)
        winner = np.argmax(hit, axis=1)  # first (lowest position) among maxima
    if vals.dtype.kind == "f":
        isnan = np.isnan(vals) if valid is None else valid & np.isnan(vals)
        rows = isnan.any(axis=1)
        if rows.any():  # torch: a NaN always wins, the last one among several
            last = isnan.shape[1] - 1 - np.argmax(isnan[:, ::-1], axis=1)
            winner = np.where(rows, last, winner)
    idx = np.take_along_axis(flat, winner[:, None], axis=1)[:, 0].astype(np.int64)
    return Switches(
        input_shape=tuple(arr.shape),
        output_shape=(c_out, *out),
        indices=idx.reshape(c_out, *out),
        kernel_size=pool.kernel_size,
        stride=pool.stride,
        padding=pool.padding,
        dilation=pool.dilation,
        ceil_mode=pool.ceil_mode,
        channel_pool=g,
    )


@dataclass(frozen=True)
class MaxPool(Displayable):
    """A max pooling, as parameters: call :meth:`switches` on a sample to get its switches.

    Parameters are those of :func:`max_pool_switches`.

    Examples
    --------
    >>> import numpy as np
    >>> pool = MaxPool(2, channel_pool=2)
    >>> pool.output_shape((8, 70, 70))
    (4, 35, 35)
    >>> pool.switches(np.ones((2, 2, 2))).indices
    array([[[0]]])
    """

    kernel_size: IntOrTuple
    stride: IntOrTuple | None = None
    padding: IntOrTuple = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False
    channel_pool: int = 1
    absolute: bool = False

    def __post_init__(self):
        lengths = set()
        for name, minimum, optional in (("kernel_size", 1, False), ("stride", 1, True), ("padding", 0, False),
                                        ("dilation", 1, False)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            entries = tuple(value) if is_sequence(value) else (value,)
            if is_sequence(value):
                if not entries:
                    raise InputValueError(f"{name}=() must have one entry per spatial axis", name)
                lengths.add(len(entries))
            for v in entries:
                if not is_integer(v):
                    raise InputTypeError(f"{name}={show(value)} must be an integer or a tuple of integers, not a "
                                         f"{type(v).__name__}", name)
                as_int(v, name, minimum=minimum)
            object.__setattr__(self, name, tuple(int(v) for v in entries) if is_sequence(value) else int(value))
        if len(lengths) > 1:
            raise InputValueError(
                f"kernel_size={show(self.kernel_size)}, stride={show(self.stride)}, padding={show(self.padding)}, "
                f"dilation={show(self.dilation)} must give the same number of spatial axes", "kernel_size")
        object.__setattr__(self, "ceil_mode", as_bool(self.ceil_mode, "ceil_mode"))
        object.__setattr__(self, "channel_pool", as_int(self.channel_pool, "channel_pool", minimum=1))
        object.__setattr__(self, "absolute", as_bool(self.absolute, "absolute"))

    def switches(self, x: Any) -> Switches:
        """:func:`max_pool_switches` of ``x`` with these parameters."""
        return max_pool_switches(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            channel_pool=self.channel_pool, absolute=self.absolute,
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C // channel_pool, *output_size)`` for an input of shape ``(C, *spatial)``.

        Raises
        ------
        TypeError, ValueError
            If ``input_shape`` is not ``(C, *spatial)`` positive integers, or the
            pooling does not fit it.
        """
        from ._validation import as_shape

        input_shape = as_shape(input_shape, "input_shape", min_len=2)
        C = input_shape[0]
        if C % self.channel_pool:
            raise InputValueError(
                f"channel_pool={self.channel_pool} must divide the number of feature maps C={C} "
                f"(blocks of maps do not overlap)", "input_shape")
        out = max_pool_output_size(tuple(input_shape[1:]), self.kernel_size, self.stride, self.padding,
                               self.dilation, self.ceil_mode)
        return (C // self.channel_pool, *out)


# --------------------------------------------------------------------------- matrices
def _check_switches(switches: Any) -> Switches:
    return as_instance(switches, "switches", Switches, "a Switches object from max_pool_switches")


def _check_ones_dtype(dtype) -> np.dtype:
    if isinstance(dtype, (bool, int, float)) or dtype is None:
        raise InputTypeError(f"dtype={show(dtype)} is not a numpy dtype", "dtype")
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise InputTypeError(f"dtype={show(dtype)} is not a numpy dtype", "dtype") from None
    if dt.kind not in "iufc" or dt == np.float16:
        raise InputTypeError(f"dtype={show(dtype)} must be an integer, float32/float64 or complex dtype", "dtype")
    return dt


def pool_matrix(switches: Switches, *, dtype: Any = np.int64, format: str = "csr", max_bytes: int | None = None):
    """``P_s``: the 0/1 matrix that pools by the switches, ``P_s @ x.ravel() == s.pool(x).ravel()``.

    Parameters
    ----------
    switches : Switches
    dtype : dtype, optional
        Of the ones (``int64`` default, so integer products stay exact).
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, a matrix over this many bytes (see
        :func:`convmatrix.conv_matrix`).

    Returns
    -------
    P : (prod(output_shape), prod(input_shape)) sparse array
        ``P[r, c] = 1`` iff ``c == switches.indices.flat[r]``; one entry per row.

    Raises
    ------
    TypeError, ValueError
        If ``switches`` is not a :class:`Switches`, or on a bad dtype or format.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[3, 1, 4, 1, 5, 9]])
    >>> P = pool_matrix(max_pool_switches(x, 2))
    >>> P.toarray()
    array([[1, 0, 0, 0, 0, 0],
           [0, 0, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 1]])
    >>> P @ x.ravel()
    array([3, 4, 9])
    """
    s = _check_switches(switches)
    dt = _check_ones_dtype(dtype)
    format = as_format(format)
    as_max_bytes(max_bytes)
    m, n = s.n_out, s.n_in
    guard((m, n), m, dt.itemsize, format, max_bytes)
    it = index_dtype(m, n)
    P = csr_arrays((m, n), np.ones(m, dtype=dt), s.indices.reshape(-1).astype(it), np.arange(m + 1, dtype=it))
    return finish(P, format, max_bytes)


def unpool_matrix(switches: Switches, *, dtype: Any = np.int64, format: str = "csr", max_bytes: int | None = None):
    """``U_s``: the 0/1 matrix that unpools by the switches; ``U_s == P_s.T`` exactly.

    Built on its own (rows sorted by input position), so that ``U_s == P_s.T``
    is a check, not a definition.

    Parameters
    ----------
    switches : Switches
    dtype : dtype, optional
        Of the ones (``int64`` default).
    format, max_bytes : optional
        As :func:`pool_matrix`.

    Returns
    -------
    U : (prod(input_shape), prod(output_shape)) sparse array
        ``U[c, r] = 1`` iff ``c == switches.indices.flat[r]``.  Where
        overlapping windows share a switch, row ``c`` holds several ones and
        ``U @ y`` sums them; ``torch.nn.functional.max_unpool`` overwrites.

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`pool_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> s = max_pool_switches(np.array([[0, 3, 1, 2]]), 2, stride=1)  # overlapping windows
    >>> U = unpool_matrix(s)
    >>> U @ np.array([10, 20, 30])   # the middle window's max is the first's: summed
    array([ 0, 30,  0, 30])
    >>> (U != pool_matrix(s).T).nnz
    0
    """
    s = _check_switches(switches)
    dt = _check_ones_dtype(dtype)
    format = as_format(format)
    as_max_bytes(max_bytes)
    m, n = s.n_out, s.n_in
    guard((n, m), m, dt.itemsize, format, max_bytes)
    it = index_dtype(m, n)
    rows = s.indices.reshape(-1)
    order = np.argsort(rows, kind="stable")  # within a row, columns (outputs) increase
    indptr = np.zeros(n + 1, dtype=it)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    U = csr_arrays((n, m), np.ones(m, dtype=dt), order.astype(it), indptr)
    return finish(U, format, max_bytes)
