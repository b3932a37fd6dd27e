"""Zeiler's R_l / R_lᵀ, ISTA/FISTA inference, the 2014 deconvnet, and the CLI."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.signal
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from convmatrix.cli import main
from conftest import run_cli
from convmatrix.pooling import MaxPool, max_pool_switches
from convmatrix.deconvnet import ConvLayer, DeconvNet
from convmatrix.scenes import filter_bank, psnr, synthetic_scene
from convmatrix.sparse_coding import fista, ista, lasso_cost, operator_norm, soft_threshold
from convmatrix.zeiler import ZeilerLayer, ZeilerStack


def int_stack(rng, depth, border="valid", ks=(3, 3, 2), maps=(4, 4, 3), g=2, size=(6, 6), c0=1):
    layers, c = [], c0
    for l in range(depth):
        k = ks[l]
        pool = MaxPool(2, channel_pool=g) if l < depth - 1 or depth == 1 else None
        layers.append(ZeilerLayer(rng.integers(-3, 4, (maps[l], c, *(k,) * len(size))), border, pool))
        c = maps[l] // g if pool is not None else maps[l]
    return ZeilerStack(layers, (c0, *size))


def random_switches(stack, l, rng, integer=True):
    maps = [rng.integers(-2, 3, s) if integer else rng.standard_normal(s) for s in stack.map_shapes[: l - 1]]
    return stack.switches(maps)


# --------------------------------------------------------------------------- F_l
@pytest.mark.parametrize("border", ["valid", "same", "full"])
@pytest.mark.parametrize("k", [3, 4])
def test_F_is_the_true_convolution_with_the_border(border, k, rng):
    f = rng.standard_normal((3, 2, k, k))
    layer = ZeilerLayer(f, border)
    n = (7, 6)
    m = layer.map_size(n)
    z = rng.standard_normal((3, *m))
    y = (layer.F(m) @ z.reshape(-1)).reshape(2, *n)
    ref = np.array([sum(scipy.signal.convolve(z[kk], f[kk, c], mode=border) for kk in range(3)) for c in range(2)])
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert (ZeilerLayer(np.round(f * 3).astype(int), border).Ft(n) !=
            ZeilerLayer(np.round(f * 3).astype(int), border).F(m).T).nnz == 0


def test_map_sizes_per_border():
    f = np.ones((2, 1, 5, 3))
    assert ZeilerLayer(f, "valid").map_size((10, 10)) == (14, 12)
    assert ZeilerLayer(f, "same").map_size((10, 10)) == (10, 10)
    assert ZeilerLayer(f, "full").map_size((10, 10)) == (6, 8)


# --------------------------------------------------------------------------- R_l
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("border", ["valid", "same", "full"])
def test_projection_equals_R_transposed_exactly(depth, border, rng):
    size = (14, 14) if border == "full" else (6, 6)
    stack = int_stack(rng, depth, border, size=size)
    for l in range(1, depth + 1):
        sw = random_switches(stack, l, rng)
        R, Rt = stack.R(l, sw), stack.Rt(l, sw)
        assert R.dtype.kind == "i" and Rt.dtype.kind == "i"
        assert R.shape == (np.prod(stack.input_shape), np.prod(stack.map_shapes[l - 1]))
        assert Rt.has_canonical_format and R.has_canonical_format
        assert (Rt != R.T).nnz == 0 and Rt.nnz == R.nnz


def test_exact_transpose_1d_and_two_channel_image(rng):
    stack = int_stack(rng, 3, "valid", size=(9,), c0=2)
    sw = random_switches(stack, 3, rng)
    assert (stack.Rt(3, sw) != stack.R(3, sw).T).nnz == 0


def torch_R(stack, l, z, sw):
    h = torch.as_tensor(z)
    for i in range(l, 0, -1):
        layer = stack.layers[i - 1]
        pad = tuple(lo for lo, _ in layer.padding)
        h = F.conv_transpose2d(h[None], torch.as_tensor(layer.filters), padding=pad)[0]
        if i > 1 and sw[i - 2] is not None:
            s = sw[i - 2]
            pool = stack.layers[i - 2].pool
            h = F.max_unpool3d(h[None, None], torch.as_tensor(s.indices)[None, None],
                               (pool.channel_pool, *s.kernel_size), output_size=s.input_shape)[0, 0]
    return h.numpy()


def torch_Rt(stack, l, y, sw):
    h = torch.as_tensor(y)
    for i in range(1, l + 1):
        layer = stack.layers[i - 1]
        pad = tuple(lo for lo, _ in layer.padding)
        h = F.conv2d(h[None], torch.as_tensor(layer.filters), padding=pad)[0]
        if i < l and sw[i - 1] is not None:
            h = h.reshape(-1)[torch.as_tensor(sw[i - 1].indices)]
    return h.numpy()


@pytest.mark.parametrize("border", ["valid", "same", "full"])
def test_R_and_Rt_match_torch_ops_on_random_z(border, rng):
    size = (20, 20) if border == "full" else (9, 9)
    layers = [
        ZeilerLayer(rng.standard_normal((4, 1, 3, 3)), border, MaxPool(2, channel_pool=2)),
        ZeilerLayer(rng.standard_normal((6, 2, 3, 3)), border, MaxPool(2, channel_pool=3)),
        ZeilerLayer(rng.standard_normal((3, 2, 3, 3)), border),
    ]
    stack = ZeilerStack(layers, (1, *size))
    for l in (1, 2, 3):
        sw = random_switches(stack, l, rng, integer=False)
        z = rng.standard_normal(stack.map_shapes[l - 1])
        y = rng.standard_normal(stack.input_shape)
        np.testing.assert_allclose(stack.R(l, sw) @ z.reshape(-1), torch_R(stack, l, z, sw).reshape(-1),
                                   atol=1e-10)
        np.testing.assert_allclose(stack.Rt(l, sw) @ y.reshape(-1), torch_Rt(stack, l, y, sw).reshape(-1),
                                   atol=1e-10)


def test_unpooled_layer_and_switches_of_pooling_layers_only(rng):
    layers = [ZeilerLayer(rng.integers(-2, 3, (2, 1, 3, 3)), "same"),
              ZeilerLayer(rng.integers(-2, 3, (4, 2, 3, 3)), "valid", MaxPool(2, channel_pool=2)),
              ZeilerLayer(rng.integers(-2, 3, (2, 2, 3, 3)), "valid")]
    stack = ZeilerStack(layers, (1, 6, 6))
    sw = stack.switches([rng.standard_normal(s) for s in stack.map_shapes[:2]])
    assert sw[0] is None
    R = stack.R(3, sw)
    assert (stack.R(3, [sw[1]]) != R).nnz == 0  # only the pooling layer's switches
    assert (stack.Rt(3, sw) != R.T).nnz == 0
    from convmatrix.pooling import unpool_matrix

    manual = stack.F(1) @ stack.F(2) @ unpool_matrix(sw[1]) @ stack.F(3)  # F_1 I F_2 U_s2 F_3
    assert (sp.csr_array(manual) != R).nnz == 0


# --------------------------------------------------------------------------- inference
def small_problem(rng):
    stack = ZeilerStack([ZeilerLayer(rng.standard_normal((3, 1, 3, 3)), "valid", MaxPool(2, channel_pool=3))],
                        (1, 8, 8))
    return stack, rng.standard_normal((1, 8, 8))


def test_operator_norm_methods_agree(rng):
    R = sp.random_array((40, 30), density=0.2, random_state=1, format="csr")
    exact = np.linalg.norm(R.toarray(), 2)
    assert operator_norm(R, method="svds") == pytest.approx(exact, rel=1e-10)
    assert operator_norm(R, R.T, tol=1e-12, n_iter=5000) == pytest.approx(exact, rel=1e-5)
    assert operator_norm(R) <= exact * (1 + 1e-12)


def test_ista_cost_non_increasing_at_step_up_to_one_over_L(rng):
    stack, y = small_problem(rng)
    R = stack.R(1)
    L = 0.7 * np.linalg.norm(R.toarray(), 2) ** 2
    for step in (1 / L, 0.5 / L):
        res = ista(R, y, 0.7, step=step, n_iter=60)
        assert len(res.cost) == 61
        assert np.all(np.diff(res.cost) <= 1e-12 * res.cost[0])
    auto = ista(R, y, 0.7, n_iter=5)
    assert auto.step == pytest.approx(1 / L, rel=1e-8) and auto.lipschitz == pytest.approx(L, rel=1e-8)
    np.testing.assert_allclose(auto.cost[-1], lasso_cost(R, y, auto.z, 0.7))


def test_lasso_optimality_conditions_without_refresh(rng):
    stack, y = small_problem(rng)
    lam = 3.0
    res = stack.infer(y, 1, lam=lam, method="fista", n_iter=3000)
    R = stack.R(1)
    z = res.z.reshape(-1)
    g = lam * (stack.Rt(1) @ (R @ z - y.reshape(-1)))  # gradient of the smooth part
    on = z != 0
    assert 0 < on.sum() < z.size
    np.testing.assert_allclose(g[on], -np.sign(z[on]), atol=1e-4)  # ∂|z| = sign(z) where z ≠ 0
    assert np.all(np.abs(g[~on]) <= 1 + 1e-4)  # |∂| <= 1 where z = 0
    ista_res = stack.infer(y, 1, lam=lam, method="ista", n_iter=1000)  # slower, same minimum
    assert res.cost[-1] <= ista_res.cost[-1] + 1e-9 and ista_res.cost[-1] == pytest.approx(res.cost[-1], rel=1e-3)


def test_refresh_keeps_one_entry_per_block_and_returns_switches(rng):
    stack, y = small_problem(rng)
    res = stack.infer(y, 1, lam=5.0, n_iter=40, refresh=True)
    blocks = res.z.reshape(1, 3, 5, 2, 5, 2)  # (maps/3, 3, 5, 2, 5, 2) pooling blocks of 3x2x2
    assert np.all((blocks != 0).sum(axis=(1, 3, 5)) <= 1)
    assert res.switches is not None and res.switches.output_shape == (1, 5, 5)
    np.testing.assert_array_equal(res.switches.unpool(res.switches.pool(res.z)), res.z)


def test_callback_called_and_can_stop(rng):
    stack, y = small_problem(rng)
    seen = []
    res = fista(stack.R(1), y, 1.0, n_iter=50, callback=lambda it, z, c: seen.append((it, c)) or it == 7)
    assert [it for it, _ in seen] == list(range(1, 8)) and res.n_iter == 7 and len(res.cost) == 8


def test_sparse_code_reconstructs_the_scene_to_30_db():
    im = synthetic_scene(48)
    stack = ZeilerStack([ZeilerLayer(filter_bank(7), "valid")], (1, 48, 48))
    res = stack.infer(im[None], 1, lam=20.0, method="fista", n_iter=100)
    rec = (stack.R(1) @ res.z.reshape(-1)).reshape(48, 48)
    assert (res.z != 0).mean() <= 0.15  # sparse: at most 15% of the 8 x 54 x 54 coefficients
    assert psnr(rec, im) >= 30.0


def test_soft_threshold_and_psnr():
    np.testing.assert_array_equal(soft_threshold(np.array([-2.0, 0.5, 3.0]), 1.0), [-1.0, 0.0, 2.0])
    assert psnr(np.ones(3), np.ones(3)) == float("inf")


# --------------------------------------------------------------------------- deconvnet 2014
def torch_deconvnet(x, net, l, keep):
    h = torch.as_tensor(x)[None]
    idxs, sizes = [], []
    for layer in net.layers[:l]:
        h = F.relu(F.conv2d(h, torch.as_tensor(layer.weight), stride=layer.stride, padding=layer.padding))
        sizes.append(h.shape[-2:])
        h, idx = torch.nn.MaxPool2d(layer.pool.kernel_size, return_indices=True)(h)
        idxs.append(idx)
    h = h * torch.as_tensor(keep)[None]
    for i in range(l - 1, -1, -1):
        layer = net.layers[i]
        h = torch.nn.MaxUnpool2d(layer.pool.kernel_size)(h, idxs[i], output_size=sizes[i])
        h = torch.nn.ReLU()(h)
        w = torch.as_tensor(layer.weight)
        deconv = torch.nn.ConvTranspose2d(w.shape[0], w.shape[1], tuple(w.shape[2:]), stride=layer.stride,
                                          padding=layer.padding, bias=False).double()
        with torch.no_grad():
            deconv.weight.copy_(w)
        target = x.shape[-2:] if i == 0 else net.output_shapes[i - 1][1:]
        h = deconv(h, output_size=target)
    return h[0].detach().numpy()


def test_deconvnet_matches_torch_unpool_relu_convtranspose(rng):
    net = DeconvNet([ConvLayer(rng.standard_normal((4, 1, 3, 3)), padding=1, pool=MaxPool(2)),
                     ConvLayer(rng.standard_normal((6, 4, 3, 3)), stride=2, padding=1, pool=MaxPool(2))],
                    (1, 16, 16))
    x = rng.standard_normal((1, 16, 16))
    fp = net.forward(x)
    for l in (1, 2):
        top = fp.outputs[l - 1]
        strongest = np.zeros(top.shape)
        strongest.flat[np.argmax(top)] = 1
        np.testing.assert_allclose(net.project(x, l, forward=fp), torch_deconvnet(x, net, l, strongest), atol=1e-10)
        fmap = np.zeros(top.shape)
        fmap[1] = 1
        np.testing.assert_allclose(net.project(x, l, feature_map=1), torch_deconvnet(x, net, l, fmap), atol=1e-10)
    unit = np.zeros(fp.outputs[1].shape)
    unit[2, 1, 0] = 1
    np.testing.assert_allclose(net.project(x, 2, unit=(2, 1, 0)), torch_deconvnet(x, net, 2, unit), atol=1e-10)
    # the explicit matrices of the down pass: T_1 D_1 U_1 T_2 D_2 U_2 applied to the kept activation
    pixels, factors = net.project(x, 2, feature_map=3, return_factors=True)
    assert len(factors) == 6 and all(sp.issparse(f) for f in factors)
    M = factors[0]
    for f in factors[1:]:
        M = M @ f
    kept = np.zeros(fp.outputs[1].shape)
    kept[3] = fp.outputs[1][3]
    np.testing.assert_allclose(M @ kept.reshape(-1), pixels.reshape(-1), atol=1e-12)


def test_deconvnet_transposed_filters_are_exact_transposes(rng):
    net = DeconvNet([ConvLayer(rng.integers(-3, 4, (3, 2, 3, 3)), stride=2, padding=1, pool=MaxPool(2)),
                     ConvLayer(rng.integers(-3, 4, (2, 3, 2, 2)))], (2, 13, 12))
    for A, T in zip(net.A, net.T):
        assert (T != A.T).nnz == 0


# --------------------------------------------------------------------------- refusals
def test_refusals(rng):
    f = rng.standard_normal((2, 1, 3, 3))
    with pytest.raises(ValueError, match="border='diag'"):
        ZeilerLayer(f, "diag")
    with pytest.raises(ValueError, match="filters must have shape"):
        ZeilerLayer(np.ones((2, 3)))
    with pytest.raises(TypeError, match="filters must hold real"):
        ZeilerLayer(np.ones((1, 1, 2), dtype=complex))
    with pytest.raises(TypeError, match="pool must be a MaxPool"):
        ZeilerLayer(f, pool=2)
    with pytest.raises(ValueError, match="border='full' needs input_size"):
        ZeilerStack([ZeilerLayer(f, "full")], (1, 2, 5))
    with pytest.raises(ValueError, match="C=1 channels but the layer below gives 2"):
        ZeilerStack([ZeilerLayer(f)], (2, 5, 5))
    with pytest.raises(TypeError, match=r"layers\[0\] must be a ZeilerLayer"):
        ZeilerStack([f], (1, 5, 5))
    with pytest.raises(ValueError, match="channel_pool=3"):
        ZeilerStack([ZeilerLayer(f, pool=MaxPool(2, channel_pool=3))], (1, 5, 5))
    stack = int_stack(rng, 2)
    with pytest.raises(ValueError, match="l=3 must be a layer number"):
        stack.R(3)
    with pytest.raises(ValueError, match="switches must give one Switches"):
        stack.R(2, [])
    with pytest.raises(TypeError, match="switches for layer 1"):
        stack.Rt(2, ["s"])
    wrong = max_pool_switches(np.zeros((4, 6, 6)), 2, channel_pool=2)
    with pytest.raises(ValueError, match="switches for layer 1 pool"):
        stack.R(2, [wrong])
    with pytest.raises(ValueError, match=r"maps\[0\] has shape"):
        stack.switches([np.zeros(3)])
    with pytest.raises(ValueError, match="method='admm'"):
        stack.infer(np.zeros((1, 6, 6)), 1, method="admm")
    with pytest.raises(ValueError, match="refresh=True needs a pooling"):
        stack.infer(np.zeros((1, 6, 6)), 2, random_switches(stack, 2, rng), refresh=True)
    with pytest.raises(ValueError, match="y has shape"):
        stack.infer(np.zeros((1, 5, 5)), 1)
    R = stack.R(1)
    with pytest.raises(ValueError, match="lam=0"):
        ista(R, np.zeros(R.shape[0]), 0)
    with pytest.raises(ValueError, match="step=-1"):
        ista(R, np.zeros(R.shape[0]), step=-1)
    with pytest.raises(ValueError, match="n_iter=-1"):
        ista(R, np.zeros(R.shape[0]), n_iter=-1)
    with pytest.raises(ValueError, match="z0 has 3 entries"):
        ista(R, np.zeros(R.shape[0]), z0=np.zeros(3))
    with pytest.raises(ValueError, match="Rt has shape"):
        ista(R, np.zeros(R.shape[0]), Rt=R)
    with pytest.raises(TypeError, match="R must be"):
        ista([[1.0]], [1.0])
    with pytest.raises(TypeError, match="fast"):
        fista(R, np.zeros(R.shape[0]), fast=False)
    with pytest.raises(ValueError, match="method='qr'"):
        operator_norm(R, method="qr")
    with pytest.raises(ValueError, match="n_iter=0"):
        operator_norm(R, n_iter=0)
    with pytest.raises(TypeError, match="n_iter"):
        operator_norm(R, n_iter=1.5)
    bad = sp.csr_array(R, dtype=float, copy=True)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="R must hold finite numbers"):
        ista(bad, np.zeros(bad.shape[0]), n_iter=1)
    with pytest.raises(ValueError, match="size=8"):
        synthetic_scene(8)
    with pytest.raises(ValueError, match="kernel_size=4"):
        filter_bank(4)
    with pytest.raises(ValueError, match="x has shape"):
        psnr(np.zeros(2), np.zeros(3))
    net = DeconvNet([ConvLayer(f, pool=MaxPool(2))], (1, 6, 6))
    with pytest.raises(ValueError, match="l=2 must be a layer number"):
        net.project(np.zeros((1, 6, 6)), 2)
    with pytest.raises(ValueError, match="feature_map=5"):
        net.project(np.zeros((1, 6, 6)), 1, feature_map=5)
    with pytest.raises(ValueError, match="unit="):
        net.project(np.zeros((1, 6, 6)), 1, unit=(0, 9, 0))
    with pytest.raises(ValueError, match="C_in=1 channels but the layer below gives 3"):
        DeconvNet([ConvLayer(f)], (3, 6, 6))


# --------------------------------------------------------------------------- CLI and tour
CLI_ARGS = ["deconvnet", "--input-size", "12,12", "--maps", "4", "6", "--kernel", "3", "--pool", "2x2x2"]


def test_cli_in_process(capsys):
    assert main(CLI_ARGS) == 0
    out = capsys.readouterr().out
    assert "R_2" in out and "exact transpose: True" in out and "False" not in out


def test_cli_border_same():
    proc = run_cli(*CLI_ARGS, "--border", "same")
    assert "R_2^T" in proc.stdout and "exact transpose: True" in proc.stdout


def test_cli_refuses_bad_input(capsys):
    assert main(["deconvnet", "--input-size", "12,12", "--maps", "4", "--kernel", "3", "3"]) == 2
    assert "--kernel" in capsys.readouterr().err
    assert main(["deconvnet", "--input-size", "12,12", "--maps", "3", "4", "--pool", "2x2x2"]) == 2
    assert "channel_pool" in capsys.readouterr().err


def test_tour_section():
    from convmatrix.cli.deconvnet import section_zeiler

    text = section_zeiler()
    assert text.splitlines()[0] and "exact transpose: True" in text


# --------------------------------------------------------------------------- deconvnet: every padding of conv_matrix
def torch_padded_conv(h, w, stride, padding):
    """torch's conv2d with any padding conv_matrix takes: 'same'/'valid'/ints directly, (lo, hi) pairs by F.pad."""
    if isinstance(padding, str) or np.isscalar(padding):
        return F.conv2d(h, w, stride=stride, padding=padding)
    pairs = [(p, p) if np.isscalar(p) else tuple(p) for p in padding]
    flat = [v for lo, hi in reversed(pairs) for v in (lo, hi)]  # F.pad: last axis first
    return F.conv2d(F.pad(h, flat), w, stride=stride)


