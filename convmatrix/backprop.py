"""Layer 6 — a derivation from a table: reverse-mode accumulation over a computational graph.

A layer's derivation is data.  A :class:`ComputationalGraph` lists the forward
nodes in order, each a :class:`GraphNode`: its name, its SymPy symbol (a
:class:`~convmatrix.derivation.NamedSymbol` for a scalar, a
:class:`~convmatrix.derivation.NamedIndexedBase` for a vector of ``m``
values indexed by the graph's index ``i``), its definition in the symbols of
earlier nodes, and the sentences that explain it — one for the forward step,
one per input edge for the backward step written along it.
:func:`backpropagate` is the one reverse-mode accumulation that turns any such
table into a checked :class:`~convmatrix.derivation.Derivation`:

* the forward steps are the definitions, in order;
* the nodes are visited in reverse; along every edge ``c → p`` the
  contribution of ``c`` to the gradient of ``p`` is the upstream gradient of
  ``c`` times the local derivative ``∂c/∂p`` (``sympy.diff`` of ``c``'s
  definition), summed over the elements of a vector consumer when ``p`` is a
  scalar, and through every sum of a reduction when ``p`` is a vector read by
  a scalar node;
* the gradient of ``p`` is written when its last consumer has been visited:
  as one step when it has one consumer (or as one sum of its contributions),
  or path by path (``∂L/∂x̃_i|_{x̂}``, ``∂L/∂x̃_i|_v``) and then their sum;
* every symbol gets its value in the base variables (the graph's inputs and
  the upstream gradient), which is what the proofs of
  :meth:`~convmatrix.derivation.Derivation.check` expand.

A new layer is a new table, not new code: batch normalization
(:func:`convmatrix.batchnorm_derivation`) is one; the tests derive a softmax
from another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import sympy
from sympy import Basic, Dummy, Indexed, IndexedBase, Integer, Mul, Sum, Symbol

from ._validation import (InputTypeError, InputValueError, as_expression, as_int, as_mapping, as_names, as_sequence,
                          as_str, is_integer, object_type_error)
from .derivation import Derivation, NamedIndexedBase, NamedSymbol, Step, is_zero

__all__ = ["GraphNode", "ComputationalGraph", "Backpropagation", "backpropagate"]

#: Names of nested summation indices after the graph's own (``j``): ``k``, ``l``, ``p``, ``q``, ...
NESTED_INDEX_NAMES = ("k", "l", "p", "q", "r", "u")


# =========================================================================== the table
@dataclass(frozen=True)
class GraphNode:
    """One node of a computational graph: an input (no definition) or a forward operation.

    Parameters
    ----------
    name : str
        An identifier (``"xhat"``); the steps are named after it
        (``forward_xhat``, ``backward_dxhat``, ``backward_dxtilde_xhat`` for
        the path to ``xtilde`` through ``xhat``).
    symbol : NamedSymbol or NamedIndexedBase
        A scalar, or a vector of the graph's ``m`` values indexed by its ``i``.
    definition : sympy.Expr, optional
        In the symbols of earlier nodes (vectors at the index ``i``, or inside
        sums over another index); ``None`` for an input of the graph.
    sentence : str, optional
        The sentence of the forward step.
    backward : dict, optional
        Input name -> the sentence of the backward step written along that
        edge (``None`` where no step is written there: along the edges into a
        node with several consumers that is not written path by path).  Its
        order is the order of the backward steps at this node, and its keys
        must be exactly the nodes the definition reads.
    gradient : str, optional
        The sentence of this node's gradient when it has several consumers
        (the sum of its paths, or of its contributions).
    by_paths : bool, optional
        Write the gradient of this node path by path, then their sum.
    atom : bool, optional
        The proofs keep this node as a base variable (σ_ε, a positive atom):
        claims proved for every value of it hold for its defined value.  Its
        definition, written in base variables, must reduce to the node itself
        (the check that the nodes' ``value`` forms agree with it).
    value : sympy.Expr, optional
        What the proofs write for this node in base variables, when not its
        definition composed (``σ²_B = σ_ε² − ε`` with the atom σ_ε).  Vectors:
        an expression at the index ``i``.

    Raises
    ------
    TypeError, ValueError
        A name that is not an identifier, a symbol that is not a named one,
        sentences that are not strings, an input without definition that has
        a backward mapping.

    Examples
    --------
    >>> a = NamedSymbol("a")
    >>> GraphNode("a", a).inputs, GraphNode("b", NamedSymbol("b"), 2 * a, "double", {"a": "..."}).inputs
    ((), ('a',))
    """

    name: str
    symbol: Any
    definition: Any = None
    sentence: str = ""
    backward: Mapping = field(default_factory=dict)
    gradient: str | None = None
    by_paths: bool = False
    atom: bool = False
    value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise InputValueError(f"name={self.name!r} must be an identifier such as 'xhat'", "name")
        if not isinstance(self.symbol, (NamedSymbol, NamedIndexedBase)):
            raise InputTypeError(f"symbol of node {self.name!r} must be a NamedSymbol (scalar) or NamedIndexedBase "
                                 f"(vector), not a {type(self.symbol).__name__}", "symbol")
        if not isinstance(self.sentence, str):
            raise InputTypeError(f"sentence of node {self.name!r} must be a str", "sentence")
        if not isinstance(self.backward, Mapping):
            raise InputTypeError(f"backward of node {self.name!r} must be a dict input name -> sentence", "backward")
        for key, text in self.backward.items():
            if not isinstance(key, str) or not (text is None or isinstance(text, str)):
                raise InputTypeError(f"backward of node {self.name!r}: {key!r} -> {text!r} must map an input "
                                     "name to a sentence or None", "backward")
        if self.gradient is not None and not isinstance(self.gradient, str):
            raise InputTypeError(f"gradient of node {self.name!r} must be a sentence (str) or None", "gradient")
        for flag in ("by_paths", "atom"):
            if not isinstance(getattr(self, flag), bool):
                raise InputTypeError(f"{flag} of node {self.name!r} must be True or False", flag)
        if self.definition is None:
            if self.backward or self.atom or self.value is not None or self.sentence:
                raise InputValueError(f"node {self.name!r} has no definition (an input of the graph): it takes no "
                                      "sentence, backward edges, atom or value", "definition")
        else:
            object.__setattr__(self, "definition", as_expression(self.definition, "definition"))
        if self.value is not None:
            object.__setattr__(self, "value", as_expression(self.value, "value"))
        object.__setattr__(self, "backward", dict(self.backward))

    @property
    def vector(self) -> bool:
        """Whether the node is a vector of ``m`` values (an IndexedBase)."""
        return isinstance(self.symbol, IndexedBase)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The names of the nodes this one reads, in the order of its backward steps."""
        return tuple(self.backward)

    def at(self, index: Basic) -> Basic:
        """The node's symbol, at ``index`` if it is a vector."""
        return self.symbol[index] if self.vector else self.symbol


@dataclass(frozen=True)
class ComputationalGraph:
    """A table of forward nodes and what reverse-mode accumulation needs to run over it.

    Parameters
    ----------
    title : str
    nodes : sequence of GraphNode
        Inputs and operations in forward order (a node reads earlier ones only).
    output : str
        The name of the node whose gradient is given.
    index, dummy : sympy.Symbol
        The free index ``i`` of vector steps and the summation index ``j`` of
        the definitions (positive integers).
    size : int or sympy.Symbol
        ``m``, the length of the vectors: a concrete size or a positive
        integer symbol (general ``m``).
    upstream : NamedSymbol or NamedIndexedBase, optional
        The given gradient of the output (``∂L/∂y``); default the output's
        gradient symbol.
    loss : str, optional
        The loss's name in the gradient symbols (``L``).
    change : dict, optional
        A change of base variables for the proofs, as
        :attr:`Derivation.change <convmatrix.derivation.Derivation>`.

    Raises
    ------
    TypeError, ValueError
        Nodes that are not GraphNodes or share a name or a symbol, a
        definition that reads a later node, backward edges that are not the
        nodes a definition reads, a vector read other than elementwise or
        through sums, a node nobody uses, missing or superfluous sentences.

    Examples
    --------
    >>> a, b = NamedSymbol("a"), NamedSymbol("b")
    >>> g = ComputationalGraph("b = a^2", [GraphNode("a", a),
    ...     GraphNode("b", b, a**2, "square", {"a": "the derivative of a² is 2a"})], output="b",
    ...     index=Symbol("i"), dummy=Symbol("j"), size=1)
    >>> g.consumers("a"), g.gradient("a")
    (('b',), dL/da)
    """

    title: str
    nodes: Sequence[GraphNode]
    output: str
    index: Any
    dummy: Any
    size: Any
    upstream: Any = None
    loss: str = "L"
    change: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        nodes = tuple(self.nodes) if isinstance(self.nodes, (list, tuple)) else None
        if not nodes or not all(isinstance(n, GraphNode) for n in nodes):
            raise InputTypeError("nodes must be a non-empty list of GraphNode", "nodes")
        object.__setattr__(self, "nodes", nodes)
        for name in ("title", "output", "loss"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InputTypeError(f"{name}={getattr(self, name)!r} must be a non-empty str", name)
        for name in ("index", "dummy"):
            if not isinstance(getattr(self, name), Symbol):
                raise InputTypeError(f"{name}={getattr(self, name)!r} must be a sympy.Symbol", name)
        if is_integer(self.size):
            object.__setattr__(self, "size", sympy.Integer(as_int(self.size, "size", minimum=1)))
        elif not isinstance(self.size, Symbol):
            raise object_type_error("size", self.size, "must be a positive int or a positive sympy.Symbol (general m)")
        if not (self.size.is_Integer and self.size > 0) and not (self.size.is_Symbol and self.size.is_positive):
            raise InputValueError(f"size={self.size} must be a positive int or a positive sympy.Symbol (general m)",
                                  "size")
        object.__setattr__(self, "change", as_mapping(self.change, "change"))
        self._check_nodes()
        if self.upstream is None:
            object.__setattr__(self, "upstream", self.gradient(self.output))
        elif isinstance(self.upstream, IndexedBase) != self.node(self.output).vector:
            raise InputTypeError(f"upstream={self.upstream!r} must be a vector (IndexedBase) exactly when the output "
                                 f"{self.output!r} is one", "upstream")

    # ------------------------------------------------------------------ validation
    def _check_nodes(self) -> None:
        seen: dict = {}
        symbols: set = set()
        for node in self.nodes:
            if node.name in seen:
                raise InputValueError(f"nodes: the name {node.name!r} is used twice", "nodes")
            if node.symbol in symbols:
                raise InputValueError(f"nodes: the symbol {node.symbol} of {node.name!r} is used twice", "nodes")
            if node.definition is not None:
                read = tuple(n for n in seen.values() if node.definition.has(n.symbol))
                later = [n.name for n in self.nodes if n.name not in seen and n is not node
                         and node.definition.has(n.symbol)]
                if later or node.definition.has(node.symbol):
                    raise InputValueError(f"node {node.name!r} reads {(later or [node.name])[0]!r}, which is not an "
                                          "earlier node: list the nodes in forward order", "nodes")
                if {n.name for n in read} != set(node.inputs):
                    raise InputValueError(f"node {node.name!r}: backward names the inputs {list(node.inputs)}, but "
                                          f"its definition reads {[n.name for n in read]}", "backward")
                for p in read:
                    self._check_read(node, p)
            seen[node.name] = node
            symbols.add(node.symbol)
        if self.output not in seen or seen[self.output].definition is None:
            raise InputValueError(f"output={self.output!r} must name a defined node", "output")
        for node in self.nodes:
            self._check_sentences(node)

    def _check_read(self, c: GraphNode, p: GraphNode) -> None:
        """A vector is read elementwise (at ``i``) by a vector node, and through sums by a scalar one."""
        if not p.vector:
            return
        entries = [e for e in c.definition.atoms(Indexed) if e.base == p.symbol]
        if c.vector:
            if any(e.indices != (self.index,) for e in entries) or _in_sums(c.definition, p.symbol):
                raise InputValueError(f"node {c.name!r} reads the vector {p.name!r} other than at the index "
                                      f"{self.index} (inside a sum, or at another index): give the sum a node of its "
                                      "own", "nodes")
            return
        outside = c.definition.replace(lambda e: isinstance(e, Sum), lambda e: Integer(0))
        if outside.has(p.symbol) or not _summed_at_own_index(c.definition, p.symbol):
            raise InputValueError(f"the scalar node {c.name!r} must read the vector {p.name!r} only inside sums, at "
                                  "the sum's own index", "nodes")

    def _check_sentences(self, p: GraphNode) -> None:
        consumers = self.consumers(p.name)
        if not consumers and p.name != self.output:
            raise InputValueError(f"node {p.name!r} is read by no node and is not the output", "nodes")
        if p.name == self.output:
            if consumers:
                raise InputValueError(f"the output {p.name!r} must not be read by other nodes", "output")
            return
        several = len(consumers) > 1
        if p.by_paths and not several:
            raise InputValueError(f"node {p.name!r} has one consumer: by_paths needs several", "by_paths")
        if several and not p.gradient:
            raise InputValueError(f"node {p.name!r} has {len(consumers)} consumers ({', '.join(consumers)}): give "
                                  "the sentence of its gradient (gradient=...)", "gradient")
        for c in consumers:
            text = self.node(c).backward[p.name]
            written = p.by_paths or not several
            if written and not text:
                raise InputValueError(f"edge {c} -> {p.name}: a backward step is written along it and needs a "
                                      "sentence", "backward")
            if not written and text:
                raise InputValueError(f"edge {c} -> {p.name}: no step is written along it ({p.name!r} has several "
                                      "consumers and is not written by paths): its sentence must be None, the "
                                      "node's gradient sentence says it", "backward")

    # ------------------------------------------------------------------ reading the table
    def node(self, name: str) -> GraphNode:
        """The node called ``name``.

        Raises
        ------
        ValueError
            No node has that name.
        """
        for n in self.nodes:
            if n.name == name:
                return n
        raise InputValueError(f"name={name!r} is not a node of {self.title!r}: the nodes are "
                              f"{', '.join(n.name for n in self.nodes)}", "name")

    def consumers(self, name: str) -> tuple[str, ...]:
        """The names of the nodes that read ``name``, in forward order."""
        return tuple(n.name for n in self.nodes if name in n.backward)

    def gradient(self, name: str) -> Basic:
        """The gradient symbol ``∂L/∂node`` (a NamedIndexedBase for a vector node); the upstream one for the output.

        Examples
        --------
        >>> import sympy
        >>> from convmatrix import batchnorm_derivation
        >>> g = batchnorm_derivation(None, check=False).graph
        >>> sympy.latex(g.gradient("xhat")[g.index])
        '\\\\frac{\\\\partial L}{\\\\partial \\\\hat{x}_{i}}'
        """
        node = self.node(name)
        if name == self.output and self.upstream is not None:
            return self.upstream
        tex, txt = _indexed_names(node)
        label = f"d{self.loss}/d{node.name}"
        latex = rf"\frac{{\partial {self.loss}}}{{\partial {tex}}}"
        text = f"∂{self.loss}/∂{txt}"
        return NamedIndexedBase(label, latex, text) if node.vector else NamedSymbol(label, latex, text)

    def path(self, name: str, consumer: str) -> Basic:
        """The gradient of ``name`` along the path through ``consumer``, ``∂L/∂x̃_i|_{x̂}``."""
        node, via = self.node(name), self.node(consumer)
        if consumer not in self.consumers(name):
            raise InputValueError(f"consumer={consumer!r} does not read {name!r}", "consumer")
        tex, txt = _indexed_names(node)
        label = f"d{self.loss}/d{node.name}|{via.name}"
        latex = rf"\left.\frac{{\partial {self.loss}}}{{\partial {tex}}}\right|_{{{_bare(via.symbol, 'latex')}}}"
        text = f"∂{self.loss}/∂{txt}|{_bare(via.symbol, 'text')}"
        return NamedIndexedBase(label, latex, text) if node.vector else NamedSymbol(label, latex, text)

    def sum(self, body: Basic) -> Basic:
        """``Σ_j body`` over ``1..m``, with the factors free of ``j`` outside the sum."""
        j = self.dummy
        const = [f for f in Mul.make_args(body) if not f.has(j)]
        dep = [f for f in Mul.make_args(body) if f.has(j)]
        return Mul(*const) * Sum(Mul(*dep), (j, 1, self.size)) if dep else Mul(*const) * self.size


def _in_sums(expr: Basic, base: IndexedBase) -> bool:
    return any(s.function.has(base) for s in expr.atoms(Sum))


def _summed_at_own_index(expr: Basic, base: IndexedBase) -> bool:
    for s in expr.atoms(Sum):
        var = s.limits[0][0]
        if len(s.limits) != 1 or any(e.indices != (var,) for e in s.function.atoms(Indexed) if e.base == base):
            return False
        if s.function.has(Sum) and _in_sums(s.function, base):
            return False
    return True


def _indexed_names(node: GraphNode) -> tuple[str, str]:
    """The node's LaTeX and text names with a place ``@`` for the index (vectors)."""
    tex, txt = node.symbol.latex_name, node.symbol.text_name
    if not node.vector:
        return tex, txt
    return (tex if "@" in tex else tex + "_{@}"), (txt if "@" in txt else txt + "_@")


def _bare(symbol: Basic, kind: str) -> str:
    """A node's name without its index (``\\hat{x}`` for ``x̂_i``)."""
    name = getattr(symbol, f"{kind}_name")
    return name.replace("_{@}", "").replace("_@", "").replace("@", "")


# =========================================================================== sums and indices
def _bound(expr: Basic) -> set:
    return {lim[0] for s in expr.atoms(Sum) for lim in s.limits}


def relabel_sums(expr: Basic, names: Sequence[Symbol], avoid: frozenset = frozenset()) -> Basic:
    """The summation indices renamed by depth from ``names`` (``j`` outermost, then ``k``, ``l``, ...).

    A name is skipped where it is free in the sum, bound by an enclosing sum
    or in ``avoid``, so no index is captured and nested sums never share an
    index.  Sums already named so are kept as they are (no rebuilding).

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, symbols
    >>> x = IndexedBase("x"); j, k, m = symbols("j k m", integer=True)
    >>> relabel_sums(Sum(x[j] - Sum(x[j], (j, 1, m)), (j, 1, m)), [j, k])
    Sum(x[j] - Sum(x[k], (k, 1, m)), (j, 1, m))
    """
    names = list(names)

    def walk(e: Basic, used: frozenset) -> Basic:
        if not e.has(Sum):
            return e
        if isinstance(e, Sum) and len(e.limits) == 1:
            var, lo, hi = e.limits[0]
            free = e.free_symbols
            new = next((n for n in names if n not in used and n not in free), None)
            if new is None:
                new = var if var not in used else Dummy(var.name, **var.assumptions0)
            body = e.function
            if new != var:
                inner = _bound(body)
                if new in inner:  # an inner sum binds the new name: move it out of the way first
                    body = _rename_bound(body, new, Dummy(new.name, **new.assumptions0))
                body = body.xreplace({var: new})
            walked = walk(body, used | {new})
            return e if new == var and walked is e.function else Sum(walked, (new, lo, hi))
        args = [walk(a, used) for a in e.args]
        return e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)

    return walk(expr, frozenset(avoid))


def _rename_bound(expr: Basic, old: Symbol, new: Symbol) -> Basic:
    """Rename the summation index ``old`` to ``new`` in every sum of ``expr`` that binds it."""
    def walk(e: Basic) -> Basic:
        if not e.has(Sum):
            return e
        if isinstance(e, Sum) and any(lim[0] == old for lim in e.limits):
            body = walk(e.function).xreplace({old: new})
            return Sum(body, *[(new if v == old else v, lo, hi) for v, lo, hi in e.limits])
        args = [walk(a) for a in e.args]
        return e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)

    return walk(expr)


