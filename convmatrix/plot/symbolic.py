"""Pictures of the symbolic results: batch norm's Jacobian as a heat map, a derivation's closed form as a figure."""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

import numpy as np

from .._validation import InputTypeError, as_int, as_sequence, is_integer
from ._mpl import figure_axes, root_figure, text_color_on
from .matrix import VALUE_CMAP

__all__ = ["plot_batchnorm_jacobian", "plot_derivation", "closed_form_steps"]


def plot_batchnorm_jacobian(x: Any, *, eps: float = 1e-5, ax=None, annotate: bool | None = None):
    """Batch norm's Jacobian ``J = ∂x̂/∂x = σ_ε⁻¹ (I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m)`` at ``m`` values as a heat map.

    A diverging colormap centred at 0 with a colorbar; each row sums to 0 (a
    shift of the inputs changes nothing), which the title checks.

    Parameters
    ----------
    x : array_like, shape (m,)
        The values of one channel (see :func:`~convmatrix.batchnorm_jacobian`).
    eps : float, optional
    ax : Axes, optional
    annotate : bool, optional
        Write every entry; default up to ``m = 8``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        As :func:`~convmatrix.batchnorm_jacobian` for numbers (an int ``m`` is refused: it gives symbols).

    Examples
    --------
    >>> fig = plot_batchnorm_jacobian([1.0, 2.0, 4.0, 7.0], eps=0.0)
    >>> fig.axes[0].get_title()
    'J = ∂x̂/∂x for m = 4 values (ε = 0): symmetric, J 𝟙 = 0'
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    from ..batchnorm_symbolic import batchnorm_jacobian

    if is_integer(x):
        raise InputTypeError("x must be the values of one channel (numbers); an int m gives the symbolic Jacobian, "
                             "which has no colours", "x")
    J = batchnorm_jacobian(x, eps=eps)
    m = J.shape[0]
    fig, ax = figure_axes(ax, (5.2, 4.4))
    v = float(np.abs(J).max()) or 1.0
    cmap = colormaps[VALUE_CMAP]
    norm = Normalize(-v, v)
    im = ax.imshow(J, cmap=cmap, norm=norm, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, shrink=0.85, label="∂x̂_i/∂x_j")
    if annotate is None:
        annotate = m <= 8
    if annotate:
        for (i, j), val in np.ndenumerate(J):
            ax.text(j, i, f"{val:.2g}", ha="center", va="center", fontsize=7, color=text_color_on(cmap(norm(val))))
    ticks = np.arange(m) if m <= 16 else np.linspace(0, m - 1, 9).round().astype(int)
    ax.set_xticks(ticks, [str(t + 1) for t in ticks], fontsize=7)
    ax.set_yticks(ticks, [str(t + 1) for t in ticks], fontsize=7)
    ax.set_xlabel("j (input x_j)")
    ax.set_ylabel("i (normalized x̂_i)")
    row_sum = float(np.abs(J.sum(axis=1)).max())
    zero = "J 𝟙 = 0" if row_sum <= 1e-9 * v else f"max |row sum| {row_sum:.2g}"
    ax.set_title(f"J = ∂x̂/∂x for m = {m} values (ε = {eps:g}): symmetric, {zero}", fontsize=9)
    return fig


def closed_form_steps(d) -> list:
    """The steps a derivation's figure shows by default: the one named ``closed_form``, else the last."""
    names = {s.name: s for s in d.steps if s.name}
    return [names["closed_form"]] if "closed_form" in names else [d.steps[-1]]


def _steps(d, steps) -> list:
    if steps is None:
        return closed_form_steps(d)
    out = []
    for s in as_sequence(steps if not isinstance(steps, (str, int)) else [steps], "steps", "step names or numbers"):
        if isinstance(s, str):
            out.append(d.step(s))
        elif is_integer(s):
            out.append(d.steps[as_int(s, "steps", minimum=1, maximum=len(d.steps)) - 1])
        else:
            raise InputTypeError(f"steps must hold step names or 1-based numbers, not {type(s).__name__}", "steps")
    return out


