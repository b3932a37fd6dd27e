"""Batch normalization: derived symbolically with SymPy, as matrices, and as torch computes it.

Three views of one layer (Ioffe & Szegedy, 2015):

* :func:`batchnorm_derivation` — the forward graph and its backward pass, step by
  step, as a checked :class:`~convmatrix.derivation.Derivation`: the staged
  9-node graph, the paper's ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ, and the closed form
  ``∂L/∂x_i = γ/(m σ_ε) [m dy_i − Σ_j dy_j − x̂_i Σ_j dy_j x̂_j]``; for a
  concrete batch size or for general ``m`` (Indexed symbols, ``Sum``).
* :func:`batchnorm_jacobian` — ``J = ∂x̂/∂x = σ_ε⁻¹ (I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m)``, so
  that ``∂L/∂x = γ J ∂L/∂y`` (``J`` is symmetric); symbolic or numeric.
* :class:`BatchNorm`, :func:`batchnorm_forward`, :func:`batchnorm_backward` — NumPy
  numerics faithful to ``torch.nn.BatchNorm{1,2,3}d``; eval mode as a diagonal
  affine matrix (:func:`batchnorm_eval_matrix`) and folded into a preceding
  convolution (:func:`fold_conv_batchnorm`).

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

import numbers
import reprlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import sympy
from sympy import IndexedBase, Integer, KroneckerDelta, Rational, Sum, Symbol, sqrt

from .derivation import Derivation, Step, expand_sums
from .geometry import _as_bool, _as_real, _is_sequence, _ndim_of, normalize_tuple
from .matrices import _check_format, _detached, _finish, _guard_nnz

__all__ = [
    "BatchNormDerivation",
    "batchnorm_derivation",
    "batchnorm_jacobian",
    "BatchNorm",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_eval_matrix",
    "fold_conv_batchnorm",
    "reference_batchnorm_forward",
    "reference_batchnorm_backward",
]


# =========================================================================== symbolic
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


def _check_batch_size(batch_size) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size={batch_size!r} must be a positive int or None (general m)")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be positive (at least 1)")
    return int(batch_size)


def _check_eps(eps):
    if eps is None:
        return Symbol("epsilon", positive=True)
    if isinstance(eps, bool):
        raise TypeError(f"eps={eps!r} must be a non-negative number or None (the symbol ε)")
    if isinstance(eps, float):  # exact decimal, so that proofs stay exact: 1e-05 -> 1/100000
        if not np.isfinite(eps):
            raise ValueError(f"eps={eps} must be a finite non-negative number")
        eps = Rational(repr(float(eps)))
    try:
        value = sympy.sympify(eps, strict=True) if not isinstance(eps, sympy.Basic) else eps
    except (sympy.SympifyError, TypeError):
        raise TypeError(f"eps={eps!r} must be a non-negative number or None (the symbol ε)") from None
    if isinstance(value, sympy.Basic) and value.free_symbols:
        return value  # a user symbol: trusted to be non-negative
    if not (isinstance(value, sympy.Basic) and value.is_real and value.is_number):
        raise TypeError(f"eps={eps!r} must be a non-negative real number or None (the symbol ε)")
    if value < 0:
        raise ValueError(f"eps={eps} must be non-negative")
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
        raise ValueError("batch_size=1 with eps=0 divides by σ_ε = 0: one value per channel needs eps > 0")
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
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        m = int(x)
        if m < 1:
            raise ValueError(f"x={m} (the number of values m) must be positive")
        xh = sympy.Matrix([Symbol(f"xhat_{a}") for a in range(1, m + 1)])
        sig = Symbol("sigma_epsilon", positive=True)
        return ((sympy.eye(m) - sympy.ones(m, m) / m - xh * xh.T / m) / sig).applyfunc(sympy.factor_terms)
    arr = _to_numpy(x, "x", "an int m or a 1-d array of real numbers")
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise TypeError(f"x must be an int m or a 1-d array of real numbers: got dtype {arr.dtype}, "
                        f"shape {arr.shape}")
    if arr.size < 1:
        raise ValueError("x must hold at least one value")
    eps = _as_real(eps, "eps")
    arr = arr.astype(np.float64)
    m = arr.size
    var = arr.var()
    if var + eps <= 0:
        raise ValueError(f"eps={eps} with {m} equal values gives σ_ε = 0: the Jacobian is undefined")
    sig = np.sqrt(var + eps)
    xh = (arr - arr.mean()) / sig
    return (np.eye(m) - 1.0 / m - np.outer(xh, xh) / m) / sig


# =========================================================================== numerics (torch)
def _to_numpy(a, name: str, rule: str) -> np.ndarray:
    """``a`` as an ndarray, refused with a message naming ``name`` if NumPy cannot convert it.

    A torch tensor (or ``nn.Parameter``) is read through ``.detach()`` (and
    ``.cpu()``): its values, not its autograd graph.
    """
    a = _detached(a)
    try:
        return np.asarray(a)
    except (ValueError, TypeError, RuntimeError):  # ragged nesting, unconvertible objects
        raise TypeError(f"{name} must be {rule}: got {type(a).__name__} {reprlib.repr(a)}, which is not "
                        "a rectangular array of numbers") from None


def _real_array(a, name: str, shape: str) -> np.ndarray:
    """``a`` as a float64 array of real numbers (``shape`` for the messages)."""
    arr = _to_numpy(a, name, f"an array of real numbers, shape {shape}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, shape {shape}: got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _channel_array(a, name: str, c: int | None):
    """One value per channel: shape ``(c,)``, or ``(C,)`` with ``C >= 1`` when ``c`` is None."""
    if a is None:
        return None
    want = "(C,)" if c is None else f"({c},)"
    arr = _real_array(a, name, want)
    if arr.ndim != 1 or (c is not None and arr.shape[0] != c):
        got = f"{arr.shape[0]} values" if arr.ndim == 1 else f"shape {arr.shape}"
        raise ValueError(f"{name} must have shape {want}, one value per channel: got {got}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one value (one per channel): got shape (0,)")
    return arr


def _check_running_var(rv: np.ndarray, eps: float | None, name: str = "running_var") -> None:
    """A running variance is non-negative; where it normalizes (``eps`` given), ``rv + eps > 0`` (σ_ε > 0)."""
    bad = np.flatnonzero(rv < 0)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{name} must be non-negative (it is a variance): {name}[{k}]={rv[k]}"
                         + (f" and {bad.size - 1} more negative" if bad.size > 1 else ""))
    if eps is None:
        return
    bad = np.flatnonzero(rv + eps <= 0)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{name} + eps must be positive: {name}[{k}]={rv[k]} with eps={eps} gives σ_ε = 0 "
                         "(pass eps > 0)")


def _check_input(x) -> np.ndarray:
    arr = _to_numpy(x, "x", "an array of real numbers, shape (N, C, *spatial)")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"x must be real numbers: got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"x must have shape (N, C, *spatial) with at least 2 axes: got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or 0 in arr.shape[2:]:
        raise ValueError(f"x={arr.shape} must not be empty")
    return arr.astype(np.float64)


_CACHE_KEYS = ("xhat", "invstd", "weight", "batch_stats", "mean", "var", "m")


def _check_cache(cache) -> dict:
    if not isinstance(cache, dict):
        raise TypeError(f"cache must be the dict returned by batchnorm_forward: got {type(cache).__name__}")
    missing = [k for k in _CACHE_KEYS if k not in cache]
    if missing:
        raise ValueError(f"cache must be the dict returned by batchnorm_forward: it lacks {', '.join(missing)}")
    return cache


def _axes(x: np.ndarray) -> tuple:
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward(x: Any, weight: Any = None, bias: Any = None, *, running_mean: Any = None,
                      running_var: Any = None, training: bool = True, eps: float = 1e-5) -> tuple:
    """Batch normalization of ``x`` of shape ``(N, C, *spatial)``, as ``torch.nn.functional.batch_norm``.

    Statistics are per channel over every axis but ``C`` (``m = N · H · W ...``
    values).  In training (or without running statistics) the batch mean and the
    *biased* batch variance normalize; otherwise the running statistics do.
    Running statistics are not updated here (see :class:`BatchNorm`).

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial)
    weight, bias : array_like, shape (C,), optional
        γ and β (``None``: 1 and 0).
    running_mean, running_var : array_like, shape (C,), optional
        Used when ``training`` is false; both or neither.
    training : bool, optional
    eps : float, optional

    Returns
    -------
    y : ndarray, shape of x
    cache : dict
        What :func:`batchnorm_backward` needs: ``xhat``, ``invstd``, ``weight``,
        ``batch_stats`` (whether the batch statistics were used), ``mean``,
        ``var`` (the biased batch variance, or the running one), ``m``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes or dtypes; ``eps < 0``; a negative ``running_var``, or
        ``running_var + eps <= 0`` where it is used; with batch statistics, as
        torch, ``eps <= 0`` and a single value per channel ("Expected more than
        1 value per channel when training").

    Examples
    --------
    >>> x = np.array([[1.0], [3.0]])
    >>> y, cache = batchnorm_forward(x, eps=3.0)
    >>> y.ravel().tolist(), cache["var"].tolist()
    ([-0.5, 0.5], [1.0])
    """
    x = _check_input(x)
    c = x.shape[1]
    weight, bias = _channel_array(weight, "weight", c), _channel_array(bias, "bias", c)
    running_mean = _channel_array(running_mean, "running_mean", c)
    running_var = _channel_array(running_var, "running_var", c)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must be given together (both or neither)")
    eps = _as_real(eps, "eps")
    batch_stats = _as_bool(training, "training") or running_mean is None
    if running_var is not None:
        _check_running_var(running_var, None if batch_stats else eps)
    m = x.size // c
    if batch_stats:
        if m == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}: "
                             "batch statistics of one value normalize it to 0 (y = β, ∂L/∂x = 0)")
        if eps <= 0:
            raise ValueError(f"eps={eps} must be positive with batch statistics (training), as torch's "
                             "batch_norm requires")
        mean, var = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
    else:
        mean, var = running_mean, running_var
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = xhat
    if weight is not None:
        y = y * _per_channel(weight, x.ndim)
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)
    cache = {"xhat": xhat, "invstd": invstd, "weight": weight, "batch_stats": batch_stats,
             "mean": mean, "var": var, "m": m}
    return y, cache


def batchnorm_backward(dout: Any, cache: dict) -> tuple:
    """Gradients of :func:`batchnorm_forward`: ``(dx, dweight, dbias)``, as torch's autograd.

    With batch statistics, per channel, ``dx = γ/(m σ_ε) (m dy − Σ dy − x̂ Σ dy x̂)``
    (the closed form of :func:`batchnorm_derivation`); with running statistics
    the layer is affine and ``dx = γ dy / σ_ε``.  ``dweight = Σ dy x̂``,
    ``dbias = Σ dy`` over all axes but ``C`` (returned even without weight/bias).

    Parameters
    ----------
    dout : array_like, shape of the forward input
    cache : dict
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray
    dweight, dbias : ndarray, shape (C,)

    Raises
    ------
    TypeError, ValueError
        ``dout`` not real numbers or of another shape than the forward input;
        ``cache`` not from :func:`batchnorm_forward`.

    Examples
    --------
    >>> x = np.array([[1.0], [3.0]])
    >>> y, cache = batchnorm_forward(x, eps=3.0)
    >>> dx, dw, db = batchnorm_backward(np.array([[5.0], [5.0]]), cache)
    >>> dx.ravel().tolist(), dw.tolist(), db.tolist()
    ([0.0, 0.0], [0.0], [10.0])
    """
    xhat = _check_cache(cache)["xhat"]
    dy = _real_array(dout, "dout", f"{xhat.shape} (the forward input's)")
    if dy.shape != xhat.shape:
        raise ValueError(f"dout has shape {dy.shape} but the forward input had shape {xhat.shape}: they must match")
    nd, axes = xhat.ndim, _axes(xhat)
    g = cache["weight"] if cache["weight"] is not None else np.ones(xhat.shape[1])
    scale = _per_channel(g * cache["invstd"], nd)
    dbias = dy.sum(axis=axes)
    dweight = (dy * xhat).sum(axis=axes)
    if cache["batch_stats"]:
        m = cache["m"]
        dx = scale / m * (m * dy - _per_channel(dbias, nd) - xhat * _per_channel(dweight, nd))
    else:
        dx = scale * dy
    return dx, dweight, dbias


class BatchNorm:
    """``torch.nn.BatchNorm{1,2,3}d`` in NumPy (float64): training/eval, running statistics, backward.

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float, optional
    momentum : float or None, optional
        Running statistics follow ``r ← (1 − momentum) r + momentum · batch``;
        ``None`` is the cumulative average ``1/num_batches_tracked``.
    affine : bool, optional
        Learnable ``weight`` (γ, ones) and ``bias`` (β, zeros).
    track_running_stats : bool, optional
        Keep ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked``; without them eval mode uses batch statistics too.

    Raises
    ------
    TypeError, ValueError
        ``num_features`` not a positive int, ``eps < 0``, ``momentum`` outside
        ``[0, 1]``, ``affine`` or ``track_running_stats`` not a bool; in
        :meth:`forward`, as :func:`batchnorm_forward` and a channel count other
        than ``num_features``.

    Notes
    -----
    As torch: normalization uses the biased batch variance (divided by ``m``),
    the running variance is updated with the unbiased one (``m/(m − 1)``), and
    with batch statistics a single value per channel and ``eps <= 0`` are
    refused (eval mode with running statistics accepts both).  A refused call
    changes nothing here; torch 2.13 has already incremented
    ``num_batches_tracked`` when it refuses (not reproduced).  Any number of
    spatial axes (``(N, C)`` and ``(N, C, L)`` as BatchNorm1d, ``(N, C, H, W)``
    as BatchNorm2d, ...).

    Examples
    --------
    >>> bn = BatchNorm(1, momentum=None, eps=3.0)
    >>> y = bn.forward(np.array([[1.0], [3.0]]))
    >>> bn.running_mean.tolist(), bn.running_var.tolist(), bn.num_batches_tracked
    ([2.0], [2.0], 1)
    >>> bn.eval().forward(np.array([[2.0]])).tolist()
    [[0.0]]
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral):
            raise TypeError(f"num_features={num_features!r} must be an int")
        if num_features < 1:
            raise ValueError(f"num_features={num_features} must be positive")
        self.num_features = int(num_features)
        self.eps = _as_real(eps, "eps")
        if momentum is not None:
            if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real):
                raise TypeError(f"momentum={momentum!r} must be a number in [0, 1] or None")
            if not 0 <= momentum <= 1:
                raise ValueError(f"momentum={momentum} must be a number in [0, 1] (or None: cumulative average)")
            momentum = float(momentum)
        self.momentum = momentum
        self.affine = _as_bool(affine, "affine")
        self.track_running_stats = _as_bool(track_running_stats, "track_running_stats")
        c = self.num_features
        self.weight = np.ones(c) if affine else None
        self.bias = np.zeros(c) if affine else None
        if track_running_stats:
            self.running_mean, self.running_var, self.num_batches_tracked = np.zeros(c), np.ones(c), 0
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self.training = True
        self._cache = None

    def train(self, mode: bool = True) -> "BatchNorm":
        """Training mode (``mode=True``) or eval mode; returns self."""
        self.training = _as_bool(mode, "mode")
        return self

    def eval(self) -> "BatchNorm":
        """Eval mode; returns self."""
        return self.train(False)

    def forward(self, x: Any) -> np.ndarray:
        """The layer's output; in training with tracked statistics, also updates them."""
        x = _check_input(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"x has {x.shape[1]} channels (axis 1 of shape {x.shape}) but num_features="
                             f"{self.num_features}")
        use_running = not self.training and self.track_running_stats
        y, cache = batchnorm_forward(
            x, self.weight, self.bias, running_mean=self.running_mean if use_running else None,
            running_var=self.running_var if use_running else None, training=not use_running, eps=self.eps)
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            f = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            m = cache["m"]
            self.running_mean = (1 - f) * self.running_mean + f * cache["mean"]
            self.running_var = (1 - f) * self.running_var + f * cache["var"] * m / (m - 1)
        self._cache = cache
        return y

    __call__ = forward

    def backward(self, dout: Any) -> tuple:
        """``(dx, dweight, dbias)`` for the last forward (``dweight``/``dbias`` None without affine)."""
        if self._cache is None:
            raise ValueError("backward() needs a forward() first")
        dx, dw, db = batchnorm_backward(dout, self._cache)
        return (dx, dw, db) if self.affine else (dx, None, None)