def _at(expr: Basic, index: Symbol, value: Basic, names: Sequence[Symbol]) -> Basic:
    """``expr`` with ``index -> value``, renaming first the summation indices ``value`` would be captured by."""
    clash = sympy.sympify(value).free_symbols & _bound(expr)
    if clash:
        expr = relabel_sums(expr, names, avoid=frozenset(clash))
    return expr.xreplace({index: value})


# =========================================================================== the accumulation
@dataclass(repr=False)
class Backpropagation(Derivation):
    """A derivation written by :func:`backpropagate` from a :class:`ComputationalGraph`.

    A :class:`~convmatrix.derivation.Derivation` (steps, values, proofs,
    printing) that also keeps its graph and the explicit form of every symbol.

    Attributes
    ----------
    graph : ComputationalGraph
    explicit_values : dict
        Symbol -> its value with every node written out down to the graph's
        inputs (no atoms): what :meth:`explicit` substitutes.

    Examples
    --------
    >>> from convmatrix import batchnorm_derivation
    >>> d = batchnorm_derivation(2)
    >>> isinstance(d, Backpropagation), d.graph.output
    (True, 'y')
    """

    graph: Any = None
    explicit_values: dict = field(default_factory=dict)

    def gradient(self, name: str) -> Basic:
        """The gradient symbol of a node of :attr:`graph`, as :meth:`ComputationalGraph.gradient`."""
        return self.graph.gradient(name)

    def explicit(self, expr: Basic) -> Basic:
        """``expr`` written in the graph's inputs and the upstream gradient, every node and atom written out.

        Summation indices are renamed by depth (``j``, ``k``, ``l``, ...), so
        nested sums never share one.
        """
        expr = Derivation("", [], values=self.explicit_values).to_base(sympy.sympify(expr))
        return relabel_sums(expr, self._index_names())

    def _index_names(self) -> list:
        return index_names(self.graph)

    def __repr__(self) -> str:
        state = "checked" if self.checked else "not checked"
        return f"Backpropagation({self.title!r}, {len(self.steps)} steps, {state})"


