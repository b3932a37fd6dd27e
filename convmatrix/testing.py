"""Test support: a deliberately naive reference, and hypothesis strategies.

The reference builds a convolution matrix the way a textbook states it — loop
over output channels, output positions, input channels and taps, and add the
kernel entry where it lands — with nothing shared with the tap map but the
definition.  It is slow on purpose; use it on small layers.

Importing this module needs ``hypothesis`` (a test dependency).
"""

from __future__ import annotations

import itertools
from math import prod

import numpy as np

import reprlib
from typing import Any

from ._validation import InputTypeError, InputValueError, as_channel_values, as_int, as_real, as_real_array
from .geometry import ConvGeometry

__all__ = ["naive_conv_matrix", "reflect_index", "conv_configs", "transpose_configs", "pad_configs",
           "avg_pool_configs", "max_pool_configs", "reference_batchnorm_forward", "reference_batchnorm_backward",
           "assert_matches", "vgg_block", "dcgan_generator", "unet_like", "randomize_batchnorm"]


def reflect_index(p: int, n: int, mode: str) -> int | None:
    """Where position ``p`` of a padded axis of size ``n`` reads from, or ``None`` for a zero.

    Written independently of :func:`convmatrix.structure.axis_index_map`, the
    way each mode is usually explained.

    Examples
    --------
    >>> [reflect_index(p, 3, "reflect") for p in range(-2, 5)]
    [2, 1, 0, 1, 2, 1, 0]
    """
    if 0 <= p < n:
        return p
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if p < 0 else n - 1
    if mode == "circular":
        while p < 0:
            p += n
        while p >= n:
            p -= n
        return p
    if mode == "reflect":
        while not 0 <= p < n:
            p = -p if p < 0 else 2 * (n - 1) - p
        return p
    raise ValueError(mode)


def naive_conv_matrix(weight, geometry: ConvGeometry) -> np.ndarray:
    """Dense convolution matrix by explicit loops (the reference for structure).

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1)
    >>> naive_conv_matrix(np.array([[[1, 2, 3]]]), g)
    array([[2, 3, 0, 0],
           [1, 2, 3, 0],
           [0, 1, 2, 3],
           [0, 0, 1, 2]])
    """
    weight = np.asarray(weight)
    g = geometry
    out = g.output_size
    cg = g.in_channels_per_group
    og = g.out_channels_per_group
    A = np.zeros(g.shape, dtype=weight.dtype)
    for co in range(g.out_channels):
        group = co // og
        for o in itertools.product(*map(range, out)):
            row = co * prod(out) + int(np.ravel_multi_index(o, out)) if out else co
            for c in range(cg):
                ci = group * cg + c
                for t in itertools.product(*map(range, g.kernel_size)):
                    src = []
                    for a in range(g.ndim):
                        p = o[a] * g.stride[a] - g.padding[a][0] + t[a] * g.dilation[a]
                        src.append(reflect_index(p, g.input_size[a], g.padding_mode))
                    if any(s is None for s in src):
                        continue
                    col = ci * prod(g.input_size) + int(np.ravel_multi_index(src, g.input_size))
                    A[row, col] += weight[(co, c) + t]
    return A


def conv_configs(*, max_ndim: int = 3, max_size: int = 7, modes=("zeros",)):
    """A hypothesis strategy of valid convolution configurations (a dict of keyword arguments).

    Keys: ``weight_shape``, ``input_size``, ``stride``, ``padding`` (per-axis
    ``(lo, hi)`` pairs, or ``"same"`` when the stride is 1), ``dilation``,
    ``groups``, ``padding_mode``.  Every drawn configuration is one PyTorch
    accepts (asymmetric pads are applied with ``F.pad`` in the tests).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from convmatrix import conv_matrix
    >>> import numpy as np
    >>> @settings(max_examples=5, deadline=None)
    ... @given(conv_configs(max_ndim=2))
    ... def builds(cfg):
    ...     kw = {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}
    ...     A = conv_matrix(np.ones(cfg["weight_shape"]), cfg["input_size"], **kw)
    ...     assert A.shape[1] == cfg["weight_shape"][1] * cfg["groups"] * np.prod(cfg["input_size"])
    >>> builds()
    """
    from hypothesis import assume
    from hypothesis import strategies as st

    @st.composite
    def configs(draw):
        ndim = draw(st.integers(1, max_ndim))
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin_g = draw(st.integers(1, 2))
        cout_g = draw(st.integers(1, 2))
        mode = draw(st.sampled_from(modes))
        k = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
        d = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
        s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
        n = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
        limit = [ni - 1 if mode == "reflect" else ni if mode == "circular" else 3 for ni in n]
        pad = tuple(
            (draw(st.integers(0, min(3, lim))), draw(st.integers(0, min(3, lim)))) for lim in limit
        )
        if all(si == 1 for si in s) and draw(st.integers(0, 3)) == 0:
            pad = "same"
        config = dict(
            weight_shape=(cout_g * groups, cin_g, *k), input_size=n, stride=s, padding=pad,
            dilation=d, groups=groups, padding_mode=mode,
        )
        try:
            ConvGeometry.from_weight_shape(**config)
        except ValueError:
            assume(False)
        return config

    return configs()


