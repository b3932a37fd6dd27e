"""Layer 7 — pictures with matplotlib (the ``plot`` extra), imported only when a function draws.

Every function returns a :class:`matplotlib.figure.Figure` and takes ``ax=``
to draw into a user's axes (a sequence of axes for pictures of several
panels); none calls ``pyplot.show()``, and figures are made without
``pyplot`` (no global state: in a notebook, ``%matplotlib inline`` shows a
returned figure; a script calls ``fig.savefig(...)``).  Without matplotlib a
function raises an ImportError that names the extra:
``pip install "convmatrix[plot]"``.

* :func:`plot_matrix` — a matrix with its channel blocks, by value, tap, pattern or density;
* :func:`plot_receptive_field` — the input footprint of one output position, or the
  output footprint of one input position;
* :func:`plot_overlap` — overlap (checkerboard) maps of a layer or a stack
  (:func:`convmatrix.overlap_map`), with each layer's verdict;
* :func:`plot_chain` — a transposed convolution's ``T = C P Z`` side by side;
* :func:`plot_reconstructions` — Zeiler's reconstructions per layer as an image grid;
* :func:`plot_filters` — filter banks as image grids;
* :func:`plot_batchnorm_jacobian` — batch norm's Jacobian as a heat map;
* :func:`plot_derivation` — a derivation's closed form (or any steps) as a figure;
* :func:`save_figure` — a figure as ``.png``, ``.svg`` or ``.pdf``, written whole or not at all;
* :mod:`convmatrix.animation` — convolutions and transposed convolutions as GIF animations.

Importing this module registers the notebook pictures (``_repr_png_``) of the
result objects (:mod:`convmatrix.plot.reprs`).
"""

from . import reprs  # noqa: F401  (registers the PNG renderers)
from ._mpl import PLOT_EXTRA, save_figure
from .chain import plot_chain
from .fields import plot_receptive_field
from .matrix import density_histogram, plot_matrix
from .overlap import plot_overlap
from .symbolic import plot_batchnorm_jacobian, plot_derivation
from .zeiler import layerwise_inference, plot_filters, plot_reconstructions

__all__ = [
    "PLOT_EXTRA",
    "plot_matrix",
    "density_histogram",
    "plot_receptive_field",
    "plot_overlap",
    "plot_chain",
    "plot_reconstructions",
    "layerwise_inference",
    "plot_filters",
    "plot_batchnorm_jacobian",
    "plot_derivation",
    "save_figure",
]
