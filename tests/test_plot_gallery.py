"""The gallery page shows every picture docs/_gallery.py makes, and the builder writes real pictures."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _gallery():
    spec = importlib.util.spec_from_file_location("docs_gallery", DOCS / "_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_every_generated_picture_and_nothing_else():
    g = _gallery()
    page = (DOCS / "gallery.md").read_text()
    shown = re.findall(r"!\[[^\]]*\]\(_generated/gallery/([^)]+)\)", page)
    names = [name for name, _ in g.GALLERY]
    assert sorted(shown) == sorted(names) and len(set(names)) == len(names)
    kinds = {"matrix_blocks", "matrix_taps", "matrix_density", "plain_png", "receptive_field", "output_footprint",
             "overlap_stack", "overlap_gradient_learned", "chain", "reconstructions", "jacobian", "derivation"}
    assert kinds <= {Path(n).stem for n in names} and any(n.endswith(".gif") for n in names)
    assert str(g.OUTDIR) == "_generated/gallery"


def test_build_writes_pictures(tmp_path):
    g = _gallery()
    paths = g.build(tmp_path / "out", only=["plain_png.png", "filters.png", "animation_conv.gif"])
    assert [p.name for p in paths] == ["plain_png.png", "filters.png", "animation_conv.gif"]
    plain = np.asarray(Image.open(paths[0]).convert("RGB"))
    assert plain.shape[1] >= 256 and (np.all(plain == 0, axis=2)).any()  # block rules
    assert Image.open(paths[1]).size[0] > 300
    assert Image.open(paths[2]).n_frames == 9
