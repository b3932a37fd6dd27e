"""Layer 3 — matrices: fillings of the tap map.

``conv_matrix`` fills the tap map of a convolution geometry with a kernel's
numbers (dtype kept) or SymPy symbols; ``conv_transpose_matrix`` is its literal
transpose; bias turns either into an affine map without touching them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from math import prod
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ._limits import (
    DEFAULT_MAX_BYTES,
    SYMBOLIC_ENTRY_BYTES,
    MatrixTooLargeError,
    as_format,
    as_max_bytes,
    guard,
    guard_bytes,
    matrix_bytes,
    threads,
)
from ._sparse import csr_arrays, finish, sympy_csr
from ._validation import (
    InputTypeError,
    InputValueError,
    as_bool,
    as_instance,
    as_numbers,
    as_sizes,
    as_str,
    is_sequence,
    loaded_sympy,
    ndim_of,
    show,
)
from .geometry import ConvGeometry, ConvTransposeGeometry, IntOrTuple, Padding, normalize_tuple
from .structure import pattern_nnz, tap_map_for, transposed_tap_map

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
    "fill",
]


# --------------------------------------------------------------------------- weights
def symbolic_weight(shape: Sequence[int], name: str = "w", *, max_bytes: int | None = None) -> np.ndarray:
    """An object array of SymPy symbols ``name_{o,c,i,j}``, one per kernel entry.

    Parameters
    ----------
    shape : tuple of int
        Weight shape in torch layout, e.g. ``(C_out, C_in/groups, kH, kW)``.
    name : str, optional
        Base name of the symbols.
    max_bytes : int, optional
        Refuse, before making them, more symbols than fit (about
        1.5 kB each; see :func:`conv_matrix`).

    Returns
    -------
    ndarray of sympy.Symbol, dtype object

    Raises
    ------
    TypeError, ValueError
        For a shape that is not positive integers or an empty or non-string ``name``.
    MatrixTooLargeError
        When the symbols would exceed the size limit.

    Examples
    --------
    >>> w = symbolic_weight((1, 1, 2, 2))
    >>> w.reshape(-1).tolist()
    [w_{0,0,0,0}, w_{0,0,0,1}, w_{0,0,1,0}, w_{0,0,1,1}]
    """
    if not is_sequence(shape):
        raise InputTypeError(f"shape={show(shape)} must be a sequence of positive integers, not a "
                             f"{type(shape).__name__}", "shape")
    shape = as_sizes(shape, len(shape), "shape")
    if not shape:
        raise InputValueError("shape=() must have at least one entry", "shape")
    name = as_str(name, "name")
    as_max_bytes(max_bytes)
    guard_bytes(prod(shape) * SYMBOLIC_ENTRY_BYTES, max_bytes, what=f"{prod(shape):,} SymPy symbols of shape {shape}")
    import sympy

    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sympy.Symbol(f"{name}_{{{','.join(map(str, idx))}}}")
    return out


# --------------------------------------------------------------------------- size
def estimate_size(geometry: ConvGeometry, itemsize: int = 8, format: str = "csr") -> tuple[int, int]:
    """``(nnz, bytes)`` of a convolution matrix, from the geometry alone (Python integers).

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

    Raises
    ------
    TypeError, ValueError
        If ``geometry`` is not a :class:`ConvGeometry`, or on a bad ``itemsize`` or format.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((64, 64, 3, 3), (56, 56), padding=1)
    >>> estimate_size(g)
    (112869376, 1355235332)
    """
    as_instance(geometry, "geometry", ConvGeometry, "a ConvGeometry")
    nnz = pattern_nnz(geometry)
    return nnz, matrix_bytes(geometry.shape, nnz, itemsize, format)


def _guard(geometry: ConvGeometry, itemsize: int, format: str, max_bytes, transposed: bool = False) -> int:
    nnz = pattern_nnz(geometry)
    return guard(geometry.shape[::-1] if transposed else geometry.shape, nnz, itemsize, format, max_bytes)


# --------------------------------------------------------------------------- filling
#: Above this many stored entries, the column indices are written by a second
#: thread while the data is filled (numpy releases the GIL; both are memory-bound).
PARALLEL_FILL_NNZ = 1 << 22


def fill(tm, weight: np.ndarray) -> sp.csr_array:
    """The tap map ``tm`` filled with ``weight`` as a canonical ``csr_array``, without stored zeros.

    A zero can only come from a zero kernel entry or, where taps are summed
    (non-zero padding modes), from taps that cancel.  A map written box by box
    knows whether any value it wrote is zero; otherwise the data is scanned
    when the kernel has a zero entry or taps are summed.
    """
    if tm.nnz >= PARALLEL_FILL_NNZ and threads() > 1:
        with ThreadPoolExecutor(1) as pool:
            indices = pool.submit(lambda: tm.indices)
            data, zeros = tm.fill_data(weight)
            a = csr_arrays(tm.shape, data, indices.result(), tm.indptr)
    else:
        data, zeros = tm.fill_data(weight)
        a = csr_arrays(tm.shape, data, tm.indices, tm.indptr)
    if zeros is None:
        zeros = tm.has_duplicates or not weight.all()
    if zeros:
        a.eliminate_zeros()
    return a


def _symbolic(tm, weight: np.ndarray):
    return sympy_csr(tm.shape, tm.fill(weight), tm.indices, tm.indptr)


def _build(weight: np.ndarray, symbolic: bool, geometry: ConvGeometry, format: str, max_bytes):
    nbytes = _guard(geometry, weight.dtype.itemsize, "sympy" if symbolic else format, max_bytes)
    tm = tap_map_for(geometry, nbytes, max_bytes=max_bytes)
    if symbolic:
        return _symbolic(tm, weight)
    return finish(fill(tm, weight), format, max_bytes)


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
    w, symbolic = as_numbers(weight, "weight")
    flip = as_bool(flip, "flip")
    format = as_format(format)
    as_max_bytes(max_bytes)
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
    padding_mode: str = "zeros",
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
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, optional
        The padding of the convolution this layer transposes.  torch's
        ``ConvTransposeNd`` takes only ``"zeros"``; for the others the matrix is
        the literal transpose of the padded convolution (its adjoint, which torch
        gives only as the gradient of that convolution), where a padded border
        folds back onto the pixels it copied.
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
    w, symbolic = as_numbers(weight, "weight")
    format = as_format(format)
    as_max_bytes(max_bytes)
    tg = ConvTransposeGeometry.from_weight_shape(
        w.shape, input_size, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation, padding_mode=padding_mode,
    )
    conv = tg.conv
    _guard(conv, w.dtype.itemsize, "sympy" if symbolic else format, max_bytes, transposed=True)
    # A.T filled straight from the conv's tap map read column by column (A's CSC arrays); in the modes
    # other than zeros the taps that meet on a border pixel are summed there, as in A
    tm = transposed_tap_map(conv, max_bytes=max_bytes)
    if symbolic:
        return _symbolic(tm, w)
    return finish(fill(tm, w), format, max_bytes)


def conv_bias_vector(bias: Any, output_size: IntOrTuple, *, max_bytes: int | None = None) -> np.ndarray:
    """The bias of a convolution layer as a vector over its flattened output.

    Parameters
    ----------
    bias : array_like, shape (C_out,)
    output_size : int or tuple of int
        Spatial output size.
    max_bytes : int, optional
        Refuse a vector larger than this (see :func:`conv_matrix`).

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
    b, symbolic = as_numbers(bias, "bias")
    if b.ndim != 1:
        raise InputValueError(f"bias must have shape (out_channels,): got shape {b.shape}", "bias")
    ndim = ndim_of(output_size) or 1
    sizes = normalize_tuple(output_size, ndim, "output_size")
    as_max_bytes(max_bytes)
    guard_bytes(b.size * prod(sizes) * (SYMBOLIC_ENTRY_BYTES if symbolic else b.dtype.itemsize), max_bytes,
                what=f"the bias vector of {b.size * prod(sizes):,} entries")
    return np.repeat(b, prod(sizes))


