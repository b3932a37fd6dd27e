"""conv_matrix against PyTorch (numerics) and the naive loop reference (structure)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.geometry import ConvGeometry
from convmatrix.structure import tap_map
from convmatrix.testing import conv_configs, naive_conv_matrix

from conftest import torch_conv

MODES = ("zeros", "reflect", "replicate", "circular")


def _kwargs(cfg):
    return {k: cfg[k] for k in ("stride", "padding", "dilation", "groups", "padding_mode")}


@settings(max_examples=120)
@given(cfg=conv_configs(modes=MODES), seed=st.integers(0, 2**16))
def test_matches_torch_layers(cfg, seed):
    """A @ x equals torch's ConvNd (every padding mode, N = 1..3, groups, dilation, stride)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(cfg["weight_shape"])
    x = rng.standard_normal((w.shape[1] * cfg["groups"], *cfg["input_size"]))
    A = cm.conv_matrix(w, cfg["input_size"], **_kwargs(cfg))
    y = torch_conv(x, w, **_kwargs(cfg))
    assert A.shape == (y.size, x.size)
    np.testing.assert_allclose(A @ x.reshape(-1), y.reshape(-1), rtol=1e-12, atol=1e-12)


@settings(max_examples=80)
@given(cfg=conv_configs(modes=MODES, max_size=5), seed=st.integers(0, 2**16))
def test_structure_equals_naive_reference_exactly(cfg, seed):
    """Integer kernels: the sparse matrix equals the loop-built one entry for entry."""
    w = np.random.default_rng(seed).integers(-9, 10, size=cfg["weight_shape"])
    A = cm.conv_matrix(w, cfg["input_size"], **_kwargs(cfg))
    g = ConvGeometry.from_weight_shape(w.shape, cfg["input_size"], **_kwargs(cfg))
    ref = naive_conv_matrix(w, g)
    assert A.dtype == w.dtype
    assert np.array_equal(A.toarray(), ref)


@given(cfg=conv_configs(modes=MODES, max_size=6))
def test_canonical_csr(cfg):
    """Sorted indices, no duplicates, no zeros from padding; one entry per tap pattern."""
    w = np.ones(cfg["weight_shape"], dtype=np.int64)
    A = cm.conv_matrix(w, cfg["input_size"], **_kwargs(cfg))
    assert isinstance(A, sp.csr_array)
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32
    B = A.copy()
    B.has_canonical_format = False
    B.sum_duplicates()
    assert np.array_equal(B.indices, A.indices) and np.array_equal(B.indptr, A.indptr)
    assert np.all(A.data != 0)  # an all-ones kernel: any stored zero would come from padding
    assert A.nnz <= cm.estimate_size(ConvGeometry.from_weight_shape(w.shape, cfg["input_size"], **_kwargs(cfg)))[0]


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_dtype_is_kept(dtype, mode):
    # in the non-zero modes duplicate taps are summed: in the kernel's dtype, not numpy's int64
    w = (np.arange(12).reshape(2, 2, 3) % 5).astype(dtype)
    A = cm.conv_matrix(w, 5, padding=2, padding_mode=mode)
    assert A.dtype == dtype
    T = cm.conv_transpose_matrix(w, 5, padding=1)
    assert T.dtype == dtype
    x = np.arange(10).astype(dtype)
    ref = naive_conv_matrix(w, ConvGeometry.from_weight_shape(w.shape, 5, padding=2, padding_mode=mode))
    assert np.array_equal(A @ x, ref @ x)


def test_complex_matches_real_and_imaginary_parts(rng):
    w = rng.standard_normal((3, 2, 3, 3)) + 1j * rng.standard_normal((3, 2, 3, 3))
    A = cm.conv_matrix(w, (5, 4), padding=1, stride=(2, 1))
    R = cm.conv_matrix(w.real.copy(), (5, 4), padding=1, stride=(2, 1))
    I = cm.conv_matrix(w.imag.copy(), (5, 4), padding=1, stride=(2, 1))
    assert abs(A - (R + 1j * I)).max() == 0


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia", "dok", "lil", "dense"])
def test_formats(fmt):
    w = np.arange(1, 10).reshape(1, 1, 3, 3)
    A = cm.conv_matrix(w, (4, 4), padding=1, format=fmt)
    ref = cm.conv_matrix(w, (4, 4), padding=1).toarray()
    if fmt == "dense":
        assert isinstance(A, np.ndarray)
        assert np.array_equal(A, ref)
    else:
        assert A.format == fmt
        assert np.array_equal(A.toarray(), ref)


