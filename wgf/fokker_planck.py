r"""Three independent solvers of the Fokker–Planck equation.

.. math::

    \partial_t\rho = \nabla\cdot(\rho\nabla V) + \Delta\rho
    = \nabla\cdot\Bigl(\rho\,\nabla\log\frac{\rho}{\pi}\Bigr),
    \qquad \pi \propto e^{-V},

the Wasserstein gradient flow of :math:`\mathrm{KL}(\cdot\,\|\,\pi)`
:cite:p:`jordan1998variational,otto2001geometry`.  The book's main case is
:math:`\pi = \mathcal N(0, I)`, :math:`V(x) = |x|^2/2` (the Ornstein–Uhlenbeck process).

1. :func:`solve_fokker_planck`: a finite-volume scheme on a :class:`wgf.grid.Grid` with
   Scharfetter–Gummel fluxes and no-flux boundaries, stepped implicitly in time
   (:func:`fokker_planck_matrix`).  It conserves mass, keeps the Gibbs density
   :math:`\pi_i \propto e^{-V(x_i)}` as its exact discrete steady state and, with implicit
   Euler, preserves positivity for every time step.
2. Euler–Maruyama particles
   :math:`X \leftarrow X - \nabla V(X)\,\Delta t + \sqrt{2\Delta t}\,\xi` are
   :func:`wgf.sampling.langevin` with the score :math:`-\nabla V` (the book's one Langevin
   kernel); :func:`ou_euler_maruyama` gives their exact law for the OU process.
3. :func:`ou_gaussian` and :meth:`wgf.mixtures.GaussianMixture.ou`: the exact solution for
   :math:`V = |x|^2/2` from Gaussian and Gaussian-mixture initial laws.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ._checks import as_float_array, as_spd, as_vector, positive, positive_int
from .functionals import as_density
from .grid import Grid

__all__ = [
    "bernoulli",
    "fokker_planck_matrix",
    "kl_face_density",
    "ou_euler_maruyama",
    "ou_gaussian",
    "solve_fokker_planck",
]


def bernoulli(x) -> np.ndarray:
    r"""The Bernoulli function :math:`B(x) = x/(e^x - 1)`, :math:`B(0) = 1`, evaluated stably.

    It satisfies :math:`B(-x) = e^x B(x)` and :math:`B > 0`.
    """
    x = as_float_array(x, "x")
    small = np.abs(x) < 1e-6
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = x / np.expm1(x)
    # Taylor expansion near 0 (expm1 is accurate there, but 0/0 is not)
    return np.where(small, 1.0 - 0.5 * x + x**2 / 12.0, out)


def fokker_planck_matrix(grid: Grid, V) -> sp.csr_matrix:
    r"""The Scharfetter–Gummel finite-volume operator :math:`A` with :math:`\dot\rho = A\rho`.

    Between neighbouring cells :math:`i` and :math:`j = i + e_k` (spacing :math:`h`), the
    flux of :math:`J = -(\rho\nabla V + \nabla\rho) = -\pi\nabla(\rho/\pi)` in direction
    :math:`e_k` is

    .. math::

        J_{i\to j} = -\frac1h\bigl(B(-\Delta V)\,\rho_j - B(\Delta V)\,\rho_i\bigr),
        \qquad \Delta V = V_j - V_i,

    with the Bernoulli function :math:`B` (:func:`bernoulli`), the exact flux of the 1-D
    constant-flux problem with :math:`V` linear between the centres; boundary fluxes are zero.
    Since :math:`B(-\Delta V) = e^{\Delta V} B(\Delta V)`, every flux vanishes at
    :math:`\rho_i \propto e^{-V_i}`.  :math:`A` has non-negative off-diagonal entries and zero
    column sums (mass conservation), so :math:`I - \Delta t A` is an M-matrix.

    Parameters
    ----------
    grid : wgf.grid.Grid
    V : callable or array_like
        potential, ``V(points)`` with points of shape ``(*shape, d)``, or its values on the grid.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (N, N)
        acting on densities flattened in C order, ``N = prod(grid.shape)``.
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a wgf.grid.Grid, got {type(grid).__name__}")
    V = grid.field(V, "V")
    idx = np.arange(V.size).reshape(grid.shape)
    rows, cols, vals = [], [], []
    for k, h in enumerate(grid.h):
        lo = [slice(None)] * grid.d
        hi = [slice(None)] * grid.d
        lo[k], hi[k] = slice(None, -1), slice(1, None)
        i, j = idx[tuple(lo)].ravel(), idx[tuple(hi)].ravel()
        dV = (V[tuple(hi)] - V[tuple(lo)]).ravel()
        to_i = bernoulli(-dV) / h**2  # rate j -> i
        to_j = bernoulli(dV) / h**2  # rate i -> j
        rows += [i, j, i, j]
        cols += [j, i, i, j]
        vals += [to_i, to_j, -to_j, -to_i]
    A = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(V.size, V.size),
    )
    return A.tocsr()


