"""Energy Matching: temperature schedule, Langevin sampler (exact Gibbs law), losses, zoo model."""

import functools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from wgf import zoo
from wgf.energy_matching import (
    COLD,
    LONGER,
    EnergyMatching,
    contrastive_divergence_loss,
    flow_matching_loss,
    flow_weight,
    sample_energy,
    temperature,
)
from wgf.mixtures import GaussianMixture
from wgf.nets import ScalarPotential

# --- temperature schedule -------------------------------------------------------------------


def test_temperature_at_known_points():
    eps = temperature(np.array([0.0, 0.5, 0.8, 0.9, 0.95, 1.0, 1.7]), tau_star=0.8, eps_max=0.2)
    np.testing.assert_allclose(eps, [0.0, 0.0, 0.0, 0.1, 0.15, 0.2, 0.2], atol=1e-15)
    assert temperature(0.6, tau_star=0.2, eps_max=1.0) == pytest.approx(0.5)
    assert isinstance(temperature(0.3), float)


@given(st.floats(0, 0.99), st.floats(0, 3), st.lists(st.floats(0, 5), min_size=2, max_size=20))
def test_temperature_is_monotone_and_bounded(tau, eps_max, ts):
    ts = np.sort(np.array(ts))
    eps = temperature(ts, tau_star=tau, eps_max=eps_max)
    assert np.all(np.diff(eps) >= -1e-15)
    assert np.all((eps >= 0) & (eps <= eps_max + 1e-15))
    np.testing.assert_allclose(eps[ts >= 1], eps_max)
    np.testing.assert_array_equal(eps[ts <= tau], 0.0)


def test_flow_weight_numpy_and_torch():
    t = np.array([0.0, 0.8, 0.9, 1.0])
    np.testing.assert_allclose(flow_weight(t, 0.8), [1.0, 1.0, 0.5, 0.0], atol=1e-12)
    w = flow_weight(torch.tensor(t, dtype=torch.float32), 0.8)
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0, 0.5, 0.0], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"tau_star": 1.0}, "tau_star"),
        ({"tau_star": -0.1}, "tau_star"),
        ({"eps_max": -1.0}, "eps_max"),
        ({"eps_max": np.nan}, "eps_max"),
    ],
)
def test_temperature_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        temperature(0.5, **kwargs)


def test_temperature_bad_times():
    with pytest.raises(ValueError, match="t"):
        temperature(-0.1)
    with pytest.raises(ValueError, match="t"):
        temperature([0.1, np.nan])


# --- the sampler -------------------------------------------------------------------------------


def _gaussian_oracle(eps):
    m = np.array([1.0, -0.5])
    S = np.array([[0.5, 0.2], [0.2, 0.3]])
    p = GaussianMixture([1.0], m[None], S[None])
    return m, S, (lambda x: -eps * p.score(x))  # V = -eps log p: Gibbs law exp(-V/eps) = p


def test_langevin_reaches_the_gibbs_law_of_an_exact_potential():
    """V = -eps log p for a Gaussian p: the chain's law is p up to the exact ULA bias."""
    eps, dt, n = 0.3, 0.02, 4000
    m, S, grad = _gaussian_oracle(eps)
    x0 = np.random.default_rng(0).normal(size=(n, 2)) * 2.0
    tr = sample_energy(grad, x0, 1500, dt, eps, generator=1, keep=3)
    x = tr.samples
    # ULA for dX = -A(X - m) dt + sqrt(2 eps) dW, A = eps S^{-1}, is a linear AR(1) recursion;
    # its stationary covariance C solves C = (I - dt A) C (I - dt A)^T + 2 eps dt I (Lyapunov).
    A = eps * np.linalg.inv(S)
    B = np.eye(2) - dt * A
    C = np.linalg.solve(np.eye(4) - np.kron(B, B), (2 * eps * dt * np.eye(2)).ravel()).reshape(2, 2)
    # the bias is O(dt): C = S + O(dt * eps / S) (a few per cent here), and sampling error
    # of a covariance with n = 4000 is about sqrt(2/n) ~ 2 %
    assert np.abs(C - S).max() < 0.05
    se_mean = np.sqrt(np.diag(C) / n)
    assert np.all(np.abs(x.mean(0) - m) < 4 * se_mean)
    np.testing.assert_allclose(np.cov(x.T), C, atol=4 * np.sqrt(2 / n) * np.abs(C).max())
    assert tr.nfe == 1500 and tr.t[0] == 0.0 and tr.t[-1] == 1.0 and len(tr) == 3


