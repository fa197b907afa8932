"""Tests of wgf.schedules against the published definitions and the exact OU correspondence."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgf import schedules as sch

# ------------------------------------------------------------------------------ linear (Ho et al.)


def test_linear_betas_published_values():
    b = sch.linear_betas()
    assert b.shape == (1000,) and b.dtype == np.float64
    assert b[0] == 1e-4  # beta_1
    assert b[-1] == 0.02  # beta_T
    np.testing.assert_allclose(np.diff(b), (0.02 - 1e-4) / 999, rtol=1e-9)


def test_linear_alphas_cumprod_matches_independent_product():
    abar = sch.alphas_cumprod(sch.linear_betas())
    # independent: a plain Python product of the published formula, and a log-sum with fsum
    prod = 1.0
    logs = []
    for k in range(1, 1001):
        beta_k = 1e-4 + (k - 1) * (0.02 - 1e-4) / 999
        prod *= 1.0 - beta_k
        logs.append(math.log1p(-beta_k))
    assert abar[-1] == pytest.approx(prod, rel=1e-12)
    assert abar[-1] == pytest.approx(math.exp(math.fsum(logs)), rel=1e-12)
    assert abar[-1] == pytest.approx(4.04e-5, rel=2e-3)  # the value quoted in the literature
    assert np.all(np.diff(abar) < 0) and abar[0] == 1 - 1e-4


def test_linear_betas_custom():
    b = sch.linear_betas(T=5, beta_start=0.1, beta_end=0.5)
    np.testing.assert_allclose(b, [0.1, 0.2, 0.3, 0.4, 0.5], rtol=1e-15)


# ------------------------------------------------------------------------------ cosine (Nichol & Dhariwal)


def f_cos(t, s=0.008):
    return np.cos((t + s) / (1 + s) * np.pi / 2) ** 2


def test_cosine_alpha_bar_definition():
    t = np.linspace(0, 1, 101)
    np.testing.assert_allclose(sch.cosine_alpha_bar(t), f_cos(t) / f_cos(0.0), rtol=1e-14)
    assert sch.cosine_alpha_bar(0.0) == 1.0  # abar_0 = f(0)/f(0): the data
    assert isinstance(sch.cosine_alpha_bar(0.5), float)
    assert sch.cosine_alpha_bar(1.0) == pytest.approx(0.0, abs=1e-30)
    assert np.all(np.diff(sch.cosine_alpha_bar(t)) < 0)


@pytest.mark.parametrize("T", [10, 100, 1000])
def test_cosine_betas_match_cos2_formula_and_clip_last_step(T):
    b = sch.cosine_betas(T)
    assert b.shape == (T,)
    k = np.arange(1, T + 1)
    unclipped = 1 - f_cos(k / T) / f_cos((k - 1) / T)
    clipped = unclipped > 0.999
    # for s = 0.008 the cap binds at the last step only: abar(1) = 0 makes the unclipped beta 1
    assert clipped[-1] and clipped.sum() == 1
    assert b[-1] == 0.999
    np.testing.assert_allclose(b[:-1], unclipped[:-1], rtol=1e-10, atol=1e-15)
    assert np.all((b > 0) & (b <= 0.999))
    # before the clip, the cumulative product reproduces abar(k/T) = f(k/T)/f(0) to round-off
    abar = sch.alphas_cumprod(b)
    np.testing.assert_allclose(abar[:-1], f_cos(k[:-1] / T) / f_cos(0.0), rtol=1e-11)
    # at the clipped step abar_T = 0.001 abar_{T-1} instead of 0
    assert abar[-1] == pytest.approx(0.001 * abar[-2], rel=1e-12)


def test_cosine_betas_clip_binds_more_with_lower_cap():
    b = sch.cosine_betas(1000, max_beta=0.5)
    k = np.arange(1, 1001)
    unclipped = 1 - f_cos(k / 1000) / f_cos((k - 1) / 1000)
    np.testing.assert_allclose(b, np.minimum(unclipped, 0.5), rtol=1e-10, atol=1e-15)
    assert (b == 0.5).sum() == (unclipped >= 0.5).sum() > 1


# ------------------------------------------------------------------------------ continuous VP (Song et al.)


def test_vp_closed_forms():
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(sch.vp_beta(t), 0.1 + t * 19.9, rtol=1e-15)
    np.testing.assert_allclose(sch.vp_integral(t), 0.1 * t + 0.5 * t**2 * 19.9, rtol=1e-15)
    # the integral really is the integral of beta (Simpson is exact on quadratics)
    fine = np.linspace(0, 1, 2001)
    from scipy.integrate import cumulative_simpson

    num = cumulative_simpson(sch.vp_beta(fine), x=fine, initial=0.0)
    np.testing.assert_allclose(num, sch.vp_integral(fine), rtol=1e-12, atol=1e-14)
    m, s = sch.vp_marginal(t)
    B = sch.vp_integral(t)
    np.testing.assert_allclose(m, np.exp(-0.5 * B), rtol=1e-15)
    np.testing.assert_allclose(s, np.sqrt(1 - np.exp(-B)), rtol=1e-12)
    assert sch.vp_marginal(0.0) == (1.0, 0.0)
    assert isinstance(sch.vp_beta(0.3), float)
    # at t = 1 the marginal is nearly N(0, I): B(1) = 10.05
    assert sch.vp_integral(1.0) == pytest.approx(10.05, rel=1e-15)


@given(
    st.floats(0, 1),
    st.floats(1e-3, 5),
    st.floats(0, 50),
)
def test_vp_marginal_is_variance_preserving(t, beta_min, extra):
    m, s = sch.vp_marginal(t, beta_min, beta_min + extra)
    assert m**2 + s**2 == pytest.approx(1.0, abs=1e-14)
    assert 0 < m <= 1 and 0 <= s < 1


def test_vp_marginal_matches_simulated_vp_sde():
    # Euler-Maruyama for dx = -beta(t) x / 2 dt + sqrt(beta(t)) dW from x0 = 2
    rng = np.random.default_rng(0)
    n, steps, t_end = 200_000, 400, 0.3
    x = np.full(n, 2.0)
    h = t_end / steps
    for i in range(steps):
        bt = sch.vp_beta((i + 0.5) * h)
        x = x - 0.5 * bt * x * h + np.sqrt(bt * h) * rng.standard_normal(n)
    m, s = sch.vp_marginal(t_end)
    assert x.mean() == pytest.approx(2.0 * m, abs=5 * s / np.sqrt(n) + 2e-3)
    assert x.std() == pytest.approx(s, rel=0.01)


@pytest.mark.parametrize("T", [250, 1000, 4000])
def test_ddpm_linear_agrees_with_continuous_vp_to_order_one_over_T(T):
    # beta_min = T beta_start, beta_max = T beta_end: the defaults 0.1 and 20
    b = sch.linear_betas(T, 0.1 / T, 20.0 / T)
    k = np.arange(1, T + 1)
    log_abar = np.log(sch.alphas_cumprod(b))
    B = sch.vp_integral(k / T)
    err_log = np.abs(log_abar + B).max()
    err = np.abs(np.exp(log_abar) - np.exp(-B)).max()
    # measured: err_log * T = 70.0, 67.7, 67.2 and err * T = 0.82, 0.81, 0.81 for T = 250, 1000, 4000
    assert err_log * T < 75
    assert err * T < 0.85
    m, _ = sch.vp_marginal(k / T)
    np.testing.assert_allclose(m**2, np.exp(-B), rtol=1e-14)


def test_ddpm_vp_error_is_first_order():
    errs = []
    for T in (500, 1000, 2000, 4000):
        b = sch.linear_betas(T, 0.1 / T, 20.0 / T)
        B = sch.vp_integral(np.arange(1, T + 1) / T)
        errs.append(np.abs(sch.alphas_cumprod(b) - np.exp(-B)).max())
    slope = np.polyfit(np.log([500, 1000, 2000, 4000]), np.log(errs), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.02)


# ------------------------------------------------------------------------------ DDPM <-> OU


@pytest.mark.parametrize("betas", [sch.linear_betas(), sch.cosine_betas(), sch.linear_betas(7)])
def test_alphas_cumprod_is_exp_minus_two_ou_time(betas):
    t = sch.ou_times(betas)
    assert t.shape == betas.shape and np.all(np.diff(t) > 0) and t[0] > 0
    np.testing.assert_allclose(sch.alphas_cumprod(betas), np.exp(-2 * t), rtol=1e-13)
    np.testing.assert_allclose(np.diff(t, prepend=0.0), -0.5 * np.log(1 - betas), rtol=1e-10)
    # round trip betas -> times -> betas
    np.testing.assert_allclose(sch.betas_from_ou_times(t), betas, rtol=1e-10, atol=1e-12)


def test_linear_schedule_total_ou_time():
    t = sch.ou_times(sch.linear_betas())
    # abar_T = 4.04e-5 <=> t_T = -log(abar_T)/2 = 5.06
    assert t[-1] == pytest.approx(-0.5 * np.log(4.0358e-5), rel=1e-4)


@pytest.mark.parametrize("beta", [1e-3, 0.3, 0.9])
def test_one_ddpm_step_is_the_exact_ou_transition(beta):
    rng = np.random.default_rng(42)
    dt = sch.ou_times([beta])[0]
    assert np.exp(-dt) == pytest.approx(np.sqrt(1 - beta), rel=1e-15)
    assert -np.expm1(-2 * dt) == pytest.approx(beta, rel=1e-14)
    # one DDPM step applied to N(m, S) samples: exact OU marginal e^{-dt} m, e^{-2dt} S + 1 - e^{-2dt}
    n = 400_000
    m = np.array([1.5, -2.0])
    A = np.array([[0.6, 0.0], [0.4, 0.3]])
    S = A @ A.T
    x = m + rng.standard_normal((n, 2)) @ A.T
    y = np.sqrt(1 - beta) * x + np.sqrt(beta) * rng.standard_normal((n, 2))
    mean_ou = np.exp(-dt) * m
    cov_ou = np.exp(-2 * dt) * S + (1 - np.exp(-2 * dt)) * np.eye(2)
    se = np.sqrt(np.diag(cov_ou) / n)
    assert np.all(np.abs(y.mean(0) - mean_ou) < 5 * se)
    np.testing.assert_allclose(np.cov(y.T), cov_ou, atol=6 * np.sqrt(2 / n))
    # and the OU SDE simulated by Euler-Maruyama over the same interval lands on the same law
    z = x.copy()
    steps = 200
    h = dt / steps
    for _ in range(steps):
        z = z - z * h + np.sqrt(2 * h) * rng.standard_normal((n, 2))
    assert np.all(np.abs(z.mean(0) - mean_ou) < 5 * se + 2 * h * dt)
    np.testing.assert_allclose(np.cov(z.T), cov_ou, atol=6 * np.sqrt(2 / n) + 2 * h * dt)


@given(st.lists(st.floats(1e-8, 0.999), min_size=1, max_size=50))
def test_round_trip_betas_times(betas):
    betas = np.array(betas)
    t = sch.ou_times(betas)
    np.testing.assert_allclose(sch.betas_from_ou_times(t), betas, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sch.alphas_cumprod(betas), np.exp(-2 * t), rtol=1e-12)


@given(st.lists(st.floats(1e-6, 3.0), min_size=1, max_size=50))
def test_round_trip_times_betas(increments):
    t = np.cumsum(increments)
    np.testing.assert_allclose(sch.ou_times(sch.betas_from_ou_times(t)), t, rtol=1e-12)


# ------------------------------------------------------------------------------ VE (Song & Ermon)


def test_ve_sigmas_ncsn_defaults():
    s = sch.ve_sigmas(0.01, 1.0, 10)
    assert s[0] == pytest.approx(1.0, rel=1e-15) and s[-1] == pytest.approx(0.01, rel=1e-15)
    assert np.all(np.diff(s) < 0)  # decreasing: largest noise first
    np.testing.assert_allclose(s[1:] / s[:-1], 0.01 ** (1 / 9), rtol=1e-13)


@given(st.floats(1e-4, 10), st.floats(1.001, 1e4), st.integers(2, 300))
def test_ve_sigmas_geometric(sigma_min, factor, L):
    sigma_max = sigma_min * factor
    s = sch.ve_sigmas(sigma_min, sigma_max, L)
    assert s.shape == (L,)
    assert s[0] == pytest.approx(sigma_max, rel=1e-13)
    assert s[-1] == pytest.approx(sigma_min, rel=1e-13)
    ratio = s[1:] / s[:-1]
    np.testing.assert_allclose(ratio, (sigma_min / sigma_max) ** (1 / (L - 1)), rtol=1e-12)


def test_ve_heat_time_matches_heat_flow_variance():
    sig = sch.ve_sigmas(0.01, 50.0, 20)
    np.testing.assert_allclose(sch.ve_heat_time(sig), sig**2 / 2, rtol=1e-15)
    assert sch.ve_heat_time(2.0) == 2.0
    # x + sigma z has the law of x + sqrt(2) W_t at t = sigma^2 / 2
    rng = np.random.default_rng(3)
    t = sch.ve_heat_time(0.7)
    w = np.sqrt(2 * t) * rng.standard_normal(200_000)
    assert w.var() == pytest.approx(0.49, rel=0.01)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sch.linear_betas(0), "T must be >= 2"),
        (lambda: sch.linear_betas(-5), "T must be >= 2"),
        (lambda: sch.linear_betas(1), "T must be >= 2"),
        (lambda: sch.linear_betas(10, beta_start=0.0), "beta_start"),
        (lambda: sch.linear_betas(10, beta_start=-0.1), "beta_start"),
        (lambda: sch.linear_betas(10, beta_end=1.0), "beta_end"),
        (lambda: sch.linear_betas(10, beta_end=np.nan), "beta_end"),
        (lambda: sch.cosine_betas(0), "T must be >= 1"),
        (lambda: sch.cosine_betas(10, s=-0.1), "s must be non-negative"),
        (lambda: sch.cosine_betas(10, s=np.nan), "s contains NaN"),
        (lambda: sch.cosine_betas(10, max_beta=1.0), "max_beta"),
        (lambda: sch.cosine_betas(10, max_beta=0.0), "max_beta"),
        (lambda: sch.cosine_alpha_bar(1.5), "t must lie in"),
        (lambda: sch.cosine_alpha_bar(-0.1), "t must lie in"),
        (lambda: sch.alphas_cumprod([0.1, 1.0]), "betas must lie in the open interval"),
        (lambda: sch.alphas_cumprod([0.1, 0.0]), "betas must lie in the open interval"),
        (lambda: sch.alphas_cumprod([0.1, -0.2]), "betas must lie in the open interval"),
        (lambda: sch.alphas_cumprod([0.1, np.nan]), "betas contains NaN"),
        (lambda: sch.alphas_cumprod([]), "betas must be a non-empty 1-D"),
        (lambda: sch.alphas_cumprod([[0.1]]), "betas must be a non-empty 1-D"),
        (lambda: sch.ou_times([0.5, 1.5]), "betas must lie in the open interval"),
        (lambda: sch.ou_times([np.inf]), "betas contains NaN or Inf"),
        (lambda: sch.betas_from_ou_times([0.0, 1.0]), "times must be strictly positive"),
        (lambda: sch.betas_from_ou_times([-1.0, 1.0]), "times must be strictly positive"),
        (lambda: sch.betas_from_ou_times([1.0, 2.0, 2.0]), "times must be strictly increasing"),
        (lambda: sch.betas_from_ou_times([1.0, 3.0, 2.0]), "times must be strictly increasing"),
        (lambda: sch.betas_from_ou_times([1.0, np.nan]), "times contains NaN"),
        (lambda: sch.betas_from_ou_times([]), "times must be a non-empty 1-D"),
        (lambda: sch.betas_from_ou_times([1.0, 1e3]), "times has a gap"),
        (lambda: sch.vp_beta(-0.1), "t must lie in"),
        (lambda: sch.vp_integral(1.1), "t must lie in"),
        (lambda: sch.vp_marginal(np.nan), "t contains NaN"),
        (lambda: sch.vp_beta(0.5, beta_min=0.0), "beta_min"),
        (lambda: sch.vp_beta(0.5, beta_max=-1.0), "beta_max"),
        (lambda: sch.vp_marginal(0.5, 10.0, 1.0), "beta_max must be >= beta_min"),
        (lambda: sch.ve_sigmas(1.0, 1.0, 10), "sigma_min must be < sigma_max"),
        (lambda: sch.ve_sigmas(2.0, 1.0, 10), "sigma_min must be < sigma_max"),
        (lambda: sch.ve_sigmas(0.0, 1.0, 10), "sigma_min"),
        (lambda: sch.ve_sigmas(-0.1, 1.0, 10), "sigma_min"),
        (lambda: sch.ve_sigmas(0.1, np.nan, 10), "sigma_max"),
        (lambda: sch.ve_sigmas(0.1, 1.0, 1), "L must be >= 2"),
        (lambda: sch.ve_heat_time(-1.0), "sigma must be non-negative"),
        (lambda: sch.ve_heat_time(np.nan), "sigma contains NaN"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: sch.linear_betas(10.0),
        lambda: sch.linear_betas(True),
        lambda: sch.ve_sigmas(0.1, 1.0, 2.5),
        lambda: sch.vp_beta("a"),
    ],
)
def test_wrong_types_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_overflow_and_vector_arguments_are_named():
    with pytest.raises(ValueError, match="sigma must be at most"):
        sch.ve_heat_time(1e200)
    with pytest.raises(ValueError, match="s must be a scalar"):
        sch.cosine_alpha_bar(0.5, s=[1.0, 2.0])
