"""Max pooling through switches: torch parity (values, indices, ties, NaN), P_s/U_s identities."""

from __future__ import annotations

import itertools
from math import prod

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convmatrix.testing import max_pool_configs
from convmatrix.pooling import (
    MaxPool,
    max_pool_output_size,
    max_pool_switches,
    pool_matrix,
    unpool_matrix,
)


def torch_pool(x, k, s, p, d, ceil):
    nd = x.ndim - 1
    f = getattr(F, f"max_pool{nd}d")
    out, idx = f(torch.as_tensor(x)[None], k, s, p, d, ceil_mode=ceil, return_indices=True)
    return out[0].numpy(), idx[0].numpy()


def naive_switches(x, k, s, p, d, ceil, g=1):
    """Loop reference: scan every window in increasing position, keep the first strict maximum."""
    C, n = x.shape[0], x.shape[1:]
    out = max_pool_output_size(n, k, s, p, d, ceil)
    res = np.zeros((C // g, *out), dtype=np.int64)
    for co in range(C // g):
        for j in itertools.product(*map(range, out)):
            best, arg = None, None
            for c in range(co * g, co * g + g):
                for t in itertools.product(*map(range, k)):
                    q = tuple(ja * sa - pa + ta * da for ja, sa, pa, ta, da in zip(j, s, p, t, d))
                    if all(0 <= qa < na for qa, na in zip(q, n)):
                        v = x[(c, *q)]
                        if best is None or v > best:
                            best, arg = v, np.ravel_multi_index((c, *q), x.shape)
            res[(co, *j)] = arg
    return res


@settings(deadline=None, max_examples=120)
@given(cfg=max_pool_configs(), seed=st.integers(0, 2**16), levels=st.sampled_from([2, 3, 100]))
def test_matches_torch_values_indices_and_ties(cfg, seed, levels):
    C, n, k, s, p, d, ceil = cfg
    rng = np.random.default_rng(seed)
    x = rng.integers(0, levels, size=(C, *n)).astype(np.float64)  # few levels: many ties
    ref_val, ref_idx = torch_pool(x, k, s, p, d, ceil)
    try:
        sw = max_pool_switches(x, k, s, p, d, ceil)
    except ValueError as exc:  # a window of padding only: torch gives -inf at a bogus index
        assert "sees only padding" in str(exc)
        assert np.isneginf(ref_val).any()
        return
    assert sw.output_shape == ref_val.shape
    np.testing.assert_array_equal(sw.torch_indices, ref_idx)
    np.testing.assert_array_equal(sw.pool(x), ref_val)
    np.testing.assert_array_equal(pool_matrix(sw) @ x.reshape(-1), ref_val.reshape(-1))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_ties_lowest_index_wins_as_torch(nd):
    x = np.zeros((2,) + (5,) * nd)
    sw = max_pool_switches(x, 3, 1, 1)  # overlapping windows, padding: every window is all ties
    _, ref = torch_pool(x, 3, 1, 1, 1, False)
    np.testing.assert_array_equal(sw.torch_indices, ref)
    # the documented rule: the first in-range position of each window
    first = np.maximum(np.arange(5) - 1, 0)
    expect = sum(np.ix_(*[first * 5 ** (nd - 1 - a) for a in range(nd)]))
    np.testing.assert_array_equal(sw.torch_indices[0], expect)


def test_all_minus_inf_window_and_integer_minimum_as_torch():
    x = np.full((1, 1, 4), -np.inf)
    sw = max_pool_switches(x, (1, 3), 1, (0, 1))
    np.testing.assert_array_equal(sw.torch_indices, torch_pool(x, (1, 3), 1, (0, 1), 1, False)[1])
    xi = np.full((1, 3), np.iinfo(np.int64).min)
    swi = max_pool_switches(xi, 3, 1, 1)
    np.testing.assert_array_equal(swi.torch_indices, torch_pool(xi, 3, 1, 1, 1, False)[1])


def test_nan_wins_last_nan_among_several_as_torch():
    x = np.array([[[np.nan, 1.0, np.nan, 0.0, 5.0, np.nan]]])
    sw = max_pool_switches(x, (1, 4), (1, 2))
    _, ref = torch_pool(x, (1, 4), (1, 2), 0, 1, False)
    np.testing.assert_array_equal(sw.torch_indices, ref)
    assert sw.torch_indices.tolist() == [[[2, 5]]]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
def test_dtypes_match_torch(dtype, rng):
    x = rng.integers(-5, 5, size=(3, 6, 7)).astype(dtype)
    sw = max_pool_switches(x, (2, 3), (2, 2), (1, 1), 1, True)
    val, idx = torch_pool(x, (2, 3), (2, 2), (1, 1), 1, True)
    np.testing.assert_array_equal(sw.torch_indices, idx)
    np.testing.assert_array_equal(sw.pool(x), val)
    assert (pool_matrix(sw) @ x.reshape(-1)).dtype == np.result_type(dtype, np.int64)


@settings(deadline=None, max_examples=25)
@given(cfg=max_pool_configs(max_nd=2), g=st.integers(1, 3), seed=st.integers(0, 1000))
def test_naive_reference_including_channel_pool(cfg, g, seed):
    C, n, k, s, p, d, ceil = cfg
    x = np.random.default_rng(seed).integers(0, 3, size=(C * g, *n))
    try:
        sw = max_pool_switches(x, k, s, p, d, ceil, channel_pool=g)
    except ValueError as exc:
        assert "sees only padding" in str(exc)
        return
    np.testing.assert_array_equal(sw.indices, naive_switches(x, k, s, p, d, ceil, g))


def test_four_spatial_axes_naive(rng):
    x = rng.integers(0, 4, size=(2, 3, 4, 3, 5))
    sw = max_pool_switches(x, (2, 2, 1, 3), (1, 2, 1, 2), (1, 0, 0, 1), (1, 1, 2, 1), True)
    np.testing.assert_array_equal(sw.indices, naive_switches(x, (2, 2, 1, 3), (1, 2, 1, 2), (1, 0, 0, 1),
                                                              (1, 1, 2, 1), True))


@pytest.mark.parametrize("g,k", [(2, (2, 2)), (3, (2, 3)), (2, (3, 3))])
def test_zeiler_3d_pooling_matches_torch_max_pool3d_on_the_map_volume(g, k, rng):
    z = rng.integers(0, 3, (6, 7, 9)).astype(np.float64)  # ties across maps and space
    sw = max_pool_switches(z, k, channel_pool=g)
    out, idx = F.max_pool3d(torch.as_tensor(z)[None, None], (g, *k), (g, *k), return_indices=True)
    np.testing.assert_array_equal(sw.indices, idx[0, 0].numpy())  # flat into the (K, H, W) volume
    np.testing.assert_array_equal(sw.pool(z), out[0, 0].numpy())
    # and unpooling is torch's max_unpool3d on the volume
    p = rng.standard_normal(sw.output_shape)
    un = F.max_unpool3d(torch.as_tensor(p)[None, None], idx, (g, *k), (g, *k), output_size=z.shape)
    np.testing.assert_array_equal(unpool_matrix(sw) @ p.reshape(-1), un.numpy().reshape(-1))


def test_absolute_pools_magnitude_keeps_sign():
    z = np.array([[[1.0, -4.0], [2.0, 3.0]]])
    sw = max_pool_switches(z, 2, absolute=True)
    assert sw.pool(z).tolist() == [[[-4.0]]]


@settings(deadline=None, max_examples=60)
@given(cfg=max_pool_configs(), seed=st.integers(0, 2**16))
def test_unpool_is_exactly_pool_transposed(cfg, seed):
    C, n, k, s, p, d, ceil = cfg
    x = np.random.default_rng(seed).integers(0, 3, size=(C, *n))
    try:
        sw = max_pool_switches(x, k, s, p, d, ceil)
    except ValueError as exc:
        assert "sees only padding" in str(exc)
        return
    P, U = pool_matrix(sw), unpool_matrix(sw)
    assert P.format == U.format == "csr"
    assert P.shape == (sw.n_out, sw.n_in) and U.shape == (sw.n_in, sw.n_out)
    assert (U != P.T).nnz == 0
    assert U.has_canonical_format and P.has_canonical_format
    assert np.all(np.diff(U.indptr) >= 0) and np.all(P.sum(axis=1) == 1)
    # U y = the method's unpool (scatter-add); P U is the switch-coincidence matrix
    y = np.random.default_rng(seed + 1).standard_normal(sw.n_out)
    np.testing.assert_allclose(U @ y, sw.unpool(y).reshape(-1))
    same = sw.indices.reshape(-1)[:, None] == sw.indices.reshape(-1)[None, :]
    np.testing.assert_array_equal((P @ U).toarray(), same.astype(np.int64))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_non_overlapping_unpool_matches_torch_max_unpool(nd, rng):
    n = (6, 5, 4)[:nd]
    x = rng.standard_normal((3, *n))
    sw = max_pool_switches(x, 2)
    val, idx = torch_pool(x, 2, 2, 0, 1, False)
    y = rng.standard_normal(val.shape)
    unpool = getattr(F, f"max_unpool{nd}d")
    ref = unpool(torch.as_tensor(y)[None], torch.as_tensor(idx)[None], 2, output_size=n)[0].numpy()
    np.testing.assert_array_equal(unpool_matrix(sw) @ y.reshape(-1), ref.reshape(-1))
    np.testing.assert_array_equal((pool_matrix(sw) @ unpool_matrix(sw)).toarray(), np.eye(sw.n_out, dtype=int))


def test_overlapping_windows_sum_where_torch_overwrites():
    x = np.array([[0.0, 3.0, 1.0, 2.0, 0.0]])
    sw = max_pool_switches(x, 3, 1, 1)  # windows share the switch at position 1 three times
    assert sw.torch_indices.tolist() == [[1, 1, 1, 3, 3]]
    y = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])
    ours = unpool_matrix(sw) @ y.reshape(-1)
    theirs = F.max_unpool1d(torch.as_tensor(y)[None], torch.as_tensor(sw.torch_indices)[None], 3, 1, 1,
                            output_size=(5,))[0, 0].numpy()
    assert ours.tolist() == [0.0, 60.0, 0.0, 90.0, 0.0]  # P_sᵀ sums: 10 + 20 + 30, 40 + 50
    assert theirs[1] in (10.0, 20.0, 30.0) and theirs[3] in (40.0, 50.0)  # torch keeps one of them
    # where switches are distinct both agree, and counts show the multiplicity
    assert (unpool_matrix(sw) @ np.ones(5)).tolist() == [0, 3, 0, 2, 0]
    ones = F.max_unpool1d(torch.ones(1, 1, 5, dtype=torch.float64), torch.as_tensor(sw.torch_indices)[None],
                          3, 1, 1, output_size=(5,))[0, 0].numpy()
    assert ones.tolist() == [0, 1, 0, 1, 0]


def test_output_size_matches_torch_ceil_mode():
    for n in range(3, 12):
        for k, s, p in [(2, 2, 0), (3, 2, 1), (3, 3, 1), (2, 3, 1)]:
            out = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, ceil_mode=True).shape[-1]
            assert max_pool_output_size(n, k, s, p, ceil_mode=True) == (out,)


