"""Layer 5 — from ``torch.nn`` modules to affine maps: :func:`from_torch`.

Every supported module is read into the matrix the package already builds
for it — a convolution into :func:`~convmatrix.conv_matrix`, a pooling into
:func:`~convmatrix.avg_pool_matrix` or, at a given input, the switches of
:func:`~convmatrix.max_pool_switches`, an interpolation into
:func:`~convmatrix.interpolate_matrix`, ... — plus its bias as the offset,
and a network is the product of its layers' maps.  Piecewise-linear modules
(ReLU and its relatives, max pooling) are linear only once the input is
known: given ``x`` they become the diagonal of their active slopes or the
selection of their switches, and the product is the network's Jacobian at
``x``, exactly, as a sparse matrix.

The sample convention is torch's: one sample of shape ``(C, *spatial)`` (or
``(features,)``) in C order, ``module(x[None])[0] == map(x)``.  Numbers are
float64 whatever the module's dtype (compare with ``module.double()``).

torch is imported inside :func:`from_torch` only: it is the tests' oracle and
an optional dependency, never a runtime one.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from math import prod
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ._limits import as_format, as_max_bytes, guard
from ._sparse import canonical, csr_arrays
from ._validation import InputTypeError, InputValueError, as_array, as_shape, detached, is_integer, is_sequence, show
from .affine import AffineGraph, AffineMap
from .batchnorm import batchnorm_eval_matrix
from .geometry import ConvGeometry, ConvTransposeGeometry, PoolGeometry
from .interpolate import (adaptive_avg_pool_matrix, interpolate_matrix, interpolate_output_size, pixel_shuffle_matrix,
                          pixel_unshuffle_matrix)
from .matrices import conv_bias_vector, conv_matrix, conv_transpose_matrix
from .pooling import Switches, max_pool_switches, pool_matrix, unpool_matrix
from .resample import avg_pool_matrix, pad_matrix, pad_widths_from_torch

__all__ = ["from_torch", "SUPPORTED_MODULES"]

#: The module kinds :func:`from_torch` reads (``torch.nn`` class names); ``x`` is needed for the last group.
SUPPORTED_MODULES = (
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "FeatureAlphaDropout", "Flatten", "Unflatten", "Linear",
    "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "Sequential",
    # piecewise linear: at a given x
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "ReLU", "LeakyReLU", "PReLU", "Hardtanh", "ReLU6",
)


# =========================================================================== plumbing
@dataclass
class _Context:
    """What every conversion step shares: the torch module, the size limit, the graph of maps being built."""

    torch: Any
    max_bytes: int | None
    graph: AffineGraph


@dataclass
class _Value:
    """A tensor in the network: its node in the graph of maps, its shape, and its value at ``x`` (flat, or None)."""

    node: int
    shape: tuple[int, ...]
    value: np.ndarray | None


@dataclass
class _Indices:
    """Max pooling's indices as torch returns them: flat per channel plane, shape ``(C, *pooled)``."""

    indices: np.ndarray
    pooled_size: tuple[int, ...]


def import_torch(what: str = "from_torch"):
    """``torch``, or an ImportError that names what needs it and how to install it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed where the tests run
        raise ImportError(f"{what} needs PyTorch: pip install torch (it is an optional dependency)") from None
    return torch


def _numbers(tensor) -> np.ndarray:
    """A parameter or buffer as float64 numbers (its values, not its graph)."""
    return np.asarray(detached(tensor), dtype=np.float64)


def _name(module) -> str:
    return type(module).__name__


def _refuse(module, where: str, rule: str) -> InputValueError:
    return InputValueError(f"module{where}: {_name(module)} {rule}", "module")


def _refuse_shape(module, where: str, rule: str) -> InputValueError:
    """A module that does not take the shape it is given (which follows from ``input_size``)."""
    return InputValueError(f"module{where}: {_name(module)} {rule}", "input_size")


def _need_x(module, where: str, shape) -> InputValueError:
    return InputValueError(
        f"module{where}: {_name(module)} is piecewise linear, so its matrix depends on the input: x is needed "
        f"(pass x=, one sample of shape {tuple(shape)}, to get the map at that point)", "x")


def _ndim_of_class(module) -> int:
    """1, 2 or 3 from a class name ending in ``1d``, ``2d``, ``3d``."""
    return int(_name(module)[-2])


def _spatial(module, where: str, shape, ndim: int, *, channels: int | None = None) -> tuple[int, ...]:
    """The sample's spatial size for a module of ``ndim`` spatial axes (checked against its channels)."""
    if len(shape) != ndim + 1:
        raise _refuse_shape(module, where, f"acts on samples of shape (C, {', '.join('*' * ndim)}) ({ndim + 1} "
                                           f"axes): got input shape {tuple(shape)}")
    if channels is not None and shape[0] != channels:
        raise _refuse_shape(module, where, f"expects {channels} input channels: got input shape {tuple(shape)}")
    return tuple(shape[1:])


def _layer_map(matrix, shape, out_shape) -> AffineMap:
    """A layer without offset, from ``shape`` to ``out_shape``."""
    return AffineMap(matrix, None, tuple(shape), tuple(out_shape))


# =========================================================================== linear layers
def _conv(m, shape, ctx, where):
    nd = m.weight.ndim - 2
    n = _spatial(m, where, shape, nd, channels=m.in_channels)
    w = _numbers(m.weight)
    kw = dict(stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups)
    g = ConvGeometry.from_weight_shape(w.shape, n, padding_mode=m.padding_mode, **kw)
    A = conv_matrix(w, n, padding_mode=m.padding_mode, max_bytes=ctx.max_bytes, **kw)
    b = None if m.bias is None else conv_bias_vector(_numbers(m.bias), g.output_size)
    return AffineMap(A, b, tuple(shape), (m.out_channels, *g.output_size))


def _conv_transpose(m, shape, ctx, where):
    nd = m.weight.ndim - 2
    n = _spatial(m, where, shape, nd, channels=m.in_channels)
    if m.padding_mode != "zeros":  # torch refuses this itself; guard against a hand-edited module
        raise _refuse(m, where, f"has padding_mode={m.padding_mode!r}, which torch's forward refuses")
    w = _numbers(m.weight)
    kw = dict(stride=m.stride, padding=m.padding, output_padding=m.output_padding, groups=m.groups,
              dilation=m.dilation)
    tg = ConvTransposeGeometry.from_weight_shape(w.shape, n, **kw)
    T = conv_transpose_matrix(w, n, max_bytes=ctx.max_bytes, **kw)
    b = None if m.bias is None else conv_bias_vector(_numbers(m.bias), tg.output_size)
    return AffineMap(T, b, tuple(shape), (m.out_channels, *tg.output_size))


