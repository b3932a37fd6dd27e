"""The fast paths of the derivation engine, each proved equal to the plain path it stands in for.

* outputs: every output of ``batchnorm_derivation`` (steps, gradients, forward values, symbols, text,
  LaTeX) equals the golden one written from main before the speed-ups (tests/golden);
* proofs: a step with a concrete index is proved for every index value at once (the index a symbol,
  the sums reduced by linearity) before it is proved value by value; the two agree on every step of
  the batch-norm and softmax derivations, and the fast one refuses what would be wrong at some value
  (a Kronecker delta out of range, ranges that disagree with the values, values with gaps);
* substitution: ``_replace_each`` equals ``_replace`` with the whole mapping, value by value;
* the ring: sums of shared terms, memoised, equal the plain term-by-term sums;
* numbers: closed sums computed once (``_hoist_sums``) give the values of the plain compiled function,
  and a sum that reads an enclosing index is never hoisted.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
from pathlib import Path

import pytest
import sympy
from sympy import Integer, KroneckerDelta, Sum

import convmatrix as cm
from convmatrix import derivation as D
from convmatrix.derivation import Derivation, DerivationError, Step

GOLDEN = Path(__file__).parent / "golden"
X, Y = sympy.IndexedBase("x"), sympy.IndexedBase("y")
I_ = sympy.Symbol("i", integer=True, positive=True)
J, K, L = sympy.symbols("j k l", integer=True, positive=True)


def _golden_module():
    spec = importlib.util.spec_from_file_location("make_batchnorm_golden", GOLDEN / "make_batchnorm_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- outputs unchanged
@pytest.mark.parametrize("case", ["1", "2", "3", "4", "5", "8", "m", "3_eps_1over100", "2_eps_1e-05", "2_eps_0"])
def test_outputs_equal_the_golden_ones_from_before_the_speedups(case):
    golden = _golden_module()
    (n, eps), = [k for k, v in golden.CASES.items() if v == case]
    d = cm.batchnorm_derivation(n, eps=eps)
    assert d.checked
    want = json.loads((GOLDEN / "batchnorm_hashes.json").read_text())[case]
    assert golden.fingerprint(d) == want
    if case in golden.PRINTED:
        assert d.text() == (GOLDEN / f"batchnorm_{case}.txt").read_text()
        assert d.latex() == (GOLDEN / f"batchnorm_{case}.tex").read_text()


# --------------------------------------------------------------------------- proofs for every index at once
def _both_paths(d: Derivation, step: Step) -> tuple[bool, bool]:
    """(proved for every index at once, proved value by value with the sums written out)."""
    every = d._claim_for_every_index(step)
    fast = every is not None and D._proved([every], D._RingTester([every]))
    claims = d._claims(step)
    return fast, D._proved(claims, D._RingTester(claims))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_index_at_once_agrees_with_index_by_index_on_batchnorm(n):
    d = cm.batchnorm_derivation(n, check=False)
    for step in d.steps:
        if step.kind == "equality":
            assert _both_paths(d, step) == (True, True), step.name


def test_every_index_at_once_agrees_with_index_by_index_on_softmax():
    from test_backprop import softmax_derivation

    d = softmax_derivation(3)
    for step in d.steps:
        if step.kind == "equality":
            assert _both_paths(d, step) == (True, True), step.name
    assert d.check().checked


def test_the_plain_path_alone_proves_the_same_derivation(monkeypatch):
    d = cm.batchnorm_derivation(3, check=False)
    monkeypatch.setattr(Derivation, "_claim_for_every_index", lambda self, step, caches=None: None)
    assert d.check().checked


def test_a_wrong_step_fails_both_paths():
    d = cm.batchnorm_derivation(3, check=False)
    pos = d.position("matrix_form")
    good = d.steps[pos]
    d.steps[pos] = Step(good.lhs, good.rhs + KroneckerDelta(d.symbols["i"], 2) * d.symbols["dout"][0], good.text,
                        good.kind, good.index, name=good.name)  # wrong at i = 2 only
    assert _both_paths(d, d.steps[pos]) == (False, False)
    with pytest.raises(DerivationError, match=r"\[matrix_form\] .* is not proved"):
        d.check(numbers=False)


def _pick(hi: int) -> Step:
    """Σ_{j=1}^{hi} δ_ij x_j = x_i: true exactly for i in 1..hi."""
    return Step(Sum(KroneckerDelta(I_, J) * X[J], (J, 1, hi)), X[I_], "pick x_i", index=I_, name="pick")


def test_a_delta_out_of_range_is_not_collapsed_for_every_index():
    # i = 4 lies outside 1..3, where the sum is 0: collapsing δ_ij there would "prove" a false step
    d = Derivation("t", [_pick(3)], indices={I_: range(1, 5)})
    assert _both_paths(d, d.steps[0]) == (False, False)
    with pytest.raises(DerivationError, match=r"step \(1\) \[pick\]"):
        d.check(numbers=False)
    # inside the range it collapses, and both paths prove it
    d = Derivation("t", [_pick(3)], indices={I_: range(1, 4)})
    assert _both_paths(d, d.steps[0]) == (True, True)
    assert d.check().checked


def test_ranges_that_disagree_with_the_values_are_not_trusted():
    # the derivation says i in 1..3, but the concrete index takes 1..4: the values decide
    d = Derivation("t", [_pick(3)], indices={I_: range(1, 5)}, ranges={I_: (Integer(1), Integer(3))})
    fast, _ = _both_paths(d, d.steps[0])
    assert not fast
    with pytest.raises(DerivationError, match=r"step \(1\) \[pick\]"):
        d.check(numbers=False)


def test_values_with_gaps_give_no_range():
    # i in {1, 3}: true, but not for the range 1..3 as such; δ_ij is kept and the values are proved one by one
    d = Derivation("t", [_pick(3)], indices={I_: [1, 3]})
    assert _both_paths(d, d.steps[0]) == (False, True)
    assert d.check(numbers=False).checked
    d = Derivation("t", [_pick(3)], indices={I_: [1, 4]})  # false at 4
    assert _both_paths(d, d.steps[0]) == (False, False)
    with pytest.raises(DerivationError):
        d.check(numbers=False)


def test_numbers_take_the_listed_values_of_a_concrete_index():
    # a concrete index given by its values (not a range) is evaluated at those values, not at 1..3
    true_at_2_and_5 = Step((I_ - 2) * (I_ - 5) * X[I_], Integer(0), "zero at 2 and 5", index=I_, name="z")
    assert Derivation("t", [true_at_2_and_5], indices={I_: [2, 5]}).check_numbers() is not None
    wrong_at_5 = Step((I_ - 1) * (I_ - 2) * (I_ - 3) * X[I_], Integer(0), "zero at 1, 2, 3", index=I_, name="w")
    with pytest.raises(DerivationError, match=r"step \(1\) \[w\] .* fails in numbers"):
        Derivation("t", [wrong_at_5], indices={I_: [1, 5]}).check_numbers()


def test_an_entry_at_the_index_is_a_generator_of_its_own():
    # x_i = x_1 holds for i = 1 only: for every index at once it is not proved (x_i is free), value by value it is
    step = Step(X[I_], X[1], "only at 1", index=I_, name="only")
    d = Derivation("t", [step], indices={I_: [1]})
    assert _both_paths(d, step) == (False, True)
    assert d.check(numbers=False).checked  # (check_numbers takes an index listed by values over 1..3)
    d = Derivation("t", [step], indices={I_: range(1, 3)})
    assert _both_paths(d, step) == (False, False)
    with pytest.raises(DerivationError):
        d.check(numbers=False)


def test_two_concrete_indices_are_left_to_the_plain_path():
    step = Step(X[I_] * (X[J] + 1), X[I_] * X[J] + X[I_], "expand", name="two")
    d = Derivation("t", [step], indices={I_: range(1, 3), J: range(1, 3)})
    assert d._claim_for_every_index(step) is None
    with pytest.raises(ValueError, match="more than one concrete index"):
        d.check(numbers=False)


# --------------------------------------------------------------------------- substitution value by value
@pytest.mark.parametrize("n", [2, 4])
def test_replace_each_equals_replace_with_the_whole_mapping(n):
    d = cm.batchnorm_derivation(n, check=False)
    i = d.symbols["i"]
    for name in ("closed_form", "matrix_form", "paper_dx"):
        diff = D._expand_sums(d.difference(d.step(name)), {})
        values = [Integer(v) for v in range(1, n + 1)]
        fast = D._replace_each(diff, d.change, i, values, {}, {})
        assert fast == [D._replace(diff, {**d.change, i: v}, {}) for v in values]
        assert fast == [diff.xreplace({**d.change, i: v}) for v in values]
    with pytest.raises(ValueError):
        D._replace_each(X[I_], {I_: 1}, I_, [Integer(2)], {}, {})


def test_expand_sums_equals_doit_on_nested_sums():
    e = Sum(X[J] * Sum(X[K] * Y[J] - Sum(X[L], (L, 1, 3)) / 3, (K, 1, 3)) + Y[J] * KroneckerDelta(J, 2), (J, 1, 3))
    assert sympy.expand(D.expand_sums(e) - e.doit()) == 0
    # and the very expression main wrote (shared sums expanded once now, the same terms in the same places)
    assert str(D.expand_sums(e)) == (
        "(x[1]*y[1] - x[1] + x[2]*y[1] - x[2] + x[3]*y[1] - x[3])*x[1] + (x[1]*y[2] - x[1] + x[2]*y[2] - x[2] + "
        "x[3]*y[2] - x[3])*x[2] + (x[1]*y[3] - x[1] + x[2]*y[3] - x[2] + x[3]*y[3] - x[3])*x[3] + y[2]")


# --------------------------------------------------------------------------- the ring
def test_memoised_sums_of_shared_terms_equal_plain_sums():
    a, b, c, t = sympy.symbols("a b c t")
    big1, big2 = sympy.expand((a + b + c) ** 3), sympy.expand((a - b) ** 2 * c)
    exprs = [big1 * t + big2 * a + c, big1 * t + big2 * a - c, big1 * t + big2 * b + a, big1 * t + big2 * a + 2 * c]
    tester = D._RingTester(exprs)
    fresh = [D._RingTester([e]).convert(e) for e in exprs]
    for e, want in zip(exprs, fresh):
        got = tester.convert(e)
        assert dict(got) == dict(want)
        assert tester.ring.from_expr(sympy.expand(e)) == got
    # the sum memoised for the shared terms is the same whatever the other terms
    assert tester.is_zero(exprs[0] - exprs[3] + c) and not tester.is_zero(exprs[0] - exprs[1])


# --------------------------------------------------------------------------- numbers
def test_hoisted_sums_give_the_values_of_the_plain_function():
    m = 4
    mu = Sum(X[K], (K, 1, m)) / m
    exprs = [Sum((X[J] - mu) ** 2, (J, 1, m)) / m,
             Sum(X[J] * Sum(X[K] * X[J] - mu, (K, 1, J)), (J, 1, m)),  # the inner sum reads j: not hoisted
             Sum(Y[J] * Sum(X[K], (K, 1, m)) * Sum(X[L] * Y[J], (L, 1, m)), (J, 1, m))]
    plain = sympy.lambdify([X, Y], exprs, modules="math")
    hoisted = sympy.lambdify([X, Y], exprs, modules="math", cse=D._hoist_sums)
    rng = random.Random(3)
    for _ in range(5):
        xs, ys = ([rng.uniform(0.5, 2) for _ in range(m + 2)] for _ in range(2))
        for p, h in zip(plain(xs, ys), hoisted(xs, ys)):
            assert math.isclose(p, h, rel_tol=1e-13)
        subs = {X[a]: xs[a] for a in range(m + 1)} | {Y[a]: ys[a] for a in range(m + 1)}
        for e, h in zip(exprs, hoisted(xs, ys)):
            assert math.isclose(float(e.doit().xreplace(subs)), h, rel_tol=1e-12)
    replacements, reduced = D._hoist_sums(exprs)
    hoisted_sums = [s for _, s in replacements]
    assert Sum(X[K], (K, 1, m)) in hoisted_sums  # μ's sum, computed once
    assert not any(s.has(J) and J in s.free_symbols for s in hoisted_sums)  # nothing that reads an outer j
    assert all(not (s.free_symbols & {J, K, L}) for s in hoisted_sums)


def test_hoisting_never_captures_a_name_already_used():
    s0 = sympy.Symbol("_sum0")
    e = Sum(X[J], (J, 1, 3)) + s0
    replacements, reduced = D._hoist_sums([e])
    assert [str(s) for s, _ in replacements] == ["_sum1"] and reduced[0] == sympy.Symbol("_sum1") + s0
