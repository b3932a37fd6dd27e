"""Transposed convolution as a direct convolution; Dumoulin & Visin's arithmetic; checkerboard overlap.

Exact checks: integer kernels, sparse equality ``(A != B).nnz == 0``.  Oracles:
conv_transpose_matrix (itself the transpose of conv_matrix), torch's
conv_transpose, and the relationships and figures of Dumoulin & Visin, "A guide
to convolution arithmetic for deep learning" (2016), and of Odena, Dumoulin &
Olah, "Deconvolution and checkerboard artifacts" (Distill, 2016).
"""

from __future__ import annotations

import subprocess
import sys
from math import gcd, prod

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.testing import transpose_configs
from convmatrix import (
    TransposeArithmetic,
    avg_pool_matrix,
    conv_matrix,
    conv_transpose_matrix,
    has_uneven_overlap,
    overlap_counts,
    transpose_arithmetic,
    transposed_conv_as_direct,
    verify_transpose_equivalence,
)
from convmatrix import transposed as tr
from convmatrix.cli import main

from conftest import torch_conv_transpose


# --------------------------------------------------------------------------- strategies
def _split(config, seed):
    config = dict(config)
    ws = config.pop("weight_shape")
    n = config.pop("input_size")
    w = np.random.default_rng(seed).integers(-4, 5, ws)
    return w, n, config


# --------------------------------------------------------------------------- the equivalence
@settings(deadline=None, max_examples=120)
@given(transpose_configs(), st.integers(0, 2**16))
def test_chain_equals_conv_transpose_matrix_exactly(config, seed):
    w, n, kw = _split(config, seed)
    d = transposed_conv_as_direct(w, n, **kw)
    T = conv_transpose_matrix(w, n, **kw)
    assert d.matrix.dtype == T.dtype == w.dtype
    assert d.matrix.shape == T.shape
    assert (d.matrix != T).nnz == 0
    literal = d.C @ d.P @ d.Z
    assert (literal != d.matrix).nnz == 0
    assert d.matrix.has_canonical_format
    report = verify_transpose_equivalence(w, n, **kw)
    assert report.exact and bool(report) and report.max_abs_difference == 0
    assert report.literal_checked
    assert report.shape == T.shape and report.nnz_transposed == T.nnz == report.nnz_direct


@settings(deadline=None, max_examples=40)
@given(transpose_configs(max_size=4), st.integers(0, 2**16))
def test_direct_conv_of_stretched_padded_input_matches_torch(config, seed):
    """The chain, run by torch itself: F.pad(zero-inserted x) then F.conv with d.weight == F.conv_transpose."""
    w, n, kw = _split(config, seed)
    d = transposed_conv_as_direct(w, n, **kw)
    x = np.random.default_rng(seed + 1).integers(-4, 5, (w.shape[0], *n))
    stretched = (d.Z @ x.reshape(-1)).reshape(w.shape[0], *d.stretched_size)
    padded = (d.P @ stretched.reshape(-1)).reshape(w.shape[0], *d.padded_size)
    nd = len(n)
    y = getattr(F, f"conv{nd}d")(torch.tensor(padded, dtype=torch.float64)[None],
                                 torch.tensor(d.weight, dtype=torch.float64),
                                 dilation=kw["dilation"], groups=kw["groups"])[0].numpy()
    expected = torch_conv_transpose(x, w, stride=kw["stride"], padding=_sym(kw["padding"]),
                                    output_padding=kw["output_padding"], groups=kw["groups"],
                                    dilation=kw["dilation"]) if _is_sym(kw["padding"]) else None
    assert np.array_equal(y.reshape(-1), d.matrix @ x.reshape(-1))
    if expected is not None:
        assert np.array_equal(y, expected)


def _is_sym(pad):
    return all(lo == hi for lo, hi in pad)


def _sym(pad):
    return tuple(lo for lo, _ in pad)


