"""Before/after: a cold ``conv_matrix`` of another git revision against this checkout's, in one process.

Run:  python benchmarks/ab_conv_matrix.py [--ref main] [--rounds 9] [--cases 0,1,2]

The revision's ``convmatrix`` package is exported (``git archive``) into a
temporary directory as ``convmatrix_ref`` (its imports are relative), so both
versions, the floor and the best numpy peer run interleaved in the same
process, each round in a rotated order; the table shows medians (wall, and CPU
beside), their ratios, and the median minor page faults per call: on a
virtual machine a fresh page costs microseconds, and which call gets fresh
pages depends on the heap's history, so a ratio that moves with the faults is
the allocator's, not the builder's.  Every result is checked equal to the
peer's before anything is timed.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tarfile
import tempfile

try:
    from ._harness import csr_floor_fn, interleaved, same_csr
    from .bench_conv_matrix import SIZES
    from .peers import gathered_csr
except ImportError:  # run as a script
    from _harness import csr_floor_fn, interleaved, same_csr
    from bench_conv_matrix import SIZES
    from peers import gathered_csr

import numpy as np

import convmatrix as cm
from convmatrix.geometry import ConvGeometry
from convmatrix.structure import clear_cache


def export(ref: str, into: str) -> None:
    """``ref``'s ``convmatrix`` package as ``into/convmatrix_ref``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = os.path.join(into, "ref.tar")
    subprocess.run(["git", "-C", root, "archive", "-o", archive, ref, "convmatrix"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    os.rename(os.path.join(into, "convmatrix"), os.path.join(into, "convmatrix_ref"))


def _counted(faults: dict, name: str, fn):
    def call():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        out = fn()
        faults.setdefault(name, []).append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return out
    return call


def compare(ref, cases, rounds: int) -> None:
    import convmatrix_ref.structure as ref_structure

    rng = np.random.default_rng(0)
    print(f"{'case':26s} {'nnz':>7s} | {'floor':>9s} {'ref':>9s} {'this':>9s} {'peer':>9s} | this/floor this/peer "
          f"this/ref | cpu: this/floor this/peer this/ref | page faults per call")
    for name, shape, n, kw in cases:
        w = rng.standard_normal(shape)
        g = ConvGeometry.from_weight_shape(shape, n, **kw)
        peer_args = (w, g.input_size, g.stride, g.padding, g.dilation, g.groups)

        def this(w=w, n=n, kw=kw):
            clear_cache()
            return cm.conv_matrix(w, n, **kw)

        def before(w=w, n=n, kw=kw):
            ref_structure.clear_cache()
            return ref.conv_matrix(w, n, **kw)

        A = this()
        assert same_csr(A, before()) and same_csr(A, gathered_csr(*peer_args)), name
        faults: dict = {}
        fns = {"floor": csr_floor_fn(A), "ref": before, "this": this, "peer": lambda a=peer_args: gathered_csr(*a)}
        fns = {k: _counted(faults, k, f) for k, f in fns.items()}
        nnz = A.nnz
        del A
        gc.collect()
        t = interleaved(fns, rounds * 4 if nnz < 10**6 else rounds if nnz < 10**7 else max(3, rounds // 2))
        c = t.cpu

        def ms(x):
            return f"{x * 1e3:8.3f}m"

        print(f"{name:26s} {nnz:7.1e} | {ms(t['floor'])} {ms(t['ref'])} {ms(t['this'])} {ms(t['peer'])} | "
              f"{t['this'] / t['floor']:10.2f} {t['this'] / t['peer']:9.2f} {t['this'] / t['ref']:8.2f} | "
              f"{c['this'] / c['floor']:15.2f} {c['this'] / c['peer']:9.2f} {c['this'] / c['ref']:8.2f} | "
              + " ".join(f"{k} {int(np.median(v))}" for k, v in faults.items()), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="the git revision to compare with (default main)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (4x for layers under 1e6 entries)")
    parser.add_argument("--cases", default="", help="comma-separated indices into bench_conv_matrix.SIZES")
    args = parser.parse_args(argv)
    cases = [SIZES[int(i)] for i in args.cases.split(",")] if args.cases else SIZES
    with tempfile.TemporaryDirectory() as tmp:
        export(args.ref, tmp)
        sys.path.insert(0, tmp)
        import convmatrix_ref

        print(f"ref {args.ref}: {convmatrix_ref.__file__}\nthis: {cm.__file__}")
        compare(convmatrix_ref, cases, args.rounds)


if __name__ == "__main__":
    main()
