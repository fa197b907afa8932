r"""Density-level comparisons on a 2-D grid against an exact Gaussian-mixture density.

Two situations:

* the model *has* a density (Energy Matching's Boltzmann density
  :math:`p_\theta\propto e^{-V_\theta/\varepsilon}`): :func:`grid_divergence` normalises both
  densities on the nodes of a grid and returns the total variation
  :math:`\mathrm{TV} = \tfrac12\sum|q - p|` and :math:`\mathrm{KL}(p\,\|\,q)`;
* the model only *samples*: :func:`histogram_tv` compares the histogram of the samples on a
  grid of cells with the exact cell probabilities of the mixture.  Even exact samples have a
  positive histogram TV (of order :math:`\sum_c\sqrt{p_c/n}`), so the statistic is referred to
  its null distribution, that of exact samples of the same size, simulated: the p-value
  :math:`(1 + \#\{\mathrm{TV}_b \ge \mathrm{TV}\})/(1 + B)` is valid at every ``n``.

To compare samples with a density known only on a grid (a Benamou--Brenier solution),
:func:`box_histogram` bins them on the cells of a centred square box, as a density of mean one
(the grid solver's convention), and :func:`multinomial_histogram` draws the histogram of ``n``
exact samples of a grid density, the positive control that measures the histogram's own noise.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from ._checks import as_float_array, as_points, positive, positive_int
from .mixtures import GaussianMixture, as_mixture
from .rng import as_generator

__all__ = [
    "GridDivergence",
    "HistogramTest",
    "box_histogram",
    "cell_probabilities",
    "grid_divergence",
    "histogram_tv",
    "multinomial_histogram",
]


def _mixture(mixture) -> GaussianMixture:
    return as_mixture(mixture, dim=2)


class GridDivergence(NamedTuple):
    """Result of :func:`grid_divergence`: ``tv``, ``kl`` (nats, :math:`\\mathrm{KL}(p\\|q)`),
    ``edge_mass`` (mass of the normalised model density outside the inner box) and the
    normalised node masses ``q`` and ``p`` (shape (points, points))."""

    tv: float
    kl: float
    edge_mass: float
    q: np.ndarray
    p: np.ndarray


def grid_divergence(log_density, mixture, *, lim: float = 5.0, points: int = 251,
                    inner: float = 0.9) -> GridDivergence:  # fmt: skip
    r"""TV and KL between a model density and the exact mixture density, on a grid.

    Both densities are evaluated on the :math:`P\times P` nodes of :math:`[-L, L]^2` and
    normalised to unit mass there (so an unnormalised log-density will do):

    .. math::

        \mathrm{TV} = \tfrac12 \sum_{\text{nodes}} |q_j - p_j|, \qquad
        \mathrm{KL}(p\,\|\,q) = \sum_{\text{nodes}} p_j \log\frac{p_j}{q_j},

    Riemann sums of :math:`\tfrac12\int|q - p|` and :math:`\int p\log(p/q)`.  ``edge_mass`` is
    the model's mass outside :math:`[-\text{inner}\,L, \text{inner}\,L]^2`; a small value says
    the truncation to the box does not matter.

    Parameters
    ----------
    log_density : callable or array_like
        ``log_density(points) -> (m,)`` for points of shape (m, 2), or its values on the nodes
        (shape (points, points) or (points**2,), in the order of ``np.meshgrid(g, g)``).
    mixture : GaussianMixture
        The exact 2-D target.
    lim : float
        Half-width :math:`L` of the box.
    points : int
        Nodes per axis.
    inner : float
        Fraction of the box, in (0, 1), outside which the edge mass is counted.

    Returns
    -------
    GridDivergence
    """
    mixture = _mixture(mixture)
    lim = positive(lim, "lim")
    points = positive_int(points, "points", minimum=3)
    inner = positive(inner, "inner")
    if inner >= 1:
        raise ValueError(f"inner must lie in (0, 1), got {inner!r}")
    g = np.linspace(-lim, lim, points)
    X, Y = np.meshgrid(g, g)
    nodes = np.c_[X.ravel(), Y.ravel()]
    logq = log_density(nodes) if callable(log_density) else log_density
    logq = as_float_array(logq, "log_density").ravel()
    if logq.size != nodes.shape[0]:
        raise ValueError(f"log_density must give {nodes.shape[0]} values, got {logq.size}")
    q = np.exp(logq - logq.max())
    q /= q.sum()
    logp = mixture.log_prob(nodes)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    tv = 0.5 * float(np.abs(q - p).sum())
    pos = p > 0
    with np.errstate(divide="ignore"):
        kl = float(np.sum(p[pos] * (np.log(p[pos]) - np.log(q[pos]))))
    if not np.isfinite(kl):
        kl = float("inf")
    outside = np.any(np.abs(nodes) > inner * lim, axis=1)
    shape = (points, points)
    return GridDivergence(tv, kl, float(q[outside].sum()), q.reshape(shape), p.reshape(shape))


class HistogramTest(NamedTuple):
    """Result of :func:`histogram_tv`: the histogram ``tv``, its ``p_value`` and the ``null``
    draws (TV of exact samples of the same size); ``excess`` is ``tv - median(null)``."""

    tv: float
    p_value: float
    null: np.ndarray

    @property
    def excess(self) -> float:
        """The TV beyond the median TV of exact samples."""
        return float(self.tv - np.median(self.null))


def cell_probabilities(mixture, edges) -> np.ndarray:
    r"""Exact probabilities of the cells of a square grid (plus the outside) under a mixture.

    For diagonal covariances each component's cell mass is a product of two differences of the
    normal CDF, :math:`\prod_{a}\bigl[\Phi((b_a - m_a)/s_a) - \Phi((a_a - m_a)/s_a)\bigr]`,
    exact; other covariances are integrated by the midpoint rule on a 6 x 6 subgrid per cell.

    Parameters
    ----------
    mixture : GaussianMixture
        2-D.
    edges : array_like, shape (B + 1,)
        Increasing cell edges, the same on both axes.

    Returns
    -------
    ndarray, shape (B * B + 1,)
        Cell ``i * B + j`` is ``[e_j, e_{j+1}) x [e_i, e_{i+1})`` (x along j); the last entry is
        the mass outside the grid.
    """
    mixture = _mixture(mixture)
    e = as_float_array(edges, "edges")
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be a strictly increasing 1-D array of at least 2 values")
    S = mixture.covs
    if np.allclose(S[:, 0, 1], 0.0) and np.allclose(S[:, 1, 0], 0.0):
        sd = np.sqrt(np.stack([S[:, 0, 0], S[:, 1, 1]], axis=1))  # (K, 2)
        Fx = np.diff(ndtr((e[None] - mixture.means[:, :1]) / sd[:, :1]), axis=1)  # (K, B)
        Fy = np.diff(ndtr((e[None] - mixture.means[:, 1:]) / sd[:, 1:]), axis=1)
        cells = np.einsum("k,ki,kj->ij", mixture.weights, Fy, Fx).ravel()
    else:
        sub = 6
        fine = np.concatenate(
            [np.linspace(a, b, sub, endpoint=False) + (b - a) / (2 * sub) for a, b in pairwise(e)]
        )
        w = np.repeat(np.diff(e) / sub, sub)
        X, Y = np.meshgrid(fine, fine)
        dens = mixture.prob(np.c_[X.ravel(), Y.ravel()]).reshape(X.shape) * np.outer(w, w)
        B = e.size - 1
        cells = dens.reshape(B, sub, B, sub).sum(axis=(1, 3)).ravel()
    cells = np.clip(cells, 0.0, None)
    return np.append(cells, max(0.0, 1.0 - cells.sum()))


def _histogram(x, edges) -> np.ndarray:
    B = edges.size - 1
    i = np.searchsorted(edges, x[:, 1], side="right") - 1
    j = np.searchsorted(edges, x[:, 0], side="right") - 1
    inside = (i >= 0) & (i < B) & (j >= 0) & (j < B)
    idx = np.where(inside, i * B + j, B * B)
    return np.bincount(idx, minlength=B * B + 1) / x.shape[0]


def histogram_tv(samples, mixture, *, lim: float = 3.0, bins: int = 30, repeats: int = 199,
                 generator=None) -> HistogramTest:  # fmt: skip
    r"""TV between the histogram of samples and the exact cell probabilities, with a p-value.

    .. math::

        \widehat{\mathrm{TV}} = \tfrac12 \sum_c \Bigl|\frac{N_c}{n} - p_c\Bigr|,

    over the ``bins`` x ``bins`` cells of :math:`[-L, L]^2` and the outside (exact :math:`p_c`
    from :func:`cell_probabilities`).  The same statistic of ``repeats`` exact samples of size
    ``n`` is its null distribution.

    Parameters
    ----------
    samples : array_like, shape (n, 2)
    mixture : GaussianMixture
    lim : float
        Half-width of the grid.
    bins : int
        Cells per axis.
    repeats : int
        Exact samples drawn for the null distribution.
    generator : None, int or numpy.random.Generator
        Randomness of the null draws.

    Returns
    -------
    HistogramTest
    """
    mixture = _mixture(mixture)
    x = as_points(samples, "samples", dim=2)
    lim = positive(lim, "lim")
    bins = positive_int(bins, "bins")
    repeats = positive_int(repeats, "repeats")
    rng = as_generator(generator)
    edges = np.linspace(-lim, lim, bins + 1)
    p = cell_probabilities(mixture, edges)
    n = x.shape[0]
    tv = 0.5 * float(np.abs(_histogram(x, edges) - p).sum())
    null = np.array(
        [0.5 * np.abs(_histogram(mixture.sample(n, rng), edges) - p).sum() for _ in range(repeats)]
    )
    return HistogramTest(tv, float((1.0 + np.sum(null >= tv)) / (1.0 + repeats)), null)


def box_histogram(samples, box: float, cells: int) -> tuple[np.ndarray, float]:
    r"""Histogram of 2-D samples on the ``cells`` x ``cells`` cells of :math:`[-b/2, b/2]^2`.

    As a density on the box rescaled to the unit square (the convention of
    :func:`wgf.benamou_brenier.solve`, whose densities have mean one),

    .. math::

        h_{ij} = N^2\,\frac{n_{ij}}{n},

    with :math:`n_{ij}` the samples in cell :math:`(i, j)` (``i`` along the first coordinate,
    as ``meshgrid(..., indexing="ij")``), :math:`N` = ``cells`` and :math:`n` the sample size;
    its mean is one minus the fraction of samples outside the box.

    Parameters
    ----------
    samples : array_like, shape (n, 2)
    box : float
        side :math:`b` of the box, centred at the origin.
    cells : int
        cells per side.

    Returns
    -------
    density : ndarray, shape (cells, cells)
    outside : float
        fraction of the samples outside the box (not binned).
    """
    x = as_points(samples, "samples", dim=2)
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite")
    box = positive(box, "box")
    N = positive_int(cells, "cells")
    idx = np.floor((x / box + 0.5) * N).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < N), axis=1)
    counts = np.bincount(idx[inside, 0] * N + idx[inside, 1], minlength=N * N)
    return counts.reshape(N, N) * (N * N / x.shape[0]), float(1.0 - inside.mean())


def multinomial_histogram(density, n: int, generator=None) -> np.ndarray:
    r"""The histogram of ``n`` exact samples of a density given on grid cells.

    Cell :math:`c` is drawn with probability :math:`p_c = \rho_c/\sum\rho`, the counts are
    multinomial and the result is scaled like :func:`box_histogram`,
    :math:`h_c = (\#\text{cells})\, n_c / n`.  The mean :math:`L^1` distance of such a histogram
    to :math:`\rho` (normalised to mean one) is, by the normal approximation of each count,

    .. math::

        \mathbb E\,\frac{1}{\#\text{cells}}\sum_c |h_c - \rho_c|
        = \mathbb E \sum_c \Bigl|\frac{n_c}{n} - p_c\Bigr|
        \approx \sum_c \sqrt{\frac{2 p_c (1 - p_c)}{\pi n}},

    the noise floor of a histogram comparison at this ``n``.

    Parameters
    ----------
    density : array_like
        non-negative cell values (any shape), not all zero.
    n : int
        sample size.
    generator : None, int or numpy.random.Generator

    Returns
    -------
    ndarray, the shape of ``density``
    """
    rho = as_float_array(density, "density")
    if rho.size == 0 or not np.all(np.isfinite(rho)) or np.any(rho < 0) or not rho.sum() > 0:
        raise ValueError("density must be finite, non-negative and not all zero")
    n = positive_int(n, "n")
    counts = as_generator(generator).multinomial(n, (rho / rho.sum()).ravel())
    return counts.reshape(rho.shape) * (rho.size / n)