@pytest.mark.parametrize(
    "ws, n, kw",
    [
        ((1, 1, 3), 4, dict(stride=1, output_padding=2, dilation=3)),           # output_padding >= stride
        ((2, 2, 2), 3, dict(stride=2, output_padding=2, dilation=3, padding=1)),  # output_padding >= stride, s > 1
        ((1, 1, 1), 1, dict(stride=1, padding=((2, 0),), output_padding=2, dilation=3)),  # crop deeper than the input
        ((1, 1, 2), 3, dict(stride=3, padding=((4, 3),))),                          # both sides cropped
        ((6, 1, 3, 3), (3, 4), dict(stride=(2, 3), padding=((0, 2), (3, 1)), groups=6)),  # depthwise
        ((4, 3, 2, 1, 3), (2, 3, 2), dict(stride=(1, 2, 3), padding=(1, 0, (0, 2)), groups=2,
                                          dilation=(2, 1, 2), output_padding=(1, 1, 2))),
    ],
)
def test_corners(ws, n, kw):
    w = np.arange(1, prod(ws) + 1).reshape(ws)
    d = transposed_conv_as_direct(w, n, **kw)
    T = conv_transpose_matrix(w, n, **kw)
    assert (d.matrix != T).nnz == 0
    assert (d.C @ d.P @ d.Z != T).nnz == 0
    assert verify_transpose_equivalence(w, n, **kw).exact


def test_cropping_pad_widths():
    w = np.ones((1, 1, 2), dtype=int)
    d = transposed_conv_as_direct(w, 3, stride=3, padding=((4, 3),))
    assert d.pad_widths == ((1 - 4, 1 - 3),)  # d(k-1) - p: negative, so P crops
    assert d.P.shape == (prod(d.padded_size), 7)


def test_direct_weight_is_flipped_and_channel_swapped():
    rng = np.random.default_rng(3)
    groups, cig, cog, k = 2, 3, 2, (2, 3)
    w = rng.integers(-9, 10, (groups * cig, cog, *k))
    d = transposed_conv_as_direct(w, (3, 3), groups=groups)
    assert d.weight.shape == (groups * cog, cig, *k)
    for g in range(groups):
        for o in range(cog):
            for c in range(cig):
                assert np.array_equal(d.weight[g * cog + o, c], w[g * cig + c, o, ::-1, ::-1])
    assert d.transposed_weight is not None and d.transposed_weight.shape == w.shape


def test_float_weights_are_exact_too():
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    report = verify_transpose_equivalence(w, (5, 4), stride=2, padding=1, output_padding=1)
    assert report.exact and report.max_abs_difference == 0.0
    assert transposed_conv_as_direct(w, (5, 4), stride=2).matrix.dtype == np.float32


def test_compare_reports_differences():
    w = np.arange(1, 10).reshape(1, 1, 9)
    T = conv_transpose_matrix(w, 4, stride=2)
    M = T.copy().tocsr()
    M.data[3] += 5
    assert tr._compare(M, T.tocsr()) == (False, 5.0)
    M2 = T.tocsr()[:, [1, 0, 2, 3]]
    exact, diff = tr._compare(sp_csr(M2), T)
    assert not exact and diff > 0
    assert tr._compare(T[:3], T) == (False, float("inf"))


def sp_csr(a):
    import scipy.sparse as sp

    return sp.csr_array(a)


def test_report_prints_well_and_flags_failure(monkeypatch):
    w = np.arange(8).reshape(2, 1, 2, 2)
    report = verify_transpose_equivalence(w, (3, 3), stride=2, padding=((0, 1), 0), groups=2)
    text = str(report)
    assert text.startswith("transposed conv == C @ P @ Z: EXACT")
    for piece in ("T ", "Z ", "P ", "C ", "C @ P @ Z", "zero insertion, stride (2, 2)", "pad ((1, 0), (1, 1))",
                  "weight (2, 1, 2, 2) (flipped, channels swapped)", "groups 2", "k' = (2, 2)", "s' = (1, 1)"):
        assert piece in text, piece
    # a broken lift is caught, with its difference
    real = tr._lift

    def broken(*args):
        m = real(*args)
        m.data = m.data.copy()
        m.data[0] += 1
        return m

    monkeypatch.setattr(tr, "_lift", broken)
    bad = verify_transpose_equivalence(w, (3, 3), stride=2, padding=((0, 1), 0), groups=2)
    assert not bad and bad.max_abs_difference == 1
    assert "NOT EQUAL" in str(bad)


