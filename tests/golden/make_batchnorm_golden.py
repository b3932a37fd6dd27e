"""Write the golden outputs of batchnorm_derivation that tests/test_derivation_speed.py compares against.

They were generated from main at 8090475, before the derivation was made faster, with

    PYTHONPATH=/tmp/old python tests/golden/make_batchnorm_golden.py tests/golden

(``/tmp/old`` holding ``git archive 8090475``): the printed derivation (text and LaTeX) for a few batch sizes,
and a SHA-256 of every output for more of them — the steps, gradients, forward values and symbols in
``sympy.srepr`` form, the text and the LaTeX — so that any change in any output fails the test.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import sympy

#: (batch_size, eps) -> the name of its golden entry; eps None is the symbol ε.
CASES = {(1, None): "1", (2, None): "2", (3, None): "3", (4, None): "4", (5, None): "5", (8, None): "8",
         (None, None): "m", (3, sympy.Rational(1, 100)): "3_eps_1over100",
         (2, 1e-5): "2_eps_1e-05", (2, 0): "2_eps_0"}
#: The cases whose text and LaTeX are kept in full, not only as a hash.
PRINTED = ("2", "4", "8", "m")


def outputs(d) -> dict:
    """Every output of a derivation, as strings."""
    steps = "\n".join(f"{s.name}|{s.kind}|{s.index}|{sympy.srepr(s.lhs)}|{sympy.srepr(s.rhs)}|{s.text}"
                      for s in d.steps)
    def rep(v):
        return repr([sympy.srepr(e) for e in v]) if isinstance(v, (list, tuple)) else sympy.srepr(v)
    return {"repr": repr(d), "text": d.text(), "latex": d.latex(), "steps": steps,
            "gradients": "\n".join(f"{k}: {rep(v)}" for k, v in d.gradients.items()),
            "forward": "\n".join(f"{k}: {rep(v)}" for k, v in d.forward.items()),
            "symbols": "\n".join(f"{k}: {rep(v)}" for k, v in d.symbols.items())}


def fingerprint(d) -> dict:
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in outputs(d).items()}


def main(out: Path) -> None:
    import convmatrix as cm

    hashes = {}
    for (n, eps), name in CASES.items():
        d = cm.batchnorm_derivation(n, eps=eps)
        hashes[name] = fingerprint(d)
        if name in PRINTED:
            (out / f"batchnorm_{name}.txt").write_text(d.text())
            (out / f"batchnorm_{name}.tex").write_text(d.latex())
    (out / "batchnorm_hashes.json").write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(f"written to {out} by {cm.__file__}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
