"""How fast is conv_matrix, against the floor no builder can beat and against other ways?

Run:  python benchmarks/bench_conv_matrix.py            (the 64->64 3x3 56x56 layer, ~113 M nonzeros)
      python benchmarks/bench_conv_matrix.py --small    (a quick look)

1. The big layer: building ``conv_matrix`` (cold: tap map built too; warm: tap map cached)
   against allocating and filling arrays of the finished CSR's size (data, indices, indptr) in
   the same process, and the peak traced memory (tracemalloc) against the matrix's own bytes.
2. A layer small enough for the slow ways: ``torch.autograd.functional.jacobian`` (dense) and a
   naive Python loop (``convmatrix.testing.naive_conv_matrix``), as ratios to ``conv_matrix``.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

import convmatrix as cm
from convmatrix.structure import clear_cache


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return min(times)


def floor(nnz, rows, data_dtype=np.float64, idx_dtype=np.int32):
    data = np.empty(nnz, dtype=data_dtype)
    data.fill(1.0)
    indices = np.empty(nnz, dtype=idx_dtype)
    indices.fill(1)
    indptr = np.empty(rows + 1, dtype=idx_dtype)
    indptr.fill(1)
    return data, indices, indptr


def big(c=64, n=56, k=3, repeat=7):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((c, c, k, k))
    kw = dict(padding=k // 2)
    A = cm.conv_matrix(w, (n, n), **kw)
    nnz, rows = A.nnz, A.shape[0]
    nbytes = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes
    del A

    def cold():
        clear_cache()
        return cm.conv_matrix(w, (n, n), **kw)

    def warm():
        return cm.conv_matrix(w, (n, n), **kw)

    # interleaved rounds: the cost of faulting in 1.3 GB of fresh pages drifts with the machine's
    # memory daemons, so floor, cold and warm are timed side by side, round after round
    times = {"floor": [], "cold": [], "warm": []}
    for _ in range(repeat):
        for name, fn in (("floor", lambda: floor(nnz, rows)), ("cold", cold), ("warm", warm)):
            gc.collect()
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            del out
    best = {name: min(ts) for name, ts in times.items()}
    median = {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}

    clear_cache()
    gc.collect()
    tracemalloc.start()
    A = cm.conv_matrix(w, (n, n), **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"layer: {c}->{c} channels, {k}x{k} kernel, {n}x{n} input, padding {k // 2}, float64")
    print(f"  matrix {A.shape[0]} x {A.shape[1]}, nnz {nnz:,}, {nbytes / 2**20:,.0f} MiB; {repeat} interleaved rounds")
    print(f"  floor (allocate + fill data/indices/indptr): best {best['floor']:.3f} s, median {median['floor']:.3f} s")
    for name, what in (("cold", "tap map built"), ("warm", "tap map cached")):
        print(f"  conv_matrix, {name} ({what}): best {best[name]:.3f} s = {best[name] / best['floor']:.2f} x floor, "
              f"median {median[name]:.3f} s = {median[name] / median['floor']:.2f} x floor")
    print(f"  peak traced memory (cold build): {peak / 2**20:,.0f} MiB = {peak / nbytes:.3f} x the matrix's bytes")
    return dict(best=best, median=median, peak_ratio=peak / nbytes)


def small(c=8, n=16, k=3, repeat=3):
    import torch

    from convmatrix.geometry import ConvGeometry
    from convmatrix.testing import naive_conv_matrix

    rng = np.random.default_rng(0)
    w = rng.standard_normal((c, c, k, k))
    kw = dict(padding=k // 2)
    t_cm = best_of(lambda: (clear_cache(), cm.conv_matrix(w, (n, n), **kw)), repeat)
    wt = torch.tensor(w)

    def jac():
        f = lambda x: torch.nn.functional.conv2d(x.reshape(1, c, n, n), wt, padding=k // 2).reshape(-1)
        return torch.autograd.functional.jacobian(f, torch.zeros(c * n * n, dtype=torch.float64))

    t_jac = best_of(jac, repeat)
    g = ConvGeometry.from_weight_shape(w.shape, (n, n), **kw)
    t_naive = best_of(lambda: naive_conv_matrix(w, g), 1)
    J = jac().numpy()
    assert np.allclose(J, cm.conv_matrix(w, (n, n), **kw).toarray())
    print(f"layer: {c}->{c} channels, {k}x{k} kernel, {n}x{n} input (cold builds)")
    print(f"  conv_matrix: {t_cm * 1e3:.2f} ms")
    print(f"  torch.autograd.functional.jacobian: {t_jac * 1e3:.1f} ms = {t_jac / t_cm:,.0f} x conv_matrix")
    print(f"  naive Python loop: {t_naive * 1e3:.0f} ms = {t_naive / t_cm:,.0f} x conv_matrix")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="only the small comparison")
    args = parser.parse_args()
    small()
    if not args.small:
        big()
