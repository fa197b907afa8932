"""Tests of wgf.entropic_jko against the exact Gaussian entropic step and direct minimisation."""

import numpy as np
import pytest
from scipy import optimize

from wgf import entropic_jko as ejko
from wgf import functionals as fn
from wgf import jko
from wgf.grid import Grid


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
    m, s = ejko.gaussian_entropic_jko_step_1d(mk, sk, tau, gam, b, q)
    assert m == pytest.approx(alpha * mk + beta, abs=1e-7)
    assert s == pytest.approx(alpha**2 * sk + np.exp(logv), abs=1e-7)
    # gamma -> 0 recovers the exact JKO step
    m0, s0 = ejko.gaussian_entropic_jko_step_1d(mk, sk, tau, 1e-12, b, q)
    me, se = jko.gaussian_jko_step([mk], [[sk]], tau, [b], q)
    assert s0 == pytest.approx(se[0, 0], rel=1e-9) and m0 == pytest.approx(me[0], rel=1e-14)


GRID = np.linspace(-6, 6, 161)


def grid_gauss(m, s):
    p = np.exp(-((GRID - m) ** 2) / (2 * s))
    return p / p.sum()


def test_entropic_step_matches_gaussian_entropic_closed_form():
    target, p = grid_gauss(0, 1), grid_gauss(1.0, 0.5)
    tau, gam = 0.1, 0.04
    new, info = ejko.entropic_jko_step(p, GRID, tau, gam, target, return_info=True)
    assert info["marginal_error"] < 1e-10
    m, s = ejko.gaussian_entropic_jko_step_1d(1.0, 0.5, tau, gam)
    mean = new @ GRID
    assert mean == pytest.approx(m, abs=1e-6)
    assert new @ GRID**2 - mean**2 == pytest.approx(s, abs=1e-6)
    assert new.sum() == pytest.approx(1.0, abs=1e-14) and np.all(new >= 0)
    assert ejko.grid_kl(new, target) < ejko.grid_kl(p, target)


def test_entropic_chain_and_grid_kl():
    target = grid_gauss(0, 1)
    P = ejko.entropic_jko_chain(grid_gauss(2.0, 0.3), GRID, 0.2, 0.05, target, 3)
    assert P.shape == (4, GRID.size)
    F = [ejko.grid_kl(p, target) for p in P]
    assert np.all(np.diff(F) < 0)
    # grid KL of two discretised Gaussians = the Gaussian KL (Riemann sums are spectrally exact)
    assert ejko.grid_kl(grid_gauss(2.0, 0.3), target) == pytest.approx(
        fn.kl_gaussian(2.0, 0.3, 0.0, 1.0), rel=1e-9
    )


def test_entropic_step_raises_when_sinkhorn_does_not_converge():
    target = grid_gauss(0, 1)
    with pytest.raises(RuntimeError, match="marginal error"):
        ejko.entropic_jko_step(grid_gauss(1.0, 0.5), GRID, 0.1, 0.04, target, max_iter=10)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="gamma"):
        ejko.gaussian_entropic_jko_step_1d(0, 1, 0.1, 0.0)
    with pytest.raises(ValueError, match="var"):
        ejko.gaussian_entropic_jko_step_1d(0, -1, 0.1, 0.1)
    target = grid_gauss(0, 1)
    with pytest.raises(ValueError, match="non-negative"):
        ejko.entropic_jko_step(-target, GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="sum to 1"):
        ejko.entropic_jko_step(2 * target, GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="shape"):
        ejko.entropic_jko_step(target[:-1], GRID, 0.1, 0.1, target)
    with pytest.raises(ValueError, match="grid"):
        ejko.entropic_jko_step(target, GRID[::-1], 0.1, 0.1, target)
    with pytest.raises(ValueError, match="strictly positive"):
        bad = target.copy()
        bad[0], bad[1] = 0.0, bad[1] + bad[0]
        ejko.entropic_jko_step(target, GRID, 0.1, 0.1, bad)
    with pytest.raises(ValueError, match="gamma"):
        ejko.entropic_jko_step(target, GRID, 0.1, 0.0, target)
    with pytest.raises(ValueError, match="tau"):
        ejko.entropic_jko_step(target, GRID, -0.1, 0.1, target)
    with pytest.raises(ValueError, match="shape"):
        ejko.grid_kl(target[:-1], target)
    # the chain validates its own arguments before the first step
    with pytest.raises(ValueError, match="n_steps"):
        ejko.entropic_jko_chain(target, GRID, 0.1, 0.1, target, -1)
    with pytest.raises(ValueError, match="sum to 1"):
        ejko.entropic_jko_chain(2 * target, GRID, 0.1, 0.1, target, 2)
    with pytest.raises(ValueError, match="grid"):
        ejko.entropic_jko_chain(target, GRID[::-1], 0.1, 0.1, target, 2)
    with pytest.raises(ValueError, match="tau"):
        ejko.entropic_jko_chain(target, GRID, 0.0, 0.1, target, 2)


def test_entropic_inputs_are_checked():
    grid = np.linspace(-3, 3, 31)
    p = np.exp(-(grid**2) / 2)
    p /= p.sum()
    with pytest.raises(ValueError, match="mean"):
        ejko.gaussian_entropic_jko_step_1d(np.nan, 1.0, 0.1, 0.01)
    with pytest.raises(ValueError, match="target_mean"):
        ejko.gaussian_entropic_jko_step_1d(0.0, 1.0, 0.1, 0.01, target_mean=np.inf)
    with pytest.raises(ValueError, match="max_iter"):
        ejko.entropic_jko_step(p, grid, 0.1, 0.05, p, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        ejko.entropic_jko_step(p, grid, 0.1, 0.05, p, tol=-1.0)


def test_a_grid_object_and_its_nodes_give_the_same_step():
    g = Grid.from_nodes(GRID)
    target, p = g.masses(g.gaussian(0.0, 1.0)), g.masses(g.gaussian(1.0, 0.5))
    # the masses of the normalised Gaussian density are the normalised node values
    np.testing.assert_allclose(p, grid_gauss(1.0, 0.5), rtol=1e-12)
    new_g = ejko.entropic_jko_step(p, g, 0.1, 0.04, target)
    new_x = ejko.entropic_jko_step(p, g.axes[0], 0.1, 0.04, target)
    np.testing.assert_array_equal(new_g, new_x)
    P = ejko.entropic_jko_chain(p, g, 0.1, 0.04, target, 2)
    np.testing.assert_array_equal(P[1], new_g)
    # grid_kl of cell masses is the midpoint KL of the densities (wgf.functionals.kl)
    rho, pi = g.gaussian(1.0, 0.5), g.gaussian(0.0, 1.0)
    assert ejko.grid_kl(g.masses(rho), g.masses(pi)) == pytest.approx(fn.kl(rho, pi, g), rel=1e-12)
    with pytest.raises(ValueError, match="grid must be one-dimensional"):
        ejko.entropic_jko_step(p, Grid(((0, 1), (0, 1)), 4), 0.1, 0.04, target)
