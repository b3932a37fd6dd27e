"""Layer 6 — derivations as data: an ordered list of steps, each a SymPy equation and a sentence.

A :class:`Derivation` is checked before it is printed: every step that claims an
equality is proved by SymPy, by rewriting both sides into base variables (the
derivation's ``values``) and reducing the difference to zero exactly — first by
expansion in a sparse polynomial ring (memoised over shared subexpressions,
every non-polynomial piece a generator of its own), then, for what does not
vanish there, by ``cancel(together(a - b)) == 0`` — never ``simplify``.
Sums ``Sum(f(j), (j, lo, hi))`` are reduced by linearity to canonical moment
sums (``Σ_j x_j dy_j`` and the like), which then act as independent
generators; ``KroneckerDelta(i, j)`` inside a sum over ``j`` is collapsed only
where ``i`` is known to lie in the sum's range.  A step with a concrete free
index ``i`` (one that takes listed values) is proved so for every value at
once, ``i`` kept a symbol (entries such as ``x[i]`` are generators too); what
does not vanish that way is proved value by value, with concrete sums
written out.  The test is sound: a difference that reduces to zero this way
is zero.

The symbols of a derivation carry their printed names (:class:`NamedSymbol`,
:class:`NamedIndexedBase`), so plain ``sympy.latex(step.rhs)`` reads
``\\hat{x}_{i}``, ``\\mu_{B}``, ``\\frac{\\partial L}{\\partial y_{i}}``.  The
printers live in the export layer (:mod:`convmatrix.export.latex`,
:mod:`convmatrix.export.text`); :meth:`Derivation.latex` and
:meth:`Derivation.text` delegate to them.  Derivations of layers are written
as tables of forward nodes by :mod:`convmatrix.backprop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy
from sympy import Add, Basic, Indexed, IndexedBase, KroneckerDelta, Mul, Sum, Symbol

from ._display import Displayable
from ._validation import InputTypeError, InputValueError, as_expression, as_int, as_names, as_sequence, as_str

__all__ = ["Step", "Derivation", "DerivationError", "NamedSymbol", "NamedIndexedBase", "NamedIndexed",
           "reduce_sums", "expand_sums", "is_zero", "summation_height"]

STEP_KINDS = ("definition", "equality")


class DerivationError(AssertionError):
    """A step of a derivation failed its proof or its test in numbers; the message names it.

    Examples
    --------
    >>> from sympy import symbols
    >>> a = symbols("a")
    >>> try:
    ...     Derivation("t", [Step(a + a, 3 * a, "oops", name="double")]).check()
    ... except DerivationError as exc:
    ...     print(str(exc).splitlines()[0])
    step (1) [double] of 't' is not proved: oops
    """


# --------------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Step(Displayable):
    """One step: ``lhs = rhs`` and the sentence that explains it.

    Parameters
    ----------
    lhs, rhs : sympy.Expr
        The two sides (``Step.from_eq`` takes a ``sympy.Eq``).
    text : str
        One sentence, plain Unicode (``μ``, ``σ``, ``∂``, ``x̂``); LaTeX output
        translates it.
    kind : {"equality", "definition"}
        A definition introduces ``lhs`` and is not proved; an equality is.
    index : sympy.Symbol, optional
        The free index of the step (``i`` in ``∂L/∂x_i = ...``), if any.
    name : str, optional
        A stable key for the step (``"closed_form"``), unique within a
        derivation: :meth:`Derivation.step` looks it up, whatever its position.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> Step(a * (a + b), a**2 + a * b, "expand the product", name="expand").eq
    Eq(a*(a + b), a**2 + a*b)
    """

    lhs: Any
    rhs: Any
    text: str
    kind: str = "equality"
    index: Any = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in STEP_KINDS:
            raise InputValueError(f"kind={self.kind!r} is not one of {STEP_KINDS}", "kind")
        if not isinstance(self.text, str):
            raise InputTypeError(f"text must be a str: got {type(self.text).__name__}", "text")
        if self.name is not None and not isinstance(self.name, str):
            raise InputTypeError(f"name={self.name!r} must be None or a str such as 'closed_form'", "name")
        if self.name is not None and not self.name.isidentifier():
            raise InputValueError(f"name={self.name!r} must be an identifier such as 'closed_form' (letters, digits, _)",
                                  "name")
        object.__setattr__(self, "lhs", as_expression(self.lhs, "lhs"))
        object.__setattr__(self, "rhs", as_expression(self.rhs, "rhs"))

    @classmethod
    def from_eq(cls, eq: sympy.Eq, text: str, kind: str = "equality", index: Any = None,
                name: str | None = None) -> "Step":
        """A step from a ``sympy.Eq``."""
        if not isinstance(eq, sympy.Eq):
            raise InputTypeError(f"eq must be a sympy.Eq: got {type(eq).__name__}", "eq")
        return cls(eq.lhs, eq.rhs, text, kind, index, name)

    @property
    def eq(self) -> sympy.Eq:
        """The step as an unevaluated ``sympy.Eq``."""
        return sympy.Eq(self.lhs, self.rhs, evaluate=False)


# --------------------------------------------------------------------------- proofs
def reduce_sums(expr: Basic, ranges: Mapping[Basic, tuple] | None = None) -> Basic:
    """Rewrite every ``Sum(f, (j, lo, hi))`` by linearity into canonical moment sums.

    Inner sums first; each summand is expanded into terms ``c * g(j)`` with ``c``
    free of ``j``; ``c`` leaves the sum, a term free of ``j`` becomes
    ``c * (hi - lo + 1)``, and what remains is ``Sum(g(J_h), (J_h, lo, hi))``
    over a fixed dummy ``J_h`` chosen by the nesting height ``h`` of the sums
    inside ``g`` (so equal sums compare equal, and an outer dummy never captures
    an inner one).  A factor ``KroneckerDelta(i, j)`` sets ``j = i`` only when
    ``i`` is known to be an integer in ``[lo, hi]`` — from ``ranges`` or from
    SymPy's assumptions; otherwise the sum is kept.

    Parameters
    ----------
    expr : sympy.Expr
    ranges : dict, optional
        Free index -> ``(lo, hi)``: the integers it is known to take (``i`` in
        ``1..m`` for a step stated for every ``i``).

    Returns
    -------
    sympy.Expr
        Equal to ``expr`` (for every index value in ``ranges``).

    Examples
    --------
    >>> from sympy import IndexedBase, KroneckerDelta, Sum, symbols
    >>> x = IndexedBase("x"); i, j, m = symbols("i j m", integer=True, positive=True)
    >>> reduce_sums(Sum(3 * x[j] + 2, (j, 1, m)))
    2*m + 3*Sum(x[_J0], (_J0, 1, m))
    >>> reduce_sums(Sum(KroneckerDelta(i, j) * x[j], (j, 1, m)), ranges={i: (1, m)})
    x[i]
    >>> reduce_sums(Sum(KroneckerDelta(i, j) * x[j], (j, 1, m)))  # i > m is possible: kept
    Sum(KroneckerDelta(_J0, i)*x[_J0], (_J0, 1, m))
    """
    if not expr.has(Sum):
        return expr
    rng = {} if ranges is None else {k: tuple(sympy.sympify(v) for v in r) for k, r in ranges.items()}
    return _reduce(expr, rng)


def _reduce(expr: Basic, ranges: dict) -> Basic:
    if not expr.has(Sum):
        return expr
    if isinstance(expr, Sum):
        body = _reduce(expr.function, ranges)
        for limit in reversed(expr.limits):
            body = _reduce_one(body, *limit, ranges)
        return body
    return expr.func(*[_reduce(a, ranges) for a in expr.args])


_DUMMIES: dict = {}  # (height, integer) -> Dummy; the canonical summation variables
_HEIGHT: dict = {}  # Dummy -> height


def _dummy(height: int, integer: bool) -> sympy.Dummy:
    d = _DUMMIES.get((height, integer))
    if d is None:
        d = sympy.Dummy(f"J{height}", integer=True) if integer else sympy.Dummy(f"J{height}")
        _DUMMIES[(height, integer)] = d
        _HEIGHT[d] = height
    return d


def _height(expr: Basic) -> int:
    """One more than the largest height of the (reduced) sums in ``expr``; 0 without sums."""
    return max((_HEIGHT.get(s.limits[0][0], -1) + 1 for s in expr.atoms(Sum)), default=0)


def _in_range(i: Basic, lo: Basic, hi: Basic, ranges: dict) -> bool:
    """Whether ``i`` is known to be an integer with ``lo <= i <= hi`` (``lo`` an integer)."""
    if lo.is_integer is not True:
        return False
    if i in ranges:
        rlo, rhi = ranges[i]
        if rlo.is_integer and (rlo - lo).is_nonnegative is True and (hi - rhi).is_nonnegative is True:
            return True
    return i.is_integer is True and (i - lo).is_nonnegative is True and (hi - i).is_nonnegative is True


def _reduce_one(body: Basic, j: Symbol, lo: Basic, hi: Basic, ranges: dict) -> Basic:
    out = []
    for term in Add.make_args(sympy.expand(body)):
        const, dep = [], []
        for f in Mul.make_args(term):
            (dep if f.has(j) else const).append(f)
        c = Mul(*const)
        if not dep:
            out.append(c * (hi - lo + 1))
            continue
        hit = None
        for f in dep:
            if isinstance(f, KroneckerDelta) and j in f.args:
                other = f.args[1] if f.args[0] == j else f.args[0]
                if not other.has(j) and _in_range(other, lo, hi, ranges):
                    hit = f, other
                    break
        if hit is not None:
            d, other = hit
            rest = [f for f in dep if f is not d]
            out.append(c * Mul(*rest).xreplace({j: other}))
            continue
        g = Mul(*dep)
        J = _dummy(_height(g), lo.is_integer is True)
        out.append(c * Sum(g.xreplace({j: J}), (J, lo, hi)))
    return Add(*out)


def expand_sums(expr: Basic) -> Basic:
    """Write out every ``Sum`` with numeric limits as an ``Add`` (inner sums first).

    A fast ``Sum.doit()`` for concrete limits: no summation formulas are tried.
    Shared subexpressions are expanded once.

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, symbols
    >>> x = IndexedBase("x"); j = symbols("j", integer=True)
    >>> expand_sums(Sum(x[j] ** 2, (j, 1, 3)))
    x[1]**2 + x[2]**2 + x[3]**2
    """
    return _expand_sums(expr, {})


def _expand_sums(expr: Basic, cache: dict) -> Basic:
    """:func:`expand_sums` with a cache of expanded subexpressions shared between calls."""

    def walk(e):
        hit = cache.get(e)
        if hit is not None:
            return hit
        if not e.args or not e.has(Sum):
            out = e
        elif isinstance(e, Sum):
            body = walk(e.function)
            out = None
            for j, lo, hi in reversed(e.limits):
                if not (lo.is_Integer and hi.is_Integer):
                    out = e.func(body, *e.limits)
                    break
                body = Add(*_replace_each(body, {}, j, [sympy.Integer(v) for v in range(int(lo), int(hi) + 1)],
                                          {}, _occurrences(cache, j)))
            out = body if out is None else out
        else:
            out = e.func(*[walk(a) for a in e.args])
        cache[e] = out
        return out

    return walk(expr)


def _replace(expr: Basic, mapping: dict, cache: dict) -> Basic:
    """``expr.xreplace(mapping)`` with shared subexpressions rewritten once (``cache`` per mapping)."""

    def walk(e):
        if e in mapping:
            return mapping[e]
        if not e.args:
            return e
        hit = cache.get(e)
        if hit is not None:
            return hit
        args = [walk(a) for a in e.args]
        out = e.func(*args) if any(a is not b for a, b in zip(args, e.args)) else e
        cache[e] = out
        return out

    return walk(expr)


def _occurrences(caches: dict, key: Basic) -> dict:
    """The memo of :func:`_contains` for ``key``, kept in ``caches`` (shared between calls)."""
    return caches.setdefault(("occurs", key), {})


def _contains(expr: Basic, key: Basic, memo: dict) -> bool:
    """Whether ``key`` is ``expr`` or one of its subexpressions (``expr.has(key)``, memoised over shared ones)."""
    hit = memo.get(expr)
    if hit is not None:
        return hit
    out = expr == key or any(_contains(a, key, memo) for a in expr.args)
    memo[expr] = out
    return out


def _replace_each(expr: Basic, fixed: dict, key: Basic, values, fixed_cache: dict, occurs: dict,
                  caches: Mapping | None = None) -> list:
    """``[_replace(expr, {**fixed, key: v}, ...) for v in values]``, walking the part free of ``key`` once.

    A subexpression that does not contain ``key`` is rewritten the same way for
    every value (by ``fixed`` alone), so it is rewritten once, with
    ``fixed_cache``; only the subexpressions that contain ``key`` are rewritten
    per value (with ``caches[v]``, a fresh cache by default).  Each result is
    exactly that of :func:`_replace` with the whole mapping.  ``occurs`` is the
    memo of :func:`_contains` for ``key``.
    """
    if key in fixed:
        raise ValueError(f"{key} is both fixed and varying")

    def each(v, cache):
        mapping = {**fixed, key: v}

        def walk(e):
            if e in mapping:
                return mapping[e]
            if not e.args:
                return e
            if not _contains(e, key, occurs):
                return _replace(e, fixed, fixed_cache) if fixed else e
            hit = cache.get(e)
            if hit is not None:
                return hit
            args = [walk(a) for a in e.args]
            out = e.func(*args) if any(a is not b for a, b in zip(args, e.args)) else e
            cache[e] = out
            return out

        return walk(expr)

    return [each(v, {} if caches is None else caches.setdefault(v, {})) for v in values]


def is_zero(expr: Basic, ranges: Mapping[Basic, tuple] | None = None) -> bool:
    """Whether ``expr`` is identically zero, by ``cancel(together(reduce_sums(expr, ranges))) == 0``.

    Sound (a True is a proof) and fast; a False means "not proved this way".
    ``ranges`` (free index -> ``(lo, hi)``) restricts the claim to those index
    values, see :func:`reduce_sums`.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> is_zero(1 / (a * b) - (1 / a) * (1 / b)), is_zero(a - b)
    (True, False)
    """
    e = reduce_sums(sympy.sympify(expr), ranges)
    if e == 0:
        return True
    return sympy.cancel(sympy.together(e)) == 0


class _RingTester:
    """Zero test by expansion in a sparse polynomial ring, memoised over shared subexpressions.

    Every subexpression that is not a sum, product or non-negative integer power
    (``1/a``, ``sqrt(a)``, ``Sum(...)``) becomes a generator of its own, so a zero
    found here is a proof; a non-zero may still be zero (use ``cancel``).
    """

    def __init__(self, exprs):
        atoms: set = set()
        seen: set = set()
        stack = list(exprs)
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            if e.is_Add or e.is_Mul:
                stack.extend(e.args)
            elif e.is_Pow and e.exp.is_Integer and e.exp >= 0:
                stack.append(e.base)
            elif not e.is_Rational:
                atoms.add(e)
        gens = sorted(atoms, key=sympy.default_sort_key) or [Symbol("_unused")]
        self.ring, *elems = sympy.polys.rings.ring(gens, sympy.QQ)
        self.gens = dict(zip(gens, elems))
        self.cache: dict = {}
        self.sums: dict = {}  # frozenset of terms -> the polynomial of their sum

    def convert(self, e):
        hit = self.cache.get(e)
        if hit is not None:
            return hit
        if e.is_Rational:
            out = self.ring(e)
        elif e.is_Add:
            # the polynomials of several terms met before (shared between the claims of a step: the part free of
            # its index) are added once, and their sum remembered by the set of them; the other terms are added
            # one by one.  Addition is exact, so any grouping gives the same polynomial.
            seen = [a for a in e.args if len(self.cache.get(a, ())) > 1]
            if len(seen) > 1:
                rest = set(seen)
                out = self._sum([a for a in e.args if a not in rest], self._sum(seen))
            else:
                out = self._sum(list(e.args), self.ring.zero)
        elif e.is_Mul:
            out = self.ring.one
            for a in e.args:
                out = out * self.convert(a)
        elif e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            out = self.convert(e.base) ** int(e.exp)
        else:
            out = self.gens[e]
        self.cache[e] = out
        return out

    def _sum(self, terms: list, start=None):
        """The sum of the polynomials of ``terms`` (and ``start``), added in place; several seen terms memoised."""
        if start is None and len(terms) > 1 and all(a in self.cache for a in terms):
            key = frozenset(terms)
            hit = self.sums.get(key)
            if hit is None:
                hit = self.sums[key] = self._sum(terms, self.ring.zero)
            return hit
        out = self.ring.zero.copy() if start is None else start.copy()
        for a in terms:
            for monom, coeff in self.convert(a).items():
                total = out.get(monom)
                if total is None:
                    out[monom] = coeff
                else:
                    total = total + coeff
                    if total:
                        out[monom] = total
                    else:
                        del out[monom]
        return out

    def is_zero(self, e) -> bool:
        return not self.convert(e)


# --------------------------------------------------------------------------- symbols that carry their names
def summation_height(symbol: Basic) -> int | None:
    """The nesting height of a canonical summation dummy made by :func:`reduce_sums` (``None`` for others).

    Printers name the dummies by it (``k``, ``l``, ``p``, ``q``, ...), so that
    nested sums never print the same index.

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, symbols
    >>> x = IndexedBase("x"); j, m = symbols("j m", integer=True)
    >>> d = reduce_sums(Sum(x[j], (j, 1, m))).limits[0][0]
    >>> summation_height(d), summation_height(j)
    (0, None)
    """
    return _HEIGHT.get(symbol)


def _check_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputTypeError(f"{name}={value!r} must be a non-empty str", name)
    return value


class NamedSymbol(Symbol):
    """A SymPy ``Symbol`` that carries its printed names: LaTeX and terminal text.

    ``sympy.latex`` prints it by its LaTeX name (the ``_latex`` hook), so any
    expression of a derivation prints readably without a side table; the
    terminal printer of :mod:`convmatrix.export.text` uses the text name.
    ``str`` and ``repr`` keep the plain ``name``.  Two named symbols are equal
    when their names, printed names and assumptions are.

    Parameters
    ----------
    name : str
        The SymPy name (``"mu_B"``).
    latex : str, optional
        LaTeX, math mode (``r"\\mu_{B}"``); default ``name``.
    text : str, optional
        Unicode for terminals (``"μ_B"``); default ``name``.
    **assumptions
        As :class:`sympy.Symbol` (``positive=True``).

    Raises
    ------
    TypeError
        A name that is not a non-empty str.

    Examples
    --------
    >>> import sympy
    >>> mu = NamedSymbol("mu_B", r"\\mu_{B}", "μ_B")
    >>> sympy.latex(2 * mu), str(mu)
    ('2 \\\\mu_{B}', 'mu_B')
    """

    def __new__(cls, name: str, latex: str | None = None, text: str | None = None, **assumptions):
        _check_name(name, "name")
        latex = name if latex is None else _check_name(latex, "latex")
        text = name if text is None else _check_name(text, "text")
        cls._sanitize(assumptions, cls)
        obj = Symbol.__xnew__(cls, name, **assumptions)  # not the name-keyed cache: the printed names count
        obj.latex_name, obj.text_name = latex, text
        return obj

    @classmethod
    def class_key(cls):
        return Symbol.class_key()  # sorted (and so printed) among plain symbols, by name

    def _hashable_content(self):
        return super()._hashable_content() + (self.latex_name, self.text_name)

    def __getnewargs_ex__(self):
        return ((self.name, self.latex_name, self.text_name), self._assumptions_orig)

    def _latex(self, printer=None) -> str:
        return self.latex_name


class NamedIndexed(Indexed):
    """An entry ``x[i]`` of a :class:`NamedIndexedBase`: prints by the base's names, the index put in its place."""

    @classmethod
    def class_key(cls):
        return Indexed.class_key()

    def _latex(self, printer=None) -> str:
        printer = printer or _default_latex_printer()
        return _with_index(self.base.label.latex_name, ",".join(printer._print(i) for i in self.indices), "_{%s}")


