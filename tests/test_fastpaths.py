"""Every fast path of the structure layer equals the plain path (``structure.plain_tap_map``).

Hypothesis sweeps over dimensions, strides, paddings (zero to wider than the
kernel, asymmetric), dilations, groups and the four padding modes; each fast
path is called by name and compared array by array with the plain path, and
the whole builder (``conv_matrix``) is compared with the plain map's filling.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix import _fastpaths, _sparse, structure
from convmatrix.geometry import ConvGeometry, ConvTransposeGeometry
from convmatrix.structure import plain_tap_map

MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def geometries(draw, modes=MODES, max_ndim=3, max_size=9):
    """Any valid convolution geometry, small enough for the plain path, with pads up to 4 per side."""
    from hypothesis import assume

    ndim = draw(st.integers(1, max_ndim))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    mode = draw(st.sampled_from(modes))
    k = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    n = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
    s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    limit = [ni - 1 if mode == "reflect" else ni if mode == "circular" else 4 for ni in n]
    pad = tuple((draw(st.integers(0, min(4, lim))), draw(st.integers(0, min(4, lim)))) for lim in limit)
    shape = (draw(st.integers(1, 2)) * groups, draw(st.integers(1, 3)), *k)
    try:
        return ConvGeometry.from_weight_shape(shape, n, stride=s, padding=pad, dilation=d, groups=groups,
                                              padding_mode=mode)
    except ValueError:
        assume(False)


def _weight(g: ConvGeometry, seed: int, zeros: bool = False) -> np.ndarray:
    """Integer weights (sums exact), without zero entries unless asked."""
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 50, size=g.weight_shape) * rng.choice([-1, 1], size=g.weight_shape)
    if zeros:
        w[rng.random(g.weight_shape) < 0.3] = 0
    return w


def _plain_matrix(g: ConvGeometry, w: np.ndarray):
    """The plain path's matrix, entry by entry: gather, sum the runs, drop zeros."""
    m = plain_tap_map(g)
    data = np.take(w.reshape(g.out_channels, -1), m.row_taps, axis=1)
    if m.row_starts is not None:
        data = np.add.reduceat(data, m.row_starts, axis=1, dtype=data.dtype)
    A = sp.csr_array((data.reshape(-1), m.indices, m.indptr), shape=m.shape)
    A.eliminate_zeros()
    return A, m


def _same_csr(A, B) -> bool:
    return (A.shape == B.shape and np.array_equal(A.indptr, B.indptr) and np.array_equal(A.indices, B.indices)
            and np.array_equal(A.data, B.data) and A.data.dtype == B.data.dtype)


# --------------------------------------------------------------------------- the masked row pattern
@given(g=geometries(modes=("zeros",)))
def test_masked_row_pattern_is_the_plain_row_pattern(g):
    plain = plain_tap_map(g)
    indptr, cols, taps = _fastpaths.masked_row_pattern(g)
    assert np.array_equal(indptr, plain.row_indptr)
    assert np.array_equal(cols, plain.row_cols) and cols.dtype == plain.row_cols.dtype
    assert np.array_equal(taps, plain.row_taps) and taps.dtype == plain.row_taps.dtype


@given(g=geometries(modes=("zeros",)))
def test_typed_row_pattern_is_the_plain_row_pattern(g):
    plain = plain_tap_map(g)
    indptr, cols, taps = _fastpaths.typed_row_pattern(g)
    assert np.array_equal(indptr, plain.row_indptr)
    assert np.array_equal(cols, plain.row_cols) and cols.dtype == plain.row_cols.dtype
    assert np.array_equal(taps, plain.row_taps) and taps.dtype == plain.row_taps.dtype


# --------------------------------------------------------------------------- runs and boxes
@settings(max_examples=200)
@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 3),
       lo=st.integers(0, 6), hi=st.integers(0, 6))