def _batchnorm(m, shape, ctx, where):
    if m.training:
        raise _refuse(m, where, "is in training mode, where it normalises by the batch's statistics: call "
                                ".eval() for the affine map of its running statistics")
    if m.running_mean is None or m.running_var is None:
        raise _refuse(m, where, "has no running statistics (track_running_stats=False): it normalises by the "
                                "batch's statistics even in eval mode, which is not an affine map of one sample")
    nd = _ndim_of_class(m)
    allowed = (1, 2) if nd == 1 else (nd + 1,)
    if len(shape) not in allowed or shape[0] != m.num_features:
        want = "(C,) or (C, L)" if nd == 1 else f"(C, {', '.join('*' * nd)})"
        raise _refuse_shape(m, where, f"acts on samples of shape {want} with C = {m.num_features}: got input shape "
                                f"{tuple(shape)}")
    weight = None if m.weight is None else _numbers(m.weight)
    bias = None if m.bias is None else _numbers(m.bias)
    D, b = batchnorm_eval_matrix(_numbers(m.running_mean), _numbers(m.running_var), weight, bias,
                                 spatial_size=tuple(shape[1:]), eps=m.eps, max_bytes=ctx.max_bytes)
    return AffineMap(D, b, tuple(shape), tuple(shape))


def _identity(m, shape, ctx, where):
    return AffineMap.identity(tuple(shape))


def _dropout(m, shape, ctx, where):
    if m.training and m.p > 0:
        raise _refuse(m, where, f"is in training mode with p={m.p}: it is random there; call .eval() (where it "
                                f"is the identity)")
    return _identity(m, shape, ctx, where)


def _batched_dim(m, where, dim: int, ndim: int, name: str) -> int:
    """A dim of the batched tensor ``(N, *sample)`` (negative counts from the end), as a non-negative index."""
    d = dim + ndim if dim < 0 else dim
    if not 0 <= d < ndim:
        raise _refuse(m, where, f"has {name}={dim}, out of range for a batched input of {ndim} dimensions")
    return d


def _flatten_shape(m, where, shape, start: int, end: int) -> tuple[int, ...]:
    batched = (1, *shape)
    s = _batched_dim(m, where, start, len(batched), "start_dim")
    e = _batched_dim(m, where, end, len(batched), "end_dim")
    if s > e:
        raise _refuse(m, where, f"has start_dim={start} after end_dim={end}")
    if s == 0 and e > 0:
        raise _refuse(m, where, "flattens the batch dimension (start_dim=0) into the sample: from_torch maps one "
                                "sample, use start_dim >= 1")
    out = batched[:s] + (prod(batched[s:e + 1]),) + batched[e + 1:]
    return out[1:]


def _flatten(m, shape, ctx, where):
    return AffineMap.identity(tuple(shape)).reshaped(_flatten_shape(m, where, shape, m.start_dim, m.end_dim))


def _unflatten_shape(m, where, shape, dim, sizes) -> tuple[int, ...]:
    batched = (1, *shape)
    d = _batched_dim(m, where, dim, len(batched), "dim")
    if d == 0:
        raise _refuse(m, where, "unflattens the batch dimension (dim=0): from_torch maps one sample")
    sizes = [int(v) for v in sizes]
    if sizes.count(-1) == 1:
        known = prod(v for v in sizes if v != -1)
        sizes[sizes.index(-1)] = batched[d] // known if known else 0
    if prod(sizes) != batched[d] or min(sizes) < 1:
        raise _refuse(m, where, f"cannot unflatten size {batched[d]} into {tuple(sizes)}")
    return (batched[:d] + tuple(sizes) + batched[d + 1:])[1:]


def _unflatten(m, shape, ctx, where):
    return AffineMap.identity(tuple(shape)).reshaped(_unflatten_shape(m, where, shape, m.dim, m.unflattened_size))


def _linear(m, shape, ctx, where):
    if shape[-1] != m.in_features:
        raise _refuse_shape(m, where, f"expects {m.in_features} features on the last axis: got input shape "
                                f"{tuple(shape)}")
    W = sp.csr_array(_numbers(m.weight))
    W.eliminate_zeros()
    copies = prod(shape[:-1])
    guard((copies * m.out_features, copies * m.in_features), copies * W.nnz, 8, "csr", ctx.max_bytes)
    A = W if copies == 1 else canonical(sp.csr_array(sp.kron(sp.identity(copies, format="csr"), W, format="csr")))
    b = None if m.bias is None else np.tile(_numbers(m.bias), copies)
    return AffineMap(A, b, tuple(shape), (*shape[:-1], m.out_features))


# =========================================================================== pooling and resampling
def _avg_pool(m, shape, ctx, where):
    nd = _ndim_of_class(m)
    n = _spatial(m, where, shape, nd)
    divisor = getattr(m, "divisor_override", None)
    pool = PoolGeometry.from_args(n, m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode, ndim=nd)
    A = avg_pool_matrix(n, pool.kernel_size, stride=pool.stride, padding=pool.padding, ceil_mode=m.ceil_mode,
                        count_include_pad=m.count_include_pad, divisor_override=divisor, channels=shape[0],
                        max_bytes=ctx.max_bytes)
    return _layer_map(A, shape, (shape[0], *pool.output_size))


def _adaptive_avg_pool(m, shape, ctx, where):
    nd = _ndim_of_class(m)
    n = _spatial(m, where, shape, nd)
    out = m.output_size if is_sequence(m.output_size) else (m.output_size,) * nd
    out = tuple(na if o is None else int(o) for na, o in zip(n, out))
    A = adaptive_avg_pool_matrix(n, out, channels=shape[0], max_bytes=ctx.max_bytes)
    return _layer_map(A, shape, (shape[0], *out))


def _max_pool_map(shape, value, kernel_size, stride, padding, dilation, ceil_mode, max_bytes):
    """``(map, indices)`` of a max pooling at ``value``: the selection ``P_s`` of its switches."""
    stride = kernel_size if stride is None or (is_sequence(stride) and len(stride) == 0) else stride
    s = max_pool_switches(value.reshape(shape), kernel_size, stride, padding, dilation, ceil_mode)
    P = pool_matrix(s, max_bytes=max_bytes)
    indices = _Indices(s.torch_indices, tuple(s.output_shape[1:]))
    return _layer_map(P, shape, s.output_shape), indices


def _max_pool(m, shape, ctx, where, value):
    nd = _ndim_of_class(m)
    _spatial(m, where, shape, nd)
    if value is None:
        raise _need_x(m, where, shape)
    return _max_pool_map(shape, value, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, ctx.max_bytes)


