"""DDPM / DDIM: exact oracles, samplers against Gaussian closed forms, bad input, zoo model."""

import numpy as np
import pytest
import torch

from wgf import data, ot, schedules, zoo
from wgf.diffusion import (
    DDIM,
    DDPM,
    LONGER,
    ddim_sample,
    ddim_step,
    ddpm_sample,
    mixture_eps,
    mixture_score,
    ou_clock,
    split_sample,
    timesteps,
    vp_velocity,
)
from wgf.mixtures import GaussianMixture

BETAS = schedules.linear_betas()
GAUSS = data.gaussian()


def _moments_ok(x, law, n_sigma=5.0):
    """Mean and covariance of samples x agree with a Gaussian law within sampling error."""
    n = x.shape[0]
    m, S = law.mean(), law.cov()
    se_mean = np.sqrt(np.diag(S) / n)
    assert np.all(np.abs(x.mean(0) - m) < n_sigma * se_mean), (x.mean(0), m)
    se_cov = np.sqrt((S**2 + np.outer(np.diag(S), np.diag(S))) / n)  # Var of a Gaussian cov entry
    assert np.all(np.abs(np.cov(x.T) - S) < n_sigma * se_cov), (np.cov(x.T), S)


# --- oracles --------------------------------------------------------------------------------


def test_mixture_eps_is_minus_scaled_finite_difference_score():
    mix = data.two_moons()
    eps = mixture_eps(mix, BETAS)
    x = np.random.default_rng(0).normal(size=(7, 2))
    for k in (1, 10, 300, 1000):
        law = mix.ou(schedules.ou_times(BETAS)[k - 1])
        h = 1e-5
        fd = np.stack(
            [(law.log_prob(x + h * e) - law.log_prob(x - h * e)) / (2 * h) for e in np.eye(2)], 1
        )
        abar = schedules.alphas_cumprod(BETAS)[k - 1]
        np.testing.assert_allclose(eps(x, k / 1000), -np.sqrt(1 - abar) * fd, rtol=1e-5, atol=1e-7)


def test_mixture_eps_is_tweedie_for_a_gaussian():
    # For N(m, S): E[eps | x_k] = sqrt(1 - abar) (abar S + (1 - abar) I)^{-1} (x - sqrt(abar) m)
    eps = mixture_eps(GAUSS, BETAS)
    x = np.random.default_rng(1).normal(size=(5, 2))
    for k in (1, 500, 1000):
        a = schedules.alphas_cumprod(BETAS)[k - 1]
        Sk = a * GAUSS.cov() + (1 - a) * np.eye(2)
        want = np.sqrt(1 - a) * np.linalg.solve(Sk, (x - np.sqrt(a) * GAUSS.mean()).T).T
        np.testing.assert_allclose(eps(x, k / 1000), want, rtol=1e-10, atol=1e-12)


def test_mixture_score_allows_the_data_and_continuous_times():
    score = mixture_score(GAUSS, BETAS)
    x = np.random.default_rng(3).normal(size=(4, 2))
    np.testing.assert_allclose(score(x, 0.0), GAUSS.score(x))
    # between the grid points the exact OU marginal at the interpolated OU time
    tau, _ = ou_clock(BETAS)
    np.testing.assert_allclose(score(x, 0.0005), GAUSS.ou(tau(0.0005)).score(x))
    times = schedules.ou_times(BETAS)
    assert 0.0 < tau(0.0005) < times[0]  # between t_0 = 0 and t_1
    with pytest.raises(ValueError, match="t must lie in"):
        mixture_eps(GAUSS, BETAS)(x, 0.0)
    with pytest.raises(ValueError, match="t must lie in"):
        score(x, 1.5)
    with pytest.raises(TypeError, match="mixture"):
        mixture_eps("eight_gaussians", BETAS)
    # an array of times is one noise level: equal entries are fine, mixed ones are an error
    np.testing.assert_allclose(score(x, np.full(2, 0.5)), score(x, 0.5))
    with pytest.raises(ValueError, match="equal entries"):
        score(x, np.array([0.5, 0.25]))


# --- samplers against closed forms ----------------------------------------------------------


def test_timesteps():
    np.testing.assert_array_equal(timesteps(1000, 1000), np.arange(1001))
    ks = timesteps(1000, 50)
    assert ks[0] == 0 and ks[-1] == 1000 and ks.size == 51 and np.all(np.diff(ks) == 20)
    np.testing.assert_array_equal(timesteps(10, 3), [0, 3, 7, 10])