def test_maxpool_object():
    pool = MaxPool((2, 2), channel_pool=2)
    x = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    assert pool.output_shape(x.shape) == (1, 2, 2)
    assert pool.switches(x).indices.reshape(-1).tolist() == [21, 23, 29, 31]


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(kernel_size=0), ValueError, "kernel_size"),
        (dict(kernel_size=2, stride=(1, 0)), ValueError, "stride"),
        (dict(kernel_size=2, padding=2), ValueError, "padding"),
        (dict(kernel_size=2, dilation=0), ValueError, "dilation"),
        (dict(kernel_size=2, ceil_mode=1), TypeError, "ceil_mode"),
        (dict(kernel_size=2, channel_pool=4), ValueError, "channel_pool"),
        (dict(kernel_size=2, channel_pool=0), ValueError, "channel_pool"),
        (dict(kernel_size=2, channel_pool=1.5), TypeError, "channel_pool"),
        (dict(kernel_size=(2, 2, 2)), ValueError, "kernel_size"),
        (dict(kernel_size=7), ValueError, "empty"),
        (dict(kernel_size=(2, 1), padding=(1, 0), dilation=(5, 1)), ValueError, "dilation=5"),
        (dict(kernel_size="2"), TypeError, "kernel_size"),
    ],
)
def test_refusals(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        max_pool_switches(np.zeros((6, 4, 4)), **kwargs)


def test_refusals_of_x_and_switches():
    with pytest.raises(ValueError, match="x must have shape"):
        max_pool_switches(np.zeros(5), 2)
    with pytest.raises(TypeError, match="x must hold real"):
        max_pool_switches(np.zeros((1, 4), dtype=complex), 2)
    with pytest.raises(TypeError, match="switches"):
        pool_matrix(np.zeros(3))
    with pytest.raises(TypeError, match="switches"):
        unpool_matrix("s")
    sw = max_pool_switches(np.zeros((2, 4)), 2, channel_pool=2)
    with pytest.raises(ValueError, match="torch_indices"):
        sw.torch_indices
    with pytest.raises(ValueError, match="x has 3 entries"):
        sw.pool(np.zeros(3))
    with pytest.raises(ValueError, match="y has 5 entries"):
        sw.unpool(np.zeros(5))
    with pytest.raises(ValueError, match="channel_pool=3 must divide"):
        MaxPool(2, channel_pool=3).output_shape((4, 6, 6))
    with pytest.raises(TypeError, match="channel_pool"):
        MaxPool(2, channel_pool=1.5)
    with pytest.raises(ValueError, match="channel_pool=0"):
        MaxPool(2, channel_pool=0)
    with pytest.raises(TypeError, match="absolute"):
        max_pool_switches(np.zeros((1, 4)), 2, absolute="yes")
    with pytest.raises(ValueError, match="positive sizes"):
        max_pool_switches(np.zeros((0, 4)), 2)


# --------------------------------------------------------------------------- integer extremes
POOL_CFGS_2D = [((2, 3), (2, 2), (1, 1), 1, True), (3, 1, 1, 1, False), ((2, 2), (1, 2), (1, 0), (2, 1), True)]


def int8_with_minimum(rng):
    x = rng.integers(-128, 128, size=(3, 7, 6)).astype(np.int8)
    x[0, 0], x[1, :, 0], x[2] = -128, -128, -128  # a row, a column and a whole map of the minimum
    return x


@pytest.mark.parametrize("k,s,p,d,ceil", POOL_CFGS_2D)
def test_int8_with_its_minimum_matches_torch(k, s, p, d, ceil, rng):
    x = int8_with_minimum(rng)
    sw = max_pool_switches(x, k, s, p, d, ceil)
    val, idx = torch_pool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(sw.torch_indices, idx)
    np.testing.assert_array_equal(sw.pool(x), val)


@pytest.mark.parametrize("k,s,p,d,ceil", POOL_CFGS_2D)
def test_absolute_int8_minimum_is_the_largest_magnitude(k, s, p, d, ceil, rng):
    # |-128| = 128 does not fit in int8 (np.abs gives -128 back): torch pooling the magnitudes in int16
    x = int8_with_minimum(rng)
    sw = max_pool_switches(x, k, s, p, d, ceil, absolute=True)
    val, idx = torch_pool(np.abs(x.astype(np.int16)), k, s, p, d, ceil)
    np.testing.assert_array_equal(sw.torch_indices, idx)
    np.testing.assert_array_equal(np.abs(sw.pool(x).astype(np.int16)), val)
    assert sw.pool(x).dtype == np.int8  # the signed value is kept, in the input's dtype
    one = np.array([[5, -128, 100, 127]], dtype=np.int8)
    assert max_pool_switches(one, 4, absolute=True).indices.tolist() == [[1]]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_absolute_integer_minimum_against_python_ints(dtype, rng):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(4, 5, 5), dtype=dtype, endpoint=True)
    x.flat[rng.choice(x.size, 12, replace=False)] = info.min
    x[1, 1, 1] = -info.max  # ties in magnitude with +max elsewhere: the lowest position wins
    x[1, 1, 2] = info.max
    sw = max_pool_switches(x, 2, 1, 1, channel_pool=2, absolute=True)
    magnitudes = np.abs(x.astype(object))  # Python ints cannot overflow
    np.testing.assert_array_equal(sw.indices, naive_switches(magnitudes, (2, 2), (1, 1), (1, 1), (1, 1), False, 2))


# --------------------------------------------------------------------------- one structure
@settings(deadline=None, max_examples=40)
@given(cfg=max_pool_configs())
def test_windows_are_the_rows_of_sum_pooling(cfg):
    """Max pooling's windows and sum pooling's rows come from the same tap map: same bounds."""
    from convmatrix.resample import sum_pool_matrix

    C, n, k, s, p, _, ceil = cfg
    S = sum_pool_matrix(n, k, stride=s, padding=p, ceil_mode=ceil, channels=C)
    x = np.arange(C * prod(n)).reshape(C, *n)
    first = max_pool_switches(-x, k, s, p, 1, ceil)  # decreasing values: each window's first entry
    last = max_pool_switches(x, k, s, p, 1, ceil)  # increasing: its last entry
    np.testing.assert_array_equal(first.indices.ravel(), S.indices[S.indptr[:-1]])
    np.testing.assert_array_equal(last.indices.ravel(), S.indices[S.indptr[1:] - 1])
