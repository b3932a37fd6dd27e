"""Argument parsing shared by the sub-commands: sizes, paddings, weights, output, and user errors."""

from __future__ import annotations

import argparse
import ast
import contextlib
from pathlib import Path

import numpy as np

from .._limits import guard_bytes
from .._validation import InputValueError

#: Library parameter -> command-line option, where the option is not the parameter with dashes.
OPTION_ALIASES = {
    "batch_size": "--batch",
    "count_include_pad": "--exclude-pad",
    "path": "--output",
}


def int_tuple(text: str) -> int | tuple[int, ...]:
    """``"3"`` -> 3, ``"3,4"`` -> (3, 4) (``x`` also separates: ``3x4``)."""
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer or a comma-separated list of integers")
    if not values:
        raise argparse.ArgumentTypeError("an empty value is not a size")
    return values[0] if len(values) == 1 and "," not in text and "x" not in text else values


def padding_arg(text: str):
    """An int, ``a,b``, a Python literal of (lo, hi) pairs such as ``((0,1),(1,1))``, ``same`` or ``valid``."""
    if text in ("same", "valid"):
        return text
    if "(" in text or "[" in text:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise argparse.ArgumentTypeError(f"padding {text!r} is not a literal such as ((0, 1), (1, 1))")
    return int_tuple(text)


def option_of(args: argparse.Namespace, parameter: str | None) -> str | None:
    """The command-line option that set a library parameter (``"stride"`` -> ``"--stride"``), if any."""
    if parameter is None:
        return None
    if parameter in ("weight", "shape"):
        return getattr(args, "weight_option", None)
    if parameter in OPTION_ALIASES:
        return OPTION_ALIASES[parameter]
    dest = parameter.replace("-", "_")
    if dest in vars(args):
        return "--" + dest.replace("_", "-")
    return None


def user_error(option: str, message: str) -> InputValueError:
    """A user mistake about ``option`` (named first in the message unless it already is), to raise."""
    text = message if message.startswith(option) else f"{option}: {message}"
    return InputValueError(text, option.lstrip("-").replace("-", "_"))


# --------------------------------------------------------------------------- weights
def add_weight_args(p: argparse.ArgumentParser, layout: str, *, symbolic: bool = True) -> None:
    """The weight options (one of ``--kernel``, ``--weight``, ``--random``, and ``--symbolic`` unless refused)."""
    g = p.add_argument_group("weight (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--kernel", help=f"nested list, e.g. '[[2,3],[4,5]]'; a bare kernel is read as "
                     f"one channel in and out, else the torch layout {layout}")
    src.add_argument("--weight", type=Path, help="a .npy file (or a .npz holding one array) in the torch layout")
    src.add_argument("--random", type=int_tuple, metavar="SHAPE",
                     help=f"random integer weight of this shape {layout}, e.g. 2,1,3,3")
    if symbolic:
        src.add_argument("--symbolic", type=int_tuple, metavar="SHAPE",
                         help="SymPy symbols w_{o,c,i,j} of this shape")
    else:
        p.set_defaults(symbolic=None)
    g.add_argument("--seed", type=seed_arg, default=0, help="seed for --random (default 0)")