def index_names(graph: ComputationalGraph) -> list:
    """The summation indices of a graph's expressions by depth: its ``dummy``, then ``k``, ``l``, ...."""
    j = graph.dummy
    return [j] + [Symbol(n, **j.assumptions0) for n in NESTED_INDEX_NAMES if n != j.name]


class _Values:
    """Values of symbols in base variables, built in order; vectors as functions of their index."""

    def __init__(self, graph: ComputationalGraph):
        self.graph = graph
        self.names = index_names(graph)
        self.table: dict = {}

    def to_base(self, expr: Basic) -> Basic:
        return Derivation("", [], values=self.table).to_base(expr)

    def put(self, symbol: Basic, expr: Basic, vector: bool) -> None:
        self.table[symbol] = _VectorValue(expr, self.graph.index, self.names) if vector else expr


class _VectorValue:
    """A vector's value as a function of its index (remembered per index: proofs ask for the same ones often)."""

    def __init__(self, expr: Basic, index: Symbol, names: Sequence[Symbol]):
        self.expr, self.index, self.names, self.cache = expr, index, names, {}

    def __call__(self, value: Basic) -> Basic:
        hit = self.cache.get(value)
        if hit is None:
            hit = self.cache[value] = _at(self.expr, self.index, value, self.names)
        return hit


