r"""The JKO (minimising-movement) scheme for :math:`F(\rho) = \mathrm{KL}(\rho\,\|\,\pi)`.

One step of size :math:`\tau` of the scheme of Jordan, Kinderlehrer and Otto
:cite:p:`jordan1998variational` is

.. math::

    \rho_{k+1} = \operatorname*{arg\,min}_{\rho} \; F(\rho) + \frac{W_2^2(\rho, \rho_k)}{2\tau},
    \qquad F(\rho) = \int \rho\log\rho + \int V\rho + \text{const},
    \quad \pi \propto e^{-V}.

**Convention.** :math:`\tau` is the standard step (the :math:`W_2^2/(2\tau)` form), so that
:math:`\rho_k \approx \rho(k\tau)` for the Fokker-Planck equation
:math:`\partial_t\rho = \nabla\cdot(\rho\nabla V) + \Delta\rho`.  Peyré :cite:p:`peyre2015entropic`
writes :math:`W + \tau' F`, i.e. :math:`\tau' = 2\tau`.  Three solvers:

* Gaussians (exact): :func:`gaussian_jko_step` (closed form for :math:`\pi = \mathcal N(b, qI)`,
  a numerical minimisation over Cholesky factors otherwise, :func:`gaussian_jko_step_numerical`);
* 1-D Lagrangian (equal-mass particles = quantile function): :func:`lagrangian_jko_step`;
* entropic JKO on a grid (generalised Sinkhorn iterations): :mod:`wgf.entropic_jko`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import linalg, optimize

from ._checks import (
    as_float_array,
    as_points,
    as_spd,
    as_vector,
    positive,
    positive_int,
)
from .functionals import kl_gaussian
from .gaussian_ot import AffineMap, gaussian_ot_map, w2_gaussian

__all__ = [
    "Potential1D",
    "gaussian_inverse_map",
    "gaussian_jko_chain",
    "gaussian_jko_objective",
    "gaussian_jko_step",
    "gaussian_jko_step_numerical",
    "lagrangian_el_residual",
    "lagrangian_energy",
    "lagrangian_fisher_information",
    "lagrangian_jko_chain",
    "lagrangian_jko_step",
    "particle_density",
    "particle_score",
    "quadratic_potential",
    "quantile_particles",
]

# --------------------------------------------------------------------------------------------
# Gaussians
# --------------------------------------------------------------------------------------------


def _target(target_mean, target_cov, d):
    b = np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", dim=d)
    if target_cov is None:
        return b, np.eye(d)
    q = as_float_array(target_cov, "target_cov")
    if q.ndim == 0:
        return b, positive(q, "target_cov") * np.eye(d)
    return b, as_spd(q, "target_cov", dim=d)


def _gauss(mean, cov, name="mean", cname="cov"):
    m = as_vector(mean, name)
    return m, as_spd(cov, cname, dim=m.shape[0])


def gaussian_jko_objective(
    mean, cov, prev_mean, prev_cov, tau, target_mean=None, target_cov=None
) -> float:
    r"""The JKO objective :math:`\mathrm{KL}(\rho\|\pi) + W_2^2(\rho,\rho_k)/(2\tau)` for Gaussians.

    :math:`\rho = \mathcal N(m, S)`, :math:`\rho_k = \mathcal N(m_k, S_k)` (``prev_*``),
    :math:`\pi = \mathcal N(b, Q)`; :math:`W_2` by the Bures formula
    (:func:`wgf.gaussian_ot.w2_gaussian`), the KL by :func:`wgf.functionals.kl_gaussian`.
    """
    tau = positive(tau, "tau")
    m, S = _gauss(mean, cov)
    mk, Sk = _gauss(prev_mean, prev_cov, "prev_mean", "prev_cov")
    if mk.shape != m.shape:
        raise ValueError(f"prev_mean must have shape {m.shape}, got {mk.shape}")
    b, Q = _target(target_mean, target_cov, m.shape[0])
    w = w2_gaussian(m, S, mk, Sk)
    return kl_gaussian(m, S, b, Q) + w**2 / (2.0 * tau)


def gaussian_jko_step(mean, cov, tau, target_mean=None, target_cov=None):
    r"""One exact JKO step from :math:`\mathcal N(m_k, S_k)` towards :math:`\pi = \mathcal N(b, Q)`.

    The minimiser is Gaussian.  Its mean solves the quadratic problem
    :math:`Q^{-1}(m-b) + (m-m_k)/\tau = 0`.  For an isotropic target :math:`Q = qI` the
    covariance keeps the eigenvectors of :math:`S_k`, and each standard deviation
    :math:`\sigma_k = \sqrt{s_k}` maps to the positive root of a scalar quadratic:

    .. math::

        m = \frac{q\,m_k + \tau b}{q + \tau}, \qquad
        (q + \tau)\sigma^2 - q\,\sigma_k\,\sigma - q\tau = 0, \qquad
        \sigma = \frac{q\sigma_k + \sqrt{q^2\sigma_k^2 + 4q\tau(q+\tau)}}{2(q+\tau)}.

    A non-isotropic ``target_cov`` is handed to :func:`gaussian_jko_step_numerical`.

    Parameters
    ----------
    mean : array_like, shape (d,)
    cov : array_like, shape (d, d)
        symmetric positive definite.
    tau : float
        step size (standard convention, objective :math:`F + W_2^2/(2\tau)`), > 0.
    target_mean : array_like, shape (d,), optional
        :math:`b`, default 0.
    target_cov : float or array_like, shape (d, d), optional
        :math:`Q` (a scalar q means qI), default the identity.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, cov)`` of :math:`\rho_{k+1}`.
    """
    tau = positive(tau, "tau")
    m, S = _gauss(mean, cov)
    b, Q = _target(target_mean, target_cov, m.shape[0])
    q = Q[0, 0]
    if np.abs(Q - q * np.eye(m.shape[0])).max() > 1e-14 * q:
        return gaussian_jko_step_numerical(m, S, tau, b, Q)
    s, U = np.linalg.eigh(S)
    sig = np.sqrt(s)
    sig_new = (q * sig + np.sqrt(q**2 * s + 4.0 * q * tau * (q + tau))) / (2.0 * (q + tau))
    S_new = (U * sig_new**2) @ U.T
    return (q * m + tau * b) / (q + tau), 0.5 * (S_new + S_new.T)


def gaussian_jko_step_numerical(
    mean, cov, tau, target_mean=None, target_cov=None, *, gtol=1e-11, max_iter=None
):
    r"""The JKO step for Gaussians by direct minimisation (any SPD target covariance).

    Minimises :func:`gaussian_jko_objective` over the mean and a Cholesky factor
    :math:`S = LL^\top` (log-parametrised diagonal, so that :math:`S` stays SPD) with BFGS and
    the analytic gradient :math:`\partial_S = \tfrac12(Q^{-1} - S^{-1}) + (I - A)/(2\tau)`,
    where :math:`A` is the optimal map matrix from :math:`S` to :math:`S_k`
    (:math:`\partial_S W_2^2 = I - A`).  Returns ``(mean, cov)``.

    BFGS often ends with scipy's "precision loss" status once the objective is flat to round-off;
    the result is accepted when the gradient is small,
    :math:`\max|\nabla_\theta J| \le 10^{-6}(1 + |J|)\max(1, 1/\tau)`, and a ``RuntimeError``
    is raised otherwise (e.g. when ``max_iter`` BFGS iterations do not suffice).  The factor
    :math:`1/\tau` is the curvature of the proximal term :math:`W_2^2/(2\tau)`: the gradient
    left by round-off grows like it, while the distance to the minimiser is about the gradient
    over the curvature (seen: gradient :math:`2.8\cdot10^{-6}` at :math:`\tau = 0.01`, with the
    mean :math:`3\cdot10^{-8}` from the closed form; the tolerance without the factor rejected
    it on one machine and not on another).
    """
    tau = positive(tau, "tau")
    mk, Sk = _gauss(mean, cov)
    d = mk.shape[0]
    b, Q = _target(target_mean, target_cov, d)
    Qi = np.linalg.inv(Q)
    il = np.tril_indices(d)
    diag = il[0] == il[1]

    def unpack(theta):
        L = np.zeros((d, d))
        v = theta[d:].copy()
        v[diag] = np.exp(v[diag])
        L[il] = v
        return theta[:d], L

    def fun(theta):
        m, L = unpack(theta)
        S = L @ L.T
        A = gaussian_ot_map(np.zeros(d), S, np.zeros(d), Sk).matrix
        val = gaussian_jko_objective(m, S, mk, Sk, tau, b, Q)
        gm = Qi @ (m - b) + (m - mk) / tau
        G = 0.5 * (Qi - np.linalg.inv(S)) + (np.eye(d) - A) / (2.0 * tau)
        gL = (2.0 * G @ L)[il]
        gL[diag] *= L[il][diag]
        return val, np.concatenate([gm, gL])

    L0 = np.linalg.cholesky(Sk)[il]
    L0[diag] = np.log(L0[diag])
    options = {"gtol": gtol}
    if max_iter is not None:
        options["maxiter"] = positive_int(max_iter, "max_iter")
    res = optimize.minimize(fun, np.concatenate([mk, L0]), jac=True, method="BFGS", options=options)
    grad = np.abs(res.jac).max()
    if not np.isfinite(res.fun) or grad > 1e-6 * (1.0 + abs(res.fun)) * max(1.0, 1.0 / tau):
        raise RuntimeError(
            f"gaussian_jko_step_numerical: BFGS stopped at gradient {grad:.2e} "
            f"(objective {res.fun:.6g}, after {res.nit} iterations: {res.message})"
        )
    m, L = unpack(res.x)
    return m, L @ L.T


def gaussian_jko_chain(mean, cov, tau, n_steps, target_mean=None, target_cov=None):
    """``n_steps`` exact JKO steps; returns means (n+1, d) and covariances (n+1, d, d)."""
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    m, S = _gauss(mean, cov)
    means, covs = [m], [S]
    for _ in range(n_steps):
        m, S = gaussian_jko_step(m, S, tau, target_mean, target_cov)
        means.append(m)
        covs.append(S)
    return np.array(means), np.array(covs)


def gaussian_inverse_map(mean, cov, tau, target_mean=None, target_cov=None) -> AffineMap:
    r"""The denoising map :math:`T(x) = x + \tau\nabla\frac{\delta F}{\delta\rho}(\rho_{k+1})(x)`.

    For :math:`\rho_{k+1} = \mathcal N(m, S)` (``mean``, ``cov``) and :math:`\pi = \mathcal N(b, Q)`,

    .. math::

        T(x) = x + \tau\bigl(Q^{-1}(x - b) + \nabla\log\rho_{k+1}(x)\bigr)
             = x + \tau\bigl(Q^{-1}(x - b) - S^{-1}(x - m)\bigr).

    By the optimality condition of the JKO step, :math:`T` is the optimal map from
    :math:`\rho_{k+1}` back to :math:`\rho_k`: one score-based step undoes one JKO step.
    """
    tau = positive(tau, "tau")
    m, S = _gauss(mean, cov)
    d = m.shape[0]
    b, Q = _target(target_mean, target_cov, d)
    Qi, Si = np.linalg.inv(Q), np.linalg.inv(S)
    A = np.eye(d) + tau * (Qi - Si)
    return AffineMap(matrix=0.5 * (A + A.T), offset=tau * (Si @ m - Qi @ b))


# --------------------------------------------------------------------------------------------
# 1-D Lagrangian scheme: N equal-mass particles = the quantile function on a grid of levels
# --------------------------------------------------------------------------------------------


class Potential1D(NamedTuple):
    """A potential :math:`V` on the line with its first and second derivatives (vectorised)."""

    value: Callable
    grad: Callable
    hess: Callable


def quadratic_potential(center=0.0, variance=1.0) -> Potential1D:
    r""":math:`V(x) = (x - b)^2/(2q)`, so that :math:`\pi \propto e^{-V} = \mathcal N(b, q)`."""
    b = float(as_float_array(center, "center"))
    q = positive(variance, "variance")
    return Potential1D(
        lambda x: (x - b) ** 2 / (2 * q), lambda x: (x - b) / q, lambda x: np.full_like(x, 1 / q)
    )


def quantile_particles(ppf, n: int) -> np.ndarray:
    r"""Particles :math:`x_i = F^{-1}((i - \tfrac12)/n)`, :math:`i = 1..n` (equal masses 1/n)."""
    if not callable(ppf):
        raise TypeError(f"ppf must be callable (a quantile function), got {type(ppf).__name__}")
    n = positive_int(n, "n", minimum=3)
    x = as_float_array(ppf((np.arange(n) + 0.5) / n), "ppf(levels)")
    _check_particles(x)
    return x


def _check_particles(x, name="x"):
    x = as_points(x, name, min_points=3)
    if x.shape[1] != 1:
        raise ValueError(f"{name} must be 1-D particle positions, got shape {x.shape}")
    x = x[:, 0]
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"{name} must be strictly increasing (ordered, distinct particles)")
    return x


def _potential(potential) -> Potential1D:
    if not all(callable(getattr(potential, k, None)) for k in ("value", "grad", "hess")):
        raise TypeError(
            "potential must be a wgf.jko.Potential1D (value, grad, hess callables), "
            f"got {type(potential).__name__}"
        )
    return potential


def _evaluate(f, x, name):
    out = as_float_array(f(x), name)
    if out.shape != x.shape:
        raise ValueError(f"{name} must return an array of shape {x.shape}, got {out.shape}")
    return out


def particle_density(x):
    r"""The piecewise-uniform density of ordered particles: mass :math:`1/N` on each cell.

    Returns the cell midpoints and :math:`\rho_i = 1/(N h_i)`, :math:`h_i = x_{i+1} - x_i`.
    N particles bound N - 1 cells, so the density has total mass :math:`1 - 1/N` (the half-cells
    of mass :math:`1/(2N)` beyond the extreme particles are dropped).
    """
    x = _check_particles(x)
    h = np.diff(x)
    return 0.5 * (x[1:] + x[:-1]), 1.0 / (x.size * h)


def particle_score(x):
    r"""Finite-difference score :math:`(\log\rho)'` at the interior particles :math:`x_2..x_{N-1}`.

    .. math::

        s_i = \frac{\log\rho_i - \log\rho_{i-1}}{(x_{i+1} - x_{i-1})/2},

    the difference quotient of the log-density of :func:`particle_density` between the
    midpoints of the two cells that meet at :math:`x_i`.  Returns an array of length N-2.
    """
    x = _check_particles(x)
    logr = -np.log(x.size * np.diff(x))
    return np.diff(logr) / (0.5 * (x[2:] - x[:-2]))


def lagrangian_energy(x, potential: Potential1D) -> float:
    r"""Discrete free energy :math:`F_N(x) = \frac1N\sum_i V(x_i) + \sum_i \frac1N\log\frac{1}{N h_i}`.

    The entropy term is :math:`\int\rho\log\rho` of :func:`particle_density`.
    """
    x = _check_particles(x)
    potential = _potential(potential)
    n = x.size
    return float(
        np.mean(_evaluate(potential.value, x, "potential.value"))
        - np.sum(np.log(n * np.diff(x))) / n
    )


def _discrete_gradient(x, potential):
    """:math:`V'(x_i) + 1/h_i - 1/h_{i-1}` (with :math:`1/h_0 = 1/h_N = 0`)."""
    r = 1.0 / np.diff(x)
    return (
        _evaluate(potential.grad, x, "potential.grad")
        + np.concatenate([r, [0.0]])
        - np.concatenate([[0.0], r])
    )


def lagrangian_fisher_information(x, potential: Potential1D) -> float:
    r"""The discrete relative Fisher information of ordered equal-mass particles.

    .. math::

        I_N(x) = \frac1N\sum_{i=1}^N \Bigl(V'(x_i) + \frac1{h_i} - \frac1{h_{i-1}}\Bigr)^2,
        \qquad h_i = x_{i+1} - x_i,\ \frac1{h_0} = \frac1{h_N} = 0,

    the squared norm (in the flat metric :math:`\frac1N\sum_i |\cdot|^2` of the quantile
    coordinates) of the gradient of :func:`lagrangian_energy`: the particle version of
    :math:`\int\rho\,|\nabla\log(\rho/\pi)|^2`.  By the Euler-Lagrange equation of one step
    (:func:`lagrangian_el_residual`), :math:`W_2^2(x, y) = \tau^2 I_N(x)` when :math:`x` is the
    step from :math:`y`.
    """
    x = _check_particles(x)
    g = _discrete_gradient(x, _potential(potential))
    return float(np.mean(g**2))


def lagrangian_el_residual(x, y, tau, potential: Potential1D) -> np.ndarray:
    r"""Residual of the discrete Euler-Lagrange equation of one Lagrangian JKO step.

    .. math::

        r_i = x_i + \tau\Bigl(V'(x_i) + \frac1{h_i} - \frac1{h_{i-1}}\Bigr) - y_i ,

    which vanishes (to the Newton tolerance) when ``x`` is :func:`lagrangian_jko_step` of ``y``:
    the displacement back to the previous particles is :math:`\tau` times the discrete
    Wasserstein gradient of the free energy at the new point.

    Returns
    -------
    ndarray, shape (N,)
    """
    x = _check_particles(x)
    y = _check_particles(y, "y")
    if y.shape != x.shape:
        raise ValueError(f"y must have the shape of x {x.shape}, got {y.shape}")
    tau = positive(tau, "tau")
    return x + tau * _discrete_gradient(x, _potential(potential)) - y


def lagrangian_jko_step(x, tau, potential: Potential1D, *, tol=1e-12, max_iter=100):
    r"""One JKO step for N ordered equal-mass particles (the quantile function at levels (i-1/2)/N).

    In this representation :math:`W_2^2 = \frac1N\sum_i (x_i - y_i)^2`, so the step minimises

    .. math::

        \Psi(x) = \sum_i V(x_i) - \sum_{i=1}^{N-1}\log(x_{i+1} - x_i)
                  + \frac{1}{2\tau}\sum_i (x_i - y_i)^2
        \;=\; N\Bigl[F_N(x) + \frac{W_2^2(x, y)}{2\tau}\Bigr] + \text{const},

    strictly convex when :math:`\tau\min V'' > -1`, by Newton's method with the tridiagonal
    Hessian and a backtracking line search that keeps the particles ordered.  Raises
    ``RuntimeError`` when the Hessian is not positive definite (V too concave for this
    :math:`\tau`), when the line search fails, or after ``max_iter`` Newton iterations.
    """
    y = _check_particles(x)
    tau = positive(tau, "tau")
    potential = _potential(potential)
    tol = positive(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")

    def psi(z):
        return (
            np.sum(potential.value(z))
            - np.sum(np.log(np.diff(z)))
            + np.sum((z - y) ** 2) / (2 * tau)
        )

    z, val = y.copy(), psi(y)
    for _ in range(max_iter):
        r = 1.0 / np.diff(z)
        rp = np.concatenate([r, [0.0]])
        rm = np.concatenate([[0.0], r])
        g = potential.grad(z) + rp - rm + (z - y) / tau
        ab = np.zeros((2, z.size))
        ab[1] = potential.hess(z) + 1.0 / tau + rp**2 + rm**2
        ab[0, 1:] = -(r**2)
        try:
            step = -linalg.solveh_banded(ab, g)
        except np.linalg.LinAlgError:
            raise RuntimeError(
                "lagrangian_jko_step: Hessian not positive definite (is tau min V'' > -1?)"
            ) from None
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(z))):
            return z + step
        t, slack = 1.0, 1e-13 * (1.0 + abs(val))  # Armijo, up to round-off in psi
        while True:
            new = z + t * step
            if np.all(np.diff(new) > 0):
                new_val = psi(new)
                if new_val <= val + 1e-4 * t * (g @ step) + slack:
                    break
            t *= 0.5
            if t < 1e-10:
                raise RuntimeError("lagrangian_jko_step: line search failed (is V convex enough?)")
        z, val = new, new_val
    raise RuntimeError(f"lagrangian_jko_step: Newton did not converge in {max_iter} iterations")


def lagrangian_jko_chain(x, tau, n_steps, potential: Potential1D):
    """``n_steps`` Lagrangian JKO steps; returns the particle positions, shape (n_steps+1, N)."""
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    potential = _potential(potential)
    out = [_check_particles(x)]
    for _ in range(n_steps):
        out.append(lagrangian_jko_step(out[-1], tau, potential))
    return np.array(out)
