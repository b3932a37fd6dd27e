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
from .derivation import Derivation, Step, expand_sums

__all__ = ["BatchNormDerivation", "batchnorm_derivation", "batchnorm_jacobian"]


@dataclass(repr=False)
class BatchNormDerivation(Derivation):
    """A checked derivation of batch normalization's backward pass.

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
        return Symbol("epsilon", positive=True)
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
    polynomial ring, else ``cancel(together(...))``; never ``simplify``): for a
    concrete batch size at every index, in centred coordinates
    ``x_a = c_0 + c_a`` and with ``t = 1/σ_ε`` to keep expansions small; for
    general ``m`` after reducing sums by linearity
    (:func:`~convmatrix.derivation.reduce_sums`).

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
    if n == 1 and eps_ == 0:
        raise InputValueError("batch_size=1 with eps=0 divides by σ_ε = 0: one value per channel needs eps > 0")
    d = _build_derivation(n, eps_)
    if check:
        d.check()
    return d


def _build_derivation(n: int | None, eps) -> BatchNormDerivation:
    m = Symbol("m", positive=True, integer=True) if n is None else Integer(n)
    i = Symbol("i", positive=True, integer=True)
    j = Symbol("j", positive=True, integer=True)
    k = Symbol("k", positive=True, integer=True)
    l_ = Symbol("l", positive=True, integer=True)  # noqa: E741 - the index inside a sum over k

    def S(body, idx=j):
        return Sum(body, (idx, 1, m))

    x, dy = IndexedBase("x"), IndexedBase("dy")
    gamma, beta = Symbol("gamma"), Symbol("beta")
    mu, var = Symbol("mu_B"), Symbol("sigma^2_B")
    sig, rho = Symbol("sigma_epsilon", positive=True), Symbol("rho")
    xt, v, xhat, z, y = (IndexedBase(s) for s in ("xtilde", "v", "xhat", "z", "y"))

    # ------------------------------------------------------------------ the forward graph
    # name -> (node, kind, definition in node symbols; vector definitions at index i)
    graph = {
        "mu": (mu, "scal", S(x[j]) / m),
        "xt": (xt, "vec", x[i] - mu),
        "v": (v, "vec", xt[i] ** 2),
        "var": (var, "scal", S(v[j]) / m),
        "sig": (sig, "scal", sqrt(var + eps)),
        "rho": (rho, "scal", 1 / sig),
        "xhat": (xhat, "vec", xt[i] * rho),
        "z": (z, "vec", gamma * xhat[i]),
        "y": (y, "vec", z[i] + beta),
    }
    leaves = {"x": (x, "vec"), "gamma": (gamma, "scal"), "beta": (beta, "scal")}

    # what every node stands for, in base variables (x, dy, γ, β, ε, σ_ε)
    mu_v = Sum(x[k], (k, 1, m)) / m
    values: dict = {
        mu: mu_v,
        xt: lambda a: x[a] - mu_v,
        v: lambda a: (x[a] - mu_v) ** 2,
        var: sig**2 - eps,
        rho: 1 / sig,
        xhat: lambda a: (x[a] - mu_v) / sig,
        z: lambda a: gamma * (x[a] - mu_v) / sig,
        y: lambda a: gamma * (x[a] - mu_v) / sig + beta,
    }
    base = Derivation("", [], values=values)

    # ------------------------------------------------------------------ reverse accumulation
    grads: dict = {"y": dy[i]}          # in base variables; vector grads in the index i
    contrib: dict = {}
    kinds = {name: kind for name, (_, kind, _) in graph.items()} | {n_: kd for n_, (_, kd) in leaves.items()}
    nodes = {name: node for name, (node, _, _) in graph.items()} | {n_: nd for n_, (nd, _) in leaves.items()}
    order = ["y", "z", "xhat", "rho", "sig", "var", "v", "xt", "mu", "x", "gamma", "beta"]
    for name in order[1:]:
        p, pk = nodes[name], kinds[name]
        total = 0
        for cname, (_, ck, cdef) in graph.items():
            if not cdef.has(p):
                continue
            g = grads[cname]
            if ck == "vec" and pk == "vec":
                part = g * base.to_base(sympy.diff(cdef, p[i]))
            elif ck == "vec":  # scalar parent of an elementwise node: sum over its elements
                part = Sum((g * base.to_base(sympy.diff(cdef, p))).xreplace({i: j}), (j, 1, m))
            elif pk == "vec":  # element of a reduction: d/dp_i Σ_j f(p_j) = f'(p_i)
                local = cdef.replace(lambda e: isinstance(e, Sum), lambda e: e.function.xreplace({j: i}))
                part = g * base.to_base(sympy.diff(local, p[i]))
            else:
                part = g * base.to_base(sympy.diff(cdef, p))
            contrib[(cname, name)] = part
            total += part
        grads[name] = total

    # ------------------------------------------------------------------ gradient symbols
    def gsym(name, tex, txt, kind):
        s = IndexedBase(f"dL/d{name}") if kind == "vec" else Symbol(f"dL/d{name}")
        latex_names[s] = rf"\frac{{\partial L}}{{\partial {tex}}}"
        text_names[s] = f"∂L/∂{txt}"
        return s

    latex_names: dict = {
        x: "x", dy: r"\frac{\partial L}{\partial y_{@}}", xt: r"\tilde{x}", v: "v", xhat: r"\hat{x}",
        z: r"(\gamma \hat{x})", y: "y", mu: r"\mu_{B}", var: r"\sigma^{2}_{B}", sig: r"\sigma_{\epsilon}",
        rho: r"\rho", gamma: r"\gamma", beta: r"\beta",
    }
    text_names: dict = {
        x: "x", dy: "∂L/∂y_@", xt: "x̃", v: "v", xhat: "x̂", z: "(γx̂)", y: "y", mu: "μ_B", var: "σ²_B",
        sig: "σ_ε", rho: "ρ", gamma: "γ", beta: "β",
    }
    if isinstance(eps, Symbol) and eps.name == "epsilon":
        latex_names[eps], text_names[eps] = r"\epsilon", "ε"

    d_beta = gsym("beta", r"\beta", "β", "scal")
    d_gamma = gsym("gamma", r"\gamma", "γ", "scal")
    d_z = gsym("z", r"(\gamma \hat{x})_{@}", "(γx̂)_@", "vec")
    d_xhat = gsym("xhat", r"\hat{x}_{@}", "x̂_@", "vec")
    d_rho = gsym("rho", r"\rho", "ρ", "scal")
    d_sig = gsym("sig", r"\sigma_{\epsilon}", "σ_ε", "scal")
    d_var = gsym("var", r"\sigma^{2}_{B}", "σ²_B", "scal")
    d_v = gsym("v", "v_{@}", "v_@", "vec")
    d_xt = gsym("xt", r"\tilde{x}_{@}", "x̃_@", "vec")
    d_mu = gsym("mu", r"\mu_{B}", "μ_B", "scal")
    d_x = gsym("x", "x_{@}", "x_@", "vec")
    d_xt_hat = IndexedBase("dL/dxt|xhat")
    d_xt_v = IndexedBase("dL/dxt|v")
    latex_names[d_xt_hat] = r"\left.\frac{\partial L}{\partial \tilde{x}_{@}}\right|_{\hat{x}}"
    latex_names[d_xt_v] = r"\left.\frac{\partial L}{\partial \tilde{x}_{@}}\right|_{v}"
    text_names[d_xt_hat], text_names[d_xt_v] = "∂L/∂x̃_@|x̂", "∂L/∂x̃_@|v"

    def vec_value(expr):
        return lambda a: expr.xreplace({i: a})

    for s, name in ((d_beta, "beta"), (d_gamma, "gamma"), (d_rho, "rho"), (d_sig, "sig"), (d_var, "var"),
                    (d_mu, "mu")):
        values[s] = grads[name]
    for s, name in ((d_z, "z"), (d_xhat, "xhat"), (d_v, "v"), (d_xt, "xt"), (d_x, "x")):
        values[s] = vec_value(grads[name])
    values[d_xt_hat] = vec_value(contrib[("xhat", "xt")])
    values[d_xt_v] = vec_value(contrib[("v", "xt")])

    # ------------------------------------------------------------------ the steps
    D, E = "definition", "equality"
    half = Rational(1, 2)
    steps = [
        Step(mu, S(x[j]) / m, "Forward, node 1: the mini-batch mean μ_B of the m values of one channel.", D,
             name="forward_mu"),
        Step(xt[i], x[i] - mu, "Forward, node 2: centre every value.", D, i, name="forward_xtilde"),
        Step(v[i], xt[i] ** 2, "Forward, node 3: square the deviations.", D, i, name="forward_v"),
        Step(var, S(v[j]) / m, "Forward, node 4: the biased mini-batch variance σ²_B, the mean of the squares "
             "(divided by m, not m − 1).", D, name="forward_var"),
        Step(sig, sqrt(var + eps), "Forward, node 5: the standard deviation with ε added, σ_ε.", D,
             name="forward_sigma_eps"),
        Step(rho, 1 / sig, "Forward, node 6: its reciprocal ρ = 1/σ_ε.", D, name="forward_rho"),
        Step(xhat[i], xt[i] * rho, "Forward, node 7: the normalized values x̂.", D, i, name="forward_xhat"),
        Step(z[i], gamma * xhat[i], "Forward, node 8: scale by γ.", D, i, name="forward_z"),
        Step(y[i], z[i] + beta, "Forward, node 9: shift by β; y is the layer's output, and ∂L/∂y_i is given.", D, i,
             name="forward_y"),
        # backward through the staged graph, node by node in reverse
        Step(d_beta, S(dy[j]), "Backward through node 9: β reaches every y_j with derivative 1, so its gradient sums "
             "the upstream gradients.", E, name="backward_dbeta"),
        Step(d_z[i], dy[i], "Backward through node 9: γx̂_i reaches only y_i, with derivative 1.", E, i,
             name="backward_dz"),
        Step(d_gamma, S(d_z[j] * xhat[j]), "Backward through node 8: γ multiplies every x̂_j.", E,
             name="backward_dgamma"),
        Step(d_xhat[i], gamma * d_z[i], "Backward through node 8: x̂_i is multiplied by γ.", E, i,
             name="backward_dxhat"),
        Step(d_rho, S(d_xhat[j] * xt[j]), "Backward through node 7: ρ multiplies every x̃_j.", E, name="backward_drho"),
        Step(d_xt_hat[i], rho * d_xhat[i], "Backward through node 7: the first of the two paths from x̃_i, through x̂_i.",
             E, i, name="backward_dxtilde_xhat"),
        Step(d_sig, -d_rho / sig**2, "Backward through node 6: the derivative of 1/σ_ε is −1/σ_ε².", E,
             name="backward_dsigma_eps"),
        Step(d_var, d_sig / (2 * sqrt(var + eps)), "Backward through node 5: the derivative of √(σ²_B + ε) is "
             "1/(2√(σ²_B + ε)).", E, name="backward_dvar"),
        Step(d_v[i], d_var / m, "Backward through node 4: σ²_B is the mean of the v_j, so each gets 1/m of its gradient.",
             E, i, name="backward_dv"),
        Step(d_xt_v[i], 2 * xt[i] * d_v[i], "Backward through node 3: the second path from x̃_i, through v_i = x̃_i².", E, i,
             name="backward_dxtilde_v"),
        Step(d_xt[i], d_xt_hat[i] + d_xt_v[i], "Backward through node 2: the gradients of the two paths from x̃_i add.",
             E, i, name="backward_dxtilde"),
        Step(d_mu, -S(d_xt[j]), "Backward through node 2: μ_B is subtracted from every x_j.", E, name="backward_dmu"),
        Step(d_x[i], d_xt[i] + d_mu / m, "Backward through node 1: x_i reaches the loss directly through x̃_i and "
             "through the mean, with derivative 1/m.", E, i, name="backward_dx"),
        # the paper's intermediates
        Step(d_xhat[i], gamma * dy[i], "Ioffe & Szegedy: the gradient of the normalized value.", E, i,
             name="paper_dxhat"),
        Step(d_var, S(d_xhat[j] * (x[j] - mu)) * (-half) * (var + eps) ** Rational(-3, 2),
             "Ioffe & Szegedy: σ²_B reaches the loss through every x̂_j.", E, name="paper_dvar"),
        Step(d_mu, S(d_xhat[j] * (-1 / sqrt(var + eps))) + d_var * S(-2 * (x[j] - mu)) / m,
             "Ioffe & Szegedy: μ_B reaches the loss through every x̂_j and through σ²_B.", E, name="paper_dmu"),
        Step(S(x[j] - mu), Integer(0), "Why the second term of ∂L/∂μ_B vanishes: the deviations from the mean "
             "sum to zero, since m μ_B = Σ_j x_j.", E, name="deviations_sum_to_zero"),
        Step(d_mu, -S(d_xhat[j]) / sig, "So ∂L/∂μ_B keeps only its first term.", E, name="paper_dmu_first_term"),
        Step(d_x[i], d_xhat[i] / sqrt(var + eps) + d_var * 2 * (x[i] - mu) / m + d_mu / m,
             "Ioffe & Szegedy: x_i reaches the loss through x̂_i, σ²_B and μ_B.", E, i, name="paper_dx"),
        Step(d_gamma, S(dy[j] * xhat[j]), "Ioffe & Szegedy: the gradient of the scale γ.", E, name="dgamma"),
        Step(d_beta, S(dy[j]), "Ioffe & Szegedy: the gradient of the shift β.", E, name="dbeta"),
        # the closed form and its matrix form
        Step(d_x[i], gamma / (m * sig) * (m * dy[i] - S(dy[j]) - xhat[i] * S(dy[j] * xhat[j])),
             "Closed form: substitute x̂_i = (x_i − μ_B)/σ_ε and ∂L/∂x̂_i = γ ∂L/∂y_i.", E, i,
             name="closed_form"),
        Step(d_x[i], gamma / sig * S((KroneckerDelta(i, j) - 1 / m - xhat[i] * xhat[j] / m) * dy[j]),
             "Matrix form: ∂L/∂x = γ J ∂L/∂y with the symmetric Jacobian J = ∂x̂/∂x = "
             "σ_ε⁻¹(I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m).", E, i, name="matrix_form"),
    ]
    named = {s_.name: s_ for s_ in steps}

    # ------------------------------------------------------------------ explicit results
    var_explicit = Sum((x[k] - Sum(x[l_], (l_, 1, m)) / m) ** 2, (k, 1, m)) / m  # distinct nested indices
    explicit = {sig: sqrt(var_explicit + eps)}

    def expl(e):
        e = base.to_base(e).xreplace(explicit)
        return expand_sums(e) if n is not None else e

    closed = named["closed_form"].rhs
    out_y = gamma * xhat[i] + beta
    symbols = {"x": x, "dout": dy, "gamma": gamma, "beta": beta, "eps": eps, "m": m, "i": i, "j": j,
               "mu": mu, "var": var, "sigma_eps": sig, "xhat": xhat, "y": y}
    if n is None:
        gx, fy = expl(closed), expl(out_y)
    else:
        symbols["x"] = [x[a] for a in range(1, n + 1)]
        symbols["dout"] = [dy[a] for a in range(1, n + 1)]
        gx = [expl(closed.xreplace({i: Integer(a)})) for a in range(1, n + 1)]
        fy = [expl(out_y.xreplace({i: Integer(a)})) for a in range(1, n + 1)]
    gradients = {"x": gx, "gamma": expl(named["dgamma"].rhs), "beta": expl(named["dbeta"].rhs)}
    forward = {"y": fy, "mu": expl(mu), "var": expl(var_explicit)}
    # proofs in centred coordinates x_a = c_0 + c_a (a < m), x_m = c_0 - Σ_a c_a, and t = 1/σ_ε:
    # an invertible change of variables that keeps the expansions small
    t = Symbol("t", positive=True)
    change = {sig: 1 / t}
    if n is not None:
        c = IndexedBase("c")
        change.update({x[a]: c[0] + c[a] for a in range(1, n)})
        change[x[n]] = c[0] - sum((c[a] for a in range(1, n)), Integer(0))
    title = f"Batch normalization, forward and backward, m = {'m' if n is None else n}"
    return BatchNormDerivation(
        title, steps, latex_names=latex_names, text_names=text_names, values=values,
        indices={} if n is None else {i: range(1, n + 1)}, ranges={i: (Integer(1), m)}, change=change,
        symbols=symbols, gradients=gradients, forward=forward, batch_size=n,
    )


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
        xh = sympy.Matrix([Symbol(f"xhat_{a}") for a in range(1, m + 1)])
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


