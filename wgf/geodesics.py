r"""Geodesics of :math:`(\mathcal P_2, W_2)`: McCann's displacement interpolation.

If :math:`T` is the optimal map from :math:`\rho_0` to :math:`\rho_1` (or :math:`\gamma` the
optimal plan), the constant-speed geodesic between them is

.. math::

    \rho_t = \bigl((1 - t)\,\mathrm{id} + t\,T\bigr)_\# \rho_0,
    \qquad
    \rho_t = \bigl((x, y) \mapsto (1 - t)x + t y\bigr)_\# \gamma,
    \qquad t \in [0, 1],

McCann's displacement interpolation :cite:p:`mccann1997convexity`.  Every particle moves on a
straight line at constant speed, so :math:`W_2(\rho_s, \rho_t) = |t - s|\, W_2(\rho_0, \rho_1)`
and the kinetic energy :math:`\int_0^1\!\int \rho_t |v_t|^2\,dx\,dt` equals :math:`W_2^2`.
This module gives the interpolation in three exact settings: Gaussians (closed form),
densities on the line (quantile functions) and discrete measures (exact OT plan).

Conventions: :math:`t = 0` is :math:`\rho_0`, :math:`t = 1` is :math:`\rho_1`; ``t`` outside
:math:`[0, 1]` raises ``ValueError``.  Kinetic energies are in the :math:`W_2^2` convention
(no factor one half).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import ot as wot
from ._checks import as_float_array, as_gaussian_pair, as_points
from .functionals import as_density
from .gaussian_ot import gaussian_ot_map
from .grid import Grid

__all__ = [
    "DiscreteInterpolant",
    "GaussianInterpolant",
    "mccann_1d",
    "mccann_gaussian",
    "mccann_samples",
]


def _as_time(t, name: str = "t") -> float:
    try:
        v = float(t)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {type(t).__name__}") from exc
    if not np.isfinite(v) or v < 0.0 or v > 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {t!r}")
    return v


# --------------------------------------------------------------------------------------------
# Gaussians
# --------------------------------------------------------------------------------------------


class GaussianInterpolant(NamedTuple):
    r"""The point :math:`\rho_t = \mathcal N(m_t, \Sigma_t)` of the Gaussian geodesic.

    With :math:`A` the optimal map matrix (:func:`wgf.gaussian_ot.gaussian_ot_map`) and
    :math:`M_t = (1 - t) I + t A`,

    .. math::

        m_t = (1 - t) m_0 + t m_1, \qquad \Sigma_t = M_t \Sigma_0 M_t,
        \qquad v_t(x) = (A - I) M_t^{-1} (x - m_t) + (m_1 - m_0).

    Fields:

    - ``t`` (float): the time.
    - ``mean`` (ndarray, shape (d,)): :math:`m_t`.
    - ``cov`` (ndarray, shape (d, d)): :math:`\Sigma_t`.
    - ``map_matrix`` (ndarray, shape (d, d)):
      the matrix :math:`A` of the optimal map from :math:`\rho_0` to :math:`\rho_1`.
    - ``mean_velocity`` (ndarray, shape (d,)):
      :math:`m_1 - m_0`.
    """

    t: float
    mean: np.ndarray
    cov: np.ndarray
    map_matrix: np.ndarray
    mean_velocity: np.ndarray

    def velocity_matrix(self) -> np.ndarray:
        r"""The linear part :math:`B_t = (A - I) M_t^{-1}` of the velocity field."""
        d = self.mean.shape[0]
        M = (1.0 - self.t) * np.eye(d) + self.t * self.map_matrix
        return np.linalg.solve(M.T, (self.map_matrix - np.eye(d)).T).T

    def velocity(self, x) -> np.ndarray:
        r"""The velocity field :math:`v_t(x)`, for points ``x`` of shape (n, d) or (d,)."""
        x = as_float_array(x, "x")
        d = self.mean.shape[0]
        if x.shape[-1] != d:
            raise ValueError(f"x must have last dimension {d}, got shape {x.shape}")
        return (x - self.mean) @ self.velocity_matrix().T + self.mean_velocity

    def mean_squared_speed(self) -> float:
        r""":math:`\mathbb E\,|v_t(X_t)|^2` for :math:`X_t \sim \rho_t`, in closed form.

        .. math::  \mathbb E|v_t(X_t)|^2 = |m_1 - m_0|^2 + \operatorname{tr}(B_t \Sigma_t B_t^\top)
        """
        B = self.velocity_matrix()
        return float(self.mean_velocity @ self.mean_velocity + np.trace(B @ self.cov @ B.T))


def mccann_gaussian(m0, S0, m1, S1, t) -> GaussianInterpolant:
    r"""McCann's interpolation between :math:`\mathcal N(m_0,\Sigma_0)` and :math:`\mathcal N(m_1,\Sigma_1)`.

    The optimal map is :math:`T(x) = m_1 + A(x - m_0)`
    (:func:`wgf.gaussian_ot.gaussian_ot_map`), so
    :math:`(1-t)\,\mathrm{id} + tT` is affine and :math:`\rho_t` is the Gaussian

    .. math::

        \rho_t = \mathcal N\bigl((1 - t) m_0 + t m_1,\; M_t \Sigma_0 M_t\bigr),
        \qquad M_t = (1 - t) I + t A .

    Parameters
    ----------
    m0, m1 : array_like, shape (d,)
    S0, S1 : array_like, shape (d, d)
        symmetric positive-definite covariances.
    t : float
        time in :math:`[0, 1]`.

    Returns
    -------
    GaussianInterpolant
        mean, covariance and the (affine) velocity field at time ``t``.
    """
    t = _as_time(t)
    A, _ = gaussian_ot_map(m0, S0, m1, S1)
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    d = m0.shape[0]
    M = (1.0 - t) * np.eye(d) + t * A
    cov = M @ S0 @ M
    return GaussianInterpolant(
        t=t,
        mean=(1.0 - t) * m0 + t * m1,
        cov=0.5 * (cov + cov.T),
        map_matrix=A,
        mean_velocity=m1 - m0,
    )


# --------------------------------------------------------------------------------------------
# Densities on the line
# --------------------------------------------------------------------------------------------


def _uniform_grid(x, name: str = "x") -> tuple[np.ndarray, float, Grid]:
    """The nodes, their spacing and the :class:`wgf.grid.Grid` whose cell centres they are."""
    grid = Grid.from_nodes(x, name)
    x = as_float_array(x, name)
    return x, float(np.diff(x).mean()), grid


def mccann_1d(x, rho0, rho1, t) -> np.ndarray:
    r"""McCann's interpolation between two densities on the line, by quantile interpolation.

    On the line the optimal map is monotone, and the interpolation is the law whose quantile
    function is the average of the two quantile functions:

    .. math::  F_t^{-1}(u) = (1 - t) F_0^{-1}(u) + t F_1^{-1}(u).

    The densities are read as cell averages on the uniform grid ``x`` of cell centres
    (piecewise constant, so each CDF is piecewise linear); the quantile functions are evaluated
    at the union of the cumulative masses of both grids, on which :math:`F_t^{-1}` is exactly
    piecewise linear, and the returned density is the exact cell average of :math:`\rho_t`.
    The result is exact for piecewise-constant data; as an approximation of the interpolation
    between smooth densities it is first order in the cell width (L1 error :math:`O(h)`), so
    use a fine grid for a reference solution.

    Parameters
    ----------
    x : array_like, shape (n,)
        uniformly spaced cell centres (cell width :math:`h` = the spacing).
    rho0, rho1 : array_like, shape (n,)
        non-negative densities with :math:`\sum_i \rho(x_i) h = 1` (to 1e-6, as checked by
        :func:`wgf.functionals.as_density`).
    t : float
        time in :math:`[0, 1]`.

    Returns
    -------
    ndarray, shape (n,)
        the cell averages of :math:`\rho_t` (normalised).
    """
    x, h, grid = _uniform_grid(x)
    rho0 = as_density(rho0, grid, "rho0")
    rho1 = as_density(rho1, grid, "rho1")
    t = _as_time(t)
    edges = np.concatenate([x - 0.5 * h, [x[-1] + 0.5 * h]])
    c0 = np.concatenate([[0.0], np.cumsum(rho0) * h])
    c1 = np.concatenate([[0.0], np.cumsum(rho1) * h])
    c0 /= c0[-1]
    c1 /= c1[-1]
    u = np.union1d(c0, c1)
    # Quantile functions jump across gaps of the support: evaluate both one-sided limits at
    # every breakpoint, so that F_t^{-1} is exactly piecewise linear between the samples.
    uu = np.repeat(u, 2)
    q0 = np.stack([_quantile(c0, edges, u, "left"), _quantile(c0, edges, u, "right")], 1)
    q1 = np.stack([_quantile(c1, edges, u, "left"), _quantile(c1, edges, u, "right")], 1)
    qt = ((1.0 - t) * q0 + t * q1).ravel()
    # F_t at the cell edges, by inverting the non-decreasing piecewise-linear F_t^{-1}.
    Ft = np.interp(edges, qt, uu, left=0.0, right=1.0)
    return np.diff(Ft) / h


def _quantile(cdf: np.ndarray, edges: np.ndarray, u: np.ndarray, side: str) -> np.ndarray:
    """One-sided limit F^{-1}(u-) (side="left") or F^{-1}(u+) (side="right") of the quantile."""
    idx = np.clip(np.searchsorted(cdf, u, side=side), 1, cdf.shape[0] - 1)
    lo, hi = cdf[idx - 1], cdf[idx]
    width = np.where(hi > lo, hi - lo, 1.0)
    w = np.clip(np.where(hi > lo, (u - lo) / width, 0.0), 0.0, 1.0)
    return edges[idx - 1] + w * (edges[idx] - edges[idx - 1])


# --------------------------------------------------------------------------------------------
# Discrete measures
# --------------------------------------------------------------------------------------------


class DiscreteInterpolant(NamedTuple):
    r"""McCann's interpolation between discrete measures: :math:`\sum_k w_k \delta_{z_k}`.

    Fields:

    - ``t`` (float): the time.
    - ``points`` (ndarray, shape (K, d)):
      :math:`z_k = (1 - t) x_{i_k} + t y_{j_k}` over the support :math:`(i_k, j_k)` of the
      optimal plan.
    - ``weights`` (ndarray, shape (K,)):
      :math:`w_k = \gamma_{i_k j_k}`.
    - ``velocities`` (ndarray, shape (K, d)):
      :math:`y_{j_k} - x_{i_k}`, constant along each straight path.
    """

    t: float
    points: np.ndarray
    weights: np.ndarray
    velocities: np.ndarray

    def kinetic_energy(self) -> float:
        r""":math:`\sum_k w_k |v_k|^2` (equal to :math:`W_2^2(\mu, \nu)` for every ``t``)."""
        return float(self.weights @ np.sum(self.velocities**2, axis=1))


def mccann_samples(x, y, t, a=None, b=None, *, plan=None) -> DiscreteInterpolant:
    r"""McCann's interpolation between two discrete measures through the exact OT plan.

    .. math::

        \rho_t = \sum_{ij} \gamma_{ij}\, \delta_{(1 - t) x_i + t y_j},
        \qquad \gamma = \text{an optimal plan between } \textstyle\sum_i a_i\delta_{x_i}
        \text{ and } \sum_j b_j\delta_{y_j}.

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
    t : float
        time in :math:`[0, 1]`.
    a, b : array_like, optional
        weights (uniform by default).
    plan : array_like, shape (n, m), optional
        a precomputed optimal plan (e.g. to evaluate many times); by default
        :func:`wgf.ot.ot_plan` is called.

    Returns
    -------
    DiscreteInterpolant
    """
    x = as_points(x, "x")
    y = as_points(y, "y", dim=x.shape[1])
    a = wot._weights(a, x.shape[0], "a")  # float32 / non-contiguous weights accepted
    b = wot._weights(b, y.shape[0], "b")
    t = _as_time(t)
    if plan is None:
        plan = wot.ot_plan(x, y, a, b)
    else:
        plan = as_float_array(plan, "plan")
        if plan.shape != (x.shape[0], y.shape[0]):
            raise ValueError(
                f"plan must have shape {(x.shape[0], y.shape[0])}, got shape {plan.shape}"
            )
        if np.any(plan < 0):
            raise ValueError("plan must be non-negative")
        tol = 1e-9
        if np.abs(plan.sum(1) - a).max() > tol or np.abs(plan.sum(0) - b).max() > tol:
            raise ValueError("plan must have marginals a and b")
    i, j = np.nonzero(plan > 0)
    vel = y[j] - x[i]
    return DiscreteInterpolant(t=t, points=x[i] + t * vel, weights=plan[i, j], velocities=vel)