def _contribution(graph: ComputationalGraph, c: GraphNode, p: GraphNode, upstream: Basic) -> Basic:
    """What ``c`` adds to the gradient of ``p``: the upstream gradient times ``∂c/∂p``, in node symbols."""
    i, definition = graph.index, c.definition
    if c.vector and p.vector:
        return upstream * sympy.diff(definition, p.symbol[i])
    if c.vector:  # a scalar read by every element of c: sum over the elements
        term = upstream * sympy.diff(definition, p.symbol)
        return graph.sum(_at(term, i, graph.dummy, index_names(graph)))
    if p.vector:  # a vector read by a scalar through sums: d/dp_i Σ_j f(p_j) = f'(p_i), by the chain rule
        total = Integer(0)
        for s in sorted((s for s in definition.atoms(Sum) if s.has(p.symbol)), key=sympy.default_sort_key):
            t = Dummy("S")
            outer = sympy.diff(definition.xreplace({s: t}), t).xreplace({t: s})
            inner = sympy.diff(_at(s.function, s.limits[0][0], i, index_names(graph)), p.symbol[i])
            total += outer * inner
        return upstream * total
    return upstream * sympy.diff(definition, p.symbol)


def _forward(graph: ComputationalGraph, values: _Values, explicit: _Values) -> list:
    """The forward steps (definitions), and every node's value in base variables."""
    i, steps = graph.index, []
    for node in graph.nodes:
        if node.definition is None:
            continue
        steps.append(Step(node.at(i), node.definition, node.sentence, "definition", i if node.vector else None,
                          name=f"forward_{node.name}"))
        composed = explicit.to_base(node.definition)
        explicit.put(node.symbol, composed, node.vector)
        if node.atom:
            proof = node.at(i)
            defined = values.to_base(node.definition)
            if not is_zero(defined - proof, {i: (1, graph.size)}):
                raise InputValueError(f"node {node.name!r} is an atom, but its definition in the proofs' values, "
                                      f"{defined}, is not the node itself: give the nodes it reads values in "
                                      "terms of it", "atom")
            continue  # an atom stands for itself
        proof = node.value if node.value is not None else values.to_base(node.definition)
        values.put(node.symbol, proof, node.vector)
    return steps


