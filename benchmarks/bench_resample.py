"""Build times of the resampling matrices, against the floor of their CSR arrays.

Run: python benchmarks/bench_resample.py            (the report: summary and median build time of each)
     python benchmarks/bench_resample.py --table    (the suite's rows; --quick for a smoke run)

Each matrix is checked against a direct computation on a random input (numpy's pad,
slicing, strided assignment, repeat; torch's avg_pool) before it is timed.
"""

from __future__ import annotations

import argparse

try:
    from ._harness import Row, csr_floor_fn, interleaved, print_table
except ImportError:  # run as a script
    from _harness import Row, csr_floor_fn, interleaved, print_table

import numpy as np

import convmatrix as cm

BENCH = "resample"


def _pad(x, width, mode="constant"):
    return np.pad(x, ((0, 0),) + ((width, width),) * (x.ndim - 1), mode=mode)


def _zero_insert(x, s):
    out = np.zeros((x.shape[0],) + tuple((n - 1) * s + 1 for n in x.shape[1:]))
    out[(slice(None),) + (slice(None, None, s),) * (x.ndim - 1)] = x
    return out


def _avg_pool(x, **kw):
    import torch
    import torch.nn.functional as F

    pool = {3: F.avg_pool2d, 4: F.avg_pool3d}[x.ndim]
    return pool(torch.as_tensor(x)[None], **kw)[0].numpy()


CASES = [
    ("pad 1, zeros, 64 x 224 x 224", (64, 224, 224), lambda: cm.pad_matrix((224, 224), 1, channels=64),
     lambda x: _pad(x, 1)),
    ("pad 3, reflect, 64 x 224 x 224", (64, 224, 224),
     lambda: cm.pad_matrix((224, 224), 3, mode="reflect", channels=64), lambda x: _pad(x, 3, "reflect")),
    ("crop (-1, 0), 512 x 17 x 17", (512, 17, 17),
     lambda: cm.pad_matrix((17, 17), ((-1, 0), (-1, 0)), channels=512), lambda x: x[:, 1:, 1:]),
    ("zero insertion s=2, 512 x 8 x 8 (DCGAN)", (512, 8, 8), lambda: cm.zero_insertion_matrix((8, 8), 2, channels=512),
     lambda x: _zero_insert(x, 2)),
    ("zero insertion s=2, 64 x 112 x 112", (64, 112, 112),
     lambda: cm.zero_insertion_matrix((112, 112), 2, channels=64), lambda x: _zero_insert(x, 2)),
    ("subsample s=2, 64 x 224 x 224", (64, 224, 224), lambda: cm.subsample_matrix((224, 224), 2, channels=64),
     lambda x: x[:, ::2, ::2]),
    ("upsample x2 nearest, 64 x 112 x 112", (64, 112, 112), lambda: cm.upsample_matrix((112, 112), 2, channels=64),
     lambda x: x.repeat(2, axis=1).repeat(2, axis=2)),
    ("avg_pool 3/2/1 ceil, 64 x 112 x 112", (64, 112, 112), lambda: cm.avg_pool_matrix(
        (112, 112), 3, stride=2, padding=1, ceil_mode=True, channels=64),
     lambda x: _avg_pool(x, kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool 2x2x2, 32 x 32^3", (32, 32, 32, 32), lambda: cm.avg_pool_matrix((32, 32, 32), 2, channels=32),
     lambda x: _avg_pool(x, kernel_size=2)),
]


def _checked(A, shape, reference) -> bool:
    x = np.random.default_rng(0).standard_normal(shape)
    return bool(np.allclose(A @ x.reshape(-1), reference(x).reshape(-1), rtol=1e-12, atol=1e-12))


def run(quick: bool = False) -> list[Row]:
    rows = []
    for name, shape, build, reference in CASES[:4] if quick else CASES:
        A = build()
        checked = _checked(A, shape, reference)
        floor = csr_floor_fn(A)
        t = interleaved({"build": build, "floor": floor}, 3 if quick else 7)
        rows.append(Row(BENCH, f"{name} ({A.nnz:.1e} nnz)", "build vs floor", t["build"], "floor", t["floor"],
                        t["build"] / t["floor"], checked=checked))
    return rows


def report() -> None:
    from convmatrix.export import summarize_matrix

    for name, shape, build, reference in CASES:
        A = build()  # warm the tap-map cache and imports
        t = interleaved({"build": build}, 5)["build"]
        print(f"{name:42s} {t * 1e3:8.2f} ms   {summarize_matrix(A)}   (checked: {_checked(A, shape, reference)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="the suite's rows")
    parser.add_argument("--quick", action="store_true", help="with --table: the first four cases")
    args = parser.parse_args()
    if args.table:
        print_table(run(args.quick))
    else:
        report()
