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
    parser.add_argument("--repeat", type=int, default=7)
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

    # interleaved rounds: fresh-page costs drift on a shared machine, so the three are timed side by side
    fns = {
        "build": lambda: conv_transpose_matrix(w, (8, 8), **params),
        "direct": lambda: transposed_conv_as_direct(w, (8, 8), **params).matrix,
        "verify": lambda: verify_transpose_equivalence(w, (8, 8), **params),
    }
    times = {name: [] for name in fns}
    for _ in range(args.repeat):
        for name, fn in fns.items():
            t, out = best_of(1, fn)
            times[name].append(t)
            if name == "verify":
                report = out
            del out
    best = {name: min(ts) for name, ts in times.items()}
    median = {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}
    T = conv_transpose_matrix(w, (8, 8), **params)
    print(f"  conv_transpose_matrix:            best {best['build']:.3f} s, median {median['build']:.3f} s  "
          f"({T.shape[0]} x {T.shape[1]}, {T.nnz:,} stored entries)")
    del T
    print(f"  transposed_conv_as_direct.matrix: best {best['direct']:.3f} s, median {median['direct']:.3f} s")
    print(f"  verify_transpose_equivalence:     best {best['verify']:.3f} s, median {median['verify']:.3f} s "
          f"(exact: {report.exact})")
    ratio, ratio_median = best["verify"] / best["build"], median["verify"] / median["build"]
    print(f"  ratio verify / build:             best {ratio:.2f}, median {ratio_median:.2f}  "
          f"(target <= 3: {'met' if max(ratio, ratio_median) <= 3 else 'NOT met'}; {args.repeat} interleaved rounds)")
    print()
    print(report)


if __name__ == "__main__":
    main()
