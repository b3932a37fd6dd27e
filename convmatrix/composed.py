"""The exact norm of a composed operator against the product of its factors' norms.

A network's Lipschitz constant is usually bounded by the product of its layers'
norms, ``‖A_1 A_2 … A_n‖ ≤ ‖A_1‖ ‖A_2‖ … ‖A_n‖``; with the explicit matrices at
hand the left side is exact too, and the ratio says how loose the product is.
The factors are Zeiler's reconstruction chain ``R_l = F_1 U_s1 F_2 … F_l``
(:meth:`convmatrix.ZeilerStack.norms`), the layers of a ``torch.nn.Sequential``
linearised at a sample (:func:`network_norms`), or any matrices
(:func:`composed_norm`).  Every norm is :func:`convmatrix.matrix_spectrum`'s
largest singular value.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Sequence

from ._sparse import structural_product
from .sparse_coding import exact_norm
from ._validation import InputTypeError, InputValueError, as_matrix, as_names, as_sequence, show

__all__ = ["ComposedNorm", "composed_norm", "network_norms"]


@dataclass(frozen=True)
class ComposedNorm:
    """The exact ``‖A_1 A_2 … A_n‖₂`` beside the norms of its factors.

    Attributes
    ----------
    norm : float
        The operator 2-norm of the product (its largest singular value).
    factor_norms : tuple of float
        ``‖A_i‖₂`` of each factor, in the order of the product.
    names : tuple of str
        A name per factor.
    shapes : tuple of (int, int)
        The factors' shapes.
    product : float
        ``∏ ‖A_i‖₂``, the usual upper bound on ``norm``.
    ratio : float
        ``norm / product`` (at most 1 up to rounding; ``nan`` if a factor is zero).

    Examples
    --------
    >>> import numpy as np
    >>> r = composed_norm([np.diag([2.0, 1.0]), np.diag([1.0, 3.0])], names=["A", "B"])
    >>> r.norm, r.factor_norms, r.product
    (3.0, (2.0, 3.0), 6.0)
    >>> print(r)
    ||A B|| = 3 (exact); product of the factors' norms 6 (ratio 0.5)
      A  2 x 2  ||.|| = 2
      B  2 x 2  ||.|| = 3
    """

    norm: float
    factor_norms: tuple[float, ...]
    names: tuple[str, ...]
    shapes: tuple[tuple[int, int], ...]

    @property
    def product(self) -> float:
        return float(prod(self.factor_norms))

    @property
    def ratio(self) -> float:
        p = self.product
        return self.norm / p if p else float("nan")

    def __str__(self) -> str:
        width = max(len(n) for n in self.names)
        lines = [f"||{' '.join(self.names)}|| = {self.norm:.6g} (exact); product of the factors' norms "
                 f"{self.product:.6g} (ratio {self.ratio:.3g})"]
        for name, (m, n), v in zip(self.names, self.shapes, self.factor_norms):
            lines.append(f"  {name:<{width}}  {m:,} x {n:,}  ||.|| = {v:.6g}")
        return "\n".join(lines)


def composed_norm(factors: Sequence[Any], *, names: Sequence[str] | None = None,
                  max_bytes: int | None = None) -> ComposedNorm:
    """``‖A_1 A_2 … A_n‖₂`` exactly, and each ``‖A_i‖₂``: how loose the product of norms is.

    Parameters
    ----------
    factors : sequence of sparse arrays or ndarrays
        ``A_1, …, A_n`` in the order of the product (``A_n`` is applied first),
        real, with ``A_i.shape[1] == A_{i+1}.shape[0]``.
    names : sequence of str, optional
        One per factor (default ``A_1 … A_n``).
    max_bytes : int, optional
        Refuse, before it passes this many bytes, the product (formed a block of
        rows at a time) or a dense factorisation.

    Returns
    -------
    ComposedNorm

    Raises
    ------
    TypeError
        If ``factors`` is not a sequence of real 2-d sparse arrays or ndarrays,
        or ``names`` not a sequence of strings.
    ValueError
        If ``factors`` is empty, the shapes do not chain, or ``names`` has
        another length.
    MatrixTooLargeError
        When the product or a factorisation would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> D = cm.conv_matrix(np.array([[[1.0, -1.0]]]), 7)          # differences, 6 x 7
    >>> U = cm.upsample_matrix(3, 2)                               # 3 -> 6, each value twice
    >>> r = composed_norm([D.T, U], names=["D^T", "U"])            # 7 <- 6 <- 3
    >>> print(r)
    ||D^T U|| = 1.84776 (exact); product of the factors' norms 2.75751 (ratio 0.67)
      D^T  7 x 6  ||.|| = 1.94986
      U    6 x 3  ||.|| = 1.41421
    """
    items = as_sequence(factors, "factors", "matrices")
    if not items:
        raise InputValueError("factors=() must hold at least one matrix", "factors")
    mats = [as_matrix(A, f"factors[{i}]") for i, A in enumerate(items)]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise InputValueError(
                f"factors[{i}] has shape {mats[i].shape} and factors[{i + 1}] {mats[i + 1].shape}: the columns of "
                f"one must match the rows of the next", "factors")
    if names is None:
        labels = tuple(f"A_{i + 1}" for i in range(len(mats)))
    else:
        labels = as_names(names, "names", "factor names")
        if len(labels) != len(mats):
            raise InputValueError(f"names={show(names)} has {len(labels)} entries for {len(mats)} factors",
                                  "names")
    import scipy.sparse as sp

    sparse = [sp.csr_array(A) for A in mats]
    product = sparse[0] if len(sparse) == 1 else structural_product(sparse, 8, max_bytes,
                                                                   what="product of the factors")
    return ComposedNorm(exact_norm(product, max_bytes), tuple(exact_norm(A, max_bytes) for A in sparse), labels,
                        tuple(A.shape for A in mats))


def network_norms(module: Any, input_size: Any, *, x: Any = None, max_bytes: int | None = None) -> ComposedNorm:
    """The exact norm of a ``torch.nn.Sequential``'s map against the product of its layers' norms.

    Each child is mapped by :func:`convmatrix.from_torch` at the shape (and, for
    piecewise-linear layers, the sample) it receives, ``x`` carried forward
    through the children; the network's map is the product of the children's
    matrices, last child first.  For a piecewise-linear network this is the
    norm of its Jacobian at ``x``; a bias changes no norm.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of modules :func:`convmatrix.from_torch` supports.
    input_size : tuple of int, or None
        One sample's shape ``(C, *spatial)``; ``None`` takes ``x``'s.
    x : array_like or tensor, optional
        The sample at which ReLUs and max pooling are linearised (needed when
        the network has them).
    max_bytes : int, optional
        As :func:`convmatrix.from_torch`'s.

    Returns
    -------
    ComposedNorm
        ``names`` are the children's names in the product's order (last child
        first), e.g. ``("2: Conv2d", "1: ReLU", "0: Conv2d")``.

    Raises
    ------
    TypeError
        If ``module`` is not a ``torch.nn.Sequential`` (for another module the
        layers do not form one product: take ``from_torch(module, ...)``'s
        matrix and :func:`convmatrix.spectral_norm` of it), or a child is not
        supported.
    ValueError
        As :func:`convmatrix.from_torch`.
    ImportError
        When PyTorch is not installed.

    Examples
    --------
    >>> import torch, convmatrix as cm
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.Conv1d(4, 1, 3, padding=1)).double()
    >>> r = network_norms(net, (1, 16), x=torch.randn(1, 16, dtype=torch.float64))
    >>> r.names
    ('2: Conv1d', '1: ReLU', '0: Conv1d')
    >>> r.norm <= r.product
    True
    """
    from .torch_bridge import from_torch, import_torch

    torch = import_torch("network_norms")
    if not isinstance(module, torch.nn.Sequential):
        raise InputTypeError(
            f"module must be a torch.nn.Sequential, not a {type(module).__name__}: the layers of another module "
            f"do not form one product (take from_torch(module, ...).matrix and spectral_norm of it)", "module")
    if len(module) == 0:
        raise InputValueError("module is an empty torch.nn.Sequential", "module")
    maps, names = [], []
    shape, value = input_size, x
    for i, (key, child) in enumerate(module.named_children()):
        f = from_torch(child, shape, x=value, max_bytes=max_bytes)
        maps.append(f.matrix)
        names.append(f"{key}: {type(child).__name__}")
        shape = f.output_shape
        if value is not None:
            value = f(value)
    return composed_norm(maps[::-1], names=names[::-1], max_bytes=max_bytes)