def test_zero_temperature_is_gradient_descent():
    """eps = 0: x_{k+1} = x_k - dt a (x_k - m), i.e. x_K = m + (1 - dt a)^K (x_0 - m)."""
    a, m, dt, K = 2.0, np.array([0.5, 1.0]), 0.05, 30
    x0 = np.random.default_rng(3).normal(size=(10, 2))
    tr = sample_energy(lambda x: a * (x - m), x0, K, dt, 0.0, generator=0)
    np.testing.assert_allclose(tr.samples, m + (1 - dt * a) ** K * (x0 - m), rtol=1e-12)
    np.testing.assert_allclose(tr.t, np.arange(K + 1) / K)


def test_schedule_and_equilibration():
    """Noise enters only after tau*; the equilibration chain continues at eps(1) on its own clock."""
    sched = functools.partial(temperature, tau_star=0.5, eps_max=0.1)
    x0 = np.zeros((200, 2))
    rng = np.random.default_rng(0)
    tr = sample_energy(lambda x: 0 * x, x0, 10, 0.1, sched, generator=rng)
    assert np.all(tr.x[:7] == 0.0)  # eps(t_k) = 0 for t_k <= 0.5, k <= 5; step 6 uses eps(0.5)=0
    assert np.all(tr.x[7] != 0.0)
    assert tr.nfe == 10 and len(tr) == 11 and np.all(np.diff(tr.t) > 0)
    tail = sample_energy(lambda x: 0 * x, tr.samples, 5, 0.1, sched(1.0), generator=rng)
    np.testing.assert_allclose(tail.t, np.linspace(0, 1, 6))
    tr.path_energy()  # strictly increasing times: defined
    # variance of a free walk: 2 dt sum_k eps(t_k), k = 0..14
    eps = [sched(min(k / 10, 1.0)) for k in range(15)]
    assert np.var(tail.samples) == pytest.approx(2 * 0.1 * np.sum(eps), rel=0.2)


def test_sampler_is_reproducible():
    grad = lambda x: x  # noqa: E731
    x0 = np.ones((5, 2))
    a = sample_energy(grad, x0, 20, 0.05, 0.2, generator=7).samples
    b = sample_energy(grad, x0, 20, 0.05, 0.2, generator=7).samples
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        ({"grad_V": 3}, TypeError, "grad_V"),
        ({"x0": np.full((3, 2), np.nan)}, ValueError, "x0"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"dt": -0.1}, ValueError, "dt"),
        ({"eps_schedule": -1.0}, ValueError, "eps_schedule"),
        ({"eps_schedule": lambda t: -1.0}, ValueError, "eps_schedule"),
        ({"grad_V": lambda x: x[:, :1]}, ValueError, "grad_V"),
        ({"grad_V": lambda x: x * np.nan}, ValueError, "grad_V"),
    ],
)
def test_sampler_bad_input(kwargs, exc, name):
    args = {"grad_V": lambda x: x, "x0": np.zeros((3, 2)), "steps": 5}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        sample_energy(**args)


@pytest.mark.filterwarnings("ignore:overflow")
def test_sampler_reports_divergence():
    with pytest.raises(ValueError, match=r"diverged|NaN"):
        sample_energy(lambda x: -1e200 * x, np.ones((2, 2)), 10, 1.0)


# --- losses --------------------------------------------------------------------------------


