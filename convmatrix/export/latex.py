"""LaTeX: one printer for the package, built on SymPy's, and a renderer for every result object.

:func:`to_latex` is the entry point: any result object, matrix (scipy sparse
in any format, numpy array, SymPy matrix), SymPy expression, sentence, or a
list of them, as LaTeX for a document's body; ``standalone=True`` gives a
whole document that compiles with pdflatex and the packages of a basic TeX
installation (``article``, ``amsmath``, ``geometry``; ``amssymb`` only where
the output needs it).  Every result object also renders in math mode through
SymPy's printer hook (``sympy.latex(obj)``, ``obj._latex(printer)``) and in
notebooks (``_repr_latex_``): those go through the same printer, by the
renderers this module registers in :mod:`convmatrix.export.display`.

The printer, :class:`ConvmatrixLatexPrinter`, is a
``sympy.printing.latex.LatexPrinter`` whose settings are validated up front
(:data:`SETTINGS` lists the package's own; SymPy's are accepted too).  It
writes the terms of a sum in their natural order (``x_i - \\mu_B``), keeps
fractions out of fractions (``\\frac{\\gamma}{m \\sigma_\\epsilon} (\\dots)``),
names summation indices by depth, and prints matrices in an ``array`` (never
a column limit), elided with ``\\cdots``, ``\\vdots``, ``\\ddots`` beyond what
fits the text width, with rules between channel blocks where the geometry is
known.

SymPy is imported inside the functions that need it, so that importing the
export layer stays cheap.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from .._validation import (InputTypeError, InputValueError, as_bool, as_choice, as_int, as_str, is_sympy_matrix,
                           object_type_error)
from . import display
from .files import atomic_write
from .text import natural_terms

__all__ = [
    "SETTINGS",
    "ZERO_STYLES",
    "TEXT_WIDTH_PT",
    "TEXT_HEIGHT_PT",
    "PREAMBLE",
    "LatexError",
    "ConvmatrixLatexPrinter",
    "to_latex",
    "matrix_latex",
    "matrix_caption",
    "expression_latex",
    "latex_sentence",
    "latex_document",
    "write_latex",
    "compile_pdf",
    "pdflatex_path",
    "math_width",
]

#: The text width of the default page (a4paper, 2.5 cm margins, 10 pt): 160 mm.
TEXT_WIDTH_PT = 455.24
#: Its text height: 247 mm.
TEXT_HEIGHT_PT = 702.0
#: How the default page is set up.
PREAMBLE = ("\\documentclass[10pt]{article}\n"
            "\\usepackage[a4paper,margin=2.5cm]{geometry}\n"
            "\\usepackage{amsmath}\n")

#: The ``zero`` setting: how a zero entry of a matrix prints.
ZERO_STYLES = {"0": "0", "dot": r"\cdot", "blank": ""}

#: The package's own settings of :func:`to_latex` (beyond SymPy's ``LatexPrinter`` settings), with defaults.
SETTINGS = {
    "zero": "0",          # how zero entries print: "0", "dot" (\cdot) or "blank"
    "max_rows": None,     # rows of a matrix shown before eliding (None: what fits the page)
    "max_cols": None,     # columns shown before eliding (None: what fits the text width)
    "geometry": None,     # a ConvGeometry / ConvTransposeGeometry, or ((C_out, *out), (C_in, *in)) shapes
    "name": None,         # a matrix's name, printed as "name = [...]"
    "caption": True,      # the line saying what rows and columns index
    "digits": 4,          # significant digits of floating-point entries
    "numbered": True,     # equation numbers on a derivation's claims
    "label_prefix": "",   # prefix of the \label of each numbered step
    "names": None,        # symbol -> LaTeX name, for symbols that carry none
}

#: SymPy settings whose defaults differ here.
_SYMPY_DEFAULTS = {"fold_frac_powers": True}


class LatexError(RuntimeError):
    """pdflatex failed on a document (the message ends with the end of its log)."""


# =========================================================================== settings
def _check_geometry(value):
    if value is None:
        return None
    if hasattr(value, "out_channels") and hasattr(value, "output_size") and hasattr(value, "input_size"):
        return ((value.out_channels, *value.output_size), (value.in_channels, *value.input_size))
    if (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(s, (tuple, list)) and s
                                                                     for s in value)):
        rows, cols = (tuple(as_int(v, "geometry", minimum=1) for v in s) for s in value)
        return rows, cols
    raise object_type_error("geometry", value, "must be a ConvGeometry, a ConvTransposeGeometry or a pair of "
                            "shapes ((C_out, *output_size), (C_in, *input_size))")


def check_settings(settings: Mapping) -> dict:
    """The package's own settings validated (names and values), SymPy's passed through for SymPy to check.

    Raises
    ------
    TypeError, ValueError
        An unknown setting, or a value of the wrong type or out of range.

    Examples
    --------
    >>> check_settings({"zero": "dot"})["zero"]
    'dot'
    >>> check_settings({"zeros": "dot"})
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: zeros='dot' is not a setting of to_latex: ...
    """
    from sympy.printing.latex import LatexPrinter

    out = {}
    known = {**SETTINGS, **LatexPrinter._default_settings}
    for key, value in settings.items():
        if key not in known:
            raise InputTypeError(f"{key}={value!r} is not a setting of to_latex: the settings are "
                                 f"{', '.join(SETTINGS)} and SymPy's LatexPrinter settings", key)
        out[key] = value
    if "zero" in out:
        as_choice(out["zero"], "zero", tuple(ZERO_STYLES))
    for key in ("max_rows", "max_cols"):
        if out.get(key) is not None:
            out[key] = as_int(out[key], key, minimum=1)
    if "digits" in out:
        out["digits"] = as_int(out["digits"], "digits", minimum=1, maximum=17)
    for key in ("caption", "numbered"):
        if key in out:
            out[key] = as_bool(out[key], key)
    if out.get("name") is not None:
        out["name"] = as_str(out["name"], "name", rule="must be a non-empty str of LaTeX such as 'A' or None")
    if "label_prefix" in out and not isinstance(out["label_prefix"], str):
        raise InputTypeError(f"label_prefix={out['label_prefix']!r} must be a str", "label_prefix")
    if out.get("names") is not None and not isinstance(out["names"], Mapping):
        raise InputTypeError(f"names={out['names']!r} must be a dict symbol -> LaTeX", "names")
    if "geometry" in out:
        out["geometry"] = _check_geometry(out["geometry"])
    return out


_PRINTER_CLASS = None


def _printer_class():
    """:class:`ConvmatrixLatexPrinter`, defined on first use (SymPy is imported then)."""
    global _PRINTER_CLASS
    if _PRINTER_CLASS is None:
        _PRINTER_CLASS = _define_printer()
    return _PRINTER_CLASS


def __getattr__(name: str):
    if name == "ConvmatrixLatexPrinter":
        return _printer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_printer():
    import sympy
    from sympy import Mul, Sum
    from sympy.printing.latex import LatexPrinter

    from ..derivation import summation_height

    class ConvmatrixLatexPrinter(LatexPrinter):
        """The package's LaTeX printer: SymPy's, with readable names, natural term order and matrices that fit.

        Settings: SymPy's ``LatexPrinter`` settings and the package's own
        (:data:`SETTINGS`), validated up front: an unknown setting is a
        ``TypeError`` naming it, a bad value a ``ValueError`` (or
        ``TypeError``) naming it.

        Examples
        --------
        >>> import sympy
        >>> from convmatrix.export.latex import ConvmatrixLatexPrinter
        >>> x, mu = sympy.symbols("x mu")
        >>> ConvmatrixLatexPrinter().doprint(x - mu)
        'x - \\\\mu'
        """

        printmethod = "_latex"
        _default_settings = {**LatexPrinter._default_settings, **_SYMPY_DEFAULTS, **SETTINGS}

        def __init__(self, settings=None):
            own = check_settings(dict(settings or {}))
            try:
                super().__init__(own)
            except (TypeError, ValueError) as exc:  # SymPy's own checks of its settings
                raise InputValueError(f"settings: {exc}", "settings") from None
            self._names = dict(self._settings.get("names") or {})

        # ---------------------------------------------------------- names
        def _print_Symbol(self, expr, style="plain"):
            if expr in self._names:
                return self._names[expr]
            return super()._print_Symbol(expr, style)

        def _print_Indexed(self, expr):
            name = self._names.get(expr.base)
            if name is None:
                return super()._print_Indexed(expr)
            idx = ",".join(self._print(i) for i in expr.indices)
            return name.replace("@", idx) if "@" in name else f"{name}_{{{idx}}}"

        def _print_Dummy(self, expr, style="plain"):
            h = summation_height(expr)
            if h is None:
                return super()._print_Dummy(expr)
            return "klpq"[h] if h < 4 else f"k_{{{h}}}"

        # ---------------------------------------------------------- order and fractions
        def _print_Add(self, expr, order=None):
            terms = self._as_ordered_terms(expr, order=order)
            if order is None and self._settings["order"] is None:
                terms = natural_terms(terms)
            tex = ""
            for n, term in enumerate(terms):
                if n and term.could_extract_minus_sign():
                    tex += " - "
                    term = -term
                elif n:
                    tex += " + "
                term_tex = self._print(term)
                if self._needs_add_brackets(term):
                    term_tex = r"\left(%s\right)" % term_tex
                tex += term_tex
            return tex

        def _heavy(self, factor) -> bool:
            """A factor that should not sit in a numerator: it holds a fraction or a sum."""
            return factor.has(Sum) or r"\frac" in self._print(factor)

        def _print_Mul(self, expr):
            numer, denom = sympy.fraction(expr, exact=True)
            if denom == 1 or expr.is_Number or not any(self._heavy(f) for f in Mul.make_args(numer)):
                return super()._print_Mul(expr)
            sign = ""
            if numer.could_extract_minus_sign():
                numer, sign = -numer, "- "
            light = [f for f in Mul.make_args(numer) if not self._heavy(f)]
            heavy = [f for f in Mul.make_args(numer) if self._heavy(f)]
            head = r"\frac{%s}{%s}" % (self._print(Mul(*light)), self._print(denom))
            tail = []
            for n, f in enumerate(heavy):
                tex = self._print(f)
                if self._needs_mul_brackets(f, first=False, last=n == len(heavy) - 1):
                    tex = r"\left(%s\right)" % tex
                tail.append(tex)
            return f"{sign}{head} {' '.join(tail)}"

        # ---------------------------------------------------------- matrices
        def _print_MatrixBase(self, expr):
            return matrix_math(expr, self)

    return ConvmatrixLatexPrinter


def _printer(printer=None, settings: Mapping | None = None):
    """Our printer: ``printer`` itself if it is one, else a new one (SymPy's stock settings carried over)."""
    cls = _printer_class()
    if isinstance(printer, cls) and not settings:
        return printer
    carried = {}
    if printer is not None and hasattr(printer, "_settings"):
        carried = {k: v for k, v in printer._settings.items()
                   if k in cls._default_settings and v != cls._default_settings[k] and k != "mode"}
    return cls({**carried, **dict(settings or {})})


# =========================================================================== widths (an estimate, in pt)
_CHAR_PT = {**{c: 5.0 for c in "0123456789"}, ".": 2.8, ",": 4.5, ";": 2.8, ":": 2.8, "!": 2.8,
            "(": 3.9, ")": 3.9, "[": 2.8, "]": 2.8, "|": 2.8, "/": 5.0, "'": 2.8, "*": 5.0}
_OPERATOR_PT = {"+": 12.2, "-": 12.2, "=": 13.4, "<": 13.4, ">": 13.4}
_COMMAND_PT = {
    "cdot": 7.2, "cdots": 13.4, "ldots": 13.4, "vdots": 2.8, "ddots": 13.4, "partial": 5.7, "times": 12.2,
    "quad": 10.0, "qquad": 20.0, ",": 1.7, ";": 2.8, ":": 2.2, "!": -1.7, " ": 3.3, "sum": 14.4, "prod": 13.0,
    "infty": 10.0, "to": 13.4, "neq": 13.4, "leq": 13.4, "geq": 13.4, "approx": 13.4, "equiv": 13.4,
    "left": 0.0, "right": 0.0, "big": 0.0, "Big": 0.0, "mathbf": 0.0, "nabla": 8.3, "lfloor": 4.4,
    "rfloor": 4.4, "lceil": 4.4, "rceil": 4.4, "colon": 2.8, "mid": 5.5, "delta": 4.5, "top": 7.8,
}
_ARG_COMMANDS = {"hat", "tilde", "bar", "mathbf", "mathrm", "mathit", "operatorname", "boxed", "mathcal",
                 "underbrace", "overline", "widehat", "vec", "dot"}
_TOKEN_RE = re.compile(r"\\[A-Za-z]+|\\.|[{}_^&]|\s+|.", re.S)


def _group(tokens: list, pos: int) -> tuple[list, int]:
    """The tokens of the group (or single token) starting at ``pos``, and the position after it."""
    if pos >= len(tokens):
        return [], pos
    if tokens[pos] != "{":
        return [tokens[pos]], pos + 1
    depth, start = 0, pos
    while pos < len(tokens):
        depth += {"{": 1, "}": -1}.get(tokens[pos], 0)
        pos += 1
        if depth == 0:
            break
    return tokens[start + 1:pos - 1], pos


def _smaller(scale: float) -> float:
    """The scale of a script: 7 pt glyphs are relatively wider than 10 pt ones (cmr7's digits are 4 pt)."""
    return scale * 0.8 if scale > 0.75 else max(scale * 0.85, 0.5)


def _width(tokens: list, scale: float, display: bool) -> float:
    total, pos, last = 0.0, 0, None
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok.isspace() or tok in "{}&":
            if tok == "{":  # a bare group
                inner, pos = _group(tokens, pos - 1)
                total += _width(inner, scale, display)
            continue
        if tok in "_^":
            arg, pos = _group(tokens, pos)
            w = _width(arg, _smaller(scale), False)
            if pos < len(tokens) and tokens[pos] in "_^" and tokens[pos] != tok:  # both scripts: the wider
                arg2, pos = _group(tokens, pos + 1)
                w = max(w, _width(arg2, _smaller(scale), False))
            total += w
            continue
        if tok.startswith("\\"):
            name = tok[1:]
            if name in ("frac", "dfrac", "tfrac"):
                a, pos = _group(tokens, pos)
                b, pos = _group(tokens, pos)
                s = scale if (display and name != "tfrac") or name == "dfrac" else _smaller(scale)
                total += max(_width(a, s, False), _width(b, s, False)) + 2.4 * scale
            elif name == "sqrt":
                a, pos = _group(tokens, pos)
                total += _width(a, scale, display) + 8.3 * scale
            elif name == "text" or name == "textrm" or name == "mbox":
                a, pos = _group(tokens, pos)
                total += 5.0 * scale * len("".join(a))
            elif name == "sum" and pos < len(tokens) and tokens[pos] in "_^" and display:
                lo, pos2 = _group(tokens, pos + 1)
                hi: list = []
                if pos2 < len(tokens) and tokens[pos2] in "_^":
                    hi, pos2 = _group(tokens, pos2 + 1)
                total += max(14.4 * scale, _width(lo, _smaller(scale), False), _width(hi, _smaller(scale), False)) + 1.7
                pos = pos2
            elif name in _ARG_COMMANDS:
                a, pos = _group(tokens, pos)
                total += _width(a, scale, display) + (6.0 * scale if name == "boxed" else 0.0)
            elif name in ("begin", "end"):
                _, pos = _group(tokens, pos)
            else:
                total += _COMMAND_PT.get(name, 6.0) * scale
            last = tok
            continue
        if tok in _OPERATOR_PT:
            binary = last is not None and last not in "({[=" and scale > 0.9
            total += (_OPERATOR_PT[tok] if binary else 7.8) * scale
        elif tok.isalpha():
            total += (7.5 if tok.isupper() else 5.5) * scale
        else:
            total += _CHAR_PT.get(tok, 6.0) * scale
        last = tok
    return total


def math_width(tex: str, *, display: bool = False) -> float:
    """An estimate of the width in pt of math-mode LaTeX at 10 pt (text style, or display style).

    A deliberately simple model (glyph widths of Computer Modern, scripts at
    70 %, fractions by their wider part), a little generous: used to decide
    how much of a matrix fits the text width and when to break an equation.

    Examples
    --------
    >>> round(math_width("x_{1} + 2"))
    27
    """
    return _width(_TOKEN_RE.findall(tex), 1.0, display)


# =========================================================================== sentences
_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon", "ζ": r"\zeta", "η": r"\eta",
    "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi",
    "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "φ": r"\phi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Σ": r"\Sigma", "Φ": r"\Phi", "Ω": r"\Omega",
}
_MATH_SYMBOLS = {
    "∂": "\\partial ", "−": "-", "·": r"\cdot ", "≠": r"\neq ", "≥": r"\geq ", "≤": r"\leq ", "→": r"\to ",
    "×": r"\times ", "𝟙": r"\mathbf{1}", "∞": r"\infty ", "∑": r"\sum ", "≈": r"\approx ",
    "⁻¹": "^{-1}", "²": "^2", "³": "^3", "ᵀ": "^T",
}
_MATH_CHARS = set("".join(_GREEK) + "".join(_MATH_SYMBOLS) + "√\u0302\u0303=+")
_TEXT_ESCAPE = {"%": r"\%", "&": r"\&", "#": r"\#", "{": r"\{", "}": r"\}", "_": r"\_", "$": r"\$",
                "~": r"\textasciitilde{}", "\\": r"\textbackslash{}", "^": r"\textasciicircum{}",
                "—": "---", "–": "--", "…": r"\ldots{}", "×": r"$\times$", "→": r"$\to$", "’": "'"}