def test_literal_switch():
    w = np.ones((1, 1, 3), dtype=int)
    assert not verify_transpose_equivalence(w, 3, literal=False).literal_checked
    assert verify_transpose_equivalence(w, 3, literal=True).literal_checked
    with pytest.raises(TypeError, match="literal"):
        verify_transpose_equivalence(w, 3, literal="yes")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(weight=np.ones((1, 1, 3)), input_size=3, stride=0), ValueError, "stride"),
        (dict(weight=np.ones((1, 1, 3)), input_size=3, stride=2, output_padding=2), ValueError, "output_padding"),
        (dict(weight=np.ones((1, 1, 3)), input_size=3, padding=5), ValueError, "transposed convolution output would be empty"),
        (dict(weight=np.ones((1, 1, 3)), input_size=3, padding="same"), ValueError, "padding='same'"),
        (dict(weight=np.ones((3, 1, 3)), input_size=3, groups=2), ValueError, "groups=2"),
        (dict(weight=np.ones((1, 3)), input_size=3), ValueError, "weight must have shape"),
        (dict(weight=np.ones((1, 1, 3)), input_size=(3, 3)), ValueError, "input_size"),
        (dict(weight=np.array([[["a"]]]), input_size=3), TypeError, "weight"),
        (dict(weight=np.ones((1, 1, 3)), input_size=3, dilation=(1, 1)), ValueError, "dilation"),
    ],
)
def test_bad_input_is_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        transposed_conv_as_direct(**kwargs)
    with pytest.raises(exc, match=match):
        verify_transpose_equivalence(**kwargs)


@pytest.mark.parametrize("shape, n, kw", [
    ((2, 1, 3), 3, dict(stride=2, padding=1)),
    ((1, 2, 2, 3), (2, 3), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0))),
    ((4, 1, 2, 2), (3, 3), dict(stride=2, groups=2, dilation=(1, 2))),
    ((1, 1, 3), 2, dict(stride=3, padding=((2, 3),))),  # a crop
])
def test_symbolic_chain_is_the_transposed_matrix(shape, n, kw):
    w = cm.symbolic_weight(shape)
    d = transposed_conv_as_direct(w, n, **kw)
    T = cm.conv_transpose_matrix(w, n, **kw)
    assert d.symbolic and isinstance(d.matrix, sympy.MatrixBase)
    assert d.matrix == T and d.literal_matrix() == T
    r = verify_transpose_equivalence(w, n, **kw)
    assert r.exact and r.literal_checked and r.nnz_direct == r.nnz_transposed == len(T.todok())
    # and the numbers follow: substitute an integer kernel
    ints = np.arange(1, np.prod(shape) + 1).reshape(shape)
    subs = dict(zip(w.reshape(-1), ints.reshape(-1)))
    assert np.array_equal(np.array(d.matrix.xreplace(subs).tolist(), dtype=np.int64),
                          cm.conv_transpose_matrix(ints, n, **kw).toarray())


