"""Layer 6 — derivations as data: an ordered list of steps, each a SymPy equation and a sentence.

A :class:`Derivation` is checked before it is printed: every step that claims an
equality is proved by SymPy, by rewriting both sides into base variables (the
derivation's ``values``) and reducing the difference to zero exactly — first by
expansion in a sparse polynomial ring (memoised over shared subexpressions,
every non-polynomial piece a generator of its own), then, for what does not
vanish there, by ``cancel(together(a - b)) == 0`` — never ``simplify``.  Steps with a free index ``i`` and concrete sums are proved
for every index value; general sums ``Sum(f(j), (j, 1, m))`` are reduced by
linearity to canonical moment sums (``Σ_j x_j dy_j`` and the like), which then
act as independent generators.  The test is sound: a difference that reduces
to zero this way is zero.

Printing goes through SymPy's printers, with readable names supplied by the
derivation (``\\hat{x}``, ``\\mu_{B}``, ``\\frac{\\partial L}{\\partial y_{i}}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy
from sympy import Add, Basic, Indexed, IndexedBase, KroneckerDelta, Mul, Sum, Symbol
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

__all__ = ["Step", "Derivation", "DerivationError", "reduce_sums", "expand_sums", "is_zero"]

STEP_KINDS = ("definition", "equality")


class DerivationError(AssertionError):
    """A step of a derivation failed its proof."""


# --------------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Step:
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

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> Step(a * (a + b), a**2 + a * b, "expand the product").eq
    Eq(a*(a + b), a**2 + a*b)
    """

    lhs: Any
    rhs: Any
    text: str
    kind: str = "equality"
    index: Any = None

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {STEP_KINDS}")
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str: got {type(self.text).__name__}")
        object.__setattr__(self, "lhs", sympy.sympify(self.lhs))
        object.__setattr__(self, "rhs", sympy.sympify(self.rhs))

    @classmethod
    def from_eq(cls, eq: sympy.Eq, text: str, kind: str = "equality", index: Any = None) -> "Step":
        """A step from a ``sympy.Eq``."""
        if not isinstance(eq, sympy.Eq):
            raise TypeError(f"eq must be a sympy.Eq: got {type(eq).__name__}")
        return cls(eq.lhs, eq.rhs, text, kind, index)

    @property
    def eq(self) -> sympy.Eq:
        """The step as an unevaluated ``sympy.Eq``."""
        return sympy.Eq(self.lhs, self.rhs, evaluate=False)


# --------------------------------------------------------------------------- proofs
def reduce_sums(expr: Basic) -> Basic:
    """Rewrite every ``Sum(f, (j, lo, hi))`` by linearity into canonical moment sums.

    Inner sums first; each summand is expanded into terms ``c * g(j)`` with ``c``
    free of ``j``; ``c`` leaves the sum, a term free of ``j`` becomes
    ``c * (hi - lo + 1)``, a factor ``KroneckerDelta(i, j)`` sets ``j = i``
    (``i`` assumed in range), and what remains is ``Sum(g(J), (J, lo, hi))`` over
    one fixed dummy ``J``, so equal sums compare equal.

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, symbols
    >>> x = IndexedBase("x"); j, m = symbols("j m", integer=True, positive=True)
    >>> reduce_sums(Sum(3 * x[j] + 2, (j, 1, m)))
    2*m + 3*Sum(x[_J], (_J, 1, m))
    """
    if not expr.has(Sum):
        return expr
    if isinstance(expr, Sum):
        body = reduce_sums(expr.function)
        for limit in reversed(expr.limits):
            body = _reduce_one(body, *limit)
        return body
    return expr.func(*[reduce_sums(a) for a in expr.args])


_J = Symbol("_J", integer=True)