#: A lone ASCII letter with optional scripts (``m``, ``J``, ``x_j``, ``x_{ij}``); ``a``/``A`` are English.
_NAME_WORD = re.compile(r"^(?![aA]$)[A-Za-z](?:_(?:\{[^}]*\}|[A-Za-z0-9]))?(?:\^(?:\{[^}]*\}|[A-Za-z0-9]))?$")
_FRACTION_WORD = re.compile(r"^[0-9A-Za-z]{1,2}/[0-9A-Za-z()]{1,3}$")
_NUMBER_WORD = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_TRAILING = ".,;:!?"


def _word_kind(core: str) -> str:
    """``math``, ``number`` or ``text``: how a word (punctuation removed) reads in a sentence."""
    if not core:
        return "text"
    if _NUMBER_WORD.match(core):
        return "number"
    if any(c in _MATH_CHARS for c in core) or core in ("=", "+", "-", "<", ">"):
        return "math"
    if _NAME_WORD.match(core) or _FRACTION_WORD.match(core):
        return "math"
    return "text"


def _split_word(word: str) -> tuple[str, str, str]:
    """``(leading, core, trailing)``: punctuation around a word (parentheses only where unbalanced)."""
    lead, trail, core = "", "", word
    while core and core[-1] in _TRAILING + ")" and (core[-1] != ")" or core.count(")") > core.count("(")):
        trail, core = core[-1] + trail, core[:-1]
    while core and core[0] == "(" and core.count("(") > core.count(")"):
        lead, core = lead + "(", core[1:]
    return lead, core, trail


