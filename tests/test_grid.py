"""Tests of wgf.grid: geometry, derivatives, the Gaussian density and cell masses against closed
forms, and bad input."""

import numpy as np
import pytest
from scipy import stats

from wgf import functionals as fn
from wgf.grid import Grid

G1 = Grid((-9.0, 9.0), 360)
G2 = Grid(((-8.0, 8.0), (-7.0, 9.0)), (150, 160))
M2, S2 = np.array([0.5, 1.0]), np.array([[0.8, 0.3], [0.3, 1.4]])


def test_the_old_home_re_exports_the_grid():
    assert fn.Grid is Grid


def test_grid_geometry():
    g = Grid(((0, 1), (0, 2)), (4, 5))
    assert g.shape == (4, 5) and g.d == 2
    assert g.h == pytest.approx((0.25, 0.4))
    np.testing.assert_allclose(g.axes[0], [0.125, 0.375, 0.625, 0.875])
    assert g.points.shape == (4, 5, 2)
    assert g.integrate(np.ones(g.shape)) == pytest.approx(2.0)
    assert g == Grid(((0, 1), (0, 2)), (4, 5)) and g != Grid(((0, 1), (0, 2)), 5)
    assert "Grid" in repr(g)
    assert Grid((0, 1), 3).shape == (3,)


def test_grid_gradient_and_divergence_exact_on_quadratics():
    # second-order differences (also at the edges) are exact on quadratic polynomials
    f = G2.points[..., 0] ** 2 + 3 * G2.points[..., 0] * G2.points[..., 1] - G2.points[..., 1]
    g = G2.gradient(f)
    np.testing.assert_allclose(g[0], 2 * G2.points[..., 0] + 3 * G2.points[..., 1], atol=1e-9)
    np.testing.assert_allclose(g[1], 3 * G2.points[..., 0] - 1, atol=1e-9)
    np.testing.assert_allclose(G2.divergence(g), 2.0, atol=1e-8)


def test_grid_bad_input():
    with pytest.raises(ValueError, match="bounds"):
        Grid((1.0, 0.0), 10)
    with pytest.raises(ValueError, match="bounds"):
        Grid(((0, 1), (0, 1), (0, 1)), 4)
    with pytest.raises(ValueError, match="n must"):
        Grid((0, 1), 2)
    with pytest.raises(ValueError, match="n must"):
        Grid(((0, 1), (0, 1)), (4, 4, 4))
    with pytest.raises(TypeError, match="bounds"):
        Grid("ab", 4)
    with pytest.raises(TypeError, match="n must"):
        Grid((0, 1), 4.0)
    with pytest.raises(ValueError, match="mismatched"):
        G1.integrate(np.ones(10))
    with pytest.raises(ValueError, match="F must"):
        G2.divergence(np.ones(G2.shape))
    with pytest.raises(ValueError, match="non-negative"):
        G1.normalise(-np.ones(G1.shape))
    with pytest.raises(ValueError, match="positive mass"):
        G1.normalise(np.zeros(G1.shape))


def test_field_accepts_the_mixture_point_layout():
    # a callable sees points of shape (prod(shape), d), as GaussianMixture.prob expects
    seen = []
    f = G2.field(lambda x: seen.append(x.shape) or x[:, 0] - 2 * x[:, 1])
    assert seen == [(150 * 160, 2)]
    np.testing.assert_array_equal(f, G2.points[..., 0] - 2 * G2.points[..., 1])


def test_from_nodes_reproduces_the_nodes():
    x = np.linspace(-6.0, 6.0, 241)
    g = Grid.from_nodes(x)
    assert g.d == 1 and g.shape == (241,)
    assert g.h[0] == pytest.approx(0.05, rel=1e-13)
    np.testing.assert_allclose(g.axes[0], x, rtol=0, atol=1e-14)
    np.testing.assert_allclose([g.lower[0], g.upper[0]], [-6.025, 6.025], rtol=1e-15)
    with pytest.raises(ValueError, match="uniformly spaced"):
        Grid.from_nodes([0.0, 1.0, 3.0])
    with pytest.raises(ValueError, match="uniformly spaced"):
        Grid.from_nodes([2.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="x must be a 1-D array of at least 3"):
        Grid.from_nodes([0.0, 1.0], "x")
    with pytest.raises(ValueError, match="at least 3"):
        Grid.from_nodes(np.zeros((3, 3)))


@pytest.mark.parametrize(
    ("grid", "m", "S"),
    [(G1, np.array([0.7]), np.array([[0.6]])), (G2, M2, S2)],
)
def test_gaussian_matches_the_closed_form_density_and_moments(grid, m, S):
    rho = grid.gaussian(m, S)
    assert rho.shape == grid.shape
    # the box holds the Gaussian to > 6.7 standard deviations along every axis, so the grid
    # normalisation differs from 1 by the mass outside (< 2e-11) and the midpoint rule's
    # (spectrally small) error: the values are the exact density to 1e-10
    exact = stats.multivariate_normal(m, S).pdf(grid.points.reshape(-1, grid.d))
    np.testing.assert_allclose(rho.ravel(), exact, rtol=1e-10, atol=1e-300)
    assert grid.integrate(rho) == pytest.approx(1.0, abs=1e-14)
    assert fn.as_density(rho, grid) is not None
    # midpoint moments of a Gaussian converge spectrally: mean and covariance to round-off
    pts = grid.points.reshape(-1, grid.d)
    w = rho.ravel() * grid.cell_volume
    mean = w @ pts
    cov = (pts - mean).T @ ((pts - mean) * w[:, None])
    np.testing.assert_allclose(mean, m, atol=1e-12)
    np.testing.assert_allclose(cov, S, atol=1e-11)


def test_gaussian_scalar_parameters_and_truncation():
    np.testing.assert_array_equal(G1.gaussian(0.7, 0.6), G1.gaussian([0.7], [[0.6]]))
    # a Gaussian cut by the box is renormalised on it: values = pdf / (mass inside the box),
    # up to the midpoint rule's O(h^2) error (the density is not flat at the box's ends)
    g = Grid((0.0, 4.0), 4000)
    rho = g.gaussian(0.0, 1.0)
    inside = stats.norm.cdf(4.0) - 0.5
    np.testing.assert_allclose(rho, stats.norm.pdf(g.axes[0]) / inside, rtol=1e-7)
    with pytest.raises(ValueError, match="mean must have shape"):
        G2.gaussian([0.0], np.eye(2))
    with pytest.raises(ValueError, match="cov must be positive definite"):
        G2.gaussian(M2, [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="positive mass"):
        G1.gaussian(1e4, 1.0)  # underflows on the whole grid


def test_masses_are_the_cell_masses_of_a_density():
    rho = G2.gaussian(M2, S2)
    p = G2.masses(rho)
    assert p.shape == G2.shape and p.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(p, rho * G2.cell_volume, rtol=1e-13)
    # unnormalised input and callables: only ratios matter
    np.testing.assert_allclose(
        G1.masses(lambda x: 3.0 * np.exp(-(x[:, 0] ** 2))),
        G1.masses(np.exp(-(G1.axes[0] ** 2))),
        rtol=1e-14,
    )
    with pytest.raises(ValueError, match="f must be non-negative"):
        G1.masses(-np.ones(G1.shape))
    with pytest.raises(ValueError, match="positive mass"):
        G1.masses(np.zeros(G1.shape))
