"""Tests of wgf.fokker_planck: the finite-volume scheme, Langevin particles and the exact OU flow."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.linalg import expm_multiply
from strategies import spd_matrices

from wgf import fokker_planck as fp
from wgf import functionals as fn
from wgf.mixtures import GaussianMixture


def quadratic(x):
    return 0.5 * np.sum(x**2, axis=-1)


def double_well(x):
    return np.sum((x**2 - 1) ** 2, axis=-1) / 4 + 0.3 * x[..., 0]


G1 = fn.Grid((-8.0, 8.0), 160)
G2 = fn.Grid(((-6.0, 6.0), (-6.0, 6.0)), (40, 44))
MIX1 = GaussianMixture([0.3, 0.7], [[-2.0], [1.5]], [[[0.3]], [[0.5]]])
MIX2 = GaussianMixture(
    [0.4, 0.6], [[-1.5, 0.5], [1.5, -0.5]], [np.diag([0.3, 0.6]), [[0.5, 0.2], [0.2, 0.4]]]
)


# ------------------------------------------------------------------------------ Bernoulli


@given(st.floats(-50, 50))
def test_bernoulli_identities(x):
    b = fp.bernoulli(x)
    assert b > 0
    # B(-x) = e^x B(x), the identity behind the equilibrium preservation
    assert fp.bernoulli(-x) == pytest.approx(np.exp(x) * b, rel=1e-9)


def test_bernoulli_values():
    assert fp.bernoulli(0.0) == 1.0
    np.testing.assert_allclose(fp.bernoulli([1e-7, 1.0]), [1 - 0.5e-7, 1 / (np.e - 1)], rtol=1e-12)
    np.testing.assert_allclose(fp.bernoulli([800.0, -800.0]), [0.0, 800.0])
    with pytest.raises(ValueError, match="NaN"):
        fp.bernoulli(np.nan)


# ------------------------------------------------------------------------------ finite volumes


@pytest.mark.parametrize("grid", [G1, G2])
@pytest.mark.parametrize("V", [quadratic, double_well])
def test_matrix_structure_and_exact_steady_state(grid, V):
    A = fp.fokker_planck_matrix(grid, V).toarray()
    off = A - np.diag(np.diag(A))
    assert off.min() >= 0  # Metzler: positivity of exp(tA) and of implicit Euler
    np.testing.assert_allclose(A.sum(axis=0), 0, atol=1e-9 * np.abs(A).max())  # mass
    pi = fn.gibbs_density(V, grid).ravel()
    assert np.abs(A @ pi).max() < 1e-11 * np.abs(A).max() * pi.max()  # discrete steady state


def test_matrix_without_potential_is_the_neumann_laplacian():
    g = fn.Grid((0, 1), 5)
    A = fp.fokker_planck_matrix(g, np.zeros(5)).toarray() * g.h[0] ** 2
    expected = np.diag([-1, -2, -2, -2, -1.0]) + np.diag([1.0] * 4, 1) + np.diag([1.0] * 4, -1)
    np.testing.assert_allclose(A, expected, atol=1e-14)


def test_solver_matches_matrix_exponential_and_time_orders():
    # time discretisation only: compare with exp(tA) rho0 on the same grid
    g = fn.Grid((-8.0, 8.0), 80)
    rho0 = g.normalise(MIX1.prob)
    A = fp.fokker_planck_matrix(g, quadratic)
    ref = expm_multiply(A * 0.5, rho0)
    for scheme, order in [("implicit_euler", 1), ("crank_nicolson", 2)]:
        errs = [
            np.abs(
                fp.solve_fokker_planck(rho0, g, quadratic, [0.5], dt, scheme=scheme)[0] - ref
            ).sum()
            for dt in (0.02, 0.01)
        ]
        assert np.log2(errs[0] / errs[1]) == pytest.approx(order, abs=0.15)


@pytest.mark.parametrize("grid", [G1, G2])
def test_solver_conserves_mass_stays_positive_and_keeps_pi(grid):
    rough = np.zeros(grid.shape)
    rough[(3,) * grid.d] = 1.0  # a single-cell initial density
    rho0 = grid.normalise(rough)
    out = fp.solve_fokker_planck(rho0, grid, double_well, [0.0, 0.1, 5.0], 0.5)
    np.testing.assert_array_equal(out[0], rho0)
    for rho in out:
        assert rho.min() >= 0
        assert grid.integrate(rho) == pytest.approx(1.0, abs=1e-12)
    pi = fn.gibbs_density(double_well, grid)
    kept = fp.solve_fokker_planck(pi, grid, double_well, [1.0, 2.0], 0.1, scheme="crank_nicolson")
    np.testing.assert_allclose(kept, np.stack([pi, pi]), atol=1e-12 * pi.max())


@pytest.mark.parametrize("grid", [G1, G2])
def test_crank_nicolson_positivity_threshold_is_h2_over_d(grid):
    # CN is positive when its explicit half-step I + dt A / 2 is entrywise non-negative: the
    # off-diagonal rates are positive, so the condition is dt <= 2 / max |A_ii|.  For a gentle
    # potential (|dV| <= 0.2 between neighbours, B(x) + B(-x) = x coth(x/2) = 2 + O(x^2))
    # |A_ii| = sum_k 2 / h_k^2 up to 0.4 %, so the threshold is 1 / sum_k h_k^-2 = h^2 / d.
    def gentle(x):
        return 0.05 * np.sum(x**2, axis=-1)

    A = fp.fokker_planck_matrix(grid, gentle)
    dt_star = 2.0 / np.abs(A.diagonal()).max()
    assert dt_star == pytest.approx(1.0 / np.sum(1.0 / np.array(grid.h) ** 2), rel=4e-3)
    rough = np.zeros(grid.shape)
    rough[(grid.shape[0] // 2,) * grid.d] = 1.0  # a single-cell density: the hardest case
    rho0 = grid.normalise(rough)
    ok = fp.solve_fokker_planck(rho0, grid, gentle, [5 * dt_star], dt_star, scheme="crank_nicolson")
    assert ok.min() >= 0
    # ten times beyond the threshold the scheme is no longer positive (measured min/max < -1)
    bad = fp.solve_fokker_planck(
        rho0, grid, gentle, [50 * dt_star], 10 * dt_star, scheme="crank_nicolson"
    )
    assert bad.min() < -0.1 * bad.max()


@pytest.mark.parametrize(("grid", "mix", "tol"), [(G1, MIX1, 2e-3), (G2, MIX2, 1.5e-2)])
def test_solver_matches_exact_ou_solution(grid, mix, tol):
    rho0 = grid.normalise(mix.prob)
    rho = fp.solve_fokker_planck(rho0, grid, quadratic, [1.0], 0.02, scheme="crank_nicolson")[0]
    # L1 error of the O(h^2) scheme: measured 7e-4 (h = 0.1, 1-D) and 5.7e-3 (h ~ 0.3, 2-D);
    # the tolerances leave a factor ~2.5 for platform differences
    assert grid.integrate(np.abs(rho - grid.field(mix.ou(1.0).prob))) < tol


def test_solver_bad_input():
    rho0 = fn.gibbs_density(quadratic, G1)
    with pytest.raises(ValueError, match="dt"):
        fp.solve_fokker_planck(rho0, G1, quadratic, [1.0], 0.0)
    with pytest.raises(ValueError, match="dt"):
        fp.solve_fokker_planck(rho0, G1, quadratic, [1.0], -0.1)
    with pytest.raises(ValueError, match="times"):
        fp.solve_fokker_planck(rho0, G1, quadratic, [1.0, 0.5], 0.1)
    with pytest.raises(ValueError, match="scheme"):
        fp.solve_fokker_planck(rho0, G1, quadratic, [1.0], 0.1, scheme="rk4")
    with pytest.raises(ValueError, match="integrate to 1"):
        fp.solve_fokker_planck(2 * rho0, G1, quadratic, [1.0], 0.1)
    bad = rho0.copy()
    bad[0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        fp.solve_fokker_planck(bad, G1, quadratic, [1.0], 0.1)
    bad[0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        fp.solve_fokker_planck(bad, G1, quadratic, [1.0], 0.1)
    with pytest.raises(ValueError, match="mismatched"):
        fp.solve_fokker_planck(rho0, G2, quadratic, [1.0], 0.1)
    with pytest.raises(TypeError, match="grid"):
        fp.fokker_planck_matrix("grid", quadratic)
    with pytest.raises(ValueError, match="V"):
        fp.fokker_planck_matrix(G1, lambda x: np.nan * x[..., 0])


# ------------------------------------------------------------------------------ exact OU


@given(spd_matrices(2), st.floats(0.0, 3.0), st.floats(0.0, 3.0))
def test_ou_gaussian_semigroup_and_ode(S0, s, t):
    m0 = np.array([1.0, -2.0])
    # semigroup: flowing s then t equals flowing s + t
    m_s, S_s = fp.ou_gaussian(m0, S0, s)
    m_st, S_st = fp.ou_gaussian(m_s, S_s, t)
    m_direct, S_direct = fp.ou_gaussian(m0, S0, s + t)
    np.testing.assert_allclose(m_st, m_direct, atol=1e-12)
    np.testing.assert_allclose(S_st, S_direct, atol=1e-10 * max(1, np.abs(S0).max()))
    # moment equations of the OU process: m' = -m, S' = 2 (I - S)
    e = 1e-6
    (mp, Sp), (mm, Sm) = fp.ou_gaussian(m0, S0, t + e), fp.ou_gaussian(m0, S0, t + 2 * e)
    m_t, S_t = fp.ou_gaussian(m0, S0, t + 1.5 * e)
    np.testing.assert_allclose((mm - mp) / e, -m_t, atol=1e-6)
    np.testing.assert_allclose(
        (Sm - Sp) / e, 2 * (np.eye(2) - S_t), atol=1e-5 * max(1, np.abs(S0).max())
    )


def test_ou_gaussian_limits_and_errors():
    m0, S0 = np.array([3.0]), np.array([[0.2]])
    m, S = fp.ou_gaussian(m0, S0, 0.0)
    np.testing.assert_array_equal(m, m0)
    np.testing.assert_allclose(S, S0)
    m, S = fp.ou_gaussian(m0, S0, 40.0)
    np.testing.assert_allclose(m, 0, atol=1e-15)
    np.testing.assert_allclose(S, 1, atol=1e-15)
    with pytest.raises(ValueError, match="t must"):
        fp.ou_gaussian(m0, S0, -1.0)
    with pytest.raises(ValueError, match="positive definite"):
        fp.ou_gaussian(m0, [[-1.0]], 1.0)


def test_ou_euler_maruyama_bias_is_first_order():
    m0, S0 = np.array([1.0]), np.array([[3.0]])
    m_ex, S_ex = fp.ou_gaussian(m0, S0, 1.0)
    errs = []
    for dt in (0.02, 0.01, 0.005):
        m, S = fp.ou_euler_maruyama(m0, S0, dt, round(1 / dt))
        errs.append(abs(m - m_ex)[0] + abs(S - S_ex)[0, 0])
    assert np.log2(errs[0] / errs[1]) == pytest.approx(1.0, abs=0.05)
    _, S_inf = fp.ou_euler_maruyama(m0, S0, 0.1, 2000)
    assert S_inf[0, 0] == pytest.approx(2 / (2 - 0.1), rel=1e-12)  # stationary variance
    with pytest.raises(ValueError, match="dt"):
        fp.ou_euler_maruyama(m0, S0, 1.0, 5)


def test_grid_field_accepts_the_mixture_point_layout():
    g = fn.Grid(((-8, 8), (-8, 8)), (100, 90))
    values = g.field(MIX2.ou(0.7).prob)
    assert values.shape == g.shape
    np.testing.assert_allclose(values[3, 5], MIX2.ou(0.7).prob(g.points[3, 5][None])[0])
    assert g.integrate(values) == pytest.approx(1.0, abs=1e-8)


def tilted(x):
    return 0.5 * np.sum(x**2, axis=-1) + 0.8 * np.sin(x[..., 0])


@pytest.mark.parametrize("grid", [G1, G2])
def test_kl_face_density_gives_the_solver_operator_exactly(grid):
    mix = MIX1 if grid.d == 1 else MIX2
    rho = grid.normalise(mix.ou(0.3).prob)
    faces = fp.kl_face_density(rho, grid, tilted)
    assert all(np.all(f > 0) for f in faces)
    pi = fn.gibbs_density(tilted, grid)
    grad_w = fn.wasserstein_gradient(rho, fn.kl_variation(rho, pi, grid), grid, face_density=faces)
    A = fp.fokker_planck_matrix(grid, tilted)
    np.testing.assert_allclose(-grad_w, (A @ rho.ravel()).reshape(grid.shape), atol=1e-12)
    # at equilibrium the face formula meets its limit B(dV) rho_i (phi constant)
    faces_pi = fp.kl_face_density(pi, grid, tilted)
    assert all(np.all(np.isfinite(f)) for f in faces_pi)


def test_ou_gaussian_names_t():
    with pytest.raises(ValueError, match="t must be a scalar"):
        fp.ou_gaussian([0.0], [[1.0]], [1.0, 2.0])
