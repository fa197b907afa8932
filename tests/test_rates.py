"""Tests of wgf.rates: power-law fits recover known exponents."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgf.rates import fit_power_law


@given(st.floats(-3, 3), st.floats(0.01, 100))
def test_exact_power_law_is_recovered(p, c):
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = fit_power_law(x, c * x**p)
    assert fit.slope == pytest.approx(p, abs=1e-10)
    assert fit.prefactor == pytest.approx(c, rel=1e-9)
    assert fit.slope_stderr == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(fit(x), c * x**p, rtol=1e-9)


def test_noisy_fit_reports_a_standard_error_that_covers_the_truth():
    rng = np.random.default_rng(0)
    x = np.geomspace(10, 1e4, 12)
    y = 3 * x**-0.5 * np.exp(0.05 * rng.normal(size=x.size))
    fit = fit_power_law(x, y)
    assert fit.slope_stderr > 0
    assert abs(fit.slope + 0.5) < 4 * fit.slope_stderr
    assert np.isnan(fit_power_law([1, 2], [1, 4]).slope_stderr)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1, 2, 3], [1, 2], "equal length"),
        ([1, 2, 3], [1, 0, 2], "strictly positive"),
        ([1, -2, 3], [1, 1, 2], "strictly positive"),
        ([2, 2, 2], [1, 2, 3], "two distinct"),
        ([1, 2, np.nan], [1, 2, 3], "x contains NaN"),
    ],
)
def test_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(x, y)


def test_power_law_evaluation_rejects_non_positive_points():
    fit = fit_power_law([1.0, 2.0, 4.0], [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="strictly positive"):
        fit(-1.0)
    with pytest.raises(ValueError, match="NaN"):
        fit(np.nan)
