"""Exact norms of composed operators (Zeiler's R_l, torch networks) against dense SVD and the product of norms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import convmatrix as cm

torch = pytest.importorskip("torch")


def dense_norm(A) -> float:
    A = A.toarray() if sp.issparse(A) else np.asarray(A)
    return float(np.linalg.svd(A, compute_uv=False)[0]) if A.size else 0.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=5), st.integers(0, 2**16))
def test_composed_norm_matches_dense_svd(sizes, seed):
    rng = np.random.default_rng(seed)
    factors = [sp.random_array((m, n), density=0.5, rng=rng, format="csr") for m, n in zip(sizes, sizes[1:])]
    r = cm.composed_norm(factors)
    product = factors[0]
    for f in factors[1:]:
        product = product @ f
    assert r.norm == pytest.approx(dense_norm(product), rel=1e-10, abs=1e-12)
    assert r.factor_norms == pytest.approx([dense_norm(f) for f in factors], rel=1e-10, abs=1e-12)
    assert r.norm <= r.product * (1 + 1e-10) + 1e-12
    assert r.shapes == tuple(f.shape for f in factors)


def _stack(seed: int):
    rng = np.random.default_rng(seed)
    layers = [cm.ZeilerLayer(rng.integers(-2, 3, size=(3, 1, 3, 3)), pool=cm.MaxPool(2)),
              cm.ZeilerLayer(rng.integers(-2, 3, size=(2, 3, 3, 3)), pool=cm.MaxPool(2)),
              cm.ZeilerLayer(rng.integers(-2, 3, size=(2, 2, 2, 2)))]
    stack = cm.ZeilerStack(layers, (1, 12, 12))
    maps = [rng.standard_normal(stack.map_shapes[i]) for i in range(2)]
    return stack, stack.switches(maps)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("l", [1, 2, 3])
def test_zeiler_stack_norms_are_the_norm_of_R(seed, l):
    stack, switches = _stack(seed)
    switches = switches[:l - 1]
    factors = stack.factors(l, switches)
    product = factors[0]
    for f in factors[1:]:
        product = product @ f
    R = stack.R(l, switches)
    assert (product != R).nnz == 0  # integer kernels: the factors' product is R exactly
    r = stack.norms(l, switches)
    assert r.names == stack.factor_names(l, switches)
    assert len(r.names) == len(factors) == 2 * l - 1
    assert r.norm == pytest.approx(dense_norm(R), rel=1e-10)
    assert r.factor_norms == pytest.approx([dense_norm(f) for f in factors], rel=1e-10)
    assert r.norm <= r.product * (1 + 1e-10)


def test_infer_and_ista_step_from_the_exact_lipschitz_constant():
    stack, switches = _stack(0)
    switches = switches[:1]
    R = stack.R(2, switches)
    y = np.random.default_rng(0).standard_normal(R.shape[0])
    exact = dense_norm(R) ** 2
    for solver in (cm.ista, cm.fista):
        res = solver(R, y, 0.5, n_iter=3)
        assert res.lipschitz == pytest.approx(0.5 * exact, rel=1e-12)
        assert res.step == pytest.approx(1 / (0.5 * exact), rel=1e-12)
    res = stack.infer(y.reshape(1, 12, 12), 2, switches, lam=2.0, n_iter=2)
    assert res.lipschitz == pytest.approx(2.0 * exact, rel=1e-12)
    assert cm.operator_norm(R, method="exact") == pytest.approx(np.sqrt(exact), rel=1e-12)
    assert stack.norms(2, switches).norm ** 2 == pytest.approx(exact, rel=1e-12)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 3, 3, padding=1, padding_mode="reflect"), torch.nn.BatchNorm2d(3),
        torch.nn.LeakyReLU(0.1), torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5)).double().eval()


def test_network_norms_against_torch_jacobian():
    net = _net()
    x = torch.randn(2, 8, 8, dtype=torch.float64)
    r = cm.network_norms(net, (2, 8, 8), x=x)
    J = torch.func.jacrev(lambda v: net(v[None])[0])(x).detach().reshape(5, -1).numpy()
    assert r.norm == pytest.approx(dense_norm(J), rel=1e-10)
    assert r.names[0] == "7: Linear" and r.names[-1] == "0: Conv2d" and len(r.names) == 8
    assert r.norm <= r.product * (1 + 1e-10)
    assert r.norm == pytest.approx(dense_norm(cm.from_torch(net, (2, 8, 8), x=x).matrix), rel=1e-10)


def test_bad_input_names_the_parameter():
    A = np.ones((2, 3))
    with pytest.raises(ValueError, match="factors"):
        cm.composed_norm([])
    with pytest.raises(ValueError, match="factors"):
        cm.composed_norm([A, A])
    with pytest.raises(TypeError, match="factors"):
        cm.composed_norm([A, "x"])
    with pytest.raises(TypeError, match="factors"):
        cm.composed_norm(A)
    with pytest.raises(ValueError, match="names"):
        cm.composed_norm([A], names=["a", "b"])
    with pytest.raises(TypeError, match="names"):
        cm.composed_norm([A], names=[1])
    with pytest.raises(TypeError, match="module"):
        cm.network_norms(torch.nn.Conv1d(1, 1, 3), (1, 5))
    with pytest.raises(ValueError, match="module"):
        cm.network_norms(torch.nn.Sequential(), (1, 5))
    with pytest.raises(cm.MatrixTooLargeError):
        cm.composed_norm([sp.eye_array(2000, format="csr")] * 2, max_bytes=1000)
