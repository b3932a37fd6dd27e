"""Interpolation, pixel shuffle, adaptive pooling and fold/unfold as matrices.

Oracles: ``F.interpolate``, ``F.pixel_shuffle``/``F.pixel_unshuffle``,
``F.adaptive_avg_pool{1,2,3}d``, ``F.unfold``/``F.fold`` in float64 (torch
2.13's own index and weight rules); the identities (unshuffle = shuffleᵀ,
fold = unfoldᵀ, unfold = im2colᵀ) by exact sparse equality with integer entries.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.interpolate import adaptive_pool_windows, cubic_weights

LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def torch_interpolate(x, **kw):
    return F.interpolate(torch.as_tensor(x)[None], **kw)[0].numpy()


def assert_canonical(A, dtype):
    assert isinstance(A, sp.csr_array) and A.dtype == dtype and A.has_canonical_format
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32
    assert (A.data != 0).all()


# --------------------------------------------------------------------------- interpolate
@st.composite
def interpolations(draw):
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", LINEAR_MODES[ndim]]
                                + (["bicubic"] if ndim == 2 else [])))
    n = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    kw = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    else:
        factors = st.sampled_from([0.5, 0.7, 1.0, 1.1, 4 / 3, 1.5, 2.0, 2.2, 2.5, 3.0])
        kw["scale_factor"] = draw(factors) if draw(st.booleans()) else tuple(draw(factors) for _ in range(ndim))
        if mode != "area":
            kw["recompute_scale_factor"] = draw(st.sampled_from([None, True, False]))
        sf = kw["scale_factor"] if isinstance(kw["scale_factor"], tuple) else (kw["scale_factor"],) * ndim
        assume(all(int(na * f) >= 1 for na, f in zip(n, sf)))
    if mode not in ("nearest", "nearest-exact", "area"):
        kw["align_corners"] = draw(st.booleans())
    return n, kw


@given(interpolations(), st.integers(1, 3))
def test_interpolate_matches_torch(case, channels):
    n, kw = case
    x = np.random.default_rng(0).standard_normal((channels, *n))
    y = torch_interpolate(x, **kw)
    M = cm.interpolate_matrix(n, kw.get("size"), kw.get("scale_factor"), channels=channels,
                              **{k: v for k, v in kw.items() if k not in ("size", "scale_factor")})
    assert M.shape == (y.size, x.size)
    np.testing.assert_allclose(M @ x.ravel(), y.ravel(), rtol=0, atol=1e-13)
    if kw["mode"] in ("nearest", "nearest-exact"):
        assert_canonical(M, np.int64)
        assert (np.diff(M.indptr) == 1).all()  # a selection: one 1 per row
    else:
        np.testing.assert_allclose(M.sum(axis=1), 1.0, atol=1e-13)


@pytest.mark.parametrize("n", range(1, 9))
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
def test_interpolate_1d_grid_of_factors(n, mode):
    """Every factor of a grid, with and without recomputing: the float32 index rules and torch's shortcuts."""
    x = np.arange(n, dtype=np.float64)[None] ** 2
    for sf in (0.5, 0.7, 1.0, 1.1, 1.3, 1.5, 1.7, 2.0, 2.5, 3.0, 1 / 3, 2 / 3, 0.999):
        if int(n * sf) < 1:
            continue
        for recompute in (None, True):
            kw = dict(scale_factor=sf, mode=mode, recompute_scale_factor=recompute)
            M = cm.interpolate_matrix(n, None, sf, mode=mode, recompute_scale_factor=recompute)
            np.testing.assert_allclose(M @ x.ravel(), torch_interpolate(x, **kw).ravel(), atol=1e-12, rtol=0)


def test_nearest_shortcuts_are_those_of_torchs_2d_kernel():
    """With two spatial axes torch copies when out == n and halves when out == 2n, whatever the factor."""
    for ndim in (1, 2, 3):
        n = (5,) * ndim
        x = np.random.default_rng(1).standard_normal((1, *n))
        for sf in (1.1, 2.1):
            M = cm.interpolate_matrix(n, scale_factor=sf)
            np.testing.assert_array_equal(M @ x.ravel(), torch_interpolate(x, scale_factor=sf).ravel())
    M = cm.interpolate_matrix((5, 5), scale_factor=1.1)
    assert (M != sp.identity(25, dtype=np.int64, format="csr")).nnz == 0
    assert (cm.interpolate_matrix(5, scale_factor=1.1) != sp.identity(5, dtype=np.int64, format="csr")).nnz > 0


def test_bicubic_weights_and_border_clamping():
    np.testing.assert_allclose(cubic_weights(np.linspace(0, 1, 11)).sum(axis=1), 1.0)
    M = cm.interpolate_matrix((1, 4), (1, 8), mode="bicubic")
    row0 = M.toarray()[0]  # source -0.25: taps -2..1 clamp onto pixel 0
    w = cubic_weights(np.array([0.75]))[0]
    np.testing.assert_allclose(row0, [w[0] + w[1] + w[2], w[3], 0, 0])


