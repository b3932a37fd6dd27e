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

from .geometry import ConvGeometry

__all__ = ["naive_conv_matrix", "reflect_index", "conv_configs"]


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
