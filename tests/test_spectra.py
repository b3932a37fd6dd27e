"""Singular values and norms of convolution layers against numpy's dense SVD of the explicit matrix."""

from __future__ import annotations

from math import gcd

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix import spectra
from convmatrix.testing import conv_configs

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def _layer_kwargs(cfg):
    return {key: cfg[key] for key in ("stride", "padding", "dilation", "groups", "padding_mode")}


def _dense_svd(w, n, **kw):
    A = cm.conv_matrix(w, n, **kw).toarray().astype(float)
    return np.linalg.svd(A, compute_uv=False)


def _close(got, ref, rtol=1e-9):
    scale = max(1.0, float(ref[0])) if ref.size else 1.0
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=rtol * scale)


# --------------------------------------------------------------------------- every padding mode, against dense SVD
@SETTINGS
@given(conv_configs(max_ndim=3, max_size=5, modes=("zeros", "reflect", "replicate", "circular")),
       st.integers(0, 2**31 - 1))
def test_all_singular_values_match_dense_svd(cfg, seed):
    w = np.random.default_rng(seed).standard_normal(cfg["weight_shape"])
    kw = _layer_kwargs(cfg)
    ref = _dense_svd(w, cfg["input_size"], **kw)
    got = cm.spectrum(w, cfg["input_size"], **kw)
    _close(got.values, ref)
    assert got.shape == cm.ConvGeometry.from_weight_shape(cfg["weight_shape"], cfg["input_size"], **kw).shape
    assert got.residual < 1e-10


@SETTINGS
@given(conv_configs(max_ndim=2, max_size=6, modes=("zeros", "reflect", "replicate", "circular")),
       st.integers(1, 4), st.sampled_from(["largest", "smallest"]), st.integers(0, 2**31 - 1))
def test_k_largest_or_smallest(cfg, k, which, seed):
    w = np.random.default_rng(seed).standard_normal(cfg["weight_shape"])
    kw = _layer_kwargs(cfg)
    ref = _dense_svd(w, cfg["input_size"], **kw)
    k = min(k, ref.size)
    got = cm.singular_values(w, cfg["input_size"], k=k, which=which, **kw)
    # through the Gram matrix a small value is good to about sqrt(eps) * sigma_max (see matrix_spectrum)
    _close(got, ref[:k] if which == "largest" else ref[ref.size - k:], rtol=1e-9 if which == "largest" else 1e-7)
    assert cm.spectral_norm(w, cfg["input_size"], **kw) == pytest.approx(ref[0], rel=1e-12, abs=1e-300)


@SETTINGS
@given(conv_configs(max_ndim=3, max_size=6, modes=("zeros", "reflect", "replicate", "circular")),
       st.integers(0, 2**31 - 1))