# =========================================================================== eval mode as a matrix
def batchnorm_eval_matrix(running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None, *,
                          spatial_size: Any = (), eps: float = 1e-5, format: str = "csr",
                          max_bytes: int | None = None) -> tuple:
    """Eval-mode batch norm of one sample ``(C, *spatial)`` as the affine map ``y = D x + b``.

    Parameters
    ----------
    running_mean, running_var : array_like, shape (C,)
    weight, bias : array_like, shape (C,), optional
        γ and β (``None``: 1 and 0).
    spatial_size : int or tuple of int, optional
        Spatial size of one sample (``()`` for BatchNorm1d on ``(N, C)``).
    eps : float, optional
    format : str, optional
        A ``scipy.sparse`` format for ``D`` (``"csr"``) or ``"dense"``.
    max_bytes : int, optional
        Refuse, before building it, a ``D`` larger than this (default: the
        environment variable ``CONVMATRIX_MAX_BYTES``, else 4 GiB) — a dense
        ``D`` has ``(C·P)²`` entries.

    Returns
    -------
    D : (C·P, C·P) sparse array or ndarray
        Diagonal, ``D[c·P + p, c·P + p] = γ_c / sqrt(running_var_c + eps)``.
    b : (C·P,) ndarray
        ``β_c − γ_c · running_mean_c / sqrt(running_var_c + eps)`` repeated over
        the ``P`` positions of channel ``c``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes, ``eps < 0``, a negative ``running_var`` or a non-positive
        ``running_var + eps``, a bad ``spatial_size``, an unknown format.
    MatrixTooLargeError
        ``D`` over ``max_bytes``.

    Examples
    --------
    >>> D, b = batchnorm_eval_matrix([1.0, 0.0], [4.0, 1.0], [2.0, 1.0], [0.0, 5.0], spatial_size=2, eps=0.0)
    >>> D.toarray().diagonal().tolist(), b.tolist()
    ([1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, 5.0, 5.0])
    """
    rm = _channel_array(running_mean, "running_mean", None)
    c = rm.shape[0]
    rv = _channel_array(running_var, "running_var", c)
    g = _channel_array(weight, "weight", c)
    beta = _channel_array(bias, "bias", c)
    eps = _as_real(eps, "eps")
    _check_running_var(rv, eps)
    sizes = _check_spatial_size(spatial_size)
    _check_format(format)
    p = int(np.prod(sizes, dtype=np.int64)) if sizes else 1
    _guard_nnz((c * p, c * p), c * p, 8, format, max_bytes, what="eval-mode batch-norm matrix")
    scale = (np.ones(c) if g is None else g) / np.sqrt(rv + eps)
    shift = (np.zeros(c) if beta is None else beta) - scale * rm
    D = sp.diags_array(np.repeat(scale, p), format="csr")
    return _finish(D, format, max_bytes, what="eval-mode batch-norm matrix"), np.repeat(shift, p)


