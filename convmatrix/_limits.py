"""The size and thread policy: how large a matrix may be, what it costs, how many threads build it.

Every builder asks :func:`guard` *before* it allocates anything of the output's
size (or of one axis's size), with sizes computed in Python integers, so that a
request too large for the machine is refused with its estimate instead of
running out of memory.  The limit is ``max_bytes=``, else the environment
variable ``CONVMATRIX_MAX_BYTES``, else :data:`DEFAULT_MAX_BYTES`.
"""

from __future__ import annotations

import os

from ._validation import INT64_MAX, InputValueError, as_choice, as_int, show

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SPARSE_FORMATS",
    "OBJECT_ENTRY_BYTES",
    "OBJECT_ROW_BYTES",
    "SYMBOLIC_ENTRY_BYTES",
    "MatrixTooLargeError",
    "env_positive_int",
    "limit_bytes",
    "as_max_bytes",
    "as_format",
    "index_dtype",
    "index_itemsize",
    "matrix_bytes",
    "guard",
    "guard_bytes",
    "threads",
]

#: Largest matrix built without ``max_bytes=`` (4 GiB); the environment variable
#: ``CONVMATRIX_MAX_BYTES`` overrides it for a whole process.
DEFAULT_MAX_BYTES = 4 * 2**30

#: Output formats of the matrix builders: ``scipy.sparse`` format names and ``"dense"`` (ndarray).
SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "dok", "lil", "dense")

#: Approximate bytes per stored entry of the formats that hold Python objects:
#: ``lil`` keeps two lists of Python ints/scalars per row, ``dok`` a dict keyed
#: by index tuples, and a SymPy matrix a dict of SymPy expressions (measured on
#: CPython 3.11; order of magnitude, not exact).
OBJECT_ENTRY_BYTES = {"lil": 100, "dok": 200, "sympy": 1500}
#: Approximate bytes per row of the same formats (``lil``: two list objects and
#: two object-array slots per row, whether the row is empty or not).
OBJECT_ROW_BYTES = {"lil": 128, "dok": 0, "sympy": 0}
#: Approximate bytes of one SymPy expression made for a kernel or an input entry.
SYMBOLIC_ENTRY_BYTES = OBJECT_ENTRY_BYTES["sympy"]

_INT32_MAX = 2**31 - 1


class MatrixTooLargeError(InputValueError):
    """A matrix would exceed the size limit; raised before anything of its size is built.

    A ``ValueError`` (an :class:`~convmatrix.InputError`), so command-line tools
    report it as bad input; its :attr:`parameter` is ``"max_bytes"``.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> try:
    ...     cm.conv_matrix(np.ones((8, 8, 3, 3)), (64, 64), padding=1, max_bytes=10**6)
    ... except MatrixTooLargeError as exc:
    ...     print(str(exc)[:60])
    the 32768 x 32768 sparse csr matrix with 2,310,400 stored en
    """

    def __init__(self, message: str, parameter: str | None = "max_bytes"):
        super().__init__(message, parameter)


MatrixTooLargeError.__module__ = "convmatrix"


def env_positive_int(name: str) -> int | None:
    """The environment variable ``name`` as a positive integer, or ``None`` when it is unset or empty.

    Raises
    ------
    InputValueError
        When it is set to anything but a positive integer.
    """
    env = os.environ.get(name)
    if not env:
        return None
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise InputValueError(f"the environment variable {name}={env!r} must be a positive integer", name)
    return value


def as_max_bytes(max_bytes) -> int | None:
    """A ``max_bytes=`` argument checked: ``None`` or a positive integer (numpy integers too)."""
    if max_bytes is None:
        return None
    return as_int(max_bytes, "max_bytes", minimum=1)


def limit_bytes(max_bytes=None) -> int:
    """The limit in force: ``max_bytes``, else ``CONVMATRIX_MAX_BYTES``, else :data:`DEFAULT_MAX_BYTES`.

    Examples
    --------
    >>> limit_bytes(1000)
    1000
    """
    if max_bytes is None:
        limit = env_positive_int("CONVMATRIX_MAX_BYTES")
        return DEFAULT_MAX_BYTES if limit is None else limit
    return as_int(max_bytes, "max_bytes", minimum=1)


def as_format(format, *, symbolic_ok: bool = False) -> str:
    """A ``format=`` argument checked against :data:`SPARSE_FORMATS` (``"sympy"`` too when ``symbolic_ok``)."""
    return as_choice(format, "format", SPARSE_FORMATS + (("sympy",) if symbolic_ok else ()))


def index_dtype(*bounds: int):
    """``np.int32`` while every bound fits, ``np.int64`` beyond (scipy's rule).

    Examples
    --------
    >>> index_dtype(10, 2**31 - 1).__name__, index_dtype(2**31).__name__
    ('int32', 'int64')
    """
    import numpy as np

    return np.int32 if max(bounds, default=0) <= _INT32_MAX else np.int64


def index_itemsize(*bounds: int) -> int:
    """Bytes of one index for these bounds (4 or 8), without numpy."""
    return 4 if max(bounds, default=0) <= _INT32_MAX else 8