def test_interpolate_area_is_adaptive_pooling():
    A = cm.interpolate_matrix((7, 5), (3, 2), mode="area", channels=2)
    assert (A != cm.adaptive_avg_pool_matrix((7, 5), (3, 2), channels=2)).nnz == 0


def test_interpolate_formats_and_guard():
    M = cm.interpolate_matrix((4, 4), scale_factor=2, mode="bilinear", format="dense")
    assert isinstance(M, np.ndarray) and M.shape == (64, 16)
    assert cm.interpolate_matrix(4, 8, mode="linear", format="csc").format == "csc"
    with pytest.raises(cm.MatrixTooLargeError):
        cm.interpolate_matrix((10**6, 10**6), scale_factor=2, mode="bilinear", channels=64)


@pytest.mark.parametrize("kwargs, exc, parameter", [
    (dict(input_size=4), ValueError, "size"),  # neither size nor scale_factor
    (dict(input_size=4, size=3, scale_factor=2), ValueError, "size"),
    (dict(input_size=4, size=3, mode="cubic"), ValueError, "mode"),
    (dict(input_size=4, size=3, mode="bilinear"), ValueError, "mode"),
    (dict(input_size=(4, 4), size=3, mode="trilinear"), ValueError, "mode"),
    (dict(input_size=4, size=3, mode="nearest", align_corners=True), ValueError, "align_corners"),
    (dict(input_size=4, size=3, mode="linear", align_corners=1), TypeError, "align_corners"),
    (dict(input_size=4, scale_factor=0.1), ValueError, "scale_factor"),
    (dict(input_size=4, scale_factor=float("nan")), ValueError, "scale_factor"),
    (dict(input_size=4, scale_factor="2"), TypeError, "scale_factor"),
    (dict(input_size=(4, 4), scale_factor=(2, 2, 2)), ValueError, "scale_factor"),
    (dict(input_size=4, size=0), ValueError, "size"),
    (dict(input_size=4, size=3, recompute_scale_factor=True), ValueError, "recompute_scale_factor"),
    (dict(input_size=4, size=3, channels=0), ValueError, "channels"),
    (dict(input_size=4, size=3, format="csx"), ValueError, "format"),
])
def test_interpolate_refusals(kwargs, exc, parameter):
    with pytest.raises(exc) as info:
        cm.interpolate_matrix(**kwargs)
    assert info.value.parameter == parameter
    assert str(info.value).startswith(parameter)


# --------------------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("r, channels, n", list(itertools.product((1, 2, 3), (1, 2), ((1, 1), (2, 3), (3, 2)))))
def test_pixel_shuffle_and_unshuffle_match_torch(r, channels, n):
    rng = np.random.default_rng(2)
    x = rng.integers(-9, 10, (channels * r * r, *n))
    S = cm.pixel_shuffle_matrix(n, r, channels=channels * r * r)
    assert_canonical(S, np.int64)
    np.testing.assert_array_equal(S @ x.ravel(), F.pixel_shuffle(torch.as_tensor(x)[None], r)[0].numpy().ravel())
    big = (n[0] * r, n[1] * r)
    z = rng.integers(-9, 10, (channels, *big))
    U = cm.pixel_unshuffle_matrix(big, r, channels=channels)
    np.testing.assert_array_equal(U @ z.ravel(), F.pixel_unshuffle(torch.as_tensor(z)[None], r)[0].numpy().ravel())
    assert (U != S.T).nnz == 0  # the inverse is the transpose: a permutation


@pytest.mark.parametrize("ndim", [1, 3])
def test_pixel_shuffle_in_other_dimensions_is_the_same_rule(ndim):
    """``out[c, h r + i] = in[c r^N + flat(i), h]`` on every axis (torch has 2-d only): a reshape reference."""
    r, c, n = 2, 2, (2,) * ndim
    x = np.arange(c * r**ndim * 2**ndim).reshape(c, *([r] * ndim), *n)
    order = [0] + [a for k in range(ndim) for a in (1 + ndim + k, 1 + k)]
    expected = x.transpose(order).reshape(c, *(v * r for v in n))
    S = cm.pixel_shuffle_matrix(n, r, channels=c * r**ndim)
    np.testing.assert_array_equal(S @ x.ravel(), expected.ravel())
    assert (cm.pixel_unshuffle_matrix(tuple(v * r for v in n), r, channels=c) != S.T).nnz == 0


