"""CSR assembly shared by every builder: canonical arrays in, the requested format out.

Builders write index and data arrays of their final size once and wrap them
here without a copy or a re-check (:func:`csr_arrays`); :func:`finish` turns a
canonical CSR array into the requested format, checking the formats whose size
depends on the pattern (``dia``) against the limit first.
"""

from __future__ import annotations

from collections import deque
from itertools import compress, islice, repeat

import numpy as np
import scipy.sparse as sp

from ._limits import MatrixTooLargeError, guard, guard_bytes, limit_bytes

__all__ = [
    "csr_arrays",
    "canonical",
    "tiled_pointer",
    "tiled_indptr",
    "shifted_cols",
    "csr_entry_chunks",
    "diagonal_count",
    "finish",
    "sympy_csr",
    "structural_product",
    "nnz_of",
    "dense_bytes",
    "guard_dense",
]


_CSR_STATE: dict | None = None


def _csr_state() -> dict | None:
    """The attributes scipy gives a canonical ``csr_array`` besides its arrays and shape (or ``None``).

    Read once from an array scipy's own constructor made; ``None`` (use the
    constructor every time) if this scipy keeps them differently than expected.
    """
    global _CSR_STATE
    if _CSR_STATE is None:
        a = sp.csr_array((np.ones(1), np.zeros(1, dtype=np.int32), np.array([0, 1], dtype=np.int32)), shape=(1, 1))
        a.has_sorted_indices = True
        a.has_canonical_format = True
        state = dict(a.__dict__)
        expected = {"_shape", "data", "indices", "indptr"}
        _CSR_STATE = {k: v for k, v in state.items() if k not in expected} if expected <= state.keys() else {}
    return _CSR_STATE or None