def torch_deconvnet_any_padding(x, net, l, keep):
    """Up: pad + conv2d + ReLU + max_pool2d; down: max_unpool2d, ReLU and the conv's input gradient
    (= its transposed convolution, asymmetric pads included), all by torch."""
    h = torch.as_tensor(x)[None]
    ins, idxs, sizes = [], [], []
    for layer in net.layers[:l]:
        ins.append(h.shape)
        h = F.relu(torch_padded_conv(h, torch.as_tensor(layer.weight), layer.stride, layer.padding))
        sizes.append(h.shape[-2:])
        h, idx = F.max_pool2d(h, layer.pool.kernel_size, return_indices=True)
        idxs.append(idx)
    h = h * torch.as_tensor(keep)[None]
    for i in range(l - 1, -1, -1):
        layer = net.layers[i]
        h = F.relu(F.max_unpool2d(h, idxs[i], layer.pool.kernel_size, output_size=sizes[i]))
        inp = torch.zeros(ins[i], dtype=torch.float64, requires_grad=True)
        out = torch_padded_conv(inp, torch.as_tensor(layer.weight), layer.stride, layer.padding)
        (h,) = torch.autograd.grad(out, inp, grad_outputs=h)
    return h[0].numpy()


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("padding,stride", [
    (((1, 0), (0, 2)), 1),
    (((2, 1), 1), 2),
    ("same", 1),
    ("valid", 1),
    ((1, 2), 2),
])
def test_deconvnet_takes_every_padding_of_conv_matrix(padding, stride, rng):
    net = DeconvNet([ConvLayer(rng.standard_normal((4, 2, 3, 4)), stride=stride, padding=padding, pool=MaxPool(2)),
                     ConvLayer(rng.standard_normal((3, 4, 2, 3)), padding=padding, pool=MaxPool(2))],
                    (2, 15, 14))
    x = rng.standard_normal((2, 15, 14))
    fp = net.forward(x)
    ref = F.relu(torch_padded_conv(torch.as_tensor(x)[None], torch.as_tensor(net.layers[0].weight), stride, padding))
    np.testing.assert_allclose(fp.rectified[0], ref[0].numpy(), atol=1e-12)
    for l in (1, 2):
        top = fp.outputs[l - 1]
        strongest = np.zeros(top.shape)
        strongest.flat[np.argmax(top)] = 1
        np.testing.assert_allclose(net.project(x, l, forward=fp), torch_deconvnet_any_padding(x, net, l, strongest),
                                   atol=1e-10)
        fmap = np.zeros(top.shape)
        fmap[2] = 1
        np.testing.assert_allclose(net.project(x, l, feature_map=2), torch_deconvnet_any_padding(x, net, l, fmap),
                                   atol=1e-10)
    for A, T in zip(net.A, net.T):
        assert (T != A.T).nnz == 0


