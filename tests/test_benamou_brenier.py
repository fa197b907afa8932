"""Tests of wgf.benamou_brenier: exact cases, discrete identities, building blocks, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgf import benamou_brenier as bb
from wgf.grid import Grid

EXACT_COSINE = 1.0 / (32.0 * np.pi**2)  # W2^2 between 1 + cos(2 pi (x - 1/2)) / 2 and 1


def cosine_cells(n):
    """Exact cell averages of 1 + cos(2 pi (x - 1/2)) / 2 on the periodic grid."""
    x, h = bb.cell_centres(n), 1.0 / n
    return 1 + 0.5 * (
        np.sin(2 * np.pi * (x + h / 2 - 0.5)) - np.sin(2 * np.pi * (x - h / 2 - 0.5))
    ) / (2 * np.pi * h)


@pytest.fixture(scope="module")
def cosine_runs():
    return {
        n: bb.solve(cosine_cells(n), np.ones(n), gamma=3.0, alpha=1.8, tol=1e-9) for n in (16, 32)
    }


def test_cosine_case_converges_at_second_order(cosine_runs):
    errors = {n: abs(r.action - EXACT_COSINE) / EXACT_COSINE for n, r in cosine_runs.items()}
    assert all(r.converged for r in cosine_runs.values())
    assert errors[32] < 0.011  # about 1e-2 at N = P = 32
    assert 3.6 < errors[16] / errors[32] < 4.4  # second order: halving h divides by 4
    assert cosine_runs[32].w2 == pytest.approx(np.sqrt(cosine_runs[32].action))


def test_solution_is_an_admissible_path(cosine_runs):
    res = cosine_runs[32]
    n = 32
    assert res.rho.shape == (n + 1, n) and res.momentum.shape == (1, n, n)
    np.testing.assert_allclose(res.rho[0], cosine_cells(n), atol=1e-14)
    np.testing.assert_allclose(res.rho[-1], 1.0, atol=1e-14)
    np.testing.assert_allclose(res.times, np.linspace(0, 1, n + 1))
    # discrete continuity equation, exactly (round-off of the FFT/DCT solve)
    div = np.diff(res.rho, axis=0) * n + (res.momentum[0] - np.roll(res.momentum[0], 1, 1)) * n
    assert np.abs(div).max() < 1e-9
    np.testing.assert_allclose(res.rho.mean(axis=1), 1.0, atol=1e-12)  # mass conserved
    # the action of the returned path equals the reported action once converged
    assert bb.kinetic_action(res.rho, res.momentum) == pytest.approx(res.action, rel=1e-6)
    assert res.path_action == pytest.approx(res.action, rel=1e-6)
    # the history is recorded and ends below the tolerance
    assert res.residuals.shape == res.changes.shape == (res.n_iter,)
    assert res.residuals[-1] < 1e-9 and res.changes[-1] < 1e-9


def test_equal_densities_cost_nothing():
    rho = cosine_cells(16)
    res = bb.solve(rho, rho, tol=1e-10)
    assert res.action < 1e-14
    assert np.abs(res.momentum).max() < 1e-7
    np.testing.assert_allclose(res.rho, np.broadcast_to(rho, res.rho.shape), atol=1e-7)


def test_two_dimensional_solver_reduces_to_one_dimension():
    n = 16
    r0 = np.repeat(cosine_cells(n)[:, None], n, axis=1)  # varies along axis 0 only
    r1 = np.ones((n, n))
    res2 = bb.solve(r0, r1, gamma=3.0, alpha=1.8, tol=1e-9)
    res1 = bb.solve(cosine_cells(n), np.ones(n), gamma=3.0, alpha=1.8, tol=1e-9)
    assert res2.action == pytest.approx(res1.action, rel=1e-6)
    assert np.abs(res2.momentum[1]).max() < 1e-7  # no flow along the invariant axis
    # and the problem is symmetric under exchanging the axes
    res2t = bb.solve(r0.T, r1, gamma=3.0, alpha=1.8, tol=1e-9)
    assert res2t.action == pytest.approx(res2.action, rel=1e-6)


def test_n_times_can_differ_from_n():
    res = bb.solve(cosine_cells(16), np.ones(16), n_times=8, gamma=3.0, alpha=1.8, tol=1e-9)
    assert res.rho.shape == (9, 16) and res.momentum.shape == (1, 8, 16)
    assert abs(res.action - EXACT_COSINE) / EXACT_COSINE < 0.05


def test_kinetic_action_closed_forms():
    # uniform density moving at constant speed c: action c^2; in 2-D |c|^2
    p, n = 4, 8
    rho = np.ones((p + 1, n))
    assert bb.kinetic_action(rho, np.full((1, p, n), 0.3)) == pytest.approx(0.09, rel=1e-14)
    rho2 = np.ones((p + 1, n, n))
    m2 = np.stack([np.full((p, n, n), 0.3), np.full((p, n, n), -0.4)])
    assert bb.kinetic_action(rho2, m2) == pytest.approx(0.25, rel=1e-14)
    # vacuum with momentum costs infinitely much; vacuum without momentum costs nothing
    rho0 = np.zeros((p + 1, n))
    assert bb.kinetic_action(rho0, np.zeros((1, p, n))) == 0.0
    assert bb.kinetic_action(rho0, np.full((1, p, n), 0.1)) == np.inf


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3), st.floats(0.05, 5))
def test_prox_cost_satisfies_optimality(f_in, m1_in, m2_in, gamma):
    """Direct optimality conditions of the proximal map of gamma |m|^2 / (2 f)."""
    fc, mc = np.array([f_in]), np.array([[m1_in], [m2_in]])
    f, m = bb._prox_cost(fc, mc, gamma)
    f, m = f[0], m[:, 0]
    c = 0.5 * gamma * (m1_in**2 + m2_in**2)
    scale = 1.0 + abs(f_in) ** 3 + gamma**3 + c
    assert f >= 0.0
    if f > 0:
        # stationarity in m: m = f m' / (f + gamma); in f: the cubic, to round-off
        np.testing.assert_allclose(m, f * mc[:, 0] / (f + gamma), rtol=1e-13, atol=1e-15)
        assert abs((f - f_in) * (f + gamma) ** 2 - c) <= 1e-12 * scale
        # f is the largest real root of the cubic (compare with numpy's companion matrix)
        roots = np.roots([1.0, 2 * gamma - f_in, gamma**2 - 2 * gamma * f_in, -f_in * gamma**2 - c])
        largest = roots[np.abs(roots.imag) < 1e-9].real.max()
        assert f == pytest.approx(largest, rel=1e-9, abs=1e-12)
    else:
        # the f = 0 branch: the minimiser is (0, 0), which requires the cubic to be >= 0 at 0,
        # i.e. -f' gamma^2 >= gamma |m'|^2 / 2
        assert np.all(m == 0.0)
        assert -f_in * gamma**2 >= c - 1e-12 * scale


def test_prox_cost_zero_branch():
    f, m = bb._prox_cost(np.array([-1.0, -2.0]), np.array([[0.5, 0.0]]), 1.0)
    # -f' gamma^2 = 1 >= gamma m'^2 / 2 = 0.125: the minimiser is (0, 0)
    assert np.all(f == 0.0) and np.all(m == 0.0)


def test_warm_start_from_a_solution():
    rho0, rho1 = cosine_cells(16), np.ones(16)
    res = bb.solve(rho0, rho1, gamma=3.0, alpha=1.8, tol=1e-9)
    # the end densities of init are replaced by the data
    rho_init = res.rho.copy()
    rho_init[0], rho_init[-1] = 1.0, 1.0
    warm = bb.solve(rho0, rho1, gamma=3.0, alpha=1.8, tol=1e-9, init=(rho_init, res.momentum))
    assert warm.converged
    np.testing.assert_array_equal(warm.rho[0], rho0)
    # measured: 1396 against 2126 iterations, same action to 3e-13 (relative)
    assert warm.n_iter < 0.8 * res.n_iter
    assert warm.action == pytest.approx(res.action, rel=1e-8)  # the stopping tolerance is 1e-9


def test_vacuum_gaussian_case_path_action():
    """Narrow Gaussians (vacuum): the solver's path is accepted by kinetic_action."""
    from scipy import stats

    n = 32
    edges = np.arange(n + 1) / n
    rho0 = np.diff(stats.norm(0.42, 0.04).cdf(edges)) * n
    rho1 = np.diff(stats.norm(0.58, 0.06).cdf(edges)) * n
    rho0, rho1 = rho0 / rho0.mean(), rho1 / rho1.mean()
    res = bb.solve(rho0, rho1, gamma=1.0, alpha=1.8, tol=1e-6, max_iter=30_000)
    assert res.converged
    # round-off of the iteration leaves tiny negative densities in vacuum (measured -4e-6)
    assert -1e-5 * res.rho.max() < res.rho.min() < 0
    with pytest.raises(ValueError, match="non-negative"):
        bb.kinetic_action(res.rho, res.momentum)
    path = bb.kinetic_action(res.rho, res.momentum, vacuum_rtol=1e-6)
    assert path == res.path_action and np.isfinite(path)
    # split-variable and path actions differ by the iteration error: measured 2.3e-5 relative,
    # 1e-4 allows a factor 4
    assert abs(res.path_action - res.action) < 1e-4 * res.action
    # both are within the N = 32 discretisation error of W2^2 = 0.16^2 + 0.02^2 (meas. 1.5e-3)
    exact = 0.16**2 + 0.02**2
    assert abs(res.action / exact - 1) < 3e-3 and abs(res.path_action / exact - 1) < 3e-3


