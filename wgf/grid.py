r"""Uniform cell-centred grids in one or two dimensions: the one grid type of the package.

Every grid computation of the book uses :class:`Grid`: the energies and Wasserstein gradients of
:mod:`wgf.functionals` and the finite volumes of :mod:`wgf.fokker_planck` (densities on a box),
McCann's interpolation on the line in :mod:`wgf.geodesics`, the entropic JKO scheme of
:mod:`wgf.entropic_jko` (probability vectors at the cell centres of a 1-D grid) and the
Benamou-Brenier solver of :mod:`wgf.benamou_brenier`, whose periodic, staggered space-time
operators are built on the grid of the unit cube (:func:`wgf.benamou_brenier.periodic_grid`).

**Convention.** Axis :math:`k` of the box is cut into :math:`n_k` cells of width :math:`h_k`;
the nodes are the cell centres; arrays on the grid have shape ``grid.shape`` with axis 0 the
first coordinate (``indexing="ij"``); a callable is evaluated in the point layout of
:class:`wgf.mixtures.GaussianMixture`, on points of shape ``(prod(shape), d)``.  A measure is
either a *density* (values at the centres, midpoint-rule integral one) or a vector of *cell
masses* (summing to one); :meth:`Grid.masses` turns the first into the second.  Bad input
raises ``ValueError`` or ``TypeError`` naming the argument.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, as_spd, as_vector, positive_int
from .mixtures import GaussianMixture

__all__ = ["Grid"]


class Grid:
    r"""A uniform cell-centred grid on a box in :math:`\mathbb R^d`, :math:`d \in \{1, 2\}`.

    Axis :math:`k` is :math:`[a_k, b_k]` cut into :math:`n_k` cells of width
    :math:`h_k = (b_k - a_k)/n_k`; the nodes are the cell centres
    :math:`a_k + (i + \tfrac12)h_k`.  Arrays on the grid have shape ``grid.shape`` (axis 0 is
    :math:`x_1`, ``indexing="ij"``).

    A density on the grid is the array of its values at the cell centres and integrates by the
    midpoint rule, :math:`\int f \approx \sum_i f(x_i)\,|\text{cell}|` (:meth:`integrate`,
    :meth:`normalise`, :meth:`gaussian`); the same measure as a probability vector is its
    array of cell masses :math:`p_i = \rho(x_i)\,|\text{cell}|` (:meth:`masses`).

    Parameters
    ----------
    bounds : sequence
        ``(a, b)`` for a 1-D grid, or a sequence of one or two such pairs.
    n : int or sequence of int
        number of cells per axis (at least 3); an int is used for every axis.

    Attributes
    ----------
    d
        the dimension (an int).
    n
        the number of cells per axis, a tuple of ints.
    shape
        the shape of arrays on the grid (the same tuple as ``n``).
    lower
        the lower corner of the box, an array of shape ``(d,)``.
    upper
        the upper corner of the box, an array of shape ``(d,)``.
    h
        the cell widths :math:`h_k`, a tuple of floats.
    cell_volume
        :math:`|\text{cell}| = \prod_k h_k` (a float).
    axes
        the cell centres along each axis, a tuple of arrays.
    points
        all cell centres, an array of shape ``(*shape, d)``.
    """

    def __init__(self, bounds, n):
        b = as_float_array(bounds, "bounds")
        if b.ndim == 1:
            b = b[None, :]
        if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] not in (1, 2):
            raise ValueError(f"bounds must be (a, b) or ((a1, b1), (a2, b2)), got shape {b.shape}")
        if np.any(b[:, 1] <= b[:, 0]):
            raise ValueError(f"bounds must satisfy a < b on every axis, got {b.tolist()}")
        d = b.shape[0]
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
            ns = [n] * d
        else:
            try:
                ns = list(n)
            except TypeError as exc:
                raise TypeError(f"n must be an int or a sequence of ints, got {n!r}") from exc
        if len(ns) != d:
            raise ValueError(f"n must give one cell count per axis ({d}), got {n!r}")
        self.n = tuple(positive_int(k, "n", minimum=3) for k in ns)
        self.lower, self.upper = b[:, 0].copy(), b[:, 1].copy()
        self.d = d
        self.shape = self.n
        with np.errstate(over="ignore"):  # an infinite width is reported just below
            self.h = tuple(
                float((hi - lo) / k)
                for lo, hi, k in zip(self.lower, self.upper, self.n, strict=True)
            )
        if not all(np.isfinite(hk) and hk > 0 for hk in self.h):
            raise ValueError(
                f"bounds must give finite, positive cell widths, got h = {self.h} from {b.tolist()}"
            )
        self.axes = tuple(
            lo + (np.arange(k) + 0.5) * hk
            for lo, k, hk in zip(self.lower, self.n, self.h, strict=True)
        )
        self.cell_volume = float(np.prod(self.h))
        self.points = np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)

    @classmethod
    def from_nodes(cls, nodes, name: str = "nodes") -> Grid:
        r"""The 1-D grid whose cell centres are the equally spaced ``nodes``.

        The cell width is the mean spacing :math:`h` of the nodes and the box is
        :math:`[x_0 - h/2,\ x_{n-1} + h/2]`, so that ``Grid.from_nodes(x).axes[0]`` equals ``x``
        up to round-off (e.g. ``numpy.linspace(-6, 6, 241)``: 241 cells of width 0.05).

        Parameters
        ----------
        nodes : array_like, shape (n,)
            at least 3 strictly increasing, uniformly spaced values (to a relative
            :math:`10^{-9}` of the spacing).
        name : str
            the argument's name in error messages.
        """
        x = as_float_array(nodes, name)
        if x.ndim != 1 or x.shape[0] < 3:
            raise ValueError(f"{name} must be a 1-D array of at least 3 nodes, got shape {x.shape}")
        dx = np.diff(x)
        h = float(dx.mean())
        if not h > 0 or np.abs(dx - h).max() > 1e-9 * max(abs(h), 1.0):
            raise ValueError(f"{name} must be uniformly spaced and increasing")
        return cls((x[0] - 0.5 * h, x[-1] + 0.5 * h), x.shape[0])

    def __repr__(self) -> str:
        box = " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(self.lower, self.upper, strict=True))
        return f"Grid({box}, n={self.n})"

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Grid)
            and self.n == other.n
            and np.array_equal(self.lower, other.lower)
            and np.array_equal(self.upper, other.upper)
        )

    __hash__ = None

    def field(self, f, name: str = "f") -> np.ndarray:
        """``f`` as a finite float64 array of shape ``grid.shape``.

        A callable is evaluated at the cell centres in the point layout that
        :class:`wgf.mixtures.GaussianMixture` uses, ``f(points)`` with ``points`` of shape
        ``(prod(shape), d)`` (e.g. ``mixture.prob`` or ``lambda x: 0.5 * (x**2).sum(-1)``),
        and its ``prod(shape)`` values are reshaped to the grid."""
        if callable(f):
            flat = f(self.points.reshape(-1, self.d))
            arr = as_float_array(flat, name)
            if arr.size == int(np.prod(self.shape)):
                arr = arr.reshape(self.shape)
        else:
            arr = as_float_array(f, name)
        if arr.shape != self.shape:
            raise ValueError(
                f"{name} must have the grid's shape {self.shape} (mismatched grids?), "
                f"got {arr.shape}"
            )
        return arr

    def integrate(self, f) -> float:
        r"""Midpoint rule :math:`\sum_i f(x_i)\,|\text{cell}|` of an array of shape ``grid.shape``."""
        return float(np.sum(self.field(f)) * self.cell_volume)

    def gradient(self, f) -> np.ndarray:
        """Central-difference gradient of ``f``, shape ``(d, *shape)`` (second order)."""
        f = self.field(f)
        return np.stack([np.gradient(f, hk, axis=k, edge_order=2) for k, hk in enumerate(self.h)])

    def divergence(self, F) -> np.ndarray:
        """Central-difference divergence of a vector field ``F`` of shape ``(d, *shape)``."""
        F = as_float_array(F, "F")
        if F.shape != (self.d, *self.shape):
            raise ValueError(f"F must have shape {(self.d, *self.shape)}, got {F.shape}")
        return sum(np.gradient(F[k], hk, axis=k, edge_order=2) for k, hk in enumerate(self.h))

    def normalise(self, f, name: str = "f") -> np.ndarray:
        """Divide a non-negative array (or callable) by its integral: a density on this grid."""
        f = self.field(f, name)
        if np.any(f < 0):
            raise ValueError(f"{name} must be non-negative (smallest value {f.min():.3g})")
        mass = np.sum(f) * self.cell_volume
        if mass <= 0:
            raise ValueError(f"{name} must have positive mass")
        return f / mass

    def gaussian(self, mean, cov) -> np.ndarray:
        r"""The density of :math:`\mathcal N(m, \Sigma)` at the cell centres, normalised here.

        The values are :math:`\varphi(x_i) / \sum_j \varphi(x_j)\,|\text{cell}|`, with
        :math:`\varphi` the Gaussian density (:meth:`wgf.mixtures.GaussianMixture.prob`): a
        density that integrates to one on this grid (:func:`wgf.functionals.as_density`).  On
        a box that holds the Gaussian well inside, the midpoint rule is spectrally accurate and
        the normalisation changes :math:`\varphi` only by the mass outside the box.

        Parameters
        ----------
        mean : array_like, shape (d,)
            the mean (a scalar on a 1-D grid).
        cov : array_like, shape (d, d)
            the covariance, symmetric positive definite (a variance on a 1-D grid).

        Returns
        -------
        numpy.ndarray, shape ``grid.shape``
        """
        m = as_vector(mean, "mean", dim=self.d)
        S = as_spd(cov, "cov", dim=self.d)
        return self.normalise(GaussianMixture([1.0], [m], [S]).prob, "the Gaussian density")

    def masses(self, f, name: str = "f") -> np.ndarray:
        r"""The cell masses :math:`p_i = f(x_i) / \sum_j f(x_j)` of a non-negative array/callable.

        The probability vector (shape ``grid.shape``, summing to one) of the discrete measure
        :math:`\sum_i p_i\,\delta_{x_i}` on the cell centres; for a density :math:`\rho` on the
        grid it is :math:`\rho(x_i)\,|\text{cell}|` up to round-off.  This is the form that
        :mod:`wgf.entropic_jko` works with.
        """
        f = self.field(f, name)
        if np.any(f < 0):
            raise ValueError(f"{name} must be non-negative (smallest value {f.min():.3g})")
        total = np.sum(f)
        if total <= 0:
            raise ValueError(f"{name} must have positive mass")
        return f / total
