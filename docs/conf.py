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
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "convmatrix_docs",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "README*"]
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

html_theme = "alabaster"
html_title = "convmatrix"
html_static_path: list = []