def test_deconvnet_padding_is_normalised_by_conv_geometry(rng):
    from convmatrix.geometry import ConvGeometry
    from convmatrix.matrices import conv_matrix

    w = rng.integers(-3, 4, (2, 1, 2, 3))
    net = DeconvNet([ConvLayer(w, padding="same")], (1, 5, 6))
    g = ConvGeometry.from_weight_shape(w.shape, (5, 6), padding="same")
    assert net.geometries[0] == g and g.padding == ((0, 1), (1, 1))
    assert (net.A[0] != conv_matrix(w, (5, 6), padding="same")).nnz == 0
    assert net.output_shapes == [(2, 5, 6)]


# --------------------------------------------------------------------------- refusals of bad input, each naming its parameter
def test_deconvnet_refusals_name_the_parameter(rng):
    w = rng.standard_normal((4, 1, 3, 3))
    for bad, exc in (("abc", TypeError), (5, TypeError), ((1, 8.5, 8), TypeError), ((1, 0, 8), ValueError),
                     ((8,), ValueError)):
        with pytest.raises(exc, match="input_shape"):
            DeconvNet([ConvLayer(w)], bad)
    with pytest.raises(TypeError, match="layers"):
        DeconvNet(5, (1, 8, 8))
    with pytest.raises(ValueError, match="layers must hold"):
        DeconvNet([], (1, 8, 8))
    with pytest.raises(ValueError, match="3 spatial axes"):
        DeconvNet([ConvLayer(w)], (1, 8, 8, 8))
    with pytest.raises(TypeError, match="stride"):
        ConvLayer(w, stride="a")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        ConvLayer(w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='full' is not a padding"):
        ConvLayer(w, padding="full")
    with pytest.raises(ValueError, match="padding=.*non-negative"):
        ConvLayer(w, padding=((0, -1), 1))
    with pytest.raises(ValueError, match="weight shape"):
        ConvLayer(np.ones((0, 1, 3, 3)))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(feature_map=1.5), TypeError, "feature_map"),
    (dict(feature_map="a"), TypeError, "feature_map"),
    (dict(feature_map=True), TypeError, "feature_map"),
    (dict(feature_map=-1), ValueError, "feature_map=-1"),
    (dict(unit=5), TypeError, "unit"),
    (dict(unit="abc"), TypeError, "unit"),
    (dict(unit=(0, 1.5, 1)), TypeError, "unit"),
    (dict(unit=(0, 1)), ValueError, "unit"),
    (dict(feature_map=0, unit=(0, 0, 0)), ValueError, "feature_map or unit"),
    (dict(forward=3), TypeError, "forward"),
    (dict(return_factors="yes"), TypeError, "return_factors"),
])
def test_project_refusals_name_the_parameter(kwargs, exc, match, rng):
    net = DeconvNet([ConvLayer(rng.standard_normal((4, 1, 3, 3)), padding=1, pool=MaxPool(2))], (1, 8, 8))
    with pytest.raises(exc, match=match):
        net.project(rng.standard_normal((1, 8, 8)), 1, **kwargs)


