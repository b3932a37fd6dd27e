"""Benchmark: batchnorm_derivation with all its proofs, and the NumPy numerics.

Run: python benchmarks/bench_batchnorm.py
Targets (issue 5): batch_size=8 with all checks < 2 s; general m < 5 s.
Each figure is the best and the median of several runs in fresh state
(SymPy's cache cleared between runs, so nothing is reused across runs).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sympy.core.cache import clear_cache

from convmatrix import batchnorm_backward, batchnorm_derivation, batchnorm_forward


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        clear_cache()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main() -> None:
    print("batchnorm_derivation(batch_size, check=True): build + prove every step")
    for n, target in ((1, None), (2, None), (4, None), (8, 2.0), (16, None), (None, 5.0)):
        best, med = timed(lambda: batchnorm_derivation(n), 5 if n != 16 else 2)
        label = "general m" if n is None else f"batch_size={n}"
        goal = f"  (target < {target:.0f} s: {'ok' if med < target else 'MISSED'})" if target else ""
        print(f"  {label:>14}: best {best:.3f} s, median {med:.3f} s{goal}")
    best, med = timed(lambda: batchnorm_derivation(8, check=False), 5)
    print(f"  batch_size=8 without the proofs: median {med:.3f} s")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 28, 28))
    dy = rng.standard_normal(x.shape)
    w, b = rng.standard_normal(64), rng.standard_normal(64)

    def step():
        _, cache = batchnorm_forward(x, w, b)
        batchnorm_backward(dy, cache)

    best, med = timed(step, 5)
    print(f"NumPy forward + backward, x {x.shape} float64: best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
