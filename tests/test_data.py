"""Tests of wgf.data: the toy datasets have exactly the documented parameters."""

import numpy as np
import pytest

from wgf import data
from wgf.mixtures import GaussianMixture

NAMES = ["eight_gaussians", "two_moons", "rings", "gaussian"]


def test_registry():
    assert sorted(data.DATASETS) == sorted(NAMES)
    for name in NAMES:
        gm = data.get(name)
        ref = data.DATASETS[name]()
        assert isinstance(gm, GaussianMixture) and gm.dim == 2
        for attr in ("weights", "means", "covs"):
            np.testing.assert_array_equal(getattr(gm, attr), getattr(ref, attr))
    with pytest.raises(ValueError, match=r"name must be one of .*eight_gaussians.*two_moons"):
        data.get("moons")
    with pytest.raises(TypeError, match="name must be a string"):
        data.get(3)


@pytest.mark.parametrize("name", NAMES)
def test_centred_with_order_one_variance(name):
    gm = data.get(name)
    assert np.linalg.norm(gm.mean()) <= 0.75
    assert 1.0 <= np.trace(gm.cov()) <= 4.1
    # every component standard deviation is at least 0.1 (scores are not too stiff)
    assert np.linalg.eigvalsh(gm.covs).min() >= 0.01 - 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_density_integrates_to_one(name):
    gm = data.get(name)
    g = np.linspace(-7, 7, 351)  # spacing 0.04 = 0.4 of the narrowest standard deviation
    X, Y = np.meshgrid(g, g)
    total = gm.prob(np.stack([X.ravel(), Y.ravel()], 1)).sum() * (g[1] - g[0]) ** 2
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_samples_are_reproducible_and_match_moments(name):
    gm = data.get(name)
    x = gm.sample(50_000, generator=3)
    np.testing.assert_array_equal(x, gm.sample(50_000, generator=3))
    se = np.sqrt(np.diag(gm.cov()) / x.shape[0])
    assert np.all(np.abs(x.mean(0) - gm.mean()) < 5 * se)
    np.testing.assert_allclose(np.cov(x.T), gm.cov(), atol=0.03 * np.trace(gm.cov()))


def test_eight_gaussians_parameters():
    gm = data.eight_gaussians()
    assert gm.n_components == 8
    np.testing.assert_allclose(gm.weights, 1 / 8)
    np.testing.assert_allclose(np.linalg.norm(gm.means, axis=1), 2.0, rtol=1e-14)
    angles = np.mod(np.arctan2(gm.means[:, 1], gm.means[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(np.sort(angles), np.arange(8) * np.pi / 4, atol=1e-13)
    np.testing.assert_allclose(gm.covs, np.broadcast_to(0.04 * np.eye(2), (8, 2, 2)))
    np.testing.assert_allclose(gm.mean(), 0, atol=1e-14)
    np.testing.assert_allclose(gm.cov(), 2.04 * np.eye(2), atol=1e-14)


def test_two_moons_is_centred_sklearn_geometry():
    gm = data.two_moons()
    assert gm.n_components == 40
    np.testing.assert_allclose(gm.weights, 1 / 40)
    np.testing.assert_allclose(gm.covs, np.broadcast_to(0.01 * np.eye(2), (40, 2, 2)))
    # scikit-learn's make_moons(n_samples=40, noise=0, shuffle=False), written out
    theta = np.linspace(0, np.pi, 20)
    outer = np.stack([np.cos(theta), np.sin(theta)], 1)
    inner = np.stack([1 - np.cos(theta), 1 - np.sin(theta) - 0.5], 1)
    sk = np.concatenate([outer, inner])
    np.testing.assert_allclose(gm.means, sk - [0.5, 0.25], atol=1e-15)
    np.testing.assert_allclose(gm.mean(), 0, atol=1e-15)
    assert np.trace(gm.cov()) == pytest.approx(1.03, abs=0.005)


def test_rings_parameters():
    gm = data.rings()
    assert gm.n_components == 96
    np.testing.assert_allclose(gm.weights, 1 / 96)
    np.testing.assert_allclose(gm.covs, np.broadcast_to(0.01 * np.eye(2), (96, 2, 2)))
    radii = np.linalg.norm(gm.means, axis=1)
    for r, count in [(0.5, 16), (1.0, 32), (1.5, 48)]:
        on = np.isclose(radii, r, atol=1e-13)
        assert on.sum() == count
        angles = np.sort(np.mod(np.arctan2(gm.means[on, 1], gm.means[on, 0]), 2 * np.pi))
        np.testing.assert_allclose(angles, 2 * np.pi * np.arange(count) / count, atol=1e-12)
    np.testing.assert_allclose(gm.mean(), 0, atol=1e-14)
    np.testing.assert_allclose(gm.cov(), 0.76 * np.eye(2), atol=1e-13)


def test_gaussian_parameters():
    gm = data.gaussian()
    assert gm.n_components == 1
    np.testing.assert_array_equal(gm.means, [[0.5, -0.5]])
    np.testing.assert_array_equal(gm.covs[0], [[1.0, 0.8], [0.8, 1.0]])
    np.testing.assert_allclose(np.linalg.eigvalsh(gm.covs[0]), [0.2, 1.8], rtol=1e-14)
