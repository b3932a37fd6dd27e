"""Pictures on the command line: ``-o x.png``, ``.svg`` or ``.pdf`` with matplotlib, the dependency-free PNG without it.

Every command whose result is a matrix or a map saves it this way; only
``.png`` has a fallback (the plot extra missing), ``.svg`` and ``.pdf`` say
which extra is needed.  File-system failures are user mistakes about
``--output``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import user_error

__all__ = ["PICTURE_SUFFIXES", "is_picture", "save_picture", "save_map_picture", "save_figure_file"]

#: Suffixes of ``-o`` that make a picture.
PICTURE_SUFFIXES = (".png", ".svg", ".pdf")


def is_picture(args) -> bool:
    """Whether ``-o`` names a picture (unless ``--format latex`` claims the ``.pdf``)."""
    out = getattr(args, "output", None)
    return out is not None and out.suffix.lower() in PICTURE_SUFFIXES and getattr(args, "format", None) != "latex"


def _have_matplotlib(path: Path) -> bool:
    from ..plot._mpl import PLOT_EXTRA, require_matplotlib

    try:
        require_matplotlib()
    except ImportError:
        if path.suffix.lower() != ".png":
            raise user_error("--output", f"{str(path)!r}: a {path.suffix.lower()} picture needs matplotlib, which is "
                                         f"not installed: it comes with the plot extra, {PLOT_EXTRA} "
                                         "(without it only .png is drawn)") from None
        return False
    return True


def _write(path: Path, data: bytes) -> Path:
    from ..export.files import atomic_write

    if not path.parent.exists():
        raise user_error("--output", f"{str(path)!r}: the folder {str(path.parent)!r} does not exist")
    try:
        with atomic_write(path) as fh:
            fh.write(data)
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError) as exc:
        raise user_error("--output", f"{str(path)!r}: {exc.strerror}") from None
    except OSError as exc:  # a full disk, a read-only file system
        raise user_error("--output", f"{str(path)!r} could not be written: {exc.strerror or exc}") from None
    return path


def save_figure_file(fig, path: Path) -> Path:
    """A matplotlib figure to ``path`` by its suffix, with file-system failures as mistakes about ``--output``."""
    from ..plot._mpl import figure_bytes

    return _write(path, figure_bytes(fig, path.suffix.lower()[1:]))


def save_picture(A, path: Path, *, geometry=None) -> Path:
    """A matrix as a picture: :func:`~convmatrix.plot.plot_matrix` (blocks, axes, colorbar), or the plain PNG."""
    if _have_matplotlib(path):
        from ..plot import plot_matrix

        return save_figure_file(plot_matrix(A, geometry=geometry), path)
    from ..export.png import matrix_image, png_bytes

    return _write(path, png_bytes(matrix_image(A, geometry=geometry)))


def save_map_picture(counts: np.ndarray, path: Path, *, uneven: bool | None = None, title: str | None = None) -> Path:
    """A map of counts (overlap) as a picture: :func:`~convmatrix.plot.plot_overlap`, or the plain PNG."""
    if _have_matplotlib(path):
        from ..plot import plot_overlap

        return save_figure_file(plot_overlap(counts, uneven=uneven, title=title), path)
    from ..export.png import matrix_image, png_bytes
    from ..plot._grid import montage

    img, _ = montage(counts, gap=1, fill=0)
    return _write(path, png_bytes(matrix_image(np.asarray(img))))