class Quadratic(torch.nn.Module):
    """V(x) = a |x|^2 / 2 with a trainable scalar a."""

    def __init__(self, a):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a), dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.a * (x**2).sum(1)


def test_flow_matching_loss_value_and_gradient_by_hand():
    rng = np.random.default_rng(0)
    x0, x1 = (torch.tensor(rng.normal(size=(50, 2))) for _ in range(2))
    t = torch.tensor(rng.random(50))
    V = Quadratic(0.7)
    loss = flow_matching_loss(V, x0, x1, t)
    loss.backward()
    xt = ((1 - t)[:, None] * x0 + t[:, None] * x1).numpy()
    u = (x1 - x0).numpy()
    r = 0.7 * xt + u  # -grad V - u = -(a xt + u)
    assert float(loss.detach()) == pytest.approx(np.mean(np.sum(r**2, 1)), rel=1e-12)
    assert float(V.a.grad) == pytest.approx(np.mean(2 * np.sum(r * xt, 1)), rel=1e-10)
    w = torch.tensor(rng.random(50))
    assert float(flow_matching_loss(V, x0, x1, t, w).detach()) == pytest.approx(
        np.mean(w.numpy() * np.sum(r**2, 1)), rel=1e-12
    )


def test_flow_matching_loss_vanishes_for_an_exact_gradient_flow():
    """x1 = x0 + c (a translation, the OT map): the velocity c is -grad of V(x) = -c.x."""
    c = torch.tensor([1.5, -0.5], dtype=torch.float64)
    x0 = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss = flow_matching_loss(lambda x: -(x @ c), x0, x0 + c, torch.rand(64, dtype=torch.float64))
    assert float(loss) < 1e-24


def test_contrastive_divergence_loss():
    V = Quadratic(2.0)
    xd = torch.zeros(4, 2, dtype=torch.float64)
    xn = torch.ones(3, 2, dtype=torch.float64)
    loss = contrastive_divergence_loss(V, xd, xn)
    assert float(loss.detach()) == pytest.approx(0.0 - 2.0)  # V(0) = 0, V(1, 1) = a = 2
    loss.backward()
    assert float(V.a.grad) == pytest.approx(-1.0)  # d/da (0 - a/2 * 2)
    with pytest.raises(ValueError, match="x_data"):
        contrastive_divergence_loss(V, xd, torch.ones(3, 3))


def test_flow_matching_loss_bad_shapes():
    V = Quadratic(1.0)
    with pytest.raises(ValueError, match="x0"):
        flow_matching_loss(V, torch.zeros(4, 2), torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="t"):
        flow_matching_loss(V, torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(3))


# --- the zoo model -------------------------------------------------------------------------

