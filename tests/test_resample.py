"""Resampling matrices: pad/crop, zero insertion, subsampling, up-sampling, pooling.

Oracles: PyTorch (``F.pad``, slicing, ``F.conv_transpose{N}d`` with a unit kernel,
``F.interpolate(mode="nearest")``, ``F.avg_pool{1,2,3}d``) and naive loops for the
structure; the identities between the maps are checked by exact sparse equality.
"""

from __future__ import annotations

import itertools
import sys
from math import prod

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from conftest import run_cli

from convmatrix.testing import avg_pool_configs, pad_configs
from convmatrix.resample import (
    avg_pool_matrix,
    pad_matrix,
    pad_widths_from_torch,
    subsample_matrix,
    sum_pool_matrix,
    upsample_matrix,
    zero_insertion_matrix,
)

MODES = ("zeros", "reflect", "replicate", "circular")
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


# --------------------------------------------------------------------------- helpers
def apply(A, x: np.ndarray, out_spatial) -> np.ndarray:
    """``A @ x.reshape(-1)`` reshaped to ``(C, *out_spatial)``."""
    return (A @ x.reshape(-1)).reshape(x.shape[0], *out_spatial)


def torch_pad_arg(widths) -> list[int]:
    """Per-axis (lo, hi) pairs, first axis first -> F.pad's flat list, last axis first."""
    return [v for lo_hi in reversed(widths) for v in lo_hi]


def rand_int_input(rng, channels, size):
    return rng.integers(-9, 10, size=(channels, *size)).astype(np.float64)


def assert_canonical(A, dtype=np.int64):
    assert isinstance(A, sp.csr_array)
    assert A.dtype == dtype
    assert A.has_canonical_format
    B = A.copy()
    B.sum_duplicates()
    B.sort_indices()
    assert (A.indices == B.indices).all() and (A.indptr == B.indptr).all()
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32
    assert (A.data != 0).all()


def assert_same(A, B):
    assert A.shape == B.shape
    assert A.dtype == B.dtype
    assert (A != B).nnz == 0


def naive_pad(x: np.ndarray, widths, mode: str) -> np.ndarray:
    """Loop over output pixels, one axis rule at a time (torch's semantics, stated plainly)."""
    C, *n = x.shape
    out_size = [na + lo + hi for na, (lo, hi) in zip(n, widths)]
    y = np.zeros((C, *out_size))
    for j in itertools.product(*(range(m) for m in out_size)):
        src = []
        for ja, na, (lo, hi) in zip(j, n, widths):
            i = ja - lo
            if mode == "circular":  # torch crops first, then wraps within what is left
                start = max(-lo, 0)
                kept = na - start - max(-hi, 0)
                i = start + (ja - max(lo, 0)) % kept
            elif not 0 <= i < na:
                if mode == "zeros":
                    src = None
                    break
                if mode == "replicate":
                    i = 0 if i < 0 else na - 1
                elif mode == "reflect":
                    i = -i if i < 0 else 2 * (na - 1) - i
            src.append(i)
        if src is not None:
            y[(slice(None), *j)] = x[(slice(None), *src)]
    return y


# --------------------------------------------------------------------------- strategies
# --------------------------------------------------------------------------- pad_matrix
@settings(deadline=None, max_examples=150)
@given(pad_configs(), st.integers(0, 2**32 - 1))
def test_pad_matches_torch(case, seed):
    n, widths, mode, channels = case
    x = rand_int_input(np.random.default_rng(seed), channels, n)
    A = pad_matrix(n, widths, mode=mode, channels=channels)
    out = tuple(na + lo + hi for na, (lo, hi) in zip(n, widths))
    assert A.shape == (channels * prod(out), channels * prod(n))
    assert_canonical(A)
    ref = F.pad(torch.from_numpy(x)[None], torch_pad_arg(widths), mode=TORCH_MODE[mode])[0].numpy()
    np.testing.assert_array_equal(apply(A, x, out), ref)


