"""Geometry: output sizes against PyTorch, and every refusal with a message naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.geometry import ConvGeometry, normalize_padding


@given(
    n=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 4), d=st.integers(1, 3)
)
def test_conv_output_size_matches_torch(n, k, s, p, d):
    expected = None
    try:
        expected = torch.nn.functional.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
    except RuntimeError:
        pass
    if expected is None:
        with pytest.raises(ValueError, match="empty"):
            cm.conv_output_size(n, k, s, p, d)
    else:
        assert cm.conv_output_size(n, k, s, p, d) == (expected,)


@given(
    n=st.integers(1, 10), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3),
    op=st.integers(0, 3),
)
def test_conv_transpose_output_size_matches_torch(n, k, s, p, d, op):
    try:
        expected = torch.nn.functional.conv_transpose1d(
            torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError, match="output_padding|empty"):
            cm.conv_transpose_output_size(n, k, s, p, op, d)
        return
    assert cm.conv_transpose_output_size(n, k, s, p, op, d) == (expected,)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k,d", [(1, 1), (2, 1), (3, 1), (4, 1), (3, 2), (4, 3)])
def test_same_padding_matches_torch(k, d):
    w = torch.arange(1.0, k + 1).reshape(1, 1, k)
    x = torch.arange(7.0).reshape(1, 1, 7)
    y = torch.nn.functional.conv1d(x, w, padding="same", dilation=d)[0, 0].numpy()
    A = cm.conv_matrix(w.numpy().astype(np.float64), 7, padding="same", dilation=d)
    assert np.array_equal(A @ np.arange(7.0), y)


def test_geometry_is_frozen_and_hashable():
    g = ConvGeometry.from_weight_shape((2, 1, 3, 3), (5, 5), padding="same")
    assert g.padding == ((1, 1), (1, 1))
    assert hash(g) == hash(ConvGeometry.from_weight_shape((2, 1, 3, 3), (5, 5), padding=1))
    with pytest.raises(AttributeError):
        g.stride = (2, 2)


@settings(max_examples=60)
@given(ndim=st.integers(1, 3), data=st.data())
def test_from_weight_shape_is_the_constructors_geometry(ndim, data):
    """from_weight_shape sets its validated fields directly: the same geometry as the constructor's, sizes and hash too."""
    import dataclasses
    import pickle

    ints = lambda lo, hi: tuple(data.draw(st.integers(lo, hi)) for _ in range(ndim))  # noqa: E731
    groups = data.draw(st.sampled_from([1, 2]))
    shape = (2 * groups, data.draw(st.integers(1, 3)), *ints(1, 4))
    n, s, d = ints(1, 9), ints(1, 3), ints(1, 2)
    pad = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(ndim))
    mode = data.draw(st.sampled_from(["zeros", "replicate", "circular"]))
    try:
        g = ConvGeometry.from_weight_shape(shape, n, stride=s, padding=pad, dilation=d, groups=groups, padding_mode=mode)
    except ValueError as exc:  # the same refusal, word for word
        with pytest.raises(ValueError) as info:
            ConvGeometry(shape[0], shape[1] * groups, shape[2:], n, s, pad, d, groups, mode)
        assert str(info.value) == str(exc)
        return
    h = ConvGeometry(shape[0], shape[1] * groups, shape[2:], n, s, pad, d, groups, mode)
    assert g == h and hash(g) == hash(h) and repr(g) == repr(h)
    assert (g.output_size, g.full_output_size, g.shape) == (h.output_size, h.full_output_size, h.shape)
    assert g.output_size == cm.conv_output_size(n, shape[2:], s, pad, d)
    for copy in (pickle.loads(pickle.dumps(g)), dataclasses.replace(g)):
        assert copy == g and hash(copy) == hash(g) and copy.shape == g.shape
    wider = dataclasses.replace(g, input_size=tuple(x + 1 for x in n))
    assert wider.output_size == cm.conv_output_size(wider.input_size, shape[2:], s, pad, d)


def test_padding_forms():
    assert normalize_padding(1, (3, 3), (1, 1), (1, 1)) == ((1, 1), (1, 1))
    assert normalize_padding((1, 2), (3, 3), (1, 1), (1, 1)) == ((1, 1), (2, 2))
    assert normalize_padding(((0, 1), (2, 3)), (3, 3), (1, 1), (1, 1)) == ((0, 1), (2, 3))
    assert normalize_padding("valid", (3, 3), (2, 2), (1, 1)) == ((0, 0), (0, 0))
    assert normalize_padding(np.int64(2), (3,), (1,), (1,)) == ((2, 2),)


