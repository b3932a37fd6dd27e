"""``convmatrix deconvnet``: Zeiler's reconstruction ``R_l`` and projection ``R_lᵀ`` for a stack.

The stack is given on the command line (maps, kernel sizes, borders and
poolings per layer); filters are random integers and the switches come from
random integer maps, so that ``R_lᵀ == R_l.T`` is checked exactly.
"""

from __future__ import annotations

import argparse
import time
from math import prod

import numpy as np

from .._limits import guard_bytes
from ..export import summarize_matrix
from ..pooling import MaxPool, pool_matrix
from ..zeiler import BORDERS, ZeilerLayer, ZeilerStack
from ._common import add_format_arg, add_max_bytes_arg, emit_latex, int_tuple, seed_arg, user_error, wants_latex


def pool_arg(text: str) -> tuple[int, ...] | None:
    """``2x2x2`` -> (channel_pool, *spatial kernel); ``none`` -> None."""
    if text.lower() == "none":
        return None
    value = int_tuple(text)
    return (value,) if isinstance(value, int) else value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deconvnet", help="Zeiler's R_l and R_l^T for a stack of layers: shapes, nnz, exact-transpose check",
        description="Build F_l, P_s, R_l = F_1 U_s1 ... F_l and (separately) R_l^T = F_l^T ... P_s1 F_1^T "
                    "for a deconvolutional network with random integer filters and switches from random "
                    "integer maps; report shapes, stored entries and whether R_l^T == R_l.T exactly.")
    p.add_argument("--input-size", type=int_tuple, required=True, help="spatial size of the image, e.g. 64,64")
    p.add_argument("--channels", type=int, default=1, help="image channels (default 1)")
    p.add_argument("--maps", type=int, nargs="+", required=True, metavar="K", help="feature maps per layer")
    p.add_argument("--kernel", type=int, nargs="+", default=[7], metavar="k",
                   help="filter size per layer, or one for all (default 7)")
    p.add_argument("--border", nargs="+", default=["valid"], choices=BORDERS,
                   help="border of each layer's reconstruction, or one for all (default valid)")
    p.add_argument("--pool", type=pool_arg, nargs="+", default=[(2, 2, 2)], metavar="GxKxK",
                   help="pooling of each layer's maps as channel_pool x spatial kernel (e.g. 2x2x2, "
                        "1x2x2 for spatial only) or 'none'; one for all or one per layer (default 2x2x2)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the filters and maps (default 0)")
    add_max_bytes_arg(p)
    add_format_arg(p, output=True)
    p.set_defaults(func=run)


def _per_layer(values, depth: int, name: str) -> list:
    if len(values) == 1:
        return list(values) * depth
    if len(values) != depth:
        raise user_error(name, f"{name} has {len(values)} values: give one for all layers or one per layer ({depth})")
    return list(values)


def build_stack(input_size, channels, maps, kernels, borders, pools, seed=0, max_bytes=None) -> ZeilerStack:
    """A stack with random integer filters (``-3 … 3``) from command-line style lists."""
    n = (input_size,) if isinstance(input_size, int) else tuple(input_size)
    depth = len(maps)
    kernels = _per_layer(kernels, depth, "--kernel")
    borders = _per_layer(borders, depth, "--border")
    pools = _per_layer(pools, depth, "--pool")
    for option, values in (("--input-size", n), ("--channels", [channels]), ("--maps", maps), ("--kernel", kernels)):
        if any(v < 1 for v in values):
            raise user_error(option, f"{option} {' '.join(map(str, values))} must be positive")
    rng = np.random.default_rng(seed)
    layers, c = [], channels
    for l, (K, k, border, pool) in enumerate(zip(maps, kernels, borders, pools), start=1):
        guard_bytes(8 * K * c * k ** len(n), max_bytes,
                    what=f"the filters of layer {l} (--maps {K} x {c} channels below x --kernel {k} ** {len(n)})")
        if pool is not None and len(pool) != len(n) + 1:
            raise user_error("--pool", f"--pool {'x'.join(map(str, pool))} for layer {l} must have {len(n) + 1} numbers: "
                             f"channel_pool then the {len(n)}-d spatial kernel of --input-size {','.join(map(str, n))}")
        mp = None if pool is None else MaxPool(pool[1:], channel_pool=pool[0])
        layers.append(ZeilerLayer(rng.integers(-3, 4, size=(K, c, *(k,) * len(n))), border, mp))
        c = K if mp is None else K // mp.channel_pool  # ZeilerStack refuses a channel_pool not dividing K
    return ZeilerStack(layers, (channels, *n))


