"""A Sphinx extension: pages whose content the package writes at build time, never pasted.

* ``{convmatrix} ...`` — runs the Python in its body (``import convmatrix as cm`` and numpy as ``np`` are
  given) and shows the value of its last line: a derivation step by step (sentences as text, equations as
  MathJax displays, numbers on the claims), a matrix (``convmatrix.export.latex.matrix_latex``, with its
  caption), another result object (``sympy.latex(obj)``), or a ``str`` (a literal block: the tour);
* ``{convmatrix-api}`` — the API reference: every public name of ``convmatrix.__all__``, grouped by the
  module that defines it, from its numpy-style docstring.
"""

from __future__ import annotations

import ast
import importlib
import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList


def _evaluate(code: str):
    import numpy as np

    import convmatrix as cm

    scope = {"cm": cm, "np": np}
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<convmatrix directive>", "exec"), scope)  # noqa: S102 - the docs' own code
    return eval(compile(ast.Expression(last.value), "<convmatrix directive>", "eval"), scope) if last else None


def _markdown_sentence(text: str) -> str:
    from convmatrix.export.latex import latex_sentence

    tex = latex_sentence(text)
    return re.sub(r"\\(?=[%&#_{}$])", r"\\", tex)  # LaTeX's escapes are Markdown's too


def _derivation_markdown(d, label: str) -> list:
    from convmatrix.export.latex import expression_latex

    if not d.checked:
        d.check()
    out = []
    for step in d.steps:
        heading = d.sections.get(step.name)
        if heading:
            out += [f"**{heading}.**", ""]
        out += [_markdown_sentence(step.text), ""]
        eq = f"{expression_latex(step.lhs, d.latex_names)} = {expression_latex(step.rhs, d.latex_names)}"
        if step.name in d.results:
            eq = rf"\boxed{{{eq}}}"
        numbered = step.kind == "equality" and step.name
        out += ["$$", eq, "$$" + (f" ({label}-{step.name.replace('_', '-')})" if numbered else ""), ""]
    return out


def _markdown(value, label: str) -> tuple[list, str | None]:
    """Markdown lines for a value, or a literal text block."""
    import numpy as np
    import scipy.sparse as sp
    import sympy

    from convmatrix.derivation import Derivation
    from convmatrix.export.latex import matrix_caption, matrix_latex

    if isinstance(value, str):
        return [], value
    if isinstance(value, Derivation):
        return _derivation_markdown(value, label), None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        value, settings = value
    else:
        settings = {}
    if sp.issparse(value) or isinstance(value, np.ndarray) or isinstance(value, sympy.MatrixBase):
        tex = matrix_latex(value, **settings)
        caption = matrix_caption(value, **settings)
        return ["$$", tex, "$$", "", _markdown_sentence_tex(caption), ""], None
    return ["$$", sympy.latex(value), "$$", ""], None


def _markdown_sentence_tex(tex: str) -> str:
    return re.sub(r"\\(?=[%&#_{}])", r"\\", tex).replace("{,}", ",")


class ConvmatrixDirective(Directive):
    """Run the body; show its last value (see the module's docstring)."""

    has_content = True
    option_spec = {"label": directives.unchanged}

    def run(self):
        value = _evaluate("\n".join(self.content))
        label = self.options.get("label", "eq")
        lines, literal = _markdown(value, label)
        if literal is not None:
            return [nodes.literal_block(literal, literal)]
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source="<convmatrix>"), self.content_offset, node)
        return node.children


class ApiDirective(Directive):
    """Every public name, grouped by module, documented from its docstring by autodoc."""

    has_content = False

    def run(self):
        import convmatrix

        by_module: dict = {}
        for name, module in convmatrix._EXPORTS.items():  # noqa: SLF001 - the table of public names
            by_module.setdefault(module, []).append(name)
        lines = []
        for module, names in by_module.items():
            mod = importlib.import_module(f"convmatrix.{module}")
            lines += [f"## `convmatrix.{module}`", ""]
            summary = (mod.__doc__ or "").strip().splitlines()
            if summary:
                lines += [summary[0], ""]
            lines += ["```{eval-rst}"]  # autodoc writes reStructuredText
            for name in names:
                obj = getattr(convmatrix, name)
                kind = "autoclass" if isinstance(obj, type) else ("autofunction" if callable(obj) else "autodata")
                lines += [f".. {kind}:: convmatrix.{name}"]
                if kind == "autoclass":
                    lines += ["   :members:", "   :exclude-members: __init__, __new__"]
                elif kind == "autodata":
                    lines += ["   :no-value:"]
                lines += [""]
            lines += ["```", ""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="<convmatrix-api>"), self.content_offset, node,
                                match_titles=True)
        return node.children


_LONE_STAR = re.compile(r"(?<=[\s(,\[])\*(?=[A-Za-z_])(?![A-Za-z_0-9.]*\*)")


def escape_lone_stars(app, what, name, obj, options, lines) -> None:
    """``(C_out, C_in/groups, *k)`` in a docstring is Python's star, not the start of emphasis."""
    for n, line in enumerate(lines):
        parts = line.split("``")
        parts[::2] = [_LONE_STAR.sub(r"\\*", p) for p in parts[::2]]  # outside ``literals`` only
        lines[n] = "``".join(parts)


def setup(app):
    app.add_directive("convmatrix", ConvmatrixDirective)
    app.add_directive("convmatrix-api", ApiDirective)
    app.connect("autodoc-process-docstring", escape_lone_stars)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
