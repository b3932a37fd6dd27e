"""Benchmark: batchnorm_derivation with all its proofs, and the NumPy numerics.

Run: python benchmarks/bench_batchnorm.py            (the report)
     python benchmarks/bench_batchnorm.py --table    (the suite's rows; --quick for a smoke run)
Targets (issue 5): batch_size=8 with all checks < 2 s; general m < 5 s.
Issue 13, goal 5: batch_size=32 with every check <= 1 s, batch_size=64 <= 5 s.
Each figure is the best and the median of several runs in fresh state
(SymPy's cache cleared between runs, so nothing is reused across runs).
"""

from __future__ import annotations

import argparse
import statistics
import time

try:
    from ._harness import Row, print_table
except ImportError:  # run as a script
    from _harness import Row, print_table

import numpy as np
from sympy.core.cache import clear_cache

from convmatrix import batchnorm_backward, batchnorm_derivation, batchnorm_forward

BENCH = "batchnorm"


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


def _numerics_checked() -> bool:
    """batchnorm_forward/backward against the well-known NumPy reference, on (N, D) input."""
    from convmatrix.testing import reference_batchnorm_backward, reference_batchnorm_forward

    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((16, 5)), rng.standard_normal((16, 5))
    w, b = rng.standard_normal(5), rng.standard_normal(5)
    y, cache = batchnorm_forward(x, w, b, eps=1e-8)
    y_ref, cache_ref = reference_batchnorm_forward(x, w, b, eps=1e-8)[:2]
    dx, dw, db = batchnorm_backward(dy, cache)
    dx_ref, dw_ref, db_ref = reference_batchnorm_backward(dy, cache_ref)
    return all(np.allclose(a, r, rtol=1e-10, atol=1e-12) for a, r in ((y, y_ref), (dx, dx_ref), (dw, dw_ref), (db, db_ref)))


def run(quick: bool = False) -> list[Row]:
    """Goal 5 of issue 13 as rows: the derivation with every check, at batch sizes 32 and 64 (8, 16 when quick)."""
    rows = []
    cases = ((8, 2.0, 1), (16, None, 1)) if quick else ((8, 2.0, 3), (32, 1.0, 3), (64, 5.0, 1))
    for n, target, repeat in cases:
        try:
            _, med = timed(lambda: batchnorm_derivation(n), repeat)  # check=True: every step proved, or it raises
            checked = True
        except Exception:  # a step that does not prove is a wrong answer
            med, checked = None, False
        met = None if target is None or med is None else med <= target
        rows.append(Row(BENCH, f"batchnorm_derivation({n}), every check", "seconds", med, "target", target,
                        None if target is None or med is None else med / target,
                        "" if target is None else f"<= {target:g} s", met, checked))
    rows.append(Row(BENCH, "forward + backward (N, D)", "vs NumPy reference", checked=_numerics_checked()))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="the suite's rows")
    parser.add_argument("--quick", action="store_true", help="with --table: batch sizes 8 and 16 only")
    args = parser.parse_args()
    if args.table:
        print_table(run(args.quick))
    else:
        main()
