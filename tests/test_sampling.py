"""The sampling kernel: recording, finiteness, NFE, the Field adapter, ODE and Langevin steps
against closed forms."""

import numpy as np
import pytest
from scipy.linalg import expm

from wgf import data, sampling
from wgf.fokker_planck import ou_euler_maruyama
from wgf.sampling import Field, GenerativeModel, annealed_langevin, langevin, ode, run, start
from wgf.trajectory import Trajectory

A = np.array([[-1.0, 2.0], [-0.5, -0.3]])


def linear(x, t):
    return x @ A.T


# --- the Field adapter and the kernel --------------------------------------------------------


def test_field_counts_and_checks():
    f = Field(lambda x, t: 2 * x, "velocity", model="toy")
    x = np.ones((3, 2))
    np.testing.assert_array_equal(f(x, 0.5), 2 * x)
    assert f.calls == 1
    bad_shape = Field(lambda x, t: x[:, :1], "velocity", model="toy")
    with pytest.raises(ValueError, match="toy: velocity returned shape"):
        bad_shape(x, 0.0)
    nan = Field(lambda x, t: x * np.nan, "eps", model="DDPM (moons)")
    with pytest.raises(ValueError, match=r"DDPM \(moons\): eps returned NaN/Inf at 0.25"):
        nan(x, 0.25)
    with pytest.raises(TypeError, match="score must be callable"):
        Field(3, "score")
    # an exact oracle goes through the same adapter as a network
    mix = data.eight_gaussians()
    g = Field(lambda x, t: mix.score(x), "score")
    np.testing.assert_array_equal(g(x, 0.0), mix.score(x))


def test_run_records_keep_indices_and_counts_nfe():
    f = Field(lambda x, t: np.ones_like(x), "velocity")
    times = np.linspace(0, 1, 11)
    tr = run(lambda k, x: x + 0.1 * f(x, times[k]), np.zeros((4, 2)), times, keep=3, fields=[f])
    assert isinstance(tr, Trajectory) and len(tr) == 3 and tr.nfe == 10
    np.testing.assert_allclose(tr.t, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tr.x[:, 0, 0], [0.0, 0.5, 1.0])
    f.calls = 100  # calls made before the run are not counted
    assert run(lambda k, x: f(x, 0.0), np.zeros((1, 2)), [0, 1], fields=[f]).nfe == 1


def test_run_names_the_step_and_the_model_when_the_state_blows_up():
    def step(k, x):
        return x * 1e200 if k < 3 else x

    with pytest.raises(ValueError, match=r"my model: the state became NaN/Inf at step 2 of 4"):
        run(step, np.ones((2, 2)), np.linspace(0, 1, 5), model="my model")


def test_start():
    x, _ = start(5, None, 2, 0, scale=3.0)
    np.testing.assert_array_equal(x, 3.0 * np.random.default_rng(0).standard_normal((5, 2)))
    x0 = np.arange(6.0).reshape(3, 2)
    y, _ = start(None, x0, 2)
    np.testing.assert_array_equal(y, x0)
    y[0, 0] = 99.0
    assert x0[0, 0] == 0.0  # a copy
    with pytest.raises(ValueError, match="n=4 does not match x0"):
        start(4, x0, 2)
    with pytest.raises(ValueError, match="x0 must have dimension"):
        start(None, x0, 3)
    with pytest.raises(ValueError, match="x0 contains NaN"):
        start(None, x0 * np.nan, 2)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n must be"):
            start(bad, None, 2)
    for bad in (1.5, True, "3"):
        with pytest.raises(TypeError, match="n must be an integer"):
            start(bad, None, 2)


# --- ODE solvers -----------------------------------------------------------------------------


def test_euler_and_heun_are_the_exact_one_step_maps_of_a_linear_field():
    x0 = np.random.default_rng(0).normal(size=(5, 2))
    h, K = 0.1, 10
    eye = np.eye(2)
    euler = ode(linear, x0, K).samples
    heun = ode(linear, x0, K, method="heun").samples
    M1 = np.linalg.matrix_power(eye + h * A, K)
    M2 = np.linalg.matrix_power(eye + h * A + (h * A) @ (h * A) / 2, K)
    np.testing.assert_allclose(euler, x0 @ M1.T, rtol=1e-12)
    np.testing.assert_allclose(heun, x0 @ M2.T, rtol=1e-12)
    assert ode(linear, x0, K).nfe == K and ode(linear, x0, K, method="heun").nfe == 2 * K