def test_project_refuses_a_forward_pass_of_another_network(rng):
    net = DeconvNet([ConvLayer(rng.standard_normal((4, 1, 3, 3)), padding=1, pool=MaxPool(2))], (1, 8, 8))
    other = DeconvNet([ConvLayer(rng.standard_normal((4, 1, 3, 3)), pool=MaxPool(2))], (1, 8, 8))
    x = rng.standard_normal((1, 8, 8))
    with pytest.raises(ValueError, match="forward has outputs of shapes"):
        net.project(x, 1, forward=other.forward(x))


@pytest.mark.parametrize("call,exc,match", [
    (lambda R, y: ista(R, y, "a"), TypeError, "lam"),
    (lambda R, y: ista(R, y, 1j), TypeError, "lam"),
    (lambda R, y: ista(R, y, np.array([1.0])), TypeError, "lam"),
    (lambda R, y: ista(R, y, True), TypeError, "lam"),
    (lambda R, y: ista(R, y, -1.0), ValueError, "lam=-1"),
    (lambda R, y: ista(R, y, float("nan")), ValueError, "lam=nan"),
    (lambda R, y: ista(R, y, float("inf")), ValueError, "lam=inf"),
    (lambda R, y: fista(R, y, "a"), TypeError, "lam"),
    (lambda R, y: ista(R, y, step="a"), TypeError, "step"),
    (lambda R, y: ista(R, y, step=0), ValueError, "step=0"),
    (lambda R, y: ista(R, y, step=float("inf")), ValueError, "step=inf"),
    (lambda R, y: ista(R, y, n_iter=1.5), TypeError, "n_iter"),
    (lambda R, y: ista(R, y, n_iter=-3), ValueError, "n_iter=-3"),
    (lambda R, y: ista(R, y[:-1]), ValueError, "y has 3 entries"),
    (lambda R, y: ista(R, "abcd"), TypeError, "y must hold real"),
    (lambda R, y: ista(R, np.where(y > 0, np.nan, y)), ValueError, "y must hold finite"),
    (lambda R, y: ista(R.toarray()[None], y), TypeError, "R must be a 2-d"),
    (lambda R, y: ista(R.astype(complex), y), TypeError, "R must hold real"),
    (lambda R, y: ista(R, y, Rt=R.T.toarray().tolist()), TypeError, "Rt must be a 2-d"),
    (lambda R, y: ista(R, y, z0=np.full(R.shape[1], np.inf)), ValueError, "z0 must hold finite"),
    (lambda R, y: ista(R, y, refresh=5), TypeError, "refresh"),
    (lambda R, y: ista(R, y, refresh=lambda z: z[:-1], n_iter=2), ValueError, "refresh returned"),
    (lambda R, y: ista(R, y, callback="print"), TypeError, "callback"),
    (lambda R, y: ista(R, y, fast="yes"), TypeError, "fast"),
    (lambda R, y: ista(sp.csr_array(R.shape), y), ValueError, "R has no nonzero entry.*step="),
    (lambda R, y: operator_norm("R"), TypeError, "R must be a 2-d"),
    (lambda R, y: operator_norm(R, np.ones((3, 3))), ValueError, "Rt has shape"),
    (lambda R, y: operator_norm(R, tol="a"), TypeError, "tol"),
    (lambda R, y: operator_norm(R, tol=-1), ValueError, "tol=-1"),
    (lambda R, y: operator_norm(R, seed="a"), TypeError, "seed"),
    (lambda R, y: operator_norm(R, seed=-1), ValueError, "seed=-1"),
    (lambda R, y: soft_threshold("a", 1.0), TypeError, "z must hold real"),
    (lambda R, y: soft_threshold(y, "a"), TypeError, "beta"),
    (lambda R, y: soft_threshold(y, -1.0), ValueError, "beta=-1"),
    (lambda R, y: lasso_cost(R, y[:-1], np.zeros(R.shape[1]), 1.0), ValueError, "y has 3 entries"),
    (lambda R, y: lasso_cost(R, y, np.zeros(2), 1.0), ValueError, "z has 2 entries"),
    (lambda R, y: lasso_cost(R, y, np.zeros(R.shape[1]), "a"), TypeError, "lam"),
    (lambda R, y: lasso_cost(R, y, np.zeros(R.shape[1]), -2.0), ValueError, "lam=-2"),
    (lambda R, y: lasso_cost(R.toarray().tolist(), y, np.zeros(R.shape[1]), 1.0), TypeError, "R must be"),
    (lambda R, y: psnr(y, y, "a"), TypeError, "peak"),
    (lambda R, y: psnr(y, y, 0), ValueError, "peak=0"),
    (lambda R, y: psnr("ab", "cd"), TypeError, "x must hold real"),
    (lambda R, y: synthetic_scene("a"), TypeError, "size"),
    (lambda R, y: synthetic_scene(16.0), TypeError, "size"),
    (lambda R, y: filter_bank(1.5), TypeError, "kernel_size"),
    (lambda R, y: filter_bank(1), ValueError, "kernel_size=1"),
])
def test_inference_refusals_name_the_parameter(call, exc, match):
    R = sp.csr_array(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 1.0], [0.0, 0.0, 2.0]]))
    y = np.array([1.0, -2.0, 0.5, 3.0])
    with pytest.raises(exc, match=match):
        call(R, y)