def test_cell_centres_and_periodic_grid():
    np.testing.assert_allclose(bb.cell_centres(4), [0.125, 0.375, 0.625, 0.875], rtol=1e-15)
    with pytest.raises(ValueError, match="n must be >= 3"):
        bb.cell_centres(2)
    g = bb.periodic_grid(8, 2)
    assert g == Grid(((0.0, 1.0), (0.0, 1.0)), 8) and g.cell_volume == 1 / 64
    np.testing.assert_array_equal(g.axes[1], bb.cell_centres(8))
    # a Gaussian well inside the cube, normalised on the grid: mean one, as solve() requires
    r = bb.periodic_grid(32, 2).gaussian([0.45, 0.5], [[0.004, 0.001], [0.001, 0.003]])
    assert r.mean() == pytest.approx(1.0, abs=1e-14)
    with pytest.raises(ValueError, match="d must be 1 or 2"):
        bb.periodic_grid(8, 3)


def test_bad_input():
    r = np.ones(8)
    with pytest.raises(ValueError, match="rho0 must be non-negative"):
        bb.solve(np.r_[-0.5, 1.5, np.ones(6)], r)
    with pytest.raises(ValueError, match="rho1 must be normalised"):
        bb.solve(r, 2 * r)
    with pytest.raises(ValueError, match="rho1 must be on the same grid"):
        bb.solve(r, np.ones(16))
    with pytest.raises(ValueError, match="rho0 must have shape"):
        bb.solve(np.ones((8, 4)), np.ones((8, 4)))
    with pytest.raises(ValueError, match="rho0 must have at least 4 cells"):
        bb.solve(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="rho0 contains NaN"):
        bb.solve(np.r_[np.nan, r[1:]], r)
    with pytest.raises(ValueError, match="gamma must be a finite positive"):
        bb.solve(r, r, gamma=0.0)
    with pytest.raises(ValueError, match="alpha must be a finite positive"):
        bb.solve(r, r, alpha=-1.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 2\)"):
        bb.solve(r, r, alpha=2.0)
    with pytest.raises(ValueError, match="tol must be a finite positive"):
        bb.solve(r, r, tol=0.0)
    with pytest.raises(ValueError, match="n_times must be >= 2"):
        bb.solve(r, r, n_times=1)
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        bb.solve(r, r, max_iter=10.5)
    with pytest.raises(ValueError, match="init must be"):
        bb.solve(r, r, init=(np.ones((3, 8)), np.zeros((1, 8, 8))))
    with pytest.raises(ValueError, match="momentum must have shape"):
        bb.kinetic_action(np.ones((5, 8)), np.ones((1, 5, 8)))
    with pytest.raises(ValueError, match="rho must be non-negative"):
        bb.kinetic_action(-np.ones((5, 8)), np.ones((1, 4, 8)))
    with pytest.raises(ValueError, match="rho must have shape"):
        bb.kinetic_action(np.ones(5), np.ones((1, 4)))
    for bad in (-0.1, 1.0, np.nan):
        with pytest.raises(ValueError, match="vacuum_rtol"):
            bb.kinetic_action(np.ones((5, 8)), np.ones((1, 4, 8)), vacuum_rtol=bad)
    # a negative density beyond the vacuum tolerance is still an error
    rho_neg = np.ones((5, 8))
    rho_neg[2:4, 3] = -0.01
    with pytest.raises(ValueError, match="non-negative"):
        bb.kinetic_action(rho_neg, np.zeros((1, 4, 8)), vacuum_rtol=1e-3)