def test_ode_orders_against_the_matrix_exponential():
    x0 = np.random.default_rng(1).normal(size=(3, 2))
    exact = x0 @ expm(A).T
    for method, order in (("euler", 1), ("heun", 2)):
        errs = [np.abs(ode(linear, x0, K, method=method).samples - exact).max() for K in (20, 40)]
        assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.15)


def test_ode_bad_input():
    with pytest.raises(ValueError, match="method"):
        ode(linear, np.zeros((2, 2)), 3, method="rk4")
    with pytest.raises(ValueError, match="steps"):
        ode(linear, np.zeros((2, 2)), 0)
    with pytest.raises(TypeError, match="velocity must be callable"):
        ode(3, np.zeros((2, 2)), 3)
    with pytest.raises(ValueError, match="dim is required"):
        ode(linear, None, 3, n=4)
    with pytest.raises(ValueError, match="flow: velocity returned NaN"):
        ode(lambda x, t: x * np.nan, np.ones((2, 2)), 3, model="flow")


# --- Langevin --------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1.0, 0.25])
def test_langevin_stationary_variance_is_the_closed_form(temperature):
    # score of N(0, q): -x/q.  ULA with step a and temperature T is the AR(1) chain
    # x' = (1 - a/q) x + sqrt(2 T a) z, stationary at N(0, T q / (1 - a/(2q))).
    q, a = 2.0, 0.4
    x0 = np.zeros((20000, 1))
    tr = langevin(lambda x: -x / q, x0, a, 200, generator=3, keep=2, temperature=temperature)
    want = temperature * q / (1 - a / (2 * q))
    se = want * np.sqrt(2 / x0.shape[0])
    assert abs(tr.samples.var() - want) < 5 * se
    assert tr.nfe == 200 and len(tr) == 2