@settings(deadline=None, max_examples=60)
@given(pad_configs(torch_valid=False), st.integers(0, 2**32 - 1))
def test_pad_matches_naive(case, seed):
    n, widths, mode, channels = case
    x = rand_int_input(np.random.default_rng(seed), channels, n)
    A = pad_matrix(n, widths, mode=mode, channels=channels)
    out = tuple(na + lo + hi for na, (lo, hi) in zip(n, widths))
    np.testing.assert_array_equal(apply(A, x, out), naive_pad(x, widths, mode))
    # a selection: at most one 1 per row
    assert np.diff(A.indptr).max(initial=0) <= 1 and set(A.data.tolist()) <= {1}


@settings(deadline=None, max_examples=100)
@given(pad_configs(torch_valid=False))
def test_crop_is_zero_pad_transposed(case):
    n, widths, _, channels = case
    out = tuple(na + lo + hi for na, (lo, hi) in zip(n, widths))
    P = pad_matrix(n, widths, channels=channels)
    C = pad_matrix(out, tuple((-lo, -hi) for lo, hi in widths), channels=channels)
    assert_same(C, P.T.tocsr())


def test_crop_examples():
    # symmetric crop of 2 from 7 is the transpose of padding 3 by 2
    assert_same(pad_matrix(7, -2), pad_matrix(3, 2).T.tocsr())
    x = np.arange(20.0).reshape(1, 4, 5)
    y = apply(pad_matrix((4, 5), ((-1, 0), (-2, -1))), x, (3, 2))
    np.testing.assert_array_equal(y, x[:, 1:, 2:4])


def test_pad_channels_block_diagonal():
    one = pad_matrix((3, 2), ((1, 0), (1, -1)), mode="reflect")
    three = pad_matrix((3, 2), ((1, 0), (1, -1)), mode="reflect", channels=3)
    assert_same(three, sp.kron(sp.eye_array(3, dtype=np.int64), one, format="csr"))


def test_pad_formats():
    A = pad_matrix(3, 1, mode="replicate")
    dense = pad_matrix(3, 1, mode="replicate", format="dense")
    assert isinstance(dense, np.ndarray) and dense.dtype == np.int64
    np.testing.assert_array_equal(dense, A.toarray())
    csc = pad_matrix(3, 1, mode="replicate", format="csc")
    assert csc.format == "csc" and (csc != A).nnz == 0


def test_pad_deep_crop_in_zeros_mode():
    # F.pad refuses to crop more than the input; the position map gives zero rows
    A = pad_matrix(1, ((-2, 2),))
    assert A.shape == (1, 1) and A.nnz == 0
    with pytest.raises(RuntimeError):
        F.pad(torch.zeros(1, 1, 1), [-2, 2])


