r"""Optimal transport between Gaussians: the Bures-Wasserstein closed forms.

Between two Gaussians on :math:`\mathbb R^d` the quadratic Wasserstein distance and the optimal
map are explicit :cite:p:`dowson1982frechet,givens1984class`: the map is affine,
:math:`T(x) = m_1 + A(x - m_0)` with :math:`A` the symmetric positive-definite solution of
:math:`A\Sigma_0A = \Sigma_1`, and

.. math::

    W_2^2\bigl(\mathcal N(m_0, \Sigma_0), \mathcal N(m_1, \Sigma_1)\bigr)
    = |m_0 - m_1|^2 + \operatorname{tr}\Bigl(\Sigma_0 + \Sigma_1
      - 2\bigl(\Sigma_0^{1/2} \Sigma_1 \Sigma_0^{1/2}\bigr)^{1/2}\Bigr).

This module holds those closed forms (:func:`w2_gaussian`, :func:`gaussian_ot_map` and the
:class:`AffineMap` it returns), the symmetric matrix square root they are built on
(:func:`sqrtm_spd`), and two small helpers for the chapters' randomised checks and figures
(:func:`random_spd`, :func:`ellipse`).  :mod:`wgf.ot` re-exports every name, so
``wgf.ot.w2_gaussian`` and ``wgf.gaussian_ot.w2_gaussian`` are the same function.

Conventions as in :mod:`wgf.ot`: ``w2*`` returns :math:`W_2`, not its square; a scalar mean
and covariance are read as :math:`d = 1`; covariances must be symmetric positive definite, and
bad input raises ``ValueError`` or ``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, as_gaussian_pair, as_spd, as_vector, positive, positive_int
from .rng import as_generator

__all__ = ["AffineMap", "ellipse", "gaussian_ot_map", "random_spd", "sqrtm_spd", "w2_gaussian"]


def sqrtm_spd(S, *, inverse: bool = False) -> np.ndarray:
    """Symmetric square root (or inverse square root) of a symmetric positive-definite matrix.

    Computed from the eigendecomposition :math:`S = U \\operatorname{diag}(s) U^\\top`, so the
    result is exactly symmetric, unlike a general-purpose ``sqrtm``.

    Parameters
    ----------
    S : array_like, shape (d, d)
        symmetric positive-definite matrix.
    inverse : bool
        return :math:`S^{-1/2}` instead of :math:`S^{1/2}`.
    """
    if np.ndim(S) == 2 and 0 in np.shape(S):
        raise ValueError(f"S must be a non-empty square matrix, got shape {np.shape(S)}")
    S = as_spd(S, "S")
    s, U = np.linalg.eigh(S)
    r = s ** (-0.5 if inverse else 0.5)
    return (U * r) @ U.T


def w2_gaussian(m0, S0, m1, S1) -> float:
    r"""W2 between two Gaussians, in closed form (the Bures-Wasserstein distance).

    .. math::

        W_2^2\bigl(\mathcal N(m_0, \Sigma_0), \mathcal N(m_1, \Sigma_1)\bigr)
        = |m_0 - m_1|^2 + \operatorname{tr}\Bigl(\Sigma_0 + \Sigma_1
          - 2\bigl(\Sigma_0^{1/2} \Sigma_1 \Sigma_0^{1/2}\bigr)^{1/2}\Bigr)

    :cite:p:`dowson1982frechet,givens1984class`.

    Parameters
    ----------
    m0, m1 : array_like, shape (d,)
        means (a scalar is read as d = 1).
    S0, S1 : array_like, shape (d, d)
        symmetric positive-definite covariances.

    Returns
    -------
    float
        :math:`W_2` (not squared).
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    # W2^2 = |m0 - m1|^2 + B^2(S0, S1): compute each part at its own scale and combine with
    # hypot, so that huge entries (e.g. 1e200) do not overflow when squared.
    dm = m0 - m1
    cm = np.abs(dm).max()
    mean_part = cm * np.linalg.norm(dm / cm) if cm > 0 else 0.0
    c = max(np.abs(S0).max(), np.abs(S1).max())
    S0, S1 = S0 / c, S1 / c
    r0 = sqrtm_spd(S0)
    cross = sqrtm_spd(r0 @ S1 @ r0)
    bures_sq = np.trace(S0) + np.trace(S1) - 2.0 * np.trace(cross)
    # Round-off can make an exact zero slightly negative.
    return float(np.hypot(mean_part, np.sqrt(c) * np.sqrt(max(bures_sq, 0.0))))


