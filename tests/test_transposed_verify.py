"""verify_transpose_equivalence compares T with the chain in place: it must still catch every wrong T.

The chain's row pattern (folded by F in the modes other than zeros) is compared
with ``T``'s arrays piece by piece: by periodic runs of its taps, strided repeats
of the border ranges, and gathers elsewhere.  These tests prove that comparison
equal to comparing the built matrices, on random layers in every padding mode,
and that a single wrong value or index in ``T``, a wrong factor of the chain or
a wrong fold is reported.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix import transposed as tr

MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def layers(draw, modes=MODES, max_size=6):
    """A transposed convolution PyTorch's arithmetic accepts, in any padding mode (a dict)."""
    ndim = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    op = tuple(draw(st.integers(0, max(sa, da) - 1)) for sa, da in zip(s, d))
    p = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(ndim))
    n = tuple(draw(st.integers(1, max_size if ndim < 3 else 3)) for _ in range(ndim))
    cfg = dict(weight_shape=(groups * draw(st.integers(1, 3)), draw(st.integers(1, 2)), *k), input_size=n,
               stride=s, padding=p, output_padding=op, dilation=d, groups=groups,
               padding_mode=draw(st.sampled_from(modes)))
    try:
        cm.ConvTransposeGeometry.from_weight_shape(**cfg)
    except ValueError:
        assume(False)
    return cfg


def _kwargs(cfg):
    return {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}


def _weight(shape, seed, kind):
    """Nonzero integers (sums exact) or floats: the kernels the in-place comparison takes."""
    rng = np.random.default_rng(seed)
    if kind == "int":
        return rng.integers(1, 9, size=shape) * rng.choice([-1, 1], size=shape)
    return rng.standard_normal(shape)


@settings(max_examples=80, deadline=None)
@given(cfg=layers(), seed=st.integers(0, 2**16), kind=st.sampled_from(["int", "float"]),
       block=st.sampled_from([64, 4096, 8 << 20]))
def test_in_place_comparison_agrees_with_the_built_matrices(cfg, seed, kind, block):
    w = _weight(cfg["weight_shape"], seed, kind)
    n, kw = cfg["input_size"], _kwargs(cfg)
    d = cm.transposed_conv_as_direct(w, n, **kw)
    T = cm.conv_transpose_matrix(w, n, **kw)
    built = d.matrix.shape == T.shape and (d.matrix != T).nnz == 0
    assert built or kind == "float"  # integer sums are exact; float sums in the builder's order too, in practice
    # in place it says equal exactly when they are, or (False) where summed taps cancel: T stores no zero there
    uncancelled = d.out_channels * d.folded_pattern[1].size == T.nnz
    assert tr._streamed_equal(d, T, block_bytes=block) == (built and uncancelled)
    # (the literal product F @ C @ P @ Z sums floats in scipy's order: literal for integers only)
    report = cm.verify_transpose_equivalence(w, n, literal=kind == "int", **kw)
    assert report.exact == built
    # the chain's pattern, folded, is literally F @ (C P Z)'s: same rows, columns and sums
    if kind == "int":
        assert (sp.csr_array(d.F @ d.C @ d.P @ d.Z) != T).nnz == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=layers(), seed=st.integers(0, 2**16), where=st.floats(0, 1, exclude_max=True),
       what=st.sampled_from(["value", "index"]))
def test_one_wrong_entry_of_T_is_reported(monkeypatch, cfg, seed, where, what):
    w = _weight(cfg["weight_shape"], seed, "int")
    n, kw = cfg["input_size"], _kwargs(cfg)
    T = cm.conv_transpose_matrix(w, n, **kw)
    assume(T.nnz > 0)
    bad = T.copy()
    e = int(where * bad.nnz)
    if what == "value":
        bad.data[e] += 3
    else:  # a column no entry of its row holds (the row stays sorted only by luck: the check must not care)
        row = int(np.searchsorted(bad.indptr, e, side="right")) - 1
        held = set(bad.indices[bad.indptr[row]:bad.indptr[row + 1]].tolist())
        free = [c for c in range(bad.shape[1]) if c not in held]
        assume(free)
        bad.indices[e] = free[seed % len(free)]
    d = cm.transposed_conv_as_direct(w, n, **kw)
    assert not tr._streamed_equal(d, bad, block_bytes=256)
    monkeypatch.setattr(tr, "conv_transpose_matrix", lambda *a, **k: bad)
    report = cm.verify_transpose_equivalence(w, n, **kw)
    assert not report.exact and "NOT EQUAL" in str(report)
    if what == "value":
        assert report.max_abs_difference == 3


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=1, stride=2), dict(padding=1, padding_mode="reflect"),
                                dict(padding=(1, 2), stride=(2, 3), padding_mode="circular", groups=2),
                                dict(padding=2, dilation=2, padding_mode="replicate")])