# --------------------------------------------------------------------------- more hypothesis strategies
def transpose_configs(*, max_ndim: int = 3, max_size: int = 5, pairs: bool = True):
    """A hypothesis strategy of transposed-convolution configurations PyTorch accepts (a dict).

    Keys: ``weight_shape`` ``(C_in, C_out/groups, *k)``, ``input_size``, ``stride``,
    ``padding`` (per-axis ``(lo, hi)`` pairs when ``pairs``, else one symmetric width
    per axis, as ``ConvTransposeNd`` takes), ``output_padding`` (also ``>= stride``
    where the dilation allows it), ``dilation``, ``groups``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from convmatrix import conv_transpose_matrix
    >>> import numpy as np
    >>> @settings(max_examples=5, deadline=None)
    ... @given(transpose_configs(max_ndim=2))
    ... def builds(cfg):
    ...     kw = {k: v for k, v in cfg.items() if k not in ("weight_shape", "input_size")}
    ...     conv_transpose_matrix(np.ones(cfg["weight_shape"]), cfg["input_size"], **kw)
    >>> builds()
    """
    from hypothesis import assume
    from hypothesis import strategies as st

    from .geometry import ConvTransposeGeometry

    @st.composite
    def configs(draw):
        ndim = draw(st.integers(1, max_ndim))
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin_g, cout_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        k = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
        s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
        d = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
        n = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
        if pairs:
            pad = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(ndim))
        else:
            pad = tuple(draw(st.integers(0, 2)) for _ in range(ndim))
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        config = dict(weight_shape=(cin_g * groups, cout_g, *k), input_size=n, stride=s, padding=pad,
                      output_padding=op, groups=groups, dilation=d)
        try:
            ConvTransposeGeometry.from_weight_shape(**config)
        except ValueError:
            assume(False)
        return config

    return configs()


def pad_configs(*, torch_valid: bool = True, modes=("zeros", "reflect", "replicate", "circular")):
    """A hypothesis strategy of ``(sizes, widths, mode, channels)`` that :func:`~convmatrix.pad_matrix` takes.

    Signed per-axis ``(lo, hi)`` widths (negative crops); with ``torch_valid``
    only what ``F.pad`` also accepts (no crop deeper than the input in zeros mode).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from convmatrix import pad_matrix
    >>> @settings(max_examples=5, deadline=None)
    ... @given(pad_configs())
    ... def builds(case):
    ...     sizes, widths, mode, channels = case
    ...     pad_matrix(sizes, widths, mode=mode, channels=channels)
    >>> builds()
    """
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        ndim = draw(st.integers(1, 3))
        mode = draw(st.sampled_from(modes))
        channels = draw(st.integers(1, 3))
        sizes, widths = [], []
        for _ in range(ndim):
            n = draw(st.integers(1, 5))
            if mode == "reflect":
                lo = draw(st.integers(max(-n, 2 - 2 * n), n - 1))
                hi = draw(st.integers(max(-n, 1 - n - lo), n - 1))
            elif mode == "circular":
                lo = draw(st.integers(-(n - 1), n))
                kept_lo = n - max(-lo, 0)
                hi = draw(st.integers(-(kept_lo - 1), kept_lo))
                kept = kept_lo - max(-hi, 0)
                if lo > kept:  # keep lo within what is left after cropping the high side
                    lo = kept
            elif mode == "zeros" and torch_valid:  # F.pad refuses crops deeper than the input
                lo = draw(st.integers(-n, 3))
                hi = draw(st.integers(max(-(n + min(lo, 0)), 1 - n - lo), 3))
            else:
                lo = draw(st.integers(-n - 2, 3))
                hi = draw(st.integers(1 - n - lo, 3))
            sizes.append(n)
            widths.append((lo, hi))
        return tuple(sizes), tuple(widths), mode, channels

    return cases()


