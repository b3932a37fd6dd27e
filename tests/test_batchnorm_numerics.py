"""Batch norm numerics against torch: BatchNorm{1,2,3}d, running statistics, backward; the
Jacobian; eval mode as a diagonal affine matrix; conv + BN folding; the NumPy reference pair."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipy.sparse as sp
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm

TORCH_BN = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}


def _pair(c, ndim, rng, **kw):
    tb = TORCH_BN[ndim](c, **kw).double()
    bn = cm.BatchNorm(c, **kw)
    if tb.affine:
        with torch.no_grad():
            tb.weight.copy_(torch.tensor(rng.standard_normal(c)))
            tb.bias.copy_(torch.tensor(rng.standard_normal(c)))
        bn.weight, bn.bias = tb.weight.detach().numpy().copy(), tb.bias.detach().numpy().copy()
    return tb, bn


def _compare(tb, bn, x, dy):
    xt = torch.tensor(x, requires_grad=True)
    yt = tb(xt)
    yt.backward(torch.tensor(dy))
    y = bn.forward(x)
    dx, dw, db = bn.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-9)
    if tb.affine:
        np.testing.assert_allclose(dw, tb.weight.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(db, tb.bias.grad.numpy(), atol=1e-9)
        tb.weight.grad = tb.bias.grad = None
    else:
        assert dw is None and db is None
    if tb.track_running_stats:
        np.testing.assert_allclose(bn.running_mean, tb.running_mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(bn.running_var, tb.running_var.numpy(), atol=1e-12)
        assert bn.num_batches_tracked == int(tb.num_batches_tracked)
    else:
        assert bn.running_mean is None and tb.running_mean is None


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_torch_modules(shape, momentum, track, affine):
    rng = np.random.default_rng(zlib.crc32(repr((shape, momentum, track, affine)).encode()))  # the same every run
    tb, bn = _pair(3, len(shape), rng, momentum=momentum, track_running_stats=track, affine=affine, eps=1e-3)
    for step in range(3):
        for training in (True, False):
            tb.train(training)
            bn.train(training)
            x = rng.standard_normal(shape) * 2 + step
            _compare(tb, bn, x, rng.standard_normal(shape))


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 4), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=3),
       eps=st.sampled_from([1e-5, 1e-2, 1.0]), seed=st.integers(0, 2**16))
def test_functional_matches_torch_autograd(n, c, spatial, eps, seed):
    shape = (n, c, *spatial)
    if n * int(np.prod(spatial)) < 2:
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            cm.batchnorm_forward(np.zeros(shape), eps=eps)
        return
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.batch_norm(xt, None, None, wt, bt, training=True, eps=eps)
    yt.backward(torch.tensor(dy))
    y, cache = cm.batchnorm_forward(x, w, b, eps=eps)
    dx, dw, db = cm.batchnorm_backward(dy, cache)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-9)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-9)


def test_running_variance_is_unbiased_and_normalization_biased():
    x = np.array([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0]])
    bn = cm.BatchNorm(2, momentum=1.0)
    y = bn.forward(x)
    np.testing.assert_allclose(bn.running_var, x.var(axis=0, ddof=1))
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    tb = torch.nn.BatchNorm1d(2, momentum=1.0).double()
    tb(torch.tensor(x))
    np.testing.assert_allclose(bn.running_var, tb.running_var.numpy())


def test_momentum_none_is_cumulative_average():
    rng = np.random.default_rng(1)
    bn = cm.BatchNorm(2, momentum=None)
    batches = [rng.standard_normal((5, 2)) for _ in range(4)]
    for b in batches:
        bn.forward(b)
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], axis=0))
    np.testing.assert_allclose(bn.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0))


def test_one_value_per_channel():
    x = np.array([[2.0, -1.0, 0.5]])
    tb = torch.nn.BatchNorm1d(3).double()
    bn = cm.BatchNorm(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        tb(torch.tensor(x))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn.forward(x)
    # refused before any update; torch 2.13 has already counted the batch (a quirk not reproduced)
    assert bn.num_batches_tracked == 0 and int(tb.num_batches_tracked) == 1
    assert tb.running_mean.abs().sum() == 0
    tb.num_batches_tracked.zero_()
    tb.eval()
    bn.eval()
    _compare(tb, bn, x, np.array([[1.0, 2.0, 3.0]]))  # eval mode with running statistics: fine
    tb = torch.nn.BatchNorm1d(3, track_running_stats=False).double().eval()
    with pytest.raises(ValueError, match="more than 1 value"):
        tb(torch.tensor(x))
    with pytest.raises(ValueError, match="more than 1 value"):
        cm.BatchNorm(3, track_running_stats=False).eval().forward(x)
    # one sample with spatial extent is fine: m = H * W
    tb, bn = _pair(3, 4, np.random.default_rng(0))
    _compare(tb, bn, np.random.default_rng(1).standard_normal((1, 3, 2, 2)), np.ones((1, 3, 2, 2)))


# --------------------------------------------------------------------------- Jacobian
@pytest.mark.parametrize("m", [1, 2, 5, 9])
@pytest.mark.parametrize("eps", [0.0, 1e-5, 0.5])
def test_numeric_jacobian_against_torch(m, eps):
    rng = np.random.default_rng(m)
    x = rng.standard_normal(m) * 3
    if m == 1 and eps == 0:
        with pytest.raises(ValueError, match="eps"):
            cm.batchnorm_jacobian(x, eps=eps)
        return
    J = cm.batchnorm_jacobian(x, eps=eps)

    def xhat(t):
        return (t - t.mean()) / torch.sqrt(t.var(unbiased=False) + eps)

    Jt = torch.autograd.functional.jacobian(xhat, torch.tensor(x)).numpy()
    np.testing.assert_allclose(J, Jt, atol=1e-9)
    np.testing.assert_allclose(J, J.T, atol=1e-12)                      # symmetric
    np.testing.assert_allclose(J @ np.ones(m), 0, atol=1e-9)            # J 1 = 0
    sig = np.sqrt(x.var() + eps)
    xh = (x - x.mean()) / sig
    np.testing.assert_allclose(J @ xh, eps / sig**3 * xh, atol=1e-9)    # the ε-dependent action on x̂
    if m == 1:
        assert J.tolist() == [[0.0]]


def test_jacobian_gives_the_backward_pass():
    rng = np.random.default_rng(3)
    x, dy, gamma = rng.standard_normal(6), rng.standard_normal(6), 1.7
    _, cache = cm.batchnorm_forward(x.reshape(6, 1), [gamma], [0.0])
    dx = cm.batchnorm_backward(dy.reshape(6, 1), cache)[0].ravel()
    np.testing.assert_allclose(gamma * cm.batchnorm_jacobian(x) @ dy, dx, atol=1e-12)


@pytest.mark.parametrize("m", [2, 3, 4])
def test_symbolic_jacobian_is_the_derivative(m):
    J = cm.batchnorm_jacobian(m)
    assert J.shape == (m, m) and J == J.T
    xs = sympy.symbols(f"x1:{m + 1}", real=True)
    centred = {sympy.Symbol(f"xhat_{a + 1}"): xs[a] - sum(xs) / m for a in range(m)}  # Σ x̂ = 0
    assert all(sympy.cancel(v.xreplace(centred)) == 0 for v in J * sympy.ones(m, 1))
    eps = sympy.Symbol("epsilon", positive=True)
    mu = sum(xs) / m
    V = sum((a - mu) ** 2 for a in xs) / m + eps
    xhat = sympy.Matrix([(a - mu) / sympy.sqrt(V) for a in xs])
    true = xhat.jacobian(xs)
    sig = sympy.Symbol("sigma_epsilon", positive=True)
    sub = {sympy.Symbol(f"xhat_{a + 1}"): (xs[a] - mu) / sig for a in range(m)}
    t = sympy.Symbol("t", positive=True)
    for r in range(m):
        for c in range(m):
            # write σ_ε = sqrt(V) as the atom 1/t on both sides, then cancel
            lhs = true[r, c].replace(lambda e: e.is_Pow and e.base == V, lambda e: t ** (-2 * e.exp))
            rhs = J[r, c].xreplace(sub).xreplace({sig: 1 / t})
            assert sympy.cancel(sympy.together(sympy.expand(lhs - rhs))) == 0


def test_jacobian_refusals():
    with pytest.raises(ValueError, match="x=0"):
        cm.batchnorm_jacobian(0)
    with pytest.raises(TypeError, match="x must be"):
        cm.batchnorm_jacobian(np.ones((2, 2)))
    with pytest.raises(TypeError, match="x must be"):
        cm.batchnorm_jacobian(["a", "b"])
    with pytest.raises(ValueError, match="eps=-1"):
        cm.batchnorm_jacobian([1.0, 2.0], eps=-1.0)
    with pytest.raises(ValueError, match="eps=0.0"):
        cm.batchnorm_jacobian([1.0, 1.0], eps=0.0)
    with pytest.raises(ValueError, match="at least one"):
        cm.batchnorm_jacobian(np.array([]))


# --------------------------------------------------------------------------- eval mode as a matrix
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (2, 3, 4, 3), (1, 3, 2, 2, 2)])
def test_eval_mode_is_a_diagonal_affine_matrix(shape):
    rng = np.random.default_rng(len(shape))
    tb, _ = _pair(4, len(shape), rng, eps=1e-3)
    tb.train()
    tb(torch.tensor(rng.standard_normal((5, 4) + shape[2:]) * 2 + 1))  # give it running stats
    tb.eval()
    x = rng.standard_normal((shape[0], 4) + shape[2:])
    y = tb(torch.tensor(x)).detach().numpy()
    D, b = cm.batchnorm_eval_matrix(tb.running_mean.numpy(), tb.running_var.numpy(), tb.weight.detach().numpy(),
                                    tb.bias.detach().numpy(), spatial_size=shape[2:], eps=1e-3)
    assert sp.issparse(D) and D.format == "csr" and (D - sp.diags_array(D.diagonal())).nnz == 0
    for k in range(shape[0]):
        np.testing.assert_allclose(D @ x[k].reshape(-1) + b, y[k].reshape(-1), atol=1e-12)
    Dd, _ = cm.batchnorm_eval_matrix([0.0], [1.0], format="dense")
    assert isinstance(Dd, np.ndarray) and Dd.shape == (1, 1)


def test_eval_matrix_refusals():
    with pytest.raises(ValueError, match="format"):
        cm.batchnorm_eval_matrix([0.0], [1.0], format="csx")
    with pytest.raises(ValueError, match="spatial_size"):
        cm.batchnorm_eval_matrix([0.0], [1.0], spatial_size=(2, 0))
    with pytest.raises(ValueError, match="running_var"):
        cm.batchnorm_eval_matrix([0.0], [-1.0])
    with pytest.raises(ValueError, match="running_var"):
        cm.batchnorm_eval_matrix([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="weight"):
        cm.batchnorm_eval_matrix([0.0], [1.0], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="eps"):
        cm.batchnorm_eval_matrix([0.0], [1.0], eps=-1e-5)
    with pytest.raises(TypeError, match="spatial_size"):
        cm.batchnorm_eval_matrix([0.0], [1.0], spatial_size=2.5)
    # sizes are read as geometry reads them: 0-d arrays, tensors, tuples; () for no spatial axes
    for size, n in ((np.array(3), 3), (torch.tensor([3, 2]), 6), ((), 1), ([2, 2], 4)):
        D, _ = cm.batchnorm_eval_matrix([0.0, 0.0], [1.0, 1.0], spatial_size=size)
        assert D.shape == (2 * n, 2 * n)


# --------------------------------------------------------------------------- folding
@pytest.mark.parametrize("ndim,kw", [
    (1, dict(stride=2, padding=1)),
    (2, dict(stride=1, padding=1, groups=2)),
    (2, dict(stride=2, padding=0, dilation=2)),
    (3, dict(stride=1, padding=1)),
])
def test_fold_conv_batchnorm_as_matrices(ndim, kw):
    rng = np.random.default_rng(ndim)
    cin, cout, n = 4, 6, (7, 6, 5)[:ndim]
    groups = kw.get("groups", 1)
    w = rng.standard_normal((cout, cin // groups) + (3,) * ndim)
    bias = rng.standard_normal(cout)
    rm, rv = rng.standard_normal(cout), rng.random(cout) + 0.5
    g, beta = rng.standard_normal(cout), rng.standard_normal(cout)
    wf, bf = cm.fold_conv_batchnorm(w, bias, rm, rv, g, beta, eps=1e-3)
    A = cm.conv_matrix(w, n, **kw)
    out = cm.conv_output_size(n, (3,) * ndim, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1))
    D, b = cm.batchnorm_eval_matrix(rm, rv, g, beta, spatial_size=out, eps=1e-3)
    Af = cm.conv_matrix(wf, n, **kw)
    assert abs(D @ A - Af).max() < 1e-12 and (abs(D @ A) > 0).nnz == Af.nnz
    np.testing.assert_allclose(D @ cm.conv_bias_vector(bias, out) + b, cm.conv_bias_vector(bf, out), atol=1e-12)
    # and against torch: eval-mode BN after the conv == the folded conv
    conv = getattr(F, f"conv{ndim}d")
    bn = TORCH_BN[ndim + 2](cout, eps=1e-3).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor(rm))
        bn.running_var.copy_(torch.tensor(rv))
        bn.weight.copy_(torch.tensor(g))
        bn.bias.copy_(torch.tensor(beta))
    x = torch.tensor(rng.standard_normal((2, cin) + n))
    ref = bn(conv(x, torch.tensor(w), torch.tensor(bias), **kw)).detach().numpy()
    np.testing.assert_allclose(conv(x, torch.tensor(wf), torch.tensor(bf), **kw).numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(Af @ x[0].numpy().reshape(-1) + cm.conv_bias_vector(bf, out),
                               ref[0].reshape(-1), atol=1e-10)


def test_fold_refusals():
    w = np.ones((2, 1, 3))
    with pytest.raises(ValueError, match="weight"):
        cm.fold_conv_batchnorm(np.ones((2, 3)), None, [0, 0], [1, 1])
    with pytest.raises(ValueError, match="running_mean"):
        cm.fold_conv_batchnorm(w, None, [0, 0, 0], [1, 1])
    with pytest.raises(ValueError, match="bias"):
        cm.fold_conv_batchnorm(w, [1.0], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="running_var"):
        cm.fold_conv_batchnorm(w, None, [0, 0], [-1, 1])
    with pytest.raises(TypeError, match="weight"):
        cm.fold_conv_batchnorm(np.array([["a"]]), None, [0], [1])


# --------------------------------------------------------------------------- the reference pair
@pytest.mark.parametrize("n,dim", [(2, 1), (3, 4), (8, 3)])
def test_reference_pair_matches_ours_torch_and_sympy(n, dim):
    rng = np.random.default_rng(n * 10 + dim)
    X, dout = rng.standard_normal((n, dim)) * 2, rng.standard_normal((n, dim))
    gamma, beta = rng.standard_normal(dim), rng.standard_normal(dim)
    eps = 1e-5
    out, cache, mu, var = cm.testing.reference_batchnorm_forward(X, gamma, beta, eps=eps)
    dX, dgamma, dbeta = cm.testing.reference_batchnorm_backward(dout, cache)
    y, c2 = cm.batchnorm_forward(X, gamma, beta, eps=eps)
    ours = cm.batchnorm_backward(dout, c2)
    np.testing.assert_allclose(out, y, atol=1e-12)
    for a, b in zip((dX, dgamma, dbeta), ours):
        np.testing.assert_allclose(a, b, atol=1e-10)
    Xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (X, gamma, beta))
    yt = F.batch_norm(Xt, None, None, gt, bt, training=True, eps=eps)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=1e-10)
    for a, b in zip((dX, dgamma, dbeta), (Xt.grad, gt.grad, bt.grad)):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-9)
    if n <= 3:  # the SymPy closed form, evaluated
        d = cm.batchnorm_derivation(n)
        for col in range(dim):
            sub = {d.symbols["gamma"]: gamma[col], d.symbols["eps"]: eps}
            sub |= dict(zip(d.symbols["x"], X[:, col])) | dict(zip(d.symbols["dout"], dout[:, col]))
            sub = {k: sympy.Float(v, 30) for k, v in sub.items()}
            got = [float(e.xreplace(sub).evalf(30)) for e in d.gradients["x"]]
            np.testing.assert_allclose(got, dX[:, col], atol=1e-9)
            assert np.isclose(float(d.gradients["gamma"].xreplace(sub).evalf(30)), dgamma[col])


def test_reference_pair_dmu_second_term_is_zero():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3))
    X_mu = X - X.mean(axis=0)
    np.testing.assert_allclose(np.mean(-2.0 * X_mu, axis=0), 0, atol=1e-14)


# --------------------------------------------------------------------------- refusals
def test_numeric_refusals():
    with pytest.raises(ValueError, match="x must have shape"):
        cm.batchnorm_forward(np.ones(4))
    with pytest.raises(TypeError, match="x must be real"):
        cm.batchnorm_forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="weight"):
        cm.batchnorm_forward(np.ones((2, 3)), weight=np.ones(2))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        cm.batchnorm_forward(np.ones((2, 3)), running_mean=np.zeros(3), training=False)
    with pytest.raises(ValueError, match="eps=-1"):
        cm.batchnorm_forward(np.ones((2, 3)), eps=-1.0)
    with pytest.raises(ValueError, match="empty"):
        cm.batchnorm_forward(np.ones((0, 3)))
    _, cache = cm.batchnorm_forward(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="dout"):
        cm.batchnorm_backward(np.ones((3, 2)), cache)
    with pytest.raises(ValueError, match="num_features=0"):
        cm.BatchNorm(0)
    with pytest.raises(TypeError, match="num_features"):
        cm.BatchNorm(2.0)
    with pytest.raises(ValueError, match="momentum=2"):
        cm.BatchNorm(2, momentum=2.0)
    with pytest.raises(TypeError, match="momentum"):
        cm.BatchNorm(2, momentum="fast")
    with pytest.raises(ValueError, match="eps"):
        cm.BatchNorm(2, eps=-1e-5)
    with pytest.raises(ValueError, match="num_features=2"):
        cm.BatchNorm(2).forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match="forward"):
        cm.BatchNorm(2).backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="X must have shape"):
        cm.testing.reference_batchnorm_forward(np.ones(3), [1.0], [0.0])
    out, cache, _, _ = cm.testing.reference_batchnorm_forward(np.ones((3, 1)) * [[1], [2], [3]], [1.0], [0.0])
    with pytest.raises(ValueError, match="dout"):
        cm.testing.reference_batchnorm_backward(np.ones((2, 1)), cache)


# --------------------------------------------------------------------------- refusals name the parameter
def test_torch_tensors_that_require_grad_are_read_by_value():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    P = torch.nn.Parameter
    y, cache = cm.batchnorm_forward(torch.tensor(x, requires_grad=True), P(torch.tensor(w)), P(torch.tensor(b)))
    y0, cache0 = cm.batchnorm_forward(x, w, b)
    np.testing.assert_array_equal(y, y0)
    dy = rng.standard_normal((5, 3))
    for a, b_ in zip(cm.batchnorm_backward(torch.tensor(dy, requires_grad=True), cache),
                     cm.batchnorm_backward(dy, cache0)):
        np.testing.assert_array_equal(a, b_)
    bn = cm.BatchNorm(3)
    bn.weight, bn.bias = P(torch.tensor(w)), P(torch.tensor(b))  # copied from torch without .detach()
    np.testing.assert_array_equal(bn(x), y0)
    tb = torch.nn.BatchNorm1d(3, eps=1e-3).double()
    D, _ = cm.batchnorm_eval_matrix(tb.running_mean, tb.running_var, tb.weight, tb.bias, eps=1e-3)
    np.testing.assert_allclose(D.diagonal(), 1 / np.sqrt(1 + 1e-3))
    wf, _ = cm.fold_conv_batchnorm(P(torch.ones(3, 1, 2, dtype=torch.float64)), P(torch.zeros(3)), tb.running_mean,
                                   tb.running_var, tb.weight, tb.bias)
    assert wf.shape == (3, 1, 2)
    out, _, _, _ = cm.testing.reference_batchnorm_forward(x, P(torch.tensor(w)), P(torch.tensor(b)), eps=1e-5)
    np.testing.assert_allclose(out, y0)
    J = cm.batchnorm_jacobian(P(torch.tensor([1.0, 2.0, 4.0])))
    np.testing.assert_allclose(J, cm.batchnorm_jacobian([1.0, 2.0, 4.0]))


def test_channel_shapes_are_named_with_their_numbers():
    with pytest.raises(ValueError, match=r"running_mean must have shape \(C,\), one value per channel: got shape \(3, 1\)"):
        cm.batchnorm_eval_matrix(np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\), one value per channel: got 2 values"):
        cm.batchnorm_eval_matrix(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="running_mean must hold at least one value"):
        cm.batchnorm_eval_matrix(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*shape \(3, 1\)"):
        cm.batchnorm_forward(np.ones((4, 3)), np.ones((3, 1)))


@pytest.mark.parametrize("call", [
    lambda rv: cm.batchnorm_forward(np.ones((4, 2)), running_mean=[0.0, 0.0], running_var=rv, training=False),
    lambda rv: cm.batchnorm_forward(np.arange(8.0).reshape(4, 2), running_mean=[0.0, 0.0], running_var=rv),
    lambda rv: cm.batchnorm_eval_matrix([0.0, 0.0], rv),
    lambda rv: cm.fold_conv_batchnorm(np.ones((2, 1, 3)), None, [0.0, 0.0], rv),
])
def test_negative_running_var_is_refused_by_name(call):
    with pytest.raises(ValueError, match=r"running_var must be non-negative \(it is a variance\): running_var\[1\]=-0.5"):
        call([1.0, -0.5])


def test_running_var_plus_eps_must_be_positive():
    with pytest.raises(ValueError, match=r"running_var \+ eps must be positive: running_var\[0\]=0.0 with eps=0.0"):
        cm.batchnorm_forward(np.ones((2, 1)), running_mean=[0.0], running_var=[0.0], training=False, eps=0.0)
    cm.batchnorm_forward(np.ones((2, 1)), running_mean=[0.0], running_var=[0.0], training=False, eps=1e-5)
    bn = cm.BatchNorm(1).eval()
    bn.running_var = np.array([-1.0])
    with pytest.raises(ValueError, match=r"running_var\[0\]=-1.0"):
        bn(np.ones((2, 1)))


def test_reference_pair_refusals():
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match=r"gamma must have shape \(2,\), one value per channel: got 3 values"):
        cm.testing.reference_batchnorm_forward(X, np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"beta must have shape \(2,\).*shape \(3, 2\)"):
        cm.testing.reference_batchnorm_forward(X, np.ones(2), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="gamma must be real numbers"):
        cm.testing.reference_batchnorm_forward(X, "ab", np.zeros(2))
    with pytest.raises(TypeError, match="X must be an array of real numbers"):
        cm.testing.reference_batchnorm_forward([[1.0], [1.0, 2.0]], [1.0], [0.0])
    with pytest.raises(TypeError, match="X must be real numbers"):
        cm.testing.reference_batchnorm_forward([["a"]], [1.0], [0.0])
    with pytest.raises(ValueError, match="X must not be empty"):
        cm.testing.reference_batchnorm_forward(np.ones((0, 2)), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="eps=0 with a constant column \\(column 1"):
        cm.testing.reference_batchnorm_forward(np.array([[1.0, 2.0], [3.0, 2.0]]), np.ones(2), np.zeros(2), eps=0.0)
    _, cache, _, _ = cm.testing.reference_batchnorm_forward(X, np.ones(2), np.zeros(2))
    with pytest.raises(TypeError, match="dout must be real numbers"):
        cm.testing.reference_batchnorm_backward(np.full((3, 2), "a"), cache)
    for bad in (None, (1, 2), cache[:6]):
        with pytest.raises(TypeError, match="cache must be the 7-tuple returned by reference_batchnorm_forward"):
            cm.testing.reference_batchnorm_backward(np.ones((3, 2)), bad)


def test_functional_refusals():
    x = np.arange(8.0).reshape(4, 2)
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        cm.batchnorm_forward([[1.0, 2.0], [1.0]])
    with pytest.raises(TypeError, match="weight must be an array of real numbers"):
        cm.batchnorm_forward(x, [[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="training='no' must be True or False"):
        cm.batchnorm_forward(x, training="no")
    _, cache = cm.batchnorm_forward(x)
    with pytest.raises(TypeError, match="dout must be real numbers"):
        cm.batchnorm_backward(np.full((4, 2), "a"), cache)
    with pytest.raises(TypeError, match="cache must be the dict returned by batchnorm_forward: got NoneType"):
        cm.batchnorm_backward(x, None)
    with pytest.raises(ValueError, match="cache must be the dict returned by batchnorm_forward: it lacks xhat"):
        cm.batchnorm_backward(x, {})
    with pytest.raises(TypeError, match="x must be an int m or a 1-d array"):
        cm.batchnorm_jacobian([[1.0], [1.0, 2.0]])


def test_module_refusals():
    with pytest.raises(ValueError, match=r"momentum=-0.1 must be a number in \[0, 1\]"):
        cm.BatchNorm(2, momentum=-0.1)
    with pytest.raises(ValueError, match=r"momentum=nan must be a number in \[0, 1\]"):
        cm.BatchNorm(2, momentum=float("nan"))
    with pytest.raises(TypeError, match="momentum=True"):
        cm.BatchNorm(2, momentum=True)
    with pytest.raises(ValueError, match="eps=-1e-05 must be a finite non-negative number"):
        cm.BatchNorm(2, eps=-1e-5)
    with pytest.raises(TypeError, match="affine='False' must be True or False"):
        cm.BatchNorm(2, affine="False")
    with pytest.raises(TypeError, match="track_running_stats=None"):
        cm.BatchNorm(2, track_running_stats=None)
    with pytest.raises(TypeError, match="mode='eval'"):
        cm.BatchNorm(2).train("eval")
    assert cm.BatchNorm(2, momentum=0, affine=np.bool_(False)).momentum == 0.0


def test_eval_matrix_and_fold_refusals():
    for bad in (2.0, None, "ab", (2, 1.5)):
        with pytest.raises(TypeError, match="spatial_size"):
            cm.batchnorm_eval_matrix([0.0], [1.0], spatial_size=bad)
    D, b = cm.batchnorm_eval_matrix([0.0], [1.0], spatial_size=np.array([2, 3]), eps=0.0)
    assert D.shape == (6, 6) and b.shape == (6,)
    with pytest.raises(cm.MatrixTooLargeError, match="max_bytes"):
        cm.batchnorm_eval_matrix(np.zeros(64), np.ones(64), spatial_size=(224, 224), format="dense")
    with pytest.raises(cm.MatrixTooLargeError, match="max_bytes=1,000"):
        cm.batchnorm_eval_matrix([0.0], [1.0], spatial_size=16, format="dense", max_bytes=1000)
    with pytest.raises(ValueError, match="weight must not be empty"):
        cm.fold_conv_batchnorm(np.ones((0, 1, 3)), None, [], [])
    with pytest.raises(TypeError, match="weight must be an array of real numbers"):
        cm.fold_conv_batchnorm([[[1.0]], [[1.0, 2.0]]], None, [0.0, 0.0], [1.0, 1.0])


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia", "dok", "lil", "dense"])
def test_eval_matrix_formats_are_those_of_conv_matrix(fmt):
    D, _ = cm.batchnorm_eval_matrix([1.0, 2.0], [4.0, 1.0], spatial_size=2, eps=0.0, format=fmt)
    A = cm.conv_matrix(np.ones((1, 1, 1)), 2, format=fmt)
    assert type(D) is type(A)
    assert np.allclose(D.toarray() if sp.issparse(D) else D, np.diag([0.5, 0.5, 1.0, 1.0]))
    with pytest.raises(ValueError, match="format='csx'") as ours:
        cm.batchnorm_eval_matrix([0.0], [1.0], format="csx")
    with pytest.raises(ValueError) as theirs:
        cm.conv_matrix(np.ones((1, 1, 1)), 2, format="csx")
    assert str(ours.value) == str(theirs.value)
