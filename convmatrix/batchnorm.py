"""Batch normalization in numbers, as torch computes it, and in eval mode as a matrix.

:class:`BatchNorm`, :func:`batchnorm_forward`, :func:`batchnorm_backward` — NumPy
numerics faithful to ``torch.nn.BatchNorm{1,2,3}d`` (Ioffe & Szegedy, 2015);
eval mode as a diagonal affine matrix (:func:`batchnorm_eval_matrix`) and folded
into a preceding convolution (:func:`fold_conv_batchnorm`).  The symbolic
derivation of the same layer is :mod:`convmatrix.batchnorm_symbolic`; the
well-known NumPy reference code it is compared with is in
:mod:`convmatrix.testing`.

One value per channel
---------------------
With ``m = 1`` (one sample and no spatial extent) a training-mode batch norm
has ``x̂ = 0``, ``y = β`` and ``∂L/∂x = 0`` whatever the input, and the
unbiased running variance ``m/(m − 1)`` is undefined.  torch refuses it
("Expected more than 1 value per channel when training"); so do the numerics
here, with a ``ValueError``.  The symbolic derivation accepts
``batch_size=1`` (with ε > 0): every step still holds and it shows exactly that
degenerate result; ``batch_size=1`` with ``eps=0`` is refused (σ_ε = 0).
"""

from __future__ import annotations

import numbers
from math import prod
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._limits import as_format, as_max_bytes, guard, guard_bytes
from ._sparse import finish
from ._validation import (InputTypeError, InputValueError, as_array, as_bool, as_channel_values, as_int, as_real,
                          as_real_array, is_bool, is_sequence, ndim_of, show)
from .geometry import normalize_tuple

__all__ = [
    "BatchNorm",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_eval_matrix",
    "fold_conv_batchnorm",
    "check_running_var",
]


def check_running_var(rv: np.ndarray, eps: float | None, name: str = "running_var") -> None:
    """A running variance is non-negative; where it normalizes (``eps`` given), ``rv + eps > 0`` (σ_ε > 0)."""
    bad = np.flatnonzero(rv < 0)
    if bad.size:
        k = int(bad[0])
        raise InputValueError(f"{name} must be non-negative (it is a variance): {name}[{k}]={rv[k]}"
                         + (f" and {bad.size - 1} more negative" if bad.size > 1 else ""))
    if eps is None:
        return
    bad = np.flatnonzero(rv + eps <= 0)
    if bad.size:
        k = int(bad[0])
        raise InputValueError(f"{name} + eps must be positive: {name}[{k}]={rv[k]} with eps={eps} gives σ_ε = 0 "
                         "(pass eps > 0)")