def test_tap_map_is_cached_and_shared():
    g = ConvGeometry.from_weight_shape((2, 1, 3), 5)
    assert tap_map(g) is tap_map(ConvGeometry.from_weight_shape((2, 1, 3), 5))


def test_tap_map_reads_weight_entries():
    """data == weight.reshape(-1)[taps] and the taps run over every kernel entry."""
    g = ConvGeometry.from_weight_shape((4, 3, 2, 3), (5, 6), stride=(1, 2), padding=1, groups=1)
    m = tap_map(g)
    w = np.arange(1, np.prod(g.weight_shape) + 1).reshape(g.weight_shape)  # no zero: every tap stored
    A = cm.conv_matrix(w, (5, 6), stride=(1, 2), padding=1)
    assert np.array_equal(A.data, w.reshape(-1)[m.taps])
    assert np.array_equal(np.unique(m.taps), np.arange(w.size))


def test_int64_indices_beyond_int32():
    """Columns past 2**31 - 1 switch the indices to int64 (the matrix itself is tiny)."""
    n = 2**31 + 10
    A = cm.conv_matrix(np.array([[[1, 2]]]), n, stride=2**30)
    assert A.shape == (3, n)
    assert A.indices.dtype == np.int64 and A.indptr.dtype == np.int64
    assert A.indices.tolist() == [0, 1, 2**30, 2**30 + 1, 2**31, 2**31 + 1]


# --------------------------------------------------------------------------- true convolution
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("k,n", [(1, 5), (2, 5), (3, 5), (4, 6), (5, 5), (3, 3)])
def test_flip_equals_scipy_convolution_matrix(mode, k, n):
    a = np.arange(1, k + 1) * 3 - 5
    pad = {"full": k - 1, "same": "same", "valid": 0}[mode]
    A = cm.conv_matrix(a.reshape(1, 1, k), n, padding=pad, flip=True)
    ref = scipy.linalg.convolution_matrix(a, n, mode)
    assert np.array_equal(A.toarray(), ref)
    x = np.arange(n) - 2
    assert np.array_equal(A @ x, np.convolve(a, x, mode))


def test_flip_is_conv_of_flipped_kernel_nd(rng):
    w = rng.integers(-5, 5, size=(2, 3, 2, 3, 2))
    A = cm.conv_matrix(w, (4, 5, 3), flip=True, padding=1)
    B = cm.conv_matrix(w[:, :, ::-1, ::-1, ::-1], (4, 5, 3), padding=1)
    assert (A != B).nnz == 0


# --------------------------------------------------------------------------- bias
def test_bias_affine_matches_torch(rng):
    w, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    x = rng.standard_normal((4, 6, 5))
    A = cm.conv_matrix(w, (6, 5), stride=2, padding=1, groups=2)
    out = cm.conv_output_size((6, 5), 3, 2, 1)
    bvec = cm.conv_bias_vector(b, out)
    y = torch_conv(x, w, stride=2, padding=1, groups=2, bias=b)
    np.testing.assert_allclose(A @ x.reshape(-1) + bvec, y.reshape(-1), atol=1e-12)
    H = cm.affine_matrix(A, bvec)
    np.testing.assert_allclose(H @ np.append(x.reshape(-1), 1), np.append(y.reshape(-1), 1), atol=1e-12)


def test_affine_composes_layers(rng):
    w1, b1 = rng.integers(-3, 4, (2, 1, 3)), rng.integers(-3, 4, 2)
    w2, b2 = rng.integers(-3, 4, (1, 2, 2)), rng.integers(-3, 4, 1)
    A1, A2 = cm.conv_matrix(w1, 6), cm.conv_matrix(w2, 4)
    H = cm.affine_matrix(A2, cm.conv_bias_vector(b2, 3)) @ cm.affine_matrix(A1, cm.conv_bias_vector(b1, 4))
    x = rng.integers(-5, 5, 6)
    expected = A2 @ (A1 @ x + np.repeat(b1, 4)) + np.repeat(b2, 3)
    assert np.array_equal((H @ np.append(x, 1))[:-1], expected)