def _reduce_one(body: Basic, j: Symbol, lo: Basic, hi: Basic) -> Basic:
    out = []
    for term in Add.make_args(sympy.expand(body)):
        const, dep = [], []
        for f in Mul.make_args(term):
            (dep if f.has(j) else const).append(f)
        c = Mul(*const)
        if not dep:
            out.append(c * (hi - lo + 1))
            continue
        deltas = [f for f in dep if isinstance(f, KroneckerDelta)]
        if deltas:
            d = deltas[0]
            other = d.args[1] if d.args[0] == j else d.args[0]
            rest = [f for f in dep if f is not d]
            out.append(c * Mul(*rest).xreplace({j: other}))
            continue
        out.append(c * Sum(Mul(*dep).xreplace({j: _J}), (_J, lo, hi)))
    return Add(*out)


def expand_sums(expr: Basic, _cache: dict | None = None) -> Basic:
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
    cache = {} if _cache is None else _cache

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
                body = Add(*[_replace(body, {j: sympy.Integer(v)}, {}) for v in range(int(lo), int(hi) + 1)])
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


def is_zero(expr: Basic) -> bool:
    """Whether ``expr`` is identically zero, by ``cancel(together(reduce_sums(expr))) == 0``.

    Sound (a True is a proof) and fast; a False means "not proved this way".

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> is_zero(1 / (a * b) - (1 / a) * (1 / b)), is_zero(a - b)
    (True, False)
    """
    e = reduce_sums(sympy.sympify(expr))
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

    def convert(self, e):
        hit = self.cache.get(e)
        if hit is not None:
            return hit
        if e.is_Rational:
            out = self.ring(e)
        elif e.is_Add:
            out = self.ring.zero
            for a in e.args:
                out = out + self.convert(a)
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

    def is_zero(self, e) -> bool:
        return not self.convert(e)


# --------------------------------------------------------------------------- printers
def _index_str(printer, indices) -> str:
    return ",".join(printer._print(i) for i in indices)


class _NamedLatexPrinter(LatexPrinter):
    """LaTeX with readable names: Symbols and IndexedBases looked up in ``names``.

    A name for an IndexedBase may contain ``@``, replaced by the index; without
    ``@`` the index is a subscript.
    """

    printmethod = "_convmatrix_latex"  # Indexed's own _latex would bypass the names

    def __init__(self, names: Mapping[Basic, str], settings=None):
        sym = {k: v for k, v in names.items() if isinstance(k, Symbol)}
        super().__init__({"symbol_names": sym, **(settings or {})})
        self._bases = {k: v for k, v in names.items() if isinstance(k, IndexedBase)}

    def _print_Indexed(self, expr):
        name = self._bases.get(expr.base)
        idx = _index_str(self, expr.indices)
        if name is None:
            return super()._print_Indexed(expr)
        return name.replace("@", idx) if "@" in name else f"{name}_{{{idx}}}"

    def _print_Symbol(self, expr, style="plain"):
        if expr == _J:
            return "k"
        return super()._print_Symbol(expr, style)


class _NamedStrPrinter(StrPrinter):
    """Terminal text: readable Unicode names, ``Σ_{j=1}^{m}`` for sums."""

    printmethod = "_convmatrix_str"  # Indexed's own _sympystr would bypass the names

    def __init__(self, names: Mapping[Basic, str]):
        super().__init__({})
        self._names = dict(names)

    def _print_Symbol(self, expr):
        return self._names.get(expr, "k" if expr == _J else expr.name)

    def _print_Indexed(self, expr):
        name = self._names.get(expr.base, str(expr.base.label))
        idx = _index_str(self, expr.indices)
        return name.replace("@", idx) if "@" in name else f"{name}_{idx}"

    def _print_Sum(self, expr):
        body = self._print(expr.function)
        if isinstance(expr.function, Add):
            body = f"({body})"
        lims = "".join(f"Σ_{{{self._print(j)}={self._print(a)}..{self._print(b)}}} "
                       for j, a, b in reversed(expr.limits))
        return f"{lims}{body}"

    def _print_KroneckerDelta(self, expr):
        return f"δ_{{{self._print(expr.args[0])}{self._print(expr.args[1])}}}"


