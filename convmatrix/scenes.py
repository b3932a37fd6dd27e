"""Deterministic test images and filters, built by the package (nothing is downloaded), and PSNR.

For the tour, the docs and the tests: a grey-level scene with edges, discs,
stripes and checkers (:func:`synthetic_scene`), a first-layer filter bank of
Gaussian derivatives (:func:`filter_bank`), and the peak signal-to-noise ratio
(:func:`psnr`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._limits import guard_bytes
from ._validation import InputValueError, as_array, as_int, as_real

__all__ = ["synthetic_scene", "filter_bank", "psnr"]


def synthetic_scene(size: int = 64) -> np.ndarray:
    """A deterministic grey-level test image in [0, 1]: gradient, discs, a square, stripes, checkers.

    Built by the package (nothing is downloaded): a smooth background, a bright
    disc, a dark ring, a square, a patch of diagonal stripes and a checkerboard.

    Parameters
    ----------
    size : int, optional
        Side of the square image (at least 16).

    Returns
    -------
    (size, size) float64 ndarray

    Raises
    ------
    TypeError
        If ``size`` is not an integer.
    ValueError
        If ``size`` is smaller than 16.

    Examples
    --------
    >>> im = synthetic_scene(64)
    >>> im.shape, float(im.min()) >= 0, float(im.max()) <= 1
    ((64, 64), True, True)
    """
    size = as_int(size, "size", minimum=16)
    guard_bytes(8 * 8 * size * size, None, what=f"a {size} x {size} scene (size) and its working arrays")
    u = (np.arange(size) + 0.5) / size
    Y, X = np.meshgrid(u, u, indexing="ij")
    im = 0.25 + 0.2 * X + 0.1 * Y
    im = np.where((X - 0.3) ** 2 + (Y - 0.3) ** 2 < 0.18**2, 0.9, im)
    ring = np.hypot(X - 0.72, Y - 0.3)
    im = np.where((ring > 0.1) & (ring < 0.16), 0.05, im)
    im = np.where((np.abs(X - 0.28) < 0.14) & (np.abs(Y - 0.75) < 0.14), 0.65, im)
    stripes = (np.abs(X - 0.75) < 0.16) & (np.abs(Y - 0.76) < 0.16)
    im = np.where(stripes, 0.5 + 0.35 * np.sign(np.sin(2 * np.pi * (X + Y) * size / 8)), im)
    return np.clip(im, 0.0, 1.0)


def filter_bank(kernel_size: int = 7) -> np.ndarray:
    """Eight deterministic 2-D filters of unit norm, shape ``(8, 1, k, k)``, for a first layer.

    A Gaussian, its derivatives along x, y and the two diagonals, a Laplacian
    of Gaussian, a saddle ``x y g``, and a centred delta (which lets a sparse
    code fix the residual detail the smooth filters miss).

    Parameters
    ----------
    kernel_size : int, optional
        Odd side ``k`` of the filters (at least 3).

    Returns
    -------
    (8, 1, k, k) float64 ndarray

    Raises
    ------
    TypeError
        If ``kernel_size`` is not an integer.
    ValueError
        If ``kernel_size`` is even or smaller than 3.

    Examples
    --------
    >>> f = filter_bank(7)
    >>> f.shape, np.allclose((f ** 2).sum(axis=(1, 2, 3)), 1)
    ((8, 1, 7, 7), True)
    """
    kernel_size = as_int(kernel_size, "kernel_size", minimum=3)
    if kernel_size % 2 == 0:
        raise InputValueError(f"kernel_size={kernel_size!r} must be an odd integer of at least 3")
    u = np.arange(kernel_size) - kernel_size // 2
    Y, X = np.meshgrid(u, u, indexing="ij")
    sigma2 = (kernel_size / 3.5) ** 2
    g = np.exp(-(X**2 + Y**2) / (2 * sigma2))
    delta = ((X == 0) & (Y == 0)).astype(np.float64)
    bank = np.array([g, X * g, Y * g, (X + Y) * g, (X - Y) * g, (X**2 + Y**2 - 2 * sigma2) * g, X * Y * g, delta])
    bank /= np.linalg.norm(bank.reshape(8, -1), axis=1)[:, None, None]
    return bank[:, None]


def psnr(x: Any, reference: Any, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(peak² / MSE)`` in dB.

    Parameters
    ----------
    x, reference : array_like
        Real numbers of the same shape.
    peak : float, optional
        The largest possible value (1 for images in [0, 1]); positive and finite.

    Returns
    -------
    float
        ``inf`` where ``x == reference``.

    Raises
    ------
    TypeError
        If ``x`` or ``reference`` is not real numbers, or ``peak`` not a real number.
    ValueError
        If the shapes differ or ``peak`` is not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.full(4, 0.1), np.zeros(4)), 2)
    20.0
    """
    x = as_array(x, "x", rule="must hold real numbers (integer or float)").astype(np.float64)
    ref = as_array(reference, "reference", rule="must hold real numbers (integer or float)").astype(np.float64)
    peak = as_real(peak, "peak", positive=True)
    if x.shape != ref.shape:
        raise InputValueError(f"x has shape {x.shape} but reference has shape {ref.shape}: they must match")
    mse = float(np.mean((x - ref) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))