def report(stack: ZeilerStack, seed: int = 0, max_bytes=None) -> tuple[list[str], bool]:
    """Lines describing F_l, P_s, R_l and R_l^T of every layer, and whether all transposes were exact."""
    rng = np.random.default_rng(seed + 1)
    for s in stack.map_shapes[:-1]:
        guard_bytes(8 * prod(s), max_bytes, what=f"random maps of shape {s}")
    maps = [rng.integers(-2, 3, size=s) for s in stack.map_shapes[:-1]]
    switches = stack.switches(maps)
    lines = [f"input {stack.input_shape}"]
    for l, layer in enumerate(stack.layers, start=1):
        pooled = stack.pooled_shapes[l - 1]
        nd = len(stack.input_shape) - 1
        pool = "no pooling" if pooled is None else (
            f"pool {layer.pool.channel_pool}x{'x'.join(map(str, _k(layer.pool, nd)))} -> {pooled}")
        lines.append(f"layer {l}: {layer.num_maps} filters {'x'.join(map(str, layer.kernel_size))} over "
                     f"{layer.in_channels} channels ({layer.border}), maps {stack.map_shapes[l - 1]}, {pool}")
    ok = True
    for l in range(1, stack.depth + 1):
        lines.append(f"F_{l}   : {summarize_matrix(stack.F(l, max_bytes=max_bytes))}")
        lines.append(f"F_{l}^T : {summarize_matrix(stack.Ft(l, max_bytes=max_bytes))}")
        if l < stack.depth and switches[l - 1] is not None:
            lines.append(f"P_s{l}  : {summarize_matrix(pool_matrix(switches[l - 1]))}")
    for l in range(1, stack.depth + 1):
        t0 = time.perf_counter()
        R = stack.R(l, switches[: l - 1], max_bytes=max_bytes)
        t1 = time.perf_counter()
        Rt = stack.Rt(l, switches[: l - 1], max_bytes=max_bytes)
        t2 = time.perf_counter()
        exact = bool((Rt != R.T).nnz == 0)
        ok &= exact
        lines.append(f"R_{l}   : {summarize_matrix(R)}  [{t1 - t0:.3f} s]")
        lines.append(f"R_{l}^T : {summarize_matrix(Rt)}  [{t2 - t1:.3f} s]")
        lines.append(f"         exact transpose: {exact}  ((R_{l}^T != R_{l}.T).nnz == {(Rt != R.T).nnz})")
    return lines, ok


def _k(pool: MaxPool, nd: int) -> tuple[int, ...]:
    k = pool.kernel_size
    return (k,) * nd if isinstance(k, int) else tuple(k)


def run(args) -> int:
    stack = build_stack(args.input_size, args.channels, args.maps, args.kernel, args.border, args.pool, args.seed,
                        args.max_bytes)
    lines, ok = report(stack, args.seed, args.max_bytes)
    if wants_latex(args, document_output=True):
        checks = [line.strip() for line in lines if "exact transpose" in line]
        note = ("Built separately from their factors (random integer filters, switches from random integer maps), "
                "each R_lᵀ equals R_l transposed exactly: " + "; ".join(
                    f"l = {n}: {'yes' if 'True' in c else 'no'}" for n, c in enumerate(checks, start=1)) + ".")
        emit_latex([stack, note], args, comment="deconvnet: " + lines[0])
        return 0 if ok else 1
    print("deconvnet: " + lines[0])
    print("\n".join(lines[1:]))
    return 0 if ok else 1


def section_zeiler() -> str:
    """Tour: Zeiler's R_2 and its separately built projection, then a sparse code of an image."""
    from ..scenes import filter_bank, psnr, synthetic_scene

    stack = build_stack((16, 16), 1, [4, 6], [3], ["valid"], [(2, 2, 2)], seed=0)
    lines, _ = report(stack)
    im = synthetic_scene(32)
    one = ZeilerStack([ZeilerLayer(filter_bank(7), "valid")], (1, 32, 32))
    res = one.infer(im[None], 1, lam=30.0, method="fista", n_iter=100)
    rec = (one.R(1) @ res.z.reshape(-1)).reshape(32, 32)
    out = [
        "Zeiler's deconvolutional network: reconstruction R_l and projection R_l^T as sparse matrices.",
        "Layers of 4 and 6 random integer 3x3 filters on a 16x16 image, 2x2x2 pooling (2 maps x 2x2):",
        "R_l = F_1 U_s1 ... F_l is one sparse product; R_l^T = F_l^T ... P_s1 F_1^T another.",
        "",
        *lines,
        "",
        "FISTA on C_1 = lam/2 |R_1 z - y|^2 + |z|_1 (lam = 30, 100 iterations, 8 fixed 7x7 filters)",
        f"for the built-in 32x32 test scene: {np.mean(res.z != 0):.1%} of z nonzero, "
        f"PSNR {psnr(rec, im):.1f} dB, cost {res.cost[0]:.1f} -> {res.cost[-1]:.1f}.",
    ]
    return "\n".join(out)