def test_input_masses_are_renormalised_and_the_fixed_point_residual_is_reported():
    n = 16
    x = bb.cell_centres(n)
    r0 = 1 + 0.5 * np.cos(2 * np.pi * (x - 0.5))
    r0 = r0 / r0.mean() * (1 + 5e-9)  # within the accepted 1e-8, but the two masses differ
    r1 = np.ones(n) * (1 - 5e-9)
    res = bb.solve(r0, r1, gamma=3.0, alpha=1.8, tol=1e-9, max_iter=20_000)
    assert res.converged
    np.testing.assert_allclose(res.rho.mean(axis=1), 1.0, rtol=0, atol=1e-13)  # every time
    fp_res = res.fixed_point_residuals
    assert fp_res.shape == (res.n_iter,) and res.fixed_point_residual == fp_res[-1]
    assert fp_res[-1] < 1e-7 and fp_res[-1] < 1e-3 * fp_res[0]
    with pytest.raises(TypeError, match="vacuum_rtol"):
        bb.kinetic_action(np.ones((5, 8)), np.ones((1, 4, 8)), vacuum_rtol="0.1")


def test_cell_averages_are_exact_and_checked():
    r = bb.cell_averages(lambda x: x**2, 4)  # density 2x: averages 2 * centre
    np.testing.assert_allclose(r, 2 * bb.cell_centres(4))
    with pytest.raises(TypeError, match="cdf must be callable"):
        bb.cell_averages(3, 4)
    with pytest.raises(ValueError, match="non-decreasing"):
        bb.cell_averages(lambda x: -x, 4)
