"""Cheap bounds on a layer's operator norm (convmatrix.bounds) against numpy's dense SVD of the explicit matrix.

* every record that claims ``is_upper_bound`` is at least the exact norm, over
  every padding mode, stride, dilation, groups and 1-3 spatial dimensions, for
  random, all-positive, rank-one and single-tap kernels;
* the reductions the proofs rest on, checked as matrices: a zero-padded layer
  is a submatrix of the circulant on ``n + max(lo, hi)``; ``torch reshape`` is what
  ``torch.nn.utils.parametrizations.spectral_norm`` converges to on a real layer;
* Gram iteration decreases at every step and reaches the circulant's exact norm.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.testing import conv_configs

MODES = ("zeros", "reflect", "replicate", "circular")
REL = 1e-9


def _exact(w, cfg) -> float:
    kw = {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}
    A = cm.conv_matrix(w, cfg["input_size"], format="dense", **kw)
    return float(np.linalg.norm(A, 2)) if A.size else 0.0


def _kernel(kind: str, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.random(shape) + 0.1
    if kind == "ones":
        return np.ones(shape)
    if kind == "rank one":  # W[o, c, t] = a_o b_c h_t
        a, b, h = rng.standard_normal(shape[0]), rng.standard_normal(shape[1]), rng.standard_normal(shape[2:])
        return np.einsum("o,c,...->oc...", a, b, h)
    w = np.zeros(shape)  # one tap
    w[(slice(None), slice(None)) + tuple(int(rng.integers(k)) for k in shape[2:])] = rng.standard_normal(shape[:2])
    return w


def _kwargs(cfg):
    return {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}


@settings(max_examples=150)
@given(conv_configs(max_ndim=3, max_size=6, modes=MODES),
       st.sampled_from(["random", "positive", "ones", "rank one", "one tap"]), st.integers(0, 2**16))
def test_every_claimed_upper_bound_is_above_the_exact_norm(cfg, kind, seed):
    w = _kernel(kind, cfg["weight_shape"], seed)
    exact = _exact(w, cfg)
    bounds = cm.spectral_norm_bounds(w, cfg["input_size"], **_kwargs(cfg))
    assert [b.name for b in bounds] == ["Gram iteration", "circulant (enlarged grid)", "circular at input size",
                                        "Fantastic Four", "LipGrid", "torch reshape", "torch reshape x sqrt(overlap)"]
    for b in bounds:
        assert np.isfinite(b.value) and b.value >= 0, b
        if b.is_upper_bound:
            assert b.value >= exact * (1 - REL), f"{b} < exact {exact} for {cfg}"
    report = cm.spectral_norm_report(w, cfg["input_size"], exact=exact, **_kwargs(cfg))
    assert report.violations == ()


ADVERSARIAL = [
    ((3, 2, 3, 3), (6, 5), dict(padding=1)),
    ((2, 3, 3, 2), (7, 6), dict(padding=((2, 0), (1, 3)), dilation=(2, 1))),
    ((4, 2, 3), (9,), dict(padding=2, stride=2, groups=2)),
    ((2, 2, 2, 2, 2), (4, 3, 5), dict(padding=1, stride=(1, 2, 1))),
    ((2, 1, 3, 3), (3, 3), dict(padding=3, dilation=2)),  # padding wider than the input: not for reflect
]


@pytest.mark.parametrize("mode,shape,size,kw", [
    (mode, *case) for mode in MODES for case in ADVERSARIAL
    if not (mode == "reflect" and case[2].get("padding") == 3)])
def test_grid_of_adversarial_layers(mode, shape, size, kw):
    cfg = dict(kw, padding_mode=mode, input_size=size, weight_shape=shape)
    for kind in ("random", "positive", "rank one"):
        w = _kernel(kind, shape, 1)
        exact = _exact(w, cfg)
        for b in cm.spectral_norm_bounds(w, size, padding_mode=mode, **kw):
            if b.is_upper_bound:
                assert b.value >= exact * (1 - REL), (b, exact, cfg)


def _circulant(w: np.ndarray, N: tuple, dilation: tuple) -> np.ndarray:
    """Dense circulant ``(C x)[j] = Σ_t w_t x[(j + t d) mod N]`` (C_in, C_out channels), naive loops."""
    co, ci = w.shape[:2]
    P = int(np.prod(N))
    C = np.zeros((co * P, ci * P))
    for j in np.ndindex(*N):
        r = np.ravel_multi_index(j, N)
        for t in np.ndindex(*w.shape[2:]):
            q = np.ravel_multi_index(tuple((a + b * d) % n for a, b, d, n in zip(j, t, dilation, N)), N)
            for o in range(co):
                C[o * P + r, q::P][:ci] += w[o, :, *t]
    return C


@settings(max_examples=60)
@given(conv_configs(max_ndim=2, max_size=5, modes=("zeros",)), st.integers(0, 2**16))
def test_a_zero_padded_layer_is_a_submatrix_of_the_circulant_on_n_plus_max_pad(cfg, seed):
    """Rows (i·s − lo) mod N and the first n columns of the circulant on N = n + max(lo, hi), zero rows aside."""
    g = cm.ConvGeometry.from_weight_shape(cfg["weight_shape"], cfg["input_size"], **_kwargs(cfg))
    if g.groups != 1:
        return
    w = np.random.default_rng(seed).integers(-3, 4, g.weight_shape)
    A = cm.conv_matrix(w, g.input_size, format="dense", **_kwargs(cfg))
    N = tuple(n + max(p) for n, p in zip(g.input_size, g.padding))
    C = _circulant(w, N, g.dilation)
    rows = [np.ravel_multi_index(tuple((i * s - lo) % n for i, s, (lo, _), n in zip(idx, g.stride, g.padding, N)), N)
            for idx in np.ndindex(*g.output_size)]
    cols = [np.ravel_multi_index(idx, N) for idx in np.ndindex(*g.input_size)]
    P, Q = int(np.prod(N)), int(np.prod(g.output_size))
    sub = C[np.add.outer(np.arange(g.out_channels) * P, rows).ravel()][
        :, np.add.outer(np.arange(g.in_channels) * P, cols).ravel()]
    nonzero = np.abs(A).sum(axis=1) > 0
    assert np.array_equal(sub[nonzero], A[nonzero])
    assert Q == A.shape[0] // g.out_channels


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,size,kw", [
    ((6, 4, 3, 3), (5, 6), dict(padding=1)),
    ((6, 4, 3, 2), (7, 5), dict(padding=(2, 1), stride=2, dilation=(2, 1))),
    ((4, 6, 1, 1), (4, 4), dict()),
])
def test_torch_reshape_is_what_torch_spectral_norm_divides_by(mode, shape, size, kw):
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(shape[1], shape[0], shape[2:], bias=False, padding_mode=mode, **kw).double()
    torch.manual_seed(0)
    sn = torch.nn.utils.parametrizations.spectral_norm(conv, n_power_iterations=20)
    x = torch.zeros(1, shape[1], *size, dtype=torch.float64)
    sn.train()
    for _ in range(50):  # each training forward runs the power iteration
        sn(x)
    original = sn.parametrizations.weight.original.detach()
    normalised = sn.weight.detach()
    sigma = float((original.norm() / normalised.norm()))
    bounds = {b.name: b for b in cm.spectral_norm_bounds(original.numpy(), size, padding_mode=mode, **kw)}
    assert bounds["torch reshape"].value == pytest.approx(sigma, rel=1e-10)
    assert bounds["torch reshape"].value == pytest.approx(np.linalg.norm(original.numpy().reshape(shape[0], -1), 2),
                                                          rel=1e-12)


@pytest.mark.parametrize("shape,size,kw", [
    ((4, 3, 3, 3), (6, 6), dict(padding=1)),
    ((3, 5, 2), (7,), dict(padding=((2, 0),), dilation=2)),
    ((4, 2, 3, 3), (5, 5), dict(padding=1, groups=2)),
    ((2, 2, 2, 3, 2), (3, 4, 3), dict(padding=((1, 0), 1, (0, 1)))),
])
def test_gram_iteration_decreases_to_the_circular_norm(shape, size, kw):
    """Same-size circular layers (lo + hi = d (k - 1), stride 1): the layer is the circulant."""
    w = np.random.default_rng(3).standard_normal(shape)
    cfg = dict(kw, input_size=size, weight_shape=shape, padding_mode="circular")
    exact = _exact(w, cfg)
    values = [cm.spectral_norm_bounds(w, size, padding_mode="circular", n_iter=t, **kw)[0].value
              for t in range(0, 13)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(values, values[1:])), values
    assert all(v >= exact * (1 - REL) for v in values)
    assert values[-1] == pytest.approx(exact, rel=1e-6)
    assert values[0] > values[-1] * (1 + 1e-6)  # the first bound (Frobenius) is not already tight


def test_circular_records_are_exact_for_a_same_size_circular_layer():
    w = np.random.default_rng(4).standard_normal((5, 3, 3, 3))
    exact = _exact(w, dict(input_size=(6, 7), weight_shape=w.shape, padding=1, padding_mode="circular"))
    b = {r.name: r for r in cm.spectral_norm_bounds(w, (6, 7), padding=1, padding_mode="circular")}
    for name in ("circulant (enlarged grid)", "circular at input size"):
        assert b[name].is_upper_bound and b[name].value == pytest.approx(exact, rel=1e-12)
        assert "exact" in b[name].note


def test_which_records_are_proved():
    w = np.random.default_rng(5).standard_normal((4, 3, 3, 3))
    zeros = {r.name: r for r in cm.spectral_norm_bounds(w, (8, 8), padding=1)}
    assert not zeros["circular at input size"].is_upper_bound
    assert not zeros["torch reshape"].is_upper_bound
    valid = {r.name: r for r in cm.spectral_norm_bounds(w, (8, 8))}  # no padding: the grid is the input size
    assert valid["circular at input size"].is_upper_bound
    tiled = {r.name: r for r in cm.spectral_norm_bounds(w, (9, 9), stride=3)}  # patches do not overlap
    assert tiled["torch reshape"].is_upper_bound
    big = {r.name: r for r in cm.spectral_norm_bounds(np.ones((1, 1, 41, 41)), (50, 50))}
    assert not big["LipGrid"].is_upper_bound  # the paper's factor is below the one proved here


def test_reflect_and_repeated_circular_rows_multiply_by_mu():
    w = np.ones((1, 1, 3))
    b = {r.name: r for r in cm.spectral_norm_bounds(w, 4, padding=3, padding_mode="circular")}
    assert "x 1.414" in b["Fantastic Four"].note and b["Fantastic Four"].value == pytest.approx(3 * np.sqrt(2))
    r = {r.name: r for r in cm.spectral_norm_bounds(np.ones((1, 1, 3, 3)), (4, 4), padding=1, padding_mode="reflect")}
    assert "x 2" in r["Fantastic Four"].note  # pixel (1, 1) is copied into four padded positions


def test_records_print():
    w = np.arange(1.0, 7.0).reshape(2, 1, 3)
    bounds = cm.spectral_norm_bounds(w, 5, padding=1)
    assert str(bounds[0]).startswith("Gram iteration = ") and "[Delattre" in str(bounds[0])
    with pytest.raises(AttributeError):
        bounds[0].value = 1.0
    report = cm.spectral_norm_report(w, 5, padding=1, exact=2.0)
    text = str(report)
    assert text.splitlines()[0] == "1->2 3 on 5, zeros padding 1: exact operator norm 2"
    assert len(text.splitlines()) == 3 + len(bounds)
    assert report.rows()[0][0] == "Gram iteration" and report.ratios[0] == bounds[0].value / 2
    zero = cm.spectral_norm_report(np.zeros((1, 1, 2)), 3, exact=0.0)
    assert set(zero.ratios) == {1.0}


@pytest.mark.parametrize("call,name,kind", [
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), 5, n_iter=-1), "n_iter", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), 5, n_iter=65), "n_iter", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), 5, n_iter=2.0), "n_iter", TypeError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3), dtype=complex), 5), "weight", TypeError),
    (lambda: cm.spectral_norm_bounds(np.array([[[1.0, np.nan]]]), 5), "weight", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((2, 3)), 5), "weight", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), (5, 5)), "input_size", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((2, 1, 3)), 5, groups=3), "groups", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), 5, padding_mode="zero"), "padding_mode", ValueError),
    (lambda: cm.spectral_norm_bounds(np.ones((1, 1, 3)), 3, padding=3, padding_mode="reflect"), "padding",
     ValueError),
    (lambda: cm.spectral_norm_report(np.ones((1, 1, 3)), 5, exact=-1.0), "exact", ValueError),
    (lambda: cm.spectral_norm_report(np.ones((1, 1, 3)), 5, exact="1"), "exact", TypeError),
])
def test_bad_input_is_refused_by_name(call, name, kind):
    with pytest.raises(kind, match=name):
        call()


def test_large_grids_are_refused_before_allocating():
    with pytest.raises(cm.MatrixTooLargeError, match="max_bytes"):
        cm.spectral_norm_bounds(np.ones((8, 8, 3, 3)), (10**5, 10**5), padding=1, max_bytes=2**20)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,size,kw", [
    ((4, 3, 3, 3), (7, 6), dict(padding=1)),
    ((4, 2, 3, 2), (8, 5), dict(padding=(1, 1), stride=2, groups=2)),
])
def test_report_scores_against_spectral_norm(mode, shape, size, kw):
    w = np.random.default_rng(6).standard_normal(shape)
    report = cm.spectral_norm_report(w, size, padding_mode=mode, **kw)
    assert report.exact == pytest.approx(_exact(w, dict(kw, input_size=size, weight_shape=shape, padding_mode=mode)),
                                         rel=1e-9)
    assert report.violations == ()
    assert [row[2] for row in report.rows()] == pytest.approx([b.value / report.exact for b in report.bounds])
    assert f"{mode} padding" in str(report)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1e160, 1e200])
@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect"])
def test_extreme_weights_neither_underflow_nor_overflow(scale, mode):
    # squares of entries below ~1e-154 underflow and above ~1e154 overflow: the kernel is scaled by a power
    # of two first, so every bound scales exactly with the weight
    w = np.random.default_rng(3).standard_normal((2, 2, 3, 3))
    plain = cm.spectral_norm_bounds(w, (5, 5), padding=1, padding_mode=mode)
    scaled = cm.spectral_norm_bounds(w * scale, (5, 5), padding=1, padding_mode=mode)
    exact = cm.spectral_norm(w * scale, (5, 5), padding=1, padding_mode=mode)
    assert exact == pytest.approx(cm.spectral_norm(w, (5, 5), padding=1, padding_mode=mode) * scale, rel=1e-12)
    for a, b in zip(plain, scaled):
        assert (a.name, a.is_upper_bound) == (b.name, b.is_upper_bound)
        assert b.value == pytest.approx(a.value * scale, rel=1e-12)
        if b.is_upper_bound:
            assert b.value >= exact * (1 - REL)
