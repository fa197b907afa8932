"""NCSN / SMLD: exact mixture scores, (annealed) Langevin against closed forms, DSM, zoo model."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from wgf import zoo
from wgf.mixtures import GaussianMixture
from wgf.sampling import annealed_langevin, langevin
from wgf.schedules import ve_sigmas
from wgf.score_matching import LONGER, NCSN, dsm_loss, level_time, mixture_score

MIX = GaussianMixture(
    [0.3, 0.7], [[-1.0, 0.5], [1.5, -0.5]], [[[0.5, 0.1], [0.1, 0.3]], 0.2 * np.eye(2)]
)

# --- exact scores ---------------------------------------------------------------------------


@given(st.floats(0.0, 3.0), st.integers(0, 2**16))
def test_mixture_score_is_the_gradient_of_the_smoothed_log_density(sigma, seed):
    x = np.random.default_rng(seed).normal(scale=2.0, size=(5, 2))
    score = mixture_score(MIX)(x, sigma)
    p, h = MIX.smoothed(sigma), 1e-5
    fd = np.stack(
        [(p.log_prob(x + h * e) - p.log_prob(x - h * e)) / (2 * h) for e in np.eye(2)], axis=1
    )
    np.testing.assert_allclose(score, fd, rtol=1e-5, atol=1e-6)


def test_mixture_score_caches_and_checks():
    score = mixture_score(MIX)
    x = np.zeros((3, 2))
    np.testing.assert_array_equal(score(x, 0.5), score(x, np.float32(0.5)))
    with pytest.raises(TypeError, match="mixture"):
        mixture_score(lambda x: x)
    with pytest.raises(ValueError, match="sigma"):
        score(x, -1.0)


def test_mixture_score_per_point_levels_match_scalar_calls():
    score = mixture_score(MIX)
    x = np.random.default_rng(0).normal(size=(6, 2))
    sig = np.array([0.1, 1.0, 0.1, 2.0, 1.0, 0.0])
    expected = np.stack([score(x[i : i + 1], s)[0] for i, s in enumerate(sig)])
    np.testing.assert_allclose(score(x, sig), expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(score(x, np.full(6, 0.5)), score(x, 0.5))
    with pytest.raises(ValueError, match="sigma"):
        score(x, np.array([0.5, 1.0]))  # neither a scalar nor one level per point
    with pytest.raises(ValueError, match="sigma"):
        score(x, np.array([0.5, -1.0, 1.0, 1.0, 1.0, 1.0]))


# --- Langevin on a Gaussian: exact law of the chain -----------------------------------------


def test_langevin_matches_the_ula_recursion_and_stationary_variance():
    # target N(0, q): x' = (1 - a) x + sqrt(2 alpha) z with a = alpha / q, so
    # m_K = (1-a)^K m0, v_K = v_inf + (1-a)^{2K}(v0 - v_inf), v_inf = q / (1 - alpha / (2q))
    q, alpha, K, n = 1.5, 0.3, 40, 40_000
    a = alpha / q
    rng = np.random.default_rng(1)
    x0 = 3.0 + 0.5 * rng.standard_normal((n, 1))
    tr = langevin(lambda x: -x / q, x0, alpha, K, generator=2, keep=5)
    v_inf = q / (1 - alpha / (2 * q))
    m_K = (1 - a) ** K * 3.0
    v_K = v_inf + (1 - a) ** (2 * K) * (0.25 - v_inf)
    x = tr.samples[:, 0]
    assert abs(x.mean() - m_K) < 5 * np.sqrt(v_K / n)
    assert abs(x.var() - v_K) < 5 * v_K * np.sqrt(2 / n)
    assert abs(v_K - q) > 10 * v_K * np.sqrt(2 / n)  # the ULA bias is resolved, not q itself
    assert tr.x.shape == (5, n, 1) and tr.nfe == K and tr.t[0] == 0.0 and tr.t[-1] == 1.0


def test_langevin_2d_gaussian_covariance_per_eigendirection():
    Q = np.array([[1.0, 0.4], [0.4, 0.5]])
    target = GaussianMixture([1.0], [[1.0, -2.0]], [Q])
    alpha, n = 0.05, 20_000
    x0 = np.random.default_rng(3).normal(size=(n, 2))
    tr = langevin(lambda x, s: target.score(x), x0, alpha, 600, generator=4, keep=2, sigma=1.0)
    q, U = np.linalg.eigh(Q)
    C_inf = (U * (q / (1 - alpha / (2 * q)))) @ U.T
    x = tr.samples
    np.testing.assert_allclose(x.mean(0), [1.0, -2.0], atol=5 * np.sqrt(q.max() / n))
    np.testing.assert_allclose(np.cov(x.T), C_inf, atol=6 * q.max() * np.sqrt(2 / n))


def test_langevin_bad_input():
    x0 = np.zeros((4, 2))
    with pytest.raises(TypeError, match="score"):
        langevin("not a function", x0, 0.1, 5)
    with pytest.raises(ValueError, match="step"):
        langevin(lambda x: -x, x0, 0.0, 5)
    with pytest.raises(ValueError, match="n_steps"):
        langevin(lambda x: -x, x0, 0.1, 0)
    with pytest.raises(ValueError, match="shape"):
        langevin(lambda x: x[:, :1], x0, 0.1, 5)
    with pytest.raises(ValueError, match="NaN"):
        langevin(lambda x: np.full_like(x, np.nan), x0, 0.1, 5)
    with pytest.raises(ValueError, match="x0"):
        langevin(lambda x: -x, np.full((3, 2), np.inf), 0.1, 5)


# --- annealed Langevin ------------------------------------------------------------------------


def test_annealed_langevin_shapes_time_nfe_and_step_sizes():
    sigmas = ve_sigmas(0.1, 2.0, 4)
    seen = []

    def score(x, sigma):
        seen.append(sigma)
        return -x / (1.0 + sigma**2)

    tr = annealed_langevin(score, sigmas, 50, [3, 1, 2, 2], 1e-3, generator=0, denoise=True)
    assert tr.x.shape == (10, 50, 2) and tr.nfe == 9
    assert tr.t[0] == 0.0 and tr.t[-1] == 1.0 and np.all(np.diff(tr.t) > 0)
    expected = [*np.repeat(sigmas, [3, 1, 2, 2]).tolist(), sigmas[-1]]
    np.testing.assert_allclose(seen, expected)
    # prior: N(0, sigma_1^2 I) by default, uniform on the cube [-sigma_1, sigma_1]^d on request
    big = annealed_langevin(score, sigmas, 4000, 1, 1e-3, generator=1, keep=2)
    assert abs(big.prior.std() - 2.0) < 0.1
    uni = annealed_langevin(score, sigmas, 500, 1, 1e-3, generator=1, init="uniform", dim=3)
    assert uni.prior.shape == (500, 3) and np.abs(uni.prior).max() <= 2.0


def test_annealed_langevin_level_steps_follow_eps_sigma2():
    # with a zero score every level adds variance 2 alpha_i T, alpha_i = eps sigma_i^2/sigma_L^2
    sigmas, eps, T = np.array([4.0, 2.0, 1.0]), 0.01, 5
    x0 = np.zeros((20_000, 1))
    tr = annealed_langevin(lambda x, s: 0 * x, sigmas, None, T, eps, generator=3, x0=x0)
    var = 2 * T * eps * np.sum(sigmas**2) / sigmas[-1] ** 2
    assert abs(tr.samples.var() / var - 1) < 5 * np.sqrt(2 / 20_000)


def test_annealed_langevin_with_exact_scores_recovers_mixture_weights():
    sigmas = ve_sigmas(0.1, 6.0, 8)
    tr = annealed_langevin(mixture_score(MIX), sigmas, 2000, 60, 2e-3, generator=5, keep=2)
    x = tr.samples
    resp = MIX.smoothed(0.0)._log_terms(x)[0].argmax(1)
    assert abs(np.mean(resp == 1) - 0.7) < 5 * np.sqrt(0.21 / 2000)


def test_annealed_langevin_is_reproducible():
    s = mixture_score(MIX)
    a = annealed_langevin(s, [1.0, 0.3], 10, 5, 0.01, generator=7)
    b = annealed_langevin(s, [1.0, 0.3], 10, 5, 0.01, generator=7)
    np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        ({"sigmas": [1.0, 1.0]}, ValueError, "decreasing"),
        ({"sigmas": [0.5, 1.0]}, ValueError, "decreasing"),
        ({"sigmas": [1.0, -0.5]}, ValueError, "positive"),
        ({"sigmas": []}, ValueError, "sigmas"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-3}, ValueError, "eps"),
        ({"score": 3.0}, TypeError, "score"),
        ({"n": 0}, ValueError, "n"),
        ({"steps_per_level": 0}, ValueError, "steps_per_level"),
        ({"steps_per_level": [1, 2, 3]}, ValueError, "steps_per_level"),
        ({"init": "cauchy"}, ValueError, "init"),
        ({"x0": np.zeros((3, 2))}, ValueError, "n="),
    ],
)
def test_annealed_langevin_bad_input(kwargs, exc, name):
    args = {"score": lambda x, s: -x, "sigmas": [1.0, 0.5], "n": 4, "eps": 1e-2}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        annealed_langevin(**args)


def test_level_time():
    sig = ve_sigmas(0.05, 5.0, 5)
    np.testing.assert_allclose(level_time(sig, 5.0, 0.05), np.linspace(0, 1, 5), atol=1e-12)
    u = level_time(torch.tensor(sig, dtype=torch.float64), 5.0, 0.05)
    np.testing.assert_allclose(u.numpy(), np.linspace(0, 1, 5), atol=1e-12)
    with pytest.raises(ValueError, match="sigma_min"):
        level_time(1.0, 1.0, 2.0)


# --- DSM loss and the model -------------------------------------------------------------------


def test_dsm_loss_is_minimised_by_the_exact_score():
    # data N(0, I): s_sigma(x) = -x/(1+sigma^2), out = sigma s, so out + z = (z - sigma x)/(1+sigma^2)
    # and the loss E|out + z|^2 = d/(1+sigma^2) (the irreducible DSM variance)
    gen = torch.Generator().manual_seed(0)
    n, sigma = 200_000, 0.7
    x, z = torch.randn(n, 2, generator=gen), torch.randn(n, 2, generator=gen)
    sig = torch.full((n,), sigma)
    exact = dsm_loss(lambda y, s: -s[:, None] * y / (1 + s[:, None] ** 2), x, sig, z)
    assert float(exact) == pytest.approx(2 / (1 + sigma**2), rel=0.01)
    worse = dsm_loss(lambda y, s: -0.8 * s[:, None] * y / (1 + s[:, None] ** 2), x, sig, z)
    assert float(worse) > float(exact)
    with pytest.raises(ValueError, match="sigma"):
        dsm_loss(lambda y, s: y, x, sig[:5], z)


TINY = {"hidden": 32, "depth": 2, "batch": 64, "steps": 300, "L": 5}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    yield tmp_path
    zoo._MEMORY.clear()


def test_zoo_ncsn_trains_and_samples(cache):
    model = zoo.get("ncsn", "eight_gaussians", seed=0, progress=False, **TINY)
    losses = model.losses
    assert losses.shape == (300,) and np.all(np.isfinite(losses))
    assert losses[-50:].mean() < losses[:50].mean()
    tr = model.sample(100, 13, generator=0)
    # 12 Langevin steps over 5 levels: 3, 3, 2, 2, 2, plus the Tweedie step
    assert tr.x.shape == (14, 100, 2) and tr.nfe == 13 and tr.t[-1] == 1.0
    tr2 = model.sample(100, 12, generator=0, denoise=False, keep=3)
    assert tr2.x.shape == (3, 100, 2) and tr2.nfe == 12
    s = model.score(np.zeros((7, 2)), 0.3)
    assert s.shape == (7, 2) and s.dtype == np.float64
    with pytest.raises(ValueError, match="steps"):
        model.sample(10, 5)  # 5 levels need 5 Langevin steps and the Tweedie step
    pf = model.sample(100, 8, generator=0, solver="heun")
    assert pf.nfe == 16 and pf.t[0] == 0.0 and pf.t[-1] == 1.0
    with pytest.raises(ValueError, match="solver"):
        model.sample(10, 12, solver="rk4")


def test_ncsn_training_is_deterministic():
    cfg = {**NCSN.defaults, **TINY, "steps": 20}
    a, b = NCSN("two_moons", cfg, 3), NCSN("two_moons", cfg, 3)
    np.testing.assert_array_equal(a.fit(progress=False), b.fit(progress=False))


def test_ncsn_bad_config():
    with pytest.raises(ValueError, match="sigma_min"):
        NCSN("eight_gaussians", {**NCSN.defaults, "sigma_min": 10.0}, 0)
    with pytest.raises(ValueError, match="eps"):
        NCSN("eight_gaussians", {**NCSN.defaults, "eps": 0.0}, 0)
    assert "eps" in NCSN.sampler_defaults and "eps" not in NCSN.defaults


def test_ncsn_score_rejects_nonpositive_sigma():
    model = NCSN("eight_gaussians", NCSN.defaults, 0)
    x = torch.zeros(3, 2)
    assert torch.all(torch.isfinite(model.score_torch(x, 0.5)))
    assert model.score_torch(x, torch.full((3,), 0.5)).shape == (3, 2)
    for bad in (0.0, -1.0, float("nan"), torch.tensor([0.5, 0.0, 0.5])):
        with pytest.raises(ValueError, match="sigma"):
            model.score_torch(x, bad)
    with pytest.raises(ValueError, match="sigma"):
        model.score(np.zeros((3, 2)), 0.0)


def test_longer_is_a_valid_ncsn_override_that_keys_a_new_network():
    assert set(LONGER) <= set(NCSN.defaults) and LONGER["steps"] > NCSN.defaults["steps"]
    assert zoo.key("ncsn", "eight_gaussians", **LONGER) != zoo.key("ncsn", "eight_gaussians")
    model = NCSN("eight_gaussians", {**NCSN.defaults, **LONGER}, seed=0)
    assert model.config["steps"] == LONGER["steps"]
