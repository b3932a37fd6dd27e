"""Benchmark: batchnorm_derivation with all its proofs, and the NumPy numerics.

Run: python benchmarks/bench_batchnorm.py            (the report)
     python benchmarks/bench_batchnorm.py --table    (the suite's rows; --quick for a smoke run)
     python benchmarks/bench_batchnorm.py --against /tmp/old [--sizes 8,16,32,64] [--rounds 5]
         (this checkout against another one, e.g. ``git archive main | tar -x -C /tmp/old``: each
         derivation in a fresh process, the two checkouts interleaved round by round, medians;
         the two results must be the same derivation)
Targets (issue 5): batch_size=8 with all checks < 2 s; general m < 5 s.
Issue 13, goal 5: batch_size=32 with every check <= 1 s, batch_size=64 <= 5 s.
Each figure is the median of several runs in fresh state (SymPy's cache cleared between runs, so
nothing is reused across runs); every derivation timed is checked (every step proved, or it raises)
and its gradients and forward values are compared with the NumPy reference
(:func:`convmatrix.testing.reference_batchnorm_backward`) at a random point.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

try:
    from ._harness import Row, print_table
except ImportError:  # run as a script
    from _harness import Row, print_table

import numpy as np
from sympy.core.cache import clear_cache

from convmatrix import batchnorm_backward, batchnorm_derivation, batchnorm_forward

BENCH = "batchnorm"
#: Issue 13, goal 5: batch size -> seconds, with every check.
TARGETS = {32: 1.0, 64: 5.0}


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        clear_cache()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def equals_reference(d, seed: int = 0) -> bool:
    """The derivation is checked, and its explicit gradients and outputs equal the NumPy reference at a random point."""
    from convmatrix.testing import reference_batchnorm_backward, reference_batchnorm_forward

    n = d.batch_size
    if not d.checked or n is None:
        return False
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal(n), rng.standard_normal(n)
    gamma, beta, eps = 1.3, -0.4, 1e-3
    s = d.symbols
    values = dict(zip(s["x"], map(float, x))) | dict(zip(s["dout"], map(float, dy)))
    values |= {s["gamma"]: gamma, s["beta"]: beta, s["eps"]: eps}
    memo: dict = {}
    dx = [_evaluate(e, values, memo) for e in d.gradients["x"]]
    y = [_evaluate(e, values, memo) for e in d.forward["y"]]
    dgamma, dbeta = (_evaluate(d.gradients[k], values, memo) for k in ("gamma", "beta"))
    y_ref, cache = reference_batchnorm_forward(x.reshape(-1, 1), np.array([gamma]), np.array([beta]), eps=eps)[:2]
    dx_ref, dgamma_ref, dbeta_ref = reference_batchnorm_backward(dy.reshape(-1, 1), cache)
    pairs = ((dx, dx_ref.ravel()), (y, y_ref.ravel()), ([dgamma], dgamma_ref), ([dbeta], dbeta_ref))
    return all(np.allclose(np.asarray(a, float), np.asarray(r, float), rtol=1e-9, atol=1e-12) for a, r in pairs)


def _evaluate(e, values: dict, memo: dict) -> float:
    """The float value of a SymPy expression made of sums, products, powers and numbers, shared parts once."""
    hit = memo.get(e)
    if hit is not None:
        return hit
    if e in values:
        out = values[e]
    elif e.is_Number:
        out = float(e)
    elif e.is_Add:
        out = sum(_evaluate(a, values, memo) for a in e.args)
    elif e.is_Mul:
        out = 1.0
        for a in e.args:
            out *= _evaluate(a, values, memo)
    elif e.is_Pow:
        out = _evaluate(e.base, values, memo) ** _evaluate(e.exp, values, memo)
    else:
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")
    memo[e] = out
    return out


def main() -> None:
    print("batchnorm_derivation(batch_size, check=True): build + prove every step")
    for n, target in ((1, None), (2, None), (4, None), (8, 2.0), (16, None), (32, 1.0), (64, 5.0), (None, 5.0)):
        best, med = timed(lambda: batchnorm_derivation(n), 5 if n is None or n <= 32 else 3)
        label = "general m" if n is None else f"batch_size={n}"
        goal = f"  (target <= {target:g} s: {'ok' if med <= target else 'MISSED'})" if target else ""
        print(f"  {label:>14}: best {best:.3f} s, median {med:.3f} s{goal}")
    best, med = timed(lambda: batchnorm_derivation(8, check=False), 5)
    print(f"  batch_size=8 without the proofs: median {med:.3f} s")
    print(f"  batch_size=32 equal to the NumPy reference: {equals_reference(batchnorm_derivation(32))}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 28, 28))
    dy = rng.standard_normal(x.shape)
    w, b = rng.standard_normal(64), rng.standard_normal(64)

    def step():
        _, cache = batchnorm_forward(x, w, b)
        batchnorm_backward(dy, cache)

    best, med = timed(step, 5)
    print(f"NumPy forward + backward, x {x.shape} float64: best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms")


def _numerics_checked() -> bool:
    """batchnorm_forward/backward against the well-known NumPy reference, on (N, D) input."""
    from convmatrix.testing import reference_batchnorm_backward, reference_batchnorm_forward

    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((16, 5)), rng.standard_normal((16, 5))
    w, b = rng.standard_normal(5), rng.standard_normal(5)
    y, cache = batchnorm_forward(x, w, b, eps=1e-8)
    y_ref, cache_ref = reference_batchnorm_forward(x, w, b, eps=1e-8)[:2]
    dx, dw, db = batchnorm_backward(dy, cache)
    dx_ref, dw_ref, db_ref = reference_batchnorm_backward(dy, cache_ref)
    return all(np.allclose(a, r, rtol=1e-10, atol=1e-12) for a, r in ((y, y_ref), (dx, dx_ref), (dw, dw_ref), (db, db_ref)))


def run(quick: bool = False) -> list[Row]:
    """Goal 5 of issue 13 as rows: the derivation with every check, at batch sizes 32 and 64 (8, 16 when quick)."""
    rows = []
    cases = ((8, 2.0, 1), (16, None, 1)) if quick else ((8, 2.0, 5), (16, None, 5), (32, 1.0, 5), (64, 5.0, 3))
    for n, target, repeat in cases:
        try:
            checked = equals_reference(batchnorm_derivation(n))  # check=True: every step proved, or it raises
            _, med = timed(lambda: batchnorm_derivation(n), repeat)
        except Exception:  # a step that does not prove is a wrong answer
            med, checked = None, False
        met = None if target is None or med is None else med <= target
        rows.append(Row(BENCH, f"batchnorm_derivation({n}), every check", "seconds", med, "target", target,
                        None if target is None or med is None else med / target,
                        "" if target is None else f"<= {target:g} s", met, checked))
    rows.append(Row(BENCH, "forward + backward (N, D)", "vs NumPy reference", checked=_numerics_checked()))
    return rows


# --------------------------------------------------------------------------- this checkout against another
_PROBE = r"""
import hashlib, json, sys, time
import sympy
from sympy.core.cache import clear_cache
import convmatrix
from convmatrix import batchnorm_derivation
n = int(sys.argv[1])
batchnorm_derivation(2)  # warm: every module imported, every lazy table built
clear_cache()
c0, t0 = time.process_time(), time.perf_counter()
d = batchnorm_derivation(n)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
steps = "\n".join(f"{s.name}|{s.kind}|{sympy.srepr(s.lhs)}|{sympy.srepr(s.rhs)}" for s in d.steps)
printed = hashlib.sha256((d.text() + d.latex() + steps).encode()).hexdigest()
# the explicit results are large (O(n^3) as text): compared by SymPy's structural hash, fixed by PYTHONHASHSEED
values = hash(sympy.Tuple(*d.gradients["x"], *d.forward["y"], d.gradients["gamma"], d.gradients["beta"],
                          d.forward["mu"], d.forward["var"]))