def test_conv_is_guarded_by_size(monkeypatch):
    d = transposed_conv_as_direct(np.ones((2, 2, 3, 3)), (4, 4), stride=2, max_bytes=100)
    for name in ("C", "Z", "P", "matrix"):
        with pytest.raises(cm.MatrixTooLargeError, match="max_bytes=100"):
            getattr(d, name)
    with pytest.raises(cm.MatrixTooLargeError, match="max_bytes=100"):
        d.literal_matrix()
    with pytest.raises(cm.MatrixTooLargeError, match="max_bytes=100"):
        verify_transpose_equivalence(np.ones((2, 2, 3, 3)), (4, 4), stride=2, max_bytes=100)
    with pytest.raises(ValueError, match="max_bytes"):
        transposed_conv_as_direct(np.ones((2, 2, 3, 3)), (4, 4), max_bytes=-3)
    d = transposed_conv_as_direct(np.ones((2, 2, 3, 3)), (4, 4), stride=2)
    assert d.conv_nnz == d.C.nnz
    # the optional literal product is skipped, not refused, when C alone is over the limit
    r = verify_transpose_equivalence(np.ones((8, 8, 3, 3)), (16, 16), stride=2, padding=1, max_bytes=3_000_000)
    assert r.exact and not r.literal_checked
    with pytest.raises(cm.MatrixTooLargeError):
        verify_transpose_equivalence(np.ones((8, 8, 3, 3)), (16, 16), stride=2, padding=1, max_bytes=3_000_000,
                                     literal=True)
    monkeypatch.setenv("CONVMATRIX_MAX_BYTES", "100")
    with pytest.raises(cm.MatrixTooLargeError, match="CONVMATRIX_MAX_BYTES"):
        transposed_conv_as_direct(np.ones((2, 2, 3, 3)), (4, 4), stride=2).matrix


# --------------------------------------------------------------------------- Dumoulin & Visin
def _o(conv_input, k, s=1, p=0, d=1):
    """Output size of a 1-D convolution, read off its matrix (rows of a one-channel conv matrix)."""
    return conv_matrix(np.ones((1, 1, k), dtype=int), conv_input, stride=s, padding=p, dilation=d).shape[0]


SIZES = [(i, k) for i in range(1, 12) for k in range(1, 6) if k <= i]


