"""``from_torch`` on every supported module kind and its options, against the module itself.

One hypothesis sweep per family of modules; every drawn module is checked with
:func:`convmatrix.testing.assert_matches` (random inputs for the affine ones; the
value at ``x`` and Jacobian–vector products at ``x`` for the piecewise-linear
ones), so the oracle is the module's own forward in float64.  Then every refusal:
the message names the module's class, or says that ``x`` is needed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convmatrix as cm
from convmatrix.testing import assert_matches
from convmatrix.torch_bridge import SUPPORTED_MODULES

SWEEP = settings(max_examples=8)  # per parametrized kind: every class is drawn, with its options
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def seeded(draw):
    torch.manual_seed(draw(st.integers(0, 2**16)))


def check(module, shape, x=None):
    """The map against the module; modules torch itself refuses for this input are skipped, and an empty
    output (which torch returns, for a crop of everything) is refused."""
    try:
        with torch.no_grad():
            out = module.double()(torch.zeros((1, *shape), dtype=torch.float64) if x is None else
                                  torch.as_tensor(x, dtype=torch.float64)[None])
    except (RuntimeError, ValueError):
        assume(False)
    if out.numel() == 0:
        with pytest.raises(ValueError):
            cm.from_torch(module, shape, x=x)
        return None
    return assert_matches(module, shape, x=x, samples=2, rtol=1e-9, atol=1e-10)


def sizes(draw, ndim, lo=1, hi=5):
    return tuple(draw(st.integers(lo, hi)) for _ in range(ndim))


# --------------------------------------------------------------------------- convolutions
@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_conv(nd, data):
    draw = data.draw
    seeded(draw)
    groups = draw(st.sampled_from([1, 2]))
    mode = draw(st.sampled_from(PADDING_MODES))
    k = sizes(draw, nd, 1, 3)
    stride = sizes(draw, nd, 1, 2)
    dilation = sizes(draw, nd, 1, 2)
    padding = draw(st.sampled_from(["same", "valid", "int", "tuple"])) if all(s == 1 for s in stride) else \
        draw(st.sampled_from(["int", "tuple", "valid"]))
    n = sizes(draw, nd, 2, 5 if nd < 3 else 4)
    if padding == "int":
        padding = draw(st.integers(0, min(n) - 1 if mode == "reflect" else 2))
    elif padding == "tuple":
        padding = tuple(draw(st.integers(0, (na - 1) if mode == "reflect" else 2)) for na in n)
    conv = getattr(nn, f"Conv{nd}d")(groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2)), k,
                                     stride=stride, padding=padding, dilation=dilation, groups=groups,
                                     bias=draw(st.booleans()), padding_mode=mode)
    check(conv, (conv.in_channels, *n))


@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_conv_transpose(nd, data):
    draw = data.draw
    seeded(draw)
    groups = draw(st.sampled_from([1, 2]))
    k, stride, dilation = sizes(draw, nd, 1, 3), sizes(draw, nd, 1, 3), sizes(draw, nd, 1, 2)
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = sizes(draw, nd, 0, 2)
    m = getattr(nn, f"ConvTranspose{nd}d")(groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2)), k,
                                           stride=stride, padding=padding, output_padding=output_padding,
                                           groups=groups, bias=draw(st.booleans()), dilation=dilation)
    check(m, (m.in_channels, *sizes(draw, nd, 1, 4 if nd < 3 else 3)))


# --------------------------------------------------------------------------- normalisation, shape, dense
@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_batchnorm_eval(nd, data):
    draw = data.draw
    seeded(draw)
    c = draw(st.integers(1, 3))
    bn = getattr(nn, f"BatchNorm{nd}d")(c, eps=draw(st.sampled_from([1e-5, 1e-3, 0.5])), affine=draw(st.booleans()))
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.1, 3)
        if bn.affine:
            bn.weight.uniform_(-2, 2)
            bn.bias.uniform_(-1, 1)
    bn.eval()
    shape = (c, *sizes(draw, draw(st.integers(0, 1)) if nd == 1 else nd, 1, 4))
    check(bn, shape)


@pytest.mark.parametrize("kind", ["Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                  "FeatureAlphaDropout", "Flatten", "Unflatten"])
@settings(max_examples=5)
@given(st.data())
def test_identity_dropout_flatten_unflatten(kind, data):
    draw = data.draw
    shape = (draw(st.integers(1, 3)), *sizes(draw, draw(st.integers(0, 2)), 1, 4))
    if kind == "Identity":
        m = nn.Identity()
    elif kind == "Flatten":
        nd = len(shape) + 1
        start = draw(st.integers(1, nd - 1))
        end = draw(st.integers(start, nd - 1))
        m = nn.Flatten(start - nd if draw(st.booleans()) else start, end - nd if draw(st.booleans()) else end)
    elif kind == "Unflatten":
        shape = (draw(st.integers(1, 3)) * draw(st.integers(1, 3)), *shape[1:])
        first = draw(st.sampled_from([d for d in range(1, shape[0] + 1) if shape[0] % d == 0]))
        m = nn.Unflatten(1, (first, -1) if draw(st.booleans()) else (first, shape[0] // first))
    else:
        if kind in ("Dropout1d", "Dropout2d", "Dropout3d"):
            shape = (shape[0], *sizes(draw, int(kind[-2]), 1, 3))
        m = getattr(nn, kind)(draw(st.floats(0, 0.9))).eval()
    check(m, shape)


@SWEEP
@given(st.data())
def test_linear(data):
    draw = data.draw
    seeded(draw)
    lin = nn.Linear(draw(st.integers(1, 5)), draw(st.integers(1, 5)), bias=draw(st.booleans()))
    check(lin, (*sizes(draw, draw(st.integers(0, 2)), 1, 3), lin.in_features))


# --------------------------------------------------------------------------- pooling and resampling
@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_avg_pool(nd, data):
    draw = data.draw
    k = sizes(draw, nd, 1, 3)
    stride = draw(st.one_of(st.none(), st.just(sizes(draw, nd, 1, 3))))
    padding = tuple(draw(st.integers(0, ka // 2)) for ka in k)
    kw = dict(stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
              count_include_pad=draw(st.booleans()))
    if nd > 1:
        kw["divisor_override"] = draw(st.sampled_from([None, None, 1, 3]))
    m = getattr(nn, f"AvgPool{nd}d")(k, **kw)
    check(m, (draw(st.integers(1, 2)), *sizes(draw, nd, 1, 6 if nd < 3 else 4)))


@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_adaptive_avg_pool(nd, data):
    draw = data.draw
    out = tuple(draw(st.one_of(st.integers(1, 4), st.none())) if nd > 1 else draw(st.integers(1, 4))
                for _ in range(nd))
    m = getattr(nn, f"AdaptiveAvgPool{nd}d")(out if nd > 1 or draw(st.booleans()) else out[0])
    check(m, (2, *sizes(draw, nd, 1, 6)))


@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_max_pool_at_x(nd, data):
    draw = data.draw
    k = sizes(draw, nd, 1, 3)
    m = getattr(nn, f"MaxPool{nd}d")(k, stride=draw(st.one_of(st.none(), st.just(sizes(draw, nd, 1, 3)))),
                                     padding=tuple(draw(st.integers(0, ka // 2)) for ka in k),
                                     dilation=sizes(draw, nd, 1, 2), ceil_mode=draw(st.booleans()))
    shape = (2, *sizes(draw, nd, 2, 6 if nd < 3 else 4))
    x = np.random.default_rng(draw(st.integers(0, 99))).standard_normal(shape)
    check(m, shape, x=x)


@pytest.mark.parametrize("nd", [1, 2, 3])
@SWEEP
@given(st.data())
def test_max_unpool_with_given_indices(nd, data):
    draw = data.draw
    k = sizes(draw, nd, 1, 3)
    stride = tuple(ka + draw(st.integers(0, 1)) for ka in k)  # non-overlapping windows: distinct indices
    padding = tuple(draw(st.integers(0, ka // 2)) for ka in k)
    pool = getattr(nn, f"MaxPool{nd}d")(k, stride=stride, padding=padding, return_indices=True)
    unpool = getattr(nn, f"MaxUnpool{nd}d")(k, stride=stride, padding=padding)
    x = torch.randn(1, 2, *sizes(draw, nd, 2, 6 if nd < 3 else 4), dtype=torch.float64)
    try:
        y, idx = pool(x)
    except RuntimeError:
        assume(False)
    size = None if draw(st.booleans()) else tuple(x.shape[2:])
    args = (y[0], idx[0]) if size is None else (y[0], idx[0], size)
    try:
        expected = unpool(y, idx, output_size=size)[0].numpy()
    except RuntimeError:  # an index beyond the default output size: refused by both
        expected = None
    if expected is None or expected.size == 0:  # (or an empty output, which torch returns)
        with pytest.raises(ValueError, match="indices must lie in|would be empty"):
            cm.from_torch(unpool, tuple(y.shape[1:]), x=args)
        return
    f = cm.from_torch(unpool, tuple(y.shape[1:]), x=args)
    np.testing.assert_array_equal(f(y[0]), expected)
    assert f.matrix.dtype == np.float64 and set(f.matrix.data.tolist()) <= {1.0} and f.offset.max() == 0


UPSAMPLE_CASES = [(nd, mode) for nd in (1, 2, 3)
                  for mode in ("nearest", "nearest-exact", {1: "linear", 2: "bilinear", 3: "trilinear"}[nd])]
UPSAMPLE_CASES.append((2, "bicubic"))


@pytest.mark.parametrize("nd, mode", UPSAMPLE_CASES)
@settings(max_examples=6)
@given(st.data())
def test_upsample(nd, mode, data):
    draw = data.draw
    n = sizes(draw, nd, 1, 5)
    kw = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = sizes(draw, nd, 1, 7)
    else:
        kw["scale_factor"] = tuple(draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5])) for _ in range(nd))
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, True]))
        assume(all(int(na * f) >= 1 for na, f in zip(n, kw["scale_factor"])))
    if mode not in ("nearest", "nearest-exact"):
        kw["align_corners"] = draw(st.booleans())
    check(nn.Upsample(**kw), (2, *n))


def test_upsampling_subclasses():
    check(nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 2))
    check(nn.UpsamplingBilinear2d(size=(5, 4)), (1, 3, 2))


@SWEEP
@given(st.data())
def test_pixel_shuffle_and_unshuffle(data):
    draw = data.draw
    r = draw(st.integers(1, 3))
    c = draw(st.integers(1, 2))
    n = sizes(draw, 2, 1, 3)
    check(nn.PixelShuffle(r), (c * r * r, *n))
    check(nn.PixelUnshuffle(r), (c, n[0] * r, n[1] * r))


@pytest.mark.parametrize("kind", ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@settings(max_examples=5)
@given(st.data())
def test_pads(kind, nd, data):
    draw = data.draw
    n = sizes(draw, nd, 2, 4)
    limit = {"ReflectionPad": min(n) - 1, "CircularPad": min(n)}.get(kind, 3)
    low = -1 if kind in ("ZeroPad", "ConstantPad") else 0
    pad = tuple(draw(st.integers(low, limit)) for _ in range(2 * nd))
    args = (pad, draw(st.sampled_from([0.0, 1.5, -2.0]))) if kind == "ConstantPad" else (pad,)
    m = getattr(nn, f"{kind}{nd}d")(*args)
    check(m, (draw(st.integers(1, 2)), *n))


# --------------------------------------------------------------------------- activations at x
@pytest.mark.parametrize("kind", ["ReLU", "LeakyReLU", "PReLU1", "PReLUC", "Hardtanh", "ReLU6"])
@SWEEP
@given(st.data())
def test_piecewise_linear_activations_at_x(kind, data):
    draw = data.draw
    seeded(draw)
    c = draw(st.integers(1, 3))
    shape = (c, *sizes(draw, draw(st.integers(0, 2)), 1, 4))
    m = {"ReLU": lambda: nn.ReLU(), "LeakyReLU": lambda: nn.LeakyReLU(draw(st.floats(-1, 1))),
         "PReLU1": lambda: nn.PReLU(), "PReLUC": lambda: nn.PReLU(c, init=draw(st.floats(-1, 1))),
         "Hardtanh": lambda: nn.Hardtanh(-draw(st.floats(0, 2)), draw(st.floats(0.1, 2))),
         "ReLU6": lambda: nn.ReLU6()}[kind]()
    x = 4 * np.random.default_rng(draw(st.integers(0, 99))).standard_normal(shape)
    x.reshape(-1)[0] = 0.0  # a kink: torch's one-sided slope
    f = check(m, shape, x=x)
    assert f is not None and f.matrix.nnz <= np.prod(shape) and (f.matrix != sp_diag(f)).nnz == 0


def sp_diag(f):
    import scipy.sparse as sp

    return sp.diags_array(f.matrix.diagonal(), format="csr")


@pytest.mark.parametrize("m, value, slope", [(nn.ReLU(), 0.0, 0.0), (nn.LeakyReLU(0.3), 0.0, 0.3),
                                             (nn.Hardtanh(-1, 1), 1.0, 0.0), (nn.Hardtanh(-1, 1), -1.0, 0.0),
                                             (nn.ReLU6(), 6.0, 0.0)])
def test_kinks_take_torchs_backward_slope(m, value, slope):
    x = torch.tensor([value], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(m(x).sum(), x)
    f = cm.from_torch(m, (1,), x=x.detach())
    assert f.matrix.toarray()[0, 0] == g.item() == slope


# --------------------------------------------------------------------------- sequences of every kind
def test_sequential_of_every_kind_carries_x():
    torch.manual_seed(3)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    net = nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"), bn.eval(), nn.PReLU(4),
        nn.MaxPool2d(2, ceil_mode=True), nn.Upsample(scale_factor=1.5, mode="bicubic"), nn.ReLU6(),
        nn.ConvTranspose2d(4, 4, 3, stride=2, groups=2), nn.LeakyReLU(0.1), nn.ZeroPad2d((0, 1, 0, 1)),
        nn.PixelUnshuffle(2),
        nn.AvgPool2d(2, padding=1), nn.AdaptiveAvgPool2d((2, 3)), nn.Hardtanh(-0.5, 0.5), nn.ZeroPad2d(1),
        nn.Sequential(nn.Dropout(0.2), nn.Identity()), nn.Flatten(), nn.Linear(16 * 4 * 5, 7), nn.Unflatten(1, (7, 1)),
        nn.ReLU(),
    ).eval()
    x = torch.randn(2, 7, 6)
    f = assert_matches(net, (2, 7, 6), x=x, samples=2)
    assert f.output_shape == (7, 1)


# --------------------------------------------------------------------------- refusals
def test_supported_modules_table_is_what_from_torch_reads():
    for name in SUPPORTED_MODULES:
        assert hasattr(nn, name), name


@pytest.mark.parametrize("module, shape", [(nn.Tanh(), (3,)), (nn.LSTM(2, 2), (2, 2)), (nn.Softmax(dim=1), (3,)),
                                           (nn.MaxPool2d(2), None), (nn.Embedding(3, 2), (2,)),
                                           (nn.Transformer(d_model=4, nhead=1), (2, 4)), (nn.LPPool2d(2, 2), (1, 2, 2)),
                                           (nn.ModuleList([nn.ReLU()]), (2,)), (nn.GELU(), (2,))])
def test_unsupported_modules_are_refused_by_class(module, shape):
    if shape is None:
        return
    with pytest.raises(TypeError) as info:
        cm.from_torch(module, shape)
    assert type(module).__name__ in str(info.value) and "not supported" in str(info.value)
    assert info.value.parameter == "module"


def test_unsupported_module_inside_a_sequence_names_its_place():
    net = nn.Sequential(nn.Conv1d(1, 1, 3), nn.Sequential(nn.Identity(), nn.Sigmoid()))
    with pytest.raises(TypeError, match=r"module\[1\]\[1\]: Sigmoid is not supported"):
        cm.from_torch(net, (1, 8))


class Doubler(nn.Conv1d):  # a subclass that changes forward is not read as its base class
    def forward(self, v):
        return 2 * super().forward(v)


def test_subclass_with_its_own_forward_is_traced_not_read_as_its_base():
    torch.manual_seed(0)
    m = Doubler(1, 2, 3)
    assert_matches(m, (1, 6))  # traced through torch.fx: 2 * conv


@pytest.mark.parametrize("module", [nn.ReLU(), nn.LeakyReLU(), nn.PReLU(), nn.Hardtanh(), nn.ReLU6(), nn.MaxPool1d(2),
                                    nn.Sequential(nn.Conv1d(1, 1, 1), nn.ReLU())])
def test_piecewise_linear_without_x_says_x_is_needed(module):
    with pytest.raises(ValueError, match="piecewise linear.*x is needed") as info:
        cm.from_torch(module, (1, 4))
    assert info.value.parameter == "x"


def test_unpool_without_indices_says_x_is_needed():
    with pytest.raises(ValueError, match="x is needed") as info:
        cm.from_torch(nn.MaxUnpool2d(2), (1, 2, 2))
    assert info.value.parameter == "x"


@pytest.mark.parametrize("module, shape, match", [
    (nn.BatchNorm2d(2), (2, 3, 3), "BatchNorm2d is in training mode"),
    (nn.BatchNorm1d(2, track_running_stats=False).eval(), (2,), "no running statistics"),
    (nn.Dropout(0.5), (3,), "Dropout is in training mode"),
    (nn.Conv2d(3, 2, 3), (2, 5, 5), "Conv2d expects 3 input channels"),
    (nn.Conv2d(2, 2, 3), (2, 5), r"Conv2d acts on samples of shape \(C, \*, \*\)"),
    (nn.Linear(3, 2), (4,), "Linear expects 3 features"),
    (nn.Flatten(0), (2, 3), "flattens the batch dimension"),
    (nn.Unflatten(0, (1, 1)), (2,), "unflattens the batch dimension"),
    (nn.PixelShuffle(2), (3, 2, 2), "divisible by upscale_factor"),
    (nn.BatchNorm2d(2).eval(), (3, 2, 2), "BatchNorm2d acts on samples"),
    (nn.PReLU(3), (2, 2), "PReLU has 3 parameters"),
])
def test_refusals_name_the_module_and_the_rule(module, shape, match):
    x = None if "PReLU" not in match else np.ones(shape)
    with pytest.raises(ValueError, match=match) as info:
        cm.from_torch(module, shape, x=x)
    shape_rule = any(w in match for w in ("expects", "acts on", "divisible", "parameters"))
    assert info.value.parameter == ("input_size" if shape_rule else "module")


def test_bad_arguments():
    with pytest.raises(TypeError) as info:
        cm.from_torch(lambda v: v, (2,))
    assert info.value.parameter == "module"
    with pytest.raises(ValueError) as info:
        cm.from_torch(nn.ReLU(), (2, 3), x=np.ones((3, 2)))
    assert info.value.parameter == "x"
    with pytest.raises(ValueError) as info:
        cm.from_torch(nn.Identity(), None)
    assert info.value.parameter == "input_size"
    with pytest.raises(ValueError) as info:
        cm.from_torch(nn.Identity(), (2, 0))
    assert info.value.parameter == "input_size"
    with pytest.raises(ValueError) as info:
        cm.from_torch(nn.Identity(), (2,), format="sparse")
    assert info.value.parameter == "format"
    with pytest.raises(ValueError) as info:
        cm.from_torch(nn.ReLU(), (2,), x=[1.0, float("nan")])
    assert info.value.parameter == "x"


def test_unpool_index_refusals():
    unpool = nn.MaxUnpool1d(2)
    y = torch.ones(1, 2)
    with pytest.raises(ValueError, match="indices repeat") as info:
        cm.from_torch(unpool, (1, 2), x=(y, torch.tensor([[1, 1]])))
    assert info.value.parameter == "indices"
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        cm.from_torch(unpool, (1, 2), x=(y, torch.tensor([[1, 7]])))
    with pytest.raises(TypeError):
        cm.from_torch(unpool, (1, 2), x=(y, torch.tensor([[1.0, 2.0]])))
    with pytest.raises(ValueError, match="x for MaxUnpool1d must be its arguments"):
        cm.from_torch(unpool, (1, 2), x=(y,))


def test_size_limit_and_formats():
    conv = nn.Conv2d(8, 8, 3, padding=1)
    with pytest.raises(cm.MatrixTooLargeError):
        cm.from_torch(conv, (8, 64, 64), max_bytes=10**6)
    f = cm.from_torch(nn.Conv1d(1, 1, 2), (1, 4), format="dense")
    assert isinstance(f.matrix, np.ndarray) and f.matrix.shape == (3, 4)
    assert cm.from_torch(nn.Conv1d(1, 1, 2), (1, 4), format="csc").matrix.format == "csc"


def test_float32_module_is_read_in_float64_and_left_unchanged():
    conv = nn.Conv1d(1, 2, 3)
    f = cm.from_torch(conv, (1, 5))
    assert f.matrix.dtype == np.float64 and conv.weight.dtype == torch.float32
    x = torch.randn(1, 5)
    np.testing.assert_allclose(f(x), conv(x[None])[0].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_indices_inside_a_sequence_are_refused_and_alone_give_the_pooled_map():
    pool = nn.MaxPool1d(2, return_indices=True)
    with pytest.raises(ValueError, match=r"module\[0\]: MaxPool1d returns indices"):
        cm.from_torch(nn.Sequential(pool, nn.ReLU()), (1, 4), x=np.arange(4.0)[None])
    f = cm.from_torch(pool, (1, 4), x=np.array([[1.0, 3.0, 2.0, 0.0]]))
    np.testing.assert_array_equal(f.matrix.toarray(), [[0, 1, 0, 0], [0, 0, 1, 0]])
