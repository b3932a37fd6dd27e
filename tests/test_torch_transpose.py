"""Transposed convolution in every padding mode.

torch refuses ``ConvTranspose*d`` with any padding mode but zeros; the matrix
is the literal transpose of the padded convolution, so its oracle is the
vector–Jacobian product of ``F.conv{N}d(F.pad(x, ..., mode), w)`` (torch's
autograd).  The direct-convolution chain ``F @ C @ P @ Z`` (the unpadded
transposed convolution, then the fold of the border) is checked exactly with
integer kernels, literal product included.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convmatrix as cm

FOLDING_MODES = ("reflect", "replicate", "circular")


@st.composite
def transposed_configs(draw, modes=FOLDING_MODES):
    ndim = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    op = tuple(draw(st.integers(0, max(sa, da) - 1)) for sa, da in zip(s, d))
    p = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(ndim))
    n = tuple(draw(st.integers(1, 4 if ndim < 3 else 3)) for _ in range(ndim))
    cfg = dict(weight_shape=(groups * draw(st.integers(1, 2)), draw(st.integers(1, 2)), *k), input_size=n,
               stride=s, padding=p, output_padding=op, dilation=d, groups=groups,
               padding_mode=draw(st.sampled_from(modes)))
    try:
        cm.ConvTransposeGeometry.from_weight_shape(**cfg)
    except ValueError:
        assume(False)
    return cfg


def vjp_of_padded_conv(w, v, cfg):
    """``A_mᵀ v`` by torch's autograd: the gradient of the padded convolution over the transposed output."""
    tg = cm.ConvTransposeGeometry.from_weight_shape(**cfg)
    nd = len(cfg["input_size"])
    xo = torch.zeros((1, tg.out_channels, *tg.output_size), dtype=torch.float64, requires_grad=True)
    flat = [q for lo_hi in reversed(tg.padding) for q in lo_hi]
    y = getattr(F, f"conv{nd}d")(F.pad(xo, flat, mode=cfg["padding_mode"]), torch.as_tensor(w, dtype=torch.float64),
                                 stride=tg.stride, dilation=tg.dilation, groups=tg.groups)
    y = y[(..., *(slice(0, n) for n in tg.input_size))]  # output_padding >= stride: the first positions
    (g,) = torch.autograd.grad(y, xo, torch.as_tensor(v)[None])
    return g[0].numpy()


def kwargs(cfg):
    return {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}


@settings(max_examples=30)
@given(transposed_configs())
def test_padded_transpose_is_the_vjp_of_the_padded_convolution(cfg):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(cfg["weight_shape"])
    v = rng.standard_normal((cfg["weight_shape"][0], *cfg["input_size"]))
    T = cm.conv_transpose_matrix(w, cfg["input_size"], **kwargs(cfg))
    np.testing.assert_allclose(T @ v.ravel(), vjp_of_padded_conv(w, v, cfg).ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", FOLDING_MODES)
@pytest.mark.parametrize("k, s, p, op", [(3, 2, 1, 1), (4, 2, 1, 0), (3, 1, 1, 0), (2, 3, 2, 2), (5, 2, 2, 1)])
def test_padded_transpose_2d_grid(mode, k, s, p, op):
    cfg = dict(weight_shape=(2, 3, k, k), input_size=(3, 4), stride=s, padding=p, output_padding=op,
               dilation=1, groups=1, padding_mode=mode)
    rng = np.random.default_rng(1)
    w, v = rng.standard_normal(cfg["weight_shape"]), rng.standard_normal((2, 3, 4))
    T = cm.conv_transpose_matrix(w, (3, 4), **kwargs(cfg))
    np.testing.assert_allclose(T @ v.ravel(), vjp_of_padded_conv(w, v, cfg).ravel(), rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(transposed_configs(modes=FOLDING_MODES + ("zeros",)))
def test_fold_chain_is_exact_with_integer_kernels(cfg):
    w = np.random.default_rng(2).integers(-4, 5, cfg["weight_shape"])
    report = cm.verify_transpose_equivalence(w, cfg["input_size"], literal=True, **kwargs(cfg))
    assert report.exact and report.max_abs_difference == 0 and report.literal_checked
    d = cm.transposed_conv_as_direct(w, cfg["input_size"], **kwargs(cfg))
    T = cm.conv_transpose_matrix(w, cfg["input_size"], **kwargs(cfg))
    assert d.matrix.dtype == T.dtype == w.dtype
    assert (d.matrix != T).nnz == 0
    assert (sp.csr_array(d.F @ d.C @ d.P @ d.Z) != T).nnz == 0  # as written, factor by factor
    if cfg["padding_mode"] != "zeros":
        assert report.fold_shape == d.F.shape and "F @ C @ P @ Z" in str(report)
        # the fold: one 1 per column, the pad matrix of the mode transposed
        assert (np.diff(sp.csc_array(d.F).indptr) == 1).all()
        P_m = cm.pad_matrix(d.output_size, d.border, mode=cfg["padding_mode"], channels=d.out_channels)
        assert (d.F != P_m.T).nnz == 0
        # C P Z is the transposed convolution with padding 0
        unpadded = dict(kwargs(cfg), padding=0, padding_mode="zeros")
        assert (d.direct_matrix != cm.conv_transpose_matrix(w, cfg["input_size"], **unpadded)).nnz == 0


def test_zeros_mode_is_unchanged():
    w = np.arange(1, 19).reshape(2, 1, 3, 3)
    d = cm.transposed_conv_as_direct(w, (3, 3), stride=2, padding=1)
    assert d.border is None and d.direct_matrix is d.matrix and d.direct_shape == d.shape
    assert (d.F != sp.identity(d.shape[0], dtype=np.int64)).nnz == 0
    report = cm.verify_transpose_equivalence(w, (3, 3), stride=2, padding=1)
    assert report.fold_shape is None and report.padding_mode == "zeros"
    assert str(report).splitlines()[0].startswith("transposed conv == C @ P @ Z: EXACT")


def test_fold_in_one_dimension_by_hand():
    """Reflect: the border rows of the unpadded output are added onto the pixels they mirror."""
    w = np.array([[[1, 2, 3]]])
    d = cm.transposed_conv_as_direct(w, 3, stride=1, padding=1, padding_mode="reflect")
    # o' = 3, unpadded output 5: u = 0 mirrors pixel 1, u = 4 mirrors pixel 1
    np.testing.assert_array_equal(d.F.toarray(), [[0, 1, 0, 0, 0], [1, 0, 1, 0, 1], [0, 0, 0, 1, 0]])
    x = np.array([1, 10, 100])
    np.testing.assert_array_equal(d.matrix @ x, cm.conv_matrix(w, 3, padding=1, padding_mode="reflect").T @ x)


def test_symbolic_fold_chain():
    w = cm.symbolic_weight((1, 1, 3))
    report = cm.verify_transpose_equivalence(w, 3, stride=2, padding=1, padding_mode="replicate")
    assert report.exact and report.literal_checked


def test_padding_too_large_for_the_mode_is_refused():
    with pytest.raises(ValueError, match="too large for reflect mode") as info:
        cm.transposed_conv_as_direct(np.ones((1, 1, 3)), 1, padding=1, padding_mode="reflect")
    assert info.value.parameter == "padding"
    with pytest.raises(ValueError) as info:
        cm.verify_transpose_equivalence(np.ones((1, 1, 3)), 2, padding_mode="mirror")
    assert info.value.parameter == "padding_mode"