def _math_run(text: str) -> str:
    """Plain-Unicode mathematics as LaTeX: Greek, hats and tildes, scripts, ∂, √(...), 𝟙."""
    text = re.sub(r"([A-Za-z])\u0302", r"\\hat{\1}", text)
    text = re.sub(r"([A-Za-z])\u0303", r"\\tilde{\1}", text)
    text = _sqrt(text)
    out = []
    for ch in _tokens_unicode(text):
        if ch in _GREEK:
            out.append(_GREEK[ch] + " ")
        elif ch in _MATH_SYMBOLS:
            out.append(_MATH_SYMBOLS[ch])
        else:
            out.append(ch)
    tex = "".join(out).replace("\u2009", r"\,")
    tex = re.sub(r"(\\[A-Za-z]+) (?=[_^}),.=+\-/)\\]|$)", r"\1", tex)  # no stray space before scripts
    tex = re.sub(r"_(\\[A-Za-z]+)", r"_{\1}", tex)
    return re.sub(r"\s+", " ", tex).strip()


def _tokens_unicode(text: str) -> list:
    out, pos = [], 0
    while pos < len(text):
        if text.startswith("⁻¹", pos):
            out.append("⁻¹")
            pos += 2
        else:
            out.append(text[pos])
            pos += 1
    return out


def _sqrt(text: str) -> str:
    """``√(a + b)`` -> ``\\sqrt{a + b}``, ``√x`` -> ``\\sqrt{x}``."""
    while "√" in text:
        k = text.index("√")
        if text[k + 1:k + 2] == "(":
            depth, end = 0, k + 1
            while end < len(text):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
                end += 1
            text = text[:k] + r"\sqrt{" + text[k + 2:end] + "}" + text[end + 1:]
        else:
            text = text[:k] + r"\sqrt{" + text[k + 1:k + 2] + "}" + text[k + 2:]
    return text


def _escape_text(text: str) -> str:
    return "".join(_TEXT_ESCAPE.get(c, c) for c in text)


def latex_sentence(text: str) -> str:
    """A plain-Unicode sentence as LaTeX text, its mathematics in math mode.

    Words that are mathematics — names (``x̂_i``, ``σ²_B``, a lone letter such
    as ``m`` or ``J``), derivatives (``∂L/∂x̂_i``), operators — and the numbers
    between them join into one ``$...$`` span each, so that ``∂L/∂x = γ J
    ∂L/∂y`` is one formula and ``m − 1`` reads as mathematics; the rest is
    text with LaTeX's special characters escaped.  Works in a paragraph and
    inside ``\\text{...}``.

    Examples
    --------
    >>> print(latex_sentence("the mean μ_B of the m values, 50% of ∂L/∂y"))
    the mean $\\mu_B$ of the $m$ values, 50\\% of $\\partial L/\\partial y$
    >>> print(latex_sentence("J = σ_ε⁻¹(I − 𝟙𝟙ᵀ/m) (divided by m, not m − 1)."))
    $J = \\sigma_{\\epsilon}^{-1}(I - \\mathbf{1}\\mathbf{1}^T/m)$ (divided by $m$, not $m - 1$).
    """
    words = re.split(r"(\s+)", text)
    pieces: list = []  # (kind, leading, core, trailing) or ("space", text)
    for w in words:
        if not w:
            continue
        if w.isspace():
            pieces.append(("space", w))
            continue
        lead, core, trail = _split_word(w)
        pieces.append((_word_kind(core), lead, core, trail))
    return _join_runs(pieces)


def _join_runs(pieces: list) -> str:
    """Join the words into text and ``$...$`` runs: numbers join a run they continue."""
    out, run = [], []

    def flush():
        if run:
            out.append(_run_tex(run))
            run.clear()

    words = [p for p in pieces if p[0] != "space"]
    kinds = [p[0] for p in words]
    k = -1
    for piece in pieces:
        if piece[0] == "space":
            if run:
                run.append(" ")
            else:
                out.append(" ")
            continue
        k += 1
        kind, lead, core, trail = piece
        prev_math = k > 0 and kinds[k - 1] == "math" and not words[k - 1][3]
        next_math = k + 1 < len(kinds) and kinds[k + 1] == "math" and not trail
        is_math = kind == "math" or (kind == "number" and (prev_math or next_math) and (run or next_math))
        if is_math:
            if lead and run:  # "(": keep it inside the run
                run.append(lead)
            elif lead:
                out.append(_escape_text(lead))
            run.append(core)
            if trail:
                _close_run(run, trail, out)
        else:
            if run and run[-1] == " ":
                run.pop()
                flush()
                out.append(" ")
            flush()
            out.append(_escape_text(lead + core + trail))
    if run and run[-1] == " ":
        run.pop()
        flush()
        out.append(" ")
    flush()
    return "".join(out).rstrip(" ") if not pieces or pieces[-1][0] != "space" else "".join(out)


def _close_run(run: list, trail: str, out: list) -> None:
    """A word ends with punctuation: the run ends there (closing parentheses it opened stay inside)."""
    text = "".join(run)
    inside = ""
    while trail.startswith(")") and text.count("(") > text.count(")") + inside.count(")"):
        inside, trail = inside + ")", trail[1:]
    run.append(inside)
    out.append(_run_tex(run))
    run.clear()
    out.append(_escape_text(trail))


_OPERATOR_END = tuple("=+−-/(·<>,×")


def _juxtapose(text: str) -> str:
    """Words of a run written side by side (``γ J ∂L/∂y``) as factors: a thin space between them."""
    words = text.split(" ")
    out = words[:1]
    for w in words[1:]:
        prev = out[-1]
        joins = prev and w and not prev.endswith(_OPERATOR_END) and not w.startswith(_OPERATOR_END + (")",))
        out.append("\u2009" + w if joins else " " + w)
    return "".join(out)