def _check_input(x) -> np.ndarray:
    arr = as_real_array(x, "x", "(N, C, *spatial)")
    if arr.ndim < 2:
        raise InputValueError(f"x must have shape (N, C, *spatial) with at least 2 axes: got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or 0 in arr.shape[2:]:
        raise InputValueError(f"x={arr.shape} must not be empty")
    return arr.astype(np.float64)


_CACHE_KEYS = ("xhat", "invstd", "weight", "batch_stats", "mean", "var", "m")


def _check_cache(cache) -> dict:
    if not isinstance(cache, dict):
        raise InputTypeError(f"cache must be the dict returned by batchnorm_forward: got {type(cache).__name__}")
    missing = [k for k in _CACHE_KEYS if k not in cache]
    if missing:
        raise InputValueError(f"cache must be the dict returned by batchnorm_forward: it lacks {', '.join(missing)}")
    return cache


def _axes(x: np.ndarray) -> tuple:
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward(x: Any, weight: Any = None, bias: Any = None, *, running_mean: Any = None,
                      running_var: Any = None, training: bool = True, eps: float = 1e-5) -> tuple:
    """Batch normalization of ``x`` of shape ``(N, C, *spatial)``, as ``torch.nn.functional.batch_norm``.

    Statistics are per channel over every axis but ``C`` (``m = N · H · W ...``
    values).  In training (or without running statistics) the batch mean and the
    *biased* batch variance normalize; otherwise the running statistics do.
    Running statistics are not updated here (see :class:`BatchNorm`).

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial)
    weight, bias : array_like, shape (C,), optional
        γ and β (``None``: 1 and 0).
    running_mean, running_var : array_like, shape (C,), optional
        Used when ``training`` is false; both or neither.
    training : bool, optional
    eps : float, optional

    Returns
    -------
    y : ndarray, shape of x
    cache : dict
        What :func:`batchnorm_backward` needs: ``xhat``, ``invstd``, ``weight``,
        ``batch_stats`` (whether the batch statistics were used), ``mean``,
        ``var`` (the biased batch variance, or the running one), ``m``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes or dtypes; ``eps < 0``; a negative ``running_var``, or
        ``running_var + eps <= 0`` where it is used; with batch statistics, as
        torch, ``eps <= 0`` and a single value per channel ("Expected more than
        1 value per channel when training").

    Examples
    --------
    >>> x = np.array([[1.0], [3.0]])
    >>> y, cache = batchnorm_forward(x, eps=3.0)
    >>> y.ravel().tolist(), cache["var"].tolist()
    ([-0.5, 0.5], [1.0])
    """
    x = _check_input(x)
    c = x.shape[1]
    weight, bias = as_channel_values(weight, "weight", c), as_channel_values(bias, "bias", c)
    running_mean = as_channel_values(running_mean, "running_mean", c)
    running_var = as_channel_values(running_var, "running_var", c)
    if (running_mean is None) != (running_var is None):
        raise InputValueError("running_mean and running_var must be given together (both or neither)")
    eps = as_real(eps, "eps")
    batch_stats = as_bool(training, "training") or running_mean is None
    if running_var is not None:
        check_running_var(running_var, None if batch_stats else eps)
    m = x.size // c
    if batch_stats:
        if m == 1:
            raise InputValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}: "
                             "batch statistics of one value normalize it to 0 (y = β, ∂L/∂x = 0)")
        if eps <= 0:
            raise InputValueError(f"eps={eps} must be positive with batch statistics (training), as torch's "
                             "batch_norm requires")
        mean, var = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
    else:
        mean, var = running_mean, running_var
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = xhat
    if weight is not None:
        y = y * _per_channel(weight, x.ndim)
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)
    cache = {"xhat": xhat, "invstd": invstd, "weight": weight, "batch_stats": batch_stats,
             "mean": mean, "var": var, "m": m}
    return y, cache


def batchnorm_backward(dout: Any, cache: dict) -> tuple:
    """Gradients of :func:`batchnorm_forward`: ``(dx, dweight, dbias)``, as torch's autograd.

    With batch statistics, per channel, ``dx = γ/(m σ_ε) (m dy − Σ dy − x̂ Σ dy x̂)``
    (the closed form of :func:`batchnorm_derivation`); with running statistics
    the layer is affine and ``dx = γ dy / σ_ε``.  ``dweight = Σ dy x̂``,
    ``dbias = Σ dy`` over all axes but ``C`` (returned even without weight/bias).

    Parameters
    ----------
    dout : array_like, shape of the forward input
    cache : dict
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray
    dweight, dbias : ndarray, shape (C,)

    Raises
    ------
    TypeError, ValueError
        ``dout`` not real numbers or of another shape than the forward input;
        ``cache`` not from :func:`batchnorm_forward`.

    Examples
    --------
    >>> x = np.array([[1.0], [3.0]])
    >>> y, cache = batchnorm_forward(x, eps=3.0)
    >>> dx, dw, db = batchnorm_backward(np.array([[5.0], [5.0]]), cache)
    >>> dx.ravel().tolist(), dw.tolist(), db.tolist()
    ([0.0, 0.0], [0.0], [10.0])
    """
    xhat = _check_cache(cache)["xhat"]
    dy = as_real_array(dout, "dout", f"{xhat.shape} (the forward input's)")
    if dy.shape != xhat.shape:
        raise InputValueError(f"dout has shape {dy.shape} but the forward input had shape {xhat.shape}: they must match")
    nd, axes = xhat.ndim, _axes(xhat)
    g = cache["weight"] if cache["weight"] is not None else np.ones(xhat.shape[1])
    scale = _per_channel(g * cache["invstd"], nd)
    dbias = dy.sum(axis=axes)
    dweight = (dy * xhat).sum(axis=axes)
    if cache["batch_stats"]:
        m = cache["m"]
        dx = scale / m * (m * dy - _per_channel(dbias, nd) - xhat * _per_channel(dweight, nd))
    else:
        dx = scale * dy
    return dx, dweight, dbias


