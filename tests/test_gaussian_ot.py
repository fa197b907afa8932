"""Tests of wgf.gaussian_ot (the Bures-Wasserstein closed forms) against POT, exact discrete OT
on samples and direct algebra."""

import numpy as np
import ot as pot
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import spd_matrices

from wgf import gaussian_ot as got
from wgf import ot as wot

RNG = np.random.default_rng(1234)


def random_spd(d, rng=RNG):
    B = rng.normal(size=(d, d))
    return B @ B.T + 0.3 * np.eye(d)


# ------------------------------------------------------------------------------ Gaussians


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_w2_gaussian_matches_pot_bures(d):
    m0, m1 = RNG.normal(size=d), RNG.normal(size=d)
    S0, S1 = random_spd(d), random_spd(d)
    expected = float(pot.gaussian.bures_wasserstein_distance(m0, m1, S0, S1))
    assert got.w2_gaussian(m0, S0, m1, S1) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_w2_gaussian_special_cases():
    # 1-D: W2^2 = (m0 - m1)^2 + (s0 - s1)^2
    assert got.w2_gaussian(0.0, 4.0, 3.0, 1.0) == pytest.approx(np.sqrt(9 + 1), rel=1e-14)
    # commuting (diagonal) covariances: W2^2 = |dm|^2 + |sqrt(diag0) - sqrt(diag1)|^2
    s0, s1 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sqrt(1.0 + np.sum((np.sqrt(s0) - np.sqrt(s1)) ** 2))
    value = got.w2_gaussian(np.zeros(3), np.diag(s0), np.array([1.0, 0, 0]), np.diag(s1))
    assert value == pytest.approx(expected, rel=1e-13)
    # a pure translation
    S = random_spd(2)
    assert got.w2_gaussian([0, 0], S, [3, 4], S) == pytest.approx(5.0, rel=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_w2_gaussian_matches_exact_discrete_ot_on_large_samples(d):
    rng = np.random.default_rng(d)
    m0, m1 = np.zeros(d), np.full(d, 1.5)
    S0, S1 = random_spd(d, rng), random_spd(d, rng)
    n = 1500
    x = rng.multivariate_normal(m0, S0, size=n)
    y = rng.multivariate_normal(m1, S1, size=n)
    exact = got.w2_gaussian(m0, S0, m1, S1)
    empirical = wot.w2(x, y)
    # The empirical W2 fluctuates around the truth on the scale of the noise floor of the
    # distributions (W2 between two n-samples of the same law); compare at that scale.
    floor = wot.w2(rng.multivariate_normal(m0, S0, size=n), rng.multivariate_normal(m0, S0, size=n))
    assert abs(empirical - exact) < 2.0 * floor + 0.02 * exact


@pytest.mark.parametrize("d", [1, 2, 4])
def test_gaussian_ot_map_pushes_forward_exactly(d):
    m0, m1 = RNG.normal(size=d), RNG.normal(size=d)
    S0, S1 = random_spd(d), random_spd(d)
    T = got.gaussian_ot_map(m0, S0, m1, S1)
    A, b = T  # unpacks as (matrix, offset)
    np.testing.assert_allclose(A, A.T, atol=1e-13)
    assert np.linalg.eigvalsh(A).min() > 0  # gradient of a strictly convex function
    np.testing.assert_allclose(A @ m0 + b, m1, atol=1e-12)
    np.testing.assert_allclose(A @ S0 @ A.T, S1, atol=1e-10 * np.abs(S1).max())
    # its transport cost is W2^2: E|T(X) - X|^2 = |A m0 + b - m0|^2 + tr((A - I) S0 (A - I)^T)
    D = A - np.eye(d)
    cost = np.sum((A @ m0 + b - m0) ** 2) + np.trace(D @ S0 @ D.T)
    assert np.sqrt(cost) == pytest.approx(got.w2_gaussian(m0, S0, m1, S1), rel=1e-10)


def test_gaussian_ot_map_on_samples():
    rng = np.random.default_rng(7)
    m0, S0 = np.array([1.0, -1.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    m1, S1 = np.array([0.0, 2.0]), np.array([[0.3, -0.1], [-0.1, 1.5]])
    T = got.gaussian_ot_map(m0, S0, m1, S1)
    y = T(rng.multivariate_normal(m0, S0, size=200_000))
    np.testing.assert_allclose(y.mean(0), m1, atol=0.01)
    np.testing.assert_allclose(np.cov(y.T), S1, atol=0.02)
    assert T(m0) == pytest.approx(m1)


def test_gaussian_ot_map_is_identity_between_equal_gaussians():
    S = random_spd(3)
    A, b = got.gaussian_ot_map(np.ones(3), S, np.ones(3), S)
    np.testing.assert_allclose(A, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(b, 0, atol=1e-10)


def test_sqrtm_spd():
    S = random_spd(4)
    R = got.sqrtm_spd(S)
    np.testing.assert_allclose(R @ R, S, atol=1e-12 * np.abs(S).max())
    np.testing.assert_allclose(got.sqrtm_spd(S, inverse=True) @ R, np.eye(4), atol=1e-10)


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(*[spd_matrices(d)] * 3)))
def test_bures_metric_properties(covs):
    S0, S1, S2 = covs
    d = S0.shape[0]
    z = np.zeros(d)
    d01 = got.w2_gaussian(z, S0, z, S1)
    assert d01 == pytest.approx(got.w2_gaussian(z, S1, z, S0), rel=1e-8, abs=1e-8)
    assert got.w2_gaussian(z, S0, z, S0) == pytest.approx(0.0, abs=1e-6)
    assert d01 <= got.w2_gaussian(z, S0, z, S2) + got.w2_gaussian(z, S2, z, S1) + 1e-7


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros(2), [[1, 2], [0, 1]], np.zeros(2), np.eye(2)), "S0 must be symmetric"),
        ((np.zeros(2), np.eye(2), np.zeros(2), [[1, 0], [0, -1]]), "S1 must be positive definite"),
        ((np.zeros(2), np.eye(2), np.zeros(2), np.zeros((2, 2))), "S1 must be positive definite"),
        ((np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "m1 must have shape"),
        ((np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), "S0 must have shape"),
        ((np.zeros(2), np.ones((2, 3)), np.zeros(2), np.eye(2)), "S0 must be a square"),
        (([np.nan, 0], np.eye(2), np.zeros(2), np.eye(2)), "m0 contains NaN"),
        ((np.zeros(2), np.eye(2), np.zeros(2), np.full((2, 2), np.inf)), "S1 contains NaN or Inf"),
    ],
)
def test_gaussian_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        got.w2_gaussian(*args)
    with pytest.raises(ValueError, match=match):
        got.gaussian_ot_map(*args)


def test_random_spd_and_ellipse():
    S = got.random_spd(3, 1, ridge=0.3)
    assert np.allclose(S, S.T) and np.linalg.eigvalsh(S).min() >= 0.3 - 1e-12
    np.testing.assert_array_equal(S, got.random_spd(3, 1, ridge=0.3))
    pts = got.ellipse([1.0, 2.0], np.diag([4.0, 1.0]), r=2.0, n=50)
    z = (pts - [1.0, 2.0]) / [2.0, 1.0]
    np.testing.assert_allclose(np.sum(z**2, axis=1), 4.0)
    with pytest.raises(ValueError, match="mean"):
        got.ellipse([0.0], np.eye(2))


def test_special_inputs():
    assert got.w2_gaussian([1e200], [[1.0]], [0.0], [[1.0]]) == pytest.approx(1e200)
    with pytest.raises(ValueError, match="S must be a non-empty"):
        got.sqrtm_spd(np.empty((0, 0)))
    T = got.gaussian_ot_map([0.0, 0.0], np.eye(2), [1.0, 1.0], np.eye(2))
    with pytest.raises(ValueError, match="x contains NaN"):
        T(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="x must have last dimension 2"):
        T(np.zeros((4, 3)))
