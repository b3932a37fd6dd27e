"""What the notebook and printer hooks of :class:`convmatrix._display.Displayable` render.

One registry per kind of output, keyed by class name, filled by the export
modules that know how to draw a kind of object (LaTeX by
:mod:`convmatrix.export.latex`, pictures by :mod:`convmatrix.plot`, ...).  An
object with no renderer of a kind gets the generic one: HTML, a table of its
public fields; LaTeX and PNG, nothing (``None``: Jupyter shows the next MIME type).
"""

from __future__ import annotations

import dataclasses
import html as _html
from typing import Any, Callable

__all__ = ["LATEX", "HTML", "PNG", "register", "latex", "repr_latex", "repr_html", "repr_png", "fields", "short",
           "load_pictures"]

#: Class name -> function(obj, printer) -> LaTeX (math mode, no delimiters).
LATEX: dict[str, Callable] = {}
#: Class name -> function(obj) -> HTML.
HTML: dict[str, Callable] = {}
#: Class name -> function(obj) -> PNG bytes or None.
PNG: dict[str, Callable] = {}


def register(table: dict, *names: str):
    """Decorator: register a renderer for the classes called ``names``.

    Examples
    --------
    >>> @register(HTML, "Example")
    ... def _example(obj):
    ...     return "<b>example</b>"
    >>> HTML.pop("Example") is _example
    True
    """
    def deco(func):
        for name in names:
            table[name] = func
        return func
    return deco


def _lookup(table: dict, obj: Any):
    for cls in type(obj).__mro__:
        func = table.get(cls.__name__)
        if func is not None:
            return func
    return None


def latex(obj: Any, printer=None):
    """LaTeX of ``obj`` for SymPy's printer hook (``sympy.latex(obj)``), or its ``str`` in ``\\text{}``."""
    func = _lookup(LATEX, obj)
    if func is not None:
        return func(obj, printer)
    return r"\text{%s}" % str(obj).replace("\\", r"\textbackslash{}").replace("_", r"\_")


def repr_latex(obj: Any):
    """``$$...$$`` for Jupyter, or ``None`` when no LaTeX renderer is registered for the object's class."""
    func = _lookup(LATEX, obj)
    return None if func is None else f"$$ {func(obj, None)} $$"


def fields(obj: Any) -> list[tuple[str, Any]]:
    """The public fields of a (data)class instance, as ``(name, value)`` pairs."""
    if dataclasses.is_dataclass(obj):
        names = [f.name for f in dataclasses.fields(obj) if not f.name.startswith("_")]
    else:
        names = [k for k in vars(obj) if not k.startswith("_")] if hasattr(obj, "__dict__") else []
    return [(n, getattr(obj, n)) for n in names]


def short(value: Any) -> str:
    """A value in a few words: an array by its type and shape, anything else by its ``repr`` (cut at 80)."""
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, type) and getattr(value, "ndim", 0) != 0:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_pictures() -> None:
    """Import the modules whose renderers fill :data:`HTML` and :data:`PNG` (once; cheap afterwards).

    Neither imports matplotlib: a PNG renderer imports it when it draws, and
    gives ``None`` (or the dependency-free PNG, for matrices) without it.
    """
    from .. import plot  # noqa: F401  (registers the PNG renderers)
    from . import html, view  # noqa: F401  (register the HTML renderers and the matrix view's)


def repr_html(obj: Any) -> str:
    """A compact HTML summary: the registered renderer, else the class name and a table of its fields."""
    load_pictures()
    func = _lookup(HTML, obj)
    if func is not None:
        return func(obj)
    rows = "".join(f"<tr><th style='text-align:left'>{_html.escape(n)}</th><td><code>{_html.escape(short(v))}"
                   f"</code></td></tr>" for n, v in fields(obj))
    return f"<div><b>{_html.escape(type(obj).__name__)}</b><table>{rows}</table></div>"


def repr_png(obj: Any):
    """PNG bytes where a picture is the natural view (a registered renderer), else ``None``."""
    load_pictures()
    func = _lookup(PNG, obj)
    return None if func is None else func(obj)