def _backward(graph: ComputationalGraph, values: _Values, explicit: _Values) -> list:
    """The backward steps, node by node in reverse, and the value of every gradient symbol."""
    i, steps = graph.index, []
    upstream = {graph.output: graph.upstream}
    parts: dict = {n.name: [] for n in graph.nodes}
    left = {n.name: set(graph.consumers(n.name)) for n in graph.nodes}

    def write(lhs_symbol, vector, rhs, text, name):
        lhs = lhs_symbol[i] if vector else lhs_symbol
        steps.append(Step(lhs, rhs, text, "equality", i if vector else None, name=name))
        for table in (values, explicit):
            table.put(lhs_symbol, table.to_base(rhs), vector)

    for c in reversed(graph.nodes):
        if c.definition is None:
            continue
        g = upstream[c.name]
        g = g[i] if c.vector else g
        for name in c.inputs:
            p = graph.node(name)
            part = _contribution(graph, c, p, g)
            parts[name].append((c.name, part))
            left[name].discard(c.name)
            several = len(graph.consumers(name)) > 1
            if p.by_paths:
                write(graph.path(name, c.name), p.vector, part, c.backward[name], f"backward_d{name}_{c.name}")
            elif not several:
                write(graph.gradient(name), p.vector, part, c.backward[name], f"backward_d{name}")
            if not left[name]:
                if p.by_paths:
                    paths = [graph.path(name, via) for via, _ in parts[name]]
                    total = sympy.Add(*[s[i] if p.vector else s for s in paths])
                    write(graph.gradient(name), p.vector, total, p.gradient, f"backward_d{name}")
                elif several:
                    write(graph.gradient(name), p.vector, sympy.Add(*[q for _, q in parts[name]]), p.gradient,
                          f"backward_d{name}")
                upstream[name] = graph.gradient(name)
    return steps