def _symbolic_affine(A, b: np.ndarray, symbolic_A: bool):
    """``[[A, b], [0, 1]]`` as a SymPy sparse matrix, from CSR arrays (the same matrix SymPy's constructor makes).

    Numbers (of a numeric ``A`` or ``b``) are sympified once per distinct value.
    """
    import sympy

    m, n = A.shape
    if symbolic_A:
        dok = A.todok()
        rows = np.fromiter((k[0] for k in dok), dtype=np.int64, count=len(dok))
        cols = np.fromiter((k[1] for k in dok), dtype=np.int64, count=len(dok))
        values = list(dok.values())
    else:
        coo = sp.coo_array(A)
        keep = coo.data != 0
        rows, cols = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)
        values = coo.data[keep].tolist()
    numbers: dict = {}

    def sympified(v):
        if isinstance(v, sympy.Basic):
            return v
        key = (type(v), v)  # 1 and 1.0 are equal keys of a dict, not equal SymPy numbers
        if key not in numbers:
            numbers[key] = sympy.sympify(v)
        return numbers[key]

    values = [sympified(v) for v in values + b.tolist()] + [sympy.Integer(1)]
    rows = np.concatenate((rows, np.arange(m + 1)))
    cols = np.concatenate((cols, np.full(m + 1, n)))
    data = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # one by one: numpy would read a SymPy sequence as a dimension
        data[i] = v
    order = np.lexsort((cols, rows))
    indptr = np.zeros(m + 2, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m + 1), out=indptr[1:])
    return sympy_csr((m + 1, n + 1), data[order], cols[order], indptr)