def _unpool_size(kernel_size, stride, padding, pooled, output_size, nd):
    """torch's ``max_unpool`` output size: ``(n - 1) s - 2 p + k`` per axis, or the given ``output_size``."""
    tup = lambda v: tuple(v) if is_sequence(v) else (v,) * nd  # noqa: E731
    k, s, p = tup(kernel_size), tup(kernel_size if stride is None else stride), tup(padding)
    default = tuple((n - 1) * sa - 2 * pa + ka for n, ka, sa, pa in zip(pooled, k, s, p))
    if output_size is None:
        if min(default) < 1:
            raise InputValueError(f"the unpooled output would be empty: (n - 1) stride - 2 padding + kernel_size "
                                  f"= {default} for the pooled size {tuple(pooled)}", "output_size")
        return default
    out = tuple(int(v) for v in output_size)[-nd:]
    for o, d, sa in zip(out, default, s):
        if not d - sa < o < d + sa:
            raise InputValueError(f"output_size={show(tuple(output_size))} must be within a stride of the "
                                  f"default size {default} (as torch)", "output_size")
    return out


def _unpool_map(shape, indices, kernel_size, stride, padding, output_size, max_bytes, where):
    """The map of ``max_unpool`` with torch's per-plane ``indices``: ``U`` of the switches they name."""
    nd = len(shape) - 1
    idx = np.asarray(detached(indices))
    if idx.dtype.kind not in "iu":
        raise InputTypeError(f"indices must be integers (max pooling's return_indices): got dtype {idx.dtype}",
                             "indices")
    if idx.shape == (1, *shape):
        idx = idx[0]
    if idx.shape != tuple(shape):
        raise InputValueError(f"indices of shape {idx.shape} do not match the unpooled input of shape "
                              f"{tuple(shape)}", "indices")
    out = _unpool_size(kernel_size, stride, padding, shape[1:], output_size, nd)
    plane = prod(out)
    flat = idx.reshape(shape[0], -1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= plane):
        raise InputValueError(f"indices must lie in [0, {plane}) (the output plane of size {out}): got "
                              f"{int(flat.min())} .. {int(flat.max())}", "indices")
    for c in range(shape[0]):
        if np.unique(flat[c]).size != flat[c].size:
            raise InputValueError(
                f"indices repeat a position in channel {c}: torch's max_unpool then keeps one of the values "
                f"written there (which one is not specified), so the map is not determined", "indices")
    switches = Switches(input_shape=(shape[0], *out), output_shape=tuple(shape),
                        indices=(flat + np.arange(shape[0])[:, None] * plane).reshape(shape),
                        kernel_size=out, stride=out, padding=(0,) * nd, dilation=(1,) * nd)
    U = unpool_matrix(switches, max_bytes=max_bytes)
    return _layer_map(U, shape, (shape[0], *out))


def _split_args(value, what: str):
    if not isinstance(value, tuple) or len(value) not in (2, 3):
        raise InputValueError(f"x for {what} must be its arguments for one sample, (input, indices) or "
                              f"(input, indices, output_size): got {show(value)}", "x")
    return value + (None,) * (3 - len(value))


def _max_unpool_module(m, shape, ctx, where, args):
    nd = _ndim_of_class(m)
    _spatial(m, where, shape, nd)
    if args is None:
        raise InputValueError(
            f"module{where}: {_name(m)} needs the indices of the max pooling it inverts: x is needed (pass "
            f"x=(input, indices), one sample and the indices max pooling returned for it)", "x")
    _, indices, output_size = args
    return _unpool_map(shape, indices, m.kernel_size, m.stride, m.padding, output_size, ctx.max_bytes, where)


def _interpolate_map(shape, size, scale_factor, mode, align_corners, recompute, max_bytes) -> AffineMap:
    """``F.interpolate`` of one sample of ``shape``."""
    if len(shape) < 2:
        raise InputValueError(f"interpolation acts on samples of shape (C, *spatial): got {tuple(shape)}", "x")
    out = interpolate_output_size(shape[1:], size, scale_factor)
    M = interpolate_matrix(shape[1:], size, scale_factor, mode=mode, align_corners=align_corners,
                           recompute_scale_factor=recompute, channels=shape[0], max_bytes=max_bytes)
    return _layer_map(M, shape, (shape[0], *out))


def _upsample(m, shape, ctx, where):
    if len(shape) < 2:
        raise _refuse_shape(m, where, f"acts on samples of shape (C, *spatial): got input shape {tuple(shape)}")
    return _interpolate_map(shape, m.size, m.scale_factor, m.mode, m.align_corners, m.recompute_scale_factor,
                            ctx.max_bytes)


