r"""Closed forms of flow matching between Gaussians: affine marginal velocities and their flows.

Between :math:`\mu_0 = \mathcal N(m_0, \Sigma_0)` and :math:`\mu_1 = \mathcal N(m_1, \Sigma_1)`
the marginal velocity of conditional flow matching (:mod:`wgf.flow_matching`, straight
conditional paths :math:`x_t = (1-t)x_0 + t x_1`) is affine in :math:`x` for both couplings:

* the exact OT coupling (:func:`gaussian_ot_velocity`): McCann's interpolation, straight
  paths, action :math:`W_2^2` :cite:`mccann1997convexity`;
* the independent coupling (:func:`gaussian_icfm_velocity`): the linear regression of
  :math:`x_1 - x_0` on :math:`x_t`, a longer path :cite:`lipman2023flow`.

Under an affine field a Gaussian stays Gaussian; :func:`gaussian_flow` integrates the ODEs of
its mean and covariance and the kinetic action.  These are the exact references the trained
networks of chapter 08 are measured against.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, as_gaussian_pair, as_points, check_callable, positive_int
from .gaussian_ot import gaussian_ot_map

__all__ = [
    "GaussianFlow",
    "GaussianVelocity",
    "gaussian_flow",
    "gaussian_icfm_velocity",
    "gaussian_ot_velocity",
]


class GaussianVelocity:
    r"""Affine velocity :math:`v_t(x) = B_t (x - m_t) + (m_1 - m_0)`, :math:`m_t = (1-t)m_0 + t m_1`.

    ``matrix(t)`` returns :math:`B_t`; the instance is callable as ``v(x, t)``.
    """

    def __init__(self, m0, m1, matrix, name: str = "affine"):
        self.m0, self.m1 = np.asarray(m0, float), np.asarray(m1, float)
        self._matrix = matrix
        self.name = name

    def mean(self, t) -> np.ndarray:
        return (1.0 - t) * self.m0 + t * self.m1

    def matrix(self, t) -> np.ndarray:
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t must lie in [0, 1], got {t}")
        return self._matrix(t)

    def __call__(self, x, t) -> np.ndarray:
        x = as_points(x, "x", dim=self.m0.shape[0])
        return (x - self.mean(t)) @ self.matrix(t).T + (self.m1 - self.m0)

    def __repr__(self) -> str:
        return f"GaussianVelocity({self.name}, d={self.m0.shape[0]})"


def gaussian_ot_velocity(m0, S0, m1, S1) -> GaussianVelocity:
    r"""Marginal velocity of flow matching with the exact OT coupling, between two Gaussians.

    The OT coupling pairs :math:`x_1 = T(x_0) = m_1 + A(x_0 - m_0)`
    (:func:`wgf.gaussian_ot.gaussian_ot_map`),
    so :math:`x_t = m_t + M_t (x_0 - m_0)` with :math:`M_t = (1-t)I + tA`: McCann's interpolation
    (:func:`wgf.geodesics.mccann_gaussian`).  Every path is straight, and :math:`M_t` is invertible
    (:math:`A` is SPD), so the conditional target is a function of :math:`x_t`:

    .. math::

        v_t(x) = x_1 - x_0 = (m_1 - m_0) + (A - I)(x_0 - m_0)
               = (A - I) M_t^{-1} (x - m_t) + (m_1 - m_0).

    Its action :math:`\int_0^1\mathbb E|v_t(x_t)|^2dt = \mathbb E|T(x_0) - x_0|^2 = W_2^2`.
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    A = gaussian_ot_map(m0, S0, m1, S1).matrix
    eye = np.eye(m0.shape[0])

    def matrix(t):
        M = (1.0 - t) * eye + t * A
        return np.linalg.solve(M.T, (A - eye).T).T

    return GaussianVelocity(m0, m1, matrix, "ot")


