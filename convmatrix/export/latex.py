"""LaTeX of matrices (through SymPy's printer)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["matrix_latex"]


def matrix_latex(A, *, environment: str = "bmatrix", zero: str = "0") -> str:
    """LaTeX of a small matrix through SymPy's printer.

    Examples
    --------
    >>> import numpy as np
    >>> print(matrix_latex(np.array([[1, 0], [2, 3]])))
    \\begin{bmatrix}1 & 0\\\\2 & 3\\end{bmatrix}
    """
    import sympy

    if isinstance(A, sympy.MatrixBase):
        M = sympy.Matrix(A)
    else:
        dense = A.toarray() if sp.issparse(A) else np.asarray(A)
        M = sympy.Matrix(dense.tolist())
    return sympy.latex(M, mat_str=environment, mat_delim="")


