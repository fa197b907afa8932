"""Metrics: W2 against its floor, paired comparisons with an exact oracle, the energy test."""

import numpy as np
import pytest

from wgf import controls, data
from wgf.components import MixtureCells, component_test
from wgf.flow_matching import euler_sample, gaussian_icfm_velocity
from wgf.metrics import energy_test, icfm_velocity, paired_displacement, w2_to_floor
from wgf.ot import w2, w2_gaussian


def gaussian_sampler(mean, std=1.0):
    def sampler(n, generator):
        return mean + std * generator.standard_normal((n, 2))

    return sampler


def test_exact_samples_sit_at_the_floor():
    sampler = gaussian_sampler(np.zeros(2))
    rng = np.random.default_rng(0)
    res = w2_to_floor(sampler(9 * 300, rng), sampler, n=300, repeats=9, generator=1)
    assert res.w2.shape == res.floor.shape == (9,)
    # both medians estimate the same quantity; the spread of one draw at n=300 is ~20 %
    assert 0.75 < res.ratio < 1.3
    assert res.ratio == pytest.approx(res.w2_median / res.floor_median)


def test_a_shifted_model_is_detected_and_the_excess_matches_the_shift():
    sampler = gaussian_sampler(np.zeros(2))
    shift = np.array([0.5, 0.0])
    x = gaussian_sampler(shift)(5 * 400, np.random.default_rng(2))
    res = w2_to_floor(x, sampler, n=400, repeats=5, generator=3)
    assert res.ratio > 1.5  # fails every threshold the book uses (1.25, 1.5)
    # each block's W2 is at least the exact W2 between the two laws (0.5) up to sampling error
    exact = w2_gaussian(shift, np.eye(2), np.zeros(2), np.eye(2))
    assert exact == pytest.approx(0.5)
    assert np.all(res.w2 > 0.8 * exact)


def test_blocks_are_compared_with_fresh_data_in_order():
    mix = data.eight_gaussians()
    x = mix.sample(3 * 200, np.random.default_rng(4))
    res = w2_to_floor(x, mix.sample, n=200, repeats=3, generator=5, floor=[0.3, 0.4, 0.5])
    rng = np.random.default_rng(5)
    expected = [w2(x[i * 200 : (i + 1) * 200], mix.sample(200, rng)) for i in range(3)]
    np.testing.assert_allclose(res.w2, expected)
    assert res.floor_median == pytest.approx(0.4)
    assert res.ratio == pytest.approx(np.median(expected) / 0.4)


def test_deterministic_given_the_generator():
    sampler = gaussian_sampler(np.zeros(2))
    x = sampler(3 * 100, np.random.default_rng(6))
    a = w2_to_floor(x, sampler, n=100, repeats=3, generator=7)
    b = w2_to_floor(x, sampler, n=100, repeats=3, generator=7)
    np.testing.assert_array_equal(a.w2, b.w2)
    np.testing.assert_array_equal(a.floor, b.floor)


def test_bad_input():
    sampler = gaussian_sampler(np.zeros(2))
    x = np.zeros((100, 2))
    with pytest.raises(ValueError, match="n \\* repeats"):
        w2_to_floor(x, sampler, n=60, repeats=2)
    with pytest.raises(TypeError, match="sampler"):
        w2_to_floor(x, "not callable", n=50, repeats=2)
    with pytest.raises(ValueError, match="floor"):
        w2_to_floor(x, sampler, n=50, repeats=2, floor=[0.1, -1.0])
    with pytest.raises(ValueError, match="repeats"):
        w2_to_floor(x, sampler, n=50, repeats=0)
    with pytest.raises(ValueError, match="sampler output"):
        w2_to_floor(x, lambda n, g: np.zeros((n, 3)), n=50, repeats=2, floor=[0.1])


# ------------------------------------------------------------------ paired comparison


def test_paired_displacement_of_a_shift_is_the_exact_w2():
    z = np.random.default_rng(8).standard_normal((500, 2))
    res = paired_displacement(z + np.array([0.3, -0.4]), z)
    assert res.rms == pytest.approx(0.5)  # a translation is an optimal map: rms = W2
    assert res.upper == pytest.approx(0.5)  # no spread, no uncertainty
    assert res.n == 500


def test_paired_displacement_bounds_w2_from_above():
    # the identity coupling of N(0, I) and N(0, 4I) through x -> 2 z is optimal (rms = W2 = sqrt2);
    # a rotated pairing is a worse coupling of the same laws and must stay above
    z = np.random.default_rng(9).standard_normal((20_000, 2))
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    exact = w2_gaussian(np.zeros(2), np.eye(2), np.zeros(2), 4 * np.eye(2))
    assert paired_displacement(2 * z, z).rms == pytest.approx(exact, rel=0.01)
    assert paired_displacement(2 * z @ rot.T, z).rms > 1.5 * exact


