"""The package's layout: layers, imports, and what ``import convmatrix`` costs.

* no module imports a higher layer at module level (data flows down the list of
  layers); presentation hooks (``_repr_*_``, ``_latex``, ``latex``, ``text``,
  ``__str__``) may import the export layer inside the method, as SymPy's
  ``Basic._repr_latex_`` imports its printer;
* no underscore name is imported across modules: shared plumbing lives in a
  private module with public names (``from ._validation import as_int``);
* every module of the package is assigned a layer here, so a new module must
  say where it belongs;
* ``import convmatrix`` loads neither numpy, scipy nor SymPy.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "convmatrix"

#: Layer of every module (``cli`` and ``export`` are packages: all their modules share the layer).
LAYERS = {
    "_validation": 1, "_limits": 1, "_sparse": 1, "_display": 1, "geometry": 1,
    "structure": 2, "_fastpaths": 2,
    "matrices": 3, "im2col": 3,
    "resample": 4, "pooling": 4, "interpolate": 4,
    "transposed": 5, "zeiler": 5, "deconvnet": 5, "sparse_coding": 5, "scenes": 5, "batchnorm": 5,
    "spectra": 5, "bounds": 5, "composed": 5, "affine": 5, "torch_bridge": 5,
    "overlap": 5,
    "derivation": 6, "backprop": 6, "batchnorm_symbolic": 6,
    "export": 7, "plot": 7, "animation": 7, "cli": 7,
    "testing": 8, "__main__": 8,
}
#: Methods that present an object and may import the export layer when called.
PRESENTATION_HOOKS = {"_repr_latex_", "_repr_html_", "_repr_png_", "_repr_svg_", "_latex", "latex", "text",
                      "latex_of", "text_of", "__str__", "__format__", "_repr_pretty_", "show"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts
        if parts == ("__init__",):
            continue
        yield path, parts


def _top(parts) -> str:
    return parts[0]


def _resolve(parts, node: ast.ImportFrom) -> list[str]:
    """The package-relative module path an ``ImportFrom`` refers to (``[]`` for outside the package)."""
    if node.level == 0:
        if node.module and node.module.split(".")[0] == "convmatrix":
            return node.module.split(".")[1:]
        return None
    base = list(parts[:-1]) if parts[-1] != "__init__" else list(parts[:-1])
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return base + (node.module.split(".") if node.module else [])


def _imports(tree):
    """``(node, enclosing function name or None)`` for every import in a module."""
    out = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((child, func))
            else:
                visit(child, func)

    visit(tree, None)
    return out


def _is_type_checking(tree) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in ast.walk(node):
                lines.add(getattr(sub, "lineno", -1))
    return lines


def test_every_module_has_a_layer():
    missing = sorted({_top(parts) for _, parts in _modules()} - set(LAYERS))
    assert not missing, f"modules without a layer in tests/test_layout.py: {missing}"


def test_no_module_imports_a_higher_layer():
    bad = []
    for path, parts in _modules():
        mine = LAYERS[_top(parts)]
        tree = ast.parse(path.read_text())
        guarded = _is_type_checking(tree)
        for node, func in _imports(tree):
            if not isinstance(node, ast.ImportFrom) or node.lineno in guarded:
                continue
            target = _resolve(parts, node)
            if not target:
                names = [a.name for a in node.names] if target == [] else []
                targets = [[n] for n in names]
            else:
                targets = [target]
            for t in targets:
                layer = LAYERS.get(t[0])
                if layer is None or layer <= mine:
                    continue
                if func in PRESENTATION_HOOKS:
                    continue
                bad.append(f"{'/'.join(parts)}.py:{node.lineno} (layer {mine}) imports {'.'.join(t)} "
                           f"(layer {layer}){' in ' + func + '()' if func else ''}")
    assert not bad, "\n".join(bad)


def test_no_underscore_name_is_imported_across_modules():
    bad = []
    for path, parts in _modules():
        tree = ast.parse(path.read_text())
        for node, _ in _imports(tree):
            target = None if not isinstance(node, ast.ImportFrom) else _resolve(parts, node)
            if target is None:
                continue
            for alias in node.names:
                is_module = (PACKAGE.joinpath(*target, alias.name + ".py").exists()
                             or PACKAGE.joinpath(*target, alias.name, "__init__.py").exists())
                if alias.name.startswith("_") and alias.name != "__version__" and not is_module:
                    bad.append(f"{'/'.join(parts)}.py:{node.lineno} imports {alias.name}")
    assert not bad, "\n".join(bad)


def test_import_loads_nothing_heavy():
    code = ("import sys, convmatrix; heavy = [m for m in ('numpy', 'scipy', 'sympy', 'torch', 'matplotlib') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import convmatrix loaded {out}"


def test_building_a_matrix_does_not_load_sympy():
    code = ("import sys, numpy as np, convmatrix as cm; cm.conv_matrix(np.ones((1, 1, 3)), 5); "
            "cm.conv_transpose_matrix(np.ones((1, 1, 3)), 5, stride=2); cm.pad_matrix(4, 1); "
            "print(','.join(m for m in ('sympy', 'scipy.sparse.linalg', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"building a matrix loaded {out}"


@pytest.mark.parametrize("name", ["conv_matrix", "ZeilerStack", "batchnorm_derivation", "InputError"])
def test_lazy_names_resolve_to_their_modules(name):
    import convmatrix as cm

    obj = getattr(cm, name)
    assert obj.__name__ == name
    assert name in dir(cm) and name in cm.__all__