class BatchNorm(Displayable):
    """``torch.nn.BatchNorm{1,2,3}d`` in NumPy (float64): training/eval, running statistics, backward.

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float, optional
    momentum : float or None, optional
        Running statistics follow ``r ← (1 − momentum) r + momentum · batch``;
        ``None`` is the cumulative average ``1/num_batches_tracked``.
    affine : bool, optional
        Learnable ``weight`` (γ, ones) and ``bias`` (β, zeros).
    track_running_stats : bool, optional
        Keep ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked``; without them eval mode uses batch statistics too.

    Raises
    ------
    TypeError, ValueError
        ``num_features`` not a positive int, ``eps < 0``, ``momentum`` outside
        ``[0, 1]``, ``affine`` or ``track_running_stats`` not a bool; in
        :meth:`forward`, as :func:`batchnorm_forward` and a channel count other
        than ``num_features``.

    Notes
    -----
    As torch: normalization uses the biased batch variance (divided by ``m``),
    the running variance is updated with the unbiased one (``m/(m − 1)``), and
    with batch statistics a single value per channel and ``eps <= 0`` are
    refused (eval mode with running statistics accepts both).  A refused call
    changes nothing here; torch 2.13 has already incremented
    ``num_batches_tracked`` when it refuses (not reproduced).  Any number of
    spatial axes (``(N, C)`` and ``(N, C, L)`` as BatchNorm1d, ``(N, C, H, W)``
    as BatchNorm2d, ...).

    Examples
    --------
    >>> bn = BatchNorm(1, momentum=None, eps=3.0)
    >>> y = bn.forward(np.array([[1.0], [3.0]]))
    >>> bn.running_mean.tolist(), bn.running_var.tolist(), bn.num_batches_tracked
    ([2.0], [2.0], 1)
    >>> bn.eval().forward(np.array([[2.0]])).tolist()
    [[0.0]]
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        self.num_features = as_int(num_features, "num_features", minimum=1)
        guard_bytes(5 * 8 * self.num_features, None, what=f"the parameters and statistics of {self.num_features:,} "
                                                         "channels (num_features)")
        self.eps = as_real(eps, "eps")
        if momentum is not None:
            if is_bool(momentum) or not isinstance(momentum, numbers.Real):
                raise InputTypeError(f"momentum={show(momentum)} must be a number in [0, 1] or None, not a "
                                     f"{type(momentum).__name__}", "momentum")
            momentum = float(momentum)
            if not 0 <= momentum <= 1:
                raise InputValueError(f"momentum={momentum} must be a number in [0, 1] (or None: cumulative average)",
                                      "momentum")
        self.momentum = momentum
        self.affine = as_bool(affine, "affine")
        self.track_running_stats = as_bool(track_running_stats, "track_running_stats")
        c = self.num_features
        self.weight = np.ones(c) if affine else None
        self.bias = np.zeros(c) if affine else None
        if track_running_stats:
            self.running_mean, self.running_var, self.num_batches_tracked = np.zeros(c), np.ones(c), 0
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self.training = True
        self._cache = None

    def train(self, mode: bool = True) -> "BatchNorm":
        """Training mode (``mode=True``) or eval mode; returns self."""
        self.training = as_bool(mode, "mode")
        return self

    def eval(self) -> "BatchNorm":
        """Eval mode; returns self."""
        return self.train(False)

    def forward(self, x: Any) -> np.ndarray:
        """The layer's output; in training with tracked statistics, also updates them."""
        x = _check_input(x)
        if x.shape[1] != self.num_features:
            raise InputValueError(f"x has {x.shape[1]} channels (axis 1 of shape {x.shape}) but num_features="
                             f"{self.num_features}")
        use_running = not self.training and self.track_running_stats
        y, cache = batchnorm_forward(
            x, self.weight, self.bias, running_mean=self.running_mean if use_running else None,
            running_var=self.running_var if use_running else None, training=not use_running, eps=self.eps)
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            f = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            m = cache["m"]
            self.running_mean = (1 - f) * self.running_mean + f * cache["mean"]
            self.running_var = (1 - f) * self.running_var + f * cache["var"] * m / (m - 1)
        self._cache = cache
        return y

    __call__ = forward

    def backward(self, dout: Any) -> tuple:
        """``(dx, dweight, dbias)`` for the last forward (``dweight``/``dbias`` None without affine)."""
        if self._cache is None:
            raise InputValueError("backward() needs a forward() first")
        dx, dw, db = batchnorm_backward(dout, self._cache)
        return (dx, dw, db) if self.affine else (dx, None, None)