def test_conv_operator_is_the_matrix(cfg, seed):
    """The factored operator (taps' 0/1 matrices and the reshaped kernel) against conv_matrix, both ways."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(cfg["weight_shape"])
    kw = _layer_kwargs(cfg)
    A = cm.conv_matrix(w, cfg["input_size"], **kw)
    op = spectra.conv_operator(w, cfg["input_size"], **kw)
    assert op.shape == A.shape
    x, y = rng.standard_normal(A.shape[1]), rng.standard_normal(A.shape[0])
    np.testing.assert_allclose(op.matvec(x), A @ x, atol=1e-12)
    np.testing.assert_allclose(op.rmatvec(y), A.T @ y, atol=1e-12)


def test_large_layer_norm_goes_through_the_factors(monkeypatch):
    """Above the dense threshold, the k largest come from Lanczos on the factors, never the matrix."""
    w = np.random.default_rng(5).standard_normal((4, 2, 3, 3))
    kw = dict(stride=(1, 2), padding=((1, 0), (2, 1)), padding_mode="reflect")
    ref = _dense_svd(w, (9, 8), **kw)
    built = []
    monkeypatch.setattr(spectra, "conv_matrix", lambda *a, **k: built.append(a[0].shape) or cm.conv_matrix(*a, **k))
    s = cm.spectrum(w, (9, 8), k=3, **kw)
    assert s.method == "sparse" and s.residual < 1e-9
    assert built == [(9, 1, 3, 3)]  # only the one-hot taps' matrix
    _close(s.values, ref[:3])
    assert cm.spectral_norm(w, (9, 8), **kw) == pytest.approx(ref[0], rel=1e-13)


# --------------------------------------------------------------------------- circular layers by the FFT
@st.composite
def circulant_configs(draw, max_ndim=3):
    """Circular layers whose matrix is a row-selected circulant (L = n / gcd(n, s) on every axis)."""
    ndim = draw(st.integers(1, max_ndim))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    size = 8 if ndim < 3 else 4
    k, d, s, n, pad = [], [], [], [], []
    for _ in range(ndim):
        ki, di, si = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
        ni = draw(st.integers(1, size))
        length = ni // gcd(ni, si)
        total = (length - 1) * si + 1 + di * (ki - 1) - ni + draw(st.integers(0, si - 1))
        if not 0 <= total <= 2 * ni:
            total = -1
        lo = draw(st.integers(0, max(total, 0)))
        k.append(ki), d.append(di), s.append(si), n.append(ni), pad.append((lo, total - lo))
    cfg = dict(weight_shape=(cout * groups, cin, *k), input_size=tuple(n), stride=tuple(s), padding=tuple(pad),
               dilation=tuple(d), groups=groups, padding_mode="circular")
    from hypothesis import assume

    assume(all(0 <= lo <= ni and 0 <= hi <= ni for (lo, hi), ni in zip(pad, n)))
    try:
        cm.ConvGeometry.from_weight_shape(**cfg)
    except ValueError:
        assume(False)
    return cfg


@settings(max_examples=60, deadline=None, derandomize=True)
@given(circulant_configs(), st.integers(0, 2**31 - 1))
def test_fft_path_matches_dense_svd(cfg, seed):
    """Strided, grouped, dilated, asymmetric, 1-3 axes: the polyphase blocks give every value."""
    w = np.random.default_rng(seed).standard_normal(cfg["weight_shape"])
    kw = _layer_kwargs(cfg)
    got = cm.spectrum(w, cfg["input_size"], **kw)
    assert got.method == "fft"
    ref = _dense_svd(w, cfg["input_size"], **kw)
    _close(got.values, ref)
    assert got.residual < 1e-12
    k = min(2, ref.size)
    for which, part in (("largest", ref[:k]), ("smallest", ref[ref.size - k:])):
        s = cm.spectrum(w, cfg["input_size"], k=k, which=which, **kw)
        assert s.method == "fft" and s.residual < 1e-12
        _close(s.values, part)


def test_circulant_strides_recognises_exactly_the_structured_layers():
    g = lambda n, **kw: cm.ConvGeometry.from_weight_shape((1, 1, 3), n, padding_mode="circular", **kw)  # noqa: E731
    assert spectra.circulant_strides(g(8, padding=1)) == (1,)
    assert spectra.circulant_strides(g(8, padding=((0, 2),))) == (1,)  # asymmetric: a cyclic shift
    assert spectra.circulant_strides(g(8, padding="same")) == (1,)
    assert spectra.circulant_strides(g(8, padding=1, stride=2)) == (2,)
    assert spectra.circulant_strides(g(8, padding=0)) is None  # rows missing
    assert spectra.circulant_strides(g(8, padding=2)) is None  # rows repeated
    assert spectra.circulant_strides(g(9, padding=1, stride=2)) is None  # 2 does not divide 9, L = 5
    # stride 2 on n = 5 walks through every row of the circulant: L = 5 = n / gcd(5, 2)
    g5 = cm.ConvGeometry.from_weight_shape((1, 1, 1), 5, stride=2, padding=2, padding_mode="circular")
    assert spectra.circulant_strides(g5) == (1,)
    assert spectra.circulant_strides(cm.ConvGeometry.from_weight_shape((1, 1, 3), 8, padding=1)) is None


def test_fft_path_on_a_wrapping_dilated_kernel():
    """Taps that wrap past n meet on one pixel: summed, as in conv_matrix."""
    w = np.random.default_rng(0).standard_normal((2, 2, 3))
    kw = dict(padding=3, dilation=3, padding_mode="circular")  # span 6 > n = 4
    s = cm.spectrum(w, 4, **kw)
    assert s.method == "fft"
    _close(s.values, _dense_svd(w, 4, **kw))


def test_integer_weights_and_constant_kernel():
    w = np.ones((1, 1, 3, 3), dtype=np.int64)
    s = cm.singular_values(w, (6, 6), padding=1, padding_mode="circular")
    assert s[0] == pytest.approx(9.0, abs=1e-12)
    assert cm.spectral_norm(w, (6, 6), padding=1) == pytest.approx((1 + 2 * np.cos(np.pi / 7)) ** 2, rel=1e-12)


# --------------------------------------------------------------------------- the general routine
@pytest.mark.parametrize("shape", [(30, 12), (12, 30), (25, 25)])
@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_matrix_spectrum_sparse_forced_matches_dense(shape, which):
    rng = np.random.default_rng(sum(shape))
    A = sp.random_array(shape, density=0.3, random_state=rng, format="csr")
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    s = cm.matrix_spectrum(A, k=3, which=which, method="sparse")
    assert s.method == "sparse" and s.residual < 1e-10
    _close(s.values, ref[:3] if which == "largest" else ref[-3:], rtol=1e-8)


def test_matrix_spectrum_rank_deficient_and_wide():
    """A wide matrix has min(m, n) singular values, zeros included where the rank is smaller."""
    A = np.zeros((3, 8))
    A[0, 0], A[1, 1] = 2.0, 1.0
    assert np.array_equal(cm.matrix_spectrum(A).values, [2.0, 1.0, 0.0])
    B = sp.csr_array(np.kron(np.eye(10), np.array([[1.0, 1.0]])))  # 10 x 20, rank 10
    B = sp.vstack([B, sp.csr_array((2, 20))]).tocsr()  # 12 x 20, rank 10: two zero values
    s = cm.matrix_spectrum(B, k=3, which="smallest", method="sparse")
    np.testing.assert_allclose(s.values, [np.sqrt(2), 0, 0], atol=1e-6)


def test_matrix_spectrum_threshold_picks_sparse(monkeypatch):
    A = cm.conv_matrix(np.random.default_rng(0).standard_normal((2, 2, 3, 3)), (6, 6), padding=1)
    monkeypatch.setattr(spectra, "DENSE_MAX_ENTRIES", 10)
    s = cm.spectrum(np.random.default_rng(0).standard_normal((2, 2, 3, 3)), (6, 6), padding=1, k=2)
    assert s.method == "sparse"
    _close(s.values, np.linalg.svd(A.toarray(), compute_uv=False)[:2])


def test_matrix_spectrum_linear_operator():
    import scipy.sparse.linalg as spla

    rng = np.random.default_rng(3)
    M = rng.standard_normal((40, 25))
    op = spla.aslinearoperator(M)
    ref = np.linalg.svd(M, compute_uv=False)
    _close(cm.matrix_spectrum(op).values, ref)
    _close(cm.matrix_spectrum(op, k=2, method="sparse").values, ref[:2], rtol=1e-8)
    _close(cm.matrix_spectrum(op, k=2, which="smallest", method="sparse").values, ref[-2:], rtol=1e-6)


def test_zero_matrix_and_record():
    s = cm.matrix_spectrum(sp.csr_array((4, 3)))
    assert np.array_equal(s.values, np.zeros(3)) and s.residual == 0.0
    s = cm.spectrum(np.ones((2, 1, 3)), 5, padding=1)
    assert str(s).startswith("Spectrum of a 10 x 5 matrix by dense: 5 singular values, largest ")
    assert repr(s).startswith("Spectrum(values=[") and "method='dense'" in repr(s) and "shape=(10, 5)" in repr(s)
    with pytest.raises(AttributeError):
        s.method = "fft"


# --------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("case", [
    dict(w=(3, 2, 3, 3), n=(6, 5), padding=1),
    dict(w=(4, 1, 3), n=7, padding=((0, 4),), dilation=2, groups=2),
    dict(w=(2, 2, 2, 2, 2), n=(3, 4, 4), padding="same"),
])
def test_clip_spectral_norm(case):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(case["w"])
    kw = {k: v for k, v in case.items() if k not in ("w", "n")}
    s = cm.singular_values(w, case["n"], padding_mode="circular", **kw)
    c = float(np.quantile(s, 0.6))
    K = cm.clip_spectral_norm(w, case["n"], c, **kw)
    t = cm.singular_values(K, case["n"], padding="same", padding_mode="circular", groups=kw.get("groups", 1))
    assert t[0] <= c * (1 + 1e-12)
    np.testing.assert_allclose(t, np.minimum(s, c), atol=1e-12 * s[0])
    # nothing to clip: the very same operator as the layer
    K = cm.clip_spectral_norm(w, case["n"], 2 * s[0], **kw)
    A = cm.conv_matrix(w, case["n"], padding_mode="circular", **kw).toarray()
    B = cm.conv_matrix(K, case["n"], padding="same", padding_mode="circular", groups=kw.get("groups", 1)).toarray()
    np.testing.assert_allclose(B, A, atol=1e-12)
    # back on the kernel's support: the original taps when nothing was clipped
    np.testing.assert_allclose(cm.clip_spectral_norm(w, case["n"], 2 * s[0], support="kernel", **kw), w, atol=1e-12)


def test_clip_refuses_what_it_cannot_do_exactly():
    w = np.ones((1, 1, 3))
    with pytest.raises(ValueError, match="padding"):
        cm.clip_spectral_norm(w, 8, 1.0, padding=0)
    with pytest.raises(ValueError, match="padding_mode"):
        cm.clip_spectral_norm(w, 8, 1.0, padding_mode="zeros")
    with pytest.raises(ValueError, match="max_norm"):
        cm.clip_spectral_norm(w, 8, 0.0)


# --------------------------------------------------------------------------- bad input
def test_bad_input_names_the_parameter():
    w = np.ones((2, 1, 3))
    with pytest.raises(ValueError, match="k=7 must be at most"):
        cm.singular_values(w, 5, k=7)
    with pytest.raises(ValueError, match="which"):
        cm.singular_values(w, 5, which="middle")
    with pytest.raises(ValueError, match="tol"):
        cm.singular_values(w, 5, k=1, tol=0.0)
    with pytest.raises(TypeError, match="weight"):
        cm.singular_values(w + 1j, 5)
    with pytest.raises(TypeError, match="weight"):
        cm.singular_values(cm.symbolic_weight((1, 1, 2)), 5)
    with pytest.raises(ValueError, match="padding"):
        cm.singular_values(w, 3, padding=3, padding_mode="reflect")
    with pytest.raises(TypeError, match="A must"):
        cm.matrix_spectrum([[1.0]])
    with pytest.raises(ValueError, match="method"):
        cm.matrix_spectrum(np.eye(3), method="lanczos")


def test_no_convergence_is_a_named_refusal(monkeypatch):
    import scipy.sparse.linalg as spla

    def stuck(*args, **kwargs):
        raise spla.ArpackNoConvergence("no", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr(spla, "eigsh", stuck)
    with pytest.raises(ValueError, match="tol="):
        cm.matrix_spectrum(np.eye(40), k=1, method="sparse")


def test_all_values_of_a_large_matrix_are_refused_before_allocating():
    w = np.ones((8, 8, 3, 3))
    with pytest.raises(cm.MatrixTooLargeError, match="k="):
        cm.singular_values(w, (64, 64), padding=1, max_bytes=10**8)
    with pytest.raises(ValueError, match="k=None"):
        cm.matrix_spectrum(sp.eye_array(50, format="csr"), method="sparse")
    with pytest.raises(cm.MatrixTooLargeError):
        cm.singular_values(w, (10**4, 10**4), padding=1, padding_mode="circular", max_bytes=10**8)


# --------------------------------------------------------------------------- the sparse path: complete, zero, extreme
def _repeated_layer(draw):
    """A layer whose singular values repeat: all-ones, 1x1 or flip-symmetric kernels (1-3 spatial axes)."""
    ndim = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["ones", "1x1", "symmetric"]))
    cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ks = (1,) * ndim if kind == "1x1" else tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    n = tuple(draw(st.integers(max(2, k), 5)) for k in ks)
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    w = np.ones((cout, cin, *ks)) if kind == "ones" else rng.standard_normal((cout, cin, *ks))
    if kind == "symmetric":
        w = w + np.flip(w, axis=tuple(range(2, 2 + ndim)))
    kw = dict(padding=draw(st.integers(0, 1)), stride=draw(st.integers(1, 2)),
              padding_mode=draw(st.sampled_from(["zeros", "circular", "reflect", "replicate"])))
    return w, n, kw


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.data())
def test_sparse_path_keeps_repeated_values(data):
    """ARPACK alone skips copies of a repeated value (cx5/cx6); the deflation check must recover them."""
    import scipy.sparse.linalg as spla

    w, n, kw = _repeated_layer(data.draw)
    A = cm.conv_matrix(w, n, **kw)
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    if ref.size < 4:
        return
    k = data.draw(st.integers(1, ref.size - 2), label="k")
    for which in ("largest", "smallest"):
        want = ref[:k] if which == "largest" else ref[ref.size - k:]

        def close(got, squares=which == "largest"):
            # σ² from Lanczos on the Gram matrix is good to tol·σ_max² (so a zero among the largest,
            # or a small value of a LinearOperator, comes out near √tol·σ_max); a small value by
            # shift-invert to about √ε·σ_max (see matrix_spectrum)
            if squares:
                _close(got**2, want**2, rtol=1e-9)
            else:
                _close(got, want, rtol=1e-7)

        s = cm.matrix_spectrum(A, k=k, which=which, method="sparse")
        assert s.method == "sparse" and s.completeness == ("top" if (k, which) == (1, "largest") else "deflation")
        close(s.values)
        # products only: Lanczos without shift-invert, its check on c·I − G
        close(cm.matrix_spectrum(spla.aslinearoperator(A), k=k, which=which, method="sparse").values, True)
        with pytest.MonkeyPatch.context() as mp:  # the layer's own route above the threshold (its factors)
            mp.setattr(spectra, "DENSE_MAX_ENTRIES", 0)
            close(cm.singular_values(w, n, k=k, which=which, **kw))


def test_repeated_values_review_cases():
    """The reviewer's counterexamples: a 6-fold value lost at k=20, and forced sparse on small layer matrices."""
    w = np.ones((1, 1, 3, 3, 3))
    A = cm.conv_matrix(w, (7, 7, 7), padding=1)
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    s = cm.spectrum(w, (7, 7, 7), padding=1, k=20)
    assert s.method == "sparse" and s.completeness == "deflation" and "completeness by deflation" in str(s)
    _close(s.values, ref[:20])
    rng = np.random.default_rng(0)
    rng.standard_normal((3, 1, 1, 1, 1))
    w = rng.standard_normal((1, 1, 2, 1))
    A = cm.conv_matrix(w, (6, 5), padding=((2, 5), (3, 0)), dilation=(3, 3), padding_mode="circular")
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    _close(cm.matrix_spectrum(A, k=10, method="sparse").values, ref[:10])
    _close(cm.matrix_spectrum(A, k=4, which="smallest", method="sparse").values, ref[-4:], rtol=1e-7)
    w = np.random.default_rng(0).standard_normal((3, 1, 1, 1, 1))
    A = cm.conv_matrix(w, (4, 2, 3), stride=(4, 2, 3), padding=((0, 2), (2, 0), (0, 2)), groups=3,
                       padding_mode="circular")
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    for k in (3, 10, 22):
        s = cm.matrix_spectrum(A, k=k, which="smallest", method="sparse")
        _close(s.values, ref[-k:], rtol=1e-7)
        assert s.residual < 1e-10