def test_a_medium_layer_is_compared_by_runs_and_every_entry_counts(kw):
    """Runs, strided border ranges and gathers together cover T once; a change anywhere is caught."""
    w = _weight((4, 6 // kw.get("groups", 1), 3, 3), 5, "float")
    n = (17, 18)
    d = cm.transposed_conv_as_direct(w, n, **kw)
    T = cm.conv_transpose_matrix(w, n, **kw)
    assert tr._streamed_equal(d, T, block_bytes=4096)
    runs = d._runs
    assert any(count > 1 and step == width for _, width, count, step in runs)  # periodic runs exist
    covered = np.zeros(d.folded_pattern[1].size, dtype=int)
    for start, width, count, step in runs:
        for m in range(count):
            covered[start + m * step:start + m * step + width] += 1
    assert np.all(covered == 1)
    rng = np.random.default_rng(0)
    for e in rng.choice(T.nnz, size=40, replace=False):
        for array, delta in (("data", 0.5), ("indices", 1)):
            bad = T.copy()
            getattr(bad, array)[e] += delta
            assert not tr._streamed_equal(d, bad, block_bytes=4096), (array, e)


def test_a_wrong_factor_or_fold_is_reported(monkeypatch):
    w = _weight((3, 4, 3, 3), 1, "int")
    for kw in (dict(stride=2, padding=1), dict(padding=1, padding_mode="reflect")):
        assert cm.verify_transpose_equivalence(w, (9, 8), **kw).exact
    # a chain whose pattern reads one wrong tap
    real = tr.row_pattern_runs

    def wrong_tap(*args):
        indptr, cols, taps, starts = real(*args)
        taps = taps.copy()
        taps[len(taps) // 2] = (taps[len(taps) // 2] + 1) % (args[3] * args[5])
        return indptr, cols, taps, starts

    monkeypatch.setattr(tr, "row_pattern_runs", wrong_tap)
    for kw in (dict(stride=2, padding=1), dict(padding=1, padding_mode="reflect")):
        assert not cm.verify_transpose_equivalence(w, (9, 8), **kw).exact
    monkeypatch.setattr(tr, "row_pattern_runs", real)
    # a fold that mirrors where it should clamp
    real_map = tr.axis_index_map
    monkeypatch.setattr(tr, "axis_index_map", lambda p, n, mode: real_map(p, n, "reflect"))
    assert not cm.verify_transpose_equivalence(w, (9, 8), padding=1, padding_mode="replicate").exact


@pytest.mark.parametrize("threads", ["1", "2"])
def test_with_and_without_the_pattern_made_beside_the_build(monkeypatch, threads):
    monkeypatch.setenv("CONVMATRIX_THREADS", threads)
    w = _weight((4, 4, 3, 3), 2, "float")
    for kw in (dict(padding=1), dict(padding=1, padding_mode="circular")):
        assert cm.verify_transpose_equivalence(w, (12, 12), **kw).exact


def test_kernels_the_in_place_comparison_leaves_to_the_built_matrices():
    # zeros in the kernel, a NaN, an inf: the built matrices are compared (NaN != NaN, as numpy says)
    w = _weight((2, 2, 3, 3), 3, "float")
    for value, exact in ((0.0, True), (np.inf, True), (np.nan, False)):
        v = w.copy()
        v[0, 0, 1, 1] = value
        assert not tr._streamable_weight(v)
        assert cm.verify_transpose_equivalence(v, (6, 6), stride=2, padding=1).exact == exact
    # taps that cancel on a folded border: T stores no zero there, nor does the chain
    w = np.array([[[1, 5, -1]]])
    r = cm.verify_transpose_equivalence(w, 4, padding=1, padding_mode="reflect")
    assert r.exact and r.nnz_transposed < cm.transposed_conv_as_direct(w, 4, padding=1, padding_mode="reflect").nnz


@settings(max_examples=200)
@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=30), period=st.integers(1, 3),
       seed=st.integers(0, 2**16), summed=st.booleans())
def test_periodic_and_strided_runs_are_facts_about_the_pattern(lengths, period, seed, summed):
    """Whatever the pattern, the runs found cover it once and repeat exactly what they claim to."""
    rng = np.random.default_rng(seed)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    r = int(indptr[-1])
    runs_of = rng.integers(1, 3, size=r) if summed else np.ones(r, dtype=int)
    starts = np.concatenate(([0], np.cumsum(runs_of)[:-1])) if summed else None
    taps = rng.integers(0, 3, size=int(runs_of.sum()))  # few values: repeats happen
    periodic, leftover = tr.periodic_runs(indptr, taps, period, starts)
    runs = [(a, w, (b - a) // w, w) for a, b, w in periodic] + tr.strided_runs(leftover, taps, starts, r)
    at = np.append(starts, taps.size) if summed else np.arange(r + 1)
    covered = np.zeros(r, dtype=int)

    def entry(e):
        return tuple(taps[at[e]:at[e + 1]])

    for start, width, count, step in runs:
        for m in range(count):
            covered[start + m * step:start + m * step + width] += 1
            assert [entry(start + m * step + j) for j in range(width)] == [entry(start + j) for j in range(width)]
    assert np.all(covered == 1)
