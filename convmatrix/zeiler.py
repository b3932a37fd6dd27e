"""Zeiler's deconvolutional networks (2011) as explicit sparse matrices.

Adaptive deconvolutional networks (Zeiler, Taylor & Fergus, ICCV 2011): layer
``l`` has ``K_l`` feature maps ``z_l`` that reconstruct the maps below it,
``y^c = Σ_k z_{k,l} * f^c_{k,l}``, written ``ŷ = F_l z_l``.  Between layers, 3-D
max pooling over (feature maps × space) gives switches ``s_l``; for fixed
switches pooling ``P_s`` and unpooling ``U_s = P_sᵀ`` are linear
(:mod:`convmatrix.pooling`).  The reconstruction of the input from layer ``l``
is ``ŷ = R_l z_l`` with

    R_l  = F_1 U_s1 F_2 U_s2 … F_l,
    R_lᵀ = F_lᵀ … P_s2 F_2ᵀ P_s1 F_1ᵀ,

and the features are inferred by ISTA/FISTA (:mod:`convmatrix.sparse_coding`) on
``C_l(y) = λ/2 ‖R_l z_l − y‖² + Σ_k |z_{k,l}|₁``.

The object model is small: a :class:`ZeilerLayer` is a filter bank, a border
choice and an optional pooling of its maps; a :class:`ZeilerStack` chains
layers over an input shape and builds ``F_l``, ``F_lᵀ``, ``R_l`` and ``R_lᵀ``
(the last two each from its own factors, so ``R_lᵀ == R_l.T`` is a check).
The 2014 deconvnet is :mod:`convmatrix.deconvnet`.

Layer numbers ``l`` are 1-based, as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Callable, Sequence

import numpy as np

from ._display import Displayable
from ._limits import as_format, as_max_bytes
from ._sparse import finish, structural_product
from ._validation import (InputTypeError, InputValueError, as_array, as_bool, as_choice, as_index, as_instance,
                          as_sample_shape, as_sequence)
from .geometry import normalize_tuple
from .matrices import conv_matrix, conv_transpose_matrix
from .pooling import MaxPool, Switches, pool_matrix, unpool_matrix
from .sparse_coding import InferenceResult, check_solver_args, fista, ista

__all__ = ["BORDERS", "ZeilerLayer", "ZeilerStack"]

#: Border choices of a layer's reconstruction ``y = Σ_k z_k * f_k``.
BORDERS = ("valid", "same", "full")


@dataclass(frozen=True, eq=False)
class ZeilerLayer(Displayable):
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
        f = as_array(self.filters, "filters", rule="must hold real numbers (integer or float)")
        if f.ndim < 3:
            raise InputValueError(
                f"filters must have shape (K, C, *kernel_size) with K maps and C channels below: got {f.shape}"
            )
        if min(f.shape) < 1:
            raise InputValueError(f"filters shape {f.shape} must be positive along every axis")
        object.__setattr__(self, "filters", f)
        as_choice(self.border, "border", BORDERS)
        as_instance(self.pool, "pool", MaxPool, "a MaxPool", optional=True)

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
                raise InputValueError(
                    f"border='full' needs input_size {a} along axis {axis} at least the kernel size "
                    f"{self.kernel_size[axis]}"
                )
        return out

    def F(self, map_size: int | Sequence[int], *, format: str = "csr", max_bytes: int | None = None):
        """``F_l``: maps ``(K, *map_size)`` -> reconstruction ``(C, *input_size)``.

        ``conv_transpose_matrix(filters, map_size, padding=self.padding)``,
        i.e. torch's ``conv_transpose`` (stride 1) cropped by the border.

        ``format`` and ``max_bytes`` are as :func:`convmatrix.conv_matrix`'s (output
        format; refuse, before building, a matrix over that many bytes).

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
        return conv_transpose_matrix(self.filters, m, padding=self.padding, format=format, max_bytes=max_bytes)

    def Ft(self, input_size: int | Sequence[int], *, format: str = "csr", max_bytes: int | None = None):
        """``F_lᵀ``, built directly: ``conv_matrix(filters, input_size, padding=self.padding)``.

        ``format`` and ``max_bytes`` are as :func:`convmatrix.conv_matrix`'s (output
        format; refuse, before building, a matrix over that many bytes).

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
        return conv_matrix(self.filters, n, padding=self.padding, format=format, max_bytes=max_bytes)


@dataclass(frozen=True, eq=False)
class ZeilerStack(Displayable):
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
        layers = as_sequence(self.layers, "layers", "ZeilerLayer")
        if not layers:
            raise InputValueError("layers must hold at least one ZeilerLayer")
        for i, layer in enumerate(layers, start=1):
            if not isinstance(layer, ZeilerLayer):
                raise InputTypeError(f"layers[{i - 1}] must be a ZeilerLayer, got {type(layer).__name__}")
        shape = as_sample_shape(self.input_shape, "input_shape")
        inputs, maps, pooled = [], [], []
        for l, layer in enumerate(layers, start=1):
            if layer.filters.ndim - 2 != len(shape) - 1:
                raise InputValueError(
                    f"layer {l} has {layer.filters.ndim - 2}-d filters but its input {shape} has "
                    f"{len(shape) - 1} spatial axes (input_shape={inputs[0] if inputs else shape})"
                )
            if layer.in_channels != shape[0]:
                raise InputValueError(
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
        return as_index(l, "l", self.depth, base=1, what="a layer number")

    def _check_switches(self, l: int, switches) -> dict:
        below = [i for i in range(1, l) if self.layers[i - 1].pool is not None]
        sw = [] if switches is None else list(as_sequence(switches, "switches", "Switches (or None)"))
        if len(sw) == l - 1:
            sw = [sw[i - 1] for i in below]
        if len(sw) != len(below):
            raise InputValueError(
                f"switches must give one Switches per layer below l={l} ({l - 1}), or one per pooling "
                f"layer below it ({len(below)}): got {len(sw)}"
            )
        for i, s in zip(below, sw):
            if not isinstance(s, Switches):
                raise InputTypeError(f"switches for layer {i} must be a Switches object, got {type(s).__name__}")
            if s.input_shape != self.map_shapes[i - 1] or s.output_shape != self.pooled_shapes[i - 1]:
                raise InputValueError(
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
        maps = as_sequence(maps, "maps", "arrays")
        out = []
        for i, z in enumerate(maps):
            if i >= self.depth:
                raise InputValueError(f"maps has {len(maps)} entries but the stack has {self.depth} layers")
            z = as_array(z, f"maps[{i}]", rule="must hold real numbers (integer or float)")
            if z.size != prod(self.map_shapes[i]):
                raise InputValueError(f"maps[{i}] has shape {z.shape} but layer {i + 1}'s maps are {self.map_shapes[i]}")
            z = z.reshape(self.map_shapes[i])
            pool = self.layers[i].pool
            out.append(None if pool is None else pool.switches(z))
        return out

    def F(self, l: int, *, format: str = "csr", max_bytes: int | None = None):
        """``F_l``: layer ``l``'s maps -> its input (the pooled maps of layer ``l - 1``).

        ``format`` and ``max_bytes`` are as :func:`convmatrix.conv_matrix`'s (output
        format; refuse, before building, a matrix over that many bytes).

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
        return self.layers[l - 1].F(self.map_shapes[l - 1][1:], format=format, max_bytes=max_bytes)

    def Ft(self, l: int, *, format: str = "csr", max_bytes: int | None = None):
        """``F_lᵀ``, built directly from ``conv_matrix`` (not by transposing ``F_l``).

        ``format`` and ``max_bytes`` are as :func:`convmatrix.conv_matrix`'s (output
        format; refuse, before building, a matrix over that many bytes).

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
        return self.layers[l - 1].Ft(self.input_shapes[l - 1][1:], format=format, max_bytes=max_bytes)

    def R(self, l: int, switches: Sequence[Switches | None] = (), *, format: str = "csr",
          max_bytes: int | None = None):
        """``R_l = F_1 U_s1 F_2 U_s2 … F_l``: layer ``l``'s maps -> the image.

        Parameters
        ----------
        l : int
            Layer number, 1-based.
        switches : sequence of Switches or None
            Of layers ``1 … l-1`` (``None`` for unpooled layers), or only of the
            pooling layers below ``l``.
        format : str, optional
            Output format, as :func:`convmatrix.conv_matrix`'s.
        max_bytes : int, optional
            Refuse, as soon as the product passes this many bytes (it is formed a
            block of rows at a time), and every factor before it is built.

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
        format = as_format(format)
        factors = self.factors(l, switches, max_bytes=max_bytes)
        R = structural_product(factors, 8, max_bytes, what=f"reconstruction operator R_{l}")
        return finish(R, format, max_bytes, what=f"reconstruction operator R_{l}")

    def factor_names(self, l: int, switches: Sequence[Switches | None] = ()) -> tuple[str, ...]:
        """The names of :meth:`factors`' matrices, ``("F_1", "U_1", "F_2", …, "F_l")``.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 2)), pool=MaxPool(2)), ZeilerLayer(np.ones((1, 2, 2)))],
        ...                     (1, 5))
        >>> stack.factor_names(2, stack.switches([np.arange(12.0).reshape(2, 6)]))
        ('F_1', 'U_1', 'F_2')
        """
        l = self._check_l(l)
        sw = self._check_switches(l, switches)
        names = ["F_1"]
        for i in range(1, l):
            if i in sw:
                names.append(f"U_{i}")
            names.append(f"F_{i + 1}")
        return tuple(names)

    def factors(self, l: int, switches: Sequence[Switches | None] = (), *, max_bytes: int | None = None) -> list:
        """The factors of ``R_l``, ``[F_1, U_s1, F_2, …, F_l]`` (canonical CSR), whose product is :meth:`R`.

        Same parameters as :meth:`R`; the unpooling matrices appear for the
        pooling layers below ``l`` (see :meth:`factor_names`).

        Raises
        ------
        TypeError, ValueError
            As :meth:`R`.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 2)), pool=MaxPool(2)), ZeilerLayer(np.ones((1, 2, 2)))],
        ...                     (1, 5))
        >>> [f.shape for f in stack.factors(2, stack.switches([np.arange(12.0).reshape(2, 6)]))]
        [(5, 12), (12, 6), (6, 4)]
        """
        l = self._check_l(l)
        sw = self._check_switches(l, switches)
        as_max_bytes(max_bytes)
        factors = [self.F(1, max_bytes=max_bytes)]
        for i in range(1, l):
            if i in sw:
                factors.append(unpool_matrix(sw[i], max_bytes=max_bytes))
            factors.append(self.F(i + 1, max_bytes=max_bytes))
        return factors

    def norms(self, l: int, switches: Sequence[Switches | None] = (), *, max_bytes: int | None = None):
        """The exact ``‖R_l‖₂`` against the product of ``‖F_1‖ ‖U_s1‖ ‖F_2‖ … ‖F_l‖``.

        ``‖R_l‖²`` is the Lipschitz constant ``L`` (for ``λ = 1``) from which
        :meth:`infer`'s ISTA and FISTA take their step ``1 / L``.

        Returns
        -------
        ComposedNorm
            See :func:`convmatrix.composed_norm`.

        Examples
        --------
        >>> import numpy as np
        >>> stack = ZeilerStack([ZeilerLayer(np.ones((2, 1, 3)), pool=MaxPool(2)), ZeilerLayer(np.ones((1, 2, 2)))],
        ...                     (1, 8))
        >>> r = stack.norms(2, stack.switches([np.arange(20.0).reshape(2, 10)]))
        >>> r.names, r.norm <= r.product
        (('F_1', 'U_1', 'F_2'), True)
        """
        from .composed import composed_norm

        return composed_norm(self.factors(l, switches, max_bytes=max_bytes),
                             names=self.factor_names(l, switches), max_bytes=max_bytes)

    def Rt(self, l: int, switches: Sequence[Switches | None] = (), *, format: str = "csr",
           max_bytes: int | None = None):
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
        format = as_format(format)
        as_max_bytes(max_bytes)
        factors = [self.Ft(1, max_bytes=max_bytes)]
        for i in range(1, l):
            if i in sw:
                factors.append(pool_matrix(sw[i], max_bytes=max_bytes))
            factors.append(self.Ft(i + 1, max_bytes=max_bytes))
        Rt = structural_product(factors[::-1], 8, max_bytes, what=f"projection operator R_{l}^T")
        return finish(Rt, format, max_bytes, what=f"projection operator R_{l}^T")

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
        method = as_choice(method, "method", ("ista", "fista"))
        refresh = as_bool(refresh, "refresh")
        shape = self.map_shapes[l - 1]
        pool = self.layers[l - 1].pool
        if refresh and pool is None:
            raise InputValueError(f"refresh=True needs a pooling on layer l={l}, which has none")
        y = as_array(y, "y", rule="must hold real numbers (integer or float)", finite=True)
        if y.size != prod(self.input_shape):
            raise InputValueError(f"y has shape {y.shape} but the stack's input is {self.input_shape}")
        check_solver_args(lam, step, n_iter, None, callback)
        if z0 is not None:
            z0 = as_array(z0, "z0", rule="must hold real numbers (integer or float)", finite=True)
            if z0.size != prod(shape):
                raise InputValueError(f"z0 has shape {z0.shape} but layer {l}'s maps are {shape}")
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


