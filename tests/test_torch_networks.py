"""Whole networks: the exact local linear map at x equals ``torch.func.jacrev``; custom forwards through
torch.fx; :class:`AffineMap` itself; :func:`convmatrix.testing.assert_matches`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

import convmatrix as cm
from convmatrix import torch_bridge
from convmatrix.affine import AffineMap, compose, stack
from convmatrix.testing import assert_matches, dcgan_generator, randomize_batchnorm, unet_like, vgg_block

NETWORKS = {
    "vgg": (lambda: vgg_block(3, 8), (3, 16, 16)),
    "dcgan": (lambda: dcgan_generator(8, 4, 1, image_size=16), (8, 1, 1)),  # jacrev is slow on larger ones
    "unet": (lambda: unet_like(3, 4), (3, 16, 16)),
}


def jacobian(net, x):
    return torch.func.jacrev(lambda v: net(v[None])[0])(x).detach().reshape(-1, x.numel()).numpy()


@pytest.mark.parametrize("name", NETWORKS)
def test_local_linear_map_is_jacrev(name):
    """Against ``torch.func.jacrev`` in float32, the networks' own dtype (jacrev's float64 convolutions are
    erratically slow on the CPU); float64 agreement is checked by the next test."""
    make, shape = NETWORKS[name]
    torch.manual_seed(0)
    net = randomize_batchnorm(make())
    x = torch.randn(shape)
    J = cm.from_torch(net, shape, x=x)
    assert sp.issparse(J.matrix) and J.matrix.dtype == np.float64
    np.testing.assert_allclose(J.matrix.toarray(), jacobian(net, x), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(J(x), net(x[None])[0].numpy(), rtol=1e-4, atol=1e-5)
    assert J.nnz < J.shape[0] * J.shape[1] or name == "dcgan"  # sparse where the network is local


@pytest.mark.parametrize("name", NETWORKS)
def test_local_linear_map_in_float64(name):
    """The same networks in float64: the value at x, and u^T J against torch's vector-Jacobian products."""
    make, shape = NETWORKS[name]
    torch.manual_seed(0)
    net = randomize_batchnorm(make()).double()
    assert_matches(net, shape, x=torch.randn(shape, dtype=torch.float64), samples=4, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- custom forwards (torch.fx)
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.scale = nn.Parameter(torch.tensor([[[0.5]], [[-2.0]]]))

    def forward(self, x):
        y = F.relu(self.conv(x)) * self.scale - x / 4
        y = F.pad(y, (1, 0, 0, 1), mode="replicate")
        y = F.interpolate(y, size=(5, 5), mode="bilinear", align_corners=True)
        y = F.leaky_relu(y, 0.2) + 1.0
        p, i = F.max_pool2d(y, 2, return_indices=True)
        y = F.max_unpool2d(F.hardtanh(p, -0.5, 0.5), i, 2, output_size=(5, 5))
        y = torch.cat([y, -y, F.relu6(3 * y)], dim=-1)
        return y.view(y.size(0), -1).relu()


def test_custom_forward_with_functional_ops_is_traced():
    torch.manual_seed(2)
    m = Residual()
    f = assert_matches(m, (2, 4, 4), x=torch.randn(2, 4, 4), samples=3)
    assert f.output_shape == (2 * 5 * 15,)


class Attention(nn.Module):
    def forward(self, x):
        return x * x  # bilinear in the input


class Branching(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Slicing(nn.Module):
    def forward(self, x):
        return x[:, :1]


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


class UsesTanh(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(x)


@pytest.mark.parametrize("module, match, exc", [
    (Attention(), "multiplies two tensors of the network", ValueError),
    (Branching(), "Branching is not supported by from_torch: .* torch.fx could not trace", TypeError),
    (Slicing(), "indexes or slices a tensor", ValueError),
    (TwoInputs(), "takes more than one input", ValueError),
    (UsesTanh(), r"module\.act: Tanh is not supported", TypeError),
])
def test_custom_forwards_that_are_not_affine_are_refused(module, match, exc):
    with pytest.raises(exc, match=match) as info:
        cm.from_torch(module, (2, 3), x=np.ones((2, 3)))
    assert info.value.parameter == "module"


def test_unet_without_x_says_x_is_needed():
    with pytest.raises(ValueError, match="x is needed") as info:
        cm.from_torch(unet_like(1, 2), (1, 8, 8))
    assert info.value.parameter == "x"


# --------------------------------------------------------------------------- AffineMap
def test_affine_map_composition_and_sum():
    rng = np.random.default_rng(0)
    a = AffineMap(sp.csr_array(rng.standard_normal((4, 3))), rng.standard_normal(4), (3,), (2, 2))
    b = AffineMap(rng.standard_normal((3, 5)), rng.standard_normal(3), (5,), (3,))
    x = rng.standard_normal(5)
    np.testing.assert_allclose((a @ b)(x), a(b(x)))
    np.testing.assert_allclose((b + b)(x), 2 * b(x))
    np.testing.assert_allclose(b.scaled(-3)(x), -3 * b(x))
    dense = compose(b, AffineMap.identity((5,)))
    assert sp.issparse(dense.matrix)  # a sparse factor keeps the product sparse
    assert isinstance(compose(b, AffineMap(np.eye(5), None, (5,), (5,))).matrix, np.ndarray)
    H = b.homogeneous(format="dense")
    np.testing.assert_allclose(H @ np.append(x, 1.0), np.append(b(x), 1.0))
    assert a.asformat("dense").matrix.shape == (4, 3) and a.asformat("coo").matrix.format == "coo"
    assert str(a) == "AffineMap (3,) -> (2, 2): 4 x 3 csr_array, 12 stored entries; offset: 4 nonzero of 4"
    assert a._repr_html_().startswith("<div><b>AffineMap</b>")
    s = stack([b, b.scaled(2)], (2, 3), np.array([0, 3, 1, 4, 2, 5]))
    np.testing.assert_allclose(s(x), np.stack([b(x), 2 * b(x)], axis=1).reshape(2, 3))


def test_affine_map_refusals():
    with pytest.raises(TypeError) as info:
        AffineMap([[1.0]], None, (1,), (1,))
    assert info.value.parameter == "matrix"
    with pytest.raises(ValueError) as info:
        AffineMap(np.eye(2), None, (3,), (2,))
    assert info.value.parameter == "matrix"
    with pytest.raises(ValueError) as info:
        AffineMap(np.eye(2), np.ones(3), (2,), (2,))
    assert info.value.parameter == "offset"
    f = AffineMap.identity((2, 2))
    with pytest.raises(ValueError, match="do not chain") as info:
        f @ AffineMap.identity((4,))
    assert info.value.parameter == "inner"
    with pytest.raises(ValueError, match="different input_shapes") as info:
        f + AffineMap.identity((4,)).reshaped((2, 2))
    with pytest.raises(ValueError) as info:
        f(np.ones(5))
    assert info.value.parameter == "x"
    with pytest.raises(cm.MatrixTooLargeError):
        compose(AffineMap(np.ones((300, 300)), None, (300,), (300,)), AffineMap.identity((300,)), max_bytes=10**4)


# --------------------------------------------------------------------------- assert_matches
def test_assert_matches_reports_the_largest_difference_and_where(monkeypatch):
    def off_by_a_little(m, shape, ctx, where):
        n = int(np.prod(shape))
        offset = np.zeros(n)
        offset[3] = 1e-3
        return AffineMap(sp.identity(n, format="csr"), offset, tuple(shape), tuple(shape))

    monkeypatch.setattr(torch_bridge, "_identity", off_by_a_little)
    with pytest.raises(AssertionError, match=r"from_torch\(Identity\) differs from the module on random sample 0: "
                                             r"largest difference 0\.001 at output index \(1, 1\)"):
        assert_matches(nn.Identity(), (2, 2))


def test_assert_matches_leaves_the_module_alone():
    conv = nn.Conv1d(1, 1, 2)
    assert_matches(conv, (1, 3), rtol=1e-6)
    assert conv.weight.dtype == torch.float32
    with pytest.raises(ValueError) as info:
        assert_matches(conv, (1, 3), samples=0)
    assert info.value.parameter == "samples"


# --------------------------------------------------------------------------- AffineGraph: both orders of accumulation
@pytest.mark.parametrize("seed", range(6))
def test_graph_forward_and_reverse_agree_with_dense_reference(seed):
    from convmatrix.affine import AffineGraph

    rng = np.random.default_rng(seed)
    g = AffineGraph((4,))
    dense = {0: (np.eye(4), np.zeros(4))}
    for k in range(1, 8):
        n = int(rng.integers(2, 6))
        parents, M, b = [], np.zeros((n, 4)), np.zeros(n)
        for p in rng.choice(k, size=min(k, int(rng.integers(1, 3))), replace=False):
            p = int(p)
            m_p = dense[p][0].shape[0]
            kind = rng.integers(3) if m_p == n else 2
            if kind == 0:
                L, Ld = None, np.eye(n)
            elif kind == 1:
                L = float(rng.standard_normal())
                Ld = L * np.eye(n)
            else:
                density = [0.1, 0.5, 1.0][int(rng.integers(3))]
                Ld = rng.standard_normal((n, m_p)) * (rng.random((n, m_p)) < density)
                if rng.random() < 0.5:  # a selection: at most one entry per row
                    Ld = np.zeros((n, m_p))
                    Ld[np.arange(n), rng.integers(0, m_p, n)] = rng.standard_normal(n)
                L = sp.csr_array(Ld)
            parents.append((p, L))
            M += Ld @ dense[p][0]
            b += Ld @ dense[p][1]
        c = rng.standard_normal(n) * (rng.random() < 0.5)
        node = g.add((n,), parents, offset=c)
        dense[node] = (M, b + c)
    last = len(dense) - 1
    for mode in ("forward", "reverse", "auto"):
        f = g.map(last, mode=mode)
        got = f.matrix.toarray() if sp.issparse(f.matrix) else f.matrix
        np.testing.assert_allclose(got, dense[last][0], atol=1e-12)
        np.testing.assert_allclose(f.offset, dense[last][1], atol=1e-12)


def test_graph_offsets_and_products():
    from convmatrix.affine import AffineGraph, right_product, sparse_product

    g = AffineGraph((3,))
    a = g.add((3,), [(0, 2.0)], offset=[1.0, 0.0, -1.0])
    b = g.add((2,), [(a, sp.csr_array(np.array([[1.0, 0, 1], [0, 1, 0]])))], offset=[0.5, 0.5])
    c = g.add((2,), [(b, None), (b, -1.0)])  # b - b: zero
    f = g.map(b)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [8.5, 4.5])
    assert g.map(c).nnz == 0 and np.allclose(g.map(c).offset, 0)
    rng = np.random.default_rng(0)
    A = sp.random_array((7, 9), density=0.3, random_state=rng, format="csr")
    B = sp.random_array((9, 5), density=0.3, random_state=rng, format="csr")
    S = sp.csr_array((np.ones(4), np.array([1, 1, 3, 0]), np.array([0, 1, 1, 2, 3, 4, 4, 4, 4, 4])), shape=(9, 5))
    np.testing.assert_allclose(sparse_product(A, B).toarray(), A.toarray() @ B.toarray())
    np.testing.assert_allclose(right_product(A, S).toarray(), A.toarray() @ S.toarray())
    np.testing.assert_allclose(right_product(A, B).toarray(), A.toarray() @ B.toarray())
    with pytest.raises(cm.MatrixTooLargeError):
        sparse_product(sp.csr_array(np.ones((50, 50))), sp.csr_array(np.ones((50, 50))), max_bytes=1000)


def test_tour_section(capsys):
    from convmatrix.cli import main
    from convmatrix.cli.tour import SECTIONS

    k = SECTIONS.index("convmatrix.cli.tour:section_from_torch") + 1
    assert main(["tour", "--section", str(k)]) == 0
    out = capsys.readouterr().out
    assert "from_torch(net, input_size, x=x)" in out and "J(x) == net(x): True" in out
    assert "padding_mode='circular') is 36 x 72" in out