def plot_derivation(d, steps: Sequence[str | int] | str | int | None = None, *, ax=None, fontsize: float = 12):
    """A derivation's closed form (or the given steps) rendered as a figure: each sentence, then its equation.

    The equations are the derivation's own LaTeX (:meth:`~convmatrix.Derivation.latex_of`)
    drawn by matplotlib's mathtext (no LaTeX installation needed); a step whose
    LaTeX mathtext cannot draw is shown as its text form.

    Parameters
    ----------
    d : Derivation
        Proved first if it is not (:meth:`~convmatrix.Derivation.check`).
    steps : str, int or sequence of them, optional
        Step names (``"closed_form"``) or 1-based numbers; default the step named
        ``closed_form``, else the last.
    ax : Axes, optional
        Draw into these axes (its area is used as a page); default a new figure
        sized to the equations.
    fontsize : float, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For something that is not a Derivation, or an unknown step.

    Examples
    --------
    >>> import sympy, convmatrix as cm
    >>> a, b, s = sympy.symbols("a b s")
    >>> d = cm.Derivation("square of a sum", [
    ...     cm.Step(s, a + b, "name the sum", kind="definition", name="s"),
    ...     cm.Step(s**2, a**2 + 2*a*b + b**2, "expand", name="closed_form")], values={s: a + b})
    >>> fig = plot_derivation(d)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['square of a sum', '(2) expand', '$s^{2} = a^{2} + 2 a b + b^{2}$']
    """
    from ..derivation import Derivation

    if not isinstance(d, Derivation):
        raise InputTypeError(f"d must be a Derivation, not a {type(d).__name__}", "d")
    if not d.checked:
        d.check()
    chosen = _steps(d, steps)
    lines = []
    for step in chosen:
        n = d.steps.index(step) + 1
        lines.append((f"({n}) {step.text}", f"${d.latex_of(step.lhs)} = {d.latex_of(step.rhs)}$",
                      f"{d.text_of(step.lhs)} = {d.text_of(step.rhs)}"))
    own = ax is None
    fig, ax = figure_axes(ax, (8, 1.0 + 1.1 * len(lines)))
    ax.set_axis_off()
    texts = []
    if own:
        texts.append(ax.text(0.0, 1.0, d.title, fontsize=fontsize * 0.9, weight="bold", va="top", ha="left",
                             transform=ax.transAxes))
    y = 1.0
    step_h = 1.0 / max(len(lines), 1)
    for sentence, math, plain in lines:
        texts.append(ax.text(0.0, y, "\n".join(textwrap.wrap(sentence, 110)), fontsize=fontsize * 0.75,
                             va="top", ha="left", transform=ax.transAxes, color="#333"))
        display = math.replace(r"\frac", r"\dfrac")  # display-style fractions, where mathtext has them
        eq = ax.text(0.02, y - 0.42 * step_h, display if _drawable(display) else math, fontsize=fontsize,
                     va="top", ha="left", transform=ax.transAxes)
        if not _drawable(math):
            eq.set_text(plain)
        texts.append(eq)
        y -= step_h
    if own:
        _stack(fig, ax, texts)
    else:
        ax.set_title(d.title, fontsize=fontsize * 0.85, loc="left")
    return root_figure(ax)


def _drawable(math: str) -> bool:
    """Whether matplotlib's mathtext can parse ``$...$``."""
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(math)
    except ValueError:
        return False
    return True


def _stack(fig, ax, texts) -> None:
    """Size a new figure to its texts and stack them top-down: title, then sentence and equation per step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer=renderer) for t in texts]
    pad = 0.2 * fig.dpi
    gaps = [8.0] + [4.0 if n % 2 else 18.0 for n in range(1, len(texts))]  # after the title, a sentence, an equation
    height = 2 * pad + sum(b.height for b in boxes) + sum(gaps[:-1])
    width = float(np.clip(max(b.width for b in boxes) + 2 * pad, 4 * fig.dpi, 30 * fig.dpi))
    fig.set_layout_engine("none")
    fig.set_size_inches(width / fig.dpi, height / fig.dpi)
    ax.set_position([0, 0, 1, 1])
    top = pad
    for n, (t, b) in enumerate(zip(texts, boxes)):
        indent = 0.25 * fig.dpi if n and n % 2 == 0 else 0.0  # the equations, under their sentences
        t.set_position(((pad + indent) / width, 1 - top / height))
        top += b.height + gaps[n]