W2 = np.ones((2, 2, 3, 3))

REFUSALS = [
    # (call, exception, message fragment naming the parameter and rule)
    (lambda: cm.conv_matrix(W2, (0, 5)), ValueError, r"input_size=\(0, 5\) must be positive"),
    (lambda: cm.conv_matrix(W2, (5, 5), stride=0), ValueError, r"stride=0 must be positive"),
    (lambda: cm.conv_matrix(W2, (5, 5), stride=(1, -1)), ValueError, r"stride=\(1, -1\) must be positive"),
    (lambda: cm.conv_matrix(W2, (5, 5), dilation=0), ValueError, r"dilation=0 must be positive"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding=-1), ValueError, r"padding=-1 must be non-negative"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding=((0, -1), 0)), ValueError, r"padding=.*non-negative"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding="full"), ValueError, r"padding='full' is not a padding"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding=(1, 2, 3)), ValueError, r"padding=\(1, 2, 3\) must have one entry per spatial axis: expected 2 .*, got 3"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding=((1, 2, 3), 0)), ValueError, r"padding=.*\(lo, hi\) pair"),
    (lambda: cm.conv_matrix(W2, (5, 5), groups=3), ValueError, r"groups=3 must divide out_channels=2"),
    (lambda: cm.conv_matrix(W2, (5, 5), groups=0), ValueError, r"groups=0 must be positive"),
    (lambda: cm.conv_matrix(W2, (5, 5), groups=1.5), TypeError, r"groups=1.5 must be an integer"),
    (lambda: cm.conv_matrix(W2, (5, 5, 5)), ValueError, r"input_size=\(5, 5, 5\) has 3 spatial axes but the weight of shape \(2, 2, 3, 3\) has 2"),
    (lambda: cm.conv_matrix(np.ones((2, 3)), 5), ValueError, r"weight must have shape"),
    (lambda: cm.conv_matrix(W2, (2, 5)), ValueError, r"output would be empty along axis 0"),
    (lambda: cm.conv_matrix(W2, (5, 5), stride=2, padding="same"), ValueError, r"padding='same' is not supported for strided convolutions"),
    (lambda: cm.conv_matrix(W2, (3, 5), padding=3, padding_mode="reflect"), ValueError, r"padding=\(3, 3\) is too large for reflect mode along axis 0: each side must be smaller than the input size 3"),
    (lambda: cm.conv_matrix(W2, (3, 5), padding=4, padding_mode="circular"), ValueError, r"too large for circular mode along axis 0: each side must be at most the input size 3"),
    (lambda: cm.conv_matrix(W2, (5, 5), padding_mode="mirror"), ValueError, r"padding_mode='mirror' is not one of"),
    (lambda: cm.conv_matrix(np.array([[["a", "b"]]]), 3), TypeError, r"weight must be numeric.*dtype <U1"),
    (lambda: cm.conv_matrix(np.ones((1, 1, 2), dtype=bool), 3), TypeError, r"weight must be numeric.*bool"),
    (lambda: cm.conv_matrix(np.array([[[object(), 1]]], dtype=object), 3), TypeError, r"weight must hold numbers or SymPy"),
    (lambda: cm.conv_matrix(np.ones((1, 1, 2), dtype=np.float16), 3), TypeError, r"weight has dtype float16"),
    (lambda: cm.conv_matrix(W2, (5.0, 5)), TypeError, r"input_size=\(5.0, 5\) must hold integers"),
    (lambda: cm.conv_matrix(W2, (5, 5), stride="2"), TypeError, r"stride='2' must be an integer"),
    (lambda: cm.conv_matrix(W2, (5, 5), format="csx"), ValueError, r"format='csx' is not one of"),
    (lambda: cm.conv_matrix(np.ones((2, 1, 0)), 5), ValueError, r"weight shape \(2, 1, 0\) must have positive sizes"),
    (lambda: cm.conv_transpose_matrix(W2, (3, 3), stride=2, output_padding=2), ValueError, r"output_padding=2 must be smaller than either stride or dilation"),
    (lambda: cm.conv_transpose_matrix(W2, (3, 3), output_padding=-1), ValueError, r"output_padding=-1 must be non-negative"),
    (lambda: cm.conv_transpose_matrix(W2, (3, 3), padding="same"), ValueError, r"padding='same' is not defined for a transposed convolution"),
    (lambda: cm.conv_transpose_matrix(W2, (1, 1), padding=2), ValueError, r"transposed convolution output would be empty along axis 0"),
    (lambda: cm.conv_transpose_matrix(W2, (3, 3), groups=4), ValueError, r"groups=4 must divide in_channels=2"),
    (lambda: cm.conv_transpose_matrix(W2, (3,)), ValueError, r"input_size=\(3,\) has 1 spatial axes"),
    (lambda: cm.conv_output_size(5, 3, stride=0), ValueError, r"stride=0 must be positive"),
    (lambda: cm.conv_output_size(5, 7), ValueError, r"empty"),
    (lambda: cm.conv_bias_vector(np.ones((2, 2)), 3), ValueError, r"bias must have shape"),
    (lambda: cm.affine_matrix(cm.conv_matrix(W2, (5, 5)), np.ones(3)), ValueError, r"b has 3 entries but A has 18 rows"),
    (lambda: cm.symbolic_weight((1, 0, 2)), ValueError, r"shape=\(1, 0, 2\) must be positive"),
    (lambda: cm.conv_bias_vector([1, 2], 2.5), TypeError, r"output_size=2.5 must be an integer"),
    (lambda: cm.conv_bias_vector([1, 2], "3"), TypeError, r"output_size='3' must be an integer"),
    (lambda: cm.conv_bias_vector([1, 2], (2, 0)), ValueError, r"output_size=\(2, 0\) must be positive"),
    (lambda: cm.affine_matrix([[1, 2], [3, 4]], [1, 2]), TypeError, r"A must be a scipy sparse array, an ndarray or a SymPy matrix: got list"),
    (lambda: cm.affine_matrix(np.ones((2, 2, 2)), [1, 2]), ValueError, r"A must be a matrix \(2-d\)"),
    (lambda: cm.affine_matrix(np.eye(2), ["a", "b"]), TypeError, r"b must be numeric"),
]