def affine_matrix(A, b, *, format: str = "csr", max_bytes: int | None = None):
    """The homogeneous matrix ``[[A, b], [0, 1]]`` of the affine map ``x -> A x + b``.

    Use it to keep a biased layer a single matrix: ``H @ [x, 1] = [A x + b, 1]``,
    and products of such matrices compose biased layers.

    Parameters
    ----------
    A : sparse array, ndarray or sympy matrix, shape (m, n)
    b : array_like, shape (m,)
    format : str, optional
        Output format for numeric input (``"dense"`` for ndarray).
    max_bytes : int, optional
        Refuse a matrix larger than this (see :func:`conv_matrix`).

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
    sympy = loaded_sympy()
    symbolic_A = sympy is not None and isinstance(A, sympy.MatrixBase)
    if isinstance(A, np.ndarray) or sp.issparse(A):
        if A.ndim != 2:
            raise InputValueError(f"A must be a matrix (2-d): got shape {A.shape}", "A")
        if A.dtype.kind not in "biufc":
            raise InputTypeError(f"A must be numeric or a SymPy matrix: got dtype {A.dtype}", "A")
    elif not symbolic_A:
        raise InputTypeError(
            f"A must be a scipy sparse array, an ndarray or a SymPy matrix: got {type(A).__name__}", "A")
    format = as_format(format)
    as_max_bytes(max_bytes)
    b, symbolic = as_numbers(b, "b")
    b = b.reshape(-1)
    if b.size != A.shape[0]:
        raise InputValueError(f"b has {b.size} entries but A has {A.shape[0]} rows: they must match", "b")
    m, n = A.shape
    if symbolic or symbolic_A:  # a symbolic bias makes the map symbolic
        if not symbolic_A:
            guard((m + 1, n + 1), (A.nnz if sp.issparse(A) else np.count_nonzero(A)) + m + 1, 8, "sympy", max_bytes)
        return _symbolic_affine(A, b, symbolic_A)
    dtype = np.result_type(A.dtype, b.dtype)
    nnz = (A.nnz if sp.issparse(A) else np.count_nonzero(A)) + m + 1
    guard((m + 1, n + 1), nnz, dtype.itemsize, format, max_bytes)
    H = sp.block_array(
        [[sp.csr_array(A), sp.csr_array(b.reshape(-1, 1))],
         [None, sp.csr_array(np.ones((1, 1), dtype=dtype))]],
        format="csr", dtype=dtype,
    )
    H.eliminate_zeros()
    return finish(H, format, max_bytes)
