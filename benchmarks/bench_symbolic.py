"""Symbolic matrices: how long a SymPy matrix of a symbolic kernel takes, per stored entry.

Run: python benchmarks/bench_symbolic.py [--quick]

``conv_matrix(symbolic_weight((1, 1, 3, 3)), (n, n), padding=1)`` builds a
``sympy.ImmutableSparseMatrix``; against SymPy's own constructor from a dict
(``ImmutableSparseMatrix(rows, cols, {(r, c): v})``, how the package built it
before), checked to give the same matrix: same type, ``==``, arguments and hash.
Goal 3 of issue 13: at most 1 us per stored entry beyond 1e4 entries.
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
from convmatrix.structure import clear_cache, tap_map

BENCH = "symbolic"


def sympy_constructor(shape, data, indices, indptr):
    """The matrix as SymPy's constructor builds it from a dict of the nonzero entries."""
    import sympy

    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    entries = {(int(r), int(c)): v for r, c, v in zip(rows, indices, data) if v != 0}
    return sympy.ImmutableSparseMatrix(*shape, entries)


def same_sympy(A, B) -> bool:
    return type(A) is type(B) and A == B and A.args == B.args and hash(A) == hash(B)


def run(quick: bool = False) -> list[Row]:
    rows = []
    w = cm.symbolic_weight((1, 1, 3, 3))
    sizes = (32, 64) if quick else (32, 64, 128)
    for n in sizes:
        g = ConvGeometry.from_weight_shape(w.shape, (n, n), padding=1)
        tm = tap_map(g)
        parts = (tm.shape, tm.fill(w), tm.indices, tm.indptr)
        entries = int(np.count_nonzero(parts[1] != 0))
        A = cm.conv_matrix(w, (n, n), padding=1)
        fns = {"conv_matrix": lambda: (clear_cache(), cm.conv_matrix(w, (n, n), padding=1))}
        if n <= 64:  # SymPy's constructor takes ~30 us an entry: only the smaller sizes
            checked = same_sympy(A, sympy_constructor(*parts))
            fns["sympy constructor"] = lambda: sympy_constructor(*parts)
        else:
            checked = same_sympy(A, cm.conv_matrix(w, (n, n), padding=1)) and len(A.todok()) == entries
        t = interleaved(fns, 1 if quick else 3)
        per = t["conv_matrix"] / entries
        case = f"1x1x3x3 on {n}x{n} ({entries:,} entries)"
        rows.append(Row(BENCH, case, "us per entry", t["conv_matrix"], "target", None, per * 1e6, "<= 1", per <= 1e-6,
                        checked, unit=" us"))
        if "sympy constructor" in t:
            r = t["conv_matrix"] / t["sympy constructor"]
            rows.append(Row(BENCH, case, "vs SymPy's constructor", t["conv_matrix"], "sympy constructor",
                            t["sympy constructor"], r, checked=checked))
        clear_cache()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_table(run(parser.parse_args().quick))
