r"""Entropic JKO steps :cite:p:`peyre2015entropic` for :math:`F(\rho) = \mathrm{KL}(\rho\,\|\,\pi)`.

The JKO step of :mod:`wgf.jko` with :math:`W_2^2` replaced by its entropic regularisation with
parameter :math:`\varepsilon` (``gamma``).  **Convention.** :math:`\tau` is the standard JKO step
(objective :math:`F + W_2^2/(2\tau)`); Peyré writes :math:`W + \tau' F`, i.e. :math:`\tau' = 2\tau`.

* :func:`gaussian_entropic_jko_step_1d`: the exact entropic step for 1-D Gaussians;
* :func:`entropic_jko_step`, :func:`entropic_jko_chain`: the grid solver (log-domain generalised
  Sinkhorn iterations), with :func:`grid_kl` for the free energy on the grid.

**Grid convention.** The solver works with discrete measures :math:`\sum_i p_i\delta_{x_i}` on
the nodes :math:`x_1 < \dots < x_n` of a 1-D grid: ``grid`` is either a 1-D
:class:`wgf.grid.Grid` (the nodes are its cell centres) or the array of nodes itself (for a
:class:`wgf.grid.Grid`, ``Grid.from_nodes`` gives the grid of equally spaced nodes), and
``p``, ``target`` are probability vectors on the nodes (the cell masses
:meth:`wgf.grid.Grid.masses`, not densities).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import logsumexp

from ._checks import as_float_array, positive, positive_int
from .grid import Grid
from .ot import _weights as as_weights  # dtype-aware: float32 weights summing to 1 accepted

__all__ = [
    "entropic_jko_chain",
    "entropic_jko_step",
    "gaussian_entropic_jko_step_1d",
    "grid_kl",
]


def gaussian_entropic_jko_step_1d(mean, var, tau, gamma, target_mean=0.0, target_var=1.0):
    r"""One *entropic* JKO step for 1-D Gaussians, exact (the reference for the grid solver).

    Minimises :math:`\int|x-y|^2d\gamma_{xy} + \varepsilon\int\gamma_{xy}\log\gamma_{xy}
    + 2\tau F(\rho)` over couplings with second marginal :math:`\rho_k = \mathcal N(m_k, s_k)`
    (``gamma`` is :math:`\varepsilon`; Peyré's form with :math:`\tau' = 2\tau`).  The optimum is a
    Gaussian coupling :math:`x = \alpha y + \beta + \sqrt v\,\xi`; with :math:`\pi = \mathcal N(b, q)`
    and :math:`c = \tau(1/q - 1/s)`, the stationarity conditions are

    .. math::

        m = \frac{q m_k + \tau b}{q + \tau},\quad \alpha = \frac{1}{1 + c},\quad
        v = \frac{\varepsilon\alpha}{2},\quad s = \alpha^2 s_k + v,

    one scalar equation in :math:`s`, increasing on :math:`s > q\tau/(q+\tau)` (where
    :math:`\alpha > 0`), solved by bracketing.  Returns ``(mean, var)``.
    """
    tau, gamma = positive(tau, "tau"), positive(gamma, "gamma")
    var, q = positive(var, "var"), positive(target_var, "target_var")
    mean = float(as_float_array(mean, "mean"))
    b = float(as_float_array(target_mean, "target_mean"))

    def eq(s):
        c = tau * (1.0 / q - 1.0 / s)
        return s - var / (1 + c) ** 2 - gamma / (2 * (1 + c))

    # alpha > 0 needs 1 + c > 0, i.e. s > q tau / (q + tau); on that half-line eq increases from
    # -inf, and eq(hi) > 0 because c > 0 there: exactly one root.
    lo = q * tau / (q + tau) * (1.0 + 1e-12)
    hi = 2.0 * max(var, q) + gamma
    s = optimize.brentq(eq, lo, hi, xtol=1e-15, rtol=1e-14)
    return (q * mean + tau * b) / (q + tau), s


def _grid(grid):
    """The nodes: the cell centres of a 1-D :class:`wgf.grid.Grid`, or the given array."""
    if isinstance(grid, Grid):
        if grid.d != 1:
            raise ValueError(f"grid must be one-dimensional, got a {grid.d}-D Grid")
        return grid.axes[0]
    g = as_float_array(grid, "grid")
    if g.ndim != 1 or g.size < 2 or np.any(np.diff(g) <= 0):
        raise ValueError("grid must be a strictly increasing 1-D array of at least 2 nodes")
    return g


def grid_kl(p, target) -> float:
    r""":math:`\mathrm{KL}(p\|\pi) = \sum_j p_j\log(p_j/\pi_j)` for probability vectors on a grid.

    For cell masses :math:`p = \rho\,|\text{cell}|`, :math:`\pi_j = \pi(x_j)|\text{cell}|` of
    densities on a :class:`wgf.grid.Grid` (:meth:`wgf.grid.Grid.masses`) this is the midpoint
    sum :func:`wgf.functionals.kl` of the densities.
    """
    t = as_float_array(target, "target")
    p = as_weights(p, t.size, "p")
    t = as_weights(t, t.size, "target")
    if np.any(t <= 0):
        raise ValueError("target must be strictly positive on the grid")
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / t[nz])))


def entropic_jko_step(
    p, grid, tau, gamma, target, *, tol=1e-10, max_iter=20_000, return_info=False
):
    r"""One entropic JKO step on a 1-D grid :cite:p:`peyre2015entropic`, in the log domain.

    ``grid`` is a 1-D :class:`wgf.grid.Grid` or its array of nodes, ``p`` and ``target``
    probability vectors on the nodes (see the module docstring).

    Solves :math:`\min_{\gamma_{xy}:\;\gamma_{xy}^\top\mathbb 1 = p_k}\langle C, \gamma_{xy}\rangle
    + \varepsilon\sum\gamma_{xy}(\log\gamma_{xy} - 1) + 2\tau\,\mathrm{KL}(\gamma_{xy}\mathbb 1\,\|\,\pi)`,
    :math:`C_{ij} = |x_i - x_j|^2`, ``gamma`` :math:`=\varepsilon`; :math:`2\tau` is Peyré's
    :math:`\tau'`.  With :math:`\gamma_{xy} = e^{(f_i + g_j - C_{ij})/\varepsilon}` and
    :math:`\kappa = \sigma/(1+\sigma)`, :math:`\sigma = 2\tau/\varepsilon`, the fixed-point
    (Sinkhorn-like) iteration alternates the hard marginal and the KL-proximal step of F:

    .. math::

        g_j = \varepsilon\log p_{k,j} - \varepsilon\,\mathrm{LSE}_i\frac{f_i - C_{ij}}{\varepsilon},
        \qquad
        f_i = \varepsilon\kappa\Bigl(\log\pi_i - \mathrm{LSE}_j\frac{g_j - C_{ij}}{\varepsilon}\Bigr),

    until the second marginal of the plan matches :math:`p_k` to ``tol`` in :math:`\ell^1`.
    Returns :math:`p_{k+1}`, the first marginal (and an info dict if ``return_info``).
    """
    grid = _grid(grid)
    n = grid.size
    p = as_weights(p, n, "p")
    target = as_weights(target, n, "target")
    if np.any(target <= 0):
        raise ValueError("target must be strictly positive on the grid")
    tau, gamma = positive(tau, "tau"), positive(gamma, "gamma")
    tol = positive(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    Cg = (grid[:, None] - grid[None, :]) ** 2 / gamma
    kappa = (2 * tau / gamma) / (1 + 2 * tau / gamma)
    with np.errstate(divide="ignore"):
        logp, logt = np.log(p), np.log(target)
    f = np.zeros(n)
    err = np.inf
    for it in range(1, max_iter + 1):  # logsumexp: a row of -inf gives -inf
        g = logp - logsumexp(f[:, None] - Cg, axis=0)
        z = logsumexp(g[None, :] - Cg, axis=1)
        f = kappa * (logt - z)
        if it % 10 == 0:  # the marginal check costs as much as an iteration
            err = np.abs(np.exp(g + logsumexp(f[:, None] - Cg, axis=0)) - p).sum()
            if err < tol:
                break
    else:
        raise RuntimeError(
            f"entropic_jko_step: marginal error {err:.2e} after {max_iter} iterations"
        )
    new = np.exp(f + z)
    new /= new.sum()  # the fixed point has unit mass; remove the residual ~tol
    if return_info:
        return new, {"iterations": it, "marginal_error": err}
    return new


def entropic_jko_chain(p, grid, tau, gamma, target, n_steps, **kwargs):
    """``n_steps`` entropic JKO steps; returns the probability vectors, shape (n_steps + 1, n).

    Arguments as in :func:`entropic_jko_step`; ``n`` is the number of nodes of ``grid``."""
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    out = [as_weights(p, _grid(grid).size, "p")]
    for _ in range(n_steps):
        out.append(entropic_jko_step(out[-1], grid, tau, gamma, target, **kwargs))
    return np.array(out)
