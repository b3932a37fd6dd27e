"""Benchmark: the exact local linear map of a piecewise-linear CNN (issue 12, item 2).

``from_torch(net, shape, x=x)`` — the network's Jacobian at ``x`` as a sparse
matrix — against ``torch.func.jacrev`` (dense), on the three networks of the
tests at benchmark size: a VGG-style block (3 x 32 x 32), a DCGAN generator
(latent 100 -> 3 x 32 x 32) and a U-Net-like encoder-decoder with max pooling,
unpooling and skip connections (3 x 32 x 32).

Time: interleaved rounds (ours, then torch's, per round) after one warm-up call
of each (torch's first ``jacrev`` imports functorch and creates its kernels; that
first call is reported apart); medians and the ratio of medians.

Peak memory, measured apart from the timing, once each:

* peak RSS above the RSS just before the call (Linux ``/proc/self/status``
  ``VmHWM``, reset first through ``/proc/self/clear_refs``, after glibc's
  ``malloc_trim`` has returned freed memory, so that memory reused from earlier
  calls counts again), for both — torch's
  CPU allocator keeps no peak statistics of its own (``torch.cuda``'s do not
  apply), and RSS counts what both really touch;
* for ours also ``tracemalloc``'s peak (numpy and scipy report their buffers to it).

Run from the checkout (so that it imports this checkout's ``convmatrix``):
``PYTHONPATH=. python benchmarks/bench_from_torch.py [--rounds 5] [--nets vgg,dcgan,unet] [--dtype float32]``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import time
import tracemalloc

import numpy as np
import torch

import convmatrix as cm
from convmatrix.testing import dcgan_generator, randomize_batchnorm, unet_like, vgg_block

NETWORKS = {
    "vgg": ("VGG block, 3 x 32 x 32 -> 32 x 8 x 8", lambda: vgg_block(3, 16), (3, 32, 32)),
    "dcgan": ("DCGAN generator, 100 x 1 x 1 -> 3 x 32 x 32", lambda: dcgan_generator(100, 32, 3, 32), (100, 1, 1)),
    "unet": ("U-Net-like, 3 x 32 x 32 -> 2 x 32 x 32", lambda: unet_like(3, 16), (3, 32, 32)),
}


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _trim() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so that reusing it shows in RSS again."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS may then under-count reused memory
        pass


def peak_rss(fn) -> tuple[int, object]:
    """Peak RSS during ``fn()`` above the RSS just before it (Linux; freed memory trimmed, the peak reset first)."""
    gc.collect()
    _trim()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    out = fn()
    return _status("VmHWM") - before, out


def peak_traced(fn) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    out = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, out


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def measure(name: str, rounds: int, dtype) -> dict:
    """Time and memory of ``from_torch`` against ``jacrev`` on one network; prints its paragraph."""
    title, make, shape = NETWORKS[name]
    torch.manual_seed(0)
    net = randomize_batchnorm(make()).to(dtype)
    x = torch.randn(shape, dtype=dtype)
    f = lambda v: net(v[None])[0]  # noqa: E731
    ours = lambda: cm.from_torch(net, shape, x=x)  # noqa: E731
    theirs = lambda: torch.func.jacrev(f)(x)  # noqa: E731

    first_theirs = timed(theirs)
    first_ours = timed(ours)
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        t_ours.append(timed(ours))
        t_theirs.append(timed(theirs))
    med_ours, med_theirs = float(np.median(t_ours)), float(np.median(t_theirs))

    rss_ours, J = peak_rss(ours)
    traced_ours, _ = peak_traced(ours)
    rss_theirs, jac = peak_rss(theirs)
    jac = jac.detach().reshape(J.shape).numpy()
    diff = float(np.abs(J.matrix.toarray() - jac).max())
    dense_bytes = jac.size * jac.itemsize

    print(f"{title}  ({dtype}, {rounds} interleaved rounds)")
    print(f"  Jacobian {J.shape[0]:,} x {J.shape[1]:,}: ours {J.nnz:,} stored entries "
          f"({J.nnz / (J.shape[0] * J.shape[1]):.1%} of dense), torch dense {mib(dense_bytes)}; "
          f"max |ours - jacrev| = {diff:.2g}")
    print(f"  time   from_torch: median {med_ours:.3f} s (min {min(t_ours):.3f})   "
          f"jacrev: median {med_theirs:.3f} s (min {min(t_theirs):.3f}; first call {first_theirs:.2f} s, "
          f"ours {first_ours:.2f} s)")
    print(f"  ratio  jacrev / from_torch = {med_theirs / med_ours:.1f}x (medians)")
    print(f"  memory from_torch: peak RSS +{mib(rss_ours)}, tracemalloc peak {mib(traced_ours)}   "
          f"jacrev: peak RSS +{mib(rss_theirs)}")
    print()
    return {"title": title, "ours": med_ours, "theirs": med_theirs, "diff": diff,
            "tol": 1e-3 if dtype == torch.float32 else 1e-9, "rss_ours": rss_ours, "rss_theirs": rss_theirs}


def run(quick: bool = False) -> list:
    """The suite's rows (``python -m benchmarks``): ``from_torch`` / ``jacrev`` per network, checked equal."""
    from ._harness import Row

    rows = []
    for name in (("vgg",) if quick else tuple(NETWORKS)):
        m = measure(name, 2 if quick else 5, torch.float64)
        checked = m["diff"] <= m["tol"]
        rows.append(Row("from_torch", m["title"], "from_torch vs jacrev", m["ours"], "torch.func.jacrev",
                        m["theirs"], m["ours"] / m["theirs"], target="< 1", met=m["ours"] < m["theirs"],
                        checked=checked, note=f"max |diff| {m['diff']:.1e}; peak RSS {mib(m['rss_ours'])} vs "
                                              f"{mib(m['rss_theirs'])}"))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nets", default="vgg,dcgan,unet")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("CONVMATRIX_THREADS", torch.get_num_threads())))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; convmatrix {cm.__version__}\n")
    for name in args.nets.split(","):
        measure(name, args.rounds, getattr(torch, args.dtype))


if __name__ == "__main__":
    main()
