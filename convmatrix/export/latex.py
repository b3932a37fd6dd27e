"""LaTeX of matrices (through SymPy's printer)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import as_any_matrix, as_str, type_error

__all__ = ["matrix_latex"]


def matrix_latex(A, *, environment: str = "bmatrix", zero: str = "0") -> str:
    """LaTeX of a small matrix through SymPy's printer.

    Examples
    --------
    >>> import numpy as np
    >>> print(matrix_latex(np.array([[1, 0], [2, 3]])))
    \\begin{bmatrix}1 & 0\\\\2 & 3\\end{bmatrix}
    """
    A = as_any_matrix(A)
    as_str(environment, "environment")
    if not isinstance(zero, str):
        raise type_error("zero", zero, "must be a string (what a zero entry prints as)")
    import sympy

    if isinstance(A, sympy.MatrixBase):
        M = sympy.Matrix(A)
    else:
        dense = A.toarray() if sp.issparse(A) else np.asarray(A)
        M = sympy.Matrix(dense.tolist())
    return sympy.latex(M, mat_str=environment, mat_delim="")


