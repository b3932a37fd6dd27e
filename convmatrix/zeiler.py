"""Zeiler's deconvolutional networks as explicit sparse matrices.

Adaptive deconvolutional networks (Zeiler, Taylor & Fergus, ICCV 2011): layer
``l`` has ``K_l`` feature maps ``z_l`` that reconstruct the maps below it,
``y^c = Σ_k z_{k,l} * f^c_{k,l}``, written ``ŷ = F_l z_l``.  Between layers, 3-D
max pooling over (feature maps × space) gives switches ``s_l``; for fixed
switches pooling ``P_s`` and unpooling ``U_s = P_sᵀ`` are linear
(:mod:`convmatrix.pooling`).  The reconstruction of the input from layer ``l``
is ``ŷ = R_l z_l`` with

    R_l  = F_1 U_s1 F_2 U_s2 … F_l,
    R_lᵀ = F_lᵀ … P_s2 F_2ᵀ P_s1 F_1ᵀ,

and the features are inferred by ISTA/FISTA on
``C_l(y) = λ/2 ‖R_l z_l − y‖² + Σ_k |z_{k,l}|₁``.

The object model is small: a :class:`ZeilerLayer` is a filter bank, a border
choice and an optional pooling of its maps; a :class:`ZeilerStack` chains
layers over an input shape and builds ``F_l``, ``F_lᵀ``, ``R_l`` and ``R_lᵀ``
(the last two each from its own factors, so ``R_lᵀ == R_l.T`` is a check).
:class:`DeconvNet` is the 2014 deconvnet ("Visualizing and Understanding
Convolutional Networks"): a small convnet whose activations are projected back
to pixels by unpooling with switches, ReLU and transposed filters.

Layer numbers ``l`` are 1-based, as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod, sqrt
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .geometry import ConvGeometry, _as_bool, _as_int, _as_real, _is_sequence, normalize_padding, normalize_tuple
from .matrices import _canonical, _detached, conv_matrix, conv_transpose_matrix
from .pooling import MaxPool, Switches, pool_matrix, unpool_matrix

__all__ = [
    "BORDERS",
    "ZeilerLayer",
    "ZeilerStack",
    "InferenceResult",
    "operator_norm",
    "lasso_cost",
    "ista",
    "fista",
    "soft_threshold",
    "ConvLayer",
    "DeconvNet",
    "synthetic_scene",
    "filter_bank",
    "psnr",
]

#: Border choices of a layer's reconstruction ``y = Σ_k z_k * f_k``.
BORDERS = ("valid", "same", "full")


def _real_array(value: Any, name: str, *, finite: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(_detached(value))
    except Exception as exc:
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (integer or float): got dtype {arr.dtype}")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers: it has {int((~np.isfinite(arr)).sum())} NaN or inf")
    return arr


def _integer(value: Any, name: str, minimum: int) -> int:
    """An integer (bools refused) of at least ``minimum``."""
    value = _as_int(value, name)
    if value < minimum:
        rule = "non-negative" if minimum == 0 else ("positive" if minimum == 1 else f"at least {minimum}")
        raise ValueError(f"{name}={value!r} must be {rule}")
    return int(value)


def _sequence(value: Any, name: str, what: str) -> tuple:
    """``value`` as a tuple, refusing strings and non-sequences."""
    if not _is_sequence(value):
        raise TypeError(f"{name} must be a sequence of {what}, got {value!r} of type {type(value).__name__}")
    return tuple(value)


def _shape(value: Any, name: str) -> tuple[int, ...]:
    """``(C, *spatial)``: at least two positive integers."""
    entries = _sequence(value, name, "integers (C, *spatial)")
    shape = normalize_tuple(entries, len(entries), name)
    if len(shape) < 2:
        raise ValueError(f"{name}={shape} must be (C, *spatial) with at least one spatial axis")
    return shape


def _matrix(value: Any, name: str) -> Any:
    """A 2-d scipy.sparse array/matrix or ndarray of real numbers."""
    if not (sp.issparse(value) or isinstance(value, np.ndarray)) or value.ndim != 2:
        raise TypeError(
            f"{name} must be a 2-d scipy.sparse array or numpy ndarray, got "
            f"{type(value).__name__}{'' if not hasattr(value, 'shape') else f' of shape {value.shape}'}"
        )
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers: got dtype {value.dtype}")
    data = value.data if sp.issparse(value) else value
    if value.dtype.kind == "f" and not np.isfinite(data).all():
        raise ValueError(f"{name} must hold finite numbers: it has NaN or inf entries")
    return value


# =========================================================================== layers
@dataclass(frozen=True, eq=False)
class ZeilerLayer:
    """One layer of a deconvolutional network: filter bank, border, pooling of its maps.

    Parameters
    ----------
    filters : array_like, shape (K, C, *kernel_size)
        ``filters[k, c]`` is ``f^c_k``, the filter by which map ``k`` draws
        channel ``c`` of the layer below: torch's ``ConvTranspose`` layout.
        Real numbers; integer filters give integer matrices.
    border : {"valid", "same", "full"}, optional
        The border of the reconstruction ``y^c = Σ_k z_k * f^c_k`` (a true
        convolution, which is torch's ``conv_transpose`` with stride 1):

        - ``"valid"`` (default, Zeiler's choice): only positions where the
          filter lies wholly inside the maps, so maps are larger than the
          input by ``kernel_size - 1``; ``F_lᵀ`` is then a zero-padded ("full")
          cross-correlation of the input.
        - ``"same"``: maps the size of the input, the centred part of the
          full convolution as ``scipy.signal.convolve(mode="same")`` (for an
          even kernel one more row is cropped at the high end).
        - ``"full"``: every position the filter touches, so maps are smaller
          by ``kernel_size - 1``.
    pool : MaxPool, optional
        Pooling of this layer's maps; the pooled maps are the next layer's
        input.  ``None`` passes the maps up unpooled (``U_s = I``).

    Raises
    ------
    TypeError, ValueError
        On bad filters, border or pooling.

    Examples
    --------
    >>> import numpy as np
    >>> layer = ZeilerLayer(np.ones((8, 1, 7, 7)), "valid", MaxPool(2, channel_pool=2))
    >>> layer.map_size((64, 64)), layer.num_maps
    ((70, 70), 8)
    """

    filters: np.ndarray
    border: str = "valid"
    pool: MaxPool | None = None

    def __post_init__(self):
        f = _real_array(self.filters, "filters")
        if f.ndim < 3:
            raise ValueError(
                f"filters must have shape (K, C, *kernel_size) with K maps and C channels below: got {f.shape}"
            )
        if min(f.shape) < 1:
            raise ValueError(f"filters shape {f.shape} must be positive along every axis")
        object.__setattr__(self, "filters", f)
        if self.border not in BORDERS:
            raise ValueError(f"border={self.border!r} is not one of {', '.join(map(repr, BORDERS))}")
        if self.pool is not None and not isinstance(self.pool, MaxPool):
            raise TypeError(f"pool must be a MaxPool or None, got {type(self.pool).__name__}")

    @property
    def num_maps(self) -> int:
        """``K``, the number of feature maps.

        Examples
        --------
        >>> import numpy as np
        >>> ZeilerLayer(np.ones((8, 3, 5, 5))).num_maps
        8
        """
        return self.filters.shape[0]

    @property
    def in_channels(self) -> int:
        """``C``, the number of channels of the layer below.

        Examples
        --------
        >>> import numpy as np
        >>> ZeilerLayer(np.ones((8, 3, 5, 5))).in_channels
        3
        """
        return self.filters.shape[1]

    @property
    def kernel_size(self) -> tuple[int, ...]:
        """The spatial size of the filters, ``filters.shape[2:]``.

        Examples
        --------
        >>> import numpy as np
        >>> ZeilerLayer(np.ones((8, 3, 5, 4))).kernel_size
        (5, 4)
        """
        return tuple(self.filters.shape[2:])

    @property
    def padding(self) -> tuple[tuple[int, int], ...]:
        """The ``(lo, hi)`` padding of ``F_lᵀ`` (= crop of ``F_l``) per axis, from the border.

        Examples
        --------
        >>> import numpy as np
        >>> [ZeilerLayer(np.ones((1, 1, 4)), b).padding for b in BORDERS]
        [((3, 3),), ((1, 2),), ((0, 0),)]
        """
        pairs = []
        for k in self.kernel_size:
            if self.border == "valid":
                pairs.append((k - 1, k - 1))
            elif self.border == "same":
                pairs.append(((k - 1) // 2, k - 1 - (k - 1) // 2))
            else:
                pairs.append((0, 0))
        return tuple(pairs)

    def map_size(self, input_size: int | Sequence[int]) -> tuple[int, ...]:
        """Spatial size of the maps ``z`` for an input of spatial size ``input_size``.

        Parameters
        ----------
        input_size : int or tuple of int
            One size for all axes, or one per spatial axis of the filters.

        Returns
        -------
        tuple of int

        Raises
        ------
        TypeError, ValueError
            If ``input_size`` is not positive integers, one per axis, or a
            ``"full"`` border leaves no map.

        Examples
        --------
        >>> import numpy as np
        >>> ZeilerLayer(np.ones((2, 1, 3, 3)), "full").map_size((8, 6))
        (6, 4)
        """
        n = normalize_tuple(input_size, len(self.kernel_size), "input_size")
        out = tuple(a + lo + hi - k + 1 for a, k, (lo, hi) in zip(n, self.kernel_size, self.padding))
        for axis, (a, m) in enumerate(zip(n, out)):
            if m < 1:
                raise ValueError(
                    f"border='full' needs input_size {a} along axis {axis} at least the kernel size "
                    f"{self.kernel_size[axis]}"
                )
        return out

    def F(self, map_size: int | Sequence[int]) -> sp.csr_array:
        """``F_l``: maps ``(K, *map_size)`` -> reconstruction ``(C, *input_size)``.

        ``conv_transpose_matrix(filters, map_size, padding=self.padding)``,
        i.e. torch's ``conv_transpose`` (stride 1) cropped by the border.

        Raises
        ------
        TypeError, ValueError
            If ``map_size`` is not positive integers, one per axis, or the
            border crops everything.

        Examples
        --------
        >>> import numpy as np
        >>> layer = ZeilerLayer(np.ones((2, 1, 3), dtype=int), "valid")
        >>> layer.F(5).toarray()
        array([[1, 1, 1, 0, 0, 1, 1, 1, 0, 0],
               [0, 1, 1, 1, 0, 0, 1, 1, 1, 0],
               [0, 0, 1, 1, 1, 0, 0, 1, 1, 1]])
        """
        m = normalize_tuple(map_size, len(self.kernel_size), "map_size")
        return sp.csr_array(conv_transpose_matrix(self.filters, m, padding=self.padding))

    def Ft(self, input_size: int | Sequence[int]) -> sp.csr_array:
        """``F_lᵀ``, built directly: ``conv_matrix(filters, input_size, padding=self.padding)``.

        Raises
        ------
        TypeError, ValueError
            If ``input_size`` is not positive integers, one per axis, or a
            ``"full"`` border leaves no map.

        Examples
        --------
        >>> import numpy as np
        >>> layer = ZeilerLayer(np.arange(6).reshape(2, 1, 3), "valid")
        >>> (layer.Ft(3) != layer.F(layer.map_size(3)).T).nnz
        0
        """
        n = normalize_tuple(input_size, len(self.kernel_size), "input_size")
        return conv_matrix(self.filters, n, padding=self.padding)


@dataclass(frozen=True, eq=False)
class ZeilerStack:
    """Layers of a deconvolutional network over an input of shape ``(C_0, *spatial)``.

    Parameters
    ----------
    layers : sequence of ZeilerLayer
        Layer 1 first.  Layer ``l``'s filters have ``C`` equal to the number
        of maps (after pooling) of layer ``l - 1``, or ``C_0`` for layer 1.
    input_shape : tuple of int
        ``(C_0, *spatial)`` of the image.

    Raises
    ------
    TypeError, ValueError
        If the layers do not chain.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stack = ZeilerStack([
    ...     ZeilerLayer(rng.integers(-2, 3, (4, 1, 3, 3)), "valid", MaxPool(2, channel_pool=2)),
    ...     ZeilerLayer(rng.integers(-2, 3, (3, 2, 3, 3)), "valid"),
    ... ], (1, 8, 8))
    >>> stack.map_shapes, stack.input_shapes
    ([(4, 10, 10), (3, 7, 7)], [(1, 8, 8), (2, 5, 5)])
    >>> s = stack.switches([rng.standard_normal((4, 10, 10))])
    >>> R, Rt = stack.R(2, s), stack.Rt(2, s)
    >>> R.shape, (Rt != R.T).nnz
    ((64, 147), 0)
    """

    layers: tuple
    input_shape: tuple
    input_shapes: list = field(init=False, repr=False)
    map_shapes: list = field(init=False, repr=False)
    pooled_shapes: list = field(init=False, repr=False)

    def __post_init__(self):
        layers = _sequence(self.layers, "layers", "ZeilerLayer")
        if not layers:
            raise ValueError("layers must hold at least one ZeilerLayer")
        for i, layer in enumerate(layers, start=1):
            if not isinstance(layer, ZeilerLayer):
                raise TypeError(f"layers[{i - 1}] must be a ZeilerLayer, got {type(layer).__name__}")
        shape = _shape(self.input_shape, "input_shape")
        inputs, maps, pooled = [], [], []
        for l, layer in enumerate(layers, start=1):
            if layer.filters.ndim - 2 != len(shape) - 1:
                raise ValueError(
                    f"layer {l} has {layer.filters.ndim - 2}-d filters but its input {shape} has "
                    f"{len(shape) - 1} spatial axes"
                )
            if layer.in_channels != shape[0]:
                raise ValueError(
                    f"layer {l}'s filters {layer.filters.shape} draw C={layer.in_channels} channels but the "
                    f"layer below gives {shape[0]} (filters must be (K, C, *kernel_size))"
                )
            inputs.append(shape)
            m = (layer.num_maps, *layer.map_size(shape[1:]))
            maps.append(m)
            shape = m if layer.pool is None else layer.pool.output_shape(m)
            pooled.append(None if layer.pool is None else shape)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_shape", inputs[0])
        object.__setattr__(self, "input_shapes", inputs)
        object.__setattr__(self, "map_shapes", maps)
        object.__setattr__(self, "pooled_shapes", pooled)

    @property
    def depth(self) -> int:
        """The number of layers.

        Examples
        --------
        >>> import numpy as np
        >>> ZeilerStack([ZeilerLayer(np.ones((2, 1, 3))), ZeilerLayer(np.ones((1, 2, 3)))], (1, 8)).depth
        2
        """
        return len(self.layers)

    def _check_l(self, l: int) -> int:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= self.depth:
            raise ValueError(f"l={l!r} must be a layer number between 1 and {self.depth}")
        return int(l)

    def _check_switches(self, l: int, switches) -> dict:
        below = [i for i in range(1, l) if self.layers[i - 1].pool is not None]
        sw = [] if switches is None else list(_sequence(switches, "switches", "Switches (or None)"))
        if len(sw) == l - 1:
            sw = [sw[i - 1] for i in below]
        if len(sw) != len(below):
            raise ValueError(
                f"switches must give one Switches per layer below l={l} ({l - 1}), or one per pooling "
                f"layer below it ({len(below)}): got {len(sw)}"
            )
        for i, s in zip(below, sw):
            if not isinstance(s, Switches):
                raise TypeError(f"switches for layer {i} must be a Switches object, got {type(s).__name__}")
            if s.input_shape != self.map_shapes[i - 1] or s.output_shape != self.pooled_shapes[i - 1]:
                raise ValueError(
                    f"switches for layer {i} pool {s.input_shape} -> {s.output_shape}, but layer {i} pools "
                    f"{self.map_shapes[i - 1]} -> {self.pooled_shapes[i - 1]}"
                )
        return dict(zip(below, sw))

    def switches(self, maps: Sequence[Any]) -> list:
        """Switches of layers ``1, 2, …`` from their feature maps (``None`` for unpooled layers).

        In Zeiler's layer-wise inference these are the inferred maps of the
        layers below; any maps of the right shapes will do for building ``R_l``.

        Parameters
        ----------
        maps : sequence of array_like
            ``maps[i]`` of shape ``map_shapes[i]``; as many layers as given.

        Returns
        -------
        list of Switches or None
            Each layer's own :class:`MaxPool` applied to its maps.

        Raises
        ------
        TypeError
            If ``maps`` is not a sequence of real arrays.
        ValueError
            If there are more maps than layers or a map has the wrong size.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 3)), pool=MaxPool(2, channel_pool=2)),
        ...                      ZeilerLayer(np.ones((1, 1, 2)))], (1, 4))
        >>> s1, s2 = stack.switches([np.array([[0, 5, 1, 2, 3, 4], [9, 0, 0, 0, 0, 7]]), np.zeros((1, 4))])
        >>> s1.indices, s2        # flat positions in the (2, 6) maps of layer 1
        (array([[ 6,  3, 11]]), None)
        """
        maps = _sequence(maps, "maps", "arrays")
        out = []
        for i, z in enumerate(maps):
            if i >= self.depth:
                raise ValueError(f"maps has {len(maps)} entries but the stack has {self.depth} layers")
            z = _real_array(z, f"maps[{i}]")
            if z.size != prod(self.map_shapes[i]):
                raise ValueError(f"maps[{i}] has shape {z.shape} but layer {i + 1}'s maps are {self.map_shapes[i]}")
            z = z.reshape(self.map_shapes[i])
            pool = self.layers[i].pool
            out.append(None if pool is None else pool.switches(z))
        return out

    def F(self, l: int) -> sp.csr_array:
        """``F_l``: layer ``l``'s maps -> its input (the pooled maps of layer ``l - 1``).

        Raises
        ------
        ValueError
            If ``l`` is not a layer number.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((4, 1, 3, 3)))], (1, 8, 8))
        >>> stack.F(1).shape     # (1 * 8 * 8, 4 * 10 * 10)
        (64, 400)
        """
        l = self._check_l(l)
        return self.layers[l - 1].F(self.map_shapes[l - 1][1:])

    def Ft(self, l: int) -> sp.csr_array:
        """``F_lᵀ``, built directly from ``conv_matrix`` (not by transposing ``F_l``).

        Raises
        ------
        ValueError
            If ``l`` is not a layer number.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.arange(36).reshape(4, 1, 3, 3))], (1, 8, 8))
        >>> (stack.Ft(1) != stack.F(1).T).nnz
        0
        """
        l = self._check_l(l)
        return self.layers[l - 1].Ft(self.input_shapes[l - 1][1:])

    def R(self, l: int, switches: Sequence[Switches | None] = ()) -> sp.csr_array:
        """``R_l = F_1 U_s1 F_2 U_s2 … F_l``: layer ``l``'s maps -> the image.

        Parameters
        ----------
        l : int
            Layer number, 1-based.
        switches : sequence of Switches or None
            Of layers ``1 … l-1`` (``None`` for unpooled layers), or only of the
            pooling layers below ``l``.

        Returns
        -------
        (prod(input_shape), prod(map_shapes[l-1])) csr_array, canonical

        Raises
        ------
        TypeError, ValueError
            On a bad layer number, or switches that are not :class:`Switches`
            of the pooling layers below ``l`` with their shapes.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 2), dtype=int), pool=MaxPool(2, channel_pool=2)),
        ...                      ZeilerLayer(np.ones((1, 1, 2), dtype=int))], (1, 3))
        >>> s = stack.switches([np.array([[0, 5, 1, 2], [9, 0, 0, 0]])])
        >>> s[0].indices           # where layer 1's maxima sit in its (2, 4) maps
        array([[4, 3]])
        >>> stack.R(2, s).toarray()   # z_2 (3 entries) -> F_2 -> U_s1 -> F_1 -> image (3 pixels)
        array([[1, 1, 0],
               [0, 0, 0],
               [0, 1, 1]])
        """
        l = self._check_l(l)
        sw = self._check_switches(l, switches)
        R = self.F(1)
        for i in range(1, l):
            if i in sw:
                R = R @ unpool_matrix(sw[i])
            R = R @ self.F(i + 1)
        return _canonical(R)

    def Rt(self, l: int, switches: Sequence[Switches | None] = ()) -> sp.csr_array:
        """``R_lᵀ = F_lᵀ … P_s2 F_2ᵀ P_s1 F_1ᵀ``, the projection, built from its own factors.

        Same parameters as :meth:`R`; equals ``R(l, switches).T`` exactly.

        Raises
        ------
        TypeError, ValueError
            As :meth:`R`.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 2), dtype=int), pool=MaxPool(2, channel_pool=2)),
        ...                      ZeilerLayer(np.ones((1, 1, 2), dtype=int))], (1, 3))
        >>> s = stack.switches([np.array([[0, 5, 1, 2], [9, 0, 0, 0]])])
        >>> (stack.Rt(2, s) != stack.R(2, s).T).nnz
        0
        """
        l = self._check_l(l)
        sw = self._check_switches(l, switches)
        Rt = self.Ft(1)
        for i in range(1, l):
            if i in sw:
                Rt = pool_matrix(sw[i]) @ Rt
            Rt = self.Ft(i + 1) @ Rt
        return _canonical(Rt)

    def infer(
        self,
        y: Any,
        l: int,
        switches: Sequence[Switches | None] = (),
        *,
        lam: float = 1.0,
        method: str = "fista",
        n_iter: int = 100,
        refresh: bool = False,
        step: float | None = None,
        z0: Any = None,
        callback: Callable | None = None,
    ) -> "InferenceResult":
        """Infer layer ``l``'s maps from the image ``y`` by ISTA or FISTA on ``C_l``.

        ``refresh=True`` adds Zeiler's pooling step after each shrinkage: the maps
        are pooled by layer ``l``'s own pooling (by magnitude) and unpooled with
        the new switches, so that only each block's largest entry survives; the
        final switches are in ``result.switches``.  Other parameters as
        :func:`ista`; returns the maps with shape ``map_shapes[l-1]``.

        Everything is checked before ``R_l`` is built.

        Raises
        ------
        TypeError, ValueError
            On a bad layer number, ``method``, ``y`` (not ``input_shape``'s
            size, or not finite), ``lam``, ``step``, ``n_iter``, ``z0``,
            ``callback`` or switches, or ``refresh`` for a layer without
            pooling; each names its parameter.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((1, 1, 1)))], (1, 3))   # F_1 = I
        >>> res = stack.infer([[3.0, 0.5, -2.0]], 1, lam=1.0, n_iter=50)
        >>> np.round(res.z, 6), res.n_iter      # argmin |z - y|^2 / 2 + |z|_1: y shrunk by 1
        (array([[ 2., -0., -1.]]), 50)
        """
        l = self._check_l(l)
        if not isinstance(method, str) or method not in ("ista", "fista"):
            raise ValueError(f"method={method!r} must be 'ista' or 'fista'")
        refresh = _as_bool(refresh, "refresh")
        shape = self.map_shapes[l - 1]
        pool = self.layers[l - 1].pool
        if refresh and pool is None:
            raise ValueError(f"refresh=True needs a pooling on layer l={l}, which has none")
        y = _real_array(y, "y", finite=True)
        if y.size != prod(self.input_shape):
            raise ValueError(f"y has shape {y.shape} but the stack's input is {self.input_shape}")
        _check_solver_args(lam, step, n_iter, None, callback)
        if z0 is not None:
            z0 = _real_array(z0, "z0", finite=True)
            if z0.size != prod(shape):
                raise ValueError(f"z0 has shape {z0.shape} but layer {l}'s maps are {shape}")
        self._check_switches(l, switches)
        ref = None
        if refresh:
            zpool = MaxPool(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode,
                            pool.channel_pool, absolute=True)

            def _refresh(z):
                s = zpool.switches(z.reshape(shape))
                return s.unpool(s.pool(z)).reshape(-1)

            ref = _refresh

        R, Rt = self.R(l, switches), self.Rt(l, switches)
        solver = fista if method == "fista" else ista
        res = solver(R, y, lam, Rt=Rt, step=step, n_iter=n_iter, z0=z0, refresh=ref, callback=callback)
        res.z = res.z.reshape(shape)
        if pool is not None:
            res.switches = MaxPool(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode,
                                   pool.channel_pool, absolute=refresh or pool.absolute).switches(res.z)
        return res


# =========================================================================== inference
def operator_norm(
    R: Any, Rt: Any = None, *, method: str = "power", tol: float = 1e-6, maxiter: int = 1000, seed: int = 0
) -> float:
    """``‖R‖₂``, the largest singular value, by power iteration on ``RᵀR`` or by ``svds``.

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    Rt : sparse array or ndarray, shape (n, m), optional
        ``Rᵀ`` if it is at hand (power iteration only); else ``R.T``.
    method : {"power", "svds"}, optional
        Power iteration (default) stops when the estimate of ``‖R‖²`` changes
        by less than ``tol`` relatively; it approaches from below.
        ``"svds"`` calls ``scipy.sparse.linalg.svds(R, k=1)``.
    tol : float, optional
    maxiter : int, optional
    seed : int, optional
        Of the random start vector.

    Returns
    -------
    float
        ``0.0`` for a matrix without a nonzero entry.

    Raises
    ------
    TypeError
        If ``R`` or ``Rt`` is not a 2-d real sparse array or ndarray, or
        ``tol``, ``maxiter`` or ``seed`` has the wrong type.
    ValueError
        On an unknown ``method``, ``Rt`` not of shape ``R.shape[::-1]``, a
        non-positive ``tol`` or ``maxiter``, or a negative ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[3.0, 0.0], [4.0, 5.0]])
    >>> round(operator_norm(R), 6), round(operator_norm(R, method="svds"), 6)
    (6.708204, 6.708204)
    """
    if not isinstance(method, str) or method not in ("power", "svds"):
        raise ValueError(f"method={method!r} must be 'power' or 'svds'")
    R = _matrix(R, "R")
    if Rt is not None:
        Rt = _matrix(Rt, "Rt")
        if tuple(Rt.shape) != tuple(R.shape[::-1]):
            raise ValueError(f"Rt has shape {Rt.shape} but R has shape {R.shape}: Rt must be {R.shape[::-1]}")
    tol = _as_real(tol, "tol", positive=True)
    maxiter = _integer(maxiter, "maxiter", 1)
    seed = _integer(seed, "seed", 0)
    if (R.count_nonzero() if sp.issparse(R) else np.count_nonzero(R)) == 0:
        return 0.0
    if method == "svds":
        if min(R.shape) < 2:
            return float(np.linalg.norm(R.toarray() if sp.issparse(R) else np.asarray(R), 2))
        A = sp.csr_array(R, dtype=np.float64) if sp.issparse(R) else np.asarray(R, dtype=np.float64)
        try:
            return float(spla.svds(A, k=1, return_singular_vectors=False, random_state=seed)[0])
        except spla.ArpackError:  # pragma: no cover - fall back on the power iteration
            return operator_norm(A, tol=tol, maxiter=maxiter, seed=seed)
    Rt = R.T if Rt is None else Rt
    v = np.random.default_rng(seed).standard_normal(R.shape[1])
    v /= np.linalg.norm(v)
    est = 0.0
    for _ in range(maxiter):
        w = Rt @ (R @ v)
        new = float(v @ w)
        nw = np.linalg.norm(w)
        if nw == 0:
            return 0.0
        v = w / nw
        if abs(new - est) <= tol * abs(new):
            est = new
            break
        est = new
    return sqrt(max(nw, est))  # ‖RᵀR v‖ for unit v bounds the Rayleigh quotient from above, still ≤ ‖R‖²


def _shrink(z: np.ndarray, beta: float) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - beta, 0.0)


def soft_threshold(z: Any, beta: float) -> np.ndarray:
    """``max(|z| - β, 0) · sign(z)``, the shrinkage of the ℓ₁ proximal step.

    Parameters
    ----------
    z : array_like
        Real numbers.
    beta : float
        The threshold ``β``, a non-negative finite number.

    Returns
    -------
    ndarray of float, the shape of ``z``

    Raises
    ------
    TypeError
        If ``z`` is not real numbers or ``beta`` not a real number.
    ValueError
        If ``beta`` is negative or not finite.

    Examples
    --------
    >>> soft_threshold(np.array([-3.0, -0.5, 0.2, 2.0]), 1.0)
    array([-2.,  0.,  0.,  1.])
    """
    z = _real_array(z, "z")
    return _shrink(z, _as_real(beta, "beta"))


def lasso_cost(R: Any, y: Any, z: Any, lam: float) -> float:
    """``C(z) = λ/2 ‖R z − y‖² + ‖z‖₁``.

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    y : array_like, m entries
    z : array_like, n entries
    lam : float
        ``λ``, a positive finite number.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``R`` is not a 2-d real matrix, ``y`` or ``z`` not real numbers, or
        ``lam`` not a real number.
    ValueError
        If ``y`` or ``z`` does not fit ``R``, or ``lam`` is not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> lasso_cost(np.eye(2), np.array([1.0, 0.0]), np.array([0.5, 0.0]), 2.0)
    0.75
    """
    R = _matrix(R, "R")
    y = _real_array(y, "y").reshape(-1)
    z = _real_array(z, "z").reshape(-1)
    if y.size != R.shape[0]:
        raise ValueError(f"y has {y.size} entries but R has {R.shape[0]} rows: they must match")
    if z.size != R.shape[1]:
        raise ValueError(f"z has {z.size} entries but R has {R.shape[1]} columns: they must match")
    lam = _as_real(lam, "lam", positive=True)
    r = R @ z - y
    return float(lam / 2 * (r @ r) + np.abs(z).sum())


@dataclass(eq=False)
class InferenceResult:
    """What :func:`ista` / :func:`fista` return.

    Attributes
    ----------
    z : ndarray
        The maps (flat, or shaped by :meth:`ZeilerStack.infer`).
    cost : ndarray
        ``C(z)`` at the start and after every iteration (``n_iter + 1`` values).
    step : float
        The gradient step used.
    lipschitz : float or None
        ``L = λ ‖R‖²``, the Lipschitz constant of the gradient, when the step
        was derived from it (``None`` when a step was given).
    n_iter : int
        Iterations run.
    switches : Switches or None
        After :meth:`ZeilerStack.infer` with pooling: the switches of the result.

    Examples
    --------
    >>> import numpy as np
    >>> res = ista(np.eye(2), [3.0, 0.5], step=1.0, n_iter=5)
    >>> res.z, res.cost, res.step, res.lipschitz, res.n_iter
    (array([2., 0.]), array([4.625, 2.625, 2.625, 2.625, 2.625, 2.625]), 1.0, None, 5)
    """

    z: np.ndarray
    cost: np.ndarray
    step: float
    lipschitz: float | None
    n_iter: int
    switches: Switches | None = None


def _check_solver_args(lam, step, n_iter, refresh, callback):
    """The scalar and callable arguments of :func:`ista`; returns ``(lam, step, n_iter)``."""
    lam = _as_real(lam, "lam", positive=True)
    step = None if step is None else _as_real(step, "step", positive=True)
    n_iter = _integer(n_iter, "n_iter", 0)
    if refresh is not None and not callable(refresh):
        raise TypeError(f"refresh must be a callable z -> z or None, got {type(refresh).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a callable (iteration, z, cost) or None, got {type(callback).__name__}")
    return lam, step, n_iter


def _check_inference(R, y, lam, Rt, step, n_iter, z0, refresh, callback, fast):
    R = _matrix(R, "R")
    y = _real_array(y, "y", finite=True).reshape(-1).astype(np.float64)
    if y.size != R.shape[0]:
        raise ValueError(f"y has {y.size} entries but R has {R.shape[0]} rows: they must match")
    lam, step, n_iter = _check_solver_args(lam, step, n_iter, refresh, callback)
    _as_bool(fast, "fast")
    if Rt is not None:
        Rt = _matrix(Rt, "Rt")
        if tuple(Rt.shape) != tuple(R.shape[::-1]):
            raise ValueError(f"Rt has shape {Rt.shape} but R has shape {R.shape}: Rt must be {R.shape[::-1]}")
    if z0 is None:
        z = np.zeros(R.shape[1])
    else:
        z = _real_array(z0, "z0", finite=True).reshape(-1).astype(np.float64)
        if z.size != R.shape[1]:
            raise ValueError(f"z0 has {z.size} entries but R has {R.shape[1]} columns: they must match")
    Rt = R.T.tocsr() if Rt is None and sp.issparse(R) else (R.T if Rt is None else Rt)
    if step is not None:
        return y, z, Rt, lam, None, step, n_iter
    L = lam * operator_norm(R, method="svds") ** 2
    if L == 0:
        raise ValueError(
            "R has no nonzero entry, so L = lam * ||R||^2 = 0 and the default step 1 / L is undefined: give step="
        )
    return y, z, Rt, lam, L, 1.0 / L, n_iter


def ista(
    R: Any,
    y: Any,
    lam: float = 1.0,
    *,
    Rt: Any = None,
    step: float | None = None,
    n_iter: int = 100,
    z0: Any = None,
    refresh: Callable[[np.ndarray], np.ndarray] | None = None,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
    fast: bool = False,
) -> InferenceResult:
    """ISTA (or FISTA with ``fast=True``) on ``C(z) = λ/2 ‖R z − y‖² + ‖z‖₁``.

    Each iteration: gradient step ``z − t λ Rᵀ(R z − y)``, shrinkage by ``t``,
    then ``refresh`` if given (Zeiler's pool/unpool pass).

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    y : array_like, m entries
    lam : float, optional
        ``λ``, the weight of the reconstruction term.
    Rt : sparse array or ndarray, shape (n, m), optional
        The projection ``Rᵀ`` (e.g. :meth:`ZeilerStack.Rt`); default ``R.T``.
    step : float, optional
        Default ``1 / L`` with ``L = λ ‖R‖²`` from :func:`operator_norm`
        (``method="svds"``: Lanczos is accurate where power iteration crawls on
        the flat top spectrum of convolutions).  ISTA's cost is non-increasing
        for any ``step < 2 / L``.
    n_iter : int, optional
        Iterations, at least 0 (``0`` returns the start and its cost).
    z0 : array_like, optional
        Start (default zeros).
    refresh : callable, optional
        ``z -> z`` applied after each shrinkage (breaks the monotonicity).
    callback : callable, optional
        ``callback(iteration, z, cost)`` after every iteration (1-based); return
        ``True`` to stop.  Use it for a progress bar.
    fast : bool, optional
        FISTA momentum (Beck & Teboulle, 2009).

    Returns
    -------
    InferenceResult

    Raises
    ------
    TypeError
        If ``R`` or ``Rt`` is not a 2-d real sparse array or ndarray, ``y`` or
        ``z0`` not real numbers, ``lam`` or ``step`` not a real number,
        ``n_iter`` not an integer, ``refresh`` or ``callback`` not callable, or
        ``fast`` not a bool.
    ValueError
        If ``y``, ``Rt`` or ``z0`` does not fit ``R``, ``y`` or ``z0`` holds
        NaN or inf, ``lam`` or ``step`` is not positive and finite, ``n_iter``
        is negative, or ``R`` is zero and no ``step`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> res = ista(R, [3.0, 0.1], lam=1.0, n_iter=200)
    >>> np.round(res.z, 4), bool(np.all(np.diff(res.cost) <= 1e-12))
    (array([2., 0.]), True)
    >>> ista(R, [3.0, 0.1], "1")
    Traceback (most recent call last):
        ...
    TypeError: lam='1' must be a real number, not a str
    """
    y, z, Rt, lam, L, t, n_iter = _check_inference(R, y, lam, Rt, step, n_iter, z0, refresh, callback, fast)
    costs = []
    r = R @ z - y
    costs.append(float(lam / 2 * (r @ r) + np.abs(z).sum()))
    x_prev, tk, done = z.copy(), 1.0, 0
    for it in range(1, n_iter + 1):
        g = lam * (Rt @ r)
        x = _shrink(z - t * g, t)
        if refresh is not None:
            x = np.asarray(refresh(x), dtype=np.float64).reshape(-1)
            if x.size != z.size:
                raise ValueError(f"refresh returned {x.size} entries for z of {z.size}: it must keep the size")
        if fast:
            t_next = (1 + sqrt(1 + 4 * tk * tk)) / 2
            z = x + ((tk - 1) / t_next) * (x - x_prev)
            tk, x_prev = t_next, x
            rx = R @ x - y
            costs.append(float(lam / 2 * (rx @ rx) + np.abs(x).sum()))
            r = R @ z - y
        else:
            z = x
            r = R @ z - y
            costs.append(float(lam / 2 * (r @ r) + np.abs(z).sum()))
        done = it
        if callback is not None and callback(it, x, costs[-1]):
            break
    out = x_prev if fast else z
    return InferenceResult(z=out, cost=np.array(costs), step=t, lipschitz=L, n_iter=done)


def fista(R: Any, y: Any, lam: float = 1.0, **kwargs) -> InferenceResult:
    """FISTA: :func:`ista` with Beck & Teboulle's momentum (same parameters, no ``fast``).

    Raises
    ------
    TypeError, ValueError
        As :func:`ista`, and a ``TypeError`` if ``fast`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> res = fista(np.array([[1.0, 0.0], [0.0, 2.0]]), [3.0, 0.1], n_iter=100)
    >>> np.round(res.z, 4)
    array([2., 0.])
    """
    if "fast" in kwargs:
        raise TypeError("fista() takes no 'fast' argument: it is ista(..., fast=True)")
    return ista(R, y, lam, fast=True, **kwargs)


# =========================================================================== deconvnet (2014)
@dataclass(frozen=True, eq=False)
class ConvLayer:
    """One layer of a convnet: convolution (no bias), ReLU, optional max pooling.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in, *kernel_size)
        torch's ``Conv`` layout; real numbers.
    stride : int or tuple of int, optional
        Of the convolution.
    padding : int, tuple of int, tuple of (lo, hi) pairs, "same" or "valid", optional
        Of the convolution: any padding :func:`convmatrix.conv_matrix` takes
        (normalised by :class:`convmatrix.geometry.ConvGeometry`), so also
        per-axis ``(lo, hi)`` pairs that ``torch.nn.ConvNd`` does not take.
    pool : MaxPool, optional
        Max pooling after the ReLU.

    Raises
    ------
    TypeError, ValueError
        On a weight that is not real numbers of shape ``(C_out, C_in, *k)``, a
        bad stride or padding (``"same"`` needs stride 1), or a ``pool`` that
        is not a :class:`MaxPool`; the input size is checked by :class:`DeconvNet`.

    Examples
    --------
    >>> import numpy as np
    >>> ConvLayer(np.ones((4, 1, 3, 3)), padding=1, pool=MaxPool(2)).weight.shape
    (4, 1, 3, 3)
    >>> ConvLayer(np.ones((4, 1, 3, 3)), stride=2, padding="same")
    Traceback (most recent call last):
        ...
    ValueError: padding='same' is not supported for strided convolutions: stride=(2, 2) must be 1 along every axis
    """

    weight: np.ndarray
    stride: Any = 1
    padding: Any = 0
    pool: MaxPool | None = None

    def __post_init__(self):
        w = _real_array(self.weight, "weight")
        if w.ndim < 3:
            raise ValueError(f"weight must have shape (C_out, C_in, *kernel_size): got {w.shape}")
        if min(w.shape) < 1:
            raise ValueError(f"weight shape {w.shape} must be positive along every axis")
        object.__setattr__(self, "weight", w)
        nd = w.ndim - 2
        s = normalize_tuple(self.stride, nd, "stride")
        normalize_padding(self.padding, w.shape[2:], s, (1,) * nd)
        if self.pool is not None and not isinstance(self.pool, MaxPool):
            raise TypeError(f"pool must be a MaxPool or None, got {type(self.pool).__name__}")


@dataclass(eq=False)
class ForwardPass:
    """A convnet's forward pass: per layer the rectified maps, the switches and the output."""

    rectified: list
    switches: list
    outputs: list