@pytest.mark.parametrize("call,exc,message", REFUSALS, ids=[r[2][:40] for r in REFUSALS])
def test_refusals_name_parameter_value_and_rule(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_size_guard_refuses_up_front(monkeypatch):
    w = np.ones((64, 64, 3, 3))
    with pytest.raises(cm.MatrixTooLargeError, match=r"sparse csr matrix with 112,869,376 stored entries would take about 1.26 GiB.*max_bytes=1,000,000"):
        cm.conv_matrix(w, (56, 56), padding=1, max_bytes=10**6)
    monkeypatch.setenv("CONVMATRIX_MAX_BYTES", "1000")
    with pytest.raises(cm.MatrixTooLargeError, match="CONVMATRIX_MAX_BYTES"):
        cm.conv_matrix(np.ones((1, 1, 3)), 100)
    assert cm.conv_matrix(np.ones((1, 1, 3)), 100, max_bytes=10**5).nnz == 294
    assert cm.conv_transpose_matrix(np.ones((1, 1, 3)), 10**5, max_bytes=10**7).nnz == 3 * 10**5
    with pytest.raises(cm.MatrixTooLargeError, match="100002 x 100000 dense matrix"):
        cm.conv_transpose_matrix(np.ones((1, 1, 3)), 10**5, format="dense", max_bytes=10**7)


def test_size_guard_estimate_is_exact_for_zeros():
    for shape, n, kw in [((3, 2, 3, 2), (7, 5), dict(stride=(2, 1), padding=1)), ((4, 1, 3), 9, dict(groups=2, dilation=2))]:
        g = ConvGeometry.from_weight_shape(shape, n, **kw)
        A = cm.conv_matrix(np.ones(shape), n, **kw)
        nnz, nbytes = cm.estimate_size(g)
        assert nnz == A.nnz
        assert nbytes == A.data.nbytes + A.indices.nbytes + A.indptr.nbytes


@pytest.mark.parametrize("fmt", ["lil", "dok", "dia"])
def test_size_guard_counts_the_format_actually_built(fmt):
    # 2-D 3x3 conv on 300x300: 0.8 M entries, about 10 MB as CSR; lil/dok hold Python objects
    # (~100/200 B per entry) and dia one dense row per diagonal (here 9 x 90 000 x 8 B = 6.5 MB)
    w = np.ones((1, 1, 3, 3))
    csr = cm.conv_matrix(w, (300, 300), padding=1)
    if fmt == "dia":
        # a stride spreads the rows over many diagonals: CSR is 16 MB, dia would be about 1.6 TB
        w2 = np.ones((1, 1, 2, 2))
        limit = 50 * 10**6
        assert cm.conv_matrix(w2, (1000, 1000), stride=2, max_bytes=limit).nnz == 10**6
        with pytest.raises(cm.MatrixTooLargeError, match="'dia' format.*diagonal"):
            cm.conv_matrix(w2, (1000, 1000), stride=2, format="dia", max_bytes=limit)
        with pytest.raises(cm.MatrixTooLargeError, match="'dia' format"):
            cm.conv_transpose_matrix(w2, (500, 500), stride=2, format="dia", max_bytes=limit)
        small = cm.conv_matrix(w2, (16, 20), stride=2)
        offsets = small.indices - np.repeat(np.arange(small.shape[0]), np.diff(small.indptr))
        assert cm._sparse.diagonal_count(small, chunk=7) == len(set(offsets.tolist()))
        # the 3x3 conv on 300x300 has 9 diagonals: dia is built, and it is the same matrix
        d = cm.conv_matrix(w, (300, 300), padding=1, format="dia", max_bytes=11 * 10**6)
        assert d.format == "dia" and (d.tocsr() != csr).nnz == 0
    else:
        limit = 30 * 10**6
        with pytest.raises(cm.MatrixTooLargeError, match=f"sparse {fmt} matrix"):
            cm.conv_matrix(w, (300, 300), padding=1, format=fmt, max_bytes=limit)
        assert cm.conv_matrix(w, (300, 300), padding=1, max_bytes=limit).nnz == csr.nnz


def test_size_guard_counts_symbolic_entries():
    w = cm.symbolic_weight((1, 1, 3))
    with pytest.raises(cm.MatrixTooLargeError, match="symbolic matrix with 2,994 stored entries"):
        cm.conv_matrix(w, 1000, max_bytes=10**6)
    with pytest.raises(cm.MatrixTooLargeError, match="symbolic matrix"):
        cm.conv_transpose_matrix(w, 1000, max_bytes=10**6)


@pytest.mark.parametrize("bad, exc", [("10", TypeError), (-1, ValueError), (0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_max_bytes_must_be_a_positive_integer(bad, exc):
    with pytest.raises(exc, match="max_bytes"):
        cm.conv_matrix(np.ones((1, 1, 3)), 10, max_bytes=bad)


@pytest.mark.parametrize("env", ["lots", "-5", "0"])
def test_bad_environment_limit_names_the_variable(monkeypatch, env):
    monkeypatch.setenv("CONVMATRIX_MAX_BYTES", env)
    with pytest.raises(ValueError, match="CONVMATRIX_MAX_BYTES"):
        cm.conv_matrix(np.ones((1, 1, 3)), 10)


@pytest.mark.parametrize("build", [
    lambda mb: cm.pad_matrix((100000, 100000), 1, max_bytes=mb),
    lambda mb: cm.pad_matrix((3000, 3000), 1, mode="reflect", format="dense", max_bytes=mb),
    lambda mb: cm.zero_insertion_matrix((50000, 50000), 2, max_bytes=mb),
    lambda mb: cm.subsample_matrix((100000, 100000), 2, max_bytes=mb),
    lambda mb: cm.upsample_matrix((50000, 50000), 2, max_bytes=mb),
    lambda mb: cm.sum_pool_matrix((100000, 100000), 2, max_bytes=mb),
    lambda mb: cm.avg_pool_matrix((100000, 100000), 2, max_bytes=mb),
    lambda mb: cm.im2col_matrix(np.ones((1, 3000, 3000)), 3, max_bytes=mb),
    lambda mb: cm.transposed_conv_as_direct(np.ones((1, 1, 3, 3)), (3000, 3000), stride=2, max_bytes=mb).matrix,
    lambda mb: cm.verify_transpose_equivalence(np.ones((1, 1, 3, 3)), (300, 300), stride=2, max_bytes=mb),
])
def test_every_builder_is_guarded(build):
    # refused up front (no MemoryError, no time spent): the estimate is in the message
    with pytest.raises(cm.MatrixTooLargeError, match=r"stored entries would take about .* GiB"):
        build(10**6)


def test_zero_d_arrays_and_tensors_are_integers():
    torch = pytest.importorskip("torch")
    w = np.ones((1, 1, 3, 3))
    ref = cm.conv_matrix(w, (5, 5), stride=2, padding=1)
    for n, s, p in [(np.array(5), np.array(2), np.array(1)), (torch.tensor(5), torch.tensor(2), torch.tensor(1)),
                    (np.array([5, 5]), torch.tensor([2, 2]), (np.int64(1), torch.tensor(1)))]:
        assert (cm.conv_matrix(w, n, stride=s, padding=p) != ref).nnz == 0
    assert cm.conv_output_size(np.array(7), 3) == (5,)


@pytest.mark.parametrize("bad", [{5: 1}, {5, 4}, frozenset({5}), np.array(5.0), np.array([[5, 5]]), b"55"])
def test_mappings_sets_and_float_arrays_are_refused(bad):
    w = np.ones((1, 1, 3, 3))
    with pytest.raises((TypeError, ValueError), match="input_size"):
        cm.conv_matrix(w, bad)
    with pytest.raises((TypeError, ValueError), match="padding"):
        cm.conv_matrix(w, 5, padding=bad)


# --------------------------------------------------------------------------- pooling geometry
@settings(max_examples=150)
@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2), d=st.integers(1, 3),
       ceil=st.booleans())
def test_pool_geometry_matches_torch(n, k, s, p, d, ceil):
    torch = pytest.importorskip("torch")
    x = torch.arange(float(n)).reshape(1, 1, n)
    try:
        out = torch.nn.functional.max_pool1d(x, k, s, p, d, ceil_mode=ceil, return_indices=True)
    except RuntimeError:
        with pytest.raises(ValueError):
            cm.PoolGeometry.from_args(n, k, s, p, d, ceil)
        return
    try:
        g = cm.PoolGeometry.from_args(n, k, s, p, d, ceil)
    except ValueError as exc:
        # refused beyond torch: a window of padding only (torch gives an out-of-range index there)
        assert "sees only padding" in str(exc)
        assert ((out[1] < 0) | (out[1] >= n)).any() or torch.isinf(out[0]).any()
        return
    assert g.output_size == tuple(out[0].shape[2:])
    assert g.window_geometry(3).output_size == g.output_size


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(input_size=5, kernel_size=2, padding=2), ValueError, r"padding=2 must be at most half the kernel size"),
    (dict(input_size=5, kernel_size=9), ValueError, r"pooling output would be empty along axis 0"),
    (dict(input_size=5, kernel_size=2, ceil_mode=1), TypeError, r"ceil_mode=1 must be True or False"),
    (dict(input_size=(5, 5), kernel_size=(2, 2, 2)), ValueError, r"kernel_size=\(2, 2, 2\) must have one entry per spatial axis"),
    (dict(input_size=5, kernel_size=2, stride=0), ValueError, r"stride=0 must be positive"),
    (dict(input_size=1, kernel_size=2, padding=1, dilation=2), ValueError, r"window 0 along axis 0 sees only padding"),
])
def test_pool_geometry_refusals(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cm.PoolGeometry.from_args(**kwargs)


def test_numpy_bools_are_bools():
    assert cm.PoolGeometry.from_args(5, 2, ceil_mode=np.True_).output_size == (3,)
    assert cm.max_pool_switches(np.ones((1, 5)), 2, ceil_mode=np.True_).indices.shape == (1, 3)
    assert cm.avg_pool_matrix(5, 2, ceil_mode=np.False_, count_include_pad=np.True_).shape == (2, 5)
    assert cm.MaxPool(2, ceil_mode=np.True_, absolute=np.False_).output_shape((1, 5)) == (1, 3)
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="ceil_mode=.* must be True or False"):
            cm.PoolGeometry.from_args(5, 2, ceil_mode=bad)


