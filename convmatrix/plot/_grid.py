"""N-d arrays as 2-D pictures: 1-d as one row, 2-d as they are, more axes as a grid of 2-D slices."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from ..export.layout import spatial_names

__all__ = ["Montage", "montage_layout", "montage", "slice_labels", "spatial_lead_names"]


@dataclass(frozen=True)
class Montage:
    """Where each 2-D slice of an array of shape ``(*lead, h, w)`` sits in one picture.

    Attributes
    ----------
    lead : tuple of int
        The leading axes (one panel per index).
    panel : (int, int)
        ``(h, w)`` of a slice (``(1, n)`` for a 1-d array).
    origins : ndarray, shape (prod(lead), 2)
        Top-left ``(row, col)`` of each panel, in C order of the leading indices.
    size : (int, int)
        ``(height, width)`` of the whole picture, gaps included.
    """

    lead: tuple
    panel: tuple
    origins: np.ndarray
    size: tuple

    def place(self, index) -> tuple[np.ndarray, np.ndarray]:
        """Picture ``(row, col)`` of indices into the original array (a tuple of arrays, one per axis)."""
        index = [np.asarray(i) for i in index]
        if len(index) == 1:  # a 1-d array: one row
            return np.zeros_like(index[0]), index[0]
        *lead, r, c = index
        flat = np.ravel_multi_index(lead, self.lead) if lead else np.zeros_like(r)
        return self.origins[flat, 0] + r, self.origins[flat, 1] + c


def montage_layout(shape: tuple[int, ...], gap: int = 1, ncols: int | None = None) -> Montage:
    """The :class:`Montage` of an array of ``shape``: panels in a row, or a near-square grid beyond 8.

    Examples
    --------
    >>> m = montage_layout((2, 3, 4))
    >>> m.panel, m.origins.tolist(), m.size
    ((3, 4), [[0, 0], [0, 5]], (3, 9))
    >>> montage_layout((5,)).size
    (1, 5)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        shape = (1,) + shape
    *lead, h, w = shape
    lead = tuple(lead)
    n = prod(lead)
    if ncols is None:
        ncols = lead[-1] if len(lead) == 2 and lead[-1] <= 8 else (n if n <= 8 else int(np.ceil(np.sqrt(n))))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    k = np.arange(n)
    origins = np.stack([(k // ncols) * (h + gap), (k % ncols) * (w + gap)], axis=1)
    size = (nrows * h + (nrows - 1) * gap, ncols * w + (ncols - 1) * gap)
    return Montage(lead, (h, w), origins, size)


def montage(arr: np.ndarray, gap: int = 1, fill: float = np.nan, ncols: int | None = None):
    """``(picture, layout)``: the slices of ``arr`` placed by :func:`montage_layout`, ``fill`` in the gaps.

    Examples
    --------
    >>> img, m = montage(np.arange(8).reshape(2, 2, 2), fill=-1)
    >>> img.tolist()
    [[0, 1, -1, 4, 5], [2, 3, -1, 6, 7]]
    """
    arr = np.asarray(arr)
    a = arr.reshape(1, -1) if arr.ndim == 1 else arr
    m = montage_layout(a.shape, gap, ncols)
    out = np.full(m.size, fill, dtype=np.result_type(a.dtype, np.asarray(fill).dtype))
    h, w = m.panel
    for n, (r0, c0) in enumerate(m.origins):
        out[r0:r0 + h, c0:c0 + w] = a.reshape(-1, h, w)[n]
    return out, m


def slice_labels(lead_names: tuple[str, ...], lead: tuple[int, ...]) -> list[str]:
    """``"z=0"``, ``"c=1, z=2"``, … for each panel of a montage (in C order).

    Examples
    --------
    >>> slice_labels(("c", "z"), (1, 2))
    ['c=0, z=0', 'c=0, z=1']
    """
    return [", ".join(f"{n}={i}" for n, i in zip(lead_names, idx)) for idx in np.ndindex(*lead)]


def spatial_lead_names(ndim: int, channel: str | None = None) -> tuple[str, ...]:
    """Names of the leading axes of a ``(channel, *spatial)`` array laid out as 2-D slices."""
    names = spatial_names(ndim)[:-2] if ndim > 2 else ()
    return ((channel,) if channel else ()) + tuple(names)

