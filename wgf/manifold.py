r"""Exact curves in Wasserstein space, their velocity fields and their lengths.

The diffusion models and the flow-matching models of the book move a density along a curve
:math:`(\rho_t)` in :math:`(\mathcal P_2(\mathbb R^d), W_2)`.  A curve driven by a velocity field
:math:`v_t`, :math:`\partial_t\rho_t + \nabla\cdot(\rho_t v_t) = 0`, has *metric speed*

.. math::

    |\dot\rho|(t) = \lim_{h\to0}\frac{W_2(\rho_{t+h}, \rho_t)}{|h|}
    \;\le\; \|v_t\|_{L^2(\rho_t)},

with equality when :math:`v_t` is a gradient field (the tangent vector of the curve)
:cite:p:`ambrosio2008gradient`; its length :math:`L = \int|\dot\rho|(t)\,dt` does not depend on
the parametrisation and is at least :math:`W_2(\rho_{\text{start}}, \rho_{\text{end}})`, with
equality exactly for (reparametrised) geodesics.

For a Gaussian-mixture target (every toy target of the book) three curves are exact:

* ``"vp"`` -- the Ornstein-Uhlenbeck (VP diffusion) curve :math:`\rho_s` = law of
  :math:`e^{-s}X + \sqrt{1-e^{-2s}}Z` at OU time :math:`s \ge 0` (data at :math:`s = 0`,
  :math:`\pi = \mathcal N(0, I)` as :math:`s\to\infty`), driven by the gradient field
  :math:`v_s = -\nabla\log(\rho_s/\pi)`: the Wasserstein gradient flow of
  :math:`\mathrm{KL}(\cdot\,\|\,\pi)`, whose metric speed is
  :math:`\sqrt{I(\rho_s\,\|\,\pi)}` (the relative Fisher information);
* ``"ve"`` -- the heat (VE diffusion, NCSN) curve :math:`\rho_\sigma` = law of
  :math:`X + \sigma Z`, with :math:`v_\sigma = -\sigma\nabla\log\rho_\sigma` per unit of
  :math:`\sigma` (the heat flow :math:`\partial_\tau\rho = \Delta\rho` at :math:`\tau = \sigma^2/2`),
  also a gradient field;
* ``"icfm"`` -- the marginal path of flow matching with the independent coupling
  :math:`x_t = (1-t)Z + tX`, :math:`t\in[0,1]` (prior at :math:`t = 0`), driven by the
  marginal velocity :math:`v_t(x) = \mathbb E[X - Z \mid x_t = x]` (:func:`wgf.metrics.icfm_velocity`), which is
  not a gradient field in general: :math:`\|v_t\|` only bounds the metric speed from above.

:func:`curve_length` integrates :math:`\|v_t\|_{L^2(\rho_t)}` by quadrature in time with Monte
Carlo in space, with a delta-method standard error; :func:`bures_length` integrates the exact
metric speed of a Gaussian curve (the Bures-Wasserstein metric), the closed-form check.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from ._checks import as_float_array, as_gaussian_pair, as_points, positive, positive_int
from .metrics import icfm_velocity
from .mixtures import GaussianMixture, as_mixture
from .ot import gaussian_ot_map
from .rng import as_generator

__all__ = [
    "KINDS",
    "LengthEstimate",
    "bures_length",
    "bures_speed",
    "curve_length",
    "gaussian_curve",
    "icfm_marginal",
    "ou_velocity",
    "time_grid",
    "trapezoid_weights",
    "ve_velocity",
]

#: The exact curves of a mixture that :func:`curve_length` knows.
KINDS = ("vp", "ve", "icfm")


def _mixture(mixture) -> GaussianMixture:
    return as_mixture(mixture)


def _times(times, name: str = "times", *, lo: float = 0.0, hi: float = np.inf) -> np.ndarray:
    t = as_float_array(times, name)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"{name} must be a 1-D array of at least two times, got shape {t.shape}")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    if t[0] < lo or t[-1] > hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}], got [{t[0]:g}, {t[-1]:g}]")
    return t


def time_grid(start, stop, n: int = 400, *, refine: str = "start", first: float = 1e-6):
    r"""A grid on ``[start, stop]`` that is geometric near one end, uniform in log there.

    With :math:`\ell = \text{stop} - \text{start}` and ``refine="start"`` the points are
    ``start`` and :math:`\text{start} + \ell g_j`, :math:`g_j` geometric from ``first`` to 1
    (``n - 1`` values); ``refine="end"`` mirrors it.  Integrands that vary on the scale of the
    distance to one end (the Fisher information near the data) are then resolved at every scale.

    Returns
    -------
    ndarray, shape (n,)
        strictly increasing, ``start`` and ``stop`` included.
    """
    start, stop = float(start), float(stop)
    if not (np.isfinite(start) and np.isfinite(stop) and stop > start):
        raise ValueError(f"start < stop must be finite, got {start!r}, {stop!r}")
    n = positive_int(n, "n", minimum=3)
    first = positive(first, "first")
    if first >= 1:
        raise ValueError(f"first must be < 1 (a fraction of the interval), got {first!r}")
    g = np.concatenate([[0.0], np.geomspace(first, 1.0, n - 1)])
    if refine == "start":
        return start + (stop - start) * g
    if refine == "end":
        return (stop - (stop - start) * g)[::-1]
    raise ValueError(f"refine must be 'start' or 'end', got {refine!r}")


def trapezoid_weights(times) -> np.ndarray:
    r"""Weights :math:`w_j` of the trapezoidal rule, :math:`\int f \approx \sum_j w_j f(t_j)`."""
    t = _times(times, lo=-np.inf)
    w = np.zeros_like(t)
    dt = np.diff(t)
    w[:-1] += dt / 2
    w[1:] += dt / 2
    return w


# --------------------------------------------------------------------------------------------
# Gaussian curves: the Bures-Wasserstein metric speed
# --------------------------------------------------------------------------------------------


def bures_speed(m, S, dm, dS) -> float:
    r"""Metric speed of a Gaussian curve :math:`\mathcal N(m_t, S_t)` in :math:`W_2`.

    The tangent vector is the gradient field :math:`v(x) = \dot m + L(x - m)` with :math:`L`
    symmetric and :math:`\dot S = LS + SL` (a Lyapunov equation), so

    .. math::

        |\dot\rho|^2 = |\dot m|^2 + \operatorname{tr}(L S L),

    the Riemannian (Bures-Wasserstein) metric of Gaussian measures
    :cite:p:`takatsu2011wasserstein`.

    Parameters
    ----------
    m, dm : array_like, shape (d,)
        mean and its time derivative.
    S, dS : array_like, shape (d, d)
        covariance (SPD) and its time derivative (symmetric).

    Returns
    -------
    float
    """
    m, S, dm, _ = as_gaussian_pair(m, S, dm, np.eye(np.size(m)))
    dS = as_float_array(dS, "dS")
    if dS.shape != S.shape or np.abs(dS - dS.T).max() > 1e-10 * max(1.0, np.abs(dS).max()):
        raise ValueError(f"dS must be a symmetric matrix of shape {S.shape}")
    L = solve_continuous_lyapunov(S, dS)  # S L + L S = dS
    L = 0.5 * (L + L.T)
    return float(np.sqrt(dm @ dm + np.trace(L @ S @ L)))


def gaussian_curve(kind: str, m1, S1, m0=None, S0=None):
    r"""An exact Gaussian curve as ``t -> (m_t, S_t, dm_t, dS_t)``.

    ``kind`` is ``"vp"`` (OU from :math:`\mathcal N(m_1, S_1)` towards :math:`\mathcal N(0, I)`,
    OU time :math:`s\ge0`: :math:`m_s = e^{-s}m_1`, :math:`S_s = e^{-2s}S_1 + (1 - e^{-2s})I`),
    ``"icfm"`` (independent-coupling path from :math:`\mathcal N(m_0, S_0)` at :math:`t=0` to
    :math:`\mathcal N(m_1, S_1)`: :math:`m_t = (1-t)m_0 + tm_1`,
    :math:`S_t = (1-t)^2S_0 + t^2S_1`) or ``"geodesic"`` (McCann's interpolation
    :math:`S_t = M_tS_0M_t`, :math:`M_t = (1-t)I + tA`, :math:`A` the OT map's matrix).  The prior
    ``(m0, S0)`` defaults to :math:`\mathcal N(0, I)` and is ignored by ``"vp"``.
    """
    m1 = np.atleast_1d(as_float_array(m1, "m1"))
    d = m1.shape[0]
    m0 = np.zeros(d) if m0 is None else m0
    S0 = np.eye(d) if S0 is None else S0
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    eye = np.eye(d)
    if kind == "vp":

        def curve(s):
            e = np.exp(-s)
            S = e**2 * S1 + (1 - e**2) * eye
            return e * m1, S, -e * m1, 2.0 * (eye - S)

    elif kind == "icfm":

        def curve(t):
            S = (1 - t) ** 2 * S0 + t**2 * S1
            return (1 - t) * m0 + t * m1, S, m1 - m0, -2 * (1 - t) * S0 + 2 * t * S1

    elif kind == "geodesic":
        A = gaussian_ot_map(m0, S0, m1, S1).matrix

        def curve(t):
            M = (1 - t) * eye + t * A
            dS = (A - eye) @ S0 @ M + M @ S0 @ (A - eye)
            return (1 - t) * m0 + t * m1, M @ S0 @ M, m1 - m0, 0.5 * (dS + dS.T)

    else:
        raise ValueError(f"kind must be 'vp', 'icfm' or 'geodesic', got {kind!r}")
    return curve


def bures_length(curve, times) -> tuple[float, np.ndarray]:
    r"""Length :math:`\int|\dot\rho|\,dt` of a Gaussian curve by the trapezoidal rule.

    Parameters
    ----------
    curve : callable
        ``t -> (m, S, dm, dS)``, e.g. from :func:`gaussian_curve`.
    times : array_like, shape (K,)
        strictly increasing quadrature nodes.

    Returns
    -------
    (float, ndarray)
        the length and the metric speed at each node.
    """
    if not callable(curve):
        raise TypeError(f"curve must be callable, got {type(curve).__name__}")
    t = _times(times, lo=-np.inf)
    speed = np.array([bures_speed(*curve(float(s))) for s in t])
    return float(trapezoid_weights(t) @ speed), speed


# --------------------------------------------------------------------------------------------
# Exact velocity fields of a Gaussian mixture
# --------------------------------------------------------------------------------------------


def ou_velocity(mixture):
    r"""The OU (VP) gradient-flow velocity :math:`v_s(x) = -(\nabla\log\rho_s(x) + x)`.

    :math:`\rho_s` is the exact OU marginal at OU time :math:`s` (``mixture.ou(s)``), so
    :math:`v_s = -\nabla\log(\rho_s/\pi)` with :math:`\pi = \mathcal N(0, I)` drives the curve from
    the data (:math:`s = 0`) towards :math:`\pi`.  Integrated backwards in :math:`s` it is the
    probability-flow ODE of VP diffusion.  Returns ``v(x, s)`` with ``x`` of shape (n, d).
    """
    mix = _mixture(mixture)

    def v(x, s):
        x = as_points(x, "x", dim=mix.dim)
        return -(mix.ou(s).score(x) + x)

    return v


def ve_velocity(mixture):
    r"""The heat-flow (VE) velocity per unit of noise level, :math:`v_\sigma(x) = -\sigma\nabla\log\rho_\sigma(x)`.

    :math:`\rho_\sigma` = law of :math:`X + \sigma Z` (``mixture.smoothed(sigma)``); the heat
    equation :math:`\partial_\tau\rho = \Delta\rho = \nabla\cdot(\rho\nabla\log\rho)` at
    :math:`\tau = \sigma^2/2` gives :math:`d\tau/d\sigma = \sigma`.  Returns ``v(x, sigma)``.
    """
    mix = _mixture(mixture)

    def v(x, sigma):
        x = as_points(x, "x", dim=mix.dim)
        return -sigma * mix.smoothed(sigma).score(x)

    return v


def icfm_marginal(mixture, t) -> GaussianMixture:
    r"""The law of :math:`x_t = (1-t)Z + tX`, :math:`Z\sim\mathcal N(0, I)`, :math:`X` ~ ``mixture``.

    Component by component: :math:`\mathcal N(m_k, \Sigma_k) \mapsto
    \mathcal N\bigl(t m_k,\,(1-t)^2 I + t^2\Sigma_k\bigr)`, weights unchanged.
    """
    mix = _mixture(mixture)
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t!r}")
    covs = (1 - t) ** 2 * np.eye(mix.dim) + t**2 * mix.covs
    return GaussianMixture(mix.weights, t * mix.means, covs)


# --------------------------------------------------------------------------------------------
# Lengths by quadrature in time and Monte Carlo in space
# --------------------------------------------------------------------------------------------


class LengthEstimate(NamedTuple):
    r"""Result of :func:`curve_length`.

    ``length`` is :math:`\sum_j w_j\,\widehat{\|v_{t_j}\|}` (trapezoid weights, the Monte Carlo
    root-mean-square speed at each node), ``se`` its delta-method standard error;
    ``speed`` and ``speed_se`` the speed and its standard error per node; ``tail`` a rigorous
    bound on the length beyond the last node (``"vp"`` only, else 0).
    """

    kind: str
    times: np.ndarray
    speed: np.ndarray
    speed_se: np.ndarray
    length: float
    se: float
    tail: float
    n: int


def curve_length(mixture, kind: str, times, n: int = 20_000, generator=None) -> LengthEstimate:
    r"""Length of an exact curve of ``mixture``: :math:`\int\|v_t\|_{L^2(\rho_t)}\,dt`.

    The same draws :math:`(X_i, Z_i)` serve every node (common random numbers), e.g.
    :math:`x_i(s) = e^{-s}X_i + \sqrt{1 - e^{-2s}}Z_i` for ``"vp"``.  With
    :math:`f_{ij} = |v_{t_j}(x_i(t_j))|^2`, :math:`\bar f_j` its mean and :math:`w_j` the trapezoid
    weights, the estimate :math:`\hat L = \sum_j w_j\bar f_j^{1/2}` has, to first order,
    :math:`\hat L - L \approx \frac1n\sum_i g_i` with
    :math:`g_i = \sum_j w_j(f_{ij} - \bar f_j)/(2\bar f_j^{1/2})`, whence ``se`` = sd(g)/sqrt(n).

    For ``"vp"`` and ``"ve"`` the velocity is the gradient field that drives the curve, so the
    integrand is the metric speed (:math:`\sqrt{I(\rho_s\|\pi)}` for ``"vp"``) and the result is
    the length.  For ``"icfm"`` it is an upper bound on the length.  For ``"vp"``, by the
    exponential decay of the Fisher information along the OU flow (Bakry-Emery, curvature 1),
    :math:`\sqrt{I(\rho_s\|\pi)} \le e^{-(s - s_K)}\sqrt{I(\rho_{s_K}\|\pi)}` for :math:`s \ge s_K`,
    so the rest of the curve has length at most the last speed: that is ``tail``.

    Parameters
    ----------
    mixture : GaussianMixture
        the data.
    kind : str
        ``"vp"`` (times = OU times :math:`s \ge 0`), ``"ve"`` (times = noise levels
        :math:`\sigma\ge0`) or ``"icfm"`` (times in [0, 1], prior at 0).
    times : array_like
        strictly increasing quadrature nodes (e.g. :func:`time_grid`).
    n : int
        Monte Carlo sample size.
    generator : None, int or numpy.random.Generator

    Returns
    -------
    LengthEstimate
    """
    mix = _mixture(mixture)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    t = _times(times, hi=1.0 if kind == "icfm" else np.inf)
    n = positive_int(n, "n", minimum=10)
    rng = as_generator(generator)
    X = mix.sample(n, rng)
    Z = rng.standard_normal(X.shape)
    field = {"vp": ou_velocity, "ve": ve_velocity, "icfm": icfm_velocity}[kind](mix)
    f = np.empty((t.size, n))
    for j, s in enumerate(t):
        if kind == "vp":
            x = np.exp(-s) * X + np.sqrt(-np.expm1(-2 * s)) * Z
        elif kind == "ve":
            x = X + s * Z
        else:
            x = (1 - s) * Z + s * X
        f[j] = np.sum(field(x, s) ** 2, axis=1)
    w = trapezoid_weights(t)
    mean = f.mean(axis=1)
    root = np.sqrt(mean)
    safe = np.where(root > 0, root, 1.0)
    g = ((w / (2 * safe))[:, None] * (f - mean[:, None])).sum(axis=0)
    speed_se = f.std(axis=1, ddof=1) / (2 * safe * np.sqrt(n))
    tail = float(root[-1]) if kind == "vp" else 0.0
    return LengthEstimate(
        kind, t, root, speed_se, float(w @ root), float(g.std(ddof=1) / np.sqrt(n)), tail, n
    )
