"""Tests for wgf.manifold: exact curves of mixtures and their lengths, against closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgf import data
from wgf import manifold as mf
from wgf.flow_matching import gaussian_icfm_velocity
from wgf.functionals import fisher_gaussian
from wgf.metrics import icfm_velocity
from wgf.mixtures import GaussianMixture
from wgf.ot import w2_gaussian

GAUSS = data.gaussian()
M1, S1 = GAUSS.means[0], GAUSS.covs[0]


def test_time_grid_is_refined_at_the_requested_end():
    g = mf.time_grid(0.0, 2.0, 50, first=1e-4)
    assert g[0] == 0.0 and g[-1] == 2.0 and np.all(np.diff(g) > 0)
    assert np.isclose(g[1], 2e-4)
    e = mf.time_grid(0.0, 1.0, 50, refine="end", first=1e-3)
    assert e[0] == 0.0 and e[-1] == 1.0 and np.isclose(1 - e[-2], 1e-3)


def test_trapezoid_weights_integrate_linear_functions_exactly():
    t = mf.time_grid(0.0, 3.0, 30)
    w = mf.trapezoid_weights(t)
    assert np.isclose(w.sum(), 3.0) and np.isclose(w @ (2 * t + 1), 9.0 + 3.0)


def test_bures_speed_of_a_translation_and_a_dilation():
    # translation at velocity a: speed |a|; dilation S = s(t)^2 I in d dims: speed sqrt(d) |s'|
    a = np.array([0.3, -0.4])
    assert np.isclose(mf.bures_speed([0, 0], np.eye(2), a, np.zeros((2, 2))), 0.5)
    s, ds = 1.7, 0.3
    assert np.isclose(
        mf.bures_speed([0, 0], s**2 * np.eye(2), [0, 0], 2 * s * ds * np.eye(2)), np.sqrt(2) * ds
    )


def test_ou_speed_is_the_square_root_of_the_relative_fisher_information():
    curve = mf.gaussian_curve("vp", M1, S1)
    for s in (0.0, 0.1, 0.7, 2.0):
        m, S, dm, dS = curve(s)
        fisher = fisher_gaussian(m, S, np.zeros(2), np.eye(2))
        assert np.isclose(mf.bures_speed(m, S, dm, dS), np.sqrt(fisher), rtol=1e-10)


def test_bures_geodesic_has_length_w2_and_constant_speed():
    S0 = np.array([[0.5, 0.1], [0.1, 0.8]])
    m0 = np.array([0.2, 0.1])
    curve = mf.gaussian_curve("geodesic", M1, S1, m0=m0, S0=S0)
    length, speed = mf.bures_length(curve, np.linspace(0, 1, 21))
    exact = w2_gaussian(m0, S0, M1, S1)
    assert np.allclose(speed, exact, rtol=1e-8)
    assert np.isclose(length, exact, rtol=1e-10)


def test_ou_curve_of_an_isotropic_gaussian_is_a_geodesic_but_not_of_a_shifted_one():
    s = mf.time_grid(0, 30, 2000, first=1e-7)
    iso = mf.bures_length(mf.gaussian_curve("vp", [0, 0], 4 * np.eye(2)), s)[0]
    # W2(N(0, 4I), N(0, I)) = sqrt(2); the trapezoid rule on this grid is good to ~1e-5
    assert np.isclose(iso, np.sqrt(2), rtol=1e-4)
    curved = mf.bures_length(mf.gaussian_curve("vp", M1, S1), s)[0]
    assert curved > 1.03 * w2_gaussian(np.zeros(2), np.eye(2), M1, S1)


def test_curve_length_matches_bures_quadrature_on_a_gaussian():
    s = mf.time_grid(0, 12, 80, first=1e-3)
    exact = mf.bures_length(mf.gaussian_curve("vp", M1, S1), s)[0]
    est = mf.curve_length(GAUSS, "vp", s, n=4000, generator=0)
    assert abs(est.length - exact) < 4 * est.se and est.se < 0.01
    t = np.linspace(0, 1, 41)
    exact = mf.bures_length(mf.gaussian_curve("icfm", M1, S1), t)[0]
    est = mf.curve_length(GAUSS, "icfm", t, n=4000, generator=1)
    assert abs(est.length - exact) < 4 * est.se


def test_length_standard_error_is_calibrated():
    s = mf.time_grid(0, 8, 25, first=1e-3)
    ests = [mf.curve_length(GAUSS, "vp", s, n=400, generator=k) for k in range(40)]
    lengths = np.array([e.length for e in ests])
    se = np.median([e.se for e in ests])
    assert 0.6 < lengths.std(ddof=1) / se < 1.5


def test_ve_speed_of_a_gaussian_is_the_dilation_speed():
    # X ~ N(0, c I): rho_sigma = N(0, (c + sigma^2) I), speed per unit sigma = sqrt(d) sigma / sqrt(c + sigma^2)
    mix = GaussianMixture([1.0], [[0.0, 0.0]], [0.5 * np.eye(2)])
    sig = np.linspace(0.0, 2.0, 11)
    est = mf.curve_length(mix, "ve", sig, n=20000, generator=2)
    exact = np.sqrt(2) * sig / np.sqrt(0.5 + sig**2)
    assert np.allclose(est.speed, exact, atol=5 * est.speed_se.max() + 1e-12)


def test_icfm_marginal_ends_are_prior_and_data():
    mix = data.eight_gaussians()
    start, end = mf.icfm_marginal(mix, 0.0), mf.icfm_marginal(mix, 1.0)
    assert np.allclose(start.means, 0) and np.allclose(start.covs, np.eye(2))
    assert np.allclose(end.means, mix.means) and np.allclose(end.covs, mix.covs)


def test_icfm_velocity_of_one_gaussian_matches_the_closed_form():
    v = icfm_velocity(GAUSS)
    ref = gaussian_icfm_velocity(np.zeros(2), np.eye(2), M1, S1)
    x = np.random.default_rng(3).standard_normal((50, 2))
    for t in (0.0, 0.3, 0.8, 1.0):
        assert np.allclose(v(x, t), ref(x, t), atol=1e-12)


def test_icfm_velocity_solves_the_continuity_equation():
    mix = data.eight_gaussians()
    v = icfm_velocity(mix)
    x = np.random.default_rng(4).uniform(-2.5, 2.5, (40, 2))
    t, h = 0.6, 1e-4

    def flux(y):
        return mf.icfm_marginal(mix, t).prob(y)[:, None] * v(y, t)

    div = sum(
        (flux(x + h * e)[:, k] - flux(x - h * e)[:, k]) / (2 * h) for k, e in enumerate(np.eye(2))
    )
    dpdt = (mf.icfm_marginal(mix, t + h).prob(x) - mf.icfm_marginal(mix, t - h).prob(x)) / (2 * h)
    assert np.allclose(dpdt + div, 0, atol=1e-6 * np.abs(dpdt).max())


@settings(max_examples=15, deadline=None)
@given(st.floats(0.01, 3.0), st.floats(0.05, 4.0))
def test_ou_velocity_is_minus_grad_log_ratio_for_a_gaussian(s, c):
    mix = GaussianMixture([1.0], [[0.5, -0.2]], [c * np.eye(2)])
    x = np.array([[0.3, 0.1], [-1.0, 2.0]])
    e = np.exp(-s)
    var = e**2 * c + 1 - e**2
    expected = (x - e * np.array([0.5, -0.2])) / var - x
    assert np.allclose(mf.ou_velocity(mix)(x, s), expected)


def test_bad_inputs_are_rejected_with_the_argument_named():
    with pytest.raises(TypeError, match="mixture"):
        mf.curve_length("eight_gaussians", "vp", [0.0, 1.0])
    with pytest.raises(ValueError, match="kind"):
        mf.curve_length(GAUSS, "sde", [0.0, 1.0])
    with pytest.raises(ValueError, match="times"):
        mf.curve_length(GAUSS, "vp", [1.0, 0.5])
    with pytest.raises(ValueError, match="times"):
        mf.curve_length(GAUSS, "icfm", [0.0, 1.5])
    with pytest.raises(ValueError, match="times"):
        mf.curve_length(GAUSS, "vp", [0.0, np.nan])
    with pytest.raises(ValueError, match="n"):
        mf.curve_length(GAUSS, "vp", [0.0, 1.0], n=1)
    with pytest.raises(ValueError, match="refine"):
        mf.time_grid(0, 1, 10, refine="middle")
    with pytest.raises(ValueError, match="first"):
        mf.time_grid(0, 1, 10, first=2.0)
    with pytest.raises(ValueError, match="S"):
        mf.bures_speed([0, 0], [[1, 0], [0, -1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="dS"):
        mf.bures_speed([0, 0], np.eye(2), [0, 0], [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="kind"):
        mf.gaussian_curve("ve", M1, S1)
    with pytest.raises(ValueError, match="t"):
        mf.icfm_marginal(GAUSS, 1.2)
    with pytest.raises(ValueError, match="x"):
        icfm_velocity(GAUSS)(np.zeros((3, 3)), 0.5)
    with pytest.raises(TypeError, match="curve"):
        mf.bures_length(None, [0.0, 1.0])
