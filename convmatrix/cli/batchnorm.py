"""``convmatrix batchnorm``: print batch normalization's derivation, proved by SymPy."""

from __future__ import annotations

import argparse

from ._common import add_format_arg, emit_latex, user_error, wants_latex


def batch_arg(text: str) -> int | None:
    """``"4"`` -> 4; ``"m"`` or ``"general"`` -> None (general batch size)."""
    if text.strip().lower() in ("m", "general", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch {text!r} must be a positive integer or 'm' (general)") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batchnorm", help="batch normalization's forward and backward pass, derived step by step",
                       description="Print the derivation of batch normalization's gradients (forward graph, "
                                   "backward through every node, the paper's intermediates, the closed form), "
                                   "every equality proved by SymPy first.")
    p.add_argument("--batch", type=batch_arg, default=4, metavar="N",
                   help="number of values per channel m (default 4), or 'm' for general m")
    add_format_arg(p, output=True)
    p.add_argument("--eps", default=None, help="a number for ε (default: the symbol ε)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batchnorm_symbolic import batchnorm_derivation

    eps = None
    if args.eps is not None:
        try:
            eps = float(args.eps)
        except ValueError:
            raise user_error("--eps", f"{args.eps!r} must be a number") from None
    if args.batch is not None and args.batch < 1:
        raise user_error("--batch", f"--batch {args.batch} must be positive (at least 1)")
    d = batchnorm_derivation(args.batch, eps=eps)
    proved = sum(1 for s in d.steps if s.kind == "equality")
    if wants_latex(args, document_output=True):
        emit_latex(d, args, comment=f"{d.title}: {proved} equalities proved by SymPy and checked in numbers")
    else:
        print(d.text())
        print(f"-- {proved} equalities proved by SymPy (lhs - rhs reduced to 0 exactly) and checked in numbers")
    return 0


def section_batchnorm() -> str:
    """Tour section: the closed-form gradient, proved, and checked against the staged graph in numbers."""
    import numpy as np

    from ..batchnorm import batchnorm_backward, batchnorm_forward
    from ..batchnorm_symbolic import batchnorm_derivation, batchnorm_jacobian

    d = batchnorm_derivation(4)
    closed = d.step("closed_form")
    x = np.array([[1.0], [2.0], [4.0], [7.0]])
    dy = np.array([[1.0], [0.0], [-1.0], [2.0]])
    _, cache = batchnorm_forward(x)
    dx, dg, db = batchnorm_backward(dy, cache)
    J = batchnorm_jacobian(x.ravel())
    proved = sum(1 for s in d.steps if s.kind == "equality")
    lines = [
        "Batch normalization derived with SymPy (m = 4), every step proved and checked in numbers.",
        f"{len(d.steps)} steps: forward graph, backward through every node, Ioffe & Szegedy's "
        f"∂L/∂x̂, ∂L/∂σ², ∂L/∂μ; {proved} equalities proved by SymPy (lhs − rhs reduced to 0 exactly).",
        "",
        "The closed form:",
        f"    {d.text_of(closed.lhs)} = {d.text_of(closed.rhs)}",
        "",
        "In matrix form ∂L/∂x = γ J ∂L/∂y with J = σ_ε⁻¹(I − 𝟙𝟙ᵀ/m − x̂x̂ᵀ/m); for x = [1, 2, 4, 7]:",
        f"    J symmetric: {bool(np.allclose(J, J.T))}, J·𝟙 = 0: {bool(np.allclose(J.sum(axis=1), 0))}, "
        f"γ J dy = dx of the layer: {bool(np.allclose(J @ dy.ravel(), dx.ravel()))}",
        "",
        "Print it all: convmatrix batchnorm --batch 4 [--format latex]; general m: --batch m",
    ]
    return "\n".join(lines)
