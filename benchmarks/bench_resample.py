"""Build times of the resampling matrices (python benchmarks/bench_resample.py).

Prints, for each case, the matrix summary and the best of 5 build times.
"""

from __future__ import annotations

import time

import convmatrix as cm
from convmatrix.export import summarize_matrix


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


CASES = [
    ("pad 1, zeros, 64 x 224 x 224", lambda: cm.pad_matrix((224, 224), 1, channels=64)),
    ("pad 3, reflect, 64 x 224 x 224", lambda: cm.pad_matrix((224, 224), 3, mode="reflect", channels=64)),
    ("crop (-1, 0), 512 x 17 x 17", lambda: cm.pad_matrix((17, 17), ((-1, 0), (-1, 0)), channels=512)),
    ("zero insertion s=2, 512 x 8 x 8 (DCGAN)", lambda: cm.zero_insertion_matrix((8, 8), 2, channels=512)),
    ("zero insertion s=2, 64 x 112 x 112", lambda: cm.zero_insertion_matrix((112, 112), 2, channels=64)),
    ("subsample s=2, 64 x 224 x 224", lambda: cm.subsample_matrix((224, 224), 2, channels=64)),
    ("upsample x2 nearest, 64 x 112 x 112", lambda: cm.upsample_matrix((112, 112), 2, channels=64)),
    ("avg_pool 3/2/1 ceil, 64 x 112 x 112", lambda: cm.avg_pool_matrix(
        (112, 112), 3, stride=2, padding=1, ceil_mode=True, channels=64)),
    ("avg_pool 2x2x2, 32 x 32^3", lambda: cm.avg_pool_matrix((32, 32, 32), 2, channels=32)),
]

if __name__ == "__main__":
    for name, fn in CASES:
        fn()  # warm the tap-map cache and imports
        t, A = best_of(fn)
        print(f"{name:42s} {t * 1e3:8.2f} ms   {summarize_matrix(A)}")
