"""Benchmark: Zeiler's R_2 and R_2^T as sparse matrices vs the same ISTA iteration with torch ops.

A 2-layer stack on a 64x64 image: 8 maps of 7x7 filters, 2x2x2 pooling (2 maps x 2x2), then 16
maps of 7x7 filters over the 4 pooled maps; "valid" borders (Zeiler's), so the maps are 70x70 and
41x41.  Reports the time to build R_2 and R_2^T, the operator norm, and one ISTA iteration
(gradient step with R_2^T (R_2 z - y), shrinkage) with the matrices and with torch ops
(conv_transpose2d + max_unpool3d for R_2, conv2d + gather for R_2^T) on the CPU, float64.

    python benchmarks/bench_zeiler.py [--repeat 20]
    python benchmarks/bench_zeiler.py --table [--quick]    (the suite's rows)

The suite's rows: one ISTA iteration with the sparse matrices against torch's ops (float64),
checked to give the same iterate (max |difference| below 1e-9).
"""

from __future__ import annotations

import argparse
import time

try:
    from ._harness import Row, interleaved, print_table
except ImportError:  # run as a script
    from _harness import Row, interleaved, print_table

import numpy as np

from convmatrix.pooling import MaxPool
from convmatrix.scenes import synthetic_scene
from convmatrix.sparse_coding import operator_norm, soft_threshold
from convmatrix.zeiler import ZeilerLayer, ZeilerStack


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--table", action="store_true", help="the suite's rows")
    ap.add_argument("--quick", action="store_true", help="with --table: few rounds")
    args = ap.parse_args(argv)
    if args.table:
        print_table(run(args.quick))
        return
    report(args.repeat)


def _setup():
    """The stack, its switches, R_2 and R_2^T, a code z0, and the same iteration with matrices and with torch."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((8, 1, 7, 7)) / 7
    f2 = rng.standard_normal((16, 4, 7, 7)) / 14
    stack = ZeilerStack([ZeilerLayer(f1, "valid", MaxPool(2, channel_pool=2)),
                         ZeilerLayer(f2, "valid", MaxPool(2, channel_pool=2))], (1, 64, 64))
    y = synthetic_scene(64)[None]
    sw = stack.switches([rng.standard_normal(stack.map_shapes[0])])
    R, Rt = stack.R(2, sw), stack.Rt(2, sw)
    norm = operator_norm(R, method="svds")

    lam = 1.0
    step = 1 / (lam * norm**2)
    z0 = soft_threshold(rng.standard_normal(R.shape[1]), 1.0)
    yv = y.reshape(-1)

    def it_sparse():
        r = R @ z0 - yv
        return soft_threshold(z0 - step * lam * (Rt @ r), step)

    idx = torch.as_tensor(sw[0].indices)
    tensors = {}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        tensors[name] = (torch.as_tensor(f1, dtype=dt), torch.as_tensor(f2, dtype=dt),
                         torch.as_tensor(z0, dtype=dt).reshape(1, *stack.map_shapes[1]),
                         torch.as_tensor(y, dtype=dt)[None])
    ft1, ft2, zt, yt = tensors["float64"]

    def R_torch(z):  # reads ft1, ft2 at call time (float64 or float32)
        p1 = F.conv_transpose2d(z, ft2, padding=6)  # (1, 4, 35, 35)
        z1 = F.max_unpool3d(p1[None], idx[None, None], (2, 2, 2), output_size=stack.map_shapes[0])[0]
        return F.conv_transpose2d(z1, ft1, padding=6)

    def Rt_torch(r):
        h = F.conv2d(r, ft1, padding=6)
        p1 = h.reshape(-1)[idx].reshape(1, *stack.pooled_shapes[0])
        return F.conv2d(p1, ft2, padding=6)

    def it_torch():
        with torch.no_grad():
            g = lam * Rt_torch(R_torch(zt) - yt)
            v = zt - step * g
            return torch.sign(v) * torch.clamp(v.abs() - step, min=0)

    def it_torch32():
        nonlocal ft1, ft2, zt, yt
        saved = ft1, ft2, zt, yt
        ft1, ft2, zt, yt = tensors["float32"]
        try:
            return it_torch()
        finally:
            ft1, ft2, zt, yt = saved

    return dict(torch=torch, stack=stack, sw=sw, R=R, Rt=Rt, norm=norm, it_sparse=it_sparse, it_torch=it_torch,
                it_torch32=it_torch32)


def report(repeat: int) -> None:
    s = _setup()
    torch, stack, sw = s["torch"], s["stack"], s["sw"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; maps {stack.map_shapes}, "
          f"pooled {stack.pooled_shapes}")
    t_R, _, R = best_of(lambda: stack.R(2, sw), 3)
    t_Rt, _, Rt = best_of(lambda: stack.Rt(2, sw), 3)
    print(f"build R_2   : {t_R:.3f} s  ({R.shape[0]} x {R.shape[1]}, {R.nnz:,} stored entries)")
    print(f"build R_2^T : {t_Rt:.3f} s  ({Rt.shape[0]} x {Rt.shape[1]}, {Rt.nnz:,} stored entries)")
    t_norm = time.perf_counter()
    norm = operator_norm(R, method="svds")
    t_norm = time.perf_counter() - t_norm
    print(f"||R_2|| by svds: {norm:.4f} in {t_norm:.3f} s")
    ts, tsm, a = best_of(s["it_sparse"], repeat)
    tt, ttm, b = best_of(s["it_torch"], repeat)
    err = float(np.max(np.abs(a - b.numpy().reshape(-1))))
    t32, t32m, _ = best_of(s["it_torch32"], repeat)
    print(f"one ISTA iteration, sparse R_2 / R_2^T (float64): best {ts * 1e3:.1f} ms, median {tsm * 1e3:.1f} ms")
    print(f"one ISTA iteration, torch ops (CPU, float64)    : best {tt * 1e3:.1f} ms, median {ttm * 1e3:.1f} ms")
    print(f"one ISTA iteration, torch ops (CPU, float32)    : best {t32 * 1e3:.1f} ms, median {t32m * 1e3:.1f} ms")
    print(f"ratio sparse/torch float64: {ts / tt:.2f}, float32: {ts / t32:.2f}; "
          f"max |difference| of the float64 iterates {err:.2e}")


def run(quick: bool = False) -> list[Row]:
    """One ISTA iteration with R_2 / R_2^T against torch's ops (float64 and float32), checked equal (float64)."""
    s = _setup()
    a, b = s["it_sparse"](), s["it_torch"]()
    err = float(np.max(np.abs(a - b.numpy().reshape(-1))))
    checked = err < 1e-9
    t = interleaved({"sparse": s["it_sparse"], "torch float64": s["it_torch"], "torch float32": s["it_torch32"]},
                    5 if quick else 21)
    case = f"Zeiler R_2, R_2^T on 64x64 ({s['R'].nnz:,} + {s['Rt'].nnz:,} nnz), one ISTA iteration"
    return [Row("zeiler", case, f"sparse vs {ref}", t["sparse"], ref, t[ref], t["sparse"] / t[ref], checked=checked,
                note=f"max |diff| {err:.1e}") for ref in ("torch float64", "torch float32")]


if __name__ == "__main__":
    main()
