"""Tests of wgf.geodesics against closed forms and exact discrete OT."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from strategies import point_clouds, spd_matrices

from wgf import geodesics as geo
from wgf import ot as wot

RNG = np.random.default_rng(2024)


def random_spd(d, rng=RNG):
    B = rng.normal(size=(d, d))
    return B @ B.T + 0.3 * np.eye(d)


def gaussian_cells(x, m, s):
    """Exact cell averages of N(m, s^2) on the uniform grid of cell centres x."""
    h = x[1] - x[0]
    edges = np.append(x - h / 2, x[-1] + h / 2)
    r = np.diff(stats.norm(m, s).cdf(edges)) / h
    return r / (r.sum() * h)


# ------------------------------------------------------------------------------ Gaussians


@pytest.mark.parametrize("d", [1, 2, 3])
def test_mccann_gaussian_endpoints_and_mean(d):
    m0, m1 = RNG.normal(size=d), RNG.normal(size=d)
    S0, S1 = random_spd(d), random_spd(d)
    g0 = geo.mccann_gaussian(m0, S0, m1, S1, 0.0)
    g1 = geo.mccann_gaussian(m0, S0, m1, S1, 1.0)
    np.testing.assert_allclose(g0.mean, m0, atol=1e-14)
    np.testing.assert_allclose(g0.cov, S0, atol=1e-12)
    np.testing.assert_allclose(g1.mean, m1, atol=1e-14)
    np.testing.assert_allclose(g1.cov, S1, atol=1e-10 * np.abs(S1).max())
    gt = geo.mccann_gaussian(m0, S0, m1, S1, 0.3)
    np.testing.assert_allclose(gt.mean, 0.7 * m0 + 0.3 * m1, atol=1e-14)


def test_mccann_gaussian_1d_closed_form():
    # in 1-D the standard deviations interpolate linearly
    g = geo.mccann_gaussian(1.0, 4.0, -1.0, 0.25, 0.25)
    assert g.mean[0] == pytest.approx(0.5)
    assert np.sqrt(g.cov[0, 0]) == pytest.approx(0.75 * 2.0 + 0.25 * 0.5, rel=1e-14)


@given(
    st.integers(1, 3).flatmap(lambda d: st.tuples(spd_matrices(d), spd_matrices(d))),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_gaussian_geodesic_has_constant_speed(covs, s, t):
    S0, S1 = covs
    d = S0.shape[0]
    m0, m1 = np.zeros(d), np.arange(d, dtype=float)
    gs, gt = (geo.mccann_gaussian(m0, S0, m1, S1, u) for u in (s, t))
    w01 = wot.w2_gaussian(m0, S0, m1, S1)
    wst = wot.w2_gaussian(gs.mean, gs.cov, gt.mean, gt.cov)
    assert wst == pytest.approx(abs(t - s) * w01, rel=1e-6, abs=1e-6)
    # and the mean squared speed is W2^2 at every time
    assert gt.mean_squared_speed() == pytest.approx(w01**2, rel=1e-8, abs=1e-10)


def test_gaussian_velocity_field_transports_particles():
    m0, m1 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    S0, S1 = random_spd(2), random_spd(2)
    T = wot.gaussian_ot_map(m0, S0, m1, S1)
    x0 = RNG.multivariate_normal(m0, S0, size=50)
    t = 0.4
    xt = (1 - t) * x0 + t * T(x0)
    g = geo.mccann_gaussian(m0, S0, m1, S1, t)
    # a particle on its straight line moves with velocity T(x0) - x0
    np.testing.assert_allclose(g.velocity(xt), T(x0) - x0, atol=1e-10)
    # and the velocity field satisfies the continuity equation: d/dt S_t = B S_t + S_t B^T
    dt = 1e-6
    gp, gm = (geo.mccann_gaussian(m0, S0, m1, S1, t + e) for e in (dt, -dt))
    B = g.velocity_matrix()
    np.testing.assert_allclose((gp.cov - gm.cov) / (2 * dt), B @ g.cov + g.cov @ B.T, atol=1e-6)


def test_gaussian_kinetic_energy_quadrature_is_w2_squared():
    m0, m1 = np.array([1.0, 0.0, -1.0]), np.zeros(3)
    S0, S1 = random_spd(3), random_spd(3)
    u, w = np.polynomial.legendre.leggauss(8)
    ts = 0.5 * (u + 1)
    ke = 0.5 * sum(
        wi * geo.mccann_gaussian(m0, S0, m1, S1, ti).mean_squared_speed()
        for ti, wi in zip(ts, w, strict=True)
    )
    assert ke == pytest.approx(wot.w2_gaussian(m0, S0, m1, S1) ** 2, rel=1e-12)


# ------------------------------------------------------------------------------ 1-D densities


def test_mccann_1d_between_gaussians_matches_closed_form():
    # exact for the piecewise-constant densities, hence a first-order (in h, L1) approximation
    # of the interpolation between the smooth Gaussians: halving h halves the error
    errors = []
    for n in (1000, 2000):
        x = (np.arange(n) + 0.5) / n * 16 - 8
        h = x[1] - x[0]
        r0, r1 = gaussian_cells(x, -1.5, 0.5), gaussian_cells(x, 1.0, 1.0)
        for t in (0.0, 1.0):
            np.testing.assert_allclose(geo.mccann_1d(x, r0, r1, t), [r0, r1][int(t)], atol=1e-12)
        rt = geo.mccann_1d(x, r0, r1, 0.5)
        assert rt.sum() * h == pytest.approx(1.0, abs=1e-12)
        errors.append(np.abs(rt - gaussian_cells(x, -0.25, 0.75)).sum() * h)
    assert errors[1] < 1e-3
    assert 1.8 < errors[0] / errors[1] < 2.2


def test_mccann_1d_translation_and_dilation_are_exact():
    n = 400
    x = (np.arange(n) + 0.5) / n
    box = np.where((x > 0.1) & (x < 0.2), 10.0, 0.0)  # cells align with the box edges
    box2 = np.where((x > 0.3) & (x < 0.5), 5.0, 0.0)
    rt = geo.mccann_1d(x, box, box2, 0.5)
    np.testing.assert_allclose(rt, np.where((x > 0.2) & (x < 0.35), 1 / 0.15, 0.0), atol=1e-9)


def test_mccann_1d_handles_gaps_in_the_support():
    n = 300
    x = (np.arange(n) + 0.5) / n
    r0 = np.where((x < 0.1) | (x > 0.9), 5.0, 0.0)  # two blocks, total mass 1
    r1 = np.where((x > 0.4) & (x < 0.6), 5.0, 0.0)
    rt = geo.mccann_1d(x, r0, r1, 0.5)
    # each block (width 0.1, density 5) is halfway to its target, with width and density kept
    expected = np.where(((x > 0.2) & (x < 0.3)) | ((x > 0.7) & (x < 0.8)), 5.0, 0.0)
    np.testing.assert_allclose(rt, expected, atol=1e-9)


def test_mccann_1d_constant_speed_by_quantiles():
    n = 600
    x = (np.arange(n) + 0.5) / n * 8 - 4
    h = x[1] - x[0]
    r0 = gaussian_cells(x, -1.0, 0.4)
    r1 = 0.5 * gaussian_cells(x, 0.5, 0.3) + 0.5 * gaussian_cells(x, 2.0, 0.5)
    s, t = 0.2, 0.7
    rs, rt = geo.mccann_1d(x, r0, r1, s), geo.mccann_1d(x, r0, r1, t)
    # W2 of the piecewise-constant densities: refine each cell into sub-points
    sub = (np.arange(20) + 0.5) / 20 - 0.5
    pts = (x[:, None] + h * sub).ravel()

    def w2(a, b):
        return wot.w2_1d(pts, pts, np.repeat(a * h / 20, 20), np.repeat(b * h / 20, 20))

    assert w2(rs, rt) == pytest.approx((t - s) * w2(r0, r1), rel=2e-3)


# ------------------------------------------------------------------------------ samples


@given(point_clouds(), st.data())
def test_mccann_samples_constant_speed_exact(x, data):
    y = data.draw(point_clouds(d=x.shape[1]))
    s, t = data.draw(st.floats(0, 1)), data.draw(st.floats(0, 1))
    plan = wot.ot_plan(x, y)
    zs = geo.mccann_samples(x, y, s, plan=plan)
    zt = geo.mccann_samples(x, y, t, plan=plan)
    w01 = wot.w2(x, y)
    wst = wot.w2(zs.points, zt.points, zs.weights / zs.weights.sum(), zt.weights / zt.weights.sum())
    assert wst == pytest.approx(abs(t - s) * w01, rel=1e-6, abs=1e-6)
    assert zt.kinetic_energy() == pytest.approx(w01**2, rel=1e-9, abs=1e-9)


def test_mccann_samples_endpoints_and_weights():
    x, y = RNG.normal(size=(30, 2)), RNG.normal(size=(20, 2)) + 2
    z0, z1 = geo.mccann_samples(x, y, 0.0), geo.mccann_samples(x, y, 1.0)
    assert z0.weights.sum() == pytest.approx(1.0)
    # the support of the plan projects onto every point of x and of y
    assert {tuple(p) for p in np.round(z0.points, 12)} == {tuple(p) for p in np.round(x, 12)}
    assert {tuple(p) for p in np.round(z1.points, 12)} == {tuple(p) for p in np.round(y, 12)}


# ------------------------------------------------------------------------------ bad input


def test_bad_input():
    x = (np.arange(10) + 0.5) / 10
    r = np.ones(10)
    with pytest.raises(ValueError, match="t must lie in"):
        geo.mccann_gaussian(0.0, 1.0, 1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="t must lie in"):
        geo.mccann_1d(x, r, r, -0.1)
    with pytest.raises(ValueError, match="t must lie in"):
        geo.mccann_samples(x, x, np.nan)
    with pytest.raises(TypeError, match="t must be a real number"):
        geo.mccann_samples(x, x, "half")
    with pytest.raises(ValueError, match="S1 must be positive definite"):
        geo.mccann_gaussian([0, 0], np.eye(2), [0, 0], -np.eye(2), 0.5)
    with pytest.raises(ValueError, match="rho0 must be non-negative"):
        geo.mccann_1d(x, np.r_[-1.0, 3.0, np.ones(8)], r, 0.5)
    with pytest.raises(ValueError, match="rho1 must integrate to 1"):
        geo.mccann_1d(x, r, 2 * r, 0.5)
    with pytest.raises(ValueError, match=r"rho1 must have the grid\'s shape \(10,\)"):
        geo.mccann_1d(x, r, np.ones(12), 0.5)
    with pytest.raises(ValueError, match="x must be uniformly spaced"):
        geo.mccann_1d(x**2, r, r, 0.5)
    with pytest.raises(ValueError, match="x must have last dimension 2"):
        geo.mccann_gaussian([0, 0], np.eye(2), [1, 1], np.eye(2), 0.5).velocity(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="plan must have shape"):
        geo.mccann_samples(x, x, 0.5, plan=np.eye(3))
    with pytest.raises(ValueError, match="plan must have marginals"):
        geo.mccann_samples(x, x, 0.5, plan=np.eye(10))
    with pytest.raises(ValueError, match="plan must be non-negative"):
        geo.mccann_samples(x, x, 0.5, plan=-np.eye(10) / 10)
