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
    "convmatrix.cli.spectrum:section_spectrum",
    "convmatrix.cli.resample:section_resampling",
    "convmatrix.cli.deconvnet:section_zeiler",
    "convmatrix.cli.batchnorm:section_batchnorm",
    "convmatrix.cli.tour:section_from_torch",
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


def section_from_torch() -> str:
    title = "A torch network at a point is a sparse matrix: from_torch(net, input_size, x=x)."
    try:
        import torch
    except ImportError:
        return f"{title}\n(PyTorch is not installed: pip install torch to run this step.)"
    import numpy as np

    from .. import conv_transpose_matrix, from_torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten()).double()
    x = torch.randn(1, 6, 6, dtype=torch.float64)
    J = from_torch(net, (1, 6, 6), x=x)
    with torch.no_grad():
        same = np.allclose(J(x), net(x[None])[0].numpy())
    w = net[0].weight.detach().numpy()  # read as a transposed conv's weight (C_in=2, C_out=1, 3, 3)
    T = conv_transpose_matrix(w, (6, 6), padding=1, padding_mode="circular")
    lines = [
        title,
        "net = Sequential(Conv2d(1, 2, 3, padding=1, padding_mode='circular'), ReLU(), MaxPool2d(2), Flatten())",
        "",
        f"J = from_torch(net, (1, 6, 6), x=x): {J}",
        f"J(x) == net(x): {same}; J.matrix is the Jacobian of net at x ({J.nnz} of {J.shape[0] * J.shape[1]} "
        f"entries stored: each output reads one 3 x 3 window, wrapped around the border).",
        "",
        "torch refuses ConvTranspose2d(..., padding_mode='circular'); its matrix is the transpose of the padded",
        f"convolution: conv_transpose_matrix(w, (6, 6), padding=1, padding_mode='circular') is {T.shape[0]} x "
        f"{T.shape[1]}, the adjoint torch gives only as a gradient.",
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
