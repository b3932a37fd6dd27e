"""The derivation engine: a second table (softmax) derived, proved and checked in numbers against torch;
the table's rules refused with named errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from sympy import Integer, Sum, Symbol, exp

import convmatrix as cm
from convmatrix.backprop import ComputationalGraph, GraphNode, backpropagate, relabel_sums
from convmatrix.derivation import NamedIndexedBase, NamedSymbol, Step, expand_sums


def softmax_graph(n: int | None) -> ComputationalGraph:
    """y = softmax(x) over m values: e_i = exp(x_i), s = Σ_j e_j, y_i = e_i / s (e reaches y by two paths)."""
    m = Symbol("m", positive=True, integer=True) if n is None else Integer(n)
    i, j = (Symbol(k, positive=True, integer=True) for k in "ij")
    x, e, y = (NamedIndexedBase(k, k, k) for k in "xey")
    s = NamedSymbol("s", "s", "s", positive=True)
    dy = NamedIndexedBase("dy", r"\frac{\partial L}{\partial y_{@}}", "∂L/∂y_@")
    nodes = [
        GraphNode("x", x),
        GraphNode("e", e, exp(x[i]), "Exponentiate every value.", {"x": "The derivative of exp is exp."},
                  gradient="The two paths from e_i add.", by_paths=True),
        GraphNode("s", s, Sum(e[j], (j, 1, m)), "Their sum s.", {"e": "s is a plain sum of the e_j."}),
        GraphNode("y", y, e[i] / s, "Normalize: y_i = e_i / s.",
                  {"s": "s divides every e_j.", "e": "e_i is divided by s."}),
    ]
    return ComputationalGraph(f"Softmax over m = {'m' if n is None else n} values", nodes, output="y",
                              index=i, dummy=j, size=m, upstream=dy)


def softmax_derivation(n):
    g = softmax_graph(n)
    i, j, m = g.index, g.dummy, g.size
    y, dy, dx = g.node("y").symbol, g.upstream, g.gradient("x")
    closed = Step(dx[i], y[i] * (dy[i] - Sum(dy[j] * y[j], (j, 1, m))),
                  "Closed form: ∂L/∂x_i = y_i (∂L/∂y_i − Σ_j ∂L/∂y_j y_j).", index=i, name="closed_form")
    return backpropagate(g, [closed], results=("closed_form",))


NAMES = ["forward_e", "forward_s", "forward_y", "backward_ds", "backward_de_y", "backward_de_s", "backward_de",
         "backward_dx", "closed_form"]


@pytest.mark.parametrize("n", [1, 3, None])
def test_softmax_is_derived_and_proved(n):
    d = softmax_derivation(n).check()
    assert d.checked and [s.name for s in d.steps] == NAMES
    g = d.graph
    i, j = g.index, g.dummy
    e, s, dy = g.node("e").symbol, g.node("s").symbol, g.upstream
    # the steps the engine writes: upstream gradient times the local derivative, summed over consumers
    assert d.step("backward_ds").rhs == -Sum(dy[j] * e[j], (j, 1, g.size)) / s**2
    assert d.step("backward_de_y").rhs == dy[i] / s
    assert d.step("backward_de_s").rhs == g.gradient("s")
    assert d.step("backward_de").rhs == g.path("e", "y")[i] + g.path("e", "s")[i]
    assert d.step("backward_dx").rhs == g.gradient("e")[i] * exp(g.node("x").symbol[i])
    assert d.sections == {"forward_e": "Forward", "backward_ds": "Backward"} and d.results == ("closed_form",)


@pytest.mark.parametrize("n", [2, 5])
def test_softmax_gradient_matches_torch(n):
    d = softmax_derivation(n).check()
    g = d.graph
    x, dy = g.node("x").symbol, g.upstream
    rng = np.random.default_rng(n)
    xv, dyv = rng.standard_normal(n), rng.standard_normal(n)
    xt = torch.tensor(xv, requires_grad=True)
    torch.softmax(xt, 0).backward(torch.tensor(dyv))
    sub = {x[a + 1]: xv[a] for a in range(n)} | {dy[a + 1]: dyv[a] for a in range(n)}
    for rhs in (g.gradient("x")[g.index], d.step("closed_form").rhs):
        got = [float(expand_sums(d.explicit(rhs).xreplace({g.index: Integer(a + 1)})).xreplace(sub))
               for a in range(n)]
        assert np.allclose(got, xt.grad.numpy(), atol=1e-12)


def test_a_wrong_claim_fails_both_tests():
    d = softmax_derivation(None)
    k = d.position("closed_form")
    good = d.steps[k]
    d.steps[k] = Step(good.lhs, 2 * good.rhs, good.text, index=good.index, name=good.name)
    with pytest.raises(cm.DerivationError, match=r"step \(9\) \[closed_form\]"):
        d.check()
    with pytest.raises(cm.DerivationError, match="closed_form.*fails in numbers"):
        d.check_numbers()


def test_softmax_prints():
    d = softmax_derivation(None)
    tex = cm.to_latex(d)
    assert r"\left.\frac{\partial L}{\partial e_{i}}\right|_{y}" in tex and r"\boxed{" in tex
    assert tex.count(r"\begin{equation}") == 6  # five backward steps and the claim
    assert "∂L/∂e_i = ∂L/∂e_i|s + ∂L/∂e_i|y" in d.text()


def test_scalar_graph_with_two_consumers():
    a, b, p, q = (NamedSymbol(k) for k in "abpq")
    g = ComputationalGraph("q = a b + a", [
        GraphNode("a", a, gradient="a reaches q twice."), GraphNode("b", b),
        GraphNode("p", p, a * b, "product", {"a": None, "b": "∂p/∂b = a"}),
        GraphNode("q", q, p + a, "sum", {"p": "∂q/∂p = 1", "a": None})],
        output="q", index=Symbol("i"), dummy=Symbol("j"), size=1)
    d = backpropagate(g).check()
    assert [s.name for s in d.steps] == ["forward_p", "forward_q", "backward_dp", "backward_da", "backward_db"]
    assert d.explicit(g.gradient("a")) == (b + 1) * g.upstream or sympy.expand(
        d.explicit(g.gradient("a")) - (b + 1) * g.upstream) == 0


def test_relabel_sums_never_captures():
    x = sympy.IndexedBase("x")
    j, k, i = (Symbol(n, integer=True) for n in "jki")
    m = Symbol("m", integer=True, positive=True)
    e = Sum(x[j] * Sum(x[j] + x[i], (j, 1, m)), (j, 1, m))
    r = relabel_sums(e, [j, k])
    assert r == Sum(x[j] * Sum(x[i] + x[k], (k, 1, m)), (j, 1, m))
    assert relabel_sums(Sum(x[k], (k, 1, m)), [j, k]) == Sum(x[j], (j, 1, m))
    assert relabel_sums(Sum(x[j] * j, (j, 1, m)), [j], avoid=frozenset({j})).limits[0][0] != j


def test_batchnorm_is_one_table():
    d = cm.batchnorm_derivation(None, check=False)
    g = d.graph
    assert [n.name for n in g.nodes] == ["x", "gamma", "beta", "mu", "xtilde", "v", "var", "sigma_eps", "rho",
                                         "xhat", "z", "y"]
    assert g.consumers("x") == ("mu", "xtilde") and g.node("xtilde").by_paths
    written = [s.name for s in d.steps if s.name.startswith(("forward_", "backward_"))]
    assert len(written) == 22 and d.step("backward_dx").lhs == g.gradient("x")[g.index]


# --------------------------------------------------------------------------- refusals
def _nodes():
    a, b = NamedSymbol("a"), NamedSymbol("b")
    return a, b


@pytest.mark.parametrize("make,match", [
    (lambda a, b: [GraphNode("a", a), GraphNode("b", b, a * 2, "double", {})], "backward names the inputs"),
    (lambda a, b: [GraphNode("a", a), GraphNode("b", b, a * 2, "double", {"a": None})], "needs a sentence"),
    (lambda a, b: [GraphNode("a", a), GraphNode("b", b, b * 2, "double", {"a": "x"})], "not an earlier node"),
    (lambda a, b: [GraphNode("a", a, by_paths=True), GraphNode("b", b, a * 2, "x", {"a": "y"})], "by_paths"),
    (lambda a, b: [GraphNode("a", a), GraphNode("a", b, a, "x", {"a": "y"})], "used twice"),
])
def test_bad_tables_are_refused(make, match):
    a, b = _nodes()
    with pytest.raises(ValueError, match=match):
        ComputationalGraph("t", make(a, b), output="b", index=Symbol("i"), dummy=Symbol("j"), size=1)


def test_bad_nodes_are_refused():
    a = NamedSymbol("a")
    with pytest.raises(TypeError, match="symbol of node 'a'"):
        GraphNode("a", Symbol("a"))
    with pytest.raises(ValueError, match="name='two words'"):
        GraphNode("two words", a)
    with pytest.raises(ValueError, match="no definition"):
        GraphNode("a", a, sentence="an input has no sentence")
    with pytest.raises(TypeError, match="graph"):
        backpropagate("not a graph")
    x, y = NamedIndexedBase("x"), NamedIndexedBase("y")
    i, j = Symbol("i"), Symbol("j")
    with pytest.raises(ValueError, match="other than at the index"):  # a vector node summing a vector
        ComputationalGraph("t", [GraphNode("x", x), GraphNode("y", y, Sum(x[j], (j, 1, 3)) * x[i], "s", {"x": "d"})],
                           output="y", index=i, dummy=j, size=3)
    s = NamedSymbol("s")
    with pytest.raises(ValueError, match="only inside sums"):
        ComputationalGraph("t", [GraphNode("x", x), GraphNode("s", s, x[i] + 1, "s", {"x": "d"})],
                           output="s", index=i, dummy=j, size=3)
    with pytest.raises(ValueError, match="is an atom"):  # σ = √(v + 1) kept as an atom with no value for v
        v, sig = NamedSymbol("v"), NamedSymbol("sig", positive=True)
        g = ComputationalGraph("t", [GraphNode("v", v), GraphNode("sig", sig, sympy.sqrt(v + 1), "s", {"v": "d"},
                                                                  atom=True)],
                               output="sig", index=i, dummy=j, size=1)
        backpropagate(g)
