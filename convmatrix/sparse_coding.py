"""Sparse coding: ISTA and FISTA on ``C(z) = λ/2 ‖R z − y‖² + ‖z‖₁``, for any explicit ``R``.

Generic: ``R`` is any real sparse array or ndarray — Zeiler's ``R_l``
(:meth:`convmatrix.ZeilerStack.infer`), a single convolution's ``F``, anything.
``ista`` takes plain proximal-gradient steps, ``fista`` adds Beck & Teboulle's
(2009) momentum; both take ``n_iter`` iterations and return an
:class:`InferenceResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ._display import Displayable
from ._validation import InputValueError, as_array, as_callable, as_choice, as_int, as_matrix, as_real
from .pooling import Switches

__all__ = ["operator_norm", "lasso_cost", "soft_threshold", "InferenceResult", "ista", "fista", "check_solver_args"]


def operator_norm(
    R: Any, Rt: Any = None, *, method: str = "power", tol: float = 1e-6, n_iter: int = 1000, seed: int = 0
) -> float:
    """``‖R‖₂``, the largest singular value: exact, or by power iteration on ``RᵀR`` or by ``svds``.

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    Rt : sparse array or ndarray, shape (n, m), optional
        ``Rᵀ`` if it is at hand (power iteration only); else ``R.T``.
    method : {"power", "svds", "exact"}, optional
        Power iteration (default) stops when the estimate of ``‖R‖²`` changes
        by less than ``tol`` relatively; it approaches from below.
        ``"svds"`` calls ``scipy.sparse.linalg.svds(R, k=1)``.
        ``"exact"`` is :func:`convmatrix.matrix_spectrum`'s largest value (dense
        SVD of a small matrix, else Lanczos on ``RᵀR`` to near machine precision;
        ``tol``, ``n_iter`` and ``seed`` do not apply).
    tol : float, optional
    n_iter : int, optional
        At most this many iterations (power iteration).
    seed : int, optional
        Of the random start vector.

    Returns
    -------
    float
        ``0.0`` for a matrix without a nonzero entry.

    Raises
    ------
    TypeError
        If ``R`` or ``Rt`` is not a 2-d real sparse array or ndarray, or
        ``tol``, ``n_iter`` or ``seed`` has the wrong type.
    ValueError
        On an unknown ``method``, ``Rt`` not of shape ``R.shape[::-1]``, a
        non-positive ``tol`` or ``n_iter``, or a negative ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[3.0, 0.0], [4.0, 5.0]])
    >>> round(operator_norm(R), 6), round(operator_norm(R, method="svds"), 6)
    (6.708204, 6.708204)
    >>> bool(operator_norm(R, method="exact") == np.linalg.norm(R, 2))
    True
    """
    method = as_choice(method, "method", ("power", "svds", "exact"))
    R = as_matrix(R, "R")
    if Rt is not None:
        Rt = as_matrix(Rt, "Rt")
        if tuple(Rt.shape) != tuple(R.shape[::-1]):
            raise InputValueError(f"Rt has shape {Rt.shape} but R has shape {R.shape}: Rt must be {R.shape[::-1]}")
    tol = as_real(tol, "tol", positive=True)
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    seed = as_int(seed, "seed", minimum=0)
    if (R.count_nonzero() if sp.issparse(R) else np.count_nonzero(R)) == 0:
        return 0.0
    if method == "exact":
        return exact_norm(R)
    if method == "svds":
        if min(R.shape) < 2:
            return float(np.linalg.norm(R.toarray() if sp.issparse(R) else np.asarray(R), 2))
        import scipy.sparse.linalg as spla

        A = sp.csr_array(R, dtype=np.float64) if sp.issparse(R) else np.asarray(R, dtype=np.float64)
        try:
            return float(spla.svds(A, k=1, return_singular_vectors=False, random_state=seed)[0])
        except spla.ArpackError:  # pragma: no cover - fall back on the power iteration
            return operator_norm(A, tol=tol, n_iter=n_iter, seed=seed)
    Rt = R.T if Rt is None else Rt
    v = np.random.default_rng(seed).standard_normal(R.shape[1])
    v /= np.linalg.norm(v)
    est = 0.0
    for _ in range(n_iter):
        w = Rt @ (R @ v)
        new = float(v @ w)
        nw = np.linalg.norm(w)
        if nw == 0:
            return 0.0
        v = w / nw
        if abs(new - est) <= tol * abs(new):
            est = new
            break
        est = new
    return sqrt(max(nw, est))  # ‖RᵀR v‖ for unit v bounds the Rayleigh quotient from above, still ≤ ‖R‖²


def exact_norm(R, max_bytes: int | None = None) -> float:
    """``‖R‖₂`` of a checked matrix by :func:`convmatrix.matrix_spectrum` (0 for an empty one)."""
    from .spectra import matrix_spectrum

    if min(R.shape) == 0:
        return 0.0
    return float(matrix_spectrum(R, k=1, max_bytes=max_bytes).values[0])


def _shrink(z: np.ndarray, beta: float) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - beta, 0.0)


def soft_threshold(z: Any, beta: float) -> np.ndarray:
    """``max(|z| - β, 0) · sign(z)``, the shrinkage of the ℓ₁ proximal step.

    Parameters
    ----------
    z : array_like
        Real numbers.
    beta : float
        The threshold ``β``, a non-negative finite number.

    Returns
    -------
    ndarray of float, the shape of ``z``

    Raises
    ------
    TypeError
        If ``z`` is not real numbers or ``beta`` not a real number.
    ValueError
        If ``beta`` is negative or not finite.

    Examples
    --------
    >>> soft_threshold(np.array([-3.0, -0.5, 0.2, 2.0]), 1.0)
    array([-2.,  0.,  0.,  1.])
    """
    z = as_array(z, "z", rule="must hold real numbers (integer or float)")
    return _shrink(z, as_real(beta, "beta"))


def lasso_cost(R: Any, y: Any, z: Any, lam: float) -> float:
    """``C(z) = λ/2 ‖R z − y‖² + ‖z‖₁``.

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    y : array_like, m entries
    z : array_like, n entries
    lam : float
        ``λ``, a positive finite number.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``R`` is not a 2-d real matrix, ``y`` or ``z`` not real numbers, or
        ``lam`` not a real number.
    ValueError
        If ``y`` or ``z`` does not fit ``R``, or ``lam`` is not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> lasso_cost(np.eye(2), np.array([1.0, 0.0]), np.array([0.5, 0.0]), 2.0)
    0.75
    """
    R = as_matrix(R, "R")
    y = as_array(y, "y", rule="must hold real numbers (integer or float)").reshape(-1)
    z = as_array(z, "z", rule="must hold real numbers (integer or float)").reshape(-1)
    if y.size != R.shape[0]:
        raise InputValueError(f"y has {y.size} entries but R has {R.shape[0]} rows: they must match")
    if z.size != R.shape[1]:
        raise InputValueError(f"z has {z.size} entries but R has {R.shape[1]} columns: they must match")
    lam = as_real(lam, "lam", positive=True)
    r = R @ z - y
    return float(lam / 2 * (r @ r) + np.abs(z).sum())


@dataclass(eq=False)
class InferenceResult(Displayable):
    """What :func:`ista` / :func:`fista` return.

    Attributes
    ----------
    z : ndarray
        The maps (flat, or shaped by :meth:`ZeilerStack.infer`).
    cost : ndarray
        ``C(z)`` at the start and after every iteration (``n_iter + 1`` values).
    step : float
        The gradient step used.
    lipschitz : float or None
        ``L = λ ‖R‖²``, the Lipschitz constant of the gradient, when the step
        was derived from it (``None`` when a step was given).
    n_iter : int
        Iterations run.
    switches : Switches or None
        After :meth:`ZeilerStack.infer` with pooling: the switches of the result.

    Examples
    --------
    >>> import numpy as np
    >>> res = ista(np.eye(2), [3.0, 0.5], step=1.0, n_iter=5)
    >>> res.z, res.cost, res.step, res.lipschitz, res.n_iter
    (array([2., 0.]), array([4.625, 2.625, 2.625, 2.625, 2.625, 2.625]), 1.0, None, 5)
    """

    z: np.ndarray
    cost: np.ndarray
    step: float
    lipschitz: float | None
    n_iter: int
    switches: Switches | None = None


def check_solver_args(lam, step, n_iter, refresh, callback):
    """The scalar and callable arguments of :func:`ista`; returns ``(lam, step, n_iter)``."""
    lam = as_real(lam, "lam", positive=True)
    step = None if step is None else as_real(step, "step", positive=True)
    n_iter = as_int(n_iter, "n_iter", minimum=0)
    as_callable(refresh, "refresh", "a callable z -> z", arguments=1)
    as_callable(callback, "callback", "a callable (iteration, z, cost)", arguments=3)
    return lam, step, n_iter


def _check_inference(R, y, lam, Rt, step, n_iter, z0, refresh, callback):
    R = as_matrix(R, "R")
    y = as_array(y, "y", rule="must hold real numbers (integer or float)", finite=True).reshape(-1).astype(np.float64)
    if y.size != R.shape[0]:
        raise InputValueError(f"y has {y.size} entries but R has {R.shape[0]} rows: they must match")
    lam, step, n_iter = check_solver_args(lam, step, n_iter, refresh, callback)
    if Rt is not None:
        Rt = as_matrix(Rt, "Rt")
        if tuple(Rt.shape) != tuple(R.shape[::-1]):
            raise InputValueError(f"Rt has shape {Rt.shape} but R has shape {R.shape}: Rt must be {R.shape[::-1]}")
    if z0 is None:
        z = np.zeros(R.shape[1])
    else:
        z = as_array(z0, "z0", rule="must hold real numbers (integer or float)", finite=True).reshape(-1).astype(np.float64)
        if z.size != R.shape[1]:
            raise InputValueError(f"z0 has {z.size} entries but R has {R.shape[1]} columns: they must match")
    Rt = R.T.tocsr() if Rt is None and sp.issparse(R) else (R.T if Rt is None else Rt)
    if step is not None:
        return y, z, Rt, lam, None, step, n_iter
    L = lam * exact_norm(R) ** 2
    if L == 0:
        raise InputValueError(
            "R has no nonzero entry, so L = lam * ||R||^2 = 0 and the default step 1 / L is undefined: give step="
        )
    return y, z, Rt, lam, L, 1.0 / L, n_iter


def ista(
    R: Any,
    y: Any,
    lam: float = 1.0,
    *,
    Rt: Any = None,
    step: float | None = None,
    n_iter: int = 100,
    z0: Any = None,
    refresh: Callable[[np.ndarray], np.ndarray] | None = None,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
) -> InferenceResult:
    """ISTA on ``C(z) = λ/2 ‖R z − y‖² + ‖z‖₁`` (:func:`fista` adds momentum).

    Each iteration: gradient step ``z − t λ Rᵀ(R z − y)``, shrinkage by ``t``,
    then ``refresh`` if given (Zeiler's pool/unpool pass).

    Parameters
    ----------
    R : sparse array or ndarray, shape (m, n)
    y : array_like, m entries
    lam : float, optional
        ``λ``, the weight of the reconstruction term.
    Rt : sparse array or ndarray, shape (n, m), optional
        The projection ``Rᵀ`` (e.g. :meth:`~convmatrix.ZeilerStack.Rt`); default ``R.T``.
    step : float, optional
        Default ``1 / L`` with the exact ``L = λ ‖R‖²`` of
        :func:`convmatrix.matrix_spectrum` (power iteration crawls on the flat
        top spectrum of convolutions and approaches ``L`` from below, which
        would give a step over ``1 / L``).  ISTA's cost is non-increasing
        for any ``step < 2 / L``.
    n_iter : int, optional
        Iterations, at least 0 (``0`` returns the start and its cost).
    z0 : array_like, optional
        Start (default zeros).
    refresh : callable, optional
        ``z -> z`` applied after each shrinkage (breaks the monotonicity).
    callback : callable, optional
        ``callback(iteration, z, cost)`` after every iteration (1-based); return
        ``True`` to stop.  Use it for a progress bar.

    Returns
    -------
    InferenceResult

    Raises
    ------
    TypeError
        If ``R`` or ``Rt`` is not a 2-d real sparse array or ndarray, ``y`` or
        ``z0`` not real numbers, ``lam`` or ``step`` not a real number,
        ``n_iter`` not an integer, or ``refresh`` or ``callback`` not callable.
    ValueError
        If ``y``, ``Rt`` or ``z0`` does not fit ``R``, ``y`` or ``z0`` holds
        NaN or inf, ``lam`` or ``step`` is not positive and finite, ``n_iter``
        is negative, or ``R`` is zero and no ``step`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> res = ista(R, [3.0, 0.1], lam=1.0, n_iter=200)
    >>> np.round(res.z, 4), bool(np.all(np.diff(res.cost) <= 1e-12))
    (array([2., 0.]), True)
    >>> ista(R, [3.0, 0.1], "1")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: lam='1' must be a real number, not a str
    """
    return _solve(R, y, lam, Rt, step, n_iter, z0, refresh, callback, momentum=False)


def fista(
    R: Any,
    y: Any,
    lam: float = 1.0,
    *,
    Rt: Any = None,
    step: float | None = None,
    n_iter: int = 100,
    z0: Any = None,
    refresh: Callable[[np.ndarray], np.ndarray] | None = None,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
) -> InferenceResult:
    """FISTA: :func:`ista` with Beck & Teboulle's (2009) momentum; the same parameters.

    Raises
    ------
    TypeError, ValueError
        As :func:`ista`.

    Examples
    --------
    >>> import numpy as np
    >>> res = fista(np.array([[1.0, 0.0], [0.0, 2.0]]), [3.0, 0.1], n_iter=100)
    >>> np.round(res.z, 4)
    array([2., 0.])
    """
    return _solve(R, y, lam, Rt, step, n_iter, z0, refresh, callback, momentum=True)


def _solve(R, y, lam, Rt, step, n_iter, z0, refresh, callback, *, momentum: bool) -> InferenceResult:
    y, z, Rt, lam, L, t, n_iter = _check_inference(R, y, lam, Rt, step, n_iter, z0, refresh, callback)
    costs = []
    r = R @ z - y
    costs.append(float(lam / 2 * (r @ r) + np.abs(z).sum()))
    x_prev, tk, done = z.copy(), 1.0, 0
    for it in range(1, n_iter + 1):
        g = lam * (Rt @ r)
        x = _shrink(z - t * g, t)
        if refresh is not None:
            x = np.asarray(refresh(x), dtype=np.float64).reshape(-1)
            if x.size != z.size:
                raise InputValueError(f"refresh returned {x.size} entries for z of {z.size}: it must keep the size",
                                      "refresh")
        if momentum:
            t_next = (1 + sqrt(1 + 4 * tk * tk)) / 2
            z = x + ((tk - 1) / t_next) * (x - x_prev)
            tk, x_prev = t_next, x
            rx = R @ x - y
            costs.append(float(lam / 2 * (rx @ rx) + np.abs(x).sum()))
            r = R @ z - y
        else:
            z = x
            r = R @ z - y
            costs.append(float(lam / 2 * (r @ r) + np.abs(z).sum()))
        done = it
        if callback is not None and callback(it, x, costs[-1]):
            break
    out = x_prev if momentum else z
    return InferenceResult(z=out, cost=np.array(costs), step=t, lipschitz=L, n_iter=done)
