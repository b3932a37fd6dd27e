"""Batch normalization derived symbolically with SymPy: forward graph, backward pass, Jacobian.

* :func:`batchnorm_derivation` — the forward graph and its backward pass, step by
  step, as a checked :class:`~convmatrix.derivation.Derivation`: the staged
  9-node graph, the paper's ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ (Ioffe & Szegedy, 2015), and the
  closed form ``∂L/∂x_i = γ/(m σ_ε) [m dy_i − Σ_j dy_j − x̂_i Σ_j dy_j x̂_j]``; for a
  concrete batch size or for general ``m`` (Indexed symbols, ``Sum``).
* :func:`batchnorm_jacobian` — ``J = ∂x̂/∂x = σ_ε⁻¹ (I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m)``, so
  that ``∂L/∂x = γ J ∂L/∂y`` (``J`` is symmetric); symbolic or numeric.

The numeric layer is :mod:`convmatrix.batchnorm`.
One value per channel
---------------------
With ``m = 1`` (one sample and no spatial extent) a training-mode batch norm
has ``x̂ = 0``, ``y = β`` and ``∂L/∂x = 0`` whatever the input, and the
unbiased running variance ``m/(m − 1)`` is undefined.  torch refuses it
("Expected more than 1 value per channel when training"); so do the numerics
here, with a ``ValueError``.  The symbolic derivation accepts
``batch_size=1`` (with ε > 0): every step still holds and it shows exactly that
degenerate result; ``batch_size=1`` with ``eps=0`` is refused (σ_ε = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from sympy import IndexedBase, Integer, KroneckerDelta, Rational, Sum, Symbol, sqrt

from ._validation import InputTypeError, InputValueError, as_array, as_bool, as_real, is_integer
from .backprop import Backpropagation, ComputationalGraph, GraphNode, backpropagate, derivation_fields
from .derivation import NamedIndexedBase, NamedSymbol, Step, expand_sums

__all__ = ["BatchNormDerivation", "batchnorm_derivation", "batchnorm_jacobian"]


@dataclass(repr=False)
class BatchNormDerivation(Backpropagation):
    """A checked derivation of batch normalization's backward pass, written from its graph (:mod:`convmatrix.backprop`).

    Attributes
    ----------
    symbols : dict
        ``"x"``, ``"dout"`` (the inputs and upstream gradients ∂L/∂y: lists of
        ``m`` Indexed symbols for a concrete batch size, IndexedBases for
        general ``m``), ``"gamma"``, ``"beta"``, ``"eps"``, ``"m"``, ``"i"``,
        ``"j"``, and the graph's nodes ``"mu"``, ``"var"``, ``"sigma_eps"``,
        ``"xhat"``, ``"y"``.
    gradients : dict
        ``"x"`` (a list of ``m`` expressions ∂L/∂x_i, or one in the index ``i``
        for general ``m``), ``"gamma"``, ``"beta"``: explicit in ``x``, ``dout``,
        γ and ε (σ_ε written out as ``sqrt(σ² + ε)``).
    forward : dict
        ``"y"`` (list or expression in ``i``), ``"mu"``, ``"var"``, explicit.

    Examples
    --------
    >>> d = batchnorm_derivation(2)
    >>> d, d.step("dbeta").rhs
    (BatchNormDerivation(batch_size=2, 32 steps, checked), Sum(dy[j], (j, 1, 2)))
    """

    symbols: dict = field(default_factory=dict)
    gradients: dict = field(default_factory=dict)
    forward: dict = field(default_factory=dict)
    batch_size: Any = None

    def __repr__(self) -> str:
        n = "m" if self.batch_size is None else self.batch_size
        state = "checked" if self.checked else "not checked"
        return f"BatchNormDerivation(batch_size={n}, {len(self.steps)} steps, {state})"


#: Largest concrete batch size derived (every step is proved and checked at every index, which grows
#: with the batch size); beyond it, ``batch_size=None`` derives the same results for general ``m``.
MAX_BATCH_SIZE = 128


def _check_batch_size(batch_size) -> int | None:
    if batch_size is None:
        return None
    if not is_integer(batch_size):
        raise InputTypeError(f"batch_size={batch_size!r} must be a positive int or None (general m)", "batch_size")
    if batch_size < 1:
        raise InputValueError(f"batch_size={batch_size} must be positive (at least 1)", "batch_size")
    if batch_size > MAX_BATCH_SIZE:
        raise InputValueError(
            f"batch_size={batch_size} is more than {MAX_BATCH_SIZE} values, too many to prove step by step at every "
            f"index: use batch_size=None, which derives the same results for general m", "batch_size")
    return int(batch_size)


def _check_eps(eps):
    if eps is None:
        return NamedSymbol("epsilon", r"\epsilon", "ε", positive=True)
    if isinstance(eps, bool):
        raise InputTypeError(f"eps={eps!r} must be a non-negative number or None (the symbol ε)")
    if isinstance(eps, float):  # exact decimal, so that proofs stay exact: 1e-05 -> 1/100000
        if not np.isfinite(eps):
            raise InputValueError(f"eps={eps} must be a finite non-negative number")
        eps = Rational(repr(float(eps)))
    try:
        value = sympy.sympify(eps, strict=True) if not isinstance(eps, sympy.Basic) else eps
    except (sympy.SympifyError, TypeError):
        raise InputTypeError(f"eps={eps!r} must be a non-negative number or None (the symbol ε)") from None
    if isinstance(value, sympy.Basic) and not isinstance(value, sympy.Expr):
        raise InputTypeError(f"eps={eps!r} must be a non-negative number, a SymPy expression or None (the symbol ε)",
                             "eps")
    if isinstance(value, sympy.Basic) and value.free_symbols:
        return value  # a user symbol: trusted to be non-negative
    if not (isinstance(value, sympy.Basic) and value.is_real and value.is_number):
        raise InputTypeError(f"eps={eps!r} must be a non-negative real number or None (the symbol ε)")
    if value < 0:
        raise InputValueError(f"eps={eps} must be non-negative")
    return value


def batchnorm_derivation(batch_size: int | None = 4, *, eps: Any = None, check: bool = True) -> BatchNormDerivation:
    """Batch normalization's forward graph and backward pass, step by step, proved by SymPy.

    Parameters
    ----------
    batch_size : int or None, optional
        The number ``m`` of values per channel (4 by default).  ``None`` derives
        for general ``m``, with Indexed symbols and ``Sum``.
    eps : number, sympy expression or None, optional
        ε ≥ 0; ``None`` (default) keeps the positive symbol ε.  A float is
        read as the exact decimal it prints as (``1e-05`` -> ``1/100000``).
    check : bool, optional
        Prove every equality step before returning (default); see
        :meth:`Derivation.check`.

    Returns
    -------
    BatchNormDerivation
        ``.steps`` (forward graph, backward through the 9-node graph, the
        paper's intermediates, the closed form and its matrix form), each
        with a stable name for ``.step(name)`` (``"forward_mu"`` …
        ``"forward_y"``, ``"backward_dbeta"`` … ``"backward_dx"``,
        ``"paper_dxhat"``, ``"paper_dvar"``, ``"paper_dmu"``,
        ``"deviations_sum_to_zero"``, ``"paper_dmu_first_term"``,
        ``"paper_dx"``, ``"dgamma"``, ``"dbeta"``, ``"closed_form"``,
        ``"matrix_form"``), ``.symbols``, ``.gradients``, ``.latex()``,
        ``.text()``.

    Raises
    ------
    TypeError
        ``batch_size`` not an int or None; ``eps`` not a number.
    ValueError
        ``batch_size < 1``, ``eps < 0``, or ``batch_size=1`` with ``eps=0``.
    DerivationError
        If a step fails its proof (a bug).

    Notes
    -----
    Proofs write every symbol in base variables — the inputs ``x_j``, the
    upstream gradients ``∂L/∂y_j``, γ, ε and σ_ε (a positive atom, with
    ``σ²_B = σ_ε² − ε``) — where every gradient symbol stands for the value
    computed by reverse accumulation over the forward graph (local derivatives
    by ``sympy.diff``), and reduce ``lhs − rhs`` to zero exactly (expansion in a
    polynomial ring, else ``cancel(together(...))``; never ``simplify``), with
    ``t = 1/σ_ε`` to keep expansions small, after reducing sums by linearity
    (:func:`~convmatrix.derivation.reduce_sums`): for general ``m``, and for a
    concrete batch size at every index at once (the index kept a symbol);
    what does not vanish so would be proved index by index with the sums
    written out, in centred coordinates ``x_a = c_0 + c_a``.

    Examples
    --------
    >>> d = batchnorm_derivation(batch_size=2)
    >>> d
    BatchNormDerivation(batch_size=2, 32 steps, checked)
    >>> print(d.text_of(d.step("closed_form").rhs))
    γ*(2*∂L/∂y_i - x̂_i*Σ_{j=1..2} ∂L/∂y_j*x̂_j - Σ_{j=1..2} ∂L/∂y_j)/(2*σ_ε)

    The gradient is explicit in the inputs: for two values it is zero when
    the upstream gradients are equal.

    >>> x, dy = d.symbols["x"], d.symbols["dout"]
    >>> g = d.gradients["x"][0].subs({x[0]: 1, x[1]: 3, dy[0]: 5, dy[1]: 5})
    >>> sympy.simplify(g)
    0
    """
    n = _check_batch_size(batch_size)
    eps_ = _check_eps(eps)
    check = as_bool(check, "check")
    if n == 1 and eps_ == 0:
        raise InputValueError("batch_size=1 with eps=0 divides by σ_ε = 0: one value per channel needs eps > 0")
    d = _build_derivation(n, eps_)
    if check:
        d.check()
    return d


def _graph(n: int | None, eps) -> ComputationalGraph:
    """Batch normalization's forward graph in nine nodes (Kratzert's staging), as a table."""
    m = Symbol("m", positive=True, integer=True) if n is None else Integer(n)
    i = Symbol("i", positive=True, integer=True)
    j = Symbol("j", positive=True, integer=True)
    x = NamedIndexedBase("x", "x", "x")
    dy = NamedIndexedBase("dy", r"\frac{\partial L}{\partial y_{@}}", "∂L/∂y_@")
    gamma, beta = NamedSymbol("gamma", r"\gamma", "γ"), NamedSymbol("beta", r"\beta", "β")
    mu, var = NamedSymbol("mu_B", r"\mu_{B}", "μ_B"), NamedSymbol("sigma^2_B", r"\sigma^{2}_{B}", "σ²_B")
    sig = NamedSymbol("sigma_epsilon", r"\sigma_{\epsilon}", "σ_ε", positive=True)
    rho = NamedSymbol("rho", r"\rho", "ρ")
    xt, v = NamedIndexedBase("xtilde", r"\tilde{x}", "x̃"), NamedIndexedBase("v", "v", "v")
    xhat, z = NamedIndexedBase("xhat", r"\hat{x}", "x̂"), NamedIndexedBase("z", r"(\gamma \hat{x})", "(γx̂)")
    y = NamedIndexedBase("y", "y", "y")

    def S(body):
        return Sum(body, (j, 1, m))

    nodes = [
        GraphNode("x", x),
        GraphNode("gamma", gamma),
        GraphNode("beta", beta),
        GraphNode("mu", mu, S(x[j]) / m, "Forward, node 1: the mini-batch mean μ_B of the m values of one channel.",
                  {"x": None}),
        GraphNode("xtilde", xt, x[i] - mu, "Forward, node 2: centre every value.",
                  {"mu": "Backward through node 2: μ_B is subtracted from every x_j.", "x": None},
                  gradient="Backward through node 2: the gradients of the two paths from x̃_i add.", by_paths=True),
        GraphNode("v", v, xt[i] ** 2, "Forward, node 3: square the deviations.",
                  {"xtilde": "Backward through node 3: the second path from x̃_i, through v_i = x̃_i²."}),
        GraphNode("var", var, S(v[j]) / m, "Forward, node 4: the biased mini-batch variance σ²_B, the mean of the "
                  "squares (divided by m, not m − 1).",
                  {"v": "Backward through node 4: σ²_B is the mean of the v_j, so each gets 1/m of its gradient."},
                  value=sig**2 - eps),
        GraphNode("sigma_eps", sig, sqrt(var + eps), "Forward, node 5: the standard deviation with ε added, σ_ε.",
                  {"var": "Backward through node 5: the derivative of √(σ²_B + ε) is 1/(2√(σ²_B + ε))."}, atom=True),
        GraphNode("rho", rho, 1 / sig, "Forward, node 6: its reciprocal ρ = 1/σ_ε.",
                  {"sigma_eps": "Backward through node 6: the derivative of 1/σ_ε is −1/σ_ε²."}),
        GraphNode("xhat", xhat, xt[i] * rho, "Forward, node 7: the normalized values x̂.",
                  {"rho": "Backward through node 7: ρ multiplies every x̃_j.",
                   "xtilde": "Backward through node 7: the first of the two paths from x̃_i, through x̂_i."}),
        GraphNode("z", z, gamma * xhat[i], "Forward, node 8: scale by γ.",
                  {"gamma": "Backward through node 8: γ multiplies every x̂_j.",
                   "xhat": "Backward through node 8: x̂_i is multiplied by γ."}),
        GraphNode("y", y, z[i] + beta, "Forward, node 9: shift by β; y is the layer's output, and ∂L/∂y_i is given.",
                  {"beta": "Backward through node 9: β reaches every y_j with derivative 1, so its gradient sums "
                           "the upstream gradients.",
                   "z": "Backward through node 9: γx̂_i reaches only y_i, with derivative 1."}),
    ]
    nodes[0] = GraphNode("x", x, gradient="Backward through node 1: x_i reaches the loss directly through x̃_i and "
                         "through the mean, with derivative 1/m.")
    # proofs in centred coordinates x_a = c_0 + c_a (a < m), x_m = c_0 - Σ_a c_a, and t = 1/σ_ε:
    # an invertible change of variables that keeps the expansions small
    t = Symbol("t", positive=True)
    change = {sig: 1 / t}
    if n is not None:
        c = IndexedBase("c")
        change.update({x[a]: c[0] + c[a] for a in range(1, n)})
        change[x[n]] = c[0] - sum((c[a] for a in range(1, n)), Integer(0))
    title = f"Batch normalization, forward and backward, {'general m' if n is None else f'm = {n}'}"
    return ComputationalGraph(title, nodes, output="y", index=i, dummy=j, size=m, upstream=dy, change=change)


def _claims(graph: ComputationalGraph, eps) -> list:
    """What batch normalization adds to its backward pass: the paper's intermediates, the closed form, the matrix form."""
    i, j, m = graph.index, graph.dummy, graph.size
    S = graph.sum
    sym = {n.name: n.symbol for n in graph.nodes}
    x, gamma, mu, var, sig, xhat = (sym[k] for k in ("x", "gamma", "mu", "var", "sigma_eps", "xhat"))
    dy = graph.upstream
    d = {k: graph.gradient(k) for k in ("xhat", "var", "mu", "x", "gamma", "beta")}
    half, E = Rational(1, 2), "equality"
    return [
        Step(d["xhat"][i], gamma * dy[i], "Ioffe & Szegedy: the gradient of the normalized value.", E, i,
             name="paper_dxhat"),
        Step(d["var"], S(d["xhat"][j] * (x[j] - mu)) * (-half) * (var + eps) ** Rational(-3, 2),
             "Ioffe & Szegedy: σ²_B reaches the loss through every x̂_j.", E, name="paper_dvar"),
        Step(d["mu"], S(d["xhat"][j] * (-1 / sqrt(var + eps))) + d["var"] * S(-2 * (x[j] - mu)) / m,
             "Ioffe & Szegedy: μ_B reaches the loss through every x̂_j and through σ²_B.", E, name="paper_dmu"),
        Step(Sum(x[j] - mu, (j, 1, m)), Integer(0), "Why the second term of ∂L/∂μ_B vanishes: the deviations from "
             "the mean sum to zero, since m μ_B = Σ_j x_j.", E, name="deviations_sum_to_zero"),
        Step(d["mu"], -S(d["xhat"][j]) / sig, "So ∂L/∂μ_B keeps only its first term.", E,
             name="paper_dmu_first_term"),
        Step(d["x"][i], d["xhat"][i] / sqrt(var + eps) + d["var"] * 2 * (x[i] - mu) / m + d["mu"] / m,
             "Ioffe & Szegedy: x_i reaches the loss through x̂_i, σ²_B and μ_B.", E, i, name="paper_dx"),
        Step(d["gamma"], S(dy[j] * xhat[j]), "Ioffe & Szegedy: the gradient of the scale γ.", E, name="dgamma"),
        Step(d["beta"], S(dy[j]), "Ioffe & Szegedy: the gradient of the shift β.", E, name="dbeta"),
        Step(d["x"][i], gamma / (m * sig) * (m * dy[i] - S(dy[j]) - xhat[i] * S(dy[j] * xhat[j])),
             "Closed form: substitute x̂_i = (x_i − μ_B)/σ_ε and ∂L/∂x̂_i = γ ∂L/∂y_i.", E, i, name="closed_form"),
        Step(d["x"][i], gamma / sig * Sum((KroneckerDelta(i, j) - 1 / m - xhat[i] * xhat[j] / m) * dy[j], (j, 1, m)),
             "Matrix form: ∂L/∂x = γ J ∂L/∂y with the symmetric Jacobian J = ∂x̂/∂x = "
             "σ_ε⁻¹(I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m).", E, i, name="matrix_form"),
    ]