print(json.dumps({"wall": wall, "cpu": cpu, "checked": d.checked, "printed": printed, "values": values,
                  "file": convmatrix.__file__}))
"""


def _probe(tree: str, n: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree, PYTHONHASHSEED="0")
    out = subprocess.run([sys.executable, "-c", _PROBE, str(n)], capture_output=True, text=True, env=env, cwd=tree,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["file"].startswith(os.path.abspath(tree)):
        raise RuntimeError(f"{tree}: imported convmatrix from {result['file']}")
    return result


def against(old: str, sizes: list[int], rounds: int) -> list[Row]:
    """This checkout against ``old``: each derivation in a fresh process, interleaved, medians, the same results."""
    new = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"old": os.path.abspath(old), "new": new}
    rows = []
    for n in sizes:
        res: dict = {k: [] for k in trees}
        for r in range(rounds):
            for name in (["old", "new"] if r % 2 == 0 else ["new", "old"]):
                res[name].append(_probe(trees[name], n))
                print(f"  n={n} round {r + 1} {name}: {res[name][-1]['wall']:.3f} s", file=sys.stderr, flush=True)
        med = {k: statistics.median(x["wall"] for x in v) for k, v in res.items()}
        cpu = {k: statistics.median(x["cpu"] for x in v) for k, v in res.items()}
        same = all(x["checked"] for v in res.values() for x in v) and len(
            {(x["printed"], x["values"]) for v in res.values() for x in v}) == 1
        target = TARGETS.get(n)
        rows.append(Row(BENCH, f"batchnorm_derivation({n}), every check: new vs old", "seconds", med["new"], "old",
                        med["old"], med["new"] / med["old"], "", None, same, cpu_ratio=cpu["new"] / cpu["old"],
                        note=f"{rounds} rounds, cpu {cpu['new']:.3f} s vs {cpu['old']:.3f} s"))
        if target is not None:
            rows.append(Row(BENCH, f"batchnorm_derivation({n}), every check: new", "seconds", med["new"], "target",
                            target, med["new"] / target, f"<= {target:g} s", med["new"] <= target, same,
                            note=f"cpu {cpu['new']:.3f} s"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="the suite's rows")
    parser.add_argument("--quick", action="store_true", help="with --table: batch sizes 8 and 16 only")
    parser.add_argument("--against", metavar="DIR", help="another checkout to compare with, side by side")
    parser.add_argument("--sizes", default="8,16,32,64", help="with --against: batch sizes (default 8,16,32,64)")
    parser.add_argument("--rounds", type=int, default=5, help="with --against: rounds per size (default 5)")
    args = parser.parse_args()
    if args.against:
        print_table(against(args.against, [int(v) for v in args.sizes.split(",")], args.rounds))
    elif args.table:
        print_table(run(args.quick))
    else:
        main()