def read_array(path: Path, option: str, max_bytes=None) -> np.ndarray:
    """The array in a ``.npy`` file, or the one array of a ``.npz`` file; a user error for anything else."""
    try:
        loaded = np.load(path, allow_pickle=False, mmap_mode="r")
    except FileNotFoundError:
        raise user_error(option, f"{str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise user_error(option, f"{str(path)!r} is a folder, not a .npy file") from None
    except PermissionError:
        raise user_error(option, f"{str(path)!r} cannot be read (permission denied)") from None
    except (ValueError, EOFError, OSError) as exc:
        raise user_error(option, f"{str(path)!r} is not a .npy or .npz file of numbers ({exc})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if len(names) != 1:
                raise user_error(option, f"{str(path)!r} holds {len(names)} arrays ({', '.join(names) or 'none'}): "
                                         "give a .npy file or a .npz holding exactly one")
            try:
                loaded = loaded[names[0]]
            except (ValueError, OSError, EOFError) as exc:
                raise user_error(option, f"{str(path)!r}: {exc}") from None
    guard_bytes(loaded.nbytes, max_bytes, what=f"the array of {str(path)!r}")
    return np.array(loaded)


def weight_from_args(args, ndim_hint: int | None = None) -> np.ndarray:
    """The weight the user gave by one of ``--kernel``, ``--weight``, ``--random``, ``--symbolic``."""
    from ..matrices import symbolic_weight

    if args.weight is not None:
        args.weight_option = "--weight"
        return read_array(args.weight, "--weight", getattr(args, "max_bytes", None))
    if args.random is not None:
        args.weight_option = "--random"
        shape = (args.random,) if isinstance(args.random, int) else args.random
        if any(s < 1 for s in shape):
            raise user_error("--random", f"shape {shape} must be positive along every axis")
        size = 1
        for s in shape:
            size *= s
        guard_bytes(8 * size, getattr(args, "max_bytes", None), what=f"a random weight of shape {shape}")
        return np.random.default_rng(args.seed).integers(-3, 4, size=shape)
    if args.symbolic is not None:
        args.weight_option = "--symbolic"
        shape = (args.symbolic,) if isinstance(args.symbolic, int) else args.symbolic
        return symbolic_weight(shape, max_bytes=getattr(args, "max_bytes", None))
    args.weight_option = "--kernel"
    text = args.kernel
    try:
        w = np.array(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise user_error("--kernel", f"{text!r} is not a nested list of numbers") from None
    nd = ndim_hint or (len(args.input_size) if isinstance(args.input_size, tuple) else 1)
    if w.ndim == nd:  # bare spatial kernel: one channel in, one out
        w = w[None, None]
    elif w.ndim != nd + 2:
        raise user_error("--kernel", f"{text!r} has {w.ndim} axes: give a bare {nd}-d kernel or a weight "
                                     f"with {nd + 2} axes (torch layout) for --input-size {args.input_size}")
    return w


def check_axes(args, w) -> None:
    """The weight and ``--input-size`` must agree on the number of spatial axes (named both ways)."""
    size = getattr(args, "input_size", None)
    if isinstance(size, tuple) and w.ndim >= 3 and len(size) != w.ndim - 2:
        option = getattr(args, "weight_option", "--kernel")
        raise user_error(option, f"{option} gives a weight of shape {tuple(w.shape)} with {w.ndim - 2} spatial axes, "
                                 f"but --input-size {','.join(map(str, size))} has {len(size)}")


def seed_arg(text: str) -> int:
    """A non-negative integer seed."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative integer")
    return value


# --------------------------------------------------------------------------- output
def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", type=Path,
                   help="save instead of printing: .npz, .mtx or .npy (numbers) or .png, .svg, .pdf (a picture)")
    p.add_argument("--summary", action="store_true", help="print a one-line summary even when small")
    add_max_bytes_arg(p)
    add_format_arg(p)


def add_max_bytes_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                   help="refuse matrices over N bytes (default: $CONVMATRIX_MAX_BYTES, else 4 GiB)")


@contextlib.contextmanager
def output_errors(path: Path):
    """File-system failures while writing ``path`` reported as a mistake about ``--output``."""
    try:
        yield
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError) as exc:
        raise user_error("--output", f"{str(path)!r}: {exc.strerror}") from None
    except OSError as exc:  # a full disk, a read-only file system
        raise user_error("--output", f"{str(path)!r} could not be written: {exc.strerror or exc}") from None


def save(A, path: Path, max_bytes=None):
    """:func:`~convmatrix.export.save_matrix`, with file-system failures reported as a mistake about ``--output``."""
    from ..export import save_matrix

    with output_errors(path):
        return save_matrix(A, path, max_bytes=max_bytes)


def emit(A, args, header: str, *, geometry=None, **latex_settings) -> None:
    """Print the header and the matrix's summary, then the grid (small matrices) or save it.

    ``geometry`` (what built ``A``) gives a picture its channel blocks; ``latex_settings`` go to
    :func:`~convmatrix.to_latex` with ``--format latex``.
    """
    from ..export import format_matrix, summarize_matrix
    from ._pictures import is_picture, save_picture

    if wants_latex(args):  # --format latex, or -o FILE.tex: see emit_latex
        if geometry is not None:
            latex_settings.setdefault("geometry", geometry)
        return emit_latex(A, args, comment=header, **latex_settings)
    print(header)
    if is_picture(args):  # -o x.png, .svg, .pdf: a picture (matplotlib, or the plain PNG)
        path = save_picture(A, args.output, geometry=geometry)
        print(f"saved a picture of the {summarize_matrix(A)} to {path}")
        return
    if args.output is not None:
        path = save(A, args.output, args.max_bytes)
        print(f"saved {summarize_matrix(A)} to {path}")
        return
    summary = summarize_matrix(A)
    print(summary)
    if not args.summary:
        text = format_matrix(A)
        if text != summary:
            print(text)


# --------------------------------------------------------------------------- LaTeX
LATEX_SUFFIXES = (".tex", ".pdf")


def add_format_arg(p: argparse.ArgumentParser, *, output: bool = False) -> None:
    """``--format text|latex`` (and, for commands that save nothing else, ``--output`` for the document)."""
    p.add_argument("--format", choices=("text", "latex"), default="text",
                   help="text (default) or latex: LaTeX on stdout, or with -o FILE.tex a whole document and with "
                        "-o FILE.pdf that document compiled by pdflatex")
    if output:
        p.add_argument("--output", "-o", type=Path, metavar="FILE",
                       help="write the LaTeX document: FILE.tex, or FILE.pdf (compiled with pdflatex)")


def wants_latex(args: argparse.Namespace, *, document_output: bool = False) -> bool:
    """``--format latex``, or an output file ending in ``.tex``; any output file where ``-o`` can only be the
    LaTeX document (``document_output``: commands that save no matrix)."""
    path = getattr(args, "output", None)
    if getattr(args, "format", "text") == "latex" or (path is not None and path.suffix.lower() == ".tex"):
        return True
    return document_output and path is not None


def emit_latex(obj, args: argparse.Namespace, *, comment: str | None = None, **settings) -> None:
    """LaTeX of a result: on stdout (a body to include), or a whole document to ``-o FILE.tex`` / ``FILE.pdf``."""
    from ..export.latex import to_latex

    path = getattr(args, "output", None)
    if path is None:
        if comment:
            print("% " + comment.replace("\n", "\n% "))
        print(to_latex(obj, **settings).rstrip())
        return
    suffix = path.suffix.lower()
    if suffix not in LATEX_SUFFIXES:
        raise user_error("--output", f"{str(path)!r}: with --format latex, -o takes a .tex or a .pdf file")
    write_document(to_latex(obj, standalone=True, **settings), path)
    print(f"wrote {path}" + (" (compiled with pdflatex)" if suffix == ".pdf" else ""))


def write_document(tex: str, path: Path) -> None:
    """A standalone LaTeX document to ``path``: as it is (``.tex``) or compiled (``.pdf``); file errors name -o."""
    from ..export.files import atomic_write
    from ..export.latex import compile_pdf

    if not path.parent.exists():
        raise user_error("--output", f"{str(path)!r}: the folder {str(path.parent)!r} does not exist")
    try:
        if path.suffix.lower() == ".pdf":
            compile_pdf(tex, path)
        else:
            with atomic_write(path, "w") as fh:
                fh.write(tex)
    except FileNotFoundError as exc:
        raise user_error("--output", str(exc)) from None  # pdflatex is missing: the message says what to install
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        raise user_error("--output", f"{str(path)!r}: {exc.strerror}") from None
