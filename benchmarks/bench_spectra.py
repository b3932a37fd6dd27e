"""Benchmark: singular values and norms of convolution layers — the FFT, the sparse eigensolver, dense SVD.

Run: ``python benchmarks/bench_spectra.py [--quick]``  (the suite's rows, printed as a table)
     ``PYTHONPATH=. python -m benchmarks --only spectra``

* one layer where all three run (circular 8 -> 8 3 x 3 on 12 x 12, a 1152 x 1152 matrix): all
  singular values by the FFT, the norm by ARPACK on the matrix, all values by dense SVD;
  checked: the FFT's values equal dense SVD's, ARPACK's norm equals their largest;
* all 200,704 singular values of the circular 64 -> 64 3 x 3 layer on 56 x 56 by the FFT (target:
  seconds), by ``singular_values`` (values only) and by ``spectrum`` (with every block's singular
  vectors, for the residual); checked: both give the same values, there are ``min(m, n)`` of them and ``Σ σ² = ‖A‖_F² = 56² ‖w‖²`` (every row
  of the matrix holds one output channel's whole kernel);
* the exact norm of the zero-padded 64 -> 64 3 x 3 layer on 56 x 56 (the matrix would have
  112.9 M stored entries, 1.26 GiB) by Lanczos on the layer's factors (:func:`conv_operator`),
  with its peak memory beside the matrix's bytes; one product ``Aᵀ(A x)`` through the factors
  against the same with the built sparse matrix (checked equal).  Checked: the residual is
  below ``tol`` and the norm lies between the largest column norm and the norm of the circular
  layer on the 58 x 58 padded grid (the zero-padded matrix is a part of that one).
"""

from __future__ import annotations

import argparse
import time

try:
    from ._harness import Row, interleaved, peak_bytes, print_table, ratio_row
except ImportError:  # run as a script
    from _harness import Row, interleaved, peak_bytes, print_table, ratio_row

import numpy as np

import convmatrix as cm
from convmatrix import spectra

BENCH = "spectra"


def _weight(c: int, k: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((c, c, k, k)) / (3 * np.sqrt(c))


def three_ways_rows(c: int, n: int, rounds: int) -> list[Row]:
    w = _weight(c)
    kw = dict(padding=1, padding_mode="circular")
    A = cm.conv_matrix(w, (n, n), **kw)
    fns = {
        "fft (all)": lambda: cm.spectrum(w, (n, n), **kw),
        "sparse (norm)": lambda: cm.matrix_spectrum(A, k=1, method="sparse"),
        "dense (all)": lambda: cm.matrix_spectrum(A, method="dense"),
    }
    fft, arp, dense = (f() for f in fns.values())
    checked = (fft.method == "fft" and np.allclose(fft.values, dense.values, rtol=0, atol=1e-12 * dense.values[0])
               and abs(arp.values[0] - dense.values[0]) <= 1e-13 * dense.values[0])
    t = interleaved(fns, rounds)
    case = f"circular {c}->{c} 3x3 on {n}x{n} ({A.shape[0]} x {A.shape[1]})"
    return [ratio_row(BENCH, case, f"{name} vs dense (all)", t, name, "dense (all)", checked=checked)
            for name in ("fft (all)", "sparse (norm)")]


def fft_all_rows(c: int, n: int, rounds: int, target: float) -> list[Row]:
    w = _weight(c)
    kw = dict(padding=1, padding_mode="circular")
    s = cm.spectrum(w, (n, n), **kw)
    values = cm.singular_values(w, (n, n), **kw)
    frob = n * n * float(np.sum(w**2))
    checked = (s.method == "fft" and s.values.size == c * n * n and np.allclose(values, s.values, rtol=0, atol=1e-13 * s.values[0])
               and abs(float(np.sum(s.values**2)) - frob) <= 1e-12 * frob and s.residual < 1e-12)
    t = interleaved({"singular_values": lambda: cm.singular_values(w, (n, n), **kw),
                     "spectrum": lambda: cm.spectrum(w, (n, n), **kw)}, rounds)
    case = f"circular {c}->{c} 3x3 on {n}x{n}: all {s.values.size:,} singular values"
    return [Row(BENCH, case, f"fft: {name}", t[name], "target", target, t[name] / target, f"<= {target:g} s",
                t[name] <= target, checked, note=note)
            for name, note in (("singular_values", "values only"),
                               ("spectrum", f"with the vectors for the residual, {s.residual:.0e}"))]


def zero_padded_norm_rows(c: int, n: int, target: float, product_rounds: int) -> list[Row]:
    w = _weight(c)
    kw = dict(padding=1)
    g = cm.ConvGeometry.from_weight_shape(w.shape, (n, n), **kw)
    nnz, matrix_bytes = cm.estimate_size(g)
    t0 = time.perf_counter()
    peak, s = peak_bytes(lambda: cm.spectrum(w, (n, n), k=1, **kw))
    seconds = time.perf_counter() - t0
    norm = float(s.values[0])
    upper = cm.spectral_norm(w, (n + 2, n + 2), padding=1, padding_mode="circular")
    lower = float(np.sqrt(np.max(np.sum(w**2, axis=(0, 2, 3)))))  # an interior column's norm
    checked = s.method == "sparse" and s.residual <= spectra.DEFAULT_TOL and lower <= norm <= upper * (1 + 1e-12)
    case = f"zeros {c}->{c} 3x3 on {n}x{n} ({nnz / 1e6:.1f} M entries, {matrix_bytes / 2**30:.2f} GiB as CSR)"
    rows = [Row(BENCH, case, "exact norm (Lanczos on the factors)", seconds, "target", target, seconds / target,
                f"<= {target:g} s", seconds <= target, checked,
                note=f"norm {norm:.12f}, residual {s.residual:.0e}, circular bound {upper:.6f}")]
    rows.append(Row(BENCH, case, "peak memory of the norm vs the matrix's bytes", None, "", None,
                    peak / matrix_bytes, "", None, checked, unit="x", note=f"{peak / 2**20:.0f} MiB traced"))
    # one Gram product through the factors against the built matrix (whose build is timed too)
    op = cm.conv_operator(w, (n, n), **kw)
    t0 = time.perf_counter()
    A = cm.conv_matrix(w, (n, n), **kw)
    build = time.perf_counter() - t0
    x = np.random.default_rng(1).standard_normal(A.shape[1])
    same = bool(np.allclose(op.rmatvec(op.matvec(x)), A.T @ (A @ x), rtol=0, atol=1e-10))
    t = interleaved({"factors": lambda: op.rmatvec(op.matvec(x)), "matrix": lambda: A.T @ (A @ x)}, product_rounds)
    rows.append(ratio_row(BENCH, case, "one A^T A x: factors vs the sparse matrix", t, "factors", "matrix",
                          checked=same, note=f"the matrix itself took {build:.1f} s to build"))
    return rows


def run(quick: bool = False) -> list[Row]:
    """The three methods side by side, all values of a large circular layer, the norm of a large zero-padded one."""
    if quick:
        return (three_ways_rows(4, 8, 3) + fft_all_rows(16, 16, 3, 1.0)
                + zero_padded_norm_rows(16, 16, 10.0, 3))
    return (three_ways_rows(8, 12, 3) + fft_all_rows(64, 56, 3, 10.0)
            + zero_padded_norm_rows(64, 56, 60.0, 5))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    print_table(run(parser.parse_args().quick))