def _pixel_shuffle(m, shape, ctx, where):
    n = _spatial(m, where, shape, 2)
    r = m.upscale_factor
    if shape[0] % (r * r):
        raise _refuse_shape(m, where, f"needs input channels divisible by upscale_factor**2 = {r * r}: got input "
                                f"shape {tuple(shape)}")
    S = pixel_shuffle_matrix(n, r, channels=shape[0], max_bytes=ctx.max_bytes)
    return _layer_map(S, shape, (shape[0] // (r * r), n[0] * r, n[1] * r))


def _pixel_unshuffle(m, shape, ctx, where):
    n = _spatial(m, where, shape, 2)
    r = m.downscale_factor
    if n[0] % r or n[1] % r:
        raise _refuse_shape(m, where, f"needs a spatial size divisible by downscale_factor={r}: got input shape "
                                f"{tuple(shape)}")
    U = pixel_unshuffle_matrix(n, r, channels=shape[0], max_bytes=ctx.max_bytes)
    return _layer_map(U, shape, (shape[0] * r * r, n[0] // r, n[1] // r))


_PAD_MODES = {"ConstantPad": "zeros", "ZeroPad": "zeros", "ReflectionPad": "reflect",
              "ReplicationPad": "replicate", "CircularPad": "circular"}


def _pad_map(shape, pad, mode: str, value: float, max_bytes) -> AffineMap:
    """``F.pad(x, pad, mode, value)`` of one sample: the pad matrix, and ``value`` where it adds constants."""
    pairs = pad_widths_from_torch(tuple(int(p) for p in pad))
    if len(pairs) > len(shape):
        raise InputValueError(f"pad={show(tuple(pad))} pads {len(pairs)} axes of a sample of shape "
                              f"{tuple(shape)}", "pad")
    if len(pairs) == len(shape):  # the channel axis too: only a constant pad can do that
        if pairs[0] != (0, 0):
            raise InputValueError(f"pad={show(tuple(pad))} pads the channel axis of a sample of shape "
                                  f"{tuple(shape)}: from_torch pads spatial axes only", "pad")
        pairs = pairs[1:]
    widths = ((0, 0),) * (len(shape) - 1 - len(pairs)) + pairs
    P = pad_matrix(tuple(shape[1:]), widths, mode=mode, channels=shape[0], max_bytes=max_bytes)
    out = (shape[0], *(n + lo + hi for n, (lo, hi) in zip(shape[1:], widths)))
    offset = None
    if mode == "zeros" and value != 0:
        offset = np.where(np.diff(P.indptr) == 0, float(value), 0.0)
    return AffineMap(P, offset, tuple(shape), out)


def _pad(m, shape, ctx, where):
    kind = next(k for k in _PAD_MODES if _name(m).startswith(k))
    nd = _ndim_of_class(m)
    if kind in ("ReflectionPad", "ReplicationPad", "CircularPad"):
        _spatial(m, where, shape, nd)
    elif len(shape) < nd + 1:
        raise _refuse_shape(m, where, f"pads {nd} spatial axes: got input shape {tuple(shape)}")
    return _pad_map(shape, m.padding, _PAD_MODES[kind], float(getattr(m, "value", 0.0)), ctx.max_bytes)


# =========================================================================== piecewise-linear activations
def _slopes_map(shape, slope: np.ndarray, offset: np.ndarray | None = None) -> AffineMap:
    """The diagonal map ``x -> slope * x + offset`` (no stored zeros)."""
    n = slope.size
    keep = np.flatnonzero(slope)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(slope != 0)
    D = csr_arrays((n, n), slope[keep].astype(np.float64), keep.astype(np.int64), indptr)
    return AffineMap(D, offset, tuple(shape), tuple(shape))


def relu_like_map(shape, value: np.ndarray, negative_slope) -> AffineMap:
    """``x -> x`` where ``value > 0``, ``negative_slope * x`` elsewhere (ReLU: 0, LeakyReLU, PReLU).

    At 0 the slope is ``negative_slope``, as torch's backward takes it.
    """
    slope = np.where(value.reshape(-1) > 0, 1.0, np.broadcast_to(negative_slope, shape).reshape(-1))
    return _slopes_map(shape, slope)


def hardtanh_map(shape, value: np.ndarray, min_val: float, max_val: float) -> AffineMap:
    """``x -> clip(x, min_val, max_val)`` at ``value``: slope 1 strictly inside, the bound as offset outside.

    At the bounds the slope is 0, as torch's backward takes it.
    """
    v = value.reshape(-1)
    inside = (v > min_val) & (v < max_val)
    offset = np.where(inside, 0.0, np.where(v <= min_val, min_val, max_val))
    return _slopes_map(shape, inside.astype(np.float64), offset)


def _activation(m, shape, ctx, where, value):
    if value is None:
        raise _need_x(m, where, shape)
    torch = ctx.torch
    if isinstance(m, torch.nn.Hardtanh):
        return hardtanh_map(shape, value, float(m.min_val), float(m.max_val))
    if isinstance(m, torch.nn.PReLU):
        a = _numbers(m.weight)
        if a.size > 1:
            if len(shape) < 1 or shape[0] != a.size:
                raise _refuse_shape(m, where, f"has {a.size} parameters, one per channel: got input shape {tuple(shape)}")
            a = a.reshape((a.size,) + (1,) * (len(shape) - 1))
        return relu_like_map(shape, value, a)
    if isinstance(m, torch.nn.LeakyReLU):
        return relu_like_map(shape, value, float(m.negative_slope))
    return relu_like_map(shape, value, 0.0)


# =========================================================================== the table
def _handlers(torch) -> list[tuple[tuple, Callable, str]]:
    """``(classes, handler, kind)``: ``kind`` is ``"linear"``, ``"at_x"`` (needs the value) or ``"args"``."""
    nn = torch.nn
    return [
        ((nn.Conv1d, nn.Conv2d, nn.Conv3d), _conv, "linear"),
        ((nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d), _conv_transpose, "linear"),
        ((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), _batchnorm, "linear"),
        ((nn.Identity,), _identity, "linear"),
        ((nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout),
         _dropout, "linear"),
        ((nn.Flatten,), _flatten, "linear"),
        ((nn.Unflatten,), _unflatten, "linear"),
        ((nn.Linear,), _linear, "linear"),
        ((nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), _avg_pool, "linear"),
        ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d), _adaptive_avg_pool, "linear"),
        ((nn.Upsample,), _upsample, "linear"),
        ((nn.PixelShuffle,), _pixel_shuffle, "linear"),
        ((nn.PixelUnshuffle,), _pixel_unshuffle, "linear"),
        ((nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
          nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d,
          nn.ReplicationPad3d, nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d), _pad, "linear"),
        ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), _max_pool, "at_x"),
        ((nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d), _max_unpool_module, "args"),
        ((nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.Hardtanh), _activation, "at_x"),
    ]


def _handler(module, ctx):
    """The handler of a supported module: its class, or a subclass that keeps the class's ``forward``."""
    for classes, handler, kind in _handlers(ctx.torch):
        for cls in classes:
            if isinstance(module, cls) and type(module).forward is cls.forward:
                return handler, kind
    return None, None


# =========================================================================== modules and sequences
def _layer(module, shape, value, ctx, where, args=None) -> tuple[AffineMap, Any]:
    """The map of one supported module acting on ``shape`` (at ``value`` where it needs it), and any extra
    output (max pooling's indices)."""
    handler, kind = _handler(module, ctx)
    if handler is None:
        raise _unsupported(module, where)
    if kind == "linear":
        return handler(module, shape, ctx, where), None
    if kind == "args":
        return handler(module, shape, ctx, where, args), None
    out = handler(module, shape, ctx, where, value)
    return out if isinstance(out, tuple) else (out, None)


def _unsupported(module, where: str) -> InputTypeError:
    return InputTypeError(
        f"module{where}: {_name(module)} is not supported by from_torch (it reads the linear and piecewise-linear "
        f"modules listed in convmatrix.torch_bridge.SUPPORTED_MODULES, nn.Sequential of them, and custom modules "
        f"whose forward torch.fx can trace into them)", "module")


def _then(current: _Value, layer: AffineMap, ctx) -> _Value:
    """``layer`` applied after ``current``: a node of the graph, and the value carried forward."""
    value = None if current.value is None else layer(current.value).reshape(-1)
    node = ctx.graph.add(layer.output_shape, [(current.node, layer.matrix)], layer.offset)
    return _Value(node, layer.output_shape, value)


