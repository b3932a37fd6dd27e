"""Zeiler's deconvolutional networks as pictures: reconstructions per layer, and filter banks."""

from __future__ import annotations

from math import prod
from typing import Any, Sequence

import numpy as np

from .._validation import InputTypeError, InputValueError, as_array, as_choice, as_int, as_sequence
from ..scenes import psnr
from ..sparse_coding import InferenceResult
from ..zeiler import ZeilerLayer, ZeilerStack
from ._grid import montage
from ._mpl import axes_grid, root_figure

__all__ = ["layerwise_inference", "plot_reconstructions", "plot_filters"]


def layerwise_inference(stack: ZeilerStack, y: Any, *, lam: float = 1.0, n_iter: int = 100,
                        method: str = "fista") -> list[InferenceResult]:
    """Zeiler's layer-wise inference: layer ``l``'s maps from ``y`` with the switches of the maps inferred below.

    Returns one :class:`~convmatrix.InferenceResult` per layer (``z`` shaped as the layer's maps).

    Raises
    ------
    TypeError, ValueError
        As :meth:`~convmatrix.ZeilerStack.infer`.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> stack = cm.ZeilerStack([cm.ZeilerLayer(np.ones((1, 1, 1)))], (1, 3))
    >>> [r.z.shape for r in layerwise_inference(stack, [[3.0, 0.5, -2.0]], n_iter=5)]
    [(1, 3)]
    """
    results, maps = [], []
    for l in range(1, stack.depth + 1):
        switches = stack.switches(maps) if maps else []
        res = stack.infer(y, l, switches, lam=lam, n_iter=n_iter, method=method)
        results.append(res)
        maps.append(res.z)
    return results


def _image(a: np.ndarray) -> np.ndarray:
    """A ``(C, H, W)`` sample as something imshow draws: grey for one channel, RGB for three, else channel 0."""
    if a.shape[0] == 3:
        return np.clip(np.moveaxis(a, 0, -1), 0, 1)
    return a[0]


def plot_reconstructions(stack: ZeilerStack, y: Any, *, results: Sequence[InferenceResult] | None = None,
                         lam: float = 1.0, n_iter: int = 100, method: str = "fista", maps: int = 3, ax=None):
    """Zeiler's reconstructions ``R_l z_l`` of an image, one row per layer: the image, the reconstruction, some maps.

    Parameters
    ----------
    stack : ZeilerStack
        With 2-d spatial axes.
    y : array_like, shape ``stack.input_shape``
        The image (1 channel drawn grey, 3 as RGB in [0, 1], else channel 0).
    results : sequence of InferenceResult, optional
        One per layer (e.g. :func:`layerwise_inference`); default: inferred here
        layer by layer with ``lam``, ``n_iter`` and ``method``.
    maps : int, optional
        Feature maps ``z_l[k]`` shown per layer (the ``maps`` with the largest ``‖z_l[k]‖₁``).
    ax : sequence of Axes, optional
        ``depth * (2 + maps)`` axes, row by row.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        A stack that is not 2-d, an image of the wrong size, results that do
        not match the layers, bad solver arguments.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> stack = cm.ZeilerStack([cm.ZeilerLayer(cm.filter_bank(7), "valid")], (1, 16, 16))
    >>> fig = plot_reconstructions(stack, cm.synthetic_scene(16)[None], lam=30.0, n_iter=20, maps=2)
    >>> [a.get_title().split(":")[0] for a in fig.axes][:2], len(fig.axes)
    (['image', 'R_1 z_1'], 4)
    """
    if not isinstance(stack, ZeilerStack):
        raise InputTypeError(f"stack must be a ZeilerStack, not a {type(stack).__name__}", "stack")
    if len(stack.input_shape) != 3:
        raise InputValueError(f"stack must have 2-d images to draw them: its input is {stack.input_shape}", "stack")
    maps = as_int(maps, "maps", minimum=0)
    image = as_array(y, "y", rule="must hold real numbers (integer or float)").astype(float)
    if image.size != prod(stack.input_shape):
        raise InputValueError(f"y has shape {image.shape} but the stack's input is {stack.input_shape}", "y")
    image = image.reshape(stack.input_shape)
    if results is None:
        method = as_choice(method, "method", ("ista", "fista"))
        results = layerwise_inference(stack, image, lam=lam, n_iter=n_iter, method=method)
    results = list(as_sequence(results, "results", "InferenceResult"))
    if len(results) != stack.depth or not all(isinstance(r, InferenceResult) for r in results):
        raise InputValueError(f"results must hold one InferenceResult per layer ({stack.depth})", "results")
    cols = 2 + maps
    fig, axes = axes_grid(ax, stack.depth * cols, (2.2 * cols, 2.3 * stack.depth + 0.4), ncols=cols)
    zs = [r.z.reshape(s) for r, s in zip(results, stack.map_shapes)]
    for l in range(1, stack.depth + 1):
        row = axes[(l - 1) * cols:l * cols]
        switches = stack.switches(zs[:l - 1]) if l > 1 else []
        rec = (stack.R(l, switches) @ zs[l - 1].reshape(-1)).reshape(stack.input_shape)
        _show(row[0], _image(image), "image", grey=image.shape[0] != 3)
        peak = float(image.max() - image.min()) or 1.0
        _show(row[1], _image(rec), f"R_{l} z_{l}: {psnr(rec, image, peak):.1f} dB", grey=image.shape[0] != 3)
        z = zs[l - 1]
        order = np.argsort(-np.abs(z).reshape(z.shape[0], -1).sum(axis=1), kind="stable")[:maps]
        for a, k in zip(row[2:], order):
            _show_map(a, z[k], f"z_{l}[{k}]")
        for a in row[2 + len(order):]:
            a.set_axis_off()
        row[0].set_ylabel(f"layer {l}", fontsize=9)
    if ax is None:
        fig.suptitle("Zeiler's reconstructions R_l z_l = F_1 U_s1 … F_l z_l, layer by layer", fontsize=10)
    return root_figure(axes[0])


