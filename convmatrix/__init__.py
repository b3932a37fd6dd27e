"""convmatrix — convolution layers as explicit sparse matrices, and what follows from them.

The package grows from one object, the tap map of a convolution (see
:mod:`convmatrix.structure`): every matrix here is a filling of it.

>>> import numpy as np, convmatrix as cm
>>> w = np.array([[[[2, 3], [4, 5]]]])
>>> T = cm.conv_transpose_matrix(w, (2, 2), stride=2)
>>> (T @ np.array([1, 0, 2, 3])).reshape(4, 4)
array([[ 2,  3,  0,  0],
       [ 4,  5,  0,  0],
       [ 4,  6,  6,  9],
       [ 8, 10, 12, 15]])

Names are loaded when first used (``import convmatrix`` itself imports neither
numpy, scipy nor SymPy), so that the command line and a plain import start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module (in layer order) that defines it.
_EXPORTS = {
    # layer 1: geometry and the shared policy
    "PADDING_MODES": "geometry",
    "ConvGeometry": "geometry",
    "ConvTransposeGeometry": "geometry",
    "PoolGeometry": "geometry",
    "TransposeArithmetic": "geometry",
    "conv_output_size": "geometry",
    "conv_transpose_output_size": "geometry",
    "transpose_arithmetic": "geometry",
    "InputError": "_validation",
    "InputTypeError": "_validation",
    "InputValueError": "_validation",
    "DEFAULT_MAX_BYTES": "_limits",
    "MatrixTooLargeError": "_limits",
    "matrix_bytes": "_limits",
    # layer 2: structure
    "TapMap": "structure",
    "tap_map": "structure",
    # layer 3: matrices
    "affine_matrix": "matrices",
    "conv_bias_vector": "matrices",
    "conv_matrix": "matrices",
    "conv_transpose_matrix": "matrices",
    "estimate_size": "matrices",
    "symbolic_weight": "matrices",
    "im2col_matrix": "im2col",
    # layer 4: resampling and pooling
    "avg_pool_matrix": "resample",
    "pad_matrix": "resample",
    "pad_widths_from_torch": "resample",
    "subsample_matrix": "resample",
    "sum_pool_matrix": "resample",
    "upsample_matrix": "resample",
    "zero_insertion_matrix": "resample",
    "MaxPool": "pooling",
    "Switches": "pooling",
    "max_pool_output_size": "pooling",
    "max_pool_switches": "pooling",
    "pool_matrix": "pooling",
    "unpool_matrix": "pooling",
    "adaptive_avg_pool_matrix": "interpolate",
    "fold_matrix": "interpolate",
    "interpolate_matrix": "interpolate",
    "interpolate_output_size": "interpolate",
    "pixel_shuffle_matrix": "interpolate",
    "pixel_unshuffle_matrix": "interpolate",
    "unfold_matrix": "interpolate",
    # layer 5: derived operators
    "TransposedConvAsDirect": "transposed",
    "TransposeEquivalenceReport": "transposed",
    "has_uneven_overlap": "transposed",
    "overlap_counts": "transposed",
    "transposed_conv_as_direct": "transposed",
    "verify_transpose_equivalence": "transposed",
    "OverlapMap": "overlap",
    "overlap_map": "overlap",
    "AffineMap": "affine",
    "from_torch": "torch_bridge",
    "ZeilerLayer": "zeiler",
    "ZeilerStack": "zeiler",
    "ConvLayer": "deconvnet",
    "DeconvNet": "deconvnet",
    "InferenceResult": "sparse_coding",
    "fista": "sparse_coding",
    "ista": "sparse_coding",
    "operator_norm": "sparse_coding",
    "ComposedNorm": "composed",
    "composed_norm": "composed",
    "network_norms": "composed",
    "Spectrum": "spectra",
    "circulant_strides": "spectra",
    "clip_spectral_norm": "spectra",
    "conv_operator": "spectra",
    "matrix_spectrum": "spectra",
    "singular_values": "spectra",
    "spectral_norm": "spectra",
    "spectrum": "spectra",
    "filter_bank": "scenes",
    "psnr": "scenes",
    "synthetic_scene": "scenes",
    "BatchNorm": "batchnorm",
    "batchnorm_backward": "batchnorm",
    "batchnorm_eval_matrix": "batchnorm",
    "batchnorm_forward": "batchnorm",
    "fold_conv_batchnorm": "batchnorm",
    "SpectralNormBound": "bounds",
    "SpectralNormReport": "bounds",
    "spectral_norm_bounds": "bounds",
    "spectral_norm_report": "bounds",
    # layer 6: symbolic derivations
    "Derivation": "derivation",
    "DerivationError": "derivation",
    "Step": "derivation",
    "NamedSymbol": "derivation",
    "NamedIndexedBase": "derivation",
    "GraphNode": "backprop",
    "ComputationalGraph": "backprop",
    "Backpropagation": "backprop",
    "backpropagate": "backprop",
    "BatchNormDerivation": "batchnorm_symbolic",
    "batchnorm_derivation": "batchnorm_symbolic",
    "batchnorm_jacobian": "batchnorm_symbolic",
    # layer 7: export and display
    "to_latex": "export.latex",
    "show": "export.view",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from ._limits import DEFAULT_MAX_BYTES, MatrixTooLargeError, matrix_bytes
    from ._validation import InputError, InputTypeError, InputValueError
    from .batchnorm import BatchNorm, batchnorm_backward, batchnorm_eval_matrix, batchnorm_forward, fold_conv_batchnorm
    from .backprop import Backpropagation, ComputationalGraph, GraphNode, backpropagate
    from .bounds import SpectralNormBound, SpectralNormReport, spectral_norm_bounds, spectral_norm_report
    from .batchnorm_symbolic import BatchNormDerivation, batchnorm_derivation, batchnorm_jacobian
    from .deconvnet import ConvLayer, DeconvNet
    from .derivation import Derivation, DerivationError, NamedIndexedBase, NamedSymbol, Step
    from .export.latex import to_latex
    from .geometry import (PADDING_MODES, ConvGeometry, ConvTransposeGeometry, PoolGeometry, TransposeArithmetic,
                           conv_output_size, conv_transpose_output_size, transpose_arithmetic)
    from .im2col import im2col_matrix
    from .export.view import show
    from .interpolate import (adaptive_avg_pool_matrix, fold_matrix, interpolate_matrix, interpolate_output_size,
                              pixel_shuffle_matrix, pixel_unshuffle_matrix, unfold_matrix)
    from .matrices import (affine_matrix, conv_bias_vector, conv_matrix, conv_transpose_matrix, estimate_size,
                           symbolic_weight)
    from .pooling import MaxPool, Switches, max_pool_output_size, max_pool_switches, pool_matrix, unpool_matrix
    from .resample import (avg_pool_matrix, pad_matrix, pad_widths_from_torch, subsample_matrix, sum_pool_matrix,
                           upsample_matrix, zero_insertion_matrix)
    from .scenes import filter_bank, psnr, synthetic_scene
    from .spectra import (Spectrum, circulant_strides, clip_spectral_norm, conv_operator, matrix_spectrum,
                          singular_values, spectral_norm, spectrum)
    from .sparse_coding import InferenceResult, fista, ista, operator_norm
    from .composed import ComposedNorm, composed_norm, network_norms
    from .overlap import OverlapMap, overlap_map
    from .structure import TapMap, tap_map
    from .affine import AffineMap
    from .torch_bridge import from_torch
    from .transposed import (TransposedConvAsDirect, TransposeEquivalenceReport, has_uneven_overlap, overlap_counts,
                             transposed_conv_as_direct, verify_transpose_equivalence)
    from .zeiler import ZeilerLayer, ZeilerStack


def __getattr__(name: str) -> Any:
    """Load a public name (or a submodule) on first use (PEP 562)."""
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