def csr_arrays(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> sp.csr_array:
    """Wrap canonical CSR arrays (sorted, unique) in a ``csr_array`` without copying or re-checking them.

    The arrays are trusted: 1-d, ``indptr`` of ``shape[0] + 1`` entries from 0 to
    ``data.size``, indices of one integer dtype (int32 while they fit).  The
    array gets the same attributes scipy's constructor gives it, without the
    constructor's checks (a few microseconds instead of tens).

    Examples
    --------
    >>> a = csr_arrays((2, 2), np.array([1, 2]), np.array([0, 1], dtype=np.int32), np.array([0, 1, 2], dtype=np.int32))
    >>> a.toarray().tolist(), a.has_canonical_format
    ([[1, 0], [0, 2]], True)
    """
    state = _csr_state()
    if state is None:
        a = sp.csr_array(shape, dtype=data.dtype)
        a.data, a.indices, a.indptr = data, indices, indptr
        a.has_sorted_indices = True
        a.has_canonical_format = True
        return a
    a = object.__new__(sp.csr_array)
    a.__dict__.update(state)
    a._shape = (int(shape[0]), int(shape[1]))
    a.data, a.indices, a.indptr = data, indices, indptr
    return a


def canonical(a, *, drop_zeros: bool = True) -> sp.csr_array:
    """``a`` as canonical CSR (sorted, no duplicates; no stored zeros unless ``drop_zeros=False``).

    A canonical ``csr_array`` is not copied or rescanned (only its data, for zeros).

    Examples
    --------
    >>> canonical(sp.coo_array(([1, 1, 0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))).toarray().tolist()
    [[0, 2], [0, 0]]
    """
    if not (isinstance(a, sp.csr_array) and a.has_canonical_format):
        a = sp.csr_array(a)
        a.sum_duplicates()
    if drop_zeros:
        a.eliminate_zeros()
    return a


def tiled_pointer(row_indptr: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of the rows ``row_indptr`` points into.

    One pass: ``out[c * P + p] = c * row_indptr[-1] + row_indptr[p]``.

    Examples
    --------
    >>> tiled_pointer(np.array([0, 1, 3]), 2, np.int32).tolist()
    [0, 1, 3, 4, 6]
    """
    rows = row_indptr.size - 1
    per_channel = int(row_indptr[-1])
    out = np.empty(channels * rows + 1, dtype=dtype)
    np.add((np.arange(channels, dtype=dtype) * dtype(per_channel))[:, None], row_indptr[None, :-1],
           out=out[:-1].reshape(channels, rows), casting="unsafe")
    out[-1] = channels * per_channel
    return out


def tiled_indptr(row_lengths: np.ndarray, channels: int, dtype) -> np.ndarray:
    """CSR row pointer of ``channels`` copies, one after the other, of rows with these lengths.

    Examples
    --------
    >>> tiled_indptr(np.array([1, 2]), 2, np.int32).tolist()
    [0, 1, 3, 4, 6]
    """
    row_indptr = np.zeros(row_lengths.size + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=row_indptr[1:])
    return tiled_pointer(row_indptr, channels, dtype)


def shifted_cols(cols: np.ndarray, offsets: np.ndarray, dtype) -> np.ndarray:
    """``cols + offsets[c]`` for every channel ``c``: a ``(len(offsets), len(cols))`` array of ``dtype``.

    Examples
    --------
    >>> shifted_cols(np.array([0, 1]), np.array([0, 10]), np.int32).tolist()
    [[0, 1], [10, 11]]
    """
    out = np.empty((offsets.size, cols.size), dtype=dtype)
    np.add(cols.astype(dtype)[None, :], offsets.astype(dtype)[:, None], out=out)
    return out


def csr_entry_chunks(a, chunk: int = 1 << 22):
    """``(rows, cols, data)`` of a CSR array's entries, about ``chunk`` entries at a time.

    Each chunk holds whole rows, so no nnz-sized temporary is made; ``rows``
    and ``cols`` are int64.

    Examples
    --------
    >>> [r.tolist() for r, _, _ in csr_entry_chunks(sp.csr_array(np.eye(3)), chunk=2)]
    [[0, 1], [2]]
    """
    n = a.shape[0]
    step = max(1, chunk // max(1, a.nnz // max(1, n)))
    for start in range(0, n, step):
        stop = min(n, start + step)
        lo, hi = int(a.indptr[start]), int(a.indptr[stop])
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(a.indptr[start:stop + 1]))
        yield rows, a.indices[lo:hi].astype(np.int64), a.data[lo:hi]


def diagonal_count(a: sp.csr_array, chunk: int = 1 << 22) -> int:
    """Distinct diagonals of a CSR array, in chunks of rows (no nnz-sized temporaries).

    Examples
    --------
    >>> diagonal_count(sp.csr_array(np.array([[1, 1], [0, 1]])))
    2
    """
    offsets = np.empty(0, dtype=np.int64)
    for rows, cols, _ in csr_entry_chunks(a, chunk):
        offsets = np.union1d(offsets, cols - rows)
    return offsets.size


def finish(a: sp.csr_array, format: str, max_bytes=None, what: str = "matrix"):
    """A canonical CSR array in ``format``; ``dia`` is checked against the limit by its real size.

    ``"dense"`` gives an ndarray.  ``format`` is trusted (checked by the builder).
    """
    if format == "csr":
        return a
    if format == "dense":
        return a.toarray()
    if format == "dia":
        nbytes = diagonal_count(a) * a.shape[1] * a.dtype.itemsize
        limit = limit_bytes(max_bytes)
        if nbytes > limit:
            raise MatrixTooLargeError(
                f"the {a.shape[0]} x {a.shape[1]} {what} in 'dia' format would take about "
                f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes: one row of {a.shape[1]} per "
                f"diagonal), over max_bytes={limit:,}: use 'csr', or pass a larger max_bytes= "
                f"or set CONVMATRIX_MAX_BYTES")
    return a.asformat(format)


def sympy_csr(shape: tuple[int, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray):
    """A ``sympy.ImmutableSparseMatrix`` from CSR arrays of SymPy expressions (zeros not stored).

    The same matrix ``ImmutableSparseMatrix(rows, cols, {(r, c): v})`` gives — same
    type, entries, internal representation (a ``DomainMatrix`` in SDM form over
    ``EXRAW``, or ``ZZ``/``QQ`` when every entry is an integer/rational),
    arguments, hash and ``Dict`` contents — built directly from its parts.
    SymPy's constructor sympifies every key and value and sorts the entries by
    their sort keys, tens of microseconds per entry.  Here the values (the
    kernel's own objects, shared) are looked at once per distinct object, each
    entry costs its two SymPy tuples (key and item), made in C-level loops, and
    the ``Dict``'s dict and frozenset are filled with hashes computed in numpy
    (see :func:`_hashed`) instead of by SymPy's ``Tuple.__hash__`` in Python.

    ``indices`` must be sorted within each row and unique (canonical CSR);
    ``data`` is an object array (numbers are sympified).

    Examples
    --------
    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> M = sympy_csr((2, 2), np.array([a, a + b], dtype=object), np.array([1, 0]), np.array([0, 1, 2]))
    >>> M == sympy.ImmutableSparseMatrix(2, 2, {(0, 1): a, (1, 0): a + b}), type(M).__name__
    (True, 'ImmutableSparseMatrix')
    """
    import sympy
    from sympy.core.basic import Basic
    from sympy.core.containers import Dict, Tuple
    from sympy.core.sorting import _nodes
    from sympy.polys.domains import EXRAW, QQ, ZZ
    from sympy.polys.matrices import DomainMatrix
    from sympy.polys.matrices.sdm import SDM

    nrows, ncols = int(shape[0]), int(shape[1])
    indptr = np.asarray(indptr, dtype=np.int64)
    flat = np.ascontiguousarray(np.asarray(data, dtype=object).reshape(-1))
    values = flat.tolist()
    cols = np.asarray(indices).reshape(-1).astype(np.int64, copy=False)
    code, distinct = _distinct(values, flat)  # the distinct objects (a kernel's symbols and sums), index of each entry's
    if not all(isinstance(v, Basic) for v in distinct):
        values = [v if isinstance(v, Basic) else sympy.sympify(v) for v in values]
        code, distinct = _distinct(values)
    del flat
    zero = np.array([v == 0 for v in distinct], dtype=bool)
    if zero.any():  # dropped, as SymPy's constructor drops them
        keep = ~zero[code]
        values = list(compress(values, keep.tolist()))
        code, cols = code[keep], cols[keep]
        indptr = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))[indptr]
    distinct = [v for v, z in zip(distinct, zero.tolist()) if not z]
    code = (np.cumsum(~zero) - 1)[code]
    lengths = np.diff(indptr)
    full = np.flatnonzero(lengths)
    rows = np.repeat(full, lengths[full])
    n = len(values)
    # sympy.ordered's first key, the node count of an item: 4 + that of its value (key Tuple, 2 Integers)
    nodes = np.array([_nodes(Basic.__new__(Tuple, v)) for v in distinct], dtype=np.int64)
    value_hash = np.array([hash(v) for v in distinct], dtype=np.int64)
    # SymPy's Integer of every row and column index used, made once each, and read per entry by numpy
    used = np.zeros(max(nrows, ncols), dtype=bool)
    used[cols] = True
    used[full] = True
    key_hash, item_hash = _entry_hashes(rows, cols, value_hash[code])
    new, assumptions = object.__new__, Tuple.default_assumptions
    young = _Young(n)
    try:
        integers = np.array(_integers(np.flatnonzero(used).tolist(), used.size) + [None], dtype=object)[:-1]
        key_args = zip(integers[rows].tolist(), integers[cols].tolist())
        stand_in = _stand_in(Tuple)
        keys = list(map(new, repeat(stand_in, n)))
        for t, a in zip(keys, key_args):
            t._assumptions, t._mhash, t._args = assumptions, None, a
        table_dict = _hashed(stand_in, key_hash, lambda: dict(zip(keys, values)))
        items = list(map(new, repeat(stand_in, n)))
        for t, k, v in zip(items, keys, values):
            k.__class__ = Tuple  # hashed: the key is SymPy's Tuple again
            t._assumptions, t._mhash, t._args = assumptions, None, (k, v)
        elements = _hashed(stand_in, item_hash, lambda: frozenset(items))
        for t in items:
            t.__class__ = Tuple
        if not _hashes_hold(keys, key_hash, table_dict) or not _hashes_hold(items, item_hash, elements):
            table_dict, elements = dict(zip(keys, values)), frozenset(items)  # SymPy's own hashing
        if np.unique(nodes).size > 1:  # sympy.ordered: by node count first; within one count by (row, col)
            ordered_items = tuple(map(items.__getitem__, np.argsort(nodes[code], kind="stable").tolist()))
        else:
            ordered_items = tuple(items)
        table = Basic.__new__(Dict, *ordered_items)
        table.elements = elements
        table._dict = table_dict
        # the matrix's domain, as SymPy's constructor picks it: ZZ or QQ when every entry is one, else EXRAW
        types = {type(v) for v in distinct}
        domain = EXRAW
        if all(issubclass(t, sympy.Rational) for t in types):
            domain = ZZ if all(issubclass(t, sympy.Integer) for t in types) else QQ
            values = list(map([domain.from_sympy(v) for v in distinct].__getitem__, code.tolist()))
        # SDM's dict of rows, each a dict of columns, cut from the flat lists in C-level loops
        col_it, val_it, lens = iter(cols.tolist()), iter(values), lengths[full].tolist()
        dod = dict(zip(full.tolist(), map(dict, map(zip, map(islice, repeat(col_it), lens),
                                                    map(islice, repeat(val_it), lens)))))
    finally:
        young.close()
    sdm = SDM({}, (nrows, ncols), domain)  # checked empty; its rows are within the shape by construction
    dict.update(sdm, dod)
    M = Basic.__new__(sympy.ImmutableSparseMatrix, sympy.Integer(nrows), sympy.Integer(ncols), table)
    M._rows, M._cols, M._rep = nrows, ncols, DomainMatrix.from_rep(sdm)
    return M


def _distinct(values: list, flat: np.ndarray | None = None):
    """``(code, distinct)``: the distinct objects of ``values`` (by identity), and each value's index into them.

    ``flat``, when given, is ``values`` as a 1-d object array, whose pointers
    (CPython's ``id``) are then read in place instead of asked one by one.
    """
    ids = _identities(flat) if flat is not None else None
    if ids is None:
        ids = np.fromiter(map(id, values), dtype=np.uintp, count=len(values))
    unique = np.unique(ids)
    code = np.searchsorted(unique, ids)
    where = np.empty(unique.size, dtype=np.intp)
    where[code] = np.arange(len(values))
    return code, [values[i] for i in where.tolist()]


def _identities(flat: np.ndarray) -> np.ndarray | None:
    """``id`` of every element of a contiguous 1-d object array, read off its pointers (CPython; else ``None``)."""
    import sys

    if not flat.size or sys.implementation.name != "cpython" or not flat.flags.c_contiguous:
        return None
    import ctypes

    ids = np.frombuffer((ctypes.c_void_p * flat.size).from_address(flat.ctypes.data), dtype=np.uintp).copy()
    ends = (0, flat.size - 1)
    return ids if all(int(ids[i]) == id(flat[i]) for i in ends) else None


#: entries from which :class:`_Young` promotes the objects it saw made (smaller builds leave the collector as it is)
PROMOTE_ENTRIES = 1 << 12


class _Young:
    """The garbage collector held off while many objects that are not garbage are made, then told they are old.

    Every object the collector tracks is made in its youngest generation; with
    the collector running, it would be scanned by young collections (every
    ~700 allocations) and again when promoted, none of which can free it — the
    objects of a SymPy matrix are all reachable from it.  The collector is
    disabled while they are made; at :meth:`close`, when at least ``least``
    objects were made and nothing is frozen already, the young generations
    are moved into the oldest one (``gc.freeze()`` then ``gc.unfreeze()``: two
    list splices, no scan), where only full collections visit them, as they
    would the objects' long life anyway.  Young objects of the caller's that are
    cyclic garbage then wait for the next full collection.
    """

    def __init__(self, made: int, least: int | None = None):
        import gc

        self.promote = made >= (PROMOTE_ENTRIES if least is None else least) and gc.get_freeze_count() == 0
        self.enabled = gc.isenabled()
        gc.disable()

    def close(self) -> None:
        import gc

        if self.promote and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if self.enabled:
            gc.enable()


_consume = deque(maxlen=0).extend  # run an iterator for its effects

# CPython's tuple hash (xxHash-based, Objects/tupleobject.c since 3.8), for 64-bit hashes
_XXPRIME_1, _XXPRIME_2, _XXPRIME_5 = 11400714785074694791, 14029467366897019727, 2870177450012600261


def _tuple_hash(lanes) -> np.ndarray:
    """``hash(tuple(x))`` for each row ``x`` of ``lanes`` (the items' own hashes), as uint64, in numpy."""
    p1, p2, rot = np.uint64(_XXPRIME_1), np.uint64(_XXPRIME_2), np.uint64(31)
    acc = np.empty(lanes[0].shape, dtype=np.uint64)
    spare = np.empty_like(acc)
    with np.errstate(over="ignore"):
        for i, lane in enumerate(lanes):
            lane = lane.view(np.uint64) if lane.dtype == np.int64 else lane.astype(np.uint64)  # as C casts them
            if i == 0:
                np.multiply(lane, p2, out=acc)
                acc += np.uint64(_XXPRIME_5)
            else:
                np.multiply(lane, p2, out=spare)
                acc += spare
            np.right_shift(acc, np.uint64(64 - 31), out=spare)  # rotate left by 31
            acc <<= rot
            acc |= spare
            acc *= p1
        acc += np.uint64(len(lanes) ^ (_XXPRIME_5 ^ 3527539))
    acc[acc == np.uint64(2**64 - 1)] = 1546275796
    return acc


_HASH_CHECKED: list = []  # [bool]: whether _tuple_hash is this Python's hash of tuples of ints


def _entry_hashes(rows: np.ndarray, cols: np.ndarray, value_hash: np.ndarray):
    """The hashes SymPy gives each key ``Tuple(Integer(r), Integer(c))`` and item ``Tuple(key, value)``.

    ``Tuple.__hash__`` is ``hash(self.args)`` and ``Integer.__hash__`` is
    ``hash(self.p)``, ``p`` for the indices of any matrix.  ``None`` where this
    Python hashes tuples differently (then SymPy hashes them itself).
    """
    import sys

    if not _HASH_CHECKED:
        sample = [(0, 0), (3, 5), (2**40 + 7, 12345), (-2, 2**61 - 2), (-(2**61 - 2), 7)]  # ints that hash to themselves
        got = _tuple_hash([np.array([s[k] for s in sample], dtype=np.int64) for k in (0, 1)])
        _HASH_CHECKED.append(sys.hash_info.width == 64 and sys.hash_info.modulus == 2**61 - 1
                             and got.view(np.int64).tolist() == [hash(s) for s in sample])
    if not _HASH_CHECKED[0] or rows.size and max(int(rows.max()), int(cols.max())) >= 2**61 - 1:
        return None, None
    key = _tuple_hash([rows, cols])
    return key.view(np.int64).tolist(), _tuple_hash([key, value_hash]).view(np.int64).tolist()


def _stand_in(cls):
    """A subclass of ``cls`` of the same layout, whose ``__hash__`` :func:`_hashed` sets (one per call)."""
    return type(cls.__name__, (cls,), {"__slots__": (), "__module__": cls.__module__})


def _hashed(stand_in, hashes, build):
    """``build()`` (a dict or set of stand-in objects), their hashes read from ``hashes`` in order.

    Building a dict or set from a list hashes each element once, in order; the
    stand-in's ``__hash__`` hands out the precomputed hashes in that order
    (a C-level call, no Python frame).  ``None`` if ``hashes`` is ``None`` or
    the build did not take exactly one hash per element (then the caller
    builds the container again from the real objects).
    """
    if hashes is None:
        return None
    it = iter(hashes)
    stand_in.__hash__ = staticmethod(it.__next__)
    try:
        out = build()
    except StopIteration:
        out = None
    finally:
        stand_in.__hash__ = None
    return out if next(it, None) is None else None


def _hashes_hold(objs: list, hashes, container, samples: int = 16) -> bool:
    """Whether ``container`` was built and finds sample ``objs`` (their own ``__hash__`` now) by its stored hashes."""
    if container is None or len(container) != len(objs):
        return False
    if not objs:
        return True
    picks = {0, len(objs) - 1, *np.linspace(0, len(objs) - 1, samples).astype(int).tolist()}
    return all(hash(objs[i]) == hashes[i] and objs[i] in container for i in picks)


def _tuples(cls, args) -> list:
    """``[Basic.__new__(cls, *a) for a in args]``: SymPy's own three slots set, without the argument packing."""
    new, assumptions = object.__new__, cls.default_assumptions

    def make(a):
        t = new(cls)
        t._assumptions, t._mhash, t._args = assumptions, None, a
        return t

    return list(map(make, args))


def _integers(used: list, size: int) -> list:
    """A list of ``size`` whose entries at ``used`` (sorted) are ``sympy.Integer(i)`` (the others ``None``).

    Made as ``Integer(i)`` makes them (``Expr.__new__`` and its ``p``), without
    its cache, which holds only the last thousand; 0 and 1 are SymPy's singletons.
    """
    import sympy

    out: list = [None] * size
    small = [i for i in used[:2] if i < 2]
    for i in small:
        out[i] = sympy.Integer(i)
    new, cls, assumptions = object.__new__, sympy.Integer, sympy.Integer.default_assumptions
    for i in used[len(small):]:
        o = out[i] = new(cls)
        o._assumptions, o._mhash, o._args, o.p = assumptions, None, (), i
    return out


def nnz_of(a) -> int:
    """Stored entries of a sparse array, or nonzero entries of a SymPy matrix."""
    if sp.issparse(a):
        return int(a.nnz)
    if hasattr(a, "todok"):
        return len(a.todok())
    return int(np.count_nonzero(a))


def structural_product(factors, itemsize: int = 8, max_bytes=None, *, what: str = "product",
                       block_rows: int | None = None) -> sp.csr_array:
    """``factors[0] @ factors[1] @ ...`` as canonical CSR, built a block of rows at a time within the limit.

    The nnz of a sparse product is unknown until it is formed, so it is formed
    in row blocks, right to left within each block, and the sizes so far are
    checked against the limit after every block: memory never exceeds the limit
    by more than one block's product.

    Raises
    ------
    MatrixTooLargeError
        As soon as the blocks built so far exceed the limit.

    Examples
    --------
    >>> A = sp.csr_array(np.array([[1, 1], [0, 1]])); B = sp.csr_array(np.array([[1, 0], [1, 1]]))
    >>> structural_product([A, B]).toarray().tolist()
    [[2, 1], [1, 1]]
    """
    first, rest = factors[0], factors[1:]
    rows = first.shape[0]
    cols = rest[-1].shape[1] if rest else first.shape[1]
    first = sp.csr_array(first)
    limit = limit_bytes(max_bytes)
    if block_rows is None:
        block_rows = max(1, min(rows, (1 << 22) // max(1, first.nnz // max(1, rows))))
    blocks, nnz = [], 0
    for start in range(0, rows, block_rows):
        block = first[start:start + block_rows]
        for f in rest:
            block = sp.csr_array(block @ f)
        block = canonical(block)
        blocks.append(block)
        nnz += block.nnz
        guard((rows, cols), nnz, itemsize, "csr", limit, what=what)
    if not blocks:
        return sp.csr_array((rows, cols))
    out = sp.csr_array(sp.vstack(blocks, format="csr"))
    out.sum_duplicates()
    return out


def dense_bytes(shape, itemsize: int) -> int:
    """Bytes of a dense array of ``shape`` (Python integers)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n * itemsize


def guard_dense(shape, itemsize: int, max_bytes=None, *, what: str = "dense array") -> None:
    """Refuse a dense array of ``shape`` over the limit before it is made."""
    guard_bytes(dense_bytes(shape, itemsize), max_bytes,
                what=f"the {' x '.join(map(str, shape))} {what}")