#: Headings of the printed derivation, by the step they stand before.
SECTIONS = {
    "forward_mu": "Forward graph",
    "backward_dbeta": "Backward pass, node by node",
    "paper_dxhat": "The paper's intermediates",
    "closed_form": "Closed form and matrix form",
}


def _build_derivation(n: int | None, eps) -> BatchNormDerivation:
    graph = _graph(n, eps)
    d = backpropagate(graph, _claims(graph, eps), sections=SECTIONS, results=("closed_form",))
    i = graph.index
    sym = {node.name: node.symbol for node in graph.nodes}

    def expl(*exprs):
        """Every expression written out; for a concrete size, all in one pass, so that shared sums expand once."""
        out = [d.explicit(e) for e in exprs]
        return expand_sums(sympy.Tuple(*out)).args if n is not None else out

    closed = d.step("closed_form").rhs
    out_y = sym["gamma"] * sym["xhat"][i] + sym["beta"]
    symbols = {"x": sym["x"], "dout": graph.upstream, "gamma": sym["gamma"], "beta": sym["beta"], "eps": eps,
               "m": graph.size, "i": i, "j": graph.dummy, "mu": sym["mu"], "var": sym["var"],
               "sigma_eps": sym["sigma_eps"], "xhat": sym["xhat"], "y": sym["y"]}
    rest = (d.step("dgamma").rhs, d.step("dbeta").rhs, sym["mu"], sym["var"])
    if n is None:
        gx, fy, *rest = expl(closed, out_y, *rest)
    else:
        symbols["x"] = [sym["x"][a] for a in range(1, n + 1)]
        symbols["dout"] = [graph.upstream[a] for a in range(1, n + 1)]
        values = [closed.xreplace({i: Integer(a)}) for a in range(1, n + 1)]
        values += [out_y.xreplace({i: Integer(a)}) for a in range(1, n + 1)]
        *written, dgamma, dbeta, mu, var = expl(*values, *rest)
        gx, fy, rest = list(written[:n]), list(written[n:]), [dgamma, dbeta, mu, var]
    gradients = {"x": gx, "gamma": rest[0], "beta": rest[1]}
    forward = {"y": fy, "mu": rest[2], "var": rest[3]}
    return BatchNormDerivation(**derivation_fields(d), symbols=symbols, gradients=gradients, forward=forward,
                               batch_size=n)


