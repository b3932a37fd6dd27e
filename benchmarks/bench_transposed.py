"""Benchmark: the transposed convolution, built and verified as a direct convolution.

Run: ``python benchmarks/bench_transposed.py [--repeat N] [--dtype float32]``  (the DCGAN report)
     ``python benchmarks/bench_transposed.py --table [--quick]``                (the suite's rows)

* DCGAN-size layer (512 -> 256 channels, 4 x 4 kernel, stride 2, padding 1, 8 x 8 -> 16 x 16):
  ``verify_transpose_equivalence`` against one ``conv_transpose_matrix`` build (issue 3 asked
  for at most 3x; issue 13, goal 6, for at most 1.5x);
* the 64 -> 64 3 x 3 layer over 56 x 56 (113 M entries): ``conv_transpose_matrix`` against the
  cold build of the convolution it transposes (goal 6: at most 1.1x), and the verification
  against one build.  Each result is checked: ``T`` equals ``A.T`` entry for entry, and the
  verification's report says exact.
"""

from __future__ import annotations

import argparse
import gc

try:
    from ._harness import Row, interleaved, print_table, ratio_row, same_csr
except ImportError:  # run as a script
    from _harness import Row, interleaved, print_table, ratio_row, same_csr

import numpy as np
import scipy.sparse as sp

from convmatrix import conv_matrix, conv_transpose_matrix
from convmatrix.structure import clear_cache
from convmatrix.transposed import transposed_conv_as_direct, verify_transpose_equivalence

BENCH = "transposed"
DCGAN = ((512, 256, 4, 4), (8, 8), dict(stride=2, padding=1))


def _weight(shape, dtype):
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def dcgan_rows(rounds: int, dtype="float32") -> list[Row]:
    shape, n, kw = DCGAN
    w = _weight(shape, dtype)
    report = verify_transpose_equivalence(w, n, **kw)
    fns = {"build": lambda: conv_transpose_matrix(w, n, **kw), "verify": lambda: verify_transpose_equivalence(w, n, **kw)}
    t = interleaved(fns, rounds)
    case = f"DCGAN 512->256 4x4 s2, 8x8 ({dtype})"
    return [ratio_row(BENCH, case, "verify vs one build", t, "verify", "build", target=1.5, checked=report.exact)]


def layer_rows(c: int, n: int, rounds: int) -> list[Row]:
    w = _weight((c, c, 3, 3), "float64")
    T = conv_transpose_matrix(w, (n, n), padding=1)  # transposes the conv of w over the transposed output (n, n)
    A = conv_matrix(w, (n, n), padding=1)
    checked = same_csr(T, sp.csr_array(A.T))
    del A
    report = verify_transpose_equivalence(w, (n, n), padding=1)
    nnz = T.nnz
    del T
    gc.collect()

    def conv_cold():
        clear_cache()
        return conv_matrix(w, (n, n), padding=1)

    def transpose_cold():
        clear_cache()
        return conv_transpose_matrix(w, (n, n), padding=1)

    t = interleaved({"conv": conv_cold, "transpose": transpose_cold,
                     "verify": lambda: verify_transpose_equivalence(w, (n, n), padding=1)}, rounds)
    case = f"{c}->{c} 3x3 on {n}x{n} ({nnz:.1e} nnz)"
    return [ratio_row(BENCH, case, "conv_transpose_matrix vs its conv", t, "transpose", "conv", target=1.1,
                      checked=checked),
            ratio_row(BENCH, case, "verify vs one conv build", t, "verify", "conv", target=1.5, checked=report.exact)]


def run(quick: bool = False) -> list[Row]:
    if quick:
        return dcgan_rows(3) + layer_rows(16, 28, 3)
    return dcgan_rows(7) + layer_rows(64, 56, 5)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dtype", default="float32", help="weight dtype (float32, float64, int64, ...)")
    parser.add_argument("--table", action="store_true", help="the suite's rows instead of the DCGAN report")
    parser.add_argument("--quick", action="store_true", help="with --table: small sizes")
    args = parser.parse_args(argv)
    if args.table:
        print_table(run(args.quick))
        return

    shape, n, kw = DCGAN
    w = _weight(shape, args.dtype)
    print(f"DCGAN layer: weight {shape} {w.dtype}, input 8 x 8 -> 16 x 16, stride 2, padding 1")
    fns = {
        "build": lambda: conv_transpose_matrix(w, n, **kw),
        "direct": lambda: transposed_conv_as_direct(w, n, **kw).matrix,
        "verify": lambda: verify_transpose_equivalence(w, n, **kw),
    }
    median = interleaved(fns, args.repeat)
    report = verify_transpose_equivalence(w, n, **kw)
    T = conv_transpose_matrix(w, n, **kw)
    print(f"  conv_transpose_matrix:            median {median['build']:.3f} s  "
          f"({T.shape[0]} x {T.shape[1]}, {T.nnz:,} stored entries)")
    del T
    print(f"  transposed_conv_as_direct.matrix: median {median['direct']:.3f} s")
    print(f"  verify_transpose_equivalence:     median {median['verify']:.3f} s (exact: {report.exact})")
    ratio = median["verify"] / median["build"]
    print(f"  ratio verify / build:             median {ratio:.2f}  (issue 3: <= 3 {'met' if ratio <= 3 else 'NOT met'}; "
          f"issue 13: <= 1.5 {'met' if ratio <= 1.5 else 'NOT met'}; {args.repeat} interleaved rounds)")
    print()
    print(report)


if __name__ == "__main__":
    main()
