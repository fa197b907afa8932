"""Tests of wgf.jko against closed forms, independent minimisations and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from strategies import spd_matrices

from wgf import fokker_planck as fp
from wgf import functionals as fn
from wgf import jko
from wgf import ot as wot

RNG = np.random.default_rng(4)


def random_spd(d, rng=RNG):
    B = rng.normal(size=(d, d))
    return B @ B.T + 0.3 * np.eye(d)


TAUS = st.floats(0.01, 3.0)


# ------------------------------------------------------------------------------ Gaussians


def test_gaussian_step_matches_squared_form_for_standard_target():
    m, S = np.array([1.0, -2.0]), random_spd(2)
    tau, a = 0.3, 1.3
    m1, S1 = jko.gaussian_jko_step(m, S, tau)
    s, U = np.linalg.eigh(S)
    s1 = (2 * a * tau + s + np.sqrt(s * (s + 4 * a * tau))) / (2 * a**2)
    np.testing.assert_allclose(m1, m / a, rtol=1e-14)
    np.testing.assert_allclose(S1, (U * s1) @ U.T, rtol=1e-12, atol=1e-14)


def test_gaussian_step_fixed_point_is_target():
    b, q = np.array([0.5, -1.0, 2.0]), 1.7
    m1, S1 = jko.gaussian_jko_step(b, q * np.eye(3), 0.4, b, q)
    np.testing.assert_allclose(m1, b, rtol=1e-14)
    np.testing.assert_allclose(S1, q * np.eye(3), rtol=1e-13)


@given(d=st.integers(1, 3), data=st.data(), tau=TAUS, q=st.floats(0.3, 3.0))
def test_closed_form_agrees_with_numerical_solver(d, data, tau, q):
    S = data.draw(spd_matrices(d))
    m = np.linspace(-1, 1, d)
    b = np.full(d, 0.5)
    m1, S1 = jko.gaussian_jko_step(m, S, tau, b, q)
    m2, S2 = jko.gaussian_jko_step_numerical(m, S, tau, b, q * np.eye(d))
    scale = 1.0 + np.abs(S1).max()
    np.testing.assert_allclose(m2, m1, atol=1e-6 * (1 + np.abs(m1).max()))
    np.testing.assert_allclose(S2, S1, atol=1e-6 * scale)


def test_numerical_step_accepts_a_small_step_limited_by_round_off():
    # tau = 0.01: BFGS stops on "precision loss" with a gradient ~1/tau times the round-off
    # (2.8e-6 on one machine); the 1/tau in the acceptance rule keeps this accurate result
    m, S, b = np.array([-1.0]), np.array([[6.0]]), np.array([0.5])
    m1, S1 = jko.gaussian_jko_step(m, S, 0.01, b, 2.0)
    m2, S2 = jko.gaussian_jko_step_numerical(m, S, 0.01, b, 2.0 * np.eye(1))
    np.testing.assert_allclose(m2, m1, atol=1e-7)
    np.testing.assert_allclose(S2, S1, atol=1e-6)


def objective_gradient(m1, S1, m, S, tau, b, q, h=1e-5):
    """Central-difference gradient of the JKO objective in the mean and the symmetric covariance.

    Independent of the step's formula: it differentiates the Bures + closed-form KL objective.
    Truncation error O(h^2) ~ 1e-10 times the third derivative, round-off ~ 1e-16 |J| / h.
    """
    d = m1.size

    def J(mm, SS):
        return jko.gaussian_jko_objective(mm, SS, m, S, tau, b, q)

    grad = []
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        grad.append((J(m1 + e, S1) - J(m1 - e, S1)) / (2 * h))
    for i in range(d):
        for j in range(i, d):
            E = np.zeros((d, d))
            E[i, j] = E[j, i] = h
            grad.append((J(m1, S1 + E) - J(m1, S1 - E)) / (2 * h))
    return np.array(grad)


@given(d=st.integers(1, 3), data=st.data(), tau=TAUS, q=st.floats(0.3, 3.0))
def test_step_is_a_stationary_point_of_the_objective(d, data, tau, q):
    # first-order optimality: the gradient of the objective (strictly convex along generalised
    # geodesics, so stationary = minimiser) vanishes at the closed-form step
    S = data.draw(spd_matrices(d))
    m, b = np.ones(d), np.zeros(d)
    m1, S1 = jko.gaussian_jko_step(m, S, tau, b, q)
    scale = 1.0 + abs(jko.gaussian_jko_objective(m1, S1, m, S, tau, b, q))
    assert np.abs(objective_gradient(m1, S1, m, S, tau, b, q)).max() < 1e-6 * scale
    # sensitivity: a relative error of 1e-4 in the covariance is detected
    S_off = S1 * (1 + 1e-4)
    assert np.abs(objective_gradient(m1, S_off, m, S, tau, b, q)).max() > 1e-6 * scale


@given(d=st.integers(1, 3), data=st.data(), tau=TAUS, q=st.floats(0.3, 3.0))
def test_inverse_map_undoes_the_step(d, data, tau, q):
    S = data.draw(spd_matrices(d))
    m, b = np.linspace(-2, 1, d), np.full(d, -0.3)
    m1, S1 = jko.gaussian_jko_step(m, S, tau, b, q)
    A, c = jko.gaussian_inverse_map(m1, S1, tau, b, q)
    scale = np.abs(S).max()
    np.testing.assert_allclose(A @ m1 + c, m, atol=1e-10 * (1 + np.abs(m).max()))
    np.testing.assert_allclose(A @ S1 @ A, S, atol=1e-10 * scale)
    # it is the optimal map (symmetric positive definite matrix, equal to the Bures map)
    assert np.linalg.eigvalsh(A).min() > 0
    np.testing.assert_allclose(A, wot.gaussian_ot_map(m1, S1, m, S).matrix, atol=1e-8 * (1 + scale))


def test_general_target_numerical_step_satisfies_optimality():
    Q = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    b, m, S, tau = np.array([1.0, 0.0, -1.0]), np.zeros(3), random_spd(3), 0.3
    m1, S1 = jko.gaussian_jko_step(m, S, tau, b, Q)  # dispatches to the numerical solver
    A, c = jko.gaussian_inverse_map(m1, S1, tau, b, Q)
    np.testing.assert_allclose(A @ m1 + c, m, atol=1e-6)
    np.testing.assert_allclose(A @ S1 @ A, S, atol=1e-6 * np.abs(S).max())
    np.testing.assert_allclose(
        m1,
        np.linalg.solve(np.linalg.inv(Q) + np.eye(3) / tau, np.linalg.solve(Q, b) + m / tau),
        atol=1e-8,
    )


def test_energy_dissipation_and_first_order_convergence_to_ou():
    m0, S0, T = np.array([2.0, -1.0]), np.array([[0.3, 0.1], [0.1, 0.6]]), 1.0
    errs = []
    for tau in [0.04, 0.02, 0.01]:
        M, C = jko.gaussian_jko_chain(m0, S0, tau, round(T / tau))
        F = [fn.kl_gaussian(mm, cc, np.zeros(2), np.eye(2)) for mm, cc in zip(M, C, strict=True)]
        W = [wot.w2_gaussian(M[k], C[k], M[k + 1], C[k + 1]) for k in range(len(M) - 1)]
        assert np.all(np.array(F[1:]) + np.array(W) ** 2 / (2 * tau) <= np.array(F[:-1]) + 1e-14)
        errs.append(wot.w2_gaussian(M[-1], C[-1], *fp.ou_gaussian(m0, S0, T)))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.05)


# ------------------------------------------------------------------------------ Lagrangian

POT = jko.quadratic_potential()


def gauss_particles(n, m=2.0, s=0.5):
    return jko.quantile_particles(stats.norm(m, s).ppf, n)


def test_lagrangian_step_solves_discrete_euler_lagrange_and_decreases_energy():
    y, tau = gauss_particles(300), 0.05
    x = jko.lagrangian_jko_step(y, tau, POT)
    r = 1 / np.diff(x)
    ent = np.concatenate([r, [0]]) - np.concatenate([[0], r])
    np.testing.assert_allclose(x + tau * (POT.grad(x) + ent), y, atol=1e-9)
    w2sq = np.mean((x - y) ** 2)
    assert jko.lagrangian_energy(x, POT) + w2sq / (2 * tau) <= jko.lagrangian_energy(y, POT)

    def objective(z):
        return jko.lagrangian_energy(z, POT) + np.mean((z - y) ** 2) / (2 * tau)

    rng = np.random.default_rng(0)
    for _ in range(5):
        assert objective(np.sort(x + 1e-4 * rng.normal(size=x.size))) >= objective(x)


def test_lagrangian_step_matches_gaussian_closed_form():
    n, tau = 20_000, 0.1
    y = gauss_particles(n)
    x = jko.lagrangian_jko_step(y, tau, POT)
    m1, S1 = jko.gaussian_jko_step([2.0], [[0.25]], tau)
    exact = stats.norm(m1[0], np.sqrt(S1[0, 0])).ppf((np.arange(n) + 0.5) / n)
    assert np.sqrt(np.mean((x - exact) ** 2)) < 1e-3  # spatial error O(1/N) in the tails


def test_lagrangian_chain_converges_to_ou_at_first_order():
    n, T = 4000, 0.5
    x0 = gauss_particles(n)
    mT, ST = fp.ou_gaussian(np.array([2.0]), np.array([[0.25]]), T)
    exact = stats.norm(mT[0], np.sqrt(ST[0, 0])).ppf((np.arange(n) + 0.5) / n)
    errs = [
        np.sqrt(np.mean((jko.lagrangian_jko_chain(x0, tau, round(T / tau), POT)[-1] - exact) ** 2))
        for tau in (0.05, 0.025)
    ]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.08)


def test_particle_density_score_and_energy_closed_forms():
    n = 20_000
    x = gauss_particles(n, 0.0, 1.0)
    mid, rho = jko.particle_density(x)
    assert np.sum(rho * np.diff(x)) == pytest.approx((n - 1) / n, rel=1e-12)
    central = np.abs(mid) < 2
    np.testing.assert_allclose(rho[central], stats.norm.pdf(mid[central]), rtol=1e-3)
    score = jko.particle_score(x)
    central = np.abs(x[1:-1]) < 2
    np.testing.assert_allclose(score[central], -x[1:-1][central], atol=1e-3)
    # F_N + log sqrt(2 pi) -> KL(N(0,1) || N(0,1)) = 0; for N(2, 1/4): KL in closed form
    assert jko.lagrangian_energy(x, POT) + 0.5 * np.log(2 * np.pi) == pytest.approx(0, abs=2e-3)
    y = gauss_particles(n)
    kl = fn.kl_gaussian(2.0, 0.25, 0.0, 1.0)
    assert jko.lagrangian_energy(y, POT) + 0.5 * np.log(2 * np.pi) == pytest.approx(kl, abs=2e-3)


def test_lagrangian_inverse_map_with_finite_difference_score():
    errs = []
    for n in (500, 2000):
        y = gauss_particles(n)
        x = jko.lagrangian_jko_step(y, 0.05, POT)
        mapped = x[1:-1] + 0.05 * (POT.grad(x[1:-1]) + jko.particle_score(x))
        u = (np.arange(1, n - 1) + 0.5) / n
        central = (u > 0.05) & (u < 0.95)
        errs.append(np.abs(mapped - y[1:-1])[central].max())
    # the finite-difference score differs from the exact discrete entropy gradient by a relative
    # O(jump^2) = O(N^-2) away from the tails: 4x the particles, 16x smaller error
    assert 12 < errs[0] / errs[1] < 20


# ------------------------------------------------------------------------------ bad input


def test_bad_inputs_raise():
    S = np.eye(2)
    with pytest.raises(ValueError, match="tau"):
        jko.gaussian_jko_step([0, 0], S, 0.0)
    with pytest.raises(ValueError, match="tau"):
        jko.gaussian_jko_step_numerical([0, 0], S, -1.0)
    with pytest.raises(ValueError, match="cov"):
        jko.gaussian_jko_step([0, 0], [[1, 2], [2, 1]], 0.1)
    with pytest.raises(ValueError, match="cov"):
        jko.gaussian_jko_step([0, 0], [[1, 0.5], [0, 1]], 0.1)
    with pytest.raises(ValueError, match="target_cov"):
        jko.gaussian_jko_step([0, 0], S, 0.1, target_cov=-1.0)
    with pytest.raises(ValueError, match="target_mean"):
        jko.gaussian_jko_step([0, 0], S, 0.1, target_mean=[0, 0, 0])
    with pytest.raises(ValueError, match="prev_mean"):
        jko.gaussian_jko_objective([0, 0], S, [0], [[1]], 0.1)
    with pytest.raises(ValueError, match="cov"):
        jko.gaussian_inverse_map([0, 0], np.eye(3), 0.1)
    with pytest.raises(ValueError, match="n_steps"):
        jko.gaussian_jko_chain([0], [[1]], 0.1, -1)
    with pytest.raises(ValueError, match="NaN"):
        jko.gaussian_jko_step([np.nan, 0], S, 0.1)
    # Lagrangian
    with pytest.raises(ValueError, match="increasing"):
        jko.lagrangian_jko_step([0.0, 2.0, 1.0], 0.1, POT)
    with pytest.raises(ValueError, match="tau"):
        jko.lagrangian_jko_step([0.0, 1.0, 2.0], 0.0, POT)
    with pytest.raises(ValueError, match="variance"):
        jko.quadratic_potential(0.0, 0.0)
    with pytest.raises(ValueError, match="n"):
        jko.quantile_particles(stats.norm().ppf, 2)
    with pytest.raises(ValueError, match="NaN"), np.errstate(invalid="ignore"):
        jko.quantile_particles(lambda u: np.log(u - 0.5), 10)
    with pytest.raises(ValueError, match="1-D"):
        jko.particle_density(np.ones((5, 2)))
    # chains
    with pytest.raises(ValueError, match="n_steps"):
        jko.lagrangian_jko_chain([0.0, 1.0, 2.0], 0.1, -1, POT)
    with pytest.raises(ValueError, match="increasing"):
        jko.lagrangian_jko_chain([0.0, 2.0, 1.0], 0.1, 2, POT)
    with pytest.raises(ValueError, match="tau"):
        jko.lagrangian_jko_chain([0.0, 1.0, 2.0], -0.1, 2, POT)
    with pytest.raises(ValueError, match="max_iter"):
        jko.gaussian_jko_step_numerical([0, 0], S, 0.1, max_iter=0)


def test_numerical_gaussian_step_raises_when_bfgs_stops_early():
    Q = np.array([[2.0, 0.5], [0.5, 1.0]])
    with pytest.raises(RuntimeError, match="BFGS stopped at gradient"):
        jko.gaussian_jko_step_numerical([3.0, -1.0], random_spd(2), 0.3, [1.0, 0.0], Q, max_iter=1)


def test_lagrangian_step_failure_paths():
    y = gauss_particles(50)
    with pytest.raises(RuntimeError, match="did not converge in 1 iterations"):
        jko.lagrangian_jko_step(y, 0.5, POT, max_iter=1)
    # V = -x^2: with tau min V'' = -2 tau < -1 the objective is unbounded below (no minimiser)
    concave = jko.Potential1D(lambda x: -(x**2), lambda x: -2 * x, lambda x: np.full_like(x, -2.0))
    with pytest.raises(RuntimeError, match="not positive definite"):
        jko.lagrangian_jko_step(y, 5.0, concave)


def test_lagrangian_el_identity_and_lambda_convexity_inequality():
    pot = jko.quadratic_potential()
    y = jko.quantile_particles(stats.norm(1.5, 0.6).ppf, 400)
    for tau in (0.3, 0.05):
        x = jko.lagrangian_jko_step(y, tau, pot)
        assert np.abs(jko.lagrangian_el_residual(x, y, tau, pot)).max() < 1e-10
        w2sq = np.mean((x - y) ** 2)
        # (eq-04-el-identity): W2^2 = tau^2 I_N(x)
        assert w2sq == pytest.approx(tau**2 * jko.lagrangian_fisher_information(x, pot), rel=1e-9)
        # lambda = 1 convexity: F(y) - F(x) >= (1 + tau / 2) W2^2 / tau
        drop = jko.lagrangian_energy(y, pot) - jko.lagrangian_energy(x, pot)
        assert drop >= (1 + tau / 2) * w2sq / tau * (1 - 1e-9)
        # a step of 2 tau read as tau violates both
        x2 = jko.lagrangian_jko_step(y, 2 * tau, pot)
        w2sq2 = np.mean((x2 - y) ** 2)
        assert abs(w2sq2 / (tau**2 * jko.lagrangian_fisher_information(x2, pot)) - 1) > 0.5
        drop2 = jko.lagrangian_energy(y, pot) - jko.lagrangian_energy(x2, pot)
        assert drop2 < (1 + tau / 2) * w2sq2 / tau


def test_new_jko_inputs_are_checked():
    pot = jko.quadratic_potential()
    x = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="center"):
        jko.quadratic_potential(center=np.nan)
    with pytest.raises(TypeError, match="potential"):
        jko.lagrangian_jko_step(x, 0.1, lambda z: z**2)
    with pytest.raises(TypeError, match="potential"):
        jko.lagrangian_energy(x, "V")
    with pytest.raises(TypeError, match="ppf must be callable"):
        jko.quantile_particles(3, 10)
    with pytest.raises(ValueError, match="y must have the shape"):
        jko.lagrangian_el_residual(x, x[:4], 0.1, pot)
    bad = jko.Potential1D(lambda z: np.nan * z, pot.grad, pot.hess)
    with pytest.raises(ValueError, match=r"potential\.value"):
        jko.lagrangian_energy(x, bad)
