"""Animations: every frame reads what the layer's matrix row holds; the GIF has a frame per output, of its size."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from PIL import Image  # noqa: E402

import convmatrix as cm  # noqa: E402
from convmatrix.animation import (CELL_COLORS, INPUT, INSERTED, MAX_FRAMES, OUTPUT_COLOR, OUTPUT_PAD,  # noqa: E402
                                  PAD, animate_conv, conv_scene, plot_conv_frame, scene_of)

CONVS = [  # (kernel, input, stride, padding, dilation, padding mode)
    (3, 5, 2, 1, 1, "zeros"), (3, (5, 5), 2, 1, 1, "zeros"), (2, (4, 5), (2, 1), ((1, 0), (0, 1)), 1, "zeros"),
    (3, (4, 5), 1, 2, 2, "reflect"), (3, (3, 4), 2, 1, 1, "replicate"), (3, (4, 4), 1, 1, (1, 2), "circular"),
    (2, (3, 4, 4), 2, 1, 1, "zeros"), (4, 6, 1, "same", 1, "zeros"), (3, (6, 7), 3, "valid", 2, "zeros"),
]
TRANSPOSED = [  # (kernel, input, stride, padding, output_padding, dilation)
    (3, (2, 2), 2, 0, 0, 1), (3, (5, 5), 2, 1, 1, 1), (4, (3, 3), 2, 1, 0, 1), (3, 4, 3, 2, 2, 1),
    (3, (4, 3), 2, 3, 0, 1), (2, (2, 3), (1, 2), 0, (0, 1), 2), (2, (2, 2, 2), 2, 0, 1, 1),
]


@pytest.mark.parametrize("k,n,s,p,d,mode", CONVS)
def test_every_conv_frame_reads_the_row_of_its_matrix(k, n, s, p, d, mode):
    scene = conv_scene(k, n, stride=s, padding=p, dilation=d, padding_mode=mode)
    nd = scene.ndim
    A = cm.conv_matrix(np.ones((1, 1, *scene.kernel_size)), n, stride=s, padding=p, dilation=d, padding_mode=mode)
    assert scene.frames == A.shape[0]
    for frame in range(scene.frames):
        assert np.array_equal(scene.inputs_read(frame), A.indices[A.indptr[frame]:A.indptr[frame + 1]])
    kinds = set(np.unique(scene.cells).tolist())
    assert INPUT in kinds and (mode != "zeros") == (2 in kinds) and nd == len(scene.grid_size)


@pytest.mark.parametrize("k,n,s,p,op,d", TRANSPOSED)
def test_every_transposed_frame_reads_the_row_of_its_matrix(k, n, s, p, op, d):
    scene = conv_scene(k, n, stride=s, padding=p, dilation=d, transposed=True, output_padding=op)
    w = np.arange(1, np.prod(scene.kernel_size) + 1).reshape(1, 1, *scene.kernel_size)
    T = cm.conv_transpose_matrix(w, n, stride=s, padding=p, output_padding=op, dilation=d)
    a = cm.transpose_arithmetic(n, k, s, p, op, d)
    assert scene.grid_size == a.padded_size and scene.output_size == a.o_prime and scene.frames == T.shape[0]
    for frame in range(scene.frames):
        cols = T.indices[T.indptr[frame]:T.indptr[frame + 1]]
        assert np.array_equal(scene.inputs_read(frame), np.sort(cols))
        cells, taps = scene.footprint(frame)  # the flipped kernel: tap t of the direct conv is w[k - 1 - t]
        src = scene.source[tuple(cells.T)]
        row = dict(zip(cols.tolist(), T.data[T.indptr[frame]:T.indptr[frame + 1]].tolist()))
        assert all(row[i] == w.reshape(-1)[t] for i, t in zip(src, taps) if i >= 0)
    if any(np.atleast_1d(op)):
        assert OUTPUT_PAD in scene.cells
    if any(np.atleast_1d(s) > 1):
        assert INSERTED in scene.cells


def test_dumoulin_visin_figure_4_5_and_geometry_scenes():
    s = conv_scene(3, (2, 2), stride=2, transposed=True)
    assert s.grid_size == (7, 7) and s.output_size == (5, 5)
    assert s.cells[2].tolist() == [PAD, PAD, INPUT, INSERTED, INPUT, PAD, PAD]
    g = cm.ConvTransposeGeometry.from_weight_shape((4, 2, 3, 3), (2, 2), stride=2)
    assert np.array_equal(scene_of(g).cells, s.cells) and np.array_equal(scene_of(g.conv.__class__.from_weight_shape(
        (1, 1, 3), 5, stride=2)).cells, conv_scene(3, 5, stride=2).cells)
    assert scene_of(cm.transpose_arithmetic((2, 2), 3, 2)).output_size == (5, 5)


def test_frame_picture_shows_kernel_output_and_slices():
    fig = plot_conv_frame(conv_scene(2, (3, 4, 4), stride=2, padding=1), 3)
    a_in, a_out = fig.axes
    assert [t.get_text() for t in a_in.texts if "=" in t.get_text()] == [f"z={i}" for i in range(5)]
    assert a_in.get_title() == "input" and fig.legends
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    img = np.asarray(Image.open(buf).convert("RGB"))
    assert _has(img, OUTPUT_COLOR) and _has(img, CELL_COLORS[INPUT]) and _has(img, CELL_COLORS[PAD])


def _has(img, color, n=10) -> bool:
    rgb = np.array([round(255 * c) for c in to_rgb(color)])
    return int((np.abs(img.astype(int) - rgb).max(axis=2) <= 2).sum()) >= n


def test_gif_has_one_frame_per_output_position_of_the_figure_size(tmp_path):
    scene = conv_scene(3, (4, 4), stride=2, padding=1)  # 2 x 2 outputs
    path = animate_conv(scene, tmp_path / "a.gif", dpi=40, fps=4)
    im = Image.open(path)
    assert im.format == "GIF" and im.n_frames == scene.frames == 4
    from convmatrix.animation import _figure

    w, h = _figure(scene, None)[0].get_size_inches() * 40
    assert im.size == (int(w), int(h))
    frames = []
    for n in range(im.n_frames):
        im.seek(n)
        frames.append(np.asarray(im.convert("RGB")))
        assert _has(frames[-1], OUTPUT_COLOR, 20)  # the current output cell, every frame
    assert all(not np.array_equal(frames[i], frames[i + 1]) for i in range(3))  # the kernel moves
    assert im.info["duration"] == 250 and im.info.get("loop") == 0
    one = animate_conv(conv_scene(2, 3, transposed=True, stride=2), dpi=30)
    assert Image.open(io.BytesIO(one)).n_frames == 6 and len(one) < 60_000


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(kernel_size=3, input_size=5, transposed=True, padding_mode="reflect"), ValueError, "zero padding only"),
    (dict(kernel_size=3, input_size=5, output_padding=1), ValueError, "output_padding=1 applies to a transposed"),
    (dict(kernel_size=3, input_size=5, stride=0), ValueError, "stride"),
    (dict(kernel_size=3, input_size=2), ValueError, "input_size"),
])
def test_scene_refusals(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        conv_scene(**kwargs)
    assert isinstance(info.value, cm.InputError)


def test_animation_refusals(tmp_path):
    big = conv_scene(1, (40, 40))
    assert big.frames > MAX_FRAMES
    with pytest.raises(ValueError, match="at most 1024 frames"):
        animate_conv(big)
    small = conv_scene(2, 3)
    with pytest.raises(ValueError, match="must end in .gif"):
        animate_conv(small, tmp_path / "a.png")
    with pytest.raises(ValueError, match="does not exist"):
        animate_conv(small, tmp_path / "no" / "a.gif")
    with pytest.raises(ValueError, match="fps"):
        animate_conv(small, fps=0)
    with pytest.raises(TypeError, match="scene must be a ConvScene"):
        plot_conv_frame("conv")
    with pytest.raises(ValueError, match="frame=2"):
        plot_conv_frame(small, 2)
