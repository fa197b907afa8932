r"""Observed convergence rates: least-squares fits of power laws on log-log axes.

Every convergence claim in the book (an empirical estimator in n, a discretisation in h or
:math:`\tau`) is checked by fitting :math:`\text{err} \approx C\,h^{p}` and comparing the
observed order :math:`p` with the theory, reporting its standard error beside it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array

__all__ = ["PowerLawFit", "fit_power_law"]


class PowerLawFit(NamedTuple):
    r"""The fit :math:`y \approx C x^{p}`: ``slope`` is :math:`p`, ``prefactor`` is :math:`C`.

    ``slope_stderr`` is the standard error of the slope from the least-squares residuals
    (``nan`` for a fit through exactly two points).
    """

    slope: float
    prefactor: float
    slope_stderr: float

    def __call__(self, x) -> np.ndarray:
        """Evaluate the fitted power law at ``x`` (finite, strictly positive)."""
        x = as_float_array(x, "x")
        if np.any(x <= 0):
            raise ValueError("x must be strictly positive to evaluate a power law")
        return self.prefactor * x**self.slope


def fit_power_law(x, y) -> PowerLawFit:
    r"""Least-squares fit of :math:`\log y = \log C + p \log x`.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        strictly positive, finite; at least two distinct ``x``.

    Returns
    -------
    PowerLawFit
    """
    x = as_float_array(x, "x")
    y = as_float_array(y, "y")
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be strictly positive for a log-log fit")
    if np.unique(x).size < 2:
        raise ValueError("x must contain at least two distinct values")
    lx, ly = np.log(x), np.log(y)
    A = np.column_stack([lx, np.ones_like(lx)])
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    slope, intercept = coef
    k = x.size
    if k > 2:
        resid = ly - A @ coef
        s2 = resid @ resid / (k - 2)
        stderr = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    else:
        stderr = float("nan")
    return PowerLawFit(slope=float(slope), prefactor=float(np.exp(intercept)), slope_stderr=stderr)