# =========================================================================== eval mode as a matrix
def batchnorm_eval_matrix(running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None, *,
                          spatial_size: Any = (), eps: float = 1e-5, format: str = "csr",
                          max_bytes: int | None = None) -> tuple:
    """Eval-mode batch norm of one sample ``(C, *spatial)`` as the affine map ``y = D x + b``.

    Parameters
    ----------
    running_mean, running_var : array_like, shape (C,)
    weight, bias : array_like, shape (C,), optional
        γ and β (``None``: 1 and 0).
    spatial_size : int or tuple of int, optional
        Spatial size of one sample (``()`` for BatchNorm1d on ``(N, C)``).
    eps : float, optional
    format : str, optional
        A ``scipy.sparse`` format for ``D`` (``"csr"``) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building it, a ``D`` larger than this (default: the
        environment variable ``CONVMATRIX_MAX_BYTES``, else 4 GiB) — a dense
        ``D`` has ``(C·P)²`` entries.

    Returns
    -------
    D : (C·P, C·P) sparse array or ndarray
        Diagonal, ``D[c·P + p, c·P + p] = γ_c / sqrt(running_var_c + eps)``.
    b : (C·P,) ndarray
        ``β_c − γ_c · running_mean_c / sqrt(running_var_c + eps)`` repeated over
        the ``P`` positions of channel ``c``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes, ``eps < 0``, a negative ``running_var`` or a non-positive
        ``running_var + eps``, a bad ``spatial_size``, an unknown format.
    MatrixTooLargeError
        ``D`` over ``max_bytes``.

    Examples
    --------
    >>> D, b = batchnorm_eval_matrix([1.0, 0.0], [4.0, 1.0], [2.0, 1.0], [0.0, 5.0], spatial_size=2, eps=0.0)
    >>> D.toarray().diagonal().tolist(), b.tolist()
    ([1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, 5.0, 5.0])
    """
    rm = as_channel_values(running_mean, "running_mean", None, required=True)
    c = rm.shape[0]
    rv = as_channel_values(running_var, "running_var", c, required=True, like="running_mean")
    g = as_channel_values(weight, "weight", c, like="running_mean")
    beta = as_channel_values(bias, "bias", c, like="running_mean")
    eps = as_real(eps, "eps")
    check_running_var(rv, eps)
    sizes = _check_spatial_size(spatial_size)
    format = as_format(format)
    as_max_bytes(max_bytes)
    p = prod(sizes)  # Python integers: no int64 overflow
    guard((c * p, c * p), c * p, 8, format, max_bytes, what="eval-mode batch-norm matrix",
          working=16 * c * p)
    scale = (np.ones(c) if g is None else g) / np.sqrt(rv + eps)
    shift = (np.zeros(c) if beta is None else beta) - scale * rm
    D = sp.diags_array(np.repeat(scale, p), format="csr")
    return finish(D, format, max_bytes, what="eval-mode batch-norm matrix"), np.repeat(shift, p)