@pytest.mark.parametrize("sampler", ["ddpm", "ddim0", "ddim1"])
def test_samplers_reach_a_gaussian_with_the_exact_oracle(sampler):
    eps = mixture_eps(GAUSS, BETAS)
    if sampler == "ddpm":
        tr = ddpm_sample(eps, BETAS, 4000, generator=0, keep=3)
        assert tr.nfe == 1000
    else:
        # 500 steps: the O(1/steps) discretisation bias (~0.5 % of the variance) is below
        # the 5-sigma sampling error of n = 4000 (~11 %)
        tr = ddim_sample(eps, BETAS, 500, eta=float(sampler[-1]), n=4000, generator=0, keep=3)
        assert tr.nfe == 500
    assert tr.x.shape == (3, 4000, 2)
    np.testing.assert_allclose(tr.t, [0.0, 0.5, 1.0])
    _moments_ok(tr.prior, GaussianMixture([1.0], [[0, 0]], [np.eye(2)]))
    _moments_ok(tr.samples, GAUSS)


def test_one_ddim_step_matches_the_exact_flow_to_second_order():
    # On a Gaussian law the deterministic DDIM step is affine; push the Gaussian rho_t through it
    # and compare with the exact marginal rho_{t - tau}: the error must scale as tau^2.
    t, errs = 0.5, []
    taus = np.array([0.04, 0.02, 0.01])
    for tau in taus:
        a, ap = np.exp(-2 * t), np.exp(-2 * (t - tau))
        law = GAUSS.ou(t)
        eps = lambda x, law=law, a=a: -np.sqrt(1 - a) * law.score(x)  # noqa: E731
        b0 = ddim_step(np.zeros((1, 2)), eps(np.zeros((1, 2))), a, ap)[0]
        A = np.stack([ddim_step(e[None], eps(e[None]), a, ap)[0] - b0 for e in np.eye(2)], 1)
        m, S = A @ law.mean() + b0, A @ law.cov() @ A.T
        exact = GAUSS.ou(t - tau)
        errs.append(ot.w2_gaussian(m, S, exact.mean(), exact.cov()))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(np.abs(ratios - 4) < 0.3), ratios


def test_ddim_eta_zero_is_deterministic_and_eta_one_is_not():
    eps = mixture_eps(GAUSS, BETAS)
    xT = np.random.default_rng(2).normal(size=(10, 2))
    a = ddim_sample(eps, BETAS, 20, 0.0, x0=xT, generator=1).samples
    b = ddim_sample(eps, BETAS, 20, 0.0, x0=xT, generator=5).samples
    np.testing.assert_array_equal(a, b)
    c = ddim_sample(eps, BETAS, 20, 1.0, x0=xT, generator=1).samples
    d = ddim_sample(eps, BETAS, 20, 1.0, x0=xT, generator=5).samples
    assert np.abs(c - d).max() > 1e-3


def test_trajectory_time_runs_from_prior_to_data():
    eps = mixture_eps(GAUSS, BETAS)
    tr = ddpm_sample(eps, BETAS, 5, steps=10, generator=0)
    np.testing.assert_allclose(tr.t, np.linspace(0, 1, 11))
    assert tr.x.shape == (11, 5, 2) and tr.nfe == 10
    tr = ddim_sample(eps, BETAS, 4, n=3, generator=0, keep=3)
    np.testing.assert_allclose(tr.t, [0.0, 0.5, 1.0])
    sp = split_sample(
        mixture_score(GAUSS, schedules.linear_betas(20)),
        schedules.linear_betas(20),
        n=6,
        generator=0,
        keep=5,
    )
    assert sp.x.shape == (5, 6, 2) and sp.nfe == 40 and sp.t[-1] == 1.0