_SCHEMES = {"implicit_euler": 1.0, "crank_nicolson": 0.5}


def solve_fokker_planck(rho0, grid: Grid, V, times, dt, *, scheme: str = "implicit_euler"):
    r"""Solve :math:`\partial_t\rho = \nabla\cdot(\rho\nabla V) + \Delta\rho` on ``grid``.

    Space: :func:`fokker_planck_matrix` (no-flux boundary).  Time: the :math:`\theta`-scheme
    :math:`(I - \theta\Delta t A)\rho^{k+1} = (I + (1-\theta)\Delta t A)\rho^k` with a sparse LU
    factorisation reused across steps; ``"implicit_euler"`` (:math:`\theta = 1`, first order,
    positive for every :math:`\Delta t`) or ``"crank_nicolson"`` (:math:`\theta = \tfrac12`,
    second order; positive for :math:`\Delta t \le 2/\max_i|A_{ii}| \approx h^2/d`, where the
    explicit half-step :math:`I + \tfrac12\Delta t A` has a non-negative diagonal; larger steps,
    fine for smooth data, may leave small negative values in the far tails).  Both conserve mass and keep
    :func:`wgf.functionals.gibbs_density` as an exact steady state.

    Parameters
    ----------
    rho0 : array_like, shape ``grid.shape``
        initial density on ``grid`` (non-negative, unit mass).
    grid : wgf.grid.Grid
    V : callable or array_like
        potential on the grid (see :func:`fokker_planck_matrix`).
    times : array_like, shape (K,)
        non-decreasing output times :math:`\ge 0`.
    dt : float
        largest time step; each interval between output times is cut into equal steps
        :math:`\le` ``dt``.
    scheme : str
        ``"implicit_euler"`` or ``"crank_nicolson"``.

    Returns
    -------
    ndarray, shape ``(K, *grid.shape)``
        the densities at ``times``.
    """
    rho = as_density(rho0, grid, "rho0").ravel().copy()
    times = np.atleast_1d(as_float_array(times, "times"))
    if times.ndim != 1 or np.any(times < 0) or np.any(np.diff(times) < 0):
        raise ValueError("times must be a 1-D non-decreasing array of non-negative times")
    dt = positive(dt, "dt")
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(_SCHEMES)}, got {scheme!r}")
    theta = _SCHEMES[scheme]
    A = fokker_planck_matrix(grid, V)
    eye = sp.identity(A.shape[0], format="csr")
    cache = {}
    out = np.empty((times.size, rho.size))
    t = 0.0
    for k, t_out in enumerate(times):
        span = t_out - t
        if span > 0:
            m = int(np.ceil(span / dt * (1 - 1e-12)))
            step = span / m
            key = round(step, 14)
            if key not in cache:
                cache[key] = (splu((eye - theta * step * A).tocsc()), eye + (1 - theta) * step * A)
            lu, explicit = cache[key]
            for _ in range(m):
                rho = lu.solve(explicit @ rho if theta < 1 else rho)
        out[k] = rho
        t = t_out
    return out.reshape(times.size, *grid.shape)


# ------------------------------------------------------------------------------ exact OU


def ou_gaussian(m0, S0, t):
    r"""The exact Ornstein–Uhlenbeck flow (:math:`V = |x|^2/2`) of :math:`\mathcal N(m_0, S_0)`.

    .. math::

        m(t) = e^{-t}m_0, \qquad S(t) = e^{-2t}S_0 + (1 - e^{-2t})\,I .

    Returns
    -------
    tuple of ndarray
        ``(m_t, S_t)`` of shapes (d,) and (d, d).
    """
    m0 = as_vector(m0, "m0")
    S0 = as_spd(S0, "S0", dim=m0.shape[0])
    t = as_float_array(t, "t")
    if t.ndim != 0:
        raise ValueError(f"t must be a scalar time, got shape {t.shape}")
    t = float(t)
    if t < 0:
        raise ValueError(f"t must be non-negative, got {t}")
    e = np.exp(-t)
    return e * m0, e**2 * S0 + (1 - e**2) * np.eye(m0.shape[0])