def _check_spatial_size(spatial_size) -> tuple:
    """Sizes as geometry reads them (ints, tuples, arrays, tensors); ``()`` for no spatial axes."""
    if is_sequence(spatial_size) and len(spatial_size) == 0:
        return ()
    return normalize_tuple(spatial_size, ndim_of(spatial_size) or 1, "spatial_size")


def fold_conv_batchnorm(weight: Any, bias: Any, running_mean: Any, running_var: Any, bn_weight: Any = None,
                        bn_bias: Any = None, *, eps: float = 1e-5) -> tuple:
    """Fold an eval-mode batch norm into the convolution before it: one convolution, same map.

    ``BN(conv(x; w, b)) = conv(x; w', b')`` with ``w'[o] = s_o w[o]`` and
    ``b'_o = s_o (b_o − running_mean_o) + β_o``, ``s_o = γ_o / sqrt(running_var_o + eps)``:
    as matrices, ``conv_matrix(w') = D conv_matrix(w)`` with ``D`` from
    :func:`batchnorm_eval_matrix` over the conv's output size.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *k)
    bias : array_like, shape (C_out,), or None
    running_mean, running_var, bn_weight, bn_bias : array_like, shape (C_out,)
    eps : float, optional

    Returns
    -------
    weight, bias : ndarray
        The folded convolution's weight (same shape, float64) and bias ``(C_out,)``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes or dtypes, ``eps < 0``, a negative ``running_var`` or a
        non-positive ``running_var + eps``.

    Examples
    --------
    >>> from convmatrix import conv_matrix
    >>> w, rm, rv, g = np.array([[[1.0, 2.0]]]), [1.0], [3.0], [2.0]
    >>> wf, bf = fold_conv_batchnorm(w, None, rm, rv, g, eps=1.0)
    >>> D, b = batchnorm_eval_matrix(rm, rv, g, spatial_size=2, eps=1.0)
    >>> bool(np.allclose((D @ conv_matrix(w, 3)).toarray(), conv_matrix(wf, 3).toarray()))
    True
    >>> bf.tolist(), b.tolist()
    ([-1.0], [-1.0, -1.0])
    """
    w = as_array(weight, "weight", rule="must be an array of real numbers, shape (out_channels, in_channels/groups, *kernel_size)")
    if w.ndim < 3:
        raise InputValueError(f"weight must have shape (out_channels, in_channels/groups, *kernel_size): got {w.shape}")
    if w.size == 0:
        raise InputValueError(f"weight must not be empty: got shape {w.shape}")
    c = w.shape[0]
    b = np.zeros(c) if bias is None else as_channel_values(bias, "bias", c)
    rm = as_channel_values(running_mean, "running_mean", c, required=True, like="weight")
    rv = as_channel_values(running_var, "running_var", c, required=True, like="weight")
    g = as_channel_values(bn_weight, "bn_weight", c)
    beta = as_channel_values(bn_bias, "bn_bias", c)
    eps = as_real(eps, "eps")
    check_running_var(rv, eps)
    scale = (np.ones(c) if g is None else g) / np.sqrt(rv + eps)
    wf = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    bf = scale * (b - rm) + (np.zeros(c) if beta is None else beta)
    return wf, bf