def test_split_sampler_matches_ddpm_to_first_order_on_a_gaussian():
    # Split step (transport + Langevin) and DDPM differ at O(beta^2) per step.
    T = 1000
    betas = schedules.linear_betas(T)
    x = split_sample(mixture_score(GAUSS, betas), betas, 4000, generator=3, keep=2).samples
    _moments_ok(x, GAUSS)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"eta": 1.5}, ValueError, "eta"),
        ({"eta": -0.1}, ValueError, "eta"),
        ({"eta": "a"}, TypeError, "eta"),
        ({"steps": 1001}, ValueError, "steps"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": None}, ValueError, "steps"),
        ({"eps": 3}, TypeError, "eps"),
        ({"n": 0}, ValueError, "n"),
        ({"betas": [0.5, 1.2]}, ValueError, "betas"),
        ({"eps": lambda x, t: x[:, :1]}, ValueError, "shape"),
        ({"eps": lambda x, t: x * np.nan}, ValueError, "NaN"),
    ],
)
def test_ddim_bad_input(kwargs, exc, match):
    args = {"eps": mixture_eps(GAUSS, BETAS), "betas": BETAS, "steps": 10, "n": 4, "eta": 0.0}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ddim_sample(**args)


def test_ddpm_and_split_bad_input():
    with pytest.raises(TypeError, match="eps"):
        ddpm_sample("no", BETAS, 3)
    with pytest.raises(ValueError, match="steps"):
        ddpm_sample(mixture_eps(GAUSS, BETAS), BETAS, 3, steps=2000)
    with pytest.raises(TypeError, match="score"):
        split_sample(None, BETAS, 3)
    with pytest.raises(ValueError, match="x0"):
        ddpm_sample(mixture_eps(GAUSS, BETAS), BETAS, x0=np.full((3, 2), np.inf))
    with pytest.raises(ValueError, match="variance"):
        ddpm_sample(mixture_eps(GAUSS, BETAS), BETAS, 3, variance="small")
    with pytest.raises(TypeError, match="abar"):
        ddim_step(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0.4, 0.5]), 0.5)
    with pytest.raises(ValueError, match="abar"):
        ddim_step(np.zeros((1, 2)), np.zeros((1, 2)), 0.5, 0.4)
    with pytest.raises(ValueError, match="z"):
        ddim_step(np.zeros((1, 2)), np.zeros((1, 2)), 0.4, 0.5, eta=1.0)
    with pytest.raises(ValueError, match="eps_hat must have the shape"):
        ddim_step(np.zeros((2, 2)), np.zeros((1, 2)), 0.4, 0.5)
    with pytest.raises(ValueError, match="eps_hat contains NaN"):
        ddim_step(np.zeros((1, 2)), np.full((1, 2), np.nan), 0.4, 0.5)
    with pytest.raises(ValueError, match="x contains NaN"):
        ddim_step(np.full((1, 2), np.inf), np.zeros((1, 2)), 0.4, 0.5)
    with pytest.raises(ValueError, match="z must have the shape"):
        ddim_step(np.zeros((1, 2)), np.zeros((1, 2)), 0.4, 0.5, eta=1.0, z=np.zeros((1, 3)))


# --- the zoo model --------------------------------------------------------------------------

TINY = {"hidden": 16, "depth": 2, "embed_dim": 8, "steps": 200, "batch": 64, "T": 100}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    yield tmp_path
    zoo._MEMORY.clear()


def test_zoo_ddpm_trains_and_samples(cache):
    model = zoo.get("ddpm", "eight_gaussians", seed=0, progress=False, **TINY)
    assert model.trained and model.losses.shape == (200,) and np.all(np.isfinite(model.losses))
    # the simple loss starts near E|eps|^2 = d = 2 and decreases
    assert model.losses[-50:].mean() < model.losses[:20].mean()
    tr = model.sample(32, 100, generator=0, keep=5)
    assert isinstance(model, DDPM) and tr.x.shape == (5, 32, 2) and tr.nfe == 100
    assert tr.t[0] == 0.0 and tr.t[-1] == 1.0
    ddim = zoo.get("ddim", "eight_gaussians", seed=0, progress=False, **TINY)
    assert isinstance(ddim, DDIM) and not ddim.trained  # shares the "ddpm" training
    tr = ddim.sample(32, 10, generator=0)
    assert tr.x.shape == (11, 32, 2) and tr.nfe == 10
    again = ddim.sample(32, 10, generator=7).samples
    assert np.allclose(again, ddim.sample(32, 10, generator=7).samples)
    assert ddim.sample(32, 10, generator=7, eta=1.0).samples.shape == (32, 2)
    with pytest.raises(ValueError, match="eta"):
        ddim.sample(4, 10, eta=2.0)
    with pytest.raises(ValueError, match="steps"):
        model.sample(4, 101)
    assert model.sample(4, generator=0).nfe == 100  # default: all T steps