def test_n_iter_zero_returns_the_start_and_a_zero_matrix_has_norm_zero():
    R = np.array([[1.0, 2.0], [0.0, 1.0]])
    res = ista(R, [1.0, 1.0], n_iter=0, z0=[0.5, -1.0])
    assert res.n_iter == 0 and res.z.tolist() == [0.5, -1.0]
    np.testing.assert_allclose(res.cost, [lasso_cost(R, [1.0, 1.0], [0.5, -1.0], 1.0)])
    assert fista(R, [1.0, 1.0], n_iter=0).z.tolist() == [0.0, 0.0]
    for method in ("power", "svds"):
        assert operator_norm(sp.csr_array((3, 4)), method=method) == 0.0
    # a zero R is fine with an explicit step: the cost is |z|_1, shrunk to zero
    assert ista(np.zeros((2, 2)), [1.0, 1.0], step=0.5, z0=[1.0, -1.0], n_iter=3).z.tolist() == [0.0, 0.0]


def test_stack_refusals_name_the_parameter(rng):
    f = rng.standard_normal((2, 1, 3, 3))
    with pytest.raises(TypeError, match="layers must be a sequence"):
        ZeilerStack(5, (1, 8, 8))
    for bad in ("ab", 5, (1, 8.5, 8), {1, 8}, {1: 8}, np.array(5)):
        with pytest.raises(TypeError, match="input_shape"):
            ZeilerStack([ZeilerLayer(f)], bad)
    with pytest.raises(TypeError, match="input_shape"):
        DeconvNet([ConvLayer(np.ones((2, 8, 3)))], {3, 8})
    layer = ZeilerLayer(f)
    assert layer.map_size(6) == layer.map_size((6, 6)) == (8, 8)
    with pytest.raises(TypeError, match="input_size"):
        layer.map_size("ab")
    with pytest.raises(ValueError, match="map_size=.0, 3."):
        layer.F((0, 3))
    with pytest.raises(TypeError, match="input_size"):
        layer.Ft(6.5)
    stack = int_stack(rng, 2)
    sw = random_switches(stack, 2, rng)
    y = rng.standard_normal(stack.input_shape)
    with pytest.raises(TypeError, match="maps must be a sequence"):
        stack.switches(5)
    with pytest.raises(TypeError, match="switches must be a sequence"):
        stack.R(2, 5)
    with pytest.raises(TypeError, match="lam"):
        stack.infer(y, 2, sw, lam="a")
    with pytest.raises(ValueError, match="n_iter=-1"):
        stack.infer(y, 2, sw, n_iter=-1)
    with pytest.raises(TypeError, match="refresh=.* must be True or False"):
        stack.infer(y, 1, refresh="yes")
    with pytest.raises(ValueError, match="z0 has shape"):
        stack.infer(y, 2, sw, z0=np.zeros(3))
    with pytest.raises(ValueError, match="y must hold finite"):
        stack.infer(np.full(stack.input_shape, np.nan), 1)
    with pytest.raises(TypeError, match="callback"):
        stack.infer(y, 1, callback=3)


def test_infer_checks_everything_before_building_R(rng, monkeypatch):
    stack = int_stack(rng, 2)
    sw = random_switches(stack, 2, rng)
    built = []
    monkeypatch.setattr(ZeilerStack, "R", lambda self, *a: built.append(a))
    for kwargs in (dict(lam=-1.0), dict(step="a"), dict(n_iter=2.5), dict(z0=np.zeros(2)), dict(callback=1)):
        with pytest.raises((TypeError, ValueError)):
            stack.infer(rng.standard_normal(stack.input_shape), 2, sw, **kwargs)
    with pytest.raises(TypeError, match="switches for layer 1"):
        stack.infer(rng.standard_normal(stack.input_shape), 2, ["s"])
    assert built == []
