"""The benchmark suite of convmatrix: ``python -m benchmarks [--quick] [--only NAME,...]``.

Every ``bench_*.py`` module here defines ``run(quick: bool) -> list[Row]`` (see
:mod:`benchmarks._harness`) and stays runnable on its own
(``python benchmarks/bench_x.py``).  Speeds are measured side by side in one
process, in interleaved rounds, and reported as medians and ratios (against the
floor no builder can beat, against peers, or against a target); every timed
result is first checked equal to its reference.
"""