def random_spd(d: int, generator=None, *, ridge: float = 0.2) -> np.ndarray:
    r"""A random symmetric positive-definite matrix :math:`BB^\top + rI`, :math:`B_{ij}\sim\mathcal N(0,1)`.

    The ridge :math:`r > 0` bounds the smallest eigenvalue from below, so the matrix is
    well conditioned enough for closed-form checks.  Used by the chapters' randomised tests.

    Parameters
    ----------
    d : int
        dimension (at least 1).
    generator : None, int or numpy.random.Generator
        randomness (see :func:`wgf.rng.as_generator`).
    ridge : float
        :math:`r > 0`.

    Returns
    -------
    ndarray, shape (d, d)
    """
    d = positive_int(d, "d")
    ridge = positive(ridge, "ridge")
    B = as_generator(generator).normal(size=(d, d))
    S = B @ B.T + ridge * np.eye(d)
    return 0.5 * (S + S.T)


def ellipse(mean, cov, r: float = 2.0, n: int = 200) -> np.ndarray:
    r"""Points on the :math:`r\sigma` ellipse :math:`\{m + r\,\Sigma^{1/2}u : |u| = 1\}` of a 2-D Gaussian.

    Parameters
    ----------
    mean : array_like, shape (2,)
    cov : array_like, shape (2, 2)
        symmetric positive definite.
    r : float
        radius in standard deviations (> 0).
    n : int
        number of points (at least 3); the curve is closed (first point = last point).

    Returns
    -------
    ndarray, shape (n, 2)
    """
    m = as_vector(mean, "mean", dim=2)
    root = sqrtm_spd(as_spd(cov, "cov", dim=2))
    r = positive(r, "r")
    n = positive_int(n, "n", minimum=3)
    th = np.linspace(0.0, 2.0 * np.pi, n)
    return m + r * np.column_stack([np.cos(th), np.sin(th)]) @ root


class AffineMap(NamedTuple):
    r"""An affine map :math:`T(x) = A x + b`, applied row-wise to points of shape (n, d).

    Unpacks as ``(matrix, offset)``.
    """

    matrix: np.ndarray
    offset: np.ndarray

    def __call__(self, x) -> np.ndarray:
        """Apply the map to points ``x`` of shape (n, d) (or a single point of shape (d,))."""
        x = as_float_array(x, "x")
        d = self.offset.shape[0]
        if x.shape[-1] != d:
            raise ValueError(f"x must have last dimension {d}, got shape {x.shape}")
        return x @ self.matrix.T + self.offset


def gaussian_ot_map(m0, S0, m1, S1) -> AffineMap:
    r"""The optimal transport map from :math:`\mathcal N(m_0,\Sigma_0)` to :math:`\mathcal N(m_1,\Sigma_1)`.

    The map is affine, :math:`T(x) = m_1 + A(x - m_0)`, with the symmetric positive-definite
    matrix

    .. math::

        A = \Sigma_0^{-1/2}\bigl(\Sigma_0^{1/2} \Sigma_1 \Sigma_0^{1/2}\bigr)^{1/2}
            \Sigma_0^{-1/2},

    the unique solution of :math:`A \Sigma_0 A = \Sigma_1` in the SPD cone; being the gradient
    of the convex function :math:`\tfrac12 x^\top A x + (m_1 - A m_0)^\top x`, it is optimal by
    Brenier's theorem :cite:p:`brenier1991polar`.

    Returns
    -------
    AffineMap
        ``(matrix, offset)`` with ``matrix = A`` and ``offset = m1 - A @ m0``; callable on points.
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    r0 = sqrtm_spd(S0)
    r0_inv = sqrtm_spd(S0, inverse=True)
    A = r0_inv @ sqrtm_spd(r0 @ S1 @ r0) @ r0_inv
    A = 0.5 * (A + A.T)
    return AffineMap(matrix=A, offset=m1 - A @ m0)
