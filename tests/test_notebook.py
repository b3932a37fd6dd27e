"""The notebook in docs/ runs, and every result object in it renders richly (the MIME types each cell produced).

A cell's metadata ``convmatrix.expect`` lists the MIME types it must produce;
``convmatrix.class`` names the class of the object it shows, which must also
give ``text/latex`` when a LaTeX renderer is registered for it (in
``convmatrix.export.display.LATEX``, or by the class itself).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

import convmatrix as cm  # noqa: E402
from convmatrix._display import Displayable  # noqa: E402
from convmatrix.export import display  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
RICH = {"text/html", "text/latex", "image/png", "image/gif"}


def _class(name: str):
    if name == "MatrixView":
        from convmatrix.export.view import MatrixView

        return MatrixView
    return getattr(cm, name)


def _has_latex(cls) -> bool:
    """Whether objects of ``cls`` render LaTeX: a registered renderer, or a hook of the class's own."""
    display.repr_latex(object())  # let the display layer load whatever registers LaTeX renderers
    own = getattr(cls, "_repr_latex_", None) is not Displayable._repr_latex_
    return own or any(c.__name__ in display.LATEX for c in cls.__mro__)


def _mime_types(cell) -> set:
    types = set()
    for out in cell.get("outputs", []):
        assert out["output_type"] != "error", "".join(out.get("traceback", []))
        types |= set(out.get("data", {}))
    return types


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "MPLBACKEND": ""}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND")
    try:
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_the_notebook_uses_this_checkout(executed):
    first = [c for c in executed.cells if c.cell_type == "code"][1]
    assert not any(o["output_type"] == "error" for o in first.get("outputs", []))


def test_every_cell_produces_its_mime_types(executed):
    checked = 0
    for n, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        types = _mime_types(cell)
        meta = cell.metadata.get("convmatrix")
        if meta is None:
            continue
        want = set(meta.get("expect", []))
        cls = meta.get("class")
        if cls is not None and _has_latex(_class(cls)):
            want.add("text/latex")
        assert want <= types, f"cell {n} ({cell.source.splitlines()[-1]!r}): missing {want - types}, got {types}"
        assert types & RICH, f"cell {n} renders as plain text only"
        checked += 1
    assert checked >= 18


def test_every_result_object_of_the_issue_appears(executed):
    shown = {c.metadata["convmatrix"].get("class") for c in executed.cells if "convmatrix" in c.metadata}
    assert {"TransposedConvAsDirect", "TransposeEquivalenceReport", "TransposeArithmetic", "ZeilerStack", "TapMap",
            "BatchNorm", "MatrixView", "OverlapMap", "ConvGeometry", "BatchNormDerivation"} <= shown


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # the docs build executes it
