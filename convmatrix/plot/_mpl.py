"""matplotlib plumbing shared by the pictures: the extra's import, figures without pyplot, PNG bytes, files.

Figures are made with :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: no global state, no backend, nothing shown, and nothing to close.
In a notebook a returned figure displays itself (``%matplotlib inline``); a
script saves it with ``fig.savefig(...)``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Sequence

from .._validation import InputTypeError, InputValueError, as_sequence

__all__ = ["PLOT_EXTRA", "PICTURE_SUFFIXES", "require_matplotlib", "figure_axes", "root_figure", "axes_grid",
           "figure_png", "figure_bytes", "save_figure", "rgb", "text_color_on"]

#: How to install what the pictures need.
PLOT_EXTRA = 'pip install "convmatrix[plot]"'
#: File suffixes matplotlib writes for a picture.
PICTURE_SUFFIXES = (".png", ".svg", ".pdf")


def require_matplotlib(what: str = "this picture"):
    """``matplotlib``, or an ImportError that names the ``plot`` extra.

    Raises
    ------
    ImportError
        When matplotlib (or pillow, which the animations need) is not installed.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"{what} needs matplotlib, which is not installed: it comes with the plot extra, "
                          f"{PLOT_EXTRA}") from exc
    return matplotlib


def figure_axes(ax, figsize: tuple[float, float]):
    """``(fig, ax)``: the user's axes and its figure, or a new figure (constrained layout) with one axes.

    Raises
    ------
    TypeError
        When ``ax`` is neither ``None`` nor a matplotlib Axes.
    """
    require_matplotlib()
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise InputTypeError(f"ax must be a matplotlib Axes or None, not a {type(ax).__name__}", "ax")
    return root_figure(ax), ax


def root_figure(ax):
    """The figure an Axes belongs to (the top one, when the Axes is in a subfigure)."""
    fig = ax.figure
    return getattr(fig, "figure", None) or fig


def axes_grid(ax, n: int, figsize: tuple[float, float], *, ncols: int | None = None,
              width_ratios: Sequence[float] | None = None, **subplot_kw: Any):
    """``(fig, axes)``: ``n`` axes of the user (a sequence), or a new figure with ``n`` axes in a grid.

    Raises
    ------
    TypeError, ValueError
        When ``ax`` is not ``None`` or a sequence of exactly ``n`` Axes.
    """
    require_matplotlib()
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is not None:
        if isinstance(ax, Axes):
            if n == 1:
                return figure_axes(ax, figsize)[0], [ax]
            raise InputValueError(f"ax must be a sequence of {n} Axes for this picture of {n} panels, "
                                  "not one Axes", "ax")
        axes = list(as_sequence(ax, "ax", "matplotlib Axes"))
        if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
            raise InputValueError(f"ax must hold {n} matplotlib Axes, one per panel: got {len(axes)} items", "ax")
        return figure_axes(axes[0], figsize)[0], axes
    ncols = n if ncols is None else min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=figsize, layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, width_ratios=width_ratios, subplot_kw=subplot_kw or None)
    axes = list(grid.reshape(-1))
    for extra in axes[n:]:
        extra.remove()
    return fig, axes[:n]


def figure_png(fig, dpi: float = 100) -> bytes:
    """The figure as PNG bytes (for ``_repr_png_``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike, *, dpi: float = 150) -> Path:
    """Save a figure by its suffix (``.png``, ``.svg``, ``.pdf``), whole or not at all.

    Raises
    ------
    ValueError
        On another suffix, or a missing folder.
    """
    from ..export.files import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PICTURE_SUFFIXES:
        raise InputValueError(f"path={str(path)!r} must end in one of {', '.join(PICTURE_SUFFIXES)}", "path")
    if not path.parent.exists():
        raise InputValueError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist", "path")
    data = figure_bytes(fig, suffix[1:], dpi=dpi)
    with atomic_write(path) as fh:
        fh.write(data)
    return path


def figure_bytes(fig, format: str, *, dpi: float = 150) -> bytes:
    """The figure as ``png``, ``svg`` or ``pdf`` bytes; the same picture gives the same bytes (no dates, fixed ids)."""
    import matplotlib

    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(format, {})
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "convmatrix"}):
        fig.savefig(buf, format=format, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def rgb(color) -> tuple[float, float, float]:
    """An 8-bit RGB triple as matplotlib's floats in [0, 1]."""
    return tuple(c / 255 for c in color)


def text_color_on(color) -> str:
    """Black or white, whichever reads better on an RGB(A) background in [0, 1]."""
    r, g, b = color[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"
