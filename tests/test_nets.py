"""Networks: shapes, the embedding's closed form, autograd gradients vs finite differences."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wgf.nets import (
    ScalarPotential,
    SinusoidalEmbedding,
    TimeMLP,
    gradient,
    mlp_input_gradient,
    numpy_predictor,
    seeded,
)


def test_embedding_closed_form():
    emb = SinusoidalEmbedding(8, scale=10.0, max_period=100.0)
    t = torch.tensor([0.0, 0.3])
    out = emb(t)
    w = np.array([100 ** (-j / 4) for j in range(4)]) * 10.0
    expected = np.concatenate(
        [np.sin(np.outer([0, 0.3], w)), np.cos(np.outer([0, 0.3], w))], axis=1
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert emb(torch.tensor(0.5), n=3).shape == (3, 8)


def test_embedding_bad_input():
    with pytest.raises(ValueError, match="even"):
        SinusoidalEmbedding(7)
    with pytest.raises(ValueError, match="scale"):
        SinusoidalEmbedding(8, scale=0.0)


def test_time_mlp_shapes_and_broadcast():
    with seeded(0):
        net = TimeMLP(dim=2, hidden=16, depth=2)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    a = net(x, 0.25)
    b = net(x, torch.full((5,), 0.25))
    assert a.shape == (5, 2)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(5, 3), 0.1)
    with pytest.raises(ValueError, match="activation"):
        TimeMLP(activation="sigmoid")
    assert TimeMLP(dim=2, out_dim=1).out_dim == 1


def test_seeded_is_deterministic_and_restores_global_state():
    state = torch.random.get_rng_state()
    with seeded(3):
        a = TimeMLP(hidden=8, depth=1)
    with seeded(3):
        b = TimeMLP(hidden=8, depth=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="seed"):
        with seeded(-1):
            pass


def test_potential_gradient_matches_finite_differences():
    with seeded(0):
        V = ScalarPotential(dim=2, hidden=16, depth=2).double()
    x = torch.tensor([[0.3, -0.7], [1.1, 0.4]], dtype=torch.float64)
    g = V.grad(x)
    h = 1e-6
    for i in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[i] = h
        fd = (V(x + e) - V(x - e)) / (2 * h)
        torch.testing.assert_close(g[:, i], fd, rtol=1e-6, atol=1e-8)
    # differentiable through the gradient when asked
    g2 = V.grad(x.clone().requires_grad_(True), create_graph=True)
    assert g2.requires_grad


def test_numpy_predictor_roundtrip():
    with seeded(0):
        net = TimeMLP(dim=2, hidden=8, depth=1)
    f = numpy_predictor(net)
    x = np.random.default_rng(0).normal(size=(4, 2))
    out = f(x, 0.5)
    assert out.dtype == np.float64 and out.shape == (4, 2)
    ref = net(torch.tensor(x, dtype=torch.float32), 0.5).detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    with seeded(0):
        V = ScalarPotential(dim=2, hidden=8, depth=1)
    grad = numpy_predictor(lambda x, t: V.grad(x))(x, 0.0)
    assert grad.shape == (4, 2) and np.all(np.isfinite(grad))
    with pytest.raises(TypeError):
        numpy_predictor(3)
    assert math.isfinite(float(out.sum()))


def test_time_mlp_from_config_matches_the_constructor_and_ignores_other_keys():
    cfg = {"hidden": 16, "depth": 2, "embed_dim": 8, "time_scale": 10.0, "lr": 1e-3}
    with seeded(3):
        a = TimeMLP.from_config(2, cfg)
    with seeded(3):
        b = TimeMLP(2, hidden=16, depth=2, embed_dim=8, time_scale=10.0)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    with pytest.raises(ValueError, match="hidden"):
        TimeMLP.from_config(2, {**cfg, "hidden": 0})


def test_bad_inputs_name_the_argument():
    net = TimeMLP(2, hidden=8, depth=1, embed_dim=4)
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="t contains NaN"):
        net(x, float("nan"))
    with pytest.raises(ValueError, match="t must be a scalar or hold n=3"):
        net(x, torch.zeros(2))
    with pytest.raises(TypeError, match="x must have the network's dtype"):
        net(x.double(), 0.5)
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        net(np.zeros((3, 2), dtype=np.float32), 0.5)
    with pytest.raises(ValueError, match="x contains NaN"):
        net(torch.full((3, 2), float("nan")), 0.5)
    pot = ScalarPotential(2, hidden=8, depth=1)
    with pytest.raises(ValueError, match="x contains NaN"):
        pot(torch.full((3, 2), float("inf")))
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        pot.grad(np.zeros((3, 2), dtype=np.float32))
    for bad in ("abc", 1.5, True):
        with pytest.raises(TypeError, match="seed"):
            with seeded(bad):
                pass
    with pytest.raises(ValueError, match="seed"):
        with seeded(-1):
            pass


@settings(max_examples=25, deadline=None)
@given(
    activation=st.sampled_from(["silu", "relu", "gelu", "softplus", "tanh"]),
    depth=st.integers(1, 4),
    hidden=st.integers(1, 40),
    dim=st.integers(1, 4),
    n=st.integers(1, 300),
    double=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_written_out_gradient_is_autograd_to_the_last_bit(
    activation, depth, hidden, dim, n, double, seed
):
    # the fast path of ScalarPotential.grad (no graph) against autograd itself
    with seeded(seed):
        V = ScalarPotential(dim, hidden, depth, activation)
        V = V.double() if double else V
        x = 3 * torch.randn(n, dim, dtype=torch.float64 if double else torch.float32)
    fast = mlp_input_gradient(V.net, x)
    assert torch.equal(fast, gradient(V, x))
    assert torch.equal(V.grad(x), fast)
    assert not fast.requires_grad


def test_written_out_gradient_rejects_other_networks():
    with pytest.raises(ValueError, match="net"):
        mlp_input_gradient(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)), None)
    with pytest.raises(ValueError, match="net"):
        mlp_input_gradient(torch.nn.Sequential(torch.nn.Linear(2, 2)), None)


def test_potential_grad_keeps_the_graph_of_an_input_that_requires_it():
    with seeded(1):
        V = ScalarPotential(2, 8, 2)
    x = torch.randn(5, 2, requires_grad=True)
    g = V.grad(x, create_graph=True)
    g.sum().backward()  # second derivative through the gradient
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_potential_grad_is_seen_by_forward_hooks():
    # a hook counting evaluations (as the model contract does) sees the gradient's evaluation
    with seeded(2):
        V = ScalarPotential(2, 8, 2)
    calls = []
    h = V.register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(4, 2)
    try:
        g = V.grad(x)
    finally:
        h.remove()
    assert len(calls) == 1
    assert torch.equal(g, V.grad(x))  # the same value without the hook (written-out pass)
    # a (pre-)hook on a layer inside the potential fires on every evaluation too
    for layer in (V.net[0], V.net[-1]):
        for register in (layer.register_forward_hook, layer.register_forward_pre_hook):
            calls.clear()
            h = register(lambda *a: calls.append(1))
            try:
                assert torch.equal(V.grad(x), g)
            finally:
                h.remove()
            assert len(calls) == 1, (layer, register)