def test_training_is_deterministic():
    cfg = {**DDPM.defaults, **TINY, "steps": 10}
    a, b = DDPM("two_moons", cfg, 3), DDPM("two_moons", cfg, 3)
    np.testing.assert_array_equal(a.fit(progress=False), b.fit(progress=False))
    x = np.zeros((3, 2))
    np.testing.assert_array_equal(a.eps(x, 0.5), b.eps(x, 0.5))
    assert isinstance(a.module, torch.nn.Module)


def test_log_k_fraction():
    cfg = {**DDPM.defaults, **TINY, "steps": 5}
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises((TypeError, ValueError), match="log_k_fraction"):
            DDPM("two_moons", {**cfg, "log_k_fraction": bad}, 0)
    # the fraction changes which noise levels are drawn, hence the losses; 0 is uniform k
    uni = DDPM("two_moons", {**cfg, "log_k_fraction": 0.0}, 0).fit(progress=False)
    mix = DDPM("two_moons", {**cfg, "log_k_fraction": 1.0}, 0).fit(progress=False)
    assert uni.shape == mix.shape == (5,) and not np.allclose(uni, mix)


def test_fixed_small_variance_is_the_posterior_variance():
    # one step from k = T on a Gaussian: the sample variance of x_{T-1} given x_T differs by
    # exactly the noise variance, beta' (large) vs beta~ = beta'(1 - abar_p)/(1 - abar_k)
    T = 10
    betas = schedules.linear_betas(T, 0.05, 0.3)
    xT = np.zeros((20000, 2))
    eps = mixture_eps(GAUSS, betas)
    abar = schedules.alphas_cumprod(betas)
    spread = {}
    for var in ("large", "fixed_small"):
        tr = ddpm_sample(eps, betas, None, 2, generator=0, x0=xT, variance=var, keep=3)
        spread[var] = tr.x[1].var(axis=0).mean()
    ks = timesteps(T, 2)
    b = 1 - abar[ks[2] - 1] / abar[ks[1] - 1]
    small = b * (1 - abar[ks[1] - 1]) / (1 - abar[ks[2] - 1])
    np.testing.assert_allclose(spread["large"], b, rtol=0.03)
    np.testing.assert_allclose(spread["fixed_small"], small, rtol=0.03)


def test_vp_velocity_of_the_exact_eps_carries_a_gaussian_to_the_target():
    # the probability-flow ODE of the exact noise predictor, from N(0, I) at t = 0, ends at the
    # Gaussian target up to its O(h) Euler error and the N(0, I) prior mismatch (abar_T ~ 4e-5)
    from wgf.sampling import ode

    v = vp_velocity(mixture_eps(GAUSS, BETAS), BETAS)
    x0 = np.random.default_rng(4).normal(size=(4000, 2))
    tr = ode(v, x0, 200, method="heun", keep=2)
    assert tr.nfe == 400
    _moments_ok(tr.samples, GAUSS)


def test_ddim_and_the_probability_flow_field_share_one_clock():
    # DDIM (eta = 0) with many steps and Heun on vp_velocity discretise the same ODE: their
    # endpoints from the same x_T agree to discretisation error; a reversed clock would not
    from wgf.sampling import ode

    eps = mixture_eps(data.eight_gaussians(), BETAS)
    xT = np.random.default_rng(5).normal(size=(200, 2))
    ddim = ddim_sample(eps, BETAS, 1000, 0.0, x0=xT).samples
    pf = ode(vp_velocity(eps, BETAS), xT, 250, method="heun").samples
    assert np.abs(ddim - pf).max() < 0.05
    backwards = ode(lambda x, t: vp_velocity(eps, BETAS)(x, 1 - t), xT, 250).samples
    assert np.abs(ddim - backwards).max() > 5 * 0.05  # rejected by the same tolerance


def test_longer_is_a_valid_ddpm_override_that_keys_a_new_network_shared_by_ddim():
    assert set(LONGER) <= set(DDPM.defaults) and LONGER["steps"] > DDPM.defaults["steps"]
    default, longer = (
        zoo.key("ddpm", "eight_gaussians"),
        zoo.key("ddpm", "eight_gaussians", **LONGER),
    )
    assert longer != default
    assert zoo.key("ddim", "eight_gaussians", **LONGER) == longer  # one training, two samplers