def _check_spatial_size(spatial_size) -> tuple:
    """Sizes as geometry reads them (ints, tuples, arrays, tensors); ``()`` for no spatial axes."""
    if _is_sequence(spatial_size) and len(spatial_size) == 0:
        return ()
    return normalize_tuple(spatial_size, _ndim_of(spatial_size) or 1, "spatial_size")


def fold_conv_batchnorm(weight: Any, bias: Any, running_mean: Any, running_var: Any, bn_weight: Any = None,
                        bn_bias: Any = None, *, eps: float = 1e-5) -> tuple:
    """Fold an eval-mode batch norm into the convolution before it: one convolution, same map.

    ``BN(conv(x; w, b)) = conv(x; w', b')`` with ``w'[o] = s_o w[o]`` and
    ``b'_o = s_o (b_o − running_mean_o) + β_o``, ``s_o = γ_o / sqrt(running_var_o + eps)``:
    as matrices, ``conv_matrix(w') = D conv_matrix(w)`` with ``D`` from
    :func:`batchnorm_eval_matrix` over the conv's output size.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *k)
    bias : array_like, shape (C_out,), or None
    running_mean, running_var, bn_weight, bn_bias : array_like, shape (C_out,)
    eps : float, optional

    Returns
    -------
    weight, bias : ndarray
        The folded convolution's weight (same shape, float64) and bias ``(C_out,)``.

    Raises
    ------
    TypeError, ValueError
        Bad shapes or dtypes, ``eps < 0``, a negative ``running_var`` or a
        non-positive ``running_var + eps``.

    Examples
    --------
    >>> from convmatrix import conv_matrix
    >>> w, rm, rv, g = np.array([[[1.0, 2.0]]]), [1.0], [3.0], [2.0]
    >>> wf, bf = fold_conv_batchnorm(w, None, rm, rv, g, eps=1.0)
    >>> D, b = batchnorm_eval_matrix(rm, rv, g, spatial_size=2, eps=1.0)
    >>> bool(np.allclose((D @ conv_matrix(w, 3)).toarray(), conv_matrix(wf, 3).toarray()))
    True
    >>> bf.tolist(), b.tolist()
    ([-1.0], [-1.0, -1.0])
    """
    w = _to_numpy(weight, "weight", "an array of real numbers, shape (out_channels, in_channels/groups, *kernel_size)")
    if w.dtype.kind not in "iuf":
        raise TypeError(f"weight must be real numbers: got dtype {w.dtype}")
    if w.ndim < 3:
        raise ValueError(f"weight must have shape (out_channels, in_channels/groups, *kernel_size): got {w.shape}")
    if w.size == 0:
        raise ValueError(f"weight must not be empty: got shape {w.shape}")
    c = w.shape[0]
    b = np.zeros(c) if bias is None else _channel_array(bias, "bias", c)
    rm = _channel_array(running_mean, "running_mean", c)
    rv = _channel_array(running_var, "running_var", c)
    g = _channel_array(bn_weight, "bn_weight", c)
    beta = _channel_array(bn_bias, "bn_bias", c)
    eps = _as_real(eps, "eps")
    _check_running_var(rv, eps)
    scale = (np.ones(c) if g is None else g) / np.sqrt(rv + eps)
    wf = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    bf = scale * (b - rm) + (np.zeros(c) if beta is None else beta)
    return wf, bf