# =========================================================================== Jacobian
def batchnorm_jacobian(x: Any, *, eps: Any = 1e-5) -> Any:
    """The Jacobian ``J = ∂x̂/∂x = σ_ε⁻¹ (I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m)`` of normalization over ``m`` values.

    ``∂L/∂x = γ J ∂L/∂y`` for one channel in training mode.  ``J`` is symmetric,
    ``J 𝟙 = 0`` (a shift of the inputs changes nothing) and
    ``J x̂ = ε/σ_ε³ · x̂`` (a scaling changes nothing when ε = 0).

    Parameters
    ----------
    x : int or array_like, shape (m,)
        An int ``m`` gives the symbolic matrix in the symbols ``x̂_1 … x̂_m`` and
        σ_ε (``xhat_1``, ``sigma_epsilon``); numbers give the numeric matrix at
        those ``m`` values of one channel.
    eps : float, optional
        ε ≥ 0 for the numeric matrix (torch's default ``1e-5``); unused for the
        symbolic one.

    Returns
    -------
    J : (m, m) sympy.Matrix or ndarray

    Raises
    ------
    TypeError
        ``x`` neither an int nor a 1-d array of real numbers.
    ValueError
        ``m < 1``, ``eps < 0``, or ``eps = 0`` with all values equal (σ_ε = 0).

    Notes
    -----
    ``J[i, j] = (δ_ij − 1/m − x̂_i x̂_j / m) / σ_ε``.  With one value (``m = 1``)
    ``x̂ = 0`` and ``J = [[0]]``.

    Examples
    --------
    >>> batchnorm_jacobian(2)
    Matrix([
    [     (1 - xhat_1**2)/(2*sigma_epsilon), -(xhat_1*xhat_2 + 1)/(2*sigma_epsilon)],
    [-(xhat_1*xhat_2 + 1)/(2*sigma_epsilon),      (1 - xhat_2**2)/(2*sigma_epsilon)]])
    >>> J = batchnorm_jacobian([1.0, 2.0, 4.0], eps=0.0)
    >>> bool(np.allclose(J @ np.ones(3), 0)), bool(np.allclose(J, J.T))
    (True, True)
    """
    if is_integer(x):
        m = int(x)
        if m > MAX_BATCH_SIZE:
            raise InputValueError(f"x={m} values give a symbolic {m} x {m} matrix: at most {MAX_BATCH_SIZE} "
                                  "(pass the values themselves for a numeric Jacobian)", "x")
        if m < 1:
            raise InputValueError(f"x={m} (the number of values m) must be positive")
        xh = sympy.Matrix([Symbol(f"xhat_{a}") for a in range(1, m + 1)])  # LaTeX reads them \hat{x}_{a}, \sigma_{\epsilon}
        sig = Symbol("sigma_epsilon", positive=True)
        return ((sympy.eye(m) - sympy.ones(m, m) / m - xh * xh.T / m) / sig).applyfunc(sympy.factor_terms)
    arr = as_array(x, "x", rule="must be an int m or a 1-d array of real numbers")
    if arr.ndim != 1:
        raise InputTypeError(f"x must be an int m or a 1-d array of real numbers: got dtype {arr.dtype}, "
                        f"shape {arr.shape}")
    if arr.size < 1:
        raise InputValueError("x must hold at least one value")
    eps = as_real(eps, "eps")
    arr = arr.astype(np.float64)
    m = arr.size
    var = arr.var()
    if var + eps <= 0:
        raise InputValueError(f"eps={eps} with {m} equal values gives σ_ε = 0: the Jacobian is undefined")
    sig = np.sqrt(var + eps)
    xh = (arr - arr.mean()) / sig
    return (np.eye(m) - 1.0 / m - np.outer(xh, xh) / m) / sig


