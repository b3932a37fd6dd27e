"""Layer 7 — export: text, LaTeX, pictures and files.  Reads what the other layers make; computes nothing.

* :mod:`~convmatrix.export.text` — summaries and small grids for terminals;
* :mod:`~convmatrix.export.latex` — LaTeX;
* :mod:`~convmatrix.export.png` — pictures with no imaging library (the fallback of :mod:`convmatrix.plot`);
* :mod:`~convmatrix.export.layout` — channel blocks of a matrix read off its geometry, and the shared colours;
* :mod:`~convmatrix.export.html` — the HTML summaries notebooks show; :mod:`~convmatrix.export.view` —
  ``convmatrix.show(A)``;
* :mod:`~convmatrix.export.files` — ``.npz``, Matrix Market, ``.npy`` and ``.png`` files,
  written whole or not at all;
* :mod:`~convmatrix.export.display` — what the notebook and SymPy-printer hooks of every
  result object render.
"""

from .files import LOAD_SUFFIXES, SAVE_SUFFIXES, atomic_write, load_matrix, save_matrix
from .latex import matrix_latex
from .png import matrix_image, png_bytes
from .text import GRID_LIMIT, format_matrix, summarize_matrix

__all__ = [
    "GRID_LIMIT",
    "SAVE_SUFFIXES",
    "LOAD_SUFFIXES",
    "format_matrix",
    "summarize_matrix",
    "save_matrix",
    "load_matrix",
    "matrix_latex",
    "matrix_image",
    "png_bytes",
    "atomic_write",
]