def test_langevin_at_zero_temperature_is_gradient_descent_and_schedules_work():
    x0 = np.ones((3, 2))
    tr = langevin(lambda x: -x, x0, 0.1, 5, generator=0, temperature=0.0)
    np.testing.assert_allclose(tr.samples, 0.9**5 * x0, rtol=1e-14)
    # a schedule T(t_k): zero for the first half, then noise
    tr = langevin(
        lambda x: 0 * x, np.zeros((4, 2)), 0.1, 4, 0, temperature=lambda t: float(t >= 0.5)
    )
    assert np.all(tr.x[:3] == 0) and np.all(tr.x[3] != 0)
    with pytest.raises(ValueError, match="temperature"):
        langevin(lambda x: x, x0, 0.1, 3, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature must give finite"):
        langevin(lambda x: x, x0, 0.1, 3, temperature=lambda t: np.nan)
    with pytest.raises(TypeError, match="sigma"):
        langevin(lambda x, s: x, x0, 0.1, 3, sigma="big")
    with pytest.raises(ValueError, match="sigma"):
        langevin(lambda x, s: x, x0, 0.1, 3, sigma=-1.0)


def test_annealed_langevin_levels_nfe_and_start():
    seen = []

    def score(x, sigma):
        seen.append(sigma)
        return -x / (1.0 + sigma**2)

    sig = np.array([3.0, 1.0, 0.5])
    x0 = np.random.default_rng(0).normal(size=(6, 2))
    tr = annealed_langevin(score, sig, None, [2, 1, 3], 0.01, generator=0, x0=x0, denoise=True)
    assert seen == [3.0, 3.0, 1.0, 0.5, 0.5, 0.5, 0.5]  # levels in order, then Tweedie at s_L
    assert tr.nfe == 7 and len(tr) == 8
    np.testing.assert_array_equal(tr.prior, x0)
    np.testing.assert_allclose(tr.t, np.arange(8) / 7)
    u = annealed_langevin(score, sig, 50, 1, 0.01, generator=0, init="uniform", keep=2)
    assert np.abs(u.prior).max() <= 3.0 and u.prior.shape == (50, 2)
    with pytest.raises(ValueError, match="steps_per_level must have 3"):
        annealed_langevin(score, sig, 5, [1, 2], 0.01)
    with pytest.raises(TypeError, match="steps_per_level"):
        annealed_langevin(score, sig, 5, [1.5] * 3, 0.01)
    with pytest.raises(ValueError, match="decreasing"):
        annealed_langevin(score, sig[::-1], 5, 1, 0.01)
    with pytest.raises(ValueError, match="init"):
        annealed_langevin(score, sig, 5, 1, 0.01, init="cube")


# --- the contract as a Protocol --------------------------------------------------------------


def test_generative_model_protocol():
    class Dummy(sampling.Model):
        def __init__(self):
            self._init_target("gaussian")

        def field(self, x, t):
            return -x

        def sample(self, n, steps, generator=None, *, x0=None, keep=None):
            x, _ = self._start(n, x0, generator)
            return ode(self.field, x, steps, keep=keep)

    m = Dummy()
    assert isinstance(m, GenerativeModel) and m.dim == 2 and m.target_name == "gaussian"
    assert not isinstance(object(), GenerativeModel)
    assert m.prior(3, 0).shape == (3, 2)


def test_langevin_with_score_minus_x_has_the_exact_euler_maruyama_law():
    # the Fokker-Planck particle scheme of chapter 3: drift -grad V = -x (OU), Gaussian start;
    # the chain stays Gaussian with the closed-form law of fokker_planck.ou_euler_maruyama
    n, dt, k = 200_000, 0.05, 20
    m0, S0 = np.array([2.0, -1.0]), np.array([[0.5, 0.2], [0.2, 0.3]])
    x0 = np.random.default_rng(0).multivariate_normal(m0, S0, size=n)
    x = langevin(lambda y: -y, x0, dt, k, generator=1, keep=2).samples
    m, S = ou_euler_maruyama(m0, S0, dt, k)
    # Monte Carlo standard errors at n = 2e5 are ~2e-3; 1e-2 is five of them
    np.testing.assert_allclose(x.mean(0), m, atol=1e-2)
    np.testing.assert_allclose(np.cov(x.T), S, atol=1e-2)


def test_langevin_reproducible_records_evenly_and_rejects_divergence():
    x0 = np.zeros((5, 2))
    a = langevin(lambda y: -y, x0, 0.1, 8, generator=3)
    b = langevin(lambda y: -y, x0, 0.1, 8, generator=3, keep=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(b.x[1], a.x[4])  # keep=3: steps 0, 4, 8
    with pytest.raises(ValueError, match="NaN/Inf at step 1"), np.errstate(over="ignore"):
        # one step: the drift is finite at the start, the update overflows to inf
        langevin(lambda x: np.full_like(x, 1e308), np.ones((4, 1)), 10.0, 1, generator=0)


def test_field_evaluates_large_batches_in_chunks_with_the_same_result_on_any_thread_count():
    import torch

    from wgf import nets, threads

    n = 3 * Field.CHUNK + 17
    x = np.random.default_rng(0).normal(size=(n, 2))
    t = np.full(n, 0.3)  # a per-point argument is split with x; a scalar is passed whole
    seen = []

    def fn(y, s, c):
        seen.append(len(y))
        return y * np.asarray(s).reshape(-1, 1) + c

    f = Field(fn, "velocity")
    assert np.array_equal(f(x, t, 2.0), x * 0.3 + 2.0)
    assert f.calls == 1 and sorted(seen) == sorted([Field.CHUNK] * 3 + [17])
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.SiLU(), torch.nn.Linear(64, 2))
    pred = nets.numpy_predictor(lambda y, s: net(torch.cat([y, s.reshape(-1, 1)], 1)))
    out = {}
    for k in (1, 2):
        threads.configure_workers(k)
        try:
            out[k] = Field(pred)(x, t)
        finally:
            threads.configure_workers(None)
    assert np.array_equal(out[1], out[2])
    np.testing.assert_allclose(out[1], pred(x, t), rtol=1e-6, atol=1e-6)  # float32 round-off
    with pytest.raises(ValueError, match="rows"):
        Field(lambda y: y[:-1] if len(y) == Field.CHUNK else y)(x)