def matrix_bytes(shape: tuple[int, int], nnz: int, itemsize: int = 8, format: str = "csr") -> int:
    """Bytes a matrix of ``shape`` with ``nnz`` stored entries takes in ``format``, in Python integers.

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

    Raises
    ------
    TypeError, ValueError
        For a shape that is not two non-negative integers, a negative ``nnz``
        or ``itemsize``, or an unknown format.

    Notes
    -----
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
    >>> matrix_bytes((4, 6), -10)
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: nnz=-10 must be non-negative
    """
    if (type(shape) is tuple and len(shape) == 2 and type(shape[0]) is int and type(shape[1]) is int
            and type(nnz) is int and type(itemsize) is int and type(format) is str and format in _ARRAY_FORMATS
            and 0 <= shape[0] <= 2**200 and 0 <= shape[1] <= 2**200 and 0 <= nnz <= 2**400 and 0 <= itemsize):
        return _array_bytes(shape[0], shape[1], nnz, itemsize, format)  # the builders' call: plain ints
    from ._validation import is_sequence

    if not is_sequence(shape) or len(shape) != 2:
        raise InputValueError(f"shape={show(shape)} must be a pair (rows, cols) of non-negative integers", "shape")
    rows = as_int(shape[0], "shape", minimum=0, maximum=2**200)
    cols = as_int(shape[1], "shape", minimum=0, maximum=2**200)
    nnz = as_int(nnz, "nnz", minimum=0, maximum=2**400)
    itemsize = as_int(itemsize, "itemsize", minimum=0)
    format = as_format(format, symbolic_ok=True)
    if format == "dense":
        return rows * cols * itemsize
    if format in OBJECT_ENTRY_BYTES:
        return nnz * OBJECT_ENTRY_BYTES[format] + rows * OBJECT_ROW_BYTES[format]
    return _array_bytes(rows, cols, nnz, itemsize, format)


#: The formats whose bytes are counted from their arrays (see :func:`matrix_bytes`).
_ARRAY_FORMATS = frozenset(SPARSE_FORMATS) - frozenset(OBJECT_ENTRY_BYTES) - {"dense"}


def _array_bytes(rows: int, cols: int, nnz: int, itemsize: int, format: str) -> int:
    idx = index_itemsize(nnz, rows, cols)
    if format == "coo":
        return nnz * (itemsize + 2 * idx)
    pointers = cols + 1 if format == "csc" else rows + 1
    return nnz * (itemsize + idx) + pointers * idx


def guard(shape: tuple[int, int], nnz: int, itemsize: int, format: str, max_bytes=None, *,
          what: str = "matrix", working: int = 0) -> int:
    """Refuse, before anything is allocated, a matrix over the size limit; return its bytes.

    ``working`` is the bytes of temporary arrays the builder needs beside the
    matrix; they count against the limit too.  A dimension or entry count beyond
    int64 is refused whatever the limit.

    Raises
    ------
    MatrixTooLargeError
        With the matrix's shape, stored entries and estimated bytes.

    Examples
    --------
    >>> guard((10, 10), 10, 8, "csr", 10**6)
    164
    >>> guard((10**10, 10**10), 10**10, 8, "csr", 10**6)
    Traceback (most recent call last):
        ...
    convmatrix.MatrixTooLargeError: the 10000000000 x 10000000000 sparse csr matrix with 10,000,000,000 stored entries would take about 223.52 GiB (240,000,000,008 bytes), over max_bytes=1,000,000: pass a larger max_bytes= or set CONVMATRIX_MAX_BYTES
    """
    limit = limit_bytes(max_bytes)
    rows, cols = shape
    nbytes = matrix_bytes(shape, nnz, itemsize, format) + working
    kind = {"dense": "dense ", "sympy": "symbolic "}.get(format, f"sparse {format} ")
    if max(rows, cols, nnz) > INT64_MAX:
        raise MatrixTooLargeError(
            f"the {rows} x {cols} {kind}{what} with {nnz:,} stored entries has more rows, columns or entries "
            f"than int64 can index (2**63 - 1), whatever max_bytes allows")
    if nbytes > limit:
        extra = f", {working:,} of them working arrays" if working else ""
        raise MatrixTooLargeError(
            f"the {rows} x {cols} {kind}{what} with {nnz:,} stored entries would take about "
            f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes{extra}), over max_bytes={limit:,}: "
            f"pass a larger max_bytes= or set CONVMATRIX_MAX_BYTES")
    return nbytes


def guard_bytes(nbytes: int, max_bytes=None, *, what: str) -> int:
    """Refuse ``nbytes`` of ``what`` (an array, a set of SymPy symbols) over the limit, before allocating it.

    Examples
    --------
    >>> guard_bytes(10**12, 10**6, what="a dense (1000000, 1000000) float64 array")
    Traceback (most recent call last):
        ...
    convmatrix.MatrixTooLargeError: a dense (1000000, 1000000) float64 array would take about 931.32 GiB (1,000,000,000,000 bytes), over max_bytes=1,000,000: pass a larger max_bytes= or set CONVMATRIX_MAX_BYTES
    """
    limit = limit_bytes(max_bytes)
    if nbytes > limit:
        raise MatrixTooLargeError(
            f"{what} would take about {nbytes / 2**30:.2f} GiB ({nbytes:,} bytes), over max_bytes={limit:,}: "
            f"pass a larger max_bytes= or set CONVMATRIX_MAX_BYTES")
    return nbytes


def threads() -> int:
    """Threads a builder may use: ``CONVMATRIX_THREADS`` if set (1 turns threading off), else the CPUs."""
    return env_positive_int("CONVMATRIX_THREADS") or os.cpu_count() or 1
