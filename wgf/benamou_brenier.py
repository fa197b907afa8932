r"""The Benamou–Brenier dynamic formulation of optimal transport, and a solver.

Benamou and Brenier :cite:p:`benamou2000computational` write :math:`W_2^2` as the least kinetic
energy of a density path that joins :math:`\rho_0` to :math:`\rho_1`:

.. math::

    W_2^2(\rho_0, \rho_1) = \min_{(\rho, m)} \int_0^1 \!\! \int \frac{|m|^2}{\rho}\,dx\,dt
    \quad\text{subject to}\quad
    \partial_t \rho + \nabla\cdot m = 0,\ \rho(0) = \rho_0,\ \rho(1) = \rho_1,

with the momentum :math:`m = \rho v`.  The integrand :math:`|m|^2/\rho` is jointly convex
(:math:`0` at :math:`(0, 0)`, :math:`+\infty` for :math:`\rho < 0` or for :math:`\rho = 0 \ne m`),
so after the change of variables :math:`(\rho, v) \to (\rho, m)` the problem is a convex
program with a linear constraint.

**Cost convention.** Every ``action`` in this module is :math:`\int\!\!\int |m|^2/\rho`, whose
minimum is :math:`W_2^2` (not :math:`W_2^2/2`).  Papadakis, Peyré and Oudet
:cite:p:`papadakis2014optimal` minimise :math:`|m|^2/(2\rho)`, whose minimum is
:math:`W_2^2/2`; the solver uses their scaling internally (it only rescales the step size:
its proximal map is that of :math:`\tfrac{\gamma}{2}J`) and evaluates :math:`|m|^2/\rho` on
output.

**Discretisation.** The domain is the periodic unit cube :math:`[0, 1)^d` (:math:`d = 1, 2`)
with :math:`N` cells per axis, cell centres :math:`x_i = (i + \frac12)/N`, and :math:`P` time
steps.  The cells are those of the package's one grid type, :func:`periodic_grid` (a
:class:`wgf.grid.Grid` of :math:`[0, 1]^d`: its cell centres, spacing :math:`h = 1/N` and cell
volume :math:`N^{-d}`); what this solver adds to it is the *convention* that the last cell of
an axis is the neighbour of the first (periodic differences and averages, FFTs in space) and
the staggering in space and time, in private operators built on that grid (in
``wgf._staggered``).  The *staggered* variables live on cell faces: :math:`\rho` at the times
:math:`t_k = k/P` (:math:`k = 0..P`, the two ends fixed to the data) and cell centres; the
component :math:`m_a` at the times :math:`t_{k+1/2}` and on the faces
:math:`x + \frac{1}{2N}e_a` normal to axis :math:`a`.  Centred variables
:math:`(\bar\rho, \bar m)` are their averages at the space–time cell centres, where the cost
is evaluated, and the discrete continuity equation holds exactly for the staggered ones.
Densities are cell averages, normalised so that :math:`\sum_i \rho_i N^{-d} = 1`.

**Algorithm.** Douglas–Rachford splitting of :math:`G_1 + G_2` with
:math:`G_1(U, V) = \iota_{\mathcal C}(U) + J(V)` and :math:`G_2(U, V) = \iota_{V = I(U)}`
:cite:p:`papadakis2014optimal`, where :math:`\mathcal C` is the discrete continuity
constraint with its boundary data, :math:`I` the staggered-to-centred interpolation and
:math:`J` the cost.  Its three building blocks are exact and vectorised: the projection onto
:math:`\mathcal C` is a space–time Poisson solve (DCT in time, FFT in the periodic space
directions); the projection onto the graph of :math:`I` is a tridiagonal solve in time and a
diagonal solve in Fourier in space; the proximal map of :math:`J` reduces, cell by cell, to the
largest root of a cubic, found by a monotone Newton iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, positive, positive_int
from ._staggered import PeriodicStaggered
from ._staggered import prox_cost as _prox_cost
from .grid import Grid

__all__ = [
    "BBResult",
    "cell_averages",
    "cell_centres",
    "kinetic_action",
    "periodic_grid",
    "solve",
]


def periodic_grid(n: int, d: int = 1) -> Grid:
    r"""The solver's grid: :math:`n` cells per axis on the unit cube :math:`[0, 1]^d`.

    A plain :class:`wgf.grid.Grid` (cell centres :math:`(i + \frac12)/n`, spacing :math:`1/n`,
    cell volume :math:`n^{-d}`); the solver reads it as periodic.  Densities for :func:`solve`
    are arrays on it that integrate to one, e.g. ``periodic_grid(n, 2).gaussian(m, S)`` for
    the grid values of a Gaussian, normalised.

    Parameters
    ----------
    n : int
        cells per axis (at least 3).
    d : int
        dimension, 1 or 2.
    """
    d = positive_int(d, "d")
    if d > 2:
        raise ValueError(f"d must be 1 or 2, got {d}")
    return Grid(((0.0, 1.0),) * d, n)


def cell_centres(n: int) -> np.ndarray:
    r"""The cell centres :math:`x_i = (i + \frac12)/n`, :math:`i = 0..n-1`, of the periodic grid.

    The first axis of :func:`periodic_grid` (``n`` at least 3).
    """
    return periodic_grid(n).axes[0]


def cell_averages(cdf, n: int) -> np.ndarray:
    r"""Exact cell averages :math:`N\,(F(x_{i+1/2}) - F(x_{i-1/2}))` of a density on :math:`[0, 1)`.

    Parameters
    ----------
    cdf : callable
        the cumulative distribution function :math:`F` on :math:`[0, 1]` (vectorised).
    n : int
        number of cells.

    Returns
    -------
    ndarray, shape (n,)
        the averages, renormalised to mean one (the solver's normalisation).
    """
    if not callable(cdf):
        raise TypeError(f"cdf must be callable, got {type(cdf).__name__}")
    n = positive_int(n, "n", minimum=2)
    r = np.diff(as_float_array(cdf(np.arange(n + 1) / n), "cdf(edges)")) * n
    if np.any(r < 0) or r.sum() <= 0:
        raise ValueError("cdf must be non-decreasing with F(1) > F(0)")
    return r / r.mean()


@dataclass(frozen=True)
class BBResult:
    r"""Solution of the discrete Benamou–Brenier problem (see :func:`solve`).

    Fields:

    - ``rho`` (ndarray, shape (P + 1, N) or (P + 1, N, N)):
      the density path at the times ``times``; ``rho[0]`` and ``rho[-1]`` are the data.
    - ``momentum`` (ndarray, shape (d, P, N) or (d, P, N, N)):
      the staggered momentum: ``momentum[a, k]`` at time :math:`(k + \frac12)/P` on the faces
      normal to axis ``a`` (face ``i`` is between cells ``i`` and ``i + 1``).
    - ``times`` (ndarray, shape (P + 1,)):
      :math:`t_k = k / P`.
    - ``action`` (float):
      the discrete :math:`\int_0^1\!\int |m|^2/\rho` (:math:`\approx W_2^2`, **not**
      :math:`W_2^2/2`) of the split variable :math:`V = (\bar\rho, \bar m)` of the final
      iterate.  :math:`V` is non-negative but satisfies :math:`V = I(U)` only up to the
      stopping tolerance, so it is not exactly the cost of an admissible path and may fall
      slightly below the discrete minimum.
    - ``path_action`` (float):
      :func:`kinetic_action` of the returned (``rho``, ``momentum``), which satisfy the
      discrete continuity equation exactly, evaluated with ``vacuum_rtol=tol``: centred
      densities below ``tol`` times the largest density (round-off of either sign in vacuum)
      count as vacuum and contribute nothing (``inf`` if a centred density is below
      ``-tol`` times the largest, which can only happen before convergence).  The gap ``path_action - action`` is an
      a-posteriori estimate of the iteration error.
    - ``residuals`` (ndarray, shape (n_iter,)):
      per iteration, :math:`\|V - I(U)\| / \|V\|`: the relative violation of the one
      constraint that the iterate does not satisfy exactly (the staggered path satisfies the
      discrete continuity equation exactly, the centred one is non-negative).
    - ``changes`` (ndarray, shape (n_iter,)):
      per iteration, the relative change :math:`\|z^{l+1} - z^l\|/\|z^{l+1}\|` of the iterate.
    - ``fixed_point_residuals`` (ndarray, shape (n_iter,)):
      per iteration, the Douglas-Rachford fixed-point residual
      :math:`\|w^{l+1} - w^l\|/\|w^l\|` of the governing sequence, which is
      :math:`\alpha\|\operatorname{prox}_{\gamma G_2}(2z^l - w^l) - z^l\|/\|w^l\|`; it vanishes
      exactly at a fixed point, whose :math:`z` is a minimiser, so it is the convergence
      certificate of the splitting (the objective, being flat, is not).
    - ``n_iter`` (int): the number of iterations.
    - ``converged`` (bool):
      whether both diagnostics fell below ``tol``.
    """

    rho: np.ndarray
    momentum: np.ndarray
    times: np.ndarray
    action: float
    path_action: float
    residuals: np.ndarray
    changes: np.ndarray
    n_iter: int
    converged: bool
    fixed_point_residuals: np.ndarray

    @property
    def fixed_point_residual(self) -> float:
        """The last Douglas-Rachford fixed-point residual (see ``fixed_point_residuals``)."""
        return float(self.fixed_point_residuals[-1])

    @property
    def w2(self) -> float:
        r""":math:`W_2`, the square root of ``action``."""
        return float(np.sqrt(max(self.action, 0.0)))


def kinetic_action(rho, momentum, *, vacuum_rtol: float = 0.0) -> float:
    r"""The discrete action :math:`\sum_{k,i} |\bar m_{k,i}|^2 / \bar\rho_{k,i}\, \Delta t\, h^d`.

    ``rho`` (shape (P + 1, N...)) and ``momentum`` (shape (d, P, N...)) are staggered as in
    :class:`BBResult`; the cost is evaluated on their averages at the space–time cell centres.
    Convention: the value approximates :math:`\int_0^1\!\int |m|^2/\rho`, i.e. :math:`W_2^2`
    at the optimum.

    With ``vacuum_rtol = 0`` (default) the evaluation is strict: a centred cell with
    :math:`\bar\rho = 0` contributes 0 if :math:`\bar m = 0` and :math:`+\infty` otherwise, and
    :math:`\bar\rho < 0` gives ``ValueError``.  With ``vacuum_rtol = r > 0`` every centred cell
    with :math:`\bar\rho \le r \max\rho` is treated as vacuum and contributes 0 whatever its
    momentum (this accepts the round-off of either sign that an iterative solver such as
    :func:`solve` leaves in vacuum); only :math:`\bar\rho < -r\max\rho` is an error.
    """
    rho = as_float_array(rho, "rho")
    momentum = as_float_array(momentum, "momentum")
    d = rho.ndim - 1
    if d not in (1, 2) or rho.shape[0] < 2:
        raise ValueError(f"rho must have shape (P + 1, N) or (P + 1, N, N), got {rho.shape}")
    expected = (d, rho.shape[0] - 1, *rho.shape[1:])
    if momentum.shape != expected:
        raise ValueError(f"momentum must have shape {expected}, got {momentum.shape}")
    if isinstance(vacuum_rtol, (bool, str)) or not np.isscalar(vacuum_rtol):
        raise TypeError(f"vacuum_rtol must be a real number, got {type(vacuum_rtol).__name__}")
    vacuum_rtol = float(vacuum_rtol)
    if not np.isfinite(vacuum_rtol) or not 0.0 <= vacuum_rtol < 1.0:
        raise ValueError(f"vacuum_rtol must lie in [0, 1), got {vacuum_rtol!r}")
    fc = 0.5 * (rho[:-1] + rho[1:])
    mc = np.stack([0.5 * (momentum[a] + np.roll(momentum[a], 1, axis=a + 1)) for a in range(d)])
    floor = vacuum_rtol * max(float(rho.max()), 0.0)
    if np.any(fc < -floor):
        raise ValueError(f"rho must be non-negative (smallest centred value {fc.min():.3g})")
    m2 = np.sum(mc**2, axis=0)
    if vacuum_rtol > 0:
        fc = np.where(fc > floor, fc, 0.0)
        m2 = np.where(fc > 0, m2, 0.0)
    if np.any((fc == 0) & (m2 > 0)):
        return float("inf")
    ratio = np.where(fc > 0, m2 / np.where(fc > 0, fc, 1.0), 0.0)
    n = rho.shape[1]
    return float(ratio.sum() / (rho.shape[0] - 1) / n**d)


def _path_action(rho, m, rtol: float) -> float:
    """kinetic_action with vacuum tolerance; +inf if the path has truly negative densities."""
    try:
        return kinetic_action(rho, m, vacuum_rtol=rtol)
    except ValueError:  # centred density below -rtol * max: not admissible (unconverged)
        return float("inf")


def _check_density(rho, name: str, shape=None) -> np.ndarray:
    rho = as_float_array(rho, name)
    if rho.ndim not in (1, 2) or any(s != rho.shape[0] for s in rho.shape):
        raise ValueError(f"{name} must have shape (N,) or (N, N), got shape {rho.shape}")
    if rho.shape[0] < 4:
        raise ValueError(f"{name} must have at least 4 cells per axis, got {rho.shape[0]}")
    if shape is not None and rho.shape != shape:
        raise ValueError(f"{name} must be on the same grid as rho0 {shape}, got shape {rho.shape}")
    if np.any(rho < 0):
        raise ValueError(f"{name} must be non-negative (smallest value {rho.min():.3g})")
    mass = rho.mean()  # sum * h^d on the unit cube
    if abs(mass - 1.0) > 1e-8:
        raise ValueError(
            f"{name} must be normalised (sum * h^d = 1 on [0, 1)^d), integrates to {mass:.12g}"
        )
    # Renormalise exactly: the continuity constraint conserves mass, and the projection onto it
    # silently drops a mass difference between the two ends (up to 2e-8 after the check above).
    return rho / mass


def solve(
    rho0,
    rho1,
    *,
    n_times: int | None = None,
    gamma: float = 1.0,
    alpha: float = 1.0,
    max_iter: int = 20_000,
    tol: float = 1e-7,
    min_iter: int = 10,
    init=None,
) -> BBResult:
    r"""Solve the Benamou–Brenier problem on the periodic unit cube by Douglas–Rachford.

    Discretisation and algorithm as in the module docstring :cite:p:`papadakis2014optimal`.
    With :math:`G_1, G_2` as there, the iteration on :math:`w = (U, V)` is

    .. math::

        z^l = \operatorname{prox}_{\gamma G_1}(w^l),\qquad
        w^{l+1} = w^l + \alpha\bigl(\operatorname{prox}_{\gamma G_2}(2 z^l - w^l) - z^l\bigr),

    and :math:`z^l` converges to a minimiser for any :math:`\gamma > 0`,
    :math:`\alpha \in (0, 2)`.  The objective is flat near the optimum, so the stopping test
    is on the iterates: both the relative constraint violation :math:`\|V - I(U)\|/\|V\|` of
    :math:`z^l` and its relative change must fall below ``tol``.

    Parameters
    ----------
    rho0, rho1 : array_like, shape (N,) or (N, N)
        cell averages of the two densities on the same periodic grid
        (:func:`periodic_grid`), non-negative, with mean 1 (i.e. :math:`\sum\rho\,h^d = 1`, to
        1e-8).
    n_times : int, optional
        number :math:`P \ge 2` of time steps (default: :math:`N`).
    gamma : float
        proximal step :math:`\gamma > 0` (in the :math:`|m|^2/(2\rho)` scaling).
    alpha : float
        relaxation :math:`\alpha \in (0, 2)`.
    max_iter, tol, min_iter : int, float, int
        iteration cap, stopping tolerance, and the minimum number of iterations.
    init : tuple (rho, momentum), optional
        a starting path, staggered as in :class:`BBResult` (e.g. a coarse solution
        interpolated to this grid); its end densities are replaced by the data.  By default the
        linear interpolation :math:`(1 - t)\rho_0 + t\rho_1` with zero momentum.

    Returns
    -------
    BBResult
        the density path, the staggered momentum, the action of the split variable and of the
        returned path (both :math:`\approx W_2^2`) and the iteration history.  ``converged`` is False if ``max_iter`` was reached first.
    """
    rho0 = _check_density(rho0, "rho0")
    rho1 = _check_density(rho1, "rho1", shape=rho0.shape)
    p = rho0.shape[0] if n_times is None else positive_int(n_times, "n_times", minimum=2)
    gamma = positive(gamma, "gamma")
    alpha = positive(alpha, "alpha")
    if alpha >= 2.0:
        raise ValueError(f"alpha must lie in (0, 2), got {alpha!r}")
    max_iter = positive_int(max_iter, "max_iter")
    min_iter = positive_int(min_iter, "min_iter")
    tol = positive(tol, "tol")
    ops = PeriodicStaggered(periodic_grid(rho0.shape[0], rho0.ndim), rho0, rho1, p)

    # start: linear interpolation of the densities, zero momentum
    s = (np.arange(1, p) / p).reshape((-1,) + (1,) * ops.d)
    f = (1.0 - s) * rho0 + s * rho1
    m = np.zeros((ops.d, p, *rho0.shape))
    if init is not None:
        if not isinstance(init, tuple) or len(init) != 2:
            raise TypeError("init must be a tuple (rho, momentum)")
        r_init = as_float_array(init[0], "init[0]")
        m_init = as_float_array(init[1], "init[1]")
        if r_init.shape != (p + 1, *rho0.shape) or m_init.shape != m.shape:
            raise ValueError(
                f"init must be (rho, momentum) of shapes {(p + 1, *rho0.shape)} and {m.shape}, "
                f"got {r_init.shape} and {m_init.shape}"
            )
        f, m = r_init[1:-1].copy(), m_init.copy()
    fc, mc = ops.interp(f, m)
    w = [f, m, fc, mc, f]
    residuals, changes, fixed = [], [], []
    z_prev = None
    converged = False
    for _ in range(max_iter):
        z = [
            *ops.project_continuity(w[0], w[1]),
            *_prox_cost(w[2], w[3], gamma),
            np.maximum(w[4], 0.0),
        ]
        refl = [2.0 * zi - wi for zi, wi in zip(z, w, strict=True)]
        z2 = ops.project_graph(*refl)
        step = [alpha * (z2i - zi) for z2i, zi in zip(z2, z, strict=True)]
        norm_w = np.sqrt(sum(np.sum(wi**2) for wi in w))
        fixed.append(np.sqrt(sum(np.sum(si**2) for si in step)) / norm_w)
        w = [wi + si for wi, si in zip(w, step, strict=True)]
        ic = ops.interp(z[0], z[1])
        norm_v = np.sqrt(np.sum(z[2] ** 2) + np.sum(z[3] ** 2))
        residuals.append(
            np.sqrt(np.sum((z[2] - ic[0]) ** 2) + np.sum((z[3] - ic[1]) ** 2)) / norm_v
        )
        if z_prev is not None:
            diff = sum(np.sum((a - b) ** 2) for a, b in zip(z, z_prev, strict=True))
            norm = sum(np.sum(a**2) for a in z)
            changes.append(np.sqrt(diff / norm))
        else:
            changes.append(np.inf)
        z_prev = z
        if len(residuals) >= min_iter and residuals[-1] < tol and changes[-1] < tol:
            converged = True
            break
    f, m = ops.project_continuity(w[0], w[1])
    fc, mc = _prox_cost(w[2], w[3], gamma)
    m2 = np.sum(mc**2, axis=0)
    ratio = np.where(fc > 0, m2 / np.where(fc > 0, fc, 1.0), 0.0)
    return BBResult(
        rho=ops.full_f(f),
        momentum=m,
        times=np.arange(p + 1) / p,
        action=float(ratio.sum() * ops.dt * ops.grid.cell_volume),
        path_action=_path_action(ops.full_f(f), m, min(tol, 0.5)),
        residuals=np.asarray(residuals),
        changes=np.asarray(changes),
        n_iter=len(residuals),
        converged=converged,
        fixed_point_residuals=np.asarray(fixed),
    )