# =========================================================================== the NumPy reference pair
def reference_batchnorm_forward(X: Any, gamma: Any, beta: Any, eps: float = 1e-8) -> tuple:
    """The well-known NumPy batch-norm forward pass for ``(N, D)`` input, reproduced.

    As in Agustinus Kristiadi's "Implementing BatchNorm in Neural Net" (2016):
    ``mu = mean(X, 0)``, ``var = var(X, 0)`` (biased),
    ``X_norm = (X − mu) / sqrt(var + eps)``, ``out = gamma X_norm + beta``.

    Parameters
    ----------
    X : array_like, shape (N, D)
    gamma, beta : array_like, shape (D,)
    eps : float, optional
        ``1e-8`` as in the original.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple
        ``(X, X_norm, mu, var, gamma, beta, eps)`` for :func:`reference_batchnorm_backward`.
    mu, var : ndarray, shape (D,)

    Raises
    ------
    TypeError, ValueError
        ``X`` not a non-empty 2-d array of real numbers, ``gamma`` or ``beta``
        not of shape ``(D,)``, ``eps < 0``, or ``eps = 0`` with a constant
        column (σ_ε = 0).

    Examples
    --------
    >>> out, cache, mu, var = reference_batchnorm_forward(np.array([[1.0], [3.0]]), [1.0], [0.0], eps=0.0)
    >>> out.ravel().tolist(), mu.tolist(), var.tolist()
    ([-1.0, 1.0], [2.0], [1.0])
    """
    X = _real_array(X, "X", "(N, D)")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D): got {X.shape}")
    if X.size == 0:
        raise ValueError(f"X must not be empty: got shape {X.shape}")
    gamma = _channel_array(gamma, "gamma", X.shape[1])
    beta = _channel_array(beta, "beta", X.shape[1])
    eps = _as_real(eps, "eps")
    mu = np.mean(X, axis=0)
    var = np.var(X, axis=0)
    if eps == 0 and np.any(var == 0):
        raise ValueError(f"eps=0 with a constant column (column {int(np.flatnonzero(var == 0)[0])} of X) divides "
                         "by σ_ε = 0: pass eps > 0")
    X_norm = (X - mu) / np.sqrt(var + eps)
    out = gamma * X_norm + beta
    cache = (X, X_norm, mu, var, gamma, beta, eps)
    return out, cache, mu, var