def test_pad_widths_from_torch():
    assert pad_widths_from_torch([1, 2]) == ((1, 2),)
    assert pad_widths_from_torch((1, 2, -3, 4, 5, 6)) == ((5, 6), (-3, 4), (1, 2))
    with pytest.raises(ValueError, match="pad=.*even"):
        pad_widths_from_torch((1, 2, 3))
    with pytest.raises(TypeError, match="pad"):
        pad_widths_from_torch("12")
    with pytest.raises(TypeError, match="pad"):
        pad_widths_from_torch((1, 2.5))


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(input_size=0, padding=1), ValueError, r"input_size=0 must be positive"),
        (dict(input_size=(3, 3), padding=(1, 1, 1)), ValueError, r"padding=\(1, 1, 1\) must have one entry"),
        (dict(input_size=3, padding="same"), TypeError, r"padding='same'"),
        (dict(input_size=3, padding=1.5), TypeError, r"padding=1.5 must be an integer"),
        (dict(input_size=(3, 3), padding=((1, 2, 3), 1)), ValueError, r"padding=.*\(lo, hi\) pair"),
        (dict(input_size=3, padding=1, mode="constant"), ValueError, r"mode='constant'.*'zeros'"),
        (dict(input_size=3, padding=1, mode="wrap"), ValueError, r"mode='wrap' is not one of"),
        (dict(input_size=3, padding=1, channels=0), ValueError, r"channels=0 must be positive"),
        (dict(input_size=3, padding=1, channels=True), TypeError, r"channels=True must be an integer"),
        (dict(input_size=3, padding=1, format="xyz"), ValueError, r"format='xyz'"),
        (dict(input_size=3, padding=-2), ValueError, r"padding=-2 leaves nothing along axis 0"),
        (dict(input_size=(3, 3), padding=(3, 0), mode="reflect"), ValueError,
         r"too large for reflect mode along axis 0.*smaller than the input size 3"),
        (dict(input_size=6, padding=((5, -3),), mode="circular"), ValueError,
         r"too large for circular mode along axis 0.*after cropping, 3"),
        (dict(input_size=3, padding=((-3, 1),), mode="circular"), ValueError,
         r"crops all of the input size 3"),
    ],
)
def test_pad_refusals(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        pad_matrix(**kwargs)


@pytest.mark.parametrize("n, pad, mode", [(3, (3, 0), "reflect"), (6, (5, -3), "circular"),
                                          (6, (6, -1), "circular"), (3, (-2, 3), "reflect")])
def test_pad_refusals_agree_with_torch(n, pad, mode):
    with pytest.raises(ValueError, match="padding"):
        pad_matrix(n, (pad,), mode=mode)
    with pytest.raises((RuntimeError, ValueError, NotImplementedError)):
        F.pad(torch.zeros(1, 1, n), list(pad), mode=mode)


# --------------------------------------------------------------------------- zero insertion / subsample
sizes_strides = st.integers(1, 3).flatmap(
    lambda d: st.tuples(
        st.tuples(*[st.integers(1, 5)] * d), st.tuples(*[st.integers(1, 4)] * d), st.integers(1, 3)
    )
)


@settings(deadline=None, max_examples=80)
@given(sizes_strides, st.integers(0, 2**32 - 1))
def test_zero_insertion_matches_torch(case, seed):
    n, s, channels = case
    x = rand_int_input(np.random.default_rng(seed), channels, n)
    Z = zero_insertion_matrix(n, s, channels=channels)
    out = tuple((na - 1) * sa + 1 for na, sa in zip(n, s))
    assert Z.shape == (channels * prod(out), channels * prod(n))
    assert_canonical(Z)
    conv_t = getattr(F, f"conv_transpose{len(n)}d")
    w = torch.ones((channels, 1) + (1,) * len(n), dtype=torch.float64)
    ref = conv_t(torch.from_numpy(x)[None], w, stride=s, groups=channels)[0].numpy()
    y = apply(Z, x, out)
    np.testing.assert_array_equal(y, ref)
    naive = np.zeros((channels, *out))
    naive[(slice(None), *(slice(None, None, sa) for sa in s))] = x
    np.testing.assert_array_equal(y, naive)


@settings(deadline=None, max_examples=80)
@given(sizes_strides, st.integers(0, 2**32 - 1))
def test_subsample_matches_slicing(case, seed):
    m, s, channels = case
    m = tuple(2 * ma for ma in m)  # larger inputs, with tails of any length
    x = rand_int_input(np.random.default_rng(seed), channels, m)
    S = subsample_matrix(m, s, channels=channels)
    assert_canonical(S)
    ref = torch.from_numpy(x)[(slice(None), *(slice(None, None, sa) for sa in s))].numpy()
    np.testing.assert_array_equal(apply(S, x, ref.shape[1:]), ref)


@settings(deadline=None, max_examples=80)
@given(sizes_strides)
def test_subsample_is_zero_insertion_transposed(case):
    n, s, channels = case
    m = tuple((na - 1) * sa + 1 for na, sa in zip(n, s))
    assert_same(subsample_matrix(m, s, channels=channels),
                zero_insertion_matrix(n, s, channels=channels).T.tocsr())


def test_subsample_of_other_sizes_adds_zero_columns():
    # m = 6 is (3 - 1) * 2 + 1 plus a tail of one position that is never kept
    S, Z = subsample_matrix(6, 2), zero_insertion_matrix(3, 2)
    assert_same(S[:, :5], Z.T.tocsr())
    assert S[:, 5:].nnz == 0


@pytest.mark.parametrize("fn", [zero_insertion_matrix, subsample_matrix])
@pytest.mark.parametrize(
    "args, kwargs, exc, pattern",
    [
        ((3, 0), {}, ValueError, r"stride=0 must be positive"),
        (((3, 3), (1, 0)), {}, ValueError, r"stride=\(1, 0\) must be positive.*axis 1"),
        (((3, 3), (1, 2, 3)), {}, ValueError, r"stride=\(1, 2, 3\) must have one entry per spatial axis"),
        ((3, 1.5), {}, TypeError, r"stride=1.5 must be an integer"),
        (((3, -1), 2), {}, ValueError, r"input_size=\(3, -1\) must be positive"),
        ((3, 2), dict(channels=-1), ValueError, r"channels=-1"),
        ((3, 2), dict(format="csv"), ValueError, r"format='csv'"),
    ],
)
def test_stride_refusals(fn, args, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(*args, **kwargs)


# --------------------------------------------------------------------------- up-sampling
@settings(deadline=None, max_examples=80)
@given(sizes_strides, st.integers(0, 2**32 - 1))
def test_upsample_nearest_matches_torch(case, seed):
    n, f, channels = case
    x = rand_int_input(np.random.default_rng(seed), channels, n)
    U = upsample_matrix(n, f, channels=channels)
    assert_canonical(U)
    ref = F.interpolate(torch.from_numpy(x)[None], scale_factor=f, mode="nearest")[0].numpy()
    np.testing.assert_array_equal(apply(U, x, ref.shape[1:]), ref)


@settings(deadline=None, max_examples=60)
@given(sizes_strides, st.integers(0, 2**32 - 1))
def test_upsample_zeros(case, seed):
    n, f, channels = case
    x = rand_int_input(np.random.default_rng(seed), channels, n)
    U = upsample_matrix(n, f, mode="zeros", channels=channels)
    out = tuple(na * fa for na, fa in zip(n, f))
    assert_canonical(U)
    naive = np.zeros((channels, *out))
    naive[(slice(None), *(slice(None, None, fa) for fa in f))] = x
    np.testing.assert_array_equal(apply(U, x, out), naive)
    # = zero insertion followed by f - 1 trailing zeros per axis
    Z = zero_insertion_matrix(n, f, channels=channels)
    P = pad_matrix(tuple((na - 1) * fa + 1 for na, fa in zip(n, f)),
                   tuple((0, fa - 1) for fa in f), channels=channels)
    assert_same(U, (P @ Z).tocsr())


@settings(deadline=None, max_examples=80)
@given(sizes_strides)
def test_nearest_upsample_is_sum_pool_transposed(case):
    n, f, channels = case
    U = upsample_matrix(n, f, channels=channels)
    S = sum_pool_matrix(tuple(na * fa for na, fa in zip(n, f)), f, channels=channels)
    assert_same(U, S.T.tocsr())


def test_upsample_float_integer_factor():
    assert_same(upsample_matrix(3, 2.0), upsample_matrix(3, 2))
    assert_same(upsample_matrix((3, 2), (2.0, 3)), upsample_matrix((3, 2), (2, 3)))


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(scale_factor=1.5), TypeError, r"scale_factor=1.5 must be an integer"),
        (dict(scale_factor=0), ValueError, r"scale_factor=0 must be positive"),
        (dict(scale_factor=(2, 2)), ValueError, r"input_size=\(3, 3, 3\) must have one entry|scale_factor="),
        (dict(scale_factor=2, mode="bilinear"), ValueError, r"mode='bilinear' is not one of 'nearest', 'zeros'"),
        (dict(scale_factor=2, channels=0), ValueError, r"channels=0"),
        (dict(scale_factor=2, format="nope"), ValueError, r"format='nope'"),
    ],
)
def test_upsample_refusals(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        upsample_matrix((3, 3, 3), **kwargs)


# --------------------------------------------------------------------------- pooling
def torch_pool_output_size(kw) -> tuple[int, ...]:
    """From torch itself: the spatial shape of avg_pool on zeros."""
    x = np.zeros((1, *kw["input_size"]))
    return torch_avg_pool(x, kw).shape[1:]


def torch_avg_pool(x: np.ndarray, kw: dict) -> np.ndarray:
    ndim = x.ndim - 1
    t = torch.from_numpy(x)[None]
    k, s, p = kw["kernel_size"], kw["stride"], kw["padding"]
    s = k if s is None else s
    common = dict(ceil_mode=kw["ceil_mode"], count_include_pad=kw["count_include_pad"])
    if ndim == 1:  # avg_pool1d has no divisor_override: pool a 1 x n image instead
        out = F.avg_pool2d(t[:, :, None], (1, *k), (1, *s), (0, *p),
                           divisor_override=kw["divisor_override"], **common)[:, :, 0]
        if kw["divisor_override"] is None:
            np.testing.assert_array_equal(out, F.avg_pool1d(t, k, s, p, **common))
    else:
        out = getattr(F, f"avg_pool{ndim}d")(t, k, s, p, divisor_override=kw["divisor_override"], **common)
    return out[0].numpy()


@settings(deadline=None, max_examples=200)
@given(avg_pool_configs(), st.integers(0, 2**32 - 1))
def test_avg_pool_matches_torch(kw, seed):
    x = rand_int_input(np.random.default_rng(seed), kw["channels"], kw["input_size"])
    A = avg_pool_matrix(**kw)
    ref = torch_avg_pool(x, kw)
    out = torch_pool_output_size(kw)
    assert ref.shape[1:] == out
    assert A.shape == (kw["channels"] * prod(out), kw["channels"] * prod(kw["input_size"]))
    assert_canonical(A, np.float64)
    np.testing.assert_allclose(apply(A, x, out), ref, rtol=1e-12, atol=1e-12)
    # the structure is the sum pool's
    kw_sum = {k: v for k, v in kw.items() if k not in ("count_include_pad", "divisor_override")}
    S = sum_pool_matrix(**kw_sum)
    assert_canonical(S)
    assert (S.indptr == A.indptr).all() and (S.indices == A.indices).all()


@settings(deadline=None, max_examples=60)
@given(avg_pool_configs())
def test_avg_pool_rows_sum_to_one_without_pad_count(kw):
    kw.update(count_include_pad=False, divisor_override=None)
    A = avg_pool_matrix(**kw)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-12)