class NamedIndexedBase(IndexedBase):
    """A SymPy ``IndexedBase`` whose entries print by a name with a place for the index.

    The printed names may contain ``@``, where the index goes
    (``r"\\frac{\\partial L}{\\partial y_{@}}"``); without ``@`` the index is a
    subscript.  The names live on the label, a :class:`NamedSymbol`, so every
    SymPy operation that rebuilds the base keeps them.

    Parameters
    ----------
    label : str or NamedSymbol
    latex, text : str, optional
        As :class:`NamedSymbol` (ignored when ``label`` is a NamedSymbol).
    **assumptions
        As :class:`sympy.IndexedBase`.

    Examples
    --------
    >>> import sympy
    >>> i = sympy.Symbol("i")
    >>> dy = NamedIndexedBase("dy", r"\\frac{\\partial L}{\\partial y_{@}}", "∂L/∂y_@")
    >>> sympy.latex(dy[i]), str(dy[i])
    ('\\\\frac{\\\\partial L}{\\\\partial y_{i}}', 'dy[i]')
    """

    @classmethod
    def class_key(cls):
        return IndexedBase.class_key()

    def __new__(cls, label, latex: str | None = None, text: str | None = None, **assumptions):
        if not isinstance(label, NamedSymbol):
            label = NamedSymbol(_check_name(label, "label"), latex, text)
        return super().__new__(cls, label, **assumptions)

    def __getitem__(self, indices, **kw_args):
        indices = tuple(indices) if isinstance(indices, (tuple, list)) else (indices,)
        return NamedIndexed(self, *indices, **kw_args)

    @property
    def latex_name(self) -> str:
        """The LaTeX name with its place for the index."""
        return self.label.latex_name

    @property
    def text_name(self) -> str:
        """The terminal name with its place for the index."""
        return self.label.text_name

    def _latex(self, printer=None) -> str:
        return _with_index(self.label.latex_name, "", "")


