r"""Energy functionals on :math:`\mathcal P_2`, their first variations and Wasserstein gradients.

Densities live on a uniform, cell-centred :class:`wgf.grid.Grid` in one or two dimensions (also
importable as ``wgf.functionals.Grid``, where it used to be defined): a density is
the array of its values at the cell centres, and integrals are midpoint sums,
:math:`\int f \approx \sum_i f(x_i)\,|\text{cell}|`.  The functionals and their first variations
:math:`\delta F/\delta\rho` (the function with
:math:`\frac{d}{d\varepsilon}F(\rho+\varepsilon\eta)|_{\varepsilon=0} = \int \frac{\delta F}{\delta\rho}\,\eta`)
are

.. math::

    \mathcal V(\rho) &= \int V\rho, & \frac{\delta\mathcal V}{\delta\rho} &= V,\\
    \mathcal H(\rho) &= \int \rho\log\rho, & \frac{\delta\mathcal H}{\delta\rho} &= \log\rho + 1,\\
    \mathcal W(\rho) &= \tfrac12\iint W(x-y)\rho(x)\rho(y), &
        \frac{\delta\mathcal W}{\delta\rho} &= W * \rho \quad (W \text{ even}),\\
    \mathrm{KL}(\rho\,\|\,\pi) &= \int\rho\log\frac{\rho}{\pi}, &
        \frac{\delta\,\mathrm{KL}}{\delta\rho} &= \log\frac{\rho}{\pi} + 1 .

The first variations are those of the *discrete* functionals (exact derivatives of the midpoint
sums), so a finite-difference check in :math:`\varepsilon` holds to round-off.  Otto's
Wasserstein gradient of :math:`F` is :math:`\operatorname{grad}_W F(\rho) =
-\nabla\cdot(\rho\nabla\frac{\delta F}{\delta\rho})` :cite:p:`otto2001geometry`, and along the
gradient flow :math:`\partial_t\rho = -\operatorname{grad}_W F(\rho)` the energy dissipates at the
rate :math:`\int\rho|\nabla\frac{\delta F}{\delta\rho}|^2`; for the KL divergence this is the
relative Fisher information.  Spatial derivatives are second-order central differences
(one-sided, second order, at the edges of the grid).

Densities must be finite, non-negative and integrate to one on their grid (relative tolerance
``MASS_RTOL``); bad input raises ``ValueError`` or ``TypeError`` naming the argument.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import xlogy

from ._checks import as_float_array, as_gaussian_pair
from .grid import Grid as Grid  # re-exported (not in __all__): the grid type used to live here

__all__ = [
    "MASS_RTOL",
    "as_density",
    "dissipation",
    "entropy",
    "entropy_variation",
    "face_differences",
    "face_divergence",
    "fisher_gaussian",
    "gibbs_density",
    "interaction_energy",
    "interaction_energy_variation",
    "kl",
    "kl_gaussian",
    "kl_variation",
    "potential_energy",
    "potential_energy_variation",
    "relative_fisher_information",
    "wasserstein_gradient",
]

#: Relative tolerance on the total mass of a density (``|sum(rho) * cell_volume - 1|``).
MASS_RTOL = 1e-6


def _grid(grid) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a wgf.grid.Grid, got {type(grid).__name__}")
    return grid


def as_density(rho, grid: Grid, name: str = "rho", *, strictly_positive: bool = False):
    """Check that ``rho`` is a probability density on ``grid`` and return it as float64."""
    rho = _grid(grid).field(rho, name)
    if np.any(rho < 0) or (strictly_positive and np.any(rho <= 0)):
        sign = "strictly positive" if strictly_positive else "non-negative"
        raise ValueError(f"{name} must be {sign} (smallest value {rho.min():.3g})")
    mass = np.sum(rho) * grid.cell_volume
    if abs(mass - 1.0) > MASS_RTOL:
        raise ValueError(f"{name} must integrate to 1 on the grid, integrates to {mass:.10g}")
    return rho


def gibbs_density(V, grid: Grid) -> np.ndarray:
    r"""The Gibbs density :math:`\pi \propto e^{-V}` normalised on the grid (midpoint rule).

    ``V`` is a callable on points of shape ``(*shape, d)`` or an array of shape ``grid.shape``.
    """
    V = _grid(grid).field(V, "V")
    w = np.exp(-(V - V.min()))
    return w / (np.sum(w) * grid.cell_volume)


# ------------------------------------------------------------------------------ functionals


def potential_energy(rho, V, grid: Grid) -> float:
    r"""Potential energy :math:`\mathcal V(\rho) = \int V\rho`; ``V`` callable or array."""
    rho = as_density(rho, grid)
    return grid.integrate(grid.field(V, "V") * rho)


def potential_energy_variation(rho, V, grid: Grid) -> np.ndarray:
    r""":math:`\delta\mathcal V/\delta\rho = V`, evaluated on the grid."""
    as_density(rho, grid)
    return grid.field(V, "V")


def entropy(rho, grid: Grid) -> float:
    r"""(Negative) Boltzmann entropy :math:`\mathcal H(\rho) = \int\rho\log\rho`, with :math:`0\log 0 = 0`."""
    rho = as_density(rho, grid)
    return grid.integrate(xlogy(rho, rho))


def entropy_variation(rho, grid: Grid) -> np.ndarray:
    r""":math:`\delta\mathcal H/\delta\rho = \log\rho + 1` (``rho`` must be strictly positive)."""
    rho = as_density(rho, grid, strictly_positive=True)
    return np.log(rho) + 1.0


def _interaction_potential(rho, W, grid: Grid) -> np.ndarray:
    """``(W_sym * rho)`` at the cell centres, by FFT convolution with the kernel sampled at all
    grid displacements, ``W_sym(z) = (W(z) + W(-z)) / 2``."""
    if not callable(W):
        raise TypeError(f"W must be callable on displacements of shape (..., d), got {type(W)}")
    disp_axes = [np.arange(-(k - 1), k) * hk for k, hk in zip(grid.n, grid.h, strict=True)]
    z = np.stack(np.meshgrid(*disp_axes, indexing="ij"), axis=-1)
    kernel = as_float_array(0.5 * (np.asarray(W(z)) + np.asarray(W(-z))), "W(z)")
    if kernel.shape != z.shape[:-1]:
        raise ValueError(f"W must map shape (..., d) to (...), got output shape {kernel.shape}")
    full = fftconvolve(rho, kernel, mode="full")
    window = tuple(slice(k - 1, 2 * k - 1) for k in grid.n)
    return full[window] * grid.cell_volume


def interaction_energy(rho, W, grid: Grid) -> float:
    r"""Interaction energy :math:`\mathcal W(\rho) = \tfrac12\iint W(x - y)\,\rho(x)\rho(y)\,dx\,dy`.

    Parameters
    ----------
    rho : array_like, shape ``grid.shape``
        density on ``grid``.
    W : callable
        interaction kernel on displacements, ``W(z)`` for ``z`` of shape ``(..., d)``; only its
        even part :math:`\tfrac12(W(z) + W(-z))` contributes.
    grid : Grid
    """
    rho = as_density(rho, grid)
    return 0.5 * grid.integrate(rho * _interaction_potential(rho, W, grid))


def interaction_energy_variation(rho, W, grid: Grid) -> np.ndarray:
    r""":math:`\delta\mathcal W/\delta\rho = W * \rho` (with :math:`W` replaced by its even part)."""
    rho = as_density(rho, grid)
    return _interaction_potential(rho, W, grid)


def kl(rho, pi, grid: Grid) -> float:
    r"""Relative entropy :math:`\mathrm{KL}(\rho\,\|\,\pi) = \int \rho\log(\rho/\pi)`.

    Both arguments are densities on ``grid``; ``pi`` must be strictly positive.  With
    :math:`\pi = e^{-V}/Z`, :math:`\mathrm{KL} = \mathcal H + \mathcal V + \log Z`.
    """
    rho = as_density(rho, grid)
    pi = as_density(pi, grid, "pi", strictly_positive=True)
    return grid.integrate(xlogy(rho, rho) - xlogy(rho, pi))


def kl_variation(rho, pi, grid: Grid) -> np.ndarray:
    r""":math:`\delta\,\mathrm{KL}(\cdot\,\|\,\pi)/\delta\rho = \log(\rho/\pi) + 1` (both strictly positive)."""
    rho = as_density(rho, grid, strictly_positive=True)
    pi = as_density(pi, grid, "pi", strictly_positive=True)
    return np.log(rho / pi) + 1.0


def face_differences(f, grid: Grid) -> list:
    r"""Differences :math:`(f_j - f_i)/h_k` across the interior faces of every axis.

    Entry ``k`` has the grid's shape with one fewer cell along axis ``k`` (face ``i`` lies
    between cells ``i`` and ``i + 1``).
    """
    f = _grid(grid).field(f)
    return [np.diff(f, axis=k) / hk for k, hk in enumerate(grid.h)]


def face_divergence(fluxes, grid: Grid) -> np.ndarray:
    r"""Finite-volume divergence of face fluxes with no flux through the boundary.

    ``fluxes[k]`` are the fluxes across the interior faces normal to axis ``k`` (shapes as in
    :func:`face_differences`); the result at cell :math:`i` is
    :math:`\sum_k (J_{i+1/2} - J_{i-1/2})/h_k` with :math:`J = 0` on the boundary.
    """
    grid = _grid(grid)
    if len(fluxes) != grid.d:
        raise ValueError(f"fluxes must have one array per axis ({grid.d}), got {len(fluxes)}")
    out = np.zeros(grid.shape)
    for k, (J, hk) in enumerate(zip(fluxes, grid.h, strict=True)):
        J = as_float_array(J, f"fluxes[{k}]")
        expected = tuple(n - 1 if a == k else n for a, n in enumerate(grid.shape))
        if J.shape != expected:
            raise ValueError(f"fluxes[{k}] must have shape {expected}, got {J.shape}")
        pad = [(0, 0)] * grid.d
        pad[k] = (1, 1)
        out += np.diff(np.pad(J, pad), axis=k) / hk
    return out


def wasserstein_gradient(rho, variation, grid: Grid, *, face_density=None) -> np.ndarray:
    r"""Otto's Wasserstein gradient :math:`\operatorname{grad}_W F(\rho) = -\nabla\cdot\bigl(\rho\,\nabla \tfrac{\delta F}{\delta\rho}\bigr)`.

    The gradient flow of :math:`F` is :math:`\partial_t\rho = -\operatorname{grad}_W F(\rho)`
    :cite:p:`otto2001geometry,ambrosio2008gradient`: transport of :math:`\rho` by the velocity
    :math:`-\nabla\frac{\delta F}{\delta\rho}`.

    Parameters
    ----------
    rho : array_like, shape ``grid.shape``
        density on ``grid``.
    variation : array_like, shape ``grid.shape``
        the first variation :math:`\delta F/\delta\rho` at ``rho``.
    grid : Grid
    face_density : sequence of arrays, optional
        densities on the interior faces (one array per axis, shapes as in
        :func:`face_differences`).  With them the gradient is the finite-volume expression
        :math:`-\sum_k (J_{i+1/2} - J_{i-1/2})/h_k`, :math:`J = \rho_{\text{face}}\,
        (\varphi_{i+1} - \varphi_i)/h_k`, with no flux through the boundary: the stencil of
        :func:`wgf.fokker_planck.fokker_planck_matrix`, whose face densities are
        :func:`wgf.fokker_planck.kl_face_density`.  By default, central differences.

    Returns
    -------
    ndarray, shape ``grid.shape``
        :math:`\operatorname{grad}_W F(\rho)` (second order either way); a ``variation`` or
        ``rho`` of another shape raises ``ValueError``.
    """
    rho = as_density(rho, grid)
    phi = grid.field(variation, "variation")
    if face_density is None:
        return -grid.divergence(rho * grid.gradient(phi))
    if len(face_density) != grid.d:
        raise ValueError(f"face_density must have one array per axis ({grid.d})")
    diffs = face_differences(phi, grid)
    fluxes = []
    for k, (rf, dphi) in enumerate(zip(face_density, diffs, strict=True)):
        rf = as_float_array(rf, f"face_density[{k}]")
        if rf.shape != dphi.shape:
            raise ValueError(f"face_density[{k}] must have shape {dphi.shape}, got {rf.shape}")
        if np.any(rf < 0):
            raise ValueError(f"face_density[{k}] must be non-negative")
        fluxes.append(rf * dphi)
    return -face_divergence(fluxes, grid)


def dissipation(rho, variation, grid: Grid) -> float:
    r"""The dissipation :math:`\int\rho\,|\nabla\tfrac{\delta F}{\delta\rho}|^2`, i.e.
    :math:`-\tfrac{d}{dt}F(\rho_t)` along the gradient flow (the squared Otto norm of the
    Wasserstein gradient)."""
    rho = as_density(rho, grid)
    g = grid.gradient(grid.field(variation, "variation"))
    return grid.integrate(rho * np.sum(g**2, axis=0))


def relative_fisher_information(rho, pi, grid: Grid) -> float:
    r"""Relative Fisher information :math:`I(\rho\,\|\,\pi) = \int\rho\,|\nabla\log(\rho/\pi)|^2`.

    Both densities must be strictly positive on ``grid``; gradients by central differences.
    """
    rho = as_density(rho, grid, strictly_positive=True)
    pi = as_density(pi, grid, "pi", strictly_positive=True)
    return dissipation(rho, np.log(rho / pi), grid)


# ------------------------------------------------------------------------------ Gaussians


def kl_gaussian(m0, S0, m1, S1) -> float:
    r"""KL divergence between Gaussians, in closed form.

    .. math::

        \mathrm{KL}\bigl(\mathcal N(m_0,\Sigma_0)\,\|\,\mathcal N(m_1,\Sigma_1)\bigr)
        = \tfrac12\Bigl(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (m_1-m_0)^\top\Sigma_1^{-1}(m_1-m_0)
          - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\Bigr)
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    P1 = np.linalg.inv(S1)
    dm = m1 - m0
    logdet = np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1]
    return float(0.5 * (np.trace(P1 @ S0) + dm @ P1 @ dm - m0.shape[0] + logdet))


def fisher_gaussian(m0, S0, m1, S1) -> float:
    r"""Relative Fisher information between Gaussians, in closed form.

    With :math:`\rho = \mathcal N(m_0,\Sigma_0)`, :math:`\pi = \mathcal N(m_1,\Sigma_1)`,
    :math:`\nabla\log(\rho/\pi)(x) = \Sigma_1^{-1}(m_0 - m_1) + (\Sigma_1^{-1}-\Sigma_0^{-1})(x-m_0)`,
    so

    .. math::

        I(\rho\,\|\,\pi) = |\Sigma_1^{-1}(m_0-m_1)|^2
          + \operatorname{tr}\bigl((\Sigma_1^{-1}-\Sigma_0^{-1})\,\Sigma_0\,(\Sigma_1^{-1}-\Sigma_0^{-1})\bigr).
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    P1 = np.linalg.inv(S1)
    D = P1 - np.linalg.inv(S0)
    b = P1 @ (m0 - m1)
    return float(b @ b + np.trace(D @ S0 @ D))