@settings(deadline=None, max_examples=60)
@given(avg_pool_configs(), st.integers(0, 2**32 - 1))
def test_sum_pool_matches_torch_and_naive(kw, seed):
    kw_sum = {k: v for k, v in kw.items() if k not in ("count_include_pad", "divisor_override")}
    S = sum_pool_matrix(**kw_sum)
    x = rand_int_input(np.random.default_rng(seed), kw["channels"], kw["input_size"])
    out = torch_pool_output_size(kw)
    ref = torch_avg_pool(x, dict(kw, divisor_override=1))
    np.testing.assert_array_equal(apply(S, x, out), ref)
    # naive: window j along each axis covers j*s - p ... j*s - p + k - 1, clipped to the input
    n, k, p = kw["input_size"], kw["kernel_size"], kw["padding"]
    s = k if kw["stride"] is None else kw["stride"]
    single = np.zeros((prod(out), prod(n)), dtype=np.int64)
    for r, j in enumerate(itertools.product(*(range(o) for o in out))):
        ranges = [range(max(ja * sa - pa, 0), min(ja * sa - pa + ka, na))
                  for ja, sa, pa, ka, na in zip(j, s, p, k, n)]
        for i in itertools.product(*ranges):
            single[r, np.ravel_multi_index(i, n)] = 1
    np.testing.assert_array_equal(S.toarray(), np.kron(np.eye(kw["channels"], dtype=np.int64), single))