def test_symbolic_affine():
    A = cm.conv_matrix(cm.symbolic_weight((1, 1, 2)), 3)
    H = cm.affine_matrix(A, [sympy.Symbol("b"), sympy.Symbol("b")])
    assert H.shape == (3, 4) and H[0, 3] == sympy.Symbol("b") and H[2, 3] == 1
    # a symbolic bias on a numeric matrix makes the affine map symbolic
    N = cm.conv_matrix(np.array([[[1, 2]]]), 3)
    H2 = cm.affine_matrix(N, [sympy.Symbol("b"), 0])
    assert isinstance(H2, sympy.MatrixBase) and H2[0, :] == sympy.Matrix([[1, 2, 0, sympy.Symbol("b")]])


# --------------------------------------------------------------------------- symbolic
def test_symbolic_matrix_structure():
    w = cm.symbolic_weight((1, 1, 2, 2))
    A = cm.conv_matrix(w, (3, 3))
    assert isinstance(A, sympy.ImmutableSparseMatrix) and A.shape == (4, 9)
    w00, w01, w10, w11 = w.reshape(-1)
    assert A[0, :].tolist()[0] == [w00, w01, 0, w10, w11, 0, 0, 0, 0]
    assert str(w00) == "w_{0,0,0,0}"


@settings(max_examples=30)
@given(cfg=conv_configs(modes=MODES, max_size=4, max_ndim=2), seed=st.integers(0, 100))
def test_symbolic_substitution_equals_numeric(cfg, seed):
    """Substituting numbers into the symbolic matrix gives the numeric one (duplicates summed)."""
    shape = cfg["weight_shape"]
    w_sym = cm.symbolic_weight(shape)
    w_num = np.random.default_rng(seed).integers(-5, 6, size=shape)
    S = cm.conv_matrix(w_sym, cfg["input_size"], **_kwargs(cfg))
    subs = dict(zip(w_sym.reshape(-1), (int(v) for v in w_num.reshape(-1))))
    N = cm.conv_matrix(w_num, cfg["input_size"], **_kwargs(cfg)).toarray()
    assert np.array_equal(np.array(S.subs(subs).tolist(), dtype=np.int64), N)


def test_symbolic_reflect_sums_duplicate_taps():
    w = cm.symbolic_weight((1, 1, 3))
    A = cm.conv_matrix(w, 2, padding=1, padding_mode="reflect")
    a, b, c = w.reshape(-1)
    # row 0 reads (x1, x0, x1): a and c both land on x1
    assert A[0, 1] == a + c and A[0, 0] == b


def test_sympy_array_weight_is_accepted():
    a, b = sympy.symbols("a b")
    A = cm.conv_matrix(sympy.Array([[[a, b]]]), 3)
    assert A.tolist() == [[a, b, 0], [0, a, b]]


@settings(max_examples=150)
@given(cfg=conv_configs(modes=MODES, max_size=9), seed=st.integers(0, 2**16))
def test_lattice_fill_equals_plain_gather(cfg, seed):
    """The broadcast fill over boxes of equal taps writes exactly what the entry-wise gather does."""
    g = ConvGeometry.from_weight_shape(cfg["weight_shape"], cfg["input_size"], **_kwargs(cfg))
    m = tap_map(g)
    w = np.random.default_rng(seed).integers(-99, 100, size=cfg["weight_shape"])
    plain = np.take(w.reshape(w.shape[0], -1), m.row_taps, axis=1)
    if m.row_starts is not None:
        plain = np.add.reduceat(plain, m.row_starts, axis=1)
    assert np.array_equal(m.fill(w), plain.reshape(-1))
    if m.lattices is not None:  # the boxes cover the row pattern exactly once
        covered = np.zeros(m.row_taps.size, dtype=int)
        for base, box, strides, taps in m.lattices:
            offs = base + sum(np.arange(b).reshape([-1 if i == a else 1 for i in range(len(box))]) * s
                              for a, (b, s) in enumerate(zip(box, strides)))
            idx = (np.asarray(offs).reshape(-1, 1) + np.arange(taps.size)).reshape(-1)
            np.add.at(covered, idx, 1)
        assert np.all(covered == 1)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_no_stored_zeros_whatever_the_kernel(mode):
    # zero kernel entries, and replicate taps that cancel (1 + -1 at the border), store nothing
    w = np.array([[[0, 1, -1, 0, 2]]])
    A = cm.conv_matrix(w, 6, padding=2, padding_mode=mode)
    assert np.all(A.data != 0) and A.has_canonical_format
    ref = naive_conv_matrix(w, ConvGeometry.from_weight_shape(w.shape, 6, padding=2, padding_mode=mode))
    assert np.array_equal(A.toarray(), np.asarray(ref.toarray() if hasattr(ref, "toarray") else ref))
    T = cm.conv_transpose_matrix(w, 6, padding=2)
    assert np.all(T.data != 0)
    S = cm.transposed_conv_as_direct(w, 6, padding=2).matrix
    assert np.all(S.data != 0) and (S != T).nnz == 0
    assert cm.conv_matrix(np.zeros((1, 1, 3)), 5).nnz == 0
    X = cm.im2col_matrix(np.array([[0.0, 1, 0, 2, 3]]), 3)
    assert np.all(X.data != 0)


