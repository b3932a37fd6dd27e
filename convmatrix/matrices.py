"""Layer 3 — matrices: fillings of the tap map.

``conv_matrix`` fills the tap map of a convolution geometry with a kernel's
numbers (dtype kept) or SymPy symbols; ``conv_transpose_matrix`` is its literal
transpose; bias turns either into an affine map without touching them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from math import prod
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
import sympy

from .geometry import ConvGeometry, ConvTransposeGeometry, IntOrTuple, Padding, _ndim_of, normalize_tuple
from .structure import index_dtype, pattern_nnz, tap_map, transposed_tap_map

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MatrixTooLargeError",
    "conv_matrix",
    "conv_transpose_matrix",
    "symbolic_weight",
    "conv_bias_vector",
    "affine_matrix",
    "estimate_size",
    "matrix_bytes",
    "OBJECT_ENTRY_BYTES",
    "SPARSE_FORMATS",
]

#: Largest matrix built without ``max_bytes=`` (4 GiB); the environment variable
#: ``CONVMATRIX_MAX_BYTES`` overrides it for a whole process.
DEFAULT_MAX_BYTES = 4 * 2**30

SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "dok", "lil", "dense")


class MatrixTooLargeError(ValueError):
    """A matrix would exceed the size limit; raised before anything is built.

    A ``ValueError``, so command-line tools report it as bad input.

    Examples
    --------
    >>> import numpy as np
    >>> try:
    ...     conv_matrix(np.ones((8, 8, 3, 3)), (64, 64), padding=1, max_bytes=10**6)
    ... except MatrixTooLargeError as exc:
    ...     print(str(exc)[:60])
    the 32768 x 32768 sparse csr matrix with 2,310,400 stored en
    """


# --------------------------------------------------------------------------- weights
def _detached(value: Any) -> Any:
    """A torch tensor (or ``nn.Parameter``) as its values on the CPU; anything else as it is.

    Read through ``.detach()`` and ``.cpu()``, without importing torch.
    """
    detach = getattr(value, "detach", None)
    if callable(detach) and callable(getattr(value, "cpu", None)):
        return detach().cpu()
    return value


def _as_weight(weight: Any, name: str = "weight") -> tuple[np.ndarray, bool]:
    """Return ``(array, symbolic)``; refuse anything that is not numbers or SymPy expressions."""
    if isinstance(weight, (sympy.NDimArray, sympy.MatrixBase)):
        arr = np.array(weight.tolist(), dtype=object)
        if isinstance(weight, sympy.NDimArray):
            arr = arr.reshape(weight.shape)
    else:
        try:
            arr = np.asarray(_detached(weight))
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of numbers or SymPy expressions: {exc}") from None
    kind = arr.dtype.kind
    if kind in "iuf c".replace(" ", ""):
        if arr.dtype == np.float16:
            raise TypeError(f"{name} has dtype float16, which scipy.sparse does not support: use float32")
        return arr, False
    if kind == "O":
        flat = arr.reshape(-1)
        bad = [v for v in flat if not isinstance(v, (sympy.Basic, int, float, complex))]
        if bad:
            raise TypeError(
                f"{name} must hold numbers or SymPy expressions: got {bad[0]!r} "
                f"of type {type(bad[0]).__name__}"
            )
        return np.array([sympy.sympify(v) for v in flat], dtype=object).reshape(arr.shape), True
    raise TypeError(f"{name} must be numeric (integer, float or complex) or symbolic: got dtype {arr.dtype}")


def symbolic_weight(shape: Sequence[int], name: str = "w") -> np.ndarray:
    """An object array of SymPy symbols ``name_{o,c,i,j}``, one per kernel entry.

    Parameters
    ----------
    shape : tuple of int
        Weight shape in torch layout, e.g. ``(C_out, C_in/groups, kH, kW)``.
    name : str, optional
        Base name of the symbols.

    Returns
    -------
    ndarray of sympy.Symbol, dtype object

    Raises
    ------
    TypeError, ValueError
        For a non-positive size or an empty or non-string ``name``.

    Examples
    --------
    >>> w = symbolic_weight((1, 1, 2, 2))
    >>> w.reshape(-1).tolist()
    [w_{0,0,0,0}, w_{0,0,0,1}, w_{0,0,1,0}, w_{0,0,1,1}]
    >>> conv_matrix(w, (3,))  # doctest: +SKIP
    """
    shape = tuple(int(s) for s in shape)
    if any(s < 1 for s in shape):
        raise ValueError(f"shape={shape} must be positive along every axis")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r} must be a non-empty string")
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sympy.Symbol(f"{name}_{{{','.join(map(str, idx))}}}")
    return out


# --------------------------------------------------------------------------- size guard
#: Approximate bytes per stored entry of the formats that hold Python objects:
#: ``lil`` keeps two lists of Python ints/scalars per row, ``dok`` a dict keyed
#: by index tuples, and a SymPy matrix a dict of SymPy expressions (measured on
#: CPython 3.11; order of magnitude, not exact).
OBJECT_ENTRY_BYTES = {"lil": 100, "dok": 200, "sympy": 1500}
#: Approximate bytes per row of the same formats (``lil``: two list objects and
#: two object-array slots per row, whether the row is empty or not).
OBJECT_ROW_BYTES = {"lil": 128, "dok": 0, "sympy": 0}


def _env_positive_int(name: str) -> int | None:
    """The environment variable ``name`` as a positive integer, or ``None`` when it is unset or empty."""
    env = os.environ.get(name)
    if not env:
        return None
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"the environment variable {name}={env!r} must be a positive integer")
    return value


def _max_bytes(max_bytes: int | None) -> int:
    """The limit in force: ``max_bytes``, else ``CONVMATRIX_MAX_BYTES``, else :data:`DEFAULT_MAX_BYTES`."""
    if max_bytes is None:
        limit = _env_positive_int("CONVMATRIX_MAX_BYTES")
        return DEFAULT_MAX_BYTES if limit is None else limit
    if isinstance(max_bytes, (bool, np.bool_)) or not isinstance(max_bytes, (int, np.integer)):
        raise TypeError(
            f"max_bytes={max_bytes!r} must be a positive integer number of bytes (or None for the "
            f"default), got {type(max_bytes).__name__}"
        )
    if max_bytes < 1:
        raise ValueError(f"max_bytes={max_bytes} must be a positive number of bytes")
    return int(max_bytes)


def matrix_bytes(shape: tuple[int, int], nnz: int, itemsize: int = 8, format: str = "csr") -> int:
    """Bytes a matrix of ``shape`` with ``nnz`` stored entries takes in ``format``.

    Parameters
    ----------
    shape : (int, int)
    nnz : int
        Stored entries.
    itemsize : int, optional
        Bytes per value (8 for float64).
    format : str, optional
        One of :data:`SPARSE_FORMATS`, or ``"sympy"``.

    Returns
    -------
    int

    Exact for ``csr``, ``csc``, ``coo`` and ``"dense"`` (arrays only), an
    approximation from :data:`OBJECT_ENTRY_BYTES` for ``lil``, ``dok`` and
    ``"sympy"`` (a SymPy sparse matrix); ``bsr`` and ``dia`` are counted as
    ``csr`` here, since their size depends on the pattern (the builders check
    ``dia`` again once the pattern is known).

    Examples
    --------
    >>> matrix_bytes((4, 6), 10, 8, "csr")   # data 80 + indices 40 + indptr 20
    140
    >>> matrix_bytes((4, 6), 10, 8, "dense")
    192
    """
    if format != "sympy":
        _check_format(format)
    rows, cols = shape
    if format == "dense":
        return rows * cols * itemsize
    if format in OBJECT_ENTRY_BYTES:
        return nnz * OBJECT_ENTRY_BYTES[format] + rows * OBJECT_ROW_BYTES[format]
    idx = np.dtype(index_dtype(nnz, rows, cols)).itemsize
    if format == "coo":
        return nnz * (itemsize + 2 * idx)
    pointers = cols + 1 if format == "csc" else rows + 1
    return nnz * (itemsize + idx) + pointers * idx


def estimate_size(geometry: ConvGeometry, itemsize: int = 8, format: str = "csr") -> tuple[int, int]:
    """``(nnz, bytes)`` of a convolution matrix, from the geometry alone.

    The count is exact for ``zeros`` padding and a kernel without zero entries,
    and an upper bound otherwise (zero entries are not stored, and in the other
    modes taps that land on the same pixel are summed into one entry).
    Bytes are as :func:`matrix_bytes` counts them for ``format``.

    Parameters
    ----------
    geometry : ConvGeometry
    itemsize : int, optional
        Bytes per value.
    format : str, optional
        As :func:`matrix_bytes`.

    Returns
    -------
    (nnz, bytes) : (int, int)

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((64, 64, 3, 3), (56, 56), padding=1)
    >>> estimate_size(g)
    (112869376, 1355235332)
    """
    nnz = pattern_nnz(geometry)
    return nnz, matrix_bytes(geometry.shape, nnz, itemsize, format)


def _guard_nnz(shape: tuple[int, int], nnz: int, itemsize: int, format: str, max_bytes: int | None,
               what: str = "matrix", working: int = 0) -> None:
    """Refuse, before anything is allocated, a matrix over the size limit.

    ``working`` is the bytes of temporary arrays the builder needs beside the
    matrix; they count against the limit too.
    """
    limit = _max_bytes(max_bytes)
    nbytes = matrix_bytes(shape, nnz, itemsize, format) + working
    if nbytes > limit:
        rows, cols = shape
        kind = {"dense": "dense ", "sympy": "symbolic "}.get(format, f"sparse {format} ")
        extra = f", {working:,} of them working arrays" if working else ""
        raise MatrixTooLargeError(
            f"the {rows} x {cols} {kind}{what} with {nnz:,} stored entries would take about "
            f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes{extra}), over max_bytes={limit:,}: "
            f"pass a larger max_bytes= or set CONVMATRIX_MAX_BYTES"
        )


def _guard(geometry: ConvGeometry, itemsize: int, format: str, max_bytes: int | None,
           transposed: bool = False) -> None:
    nnz = estimate_size(geometry)[0]
    _guard_nnz(geometry.shape[::-1] if transposed else geometry.shape, nnz, itemsize, format, max_bytes)


def _csr_entry_chunks(a, chunk: int = 1 << 22):
    """``(rows, cols, data)`` of a CSR array's entries, about ``chunk`` entries at a time.

    Each chunk holds whole rows, so no nnz-sized temporary is made; ``rows``
    and ``cols`` are int64.
    """
    n = a.shape[0]
    step = max(1, chunk // max(1, a.nnz // max(1, n)))
    for start in range(0, n, step):
        stop = min(n, start + step)
        lo, hi = int(a.indptr[start]), int(a.indptr[stop])
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(a.indptr[start:stop + 1]))
        yield rows, a.indices[lo:hi].astype(np.int64), a.data[lo:hi]


def _diagonal_count(a: sp.csr_array, chunk: int = 1 << 22) -> int:
    """Distinct diagonals of a CSR array, in chunks of rows (no nnz-sized temporaries)."""
    offsets = np.empty(0, dtype=np.int64)
    for rows, cols, _ in _csr_entry_chunks(a, chunk):
        offsets = np.union1d(offsets, cols - rows)
    return offsets.size


def _finish(a: sp.csr_array, format: str, max_bytes: int | None = None, what: str = "matrix"):
    """A canonical CSR array in ``format``; ``dia`` is checked against the limit by its real size."""
    if format == "csr":
        return a
    if format == "dense":
        return a.toarray()
    if format == "dia":
        nbytes = _diagonal_count(a) * a.shape[1] * a.dtype.itemsize
        limit = _max_bytes(max_bytes)
        if nbytes > limit:
            raise MatrixTooLargeError(
                f"the {a.shape[0]} x {a.shape[1]} {what} in 'dia' format would take about "
                f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes: one row of {a.shape[1]} per "
                f"diagonal), over max_bytes={limit:,}: use 'csr', or pass a larger max_bytes= "
                f"or set CONVMATRIX_MAX_BYTES"
            )
    return a.asformat(format)


def _check_format(format: str) -> None:
    if format not in SPARSE_FORMATS:
        raise ValueError(f"format={format!r} is not one of {', '.join(map(repr, SPARSE_FORMATS))}")


# --------------------------------------------------------------------------- building
def _csr_arrays(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> sp.csr_array:
    """Wrap canonical CSR arrays (sorted, unique) in a csr_array without copying or re-checking them."""
    a = sp.csr_array(shape, dtype=data.dtype)
    a.data, a.indices, a.indptr = data, indices, indptr
    a.has_sorted_indices = True
    a.has_canonical_format = True
    return a


def _canonical(a, *, drop_zeros: bool = True) -> sp.csr_array:
    """``a`` as canonical CSR (sorted, no duplicates; no stored zeros unless ``drop_zeros=False``).

    A canonical ``csr_array`` is not copied or rescanned (only its data, for zeros).
    """
    if not (isinstance(a, sp.csr_array) and a.has_canonical_format):
        a = sp.csr_array(a)
        a.sum_duplicates()
    if drop_zeros:
        a.eliminate_zeros()
    return a


def _csr(tm, data: np.ndarray) -> sp.csr_array:
    """The matrix of a tap map whose data array is ``data``."""
    return _csr_arrays(tm.shape, data, tm.indices, tm.indptr)


#: Above this many stored entries, the column indices are written by a second
#: thread while the data is filled (numpy releases the GIL; both are memory-bound).
PARALLEL_FILL_NNZ = 1 << 22


def _threads() -> int:
    """Threads a builder may use: ``CONVMATRIX_THREADS`` if set (1 turns threading off), else the CPUs."""
    return _env_positive_int("CONVMATRIX_THREADS") or os.cpu_count() or 1


def _filled(tm, weight: np.ndarray) -> sp.csr_array:
    """The tap map filled with ``weight``, without stored zeros.

    A zero can only come from a zero kernel entry or, where taps are summed
    (non-zero padding modes), from taps that cancel; only then is the data scanned.
    """
    if tm.nnz >= PARALLEL_FILL_NNZ and _threads() > 1:
        with ThreadPoolExecutor(1) as pool:
            indices = pool.submit(lambda: tm.indices)
            data = tm.fill(weight)
            a = _csr_arrays(tm.shape, data, indices.result(), tm.indptr)
    else:
        a = _csr(tm, tm.fill(weight))
    if tm.has_duplicates or not np.all(weight):
        a.eliminate_zeros()
    return a


def _sympy_csr(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray,
               indptr: np.ndarray) -> sympy.ImmutableSparseMatrix:
    """A SymPy sparse matrix from CSR arrays of SymPy expressions (zeros not stored)."""
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    entries = {(int(r), int(c)): v for r, c, v in zip(rows, indices, data) if v != 0}
    return sympy.ImmutableSparseMatrix(*shape, entries)


def _symbolic(tm, weight: np.ndarray) -> sympy.ImmutableSparseMatrix:
    return _sympy_csr(tm.shape, tm.fill(weight), tm.indices, tm.indptr)


def _build(weight: np.ndarray, symbolic: bool, geometry: ConvGeometry, format: str, max_bytes):
    _check_format(format)
    _guard(geometry, weight.dtype.itemsize, "sympy" if symbolic else format, max_bytes)
    tm = tap_map(geometry)
    if symbolic:
        return _symbolic(tm, weight)
    return _finish(_filled(tm, weight), format, max_bytes)


def conv_matrix(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    format: str = "csr",
    flip: bool = False,
    max_bytes: int | None = None,
):
    """The matrix of an N-d convolution layer (PyTorch's ``ConvNd`` without bias).

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *kernel_size)
        Numbers (dtype kept: integer kernels give integer matrices) or SymPy
        expressions (see :func:`symbolic_weight`).
    input_size : int or tuple of int
        Spatial size of the input; channels come from the weight.
    stride, dilation : int or tuple of int, optional
    padding : int, tuple, (lo, hi) pairs, "same" or "valid", optional
    groups : int, optional
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, optional
    format : str, optional
        A ``scipy.sparse`` format name (``"csr"`` default) or ``"dense"``
        (ndarray).  Ignored for symbolic weights, which give a
        ``sympy.ImmutableSparseMatrix``.
    flip : bool, optional
        ``True`` for a true convolution (kernel flipped along its spatial axes,
        as ``scipy.signal.convolve``); ``False`` (default) for PyTorch's cross-
        correlation.  With ``padding="same"`` and an even kernel, a true
        convolution puts the extra zero first, as ``numpy.convolve``.
    max_bytes : int, optional
        Refuse matrices larger than this (default :data:`DEFAULT_MAX_BYTES`).

    Returns
    -------
    A : (C_out * prod(output_size), C_in * prod(input_size)) sparse array, ndarray or sympy matrix
        Acting on ``x.reshape(-1)`` for one sample ``x`` of shape ``(C_in, *input_size)``.

    Raises
    ------
    TypeError, ValueError
        On bad parameters, naming the parameter, its value and the rule.
    MatrixTooLargeError
        Before building, when the matrix would exceed ``max_bytes``.

    Notes
    -----
    With ``zeros`` padding, row ``r = o * P + p`` and column ``c = i * Q + q``
    (``p``, ``q`` flat output and input positions in C order) hold
    ``A[r, c] = weight[o, i - g * Cg, t]`` where ``g = o // (C_out / groups)`` is
    the group, ``Cg = C_in / groups``, and the multi-index ``t`` solves
    ``q_a = p_a * stride_a - pad_lo_a + t_a * dilation_a`` on every axis; all other
    entries are zero and not stored.  Other padding modes map out-of-range
    positions back into the image and sum the taps that meet.  The result is
    canonical CSR (sorted, unique indices; int32 while they fit).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[[1, 2, 3]]])
    >>> conv_matrix(w, 4, padding=1).toarray()
    array([[2, 3, 0, 0],
           [1, 2, 3, 0],
           [0, 1, 2, 3],
           [0, 0, 1, 2]])

    It is the layer: compare with a direct computation.

    >>> rng = np.random.default_rng(0)
    >>> w, x = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((3, 7, 6))
    >>> A = conv_matrix(w, (7, 6), stride=2, padding=1)
    >>> xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    >>> y = np.array([[[np.sum(w[o] * xp[:, 2*i:2*i+3, 2*j:2*j+3]) for j in range(3)]
    ...                for i in range(4)] for o in range(4)])
    >>> np.allclose(A @ x.reshape(-1), y.reshape(-1))
    True
    """
    w, symbolic = _as_weight(weight)
    geometry = ConvGeometry.from_weight_shape(
        w.shape, input_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
        padding_mode=padding_mode, convolution=flip,
    )
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * geometry.ndim]
    return _build(w, symbolic, geometry, format, max_bytes)


def conv_transpose_matrix(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    format: str = "csr",
    max_bytes: int | None = None,
):
    """The matrix of an N-d transposed convolution (PyTorch's ``ConvTransposeNd``, no bias).

    Derived, never built on its own: it is ``conv_matrix(weight, output_size,
    ...).T`` for the convolution whose input is this layer's output, keeping the
    first ``prod(input_size)`` positions per channel when ``output_padding >=
    stride`` gives that convolution more outputs than this layer has inputs.

    Parameters
    ----------
    weight : array_like, shape (C_in, C_out/groups, *kernel_size)
        Torch's transposed layout, which is the conv layout of the convolution
        it transposes.
    input_size : int or tuple of int
        Spatial size of the input.
    stride, dilation, groups : optional
    padding : int, tuple or (lo, hi) pairs, optional
        Removed from the output, as torch's ``padding``.
    output_padding : int or tuple of int, optional
        Extra output positions on the high side; smaller than stride or dilation.
    format, max_bytes : optional
        As :func:`conv_matrix`.

    Returns
    -------
    T : (C_out * prod(output_size), C_in * prod(input_size)) sparse array, ndarray or sympy matrix

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`conv_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[[[2, 3], [4, 5]]]])
    >>> T = conv_transpose_matrix(w, (2, 2), stride=2)
    >>> (T @ np.array([1, 0, 2, 3])).reshape(4, 4)
    array([[ 2,  3,  0,  0],
           [ 4,  5,  0,  0],
           [ 4,  6,  6,  9],
           [ 8, 10, 12, 15]])
    >>> A = conv_matrix(w, (4, 4), stride=2)
    >>> (T != A.T).nnz
    0
    """
    w, symbolic = _as_weight(weight)
    tg = ConvTransposeGeometry.from_weight_shape(
        w.shape, input_size, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation,
    )
    _check_format(format)
    _guard(tg.conv, w.dtype.itemsize, "sympy" if symbolic else format, max_bytes, transposed=True)
    # A.T filled straight from the conv's tap map read column by column (A's CSC arrays)
    tm = transposed_tap_map(tg.conv)
    if symbolic:
        return _symbolic(tm, w)
    return _finish(_filled(tm, w), format, max_bytes)


# --------------------------------------------------------------------------- bias
def conv_bias_vector(bias: Any, output_size: IntOrTuple) -> np.ndarray:
    """The bias of a convolution layer as a vector over its flattened output.

    Parameters
    ----------
    bias : array_like, shape (C_out,)
    output_size : int or tuple of int
        Spatial output size.

    Returns
    -------
    b : (C_out * prod(output_size),) ndarray
        ``bias[o]`` repeated over the output positions of channel ``o``.

    Raises
    ------
    TypeError, ValueError
        For a bias that is not a 1-d array of numbers or SymPy expressions, or
        an output size that is not a positive integer per axis.

    Examples
    --------
    >>> conv_bias_vector([1, 2], (2,))
    array([1, 1, 2, 2])
    """
    b, symbolic = _as_weight(bias, "bias")
    if b.ndim != 1:
        raise ValueError(f"bias must have shape (out_channels,): got shape {b.shape}")
    ndim = _ndim_of(output_size) or 1
    sizes = normalize_tuple(output_size, ndim, "output_size")
    return np.repeat(b, prod(sizes))


def affine_matrix(A, b, *, format: str = "csr"):
    """The homogeneous matrix ``[[A, b], [0, 1]]`` of the affine map ``x -> A x + b``.

    Use it to keep a biased layer a single matrix: ``H @ [x, 1] = [A x + b, 1]``,
    and products of such matrices compose biased layers.

    Parameters
    ----------
    A : sparse array, ndarray or sympy matrix, shape (m, n)
    b : array_like, shape (m,)
    format : str, optional
        Output format for numeric input (``"dense"`` for ndarray).

    Returns
    -------
    H : (m + 1, n + 1) matrix of the same kind as ``A``
        (a SymPy matrix when ``b`` is symbolic).

    Raises
    ------
    TypeError, ValueError
        When ``A`` is not a 2-d sparse array, ndarray or SymPy matrix, ``b`` is
        not numbers or SymPy expressions, or their sizes differ.

    Examples
    --------
    >>> import numpy as np
    >>> w, bias = np.array([[[1, 2, 3]]]), np.array([10])
    >>> A = conv_matrix(w, 4)
    >>> H = affine_matrix(A, conv_bias_vector(bias, 2))
    >>> H @ np.array([1, 1, 1, 1, 1])
    array([16, 16,  1])
    """
    if isinstance(A, np.ndarray) or sp.issparse(A):
        if A.ndim != 2:
            raise ValueError(f"A must be a matrix (2-d): got shape {A.shape}")
        if A.dtype.kind not in "biufc":
            raise TypeError(f"A must be numeric or a SymPy matrix: got dtype {A.dtype}")
    elif not isinstance(A, sympy.MatrixBase):
        raise TypeError(
            f"A must be a scipy sparse array, an ndarray or a SymPy matrix: got {type(A).__name__}"
        )
    b, symbolic = _as_weight(b, "b")
    b = b.reshape(-1)
    if b.size != A.shape[0]:
        raise ValueError(f"b has {b.size} entries but A has {A.shape[0]} rows: they must match")
    if symbolic or isinstance(A, sympy.MatrixBase):  # a symbolic bias makes the map symbolic
        m, n = A.shape
        if isinstance(A, sympy.MatrixBase):
            entries = dict(A.todok())
        else:
            coo = sp.coo_array(A)
            _guard_nnz((m + 1, n + 1), coo.nnz + m + 1, 8, "sympy", None)
            entries = {(int(r), int(c)): sympy.sympify(v) for r, c, v in zip(coo.row, coo.col, coo.data) if v != 0}
        entries.update({(i, n): sympy.sympify(v) for i, v in enumerate(b.tolist()) if v != 0})
        entries[(m, n)] = sympy.Integer(1)
        return sympy.ImmutableSparseMatrix(m + 1, n + 1, entries)
    _check_format(format)
    dtype = np.result_type(A.dtype, b.dtype)
    m, n = A.shape
    H = sp.block_array(
        [[sp.csr_array(A), sp.csr_array(b.reshape(-1, 1))],
         [None, sp.csr_array(np.ones((1, 1), dtype=dtype))]],
        format="csr", dtype=dtype,
    )
    H.eliminate_zeros()
    if format == "dense":
        return H.toarray()
    return H.asformat(format)