def reference_batchnorm_backward(dout: Any, cache: tuple) -> tuple:
    """The well-known NumPy batch-norm backward pass, reproduced: ``(dX, dgamma, dbeta)``.

    The paper's intermediates, literally: ``dX_norm = dout γ``,
    ``dvar = Σ dX_norm (X − mu) · (−½) std_inv³``,
    ``dmu = Σ dX_norm (−std_inv) + dvar · mean(−2 (X − mu))`` (the second term is
    zero, step 26 of :func:`batchnorm_derivation`),
    ``dX = dX_norm std_inv + dvar · 2 (X − mu)/N + dmu/N``.

    Parameters
    ----------
    dout : array_like, shape (N, D)
    cache : tuple
        From :func:`reference_batchnorm_forward`.

    Returns
    -------
    dX : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)

    Raises
    ------
    TypeError, ValueError
        ``cache`` not from :func:`reference_batchnorm_forward`; ``dout`` not
        real numbers of the shape of ``X``.

    Examples
    --------
    >>> out, cache, mu, var = reference_batchnorm_forward(np.array([[1.0], [3.0]]), [1.0], [0.0], eps=0.0)
    >>> dX, dgamma, dbeta = reference_batchnorm_backward(np.array([[1.0], [0.0]]), cache)
    >>> dX.ravel().tolist(), dgamma.tolist(), dbeta.tolist()
    ([0.0, 0.0], [-1.0], [1.0])
    """
    if not (isinstance(cache, tuple) and len(cache) == 7 and isinstance(cache[0], np.ndarray) and cache[0].ndim == 2):
        raise TypeError(f"cache must be the 7-tuple returned by reference_batchnorm_forward: got "
                        f"{type(cache).__name__} {reprlib.repr(cache)}")
    X, X_norm, mu, var, gamma, beta, eps = cache
    dout = _real_array(dout, "dout", f"{X.shape} (that of X)")
    if dout.shape != X.shape:
        raise ValueError(f"dout has shape {dout.shape} but X has shape {X.shape}: they must match")
    N, D = X.shape
    X_mu = X - mu
    std_inv = 1.0 / np.sqrt(var + eps)
    dX_norm = dout * gamma
    dvar = np.sum(dX_norm * X_mu, axis=0) * -0.5 * std_inv**3
    dmu = np.sum(dX_norm * -std_inv, axis=0) + dvar * np.mean(-2.0 * X_mu, axis=0)
    dX = (dX_norm * std_inv) + (dvar * 2 * X_mu / N) + (dmu / N)
    dgamma = np.sum(dout * X_norm, axis=0)
    dbeta = np.sum(dout, axis=0)
    return dX, dgamma, dbeta
