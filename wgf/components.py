r"""Per-component tests for samples of a Gaussian mixture: weights, means and covariances.

A sample-based :math:`W_2` cannot see a bias smaller than its noise floor.  For a mixture
target the components give a sharper handle: assign every sample to a *cell* (the component, or
group of components, that explains it best), then compare, cell by cell, what the samples do
with what the exact target does there:

* the **weights**: the counts :math:`N_c` of the cells against the target's cell probabilities
  :math:`p_c` (a homogeneity :math:`\chi^2` test);
* the samples **off every mode**: the fraction outside the central 99.9 % ellipsoid of every
  component, against the same fraction of exact samples (one-sided, Fisher's exact test);
* the **means** :math:`\bar x_c` and the **covariances** :math:`\hat S_c` of the samples in each
  cell, in units of their sampling standard deviation.

The reference values (:math:`p_c`, the cell mean :math:`\mu_c`, the cell covariance
:math:`\Sigma_c` and the covariance :math:`\Gamma_c` of :math:`\operatorname{vech}(yy^\top)`,
:math:`y = x - \mu_c`) are estimated once from a large exact sample of ``n_reference`` points, so
the test is calibrated for any assignment rule and any cell shape (a cell need not be Gaussian:
the nearest-mode cell of a Gaussian is truncated, a group of components along an arc is
banana-shaped).  With :math:`N_c` samples and :math:`M_c` reference points in cell :math:`c`,
under the null hypothesis that the samples come from the target,

.. math::

    T^{\text{mean}}_c = \frac{(\bar x_c - \mu_c)^\top \Sigma_c^{-1} (\bar x_c - \mu_c)}
    {1/N_c + 1/M_c} \;\approx\; \chi^2_d, \qquad
    T^{\text{cov}}_c = \frac{v_c^\top \Gamma_c^{-1} v_c}{1/N_c + 1/M_c} \;\approx\;
    \chi^2_{d(d+1)/2},

with :math:`v_c = \operatorname{vech}(\hat S_c - \Sigma_c)` (central limit theorem for sample
moments); the sums over the cells give one :math:`\chi^2` statistic and one p-value per family.
Each cell's *width ratio* :math:`\sqrt{\operatorname{tr}(\Sigma_c^{-1}\hat S_c)/d}` is the effect
size behind the covariance test: 1 for exact samples, 1.5 for a mixture whose components are all
50 % too wide (for isotropic cells it is the ratio of the rms radii).

For a mixture whose components are well separated (the eight Gaussians, 7.7 standard deviations
apart) every component is its own cell.  For a mixture of many overlapping small Gaussians
(the two moons: 40 components closer than two standard deviations) a single component is not a
mode; pass ``groups`` (e.g. :func:`contiguous_groups`, pairs of neighbouring components), so
that each cell is a short stretch of the ridge whose across-ridge width the covariance test
resolves.  :func:`dataset_cells` makes these choices for the book's datasets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from ._checks import as_float_array, as_points, positive_int
from .mixtures import as_mixture
from .rng import as_generator

__all__ = ["ComponentTest", "MixtureCells", "component_test", "contiguous_groups", "dataset_cells"]


def contiguous_groups(n_components: int, size: int) -> np.ndarray:
    """Labels grouping components ``0..K-1`` into runs of ``size`` neighbours: ``k // size``.

    For a mixture whose components are listed along curves (the two moons list 20 components
    along each arc), the groups are stretches of a curve; ``size`` should divide the number of
    components on each curve so that no group spans two curves.

    Returns
    -------
    ndarray of int, shape (n_components,)
    """
    n_components = positive_int(n_components, "n_components")
    size = positive_int(size, "size")
    if size > n_components:
        raise ValueError(f"size must be at most n_components={n_components}, got {size}")
    return np.arange(n_components) // size


def _vech(a: np.ndarray) -> np.ndarray:
    """Lower-triangular entries (diagonal included) of the last two axes."""
    d = a.shape[-1]
    i, j = np.tril_indices(d)
    return a[..., i, j]


class MixtureCells:
    r"""Cells of a Gaussian mixture and their reference statistics, for :func:`component_test`.

    A point :math:`x` is assigned to the group of its most responsible component,
    :math:`k^*(x) = \arg\max_k w_k \mathcal N(x; m_k, \Sigma_k)` (for equal isotropic
    components: the nearest mean), unless it lies outside the central
    :math:`1 - \alpha_{\text{off}}` ellipsoid of *every* component,

    .. math::

        \min_k (x - m_k)^\top \Sigma_k^{-1} (x - m_k) > \chi^2_{d,\,1-\alpha_{\text{off}}},

    in which case it is *off* every mode (index ``n_cells`` in :meth:`assign`).  The weights and
    moment tests use the assignment without the off cell (every point in the cell of
    :math:`k^*`), so that samples far from every mode also widen the cell they land in; the off
    fraction is tested on its own.

    Parameters
    ----------
    mixture : GaussianMixture
        The target.
    groups : array_like of int, shape (K,), optional
        Cell label of each component, labels ``0..G-1`` each used at least once; default: every
        component its own cell.
    off_level : float
        :math:`\alpha_{\text{off}}` in (0, 1); about this fraction of exact samples is "off".
    n_reference : int
        Size of the exact reference sample that estimates the cell statistics.
    generator : None, int or numpy.random.Generator
        Randomness of the reference sample.
    reference : array_like, shape (M, d), optional
        Use these points as the reference sample instead of drawing ``n_reference`` exact
        points (``n_reference`` is then ignored, and ``M`` must be at least
        :math:`100(G + 1)`).  The mixture still defines the cells; the statistics are those of
        the given points, so :func:`component_test` becomes a two-sample test of its samples
        against the law of ``reference`` (both sample sizes enter its variances,
        :math:`1/N_c + 1/M_c`), e.g. a sampler at few steps against its own limit.

    Attributes
    ----------
    n_cells
        the number G of cells (the off cell not counted).
    probs
        reference probabilities of the G cells, shape (G,) (off points in their nearest cell).
    off_reference
        fraction of the reference points off every mode (close to ``off_level``).
    means
        reference mean of each cell, shape (G, d) (off points included).
    covs
        reference covariance of each cell, shape (G, d, d) (off points included).
    usable
        boolean mask (G,) of the cells with enough reference points (:math:`10q + 10`,
        :math:`q = d(d+1)/2`) for the moment tests; the others (e.g. the tiny cells of
        components that nearly coincide after a long forward process) enter only the weights
        test.
    """

    def __init__(
        self, mixture, groups=None, *, off_level: float = 1e-3, n_reference: int = 200_000,
        generator=None, reference=None,
    ):  # fmt: skip
        as_mixture(mixture)
        K, d = mixture.n_components, mixture.dim
        if groups is None:
            groups = np.arange(K)
        groups = as_float_array(groups, "groups")
        if groups.shape != (K,) or np.any(groups != np.round(groups)) or np.any(groups < 0):
            raise ValueError(f"groups must hold one non-negative integer label per component ({K})")
        groups = groups.astype(int)
        G = int(groups.max()) + 1
        if np.unique(groups).size != G:
            raise ValueError(f"groups must use every label 0..{G - 1} at least once")
        try:
            off_level = float(off_level)
        except (TypeError, ValueError) as exc:
            raise TypeError("off_level must be a real number") from exc
        if not 0.0 < off_level < 1.0:
            raise ValueError(f"off_level must lie in (0, 1), got {off_level!r}")
        if reference is not None:
            ref = as_points(reference, "reference", dim=d)
            if not np.all(np.isfinite(ref)):
                raise ValueError("reference must hold finite points")
            n_reference = ref.shape[0]
            if n_reference < 100 * (G + 1):
                raise ValueError(
                    f"reference must hold at least {100 * (G + 1)} points, got {n_reference}"
                )
        else:
            n_reference = positive_int(n_reference, "n_reference", minimum=100 * (G + 1))
        self.mixture = mixture
        self.groups = groups
        self.n_cells = G
        self.off_level = off_level
        self._chol_inv = np.linalg.inv(np.linalg.cholesky(mixture.covs))  # (K, d, d)
        logdet = 2.0 * np.sum(np.log(np.diagonal(np.linalg.cholesky(mixture.covs), 0, 1, 2)), 1)
        with np.errstate(divide="ignore"):
            self._log_w = np.log(mixture.weights) - 0.5 * logdet
        self._radius2 = float(stats.chi2.ppf(1.0 - off_level, d))
        if reference is None:
            ref = mixture.sample(n_reference, as_generator(generator))
        self.n_reference = n_reference
        self._reference_off = int(np.sum(self.assign(ref) == G))
        self.off_reference = self._reference_off / n_reference
        cells = self.assign(ref, off=False)
        self.reference_counts = np.bincount(cells, minlength=G)
        self.probs = self.reference_counts / n_reference
        q = d * (d + 1) // 2
        self.means = np.zeros((G, d))
        self.covs = np.zeros((G, d, d))
        self._gamma = np.zeros((G, q, q))
        self.usable = self.reference_counts >= 10 * q + 10
        if not np.any(self.usable):
            raise ValueError(
                f"no cell holds {10 * q + 10} of the {n_reference} reference points; "
                "increase n_reference or merge groups"
            )
        for c in np.flatnonzero(self.usable):
            y = ref[cells == c]
            self.means[c] = y.mean(axis=0)
            r = y - self.means[c]
            self.covs[c] = r.T @ r / (r.shape[0] - 1)
            v = _vech(r[:, :, None] * r[:, None, :])
            self._gamma[c] = np.cov(v, rowvar=False).reshape(q, q)

    @property
    def dim(self) -> int:
        """The dimension d."""
        return self.mixture.dim

    def assign(self, x, *, off: bool = True) -> np.ndarray:
        """Cell index of each point: ``0..n_cells-1``, or ``n_cells`` for the off cell.

        Parameters
        ----------
        x : array_like, shape (n, d)
        off : bool
            Send the points outside every component to the off cell; with ``False`` every
            point gets the cell of its most responsible component (this is the assignment
            whose cells the moment tests compare).

        Returns
        -------
        ndarray of int, shape (n,)
        """
        x = as_points(x, "x", dim=self.dim)
        out = np.empty(x.shape[0], dtype=int)
        step = max(1, 2**21 // self.mixture.n_components)
        for s in range(0, x.shape[0], step):
            r = x[s : s + step, None, :] - self.mixture.means[None]
            z = np.einsum("kij,nkj->nki", self._chol_inv, r, optimize=True)
            m2 = np.sum(z * z, axis=2)  # squared Mahalanobis distances, (n, K)
            best = np.argmax(self._log_w - 0.5 * m2, axis=1)
            cell = self.groups[best]
            if off:
                cell[m2.min(axis=1) > self._radius2] = self.n_cells
            out[s : s + step] = cell
        return out


class ComponentTest(NamedTuple):
    """Result of :func:`component_test`.

    ``counts`` and ``expected`` (probabilities) have one entry per cell; ``off_fraction`` is the
    fraction of samples off every mode and ``p_off`` the p-value of its excess; ``mean_chi2`` and ``cov_chi2`` hold each cell's :math:`T^{\\text{mean}}_c` and
    :math:`T^{\\text{cov}}_c` (NaN for cells with fewer than ``min_count`` samples, which enter
    only the weights test), ``width`` each cell's width ratio; ``p_weights``, ``p_means`` and
    ``p_covs`` are the other p-values and ``p_value`` the Bonferroni combination of all four,
    ``min(1, 4 min(p))``.
    """

    counts: np.ndarray
    expected: np.ndarray
    chi2_weights: float
    p_weights: float
    off_fraction: float
    p_off: float
    mean_chi2: np.ndarray
    p_means: float
    cov_chi2: np.ndarray
    p_covs: float
    width: np.ndarray
    p_value: float

    @property
    def n(self) -> int:
        """Number of samples tested."""
        return int(self.counts.sum())

    @property
    def worst_width(self) -> float:
        """The width ratio farthest from 1 (in the log), over the cells that were tested."""
        w = self.width[np.isfinite(self.width)]
        return float(w[np.argmax(np.abs(np.log(w)))]) if w.size else float("nan")

    @property
    def max_width(self) -> float:
        """The largest width ratio over the tested cells."""
        w = self.width[np.isfinite(self.width)]
        return float(w.max()) if w.size else float("nan")


def component_test(samples, cells, *, min_count: int = 20) -> ComponentTest:
    r"""Test samples against a mixture, cell by cell: weights, means and covariances.

    Weights: a :math:`\chi^2` test of homogeneity between the sample counts and the reference
    counts of ``cells`` (cells empty in both are dropped; the reference sample's own noise is
    part of the test, so it is calibrated at any ``n_reference``; cells expecting fewer than
    five samples are pooled into one).  Off every mode: Fisher's
    exact test, one-sided, of the sample's off fraction against the reference's.  Means and covariances: the
    sums over the cells with at least ``min_count`` samples of :math:`T^{\text{mean}}_c` and
    :math:`T^{\text{cov}}_c` (module docstring), referred to :math:`\chi^2` laws with
    :math:`d` and :math:`d(d+1)/2` degrees of freedom per cell.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        Points to test.
    cells : MixtureCells
        The target's cells and reference statistics.
    min_count : int
        Cells with fewer samples are tested for their weight only (a dropped mode fails the
        weights test).

    Returns
    -------
    ComponentTest
    """
    if not isinstance(cells, MixtureCells):
        raise TypeError(f"cells must be a MixtureCells, got {type(cells).__name__}")
    min_count = positive_int(min_count, "min_count", minimum=cells.dim + 2)
    x = as_points(samples, "samples", dim=cells.dim, min_points=2)
    G, d = cells.n_cells, cells.dim
    n = x.shape[0]
    n_off = int(np.sum(cells.assign(x) == G))
    _, p_off = stats.fisher_exact(
        [[n_off, n - n_off], [cells._reference_off, cells.n_reference - cells._reference_off]],
        alternative="greater",
    )
    lab = cells.assign(x, off=False)
    counts = np.bincount(lab, minlength=G)
    table = np.stack([counts, cells.reference_counts])
    small = cells.probs * n < 5  # pool cells too small for the chi^2 approximation
    if np.any(small):
        table = np.concatenate([table[:, ~small], table[:, small].sum(axis=1, keepdims=True)], 1)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1:
        chi2_w, p_w, _, _ = stats.chi2_contingency(table, correction=False)
    else:
        chi2_w, p_w = 0.0, 1.0
    mean_chi2 = np.full(G, np.nan)
    cov_chi2 = np.full(G, np.nan)
    width = np.full(G, np.nan)
    for c in range(G):
        y = x[lab == c]
        N = y.shape[0]
        if N < min_count or not cells.usable[c]:
            continue
        scale = 1.0 / N + 1.0 / cells.reference_counts[c]
        delta = y.mean(axis=0) - cells.means[c]
        mean_chi2[c] = delta @ np.linalg.solve(cells.covs[c], delta) / scale
        S = np.cov(y, rowvar=False).reshape(d, d)
        v = _vech(S - cells.covs[c])
        cov_chi2[c] = v @ np.linalg.solve(cells._gamma[c], v) / scale
        width[c] = np.sqrt(np.trace(np.linalg.solve(cells.covs[c], S)) / d)
    used = np.isfinite(mean_chi2)
    k = int(used.sum())
    p_m = float(stats.chi2.sf(mean_chi2[used].sum(), d * k)) if k else 1.0
    p_c = float(stats.chi2.sf(cov_chi2[used].sum(), k * d * (d + 1) // 2)) if k else 1.0
    p = min(1.0, 4.0 * min(float(p_w), float(p_off), p_m, p_c))
    return ComponentTest(
        counts, cells.probs, float(chi2_w), float(p_w), n_off / n, float(p_off),
        mean_chi2, p_m, cov_chi2, p_c, width, p,
    )  # fmt: skip


def dataset_cells(name: str, *, n_reference: int = 200_000, generator=0) -> MixtureCells:
    """The cells the book uses for a dataset of :mod:`wgf.data`.

    Every component its own cell for the separated mixtures (``"eight_gaussians"``,
    ``"gaussian"``); pairs of neighbouring components (:func:`contiguous_groups` of size 2,
    i.e. stretches of about 0.17 along a ridge of width 0.1) for the ridges (``"two_moons"``,
    ``"rings"``).  Pairs resolve the across-ridge width best: at ``n = 4000`` the covariance
    test rejects two moons 10 % too wide in 30 of 30 draws with pairs, 29 with runs of four,
    20 with runs of ten.

    Parameters
    ----------
    name : str
        A key of :data:`wgf.data.DATASETS`.
    n_reference : int
        Size of the exact reference sample.
    generator : None, int or numpy.random.Generator
        Randomness of the reference sample (default seed 0: the same cells everywhere).

    Returns
    -------
    MixtureCells
    """
    from . import data

    mixture = data.get(name)
    ridge = name in ("two_moons", "rings")
    groups = contiguous_groups(mixture.n_components, 2) if ridge else None
    return MixtureCells(mixture, groups, n_reference=n_reference, generator=generator)
