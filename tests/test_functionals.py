"""Tests of wgf.functionals against closed forms (Gaussians) and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from strategies import spd_matrices

from wgf import functionals as fn

G1 = fn.Grid((-9.0, 9.0), 360)
G2 = fn.Grid(((-8.0, 8.0), (-7.0, 9.0)), (150, 160))


def gauss(grid, m, S):
    return grid.normalise(stats.multivariate_normal(m, S).pdf(grid.points).reshape(grid.shape))


def quadratic(x):
    return 0.5 * np.sum(x**2, axis=-1)


M1, S1 = np.array([0.7]), np.array([[0.6]])
M2, S2 = np.array([0.5, 1.0]), np.array([[0.8, 0.3], [0.3, 1.4]])


# ------------------------------------------------------------------------------ densities


def test_as_density_rejects_bad_densities():
    rho = gauss(G1, M1, S1)
    assert fn.as_density(rho, G1) is not None
    with pytest.raises(ValueError, match="integrate to 1"):
        fn.as_density(2 * rho, G1)
    bad = rho.copy()
    bad[0] = -1e-3
    with pytest.raises(ValueError, match="non-negative"):
        fn.as_density(bad, G1)
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn.as_density(bad, G1)
    with pytest.raises(ValueError, match="mismatched"):
        fn.entropy(rho, fn.Grid((-9.0, 9.0), 200))
    with pytest.raises(TypeError, match="grid"):
        fn.entropy(rho, (-9, 9))
    zero = rho.copy()
    zero[:5] = 0
    with pytest.raises(ValueError, match="strictly positive"):
        fn.entropy_variation(G1.normalise(zero), G1)


def test_gibbs_density_of_quadratic_is_standard_normal():
    pi = fn.gibbs_density(quadratic, G2)
    assert G2.integrate(pi) == pytest.approx(1.0, abs=1e-12)
    exact = stats.multivariate_normal(np.zeros(2), np.eye(2)).pdf(G2.points)
    np.testing.assert_allclose(pi, exact, atol=1e-10)


# ------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize(("grid", "m", "S"), [(G1, M1, S1), (G2, M2, S2)])
def test_functionals_of_a_gaussian(grid, m, S):
    rho = gauss(grid, m, S)
    d = m.size
    # potential energy of |x|^2/2: (|m|^2 + tr S)/2; entropy: -log((2 pi e)^d det S)/2
    assert fn.potential_energy(rho, quadratic, grid) == pytest.approx(
        0.5 * (m @ m + np.trace(S)), rel=1e-8
    )
    expected_h = -0.5 * np.log((2 * np.pi * np.e) ** d * np.linalg.det(S))
    assert fn.entropy(rho, grid) == pytest.approx(expected_h, rel=1e-8)
    # interaction energy of W = |z|^2/2 is tr(S)/2, its first variation |x - m|^2/2 + tr(S)/2
    assert fn.interaction_energy(rho, quadratic, grid) == pytest.approx(0.5 * np.trace(S), rel=1e-6)
    var = fn.interaction_energy_variation(rho, quadratic, grid)
    z = grid.points - m
    np.testing.assert_allclose(var, 0.5 * np.sum(z**2, -1) + 0.5 * np.trace(S), atol=1e-6)
    # KL and Fisher information against N(0, I): closed forms
    pi = fn.gibbs_density(quadratic, grid)
    eye = np.eye(d)
    assert fn.kl(rho, pi, grid) == pytest.approx(fn.kl_gaussian(m, S, 0 * m, eye), rel=1e-8)
    # log(rho/pi) is quadratic, so central differences differentiate it exactly
    fisher = fn.relative_fisher_information(rho, pi, grid)
    assert fisher == pytest.approx(fn.fisher_gaussian(m, S, 0 * m, eye), rel=1e-8)
    # KL = H + V + log Z with Z = (2 pi)^(d/2)
    assert fn.kl(rho, pi, grid) == pytest.approx(
        fn.entropy(rho, grid)
        + fn.potential_energy(rho, quadratic, grid)
        + 0.5 * d * np.log(2 * np.pi),
        abs=1e-9,
    )


def test_fisher_information_converges_at_second_order():
    # For a Gaussian log(rho/pi) is quadratic and central differences are exact (tested above);
    # for a mixture the error is the O(h^2) of the differences.  Reference: the midpoint rule
    # with the exact score, spectrally accurate for a smooth, rapidly decaying integrand.
    w, m, s2 = np.array([0.3, 0.7]), np.array([-1.5, 1.0]), np.array([0.3, 0.6])

    def density_and_score(x):
        comp = w * np.exp(-0.5 * (x[..., None] - m) ** 2 / s2) / np.sqrt(2 * np.pi * s2)
        rho = comp.sum(-1)
        return rho, np.sum(comp * (-(x[..., None] - m) / s2), -1) / rho

    fine = fn.Grid((-9.0, 9.0), 4000)
    rho, score = density_and_score(fine.axes[0])
    exact = fine.integrate(rho * (score + fine.axes[0]) ** 2)
    errs = []
    for n in (60, 120, 240):
        g = fn.Grid((-9.0, 9.0), n)
        r = g.normalise(density_and_score(g.axes[0])[0])
        errs.append(
            abs(fn.relative_fisher_information(r, fn.gibbs_density(quadratic, g), g) - exact)
        )
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - 2) < 0.2)


def test_interaction_energy_matches_a_direct_double_sum():
    g = fn.Grid(((-3, 3), (-2, 2)), (9, 7))
    rng = np.random.default_rng(0)
    rho = g.normalise(rng.random(g.shape) + 0.1)

    def W(z):
        return np.exp(-np.sum(z**2, -1)) + 0.3 * z[..., 0]  # odd part must not contribute

    x = g.points.reshape(-1, 2)
    K = np.exp(-np.sum((x[:, None] - x[None]) ** 2, -1))
    r = rho.ravel() * g.cell_volume
    assert fn.interaction_energy(rho, W, g) == pytest.approx(0.5 * r @ K @ r, rel=1e-12)
    np.testing.assert_allclose(
        fn.interaction_energy_variation(rho, W, g).ravel(), K @ r, rtol=1e-10, atol=1e-13
    )
    with pytest.raises(TypeError, match="W must be callable"):
        fn.interaction_energy(rho, 1.0, g)
    with pytest.raises(ValueError, match="W must map"):
        fn.interaction_energy(rho, lambda z: z, g)


def test_kl_gaussian_and_fisher_gaussian_closed_forms():
    # 1-D: KL = (s^2 + m^2 - 1 - log s^2)/2, I = m^2 + (s - 1/s)^2 against N(0, 1)
    m, s2 = 0.7, 2.5
    assert fn.kl_gaussian(m, s2, 0, 1) == pytest.approx(0.5 * (s2 + m**2 - 1 - np.log(s2)))
    assert fn.fisher_gaussian(m, s2, 0, 1) == pytest.approx(m**2 + (s2 - 1) ** 2 / s2)
    assert fn.kl_gaussian(M2, S2, M2, S2) == pytest.approx(0.0, abs=1e-14)
    assert fn.fisher_gaussian(M2, S2, M2, S2) == pytest.approx(0.0, abs=1e-14)
    # Monte Carlo check of the general formula (non-identity target)
    rng = np.random.default_rng(3)
    m1, C1 = np.array([-1.0, 0.5]), np.array([[1.5, -0.4], [-0.4, 0.7]])
    x = rng.multivariate_normal(M2, S2, size=400_000)
    p, q = stats.multivariate_normal(M2, S2), stats.multivariate_normal(m1, C1)
    mc = np.mean(p.logpdf(x) - q.logpdf(x))
    assert fn.kl_gaussian(M2, S2, m1, C1) == pytest.approx(mc, abs=0.01)
    with pytest.raises(ValueError, match="positive definite"):
        fn.kl_gaussian(M2, -S2, M2, S2)
    with pytest.raises(ValueError, match="m1"):
        fn.fisher_gaussian(M2, S2, [0.0], S2)


@given(st.integers(1, 2).flatmap(lambda d: st.tuples(spd_matrices(d), spd_matrices(d))))
def test_gaussian_log_sobolev_inequality(covs):
    # N(0, I) satisfies the log-Sobolev inequality KL <= I / 2 (Bakry-Emery with lambda = 1)
    S, _ = covs
    m = np.linspace(-1, 1, S.shape[0])
    z = np.zeros_like(m)
    eye = np.eye(S.shape[0])
    assert fn.kl_gaussian(m, S, z, eye) <= 0.5 * fn.fisher_gaussian(m, S, z, eye) + 1e-9


# ------------------------------------------------------------------------------ first variations


G_SMALL = fn.Grid(((-2, 2), (-1, 1)), (8, 6))


@given(
    arrays(np.float64, G_SMALL.shape, elements=st.floats(0.2, 2.0)),
    arrays(np.float64, G_SMALL.shape, elements=st.floats(-1.0, 1.0)),
)
def test_first_variations_match_finite_differences(raw_rho, raw_eta):
    g = G_SMALL
    rho = g.normalise(raw_rho)
    eta = raw_eta - raw_eta.mean()  # mass preserving
    eta = eta * (0.1 * rho.min() / max(np.abs(eta).max(), 1e-12))  # keeps rho + eps eta > 0
    pi = fn.gibbs_density(lambda x: np.cos(x[..., 0]) + x[..., 1] ** 2, g)

    def W(z):
        return np.exp(-np.sum(z**2, -1))

    cases = [
        (
            lambda r: fn.potential_energy(r, quadratic, g),
            fn.potential_energy_variation(rho, quadratic, g),
        ),
        (lambda r: fn.entropy(r, g), fn.entropy_variation(rho, g)),
        (lambda r: fn.interaction_energy(r, W, g), fn.interaction_energy_variation(rho, W, g)),
        (lambda r: fn.kl(r, pi, g), fn.kl_variation(rho, pi, g)),
    ]
    eps = 1e-4
    for F, dF in cases:
        numeric = (F(rho + eps * eta) - F(rho - eps * eta)) / (2 * eps)
        # central difference: error O(eps^2 F''') with |eta| small: far below 1e-8
        assert numeric == pytest.approx(g.integrate(dF * eta), rel=1e-6, abs=1e-9)


# ------------------------------------------------------------------------------ Otto calculus


def test_wasserstein_gradients_of_the_basic_functionals():
    m, S = np.array([0.3, -0.2]), np.array([[0.7, 0.1], [0.1, 0.5]])
    rho = gauss(G2, m, S)
    x = G2.points
    P = np.linalg.inv(S)
    z = x - m
    grad_log = -np.einsum("ij,...j->...i", P, z)
    # exact Laplacian of the Gaussian and exact div(rho x)
    lap = rho * (np.sum(grad_log**2, -1) - np.trace(P))
    div_rho_x = rho * (2 + np.sum(grad_log * x, -1))
    pi = fn.gibbs_density(quadratic, G2)
    cases = [
        (fn.entropy_variation(rho, G2), -lap),  # heat equation
        (fn.potential_energy_variation(rho, quadratic, G2), -div_rho_x),  # transport
        (fn.kl_variation(rho, pi, G2), -(lap + div_rho_x)),  # Fokker-Planck
    ]
    for var, expected in cases:
        got = fn.wasserstein_gradient(rho, var, G2)
        assert G2.integrate(np.abs(got - expected)) < 1e-2 * G2.integrate(np.abs(expected))
        assert abs(G2.integrate(got)) < 1e-8  # mass is conserved
    # at the target the gradient vanishes identically
    np.testing.assert_allclose(
        fn.wasserstein_gradient(pi, fn.kl_variation(pi, pi, G2), G2), 0, atol=1e-12
    )
    # bad input: a variation or a density of the wrong shape (e.g. from another grid)
    with pytest.raises(ValueError, match="variation"):
        fn.wasserstein_gradient(rho, np.ones(3), G2)
    with pytest.raises(ValueError, match="variation"):
        fn.wasserstein_gradient(rho, np.ones(G1.shape), G2)
    with pytest.raises(ValueError, match="rho"):
        fn.wasserstein_gradient(gauss(G1, M1, S1), np.ones(G1.shape), G2)
    with pytest.raises(TypeError, match="grid"):
        fn.wasserstein_gradient(rho, np.ones(G2.shape), "G2")


def test_dissipation_of_potential_energy_and_fisher_information():
    rho = gauss(G2, M2, S2)
    assert fn.dissipation(
        rho, fn.potential_energy_variation(rho, quadratic, G2), G2
    ) == pytest.approx(M2 @ M2 + np.trace(S2), rel=1e-6)
    pi = fn.gibbs_density(quadratic, G2)
    assert fn.relative_fisher_information(pi, pi, G2) == pytest.approx(0.0, abs=1e-20)
    with pytest.raises(ValueError, match="variation"):
        fn.dissipation(rho, np.ones(3), G2)
    with pytest.raises(ValueError, match="pi"):
        fn.kl(rho, 2 * pi, G2)


def test_face_stencil_conserves_mass_and_checks_shapes():
    g = fn.Grid(((-2.0, 2.0), (-1.0, 3.0)), (12, 9))
    rng = np.random.default_rng(0)
    phi = rng.normal(size=g.shape)
    diffs = fn.face_differences(phi, g)
    assert [d.shape for d in diffs] == [(11, 9), (12, 8)]
    np.testing.assert_allclose(diffs[0], np.diff(phi, axis=0) / g.h[0])
    div = fn.face_divergence([rng.normal(size=d.shape) for d in diffs], g)
    assert abs(g.integrate(div)) < 1e-12  # no flux through the boundary: mass is conserved
    with pytest.raises(ValueError, match="fluxes"):
        fn.face_divergence([np.zeros((12, 9)), np.zeros((12, 8))], g)
    with pytest.raises(ValueError, match="face_density"):
        rho = g.normalise(np.ones(g.shape))
        fn.wasserstein_gradient(rho, phi, g, face_density=[np.ones((11, 9))])


def test_grid_rejects_infinite_cell_widths():
    with pytest.raises(ValueError, match="finite, positive cell widths"):
        fn.Grid((-1e308, 1e308), 10)
