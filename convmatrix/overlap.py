"""Layer 5 — overlap (checkerboard) maps of a layer or a stack, read off the matrices the package builds.

Odena, Dumoulin & Olah (*Deconvolution and checkerboard artifacts*, Distill
2016): a transposed convolution whose kernel size is not divisible by its
stride spreads a constant input unevenly, and so does the gradient of a
strided convolution; stacked layers multiply the pattern.  For a stack with
matrices ``M_1, …, M_L`` (each a :func:`~convmatrix.conv_matrix` or a
:func:`~convmatrix.conv_transpose_matrix`) and ``M = M_L … M_1``:

* the **forward** map of the first ``l`` layers is ``|M_l … M_1| 𝟙`` over layer
  ``l``'s output: for a transposed layer ``T = Aᵀ`` it is ``Aᵀ𝟙``, the
  checkerboard of its output for a constant input;
* the **gradient** map is ``|M_l … M_1|ᵀ 𝟙`` over the stack's input: the
  gradient a constant upstream gradient sends back through a strided
  convolution ``A`` is ``Aᵀ𝟙``.

With unit kernels (``weights=None``) the entries are counts: how many paths
join an output and an input (:func:`~convmatrix.overlap_counts` for one layer);
with learned kernels they are the sums of ``|w|`` along those paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._limits import as_max_bytes, guard_bytes
from ._sparse import structural_product
from ._validation import InputTypeError, InputValueError, as_choice, as_numbers, as_sequence
from .geometry import ConvGeometry, ConvTransposeGeometry
from .matrices import conv_matrix, conv_transpose_matrix
from .transposed import has_uneven_overlap

__all__ = ["DIRECTIONS", "OverlapMap", "overlap_map", "layer_matrix"]

#: What an overlap map follows: a constant input forward, or a constant gradient back.
DIRECTIONS = ("forward", "gradient")


@dataclass(frozen=True, eq=False)
class OverlapMap(Displayable):
    """Overlap maps of a stack of layers, one per depth; made by :func:`overlap_map`.

    Attributes
    ----------
    maps : tuple of ndarray
        ``maps[l - 1]`` is the map of the first ``l`` layers, shape ``(C, *spatial)``:
        over layer ``l``'s output (forward) or over the stack's input (gradient).
        Integer counts for unit kernels, floats for learned ones.
    layers : tuple of ConvGeometry or ConvTransposeGeometry
    direction : {"forward", "gradient"}
    learned : bool
        Whether some layer has a learned kernel (then the maps sum ``|w|``).
    uneven : tuple of bool
        Per layer, whether it spreads unevenly in this direction: a transposed
        layer forward, or a strided convolution's gradient, whose kernel size
        is not divisible by its stride (:func:`~convmatrix.has_uneven_overlap`);
        the other two cases are even.

    Examples
    --------
    >>> g = ConvTransposeGeometry.from_weight_shape((1, 1, 3), 4, stride=2)
    >>> m = overlap_map([g])
    >>> m.maps[0].tolist(), m.uneven
    ([[1, 1, 2, 1, 2, 1, 2, 1, 1]], (True,))
    """

    maps: tuple
    layers: tuple
    direction: str
    learned: bool
    uneven: tuple

    @property
    def depth(self) -> int:
        """The number of layers."""
        return len(self.layers)

    def spatial(self, l: int | None = None) -> np.ndarray:
        """The map of the first ``l`` layers (default: all) summed over its channels, shape ``spatial``."""
        return self.maps[(self.depth if l is None else l) - 1].sum(axis=0)


def _check_layers(layers) -> tuple:
    layers = as_sequence(layers, "layers", "ConvGeometry or ConvTransposeGeometry")
    if not layers:
        raise InputValueError("layers must hold at least one ConvGeometry or ConvTransposeGeometry", "layers")
    for n, g in enumerate(layers):
        if not isinstance(g, (ConvGeometry, ConvTransposeGeometry)):
            raise InputTypeError(f"layers[{n}] must be a ConvGeometry or ConvTransposeGeometry, got "
                                 f"{type(g).__name__}", "layers")
        if isinstance(g, ConvGeometry) and g.output_limit is not None:
            raise InputValueError(f"layers[{n}] has output_limit={g.output_limit}: give the ConvTransposeGeometry "
                                  "it comes from instead", "layers")
    for n in range(1, len(layers)):
        below, above = layers[n - 1], layers[n]
        out = (below.out_channels, *below.output_size)
        inp = (above.in_channels, *above.input_size)
        if out != inp:
            raise InputValueError(f"layers[{n}] takes input {inp} but layers[{n - 1}] gives {out}: the layers must "
                                  "chain (each input is the output below it)", "layers")
    return layers


def _check_weights(weights, layers) -> list:
    if weights is None:
        return [None] * len(layers)
    weights = as_sequence(weights, "weights", "arrays (or None for a unit kernel)")
    if len(weights) != len(layers):
        raise InputValueError(f"weights must give one array (or None) per layer: {len(layers)} layers, got "
                              f"{len(weights)}", "weights")
    out = []
    for n, (w, g) in enumerate(zip(weights, layers)):
        if w is None:
            out.append(None)
            continue
        arr, symbolic = as_numbers(w, f"weights[{n}]")
        if symbolic or arr.dtype.kind == "c":
            raise InputTypeError(f"weights[{n}] must hold real numbers: got dtype {arr.dtype}", "weights")
        want = _weight_shape(g)
        if arr.shape != want:
            raise InputValueError(f"weights[{n}] has shape {arr.shape} but layers[{n}] needs {want}", "weights")
        out.append(arr)
    return out


def _weight_shape(g) -> tuple[int, ...]:
    if isinstance(g, ConvGeometry):
        return g.weight_shape
    return (g.in_channels, g.out_channels // g.groups, *g.kernel_size)


def layer_matrix(g, weight: Any = None, *, max_bytes: int | None = None) -> sp.csr_array:
    """The matrix of one layer given by its geometry, with ``weight`` or a kernel of ones (``None``).

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`~convmatrix.conv_matrix` and :func:`~convmatrix.conv_transpose_matrix`.

    Examples
    --------
    >>> layer_matrix(ConvGeometry.from_weight_shape((1, 1, 2), 3)).toarray()
    array([[1, 1, 0],
           [0, 1, 1]])
    """
    w = np.ones(_weight_shape(g), dtype=np.int64) if weight is None else weight
    if isinstance(g, ConvGeometry):
        return conv_matrix(w, g.input_size, stride=g.stride, padding=g.padding, dilation=g.dilation,
                           groups=g.groups, padding_mode=g.padding_mode, max_bytes=max_bytes)
    return conv_transpose_matrix(w, g.input_size, stride=g.stride, padding=g.padding,
                                 output_padding=g.output_padding, groups=g.groups, dilation=g.dilation,
                                 padding_mode=g.padding_mode, max_bytes=max_bytes)


def _uneven(g, direction: str) -> bool:
    spreads = isinstance(g, ConvTransposeGeometry) == (direction == "forward")
    return spreads and has_uneven_overlap(g.kernel_size, g.stride, g.dilation)


def overlap_map(
    layers: Sequence[ConvGeometry | ConvTransposeGeometry],
    *,
    weights: Sequence[Any] | None = None,
    direction: str = "forward",
    max_bytes: int | None = None,
) -> OverlapMap:
    """The overlap (checkerboard) maps of a layer or a stack: ``|M|𝟙`` forward, ``|M|ᵀ𝟙`` for the gradient.

    Parameters
    ----------
    layers : sequence of ConvGeometry or ConvTransposeGeometry
        Layer 1 first; each takes the output of the one below (channels and size).
    weights : sequence of array_like or None, optional
        One weight per layer in its torch layout, or ``None`` for a kernel of
        ones (the default for every layer: the maps are counts).
    direction : {"forward", "gradient"}, optional
        ``"forward"``: ``|M_l … M_1| 𝟙`` over each layer's output.
        ``"gradient"``: ``|M_l … M_1|ᵀ 𝟙`` over the stack's input.
    max_bytes : int, optional
        Size limit for every matrix and product built (see :func:`~convmatrix.conv_matrix`).

    Returns
    -------
    OverlapMap

    Raises
    ------
    TypeError, ValueError
        Layers that are not geometries or do not chain, weights of the wrong
        shape or kind, an unknown direction.
    MatrixTooLargeError
        When a matrix or product exceeds the limit.

    Notes
    -----
    The products ``M_l … M_1`` are formed (guarded, a block of rows at a time)
    so that learned kernels give ``|M|``, not ``|M_l| … |M_1|``; with unit
    kernels the two agree and the maps are path counts.

    Examples
    --------
    Two transposed layers of kernel 3, stride 2 compound the checkerboard;
    kernel 4, stride 2 is even inside:

    >>> g1 = ConvTransposeGeometry.from_weight_shape((1, 1, 3), 3, stride=2)
    >>> g2 = ConvTransposeGeometry.from_weight_shape((1, 1, 3), g1.output_size, stride=2)
    >>> m = overlap_map([g1, g2])
    >>> m.maps[1][0].tolist()
    [1, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 1, 2, 1, 1]
    >>> even = ConvTransposeGeometry.from_weight_shape((1, 1, 4), 4, stride=2, padding=1)
    >>> overlap_map([even]).maps[0][0].tolist(), overlap_map([even]).uneven
    ([1, 2, 2, 2, 2, 2, 2, 1], (False,))

    The gradient of a strided convolution has the same checkerboard:

    >>> conv = ConvGeometry.from_weight_shape((1, 1, 3), 9, stride=2)
    >>> overlap_map([conv], direction="gradient").maps[0][0].tolist()
    [1, 1, 2, 1, 2, 1, 2, 1, 1]
    """
    layers = _check_layers(layers)
    direction = as_choice(direction, "direction", DIRECTIONS)
    weights = _check_weights(weights, layers)
    as_max_bytes(max_bytes)
    learned = any(w is not None for w in weights)
    product = None
    maps = []
    for g, w in zip(layers, weights):
        m = layer_matrix(g, w, max_bytes=max_bytes)
        product = m if product is None else structural_product([m, product], 8, max_bytes,
                                                               what="product of the stack's matrices")
        axis = 1 if direction == "forward" else 0
        shape = (g.out_channels, *g.output_size) if direction == "forward" else (
            layers[0].in_channels, *layers[0].input_size)
        guard_bytes(8 * prod(shape), max_bytes, what=f"an overlap map of shape {shape}")
        maps.append(np.asarray(abs(product).sum(axis=axis)).reshape(shape))
    return OverlapMap(tuple(maps), layers, direction, learned, tuple(_uneven(g, direction) for g in layers))