def backpropagate(graph: ComputationalGraph, claims: Sequence[Step] = (), *, sections: Mapping | None = None,
                  results: Sequence[str] = (), title: str | None = None) -> Backpropagation:
    """Reverse-mode accumulation over a table of forward nodes: the forward and backward steps, with their values.

    Parameters
    ----------
    graph : ComputationalGraph
    claims : sequence of Step, optional
        Further steps about the graph's symbols (a paper's intermediates, a
        closed form), appended after the backward steps and proved with them.
    sections : dict, optional
        Step name -> heading; ``"Forward"`` and ``"Backward"`` head the
        forward and backward steps unless given.
    results : sequence of str, optional
        Names of the steps set apart when printed.
    title : str, optional
        Default the graph's title.

    Returns
    -------
    Backpropagation
        Not yet checked: call :meth:`~convmatrix.derivation.Derivation.check`
        (proofs and numbers).  A concrete size proves every index value.

    Raises
    ------
    TypeError
        ``graph`` not a ComputationalGraph, claims that are not Steps.
    ValueError
        An atom whose definition does not reduce to itself; a claim or section
        name that is not unique or not a step.

    Examples
    --------
    The gradient of ``q = (a b)²`` through its two nodes:

    >>> a, b, p, q = (NamedSymbol(n) for n in "abpq")
    >>> graph = ComputationalGraph("square of a product", [
    ...     GraphNode("a", a), GraphNode("b", b),
    ...     GraphNode("p", p, a * b, "the product", {"a": "∂p/∂a = b", "b": "∂p/∂b = a"}),
    ...     GraphNode("q", q, p**2, "its square", {"p": "∂q/∂p = 2p"})],
    ...     output="q", index=Symbol("i"), dummy=Symbol("j"), size=1)
    >>> d = backpropagate(graph).check()
    >>> [f"{s.lhs} = {s.rhs}" for s in d.steps[2:]]
    ['dL/dp = 2*dL/dq*p', 'dL/da = b*dL/dp', 'dL/db = a*dL/dp']
    >>> d.explicit(graph.gradient("a"))
    2*a*b**2*dL/dq
    """
    if not isinstance(graph, ComputationalGraph):
        raise InputTypeError(f"graph must be a ComputationalGraph, not a {type(graph).__name__}", "graph")
    claims = list(as_sequence(claims, "claims", "Step objects"))
    bad = [c for c in claims if not isinstance(c, Step)]
    if bad:
        raise object_type_error("claims", bad[0], "must hold Step objects")
    sections = {} if sections is None else as_mapping(sections, "sections", "a dict of step name -> heading")
    results = as_names(results, "results")
    if title is not None:
        as_str(title, "title")
    values, explicit = _Values(graph), _Values(graph)
    forward = _forward(graph, values, explicit)
    backward = _backward(graph, values, explicit)
    heads = {forward[0].name: "Forward"} if forward else {}
    if backward:
        heads[backward[0].name] = "Backward"
    size = graph.size
    return Backpropagation(
        graph.title if title is None else title, forward + backward + claims, values=dict(values.table),
        indices={graph.index: range(1, int(size) + 1)} if size.is_Integer else {},
        ranges={graph.index: (Integer(1), size)}, change=dict(graph.change),
        sections={**heads, **sections}, results=results, graph=graph,
        explicit_values=dict(explicit.table),
    )


def derivation_fields(d: Derivation) -> dict:
    """The constructor arguments of a derivation (for a subclass made from it)."""
    return {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.init}