TINY = {
    "hidden": 16,
    "depth": 2,
    "batch": 32,
    "phase1_steps": 30,
    "phase2_steps": 20,
    "chains": 16,
    "refresh": 10,
    "neg_steps": 3,
    "neg_dt": 0.1,
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    yield tmp_path
    zoo._MEMORY.clear()


def test_zoo_energy_matching_trains_caches_and_samples(cache):
    model = zoo.get("energy_matching", "eight_gaussians", seed=0, progress=False, **TINY)
    assert model.trained and model.losses.shape == (50,) and np.all(np.isfinite(model.losses))
    tr = model.sample(64, 10, generator=0)
    assert tr.x.shape == (11, 64, 2) and tr.t[0] == 0.0 and tr.t[-1] == 1.0 and tr.nfe == 10
    tail = model.equilibrate(tr.samples, 4, 0.1, generator=1)
    assert tail.x.shape == (5, 64, 2) and tail.nfe == 4
    np.testing.assert_array_equal(tail.x[0], tr.samples)
    # phase 2 moved the potential away from its phase-1 copy
    x = np.random.default_rng(0).normal(size=(20, 2))
    assert np.abs(model.energy(x) - model.energy(x, warm=True)).max() > 0
    eps_max = EnergyMatching.defaults["eps_max"]
    np.testing.assert_allclose(model.log_density(x), -model.energy(x) / eps_max, rtol=1e-12)
    warm = model.sample(64, 10, generator=0, warm=True)
    assert warm.samples.shape == (64, 2)
    zoo._MEMORY.clear()  # force a load from disk
    again = zoo.get("energy_matching", "eight_gaussians", seed=0, progress=False, **TINY)
    assert not again.trained
    np.testing.assert_allclose(again.sample(64, 10, generator=0).samples, tr.x[10], rtol=1e-6)


def test_training_is_deterministic():
    cfg = {**EnergyMatching.defaults, **TINY, "phase1_steps": 10, "phase2_steps": 5}
    a, b = EnergyMatching("two_moons", cfg, 3), EnergyMatching("two_moons", cfg, 3)
    np.testing.assert_array_equal(a.fit(progress=False), b.fit(progress=False))
    x = np.zeros((3, 2))
    np.testing.assert_array_equal(a.energy(x), b.energy(x))


def test_model_bad_input():
    cfg = {**EnergyMatching.defaults, **TINY}
    with pytest.raises(ValueError, match="chains"):
        EnergyMatching("eight_gaussians", {**cfg, "chains": 32}, 0)
    with pytest.raises(ValueError, match="eps_max"):
        EnergyMatching("eight_gaussians", {**cfg, "eps_max": 0.0}, 0)
    model = EnergyMatching("eight_gaussians", cfg, 0)
    with pytest.raises(ValueError, match="n"):
        model.sample(0, 10)
    with pytest.raises(ValueError, match="x0"):
        model.sample(5, 10, x0=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n=5 does not match x0"):
        model.sample(5, 10, x0=np.zeros((4, 2)))
    assert model.sample(4, 3, x0=np.zeros((4, 2))).x.shape == (4, 4, 2)
    with pytest.raises(ValueError, match="x"):
        model.energy(np.zeros((4, 3)))


def test_losses_and_weights_reject_bad_tensors():
    with pytest.raises(ValueError, match="t contains NaN"):
        flow_weight(torch.tensor([0.5, float("nan")]))
    V = ScalarPotential(2, 8, 1)
    with pytest.raises(TypeError, match=r"x_data must be a torch\.Tensor"):
        contrastive_divergence_loss(V, np.zeros((3, 2)), torch.zeros(3, 2))
    with pytest.raises(TypeError, match=r"x0 must be a torch\.Tensor"):
        flow_matching_loss(V, np.zeros((4, 2)), torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(TypeError, match="potential"):
        flow_matching_loss(3, torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4))


def test_flow_matching_loss_is_cfm_loss_with_minus_grad_v():
    from wgf.flow_matching import cfm_loss

    V = ScalarPotential(2, 8, 1)
    x0, x1, t = torch.randn(16, 2), torch.randn(16, 2), torch.rand(16)
    want = cfm_loss(lambda x, s: -V.grad(x, create_graph=True), x0, x1, t)
    assert float(flow_matching_loss(V, x0, x1, t)) == float(want)


def test_longer_lengthens_phase_2_only_and_keys_a_new_model():
    d = EnergyMatching.defaults
    assert set(LONGER) <= set(d) and LONGER["phase2_steps"] > d["phase2_steps"]
    assert zoo.key("energy_matching", "eight_gaussians", 0, **LONGER) != zoo.key(
        "energy_matching", "eight_gaussians", 0
    )


def test_cold_lowers_the_temperature_lengthens_phase_2_and_keys_a_new_model():
    d = EnergyMatching.defaults
    assert set(COLD) == {"eps_max", "phase2_steps"}
    assert 0 < COLD["eps_max"] < d["eps_max"] and COLD["phase2_steps"] > d["phase2_steps"]
    keys = {zoo.key("energy_matching", "two_moons", 0, **c) for c in ({}, COLD, LONGER)}
    assert len(keys) == 3
    assert EnergyMatching("two_moons", {**d, **COLD}, 0).config["eps_max"] == COLD["eps_max"]