@pytest.mark.parametrize("shape, n, kw", [
    ((4, 2, 3, 3), (7, 6), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    ((2, 3, 2, 3, 2), (4, 5, 3), dict(padding=((1, 0), (2, 1), (0, 1)))),
])
def test_row_pattern_paths_agree(monkeypatch, shape, n, kw):
    # runs of equal-length rows copied as slices, or rows grouped by length: the same tap map
    from convmatrix import _fastpaths, structure
    w = np.arange(1, np.prod(shape) + 1).reshape(shape)
    structure.clear_cache()
    A = cm.conv_matrix(w, n, **kw)
    T = cm.conv_transpose_matrix(w, n, **kw) if "dilation" not in kw else None
    monkeypatch.setattr(_fastpaths, "MAX_ROW_RUNS", 0)
    structure.clear_cache()
    B = cm.conv_matrix(w, n, **kw)
    assert np.array_equal(A.indices, B.indices) and np.array_equal(A.data, B.data)
    if T is not None:
        assert (cm.conv_transpose_matrix(w, n, **kw) != T).nnz == 0
    structure.clear_cache()


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_parallel_fill_is_the_same_matrix(monkeypatch, mode):
    # large layers write the column indices on a second thread while the data is filled
    w = np.arange(-9, 9).reshape(2, 1, 3, 3)  # a zero entry: eliminated after the threads join
    A = cm.conv_matrix(w, (9, 8), padding=2, padding_mode=mode)
    T = cm.conv_transpose_matrix(w, (9, 8), padding=1, stride=2)
    monkeypatch.setattr(cm.matrices, "PARALLEL_FILL_NNZ", 0)
    B = cm.conv_matrix(w, (9, 8), padding=2, padding_mode=mode)
    U = cm.conv_transpose_matrix(w, (9, 8), padding=1, stride=2)
    for X, Y in ((A, B), (T, U)):
        assert np.array_equal(X.indptr, Y.indptr) and np.array_equal(X.indices, Y.indices)
        assert np.array_equal(X.data, Y.data) and np.all(Y.data != 0)


def test_threads_can_be_turned_off(monkeypatch):
    from convmatrix import transposed as tr
    monkeypatch.setattr(cm.matrices, "PARALLEL_FILL_NNZ", 0)
    monkeypatch.setenv("CONVMATRIX_THREADS", "1")
    assert cm._limits.threads() == 1
    w = np.arange(1, 19).reshape(2, 1, 3, 3)
    assert cm.conv_matrix(w, (6, 6), padding=1).nnz == 2 * (36 * 9 - 4 * 6 * 3 + 4)
    d = cm.transposed_conv_as_direct(w, (4, 4), stride=2)
    assert tr._streamed_equal(d, cm.conv_transpose_matrix(w, (4, 4), stride=2), block_bytes=8)
    monkeypatch.setenv("CONVMATRIX_THREADS", "many")
    with pytest.raises(ValueError, match="CONVMATRIX_THREADS"):
        cm.conv_matrix(w, (6, 6), padding=1)