def _run_tex(run: list) -> str:
    text = _juxtapose("".join(run).strip())
    extra = ""
    while text.endswith(")") and text.count(")") > text.count("("):
        text, extra = text[:-1], ")" + extra
    return f"${_math_run(text)}${_escape_text(extra)}"


# =========================================================================== expressions
def expression_latex(expr: Any, names: Mapping | None = None, **settings) -> str:
    """One SymPy expression in LaTeX (math mode) through the package's printer.

    ``names`` gives LaTeX names to symbols that carry none (the derivation's
    ``latex_names``: an IndexedBase's name may hold ``@`` where the index goes).

    Examples
    --------
    >>> import sympy
    >>> x, mu = sympy.symbols("x mu_B")
    >>> expression_latex(x - mu)
    'x - \\\\mu_{B}'
    """
    import sympy

    settings = dict(settings)
    if names:
        settings["names"] = {**dict(settings.get("names") or {}), **dict(names)}
    return _printer(None, settings).doprint(sympy.sympify(expr))


# =========================================================================== matrices
def _index_letters(ndim: int) -> tuple[str, ...]:
    return {1: ("x",), 2: ("y", "x"), 3: ("z", "y", "x")}.get(ndim, tuple(f"x_{a + 1}" for a in range(ndim)))


def _pieces(count: int, k: int, block: int | None) -> list:
    """Indices shown of ``count``: ``k`` at the start and ``k`` at the end and, for channel blocks, ``k`` on each
    side of the first block boundary; ``None`` marks a gap.  All of them when that covers everything."""
    ranges = [(0, k), (count - k, count)]
    if block and block < count:
        ranges += [(block - k, block), (block, block + k)]
    shown = sorted({i for lo, hi in ranges for i in range(max(lo, 0), min(hi, count))})
    out: list = []
    for i in shown:
        if out and i != out[-1] + 1:
            out.append(None)
        out.append(i)
    return out


def _shown(count: int, limit: int, block: int | None = None) -> list:
    """The most indices (with gaps) that :func:`_pieces` shows within ``limit`` shown indices."""
    if count <= limit:
        return list(range(count))
    for k in range(limit, 0, -1):
        pieces = _pieces(count, k, block)
        if sum(i is not None for i in pieces) <= limit:
            return pieces
    return _pieces(count, 1, None)


def _number_tex(v, digits: int) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        re_, im = float(v.real), float(v.imag)
        if im == 0:
            return _number_tex(re_, digits)
        mag = _number_tex(abs(im), digits)
        unit = "i" if mag == "1" else f"{mag}i"
        if re_ == 0:
            return unit if im > 0 else f"-{unit}"
        return f"{_number_tex(re_, digits)} {'+' if im > 0 else '-'} {unit}"
    x = float(v)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \cdot 10^{{{int(exp)}}}"
    return text


def _entries(A, rows: list, cols: list):
    """The shown entries of ``A`` as a small dense array (object dtype for SymPy)."""
    r = [i for i in rows if i is not None]
    c = [j for j in cols if j is not None]
    if is_sympy_matrix(A):
        sub = A.extract(r, c)
        return np.array(sub.tolist(), dtype=object).reshape(len(r), len(c))
    if sp.issparse(A):
        csr = sp.csr_array(A)
        return csr[np.array(r, dtype=np.int64)][:, np.array(c, dtype=np.int64)].toarray()
    arr = np.asarray(A)
    return arr[np.ix_(r, c)]


def _entry_tex(v, printer) -> str:
    zero = ZERO_STYLES[printer._settings["zero"]]
    if isinstance(v, (np.generic, int, float, complex)) and not isinstance(v, np.object_):
        return zero if v == 0 else _number_tex(v, printer._settings["digits"])
    import sympy

    v = sympy.sympify(v)
    if v == 0:
        return zero
    if v.is_Number and not v.is_Rational:
        return _number_tex(complex(v) if v.is_complex and not v.is_real else float(v), printer._settings["digits"])
    return printer._print(v)


def _as_matrix(A):
    """``A`` as something 2-d: sparse and SymPy matrices as they are, arrays with at least two axes."""
    if sp.issparse(A) or is_sympy_matrix(A):
        return A
    try:
        arr = np.asarray(A)
    except ValueError:  # ragged nesting
        raise object_type_error("A", A, "must be a matrix: a rectangular array, a scipy.sparse or SymPy matrix") from None
    if arr.dtype.kind not in "biufcO":
        raise InputTypeError(f"A must be a matrix of numbers or SymPy expressions: got dtype {arr.dtype}", "A")
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InputValueError(f"A must be a matrix (2-d) or a vector: got shape {arr.shape}", "A")
    return arr


def _blocks(geometry, shape) -> tuple[int | None, int | None]:
    """Rows and columns per channel block, from the geometry's shapes (when they match the matrix)."""
    if geometry is None:
        return None, None
    (rows, cols) = geometry
    if math.prod(rows) != shape[0] or math.prod(cols) != shape[1]:
        raise InputValueError(f"geometry: rows {rows} and columns {cols} do not index a {shape[0]} x {shape[1]} "
                              "matrix", "geometry")
    rb = math.prod(rows[1:]) if rows[0] > 1 else None
    cb = math.prod(cols[1:]) if cols[0] > 1 else None
    return rb, cb


