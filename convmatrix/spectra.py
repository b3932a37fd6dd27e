"""Layer 5 — spectra: the singular values and the operator norm of a convolution layer, exact.

Three ways to the same numbers, chosen from the geometry:

* **fft** — a circular layer whose matrix is a circulant, row-selected on a
  lattice (see :func:`circulant_strides`), is block-diagonalised by the DFT of
  its input grid (Sedghi, Gupta & Long, ICLR 2019): one small matrix per
  frequency, with the stride as a polyphase selection that folds the aliased
  frequencies of each output frequency into one block.  All singular values,
  any number of spatial axes, groups and dilation.
* **dense** — the explicit matrix (from :func:`~convmatrix.conv_matrix`) is
  small: LAPACK's SVD of it.
* **sparse** — the explicit matrix is large: ARPACK's Lanczos on ``AᵀA`` or
  ``A Aᵀ`` (the smaller side) for the ``k`` largest, shift-invert on the same
  Gram matrix for the ``k`` smallest, with the residual reached reported and
  a deflation check that no repeated value was skipped (see
  :func:`matrix_spectrum`).

:func:`matrix_spectrum` is the general routine for any real matrix (a composed
operator, a network's map); :func:`singular_values`, :func:`spectrum` and
:func:`spectral_norm` take a layer's parameters exactly as
:func:`~convmatrix.conv_matrix` does; :func:`clip_spectral_norm` projects a
circular layer's kernel onto operator norm at most ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd, prod, sqrt
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._limits import MatrixTooLargeError, as_max_bytes, guard_bytes
from ._validation import (
    InputTypeError,
    InputValueError,
    as_array,
    as_choice,
    as_int,
    as_matrix,
    as_real,
    is_sympy_matrix,
    show,
)
from .geometry import ConvGeometry, IntOrTuple, Padding
from .matrices import conv_matrix

__all__ = [
    "Spectrum",
    "DENSE_MAX_ENTRIES",
    "DEFAULT_TOL",
    "circulant_strides",
    "matrix_spectrum",
    "spectrum",
    "singular_values",
    "spectral_norm",
    "clip_spectral_norm",
    "conv_operator",
]

#: Largest matrix (``rows * cols``) whose ``k`` extreme singular values are taken from a
#: dense SVD rather than ARPACK (128 x 128).  Measured on conv matrices, one BLAS thread:
#: for k=1 at 256 x 256, LAPACK (with the vectors, for the residual) takes 0.18 s and
#: ARPACK 0.01 s; at 2048 x 2048, 21 s and 0.11 s.  ``k=None`` always takes the dense SVD
#: (or the FFT).
DENSE_MAX_ENTRIES = 1 << 14

#: Default relative tolerance of the eigensolver (ARPACK's ``tol``: the residual
#: ``‖G v − λ v‖ <= tol · λ``).  A Ritz value's error is of the order of the residual
#: squared over the gap to the next eigenvalue, so the norm comes out to machine precision.
DEFAULT_TOL = 1e-10

_WHICH = ("largest", "smallest")


# --------------------------------------------------------------------------- the record
@dataclass(frozen=True, eq=False)
class Spectrum(Displayable):
    """Singular values of a matrix or a layer, with how they were computed.

    Attributes
    ----------
    values : ndarray of float64
        Descending.  All ``min(m, n)`` of them (as ``numpy.linalg.svd``) or the
        ``k`` largest or smallest of those.
    method : {"fft", "dense", "sparse"}
        The DFT block-diagonalisation, LAPACK's SVD of the explicit matrix, or
        ARPACK on its Gram matrix.
    residual : float
        The largest relative residual of the values returned,
        ``max_i ‖Gᵢ vᵢ − σᵢ² vᵢ‖ / σ_max²`` with ``G`` the Gram matrix the
        values came from (the whole ``AᵀA`` or ``A Aᵀ``, or a frequency's block)
        and ``vᵢ`` the computed singular vectors (``0.0`` for a zero matrix).
        ``σ_max²`` is replaced by a lower bound when the largest value was not
        computed, so the figure never flatters.  It says that each value
        returned is a singular value; it cannot say that none was skipped
        (see ``completeness``).
    shape : (int, int)
        Of the matrix.
    completeness : {"full", "deflation", "top"}
        Why no value is missing between the ones returned.  ``"full"``: a
        complete decomposition (dense SVD, every DFT block, or a zero matrix,
        whose values are all known).  ``"deflation"``: the sparse path's
        ``k`` values passed the deflation check of :func:`matrix_spectrum`
        (the extreme eigenvalue of the Gram matrix with the found vectors
        projected out is not beyond the ``k``-th value).  ``"top"``: the
        sparse path's single largest value, Lanczos' largest Ritz value, which
        converges to the top of the spectrum whatever its multiplicity: no
        further check is made.

    Examples
    --------
    >>> import numpy as np
    >>> s = matrix_spectrum(np.diag([3.0, 1.0, 2.0]))
    >>> s.values, s.method, s.shape
    (array([3., 2., 1.]), 'dense', (3, 3))
    >>> s.residual < 1e-14
    True
    """

    values: np.ndarray
    method: str
    residual: float
    shape: tuple[int, int]
    completeness: str = "full"

    def __str__(self) -> str:
        m, n = self.shape
        v = self.values
        head = f"Spectrum of a {m} x {n} matrix by {self.method}: {v.size} singular value{'s' * (v.size != 1)}"
        if v.size:
            head += f", largest {v[0]:.6g}, smallest {v[-1]:.6g}"
        tail = "" if self.completeness == "full" else f", completeness by {self.completeness}"
        return head + f"; residual {self.residual:.1e}" + tail

    def __repr__(self) -> str:
        shown = np.array2string(self.values, threshold=8, edgeitems=3, precision=6)
        return (f"Spectrum(values={shown}, method={self.method!r}, residual={self.residual:.1e}, "
                f"shape={self.shape}, completeness={self.completeness!r})")


# --------------------------------------------------------------------------- validation
def _as_k(k, count: int) -> int | None:
    if k is None:
        return None
    k = as_int(k, "k", minimum=1)
    if k > count:
        raise InputValueError(f"k={k} must be at most min(rows, cols) = {count}, the number of singular values", "k")
    return k


def _as_tol(tol) -> float:
    if tol is None:
        return DEFAULT_TOL
    return as_real(tol, "tol", positive=True, maximum=0.5)


def _as_operator(A):
    """A real sparse array/matrix, ndarray or scipy LinearOperator; anything else refused naming ``A``."""
    import scipy.sparse.linalg as spla

    if isinstance(A, spla.LinearOperator):
        if len(A.shape) != 2:  # pragma: no cover - LinearOperator insists on 2-d
            raise InputValueError(f"A must be 2-d: got shape {A.shape}", "A")
        if np.dtype(A.dtype).kind not in "biuf":
            raise InputTypeError(f"A must be a real operator: got dtype {A.dtype}", "A")
        return A
    if is_sympy_matrix(A):
        raise InputTypeError("A must be a numeric matrix: a SymPy matrix has no numerical spectrum here "
                             "(convert it with numpy.array(A, dtype=float))", "A")
    if isinstance(A, np.ndarray) and A.ndim != 2:
        raise InputValueError(f"A must be a matrix (2-d): got shape {A.shape}", "A")
    A = as_matrix(A, "A")
    if A.dtype.kind == "b":
        A = A.astype(np.float64)
    return A


# --------------------------------------------------------------------------- the general routine
def matrix_spectrum(A: Any, *, k: int | None = None, which: str = "largest", tol: float | None = None,
                    max_bytes: int | None = None, method: str | None = None) -> Spectrum:
    """The singular values of any real matrix: dense SVD when small, ARPACK on the Gram matrix when large.

    Parameters
    ----------
    A : sparse array, ndarray or scipy.sparse.linalg.LinearOperator, shape (m, n)
        Real.  A ``LinearOperator`` needs ``matvec`` and ``rmatvec``.
    k : int, optional
        How many; ``None`` (default) for all ``min(m, n)``, which needs the dense
        SVD and is refused when the dense matrix would not fit ``max_bytes``.
    which : {"largest", "smallest"}, optional
    tol : float, optional
        Relative tolerance of the eigensolver on ``σ²`` (default
        :data:`DEFAULT_TOL`); the dense SVD ignores it.
    max_bytes : int, optional
        Size limit for the dense copy, the Gram matrix and the solver's vectors
        (see :func:`~convmatrix.conv_matrix`).
    method : {"dense", "sparse"}, optional
        Force a method; by default dense when ``k`` is None or ``m * n <=``
        :data:`DENSE_MAX_ENTRIES`.

    Returns
    -------
    Spectrum
        Descending values.  There are ``min(m, n)`` singular values, as
        ``numpy.linalg.svd`` counts them: a wide matrix's ``AᵀA`` has
        ``n − m`` further zero eigenvalues, which are not singular values, so
        ``which="smallest"`` is the smallest of the ``min(m, n)`` (the Gram
        matrix of the smaller side is the one used).

    Raises
    ------
    TypeError, ValueError
        For a matrix that is not real and 2-d, or a bad ``k``, ``which``,
        ``tol``, ``method``.
    MatrixTooLargeError
        Before allocating, when the dense matrix (``k=None`` or
        ``method="dense"``), the Gram matrix (``which="smallest"``) or the
        solver's Lanczos vectors would exceed ``max_bytes``.

    Notes
    -----
    Through the Gram matrix, a value ``σ`` is accurate to about ``tol·σ`` when
    it is among the largest; a small one is limited by the squaring to about
    ``√ε · σ_max`` in absolute terms (ε the float64 epsilon).  The smallest ones
    by shift-invert factorise ``G + δI`` (``δ ≈ 10⁻¹⁰ σ_max²``), which costs
    the fill of a sparse LU: fine for moderate sizes, slow for large layers.

    **Completeness of the sparse path.**  A small residual says that each
    returned pair is an eigenpair, not that none was skipped: Lanczos sees one
    copy of a repeated eigenvalue per Krylov space and can stop with ``k``
    genuine pairs that miss a copy, the next value taking its place.  So
    after the solve (``k > 1``, or ``which="smallest"``) the found vectors
    ``W`` are projected out and Lanczos computes the extreme eigenvalue of the
    deflated operator ``(I − WWᵀ) H (I − WWᵀ)`` — ``H`` the Gram matrix for
    the largest, ``(G + δI)⁻¹`` for the smallest (``cI − G`` for a
    ``LinearOperator``).  If it lies beyond the ``k``-th value found (by more
    than about ``4·tol`` relative plus ``2⁻⁴⁰ σ_max²``), the value was skipped:
    it is added and the check repeats; pairs whose residual in ``G`` is not
    small are dropped first.  Guaranteed: every value returned is an
    eigenvalue of the Gram matrix to its residual, and the last check found
    nothing beyond the ``k``-th.  Not guaranteed: that check is itself a
    single-vector Lanczos from a random start, so it relies on that start
    having a component along the skipped eigenvector (true with probability
    one, not a proof); and values closer than the slack to the ``k``-th are
    not told apart.  ``k=1`` largest is not checked: Lanczos' largest Ritz
    value converges to ``σ_max²`` whatever its multiplicity (the record says
    ``completeness="top"``).

    A matrix without a nonzero entry has only zero values (returned without a
    solve); a ``LinearOperator`` is taken for zero when its Gram product
    sends two independent Gaussian vectors to exact zeros (a nonzero linear
    map does so with probability zero).  Matrices whose largest entry is
    beyond ``2^±64`` are scaled by a power of two (exactly) before the
    decomposition and the values scaled back, so that no square overflows or
    underflows; a ``LinearOperator``'s size is read from one product.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((40, 30))
    >>> np.allclose(matrix_spectrum(A).values, np.linalg.svd(A, compute_uv=False))
    True
    >>> s = matrix_spectrum(A, k=2, method="sparse")
    >>> np.allclose(s.values, np.linalg.svd(A, compute_uv=False)[:2]), s.method, s.residual < 1e-10
    (True, 'sparse', True)
    """
    A = _as_operator(A)
    m, n = A.shape
    count = min(m, n)
    k = _as_k(k, count)
    which = as_choice(which, "which", _WHICH)
    tol = _as_tol(tol)
    as_max_bytes(max_bytes)
    if method is not None:
        method = as_choice(method, "method", ("dense", "sparse"))
    return _spectrum_of(A, k, which, tol, max_bytes, method)


def _spectrum_of(A, k, which, tol, max_bytes, method=None, residual: bool = True) -> Spectrum:
    """:func:`matrix_spectrum` on checked arguments; ``residual=False`` spares the dense SVD its vectors."""
    m, n = A.shape
    count = min(m, n)
    if count == 0:
        return Spectrum(np.zeros(0), "dense", 0.0, (m, n))
    if method is None:
        method = "dense" if k is None or m * n <= DENSE_MAX_ENTRIES or k >= count - 1 else "sparse"
    if method == "sparse" and (k is None or k >= count - 1 or count < 3):
        if k is None:
            raise InputValueError(f"k=None asks for all {count} singular values, which needs the dense SVD: "
                                  f"pass k= for the sparse eigensolver, or method='dense'", "k")
        method = "dense"  # ARPACK needs k < size - 1: the few values of a tiny side come from LAPACK
    A, e = _scaled(A)
    if A is None:  # an explicit matrix with no nonzero entry: all its singular values are 0
        return Spectrum(np.zeros(count if k is None else k), method, 0.0, (m, n))
    if method == "dense":
        s = _dense_spectrum(A, k, which, max_bytes, residual)
    else:
        s = _sparse_spectrum(A, k, which, tol, max_bytes)
    return _unscaled(s, e)


#: Exponents ``e`` of the largest entry (``2**(e-1) <= max|a| < 2**e``) left alone: outside
#: ``[-64, 64]`` the matrix is scaled by ``2**-e``, exactly, so that squares (the Gram matrix, the
#: residual) neither overflow nor underflow, and the values are scaled back.
_SAFE_EXPONENT = 64


def _exponent(amax: float) -> int:
    return int(np.frexp(amax)[1])


def _unscaled(s: Spectrum, e: int) -> Spectrum:
    if e == 0:
        return s
    return Spectrum(np.ldexp(s.values, e), s.method, s.residual, s.shape, s.completeness)


def _scaled(A):
    """``(A · 2**-e, e)`` with ``e`` from the largest entry (``e = 0`` when it is moderate);
    ``(None, 0)`` for an explicit matrix without a nonzero entry.

    A ``LinearOperator``'s entries are not known: the size of its product with a fixed
    random vector stands for them (any power of two is exact; only the range matters), and
    its products are scaled as they come out, so ``G v = 2**-2e Aᵀ(A v)`` never forms the
    unscaled square.
    """
    import scipy.sparse.linalg as spla

    if isinstance(A, spla.LinearOperator):
        y = np.asarray(A.matvec(np.random.default_rng(1).standard_normal(A.shape[1])), dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise InputValueError("A must be finite: its product with a random vector is not", "A")
        amax = float(np.max(np.abs(y), initial=0.0))
        e = _exponent(amax) if amax > 0 else 0
        if abs(e) <= _SAFE_EXPONENT:
            return A, 0
        return spla.LinearOperator(A.shape, dtype=np.float64,
                                   matvec=lambda v: np.ldexp(np.asarray(A.matvec(v), dtype=np.float64), -e),
                                   rmatvec=lambda v: np.ldexp(np.asarray(A.rmatvec(v), dtype=np.float64), -e)), e
    data = A.data if sp.issparse(A) else A  # finite: as_matrix checked
    amax = float(np.max(np.abs(data), initial=0.0))
    if amax == 0:
        return None, 0
    e = _exponent(amax)
    if abs(e) <= _SAFE_EXPONENT:
        return A, 0
    if sp.issparse(A):
        A = sp.csr_array(A, dtype=np.float64, copy=True)
        A.data = np.ldexp(A.data, -e)
        return A, e
    return np.ldexp(np.asarray(A, dtype=np.float64), -e), e


def _guard_dense(shape, max_bytes, why: str) -> None:
    m, n = shape
    # the float64 copy, LAPACK's copy and its U, Vᵀ (min(m, n) columns each)
    r = min(m, n)
    nbytes = 8 * (2 * m * n + r * (m + n) + r * r)
    try:
        guard_bytes(nbytes, max_bytes, what=f"the dense SVD of the {m} x {n} matrix ({why})")
    except MatrixTooLargeError as exc:
        raise MatrixTooLargeError(f"{exc}; or pass k= for a few singular values by the sparse eigensolver") from None


def _dense_of(A) -> np.ndarray:
    import scipy.sparse.linalg as spla

    if isinstance(A, spla.LinearOperator):
        return np.asarray(A.matmat(np.eye(A.shape[1])), dtype=np.float64)
    if sp.issparse(A):
        return A.toarray().astype(np.float64, copy=False)
    return np.asarray(A, dtype=np.float64)


def _gram_residual(M: np.ndarray, V: np.ndarray, s: np.ndarray, scale: float) -> float:
    """``max_i ‖Mᵀ M vᵢ − sᵢ² vᵢ‖ / scale`` over the columns ``vᵢ`` of ``V``."""
    if scale == 0 or V.size == 0:
        return 0.0
    R = M.T @ (M @ V) - V * s**2
    return float(np.max(np.linalg.norm(R, axis=0)) / scale)


def _dense_spectrum(A, k, which, max_bytes, residual: bool = True) -> Spectrum:
    m, n = A.shape
    _guard_dense((m, n), max_bytes, "all singular values" if k is None else f"k={k}")
    M = _dense_of(A)
    if not residual:
        s = np.linalg.svd(M, compute_uv=False)
    else:
        _, s, Vt = np.linalg.svd(M, full_matrices=False)
    pick = slice(None) if k is None else (slice(0, k) if which == "largest" else slice(s.size - k, s.size))
    values = s[pick]
    res = _gram_residual(M, Vt[pick].T, values, float(s[0]) ** 2) if residual else float("nan")
    return Spectrum(values, "dense", res, (m, n))


def _matvecs(A):
    """``(forward, adjoint)`` float64 products of ``A``."""
    import scipy.sparse.linalg as spla

    if isinstance(A, spla.LinearOperator):
        return (lambda v: np.asarray(A.matvec(v), dtype=np.float64).reshape(-1),
                lambda v: np.asarray(A.rmatvec(v), dtype=np.float64).reshape(-1))
    if sp.issparse(A):
        A = sp.csr_array(A)
        if A.dtype != np.float64:
            A = A.astype(np.float64)
        At = A.T
    else:
        A = np.asarray(A, dtype=np.float64)
        At = A.T
    return (lambda v: A @ v), (lambda v: At @ v)


def _lanczos_bytes(size: int, k: int) -> tuple[int, int]:
    ncv = min(size, max(2 * k + 1, 20))
    return ncv, 8 * size * (ncv + 6)


def _sparse_spectrum(A, k, which, tol, max_bytes) -> Spectrum:
    import scipy.sparse.linalg as spla

    m, n = A.shape
    size = min(m, n)
    ncv, nbytes = _lanczos_bytes(size, k)
    guard_bytes(nbytes + 8 * size * (2 * k + 4), max_bytes,
                what=f"the {ncv} Lanczos vectors of length {size:,} for k={k}")
    fwd, adj = _matvecs(A)
    # the Gram matrix of the smaller side: it has exactly the min(m, n) values σ²
    gram = (lambda v: adj(fwd(v))) if n <= m else (lambda v: fwd(adj(v)))
    G = spla.LinearOperator((size, size), matvec=gram, dtype=np.float64)
    rng = np.random.default_rng(0)
    v0 = rng.standard_normal(size)
    if isinstance(A, spla.LinearOperator) and not np.any(G.matvec(v0)) and not np.any(G.matvec(
            rng.standard_normal(size))):
        # a nonzero linear map sends a Gaussian vector into its null space with probability 0:
        # two independent ones sent to exact zeros mean the operator is 0 (explicit matrices
        # were checked entry by entry before; ARPACK fails on a zero operator)
        return Spectrum(np.zeros(k), "sparse", 0.0, (m, n), "full")
    try:
        if which == "largest" and k == 1:
            lam, V = spla.eigsh(G, k=1, which="LA", tol=tol, ncv=ncv, v0=v0)
            scale, flip = float(lam.max()), None
        elif which == "largest":
            lam, V = _partial_eigsh(G, k, "LA", tol, ncv, v0)
            # σ_max² itself: the top Ritz value (Lanczos' best-converging one), or its own solve
            scale = float(lam.max()) if lam.size else float(spla.eigsh(G, k=1, which="LA", tol=tol, v0=v0)[0][0])
            flip = None
        else:
            lam, V, scale, flip = _smallest(A, G, k, tol, ncv, v0, max_bytes)
        completeness = "top"
        if k > 1 or which == "smallest":
            lam, V = _complete(G, lam, V, k, which, flip, tol, scale, rng)
            completeness = "deflation"
    except spla.ArpackNoConvergence as exc:
        raise InputValueError(
            f"ARPACK did not reach tol={tol:g} for the k={k} {which} singular values of the {m} x {n} matrix "
            f"({len(exc.eigenvalues)} converged): pass a larger tol= or a smaller k=", "tol") from None
    order = np.argsort(lam)[::-1]
    lam, V = lam[order], V[:, order]
    values = np.sqrt(np.clip(lam, 0.0, None))
    residual = 0.0
    if scale > 0:
        R = np.column_stack([G.matvec(V[:, i]) for i in range(V.shape[1])]) - V * lam
        residual = float(np.max(np.linalg.norm(R, axis=0)) / scale)
    return Spectrum(values, "sparse", residual, (m, n), completeness)


def _partial_eigsh(H, k, which, tol, ncv, v0, maxiter=None):
    """``eigsh`` for a solve that :func:`_complete` finishes: on no convergence the pairs that did
    converge, on an ARPACK breakdown (a Krylov space exhausted by repeated values: "no shifts
    could be applied") none; the deflation check then finds the rest."""
    import scipy.sparse.linalg as spla

    try:
        return spla.eigsh(H, k=k, which=which, tol=tol, ncv=ncv, v0=v0, maxiter=maxiter)
    except spla.ArpackNoConvergence as exc:
        return np.asarray(exc.eigenvalues, dtype=np.float64), np.asarray(exc.eigenvectors, dtype=np.float64)
    except spla.ArpackError:
        return np.zeros(0), np.zeros((H.shape[0], 0))


def _top_eigsh(D, tol, x0, rng):
    """The largest eigenvalue of the deflated operator and its vector, by Lanczos (a retry from a new
    start with more vectors if ARPACK stalls)."""
    import scipy.sparse.linalg as spla

    size = D.shape[0]
    for attempt in range(2):
        try:
            return spla.eigsh(D, k=1, which="LA", tol=tol, v0=x0, ncv=None if attempt == 0 else min(size, 40))
        except spla.ArpackNoConvergence:
            if attempt:
                raise
        except spla.ArpackError as exc:
            if attempt:
                raise spla.ArpackNoConvergence(f"the deflation check failed: {exc}", np.zeros(0),
                                               np.zeros((size, 0))) from None
        x0 = D.matvec(rng.standard_normal(size))
    raise AssertionError("unreachable")  # pragma: no cover


def _complete(G, lam, V, k, which, flip, tol, scale, rng):
    """Make the ``k`` extreme eigenpairs ``(lam, V)`` of ``G`` complete: the deflation check.

    Lanczos finds one copy of an eigenvalue per Krylov space; the further copies of a repeated
    one emerge from rounding only, and ARPACK may stop with ``k`` genuine eigenpairs (tiny
    residuals) that skip one — the next value in its place.  So: project the found vectors
    out, ``D = P H P`` with ``P = I − W Wᵀ`` (``W`` orthonormal, the span found), and take the
    largest eigenvalue of ``D`` by Lanczos (``H = G`` for the largest; for the smallest the
    operator whose largest eigenvalues are the smallest of ``G``: ``flip = (H, to_lam, δ)``).
    If it corresponds to a value beyond the ``k``-th found (by more than ``slack``: the
    eigensolver's accuracy), that value was skipped: its vector joins ``W`` (orthogonalised;
    the value is its Rayleigh quotient in ``G``) and the check repeats on the new ``W``; else
    the ``k`` best found are the ``k`` extreme values.  Copies of the ``k``-th value itself
    are not sought: they do not change the values returned.  Pairs whose residual in ``G`` is
    not small are dropped before the first check; when vectors were added, a final
    Rayleigh–Ritz on everything found gives the values and vectors returned.
    """
    import scipy.sparse.linalg as spla

    size = G.shape[0]
    largest = which == "largest"
    H, to_lam, delta = (G, (lambda h: h), 0.0) if flip is None else flip
    lam = np.array(lam, dtype=np.float64)
    V = np.array(V, dtype=np.float64)
    # a pair ARPACK reports converged can still be off in G (shift-invert measures its residual
    # in (G + δI)⁻¹): only those with a small residual in G count as found
    if V.shape[1]:
        R = np.column_stack([G.matvec(V[:, i]) for i in range(V.shape[1])]) - V * lam
        good = np.linalg.norm(R, axis=0) <= (64 * tol + 2.0**-30) * scale
        lam, V = lam[good], V[:, good]
    W = np.linalg.qr(V)[0][:, :V.shape[1]] if V.shape[1] else np.zeros((size, 0))
    found = V.shape[1]
    while W.shape[1] < size - 1:
        if lam.size < k:
            kth = -np.inf if largest else np.inf  # too few found: anything found is wanted
        else:
            kth = np.sort(lam)[::-1][k - 1] if largest else np.sort(lam)[k - 1]
        relative = scale if largest or delta == 0 or not np.isfinite(kth) else max(kth, 0.0) + delta
        slack = 4 * tol * relative + 2.0**-40 * scale

        def project(x, W=W):
            return x - W @ (W.T @ x)

        D = spla.LinearOperator((size, size), matvec=lambda x: project(H.matvec(project(x))), dtype=np.float64)
        x0 = project(rng.standard_normal(size))
        if not np.any(D.matvec(x0)):
            # what is left is annihilated by H (e.g. the null space of a low-rank G once its range
            # is found): a random vector of it mapped to exact zero, so H is 0 there (w.p. one)
            # and its top is 0; ARPACK would fail on it ("starting vector is zero")
            new = float(to_lam(0.0))
            U = None
        else:
            # tighter than tol: a vector found here joins the answer, and Rayleigh–Ritz mixes it
            # with the other copies of its value, whose residuals then add up
            h, U = _top_eigsh(D, max(tol / 64, np.finfo(float).eps), x0, rng)
            new = float(to_lam(float(h[0])))
        if U is None or not (new > kth + slack if largest else new < kth - slack):
            break
        u = project(project(U[:, 0]))
        norm = float(np.linalg.norm(u))
        if norm == 0:  # pragma: no cover - the deflated top vector lies in the span found
            break
        u /= norm
        W = np.column_stack([W, u])
        V = np.column_stack([V, u])
        lam = np.append(lam, float(u @ G.matvec(u)))
    if size - 1 <= W.shape[1] < size:  # one direction left, too few for Lanczos: its Rayleigh quotient
        u = np.linalg.qr(W, mode="complete")[0][:, -1]
        V = np.column_stack([V, u])
        lam = np.append(lam, float(u @ G.matvec(u)))
    if V.shape[1] > found:
        # Rayleigh–Ritz on everything found: an added vector couples to the others through their
        # residuals (‖Wᵀ G u‖ = ‖R_Wᵀ u‖); diagonalising G on the span removes that coupling
        Q = np.linalg.qr(V)[0]
        T = Q.T @ np.column_stack([G.matvec(Q[:, i]) for i in range(Q.shape[1])])
        lam, Y = np.linalg.eigh((T + T.T) / 2)
        V = Q @ Y
    order = np.argsort(lam)
    pick = order[::-1][:k] if largest else order[:k]
    return lam[pick], V[:, pick]


def _smallest(A, G, k, tol, ncv, v0, max_bytes):
    """The k smallest eigenvalues of the Gram matrix by shift-invert (explicit matrices) or by Lanczos.

    Returns ``(lam, V, scale, flip)``: ``scale`` a lower bound of ``σ_max²``, ``flip = (H, to_lam,
    δ)`` the operator whose largest eigenvalues ``h`` are the smallest ``λ = to_lam(h)`` of ``G``
    (for the deflation check of :func:`_complete`).
    """
    import scipy.sparse.linalg as spla

    m, n = A.shape
    size = G.shape[0]
    if isinstance(A, spla.LinearOperator):
        lam, V = _partial_eigsh(G, k, "SA", tol, ncv, v0, maxiter=100 * size)
        top = float(spla.eigsh(G, k=1, which="LA", tol=tol, v0=v0)[0].max())
        c = top * (1 + 1e-6)  # at least σ_max² (Lanczos' top Ritz value is within tol of it)
        H = spla.LinearOperator((size, size), matvec=lambda x: c * x - G.matvec(x), dtype=np.float64)
        return lam, V, top, (H, lambda h: c - h, 0.0)
    S = sp.csr_array(A, dtype=np.float64) if sp.issparse(A) else sp.csr_array(np.asarray(A, dtype=np.float64))
    if n > m:
        S = sp.csr_array(S.T)
    # nnz(SᵀS) <= Σ over rows of nnz(row)²: refuse before forming it (and its LU, a few times more)
    per_row = np.diff(S.indptr).astype(np.int64)
    bound = int(np.dot(per_row, per_row))
    guard_bytes(3 * 12 * min(bound, S.shape[1] ** 2), max_bytes,
                what=f"the {S.shape[1]:,} x {S.shape[1]:,} Gram matrix (up to {bound:,} entries) and its factors")
    Gm = sp.csc_array(S.T @ S)
    # σ_max² >= the largest squared column norm (a diagonal entry of the Gram matrix)
    floor = float(Gm.diagonal().max())
    delta = 1e-10 * max(floor, np.finfo(float).tiny)
    # shift-invert, factorised once for the solve and the deflation check: the largest
    # eigenvalues ν of (G + δI)⁻¹ are the smallest λ = 1/ν − δ of G
    lu = spla.splu(sp.csc_array(Gm + delta * sp.eye_array(size, format="csc")))
    H = spla.LinearOperator((size, size), matvec=lu.solve, dtype=np.float64)
    nu, V = _partial_eigsh(H, k, "LA", tol, ncv, v0)
    with np.errstate(divide="ignore"):
        lam = 1.0 / nu - delta

    def to_lam(h):
        return 1.0 / h - delta if h > 0 else np.inf

    return lam, V, floor, (H, to_lam, delta)


# --------------------------------------------------------------------------- circular layers by FFT
def circulant_strides(geometry: ConvGeometry) -> tuple[int, ...] | None:
    """The lattice steps ``g`` per axis when a circular layer's matrix is a row-selected circulant, else ``None``.

    PyTorch's circular mode pads ``(lo, hi)`` by wrapping (each side at most
    the input size ``n``) and then runs a valid convolution, so output ``o``
    reads ``x[(o·s + t·d − lo) mod n]``: row ``o`` of the matrix is row
    ``o·s mod n`` of the circulant ``C`` (``C[j] = Σ_t w_t x[(j + t·d − lo) mod n]``).
    The rows ``o·s mod n``, ``o = 0 … L − 1``, run through the subgroup
    ``g·Z_n`` with ``g = gcd(n, s)``, which has ``n / g`` elements; they are
    that subgroup, each row once, exactly when ``L = n / g``.  Then the matrix
    is, up to a permutation of its rows, ``C`` restricted to the rows on the
    lattice ``g·Z_n`` (and ``lo`` is a cyclic shift of the columns): the
    polyphase structure :func:`spectrum` diagonalises.  For stride 1 the
    condition is ``lo + hi = d (k − 1)`` (the output has the input's size, e.g.
    ``padding="same"``); for stride ``s`` dividing ``n`` it is ``L = n / s``.
    Any other circular layer (an output shorter or longer than the lattice:
    rows missing or repeated) is not of this form.

    Parameters
    ----------
    geometry : ConvGeometry

    Returns
    -------
    tuple of int, or None
        ``None`` for padding modes other than ``"circular"`` too.

    Raises
    ------
    TypeError
        If ``geometry`` is not a :class:`~convmatrix.ConvGeometry`.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((4, 4, 3, 3), (8, 8), stride=2, padding=1, padding_mode="circular")
    >>> circulant_strides(g)
    (2, 2)
    >>> circulant_strides(ConvGeometry.from_weight_shape((1, 1, 3), 8, padding=2, padding_mode="circular")) is None
    True
    """
    if not isinstance(geometry, ConvGeometry):
        raise InputTypeError(f"geometry={show(geometry)} must be a ConvGeometry, not a {type(geometry).__name__}",
                             "geometry")
    if geometry.padding_mode != "circular" or geometry.output_limit is not None:
        return None
    steps = []
    for n, s, L in zip(geometry.input_size, geometry.stride, geometry.full_output_size):
        g = gcd(n, s)
        if L != n // g:
            return None
        steps.append(g)
    return tuple(steps)


def _symbol(w: np.ndarray, geometry: ConvGeometry, shift: tuple[int, ...] | None = None) -> np.ndarray:
    """``Ŵ[o, c, ξ] = Σ_t w[o, c, t] exp(−2πi ⟨ξ, t·d − shift⟩ / n)``, shape ``(C_out, C_in/G, *n)``.

    The DFT of the kernel placed on the input grid at ``t·d − shift`` (taps that
    wrap past ``n`` add), by one small DFT matrix per axis.
    """
    K = w.astype(np.complex128)
    for axis, (n, k, d) in enumerate(zip(geometry.input_size, geometry.kernel_size, geometry.dilation)):
        pos = np.arange(k) * d - (0 if shift is None else shift[axis])
        F = np.exp(-2j * np.pi * np.outer(np.arange(n), pos % n) / n)  # (n, k)
        K = np.moveaxis(np.tensordot(K, F, axes=([2 + axis], [1])), -1, 2 + axis)
    return K


def _polyphase_blocks(K: np.ndarray, geometry: ConvGeometry, steps: tuple[int, ...]) -> np.ndarray:
    """The blocks ``B(η)`` of a row-selected circulant, shape ``(G, ∏m, C_out/G, C_in/G · ∏g)``.

    Keeping the output positions on the lattice ``g·Z_n`` (``n = g·m``) maps
    the unitary DFT of ``z`` to ``ŷ(η) = g^{-1/2} Σ_a ẑ(η + a·m)``, ``a ∈ Z_g``
    per axis (aliasing), so output frequency ``η`` sees the ``∏g`` input
    frequencies ``η + a·m`` side by side: ``B(η) = [Ŵ(η + a·m)]_a / √∏g``.
    """
    G, nd = geometry.groups, geometry.ndim
    co, ci = geometry.out_channels_per_group, geometry.in_channels_per_group
    m = [n // g for n, g in zip(geometry.input_size, steps)]
    split = [x for g, mm in zip(steps, m) for x in (g, mm)]
    K = K.reshape(G, co, ci, *split)
    a_axes = [3 + 2 * i for i in range(nd)]
    eta_axes = [4 + 2 * i for i in range(nd)]
    K = K.transpose(0, *eta_axes, 1, 2, *a_axes)
    return K.reshape(G, prod(m), co, ci * prod(steps)) / sqrt(prod(steps))


def _half_spectrum(m: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies ``η`` of ``Z_m`` kept, one of each pair ``{η, −η}``, and how many each stands for.

    A real kernel gives ``B(−η) = conj(B(η))`` up to a permutation of columns:
    the same singular values, computed once.
    """
    idx = np.arange(prod(m)).reshape(m)
    partner = np.ravel_multi_index([(-g) % mm for g, mm in zip(np.indices(m), m)], m).reshape(-1)
    flat = idx.reshape(-1)
    keep = flat <= partner
    return flat[keep], np.where(flat[keep] == partner[keep], 1, 2)


#: Frequencies whose blocks are decomposed at once (bounds the SVD's working arrays).
_SVD_CHUNK_BYTES = 64 * 2**20


def _block_svd(blocks: np.ndarray, vectors: bool):
    """Singular values of a stack of complex blocks (in chunks), and with ``vectors`` the largest
    Gram residual ``‖BᴴB v − σ² v‖`` over all of them."""
    nb, r, c = blocks.shape
    per = max(1, _SVD_CHUNK_BYTES // max(1, 16 * (r * c + (r * r + c * c if vectors else 0))))
    values, residual = [], 0.0
    for start in range(0, nb, per):
        B = blocks[start:start + per]
        if not vectors:
            values.append(np.linalg.svd(B, compute_uv=False))
            continue
        _, s, Vh = np.linalg.svd(B, full_matrices=False)
        V = np.conj(np.swapaxes(Vh, -1, -2))  # (b, c, q)
        R = np.conj(np.swapaxes(B, -1, -2)) @ (B @ V) - V * (s**2)[:, None, :]
        residual = max(residual, float(np.max(np.linalg.norm(R, axis=-2), initial=0.0)))
        values.append(s)
    return np.concatenate(values, axis=0), residual


def _fft_spectrum(w: np.ndarray, geometry: ConvGeometry, steps: tuple[int, ...], k, which, max_bytes,
                  residual: bool = True) -> Spectrum:
    G = geometry.groups
    co, ci = geometry.out_channels_per_group, geometry.in_channels_per_group
    N = prod(geometry.input_size)
    c = ci * prod(steps)
    q = min(co, c)
    # the symbol, its polyphase copy and the values (complex128), before any of them exists
    guard_bytes(3 * 16 * geometry.out_channels * ci * N + 8 * G * (N // prod(steps)) * q * 2, max_bytes,
                what=f"the DFT of the kernel over the {geometry.input_size} grid "
                     f"({geometry.out_channels} x {ci} x {N:,} complex entries)")
    K = _symbol(np.asarray(w, dtype=np.float64), geometry)
    blocks = _polyphase_blocks(K, geometry, steps)
    del K
    keep, mult = _half_spectrum([n // g for n, g in zip(geometry.input_size, steps)])
    blocks = blocks[:, keep].reshape(-1, co, c)
    mult = np.tile(mult, G)
    one_pass = residual and k is None  # every block holds returned values: one pass with the vectors
    s, res = _block_svd(blocks, vectors=one_pass)
    values = np.sort(np.repeat(s, mult, axis=0).reshape(-1))[::-1]
    if k is not None:
        values = values[:k] if which == "largest" else values[values.size - k:]
        if residual:  # the residual of the blocks that hold the values returned
            held = (s >= values[-1]) if which == "largest" else (s <= values[0])
            _, res = _block_svd(blocks[held.any(axis=1)], vectors=True)
    top = float(s.max()) ** 2 if s.size else 0.0
    residual = (res / top if top > 0 else 0.0) if residual else float("nan")
    return Spectrum(np.ascontiguousarray(values), "fft", residual, geometry.shape)


# --------------------------------------------------------------------------- the layer as factors
def conv_operator(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    max_bytes: int | None = None,
):
    """The layer as a ``scipy.sparse.linalg.LinearOperator``: ``A = Σ_t W_t ⊗ E_t`` without forming ``A``.

    ``E_t`` is the 0/1 matrix that says where kernel tap ``t`` lands (the
    one-channel ``conv_matrix`` of a one-hot kernel), ``W_t`` the ``C_out ×
    C_in`` matrix of that tap's weights (block-diagonal over groups).  Stacked
    over the taps, the ``E_t`` read the input's im2col columns, and one matrix
    product per group with the reshaped kernel applies the layer: ``A x`` costs
    one GEMM of the kernel's size by the output positions, with no matrix of
    ``A``'s size, and ``Aᵀ y`` is the same factors transposed.

    Parameters
    ----------
    weight, input_size, stride, padding, dilation, groups, padding_mode
        As :func:`~convmatrix.conv_matrix` (real weights).
    max_bytes : int, optional
        Size limit for the stacked tap matrices and one product's working arrays.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator, shape of ``conv_matrix(weight, input_size, ...)``
        float64 ``matvec``, ``rmatvec``, ``matmat``.

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`spectrum`.

    Examples
    --------
    >>> import numpy as np
    >>> from convmatrix import conv_matrix
    >>> rng = np.random.default_rng(0)
    >>> w, x = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4 * 7 * 6)
    >>> kw = dict(stride=2, padding=1, groups=2, padding_mode="reflect")
    >>> op, A = conv_operator(w, (7, 6), **kw), conv_matrix(w, (7, 6), **kw)
    >>> op.shape == A.shape, np.allclose(op @ x, A @ x), np.allclose(op.rmatvec(A @ x), A.T @ (A @ x))
    (True, True, True)
    """
    w, geometry = real_layer(weight, input_size, stride, padding, dilation, groups, padding_mode)
    as_max_bytes(max_bytes)
    return _factored_operator(np.asarray(w, dtype=np.float64), geometry, max_bytes)


def _factored_operator(w: np.ndarray, geometry: ConvGeometry, max_bytes):
    import scipy.sparse.linalg as spla

    T = prod(geometry.kernel_size)
    P, Q = prod(geometry.output_size), prod(geometry.input_size)
    G, co, ci = geometry.groups, geometry.out_channels_per_group, geometry.in_channels_per_group
    C_in, C_out = geometry.in_channels, geometry.out_channels
    guard_bytes(12 * T * P + 8 * (2 * T * P * C_in + C_out * P + C_in * Q), max_bytes,
                what=f"the {T} tap matrices of {P:,} x {Q:,} and the im2col columns of one product")
    onehot = np.eye(T).reshape(T, 1, *geometry.kernel_size)
    E = conv_matrix(onehot, geometry.input_size, stride=geometry.stride, padding=geometry.padding,
                    dilation=geometry.dilation, padding_mode=geometry.padding_mode, max_bytes=max_bytes)
    # rows (t, p) -> (p, t): the im2col block of output p is then one contiguous row of T * C_in
    E = sp.csr_array(E[np.arange(T * P).reshape(T, P).T.reshape(-1)])
    Et = sp.csr_array(E.T)
    # W[g] as (co, T * ci), columns ordered (t, c) like the im2col rows below
    Wg = w.reshape(G, co, ci, T).transpose(0, 1, 3, 2).reshape(G, co, T * ci)

    def forward(x):
        X = np.asarray(x, dtype=np.float64).reshape(C_in, Q)
        Z = E @ X.T  # im2col: Z[p * T + t, c] = x[c] at tap t of output p
        if G == 1:
            return (Wg[0] @ Z.reshape(P, T * C_in).T).reshape(-1)
        Z = Z.reshape(P, T, G, ci)
        Y = np.empty((G, co, P))
        for g in range(G):
            Y[g] = Wg[g] @ Z[:, :, g, :].reshape(P, T * ci).T
        return Y.reshape(-1)

    def adjoint(y):
        Y = np.asarray(y, dtype=np.float64).reshape(G, co, P)
        if G == 1:
            Z = (Y[0].T @ Wg[0]).reshape(P * T, C_in)
        else:
            Z = np.empty((P, T, G, ci))
            for g in range(G):
                Z[:, :, g, :] = (Y[g].T @ Wg[g]).reshape(P, T, ci)
            Z = Z.reshape(P * T, C_in)
        return (Et @ Z).T.reshape(-1)

    return spla.LinearOperator(geometry.shape, matvec=forward, rmatvec=adjoint, dtype=np.float64)


# --------------------------------------------------------------------------- layers
def _as_real_weight(weight) -> np.ndarray:
    w = as_array(weight, "weight", kinds="biuf", rule="must be an array of real numbers (no complex, no symbols)",
                 finite=True)
    if w.dtype.kind == "b":
        raise InputTypeError(f"weight must be numeric: got dtype {w.dtype}", "weight")
    if w.ndim < 3:
        raise InputValueError(f"weight must have shape (C_out, C_in/groups, *kernel_size) with at least one "
                              f"spatial axis: got shape {w.shape}", "weight")
    return w


def real_layer(weight, input_size, stride, padding, dilation, groups, padding_mode):
    """A real weight (no complex, no symbols, no booleans) and its validated geometry: ``(w, geometry)``."""
    w = _as_real_weight(weight)
    geometry = ConvGeometry.from_weight_shape(w.shape, input_size, stride=stride, padding=padding,
                                              dilation=dilation, groups=groups, padding_mode=padding_mode)
    return w, geometry


def spectrum(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    k: int | None = None,
    which: str = "largest",
    tol: float | None = None,
    max_bytes: int | None = None,
) -> Spectrum:
    """The singular values of a convolution layer's matrix, with the method and the residual.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *kernel_size)
        Real numbers.
    input_size, stride, padding, dilation, groups, padding_mode
        Exactly as :func:`~convmatrix.conv_matrix` takes them.
    k : int, optional
        How many (``None``: all ``min(rows, cols)`` of them).
    which : {"largest", "smallest"}, optional
    tol : float, optional
        The eigensolver's relative tolerance (see :func:`matrix_spectrum`).
    max_bytes : int, optional
        Size limit for the matrix and the working arrays.

    Returns
    -------
    Spectrum
        ``method="fft"`` for a circular layer that :func:`circulant_strides`
        recognises (all values exact whatever ``k``: ``k`` only selects).
        Otherwise :func:`matrix_spectrum` of the explicit matrix
        ``conv_matrix(...)`` — or, for the ``k`` largest of a layer above
        :data:`DENSE_MAX_ENTRIES`, of its factors (:func:`conv_operator`),
        which give Lanczos the same products without building the matrix.

    Raises
    ------
    TypeError, ValueError
        As :func:`~convmatrix.conv_matrix` (complex and symbolic weights are
        refused too), and for a bad ``k``, ``which`` or ``tol``.
    MatrixTooLargeError
        Before building, when the matrix, its dense copy (``k=None``) or the
        DFT of the kernel would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((3, 2, 3, 3))
    >>> s = spectrum(w, (6, 6), stride=2, padding=1, padding_mode="circular")
    >>> s.method, s.values.shape
    ('fft', (27,))
    >>> from convmatrix import conv_matrix
    >>> A = conv_matrix(w, (6, 6), stride=2, padding=1, padding_mode="circular").toarray()
    >>> np.allclose(s.values, np.linalg.svd(A, compute_uv=False))
    True
    """
    return _layer_spectrum(weight, input_size, stride, padding, dilation, groups, padding_mode, k, which, tol,
                           max_bytes)


def _layer_spectrum(weight, input_size, stride, padding, dilation, groups, padding_mode, k, which, tol, max_bytes,
                    residual: bool = True) -> Spectrum:
    """:func:`spectrum`; ``residual=False`` (for :func:`singular_values`) spares the dense and FFT SVDs their
    vectors, which cost about five times the values."""
    w, geometry = real_layer(weight, input_size, stride, padding, dilation, groups, padding_mode)
    rows, cols = geometry.shape
    k = _as_k(k, min(rows, cols))
    which = as_choice(which, "which", _WHICH)
    tol = _as_tol(tol)
    as_max_bytes(max_bytes)
    steps = circulant_strides(geometry)
    small = rows * cols <= DENSE_MAX_ENTRIES or k is None or k >= min(rows, cols) - 1
    w = np.asarray(w, dtype=np.float64)
    amax = float(np.max(np.abs(w), initial=0.0))
    if amax == 0 or min(rows, cols) == 0:  # a zero layer: every singular value is 0 (ARPACK fails on it)
        return Spectrum(np.zeros(min(rows, cols) if k is None else k),
                        "fft" if steps is not None else "dense" if small else "sparse", 0.0, (rows, cols))
    e = _exponent(amax)
    if abs(e) > _SAFE_EXPONENT:  # scaled by a power of two, exactly, so that no square over- or underflows
        return _unscaled(_layer_spectrum(np.ldexp(w, -e), geometry.input_size, geometry.stride, geometry.padding,
                                         geometry.dilation, geometry.groups, geometry.padding_mode, k, which, tol,
                                         max_bytes, residual), e)
    if steps is not None:
        return _fft_spectrum(w, geometry, steps, k, which, max_bytes, residual)
    if small:
        _guard_dense(geometry.shape, max_bytes, "all singular values" if k is None else f"k={k}")
    elif which == "largest":  # Lanczos needs products only: the factors, never the matrix
        op = _factored_operator(np.asarray(w, dtype=np.float64), geometry, max_bytes)
        return _spectrum_of(op, k, which, tol, max_bytes, "sparse")
    A = conv_matrix(w, geometry.input_size, stride=geometry.stride, padding=geometry.padding,
                    dilation=geometry.dilation, groups=geometry.groups, padding_mode=geometry.padding_mode,
                    max_bytes=max_bytes)
    return _spectrum_of(A, k, which, tol, max_bytes, None, residual)


def singular_values(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    k: int | None = None,
    which: str = "largest",
    tol: float | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """The singular values of a convolution layer, descending (``spectrum(...).values``, without the residual).

    Parameters
    ----------
    weight, input_size, stride, padding, dilation, groups, padding_mode, k, which, tol, max_bytes
        As :func:`spectrum`.

    Returns
    -------
    ndarray of float64
        All ``min(rows, cols)`` singular values of ``conv_matrix(weight,
        input_size, ...)`` (``k=None``), or its ``k`` largest or smallest.

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`spectrum`.

    Examples
    --------
    >>> import numpy as np
    >>> singular_values(np.array([[[1.0, 2.0, 1.0]]]), 4, padding=1, padding_mode="circular")
    array([4., 2., 2., 0.])
    >>> singular_values(np.array([[[1.0, 2.0, 1.0]]]), 4, padding=1, k=1).round(6)
    array([3.618034])
    """
    return _layer_spectrum(weight, input_size, stride, padding, dilation, groups, padding_mode, k, which, tol,
                           max_bytes, residual=False).values


def spectral_norm(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    tol: float | None = None,
    max_bytes: int | None = None,
) -> float:
    """The operator 2-norm of a convolution layer: its Lipschitz constant, exact.

    Not the norm of the reshaped kernel ``weight.reshape(C_out, -1)`` that
    ``torch.nn.utils.spectral_norm`` normalises by: that one ignores how the
    kernel's taps overlap across positions, and can be smaller or larger than
    the layer's norm.

    Parameters
    ----------
    weight, input_size, stride, padding, dilation, groups, padding_mode, tol, max_bytes
        As :func:`spectrum`.

    Returns
    -------
    float
        The largest singular value of ``conv_matrix(weight, input_size, ...)``.

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`spectrum`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.ones((1, 1, 3, 3))
    >>> spectral_norm(w, (8, 8), padding=1, padding_mode="circular")   # the constant image: 9
    9.0
    >>> round(spectral_norm(w, (8, 8), padding=1), 6), float(np.linalg.norm(w.reshape(1, -1), 2))  # (1 + 2 cos(π/9))², 3
    (8.290859, 3.0)
    """
    s = spectrum(weight, input_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
                 padding_mode=padding_mode, k=1, which="largest", tol=tol, max_bytes=max_bytes)
    return float(s.values[0])


# --------------------------------------------------------------------------- clipping
def clip_spectral_norm(
    weight: Any,
    input_size: IntOrTuple,
    max_norm: float,
    *,
    padding: Padding = "same",
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "circular",
    support: str = "full",
    max_bytes: int | None = None,
) -> np.ndarray:
    """Project a circular layer's kernel onto operator norm at most ``max_norm`` (Sedghi, Gupta & Long 2019).

    The layer (stride 1, an output the size of the input: ``lo + hi = d (k −
    1)`` per axis) is block-diagonalised by the DFT of the input grid; every
    frequency's ``C_out/G × C_in/G`` block ``U Σ Vᴴ`` becomes ``U min(Σ, c) Vᴴ``
    and the inverse DFT gives the kernel back.  This is the nearest operator of
    norm ``≤ c`` in the Frobenius norm, and it is again a circular convolution,
    but of a kernel that fills the whole grid.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *kernel_size)
        Real numbers.
    input_size : int or tuple of int
    max_norm : float
        ``c > 0``.
    padding, dilation, groups : optional
        Of the layer, as :func:`~convmatrix.conv_matrix` (any padding with
        ``lo + hi = d (k − 1)`` per axis; default ``"same"``).
    padding_mode : {"circular"}, optional
        Only circular layers are block-diagonalised exactly.
    support : {"full", "kernel"}, optional
        ``"full"`` (default): the exact projection, a kernel of shape
        ``(C_out, C_in/groups, *input_size)`` for the layer with
        ``padding="same"``, ``dilation=1``, ``padding_mode="circular"`` (it is
        the same operator as the input layer when nothing is clipped).
        ``"kernel"``: that kernel read back at the original taps, shape of
        ``weight``, for the original layer's parameters — Sedghi et al.'s
        projection onto the kernel's support, which is **not** exact: its norm
        can exceed ``max_norm`` again (they alternate the two projections).

    Returns
    -------
    ndarray of float64

    Raises
    ------
    TypeError, ValueError
        On bad parameters (as :func:`~convmatrix.conv_matrix`), a ``max_norm``
        that is not a positive number, a padding mode other than circular or
        a padding that changes the output size (the message names ``padding``).
    MatrixTooLargeError
        When the DFT of the kernel over the grid would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((2, 2, 3, 3))
    >>> s = singular_values(w, (5, 5), padding=1, padding_mode="circular")
    >>> c = float(np.median(s))
    >>> K = clip_spectral_norm(w, (5, 5), c, padding=1)
    >>> K.shape
    (2, 2, 5, 5)
    >>> t = singular_values(K, (5, 5), padding="same", padding_mode="circular")
    >>> bool(abs(t[0] - c) < 1e-12), np.allclose(t[s < c], s[s < c])
    (True, True)
    """
    w = _as_real_weight(weight)
    max_norm = as_real(max_norm, "max_norm", positive=True)
    padding_mode = as_choice(padding_mode, "padding_mode", ("circular",),
                             hint=": clipping by the DFT is exact for circular layers only")
    support = as_choice(support, "support", ("full", "kernel"))
    as_max_bytes(max_bytes)
    try:
        geometry = ConvGeometry.from_weight_shape(w.shape, input_size, padding=padding, dilation=dilation,
                                                  groups=groups, padding_mode=padding_mode)
    except InputValueError as exc:
        if exc.parameter != "padding" or not isinstance(padding, str):
            raise
        raise InputValueError(f"{exc} (padding={padding!r} for the kernel of shape {w.shape} with "
                              f"dilation={show(dilation)})", "padding") from None
    if geometry.output_size != geometry.input_size:
        raise InputValueError(
            f"padding={show(padding)} gives an output of size {geometry.output_size} for the input "
            f"{geometry.input_size}: clipping needs lo + hi = dilation * (kernel_size - 1) per axis "
            f"(e.g. padding='same'), so that the layer is a circulant", "padding")
    G, n = geometry.groups, geometry.input_size
    co, ci = geometry.out_channels_per_group, geometry.in_channels_per_group
    N = prod(n)
    guard_bytes(4 * 16 * geometry.out_channels * ci * N, max_bytes,
                what=f"the DFT of the kernel over the {n} grid ({geometry.out_channels} x {ci} x {N:,} complex)")
    same = tuple((ni - 1) // 2 for ni in n)  # padding="same" of a full-size kernel (lo side)
    shift = tuple(lo - s for (lo, _), s in zip(geometry.padding, same))
    # Ŵ of the layer, placed so that the full-grid kernel with padding="same" is the same operator
    K = _symbol(np.asarray(w, dtype=np.float64), geometry, shift)
    B = np.moveaxis(K.reshape(G, co, ci, N), 3, 1)  # (G, N, co, ci)
    U, s, Vh = np.linalg.svd(B, full_matrices=False)
    B = (U * np.minimum(s, max_norm)[..., None, :]) @ Vh
    K = np.moveaxis(B, 1, 3).reshape(geometry.out_channels, ci, *n)
    # back to the taps: Ŵ[ξ] = Σ_u K[u] e^{-2πi⟨ξ,u⟩/n}, so K = conj-free inverse DFT
    kernel = np.fft.ifftn(K, axes=tuple(range(2, 2 + len(n)))).real
    if support == "full":
        return np.ascontiguousarray(kernel)
    idx = np.ix_(*[(np.arange(k) * d - sh) % ni for k, d, sh, ni in
                   zip(geometry.kernel_size, geometry.dilation, shift, n)])
    return np.ascontiguousarray(kernel[(slice(None), slice(None)) + idx])