def _show(ax, img: np.ndarray, title: str, grey: bool) -> None:
    ax.imshow(img, cmap="gray" if grey else None, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _show_map(ax, z: np.ndarray, title: str) -> None:
    v = float(np.abs(z).max()) or 1.0
    ax.imshow(z, cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
    ax.set_title(title + f": {np.count_nonzero(z) / z.size:.0%} nonzero", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_filters(filters: Any, *, ax=None, title: str | None = None):
    """Filter banks as image grids: one panel per layer of a stack, maps down and channels across.

    Parameters
    ----------
    filters : ZeilerStack, ZeilerLayer or array_like of shape (K, C, kH, kW)
    ax : Axes or sequence of Axes, optional
        One per layer.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For something that is not 2-d filters.

    Examples
    --------
    >>> import convmatrix as cm
    >>> fig = plot_filters(cm.filter_bank(7))
    >>> fig.axes[0].get_title()
    'filters (8, 1, 7, 7)'
    """
    if isinstance(filters, ZeilerStack):
        banks = [layer.filters for layer in filters.layers]
    elif isinstance(filters, ZeilerLayer):
        banks = [filters.filters]
    else:
        banks = [as_array(filters, "filters", rule="must hold real numbers (integer or float)")]
    for b in banks:
        if b.ndim != 4:
            raise InputValueError(f"filters must have shape (K, C, kH, kW) to draw them: got {b.shape}", "filters")
    n = len(banks)
    fig, axes = axes_grid(ax, n, (3.4 * n, 3.6))
    for l, (a, b) in enumerate(zip(axes, banks), start=1):
        img, _ = montage(b.astype(float), gap=1, ncols=b.shape[1])
        v = float(np.nanmax(np.abs(img))) or 1.0
        a.imshow(np.ma.masked_invalid(img), cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
        a.set_title((f"layer {l}: " if n > 1 else "") + f"filters {b.shape}", fontsize=9)
        a.set_xlabel("channel c", fontsize=8)
        a.set_ylabel("map k", fontsize=8)
        a.set_xticks([])
        a.set_yticks([])
    if title is not None:
        fig.suptitle(title, fontsize=10)
    return root_figure(axes[0])
