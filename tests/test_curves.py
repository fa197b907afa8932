"""Tests for wgf.curves: ODE integration, transport costs, W2 matrices and MDS."""

import numpy as np
import pytest

from wgf import curves as cv
from wgf.ot import w2


def test_integrate_linear_ode_orders():
    # x' = -x: exact x0 e^{-t}; Euler first order, Heun second order
    x0 = np.array([[1.0, 2.0]])
    exact = x0 * np.exp(-1.0)
    errs = {}
    for method in ("euler", "heun"):
        errs[method] = [
            np.abs(
                cv.integrate(lambda x, t: -x, x0, np.linspace(0, 1, k + 1), method=method) - exact
            ).max()
            for k in (20, 40)
        ]
    assert 1.8 < errs["euler"][0] / errs["euler"][1] < 2.2
    assert 3.6 < errs["heun"][0] / errs["heun"][1] < 4.4


def test_integrate_backwards_inverts_forwards():
    x0 = np.random.default_rng(0).standard_normal((10, 2))
    t = np.linspace(0, 1, 401)

    def v(x, s):
        return np.stack([-x[:, 1], x[:, 0]], axis=1) * (1 + s)

    x1 = cv.integrate(v, x0, t)
    back = cv.integrate(v, x1, t[::-1])
    assert np.allclose(back, x0, atol=1e-5)
    states = cv.integrate(v, x0, t, keep=True)
    assert states.shape == (401, 10, 2) and np.allclose(states[-1], x1)


def test_cost_ratio_is_one_for_a_monotone_map_and_above_one_for_a_rotation():
    x = np.random.default_rng(1).standard_normal((300, 2))
    A = np.array([[2.0, 0.5], [0.5, 1.0]])  # SPD: gradient of a convex function, OT
    assert np.isclose(cv.cost_ratio(x, x @ A), 1.0, atol=1e-10)
    R = np.array([[0.0, -1.0], [1.0, 0.0]])  # rotation by 90 degrees: not OT
    assert cv.cost_ratio(x, x @ R.T) > 1.5
    assert np.isclose(cv.transport_cost(x, x + 1.0), 2.0)


def test_l2_length_of_a_translation_and_of_a_detour():
    x = np.random.default_rng(5).standard_normal((100, 2))
    t = np.linspace(0, 1, 11)[:, None, None]
    straight = x + t * np.array([3.0, 4.0])
    assert np.isclose(cv.l2_length(straight), 5.0)
    # the same ends reached through a corner: the length grows, the clock does not matter
    corner = np.concatenate(
        [x + t * np.array([3.0, 0.0]), x[None] + np.array([3.0, 0.0]) + t * [0.0, 4.0]]
    )
    assert np.isclose(cv.l2_length(corner), 7.0)
    assert np.isclose(cv.l2_length(straight[[0, 3, 10]]), 5.0)
    # standard error: random translations, length = mean |shift| to first order
    shifts = np.random.default_rng(6).standard_normal((4000, 2)) * 0.1 + [1.0, 0.0]
    length, se = cv.l2_length(np.stack([x[:1].repeat(4000, 0), x[:1] + shifts]), return_se=True)
    exact = np.sqrt(1.0 + 0.02)
    assert abs(length - exact) < 4 * se and 0.0005 < se < 0.005


def test_pairwise_w2_nearest_and_mds():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((200, 2))
    clouds = [base + np.array([s, 0.0]) for s in (0.0, 1.0, 2.5)]
    D = cv.pairwise_w2(clouds)
    assert np.allclose(D, D.T) and np.allclose(np.diag(D), 0)
    assert np.isclose(D[0, 2], 2.5, atol=1e-9) and np.isclose(D[0, 1], w2(clouds[0], clouds[1]))
    coords, lam = cv.classical_mds(D, dim=1)  # translations are Euclidean: exact in 1-D
    emb = np.abs(coords[:, 0, None] - coords[None, :, 0])
    assert np.allclose(emb, D, atol=1e-8) and abs(lam[1]) < 1e-8
    assert np.allclose(cv.nearest_distances(D[:, [1, 2]]), [1.0, 0.0, 0.0], atol=1e-9)


def test_bad_inputs():
    x = np.zeros((5, 2))
    with pytest.raises(TypeError, match="velocity"):
        cv.integrate(None, x, [0, 1])
    with pytest.raises(ValueError, match="monotone"):
        cv.integrate(lambda y, t: y, x, [0, 1, 0.5])
    with pytest.raises(ValueError, match="method"):
        cv.integrate(lambda y, t: y, x, [0, 1], method="rk4")
    with pytest.raises(ValueError, match="step 0"):
        cv.integrate(lambda y, t: y * np.nan, x, [0, 1])
    with pytest.raises(ValueError, match="same number"):
        cv.transport_cost(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="undefined"):
        cv.cost_ratio(x, x)
    with pytest.raises(ValueError, match="at least two"):
        cv.pairwise_w2([x])
    with pytest.raises(ValueError, match="symmetric"):
        cv.classical_mds(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="dim"):
        cv.classical_mds(np.zeros((2, 2)), dim=3)
    with pytest.raises(ValueError, match="D"):
        cv.nearest_distances(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="states"):
        cv.l2_length(np.zeros((1, 3, 2)))