def test_guard_formats_and_lil_rows():
    assert cm.matrix_bytes((10, 10), 0, 8, "lil") == 10 * 128  # empty rows cost too
    with pytest.raises(ValueError, match="format='bogus'"):
        cm.matrix_bytes((2, 2), 1, 8, "bogus")
    # 200x200 -> 1195x1195 zero insertion: 40,000 entries but 1.4 M lil rows
    with pytest.raises(cm.MatrixTooLargeError, match="lil"):
        cm.zero_insertion_matrix((200, 200), 6, format="lil", max_bytes=20_000_000)


def test_torch_tensors_requiring_grad_are_read_as_values():
    w = torch.arange(1.0, 4.0, dtype=torch.float64).reshape(1, 1, 3).requires_grad_()
    A = cm.conv_matrix(w, 5)
    assert A.dtype == np.float64 and (A != cm.conv_matrix(np.array([[[1.0, 2, 3]]]), 5)).nnz == 0
    assert cm.conv_transpose_matrix(torch.nn.Parameter(w.detach().clone()), 3).nnz == 9


def test_public_names():
    # everything the package exports exists, has a docstring, and nothing is exported twice
    assert len(set(cm.__all__)) == len(cm.__all__)
    for name in cm.__all__:
        obj = getattr(cm, name)
        assert name == "PADDING_MODES" or name == "DEFAULT_MAX_BYTES" or obj.__doc__, name
