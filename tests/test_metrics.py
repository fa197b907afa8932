"""W2 against the noise floor: exact data gives a ratio near 1, a biased model a larger one."""

import numpy as np
import pytest

from wgf import data
from wgf.metrics import w2_to_floor
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