class DeconvNet:
    """Zeiler & Fergus's (2014) deconvnet over a small convnet, with explicit matrices.

    Going up, layer ``l`` computes ``a = relu(A_l x)`` (``A_l`` =
    :func:`conv_matrix`) and pools it, recording switches ``s_l``.  Going down
    from a chosen activation, each layer unpools with ``U_{s_l}``, rectifies,
    and applies the transposed filters ``T_l`` = :func:`conv_transpose_matrix`
    of the same weight, which is ``A_lᵀ`` exactly (torch's ``MaxUnpool`` +
    ``ReLU`` + ``ConvTranspose`` of the same network).  With overlapping
    pooling windows ``U_s`` sums where torch's ``MaxUnpool`` overwrites.

    Each layer's stride and padding are normalised once by
    :meth:`convmatrix.geometry.ConvGeometry.from_weight_shape`, the same
    normaliser as :func:`conv_matrix`, so per-axis ``(lo, hi)`` pairs,
    ``"same"`` and ``"valid"`` work; ``T_l`` gets the same ``(lo, hi)`` pairs and
    the ``output_padding`` that restores the layer's input size.

    Parameters
    ----------
    layers : sequence of ConvLayer
    input_shape : tuple of int
        ``(C, *spatial)`` of the image.

    Attributes
    ----------
    geometries : list of ConvGeometry
        Each layer's convolution, normalised (``padding`` as ``(lo, hi)`` pairs).
    A, T : list of csr_array
        ``A_l`` and ``T_l = A_lᵀ``.
    conv_shapes, output_shapes : list of tuple of int
        Each layer's convolution output, and its output after pooling.

    Raises
    ------
    TypeError, ValueError
        If ``layers`` is not a non-empty sequence of :class:`ConvLayer`,
        ``input_shape`` is not ``(C, *spatial)`` positive integers, or the
        layers do not chain (channels, spatial axes, sizes too small for a
        kernel or pooling).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> net = DeconvNet([ConvLayer(rng.standard_normal((4, 1, 3, 3)), padding=1, pool=MaxPool(2)),
    ...                  ConvLayer(rng.standard_normal((6, 4, 3, 3)), padding=1, pool=MaxPool(2))],
    ...                 (1, 8, 8))
    >>> net.output_shapes
    [(4, 4, 4), (6, 2, 2)]
    >>> net.project(rng.standard_normal((1, 8, 8)), 2).shape
    (1, 8, 8)

    Any padding of :func:`conv_matrix`: ``"same"``, or per-axis ``(lo, hi)`` pairs.

    >>> w = np.ones((2, 1, 2, 3))
    >>> DeconvNet([ConvLayer(w, padding="same")], (1, 5, 5)).geometries[0].padding
    ((0, 1), (1, 1))
    >>> DeconvNet([ConvLayer(w, padding=((1, 0), 1))], (1, 5, 5)).output_shapes
    [(2, 5, 5)]
    """

    def __init__(self, layers: Sequence[ConvLayer], input_shape: Sequence[int]):
        layers = _sequence(layers, "layers", "ConvLayer")
        if not layers:
            raise ValueError("layers must hold at least one ConvLayer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, ConvLayer):
                raise TypeError(f"layers[{i}] must be a ConvLayer, got {type(layer).__name__}")
        shape = _shape(input_shape, "input_shape")
        self.layers, self.input_shape = layers, shape
        self.geometries, self.A, self.T, self.conv_shapes, self.output_shapes = [], [], [], [], []
        for l, layer in enumerate(layers, start=1):
            w = layer.weight
            if w.ndim - 2 != len(shape) - 1:
                raise ValueError(
                    f"layer {l}'s weight {w.shape} has {w.ndim - 2}-d kernels but its input {shape} has "
                    f"{len(shape) - 1} spatial axes"
                )
            if w.shape[1] != shape[0]:
                raise ValueError(
                    f"layer {l}'s weight {w.shape} takes C_in={w.shape[1]} channels "
                    f"but the layer below gives {shape[0]}"
                )
            g = ConvGeometry.from_weight_shape(w.shape, shape[1:], stride=layer.stride, padding=layer.padding)
            o = (g.out_channels, *g.output_size)
            # T_l maps o back onto the input size: the rows that the floor of the stride dropped
            # come back as output_padding (< stride, as torch requires)
            op = tuple(n - ((oi - 1) * s - lo - hi + k)
                       for n, oi, s, (lo, hi), k in zip(g.input_size, g.output_size, g.stride, g.padding, g.kernel_size))
            A = conv_matrix(w, g.input_size, stride=g.stride, padding=g.padding)
            T = sp.csr_array(conv_transpose_matrix(w, g.output_size, stride=g.stride, padding=g.padding,
                                                   output_padding=op))
            self.geometries.append(g)
            self.A.append(A)
            self.T.append(T)
            self.conv_shapes.append(o)
            shape = o if layer.pool is None else layer.pool.output_shape(o)
            self.output_shapes.append(shape)

    def forward(self, x: Any) -> ForwardPass:
        """Run the convnet on one sample, keeping rectified maps, switches and outputs.

        Parameters
        ----------
        x : array_like, ``input_shape`` entries
            Real numbers.

        Returns
        -------
        ForwardPass
            Per layer: ``rectified`` (``conv_shapes``), ``switches`` (``None``
            without pooling) and ``outputs`` (``output_shapes``).

        Raises
        ------
        TypeError, ValueError
            If ``x`` is not real numbers of ``input_shape``'s size.

        Examples
        --------
        >>> import numpy as np
        >>> net = DeconvNet([ConvLayer(np.array([[[1, -1]]]), pool=MaxPool(2))], (1, 5))
        >>> fp = net.forward([[0, 3, 1, 1, 5]])
        >>> fp.rectified[0], fp.outputs[0], fp.switches[0].indices
        (array([[0, 2, 0, 0]]), array([[2, 0]]), array([[1, 2]]))
        """
        x = _real_array(x, "x")
        if x.size != prod(self.input_shape):
            raise ValueError(f"x has shape {x.shape} but the network takes {self.input_shape}")
        h = x.reshape(-1)
        rect, sw, outs = [], [], []
        for layer, A, o in zip(self.layers, self.A, self.conv_shapes):
            a = np.maximum(A @ h, 0).reshape(o)
            rect.append(a)
            s = None if layer.pool is None else layer.pool.switches(a)
            sw.append(s)
            h = a.reshape(-1) if s is None else s.pool(a).reshape(-1)
            outs.append(h.reshape(a.shape if s is None else s.output_shape))
        return ForwardPass(rect, sw, outs)

    def _check_forward(self, forward: Any) -> ForwardPass:
        if not isinstance(forward, ForwardPass):
            raise TypeError(f"forward must be a ForwardPass from DeconvNet.forward, got {type(forward).__name__}")
        shapes = [np.shape(o) for o in forward.outputs]
        if len(forward.switches) != len(self.layers) or shapes != self.output_shapes:
            raise ValueError(
                f"forward has outputs of shapes {shapes} but this network's layers give {self.output_shapes}: "
                f"it must be a forward pass of this network"
            )
        return forward

    def project(self, x: Any, l: int, *, feature_map: int | None = None, unit: Sequence[int] | None = None,
                forward: ForwardPass | None = None, return_factors: bool = False):
        """Project an activation of layer ``l`` (1-based) back to pixel space.

        Parameters
        ----------
        x : array_like, shape input_shape
        l : int
        feature_map : int, optional
            Keep that whole map of layer ``l``'s output, zero the others.
        unit : tuple of int, optional
            Keep only this entry (a multi-index into ``output_shapes[l-1]``).
            With neither, the strongest activation of the layer is kept, as
            Zeiler & Fergus.
        forward : ForwardPass, optional
            Reuse a forward pass of ``x`` (then ``x`` is not read).
        return_factors : bool, optional
            Also return the explicit matrices of the down pass, left to right
            ``[T_1, D_1, U_1, …, T_l, D_l, U_l]`` (``D_i`` the 0/1 diagonal of the
            ReLU as it acted; no ``U_i`` for unpooled layers), whose product
            applied to the kept activation gives the projection.

        Returns
        -------
        ndarray, shape input_shape
            Or ``(pixels, factors)`` with ``return_factors=True``.

        Raises
        ------
        TypeError
            If ``feature_map`` is not an integer, ``unit`` not a sequence of
            integers, ``forward`` not a :class:`ForwardPass`, or
            ``return_factors`` not a bool.
        ValueError
            On a bad layer number, a feature map or unit outside layer ``l``'s
            output, both ``feature_map`` and ``unit``, or a ``forward`` of
            another network.

        Examples
        --------
        >>> import numpy as np
        >>> net = DeconvNet([ConvLayer(np.array([[[1, -1]]]), pool=MaxPool(2))], (1, 5))
        >>> x = [[0, 3, 1, 1, 5]]
        >>> net.project(x, 1)                 # the strongest unit, 2, at its switch, through T_1 = A_1^T
        array([[ 0.,  2., -2.,  0.,  0.]])
        >>> net.project(x, 1, feature_map=1.5)
        Traceback (most recent call last):
            ...
        TypeError: feature_map must be an integer, got 1.5 of type float
        """
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= len(self.layers):
            raise ValueError(f"l={l!r} must be a layer number between 1 and {len(self.layers)}")
        top_shape = self.output_shapes[l - 1]
        if feature_map is not None and unit is not None:
            raise ValueError("give feature_map or unit, not both")
        if feature_map is not None:
            feature_map = _integer(feature_map, "feature_map", 0)
            if feature_map >= top_shape[0]:
                raise ValueError(f"feature_map={feature_map} must be between 0 and {top_shape[0] - 1}")
        elif unit is not None:
            unit = _sequence(unit, "unit", "integers")
            if any(isinstance(u, (bool, np.bool_)) or not isinstance(u, (int, np.integer)) for u in unit):
                raise TypeError(f"unit={unit!r} must be a tuple of integers")
            if len(unit) != len(top_shape) or any(not 0 <= u < n for u, n in zip(unit, top_shape)):
                raise ValueError(f"unit={unit} must index the layer's output of shape {top_shape}")
        return_factors = _as_bool(return_factors, "return_factors")
        fp = self.forward(x) if forward is None else self._check_forward(forward)
        top = fp.outputs[l - 1]
        keep = np.zeros(top.shape, dtype=bool)
        if feature_map is not None:
            keep[feature_map] = True
        elif unit is not None:
            keep[unit] = True
        else:
            keep.flat[int(np.argmax(top))] = True
        h = np.where(keep, top, 0).reshape(-1).astype(np.float64)
        factors: list = []
        for i in range(l - 1, -1, -1):
            s = fp.switches[i]
            step = []
            if s is not None:
                U = unpool_matrix(s)
                h = U @ h
                step.append(U)
            D = sp.diags_array((h > 0).astype(np.int64), format="csr", dtype=np.int64)
            h = np.maximum(h, 0)
            h = self.T[i] @ h
            factors = [self.T[i], D, *step[::-1]] + factors
        pixels = h.reshape(self.input_shape)
        return (pixels, factors) if return_factors else pixels


# =========================================================================== images
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
    size = _integer(size, "size", 16)
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
    kernel_size = _integer(kernel_size, "kernel_size", 3)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size!r} must be an odd integer of at least 3")
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
    x = _real_array(x, "x").astype(np.float64)
    ref = _real_array(reference, "reference").astype(np.float64)
    peak = _as_real(peak, "peak", positive=True)
    if x.shape != ref.shape:
        raise ValueError(f"x has shape {x.shape} but reference has shape {ref.shape}: they must match")
    mse = float(np.mean((x - ref) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))
