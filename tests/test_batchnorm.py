"""Batch normalization derived with SymPy: proofs, gradients against torch autograd and
finite differences, printing, refusals, the CLI."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy
import torch

import convmatrix as cm
from convmatrix.cli import main
from convmatrix.export.latex import latex_sentence
from convmatrix.derivation import (Derivation, DerivationError, Step, expand_sums, is_zero,
                                   reduce_sums)

RNG = np.random.default_rng(5)


def _numeric(expr, d, x, dy, gamma=1.3, beta=-0.4, eps=1e-3):
    """Evaluate an explicit expression of a concrete derivation at numbers."""
    sub = {d.symbols["gamma"]: gamma, d.symbols["beta"]: beta}
    if isinstance(d.symbols["eps"], sympy.Symbol):
        sub[d.symbols["eps"]] = eps
    sub.update({s: float(v) for s, v in zip(d.symbols["x"], x)})
    sub.update({s: float(v) for s, v in zip(d.symbols["dout"], dy)})
    return float(sympy.sympify(expr).xreplace({k: sympy.Float(v, 30) for k, v in sub.items()}).evalf(30))


def _torch_grads(x, dy, gamma=1.3, beta=-0.4, eps=1e-3):
    bn = torch.nn.BatchNorm1d(1, eps=eps).double()
    with torch.no_grad():
        bn.weight.fill_(gamma)
        bn.bias.fill_(beta)
    xt = torch.tensor(np.asarray(x, float).reshape(-1, 1), requires_grad=True)
    y = bn(xt)
    y.backward(torch.tensor(np.asarray(dy, float).reshape(-1, 1)))
    return y.detach().numpy().ravel(), xt.grad.numpy().ravel(), bn.weight.grad.item(), bn.bias.grad.item()


# --------------------------------------------------------------------------- proofs
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, None])
def test_derivation_is_checked(n):
    d = cm.batchnorm_derivation(n)
    assert d.checked and len(d.steps) == 32
    kinds = [s.kind for s in d.steps]
    assert kinds[:9] == ["definition"] * 9 and set(kinds[9:]) == {"equality"}
    # run the proofs again, step by step
    assert all(d.prove(s) for s in d.steps)


@pytest.mark.parametrize("n", [3, None])
def test_a_wrong_step_is_caught(n):
    d = cm.batchnorm_derivation(n, check=False)
    closed = d.step("closed_form")
    m = d.symbols["m"]
    d.steps[d.position("closed_form")] = dataclasses.replace(closed, rhs=closed.rhs.subs(m, m + 1))
    with pytest.raises(DerivationError, match=r"step \(31\) \[closed_form\]"):
        d.check()
    d = cm.batchnorm_derivation(n, check=False)
    k = d.position("deviations_sum_to_zero")
    d.steps[k] = Step(d.steps[k].lhs, 1, "wrong")  # Σ (x_j - μ) = 1
    assert not d.prove(d.steps[k])


def test_second_term_of_dmu_vanishes():
    d = cm.batchnorm_derivation(None)
    step = d.step("deviations_sum_to_zero")
    assert step.rhs == 0 and "vanishes" in step.text
    assert is_zero(d.to_base(step.lhs))


def test_steps_name_the_paper_intermediates():
    d = cm.batchnorm_derivation(None)
    text = d.text()
    for needle in ("∂L/∂x̂_i = γ*∂L/∂y_i", "∂L/∂σ²_B =", "∂L/∂μ_B =", "∂L/∂γ = Σ_{j=1..m} ∂L/∂y_j*x̂_j",
                   "∂L/∂β = Σ_{j=1..m} ∂L/∂y_j", "δ_{ij}"):
        assert needle in text, needle


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("n", [2, 3, 5])
def test_gradients_match_torch_autograd(n):
    d = cm.batchnorm_derivation(n)
    x, dy = RNG.standard_normal(n) * 2 + 1, RNG.standard_normal(n)
    y_t, dx_t, dg_t, db_t = _torch_grads(x, dy)
    assert np.allclose([_numeric(e, d, x, dy) for e in d.forward["y"]], y_t, atol=1e-10)
    assert np.allclose([_numeric(e, d, x, dy) for e in d.gradients["x"]], dx_t, atol=1e-10)
    assert np.isclose(_numeric(d.gradients["gamma"], d, x, dy), dg_t)
    assert np.isclose(_numeric(d.gradients["beta"], d, x, dy), db_t)


@pytest.mark.parametrize("n", [2, 4])
def test_gradients_match_finite_differences(n):
    d = cm.batchnorm_derivation(n)
    x, dy = RNG.standard_normal(n), RNG.standard_normal(n)
    loss = sum(g * y for g, y in zip(d.symbols["dout"], d.forward["y"]))
    h = 1e-6
    for k in range(n):
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        fd = (_numeric(loss, d, xp, dy) - _numeric(loss, d, xm, dy)) / (2 * h)
        assert np.isclose(fd, _numeric(d.gradients["x"][k], d, x, dy), rtol=1e-5, atol=1e-7)


def test_general_m_gradient_specialises_to_concrete():
    g = cm.batchnorm_derivation(None)
    c = cm.batchnorm_derivation(3)
    m, i = g.symbols["m"], g.symbols["i"]
    x, dy = RNG.standard_normal(3), RNG.standard_normal(3)
    X, DY = g.symbols["x"], g.symbols["dout"]
    for k in range(3):
        e = expand_sums(g.gradients["x"].xreplace({m: sympy.Integer(3), i: sympy.Integer(k + 1)}))
        e = e.xreplace({X[a + 1]: c.symbols["x"][a] for a in range(3)} | {DY[a + 1]: c.symbols["dout"][a] for a in range(3)})
        assert np.isclose(_numeric(e, c, x, dy), _numeric(c.gradients["x"][k], c, x, dy))


def test_numeric_eps_is_substituted():
    d = cm.batchnorm_derivation(3, eps=sympy.Rational(1, 100))
    assert d.symbols["eps"] == sympy.Rational(1, 100)
    assert not any(s.name == "epsilon" for s in d.gradients["x"][0].free_symbols)
    x, dy = RNG.standard_normal(3), RNG.standard_normal(3)
    assert np.allclose([_numeric(e, d, x, dy) for e in d.gradients["x"]], _torch_grads(x, dy, eps=0.01)[1])


def test_float_eps_becomes_exact():
    d = cm.batchnorm_derivation(2, eps=1e-5)
    assert d.symbols["eps"] == sympy.Rational(1, 100000) and d.checked
    with pytest.raises(ValueError, match="eps"):
        cm.batchnorm_derivation(2, eps=float("nan"))


def test_printing_proves_first():
    d = cm.batchnorm_derivation(3, check=False)
    assert not d.checked
    d.text()
    assert d.checked
    closed = d.step("closed_form")
    d.steps[d.position("closed_form")] = dataclasses.replace(closed, rhs=2 * closed.rhs)
    assert not d.checked
    with pytest.raises(DerivationError):
        d.latex()


def test_eps_zero_is_allowed_from_two_values():
    # torch refuses eps <= 0 in training; the NumPy reference pair takes it
    d = cm.batchnorm_derivation(2, eps=0)
    x, dy = np.array([1.0, 3.0]), np.array([2.0, -1.0])
    _, cache, _, _ = cm.testing.reference_batchnorm_forward(x.reshape(2, 1), [1.3], [-0.4], eps=0.0)
    dx = cm.testing.reference_batchnorm_backward(dy.reshape(2, 1), cache)[0].ravel()
    assert np.allclose([_numeric(e, d, x, dy) for e in d.gradients["x"]], dx)
    with pytest.raises(ValueError, match="eps must be positive during training"):
        torch.nn.functional.batch_norm(torch.ones(2, 1), None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match="eps=0.0 must be positive"):
        cm.batchnorm_forward(x.reshape(2, 1), eps=0.0)


# --------------------------------------------------------------------------- N = 1
def test_one_value_derivation_is_degenerate_and_documented():
    d = cm.batchnorm_derivation(1)
    assert sympy.cancel(d.gradients["x"][0]) == 0
    assert sympy.simplify(d.forward["y"][0] - d.symbols["beta"]) == 0
    assert d.gradients["gamma"] == 0 or sympy.cancel(d.gradients["gamma"]) == 0
    assert d.gradients["beta"] == d.symbols["dout"][0]
    with pytest.raises(ValueError, match="eps"):
        cm.batchnorm_derivation(1, eps=0)


def test_one_value_torch_refuses_training():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        cm.batchnorm_forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        cm.BatchNorm(3)(np.ones((1, 3, 1, 1)))


# --------------------------------------------------------------------------- printing
def test_latex_uses_readable_names():
    d = cm.batchnorm_derivation(None)
    tex = d.latex()
    for needle in (r"\sigma^{2}_{B}", r"\hat{x}_{i}", r"\mu_{B}", r"\frac{\partial L}{\partial \hat{x}_{j}}",
                   r"\frac{\partial L}{\partial y_{i}}", r"\sum_{j=1}^{m}", r"\sigma_{\epsilon}", r"\epsilon",
                   r"\left.\frac{\partial L}{\partial \tilde{x}_{i}}\right|_{\hat{x}}",
                   r"\paragraph{Closed form and matrix form.} Closed form", r"\label{closed_form}", r"\boxed{",
                   r"\tilde{x}_{i} = x_{i} - \mu_{B}"):
        assert needle in tex, needle
    printed = re.sub(r"\\label\{\w+\}", "", tex)  # the labels are the steps' names
    assert "dL/d" not in printed and "xhat" not in printed and "xtilde" not in printed
    assert not re.search(r"(?<![\\a-z])(sigma|epsilon|gamma|beta|mu)(?![a-z])", printed)
    # every step a display; numbers on the 23 claims only, each labelled by its step's name
    assert tex.count(r"\begin{equation}") == 23 and tex.count(r"\begin{equation*}") == 9
    assert all(rf"\label{{{s.name}}}" in tex for s in d.steps if s.kind == "equality")
    assert d._repr_latex_().startswith("$$ \\begin{aligned}")
    assert sympy.latex(d).startswith(r"\begin{aligned}") and sympy.latex(d).count("&=") == 32
    # the symbols carry their names: plain sympy.latex prints any expression of the derivation readably
    closed = sympy.latex(d.step("closed_form").rhs)
    assert r"\frac{\partial L}{\partial y_{i}}" in closed and r"\hat{x}_{j}" in closed and "xhat" not in closed


def test_dummy_index_distinct_from_free_index():
    d = cm.batchnorm_derivation(None)
    i, j = d.symbols["i"], d.symbols["j"]
    for s in d.steps:
        for summ in (s.lhs.atoms(sympy.Sum) | s.rhs.atoms(sympy.Sum)):
            assert summ.limits[0][0] == j != i


def _nested_reuse(expr) -> list:
    """Sums whose index is bound again by a sum inside them (legal, but unreadable)."""
    bad = []
    for outer in expr.atoms(sympy.Sum):
        idx = outer.limits[0][0]
        for inner in outer.function.atoms(sympy.Sum):
            if inner.limits[0][0] == idx:
                bad.append(outer)
    return bad


def test_general_gradients_use_distinct_nested_indices():
    d = cm.batchnorm_derivation(None)
    for name in ("x", "gamma", "beta"):
        assert _nested_reuse(d.gradients[name]) == [], name
    for s in d.steps:
        assert _nested_reuse(s.lhs) == _nested_reuse(s.rhs) == []
    text = d.text_of(d.gradients["gamma"])
    assert "Σ_{k=1..m} (x_k - Σ_{l=1..m} x_l/m)" in text


def test_text_output():
    d = cm.batchnorm_derivation(4)
    t = d.text()
    assert t.splitlines()[0] == d.title and "(32) Matrix form" in t and "Σ_{j=1..4}" in t
    assert str(d) == t and "checked" in repr(d)


def test_generic_derivation_api():
    a, b, s = sympy.symbols("a b s")
    d = Derivation("t", [Step.from_eq(sympy.Eq(s, a + b), "def", kind="definition"),
                         Step(s**2 - a**2, b * (2 * a + b), "square")], values={s: a + b})
    assert d.check().checked
    tex = d.latex()
    assert r"\noindent def" in tex and r"\begin{equation*}" in tex and r"\begin{equation}" in tex  # a claim: numbered
    d.steps.append(Step(s, a, "wrong"))
    with pytest.raises(DerivationError, match=r"step \(3\).*wrong"):
        d.check()
    x, m = sympy.IndexedBase("x"), sympy.Symbol("m", integer=True, positive=True)
    j = sympy.Symbol("j", integer=True)
    assert is_zero(sympy.Sum(x[j] - sympy.Sum(x[j], (j, 1, m)) / m, (j, 1, m)))
    assert reduce_sums(sympy.Sum(sympy.KroneckerDelta(j, 2) * x[j], (j, 1, m + 2))) == x[2]  # 2 in 1..m+2
    # with m = 1 the sum over 1..m is 0, not x[2]: kept as a sum
    assert reduce_sums(sympy.Sum(sympy.KroneckerDelta(j, 2) * x[j], (j, 1, m))).has(sympy.Sum)


@pytest.mark.parametrize("n", [1, 3, None])
def test_every_step_is_also_checked_in_numbers(n):
    d = cm.batchnorm_derivation(n)
    assert d.check_numbers(points=2, seed=1) is d
    # a wrong closed form (off by one) fails in numbers, independently of SymPy
    pos = d.position("closed_form")
    good = d.steps[pos]
    bad = Step(good.lhs, good.rhs + 1, good.text, good.kind, good.index, name=good.name)
    steps = list(d.steps)
    steps[pos] = bad
    wrong = Derivation(d.title, steps, d.latex_names, d.text_names, d.values, d.indices, d.change, d.ranges)
    with pytest.raises(DerivationError, match=r"step \(31\) \[closed_form\].*fails in numbers"):
        wrong.check_numbers()
    with pytest.raises(DerivationError, match="closed_form"):
        wrong.check()


# --------------------------------------------------------------------------- soundness of the sum reduction
X, Y = sympy.IndexedBase("x"), sympy.IndexedBase("y")
J, K = sympy.symbols("j k", integer=True)
I_, M = sympy.symbols("i m", integer=True, positive=True)


def test_delta_out_of_range_is_not_collapsed():
    # Σ_{j=1}^{3} δ_{j5} x_j = 0, not x_5: this used to be "proved"
    assert not is_zero(sympy.Sum(sympy.KroneckerDelta(J, 5) * X[J], (J, 1, 3)) - X[5])
    assert is_zero(sympy.Sum(sympy.KroneckerDelta(J, 2) * X[J], (J, 1, 3)) - X[2])
    # i > m is possible for a general positive i: nothing is known, nothing collapses
    claim = sympy.Sum(sympy.KroneckerDelta(I_, J) * X[J], (J, 1, M)) - X[I_]
    assert not is_zero(claim)
    assert is_zero(claim, ranges={I_: (1, M)})          # declared: i in 1..m
    assert not is_zero(claim, ranges={I_: (1, M + 1)})  # i = m + 1 lies outside 1..m
    # δ(i, j + 1) sets j = i - 1, not j = i
    assert not is_zero(sympy.Sum(sympy.KroneckerDelta(I_, J + 1) * X[J], (J, 1, M)) - X[I_], ranges={I_: (1, M)})


def test_nested_sums_do_not_capture_indices():
    # Σ_j x_j Σ_k 1/(x_j + y_k) ≠ Σ_j x_j Σ_k 1/(x_k + y_j): one dummy for both depths used to make them equal
    e1 = sympy.Sum(X[J] * sympy.Sum(1 / (X[J] + Y[K]), (K, 1, M)), (J, 1, M))
    e2 = sympy.Sum(X[J] * sympy.Sum(1 / (X[K] + Y[J]), (K, 1, M)), (J, 1, M))
    sub = {X[1]: 1, X[2]: 4, Y[1]: 1, Y[2]: 9}
    assert e1.subs(M, 2).doit().subs(sub) != e2.subs(M, 2).doit().subs(sub)
    assert not is_zero(e1 - e2)
    r = reduce_sums(e1)
    inner = next(iter(r.function.atoms(sympy.Sum)))
    assert r.limits[0][0] != inner.limits[0][0]
    # renaming the indices changes nothing: equal sums still compare equal
    a, b = sympy.symbols("a b", integer=True)
    assert is_zero(e1 - sympy.Sum(X[a] * sympy.Sum(1 / (X[a] + Y[b]), (b, 1, M)), (a, 1, M)))
    # and the printed dummies are distinct
    assert Derivation("t", []).text_of(r) == "Σ_{l=1..m} x_l*Σ_{k=1..m} 1/(x_l + y_k)"


def test_a_false_derivation_step_is_not_proved():
    # a step that holds only for i in 1..m is not proved for a general i ...
    step = Step(sympy.Sum(sympy.KroneckerDelta(I_, J) * X[J], (J, 1, M)), X[I_], "pick x_i", index=I_)
    d = Derivation("t", [step])
    with pytest.raises(DerivationError, match=r"step \(1\)"):
        d.check()
    # ... and is once the derivation declares that range
    assert Derivation("t", [step], ranges={I_: (1, M)}).check().checked
    # the batch-norm matrix form needs it too: without the range it is not proved
    g = cm.batchnorm_derivation(None, check=False)
    assert g.ranges == {g.symbols["i"]: (1, g.symbols["m"])}
    g.ranges = {}
    assert not g.prove(g.step("matrix_form"))
    assert g.prove(g.step("closed_form"))


# --------------------------------------------------------------------------- step names
STEP_NAMES = [
    "forward_mu", "forward_xtilde", "forward_v", "forward_var", "forward_sigma_eps", "forward_rho", "forward_xhat",
    "forward_z", "forward_y", "backward_dbeta", "backward_dz", "backward_dgamma", "backward_dxhat", "backward_drho",
    "backward_dxtilde_xhat", "backward_dsigma_eps", "backward_dvar", "backward_dv", "backward_dxtilde_v",
    "backward_dxtilde", "backward_dmu", "backward_dx", "paper_dxhat", "paper_dvar", "paper_dmu",
    "deviations_sum_to_zero", "paper_dmu_first_term", "paper_dx", "dgamma", "dbeta", "closed_form", "matrix_form",
]


@pytest.mark.parametrize("n", [2, None])
def test_steps_have_stable_names(n):
    d = cm.batchnorm_derivation(n)
    assert [s.name for s in d.steps] == STEP_NAMES
    assert all(d.step(name) is d.steps[k] and d.position(name) == k for k, name in enumerate(STEP_NAMES))
    assert d.step("closed_form").text.startswith("Closed form")
    assert d.step("matrix_form").text.startswith("Matrix form")
    assert d.step("dgamma").lhs == d.step("backward_dgamma").lhs and "scale γ" in d.step("dgamma").text
    assert "shift β" in d.step("dbeta").text


def test_step_name_refusals():
    d = cm.batchnorm_derivation(2, check=False)
    with pytest.raises(ValueError, match="name='closed'.*closed_form"):
        d.step("closed")
    with pytest.raises(ValueError, match="name='closed'"):
        d.position("closed")
    with pytest.raises(TypeError, match="name=3"):
        Step(1, 1, "x", name=3)
    with pytest.raises(ValueError, match="name='two words'"):
        Step(1, 1, "x", name="two words")
    a = sympy.Symbol("a")
    with pytest.raises(ValueError, match="'same'.*steps \\(1\\) and \\(2\\)"):
        Derivation("t", [Step(a, a, "x", name="same"), Step(a, a, "y", name="same")])
    d.steps.append(dataclasses.replace(d.steps[0]))  # a duplicate added after construction
    with pytest.raises(ValueError, match="forward_mu"):
        d.step("closed_form")
    with pytest.raises(TypeError, match="ranges"):
        Derivation("t", [], ranges={I_: 5})


def test_cli_tour_uses_the_named_step():
    from convmatrix.cli.batchnorm import section_batchnorm

    d = cm.batchnorm_derivation(4)
    closed = d.step("closed_form")
    assert f"{d.text_of(closed.lhs)} = {d.text_of(closed.rhs)}" in section_batchnorm()


# --------------------------------------------------------------------------- sentences in LaTeX
@pytest.mark.parametrize("text,tex", [
    ("∂L/∂x̂", r"$\partial L/\partial\hat{x}$"),
    ("∂L/∂σ²", r"$\partial L/\partial\sigma^2$"),
    ("∂L/∂μ", r"$\partial L/\partial\mu$"),
    ("so ∂L/∂μ_B keeps", r"so $\partial L/\partial\mu_B$ keeps"),
    ("∂L/∂σ²_B and ∂L/∂x̂_i = γ ∂L/∂y_i.",
     r"$\partial L/\partial\sigma^2_B$ and $\partial L/\partial\hat{x}_i = \gamma\,\partial L/\partial y_i$."),
    # one formula, not words between formulas; lone letters (J, m) are mathematics too
    ("∂L/∂x = γ J ∂L/∂y with J = ∂x̂/∂x",
     r"$\partial L/\partial x = \gamma\,J\,\partial L/\partial y$ with $J = \partial\hat{x}/\partial x$"),
    ("σ_ε⁻¹(I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m)", r"$\sigma_{\epsilon}^{-1}(I - \mathbf{1}\mathbf{1}^T/m - \hat{x}\hat{x}^T/m)$"),
    ("−1/σ_ε², with v_i = x̃_i²", r"$-1/\sigma_{\epsilon}^2$, with $v_i = \tilde{x}_i^2$"),
    ("the m values (divided by m, not m − 1).", r"the $m$ values (divided by $m$, not $m - 1$)."),
    ("the derivative of √(σ²_B + ε) is 1/(2√(σ²_B + ε)).",
     r"the derivative of $\sqrt{\sigma^2_B + \epsilon}$ is $1/(2\sqrt{\sigma^2_B + \epsilon})$."),
    ("Ioffe & Szegedy: 50% of a_bc, {x} #1 $", r"Ioffe \& Szegedy: 50\% of a\_bc, \{x\} \#1 \$"),
])
def test_latex_sentence(text, tex):
    assert latex_sentence(text) == tex


def test_derivation_latex_has_no_broken_derivatives():
    tex = cm.batchnorm_derivation(None).latex()
    assert r"\partial$" not in tex and "∂" not in tex
    assert r"Matrix form: $\partial L/\partial x = \gamma\,J\,\partial L/\partial y$" in tex
    assert r"the second term of $\partial L/\partial\mu_B$ vanishes" in tex
    assert r"\mathbb" not in tex and r"\mathbf{1}\mathbf{1}^T" in tex


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("bad", [0, -3])
def test_refuses_non_positive_batch(bad):
    with pytest.raises(ValueError, match=f"batch_size={bad}"):
        cm.batchnorm_derivation(bad)


@pytest.mark.parametrize("bad", [2.0, True, "4"])
def test_refuses_non_int_batch(bad):
    with pytest.raises(TypeError, match="batch_size"):
        cm.batchnorm_derivation(bad)


def test_refuses_bad_eps():
    with pytest.raises(ValueError, match="eps=-1"):
        cm.batchnorm_derivation(2, eps=-1)
    with pytest.raises(TypeError, match="eps"):
        cm.batchnorm_derivation(2, eps="small")
    with pytest.raises(TypeError, match="eps"):
        cm.batchnorm_derivation(2, eps=True)
    with pytest.raises(TypeError, match="eps"):
        cm.batchnorm_derivation(2, eps=sympy.I)


def test_refuses_bad_steps_and_environment():
    with pytest.raises(ValueError, match="kind"):
        Step(1, 1, "x", kind="lemma")
    with pytest.raises(TypeError, match="text"):
        Step(1, 1, 3)
    with pytest.raises(TypeError, match="eq"):
        Step.from_eq((1, 1), "x")
    with pytest.raises(TypeError, match="steps"):
        Derivation("t", ["not a step"])
    with pytest.raises(TypeError, match="environment"):  # not a setting: the layout is the printer's
        cm.batchnorm_derivation(2).latex(environment="")
    with pytest.raises(ValueError, match="zero='none'"):
        cm.batchnorm_derivation(2).latex(zero="none")


# --------------------------------------------------------------------------- CLI
def _env():
    return dict(os.environ, PYTHONIOENCODING="utf-8")


def test_cli_subprocess_text_and_latex():
    r = subprocess.run([sys.executable, "-m", "convmatrix", "batchnorm", "--batch", "4"],
                       capture_output=True, text=True, encoding="utf-8", env=_env())
    assert r.returncode == 0, r.stderr
    assert "∂L/∂x_i = γ*(4*∂L/∂y_i" in r.stdout and "23 equalities proved" in r.stdout
    r = subprocess.run([sys.executable, "-m", "convmatrix", "batchnorm", "--batch", "m", "--format", "latex"],
                       capture_output=True, text=True, encoding="utf-8", env=_env())
    assert r.returncode == 0 and r"\begin{equation}" in r.stdout and r"\sum_{j=1}^{m}" in r.stdout


def test_cli_subprocess_refuses():
    r = subprocess.run([sys.executable, "-m", "convmatrix", "batchnorm", "--batch", "0"],
                       capture_output=True, text=True, encoding="utf-8", env=_env())
    assert r.returncode == 2 and "--batch 0" in r.stderr and "Traceback" not in r.stderr


def test_cli_in_process(capsys):
    assert main(["batchnorm", "--batch", "2", "--format", "latex", "--eps", "0.001"]) == 0
    out = capsys.readouterr().out
    assert r"\end{equation}" in out and r"\frac{1}{1000}" in out  # the number, exactly, replaces ε
    assert main(["batchnorm", "--batch", "3"]) == 0
    assert "m = 3" in capsys.readouterr().out
    assert main(["batchnorm", "--batch", "2", "--eps", "-1"]) == 2
    assert "eps=-1" in capsys.readouterr().err
    assert main(["batchnorm", "--batch", "2", "--eps", "tiny"]) == 2
    assert "--eps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["batchnorm", "--batch", "two"])
    assert "--batch" in capsys.readouterr().err


def test_tour_section(capsys):
    from convmatrix.cli.tour import SECTIONS

    k = SECTIONS.index("convmatrix.cli.batchnorm:section_batchnorm") + 1
    assert main(["tour", "--section", str(k)]) == 0
    out = capsys.readouterr().out
    assert "Batch normalization derived with SymPy" in out and "J symmetric: True" in out
    assert "γ J dy = dx of the layer: True" in out


def test_numbers_catch_a_step_wrong_at_one_index_only():
    d = cm.batchnorm_derivation(None)
    pos = d.position("closed_form")
    good = d.steps[pos]
    i, dy = d.symbols["i"], d.symbols["dout"]
    bad = Step(good.lhs, good.rhs + sympy.KroneckerDelta(i, 3) * dy[1], good.text, good.kind, good.index,
               name=good.name)
    steps = list(d.steps)
    steps[pos] = bad
    wrong = Derivation(d.title, steps, d.latex_names, d.text_names, d.values, d.indices, d.change, d.ranges)
    for seed in range(5):
        with pytest.raises(DerivationError, match="closed_form.*fails in numbers"):
            wrong.check_numbers(seed=seed)


def test_numbers_are_robust_to_unusual_steps():
    x, y = sympy.IndexedBase("x"), sympy.IndexedBase("y")
    i, j, m = sympy.symbols("i j m", integer=True, positive=True)
    ok = [
        Step(x[i], x[i], "an index nobody declared"),
        Step(sympy.Sum(x[j], (j, 1, 2 * m)), sympy.Sum(x[j], (j, 1, m)) + sympy.Sum(x[j], (j, m + 1, 2 * m)),
             "a sum up to 2m"),
        Step(m / (m - 1) * (m - 1), m, "undefined at m = 1 only"),
    ]
    assert Derivation("fine", ok).check_numbers() is not None
    with pytest.raises(DerivationError, match="cannot be evaluated in numbers"):
        Derivation("2-d", [Step(y[i, j], y[i, j], "a 2-d base")]).check_numbers()
    with pytest.raises(ValueError, match="points"):
        Derivation("fine", ok).check_numbers(points=0)
    with pytest.raises(ValueError, match="sizes"):
        Derivation("fine", ok).check_numbers(sizes=())