def _edge(ctx, shape, parents, value, offset=None) -> _Value:
    """A node of ``parents`` (``(value, L)`` pairs) and its value."""
    node = ctx.graph.add(shape, [(v.node, L) for v, L in parents], offset)
    return _Value(node, tuple(shape), value)


def _convert(module, current: _Value, ctx, where: str, args=None):
    """``module`` applied to ``current``: a :class:`_Value` (or a tuple of outputs for max pooling)."""
    torch = ctx.torch
    if type(module) is torch.nn.Sequential or (isinstance(module, torch.nn.Sequential)
                                                and type(module).forward is torch.nn.Sequential.forward):
        for name, child in module.named_children():
            current = _convert(child, current, ctx, f"{where}[{name}]" if name.isdigit() else f"{where}.{name}")
            if isinstance(current, tuple):
                raise _refuse(child, f"{where}[{name}]", "returns indices (return_indices=True) inside a "
                                                         "Sequential, where the next module cannot take them")
        return current
    handler, _ = _handler(module, ctx)
    if handler is None:
        if type(module).__module__.startswith("torch."):
            raise _unsupported(module, where)
        return _graph(module, current, ctx, where)
    layer, extra = _layer(module, current.shape, current.value, ctx, where, args)
    out = _then(current, layer, ctx)
    if extra is not None and getattr(module, "return_indices", False):
        return out, extra
    return out


# =========================================================================== custom modules, through torch.fx
def _graph(module, current: _Value, ctx, where: str) -> _Value:
    """A custom module's forward, traced by ``torch.fx`` and read node by node."""
    torch = ctx.torch
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: not a module we can read
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputTypeError(
            f"module{where}: {_name(module)} is not supported by from_torch: it is none of the supported modules, "
            f"and torch.fx could not trace its forward ({type(exc).__name__}: {reason})", "module") from None
    nodes = list(gm.graph.nodes)
    if sum(node.op == "placeholder" for node in nodes) != 1:
        raise _refuse(module, where, "takes more than one input: from_torch maps a module of one input")
    env: dict = {}
    for node in nodes:
        label = f"{where}.{node.target}" if node.op == "call_module" else f"module{where} (at {node.name})"
        args = torch.fx.node.map_arg(node.args, lambda n: env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: env[n])
        if node.op == "placeholder":
            env[node] = current
        elif node.op == "get_attr":
            env[node] = _numbers(_attribute(gm, node.target))
        elif node.op == "call_module":
            env[node] = _call_module(gm.get_submodule(node.target), args, kwargs, ctx, label)
        elif node.op == "call_function":
            env[node] = _call_function(node.target, args, kwargs, ctx, label)
        elif node.op == "call_method":
            env[node] = _call_method(node.target, args, kwargs, ctx, label)
        elif node.op == "output":
            out = args[0]
            if not isinstance(out, _Value):
                raise _refuse(module, where, f"returns {_what(out)}: from_torch maps a module with one tensor "
                                             f"output")
            return out
    raise _refuse(module, where, "has no output")  # pragma: no cover - every fx graph has one


def _attribute(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _what(value) -> str:
    if isinstance(value, _Value):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, _Indices):
        return "max pooling's indices"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"a {type(value).__name__}"


def _call_module(sub, args, kwargs, ctx, where):
    if not args or not isinstance(args[0], _Value):
        raise _refuse(sub, where, "is called on something other than a tensor of the network")
    rest = tuple(args[1:])
    extra = None
    if rest or kwargs:
        handler, kind = _handler(sub, ctx)
        if kind != "args":
            raise _refuse(sub, where, "is called with more than one argument")
        indices = rest[0] if rest else kwargs.get("indices")
        if not isinstance(indices, _Indices):
            raise _refuse(sub, where, "needs the indices of a max pooling of the same network")
        output_size = rest[1] if len(rest) > 1 else kwargs.get("output_size")
        extra = (None, indices.indices, output_size)
    return _convert(sub, args[0], ctx, where, args=extra)


def _bind(where, args, kwargs, names: tuple, defaults: dict) -> dict:
    """Positional and keyword arguments of a torch function, by name."""
    bound = dict(defaults)
    for name, value in zip(names, args):
        bound[name] = value
    for name, value in kwargs.items():
        if name not in names:
            raise InputValueError(f"{where}: the argument {name}= is not supported by from_torch", "module")
        bound[name] = value
    return bound


def _tensor(value, where: str, what: str) -> _Value:
    if not isinstance(value, _Value):
        raise InputValueError(f"{where}: {what} must be a tensor of the network, not {_what(value)}", "module")
    return value


def _apply(layer: AffineMap, current: _Value, ctx) -> _Value:
    return _then(current, layer, ctx)


def _constant(value, shape, where: str) -> np.ndarray:
    """A number or constant tensor broadcast against one sample of ``shape`` (it may not grow the sample)."""
    c = np.asarray(value, dtype=np.float64)
    try:
        full = np.broadcast_to(c, (1, *shape)) if c.ndim <= len(shape) + 1 else None
    except ValueError:
        full = None
    if full is None or np.broadcast_shapes(c.shape, (1, *shape)) != (1, *shape):
        raise InputValueError(f"{where}: a constant of shape {c.shape} does not broadcast to the sample "
                              f"shape {(1, *shape)} without growing it", "module")
    return np.ascontiguousarray(full[0])


def _sum(a, b, ctx, where, sign: float = 1.0):
    """``a + sign * b`` for tensors of the network and constants."""
    if not isinstance(a, _Value) and not isinstance(b, _Value):
        return a + sign * b
    scale = None if sign == 1 else sign
    if isinstance(a, _Value) and isinstance(b, _Value):
        if a.shape != b.shape:
            raise InputValueError(f"{where}: adds tensors of shapes {a.shape} and {b.shape}: from_torch adds "
                                  f"tensors of one shape", "module")
        value = None if a.value is None else a.value + sign * b.value
        return _edge(ctx, a.shape, [(a, None), (b, scale)], value)
    if isinstance(a, _Value):
        c = sign * _constant(b, a.shape, where).reshape(-1)
        return _edge(ctx, a.shape, [(a, None)], None if a.value is None else a.value + c, offset=c)
    c = _constant(a, b.shape, where).reshape(-1)
    return _edge(ctx, b.shape, [(b, scale)], None if b.value is None else c + sign * b.value, offset=c)


