"""Gaussian closed forms of flow matching: McCann's field, the I-CFM regression, affine flows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgf import ot as wot
from wgf.flow_matching import conditional_path, euler_sample
from wgf.gaussian_flows import gaussian_flow, gaussian_icfm_velocity, gaussian_ot_velocity
from wgf.geodesics import mccann_gaussian
from wgf.trajectory import Trajectory

M0, S0 = np.zeros(2), np.eye(2)
M1, S1 = np.array([0.5, -0.5]), np.array([[1.0, 0.8], [0.8, 1.0]])


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.3 * np.eye(d)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_ot_velocity_matches_mccann(d, seed, t):
    rng = np.random.default_rng(seed)
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    A, B = _random_spd(rng, d), _random_spd(rng, d)
    v = gaussian_ot_velocity(m0, A, m1, B)
    x = rng.normal(size=(7, d))
    ref = mccann_gaussian(m0, A, m1, B, t).velocity(x)
    np.testing.assert_allclose(v(x, t), ref, atol=1e-8)
    # particles move on straight lines: v_t(x_t) = T(x0) - x0 along x_t = x0 + t (T(x0) - x0)
    T = wot.gaussian_ot_map(m0, A, m1, B)
    np.testing.assert_allclose(v(x + t * (T(x) - x), t), T(x) - x, atol=1e-8)


def test_gaussian_flows_reach_the_target_and_the_ot_one_has_action_w2sq():
    w2sq = wot.w2_gaussian(M0, S0, M1, S1) ** 2
    ot = gaussian_flow(gaussian_ot_velocity(M0, S0, M1, S1), M0, S0, steps=200)
    icfm = gaussian_flow(gaussian_icfm_velocity(M0, S0, M1, S1), M0, S0, steps=200)
    for flow in (ot, icfm):
        np.testing.assert_allclose(flow.mean[-1], M1, atol=1e-8)
        np.testing.assert_allclose(flow.cov[-1], S1, atol=1e-6)
    # OT: McCann's covariances and constant speed; action = W2^2
    for k in (50, 100, 150):
        np.testing.assert_allclose(
            ot.cov[k], mccann_gaussian(M0, S0, M1, S1, ot.t[k]).cov, atol=1e-8
        )
    np.testing.assert_allclose(ot.speed2, w2sq, rtol=1e-6)
    assert ot.action == pytest.approx(w2sq, rel=1e-8)
    # I-CFM: covariance (1-t)^2 S0 + t^2 S1, strictly larger action
    t = icfm.t[80]
    np.testing.assert_allclose(icfm.cov[80], (1 - t) ** 2 * S0 + t**2 * S1, atol=1e-8)
    assert icfm.action > 1.05 * w2sq


def test_icfm_velocity_is_the_regression_of_the_target():
    rng = np.random.default_rng(1)
    n, t = 400_000, 0.6
    x0 = rng.multivariate_normal(M0, S0, n)
    x1 = rng.multivariate_normal(M1, S1, n)
    xt = conditional_path(x0, x1, t)
    design = np.hstack([np.ones((n, 1)), xt])
    coef, *_ = np.linalg.lstsq(design, x1 - x0, rcond=None)
    v = gaussian_icfm_velocity(M0, S0, M1, S1)
    probe = rng.normal(size=(5, 2))
    np.testing.assert_allclose(np.hstack([np.ones((5, 1)), probe]) @ coef, v(probe, t), atol=0.02)


def test_one_euler_step_with_the_ot_velocity_is_exact():
    # straight paths at constant speed: a single Euler step lands on the OT map
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=(500, 2))
    v = gaussian_ot_velocity(M0, S0, M1, S1)
    tr = euler_sample(v, x0, steps=1)
    assert isinstance(tr, Trajectory) and tr.nfe == 1 and len(tr) == 2
    T = wot.gaussian_ot_map(M0, S0, M1, S1)
    np.testing.assert_allclose(tr.samples, T(x0), atol=1e-12)
    fine = euler_sample(v, x0, steps=50)
    np.testing.assert_allclose(fine.samples, T(x0), atol=1e-10)
    assert fine.straightness() < 1e-18 + 1e-12
    # the I-CFM field is curved: one Euler step is far from its 50-step solution
    vi = gaussian_icfm_velocity(M0, S0, M1, S1)
    one, many = euler_sample(vi, x0, steps=1), euler_sample(vi, x0, steps=200)
    assert np.mean(np.sum((one.samples - many.samples) ** 2, 1)) > 0.05
    assert many.straightness() > 0.01


def test_bad_input():
    v = gaussian_ot_velocity(M0, S0, M1, S1)
    with pytest.raises(ValueError, match="S1"):
        gaussian_ot_velocity(M0, S0, M1, -S1)
    with pytest.raises(ValueError, match="t must"):
        v.matrix(1.2)
    with pytest.raises(ValueError, match="steps"):
        gaussian_flow(v, M0, S0, steps=3)
    with pytest.raises(TypeError, match="velocity must be callable"):
        gaussian_flow(3, M0, S0)
    with pytest.raises(ValueError, match="velocity returned NaN"):
        gaussian_flow(lambda x, t: x * np.nan, M0, S0)
    with pytest.raises(ValueError, match="velocity must return shape"):
        gaussian_flow(lambda x, t: x[:, :1], M0, S0)
