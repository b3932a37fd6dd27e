"""The bound-quality table of docs/lipschitz.md: every cheap bound against the exact norm, on real layer shapes.

VGG-16, ResNet-18, ResNet-50 (torchvision's v1.5: the stride on the 3x3 conv) and DCGAN (64x64, Radford et
al.) convolutions at their real input sizes and channel counts, zero padding as in the networks; random
He-initialised weights (normal, std sqrt(2 / fan_in)) from one fixed seed.  DCGAN's generator layers are
transposed convolutions: a transposed layer is the transpose of a convolution (its weight in torch's
layout is that convolution's weight) and has the same norm, so its row is that convolution.

The exact norm is :func:`convmatrix.spectral_norm` of the explicit matrix; a layer whose matrix has more
than ``--max-nnz`` stored entries (default 120 M, about 1.4 GB in CSR) is listed as out of reach.

    python benchmarks/bound_table.py                  # the markdown table, smallest layers first
    OPENBLAS_NUM_THREADS=1 python benchmarks/bound_table.py   # on a machine shared by other jobs: OpenBLAS's
                                                      # threads spin against each other (7x slower here)
    python benchmarks/bound_table.py --max-nnz 2e7    # a quick run on the smaller layers
    python benchmarks/bound_table.py --only "ResNet-18 layer1"   # one row
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import convmatrix as cm

#: (network, layer, C_in, C_out, kernel, stride, padding, input size); duplicates across networks are kept once.
LAYERS = [
    ("VGG-16", "conv1_1", 3, 64, 3, 1, 1, 224),
    ("VGG-16", "conv1_2", 64, 64, 3, 1, 1, 224),
    ("VGG-16", "conv2_1", 64, 128, 3, 1, 1, 112),
    ("VGG-16", "conv2_2", 128, 128, 3, 1, 1, 112),
    ("VGG-16", "conv3_1", 128, 256, 3, 1, 1, 56),
    ("VGG-16", "conv3_2/3", 256, 256, 3, 1, 1, 56),
    ("VGG-16", "conv4_1", 256, 512, 3, 1, 1, 28),
    ("VGG-16", "conv4_2/3", 512, 512, 3, 1, 1, 28),
    ("VGG-16", "conv5_1/2/3", 512, 512, 3, 1, 1, 14),
    ("ResNet-18/50", "conv1", 3, 64, 7, 2, 3, 224),
    ("ResNet-18", "layer1 3x3", 64, 64, 3, 1, 1, 56),
    ("ResNet-18", "layer2.0 conv1", 64, 128, 3, 2, 1, 56),
    ("ResNet-18", "layer2.0 downsample", 64, 128, 1, 2, 0, 56),
    ("ResNet-18/50", "layer2 3x3", 128, 128, 3, 1, 1, 28),
    ("ResNet-18", "layer3.0 conv1", 128, 256, 3, 2, 1, 28),
    ("ResNet-18/50", "layer3 3x3", 256, 256, 3, 1, 1, 14),
    ("ResNet-18", "layer4.0 conv1", 256, 512, 3, 2, 1, 14),
    ("ResNet-18/50", "layer4 3x3", 512, 512, 3, 1, 1, 7),
    ("ResNet-50", "layer1.0 conv1", 64, 64, 1, 1, 0, 56),
    ("ResNet-50", "layer1 conv3", 64, 256, 1, 1, 0, 56),
    ("ResNet-50", "layer1 conv1", 256, 64, 1, 1, 0, 56),
    ("ResNet-50", "layer2.0 conv2", 128, 128, 3, 2, 1, 56),
    ("ResNet-50", "layer2.0 downsample", 256, 512, 1, 2, 0, 56),
    ("ResNet-50", "layer3.0 conv2", 256, 256, 3, 2, 1, 28),
    ("ResNet-50", "layer4.0 conv2", 512, 512, 3, 2, 1, 14),
    ("ResNet-50", "layer4 conv1", 2048, 512, 1, 1, 0, 7),
    ("DCGAN D", "conv1", 3, 64, 4, 2, 1, 64),
    ("DCGAN D", "conv2", 64, 128, 4, 2, 1, 32),
    ("DCGAN D", "conv3", 128, 256, 4, 2, 1, 16),
    ("DCGAN D", "conv4", 256, 512, 4, 2, 1, 8),
    ("DCGAN D", "conv5", 512, 1, 4, 1, 0, 4),
    # generator: ConvTranspose2d(a, b, 4, s, p) on m x m is the transpose of Conv2d(b, a, 4, s, p) on its output
    ("DCGAN G", "convT1 (100->512, 1->4)", 512, 100, 4, 1, 0, 4),
    ("DCGAN G", "convT2 (512->256, 4->8)", 256, 512, 4, 2, 1, 8),
    ("DCGAN G", "convT3 (256->128, 8->16)", 128, 256, 4, 2, 1, 16),
    ("DCGAN G", "convT4 (128->64, 16->32)", 64, 128, 4, 2, 1, 32),
    ("DCGAN G", "convT5 (64->3, 32->64)", 3, 64, 4, 2, 1, 64),
]

SHORT = {"Gram iteration": "Gram", "circulant (enlarged grid)": "circ. N", "circular at input size": "circ. n",
         "Fantastic Four": "F4", "LipGrid": "LipGrid", "torch reshape": "torch",
         "torch reshape x sqrt(overlap)": "torch·√ov"}


def he_weight(rng, c_in, c_out, k):
    return rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / (c_in * k * k))


def stored_entries(c_in, c_out, k, s, p, n):
    g = cm.ConvGeometry.from_weight_shape((c_out, c_in, k, k), (n, n), stride=s, padding=p)
    return cm.estimate_size(g)[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-nnz", type=float, default=120e6, help="largest matrix to compute exactly")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="rows whose 'network layer' contains this text")
    parser.add_argument("--tol", type=float, default=1e-9, help="relative tolerance of the exact norm (ARPACK)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    names = list(SHORT)
    head = ["network", "layer", "C_in→C_out", "k/s/p", "input", "stored entries", "exact ‖A‖₂"] + \
        [SHORT[n] for n in names] + ["exact (s)", "bounds (s)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    out_of_reach, total_exact, total_bounds, violations = [], 0.0, 0.0, []
    weights = [he_weight(rng, c_in, c_out, k) for _, _, c_in, c_out, k, _, _, _ in LAYERS]  # seeded in table order
    sizes = [stored_entries(*row[2:]) for row in LAYERS]
    for i in sorted(range(len(LAYERS)), key=lambda i: sizes[i]):  # smallest first
        (net, layer, c_in, c_out, k, s, p, n), w, nnz = LAYERS[i], weights[i], sizes[i]
        if args.only not in f"{net} {layer}":
            continue
        cfg = dict(stride=s, padding=p)
        if nnz > args.max_nnz:
            out_of_reach.append(f"{net} {layer} ({c_in}→{c_out} on {n}×{n}: {nnz / 1e6:,.0f} M stored entries)")
            continue
        t0 = time.perf_counter()
        exact = cm.spectral_norm(w, (n, n), tol=args.tol, **cfg)
        t1 = time.perf_counter()
        report = cm.spectral_norm_report(w, (n, n), exact=exact, **cfg)
        t2 = time.perf_counter()
        total_exact += t1 - t0
        total_bounds += t2 - t1
        violations += [f"{net} {layer}: {v}" for v in report.violations]
        cells = [f"{r:.3f}" + ("" if b.is_upper_bound else "*") for b, r in zip(report.bounds, report.ratios)]
        print("| " + " | ".join([net, layer, f"{c_in}→{c_out}", f"{k}/{s}/{p}", f"{n}×{n}", f"{nnz / 1e6:.1f} M",
                                 f"{exact:.4f}"] + cells + [f"{t1 - t0:.1f}", f"{t2 - t1:.2f}"]) + " |", flush=True)
    print()
    print(f"Ratios bound / exact; * marks an estimate (not proved for that layer). Exact norms (ARPACK, "
          f"tol={args.tol:g}) took {total_exact:.0f} s in all, the bounds {total_bounds:.1f} s.")
    if out_of_reach:
        print(f"Out of reach (over {args.max_nnz / 1e6:.0f} M stored entries): " + "; ".join(out_of_reach) + ".")
    if violations:
        print("VIOLATED: " + "; ".join(violations))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
