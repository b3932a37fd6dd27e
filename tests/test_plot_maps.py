"""Overlap maps (against torch and the matrices), receptive fields, T = C P Z, Zeiler, batch norm, derivations."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import convmatrix as cm  # noqa: E402
from convmatrix.plot import (plot_batchnorm_jacobian, plot_chain, plot_derivation, plot_filters,  # noqa: E402
                             plot_overlap, plot_receptive_field, plot_reconstructions)
from convmatrix.plot.fields import MARK_COLOR, footprint  # noqa: E402
from convmatrix.plot.overlap import EVEN_COLOR, UNEVEN_COLOR  # noqa: E402
from convmatrix.plot.symbolic import _drawable  # noqa: E402
from convmatrix.plot.zeiler import layerwise_inference  # noqa: E402

from _pictures import box, colors_present, pixel, render  # noqa: E402

CT = cm.ConvTransposeGeometry
CG = cm.ConvGeometry


# --------------------------------------------------------------------------- overlap maps: numbers
TRANSPOSED = [  # (kernel, input, stride, padding, output_padding, dilation)
    (3, 4, 2, 0, 0, 1), (4, 4, 2, 1, 0, 1), (3, 5, 3, 1, 2, 1), (2, 3, 2, 0, 1, 2), (5, 3, 2, 2, 1, 1),
    ((3, 4), (3, 2), (2, 2), (1, 0), (1, 0), (1, 2)), ((2, 3), (2, 3), (1, 3), 0, (0, 2), 1),
]


@pytest.mark.parametrize("k,n,s,p,op,d", TRANSPOSED)
def test_forward_map_of_a_transposed_layer_is_torch_on_ones(k, n, s, p, op, d):
    nd = len(n) if isinstance(n, tuple) else 1
    kk = k if isinstance(k, tuple) else (k,) * nd
    g = CT.from_weight_shape((1, 1, *kk), n, stride=s, padding=p, output_padding=op, dilation=d)
    m = cm.overlap_map([g])
    conv_t = getattr(F, f"conv_transpose{nd}d")
    ones = torch.ones((1, 1, *g.input_size), dtype=torch.float64)
    ref = conv_t(ones, torch.ones((1, 1, *kk), dtype=torch.float64), stride=s, padding=p, output_padding=op,
                 dilation=d)[0].numpy()
    assert np.array_equal(m.maps[0], ref.astype(np.int64))
    assert np.array_equal(m.maps[0][0], cm.overlap_counts(n, k, stride=s, padding=p, output_padding=op, dilation=d))
    assert m.uneven == (cm.has_uneven_overlap(kk, g.stride, g.dilation),)


@pytest.mark.parametrize("k,n,s,p,d", [(3, 9, 2, 0, 1), (4, 10, 2, 1, 1), (3, 11, 3, 1, 1),
                                       ((3, 2), (8, 7), (2, 2), 1, (1, 2))])
def test_gradient_map_of_a_strided_conv_is_torch_autograd(k, n, s, p, d):
    nd = len(n) if isinstance(n, tuple) else 1
    kk = k if isinstance(k, tuple) else (k,) * nd
    g = CG.from_weight_shape((1, 1, *kk), n, stride=s, padding=p, dilation=d)
    x = torch.ones((1, 1, *g.input_size), dtype=torch.float64, requires_grad=True)
    getattr(F, f"conv{nd}d")(x, torch.ones((1, 1, *kk), dtype=torch.float64), stride=s, padding=p,
                            dilation=d).sum().backward()
    m = cm.overlap_map([g], direction="gradient")
    assert np.array_equal(m.maps[0], x.grad[0].numpy().astype(np.int64))
    assert m.uneven == (cm.has_uneven_overlap(kk, g.stride, g.dilation),)
    assert cm.overlap_map([g]).uneven == (False,)  # a conv's forward pass spreads evenly


def test_stack_maps_compose_the_matrices():
    rng = np.random.default_rng(3)
    g1 = CT.from_weight_shape((2, 3, 3, 3), (3, 3), stride=2)
    g2 = CT.from_weight_shape((3, 1, 4, 4), g1.output_size, stride=2, padding=1)
    unit = cm.overlap_map([g1, g2])
    T1 = cm.conv_transpose_matrix(np.ones((2, 3, 3, 3), dtype=int), (3, 3), stride=2)
    T2 = cm.conv_transpose_matrix(np.ones((3, 1, 4, 4), dtype=int), g1.output_size, stride=2, padding=1)
    assert np.array_equal(unit.maps[0].reshape(-1), T1 @ np.ones(T1.shape[1], dtype=int))
    assert np.array_equal(unit.maps[1].reshape(-1), T2 @ (T1 @ np.ones(T1.shape[1], dtype=int)))
    assert unit.uneven == (True, False) and not unit.learned and unit.maps[1].dtype.kind == "i"
    w1, w2 = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((3, 1, 4, 4))
    learned = cm.overlap_map([g1, g2], weights=[w1, w2])
    M = (cm.conv_transpose_matrix(w2, g1.output_size, stride=2, padding=1)
         @ cm.conv_transpose_matrix(w1, (3, 3), stride=2)).toarray()
    assert learned.learned and np.allclose(learned.maps[1].reshape(-1), np.abs(M).sum(axis=1))
    grad = cm.overlap_map([g1, g2], weights=[w1, None], direction="gradient")
    M1 = (T2 @ cm.conv_transpose_matrix(w1, (3, 3), stride=2)).toarray()
    assert grad.maps[1].shape == (2, 3, 3) and np.allclose(grad.maps[1].reshape(-1), np.abs(M1).sum(axis=0))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(layers=[]), ValueError, "at least one"),
    (dict(layers=["conv"]), TypeError, r"layers\[0\] must be a ConvGeometry"),
    (dict(layers=[CT.from_weight_shape((1, 1, 3), 4, stride=2), CT.from_weight_shape((1, 1, 3), 4)]), ValueError,
     r"layers\[1\] takes input \(1, 4\) but layers\[0\] gives \(1, 9\)"),
    (dict(layers=[CT.from_weight_shape((1, 1, 3), 4)], weights=[np.ones((1, 1, 2))]), ValueError,
     r"weights\[0\] has shape \(1, 1, 2\) but layers\[0\] needs \(1, 1, 3\)"),
    (dict(layers=[CT.from_weight_shape((1, 1, 3), 4)], weights=[]), ValueError, "one array"),
    (dict(layers=[CT.from_weight_shape((1, 1, 3), 4)], direction="up"), ValueError, "direction='up'"),
])
def test_overlap_map_refusals(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        cm.overlap_map(**kwargs)
    assert isinstance(info.value, cm.InputError)


# --------------------------------------------------------------------------- overlap maps: pictures
def test_overlap_picture_has_a_panel_per_depth_with_verdicts_and_counts():
    g1 = CT.from_weight_shape((1, 1, 3, 3), (3, 3), stride=2)
    g2 = CT.from_weight_shape((1, 1, 4, 4), g1.output_size, stride=2, padding=1)
    m = cm.overlap_map([g1, g2])
    fig = plot_overlap(m)
    a1, a2, cb1, cb2 = fig.axes
    assert a1.title.get_color() == UNEVEN_COLOR and a2.title.get_color() == EVEN_COLOR
    assert [t.get_text() for t in a1.texts][:7] == [str(v) for v in m.maps[0][0, 0]]  # row 0 of the 7 x 7 map
    assert cb1.get_ylabel() == "count"
    img = render(fig)
    counts = m.maps[0][0]
    lum = {}
    for (y, x), v in np.ndenumerate(counts):
        r, c = pixel(img, a1, x + 0.3, y + 0.3)  # off the number
        lum.setdefault(int(v), []).append(img[r, c].astype(int).sum())
    means = [np.mean(lum[v]) for v in sorted(lum)]
    assert means == sorted(means) and len(means) == 3  # magma: more overlap, brighter
    assert np.array_equal(a2.images[0].get_array(), m.maps[1][0])


def test_overlap_picture_of_counts_and_of_3d_maps():
    counts = cm.overlap_counts(5, 3, stride=2)
    fig = plot_overlap(counts, uneven=True)
    assert fig.axes[0].title.get_color() == UNEVEN_COLOR and fig.axes[0].images[0].get_array().shape == (1, 11)
    m3 = cm.overlap_map([CT.from_weight_shape((1, 1, 2, 3, 3), (2, 2, 2), stride=2)])
    ax = plot_overlap(m3).axes[0]
    assert [t.get_text() for t in ax.texts if "=" in t.get_text()] == ["z=0", "z=1", "z=2", "z=3"]
    with pytest.raises(TypeError, match="m must be an OverlapMap"):
        plot_overlap("counts")
    with pytest.raises(ValueError, match="channel=3 must be a channel index between 0 and 0"):
        plot_overlap(m3, channel=3)


# --------------------------------------------------------------------------- receptive fields
def test_receptive_field_is_the_row_or_column_of_the_matrix():
    rng = np.random.default_rng(0)
    w = rng.integers(1, 5, (2, 3, 3, 3))
    kw = dict(stride=2, padding=1, dilation=(1, 2))
    A = cm.conv_matrix(w, (6, 7), **kw)
    g = CG.from_weight_shape(w.shape, (6, 7), **kw)
    layout = cm.export.layout.layout_of(g)
    r = np.ravel_multi_index((1, 2, 1), (2, *g.output_size))
    values, index, _ = footprint(A, layout, output=(1, 2, 1))
    dense = A.toarray()
    assert index == r and np.array_equal(np.nan_to_num(values).reshape(-1), dense[r])
    col = np.ravel_multi_index((2, 3, 4), (3, 6, 7))
    values, _, _ = footprint(A, layout, input=col)
    assert np.array_equal(np.nan_to_num(values).reshape(-1), dense[:, col])
    fig = plot_receptive_field(A, g, output=(1, 2, 1))
    shown = fig.axes[0].images[0].get_array()
    assert int((~shown.mask).sum()) == np.count_nonzero(dense[r])  # the footprint's cells, channels side by side
    assert [t.get_text() for t in fig.axes[0].texts] == ["c=0", "c=1", "c=2"]
    img = render(fig)
    assert colors_present(img, [tuple(int(round(255 * c)) for c in to_rgb(MARK_COLOR))], 20)  # the chosen output


def test_receptive_field_refusals_and_one_axes():
    A = cm.conv_matrix(np.ones((1, 1, 3)), 5)
    g = CG.from_weight_shape((1, 1, 3), 5)
    with pytest.raises(ValueError, match="exactly one of output"):
        plot_receptive_field(A, g)
    with pytest.raises(ValueError, match="geometry is needed"):
        plot_receptive_field(A, output=0)
    with pytest.raises(ValueError, match="output=3 must be a flat index between 0 and 2"):
        plot_receptive_field(A, g, output=3)
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_receptive_field(A, g, input=(0, 2), ax=ax) is fig and ax.get_title().startswith("output footprint")


# --------------------------------------------------------------------------- the chain, Zeiler, batch norm, derivation
def test_chain_draws_t_c_p_z_as_the_matrices_they_are():
    w = np.random.default_rng(1).integers(1, 4, (2, 1, 3, 3))
    d = cm.transposed_conv_as_direct(w, (2, 2), stride=2, padding=1)
    fig = plot_chain(d)
    axes = fig.axes[:4]
    assert [a.get_title() for a in axes] == ["T (9 x 8)", "= C (9 x 50)", "· P (50 x 18)", "· Z (18 x 8)"]
    for a, M in zip(axes, (d.matrix, d.C)):
        shown = a.images[0].get_array()
        assert np.array_equal(np.ma.filled(shown, 0), M.toarray())
    assert fig.axes[4].get_ylabel() == "entry value"  # one colorbar for the four
    sym = cm.transposed_conv_as_direct(cm.symbolic_weight((1, 1, 2, 2)), (2, 2), stride=2)
    assert len(plot_chain(sym).legends) == 1


def test_reconstructions_grid_and_filters():
    stack = cm.ZeilerStack([cm.ZeilerLayer(cm.filter_bank(5), "valid", cm.MaxPool(2, channel_pool=2)),
                            cm.ZeilerLayer(np.random.default_rng(0).standard_normal((3, 4, 3, 3)), "valid")],
                           (1, 16, 16))
    y = cm.synthetic_scene(16)[None]
    results = layerwise_inference(stack, y, lam=20.0, n_iter=10)
    fig = plot_reconstructions(stack, y, results=results, maps=2)
    axes = fig.axes
    assert len(axes) == 8 and axes[4].get_ylabel() == "layer 2"
    rec = (stack.R(1) @ results[0].z.reshape(-1)).reshape(16, 16)
    assert np.allclose(axes[1].images[0].get_array(), rec)
    assert axes[1].get_title() == f"R_1 z_1: {cm.psnr(rec, y[0], float(y.max() - y.min())):.1f} dB"
    ff = plot_filters(stack)
    img = ff.axes[0].images[0].get_array()
    assert img.shape == (8 * 5 + 7, 5) and np.allclose(img[:5], stack.layers[0].filters[0, 0])
    with pytest.raises(ValueError, match="one InferenceResult per layer"):
        plot_reconstructions(stack, y, results=results[:1])


def test_batchnorm_jacobian_heat_map():
    x = [1.0, 2.0, 4.0, 7.0, 0.5]
    fig = plot_batchnorm_jacobian(x, eps=1e-3)
    ax, cax = fig.axes
    J = cm.batchnorm_jacobian(x, eps=1e-3)
    assert np.allclose(ax.images[0].get_array(), J) and ax.images[0].norm.vmin == -ax.images[0].norm.vmax
    assert len(ax.texts) == 25 and cax.get_ylabel() == "∂x̂_i/∂x_j"
    img = render(fig)
    r, c = pixel(img, ax, 0, 0)  # the diagonal is positive: red
    assert img[r - 3, c - 3, 0] > img[r - 3, c - 3, 2]
    with pytest.raises(TypeError, match="an int m gives the symbolic Jacobian"):
        plot_batchnorm_jacobian(4)


def test_derivation_closed_form_figure():
    d = cm.batchnorm_derivation(2)
    fig = plot_derivation(d)
    title, sentence, equation = [t.get_text() for t in fig.axes[0].texts]
    assert title == d.title and sentence.startswith(f"({d.position('closed_form') + 1}) Closed form")
    assert equation.startswith("$") and "\\dfrac" in equation
    img = render(fig)
    rows, cols = box(img, fig.axes[0])
    assert (img[rows, cols] < 128).any(axis=2).mean() > 0.005  # the equation is drawn
    two = plot_derivation(d, ["dbeta", 1])
    assert len(two.axes[0].texts) == 5
    assert not _drawable(r"$\begin{bmatrix}a\end{bmatrix}$") and _drawable(r"$\frac{a}{b}$")
    with pytest.raises(TypeError, match="d must be a Derivation"):
        plot_derivation(sympy.Symbol("x"))
