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
"""

from .geometry import (
    PADDING_MODES,
    ConvGeometry,
    ConvTransposeGeometry,
    PoolGeometry,
    conv_output_size,
    conv_transpose_output_size,
)
from .structure import TapMap, tap_map
from .matrices import (
    DEFAULT_MAX_BYTES,
    MatrixTooLargeError,
    affine_matrix,
    conv_bias_vector,
    conv_matrix,
    conv_transpose_matrix,
    estimate_size,
    matrix_bytes,
    symbolic_weight,
)
from .resample import (
    avg_pool_matrix,
    pad_matrix,
    pad_widths_from_torch,
    subsample_matrix,
    sum_pool_matrix,
    upsample_matrix,
    zero_insertion_matrix,
)
from .im2col import im2col_matrix
from .transposed import (
    TransposeArithmetic,
    TransposedConvAsDirect,
    TransposeEquivalenceReport,
    has_uneven_overlap,
    overlap_counts,
    transpose_arithmetic,
    transposed_conv_as_direct,
    verify_transpose_equivalence,
)
from .pooling import (
    MaxPool,
    Switches,
    max_pool_output_size,
    max_pool_switches,
    pool_matrix,
    unpool_matrix,
)
from .zeiler import (
    ConvLayer,
    DeconvNet,
    ZeilerLayer,
    ZeilerStack,
    filter_bank,
    fista,
    ista,
    operator_norm,
    psnr,
    synthetic_scene,
)

from .derivation import Derivation, DerivationError, Step
from .batchnorm import (
    BatchNorm,
    BatchNormDerivation,
    batchnorm_backward,
    batchnorm_derivation,
    batchnorm_eval_matrix,
    batchnorm_forward,
    batchnorm_jacobian,
    fold_conv_batchnorm,
    reference_batchnorm_backward,
    reference_batchnorm_forward,
)

__all__ = [
    "PADDING_MODES",
    "ConvGeometry",
    "ConvTransposeGeometry",
    "PoolGeometry",
    "conv_output_size",
    "conv_transpose_output_size",
    "TapMap",
    "tap_map",
    "DEFAULT_MAX_BYTES",
    "MatrixTooLargeError",
    "affine_matrix",
    "conv_bias_vector",
    "conv_matrix",
    "conv_transpose_matrix",
    "estimate_size",
    "matrix_bytes",
    "symbolic_weight",
    "avg_pool_matrix",
    "pad_matrix",
    "pad_widths_from_torch",
    "subsample_matrix",
    "sum_pool_matrix",
    "upsample_matrix",
    "zero_insertion_matrix",
    "im2col_matrix",
    "TransposeArithmetic",
    "TransposedConvAsDirect",
    "TransposeEquivalenceReport",
    "has_uneven_overlap",
    "overlap_counts",
    "transpose_arithmetic",
    "transposed_conv_as_direct",
    "verify_transpose_equivalence",
    "MaxPool",
    "Switches",
    "max_pool_output_size",
    "max_pool_switches",
    "pool_matrix",
    "unpool_matrix",
    "ConvLayer",
    "DeconvNet",
    "ZeilerLayer",
    "ZeilerStack",
    "filter_bank",
    "fista",
    "ista",
    "operator_norm",
    "psnr",
    "synthetic_scene",
    "Derivation",
    "DerivationError",
    "Step",
    "BatchNorm",
    "BatchNormDerivation",
    "batchnorm_backward",
    "batchnorm_derivation",
    "batchnorm_eval_matrix",
    "batchnorm_forward",
    "batchnorm_jacobian",
    "fold_conv_batchnorm",
    "reference_batchnorm_backward",
    "reference_batchnorm_forward",
]

__version__ = "0.1.0"
