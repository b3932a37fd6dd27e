"""Zeiler & Fergus's (2014) deconvnet, with explicit matrices.

"Visualizing and Understanding Convolutional Networks": a small convnet whose
activations are projected back to pixels by unpooling with switches, ReLU and
transposed filters.  Every step is a matrix of the package: the convolution
``A_l`` (:func:`~convmatrix.conv_matrix`), the unpooling ``U_s``
(:func:`~convmatrix.unpool_matrix`), the ReLU as the 0/1 diagonal of its
active units, and the transposed filters ``T_l = A_lᵀ``
(:func:`~convmatrix.conv_transpose_matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._limits import as_max_bytes
from ._validation import (InputTypeError, InputValueError, as_array, as_bool, as_index, as_instance, as_int,
                          as_sample_shape, as_sequence, is_integer, show)
from .geometry import ConvGeometry, normalize_padding, normalize_tuple
from .matrices import conv_matrix, conv_transpose_matrix
from .pooling import MaxPool, unpool_matrix

__all__ = ["ConvLayer", "ForwardPass", "DeconvNet"]


@dataclass(frozen=True, eq=False)
class ConvLayer(Displayable):
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
    convmatrix.InputValueError: padding='same' is not supported for strided convolutions: stride=(2, 2) must be 1 along every axis
    """

    weight: np.ndarray
    stride: Any = 1
    padding: Any = 0
    pool: MaxPool | None = None

    def __post_init__(self):
        w = as_array(self.weight, "weight", rule="must hold real numbers (integer or float)")
        if w.ndim < 3:
            raise InputValueError(f"weight must have shape (C_out, C_in, *kernel_size): got {w.shape}")
        if min(w.shape) < 1:
            raise InputValueError(f"weight shape {w.shape} must be positive along every axis")
        object.__setattr__(self, "weight", w)
        nd = w.ndim - 2
        s = normalize_tuple(self.stride, nd, "stride")
        normalize_padding(self.padding, w.shape[2:], s, (1,) * nd)
        as_instance(self.pool, "pool", MaxPool, "a MaxPool", optional=True)


@dataclass(eq=False)
class ForwardPass(Displayable):
    """A convnet's forward pass: per layer the rectified maps, the switches and the output."""

    rectified: list
    switches: list
    outputs: list


class DeconvNet(Displayable):
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
    max_bytes : int, optional
        Refuse, before building them, matrices ``A_l``/``T_l`` over this many
        bytes (see :func:`convmatrix.conv_matrix`).

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

    def __init__(self, layers: Sequence[ConvLayer], input_shape: Sequence[int], *, max_bytes: int | None = None):
        layers = as_sequence(layers, "layers", "ConvLayer")
        if not layers:
            raise InputValueError("layers must hold at least one ConvLayer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, ConvLayer):
                raise InputTypeError(f"layers[{i}] must be a ConvLayer, got {type(layer).__name__}")
        shape = as_sample_shape(input_shape, "input_shape")
        as_max_bytes(max_bytes)
        self.layers, self.input_shape = layers, shape
        self.geometries, self.A, self.T, self.conv_shapes, self.output_shapes = [], [], [], [], []
        for l, layer in enumerate(layers, start=1):
            w = layer.weight
            if w.ndim - 2 != len(shape) - 1:
                raise InputValueError(
                    f"layer {l}'s weight {w.shape} has {w.ndim - 2}-d kernels but its input {shape} has "
                    f"{len(shape) - 1} spatial axes (input_shape={self.input_shape})"
                )
            if w.shape[1] != shape[0]:
                raise InputValueError(
                    f"layer {l}'s weight {w.shape} takes C_in={w.shape[1]} channels "
                    f"but the layer below gives {shape[0]}"
                )
            g = ConvGeometry.from_weight_shape(w.shape, shape[1:], stride=layer.stride, padding=layer.padding)
            o = (g.out_channels, *g.output_size)
            # T_l maps o back onto the input size: the rows that the floor of the stride dropped
            # come back as output_padding (< stride, as torch requires)
            op = tuple(n - ((oi - 1) * s - lo - hi + k)
                       for n, oi, s, (lo, hi), k in zip(g.input_size, g.output_size, g.stride, g.padding, g.kernel_size))
            A = conv_matrix(w, g.input_size, stride=g.stride, padding=g.padding, max_bytes=max_bytes)
            T = conv_transpose_matrix(w, g.output_size, stride=g.stride, padding=g.padding, output_padding=op,
                                      max_bytes=max_bytes)
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
        x = as_array(x, "x", rule="must hold real numbers (integer or float)")
        if x.size != prod(self.input_shape):
            raise InputValueError(f"x has shape {x.shape} but the network takes {self.input_shape}")
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
            raise InputTypeError(f"forward must be a ForwardPass from DeconvNet.forward, got {type(forward).__name__}")
        shapes = [np.shape(o) for o in forward.outputs]
        if len(forward.switches) != len(self.layers) or shapes != self.output_shapes:
            raise InputValueError(
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
        convmatrix.InputTypeError: feature_map=1.5 must be an integer, not a float
        """
        l = as_index(l, "l", len(self.layers), base=1, what="a layer number")
        top_shape = self.output_shapes[l - 1]
        if feature_map is not None and unit is not None:
            raise InputValueError("give feature_map or unit, not both")
        if feature_map is not None:
            feature_map = as_int(feature_map, "feature_map", minimum=0)
            if feature_map >= top_shape[0]:
                raise InputValueError(f"feature_map={feature_map} must be between 0 and {top_shape[0] - 1}")
        elif unit is not None:
            unit = as_sequence(unit, "unit", "integers")
            if not all(is_integer(u) for u in unit):
                raise InputTypeError(f"unit={show(unit)} must be a tuple of integers", "unit")
            unit = tuple(int(u) for u in unit)
            if len(unit) != len(top_shape) or any(not 0 <= u < n for u, n in zip(unit, top_shape)):
                raise InputValueError(f"unit={unit} must index the layer's output of shape {top_shape}")
        return_factors = as_bool(return_factors, "return_factors")
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