def test_paired_upper_bound_covers_at_its_level():
    rng = np.random.default_rng(10)
    truth = np.sqrt(2 * 0.25)  # E|x - y|^2 for y = x + N(0, 0.25 I) in 2-D
    cover = []
    for _ in range(400):
        x = rng.standard_normal((200, 2))
        cover.append(paired_displacement(x + 0.5 * rng.standard_normal((200, 2)), x).upper >= truth)
    assert np.mean(cover) == pytest.approx(0.95, abs=0.035)  # Bin(400, .95): sd 0.011


def test_icfm_velocity_of_one_gaussian_is_the_closed_form():
    g = data.gaussian()
    v = icfm_velocity(g)
    ve = gaussian_icfm_velocity(np.zeros(2), np.eye(2), g.means[0], g.covs[0])
    x = np.random.default_rng(11).standard_normal((50, 2)) * 2
    for t in (0.0, 0.3, 0.9, 1.0):
        np.testing.assert_allclose(v(x, t), ve(x, t), atol=1e-12)


def test_icfm_velocity_is_the_conditional_mean_for_a_mixture():
    # v_t(x) = (E[x1 | x_t = x] - x) / (1 - t); the expectation by self-normalised importance
    # sampling over x1 ~ p with weights N(x; t x1, (1-t)^2 I)
    mix = data.eight_gaussians()
    x1 = mix.sample(400_000, 12)
    v = icfm_velocity(mix)
    for t, x in ((0.5, np.array([[1.2, 0.3]])), (0.8, np.array([[0.0, 1.5]]))):
        logw = -np.sum((x - t * x1) ** 2, axis=1) / (2 * (1 - t) ** 2)
        w = np.exp(logw - logw.max())
        mean = (w[:, None] * x1).sum(0) / w.sum()
        np.testing.assert_allclose(v(x, t)[0], (mean - x[0]) / (1 - t), atol=0.02)


def test_exact_icfm_flow_reaches_the_target():
    mix = data.eight_gaussians()
    cells = MixtureCells(mix, n_reference=50_000, generator=0)
    x0 = np.random.default_rng(13).standard_normal((2000, 2))
    y = euler_sample(icfm_velocity(mix), x0, 100, keep=2).samples
    assert component_test(y, cells).p_value > 0.01
    # the same flow stopped at t = 0.9 is rejected, while W2/floor hardly moves
    stopped = euler_sample(icfm_velocity(mix), x0, 100, keep=11).x[9]
    assert component_test(stopped, cells).p_means < 1e-10
    assert w2_to_floor(stopped, mix.sample, n=2000, repeats=1, generator=14).ratio < 1.5


# ------------------------------------------------------------------ two-sample test


def test_energy_statistic_matches_a_direct_computation():
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((30, 2)), rng.standard_normal((40, 2)) + 0.5
    dxy = np.linalg.norm(x[:, None] - y[None], axis=2).mean()
    dxx = np.linalg.norm(x[:, None] - x[None], axis=2).sum() / (30 * 29)
    dyy = np.linalg.norm(y[:, None] - y[None], axis=2).sum() / (40 * 39)
    res = energy_test(x, y, permutations=50, generator=0)
    assert res.statistic == pytest.approx(2 * dxy - dxx - dyy)
    assert res.null.shape == (50,)


def test_energy_test_is_calibrated_under_the_null():
    mix = data.eight_gaussians()
    rng = np.random.default_rng(16)
    p = np.array(
        [
            energy_test(mix.sample(150, rng), mix.sample(150, rng), 99, rng).p_value
            for _ in range(100)
        ]
    )
    assert np.mean(p < 0.05) <= 0.12  # a valid permutation p-value: rate <= 0.05 + sampling
    assert np.mean(p) == pytest.approx(0.5, abs=0.07)


def test_energy_test_rejects_a_dropped_mode_and_a_stopped_flow():
    mix = data.eight_gaussians()
    y = mix.sample(1000, 17)
    for bad in (controls.dropped(mix, 0), controls.stopped_flow(mix, 0.9)):
        assert energy_test(bad.sample(1000, 18), y, 99, 19).p_value == pytest.approx(0.01)


def test_two_sample_bad_input():
    with pytest.raises(ValueError, match="y"):
        energy_test(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="permutations"):
        energy_test(np.zeros((5, 2)), np.zeros((5, 2)), permutations=0)
    with pytest.raises(ValueError, match="level"):
        paired_displacement(np.zeros((5, 2)), np.zeros((5, 2)), level=1.0)
    with pytest.raises(ValueError, match="as many points"):
        paired_displacement(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="mixture"):
        icfm_velocity("eight_gaussians")
    with pytest.raises(ValueError, match="t must"):
        icfm_velocity(data.gaussian())(np.zeros((2, 2)), 1.5)