def ou_euler_maruyama(m0, S0, dt, n_steps):
    r"""The exact law of the Euler–Maruyama chain (:func:`wgf.sampling.langevin` with score
    :math:`-x`) for :math:`V = |x|^2/2`.

    Started from :math:`\mathcal N(m_0, S_0)`, the chain :math:`X_{k+1} = aX_k + \sqrt{2\Delta t}\,\xi_k`
    with :math:`a = 1 - \Delta t` stays Gaussian, with

    .. math::

        m_k = a^k m_0, \qquad S_k = a^{2k} S_0 + 2\Delta t\,\frac{1 - a^{2k}}{1 - a^2}\, I ,

    so its bias against :func:`ou_gaussian` at :math:`t = k\Delta t` is :math:`O(\Delta t)`
    (e.g. the stationary variance is :math:`2/(2 - \Delta t)` instead of 1).  Requires
    :math:`0 < \Delta t < 1`.

    Returns
    -------
    tuple of ndarray
        ``(m_k, S_k)`` of shapes (d,) and (d, d).
    """
    m0 = as_vector(m0, "m0")
    S0 = as_spd(S0, "S0", dim=m0.shape[0])
    dt = positive(dt, "dt")
    if dt >= 1:
        raise ValueError(f"dt must be < 1 for the Euler-Maruyama OU chain, got {dt}")
    k = positive_int(n_steps, "n_steps")
    a2k = (1.0 - dt) ** (2 * k)
    var = 2.0 * dt * (1.0 - a2k) / (1.0 - (1.0 - dt) ** 2)
    return (1.0 - dt) ** k * m0, a2k * S0 + var * np.eye(m0.shape[0])


def kl_face_density(rho, grid: Grid, V) -> list:
    r"""The face densities that make the Scharfetter-Gummel flux a Wasserstein-gradient flux.

    With :math:`\varphi = \log(\rho/\pi) + 1` (:func:`wgf.functionals.kl_variation`), the
    Scharfetter-Gummel flux of :func:`fokker_planck_matrix` across the face between cells
    :math:`i` and :math:`j = i + e_k` is :math:`-\rho_{ij}(\varphi_j - \varphi_i)/h` with

    .. math::

        \rho_{ij} = \frac{B(-\Delta V)\,\rho_j - B(\Delta V)\,\rho_i}{\varphi_j - \varphi_i}
        \;\ge 0, \qquad \Delta V = V_j - V_i ,

    (the numerator and the denominator have the same sign, since
    :math:`B(-\Delta V)\rho_j - B(\Delta V)\rho_i = B(\Delta V)e^{V_i}(u_j - u_i)` with
    :math:`u = \rho e^V`; where :math:`\varphi_j = \varphi_i` the limit
    :math:`B(\Delta V)\,\rho_i` is used).  Passing them to
    :func:`wgf.functionals.wasserstein_gradient` gives
    :math:`-\operatorname{grad}_W\mathrm{KL}(\rho) = A\rho` exactly, :math:`A` the operator of
    :func:`fokker_planck_matrix`.

    Parameters
    ----------
    rho : array_like, shape ``grid.shape``
        a strictly positive density on ``grid``.
    grid : wgf.grid.Grid
    V : callable or array_like
        the potential (as in :func:`fokker_planck_matrix`).

    Returns
    -------
    list of ndarray
        one array per axis, of the shapes of :func:`wgf.functionals.face_differences`.
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a wgf.grid.Grid, got {type(grid).__name__}")
    rho = as_density(rho, grid, strictly_positive=True)
    V = grid.field(V, "V")
    logu = np.log(rho) + V  # phi up to a constant: log(rho / pi) = log rho + V + const
    out = []
    for k in range(grid.d):
        dV = np.diff(V, axis=k)
        lo = [slice(None)] * grid.d
        hi = [slice(None)] * grid.d
        lo[k], hi[k] = slice(None, -1), slice(1, None)
        ri, rj = rho[tuple(lo)], rho[tuple(hi)]
        num = bernoulli(-dV) * rj - bernoulli(dV) * ri
        dphi = np.diff(logu, axis=k)
        small = np.abs(dphi) < 1e-12
        out.append(np.where(small, bernoulli(dV) * ri, num / np.where(small, 1.0, dphi)))
    return out
