"""Reading pictures back for the tests: rendered figures as pixel arrays, and where things land in them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

DPI = 100


def render(fig, dpi: float = DPI) -> np.ndarray:
    """The figure saved as PNG and read back with pillow: ``(height, width, 3)`` uint8.

    Saved at the figure's own dpi so that its transforms give the pixels.
    """
    fig.set_dpi(dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def pixel(img: np.ndarray, ax, x: float, y: float) -> tuple[int, int]:
    """``(row, col)`` of the pixel where data point ``(x, y)`` of ``ax`` lands."""
    dx, dy = ax.transData.transform((x, y))
    return int(round(img.shape[0] - dy - 0.5)), int(round(dx - 0.5))


def colors_present(img: np.ndarray, palette, min_pixels: int = 4) -> set:
    """The colours of ``palette`` (8-bit RGB) that cover at least ``min_pixels`` pixels of ``img``."""
    flat = img.reshape(-1, 3)
    codes = (flat[:, 0].astype(np.int64) << 16) | (flat[:, 1].astype(np.int64) << 8) | flat[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist()))
    return {tuple(c) for c in palette if found.get((c[0] << 16) | (c[1] << 8) | c[2], 0) >= min_pixels}


def is_black(rgb, tol: int = 70) -> bool:
    return bool(np.all(np.asarray(rgb) <= tol))


def box(img: np.ndarray, ax) -> tuple[slice, slice]:
    """Rows and columns of the pixels inside an axes."""
    bb = ax.get_window_extent()
    h = img.shape[0]
    return slice(int(h - bb.y1) + 1, int(h - bb.y0) - 1), slice(int(bb.x0) + 1, int(bb.x1) - 1)