def test_relationships_1_to_6_from_conv_matrices():
    for i, k in SIZES:
        assert _o(i, k) == (i - k) + 1                                              # 1
        for p in range(4):
            assert _o(i, k, p=p) == (i - k) + 2 * p + 1                             # 2
        if k % 2:
            assert _o(i, k, p=k // 2) == i                                          # 3 (half)
        assert _o(i, k, p=k - 1) == i + (k - 1)                                     # 4 (full)
        for s in range(1, 5):
            assert _o(i, k, s=s) == (i - k) // s + 1                                # 5
            for p in range(3):
                assert _o(i, k, s=s, p=p) == (i + 2 * p - k) // s + 1              # 6


def test_relationship_7_pooling_from_pool_matrices():
    for i, k in SIZES:
        for s in range(1, 4):
            rows = avg_pool_matrix(i, k, stride=s).shape[0]
            assert rows == (i - k) // s + 1


def _transpose_of_conv(i, k, s=1, p=0, d=1):
    """Arithmetic of the transpose of a 1-D convolution, and its chain checked against the conv matrix."""
    t = TransposeArithmetic.of_convolution(i, k, stride=s, padding=p, dilation=d)
    w = np.arange(1, k + 1).reshape(1, 1, k)
    chain = transposed_conv_as_direct(w, t.i_prime, stride=s, padding=p, output_padding=t.a, dilation=d)
    A = conv_matrix(w, i, stride=s, padding=p, dilation=d)
    assert (chain.matrix != A.T).nnz == 0  # it is the transpose of that very convolution
    # the chain's matrices carry the arithmetic
    assert chain.Z.shape == (t.i_tilde_prime[0], t.i_prime[0])
    assert chain.P.shape == (t.padded_size[0], t.i_tilde_prime[0])
    assert chain.C.shape == (t.o_prime[0], t.padded_size[0])
    assert chain.matrix.shape == (i, A.shape[0])
    assert t.o_prime == (i,) and t.i == (i,)
    assert t.k_prime == (k,) and t.s_prime == (1,) and t.d_prime == (d,)
    return t


def test_relationships_8_to_14_from_the_chain():
    seen = set()
    for i, k in SIZES:
        for s in range(1, 4):
            for p in range(0, k):
                if i + 2 * p < k:
                    continue
                t = _transpose_of_conv(i, k, s, p)
                (i_prime,), (a,), ((plo, phi),) = t.i_prime, t.a, t.p_prime
                assert plo == phi == k - p - 1                                       # p' = k - p - 1
                assert a == (i + 2 * p - k) % s                                      # 14: a
                assert t.pad_widths == ((k - p - 1, k - p - 1 + a),)                 # a zeros on the high side
                assert t.i_tilde_prime == (i_prime + (i_prime - 1) * (s - 1),)       # s - 1 zeros between units
                o = i                                                                # o' = the conv's input size
                rel = t.relationship[0]
                seen.add(rel)
                if s == 1 and p == 0:
                    assert rel == 8 and o == i_prime + (k - 1) and t.p_prime == ((k - 1, k - 1),)
                elif s == 1 and p == k - 1:
                    assert rel == 11 and o == i_prime - (k - 1) and t.p_prime == ((0, 0),)
                elif s == 1 and k % 2 and p == k // 2:
                    assert rel == 10 and o == i_prime and t.p_prime == ((p, p),)
                elif s == 1:
                    assert rel == 9 and o == i_prime + (k - 1) - 2 * p
                elif a == 0 and p == 0:
                    assert rel == 12 and o == s * (i_prime - 1) + k
                elif a == 0:
                    assert rel == 13 and o == s * (i_prime - 1) + k - 2 * p
                else:
                    assert rel == 14 and o == s * (i_prime - 1) + a + k - 2 * p
    assert seen == set(range(8, 15))


def test_relationship_15_dilation_from_matrices():
    for i, k in SIZES:
        for d in range(1, 4):
            for s in range(1, 3):
                for p in range(3):
                    if i + 2 * p < k + (k - 1) * (d - 1):
                        continue
                    assert _o(i, k, s, p, d) == (i + 2 * p - k - (k - 1) * (d - 1)) // s + 1
                    t = _transpose_of_conv(i, k, s, p, d)
                    assert t.k_hat == (k + (k - 1) * (d - 1),)
                    assert t.p_prime == ((t.k_hat[0] - p - 1,) * 2,)
                    # the relationship is read with k_hat: a dilated kernel is a larger one
                    assert t.relationship == _transpose_of_conv(i, t.k_hat[0], s, p).relationship


@pytest.mark.parametrize("k, d, p, rel", [
    (3, 2, 4, 11),  # k_hat = 5: p = k_hat - 1 is full padding (p = k - 1 = 2 would not be)
    (3, 2, 2, 10),  # k_hat = 5: p = 2 is half padding (for k = 3 it would be full)
    (2, 2, 1, 10),  # k_hat = 3: half padding, although k = 2 is even
    (3, 2, 1, 9),
])
def test_relationship_uses_the_dilated_kernel(k, d, p, rel):
    t = transpose_arithmetic(6, k, padding=p, dilation=d)
    assert t.relationship == (rel,)
    # and the matrices agree with what the relationship says: full padding -> o' = i' + k_hat - 1 - 2p
    assert t.o_prime == (6 + t.k_hat[0] - 1 - 2 * p,)


# The paper's figures: convolutions (chapter 2), their transposes (chapter 4), dilation (chapter 5).
CONV_FIGURES = [  # figure, i, k, s, p, d, o
    ("2.1", 4, 3, 1, 0, 1, 2), ("2.2", 5, 4, 1, 2, 1, 6), ("2.3", 5, 3, 1, 1, 1, 5),
    ("2.4", 5, 3, 1, 2, 1, 7), ("2.5", 5, 3, 2, 0, 1, 2), ("2.6", 5, 3, 2, 1, 1, 3),
    ("2.7", 6, 3, 2, 1, 1, 3), ("5.1", 7, 3, 1, 0, 2, 3),
]
TRANSPOSE_FIGURES = [  # figure, (i, k, s, p) of the conv, then i', ĩ', p', a, relationship
    ("4.1", (4, 3, 1, 0), 2, 2, 2, 0, 8), ("4.2", (5, 4, 1, 2), 6, 6, 1, 0, 9),
    ("4.3", (5, 3, 1, 1), 5, 5, 1, 0, 10), ("4.4", (5, 3, 1, 2), 7, 7, 0, 0, 11),
    ("4.5", (5, 3, 2, 0), 2, 3, 2, 0, 12), ("4.6", (5, 3, 2, 1), 3, 5, 1, 0, 13),
    ("4.7", (6, 3, 2, 1), 3, 5, 1, 1, 14),
]


@pytest.mark.parametrize("fig, i, k, s, p, d, o", CONV_FIGURES)
def test_paper_convolution_figures(fig, i, k, s, p, d, o):
    A = conv_matrix(np.ones((1, 1, k, k), dtype=int), (i, i), stride=s, padding=p, dilation=d)
    assert A.shape == (o * o, i * i)


@pytest.mark.parametrize("fig, conv, i_prime, i_tilde, p_prime, a, rel", TRANSPOSE_FIGURES)
def test_paper_transposed_figures(fig, conv, i_prime, i_tilde, p_prime, a, rel):
    i, k, s, p = conv
    t = TransposeArithmetic.of_convolution((i, i), k, stride=s, padding=p)
    assert t.i_prime == (i_prime,) * 2 and t.i_tilde_prime == (i_tilde,) * 2
    assert t.p_prime == ((p_prime, p_prime),) * 2 and t.a == (a,) * 2 and t.relationship == (rel, rel)
    assert t.k_prime == (k, k) and t.s_prime == (1, 1) and t.o_prime == (i, i)
    w = np.arange(1, k * k + 1).reshape(1, 1, k, k)
    chain = transposed_conv_as_direct(w, (i_prime, i_prime), stride=s, padding=p, output_padding=a)
    assert chain.Z.shape == (i_tilde ** 2, i_prime ** 2)
    assert chain.P.shape == ((i_tilde + 2 * p_prime + a) ** 2, i_tilde ** 2)
    assert (chain.matrix != conv_matrix(w, (i, i), stride=s, padding=p).T).nnz == 0
    assert chain.matrix.shape == (i * i, i_prime * i_prime)


def test_transpose_arithmetic_matches_geometry_and_prints():
    t = transpose_arithmetic((3, 4), (3, 2), stride=(2, 1), padding=((1, 0), (0, 2)), output_padding=(1, 0),
                             dilation=(1, 2))
    assert t.o_prime == cm.conv_transpose_output_size((3, 4), (3, 2), (2, 1), ((1, 0), (0, 2)), (1, 0), (1, 2))
    assert t.pad_widths == ((1, 3), (2, 0))
    text = str(t)
    assert "relationship" in text and "15 for the dilation" in text and "k_hat" in text
    assert "negative" not in text
    assert "negative = crop" in str(transpose_arithmetic(3, 2, stride=3, padding=((4, 3),)))
    with pytest.raises(ValueError, match="output_padding"):
        transpose_arithmetic(3, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        transpose_arithmetic(3, 0)
    with pytest.raises(ValueError, match="stride"):
        TransposeArithmetic.of_convolution(5, 3, stride=0)


# --------------------------------------------------------------------------- checkerboard overlap
def test_overlap_is_row_structure_of_the_matrix():
    for n, k, s, p, op, d in [(4, 3, 2, 0, 0, 1), ((3, 5), (3, 4), (2, 3), (1, 0), (1, 2), 1),
                              ((2, 3, 2), 2, (1, 2, 3), 0, 0, (2, 1, 1))]:
        c = overlap_counts(n, k, stride=s, padding=p, output_padding=op, dilation=d)
        ks = (k,) * c.ndim if isinstance(k, int) else k
        T = conv_transpose_matrix(np.ones((1, 1, *ks), dtype=int), n, stride=s, padding=p, output_padding=op,
                                  dilation=d)
        ones = np.ones(T.shape[1], dtype=int)
        assert np.array_equal(c.reshape(-1), T @ ones)


def test_overlap_2d_is_outer_product_of_1d():
    for k, s, n in [(3, 2, 4), (4, 2, 3), (5, 3, 3), ((3, 4), (2, 3), (3, 4))]:
        ks, ss, ns = (np.broadcast_to(v, 2) for v in (k, s, n))
        c2 = overlap_counts(tuple(ns), tuple(ks), stride=tuple(ss))
        c0 = overlap_counts(int(ns[0]), int(ks[0]), stride=int(ss[0]))
        c1 = overlap_counts(int(ns[1]), int(ks[1]), stride=int(ss[1]))
        assert np.array_equal(c2, np.multiply.outer(c0, c1))
    c3 = overlap_counts((3, 3, 3), 3, stride=2)
    c = overlap_counts(3, 3, stride=2)
    assert np.array_equal(c3, np.einsum("i,j,k->ijk", c, c, c))


def test_article_cases():
    # "Deconvolution and Checkerboard Artifacts": size 3, stride 2 overlaps unevenly (1, 2, 1, 2, ...),
    # in 2-D giving four levels of intensity; size 4 (divisible by 2) is even away from the border;
    # stride 1 never has the problem; size 5 with stride 2 overlaps 2 and 3 times.
    assert overlap_counts(4, 3, stride=2).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert set(overlap_counts((4, 4), 3, stride=2).ravel()) == {1, 2, 4}
    assert overlap_counts(4, 4, stride=2).tolist() == [1, 1, 2, 2, 2, 2, 2, 2, 1, 1]
    assert overlap_counts(5, 3, stride=1).tolist() == [1, 2, 3, 3, 3, 2, 1]
    assert overlap_counts(5, 5, stride=2)[4:-4].tolist() == [3, 2, 3, 2, 3]
    assert overlap_counts(4, 3, stride=3).tolist() == [1] * 12
    assert has_uneven_overlap(3, 2) and has_uneven_overlap(5, 2) and has_uneven_overlap((3, 3), 2)
    assert not has_uneven_overlap(4, 2) and not has_uneven_overlap(3, 3) and not has_uneven_overlap((4, 4), 2)


def test_uneven_exactly_when_kernel_not_divisible_by_stride():
    for k in range(1, 9):
        for s in range(1, 5):
            assert has_uneven_overlap(k, s) == (k % s != 0), (k, s)
            for d in range(1, 4):
                expected = s > 1 and (gcd(d, s) > 1 or k % s != 0)
                assert has_uneven_overlap(k, s, dilation=d) == expected, (k, s, d)
    assert has_uneven_overlap((4, 3), 2) and not has_uneven_overlap((4, 6), (2, 3))


def test_overlap_bad_input():
    with pytest.raises(ValueError, match="stride"):
        overlap_counts(4, 3, stride=0)
    with pytest.raises(ValueError, match="output_padding"):
        overlap_counts(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        has_uneven_overlap(0, 2)
    with pytest.raises(TypeError, match="stride"):
        has_uneven_overlap(3, "2")


# --------------------------------------------------------------------------- CLI
def _run(*args):
    return subprocess.run([sys.executable, "-m", "convmatrix", *args], capture_output=True, text=True)


def test_cli_verify_subprocess():
    r = _run("verify", "--kernel", "[1, 2, 3]", "--input-size", "3", "--stride", "2", "--padding", "1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for piece in ("Z (zero insertion)", "P (pad ((1, 1),))", "C (stride-1 conv, flipped kernel)", "C @ P @ Z",
                  "T = conv_transpose_matrix", "[[3 2 1 0 0 0 0]", "EXACT", "relationship 13", "ĩ' = s (i' - 1) + 1 = (5,)"):
        assert piece in out, piece
    r = _run("verify", "--random", "4,2,3,3", "--input-size", "4,5", "--stride", "2,1", "--padding", "((0,1),(2,0))",
             "--output-padding", "1,0", "--groups", "2")
    assert r.returncode == 0, r.stderr and "EXACT" in r.stdout


def test_cli_verify_in_process(capsys, monkeypatch):
    assert main(["verify", "--random", "2,2,3", "--input-size", "4", "--stride", "1", "--dilation", "3",
                 "--output-padding", "2"]) == 0
    out = capsys.readouterr().out
    assert "EXACT" in out and "d' = (3,)" in out
    # a large layer: C is not built unless asked, the grids are not printed
    monkeypatch.setattr(tr, "LITERAL_CHAIN_LIMIT", 10)
    assert main(["verify", "--random", "2,2,3,3", "--input-size", "5,5", "--stride", "2"]) == 0
    out = capsys.readouterr().out
    assert "not built; --literal builds it" in out and "C @ P @ Z" in out
    # exit status 1 exactly when the chain differs
    real = tr.row_pattern_runs

    def broken(*args):  # a chain whose taps are off: every entry reads the wrong kernel value
        row_indptr, row_cols, row_taps, starts = real(*args)
        return row_indptr, row_cols, row_taps[::-1].copy(), starts

    monkeypatch.setattr(tr, "row_pattern_runs", broken)
    assert main(["verify", "--kernel", "[1, 2]", "--input-size", "3", "--stride", "2"]) == 1
    assert "NOT EQUAL" in capsys.readouterr().out


def test_cli_verify_errors():
    r = _run("verify", "--kernel", "[1, 2, 3]", "--input-size", "3", "--stride", "2", "--output-padding", "2")
    assert r.returncode == 2 and "output_padding" in r.stderr and "Traceback" not in r.stderr



def test_cli_verify_symbolic(capsys):
    assert main(["verify", "--symbolic", "1,1,2", "--input-size", "3", "--stride", "2"]) == 0
    out = capsys.readouterr().out
    assert "C @ P @ Z: 6 x 3 SymPy matrix" in out and "w_{0,0,1}" in out and "EXACT" in out


def test_cli_overlap(capsys):
    r = _run("overlap", "--kernel-size", "3,3", "--stride", "2", "--input-size", "3,3")
    assert r.returncode == 0, r.stderr
    assert "[[1 1 2 1 2 1 1]" in r.stdout and "uneven (checkerboard)" in r.stdout
    assert main(["overlap", "--kernel-size", "4", "--stride", "2", "--input-size", "4", "--padding", "1"]) == 0
    out = capsys.readouterr().out
    assert "[1 2 2 2 2 2 2 1]" in out and "even (no checkerboard)" in out
    assert main(["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "3000"]) == 0
    assert "grid not printed" in capsys.readouterr().out
    assert main(["overlap", "--kernel-size", "3", "--stride", "0", "--input-size", "3"]) == 2


def test_tour_section(capsys):
    from convmatrix.cli.tour import SECTIONS
    from convmatrix.cli.transposed import section_equivalence

    assert "convmatrix.cli.transposed:section_equivalence" in SECTIONS
    text = section_equivalence()
    assert text.splitlines()[0].startswith("A transposed convolution is a direct convolution")
    assert "True" in text
    number = SECTIONS.index("convmatrix.cli.transposed:section_equivalence") + 1
    assert main(["tour", "--section", str(number)]) == 0
    assert "C @ P @ Z =" in capsys.readouterr().out


def test_streamed_comparison_agrees_with_the_built_matrix(rng):
    # verify compares the chain with T channel block by channel block; a built d.matrix gives the same verdict
    w = rng.integers(1, 5, size=(6, 4, 3, 3))
    for kw in (dict(stride=2, padding=1, output_padding=1, groups=2), dict(stride=3, dilation=2)):
        d = transposed_conv_as_direct(w, (5, 4), **kw)
        T = cm.conv_transpose_matrix(w, (5, 4), **kw)
        assert tr._streamed_equal(d, T, block_bytes=64) and (d.matrix != T).nnz == 0
        bad = T.copy()
        bad.data[-1] += 1
        assert not tr._streamed_equal(d, bad, block_bytes=64)
        moved = T.copy()
        moved.indices[0] += 1 if moved.indices[0] + 1 < moved.indices[1] else 0
        assert tr._streamed_equal(d, moved) == ((moved != T).nnz == 0)
