"""What every benchmark shares: interleaved rounds, medians, the floor, rows of the suite's table.

The convention (``python -m benchmarks`` runs every module by it): each
``benchmarks/bench_*.py`` defines ``run(quick: bool) -> list[Row]`` (a
``Row``, or a mapping with the same keys) and checks, before it times anything,
that each timed function's result equals the reference's, recording that in
``Row.checked`` so that no fast wrong answer can pass.  ``quick`` asks for a
smoke run of a few seconds.

Importing this module from a script (``python benchmarks/bench_x.py``) puts
the checkout it lives in first on ``sys.path``, so the script measures this
checkout's ``convmatrix`` (not whichever one is installed).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402

__all__ = ["Row", "Medians", "print_table", "interleaved", "median", "floor_csr", "csr_floor_fn", "peak_bytes", "same_csr", "ratio_row"]


@dataclass
class Row:
    """One line of the suite's table.

    ``seconds`` is the median of the timed function, ``reference_seconds`` the
    median of what it is compared with (``against``: the floor, a peer, a
    target in seconds), ``ratio`` their quotient (or any other figure, such as
    a memory ratio, with ``unit``), ``target`` the goal as text (``"<= 2"``)
    and ``met`` whether the figure meets it; ``checked`` is whether the result
    was proved equal to the reference.  ``cpu_ratio`` is the same quotient of
    median CPU times (see :class:`Medians`), where measured.
    """

    bench: str
    case: str
    measure: str
    seconds: float | None = None
    against: str = ""
    reference_seconds: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    checked: bool | None = None
    unit: str = "x"
    note: str = ""
    cpu_ratio: float | None = None


def median(xs) -> float:
    return float(statistics.median(xs))


class Medians(dict):
    """Median wall seconds per name (a dict), with the median CPU seconds of this process in ``.cpu``.

    On a shared machine a process is descheduled at random: wall time then
    counts other processes' work, CPU time does not (but misses what the
    hypervisor spends on fresh pages).  The table shows the wall ratio, and the
    CPU ratio beside it.
    """

    cpu: dict


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> Medians:
    """Median seconds of each function, timed side by side: every round runs each once, in a rotated order.

    On a shared, noisy machine the cost of fresh pages and of other processes
    drifts; interleaving puts every function through the same drift.
    """
    names = list(fns)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            out = fns[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            del out
    out = Medians({name: median(ts) for name, ts in wall.items()})
    out.cpu = {name: median(ts) for name, ts in cpu.items()}
    return out


def floor_csr(nnz: int, rows: int, data_dtype=np.float64, index_dtype=np.int32):
    """The floor no builder can beat: allocate the finished CSR's three arrays and write every entry once."""
    data = np.empty(nnz, dtype=data_dtype)
    data.fill(1)
    indices = np.empty(nnz, dtype=index_dtype)
    indices.fill(1)
    indptr = np.empty(rows + 1, dtype=index_dtype)
    indptr.fill(1)
    return data, indices, indptr


def csr_floor_fn(A) -> Callable[[], object]:
    """The floor of a built CSR array ``A``: its sizes and dtypes."""
    nnz, rows, dt, it = A.nnz, A.shape[0], A.data.dtype, A.indices.dtype
    return lambda: floor_csr(nnz, rows, dt, it)


def peak_bytes(fn: Callable[[], object]) -> tuple[int, object]:
    """Peak bytes traced (numpy's allocations included) while ``fn`` runs, and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, out


def same_csr(A, B) -> bool:
    """Exactly the same canonical CSR arrays (shape, pointer, indices, values)."""
    return (A.shape == B.shape and np.array_equal(A.indptr, B.indptr) and np.array_equal(A.indices, B.indices)
            and np.array_equal(A.data, B.data))


def ratio_row(bench: str, case: str, measure: str, t: dict, name: str, ref: str, *, target: float | None = None,
              checked: bool | None = None, note: str = "") -> Row:
    """A row of ``t[name] / t[ref]`` with its target (``<= target``)."""
    r = t[name] / t[ref]
    cpu = getattr(t, "cpu", None)
    cpu_ratio = cpu[name] / cpu[ref] if cpu and cpu.get(ref) else None
    return Row(bench, case, measure, t[name], ref, t[ref], r, "" if target is None else f"<= {target:g}",
               None if target is None else r <= target, checked, note=note, cpu_ratio=cpu_ratio)


def _fmt_seconds(x: float | None) -> str:
    if x is None:
        return ""
    if x >= 1:
        return f"{x:.3f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.2f} ms"
    return f"{x * 1e6:.1f} us"


def print_table(rows, file=None) -> None:
    """The rows as one aligned table: case, measure, median, reference, ratio, target, met, checked."""
    header = ("bench", "case", "measure", "median", "against", "ref median", "ratio", "(cpu)", "target", "met",
              "checked")
    lines = [header]
    for r in rows:
        r = r if isinstance(r, Row) else Row(**r)
        ratio = "" if r.ratio is None else f"{r.ratio:.3g}{r.unit}"
        met = "" if r.met is None else ("yes" if r.met else "NO")
        checked = "" if r.checked is None else ("equal" if r.checked else "DIFFERENT")
        case = r.case + (f" [{r.note}]" if r.note else "")
        cpu = "" if r.cpu_ratio is None else f"({r.cpu_ratio:.3g}x)"
        lines.append((r.bench, case, r.measure, _fmt_seconds(r.seconds), r.against, _fmt_seconds(r.reference_seconds),
                      ratio, cpu, r.target, met, checked))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for j, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip(), file=file)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=file)
