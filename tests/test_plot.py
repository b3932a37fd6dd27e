"""Pictures of matrices, read back: rules at the channel blocks, one colour per tap, colorbars, densities."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from matplotlib import colormaps  # noqa: E402

import convmatrix as cm  # noqa: E402
from convmatrix.export.layout import RULE_COLOR, SUM_COLOR, TAP_COLORS, MatrixLayout  # noqa: E402
from convmatrix.plot import density_histogram, plot_matrix  # noqa: E402
from convmatrix.plot.matrix import PATTERN_COLOR  # noqa: E402

from _pictures import box, colors_present, is_black, pixel, render  # noqa: E402


def _legend(fig):
    return fig.legends[0] if fig.legends else fig.axes[0].get_legend()


def _conv(shape, size, **kw):
    w = np.random.default_rng(0).integers(1, 4, size=shape)  # no zero entries: every tap is stored
    return w, cm.conv_matrix(w, size, **kw), cm.ConvGeometry.from_weight_shape(shape, size, **kw)


# --------------------------------------------------------------------------- rules and labels
@pytest.mark.parametrize("color", ["value", "tap", "pattern", "density"])
def test_rules_sit_on_the_channel_block_boundaries(color):
    _, A, g = _conv((2, 3, 3, 3), (4, 4), padding=1)  # 32 x 48: 2 x 3 blocks of 16 x 16
    fig = plot_matrix(A, geometry=g, color=color, bins=48)
    ax = fig.axes[0]
    img = render(fig)
    for b in (16, 32):  # between column blocks, along the middle of every row block
        for y in (4, 12, 20, 28):
            assert is_black(img[pixel(img, ax, b - 0.5, y)]), (color, b, y)
    for y in (10, 22):  # rows 0..15 then 16..31: not a boundary inside a block
        assert not is_black(img[pixel(img, ax, 8, y - 0.5)])
    assert all(is_black(img[pixel(img, ax, x, 15.5)]) for x in (3, 20, 40))  # the row boundary
    rows, cols = box(img, ax)
    inside = img[rows, cols]
    black = np.all(inside <= 70, axis=2)
    assert black.mean() < 0.08  # rules, not a dark picture


def test_labels_follow_the_geometry():
    _, A, g = _conv((2, 3, 3, 3), (4, 4), padding=1)
    ax = plot_matrix(A, geometry=g).axes[0]
    assert ax.get_ylabel() == "output (o, y, x)" and ax.get_xlabel() == "input (c, y, x)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["o=0", "o=1"]
    assert ax.format_coord(17.0, 5.0).startswith("row 5 (o=0, y=1, x=1), col 17 (c=1, y=0, x=1)")
    one = cm.ConvGeometry.from_weight_shape((1, 1, 3), 4, padding=1)
    ax1 = plot_matrix(cm.conv_matrix(np.ones((1, 1, 3)), 4, padding=1), geometry=one).axes[0]
    assert ax1.get_xlabel() == "input (c, x)" and [t.get_text() for t in ax1.get_xticklabels()] == list("0123")
    g3 = cm.ConvGeometry.from_weight_shape((1, 2, 2, 2, 2), (3, 3, 3))
    ax3 = plot_matrix(cm.conv_matrix(np.ones((1, 2, 2, 2, 2)), (3, 3, 3)), geometry=g3).axes[0]
    assert ax3.get_ylabel() == "output (o, z, y, x)"


def test_transposed_geometry_labels_its_own_input_and_output():
    w = np.arange(1, 2 * 3 * 9 + 1).reshape(2, 3, 3, 3)
    tg = cm.ConvTransposeGeometry.from_weight_shape(w.shape, (2, 2), stride=2)
    T = cm.conv_transpose_matrix(w, (2, 2), stride=2)
    fig = plot_matrix(T, geometry=tg, color="tap")
    ax = fig.axes[0]
    assert T.shape == (75, 8) and [t.get_text() for t in ax.get_yticklabels()] == ["o=0", "o=1", "o=2"]
    labels = [t.get_text() for t in _legend(fig).get_texts()]
    assert len(labels) == 9 and labels[0] == "$w_{c,o,0,0}$"  # torch's transposed layout (C_in, C_out, k)
    img = render(fig)
    assert is_black(img[pixel(img, ax, 3.5, 12)]) and is_black(img[pixel(img, ax, 2, 24.5)])


def test_geometry_of_another_shape_is_refused():
    _, A, _ = _conv((2, 3, 3, 3), (4, 4), padding=1)
    wrong = cm.ConvGeometry.from_weight_shape((2, 3, 3, 3), (5, 5), padding=1)
    with pytest.raises(ValueError, match=r"geometry gives a 50 x 75 matrix .* but the matrix is 32 x 48"):
        plot_matrix(A, geometry=wrong)


# --------------------------------------------------------------------------- colours
def test_one_colour_per_tap_with_a_legend():
    w = np.arange(1, 10).reshape(1, 1, 3, 3)
    g = cm.ConvGeometry.from_weight_shape(w.shape, (5, 5), padding=1)
    fig = plot_matrix(cm.conv_matrix(w, (5, 5), padding=1), geometry=g, color="tap")
    img = render(fig)
    assert colors_present(img, TAP_COLORS, min_pixels=50) == set(TAP_COLORS[:9])
    legend = _legend(fig)
    assert [t.get_text() for t in legend.get_texts()] == [f"$w_{{0,0,{i},{j}}}$" for i in range(3) for j in range(3)]


def test_the_taps_of_a_symbolic_matrix_are_told_apart():
    S = cm.conv_matrix(cm.symbolic_weight((2, 1, 2, 2)), (3, 3))
    g = cm.ConvGeometry.from_weight_shape((2, 1, 2, 2), (3, 3))
    for geometry in (g, None):  # from the tap map, or from the distinct symbols
        fig = plot_matrix(S, geometry=geometry)  # auto: taps for SymPy
        img = render(fig)
        assert colors_present(img, TAP_COLORS, min_pixels=50) == set(TAP_COLORS[:8]), geometry
    texts = [t.get_text() for t in _legend(fig).get_texts()]
    assert texts[0] == "$w_{0,0,0,0}$" and len(texts) == 8


def test_many_kernel_entries_are_coloured_by_spatial_tap():
    _, A, g = _conv((4, 4, 3, 3), (3, 3), padding=1)  # 144 kernel entries: 9 colours, blocks name o and c
    fig = plot_matrix(A, geometry=g, color="tap")
    assert colors_present(render(fig), TAP_COLORS, min_pixels=20) == set(TAP_COLORS[:9])
    assert _legend(fig).get_texts()[4].get_text() == "$w_{o,c,1,1}$"


def test_summed_border_taps_are_grey():
    g = cm.ConvGeometry.from_weight_shape((1, 1, 3), 2, padding=1, padding_mode="reflect")
    A = cm.conv_matrix(np.array([[[1, 2, 3]]]), 2, padding=1, padding_mode="reflect")
    fig = plot_matrix(A, geometry=g, color="tap")
    assert SUM_COLOR in colors_present(render(fig), [SUM_COLOR], min_pixels=50)
    assert _legend(fig).get_texts()[-1].get_text() == "sum of taps"


def test_value_mode_is_centred_at_zero_with_a_colorbar():
    A = cm.conv_matrix(np.array([[[[-4, 1], [2, 3]]]]), (3, 3))
    fig = plot_matrix(A)
    ax, cax = fig.axes
    im = ax.images[0]
    assert im.norm.vmin == -4 and im.norm.vmax == 4 and im.get_cmap().name.startswith("RdBu_r")
    img = render(fig)
    rows, cols = box(img, cax)
    strip = img[rows, cols][:, (cols.stop - cols.start) // 2].astype(int)
    top, mid, bottom = strip[2], strip[len(strip) // 2], strip[-3]
    red, blue = (np.array(colormaps["RdBu_r"](v)[:3]) * 255 for v in (0.98, 0.02))
    assert np.abs(top - red).max() < 30 and np.abs(bottom - blue).max() < 30 and mid.min() > 220
    assert cax.get_ylabel() == "entry value"
    # each entry is drawn in its colour: -4 at (0, 0) is the darkest blue
    r, c = pixel(img, ax, 0, 0)
    assert img[r, c, 2] > img[r, c, 0] + 60


def test_pattern_mode_draws_the_stored_entries():
    A = sp.csr_array(np.array([[1, 0, 2], [0, 0, 3]]))
    fig = plot_matrix(A, color="pattern")
    img = render(fig)
    ax = fig.axes[0]
    assert tuple(img[pixel(img, ax, 0, 0)]) == PATTERN_COLOR and tuple(img[pixel(img, ax, 1, 1)]) == (255, 255, 255)
    assert len(fig.axes) == 1


def test_tap_map_draws_its_taps_and_refuses_values():
    m = cm.tap_map(cm.ConvGeometry.from_weight_shape((1, 1, 2, 2), (3, 3)))
    fig = plot_matrix(m)
    assert colors_present(render(fig), TAP_COLORS, 50) == set(TAP_COLORS[:4])
    with pytest.raises(ValueError, match="color='value' needs numbers"):
        plot_matrix(m, color="value")


# --------------------------------------------------------------------------- density
def _reference_histogram(A, hb, wb):
    coo = sp.coo_array(A)
    rows, cols = A.shape
    out = np.zeros((hb, wb), dtype=np.int64)
    np.add.at(out, (coo.row * hb // rows, coo.col * wb // cols), 1)
    return out


@pytest.mark.parametrize("shape,bins", [((37, 53), 8), ((100, 7), (9, 7)), ((5, 5), 512)])
def test_density_histogram_counts_every_stored_entry(shape, bins):
    A = sp.random_array(shape, density=0.3, format="csr", rng=np.random.default_rng(1))
    hb, wb = (bins, bins) if isinstance(bins, int) else bins
    hb, wb = min(hb, shape[0]), min(wb, shape[1])
    h = density_histogram(A, bins)
    assert np.array_equal(h, _reference_histogram(A, hb, wb)) and h.sum() == A.nnz
    assert np.array_equal(density_histogram(A.tocsc(), bins), h)
    assert np.array_equal(density_histogram(A.toarray(), bins), h)


def test_density_reads_the_csr_arrays_without_a_coo_or_dense_copy(monkeypatch):
    _, A, g = _conv((16, 16, 3, 3), (16, 16), padding=1)  # 4096 x 4096, 36,864 x 16 entries
    for name in ("tocoo", "toarray", "todense"):
        monkeypatch.setattr(sp.csr_array, name, lambda *a, **k: pytest.fail("converted"), raising=True)
    fig = plot_matrix(A, geometry=g)  # auto: density beyond 512 rows
    ax, cax = fig.axes
    counts = ax.images[0].get_array()
    assert counts.shape == (512, 512) and int(counts.sum()) == A.nnz
    assert "stored entries per bin (8 x 8 entries)" == cax.get_ylabel()
    monkeypatch.undo()
    img = render(fig)
    assert is_black(img[pixel(img, ax, 256 - 0.5, 100)]) and is_black(img[pixel(img, ax, 3000, 1024 - 0.5)])


# --------------------------------------------------------------------------- axes and refusals
def test_draws_into_the_users_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    a, b = fig.subplots(1, 2)
    out = plot_matrix(np.eye(3), ax=b, title="mine")
    assert out is fig and b.get_title() == "mine" and not a.images and b.images
    sub = Figure().subfigures(1, 2)[1]
    axs = sub.subplots()
    assert plot_matrix(np.eye(2), ax=axs) is sub.figure


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(A="matrix"), TypeError, "A must be a scipy.sparse array"),
    (dict(A=np.zeros((0, 3))), ValueError, "nothing to draw"),
    (dict(A=np.eye(2), color="rainbow"), ValueError, "color='rainbow' is not one of"),
    (dict(A=np.eye(2), ax="axes"), TypeError, "ax must be a matplotlib Axes"),
    (dict(A=sp.eye_array(2001, format="csr"), color="value"), ValueError, "too large to draw entry by entry"),
    (dict(A=np.arange(1, 30).reshape(1, 29), color="tap"), ValueError, "29 distinct values and no geometry"),
    (dict(A=np.eye(2), geometry="conv"), TypeError, "geometry must be a ConvGeometry"),
])
def test_refusals_name_the_parameter(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        plot_matrix(**kwargs)
    assert isinstance(info.value, cm.InputError)


def test_layout_objects():
    m = MatrixLayout(2, (2, 3), 1, 4)
    assert m.shape == (12, 4) and m.transposed().shape == (4, 12) and m.axis_label(1) == "(c, x)"
    assert RULE_COLOR == (0, 0, 0) and RULE_COLOR not in TAP_COLORS and SUM_COLOR not in TAP_COLORS