def test_avg_pool_ceil_mode_examples():
    # n=5, k=2, s=2, p=1, ceil: 3 windows (a 4th would start in the right padding)
    A = avg_pool_matrix(5, 2, stride=2, padding=1, ceil_mode=True)
    assert A.shape == (3, 5)
    # the last window covers positions 3 and 4, all inside the input
    np.testing.assert_allclose(A.toarray()[-1], [0, 0, 0, 0.5, 0.5])
    # overhang past the right padding is not counted even with count_include_pad
    B = avg_pool_matrix(4, 3, stride=2, ceil_mode=True)  # windows [0,3) and [2,5): last cut at 4
    np.testing.assert_allclose(B.toarray(), [[1 / 3, 1 / 3, 1 / 3, 0], [0, 0, 0.5, 0.5]])
    ref = F.avg_pool1d(torch.tensor([[[1.0, 2.0, 3.0, 4.0]]]), 3, 2, ceil_mode=True)[0, 0].numpy()
    np.testing.assert_allclose(B @ np.array([1.0, 2, 3, 4]), ref)


def test_avg_pool_window_overhanging_padding_in_ceil_mode():
    # n=4, k=3, s=2, p=1, ceil: the last window starts at 3 and is cut at n + p = 5, so it
    # counts one input and one padding position: divisor 2 with count_include_pad, else 1
    x = np.array([1.0, 2.0, 3.0, 4.0])
    for include in (True, False):
        A = avg_pool_matrix(4, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=include)
        ref = F.avg_pool1d(torch.from_numpy(x)[None, None], 3, 2, 1, ceil_mode=True,
                           count_include_pad=include)[0, 0].numpy()
        np.testing.assert_allclose(A @ x, ref, rtol=1e-15)
        assert A.toarray()[-1, -1] == (0.5 if include else 1.0)


