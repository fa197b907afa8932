r"""The discrete operators of the Benamou-Brenier solver (:mod:`wgf.benamou_brenier`).

The solver's grid is a plain :class:`wgf.grid.Grid` of the unit cube; the convention added here
is that it is *periodic* in space (neighbours by ``np.roll``, Poisson and averaging solves by
FFT) and *staggered* in space and time: densities at the times :math:`k/P` and the cell
centres, momenta at the half times and on the cell faces.  :class:`PeriodicStaggered` holds the
projections of the Douglas-Rachford splitting, :func:`prox_cost` the proximal map of the cost.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy.linalg import solve_banded

from .grid import Grid

# --------------------------------------------------------------------------------------------
# Discrete operators.  U = (f, m): f of shape (P - 1, *grid) (interior times), m of shape
# (d, P, *grid).  V = (fc, mc): centred, shapes (P, *grid) and (d, P, *grid).
# --------------------------------------------------------------------------------------------


class PeriodicStaggered:
    """The solver's space-time operators on a ``periodic_grid``, read as periodic.

    Space: the cells of ``grid`` (spacing ``h``), with periodic neighbours (``np.roll``,
    FFTs).  Time: ``n_times`` steps of ``dt = 1 / n_times``; densities at the integer times,
    momenta at the half times on the faces ``x + h/2 e_a`` (the module docstring of
    ``wgf.benamou_brenier`` states the discretisation).
    """

    def __init__(self, grid: Grid, rho0: np.ndarray, rho1: np.ndarray, n_times: int):
        self.grid = grid
        self.shape = grid.shape
        self.d = grid.d
        self.n = grid.n[0]
        self.p = n_times
        self.h = grid.h[0]
        self.dt = 1.0 / self.p
        self.rho0, self.rho1 = rho0, rho1
        # eigenvalues of D D^T: Neumann Laplacian in time (DCT-II), periodic in space (FFT)
        lam_t = (2.0 - 2.0 * np.cos(np.pi * np.arange(self.p) / self.p)) / self.dt**2
        lam_x = (2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(self.n) / self.n)) / self.h**2
        lam = lam_t.reshape((-1,) + (1,) * self.d)
        for a in range(self.d):
            lam = lam + lam_x.reshape((1, *(-1 if b == a else 1 for b in range(self.d))))
        lam = np.where(lam == 0.0, np.inf, lam)  # the constant mode: mass is conserved
        self.inv_lap = 1.0 / lam
        # (I + S^T S) for the periodic face-to-centre average S: symbol 1 + cos^2(theta/2)
        self.avg_symbol = 1.0 + np.cos(np.pi * np.arange(self.n) / self.n) ** 2
        # (2I + I_t^T I_t) in time on the P - 1 interior times (V and the copy of f in V):
        # tridiag(1/4, 5/2, 1/4)
        band = np.empty((3, max(self.p - 1, 1)))
        band[0], band[1], band[2] = 0.25, 2.5, 0.25
        self.time_band = band

    def full_f(self, f):
        return np.concatenate([self.rho0[None], f, self.rho1[None]], axis=0)

    def divergence(self, f, m):
        """Space-time divergence at the centres (with the boundary data)."""
        div = np.diff(self.full_f(f), axis=0) / self.dt
        for a in range(self.d):
            div += (m[a] - np.roll(m[a], 1, axis=a + 1)) / self.h
        return div

    def project_continuity(self, f, m):
        """Orthogonal projection of (f, m) onto the affine set {divergence = 0}."""
        r = self.divergence(f, m)
        lam = sfft.dct(r, type=2, axis=0, norm="ortho")
        axes = tuple(range(1, self.d + 1))
        lam = sfft.fftn(lam, axes=axes) * self.inv_lap
        lam = np.real(sfft.ifftn(lam, axes=axes))
        lam = sfft.idct(lam, type=2, axis=0, norm="ortho")
        # u <- u - D^T lam
        f = f - (lam[:-1] - lam[1:]) / self.dt
        m = np.stack([m[a] - (lam - np.roll(lam, -1, axis=a + 1)) / self.h for a in range(self.d)])
        return f, m

    def interp(self, f, m):
        """Staggered -> centred averages (affine: uses the boundary data)."""
        ff = self.full_f(f)
        fc = 0.5 * (ff[:-1] + ff[1:])
        mc = np.stack([0.5 * (m[a] + np.roll(m[a], 1, axis=a + 1)) for a in range(self.d)])
        return fc, mc

    def project_graph(self, f, m, fc, mc, fs):
        """Orthogonal projection of (U, V) onto the graph {V = I(U)}."""
        # f: (I + It^T It) f = f' + It^T (fc' - c), c = boundary contributions
        g = fc.copy()
        g[0] -= 0.5 * self.rho0
        g[-1] -= 0.5 * self.rho1
        rhs = f + 0.5 * (g[:-1] + g[1:]) + fs
        if self.p > 1:
            f_new = solve_banded((1, 1), self.time_band, rhs.reshape(self.p - 1, -1))
            f_new = f_new.reshape(rhs.shape)
        else:
            f_new = rhs
        m_new = np.empty_like(m)
        for a in range(self.d):
            rhs_m = m[a] + 0.5 * (mc[a] + np.roll(mc[a], -1, axis=a + 1))
            hat = sfft.rfft(rhs_m, axis=a + 1)
            k = hat.shape[a + 1]
            sym = self.avg_symbol[:k].reshape(
                tuple(k if b == a + 1 else 1 for b in range(hat.ndim))
            )
            m_new[a] = sfft.irfft(hat / sym, n=self.n, axis=a + 1)
        fc_new, mc_new = self.interp(f_new, m_new)
        return f_new, m_new, fc_new, mc_new, f_new


def prox_cost(fc, mc, gamma, *, iters: int = 60):
    r"""Proximal map of :math:`\gamma\,|m|^2/(2f)` (cell by cell), Papadakis et al.'s cubic.

    The minimiser has :math:`m = f\,m'/(f + \gamma)` where :math:`f` is the largest real root
    of :math:`(f - f')(f + \gamma)^2 = \gamma |m'|^2 / 2`; if that root is :math:`\le 0` the
    minimiser is :math:`(0, 0)`.
    """
    c = 0.5 * gamma * np.sum(mc**2, axis=0)
    a = np.maximum(fc, -gamma)
    # Start right of the largest root (g(x) >= s^3 - c >= 0 at x = a + s, s = c^(1/3)), where
    # g is increasing and convex: Newton then decreases monotonically to the root.
    x = a + np.cbrt(c) + 1e-300
    for _ in range(iters):
        xg = x + gamma
        g = (x - fc) * xg**2 - c
        dg = xg * (3.0 * x + gamma - 2.0 * fc)
        step = np.where(dg > 0, g / np.where(dg > 0, dg, 1.0), 0.0)
        x = x - step
        if np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(x))):
            break
    f = np.maximum(x, 0.0)
    m = mc * (f / (f + gamma))[None]
    return f, m
