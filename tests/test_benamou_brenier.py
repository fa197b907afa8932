"""Tests of wgf.benamou_brenier: exact cases, discrete identities, building blocks, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgf import benamou_brenier as bb

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
    fc, mc = np.array([f_in]), np.array([[m1_in], [m2_in]])
    f, m = bb._prox_cost(fc, mc, gamma)
    f, m = f[0], m[:, 0]

    def objective(ff, mm):
        if ff < 0 or (ff == 0 and np.any(mm != 0)):
            return np.inf
        penalty = ((ff - f_in) ** 2 + np.sum((mm - mc[:, 0]) ** 2)) / (2 * gamma)
        return penalty + (mm @ mm / (2 * ff) if ff > 0 else 0.0)

    best = objective(f, m)
    assert np.isfinite(best)
    # no nearby admissible point does better (the objective is convex)
    rng = np.random.default_rng(0)
    for _ in range(50):
        df = rng.normal(scale=1e-3)
        dm = rng.normal(scale=1e-3, size=2)
        assert objective(f + df, m + dm) >= best - 1e-12


def test_cell_centres():
    np.testing.assert_allclose(bb.cell_centres(4), [0.125, 0.375, 0.625, 0.875])
    with pytest.raises(ValueError, match="n must be >= 2"):
        bb.cell_centres(1)


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