def test_tap_ranges_are_the_zero_padded_runs(n, k, s, d, lo, hi):
    from hypothesis import assume

    out = (n + lo + hi - d * (k - 1) - 1) // s + 1
    assume(out >= 1)
    ranges = _fastpaths.tap_ranges(n, k, s, lo, d, out)
    expected = []
    for o in range(out):
        taps = [t for t in range(k) if 0 <= o * s - lo + t * d < n]
        t_lo, t_hi = (taps[0], taps[-1] + 1) if taps else (0, 0)
        if expected and expected[-1][2:] == [t_lo, t_hi]:
            expected[-1][1] += 1
        else:
            expected.append([o, 1, t_lo, t_hi])
    assert ranges == [tuple(e) for e in expected]


@settings(max_examples=200)
@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 3),
       lo=st.integers(0, 5), hi=st.integers(0, 5), mode=st.sampled_from(MODES))
def test_axis_runs_list_the_axis_triples(n, k, s, d, lo, hi, mode):
    """The runs, expanded, are exactly the plain path's (output, input, tap) triples of the axis."""
    from hypothesis import assume

    try:
        g = ConvGeometry.from_weight_shape((1, 1, k), n, stride=s, padding=((lo, hi),), dilation=d,
                                           padding_mode=mode)
    except ValueError:
        assume(False)
    out = g.output_size[0]
    runs = _fastpaths.axis_runs(n, k, s, lo, d, out, mode)
    assert runs is not None and runs[0][0] == 0 and sum(r[1] for r in runs) == out
    o, i, t = [], [], []
    for start, count, cols, tapsets in runs:
        assert list(cols) == sorted(set(cols)) and all(list(ts) == sorted(ts) for ts in tapsets)
        for m in range(count):
            for c, ts in zip(cols, tapsets):
                for tap in ts:
                    o.append(start + m), i.append(c + m * s), t.append(tap)
    po, pi, pt = structure.axis_triples(n, k, s, lo, d, out, mode)
    order = np.lexsort((pt, pi, po))
    assert (o, i, t) == (po[order].tolist(), pi[order].tolist(), pt[order].tolist())


