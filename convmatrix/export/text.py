"""Text: one-line summaries and small grids of matrices, and derivations, for terminals and reprs."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from .._validation import as_any_matrix, as_int, is_sequence, is_sympy_matrix, object_type_error

__all__ = ["GRID_LIMIT", "summarize_matrix", "format_matrix", "natural_terms", "expression_text", "derivation_text"]

#: Largest matrix (rows, cols) printed as a grid; larger ones are summarised.
GRID_LIMIT = (24, 32)


def _kind(A) -> str:
    if is_sympy_matrix(A):
        return "SymPy"
    if sp.issparse(A):
        return A.format.upper()
    return "dense"


def summarize_matrix(A) -> str:
    """One line: shape, dtype, format, stored entries, density, bytes.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> summarize_matrix(sp.csr_array(np.eye(3)))
    '3 x 3 float64 CSR matrix, 3 stored entries (density 0.3333), 52 bytes'
    """
    A = as_any_matrix(A)
    rows, cols = A.shape
    if is_sympy_matrix(A):
        nnz = len(A.todok()) if hasattr(A, "todok") else sum(1 for v in A if v != 0)
        return f"{rows} x {cols} SymPy matrix, {nnz} nonzero entries"
    if sp.issparse(A):
        nbytes = sum(getattr(A, k).nbytes for k in ("data", "indices", "indptr", "row", "col", "offsets")
                     if isinstance(getattr(A, k, None), np.ndarray))
        density = A.nnz / max(rows * cols, 1)
        return (f"{rows} x {cols} {A.dtype} {_kind(A)} matrix, {A.nnz:,} stored entries "
                f"(density {density:.4g}), {nbytes:,} bytes")
    A = np.asarray(A)
    return f"{rows} x {cols} {A.dtype} dense matrix, {A.nbytes:,} bytes"


def format_matrix(A, *, limit: tuple[int, int] = GRID_LIMIT) -> str:
    """A readable grid for small matrices (zeros shown as ``.`` when sparse), else a summary.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> print(format_matrix(sp.csr_array(np.array([[1, 0], [0, 2]]))))
    [[1 0]
     [0 2]]
    >>> print(format_matrix(sp.eye_array(100, format="csr")))
    100 x 100 float64 CSR matrix, 100 stored entries (density 0.01), 1,604 bytes
    """
    A = as_any_matrix(A)
    if not is_sequence(limit) or len(limit) != 2:
        raise object_type_error("limit", limit, "must be a pair (rows, cols) of positive integers")
    limit = (as_int(limit[0], "limit", minimum=1), as_int(limit[1], "limit", minimum=1))
    rows, cols = A.shape
    if rows > limit[0] or cols > limit[1]:
        return summarize_matrix(A)
    if is_sympy_matrix(A):
        import sympy

        return sympy.pretty(sympy.Matrix(A), use_unicode=True, wrap_line=False)
    dense = A.toarray() if sp.issparse(A) else np.asarray(A)
    with np.printoptions(linewidth=200, threshold=10**6, suppress=True, precision=4):
        return np.array2string(dense)




# --------------------------------------------------------------------------- derivations
def natural_terms(terms: list) -> list:
    """The terms of a sum in the order a person writes them: positive terms first, entries before scalars.

    SymPy orders the terms of a sum canonically (``-μ_B + x_i``, ``β + z_i``);
    this puts the terms without a leading minus sign before those with one,
    and within each group the terms that hold an entry of a vector (outside
    any sum) before the others, keeping SymPy's order otherwise:
    ``x_i - μ_B``, ``z_i + β``.

    Examples
    --------
    >>> import sympy
    >>> x, mu, beta = sympy.IndexedBase("x"), sympy.Symbol("mu"), sympy.Symbol("beta")
    >>> i = sympy.Symbol("i")
    >>> natural_terms(list((x[i] - mu).as_ordered_terms())), natural_terms(list((x[i] + beta).as_ordered_terms()))
    ([x[i], -mu], [x[i], beta])
    """
    from sympy import Indexed, Integer, Sum

    def entry(t) -> bool:
        return t.has(Indexed) and t.replace(lambda e: isinstance(e, Sum), lambda e: Integer(0)).has(Indexed)

    return sorted(terms, key=lambda t: (t.could_extract_minus_sign(), not entry(t)))


def _str_printer_class():
    from sympy import Add
    from sympy.printing.str import StrPrinter

    from ..derivation import NamedIndexed, NamedSymbol, summation_height

    class DerivationStrPrinter(StrPrinter):
        """Terminal text: readable Unicode names, ``Σ_{j=1..m}`` for sums, terms in their natural order."""

        printmethod = "_convmatrix_str"  # Indexed's own _sympystr would bypass the names

        def __init__(self, names: Mapping | None = None):
            super().__init__({})
            self._names = dict(names or {})

        def _print_Symbol(self, expr):
            if expr in self._names:
                return self._names[expr]
            return expr.text_name if isinstance(expr, NamedSymbol) else expr.name

        def _print_Dummy(self, expr):
            h = summation_height(expr)
            if h is None:
                return super()._print_Dummy(expr)
            return "klpq"[h] if h < 4 else f"k{h}"

        def _print_Indexed(self, expr):
            base = expr.base
            name = self._names.get(base)
            if name is None:
                name = base.text_name if isinstance(expr, NamedIndexed) else str(base.label)
            idx = ",".join(self._print(i) for i in expr.indices)
            return name.replace("@", idx) if "@" in name else f"{name}_{idx}"

        def _print_Add(self, expr, order=None):
            terms = natural_terms(self._as_ordered_terms(expr, order=order))
            out = []
            for term in terms:
                t = self._print(term)
                if t.startswith("-") and out:
                    out.append(f"- {t[1:]}")
                elif out:
                    out.append(f"+ {t}")
                else:
                    out.append(t)
            return " ".join(out)

        def _print_Sum(self, expr):
            body = self._print(expr.function)
            if isinstance(expr.function, Add):
                body = f"({body})"
            lims = "".join(f"Σ_{{{self._print(j)}={self._print(a)}..{self._print(b)}}} "
                           for j, a, b in reversed(expr.limits))
            return f"{lims}{body}"

        def _print_KroneckerDelta(self, expr):
            return f"δ_{{{self._print(expr.args[0])}{self._print(expr.args[1])}}}"

    return DerivationStrPrinter


def expression_text(expr: Any, names: Mapping | None = None) -> str:
    """One SymPy expression as terminal text: named symbols by their Unicode names, sums as ``Σ_{j=1..m}``.

    Examples
    --------
    >>> from convmatrix.derivation import NamedSymbol
    >>> mu, x = NamedSymbol("mu_B", text="μ_B"), NamedSymbol("x")
    >>> expression_text(x - mu)
    'x - μ_B'
    """
    import sympy

    return _str_printer_class()(names).doprint(sympy.sympify(expr))


def derivation_text(d) -> str:
    """A derivation for terminals: the title, then each step's sentence and ``lhs = rhs`` indented.

    Proves the steps first if they are not proved yet.  Section headings
    (``d.sections``) stand on their own lines; results are marked ``▶``.

    Examples
    --------
    >>> from sympy import symbols
    >>> from convmatrix.derivation import Derivation, Step
    >>> a, b = symbols("a b")
    >>> print(derivation_text(Derivation("t", [Step(a * (a + b), a**2 + a*b, "expand")])))
    t
    (1) expand
        a*(a + b) = a**2 + a*b
    """
    if not d.checked:
        d.check()
    printer = _str_printer_class()(d.text_names)
    out = [d.title]
    for n, step in enumerate(d.steps, start=1):
        if step.name in d.sections:
            out.append(f"-- {d.sections[step.name]}")
        mark = "▶ " if step.name in d.results else ""
        out.append(f"({n}) {step.text}")
        out.append(f"    {mark}{printer.doprint(step.lhs)} = {printer.doprint(step.rhs)}")
    return "\n".join(out)
