"""``convmatrix tour``: a short tour of the package's results on built-in defaults.

Each section is a function returning text, listed in :data:`SECTIONS` as
``"module:function"``; feature modules add their own.
"""

from __future__ import annotations

import argparse
import importlib

from ._common import user_error

#: The tour, in order.
SECTIONS = (
    "convmatrix.cli.tour:section_transpose_example",
    "convmatrix.cli.transposed:section_equivalence",
    "convmatrix.cli.resample:section_resampling",
    "convmatrix.cli.deconvnet:section_zeiler",
    "convmatrix.cli.batchnorm:section_batchnorm",
)


def section_transpose_example() -> str:
    import numpy as np

    from .. import conv_matrix, conv_transpose_matrix
    from ..export import format_matrix

    w = np.array([[[[2, 3], [4, 5]]]])
    x = np.array([[1, 0], [2, 3]])
    T = conv_transpose_matrix(w, (2, 2), stride=2)
    A = conv_matrix(w, (4, 4), stride=2)
    lines = [
        "A transposed convolution is a matrix (torch.nn.ConvTranspose2d(1, 1, 2, stride=2)).",
        "kernel [[2, 3], [4, 5]], input [[1, 0], [2, 3]]:",
        "",
        "T = conv_transpose_matrix(w, (2, 2), stride=2)   # 16 x 4",
        format_matrix(T),
        "",
        "T @ x.ravel(), as a 4 x 4 image:",
        format_matrix((T @ x.reshape(-1)).reshape(4, 4)),
        "",
        f"T is literally the transpose of the 4 x 16 stride-2 conv matrix A: (T != A.T).nnz == {(T != A.T).nnz}",
        "integer kernel in, integer matrix out: the check is exact, not to a tolerance.",
    ]
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tour", help="a short tour of the package's results on built-in defaults")
    p.add_argument("--section", type=int, help="show only this section (1-based)")
    p.set_defaults(func=run)


def run(args) -> int:
    chosen = SECTIONS if args.section is None else (SECTIONS[_check(args.section) - 1],)
    for number, spec in enumerate(chosen, start=1 if args.section is None else args.section):
        module, func = spec.split(":")
        body = getattr(importlib.import_module(module), func)()
        title = body.splitlines()[0]
        print(f"== {number}. {title}")
        print("\n".join(body.splitlines()[1:]))
        print()
    return 0


def _check(section: int) -> int:
    if not 1 <= section <= len(SECTIONS):
        raise user_error("--section", f"--section={section} must be between 1 and {len(SECTIONS)}")
    return section
