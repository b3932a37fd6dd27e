"""im2col_matrix X(x): conv(x, w) = X(x) @ w, and backprop as matrix transposes.

Oracles: torch.autograd (forward, input and weight gradients), the linearity of
conv_matrix in its kernel (column t of X is A(e_t) @ x), and exact identities
with the resampling matrices (strided = subsample o stride 1; dilated = conv
with a zero-inserted kernel).
"""

from __future__ import annotations

import subprocess
import sys
from math import prod

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convmatrix import MatrixTooLargeError, conv_matrix, conv_output_size, im2col_matrix
from convmatrix.geometry import ConvGeometry
from convmatrix.resample import subsample_matrix, zero_insertion_matrix
from convmatrix.testing import conv_configs

from conftest import torch_conv


def _torch_grads(x, w, g, *, stride, padding, dilation, groups):
    """Forward output and (dL/dx, dL/dw) for L = <conv(x, w), g>, by torch.autograd (float64)."""
    nd = w.ndim - 2
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    y = getattr(F, f"conv{nd}d")(xt[None], wt, stride=stride, padding=padding, dilation=dilation, groups=groups)[0]
    y.backward(torch.tensor(g, dtype=torch.float64).reshape(y.shape))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


CASES = [
    # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 9), (4, 2, 3), 2, 1, 1, 1),
    ((4, 11), (6, 2, 3), 1, 2, 2, 2),
    ((3, 7, 8), (6, 1, 3, 2), (2, 1), (1, 0), (1, 2), 3),
    ((4, 6, 6), (4, 2, 3, 3), 2, 1, 2, 2),
    ((2, 5, 4, 6), (2, 2, 2, 3, 2), (1, 2, 2), (1, 0, 1), (2, 1, 2), 1),
    ((4, 5, 5, 4), (6, 2, 2, 2, 2), 1, 1, (1, 2, 1), 2),
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CASES)
def test_forward_and_gradients_match_autograd(xs, ws, stride, padding, dilation, groups):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.integers(-3, 4, xs)
    w = rng.integers(-3, 4, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    X = im2col_matrix(x, ws[2:], out_channels=ws[0], **kw)
    A = conv_matrix(w, xs[1:], **kw)
    g = rng.integers(-3, 4, A.shape[0])
    y, gx, gw = _torch_grads(x, w, g, **kw)
    assert X.dtype == x.dtype  # integer input, integer matrix: exact
    assert np.array_equal(X @ w.reshape(-1), y.reshape(-1))
    assert np.array_equal(A @ x.reshape(-1), y.reshape(-1))
    assert np.array_equal(A.T @ g, gx.reshape(-1))  # input gradient
    assert np.array_equal(X.T @ g, gw.reshape(-1))  # weight gradient


def test_batch_weight_gradient_is_a_sum_over_samples():
    rng = np.random.default_rng(7)
    xb = rng.standard_normal((3, 4, 6, 5))
    w = rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    xt = torch.tensor(xb, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, **kw)
    gb = rng.standard_normal(y.shape)
    y.backward(torch.tensor(gb))
    grad = sum(im2col_matrix(x, 3, out_channels=6, **kw).T @ g.reshape(-1) for x, g in zip(xb, gb))
    assert np.allclose(grad, wt.grad.numpy().reshape(-1))
    A = conv_matrix(w, (6, 5), **kw)
    assert np.allclose((A.T @ gb.reshape(3, -1).T).T, xt.grad.numpy().reshape(3, -1))


@settings(deadline=None, max_examples=40)
@given(conv_configs(max_ndim=3, max_size=6, modes=("zeros", "reflect", "replicate", "circular")), st.integers(0, 2**16))
def test_columns_are_conv_matrices_of_unit_kernels(config, seed):
    """Column t of X(x) is A(e_t) @ x: the same bilinear map, read from the other side."""
    rng = np.random.default_rng(seed)
    ws = config.pop("weight_shape")
    n = config.pop("input_size")
    c_in = ws[1] * config["groups"]
    x = rng.integers(-3, 4, (c_in, *n))
    X = im2col_matrix(x, ws[2:], out_channels=ws[0], **config)
    assert X.has_canonical_format
    expected = np.zeros(X.shape, dtype=x.dtype)
    for t in range(prod(ws)):
        e = np.zeros(prod(ws), dtype=np.int64)
        e[t] = 1
        expected[:, t] = conv_matrix(e.reshape(ws), n, **config) @ x.reshape(-1)
    assert np.array_equal(X.toarray(), expected)
    w = rng.integers(-3, 4, ws)
    assert np.array_equal(X @ w.reshape(-1), torch_conv(x, w, **config).reshape(-1))


@settings(deadline=None, max_examples=40)
@given(conv_configs(max_ndim=3, max_size=7), st.integers(0, 2**16))
def test_strided_conv_is_subsampled_stride_one_conv(config, seed):
    rng = np.random.default_rng(seed)
    ws = config.pop("weight_shape")
    n = config.pop("input_size")
    stride = config.pop("stride")
    w = rng.integers(-3, 4, ws)
    strided = conv_matrix(w, n, stride=stride, **config)
    full = conv_matrix(w, n, stride=1, **config)
    full_out = ConvGeometry.from_weight_shape(ws, n, stride=1, **config).output_size
    S = subsample_matrix(full_out, stride, channels=ws[0])
    product = S @ full
    assert product.shape == strided.shape
    assert (product != strided).nnz == 0


@settings(deadline=None, max_examples=40)
@given(conv_configs(max_ndim=3, max_size=7), st.integers(0, 2**16))
def test_dilated_conv_is_conv_with_zero_inserted_kernel(config, seed):
    rng = np.random.default_rng(seed)
    ws = config.pop("weight_shape")
    n = config.pop("input_size")
    dilation = config.pop("dilation")
    if config["padding"] == "same":
        config["padding"] = ConvGeometry.from_weight_shape(ws, n, dilation=dilation, **config).padding
    w = rng.integers(-3, 4, ws)
    k = ws[2:]
    Z = zero_insertion_matrix(k, dilation, channels=ws[0] * ws[1])
    k_hat = tuple((kk - 1) * d + 1 for kk, d in zip(k, dilation))
    w_hat = (Z @ w.reshape(-1)).reshape(*ws[:2], *k_hat)
    dilated = conv_matrix(w, n, dilation=dilation, **config)
    inserted = conv_matrix(w_hat, n, dilation=1, **config)
    assert (dilated != inserted).nnz == 0
    # and im2col agrees: X_hat's columns at the inserted zeros are dropped by Z
    x = rng.integers(-3, 4, (ws[1] * config["groups"], *n))
    X = im2col_matrix(x, k, out_channels=ws[0], dilation=dilation, **config)
    X_hat = im2col_matrix(x, k_hat, out_channels=ws[0], **config)
    assert (X != X_hat @ Z).nnz == 0


def test_default_out_channels_is_classic_im2col():
    x = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    X = im2col_matrix(x, 3)  # groups=1: one row per output position, one column per patch entry
    assert X.shape == (4, 18)
    w = np.arange(3 * 2 * 3 * 3).reshape(3, 2, 3, 3)
    y = torch_conv(x, w)
    assert np.array_equal(X @ w.reshape(3, -1).T, y.reshape(3, -1).T)
    Xg = im2col_matrix(np.arange(4 * 5).reshape(4, 5), 2, groups=2)
    assert Xg.shape == (2 * 4, 2 * 2 * 2)


def test_structure_is_kept_and_formats():
    x = np.ones((1, 4), dtype=np.int64)
    X = im2col_matrix(x, 3, padding=1)
    assert X.nnz == 10  # every tap inside the input
    assert im2col_matrix(np.array([[1, 0, 2, 0]]), 3, padding=1).nnz == 5  # zeros of x are not stored
    assert im2col_matrix(np.zeros((1, 4)), 3, padding=1).nnz == 0
    assert isinstance(im2col_matrix(x, 3, format="dense"), np.ndarray)
    assert im2col_matrix(x, 3, format="csc").format == "csc"
    assert im2col_matrix(x.astype(np.float32), 3).dtype == np.float32


def test_symbolic_input():
    x = np.array([[sympy.Symbol("a"), sympy.Symbol("b"), sympy.Symbol("c")]], dtype=object)
    X = im2col_matrix(x, 2, padding=1)
    assert isinstance(X, sympy.ImmutableSparseMatrix)
    a, b, c = x[0]
    assert X == sympy.Matrix([[0, a], [a, b], [b, c], [c, 0]])


def test_output_size_matches_geometry():
    x = np.ones((3, 10, 9))
    X = im2col_matrix(x, (3, 2), stride=(2, 3), padding=((1, 0), 2), dilation=(2, 1), out_channels=5)
    o = conv_output_size((10, 9), (3, 2), (2, 3), ((1, 0), 2), (2, 1))
    assert X.shape == (5 * prod(o), 5 * 3 * 3 * 2)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(x=np.ones(4), kernel_size=3), ValueError, "x must have shape"),
        (dict(x=np.ones((3, 4)), kernel_size=3, groups=2), ValueError, "groups=2 must divide in_channels=3"),
        (dict(x=np.ones((4, 4)), kernel_size=3, groups=2, out_channels=3), ValueError, "out_channels=3"),
        (dict(x=np.ones((4, 4)), kernel_size=3, out_channels=0), ValueError, "out_channels=0"),
        (dict(x=np.ones((4, 4)), kernel_size=(3, 3)), ValueError, "kernel_size"),
        (dict(x=np.ones((4, 4)), kernel_size=0), ValueError, "kernel_size"),
        (dict(x=np.ones((4, 4)), kernel_size=3, stride=0), ValueError, "stride"),
        (dict(x=np.ones((4, 4)), kernel_size=3, groups=0), ValueError, "groups"),
        (dict(x=np.ones((4, 4)), kernel_size=3, groups=True), TypeError, "groups"),
        (dict(x=np.ones((4, 4)), kernel_size=3, out_channels=2.5), TypeError, "out_channels"),
        (dict(x=np.ones((4, 4)), kernel_size=3, format="xyz"), ValueError, "format"),
        (dict(x=np.ones((4, 4)), kernel_size=3, padding_mode="mirror"), ValueError, "padding_mode"),
        (dict(x=np.ones((4, 4)), kernel_size=3, padding=4, padding_mode="reflect"), ValueError, "padding"),
        (dict(x=np.array([["a", "b"]]), kernel_size=1), TypeError, "x must be numeric"),
        (dict(x=np.ones((1, 2)), kernel_size=5), ValueError, "output would be empty"),
    ],
)
def test_bad_input_is_refused(kwargs, exc, match):
    x = kwargs.pop("x")
    with pytest.raises(exc, match=match):
        im2col_matrix(x, **kwargs)


def test_size_guard():
    with pytest.raises(MatrixTooLargeError, match="max_bytes"):
        im2col_matrix(np.ones((3, 32, 32)), 3, out_channels=4, max_bytes=1000)


def test_public_name_and_doctest_example_runs_in_subprocess():
    code = "import numpy as np, convmatrix as cm; print(cm.im2col_matrix(np.array([[1, 2, 3]]), 2).toarray().tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[[1, 2], [2, 3]]"


def test_guard_counts_the_working_arrays():
    # the 64 x 56 x 56 input: the matrix is 21 MB, building it takes about 134 MB
    x = np.ones((64, 56, 56))
    with pytest.raises(MatrixTooLargeError, match="working arrays"):
        im2col_matrix(x, 3, padding=1, max_bytes=100_000_000)
    assert im2col_matrix(x, 3, padding=1, max_bytes=150_000_000).nnz == 64 * (56 * 56 * 9 - 4 * 56 * 3 + 4)
