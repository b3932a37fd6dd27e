"""How result objects present themselves: notebook and SymPy-printer hooks, rendered by the export layer.

Every result object of the package (geometries, tap maps, the transposed chain
and its report, Zeiler's stacks, derivations, ...) inherits :class:`Displayable`.
The hooks only forward to :mod:`convmatrix.export.display`, imported when a hook
is first called: the layers below export never import it at module level, and
the export layer computes nothing of its own — it reads the object.

* ``_repr_latex_`` / ``_latex(printer)``: LaTeX, for Jupyter and ``sympy.latex(obj)``;
* ``_repr_html_``: a compact HTML summary;
* ``_repr_png_``: a picture where one is the natural view (``None`` otherwise,
  which Jupyter skips).
"""

from __future__ import annotations

__all__ = ["Displayable"]


class Displayable:
    """Mixin giving an object the notebook hooks (``_repr_latex_``, ``_repr_html_``, ``_repr_png_``)
    and SymPy's printer hook (``_latex``), all rendered by :mod:`convmatrix.export.display`.

    Examples
    --------
    >>> import convmatrix as cm
    >>> g = cm.ConvGeometry.from_weight_shape((2, 1, 3), 5, padding=1)
    >>> isinstance(g, Displayable), g._repr_html_().startswith("<")
    (True, True)
    """

    __slots__ = ()

    def _repr_latex_(self):
        from .export import display

        return display.repr_latex(self)

    def _latex(self, printer=None):
        from .export import display

        return display.latex(self, printer)

    def _repr_html_(self):
        from .export import display

        return display.repr_html(self)

    def _repr_png_(self):
        from .export import display

        return display.repr_png(self)
