"""conv_transpose_matrix: PyTorch's ConvTransposeNd, and literally the transpose of conv_matrix."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.testing import transpose_configs

from conftest import torch_conv_transpose


def _kw(cfg):
    return {k: cfg[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}


@settings(max_examples=150)
@given(cfg=transpose_configs(pairs=False), seed=st.integers(0, 2**16))
def test_matches_torch(cfg, seed):
    """T @ x equals F.conv_transpose{1,2,3}d, output_padding (incl. >= stride), groups, dilation."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(cfg["weight_shape"])
    x = rng.standard_normal((w.shape[0], *cfg["input_size"]))
    T = cm.conv_transpose_matrix(w, cfg["input_size"], **_kw(cfg))
    y = torch_conv_transpose(x, w, **_kw(cfg))
    assert T.shape == (y.size, x.size)
    assert y.shape[1:] == cm.conv_transpose_output_size(
        cfg["input_size"], cfg["weight_shape"][2:], cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])
    np.testing.assert_allclose(T @ x.reshape(-1), y.reshape(-1), rtol=1e-12, atol=1e-12)


@settings(max_examples=150)
@given(cfg=transpose_configs(pairs=False), seed=st.integers(0, 2**16))
def test_is_exactly_the_transpose(cfg, seed):
    """Integer kernels: T == A[first rows].T entry for entry, A the conv over T's output size."""
    w = np.random.default_rng(seed).integers(-9, 10, size=cfg["weight_shape"])
    T = cm.conv_transpose_matrix(w, cfg["input_size"], **_kw(cfg))
    out = cm.conv_transpose_output_size(
        cfg["input_size"], cfg["weight_shape"][2:], cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])
    A = cm.conv_matrix(w, out, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    full = cm.conv_output_size(out, cfg["weight_shape"][2:], cfg["stride"], cfg["padding"], cfg["dilation"])
    # rows of A whose spatial position lies inside the transposed layer's input
    grid = np.indices(full).reshape(len(full), -1)
    inside = np.all(grid < np.array(cfg["input_size"])[:, None], axis=0)
    keep = np.flatnonzero(np.tile(inside, w.shape[0]))
    assert T.dtype == w.dtype
    assert T.format == "csr" and T.has_canonical_format
    assert (T != A[keep].T).nnz == 0
    ref = A[keep].T.tocsr()  # scipy's own transposition: canonical arrays, entry for entry
    ref.sort_indices()
    assert np.array_equal(T.indptr, ref.indptr) and np.array_equal(T.indices, ref.indices)
    assert np.array_equal(T.data, ref.data)


def test_output_padding_beyond_stride_keeps_first_outputs():
    """op=1 >= stride=1 (allowed: op < dilation=2) — the conv over the output has 4 outputs, T has 3 inputs."""
    w = np.array([[[1, 2, 3]]])
    T = cm.conv_transpose_matrix(w, 3, stride=1, output_padding=1, dilation=2)
    A = cm.conv_matrix(w, 8, dilation=2)
    assert T.shape == (8, 3) and A.shape == (4, 8)
    assert (T != A[:3].T).nnz == 0
    y = torch_conv_transpose(np.array([[1.0, -2.0, 5.0]]), w, output_padding=1, dilation=2)
    assert np.array_equal(T @ np.array([1, -2, 5]), y.reshape(-1).astype(int))


def test_issue_example():
    w = np.array([[[[2, 3], [4, 5]]]])
    T = cm.conv_transpose_matrix(w, (2, 2), stride=2)
    out = (T @ np.array([1, 0, 2, 3])).reshape(4, 4)
    assert out.dtype.kind == "i"
    assert out.tolist() == [[2, 3, 0, 0], [4, 5, 0, 0], [4, 6, 6, 9], [8, 10, 12, 15]]


def test_symbolic_transpose():
    w = cm.symbolic_weight((1, 1, 2))
    T = cm.conv_transpose_matrix(w, 2, stride=2)
    a, b = w.reshape(-1)
    assert T == sympy.Matrix([[a, 0], [b, 0], [0, a], [0, b]])
    # filled from the transposed tap map: the same matrix as the numbers give (groups, dilation, the corner)
    for shape, n, kw in [((4, 3, 2, 2), (3, 3), dict(stride=2, output_padding=1, groups=2, dilation=2)),
                         ((2, 1, 3), 4, dict(stride=2, padding=1, output_padding=2, dilation=3))]:
        w = cm.symbolic_weight(shape)
        T = cm.conv_transpose_matrix(w, n, **kw)
        ints = np.arange(1, np.prod(shape) + 1).reshape(shape)
        subs = dict(zip(w.reshape(-1), ints.reshape(-1)))
        assert isinstance(T, sympy.ImmutableSparseMatrix)
        assert np.array_equal(np.array(T.xreplace(subs).tolist(), dtype=np.int64),
                              cm.conv_transpose_matrix(ints, n, **kw).toarray())


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense"])
def test_formats(fmt):
    w = np.arange(1, 5).reshape(1, 1, 2, 2)
    T = cm.conv_transpose_matrix(w, (2, 3), stride=2, format=fmt)
    ref = cm.conv_matrix(w, (4, 6), stride=2).toarray().T
    assert np.array_equal(T if fmt == "dense" else T.toarray(), ref)


def test_asymmetric_padding_pairs():
    """(lo, hi) pairs remove lo outputs at the start and hi at the end."""
    w = np.arange(1, 4).reshape(1, 1, 3)
    full = cm.conv_transpose_matrix(w, 4, stride=2).toarray()
    cut = cm.conv_transpose_matrix(w, 4, stride=2, padding=((1, 2),)).toarray()
    assert np.array_equal(cut, full[1:-2])
