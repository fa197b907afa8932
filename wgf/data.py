r"""The book's 2-D toy datasets, each an exact :class:`~wgf.mixtures.GaussianMixture`.

Because every target is a Gaussian mixture, its density, its score and its marginals under the
VP (Ornstein-Uhlenbeck) and VE (heat) forward processes are known in closed form at every
noise level, so trained models are measured against exact truth.

Every dataset is centred at (or near) the origin and has a covariance of order one (the
total variance, the trace of the covariance, lies between 1 and 4.1), so that the standard
Gaussian :math:`\mathcal N(0, I)` is a sensible prior for all of them:

===================  ===  ==============================  ==================
name                 K    mean                            total variance
===================  ===  ==============================  ==================
``eight_gaussians``  8    (0, 0)                          4.08
``two_moons``        40   (0, 0)                          about 1.03
``rings``            96   (0, 0)                          1.52
``gaussian``         1    (0.5, -0.5)                     2.0
===================  ===  ==============================  ==================

:data:`DATASETS` maps each name to its constructor and :func:`get` looks a name up.

.. rubric:: Targets of a model

A model of :mod:`wgf.zoo` is trained on a *target*: a dataset name, a
:class:`~wgf.mixtures.GaussianMixture`, or a user's own points (an array of shape (N, d), or
:class:`Points` to give it a name).  :func:`resolve` turns any of them into a distribution with
``sample(n, generator)`` and ``dim``, and a name; :func:`digest` hashes its *content* (weights,
means and covariances of a mixture; the bytes of the points), which is what a cache key holds.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ._checks import as_points
from .mixtures import GaussianMixture
from .rng import as_generator

__all__ = [
    "DATASETS",
    "Points",
    "digest",
    "eight_gaussians",
    "gaussian",
    "get",
    "resolve",
    "rings",
    "two_moons",
]


def _isotropic(means: np.ndarray, std: float, weights=None) -> GaussianMixture:
    K, d = means.shape
    if weights is None:
        weights = np.full(K, 1.0 / K)
    covs = np.broadcast_to(std**2 * np.eye(d), (K, d, d))
    return GaussianMixture(weights, means, covs)


def eight_gaussians() -> GaussianMixture:
    r"""Eight Gaussians on a circle of radius 2.

    .. math::

        p = \frac18 \sum_{k=0}^{7} \mathcal N\bigl(2(\cos\tfrac{k\pi}{4}, \sin\tfrac{k\pi}{4}),\,
        0.2^2 I\bigr)

    Equal weights 1/8, isotropic per-component standard deviation 0.2 (neighbouring means are
    :math:`4\sin(\pi/8) \approx 1.53` apart, 7.7 standard deviations).  Mean 0, covariance
    :math:`(2 + 0.04) I`.

    Returns
    -------
    GaussianMixture
    """
    theta = np.arange(8) * (np.pi / 4)
    means = 2.0 * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _isotropic(means, 0.2)


def two_moons() -> GaussianMixture:
    r"""Two interleaving half-circles ("moons"), each a chain of 20 small Gaussians.

    The geometry is that of scikit-learn's ``make_moons``, centred: with
    :math:`\theta_j = \pi j / 19`, :math:`j = 0, \dots, 19`, the means are

    .. math::

        \text{upper moon: } (\cos\theta_j - \tfrac12,\; \sin\theta_j - \tfrac14), \qquad
        \text{lower moon: } (\tfrac12 - \cos\theta_j,\; \tfrac14 - \sin\theta_j),

    i.e. two arcs of radius 1 (the lower one is the upper one rotated by :math:`\pi` about the
    origin).  All 40 components have weight 1/40 and isotropic standard deviation 0.1 (the
    spacing of the means along an arc, :math:`\pi/19 \approx 0.165`, is below two standard
    deviations, so each moon is a smooth ridge).  Mean exactly 0; total variance about 1.03.

    Returns
    -------
    GaussianMixture
    """
    theta = np.linspace(0.0, np.pi, 20)
    upper = np.stack([np.cos(theta) - 0.5, np.sin(theta) - 0.25], axis=1)
    return _isotropic(np.concatenate([upper, -upper]), 0.1)


def rings() -> GaussianMixture:
    r"""Three concentric rings of radii 0.5, 1 and 1.5, made of 16, 32 and 48 small Gaussians.

    Ring :math:`r \in \{0.5, 1, 1.5\}` carries :math:`n_r = 32 r` components with means

    .. math::

        r\,(\cos\tfrac{2\pi j}{n_r},\, \sin\tfrac{2\pi j}{n_r}), \qquad j = 0, \dots, n_r - 1,

    all 96 components with weight 1/96 and isotropic standard deviation 0.1.  The mass of a
    ring is proportional to its radius (1/6, 1/3, 1/2), so the density along the rings is
    uniform in arc length; neighbouring means on a ring are :math:`2\pi/32 \approx 0.196`
    apart (under two standard deviations: smooth rings), neighbouring rings 0.5 apart.
    Mean 0; covariance exactly :math:`0.76\, I` (total variance 1.52).

    Returns
    -------
    GaussianMixture
    """
    means = []
    for r in (0.5, 1.0, 1.5):
        n_r = round(32 * r)
        theta = 2.0 * np.pi * np.arange(n_r) / n_r
        means.append(r * np.stack([np.cos(theta), np.sin(theta)], axis=1))
    return _isotropic(np.concatenate(means), 0.1)


def gaussian() -> GaussianMixture:
    r"""An anisotropic, correlated single Gaussian (a one-component mixture).

    .. math::

        \mathcal N\left(\begin{pmatrix} 0.5 \\ -0.5 \end{pmatrix},\;
        \begin{pmatrix} 1 & 0.8 \\ 0.8 & 1 \end{pmatrix}\right)

    The covariance has eigenvalues 1.8 and 0.2 (standard deviations about 1.34 and 0.45)
    along the diagonals :math:`(1, 1)/\sqrt2` and :math:`(1, -1)/\sqrt2`; total variance 2.
    Every W2 quantity involving it and another Gaussian has a closed form.

    Returns
    -------
    GaussianMixture
    """
    return GaussianMixture([1.0], [[0.5, -0.5]], [[[1.0, 0.8], [0.8, 1.0]]])


#: The toy datasets by name; each value is a constructor returning a
#: :class:`~wgf.mixtures.GaussianMixture`.
DATASETS = {
    "eight_gaussians": eight_gaussians,
    "two_moons": two_moons,
    "rings": rings,
    "gaussian": gaussian,
}


def get(name) -> GaussianMixture:
    """The dataset called ``name`` (a key of :data:`DATASETS`).

    Parameters
    ----------
    name : str
        one of ``"eight_gaussians"``, ``"two_moons"``, ``"rings"``, ``"gaussian"``.

    Returns
    -------
    GaussianMixture

    Raises
    ------
    ValueError
        for an unknown name (the message lists the valid ones).
    TypeError
        if ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name]()


