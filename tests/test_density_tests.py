"""Density-level TV/KL on a grid, and the histogram TV test with its simulated null."""

import numpy as np
import pytest

from wgf import controls, data
from wgf.density_tests import (
    box_histogram,
    cell_probabilities,
    grid_divergence,
    histogram_tv,
    multinomial_histogram,
)

EIGHT = data.eight_gaussians()


def test_identical_densities_have_zero_divergence():
    res = grid_divergence(EIGHT.log_prob, EIGHT)
    assert res.tv == pytest.approx(0.0, abs=1e-12)
    assert res.kl == pytest.approx(0.0, abs=1e-12)
    assert res.edge_mass < 1e-6
    assert res.q.shape == (251, 251)


def test_grid_tv_and_kl_of_two_gaussians_match_closed_forms():
    # N(0, 1) vs N(0.5, 1) per axis on the first coordinate: TV = 2 Phi(1/4) - 1, KL = 1/8
    from scipy.stats import norm

    a = data.get("gaussian").__class__([1.0], [[0.0, 0.0]], [np.eye(2)])
    b = a.__class__([1.0], [[0.5, 0.0]], [np.eye(2)])
    res = grid_divergence(b.log_prob, a, lim=7.0, points=401)
    assert res.tv == pytest.approx(2 * norm.cdf(0.25) - 1, abs=1e-4)
    assert res.kl == pytest.approx(0.125, abs=1e-4)


def test_grid_divergence_accepts_values_and_unnormalised_densities():
    g = np.linspace(-5, 5, 51)
    X, Y = np.meshgrid(g, g)
    logq = controls.widened(EIGHT, 1.5).log_prob(np.c_[X.ravel(), Y.ravel()]) + 7.0
    res = grid_divergence(logq.reshape(51, 51), EIGHT, points=51)
    assert 0.2 < res.tv < 0.6 and res.kl > 0.05


def test_cell_probabilities_are_exact_and_the_subgrid_rule_agrees():
    edges = np.linspace(-3, 3, 13)
    p = cell_probabilities(EIGHT, edges)
    assert p.sum() == pytest.approx(1.0)
    x = EIGHT.sample(400_000, 0)
    i = np.clip(np.searchsorted(edges, x[:, 1]) - 1, 0, 11)
    j = np.clip(np.searchsorted(edges, x[:, 0]) - 1, 0, 11)
    inside = np.all(np.abs(x) < 3, axis=1)
    freq = np.bincount(i[inside] * 12 + j[inside], minlength=144) / x.shape[0]
    np.testing.assert_allclose(freq, p[:-1], atol=2e-3)
    corr = data.gaussian()  # correlated covariance: midpoint rule on a subgrid
    pc = cell_probabilities(corr, np.linspace(-6, 6, 25))
    xc = corr.sample(400_000, 1)
    assert pc[-1] == pytest.approx(np.mean(np.any(np.abs(xc) >= 6, axis=1)), abs=1e-3)
    assert pc.sum() == pytest.approx(1.0)


def test_histogram_tv_is_calibrated_and_has_power():
    rng = np.random.default_rng(2)
    p = [histogram_tv(EIGHT.sample(1000, rng), EIGHT, repeats=39, generator=rng).p_value
         for _ in range(60)]  # fmt: skip
    assert np.mean(np.array(p) < 0.1) <= 0.22  # Bin(60, 0.1): a valid p-value
    for bad in (controls.widened(EIGHT, 1.1), controls.dropped(EIGHT, 0)):
        res = histogram_tv(bad.sample(4000, 3), EIGHT, repeats=99, generator=4)
        assert res.p_value == pytest.approx(0.01) and res.excess > 0


def test_bad_input():
    with pytest.raises(TypeError, match="mixture"):
        grid_divergence(EIGHT.log_prob, "x")
    with pytest.raises(ValueError, match="2-D"):
        grid_divergence(np.zeros(3), data.gaussian().__class__([1.0], [[0.0]], [[[1.0]]]))
    with pytest.raises(ValueError, match="log_density"):
        grid_divergence(np.zeros(10), EIGHT)
    with pytest.raises(ValueError, match="inner"):
        grid_divergence(EIGHT.log_prob, EIGHT, inner=1.0)
    with pytest.raises(ValueError, match="edges"):
        cell_probabilities(EIGHT, [1.0, 0.0])
    with pytest.raises(ValueError, match="samples"):
        histogram_tv(np.zeros((10, 3)), EIGHT)


def test_box_histogram_bins_points_in_their_cells():
    # cell centres of a 4 x 4 grid on [-2, 2]^2 are -1.5, -0.5, 0.5, 1.5
    x = np.array([[-1.5, 0.5], [-1.5, 0.5], [1.5, -1.5], [9.0, 0.0]])
    h, out = box_histogram(x, 4.0, 4)
    assert out == 0.25 and h.shape == (4, 4)
    assert h[0, 2] == 2 * 16 / 4 and h[3, 0] == 16 / 4 and h.sum() == 3 * 16 / 4
    assert h.mean() == pytest.approx(1 - out)
    with pytest.raises(ValueError, match="box"):
        box_histogram(x, 0.0, 4)
    with pytest.raises(ValueError, match="cells"):
        box_histogram(x, 4.0, 0)
    with pytest.raises(ValueError, match="samples"):
        box_histogram(np.zeros((3, 3)), 4.0, 4)
    with pytest.raises(ValueError, match="samples"):
        box_histogram(np.full((3, 2), np.nan), 4.0, 4)


def test_multinomial_histogram_noise_has_its_closed_form():
    rho = np.ones((10, 10))  # 100 cells of probability 0.01
    n = 100_000
    l1 = [np.abs(multinomial_histogram(rho, n, g) - rho).mean() for g in range(20)]
    closed = 100 * np.sqrt(2 * 0.01 * 0.99 / (np.pi * n))
    assert np.mean(l1) == pytest.approx(closed, rel=0.05)
    h = np.mean([multinomial_histogram(2 * rho, n, g) for g in range(20)], axis=0)
    # unbiased, scaled to mean one: the sd of a cell of the average is 0.007, so 6 sd
    np.testing.assert_allclose(h, rho, atol=0.045)
    for bad in (-rho, 0 * rho, rho * np.nan):
        with pytest.raises(ValueError, match="density"):
            multinomial_histogram(bad, n)
    with pytest.raises(ValueError, match="n"):
        multinomial_histogram(rho, 0)