def _with_index(name: str, index: str, subscript: str) -> str:
    """``name`` with ``index`` at its ``@`` (an empty index also drops a ``_{@}``), else as ``subscript``."""
    if "@" in name:
        return name.replace("_{@}", "").replace("@", "") if not index else name.replace("@", index)
    return name + (subscript % index if index else "")


def _default_latex_printer():
    from sympy.printing.latex import LatexPrinter

    return LatexPrinter()


# --------------------------------------------------------------------------- derivation
@dataclass
class Derivation(Displayable):
    """An ordered list of :class:`Step`, with what is needed to print and prove it.

    Parameters
    ----------
    title : str
    steps : list of Step
    latex_names, text_names : dict, optional
        Readable names for plain Symbols and IndexedBases (``@`` marks where an
        IndexedBase's index goes).  A :class:`NamedSymbol` or
        :class:`NamedIndexedBase` carries its own, so that plain
        ``sympy.latex(step.rhs)`` prints it readably; these dicts name the
        others (a user's ``Symbol("epsilon")``) and override.
    values : dict, optional
        Symbol -> expression in the base variables, and IndexedBase -> callable
        ``index -> expression``: what every non-base symbol stands for.
    indices : dict, optional
        Free index symbol -> the concrete values it takes (e.g. ``range(1, 5)``);
        an index not listed is general.
    ranges : dict, optional
        General free index -> ``(lo, hi)``, the integers it takes (``i`` in
        ``1..m``): a step in ``i`` is claimed, and proved, for those values only
        (this lets ``KroneckerDelta(i, j)`` collapse in a sum over ``1..m``; see
        :func:`reduce_sums`).  A ``range`` in ``indices`` gives its own.
    change : dict, optional
        An invertible change of the base variables applied before the zero
        test (e.g. centred coordinates, or ``s -> 1/t``), to keep expansions small.
    sections : dict, optional
        Step name -> a heading printed before that step (``"Backward pass"``).
    results : tuple of str, optional
        Names of the steps that are the derivation's results, set apart when
        printed (boxed in LaTeX).

    Raises
    ------
    TypeError, ValueError
        Steps that are not :class:`Step`, a name used twice, ranges that are
        not pairs, sections or results naming no step.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b, s = symbols("a b s")
    >>> d = Derivation("square of a sum", [
    ...     Step(s, a + b, "name the sum", kind="definition", name="s"),
    ...     Step(s**2, a**2 + 2*a*b + b**2, "expand", name="expand")], values={s: a + b})
    >>> d.check()
    Derivation('square of a sum', 2 steps, checked)
    >>> d.step("expand") is d.steps[1]  # a step by its name
    True
    >>> print(d.text())
    square of a sum
    (1) name the sum
        s = a + b
    (2) expand
        s**2 = a**2 + 2*a*b + b**2
    """

    title: str
    steps: list
    latex_names: dict = field(default_factory=dict)
    text_names: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    indices: dict = field(default_factory=dict)
    change: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)
    results: tuple = ()
    _proved: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise InputTypeError(f"title={self.title!r} must be a str", "title")
        self.steps = list(as_sequence(self.steps, "steps", "Step objects"))
        bad = [s for s in self.steps if not isinstance(s, Step)]
        if bad:
            raise InputTypeError(f"steps must be Step objects: got {type(bad[0]).__name__}", "steps")
        for name in ("latex_names", "text_names", "values", "indices", "change", "ranges", "sections"):
            if not isinstance(getattr(self, name), Mapping):
                raise InputTypeError(f"{name} must be a dict, not a {type(getattr(self, name)).__name__}", name)
        for index, r in self.ranges.items():
            if not (isinstance(r, tuple) and len(r) == 2):
                raise InputTypeError(f"ranges[{index}]={r!r} must be a pair (lo, hi)", "ranges")
        self.results = as_names(self.results, "results")
        names = self._names()
        for what, keys in (("sections", self.sections), ("results", self.results)):
            unknown = [k for k in keys if k not in names]
            if unknown:
                raise InputValueError(f"{what} names {unknown[0]!r}, which is not a step of {self.title!r}", what)

    def _names(self) -> dict:
        """Step name -> position; refuses a name used twice."""
        names: dict = {}
        for n, s in enumerate(self.steps):
            if s.name is None:
                continue
            if s.name in names:
                raise InputValueError(f"steps: the name {s.name!r} is used by steps ({names[s.name] + 1}) and "
                                      f"({n + 1}); names must be unique", "steps")
            names[s.name] = n
        return names

    def position(self, name: str) -> int:
        """The position in :attr:`steps` (from 0) of the step called ``name``.

        Raises
        ------
        ValueError
            No step has that name (the message lists the names), or two have.
        """
        names = self._names()
        as_str(name, "name", rule="must be a step name (a str)")
        if name not in names:
            raise InputValueError(f"name={name!r} is not a step of {self.title!r}: the step names are "
                                  f"{', '.join(map(repr, names)) or '(none)'}", "name")
        return names[name]

    def step(self, name: str) -> Step:
        """The step called ``name`` (see :attr:`Step.name`); :meth:`position` gives its place."""
        return self.steps[self.position(name)]

    def __repr__(self) -> str:
        state = "checked" if self.checked else "not checked"
        return f"Derivation({self.title!r}, {len(self.steps)} steps, {state})"

    @property
    def checked(self) -> bool:
        """Whether :meth:`check` has proved the current list of steps."""
        return self._proved is not None and self._proved == tuple(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    # ------------------------------------------------------------------ proving
    def to_base(self, expr: Basic) -> Basic:
        """Replace every symbol listed in ``values`` by what it stands for (one pass)."""
        sym = {k: v for k, v in self.values.items() if not isinstance(k, IndexedBase)}
        vec = {k: v for k, v in self.values.items() if isinstance(k, IndexedBase)}
        expr = sympy.sympify(expr)
        if vec:
            expr = expr.replace(lambda e: isinstance(e, Indexed) and e.base in vec,
                                lambda e: vec[e.base](*e.indices))
        return expr.xreplace(sym) if sym else expr

    def difference(self, step: Step) -> Basic:
        """``lhs - rhs`` of an equality step, in base variables."""
        return self.to_base(step.lhs) - self.to_base(step.rhs)

    def _claims(self, step: Step, caches: dict | None = None) -> list:
        """The differences to prove for one step: one per value of a concrete index."""
        caches = {} if caches is None else caches
        ranges = {i: (v.start, v.stop - 1) for i, v in self.indices.items()
                  if isinstance(v, range) and v.step == 1 and len(v)} | dict(self.ranges)
        diff = reduce_sums(_expand_sums(self.difference(step), caches.setdefault("sums", {})), ranges)
        concrete = [(i, vals) for i, vals in self.indices.items() if diff.has(i)]
        if len(concrete) > 1:
            raise ValueError(f"steps with more than one concrete index are not supported: {list(self.indices)}")
        if not concrete:
            return [_replace(diff, self.change, caches.setdefault(None, {}))]
        i, vals = concrete[0]
        return _replace_each(diff, self.change, i, [sympy.Integer(v) for v in vals], caches.setdefault(None, {}),
                             _occurrences(caches, i), caches)

    def _claim_for_every_index(self, step: Step, caches: dict | None = None) -> Basic | None:
        """The difference to prove for one step at every value of its concrete index at once, or ``None``.

        The index stays a symbol, and the sums are reduced by linearity
        (:func:`reduce_sums`) instead of written out, as for general sizes:
        ``KroneckerDelta(i, j)`` collapses only when the index's values are
        exactly the integers of a range inside the sum's limits.  Every entry
        at the index (``x[i]``) and every reduced sum is then a generator of
        its own, so a zero found for this one difference is zero whatever
        values they take, at every value of the index in particular: a proof
        of every claim of :meth:`_claims` at once.  ``None`` for a step with
        more than one concrete index (:meth:`_claims` decides those).
        """
        caches = {} if caches is None else caches
        concrete = {i: (v.start, v.stop - 1) for i, v in self.indices.items()
                    if isinstance(v, range) and v.step == 1 and len(v)}
        ranges = {i: r for i, r in self.ranges.items() if i not in self.indices} | concrete
        diff = reduce_sums(self.difference(step), ranges)
        if sum(1 for i in self.indices if diff.has(i)) > 1:
            return None
        return _replace(diff, self.change, caches.setdefault(None, {}))

    def prove(self, step: Step) -> bool:
        """Whether SymPy proves the step (definitions are true by definition).

        Each difference, in base variables, is expanded in a polynomial ring
        (every non-polynomial subexpression a generator of its own); what does
        not vanish there gets ``cancel(together(...))``.  A step with a
        concrete index is proved first for every index value at once, with the
        index a symbol and the sums reduced by linearity; where that does not
        vanish, at every index value, with the sums written out.

        Raises
        ------
        TypeError
            ``step`` is not a :class:`Step`.
        """
        if not isinstance(step, Step):
            raise InputTypeError(f"step must be a Step, not a {type(step).__name__}", "step")
        if step.kind == "definition":
            return True
        every = self._claim_for_every_index(step)
        if every is not None and _proved([every], _RingTester([every])):
            return True
        claims = self._claims(step)
        return _proved(claims, _RingTester(claims))

    def check(self, numbers: bool = True) -> "Derivation":
        """Prove every equality step, and test it in numbers; raise on the first that fails.

        Parameters
        ----------
        numbers : bool, optional
            Also evaluate every equality at random points (:meth:`check_numbers`),
            a test independent of the symbolic proof.

        Returns
        -------
        Derivation
            ``self``, marked ``checked``.

        Raises
        ------
        DerivationError
            Naming the first step that SymPy does not prove or that fails in numbers.
        """
        caches: dict = {}
        equalities = [n for n, s in enumerate(self.steps) if s.kind != "definition"]
        every = {n: self._claim_for_every_index(self.steps[n], caches) for n in equalities}
        tester = _RingTester([e for e in every.values() if e is not None])
        left = [n for n in equalities if every[n] is None or not _proved([every[n]], tester)]
        claims = {n: self._claims(self.steps[n], caches) for n in left}  # at every index value, sums written out
        tester = _RingTester([e for c in claims.values() for e in c])
        for n, claim in claims.items():
            if not _proved(claim, tester):
                step, n = self.steps[n], n + 1
                raise DerivationError(f"step ({n}){self._label(step)} of {self.title!r} is not proved: {step.text}\n"
                                      f"  {self.text_of(step.lhs)} = {self.text_of(step.rhs)}")
        if numbers:
            self.check_numbers()
        self._proved = tuple(self.steps)
        return self

    @staticmethod
    def _label(step: Step) -> str:
        return f" [{step.name}]" if step.name else ""

    def check_numbers(self, points: int = 3, seed: int = 0, sizes: tuple = (1, 2, 5)) -> "Derivation":
        """Evaluate every equality step at random points, in floating point.

        Each side is written in the base variables (:attr:`values`) and compiled
        with :func:`sympy.lambdify` (sums become loops); general sizes (a symbol
        in a sum's limits, such as ``m``) take each value in ``sizes``, general
        indices every value in their :attr:`ranges` (one at random when there
        are more than :attr:`EVERY_INDEX_UP_TO`), concrete indices each of their
        :attr:`indices`, and every other symbol or indexed entry a random number
        in ``[0.5, 2]`` (square roots and denominators stay real and nonzero; a
        point where a step divides by zero is skipped).  A test independent of
        the symbolic proof.  The tolerance is relative to the sides' size, so a
        step with large cancelling terms could fail spuriously.

        Parameters
        ----------
        points : int, optional
            Random points per step and size.
        seed : int, optional
        sizes : tuple of int, optional
            The values a general size takes.

        Returns
        -------
        Derivation
            ``self``.

        Raises
        ------
        DerivationError
            Naming the first step whose sides differ by more than ``1e-9``
            relative to their size.

        Examples
        --------
        >>> from sympy import symbols
        >>> a, b = symbols("a b")
        >>> Derivation("wrong", [Step((a + b)**2, a**2 + b**2, "forgot 2ab")]).check_numbers()
        Traceback (most recent call last):
            ...
        convmatrix.derivation.DerivationError: step (1) of 'wrong' fails in numbers: forgot 2ab
          (a + b)**2 = a**2 + b**2, but at a = 1.767, b = 1.637 the sides are 11.58 and 5.801
        """
        import random

        points = as_int(points, "points", minimum=1)
        seed = as_int(seed, "seed", minimum=0)
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise InputValueError(f"sizes={sizes!r} must be one or more positive integers", "sizes")
        sizes = tuple(as_int(v, "sizes", minimum=1) for v in sizes)
        rng = random.Random(seed)
        ranges = {i: (v.start, v.stop - 1) for i, v in self.indices.items()
                  if isinstance(v, range) and v.step == 1 and len(v)} | dict(self.ranges)
        compiled: dict = {}
        for n, step in enumerate(self.steps, start=1):
            if step.kind == "definition":
                continue
            lhs, rhs = self.to_base(step.lhs), self.to_base(step.rhs)
            both = sympy.Tuple(lhs, rhs)
            sums = both.atoms(Sum)
            general = sorted({a for sm in sums for lim in sm.limits for a in lim[2].free_symbols}
                             | {a for i, (lo, hi) in ranges.items() if both.has(i)
                                for a in sympy.sympify(hi).free_symbols}, key=str)
            bases = sorted(both.atoms(IndexedBase), key=str)
            labels = {b.label for b in bases}
            scalars = sorted((both.free_symbols - labels - set(general)) - {a for a in both.free_symbols
                                                                           if isinstance(a, Indexed)}, key=str)
            # a free symbol used as an index but not declared: an index over 1..(the size, or 3)
            undeclared = {a for e in both.atoms(Indexed) for a in e.indices if isinstance(a, Symbol)
                          and a in scalars and a not in ranges and a not in self.indices}
            step_ranges = ranges | {a: (1, general[0] if general else 3) for a in undeclared}
            tops = [lim[2] for sm in sums for lim in sm.limits]
            f = _compiled([*bases, *general, *scalars], lhs, rhs, compiled)
            evaluated = 0
            for size in (sizes if general else (None,)):
                size_map = {g: size for g in general}
                top = max([int(sympy.sympify(t).xreplace(size_map)) for t in tops], default=0)
                for index_map in self._index_values(both, size_map, step_ranges, rng):
                    for _ in range(points):
                        evaluated += self._compare_at(n, step, f, bases, general, scalars, size_map, index_map,
                                                      top, rng)
            if not evaluated:
                raise DerivationError(f"step ({n}){self._label(step)} of {self.title!r} cannot be evaluated at "
                                      f"any point (sizes={sizes}): every point divides by zero")
        return self

    #: A general index whose range has at most this many values takes every one of them.
    EVERY_INDEX_UP_TO = 8

    def _index_values(self, expr: Basic, size_map: dict, ranges: dict, rng) -> list:
        """The index assignments to try: every value of a short range, else one at random."""
        out = [{}]
        for i, values in self.indices.items():  # a concrete index given by its values (not a range): each of them
            if i not in ranges and expr.has(i):
                out = [{**o, i: int(v)} for o in out for v in values]
        for i, (lo, hi) in ranges.items():
            if not expr.has(i):
                continue
            lo_v, hi_v = (int(sympy.sympify(b).xreplace(size_map)) for b in (lo, hi))
            if hi_v < lo_v:
                continue
            if i in self.indices or hi_v - lo_v < self.EVERY_INDEX_UP_TO:
                out = [{**o, i: v} for o in out for v in range(lo_v, hi_v + 1)]
            else:
                out = [{**o, i: rng.randint(lo_v, hi_v)} for o in out]
        return out

    def _compare_at(self, n, step, f, bases, general, scalars, size_map, index_map, top, rng) -> int:
        """Evaluate one random point; 1 if it was compared, 0 where the step is undefined (a zero divisor)."""
        length = 2 + max([top, *size_map.values(), *index_map.values(),
                          *(len(r) for r in self.indices.values() if isinstance(r, range))], default=0)
        arrays = [[rng.uniform(0.5, 2.0) for _ in range(length + 1)] for _ in bases]
        values = [index_map[s] if s in index_map else rng.uniform(0.5, 2.0) for s in scalars]
        try:
            left, right = f(*arrays, *[size_map[g] for g in general], *values)
        except ZeroDivisionError:
            return 0
        except (ValueError, OverflowError, TypeError, IndexError) as exc:
            raise DerivationError(f"step ({n}){self._label(step)} of {self.title!r} cannot be evaluated in "
                                  f"numbers: {type(exc).__name__}: {exc}") from None
        if abs(left - right) > 1e-9 * (1 + abs(left) + abs(right)):
            at = [f"{self.text_of(s)} = {v:.4g}" for s, v in zip(scalars, values)]
            at += [f"{self.text_of(g)} = {size_map[g]}" for g in general]
            raise DerivationError(
                f"step ({n}){self._label(step)} of {self.title!r} fails in numbers: {step.text}\n"
                f"  {self.text_of(step.lhs)} = {self.text_of(step.rhs)}, but at {', '.join(at)} "
                f"the sides are {left:.4g} and {right:.4g}"
            )
        return 1

    # ------------------------------------------------------------------ printing (by the export layer)
    def latex_of(self, expr: Basic) -> str:
        """One expression in LaTeX (math mode) with the derivation's names; see :func:`convmatrix.to_latex`."""
        from .export.latex import expression_latex

        return expression_latex(expr, self.latex_names)

    def text_of(self, expr: Basic) -> str:
        """One expression as terminal text with the derivation's names."""
        from .export.text import expression_text

        return expression_text(expr, self.text_names)

    def latex(self, **settings) -> str:
        """Every step as LaTeX for a document: each sentence a paragraph, each equation a display.

        Proves the steps first if they are not proved yet (:meth:`check`).
        Equation numbers go on the claims (equalities) only, each labelled
        by its step's name (``\\eqref{closed_form}``); definitions are
        unnumbered.  ``settings`` are those of :func:`convmatrix.to_latex`.

        Raises
        ------
        TypeError, ValueError
            An unknown or bad setting.
        DerivationError
            A step that fails its proof.
        """
        from .export.latex import to_latex

        return to_latex(self, **settings)

    def text(self) -> str:
        """Every step as plain text for terminals: the sentence, then ``lhs = rhs`` indented.

        Proves the steps first if they are not proved yet (:meth:`check`).
        """
        from .export.text import derivation_text

        return derivation_text(self)

    def __str__(self) -> str:
        return self.text()


def _compiled(args: list, lhs: Basic, rhs: Basic, cache: dict):
    """``lambdify(args, [lhs, rhs])`` (closed sums computed once, :func:`_hoist_sums`), remembered in ``cache``.

    Sides that are the same expression (a step whose right side is what its
    left side stands for) are compiled once: the function computes that side
    and returns it twice, which is what the function of both would return (or
    raise), since the same code computes the same value.
    """
    key = (tuple(args), lhs, rhs)
    f = cache.get(key)
    if f is None:
        if lhs == rhs:
            one = sympy.lambdify(args, [lhs], modules="math", cse=_hoist_sums)

            def f(*values):
                value = one(*values)[0]
                return value, value
        else:
            f = sympy.lambdify(args, [lhs, rhs], modules="math", cse=_hoist_sums)
        cache[key] = f
    return f


def _hoist_sums(exprs: list) -> tuple[list, list]:
    """A ``cse`` for :func:`sympy.lambdify`: every sum that binds none of the variables of the sums around it.

    Such a sum has one value wherever it occurs (its own summation index is
    bound inside it), so the compiled function computes it once, before the
    expressions, instead of once per term of every sum around it (a nested
    ``Σ_j (x_j - Σ_k x_k/m)`` costs m terms instead of m²).  Inner sums are
    hoisted first; equal sums share one variable.  Nothing else changes: the
    function computes the same values (the same sums, added in the same order).

    Returns
    -------
    (replacements, reduced)
        As :func:`sympy.cse`: ``[(symbol, sum), ...]`` in the order to compute
        them, and ``exprs`` with those sums replaced.

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, symbols
    >>> x = IndexedBase("x"); j, k = symbols("j k", integer=True)
    >>> inner = Sum(x[k], (k, 1, 3))
    >>> _hoist_sums([Sum(x[j] - inner, (j, 1, 3))])
    ([(_sum0, Sum(x[k], (k, 1, 3))), (_sum1, Sum(-_sum0 + x[j], (j, 1, 3)))], [_sum1])
    """
    taken = {str(a) for e in exprs for a in e.free_symbols}
    names = (f"_sum{n}" for n in range(10**9))
    found: dict = {}  # hoisted sum -> its symbol, in the order found (inner first)
    memo: dict = {}

    def walk(e: Basic, bound: frozenset) -> Basic:
        if not e.args or not e.has(Sum):
            return e
        key = (e, bound)
        hit = memo.get(key)
        if hit is not None:
            return hit
        if isinstance(e, Sum):
            inner = bound | {lim[0] for lim in e.limits}
            function = walk(e.function, inner)
            limits = [sympy.Tuple(*(walk(a, inner) for a in lim)) for lim in e.limits]  # conservative
            out = e.func(function, *limits) if function is not e.function or limits != list(e.limits) else e
            if not (out.free_symbols & bound):
                sym = found.get(out)
                if sym is None:
                    name = next(names)
                    while name in taken:
                        name = next(names)
                    sym = found[out] = Symbol(name)
                out = sym
        else:
            args = [walk(a, bound) for a in e.args]
            out = e.func(*args) if any(a is not b for a, b in zip(args, e.args)) else e
        memo[key] = out
        return out

    reduced = [walk(e, frozenset()) for e in exprs]
    return [(s, e) for e, s in found.items()], reduced


def _proved(claims: list, tester: _RingTester) -> bool:
    """Whether every difference in ``claims`` is zero: in the ring first, else by ``cancel(together(...))``."""
    return all(tester.is_zero(e) or is_zero(e) for e in claims)