class Points:
    r"""A user's data set as a target: the empirical law :math:`\frac1N\sum_i\delta_{x_i}`.

    Parameters
    ----------
    x : array_like, shape (N, d)
        The points (finite; a 1-D array is read as N points on the line).  A read-only copy is
        kept, so later edits of ``x`` cannot change a trained model's data.
    name : str
        A label (letters, digits, ``-``, ``_``, ``.``), used in cache file names.

    :meth:`sample` draws with replacement (a bootstrap of the points).
    """

    def __init__(self, x, name: str = "points"):
        pts = np.array(as_points(x, "x", min_points=2), dtype=np.float64)
        pts.setflags(write=False)
        self.points = pts
        self.name = _label(name)

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __repr__(self) -> str:
        return f"Points({self.name!r}, N={len(self)}, d={self.dim})"

    def sample(self, n, generator=None) -> np.ndarray:
        """``n`` points drawn uniformly with replacement, shape (n, d)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        idx = as_generator(generator).integers(0, len(self), int(n))
        return self.points[idx].copy()

    def mean(self) -> np.ndarray:
        """The mean of the points, shape (d,)."""
        return self.points.mean(axis=0)

    def cov(self) -> np.ndarray:
        """The (biased, 1/N) covariance of the points, shape (d, d)."""
        c = self.points - self.mean()
        return c.T @ c / len(self)


def _label(name) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError(f"name must be 1-64 letters, digits, '-', '_' or '.', got {name!r}")
    return name


def resolve(target, name: str | None = None):
    """The distribution and the name of a model's target.

    Parameters
    ----------
    target : str, GaussianMixture, Points or array_like (N, d)
        A dataset name (a key of :data:`DATASETS`), a mixture, or data points.
    name : str, optional
        Overrides the name (default: the dataset name, the ``Points`` name, ``"mixture"`` for a
        mixture and ``"points"`` for an array).

    Returns
    -------
    (distribution, name)
        ``distribution`` has ``sample(n, generator)`` and ``dim``.

    Raises
    ------
    TypeError
        for anything else (e.g. a bare number).
    """
    if isinstance(target, str):
        dist, default = get(target), target
    elif isinstance(target, (GaussianMixture, Points)):
        dist, default = target, getattr(target, "name", "mixture")
    elif isinstance(target, (np.ndarray, list, tuple)) or hasattr(target, "__array__"):
        dist = Points(target, name or "points")
        default = dist.name
    else:
        raise TypeError(
            "target must be a dataset name, a GaussianMixture, Points or an (N, d) array, "
            f"got {type(target).__name__}"
        )
    return dist, _label(name or default)


def digest(dist) -> str:
    """SHA-256 of a target's content (mixture parameters or points), for cache keys."""
    h = hashlib.sha256()
    if isinstance(dist, GaussianMixture):
        parts = ("mixture", dist.weights, dist.means, dist.covs)
    elif isinstance(dist, Points):
        parts = ("points", dist.points)
    else:
        raise TypeError(f"dist must be a GaussianMixture or Points, got {type(dist).__name__}")
    h.update(parts[0].encode())
    for a in parts[1:]:
        a = np.ascontiguousarray(a, dtype="<f8")
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()
