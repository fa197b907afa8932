"""Couplings: the minibatch OT pairing is the optimal assignment (checked with scipy)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from wgf.couplings import independent, minibatch_ot


@given(st.integers(2, 40), st.integers(1, 3), st.integers(0, 10_000))
def test_minibatch_ot_is_the_optimal_assignment(n, d, seed):
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 1.0
    a, b = minibatch_ot(x0, x1, generator=seed)
    np.testing.assert_array_equal(a, x0)
    # a permutation of x1 (each point used once)
    np.testing.assert_allclose(np.sort(b, axis=0), np.sort(x1, axis=0))
    cost = ((x0[:, None, :] - x1[None, :, :]) ** 2).sum(-1)
    r, c = linear_sum_assignment(cost)
    assert np.sum((a - b) ** 2) == pytest.approx(cost[r, c].sum(), rel=1e-10, abs=1e-12)


def test_minibatch_ot_shortens_pairs():
    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(size=(256, 2)), rng.normal(size=(256, 2)) * 2
    _, b = minibatch_ot(x0, x1, generator=0)
    assert np.mean(np.sum((x0 - b) ** 2, 1)) < 0.5 * np.mean(np.sum((x0 - x1) ** 2, 1))


def test_independent_and_bad_input():
    x = np.zeros((3, 2))
    _, b = independent(x, x + 1)
    np.testing.assert_array_equal(b, x + 1)
    with pytest.raises(ValueError, match="as many"):
        minibatch_ot(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="x1"):
        independent(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        minibatch_ot(np.full((3, 2), np.nan), np.zeros((3, 2)))