def gaussian_icfm_velocity(m0, S0, m1, S1) -> GaussianVelocity:
    r"""Marginal velocity of flow matching with the independent coupling, between two Gaussians.

    With :math:`x_0 \sim \mathcal N(m_0, \Sigma_0)` and :math:`x_1\sim\mathcal N(m_1,\Sigma_1)`
    independent, :math:`(x_t, x_1 - x_0)` is jointly Gaussian: :math:`x_t` has mean :math:`m_t`
    and covariance :math:`\Sigma_t = (1-t)^2\Sigma_0 + t^2\Sigma_1`, and

    .. math::

        C_t = \operatorname{Cov}(x_1 - x_0,\, x_t)
            = \operatorname{Cov}(x_1 - x_0,\, (1-t)x_0 + t x_1) = t\Sigma_1 - (1-t)\Sigma_0 .

    The conditional mean of a Gaussian vector is affine (linear regression is exact), hence

    .. math::

        v_t(x) = \mathbb E[x_1 - x_0 \mid x_t = x] = (m_1 - m_0) + C_t \Sigma_t^{-1}(x - m_t).

    :math:`\Sigma_t` is SPD for every :math:`t` since :math:`\Sigma_0, \Sigma_1` are.  The path
    :math:`\rho_t = \mathcal N(m_t, \Sigma_t)` is *not* McCann's (whose covariance is
    :math:`M_t\Sigma_0M_t`), so the action exceeds :math:`W_2^2` unless the two coincide.
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)

    def matrix(t):
        cov = (1.0 - t) ** 2 * S0 + t**2 * S1
        C = t * S1 - (1.0 - t) * S0
        return np.linalg.solve(cov.T, C.T).T  # C cov^{-1} (cov symmetric)

    return GaussianVelocity(m0, m1, matrix, "icfm")


class GaussianFlow(NamedTuple):
    """Law :math:`\\mathcal N(m_t, \\Sigma_t)` of a Gaussian pushed by an affine field.

    Fields: ``t`` (K+1,), ``mean`` (K+1, d), ``cov`` (K+1, d, d), ``speed2`` (K+1,) the mean
    squared speed :math:`\\mathbb E|v_t(X_t)|^2`, and ``action`` its integral over [0, 1]
    (Simpson's rule).
    """

    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    speed2: np.ndarray
    action: float


def _affine_parts(velocity, t, d):
    """(B, c) with velocity(x, t) = B x + c, read off from d + 1 evaluations (exact if affine)."""
    pts = np.vstack([np.zeros(d), np.eye(d)])
    out = np.asarray(velocity(pts, t), dtype=float)
    if out.shape != pts.shape:
        raise ValueError(f"velocity must return shape {pts.shape}, got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"velocity returned NaN/Inf at t={t:.4g}")
    c = out[0]
    return (out[1:] - c).T, c


def gaussian_flow(velocity, m0, S0, steps: int = 200) -> GaussianFlow:
    r"""Push :math:`\mathcal N(m_0, \Sigma_0)` along an affine field, exactly up to RK4 error.

    If :math:`v_t(x) = B_t x + c_t` then :math:`X_t` stays Gaussian, with

    .. math::

        \dot m_t = B_t m_t + c_t, \qquad \dot\Sigma_t = B_t\Sigma_t + \Sigma_t B_t^\top,
        \qquad \mathbb E|v_t(X_t)|^2 = |B_t m_t + c_t|^2 + \operatorname{tr}(B_t\Sigma_t B_t^\top).

    ``velocity(x, t)`` may be any callable that is affine in ``x`` (the parts :math:`B_t, c_t`
    are read off from :math:`d + 1` evaluations).  ``steps`` (even) RK4 steps on :math:`[0, 1]`.
    """
    check_callable(velocity, "velocity", "velocity(x, t)")
    steps = positive_int(steps, "steps", minimum=2)
    if steps % 2:
        raise ValueError(f"steps must be even (Simpson's rule), got {steps}")
    m0 = as_float_array(np.atleast_1d(m0), "m0")
    d = m0.shape[0]
    S0 = as_gaussian_pair(m0, S0, m0, np.eye(d))[1]

    def rhs(t, m, S):
        B, c = _affine_parts(velocity, t, d)
        return B @ m + c, B @ S + S @ B.T

    def speed2(t, m, S):
        B, c = _affine_parts(velocity, t, d)
        u = B @ m + c
        return float(u @ u + np.trace(B @ S @ B.T))

    h = 1.0 / steps
    ts = np.linspace(0.0, 1.0, steps + 1)
    means, covs = [m0], [S0]
    m, S = m0, S0
    for t in ts[:-1]:
        k1 = rhs(t, m, S)
        k2 = rhs(t + h / 2, m + h / 2 * k1[0], S + h / 2 * k1[1])
        k3 = rhs(t + h / 2, m + h / 2 * k2[0], S + h / 2 * k2[1])
        k4 = rhs(t + h, m + h * k3[0], S + h * k3[1])
        m = m + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        S = S + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        S = 0.5 * (S + S.T)
        means.append(m)
        covs.append(S)
    e = np.array([speed2(t, m, S) for t, m, S in zip(ts, means, covs, strict=True)])
    w = np.ones(steps + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return GaussianFlow(ts, np.array(means), np.array(covs), e, float(h / 3 * w @ e))
