"""Benchmark: the density picture of the 113 M-entry 64 -> 64 3x3 layer on 56 x 56, and an animation.

Run: python benchmarks/bench_plot.py [--rounds 3]
Target (issue 11): the density mode draws ``conv_matrix(w, (56, 56), padding=1)`` (64 -> 64
channels, 112,869,376 stored entries) in seconds, reading the CSR arrays in chunks (no COO or
dense copy).  The matrix is built once (float32, about 0.9 GB); each round times the histogram
alone, ``plot_matrix`` (histogram, figure, rules, colorbar) and saving a PNG, and reports medians.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import convmatrix as cm  # noqa: E402
from convmatrix.animation import animate_conv, conv_scene  # noqa: E402
from convmatrix.plot import density_histogram, plot_matrix  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    w = np.random.default_rng(0).standard_normal((64, 64, 3, 3)).astype(np.float32)
    t = time.perf_counter()
    A = cm.conv_matrix(w, (56, 56), padding=1)
    g = cm.ConvGeometry.from_weight_shape(w.shape, (56, 56), padding=1)
    print(f"built {A.shape[0]:,} x {A.shape[1]:,}, {A.nnz:,} stored entries in {time.perf_counter() - t:.2f} s")
    plot_matrix(np.eye(2))  # warm matplotlib (fonts) outside the timings
    hist, draw, save = [], [], []
    for _ in range(rounds):  # interleaved: one of each per round
        t = time.perf_counter()
        density_histogram(A, 512)
        hist.append(time.perf_counter() - t)
        t = time.perf_counter()
        fig = plot_matrix(A, geometry=g)
        draw.append(time.perf_counter() - t)
        t = time.perf_counter()
        fig.savefig(io.BytesIO(), format="png", dpi=100)
        save.append(time.perf_counter() - t)
    med = statistics.median
    print(f"density_histogram (512 x 512 bins): median {med(hist):.2f} s ({A.nnz / med(hist) / 1e6:.0f} M entries/s)")
    print(f"plot_matrix (density, 64 x 64 blocks): median {med(draw):.2f} s; savefig PNG: median {med(save):.2f} s")
    print(f"total to a PNG: median {med(draw) + med(save):.2f} s")
    scene = conv_scene(3, (5, 5), stride=2, padding=1, transposed=True)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        data = animate_conv(scene)
        times.append(time.perf_counter() - t)
    print(f"animate_conv, transposed 5x5 -> 9x9 ({scene.frames} frames, {len(data) // 1024} kB): "
          f"median {med(times):.2f} s ({med(times) / scene.frames * 1e3:.0f} ms per frame)")


if __name__ == "__main__":
    main()