def test_pixel_shuffle_refusals():
    with pytest.raises(ValueError, match="channels=3 must be divisible") as info:
        cm.pixel_shuffle_matrix((2, 2), 2, channels=3)
    assert info.value.parameter == "channels"
    with pytest.raises(ValueError, match="divisible by downscale_factor=2") as info:
        cm.pixel_unshuffle_matrix((3, 4), 2)
    assert info.value.parameter == "input_size"
    with pytest.raises(TypeError) as info:
        cm.pixel_shuffle_matrix((2, 2), 2.0)
    assert info.value.parameter == "upscale_factor"


# --------------------------------------------------------------------------- adaptive pooling
@settings(max_examples=30)
@given(st.integers(1, 3).flatmap(lambda nd: st.tuples(
    st.tuples(*[st.integers(1, 7)] * nd), st.tuples(*[st.one_of(st.none(), st.integers(1, 5))] * nd))))
def test_adaptive_avg_pool_matches_torch(sizes):
    n, out = sizes
    x = np.random.default_rng(3).standard_normal((2, *n))
    f = getattr(F, f"adaptive_avg_pool{len(n)}d")
    torch_out = out if len(n) > 1 else tuple(na if o is None else o for na, o in zip(n, out))  # 1-d takes no None
    y = f(torch.as_tensor(x)[None], torch_out)[0].numpy()
    A = cm.adaptive_avg_pool_matrix(n, out, channels=2)
    np.testing.assert_allclose(A @ x.ravel(), y.ravel(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(A.sum(axis=1), 1.0)


def test_adaptive_windows_are_atens_start_and_end_index():
    for n, o in itertools.product(range(1, 12), range(1, 12)):
        start, end = adaptive_pool_windows(n, o)
        j = np.arange(o)
        np.testing.assert_array_equal(start, np.floor(j * n / o).astype(int))
        np.testing.assert_array_equal(end, np.ceil((j + 1) * n / o).astype(int))


def test_adaptive_refusals():
    with pytest.raises(TypeError) as info:
        cm.adaptive_avg_pool_matrix(5, 2.5)
    assert info.value.parameter == "output_size"
    with pytest.raises(ValueError) as info:
        cm.adaptive_avg_pool_matrix((5, 5), (2, 2, 2))
    assert info.value.parameter == "output_size"
    with pytest.raises(TypeError) as info:
        cm.adaptive_avg_pool_matrix(5, 2, dtype=np.int64)
    assert info.value.parameter == "dtype"


# --------------------------------------------------------------------------- unfold / fold
@st.composite
def unfold_configs(draw):
    n = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    assume(all(na + 2 * pa >= da * (ka - 1) + 1 for na, ka, da, pa in zip(n, k, d, p)))
    return dict(input_size=n, kernel_size=k, dilation=d, padding=p, stride=s)


@settings(max_examples=30)
@given(unfold_configs(), st.integers(1, 3))
def test_unfold_and_fold_match_torch(cfg, channels):
    rng = np.random.default_rng(4)
    n, kw = cfg["input_size"], {k: v for k, v in cfg.items() if k != "input_size"}
    x = rng.integers(-9, 10, (channels, *n)).astype(np.float64)
    y = F.unfold(torch.as_tensor(x)[None], **kw)[0].numpy()
    U = cm.unfold_matrix(n, channels=channels, **kw)
    assert_canonical(U, np.int64)
    np.testing.assert_array_equal(U @ x.ravel(), y.ravel())
    cols = rng.standard_normal(y.shape)
    z = F.fold(torch.as_tensor(cols)[None], n, **kw)[0].numpy()
    Fm = cm.fold_matrix(n, channels=channels, **kw)
    np.testing.assert_allclose(Fm @ cols.ravel(), z.ravel(), atol=1e-13)
    assert (Fm != U.T).nnz == 0  # fold is unfold's adjoint, exactly
    X = cm.im2col_matrix(x, kw["kernel_size"], stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"])
    np.testing.assert_array_equal(U @ x.ravel(), X.T.toarray().ravel())  # unfold is im2col read the other way


def test_unfold_in_three_dimensions_is_im2col():
    x = np.arange(2 * 3 * 4 * 3).reshape(2, 3, 4, 3)
    U = cm.unfold_matrix((3, 4, 3), 2, padding=1, stride=2, channels=2)
    np.testing.assert_array_equal(U @ x.ravel(), cm.im2col_matrix(x, 2, padding=1, stride=2).T.toarray().ravel())


def test_unfold_refusals_and_guard():
    with pytest.raises(TypeError) as info:
        cm.unfold_matrix((4, 4), 2, padding="same")
    assert info.value.parameter == "padding"
    with pytest.raises(ValueError) as info:
        cm.unfold_matrix((2, 2), 3)
    assert info.value.parameter == "input_size"
    with pytest.raises(cm.MatrixTooLargeError):
        cm.fold_matrix((4096, 4096), 3, channels=512)
