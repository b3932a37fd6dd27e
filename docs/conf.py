"""Sphinx configuration: the Markdown pages (MyST), an API reference from the docstrings, and pages whose
derivations, matrices and tour the package itself writes at build time (docs/_ext/convmatrix_docs.py).

Build: python -m pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package of this checkout
sys.path.insert(0, str(HERE / "_ext"))

import convmatrix  # noqa: E402

project = "convmatrix"
author = "the convmatrix authors"
release = version = convmatrix.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages, and the notebook, executed at build time

    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "convmatrix_docs",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_generated", "README*"]
# the notebook is stored without outputs: every build runs it (it is also executed by tests/test_notebook.py)
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# numpy-style docstrings (Parameters, Returns, Raises, Examples)
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # Attributes as fields, not a second description of each attribute
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings say the types
autodoc_inherit_docstrings = False
# a type such as "array_like, shape (m,)" makes "shape" a cross-reference with several targets: not an error
suppress_warnings = ["ref.python"]



def _build_gallery(app) -> None:
    """The gallery's pictures and animations, drawn by the package when the site is built (docs/_gallery.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("convmatrix_gallery", HERE / "_gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    gallery.build(HERE / "_generated" / "gallery")


def setup(app):
    app.connect("builder-inited", _build_gallery)


html_theme = "alabaster"
html_title = "convmatrix"
html_static_path: list = []