def test_avg_pool_dtype_and_format():
    A = avg_pool_matrix((4, 4), 2, dtype=np.float32, channels=2)
    assert A.dtype == np.float32 and A.shape == (8, 32)
    D = avg_pool_matrix((4, 4), 2, format="dense")
    assert isinstance(D, np.ndarray) and D.shape == (4, 16)
    C = avg_pool_matrix((4, 4), 2, dtype=complex, format="coo")
    assert C.format == "coo" and C.dtype == np.complex128


def test_avg_pool_is_scaled_sum_pool():
    kw = dict(stride=2, padding=1, ceil_mode=True)
    A = avg_pool_matrix((5, 6), (3, 2), count_include_pad=False, **kw)
    S = sum_pool_matrix((5, 6), (3, 2), **kw)
    d = 1 / np.asarray(A.max(axis=1).todense())
    np.testing.assert_allclose((sp.diags_array(d) @ A).toarray(), S.toarray(), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(kernel_size=0), ValueError, r"kernel_size=0 must be positive"),
        (dict(kernel_size=2, stride=0), ValueError, r"stride=0 must be positive"),
        (dict(kernel_size=2, padding=-1), ValueError, r"padding=-1 must be non-negative"),
        (dict(kernel_size=2, padding=2), ValueError, r"padding=2 must be at most half the kernel size"),
        (dict(kernel_size=(2, 3), padding=(1, 2)), ValueError, r"padding=\(1, 2\) must be at most half.*axis 1"),
        (dict(kernel_size=2, padding=((0, 1), (0, 1))), TypeError, r"padding=\(\(0, 1\), \(0, 1\)\) must hold integers"),
        (dict(kernel_size=2, ceil_mode=1), TypeError, r"ceil_mode=1 must be True or False"),
        (dict(kernel_size=2, count_include_pad="yes"), TypeError, r"count_include_pad='yes' must be True or False"),
        (dict(kernel_size=2, divisor_override=0), ValueError, r"divisor_override=0 must be a nonzero integer"),
        (dict(kernel_size=2, divisor_override=1.5), TypeError, r"divisor_override=1.5 must be an integer"),
        (dict(kernel_size=2, dtype=np.int64), TypeError, r"dtype=.* must be a float32/float64 or complex"),
        (dict(kernel_size=2, dtype="nonsense"), TypeError, r"dtype='nonsense' is not a numpy dtype"),
        (dict(kernel_size=2, channels=0), ValueError, r"channels=0"),
        (dict(kernel_size=2, format="nope"), ValueError, r"format='nope'"),
        (dict(kernel_size=9), ValueError, r"pooling output would be empty along axis 0"),
        (dict(kernel_size=(2, 2, 2)), ValueError, r"kernel_size=\(2, 2, 2\) must have one entry"),
    ],
)
def test_avg_pool_refusals(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        avg_pool_matrix((4, 4), **kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=2, padding=2), dict(kernel_size=9)]
)
def test_avg_pool_refusals_agree_with_torch(kwargs):
    with pytest.raises(ValueError):
        avg_pool_matrix((4, 4), **kwargs)
    with pytest.raises(RuntimeError):
        F.avg_pool2d(torch.zeros(1, 1, 4, 4), **kwargs)


