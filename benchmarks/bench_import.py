"""Import time: ``import convmatrix`` loads nothing heavy; SymPy and scipy.sparse.linalg load when needed.

Run: python benchmarks/bench_import.py [--quick]

Each measurement is a fresh interpreter (``python -X importtime``), run several
times, median taken: ``import convmatrix`` (goal 4 of issue 13: at most 0.1 s),
and ``import convmatrix; convmatrix.conv_matrix`` (which loads numpy and
scipy.sparse), checked not to load SymPy, scipy.sparse.linalg, torch or matplotlib.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

try:
    from ._harness import _ROOT, Row, median, print_table
except ImportError:  # run as a script
    from _harness import _ROOT, Row, median, print_table

BENCH = "import"
HEAVY = ("sympy", "scipy.sparse.linalg", "torch", "matplotlib")


def _importtime(code: str) -> tuple[float, float, list[str]]:
    """Seconds to import convmatrix (its cumulative -X importtime entry), the whole snippet's, heavy modules loaded."""
    probe = (f"import sys, time; t = time.perf_counter(); {code}; t = time.perf_counter() - t; "
             f"print(t); print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True, text=True,
                         cwd=_ROOT, env=env, check=True)
    cumulative = 0
    for line in out.stderr.splitlines():
        fields = [f.strip() for f in line.removeprefix("import time:").split("|")]
        if len(fields) == 3 and fields[2] == "convmatrix":
            cumulative = int(fields[1])
    seconds, heavy = out.stdout.splitlines()
    return cumulative * 1e-6, float(seconds), [m for m in heavy.split(",") if m]


def run(quick: bool = False) -> list[Row]:
    repeat = 3 if quick else 7
    plain = [_importtime("import convmatrix") for _ in range(repeat)]
    first = [_importtime("import convmatrix; convmatrix.conv_matrix") for _ in range(repeat)]
    t_import = median(p[0] for p in plain)
    t_first = median(f[1] for f in first)
    clean = not any(p[2] for p in plain) and not any(f[2] for f in first)
    note = ", ".join(sorted({m for p in plain + first for m in p[2]})) or "no sympy, scipy.sparse.linalg, torch, matplotlib"
    return [
        Row(BENCH, "import convmatrix", "-X importtime cumulative", t_import, "target", 0.1, t_import / 0.1, "<= 0.1 s",
            t_import <= 0.1, clean, note=note),
        Row(BENCH, "import convmatrix; convmatrix.conv_matrix", "wall (numpy, scipy.sparse)", t_first, "", None, None,
            checked=clean, note=note),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_table(run(parser.parse_args().quick))