_TEXT_TO_LATEX = {
    "x̂": r"\hat{x}", "x̃": r"\tilde{x}", "μ_B": r"\mu_B", "σ²_B": r"\sigma^2_B", "σ_ε⁻¹": r"\sigma_\epsilon^{-1}",
    "σ_ε": r"\sigma_\epsilon", "∂L/∂": r"\partial L/\partial", "μ": r"\mu", "σ²": r"\sigma^2",
    "σ": r"\sigma", "ε": r"\epsilon", "γ": r"\gamma", "β": r"\beta", "Σ": r"\Sigma", "√": r"\surd",
    "⁻¹": "^{-1}", "²": "^2", "−": "-", "·": r"\cdot", "𝟙": r"\mathbb{1}", "ᵀ": "^T", "∂": r"\partial",
    "≠": r"\neq", "≥": r"\geq", "→": r"\to", "δ": r"\delta", "ρ": r"\rho",
}
_TOKEN = re.compile("(" + "|".join(re.escape(t) for t in sorted(_TEXT_TO_LATEX, key=len, reverse=True))
                    + r"|(?<![A-Za-z])[A-Za-z](?=_[A-Za-z0-9]))(_[A-Za-z0-9](?![A-Za-z0-9]))?")
_ESCAPE = {"%": r"\%", "&": r"\&", "#": r"\#", "{": r"\{", "}": r"\}", "_": r"\_", "$": r"\$",
           "~": r"\textasciitilde{}", "\\": r"\textbackslash{}", "^": r"\textasciicircum{}"}


def latex_sentence(text: str) -> str:
    """A plain-Unicode sentence as the argument of ``\\text{...}``: specials escaped, math in ``$...$``.

    Examples
    --------
    >>> print(latex_sentence("the mean μ_B of x_j, 50% of ∂L/∂y"))
    the mean $\\mu_B$ of $x_j$, 50\\% of $\\partial L/\\partial$y
    """
    out, pos = [], 0
    for match in _TOKEN.finditer(text):
        out.append("".join(_ESCAPE.get(c, c) for c in text[pos:match.start()]))
        head, sub = match.group(1), match.group(2) or ""
        out.append(f"${_TEXT_TO_LATEX.get(head, head)}{sub}$")
        pos = match.end()
    out.append("".join(_ESCAPE.get(c, c) for c in text[pos:]))
    return "".join(out).replace("$$", " ")


