"""Run every benchmark module and print one table: ``python -m benchmarks [--quick] [--only NAME,...]``.

A module is any ``benchmarks/bench_*.py`` with a ``run(quick: bool)`` function
returning rows (:class:`benchmarks._harness.Row` or mappings with its fields).
The exit status is 1 when a result differed from its reference or a module
failed, so that no fast wrong answer passes unnoticed; targets missed are
reported in the table (and counted at the end) but do not fail the run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

from ._harness import Row, print_table

import benchmarks


def modules() -> list[str]:
    """The benchmark modules of the package, by the convention ``bench_*.py``."""
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few rounds")
    parser.add_argument("--only", default="", help="comma-separated module names (without bench_), e.g. conv_matrix")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    args = parser.parse_args(argv)
    names = modules()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = {w.strip().removeprefix("bench_") for w in args.only.split(",") if w.strip()}
        unknown = wanted - {n.removeprefix("bench_") for n in names}
        if unknown:
            parser.error(f"--only: no benchmark module named {', '.join(sorted(unknown))} (have: "
                         f"{', '.join(n.removeprefix('bench_') for n in names)})")
        names = [n for n in names if n.removeprefix("bench_") in wanted]
    import convmatrix

    print(f"convmatrix from {convmatrix.__file__}; {'quick' if args.quick else 'full'} run of: {', '.join(names)}",
          flush=True)
    rows, failed = [], []
    for name in names:
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            if not hasattr(module, "run"):
                continue
            got = [r if isinstance(r, Row) else Row(**r) for r in module.run(args.quick)]
        except Exception:  # one module's failure is reported, the others still run
            traceback.print_exc()
            failed.append(name)
            got = [Row(name.removeprefix("bench_"), "(module failed)", "run", checked=False)]
        rows += got
        print(f"  {name}: {len(got)} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    different = [r for r in rows if r.checked is False]
    missed = [r for r in rows if r.met is False]
    print(f"\n{len(rows)} rows; {len(missed)} targets missed; {len(different)} results differ from their reference"
          + (f"; modules failed: {', '.join(failed)}" if failed else ""))
    return 1 if different or failed else 0


if __name__ == "__main__":
    sys.exit(main())