def _product(a, b, ctx, where, divide: bool = False):
    """``a * b`` or ``a / b`` where at most one is a tensor of the network (the map stays affine)."""
    if not isinstance(a, _Value) and not isinstance(b, _Value):
        return a / b if divide else a * b
    if isinstance(a, _Value) and isinstance(b, _Value):
        raise InputValueError(f"{where}: multiplies two tensors of the network: not an affine map", "module")
    if not isinstance(a, _Value):
        if divide:
            raise InputValueError(f"{where}: divides by a tensor of the network: not an affine map", "module")
        a, b = b, a
    c = _constant(b, a.shape, where).reshape(-1)
    c = 1.0 / c if divide else c
    if c.size == 1 or np.all(c == c.reshape(-1)[0]):
        return _edge(ctx, a.shape, [(a, float(c.reshape(-1)[0]))], None if a.value is None else a.value * c)
    layer = _slopes_map(a.shape, c)
    return _apply(layer, a, ctx)


def _cat(tensors, dim, ctx, where):
    values = [_tensor(t, where, "every tensor concatenated") for t in tensors]
    shapes = [v.shape for v in values]
    batched = len(shapes[0]) + 1
    d = dim + batched if dim < 0 else dim
    if d == 0:
        raise InputValueError(f"{where}: concatenates along the batch dimension (dim=0): from_torch maps one "
                              f"sample", "module")
    axis = d - 1
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(x != y for k, (x, y) in enumerate(zip(s, shapes[0])) if k != axis):
            raise InputValueError(f"{where}: concatenates tensors of shapes {shapes} along dim {dim}", "module")
    # which entry of which input every output entry is: each input's entries, concatenated as the tensors are
    part = np.concatenate([np.full(s, k) for k, s in enumerate(shapes)], axis=axis).reshape(-1)
    local = np.concatenate([np.arange(prod(s)).reshape(s) for s in shapes], axis=axis).reshape(-1)
    n = part.size
    out_shape = tuple(np.concatenate([np.empty(s, dtype=np.int8) for s in shapes], axis=axis).shape)
    edges = [(v, _injection(part == k, local, n, prod(s))) for k, (v, s) in enumerate(zip(values, shapes))]
    value = None if any(v.value is None for v in values) else np.concatenate(
        [v.value.reshape(v.shape) for v in values], axis=axis).reshape(-1)
    return _edge(ctx, out_shape, edges, value)


def _injection(mine: np.ndarray, local: np.ndarray, n: int, m: int) -> sp.csr_array:
    """``(n, m)`` 0/1: output entry ``j`` (where ``mine``) is input entry ``local[j]``."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(mine, out=indptr[1:])
    return sp.csr_array((np.ones(int(indptr[-1]), dtype=np.int64), local[mine], indptr), shape=(n, m))


def _reshape(current: _Value, new_shape, where, ctx) -> _Value:
    """``view``/``reshape`` of the batched tensor ``(1, *shape)``: the batch must stay first."""
    shape = current.shape
    sizes = list(new_shape[0]) if len(new_shape) == 1 and is_sequence(new_shape[0]) else list(new_shape)
    if not all(is_integer(v) for v in sizes):
        raise InputValueError(f"{where}: reshapes to {show(tuple(sizes))}: the sizes must be integers", "module")
    sizes = [int(v) for v in sizes]
    total = prod(shape)
    if sizes.count(-1) == 1:
        known = prod(v for v in sizes if v != -1)
        sizes[sizes.index(-1)] = total // known if known and total % known == 0 else -1
    if prod(sizes) != total or min(sizes) < 1 or sizes[0] != 1:
        raise InputValueError(f"{where}: reshapes a batch of one sample of shape {shape} to {tuple(sizes)}: "
                              f"from_torch needs the batch dimension kept first (e.g. x.view(x.size(0), -1))",
                              "module")
    return _edge_reshape(current, tuple(sizes[1:]), ctx)


def _edge_reshape(current: _Value, shape, ctx) -> _Value:
    return _edge(ctx, shape, [(current, None)], current.value)


def _flatten_value(current: _Value, start, end, where, ctx) -> _Value:
    shape = current.shape
    batched = (1, *shape)
    s = start + len(batched) if start < 0 else start
    e = end + len(batched) if end < 0 else end
    if s == 0 and e > 0:
        raise InputValueError(f"{where}: flattens the batch dimension (start_dim=0) into the sample: use "
                              f"start_dim >= 1 (from_torch maps one sample)", "module")
    if not 0 <= s <= e < len(batched):
        raise InputValueError(f"{where}: flatten(start_dim={start}, end_dim={end}) is out of range for "
                              f"{len(batched)} dimensions", "module")
    out = batched[:s] + (prod(batched[s:e + 1]),) + batched[e + 1:]
    return _edge_reshape(current, out[1:], ctx)


def _activation_value(kind: str, current: _Value, params: dict, ctx, where) -> _Value:
    if current.value is None:
        raise InputValueError(f"{where}: {kind} is piecewise linear, so its matrix depends on the input: x is "
                              f"needed (pass x=, one sample of the network's input)", "x")
    shape = current.shape
    if kind == "hardtanh":
        layer = hardtanh_map(shape, current.value, float(params["min_val"]), float(params["max_val"]))
    else:
        layer = relu_like_map(shape, current.value, float(params.get("negative_slope", 0.0)))
    return _apply(layer, current, ctx)


def _function_table(torch):
    """Functions of a traced forward that from_torch reads: target -> (kind, names, defaults)."""
    F = torch.nn.functional
    pool = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    pool_d = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False}
    unpool = ("input", "indices", "kernel_size", "stride", "padding", "output_size")
    unpool_d = {"stride": None, "padding": 0, "output_size": None}
    table = {
        operator.add: ("add", ("a", "b"), {}), torch.add: ("add", ("a", "b"), {}),
        operator.iadd: ("add", ("a", "b"), {}),
        operator.sub: ("sub", ("a", "b"), {}), torch.sub: ("sub", ("a", "b"), {}),
        operator.mul: ("mul", ("a", "b"), {}), torch.mul: ("mul", ("a", "b"), {}),
        operator.truediv: ("div", ("a", "b"), {}), torch.div: ("div", ("a", "b"), {}),
        operator.neg: ("neg", ("a",), {}), torch.neg: ("neg", ("a",), {}),
        operator.getitem: ("getitem", ("a", "b"), {}), getattr: ("getattr", ("a", "b"), {}),
        torch.cat: ("cat", ("tensors", "dim"), {"dim": 0}), torch.concat: ("cat", ("tensors", "dim"), {"dim": 0}),
        torch.flatten: ("flatten", ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}),
        F.relu: ("relu", ("input", "inplace"), {}), torch.relu: ("relu", ("input",), {}),
        F.relu6: ("relu6", ("input", "inplace"), {}),
        F.leaky_relu: ("leaky_relu", ("input", "negative_slope", "inplace"), {"negative_slope": 0.01}),
        F.hardtanh: ("hardtanh", ("input", "min_val", "max_val", "inplace"), {"min_val": -1.0, "max_val": 1.0}),
        F.interpolate: ("interpolate", ("input", "size", "scale_factor", "mode", "align_corners",
                                        "recompute_scale_factor", "antialias"),
                        {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None,
                         "recompute_scale_factor": None, "antialias": False}),
        F.pad: ("pad", ("input", "pad", "mode", "value"), {"mode": "constant", "value": None}),
        F.linear: ("linear", ("input", "weight", "bias"), {"bias": None}),
    }
    conv = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    conv_d = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}
    for nd in (1, 2, 3):
        table[getattr(F, f"conv{nd}d")] = ("conv", conv, conv_d)
        table[getattr(F, f"max_pool{nd}d")] = ("max_pool", pool, pool_d)
        # F.max_pool's flag is resolved while tracing: these are what torch.fx records
        table[getattr(F, f"_max_pool{nd}d")] = ("max_pool", pool, pool_d)
        table[getattr(F, f"max_pool{nd}d_with_indices")] = ("max_pool", pool, dict(pool_d, return_indices=True))
        table[getattr(F, f"max_unpool{nd}d")] = ("max_unpool", unpool, unpool_d)
    return table


def _functional_layer(kind: str, shape, b: dict, ctx, where) -> AffineMap:
    """``F.conv{N}d`` or ``F.linear`` with constant weights (a module's own forward, traced)."""
    w = np.asarray(b["weight"], dtype=np.float64)
    bias = None if b["bias"] is None else np.asarray(b["bias"], dtype=np.float64)
    if kind == "linear":
        if w.ndim != 2 or shape[-1] != w.shape[1]:
            raise InputValueError(f"{where}: linear with a weight of shape {w.shape} on input shape {shape}",
                                  "module")
        lin = _LinearParams(w, bias)
        return _linear(lin, shape, ctx, where)
    if len(shape) != w.ndim - 1 or shape[0] != w.shape[1] * b["groups"]:
        raise InputValueError(f"{where}: conv{w.ndim - 2}d with a weight of shape {w.shape} and groups="
                              f"{b['groups']} on input shape {shape}", "module")
    kw = dict(stride=b["stride"], padding=b["padding"], dilation=b["dilation"], groups=b["groups"])
    g = ConvGeometry.from_weight_shape(w.shape, shape[1:], **kw)
    A = conv_matrix(w, shape[1:], max_bytes=ctx.max_bytes, **kw)
    offset = None if bias is None else conv_bias_vector(bias, g.output_size)
    return AffineMap(A, offset, tuple(shape), (w.shape[0], *g.output_size))


@dataclass
class _LinearParams:
    """A ``Linear``'s numbers, as :func:`_linear` reads them."""

    weight: np.ndarray
    bias: np.ndarray | None

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]