# --------------------------------------------------------------------------- derivation
@dataclass
class Derivation:
    """An ordered list of :class:`Step`, with what is needed to print and prove it.

    Parameters
    ----------
    title : str
    steps : list of Step
    latex_names, text_names : dict, optional
        Readable names for Symbols and IndexedBases (``@`` marks where an
        IndexedBase's index goes).
    values : dict, optional
        Symbol -> expression in the base variables, and IndexedBase -> callable
        ``index -> expression``: what every non-base symbol stands for.
    indices : dict, optional
        Free index symbol -> the concrete values it takes (e.g. ``range(1, 5)``);
        an index not listed is general.
    change : dict, optional
        An invertible change of the base variables applied before the zero
        test (e.g. centred coordinates, or ``s -> 1/t``), to keep expansions small.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b, s = symbols("a b s")
    >>> d = Derivation("square of a sum", [
    ...     Step(s, a + b, "name the sum", kind="definition"),
    ...     Step(s**2, a**2 + 2*a*b + b**2, "expand")], values={s: a + b})
    >>> d.check()
    Derivation('square of a sum', 2 steps, checked)
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
    _proved: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.steps = list(self.steps)
        bad = [s for s in self.steps if not isinstance(s, Step)]
        if bad:
            raise TypeError(f"steps must be Step objects: got {type(bad[0]).__name__}")

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
        diff = reduce_sums(expand_sums(self.difference(step), caches.setdefault("sums", {})))
        concrete = [(i, vals) for i, vals in self.indices.items() if diff.has(i)]
        if len(concrete) > 1:
            raise ValueError(f"steps with more than one concrete index are not supported: {list(self.indices)}")
        if not concrete:
            return [_replace(diff, self.change, caches.setdefault(None, {}))]
        i, vals = concrete[0]
        return [_replace(diff, {**self.change, i: sympy.Integer(v)}, caches.setdefault(v, {})) for v in vals]

    def prove(self, step: Step, _claims: list | None = None, _tester: "_RingTester | None" = None) -> bool:
        """Whether SymPy proves the step (definitions are true by definition).

        Each difference, in base variables, is expanded in a polynomial ring
        (every non-polynomial subexpression a generator of its own); what does
        not vanish there gets ``cancel(together(...))``.
        """
        if step.kind == "definition":
            return True
        claims = self._claims(step) if _claims is None else _claims
        tester = _tester or _RingTester(claims)
        return all(tester.is_zero(e) or is_zero(e) for e in claims)

    def check(self) -> "Derivation":
        """Prove every equality step; raise :class:`DerivationError` naming the first that fails.

        Returns
        -------
        Derivation
            ``self``, marked ``checked``.
        """
        caches: dict = {}
        claims = [self._claims(s, caches) if s.kind != "definition" else [] for s in self.steps]
        tester = _RingTester([e for c in claims for e in c])
        for n, (step, claim) in enumerate(zip(self.steps, claims), start=1):
            if not self.prove(step, claim, tester):
                raise DerivationError(f"step ({n}) of {self.title!r} is not proved: {step.text}\n"
                                      f"  {self.text_of(step.lhs)} = {self.text_of(step.rhs)}")
        self._proved = tuple(self.steps)
        return self

    # ------------------------------------------------------------------ printing
    def latex_of(self, expr: Basic) -> str:
        """One expression in LaTeX with the derivation's names."""
        return _NamedLatexPrinter(self.latex_names).doprint(expr)

    def text_of(self, expr: Basic) -> str:
        """One expression as terminal text with the derivation's names."""
        return _NamedStrPrinter(self.text_names).doprint(expr)

    def latex(self, *, environment: str = "align*", numbered: bool = True) -> str:
        """Every step, one ``lhs &= rhs`` line each after its sentence, in an ``align*`` (or other) environment.

        Proves the steps first if they are not proved yet (:meth:`check`).
        """
        if not isinstance(environment, str) or not environment.isascii() or not environment:
            raise ValueError(f"environment={environment!r} must be a LaTeX environment name such as 'align*'")
        if not self.checked:
            self.check()
        p = _NamedLatexPrinter(self.latex_names)
        lines = [rf"\begin{{{environment}}}"]
        for n, step in enumerate(self.steps, start=1):
            label = f"({n}) " if numbered else ""
            lines.append(rf"&\text{{{label}{latex_sentence(step.text)}}} \\")
            lines.append(rf"{p.doprint(step.lhs)} &= {p.doprint(step.rhs)} \\")
        lines[-1] = lines[-1][: -len(r" \\")]
        lines.append(rf"\end{{{environment}}}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return "$$" + self.latex(environment="aligned") + "$$"

    def _latex(self, printer=None) -> str:
        return self.latex(environment="aligned")

    def text(self) -> str:
        """Every step as plain text for terminals: the sentence, then ``lhs = rhs`` indented.

        Proves the steps first if they are not proved yet (:meth:`check`).
        """
        if not self.checked:
            self.check()
        p = _NamedStrPrinter(self.text_names)
        out = [self.title]
        for n, step in enumerate(self.steps, start=1):
            out.append(f"({n}) {step.text}")
            out.append(f"    {p.doprint(step.lhs)} = {p.doprint(step.rhs)}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()
