"""Symbolic matrices: how long a SymPy matrix of a symbolic kernel takes, per stored entry.

Run: python benchmarks/bench_symbolic.py [--quick]

``conv_matrix(symbolic_weight(...), ...)`` (and ``conv_transpose_matrix``)
build a ``sympy.ImmutableSparseMatrix``.  Each case is timed cold (the tap-map
cache cleared) against

* SymPy's own constructor from a dict (``ImmutableSparseMatrix(rows, cols,
  {(r, c): v})``, how the package built it at first), where that takes under
  a few seconds, and checked to give the same matrix: same type, ``==``,
  arguments, hash, ``DomainMatrix`` and ``Dict`` contents;
* a probe of the machine's speed at making Python objects: two SymPy tuples per
  stored entry made by ``Basic.__new__`` (every entry of the matrix holds two,
  its key and its item), so that the per-entry figure can be read on a loaded
  machine too.

Goal 3 of issue 13: at most 1 us per stored entry beyond 1e4 entries.  The
per-entry figure is wall time; the CPU time is in the note.
"""

from __future__ import annotations

import argparse

try:
    from ._harness import Row, interleaved, print_table
except ImportError:  # run as a script
    from _harness import Row, interleaved, print_table

import numpy as np

import convmatrix as cm
from convmatrix.geometry import ConvGeometry
from convmatrix.structure import clear_cache, plain_tap_map

BENCH = "symbolic"


def sympy_constructor(shape, data, indices, indptr):
    """The matrix as SymPy's constructor builds it from a dict of the nonzero entries."""
    import sympy

    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    entries = {(int(r), int(c)): v for r, c, v in zip(rows, indices, data) if v != 0}
    return sympy.ImmutableSparseMatrix(*shape, entries)


def same_sympy(A, B) -> bool:
    """Same type, entries, arguments, hash, internal representation and ``Dict`` contents."""
    return (type(A) is type(B) and A == B and A.args == B.args and hash(A) == hash(B) and A._rep == B._rep
            and A._rep.domain == B._rep.domain and A.args[2]._dict == B.args[2]._dict
            and A.args[2].elements == B.args[2].elements)


def two_tuples_per_entry(n: int):
    """The probe: ``2 n`` SymPy tuples made by ``Basic.__new__`` (what each entry holds, made the plain way)."""
    import sympy
    from sympy.core.basic import Basic

    x, new, T = sympy.Symbol("x"), Basic.__new__, sympy.Tuple
    return [new(T, x, x) for _ in range(2 * n)]


def _cases(quick: bool):
    """(label, build, parts of the reference or None): parts are the matrix's CSR arrays of SymPy objects."""
    out = []
    w = cm.symbolic_weight((1, 1, 3, 3))
    for n in ((32, 64) if quick else (32, 64, 128)):
        out.append((f"1x1x3x3 on {n}x{n}", lambda n=n: cm.conv_matrix(w, (n, n), padding=1),
                    ConvGeometry.from_weight_shape(w.shape, (n, n), padding=1) if n <= 64 else None))
    if not quick:
        dw = cm.symbolic_weight((8, 1, 3, 3))
        out.append(("8ch depthwise 3x3 on 32x32", lambda: cm.conv_matrix(dw, (32, 32), padding=1, groups=8), None))
        out.append(("1x1x3x3 reflect, dilation 2, on 48x48 (summed taps)",
                    lambda: cm.conv_matrix(w, (48, 48), padding=2, dilation=2, padding_mode="reflect"),
                    ConvGeometry.from_weight_shape(w.shape, (48, 48), padding=2, dilation=2, padding_mode="reflect")))
        out.append(("conv_transpose 1x1x3x3 circular on 64x64",
                    lambda: cm.conv_transpose_matrix(w, (64, 64), padding=1, padding_mode="circular"), None))
    return w, out


def run(quick: bool = False) -> list[Row]:
    rows = []
    w, cases = _cases(quick)
    for label, build, geometry in cases:
        A = build()
        entries = len(A.args[2])
        if geometry is not None:  # SymPy's constructor, from the plain tap map's filling
            m = plain_tap_map(geometry)
            parts = (m.shape, m.fill(w), m.indices, m.indptr)
            checked = same_sympy(A, sympy_constructor(*parts))
        else:  # built twice alike, and entry for entry SymPy's constructor of its own entries
            import sympy

            dok = A.todok()
            checked = same_sympy(A, build()) and (entries > 40_000 or same_sympy(
                A, sympy.ImmutableSparseMatrix(A.rows, A.cols, {k: dok[k] for k in sorted(dok)})))
        fns = {"build": lambda: (clear_cache(), build()), "probe": lambda: two_tuples_per_entry(entries)}
        if geometry is not None and entries <= 25_000:  # SymPy's constructor takes ~30 us an entry
            fns["sympy constructor"] = lambda: sympy_constructor(*parts)
        t = interleaved(fns, 1 if quick else 5)
        per, cpu = t["build"] / entries, t.cpu["build"] / entries
        case = f"{label} ({entries:,} entries)"
        rows.append(Row(BENCH, case, "us per entry", t["build"], "target", None, per * 1e6, "<= 1", per <= 1e-6,
                        checked, unit=" us", note=f"cpu {cpu * 1e6:.2f} us"))
        rows.append(Row(BENCH, case, "vs 2 Tuples an entry", t["build"], "probe", t["probe"],
                        t["build"] / t["probe"], checked=checked, cpu_ratio=t.cpu["build"] / t.cpu["probe"]))
        if "sympy constructor" in t:
            rows.append(Row(BENCH, case, "vs SymPy's constructor", t["build"], "sympy constructor",
                            t["sympy constructor"], t["build"] / t["sympy constructor"], checked=checked,
                            cpu_ratio=t.cpu["build"] / t.cpu["sympy constructor"]))
        clear_cache()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_table(run(parser.parse_args().quick))