def test_sum_pool_refusals():
    with pytest.raises(ValueError, match="padding=3 must be at most half"):
        sum_pool_matrix(8, 4, padding=3)
    with pytest.raises(TypeError, match="ceil_mode"):
        sum_pool_matrix(8, 4, ceil_mode=None)
    with pytest.raises(ValueError, match="channels"):
        sum_pool_matrix(8, 4, channels=0)


# --------------------------------------------------------------------------- package surface
def test_public_names():
    for name in ("pad_matrix", "zero_insertion_matrix", "subsample_matrix", "upsample_matrix",
                 "avg_pool_matrix", "sum_pool_matrix", "pad_widths_from_torch"):
        assert getattr(cm, name) is getattr(sys.modules["convmatrix.resample"], name)


def test_large_matrix_uses_int64_indices_only_when_needed():
    A = zero_insertion_matrix((64, 64), 2, channels=8)
    assert A.indices.dtype == np.int32
    assert A.nnz == 8 * 64 * 64


# --------------------------------------------------------------------------- CLI
def test_cli_pad_reflect():
    out = run_cli("resample", "pad", "--input-size", "3", "--padding", "((2,-1),)", "--mode", "reflect").stdout
    assert "resample pad: 4 x 3" in out
    assert "[[0 0 1]\n [0 1 0]\n [1 0 0]\n [0 1 0]]" in out


def test_cli_in_process(capsys):
    from convmatrix.cli import main

    assert main(["resample", "pad", "--input-size", "5", "--padding", "-1"]) == 0
    assert "3 x 5 int64 CSR" in capsys.readouterr().out
    assert main(["resample", "zero-insert", "--input-size", "2,2", "--stride", "2", "--channels", "2"]) == 0
    assert "18 x 8 int64 CSR" in capsys.readouterr().out
    assert main(["resample", "subsample", "--input-size", "5", "--stride", "2", "--summary"]) == 0
    out = capsys.readouterr().out
    assert "3 x 5 int64 CSR" in out and "[[" not in out
    assert main(["resample", "upsample", "--input-size", "2", "--scale-factor", "2", "--mode", "zeros"]) == 0
    assert "[[1 0]\n [0 0]\n [0 1]\n [0 0]]" in capsys.readouterr().out
    assert main(["resample", "avg-pool", "--input-size", "4", "--kernel-size", "3", "--stride", "2",
                 "--padding", "1", "--ceil-mode", "--exclude-pad"]) == 0
    assert "3 x 4 float64 CSR" in capsys.readouterr().out
    assert main(["resample", "sum-pool", "--input-size", "4,4", "--kernel-size", "2"]) == 0
    assert "4 x 16 int64 CSR" in capsys.readouterr().out


def test_cli_save(tmp_path, capsys):
    from convmatrix.cli import main
    from convmatrix.export import load_matrix

    path = tmp_path / "z.npz"
    assert main(["resample", "zero-insert", "--input-size", "3", "--stride", "2", "-o", str(path)]) == 0
    assert_same(load_matrix(path).tocsr(), zero_insertion_matrix(3, 2))


def test_cli_refusal_exit_status():
    proc = run_cli("resample", "pad", "--input-size", "3", "--padding", "5", "--mode", "reflect", check=False)
    assert proc.returncode == 2
    assert "padding=5 is too large for reflect mode" in proc.stderr and "Traceback" not in proc.stderr


def test_tour_section():
    from convmatrix.cli.resample import section_resampling
    from convmatrix.cli.tour import SECTIONS

    assert "convmatrix.cli.resample:section_resampling" in SECTIONS
    text = section_resampling()
    assert text.count(".nnz == 0") == 3
