r"""How close are generated samples to the data?  :math:`W_2` against its noise floor, a paired
comparison with an exact oracle, and a calibrated two-sample test.

.. rubric:: W2 against the noise floor

A sample-based :math:`W_2` between ``n`` generated points and ``n`` data points cannot go below
the *noise floor*, the :math:`W_2` between two independent ``n``-samples of the data
(:func:`wgf.ot.noise_floor`).  Both numbers are random, and for multimodal targets their spread
is large: with eight well-separated modes, the number of points that fall in each mode
fluctuates like a multinomial count, and carrying the excess mass from one mode to another
dominates :math:`W_2`.  At ``n = 2000`` single floor draws of the eight Gaussians range over
roughly :math:`\pm 40\%` of their median, so one model draw compared with one floor draw decides
little.

:func:`w2_to_floor` therefore compares *medians over repeats*: the model's samples are split into
``repeats`` blocks of ``n``, each block is compared with its own fresh data sample, and the median
of these :math:`W_2` values is divided by the median of ``repeats`` floor pairs.  For a perfect
model both medians estimate the same quantity, so the ratio concentrates around 1 with a spread
that shrinks like :math:`1/\sqrt{\text{repeats}}`; a thresholded ratio (the book uses 1.25 or
1.5) then tests the model rather than the luck of one draw.

It still cannot see a bias below the floor: :math:`W_2^2` of a model with bias :math:`b` grows
roughly like :math:`\text{floor}^2 + b^2`, so an exact eight-Gaussians sampler with every mode
50 % too wide scores about 1.15.  No claim should rest on it alone; the statistics below, and
the per-component tests of :mod:`wgf.components` and the density tests of
:mod:`wgf.density_tests`, have the power it lacks.

.. rubric:: Paired comparison with an exact oracle

Run the same prior draws :math:`z_i` through the model's sampler and through an exact one
(exact scores, exact velocity fields).  The pairs :math:`(x_i, y_i)` are a coupling of the two
laws, so :math:`W_2(\text{model}, \text{exact})^2 \le \mathbb E|x - y|^2`, estimated by the
mean squared displacement with no floor to subtract (:func:`paired_displacement`).  For the
flow-matching models the exact oracle is the marginal field of the independent coupling,
:func:`icfm_velocity`.

.. rubric:: Two-sample test

:func:`energy_test` compares two samples by the energy distance
:cite:`szekely2013energy` and calibrates it by permutations: its p-value is valid at any sample
size and for any target, with or without component structure.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats
from scipy.special import softmax

from ._checks import as_points, positive_int
from .mixtures import GaussianMixture
from .ot import noise_floor_samples, w2_many
from .rng import as_generator

__all__ = [
    "FloorComparison",
    "PairedComparison",
    "TwoSampleTest",
    "energy_test",
    "icfm_velocity",
    "paired_displacement",
    "w2_to_floor",
]


class FloorComparison(NamedTuple):
    """Result of :func:`w2_to_floor`.

    ``ratio`` is ``median(w2) / median(floor)``; ``w2`` holds the :math:`W_2` (not squared) of
    each block of samples to its own data sample, one value per repeat; ``floor`` holds the
    :math:`W_2` between independent pairs of data samples (the noise-floor draws).
    """

    ratio: float
    w2: np.ndarray
    floor: np.ndarray

    @property
    def floor_median(self) -> float:
        """The noise floor, i.e. the median of the floor draws."""
        return float(np.median(self.floor))

    @property
    def w2_median(self) -> float:
        """The median of the block W2 values."""
        return float(np.median(self.w2))


def w2_to_floor(
    samples, sampler, n: int = 2000, repeats: int = 7, generator=None, *, floor=None
) -> FloorComparison:
    """Median :math:`W_2` of model samples to the data, over the median noise floor.

    Parameters
    ----------
    samples : array of shape (m, d), m >= ``n * repeats``
        Generated points; block ``i`` is ``samples[i*n:(i+1)*n]`` (surplus points are unused).
    sampler : callable
        ``sampler(n, generator) -> (n, d)`` draws data, e.g. ``GaussianMixture.sample``.
    n : int
        Points per comparison (the book's convention is 2000).
    repeats : int
        Number of blocks, and of floor pairs (odd numbers give a plain median).
    generator : None, int or numpy.random.Generator
        Randomness of the data samples.
    floor : array of shape (k,), optional
        Floor draws computed before (e.g. shared by several models of the same target, as
        :func:`wgf.ot.noise_floor_samples` returns them, at the same ``n``); drawn here if
        omitted.

    Returns
    -------
    FloorComparison

    Raises
    ------
    ValueError
        if there are fewer than ``n * repeats`` samples, or on bad arguments.
    """
    n = positive_int(n, "n", minimum=2)
    repeats = positive_int(repeats, "repeats")
    x = as_points(samples, "samples")
    if x.shape[0] < n * repeats:
        raise ValueError(
            f"samples must hold at least n * repeats = {n * repeats} points, got {x.shape[0]}"
        )
    if not callable(sampler):
        raise TypeError(
            f"sampler must be callable as sampler(n, generator), got {type(sampler).__name__}"
        )
    rng = as_generator(generator)
    if floor is None:
        floor = noise_floor_samples(sampler, n, repeats, rng)
    floor = np.asarray(floor, dtype=float)
    if floor.ndim != 1 or floor.size == 0 or not np.all(np.isfinite(floor)) or np.any(floor <= 0):
        raise ValueError("floor must be a non-empty 1-D array of positive W2 values")
    pairs = []
    for i in range(repeats):
        y = as_points(sampler(n, rng), "sampler output", dim=x.shape[1])
        if y.shape[0] != n:
            raise ValueError(f"sampler(n, generator) must return n={n} points, got {y.shape[0]}")
        pairs.append((x[i * n : (i + 1) * n], y))
    values = w2_many(pairs)
    return FloorComparison(float(np.median(values) / np.median(floor)), values, floor)


# ------------------------------------------------------------------------------------- paired


class PairedComparison(NamedTuple):
    """Result of :func:`paired_displacement`.

    ``rms`` is :math:`\\sqrt{\\overline{|x_i - y_i|^2}}`, an estimate of an upper bound on
    :math:`W_2` (not squared) between the two laws; ``upper`` a one-sided upper confidence bound
    on :math:`\\sqrt{\\mathbb E|x - y|^2}` at the requested level; ``n`` the number of pairs.
    """

    rms: float
    upper: float
    n: int


def paired_displacement(x, y, level: float = 0.95) -> PairedComparison:
    r"""RMS displacement between paired samples: an upper bound on :math:`W_2` with no floor.

    If :math:`x_i` and :math:`y_i` are the images of the same prior draw under two samplers,
    :math:`(x_i, y_i)` is a draw of a coupling of their laws :math:`\mu, \nu`, hence

    .. math::

        W_2(\mu, \nu)^2 \le \mathbb E|x - y|^2 \approx \frac1n \sum_i |x_i - y_i|^2 .

    The upper confidence bound uses the central limit theorem for the mean of
    :math:`D_i = |x_i - y_i|^2`: :math:`\bar D + z_{\text{level}}\, s_D/\sqrt n`, rooted.

    Parameters
    ----------
    x, y : array_like, shape (n, d)
        Paired samples (row ``i`` of each from the same prior draw), ``n >= 2``.
    level : float
        Confidence level of ``upper``, in (0, 1).

    Returns
    -------
    PairedComparison
    """
    x = as_points(x, "x", min_points=2)
    y = as_points(y, "y", dim=x.shape[1])
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y must hold as many points as x ({x.shape[0]}), got {y.shape[0]}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    d2 = np.sum((x - y) ** 2, axis=1)
    n = d2.size
    mean = float(d2.mean())
    upper = mean + float(stats.norm.ppf(level)) * float(d2.std(ddof=1)) / np.sqrt(n)
    return PairedComparison(float(np.sqrt(mean)), float(np.sqrt(max(upper, 0.0))), n)


def icfm_velocity(mixture):
    r"""Exact marginal velocity of flow matching with the independent coupling, for a mixture.

    With :math:`x_0 \sim \mathcal N(0, I)` independent of :math:`x_1 \sim \sum_k w_k
    \mathcal N(m_k, \Sigma_k)` and :math:`x_t = (1-t)x_0 + t x_1`, the field that conditional flow
    matching learns is :math:`u_t(x) = \mathbb E[x_1 - x_0 \mid x_t = x]`
    :cite:`lipman2023flow`.  Given the component, :math:`(x_t, x_1 - x_0)` is jointly Gaussian,
    so

    .. math::

        u_t(x) = \sum_k \gamma_k(x)\,\Bigl(m_k + (t\Sigma_k - (1-t)I)\, C_k^{-1}(x - t m_k)\Bigr),
        \qquad C_k = (1-t)^2 I + t^2\Sigma_k,

    with :math:`\gamma_k` the posterior weights of the component under the law of :math:`x_t`,
    the mixture :math:`\sum_k w_k \mathcal N(t m_k, C_k)`.

    Parameters
    ----------
    mixture : GaussianMixture

    Returns
    -------
    callable
        ``v(x, t)``: points (n, d) and a time in [0, 1] -> (n, d), numpy float64; the field
        :func:`wgf.flow_matching.euler_sample` integrates.
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    w, m, S = mixture.weights, mixture.means, mixture.covs
    eye = np.eye(mixture.dim)

    def velocity(x, t):
        x = as_points(x, "x", dim=mixture.dim)
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t must lie in [0, 1], got {t!r}")
        C = (1 - t) ** 2 * eye + t * t * S  # (K, d, d), covariances of x_t given k
        L = np.linalg.cholesky(C)
        r = x[:, None, :] - t * m[None]  # (n, K, d)
        z = np.einsum("kij,nkj->nki", np.linalg.inv(L), r, optimize=True)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, 0, 1, 2)), axis=1)
        with np.errstate(divide="ignore"):
            terms = np.log(w) - 0.5 * logdet - 0.5 * np.sum(z * z, axis=2)
        gamma = softmax(terms, axis=1)
        gain = np.linalg.solve(C, t * S - (1 - t) * eye)  # C^{-1}(tS - (1-t)I); transpose = gain
        cond = m[None] + np.einsum("kji,nkj->nki", gain, r, optimize=True)
        return np.einsum("nk,nki->ni", gamma, cond)

    return velocity