class _MatrixLayout:
    """Which rows and columns of a matrix are shown, their entries as LaTeX, and where rules go."""

    COLUMN_SEP_PT = 10.0  # 2 \arraycolsep
    GAP_PT = 13.4 + 10.0  # a \cdots column
    ROW_PT = 12.0
    TALL_ROW_PT = 21.0
    MAX_ROWS = 40

    def __init__(self, A, printer, width_pt: float, height_pt: float):
        self.A, self.printer = A, printer
        self.shape = tuple(int(s) for s in A.shape)
        s = printer._settings
        self.row_block, self.col_block = _blocks(s["geometry"], self.shape)
        self._tex: dict = {}
        self.rows = self._choose_rows(s["max_rows"], height_pt)
        self.cols = self._choose_cols(s["max_cols"], width_pt)

    def _tex_block(self, rows, cols) -> list:
        vals = _entries(self.A, rows, cols)
        return [[_entry_tex(v, self.printer) for v in row] for row in vals]

    def _choose_rows(self, limit, height_pt) -> list:
        if limit is None:
            probe = _shown(self.shape[0], 6)
            tall = any(r"\frac" in t for row in self._tex_block(probe, _shown(self.shape[1], 6)) for t in row)
            limit = min(self.MAX_ROWS, max(3, int(height_pt // (self.TALL_ROW_PT if tall else self.ROW_PT))))
        return _shown(self.shape[0], limit, self.row_block)

    def _choose_cols(self, limit, width_pt) -> list:
        total = self.shape[1]
        widest = _shown(total, limit if limit is not None else (64 if self.col_block else 40), self.col_block)
        cols = [c for c in widest if c is not None]
        rows = [r for r in self.rows if r is not None]
        tex = self._tex_block(rows, cols)
        self._tex = {(r, c): tex[a][k] for a, r in enumerate(rows) for k, c in enumerate(cols)}
        if limit is not None:
            return widest
        width = {c: 1.06 * max([math_width(tex[a][k]) for a in range(len(rows))] + [5.0]) + self.COLUMN_SEP_PT
                 for k, c in enumerate(cols)}
        for n in range(len(cols), 0, -1):
            pieces = _shown(total, n, self.col_block)
            if any(c is not None and c not in width for c in pieces):
                continue
            used = sum(width[c] for c in pieces if c is not None) + self.GAP_PT * pieces.count(None)
            if used <= width_pt:
                return pieces
        return _shown(total, 1)

    def entry(self, r, c) -> str:
        hit = self._tex.get((r, c))
        return hit if hit is not None else self._tex_block([r], [c])[0][0]

    def elided(self) -> bool:
        return None in self.rows or None in self.cols

    def column_spec(self) -> str:
        spec = []
        for k, c in enumerate(self.cols):
            spec.append("c")
            nxt = self.cols[k + 1] if k + 1 < len(self.cols) else None
            if self.col_block and c is not None and nxt is not None and (c + 1) % self.col_block == 0 and nxt == c + 1:
                spec.append("|")
        return "".join(spec)

    def rule_after(self, k: int) -> bool:
        r = self.rows[k]
        nxt = self.rows[k + 1] if k + 1 < len(self.rows) else None
        return bool(self.row_block and r is not None and nxt is not None and (r + 1) % self.row_block == 0
                    and nxt == r + 1)

    def body(self) -> str:
        lines = []
        for k, r in enumerate(self.rows):
            if r is None:
                cells = [r"\ddots" if c is None else r"\vdots" for c in self.cols]
            else:
                cells = [r"\cdots" if c is None else self.entry(r, c) for c in self.cols]
            line = " & ".join(cells) + r" \\"
            if self.rule_after(k):
                line += r" \hline"
            lines.append(line)
        lines[-1] = lines[-1].replace(r" \\ \hline", "").removesuffix(r" \\")
        return "\n".join(lines)


def _matrix_tex(A, printer) -> tuple[str, bool]:
    """The math-mode matrix and whether entries were elided."""
    A = _as_matrix(A)
    if 0 in A.shape:
        return r"\left[\,\right]_{%d \times %d}" % A.shape, False
    name = printer._settings["name"]
    reserve = math_width(name) + 13.4 + 12.0 if name else 12.0  # "name =" and the brackets
    layout = _MatrixLayout(A, printer, TEXT_WIDTH_PT - reserve, TEXT_HEIGHT_PT - 120.0)
    tex = "\\left[\\begin{array}{%s}\n%s\n\\end{array}\\right]" % (layout.column_spec(), layout.body())
    return (f"{name} = {tex}" if name else tex), layout.elided()


def matrix_math(A, printer=None, **settings) -> str:
    """A matrix in math mode: ``\\left[\\begin{array}...\\end{array}\\right]``, elided to fit, with channel rules."""
    return _matrix_tex(A, _printer(printer, settings))[0]


def matrix_latex(A, **settings) -> str:
    """A matrix in LaTeX (math mode), any kind: numeric, integer, complex, symbolic; sparse, dense or SymPy.

    An ``array`` environment (so any number of columns compiles), elided with
    ``\\cdots``, ``\\vdots`` and ``\\ddots`` beyond what fits the default page's
    text width and height, rules between channel blocks when ``geometry`` is
    given, zeros as ``0``, ``\\cdot`` or blank (``zero=``).  Put it inside
    ``\\[ ... \\]``; :func:`to_latex` gives the display with its caption.

    Parameters
    ----------
    A : sparse array or matrix, ndarray (1-d: a row) or SymPy matrix
    **settings
        Of :func:`to_latex`: ``zero``, ``max_rows``, ``max_cols``,
        ``geometry``, ``name``, ``digits`` and SymPy's.

    Returns
    -------
    str

    Raises
    ------
    TypeError, ValueError
        A bad setting, an array of more than two axes, a geometry that does
        not index the matrix.

    Examples
    --------
    >>> import numpy as np
    >>> print(matrix_latex(np.array([[1, 0], [2, 3]]), zero="dot"))
    \\left[\\begin{array}{cc}
    1 & \\cdot \\\\
    2 & 3
    \\end{array}\\right]
    """
    return matrix_math(A, None, **settings)


def matrix_caption(A, **settings) -> str:
    """The caption line of a matrix: its size and stored entries, what rows and columns index (with a geometry).

    Examples
    --------
    >>> import numpy as np
    >>> print(matrix_caption(np.eye(2, dtype=int)))
    The $2 \\times 2$ matrix has 2 nonzero entries.
    """
    p = _printer(None, settings)
    tex, elided = _matrix_tex(A, p)
    return _matrix_caption(A, p, elided)


def _matrix_caption(A, printer, elided: bool) -> str:
    s = printer._settings
    A = _as_matrix(A)
    rows, cols = A.shape
    if sp.issparse(A):
        text = f"The ${rows} \\times {cols}$ matrix has {_count(A.nnz)} stored entries."
    else:
        nonzero = sum(1 for v in A.values()) if is_sympy_matrix(A) and hasattr(A, "values") else \
            int(np.count_nonzero(np.asarray(A)))
        text = f"The ${rows} \\times {cols}$ matrix has {_count(nonzero)} nonzero entries."
    if s["geometry"] is not None:
        r_shape, c_shape = s["geometry"]
        text += (" " + _index_sentence("Rows", "o", "output", r_shape) + "; "
                 + _index_sentence("columns", "c", "input", c_shape) + " (C order, from 0).")
    if is_sympy_matrix(A) and any(str(v).startswith("w_") for v in _sample_entries(A)):
        text += (r" Its entries $w_{o,c,\dots}$ are those of the weight, indexed as its layout "
                 r"$(C_\mathrm{out}, C_\mathrm{in}/g, k_1, \dots)$.")
    if elided:
        text += " Dots stand for the rows and columns left out."
    return text


def _sample_entries(A) -> list:
    rows, cols = A.shape
    return [A[r, c] for r in range(min(rows, 3)) for c in range(min(cols, 3))]


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _index_sentence(what: str, channel: str, kind: str, shape: tuple) -> str:
    letters = _index_letters(len(shape) - 1)
    spatial = ", ".join(f"${n} < {b}$" for n, b in zip(letters, shape[1:]))
    return (f"{what} index $({channel}, {', '.join(letters)})$: {kind} channel ${channel} < {shape[0]}$ and "
            f"position {spatial}")


def _matrix_body(A, printer) -> str:
    layout_tex, elided = _matrix_tex(A, printer)
    out = ["\\[\n" + layout_tex + "\n\\]"]
    if printer._settings["caption"]:
        out.append(r"\noindent{\small " + _matrix_caption(A, printer, elided) + "}")
    return "\n".join(out)


# =========================================================================== derivations
def _step_tex(step, p) -> tuple[str, str]:
    return p._print(step.lhs), p._print(step.rhs)


def _equation(step, p, number: bool, boxed: bool) -> str:
    """One step's equation as a display: numbered (a claim) or not, boxed (a result), broken when too wide."""
    lhs, rhs = _step_tex(step, p)
    body = f"{lhs} = {rhs}"
    available = TEXT_WIDTH_PT - (36.0 if number else 0.0)
    label = ""
    if number and step.name:
        label = rf"\label{{{p._settings['label_prefix']}{step.name}}}"
    if boxed:
        body = rf"\boxed{{{body}}}"
    elif math_width(body, display=True) > available and step.rhs.is_Add:
        return _multline(step, p, lhs, number, label, available)
    env = "equation" if number else "equation*"
    return f"\\begin{{{env}}}{label}\n{body}\n\\end{{{env}}}"


def _multline(step, p, lhs: str, number: bool, label: str, available: float) -> str:
    """A long sum broken at its terms over lines of a ``multline``."""
    terms = natural_terms(p._as_ordered_terms(step.rhs, order=None))
    lines, current = [], f"{lhs} = "
    for n, term in enumerate(terms):
        neg = n and term.could_extract_minus_sign()
        piece = p._print(-term if neg else term)
        if term.is_Add:
            piece = rf"\left({piece}\right)"
        piece = (" - " if neg else (" + " if n else "")) + piece
        if n and math_width(current + piece, display=True) > available - 20.0:
            lines.append(current)
            current = ""
        current += piece
    lines.append(current)
    env = "multline" if number else "multline*"
    return f"\\begin{{{env}}}{label}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"


def _derivation_printer(d, printer):
    names = {**dict(d.latex_names), **dict(printer._settings.get("names") or {})} if printer else dict(d.latex_names)
    return _printer(printer, {"names": names} if names else None)


def _derivation_body(d, printer) -> str:
    if not d.checked:
        d.check()
    p = _derivation_printer(d, printer)
    numbered = p._settings["numbered"]
    out = [f"% {d.title}: every equality proved by SymPy and checked in numbers"]
    for step in d.steps:
        heading = d.sections.get(step.name)
        sentence = latex_sentence(step.text)
        if heading:
            out.append(f"\\paragraph{{{_escape_text(heading)}.}} {sentence}")
        else:
            out.append(f"\\noindent {sentence}")
        out.append(_equation(step, p, numbered and step.kind == "equality", step.name in d.results))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _derivation_math(d, printer) -> str:
    if not d.checked:
        d.check()
    p = _derivation_printer(d, printer)
    rows = []
    for step in d.steps:
        lhs, rhs = _step_tex(step, p)
        rows.append(r"&\text{%s}" % latex_sentence(step.text))
        rows.append(f"{lhs} &= {rhs}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


# =========================================================================== geometry, arithmetic, the chain
def _tuple_tex(values) -> str:
    values = tuple(values)
    if all(isinstance(v, tuple) for v in values):
        if all(v[0] == v[1] for v in values):
            values = tuple(v[0] for v in values)
        else:
            return "(" + ", ".join(f"({lo}, {hi})" for lo, hi in values) + ")"
    if len(set(values)) == 1:
        return str(values[0])
    return "(" + ", ".join(str(v) for v in values) + ")"


def _shape_tex(shape) -> str:
    return r" \times ".join(str(int(s)) for s in shape)


def _table(rows: list, caption: str = "") -> str:
    """A two-column table of (label, value) pairs, the values wrapped to the text width."""
    lines = [r"\begin{tabular}{@{}l p{0.68\textwidth}@{}}", r"\hline"]
    lines += [f"{a} & {b} \\\\" for a, b in rows]
    lines.append(r"\hline")
    lines.append(r"\end{tabular}")
    table = "\n".join(lines)
    out = [r"\begin{center}", table, r"\end{center}"]
    if caption:
        out.insert(0, r"\noindent " + caption)
    return "\n".join(out)


def _conv_geometry_rows(g) -> list:
    axes = len(g.kernel_size)
    i, o = _tuple_tex(g.input_size), _tuple_tex(g.output_size)
    rows = [
        ("weight", rf"$(C_\mathrm{{out}}, C_\mathrm{{in}}/g, k) = ({g.out_channels}, {g.in_channels // g.groups}, "
                   rf"{', '.join(map(str, g.kernel_size))})$"),
        ("input", f"${g.in_channels}$ channels of ${_shape_tex(g.input_size)}$"),
        ("output", f"${g.out_channels}$ channels of ${_shape_tex(g.output_size)}$"),
        ("stride, dilation", f"$s = {_tuple_tex(g.stride)}$, $d = {_tuple_tex(g.dilation)}$"),
        ("padding", f"$p = {_tuple_tex(g.padding)}$ ({_escape_text(g.padding_mode)})"),
        ("groups", f"${g.groups}$"),
        ("output size", r"$o = \lfloor (i + p_{lo} + p_{hi} - d(k - 1) - 1)/s \rfloor + 1 = " + o + "$"
                        + (f" per axis ({axes} axes)" if axes > 1 else "")),
        ("matrix", rf"${g.shape[0]} \times {g.shape[1]}$: rows $(o, {', '.join(_index_letters(axes))})$, "
                   rf"columns $(c, {', '.join(_index_letters(axes))})$"),
    ]
    rows[1] = ("input", rows[1][1] + f" ($i = {i}$)")
    return rows


def _geometry_body(g, printer) -> str:
    return _table(_conv_geometry_rows(g), r"A convolution, as \texttt{torch.nn.Conv%dd}:" % len(g.kernel_size))


def _transpose_geometry_body(g, printer) -> str:
    rows = [
        ("weight", rf"$(C_\mathrm{{in}}, C_\mathrm{{out}}/g, k) = ({g.in_channels}, {g.out_channels // g.groups}, "
                   rf"{', '.join(map(str, g.kernel_size))})$"),
        ("input", f"${g.in_channels}$ channels of ${_shape_tex(g.input_size)}$"),
        ("output", f"${g.out_channels}$ channels of ${_shape_tex(g.output_size)}$"),
        ("stride, dilation", f"$s = {_tuple_tex(g.stride)}$, $d = {_tuple_tex(g.dilation)}$"),
        ("padding", f"$p = {_tuple_tex(g.padding)}$, output padding $a = {_tuple_tex(g.output_padding)}$"),
        ("groups", f"${g.groups}$"),
        ("output size", r"$o' = s(i' - 1) + a + d(k - 1) + 1 - p_{lo} - p_{hi} = "
                        + _tuple_tex(g.output_size) + "$"),
        ("matrix", rf"${g.shape[0]} \times {g.shape[1]}$, the transpose of the convolution over "
                   f"${_shape_tex(g.output_size)}$"),
    ]
    return _table(rows, r"A transposed convolution, as \texttt{torch.nn.ConvTranspose%dd}:" % len(g.kernel_size))


def _pool_geometry_body(g, printer) -> str:
    rows = [
        ("input", f"${_shape_tex(g.input_size)}$"),
        ("kernel, stride", f"$k = {_tuple_tex(g.kernel_size)}$, $s = {_tuple_tex(g.stride)}$"),
        ("padding, dilation", f"$p = {_tuple_tex(g.padding)}$, $d = {_tuple_tex(g.dilation)}$"),
        ("ceil mode", "yes" if g.ceil_mode else "no"),
        ("output", f"${_shape_tex(g.output_size)}$"),
    ]
    return _table(rows, "A pooling window:")


def _arithmetic_lines(a) -> list:
    from ..geometry import RELATIONSHIP_NAMES

    dilated = any(d > 1 for d in a.d)
    k = "\\hat{k}" if dilated else "k"
    lines = [
        rf"\tilde{{i}}' &= s(i' - 1) + 1 = {_tuple_tex(a.i_tilde_prime)}"
        rf" &&\text{{({_tuple_tex(tuple(s - 1 for s in a.s))} zeros between input units)}}",
        rf"p' &= {k} - p - 1 = {_tuple_tex(a.p_prime)} &&\text{{plus $a = {_tuple_tex(a.a)}$ on the high side}}",
        rf"k' &= k = {_tuple_tex(a.k_prime)},\quad s' = 1,\quad d' = d = {_tuple_tex(a.d_prime)}"
        r" &&\text{(the kernel flipped)}",
        rf"o' &= s(i' - 1) + a + {k} - p_{{lo}} - p_{{hi}} = {_tuple_tex(a.o_prime)}",
    ]
    if dilated:
        lines.insert(0, rf"\hat{{k}} &= k + (k - 1)(d - 1) = {_tuple_tex(a.k_hat)} &&\text{{(relationship 15)}}")
    names = "; ".join(f"{r}, {RELATIONSHIP_NAMES[r]}" for r in sorted(set(a.relationship)))
    return [names, lines]


def _arithmetic_body(a, printer) -> str:
    names, lines = _arithmetic_lines(a)
    head = (rf"\noindent A transposed convolution with $i' = {_tuple_tex(a.i_prime)}$, $k = {_tuple_tex(a.k)}$, "
            rf"$s = {_tuple_tex(a.s)}$, $p = {_tuple_tex(a.p)}$, $a = {_tuple_tex(a.a)}$"
            + (rf", $d = {_tuple_tex(a.d)}$" if any(d > 1 for d in a.d) else "")
            + rf" transposes a convolution of input size $i = {_tuple_tex(a.i)}$.  By Dumoulin and Visin's "
              rf"relationship {_escape_text(names)}, it is the direct convolution of the stretched, padded input:")
    return head + "\n\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"


def _arithmetic_math(a, printer) -> str:
    _, lines = _arithmetic_lines(a)
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


#: A factor of the chain is printed in full when it has at most this many rows and fits the text width.
FULL_FACTOR_ROWS = 30


def _chain_identity(d) -> str:
    def brace(name, shape):
        return rf"\underbrace{{{name}}}_{{{shape[0]} \times {shape[1]}}}"

    z = d.Z.shape
    p = d.P.shape
    c = d.conv_geometry.shape
    return (rf"{brace('T', d.shape)} = {brace('C', c)}\,{brace('P', p)}\,{brace('Z', z)}")


def _chain_body(d, printer) -> str:
    a = d.arithmetic
    g = d.conv_geometry
    out = [
        rf"\noindent The transposed convolution of the weight $({', '.join(map(str, d.transposed_weight.shape))})$ "
        rf"over the input ${d.in_channels} \times {_shape_tex(d.input_size)}$ is, exactly, a direct convolution: "
        rf"zero insertion $Z$ ($s - 1 = {_tuple_tex(tuple(s - 1 for s in a.s))}$ zeros between input units), "
        rf"padding $P$ (widths ${_tuple_tex(a.pad_widths)}$), and the stride-1 convolution $C$ of the flipped, "
        r"channel-swapped kernel.",
        "\\[\n" + _chain_identity(d) + "\n\\]",
    ]
    p = _printer(printer)
    factors = (
        ("Z", "the zero insertion", lambda: d.Z, ((d.in_channels, *a.i_tilde_prime), (d.in_channels, *a.i_prime))),
        ("P", "the padding", lambda: d.P, ((d.in_channels, *a.padded_size), (d.in_channels, *a.i_tilde_prime))),
        ("C", "the stride-1 convolution", lambda: d.C, g),
        ("T", "their product, the transposed convolution", lambda: d.matrix,
         ((d.out_channels, *d.output_size), (d.in_channels, *d.input_size))),
    )
    shapes = {"Z": d.Z.shape, "P": d.P.shape, "C": g.shape, "T": d.shape}
    for name, what, build, geometry in factors:
        rows, cols = shapes[name]
        if rows <= FULL_FACTOR_ROWS and cols <= FULL_FACTOR_ROWS * 2:
            tex, elided = _matrix_tex(build(), _printer(p, {"geometry": geometry, "name": name}))
            if not elided:
                out.append(f"\\noindent ${name}$, {what}:\n\\[\n{tex}\n\\]")
                continue
        if name == "C":
            size = f", {_count(d.conv_nnz)} stored entries"
        elif name == "T":
            size = f", {_count(d.nnz)} entries in its pattern"
        else:
            size = ""
        out.append(rf"\noindent ${name}$, {what}: ${rows} \times {cols}${size}.")
    return "\n\n".join(out)


def _chain_math(d, printer) -> str:
    return _chain_identity(d)


def _report_body(r, printer) -> str:
    a = r.arithmetic
    verdict = "exactly equal" if r.exact else "not equal"

    def cell(shape):
        return rf"${shape[0]} \times {shape[1]}$"

    rows = [
        ("$T$", cell(r.shape), f"{r.nnz_transposed:,}", rf"the transposed convolution, $i' = {_tuple_tex(a.i_prime)}"
                                                        rf" \to o' = {_tuple_tex(a.o_prime)}$"),
        ("$Z$", cell(r.zero_insertion_shape), "", rf"zero insertion, $s = {_tuple_tex(a.s)}$"),
        ("$P$", cell(r.padding_shape), "", rf"padding ${_tuple_tex(a.pad_widths)}$ to "
                                           rf"${_shape_tex(a.padded_size)}$"),
        ("$C$", cell(r.conv_shape), f"{r.conv_nnz:,}", rf"stride-1 convolution, weight "
                                                       rf"$({', '.join(map(str, r.direct_weight_shape))})$ flipped"),
        ("$CPZ$", cell(r.direct_shape), f"{r.nnz_direct:,}", "the product" + (", formed literally too"
                                                                              if r.literal_checked else "")),
    ]
    lines = [r"\begin{center}", r"\begin{tabular}{@{}l r r p{0.5\textwidth}@{}}", r"\hline",
             r"factor & size & stored & \\ \hline"]
    lines += [f"{a_} & {b} & {c.replace(',', '{,}') or '--'} & {d_} \\\\" for a_, b, c, d_ in rows]
    lines += [r"\hline", r"\end{tabular}", r"\end{center}"]
    head = (rf"\noindent Checked: $C P Z$ and $T$ (\texttt{{conv\_transpose\_matrix}}) are {verdict}, entry for "
            rf"entry; the largest difference is ${_number_tex(r.max_abs_difference, 4)}$.  The check took "
            rf"${_number_tex(r.seconds, 3)}$\,s.")
    return head + "\n" + "\n".join(lines)


def _report_math(r, printer) -> str:
    verdict = "=" if r.exact else r"\neq"
    return rf"C P Z {verdict} T \quad \text{{(max $|CPZ - T| = {_number_tex(r.max_abs_difference, 4)}$)}}"


def _zeiler_factors(stack, l: int) -> tuple[list, list]:
    """The factors of ``R_l`` and ``R_lᵀ`` with their shapes (rows, cols)."""
    size = math.prod
    R, Rt = [], []
    for k in range(1, l + 1):
        F = (size(stack.input_shapes[k - 1]), size(stack.map_shapes[k - 1]))
        R.append((f"F_{{{k}}}", F))
        Rt.insert(0, (f"F_{{{k}}}^T", (F[1], F[0])))
        if k < l and stack.pooled_shapes[k - 1] is not None:
            U = (size(stack.map_shapes[k - 1]), size(stack.pooled_shapes[k - 1]))
            R.append((f"U_{{s_{{{k}}}}}", U))
            Rt.insert(0, (f"P_{{s_{{{k}}}}}", (U[1], U[0])))
    return R, Rt


def _zeiler_body(stack, printer) -> str:
    out = [rf"\noindent A deconvolutional network of {stack.depth} layer{'s' if stack.depth > 1 else ''} over an "
           rf"input ${_shape_tex(stack.input_shape)}$ (Zeiler, Taylor and Fergus, 2011).  Its reconstruction "
           r"$R_l$ and projection $R_l^T$ are products of sparse matrices: the filters $F_l$ and, between layers, "
           r"unpooling $U_s$ and pooling $P_s = U_s^T$ for fixed switches."]
    for l in range(1, stack.depth + 1):
        R, Rt = _zeiler_factors(stack, l)
        rows, cols = R[0][1][0], R[-1][1][1]
        out.append("\\begin{align*}\n"
                   + rf"R_{{{l}}} &= {' '.join(n for n, _ in R)} &&({rows} \times {cols})" + " \\\\\n"
                   + rf"R_{{{l}}}^T &= {' '.join(n for n, _ in Rt)} &&({cols} \times {rows})" + "\n\\end{align*}")
    rows = []
    for l in range(1, stack.depth + 1):
        layer = stack.layers[l - 1]
        F = (math.prod(stack.input_shapes[l - 1]), math.prod(stack.map_shapes[l - 1]))
        rows.append((f"$F_{{{l}}}$", rf"${F[0]} \times {F[1]}$: {layer.num_maps} maps "
                                     rf"${_shape_tex(stack.map_shapes[l - 1])}$ to "
                                     rf"${_shape_tex(stack.input_shapes[l - 1])}$ ({layer.border})"))
        if stack.pooled_shapes[l - 1] is not None and l < stack.depth:
            U = (math.prod(stack.map_shapes[l - 1]), math.prod(stack.pooled_shapes[l - 1]))
            rows.append((f"$U_{{s_{{{l}}}}}$", rf"${U[0]} \times {U[1]}$: unpooling "
                                               rf"${_shape_tex(stack.pooled_shapes[l - 1])}$ to "
                                               rf"${_shape_tex(stack.map_shapes[l - 1])}$"))
    out.append(_table(rows))
    return "\n".join(out)


def _zeiler_math(stack, printer) -> str:
    R, Rt = _zeiler_factors(stack, stack.depth)
    l = stack.depth
    return rf"R_{{{l}}} = {' '.join(n for n, _ in R)}, \qquad R_{{{l}}}^T = {' '.join(n for n, _ in Rt)}"


def _generic_math(obj, printer) -> str:
    rows = [rf"\text{{{_escape_text(n)}}} & \texttt{{{_escape_text(display.short(v))}}}" for n, v in display.fields(obj)]
    head = rf"\text{{{_escape_text(type(obj).__name__)}}}"
    return head if not rows else head + " \\quad \\begin{array}{ll}\n" + " \\\\\n".join(rows) + "\n\\end{array}"


def _generic_body(obj, printer) -> str:
    rows = [(_escape_text(n), r"\texttt{%s}" % _escape_text(display.short(v))) for n, v in display.fields(obj)]
    head = r"\noindent \texttt{%s}" % _escape_text(type(obj).__name__) + (":" if rows else ".")
    return _table(rows, head) if rows else head


# =========================================================================== dispatch
#: Class name -> function(obj, printer) -> document body (text mode), for :func:`to_latex`.
BODY: dict = {}


def _step_math(step, printer) -> str:
    """One step in math mode: its sentence, then ``lhs = rhs``."""
    lhs, rhs = _step_tex(step, printer)
    return rf"\begin{{gathered}}\text{{{latex_sentence(step.text)}}}\\ {lhs} = {rhs}\end{{gathered}}"


def _register_renderers() -> None:
    body = {
        "Derivation": _derivation_body,
        "ConvGeometry": _geometry_body,
        "ConvTransposeGeometry": _transpose_geometry_body,
        "PoolGeometry": _pool_geometry_body,
        "TransposeArithmetic": _arithmetic_body,
        "TransposedConvAsDirect": _chain_body,
        "TransposeEquivalenceReport": _report_body,
        "ZeilerStack": _zeiler_body,
    }
    math_mode = {
        "Derivation": _derivation_math,
        "Step": _step_math,
        "TransposeArithmetic": _arithmetic_math,
        "TransposedConvAsDirect": _chain_math,
        "TransposeEquivalenceReport": _report_math,
        "ZeilerStack": _zeiler_math,
        "ConvGeometry": lambda g, p: _table_math(_conv_geometry_rows(g)),
        "ConvTransposeGeometry": lambda g, p: rf"\text{{transposed convolution, matrix ${g.shape[0]} \times "
                                              rf"{g.shape[1]}$}}",
        "PoolGeometry": lambda g, p: rf"\text{{pooling ${_shape_tex(g.input_size)} \to "
                                     rf"{_shape_tex(g.output_size)}$}}",
    }
    BODY.update(body)
    math_mode["Displayable"] = _generic_math  # every other result object: a table of its fields
    for name, func in math_mode.items():
        display.register(display.LATEX, name)(lambda obj, printer, f=func: f(obj, _printer(printer)))


def _table_math(rows: list) -> str:
    return "\\begin{array}{ll}\n" + " \\\\\n".join(rf"\text{{{a}}} & \text{{{b}}}" for a, b in rows) + \
        "\n\\end{array}"


_register_renderers()


def _lookup_body(obj):
    for cls in type(obj).__mro__:
        func = BODY.get(cls.__name__)
        if func is not None:
            return func
    return None


def _body(obj, printer) -> str:
    """The document body for one object (text mode)."""
    if isinstance(obj, str):
        return r"\noindent " + latex_sentence(obj)
    if isinstance(obj, (list, tuple)):
        return "\n\n".join(_body(o, printer) for o in obj)
    if sp.issparse(obj) or isinstance(obj, np.ndarray) or is_sympy_matrix(obj):
        return _matrix_body(obj, printer)
    func = _lookup_body(obj)
    if func is not None:
        return func(obj, printer)
    if _is_displayable(obj):
        return _generic_body(obj, printer)
    import sympy

    try:
        expr = sympy.sympify(obj, strict=True)
    except (sympy.SympifyError, TypeError):
        raise object_type_error("obj", obj, "must be a result object of convmatrix, a matrix, a SymPy expression "
                                "or a str (or a list of them)") from None
    return "\\[\n" + printer.doprint(expr) + "\n\\]"


def _is_displayable(obj) -> bool:
    return any(cls.__name__ == "Displayable" for cls in type(obj).__mro__)


def _title(obj) -> str:
    if isinstance(obj, (list, tuple)):
        return _title(obj[0]) if obj else "convmatrix"
    if hasattr(obj, "title") and isinstance(obj.title, str):
        return obj.title
    if sp.issparse(obj) or isinstance(obj, np.ndarray) or is_sympy_matrix(obj):
        shape = _as_matrix(obj).shape
        return f"A matrix of {shape[0]} × {shape[1]} entries"
    return {
        "TransposedConvAsDirect": "A transposed convolution as a direct convolution: T = C P Z",
        "TransposeEquivalenceReport": "T = C P Z, checked",
        "TransposeArithmetic": "The equivalent direct convolution (Dumoulin & Visin)",
        "ZeilerStack": "Zeiler's reconstruction R_l and projection R_lᵀ",
    }.get(type(obj).__name__, type(obj).__name__)


def to_latex(obj: Any, *, standalone: bool = False, **settings) -> str:
    """LaTeX for a document: a result object, a matrix, a SymPy expression, a sentence, or a list of them.

    Parameters
    ----------
    obj
        A derivation (each sentence a paragraph, each equation a display,
        numbers on the claims only), a matrix (``array``, elided to fit, with a
        caption saying what rows and columns index), the transposed chain
        ``T = C P Z`` and its check, the equivalent direct convolution of a
        :class:`~convmatrix.TransposeArithmetic`, a geometry's summary table,
        Zeiler's ``R_l`` and ``R_lᵀ``, any other result object (a table of its
        fields), a SymPy expression (a display), a ``str`` (a paragraph, its
        mathematics in math mode), or a list of these.
    standalone : bool, optional
        A whole document (``article``, ``amsmath``, ``geometry``; ``amssymb``
        where needed) that compiles with pdflatex, instead of a body to
        include.
    **settings
        The printer's settings: the package's own (:data:`SETTINGS`: ``zero``,
        ``max_rows``, ``max_cols``, ``geometry``, ``name``, ``caption``,
        ``digits``, ``numbered``, ``label_prefix``, ``names``) and SymPy's
        ``LatexPrinter`` settings.

    Returns
    -------
    str
        Text-mode LaTeX (mathematics inside displays); for math mode, use
        ``sympy.latex(obj)`` or :func:`matrix_latex`.

    Raises
    ------
    TypeError, ValueError
        An unknown setting or a bad value (naming it), an object that is none
        of the above.
    DerivationError
        A derivation whose steps fail their proofs (they are proved first).

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> print(cm.to_latex(np.array([[1, 0], [0, 2]]), zero="dot", caption=False))
    \\[
    \\left[\\begin{array}{cc}
    1 & \\cdot \\\\
    \\cdot & 2
    \\end{array}\\right]
    \\]
    >>> cm.to_latex(cm.batchnorm_derivation(2), standalone=True).startswith("\\\\documentclass")
    True
    """
    standalone = as_bool(standalone, "standalone")
    if isinstance(obj, np.ndarray) and obj.dtype.kind not in "biufcO":
        raise InputTypeError(f"obj must be a result, an expression or a matrix of numbers: got an array of dtype "
                             f"{obj.dtype}", "obj")
    if isinstance(obj, np.ndarray) and obj.ndim not in (1, 2):
        raise InputValueError(f"obj must be a matrix or a vector: got an array of shape {obj.shape}", "obj")
    printer = _printer(None, settings)
    body = _body(obj, printer)
    return latex_document(body, title=_title(obj)) if standalone else body


def latex_document(body: str, *, title: str | None = None) -> str:
    """A complete document around a body: the default page, ``amsmath``, ``amssymb`` only if the body needs it.

    Examples
    --------
    >>> print(latex_document("Hello.").splitlines()[0])
    \\documentclass[10pt]{article}
    """
    if not isinstance(body, str):
        raise InputTypeError(f"body must be a str of LaTeX, not a {type(body).__name__}", "body")
    needs_amssymb = re.search(r"\\(mathbb|checkmark|blacksquare|lesssim|gtrsim|varnothing)\b", body)
    head = PREAMBLE + ("\\usepackage{amssymb}\n" if needs_amssymb else "")
    top = f"\\section*{{{latex_sentence(title)}}}\n" if title else ""
    return f"{head}\\begin{{document}}\n{top}{body.rstrip()}\n\\end{{document}}\n"


def write_latex(obj: Any, path: str | os.PathLike, **settings) -> Path:
    """Write ``to_latex(obj, standalone=True)`` to a ``.tex`` file (whole or not at all).

    Raises
    ------
    TypeError, ValueError
        As :func:`to_latex`; a path that does not end in ``.tex``.
    """
    path = Path(path)
    if path.suffix.lower() != ".tex":
        raise InputValueError(f"path={str(path)!r} must end in .tex", "path")
    tex = to_latex(obj, standalone=True, **settings)
    with atomic_write(path, "w") as fh:
        fh.write(tex)
    return path


def pdflatex_path() -> str | None:
    """The ``pdflatex`` on ``PATH``, or ``None``."""
    return shutil.which("pdflatex")


#: What to install when pdflatex is missing.
PDFLATEX_HINT = ("pdflatex is not installed: install TeX (Debian/Ubuntu: apt-get install texlive-latex-base "
                 "texlive-latex-recommended), or write the document with -o FILE.tex")


def compile_pdf(tex: str, path: str | os.PathLike, *, timeout: float = 120.0) -> Path:
    """Compile a standalone document with ``pdflatex -halt-on-error`` and write the PDF (whole or not at all).

    Raises
    ------
    FileNotFoundError
        pdflatex is not installed (the message says what to install).
    LatexError
        pdflatex failed (the end of its log in the message).
    """
    exe = pdflatex_path()
    if exe is None:
        raise FileNotFoundError(PDFLATEX_HINT)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="convmatrix-latex-") as tmp:
        src = Path(tmp) / "document.tex"
        src.write_text(tex, encoding="utf-8")
        run = subprocess.run([exe, "-halt-on-error", "-interaction=nonstopmode", "document.tex"], cwd=tmp,
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        pdf = Path(tmp) / "document.pdf"
        if run.returncode != 0 or not pdf.exists():
            log = (Path(tmp) / "document.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else run.stdout[-2000:]
            raise LatexError(f"pdflatex failed (exit {run.returncode}):\n{tail}")
        with atomic_write(path) as fh:
            fh.write(pdf.read_bytes())
    return path