def _call_function(target, args, kwargs, ctx, where):
    entry = _function_table(ctx.torch).get(target)
    if entry is None:
        name = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
        raise InputTypeError(f"{where}: the function {name} is not supported by from_torch", "module")
    kind, names, defaults = entry
    return _run(kind, _bind(where, args, kwargs, names, defaults), ctx, where)


def _call_method(name: str, args, kwargs, ctx, where):
    self, rest = args[0], args[1:]
    if not isinstance(self, _Value):
        return getattr(self, name)(*rest, **kwargs)
    if name in ("relu", "relu_"):
        return _activation_value("relu", self, {}, ctx, where)
    if name in ("contiguous", "clone", "detach"):
        return self
    if name in ("view", "reshape"):
        return _reshape(self, rest, where, ctx)
    if name == "flatten":
        b = _bind(where, rest, kwargs, ("start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
        return _flatten_value(self, b["start_dim"], b["end_dim"], where, ctx)
    if name == "size":
        full = (1, *self.shape)
        return full if not rest else full[rest[0]]
    if name in ("add", "sub", "mul", "div"):
        return _run(name, {"a": self, "b": rest[0]}, ctx, where)
    raise InputTypeError(f"{where}: the tensor method .{name}() is not supported by from_torch", "module")


def _run(kind: str, b: dict, ctx, where):
    """One function of a traced forward, its arguments bound by name."""
    if kind == "add":
        return _sum(b["a"], b["b"], ctx, where)
    if kind == "sub":
        return _sum(b["a"], b["b"], ctx, where, sign=-1.0)
    if kind == "mul":
        return _product(b["a"], b["b"], ctx, where)
    if kind == "div":
        return _product(b["a"], b["b"], ctx, where, divide=True)
    if kind == "neg":
        return _product(b["a"], -1.0, ctx, where)
    if kind == "getitem":
        if isinstance(b["a"], _Value):
            raise InputValueError(f"{where}: indexes or slices a tensor of the network: not supported by "
                                  f"from_torch", "module")
        return b["a"][b["b"]]
    if kind == "getattr":
        if isinstance(b["a"], _Value) and b["b"] == "shape":
            return (1, *b["a"].shape)
        raise InputValueError(f"{where}: reads the attribute {b['b']!r}: not supported by from_torch", "module")
    if kind == "cat":
        return _cat(b["tensors"], int(b["dim"]), ctx, where)
    if kind == "flatten":
        return _flatten_value(_tensor(b["input"], where, "the input"), b["start_dim"], b["end_dim"], where, ctx)
    if kind in ("relu", "relu6", "leaky_relu", "hardtanh"):
        params = {"min_val": 0.0, "max_val": 6.0} if kind == "relu6" else b
        return _activation_value("hardtanh" if kind in ("relu6", "hardtanh") else kind,
                                 _tensor(b["input"], where, "the input"), params, ctx, where)
    x = _tensor(b["input"], where, "the input")
    shape = x.shape
    if kind == "interpolate":
        if b["antialias"]:
            raise InputValueError(f"{where}: interpolate(antialias=True) is not supported by from_torch", "module")
        layer = _interpolate_map(shape, b["size"], b["scale_factor"], b["mode"], b["align_corners"],
                                 b["recompute_scale_factor"], ctx.max_bytes)
        return _apply(layer, x, ctx)
    if kind in ("conv", "linear"):
        for name in ("weight", "bias"):
            if isinstance(b[name], _Value):
                raise InputValueError(f"{where}: a {kind} whose {name} is a tensor of the network is not an affine "
                                      f"map", "module")
        return _apply(_functional_layer(kind, shape, b, ctx, where), x, ctx)
    if kind == "pad":
        mode = {"constant": "zeros"}.get(b["mode"], b["mode"])
        return _apply(_pad_map(shape, b["pad"], mode, float(b["value"] or 0.0), ctx.max_bytes), x, ctx)
    if kind == "max_pool":
        if x.value is None:
            raise InputValueError(f"{where}: max pooling is piecewise linear, so its matrix depends on the input: "
                                  f"x is needed (pass x=, one sample of the network's input)", "x")
        layer, indices = _max_pool_map(shape, x.value, b["kernel_size"], b["stride"], b["padding"], b["dilation"],
                                       b["ceil_mode"], ctx.max_bytes)
        out = _apply(layer, x, ctx)
        return (out, indices) if b["return_indices"] else out
    if kind == "max_unpool":
        indices = b["indices"]
        if not isinstance(indices, _Indices):
            raise InputValueError(f"{where}: max_unpool needs the indices of a max pooling of the same network",
                                  "module")
        layer = _unpool_map(shape, indices.indices, b["kernel_size"], b["stride"], b["padding"], b["output_size"],
                            ctx.max_bytes, where)
        return _apply(layer, x, ctx)
    raise AssertionError(kind)  # pragma: no cover


# =========================================================================== the entry point
def _sample(x, shape, name: str = "x") -> np.ndarray:
    arr = as_array(detached(x), name, rule="must be an array of real numbers (one sample)", finite=True)
    if arr.shape == (1, *shape):
        arr = arr[0]
    if arr.shape != tuple(shape):
        raise InputValueError(f"{name} has shape {arr.shape} but input_size={tuple(shape)}: pass one sample of "
                              f"that shape (without the batch dimension)", name)
    return arr.astype(np.float64).reshape(-1)


def from_torch(module: Any, input_size: Any, *, x: Any = None, format: str = "csr",
               max_bytes: int | None = None) -> AffineMap:
    """The affine map of a ``torch.nn`` module on one sample: ``module(x[None])[0] == map(x)``.

    Parameters
    ----------
    module : torch.nn.Module
        A supported module (see :data:`SUPPORTED_MODULES`), an ``nn.Sequential``
        of them, or a custom module whose forward ``torch.fx`` traces into
        them (with ``+``, ``-``, scaling by constants, ``torch.cat`` along a
        non-batch axis, ``flatten``/``view``, ``F.relu`` & co., ``F.max_pool``
        with ``return_indices`` and ``F.max_unpool``, ``F.interpolate``, ``F.pad``).
    input_size : tuple of int, or None
        The shape of one sample, ``(C, *spatial)`` (``(features,)`` for a
        ``Linear``), without the batch dimension; ``None`` takes ``x``'s shape.
    x : array_like or tensor, optional
        One sample at which the piecewise-linear modules (ReLU, LeakyReLU,
        PReLU, Hardtanh, ReLU6, max pooling) are linearised: their matrix is
        then the diagonal of their active slopes, or the selection of their
        switches, with ``x`` carried forward through the network.  For a
        ``MaxUnpool`` module on its own, ``x`` is its arguments for one sample,
        ``(input, indices)`` or ``(input, indices, output_size)``.
    format : str, optional
        Of the map's matrix: a ``scipy.sparse`` format (``"csr"`` default) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building, any matrix (of a layer or of a product) larger
        than this (default: ``CONVMATRIX_MAX_BYTES``, else 4 GiB).

    Returns
    -------
    AffineMap
        ``.matrix`` (on ``x.reshape(-1)``, C order), ``.offset`` (the bias
        terms), ``.input_shape``, ``.output_shape``.  With ``x`` given and a
        piecewise-linear network, ``.matrix`` is the network's Jacobian at
        ``x`` (torch's one-sided convention at the kinks: a ReLU at 0 has slope
        0) and ``map(x) == module(x)``.

    Raises
    ------
    TypeError
        For a module that is not supported (the message names its class and
        where it sits in the network), or arguments of the wrong type.
    ValueError
        For a piecewise-linear module without ``x`` (the message says ``x`` is
        needed), a module in training mode where that changes the map
        (BatchNorm, Dropout), an input shape the module does not take, or an
        ``x`` of another shape.
    ImportError
        When PyTorch is not installed.
    MatrixTooLargeError
        Before building, when a matrix would exceed ``max_bytes``.

    Examples
    --------
    >>> import torch, numpy as np, convmatrix as cm
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular").double()
    >>> f = cm.from_torch(conv, (2, 5, 5))
    >>> f
    <AffineMap (2, 5, 5) -> (3, 5, 5): 75 x 50 csr_array, 1,350 stored entries; offset: 75 nonzero of 75>
    >>> x = torch.randn(2, 5, 5, dtype=torch.float64)
    >>> np.allclose(f(x), conv(x[None])[0].detach())
    True

    A piecewise-linear network at a point: its Jacobian, sparse.

    >>> net = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    >>> J = cm.from_torch(net, (2, 5, 5), x=x)
    >>> jac = torch.func.jacrev(lambda v: net(v[None])[0])(x).reshape(J.shape)
    >>> np.allclose(J.matrix.toarray(), jac.detach().numpy()), np.allclose(J(x), net(x[None])[0].detach())
    (True, True)
    >>> cm.from_torch(net, (2, 5, 5))
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: module[1]: ReLU is piecewise linear, so its matrix depends on the input: x is needed (pass x=, one sample of shape (3, 5, 5), to get the map at that point)
    """
    torch = import_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputTypeError(f"module must be a torch.nn.Module, not {type(module).__name__}", "module")
    format = as_format(format)
    as_max_bytes(max_bytes)
    args = None
    if isinstance(x, tuple):  # a module of several arguments (MaxUnpool): (input, indices, ...)
        args = _split_args(x, _name(module))
        x = args[0]
    if input_size is None:
        if x is None:
            raise InputValueError("input_size=None needs x= to take the sample's shape from", "input_size")
        input_size = tuple(np.shape(detached(x)))
    shape = as_shape(input_size, "input_size")
    value = None if x is None else _sample(x, shape)
    ctx = _Context(torch, max_bytes, AffineGraph(shape, max_bytes))
    with torch.no_grad():
        out = _convert(module, _Value(0, shape, value), ctx, "", args=args)
    if isinstance(out, tuple):  # max pooling with return_indices: the map of the pooled values
        out = out[0]
    f = ctx.graph.map(out.node)
    if f.matrix.dtype != np.float64:  # a network of selections only: its numbers are float64 all the same
        f = AffineMap(f.matrix.astype(np.float64), f.offset, f.input_shape, f.output_shape)
    return f.asformat(format, max_bytes=max_bytes)  # canonical: sorted once, here
