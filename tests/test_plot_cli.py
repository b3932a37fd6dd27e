"""Pictures on the command line: matplotlib's with the plot extra, the plain PNG without it, and `animate`."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import convmatrix as cm  # noqa: E402
from convmatrix.cli import main  # noqa: E402
from convmatrix.export import matrix_image  # noqa: E402
from convmatrix.export.layout import TAP_COLORS  # noqa: E402

from _pictures import colors_present  # noqa: E402


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture
def no_matplotlib(monkeypatch):
    """As if the plot extra were not installed."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_conv_png_is_drawn_by_matplotlib_with_blocks_and_colorbar(tmp_path, capsys):
    path = tmp_path / "a.png"
    assert main(["conv", "--random", "3,2,3,3", "--input-size", "4,4", "--padding", "1", "-o", str(path)]) == 0
    assert "saved a picture of the 48 x 32 int64 CSR matrix" in capsys.readouterr().out
    img = _rgb(path)
    assert img.shape[0] > 400 and img.shape[1] > 400
    black_cols = np.flatnonzero((np.all(img <= 40, axis=2)).sum(axis=0) > img.shape[0] * 0.5)
    assert black_cols.size >= 1  # the rule between the two input-channel blocks runs the height of the matrix
    strip = img[:, -200:].reshape(-1, 3).astype(int)
    assert ((strip[:, 0] > 150) & (strip[:, 2] < 100)).sum() > 200  # the colorbar's red end
    assert ((strip[:, 2] > 150) & (strip[:, 0] < 100)).sum() > 200  # and its blue end


def test_symbolic_png_tells_the_taps_apart(tmp_path):
    path = tmp_path / "s.png"
    assert main(["conv", "--symbolic", "1,1,2,2", "--input-size", "3,3", "-o", str(path)]) == 0
    assert colors_present(_rgb(path), TAP_COLORS, 100) == set(TAP_COLORS[:4])


@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_svg_and_pdf(tmp_path, suffix, magic):
    path = tmp_path / f"t{suffix}"
    assert main(["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2", "-o",
                 str(path)]) == 0
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 2000
    if suffix == ".svg":
        assert b"<svg" in data and b"image" in data  # the matrix is an embedded raster
    again = tmp_path / f"u{suffix}"
    main(["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2", "-o", str(again)])
    assert again.read_bytes() == data  # no dates inside: the same picture is the same file


def test_without_the_extra_png_falls_back_and_svg_names_the_extra(tmp_path, capsys, no_matplotlib):
    path = tmp_path / "a.png"
    w = "[[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]"
    assert main(["conv", "--kernel", w, "--input-size", "3,3", "-o", str(path)]) == 0
    g = cm.ConvGeometry.from_weight_shape((2, 1, 2, 2), (3, 3))
    A = cm.conv_matrix(np.arange(1, 9).reshape(2, 1, 2, 2), (3, 3))
    assert np.array_equal(_rgb(path), matrix_image(A, geometry=g))  # the plain PNG, with its block rules
    img = matrix_image(A, geometry=g)
    assert img.shape[1] == 9 * 29 and np.all(img[4 * 29, :] == 0)  # a black rule between the two output blocks
    capsys.readouterr()
    assert main(["conv", "--kernel", w, "--input-size", "3,3", "-o", str(tmp_path / "a.svg")]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and 'pip install "convmatrix[plot]"' in err and not (tmp_path / "a.svg").exists()


def test_overlap_map_picture(tmp_path, capsys):
    path = tmp_path / "map.png"
    assert main(["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4,4", "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert "uneven (checkerboard)" in out and f"to {path}" in out
    img = _rgb(path)
    from matplotlib import colormaps

    bright = np.array(colormaps["magma"](1.0)[:3]) * 255  # the cells where 4 inputs overlap
    assert (np.abs(img.astype(int) - bright).max(axis=2) < 12).sum() > 500
    assert main(["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4", "-o",
                 str(tmp_path / "map.npz")]) == 2
    assert "--output" in capsys.readouterr().err


def test_overlap_map_picture_without_the_extra(tmp_path, no_matplotlib):
    path = tmp_path / "map.png"
    assert main(["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "3", "-o", str(path)]) == 0
    counts = cm.overlap_counts(3, 3, stride=2)
    assert np.array_equal(_rgb(path), matrix_image(counts[None]))


def test_animate_writes_a_gif_of_one_frame_per_output(tmp_path, capsys):
    path = tmp_path / "a.gif"
    assert main(["animate", "--kernel-size", "3", "--stride", "2", "--padding", "1", "--input-size", "5",
                 "--dpi", "30", "-o", str(path)]) == 0
    assert "saved 9 frames" in capsys.readouterr().out
    im = Image.open(path)
    assert im.n_frames == 9
    path_t = tmp_path / "t.gif"
    assert main(["animate", "--kernel-size", "3", "--stride", "2", "--input-size", "2", "--transposed",
                 "--dpi", "30", "-o", str(path_t)]) == 0
    assert Image.open(path_t).n_frames == 25  # Dumoulin & Visin's figure 4.5: 2 x 2 -> 5 x 5
    one = tmp_path / "f.png"
    assert main(["animate", "--kernel-size", "3", "--input-size", "4,5", "--ndim", "3", "--frame", "2", "-o",
                 str(one)]) == 0
    assert _rgb(one).shape[0] > 100


@pytest.mark.parametrize("args,option", [
    (["--kernel-size", "3", "--input-size", "5", "-o", "a.txt"], "--output"),
    (["--kernel-size", "3", "--input-size", "5", "--frame", "9", "-o", "a.png"], "--frame"),
    (["--kernel-size", "3", "--input-size", "5", "--output-padding", "1", "-o", "a.gif"], "--output-padding"),
    (["--kernel-size", "3", "--input-size", "5", "--transposed", "--padding-mode", "reflect", "-o", "a.gif"],
     "--padding-mode"),
    (["--kernel-size", "3", "--input-size", "5", "-o", "no/such/a.gif"], "--output"),
])
def test_animate_mistakes_name_the_option(tmp_path, monkeypatch, capsys, args, option):
    monkeypatch.chdir(tmp_path)
    assert main(["animate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convmatrix animate: error: ") and option in err and "Traceback" not in err


def test_animate_without_the_extra(tmp_path, capsys, no_matplotlib):
    assert main(["animate", "--kernel-size", "3", "--input-size", "5", "-o", str(tmp_path / "a.gif")]) == 2
    assert 'pip install "convmatrix[plot]"' in capsys.readouterr().err