@given(g=geometries(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_box_plan_fills_the_plain_matrix(g, seed, zeros):
    """Data, indices and row pointer written box by box are the plain path's, in every mode."""
    plan = _fastpaths.box_plan(g)
    assert plan is not None
    w = _weight(g, seed, zeros)
    plain = plain_tap_map(g)
    assert np.array_equal(plan.row_indptr, plain.row_indptr) and plan.row_nnz == plain.row_nnz
    assert plan.has_duplicates == plain.has_duplicates
    data, found = _fastpaths.fill_boxes(w.reshape(g.out_channels, -1), plan)
    expected = plain.fill(w)
    assert np.array_equal(data, expected) and data.dtype == expected.dtype
    assert found == (not np.all(expected))
    indices = _fastpaths.box_indices(plan, plain.group_offsets(), plain.index_dtype)
    assert np.array_equal(indices, plain.indices) and indices.dtype == plain.indices.dtype


@given(g=geometries(), seed=st.integers(0, 2**16))
def test_boxes_tile_the_row_pattern_once(g, seed):
    """Every entry of the row pattern is written by exactly one box (no gap, no overlap)."""
    plan = _fastpaths.box_plan(g)
    covered = np.zeros(plan.row_nnz, dtype=np.int64)
    for box in plan.boxes:
        view = np.lib.stride_tricks.as_strided(
            covered[box.base:], shape=box.view_shape,
            strides=tuple(st * covered.itemsize for st in box.view_strides), writeable=True)
        view += 1  # overlapping entries would be counted once per write: compare with the sizes too
    assert np.all(covered == 1)
    assert sum(int(np.prod(b.view_shape)) for b in plan.boxes) == plan.row_nnz


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("mode", MODES)
def test_box_fill_keeps_the_dtype_and_sums_in_it(dtype, mode):
    g = ConvGeometry.from_weight_shape((2, 3, 3, 3), (6, 5), padding=2, padding_mode=mode)
    w = (np.arange(np.prod(g.weight_shape)) % 120 - 60).reshape(g.weight_shape).astype(dtype)
    data, _ = _fastpaths.fill_boxes(w.reshape(2, -1), _fastpaths.box_plan(g))
    expected = plain_tap_map(g).fill(w)
    assert data.dtype == expected.dtype and np.array_equal(data, expected)


def test_tiled_and_untiled_lines_agree(monkeypatch):
    g = ConvGeometry.from_weight_shape((3, 2, 3, 3), (9, 11), stride=(1, 2), padding=(1, 2), padding_mode="reflect")
    w = _weight(g, 0)
    monkeypatch.setattr(_fastpaths, "TILE_SHARE", 1.0)
    tiled = _fastpaths.box_plan(g)
    monkeypatch.setattr(_fastpaths, "TILE_SHARE", 0)
    untiled = _fastpaths.box_plan(g)
    assert [b.view_shape for b in tiled.boxes] != [b.view_shape for b in untiled.boxes]
    for plan in (tiled, untiled):
        assert np.array_equal(_fastpaths.fill_boxes(w.reshape(3, -1), plan)[0], plain_tap_map(g).fill(w))


def test_limits_give_up_cleanly(monkeypatch):
    g = ConvGeometry.from_weight_shape((1, 1, 3, 3), (8, 8), padding=1)
    monkeypatch.setattr(_fastpaths, "MAX_BORDER_TAPS", 1)  # two border outputs, six border taps per axis
    assert _fastpaths.axis_runs(8, 3, 1, 1, 1, 8, "zeros") is None and _fastpaths.box_plan(g) is None
    assert _fastpaths.typed_row_pattern(g) is None and _fastpaths.axis_runs(8, 3, 1, 1, 1, 8, "reflect") is None
    structure.clear_cache()
    assert np.array_equal(structure.tap_map(g).indices, plain_tap_map(g).indices)  # the masked grid, then
    structure.clear_cache()
    monkeypatch.setattr(_fastpaths, "MAX_BORDER_TAPS", 1 << 16)
    monkeypatch.setattr(_fastpaths, "MAX_BOXES", 4)
    assert _fastpaths.box_plan(g) is None


@given(g=geometries(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_transposed_box_plan_fills_the_plain_transpose(g, seed, zeros):
    """The transpose written box by box (inputs on lattices of the stride, phases joined) is the plain path's A.T."""
    plan = _fastpaths.transposed_box_plan(g)
    assert plan is not None
    plain = plain_tap_map(g, transposed=True)
    assert np.array_equal(plan.row_indptr, plain.row_indptr) and plan.row_nnz == plain.row_nnz
    assert plan.has_duplicates == plain.has_duplicates
    w = _weight(g, seed, zeros)
    data, found = _fastpaths.fill_boxes(plain.channel_weights(w).copy(), plan)
    assert np.array_equal(data, plain.fill(w)) and found == (not np.all(plain.fill(w)))
    indices = _fastpaths.box_indices(plan, plain.group_offsets(), plain.index_dtype)
    assert np.array_equal(indices, plain.indices)
    covered = np.zeros(plan.row_nnz, dtype=np.int64)
    for box in plan.boxes:
        np.lib.stride_tricks.as_strided(covered[box.base:], shape=box.view_shape, writeable=True,
                                        strides=tuple(s * covered.itemsize for s in box.view_strides))[...] += 1
    assert np.all(covered == 1)


@settings(max_examples=200)
@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 3),
       lo=st.integers(0, 5), hi=st.integers(0, 5), mode=st.sampled_from(MODES))
def test_transposed_axis_runs_list_the_axis_pairs(n, k, s, d, lo, hi, mode):
    from hypothesis import assume

    assume(mode != "reflect" or max(lo, hi) < n)
    assume(mode != "circular" or max(lo, hi) <= n)
    out = (n + lo + hi - d * (k - 1) - 1) // s + 1
    assume(out >= 1)
    runs, lengths = _fastpaths.transposed_axis_runs(n, k, s, lo, d, out, mode)
    seen = []
    for first, count, cols, tapsets, cum, step in runs:
        for m in range(count):
            i = first + m * s
            assert cum + m * step == sum(lengths[:i])
            seen.append((i, [(c + m, ts) for c, ts in zip(cols, tapsets)]))
    # the definition: input i holds, per output o, the taps whose padded position maps onto i
    where = [structure.axis_index_map(np.array([o * s - lo + t * d for t in range(k)]), n, mode) for o in range(out)]
    expected = [(i, [(o, tuple(int(t) for t in np.flatnonzero(where[o] == i))) for o in range(out)
                     if np.any(where[o] == i)]) for i in range(n)]
    assert sorted(seen) == expected and lengths == [len(e) for _, e in expected]


@settings(max_examples=60)
@given(g=geometries(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_plain_transposed_map_is_the_transpose_of_the_plain_matrix(g, seed, zeros):
    """The plain A.T (every entry's run of taps moved with it) filled is the plain matrix transposed."""
    plain = plain_tap_map(g, transposed=True)
    w = _weight(g, seed, zeros)
    A, _ = _plain_matrix(g, w)
    data = np.take(plain.channel_weights(w), plain.row_taps, axis=1)
    if plain.row_starts is not None:
        data = np.add.reduceat(data, plain.row_starts, axis=1, dtype=data.dtype)
    T = sp.csr_array((data.reshape(-1), plain.indices, plain.indptr), shape=plain.shape)
    T.eliminate_zeros()
    assert _same_csr(T, sp.csr_array(A.T)) and plain.has_duplicates == (plain_tap_map(g).row_starts is not None)


@pytest.mark.parametrize("mode", MODES)
def test_strided_phases_are_joined_into_tiled_lines(monkeypatch, mode):
    """Stride 2: the two phases of the last axis become boxes of adjacent units, their lines tiled."""
    monkeypatch.setattr(_fastpaths, "TILE_SHARE", 1.0)
    g = ConvGeometry.from_weight_shape((4, 3, 3, 3), (11, 12), stride=2, padding=1, padding_mode=mode)
    plan = _fastpaths.transposed_box_plan(g)
    joined = [b for b in plan.boxes if b.box[-1] > 1 and b.view_shape[-1] == b.box[-1] * b.strides[-1]]  # tiled
    assert joined
    for b in joined:  # a unit is two adjacent rows, one of each phase
        row = int(np.searchsorted(plan.row_indptr, b.base))
        assert plan.row_indptr[row] == b.base and plan.row_indptr[row + 2] - b.base == b.strides[-1]
    plain = plain_tap_map(g, transposed=True)
    w = _weight(g, 3)
    assert np.array_equal(_fastpaths.fill_boxes(plain.channel_weights(w).copy(), plan)[0], plain.fill(w))
    assert np.array_equal(plan.row_indptr, plain.row_indptr)
    assert np.array_equal(_fastpaths.box_indices(plan, plain.group_offsets(), plain.index_dtype), plain.indices)


# --------------------------------------------------------------------------- the chosen path, end to end
@pytest.fixture(params=["chosen", "masked", "boxes"])
def path(request, monkeypatch):
    """Run a test with tap_map's own choice, or forcing the masked gather, or forcing the boxes."""
    if request.param == "masked":
        monkeypatch.setattr(structure, "BOX_MIN_NNZ", 2**62)
    elif request.param == "boxes":
        monkeypatch.setattr(structure, "BOX_MIN_NNZ", 0)
        monkeypatch.setattr(structure, "BOX_MIN_ENTRIES", 0)
    structure.clear_cache()
    yield request.param
    structure.clear_cache()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=geometries(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_transposed_tap_map_equals_the_plain_map(path, g, seed, zeros):
    m, plain = structure.transposed_tap_map(g), plain_tap_map(g, transposed=True)
    assert m.shape == plain.shape and m.nnz == plain.nnz and m.has_duplicates == plain.has_duplicates
    for name in ("row_indptr", "row_cols", "row_taps", "indptr", "indices", "taps"):
        assert np.array_equal(getattr(m, name), getattr(plain, name)), name
    if plain.row_starts is not None:
        assert np.array_equal(m.row_starts, plain.row_starts) and np.array_equal(m.starts, plain.starts)
    w = _weight(g, seed, zeros)
    assert np.array_equal(m.fill(w), plain.fill(w))
    T = cm.conv_transpose_matrix(w, g.output_size, stride=g.stride, padding=g.padding, dilation=g.dilation,
                                 groups=g.groups, output_padding=0, padding_mode=g.padding_mode
                                 ) if g.output_limit is None and _full(g) else None
    if T is not None:
        A, _ = _plain_matrix(g, w)
        assert _same_csr(T, sp.csr_array(A.T))


def _full(g: ConvGeometry) -> bool:
    """Whether the transposed convolution of ``g``'s output size has ``g``'s input size (no output_padding)."""
    return all((o - 1) * s - lo - hi + d * (k - 1) + 1 == n for o, s, (lo, hi), d, k, n in
               zip(g.output_size, g.stride, g.padding, g.dilation, g.kernel_size, g.input_size))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=geometries(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_tap_map_equals_the_plain_map(path, g, seed, zeros):
    m, plain = structure.tap_map(g), plain_tap_map(g)
    assert m.shape == plain.shape and m.nnz == plain.nnz and m.has_duplicates == plain.has_duplicates
    for name in ("row_indptr", "row_cols", "row_taps", "indptr", "indices", "taps"):
        assert np.array_equal(getattr(m, name), getattr(plain, name)), name
    assert (m.row_starts is None) == (plain.row_starts is None)
    if plain.row_starts is not None:
        assert np.array_equal(m.row_starts, plain.row_starts) and np.array_equal(m.starts, plain.starts)
    w = _weight(g, seed, zeros)
    A, _ = _plain_matrix(g, w)
    B = cm.conv_matrix(w, g.input_size, stride=g.stride, padding=g.padding, dilation=g.dilation,
                       groups=g.groups, padding_mode=g.padding_mode)
    assert _same_csr(A, B) and B.has_canonical_format and np.all(B.data != 0)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=geometries(max_ndim=2, max_size=6), seed=st.integers(0, 2**16))
def test_symbolic_fill_equals_the_plain_map(path, g, seed):
    w = cm.symbolic_weight(g.weight_shape)
    m, plain = structure.tap_map(g), plain_tap_map(g)
    assert list(m.fill(w)) == list(plain.fill(w))


def test_parallel_indices_thread(monkeypatch, path):
    monkeypatch.setattr(cm.matrices, "PARALLEL_FILL_NNZ", 0)
    for mode in MODES:
        g = ConvGeometry.from_weight_shape((4, 2, 3, 3), (7, 9), stride=(2, 1), padding=2, padding_mode=mode,
                                           groups=2)
        w = _weight(g, 3, zeros=True)
        A, _ = _plain_matrix(g, w)
        assert _same_csr(A, cm.conv_matrix(w, (7, 9), stride=(2, 1), padding=2, padding_mode=mode, groups=2))


def test_summed_taps_that_cancel_are_not_stored(path):
    # replicate: taps 0, 1 and 2 all read x0 at the left border; 1 + 2 - 3 = 0 there
    w = np.array([[[1, 2, -3]]])
    A = cm.conv_matrix(w, 5, padding=2, padding_mode="replicate")
    ref, _ = _plain_matrix(ConvGeometry.from_weight_shape(w.shape, 5, padding=2, padding_mode="replicate"), w)
    assert _same_csr(A, ref) and np.all(A.data != 0)


# --------------------------------------------------------------------------- CSR and SymPy assembly
def test_csr_arrays_is_scipys_array():
    data, indices, indptr = np.array([1.0, 2.0]), np.array([0, 2], dtype=np.int32), np.array([0, 1, 2], np.int32)
    a = _sparse.csr_arrays((2, 3), data, indices, indptr)
    b = sp.csr_array((data, indices, indptr), shape=(2, 3))
    assert type(a) is type(b) and a.shape == b.shape and a.has_canonical_format and a.has_sorted_indices
    assert a.__dict__.keys() >= b.__dict__.keys() and (a != b).nnz == 0
    assert a.data is data and a.indices is indices  # wrapped, not copied
    assert ((a @ a.T) != (b @ b.T)).nnz == 0 and repr(a) == repr(b)


def test_tiled_pointer():
    row = np.array([0, 2, 2, 5])
    assert _sparse.tiled_pointer(row, 3, np.int32).tolist() == [0, 2, 2, 5, 7, 7, 10, 12, 12, 15]
    assert _sparse.tiled_indptr(np.diff(row), 3, np.int64).tolist() == [0, 2, 2, 5, 7, 7, 10, 12, 12, 15]


def _today(shape, data, indices, indptr):
    """How sympy_csr built its matrices before: SymPy's constructor from a dict."""
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    entries = {(int(r), int(c)): v for r, c, v in zip(rows, indices, data) if v != 0}
    return sympy.ImmutableSparseMatrix(*shape, entries)


@pytest.mark.parametrize("mode", MODES)
def test_sympy_csr_is_sympys_own_matrix(mode):
    a, b = sympy.symbols("a b")
    w = np.array([[[a, 2 * b, -a, sympy.Derivative(sympy.Function("f")(a), a)]]], dtype=object)
    g = ConvGeometry.from_weight_shape(w.shape, 6, padding=2, padding_mode=mode)
    m = plain_tap_map(g)
    args = (m.shape, m.fill(w), m.indices, m.indptr)
    new, old = _sparse.sympy_csr(*args), _today(*args)
    assert type(new) is type(old) and new == old and hash(new) == hash(old)
    assert new.args == old.args and new.args[2].elements == old.args[2].elements
    assert new._rep == old._rep and new._rep.domain == old._rep.domain and new.todok() == old.todok()
    assert sympy.srepr(new) == sympy.srepr(old) and new.free_symbols == old.free_symbols
    assert new.subs(a, 1) == old.subs(a, 1) and new.T == old.T


@pytest.mark.parametrize("values", [[1, 2, 0, 3], [sympy.Rational(1, 2), 1, 0, 2], [1.5, 0, 2, 1]])
def test_sympy_csr_numbers_get_sympys_domain(values):
    data = np.array(values, dtype=object)
    args = ((2, 3), data, np.array([0, 2, 1, 2]), np.array([0, 2, 4]))
    new, old = _sparse.sympy_csr(*args), _today(*args)
    assert new == old and new._rep.domain == old._rep.domain and new.args == old.args and hash(new) == hash(old)
    numeric = ((2, 3), np.array([1, 2, 0, 3]), np.array([0, 2, 1, 2]), np.array([0, 2, 4]))
    assert _sparse.sympy_csr(*numeric) == _today(*numeric) and _sparse.sympy_csr(*numeric).args == _today(*numeric).args


def test_sympy_csr_empty_and_all_zero():
    for data in (np.array([], dtype=object), np.array([sympy.Integer(0)], dtype=object)):
        indptr = np.array([0, data.size, data.size])
        args = ((2, 2), data, np.zeros(data.size, dtype=np.int64), indptr)
        new, old = _sparse.sympy_csr(*args), _today(*args)
        assert new == old and new.args == old.args and new._rep.domain == old._rep.domain


def test_symbolic_conv_matrix_is_unchanged():
    w = cm.symbolic_weight((2, 1, 2, 2))
    A = cm.conv_matrix(w, (4, 3), padding=1, padding_mode="circular")
    m = plain_tap_map(ConvGeometry.from_weight_shape(w.shape, (4, 3), padding=1, padding_mode="circular"))
    assert type(A) is sympy.ImmutableSparseMatrix and A == _today(m.shape, m.fill(w), m.indices, m.indptr)


# --------------------------------------------------------------------------- SymPy matrices, swept
def _same_sympy(new, old, order=True):
    """``new`` is the matrix SymPy built as ``old``: type, entries, parts, hashes, lookups (and dict orders)."""
    assert type(new) is type(old) is sympy.ImmutableSparseMatrix
    assert new == old and new.args == old.args and hash(new) == hash(old)
    assert new._rep == old._rep and new._rep.domain == old._rep.domain and new.shape == old.shape
    assert type(new._rep.rep) is type(old._rep.rep) and new._rep.rep.shape == old._rep.rep.shape
    if order:  # the dicts' orders too (SymPy's .T orders its rows by first use instead)
        assert [(i, list(r.items())) for i, r in new._rep.rep.items()] == [(i, list(r.items())) for i, r in old._rep.rep.items()]
        assert list(new.args[2]._dict.items()) == list(old.args[2]._dict.items())
    assert new.todok() == old.todok()
    table, ref = new.args[2], old.args[2]
    assert table.elements == ref.elements and table._dict == ref._dict
    # SymPy's own Tuples, found in their dict and set by SymPy's own hashes
    assert all(type(k) is sympy.Tuple and type(it) is sympy.Tuple for k, it in zip(table.keys(), table.args))
    assert all(it in table.elements for it in ref.args) and all(table[k] == v for k, v in ref.items())
    assert all(hash(a) == hash(b) for a, b in zip(table.args, ref.args))


def _reference(M):
    """SymPy's constructor given ``M``'s own entries, in CSR order."""
    dok = M.todok()
    return sympy.ImmutableSparseMatrix(M.rows, M.cols, {k: dok[k] for k in sorted(dok)})


def _mixed_weight(shape, seed):
    """Symbols, numbers, zeros and symbols that cancel when taps coincide (``a`` next to ``-a``)."""
    rng = np.random.default_rng(seed)
    a = sympy.Symbol("a")
    pool = [a, -a, 2 * a, sympy.Integer(0), sympy.Integer(3), sympy.Rational(1, 2), sympy.Symbol("b") ** 2]
    w = cm.symbolic_weight(shape)
    mask = rng.random(shape) < 0.5
    w[mask] = np.array(pool, dtype=object)[rng.integers(0, len(pool), size=int(mask.sum()))]
    return w


@settings(max_examples=40, deadline=None)
@given(g=geometries(max_ndim=3, max_size=6), seed=st.integers(0, 2**16), mixed=st.booleans())
def test_symbolic_conv_matrix_is_sympys_constructor(g, seed, mixed):
    """Every padding mode, stride, dilation, groups, 1-3 dims, taps that coincide and sum (or cancel)."""
    w = _mixed_weight(g.weight_shape, seed) if mixed else cm.symbolic_weight(g.weight_shape)
    A = cm.conv_matrix(w, g.input_size, stride=g.stride, padding=g.padding, dilation=g.dilation,
                       groups=g.groups, padding_mode=g.padding_mode)
    m = plain_tap_map(g)
    _same_sympy(A, _today(m.shape, m.fill(w), m.indices, m.indptr))


@settings(max_examples=15, deadline=None)
@given(g=geometries(max_ndim=2, max_size=5), seed=st.integers(0, 2**16))
def test_symbolic_transpose_and_im2col_are_sympys_constructor(g, seed):
    w = _mixed_weight(g.weight_shape, seed)
    kw = dict(stride=g.stride, padding=g.padding, dilation=g.dilation, groups=g.groups, padding_mode=g.padding_mode)
    try:
        T = cm.conv_transpose_matrix(w, g.input_size, **kw)
    except ValueError:  # no output for this input size: the im2col matrix only
        T = None
    if T is not None:
        _same_sympy(T, _reference(T))
        if g.padding_mode != "zeros":  # as it was built before: SymPy's transpose of the padded convolution
            conv = ConvTransposeGeometry.from_weight_shape(w.shape, g.input_size, **kw).conv
            m = plain_tap_map(conv)
            _same_sympy(T, _today(m.shape, m.fill(w), m.indices, m.indptr).T, order=False)
    x = cm.symbolic_weight((g.in_channels, *g.input_size), "x")
    X = cm.im2col_matrix(x, g.kernel_size, out_channels=g.out_channels, **kw)
    _same_sympy(X, _reference(X))


def test_symbolic_transposed_conv_as_direct_is_sympys_constructor():
    w = cm.symbolic_weight((2, 1, 3))
    d = cm.transposed_conv_as_direct(w, 4, stride=2, padding=1)
    assert isinstance(d.C, sympy.ImmutableSparseMatrix) and isinstance(d.matrix, sympy.ImmutableSparseMatrix)
    for M in (d.C, d.matrix):
        _same_sympy(M, _reference(M))


@pytest.mark.parametrize("enabled", [True, False])
def test_sympy_csr_leaves_the_collector_as_it_was(monkeypatch, enabled):
    """The collector is paused during the build and left as the caller had it (the matrix unchanged)."""
    import gc

    w = _mixed_weight((2, 2, 3, 3), 7)
    g = ConvGeometry.from_weight_shape(w.shape, (5, 6), padding=2, padding_mode="circular", dilation=2)
    m = plain_tap_map(g)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        A = _sparse.sympy_csr(m.shape, m.fill(w), m.indices, m.indptr)
        assert gc.isenabled() is enabled
        def broken(used, size):  # a failure while the collector is paused
            raise RuntimeError("broken")

        with monkeypatch.context() as mp:
            mp.setattr(_sparse, "_integers", broken)
            with pytest.raises(RuntimeError, match="broken"):
                _sparse.sympy_csr(m.shape, m.fill(w), m.indices, m.indptr)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    _same_sympy(A, _today(m.shape, m.fill(w), m.indices, m.indptr))


def _affine_today(A, b):
    """How affine_matrix built a symbolic map before: SymPy's constructor from a dict."""
    m, n = A.shape
    if isinstance(A, sympy.MatrixBase):
        entries = dict(A.todok())
    else:
        coo = sp.coo_array(A)
        entries = {(int(r), int(c)): sympy.sympify(v) for r, c, v in zip(coo.row, coo.col, coo.data) if v != 0}
    entries.update({(i, n): sympy.sympify(v) for i, v in enumerate(np.asarray(b).tolist()) if v != 0})
    entries[(m, n)] = sympy.Integer(1)
    return sympy.ImmutableSparseMatrix(m + 1, n + 1, entries)


@settings(max_examples=15, deadline=None)
@given(g=geometries(max_ndim=2, max_size=5), seed=st.integers(0, 2**16), which=st.sampled_from(["A", "b", "both"]))
def test_symbolic_affine_matrix_is_sympys_constructor(g, seed, which):
    kw = dict(stride=g.stride, padding=g.padding, dilation=g.dilation, groups=g.groups, padding_mode=g.padding_mode)
    rng = np.random.default_rng(seed)
    w = _mixed_weight(g.weight_shape, seed) if which != "b" else _weight(g, seed, zeros=True) / 4
    A = cm.conv_matrix(w, g.input_size, **kw)
    if which == "A":  # numbers, zeros, and 1 beside 1.0 (equal keys of a dict, not equal SymPy numbers)
        b = np.array(rng.choice([1, 0, 2, -3], size=A.shape[0]).tolist(), dtype=object)
        b[::3] = 1.0
    else:
        b = cm.symbolic_weight((A.shape[0],), "b")
        b[::4] = 0
    H = cm.affine_matrix(A, b)
    # the dict orders differ: SymPy's constructor keeps the order it was given (A's entries, then b's)
    _same_sympy(H, _affine_today(A, b), order=False)
    _same_sympy(H, _reference(H))


@settings(max_examples=30, deadline=None)
@given(g=geometries(modes=("reflect", "replicate", "circular"), max_ndim=3, max_size=6), seed=st.integers(0, 2**16),
       mixed=st.booleans())
def test_summed_objects_are_reduceat(g, seed, mixed):
    """Objects where taps meet are summed once per distinct run of taps: the same as numpy's reduceat, entry by entry."""
    w = _mixed_weight(g.weight_shape, seed) if mixed else cm.symbolic_weight(g.weight_shape)
    for m in (plain_tap_map(g), structure.tap_map(g)):
        w2 = m.channel_weights(w)
        if m.row_starts is None:
            continue
        ref = np.add.reduceat(w2.take(m.row_taps, axis=1), m.row_starts, axis=1).reshape(-1)
        got = m.fill(w)
        assert got.dtype == object and got.shape == ref.shape
        assert all(type(a) is type(b) and a == b for a, b in zip(got.tolist(), ref.tolist()))