def avg_pool_configs():
    """A hypothesis strategy of keyword arguments of :func:`~convmatrix.avg_pool_matrix` that torch accepts.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from convmatrix import avg_pool_matrix
    >>> @settings(max_examples=5, deadline=None)
    ... @given(avg_pool_configs())
    ... def builds(kw):
    ...     avg_pool_matrix(**kw)
    >>> builds()
    """
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        ndim = draw(st.integers(1, 3))
        k = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
        s = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
        p = tuple(draw(st.integers(0, ka // 2)) for ka in k)
        # torch's avg_pool3d (CPU) also refuses inputs smaller than the kernel, padding aside
        n = tuple(draw(st.integers(ka if ndim == 3 else max(1, ka - 2 * pa), 7)) for ka, pa in zip(k, p))
        stride = None if draw(st.booleans()) else s
        return dict(
            input_size=n, kernel_size=k, stride=stride, padding=p,
            ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
            divisor_override=draw(st.one_of(st.none(), st.integers(1, 5), st.integers(-3, -1))),
            channels=draw(st.integers(1, 3)),
        )

    return cases()


def max_pool_configs(*, max_nd: int = 3):
    """A hypothesis strategy of ``(C, n, k, s, p, d, ceil_mode)`` for :func:`~convmatrix.max_pool_switches`.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import numpy as np
    >>> from convmatrix import max_pool_switches
    >>> @settings(max_examples=5, deadline=None)
    ... @given(max_pool_configs())
    ... def runs(cfg):
    ...     C, n, k, s, p, d, ceil = cfg
    ...     try:
    ...         max_pool_switches(np.zeros((C, *n)), k, s, p, d, ceil)
    ...     except ValueError as exc:   # a window of padding only
    ...         assert "sees only padding" in str(exc)
    >>> runs()
    """
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        nd = draw(st.integers(1, max_nd))
        k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
        p = tuple(draw(st.integers(0, ka // 2)) for ka in k)
        ceil = draw(st.booleans())
        n = tuple(draw(st.integers(max(1, da * (ka - 1) + 1 - 2 * pa), 7)) for ka, pa, da in zip(k, p, d))
        C = draw(st.integers(1, 3))
        return C, n, k, s, p, d, ceil

    return cases()


# --------------------------------------------------------------------------- batch norm, as usually written
def reference_batchnorm_forward(X: Any, gamma: Any, beta: Any, eps: float = 1e-8) -> tuple:
    """The well-known NumPy batch-norm forward pass for ``(N, D)`` input, reproduced.

    As in Agustinus Kristiadi's "Implementing BatchNorm in Neural Net" (2016):
    ``mu = mean(X, 0)``, ``var = var(X, 0)`` (biased),
    ``X_norm = (X − mu) / sqrt(var + eps)``, ``out = gamma X_norm + beta``.

    Parameters
    ----------
    X : array_like, shape (N, D)
    gamma, beta : array_like, shape (D,)
    eps : float, optional
        ``1e-8`` as in the original.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple
        ``(X, X_norm, mu, var, gamma, beta, eps)`` for :func:`reference_batchnorm_backward`.
    mu, var : ndarray, shape (D,)

    Raises
    ------
    TypeError, ValueError
        ``X`` not a non-empty 2-d array of real numbers, ``gamma`` or ``beta``
        not of shape ``(D,)``, ``eps < 0``, or ``eps = 0`` with a constant
        column (σ_ε = 0).

    Examples
    --------
    >>> out, cache, mu, var = reference_batchnorm_forward(np.array([[1.0], [3.0]]), [1.0], [0.0], eps=0.0)
    >>> out.ravel().tolist(), mu.tolist(), var.tolist()
    ([-1.0, 1.0], [2.0], [1.0])
    """
    X = as_real_array(X, "X", "(N, D)")
    if X.ndim != 2:
        raise InputValueError(f"X must have shape (N, D): got {X.shape}")
    if X.size == 0:
        raise InputValueError(f"X must not be empty: got shape {X.shape}")
    gamma = as_channel_values(gamma, "gamma", X.shape[1])
    beta = as_channel_values(beta, "beta", X.shape[1])
    eps = as_real(eps, "eps")
    mu = np.mean(X, axis=0)
    var = np.var(X, axis=0)
    if eps == 0 and np.any(var == 0):
        raise InputValueError(f"eps=0 with a constant column (column {int(np.flatnonzero(var == 0)[0])} of X) divides "
                         "by σ_ε = 0: pass eps > 0")
    X_norm = (X - mu) / np.sqrt(var + eps)
    out = gamma * X_norm + beta
    cache = (X, X_norm, mu, var, gamma, beta, eps)
    return out, cache, mu, var


def reference_batchnorm_backward(dout: Any, cache: tuple) -> tuple:
    """The well-known NumPy batch-norm backward pass, reproduced: ``(dX, dgamma, dbeta)``.

    The paper's intermediates, literally: ``dX_norm = dout γ``,
    ``dvar = Σ dX_norm (X − mu) · (−½) std_inv³``,
    ``dmu = Σ dX_norm (−std_inv) + dvar · mean(−2 (X − mu))`` (the second term is
    zero, the step ``deviations_sum_to_zero`` of :func:`~convmatrix.batchnorm_derivation`),
    ``dX = dX_norm std_inv + dvar · 2 (X − mu)/N + dmu/N``.

    Parameters
    ----------
    dout : array_like, shape (N, D)
    cache : tuple
        From :func:`reference_batchnorm_forward`.

    Returns
    -------
    dX : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)

    Raises
    ------
    TypeError, ValueError
        ``cache`` not from :func:`reference_batchnorm_forward`; ``dout`` not
        real numbers of the shape of ``X``.

    Examples
    --------
    >>> out, cache, mu, var = reference_batchnorm_forward(np.array([[1.0], [3.0]]), [1.0], [0.0], eps=0.0)
    >>> dX, dgamma, dbeta = reference_batchnorm_backward(np.array([[1.0], [0.0]]), cache)
    >>> dX.ravel().tolist(), dgamma.tolist(), dbeta.tolist()
    ([0.0, 0.0], [-1.0], [1.0])
    """
    if not (isinstance(cache, tuple) and len(cache) == 7 and isinstance(cache[0], np.ndarray) and cache[0].ndim == 2):
        raise InputTypeError(f"cache must be the 7-tuple returned by reference_batchnorm_forward: got "
                        f"{type(cache).__name__} {reprlib.repr(cache)}")
    X, X_norm, mu, var, gamma, beta, eps = cache
    dout = as_real_array(dout, "dout", f"{X.shape} (that of X)")
    if dout.shape != X.shape:
        raise InputValueError(f"dout has shape {dout.shape} but X has shape {X.shape}: they must match")
    N, D = X.shape
    X_mu = X - mu
    std_inv = 1.0 / np.sqrt(var + eps)
    dX_norm = dout * gamma
    dvar = np.sum(dX_norm * X_mu, axis=0) * -0.5 * std_inv**3
    dmu = np.sum(dX_norm * -std_inv, axis=0) + dvar * np.mean(-2.0 * X_mu, axis=0)
    dX = (dX_norm * std_inv) + (dvar * 2 * X_mu / N) + (dmu / N)
    dgamma = np.sum(dout * X_norm, axis=0)
    dbeta = np.sum(dout, axis=0)
    return dX, dgamma, dbeta


# --------------------------------------------------------------------------- torch modules against their maps
def _largest_difference(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float):
    """``(excess, index)``: how far the worst entry is beyond ``atol + rtol |expected|``, and where."""
    diff = np.abs(got - expected)
    excess = diff - (atol + rtol * np.abs(expected))
    flat = int(np.argmax(excess))
    return float(excess.reshape(-1)[flat]), np.unravel_index(flat, expected.shape), float(diff.reshape(-1)[flat])


def _fail(what: str, expected: np.ndarray, got: np.ndarray, atol: float, rtol: float, module,
          index: str = "output") -> None:
    excess, where, diff = _largest_difference(expected, got, atol, rtol)
    if excess > 0:
        raise AssertionError(
            f"from_torch({type(module).__name__}) differs from the module {what}: largest difference {diff:.3g} at "
            f"{index} index {tuple(int(i) for i in where)} (module {float(expected[where]):.17g}, map "
            f"{float(got[where]):.17g}; atol={atol:g}, rtol={rtol:g})")


def assert_matches(module: Any, input_size: Any, *, x: Any = None, samples: int = 3, seed: int = 0,
                   rtol: float = 1e-7, atol: float = 1e-9, max_bytes: int | None = None):
    """Check :func:`convmatrix.from_torch` of ``module`` against the module itself; return the map.

    For a use in your own tests: it builds the map, runs a float64 copy of the
    module (``copy.deepcopy(module).double()``; ``module`` is left as it is)
    and fails with the largest difference and where it is.

    * Without ``x`` (an affine module), the map and the module are compared on
      ``samples`` random standard-normal inputs.
    * With ``x`` (a piecewise-linear module, linearised at ``x``), they are
      compared at ``x`` itself, and the transposed matrix times ``samples``
      random vectors ``u`` is compared with torch's vector–Jacobian product at
      ``x`` (reverse mode, ``torch.autograd``, the convention of
      ``torch.func.jacrev`` at the kinks): the matrix is the Jacobian.

    Parameters
    ----------
    module : torch.nn.Module
    input_size : tuple of int
        One sample's shape, as :func:`~convmatrix.from_torch`.
    x : array_like or tensor, optional
        The point of a piecewise-linear module.
    samples : int, optional
        Random inputs (or directions) to compare on.
    seed : int, optional
        Of the random inputs.
    rtol, atol : float, optional
        An entry fails when ``|map - module| > atol + rtol * |module|``.
    max_bytes : int, optional
        As :func:`~convmatrix.from_torch`.

    Returns
    -------
    AffineMap

    Raises
    ------
    AssertionError
        Naming the module's class, the largest difference, the output index where
        it is and both values.
    TypeError, ValueError, MatrixTooLargeError
        As :func:`~convmatrix.from_torch`.

    Examples
    --------
    >>> import torch
    >>> from convmatrix.testing import assert_matches
    >>> f = assert_matches(torch.nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 6))
    >>> f.shape
    (18, 12)
    >>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.ReLU(), torch.nn.MaxPool1d(2))
    >>> J = assert_matches(net, (1, 8), x=torch.randn(1, 8))
    >>> J.output_shape
    (2, 3)
    """
    import copy

    import torch

    from .torch_bridge import from_torch

    samples = as_int(samples, "samples", minimum=1)
    rtol = as_real(rtol, "rtol")
    atol = as_real(atol, "atol")
    ref = copy.deepcopy(module).double()
    f = from_torch(module, input_size, x=x, max_bytes=max_bytes)
    rng = np.random.default_rng(seed)
    run = lambda v: ref(torch.as_tensor(v, dtype=torch.float64).reshape(1, *f.input_shape))[0]  # noqa: E731
    with torch.no_grad():
        if x is None:
            for k in range(samples):
                v = rng.standard_normal(f.input_shape)
                _fail(f"on random sample {k}", run(v).numpy(), f(v), atol, rtol, module)
            return f
        point = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64).reshape(f.input_shape)
        _fail("at x", run(point).numpy(), f(point), atol, rtol, module)
    at = torch.as_tensor(point).requires_grad_(True)
    y = run(at)
    for k in range(samples):
        u = rng.standard_normal(f.output_shape)
        (uj,) = torch.autograd.grad(y, at, torch.as_tensor(u), retain_graph=True, allow_unused=True)
        uj = np.zeros(f.input_shape) if uj is None else uj.detach().numpy()
        got = (f.matrix.T @ u.reshape(-1)).reshape(f.input_shape)
        _fail(f"in its Jacobian at x (u^T J for random u number {k})", uj, got, atol, rtol, module, "input")
    return f



# --------------------------------------------------------------------------- example networks (torch)
def vgg_block(in_channels: int = 3, width: int = 16):
    """A VGG-style block (Simonyan & Zisserman 2015): two 3x3 convs with batch norm and ReLU, max pooling,
    a third conv, pooling and a flatten; piecewise linear in eval mode.

    Examples
    --------
    >>> net = vgg_block(3, 4)
    >>> type(net).__name__, len(net)
    ('Sequential', 12)
    """
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
    )


def dcgan_generator(nz: int = 16, ngf: int = 8, nc: int = 3, image_size: int = 32):
    """The DCGAN generator (Radford, Metz & Chintala 2016; PyTorch's example) for ``(nz, 1, 1) -> (nc, image_size,
    image_size)``, with the final ``Tanh`` replaced by ``Hardtanh`` so that it is piecewise linear.

    A 4x4 transposed convolution from the latent vector, then stride-2 transposed convolutions (4x4, padding
    1) that double the size, halving the channels, each with batch norm and ReLU, down to ``nc`` channels at
    ``image_size`` (a power of two, at least 8).

    Examples
    --------
    >>> import torch
    >>> dcgan_generator(4, 2)(torch.zeros(1, 4, 1, 1)).shape
    torch.Size([1, 3, 32, 32])
    >>> len(dcgan_generator(4, 2, image_size=8))   # 4 -> 8: two transposed convolutions
    5
    """
    from torch import nn

    from ._validation import as_int

    size = as_int(image_size, "image_size", minimum=8)
    stages = size.bit_length() - 3  # 4 -> 8 -> ... -> size
    if size != 1 << (stages + 2):
        raise InputValueError(f"image_size={size} must be a power of two (at least 8)", "image_size")
    channels = [ngf * 2 ** (stages - 1 - k) for k in range(stages)] + [nc]
    layers = [nn.ConvTranspose2d(nz, channels[0], 4, 1, 0, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(True)]
    for k in range(stages):
        layers.append(nn.ConvTranspose2d(channels[k], channels[k + 1], 4, 2, 1, bias=False))
        layers += [nn.BatchNorm2d(channels[k + 1]), nn.ReLU(True)] if k < stages - 1 else [nn.Hardtanh()]
    return nn.Sequential(*layers)


def unet_like(in_channels: int = 3, width: int = 8, out_channels: int = 2):
    """A small U-Net-like encoder–decoder (Ronneberger et al. 2015, SegNet's unpooling): two levels of conv +
    ReLU and 2x2 max pooling with indices, a bottleneck, max unpooling by those indices, skip connections
    concatenated along the channels, and a 1x1 head.  Its forward is traced by ``torch.fx``.

    Examples
    --------
    >>> import torch
    >>> unet_like(1, 2)(torch.zeros(1, 1, 8, 8)).shape
    torch.Size([1, 2, 8, 8])
    """
    import torch
    from torch import nn

    class UNetLike(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.enc1 = nn.Sequential(nn.Conv2d(in_channels, w, 3, padding=1), nn.ReLU())
            self.enc2 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU())
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)
            self.bottleneck = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU())
            self.dec2 = nn.Sequential(nn.Conv2d(4 * w, w, 3, padding=1), nn.ReLU())
            self.dec1 = nn.Sequential(nn.Conv2d(2 * w, w, 3, padding=1), nn.LeakyReLU(0.1))
            self.head = nn.Conv2d(w, out_channels, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            p1, i1 = self.pool(e1)
            e2 = self.enc2(p1)
            p2, i2 = self.pool(e2)
            d2 = self.dec2(torch.cat([self.unpool(self.bottleneck(p2), i2), e2], dim=1))
            d1 = self.dec1(torch.cat([self.unpool(d2, i1), e1], dim=1))
            return self.head(d1)

    return UNetLike()


def randomize_batchnorm(net, seed: int = 0):
    """Give every batch norm of ``net`` random running statistics and affine parameters (in place), so that
    its eval-mode map is not the identity; returns ``net`` in eval mode.

    Examples
    --------
    >>> net = randomize_batchnorm(vgg_block(3, 2))
    >>> net.training
    False
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 1.5 + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.4 - 0.2)
    return net.eval()
