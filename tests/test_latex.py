"""Every kind of LaTeX output, compiled by pdflatex: no error and no overfull box on the default page.

The sweep covers object kinds (matrices of every format and dtype, derivations, the transposed chain and its
check, the Dumoulin & Visin arithmetic, geometries, Zeiler's stack, generic result objects, expressions,
sentences, the CLI's outputs), sizes (1 x 1 to elided 64-channel layers) and settings.  The bodies are batched
into a few documents compiled in parallel; markers in the log tell which object a message belongs to.

pdflatex missing: the tests skip, unless CONVMATRIX_REQUIRE_LATEX=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import sympy

import convmatrix as cm
from convmatrix.cli import main
from convmatrix.export.latex import PREAMBLE, compile_pdf, latex_document, matrix_latex, to_latex

PDFLATEX = shutil.which("pdflatex")
REQUIRED = os.environ.get("CONVMATRIX_REQUIRE_LATEX") == "1"


def need_pdflatex():
    if PDFLATEX is None:
        if REQUIRED:
            pytest.fail("pdflatex is not installed but CONVMATRIX_REQUIRE_LATEX=1: install texlive-latex-base "
                        "and texlive-latex-recommended")
        pytest.skip("pdflatex is not installed (CONVMATRIX_REQUIRE_LATEX=1 makes this a failure)")


def run_pdflatex(tex: str, folder: Path, name: str) -> str:
    """Compile one document; return its log (asserting pdflatex succeeded)."""
    (folder / f"{name}.tex").write_text(tex, encoding="utf-8")
    proc = subprocess.run([PDFLATEX, "-halt-on-error", "-interaction=nonstopmode", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert proc.returncode == 0, f"{name}: pdflatex failed\n{log[-3000:]}"
    return log


def compile_bodies(bodies: dict, folder: Path, per_document: int = 12) -> dict:
    """Compile bodies batched into documents (in parallel); return name -> the log lines about that body."""
    names = list(bodies)
    docs = []
    for k in range(0, len(names), per_document):
        chunk = names[k:k + per_document]
        parts = [f"\\typeout{{BEGIN-BODY {n}}}\n{bodies[n]}\n\\clearpage\\typeout{{END-BODY {n}}}" for n in chunk]
        docs.append(PREAMBLE + "\\usepackage{amssymb}\n\\begin{document}\n" + "\n\n".join(parts) + "\n\\end{document}\n")
    with ThreadPoolExecutor(2) as pool:
        logs = list(pool.map(lambda a: run_pdflatex(a[1], folder, f"batch{a[0]}"), enumerate(docs)))
    out = {}
    for log in logs:
        for m in re.finditer(r"BEGIN-BODY (\S+)\n(.*?)END-BODY \1", log, re.S):
            out[m.group(1)] = m.group(2)
    missing = set(names) - set(out)
    assert not missing, f"no log for {sorted(missing)}"
    return out


def overfull(log_part: str) -> list:
    return re.findall(r"Overfull \\[hv]box.*", log_part)


# --------------------------------------------------------------------------- the sweep
def _weights():
    rng = np.random.default_rng(0)
    return rng.integers(-3, 4, (64, 64, 3, 3)), rng.integers(-3, 4, (4, 2, 3, 3))


def sweep() -> dict:
    """name -> LaTeX body, every kind of output."""
    w64, w4 = _weights()
    g64 = cm.ConvGeometry.from_weight_shape(w64.shape, (8, 8), padding=1)
    g4 = cm.ConvGeometry.from_weight_shape(w4.shape, (5, 5), padding=1)
    sym = cm.symbolic_weight((2, 2, 2, 2))
    gsym = cm.ConvGeometry.from_weight_shape(sym.shape, (3, 3))
    rng = np.random.default_rng(1)
    A4 = cm.conv_matrix(w4, (5, 5), padding=1)
    bodies = {
        "one_by_one": to_latex(np.array([[7]])),
        "vector": to_latex(np.arange(5)),
        "empty": to_latex(np.zeros((0, 3))),
        "int_small": to_latex(cm.conv_matrix(np.array([[[1, 2, 3]]]), 5, padding=1)),
        "float_dense": to_latex(rng.standard_normal((6, 7)), digits=3),
        "float_tiny_huge": to_latex(np.array([[1e-12, -3.5e20, np.nan], [np.inf, 0.0, -np.inf]])),
        "complex": to_latex(np.array([[1 + 2j, -1j, 0], [2.5, 1j, -3 - 0.5j]])),
        "bool": to_latex(np.eye(3, dtype=bool)),
        "float_large_elided": to_latex(rng.standard_normal((120, 90)), digits=6),
        "conv_channels": to_latex(A4, geometry=g4),
        "conv_channels_dot": to_latex(A4, geometry=g4, zero="dot", name="A"),
        "conv_channels_blank": to_latex(A4, geometry=g4, zero="blank", max_rows=12, max_cols=10),
        "conv64_elided": to_latex(cm.conv_matrix(w64, (8, 8), padding=1), geometry=g64),
        "conv64_csc": to_latex(cm.conv_matrix(w64, (8, 8), padding=1, format="csc"), geometry=g64, zero="dot"),
        "coo_dia": to_latex(sp.dia_array(np.diag(np.arange(1, 40)))),
        "symbolic_conv": to_latex(cm.conv_matrix(sym, (3, 3)), geometry=gsym, name="A"),
        "symbolic_large": to_latex(cm.conv_matrix(cm.symbolic_weight((3, 3, 3, 3)), (6, 6), padding=1),
                                   geometry=cm.ConvGeometry.from_weight_shape((3, 3, 3, 3), (6, 6), padding=1)),
        "symbolic_transpose": to_latex(cm.conv_transpose_matrix(cm.symbolic_weight((1, 1, 3)), 4, stride=2)),
        "jacobian_symbolic": to_latex(cm.batchnorm_jacobian(4), name="J"),
        "jacobian_symbolic_large": to_latex(cm.batchnorm_jacobian(12), name="J"),
        "jacobian_numeric": to_latex(cm.batchnorm_jacobian([1.0, 2.0, 4.0, 7.0])),
        "bn4": to_latex(cm.batchnorm_derivation(4), label_prefix="bn4:"),
        "bn_general": to_latex(cm.batchnorm_derivation(None), label_prefix="bnm:"),
        "bn_eps": to_latex(cm.batchnorm_derivation(2, eps=1e-5), numbered=False),
        "chain_small": to_latex(cm.transposed_conv_as_direct(np.array([[[[2, 3], [4, 5]]]]), (2, 2), stride=2)),
        "chain_symbolic": to_latex(cm.transposed_conv_as_direct(cm.symbolic_weight((1, 1, 3)), 3, stride=2)),
        "chain_large": to_latex(cm.transposed_conv_as_direct(rng.integers(-2, 3, (8, 4, 4, 4)), (8, 8), stride=2,
                                                             padding=1)),
        "report": to_latex(cm.verify_transpose_equivalence(rng.integers(-2, 3, (8, 4, 4, 4)), (5, 5), stride=2,
                                                           padding=1)),
        "arithmetic": to_latex(cm.transpose_arithmetic((8, 8), 4, stride=2, padding=1)),
        "arithmetic_dilated": to_latex(cm.transpose_arithmetic((3, 5), (3, 2), stride=(2, 3), padding=((0, 1), (2, 0)),
                                                               output_padding=(1, 0), dilation=(2, 1))),
        "geometry": to_latex(g64),
        "geometry_transpose": to_latex(cm.ConvTransposeGeometry.from_weight_shape((4, 2, 3), 7, stride=2,
                                                                                  output_padding=1)),
        "geometry_pool": to_latex(cm.PoolGeometry.from_args((9, 9), 3, stride=2, padding=1)),
        "zeiler": to_latex(_stack()),
        "generic": to_latex(cm.MaxPool(2, channel_pool=2)),
        "tapmap": to_latex(cm.tap_map(g4)),
        "expression": to_latex(sympy.sqrt(sympy.Symbol("x")) / 2),
        "sentence": to_latex("The mean μ_B of the m values, ∂L/∂x = γ J ∂L/∂y; 50% of {x} & #1."),
        "list": to_latex(["A 2 × 2 matrix:", np.eye(2, dtype=int)]),
    }
    return bodies


def _stack():
    rng = np.random.default_rng(0)
    return cm.ZeilerStack([cm.ZeilerLayer(rng.integers(-2, 3, (4, 1, 3, 3)), "valid", cm.MaxPool(2, channel_pool=2)),
                           cm.ZeilerLayer(rng.integers(-2, 3, (6, 2, 3, 3)), "full", cm.MaxPool(2)),
                           cm.ZeilerLayer(rng.integers(-2, 3, (3, 6, 3, 3)), "same")], (1, 16, 16))


CLI_COMMANDS = {
    "cli_conv": ["conv", "--random", "4,2,3,3", "--input-size", "6,6", "--padding", "1"],
    "cli_conv_symbolic": ["conv", "--symbolic", "2,1,2,2", "--input-size", "3,3"],
    "cli_transpose": ["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2"],
    "cli_verify": ["verify", "--random", "8,4,4,4", "--input-size", "5,5", "--stride", "2", "--padding", "1"],
    "cli_resample": ["resample", "avg-pool", "--input-size", "6,6", "--kernel-size", "2"],
    "cli_overlap": ["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4,4"],
    "cli_overlap_3d": ["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "2,3,3"],
    "cli_batchnorm": ["batchnorm", "--batch", "1"],
    "cli_deconvnet": ["deconvnet", "--input-size", "16,16", "--maps", "4", "6", "--kernel", "3"],
}


def cli_bodies(capsys) -> dict:
    out = {}
    for name, argv in CLI_COMMANDS.items():
        assert main([*argv, "--format", "latex"]) == 0, name
        out[name] = capsys.readouterr().out
    return out


# --------------------------------------------------------------------------- tests
def test_every_kind_of_output_compiles_without_overfull_boxes(tmp_path, capsys):
    need_pdflatex()
    bodies = {**sweep(), **cli_bodies(capsys)}
    logs = compile_bodies(bodies, tmp_path)
    bad = {name: overfull(log) for name, log in logs.items() if overfull(log)}
    assert not bad, bad


def test_standalone_documents_compile(tmp_path):
    need_pdflatex()
    docs = {
        "derivation": to_latex(cm.batchnorm_derivation(4), standalone=True),
        "matrix": to_latex(cm.conv_matrix(cm.symbolic_weight((2, 1, 2, 2)), (3, 3)), standalone=True),
        "chain": to_latex([cm.transposed_conv_as_direct(np.ones((1, 1, 3, 3), dtype=int), (3, 3), stride=2),
                           cm.verify_transpose_equivalence(np.ones((1, 1, 3, 3), dtype=int), (3, 3), stride=2)],
                          standalone=True),
        "amssymb": latex_document(r"$\mathbb{R}^n$", title="A title with μ"),
    }
    assert "amssymb" not in docs["derivation"] and "amssymb" in docs["amssymb"]
    with ThreadPoolExecutor(2) as pool:
        logs = dict(zip(docs, pool.map(lambda kv: run_pdflatex(kv[1], tmp_path, kv[0]), docs.items())))
    assert not {k: overfull(v) for k, v in logs.items() if overfull(v)}


def test_math_mode_renders_compile(tmp_path):
    """``sympy.latex(obj)`` (notebooks, MathJax) is valid LaTeX for every result object too."""
    need_pdflatex()
    w4 = _weights()[1]
    g4 = cm.ConvGeometry.from_weight_shape(w4.shape, (5, 5), padding=1)
    objs = [cm.batchnorm_derivation(2), g4, cm.transpose_arithmetic(4, 3, stride=2),
            cm.transposed_conv_as_direct(np.ones((1, 1, 3)), 3, stride=2),
            cm.verify_transpose_equivalence(np.ones((1, 1, 3)), 3, stride=2), _stack(),
            cm.ConvTransposeGeometry.from_weight_shape((4, 2, 3), 7, stride=2), cm.PoolGeometry(5, 2),
            cm.MaxPool(2, channel_pool=2), cm.tap_map(g4)]
    body = "\n".join(f"\\[\n{sympy.latex(o)}\n\\]\n\\clearpage" for o in objs)
    body += "\n\\[ " + matrix_latex(cm.conv_matrix(w4, (5, 5), padding=1), geometry=g4) + " \\]"
    run_pdflatex(PREAMBLE + "\\begin{document}\n" + body + "\n\\end{document}\n", tmp_path, "math")
    for o in objs:
        assert o._repr_latex_().startswith("$$ ")


def test_cli_writes_tex_and_pdf(tmp_path, capsys):
    tex = tmp_path / "bn.tex"
    assert main(["batchnorm", "--batch", "m", "-o", str(tex)]) == 0  # .tex implies LaTeX
    assert tex.read_text().startswith(r"\documentclass") and r"\end{document}" in tex.read_text()
    assert main(["conv", "--kernel", "[1, 2]", "--input-size", "3", "--format", "latex", "-o", str(tmp_path / "a.npz")]) == 2
    assert "-o takes a .tex or a .pdf" in capsys.readouterr().err
    assert main(["batchnorm", "--format", "latex", "-o", str(tmp_path / "missing" / "a.tex")]) == 2
    assert "does not exist" in capsys.readouterr().err
    need_pdflatex()
    pdf = tmp_path / "layer.pdf"
    assert main(["conv", "--symbolic", "2,1,2,2", "--input-size", "3,3", "--format", "latex", "-o", str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and "compiled with pdflatex" in capsys.readouterr().out


def test_cli_says_what_is_missing_without_pdflatex(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdflatex on this PATH
    assert main(["batchnorm", "--batch", "2", "--format", "latex", "-o", str(tmp_path / "bn.pdf")]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and "pdflatex is not installed" in err and "texlive-latex-base" in err
    assert "Traceback" not in err


def test_compile_pdf_reports_latex_errors(tmp_path):
    need_pdflatex()
    with pytest.raises(cm.export.latex.LatexError, match="Undefined control sequence"):
        compile_pdf(latex_document(r"\nosuchcommand"), tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


# --------------------------------------------------------------------------- what the output says
def test_matrix_layout_and_settings():
    w4 = _weights()[1]
    g4 = cm.ConvGeometry.from_weight_shape(w4.shape, (5, 5), padding=1)
    A = cm.conv_matrix(w4, (5, 5), padding=1)  # 100 x 50: 4 output channels of 25, 2 input channels of 25
    tex = matrix_latex(A, geometry=g4)
    spec = re.search(r"\\begin\{array\}\{([c|]+)\}", tex).group(1)
    assert "|" in spec and r"\hline" in tex and r"\vdots" in tex and r"\cdots" in tex and r"\ddots" in tex
    # the rule sits between the last column of channel 0 and the first of channel 1: both are shown
    full = to_latex(A, geometry=g4)
    assert "Rows index $(o, y, x)$: output channel $o < 4$" in full and "input channel $c < 2$" in full
    assert r"\cdot" in matrix_latex(np.array([[0, 1]]), zero="dot")
    assert matrix_latex(np.array([[0, 1]]), zero="blank").splitlines()[1] == " & 1"
    small = matrix_latex(A, max_rows=4, max_cols=4)
    assert small.count(r"\\") == 4 and small.splitlines()[1].count("&") == 4  # 4 rows + gap, 4 cols + gap
    # complex, floats, symbolic entries
    assert "1 + 2i" in matrix_latex(np.array([[1 + 2j]])) and r"\cdot 10^{-12}" in matrix_latex(np.array([[1e-12]]))
    assert "w_{0,0,1,0}" in matrix_latex(cm.conv_matrix(cm.symbolic_weight((1, 1, 2, 2)), (2, 3)))
    assert r"\hat{x}_{1}" in matrix_latex(cm.batchnorm_jacobian(2))
    # any format: the same text
    assert matrix_latex(A.tocoo()) == matrix_latex(A.tocsc()) == matrix_latex(A.toarray()) == matrix_latex(A)


@pytest.mark.parametrize("settings,error,match", [
    ({"zero": "none"}, ValueError, "zero='none'"),
    ({"zero": 0}, TypeError, "zero=0"),
    ({"max_rows": 0}, ValueError, "max_rows=0"),
    ({"max_cols": 2.5}, TypeError, "max_cols"),
    ({"digits": 40}, ValueError, "digits=40"),
    ({"numbered": "yes"}, TypeError, "numbered"),
    ({"geometry": (4, 4)}, TypeError, "geometry"),
    ({"geometry": ((2, 3), (1, 5))}, ValueError, "geometry"),
    ({"colour": "red"}, TypeError, "colour='red' is not a setting"),
    ({"mode": "wrong"}, ValueError, "settings"),
    ({"standalone": "no"}, TypeError, "standalone"),
])
def test_bad_settings_are_refused(settings, error, match):
    with pytest.raises(error, match=match):
        to_latex(np.eye(5), **settings)


def test_refuses_what_it_cannot_print():
    with pytest.raises(TypeError, match="obj must be a result object"):
        to_latex(object())
    with pytest.raises(ValueError, match="shape"):
        to_latex(np.zeros((2, 2, 2)))


def test_printer_typography():
    import sympy

    x, mu, gamma, m, sig = sympy.symbols("x mu_B gamma m sigma")
    p = cm.export.latex.ConvmatrixLatexPrinter()
    assert p.doprint(x - mu) == r"x - \mu_{B}"  # the natural order of terms
    d = cm.batchnorm_derivation(None, check=False)
    dy = d.symbols["dout"]
    j = d.symbols["j"]
    tex = p.doprint(gamma / (m * sig) * (m * dy[1] - sympy.Sum(dy[j], (j, 1, m))))
    assert tex.startswith(r"\frac{\gamma}{m \sigma}")  # no fractions inside a fraction
    assert sympy.latex(d.step("paper_dvar").rhs).count(r"\frac") >= 2  # plain SymPy reads the names too
    # nested sums of an explicit result print distinct indices
    assert "k" in d.text_of(d.gradients["gamma"]) and "l" in d.text_of(d.gradients["gamma"])
