"""Benchmark: verifying a transposed convolution as a direct convolution (issue 3, item 7).

The target: for a DCGAN-size layer (512 -> 256 channels, 4 x 4 kernel, stride 2,
padding 1, 8 x 8 -> 16 x 16), ``verify_transpose_equivalence`` takes at most 3x
the time of building ``conv_transpose_matrix`` once.

Run: ``python benchmarks/bench_transposed.py [--repeat N] [--dtype float32]``.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from convmatrix import conv_transpose_matrix
from convmatrix.transposed import transposed_conv_as_direct, verify_transpose_equivalence


def best_of(repeat, fn):
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtype", default="float32", help="weight dtype (float32, float64, int64, ...)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    shape = (512, 256, 4, 4)  # ConvTranspose2d(512, 256, 4, stride=2, padding=1): torch layout (C_in, C_out, kH, kW)
    if np.dtype(args.dtype).kind in "iu":
        w = rng.integers(-3, 4, size=shape).astype(args.dtype)
    else:
        w = rng.standard_normal(shape).astype(args.dtype)
    params = dict(stride=2, padding=1)
    print(f"DCGAN layer: weight {shape} {w.dtype}, input 8 x 8 -> 16 x 16, stride 2, padding 1")

    t_build, T = best_of(args.repeat, lambda: conv_transpose_matrix(w, (8, 8), **params))
    print(f"  conv_transpose_matrix:            {t_build:7.3f} s  ({T.shape[0]} x {T.shape[1]}, {T.nnz:,} stored entries)")
    del T
    t_direct, _ = best_of(args.repeat, lambda: transposed_conv_as_direct(w, (8, 8), **params).matrix)
    print(f"  transposed_conv_as_direct.matrix: {t_direct:7.3f} s")
    t_verify, report = best_of(args.repeat, lambda: verify_transpose_equivalence(w, (8, 8), **params))
    print(f"  verify_transpose_equivalence:     {t_verify:7.3f} s  (exact: {report.exact})")
    ratio = t_verify / t_build
    print(f"  ratio verify / build:             {ratio:7.2f}  (target <= 3: {'met' if ratio <= 3 else 'NOT met'})")
    print()
    print(report)


if __name__ == "__main__":
    main()