def test_swirled_keeps_the_flow_map_and_bends_the_path():
    x0 = np.random.default_rng(1).standard_normal((50, 2))
    shift = np.array([1.0, -0.5])
    t = np.linspace(0, 1, 801)
    path = cv.integrate(cv.swirled(lambda x, s: np.broadcast_to(shift, x.shape), 1.0), x0, t,
                        keep=True)  # fmt: skip
    np.testing.assert_allclose(path[-1], x0 + shift, atol=1e-5)  # same end as the straight line
    # at t = 1/2 the points are the straight line's midpoints rotated by one radian
    c, s = np.cos(1.0), np.sin(1.0)
    np.testing.assert_allclose(path[400], (x0 + 0.5 * shift) @ np.array([[c, s], [-s, c]]),
                               atol=1e-5)  # fmt: skip
    assert cv.l2_length(path) > 1.2 * np.linalg.norm(shift)
    with pytest.raises(TypeError, match="velocity"):
        cv.swirled(3.0, 1.0)
    with pytest.raises(ValueError, match="angle"):
        cv.swirled(lambda x, s: x, np.nan)


def test_steps_to_tolerance_matches_the_euler_closed_form():
    # x' = a x on [0, 1]: Euler with K steps gives (1 + a/K)^K x0, the limit e^a x0
    a, x0 = 0.7, np.random.default_rng(2).standard_normal((400, 2))
    rms0 = np.sqrt(np.mean(np.sum(x0**2, axis=1)))

    def run(k):
        return cv.integrate(lambda x, s: a * x, x0, np.linspace(0, 1, k + 1), method="euler"), k

    grid = [1, 2, 4, 8, 16, 32, 64]
    tol = 0.05
    res = cv.steps_to_tolerance(run, grid, np.exp(a) * x0, tol)
    err = np.array([abs((1 + a / k) ** k - np.exp(a)) * rms0 for k in grid])
    np.testing.assert_allclose(res.rms, err, rtol=1e-9)  # every point moves by the same factor
    assert res.steps[res.index] == grid[int(np.argmax(res.upper <= tol))]
    assert err[res.index] <= tol < err[res.index - 1]
    assert res.nfe_needed == grid[res.index] and res.samples.shape == x0.shape
    never = cv.steps_to_tolerance(run, grid, np.exp(a) * x0, 1e-6)
    assert never.index is None and never.nfe_needed == np.inf
    with pytest.raises(ValueError, match="steps"):
        cv.steps_to_tolerance(run, [4, 2], x0, tol)
    with pytest.raises(ValueError, match="tol"):
        cv.steps_to_tolerance(run, grid, x0, -1.0)
    with pytest.raises(ValueError, match="points"):
        cv.steps_to_tolerance(lambda k: (x0[:10], k), grid, x0, tol)


def test_straightness_defect_closed_forms_and_the_trajectory_defect():
    x = np.random.default_rng(7).standard_normal((50, 2))
    t = np.linspace(0, 1, 9)[:, None, None]
    assert np.allclose(cv.straightness_defect(x + t * [3.0, 4.0], 1.0), 0.0, atol=1e-12)
    # two legs (3, 0) then (0, 4) over a window of 2: energy 9 + 16, chord 25 / 2
    corner = np.stack([x, x + np.array([3.0, 0.0]), x + np.array([3.0, 4.0])])
    assert np.allclose(cv.straightness_defect(corner, 2.0), 12.5)
    # the same straight line at a non-constant speed has a positive defect, by Jensen
    uneven = x + (t**2) * [3.0, 4.0]
    assert np.all(cv.straightness_defect(uneven, 1.0) > 0)
    # on the whole unit window it is Trajectory.straightness, particle by particle
    from wgf.trajectory import Trajectory

    path = x + np.sin(3 * t) * [1.0, -2.0] + t**3 * x
    traj = Trajectory(np.linspace(0, 1, 9), path, 8)
    assert np.isclose(cv.straightness_defect(path, 1.0).mean(), traj.straightness())


def test_straightness_defect_rejects_bad_input():
    x = np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match="states"):
        cv.straightness_defect(x[:1], 1.0)
    with pytest.raises(ValueError, match="duration"):
        cv.straightness_defect(x, 0.0)
    with pytest.raises(TypeError, match="duration"):
        cv.straightness_defect(x, "one")
