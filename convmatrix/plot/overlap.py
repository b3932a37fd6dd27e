"""Overlap (checkerboard) maps of a layer or a stack, one panel per depth, with each layer's verdict."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from .._validation import InputTypeError, as_bool, as_index
from ..geometry import ConvTransposeGeometry
from ..overlap import OverlapMap
from ._grid import montage, slice_labels, spatial_lead_names
from ._mpl import axes_grid, root_figure, text_color_on
from .fields import cell_edges

__all__ = ["plot_overlap", "OVERLAP_CMAP", "UNEVEN_COLOR", "EVEN_COLOR"]

#: Sequential colormap of the counts.
OVERLAP_CMAP = "magma"
#: Title colours of the verdicts.
UNEVEN_COLOR, EVEN_COLOR = "#c0392b", "#1e8449"


def _layer_text(g, l: int, uneven: bool) -> str:
    """``after layer l: transposed k=3x3, s=2x2`` and the layer's own verdict on a second line."""
    kind = "transposed" if isinstance(g, ConvTransposeGeometry) else "conv"
    k = "x".join(map(str, g.kernel_size))
    s = "x".join(map(str, g.stride))
    where = "layer 1" if l == 1 else f"after layer {l}"
    verdict = "uneven overlap (checkerboard)" if uneven else "even overlap"
    return f"{where}: {kind} k={k}, s={s}\nlayer {l} alone: {verdict}"


def _panel(ax, counts: np.ndarray, title: str, uneven: bool | None, annotate: bool | None, learned: bool) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    nd = counts.ndim
    img, m = montage(counts.astype(float), gap=1)
    cmap = colormaps[OVERLAP_CMAP].with_extremes(bad="white")
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    norm = Normalize(min(lo, hi - 1e-12) if learned else max(0.0, lo - 1), hi)
    im = ax.imshow(np.ma.masked_invalid(img), cmap=cmap, norm=norm, interpolation="nearest")
    if counts.size <= 1024:
        cell_edges(ax, m, color="white", linewidth=0.4)
    if annotate is None:
        annotate = counts.size <= 100
    if annotate:
        _annotate(ax, counts, m, cmap, norm)
    lead = m.lead if nd > 2 else ()
    for label, (r0, c0) in zip(slice_labels(spatial_lead_names(nd), lead) if lead else [], m.origins):
        ax.text(c0 - 0.5, r0 - 0.7, label, fontsize=7, va="bottom")
    ax.set_xticks([])
    ax.set_yticks([])
    color = None if uneven is None else (UNEVEN_COLOR if uneven else EVEN_COLOR)
    ax.set_title(title, fontsize=9, color=color)
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.8, label="sum of |w| along paths" if learned else "count")
    if not learned:
        from matplotlib.ticker import MaxNLocator

        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()


def _annotate(ax, counts: np.ndarray, m, cmap, norm) -> None:
    rows, cols = m.place(np.indices(counts.shape).reshape(counts.ndim, -1))
    for r, c, v in zip(rows, cols, counts.reshape(-1)):
        text = f"{v:g}" if float(v).is_integer() else f"{v:.2g}"
        ax.text(c, r, text, ha="center", va="center", fontsize=7, color=text_color_on(cmap(norm(v))))


def plot_overlap(m: Any, *, ax=None, channel: int | None = None, annotate: bool | None = None,
                 uneven: bool | None = None, title: str | None = None):
    """Overlap (checkerboard) maps: one panel per depth of a stack, titled with each layer's verdict.

    Parameters
    ----------
    m : OverlapMap or array_like
        An :func:`~convmatrix.overlap_map` (forward: ``|M|𝟙`` over each layer's
        output; gradient: ``|M|ᵀ𝟙`` over the input), or one map of counts of
        any shape, e.g. :func:`~convmatrix.overlap_counts`.
    ax : Axes or sequence of Axes, optional
        One per panel (the depth of the stack).
    channel : int, optional
        Draw this channel of each map; default: the sum over channels.
    annotate : bool, optional
        Write the value in every cell; default for maps of at most 100 cells.
    uneven : bool, optional
        The verdict to print for a plain array (an OverlapMap carries its own).
    title : str, optional
        The figure's title (default: what the maps are).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For something that is not an OverlapMap or an array of numbers, or a bad channel.

    Examples
    --------
    >>> import convmatrix as cm
    >>> g1 = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 3, 3), (3, 3), stride=2)
    >>> g2 = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 4, 4), g1.output_size, stride=2, padding=1)
    >>> fig = plot_overlap(cm.overlap_map([g1, g2]))
    >>> for a in fig.axes[:2]:
    ...     print(a.get_title())
    layer 1: transposed k=3x3, s=2x2
    layer 1 alone: uneven overlap (checkerboard)
    after layer 2: transposed k=4x4, s=2x2
    layer 2 alone: even overlap
    """
    if isinstance(m, OverlapMap):
        panels = []
        for l, (g, mp, verdict) in enumerate(zip(m.layers, m.maps, m.uneven), start=1):
            counts = mp.sum(axis=0) if channel is None else mp[as_index(channel, "channel", mp.shape[0],
                                                                             what="a channel index")]
            panels.append((counts, _layer_text(g, l, verdict), verdict))
        learned = m.learned
        what = ("|M|𝟙: a constant input through the stack" if m.direction == "forward"
                else "|M|ᵀ𝟙: a constant gradient back to the input")
        suptitle = title if title is not None else f"overlap maps, {what}" + (" (learned kernels)" if learned else "")
    else:
        try:
            counts = np.asarray(m)
        except Exception:  # noqa: BLE001 - anything numpy cannot read is the caller's mistake
            counts = None
        if counts is None or counts.dtype.kind not in "biuf" or counts.ndim == 0 or counts.size == 0:
            raise InputTypeError(f"m must be an OverlapMap or a non-empty array of numbers, not "
                                 f"{type(m).__name__}", "m")
        verdict = None if uneven is None else as_bool(uneven, "uneven")
        word = "" if verdict is None else ("\nuneven overlap (checkerboard)" if verdict else "\neven overlap")
        panels = [(counts, f"overlap counts{word}", verdict)]
        learned = counts.dtype.kind == "f"
        suptitle = title
    n = len(panels)
    width = min(4.2 * n, 16)
    fig, axes = axes_grid(ax, n, (width, 4.0), ncols=min(n, 4))
    for a, (counts, text, verdict) in zip(axes, panels):
        _panel(a, counts, text, verdict, annotate, learned)
    if suptitle and ax is None:
        fig.suptitle("\n".join(textwrap.wrap(suptitle, int(width * 12))), fontsize=10)
    return root_figure(axes[0])