def test_a_krylov_space_exhausted_by_repeated_values():
    """A 1x1 layer has two distinct values, 16 times each: Lanczos on products alone stalls
    (ARPACK: no convergence) and the pairs that converged are completed by deflation."""
    import scipy.sparse.linalg as spla

    w = np.random.default_rng(1).standard_normal((1, 2, 1, 1, 1))
    A = cm.conv_matrix(w, (2, 2, 4), padding=1)
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    for k in (3, 14, 20):
        for which in ("largest", "smallest"):
            s = cm.matrix_spectrum(spla.aslinearoperator(A), k=k, which=which, method="sparse")
            want = ref[:k] if which == "largest" else ref[-k:]
            _close(s.values**2, want**2, rtol=1e-9)
            assert s.completeness == "deflation"


def test_deflation_check_recovers_a_skipped_value(monkeypatch):
    """An eigensolver that returns genuine eigenpairs but skips one: the check finds it, the record says so."""
    import scipy.sparse.linalg as spla

    A = np.diag([5.0, 4.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    real = spla.eigsh
    calls = []

    def skipping(G, k=6, **kw):
        calls.append(k)
        if len(calls) == 1:  # the first solve: the pairs (25, e0), (16, e1), (9, e3): a copy of 16 skipped
            V = np.eye(8)[:, [0, 1, 3]]
            return np.array([25.0, 16.0, 9.0]), V
        return real(G, k=k, **kw)

    monkeypatch.setattr(spla, "eigsh", skipping)
    s = cm.matrix_spectrum(A, k=3, method="sparse")
    np.testing.assert_allclose(s.values, [5.0, 4.0, 4.0], rtol=1e-12)
    assert s.completeness == "deflation" and len(calls) >= 2


@pytest.mark.parametrize("which", ["largest", "smallest"])
@pytest.mark.parametrize("k", [1, 3])
def test_zero_operator_on_the_sparse_path(which, k):
    import scipy.sparse.linalg as spla

    for A in (sp.csr_array((40, 30)), np.zeros((30, 40)), spla.aslinearoperator(np.zeros((40, 30))),
              sp.csr_array((np.zeros(3), (np.arange(3), np.arange(3))), shape=(40, 30))):  # stored zeros
        s = cm.matrix_spectrum(A, k=k, which=which, method="sparse")
        assert np.array_equal(s.values, np.zeros(k)) and s.residual == 0.0
    w = np.zeros((1, 1, 3, 3))
    assert cm.spectral_norm(w, (33, 33), padding=1) == 0.0  # rows * cols > DENSE_MAX_ENTRIES: ARPACK's side
    s = cm.spectrum(w, (33, 33), padding=1, k=k, which=which)
    assert s.method == "sparse" and np.array_equal(s.values, np.zeros(k))
    assert cm.spectrum(w, (33, 33), padding=1, padding_mode="circular", k=k).method == "fft"


def test_rank_one_linear_operator_is_not_taken_for_zero():
    """A product that vanishes on most vectors is no proof of zero: a rank-one operator still has its value."""
    import scipy.sparse.linalg as spla

    u = np.zeros(30)
    u[0] = 1.0
    op = spla.aslinearoperator(np.outer(np.ones(40), u) * 3.0)
    s = cm.matrix_spectrum(op, k=2, method="sparse")
    np.testing.assert_allclose(s.values, [3.0 * np.sqrt(40), 0.0], atol=1e-8)


@pytest.mark.parametrize("c", [1e160, 1e-200, 1e-300])
@pytest.mark.parametrize("mode", ["zeros", "circular"])
def test_extreme_weights_are_scaled_exactly(c, mode):
    """Squares of 1e160 overflow and of 1e-200 underflow: every path scales by a power of two first."""
    import scipy.sparse.linalg as spla

    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((2, 2, 3, 3))
    A1 = cm.conv_matrix(w1, (5, 5), padding=1, padding_mode=mode)
    ref1 = np.linalg.svd(A1.toarray(), compute_uv=False)
    e = int(np.frexp(c)[1])
    w = np.ldexp(w1, e)  # exactly w1 * 2**e: the reference values scale exactly
    ref = np.ldexp(ref1, e)
    kw = dict(padding=1, padding_mode=mode)

    def close(got, want, rtol=1e-9):
        np.testing.assert_allclose(np.ldexp(got, -e), np.ldexp(want, -e), rtol=0, atol=rtol * np.ldexp(ref[0], -e))

    s = cm.spectrum(w, (5, 5), **kw)
    close(s.values, ref)
    assert s.residual < 1e-10
    assert cm.spectral_norm(w, (5, 5), **kw) == pytest.approx(ref[0], rel=1e-12)
    close(cm.singular_values(w, (5, 5), k=3, **kw), ref[:3])
    A = cm.conv_matrix(w, (5, 5), **kw)
    for M in (A, A.toarray(), spla.aslinearoperator(A)):
        close(cm.matrix_spectrum(M).values, ref)
        for which in ("largest", "smallest"):
            s = cm.matrix_spectrum(M, k=3, which=which, method="sparse")
            close(s.values, ref[:3] if which == "largest" else ref[-3:], 1e-9 if which == "largest" else 1e-7)
            assert s.residual < 1e-9
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(spectra, "DENSE_MAX_ENTRIES", 0)
        close(cm.singular_values(w, (5, 5), k=2, **kw), ref[:2])
        close(cm.singular_values(w, (5, 5), k=2, which="smallest", **kw), ref[-2:], 1e-7)