# ---------------------------------------------------------------------------------- two-sample


class TwoSampleTest(NamedTuple):
    """Result of :func:`energy_test`: the statistic, its permutation p-value and null draws."""

    statistic: float
    p_value: float
    null: np.ndarray


def _pairwise(z: np.ndarray) -> np.ndarray:
    sq = np.sum(z * z, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def energy_test(x, y, permutations: int = 199, generator=None) -> TwoSampleTest:
    r"""Two-sample test by the energy distance, calibrated by permutations.

    The statistic is the unbiased energy distance :cite:`szekely2013energy`

    .. math::

        \mathcal E = \frac{2}{nm}\sum_{i,j}|x_i - y_j|
        - \frac{1}{n(n-1)}\sum_{i\ne i'}|x_i - x_{i'}|
        - \frac{1}{m(m-1)}\sum_{j\ne j'}|y_j - y_{j'}|,

    whose population value is zero exactly when the two laws agree.  Its null distribution is
    that of the statistic with the pooled points relabelled at random; the p-value
    :math:`(1 + \#\{\mathcal E_\pi \ge \mathcal E\})/(1 + B)` over :math:`B` permutations is valid
    (never below its level under the null) at every sample size :cite:`good2005permutation`.
    All permutations are evaluated at once: with the pooled distance matrix :math:`D` and a
    label indicator :math:`a`, the within-sample sums are :math:`a^\top D a` and :math:`(1-a)^\top D (1-a)`.

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
        ``n, m >= 2``; the pooled distance matrix has :math:`(n+m)^2` entries (keep
        :math:`n + m \lesssim 5000`).
    permutations : int
        :math:`B`.
    generator : None, int or numpy.random.Generator

    Returns
    -------
    TwoSampleTest
    """
    x = as_points(x, "x", min_points=2)
    y = as_points(y, "y", dim=x.shape[1], min_points=2)
    B = positive_int(permutations, "permutations")
    rng = as_generator(generator)
    n, m = x.shape[0], y.shape[0]
    N = n + m
    D = _pairwise(np.concatenate([x, y]))
    r = D.sum(axis=1)
    total = r.sum()

    def statistic(A):  # A: (N, b) indicators of the x-labelled points
        s_xx = np.einsum("ib,ib->b", A, D @ A)
        s_x = r @ A
        s_xy = s_x - s_xx
        s_yy = total - 2.0 * s_x + s_xx
        return 2.0 * s_xy / (n * m) - s_xx / (n * (n - 1)) - s_yy / (m * (m - 1))

    a = np.zeros((N, 1))
    a[:n] = 1.0
    observed = float(statistic(a)[0])
    null = np.empty(B)
    chunk = max(1, min(B, 2**22 // N))
    for s in range(0, B, chunk):
        b = min(chunk, B - s)
        A = np.zeros((N, b))
        for j in range(b):
            A[rng.permutation(N)[:n], j] = 1.0
        null[s : s + b] = statistic(A)
    p = (1.0 + np.sum(null >= observed)) / (1.0 + B)
    return TwoSampleTest(observed, float(p), null)
