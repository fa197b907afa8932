"""Tests of wgf.jko against closed forms, independent minimisations and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats
from strategies import spd_matrices

from wgf import jko
from wgf import ot as wot

RNG = np.random.default_rng(4)


def random_spd(d, rng=RNG):
    B = rng.normal(size=(d, d))
    return B @ B.T + 0.3 * np.eye(d)


def ou(m0, S0, t):
    """Exact OU (Fokker-Planck towards N(0, I)) solution started at N(m0, S0)."""
    return np.exp(-t) * m0, np.exp(-2 * t) * S0 + (1 - np.exp(-2 * t)) * np.eye(len(m0))


TAUS = st.floats(0.01, 3.0)


# ------------------------------------------------------------------------------ Gaussians


def test_gaussian_step_matches_notes_formula_for_standard_target():
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


@given(d=st.integers(1, 3), data=st.data(), tau=TAUS, q=st.floats(0.3, 3.0))
def test_step_minimises_objective_against_perturbations(d, data, tau, q):
    S = data.draw(spd_matrices(d))
    m, b = np.ones(d), np.zeros(d)
    m1, S1 = jko.gaussian_jko_step(m, S, tau, b, q)
    best = jko.gaussian_jko_objective(m1, S1, m, S, tau, b, q)
    rng = np.random.default_rng(d)
    for _ in range(5):
        E = rng.normal(size=(d, d))
        E = 1e-3 * (E + E.T) * np.linalg.eigvalsh(S1).min()
        dm = 1e-3 * rng.normal(size=d)
        assert jko.gaussian_jko_objective(m1 + dm, S1 + E, m, S, tau, b, q) >= best - 1e-12


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
        F = [jko.kl_gaussian(mm, cc) for mm, cc in zip(M, C, strict=True)]
        W = [wot.w2_gaussian(M[k], C[k], M[k + 1], C[k + 1]) for k in range(len(M) - 1)]
        assert np.all(np.array(F[1:]) + np.array(W) ** 2 / (2 * tau) <= np.array(F[:-1]) + 1e-14)
        errs.append(wot.w2_gaussian(M[-1], C[-1], *ou(m0, S0, T)))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.05)


def test_kl_gaussian_closed_form_cases():
    assert jko.kl_gaussian([0.0], [[1.0]]) == pytest.approx(0.0, abs=1e-15)
    # 1-D: KL(N(m, s) || N(0, 1)) = (s + m^2 - 1 - log s) / 2
    assert jko.kl_gaussian(2.0, 0.5) == pytest.approx(0.5 * (0.5 + 4 - 1 - np.log(0.5)))
    # against numerical integration, with a non-standard target
    p, t = stats.norm(0.3, 0.7), stats.norm(-1.0, 1.5)
    x = np.linspace(-12, 12, 200_001)
    num = np.trapezoid(p.pdf(x) * (p.logpdf(x) - t.logpdf(x)), x)
    assert jko.kl_gaussian(0.3, 0.49, -1.0, 2.25) == pytest.approx(num, rel=1e-9)


def test_entropic_gaussian_step_matches_direct_minimisation():
    mk, sk, tau, gam, b, q = 0.7, 0.4, 0.2, 0.05, 0.3, 1.5

    def J(theta):  # cost of the Gaussian coupling x = alpha y + beta + sqrt(v) xi, plus 2 tau F
        alpha, beta, logv = theta
        v = np.exp(logv)
        mu, s = alpha * mk + beta, alpha**2 * sk + v
        cost = (alpha - 1) ** 2 * sk + v + (mu - mk) ** 2
        kl = 0.5 * (s / q + (mu - b) ** 2 / q - 1 - np.log(s / q))
        return cost - 0.5 * gam * np.log(v) + 2 * tau * kl

    res = optimize.minimize(
        J,
        [1.0, 0.0, np.log(gam)],
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20_000},
    )
    alpha, beta, logv = res.x
    m, s = jko.gaussian_entropic_jko_step_1d(mk, sk, tau, gam, b, q)
    assert m == pytest.approx(alpha * mk + beta, abs=1e-7)
    assert s == pytest.approx(alpha**2 * sk + np.exp(logv), abs=1e-7)
    # gamma -> 0 recovers the exact JKO step
    m0, s0 = jko.gaussian_entropic_jko_step_1d(mk, sk, tau, 1e-12, b, q)
    me, se = jko.gaussian_jko_step([mk], [[sk]], tau, [b], q)
    assert s0 == pytest.approx(se[0, 0], rel=1e-9) and m0 == pytest.approx(me[0], rel=1e-14)


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
    mT, ST = ou(np.array([2.0]), np.array([[0.25]]), T)
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
    kl = jko.kl_gaussian(2.0, 0.25)
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


# ------------------------------------------------------------------------------ entropic

GRID = np.linspace(-6, 6, 161)


def grid_gauss(m, s):
    p = np.exp(-((GRID - m) ** 2) / (2 * s))
    return p / p.sum()


def test_entropic_step_matches_gaussian_entropic_closed_form():
    target, p = grid_gauss(0, 1), grid_gauss(1.0, 0.5)
    tau, gam = 0.1, 0.04
    new, info = jko.entropic_jko_step(p, GRID, tau, gam, target, return_info=True)
    assert info["marginal_error"] < 1e-10
    m, s = jko.gaussian_entropic_jko_step_1d(1.0, 0.5, tau, gam)
    mean = new @ GRID
    assert mean == pytest.approx(m, abs=1e-6)
    assert new @ GRID**2 - mean**2 == pytest.approx(s, abs=1e-6)
    assert new.sum() == pytest.approx(1.0, abs=1e-14) and np.all(new >= 0)
    assert jko.grid_kl(new, target) < jko.grid_kl(p, target)


def test_entropic_chain_and_grid_kl():
    target = grid_gauss(0, 1)
    P = jko.entropic_jko_chain(grid_gauss(2.0, 0.3), GRID, 0.2, 0.05, target, 3)
    assert P.shape == (4, GRID.size)
    F = [jko.grid_kl(p, target) for p in P]
    assert np.all(np.diff(F) < 0)
    # grid KL of two discretised Gaussians = the Gaussian KL (Riemann sums are spectrally exact)
    assert jko.grid_kl(grid_gauss(2.0, 0.3), target) == pytest.approx(
        jko.kl_gaussian(2.0, 0.3), rel=1e-9
    )


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
    with pytest.raises(ValueError, match="gamma"):
        jko.gaussian_entropic_jko_step_1d(0, 1, 0.1, 0.0)
    with pytest.raises(ValueError, match="var"):
        jko.gaussian_entropic_jko_step_1d(0, -1, 0.1, 0.1)
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
    # entropic
    target = grid_gauss(0, 1)
    with pytest.raises(ValueError, match="non-negative"):
        jko.entropic_jko_step(-target, GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="sum to 1"):
        jko.entropic_jko_step(2 * target, GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="shape"):
        jko.entropic_jko_step(target[:-1], GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="grid"):
        jko.entropic_jko_step(target, GRID[::-1], 0.1, 0.1, target)
    with pytest.raises(ValueError, match="strictly positive"):
        bad = target.copy()
        bad[0], bad[1] = 0.0, bad[1] + bad[0]
        jko.entropic_jko_step(target, GRID, 0.1, 0.1, bad)
    with pytest.raises(ValueError, match="gamma"):
        jko.entropic_jko_step(target, GRID, 0.1, 0.0, target)
    with pytest.raises(ValueError, match="tau"):
        jko.entropic_jko_step(target, GRID, -0.1, 0.1, target)
    with pytest.raises(ValueError, match="shape"):
        jko.grid_kl(target[:-1], target)
